"""reference - the NumPy mirror of the fastmlp C library.

One function per C function, with the C name less its ``fm_`` prefix and
dtype suffix, evaluating the formulas of ``docs/MATH.md`` in the order that
page gives.  It is the oracle of the tests and the baseline of the
benchmarks, and the ``numpy`` backend of :class:`fastmlp.MLP` through
:class:`Net`, which has the API of ``fastmlp._core.Net``.

Conventions (they are what make bitwise comparisons with C possible):

- Arrays are float32 or float64 and keep their dtype; element-wise
  arithmetic happens in that dtype ``T``.  Scalar coefficients are computed
  on Python floats (C doubles) and rounded once with ``T(...)`` before they
  touch an array.
- Sums accumulated in double are sequential, in index order, as the C
  loops are (``_seq_sum``, ``_seq_colsum``, ``_seq_rowsum``), wherever the
  sum feeds back into arrays (W = Σw, softmax denominators) or is one
  batch long (loss values).  The two sums as long as the parameters, Σ|g|
  and the penalty, are only reported; a sequential sum costs NumPy about
  forty times a pairwise one, so they use NumPy's pairwise summation
  (``_dsum``) and agree with C to ~1e-16 relative, not bit for bit.
- Matrix products are ``@`` (BLAS): their summation order is unspecified on
  both sides, so they agree only to ``K·eps``.
- exp, log, expm1, log1p, tanh, erf and cos are NumPy's (and SciPy's erf),
  the C side uses libm: those agree to a few ulp, not bit for bit.  +, −,
  ×, ÷ and sqrt are correctly rounded on both sides and agree exactly.
- Where C returns a status code this module raises ``ValueError`` with a
  message naming the problem; the training loop reports a non-finite loss
  and a stop request in its statistics instead, as C does with
  ``FM_ERR_NONFINITE`` / ``FM_ERR_INTERRUPTED``.
"""

import math
import numbers

import numpy as np

from fastmlp import _enums
from fastmlp._spec import normalize_cfg, normalize_layers, resolve_param

