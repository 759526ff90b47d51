# cython: language_level=3, boundscheck=False, wraparound=False
"""_core - the thin Cython layer over the C library (csrc/fastmlp.h).

It checks dtypes, shapes and contiguity, allocates outputs, releases the GIL
around every C call and turns C status codes into Python exceptions.  No
numerics live here: every function calls one C function.  Its functions and
the ``Net`` class have the same names and signatures as their mirrors in
``fastmlp.reference`` (the NumPy backend), so tests and models can use
either.
"""

import numbers
import time

import numpy as np

cimport numpy as cnp
from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from fastmlp.cfastmlp cimport *

from fastmlp import _enums
from fastmlp.exceptions import ModelFileError
from fastmlp._spec import check_seed, normalize_cfg, normalize_layers, resolve_param

cnp.import_array()

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------




cdef int check(int status, what) except -1:
    """Raise the Python exception matching a C status; 0 if FM_OK."""
    if status == FM_OK:
        return 0
    msg = f"{what}: {fm_strerror(status).decode()}"
    if status == FM_ERR_NOMEM:
        raise MemoryError(msg)
    if status == FM_ERR_IO:
        raise OSError(msg)
    if status in (FM_ERR_FORMAT, FM_ERR_VERSION, FM_ERR_CHECKSUM):
        raise ModelFileError(msg)
    if status == FM_ERR_ISA:
        raise RuntimeError(msg)
    raise ValueError(msg)


# ---------------------------------------------------------------------------
# Array checks
# ---------------------------------------------------------------------------

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


cdef cnp.ndarray need(arr, str name, dtype, int ndim, bint writable=False):
    """Return arr if it is an ndarray of dtype, ndim, C-contiguous; raise
    TypeError/ValueError naming the problem otherwise."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    if arr.dtype != dtype:
        raise TypeError(f"{name} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    # the C macros, not arr.flags: that builds a flags object per call,
    # which a one-sample predict notices
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>arr):
        raise ValueError(f"{name} must be C-contiguous (use numpy.ascontiguousarray)")
    if writable and not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>arr):
        raise ValueError(f"{name} must be writable")
    return arr


cdef float_dtype(arr, str name):
    """The dtype of arr if it is a float32/float64 ndarray."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    if arr.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} has dtype {arr.dtype}; only float32 and float64 are supported")
    return arr.dtype


