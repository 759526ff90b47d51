/*
 * dense_tmpl.h - the dense layer for one dtype, included twice by dense.c
 * with T (float / double) and FM_SFX (name##_f32 / name##_f64) defined.
 *
 * Owns fm_dense_forward_* and fm_dense_backward_*: the forward pass is one
 * fused product (bias and activation applied as each output tile is
 * written), the backward pass two products and one column sum.
 * Mirror: fastmlp/reference.py dense_forward / dense_backward; the math is
 * docs/MATH.md, section "Dense layer".
 */

/* Z, A (n, n_out) from X (n, n_in; row stride ldx), W (n_in, n_out),
 * b (n_out,):  Z = X·W + b,  A = g(Z). */
int FM_SFX(fm_dense_forward)(T *Z, T *A, const T *X, int64_t ldx,
                             const T *W, const T *b, int64_t n,
                             int64_t n_in, int64_t n_out, fm_act_t act,
                             double act_param) {
    int st = dense_check_forward(Z, A, X, ldx, W, b, n, n_in, n_out, act,
                                 act_param);
    if (st != FM_OK || n == 0 || n_out == 0) return st;

    fm_epilogue_t ep = {b, act, act_param, Z, n_out};
    if (act != FM_ACT_SOFTMAX) {
        /* Z = X·W + b, A = g(Z): the epilogue adds b, keeps Z and applies
         * g to each tile while it is still in cache */
        return FM_SFX(fm__gemm_ep)(0, 0, n, n_out, n_in, X, ldx, W, n_out, A,
                                   n_out, &ep);
    }

    /* softmax needs whole rows, so the product only leaves the logits
     * (in Z, or in A itself when Z is not kept) and g runs after it */
    T *logits = Z != NULL ? Z : A;
    ep.act = FM_ACT_IDENTITY;
    ep.Z = NULL;
    /* logits = X·W + b */
    st = FM_SFX(fm__gemm_ep)(0, 0, n, n_out, n_in, X, ldx, W, n_out, logits,
                             n_out, &ep);
    if (st != FM_OK) return st;
    /* A = softmax(logits), row by row */
    return FM_SFX(fm_act_forward)(FM_ACT_SOFTMAX, act_param, n, n_out, logits,
                                  n_out, A, n_out);
}

/* dW (n_in, n_out), db (n_out,), dX (n, n_in) or NULL from dZ (n, n_out),
 * X (n, n_in; row stride ldx), W (n_in, n_out):
 * dW = Xᵀ·dZ,  db = Σ_rows dZ,  dX = dZ·Wᵀ. */
int FM_SFX(fm_dense_backward)(T *dW, T *db, T *dX, const T *dZ, const T *X,
                              int64_t ldx, const T *W, int64_t n,
                              int64_t n_in, int64_t n_out) {
    int st = dense_check_backward(dW, db, dX, dZ, X, ldx, W, n, n_in, n_out);
    if (st != FM_OK) return st;

    /* dW = Xᵀ·dZ */
    st = FM_SFX(fm_gemm)(1, 0, n_in, n_out, n, (T)1, X, ldx, dZ, n_out, (T)0,
                         dW, n_out);
    if (st != FM_OK) return st;

    /* db_j = Σ_i dZ_ij, added row after row in T: MATH.md fixes this order
     * so the NumPy mirror (dZ.sum(axis=0)) rounds the same way */
    FM_SFX(fm__col_sums)(n, n_out, dZ, n_out, db);

    if (dX == NULL) return FM_OK;
    /* dX = dZ·Wᵀ */
    return FM_SFX(fm_gemm)(0, 1, n, n_in, n_out, (T)1, dZ, n_out, W, n_out,
                           (T)0, dX, n_in);
}
