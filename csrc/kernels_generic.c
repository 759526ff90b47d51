/*
 * kernels_generic.c - portable C micro-kernels and their table:
 * fm_ukr_f32_generic_4x8 and fm_ukr_f64_generic_4x4.  Plain C that the
 * compiler may auto-vectorise for the baseline ISA (SSE2 on x86-64, NEON
 * on arm64); it is the fallback on every CPU and the reference the x86
 * kernels are tested against.  No target attributes, no intrinsics.
 *
 * The tile is small enough that the accumulators fit the 16 registers of
 * the baseline ISAs: 4×8 floats = 8 xmm, 4×4 doubles = 8 xmm.
 */
#include "gemm_kernels.h"

/* C[0:m, 0:n] := beta·C + alpha·acc[0:m][0:n] (C not read when beta is 0);
 * the last step of both generic tile kernels, in the caller's scope. */
#define FM_GENERIC_STORE(T, m, n, acc)                                     \
    for (int i = 0; i < (m); i++) {                                        \
        T *c = C + (int64_t)i * ldc;                                       \
        if (beta == 0)                                                     \
            for (int j = 0; j < (n); j++) c[j] = alpha * (acc)[i][j];      \
        else                                                               \
            for (int j = 0; j < (n); j++)                                  \
                c[j] = beta * c[j] + alpha * (acc)[i][j];                  \
    }

/*
 * One kernel per dtype from one body (the contract of gemm_kernels.h):
 *   C[0:m,0:n] := beta·C + alpha·Σ_p Ap[p·MR + i]·Bp[p·NR + j].
 * The whole MR×NR tile is accumulated in a local array (padding rows and
 * columns of the panels are zero), then only the m×n corner is written, so
 * every element goes through the same operations whatever m and n are.
 */
#define FM_DEF_UKR_GENERIC(T, NAME, MR, NR)                                \
    static void NAME(int64_t k, T alpha, const T *Ap, const T *Bp, T beta, \
                     T *C, int64_t ldc, int m, int n) {                    \
        T acc[MR][NR] = {{0}};                                             \
        for (int64_t p = 0; p < k; p++) {                                  \
            const T *a = Ap + p * (MR), *b = Bp + p * (NR);                \
            for (int i = 0; i < (MR); i++)                                 \
                for (int j = 0; j < (NR); j++) acc[i][j] += a[i] * b[j];   \
        }                                                                  \
        FM_GENERIC_STORE(T, m, n, acc);                                     \
    }

FM_DEF_UKR_GENERIC(float, fm_ukr_f32_generic_4x8, 4, 8)
FM_DEF_UKR_GENERIC(double, fm_ukr_f64_generic_4x4, 4, 4)

/* Unpacked kernel (gemm_kernels.h): the same tile and the same sums, from
 * A and B in place; only the m×n corner is read and accumulated (up to
 * FM_SUKR_NARROW_MR rows when n <= NR/2). */
#define FM_DEF_SUKR_GENERIC(T, NAME, MR, NR)                               \
    static void NAME(int64_t k, T alpha, const T *A, int64_t rsa,          \
                     int64_t csa, const T *B, int64_t ldb, T beta, T *C,   \
                     int64_t ldc, int m, int n) {                          \
        T acc[FM_SUKR_NARROW_MR][NR] = {{0}};                                     \
        for (int64_t p = 0; p < k; p++) {                                  \
            const T *b = B + p * ldb;                                      \
            for (int i = 0; i < m; i++) {                                  \
                const T a = A[i * rsa + p * csa];                          \
                for (int j = 0; j < n; j++) acc[i][j] += a * b[j];         \
            }                                                              \
        }                                                                  \
        FM_GENERIC_STORE(T, m, n, acc);                                     \
    }

FM_DEF_SUKR_GENERIC(float, fm_sukr_f32_generic_4x8, 4, 8)
FM_DEF_SUKR_GENERIC(double, fm_sukr_f64_generic_4x4, 4, 4)

/* Row kernel (gemm_kernels.h): c[0:n] := beta·c + alpha·Σ_p a[p·sa]·B[p,:],
 * accumulated in a local row so the compiler keeps it in registers. */
#define FM_DEF_ROWK_GENERIC(T, NAME)                                       \
    static void NAME(int64_t k, T alpha, const T *a, int64_t sa,           \
                     const T *B, int64_t ldb, T beta, T *c, int n) {       \
        T acc[FM_ROWK_MAX_N] = {0};                                        \
        for (int64_t p = 0; p < k; p++) {                                  \
            const T ap = a[p * sa], *b = B + p * ldb;                      \
            for (int j = 0; j < n; j++) acc[j] += ap * b[j];               \
        }                                                                  \
        for (int j = 0; j < n; j++)                                        \
            c[j] = beta == 0 ? alpha * acc[j] : beta * c[j] + alpha * acc[j]; \
    }

FM_DEF_ROWK_GENERIC(float, fm_rowk_f32_generic)
FM_DEF_ROWK_GENERIC(double, fm_rowk_f64_generic)

/* Transposer (gemm_kernels.h): D[p·ldd + i] := S[i·lds + p]. */
#define FM_DEF_TRM_GENERIC(T, NAME)                                        \
    static void NAME(int64_t rows, int64_t cols, const T *S, int64_t lds,  \
                     T *D, int64_t ldd) {                                  \
        for (int64_t i = 0; i < rows; i++)                                 \
            for (int64_t p = 0; p < cols; p++) D[p * ldd + i] = S[i * lds + p]; \
    }

FM_DEF_TRM_GENERIC(float, fm_trm_f32_generic)
FM_DEF_TRM_GENERIC(double, fm_trm_f64_generic)

/* Blocking for any cache of at least 32 KiB L1d / 256 KiB L2:
 * kc·nr·sizeof(T) = 8 KiB B micro-panel, mc·kc·sizeof(T) = 128 KiB A. */
const fm_ukr_table_t fm__ukr_generic = {
    .isa = FM_ISA_GENERIC,
    .f32 = {.mr = 4, .nr = 8, .mc = 128, .kc = 256, .nc = 4096,
            .ukr = fm_ukr_f32_generic_4x8, .sukr = fm_sukr_f32_generic_4x8,
            .trm = fm_trm_f32_generic, .rowk = fm_rowk_f32_generic},
    .f64 = {.mr = 4, .nr = 4, .mc = 64, .kc = 256, .nc = 4096,
            .ukr = fm_ukr_f64_generic_4x4, .sukr = fm_sukr_f64_generic_4x4,
            .trm = fm_trm_f64_generic, .rowk = fm_rowk_f64_generic},
};
