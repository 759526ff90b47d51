/*
 * act.c - activation functions: fm_act_forward_*, fm_act_backward_*,
 * fm_act_needs_z, fm_act_is_flat.
 *
 * The kernels are written once in act_tmpl.h and instantiated here for
 * float and double; the float instance calls the float libm functions
 * (expm1f, erff, ...), so float32 results are what a float32 library would
 * give, not double results rounded.  The float exp, tanh and sigmoid, the
 * activations of the hot training loops, are act_vec_tmpl.h's vectorised
 * versions instead, compiled per ISA, as are the float derivatives of
 * tanh, sigmoid and ReLU.  Specification: docs/MATH.md, "Activations".
 */
#include <math.h>
#include <string.h>

#include "fm_internal.h"
#include "gemm_kernels.h" /* FM_HAVE_X86_KERNELS */

/* 1 if g' cannot be recovered from A = g(Z): only GELU (its output is not
 * monotonic for z < 0, so A does not determine z). */
int fm_act_needs_z(fm_act_t act) { return act == FM_ACT_GELU; }

/* 1 if g' = 0 everywhere (step, sign): no gradient can flow through. */
int fm_act_is_flat(fm_act_t act) {
    return act == FM_ACT_STEP || act == FM_ACT_SIGN;
}

/* FM_OK if act is a valid activation and param is in its range: leaky
 * slope finite and >= 0 (a negative slope would make g non-monotonic and
 * break the backward pass from A), ELU alpha finite and > 0.  NaN fails
 * both comparisons and is rejected. */
static int act_check(fm_act_t act, double param) {
    if ((int)act < 0 || act >= FM_ACT_COUNT_) return FM_ERR_ARG;
    if (act == FM_ACT_LEAKY_RELU && !(param >= 0 && isfinite(param)))
        return FM_ERR_ARG;
    if (act == FM_ACT_ELU && !(param > 0 && isfinite(param)))
        return FM_ERR_ARG;
    return FM_OK;
}

/* The vectorised float spans, once per ISA. */
#define FM_LSFX(name) name##_generic
#include "act_vec_tmpl.h"
#undef FM_LSFX
#if FM_HAVE_X86_KERNELS
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define FM_LSFX(name) name##_avx2
#include "act_vec_tmpl.h"
#undef FM_LSFX
#pragma GCC pop_options
#pragma GCC push_options
/* AVX-512F only, as cpu.c checks; 512-bit vectors, which gcc's generic
 * tuning would otherwise avoid */
#pragma GCC target("avx512f,prefer-vector-width=512")
#define FM_LSFX(name) name##_avx512
#include "act_vec_tmpl.h"
#undef FM_LSFX
#pragma GCC pop_options
#endif

typedef void act_vec_span_t(int64_t n, const float *z, float *a);
typedef void act_vec_bwd_t(int64_t n, const float *a, const float *da,
                           float *dz);

/* One ISA's vectorised spans: forward tanh, sigmoid, exp; backward tanh,
 * sigmoid, ReLU (float); the bias add (float, double). */
typedef struct {
    act_vec_span_t *fwd[3];
    act_vec_bwd_t *bwd[3];
    void (*add_f32)(int64_t n, const float *b, float *c);
    void (*add_f64)(int64_t n, const double *b, double *c);
} act_vec_t;

