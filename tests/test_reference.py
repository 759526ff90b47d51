"""Tests of fastmlp.reference, the NumPy mirror of the C library, on its own.

Organised by what they prove: the ordered sums it relies on; gradients
against central differences (every activation, loss, the dense layer and
the whole network); properties (softmax rows sum to 1, stable sigmoid and
softplus); optimiser steps against hand-worked values; the random
generator against a scalar splitmix64; the statistics of the initialisers
and of dropout; training (XOR, reproducibility, non-finite losses, stop
requests); dtypes; errors.  The comparison with the C library is in the
parity tests.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastmlp import _enums
from fastmlp import reference as ref

DTYPES = [np.float32, np.float64]

# Central differences in float64: truncation error ~h²·|f'''|, rounding
# ~eps·|f|/h; h = 1e-6 puts both near 1e-10, so 1e-6 relative (plus an
# absolute floor for derivatives that are ~0) is a safe, still sharp bound.
FD_H = 1e-6
FD_TOL = dict(rtol=1e-6, atol=1e-8)

SMOOTH_ACTS = sorted(set(_enums.ACTIVATIONS) - _enums.FLAT)


@pytest.fixture
def rng():
    """This module's own generator (the reference needs nothing from C)."""
    return np.random.default_rng(20240611)


def central_diff(f, x, h=FD_H):
    """∂f/∂x for a scalar function f of the array x (perturbed in place)."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return g


def away_from_zero(rng, shape, lo=0.2, hi=2.5):
    """Values with |z| in [lo, hi]: no kink of relu & co. within FD reach."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(lo, hi, size=shape)


# ---------------------------------------------------------------------------
# Ordered sums (the reference relies on NumPy adding rows in order)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (300, 1), (257, 2), (40, 33), (5, 1000)])
def test_seq_colsum_adds_rows_in_order(dtype, shape, rng):
    M = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-6, 6, shape)).astype(dtype)
    want = np.zeros(shape[1], dtype=dtype)
    for row in M:
        want = want + row
    assert np.array_equal(ref._seq_colsum(M), want)
    want64 = np.zeros(shape[0])
    for j in range(shape[1]):
        want64 = want64 + M[:, j].astype(np.float64)
    assert np.array_equal(ref._seq_rowsum(M), want64)
    acc = 0.0
    for x in M.ravel():
        acc += float(x)
    assert ref._seq_sum(M) == acc


def test_dense_backward_bias_sum_is_sequential(rng):
    dZ = np.array([[1e8], [1.0], [-1e8], [1.0]], dtype=np.float32)
    X = np.ones((4, 1), np.float32)
    _, db, _ = ref.dense_backward(dZ, X, np.ones((1, 1), np.float32))
    # ((1e8 + 1) − 1e8) + 1 in float32 is 1 (the 1 is lost once), not 2
    assert db.tolist() == [1.0]


# ---------------------------------------------------------------------------
# Matrix product
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_gemm_matches_numpy(dtype, ta, tb, rng):
    M, N, K = 7, 5, 9
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    C0 = rng.standard_normal((M, N)).astype(dtype)
    opA, opB = (A.T if ta else A), (B.T if tb else B)
    out = ref.gemm(A, B, ta, tb, alpha=0.5, beta=2.0, C=C0.copy())
    assert out.dtype == dtype
    np.testing.assert_allclose(out, 0.5 * (opA @ opB) + 2.0 * C0, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_gemm_does_not_read_c_when_beta_is_zero():
    C = np.full((2, 2), np.nan)
    out = ref.gemm(np.eye(2), np.eye(2), C=C)
    assert out is C and np.array_equal(C, np.eye(2))
    assert np.array_equal(ref.gemm(np.zeros((2, 0)), np.zeros((0, 3))), np.zeros((2, 3)))


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("act,param", [(a, None) for a in SMOOTH_ACTS]
                         + [("leaky_relu", 0.2), ("elu", 0.5)])
def test_activation_gradient_matches_central_difference(act, param, rng):
    Z = away_from_zero(rng, (4, 5))
    R = rng.standard_normal(Z.shape)

    def f():
        return float(np.sum(R * ref.act_forward(act, Z, param)))

    want = central_diff(f, Z)
    A = ref.act_forward(act, Z, param)
    got = ref.act_backward(act, R, A=A, Z=Z, param=param)
    np.testing.assert_allclose(got, want, **FD_TOL)


@pytest.mark.parametrize("act", sorted(_enums.FLAT))
def test_flat_activations_refuse_backward(act):
    Z = np.zeros((2, 2))
    A = ref.act_forward(act, Z)
    with pytest.raises(ValueError, match="zero derivative.*Perceptron"):
        ref.act_backward(act, np.ones_like(Z), A=A, Z=Z)


def test_step_and_sign_values():
    Z = np.array([-1.0, 0.0, 2.0])
    assert ref.act_forward("step", Z).tolist() == [0.0, 1.0, 1.0]
    assert ref.act_forward("sign", Z).tolist() == [-1.0, 1.0, 1.0]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(DTYPES))
