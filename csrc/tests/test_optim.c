/*
 * test_optim.c - optimisers: a few steps of every kind against values
 * worked out by hand from the formulas (arithmetic written next to each
 * check), the course's EWMA example, Adam's first step ≈ lr·sign(g),
 * penalties folded into the gradient, Σ|g_raw|, float32 coefficient
 * rounding as MATH.md states it, defaults and errors.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastmlp.h"
#include "fm_internal.h"
#include "fm_test.h"

/* Hand values are decimal numbers; the library computes them in binary
 * double through a handful of operations, so they agree to a few ulps. */
#define HAND 1e-14

static fm_optim_t make(fm_opt_kind_t kind, double lr) {
    fm_optim_t o;
    CHECK(fm_optim_defaults(kind, &o) == FM_OK);
    o.lr = lr;
    return o;
}

static void test_sgd(void) {
    fm_optim_t o = make(FM_OPT_SGD, 0.1);
    /* plain: w − lr·g = (1 − 0.1·0.5, −2 − 0.1·0.25) */
    double w[2] = {1, -2}, g[2] = {0.5, 0.25}, buf[2] = {0, 0};
    CHECK(fm_optim_step_f64(&o, 1, 2, w, g, NULL, NULL, 0, 0, NULL) == FM_OK);
    CHECK_CLOSE(w[0], 0.95, HAND, 0);
    CHECK_CLOSE(w[1], -2.025, HAND, 0);

    /* μ = 0.9, g constant.  step 1: buf = g = 0.5, w = 1 − 0.05 = 0.95;
     * step 2: buf = 0.9·0.5 + 0.5 = 0.95, w = 0.95 − 0.095 = 0.855.
     * second element: buf 0.25 → 0.475, w −2.025 → −2.025 − 0.0475 */
    o.momentum = 0.9;
    w[0] = 1, w[1] = -2;
    for (int t = 1; t <= 2; t++)
        CHECK(fm_optim_step_f64(&o, t, 2, w, g, buf, NULL, 0, 0, NULL) ==
              FM_OK);
    CHECK_CLOSE(buf[0], 0.95, HAND, 0);
    CHECK_CLOSE(w[0], 0.855, HAND, 0);
    CHECK_CLOSE(buf[1], 0.475, HAND, 0);
    CHECK_CLOSE(w[1], -2.0725, HAND, 0);

    /* Nesterov: d = g + μ·buf.  step 1: buf 0.5, d = 0.5 + 0.45 = 0.95,
     * w = 1 − 0.095 = 0.905; step 2: buf 0.95, d = 0.5 + 0.855 = 1.355,
     * w = 0.905 − 0.1355 = 0.7695 */
    o.nesterov = 1;
    w[0] = 1, buf[0] = 0;
    for (int t = 1; t <= 2; t++)
        CHECK(fm_optim_step_f64(&o, t, 1, w, g, buf, NULL, 0, 0, NULL) ==
              FM_OK);
    CHECK_CLOSE(w[0], 0.7695, HAND, 0);

    /* torch weight decay: g' = 0.5 + 0.1·1 = 0.6, w = 1 − 0.1·0.6 */
    o = make(FM_OPT_SGD, 0.1);
    o.weight_decay = 0.1;
    w[0] = 1;
    CHECK(fm_optim_step_f64(&o, 1, 1, w, g, NULL, NULL, 0, 0, NULL) == FM_OK);
    CHECK_CLOSE(w[0], 0.94, HAND, 0);
}

static void test_sgd_velocity(void) {
    /* v = μ·v − lr·g.  step 1: v = −0.05, w = 0.95;
     * step 2: v = 0.9·(−0.05) − 0.05 = −0.095, w = 0.855 */
    fm_optim_t o = make(FM_OPT_SGD_VELOCITY, 0.1);
    o.nesterov = 0;
    double w[1] = {1}, g[1] = {0.5}, v[1] = {0};
    for (int t = 1; t <= 2; t++)
        CHECK(fm_optim_step_f64(&o, t, 1, w, g, v, NULL, 0, 0, NULL) == FM_OK);
    CHECK_CLOSE(v[0], -0.095, HAND, 0);
    CHECK_CLOSE(w[0], 0.855, HAND, 0);
    /* Nesterov: w += μ·v − lr·g.  step 1: v = −0.05,
     * w = 1 + (−0.045 − 0.05) = 0.905; step 2: v = −0.095,
     * w = 0.905 + (−0.0855 − 0.05) = 0.7695 */
    o.nesterov = 1;
    w[0] = 1, v[0] = 0;
    for (int t = 1; t <= 2; t++)
        CHECK(fm_optim_step_f64(&o, t, 1, w, g, v, NULL, 0, 0, NULL) == FM_OK);
    CHECK_CLOSE(w[0], 0.7695, HAND, 0);
}

