"""The course's first two neuron models, before the multilayer perceptron.

- :class:`ThresholdUnit`: the McCulloch–Pitts unit (1943). Binary inputs,
  no weights: it fires when the number of active excitatory inputs reaches a
  threshold and no inhibitory input is active. AND and OR are threshold
  choices; XOR is out of reach.
- :class:`Perceptron`: Rosenblatt's threshold logic units, one per output,
  with real inputs, weights and a bias, a step or sign activation and the
  error-correction rule ``w_ij <- w_ij + eta (y_j - yhat_j) x_i``. It learns
  any linearly separable problem in a finite number of updates, and never
  settles on one that is not (XOR).

Both are small NumPy models for teaching and testing; the trainable
networks live in :mod:`fastmlp.model`.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np

from ._enums import canonical
from .exceptions import ConvergenceWarning, NotFittedError

__all__ = ["ConvergenceWarning", "Perceptron", "ThresholdUnit"]




def _check_X(X):
    """``X`` as a non-empty, finite 2-d float64 array, with clear errors."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-d (n_samples, n_features), got shape {X.shape}; "
            "wrap a single sample as [x]"
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    if X.shape[0] == 0:
        raise ValueError("X has 0 samples; at least 1 is required")
    if X.shape[1] == 0:
        raise ValueError("X has 0 features; at least 1 is required")
    X = X.astype(np.float64, copy=False)
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity")
    return X


class ThresholdUnit:
    """McCulloch–Pitts threshold unit.

    For a binary input vector ``x`` the unit computes the unweighted sum of
    its excitatory inputs ``z = sum_{i not inhibitory} x_i`` and outputs 1
    if ``z >= threshold`` and no inhibitory input is active (absolute
    inhibition), else 0. With ``n`` excitatory inputs, ``threshold = n`` is
    AND and ``threshold = 1`` is OR; no choice of threshold and inhibitory
    inputs realises XOR. The unit has nothing to learn.

    Parameters
    ----------
    threshold : float
        The firing threshold ``theta``.
    inhibitory : sequence of int, array-like of bool or None, default=None
        Indices of the inhibitory inputs, or a boolean mask over the inputs;
        None means all inputs are excitatory.

    Examples
    --------
    >>> X = [[0, 0], [0, 1], [1, 0], [1, 1]]
    >>> ThresholdUnit(threshold=2).predict(X).tolist()   # AND
    [0, 0, 0, 1]
    >>> ThresholdUnit(threshold=1).predict(X).tolist()   # OR
    [0, 1, 1, 1]
    >>> ThresholdUnit(threshold=1, inhibitory=[1]).predict(X).tolist()  # x0 AND NOT x1
    [0, 0, 1, 0]
    """

    def __init__(self, threshold, inhibitory=None):
        self.threshold = threshold
        self.inhibitory = inhibitory

    def _inhibitory_mask(self, n_features):
        """Boolean mask of the inhibitory inputs among ``n_features``."""
        mask = np.zeros(n_features, dtype=bool)
        if self.inhibitory is None:
            return mask
        spec = np.asarray(self.inhibitory)
        if spec.dtype == bool:
            if spec.shape != (n_features,):
                raise ValueError(
                    f"inhibitory mask has shape {spec.shape}, expected "
                    f"({n_features},) for {n_features} inputs"
                )
            return spec.copy()
        if spec.ndim > 1 or (spec.size and spec.dtype.kind not in "iu"):
            raise ValueError(
                f"inhibitory must be input indices or a boolean mask, got "
                f"{self.inhibitory!r}"
            )
        for i in spec.ravel().tolist():
            if not 0 <= i < n_features:
                raise ValueError(
                    f"inhibitory input index {i} out of range for {n_features} inputs"
                )
            mask[i] = True
        return mask

    def net_input(self, X):
        """Unweighted sum of the active excitatory inputs of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            Binary inputs (0/1 or bool).

        Returns
        -------
        z : ndarray of shape (n_samples,), dtype int64
            ``sum_{i excitatory} x_i`` per sample.

        Raises
        ------
        ValueError
            If ``X`` is not 2-d, is empty or holds a value other than 0 or
            1, or if ``inhibitory`` does not fit the inputs.
        """
        X = self._check_binary(X)
        return X[:, ~self._inhibitory_mask(X.shape[1])].sum(axis=1)

    def predict(self, X):
        """Output of the unit for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            Binary inputs (0/1 or bool).

        Returns
        -------
        y : ndarray of shape (n_samples,), dtype int64
            1 where ``z >= threshold`` and no inhibitory input is active,
            else 0.

        Raises
        ------
        ValueError
            If ``threshold`` is not a finite number, ``X`` is not 2-d, is
            empty or holds a value other than 0 or 1, or ``inhibitory``
            does not fit the inputs.
        """
        theta = self.threshold
        if (
            isinstance(theta, bool)
            or not isinstance(theta, Real)
            or not math.isfinite(theta)
        ):
            raise ValueError(f"threshold must be a finite number, got {theta!r}")
        X = self._check_binary(X)
        inhibitory = self._inhibitory_mask(X.shape[1])
        z = X[:, ~inhibitory].sum(axis=1)
        blocked = X[:, inhibitory].any(axis=1)
        return ((z >= theta) & ~blocked).astype(np.int64)

    @staticmethod
    def _check_binary(X):
        """``X`` as a 2-d int64 array of zeros and ones."""
        X = _check_X(X)
        bad = (X != 0) & (X != 1)
        if bad.any():
            raise ValueError(
                f"ThresholdUnit takes binary inputs (0 or 1); found {X[bad][0]:g}"
            )
        return X.astype(np.int64)