def test_softmax_rows_sum_to_one(data, dtype):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12))
    Z = data.draw(hnp.arrays(dtype, shape,
                             elements=st.floats(-1e3, 1e3, allow_nan=False, width=32)))
    A = ref.act_forward("softmax", Z)
    assert A.dtype == dtype
    assert np.all(np.isfinite(A)) and np.all(A >= 0) and np.all(A <= 1)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(A.astype(np.float64).sum(axis=1), 1.0, rtol=0, atol=4 * shape[1] * eps)


def test_softmax_worked_examples():
    # The course's example: softmax([1.6, 0.55, 1.1]) = [0.51, 0.18, 0.31].
    A = ref.act_forward("softmax", np.array([[1.6, 0.55, 1.1]]))
    assert A.round(2).tolist() == [[0.51, 0.18, 0.31]]
    # (with 0.98 as the last logit the probabilities are [0.53, 0.19, 0.28])
    A = ref.act_forward("softmax", np.array([1.6, 0.55, 0.98]))
    assert A.round(2).tolist() == [0.53, 0.19, 0.28]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_softplus_stable_at_large_inputs(dtype):
    Z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S = ref.act_forward("sigmoid", Z)
        P = ref.act_forward("softplus", Z)
        dS = ref.act_backward("sigmoid", np.ones_like(Z), A=S)
        dP = ref.act_backward("softplus", np.ones_like(Z), A=P)
    for arr in (S, P, dS, dP):
        assert arr.dtype == dtype and np.all(np.isfinite(arr))
    assert S[0, 0] == 0 and S[0, 2] == 0.5 and S[0, 4] == 1
    assert P[0, 0] == 0 and P[0, 4] == dtype(1e4)
    assert dP[0, 0] == 0 and dP[0, 4] == 1


def test_relu_maps_nan_to_zero_like_c():
    Z = np.array([np.nan, -1.0, 2.0])
    assert ref.act_forward("relu", Z).tolist() == [0.0, 0.0, 2.0]


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------

LOSS_PAIRS = [
    ("squared_error", "identity"), ("squared_error", "sigmoid"),
    ("squared_error", "tanh"), ("squared_error", "softmax"),
    ("squared_error", "gelu"), ("squared_error", "softplus"),
    ("binary_crossentropy", "sigmoid"),
    ("categorical_crossentropy", "softmax"), ("poisson", "exp"),
]


def targets(loss, shape, rng):
    if loss == "binary_crossentropy":
        return rng.uniform(0, 1, shape)
    if loss == "categorical_crossentropy":
        return np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    if loss == "poisson":
        return rng.poisson(1.5, shape).astype(float)  # zeros included
    return rng.standard_normal(shape)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss,act", LOSS_PAIRS)
def test_loss_gradient_matches_central_difference(loss, act, weighted, rng):
    Z = rng.standard_normal((6, 3))
    Y = targets(loss, Z.shape, rng)
    sw = rng.uniform(0.2, 2.0, 6) if weighted else None

    def f():
        return ref.loss(loss, act, Z, ref.act_forward(act, Z), Y, sw, grad=False)[0]

    want = central_diff(f, Z)
    value, dZ = ref.loss(loss, act, Z, ref.act_forward(act, Z), Y, sw)
    assert value >= 0 and dZ.shape == Z.shape
    np.testing.assert_allclose(dZ, want, **FD_TOL)


def test_loss_hand_values():
    Z = np.array([[0.0, 2.0]])
    A = np.array([[1.0, 3.0]])
    value, dZ = ref.loss("squared_error", "identity", Z, A, np.array([[0.0, 1.0]]))
    assert value == 0.5 * (1 + 4) and dZ.tolist() == [[1.0, 2.0]]
    # BCE at z = 0 is log 2 whatever the target
    v, _ = ref.loss("binary_crossentropy", "sigmoid", np.zeros((2, 1)),
                    np.full((2, 1), 0.5), np.array([[0.0], [1.0]]))
    assert v == pytest.approx(math.log(2), rel=1e-15)


def test_loss_weights_of_one_equal_no_weights(rng):
    Z = rng.standard_normal((5, 3))
    A = ref.act_forward("softmax", Z)
    Y = targets("categorical_crossentropy", Z.shape, rng)
    v0, d0 = ref.loss("categorical_crossentropy", "softmax", Z, A, Y)
    v1, d1 = ref.loss("categorical_crossentropy", "softmax", Z, A, Y, np.ones(5))
    assert v0 == v1 and np.array_equal(d0, d1)


def test_losses_finite_for_saturated_logits():
    Z = np.array([[-800.0, 800.0]])
    for loss, act, Y in (("binary_crossentropy", "sigmoid", np.array([[1.0, 0.0]])),
                         ("categorical_crossentropy", "softmax", np.array([[1.0, 0.0]]))):
        v, dZ = ref.loss(loss, act, Z, ref.act_forward(act, Z), Y)
        assert np.isfinite(v) and v > 100 and np.all(np.isfinite(dZ))


def test_loss_rejects_wrong_pair():
    Z = np.zeros((2, 2))
    with pytest.raises(ValueError, match="binary_crossentropy.*'tanh'.*'sigmoid'"):
        ref.loss("binary_crossentropy", "tanh", Z, Z, Z)
    with pytest.raises(ValueError, match="categorical_crossentropy.*sigmoid"):
        ref.loss("log_loss", "logistic", Z, Z, Z)


# ---------------------------------------------------------------------------
# Dense layer
# ---------------------------------------------------------------------------


