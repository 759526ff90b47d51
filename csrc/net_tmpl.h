/*
 * net_tmpl.h - the network's math for one dtype, included twice by net.c
 * with T (float / double) and FM_SFX (name##_f32 / name##_f64) defined.
 *
 * Owns the per-dtype halves of training and inference: the forward pass
 * with dropout, the backward pass, the optimiser update, the penalty, the
 * chunked inference forward, and the bodies of predict / evaluate.  The
 * order of every step is docs/MATH.md "Network training"; the NumPy mirror
 * is fastmlp/reference.py (net_train_step, net_predict, net_evaluate).
 * Everything here is static: net.c dispatches on the network's dtype.
 */

/* pen = λ/(2W)·Σ_l ‖W_l‖² + l1/W·Σ_l Σ|W_l| over weights only, in double
 * (MATH.md step 3); 0 when both coefficients are 0. */
static double FM_SFX(net_penalty)(const fm_net_t *net, double l2, double l1,
                                  double W) {
    if (l2 == 0 && l1 == 0) return 0;
    double sq = 0, ab = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const fm__lview_t *v = &net->lv[l];
        const T *w = (const T *)net->params + v->w_off;
        const int64_t nw = v->fan_in * v->units;
        for (int64_t j = 0; j < nw; j++) {
            const double x = (double)w[j];
            sq += x * x;
            ab += fabs(x);
        }
    }
    double pen = 0;
    if (l2 != 0) pen += l2 / (2.0 * W) * sq;
    if (l1 != 0) pen += l1 / W * ab;
    return pen;
}

/* W = Σ w_i of n rows in double, in row order; n when sw is NULL: the
 * n in every 1/n of MATH.md. */
static double FM_SFX(net_weight_sum)(int64_t n, const T *sw) {
    if (sw == NULL) return (double)n;
    double W = 0;
    for (int64_t i = 0; i < n; i++) W += (double)sw[i];
    return W;
}

/* Step 1.  A_l (n, u_l) for every layer from X (n, n_in) into the
 * training views, and Z_l where it is read later (see below); where p_l > 0 (and dropout_on) also D_l = dropout(A_l)
 * with mask M_l, and D_l (not A_l) feeds layer l+1. */
static int FM_SFX(net_forward_train)(fm_net_t *net, uint64_t seed, int64_t n,
                                     const T *X, int dropout_on) {
    const int L = net->n_layers;
    const uint64_t key = fm_rng_key(seed, FM_STREAM_DROPOUT);
    const T *H = X;
    int64_t ldh = net->n_in;
    for (int l = 0; l < L; l++) {
        const fm_layer_t *ly = &net->layers[l];
        fm__lview_t *v = &net->lv[l];
        /* Z_l = H_l·W_l + b_l,  A_l = g_l(Z_l).  Z_l is kept only where
         * something reads it: the loss (last layer) or a derivative that
         * needs Z (GELU); the others are computed from A_l, and not
         * storing Z saves a copy of every hidden layer per step. */
        T *Z = l == L - 1 || fm_act_needs_z(ly->act) ? (T *)v->Z : NULL;
        int st = FM_SFX(fm_dense_forward)(
            Z, (T *)v->A, H, ldh, (const T *)v->W, (const T *)v->b, n,
            v->fan_in, v->units, ly->act, ly->act_param);
        if (st != FM_OK) return st;
        H = (const T *)v->A;
        if (ly->dropout > 0 && dropout_on) {
            /* backward needs the undropped A_l for g', so drop a copy */
            memcpy(v->D, v->A, (size_t)(n * v->units) * sizeof(T));
            /* counter0 = ((t+1)·L + l)·2³²: each step and layer draws from
             * its own 2³²-long counter range, so masks never repeat */
            const uint64_t c0 =
                (((uint64_t)net->t + 1u) * (uint64_t)L + (uint64_t)l) << 32;
            st = FM_SFX(fm_dropout_forward)(ly->dropout, key, c0, n, v->units,
                                            (T *)v->D, (T *)v->M);
            if (st != FM_OK) return st;
            H = (const T *)v->D;
        }
        ldh = v->units;
    }
    return FM_OK;
}

