"""The model API: :class:`MLP`, a stack of :class:`Dense` layers.

An ``MLP`` owns one backend network (``fastmlp._core.Net`` in C, or
``fastmlp.reference.Net`` in NumPy; both have one API) and adds what a user
needs around it: input checks, optional standardisation, the epoch loop
with validation, early stopping, callbacks and a history, and model files.
Everything per batch happens inside the backend's ``train_epoch``; Python
runs only between epochs.
"""

import sys
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np

from fastmlp import _core, _enums, _format
from fastmlp._spec import check_seed, normalize_cfg, normalize_layers


# Makes "is this model being fitted?" and "now it is" one step across
# threads (a per-model lock would not pickle).
_FIT_GUARD = threading.Lock()


def _backend_net(backend):
    """The Net class of a backend name ("c" or "numpy")."""
    if backend == "c":
        from fastmlp._core import Net
    elif backend == "numpy":
        from fastmlp.reference import Net
    else:
        raise ValueError(f"unknown backend {backend!r}; valid: 'c', 'numpy'")
    return Net


def _optim_defaults(backend):
    _backend_net(backend)  # validates the name
    if backend == "c":
        from fastmlp._core import optim_defaults
    else:
        from fastmlp.reference import optim_defaults
    return optim_defaults


# Default initialiser for an activation: He for the ReLU family (keeps the
# variance through rectifiers), LeCun for SELU (its self-normalising
# condition), Glorot otherwise (the course's variance argument with the
# activation's gain ~1 around 0).
_DEFAULT_INIT = {"relu": "he_uniform", "leaky_relu": "he_uniform", "elu": "he_uniform",
                 "gelu": "he_uniform", "selu": "lecun_normal"}


@dataclass(frozen=True)
class Dense:
    """One fully connected layer: ``A = g(X·W + b)``.

    Parameters
    ----------
    units : int
        Output width.
    activation : str, default "relu"
        identity, step, sign, sigmoid (logistic), tanh, relu, leaky_relu,
        elu, selu, gelu, softplus, softmax or exp.
    init : str, optional
        lecun_normal/uniform, glorot_normal/uniform, he_normal/uniform or
        sklearn.  Default: He for the ReLU family, LeCun normal for SELU,
        Glorot uniform otherwise.
    dropout : float, default 0
        Probability of dropping each output during training (inverted
        dropout); not allowed on the output layer.
    act_param : float, optional
        Leaky-ReLU slope (default 0.01) or ELU alpha (default 1).

    Examples
    --------
    >>> Dense(64, "tanh").as_dict()["init"]
    'glorot_uniform'
    """

    units: int
    activation: str = "relu"
    init: str = None
    dropout: float = 0.0
    act_param: float = None

    def as_dict(self):
        """The layer as the backend's layer dict."""
        act = _enums.canonical("activation", self.activation)
        d = asdict(self)
        d["activation"] = act
        d["init"] = self.init or _DEFAULT_INIT.get(act, "glorot_uniform")
        return d


def _layer_dict(layer):
    if isinstance(layer, Dense):
        return layer.as_dict()
    if isinstance(layer, dict):
        if "units" not in layer:
            raise ValueError(f"a layer dict needs 'units', got {layer!r}")
        d = dict(layer)
        act = _enums.canonical("activation", d.get("activation", "relu"))
        d["activation"] = act
        d.setdefault("init", _DEFAULT_INIT.get(act, "glorot_uniform"))
        return d
    raise ValueError(f"a layer must be a fastmlp.Dense or a dict, got {layer!r}")


def _default_loss(out_act):
    for loss, act in _enums.LOSS_OUTPUT.items():
        if act == out_act:
            return loss
    return "squared_error"


