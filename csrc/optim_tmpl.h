/*
 * optim_tmpl.h - one optimiser update over a flat span of parameters, for
 * one dtype T.
 *
 * Included by optim.c once per dtype (T, FM_SFX, FM_SQRT).  Specification:
 * docs/MATH.md, "Optimisers"; NumPy mirror: fastmlp/reference.py:
 * optim_step.  Every scalar coefficient is computed in double and rounded
 * to T once (opt_coefs); the loops (optim_loops_tmpl.h, one copy per ISA)
 * do only T arithmetic, evaluated left to right exactly as the formula
 * comments are written.
 */

/* One step's coefficients, each computed in double and rounded to T once;
 * the flags pick the loop variant so that no loop tests them per element. */
typedef struct {
    fm_opt_kind_t kind;
    T lr, mu, b1, omb1, b2, omb2, step, eps, decay;
    T l2, l1, wd;               /* penalty folded into the raw gradient */
    int has_l2, has_l1, has_wd; /* each term only when its coefficient ≠ 0 */
    int penalised;              /* any of the three */
    int nesterov, mu_zero, eps_inside_sqrt;
} FM_SFX(opt_coef_t);

/* The coefficients of step t (>= 1) of *o, formulas as published:
 *  SGD (torch.optim.SGD, dampening 0):
 *    buf = μ·buf + g;  d = nesterov ? g + μ·buf : buf;  w = w − lr·d
 *    (buf starts at 0, so buf₁ = g as in torch; μ = 0: w = w − lr·g)
 *  SGD_VELOCITY (scikit-learn SGDOptimizer):
 *    v = μ·v − lr·g;  w = w + (nesterov ? μ·v − lr·g : v)
 *  MOMENTUM_EWMA (the course): v = β·v + (1−β)·g;  w = w − lr·v
 *  RMSPROP (torch, centered=False): s = α·s + (1−α)·g·g,
 *    u = g / (√s + ε)  or, eps_inside_sqrt (the course), g / √(s + ε);
 *    μ ≠ 0: buf = μ·buf + u, w = w − lr·buf;  else w = w − lr·u
 *  ADAM / ADAMW (torch, non-capturable form):
 *    AdamW: w = w·(1 − lr·wd) first (decoupled decay)
 *    m = β1·m + (1−β1)·g;  s = β2·s + (1−β2)·g·g
 *    w = w − lr/(1−β1ᵗ)·m / (√s/√(1−β2ᵗ) + ε), computed as
 *    w = w − lr_t·m / (√s + ε·√(1−β2ᵗ)),  lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ):
 *    the same value (both sides times √(1−β2ᵗ)) with one division per
 *    element instead of two; the divider is what bounds this loop
 *  ADAM_SKLEARN (scikit-learn AdamOptimizer): m, s as Adam,
 *    w = w − lr_t·m / (√s + ε)
 * Penalty (every kind): g' = ((g + l2·w) + l1·sign(w)) + wd·w, where the
 * coupled wd term is absent for AdamW. */
/* The penalty's part of the coefficients (see opt_coefs). */
static void FM_SFX(opt_set_penalty)(FM_SFX(opt_coef_t) *c,
                                    const fm_optim_t *o, double l2,
                                    double l1) {
    c->l2 = (T)l2;
    c->l1 = (T)l1;
    c->wd = (T)o->weight_decay;
    c->has_l2 = l2 != 0;
    c->has_l1 = l1 != 0;
    c->has_wd = o->kind != FM_OPT_ADAMW && o->weight_decay != 0;
    c->penalised = c->has_l2 || c->has_l1 || c->has_wd;
}

static FM_SFX(opt_coef_t) FM_SFX(opt_coefs)(const fm_optim_t *o, int64_t t,
                                            double l2, double l1) {
    FM_SFX(opt_coef_t) c;
    memset(&c, 0, sizeof c);
    c.kind = o->kind;
    c.lr = (T)o->lr;
    c.mu = (T)o->momentum;
    c.mu_zero = o->momentum == 0;
    c.nesterov = o->nesterov;
    c.eps = (T)o->eps;
    c.eps_inside_sqrt = o->eps_inside_sqrt;
    c.decay = (T)1;
    switch (o->kind) {
    case FM_OPT_MOMENTUM_EWMA: c.omb1 = (T)(1.0 - o->momentum); break;
    case FM_OPT_RMSPROP:
        c.b2 = (T)o->beta2; /* α */
        c.omb2 = (T)(1.0 - o->beta2);
        break;
    case FM_OPT_ADAM:
    case FM_OPT_ADAMW:
    case FM_OPT_ADAM_SKLEARN: {
        const double bc1 = 1.0 - pow(o->beta1, (double)t);
        const double bc2 = 1.0 - pow(o->beta2, (double)t);
        c.b1 = (T)o->beta1;
        c.omb1 = (T)(1.0 - o->beta1);
        c.b2 = (T)o->beta2;
        c.omb2 = (T)(1.0 - o->beta2);
        /* lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ) for every kind; torch's ε, added
         * to the bias-corrected √s, becomes ε·√(1−β2ᵗ) on the raw one */
        c.step = (T)(o->lr * sqrt(bc2) / bc1);
        c.eps = (T)(o->kind == FM_OPT_ADAM_SKLEARN ? o->eps
                                                   : o->eps * sqrt(bc2));
        if (o->kind == FM_OPT_ADAMW && o->weight_decay != 0)
            c.decay = (T)(1.0 - o->lr * o->weight_decay);
        break;
    }
    default: break;
    }
    FM_SFX(opt_set_penalty)(&c, o, l2, l1);
    return c;
}

