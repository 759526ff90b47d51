"""Every C kernel against the NumPy reference, float32 and float64, on odd
shapes, on every ISA this CPU has (forced), single- and multi-threaded."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from fastmlp import _core, _enums
from fastmlp import reference as ref

from conftest import DTYPES, ELEMENTWISE, assert_product_close, available_isas

SIZES = [1, 3, 7, 17, 31, 33, 63, 65, 127, 129, 255, 257]
# Non-square (M, N, K) triples drawn from SIZES: every size appears in
# every position, and the edge tiles of every micro-kernel are exercised.
SHAPES = [(m, SIZES[(i + 3) % 12], SIZES[(i + 7) % 12]) for i, m in enumerate(SIZES)]
SHAPES += [(1, 1, 1), (257, 1, 129), (1, 257, 65), (128, 256, 784), (784, 256, 128)]
# op(A) over 512 KiB, and B rows over 2 KiB apart: the packed path (the
# shapes above read A and B in place)
SHAPES += [(600, 65, 300), (65, 600, 65)]
# at most 12 columns: the column kernel, over several kc blocks and a
# part tile; and with enough rows for two threads
SHAPES += [(37, 10, 300), (3000, 11, 40)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("M,N,K", SHAPES)
def test_gemm_matches_reference(isa, threads, dtype, trans_a, trans_b, M, N, K, rng):
    A = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    C0 = rng.standard_normal((M, N)).astype(dtype)
    got = _core.gemm(A, B, trans_a, trans_b, alpha=0.5, beta=2.0, C=C0.copy())
    want = ref.gemm(A, B, trans_a, trans_b, alpha=0.5, beta=2.0, C=C0.copy())
    opA = np.abs(A.T if trans_a else A).astype(np.float64)
    opB = np.abs(B.T if trans_b else B).astype(np.float64)
    # beta·C adds one more rounding: bound it as one more "product" term.
    assert_product_close(got, want, np.hstack([0.5 * opA, np.abs(C0)]),
                         np.vstack([opB, 2.0 * np.eye(N)]), dtype, K + 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_beta_zero_ignores_nan_in_C(isa, dtype, rng):
    A = rng.standard_normal((33, 17)).astype(dtype)
    B = rng.standard_normal((17, 65)).astype(dtype)
    C = np.full((33, 65), np.nan, dtype=dtype)
    got = _core.gemm(A, B, beta=0.0, C=C)
    assert np.isfinite(got).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a,M,N,K", [(0, 300, 257, 513), (0, 128, 256, 784),
                                          (1, 784, 256, 128), (0, 128, 10, 128),
                                          (0, 3000, 11, 40), (1, 3000, 11, 40)])
def test_gemm_results_do_not_depend_on_thread_count(dtype, trans_a, M, N, K, rng):
    A = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dtype)
    B = rng.standard_normal((K, N)).astype(dtype)
    before = _core.get_num_threads()
    try:
        _core.set_num_threads(1)
        one = _core.gemm(A, B, trans_a)
        _core.set_num_threads(2)
        two = _core.gemm(A, B, trans_a)
    finally:
        _core.set_num_threads(before)
    assert np.array_equal(one, two)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("N", [96, 10])  # 10: the column kernel
def test_gemm_in_place_and_packed_paths_give_the_same_bits(isa, dtype, trans_a, N, rng):
    # 125 rows of op(A) (not a whole number of tiles) are read in place;
    # with 1,000 zero rows below them op(A) is too large for that and is
    # packed.  Both sum each element over the same kc blocks in the same
    # order.
    M, K = 125, 500  # op(A): 250 KB in float32, 500 KB in float64
    A = rng.standard_normal((M, K)).astype(dtype)
    big = np.vstack([A, np.zeros((1000, K), dtype)])
    B = rng.standard_normal((K, N)).astype(dtype)
    op = (lambda a: np.ascontiguousarray(a.T)) if trans_a else (lambda a: a)
    small = _core.gemm(op(A), B, trans_a)
    packed = _core.gemm(op(big), B, trans_a)[:M]
    assert np.array_equal(small, packed)


@pytest.mark.parametrize("name", sorted(available_isas()))
def test_isa_forced_through_environment_variable(name, tmp_path):
    code = ("import numpy as np, fastmlp; from fastmlp import _core, reference as ref;"
            "r = np.random.default_rng(0); A = r.standard_normal((37, 19));"
            "B = r.standard_normal((19, 23));"
            "assert np.allclose(_core.gemm(A, B), ref.gemm(A, B), rtol=1e-12, atol=1e-12);"
            "print(fastmlp.cpu_info()['isa'])")
    env = dict(os.environ, FASTMLP_ISA=name)
    # cwd: away from a source checkout, whose fastmlp/ would shadow the
    # package under test.
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == name


def _inputs(act, shape, dtype, rng):
    Z = (rng.standard_normal(shape) * 4).astype(dtype)
    Z.flat[:6] = [0.0, -0.0, 30.0, -30.0, 1e-8, -1e-8][: Z.size]
    return Z


def _act_tol(act, dtype, Z, dA=None):
    """ELEMENTWISE, except for gelu: 0.5·z·(1 + erf(z/√2)) and its
    derivative Φ(z) + z·φ(z) cancel for z < 0, so the libms' few-ulp
    *absolute* difference in erf (|erf| ~ 1) shows up as 8·eps·|z| (times
    |dA|·(1 + |z|) backward), not as a relative one."""
    tol = dict(ELEMENTWISE[dtype])
    if act == "gelu":
        scale = np.abs(Z) if dA is None else np.abs(dA) * (1 + np.abs(Z))
        tol["atol"] = float(8 * np.finfo(dtype).eps * scale.max())
    return tol


ACTS = sorted(_enums.ACTIVATIONS)
SMOOTH = [a for a in ACTS if a not in _enums.FLAT]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (17, 33), (65, 10)])
def test_activation_forward_matches_reference(isa, dtype, act, shape, rng):
    Z = _inputs(act, shape, dtype, rng)
    np.testing.assert_allclose(_core.act_forward(act, Z), ref.act_forward(act, Z),
                               **_act_tol(act, dtype, Z))


def _ulps_from_exact(got, exact):
    """|got − exact| in units of the float32 spacing at exact (the
    subnormal spacing below the normal range)."""
    exact32 = np.abs(exact).astype(np.float32)
    spacing = np.maximum(np.spacing(exact32).astype(np.float64), 2.0 ** -149)
    return np.abs(got.astype(np.float64) - exact) / spacing


# The float32 exp, tanh and sigmoid are fastmlp's own vectorised ones
# (csrc/act_vec_tmpl.h): within 3 ulp of the exactly rounded value over
# the whole range, the same bits on every ISA, and the limits exact.
@pytest.mark.parametrize("act", ["exp", "tanh", "sigmoid"])
def test_float32_vector_math_within_3_ulp_on_every_isa(act):
    rng = np.random.default_rng(7)
    lo, hi = {"exp": (-103.0, 88.7), "tanh": (-12.0, 12.0), "sigmoid": (-100.0, 40.0)}[act]
    z = np.concatenate([np.linspace(lo, hi, 400_001), rng.uniform(-1, 1, 100_000),
                        rng.standard_normal(100_000) * 1e-3, [0.0, -0.0, 1e-40, -1e-40]])
    z = z.astype(np.float32)
    z64 = z.astype(np.float64)
    exact = {"exp": np.exp(z64), "tanh": np.tanh(z64),
             "sigmoid": 1.0 / (1.0 + np.exp(-z64))}[act]
    results = {}
    before = _core.get_isa()
    try:
        for isa in available_isas():
            _core.set_isa(isa)
            got = _core.act_forward(act, z.reshape(1, -1)).ravel()
            results[isa] = got
            normal = np.abs(exact) >= np.finfo(np.float32).tiny
            assert _ulps_from_exact(got[normal], exact[normal]).max() <= 3.0, isa
            assert _ulps_from_exact(got[~normal], exact[~normal]).max() <= 3.0, isa
    finally:
        _core.set_isa(before)
    first = results[available_isas()[0]]
    for isa, got in results.items():
        assert np.array_equal(got.view(np.uint32), first.view(np.uint32)), isa
    lim = np.array([np.inf, -np.inf, np.nan, 100.0, -200.0], np.float32).reshape(1, -1)
    want = {"exp": [np.inf, 0.0, np.nan, np.inf, 0.0], "tanh": [1.0, -1.0, np.nan, 1.0, -1.0],
            "sigmoid": [1.0, 0.0, np.nan, 1.0, 0.0]}[act]
    np.testing.assert_array_equal(_core.act_forward(act, lim).ravel(), np.float32(want))
    if act == "tanh":  # odd, down to the sign of zero
        assert np.signbit(_core.act_forward("tanh", np.float32([[-0.0]]))[0, 0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", SMOOTH)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (17, 33)])
def test_activation_backward_matches_reference(isa, dtype, act, shape, rng):
    Z = _inputs(act, shape, dtype, rng)
    A = ref.act_forward(act, Z)
    dA = rng.standard_normal(shape).astype(dtype)
    got = _core.act_backward(act, dA, A=A, Z=Z)
    want = ref.act_backward(act, dA, A=A, Z=Z)
    np.testing.assert_allclose(got, want, **_act_tol(act, dtype, Z, dA))


@pytest.mark.parametrize("act", sorted(_enums.FLAT))
def test_flat_activation_backward_raises(act):
    Z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="zero derivative"):
        _core.act_backward(act, Z, A=Z, Z=Z)


LOSS_PAIRS = [("squared_error", "identity"), ("squared_error", "sigmoid"),
              ("squared_error", "tanh"), ("binary_crossentropy", "sigmoid"),
              ("categorical_crossentropy", "softmax"), ("poisson", "exp")]


def _targets(loss, shape, dtype, rng):
    if loss == "categorical_crossentropy":
        Y = np.zeros(shape, dtype)
        Y[np.arange(shape[0]), rng.integers(0, shape[1], shape[0])] = 1
        return Y
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, shape).astype(dtype)
    if loss == "poisson":
        return rng.poisson(2.0, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,out_act", LOSS_PAIRS)
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (33, 10)])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_matches_reference(dtype, loss, out_act, shape, weighted, rng):
    Z = rng.standard_normal(shape).astype(dtype)
    A = ref.act_forward(out_act, Z)
    Y = _targets(loss, shape, dtype, rng)
    sw = rng.uniform(0.1, 2.0, shape[0]).astype(dtype) if weighted else None
    v1, d1 = _core.loss(loss, out_act, Z, A, Y, sw)
    v2, d2 = ref.loss(loss, out_act, Z, A, Y, sw)
    assert v1 == pytest.approx(v2, rel=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(d1, d2, **ELEMENTWISE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["identity", "relu", "tanh", "sigmoid", "softmax", "gelu"])
@pytest.mark.parametrize("n,n_in,n_out", [(1, 1, 1), (7, 17, 3), (33, 65, 129), (128, 31, 10)])
def test_dense_forward_matches_reference(isa, dtype, act, n, n_in, n_out, rng):
    X = rng.standard_normal((n, n_in)).astype(dtype)
    W = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    Z1, A1 = _core.dense_forward(X, W, b, act)
    Z2, A2 = ref.dense_forward(X, W, b, act)
    absZ = np.abs(X).astype(np.float64) @ np.abs(W) + np.abs(b)
    assert_product_close(Z1, Z2, np.hstack([np.abs(X), np.ones((n, 1))]),
                         np.vstack([np.abs(W), np.abs(b)]), dtype, n_in + 1)
    # A = g(Z): the activation's Lipschitz constant is <= ~1.13 (gelu), so
    # the product bound carries over; plus the element-wise tolerance.
    tol = 2 * (n_in + 1) * np.finfo(dtype).eps * absZ
    np.testing.assert_array_less(np.abs(A1 - A2.astype(np.float64)),
                                 1.2 * tol + ELEMENTWISE[dtype]["rtol"] * np.abs(A2) + 1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,n_in,n_out", [(1, 1, 1), (7, 17, 3), (33, 65, 129), (128, 31, 10)])
def test_dense_backward_matches_reference(isa, dtype, n, n_in, n_out, rng):
    X = rng.standard_normal((n, n_in)).astype(dtype)
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    dZ = rng.standard_normal((n, n_out)).astype(dtype)
    dW1, db1, dX1 = _core.dense_backward(dZ, X, W)
    dW2, db2, dX2 = ref.dense_backward(dZ, X, W)
    aX, aW, adZ = (np.abs(a).astype(np.float64) for a in (X, W, dZ))
    assert_product_close(dW1, dW2, aX.T, adZ, dtype, n)
    assert_product_close(db1[None, :], db2[None, :], np.ones((1, n)), adZ, dtype, n)
    assert_product_close(dX1, dX2, adZ, aW.T, dtype, n_out)
    _, _, none = _core.dense_backward(dZ, X, W, need_dx=False)
    assert none is None


OPT_CASES = [
    {"kind": "sgd", "lr": 0.1},
    {"kind": "sgd", "lr": 0.1, "momentum": 0.9},
    {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"kind": "sgd_velocity", "lr": 0.1, "momentum": 0.9, "nesterov": False},
    {"kind": "sgd_velocity", "lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"kind": "momentum_ewma", "lr": 0.1, "momentum": 0.9},
    {"kind": "rmsprop", "lr": 0.01},
    {"kind": "rmsprop", "lr": 0.01, "momentum": 0.5, "eps_inside_sqrt": True},
    {"kind": "adam", "lr": 0.01},
    {"kind": "adam", "lr": 0.01, "weight_decay": 0.1},
    {"kind": "adam_sklearn", "lr": 0.01},
    {"kind": "adamw", "lr": 0.01},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", OPT_CASES, ids=lambda o: "-".join(f"{v}" for v in o.values()))
@pytest.mark.parametrize("l2,l1", [(0.0, 0.0), (0.01, 0.0), (0.0, 0.01), (0.02, 0.03)])
@pytest.mark.parametrize("n", [1, 7, 33, 1000, 1031])
def test_optimizer_matches_reference_over_steps(isa, dtype, opt, l2, l1, n, rng):
    w0 = rng.standard_normal(n).astype(dtype)
    w0[: min(n, 2)] = 0.0  # sign(0) = 0 for the L1 term
    ws = [w0.copy(), w0.copy()]
    states = [[np.zeros(n, dtype), np.zeros(n, dtype)] for _ in range(2)]
    for t in range(1, 6):
        g = rng.standard_normal(n).astype(dtype)
        s_c = _core.optim_step(opt, t, ws[0], g, *states[0], l2=l2, l1=l1)
        s_r = ref.optim_step(opt, t, ws[1], g, *states[1], l2=l2, l1=l1)
        assert s_c == pytest.approx(s_r, rel=1e-12)
        np.testing.assert_allclose(ws[0], ws[1], **ELEMENTWISE[dtype])


# Every ISA's loops round the same operations in the same order (no fused
# multiply-add is formed, sqrt and / are correctly rounded), and the
# threads share chunks cut by n alone: the update and Σ|g| are bitwise the
# same for every ISA and thread count, on sizes that split into blocks,
# chunks and threads (the 70,001 case runs on 2 threads when asked).
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", OPT_CASES, ids=lambda o: "-".join(f"{v}" for v in o.values()))
@pytest.mark.parametrize("n", [17, 4099, 70001])
def test_optimizer_is_bitwise_identical_across_isas_and_threads(dtype, opt, n, rng):
    w0 = rng.standard_normal(n).astype(dtype)
    gs = [rng.standard_normal(n).astype(dtype) for _ in range(3)]
    before = (_core.get_isa(), _core.get_num_threads())
    runs = {}
    try:
        for isa in available_isas():
            for nt in (1, 2):
                _core.set_isa(isa)
                _core.set_num_threads(nt)
                w, s1, s2 = w0.copy(), np.zeros(n, dtype), np.zeros(n, dtype)
                sums = [_core.optim_step(opt, t, w, g, s1, s2, l2=0.01, l1=0.02)
                        for t, g in enumerate(gs, start=1)]
                runs[isa, nt] = (w, s1, s2, sums)
    finally:
        _core.set_isa(before[0])
        _core.set_num_threads(before[1])
    (w_a, s1_a, s2_a, sums_a) = runs["generic", 1]
    for key, (w, s1, s2, sums) in runs.items():
        for got, want in ((w, w_a), (s1, s1_a), (s2, s2_a)):
            assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), key
        assert sums == sums_a, key


def test_optimizer_sum_of_abs_gradients_is_double_precision(rng):
    # A million float32 gradients, half of them 1 + 2**-23: a float32
    # running sum drops those tails once it passes 2; in double every
    # partial sum is exact, whatever the order, so the C sum must equal
    # the exactly rounded one.
    g = np.full(1_000_003, 1.0, np.float32)
    g[::2] = np.nextafter(np.float32(1), np.float32(2))
    w = np.zeros_like(g)
    s = _core.optim_step({"kind": "sgd", "lr": 0.0}, 1, w, g, None, None)
    assert s == math.fsum(g.astype(np.float64))


@pytest.mark.parametrize("kind", sorted(_enums.OPTIMIZERS))
def test_optimizer_defaults_agree(kind):
    assert _core.optim_defaults(kind) == ref.optim_defaults(kind)


def test_rng_streams_are_identical():
    counters = np.arange(0, 10_000, 7, dtype=np.uint64)
    for seed in (0, 1, 2**63 + 5):
        key = _core.rng_key(seed, 3)
        assert key == ref.rng_key(seed, 3)
        np.testing.assert_array_equal(_core.rng_u64(key, counters), ref.rng_u64(key, counters))
        np.testing.assert_array_equal(_core.rng_uniform(key, counters),
                                      ref.rng_uniform(key, counters))
        # Box-Muller through libm log/cos vs NumPy's: a few ulp in double.
        np.testing.assert_allclose(_core.rng_normal(key, counters),
                                   ref.rng_normal(key, counters), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("init", sorted(_enums.INITIALIZERS))
def test_init_matches_reference(dtype, init):
    key = _core.rng_key(42, 1)
    W1, b1 = _core.init_layer(init, key, 17, 5, False, dtype)
    W2, b2 = ref.init_layer(init, key, 17, 5, False, dtype)
    # Normal laws go through log/cos (a few ulp in double) before the
    # rounding to dtype, so float32 values agree exactly except when a
    # double lands within those ulp of a float32 rounding boundary.
    np.testing.assert_allclose(W1, W2, rtol=4 * np.finfo(dtype).eps, atol=0)
    np.testing.assert_array_equal(b1, b2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
def test_dropout_matches_reference(dtype, p, rng):
    A = rng.standard_normal((17, 33)).astype(dtype)
    A1, A2 = A.copy(), A.copy()
    m1 = _core.dropout_forward(p, 99, 5 << 32, A1)
    m2 = ref.dropout_forward(p, 99, 5 << 32, A2)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(A1, A2)


def test_softmax_course_example():
    # Course notes 002 print softmax([1.6, 0.55, 0.98]) = [0.51, 0.18, 0.31];
    # those outputs are the softmax of [1.6, 0.55, 1.1] (a typo in the
    # notes): e^z = [4.95, 1.73, 3.00] / 9.69. The true value for 0.98 is
    # [0.53, 0.19, 0.28] (4.95, 1.73, 2.66 over 9.35). Both are checked.
    for z, want in (([1.6, 0.55, 1.1], [0.51, 0.18, 0.31]),
                    ([1.6, 0.55, 0.98], [0.53, 0.19, 0.28])):
        got = _core.act_forward("softmax", np.array([z]))
        np.testing.assert_array_equal(np.round(got, 2), [want])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["sigmoid", "softplus", "tanh", "elu", "selu", "gelu",
                                 "softmax"])
def test_activations_finite_at_extremes(dtype, act):
    Z = np.array([[-1e4, -88.0, 0.0, 88.0, 1e4]], dtype=dtype)
    A = _core.act_forward(act, Z)
    assert np.isfinite(A).all()
    dA = _core.act_backward(act, np.ones_like(Z), A=A, Z=Z)
    assert np.isfinite(dA).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 4095, 4096, 4097, 10_001])
def test_all_finite_agrees_with_numpy(dtype, n, rng):
    x = rng.standard_normal(n).astype(dtype)
    assert _core.all_finite(x) is True
    big = np.finfo(dtype)
    for bad in (np.nan, np.inf, -np.inf):
        for where in {0, n // 2, n - 1} if n else ():
            y = x.copy()
            y[where] = bad
            assert _core.all_finite(y) is False
            assert _core.all_finite(y.reshape(1, -1)) is bool(np.isfinite(y).all())
    # the extremes of the finite range, subnormals and -0 are finite
    y = np.array([big.max, -big.max, big.tiny / 2, -0.0], dtype)
    assert _core.all_finite(y) is True


def test_all_finite_rejects_what_it_cannot_read_in_place():
    with pytest.raises(TypeError, match="float32 and float64"):
        _core.all_finite(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.all_finite(np.zeros((4, 4))[:, ::2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M", [1, 3])
def test_few_row_products_split_over_threads_give_the_same_bits(isa, dtype, M, rng):
    # B of 1.2-2.4 MB: above the size where the row path splits B's
    # columns over the threads; N = 300 leaves a partial last chunk.
    A = rng.standard_normal((M, 1000)).astype(dtype)
    B = rng.standard_normal((1000, 300)).astype(dtype)
    before = _core.get_num_threads()
    try:
        out = {}
        for nt in (1, 2):
            _core.set_num_threads(nt)
            out[nt] = _core.gemm(A, B)
    finally:
        _core.set_num_threads(before)
    assert np.array_equal(out[1], out[2])
    assert_product_close(out[1], A.astype(np.float64) @ B.astype(np.float64),
                         np.abs(A), np.abs(B), dtype, 1000)
