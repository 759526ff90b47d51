/*
 * test_act.c - activations: forward against independent double formulas
 * on a grid from 0 to ±1e4 and ±inf, every backward against central
 * differences of the forward, MATH.md's order of operations in float32,
 * softmax properties, stability, strides and aliasing, errors.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastmlp.h"
#include "fm_test.h"

#define N_ACT FM_ACT_COUNT_
static const double LEAKY = 0.01, ELU_A = 1.3; /* params used throughout */

/* Tolerances per dtype.  Forward values come from one libm call plus a
 * few roundings (float subnormals such as e^-88 lose ~2 more ulps), so
 * 8·eps relative is enough.  Only GELU's formula cancels (1 + erf(z/√2)
 * for z < 0): its error is absolute, about |z|·eps, so for GELU alone
 * atol = 8·eps·|z|. */
typedef struct {
    double rtol, atol_per_z;
} tol_t;
static const tol_t TOL_F32 = {8 * FLT_EPSILON, 8 * FLT_EPSILON};
static const tol_t TOL_F64 = {8 * DBL_EPSILON, 8 * DBL_EPSILON};

static double act_param(fm_act_t a) {
    return a == FM_ACT_LEAKY_RELU ? LEAKY : a == FM_ACT_ELU ? ELU_A : 0.0;
}

/* g(z) in double by the textbook formulas, written independently of the
 * library: GELU via erfc (exact in the left tail, where the library's
 * 1 + erf cancels), softplus split at 0 the other way round.  For float
 * this is a double reference to a float kernel. */
static double ref_forward(fm_act_t act, double z) {
    const double lam = FM_SELU_LAMBDA, al = FM_SELU_ALPHA;
    switch (act) {
    case FM_ACT_IDENTITY: return z;
    case FM_ACT_STEP: return z >= 0 ? 1 : 0;
    case FM_ACT_SIGN: return z >= 0 ? 1 : -1;
    case FM_ACT_SIGMOID:
        return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
    case FM_ACT_TANH: return tanh(z);
    case FM_ACT_RELU: return z > 0 ? z : 0;
    case FM_ACT_LEAKY_RELU: return z > 0 ? z : LEAKY * z;
    case FM_ACT_ELU: return z > 0 ? z : ELU_A * expm1(z);
    case FM_ACT_SELU: return z > 0 ? lam * z : lam * al * expm1(z);
    case FM_ACT_GELU: return 0.5 * z * erfc(-z / sqrt(2.0));
    case FM_ACT_SOFTPLUS:
        return z < 0 ? log1p(exp(z)) : z + log1p(exp(-z));
    case FM_ACT_EXP: return exp(z);
    default: return NAN;
    }
}

/* |got − want| within tolerance; infinities must match exactly. */
static int close_to(fm_act_t act, double got, double want, double z,
                    tol_t t) {
    if (isinf(want)) return got == want;
    if (!isfinite(got)) return 0;
    double atol = act == FM_ACT_GELU ? t.atol_per_z * fabs(z) : 0.0;
    return fabs(got - want) <= t.rtol * fabs(want) + atol;
}

static void test_forward_grid(void) {
    static const double grid[] = {0,   1e-8,  -1e-8, 0.5,  -0.5,  1,
                                  -1,  3,     -3,    20,   -20,   88,
                                  -88, 1e4,   -1e4,  INFINITY, -INFINITY};
    const int ng = (int)(sizeof grid / sizeof grid[0]);
    for (int a = 0; a < N_ACT; a++) {
        if (a == FM_ACT_SOFTMAX) continue;
        for (int i = 0; i < ng; i++) {
            double z = grid[i];
            /* gelu(−inf) = −inf·0 is NaN by the formula; not meaningful */
            if (a == FM_ACT_GELU && isinf(z)) continue;
            float zf = (float)z, af;
            double zd = z, ad;
            CHECK(fm_act_forward_f32(a, act_param(a), 1, 1, &zf, 1, &af, 1) ==
                  FM_OK);
            CHECK(fm_act_forward_f64(a, act_param(a), 1, 1, &zd, 1, &ad, 1) ==
                  FM_OK);
            double wf = ref_forward(a, (double)zf), wd = ref_forward(a, zd);
            /* the float value must also be what float can hold */
            if (isfinite(wf) && fabs(wf) > FLT_MAX) wf = copysign(INFINITY, wf);
            if (!close_to(a, af, wf, zf, TOL_F32) ||
                !close_to(a, ad, wd, zd, TOL_F64)) {
                fprintf(stderr, "act %d z=%g: f32 %.9g (want %.9g), f64 %.17g"
                        " (want %.17g)\n", a, z, af, wf, ad, wd);
            }
            CHECK(close_to(a, af, wf, zf, TOL_F32));
            CHECK(close_to(a, ad, wd, zd, TOL_F64));
        }
    }
}

