"""The Cython layer refuses bad input with exceptions that name the problem,
and the C kernels satisfy their mathematical properties on random input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastmlp import _core
from fastmlp import reference as ref

from conftest import assert_product_close

F64 = np.float64


@pytest.mark.parametrize("call,exc,match", [
    (lambda: _core.gemm(np.ones((2, 3)), np.ones((4, 2))), ValueError, "inner dimensions"),
    (lambda: _core.gemm(np.ones((2, 3), np.int64), np.ones((3, 2))), TypeError, "int64"),
    (lambda: _core.gemm(np.ones((2, 3)), np.ones((3, 2), np.float32)), TypeError, "float32"),
    (lambda: _core.gemm(np.ones((3, 4))[:, ::2], np.ones((2, 2))), ValueError, "contiguous"),
    (lambda: _core.gemm(np.ones(3), np.ones((3, 2))), ValueError, "2-D"),
    (lambda: _core.gemm([[1.0]], np.ones((1, 1))), TypeError, "ndarray"),
    (lambda: _core.gemm(np.ones((2, 2)), np.ones((2, 2)), C=np.ones((3, 3))), ValueError,
     "shape"),
    (lambda: _core.act_forward("swish", np.ones((2, 2))), ValueError, "unknown activation"),
    (lambda: _core.act_forward("leaky_relu", np.ones((2, 2)), param=-1.0), ValueError, "slope"),
    (lambda: _core.act_forward("elu", np.ones((2, 2)), param=0.0), ValueError, "alpha"),
    (lambda: _core.act_backward("tanh", np.ones((2, 2))), ValueError, "needs A"),
    (lambda: _core.act_backward("gelu", np.ones((2, 2)), A=np.ones((2, 2))), ValueError,
     "needs Z"),
    (lambda: _core.loss("hinge", "identity", *[np.ones((2, 2))] * 3), ValueError,
     "unknown loss"),
    (lambda: _core.loss("binary_crossentropy", "identity", *[np.ones((2, 2))] * 3),
     ValueError, "loss"),
    (lambda: _core.loss("squared_error", "identity", *[np.ones((0, 2))] * 3), ValueError,
     "loss"),
    (lambda: _core.loss("squared_error", "identity", np.ones((2, 2)), np.ones((2, 2)),
                        np.ones((3, 2))), ValueError, "one shape"),
    (lambda: _core.dense_forward(np.ones((2, 3)), np.ones((4, 2)), np.ones(2), "relu"),
     ValueError, "columns"),
    (lambda: _core.dense_forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(3), "relu"),
     ValueError, "entries"),
    (lambda: _core.optim_step({"kind": "adam"}, 0, np.ones(3), np.ones(3),
                              np.zeros(3), np.zeros(3)), ValueError, "step count"),
    (lambda: _core.optim_step({"kind": "adam"}, 1, np.ones(3), np.ones(3)), ValueError,
     "optim_step"),
    (lambda: _core.optim_step({"kind": "adam", "betaa": 1}, 1, np.ones(3), np.ones(3)),
     ValueError, "unknown optimizer option"),
    (lambda: _core.optim_step({"kind": "sgd"}, 1, np.ones(3), np.ones(4)), ValueError,
     "entries"),
    (lambda: _core.dropout_forward(1.0, 0, 0, np.ones((2, 2))), ValueError, "dropout"),
    (lambda: _core.init_layer("he", 0, 3, 2, False, F64), ValueError, "unknown initializer"),
    (lambda: _core.set_num_threads(0), ValueError, ">= 1"),
    (lambda: _core.set_isa("sse9"), ValueError, "unknown isa"),
])
def test_bad_kernel_input_raises_a_named_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_unsupported_isa_is_refused_cleanly():
    if _core.cpu_info()["isa_detected"] == "avx512":
        pytest.skip("this CPU supports every ISA")
    with pytest.raises(RuntimeError, match="set_isa"):
        _core.set_isa("avx512")
    assert _core.get_isa() in ("generic", "avx2")


def test_net_rejects_bad_training_input():
    net = _core.Net(F64, 3, [{"units": 4}, {"units": 2, "activation": "softmax"}])
    net.init(0)
    cfg = {"loss": "categorical_crossentropy"}
    X, Y = np.ones((5, 3)), np.full((5, 2), 0.5)
    for args, exc, match in [
        ((np.ones((5, 4)), Y), ValueError, "features"),
        ((X, np.ones((5, 3))), ValueError, "Y has shape"),
        ((X.astype(np.float32), Y), TypeError, "float32"),
        ((np.asfortranarray(np.ones((5, 3))), Y), ValueError, "contiguous"),
    ]:
        with pytest.raises(exc, match=match):
            net.train_epoch(cfg, *args)
    with pytest.raises(ValueError, match="unknown training option"):
        net.train_epoch({"loss": "categorical_crossentropy", "epochs": 3}, X, Y)
    with pytest.raises(ValueError, match="batch_size"):
        net.train_epoch({"loss": "categorical_crossentropy", "batch_size": 0}, X, Y)
    with pytest.raises(ValueError, match="loss"):
        net.train_epoch({"loss": "binary_crossentropy"}, X, Y)
    assert net.t == 0


dims = st.integers(1, 40)


@settings(max_examples=60, deadline=None)
@given(m=dims, n=dims, k=dims, ta=st.booleans(), tb=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_gemm_property_random_shapes(m, n, k, ta, tb, dtype, seed):
    rng = np.random.default_rng(seed)
    A = rng.uniform(-2, 2, (k, m) if ta else (m, k)).astype(dtype)
    B = rng.uniform(-2, 2, (n, k) if tb else (k, n)).astype(dtype)
    got = _core.gemm(A, B, ta, tb)
    want = ref.gemm(A, B, ta, tb)
    assert_product_close(got, want, np.abs(A.T if ta else A).astype(F64),
                         np.abs(B.T if tb else B).astype(F64), dtype, k)


finite = st.floats(-1e4, 1e4, allow_nan=False, width=64)


@settings(max_examples=100, deadline=None)
@given(Z=hnp.arrays(F64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=20), elements=finite))
def test_softmax_rows_are_distributions(Z):
    A = _core.act_forward("softmax", Z)
    assert np.isfinite(A).all() and (A >= 0).all()
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(Z=hnp.arrays(F64, st.tuples(st.integers(1, 10), st.integers(1, 6)), elements=finite),
       seed=st.integers(0, 1000))
def test_losses_are_nonnegative_and_finite(Z, seed):
    rng = np.random.default_rng(seed)
    n, k = Z.shape
    Y = np.eye(k)[rng.integers(0, k, n)]
    for loss, act in (("categorical_crossentropy", "softmax"),
                      ("binary_crossentropy", "sigmoid"), ("squared_error", "identity")):
        A = _core.act_forward(act, Z)
        value, dZ = _core.loss(loss, act, Z, A, Y)
        assert np.isfinite(value) and value >= 0 and np.isfinite(dZ).all()


@settings(max_examples=50, deadline=None)
@given(Z=hnp.arrays(F64, st.tuples(st.integers(1, 8), st.integers(1, 8)),
                    elements=st.floats(-50, 50, width=64)))
def test_sigmoid_tanh_derivative_identities(Z):
    s = _core.act_forward("sigmoid", Z)
    np.testing.assert_allclose(_core.act_backward("sigmoid", np.ones_like(Z), A=s), s * (1 - s))
    t = _core.act_forward("tanh", Z)
    np.testing.assert_allclose(_core.act_backward("tanh", np.ones_like(Z), A=t), 1 - t * t)