def test_dense_backward_matches_central_difference(rng):
    X = rng.standard_normal((5, 4))
    W = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    R = rng.standard_normal((5, 3))

    def f():
        return float(np.sum(R * ref.dense_forward(X, W, b, "tanh")[1]))

    Z, A = ref.dense_forward(X, W, b, "tanh")
    np.testing.assert_array_equal(Z, X @ W + b)
    dZ = ref.act_backward("tanh", R, A=A)
    dW, db, dX = ref.dense_backward(dZ, X, W)
    np.testing.assert_allclose(dW, central_diff(f, W), **FD_TOL)
    np.testing.assert_allclose(db, central_diff(f, b), **FD_TOL)
    np.testing.assert_allclose(dX, central_diff(f, X), **FD_TOL)
    assert ref.dense_backward(dZ, X, W, need_dx=False)[2] is None
    assert ref.dense_forward(X, W, b, "relu", keep_z=False)[0] is None


# ---------------------------------------------------------------------------
# Optimisers: hand-worked steps
# ---------------------------------------------------------------------------


def step(opt, w, g, t=1, s1=None, s2=None, **kw):
    n = len(w)
    w = np.array(w, dtype=float)
    s1 = np.zeros(n) if s1 is None else s1
    s2 = np.zeros(n) if s2 is None else s2
    asum = ref.optim_step(opt, t, w, np.array(g, dtype=float), s1, s2, **kw)
    return w, s1, s2, asum


def test_ewma_momentum_course_example():
    # β = 0.9, θ₁ = 3: V₁ = 0.9·0 + 0.1·3 = 0.3
    w, v, _, asum = step({"kind": "momentum_ewma", "lr": 1.0}, [0.0], [3.0])
    assert v[0] == pytest.approx(0.3, rel=1e-15) and w[0] == pytest.approx(-0.3, rel=1e-15)
    assert asum == 3.0
    # V₂ = 0.9·0.3 + 0.1·θ₂
    w, v, _, _ = step({"kind": "momentum_ewma", "lr": 1.0}, w, [5.0], t=2, s1=v)
    assert v[0] == pytest.approx(0.9 * 0.3 + 0.5, rel=1e-15)


@pytest.mark.parametrize("kind", ["adam", "adam_sklearn", "adamw"])
def test_adam_first_step_is_lr_times_sign(kind):
    # m₁ = (1−β1)·g, s₁ = (1−β2)·g², so the bias-corrected ratio is g/|g|
    # up to ε (sklearn adds ε to √s₁ = √(1−β2)·|g| uncorrected: 3e-4 here)
    g = [1e-1, -2.0, 50.0, -1e-1]
    opt = {"kind": kind, "lr": 0.01, "weight_decay": 0.0}
    w, m, s, _ = step(opt, [0.0] * 4, g)
    np.testing.assert_allclose(w, -0.01 * np.sign(g), rtol=1e-5)
    np.testing.assert_allclose(m, 0.1 * np.array(g), rtol=1e-14)
    np.testing.assert_allclose(s, 0.001 * np.square(g), rtol=1e-14)


def test_adamw_decays_weights_first():
    w, _, _, _ = step({"kind": "adamw", "lr": 0.1, "weight_decay": 0.5}, [2.0], [3.0])
    assert w[0] == pytest.approx(2.0 * (1 - 0.1 * 0.5) - 0.1, rel=1e-6)


def test_sgd_plain_momentum_and_nesterov():
    g1, g2, mu, lr = 2.0, -1.0, 0.9, 0.1
    w, _, _, _ = step({"kind": "sgd", "lr": lr}, [1.0], [g1])
    assert w[0] == 1.0 - lr * g1
    opt = {"kind": "sgd", "lr": lr, "momentum": mu}
    w, buf, _, _ = step(opt, [1.0], [g1])
    w, buf, _, _ = step(opt, w, [g2], t=2, s1=buf)
    assert buf[0] == pytest.approx(mu * g1 + g2) and w[0] == pytest.approx(1 - lr * g1 - lr * (mu * g1 + g2))
    w, buf, _, _ = step(dict(opt, nesterov=True), [1.0], [g1])
    assert w[0] == pytest.approx(1 - lr * (g1 + mu * g1))


def test_sgd_velocity_sklearn():
    lr, mu, g = 0.1, 0.9, 2.0
    w, v, _, _ = step({"kind": "sgd_velocity", "lr": lr, "nesterov": False}, [1.0], [g])
    assert v[0] == pytest.approx(-lr * g) and w[0] == pytest.approx(1 - lr * g)
    w, v, _, _ = step({"kind": "sgd_velocity", "lr": lr}, [1.0], [g])  # nesterov default
    assert w[0] == pytest.approx(1 + mu * (-lr * g) - lr * g)


def test_rmsprop_both_eps_placements():
    lr, g, eps = 0.01, 3.0, 1e-2
    s = (1 - 0.99) * g * g
    w, s1, _, _ = step({"kind": "rmsprop", "lr": lr, "eps": eps}, [0.0], [g])
    assert s1[0] == pytest.approx(s) and w[0] == pytest.approx(-lr * g / (math.sqrt(s) + eps))
    w, _, _, _ = step({"kind": "rmsprop", "lr": lr, "eps": eps, "eps_inside_sqrt": True}, [0.0], [g])
    assert w[0] == pytest.approx(-lr * g / math.sqrt(s + eps))