/* Saturated inputs stay finite and exact where the limit is exact. */
static void test_stability(void) {
    double z[4] = {1e4, -1e4, 1e6, -1e6}, a[4];
    float zf[4] = {1e4f, -1e4f, 1e30f, -1e30f}, af[4];
    CHECK(fm_act_forward_f64(FM_ACT_SIGMOID, 0, 1, 4, z, 4, a, 4) == FM_OK);
    CHECK(fm_act_forward_f32(FM_ACT_SIGMOID, 0, 1, 4, zf, 4, af, 4) == FM_OK);
    for (int i = 0; i < 4; i++) {
        CHECK(isfinite(a[i]) && isfinite(af[i]));
        CHECK(a[i] == (i % 2 == 0 ? 1.0 : 0.0));
        CHECK(af[i] == (i % 2 == 0 ? 1.0f : 0.0f));
    }
    CHECK(fm_act_forward_f64(FM_ACT_SOFTPLUS, 0, 1, 4, z, 4, a, 4) == FM_OK);
    CHECK(fm_act_forward_f32(FM_ACT_SOFTPLUS, 0, 1, 4, zf, 4, af, 4) == FM_OK);
    CHECK(a[0] == 1e4 && a[1] == 0 && a[2] == 1e6 && a[3] == 0);
    CHECK(af[0] == 1e4f && af[1] == 0 && af[2] == 1e30f && af[3] == 0);
    /* softplus backward from a saturated output: σ = 1 and 0 */
    double da[4] = {1, 1, 1, 1}, dz[4];
    CHECK(fm_act_backward_f64(FM_ACT_SOFTPLUS, 0, 1, 4, NULL, a, da, dz) ==
          FM_OK);
    CHECK(dz[0] == 1 && dz[1] == 0 && dz[2] == 1 && dz[3] == 0);
    /* softmax with a spread of 2e4 in one row: finite, one-hot */
    double zs[3] = {1e4, 0, -1e4}, as[3];
    CHECK(fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 1, 3, zs, 3, as, 3) == FM_OK);
    CHECK(as[0] == 1 && as[1] == 0 && as[2] == 0);
    /* softmax is invariant to a shift of the row (max subtracted) */
    double z1[3] = {1, 2, 3}, z2[3] = {1001, 1002, 1003}, a1[3], a2[3];
    CHECK(fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 1, 3, z1, 3, a1, 3) == FM_OK);
    CHECK(fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 1, 3, z2, 3, a2, 3) == FM_OK);
    for (int j = 0; j < 3; j++) CHECK_CLOSE(a2[j], a1[j], 1e-15, 0);
}

/* Softmax: the course's example and rows summing to 1. */
static void test_softmax(void) {
    /* The brief quotes softmax([1.6, 0.55, 0.98]) = [0.51, 0.18, 0.31];
     * by hand, e^1.6 : e^0.55 : e^0.98 = 4.953 : 1.733 : 2.664 (sum
     * 9.350) gives [0.53, 0.19, 0.28].  The quoted output is that of
     * z₃ = 1.1 (e^1.1 = 3.004, sum 9.690: [0.51, 0.18, 0.31]), so both
     * are checked, each to two decimals. */
    double z[3] = {1.6, 0.55, 0.98}, a[3];
    CHECK(fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 1, 3, z, 3, a, 3) == FM_OK);
    CHECK(fabs(a[0] - 0.53) < 0.005);
    CHECK(fabs(a[1] - 0.19) < 0.005);
    CHECK(fabs(a[2] - 0.28) < 0.005);
    z[2] = 1.1;
    CHECK(fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 1, 3, z, 3, a, 3) == FM_OK);
    CHECK(fabs(a[0] - 0.51) < 0.005);
    CHECK(fabs(a[1] - 0.18) < 0.005);
    CHECK(fabs(a[2] - 0.31) < 0.005);

    enum { R = 7, C = 13 };
    double zd[R * C], ad[R * C];
    float zf[R * C], af[R * C];
    for (int i = 0; i < R * C; i++) {
        zd[i] = 10.0 * sin(1.7 * i + 0.3) * (1 + i % 3);
        zf[i] = (float)zd[i];
    }
    CHECK(fm_act_forward_f64(FM_ACT_SOFTMAX, 0, R, C, zd, C, ad, C) == FM_OK);
    CHECK(fm_act_forward_f32(FM_ACT_SOFTMAX, 0, R, C, zf, C, af, C) == FM_OK);
    for (int r = 0; r < R; r++) {
        double sd = 0, sf = 0;
        for (int c = 0; c < C; c++) {
            CHECK(ad[r * C + c] >= 0 && af[r * C + c] >= 0);
            sd += ad[r * C + c];
            sf += af[r * C + c];
        }
        /* C divisions each off by ≤ 1 ulp, plus T(Σ) rounding */
        CHECK_CLOSE(sd, 1.0, 0, 4 * C * DBL_EPSILON);
        CHECK_CLOSE(sf, 1.0, 0, 4 * C * FLT_EPSILON);
    }
}

