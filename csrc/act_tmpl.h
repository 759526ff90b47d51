/*
 * act_tmpl.h - activations g and their backward passes for one dtype T.
 *
 * Included by act.c once per dtype with T, FM_SFX and the libm names
 * FM_EXP, FM_EXPM1, FM_LOG1P, FM_TANH, FM_ERF, FM_FABS bound to the float
 * or double functions.  Every formula and its order of operations is
 * docs/MATH.md, "Activations"; the NumPy mirror is
 * fastmlp/reference.py: act_forward / act_backward.
 *
 * Each activation is one short loop over a contiguous span, so that gcc
 * vectorises the ones without libm calls; the switch on the activation
 * sits outside the loops.  Spans may alias (in-place A = g(A),
 * dZ = dZ ⊙ g'), which is safe because element i is read before it is
 * written and no other element is touched in between.
 */

/* Scalars of the parametrised activations, rounded to T once. */
typedef struct {
    T a;         /* leaky slope or ELU alpha */
    T lam;       /* SELU λ                   */
    T lam_alpha; /* SELU λ·α (product in double, then rounded) */
} FM_SFX(act_consts_t);

static FM_SFX(act_consts_t) FM_SFX(act_consts)(double param) {
    FM_SFX(act_consts_t) c;
    c.a = (T)param;
    c.lam = (T)FM_SELU_LAMBDA;
    c.lam_alpha = (T)(FM_SELU_LAMBDA * FM_SELU_ALPHA);
    return c;
}

/* ---------------------------------------------------------------- */
/* Forward, one contiguous span of n elements: a = g(z)              */
/* ---------------------------------------------------------------- */

/* a = z */
static void FM_SFX(fwd_identity)(int64_t n, const T *z, T *a) {
    if (a == z) return;
    for (int64_t i = 0; i < n; i++) a[i] = z[i];
}

/* a = [z >= 0] */
static void FM_SFX(fwd_step)(int64_t n, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) a[i] = z[i] >= 0 ? (T)1 : (T)0;
}

/* a = z >= 0 ? 1 : -1 */
static void FM_SFX(fwd_sign)(int64_t n, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) a[i] = z[i] >= 0 ? (T)1 : (T)-1;
}

/* a = σ(z); exp is only ever taken of −|z| so it cannot overflow. */
static void FM_SFX(fwd_sigmoid)(int64_t n, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) {
        T x = z[i];
        if (x >= 0) {
            a[i] = (T)1 / ((T)1 + FM_EXP(-x));
        } else {
            T e = FM_EXP(x);
            a[i] = e / ((T)1 + e);
        }
    }
}

/* a = tanh z */
static void FM_SFX(fwd_tanh)(int64_t n, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) a[i] = FM_TANH(z[i]);
}

/* a = z > 0 ? z : 0  (NaN maps to 0, as the formula says) */
static void FM_SFX(fwd_relu)(int64_t n, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) a[i] = z[i] > 0 ? z[i] : (T)0;
}

/* a = z > 0 ? z : s·z.  Written as "store the z <= 0 arm, overwrite when
 * z > 0": with trapping math (gcc's default; the build turns it off) gcc
 * will not if-convert a multiplication inside a ?: arm, but it does
 * vectorise this form under either, and the values are the same.  z is
 * read first, so a may alias z. */
static void FM_SFX(fwd_leaky)(int64_t n, T s, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) {
        T x = z[i];
        a[i] = s * x;
        if (x > 0) a[i] = x;
    }
}

/* a = z > 0 ? z : α·expm1(z)  (expm1: no cancellation near 0⁻) */
static void FM_SFX(fwd_elu)(int64_t n, T al, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) {
        T x = z[i];
        a[i] = x > 0 ? x : al * FM_EXPM1(x);
    }
}

/* a = z > 0 ? λ·z : (λα)·expm1(z) */
static void FM_SFX(fwd_selu)(int64_t n, T lam, T lam_al, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) {
        T x = z[i];
        a[i] = x > 0 ? lam * x : lam_al * FM_EXPM1(x);
    }
}