static void test_ewma(void) {
    /* The course: β = 0.9, θ₁ = 3 → V₁ = 0.9·0 + 0.1·3 = 0.3; with lr = 1
     * from w = 0, w = −0.3.  θ₂ = 4: V₂ = 0.27 + 0.4 = 0.67, w = −0.97.
     * θ₃ = 5: V₃ = 0.603 + 0.5 = 1.103, w = −2.073 (no bias correction). */
    fm_optim_t o = make(FM_OPT_MOMENTUM_EWMA, 1.0);
    CHECK(o.momentum == 0.9);
    double w[1] = {0}, v[1] = {0}, theta[3] = {3, 4, 5};
    const double V[3] = {0.3, 0.67, 1.103}, Wt[3] = {-0.3, -0.97, -2.073};
    for (int t = 1; t <= 3; t++) {
        CHECK(fm_optim_step_f64(&o, t, 1, w, &theta[t - 1], v, NULL, 0, 0,
                                NULL) == FM_OK);
        CHECK_CLOSE(v[0], V[t - 1], HAND, 0);
        CHECK_CLOSE(w[0], Wt[t - 1], HAND, 0);
    }
}

static void test_rmsprop(void) {
    /* α = 0.99, ε = 1e-8, lr = 0.01, w = 1, g = 2:
     * s = 0.01·2·2 = 0.04, u = 2/(√0.04 + 1e-8) = 2/0.20000001 */
    fm_optim_t o = make(FM_OPT_RMSPROP, 0.01);
    double w[1] = {1}, g[1] = {2}, s[1] = {0}, buf[1] = {0};
    CHECK(fm_optim_step_f64(&o, 1, 1, w, g, s, NULL, 0, 0, NULL) == FM_OK);
    CHECK_CLOSE(s[0], 0.04, HAND, 0);
    CHECK_CLOSE(w[0], 1 - 0.01 * (2 / 0.20000001), HAND, 0);
    /* the course's ε inside the root: u = 2/√(0.04 + 1e-8) */
    o.eps_inside_sqrt = 1;
    w[0] = 1, s[0] = 0;
    CHECK(fm_optim_step_f64(&o, 1, 1, w, g, s, NULL, 0, 0, NULL) == FM_OK);
    CHECK_CLOSE(w[0], 1 - 0.01 * (2 / sqrt(0.04000001)), HAND, 0);
    /* momentum 0.5, two steps of g = 2:
     * u₁ = 2/0.20000001, buf₁ = u₁, w₁ = 1 − 0.01·u₁;
     * s₂ = 0.99·0.04 + 0.04 = 0.0796, u₂ = 2/(√0.0796 + 1e-8),
     * buf₂ = 0.5·u₁ + u₂, w₂ = w₁ − 0.01·buf₂ */
    o.eps_inside_sqrt = 0;
    o.momentum = 0.5;
    w[0] = 1, s[0] = 0;
    for (int t = 1; t <= 2; t++)
        CHECK(fm_optim_step_f64(&o, t, 1, w, g, s, buf, 0, 0, NULL) == FM_OK);
    double u1 = 2 / 0.20000001, u2 = 2 / (sqrt(0.0796) + 1e-8);
    CHECK_CLOSE(s[0], 0.0796, HAND, 0);
    CHECK_CLOSE(buf[0], 0.5 * u1 + u2, HAND, 0);
    CHECK_CLOSE(w[0], 1 - 0.01 * u1 - 0.01 * (0.5 * u1 + u2), HAND, 0);
}

