/*
 * act_vec_tmpl.h - float exp, tanh and sigmoid spans, the float backward
 * spans of tanh, sigmoid and ReLU, the double exp of the cross-entropy
 * value and the products' bias add, written for the vectoriser, for one
 * instruction set.
 *
 * Included by act.c once per ISA with FM_LSFX(name) (name##_avx2, ...)
 * defined, after a "#pragma GCC target" for the ISA.  glibc's expf and
 * tanhf are scalar calls, which keep gcc from vectorising a loop; these
 * are branch-free (both arms computed, then selected), call nothing and
 * convert no float to an integer, so gcc vectorises every loop for the
 * target, given -fno-trapping-math (the build's flag): with trapping math
 * it does not if-convert the clamps' comparisons below AVX-512 and kept
 * these loops scalar there (tanh 6.6 ns a value on AVX2, 1.0 ns since).
 * With -ffp-contract=off every ISA rounds the same operations in the
 * same order, so the three copies agree bit for bit.
 *
 * Accuracy against double libm, over every float (bench/ulp_sweep.py):
 * exp within 1.05 ulp for normal results on [-104, 89] (0.75 ulp for
 * subnormal ones), sigmoid within 2.41 ulp on [-100, 40], tanh within
 * 2.6 ulp on [0, 12] (past 12 it is 1, and it is odd); the tests assert
 * 3 ulp (tests/test_kernels.py, on every ISA).  The double exp is within
 * 1 ulp of libm's over [-745, 709.7] (2^20 points in each of six ranges).
 */

/* x = n·ln2 + r with |r| <= ln2/2 for |x| <= 104: returns r and sets *n.
 * Cody–Waite: ln2 in two parts, the first with 8 trailing zero bits so
 * n·LN2_HI is exact for |n| <= 255; n = round-to-nearest(x·log2 e) by
 * adding 1.5·2^23 (exact), read back from t's low bits.  NaN gives NaN. */
static inline float FM_LSFX(ln2_reduce)(float x, int32_t *n) {
    const float LOG2E = 1.44269504088896341f;
    const float LN2_HI = 0.693145751953125f; /* 0x3f317200 */
    const float LN2_LO = 1.42860682030941723e-6f;
    const float SHIFTER = 12582912.0f;
    const float t = x * LOG2E + SHIFTER;
    const float nf = t - SHIFTER;
    int32_t ni;
    memcpy(&ni, &t, sizeof ni);
    *n = ni - 0x4b400000;
    return (x - nf * LN2_HI) - nf * LN2_LO;
}

/* 2^n as a float, for n in [-126, 127]. */
static inline float FM_LSFX(pow2i)(int32_t n) {
    const int32_t bits = (n + 127) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return s;
}

/* e^r − 1 for |r| <= ln2/2 as r + r²·P(r): P of degree 4, a near-minimax
 * fit (reweighted least squares) of (e^r − 1 − r)/r² there, rounded to
 * float (relative error of e^r − 1 below 1.4e-8, a tenth of an ulp), and
 * evaluated in pairs (Estrin) rather than by Horner.  The exp, tanh and
 * sigmoid loops are bounded by their chains of dependent operations, not
 * by the divide (without it tanh is 6% faster): this chain, shorter and
 * two terms fewer than the Taylor polynomials it replaces, makes tanh
 * 1.2× faster (0.49 -> 0.41 ns a value on AVX-512) and sigmoid 1.1×. */
static inline float FM_LSFX(expm1_reduced)(float r) {
    const float r2 = r * r;
    const float pa = 0.5f + 1.666654348e-1f * r;
    const float pb = 4.166628048e-2f + 8.366616443e-3f * r;
    return r + r2 * (pa + r2 * (pb + r2 * 1.394650317e-3f));
}

/* e^x for float x: 1 + (e^r − 1), then ·2^n as two factors
 * 2^⌊n/2⌋·2^(n−⌊n/2⌋) so that results down to the subnormals and up to
 * the overflow threshold come out right without a branch.  x is clamped
 * to [-104, 89], outside which the result is 0 or inf anyway; NaN passes
 * through every step. */
static inline float FM_LSFX(vexpf)(float x) {
    x = x > 89.0f ? 89.0f : x;
    x = x < -104.0f ? -104.0f : x;
    int32_t n;
    const float r = FM_LSFX(ln2_reduce)(x, &n);
    const float p = 1.0f + FM_LSFX(expm1_reduced)(r);
    const int32_t n1 = n >> 1; /* n1 and n − n1 both in [-75, 65] */
    return p * FM_LSFX(pow2i)(n1) * FM_LSFX(pow2i)(n - n1);
}

/* tanh x for float x as e/(e + 2) with e = e^{2|x|} − 1, the sign of x
 * put back: one formula for every x, without the cancellation of
 * (e^{2|x|} − 1) or 1 − 2/(e^{2|x|} + 1) near 0, and with the error of
 * e damped by 2/(e + 2) <= 1.  With 2|x| = n·ln2 + r: e = 2^n·(e^r − 1)
 * + (2^n − 1), 2^n − 1 exact for n <= 24, e^r − 1 by expm1_reduced.
 * |x| is clamped to 9, where tanh is already 1 in float (no overflow,
 * and ±inf gives ±1); NaN passes through every step. */