def test_penalties_and_weight_decay_fold_into_the_gradient():
    lr, l2, l1, wd = 0.1, 0.5, 0.25, 0.2
    w, _, _, asum = step({"kind": "sgd", "lr": lr}, [2.0, -1.0, 0.0], [1.0, -1.0, 3.0], l2=l2, l1=l1)
    want = np.array([2.0, -1.0, 0.0]) - lr * (np.array([1.0, -1.0, 3.0])
                                                + l2 * np.array([2.0, -1.0, 0.0])
                                                + l1 * np.array([1.0, -1.0, 0.0]))
    np.testing.assert_allclose(w, want, rtol=1e-15)
    assert asum == 5.0  # Σ|g| of the raw gradient, before the penalty
    w, _, _, _ = step({"kind": "sgd", "lr": lr, "weight_decay": wd}, [2.0], [1.0])
    assert w[0] == pytest.approx(2.0 - lr * (1.0 + wd * 2.0))


def test_optimizer_defaults_and_state_counts():
    assert ref.optim_defaults("adam") == {
        "kind": "adam", "lr": 1e-3, "momentum": 0.0, "beta1": 0.9, "beta2": 0.999,
        "eps": 1e-8, "weight_decay": 0.0, "nesterov": False, "eps_inside_sqrt": False}
    assert ref.optim_defaults("adamw")["weight_decay"] == 1e-2
    assert ref.optim_defaults("sgd_velocity")["nesterov"] is True
    counts = {"sgd": 0, "sgd_velocity": 1, "momentum_ewma": 1, "rmsprop": 1,
              "adam": 2, "adam_sklearn": 2, "adamw": 2}
    for kind, n in counts.items():
        assert ref.optim_n_state({"kind": kind}) == n
    assert ref.optim_n_state({"kind": "rmsprop", "momentum": 0.5}) == 2


@pytest.mark.parametrize("kind", list(_enums.OPTIMIZERS))
def test_optimizer_keeps_float32(kind):
    w = np.ones(4, np.float32)
    s1, s2 = np.zeros(4, np.float32), np.zeros(4, np.float32)
    ref.optim_step({"kind": kind, "momentum": 0.5} if kind in ("sgd", "rmsprop") else kind,
                   3, w, np.full(4, 0.5, np.float32), s1, s2, l2=0.1, l1=0.1)
    assert w.dtype == s1.dtype == s2.dtype == np.float32 and np.all(w < 1)


# ---------------------------------------------------------------------------
# Random numbers, initialisers, dropout
# ---------------------------------------------------------------------------

M64 = (1 << 64) - 1


