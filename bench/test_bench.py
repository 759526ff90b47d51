"""pytest-benchmark benchmarks of the key workloads of issue 4, at reduced size.

These measure; they assert nothing about speed (timing assertions live only
in ``bench/run.py --check``).  The project's pytest configuration disables
benchmarks and collects only tests/, so run them on demand::

    pytest bench --benchmark-enable                 # everything
    pytest bench --benchmark-enable -k gemm         # the products only
    pytest bench --benchmark-enable --benchmark-compare   # against a saved run

The workloads, networks and data come from ``bench/run.py`` so both measure
the same thing.  Columns whose package is missing (PyTorch, scikit-learn)
are skipped with the reason.
"""

import importlib.util
import os

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location(
    "fastmlp_bench_run", os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py"))
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)

import fastmlp  # importable now: run.py adds the source tree when needed

W2_N = 6000
W3_N = 10000
THREADS = [1, 2]


@pytest.fixture
def threads():
    """Sets the thread count of every library; restores 2 afterwards."""
    torch = _maybe("torch")
    setter = suite.Threads(torch)
    yield setter
    setter(2)


def _maybe(name):
    try:
        return __import__(name)
    except ImportError:
        return None


def _rounds(benchmark, fn, rounds):
    """A bounded benchmark: one warm-up call, then ``rounds`` timed calls."""
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


# ---------------------------------------------------------------------------
# W1: the products of one W2 step at batch 128, and a square
# ---------------------------------------------------------------------------

GEMM_CASES = (suite.step_products(suite.W2_LAYERS, 784, suite.W2_BATCH)
              + [("square 512", 512, 512, 512, "nn")])


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("lib", ["fastmlp", "numpy"])
@pytest.mark.parametrize("case", GEMM_CASES, ids=[c[0].replace(" ", "_").replace("ᵀ", "T").replace("·", "x")
                                            for c in GEMM_CASES])
def test_gemm(benchmark, threads, case, lib, n_threads):
    label, M, K, N, form = case
    threads(n_threads)
    f_fm, f_np, _ = suite.w1_functions(M, K, N, form, np.random.default_rng(0))
    benchmark.group = f"gemm {label} ({M}x{K}x{N}) {n_threads} thr".replace("ᵀ", "T")
    benchmark(f_fm if lib == "fastmlp" else f_np)


# ---------------------------------------------------------------------------
# W2-like and W3-like epochs
# ---------------------------------------------------------------------------

EPOCH_COLUMNS = ["fastmlp", "fastmlp C epoch", "numpy reference", "GEMM floor (numpy)",
                 "torch eager", "sklearn MLP"]


def _epoch_fn(column, X, fit_target, torch_target, sk_target, layers, batch, classify,
              threads):
    torch = _maybe("torch") if column == "torch eager" else None
    sklearn = _maybe("sklearn") if column == "sklearn MLP" else None
    if column == "torch eager" and torch is None:
        pytest.skip("torch not installed")
    if column == "sklearn MLP" and sklearn is None:
        pytest.skip("scikit-learn not installed")
    cs = suite.epoch_contenders(X, fit_target, torch_target, sk_target, layers, batch,
                                classify, torch, sklearn, threads, 2)
    return next(c.fn for c in cs if c.name == column)


@pytest.mark.parametrize("column", EPOCH_COLUMNS)
def test_w2_epoch(benchmark, threads, column):
    X, y, Y = suite.w2_data(W2_N, suite.MNIST_DIR, [])
    threads(2)
    fn = _epoch_fn(column, X, Y, y, y, suite.W2_LAYERS, suite.W2_BATCH, True, threads)
    benchmark.group = f"W2-like epoch ({W2_N}x784, batch 128)"
    _rounds(benchmark, fn, 3)


@pytest.mark.parametrize("column", EPOCH_COLUMNS)
def test_w3_epoch(benchmark, threads, column):
    X, y = suite.w3_data(W3_N)
    threads(2)
    fn = _epoch_fn(column, X, y, y, y, suite.W3_LAYERS, suite.W3_BATCH, False, threads)
    benchmark.group = f"W3-like epoch ({W3_N}x32, batch 32)"
    _rounds(benchmark, fn, 3)


# ---------------------------------------------------------------------------
# W4: one-sample predict
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("column", ["fastmlp MLP.predict", "fastmlp Net.predict",
                                    "numpy reference", "numpy matmul chain", "torch eager"])
def test_predict_one_sample(benchmark, threads, column):
    threads(2)
    model = suite.fastmlp_model(suite.W2_LAYERS)
    model.build(784)
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    if column == "fastmlp MLP.predict":
        fn = model.predict
    elif column == "fastmlp Net.predict":
        fn = model.net_.predict
    elif column == "numpy reference":
        ref = suite.fastmlp_model(suite.W2_LAYERS, "numpy")
        ref.build(784)
        ref.net_.params[...] = model.net_.params
        fn = ref.predict
    elif column == "numpy matmul chain":
        fn = suite.numpy_chain(model)
    else:
        torch = pytest.importorskip("torch")
        tm = suite.torch_model(torch, 784, suite.W2_LAYERS[:-1] + ((10, "identity"),)).eval()

        def fn(x):
            with torch.inference_mode():
                return torch.softmax(tm(torch.from_numpy(x)), dim=1).numpy()
    benchmark.group = "W4 predict, 1 sample"
    out = benchmark(fn, x)
    assert out.shape == (1, 10)


def test_fastmlp_isa_recorded(benchmark):
    """Records the ISA path and thread count next to the numbers (in the
    benchmark's extra_info, saved with --benchmark-save)."""
    info = fastmlp.cpu_info()
    benchmark.extra_info.update(info)
    benchmark(fastmlp.get_num_threads)
