"""Tests of fastmlp.perceptron, grouped by what they prove.

- ThresholdUnit: AND and OR as threshold choices, absolute inhibition, and
  that no threshold or inhibitory choice realises XOR (exhaustive).
- Perceptron: learns AND and OR with step and sign outputs, several outputs
  at once, never converges on XOR; Rosenblatt's update checked by hand;
  determinism; errors, and that a failed fit changes nothing.
(The MLP that learns XOR is tested with the model.)
"""

import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


from fastmlp import perceptron
from fastmlp.exceptions import ConvergenceWarning, NotFittedError
Perceptron = perceptron.Perceptron
ThresholdUnit = perceptron.ThresholdUnit

X2 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
AND = np.array([0, 0, 0, 1])
OR = np.array([0, 1, 1, 1])
XOR = np.array([0, 1, 1, 0])


def all_inputs(n):
    return np.array(list(itertools.product([0, 1], repeat=n)))


# ---------------------------------------------------------------------------
# McCulloch–Pitts threshold unit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_threshold_unit_and_or(n):
    X = all_inputs(n)
    np.testing.assert_array_equal(ThresholdUnit(threshold=n).predict(X), X.all(axis=1))
    np.testing.assert_array_equal(ThresholdUnit(threshold=1).predict(X), X.any(axis=1))


def test_threshold_unit_inhibition_is_absolute():
    X = all_inputs(3)
    unit = ThresholdUnit(threshold=1, inhibitory=[2])
    expected = (X[:, 0] | X[:, 1]) & (X[:, 2] == 0)
    np.testing.assert_array_equal(unit.predict(X), expected)
    np.testing.assert_array_equal(unit.net_input(X), X[:, 0] + X[:, 1])
    # the same unit with a boolean mask, and NOT x as threshold 0 + inhibition
    mask = ThresholdUnit(threshold=1, inhibitory=[False, False, True])
    np.testing.assert_array_equal(mask.predict(X), expected)
    not_x = ThresholdUnit(threshold=0, inhibitory=[0])
    np.testing.assert_array_equal(not_x.predict([[0], [1]]), [1, 0])


def test_threshold_unit_accepts_bools_and_returns_int64():
    out = ThresholdUnit(threshold=2).predict(X2.astype(bool))
    assert out.dtype == np.int64 and out.tolist() == AND.tolist()


def test_no_threshold_unit_realises_xor():
    # z takes the values 0, 1, 2 (or 0, 1 with one inhibitory input), so
    # thresholds -1 .. 3 plus fractional ones cover every distinct behaviour.
    thresholds = np.arange(-1.0, 3.25, 0.5)
    choices = [None, [0], [1], [0, 1]]
    seen = set()
    for theta, inhibitory in itertools.product(thresholds, choices):
        out = ThresholdUnit(theta, inhibitory).predict(X2)
        seen.add(tuple(out.tolist()))
        assert out.tolist() != XOR.tolist(), (theta, inhibitory)
    # AND, OR, NOR, constants and the inhibited forms appear, XOR never does
    assert {(0, 0, 0, 1), (0, 1, 1, 1), (1, 0, 0, 0), (0, 0, 1, 0)} <= seen


@pytest.mark.parametrize(
    "X, fragment",
    [
        ([[0, 2]], "binary inputs"),
        ([[0.5, 1]], "binary inputs"),
        ([[0, -1]], "binary inputs"),
        ([[np.nan, 1]], "NaN"),
        ([0, 1], "2-d"),
        (np.zeros((0, 2)), "0 samples"),
        ([["a", "b"]], "numeric"),
    ],
)
def test_threshold_unit_rejects_bad_inputs(X, fragment):
    with pytest.raises(ValueError, match=fragment):
        ThresholdUnit(threshold=1).predict(X)


@pytest.mark.parametrize(
    "unit, fragment",
    [
        (ThresholdUnit(1, inhibitory=[2]), "index 2 out of range"),
        (ThresholdUnit(1, inhibitory=[-1]), "index -1 out of range"),
        (ThresholdUnit(1, inhibitory=[True, False, True]), "mask has shape"),
        (ThresholdUnit(1, inhibitory=[0.5]), "indices or a boolean mask"),
        (ThresholdUnit(float("nan")), "threshold"),
        (ThresholdUnit("2"), "threshold"),
    ],
)
def test_threshold_unit_rejects_bad_parameters(unit, fragment):
    with pytest.raises(ValueError, match=fragment):
        unit.predict(X2)