/* a = 0.5·z·(1 + erf(z/√2)), √2 rounded to T, evaluated left to right */
static void FM_SFX(fwd_gelu)(int64_t n, const T *z, T *a) {
    const T sqrt2 = (T)1.4142135623730950488;
    for (int64_t i = 0; i < n; i++) {
        T x = z[i];
        a[i] = (T)0.5 * x * ((T)1 + FM_ERF(x / sqrt2));
    }
}

/* a = max(z,0) + log1p(exp(−|z|)): exp never overflows, and log1p keeps
 * the tail e^z accurate for z ≪ 0. */
static void FM_SFX(fwd_softplus)(int64_t n, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) {
        T x = z[i];
        a[i] = (x > 0 ? x : (T)0) + FM_LOG1P(FM_EXP(-FM_FABS(x)));
    }
}

/* a = e^z */
static void FM_SFX(fwd_exp)(int64_t n, const T *z, T *a) {
    for (int64_t i = 0; i < n; i++) a[i] = FM_EXP(z[i]);
}

/* One contiguous span of an element-wise (non-softmax) activation: the
 * vectorised span where act.c has one for T, else the loops above. */
static void FM_SFX(fwd_span)(fm_act_t act, const FM_SFX(act_consts_t) *c,
                             int64_t n, const T *z, T *a) {
    if (FM_SFX(vec_span)(act, n, z, a)) return;
    switch (act) {
    case FM_ACT_IDENTITY: FM_SFX(fwd_identity)(n, z, a); break;
    case FM_ACT_STEP: FM_SFX(fwd_step)(n, z, a); break;
    case FM_ACT_SIGN: FM_SFX(fwd_sign)(n, z, a); break;
    case FM_ACT_SIGMOID: FM_SFX(fwd_sigmoid)(n, z, a); break;
    case FM_ACT_TANH: FM_SFX(fwd_tanh)(n, z, a); break;
    case FM_ACT_RELU: FM_SFX(fwd_relu)(n, z, a); break;
    case FM_ACT_LEAKY_RELU: FM_SFX(fwd_leaky)(n, c->a, z, a); break;
    case FM_ACT_ELU: FM_SFX(fwd_elu)(n, c->a, z, a); break;
    case FM_ACT_SELU: FM_SFX(fwd_selu)(n, c->lam, c->lam_alpha, z, a); break;
    case FM_ACT_GELU: FM_SFX(fwd_gelu)(n, z, a); break;
    case FM_ACT_SOFTPLUS: FM_SFX(fwd_softplus)(n, z, a); break;
    case FM_ACT_EXP: FM_SFX(fwd_exp)(n, z, a); break;
    default: break; /* softmax is row-wise; invalid values rejected earlier */
    }
}

/* Row-wise softmax: per row m = max z, e_j = exp(z_j − m) in T,
 * a_j = e_j / T(Σ e) with Σ accumulated in double.  In three passes so
 * that the exponentials of a contiguous A are one span (the vectorised
 * exp for float; rows of 10 would leave most lanes idle).  Each row's max
 * is taken before its a is written, so A may alias Z. */
static void FM_SFX(fwd_softmax)(const FM_SFX(act_consts_t) *c, int64_t rows,
                                int64_t cols, const T *Z, int64_t ldz, T *A,
                                int64_t lda) {
    for (int64_t r = 0; r < rows; r++) {
        const T *z = Z + r * ldz;
        T *a = A + r * lda;
        T m = z[0];
        for (int64_t j = 1; j < cols; j++)
            if (z[j] > m) m = z[j];
        for (int64_t j = 0; j < cols; j++) a[j] = z[j] - m;
    }
    if (lda == cols)
        FM_SFX(fwd_span)(FM_ACT_EXP, c, rows * cols, A, A);
    else
        for (int64_t r = 0; r < rows; r++)
            FM_SFX(fwd_span)(FM_ACT_EXP, c, cols, A + r * lda, A + r * lda);
    for (int64_t r = 0; r < rows; r++) {
        T *a = A + r * lda;
        double sum = 0.0;
        for (int64_t j = 0; j < cols; j++) sum += (double)a[j];
        const T s = (T)sum;
        for (int64_t j = 0; j < cols; j++) a[j] = a[j] / s;
    }
}

/* A (rows, cols; lda) = g(Z (rows, cols; ldz)).  Contiguous arrays are
 * one span; strided ones (tiles of a wider matrix) go row by row. */