/* Step 4.  dW_l, db_l for l = L−1 … 0 from dZ_{L−1} (left in the last
 * layer's dZ view by the loss) and X (n, n_in).  Each layer's dH is
 * written straight into the previous layer's dZ view and turned into
 * dZ_{l−1} there.  A flat activation stops it with FM_ERR_NODERIV. */
static int FM_SFX(net_backward)(fm_net_t *net, int64_t n, const T *X,
                                int dropout_on) {
    for (int l = net->n_layers - 1; l >= 0; l--) {
        const fm__lview_t *v = &net->lv[l];
        const fm__lview_t *p = l > 0 ? &net->lv[l - 1] : NULL;
        const fm_layer_t *pl = l > 0 ? &net->layers[l - 1] : NULL;
        /* the layer's input H_l as the forward pass saw it */
        const T *H = X;
        const int dropped = p != NULL && pl->dropout > 0 && dropout_on;
        if (p != NULL) H = (const T *)(dropped ? p->D : p->A);
        T *dH = p != NULL ? (T *)p->dZ : NULL;
        /* dW_l = H_lᵀ·dZ_l,  db_l = Σ_rows dZ_l,  dH = dZ_l·W_lᵀ */
        int st = FM_SFX(fm_dense_backward)((T *)v->dW, (T *)v->db, dH,
                                           (const T *)v->dZ, H, v->fan_in,
                                           (const T *)v->W, n, v->fan_in,
                                           v->units);
        if (st != FM_OK) return st;
        if (p == NULL) break;
        const int64_t ne = n * p->units;
        if (dropped) {
            /* dH = dH ⊙ M_{l−1}: dropped units passed nothing forward */
            const T *M = (const T *)p->M;
            for (int64_t e = 0; e < ne; e++) dH[e] *= M[e];
        }
        /* dZ_{l−1} = dH ⊙ g'_{l−1}(Z_{l−1}, A_{l−1}), in place */
        st = FM_SFX(fm_act_backward)(pl->act, pl->act_param, n, p->units,
                                     (const T *)p->Z, (const T *)p->A, dH, dH);
        if (st != FM_OK) return st;
    }
    return FM_OK;
}

/* Step 5.  t ← t + 1, then per layer W_l ← opt(W_l, dW_l + penalty) and
 * b_l ← opt(b_l, db_l) with the state slices at the same offsets, in one
 * pass over the flat buffers ([W0, b0, W1, b1, …]: the segments seg_n);
 * records mean|dW_l|, mean|db_l| of the raw gradient.  l2c = λ/W,
 * l1c = l1/W. */
static int FM_SFX(net_update)(fm_net_t *net, const fm_optim_t *opt,
                              double l2c, double l1c) {
    const int ns = fm_optim_n_state(opt);
    const int64_t t = net->t + 1;
    const int st = FM_SFX(fm__optim_step_segments)(
        opt, t, 2 * net->n_layers, net->seg_n, l2c, l1c, (T *)net->params,
        (const T *)net->grads, ns >= 1 ? (T *)net->state[0] : NULL,
        ns >= 2 ? (T *)net->state[1] : NULL, net->seg_abs, net->seg_chunks);
    if (st != FM_OK) return st;
    for (int l = 0; l < net->n_layers; l++) {
        fm__lview_t *v = &net->lv[l];
        v->gw = net->seg_abs[2 * l] / (double)net->seg_n[2 * l];
        v->gb = net->seg_abs[2 * l + 1] / (double)v->units;
    }
    net->t = t;
    return FM_OK;
}

/* One training step on X (n, n_in), Y (n, n_out), sw (n,) or NULL, with
 * the views already sized for n rows: MATH.md steps 1–5 in order.  The
 * parameters and t change only in step 5, after every check has passed. */
