"""Names of the C library's enumerations, shared by both backends.

The integer values mirror ``csrc/fastmlp.h`` exactly; ``tests/test_enums.py``
checks them against the compiled library.  Python code always speaks in
names (``"relu"``, ``"adam"``), and converts with :func:`code` at the edge.
"""

ACTIVATIONS = {
    "identity": 0,
    "step": 1,
    "sign": 2,
    "sigmoid": 3,
    "tanh": 4,
    "relu": 5,
    "leaky_relu": 6,
    "elu": 7,
    "selu": 8,
    "gelu": 9,
    "softplus": 10,
    "softmax": 11,
    "exp": 12,
}
# scikit-learn's and Keras' spellings of the same functions.
ACTIVATION_ALIASES = {"logistic": "sigmoid", "linear": "identity", "heaviside": "step"}

# Default parameter of the parametrised activations; C takes the parameter
# as given, so Python fills these in (fastmlp._spec.resolve_param).
ACTIVATION_DEFAULT_PARAM = {"leaky_relu": 0.01, "elu": 1.0}

LOSSES = {
    "squared_error": 0,
    "binary_crossentropy": 1,
    "categorical_crossentropy": 2,
    "poisson": 3,
}
LOSS_ALIASES = {"mse": "squared_error", "log_loss": "categorical_crossentropy"}

OPTIMIZERS = {
    "sgd": 0,
    "sgd_velocity": 1,
    "momentum_ewma": 2,
    "rmsprop": 3,
    "adam": 4,
    "adam_sklearn": 5,
    "adamw": 6,
}

INITIALIZERS = {
    "lecun_normal": 0,
    "lecun_uniform": 1,
    "glorot_normal": 2,
    "glorot_uniform": 3,
    "he_normal": 4,
    "he_uniform": 5,
    "sklearn": 6,
}
INITIALIZER_ALIASES = {"xavier_normal": "glorot_normal", "xavier_uniform": "glorot_uniform"}

ISAS = {"generic": 0, "avx2": 1, "avx512": 2}

# Stream ids of fm_rng_key (FM_STREAM_* in fastmlp.h).
STREAM_INIT = 1
STREAM_SHUFFLE = 2
STREAM_DROPOUT = 3

# Activations whose derivative cannot be recovered from their output.
NEEDS_Z = frozenset({"gelu"})
# Activations with zero derivative everywhere: no gradient flows through.
FLAT = frozenset({"step", "sign"})
# Loss -> the output activation it requires (None: any).
LOSS_OUTPUT = {
    "squared_error": None,
    "binary_crossentropy": "sigmoid",
    "categorical_crossentropy": "softmax",
    "poisson": "exp",
}
# (loss, output activation) pairs whose output delta is simply A - Y.
CANONICAL_PAIRS = frozenset(
    {
        ("squared_error", "identity"),
        ("binary_crossentropy", "sigmoid"),
        ("categorical_crossentropy", "softmax"),
        ("poisson", "exp"),
    }
)

_TABLES = {
    "activation": (ACTIVATIONS, ACTIVATION_ALIASES),
    "loss": (LOSSES, LOSS_ALIASES),
    "optimizer": (OPTIMIZERS, {}),
    "initializer": (INITIALIZERS, INITIALIZER_ALIASES),
    "isa": (ISAS, {}),
}


def canonical(kind, name):
    """Return the canonical spelling of ``name`` in the table ``kind``.

    Raises
    ------
    ValueError
        If ``name`` is not a known option, listing the valid ones.
    """
    table, aliases = _TABLES[kind]
    if not isinstance(name, str):
        raise ValueError(f"{kind} must be a string, got {name!r}")
    key = name.lower()
    key = aliases.get(key, key)
    if key not in table:
        valid = ", ".join(sorted(set(table) | set(aliases)))
        raise ValueError(f"unknown {kind} {name!r}; valid: {valid}")
    return key


def code(kind, name):
    """Return the C enum value of ``name`` in the table ``kind``."""
    return _TABLES[kind][0][canonical(kind, name)]