# ---------------------------------------------------------------------------
# Rosenblatt's perceptron: what it learns
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["step", "sign"])
@pytest.mark.parametrize("target", [AND, OR], ids=["AND", "OR"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_perceptron_learns_and_or(activation, target, shuffle):
    y = target if activation == "step" else 2 * target - 1
    model = Perceptron(activation=activation, shuffle=shuffle, random_state=0).fit(
        X2, y
    )
    assert model.converged_
    assert model.errors_[-1] == 0 and len(model.errors_) == model.n_iter_
    assert model.n_iter_ < model.max_iter
    assert model.score(X2, y) == 1.0
    np.testing.assert_array_equal(model.predict(X2), y)
    assert model.predict(X2).dtype == np.int64
    assert model.coef_.shape == (2, 1) and model.intercept_.shape == (1,)
    assert model.classes_.tolist() == ([0, 1] if activation == "step" else [-1, 1])


@pytest.mark.parametrize("activation", ["step", "sign"])
def test_perceptron_several_outputs_at_once(activation):
    Y = np.column_stack([AND, OR])
    if activation == "sign":
        Y = 2 * Y - 1
    model = Perceptron(activation=activation, shuffle=False).fit(X2, Y)
    assert model.converged_ and model.n_outputs_ == 2
    assert model.coef_.shape == (2, 2) and model.intercept_.shape == (2,)
    np.testing.assert_array_equal(model.predict(X2), Y)
    assert model.score(X2, Y) == 1.0
    # side-by-side units are independent: each column equals its own fit
    for j in range(2):
        alone = Perceptron(activation=activation, shuffle=False).fit(X2, Y[:, j])
        np.testing.assert_array_equal(model.coef_[:, j], alone.coef_[:, 0])
        assert model.intercept_[j] == alone.intercept_[0]


def test_perceptron_2d_y_with_one_column_keeps_2d_predictions():
    model = Perceptron(random_state=0).fit(X2, AND[:, None])
    assert model.predict(X2).shape == (4, 1)
    assert model.decision_function(X2).shape == (4, 1)
    assert Perceptron(random_state=0).fit(X2, AND).predict(X2).shape == (4,)


@pytest.mark.parametrize("activation", ["step", "sign"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_perceptron_cannot_learn_xor(activation, seed):
    # XOR is not linearly separable: every epoch makes a mistake, forever.
    y = XOR if activation == "step" else 2 * XOR - 1
    model = Perceptron(activation=activation, max_iter=200, random_state=seed)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model.fit(X2, y)
    assert not model.converged_
    assert model.n_iter_ == 200 and len(model.errors_) == 200
    assert min(model.errors_) >= 1
    assert model.score(X2, y) < 1.0


def test_perceptron_converges_on_linearly_separable_data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 5))
    w, b = rng.standard_normal(5), 0.1
    margin = X @ w + b
    keep = np.abs(margin) > 0.2  # a margin bounds the number of updates
    X, y = X[keep], (margin[keep] > 0).astype(int)
    model = Perceptron(max_iter=1000, random_state=0).fit(X, y)
    assert model.converged_ and model.score(X, y) == 1.0


def test_perceptron_tol_stops_early():
    y = 2 * XOR - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning when tol is met
        model = Perceptron(activation="sign", tol=4, random_state=0).fit(X2, y)
    assert model.converged_ and model.n_iter_ == 1


# ---------------------------------------------------------------------------
# Rosenblatt's perceptron: the update rule by hand
# ---------------------------------------------------------------------------


def test_perceptron_update_rule_by_hand_one_step():
    # w = 0, b = 0: z = 0 -> yhat = 1 (step(0) = 1) but y = 0, so
    # w <- 0 + 0.5 (0 - 1) [1, 2] = [-0.5, -1],  b <- 0 + 0.5 (0 - 1) = -0.5.
    model = Perceptron(learning_rate=0.5, max_iter=1, shuffle=False)
    with pytest.warns(ConvergenceWarning):
        model.fit([[1.0, 2.0]], [0])
    np.testing.assert_array_equal(model.coef_, [[-0.5], [-1.0]])
    np.testing.assert_array_equal(model.intercept_, [-0.5])
    assert model.errors_ == [1] and not model.converged_
    # second epoch: z = -0.5 - 2 - 0.5 = -3 < 0 -> yhat = 0 = y, no error
    model.max_iter = 5
    model.fit([[1.0, 2.0]], [0])
    assert model.errors_ == [1, 0] and model.converged_ and model.n_iter_ == 2
    np.testing.assert_array_equal(model.decision_function([[1.0, 2.0]]), [-3.0])


def test_perceptron_update_rule_by_hand_one_epoch_sign_two_outputs():
    # Samples visited in order, eta = 1, two sign units, w = 0, b = 0.
    X = np.array([[1.0, -1.0], [2.0, 1.0]])
    Y = np.array([[-1, 1], [1, -1]])
    model = Perceptron(activation="sign", max_iter=1, shuffle=False)
    with pytest.warns(ConvergenceWarning):
        model.fit(X, Y)
    # sample 1: z = [0, 0] -> yhat = [1, 1]; y - yhat = [-2, 0]
    #   W[:, 0] = -2 [1, -1] = [-2, 2]; b = [-2, 0]
    # sample 2: z = [-4 + 2 - 2, 0] = [-4, 0] -> yhat = [-1, 1]; y - yhat = [2, -2]
    #   W[:, 0] += 2 [2, 1] -> [2, 4];  W[:, 1] += -2 [2, 1] -> [-4, -2]
    #   b += [2, -2] -> [0, -2]
    np.testing.assert_array_equal(model.coef_, [[2.0, -4.0], [4.0, -2.0]])
    np.testing.assert_array_equal(model.intercept_, [0.0, -2.0])
    assert model.errors_ == [2]


def test_perceptron_deterministic_for_a_random_state():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3))
    y = (X @ [1.0, -2.0, 0.5] > 0).astype(int)
    a = Perceptron(random_state=7, max_iter=3).fit(X, y)
    b = Perceptron(random_state=7, max_iter=3).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.errors_ == b.errors_
    # fitting twice from the same seed is also identical (no hidden state)
    np.testing.assert_array_equal(a.fit(X, y).coef_, b.coef_)