__all__ = [
    "gemm", "act_forward", "act_backward", "loss", "dense_forward",
    "dense_backward", "optim_defaults", "optim_n_state", "optim_step",
    "rng_u64", "rng_key", "rng_uniform", "rng_normal", "init_layer",
    "dropout_forward", "Net",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# SELU constants (FM_SELU_LAMBDA, FM_SELU_ALPHA in fastmlp.h).
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717

_U64_MAX = (1 << 64) - 1
_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_PI = 2.0 * math.pi  # the double nearest 2π, as FM_TWO_PI


# ---------------------------------------------------------------------------
# Checks and ordered sums
# ---------------------------------------------------------------------------


def _float_array(arr, name, dtype=None, ndim=None):
    """arr if it is a float32/float64 ndarray (of dtype, with ndim in ndim)."""
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    if dtype is None and arr.dtype not in _FLOAT_DTYPES:
        raise ValueError(f"{name} has dtype {arr.dtype}; only float32 and float64 are supported")
    if dtype is not None and arr.dtype != dtype:
        raise ValueError(f"{name} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if ndim is not None and arr.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    return arr


def _float_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def _seq_sum(x):
    """Σ x in double, element after element in C order (a C loop's sum)."""
    x = np.ravel(x)
    if x.size == 0:
        return 0.0
    return float(np.cumsum(x.astype(np.float64, copy=False))[-1])


def _dsum(x):
    """Σ x in double by NumPy's pairwise summation (reported sums only)."""
    return float(np.add.reduce(np.ravel(x), dtype=np.float64))


def _seq_colsum(M, dtype=None):
    """Column sums of a 2-D M, adding row after row (in dtype, default M's).

    np.add.reduce over axis 0 of a C-contiguous array with >= 2 columns
    adds whole rows in order; with one column NumPy sums that contiguous
    column pairwise, so a cumulative sum (sequential by definition) is used.
    tests/test_reference.py checks both paths against a plain loop.
    """
    dtype = M.dtype if dtype is None else np.dtype(dtype)
    M = np.ascontiguousarray(M, dtype=dtype)
    if M.shape[0] == 0:
        return np.zeros(M.shape[1], dtype=dtype)
    if M.shape[1] >= 2:
        return np.add.reduce(M, axis=0)
    return np.cumsum(M, axis=0)[-1]


def _seq_rowsum(M):
    """Row sums of a 2-D M in double, adding column after column."""
    return _seq_colsum(np.asarray(M, dtype=np.float64).T)


def _total_weight(sw, n):
    """W = Σ_i w_i in double, in order (n when there are no weights)."""
    return float(n) if sw is None else _seq_sum(sw)


def _u64(value, name):
    """A Python int in [0, 2⁶⁴) as np.uint64."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return np.uint64(value)


def _sign(w):
    """sign(w) in w's dtype with sign(0) = 0 and sign(NaN) = 0, as the C
    expression (w > 0) − (w < 0)."""
    return np.subtract(w > 0, w < 0, dtype=w.dtype)


# ---------------------------------------------------------------------------
# Matrix product
# ---------------------------------------------------------------------------


# mirror of fm_gemm_{f32,f64} in csrc/gemm_tmpl.h
def gemm(A, B, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, C=None):
    """C := alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ.

    Mirror of ``fm_gemm_{f32,f64}`` (csrc/gemm.c).  alpha and beta are
    rounded to the dtype; with ``beta == 0`` C is not read.

    Parameters
    ----------
    A : ndarray (M, K), or (K, M) when trans_a
    B : ndarray (K, N), or (N, K) when trans_b
    trans_a, trans_b : bool
    alpha, beta : float
    C : ndarray (M, N), optional
        Output, written in place when given (and read when beta != 0).

    Returns
    -------
    ndarray (M, N)
        C, or a new array when C is None.

    Raises
    ------
    ValueError
        For dtypes other than float32/float64, mixed dtypes or shapes that
        do not agree.

    Examples
    --------
    >>> import numpy as np
    >>> gemm(np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]]), trans_b=True)
    array([[1., 3.],
           [2., 4.]])
    """
    A = _float_array(A, "A", ndim=(2,))
    B = _float_array(B, "B", dtype=A.dtype, ndim=(2,))
    T = A.dtype.type
    opA = A.T if trans_a else A
    opB = B.T if trans_b else B
    if opA.shape[1] != opB.shape[0]:
        raise ValueError(f"op(A) is {opA.shape} and op(B) is {opB.shape}: inner sizes differ")
    M, N = opA.shape[0], opB.shape[1]
    a, b = T(alpha), T(beta)
    if C is not None:
        C = _float_array(C, "C", dtype=A.dtype, ndim=(2,))
        if C.shape != (M, N):
            raise ValueError(f"C has shape {C.shape}, expected {(M, N)}")
    # P = op(A)·op(B); P = α·P; P = P + β·C
    P = opA @ opB
    if a != 1:
        P *= a
    if b != 0:
        P += b * C
    if C is None:
        return P
    C[...] = P
    return C


# ---------------------------------------------------------------------------
# Activations (mirror of csrc/act_tmpl.h)
# ---------------------------------------------------------------------------
# Forward functions take (Z, a) and backward functions (dA, A, Z, a), with
# a the activation parameter already rounded to T.  They run under
# np.errstate(all="ignore"): like C, overflow to inf and NaN are silent.


def _fwd_identity(Z, a):
    return Z.copy()


def _fwd_step(Z, a):
    T = Z.dtype.type
    return np.where(Z >= 0, T(1), T(0))


def _fwd_sign(Z, a):
    T = Z.dtype.type
    return np.where(Z >= 0, T(1), T(-1))


def _fwd_sigmoid(Z, a):
    # z >= 0: 1/(1 + e^−z); z < 0: e^z/(1 + e^z).  Both take exp(−|z|).
    T = Z.dtype.type
    e = np.exp(-np.abs(Z))
    d = T(1) + e
    num = np.where(Z >= 0, T(1), e)
    return np.divide(num, d, out=num)


def _fwd_tanh(Z, a):
    return np.tanh(Z)


def _fwd_relu(Z, a):
    # z > 0 ? z : 0 (NaN → 0, as the C comparison)
    return np.where(Z > 0, Z, Z.dtype.type(0))


def _fwd_leaky_relu(Z, a):
    return np.where(Z > 0, Z, a * Z)


def _fwd_elu(Z, a):
    return np.where(Z > 0, Z, a * np.expm1(Z))


def _fwd_selu(Z, a):
    T = Z.dtype.type
    lam, lam_alpha = T(SELU_LAMBDA), T(SELU_LAMBDA * SELU_ALPHA)
    return np.where(Z > 0, lam * Z, lam_alpha * np.expm1(Z))


def _erf(x):
    """erf element-wise in x's dtype (SciPy's ufunc; math.erf without it)."""
    try:
        from scipy.special import erf
    except ImportError:  # slower, but exact libm values
        return np.vectorize(math.erf, otypes=[x.dtype])(x)
    return erf(x).astype(x.dtype, copy=False)


def _fwd_gelu(Z, a):
    # 0.5·z·(1 + erf(z/√2)), √2 rounded to T, left to right
    T = Z.dtype.type
    return T(0.5) * Z * (T(1) + _erf(Z / T(math.sqrt(2.0))))


def _fwd_softplus(Z, a):
    # max(z, 0) + log1p(exp(−|z|))
    T = Z.dtype.type
    return np.where(Z > 0, Z, T(0)) + np.log1p(np.exp(-np.abs(Z)))


def _fwd_exp(Z, a):
    return np.exp(Z)


def _fwd_softmax(Z, a):
    # per row: m = max z; e = exp(z − m) in T; A = e / T(Σe), Σ in double
    if Z.shape[-1] == 0:
        return Z.copy()
    Z2 = Z.reshape(-1, Z.shape[-1])
    e = Z2 - Z2.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    s = _seq_rowsum(e).astype(Z.dtype)
    e /= s[:, None]
    return e.reshape(Z.shape)


def _bwd_identity(dA, A, Z, a):
    return dA.copy()


def _bwd_sigmoid(dA, A, Z, a):
    # dA·(A·(1 − A))
    t = A.dtype.type(1) - A
    np.multiply(A, t, out=t)
    return np.multiply(dA, t, out=t)


def _bwd_tanh(dA, A, Z, a):
    # dA·(1 − A·A)
    t = A * A
    np.subtract(A.dtype.type(1), t, out=t)
    return np.multiply(dA, t, out=t)


def _bwd_relu(dA, A, Z, a):
    return np.where(A > 0, dA, dA.dtype.type(0))


def _bwd_leaky_relu(dA, A, Z, a):
    return np.where(A > 0, dA, a * dA)


def _bwd_elu(dA, A, Z, a):
    return np.where(A > 0, dA, dA * (A + a))


def _bwd_selu(dA, A, Z, a):
    T = dA.dtype.type
    lam, lam_alpha = T(SELU_LAMBDA), T(SELU_LAMBDA * SELU_ALPHA)
    return np.where(A > 0, dA * lam, dA * (A + lam_alpha))


def _bwd_gelu(dA, A, Z, a):
    # dA·(Φ(z) + z·φ(z)), Φ = 0.5·(1 + erf(z/√2)), φ = exp(−z·z/2)/√(2π)
    T = Z.dtype.type
    cdf = T(0.5) * (T(1) + _erf(Z / T(math.sqrt(2.0))))
    pdf = np.exp(-Z * Z / T(2)) / T(math.sqrt(2.0 * math.pi))
    return dA * (cdf + Z * pdf)


def _bwd_softplus(dA, A, Z, a):
    # dA·(−expm1(−A)) = dA·σ(z)
    t = np.expm1(-A)
    np.negative(t, out=t)
    return np.multiply(dA, t, out=t)


def _bwd_exp(dA, A, Z, a):
    return dA * A


def _bwd_softmax(dA, A, Z, a):
    # per row: s = Σ_j T(dA_j·A_j) in double; dZ_j = A_j·(dA_j − T(s))
    if dA.shape[-1] == 0:
        return dA.copy()
    A2 = A.reshape(-1, A.shape[-1])
    dA2 = dA.reshape(A2.shape)
    s = _seq_rowsum(dA2 * A2).astype(A.dtype)
    return (A2 * (dA2 - s[:, None])).reshape(A.shape)


# name -> (forward, backward); backward None: zero derivative (flat).
_ACTIVATIONS = {
    "identity": (_fwd_identity, _bwd_identity),
    "step": (_fwd_step, None),
    "sign": (_fwd_sign, None),
    "sigmoid": (_fwd_sigmoid, _bwd_sigmoid),
    "tanh": (_fwd_tanh, _bwd_tanh),
    "relu": (_fwd_relu, _bwd_relu),
    "leaky_relu": (_fwd_leaky_relu, _bwd_leaky_relu),
    "elu": (_fwd_elu, _bwd_elu),
    "selu": (_fwd_selu, _bwd_selu),
    "gelu": (_fwd_gelu, _bwd_gelu),
    "softplus": (_fwd_softplus, _bwd_softplus),
    "softmax": (_fwd_softmax, _bwd_softmax),
    "exp": (_fwd_exp, _bwd_exp),
}


def _act_param(name, param):
    """The parameter C receives (default filled, range and finiteness
    checked as fm_act_forward's act_check)."""
    p = resolve_param(name, param)
    if name in _enums.ACTIVATION_DEFAULT_PARAM and not math.isfinite(p):
        raise ValueError(f"{name} parameter must be finite, got {p}")
    return p


def _flat_error(name):
    return ValueError(
        f"activation {name!r} has zero derivative everywhere: gradient training "
        "cannot pass through it (use fastmlp.Perceptron for step/sign units)")


# mirror of fm_act_forward_{f32,f64} in csrc/act_tmpl.h
def act_forward(act, Z, param=None):
    """A = g(Z) element-wise (softmax: per row).

    Mirror of ``fm_act_forward_{f32,f64}`` (csrc/act_tmpl.h); the formulas
    are the table of MATH.md "Activations".

    Parameters
    ----------
    act : str
        Activation name (aliases such as "logistic" accepted).
    Z : ndarray, float32 or float64
        Pre-activations; a 1-D array is one row (for softmax).
    param : float, optional
        Leaky-ReLU slope (>= 0, default 0.01) or ELU alpha (> 0, default
        1); ignored by the other activations.

    Returns
    -------
    ndarray
        A, a new array of Z's shape and dtype.

    Raises
    ------
    ValueError
        For an unknown activation, a parameter out of range or a non-float
        Z.

    Examples
    --------
    >>> import numpy as np
    >>> act_forward("softmax", np.array([1.6, 0.55, 1.1])).round(2)
    array([0.51, 0.18, 0.31])
    """
    name = _enums.canonical("activation", act)
    p = _act_param(name, param)
    Z = _float_array(Z, "Z")
    with np.errstate(all="ignore"):
        return _ACTIVATIONS[name][0](Z, Z.dtype.type(p))


# mirror of fm_act_backward_{f32,f64} in csrc/act_tmpl.h
def act_backward(act, dA, A=None, Z=None, param=None):
    """dZ = dA ⊙ g'(Z) (softmax: the row Jacobian-vector product).

    Mirror of ``fm_act_backward_{f32,f64}`` (csrc/act_tmpl.h).  g' is taken
    from the saved output A for every activation except gelu, which needs Z.

    Parameters
    ----------
    act : str
    dA : ndarray
        Gradient w.r.t. the activation's output.
    A : ndarray, optional
        The forward output g(Z); required except for identity and gelu.
    Z : ndarray, optional
        The pre-activation; required for gelu.
    param : float, optional
        As in :func:`act_forward`.

    Returns
    -------
    ndarray
        dZ, a new array of dA's shape and dtype.

    Raises
    ------
    ValueError
        For step and sign (zero derivative: no gradient can pass), a
        missing A or Z, or shapes and dtypes that do not agree.

    Examples
    --------
    >>> import numpy as np
    >>> A = act_forward("tanh", np.array([0.0, 1.0]))
    >>> act_backward("tanh", np.ones(2), A=A).round(4)
    array([1.  , 0.42])
    """
    name = _enums.canonical("activation", act)
    if name in _enums.FLAT:
        raise _flat_error(name)
    p = _act_param(name, param)
    dA = _float_array(dA, "dA")
    for arr, nm in ((A, "A"), (Z, "Z")):
        if arr is not None:
            _float_array(arr, nm, dtype=dA.dtype)
            if arr.shape != dA.shape:
                raise ValueError(f"{nm} has shape {arr.shape}, dA has {dA.shape}")
    if name in _enums.NEEDS_Z and Z is None:
        raise ValueError(f"act_backward({name!r}) needs Z")
    if name not in _enums.NEEDS_Z and name != "identity" and A is None:
        raise ValueError(f"act_backward({name!r}) needs A")
    with np.errstate(all="ignore"):
        return _ACTIVATIONS[name][1](dA, A, Z, dA.dtype.type(p))


# ---------------------------------------------------------------------------
# Losses (mirror of csrc/loss_tmpl.h)
# ---------------------------------------------------------------------------


def _loss_terms(name, Z, A, Y):
    """ℓ_i per row (n,) in double, every term computed in double from the
    T inputs; rows summed over k in order."""
    Yd = Y.astype(np.float64)
    if name == "squared_error":
        # ½·Σ_k (a − y)²
        d = A.astype(np.float64) - Yd
        return 0.5 * _seq_rowsum(d * d)
    Zd = Z.astype(np.float64)
    if name == "binary_crossentropy":
        # Σ_k (max(z,0) − y·z) + log1p(exp(−|z|))
        t = np.where(Zd > 0, Zd, 0.0) - Yd * Zd
        t += np.log1p(np.exp(-np.abs(Zd)))
        return _seq_rowsum(t)
    if name == "categorical_crossentropy":
        # −Σ_k y·((z − m) − log Σ_j exp(z_j − m)),  m = max_j z_j
        zm = Zd - Zd.max(axis=1, keepdims=True)
        lse = np.log(_seq_rowsum(np.exp(zm)))
        return -_seq_rowsum(Yd * (zm - lse[:, None]))
    # poisson: Σ_k ((xlogy(y, y) − y·z) − y) + exp(z)
    ylogy = np.zeros_like(Yd)
    nz = Yd != 0
    ylogy[nz] = Yd[nz] * np.log(Yd[nz])
    t = ylogy - Yd * Zd
    t -= Yd
    t += np.exp(Zd)
    return _seq_rowsum(t)


# mirror of fm_loss_{f32,f64} in csrc/loss_tmpl.h
def loss(loss, out_act, Z, A, Y, sw=None, act_param=None, grad=True):
    """Loss value and its gradient w.r.t. the output layer's Z.

    Mirror of ``fm_loss_{f32,f64}`` (csrc/loss_tmpl.h).  value =
    Σ_i w_i·ℓ_i / W in double (W = Σw, or n).  For the canonical pairs
    dZ_ik = (A_ik − Y_ik)·c_i with c_i = T(w_i/W) (T(1/n) unweighted);
    squared error after another activation forms that as dA and pushes it
    through :func:`act_backward`.

    Parameters
    ----------
    loss : str
        squared_error, binary_crossentropy, categorical_crossentropy or
        poisson (aliases "mse", "log_loss").
    out_act : str
        The output layer's activation; BCE needs sigmoid, CCE softmax,
        Poisson exp.
    Z : ndarray (n, k) or None
        Logits; may be None for squared error unless out_act is gelu.
    A : ndarray (n, k)
        Output activations.
    Y : ndarray (n, k)
        Targets.
    sw : ndarray (n,), optional
        Sample weights (Σw must be finite and > 0).
    act_param : float, optional
        Parameter of out_act (for the non-canonical backward).
    grad : bool
        Also return dZ.

    Returns
    -------
    value : float
    dZ : ndarray (n, k) or None

    Raises
    ------
    ValueError
        For a loss that cannot follow out_act, n == 0, k == 0, Σw <= 0, a
        flat out_act with grad, or bad shapes/dtypes.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[0.0]]); A = act_forward("sigmoid", Z)
    >>> value, dZ = loss("binary_crossentropy", "sigmoid", Z, A, np.array([[1.0]]))
    >>> round(value, 4), dZ
    (0.6931, array([[-0.5]]))
    """
    name = _enums.canonical("loss", loss)
    act = _enums.canonical("activation", out_act)
    need = _enums.LOSS_OUTPUT[name]
    if need is not None and need != act:
        raise ValueError(f"loss {name!r} cannot follow a {act!r} output; it needs {need!r}")
    canonical = (name, act) in _enums.CANONICAL_PAIRS
    A = _float_array(A, "A", ndim=(2,))
    Y = _float_array(Y, "Y", dtype=A.dtype, ndim=(2,))
    need_z = name != "squared_error" or (grad and not canonical and act in _enums.NEEDS_Z)
    if Z is not None:
        Z = _float_array(Z, "Z", dtype=A.dtype, ndim=(2,))
    elif need_z:
        raise ValueError(f"loss {name!r} after {act!r} needs the logits Z")
    if Y.shape != A.shape or (Z is not None and Z.shape != A.shape):
        shapes = ", ".join(str(x.shape) for x in (Z, A, Y) if x is not None)
        raise ValueError(f"Z, A and Y must have one shape, got {shapes}")
    n, k = A.shape
    if n == 0 or k == 0:
        raise ValueError(f"loss of an empty batch (shape {A.shape})")
    if sw is not None:
        sw = _float_array(sw, "sw", dtype=A.dtype, ndim=(1,))
        if sw.shape[0] != n:
            raise ValueError(f"sw has {sw.shape[0]} entries for {n} samples")
    p = _act_param(act, act_param)
    if grad and not canonical and act in _enums.FLAT:
        raise _flat_error(act)

    # W = Σ w_i in order; value = (Σ_i w_i·ℓ_i) / W
    W = _total_weight(sw, n)
    if not (W > 0 and math.isfinite(W)):
        raise ValueError(f"the sample weights must sum to a finite value > 0, got {W}")
    with np.errstate(all="ignore"):
        ell = _loss_terms(name, Z, A, Y)
        if sw is not None:
            ell = sw.astype(np.float64) * ell
        value = _seq_sum(ell) / W
        if not grad:
            return value, None

        # dZ (or dA) = (A − Y)·c_i in T
        T = A.dtype.type
        D = A - Y
        if sw is None:
            D *= T(1.0 / n)
        else:
            D *= (sw.astype(np.float64) / W).astype(A.dtype)[:, None]
        if not canonical:
            D = _ACTIVATIONS[act][1](D, A, Z, T(p))
    return value, D


# ---------------------------------------------------------------------------
# Dense layer (mirror of csrc/dense_tmpl.h)
# ---------------------------------------------------------------------------


# mirror of fm_dense_forward_{f32,f64} in csrc/dense_tmpl.h
def dense_forward(X, W, b, act, act_param=None, keep_z=True):
    """Z = X·W + b (bias added to the finished product), A = g(Z).

    Mirror of ``fm_dense_forward_{f32,f64}`` (csrc/dense_tmpl.h).

    Parameters
    ----------
    X : ndarray (n, n_in)
    W : ndarray (n_in, n_out)
    b : ndarray (n_out,)
    act : str
    act_param : float, optional
    keep_z : bool
        Return Z as well (the backward pass of gelu and the losses on
        logits need it).

    Returns
    -------
    Z : ndarray (n, n_out) or None
    A : ndarray (n, n_out)

    Raises
    ------
    ValueError
        For shapes or dtypes that do not agree, or a bad activation.

    Examples
    --------
    >>> import numpy as np
    >>> Z, A = dense_forward(np.ones((1, 2)), np.ones((2, 1)), np.array([-3.0]), "relu")
    >>> Z, A
    (array([[-1.]]), array([[0.]]))
    """
    name = _enums.canonical("activation", act)
    p = _act_param(name, act_param)
    X = _float_array(X, "X", ndim=(2,))
    W = _float_array(W, "W", dtype=X.dtype, ndim=(2,))
    b = _float_array(b, "b", dtype=X.dtype, ndim=(1,))
    if W.shape[0] != X.shape[1] or b.shape[0] != W.shape[1]:
        raise ValueError(f"X {X.shape}, W {W.shape} and b {b.shape} do not agree")
    # Z = X·W; Z = Z + b; A = g(Z)
    Z = X @ W
    Z += b
    with np.errstate(all="ignore"):
        A = _ACTIVATIONS[name][0](Z, X.dtype.type(p))
    return (Z if keep_z else None), A


# mirror of fm_dense_backward_{f32,f64} in csrc/dense_tmpl.h
def dense_backward(dZ, X, W, need_dx=True):
    """dW = Xᵀ·dZ, db = Σ_rows dZ (in T, row after row), dX = dZ·Wᵀ.

    Mirror of ``fm_dense_backward_{f32,f64}`` (csrc/dense_tmpl.h).  The 1/n
    scaling is already in dZ (see :func:`loss`).

    Parameters
    ----------
    dZ : ndarray (n, n_out)
    X : ndarray (n, n_in)
        The layer's input as the forward pass saw it.
    W : ndarray (n_in, n_out)
    need_dx : bool
        Compute dX (not needed for the first layer).

    Returns
    -------
    dW : ndarray (n_in, n_out)
    db : ndarray (n_out,)
    dX : ndarray (n, n_in) or None

    Raises
    ------
    ValueError
        For shapes or dtypes that do not agree.

    Examples
    --------
    >>> import numpy as np
    >>> dW, db, dX = dense_backward(np.ones((2, 1)), np.ones((2, 3)), np.ones((3, 1)))
    >>> dW.ravel(), db, dX.shape
    (array([2., 2., 2.]), array([2.]), (2, 3))
    """
    dZ = _float_array(dZ, "dZ", ndim=(2,))
    X = _float_array(X, "X", dtype=dZ.dtype, ndim=(2,))
    W = _float_array(W, "W", dtype=dZ.dtype, ndim=(2,))
    if X.shape[0] != dZ.shape[0] or W.shape != (X.shape[1], dZ.shape[1]):
        raise ValueError(f"dZ {dZ.shape}, X {X.shape} and W {W.shape} do not agree")
    dW = X.T @ dZ               # dW = Xᵀ·dZ
    db = _seq_colsum(dZ)        # db_j = Σ_i dZ_ij, in order
    dX = dZ @ W.T if need_dx else None  # dX = dZ·Wᵀ
    return dW, db, dX


# ---------------------------------------------------------------------------
# Optimisers (mirror of csrc/optim.c and csrc/optim_tmpl.h)
# ---------------------------------------------------------------------------

_OPT_FIELDS = ("kind", "lr", "momentum", "beta1", "beta2", "eps",
               "weight_decay", "nesterov", "eps_inside_sqrt")


# mirror of fm_optim_defaults in csrc/optim.c
def optim_defaults(kind):
    """Default hyper-parameters of an optimiser kind.

    Mirror of ``fm_optim_defaults`` (csrc/optim.c): torch's defaults
    (scikit-learn's for sgd_velocity and adam_sklearn, the course's β = 0.9
    for momentum_ewma); fields a kind does not use are 0.

    Parameters
    ----------
    kind : str
        sgd, sgd_velocity, momentum_ewma, rmsprop, adam, adam_sklearn or
        adamw.

    Returns
    -------
    dict
        kind, lr, momentum, beta1, beta2, eps, weight_decay, nesterov,
        eps_inside_sqrt.  For rmsprop, beta2 is the smoothing α; for
        momentum_ewma, momentum is β.

    Raises
    ------
    ValueError
        For an unknown kind.

    Examples
    --------
    >>> optim_defaults("rmsprop")["lr"], optim_defaults("rmsprop")["beta2"]
    (0.01, 0.99)
    """
    name = _enums.canonical("optimizer", kind)
    d = {"kind": name, "lr": 1e-3, "momentum": 0.0, "beta1": 0.0, "beta2": 0.0,
         "eps": 0.0, "weight_decay": 0.0, "nesterov": False, "eps_inside_sqrt": False}
    if name == "sgd_velocity":
        d.update(momentum=0.9, nesterov=True)
    elif name == "momentum_ewma":
        d.update(momentum=0.9)
    elif name == "rmsprop":
        d.update(lr=1e-2, beta2=0.99, eps=1e-8)
    elif name in ("adam", "adam_sklearn", "adamw"):
        d.update(beta1=0.9, beta2=0.999, eps=1e-8)
        if name == "adamw":
            d["weight_decay"] = 1e-2
    return d


def _optim_full(opt):
    """A complete optimiser dict from a partial one (kind default "sgd")."""
    if isinstance(opt, str):
        opt = {"kind": opt}
    if not isinstance(opt, dict):
        raise ValueError(f"optimizer must be a name or a dict, got {opt!r}")
    full = optim_defaults(opt.get("kind", "sgd"))
    unknown = set(opt) - set(_OPT_FIELDS)
    if unknown:
        raise ValueError(f"unknown optimizer option(s) {sorted(unknown)}; valid: {list(_OPT_FIELDS)}")
    kind = full["kind"]
    full.update(opt)
    full["kind"] = kind
    for key in _OPT_FIELDS[1:7]:
        full[key] = float(full[key])
    full["nesterov"] = bool(full["nesterov"])
    full["eps_inside_sqrt"] = bool(full["eps_inside_sqrt"])
    return full


# mirror of optim_check in csrc/optim.c
def _optim_check(o, t, l2, l1):
    """ValueError unless o, t and the penalties are valid (optim_check in
    csrc/optim.c): t >= 1; lr, wd, l2, l1 finite >= 0; μ in [0, 1] (EWMA β
    in [0, 1)); α, β1, β2 in [0, 1); ε finite >= 0."""
    def in_range(x, lo, hi, closed):
        return x >= lo and (x <= hi if closed else x < hi)

    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 1:
        raise ValueError(f"optimizer step count t must be an integer >= 1, got {t!r}")
    inf = math.inf
    for what, x in (("learning rate", o["lr"]), ("weight_decay", o["weight_decay"]),
                    ("l2", l2), ("l1", l1)):
        if not in_range(x, 0, inf, False):
            raise ValueError(f"{what} must be finite and >= 0, got {x}")
    kind = o["kind"]
    checks = []
    if kind in ("sgd", "sgd_velocity", "rmsprop"):
        checks.append(("momentum", 1.0, True))
    elif kind == "momentum_ewma":
        checks.append(("momentum", 1.0, False))
    if kind == "rmsprop":
        checks.append(("beta2", 1.0, False))
    if kind in ("adam", "adam_sklearn", "adamw"):
        checks += [("beta1", 1.0, False), ("beta2", 1.0, False)]
    for key, hi, closed in checks:
        if not in_range(o[key], 0.0, hi, closed):
            rng = f"[0, {hi:g}]" if closed else f"[0, {hi:g})"
            raise ValueError(f"{kind} {key} must be in {rng}, got {o[key]}")
    if kind not in ("sgd", "sgd_velocity", "momentum_ewma") and not in_range(o["eps"], 0, inf, False):
        raise ValueError(f"{kind} eps must be finite and >= 0, got {o['eps']}")


# mirror of fm_optim_n_state in csrc/optim.c
def optim_n_state(opt):
    """Number of state buffers (each as long as the parameters) a kind uses.

    Mirror of ``fm_optim_n_state`` (csrc/optim.c): sgd 1 with momentum else
    0; sgd_velocity and momentum_ewma 1; rmsprop 1, 2 with momentum; the
    Adam family 2.

    Parameters
    ----------
    opt : dict or str
        Optimiser description (partial dicts are filled from defaults).

    Returns
    -------
    int

    Examples
    --------
    >>> optim_n_state({"kind": "sgd"}), optim_n_state({"kind": "sgd", "momentum": 0.9})
    (0, 1)
    """
    o = _optim_full(opt)
    kind = o["kind"]
    if kind == "sgd":
        return 1 if o["momentum"] != 0 else 0
    if kind in ("sgd_velocity", "momentum_ewma"):
        return 1
    if kind == "rmsprop":
        return 2 if o["momentum"] != 0 else 1
    return 2


# mirror of fm_optim_step_{f32,f64} in csrc/optim_tmpl.h
def optim_step(opt, t, w, g, s1=None, s2=None, l2=0.0, l1=0.0):
    """One optimiser update of w (in place) from the gradient g.

    Mirror of ``fm_optim_step_{f32,f64}`` (csrc/optim_tmpl.h).  In T:
    ``g ← g + T(l2)·w`` (if l2 ≠ 0), ``g ← g + T(l1)·sign(w)`` (if l1 ≠ 0),
    ``g ← g + T(wd)·w`` (if wd ≠ 0, not AdamW), then the kind's update of
    MATH.md "Optimisers" with every scalar coefficient (1−β, lr/(1−β1ᵗ),
    √(1−β2ᵗ), 1 − lr·wd, ...) computed in double and rounded once.
    β^t is Python's ``beta ** t`` (C's pow).

    Parameters
    ----------
    opt : dict or str
        Optimiser description (see :func:`optim_defaults`).
    t : int
        1-based step count (bias correction).
    w : ndarray (n,)
        Parameters, updated in place.
    g : ndarray (n,)
        Raw gradient (not modified).
    s1, s2 : ndarray (n,), optional
        State buffers, zero before step 1, updated in place; required as
        :func:`optim_n_state` says.
    l2, l1 : float
        Penalty coefficients already divided by the batch's W (pass 0 for
        biases).

    Returns
    -------
    float
        Σ|g| of the raw gradient, accumulated in double (pairwise; C sums
        in index order, so compare with a tolerance).

    Raises
    ------
    ValueError
        For t < 1, hyper-parameters out of range, a missing state buffer or
        shapes/dtypes that do not agree.

    Examples
    --------
    >>> import numpy as np
    >>> w, v = np.zeros(1), np.zeros(1)
    >>> optim_step({"kind": "momentum_ewma", "lr": 1.0}, 1, w, np.array([3.0]), v)
    3.0
    >>> v.round(12), w.round(12)
    (array([0.3]), array([-0.3]))
    """
    o = _optim_full(opt)
    _optim_check(o, t, float(l2), float(l1))
    w = _float_array(w, "w", ndim=(1,))
    g = _float_array(g, "g", dtype=w.dtype, ndim=(1,))
    if not w.flags.writeable:
        raise ValueError("w must be writable")
    if g.shape != w.shape:
        raise ValueError(f"g has {g.shape[0]} entries for {w.shape[0]} parameters")
    ns = optim_n_state(o)
    for s, nm, need in ((s1, "s1", ns >= 1), (s2, "s2", ns >= 2)):
        if s is None:
            if need:
                raise ValueError(f"optimizer {o['kind']!r} needs state buffer {nm}")
            continue
        _float_array(s, nm, dtype=w.dtype, ndim=(1,))
        if s.shape != w.shape:
            raise ValueError(f"{nm} has {s.shape[0]} entries for {w.shape[0]} parameters")
        if not s.flags.writeable:
            raise ValueError(f"{nm} must be writable")
    return _optim_step(o, int(t), w, g, s1, s2, float(l2), float(l1))


# mirror of optim_loops in csrc/optim_tmpl.h
def _optim_step(o, t, w, g, s1, s2, l2, l1):
    """optim_step without the checks (the network calls it per layer)."""
    T = w.dtype.type
    kind = o["kind"]
    with np.errstate(all="ignore"):
        asum = _dsum(np.abs(g))  # Σ|g_raw|, before any penalty

        # g' = ((g + l2·w) + l1·sign(w)) + wd·w
        if l2 != 0:
            g = g + T(l2) * w
        if l1 != 0:
            g = g + T(l1) * _sign(w)
        wd = o["weight_decay"]
        if kind != "adamw" and wd != 0:
            g = g + T(wd) * w

        lr = T(o["lr"])
        mu = o["momentum"]
        if kind == "sgd":
            # torch.optim.SGD (dampening 0):
            #   buf = μ·buf + g;  d = nesterov ? g + μ·buf : buf;  w = w − lr·d
            if mu == 0:
                d = g
            else:
                s1 *= T(mu)
                s1 += g
                d = g + T(mu) * s1 if o["nesterov"] else s1
            w -= lr * d
        elif kind == "sgd_velocity":
            # scikit-learn SGDOptimizer:
            #   v = μ·v − lr·g;  w = w + (nesterov ? μ·v − lr·g : v)
            s1 *= T(mu)
            s1 -= lr * g
            w += (T(mu) * s1 - lr * g) if o["nesterov"] else s1
        elif kind == "momentum_ewma":
            # the course's EWMA:  v = β·v + (1−β)·g;  w = w − lr·v
            s1 *= T(mu)
            s1 += T(1.0 - mu) * g
            w -= lr * s1
        elif kind == "rmsprop":
            # torch.optim.RMSprop (centered=False):
            #   s = α·s + (1−α)·g·g;  u = g / (√s + ε)  or  g / √(s + ε)
            #   μ ≠ 0: buf = μ·buf + u, w = w − lr·buf;  else w = w − lr·u
            al, eps = o["beta2"], T(o["eps"])
            s1 *= T(al)
            s1 += T(1.0 - al) * g * g
            den = np.sqrt(s1 + eps) if o["eps_inside_sqrt"] else np.sqrt(s1) + eps
            u = g / den
            if mu != 0:
                s2 *= T(mu)
                s2 += u
                w -= lr * s2
            else:
                w -= lr * u
        else:
            # Adam family: m = β1·m + (1−β1)·g;  s = β2·s + (1−β2)·g·g
            b1, b2 = o["beta1"], o["beta2"]
            bc1 = 1.0 - b1 ** float(t)
            bc2 = 1.0 - b2 ** float(t)
            # lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ);  w = w − lr_t·m/(√s + ε'), where
            # ε' = ε for sklearn and ε·√(1−β2ᵗ) for torch, whose
            # w − lr/(1−β1ᵗ)·m/(√s/√(1−β2ᵗ) + ε) is the same value
            eps = T(o["eps"] if kind == "adam_sklearn" else o["eps"] * math.sqrt(bc2))
            if kind == "adamw" and wd != 0:
                # decoupled decay first:  w = w·(1 − lr·wd)
                w *= T(1.0 - o["lr"] * wd)
            tmp = T(1.0 - b1) * g
            s1 *= T(b1)
            s1 += tmp
            np.multiply(T(1.0 - b2), g, out=tmp)
            tmp *= g  # ((1−β2)·g)·g
            s2 *= T(b2)
            s2 += tmp
            den = np.sqrt(s2, out=tmp)
            den += eps
            upd = T(o["lr"] * math.sqrt(bc2) / bc1) * s1
            upd /= den
            w -= upd
    return asum


# ---------------------------------------------------------------------------
# Random numbers, initialisation, dropout (mirror of csrc/rng.c, rng_tmpl.h)
# ---------------------------------------------------------------------------


def _counters(counters):
    """(uint64 array, was_scalar) from an int or an integer array >= 0."""
    if isinstance(counters, (numbers.Integral, np.integer)) and not isinstance(counters, bool):
        return np.array(_u64(counters, "counter")), True
    c = np.asarray(counters)
    if c.dtype.kind == "u":
        return c.astype(np.uint64), False
    if c.dtype.kind == "i":
        if c.size and c.min() < 0:
            raise ValueError("counters must be >= 0")
        return c.astype(np.uint64), False
    raise ValueError(f"counters must be integers, got dtype {c.dtype}")


# mirror of fm_rng_u64 in csrc/rng.c (vectorised)
def _u64_mix(key, c):
    """splitmix64 finaliser of key + (c + 1)·γ, uint64 arrays, mod 2⁶⁴."""
    with np.errstate(over="ignore"):
        z = (c + np.uint64(1)) * _GOLDEN_GAMMA + key
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


# mirror of fm_rng_u64 in csrc/rng.c
def rng_u64(key, counters):
    """The counter-based generator: a pure function of (key, counter).

    Mirror of ``fm_rng_u64`` (csrc/rng.c): ``z = key + (c+1)·0x9E3779B97F4A7C15``
    then splitmix64's finaliser, all modulo 2⁶⁴.

    Parameters
    ----------
    key : int
        In [0, 2⁶⁴).
    counters : int or array of non-negative integers

    Returns
    -------
    int or ndarray of uint64
        An int for an int counter, else an array of counters' shape.

    Raises
    ------
    ValueError
        For a key or counter outside [0, 2⁶⁴) or non-integer counters.

    Examples
    --------
    >>> hex(rng_u64(0, 0))
    '0xe220a8397b1dcdaf'
    """
    k = _u64(key, "key")
    c, scalar = _counters(counters)
    z = _u64_mix(k, c)
    return int(z) if scalar else z


# mirror of fm_rng_key in csrc/rng.c
def rng_key(seed, stream):
    """Key of an independent stream: ``rng_u64(seed, stream)``.

    Mirror of ``fm_rng_key`` (csrc/rng.c).  The network's streams are
    ``_enums.STREAM_INIT + l``, ``STREAM_SHUFFLE`` and ``STREAM_DROPOUT``.

    Parameters
    ----------
    seed, stream : int
        In [0, 2⁶⁴).

    Returns
    -------
    int

    Examples
    --------
    >>> rng_key(0, 1) == rng_u64(0, 1)
    True
    """
    return rng_u64(seed, _u64(stream, "stream").item())


# mirror of fm_rng_uniform in csrc/rng.c
def rng_uniform(key, counters):
    """Uniform doubles in [0, 1): ``(u64 >> 11)·2⁻⁵³``.

    Mirror of ``fm_rng_uniform`` (csrc/rng.c).

    Parameters
    ----------
    key : int
    counters : int or integer array

    Returns
    -------
    float or ndarray of float64

    Examples
    --------
    >>> 0.0 <= rng_uniform(7, 3) < 1.0
    True
    """
    k = _u64(key, "key")
    c, scalar = _counters(counters)
    u = (_u64_mix(k, c) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return float(u) if scalar else u


# mirror of fm_rng_normal in csrc/rng.c
def rng_normal(key, counters):
    """Standard normal doubles by Box–Muller from counters 2c and 2c+1:
    ``sqrt(−2·log(1 − u₁))·cos(2π·u₂)``.

    Mirror of ``fm_rng_normal`` (csrc/rng.c).

    Parameters
    ----------
    key : int
    counters : int or integer array

    Returns
    -------
    float or ndarray of float64

    Examples
    --------
    >>> import numpy as np
    >>> abs(float(np.mean(rng_normal(1, np.arange(10000))))) < 0.05
    True
    """
    k = _u64(key, "key")
    c, scalar = _counters(counters)
    with np.errstate(over="ignore"):
        c2 = c * np.uint64(2)
        c2p1 = c2 + np.uint64(1)
    u1 = (_u64_mix(k, c2) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    u2 = (_u64_mix(k, c2p1) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    x = np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(_TWO_PI * u2)
    return float(x) if scalar else x


# mirror of fm_init_layer_{f32,f64} in csrc/rng_tmpl.h
def init_layer(init, key, fan_in, fan_out, gain_sigmoid, dtype):
    """Initial weights and biases of one layer.

    Mirror of ``fm_init_layer_{f32,f64}`` (csrc/rng_tmpl.h).  Weight j
    (row-major) uses counter j: ``T(std·normal(key, j))`` for the normal
    laws, ``T(bound·(2·uniform(key, j) − 1))`` for the uniform ones, std
    and bound in double (MATH.md "Initialisers").  Biases are zero except
    for "sklearn", whose bias j uses counter fan_in·fan_out + j.

    Parameters
    ----------
    init : str
        lecun_normal, lecun_uniform, glorot_normal, glorot_uniform,
        he_normal, he_uniform or sklearn (aliases xavier_*).
    key : int
    fan_in, fan_out : int
        >= 1.
    gain_sigmoid : bool
        sklearn only: bound √(2/(fan_in+fan_out)) instead of √(6/…).
    dtype : float32 or float64

    Returns
    -------
    W : ndarray (fan_in, fan_out)
    b : ndarray (fan_out,)

    Raises
    ------
    ValueError
        For an unknown law, a bad dtype or sizes < 1.

    Examples
    --------
    >>> import numpy as np
    >>> W, b = init_layer("he_uniform", rng_key(0, 1), 4, 3, False, np.float32)
    >>> W.dtype, bool(np.all(np.abs(W) <= np.sqrt(6 / 4))), b.tolist()
    (dtype('float32'), True, [0.0, 0.0, 0.0])
    """
    name = _enums.canonical("initializer", init)
    dt = _float_dtype(dtype)
    k = _u64(key, "key")
    for v, nm in ((fan_in, "fan_in"), (fan_out, "fan_out")):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{nm} must be an integer >= 1, got {v!r}")
    fi, fsum = float(fan_in), float(fan_in) + float(fan_out)
    nw = int(fan_in) * int(fan_out)
    laws = {
        "lecun_normal": (True, 1.0 / fi), "lecun_uniform": (False, 3.0 / fi),
        "glorot_normal": (True, 2.0 / fsum), "glorot_uniform": (False, 6.0 / fsum),
        "he_normal": (True, 2.0 / fi), "he_uniform": (False, 6.0 / fi),
        "sklearn": (False, (2.0 if gain_sigmoid else 6.0) / fsum),
    }
    normal, var = laws[name]
    scale = math.sqrt(var)  # std or bound, in double
    j = np.arange(nw, dtype=np.uint64)
    if normal:
        W = (scale * rng_normal(int(k), j)).astype(dt)
    else:
        W = (scale * (2.0 * rng_uniform(int(k), j) - 1.0)).astype(dt)
    if name == "sklearn":
        jb = np.arange(fan_out, dtype=np.uint64) + np.uint64(nw)
        b = (scale * (2.0 * rng_uniform(int(k), jb) - 1.0)).astype(dt)
    else:
        b = np.zeros(fan_out, dtype=dt)
    return W.reshape(fan_in, fan_out), b


# mirror of fm_dropout_forward_{f32,f64} in csrc/rng_tmpl.h
def dropout_forward(p, key, counter0, A):
    """Inverted dropout on A in place; returns the mask.

    Mirror of ``fm_dropout_forward_{f32,f64}`` (csrc/rng_tmpl.h): element
    e (C order) is kept when ``uniform(key, counter0 + e) >= p``;
    ``mask_e = keep ? T(1/(1−p)) : 0``; ``A_e = A_e·mask_e``.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    key, counter0 : int
        Counters counter0 + e wrap modulo 2⁶⁴.
    A : ndarray
        Activations, modified in place.

    Returns
    -------
    ndarray
        The mask, of A's shape and dtype (0 or 1/(1−p)).

    Raises
    ------
    ValueError
        For p outside [0, 1) or a read-only A.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.ones((2, 3))
    >>> mask = dropout_forward(0.5, 1, 0, A)
    >>> bool(np.all((mask == 0) | (mask == 2))), bool(np.array_equal(A, mask))
    (True, True)
    """
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    k = _u64(key, "key")
    c0 = _u64(counter0, "counter0")
    A = _float_array(A, "A")
    if not A.flags.writeable:
        raise ValueError("A must be writable")
    T = A.dtype.type
    with np.errstate(over="ignore"):
        c = np.arange(A.size, dtype=np.uint64) + c0
    u = (_u64_mix(k, c) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    mask = np.where(u >= p, T(1.0 / (1.0 - p)), T(0)).reshape(A.shape)
    with np.errstate(all="ignore"):
        A *= mask
    return mask


# ---------------------------------------------------------------------------
# Network (mirror of csrc/net.c and csrc/net_tmpl.h)
# ---------------------------------------------------------------------------


# mirror of fm_net_t and fm_net_* in csrc/net.c and csrc/net_tmpl.h
class Net:
    """A multilayer perceptron in NumPy: one flat parameter buffer,
    prediction and training, mirroring the C network ``fm_net_t``.

    Same API as ``fastmlp._core.Net``.  The parameters are one array
    ``[W0 (n_in, u0) row-major, b0, W1, b1, ...]``; :meth:`weights` and
    :meth:`biases` are views into it.  As in C, both optimiser state
    buffers always exist (zeros until an optimiser that uses them runs), so
    :meth:`opt_state` never returns None.

    Parameters
    ----------
    dtype : float32 or float64
    n_in : int
        Number of inputs (>= 1).
    layers : list of dict
        ``{"units": int, "activation": str, "act_param": float or None,
        "init": str, "dropout": float}`` per dense layer; missing keys get
        defaults (see ``fastmlp._spec.normalize_layers``).

    Raises
    ------
    ValueError
        For a bad dtype or layer description (naming it).

    Examples
    --------
    >>> import numpy as np
    >>> net = Net(np.float64, 2, [{"units": 3, "activation": "tanh"},
    ...                           {"units": 1, "activation": "sigmoid"}])
    >>> net.init(0)
    >>> net.n_params, net.predict(np.zeros((4, 2))).shape
    (13, (4, 1))
    """

    def __init__(self, dtype, n_in, layers):
        self._dtype = _float_dtype(dtype)
        self._layers = normalize_layers(n_in, layers)
        for layer in self._layers:  # finiteness, as fm_net_create checks
            _act_param(layer["activation"], layer["act_param"])
        self._n_in = int(n_in)
        self._t = 0
        # offsets of W_l and b_l in the flat buffer (fm_net_weight_offset ...)
        self._fan_in, self._w_off, self._b_off = [], [], []
        off, fan_in = 0, self._n_in
        for layer in self.layers:
            self._fan_in.append(fan_in)
            self._w_off.append(off)
            off += fan_in * layer["units"]
            self._b_off.append(off)
            off += layer["units"]
            fan_in = layer["units"]
        self._params = np.zeros(off, dtype=self.dtype)
        self._state = [np.zeros(off, dtype=self.dtype), np.zeros(off, dtype=self.dtype)]

    # -- description and buffers -------------------------------------------

    @property
    def dtype(self):
        """numpy.dtype of the parameters and of every array the net takes."""
        return self._dtype

    @property
    def layers(self):
        """The normalised layer descriptions (list of dict)."""
        return self._layers

    @property
    def n_in(self):
        """Number of inputs."""
        return self._n_in

    @property
    def n_out(self):
        """Width of the output layer."""
        return self.layers[-1]["units"]

    @property
    def n_layers(self):
        """Number of dense layers."""
        return len(self.layers)

    @property
    def n_params(self):
        """Elements of the flat parameter buffer."""
        return self._params.shape[0]

    @property
    def params(self):
        """The flat parameter buffer [W0, b0, W1, b1, ...] (writable)."""
        return self._params

    def _check_layer(self, l):
        if not 0 <= l < len(self.layers):
            raise IndexError(f"layer {l} out of range for {len(self.layers)} layers")

    def _w_span(self, l):
        return slice(self._w_off[l], self._b_off[l])

    def _b_span(self, l):
        return slice(self._b_off[l], self._b_off[l] + self.layers[l]["units"])

    def weights(self, l):
        """W_l as a (fan_in, fan_out) view of the flat buffer."""
        self._check_layer(l)
        return self._params[self._w_span(l)].reshape(self._fan_in[l], self.layers[l]["units"])

    def biases(self, l):
        """b_l as a (fan_out,) view of the flat buffer."""
        self._check_layer(l)
        return self._params[self._b_span(l)]

    @property
    def t(self):
        """Optimiser step count."""
        return self._t

    @t.setter
    def t(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"step count must be an integer >= 0, got {value!r}")
        self._t = int(value)

    def opt_state(self, s):
        """Optimiser state buffer s (0 or 1) as a flat (n_params,) view."""
        if s not in (0, 1):
            raise IndexError(f"optimizer state index must be 0 or 1, got {s}")
        return self._state[s]

    def reset_optimizer(self):
        """Zero the optimiser state and the step count."""
        for s in self._state:
            s[...] = 0
        self._t = 0

    # mirror of fm_net_init in csrc/net.c
    def init(self, seed):
        """Initialise every layer from seed; zero the optimiser state, t = 0.

        Mirror of ``fm_net_init`` (csrc/net.c): layer l draws from
        ``rng_key(seed, STREAM_INIT + l)``.  "A sigmoid network" (the
        sklearn law's gain) is one whose first layer is sigmoid.
        """
        seed = int(_u64(seed, "seed"))
        gain_sigmoid = self.layers[0]["activation"] == "sigmoid"
        for l, layer in enumerate(self.layers):
            key = rng_key(seed, _enums.STREAM_INIT + l)
            W, b = init_layer(layer["init"], key, self._fan_in[l], layer["units"],
                              gain_sigmoid, self.dtype)
            self.weights(l)[...] = W
            self.biases(l)[...] = b
        self.reset_optimizer()

    # -- argument checks -----------------------------------------------------

    def _inputs(self, X, name="X"):
        X = _float_array(X, name, dtype=self.dtype, ndim=(2,))
        if X.shape[1] != self._n_in:
            raise ValueError(f"{name} has {X.shape[1]} features, the network expects {self._n_in}")
        return X

    def _batch(self, X, Y, sw):
        """Checked (X, Y, sw): n >= 1 rows, weights finite and >= 0."""
        X = self._inputs(X)
        Y = _float_array(Y, "Y", dtype=self.dtype, ndim=(2,))
        if Y.shape != (X.shape[0], self.n_out):
            raise ValueError(f"Y has shape {Y.shape}, expected ({X.shape[0]}, {self.n_out})")
        if X.shape[0] < 1:
            raise ValueError("training or evaluation needs at least one sample")
        if sw is not None:
            sw = _float_array(sw, "sw", dtype=self.dtype, ndim=(1,))
            if sw.shape[0] != X.shape[0]:
                raise ValueError(f"sw has {sw.shape[0]} entries for {X.shape[0]} samples")
            if not np.all(np.isfinite(sw)):
                raise ValueError("sample weights must be finite")
            if np.any(sw < 0):
                raise ValueError("sample weights must be >= 0")
        return X, Y, sw

    def _cfg(self, cfg, train):
        """Normalised cfg (fastmlp._spec), checked against this network."""
        c = normalize_cfg(cfg, optim_defaults if train else None)
        out_act = self.layers[-1]["activation"]
        need = _enums.LOSS_OUTPUT[c["loss"]]
        if need is not None and need != out_act:
            raise ValueError(f"loss {c['loss']!r} cannot follow a {out_act!r} output; "
                             f"it needs {need!r}")
        for key in ("l2", "l1"):
            if not math.isfinite(c[key]):
                raise ValueError(f"{key} must be finite, got {c[key]}")
        if train:
            c["optimizer"] = _optim_full(c["optimizer"])
            _optim_check(c["optimizer"], 1, 0.0, 0.0)
        return c

    # -- the math (MATH.md "Network training") -------------------------------

    # mirror of net_forward_train / net_forward_infer in csrc/net_tmpl.h
    def _forward(self, X, cfg=None, keep=False):
        """Forward pass.  With cfg (training): dropout where p > 0 with key
        rng_key(seed, STREAM_DROPOUT) and counter0 = ((t+1)·L + l)·2³².
        Returns (H, Z, A, M): the inputs H_l of every layer (H_0 = X), Z_l,
        A_l and the masks M_l (None without dropout); with keep=False only
        the output A is kept."""
        L = self.n_layers
        H, Zs, As, Ms = [X], [], [], []
        key = rng_key(cfg["seed"], _enums.STREAM_DROPOUT) if cfg is not None else None
        h = X
        for l, layer in enumerate(self.layers):
            last = l == L - 1
            # Z_l = H_l·W_l + b_l,  A_l = g_l(Z_l)
            Z, A = dense_forward(h, self.weights(l), self.biases(l), layer["activation"],
                                 layer["act_param"], keep_z=keep or last)
            M = None
            h = A
            if cfg is not None and layer["dropout"] > 0:
                # D_l = dropout(copy of A_l); D_l feeds layer l+1
                h = A.copy()
                c0 = (((self._t + 1) * L + l) << 32) & _U64_MAX
                M = dropout_forward(layer["dropout"], key, c0, h)
            if keep:
                Zs.append(Z)
                As.append(A)
                Ms.append(M)
                if not last:
                    H.append(h)
            elif last:
                Zs, As = [Z], [A]
        return H, Zs, As, Ms

    # mirror of net_penalty in csrc/net_tmpl.h
    def _penalty(self, l2, l1, W):
        """λ/(2W)·Σ‖W_l‖² + l1/W·Σ|W_l| in double (squares and absolute
        values of the weights converted to double; pairwise sums, where C
        keeps one running sum); 0 when λ = l1 = 0."""
        if l2 == 0 and l1 == 0:
            return 0.0
        sq = ab = 0.0
        for l in range(self.n_layers):
            x = self.weights(l).reshape(-1).astype(np.float64)
            if l2 != 0:
                sq += _dsum(np.square(x, out=x) if l1 == 0 else x * x)
            if l1 != 0:
                ab += _dsum(np.abs(x, out=x))
        pen = 0.0
        if l2 != 0:
            pen += l2 / (2.0 * W) * sq
        if l1 != 0:
            pen += l1 / W * ab
        return pen

    # mirror of net_step (steps 1-4) and net_backward in csrc/net_tmpl.h
    def _gradients(self, cfg, X, Y, sw, dropout=True):
        """Steps 1-4 of a training step: (value, penalty, W, grads) with
        grads [(dW_l, db_l) ...], or grads None when the loss is not finite.
        Nothing is modified."""
        L = self.n_layers
        H, Zs, As, Ms = self._forward(X, cfg if dropout else None, keep=True)
        out = self.layers[-1]
        W = _total_weight(sw, X.shape[0])
        # step 2: value and dZ_{L−1}
        value, dZ = loss(cfg["loss"], out["activation"], Zs[-1], As[-1], Y, sw,
                         out["act_param"])
        if not math.isfinite(value):
            return value, 0.0, W, None
        # step 3: penalty from the weights before the update
        pen = self._penalty(cfg["l2"], cfg["l1"], W)
        # step 4: backward, l = L−1 … 0
        grads = [None] * L
        for l in range(L - 1, -1, -1):
            dW, db, dH = dense_backward(dZ, H[l], self.weights(l), need_dx=l > 0)
            grads[l] = (dW, db)
            if l == 0:
                break
            prev = self.layers[l - 1]
            if Ms[l - 1] is not None:
                dH *= Ms[l - 1]  # dH = dH ⊙ M_{l−1}
            # dZ_{l−1} = g'_{l−1} applied to dH
            dZ = act_backward(prev["activation"], dH, As[l - 1], Zs[l - 1], prev["act_param"])
        return value, pen, W, grads

    # mirror of net_update in csrc/net_tmpl.h
    def _update(self, opt, grads, l2c, l1c):
        """Step 5: t = t + 1; per layer W_l then b_l through the optimiser
        with the state slices of the same span; mean |dW_l|, |db_l|."""
        t = self._t + 1
        L = self.n_layers
        gw, gb = np.zeros(L), np.zeros(L)
        p, s1, s2 = self._params, self._state[0], self._state[1]
        for l, (dW, db) in enumerate(grads):
            for span, g, a2, a1, stat in ((self._w_span(l), dW, l2c, l1c, gw),
                                          (self._b_span(l), db, 0.0, 0.0, gb)):
                asum = _optim_step(opt, t, p[span], g.reshape(-1), s1[span], s2[span], a2, a1)
                stat[l] = asum / g.size
        self._t = t
        return gw, gb

    def _step(self, cfg, X, Y, sw):
        """One step on a checked batch: (value, (pen, W, gw, gb)), or
        (value, None) when the loss is not finite (nothing updated)."""
        value, pen, W, grads = self._gradients(cfg, X, Y, sw)
        if grads is None:
            return value, None
        gw, gb = self._update(cfg["optimizer"], grads, cfg["l2"] / W, cfg["l1"] / W)
        return value, (pen, W, gw, gb)

    # -- public operations -----------------------------------------------------

    # mirror of fm_net_predict in csrc/net.c
    def predict(self, X):
        """Network output for X (n, n_in) in the network's dtype, no dropout.

        Mirror of ``fm_net_predict`` (csrc/net.c).

        Parameters
        ----------
        X : ndarray (n, n_in), of the network's dtype

        Returns
        -------
        ndarray (n, n_out)

        Raises
        ------
        ValueError
            If X holds a NaN or an infinity (as fm_net_predict's scan).
        """
        X = self._inputs(X)
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinity")
        return self._forward(X)[2][-1]

    # mirror of fm_net_train_step in csrc/net.c
    def train_step(self, cfg, X, Y, sw=None):
        """One optimiser step on the batch (X, Y, sw).

        Mirror of ``fm_net_train_step`` (csrc/net.c): forward with dropout,
        loss, penalty, backward, then t = t + 1 and the update of every
        layer (MATH.md "Network training").

        Parameters
        ----------
        cfg : dict
            ``{"loss", "optimizer", "l2", "l1", "batch_size", "shuffle",
            "seed"}`` (see ``fastmlp._spec.normalize_cfg``).
        X : ndarray (n, n_in)
        Y : ndarray (n, n_out)
        sw : ndarray (n,), optional

        Returns
        -------
        dict
            ``loss``, ``penalty``, ``n_batches`` (1), ``t``, ``grad_w``,
            ``grad_b`` (per-layer mean |gradient|).  A non-finite loss
            updates nothing and returns zero statistics with
            ``nonfinite=True`` and ``batch=0``.

        Raises
        ------
        ValueError
            For a bad cfg or batch, or a flat activation on the gradient
            path.
        """
        cfg = self._cfg(cfg, train=True)
        X, Y, sw = self._batch(X, Y, sw)
        L = self.n_layers
        value, res = self._step(cfg, X, Y, sw)
        if res is None:
            return {"loss": 0.0, "penalty": 0.0, "n_batches": 0, "t": self._t,
                    "grad_w": np.zeros(L), "grad_b": np.zeros(L),
                    "nonfinite": True, "batch": 0}
        pen, _, gw, gb = res
        return {"loss": value, "penalty": pen, "n_batches": 1, "t": self._t,
                "grad_w": gw, "grad_b": gb}

    # mirror of the permutation in fm_net_train_epoch (csrc/net.c)
    def _permutation(self, cfg, n, epoch):
        """Indices sorted by u64(key(seed, 2), e·n + i), ties by index
        (stable), when shuffling; else the identity."""
        if not cfg["shuffle"]:
            return None
        key = rng_key(cfg["seed"], _enums.STREAM_SHUFFLE)
        with np.errstate(over="ignore"):
            c = np.arange(n, dtype=np.uint64) + np.uint64((epoch * n) & _U64_MAX)
        return np.argsort(_u64_mix(np.uint64(key), c), kind="stable")

    # mirror of fm_net_train_epoch in csrc/net.c
    def train_epoch(self, cfg, X, Y, sw=None, epoch=0, should_stop=None):
        """One epoch: permutation, batches of cfg["batch_size"], one step each.

        Mirror of ``fm_net_train_epoch`` (csrc/net.c).

        Parameters
        ----------
        cfg : dict
            As in :meth:`train_step`.
        X, Y, sw : ndarray
            As in :meth:`train_step`.
        epoch : int
            Epoch index (>= 0): selects the permutation.
        should_stop : callable, optional
            ``should_stop(batch_index) -> bool``, called after every
            batch's update (the last included); True ends the epoch there.

        Returns
        -------
        dict
            ``loss`` = Σ_b value_b·W_b / Σ_b W_b, ``penalty`` likewise,
            ``n_batches`` run, ``t``, ``grad_w``, ``grad_b`` (means over
            the batches).  A stop request adds ``interrupted=True``; a
            non-finite loss adds ``nonfinite=True`` and ``batch`` (its
            index), the parameters being those before that batch.  With no
            batch completed, loss and penalty are 0.

        Raises
        ------
        ValueError
            For a bad cfg, batch or epoch.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
        cfg = self._cfg(cfg, train=True)
        X, Y, sw = self._batch(X, Y, sw)
        n, L = X.shape[0], self.n_layers
        bs = min(cfg["batch_size"], n)
        perm = self._permutation(cfg, n, int(epoch))
        sum_vw = sum_pw = sum_w = 0.0
        gw, gb = np.zeros(L), np.zeros(L)
        nb, flags = 0, {}
        for start in range(0, n, bs):
            if perm is None:
                rows = slice(start, start + bs)
                Xb, Yb = X[rows], Y[rows]
                swb = None if sw is None else sw[rows]
            else:
                idx = perm[start:start + bs]
                Xb, Yb = X[idx], Y[idx]
                swb = None if sw is None else sw[idx]
            value, res = self._step(cfg, Xb, Yb, swb)
            if res is None:
                flags = {"nonfinite": True, "batch": nb}
                break
            pen, Wb, gwb, gbb = res
            nb += 1
            sum_vw += value * Wb
            sum_pw += pen * Wb
            sum_w += Wb
            gw += gwb
            gb += gbb
            # honoured after the update, so the stats include this batch
            if should_stop is not None and should_stop(nb - 1):
                flags = {"interrupted": True}
                break
        if nb > 0:
            gw /= nb
            gb /= nb
        stats = {"loss": sum_vw / sum_w if sum_w > 0 else 0.0,
                 "penalty": sum_pw / sum_w if sum_w > 0 else 0.0,
                 "n_batches": nb, "t": self._t, "grad_w": gw, "grad_b": gb}
        stats.update(flags)
        return stats

    # mirror of fm_net_evaluate in csrc/net.c
    def evaluate(self, cfg, X, Y, sw=None):
        """(mean loss, penalty) on (X, Y, sw) without dropout or update.

        Mirror of ``fm_net_evaluate`` (csrc/net.c); the penalty uses
        W = Σw of this data.  (C evaluates in near-equal chunks of at most
        128 rows and re-weights them, which rounds the reported value
        differently.)

        Returns
        -------
        (float, float)
        """
        cfg = self._cfg(cfg, train=False)
        X, Y, sw = self._batch(X, Y, sw)
        out = self.layers[-1]
        _, Zs, As, _ = self._forward(X)
        value, _ = loss(cfg["loss"], out["activation"], Zs[-1], As[-1], Y, sw,
                        out["act_param"], grad=False)
        return value, self._penalty(cfg["l2"], cfg["l1"], _total_weight(sw, X.shape[0]))

    # mirror of fm_net_loss_grad (declared in csrc/fastmlp.h)
    def loss_grad(self, cfg, X, Y, sw=None):
        """Full-batch objective (loss + penalty) and its flat gradient at the
        current parameters, without dropout or update (for L-BFGS).

        Mirror of ``fm_net_loss_grad`` (csrc/fastmlp.h).  The gradient of
        the weights includes the penalty as the optimiser adds it:
        ``(dW + T(λ/W)·W) + T(l1/W)·sign(W)``.

        Returns
        -------
        value : float
        grad : ndarray (n_params,), the network's dtype, flat layout
        """
        cfg = self._cfg(cfg, train=False)
        X, Y, sw = self._batch(X, Y, sw)
        value, pen, W, grads = self._gradients(cfg, X, Y, sw, dropout=False)
        grad = np.zeros_like(self._params)
        if grads is None:
            grad[...] = np.nan
            return value, grad
        T = self.dtype.type
        l2c, l1c = cfg["l2"] / W, cfg["l1"] / W
        for l, (dW, db) in enumerate(grads):
            g = dW.reshape(-1)
            w = self._params[self._w_span(l)]
            with np.errstate(all="ignore"):
                if l2c != 0:
                    g = g + T(l2c) * w
                if l1c != 0:
                    g = g + T(l1c) * _sign(w)
            grad[self._w_span(l)] = g
            grad[self._b_span(l)] = db
        return value + pen, grad
