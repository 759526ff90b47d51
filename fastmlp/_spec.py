"""Validation and normalisation of network and training descriptions.

Both backends (``fastmlp._core.Net`` in C and ``fastmlp.reference.Net`` in
NumPy) take the same plain-dict descriptions; this module is the one place
that checks them and fills defaults, so both reject the same mistakes with
the same messages.
"""

import math
import numbers

from fastmlp import _enums

LAYER_KEYS = ("units", "activation", "act_param", "init", "dropout")
CFG_KEYS = ("loss", "optimizer", "l2", "l1", "batch_size", "shuffle", "seed")
OPTIMIZER_KEYS = ("kind", "lr", "momentum", "beta1", "beta2", "eps",
                  "weight_decay", "nesterov", "eps_inside_sqrt")


def resolve_param(activation, param):
    """The activation parameter to pass to C: ``param`` or the default.

    Raises
    ------
    ValueError
        For a leaky-ReLU slope < 0 or an ELU alpha <= 0.
    """
    if param is None:
        param = _enums.ACTIVATION_DEFAULT_PARAM.get(activation, 0.0)
    param = float(param)
    if activation == "leaky_relu" and not param >= 0:
        raise ValueError(f"leaky_relu slope must be >= 0, got {param}")
    if activation == "elu" and not param > 0:
        raise ValueError(f"elu alpha must be > 0, got {param}")
    return param


# Largest layer width and batch size: the model file's limit on units
# (docs/FORMAT.md), and a batch bound far beyond any memory; both keep
# every size product inside int64 in C.
MAX_UNITS = 2**31
MAX_BATCH = 2**48


def _positive_int(value, what, limit=2**62):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if value > limit:
        raise ValueError(f"{what} must be <= {limit}, got {value}")
    return int(value)


def normalize_layers(n_in, layers):
    """Check a list of layer dicts and return it with every key filled.

    Parameters
    ----------
    n_in : int
        Number of inputs of the network (>= 1).
    layers : list of dict
        Each with ``units`` (required), ``activation`` (default "relu"),
        ``act_param`` (None: the activation's default), ``init`` (default
        "glorot_uniform") and ``dropout`` (default 0; must be 0 on the
        last layer).

    Returns
    -------
    list of dict

    Raises
    ------
    ValueError
        Naming the layer and the bad entry.

    Examples
    --------
    >>> normalize_layers(2, [{"units": 3}])[0]["activation"]
    'relu'
    """
    _positive_int(n_in, "n_in", MAX_UNITS)
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError("a network needs at least one layer")
    out = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ValueError(f"layer {i} must be a dict, got {type(layer).__name__}")
        unknown = set(layer) - set(LAYER_KEYS)
        if unknown:
            raise ValueError(f"layer {i}: unknown key(s) {sorted(unknown)}; valid: {list(LAYER_KEYS)}")
        if "units" not in layer:
            raise ValueError(f"layer {i}: 'units' is required")
        act = _enums.canonical("activation", layer.get("activation", "relu"))
        dropout = float(layer.get("dropout", 0.0))
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"layer {i}: dropout must be in [0, 1), got {dropout}")
        if dropout and i == len(layers) - 1:
            raise ValueError("the output layer cannot have dropout")
        out.append({
            "units": _positive_int(layer["units"], f"layer {i} units", MAX_UNITS),
            "activation": act,
            "act_param": resolve_param(act, layer.get("act_param")),
            "init": _enums.canonical("initializer", layer.get("init", "glorot_uniform")),
            "dropout": dropout,
        })
    return out


def normalize_optimizer(opt, defaults):
    """Fill a partial optimiser dict from ``defaults(kind)``."""
    if isinstance(opt, str):
        opt = {"kind": opt}
    if not isinstance(opt, dict):
        raise ValueError(f"optimizer must be a name or a dict, got {opt!r}")
    kind = _enums.canonical("optimizer", opt.get("kind", "sgd"))
    full = dict(defaults(kind))
    unknown = set(opt) - set(OPTIMIZER_KEYS)
    if unknown:
        raise ValueError(f"unknown optimizer option(s) {sorted(unknown)}; valid: {list(OPTIMIZER_KEYS)}")
    full.update(opt)
    full["kind"] = kind
    for key in ("lr", "momentum", "beta1", "beta2", "eps", "weight_decay"):
        full[key] = float(full[key])
        if not math.isfinite(full[key]):
            raise ValueError(f"optimizer {key} must be finite, got {full[key]}")
    if not full["lr"] >= 0:
        raise ValueError(f"learning rate must be >= 0, got {full['lr']}")
    for key in ("momentum", "beta1", "beta2"):
        if not 0.0 <= full[key] < 1.0:
            raise ValueError(f"optimizer {key} must be in [0, 1), got {full[key]}")
    if not full["eps"] >= 0:
        raise ValueError(f"optimizer eps must be >= 0, got {full['eps']}")
    full["nesterov"] = bool(full["nesterov"])
    full["eps_inside_sqrt"] = bool(full["eps_inside_sqrt"])
    return full


def normalize_cfg(cfg, defaults=None):
    """Check a training configuration dict and fill its defaults.

    Keys: ``loss`` (required), ``optimizer`` (name or dict; default "adam"),
    ``l2``, ``l1`` (>= 0, default 0), ``batch_size`` (>= 1, default 32),
    ``shuffle`` (default True), ``seed`` (int >= 0, default 0).
    ``defaults(kind)`` gives an optimiser's default hyper-parameters (the
    backend's ``optim_defaults``); None leaves the optimiser dict partial.

    Raises
    ------
    ValueError
        For an unknown key or option, or a value out of range.
    """
    if not isinstance(cfg, dict):
        raise ValueError(f"training configuration must be a dict, got {type(cfg).__name__}")
    unknown = set(cfg) - set(CFG_KEYS)
    if unknown:
        raise ValueError(f"unknown training option(s) {sorted(unknown)}; valid: {list(CFG_KEYS)}")
    if "loss" not in cfg:
        raise ValueError("training configuration needs a 'loss'")
    opt = cfg.get("optimizer", "adam")
    if defaults is not None:
        opt = normalize_optimizer(opt, defaults)
    elif isinstance(opt, str):
        opt = {"kind": _enums.canonical("optimizer", opt)}
    out = {
        "loss": _enums.canonical("loss", cfg["loss"]),
        "optimizer": dict(opt),
        "l2": float(cfg.get("l2", 0.0)),
        "l1": float(cfg.get("l1", 0.0)),
        "batch_size": _positive_int(cfg.get("batch_size", 32), "batch_size", MAX_BATCH),
        "shuffle": bool(cfg.get("shuffle", True)),
        "seed": check_seed(cfg.get("seed", 0)),
    }
    if out["l2"] < 0 or out["l1"] < 0:
        raise ValueError(f"l2 and l1 must be >= 0, got {out['l2']}, {out['l1']}")
    return out


def check_seed(seed):
    """``seed`` as an int in [0, 2**64), or ValueError naming it."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or \
            not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    return int(seed)