def test_perceptron_heaviside_alias():
    model = Perceptron(activation="heaviside", random_state=0).fit(X2, AND)
    assert model.converged_ and model.classes_.tolist() == [0, 1]


# ---------------------------------------------------------------------------
# Rosenblatt's perceptron: errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "activation, y, fragment",
    [
        ("step", [0, 1, 2, 1], r"must be 0 or 1 for activation='step'; found 2"),
        ("step", [-1, 1, 1, -1], r"found -1 \(use activation='sign'"),
        (
            "sign",
            [0, 1, 1, 0],
            r"must be -1 or 1 for activation='sign'; found 0 \(use activation='step'",
        ),
        ("step", [0, 1, np.nan, 1], "y contains NaN"),
        ("step", ["a", "b", "a", "b"], "y must be numeric"),
        ("step", [0, 1, 1], "X has 4 samples but y has 3"),
        ("step", np.zeros((4, 1, 1)), "1-d or 2-d"),
        ("step", np.zeros((4, 0)), "0 outputs"),
    ],
)
def test_perceptron_bad_labels(activation, y, fragment):
    with pytest.raises(ValueError, match=fragment):
        Perceptron(activation=activation).fit(X2, y)


@pytest.mark.parametrize(
    "X, fragment",
    [
        ([[0, np.nan], [1, 1]], "NaN or infinity"),
        ([[0, np.inf], [1, 1]], "NaN or infinity"),
        ([0, 1], "2-d"),
        (np.zeros((0, 2)), "0 samples"),
        (np.zeros((2, 0)), "0 features"),
    ],
)
def test_perceptron_bad_inputs(X, fragment):
    y = np.zeros(np.shape(X)[0] if np.ndim(X) else 0, dtype=int)
    with pytest.raises(ValueError, match=fragment):
        Perceptron().fit(X, y)


@pytest.mark.parametrize(
    "params, fragment",
    [
        (dict(activation="relu"), "'step' or 'sign'"),
        (dict(activation="nonsense"), "unknown activation"),
        (dict(learning_rate=0), "learning_rate"),
        (dict(learning_rate=float("inf")), "learning_rate"),
        (dict(max_iter=0), "max_iter"),
        (dict(max_iter=2.5), "max_iter"),
        (dict(tol=-1), "tol"),
        (dict(shuffle="yes"), "shuffle"),
    ],
)
def test_perceptron_bad_parameters(params, fragment):
    with pytest.raises(ValueError, match=fragment):
        Perceptron(**params).fit(X2, AND)


def test_perceptron_not_fitted_and_wrong_width():
    with pytest.raises(NotFittedError, match="not fitted"):
        Perceptron().predict(X2)
    model = Perceptron(random_state=0).fit(X2, AND)
    with pytest.raises(
        ValueError, match="3 features, but Perceptron was fitted with 2"
    ):
        model.predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="shape"):
        model.score(X2, [0, 1])


def test_failed_fit_leaves_fitted_model_unchanged():
    model = Perceptron(random_state=0).fit(X2, AND)
    before = {
        k: (v.copy() if isinstance(v, np.ndarray) else v)
        for k, v in vars(model).items()
    }
    for bad_y in ([0, 1, 2, 1], [0, 1, 1]):
        with pytest.raises(ValueError):
            model.fit(X2, bad_y)
    with pytest.raises(ValueError):
        model.fit([[0, np.nan], [1, 1], [0, 1], [1, 0]], AND)
    model.learning_rate = -1.0
    with pytest.raises(ValueError):
        model.fit(X2, OR)
    after = vars(model)
    assert set(after) == set(before)
    for key, value in before.items():
        if key == "learning_rate":
            continue
        np.testing.assert_array_equal(after[key], value, err_msg=key)
    np.testing.assert_array_equal(model.predict(X2), AND)