/* Central difference of g at z, in double: truncation error ~h²·|g'''|,
 * rounding ~eps·|g|/h ≈ 1e-10·|g|. */
static double fd_scalar(fm_act_t act, double z, double h) {
    double zp = z + h, zm = z - h, ap, am;
    fm_act_forward_f64(act, act_param(act), 1, 1, &zp, 1, &ap, 1);
    fm_act_forward_f64(act, act_param(act), 1, 1, &zm, 1, &am, 1);
    return (ap - am) / (zp - zm);
}

/* Every backward against central differences of its forward (double),
 * at points away from the kinks of relu/leaky/elu/selu (z = 0).  With
 * h = 1e-6 the difference is accurate to ~1e-10 relative to the
 * function's scale (see fd_scalar), so rtol 1e-7 with atol 1e-9 passes
 * only a correct derivative. */
static void test_backward_fd(void) {
    static const double pts[] = {-7.0, -3.0, -1.3, -0.4, -1e-3,
                                 2e-3, 0.35, 1.1,  2.9,  6.5};
    const int np = (int)(sizeof pts / sizeof pts[0]);
    const double h = 1e-6;
    for (int a = 0; a < N_ACT; a++) {
        if (a == FM_ACT_SOFTMAX || fm_act_is_flat(a)) continue;
        double z[10], A[10], dA[10], dZ[10], maxabs = 0;
        for (int i = 0; i < np; i++) {
            z[i] = pts[i];
            dA[i] = 0.5 + 0.1 * i; /* distinct upstream gradients */
        }
        CHECK(fm_act_forward_f64(a, act_param(a), 2, 5, z, 5, A, 5) == FM_OK);
        CHECK(fm_act_backward_f64(a, act_param(a), 2, 5, z, A, dA, dZ) ==
              FM_OK);
        for (int i = 0; i < np; i++) {
            double want = dA[i] * fd_scalar(a, z[i], h);
            if (fabs(dZ[i] - want) > 1e-7 * fabs(want) + 1e-9)
                fprintf(stderr, "act %d z=%g: dZ %.17g, fd %.17g\n", a, z[i],
                        dZ[i], want);
            CHECK_CLOSE(dZ[i], want, 1e-7, 1e-9);
            if (fabs(dZ[i]) > maxabs) maxabs = fabs(dZ[i]);
        }
        CHECK(maxabs > 1e-3); /* a zero gradient must not pass */

        /* float32 backward agrees with double to float precision */
        float zf[10], Af[10], dAf[10], dZf[10];
        for (int i = 0; i < np; i++) {
            zf[i] = (float)z[i];
            dAf[i] = (float)dA[i];
        }
        CHECK(fm_act_forward_f32(a, act_param(a), 1, 10, zf, 10, Af, 10) ==
              FM_OK);
        CHECK(fm_act_backward_f32(a, act_param(a), 1, 10, zf, Af, dAf, dZf) ==
              FM_OK);
        for (int i = 0; i < np; i++) CHECK_CLOSE(dZf[i], dZ[i], 1e-5, 1e-6);
    }

    /* softmax: dZ_j = ∂/∂z_j Σ_i dA_i·A_i(z), by central differences */
    enum { C = 5 };
    double z[2 * C] = {0.3, -1.2, 2.0, 0.7, -0.1, 5.0, 4.0, -3.0, 0.0, 1.0};
    double A[2 * C], dA[2 * C], dZ[2 * C];
    for (int i = 0; i < 2 * C; i++) dA[i] = cos(1.3 * i);
    CHECK(fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 2, C, z, C, A, C) == FM_OK);
    CHECK(fm_act_backward_f64(FM_ACT_SOFTMAX, 0, 2, C, NULL, A, dA, dZ) ==
          FM_OK);
    double maxabs = 0;
    for (int r = 0; r < 2; r++) {
        for (int j = 0; j < C; j++) {
            double zp[C], zm[C], ap[C], am[C], lp = 0, lm = 0;
            memcpy(zp, z + r * C, sizeof zp);
            memcpy(zm, z + r * C, sizeof zm);
            zp[j] += h;
            zm[j] -= h;
            fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 1, C, zp, C, ap, C);
            fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 1, C, zm, C, am, C);
            for (int i = 0; i < C; i++) {
                lp += dA[r * C + i] * ap[i];
                lm += dA[r * C + i] * am[i];
            }
            double want = (lp - lm) / (zp[j] - zm[j]);
            CHECK_CLOSE(dZ[r * C + j], want, 1e-7, 1e-9);
            if (fabs(dZ[r * C + j]) > maxabs) maxabs = fabs(dZ[r * C + j]);
        }
    }
    CHECK(maxabs > 1e-3);
}

