/*
 * loss_tmpl.h - loss value and output delta for one dtype T.
 *
 * Included by loss.c once per dtype (T, FM_SFX).  Specification:
 * docs/MATH.md, "Losses"; NumPy mirror: fastmlp/reference.py: loss.
 *
 * The value is a reported scalar, so every term of it is computed in
 * double from the T inputs (converted exactly) and accumulated in double;
 * the gradient is element-wise arithmetic and stays in T.
 */

/* ℓ of one sample (row of k outputs), in double.
 *   squared: ½·Σ_k (a − y)²
 *   BCE:     Σ_k (max(z,0) − y·z) + log1p(exp(−|z|))
 *   Poisson: Σ_k ((xlogy(y,y) − y·z) − y) + exp(z)
 * BCE and Poisson read the logits, never log(a): finite for any finite
 * z.  Categorical cross-entropy is cce_total's. */
static double FM_SFX(loss_row)(fm_loss_t loss, int64_t k, const T *z,
                               const T *a, const T *y) {
    double l = 0.0;
    switch (loss) {
    case FM_LOSS_SQUARED:
        for (int64_t j = 0; j < k; j++) {
            double d = (double)a[j] - (double)y[j];
            l += d * d;
        }
        return 0.5 * l;
    case FM_LOSS_BINARY_CROSSENTROPY:
        for (int64_t j = 0; j < k; j++) {
            double zz = z[j], yy = y[j];
            l += ((zz > 0 ? zz : 0.0) - yy * zz) + log1p(exp(-fabs(zz)));
        }
        return l;
    case FM_LOSS_POISSON:
        for (int64_t j = 0; j < k; j++) {
            double zz = z[j], yy = y[j];
            double xlogy = yy == 0.0 ? 0.0 : yy * log(yy);
            l += ((xlogy - yy * zz) - yy) + exp(zz);
        }
        return l;
    default: return NAN; /* unreachable: loss validated by the caller */
    }
}

/* Σ_i w_i·ℓ_i of categorical cross-entropy,
 *   ℓ = −Σ_k y·((z − m) − log Σ_j exp(z_j − m)),  m = max_j z_j,
 * reading the logits (finite for any finite z).  The exponentials go
 * through the vectorised double exp (fm__exp_f64) a stack buffer at a
 * time: whole rows of k <= FM_LSE_CHUNK classes side by side, a longer
 * row in pieces; each Σ_j runs in increasing j either way. */
static double FM_SFX(cce_total)(int64_t n, int64_t k, const T *Z,
                                const T *Y, const T *sw) {
    double e[FM_LSE_CHUNK], mx[FM_LSE_CHUNK], se[FM_LSE_CHUNK];
    const int64_t group = k <= FM_LSE_CHUNK ? FM_LSE_CHUNK / k : 1;
    double total = 0.0;
    for (int64_t i0 = 0; i0 < n; i0 += group) {
        const int64_t rows = n - i0 < group ? n - i0 : group;
        for (int64_t r = 0; r < rows; r++) {
            const T *z = Z + (i0 + r) * k;
            double m = (double)z[0];
            for (int64_t j = 1; j < k; j++)
                if ((double)z[j] > m) m = (double)z[j];
            mx[r] = m;
            se[r] = 0.0;
        }
        if (k <= FM_LSE_CHUNK) {
            for (int64_t r = 0; r < rows; r++)
                for (int64_t j = 0; j < k; j++)
                    e[r * k + j] = (double)Z[(i0 + r) * k + j] - mx[r];
            fm__exp_f64(rows * k, e, e);
            for (int64_t r = 0; r < rows; r++)
                for (int64_t j = 0; j < k; j++) se[r] += e[r * k + j];
        } else { /* one row (rows == 1), FM_LSE_CHUNK classes at a time */
            const T *z = Z + i0 * k;
            for (int64_t j0 = 0; j0 < k; j0 += FM_LSE_CHUNK) {
                const int64_t w = k - j0 < FM_LSE_CHUNK ? k - j0 : FM_LSE_CHUNK;
                for (int64_t j = 0; j < w; j++)
                    e[j] = (double)z[j0 + j] - mx[0];
                fm__exp_f64(w, e, e);
                for (int64_t j = 0; j < w; j++) se[0] += e[j];
            }
        }
        for (int64_t r = 0; r < rows; r++) {
            const int64_t i = i0 + r;
            const T *z = Z + i * k, *y = Y + i * k;
            const double lse = log(se[r]);
            double l = 0.0;
            for (int64_t j = 0; j < k; j++)
                l += (double)y[j] * (((double)z[j] - mx[r]) - lse);
            total += sw != NULL ? (double)sw[i] * -l : -l;
        }
    }
    return total;
}

