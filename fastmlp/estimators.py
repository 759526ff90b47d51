"""scikit-learn drop-in estimators: :class:`MLPClassifier`, :class:`MLPRegressor`.

They take the constructor parameters of ``sklearn.neural_network``'s
estimators (same names, meanings and defaults, scikit-learn 1.9) and sit
directly on a backend ``Net`` (C or NumPy): each epoch of the stochastic
solvers runs as one ``Net.train_epoch`` call, and Python only does what
scikit-learn does between epochs (loss bookkeeping, the stopping rule, the
learning-rate schedule, the validation score).  ``solver="lbfgs"`` runs
:func:`fastmlp._lbfgs.minimize` on ``Net.loss_grad``.

scikit-learn is optional: when it is importable the estimators derive from
its ``BaseEstimator`` and mixins (so ``clone``, ``Pipeline`` and the model
selection tools accept them); otherwise small local stand-ins provide
``get_params``, ``set_params`` and ``score``.

What follows scikit-learn exactly
---------------------------------
- Updates: "sgd" is ``sgd_velocity`` (``v = μ·v − lr·g``, Nesterov form
  ``w += μ·v − lr·g``), "adam" is ``adam_sklearn``; the L2 term
  ``alpha/(2·Σw)·Σ‖W‖²`` on the weights only; the learning-rate schedules
  between epochs ('invscaling': ``lr = lr0/(t_+1)^power_t`` after each
  epoch, ``t_`` = samples seen; 'adaptive': divided by 5 when the
  no-improvement counter exceeds ``n_iter_no_change``, stop once
  ``lr <= 1e-6``); the stopping rule on ``tol``/``n_iter_no_change``;
  best-weights restore with early stopping; ``warm_start`` (fresh optimiser
  state, counters kept) and ``partial_fit`` (state kept).
- Output activations and losses, ``loss_`` in scikit-learn's units (squared
  error averaged over the outputs), the initialisation law
  (``U(±√(f/(fan_in+fan_out)))`` for weights and biases, f = 2 for a
  logistic network, else 6), the dtypes (the stochastic solvers keep
  float32 input in float32, 'lbfgs' computes in float64, anything else is
  float64), the fitted attributes, and the input checks scikit-learn's
  estimator checks expect.  Started from the same weights, with
  ``shuffle=False`` and without sample weights, the stochastic solvers
  follow scikit-learn's trajectory to rounding (tests/test_estimators.py).

Where it differs (by design)
----------------------------
- Random numbers come from fastmlp's counter-based generator seeded from
  ``random_state``, so initial weights, shuffles and the early-stopping
  split differ from scikit-learn's for the same seed (they cannot match
  NumPy's ``RandomState`` streams); results are still reproducible.
- 'lbfgs' is fastmlp's own L-BFGS (same stopping rules as scipy's
  L-BFGS-B as scikit-learn calls it), not scipy's: it converges to
  comparable losses through different iterates.  For multi-output squared
  error it minimises the objective whose gradient scikit-learn uses
  (``½Σ_k``); ``loss_`` is reported in scikit-learn's units.
- Rows with zero sample weight are left out of the minibatches and of
  ``t_`` (in scikit-learn they still occupy batch slots, and a batch of
  only zero weights gives NaN), and with sample weights an epoch's
  ``loss_`` is the weighted mean over its batches (scikit-learn weights
  batches by rows).
- Negative sample weights are refused.  A diverging fit (non-finite loss)
  raises ValueError and leaves the estimator as it was.
- Log-losses are computed from the logits, not from probabilities clipped
  at machine epsilon, so they differ only for saturated outputs.
- Sparse inputs are accepted and densified (no sparse kernels).
- ``partial_fit`` does not exist for 'lbfgs' in either class (scikit-learn
  exposes it on MLPRegressor but it then runs L-BFGS).  Between
  ``partial_fit`` calls the optimiser keeps its state and learning rate
  but reads the other hyper-parameters (momentum, betas) afresh.
- ``warm_start`` and ``partial_fit`` refuse a changed architecture
  (``hidden_layer_sizes``, ``activation``, ``dropout``) with ValueError.

Beyond scikit-learn (defaults keep its behaviour): ``class_weight``
(classifier), ``validation_data=(X_val, y_val[, w_val])`` in ``fit`` with
``validation_loss_curve_``, per-layer ``activation`` lists and every
fastmlp activation, ``dropout``, solvers 'rmsprop' and 'adamw', ``dtype``
and ``backend``.
"""

import functools
import inspect
import numbers
import sys
import types
import warnings
from collections import namedtuple

import numpy as np

from fastmlp import _core, _enums, _format
from fastmlp._lbfgs import minimize as _lbfgs_minimize

# ---------------------------------------------------------------------------
# scikit-learn, when available
# ---------------------------------------------------------------------------

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError

    _HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _HAVE_SKLEARN = False

    class ConvergenceWarning(UserWarning):
        """The solver stopped before meeting its convergence criterion."""

    class DataConversionWarning(UserWarning):
        """The input was converted (e.g. a column vector y raveled)."""

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before ``fit``."""

    class BaseEstimator:
        """Parameter handling of scikit-learn's BaseEstimator (stand-in)."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            """Constructor parameters as a dict."""
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            """Set constructor parameters; returns self."""
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"Invalid parameter {name!r} for estimator {self!r}. "
                                     f"Valid parameters are: {valid!r}.")
                setattr(self, name, value)
            return self

        def __repr__(self):
            defaults = {p.name: p.default
                        for p in inspect.signature(type(self).__init__).parameters.values()}
            changed = []
            for name, value in self.get_params().items():
                default = defaults.get(name, inspect.Parameter.empty)
                same = value is default or (type(value) is type(default) and _same(value, default))
                if not same:
                    changed.append(f"{name}={value!r}")
            return f"{type(self).__name__}({', '.join(changed)})"

    def _same(a, b):
        try:
            return bool(a == b)
        except (TypeError, ValueError):    # arrays and other odd parameter values
            return False

    class ClassifierMixin:
        """``score`` = accuracy (stand-in for scikit-learn's mixin)."""

        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            """Mean accuracy of ``predict(X)`` against y."""
            return _accuracy(np.asarray(y), self.predict(X), sample_weight)

    class RegressorMixin:
        """``score`` = R² (stand-in for scikit-learn's mixin)."""

        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None):
            """Coefficient of determination R² of ``predict(X)`` against y."""
            return _r2(np.asarray(y, dtype=np.float64), self.predict(X), sample_weight)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

_STOCHASTIC = ("sgd", "adam", "rmsprop", "adamw")
_SOLVERS = ("lbfgs",) + _STOCHASTIC
_SCHEDULES = ("constant", "invscaling", "adaptive")
# scikit-learn's spelling of the output activations (out_activation_).
_SK_ACT_NAME = {"sigmoid": "logistic", "identity": "identity", "softmax": "softmax", "exp": "exp"}
# scikit-learn's adaptive schedule stops once the rate is this small.
_MIN_ADAPTIVE_LR = 1e-6


def _backend_net(backend):
    """The Net class of a backend name."""
    if backend == "c":
        from fastmlp._core import Net
    else:
        from fastmlp.reference import Net
    return Net