/* e^z as the library computes it (its own vectorised exp for float). */
static float lib_expf(float z) {
    float e = NAN;
    CHECK(fm_act_forward_f32(FM_ACT_EXP, 0, 1, 1, &z, 1, &e, 1) == FM_OK);
    return e;
}

/* float32 results are MATH.md's formulas evaluated in float, operation by
 * operation (the NumPy reference relies on this): bit-for-bit equal to
 * the same expressions written here, with the library's exp in sigmoid. */
static float spec_fwd_f32(fm_act_t act, float z) {
    const float a = (float)act_param(act), lam = (float)FM_SELU_LAMBDA;
    const float lal = (float)(FM_SELU_LAMBDA * FM_SELU_ALPHA);
    switch (act) {
    case FM_ACT_SIGMOID:
        return z >= 0 ? 1.0f / (1.0f + lib_expf(-z))
                      : lib_expf(z) / (1.0f + lib_expf(z));
    case FM_ACT_LEAKY_RELU: return z > 0 ? z : a * z;
    case FM_ACT_ELU: return z > 0 ? z : a * expm1f(z);
    case FM_ACT_SELU: return z > 0 ? lam * z : lal * expm1f(z);
    case FM_ACT_GELU:
        return 0.5f * z * (1.0f + erff(z / (float)1.4142135623730951));
    case FM_ACT_SOFTPLUS: return (z > 0 ? z : 0.0f) + log1pf(expf(-fabsf(z)));
    default: return NAN;
    }
}

static float spec_bwd_f32(fm_act_t act, float z, float A, float dA) {
    const float a = (float)act_param(act), lam = (float)FM_SELU_LAMBDA;
    const float lal = (float)(FM_SELU_LAMBDA * FM_SELU_ALPHA);
    switch (act) {
    case FM_ACT_SIGMOID: return dA * (A * (1.0f - A));
    case FM_ACT_TANH: return dA * (1.0f - A * A);
    case FM_ACT_LEAKY_RELU: return A > 0 ? dA : a * dA;
    case FM_ACT_ELU: return A > 0 ? dA : dA * (A + a);
    case FM_ACT_SELU: return A > 0 ? dA * lam : dA * (A + lal);
    case FM_ACT_GELU: {
        float cdf = 0.5f * (1.0f + erff(z / (float)1.4142135623730951));
        float pdf = expf(-z * z / 2.0f) / (float)2.5066282746310002;
        return dA * (cdf + z * pdf);
    }
    case FM_ACT_SOFTPLUS: return dA * -expm1f(-A);
    case FM_ACT_EXP: return dA * A;
    default: return NAN;
    }
}