static void test_adam(void) {
    /* t = 1: m = 0.1·g, s = 0.001·g², step = lr/0.1, c2 = √0.001:
     * torch: Δw = −(lr/0.1)·0.1g/(√(0.001g²)/√0.001 + ε) = −lr·g/(|g| + ε);
     * sklearn: Δw = −(lr·√0.001/0.1)·0.1g/(√0.001·|g| + ε)
     *             = −lr·g/(|g| + ε/√0.001)  (its ε is not bias-corrected).
     * Both are lr·sign(g) to within ε'/|g| <= 1.6e-4 for these g. */
    for (int kind = FM_OPT_ADAM; kind <= FM_OPT_ADAMW; kind++) {
        fm_optim_t o = make(kind, 0.01);
        o.weight_decay = 0;
        const double epsx =
            kind == FM_OPT_ADAM_SKLEARN ? 1e-8 / sqrt(0.001) : 1e-8;
        double g[4] = {3, -0.002, 1e3, -7}, w[4] = {0}, m[4] = {0}, s[4] = {0};
        CHECK(fm_optim_step_f64(&o, 1, 4, w, g, m, s, 0, 0, NULL) == FM_OK);
        for (int i = 0; i < 4; i++) {
            CHECK_CLOSE(w[i], -0.01 * g[i] / (fabs(g[i]) + epsx), 1e-12, 0);
            CHECK_CLOSE(w[i], g[i] > 0 ? -0.01 : 0.01, 2e-4, 0);
        }
        float gf[2] = {3, -0.002f}, wf[2] = {0}, mf[2] = {0}, sf[2] = {0};
        CHECK(fm_optim_step_f32(&o, 1, 2, wf, gf, mf, sf, 0, 0, NULL) ==
              FM_OK);
        CHECK_CLOSE(wf[0], -0.01, 2e-4, 0);
        CHECK_CLOSE(wf[1], 0.01, 2e-4, 0);
    }

    /* torch Adam, two steps, lr 0.001, β 0.9/0.999, ε 1e-8, w = 1,
     * g₁ = 0.5, g₂ = −0.25:
     *   m₁ = 0.05, s₁ = 0.001·0.25 = 0.00025,
     *   w₁ = 1 − (0.001/0.1)·0.05/(√0.00025/√0.001 + 1e-8)
     *   m₂ = 0.045 − 0.025 = 0.02, s₂ = 0.00024975 + 0.0000625 = 0.00031225
     *   w₂ = w₁ − (0.001/0.19)·0.02/(√0.00031225/√0.001999 + 1e-8) */
    fm_optim_t o = make(FM_OPT_ADAM, 0.001);
    double w[1] = {1}, m[1] = {0}, s[1] = {0}, g[2] = {0.5, -0.25};
    for (int t = 1; t <= 2; t++)
        CHECK(fm_optim_step_f64(&o, t, 1, w, &g[t - 1], m, s, 0, 0, NULL) ==
              FM_OK);
    double w1 = 1 - 0.01 * 0.05 / (sqrt(0.00025) / sqrt(0.001) + 1e-8);
    double w2 = w1 - (0.001 / 0.19) * 0.02 /
                         (sqrt(0.00031225) / sqrt(0.001999) + 1e-8);
    CHECK_CLOSE(m[0], 0.02, HAND, 0);
    CHECK_CLOSE(s[0], 0.00031225, HAND, 0);
    CHECK_CLOSE(w[0], w2, HAND, 0);

    /* scikit-learn's Adam, same moments, lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ):
     *   w₁ = 1 − (0.001·√0.001/0.1)·0.05/(√0.00025 + 1e-8)
     *   w₂ = w₁ − (0.001·√0.001999/0.19)·0.02/(√0.00031225 + 1e-8) */
    o = make(FM_OPT_ADAM_SKLEARN, 0.001);
    w[0] = 1, m[0] = 0, s[0] = 0;
    for (int t = 1; t <= 2; t++)
        CHECK(fm_optim_step_f64(&o, t, 1, w, &g[t - 1], m, s, 0, 0, NULL) ==
              FM_OK);
    w1 = 1 - (0.001 * sqrt(0.001) / 0.1) * 0.05 / (sqrt(0.00025) + 1e-8);
    w2 = w1 - (0.001 * sqrt(0.001999) / 0.19) * 0.02 /
                  (sqrt(0.00031225) + 1e-8);
    CHECK_CLOSE(w[0], w2, HAND, 0);

    /* AdamW, t = 1, lr 0.1, wd 0.01, w = 2, g = 3:
     *   w = 2·(1 − 0.1·0.01) − (0.1/0.1)·0.3/(√0.009/√0.001 + 1e-8)
     *     = 1.998 − 0.3/(3 + 1e-8) */
    o = make(FM_OPT_ADAMW, 0.1);
    CHECK(o.weight_decay == 0.01);
    double wa[1] = {2}, ga[1] = {3};
    m[0] = 0, s[0] = 0;
    CHECK(fm_optim_step_f64(&o, 1, 1, wa, ga, m, s, 0, 0, NULL) == FM_OK);
    CHECK_CLOSE(wa[0], 1.998 - 0.3 / (3 + 1e-8), HAND, 0);

    /* Adam with coupled (torch) weight decay: g' = 3 + 0.01·2 = 3.02,
     * m = 0.1·3.02, step = 0.1/0.1 = 1, √s/c2 = 3.02:
     * w = 2 − 1·0.302/(3.02 + 1e-8) */
    o = make(FM_OPT_ADAM, 0.1);
    o.weight_decay = 0.01;
    wa[0] = 2, m[0] = 0, s[0] = 0;
    CHECK(fm_optim_step_f64(&o, 1, 1, wa, ga, m, s, 0, 0, NULL) == FM_OK);
    CHECK_CLOSE(m[0], 0.302, HAND, 0);
    CHECK_CLOSE(wa[0], 2 - 1 * 0.302 / (3.02 + 1e-8), HAND, 0);
}

