/*
 * gemm_kernels.h - the micro-kernel contract between the portable matrix
 * product (gemm.c: blocking, packing, threads) and the per-ISA kernels
 * (kernels_generic.c, kernels_avx2.c, kernels_avx512.c).  Internal.
 *
 * Packed operands (written by gemm.c, read by the kernels):
 *   Ap: an MR-row panel of op(A), k columns: element (i, p) at Ap[p·MR + i];
 *   Bp: an NR-column panel of op(B), k rows:  element (p, j) at Bp[p·NR + j].
 *   Rows/columns past the matrix edge are zero in the panels, so a kernel
 *   may always compute the full MR×NR tile.  Every Bp row starts on a
 *   64-byte boundary when NR·sizeof(T) is a multiple of 64 (true for the
 *   x86 tables), so those kernels load B aligned; Ap has no alignment
 *   guarantee (kernels only broadcast from it).
 *
 * The micro-kernel, for 0 <= k, 1 <= m <= MR, 1 <= n <= NR:
 *
 *   C[0:m, 0:n] := beta·C[0:m, 0:n] + alpha·(Ap·Bp)[0:m, 0:n]
 *   with (Ap·Bp)[i, j] = Σ_{p<k} Ap[p·MR + i]·Bp[p·NR + j], summed in T
 *   in increasing p, and C[i, j] at C[i·ldc + j].
 *
 *   - beta == 0: C is write-only (never read, so NaN/inf in C vanish).
 *   - Only the m×n corner of C is touched: an edge tile (m < MR or n < NR)
 *     is handled inside the kernel (masked loads/stores or a stack tile),
 *     never by reading or writing past C's bounds.
 *   - Each element's value depends only on (k, its Ap row, its Bp column,
 *     alpha, beta, its old C value), not on m, n or its place in the tile:
 *     this is what makes results independent of the thread count.
 *
 * Each ISA provides one table (fm_ukr_table_t) with its tile sizes, its
 * cache blocking and a kernel per dtype.  Kernel names spell dtype, ISA
 * and tile: fm_ukr_f32_avx2_6x16 computes a 6×16 float tile with AVX2.
 */
#ifndef FM_GEMM_KERNELS_H
#define FM_GEMM_KERNELS_H

#include <stdint.h>

#include "fastmlp.h"

/* Kernels for x86 ISAs are compiled only where the target attribute and
 * <immintrin.h> exist; elsewhere those tables fall back to generic. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FM_HAVE_X86_KERNELS 1
#else
#define FM_HAVE_X86_KERNELS 0
#endif

typedef void fm_ukr_f32_t(int64_t k, float alpha, const float *Ap,
                          const float *Bp, float beta, float *C, int64_t ldc,
                          int m, int n);
typedef void fm_ukr_f64_t(int64_t k, double alpha, const double *Ap,
                          const double *Bp, double beta, double *C,
                          int64_t ldc, int m, int n);

/*
 * One dtype's kernel and blocking (BLIS names):
 *   mr, nr: micro-tile;
 *   kc: depth of a packed block, so a kc×nr Bp panel stays in L1;
 *   mc: rows of op(A) packed at once (mc×kc in L2), multiple of mr;
 *   nc: columns of op(B) packed at once (kc×nc in L3), multiple of nr.
 * The struct tags carry the dtype suffix so that gemm_tmpl.h can name
 * them with FM_SFX.
 */
/*
 * Row kernel, for products of a few rows (one sample's forward pass):
 *   c[0:n] := beta·c + alpha·Σ_p a[p·sa]·B[p·ldb + j],   n <= FM_ROWK_MAX_N
 * with B read in place, unpacked: for M this small, packing B (K·N
 * elements) costs more than the M·N·K multiply-adds it would feed.
 * Same two final roundings as the micro-kernel (alpha·acc, then beta·c).
 */
#define FM_ROWK_MAX_N 128

