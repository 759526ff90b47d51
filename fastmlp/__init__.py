"""fastmlp: fast multilayer perceptrons on the CPU.

A C core (run-time dispatched AVX-512 / AVX2 / portable kernels, whole
training epochs in C with the GIL released), a NumPy reference backend that
mirrors it line by line, a Keras-like model API (:class:`MLP`), and
scikit-learn drop-in estimators (:class:`MLPClassifier`,
:class:`MLPRegressor`).

Examples
--------
>>> import numpy as np, fastmlp
>>> X, y = fastmlp.datasets.make_xor()
>>> model = fastmlp.MLP([fastmlp.Dense(8, "tanh"), fastmlp.Dense(1, "sigmoid")],
...                     optimizer={"kind": "adam", "lr": 0.05}, seed=0)
>>> model = model.fit(X, y, epochs=300, batch_size=4)
>>> bool((model.predict(X).ravel() > 0.5).astype(int).tolist() == y.ravel().tolist())
True
"""

import os

from fastmlp._core import cpu_info, get_isa, get_num_threads, set_isa, set_num_threads
from fastmlp.model import MLP, Dense, load

__version__ = "0.1.0"


def get_include():
    """Directory holding ``fastmlp.h`` and ``cfastmlp.pxd``, for extensions
    that compile against the C core (like ``numpy.get_include()``).

    Returns
    -------
    str

    Examples
    --------
    >>> import os, fastmlp
    >>> os.path.exists(os.path.join(fastmlp.get_include(), "fastmlp.h"))
    True
    """
    return os.path.join(os.path.dirname(__file__), "include")


def __getattr__(name):
    # Heavier modules load on first use so ``import fastmlp`` stays fast.
    import importlib

    lazy = {
        "MLPClassifier": "fastmlp.estimators",
        "MLPRegressor": "fastmlp.estimators",
        "Perceptron": "fastmlp.perceptron",
        "ThresholdUnit": "fastmlp.perceptron",
    }
    if name in lazy:
        return getattr(importlib.import_module(lazy[name]), name)
    if name in ("datasets", "reference", "search", "plot"):
        return importlib.import_module(f"fastmlp.{name}")
    raise AttributeError(f"module 'fastmlp' has no attribute {name!r}")


__all__ = [
    "MLP", "Dense", "load", "MLPClassifier", "MLPRegressor", "Perceptron",
    "ThresholdUnit", "cpu_info", "get_isa", "set_isa", "get_num_threads",
    "set_num_threads", "get_include",
]
