"""The scikit-learn estimators (fastmlp/estimators.py, fastmlp/_lbfgs.py),
organised by what they prove:

- compliance: scikit-learn's own estimator checks, and the meta-estimators
  and tools (clone, Pipeline, GridSearchCV, cross_val_score, pickling);
- equivalence: started from the same weights, fastmlp follows
  scikit-learn's trajectory (loss curve, weights, counters, learning rate)
  for every stochastic solver setting, reaches scikit-learn's scores on
  real data, and its L-BFGS reaches scikit-learn's loss;
- semantics: target types, sample and class weights, dtypes, warm start,
  partial_fit, early stopping and the extensions (validation_data, dropout,
  activation lists, rmsprop/adamw);
- errors: invalid parameters and data raise ValueError naming the problem
  and leave a fitted estimator unchanged; the module imports without
  scikit-learn.

scikit-learn is a test dependency (the ``test`` extra installs it); without
it the whole module is skipped.
"""

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip(
    "sklearn", reason="scikit-learn is needed to compare with it (pip install fastmlp[test])")

from sklearn import neural_network as sknn
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import _lbfgs
from fastmlp.estimators import MLPClassifier, MLPRegressor

BACKENDS = ["c", "numpy"]

# Trajectory tolerance.  Both sides run the same float64 formulas in the
# same order except inside the matrix products (BLAS vs fastmlp's kernels
# sum in different orders): each product differs by ~K·eps relative (K <= 7
# here), and a few dozen steps of a contracting optimisation carry that to
# ~1e-14.  1e-10 leaves four orders of margin and still catches any
# formula difference (a wrong bias correction or penalty scale shows at
# 1e-3 or more).
TRAJ = {"rtol": 1e-10, "atol": 1e-12}


def _data(n=90, p=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p))
    y_multi = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)
    y_reg = np.column_stack([X[:, 0] - X[:, 1], np.sin(X[:, 2])])
    return X, y_multi, y_reg


X, Y_MULTI, Y_REG = _data()
Y_BIN = np.where(Y_MULTI > 0, "yes", "no")
Y_LABELS = np.column_stack([Y_MULTI == 0, X[:, 3] > 0, X[:, 4] > 0.5]).astype(int)