def _warn(message, category=UserWarning):
    """warnings.warn attributed to the first caller outside this module
    (the user's fit/predict call, whatever the depth inside)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _check_random_state(seed):
    """A RandomState from None (NumPy's global one), an int or an instance."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(seed)


def _draw_seed(rs):
    """A 64-bit seed for fastmlp's generator, drawn from a RandomState."""
    hi, lo = rs.randint(0, 2**32, size=2, dtype=np.uint64)
    return int(hi) << 32 | int(lo)


def _accuracy(y_true, y_pred, sample_weight=None):
    """Weighted fraction of rows predicted exactly (subset accuracy)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    hit = y_true == y_pred
    if hit.ndim == 2:
        hit = hit.all(axis=1)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w is not None and not w.sum() > 0:
        return float("nan")
    return float(np.average(hit, weights=w))


def _r2(y_true, y_pred, sample_weight=None):
    """R² averaged uniformly over outputs; 1 (perfect) or 0 for a constant
    target, as scikit-learn's r2_score does."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape)
    w = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if len(y_true) < 2 or not w.sum() > 0:
        return float("nan")
    mean = np.average(y_true, axis=0, weights=w)
    num = (w[:, None] * (y_true - y_pred) ** 2).sum(axis=0)
    den = (w[:, None] * (y_true - mean) ** 2).sum(axis=0)
    safe = np.where(den != 0, den, 1.0)
    r2 = np.where(den != 0, 1.0 - num / safe, np.where(num == 0, 1.0, 0.0))
    return float(r2.mean())


class _only_stochastic:
    """Descriptor: the method exists only while ``solver`` is stochastic
    (``hasattr(est, "partial_fit")`` is False for 'lbfgs')."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.fn
        if obj.solver not in _STOCHASTIC:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{obj.solver!r} is not stochastic.")
        return types.MethodType(self.fn, obj)


# ---------------------------------------------------------------------------
# Parameter rules (checked at fit, scikit-learn style)
# ---------------------------------------------------------------------------


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _real(lo, hi, closed):
    """Rule: a real number in an interval; closed in left/right/both/neither."""
    lo_ok = (lambda v: v >= lo) if closed in ("left", "both") else (lambda v: v > lo)
    hi_ok = ((lambda v: True) if hi is None else
             (lambda v: v <= hi) if closed in ("right", "both") else (lambda v: v < hi))
    left = "[" if closed in ("left", "both") else "("
    right = "]" if closed in ("right", "both") else ")"
    desc = f"a float in the range {left}{lo}, {'inf' if hi is None else hi}{right}"
    return (lambda v: _is_real(v) and not np.isnan(v) and lo_ok(v) and hi_ok(v)), desc


def _integer(lo):
    return (lambda v: _is_int(v) and v >= lo), f"an int in the range [{lo}, inf)"


def _options(*values):
    return (lambda v: isinstance(v, str) and v in values), \
        f"a str among {{{', '.join(repr(x) for x in sorted(values))}}}"


_BOOLEAN = (lambda v: isinstance(v, (bool, np.bool_))), "an instance of 'bool'"

_RULES = {
    "solver": _options(*_SOLVERS),
    "alpha": _real(0, None, "left"),
    "learning_rate": _options(*_SCHEDULES),
    "learning_rate_init": _real(0, None, "neither"),
    "power_t": _real(0, None, "left"),
    "max_iter": _integer(1),
    "shuffle": _BOOLEAN,
    "tol": _real(0, None, "left"),
    "warm_start": _BOOLEAN,
    "momentum": _real(0, 1, "both"),
    "nesterovs_momentum": _BOOLEAN,
    "early_stopping": _BOOLEAN,
    "validation_fraction": _real(0, 1, "left"),
    "beta_1": _real(0, 1, "left"),
    "beta_2": _real(0, 1, "left"),
    "epsilon": _real(0, None, "neither"),
    "max_fun": _integer(1),
    "backend": _options("c", "numpy"),
    "batch_size": ((lambda v: v == "auto" if isinstance(v, str) else _is_int(v) and v >= 1),
                   "'auto' or an int in the range [1, inf)"),
    "n_iter_no_change": ((lambda v: (_is_int(v) and v >= 1) or (_is_real(v) and v == np.inf)),
                         "an int in the range [1, inf) or numpy.inf"),
    "verbose": ((lambda v: isinstance(v, (bool, np.bool_)) or (_is_int(v) and v >= 0)),
                "a bool or an int >= 0"),
    "random_state": ((lambda v: v is None or isinstance(v, np.random.RandomState)
                      or (_is_int(v) and 0 <= v < 2**32)),
                     "None, an int in the range [0, 2**32 - 1] or a numpy.random.RandomState"),
}

# What fit needs from the parameters, normalised.
_Settings = namedtuple("_Settings", "hidden activations dropouts dtype")


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _column_names(X):
    """Feature names of a dataframe-like X (all strings), else None."""
    if isinstance(X, np.ndarray) or not hasattr(X, "columns"):
        return None
    names = list(X.columns)
    is_str = {isinstance(c, str) for c in names}
    if is_str == {True, False}:
        kinds = sorted({type(c).__name__ for c in names})
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {kinds} as feature name / column name types. Convert them "
            "all to strings (e.g. X.columns = X.columns.astype(str)) to have them stored and "
            "checked, or to a non-string type to have them ignored.")
    if is_str == {True}:
        return np.asarray(names, dtype=object)
    return None


def _name_list(names):
    lines = [f"- {n}\n" for n in names[:5]]
    if len(names) > 5:
        lines.append("- ...\n")
    return "".join(lines)


def _all_finite(a):
    """np.isfinite(a).all() without its boolean copy of a, where the C
    check applies (float32/float64, C-contiguous)."""
    if a.dtype in (np.float32, np.float64) and a.flags.c_contiguous:
        return _core.all_finite(a)
    return bool(np.isfinite(a).all())


def _finite_or_raise(a, what):
    if a.dtype.kind == "f" and not _all_finite(a):
        if np.isnan(a).any():
            raise ValueError(f"Input {what} contains NaN.")
        raise ValueError(f"Input {what} contains infinity or a value too large for "
                         f"{a.dtype!r}.")


def _as_2d_float(X, what, owner, dtype=None):
    """X as a C-contiguous float32/float64 (n, p) array with n, p >= 1.

    float32 and float64 are kept (unless dtype says otherwise); anything
    else becomes float64.  Sparse matrices are densified.
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        X = X.toarray()
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError(f"Complex data not supported\n{X}\n")
    if X.ndim < 2:
        kind = "scalar" if X.ndim == 0 else "1D"
        raise ValueError(
            f"Expected 2D array, got {kind} array instead:\narray={X}.\n"
            "Reshape your data either using array.reshape(-1, 1) if your data has a single "
            "feature or array.reshape(1, -1) if it contains a single sample.")
    if X.ndim > 2:
        raise ValueError(f"Found array with dim {X.ndim}. {owner} expected <= 2.")
    if dtype is None:
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    X = np.ascontiguousarray(X, dtype=dtype)   # TypeError for non-numbers
    if X.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                         f"of 1 is required by {owner}.")
    if X.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                         f"of 1 is required by {owner}.")
    _finite_or_raise(X, what)
    return X


