"""L-BFGS in NumPy: the estimators' ``solver="lbfgs"``.

One function, :func:`minimize`, minimises a smooth function of a flat
float64 vector given a callable returning ``(value, gradient)``:

- search direction from the two-loop recursion over the last ``m`` pairs
  ``s = x_{k+1} − x_k``, ``y = g_{k+1} − g_k`` (Nocedal & Wright,
  *Numerical Optimization*, 2nd ed., Algorithm 7.4), with the initial
  inverse Hessian ``γ·I``, ``γ = sᵀy / yᵀy`` of the newest pair; a pair is
  kept only when ``sᵀy > ε_mach·yᵀy`` (positive curvature);
- step length from a line search satisfying the strong Wolfe conditions
  ``f(x + a·d) ≤ f(x) + c1·a·gᵀd`` and ``|g(x + a·d)ᵀd| ≤ c2·|gᵀd|``
  (bracketing, then "zoom" with safeguarded cubic interpolation,
  Algorithms 3.5 and 3.6); non-finite trial values count as "too far";
- stopping rules of scipy's L-BFGS-B as scikit-learn calls it:
  ``max|g| ≤ gtol``, or ``(f_old − f) / max(|f_old|, |f|, 1) ≤ ftol``
  (ftol = 2.22e-9, scipy's default), or ``maxiter`` iterations, or
  ``maxfun`` evaluations.

It converges like scipy's code but does not reproduce its iterates (scipy
uses the Moré–Thuente line search and a compact representation).  The
optimiser state is float64 whatever the dtype of the function's arguments.
"""

from collections import deque
from typing import NamedTuple

import numpy as np

# scipy.optimize.minimize(method="L-BFGS-B")'s default ftol (factr = 1e7).
FTOL = 1e7 * np.finfo(np.float64).eps
# Line search: sufficient decrease c1, curvature c2 (the usual quasi-Newton
# values), evaluations per search (scipy's maxls).
C1, C2, MAX_LS = 1e-4, 0.9, 20

# Status codes (scipy's: 0 converged, 1 a limit was reached, 2 other).
CONVERGED, LIMIT, ABNORMAL = 0, 1, 2


class LbfgsResult(NamedTuple):
    """What :func:`minimize` found.

    Attributes
    ----------
    x : ndarray (n,), float64
        The last accepted point (the best one seen).
    fun : float
        f(x).
    jac : ndarray (n,), float64
        The gradient at x.
    nit : int
        Completed iterations (accepted steps).
    nfev : int
        Function/gradient evaluations.
    status : int
        0 converged, 1 iteration or evaluation limit, 2 the line search
        could not make progress, 3 non-finite value at the start.
    message : str
    """

    x: np.ndarray
    fun: float
    jac: np.ndarray
    nit: int
    nfev: int
    status: int
    message: str

    @property
    def success(self):
        return self.status == CONVERGED


class _Counter:
    """Wraps fun_grad: float64 copies out, evaluation count, budget."""

    def __init__(self, fun_grad, maxfun):
        self.fun_grad = fun_grad
        self.maxfun = maxfun
        self.nfev = 0

    def __call__(self, x):
        self.nfev += 1
        f, g = self.fun_grad(x)
        return float(f), np.array(g, dtype=np.float64, copy=True)

    @property
    def left(self):
        return self.maxfun - self.nfev


def _two_loop(g, pairs):
    """d = −H·g for the L-BFGS inverse Hessian H of ``pairs`` (s, y, ρ)."""
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):            # newest first
        a = rho * np.dot(s, q)
        q -= a * y
        alphas.append(a)
    s, y, _ = pairs[-1]
    q *= np.dot(s, y) / np.dot(y, y)             # H0 = γ·I
    for (s, y, rho), a in zip(pairs, reversed(alphas)):   # oldest first
        b = rho * np.dot(y, q)
        q += (a - b) * s
    return -q


def _cubic_min(a, fa, da, b, fb, db):
    """Minimiser of the cubic through (a, fa, f'=da), (b, fb, f'=db), or
    None when it does not exist (N&W eq. 3.59)."""
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if not disc >= 0:
        return None
    d2 = np.copysign(np.sqrt(disc), b - a)
    denom = db - da + 2.0 * d2
    if denom == 0:
        return None
    t = b - (b - a) * (db + d2 - d1) / denom
    return t if np.isfinite(t) else None


class _Point(NamedTuple):
    a: float        # step length
    f: float        # f(x + a·d)
    g: np.ndarray   # gradient there (None for a = 0 is never needed)
    dphi: float     # gᵀd