/* l2/l1 folded into g (before the kind's update), Σ|g_raw| before them. */
static void test_penalty(void) {
    /* SGD, lr = 1, l2c = 0.5, l1c = 0.25, g = 0:
     * g' = (0.5·2 + 0.25, 0.5·(−2) − 0.25, 0 + 0·sign 0) = (1.25, −1.25, 0)
     * w = (2 − 1.25, −2 + 1.25, 0) */
    fm_optim_t o = make(FM_OPT_SGD, 1.0);
    double w[3] = {2, -2, 0}, g0[3] = {0, 0, 0}, asum = -1;
    CHECK(fm_optim_step_f64(&o, 1, 3, w, g0, NULL, NULL, 0.5, 0.25, &asum) ==
          FM_OK);
    CHECK(w[0] == 0.75 && w[1] == -0.75 && w[2] == 0);
    CHECK(asum == 0); /* raw gradient is zero, penalties do not count */
    /* Σ|g_raw| = 1 + 2 + 3 = 6 whatever the penalty */
    double g[3] = {1, -2, 3};
    w[0] = 2, w[1] = -2, w[2] = 0;
    CHECK(fm_optim_step_f64(&o, 1, 3, w, g, NULL, NULL, 0.5, 0.25, &asum) ==
          FM_OK);
    CHECK(asum == 6);
    /* w = 2 − (1 + 1.25), −2 − (−2 − 1.25), 0 − 3 */
    CHECK(w[0] == -0.25 && w[1] == 1.25 && w[2] == -3);
    float wf[3] = {2, -2, 0}, gf[3] = {1, -2, 3};
    CHECK(fm_optim_step_f32(&o, 1, 3, wf, gf, NULL, NULL, 0.5, 0.25, &asum) ==
          FM_OK);
    CHECK(asum == 6);
    CHECK(wf[0] == -0.25f && wf[1] == 1.25f && wf[2] == -3.0f);

    /* AdamW: the penalty reads w before the decoupled decay.  w = 2,
     * g = 0, l2c = 0.5: g' = 1, m = 0.1 (with the decayed 1.998 it would
     * be 0.0999); w = 2·0.999 − 1·0.1/(√0.001/√0.001 + 1e-8) */
    o = make(FM_OPT_ADAMW, 0.1);
    double wa[1] = {2}, ga[1] = {0}, m[1] = {0}, s[1] = {0};
    CHECK(fm_optim_step_f64(&o, 1, 1, wa, ga, m, s, 0.5, 0, NULL) == FM_OK);
    CHECK_CLOSE(m[0], 0.1, HAND, 0);
    CHECK_CLOSE(wa[0], 1.998 - 0.1 / (1 + 1e-8), HAND, 0);

    /* EWMA with l1 only: v = 0.1·(g + l1c·sign w) = 0.1·(1 − 0.5) */
    o = make(FM_OPT_MOMENTUM_EWMA, 1.0);
    double we[1] = {-3}, ge[1] = {1}, v[1] = {0};
    CHECK(fm_optim_step_f64(&o, 1, 1, we, ge, v, NULL, 0, 0.5, NULL) == FM_OK);
    CHECK_CLOSE(v[0], 0.05, HAND, 0);
}