/* The element loops, compiled once per instruction set. */
#define FM_LSFX(name) FM_SFX(name##_generic)
#include "optim_loops_tmpl.h"
#undef FM_LSFX
#if FM_HAVE_X86_KERNELS
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define FM_LSFX(name) FM_SFX(name##_avx2)
#include "optim_loops_tmpl.h"
#undef FM_LSFX
#pragma GCC pop_options
#pragma GCC push_options
/* AVX-512F only, as cpu.c checks; 512-bit vectors, which gcc's generic
 * tuning would otherwise avoid */
#pragma GCC target("avx512f,prefer-vector-width=512")
#define FM_LSFX(name) FM_SFX(name##_avx512)
#include "optim_loops_tmpl.h"
#undef FM_LSFX
#pragma GCC pop_options
#endif

typedef struct {
    double (*abs_sum)(int64_t n, const T *g);
    void (*penalise)(const FM_SFX(opt_coef_t) *c, int64_t n, const T *w,
                     const T *g, T *gp);
    void (*update)(const FM_SFX(opt_coef_t) *c, int64_t n, T *w, const T *g,
                   T *s1, T *s2);
} FM_SFX(opt_loops_t);

static FM_SFX(opt_loops_t) FM_SFX(opt_loops_for)(fm_isa_t isa) {
    FM_SFX(opt_loops_t) f = {FM_SFX(opt_abs_sum_generic),
                             FM_SFX(opt_penalise_generic),
                             FM_SFX(opt_update_generic)};
#if FM_HAVE_X86_KERNELS
    if (isa == FM_ISA_AVX512) {
        f.abs_sum = FM_SFX(opt_abs_sum_avx512);
        f.penalise = FM_SFX(opt_penalise_avx512);
        f.update = FM_SFX(opt_update_avx512);
    } else if (isa == FM_ISA_AVX2) {
        f.abs_sum = FM_SFX(opt_abs_sum_avx2);
        f.penalise = FM_SFX(opt_penalise_avx2);
        f.update = FM_SFX(opt_update_avx2);
    }
#else
    (void)isa;
#endif
    return f;
}

/* Blocks [b0, b1) of FM_OPT_BLOCK elements (the last may be short): per
 * block, Σ|g| of the raw gradient (when asked), the penalty into a block
 * on the stack, the update.  Returns the blocks' Σ|g| added in order. */
static double FM_SFX(opt_blocks)(const FM_SFX(opt_coef_t) *c,
                                 const FM_SFX(opt_loops_t) *f, int want_sum,
                                 int64_t n, int64_t b0, int64_t b1, T *w,
                                 const T *g, T *s1, T *s2) {
    _Alignas(FM_CACHELINE) T gp[FM_OPT_BLOCK];
    double sum = 0;
    for (int64_t b = b0; b < b1; b++) {
        const int64_t i0 = b * FM_OPT_BLOCK;
        const int64_t m = n - i0 < FM_OPT_BLOCK ? n - i0 : FM_OPT_BLOCK;
        const T *gb = g + i0;
        if (want_sum) sum += f->abs_sum(m, gb);
        if (c->penalised) {
            f->penalise(c, m, w + i0, gb, gp);
            gb = gp;
        }
        f->update(c, m, w + i0, gb, s1 ? s1 + i0 : NULL, s2 ? s2 + i0 : NULL);
    }
    return sum;
}

/* Chunks of blocks in a span of n elements: at most FM_OPT_MAX_CHUNKS,
 * by n alone, so the order of Σ|g| depends on n only. */
static int64_t FM_SFX(opt_n_chunks)(int64_t n) {
    const int64_t n_blocks = (n + FM_OPT_BLOCK - 1) / FM_OPT_BLOCK;
    return n_blocks < FM_OPT_MAX_CHUNKS ? n_blocks : FM_OPT_MAX_CHUNKS;
}

/* One thread's share of fm__optim_step_segments: every chunk (q of a
 * segment's opt_n_chunks, blocks [n_blocks·q/n_chunks, …)) whose first
 * element falls in this thread's equal share of all the elements; chunk
 * j's Σ|g| goes to sums[j], chunks numbered segment after segment. */
static void FM_SFX(opt_segments_share)(const FM_SFX(opt_coef_t) *base,
                                       const fm_optim_t *opt,
                                       const FM_SFX(opt_loops_t) *f,
                                       int want_sum, int n_seg,
                                       const int64_t *seg_n, double l2,
                                       double l1, int64_t total, int tid,
                                       int nt, T *w, const T *g, T *s1,
                                       T *s2, double *sums) {
    int64_t off = 0, j = 0;
    for (int k = 0; k < n_seg; k++) {
        const int64_t n = seg_n[k];
        const int64_t n_blocks = (n + FM_OPT_BLOCK - 1) / FM_OPT_BLOCK;
        const int64_t n_chunks = FM_SFX(opt_n_chunks)(n);
        FM_SFX(opt_coef_t) c = *base;
        if (k % 2 == 0) FM_SFX(opt_set_penalty)(&c, opt, l2, l1);
        for (int64_t q = 0; q < n_chunks; q++, j++) {
            const int64_t b0 = n_blocks * q / n_chunks;
            const int64_t first = off + b0 * FM_OPT_BLOCK;
            if (first * nt / total != tid) continue;
            sums[j] = FM_SFX(opt_blocks)(
                &c, f, want_sum, n, b0, n_blocks * (q + 1) / n_chunks,
                w + off, g + off, s1 ? s1 + off : NULL, s2 ? s2 + off : NULL);
        }
        off += n;
    }
}

/* The update over segments k = 0 … n_seg−1 of seg_n[k] elements each,
 * back to back from element 0 of w, g, s1, s2 (fm_internal.h); abs_sums
 * NULL: no Σ|g|.  Each segment's blocks are cut into opt_n_chunks chunks,
 * the threads share the chunks, and a segment's Σ|g| adds its chunks'
 * sums in order: the result is the same for every thread count and ISA,
 * and for a segment alone or among others. */
int FM_SFX(fm__optim_step_segments)(const fm_optim_t *opt, int64_t t,
                                    int n_seg, const int64_t *seg_n,
                                    double l2, double l1, T *w, const T *g,
                                    T *s1, T *s2, double *abs_sums,
                                    double *chunk_sums) {
    int64_t total = 0, items = 0;
    for (int k = 0; k < n_seg; k++) {
        const int st = optim_check(opt, t, seg_n[k], k % 2 ? 0 : l2,
                                   k % 2 ? 0 : l1);
        if (st != FM_OK) return st;
        total += seg_n[k];
        items += FM_SFX(opt_n_chunks)(seg_n[k]);
    }
    const int n_state = fm_optim_n_state(opt);
    if (total > 0 && (w == NULL || g == NULL || (n_state >= 1 && s1 == NULL) ||
                      (n_state >= 2 && s2 == NULL)))
        return FM_ERR_ARG;

    const FM_SFX(opt_coef_t) base = FM_SFX(opt_coefs)(opt, t, 0, 0);
    const FM_SFX(opt_loops_t) f = FM_SFX(opt_loops_for)(fm_isa_active());
    const int want_sum = abs_sums != NULL;
    const int nt = fm__threads_for(total, FM_OPT_PARALLEL_MIN, items);
    FM_FOR_ON_THREADS(nt, tid, nt,
                      FM_SFX(opt_segments_share)(&base, opt, &f, want_sum,
                                                 n_seg, seg_n, l2, l1, total,
                                                 (int)tid, nt, w, g, s1, s2,
                                                 chunk_sums));
    for (int k = 0, j = 0; k < n_seg && want_sum; k++) {
        double asum = 0;
        for (int64_t q = FM_SFX(opt_n_chunks)(seg_n[k]); q > 0; q--)
            asum += chunk_sums[j++];
        abs_sums[k] = asum;
    }
    return FM_OK;
}

/* w (n,) ← update(w, g + penalties); s1, s2 (n,) state; t >= 1: the
 * update of one segment. */
int FM_SFX(fm_optim_step)(const fm_optim_t *opt, int64_t t, int64_t n, T *w,
                          const T *g, T *s1, T *s2, double l2, double l1,
                          double *abs_grad_sum) {
    double chunk_sums[FM_OPT_MAX_CHUNKS];
    return FM_SFX(fm__optim_step_segments)(opt, t, 1, &n, l2, l1, w, g, s1,
                                          s2, abs_grad_sum, chunk_sums);
}