def splitmix64(key, counter):
    """Scalar splitmix64 finaliser of key + (counter + 1)·γ, pure Python."""
    z = (key + (counter + 1) * 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def test_rng_u64_matches_scalar_splitmix64():
    # splitmix64's published first outputs from state 0
    assert [ref.rng_u64(0, c) for c in range(3)] == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    keys = [0, 1, 12345, M64, 0x9E3779B97F4A7C15]
    counters = np.array([0, 1, 2, 1000, 2**32, 2**63, M64 - 1, M64], dtype=np.uint64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # wrap-around must be silent
        for key in keys:
            got = ref.rng_u64(key, counters)
            assert got.dtype == np.uint64
            assert got.tolist() == [splitmix64(key, int(c)) for c in counters]
            assert ref.rng_u64(key, M64) == splitmix64(key, M64)
    assert ref.rng_key(7, 2) == splitmix64(7, 2)
    assert ref.rng_u64(3, np.arange(6).reshape(2, 3)).shape == (2, 3)


def test_rng_uniform_and_normal():
    c = np.arange(100_000)
    u = ref.rng_uniform(11, c)
    assert u.dtype == np.float64 and u.min() >= 0 and u.max() < 1
    assert ref.rng_uniform(11, 5) == (splitmix64(11, 5) >> 11) * 2.0 ** -53
    assert abs(u.mean() - 0.5) < 0.005
    z = ref.rng_normal(11, c)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    u1, u2 = ref.rng_uniform(11, 10), ref.rng_uniform(11, 11)
    assert ref.rng_normal(11, 5) == math.sqrt(-2 * math.log(1 - u1)) * math.cos(2 * math.pi * u2)


INIT_LAWS = {  # name -> (normal?, variance parameter as a function of fan_in, fan_out)
    "lecun_normal": (True, lambda i, o: 1 / i),
    "lecun_uniform": (False, lambda i, o: 3 / i),
    "glorot_normal": (True, lambda i, o: 2 / (i + o)),
    "glorot_uniform": (False, lambda i, o: 6 / (i + o)),
    "he_normal": (True, lambda i, o: 2 / i),
    "he_uniform": (False, lambda i, o: 6 / i),
    "sklearn": (False, lambda i, o: 6 / (i + o)),
}


@pytest.mark.parametrize("init", list(INIT_LAWS))
def test_init_law_statistics(init):
    fan_in, fan_out = 300, 200
    normal, var = INIT_LAWS[init]
    scale = math.sqrt(var(fan_in, fan_out))  # std or bound
    W, b = ref.init_layer(init, ref.rng_key(3, 1), fan_in, fan_out, False, np.float64)
    assert W.shape == (fan_in, fan_out) and b.shape == (fan_out,)
    std = scale if normal else scale / math.sqrt(3)
    assert abs(W.mean()) < 0.02 * std
    assert W.std() == pytest.approx(std, rel=0.02)
    if not normal:
        assert np.abs(W).max() <= scale and np.abs(W).max() > 0.99 * scale
    if init == "sklearn":
        assert np.all(np.abs(b) <= scale) and np.count_nonzero(b) == fan_out
    else:
        assert not b.any()
    W2, _ = ref.init_layer(init, ref.rng_key(3, 1), fan_in, fan_out, False, np.float32)
    assert W2.dtype == np.float32 and np.array_equal(W2, W.astype(np.float32))


def test_sklearn_init_sigmoid_gain():
    W, b = ref.init_layer("sklearn", 5, 30, 20, True, np.float64)
    bound = math.sqrt(2 / 50)
    assert np.abs(W).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(W).max() > 0.9 * bound


def test_dropout_statistics():
    p = 0.3
    A = np.ones((300, 200))
    mask = ref.dropout_forward(p, ref.rng_key(1, 3), 5 << 32, A)
    kept = mask != 0
    assert abs(kept.mean() - (1 - p)) < 0.01
    assert set(np.unique(mask).tolist()) == {0.0, 1 / (1 - p)}
    assert np.array_equal(A, mask)  # A_e = 1·mask_e
    assert abs(A.mean() - 1) < 0.015  # inverted dropout keeps the mean
    # a pure function of (key, counter): the same counters give the same mask
    assert np.array_equal(ref.dropout_forward(p, ref.rng_key(1, 3), 5 << 32, np.ones((300, 200))), mask)
    assert not np.array_equal(ref.dropout_forward(p, ref.rng_key(1, 3), 6 << 32, np.ones((300, 200))), mask)
    # element e uses counter counter0 + e
    u = ref.rng_uniform(ref.rng_key(1, 3), (5 << 32) + np.arange(A.size))
    assert np.array_equal(kept.ravel(), u >= p)
    assert np.all(ref.dropout_forward(0.0, 1, 0, np.ones((3, 3), np.float32)) == 1)


# ---------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------


def small_net(dtype=np.float64, hidden="tanh", out="identity", n_out=2, dropout=0.0,
              init="glorot_uniform", seed=0):
    net = ref.Net(dtype, 3, [{"units": 4, "activation": hidden, "dropout": dropout, "init": init},
                             {"units": n_out, "activation": out, "init": init}])
    net.init(seed)
    return net


def clone(net):
    twin = ref.Net(net.dtype, net.n_in, net.layers)
    twin.params[...] = net.params
    twin.t = net.t
    for s in (0, 1):
        twin.opt_state(s)[...] = net.opt_state(s)
    return twin


NET_CASES = [  # hidden, output activation, loss
    ("tanh", "identity", "squared_error"),
    ("relu", "softmax", "categorical_crossentropy"),
    ("gelu", "sigmoid", "binary_crossentropy"),
    ("elu", "exp", "poisson"),
    ("leaky_relu", "sigmoid", "squared_error"),
]


@pytest.mark.parametrize("hidden,out,loss", NET_CASES)
def test_net_gradient_matches_central_difference(hidden, out, loss, rng):
    net = small_net(hidden=hidden, out=out)
    X = rng.standard_normal((7, 3))
    Y = targets(loss, (7, 2), rng)
    sw = rng.uniform(0.5, 2.0, 7)
    cfg = {"loss": loss, "l2": 0.3, "l1": 0.05}

    def f():
        value, pen = net.evaluate(cfg, X, Y, sw)
        return value + pen

    want = central_diff(f, net.params)
    value, grad = net.loss_grad(cfg, X, Y, sw)
    assert value == pytest.approx(f(), rel=1e-15)
    assert np.count_nonzero(grad) > net.n_params // 2  # not trivially zero
    np.testing.assert_allclose(grad, want, **FD_TOL)

    # the update plain SGD with lr = 1 applies is that same gradient
    twin = clone(net)
    before = twin.params.copy()
    stats = twin.train_step(dict(cfg, optimizer={"kind": "sgd", "lr": 1.0}), X, Y, sw)
    np.testing.assert_allclose(before - twin.params, grad, rtol=1e-12, atol=1e-14)
    assert stats["t"] == 1 and stats["n_batches"] == 1
    assert stats["loss"] == net.evaluate(cfg, X, Y, sw)[0]


def test_train_step_with_dropout_mirrors_the_kernels(rng):
    """One step composed by hand from the kernels, MATH.md step by step."""
    net = ref.Net(np.float64, 3, [{"units": 5, "activation": "tanh", "dropout": 0.4},
                                  {"units": 4, "activation": "relu", "dropout": 0.2},
                                  {"units": 2, "activation": "sigmoid"}])
    net.init(1)
    net.t = 6
    X, Y = rng.standard_normal((8, 3)), rng.uniform(0, 1, (8, 2))
    cfg = {"loss": "binary_crossentropy", "optimizer": {"kind": "sgd", "lr": 0.5},
           "l2": 0.1, "l1": 0.0, "seed": 9}
    L, t, key = 3, 6, ref.rng_key(9, _enums.STREAM_DROPOUT)
    params = [(net.weights(l).copy(), net.biases(l).copy()) for l in range(L)]
    H, Zs, As, Ms = [X], [], [], []
    for l, layer in enumerate(net.layers):
        Z, A = ref.dense_forward(H[-1], *params[l], layer["activation"])
        Zs.append(Z)
        As.append(A)
        if layer["dropout"] > 0:
            D = A.copy()
            Ms.append(ref.dropout_forward(layer["dropout"], key, ((t + 1) * L + l) << 32, D))
            H.append(D)
        else:
            Ms.append(None)
            H.append(A)
    _, dZ = ref.loss("binary_crossentropy", "sigmoid", Zs[-1], As[-1], Y)
    grads = [None] * L
    for l in range(L - 1, -1, -1):
        dW, db, dH = ref.dense_backward(dZ, H[l], params[l][0])
        grads[l] = (dW, db)
        if l:
            dH *= Ms[l - 1]
            dZ = ref.act_backward(net.layers[l - 1]["activation"], dH, A=As[l - 1])
    want = []
    for l in range(L):
        W, b = params[l]
        W = W.ravel()
        ref.optim_step(cfg["optimizer"], t + 1, W, grads[l][0].ravel(), l2=0.1 / 8)
        ref.optim_step(cfg["optimizer"], t + 1, b, grads[l][1])
        want += [W, b]
    stats = net.train_step(cfg, X, Y)
    assert stats["t"] == 7
    assert np.array_equal(net.params, np.concatenate(want))
    assert stats["grad_w"][0] == np.abs(grads[0][0]).sum() / 15


def test_net_layout_views_and_state():
    net = small_net()
    assert (net.n_in, net.n_out, net.n_layers, net.n_params) == (3, 2, 2, 3 * 4 + 4 + 4 * 2 + 2)
    assert net.layers[0] == {"units": 4, "activation": "tanh", "act_param": 0.0,
                             "init": "glorot_uniform", "dropout": 0.0}
    net.weights(1)[2, 1] = 42.0
    assert net.params[16 + 2 * 2 + 1] == 42.0
    net.biases(0)[3] = -1.0
    assert net.params[12 + 3] == -1.0
    assert np.shares_memory(net.weights(0), net.params)
    with pytest.raises(IndexError):
        net.weights(2)
    X = np.random.default_rng(0).standard_normal((5, 3))
    net.train_step({"loss": "mse", "optimizer": "adam"}, X, np.zeros((5, 2)))
    assert net.t == 1 and net.opt_state(0).any() and net.opt_state(1).shape == (net.n_params,)
    net.reset_optimizer()
    assert net.t == 0 and not net.opt_state(0).any() and not net.opt_state(1).any()
    net.t = 5
    net.init(0)
    assert net.t == 0
    assert net.predict(np.zeros((0, 3))).shape == (0, 2)


def test_net_init_is_per_layer_keyed():
    net = small_net(init="he_normal", seed=17)
    for l in range(2):
        W, b = ref.init_layer("he_normal", ref.rng_key(17, _enums.STREAM_INIT + l),
                              net.weights(l).shape[0], net.weights(l).shape[1], False, np.float64)
        assert np.array_equal(net.weights(l), W) and np.array_equal(net.biases(l), b)
    # "a sigmoid network": the sklearn law's gain follows the first layer
    sig = small_net(hidden="sigmoid", init="sklearn", seed=2)
    W, _ = ref.init_layer("sklearn", ref.rng_key(2, _enums.STREAM_INIT + 1), 4, 2, True, np.float64)
    assert np.array_equal(sig.weights(1), W)


def test_xor_is_learned():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    net = ref.Net(np.float64, 2, [{"units": 4, "activation": "tanh"},
                                  {"units": 1, "activation": "sigmoid"}])
    net.init(0)
    cfg = {"loss": "binary_crossentropy", "optimizer": {"kind": "adam", "lr": 0.05},
           "batch_size": 4, "shuffle": False}
    first = net.train_epoch(cfg, X, Y, epoch=0)["loss"]
    for epoch in range(1, 300):
        stats = net.train_epoch(cfg, X, Y, epoch=epoch)
    assert stats["loss"] < first
    accuracy = np.mean((net.predict(X) > 0.5) == Y)
    assert accuracy > 0.9


def epochs(seed, epochs_=2, shuffle=True, dtype=np.float64):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((23, 3)).astype(dtype)
    Y = rng.standard_normal((23, 2)).astype(dtype)
    net = small_net(dtype=dtype, dropout=0.25)
    cfg = {"loss": "squared_error", "optimizer": {"kind": "sgd", "lr": 0.1, "momentum": 0.9},
           "batch_size": 5, "shuffle": shuffle, "seed": seed}
    losses = [net.train_epoch(cfg, X, Y, epoch=e)["loss"] for e in range(epochs_)]
    return net.params.copy(), losses


def test_same_seed_same_trajectory_other_seed_other():
    p1, l1 = epochs(seed=3)
    p2, l2 = epochs(seed=3)
    p3, l3 = epochs(seed=4)
    assert np.array_equal(p1, p2) and l1 == l2
    assert not np.array_equal(p1, p3) and l1 != l3


def test_permutation_is_stable_argsort_of_u64_keys():
    net = small_net()
    n, epoch, seed = 50, 3, 8
    key = splitmix64(seed, _enums.STREAM_SHUFFLE)
    keys = [splitmix64(key, epoch * n + i) for i in range(n)]
    want = sorted(range(n), key=lambda i: (keys[i], i))
    got = net._permutation({"shuffle": True, "seed": seed}, n, epoch)
    assert got.tolist() == want
    assert net._permutation({"shuffle": False, "seed": seed}, n, epoch) is None


def test_epoch_statistics_are_weighted_batch_means(rng):
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    sw = rng.uniform(0.5, 2, 10)
    net = small_net()
    twin = clone(net)
    cfg = {"loss": "mse", "optimizer": "adam", "l2": 0.2, "batch_size": 4, "shuffle": False}
    stats = net.train_epoch(cfg, X, Y, sw)
    parts = [twin.train_step(cfg, X[s], Y[s], sw[s]) for s in (slice(0, 4), slice(4, 8), slice(8, 10))]
    Ws = [sw[0:4].sum(), sw[4:8].sum(), sw[8:10].sum()]
    assert stats["n_batches"] == 3 and stats["t"] == 3
    assert np.array_equal(net.params, twin.params)
    assert stats["loss"] == pytest.approx(sum(p["loss"] * w for p, w in zip(parts, Ws)) / sum(Ws), rel=1e-14)
    assert stats["penalty"] == pytest.approx(sum(p["penalty"] * w for p, w in zip(parts, Ws)) / sum(Ws), rel=1e-14)
    np.testing.assert_allclose(stats["grad_w"], np.mean([p["grad_w"] for p in parts], axis=0), rtol=1e-14)
    assert "interrupted" not in stats and "nonfinite" not in stats


def test_nonfinite_loss_stops_before_the_batch(rng):
    X, Y = rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    Y[4, 1] = np.nan  # in the second batch of three
    net = small_net()
    twin = clone(net)
    cfg = {"loss": "mse", "optimizer": "adam", "batch_size": 3, "shuffle": False}
    stats = net.train_epoch(cfg, X, Y)
    assert stats["nonfinite"] is True and stats["batch"] == 1
    assert stats["n_batches"] == 1 and net.t == 1
    twin.train_step(cfg, X[:3], Y[:3])
    assert np.array_equal(net.params, twin.params)  # as before batch 1
    before = net.params.copy()
    stats = net.train_step(cfg, X[3:6], Y[3:6])
    assert stats["nonfinite"] is True and stats["n_batches"] == 0
    assert np.array_equal(net.params, before) and net.t == 1


def test_stop_request_after_a_batch(rng):
    X, Y = rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    cfg = {"loss": "mse", "optimizer": "sgd", "batch_size": 3}
    calls = []
    net = small_net()
    stats = net.train_epoch(cfg, X, Y, should_stop=lambda b: calls.append(b) or b == 0)
    assert stats["interrupted"] is True and stats["n_batches"] == 1 and net.t == 1 and calls == [0]
    calls.clear()
    stats = net.train_epoch(cfg, X, Y, epoch=1, should_stop=lambda b: calls.append(b) and False)
    assert calls == [0, 1, 2] and "interrupted" not in stats


def test_flat_activation_cannot_be_trained():
    net = small_net(hidden="step")
    X = np.zeros((2, 3))
    assert net.predict(X).shape == (2, 2)
    before = net.params.copy()
    with pytest.raises(ValueError, match="zero derivative"):
        net.train_step({"loss": "mse", "optimizer": "sgd"}, X, np.zeros((2, 2)))
    assert np.array_equal(net.params, before) and net.t == 0


def test_float32_stays_float32(rng):
    net = small_net(dtype=np.float32, out="softmax", dropout=0.1)
    X = rng.standard_normal((6, 3)).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[[0, 1, 0, 1, 1, 0]]
    cfg = {"loss": "categorical_crossentropy", "optimizer": "adam", "l2": 0.1, "batch_size": 4}
    stats = net.train_epoch(cfg, X, Y, np.ones(6, np.float32))
    assert isinstance(stats["loss"], float) and math.isfinite(stats["loss"])
    assert net.params.dtype == net.opt_state(0).dtype == np.float32
    assert net.predict(X).dtype == np.float32
    assert net.loss_grad(cfg, X, Y)[1].dtype == np.float32
    Z = X @ net.weights(0)
    for act in SMOOTH_ACTS:
        A = ref.act_forward(act, Z)
        assert A.dtype == np.float32
        assert ref.act_backward(act, np.ones_like(A), A=A, Z=Z).dtype == np.float32
    _, dZ = ref.loss("binary_crossentropy", "sigmoid", Z, ref.act_forward("sigmoid", Z), np.ones_like(Z))
    assert dZ.dtype == np.float32
    assert all(a.dtype == np.float32 for a in ref.dense_backward(Z, X, net.weights(0)))
    assert ref.init_layer("glorot_normal", 1, 3, 3, False, np.float32)[0].dtype == np.float32


# ---------------------------------------------------------------------------
# Errors name the problem
# ---------------------------------------------------------------------------

X3, Y2 = np.zeros((2, 3)), np.zeros((2, 2))
TRAIN = {"loss": "mse", "optimizer": "sgd"}

BAD_CALLS = [
    (lambda: ref.Net(np.int32, 3, [{"units": 2}]), "dtype"),
    (lambda: ref.Net(np.float64, 3, [{"units": 0}]), "units"),
    (lambda: ref.Net(np.float64, 3, []), "at least one layer"),
    (lambda: ref.Net(np.float64, 3, [{"units": 2, "activation": "swish"}]), "activation 'swish'"),
    (lambda: ref.Net(np.float64, 3, [{"units": 2, "init": "orthogonal"}]), "initializer 'orthogonal'"),
    (lambda: ref.Net(np.float64, 3, [{"units": 2, "dropout": 0.5}]), "output layer.*dropout"),
    (lambda: ref.Net(np.float64, 3, [{"units": 2, "dropout": 1.0}, {"units": 1}]), "dropout"),
    (lambda: ref.Net(np.float64, 3, [{"units": 2, "activation": "leaky_relu", "act_param": -1}]), "slope"),
    (lambda: ref.Net(np.float64, 3, [{"units": 2, "colour": "red"}]), "colour"),
    (lambda: small_net().train_step({"loss": "poisson", "optimizer": "sgd"}, X3, Y2), "poisson.*exp"),
    (lambda: small_net().train_step({"loss": "mse", "optimizer": "nadam"}, X3, Y2), "optimizer 'nadam'"),
    (lambda: small_net().train_step(TRAIN, X3.astype(np.float32), Y2), "X has dtype float32"),
    (lambda: small_net().train_step(TRAIN, np.zeros((2, 4)), Y2), "X has 4 features"),
    (lambda: small_net().train_step(TRAIN, X3, np.zeros((2, 3))), "Y has shape"),
    (lambda: small_net().train_step(TRAIN, X3, Y2, np.array([1.0, -1.0])), "sample weights"),
    (lambda: small_net().train_step(TRAIN, X3, Y2, np.array([1.0, np.inf])), "sample weights"),
    (lambda: small_net().train_step(dict(TRAIN, l2=-1.0), X3, Y2), "l2"),
    (lambda: small_net().train_epoch(dict(TRAIN, batch_size=0), X3, Y2), "batch_size"),
    (lambda: small_net().train_epoch(TRAIN, X3, Y2, epoch=-1), "epoch"),
    (lambda: small_net().evaluate({"loss": "mse"}, np.zeros((0, 3)), np.zeros((0, 2))), "at least one sample"),
    (lambda: setattr(small_net(), "t", -1), "step count"),
    (lambda: small_net().init(-5), "seed"),
    (lambda: ref.gemm(np.zeros((2, 3)), np.zeros((2, 3))), "inner sizes"),
    (lambda: ref.gemm(np.zeros((2, 3)), np.zeros((3, 2), np.float32)), "dtype float32"),
    (lambda: ref.act_forward("relu", [1.0, 2.0]), "numpy.ndarray"),
    (lambda: ref.act_forward("relu", np.zeros(3, np.int64)), "float32 and float64"),
    (lambda: ref.act_forward("elu", np.zeros(3), 0.0), "elu alpha"),
    (lambda: ref.act_backward("sigmoid", np.zeros(3)), "needs A"),
    (lambda: ref.act_backward("gelu", np.zeros(3), A=np.zeros(3)), "needs Z"),
    (lambda: ref.loss("mse", "identity", None, np.zeros((0, 2)), np.zeros((0, 2))), "empty batch"),
    (lambda: ref.loss("mse", "identity", None, Y2, Y2, np.zeros(2)), "sample weights must sum"),
    (lambda: ref.loss("mse", "step", None, Y2, Y2), "zero derivative"),
    (lambda: ref.loss("hinge", "identity", None, Y2, Y2), "loss 'hinge'"),
    (lambda: ref.dense_forward(X3, np.zeros((2, 2)), np.zeros(2), "relu"), "do not agree"),
    (lambda: ref.optim_step("adam", 0, np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2)), "t must be"),
    (lambda: ref.optim_step("adam", 1, np.zeros(2), np.zeros(2), np.zeros(2)), "needs state buffer s2"),
    (lambda: ref.optim_step({"kind": "adam", "beta1": 1.0}, 1, np.zeros(1), np.zeros(1),
                            np.zeros(1), np.zeros(1)), "beta1"),
    (lambda: ref.optim_step({"kind": "sgd", "lr": -1.0}, 1, np.zeros(1), np.zeros(1)), "learning rate"),
    (lambda: ref.optim_step({"kind": "sgd", "speed": 1}, 1, np.zeros(1), np.zeros(1)), "speed"),
    (lambda: ref.rng_u64(-1, 0), "key"),
    (lambda: ref.rng_u64(0, np.array([-1])), "counters"),
    (lambda: ref.rng_uniform(0, np.array([0.5])), "integers"),
    (lambda: ref.init_layer("he_normal", 0, 0, 3, False, np.float64), "fan_in"),
    (lambda: ref.init_layer("he_normal", 0, 3, 3, False, np.int64), "dtype"),
    (lambda: ref.dropout_forward(1.0, 0, 0, np.ones(3)), "dropout probability"),
]


@pytest.mark.parametrize("call,match", BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_bad_input_raises_value_error_naming_it(call, match):
    with pytest.raises(ValueError, match=match):
        call()