def _line_search(evaluate, x, f0, g0, d, step):
    """Strong-Wolfe step along d from x, starting at ``step``.

    Returns the accepted _Point, or None when no step with sufficient
    decrease was found within the evaluation budget.
    """
    dphi0 = float(np.dot(g0, d))
    origin = _Point(0.0, f0, g0, dphi0)
    best = None                     # best point with sufficient decrease

    def trial(a):
        f, g = evaluate(x + a * d)
        return _Point(a, f, g, float(np.dot(g, d)))

    def armijo(p):
        return np.isfinite(p.f) and p.f <= f0 + C1 * p.a * dphi0

    def curvature(p):
        return np.isfinite(p.dphi) and abs(p.dphi) <= -C2 * dphi0

    def zoom(lo, hi, budget):
        """lo satisfies sufficient decrease (or is the origin); the minimiser
        lies between lo and hi."""
        nonlocal best
        for _ in range(budget):
            width = hi.a - lo.a
            a = None
            if np.isfinite(hi.f) and np.isfinite(hi.dphi):
                a = _cubic_min(lo.a, lo.f, lo.dphi, hi.a, hi.f, hi.dphi)
            # safeguard: stay well inside the bracket, else bisect
            lo_edge, hi_edge = sorted((lo.a + 0.1 * width, hi.a - 0.1 * width))
            if a is None or not lo_edge <= a <= hi_edge:
                a = lo.a + 0.5 * width
            p = trial(a)
            if not armijo(p) or p.f >= lo.f:
                hi = p
            else:
                best = p
                if curvature(p):
                    return p
                if p.dphi * (hi.a - lo.a) >= 0:
                    hi = lo
                lo = p
            if abs(hi.a - lo.a) <= 1e-12 * max(abs(lo.a), 1e-300):
                break
        return best

    prev = origin
    a = step
    for i in range(MAX_LS):
        if evaluate.left <= 0:
            return best
        p = trial(a)
        budget = min(MAX_LS - i - 1, evaluate.left)
        if not armijo(p) or (i > 0 and p.f >= prev.f):
            return zoom(prev, p, budget)
        best = p
        if curvature(p):
            return p
        if p.dphi >= 0:
            return zoom(p, prev, budget)
        prev, a = p, 2.0 * a            # still descending: go further
    return best


def minimize(fun_grad, x0, *, maxiter=15000, maxfun=15000, gtol=1e-5, ftol=FTOL,
             m=10, callback=None):
    """Minimise f by L-BFGS from x0.

    Parameters
    ----------
    fun_grad : callable
        ``fun_grad(x) -> (f, g)`` for a float64 vector x; f a float (may be
        inf/NaN, treated as "step too long"), g array-like (n,).
    x0 : array-like (n,)
    maxiter : int, default 15000
        Maximum number of iterations (accepted steps).
    maxfun : int, default 15000
        Maximum number of evaluations of ``fun_grad``.
    gtol : float, default 1e-5
        Stop when ``max|g| <= gtol``.
    ftol : float, default 2.22e-9
        Stop when ``(f_old - f) / max(|f_old|, |f|, 1) <= ftol``.
    m : int, default 10
        Number of correction pairs kept.
    callback : callable, optional
        ``callback(nit, x, f)`` after each iteration.

    Returns
    -------
    LbfgsResult

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([1.0, 10.0, 100.0])
    >>> res = minimize(lambda x: (0.5 * x @ A @ x, A @ x), np.ones(3), gtol=1e-8)
    >>> res.success, bool(np.abs(res.x).max() < 1e-6)
    (True, True)
    """
    evaluate = _Counter(fun_grad, maxfun)
    x = np.array(x0, dtype=np.float64, copy=True).ravel()
    f, g = evaluate(x)
    if not (np.isfinite(f) and np.isfinite(g).all()):
        return LbfgsResult(x, f, g, 0, evaluate.nfev, 3,
                           "non-finite value or gradient at the starting point")
    pairs = deque(maxlen=m)
    nit = 0
    eps = np.finfo(np.float64).eps
    status, message = CONVERGED, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL"
    if np.max(np.abs(g), initial=0.0) <= gtol:
        return LbfgsResult(x, f, g, nit, evaluate.nfev, status, message)
    while True:
        if nit >= maxiter:
            status, message = LIMIT, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"
            break
        if evaluate.left <= 0:
            status, message = LIMIT, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT"
            break
        if pairs:
            d = _two_loop(g, pairs)
            step = 1.0
            if not np.dot(g, d) < 0:    # lost descent (rounding): restart
                pairs.clear()
        if not pairs:
            # steepest descent, first step of length 1 in x (as L-BFGS-B)
            d = -g
            step = 1.0 / max(np.linalg.norm(g), eps)
        p = _line_search(evaluate, x, f, g, d, step)
        if p is None:
            if pairs:                   # retry once along −g with a fresh memory
                pairs.clear()
                continue
            status, message = ABNORMAL, "ABNORMAL_TERMINATION_IN_LNSRCH"
            break
        s = p.a * d
        y = p.g - g
        sy = float(np.dot(s, y))
        if sy > eps * float(np.dot(y, y)):
            pairs.append((s, y, 1.0 / sy))
        f_old = f
        x, f, g = x + s, p.f, p.g
        nit += 1
        if callback is not None:
            callback(nit, x, f)
        if np.max(np.abs(g), initial=0.0) <= gtol:
            status, message = CONVERGED, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL"
            break
        if (f_old - f) <= ftol * max(abs(f_old), abs(f), 1.0):
            status, message = CONVERGED, "CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH"
            break
    return LbfgsResult(x, f, g, nit, evaluate.nfev, status, message)