def _target_array(y, n):
    """y as an ndarray with n rows (column vectors raveled, with a warning)."""
    if y is None:
        raise ValueError("This estimator requires y to be passed, but the target y is None.")
    if hasattr(y, "toarray") and hasattr(y, "nnz"):
        y = y.toarray()
    y = np.asarray(y)
    if y.dtype.kind == "c":
        raise ValueError(f"Complex data not supported\n{y}\n")
    if y.ndim == 0 or y.ndim > 2:
        raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{n}, {y.shape[0]}]")
    if y.ndim == 2 and y.shape[1] == 1:
        _warn("A column-vector y was passed when a 1d array was expected. Please change "
              "the shape of y to (n_samples, ), for example using ravel().",
              DataConversionWarning)
        y = y.ravel()
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError("y has 0 columns")
    return y


def _sample_weight(sample_weight, n):
    """sample_weight as a float64 (n,) array, or None."""
    if sample_weight is None:
        return None
    if _is_real(sample_weight):
        sw = np.full(n, float(sample_weight))
    else:
        sw = np.asarray(sample_weight, dtype=np.float64)
    if sw.ndim != 1:
        raise ValueError(f"Sample weights must be a 1D array or a scalar, got shape {sw.shape}")
    if sw.shape != (n,):
        raise ValueError(f"sample_weight.shape == {sw.shape}, expected {(n,)}!")
    _finite_or_raise(sw, "sample_weight")
    if (sw < 0).any():
        raise ValueError("Negative values in sample_weight are not supported.")
    if not sw.sum() > 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw


# Fitted state that fit builds and commits at the end.
_FITTED = ("n_iter_", "t_", "n_outputs_", "n_layers_", "out_activation_", "loss_",
           "best_loss_", "loss_curve_", "validation_scores_", "best_validation_score_",
           "validation_loss_curve_", "n_features_in_", "feature_names_in_", "classes_",
           "_net", "_lr", "_opt_kind", "_no_improvement_count", "_best_params",
           "_n_epochs", "_target_kind")