static int FM_SFX(net_step)(fm_net_t *net, const fm_train_cfg_t *cfg,
                            int64_t n, const T *X, const T *Y, const T *sw,
                            fm__step_out_t *out) {
    const int L = net->n_layers;
    const fm_layer_t *ly = &net->layers[L - 1];
    fm__lview_t *v = &net->lv[L - 1];

    const double W = FM_SFX(net_weight_sum)(n, sw);

    int st = FM_SFX(net_forward_train)(net, cfg->seed, n, X, 1);
    if (st != FM_OK) return st;

    /* step 2: value = Σ w_i ℓ_i / W,  dZ_{L−1} = ∂value/∂Z_{L−1} */
    double value = 0;
    st = FM_SFX(fm_loss)(cfg->loss, ly->act, ly->act_param, n, v->units,
                         (const T *)v->Z, (const T *)v->A, Y, sw, &value,
                         (T *)v->dZ);
    if (st != FM_OK) return st;
    if (!isfinite(value)) return FM_ERR_NONFINITE;

    /* step 3: from the weights before the update */
    const double pen = FM_SFX(net_penalty)(net, cfg->l2, cfg->l1, W);

    st = FM_SFX(net_backward)(net, n, X, 1);
    if (st != FM_OK) return st;

    st = FM_SFX(net_update)(net, &cfg->opt, cfg->l2 / W, cfg->l1 / W);
    if (st != FM_OK) return st;

    out->value = value;
    out->penalty = pen;
    out->W = W;
    return FM_OK;
}

/* Inference forward of m rows, no dropout: X (m, n_in; row stride ldx) →
 * A_out (m, n_out) and, when Z_out != NULL, Z_out (m, n_out).  Hidden
 * layers alternate between buf0 and buf1 (m, max_hidden) each; only the
 * output layer keeps Z. */
static int FM_SFX(net_forward_infer)(const fm_net_t *net, int64_t m,
                                     const T *X, int64_t ldx, T *buf0,
                                     T *buf1, T *Z_out, T *A_out) {
    const int L = net->n_layers;
    const T *H = X;
    int64_t ldh = ldx;
    for (int l = 0; l < L; l++) {
        const fm_layer_t *ly = &net->layers[l];
        const fm__lview_t *v = &net->lv[l];
        const int last = l == L - 1;
        T *A = last ? A_out : (l % 2 == 0 ? buf0 : buf1);
        /* Z_l = H_l·W_l + b_l,  A_l = g_l(Z_l) */
        int st = FM_SFX(fm_dense_forward)(
            last ? Z_out : NULL, A, H, ldh, (const T *)v->W, (const T *)v->b,
            m, v->fan_in, v->units, ly->act, ly->act_param);
        if (st != FM_OK) return st;
        H = A;
        ldh = v->units;
    }
    return FM_OK;
}

/* 1 if the m rows of X (n_in values each, row stride ldx) are finite. */
static int FM_SFX(net_rows_finite)(int64_t m, int64_t n_in, const T *X,
                                   int64_t ldx) {
    if (ldx == n_in) return FM_SFX(fm_all_finite)(m * n_in, X);
    for (int64_t i = 0; i < m; i++)
        if (!FM_SFX(fm_all_finite)(n_in, X + i * ldx)) return 0;
    return 1;
}

/* out (n, n_out) = network(X (n, n_in; row stride ldx)), in net_chunks'
 * chunks through per-call scratch (thread-safe on a const net), each
 * thread with its own. */