/* float32: coefficients are formed in double and rounded to float once
 * (T(1−β), T(lr·√(1−β2ᵗ)/(1−β1ᵗ)), T(ε·√(1−β2ᵗ)), ...), and the element arithmetic
 * is float in the order MATH.md writes it.  These mirrors follow the page
 * literally; the library must match them bit for bit over 12 steps. */
static void mirror_f32(fm_opt_kind_t kind, const fm_optim_t *o, int t,
                       int n, float *w, const float *g, float *s1, float *s2,
                       float l2, float l1) {
    for (int i = 0; i < n; i++) {
        float gi = g[i], wi = w[i];
        gi = gi + l2 * wi;
        gi = gi + l1 * (float)((wi > 0) - (wi < 0));
        switch (kind) {
        case FM_OPT_MOMENTUM_EWMA: {
            float b = (float)o->momentum, omb = (float)(1.0 - o->momentum);
            s1[i] = b * s1[i] + omb * gi;
            w[i] = wi - (float)o->lr * s1[i];
            break;
        }
        case FM_OPT_RMSPROP: {
            float al = (float)o->beta2, oma = (float)(1.0 - o->beta2);
            s1[i] = al * s1[i] + oma * gi * gi;
            float u = gi / (sqrtf(s1[i]) + (float)o->eps);
            s2[i] = (float)o->momentum * s2[i] + u;
            w[i] = wi - (float)o->lr * s2[i];
            break;
        }
        case FM_OPT_ADAM:
        case FM_OPT_ADAMW: {
            if (kind == FM_OPT_ADAMW)
                wi = wi * (float)(1.0 - o->lr * o->weight_decay);
            s1[i] = (float)o->beta1 * s1[i] + (float)(1.0 - o->beta1) * gi;
            s2[i] = (float)o->beta2 * s2[i] + (float)(1.0 - o->beta2) * gi * gi;
            const double c2 = sqrt(1.0 - pow(o->beta2, t));
            float lr_t = (float)(o->lr * c2 / (1.0 - pow(o->beta1, t)));
            w[i] = wi - lr_t * s1[i] / (sqrtf(s2[i]) + (float)(o->eps * c2));
            break;
        }
        case FM_OPT_ADAM_SKLEARN: {
            s1[i] = (float)o->beta1 * s1[i] + (float)(1.0 - o->beta1) * gi;
            s2[i] = (float)o->beta2 * s2[i] + (float)(1.0 - o->beta2) * gi * gi;
            float lr_t = (float)(o->lr * sqrt(1.0 - pow(o->beta2, t)) /
                                 (1.0 - pow(o->beta1, t)));
            w[i] = wi - lr_t * s1[i] / (sqrtf(s2[i]) + (float)o->eps);
            break;
        }
        default: break;
        }
    }
}

