"""Another Python extension can use the C core directly.

A tiny Cython module, built here the way a user would build it
(``cimport`` from ``fastmlp.cfastmlp``, header from ``fastmlp.get_include()``,
linked against ``libfastmlp.a`` from ``fastmlp.get_library_dirs()``), calls
``fm_version``, ``fm_gemm_f64`` and the model-file and network API, and
agrees with the package.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import fastmlp

CC = next((shutil.which(c) for c in (os.environ.get("CC", "cc"), "cc", "gcc", "clang")
           if c and shutil.which(c)), None)

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc, gcc or clang) found")

PYX = '''
# cython: language_level=3
from libc.stdint cimport int64_t
from libc.stdlib cimport free
from fastmlp.cfastmlp cimport (FM_OK, fm_gemm_f64, fm_model_load_buffer, fm_net_free,
                               fm_net_n_in, fm_net_n_out, fm_net_predict, fm_net_t,
                               fm_strerror, fm_version)


def version():
    return fm_version().decode()


def gemm(double[:, ::1] A, double[:, ::1] B, double[:, ::1] C):
    """C = A·B; returns the status."""
    cdef int st
    with nogil:
        st = fm_gemm_f64(0, 0, A.shape[0], B.shape[1], A.shape[1], 1.0, &A[0, 0],
                         A.shape[1], &B[0, 0], B.shape[1], 0.0, &C[0, 0], C.shape[1])
    return st


def predict(bytes model, double[:, ::1] X, double[:, ::1] out):
    """Load a float64 model file from bytes and predict X into out."""
    cdef fm_net_t *net = NULL
    cdef const char *buf = model
    cdef int st = fm_model_load_buffer(buf, len(model), &net, NULL, NULL, NULL, NULL)
    if st != FM_OK:
        raise ValueError(fm_strerror(st).decode())
    try:
        assert fm_net_n_in(net) == X.shape[1] and fm_net_n_out(net) == out.shape[1]
        st = fm_net_predict(net, X.shape[0], &X[0, 0], X.shape[1], &out[0, 0])
    finally:
        fm_net_free(net)
    return st
'''

SETUP = '''
import fastmlp
from Cython.Build import cythonize
from setuptools import Extension, setup

ext = Extension("fmdemo", ["fmdemo.pyx"],
                include_dirs=[fastmlp.get_include()],
                library_dirs=fastmlp.get_library_dirs(),
                libraries=fastmlp.get_libraries(),
                extra_link_args=fastmlp.get_link_args())
setup(name="fmdemo", ext_modules=cythonize([ext], quiet=True),
      script_args=["build_ext", "--inplace", "-q"])
'''

CHECK = '''
import numpy as np
import fmdemo, fastmlp
from fastmlp import MLP, Dense

assert fmdemo.version() == fastmlp.__version__, fmdemo.version()

rng = np.random.default_rng(0)
A, B = rng.normal(size=(37, 19)), rng.normal(size=(19, 23))
C = np.full((37, 23), np.nan)
assert fmdemo.gemm(A, B, C) == 0
assert np.allclose(C, A @ B, rtol=1e-12, atol=1e-12)

X, y = rng.normal(size=(50, 4)), rng.normal(size=50)
model = MLP([Dense(6, "tanh"), Dense(1, "identity")], dtype="float64").fit(X, y, epochs=2)
out = np.empty((50, 1))
assert fmdemo.predict(model.to_bytes(), X, out) == 0
assert np.array_equal(out, model.predict(X)), "the extension's C core disagrees"
try:
    fmdemo.predict(b"not a model", X, out)
except ValueError as exc:
    assert "not a fastmlp model file" in str(exc)
else:
    raise AssertionError("a foreign buffer was accepted")
print("extension ok")
'''


def test_the_pieces_an_extension_needs_are_installed():
    assert os.path.isfile(os.path.join(fastmlp.get_include(), "fastmlp.h"))
    pkg = os.path.dirname(fastmlp.__file__)
    assert os.path.isfile(os.path.join(pkg, "cfastmlp.pxd"))
    libs = [os.path.join(d, "libfastmlp.a") for d in fastmlp.get_library_dirs()]
    assert any(os.path.isfile(p) for p in libs), (
        f"none of {libs} exists: build the package with setup.py (build_ext archives "
        "the C core as fastmlp/lib/libfastmlp.a)")
    assert fastmlp.get_libraries()[0] == "fastmlp"
    assert ("-fopenmp" in fastmlp.get_link_args()) == fastmlp.cpu_info()["openmp"]


def test_cython_extension_cimports_the_c_api(tmp_path):
    pytest.importorskip("Cython")
    (tmp_path / "fmdemo.pyx").write_text(PYX)
    (tmp_path / "setup.py").write_text(textwrap.dedent(SETUP))
    (tmp_path / "check.py").write_text(CHECK)
    # fastmlp must be importable in the child, wherever it lives (installed
    # or built in place): Cython finds fastmlp/cfastmlp.pxd on sys.path.
    parent = os.path.dirname(os.path.dirname(fastmlp.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [parent] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    build = subprocess.run([sys.executable, "setup.py"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    run = subprocess.run([sys.executable, "check.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "extension ok" in run.stdout
