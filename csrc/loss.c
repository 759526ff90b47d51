/*
 * loss.c - losses: fm_loss_check_pair and fm_loss_* (value and output
 * delta), instantiated for float and double from loss_tmpl.h.
 * Specification: docs/MATH.md, "Losses".
 *
 * Why the canonical pairs skip dA: for squared+identity, BCE+sigmoid,
 * CCE+softmax and Poisson+exp, ∂ℓ/∂z = a − y exactly (the activation's
 * derivative cancels the loss's), which is cheaper and does not lose
 * precision where the output saturates (σ'(z) → 0 while a − y does not).
 */
#include <math.h>

#include "fm_internal.h"

/* FM_OK if loss may follow out_act: BCE needs sigmoid, CCE softmax,
 * Poisson exp (their values are written in terms of those logits);
 * squared error follows anything. */
int fm_loss_check_pair(fm_loss_t loss, fm_act_t out_act) {
    if ((int)loss < 0 || loss >= FM_LOSS_COUNT_) return FM_ERR_ARG;
    if ((int)out_act < 0 || out_act >= FM_ACT_COUNT_) return FM_ERR_ARG;
    switch (loss) {
    case FM_LOSS_BINARY_CROSSENTROPY:
        return out_act == FM_ACT_SIGMOID ? FM_OK : FM_ERR_LOSS_PAIR;
    case FM_LOSS_CATEGORICAL_CROSSENTROPY:
        return out_act == FM_ACT_SOFTMAX ? FM_OK : FM_ERR_LOSS_PAIR;
    case FM_LOSS_POISSON:
        return out_act == FM_ACT_EXP ? FM_OK : FM_ERR_LOSS_PAIR;
    default: return FM_OK;
    }
}

/* 1 for the pairs whose output delta is A − Y (the pair already checked). */
static int loss_is_canonical(fm_loss_t loss, fm_act_t out_act) {
    return loss != FM_LOSS_SQUARED || out_act == FM_ACT_IDENTITY;
}

/* Elements of z − m that cce_total exponentiates at once (8 KiB of
 * doubles on the stack); a row of more classes goes in pieces. */
#define FM_LSE_CHUNK 1024

#define T float
#define FM_SFX(name) name##_f32
#include "loss_tmpl.h"
#undef T
#undef FM_SFX

#define T double
#define FM_SFX(name) name##_f64
#include "loss_tmpl.h"
#undef T
#undef FM_SFX