class _Job:
    """Everything one fit / partial_fit call needs, checked before training."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


# ---------------------------------------------------------------------------
# The shared estimator
# ---------------------------------------------------------------------------


class _BaseMLP(BaseEstimator):
    """Common machinery; use :class:`MLPClassifier` or :class:`MLPRegressor`."""

    _is_classifier = False

    # -- parameters -------------------------------------------------------

    def _check_params(self):
        """Check every constructor parameter; returns the normalised ones."""
        owner = type(self).__name__
        for name, (ok, desc) in _RULES.items():
            value = getattr(self, name)
            if not ok(value):
                raise ValueError(f"The {name!r} parameter of {owner} must be {desc}. "
                                 f"Got {value!r} instead.")
        hidden = self.hidden_layer_sizes
        if not hasattr(hidden, "__iter__") or isinstance(hidden, str):
            hidden = [hidden]
        hidden = list(hidden)
        if not all(_is_int(h) and h >= 1 for h in hidden):
            raise ValueError(f"The 'hidden_layer_sizes' parameter of {owner} must be an int "
                             f">= 1 or an array-like of them. Got {self.hidden_layer_sizes!r} "
                             "instead.")
        hidden = [int(h) for h in hidden]
        return _Settings(hidden, self._check_activations(hidden), self._check_dropout(hidden),
                         self._check_dtype())

    def _check_activations(self, hidden):
        act = self.activation
        names = [act] * len(hidden) if isinstance(act, str) else act
        if not isinstance(names, (list, tuple)) or len(names) != len(hidden):
            raise ValueError(
                f"The 'activation' parameter of {type(self).__name__} must be a str among "
                "{'identity', 'logistic', 'tanh', 'relu'} (or any fastmlp activation) or a "
                f"list of one per hidden layer ({len(hidden)}). Got {act!r} instead.")
        if isinstance(act, str):
            self._canonical_activation(act)   # also checked without hidden layers
        return [self._canonical_activation(a) for a in names]

    def _canonical_activation(self, name):
        try:
            act = _enums.canonical("activation", name)
        except ValueError:
            raise ValueError(
                f"The 'activation' parameter of {type(self).__name__} must be a str among "
                "{'identity', 'logistic', 'tanh', 'relu'} or another fastmlp activation "
                f"({', '.join(sorted(_enums.ACTIVATIONS))}). Got {name!r} instead.") from None
        if act in _enums.FLAT:
            raise ValueError(f"activation {name!r} has a zero derivative everywhere: gradient "
                             "training cannot pass through it")
        return act

    def _check_dropout(self, hidden):
        d = self.dropout
        rates = [d] * len(hidden) if _is_real(d) else d
        if (not isinstance(rates, (list, tuple)) or len(rates) != len(hidden)
                or not all(_is_real(r) and 0 <= r < 1 for r in rates)):
            raise ValueError(f"The 'dropout' parameter of {type(self).__name__} must be a "
                             "float in [0, 1) or a list of one per hidden layer. "
                             f"Got {d!r} instead.")
        rates = [float(r) for r in rates]
        if any(rates) and self.solver == "lbfgs":
            raise ValueError("dropout needs a stochastic solver; 'lbfgs' minimises the "
                             "deterministic full-batch loss")
        return rates

    def _check_dtype(self):
        if self.dtype is None:
            return None
        try:
            dt = np.dtype(self.dtype)
        except TypeError:
            dt = None
        if dt not in (np.float32, np.float64):
            raise ValueError(f"The 'dtype' parameter of {type(self).__name__} must be None, "
                             f"'float32' or 'float64'. Got {self.dtype!r} instead.")
        return dt

    # -- fitted state -----------------------------------------------------

    def __sklearn_is_fitted__(self):
        return getattr(self, "_net", None) is not None

    def _check_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call "
                                 "'fit' with appropriate arguments before using this estimator.")

    @property
    def coefs_(self):
        """Weight matrices (n_in, n_out) per layer: views of the network's
        parameters (writable; assigning a list copies into them)."""
        self._check_fitted()
        return [self._net.weights(l) for l in range(self._net.n_layers)]

    @coefs_.setter
    def coefs_(self, values):
        self._set_params_list(values, "coefs_")

    @property
    def intercepts_(self):
        """Bias vectors per layer: views of the network's parameters."""
        self._check_fitted()
        return [self._net.biases(l) for l in range(self._net.n_layers)]

    @intercepts_.setter
    def intercepts_(self, values):
        self._set_params_list(values, "intercepts_")

    def _set_params_list(self, values, name):
        """Copy a list of arrays into the network's coefs_ / intercepts_."""
        self._check_fitted()
        views = getattr(self, name)
        values = list(values)
        if len(values) != len(views):
            raise ValueError(f"{name} needs {len(views)} arrays, got {len(values)}")
        arrays = [np.asarray(v, dtype=self._net.dtype) for v in values]
        for l, (arr, view) in enumerate(zip(arrays, views)):
            if arr.shape != view.shape:
                raise ValueError(f"{name}[{l}] has shape {arr.shape}, expected {view.shape}")
        for arr, view in zip(arrays, views):
            view[...] = arr

    # -- input checks -----------------------------------------------------

    def _check_X(self, X, *, reset):
        """Validated X and its feature names; with reset=False, checked
        against what the estimator was fitted on (no state changes)."""
        owner = type(self).__name__
        names = _column_names(X)
        if not reset:
            self._check_names(names)
        dtype = None if reset else self._net.dtype
        if reset and self.dtype is not None:
            dtype = self._check_dtype()
        X = _as_2d_float(X, "X", owner, dtype)
        if not reset and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {owner} is expecting "
                             f"{self.n_features_in_} features as input.")
        return X, names

    def _check_names(self, names):
        fitted = getattr(self, "feature_names_in_", None)
        owner = type(self).__name__
        if fitted is None and names is None:
            return
        if fitted is None:
            _warn(f"X has feature names, but {owner} was fitted without feature names")
            return
        if names is None:
            _warn(f"X does not have valid feature names, but {owner} was fitted with "
                  "feature names")
            return
        if len(fitted) == len(names) and np.all(fitted == names):
            return
        unseen = sorted(set(names) - set(fitted))
        missing = sorted(set(fitted) - set(names))
        msg = "The feature names should match those that were passed during fit.\n"
        if unseen:
            msg += "Feature names unseen at fit time:\n" + _name_list(unseen)
        if missing:
            msg += "Feature names seen at fit time, yet now missing:\n" + _name_list(missing)
        if not unseen and not missing:
            msg += "Feature names must be in the same order as they were in fit.\n"
        raise ValueError(msg)

    def _check_validation_data(self, validation_data, n_features, targets):
        """(Xv, Yv, wv) from fit's validation_data, in float64."""
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (X_val, y_val) or "
                             "(X_val, y_val, sample_weight_val)")
        Xv = _as_2d_float(validation_data[0], "X_val", type(self).__name__, np.float64)
        if Xv.shape[1] != n_features:
            raise ValueError(f"X_val has {Xv.shape[1]} features, X has {n_features}")
        Yv = self._encode_validation_targets(validation_data[1], Xv.shape[0], targets)
        wv = None
        if len(validation_data) == 3:
            wv = _sample_weight(validation_data[2], Xv.shape[0])
        return Xv, Yv, wv

    # -- fit --------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Fit the model to X and y.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The input data (sparse input is densified).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classification) or real targets (regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        validation_data : tuple (X_val, y_val) or (X_val, y_val, w_val), optional
            Held-out data scored after every epoch (fastmlp extension): fills
            ``validation_scores_`` and ``validation_loss_curve_``; with
            ``early_stopping=True`` it replaces the internal split.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        ValueError
            For invalid parameters or data (the estimator is left unchanged),
            or if training diverges.
        """
        return self._fit(X, y, sample_weight, incremental=False,
                         validation_data=validation_data)

    def _fit(self, X, y, sample_weight, *, incremental, classes=None, validation_data=None):
        job = self._prepare(X, y, sample_weight, incremental, classes, validation_data)
        state = self._begin(job)
        net = state["_net"]
        snapshot = None if job.first_pass else self._snapshot(net)
        try:
            if job.solver == "lbfgs":
                self._run_lbfgs(job, state)
            else:
                self._run_stochastic(job, state)
            if not np.isfinite(net.params).all():
                raise ValueError("Solver produced non-finite parameter weights. The input "
                                 "data may contain large values and need to be "
                                 "preprocessed.")
        except BaseException:
            if snapshot is not None:
                self._restore(net, snapshot)
            raise
        self._commit(state, job)
        return self

    def _prepare(self, X, y, sample_weight, incremental, classes, validation_data):
        """Check everything and gather what training needs; no state changes."""
        s = self._check_params()
        fitted = self.__sklearn_is_fitted__()
        first_pass = not fitted or (not self.warm_start and not incremental)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        X, names = self._check_X(X, reset=first_pass)
        n, n_features = X.shape
        targets = self._check_targets(y, n, first_pass, incremental, classes)
        sw = _sample_weight(sample_weight, n)
        sw = self._apply_class_weight(sw, targets, incremental)
        if not first_pass:
            if targets.n_outputs != self.n_outputs_:
                raise ValueError(f"y has {targets.n_outputs} outputs, the fitted network "
                                 f"has {self.n_outputs_}")
            built = [(ly["units"], ly["activation"], ly["dropout"])
                     for ly in self._net.layers[:-1]]
            if list(zip(s.hidden, s.activations, s.dropouts)) != built:
                raise ValueError(
                    f"hidden_layer_sizes, activation or dropout changed since the network "
                    f"was built as (units, activation, dropout) = {built}; warm_start and "
                    "partial_fit need the same architecture")
        if not first_pass:
            dtype = self._net.dtype
        elif s.dtype is not None:
            dtype = s.dtype
        else:
            # float32 stays float32, as in scikit-learn, whose lbfgs however
            # computes in float64 (scipy's x): so does ours
            dtype = np.float64 if self.solver == "lbfgs" else X.dtype
        val = None
        if validation_data is not None:
            val = self._check_validation_data(validation_data, n_features, targets)

        # Random numbers: initialisation, then shuffling/dropout, then the split
        rs = _check_random_state(self.random_state)
        init_seed = _draw_seed(rs) if first_pass else None
        train_seed = _draw_seed(rs)

        Y = targets.Y
        solver = self.solver
        if self.early_stopping and solver in _STOCHASTIC and val is None:
            train, held = self._split(n, targets, rs)
            val = (X[held], Y[held], None if sw is None else sw[held])
            X, Y, sw = X[train], Y[train], None if sw is None else sw[train]
            if sw is not None and not sw.sum() > 0:
                raise ValueError("The sample weights of the training part of the "
                                 "early-stopping split are all zero.")
        if sw is not None and (sw == 0).any():
            keep = sw > 0          # zero-weight rows change nothing but batch slots
            X, Y, sw = X[keep], Y[keep], sw[keep]
        n_train = X.shape[0]
        batch_size = n_train
        if solver != "lbfgs":
            if self.batch_size == "auto":
                batch_size = min(200, n_train)
            else:
                if self.batch_size > n_train:
                    _warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped")
                batch_size = min(self.batch_size, n_train)

        def cast(a):
            return None if a is None else np.ascontiguousarray(a, dtype=dtype)

        if val is not None:
            val = tuple(cast(a) for a in val)
        return _Job(settings=s, first_pass=first_pass, incremental=incremental,
                    X=cast(X), Y=cast(Y), sw=cast(sw), val=val, dtype=np.dtype(dtype),
                    names=names, n_features=n_features, targets=targets,
                    init_seed=init_seed, train_seed=train_seed, batch_size=batch_size,
                    solver=solver)

    def _split(self, n, targets, rs):
        """Train/validation indices for early stopping (stratified for
        single-output classification, as scikit-learn does)."""
        strat = targets.strata if self._is_classifier and targets.n_outputs == 1 else None
        idx = np.arange(n)
        try:
            from sklearn.model_selection import train_test_split
        except ImportError:  # pragma: no cover - exercised only without scikit-learn
            train, held = self._seeded_split(idx, strat, rs)
        else:
            train, held = train_test_split(idx, test_size=self.validation_fraction,
                                           random_state=rs, stratify=strat)
        if len(held) < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return np.sort(train), np.sort(held)

    def _seeded_split(self, idx, strat, rs):
        """The split without scikit-learn: a seeded (stratified) shuffle."""
        n_held = int(np.ceil(self.validation_fraction * len(idx)))
        perm = rs.permutation(len(idx))
        if strat is None:
            return idx[perm[n_held:]], idx[perm[:n_held]]
        held = []
        for c in np.unique(strat):
            members = perm[strat[perm] == c]
            held.extend(members[:round(self.validation_fraction * len(members))])
        held = np.asarray(held, dtype=int)
        return np.setdiff1d(idx, held), held

    # -- state ------------------------------------------------------------

    def _begin(self, job):
        """The fitted state to train on: fresh, or a copy of the current one
        (lists copied; the Net itself is shared, protected by a snapshot)."""
        if not job.first_pass:
            state = {k: getattr(self, k) for k in _FITTED if hasattr(self, k)}
            for k in ("loss_curve_", "validation_scores_", "validation_loss_curve_"):
                if state.get(k) is not None:
                    state[k] = list(state[k])
            return state
        s, t = job.settings, job.targets
        layers = [{"units": h, "activation": a, "init": "sklearn", "dropout": d}
                  for h, a, d in zip(s.hidden, s.activations, s.dropouts)]
        layers.append({"units": t.n_outputs, "activation": t.out_act, "init": "sklearn"})
        net = _backend_net(self.backend)(job.dtype, job.n_features, layers)
        net.init(job.init_seed)
        self._match_sklearn_gain(net, s)
        state = {"_net": net, "n_iter_": 0, "t_": 0, "n_outputs_": t.n_outputs,
                 "n_layers_": len(s.hidden) + 2, "out_activation_": _SK_ACT_NAME[t.out_act],
                 "n_features_in_": job.n_features, "_lr": None, "_opt_kind": None,
                 "_n_epochs": 0, "_target_kind": t.kind,
                 "_best_params": net.params.copy()}
        if job.names is not None:
            state["feature_names_in_"] = job.names
        if self._is_classifier:
            state["classes_"] = t.classes
        if job.solver != "lbfgs":
            state.update(loss_curve_=[], _no_improvement_count=0)
            if self.early_stopping:
                state.update(validation_scores_=[], best_validation_score_=-np.inf,
                             best_loss_=None)
            else:
                state.update(best_loss_=np.inf, validation_scores_=None,
                             best_validation_score_=None)
        if job.val is not None:
            state["validation_scores_"] = state.get("validation_scores_") or []
            state["validation_loss_curve_"] = []
        elif job.solver != "lbfgs":
            state["validation_loss_curve_"] = None
        return state

    def _match_sklearn_gain(self, net, s):
        """scikit-learn picks the init factor from the hidden activation; the
        backend from layer 0's.  They differ only without hidden layers."""
        if s.hidden:
            return
        logistic = self.activation in ("logistic", "sigmoid")
        want = 2.0 if logistic else 6.0
        have = 2.0 if net.layers[0]["activation"] == "sigmoid" else 6.0
        if want != have:
            net.params[...] = net.params * np.sqrt(want / have)

    def _commit(self, state, job):
        for k in _FITTED:
            if k in state:
                setattr(self, k, state[k])
            elif job.first_pass and k in self.__dict__:
                delattr(self, k)

    @staticmethod
    def _snapshot(net):
        opt = [net.opt_state(i) for i in (0, 1)]
        return (net.params.copy(), [None if o is None else o.copy() for o in opt], net.t)

    @staticmethod
    def _restore(net, snapshot):
        params, opt, t = snapshot
        net.params[...] = params
        for i, saved in enumerate(opt):
            if saved is not None:
                net.opt_state(i)[...] = saved
        net.t = t

    # -- training ---------------------------------------------------------

    def _sk_loss(self, data, penalty, n_outputs, loss):
        """scikit-learn's loss_ from the backend's data loss and penalty."""
        if loss == "squared_error":
            data = data / n_outputs
        return data + penalty

    def _optimizer(self, lr):
        if self.solver == "sgd":
            return {"kind": "sgd_velocity", "lr": lr, "momentum": float(self.momentum),
                    "nesterov": bool(self.nesterovs_momentum)}
        if self.solver == "adam":
            return {"kind": "adam_sklearn", "lr": lr, "beta1": float(self.beta_1),
                    "beta2": float(self.beta_2), "eps": float(self.epsilon)}
        if self.solver == "rmsprop":
            return {"kind": "rmsprop", "lr": lr, "beta2": float(self.beta_2),
                    "eps": float(self.epsilon), "momentum": 0.0}
        return {"kind": "adamw", "lr": lr, "beta1": float(self.beta_1),
                "beta2": float(self.beta_2), "eps": float(self.epsilon),
                "weight_decay": float(self.alpha)}

    def _l2(self):
        # AdamW's decay is decoupled (alpha is its weight_decay), not a penalty.
        return 0.0 if self.solver == "adamw" else float(self.alpha)

    def _cfg(self, job, lr):
        return {"loss": job.targets.loss, "optimizer": self._optimizer(lr), "l2": self._l2(),
                "batch_size": job.batch_size, "shuffle": bool(self.shuffle),
                "seed": job.train_seed}

    def _validation(self, net, job):
        """(score, loss) of the network on the validation data."""
        Xv, Yv, wv = job.val
        out = net.predict(Xv)
        if not np.isfinite(out).all():
            return float("nan"), float("nan")
        score = self._score_outputs(out, Yv, wv, job.targets.kind)
        if wv is not None and not wv.sum() > 0:
            return score, float("nan")
        cfg = {"loss": job.targets.loss, "l2": 0.0}
        loss, _ = net.evaluate(cfg, Xv, Yv, wv)
        return score, self._sk_loss(loss, 0.0, job.targets.n_outputs, job.targets.loss)

    def _run_stochastic(self, job, st):
        net = st["_net"]
        opt_kind = self._optimizer(0.0)["kind"]
        if not job.incremental or st["_opt_kind"] != opt_kind:
            net.reset_optimizer()          # a new optimiser, as scikit-learn makes one
            st["_lr"] = float(self.learning_rate_init)
            st["_opt_kind"] = opt_kind
        early = self.early_stopping
        self._complete_bookkeeping(st, job)
        sgd = self.solver == "sgd"
        k, loss_name, tol = job.targets.n_outputs, job.targets.loss, float(self.tol)
        n_train = job.X.shape[0]
        st["n_iter_"] = 0
        try:
            for _ in range(self.max_iter):
                stats = net.train_epoch(self._cfg(job, st["_lr"]), job.X, job.Y, job.sw,
                                        epoch=st["_n_epochs"])
                if stats.get("nonfinite"):
                    raise ValueError(
                        "Solver produced non-finite parameter weights: the training loss "
                        f"became NaN or infinite in epoch {st['n_iter_'] + 1}. The input data "
                        "may contain large values and need to be preprocessed, or the "
                        "learning rate may be too large.")
                st["_n_epochs"] += 1
                st["n_iter_"] += 1
                loss = self._sk_loss(stats["loss"], stats["penalty"], k, loss_name)
                st["loss_"] = loss
                st["t_"] += n_train
                st["loss_curve_"].append(loss)
                if self.verbose:
                    print(f"Iteration {st['n_iter_']}, loss = {loss:.8f}")
                if job.val is not None:
                    score, vloss = self._validation(net, job)
                    st["validation_scores_"].append(score)
                    st["validation_loss_curve_"].append(vloss)
                    if self.verbose:
                        print(f"Validation score: {score:f}")
                if early:
                    # the counter and the best weights follow the validation score
                    if score < st["best_validation_score_"] + tol:
                        st["_no_improvement_count"] += 1
                    else:
                        st["_no_improvement_count"] = 0
                    if score > st["best_validation_score_"]:
                        st["best_validation_score_"] = score
                        st["_best_params"] = net.params.copy()
                else:
                    if loss > st["best_loss_"] - tol:
                        st["_no_improvement_count"] += 1
                    else:
                        st["_no_improvement_count"] = 0
                    st["best_loss_"] = min(st["best_loss_"], loss)
                if sgd and self.learning_rate == "invscaling":
                    st["_lr"] = float(self.learning_rate_init) / (st["t_"] + 1) ** self.power_t
                if st["_no_improvement_count"] > self.n_iter_no_change:
                    what = "Validation score" if early else "Training loss"
                    msg = (f"{what} did not improve more than tol={tol:f} for "
                           f"{self.n_iter_no_change} consecutive epochs.")
                    if sgd and self.learning_rate == "adaptive" and st["_lr"] > _MIN_ADAPTIVE_LR:
                        st["_lr"] /= 5.0
                        st["_no_improvement_count"] = 0
                        if self.verbose:
                            print(f"{msg} Setting learning rate to {st['_lr']:f}")
                    else:
                        if self.verbose:
                            print(f"{msg} Stopping.")
                        break
                if job.incremental:
                    break
                if st["n_iter_"] == self.max_iter:
                    _warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                          "reached and the optimization hasn't converged yet.",
                          ConvergenceWarning)
        except KeyboardInterrupt:
            _warn("Training interrupted by user.")
        if early:
            net.params[...] = st["_best_params"]

    def _complete_bookkeeping(self, st, job):
        """Start the counters and curves a stochastic fit needs that the
        state lacks (a warm start after 'lbfgs', or with early stopping or
        validation data switched on since the last fit)."""
        if st.get("loss_curve_") is None:
            st.update(loss_curve_=[], _no_improvement_count=0)
        if self.early_stopping:
            st.setdefault("best_loss_", None)
            if st.get("best_validation_score_") is None:
                st["best_validation_score_"] = -np.inf
        elif st.get("best_loss_") is None:
            st["best_loss_"] = np.inf
        for k in ("validation_scores_", "validation_loss_curve_"):
            if job.val is not None and st.get(k) is None:
                st[k] = []
            st.setdefault(k, None)
        st.setdefault("best_validation_score_", None)

    def _penalty(self, net, W):
        """alpha/(2W)·Σ‖W_l‖², the L2 term of the objective, in float64."""
        if self._l2() == 0:
            return 0.0
        sq = sum(float(np.dot(w.ravel().astype(np.float64), w.ravel().astype(np.float64)))
                 for w in (net.weights(l) for l in range(net.n_layers)))
        return self._l2() * sq / (2.0 * W)

    def _run_lbfgs(self, job, st):
        net = st["_net"]
        params = net.params
        cfg = {"loss": job.targets.loss, "l2": self._l2(), "batch_size": job.batch_size,
               "shuffle": False, "seed": 0}
        k, loss_name = job.targets.n_outputs, job.targets.loss
        W = float(job.X.shape[0] if job.sw is None else job.sw.astype(np.float64).sum())
        last = {"x": params.astype(np.float64), "nit": 0}   # the last accepted point

        def fun_grad(x):
            params[...] = x
            return net.loss_grad(cfg, job.X, job.Y, job.sw)

        def report(nit, x, f):
            last.update(x=x, nit=nit)
            if self.verbose:
                params[...] = x
                pen = self._penalty(net, W)
                print(f"Iteration {nit}, loss = {self._sk_loss(f - pen, pen, k, loss_name):.8f}")
            if job.val is not None:
                params[...] = x
                score, vloss = self._validation(net, job)
                st["validation_scores_"].append(score)
                st["validation_loss_curve_"].append(vloss)

        try:
            res = _lbfgs_minimize(fun_grad, last["x"], maxiter=self.max_iter,
                                  maxfun=self.max_fun, gtol=float(self.tol), callback=report)
        except KeyboardInterrupt:
            _warn("Training interrupted by user.")
            params[...] = last["x"]
            f, _ = net.loss_grad(cfg, job.X, job.Y, job.sw)
            nit = last["nit"]
        else:
            params[...] = res.x
            if res.status == 3 or not np.isfinite(res.fun):
                raise ValueError("Solver produced non-finite parameter weights: the loss is "
                                 "not finite. The input data may contain large values and "
                                 "need to be preprocessed.")
            f, nit = res.fun, res.nit
            if res.status != 0:
                _warn(
                    f"lbfgs failed to converge after {nit} iteration(s) (status={res.status}): "
                    f"{res.message}. Increase the number of iterations (max_iter={self.max_iter}"
                    f") or of function evaluations (max_fun={self.max_fun}), or scale the data.",
                    ConvergenceWarning)
        pen = self._penalty(net, W)
        st["loss_"] = self._sk_loss(f - pen, pen, k, loss_name)
        st["n_iter_"] = min(nit, self.max_iter)

    # -- prediction -------------------------------------------------------

    def _forward(self, X):
        """Network output for X (validated against the fitted data)."""
        self._check_fitted()
        X, _ = self._check_X(X, reset=False)
        return self._net.predict(X)

    # -- pickling ---------------------------------------------------------

    def __getstate__(self):
        """Parameters, plain fitted attributes and the network as model-file
        bytes (docs/FORMAT.md) plus its optimiser state; no C objects."""
        state = {"params": self.get_params(deep=False),
                 "fitted": {k: v for k, v in self.__dict__.items()
                            if k != "_net" and k not in self._get_param_names()}}
        net = getattr(self, "_net", None)
        if net is not None:
            state["net"] = _format.to_bytes(net.dtype, net.n_in, net.layers, net.params,
                                            meta={"estimator": type(self).__name__})
            state["optimizer"] = {
                "t": int(net.t),
                "state": [None if o is None else o.copy()
                          for o in (net.opt_state(0), net.opt_state(1))]}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state["params"])
        self.__dict__.update(state["fitted"])
        self._net = None
        if state.get("net") is not None:
            mf = _format.from_bytes(state["net"])
            net = _backend_net(self.backend)(mf.dtype, mf.n_in, mf.layers)
            net.params[...] = mf.params
            opt = state.get("optimizer") or {}
            for i, saved in enumerate(opt.get("state", ())):
                if saved is not None and net.opt_state(i) is not None:
                    net.opt_state(i)[...] = saved
            net.t = opt.get("t", 0)
            self._net = net

    if _HAVE_SKLEARN:
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.sparse = True     # accepted (densified)
            return tags