static void test_f32_rounding(void) {
    static const fm_opt_kind_t kinds[] = {FM_OPT_MOMENTUM_EWMA, FM_OPT_RMSPROP,
                                          FM_OPT_ADAM, FM_OPT_ADAM_SKLEARN,
                                          FM_OPT_ADAMW};
    /* lr large against w, so that a one-ulp change in an update is not
     * absorbed when it is subtracted from w */
    enum { N = 64 };
    static const double lrs[] = {0.9, 0.37, 1.3};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] * 3; k++) {
        fm_optim_t o = make(kinds[k / 3], lrs[k % 3]);
        o.momentum = kinds[k / 3] == FM_OPT_MOMENTUM_EWMA ? 0.93 : 0.7;
        o.beta1 = 0.87;
        o.beta2 = 0.997;
        o.eps = 1e-7;
        /* wd such that T(1 − lr·wd) ≠ 1 − T(lr)·T(wd) for these lr */
        o.weight_decay = kinds[k / 3] == FM_OPT_ADAMW ? 0.61 : 0;
        float w[N], wm[N], a1[N] = {0}, a2[N] = {0}, b1[N] = {0}, b2[N] = {0};
        float g[N];
        for (int i = 0; i < N; i++)
            w[i] = wm[i] = (float)(1e-3 * sin(1.1 * i + 0.5));
        for (int t = 1; t <= 12; t++) {
            for (int i = 0; i < N; i++) g[i] = (float)cos(0.7 * i * t);
            CHECK(fm_optim_step_f32(&o, t, N, w, g, a1, a2, 0.03, 0.01,
                                    NULL) == FM_OK);
            mirror_f32(kinds[k / 3], &o, t, N, wm, g, b1, b2, 0.03f, 0.01f);
        }
        CHECK(memcmp(w, wm, sizeof w) == 0);
        CHECK(memcmp(a1, b1, sizeof a1) == 0);
        if (kinds[k / 3] != FM_OPT_MOMENTUM_EWMA)
            CHECK(memcmp(a2, b2, sizeof a2) == 0);
    }
}

static void test_defaults_and_state(void) {
    fm_optim_t o;
    CHECK(fm_optim_defaults(FM_OPT_SGD, &o) == FM_OK);
    CHECK(o.lr == 1e-3 && o.momentum == 0 && fm_optim_n_state(&o) == 0);
    o.momentum = 0.5;
    CHECK(fm_optim_n_state(&o) == 1);
    CHECK(fm_optim_defaults(FM_OPT_SGD_VELOCITY, &o) == FM_OK);
    CHECK(o.lr == 1e-3 && o.momentum == 0.9 && o.nesterov == 1);
    CHECK(fm_optim_n_state(&o) == 1);
    CHECK(fm_optim_defaults(FM_OPT_MOMENTUM_EWMA, &o) == FM_OK);
    CHECK(o.momentum == 0.9 && fm_optim_n_state(&o) == 1);
    CHECK(fm_optim_defaults(FM_OPT_RMSPROP, &o) == FM_OK);
    CHECK(o.lr == 1e-2 && o.beta2 == 0.99 && o.eps == 1e-8 &&
          o.momentum == 0 && o.eps_inside_sqrt == 0);
    CHECK(fm_optim_n_state(&o) == 1);
    o.momentum = 0.9;
    CHECK(fm_optim_n_state(&o) == 2);
    for (int k = FM_OPT_ADAM; k <= FM_OPT_ADAMW; k++) {
        CHECK(fm_optim_defaults(k, &o) == FM_OK);
        CHECK(o.lr == 1e-3 && o.beta1 == 0.9 && o.beta2 == 0.999 &&
              o.eps == 1e-8 && fm_optim_n_state(&o) == 2);
        CHECK(o.weight_decay == (k == FM_OPT_ADAMW ? 1e-2 : 0));
    }
    CHECK(fm_optim_defaults(FM_OPT_COUNT_, &o) == FM_ERR_ARG);
    CHECK(fm_optim_defaults(FM_OPT_ADAM, NULL) == FM_ERR_ARG);
    CHECK(fm_optim_n_state(NULL) == -1);
    o.kind = FM_OPT_COUNT_;
    CHECK(fm_optim_n_state(&o) == -1);
}

