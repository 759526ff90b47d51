/*
 * optim.c - optimisers: fm_optim_defaults, fm_optim_n_state and
 * fm_optim_step_* (one fused pass: penalty, state update, parameter
 * update), instantiated for float and double from optim_tmpl.h.
 * Specification: docs/MATH.md, "Optimisers".
 */
#include <math.h>
#include <string.h>

#include "fm_internal.h"
#include "gemm_kernels.h" /* FM_HAVE_X86_KERNELS */

/* Elements per fused pass (Σ|g|, penalty, update): the block's w, g, m
 * and s stay in L1 between the passes. */
#define FM_OPT_BLOCK 1024
/* Fewer parameters than this run on the calling thread: below it the
 * update (under a microsecond per thousand) costs less than waking one. */
#define FM_OPT_PARALLEL_MIN 32768

/* torch's defaults (scikit-learn's for SGD_VELOCITY and ADAM_SKLEARN, the
 * course's β = 0.9 for MOMENTUM_EWMA); unused fields are 0. */
int fm_optim_defaults(fm_opt_kind_t kind, fm_optim_t *opt) {
    if (opt == NULL || (int)kind < 0 || kind >= FM_OPT_COUNT_)
        return FM_ERR_ARG;
    memset(opt, 0, sizeof *opt);
    opt->kind = kind;
    opt->lr = 1e-3;
    switch (kind) {
    case FM_OPT_SGD: break; /* torch has no default lr; 1e-3 as sklearn */
    case FM_OPT_SGD_VELOCITY:
        opt->momentum = 0.9;
        opt->nesterov = 1;
        break;
    case FM_OPT_MOMENTUM_EWMA: opt->momentum = 0.9; break;
    case FM_OPT_RMSPROP:
        opt->lr = 1e-2;
        opt->beta2 = 0.99; /* α */
        opt->eps = 1e-8;
        break;
    case FM_OPT_ADAM:
    case FM_OPT_ADAM_SKLEARN:
    case FM_OPT_ADAMW:
        opt->beta1 = 0.9;
        opt->beta2 = 0.999;
        opt->eps = 1e-8;
        if (kind == FM_OPT_ADAMW) opt->weight_decay = 1e-2;
        break;
    default: break;
    }
    return FM_OK;
}

/* State buffers the kind reads: SGD 1 only with momentum (buf), velocity
 * and EWMA 1 (v), RMSprop 1 (s) + 1 with momentum (buf), Adam family 2
 * (m, s).  -1 for NULL or an unknown kind. */
int fm_optim_n_state(const fm_optim_t *opt) {
    if (opt == NULL) return -1;
    switch (opt->kind) {
    case FM_OPT_SGD: return opt->momentum != 0 ? 1 : 0;
    case FM_OPT_SGD_VELOCITY: return 1;
    case FM_OPT_MOMENTUM_EWMA: return 1;
    case FM_OPT_RMSPROP: return opt->momentum != 0 ? 2 : 1;
    case FM_OPT_ADAM:
    case FM_OPT_ADAM_SKLEARN:
    case FM_OPT_ADAMW: return 2;
    default: return -1;
    }
}

/* x finite and lo <= x < hi (closed_hi: x <= hi).  NaN fails. */
static int in_range(double x, double lo, double hi, int closed_hi) {
    return x >= lo && (closed_hi ? x <= hi : x < hi);
}

/* FM_OK if opt, t, n and the penalties are valid for opt->kind:
 * t >= 1, n >= 0; lr, eps, weight decay, l2, l1 finite and >= 0;
 * momentum μ in [0, 1] (scikit-learn's range; torch only asks >= 0) and
 * the averaging factors β (EWMA), α (RMSprop), β1, β2 (Adam) in [0, 1),
 * since 1 would freeze the average (and divide by 1 − βᵗ = 0 in Adam). */
static int optim_check(const fm_optim_t *opt, int64_t t, int64_t n,
                       double l2, double l1) {
    const double big = HUGE_VAL;
    if (opt == NULL || (int)opt->kind < 0 || opt->kind >= FM_OPT_COUNT_)
        return FM_ERR_ARG;
    if (t < 1 || n < 0) return FM_ERR_ARG;
    if (!in_range(opt->lr, 0, big, 0) ||
        !in_range(opt->weight_decay, 0, big, 0) || !in_range(l2, 0, big, 0) ||
        !in_range(l1, 0, big, 0))
        return FM_ERR_ARG;
    switch (opt->kind) {
    case FM_OPT_SGD:
    case FM_OPT_SGD_VELOCITY:
        return in_range(opt->momentum, 0, 1, 1) ? FM_OK : FM_ERR_ARG;
    case FM_OPT_MOMENTUM_EWMA:
        return in_range(opt->momentum, 0, 1, 0) ? FM_OK : FM_ERR_ARG;
    case FM_OPT_RMSPROP:
        return in_range(opt->momentum, 0, 1, 1) &&
                       in_range(opt->beta2, 0, 1, 0) &&
                       in_range(opt->eps, 0, big, 0)
                   ? FM_OK
                   : FM_ERR_ARG;
    default: /* Adam family */
        return in_range(opt->beta1, 0, 1, 0) &&
                       in_range(opt->beta2, 0, 1, 0) &&
                       in_range(opt->eps, 0, big, 0)
                   ? FM_OK
                   : FM_ERR_ARG;
    }
}

#define T float
#define FM_SFX(name) name##_f32
#define FM_SQRT sqrtf
#include "optim_tmpl.h"
#undef T
#undef FM_SFX
#undef FM_SQRT

#define T double
#define FM_SFX(name) name##_f64
#define FM_SQRT sqrt
#include "optim_tmpl.h"
#undef T
#undef FM_SFX
#undef FM_SQRT
