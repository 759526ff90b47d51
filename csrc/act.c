/*
 * act.c - activation functions: fm_act_forward_*, fm_act_backward_*,
 * fm_act_needs_z, fm_act_is_flat.
 *
 * The kernels are written once in act_tmpl.h and instantiated here for
 * float and double; the float instance calls the float libm functions
 * (expf, tanhf, ...), so float32 results are what a float32 library would
 * give, not double results rounded.  Specification: docs/MATH.md,
 * "Activations".
 */
#include <math.h>

#include "fm_internal.h"

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