/*
 * Unpacked kernel, for products too small to repay packing (and for
 * narrow ones, N of a few columns): the micro-kernel's tile, MR×NR, read
 * from the matrices in place:
 *   C[0:m, 0:n] := beta·C + alpha·Σ_p A[i·rsa + p·csa]·B[p·ldb + j]
 * for 1 <= m <= MR, 1 <= n <= NR; nothing outside the m×n corner of C,
 * the m rows of A or the n columns of B is touched.  Each element is
 * summed over p exactly as the micro-kernel sums a single kc block.
 *
 * A tile of at most one vector of columns (n <= nr/2) may have up to
 * FM_SUKR_NARROW_MR rows, twice MR: with one vector a row, twice the rows
 * keep enough FMA chains in flight.
 */
#define FM_SUKR_NARROW_MR 12

/*
 * Column kernel, for a transposed A times a few columns of B (dW = Hᵀ·dZ
 * of a 10-class layer):
 *   C[0:m, 0:n] := beta·C + alpha·Σ_p A[p·lda + i]·B[p·ldb + j]
 * for 1 <= m <= cukr_m (one vector) and 1 <= n <= FM_CUKR_MAX_N, with
 * vectors along i; each element summed as by the other kernels.  NULL
 * where the ISA has none (the generic table).
 */
#define FM_CUKR_MAX_N 12

/*
 * Transposer: D[p·ldd + i] := S[i·lds + p] for 0 <= i < rows and
 * 0 <= p < cols, i.e. D (cols, rows) = Sᵀ.  Reads only those rows×cols
 * elements of S and writes only those of D.  For the column kernel's
 * tiles of an untransposed A (X·W of a 10-class layer) and gemm_direct's
 * copy of a transposed B.  Every table has one.
 */
typedef void fm_trm_f32_t(int64_t rows, int64_t cols, const float *S,
                          int64_t lds, float *D, int64_t ldd);
typedef void fm_trm_f64_t(int64_t rows, int64_t cols, const double *S,
                          int64_t lds, double *D, int64_t ldd);

typedef void fm_cukr_f32_t(int64_t k, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb,
                           float beta, float *C, int64_t ldc, int m, int n);
typedef void fm_cukr_f64_t(int64_t k, double alpha, const double *A,
                           int64_t lda, const double *B, int64_t ldb,
                           double beta, double *C, int64_t ldc, int m, int n);
typedef void fm_rowk_f32_t(int64_t k, float alpha, const float *a, int64_t sa,
                           const float *B, int64_t ldb, float beta, float *c,
                           int n);
typedef void fm_rowk_f64_t(int64_t k, double alpha, const double *a,
                           int64_t sa, const double *B, int64_t ldb,
                           double beta, double *c, int n);

typedef void fm_sukr_f32_t(int64_t k, float alpha, const float *A,
                           int64_t rsa, int64_t csa, const float *B,
                           int64_t ldb, float beta, float *C, int64_t ldc,
                           int m, int n);
typedef void fm_sukr_f64_t(int64_t k, double alpha, const double *A,
                           int64_t rsa, int64_t csa, const double *B,
                           int64_t ldb, double beta, double *C, int64_t ldc,
                           int m, int n);

typedef struct fm_ukr_blk_f32 {
    int mr, nr;
    int64_t mc, kc, nc;
    fm_ukr_f32_t *ukr;
    fm_sukr_f32_t *sukr;
    fm_cukr_f32_t *cukr;
    fm_trm_f32_t *trm;
    int cukr_m;
    fm_rowk_f32_t *rowk;
} fm_ukr_blk_f32_t;

typedef struct fm_ukr_blk_f64 {
    int mr, nr;
    int64_t mc, kc, nc;
    fm_ukr_f64_t *ukr;
    fm_sukr_f64_t *sukr;
    fm_cukr_f64_t *cukr;
    fm_trm_f64_t *trm;
    int cukr_m;
    fm_rowk_f64_t *rowk;
} fm_ukr_blk_f64_t;

typedef struct {
    fm_isa_t isa;
    fm_ukr_blk_f32_t f32;
    fm_ukr_blk_f64_t f64;
} fm_ukr_table_t;

/* One table per ISA (kernels_<isa>.c); gemm.c picks one per call from
 * fm_isa_active(). */
extern const fm_ukr_table_t fm__ukr_generic;
extern const fm_ukr_table_t fm__ukr_avx2;
extern const fm_ukr_table_t fm__ukr_avx512;

#endif /* FM_GEMM_KERNELS_H */
