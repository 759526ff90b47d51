/*
 * fm_internal.h - macros and internal entry points shared by the library's
 * source files.  Not installed; nothing here is public API.
 *
 * dtype templates: each kernel family is written once in a *_tmpl.h file
 * that uses T (the element type) and FM_SFX(name) (name##_f32 / name##_f64),
 * and is included twice by its .c file:
 *
 *     #define T float
 *     #define FM_SFX(name) name##_f32
 *     #include "act_tmpl.h"
 *     #undef T
 *     #undef FM_SFX
 *     ... same with double / _f64 ...
 */
#ifndef FM_INTERNAL_H
#define FM_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>

#include "fastmlp.h"

#define FM_CACHELINE 64

/* Allocation aligned to a cache line; NULL on failure or if the size
 * overflows.  Free with fm__free. */
void *fm__alloc(size_t bytes);
void *fm__calloc(size_t count, size_t elem_size);
void fm__free(void *p);

/* a·b without overflow: 1 and *out = a·b if it fits in int64_t and both
 * are >= 0, else 0. */
static inline int fm__mul_ok(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return 0;
    if (a != 0 && b > INT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* Work (flops) below which a kernel runs on one thread: small products
 * lose more to fork/join than they gain (no thread-count cliff). */
#define FM_PARALLEL_MIN_FLOPS (1 << 21)

/* Threads for `work` units split into `parts` independent pieces: 1 when
 * work < min_work (a wake-up would cost more than the second core
 * brings), when there is a single piece, or inside a parallel region (the
 * caller owns the threads); else fm_get_num_threads(), at most parts. */
int fm__threads_for(int64_t work, int64_t min_work, int64_t parts);

/* The calling thread's number in the current parallel region (0 outside
 * one, or without OpenMP). */
int fm__thread_num(void);

/* y = e^x over n doubles, vectorised for the active ISA (act.c); within
 * a few ulp of libm's exp, the same bits on every ISA. */
void fm__exp_f64(int64_t n, const double *x, double *y);

/* C[i·ldc + j] += b[j] for i < m, j < n, vectorised for the active ISA
 * (act.c): a product's bias. */
void fm__add_bias_f32(int64_t m, int64_t n, float *C, int64_t ldc,
                      const float *b);
void fm__add_bias_f64(int64_t m, int64_t n, double *C, int64_t ldc,
                      const double *b);

/* for (int64_t I = 0; I < N; I++) { ... } on NT threads (static schedule),
 * or plainly on the calling thread when NT <= 1: an OpenMP region with a
 * false if() clause still enters libgomp, a third of a microsecond each
 * time (measured), which small layers and one-sample predicts notice. */
#ifdef _OPENMP
#define FM_FOR_ON_THREADS(NT, I, N, ...)                                   \
    do {                                                                   \
        const int fm__nt_ = (NT);                                          \
        const int64_t fm__n_ = (N);                                        \
        if (fm__nt_ > 1) {                                                 \
            _Pragma("omp parallel for num_threads(fm__nt_) schedule(static)") \
            for (int64_t I = 0; I < fm__n_; I++) { __VA_ARGS__; }          \
        } else {                                                           \
            for (int64_t I = 0; I < fm__n_; I++) { __VA_ARGS__; }          \
        }                                                                  \
    } while (0)
#else
#define FM_FOR_ON_THREADS(NT, I, N, ...)                                   \
    do {                                                                   \
        (void)(NT);                                                        \
        for (int64_t I = 0; I < (N); I++) { __VA_ARGS__; }                 \
    } while (0)
#endif

/*
 * Epilogue fused into the matrix product's write-out (dense forward):
 * with T = op(A)·op(B) + bias (bias broadcast over rows, NULL = none),
 * the product stores T into Z (if Z != NULL, leading dimension ldz) and
 * act(T) into C.  Applied to each finished tile (packed path) or each
 * thread's finished rectangle (operands read in place) while it is in
 * cache.
 * FM_ACT_SOFTMAX is not allowed here (it needs whole rows).
 */
typedef struct {
    const void *bias; /* (N,) of the product's dtype, or NULL */
    fm_act_t act;
    double act_param;
    void *Z; /* (M, N) with leading dimension ldz, or NULL */
    int64_t ldz;
} fm_epilogue_t;

/* C := op(A)·op(B) then the epilogue (beta = 0, alpha = 1).  ep == NULL
 * is a plain product.  Same shape rules as fm_gemm_*. */
int fm__gemm_ep_f32(int trans_a, int trans_b, int64_t M, int64_t N,
                    int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc,
                    const fm_epilogue_t *ep);
int fm__gemm_ep_f64(int trans_a, int trans_b, int64_t M, int64_t N,
                    int64_t K, const double *A, int64_t lda, const double *B,
                    int64_t ldb, double *C, int64_t ldc,
                    const fm_epilogue_t *ep);

/* Most chunks of blocks that the optimiser's threads share in one span
 * (optim_tmpl.h): the chunking, and so the order of Σ|g|, depends on the
 * span's length only. */
#define FM_OPT_MAX_CHUNKS 64

/* fm_optim_step over n_seg segments of one flat buffer in one pass:
 * segment k is seg_n[k] elements, back to back from element 0 of w, g,
 * s1 and s2; the even segments (a network's weights) get the penalties
 * l2, l1, the odd ones (its biases) none.  abs_sums[k] receives segment
 * k's Σ|g| (abs_sums NULL: none), the bits the segment alone would give
 * (fm_optim_step is the one-segment case); chunk_sums is scratch
 * of n_seg·FM_OPT_MAX_CHUNKS doubles.  One coefficient computation and
 * one parallel region for the whole buffer, its chunks shared by the
 * threads in equal shares of elements. */
int fm__optim_step_segments_f32(const fm_optim_t *opt, int64_t t, int n_seg,
                                const int64_t *seg_n, double l2, double l1,
                                float *w, const float *g, float *s1,
                                float *s2, double *abs_sums,
                                double *chunk_sums);
int fm__optim_step_segments_f64(const fm_optim_t *opt, int64_t t, int n_seg,
                                const int64_t *seg_n, double l2, double l1,
                                double *w, const double *g, double *s1,
                                double *s2, double *abs_sums,
                                double *chunk_sums);

/* s[j] := Σ_i X[i·ldx + j] (i < m, j < n), added in increasing i in the
 * dtype: exactly the plain row-after-row sum (a bias gradient), at the
 * speed of the ISA's row kernel. */
void fm__col_sums_f32(int64_t m, int64_t n, const float *X, int64_t ldx,
                      float *s);
void fm__col_sums_f64(int64_t m, int64_t n, const double *X, int64_t ldx,
                      double *s);

#endif /* FM_INTERNAL_H */