def quiet(fn, *args, **kwargs):
    """Call fn with ConvergenceWarning silenced (short fits on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------
# Compliance: scikit-learn's estimator checks
# ---------------------------------------------------------------------------

# max_iter=100 is what scikit-learn's own test suite uses for its MLPs; the
# instances cover the stochastic solvers and L-BFGS.  No check needs to be
# marked as an expected failure: the only candidate,
# check_sample_weight_equivalence_on_dense_data, passes for the stochastic
# solvers because its 15 samples fit in one batch (then weighting and
# repeating rows give the same gradient), and for L-BFGS as the objective is
# the same function.
@parametrize_with_checks([
    MLPClassifier(max_iter=100, random_state=0),
    MLPClassifier(solver="lbfgs", max_iter=100, random_state=0),
    MLPRegressor(solver="sgd", max_iter=100, random_state=0),
    MLPRegressor(solver="lbfgs", max_iter=100, random_state=0),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_real_sklearn_estimators():
    from sklearn.base import is_classifier, is_regressor

    assert is_classifier(MLPClassifier()) and is_regressor(MLPRegressor())
    assert issubclass(ConvergenceWarning, Warning)
    from fastmlp import estimators

    assert estimators.ConvergenceWarning is ConvergenceWarning
    # same constructor parameters and defaults as scikit-learn's
    for ours, theirs in ((MLPClassifier, sknn.MLPClassifier), (MLPRegressor, sknn.MLPRegressor)):
        sk_params = theirs().get_params()
        our_params = ours().get_params()
        assert {k: our_params[k] for k in sk_params} == sk_params
        assert set(our_params) - set(sk_params) <= {"class_weight", "dropout", "dtype",
                                                    "backend"}


def test_pipeline_grid_search_cross_val_clone():
    Xd, yd = load_digits(n_class=3, return_X_y=True)
    Xd, yd = Xd[:240], yd[:240]
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,),
                                                         max_iter=60, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=2)
    quiet(grid.fit, Xd, yd)
    assert grid.best_score_ > 0.85
    scores = quiet(cross_val_score, MLPRegressor(solver="lbfgs", hidden_layer_sizes=(8,),
                                                 max_iter=100, random_state=0),
                   X, Y_REG[:, 0], cv=3)
    assert scores.mean() > 0.8
    est = MLPClassifier(hidden_layer_sizes=(3, 2), class_weight={0: 2.0}, dropout=[0.1, 0.0],
                        activation=["tanh", "gelu"])
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_pickle_round_trip(backend, solver):
    est = quiet(MLPClassifier(hidden_layer_sizes=(6,), solver=solver, max_iter=5,
                              random_state=0, backend=backend).fit, X, Y_MULTI)
    twin = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(twin.predict_proba(X), est.predict_proba(X))
    assert twin.loss_ == est.loss_ and twin.get_params() == est.get_params()
    for a, b in zip(twin.coefs_ + twin.intercepts_, est.coefs_ + est.intercepts_):
        np.testing.assert_array_equal(a, b)
    if solver != "lbfgs":
        # the optimiser state travels too: continuing gives identical weights
        quiet(est.partial_fit, X, Y_MULTI)
        quiet(twin.partial_fit, X, Y_MULTI)
        np.testing.assert_array_equal(twin.predict_proba(X), est.predict_proba(X))
    unfitted = pickle.loads(pickle.dumps(MLPRegressor(alpha=0.5)))
    assert unfitted.alpha == 0.5 and not hasattr(unfitted, "coefs_")


# ---------------------------------------------------------------------------
# Equivalence with scikit-learn
# ---------------------------------------------------------------------------

SOLVER_SETTINGS = [
    {"solver": "adam"},
    {"solver": "adam", "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6,
     "learning_rate_init": 0.01},
    {"solver": "sgd", "learning_rate_init": 0.05},
    {"solver": "sgd", "learning_rate_init": 0.05, "nesterovs_momentum": False, "momentum": 0.5},
    {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.05, "power_t": 0.3},
    {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.05,
     "nesterovs_momentum": False},
    # tol so large that nothing counts as progress: the rate is divided by
    # 5 every other epoch
    {"solver": "sgd", "learning_rate": "adaptive", "learning_rate_init": 0.05, "tol": 0.5,
     "n_iter_no_change": 1},
    # the stopping rule: stops after n_iter_no_change + 1 epochs
    {"solver": "sgd", "learning_rate_init": 0.05, "tol": 0.5, "n_iter_no_change": 2},
    {"solver": "adam", "tol": 0.5, "n_iter_no_change": 3},
]
# target kind: (our class, scikit-learn's, y, extra parameters)
TARGETS = {"multiclass": (MLPClassifier, sknn.MLPClassifier, Y_MULTI, {}),
           "binary": (MLPClassifier, sknn.MLPClassifier, Y_BIN, {}),
           "multilabel": (MLPClassifier, sknn.MLPClassifier, Y_LABELS, {}),
           "regression": (MLPRegressor, sknn.MLPRegressor, Y_REG, {}),
           "poisson": (MLPRegressor, sknn.MLPRegressor, np.exp(Y_REG / 2),
                       {"loss": "poisson"})}


def _same_start(target, n_epochs, backend="c", **params):
    """Fit both for one epoch, put fastmlp's weights into scikit-learn's
    estimator, then fit both again (warm start: fresh optimiser state,
    counters kept) for n_epochs epochs from those identical weights."""
    ours_cls, sk_cls, y, extra = TARGETS[target]
    if target == "regression" and params.get("solver") == "lbfgs":
        y = y[:, 0]     # one output: scikit-learn's lbfgs objective is then ours
    common = {"hidden_layer_sizes": (7, 4), "alpha": 0.01, "shuffle": False,
              "batch_size": 16, "random_state": 0, "max_iter": 1, "warm_start": True}
    common.update(extra, **params)
    sk = quiet(sk_cls(**common).fit, X, y)
    ours = quiet(ours_cls(backend=backend, **common).fit, X, y)
    sk.coefs_ = [w.copy() for w in ours.coefs_]
    sk.intercepts_ = [b.copy() for b in ours.intercepts_]
    sk.set_params(max_iter=n_epochs)
    ours.set_params(max_iter=n_epochs)
    quiet(sk.fit, X, y)
    quiet(ours.fit, X, y)
    return ours, sk, y


def _assert_same_state(ours, sk):
    assert ours.n_iter_ == sk.n_iter_ and ours.t_ == sk.t_
    # the first entry comes from the two estimators' own initial weights
    np.testing.assert_allclose(ours.loss_curve_[1:], sk.loss_curve_[1:], **TRAJ)
    np.testing.assert_allclose(ours.loss_, sk.loss_, **TRAJ)
    np.testing.assert_allclose(ours.best_loss_, sk.best_loss_, **TRAJ)
    for a, b in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(a, b, **TRAJ)
    assert ours.out_activation_ == sk.out_activation_
    assert ours.n_layers_ == sk.n_layers_ and ours.n_outputs_ == sk.n_outputs_


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("settings", SOLVER_SETTINGS, ids=lambda s: "-".join(
    f"{k}={v}" for k, v in s.items()))
@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_trajectory_matches_sklearn(backend, settings, target):
    ours, sk, _ = _same_start(target, 12, backend=backend, **settings)
    _assert_same_state(ours, sk)
    if settings["solver"] == "sgd":
        # the learning rate reached by the schedule, not just the weights
        np.testing.assert_allclose(ours._lr, sk._optimizer.learning_rate, rtol=1e-15)
        if settings.get("learning_rate") == "adaptive":
            assert sk._optimizer.learning_rate < settings["learning_rate_init"] / 5


@pytest.mark.parametrize("target", ["binary", "multilabel", "poisson"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_trajectory_matches_sklearn_other_targets(target, solver):
    ours, sk, _ = _same_start(target, 8, solver=solver, learning_rate_init=0.02)
    _assert_same_state(ours, sk)
    np.testing.assert_array_equal(ours.classes_ if target != "poisson" else 0,
                                  sk.classes_ if target != "poisson" else 0)
    if target == "poisson":
        np.testing.assert_allclose(ours.predict(X), sk.predict(X), **TRAJ)
    else:
        np.testing.assert_array_equal(ours.predict(X), sk.predict(X))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_trajectory_matches_sklearn(solver):
    """partial_fit keeps the optimiser state (Adam's t and moments, the
    velocities, the rate) between calls exactly as scikit-learn does."""
    ours, sk, _ = _same_start("multiclass", 1, solver=solver, learning_rate="invscaling",
                              learning_rate_init=0.05)
    for _ in range(5):
        quiet(sk.partial_fit, X, Y_MULTI)
        quiet(ours.partial_fit, X, Y_MULTI)
    _assert_same_state(ours, sk)
    assert ours.n_iter_ == 1


def test_sgd_one_epoch_from_sklearn_weights():
    """Copy a fitted scikit-learn model's weights into ours (the direct way
    round), then one more epoch each (warm start)."""
    sk = quiet(sknn.MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", max_iter=1,
                                 shuffle=False, random_state=1, warm_start=True,
                                 alpha=0.1).fit, X, Y_REG)
    ours = quiet(MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", max_iter=1, shuffle=False,
                              random_state=1, warm_start=True, alpha=0.1).fit, X, Y_REG)
    ours.coefs_, ours.intercepts_ = sk.coefs_, sk.intercepts_
    ours.t_ = sk.t_
    quiet(sk.fit, X, Y_REG)
    quiet(ours.fit, X, Y_REG)
    np.testing.assert_allclose(ours.loss_, sk.loss_, **TRAJ)
    np.testing.assert_allclose(ours.predict(X), sk.predict(X), **TRAJ)


def test_initialisation_law():
    """U(±√(f/(fan_in+fan_out))) on weights and biases, f = 2 for logistic
    networks, 6 otherwise, with the hidden activation's factor on every
    layer (also without hidden layers)."""
    for act, f, hidden in (("relu", 6, (40, 30)), ("logistic", 2, (40, 30)),
                           ("relu", 6, ()), ("logistic", 2, ())):
        est = quiet(MLPClassifier(hidden_layer_sizes=hidden, activation=act, max_iter=1,
                                  learning_rate_init=1e-12, random_state=3).fit,
                    np.random.rand(50, 30), np.arange(50) % 2)
        for W, b in zip(est.coefs_, est.intercepts_):
            bound = np.sqrt(f / sum(W.shape))
            for arr in (W.ravel(), b):
                assert np.abs(arr).max() <= bound * (1 + 1e-6)
            assert np.abs(W).max() > 0.8 * bound
            assert abs(W.mean()) < 0.2 * bound


def test_random_state_reproducible_and_distinct():
    fit = lambda rs: quiet(MLPClassifier(hidden_layer_sizes=(5,), max_iter=3,
                                         random_state=rs).fit, X, Y_MULTI).coefs_[0]
    np.testing.assert_array_equal(fit(7), fit(7))
    assert not np.array_equal(fit(7), fit(8))
    rs = np.random.RandomState(0)
    assert not np.array_equal(fit(rs), fit(rs))      # a RandomState is consumed


def test_scores_close_to_sklearn_on_real_data():
    Xd, yd = load_digits(return_X_y=True)
    Xd = Xd / 16.0
    Xa, Xb, ya, yb = train_test_split(Xd, yd, test_size=0.3, random_state=0)
    params = {"hidden_layer_sizes": (32,), "max_iter": 60, "random_state": 0}
    ours = quiet(MLPClassifier(**params).fit, Xa, ya).score(Xb, yb)
    theirs = quiet(sknn.MLPClassifier(**params).fit, Xa, ya).score(Xb, yb)
    # different random initial weights (see the module docstring): close,
    # not equal
    assert ours > 0.9 and abs(ours - theirs) < 0.03

    Xr, yr = load_diabetes(return_X_y=True)
    yr = (yr - yr.mean()) / yr.std()
    Xa, Xb, ya, yb = train_test_split(Xr, yr, test_size=0.3, random_state=0)
    params = {"hidden_layer_sizes": (16,), "solver": "lbfgs", "alpha": 1.0, "max_iter": 200,
              "random_state": 0}
    ours = quiet(MLPRegressor(**params).fit, Xa, ya).score(Xb, yb)
    theirs = quiet(sknn.MLPRegressor(**params).fit, Xa, ya).score(Xb, yb)
    assert ours > 0.35 and abs(ours - theirs) < 0.08


@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_lbfgs_reaches_sklearn_loss(target):
    """From the same starting weights, our L-BFGS ends within a small factor
    of scipy's L-BFGS-B as scikit-learn runs it (single output: the same
    objective)."""
    ours, sk, _ = _same_start(target, 300, solver="lbfgs", alpha=1e-3,
                              hidden_layer_sizes=(10,), tol=1e-6)
    assert ours.loss_ <= 1.25 * sk.loss_ + 1e-4
    assert 1 <= ours.n_iter_ <= 300


def test_lbfgs_loss_in_sklearn_units():
    est = quiet(MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", alpha=0.3, max_iter=20,
                             random_state=0).fit, X, Y_REG)
    pred = est.predict(X)
    penalty = 0.3 * sum((W ** 2).sum() for W in est.coefs_) / (2 * len(X))
    expected = 0.5 * ((pred - Y_REG) ** 2).mean() + penalty
    np.testing.assert_allclose(est.loss_, expected, rtol=1e-12)
    assert not hasattr(est, "loss_curve_") and est.t_ == 0


def test_lbfgs_function():
    rng = np.random.RandomState(0)
    A = rng.normal(size=(20, 20))
    H = A @ A.T + np.eye(20)
    b = rng.normal(size=20)
    res = _lbfgs.minimize(lambda x: (0.5 * x @ H @ x - b @ x, H @ x - b), np.zeros(20),
                          gtol=1e-7, ftol=0)
    assert res.success and res.message.startswith("CONVERGENCE: NORM")
    np.testing.assert_allclose(res.x, np.linalg.solve(H, b), rtol=0, atol=1e-6)
    # limits are reported like scipy's (status 1)
    res = _lbfgs.minimize(lambda x: (0.5 * x @ H @ x - b @ x, H @ x - b), np.zeros(20),
                          maxiter=2)
    assert res.status == 1 and res.nit == 2
    # non-finite values beyond x = 1 count as "too far" for the line search
    res = _lbfgs.minimize(lambda x: (np.inf, x) if x[0] > 1 else ((x[0] - 0.9) ** 2,
                                                                   2 * (x - 0.9)),
                          np.array([-3.0]), gtol=1e-10)
    assert res.success and abs(res.x[0] - 0.9) < 1e-8


# ---------------------------------------------------------------------------
# Semantics
# ---------------------------------------------------------------------------


def test_target_types_match_sklearn_output_format():
    for name in ("multiclass", "binary", "multilabel", "regression"):
        ours_cls, sk_cls, y, _ = TARGETS[name]
        ours = quiet(ours_cls(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit, X, y)
        sk = quiet(sk_cls(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit, X, y)
        for method in ("predict", "predict_proba", "predict_log_proba"):
            if hasattr(sk, method):
                a, b = getattr(ours, method)(X), getattr(sk, method)(X)
                assert a.shape == b.shape and a.dtype.kind == b.dtype.kind, (name, method)
        if ours_cls is MLPClassifier:
            np.testing.assert_array_equal(ours.classes_, sk.classes_)
            proba = ours.predict_proba(X)
            if name != "multilabel":
                np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
                np.testing.assert_array_equal(ours.predict(X),
                                              ours.classes_[proba.argmax(axis=1)])
            np.testing.assert_allclose(ours.predict_log_proba(X), np.log(proba))
        assert ours.n_outputs_ == sk.n_outputs_ and ours.out_activation_ == sk.out_activation_


def test_integer_sample_weights_equal_repeated_rows():
    rng = np.random.RandomState(1)
    sw = rng.randint(0, 4, size=len(X))
    Xr, yr = np.repeat(X, sw, axis=0), np.repeat(Y_MULTI, sw)
    assert len(Xr) <= 200      # batch_size='auto' is then one batch on both sides
    full_batch_sgd = {"solver": "sgd", "learning_rate_init": 0.1, "max_iter": 20}
    for params in ({"solver": "lbfgs", "max_iter": 50}, full_batch_sgd):
        est = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, shuffle=False, **params)
        weighted = quiet(clone(est).fit, X, Y_MULTI, sample_weight=sw)
        repeated = quiet(clone(est).fit, Xr, yr)
        np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                                   rtol=1e-7, atol=1e-9)
    # with minibatches, zero weights are exactly the same as removed rows
    keep = sw > 0
    est = MLPRegressor(hidden_layer_sizes=(5,), random_state=0, shuffle=False, batch_size=8,
                       max_iter=5)
    weighted = quiet(clone(est).fit, X, Y_REG, sample_weight=keep.astype(float))
    removed = quiet(clone(est).fit, X[keep], Y_REG[keep])
    np.testing.assert_array_equal(weighted.predict(X), removed.predict(X))


def test_class_weight():
    est = MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30, random_state=0)
    by_dict = quiet(clone(est).set_params(class_weight={0: 3.0, 2: 0.5}).fit, X, Y_MULTI)
    sw = np.choose(Y_MULTI, [3.0, 1.0, 0.5])
    by_sw = quiet(clone(est).fit, X, Y_MULTI, sample_weight=sw)
    np.testing.assert_array_equal(by_dict.predict_proba(X), by_sw.predict_proba(X))
    balanced = quiet(clone(est).set_params(class_weight="balanced").fit, X, Y_BIN)
    cw = compute_class_weight("balanced", classes=np.unique(Y_BIN), y=Y_BIN)
    by_sw = quiet(clone(est).fit, X, Y_BIN, sample_weight=np.where(Y_BIN == "no", cw[0], cw[1]))
    np.testing.assert_allclose(balanced.predict_proba(X), by_sw.predict_proba(X), rtol=1e-12)
    with pytest.raises(ValueError, match="not in class_weight"):
        clone(est).set_params(class_weight={7: 1.0}).fit(X, Y_MULTI)
    with pytest.raises(ValueError, match="multi-label"):
        clone(est).set_params(class_weight={0: 1.0}).fit(X, Y_LABELS)
    with pytest.raises(ValueError, match="partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, Y_MULTI, classes=[0, 1, 2])


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_dtypes(solver):
    est = MLPRegressor(hidden_layer_sizes=(4,), solver=solver, max_iter=3, random_state=0)
    f32 = quiet(clone(est).fit, X.astype(np.float32), Y_REG)
    # float32 stays float32 for the stochastic solvers; scikit-learn's lbfgs
    # computes in float64 (scipy's x), and so does ours
    want = np.float64 if solver == "lbfgs" else np.float32
    assert f32.coefs_[0].dtype == want and f32.predict(X).dtype == want
    f64 = quiet(clone(est).fit, X.astype(np.int64), Y_REG)
    assert f64.coefs_[0].dtype == np.float64 and f64.predict(X).dtype == np.float64
    forced = quiet(clone(est).set_params(dtype="float32").fit, X, Y_REG)
    assert forced.coefs_[0].dtype == np.float32
    sk = quiet(sknn.MLPRegressor(hidden_layer_sizes=(4,), solver=solver, max_iter=3).fit,
               X.astype(np.float32), Y_REG)
    assert sk.coefs_[0].dtype == f32.coefs_[0].dtype


def test_warm_start_and_partial_fit_continue():
    est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=4, shuffle=False, random_state=0,
                        tol=0.0, n_iter_no_change=1000)
    once = quiet(clone(est).set_params(max_iter=6).fit, X, Y_MULTI)
    # fit(max_iter=1) then 5 partial_fit epochs == fit(max_iter=6): the
    # optimiser state carries over between partial_fit calls
    step = quiet(clone(est).set_params(max_iter=1).fit, X, Y_MULTI)
    for _ in range(5):
        step.partial_fit(X, Y_MULTI)
    np.testing.assert_allclose(step.predict_proba(X), once.predict_proba(X), rtol=1e-12)
    assert step.t_ == once.t_ == 6 * len(X) and len(step.loss_curve_) == 6
    warm = quiet(clone(est).set_params(warm_start=True).fit, X, Y_MULTI)
    before = warm.coefs_[0].copy()
    quiet(warm.fit, X, Y_MULTI)
    assert len(warm.loss_curve_) == 8 and warm.n_iter_ == 4
    assert not np.array_equal(before, warm.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        warm.fit(X, np.where(Y_MULTI == 2, 1, Y_MULTI))
    with pytest.raises(ValueError, match="same architecture"):
        warm.set_params(hidden_layer_sizes=(6,)).fit(X, Y_MULTI)


def test_partial_fit_classes():
    est = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X, Y_MULTI)
    est.partial_fit(X[Y_MULTI < 2], Y_MULTI[Y_MULTI < 2], classes=[0, 1, 2])
    assert est.classes_.tolist() == [0, 1, 2] and est.predict_proba(X).shape == (len(X), 3)
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        est.partial_fit(X, Y_MULTI + 1)
    with pytest.raises(ValueError, match="not the same as on last call"):
        est.partial_fit(X, Y_MULTI, classes=[0, 1])
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, Y_MULTI, classes=[0, 1, 2])
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPRegressor(solver="sgd"), "partial_fit")


def test_early_stopping_restores_best_weights():
    Xd, yd = load_digits(n_class=4, return_X_y=True)
    est = quiet(MLPClassifier(hidden_layer_sizes=(10,), early_stopping=True,
                              n_iter_no_change=3, learning_rate_init=0.05, max_iter=60,
                              random_state=0).fit, Xd[:300] / 16, yd[:300])
    scores = est.validation_scores_
    assert est.best_loss_ is None and est.best_validation_score_ == max(scores)
    assert len(scores) == len(est.loss_curve_) == len(est.validation_loss_curve_) == est.n_iter_
    assert est.n_iter_ < 60
    # the held-out 10% (30 samples, stratified only for binary targets as
    # in scikit-learn) score with the restored weights equals the best one
    regressor = quiet(MLPRegressor(hidden_layer_sizes=(8,), early_stopping=True,
                                   validation_fraction=0.2, max_iter=30,
                                   random_state=0).fit, X, Y_REG)
    assert regressor.best_validation_score_ == max(regressor.validation_scores_)


def test_early_stopping_split_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.model_selection", None)
    est = quiet(MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, max_iter=5,
                              validation_fraction=0.2, random_state=0).fit, X, Y_BIN)
    assert len(est.validation_scores_) == est.n_iter_


def test_validation_data_extension():
    Xa, Xb = X[:60], X[60:]
    est = quiet(MLPRegressor(hidden_layer_sizes=(6,), max_iter=7, random_state=0).fit,
                Xa, Y_REG[:60], validation_data=(Xb, Y_REG[60:]))
    assert len(est.validation_scores_) == len(est.validation_loss_curve_) == 7
    assert est.best_validation_score_ is None         # only tracked with early stopping
    pred = est.predict(Xb)
    np.testing.assert_allclose(est.validation_loss_curve_[-1],
                               0.5 * ((pred - Y_REG[60:]) ** 2).mean(), rtol=1e-10)
    np.testing.assert_allclose(est.validation_scores_[-1], est.score(Xb, Y_REG[60:]),
                               rtol=1e-10)
    clf = quiet(MLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=7,
                              random_state=0).fit, Xa, Y_MULTI[:60],
                validation_data=(Xb, Y_MULTI[60:]))
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.validation_scores_[-1] == clf.score(Xb, Y_MULTI[60:])
    with pytest.raises(ValueError, match="validation_data"):
        MLPRegressor().fit(Xa, Y_REG[:60], validation_data=Xb)
    with pytest.raises(ValueError, match="not in"):
        MLPClassifier().fit(Xa, Y_MULTI[:60] % 2, validation_data=(Xb, Y_MULTI[60:]))


def test_extensions_dropout_activations_solvers():
    base = {"hidden_layer_sizes": (12, 6), "max_iter": 30, "random_state": 0,
            "learning_rate_init": 0.01}
    for extra in ({"dropout": 0.2}, {"dropout": [0.3, 0.0]},
                  {"activation": ["tanh", "elu"]}, {"activation": "gelu"},
                  {"solver": "rmsprop"}, {"solver": "adamw", "alpha": 0.01}):
        est = quiet(MLPClassifier(**base, **extra).fit, X, Y_MULTI)
        assert est.loss_curve_[-1] < est.loss_curve_[0], extra
    plain = quiet(MLPClassifier(**base).fit, X, Y_MULTI)
    dropped = quiet(MLPClassifier(**base, dropout=0.2).fit, X, Y_MULTI)
    assert not np.array_equal(plain.coefs_[0], dropped.coefs_[0])
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(hidden_layer_sizes=(3, 3), dropout=[0.1]).fit(X, Y_MULTI)
    with pytest.raises(ValueError, match="stochastic"):
        MLPClassifier(dropout=0.1, solver="lbfgs").fit(X, Y_MULTI)
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(hidden_layer_sizes=(3, 3), activation=["relu"]).fit(X, Y_MULTI)


def test_warnings_and_verbose(capsys):
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, Y_MULTI)
    with pytest.warns(ConvergenceWarning, match="lbfgs"):
        MLPClassifier(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=2).fit(X, Y_MULTI)
    with pytest.warns(UserWarning, match="clipped"):
        quiet(MLPRegressor(batch_size=1000, max_iter=2).fit, X, Y_REG)
    quiet(MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, verbose=True).fit, X, Y_REG)
    assert "Iteration 2, loss = " in capsys.readouterr().out


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("param, value", [
    ("solver", "newton"), ("activation", "sigmoidal"), ("activation", "step"),
    ("learning_rate", "cyclic"), ("batch_size", 0), ("batch_size", "big"), ("alpha", -1.0),
    ("max_iter", 0), ("momentum", 1.5), ("beta_1", 1.0), ("epsilon", 0.0),
    ("n_iter_no_change", 0), ("hidden_layer_sizes", (3, 0)), ("validation_fraction", 1.0),
    ("shuffle", "yes"), ("random_state", "seed"), ("dtype", "int32"), ("backend", "gpu"),
    ("class_weight", "even"), ("dropout", 1.0),
])
def test_invalid_parameters_raise_at_fit(param, value):
    est = MLPClassifier(**{param: value})       # constructors only store
    assert est.get_params()[param] is value
    with pytest.raises(ValueError, match=param if param != "activation" else "activation"):
        est.fit(X, Y_MULTI)
    with pytest.raises(ValueError, match="'loss'"):
        MLPRegressor(loss="huber").fit(X, Y_REG)


@pytest.mark.parametrize("make_bad, match", [
    (lambda: (np.where(X > 2, np.nan, X), Y_MULTI, None), "NaN"),
    (lambda: (np.where(X > 2, np.inf, X), Y_MULTI, None), "infinity"),
    (lambda: (X[:0], Y_MULTI[:0], None), "0 sample"),
    (lambda: (X, Y_MULTI[:-1], None), "inconsistent numbers of samples"),
    (lambda: (X, np.zeros(len(X)), None), "one class"),
    (lambda: (X, X[:, 0], None), "Unknown label type"),
    (lambda: (X, Y_MULTI, -np.ones(len(X))), "Negative"),
    (lambda: (X, Y_MULTI, np.zeros(len(X))), "non-zero"),
    (lambda: (X, Y_MULTI, np.ones(3)), "sample_weight"),
    (lambda: (X[:, 0], Y_MULTI, None), "Reshape your data"),
])
def test_invalid_data_raise(make_bad, match):
    Xb, yb, sw = make_bad()
    with pytest.raises(ValueError, match=match):
        MLPClassifier(max_iter=2).fit(Xb, yb, sample_weight=sw)


def test_regression_target_errors():
    with pytest.raises(ValueError, match="NaN"):
        MLPRegressor().fit(X, np.where(Y_REG > 1, np.nan, Y_REG))
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, Y_REG)
    est = quiet(MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit, X, Y_REG)
    with pytest.raises(ValueError, match="outputs"):
        est.partial_fit(X, Y_REG[:, 0])
    with pytest.raises(ValueError, match="expecting 5 features"):
        est.predict(X[:, :4])


def _fitted_state(est):
    return (pickle.dumps(est.coefs_), pickle.dumps(est.intercepts_),
            {k: v for k, v in vars(est).items() if k.endswith("_") and k != "_net"})


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_failed_fit_leaves_fitted_estimator_unchanged(solver):
    est = quiet(MLPClassifier(hidden_layer_sizes=(4,), solver=solver, max_iter=5,
                              random_state=0).fit, X, Y_MULTI)
    before, proba = _fitted_state(est), est.predict_proba(X)
    failures = [
        lambda: est.fit(np.where(X > 2, np.nan, X), Y_MULTI),
        lambda: est.fit(X[:, :3], Y_MULTI[:-1]),
        lambda: est.set_params(warm_start=True).fit(X[:, :4], Y_MULTI),
        lambda: est.set_params(warm_start=True).fit(X, Y_MULTI % 2),
        lambda: est.set_params(warm_start=False, learning_rate="x").fit(X, Y_MULTI),
    ]
    if solver == "adam":
        failures.append(lambda: est.partial_fit(X, Y_MULTI + 5))
        # divergence: NaN arises inside training, after state was touched
        failures.append(lambda: est.set_params(warm_start=True, learning_rate="constant",
                                               learning_rate_init=1e300).fit(X * 1e300,
                                                                             Y_MULTI))
    for fail in failures:
        with pytest.raises(ValueError), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fail()
        est.set_params(warm_start=False, learning_rate="constant", learning_rate_init=0.001)
        after = _fitted_state(est)
        assert after[:2] == before[:2]
        assert after[2].keys() == before[2].keys()
        np.testing.assert_array_equal(est.predict_proba(X), proba)


def test_unfitted_errors():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    assert not hasattr(MLPRegressor(), "coefs_")


def test_imports_without_sklearn(tmp_path):
    """fastmlp.estimators needs NumPy only: with scikit-learn hidden, the
    stand-in base classes give get_params/set_params/score and fit works."""
    code = (
        "import sys\n"
        "for m in list(sys.modules):\n"
        "    assert not m.startswith('sklearn')\n"
        "sys.modules['sklearn'] = None\n"
        "import numpy as np, pickle, warnings\n"
        "from fastmlp import MLPClassifier, MLPRegressor\n"
        "from fastmlp.estimators import ConvergenceWarning\n"
        "warnings.simplefilter('ignore', ConvergenceWarning)\n"
        "X = np.random.RandomState(0).normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "c = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, early_stopping=True,\n"
        "                  random_state=0).set_params(alpha=0.01)\n"
        "assert c.get_params()['alpha'] == 0.01 and 'alpha=0.01' in repr(c)\n"
        "c.fit(X, y); assert 0 <= c.score(X, y) <= 1\n"
        "r = MLPRegressor(solver='lbfgs', max_iter=20).fit(X, X[:, 0])\n"
        "assert r.score(X, X[:, 0]) > 0.5\n"
        "assert pickle.loads(pickle.dumps(r)).predict(X).shape == (60,)\n"
        "assert 'sklearn' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]\n"
    )
    # the child finds fastmlp where this process found it, and runs from an
    # empty folder so that a source checkout cannot shadow an installed copy
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, check=False)
    assert out.returncode == 0, out.stderr
