"""The C network against the NumPy reference network: same initial weights,
same trajectory for every optimiser and loss, same statistics; gradients
against central differences; reproducibility; failure behaviour."""

import threading

import numpy as np
import pytest

from fastmlp import _core
from fastmlp import reference as ref

from conftest import DTYPES

OPTIMIZERS = [
    {"kind": "sgd", "lr": 0.05},
    {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"kind": "sgd_velocity", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"kind": "momentum_ewma", "lr": 0.1, "momentum": 0.9},
    {"kind": "rmsprop", "lr": 0.005},
    {"kind": "rmsprop", "lr": 0.005, "eps_inside_sqrt": True},
    {"kind": "adam", "lr": 0.005},
    {"kind": "adam_sklearn", "lr": 0.005},
    {"kind": "adamw", "lr": 0.005, "weight_decay": 0.05},
]

PROBLEMS = {
    # name: (hidden activation, output activation, loss, n_out)
    "cce": ("relu", "softmax", "categorical_crossentropy", 3),
    "bce": ("tanh", "sigmoid", "binary_crossentropy", 2),
    "mse": ("elu", "identity", "squared_error", 2),
    "mse_sigmoid": ("sigmoid", "sigmoid", "squared_error", 3),
    "poisson": ("gelu", "exp", "poisson", 1),
}


def make_problem(name, dtype, n=101, n_in=7, seed=0):
    hidden, out_act, loss, n_out = PROBLEMS[name]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in)).astype(dtype)
    if loss == "categorical_crossentropy":
        Y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, n)]
    elif loss == "binary_crossentropy":
        Y = rng.integers(0, 2, (n, n_out)).astype(dtype)
    elif loss == "poisson":
        Y = rng.poisson(1.5, (n, n_out)).astype(dtype)
    else:
        Y = rng.standard_normal((n, n_out)).astype(dtype)
    layers = [{"units": 9, "activation": hidden, "init": "glorot_uniform"},
              {"units": 5, "activation": hidden, "init": "he_normal", "dropout": 0.2},
              {"units": n_out, "activation": out_act, "init": "lecun_normal"}]
    return X, Y, layers, loss


def both_nets(dtype, n_in, layers, seed=3):
    nets = [_core.Net(dtype, n_in, layers), ref.Net(dtype, n_in, layers)]
    for net in nets:
        net.init(seed)
    return nets