static int FM_SFX(net_predict)(const fm_net_t *net, int64_t n, const T *X,
                               int64_t ldx, T *out) {
    const net_chunks_t c = net_chunks(net, n);
    /* one thread's buf0 and buf1; c.rows <= 128 and max_hidden < 2^31,
     * so the product cannot overflow */
    const int64_t per = 2 * c.rows * net->max_hidden;
    /* Small requests (one sample, a few rows) use the stack: no heap
     * allocation per call on the latency-bound path. */
    _Alignas(FM_CACHELINE) T stack[FM_PREDICT_STACK_BYTES / sizeof(T)];
    T *scratch = stack;
    if (c.nt * per > (int64_t)(sizeof stack / sizeof(T))) {
        const int st = net_scratch(net, c.nt * c.rows, 0, (void **)&scratch);
        if (st != FM_OK) return st;
    }
    _Atomic int status = FM_OK;
    FM_FOR_ON_THREADS(c.nt, k, c.n_chunks, {
        const int64_t r0 = n * k / c.n_chunks;
        const int64_t m = n * (k + 1) / c.n_chunks - r0;
        const T *x = X + r0 * ldx;
        T *buf0 = scratch + fm__thread_num() * per;
        /* the scan leaves the chunk in cache for the first product */
        const int s =
            !FM_SFX(net_rows_finite)(m, net->n_in, x, ldx)
                ? FM_ERR_NONFINITE
                : FM_SFX(net_forward_infer)(
                      net, m, x, ldx, buf0, buf0 + c.rows * net->max_hidden,
                      NULL, out + r0 * net->n_out);
        if (s != FM_OK) atomic_store(&status, s);
    });
    if (scratch != stack) fm__free(scratch);
    return atomic_load(&status);
}

/* Mean data loss of the network on X (n, n_in), Y (n, n_out), sw (n,) or
 * NULL, and the penalty with W = Σw.  Chunked like predict; each chunk's
 * value is re-weighted by its Σw so the result is Σ w_i ℓ_i / Σ w_i over
 * all rows, as one pass would give, and the chunks' terms are added in
 * chunk order after the threads are done, so the bits do not depend on
 * the thread count. */
static int FM_SFX(net_evaluate)(const fm_net_t *net, const fm_train_cfg_t *cfg,
                                int64_t n, const T *X, const T *Y, const T *sw,
                                double *loss, double *penalty) {
    const fm_layer_t *ly = &net->layers[net->n_layers - 1];
    const int64_t k = net->n_out;
    const net_chunks_t c = net_chunks(net, n);
    /* one thread's buf0, buf1, Zo, Ao */
    const int64_t hid = c.rows * net->max_hidden, per = 2 * hid + 2 * c.rows * k;
    T *scratch = NULL;
    int st = net_scratch(net, c.nt * c.rows, 1, (void **)&scratch);
    if (st != FM_OK) return st;
    /* chunk j's Σ w_i ℓ_i at 2j, its Σ w_i at 2j + 1 */
    double *terms = fm__alloc((size_t)c.n_chunks * 2 * sizeof(double));
    if (terms == NULL) {
        fm__free(scratch);
        return FM_ERR_NOMEM;
    }

    _Atomic int status = FM_OK;
    FM_FOR_ON_THREADS(c.nt, j, c.n_chunks, {
        const int64_t r0 = n * j / c.n_chunks;
        const int64_t m = n * (j + 1) / c.n_chunks - r0;
        T *buf0 = scratch + fm__thread_num() * per, *buf1 = buf0 + hid;
        T *Zo = buf1 + hid, *Ao = Zo + c.rows * k;
        const T *swc = sw != NULL ? sw + r0 : NULL;
        const double Wc = FM_SFX(net_weight_sum)(m, swc);
        double value = 0;
        /* rows of weight zero add nothing (and fm_loss rejects Σw = 0) */
        int s = FM_OK;
        if (Wc != 0)
            s = FM_SFX(net_forward_infer)(net, m, X + r0 * net->n_in,
                                          net->n_in, buf0, buf1, Zo, Ao);
        /* value_c = Σ_c w_i ℓ_i / W_c */
        if (Wc != 0 && s == FM_OK)
            s = FM_SFX(fm_loss)(cfg->loss, ly->act, ly->act_param, m, k, Zo,
                                Ao, Y + r0 * k, swc, &value, NULL);
        terms[2 * j] = value * Wc;
        terms[2 * j + 1] = Wc;
        if (s != FM_OK) atomic_store(&status, s);
    });
    st = atomic_load(&status);
    double sum_wl = 0, sum_w = 0;
    for (int64_t j = 0; j < c.n_chunks; j++) {
        sum_wl += terms[2 * j];
        sum_w += terms[2 * j + 1];
    }
    fm__free(terms);
    fm__free(scratch);
    if (st != FM_OK) return st;
    if (!(sum_w > 0)) return FM_ERR_ARG;
    if (loss != NULL) *loss = sum_wl / sum_w;
    if (penalty != NULL)
        *penalty = FM_SFX(net_penalty)(net, cfg->l2, cfg->l1, sum_w);
    return FM_OK;
}

