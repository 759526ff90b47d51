"""Shared fixtures and the one tolerance table of the test suite."""

import pathlib

import numpy as np
import pytest

from fastmlp import _core

ROOT = pathlib.Path(__file__).resolve().parent.parent
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"

DTYPES = [np.float32, np.float64]

# Element-wise kernels: both sides evaluate the same formula in the same
# order in the same precision; the only difference is the libm (glibc vs
# NumPy's SIMD exp/tanh/log), each accurate to a few ulp, compounded over
# at most ~4 operations, hence 16 ulp relative plus a tiny absolute floor
# for results that cancel to ~0.
ELEMENTWISE = {
    np.float32: dict(rtol=16 * np.finfo(np.float32).eps, atol=1e-30),
    np.float64: dict(rtol=16 * np.finfo(np.float64).eps, atol=1e-300),
}


def product_tol(dtype, K):
    """Tolerance for a length-K dot product, relative to Σ|a||b|: both
    sides round each partial sum, in different orders; the worst-case
    bound is K·eps·Σ|a·b| (Higham, Accuracy and Stability, §3.1). We use
    2·K·eps to cover both sides' rounding."""
    return 2 * max(K, 1) * np.finfo(dtype).eps


def assert_product_close(got, want, absA, absB, dtype, K):
    """|got - want| <= tol·(|A|·|B|) element-wise (the Higham bound)."""
    bound = product_tol(dtype, K) * (absA @ absB) + np.finfo(dtype).tiny
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert np.all(err <= bound), f"max err {err.max():g}, bound {bound[err > bound].min():g}"


def available_isas():
    """ISAs this CPU runs, best last."""
    order = ["generic", "avx2", "avx512"]
    best = _core.cpu_info()["isa_detected"]
    return order[: order.index(best) + 1]


ALL_ISAS = ["generic", "avx2", "avx512"]


@pytest.fixture(params=ALL_ISAS)
def isa(request):
    """Run the test once per ISA, forced through fastmlp.set_isa. An ISA
    the CPU lacks is reported as skipped (it cannot execute here)."""
    if request.param not in available_isas():
        pytest.skip(f"this CPU lacks {request.param} (detected: {available_isas()[-1]})")
    before = _core.get_isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(before)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    before = _core.get_num_threads()
    _core.set_num_threads(request.param)
    yield request.param
    _core.set_num_threads(before)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def mnist_or_skip():
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found at {MNIST_DIR}")
    return MNIST_DIR