static inline float FM_LSFX(vtanhf)(float x) {
    float ax = x < 0 ? -x : x;
    ax = ax > 9.0f ? 9.0f : ax;
    int32_t n; /* in [0, 26] */
    const float r = FM_LSFX(ln2_reduce)(2.0f * ax, &n);
    const float p = FM_LSFX(expm1_reduced)(r);
    const float s = FM_LSFX(pow2i)(n);
    const float e = s * p + (s - 1.0f);
    /* copysign keeps tanh(−0) = −0 */
    return copysignf(e / (e + 2.0f), x);
}

/* e^x for double x, for the loss values (cross-entropy's log-sum-exp):
 * x = n·ln2 + r as in ln2_reduce (ln2's first part with 11 trailing zero
 * bits, n·LN2_HI exact for |n| <= 2047; n by adding 1.5·2^52), e^r by its
 * Taylor polynomial of degree 13
 * (truncation < 5e-18 relative for |r| <= ln2/2), then ·2^n as two
 * factors.  x is clamped to [-1080, 710], outside which the result is 0
 * or inf anyway; NaN passes through every step. */
static inline double FM_LSFX(vexp)(double x) {
    const double LOG2E = 1.4426950408889634;
    const double LN2_HI = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
    const double LN2_LO = 1.90821492927058770002e-10;
    const double SHIFTER = 6755399441055744.0; /* 1.5·2^52 */
    x = x > 710.0 ? 710.0 : x;
    x = x < -1080.0 ? -1080.0 : x;
    const double t = x * LOG2E + SHIFTER;
    const double nf = t - SHIFTER;
    int64_t ni;
    memcpy(&ni, &t, sizeof ni);
    const int64_t n = ni - 0x4338000000000000;
    const double r = (x - nf * LN2_HI) - nf * LN2_LO;
    double p = 1.6059043836821614599e-10; /* 1/13! */
    p = p * r + 2.0876756987868098979e-09;
    p = p * r + 2.5052108385441718775e-08;
    p = p * r + 2.7557319223985890653e-07;
    p = p * r + 2.7557319223985890653e-06;
    p = p * r + 2.4801587301587301587e-05;
    p = p * r + 1.9841269841269841270e-04;
    p = p * r + 1.3888888888888888889e-03;
    p = p * r + 8.3333333333333333333e-03;
    p = p * r + 4.1666666666666666667e-02;
    p = p * r + 1.6666666666666666667e-01;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* n1 = n/2 rounded by the same addition (no 64-bit arithmetic shift
     * before AVX-512); n1 and n − n1 are in [-779, 512] */
    const double t1 = nf * 0.5 + SHIFTER;
    int64_t n1;
    memcpy(&n1, &t1, sizeof n1);
    n1 -= 0x4338000000000000;
    const int64_t b1 = (n1 + 1023) << 52, b2 = (n - n1 + 1023) << 52;
    double s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

/* c += b over n values: the product epilogue's bias, one row of a tile
 * at a time (one rounding each, so every ISA gives the same bits) */
static void FM_LSFX(add_f32)(int64_t n, const float *b, float *c) {
    for (int64_t i = 0; i < n; i++) c[i] = c[i] + b[i];
}

static void FM_LSFX(add_f64)(int64_t n, const double *b, double *c) {
    for (int64_t i = 0; i < n; i++) c[i] = c[i] + b[i];
}

/* y = e^x over n doubles */
static void FM_LSFX(exp_f64)(int64_t n, const double *x, double *y) {
    for (int64_t i = 0; i < n; i++) y[i] = FM_LSFX(vexp)(x[i]);
}

/* a = e^z */
static void FM_LSFX(fwd_exp_f32)(int64_t n, const float *z, float *a) {
    for (int64_t i = 0; i < n; i++) a[i] = FM_LSFX(vexpf)(z[i]);
}

/* a = tanh z */
static void FM_LSFX(fwd_tanh_f32)(int64_t n, const float *z, float *a) {
    for (int64_t i = 0; i < n; i++) a[i] = FM_LSFX(vtanhf)(z[i]);
}

/* The float backward spans of tanh, sigmoid and ReLU (act_tmpl.h's
 * formulas, the same operations in the same order): compiled here for
 * each ISA, where act.c's own copy gets the baseline's 4-lane vectors.
 * dz may be da (the network's backward pass runs in place). */
static void FM_LSFX(bwd_tanh_f32)(int64_t n, const float *a, const float *da,
                                  float *dz) {
    for (int64_t i = 0; i < n; i++) dz[i] = da[i] * (1.0f - a[i] * a[i]);
}

static void FM_LSFX(bwd_sigmoid_f32)(int64_t n, const float *a,
                                     const float *da, float *dz) {
    for (int64_t i = 0; i < n; i++) dz[i] = da[i] * (a[i] * (1.0f - a[i]));
}

static void FM_LSFX(bwd_relu_f32)(int64_t n, const float *a, const float *da,
                                  float *dz) {
    for (int64_t i = 0; i < n; i++) {
        const float d = da[i];
        dz[i] = a[i] > 0 ? d : 0.0f;
    }
}

/* a = σ(z) = 1/(1 + e^{−z}) for z >= 0, e^z/(1 + e^z) below: exp is only
 * taken of −|z|, so it cannot overflow.  The numerator is chosen before
 * the one division. */
static void FM_LSFX(fwd_sigmoid_f32)(int64_t n, const float *z, float *a) {
    for (int64_t i = 0; i < n; i++) {
        const float x = z[i];
        const float e = FM_LSFX(vexpf)(x < 0 ? x : -x);
        a[i] = (x >= 0 ? 1.0f : e) / (1.0f + e);
    }
}
