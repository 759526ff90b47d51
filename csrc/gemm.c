/*
 * gemm.c - the matrix product: argument checks, the choice of micro-kernel
 * table for the active ISA, and the thread count.  The loops, packing and
 * epilogue are written once for both dtypes in gemm_tmpl.h (included
 * twice below); the micro-kernels live in kernels_<isa>.c behind the
 * contract of gemm_kernels.h.
 *
 * Public:   fm_gemm_f32/f64       C := alpha·op(A)·op(B) + beta·C
 * Internal: fm__gemm_ep_f32/f64   C := act(op(A)·op(B) + bias), Z := pre-act
 */
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "fm_internal.h"
#include "gemm_kernels.h"

#if defined(__GNUC__)
#define FM_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define FM_ALWAYS_INLINE static inline
#endif

/* Most bytes of packed op(B) shared by the threads at once: several kc
 * blocks up to this size are packed between one pair of barriers.  Of
 * the order of a shared L3 slice, so the group is still cached when the
 * row blocks read it.  (-D to tune; 1 packs one kc block at a time.) */
/* Products of at most this many rows (with B not transposed) skip the
 * packing and use the ISA's row kernel: one sample's forward pass. */
#define FM_GEMM_SMALL_M 4

/* Few-row products whose B is at least this large split B's columns over
 * the threads (gemm_small_m).  (-D to tune.) */
#ifndef FM_GEMM_STREAM_MIN_BYTES
#define FM_GEMM_STREAM_MIN_BYTES ((int64_t)256 << 10)
#endif

/* gemm_direct (operands read in place, no packing) takes products whose
 * op(A) is at most this large, and whose B rows are at most
 * FM_GEMM_DIRECT_LDB_BYTES apart.  (-D to tune; 0 packs every product.) */
#ifndef FM_GEMM_DIRECT_A_BYTES
#define FM_GEMM_DIRECT_A_BYTES ((int64_t)512 << 10)
#endif
#define FM_GEMM_DIRECT_LDB_BYTES ((int64_t)2 << 10)
/* Largest transposed B (bytes) that gemm_direct copies to op(B), on the
 * stack up to FM_GEMM_DIRECT_BT_STACK_BYTES, else on the heap; larger
 * ones are packed.  A W2 network's 256×128 W is 128 KiB. */
#define FM_GEMM_DIRECT_BT_BYTES ((int64_t)128 << 10)
#define FM_GEMM_DIRECT_BT_STACK_BYTES ((int64_t)32 << 10)
/* gemm_direct's stack buffer for one kc block of a column-kernel tile of
 * an untransposed A: kc · cukr_m elements, at most 12 KiB in the tables. */
#define FM_GEMM_DIRECT_AT_BYTES ((int64_t)12 << 10)

#ifndef FM_GEMM_BP_BYTES
#define FM_GEMM_BP_BYTES ((int64_t)4 << 20)
#endif

/* Kernel table of the ISA chosen now (read per call, so fm_isa_set takes
 * effect at the next product). */
static const fm_ukr_table_t *fm_gemm_table(void) {
    switch (fm_isa_active()) {
#if FM_HAVE_X86_KERNELS
    case FM_ISA_AVX512: return &fm__ukr_avx512;
    case FM_ISA_AVX2: return &fm__ukr_avx2;
#endif
    default: return &fm__ukr_generic;
    }
}

static const fm_ukr_blk_f32_t *fm_gemm_blk_f32(void) {
    return &fm_gemm_table()->f32;
}
static const fm_ukr_blk_f64_t *fm_gemm_blk_f64(void) {
    return &fm_gemm_table()->f64;
}

/* All threads of the product's team wait here (a no-op alone).  Orphaned
 * barrier: it binds to the parallel region in fm_gemm_run_*. */
#ifdef _OPENMP
#define FM_GEMM_BARRIER(nth)                                               \
    do {                                                                   \
        if ((nth) > 1) {                                                   \
            _Pragma("omp barrier")                                         \
        }                                                                  \
    } while (0)
#else
#define FM_GEMM_BARRIER(nth) ((void)(nth))
#endif

/* Threads for an (M, N, K) product: one below FM_PARALLEL_MIN_FLOPS, or
 * when already inside a parallel region (the caller owns the threads). */
static int fm_gemm_threads(int64_t M, int64_t N, int64_t K) {
#ifdef _OPENMP
    const double flops = 2.0 * (double)M * (double)N * (double)K;
    if (flops <= (double)FM_PARALLEL_MIN_FLOPS) return 1;
    if (omp_in_parallel()) return 1;
    int nt = fm_get_num_threads();
    /* Each thread should get at least the work that justified a fork. */
    const double cap = flops / (double)FM_PARALLEL_MIN_FLOPS + 1.0;
    if ((double)nt > cap) nt = (int)cap;
    return nt < 1 ? 1 : nt;
#else
    (void)M, (void)N, (void)K;
    return 1;
#endif
}

/* A stored matrix (rows, cols) with leading dimension ld: valid when
 * ld >= cols, non-NULL unless empty, and its last element addressable. */
static int fm_gemm_check_mat(int64_t rows, int64_t cols, const void *p,
                             int64_t ld) {
    if (ld < cols) return 0;
    if (rows == 0 || cols == 0) return 1;
    int64_t span;
    if (!p || !fm__mul_ok(rows - 1, ld, &span) || span > INT64_MAX - cols)
        return 0;
    return 1;
}

/* Shape rules of fm_gemm_*: FM_OK or FM_ERR_ARG. */
static int fm_gemm_check(int trans_a, int trans_b, int64_t M, int64_t N,
                         int64_t K, const void *A, int64_t lda,
                         const void *B, int64_t ldb, const void *C,
                         int64_t ldc) {
    if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1))
        return FM_ERR_ARG;
    if (M < 0 || N < 0 || K < 0) return FM_ERR_ARG;
    if (!fm_gemm_check_mat(trans_a ? K : M, trans_a ? M : K, A, lda) ||
        !fm_gemm_check_mat(trans_b ? N : K, trans_b ? K : N, B, ldb) ||
        !fm_gemm_check_mat(M, N, C, ldc))
        return FM_ERR_ARG;
    return FM_OK;
}

/* Epilogue rules: a known activation other than softmax, a valid Z. */
static int fm_gemm_check_ep(const fm_epilogue_t *ep, int64_t M, int64_t N) {
    if ((int)ep->act < 0 || (int)ep->act >= FM_ACT_COUNT_ ||
        ep->act == FM_ACT_SOFTMAX)
        return FM_ERR_ARG;
    if (ep->Z && !fm_gemm_check_mat(M, N, ep->Z, ep->ldz)) return FM_ERR_ARG;
    return FM_OK;
}

#define T float
#define FM_SFX(name) name##_f32
#include "gemm_tmpl.h"
#undef T
#undef FM_SFX

#define T double
#define FM_SFX(name) name##_f64
#include "gemm_tmpl.h"
#undef T
#undef FM_SFX