static void test_errors(void) {
    double w[2] = {1, 2}, g[2] = {1, 1}, s1[2] = {0}, s2[2] = {0};
    fm_optim_t o = make(FM_OPT_ADAM, 1e-3);
    CHECK(fm_optim_step_f64(&o, 0, 2, w, g, s1, s2, 0, 0, NULL) == FM_ERR_ARG);
    CHECK(fm_optim_step_f64(&o, 1, -1, w, g, s1, s2, 0, 0, NULL) == FM_ERR_ARG);
    CHECK(fm_optim_step_f64(NULL, 1, 2, w, g, s1, s2, 0, 0, NULL) ==
          FM_ERR_ARG);
    CHECK(fm_optim_step_f64(&o, 1, 2, w, g, NULL, s2, 0, 0, NULL) ==
          FM_ERR_ARG);
    CHECK(fm_optim_step_f64(&o, 1, 2, w, g, s1, NULL, 0, 0, NULL) ==
          FM_ERR_ARG);
    CHECK(fm_optim_step_f64(&o, 1, 2, NULL, g, s1, s2, 0, 0, NULL) ==
          FM_ERR_ARG);
    CHECK(fm_optim_step_f64(&o, 1, 0, NULL, NULL, NULL, NULL, 0, 0, NULL) ==
          FM_OK);
    CHECK(fm_optim_step_f64(&o, 1, 2, w, g, s1, s2, -1e-3, 0, NULL) ==
          FM_ERR_ARG);
    CHECK(fm_optim_step_f64(&o, 1, 2, w, g, s1, s2, 0, NAN, NULL) ==
          FM_ERR_ARG);
    const struct {
        fm_opt_kind_t kind;
        int field; /* 0 lr, 1 momentum, 2 beta1, 3 beta2, 4 eps, 5 wd */
        double value;
    } bad[] = {
        {FM_OPT_SGD, 0, -0.1},          {FM_OPT_SGD, 0, NAN},
        {FM_OPT_SGD, 0, INFINITY},      {FM_OPT_SGD, 1, -0.5},
        {FM_OPT_SGD, 1, 1.5},           {FM_OPT_SGD, 5, -1e-4},
        {FM_OPT_SGD_VELOCITY, 1, NAN},  {FM_OPT_MOMENTUM_EWMA, 1, 1.0},
        {FM_OPT_RMSPROP, 3, 1.0},       {FM_OPT_RMSPROP, 3, -0.1},
        {FM_OPT_RMSPROP, 4, -1e-8},     {FM_OPT_ADAM, 2, 1.0},
        {FM_OPT_ADAM, 2, -0.1},         {FM_OPT_ADAM, 3, 1.0},
        {FM_OPT_ADAM_SKLEARN, 4, -1.0}, {FM_OPT_ADAMW, 3, NAN},
        {FM_OPT_ADAMW, 5, -0.01},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fm_optim_t b = make(bad[i].kind, 1e-3);
        double *f[6] = {&b.lr, &b.momentum, &b.beta1,
                        &b.beta2, &b.eps, &b.weight_decay};
        *f[bad[i].field] = bad[i].value;
        CHECK(fm_optim_step_f64(&b, 1, 2, w, g, s1, s2, 0, 0, NULL) ==
              FM_ERR_ARG);
        CHECK(fm_optim_step_f32(&b, 1, 0, NULL, NULL, NULL, NULL,
                                0, 0, NULL) == FM_ERR_ARG);
    }
    /* plain SGD needs no state; momentum 1 is allowed (sklearn's range) */
    fm_optim_t p = make(FM_OPT_SGD, 0.1);
    CHECK(fm_optim_step_f64(&p, 1, 2, w, g, NULL, NULL, 0, 0, NULL) == FM_OK);
    p.momentum = 1.0;
    CHECK(fm_optim_step_f64(&p, 1, 2, w, g, NULL, NULL, 0, 0, NULL) ==
          FM_ERR_ARG); /* now buf is needed */
    CHECK(fm_optim_step_f64(&p, 1, 2, w, g, s1, NULL, 0, 0, NULL) == FM_OK);
    p.kind = (fm_opt_kind_t)-1;
    CHECK(fm_optim_step_f64(&p, 1, 2, w, g, s1, s2, 0, 0, NULL) == FM_ERR_ARG);
}

/* fm__optim_step_segments (the network's one-pass update) equals one
 * fm_optim_step per segment bit for bit, in w, the state and each
 * segment's Σ|g|, on 1, 2 and 3 threads: segments shorter than a block,
 * over 64 blocks (chunks of several blocks), of odd lengths; weights
 * (even segments) penalised, biases not; float32 and float64. */