# Trajectories drift apart by round-off that the optimiser then amplifies:
# after a few epochs float64 agrees to ~1e-10 relative and float32 to a few
# 1e-4 (each step's products differ by ~K·eps, and Adam-like updates divide
# by small second moments).
TRAJ = {np.float32: dict(rtol=2e-3, atol=2e-4), np.float64: dict(rtol=1e-8, atol=1e-10)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_same_trajectory_on_both_backends(dtype, problem, opt):
    X, Y, layers, loss = make_problem(problem, dtype)
    cnet, rnet = both_nets(dtype, X.shape[1], layers)
    np.testing.assert_allclose(cnet.params, rnet.params, rtol=4 * np.finfo(dtype).eps)
    rnet.params[...] = cnet.params  # start from bitwise-identical weights
    sw = np.linspace(0.5, 1.5, X.shape[0]).astype(dtype)
    cfg = {"loss": loss, "optimizer": opt, "l2": 0.01, "l1": 0.001, "batch_size": 16,
           "shuffle": True, "seed": 11}
    for epoch in range(3):
        sc = cnet.train_epoch(cfg, X, Y, sw, epoch=epoch)
        sr = rnet.train_epoch(cfg, X, Y, sw, epoch=epoch)
        assert sc["n_batches"] == sr["n_batches"] == 7
        assert sc["t"] == sr["t"] == 7 * (epoch + 1)
        np.testing.assert_allclose(sc["loss"], sr["loss"], **TRAJ[dtype])
        np.testing.assert_allclose(sc["penalty"], sr["penalty"], **TRAJ[dtype])
        np.testing.assert_allclose(sc["grad_w"], sr["grad_w"], **TRAJ[dtype])
        np.testing.assert_allclose(sc["grad_b"], sr["grad_b"], **TRAJ[dtype])
    np.testing.assert_allclose(cnet.params, rnet.params, **TRAJ[dtype])
    np.testing.assert_allclose(cnet.predict(X), rnet.predict(X), **TRAJ[dtype])


@pytest.mark.parametrize("backend", [_core.Net, ref.Net], ids=["c", "numpy"])
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_network_gradient_matches_central_differences(backend, problem):
    """loss_grad (the gradient train_step applies) vs central differences
    of evaluate, in float64, for every parameter of a small network."""
    X, Y, layers, loss = make_problem(problem, np.float64, n=13, n_in=4)
    for layer in layers:
        layer["dropout"] = 0.0
    net = backend(np.float64, X.shape[1], layers)
    net.init(5)
    sw = np.linspace(0.5, 2.0, X.shape[0])
    cfg = {"loss": loss, "optimizer": "sgd", "l2": 0.1, "l1": 0.0, "batch_size": 13}
    value, grad = net.loss_grad(cfg, X, Y, sw)
    assert np.abs(grad).max() > 1e-4, "a vanishing gradient would pass trivially"
    h = 1e-6
    numeric = np.empty_like(grad)
    for i in range(net.n_params):
        old = net.params[i]
        net.params[i] = old + h
        up = sum(net.evaluate(cfg, X, Y, sw))
        net.params[i] = old - h
        down = sum(net.evaluate(cfg, X, Y, sw))
        net.params[i] = old
        numeric[i] = (up - down) / (2 * h)
    assert value == pytest.approx(sum(net.evaluate(cfg, X, Y, sw)), rel=1e-12)
    # Central differences: truncation O(h²·f''') ~ 1e-12, cancellation
    # ~ eps·|f|/h ~ 1e-10.
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("backend", [_core.Net, ref.Net], ids=["c", "numpy"])
def test_train_step_applies_the_loss_gradient(backend):
    X, Y, layers, loss = make_problem("cce", np.float64, n=16)
    for layer in layers:
        layer["dropout"] = 0.0
    net = backend(np.float64, X.shape[1], layers)
    net.init(1)
    cfg = {"loss": loss, "optimizer": {"kind": "sgd", "lr": 1.0}, "batch_size": 16,
           "shuffle": False}
    _, grad = net.loss_grad(cfg, X, Y)
    before = net.params.copy()
    net.train_step(cfg, X, Y)
    np.testing.assert_allclose(before - net.params, grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_same_result_different_seed_different(dtype):
    X, Y, layers, loss = make_problem("cce", dtype)
    cfg = {"loss": loss, "optimizer": "adam", "batch_size": 8, "seed": 4}
    runs = []
    for seed in (4, 4, 5):
        net = _core.Net(dtype, X.shape[1], layers)
        net.init(seed)
        cfg["seed"] = seed
        for epoch in range(2):
            net.train_epoch(cfg, X, Y, epoch=epoch)
        runs.append(net.params.copy())
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_results_do_not_depend_on_thread_count():
    X, Y, layers, loss = make_problem("cce", np.float32, n=600, n_in=300)
    layers[0]["units"] = 256
    cfg = {"loss": loss, "optimizer": "adam", "batch_size": 200, "seed": 1}
    before = _core.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            _core.set_num_threads(threads)
            net = _core.Net(np.float32, X.shape[1], layers)
            net.init(0)
            net.train_epoch(cfg, X, Y, epoch=0)
            results.append(net.params.copy())
    finally:
        _core.set_num_threads(before)
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("backend", [_core.Net, ref.Net], ids=["c", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, row", [(1, 0), (700, 0), (700, 699), (300, 150)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_rejects_nonfinite_inputs(backend, dtype, n, row, bad):
    # 700 rows: six chunks, on two threads three each; the C pass finds
    # the value in any of them
    X, _, layers, _ = make_problem("cce", dtype, n=n, n_in=300)
    layers[0]["units"] = 64
    net = backend(dtype, X.shape[1], layers)
    net.init(0)
    good = net.predict(X)
    kept = X[row, 299]
    X[row, 299] = bad
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.predict(X)
    X[row, 299] = kept
    assert np.array_equal(net.predict(X), good)


@pytest.mark.parametrize("backend", [_core.Net, ref.Net], ids=["c", "numpy"])
def test_nonfinite_loss_leaves_parameters_unchanged(backend):
    X, Y, layers, loss = make_problem("mse", np.float64)
    net = backend(np.float64, X.shape[1], layers)
    net.init(0)
    before = net.params.copy()
    Y[5, 0] = np.inf
    stats = net.train_epoch({"loss": loss, "batch_size": 200, "shuffle": False}, X, Y)
    assert stats.get("nonfinite")
    assert np.array_equal(net.params, before)


@pytest.mark.parametrize("backend", [_core.Net, ref.Net], ids=["c", "numpy"])
def test_should_stop_ends_epoch_after_that_batch(backend):
    X, Y, layers, loss = make_problem("cce", np.float32)
    net = backend(np.float32, X.shape[1], layers)
    net.init(0)
    stats = net.train_epoch({"loss": loss, "batch_size": 10}, X, Y,
                            should_stop=lambda batch: batch == 2)
    assert stats.get("interrupted") and stats["n_batches"] == 3 and net.t == 3


@pytest.mark.parametrize("backend", [_core.Net, ref.Net], ids=["c", "numpy"])
def test_flat_hidden_activation_is_refused_before_any_update(backend):
    X, Y, layers, loss = make_problem("cce", np.float64)
    layers[0]["activation"] = "step"
    net = backend(np.float64, X.shape[1], layers)
    net.init(0)
    before = net.params.copy()
    with pytest.raises(ValueError):
        net.train_epoch({"loss": loss, "batch_size": 10}, X, Y)
    assert np.array_equal(net.params, before)


def test_absurd_layer_size_fails_fast():
    with pytest.raises((MemoryError, ValueError)):
        _core.Net(np.float32, 10, [{"units": 10**12}, {"units": 10**12}])


def test_views_share_the_flat_buffer():
    net = _core.Net(np.float32, 3, [{"units": 4}, {"units": 2, "activation": "identity"}])
    net.init(0)
    net.weights(1)[...] = 7.0
    off = 3 * 4 + 4
    assert np.all(net.params[off:off + 8] == 7.0)
    assert net.params.base is not None or net.params.flags.owndata is False


def test_concurrent_predict_is_safe():
    X, Y, layers, loss = make_problem("cce", np.float32, n=500)
    net = _core.Net(np.float32, X.shape[1], layers)
    net.init(0)
    want = net.predict(X)
    errors = []

    def work():
        for _ in range(50):
            if not np.array_equal(net.predict(X), want):
                errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