# ---------------------------------------------------------------------------
# Classifier
# ---------------------------------------------------------------------------

_Targets = namedtuple("_Targets", "Y kind classes n_outputs out_act loss strata")

_DOC_PARAMS = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : str or list of str, default='relu'
        Hidden-layer activation: 'identity', 'logistic', 'tanh', 'relu'
        (scikit-learn's) or any other fastmlp activation ('leaky_relu',
        'elu', 'selu', 'gelu', 'softplus', ...); a list gives one per
        hidden layer.
    solver : {'lbfgs', 'sgd', 'adam', 'rmsprop', 'adamw'}, default='adam'
        'sgd' and 'adam' are scikit-learn's update rules; 'rmsprop' and
        'adamw' follow PyTorch (rmsprop: smoothing constant ``beta_2``,
        ``epsilon``, no momentum; adamw: ``beta_1``, ``beta_2``,
        ``epsilon`` and ``alpha`` as the decoupled weight decay); 'lbfgs'
        is fastmlp's L-BFGS (full batch).
    alpha : float, default=0.0001
        Strength of the L2 penalty ``alpha/(2·Σw)·Σ‖W‖²`` on the weights
        (the decoupled weight decay for 'adamw').
    batch_size : int or 'auto', default='auto'
        Minibatch size of the stochastic solvers; 'auto' is
        ``min(200, n_samples)``; larger values are clipped with a warning.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule of solver='sgd': constant; ``learning_rate_init /
        (t_ + 1)**power_t`` set after each epoch; or divided by 5 each time
        the loss (or validation score) fails to improve by ``tol`` for more
        than ``n_iter_no_change`` epochs, stopping once it is <= 1e-6.
    learning_rate_init : float, default=0.001
        Initial learning rate of the stochastic solvers.
    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (lbfgs).
    shuffle : bool, default=True
        Shuffle the samples every epoch (fastmlp's seeded permutation,
        which differs from scikit-learn's).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and the early-stopping
        split (a 64-bit seed is drawn from it).
    tol : float, default=1e-4
        Tolerance of the stopping rule (and the gradient tolerance of lbfgs).
    verbose : bool, default=False
        Print progress.
    warm_start : bool, default=False
        Continue from the previous solution in ``fit`` (fresh optimiser
        state, as in scikit-learn).
    momentum : float, default=0.9
        Momentum of solver='sgd', in [0, 1].
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for solver='sgd'.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for
        binary classification) and stop when its score stops improving;
        the best weights are restored.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    beta_1 : float, default=0.9
        First-moment decay of adam/adamw.
    beta_2 : float, default=0.999
        Second-moment decay of adam/adamw (RMSprop's smoothing constant).
    epsilon : float, default=1e-8
        Numerical stability term of adam/adamw/rmsprop.
    n_iter_no_change : int, default=10
        Epochs without improvement by ``tol`` tolerated before stopping.
    max_fun : int, default=15000
        Maximum number of loss/gradient evaluations of lbfgs.
    dropout : float or list of float, default=0.0
        Inverted dropout rate after each hidden layer during training
        (stochastic solvers only).
    dtype : {None, 'float32', 'float64'}, default=None
        Computation dtype.  None follows scikit-learn: the stochastic
        solvers keep float32 input in float32 and use float64 otherwise;
        'lbfgs' computes in float64.
    backend : {'c', 'numpy'}, default='c'
        The C library or the NumPy reference implementation."""

_DOC_ATTRS = """
    loss_ : float
        The final loss (scikit-learn's units, L2 term included).
    best_loss_ : float or None
        Minimum of ``loss_curve_`` (None with early stopping; stochastic
        solvers only).
    loss_curve_ : list of float
        ``loss_`` after each epoch (stochastic solvers only).
    validation_scores_ : list of float or None
        Validation score after each epoch (early stopping or
        ``validation_data``).
    best_validation_score_ : float or None
        Best validation score (early stopping only).
    validation_loss_curve_ : list of float or None
        Validation data loss (no L2 term) after each epoch, next to
        ``validation_scores_`` (fastmlp extension).
    t_ : int
        Number of training samples seen by the stochastic solver.
    coefs_ : list of ndarray
        ``coefs_[i]`` is the (n_in, n_out) weight matrix of layer i (a view
        of the network's parameters).
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias vector of layer i.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when X has string column
        names.
    n_iter_ : int
        Number of epochs (iterations for lbfgs) run by the last fit.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Name of the output activation."""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = f"""Multi-layer perceptron classifier (scikit-learn drop-in).

    Optimises the log-loss with L-BFGS or a stochastic solver, on
    fastmlp's C core.  Parameters, attributes and behaviour follow
    ``sklearn.neural_network.MLPClassifier`` (see the module docstring for
    the few documented differences).

    Parameters
    ----------{_DOC_PARAMS}
    class_weight : dict, 'balanced' or None, default=None
        Weights per class, multiplied into the sample weights; 'balanced'
        uses ``Σw / (n_classes · Σw_c)``.  Not for multi-label targets nor
        (as 'balanced') for partial_fit.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels (for multi-label targets, the label indices).{_DOC_ATTRS}

    See Also
    --------
    MLPRegressor : the regression counterpart.
    fastmlp.MLP : the Keras-like model API.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import MLPClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1000,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _is_classifier = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None, dropout=0.0, dtype=None, backend="c"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.class_weight = class_weight
        self.dropout = dropout
        self.dtype = dtype
        self.backend = backend

    # -- targets ----------------------------------------------------------

    @staticmethod
    def _labels_of(y):
        """(kind, sorted labels) of a 1-D label vector or 2-D indicator."""
        if y.ndim == 2:
            if y.dtype.kind in "biuf" and np.isin(y, (0, 1)).all():
                return "multilabel", np.arange(y.shape[1])
            kind = "continuous-multioutput" if y.dtype.kind == "f" else "multiclass-multioutput"
            raise ValueError(f"Unknown label type: {kind}. MLPClassifier supports binary, "
                             "multiclass and multi-label indicator targets.")
        if y.dtype.kind == "f":
            _finite_or_raise(y, "y")
            if np.any(y != np.round(y)):
                raise ValueError("Unknown label type: continuous. Maybe you are trying to fit "
                                 "a classifier, which expects discrete classes on a "
                                 "regression target with continuous values.")
        try:
            labels = np.unique(y)
        except TypeError:
            raise ValueError("Unknown label type: mix of label input types (string and "
                             "number)") from None
        if y.dtype == object:
            numbers_only = [v for v in labels.tolist() if _is_real(v)]
            if any(float(v) != round(float(v)) for v in numbers_only):
                raise ValueError("Unknown label type: continuous. Maybe you are trying to fit "
                                 "a classifier, which expects discrete classes on a "
                                 "regression target with continuous values.")
        return ("binary" if labels.size <= 2 else "multiclass"), labels

    def _check_targets(self, y, n, first_pass, incremental, classes):
        y = _target_array(y, n)
        kind, labels = self._labels_of(y)
        if first_pass:
            if incremental and classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            if incremental and kind != "multilabel":
                classes_ = np.unique(np.asarray(classes))
                if classes_.size < 2:
                    raise ValueError(f"classes must hold at least 2 labels, got {classes_!r}")
                kind = "binary" if classes_.size == 2 else "multiclass"
                self._check_subset(labels, classes_)
            else:
                classes_ = labels
                if kind != "multilabel" and classes_.size < 2:
                    raise ValueError(f"{type(self).__name__} needs samples of at least 2 "
                                     "classes, but the data contains only one class: "
                                     f"{classes_[0]!r}")
        else:
            classes_ = self.classes_
            if incremental and classes is not None and not np.array_equal(
                    classes_, np.unique(np.asarray(classes))):
                raise ValueError(f"`classes={np.unique(np.asarray(classes))!r}` is not the "
                                 f"same as on last call to partial_fit, was: {classes_!r}")
            if (kind == "multilabel") != (self._target_kind == "multilabel"):
                raise ValueError("y switches between multi-label and single-label targets "
                                 "since the last fit")
            if kind == "multilabel":
                if labels.size != classes_.size:
                    raise ValueError(f"y has {labels.size} labels, the estimator was fitted "
                                     f"with {classes_.size}")
            elif self.warm_start and not incremental:
                if set(labels.tolist()) != set(classes_.tolist()):
                    raise ValueError("warm_start can only be used where `y` has the same "
                                     "classes as in the previous call to fit. Previously got "
                                     f"{classes_}, `y` has {labels}")
            else:
                self._check_subset(labels, classes_)
            kind = self._target_kind
        return self._encode(y, kind, classes_)

    @staticmethod
    def _check_subset(labels, classes_):
        unseen = np.setdiff1d(labels, classes_)
        if unseen.size:
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                             f"{classes_}. 'y' has {labels}.")

    @staticmethod
    def _encode(y, kind, classes_):
        n = y.shape[0]
        if kind == "multilabel":
            Y, strata = y.astype(np.float64), None
            out_act, loss, k = "sigmoid", "binary_crossentropy", y.shape[1]
        else:
            strata = np.searchsorted(classes_, y)
            if kind == "binary":
                Y = (strata == 1).astype(np.float64).reshape(n, 1)
                out_act, loss, k = "sigmoid", "binary_crossentropy", 1
            else:
                Y = np.zeros((n, classes_.size))
                Y[np.arange(n), strata] = 1.0
                out_act, loss, k = "softmax", "categorical_crossentropy", classes_.size
        return _Targets(Y, kind, classes_, k, out_act, loss, strata)

    def _encode_validation_targets(self, y, n, targets):
        y = _target_array(y, n)
        if targets.kind == "multilabel":
            if y.ndim != 2 or y.shape[1] != targets.n_outputs or not np.isin(y, (0, 1)).all():
                raise ValueError("y_val must be a label indicator matrix like y")
        else:
            if y.ndim != 1:
                raise ValueError("y_val must be a 1-D vector of labels")
            _, labels = self._labels_of(y)
            self._check_subset(labels, targets.classes)
        return self._encode(y, targets.kind, targets.classes).Y

    def _apply_class_weight(self, sw, targets, incremental):
        cw = self.class_weight
        if cw is None:
            return sw
        if targets.kind == "multilabel":
            raise ValueError("class_weight is not supported for multi-label targets")
        classes_ = targets.classes
        if isinstance(cw, str) and cw == "balanced":
            if incremental:
                raise ValueError("class_weight 'balanced' is not supported for partial_fit; "
                                 "compute the weights on the whole data and pass a dict")
            base = np.ones(len(targets.strata)) if sw is None else sw
            counts = np.bincount(targets.strata, weights=base, minlength=classes_.size)
            present = counts > 0
            per_class = np.ones(classes_.size)
            per_class[present] = base.sum() / (present.sum() * counts[present])
        elif isinstance(cw, dict):
            unknown = [key for key in cw if key not in set(classes_.tolist())]
            if unknown:
                raise ValueError(f"The classes, {unknown}, are not in class_weight's classes "
                                 f"{classes_.tolist()}")
            per_class = np.asarray([float(cw.get(c, 1.0)) for c in classes_.tolist()])
            if not np.isfinite(per_class).all() or (per_class < 0).any():
                raise ValueError("class_weight values must be finite and >= 0")
        else:
            raise ValueError(f"The 'class_weight' parameter of {type(self).__name__} must be "
                             f"None, 'balanced' or a dict. Got {cw!r} instead.")
        w = per_class[targets.strata]
        w = w if sw is None else sw * w
        if not w.sum() > 0:
            raise ValueError("Sample weights times class weights must contain at least one "
                             "non-zero number.")
        return w

    @staticmethod
    def _score_outputs(out, Y, w, kind):
        """Accuracy of the network outputs against encoded targets."""
        if kind == "multiclass":
            hit = out.argmax(axis=1) == Y.argmax(axis=1)
        else:   # sigmoid outputs: binary and multi-label, thresholded at 0.5
            hit = ((out > 0.5) == (Y > 0.5)).all(axis=1)
        if w is not None and not w.sum() > 0:
            return float("nan")
        return float(np.average(hit, weights=w))

    # -- fitting ----------------------------------------------------------

    @_only_stochastic
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like of shape (n_classes,), default=None
            All the classes over all calls; required on the first call.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    # -- prediction -------------------------------------------------------

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels (a 0/1 indicator matrix for multi-label targets).
        """
        out = self._forward(X)
        if self._target_kind == "multilabel":
            return (out > 0.5).astype(int)
        if self._target_kind == "binary":
            return self.classes_[(out[:, 0] > 0.5).astype(np.intp)]
        return self.classes_[out.argmax(axis=1)]

    def predict_proba(self, X):
        """Probability estimates.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            In the order of ``classes_`` (per-label probabilities for
            multi-label targets).
        """
        out = self._forward(X)
        if self._target_kind == "binary":
            p = out[:, 0]
            return np.column_stack([1 - p, p])
        return out

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        p = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(p, out=p)

    if _HAVE_SKLEARN:
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.classifier_tags.multi_label = True
            return tags


# ---------------------------------------------------------------------------
# Regressor
# ---------------------------------------------------------------------------


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = f"""Multi-layer perceptron regressor (scikit-learn drop-in).

    Optimises the (half) squared error or the half Poisson deviance with
    L-BFGS or a stochastic solver, on fastmlp's C core.  Parameters,
    attributes and behaviour follow ``sklearn.neural_network.MLPRegressor``
    (see the module docstring for the few documented differences).

    Parameters
    ----------
    loss : {{'squared_error', 'poisson'}}, default='squared_error'
        'poisson' uses an exponential output and needs ``y >= 0``.{_DOC_PARAMS}

    Attributes
    ----------{_DOC_ATTRS}

    See Also
    --------
    MLPClassifier : the classification counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import MLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, size=(300, 2))
    >>> y = X[:, 0] ** 2 + X[:, 1]
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), solver="lbfgs",
    ...                    random_state=0).fit(X, y)
    >>> bool(reg.score(X, y) > 0.95)
    True
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, dtype=None, backend="c"):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.dtype = dtype
        self.backend = backend

    def _check_params(self):
        ok, desc = _options("squared_error", "poisson")
        if not ok(self.loss):
            raise ValueError(f"The 'loss' parameter of MLPRegressor must be {desc}. "
                             f"Got {self.loss!r} instead.")
        return super()._check_params()

    # -- targets ----------------------------------------------------------

    def _real_targets(self, y, n, what="y"):
        y = _target_array(y, n)
        if y.dtype.kind not in "fiub":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{what} must be numeric for regression, got dtype "
                                 f"{y.dtype}") from None
        y = y.astype(np.float64)
        _finite_or_raise(y, what)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(f"Some value(s) of {what} are negative which is not allowed for "
                             "the Poisson loss.")
        return y.reshape(n, -1)

    def _check_targets(self, y, n, first_pass, incremental, classes):
        Y = self._real_targets(y, n)
        out_act = "exp" if self.loss == "poisson" else "identity"
        if not first_pass and _SK_ACT_NAME[out_act] != self.out_activation_:
            raise ValueError(f"loss={self.loss!r} does not match the fitted network's output "
                             f"activation {self.out_activation_!r}")
        return _Targets(Y, "continuous", None, Y.shape[1], out_act, self.loss, None)

    def _encode_validation_targets(self, y, n, targets):
        Y = self._real_targets(y, n, "y_val")
        if Y.shape[1] != targets.n_outputs:
            raise ValueError(f"y_val has {Y.shape[1]} outputs, y has {targets.n_outputs}")
        return Y

    def _apply_class_weight(self, sw, targets, incremental):
        return sw

    @staticmethod
    def _score_outputs(out, Y, w, kind):
        return _r2(Y, out, w)

    # -- fitting and prediction --------------------------------------------

    @_only_stochastic
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict with the fitted network.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out
