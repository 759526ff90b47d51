"""The MLP model API: training modes, history, callbacks, early stopping,
standardisation, backends, files, pickling and bad input."""

import pickle

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, Dense
from fastmlp.datasets import make_blobs, make_xor

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0], dtype=np.float32)


def blobs(n=300, seed=0):
    X, y = make_blobs(n_samples=n, centers=3, n_features=4, cluster_std=1.0, seed=seed)
    return X, y


def classifier(backend="c", **kw):
    return MLP([Dense(16, "relu"), Dense(3, "softmax")],
               optimizer={"kind": "adam", "lr": 0.01}, backend=backend, **kw)


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_two_layer_mlp_learns_xor(backend):
    m = MLP([Dense(8, "tanh"), Dense(1, "sigmoid")], optimizer={"kind": "adam", "lr": 0.05},
            backend=backend, seed=1)
    m.fit(XOR_X, XOR_Y, epochs=400, batch_size=4)
    assert ((m.predict(XOR_X)[:, 0] > 0.5) == XOR_Y.astype(bool)).all()


@pytest.mark.parametrize("batch_size", [1, 16, None], ids=["stochastic", "minibatch", "batch"])
def test_gradient_descent_modes_all_learn(batch_size):
    X, y = blobs()
    m = classifier().fit(X, y, epochs=30, batch_size=batch_size)
    assert m.evaluate(X, y)["accuracy"] > 0.9
    n_batches = {1: 300, 16: 19, None: 1}[batch_size]
    assert m.net_.t == 30 * n_batches


def test_both_backends_same_trajectory_through_the_model():
    X, y = blobs()
    models = [classifier(backend=b, dtype="float64").fit(X, y, epochs=5, batch_size=32)
              for b in ("c", "numpy")]
    np.testing.assert_allclose(models[0].history_["loss"], models[1].history_["loss"],
                               rtol=1e-9)
    for a, b in zip(models[0].coefs_, models[1].coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_history_records_losses_and_per_layer_gradients():
    X, y = blobs()
    m = MLP([Dense(8, "sigmoid"), Dense(8, "sigmoid"), Dense(3, "softmax")])
    m.fit(X, y, epochs=4, batch_size=50, validation_split=0.2)
    h = m.history_
    assert h["epoch"] == [0, 1, 2, 3]
    assert len(h["loss"]) == len(h["val_loss"]) == len(h["val_accuracy"]) == 4
    assert all(g.shape == (3,) and (g > 0).all() for g in h["grad_w"])
    assert all(t > 0 for t in h["time"])
    assert h["loss"][-1] < h["loss"][0]


def test_callback_can_stop_training():
    X, y = blobs()
    seen = []

    def stop_at_two(model, epoch, logs):
        seen.append((epoch, logs["loss"]))
        return epoch == 2

    m = classifier().fit(X, y, epochs=50, callbacks=[stop_at_two])
    assert [e for e, _ in seen] == [0, 1, 2] and m.epochs_ == 3


def test_tol_stops_when_loss_is_small():
    X, y = blobs()
    m = classifier().fit(X, y, epochs=500, tol=0.2)
    assert m.history_["loss"][-1] < 0.2 and m.epochs_ < 500


def test_early_stopping_restores_best_weights():
    X, y = blobs(n=200)
    Xv, yv = blobs(n=100, seed=9)
    yv = (yv + 1) % 3  # a validation set that gets worse as training fits X
    m = classifier().fit(X, y, epochs=100, validation_data=(Xv, yv), early_stopping=True,
                         patience=3)
    best = int(np.argmin(m.history_["val_loss"]))
    assert m.epochs_ == best + 4
    assert m.evaluate(Xv, yv)["loss"] == pytest.approx(m.history_["val_loss"][best], rel=1e-5)


def test_standardize_learns_training_statistics_and_reuses_them():
    X, y = blobs()
    X = X * 100 + 1000
    m = classifier(standardize=True).fit(X, y, epochs=20)
    np.testing.assert_allclose(m.mean_, X.mean(axis=0), rtol=1e-5)
    assert m.evaluate(X, y)["accuracy"] > 0.9
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m2.predict(X), m.predict(X))


def test_float64_model_keeps_float64():
    X, y = blobs()
    m = classifier(dtype="float64").fit(X, y, epochs=2)
    assert m.predict(X).dtype == np.float64 and m.coefs_[0].dtype == np.float64


def test_coefs_are_views_and_settable():
    X, y = blobs()
    m = classifier().fit(X, y, epochs=1)
    m.coefs_[0][...] = 0
    assert np.all(m.net_.weights(0) == 0)
    new = [np.ones_like(c) for c in m.coefs_]
    m.coefs_ = new
    assert all(np.all(c == 1) for c in m.coefs_)
    with pytest.raises(ValueError, match="shape"):
        m.coefs_ = [np.ones((2, 2))] * 2


