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

# Idle OpenMP threads spin briefly, then sleep.  Spinning for long (libgomp's
# default, milliseconds) steals the cores other busy processes need: 10-20x
# slower epochs were measured on a loaded 2-core machine.  Sleeping at once
# (passive) makes every parallel region pay a futex wake-up, about 40 us
# per region and 20 us per barrier on a 2-vCPU VM, which a training step of
# many short products cannot afford.  GOMP_SPINCOUNT=3000 spins about
# 140 us before sleeping: that spans the serial stretches of a training
# step (loss, the small output-layer products, the next batch's setup), so
# its parallel regions start in under 1 us, while an idle thread burns at
# most ~140 us of CPU.  (1000, ~40 us, measured 3% slower MNIST epochs.)
# Must be set before the C core starts its thread pool; a user's setting
# of either variable wins.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "passive"
    os.environ["GOMP_SPINCOUNT"] = "3000"

from fastmlp._core import cpu_info, get_isa, get_num_threads, set_isa, set_num_threads
from fastmlp.model import MLP, Dense, load

__version__ = "0.1.0"


def get_include():
    """Directory holding ``fastmlp.h``, for extensions that compile against
    the C core (like ``numpy.get_include()``).  Cython finds the
    declarations (``from fastmlp.cfastmlp cimport ...``) through the
    installed package itself.

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


def get_library_dirs():
    """Directories holding ``libfastmlp.a``, the C core as a static library
    built with the package, for an extension's ``library_dirs``.

    An extension that links it carries its own copy of the C core (its own
    instruction-set choice and thread count).  Use with
    :func:`get_libraries` and :func:`get_link_args`::

        Extension("mod", ["mod.pyx"], include_dirs=[fastmlp.get_include()],
                  library_dirs=fastmlp.get_library_dirs(),
                  libraries=fastmlp.get_libraries(),
                  extra_link_args=fastmlp.get_link_args())

    Returns
    -------
    list of str
    """
    return [os.path.join(os.path.dirname(__file__), "lib")]


def get_libraries():
    """Libraries an extension links for the C core, in link order.

    Returns
    -------
    list of str
        ``["fastmlp", "m"]``.
    """
    return ["fastmlp", "m"]


def get_link_args():
    """Extra linker flags ``libfastmlp.a`` needs: ``["-fopenmp"]`` when the
    package was built with OpenMP, else ``[]``.

    Returns
    -------
    list of str
    """
    return ["-fopenmp"] if cpu_info()["openmp"] else []


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
    "set_num_threads", "get_include", "get_library_dirs", "get_libraries",
    "get_link_args",
]