/* Full-batch objective and gradient (fm_net_loss_grad): chunks of at most
 * ws_rows rows run forward (no dropout), loss and backward in the
 * training views; chunk c's gradient, scaled by W_c/W, is added into
 * grad (n_params), so the sum is the gradient of Σ w_i ℓ_i / W.  Then the
 * penalty's gradient on the weights, in the optimiser's order:
 * g = (g + T(λ/W)·w) + T(l1/W)·sign(w).  Parameters and t are unchanged. */
static int FM_SFX(net_loss_grad)(fm_net_t *net, const fm_train_cfg_t *cfg,
                                 int64_t n, const T *X, const T *Y,
                                 const T *sw, double *loss, T *grad) {
    const int L = net->n_layers;
    const fm_layer_t *ly = &net->layers[L - 1];
    fm__lview_t *v = &net->lv[L - 1];
    const int64_t np = net->n_params, chunk = net->ws_rows;
    const T *G = (const T *)net->grads;
    const double W = FM_SFX(net_weight_sum)(n, sw);
    double sum_vw = 0;
    memset(grad, 0, (size_t)np * sizeof(T));
    for (int64_t r0 = 0; r0 < n; r0 += chunk) {
        const int64_t m = n - r0 < chunk ? n - r0 : chunk;
        const T *Xc = X + r0 * net->n_in, *Yc = Y + r0 * net->n_out;
        const T *swc = sw ? sw + r0 : NULL;
        const double Wc = FM_SFX(net_weight_sum)(m, swc);
        if (Wc <= 0) continue; /* an all-zero-weight chunk adds nothing */
        int st = FM_SFX(net_forward_train)(net, cfg->seed, m, Xc, 0);
        if (st != FM_OK) return st;
        double value = 0;
        st = FM_SFX(fm_loss)(cfg->loss, ly->act, ly->act_param, m, v->units,
                             (const T *)v->Z, (const T *)v->A, Yc, swc, &value,
                             (T *)v->dZ);
        if (st != FM_OK) return st;
        if (!isfinite(value)) return FM_ERR_NONFINITE;
        st = FM_SFX(net_backward)(net, m, Xc, 0);
        if (st != FM_OK) return st;
        sum_vw += value * Wc;
        /* grad += (W_c/W)·G_c: the chunk's 1/W_c becomes the batch's 1/W */
        const T scale = (T)(Wc / W);
        for (int64_t i = 0; i < np; i++) grad[i] += scale * G[i];
    }
    const T l2c = (T)(cfg->l2 / W), l1c = (T)(cfg->l1 / W);
    for (int l = 0; l < L && (cfg->l2 != 0 || cfg->l1 != 0); l++) {
        const fm__lview_t *lv = &net->lv[l];
        const T *w = (const T *)lv->W;
        T *g = grad + lv->w_off;
        const int64_t nw = lv->fan_in * lv->units;
        if (cfg->l2 != 0)
            for (int64_t j = 0; j < nw; j++) g[j] = g[j] + l2c * w[j];
        if (cfg->l1 != 0)
            for (int64_t j = 0; j < nw; j++)
                g[j] = g[j] + l1c * (T)((w[j] > 0) - (w[j] < 0));
    }
    *loss = sum_vw / W + FM_SFX(net_penalty)(net, cfg->l2, cfg->l1, W);
    return FM_OK;
}
