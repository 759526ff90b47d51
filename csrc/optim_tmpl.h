/*
 * optim_tmpl.h - one optimiser update over a flat span of parameters, for
 * one dtype T.
 *
 * Included by optim.c once per dtype (T, FM_SFX, FM_SQRT).  Specification:
 * docs/MATH.md, "Optimisers"; NumPy mirror: fastmlp/reference.py:
 * optim_step.  Every scalar coefficient is computed in double and rounded
 * to T once (in optim_step); the loops do only T arithmetic, evaluated
 * left to right exactly as the formula comments are written.
 */

/* Penalty and coupled decay folded into the raw gradient (all in T). */
typedef struct {
    T l2, l1, wd;
    int has_l2, has_l1, has_wd; /* each term only when its coefficient ≠ 0 */
    int want_sum;               /* accumulate Σ|g_raw| */
} FM_SFX(opt_pen_t);

/* g' = ((g + l2·w) + l1·sign(w)) + wd·w, sign(0) = 0; *asum += |g| (double,
 * raw gradient, before any penalty). */
static inline T FM_SFX(opt_grad)(FM_SFX(opt_pen_t) p, T g, T w,
                                 double *asum) {
    if (p.want_sum) *asum += fabs((double)g);
    if (p.has_l2) g = g + p.l2 * w;
    if (p.has_l1) g = g + p.l1 * (T)((w > 0) - (w < 0));
    if (p.has_wd) g = g + p.wd * w;
    return g;
}

/* w (n,) updated from g (n,), state s1/s2 (n,).  Σ|g| returned.  The
 * penalty comes by value so that stores to w cannot be assumed to alias
 * its coefficients (they would be reloaded every element). */
