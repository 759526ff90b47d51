/*
 * dense.c - the dense (fully connected) layer: fm_dense_forward_* and
 * fm_dense_backward_*, both dtypes generated from dense_tmpl.h, plus the
 * argument checks they share.  The products themselves live in gemm.c.
 */
#include <math.h>

#include "fm_internal.h"

/* 1 if p may stand for a (rows, cols) array: NULL only for an empty one. */
static int dense_ptr_ok(const void *p, int64_t rows, int64_t cols) {
    return p != NULL || rows == 0 || cols == 0;
}

/* The parameter of leaky ReLU / ELU must be in range before the product,
 * because the fused epilogue applies g without a way to report it. */
static int dense_act_ok(fm_act_t act, double act_param) {
    if ((int)act < 0 || act >= FM_ACT_COUNT_) return 0;
    if (act == FM_ACT_LEAKY_RELU) return isfinite(act_param) && act_param >= 0;
    if (act == FM_ACT_ELU) return isfinite(act_param) && act_param > 0;
    return 1;
}

static int dense_check_forward(const void *Z, const void *A, const void *X,
                               int64_t ldx, const void *W, const void *b,
                               int64_t n, int64_t n_in, int64_t n_out,
                               fm_act_t act, double act_param) {
    if (n < 0 || n_in < 0 || n_out < 0 || ldx < n_in) return FM_ERR_ARG;
    if (!dense_act_ok(act, act_param)) return FM_ERR_ARG;
    if (!dense_ptr_ok(A, n, n_out) || !dense_ptr_ok(X, n, n_in) ||
        !dense_ptr_ok(W, n_in, n_out) || !dense_ptr_ok(b, 1, n_out))
        return FM_ERR_ARG;
    (void)Z; /* NULL: the pre-activation is not kept */
    return FM_OK;
}

static int dense_check_backward(const void *dW, const void *db,
                                const void *dX, const void *dZ, const void *X,
                                int64_t ldx, const void *W, int64_t n,
                                int64_t n_in, int64_t n_out) {
    if (n < 0 || n_in < 0 || n_out < 0 || ldx < n_in) return FM_ERR_ARG;
    if (!dense_ptr_ok(dW, n_in, n_out) || !dense_ptr_ok(db, 1, n_out) ||
        !dense_ptr_ok(dZ, n, n_out) || !dense_ptr_ok(X, n, n_in))
        return FM_ERR_ARG;
    /* W is only read to form dX */
    if (dX != NULL && !dense_ptr_ok(W, n_in, n_out)) return FM_ERR_ARG;
    return FM_OK;
}

#define T float
#define FM_SFX(name) name##_f32
#include "dense_tmpl.h"
#undef T
#undef FM_SFX

#define T double
#define FM_SFX(name) name##_f64
#include "dense_tmpl.h"
#undef T
#undef FM_SFX