class MLP:
    """A multilayer perceptron trained by whole epochs in C.

    Parameters
    ----------
    layers : list of Dense or dict
        The dense layers after the input, the last one being the output.
    loss : str, optional
        squared_error, binary_crossentropy, categorical_crossentropy or
        poisson.  Default: from the output activation (softmax → categorical
        cross-entropy, sigmoid → binary cross-entropy, exp → Poisson,
        otherwise squared error).
    optimizer : str or dict, default "adam"
        A name (sgd, sgd_velocity, momentum_ewma, rmsprop, adam,
        adam_sklearn, adamw) or a dict ``{"kind": ..., "lr": ..., ...}``
        with any of lr, momentum, beta1, beta2, eps, weight_decay,
        nesterov, eps_inside_sqrt (see docs/MATH.md for the formulas).
    l2, l1 : float, default 0
        The course's penalties ``l2/(2n)·Σ‖W‖²`` and ``l1/n·Σ|W|`` on the
        weights (not the biases), n the batch size.
    dtype : {"float32", "float64"}, default "float32"
    seed : int, default 0
        Seeds initialisation, shuffling and dropout (same seed, same
        result, on both backends and any thread count).
    backend : {"c", "numpy"}, default "c"
        The C library, or the NumPy reference implementation.
    standardize : bool, default False
        Learn each input's mean and spread on the first ``fit`` and apply
        them to every later input (the course's normalisation rule).

    Attributes
    ----------
    history_ : dict of lists
        Per epoch: ``epoch``, ``loss`` (data loss + penalty), ``val_loss``,
        ``val_accuracy`` (classification losses), ``time`` (seconds),
        ``grad_w`` and ``grad_b`` (per-layer mean |gradient|, the
        vanishing-gradient measurement).
    coefs_, intercepts_ : list of ndarray
        Views of the weights (n_in, n_out) and biases of each layer.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import MLP, Dense
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    >>> y = np.array([0, 1, 1, 0], dtype=np.float32)
    >>> m = MLP([Dense(8, "tanh"), Dense(1, "sigmoid")],
    ...         optimizer={"kind": "adam", "lr": 0.05}).fit(X, y, epochs=300, batch_size=4)
    >>> (m.predict(X).ravel() > 0.5).astype(int).tolist()
    [0, 1, 1, 0]
    """

    def __init__(self, layers, loss=None, optimizer="adam", l2=0.0, l1=0.0,
                 dtype="float32", seed=0, backend="c", standardize=False):
        self.layers = [_layer_dict(layer) for layer in layers]
        if not self.layers:
            raise ValueError("an MLP needs at least one layer")
        out_act = self.layers[-1]["activation"]
        self.loss = _enums.canonical("loss", loss) if loss is not None else _default_loss(out_act)
        required = _enums.LOSS_OUTPUT[self.loss]
        if required is not None and required != out_act:
            raise ValueError(f"loss {self.loss!r} needs a {required!r} output layer, "
                             f"got {out_act!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.backend = backend
        self._optim_defaults = _optim_defaults(backend)
        self.optimizer = normalize_cfg({"loss": self.loss, "optimizer": optimizer},
                                       self._optim_defaults)["optimizer"]
        self.l2, self.l1 = float(l2), float(l1)
        if self.l2 < 0 or self.l1 < 0:
            raise ValueError(f"l2 and l1 must be >= 0, got {l2}, {l1}")
        self.seed = check_seed(seed)
        self.standardize = bool(standardize)
        self.net_ = None
        self.mean_ = self.scale_ = None
        self.history_ = self._empty_history()
        self.epochs_ = 0

    # -- structure --------------------------------------------------------

    def get_config(self):
        """Constructor arguments as a JSON-serialisable dict."""
        return {"layers": self.layers, "loss": self.loss, "optimizer": self.optimizer,
                "l2": self.l2, "l1": self.l1, "dtype": self.dtype.name,
                "seed": self.seed, "backend": self.backend,
                "standardize": self.standardize}

    @classmethod
    def from_config(cls, config):
        """An unbuilt MLP from ``get_config()``'s dict."""
        return cls(**config)

    def build(self, n_features):
        """Create and initialise the network for ``n_features`` inputs
        (``fit`` does this on its first call)."""
        layers = normalize_layers(n_features, self.layers)
        net = _backend_net(self.backend)(self.dtype, n_features, layers)
        net.init(self.seed)
        self.net_ = net
        self.n_features_in_ = n_features
        self.epochs_ = 0
        return self

    def _check_built(self):
        if self.net_ is None:
            raise RuntimeError("this MLP is not built yet: call fit (or build) first")

    @property
    def coefs_(self):
        self._check_built()
        return [self.net_.weights(l) for l in range(self.net_.n_layers)]

    @coefs_.setter
    def coefs_(self, values):
        self._set_arrays(values, self.net_.weights, "coefs_")

    @property
    def intercepts_(self):
        self._check_built()
        return [self.net_.biases(l) for l in range(self.net_.n_layers)]

    @intercepts_.setter
    def intercepts_(self, values):
        self._set_arrays(values, self.net_.biases, "intercepts_")

    def _set_arrays(self, values, view_of, name):
        self._check_built()
        values = list(values)
        if len(values) != self.net_.n_layers:
            raise ValueError(f"{name} needs {self.net_.n_layers} arrays, got {len(values)}")
        arrays = [np.asarray(v, dtype=self.dtype) for v in values]
        for l, arr in enumerate(arrays):
            if arr.shape != view_of(l).shape:
                raise ValueError(f"{name}[{l}] has shape {arr.shape}, expected {view_of(l).shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"{name}[{l}] contains NaN or infinity")
        for l, arr in enumerate(arrays):  # all checked first: all or nothing
            view_of(l)[...] = arr

    # -- input checks -----------------------------------------------------

    def _check_trainable(self):
        for i, layer in enumerate(self.layers):
            if layer["activation"] in _enums.FLAT:
                raise ValueError(
                    f"layer {i} uses {layer['activation']!r}, whose derivative is zero "
                    "everywhere: gradient training cannot pass through it. Use "
                    "fastmlp.Perceptron (Rosenblatt's rule) for step/sign units.")

    def _check_X(self, X, name="X", finite=True):
        X = np.asarray(X)
        if X.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be numeric, got dtype {X.dtype}")
        if X.ndim == 1 and self.net_ is not None and X.shape[0] == self.n_features_in_:
            X = X.reshape(1, -1)
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"{name} is empty (0 samples)")
        if X.shape[1] == 0:
            raise ValueError(f"{name} has 0 features")
        if self.net_ is not None and X.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {X.shape[1]} features, the model expects "
                             f"{self.n_features_in_}")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        # in place: no boolean copy of X; finite=False leaves the scan to a
        # C pass that makes it anyway (predict's, chunk by chunk)
        if finite and not _core.all_finite(X):
            raise ValueError(f"{name} contains NaN or infinity")
        return X

    def _check_Y(self, y, n, n_out, name="y"):
        y = np.asarray(y)
        if y.shape[:1] != (n,):
            raise ValueError(f"{name} has {y.shape[0] if y.ndim else 0} samples, X has {n}")
        if self.loss == "categorical_crossentropy" and y.ndim == 1:
            y = self._one_hot(y, n_out, name)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_out:
            raise ValueError(f"{name} has shape {y.shape}, the output layer has {n_out} units")
        if y.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be numeric, got dtype {y.dtype}")
        y = np.ascontiguousarray(y, dtype=self.dtype)
        if not _core.all_finite(y):
            raise ValueError(f"{name} contains NaN or infinity")
        if self.loss in ("binary_crossentropy", "categorical_crossentropy") and (
                (y < 0).any() or (y > 1).any()):
            raise ValueError(f"{name} must hold probabilities in [0, 1] for {self.loss}")
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(f"{name} must be >= 0 for the poisson loss")
        return y

    @staticmethod
    def _one_hot(y, n_out, name):
        if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
            raise ValueError(f"{name}: class labels must be integers 0..{n_out - 1} "
                             "(or one-hot rows)")
        labels = y.astype(np.int64)
        if labels.min() < 0 or labels.max() >= n_out:
            raise ValueError(f"{name}: class labels must be in 0..{n_out - 1}, got "
                             f"{labels.min()}..{labels.max()}")
        out = np.zeros((y.shape[0], n_out))
        out[np.arange(y.shape[0]), labels] = 1
        return out

    def _check_sw(self, sample_weight, n):
        if sample_weight is None:
            return None
        sw = np.ascontiguousarray(sample_weight, dtype=self.dtype)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight has shape {sw.shape}, expected ({n},)")
        if not np.isfinite(sw).all() or (sw < 0).any():
            raise ValueError("sample_weight must be finite and >= 0")
        if not sw.sum() > 0:
            raise ValueError("sample_weight sums to 0")
        return sw

    def _transform(self, X):
        if self.mean_ is None:
            return X
        return (X - self.mean_) / self.scale_

    # -- training ---------------------------------------------------------

    @staticmethod
    def _empty_history():
        return {"epoch": [], "loss": [], "val_loss": [], "val_accuracy": [],
                "time": [], "grad_w": [], "grad_b": []}

    def _cfg(self, batch_size, shuffle):
        return {"loss": self.loss, "optimizer": self.optimizer, "l2": self.l2,
                "l1": self.l1, "batch_size": batch_size, "shuffle": shuffle,
                "seed": self.seed}

    def fit(self, X, y, epochs=10, batch_size=32, *, sample_weight=None,
            validation_split=0.0, validation_data=None, shuffle=True, tol=None,
            early_stopping=False, patience=5, min_delta=0.0,
            restore_best_weights=True, callbacks=(), verbose=0):
        """Train for ``epochs`` epochs (continuing from the current weights).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_outputs)
            Targets; for categorical cross-entropy, integer class labels
            0..n_out−1 or one-hot rows.
        epochs : int, default 10
        batch_size : int or None, default 32
            1 is stochastic, n_samples (or None) is batch gradient descent.
        sample_weight : array-like (n_samples,), optional
        validation_split : float, default 0
            Fraction of the samples (the last ones, before shuffling) held
            out for validation.
        validation_data : tuple (X_val, y_val) or (X_val, y_val, w_val), optional
            Explicit validation data (takes precedence over the split).
        shuffle : bool, default True
            Permute the samples each epoch (from ``seed`` and the epoch).
        tol : float, optional
            Stop once the training loss falls below ``tol``.
        early_stopping : bool, default False
            Stop when the monitored loss (validation loss if there is
            validation data, else training loss) has not improved by
            ``min_delta`` for ``patience`` epochs.
        restore_best_weights : bool, default True
            With early stopping, end with the best epoch's weights.
        callbacks : sequence of callables
            ``callback(model, epoch, logs)`` after each epoch; returning a
            true value stops training.
        verbose : int, default 0
            1 prints one progress line per epoch to stderr.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For invalid inputs or options (the model is left unchanged).
        FloatingPointError
            If the loss becomes NaN or infinite; the message names the
            epoch and the model keeps its last finite weights.
        KeyboardInterrupt
            On Ctrl-C, after the batch in progress; the model keeps the
            weights reached so far.
        """
        self._check_trainable()
        X = self._check_X(X)
        n = X.shape[0]
        n_out = self.layers[-1]["units"]
        Y = self._check_Y(y, n, n_out)
        sw = self._check_sw(sample_weight, n)
        if batch_size is None:
            batch_size = n
        epochs = int(epochs)
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {epochs}")
        cfg = normalize_cfg(self._cfg(batch_size, shuffle), self._optim_defaults)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        val = None
        if validation_data is not None:
            if len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be (X_val, y_val) or (X_val, y_val, w_val)")
            Xv = self._check_X(validation_data[0], "X_val")
            if Xv.shape[1] != X.shape[1]:
                raise ValueError(f"X_val has {Xv.shape[1]} features, X has {X.shape[1]}")
            Yv = self._check_Y(validation_data[1], Xv.shape[0], n_out, "y_val")
            wv = self._check_sw(validation_data[2], Xv.shape[0]) if len(validation_data) == 3 else None
            val = (Xv, Yv, wv)
        elif validation_split > 0:
            n_val = int(round(n * validation_split))
            if n_val < 1 or n_val >= n:
                raise ValueError(f"validation_split={validation_split} leaves {n - n_val} "
                                 f"training and {n_val} validation samples")
            val = (X[n - n_val:], Y[n - n_val:], None if sw is None else sw[n - n_val:])
            X, Y = X[:n - n_val], Y[:n - n_val]
            sw = None if sw is None else sw[:n - n_val]
        callbacks = list(callbacks)
        for cb in callbacks:
            if not callable(cb):
                raise TypeError(f"callback {cb!r} is not callable")

        # Everything is checked: from here on the model changes.
        with _FIT_GUARD:
            if getattr(self, "_fitting", False):
                raise RuntimeError("this model is already being fitted in another thread")
            self._fitting = True
        try:
            self._fit_checked(X, Y, sw, val, cfg, epochs, tol, early_stopping, patience,
                              min_delta, restore_best_weights, callbacks, verbose)
        finally:
            self._fitting = False
        return self

    def _fit_checked(self, X, Y, sw, val, cfg, epochs, tol, early_stopping, patience,
                     min_delta, restore_best_weights, callbacks, verbose):
        if self.net_ is None:
            self.build(X.shape[1])
            if self.standardize:
                self.mean_ = X.mean(axis=0, dtype=np.float64).astype(self.dtype)
                scale = X.std(axis=0, dtype=np.float64)
                self.scale_ = np.where(scale > 0, scale, 1.0).astype(self.dtype)
        X = self._transform(X)
        if val is not None:
            val = (self._transform(val[0]),) + val[1:]
        self._train_loop(cfg, X, Y, sw, val, epochs, tol, early_stopping, patience,
                         min_delta, restore_best_weights, callbacks, verbose)

    def _train_loop(self, cfg, X, Y, sw, val, epochs, tol, early_stopping, patience,
                    min_delta, restore_best_weights, callbacks, verbose):
        net, h = self.net_, self.history_
        best, best_params, bad_epochs = np.inf, None, 0
        classify = self.loss in ("binary_crossentropy", "categorical_crossentropy")
        for _ in range(epochs):
            epoch = self.epochs_
            start_params = net.params.copy()
            t0 = time.perf_counter()
            stats = net.train_epoch(cfg, X, Y, sw, epoch=epoch)
            elapsed = time.perf_counter() - t0
            # Epoch-start weights are finite by induction: restoring them
            # keeps "the last finite weights" even when the last update of
            # the previous epoch or of this one overflowed.
            blew_up = not np.isfinite(net.params).all()
            if stats.get("nonfinite") or blew_up:
                if blew_up:
                    net.params[...] = start_params
                where = f"batch {stats['batch']}" if stats.get("nonfinite") else "its end"
                raise FloatingPointError(
                    f"the training loss became NaN or infinite at epoch {epoch} ({where}); "
                    "training stopped and the model keeps its last finite weights. "
                    "Try a smaller learning rate or standardised inputs.")
            self.epochs_ += 1
            logs = {"epoch": epoch, "loss": stats["loss"] + stats["penalty"],
                    "time": elapsed, "grad_w": stats["grad_w"].copy(),
                    "grad_b": stats["grad_b"].copy()}
            if val is not None:
                vloss, vpen = net.evaluate(cfg, *val)
                logs["val_loss"] = vloss + vpen
                if classify:
                    logs["val_accuracy"] = self._accuracy(net.predict(val[0]), val[1])
            for key in h:
                h[key].append(logs.get(key, np.nan))
            if verbose:
                parts = [f"epoch {epoch + 1}", f"loss {logs['loss']:.6g}"]
                parts += [f"{k} {logs[k]:.6g}" for k in ("val_loss", "val_accuracy") if k in logs]
                parts.append(f"{elapsed:.2f}s")
                print("  ".join(parts), file=sys.stderr, flush=True)
            stop = False
            for cb in callbacks:
                stop = bool(cb(self, epoch, logs)) or stop
            if tol is not None and logs["loss"] < tol:
                stop = True
            if early_stopping:
                monitored = logs.get("val_loss", logs["loss"])
                if monitored < best - min_delta:
                    best, bad_epochs = monitored, 0
                    if restore_best_weights:
                        best_params = net.params.copy()
                else:
                    bad_epochs += 1
                    if bad_epochs >= patience:
                        if best_params is not None:
                            net.params[...] = best_params
                        stop = True
            if stop:
                break

    @staticmethod
    def _accuracy(out, Y):
        if Y.shape[1] == 1:
            return float(np.mean((out[:, 0] > 0.5) == (Y[:, 0] > 0.5)))
        return float(np.mean(out.argmax(axis=1) == Y.argmax(axis=1)))

    def train_step(self, X, y, sample_weight=None):
        """One optimiser step on one batch (for custom training loops).

        Returns
        -------
        dict
            The step's ``loss``, ``penalty``, ``t``, ``grad_w``, ``grad_b``.
        """
        self._check_trainable()
        X = self._check_X(X)
        Y = self._check_Y(y, X.shape[0], self.layers[-1]["units"])
        sw = self._check_sw(sample_weight, X.shape[0])
        cfg = normalize_cfg(self._cfg(X.shape[0], False), self._optim_defaults)
        if self.net_ is None:
            self.build(X.shape[1])
        stats = self.net_.train_step(cfg, self._transform(X), Y, sw)
        if stats.get("nonfinite"):
            raise FloatingPointError("the loss of this batch is NaN or infinite; "
                                     "the weights were not updated")
        return stats

    # -- inference --------------------------------------------------------

    def predict(self, X):
        """Network output (the output layer's activation) for X.

        Parameters
        ----------
        X : array-like (n_samples, n_features), or (n_features,) for one sample
            Numeric, finite.  float32/float64 C-contiguous input of the
            model's dtype is read in place; anything else is converted once.

        Returns
        -------
        ndarray (n_samples, n_outputs) in the model's dtype.

        Raises
        ------
        RuntimeError
            If the model is not built, or is being trained in another thread
            (a ``fit`` that starts while predictions run waits for them).
        ValueError
            For a wrong number of features, no samples, or NaN/inf in X.
        TypeError
            For non-numeric X.

        Examples
        --------
        >>> import numpy as np, fastmlp
        >>> m = fastmlp.MLP([fastmlp.Dense(1, "sigmoid")], seed=0)
        >>> m.build(3).predict(np.zeros(3)).shape
        (1, 1)
        """
        self._check_built()
        return self.net_.predict(self._transform(self._check_X(X, finite=False)))

    def evaluate(self, X, y, sample_weight=None):
        """Loss (data + penalty) and, for classification losses, accuracy.

        Returns
        -------
        dict
            ``{"loss": float, "accuracy": float}`` (accuracy only for
            cross-entropy losses).
        """
        self._check_built()
        X = self._transform(self._check_X(X))
        Y = self._check_Y(y, X.shape[0], self.layers[-1]["units"])
        sw = self._check_sw(sample_weight, X.shape[0])
        cfg = normalize_cfg(self._cfg(32, False), self._optim_defaults)
        loss, pen = self.net_.evaluate(cfg, X, Y, sw)
        out = {"loss": loss + pen}
        if self.loss in ("binary_crossentropy", "categorical_crossentropy"):
            out["accuracy"] = self._accuracy(self.net_.predict(X), Y)
        return out

    # -- files and pickling -----------------------------------------------

    def _meta(self):
        return {"fastmlp": "MLP", "config": self.get_config(), "epochs": self.epochs_}

    def save(self, path):
        """Write the model to ``path`` (docs/FORMAT.md; atomic, no pickle)."""
        self._check_built()
        _format.write_model(path, self.dtype, self.n_features_in_, self.net_.layers,
                            self.net_.params, self.mean_, self.scale_, self._meta())

    def to_bytes(self):
        """The model file's bytes (what ``save`` writes)."""
        self._check_built()
        return _format.to_bytes(self.dtype, self.n_features_in_, self.net_.layers,
                                self.net_.params, self.mean_, self.scale_, self._meta())

    @classmethod
    def _from_file(cls, mf, backend=None):
        meta = mf.meta or {}
        config = dict(meta.get("config") or {})
        file_layers = [{k: layer[k] for k in ("units", "activation", "act_param",
                                              "init", "dropout")} for layer in mf.layers]
        # The layer table is authoritative; the metadata keeps the user's
        # spelling (e.g. act_param None) when it describes the same layers.
        if "layers" not in config or normalize_layers(mf.n_in, config["layers"]) != \
                normalize_layers(mf.n_in, file_layers):
            config["layers"] = file_layers
        config["dtype"] = np.dtype(mf.dtype).name
        if backend is not None:
            config["backend"] = backend
        model = cls.from_config(config)
        model.build(mf.n_in)
        model.net_.params[...] = mf.params
        model.mean_, model.scale_ = mf.mean, mf.scale
        model.epochs_ = int(meta.get("epochs", 0))
        return model

    def __getstate__(self):
        state = {"config": self.get_config(), "history": self.history_}
        state["file"] = self.to_bytes() if self.net_ is not None else None
        return state

    def __setstate__(self, state):
        if state["file"] is not None:
            other = self._from_file(_format.from_bytes(state["file"]))
        else:
            other = self.from_config(state["config"])
        self.__dict__.update(other.__dict__)
        self.history_ = state["history"]

    def __repr__(self):
        widths = "-".join(str(layer["units"]) for layer in self.layers)
        return (f"MLP({widths}, loss={self.loss!r}, optimizer={self.optimizer['kind']!r}, "
                f"backend={self.backend!r})")


def load(path, backend=None):
    """Load a model saved by :meth:`MLP.save` (or by the C library).

    Parameters
    ----------
    path : str or path-like
    backend : {"c", "numpy"}, optional
        Override the backend stored in the file.

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If the file is not a valid fastmlp model file (bad magic,
        truncated, corrupted, newer format version).  Nothing in the file
        is ever executed.
    """
    return MLP._from_file(_format.read_model(path), backend)
