/*
 * optim_loops_tmpl.h - the optimisers' element loops over one block of at
 * most FM_OPT_BLOCK parameters, for one dtype T and one instruction set.
 *
 * Included by optim.c once per (dtype, ISA) with T, FM_SQRT and FM_LSFX
 * (name##_f32_avx2, ...) defined, after a "#pragma GCC target" for the
 * ISA.  Every loop is a plain element-wise pass with no call, no branch
 * and no reduction across elements, so gcc vectorises it for that target;
 * the library is built with -fno-math-errno (sqrt becomes one vector
 * instruction) and -ffp-contract=off (no fused multiply-add is formed),
 * so each element's value is the same correctly rounded sequence of
 * operations on every ISA and equal to the scalar formula.  Formulas:
 * optim_tmpl.h, next to the coefficients they use.
 */

/* Σ|g[i]| in double over n elements: 32 running sums (lane j takes the
 * elements i ≡ j mod 32), added pairwise at the end.  Enough independent
 * sums to hide the latency of the vector adds; the order depends on n
 * only, so the result does not depend on the ISA. */
static double FM_LSFX(opt_abs_sum)(int64_t n, const T *g) {
    double acc[32] = {0};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 32; j++) acc[j] += fabs((double)g[i + j]);
    for (int j = 0; i < n; i++, j++) acc[j] += fabs((double)g[i]);
    for (int w = 16; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) acc[j] += acc[j + w];
    return acc[0];
}

/* gp = ((g + l2·w) + l1·sign(w)) + wd·w, each term only when its
 * coefficient is non-zero (sign(0) = 0); gp may not alias g or w. */
static void FM_LSFX(opt_penalise)(const FM_SFX(opt_coef_t) *c, int64_t n,
                                  const T *w, const T *g, T *gp) {
    const T l2 = c->l2, l1 = c->l1, wd = c->wd;
    for (int64_t i = 0; i < n; i++) gp[i] = g[i];
    if (c->has_l2)
        for (int64_t i = 0; i < n; i++) gp[i] = gp[i] + l2 * w[i];
    if (c->has_l1)
        for (int64_t i = 0; i < n; i++)
            gp[i] = gp[i] + l1 * (T)((w[i] > 0) - (w[i] < 0));
    if (c->has_wd)
        for (int64_t i = 0; i < n; i++) gp[i] = gp[i] + wd * w[i];
}

/* One block: w, s1, s2 (n,) updated from the (penalised) gradient g.
 * Coefficients are copied to locals first: w may not be assumed apart
 * from *c, and would otherwise force a reload of each per element. */
static void FM_LSFX(opt_update)(const FM_SFX(opt_coef_t) *c, int64_t n,
                                T *w, const T *g, T *s1, T *s2) {
    const T lr = c->lr, mu = c->mu, b1 = c->b1, omb1 = c->omb1;
    const T b2 = c->b2, omb2 = c->omb2, step = c->step;
    const T eps = c->eps, decay = c->decay;
    switch (c->kind) {
    case FM_OPT_SGD:
        if (c->mu_zero) {
            for (int64_t i = 0; i < n; i++) w[i] = w[i] - lr * g[i];
        } else if (c->nesterov) {
            for (int64_t i = 0; i < n; i++) {
                T buf = mu * s1[i] + g[i];
                s1[i] = buf;
                w[i] = w[i] - lr * (g[i] + mu * buf);
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                T buf = mu * s1[i] + g[i];
                s1[i] = buf;
                w[i] = w[i] - lr * buf;
            }
        }
        break;
    case FM_OPT_SGD_VELOCITY:
        if (c->nesterov) {
            for (int64_t i = 0; i < n; i++) {
                T v = mu * s1[i] - lr * g[i];
                s1[i] = v;
                w[i] = w[i] + (mu * v - lr * g[i]);
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                T v = mu * s1[i] - lr * g[i];
                s1[i] = v;
                w[i] = w[i] + v;
            }
        }
        break;
    case FM_OPT_MOMENTUM_EWMA:
        for (int64_t i = 0; i < n; i++) {
            T v = mu * s1[i] + omb1 * g[i];
            s1[i] = v;
            w[i] = w[i] - lr * v;
        }
        break;
    case FM_OPT_RMSPROP:
        /* b2 = α, omb2 = 1 − α; s2 is the momentum buffer */
        for (int64_t i = 0; i < n; i++) s1[i] = b2 * s1[i] + omb2 * g[i] * g[i];
        if (c->mu_zero && c->eps_inside_sqrt) {
            for (int64_t i = 0; i < n; i++)
                w[i] = w[i] - lr * (g[i] / FM_SQRT(s1[i] + eps));
        } else if (c->mu_zero) {
            for (int64_t i = 0; i < n; i++)
                w[i] = w[i] - lr * (g[i] / (FM_SQRT(s1[i]) + eps));
        } else {
            /* with momentum: s2 = μ·s2 + u, then w = w − lr·s2 */
            if (c->eps_inside_sqrt)
                for (int64_t i = 0; i < n; i++)
                    s2[i] = mu * s2[i] + g[i] / FM_SQRT(s1[i] + eps);
            else
                for (int64_t i = 0; i < n; i++)
                    s2[i] = mu * s2[i] + g[i] / (FM_SQRT(s1[i]) + eps);
            for (int64_t i = 0; i < n; i++) w[i] = w[i] - lr * s2[i];
        }
        break;
    case FM_OPT_ADAM:
    case FM_OPT_ADAMW:
    case FM_OPT_ADAM_SKLEARN:
        /* decay is exactly 1 unless AdamW has weight decay (w·1 = w);
         * eps is ε·√(1−β2ᵗ) for torch's kinds (optim_tmpl.h) */
        for (int64_t i = 0; i < n; i++) {
            T m = b1 * s1[i] + omb1 * g[i];
            T s = b2 * s2[i] + omb2 * g[i] * g[i];
            s1[i] = m;
            s2[i] = s;
            w[i] = w[i] * decay - step * m / (FM_SQRT(s) + eps);
        }
        break;
    default: break; /* kind validated by the caller */
    }
}