#define FM_ACT_VEC(sfx)                                                    \
    {{fwd_tanh_f32_##sfx, fwd_sigmoid_f32_##sfx, fwd_exp_f32_##sfx},       \
     {bwd_tanh_f32_##sfx, bwd_sigmoid_f32_##sfx, bwd_relu_f32_##sfx},      \
     add_f32_##sfx, add_f64_##sfx}
static const act_vec_t act_vec[FM_ISA_COUNT_] = {
    [FM_ISA_GENERIC] = FM_ACT_VEC(generic),
#if FM_HAVE_X86_KERNELS
    [FM_ISA_AVX2] = FM_ACT_VEC(avx2),
    [FM_ISA_AVX512] = FM_ACT_VEC(avx512),
#endif
};
#undef FM_ACT_VEC

/* The active ISA's spans (the generic ones in a build without x86
 * kernels). */
static const act_vec_t *act_vec_active(void) {
    const act_vec_t *v = &act_vec[fm_isa_active()];
    return v->fwd[0] != NULL ? v : &act_vec[FM_ISA_GENERIC];
}

/* a = g(z) over n floats through the active ISA's vectorised span when
 * act has one (tanh, sigmoid, exp): 1 if done, 0 if act has none. */
static int vec_span_f32(fm_act_t act, int64_t n, const float *z, float *a) {
    const int k = act == FM_ACT_TANH      ? 0
                  : act == FM_ACT_SIGMOID ? 1
                  : act == FM_ACT_EXP     ? 2
                                          : -1;
    if (k < 0) return 0;
    act_vec_active()->fwd[k](n, z, a);
    return 1;
}

/* dz = da ⊙ g'(a) over n floats through the active ISA's span when act
 * has one (tanh, sigmoid, ReLU): 1 if done, 0 if act has none. */
static int vec_bwd_f32(fm_act_t act, int64_t n, const float *a,
                       const float *da, float *dz) {
    const int k = act == FM_ACT_TANH      ? 0
                  : act == FM_ACT_SIGMOID ? 1
                  : act == FM_ACT_RELU    ? 2
                                          : -1;
    if (k < 0) return 0;
    act_vec_active()->bwd[k](n, a, da, dz);
    return 1;
}

/* C[i·ldc + j] += b[j] for i < m, j < n, a row at a time through the
 * active ISA's span: the product epilogue's bias (gemm_tmpl.h), which the
 * baseline build of gemm.c added 4 floats at a time (2-3% of W3's epoch:
 * 30.5 -> 29.6 ms, medians of 12 alternating runs). */
void fm__add_bias_f32(int64_t m, int64_t n, float *C, int64_t ldc,
                      const float *b) {
    void (*const add)(int64_t, const float *, float *) =
        act_vec_active()->add_f32;
    for (int64_t i = 0; i < m; i++) add(n, b, C + i * ldc);
}

void fm__add_bias_f64(int64_t m, int64_t n, double *C, int64_t ldc,
                      const double *b) {
    void (*const add)(int64_t, const double *, double *) =
        act_vec_active()->add_f64;
    for (int64_t i = 0; i < m; i++) add(n, b, C + i * ldc);
}

/* The vectorised double exp of the active ISA (act_vec_tmpl.h: within a
 * few ulp), for loss.c's log-sum-exp. */
void fm__exp_f64(int64_t n, const double *x, double *y) {
#if FM_HAVE_X86_KERNELS
    switch (fm_isa_active()) {
    case FM_ISA_AVX512: exp_f64_avx512(n, x, y); return;
    case FM_ISA_AVX2: exp_f64_avx2(n, x, y); return;
    default: break;
    }
#endif
    exp_f64_generic(n, x, y);
}

/* double keeps libm throughout, and act_tmpl.h's backward loops */
static int vec_span_f64(fm_act_t act, int64_t n, const double *z, double *a) {
    (void)act, (void)n, (void)z, (void)a;
    return 0;
}

static int vec_bwd_f64(fm_act_t act, int64_t n, const double *a,
                       const double *da, double *dz) {
    (void)act, (void)n, (void)a, (void)da, (void)dz;
    return 0;
}

#define T float
#define FM_SFX(name) name##_f32
#define FM_EXP expf
#define FM_EXPM1 expm1f
#define FM_LOG1P log1pf
#define FM_TANH tanhf
#define FM_ERF erff
#define FM_FABS fabsf
#include "act_tmpl.h"
#undef T
#undef FM_SFX
#undef FM_EXP
#undef FM_EXPM1
#undef FM_LOG1P
#undef FM_TANH
#undef FM_ERF
#undef FM_FABS

#define T double
#define FM_SFX(name) name##_f64
#define FM_EXP exp
#define FM_EXPM1 expm1
#define FM_LOG1P log1p
#define FM_TANH tanh
#define FM_ERF erf
#define FM_FABS fabs
#include "act_tmpl.h"
#undef T
#undef FM_SFX
#undef FM_EXP
#undef FM_EXPM1
#undef FM_LOG1P
#undef FM_TANH
#undef FM_ERF
#undef FM_FABS