/* value = Σ_i w_i ℓ_i / W; dZ (n, k) = ∂value/∂Z.
 * Canonical pair: dZ_ik = (A_ik − Y_ik)·c_i with c_i = T(w_i/W) (or T(1/n));
 * otherwise dA_ik = (A_ik − Y_ik)·c_i is formed in dZ and pushed through
 * fm_act_backward in place. */
int FM_SFX(fm_loss)(fm_loss_t loss, fm_act_t out_act, double act_param,
                    int64_t n, int64_t k, const T *Z, const T *A, const T *Y,
                    const T *sw, double *value, T *dZ) {
    int st = fm_loss_check_pair(loss, out_act);
    if (st != FM_OK) return st;
    int64_t nk;
    if (n <= 0 || k <= 0 || !fm__mul_ok(n, k, &nk)) return FM_ERR_ARG;
    const int canonical = loss_is_canonical(loss, out_act);
    const int need_z = loss != FM_LOSS_SQUARED ||
                       (dZ != NULL && !canonical && fm_act_needs_z(out_act));
    if (A == NULL || Y == NULL || value == NULL || (need_z && Z == NULL))
        return FM_ERR_ARG;
    if (dZ != NULL && !canonical) {
        /* A zero-row backward call only validates act, param and
         * flatness (FM_ERR_NODERIV), so nothing is written on error. */
        st = FM_SFX(fm_act_backward)(out_act, act_param, 0, k, NULL, NULL,
                                     NULL, NULL);
        if (st != FM_OK) return st;
    }

    /* W = Σ w_i, summed in order; !(W > 0) also rejects NaN. */
    double W = (double)n;
    if (sw != NULL) {
        W = 0.0;
        for (int64_t i = 0; i < n; i++) W += (double)sw[i];
        if (!(W > 0) || !isfinite(W)) return FM_ERR_ARG;
    }

    /* value = (Σ_i w_i·ℓ_i) / W */
    double total = 0.0;
    if (loss == FM_LOSS_CATEGORICAL_CROSSENTROPY) {
        total = FM_SFX(cce_total)(n, k, Z, Y, sw);
    } else {
        for (int64_t i = 0; i < n; i++) {
            const T *zi = Z != NULL ? Z + i * k : NULL;
            double li = FM_SFX(loss_row)(loss, k, zi, A + i * k, Y + i * k);
            total += sw != NULL ? (double)sw[i] * li : li;
        }
    }
    *value = total / W;
    if (dZ == NULL) return FM_OK;

    /* dZ_ik (or dA_ik) = (A_ik − Y_ik)·c_i, in T */
    const T c_unweighted = (T)(1.0 / (double)n);
    for (int64_t i = 0; i < n; i++) {
        const T c = sw != NULL ? (T)((double)sw[i] / W) : c_unweighted;
        const T *a = A + i * k, *y = Y + i * k;
        T *d = dZ + i * k;
        for (int64_t j = 0; j < k; j++) d[j] = (a[j] - y[j]) * c;
    }
    if (!canonical)
        return FM_SFX(fm_act_backward)(out_act, act_param, n, k, Z, A, dZ,
                                       dZ);
    return FM_OK;
}