def test_save_load_round_trip(tmp_path):
    X, y = blobs()
    m = classifier(standardize=True).fit(X, y, epochs=3)
    path = tmp_path / "model.fmlp"
    m.save(path)
    m2 = fastmlp.load(path)
    np.testing.assert_array_equal(m2.predict(X), m.predict(X))
    assert m2.get_config() == m.get_config()
    assert not list(tmp_path.glob("*.tmp*")), "atomic save left a temporary file"


def test_pickle_round_trip_uses_the_model_format():
    X, y = blobs()
    m = classifier().fit(X, y, epochs=2)
    blob = pickle.dumps(m)
    assert b"\x89FMP\r\n\x1a\n" in blob
    m2 = pickle.loads(blob)
    np.testing.assert_array_equal(m2.predict(X), m.predict(X))
    assert m2.history_["loss"] == m.history_["loss"]


def test_train_step_for_custom_loops():
    X, y = blobs()
    m = classifier()
    losses = [m.train_step(X[i:i + 30], y[i:i + 30])["loss"] for i in range(0, 300, 30)]
    assert m.net_.t == 10 and all(np.isfinite(losses))


def test_nan_loss_raises_naming_the_epoch_and_keeps_finite_weights():
    X, y = blobs()
    m = MLP([Dense(16, "relu"), Dense(1, "identity")],
            optimizer={"kind": "sgd", "lr": 1e6}, backend="c")
    with pytest.raises(FloatingPointError, match="epoch"):
        m.fit(X * 1e3, y.astype(np.float32) * 1e3, epochs=50, batch_size=300)
    assert all(np.isfinite(c).all() for c in m.coefs_)


def test_step_activation_cannot_be_trained_by_gradient():
    m = MLP([Dense(4, "step"), Dense(1, "sigmoid")])
    with pytest.raises(ValueError, match="zero everywhere|zero derivative|derivative is zero"):
        m.fit(XOR_X, XOR_Y, epochs=1)
    assert m.net_ is None


@pytest.mark.parametrize("bad,match", [
    (lambda X, y: (X[:, :, None], y), "2-D"),
    (lambda X, y: (X[:0], y[:0]), "empty"),
    (lambda X, y: (np.where(X > 1, np.nan, X), y), "NaN"),
    (lambda X, y: (np.where(X > 1, np.inf, X), y), "NaN or infinity"),
    (lambda X, y: (X, y[:-1]), "samples"),
    (lambda X, y: (X, y + 5), "labels"),
    (lambda X, y: (X.astype(str), y), "numeric"),
])
def test_bad_input_raises_and_leaves_fitted_model_unchanged(bad, match):
    X, y = blobs()
    m = classifier().fit(X, y, epochs=2)
    before = [c.copy() for c in m.coefs_]
    Xb, yb = bad(X, y)
    with pytest.raises((ValueError, TypeError), match=match):
        m.fit(Xb, yb, epochs=1)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.coefs_))
    assert m.epochs_ == 2


@pytest.mark.parametrize("backend", ["c", "numpy"])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_names_nonfinite_inputs(backend, standardize, bad):
    # the C backend's predict finds the value in its own pass over X
    X, y = blobs()
    m = MLP([Dense(8, "relu"), Dense(3, "softmax")], loss="categorical_crossentropy",
            backend=backend, standardize=standardize, seed=0).fit(X, np.eye(3)[y], epochs=1)
    Xb = X.copy()
    Xb[-1, 1] = bad
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        m.predict(Xb)
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        m.predict(Xb[-1])


def test_wrong_feature_count_at_predict():
    X, y = blobs()
    m = classifier().fit(X, y, epochs=1)
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :3])


@pytest.mark.parametrize("kwargs,match", [
    ({"optimizer": "adamm"}, "unknown optimizer"),
    ({"optimizer": {"kind": "adam", "lrr": 1}}, "unknown optimizer option"),
    ({"loss": "hinge"}, "unknown loss"),
    ({"loss": "binary_crossentropy"}, "sigmoid"),
    ({"dtype": "int32"}, "dtype"),
    ({"backend": "gpu"}, "backend"),
])
def test_unknown_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP([Dense(4), Dense(3, "softmax")], **kwargs)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        MLP([Dense(4, "swishy"), Dense(1)])


def test_demo_data_xor_generator():
    X, y = make_xor()
    assert X.shape[1] == 2 and set(np.unique(y)) <= {0, 1}