int FM_SFX(fm_act_forward)(fm_act_t act, double param, int64_t rows,
                           int64_t cols, const T *Z, int64_t ldz, T *A,
                           int64_t lda) {
    int st = act_check(act, param);
    if (st != FM_OK) return st;
    if (rows < 0 || cols < 0 || ldz < cols || lda < cols) return FM_ERR_ARG;
    if (rows == 0 || cols == 0) return FM_OK;
    if (Z == NULL || A == NULL) return FM_ERR_ARG;
    int64_t total;
    if (!fm__mul_ok(rows, ldz, &total) || !fm__mul_ok(rows, lda, &total))
        return FM_ERR_ARG;

    const FM_SFX(act_consts_t) c = FM_SFX(act_consts)(param);
    if (act == FM_ACT_SOFTMAX) {
        FM_SFX(fwd_softmax)(&c, rows, cols, Z, ldz, A, lda);
        return FM_OK;
    }
    if (ldz == cols && lda == cols) {
        FM_SFX(fwd_span)(act, &c, rows * cols, Z, A);
    } else {
        for (int64_t r = 0; r < rows; r++)
            FM_SFX(fwd_span)(act, &c, cols, Z + r * ldz, A + r * lda);
    }
    return FM_OK;
}

/* ---------------------------------------------------------------- */
/* Backward, one contiguous span: dz = da ⊙ g', g' from a (or z)     */
/* ---------------------------------------------------------------- */

/* dz = da */
static void FM_SFX(bwd_identity)(int64_t n, const T *da, T *dz) {
    if (dz == da) return;
    for (int64_t i = 0; i < n; i++) dz[i] = da[i];
}

/* dz = da·(a·(1 − a)) */
static void FM_SFX(bwd_sigmoid)(int64_t n, const T *a, const T *da, T *dz) {
    for (int64_t i = 0; i < n; i++) dz[i] = da[i] * (a[i] * ((T)1 - a[i]));
}

/* dz = da·(1 − a·a) */
static void FM_SFX(bwd_tanh)(int64_t n, const T *a, const T *da, T *dz) {
    for (int64_t i = 0; i < n; i++) dz[i] = da[i] * ((T)1 - a[i] * a[i]);
}

/* dz = a > 0 ? da : 0 */
static void FM_SFX(bwd_relu)(int64_t n, const T *a, const T *da, T *dz) {
    for (int64_t i = 0; i < n; i++) {
        T d = da[i]; /* loaded unconditionally: a select, not a branch */
        dz[i] = a[i] > 0 ? d : (T)0;
    }
}

/* dz = a > 0 ? da : s·da  (a > 0 ⇔ z > 0 because s >= 0); same
 * vectorisable store-then-overwrite form as fwd_leaky. */
static void FM_SFX(bwd_leaky)(int64_t n, T s, const T *a, const T *da,
                              T *dz) {
    for (int64_t i = 0; i < n; i++) {
        T y = a[i], d = da[i];
        dz[i] = s * d;
        if (y > 0) dz[i] = d;
    }
}

/* dz = a > 0 ? da : da·(a + α)   (α·e^z = a + α for z <= 0) */
static void FM_SFX(bwd_elu)(int64_t n, T al, const T *a, const T *da,
                            T *dz) {
    for (int64_t i = 0; i < n; i++) {
        T y = a[i], d = da[i];
        dz[i] = d * (y + al); /* store-then-overwrite: see fwd_leaky */
        if (y > 0) dz[i] = d;
    }
}

/* dz = a > 0 ? da·λ : da·(a + λα) */
static void FM_SFX(bwd_selu)(int64_t n, T lam, T lam_al, const T *a,
                             const T *da, T *dz) {
    for (int64_t i = 0; i < n; i++) {
        T y = a[i], d = da[i];
        dz[i] = y > 0 ? d * lam : d * (y + lam_al);
    }
}

/* dz = da·(Φ(z) + z·φ(z)), Φ = 0.5·(1 + erf(z/√2)),
 * φ = exp(−z·z/2)/√(2π); from Z since g is not invertible. */