static void test_spec_order_f32(void) {
    static const fm_act_t fw[] = {FM_ACT_SIGMOID, FM_ACT_LEAKY_RELU,
                                  FM_ACT_ELU,     FM_ACT_SELU,
                                  FM_ACT_GELU,    FM_ACT_SOFTPLUS};
    static const fm_act_t bw[] = {FM_ACT_SIGMOID,    FM_ACT_TANH,
                                  FM_ACT_LEAKY_RELU, FM_ACT_ELU,
                                  FM_ACT_SELU,       FM_ACT_GELU,
                                  FM_ACT_SOFTPLUS,   FM_ACT_EXP};
    enum { N = 64 };
    float z[N], A[N], dA[N], dZ[N];
    for (int i = 0; i < N; i++) {
        z[i] = (float)(6.0 * sin(0.91 * i + 0.2));
        dA[i] = (float)(cos(0.37 * i) + 0.1);
    }
    for (size_t k = 0; k < sizeof fw / sizeof fw[0]; k++) {
        CHECK(fm_act_forward_f32(fw[k], act_param(fw[k]), 1, N, z, N, A, N) ==
              FM_OK);
        int bad = 0;
        for (int i = 0; i < N; i++) bad += A[i] != spec_fwd_f32(fw[k], z[i]);
        CHECK(bad == 0);
    }
    for (size_t k = 0; k < sizeof bw / sizeof bw[0]; k++) {
        fm_act_t a = bw[k];
        CHECK(fm_act_forward_f32(a, act_param(a), 1, N, z, N, A, N) == FM_OK);
        CHECK(fm_act_backward_f32(a, act_param(a), 1, N, z, A, dA, dZ) ==
              FM_OK);
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += dZ[i] != spec_bwd_f32(a, z[i], A[i], dA[i]);
        CHECK(bad == 0);
    }
    /* softmax: e_j = exp(z_j − m) (the library's exp), Σ in double,
     * a_j = e_j / float(Σ);
     * backward s = Σ double(dA_j·A_j) (product in float), dZ = A·(dA − s) */
    float e[N], want[N];
    float m = z[0];
    for (int i = 1; i < N; i++) m = z[i] > m ? z[i] : m;
    double s = 0;
    for (int i = 0; i < N; i++) {
        e[i] = lib_expf(z[i] - m);
        s += e[i];
    }
    for (int i = 0; i < N; i++) want[i] = e[i] / (float)s;
    CHECK(fm_act_forward_f32(FM_ACT_SOFTMAX, 0, 1, N, z, N, A, N) == FM_OK);
    CHECK(memcmp(A, want, sizeof A) == 0);
    double sd = 0;
    for (int i = 0; i < N; i++) sd += (double)(dA[i] * A[i]);
    for (int i = 0; i < N; i++) want[i] = A[i] * (dA[i] - (float)sd);
    CHECK(fm_act_backward_f32(FM_ACT_SOFTMAX, 0, 1, N, NULL, A, dA, dZ) ==
          FM_OK);
    CHECK(memcmp(dZ, want, sizeof dZ) == 0);
}

/* Leading dimensions touch only the (rows, cols) window; in-place calls
 * (A == Z, dZ == dA) give the out-of-place results. */
static void test_strides_alias(void) {
    enum { R = 5, C = 7, LD = 11 };
    for (int a = 0; a < N_ACT; a++) {
        double z[R * LD], out[R * LD], ref[R * C], zc[R * C];
        for (int i = 0; i < R * LD; i++) {
            z[i] = 3.0 * sin(0.77 * i);
            out[i] = -12345.0; /* sentinel in the padding */
        }
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) zc[r * C + c] = z[r * LD + c];
        CHECK(fm_act_forward_f64(a, act_param(a), R, C, zc, C, ref, C) ==
              FM_OK);
        CHECK(fm_act_forward_f64(a, act_param(a), R, C, z, LD, out, LD) ==
              FM_OK);
        int bad = 0;
        for (int r = 0; r < R; r++)
            for (int c = 0; c < LD; c++)
                bad += c < C ? out[r * LD + c] != ref[r * C + c]
                             : out[r * LD + c] != -12345.0;
        CHECK(bad == 0);
        /* in place, strided and contiguous */
        CHECK(fm_act_forward_f64(a, act_param(a), R, C, z, LD, z, LD) == FM_OK);
        bad = 0;
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) bad += z[r * LD + c] != ref[r * C + c];
        CHECK(bad == 0);
        float zf[R * C], af[R * C], inpl[R * C];
        for (int i = 0; i < R * C; i++) zf[i] = inpl[i] = (float)zc[i];
        CHECK(fm_act_forward_f32(a, act_param(a), R, C, zf, C, af, C) == FM_OK);
        CHECK(fm_act_forward_f32(a, act_param(a), R, C, inpl, C, inpl, C) ==
              FM_OK);
        CHECK(memcmp(af, inpl, sizeof af) == 0);

        if (fm_act_is_flat(a)) continue;
        double dA[R * C], dZ[R * C], dd[R * C];
        for (int i = 0; i < R * C; i++) dA[i] = dd[i] = cos(0.5 * i);
        CHECK(fm_act_backward_f64(a, act_param(a), R, C, zc, ref, dA, dZ) ==
              FM_OK);
        CHECK(fm_act_backward_f64(a, act_param(a), R, C, zc, ref, dd, dd) ==
              FM_OK);
        CHECK(memcmp(dZ, dd, sizeof dZ) == 0);
    }
}