cdef inline void *ptr(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


cdef inline void *opt_ptr(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef bint is_f32(dtype):
    return dtype == np.float32


# ---------------------------------------------------------------------------
# CPU dispatch and threads
# ---------------------------------------------------------------------------


def cpu_info():
    """Describe the instruction-set path and threading in use.

    Returns
    -------
    dict
        ``isa`` (path in use), ``isa_detected`` (best the CPU supports),
        ``openmp`` (compiled with OpenMP), ``num_threads``, ``version``.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.cpu_info()["isa"] in ("generic", "avx2", "avx512")
    True
    """
    return {
        "isa": fm_isa_name(fm_isa_active()).decode(),
        "isa_detected": fm_isa_name(fm_isa_detected()).decode(),
        "openmp": bool(fm_has_openmp()),
        "num_threads": fm_get_num_threads(),
        "version": fm_version().decode(),
    }


def set_isa(name):
    """Force the instruction-set path ("generic", "avx2" or "avx512").

    Raises
    ------
    ValueError
        For an unknown name.
    RuntimeError
        If this CPU does not support it.
    """
    code = _enums.code("isa", name)
    check(fm_isa_set(code), f"set_isa({name!r})")


def get_isa():
    """Name of the instruction-set path in use."""
    return fm_isa_name(fm_isa_active()).decode()


def set_num_threads(int n):
    """Set the number of OpenMP threads the kernels use (n >= 1).

    Raises
    ------
    ValueError
        If n < 1.
    """
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    check(fm_set_num_threads(n), "set_num_threads")


def get_num_threads():
    """Number of OpenMP threads the kernels use (1 without OpenMP)."""
    return fm_get_num_threads()


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------


def gemm(A, B, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, C=None):
    """C := alpha·op(A)·op(B) + beta·C (mirror of fm_gemm_*).

    C=None allocates a new output (treated as zeros when beta != 0).
    """
    dt = float_dtype(A, "A")
    cdef bint f32 = is_f32(dt)
    cdef cnp.ndarray a = need(A, "A", dt, 2)
    cdef cnp.ndarray b = need(B, "B", dt, 2)
    cdef int ta = bool(trans_a), tb = bool(trans_b)
    cdef int64_t M = a.shape[1] if ta else a.shape[0]
    cdef int64_t K = a.shape[0] if ta else a.shape[1]
    cdef int64_t Kb = b.shape[1] if tb else b.shape[0]
    cdef int64_t N = b.shape[0] if tb else b.shape[1]
    if K != Kb:
        raise ValueError(f"inner dimensions differ: op(A) is {(M, K)}, op(B) is {(Kb, N)}")
    cdef cnp.ndarray c
    if C is None:
        c = np.zeros((M, N), dtype=dt) if beta != 0 else np.empty((M, N), dtype=dt)
    else:
        c = need(C, "C", dt, 2, writable=True)
        if c.shape[0] != M or c.shape[1] != N:
            raise ValueError(f"C has shape {C.shape}, expected {(M, N)}")
    cdef int64_t lda = a.shape[1], ldb = b.shape[1], ldc = N
    cdef double al = alpha, be = beta
    cdef int st
    cdef void *pa = ptr(a)
    cdef void *pb = ptr(b)
    cdef void *pc = ptr(c)
    with nogil:
        if f32:
            st = fm_gemm_f32(ta, tb, M, N, K, <float>al, <float*>pa, lda,
                             <float*>pb, ldb, <float>be, <float*>pc, ldc)
        else:
            st = fm_gemm_f64(ta, tb, M, N, K, al, <double*>pa, lda,
                             <double*>pb, ldb, be, <double*>pc, ldc)
    check(st, "gemm")
    return c


def all_finite(X):
    """True if no value of X is NaN or infinite (mirror of fm_all_finite_*).

    Reads X in place: no boolean temporary of X's size, as
    ``np.isfinite(X).all()`` makes.

    Parameters
    ----------
    X : ndarray of float32 or float64, C-contiguous, any shape

    Returns
    -------
    bool

    Raises
    ------
    TypeError
        If X is not a float32/float64 ndarray.
    ValueError
        If X is not C-contiguous.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import _core
    >>> _core.all_finite(np.array([1.0, np.inf]))
    False
    """
    dt = float_dtype(X, "X")
    cdef cnp.ndarray x = <cnp.ndarray>X
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        raise ValueError("X must be C-contiguous (use numpy.ascontiguousarray)")
    cdef int64_t n = x.size
    cdef bint f32 = is_f32(dt)
    cdef void *px = ptr(x)
    cdef int ok
    if n < 65536:
        # a few samples: releasing and retaking the GIL costs more than
        # the check
        ok = fm_all_finite_f32(n, <float*>px) if f32 else fm_all_finite_f64(n, <double*>px)
    else:
        with nogil:
            if f32:
                ok = fm_all_finite_f32(n, <float*>px)
            else:
                ok = fm_all_finite_f64(n, <double*>px)
    return bool(ok)


cdef tuple rows_cols(cnp.ndarray a):
    """(rows, cols) of a 1-D (one row) or 2-D array."""
    if a.ndim == 1:
        return 1, a.shape[0]
    return a.shape[0], a.shape[1]


cdef cnp.ndarray need_1d_or_2d(arr, str name, dtype):
    if isinstance(arr, np.ndarray) and arr.ndim == 1:
        return need(arr, name, dtype, 1)
    return need(arr, name, dtype, 2)


def act_forward(act, Z, param=None):
    """A = g(Z) element-wise (softmax per row) (mirror of fm_act_forward_*)."""
    name = _enums.canonical("activation", act)
    cdef int code = _enums.ACTIVATIONS[name]
    cdef double p = resolve_param(name, param)
    dt = float_dtype(Z, "Z")
    cdef bint f32 = is_f32(dt)
    cdef cnp.ndarray z = need_1d_or_2d(Z, "Z", dt)
    cdef cnp.ndarray a = np.empty_like(z)
    rows, cols = rows_cols(z)
    cdef int64_t r = rows, c = cols
    cdef int st
    cdef void *pz = ptr(z)
    cdef void *pa = ptr(a)
    with nogil:
        if f32:
            st = fm_act_forward_f32(code, p, r, c, <float*>pz, c, <float*>pa, c)
        else:
            st = fm_act_forward_f64(code, p, r, c, <double*>pz, c, <double*>pa, c)
    check(st, f"act_forward({name!r})")
    return a


def act_backward(act, dA, A=None, Z=None, param=None):
    """dZ = dA ⊙ g'(Z) (mirror of fm_act_backward_*).  A is needed by every
    activation except gelu, which needs Z."""
    name = _enums.canonical("activation", act)
    if name in _enums.FLAT:
        raise ValueError(
            f"activation {name!r} has zero derivative everywhere: gradient training "
            "cannot pass through it (use fastmlp.Perceptron for step/sign units)")
    cdef int code = _enums.ACTIVATIONS[name]
    cdef double p = resolve_param(name, param)
    dt = float_dtype(dA, "dA")
    cdef bint f32 = is_f32(dt)
    cdef cnp.ndarray da = need_1d_or_2d(dA, "dA", dt)
    cdef cnp.ndarray a = None, z = None
    if A is not None:
        a = need(A, "A", dt, da.ndim)
        if A.shape != dA.shape:
            raise ValueError(f"A has shape {A.shape}, dA has {dA.shape}")
    if Z is not None:
        z = need(Z, "Z", dt, da.ndim)
        if Z.shape != dA.shape:
            raise ValueError(f"Z has shape {Z.shape}, dA has {dA.shape}")
    if name in _enums.NEEDS_Z and z is None:
        raise ValueError(f"act_backward({name!r}) needs Z")
    if name not in _enums.NEEDS_Z and name != "identity" and a is None:
        raise ValueError(f"act_backward({name!r}) needs A")
    cdef cnp.ndarray dz = np.empty_like(da)
    rows, cols = rows_cols(da)
    cdef int64_t r = rows, c = cols
    cdef int st
    cdef void *pz = opt_ptr(z)
    cdef void *pa = opt_ptr(a)
    cdef void *pda = ptr(da)
    cdef void *pdz = ptr(dz)
    with nogil:
        if f32:
            st = fm_act_backward_f32(code, p, r, c, <float*>pz, <float*>pa,
                                     <float*>pda, <float*>pdz)
        else:
            st = fm_act_backward_f64(code, p, r, c, <double*>pz, <double*>pa,
                                     <double*>pda, <double*>pdz)
    check(st, f"act_backward({name!r})")
    return dz


def loss(loss, out_act, Z, A, Y, sw=None, act_param=None, grad=True):
    """Loss value and its gradient w.r.t. the output pre-activation Z
    (mirror of fm_loss_*).  Returns (value, dZ or None)."""
    lname = _enums.canonical("loss", loss)
    aname = _enums.canonical("activation", out_act)
    dt = float_dtype(Z, "Z")
    cdef bint f32 = is_f32(dt)
    cdef cnp.ndarray z = need(Z, "Z", dt, 2)
    cdef cnp.ndarray a = need(A, "A", dt, 2)
    cdef cnp.ndarray y = need(Y, "Y", dt, 2)
    if A.shape != Z.shape or Y.shape != Z.shape:
        raise ValueError(f"Z, A and Y must have one shape, got {Z.shape}, {A.shape}, {Y.shape}")
    cdef cnp.ndarray w = None
    if sw is not None:
        w = need(sw, "sw", dt, 1)
        if sw.shape[0] != Z.shape[0]:
            raise ValueError(f"sw has {sw.shape[0]} entries for {Z.shape[0]} rows")
    cdef cnp.ndarray dz = np.empty_like(z) if grad else None
    cdef int lc = _enums.LOSSES[lname], ac = _enums.ACTIVATIONS[aname]
    cdef double p = resolve_param(aname, act_param)
    cdef int64_t n = z.shape[0], k = z.shape[1]
    cdef double value = 0.0
    cdef int st
    cdef void *pz = ptr(z)
    cdef void *pa = ptr(a)
    cdef void *py = ptr(y)
    cdef void *pw = opt_ptr(w)
    cdef void *pdz = opt_ptr(dz)
    with nogil:
        if f32:
            st = fm_loss_f32(lc, ac, p, n, k, <float*>pz, <float*>pa, <float*>py,
                             <float*>pw, &value, <float*>pdz)
        else:
            st = fm_loss_f64(lc, ac, p, n, k, <double*>pz, <double*>pa, <double*>py,
                             <double*>pw, &value, <double*>pdz)
    check(st, f"loss({lname!r}, output {aname!r})")
    return value, dz


def dense_forward(X, W, b, act, act_param=None, keep_z=True):
    """Z = X·W + b, A = g(Z) (mirror of fm_dense_forward_*).
    Returns (Z or None, A)."""
    name = _enums.canonical("activation", act)
    dt = float_dtype(X, "X")
    cdef bint f32 = is_f32(dt)
    cdef cnp.ndarray x = need(X, "X", dt, 2)
    cdef cnp.ndarray w = need(W, "W", dt, 2)
    cdef cnp.ndarray bb = need(b, "b", dt, 1)
    if W.shape[0] != X.shape[1]:
        raise ValueError(f"X has {X.shape[1]} columns but W has {W.shape[0]} rows")
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"b has {b.shape[0]} entries for {W.shape[1]} outputs")
    cdef int64_t n = x.shape[0], n_in = x.shape[1], n_out = w.shape[1]
    cdef cnp.ndarray a = np.empty((n, n_out), dtype=dt)
    cdef cnp.ndarray z = np.empty((n, n_out), dtype=dt) if keep_z else None
    cdef int code = _enums.ACTIVATIONS[name]
    cdef double p = resolve_param(name, act_param)
    cdef int st
    cdef void *pz = opt_ptr(z)
    cdef void *pa = ptr(a)
    cdef void *px = ptr(x)
    cdef void *pw = ptr(w)
    cdef void *pb = ptr(bb)
    with nogil:
        if f32:
            st = fm_dense_forward_f32(<float*>pz, <float*>pa, <float*>px, n_in,
                                      <float*>pw, <float*>pb, n, n_in, n_out, code, p)
        else:
            st = fm_dense_forward_f64(<double*>pz, <double*>pa, <double*>px, n_in,
                                      <double*>pw, <double*>pb, n, n_in, n_out, code, p)
    check(st, "dense_forward")
    return z, a


def dense_backward(dZ, X, W, need_dx=True):
    """dW = Xᵀ·dZ, db = Σ_rows dZ, dX = dZ·Wᵀ (mirror of fm_dense_backward_*).
    Returns (dW, db, dX or None)."""
    dt = float_dtype(dZ, "dZ")
    cdef bint f32 = is_f32(dt)
    cdef cnp.ndarray dz = need(dZ, "dZ", dt, 2)
    cdef cnp.ndarray x = need(X, "X", dt, 2)
    cdef cnp.ndarray w = need(W, "W", dt, 2)
    if X.shape[0] != dZ.shape[0] or W.shape != (X.shape[1], dZ.shape[1]):
        raise ValueError(f"shapes do not agree: dZ {dZ.shape}, X {X.shape}, W {W.shape}")
    cdef int64_t n = x.shape[0], n_in = x.shape[1], n_out = dz.shape[1]
    cdef cnp.ndarray dw = np.empty((n_in, n_out), dtype=dt)
    cdef cnp.ndarray db = np.empty(n_out, dtype=dt)
    cdef cnp.ndarray dx = np.empty((n, n_in), dtype=dt) if need_dx else None
    cdef int st
    cdef void *pdw = ptr(dw)
    cdef void *pdb = ptr(db)
    cdef void *pdx = opt_ptr(dx)
    cdef void *pdz = ptr(dz)
    cdef void *px = ptr(x)
    cdef void *pw = ptr(w)
    with nogil:
        if f32:
            st = fm_dense_backward_f32(<float*>pdw, <float*>pdb, <float*>pdx, <float*>pdz,
                                       <float*>px, n_in, <float*>pw, n, n_in, n_out)
        else:
            st = fm_dense_backward_f64(<double*>pdw, <double*>pdb, <double*>pdx,
                                       <double*>pdz, <double*>px, n_in, <double*>pw,
                                       n, n_in, n_out)
    check(st, "dense_backward")
    return dw, db, dx


_OPT_FIELDS = ("lr", "momentum", "beta1", "beta2", "eps", "weight_decay",
               "nesterov", "eps_inside_sqrt")


def optim_defaults(kind):
    """The C library's default hyper-parameters for an optimiser kind."""
    name = _enums.canonical("optimizer", kind)
    cdef fm_optim_t o
    check(fm_optim_defaults(_enums.OPTIMIZERS[name], &o), f"optim_defaults({name!r})")
    return {"kind": name, "lr": o.lr, "momentum": o.momentum, "beta1": o.beta1,
            "beta2": o.beta2, "eps": o.eps, "weight_decay": o.weight_decay,
            "nesterov": bool(o.nesterov), "eps_inside_sqrt": bool(o.eps_inside_sqrt)}


cdef fm_optim_t optim_struct(dict opt) except *:
    """fm_optim_t from a (partial) optimiser dict, defaults filled by C."""
    full = optim_defaults(opt.get("kind", "sgd"))
    unknown = set(opt) - set(full)
    if unknown:
        raise ValueError(f"unknown optimizer option(s): {sorted(unknown)}")
    full.update(opt)
    cdef fm_optim_t o
    o.kind = _enums.OPTIMIZERS[_enums.canonical("optimizer", full["kind"])]
    o.lr = full["lr"]
    o.momentum = full["momentum"]
    o.beta1 = full["beta1"]
    o.beta2 = full["beta2"]
    o.eps = full["eps"]
    o.weight_decay = full["weight_decay"]
    o.nesterov = bool(full["nesterov"])
    o.eps_inside_sqrt = bool(full["eps_inside_sqrt"])
    return o


def optim_n_state(opt):
    """Number of state buffers the optimiser needs (0, 1 or 2)."""
    cdef fm_optim_t o = optim_struct(dict(opt))
    return fm_optim_n_state(&o)


def optim_step(opt, t, w, g, s1=None, s2=None, l2=0.0, l1=0.0):
    """One fused update of w (in place) from g; s1/s2 updated in place.
    Returns Σ|g| of the raw gradient (mirror of fm_optim_step_*)."""
    cdef fm_optim_t o = optim_struct(dict(opt))
    dt = float_dtype(w, "w")
    cdef bint f32 = is_f32(dt)
    cdef cnp.ndarray ww = need(w, "w", dt, 1, writable=True)
    cdef cnp.ndarray gg = need(g, "g", dt, 1)
    cdef int64_t n = ww.shape[0]
    if gg.shape[0] != n:
        raise ValueError(f"g has {gg.shape[0]} entries for {n} parameters")
    cdef cnp.ndarray a1 = None, a2 = None
    if s1 is not None:
        a1 = need(s1, "s1", dt, 1, writable=True)
        if a1.shape[0] != n:
            raise ValueError(f"s1 has {a1.shape[0]} entries for {n} parameters")
    if s2 is not None:
        a2 = need(s2, "s2", dt, 1, writable=True)
        if a2.shape[0] != n:
            raise ValueError(f"s2 has {a2.shape[0]} entries for {n} parameters")
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or not 1 <= t < 2**62:
        raise ValueError(f"step count t must be an integer >= 1, got {t!r}")
    cdef int64_t tt = t
    cdef double cl2 = l2, cl1 = l1, abs_sum = 0.0
    cdef int st
    cdef void *pw = ptr(ww)
    cdef void *pg = ptr(gg)
    cdef void *p1 = opt_ptr(a1)
    cdef void *p2 = opt_ptr(a2)
    with nogil:
        if f32:
            st = fm_optim_step_f32(&o, tt, n, <float*>pw, <float*>pg, <float*>p1,
                                   <float*>p2, cl2, cl1, &abs_sum)
        else:
            st = fm_optim_step_f64(&o, tt, n, <double*>pw, <double*>pg, <double*>p1,
                                   <double*>p2, cl2, cl1, &abs_sum)
    check(st, "optim_step")
    return abs_sum


def rng_key(uint64_t seed, uint64_t stream):
    """Key of an independent random stream (mirror of fm_rng_key)."""
    return fm_rng_key(seed, stream)


def rng_u64(uint64_t key, counters):
    """fm_rng_u64 for an int or an array of counters (uint64 array)."""
    if np.isscalar(counters):
        return fm_rng_u64(key, <uint64_t>counters)
    cdef cnp.ndarray c = np.ascontiguousarray(counters, dtype=np.uint64)
    cdef cnp.ndarray out = np.empty(c.shape[0] if c.ndim else 1, dtype=np.uint64)
    cdef uint64_t[::1] cv = c.reshape(-1)
    cdef uint64_t[::1] ov = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(cv.shape[0]):
            ov[i] = fm_rng_u64(key, cv[i])
    return out.reshape(np.shape(counters))


ctypedef double (*rng_double_fn)(uint64_t key, uint64_t counter) noexcept nogil


cdef object rng_doubles(rng_double_fn draw, uint64_t key, counters):
    """draw(key, c) for an int or an array of counters (float64 array)."""
    if np.isscalar(counters):
        return draw(key, <uint64_t>counters)
    cdef cnp.ndarray c = np.ascontiguousarray(counters, dtype=np.uint64).reshape(-1)
    cdef cnp.ndarray out = np.empty(c.shape[0], dtype=np.float64)
    cdef uint64_t[::1] cv = c
    cdef double[::1] ov = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(cv.shape[0]):
            ov[i] = draw(key, cv[i])
    return out.reshape(np.shape(counters))


def rng_uniform(uint64_t key, counters):
    """Uniform doubles in [0, 1) (mirror of fm_rng_uniform)."""
    return rng_doubles(fm_rng_uniform, key, counters)


def rng_normal(uint64_t key, counters):
    """Standard normal doubles (mirror of fm_rng_normal)."""
    return rng_doubles(fm_rng_normal, key, counters)


def init_layer(init, uint64_t key, int64_t fan_in, int64_t fan_out, gain_sigmoid, dtype):
    """Initial (W, b) of one layer (mirror of fm_init_layer_*)."""
    name = _enums.canonical("initializer", init)
    dt = np.dtype(dtype)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    cdef bint f32 = is_f32(dt)
    if fan_in < 1 or fan_out < 1:
        raise ValueError(f"fan_in and fan_out must be >= 1, got {fan_in}, {fan_out}")
    cdef cnp.ndarray W = np.empty((fan_in, fan_out), dtype=dt)
    cdef cnp.ndarray b = np.empty(fan_out, dtype=dt)
    cdef int code = _enums.INITIALIZERS[name], gs = bool(gain_sigmoid), st
    cdef void *pw = ptr(W)
    cdef void *pb = ptr(b)
    with nogil:
        if f32:
            st = fm_init_layer_f32(code, key, fan_in, fan_out, gs, <float*>pw, <float*>pb)
        else:
            st = fm_init_layer_f64(code, key, fan_in, fan_out, gs, <double*>pw, <double*>pb)
    check(st, f"init_layer({name!r})")
    return W, b


def dropout_forward(double p, uint64_t key, uint64_t counter0, A):
    """Inverted dropout on A in place; returns the mask (mirror of
    fm_dropout_forward_*)."""
    dt = float_dtype(A, "A")
    cdef bint f32 = is_f32(dt)
    cdef cnp.ndarray a = need_1d_or_2d(A, "A", dt)
    if not A.flags.writeable:
        raise ValueError("A must be writable")
    cdef cnp.ndarray mask = np.empty_like(a)
    rows, cols = rows_cols(a)
    cdef int64_t r = rows, c = cols
    cdef int st
    cdef void *pa = ptr(a)
    cdef void *pm = ptr(mask)
    with nogil:
        if f32:
            st = fm_dropout_forward_f32(p, key, counter0, r, c, <float*>pa, <float*>pm)
        else:
            st = fm_dropout_forward_f64(p, key, counter0, r, c, <double*>pa, <double*>pm)
    check(st, "dropout_forward")
    return mask


# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------

# Python signal handlers (Ctrl-C) run only when the GIL is taken; during an
# epoch the C loop calls back between batches, and the callback takes the
# GIL at most this often when no Python should_stop is given.
cdef double SIGNAL_CHECK_SECONDS = 0.05


cdef struct StopCtx:
    void *callback      # borrowed PyObject* (the should_stop callable) or NULL
    void *errors        # borrowed PyObject* (a list collecting exceptions)
    double last_check


cdef double monotonic() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + 1e-9 * ts.tv_nsec


cdef int run_python_checks(StopCtx *c, int64_t batch) except -1:
    if PyErr_CheckSignals() != 0:
        return -1
    if c.callback != NULL and (<object>c.callback)(batch):
        return 1
    return 0


cdef int should_stop_cb(void *ctx, int64_t batch) noexcept nogil:
    cdef StopCtx *c = <StopCtx*>ctx
    cdef double now = monotonic()
    if c.callback == NULL and now - c.last_check < SIGNAL_CHECK_SECONDS:
        return 0
    c.last_check = now
    with gil:
        try:
            return run_python_checks(c, batch)
        except BaseException as exc:
            (<object>c.errors).append(exc)
            return 1


cdef class Net:
    """A network in C: one flat parameter buffer, prediction and training.

    Same API as ``fastmlp.reference.Net`` (the NumPy mirror).

    Parameters
    ----------
    dtype : {numpy.float32, numpy.float64}
    n_in : int
        Number of inputs.
    layers : list of dict
        ``{"units", "activation", "act_param", "init", "dropout"}`` per
        dense layer (see ``fastmlp._spec.normalize_layers``).

    Raises
    ------
    ValueError
        For an invalid layer description.
    MemoryError
        For sizes that cannot be allocated.
    """

    cdef fm_net_t *net
    cdef readonly object dtype
    cdef readonly list layers
    cdef object _params
    cdef int _busy    # 1 while an epoch/step runs (GIL released)
    cdef int _readers # predict calls in flight (GIL released)

    def __cinit__(self):
        self.net = NULL
        self._busy = 0
        self._readers = 0

    def __init__(self, dtype, n_in, layers):
        self.dtype = np.dtype(dtype)
        if self.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.layers = normalize_layers(n_in, layers)
        self._create(n_in)

    cdef _create(self, int64_t n_in):
        cdef int L = len(self.layers)
        cdef fm_layer_t *specs = <fm_layer_t*>malloc(L * sizeof(fm_layer_t))
        if specs == NULL:
            raise MemoryError("cannot allocate layer descriptions")
        cdef int status = 0
        try:
            for i, layer in enumerate(self.layers):
                specs[i].units = layer["units"]
                specs[i].act = _enums.ACTIVATIONS[layer["activation"]]
                specs[i].act_param = layer["act_param"]
                specs[i].init = _enums.INITIALIZERS[layer["init"]]
                specs[i].dropout = layer["dropout"]
            self.net = fm_net_create(FM_F32 if is_f32(self.dtype) else FM_F64,
                                     n_in, L, specs, &status)
        finally:
            free(specs)
        if self.net == NULL:
            check(status if status != FM_OK else FM_ERR_NOMEM, "Net")
        self._params = self._view(fm_net_params(self.net), fm_net_n_params(self.net))

    def __dealloc__(self):
        fm_net_free(self.net)

    cdef object _view(self, void *data, int64_t n):
        """A 1-D NumPy view of n elements at data that keeps self alive."""
        cdef cnp.npy_intp dims = n
        typenum = cnp.NPY_FLOAT32 if is_f32(self.dtype) else cnp.NPY_FLOAT64
        arr = cnp.PyArray_SimpleNewFromData(1, &dims, typenum, data)
        cnp.set_array_base(arr, self)
        return arr

    @property
    def n_in(self):
        return fm_net_n_in(self.net)

    @property
    def n_out(self):
        return fm_net_n_out(self.net)

    @property
    def n_layers(self):
        return fm_net_n_layers(self.net)

    @property
    def n_params(self):
        return fm_net_n_params(self.net)

    @property
    def params(self):
        """The flat parameter buffer [W0, b0, W1, b1, ...] (a writable view)."""
        return self._params

    def weights(self, int l):
        """W_l as an (fan_in, fan_out) view of the flat buffer."""
        self._check_layer(l)
        cdef int64_t off = fm_net_weight_offset(self.net, l)
        fan_in = self.n_in if l == 0 else self.layers[l - 1]["units"]
        fan_out = self.layers[l]["units"]
        return self._params[off:off + fan_in * fan_out].reshape(fan_in, fan_out)

    def biases(self, int l):
        """b_l as a (fan_out,) view of the flat buffer."""
        self._check_layer(l)
        cdef int64_t off = fm_net_bias_offset(self.net, l)
        return self._params[off:off + self.layers[l]["units"]]

    def _check_layer(self, int l):
        if not 0 <= l < len(self.layers):
            raise IndexError(f"layer {l} out of range for {len(self.layers)} layers")

    @property
    def t(self):
        """Optimiser step count."""
        return fm_net_step_count(self.net)

    @t.setter
    def t(self, value):
        check(fm_net_set_step_count(self.net, value), "t")

    def opt_state(self, int s):
        """Optimiser state buffer s (0 or 1) as a flat view, or None."""
        if s not in (0, 1):
            raise IndexError(f"optimizer state index must be 0 or 1, got {s}")
        cdef void *p = fm_net_opt_state(self.net, s)
        if p == NULL:
            return None
        return self._view(p, fm_net_n_params(self.net))

    def reset_optimizer(self):
        """Zero the optimiser state and the step count."""
        self._not_busy()
        fm_net_reset_optimizer(self.net)

    def init(self, seed):
        """Initialise every layer from seed; resets the optimiser."""
        self._not_busy()
        cdef uint64_t s = check_seed(seed)
        check(fm_net_init(self.net, s), "init")

    cdef _not_busy(self):
        if self._busy:
            raise RuntimeError("this network is being trained in another thread; "
                               "wait for fit to finish")

    # Readers (predict, evaluate) and training exclude each other through
    # two counters that are only touched under the GIL.  A reader counts
    # itself first and then checks for training; training marks itself
    # first and then waits for the readers already counted: whichever way
    # two threads interleave, no reader runs while the weights change, and
    # training is never refused because of a reader, only delayed by the
    # readers in flight (new ones are refused meanwhile).
    cdef _begin_read(self):
        self._readers += 1
        if self._busy:
            self._readers -= 1
            self._not_busy()

    cdef _end_read(self):
        self._readers -= 1

    cdef _begin_training(self):
        self._not_busy()
        self._busy = 1
        try:
            while self._readers:
                time.sleep(0.0002)  # releases the GIL: the readers can finish
        except BaseException:  # Ctrl-C while waiting: not training after all
            self._busy = 0
            raise

    cdef cnp.ndarray _inputs(self, X, str name="X"):
        cdef cnp.ndarray x = need(X, name, self.dtype, 2)
        if x.shape[1] != fm_net_n_in(self.net):
            raise ValueError(f"{name} has {x.shape[1]} features, the network expects "
                             f"{fm_net_n_in(self.net)}")
        return x

    cdef tuple _batch(self, X, Y, sw):
        cdef cnp.ndarray x = self._inputs(X)
        cdef cnp.ndarray y = need(Y, "Y", self.dtype, 2)
        if y.shape[0] != x.shape[0] or y.shape[1] != fm_net_n_out(self.net):
            raise ValueError(f"Y has shape {Y.shape}, expected ({x.shape[0]}, "
                             f"{fm_net_n_out(self.net)})")
        cdef cnp.ndarray w = None
        if sw is not None:
            w = need(sw, "sw", self.dtype, 1)
            if w.shape[0] != x.shape[0]:
                raise ValueError(f"sw has {w.shape[0]} entries for {x.shape[0]} samples")
        return x, y, w

    def predict(self, X):
        """Network output for X (n, n_in) in the network's dtype; ValueError
        if X holds a NaN or an infinity (found by the C pass itself)."""
        self._not_busy()
        cdef cnp.ndarray x = self._inputs(X)
        cdef int64_t n = x.shape[0], ldx = x.shape[1]
        cdef cnp.ndarray out = np.empty((n, fm_net_n_out(self.net)), dtype=self.dtype)
        cdef int st
        cdef void *px = ptr(x)
        cdef void *po = ptr(out)
        self._begin_read()
        try:
            with nogil:
                st = fm_net_predict(self.net, n, px, ldx, po)
        finally:
            self._end_read()
        if st == FM_ERR_NONFINITE:
            raise ValueError("X contains NaN or infinity")
        check(st, "predict")
        return out

    def train_step(self, cfg, X, Y, sw=None):
        """One optimiser step on a batch; returns the step's statistics."""
        return self._train(cfg, X, Y, sw, -1, None)

    def train_epoch(self, cfg, X, Y, sw=None, epoch=0, should_stop=None):
        """One epoch over (X, Y); returns the epoch's statistics.

        Statistics: ``loss``, ``penalty``, ``n_batches``, ``t``, ``grad_w``
        and ``grad_b`` (per-layer mean absolute gradients), and
        ``interrupted`` / ``nonfinite`` (with ``batch``) when the epoch
        stopped early.  A KeyboardInterrupt during the epoch is re-raised
        after the batch in progress, with the weights reached so far.
        """
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        return self._train(cfg, X, Y, sw, epoch, should_stop)

    cdef dict _train(self, cfg, X, Y, sw, int64_t epoch, should_stop):
        self._not_busy()
        cdef fm_train_cfg_t c = self._cfg_struct(cfg)
        x, y, w = self._batch(X, Y, sw)
        errors = []
        cdef StopCtx ctx
        ctx.callback = <void*>should_stop if should_stop is not None else NULL
        ctx.errors = <void*>errors
        ctx.last_check = monotonic()
        c.should_stop = should_stop_cb
        c.ctx = &ctx
        L = fm_net_n_layers(self.net)
        cdef cnp.ndarray grad_w = np.zeros(L), grad_b = np.zeros(L)
        cdef fm_epoch_stats_t stats
        memset(&stats, 0, sizeof(stats))
        stats.grad_w = <double*>ptr(grad_w)
        stats.grad_b = <double*>ptr(grad_b)
        cdef int64_t n = (<cnp.ndarray>x).shape[0]
        cdef void *px = ptr(x)
        cdef void *py = ptr(y)
        cdef void *pw = opt_ptr(w)
        cdef int st
        self._begin_training()
        try:
            with nogil:
                if epoch < 0:
                    st = fm_net_train_step(self.net, &c, n, px, py, pw, &stats)
                else:
                    st = fm_net_train_epoch(self.net, &c, n, px, py, pw, epoch, &stats)
        finally:
            self._busy = 0
        if errors:
            raise errors[0]
        out = {"loss": stats.loss, "penalty": stats.penalty,
               "n_batches": stats.n_batches, "t": stats.t,
               "grad_w": grad_w, "grad_b": grad_b}
        if st == FM_ERR_INTERRUPTED:
            out["interrupted"] = True
        elif st == FM_ERR_NONFINITE:
            out["nonfinite"] = True
            out["batch"] = stats.n_batches
        else:
            check(st, "train")
        return out

    cdef fm_train_cfg_t _cfg_struct(self, cfg) except *:
        cfg = normalize_cfg(cfg)
        cdef fm_train_cfg_t c
        memset(&c, 0, sizeof(c))
        c.loss = _enums.LOSSES[cfg["loss"]]
        c.opt = optim_struct(cfg["optimizer"])
        c.l2 = cfg["l2"]
        c.l1 = cfg["l1"]
        c.batch_size = cfg["batch_size"]
        c.shuffle = cfg["shuffle"]
        c.seed = <uint64_t>cfg["seed"]
        return c

    def loss_grad(self, cfg, X, Y, sw=None):
        """Full-batch (loss + penalty, gradient) at the current parameters,
        without updating them (for L-BFGS)."""
        self._not_busy()
        cdef fm_train_cfg_t c = self._cfg_struct(cfg)
        x, y, w = self._batch(X, Y, sw)
        cdef cnp.ndarray grad = np.empty(fm_net_n_params(self.net), dtype=self.dtype)
        cdef double value = 0.0
        cdef int64_t n = (<cnp.ndarray>x).shape[0]
        cdef void *px = ptr(x)
        cdef void *py = ptr(y)
        cdef void *pw = opt_ptr(w)
        cdef void *pg = ptr(grad)
        cdef int st
        with nogil:
            st = fm_net_loss_grad(self.net, &c, n, px, py, pw, &value, pg)
        check(st, "loss_grad")
        return value, grad

    def evaluate(self, cfg, X, Y, sw=None):
        """(mean loss, penalty) of the network on (X, Y) without updating."""
        self._not_busy()
        cdef fm_train_cfg_t c = self._cfg_struct(cfg)
        x, y, w = self._batch(X, Y, sw)
        cdef double value = 0.0, penalty = 0.0
        cdef int64_t n = (<cnp.ndarray>x).shape[0]
        cdef void *px = ptr(x)
        cdef void *py = ptr(y)
        cdef void *pw = opt_ptr(w)
        cdef int st
        self._begin_read()
        try:
            with nogil:
                st = fm_net_evaluate(self.net, &c, n, px, py, pw, &value, &penalty)
        finally:
            self._end_read()
        check(st, "evaluate")
        return value, penalty

    # -- model files (C reader/writer of docs/FORMAT.md) --------------------

    def save(self, path, mean=None, scale=None, bytes meta=b""):
        """Write the network to a model file with the C writer (atomic)."""
        self._not_busy()
        cdef cnp.ndarray m = None, s = None
        if mean is not None:
            m = need(mean, "mean", self.dtype, 1)
        if scale is not None:
            s = need(scale, "scale", self.dtype, 1)
        for arr, nm in ((m, "mean"), (s, "scale")):
            if arr is not None and arr.shape[0] != self.n_in:
                raise ValueError(f"{nm} has {arr.shape[0]} entries for {self.n_in} inputs")
        bpath = str(path).encode()
        cdef const char *cpath = bpath
        cdef const char *cmeta = meta
        cdef size_t meta_len = len(meta)
        cdef void *pm = opt_ptr(m)
        cdef void *ps = opt_ptr(s)
        cdef int st
        with nogil:
            st = fm_model_save(self.net, cpath, pm, ps, cmeta, meta_len)
        check(st, f"save {path}")

    @staticmethod
    def load(path):
        """Read a model file with the C reader.

        Returns
        -------
        (Net, mean or None, scale or None, meta bytes)
        """
        bpath = str(path).encode()
        cdef const char *cpath = bpath
        cdef fm_net_t *cnet = NULL
        cdef void *mean = NULL
        cdef void *scale = NULL
        cdef char *meta = NULL
        cdef size_t meta_len = 0
        cdef int st
        with nogil:
            st = fm_model_load(cpath, &cnet, &mean, &scale, &meta, &meta_len)
        check(st, f"load {path}")
        return Net._adopt(cnet, mean, scale, meta, meta_len)

    @staticmethod
    def from_bytes(bytes data):
        """Like ``load`` from the bytes of a model file."""
        cdef const char *buf = data
        cdef size_t n = len(data)
        cdef fm_net_t *cnet = NULL
        cdef void *mean = NULL
        cdef void *scale = NULL
        cdef char *meta = NULL
        cdef size_t meta_len = 0
        cdef int st
        with nogil:
            st = fm_model_load_buffer(buf, n, &cnet, &mean, &scale, &meta, &meta_len)
        check(st, "load from bytes")
        return Net._adopt(cnet, mean, scale, meta, meta_len)

    @staticmethod
    cdef tuple _adopt(fm_net_t *cnet, void *mean, void *scale, char *meta, size_t meta_len):
        """Wrap a network made by the C loader; copies and frees the extras."""
        cdef Net self = Net.__new__(Net)
        self.net = cnet
        self.dtype = np.dtype(np.float32 if fm_net_dtype(cnet) == FM_F32 else np.float64)
        layers = []
        cdef const fm_layer_t *spec
        inv_act = {v: k for k, v in _enums.ACTIVATIONS.items()}
        inv_init = {v: k for k, v in _enums.INITIALIZERS.items()}
        for l in range(fm_net_n_layers(cnet)):
            spec = fm_net_layer(cnet, l)
            layers.append({"units": spec.units, "activation": inv_act[spec.act],
                           "act_param": spec.act_param, "init": inv_init[spec.init],
                           "dropout": spec.dropout})
        self.layers = layers
        self._params = self._view(fm_net_params(cnet), fm_net_n_params(cnet))
        cdef int64_t n_in = fm_net_n_in(cnet)
        itemsize = self.dtype.itemsize
        m = s = None
        try:
            if mean != NULL:
                m = np.frombuffer((<char*>mean)[:n_in * itemsize], dtype=self.dtype).copy()
            if scale != NULL:
                s = np.frombuffer((<char*>scale)[:n_in * itemsize], dtype=self.dtype).copy()
            meta_bytes = meta[:meta_len] if meta != NULL else b""
        finally:
            free(mean)
            free(scale)
            free(meta)
        return self, m, s, meta_bytes