static void FM_SFX(bwd_gelu)(int64_t n, const T *z, const T *da, T *dz) {
    const T sqrt2 = (T)1.4142135623730950488;
    const T sqrt2pi = (T)2.5066282746310005024;
    for (int64_t i = 0; i < n; i++) {
        T x = z[i];
        T cdf = (T)0.5 * ((T)1 + FM_ERF(x / sqrt2));
        T pdf = FM_EXP(-x * x / (T)2) / sqrt2pi;
        dz[i] = da[i] * (cdf + x * pdf);
    }
}

/* dz = da·(−expm1(−a)) = da·σ(z), since a = log(1 + e^z) */
static void FM_SFX(bwd_softplus)(int64_t n, const T *a, const T *da, T *dz) {
    for (int64_t i = 0; i < n; i++) dz[i] = da[i] * -FM_EXPM1(-a[i]);
}

/* dz = da·a */
static void FM_SFX(bwd_exp)(int64_t n, const T *a, const T *da, T *dz) {
    for (int64_t i = 0; i < n; i++) dz[i] = da[i] * a[i];
}

/* One row of n: s = Σ_j T(da_j·a_j) accumulated in double;
 * dz_j = a_j·(da_j − T(s)).  s is complete before dz is written, so dz
 * may alias da. */
static void FM_SFX(bwd_softmax_row)(int64_t n, const T *a, const T *da,
                                    T *dz) {
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++) sum += (double)(da[j] * a[j]);
    const T s = (T)sum;
    for (int64_t j = 0; j < n; j++) dz[j] = a[j] * (da[j] - s);
}

/* dZ (rows, cols) = dA ⊙ g'(Z) (softmax: the row Jacobian-vector product);
 * all arrays contiguous. */
int FM_SFX(fm_act_backward)(fm_act_t act, double param, int64_t rows,
                            int64_t cols, const T *Z, const T *A, const T *dA,
                            T *dZ) {
    int st = act_check(act, param);
    if (st != FM_OK) return st;
    if (rows < 0 || cols < 0) return FM_ERR_ARG;
    if (fm_act_is_flat(act)) return FM_ERR_NODERIV;
    int64_t n;
    if (!fm__mul_ok(rows, cols, &n)) return FM_ERR_ARG;
    if (n == 0) return FM_OK;
    if (dA == NULL || dZ == NULL) return FM_ERR_ARG;
    if (fm_act_needs_z(act) ? Z == NULL : (act != FM_ACT_IDENTITY && A == NULL))
        return FM_ERR_ARG;

    if (FM_SFX(vec_bwd)(act, n, A, dA, dZ)) return FM_OK;
    const FM_SFX(act_consts_t) c = FM_SFX(act_consts)(param);
    switch (act) {
    case FM_ACT_IDENTITY: FM_SFX(bwd_identity)(n, dA, dZ); break;
    case FM_ACT_SIGMOID: FM_SFX(bwd_sigmoid)(n, A, dA, dZ); break;
    case FM_ACT_TANH: FM_SFX(bwd_tanh)(n, A, dA, dZ); break;
    case FM_ACT_RELU: FM_SFX(bwd_relu)(n, A, dA, dZ); break;
    case FM_ACT_LEAKY_RELU: FM_SFX(bwd_leaky)(n, c.a, A, dA, dZ); break;
    case FM_ACT_ELU: FM_SFX(bwd_elu)(n, c.a, A, dA, dZ); break;
    case FM_ACT_SELU:
        FM_SFX(bwd_selu)(n, c.lam, c.lam_alpha, A, dA, dZ);
        break;
    case FM_ACT_GELU: FM_SFX(bwd_gelu)(n, Z, dA, dZ); break;
    case FM_ACT_SOFTPLUS: FM_SFX(bwd_softplus)(n, A, dA, dZ); break;
    case FM_ACT_EXP: FM_SFX(bwd_exp)(n, A, dA, dZ); break;
    case FM_ACT_SOFTMAX:
        for (int64_t r = 0; r < rows; r++)
            FM_SFX(bwd_softmax_row)(cols, A + r * cols, dA + r * cols,
                                    dZ + r * cols);
        break;
    default: return FM_ERR_ARG; /* step/sign handled above */
    }
    return FM_OK;
}
