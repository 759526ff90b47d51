/*
 * kernels_avx2.c - AVX2 + FMA micro-kernels and their table:
 * fm_ukr_f32_avx2_6x16 and fm_ukr_f64_avx2_6x8, both instances of
 * kernels_x86_tmpl.h.  Only the functions carry target("avx2,fma"), so
 * the file needs no ISA compiler flags and the rest of the library stays
 * runnable on any x86-64; gemm.c calls in here only when cpu.c found AVX2,
 * FMA and OS support for the ymm state.
 */
#include "gemm_kernels.h"

#if FM_HAVE_X86_KERNELS
#include <immintrin.h>
#include <math.h>

#define FM_UKR_TARGET __attribute__((target("avx2,fma")))

/* Lane masks for edge tiles: the 8 (4) lanes starting at index 8 - n
 * (4 - n) have their first n lanes set. */
static const int32_t fm_avx2_mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                           0,  0,  0,  0,  0,  0,  0,  0};
static const int64_t fm_avx2_mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

/* In-register transposes for the transposer (kernels_x86_tmpl.h), as in
 * kernels_avx512.c with one stage fewer: after the last, r[q] holds
 * column q. */
FM_UKR_TARGET __attribute__((always_inline)) static inline void
fm_transpose_f32_avx2(__m256 r[8]) {
    __m256 s[8];
    for (int i = 0; i < 4; i++) {
        s[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        s[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        r[4 * i] = _mm256_shuffle_ps(s[4 * i], s[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm256_shuffle_ps(s[4 * i], s[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm256_shuffle_ps(s[4 * i + 1], s[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm256_shuffle_ps(s[4 * i + 1], s[4 * i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        s[j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
        s[4 + j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    }
    for (int j = 0; j < 8; j++) r[j] = s[j];
}

FM_UKR_TARGET __attribute__((always_inline)) static inline void
fm_transpose_f64_avx2(__m256d r[4]) {
    __m256d s[4];
    for (int i = 0; i < 2; i++) {
        s[2 * i] = _mm256_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        s[2 * i + 1] = _mm256_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    for (int c = 0; c < 2; c++) {
        r[c] = _mm256_permute2f128_pd(s[c], s[2 + c], 0x20);
        r[2 + c] = _mm256_permute2f128_pd(s[c], s[2 + c], 0x31);
    }
}

/* float: 8 lanes, 6×16 tile */
#define T float
#define FM_UKR_NAME fm_ukr_f32_avx2_6x16
#define FM_ROWK_NAME fm_rowk_f32_avx2
#define FM_SUKR_NAME fm_sukr_f32_avx2_6x16
#define FM_SFX_BODY fm_ukr_body_f32_avx2
#define FM_CUKR_NAME fm_cukr_f32_avx2_8x12
#define FM_CUKR_BODY fm_cukr_body_f32_avx2
#define FM_TRM_NAME fm_trm_f32_avx2
#define FM_TRM_BLOCK fm_trm_block_f32_avx2
#define FM_TRANSPOSE_BLOCK fm_transpose_f32_avx2
#define FM_SCALAR_FMA fmaf
#define V __m256
#define VL 8
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_LOAD(p) _mm256_load_ps(p)
#define V_STORE(p, v) _mm256_store_ps((p), (v))
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define V_BCAST(p) _mm256_broadcast_ss(p)
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VM __m256i
#define VM_FIRST(n) \
    _mm256_loadu_si256((const __m256i *)(fm_avx2_mask32 + 8 - (n)))
#define V_MASKLOAD(p, mk) _mm256_maskload_ps((p), (mk))
#define V_MASKSTORE(p, mk, v) _mm256_maskstore_ps((p), (mk), (v))
#include "kernels_x86_tmpl.h"
#undef T
#undef FM_UKR_NAME
#undef FM_ROWK_NAME
#undef FM_SUKR_NAME
#undef FM_SFX_BODY
#undef FM_CUKR_NAME
#undef FM_CUKR_BODY
#undef FM_TRM_NAME
#undef FM_TRM_BLOCK
#undef FM_TRANSPOSE_BLOCK
#undef FM_SCALAR_FMA
#undef V
#undef VL
#undef V_ZERO
#undef V_SET1
#undef V_LOAD
#undef V_LOADU
#undef V_STORE
#undef V_STOREU
#undef V_BCAST
#undef V_MUL
#undef V_FMA
#undef VM
#undef VM_FIRST
#undef V_MASKLOAD
#undef V_MASKSTORE

/* double: 4 lanes, 6×8 tile */
#define T double
#define FM_UKR_NAME fm_ukr_f64_avx2_6x8
#define FM_ROWK_NAME fm_rowk_f64_avx2
#define FM_SUKR_NAME fm_sukr_f64_avx2_6x8
#define FM_SFX_BODY fm_ukr_body_f64_avx2
#define FM_CUKR_NAME fm_cukr_f64_avx2_4x12
#define FM_CUKR_BODY fm_cukr_body_f64_avx2
#define FM_TRM_NAME fm_trm_f64_avx2
#define FM_TRM_BLOCK fm_trm_block_f64_avx2
#define FM_TRANSPOSE_BLOCK fm_transpose_f64_avx2
#define FM_SCALAR_FMA fma
#define V __m256d
#define VL 4
#define V_ZERO() _mm256_setzero_pd()
#define V_SET1(x) _mm256_set1_pd(x)
#define V_LOAD(p) _mm256_load_pd(p)
#define V_STORE(p, v) _mm256_store_pd((p), (v))
#define V_LOADU(p) _mm256_loadu_pd(p)
#define V_STOREU(p, v) _mm256_storeu_pd((p), (v))
#define V_BCAST(p) _mm256_broadcast_sd(p)
#define V_MUL(a, b) _mm256_mul_pd((a), (b))
#define V_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define VM __m256i
#define VM_FIRST(n) \
    _mm256_loadu_si256((const __m256i *)(fm_avx2_mask64 + 4 - (n)))
#define V_MASKLOAD(p, mk) _mm256_maskload_pd((p), (mk))
#define V_MASKSTORE(p, mk, v) _mm256_maskstore_pd((p), (mk), (v))
#include "kernels_x86_tmpl.h"
#undef T
#undef FM_UKR_NAME
#undef FM_ROWK_NAME
#undef FM_SUKR_NAME
#undef FM_SFX_BODY
#undef FM_CUKR_NAME
#undef FM_CUKR_BODY
#undef FM_TRM_NAME
#undef FM_TRM_BLOCK
#undef FM_TRANSPOSE_BLOCK
#undef FM_SCALAR_FMA
#undef V
#undef VL
#undef V_ZERO
#undef V_SET1
#undef V_LOAD
#undef V_LOADU
#undef V_STORE
#undef V_STOREU
#undef V_BCAST
#undef V_MUL
#undef V_FMA
#undef VM
#undef VM_FIRST
#undef V_MASKLOAD
#undef V_MASKSTORE

/* Blocking for 32-48 KiB L1d, 512 KiB-2 MiB L2, a shared L3:
 * kc·nr·sizeof(T) = 16 KiB of B micro-panel in L1 beside the A micro-panel;
 * mc·kc·sizeof(T) ≈ 150 KiB of packed A in L2; kc·nc ≈ 4 MiB (f32) of
 * packed B in L3. */
const fm_ukr_table_t fm__ukr_avx2 = {
    .isa = FM_ISA_AVX2,
    .f32 = {.mr = 6, .nr = 16, .mc = 144, .kc = 256, .nc = 4080,
            .ukr = fm_ukr_f32_avx2_6x16,
            .sukr = fm_sukr_f32_avx2_6x16,
            .cukr = fm_cukr_f32_avx2_8x12, .trm = fm_trm_f32_avx2,
            .cukr_m = 8, .rowk = fm_rowk_f32_avx2},
    .f64 = {.mr = 6, .nr = 8, .mc = 72, .kc = 256, .nc = 4080,
            .ukr = fm_ukr_f64_avx2_6x8,
            .sukr = fm_sukr_f64_avx2_6x8,
            .cukr = fm_cukr_f64_avx2_4x12, .trm = fm_trm_f64_avx2,
            .cukr_m = 4, .rowk = fm_rowk_f64_avx2},
};

#else
/* ISO C wants a declaration in every translation unit. */
typedef int fm_no_x86_kernels_t;
#endif /* FM_HAVE_X86_KERNELS */