class Perceptron:
    """Rosenblatt's perceptron: one threshold logic unit per output.

    Each output ``j`` computes ``z_j = x . w_j + b_j`` and ``yhat_j =
    g(z_j)`` with ``g`` the Heaviside step (``z >= 0 -> 1``, else 0) or the
    sign (``z >= 0 -> +1``, else -1). Training visits the samples one at a
    time and, on a mistake, applies Rosenblatt's rule to every output::

        w_ij <- w_ij + eta * (y_j - yhat_j) * x_i
        b_j  <- b_j  + eta * (y_j - yhat_j)          (bias: x_0 = 1)

    It stops after the first epoch with at most ``tol`` misclassified
    samples (``converged_ = True``; with the default ``tol=0``, an epoch
    without mistakes, so the training data are then classified perfectly)
    or after ``max_iter`` epochs. The perceptron convergence theorem
    guarantees the first on linearly separable data; on data that are not
    (XOR) it never converges.

    Weights and biases start at zero. Then ``learning_rate`` only scales
    the weights and does not change the predictions; it is kept because it
    is part of the rule.

    Parameters
    ----------
    activation : {"step", "sign"}, default="step"
        Output function and label convention: "step" (alias "heaviside")
        for 0/1 labels, "sign" for -1/+1 labels.
    learning_rate : float, default=1.0
        The step ``eta`` (> 0).
    max_iter : int, default=100
        Maximum number of epochs (passes over the training data).
    shuffle : bool, default=True
        Visit the samples in a new random order each epoch.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the shuffle (``np.random.default_rng``); an int makes
        training deterministic.
    tol : int, default=0
        Stop when an epoch misclassifies at most this many samples.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features, n_outputs)
        Weights ``w_ij`` from input ``i`` to output ``j``.
    intercept_ : ndarray of shape (n_outputs,)
        Biases ``b_j``.
    n_iter_ : int
        Number of epochs run.
    errors_ : list of int
        Number of misclassified samples (at least one output wrong, counted
        as they were visited) in each epoch.
    converged_ : bool
        Whether training stopped because an epoch had at most ``tol``
        mistakes.
    classes_ : ndarray of shape (2,)
        The label values, ``[0, 1]`` or ``[-1, 1]``.
    n_features_in_ : int
        Number of input features.
    n_outputs_ : int
        Number of outputs (columns of ``y``; 1 for a 1-d ``y``).

    Examples
    --------
    >>> X = [[0, 0], [0, 1], [1, 0], [1, 1]]
    >>> model = Perceptron(random_state=0).fit(X, [0, 0, 0, 1])   # AND
    >>> model.converged_, model.predict(X).tolist(), model.score(X, [0, 0, 0, 1])
    (True, [0, 0, 0, 1], 1.0)
    """

    def __init__(
        self,
        activation="step",
        learning_rate=1.0,
        max_iter=100,
        shuffle=True,
        random_state=None,
        tol=0,
    ):
        self.activation = activation
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol

    def _validate_params(self):
        """Checked hyper-parameters: (activation, eta, max_iter, tol)."""
        activation = canonical("activation", self.activation)
        if activation not in ("step", "sign"):
            raise ValueError(
                "Perceptron activation must be 'step' or 'sign', "
                f"got {self.activation!r}"
            )
        eta = self.learning_rate
        if (
            isinstance(eta, bool)
            or not isinstance(eta, Real)
            or not (math.isfinite(eta) and eta > 0)
        ):
            raise ValueError(f"learning_rate must be a finite number > 0, got {eta!r}")
        max_iter = self.max_iter
        if (
            isinstance(max_iter, bool)
            or not isinstance(max_iter, Integral)
            or max_iter < 1
        ):
            raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
        tol = self.tol
        if (
            isinstance(tol, bool)
            or not isinstance(tol, Real)
            or not (math.isfinite(tol) and tol >= 0)
        ):
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise ValueError(f"shuffle must be a bool, got {self.shuffle!r}")
        return activation, float(eta), int(max_iter), tol

    @staticmethod
    def _check_y(y, activation, n_samples):
        """``y`` as an (n_samples, n_outputs) float64 array of valid labels."""
        Y = np.asarray(y)
        if Y.dtype.kind not in "biuf":
            raise ValueError(f"y must be numeric, got dtype {Y.dtype}")
        if Y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-d or 2-d, got shape {Y.shape}")
        if Y.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {Y.shape[0]}")
        if Y.ndim == 2 and Y.shape[1] == 0:
            raise ValueError("y has 0 outputs; at least 1 is required")
        Y = Y.astype(np.float64).reshape(n_samples, -1)
        if not np.isfinite(Y).all():
            raise ValueError("y contains NaN or infinity")
        valid = (0.0, 1.0) if activation == "step" else (-1.0, 1.0)
        bad = np.unique(Y[(Y != valid[0]) & (Y != valid[1])])
        if bad.size:
            found = ", ".join(f"{v:g}" for v in bad[:5])
            other, pair = ("sign", "-1/+1") if activation == "step" else ("step", "0/1")
            raise ValueError(
                f"labels must be {int(valid[0])} or {int(valid[1])} for "
                f"activation={activation!r}; found {found} (use "
                f"activation={other!r} for {pair} labels)"
            )
        return Y

    def fit(self, X, y):
        """Train with Rosenblatt's rule until an epoch is (nearly) error-free.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (finite numbers).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Binary labels: 0/1 for ``activation="step"``, -1/+1 for
            ``"sign"``; several columns train several units at once.

        Returns
        -------
        self : Perceptron
            The fitted model.

        Raises
        ------
        ValueError
            If a hyper-parameter is invalid, ``X`` is not 2-d, is empty or
            contains NaN or infinity, ``y`` has the wrong length or a label
            outside the activation's pair. A failed ``fit`` leaves an
            already fitted model unchanged.

        Warns
        -----
        ConvergenceWarning
            If ``max_iter`` epochs pass without meeting the stopping rule.
        """
        activation, eta, max_iter, tol = self._validate_params()
        X = _check_X(X)
        Y = self._check_y(y, activation, X.shape[0])
        rng = np.random.default_rng(self.random_state)
        low = 0.0 if activation == "step" else -1.0
        n_samples, n_features = X.shape
        W = np.zeros((n_features, Y.shape[1]))
        b = np.zeros(Y.shape[1])

        errors = []
        converged = False
        order = np.arange(n_samples)
        for _ in range(max_iter):
            if self.shuffle:
                order = rng.permutation(n_samples)
            mistakes = 0
            for i in order:
                x = X[i]
                # yhat_j = g(x . w_j + b_j), g(z) = 1 if z >= 0 else low
                y_hat = np.where(x @ W + b >= 0.0, 1.0, low)
                delta = Y[i] - y_hat
                if delta.any():
                    mistakes += 1
                    # w_ij += eta (y_j - yhat_j) x_i;  b_j += eta (y_j - yhat_j)
                    W += eta * np.outer(x, delta)
                    b += eta * delta
            errors.append(mistakes)
            if mistakes <= tol:
                converged = True
                break
        if not converged:
            warnings.warn(
                f"Perceptron did not converge in max_iter={max_iter} epochs "
                f"({errors[-1]} misclassified samples in the last); the data "
                "may not be linearly separable",
                ConvergenceWarning,
                stacklevel=2,
            )

        # Only now touch the fitted state, so that a failed fit changes nothing.
        self.coef_ = W
        self.intercept_ = b
        self.n_iter_ = len(errors)
        self.errors_ = errors
        self.converged_ = converged
        self.classes_ = np.array([int(low), 1])
        self.n_features_in_ = n_features
        self.n_outputs_ = Y.shape[1]
        self._y_ndim = np.ndim(y)
        return self

    def _check_fitted_X(self, X):
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                "This Perceptron is not fitted yet; call 'fit' before using it"
            )
        X = _check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but Perceptron was fitted with "
                f"{self.n_features_in_}"
            )
        return X

    def decision_function(self, X):
        """Net input ``z = X W + b`` of each unit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        z : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-d when the model was fitted with a 1-d ``y``.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            If ``X`` is not 2-d, is empty, contains NaN or infinity, or has
            the wrong number of features.
        """
        Z = self._check_fitted_X(X) @ self.coef_ + self.intercept_
        return Z.ravel() if self._y_ndim == 1 else Z

    def predict(self, X):
        """Predicted labels: ``g(X W + b)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs), int64
            0/1 (step) or -1/+1 (sign); 1-d when fitted with a 1-d ``y``.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            As for :meth:`decision_function`.
        """
        Z = self.decision_function(X)
        return np.where(Z >= 0.0, 1, self.classes_[0]).astype(np.int64)

    def score(self, X, y):
        """Accuracy: the fraction of samples with every output correct.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True labels.

        Returns
        -------
        score : float
            Between 0 and 1.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            If ``X`` is invalid or ``y`` does not match the predictions'
            shape.
        """
        pred = self.predict(X)
        Y = np.asarray(y)
        if Y.size != pred.size or Y.shape[0] != pred.shape[0]:
            raise ValueError(f"y has shape {Y.shape}, predictions have {pred.shape}")
        Y = Y.reshape(pred.shape[0], -1)
        return float(np.mean(np.all(Y == pred.reshape(Y.shape), axis=1)))