static void test_errors(void) {
    double z[4] = {0.1, -0.2, 0.3, -0.4}, a[4], d[4];
    /* predicates */
    CHECK(fm_act_needs_z(FM_ACT_GELU) == 1);
    for (int k = 0; k < N_ACT; k++) {
        if (k != FM_ACT_GELU) CHECK(fm_act_needs_z(k) == 0);
        CHECK(fm_act_is_flat(k) == (k == FM_ACT_STEP || k == FM_ACT_SIGN));
    }
    /* step and sign have no usable derivative */
    CHECK(fm_act_backward_f64(FM_ACT_STEP, 0, 1, 4, z, a, d, d) ==
          FM_ERR_NODERIV);
    CHECK(fm_act_backward_f32(FM_ACT_SIGN, 0, 1, 1, NULL, NULL, NULL, NULL) ==
          FM_ERR_NODERIV);
    /* invalid enum, parameter out of range */
    CHECK(fm_act_forward_f64((fm_act_t)-1, 0, 1, 4, z, 4, a, 4) == FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_COUNT_, 0, 1, 4, z, 4, a, 4) == FM_ERR_ARG);
    CHECK(fm_act_backward_f64(FM_ACT_COUNT_, 0, 1, 4, z, a, d, d) ==
          FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_LEAKY_RELU, -0.1, 1, 4, z, 4, a, 4) ==
          FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_LEAKY_RELU, NAN, 1, 4, z, 4, a, 4) ==
          FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_LEAKY_RELU, 0.0, 1, 4, z, 4, a, 4) ==
          FM_OK);
    CHECK(fm_act_forward_f32(FM_ACT_ELU, 0.0, 0, 0, NULL, 0, NULL, 0) ==
          FM_ERR_ARG);
    CHECK(fm_act_backward_f64(FM_ACT_ELU, -1.0, 1, 4, z, a, d, d) ==
          FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_ELU, INFINITY, 1, 4, z, 4, a, 4) ==
          FM_ERR_ARG);
    /* sizes and leading dimensions */
    CHECK(fm_act_forward_f64(FM_ACT_RELU, 0, -1, 4, z, 4, a, 4) == FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_RELU, 0, 1, -4, z, 4, a, 4) == FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_RELU, 0, 2, 2, z, 1, a, 2) == FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_RELU, 0, 2, 2, z, 2, a, 1) == FM_ERR_ARG);
    CHECK(fm_act_backward_f64(FM_ACT_RELU, 0, -1, 4, z, a, d, d) == FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_RELU, 0, INT64_MAX, 4, z, 4, a, 4) ==
          FM_ERR_ARG); /* rows·ld overflows */
    /* NULL pointers: an error with data, fine without */
    CHECK(fm_act_forward_f64(FM_ACT_RELU, 0, 1, 4, NULL, 4, a, 4) ==
          FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_RELU, 0, 1, 4, z, 4, NULL, 4) ==
          FM_ERR_ARG);
    CHECK(fm_act_forward_f64(FM_ACT_RELU, 0, 0, 4, NULL, 4, NULL, 4) == FM_OK);
    CHECK(fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 3, 0, NULL, 0, NULL, 0) ==
          FM_OK);
    CHECK(fm_act_backward_f64(FM_ACT_GELU, 0, 1, 4, NULL, a, d, d) ==
          FM_ERR_ARG); /* gelu needs Z */
    CHECK(fm_act_backward_f64(FM_ACT_TANH, 0, 1, 4, z, NULL, d, d) ==
          FM_ERR_ARG); /* tanh needs A */
    CHECK(fm_act_backward_f64(FM_ACT_TANH, 0, 1, 4, NULL, a, NULL, d) ==
          FM_ERR_ARG);
    CHECK(fm_act_backward_f64(FM_ACT_IDENTITY, 0, 1, 4, NULL, NULL, z, d) ==
          FM_OK); /* identity needs only dA */
    CHECK(fm_act_backward_f64(FM_ACT_TANH, 0, 0, 4, NULL, NULL, NULL, NULL) ==
          FM_OK);
}

int main(void) {
    test_forward_grid();
    test_stability();
    test_softmax();
    test_backward_fd();
    test_spec_order_f32();
    test_strides_alias();
    test_errors();
    FM_TEST_MAIN_END();
}
