/*
 * act.c - activation functions: fm_act_forward_*, fm_act_backward_*,
 * fm_act_needs_z, fm_act_is_flat.
 *
 * The kernels are written once in act_tmpl.h and instantiated here for
 * float and double; the float instance calls the float libm functions
 * (expm1f, erff, ...), so float32 results are what a float32 library would
 * give, not double results rounded.  The float exp, tanh and sigmoid, the
 * activations of the hot training loops, are act_vec_tmpl.h's vectorised
 * versions instead, compiled per ISA.  Specification: docs/MATH.md,
 * "Activations".
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

/* The vectorised spans of each ISA, in the order tanh, sigmoid, exp. */
static act_vec_span_t *const vec_spans[FM_ISA_COUNT_][3] = {
    [FM_ISA_GENERIC] = {fwd_tanh_f32_generic, fwd_sigmoid_f32_generic,
                        fwd_exp_f32_generic},
#if FM_HAVE_X86_KERNELS
    [FM_ISA_AVX2] = {fwd_tanh_f32_avx2, fwd_sigmoid_f32_avx2,
                     fwd_exp_f32_avx2},
    [FM_ISA_AVX512] = {fwd_tanh_f32_avx512, fwd_sigmoid_f32_avx512,
                       fwd_exp_f32_avx512},
#endif
};

/* a = g(z) over n floats through the active ISA's vectorised span when
 * act has one (tanh, sigmoid, exp): 1 if done, 0 if act has none. */
static int vec_span_f32(fm_act_t act, int64_t n, const float *z, float *a) {
    const int k = act == FM_ACT_TANH      ? 0
                  : act == FM_ACT_SIGMOID ? 1
                  : act == FM_ACT_EXP     ? 2
                                          : -1;
    if (k < 0) return 0;
    act_vec_span_t *f = vec_spans[fm_isa_active()][k];
    if (f == NULL) f = vec_spans[FM_ISA_GENERIC][k]; /* no x86 kernels */
    f(n, z, a);
    return 1;
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

/* double keeps libm throughout */
static int vec_span_f64(fm_act_t act, int64_t n, const double *z, double *a) {
    (void)act, (void)n, (void)z, (void)a;
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
