/*
 * act_vec_tmpl.h - float exp, tanh and sigmoid spans written for the
 * vectoriser, for one instruction set.
 *
 * Included by act.c once per ISA with FM_LSFX(name) (name##_avx2, ...)
 * defined, after a "#pragma GCC target" for the ISA.  glibc's expf and
 * tanhf are scalar calls, which keep gcc from vectorising a loop; these
 * are branch-free (both arms computed, then selected), call nothing and
 * convert no float to an integer, so gcc vectorises every loop for the
 * target.  With -ffp-contract=off every ISA rounds the same operations in
 * the same order, so the three copies agree bit for bit.
 *
 * Accuracy against double libm, measured on 4·2^24 points (three dense
 * sweeps and one spread over every float): exp within 1.3 ulp for normal
 * results, sigmoid within 2.5 ulp; tanh within 2.42 ulp over every float
 * in [0, 12] (past 12 it is 1, and it is odd); the tests assert 3 ulp
 * (tests/test_kernels.py, on every ISA).
 */

/* e^x for float x: x = n·ln2 + r with |r| <= ln2/2 (Cody–Waite: ln2 in
 * two parts, the first with 8 trailing zero bits so n·LN2_HI is exact for
 * |n| <= 255), e^r by its Taylor polynomial of degree 7 (truncation
 * < 6e-9 relative), then ·2^n as two factors 2^⌊n/2⌋·2^(n−⌊n/2⌋) so that
 * results down to the subnormals and up to the overflow threshold come
 * out right without a branch.  x is clamped to [-104, 89], outside which
 * the result is 0 or inf anyway; NaN passes through every step. */
static inline float FM_LSFX(vexpf)(float x) {
    const float LOG2E = 1.44269504088896341f;
    const float LN2_HI = 0.693145751953125f; /* 0x3f317200 */
    const float LN2_LO = 1.42860682030941723e-6f;
    const float SHIFTER = 12582912.0f; /* 1.5·2^23: adding it rounds to int */
    x = x > 89.0f ? 89.0f : x;
    x = x < -104.0f ? -104.0f : x;
    const float t = x * LOG2E + SHIFTER;
    const float n = t - SHIFTER; /* round-to-nearest(x·log2 e), exactly */
    int32_t ni;
    memcpy(&ni, &t, sizeof ni);
    ni -= 0x4b400000; /* the integer n, from the low bits of t */
    const float r = (x - n * LN2_HI) - n * LN2_LO;
    float p = 1.98412698412698413e-4f; /* 1/7! */
    p = p * r + 1.38888888888888889e-3f;
    p = p * r + 8.33333333333333333e-3f;
    p = p * r + 4.16666666666666667e-2f;
    p = p * r + 1.66666666666666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t n1 = ni >> 1, n2 = ni - n1; /* both in [-75, 65] */
    const int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

/* tanh x for float x as e/(e + 2) with e = e^{2|x|} − 1, the sign of x
 * put back: one formula for every x, without the cancellation of
 * (e^{2|x|} − 1) or 1 − 2/(e^{2|x|} + 1) near 0, and with the error of
 * e damped by 2/(e + 2) <= 1.  e^y − 1 as in vexpf, y = n·ln2 + r:
 * 2^n·(e^r − 1) + (2^n − 1), with e^r − 1 = r + r²·P(r) (Taylor to r⁸)
 * and 2^n − 1 exact for n <= 24.  |x| is clamped to 9, where tanh is
 * already 1 in float (no overflow, and ±inf gives ±1); NaN passes
 * through every step. */
static inline float FM_LSFX(vtanhf)(float x) {
    const float LOG2E = 1.44269504088896341f;
    const float LN2_HI = 0.693145751953125f; /* 0x3f317200 */
    const float LN2_LO = 1.42860682030941723e-6f;
    const float SHIFTER = 12582912.0f; /* 1.5·2^23: adding it rounds to int */
    float ax = x < 0 ? -x : x;
    ax = ax > 9.0f ? 9.0f : ax;
    const float y = 2.0f * ax;
    const float t = y * LOG2E + SHIFTER;
    const float n = t - SHIFTER; /* round-to-nearest(y·log2 e), in [0, 26] */
    int32_t ni;
    memcpy(&ni, &t, sizeof ni);
    ni -= 0x4b400000;
    const float r = (y - n * LN2_HI) - n * LN2_LO;
    float p = 2.48015873015873016e-5f; /* 1/8! */
    p = p * r + 1.98412698412698413e-4f;
    p = p * r + 1.38888888888888889e-3f;
    p = p * r + 8.33333333333333333e-3f;
    p = p * r + 4.16666666666666667e-2f;
    p = p * r + 1.66666666666666667e-1f;
    p = p * r + 0.5f;
    p = r + (r * r) * p; /* e^r − 1 */
    const int32_t bits = (ni + 127) << 23;
    float s; /* 2^n */
    memcpy(&s, &bits, sizeof s);
    const float e = s * p + (s - 1.0f);
    /* copysign keeps tanh(−0) = −0 */
    return copysignf(e / (e + 2.0f), x);
}

/* a = e^z */
static void FM_LSFX(fwd_exp_f32)(int64_t n, const float *z, float *a) {
    for (int64_t i = 0; i < n; i++) a[i] = FM_LSFX(vexpf)(z[i]);
}

/* a = tanh z */
static void FM_LSFX(fwd_tanh_f32)(int64_t n, const float *z, float *a) {
    for (int64_t i = 0; i < n; i++) a[i] = FM_LSFX(vtanhf)(z[i]);
}

/* a = σ(z) = 1/(1 + e^{−z}) for z >= 0, e^z/(1 + e^z) below: exp is only
 * taken of −|z|, so it cannot overflow. */
static void FM_LSFX(fwd_sigmoid_f32)(int64_t n, const float *z, float *a) {
    for (int64_t i = 0; i < n; i++) {
        const float x = z[i];
        const float e = FM_LSFX(vexpf)(x < 0 ? x : -x);
        const float pos = 1.0f / (1.0f + e), neg = e / (1.0f + e);
        a[i] = x >= 0 ? pos : neg;
    }
}