static double FM_SFX(optim_loops)(const fm_optim_t *o, int64_t t, int64_t n,
                                  T *w, const T *g, T *s1, T *s2,
                                  const FM_SFX(opt_pen_t) pen) {
    double asum = 0.0;
    const T lr = (T)o->lr;
    const int nesterov = o->nesterov;
    switch (o->kind) {
    case FM_OPT_SGD: {
        /* torch.optim.SGD (dampening 0), docs "SGD" algorithm box:
         *   buf = μ·buf + g;  d = nesterov ? g + μ·buf : buf;  w = w − lr·d
         * buf starts at 0, so buf₁ = g as in torch. μ = 0: w = w − lr·g. */
        const T mu = (T)o->momentum;
        if (o->momentum == 0) {
            for (int64_t i = 0; i < n; i++) {
                T gi = FM_SFX(opt_grad)(pen, g[i], w[i], &asum);
                w[i] = w[i] - lr * gi;
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                T gi = FM_SFX(opt_grad)(pen, g[i], w[i], &asum);
                T buf = mu * s1[i] + gi;
                s1[i] = buf;
                T d = nesterov ? gi + mu * buf : buf;
                w[i] = w[i] - lr * d;
            }
        }
        break;
    }
    case FM_OPT_SGD_VELOCITY: {
        /* scikit-learn _stochastic_optimizers.py, SGDOptimizer:
         *   v = μ·v − lr·g;  w = w + (nesterov ? μ·v − lr·g : v) */
        const T mu = (T)o->momentum;
        for (int64_t i = 0; i < n; i++) {
            T gi = FM_SFX(opt_grad)(pen, g[i], w[i], &asum);
            T v = mu * s1[i] - lr * gi;
            s1[i] = v;
            T d = nesterov ? mu * v - lr * gi : v;
            w[i] = w[i] + d;
        }
        break;
    }
    case FM_OPT_MOMENTUM_EWMA: {
        /* the course's momentum (exponentially weighted average of g):
         *   v = β·v + (1−β)·g;  w = w − lr·v */
        const T b = (T)o->momentum, omb = (T)(1.0 - o->momentum);
        for (int64_t i = 0; i < n; i++) {
            T gi = FM_SFX(opt_grad)(pen, g[i], w[i], &asum);
            T v = b * s1[i] + omb * gi;
            s1[i] = v;
            w[i] = w[i] - lr * v;
        }
        break;
    }
    case FM_OPT_RMSPROP: {
        /* torch.optim.RMSprop (centered=False), docs algorithm box:
         *   s = α·s + (1−α)·g·g
         *   u = g / (√s + ε)   or, eps_inside_sqrt (the course), g / √(s + ε)
         *   μ ≠ 0: buf = μ·buf + u, w = w − lr·buf;  else w = w − lr·u */
        const T al = (T)o->beta2, oma = (T)(1.0 - o->beta2);
        const T eps = (T)o->eps, mu = (T)o->momentum;
        const int inside = o->eps_inside_sqrt, use_mu = o->momentum != 0;
        for (int64_t i = 0; i < n; i++) {
            T gi = FM_SFX(opt_grad)(pen, g[i], w[i], &asum);
            T s = al * s1[i] + oma * gi * gi;
            s1[i] = s;
            T u = gi / (inside ? FM_SQRT(s + eps) : FM_SQRT(s) + eps);
            if (use_mu) {
                T buf = mu * s2[i] + u;
                s2[i] = buf;
                w[i] = w[i] - lr * buf;
            } else {
                w[i] = w[i] - lr * u;
            }
        }
        break;
    }
    case FM_OPT_ADAM:
    case FM_OPT_ADAMW: {
        /* torch.optim.Adam / AdamW, docs algorithm boxes:
         *   AdamW only: w = w·(1 − lr·wd)   (decoupled, before the step)
         *   m = β1·m + (1−β1)·g;  s = β2·s + (1−β2)·g·g
         *   w = w − step·m / (√s / c2 + ε),
         *   step = lr/(1−β1ᵗ), c2 = √(1−β2ᵗ)   (torch's non-capturable form) */
        const double bc1 = 1.0 - pow(o->beta1, (double)t);
        const double bc2 = 1.0 - pow(o->beta2, (double)t);
        const T b1 = (T)o->beta1, omb1 = (T)(1.0 - o->beta1);
        const T b2 = (T)o->beta2, omb2 = (T)(1.0 - o->beta2);
        const T step = (T)(o->lr / bc1), c2 = (T)sqrt(bc2), eps = (T)o->eps;
        const int decoupled = o->kind == FM_OPT_ADAMW && o->weight_decay != 0;
        const T decay = (T)(1.0 - o->lr * o->weight_decay);
        for (int64_t i = 0; i < n; i++) {
            T wi = w[i];
            T gi = FM_SFX(opt_grad)(pen, g[i], wi, &asum);
            if (decoupled) wi = wi * decay;
            T m = b1 * s1[i] + omb1 * gi;
            T s = b2 * s2[i] + omb2 * gi * gi;
            s1[i] = m;
            s2[i] = s;
            w[i] = wi - step * m / (FM_SQRT(s) / c2 + eps);
        }
        break;
    }
    case FM_OPT_ADAM_SKLEARN: {
        /* scikit-learn _stochastic_optimizers.py, AdamOptimizer:
         *   m = β1·m + (1−β1)·g;  s = β2·s + (1−β2)·g·g
         *   lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ);  w = w − lr_t·m / (√s + ε) */
        const double bc1 = 1.0 - pow(o->beta1, (double)t);
        const double bc2 = 1.0 - pow(o->beta2, (double)t);
        const T b1 = (T)o->beta1, omb1 = (T)(1.0 - o->beta1);
        const T b2 = (T)o->beta2, omb2 = (T)(1.0 - o->beta2);
        const T lr_t = (T)(o->lr * sqrt(bc2) / bc1), eps = (T)o->eps;
        for (int64_t i = 0; i < n; i++) {
            T gi = FM_SFX(opt_grad)(pen, g[i], w[i], &asum);
            T m = b1 * s1[i] + omb1 * gi;
            T s = b2 * s2[i] + omb2 * gi * gi;
            s1[i] = m;
            s2[i] = s;
            w[i] = w[i] - lr_t * m / (FM_SQRT(s) + eps);
        }
        break;
    }
    default: break; /* kind validated by the caller */
    }
    return asum;
}

/* w (n,) ← update(w, g + penalties); s1, s2 (n,) state; t >= 1. */
int FM_SFX(fm_optim_step)(const fm_optim_t *opt, int64_t t, int64_t n, T *w,
                          const T *g, T *s1, T *s2, double l2, double l1,
                          double *abs_grad_sum) {
    int st = optim_check(opt, t, n, l2, l1);
    if (st != FM_OK) return st;
    const int n_state = fm_optim_n_state(opt);
    if (n > 0 && (w == NULL || g == NULL || (n_state >= 1 && s1 == NULL) ||
                  (n_state >= 2 && s2 == NULL)))
        return FM_ERR_ARG;

    FM_SFX(opt_pen_t) pen;
    pen.l2 = (T)l2;
    pen.l1 = (T)l1;
    pen.wd = (T)opt->weight_decay;
    pen.has_l2 = l2 != 0;
    pen.has_l1 = l1 != 0;
    pen.has_wd = opt->kind != FM_OPT_ADAMW && opt->weight_decay != 0;
    pen.want_sum = abs_grad_sum != NULL;
    double asum = FM_SFX(optim_loops)(opt, t, n, w, g, s1, s2, pen);
    if (abs_grad_sum != NULL) *abs_grad_sum = asum;
    return FM_OK;
}