static void test_segments(void) {
    static const int64_t SEG[] = {70000, 37, 2048, 1, 33000, 130};
    enum { NS = 6 };
    static const fm_opt_kind_t KINDS[] = {FM_OPT_ADAM, FM_OPT_ADAMW,
                                          FM_OPT_SGD, FM_OPT_RMSPROP};
    int64_t n = 0;
    for (int k = 0; k < NS; k++) n += SEG[k];
    const int nt0 = fm_get_num_threads();
    double *chunks = malloc(NS * FM_OPT_MAX_CHUNKS * sizeof(double));
    for (int f64 = 0; f64 <= 1; f64++) {
        const size_t es = f64 ? sizeof(double) : sizeof(float);
        char *buf[2][4]; /* [reference, segments][w, g, s1, s2] */
        for (int r = 0; r < 2; r++)
            for (int b = 0; b < 4; b++) buf[r][b] = malloc((size_t)n * es);
        for (size_t kk = 0; kk < sizeof KINDS / sizeof KINDS[0]; kk++) {
            fm_optim_t o = make(KINDS[kk], 0.01);
            o.momentum = KINDS[kk] == FM_OPT_SGD ? 0.9 : 0;
            for (int threads = 1; threads <= 3; threads++) {
                fm_set_num_threads(threads);
                uint64_t x = 88172645463325252ull;
                for (int64_t i = 0; i < n; i++)
                    for (int b = 0; b < 4; b++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        double v = (double)(x >> 11) * 0x1p-53 - 0.5;
                        if (b >= 2) v = fabs(v); /* s2 must be >= 0 */
                        for (int r = 0; r < 2; r++) {
                            if (f64) ((double *)buf[r][b])[i] = v;
                            else ((float *)buf[r][b])[i] = (float)v;
                        }
                    }
                double want[NS], got[NS];
                for (int t = 1; t <= 3; t++) {
                    int64_t off = 0;
                    for (int k = 0; k < NS; k++) {
                        const double l2 = k % 2 ? 0 : 1e-3, l1 = k % 2 ? 0 : 2e-4;
                        char *p[4];
                        for (int b = 0; b < 4; b++) p[b] = buf[0][b] + (size_t)off * es;
                        CHECK((f64 ? fm_optim_step_f64(&o, t, SEG[k], (double *)p[0], (double *)p[1],
                                                       (double *)p[2], (double *)p[3], l2, l1, &want[k])
                                   : fm_optim_step_f32(&o, t, SEG[k], (float *)p[0], (float *)p[1],
                                                       (float *)p[2], (float *)p[3], l2, l1,
                                                       &want[k])) == FM_OK);
                        off += SEG[k];
                    }
                    CHECK((f64 ? fm__optim_step_segments_f64(
                                     &o, t, NS, SEG, 1e-3, 2e-4, (double *)buf[1][0],
                                     (double *)buf[1][1], (double *)buf[1][2],
                                     (double *)buf[1][3], got, chunks)
                               : fm__optim_step_segments_f32(
                                     &o, t, NS, SEG, 1e-3, 2e-4, (float *)buf[1][0],
                                     (float *)buf[1][1], (float *)buf[1][2],
                                     (float *)buf[1][3], got, chunks)) == FM_OK);
                    for (int b = 0; b < 4; b++)
                        CHECK(memcmp(buf[0][b], buf[1][b], (size_t)n * es) == 0);
                    for (int k = 0; k < NS; k++) CHECK(got[k] == want[k]);
                }
            }
        }
        for (int r = 0; r < 2; r++)
            for (int b = 0; b < 4; b++) free(buf[r][b]);
    }
    /* a bad segment is refused before anything changes */
    fm_optim_t o = make(FM_OPT_ADAM, 0.01);
    double w[3] = {1, 2, 3}, g[3] = {1, 1, 1}, s1[3] = {0}, s2[3] = {0}, sums[2];
    const int64_t bad_n[2] = {2, -1};
    CHECK(fm__optim_step_segments_f64(&o, 1, 2, bad_n, 0, 0, w, g, s1, s2, sums, chunks) ==
          FM_ERR_ARG);
    const int64_t ok_n[2] = {2, 1};
    CHECK(fm__optim_step_segments_f64(&o, 1, 2, ok_n, -1, 0, w, g, s1, s2, sums, chunks) ==
          FM_ERR_ARG);
    CHECK(w[0] == 1 && w[1] == 2 && w[2] == 3);
    fm_set_num_threads(nt0);
    free(chunks);
}

int main(void) {
    test_sgd();
    test_sgd_velocity();
    test_ewma();
    test_rmsprop();
    test_adam();
    test_penalty();
    test_f32_rounding();
    test_defaults_and_state();
    test_errors();
    test_segments();
    FM_TEST_MAIN_END();
}
