/*
 * kernels_avx512.c - AVX-512F micro-kernels and their table:
 * fm_ukr_f32_avx512_6x32 and fm_ukr_f64_avx512_6x16, the same
 * kernels_x86_tmpl.h body as the AVX2 kernels with zmm vectors and opmask
 * edge tiles.  Only the functions carry target("avx512f"); gemm.c calls in
 * here only when cpu.c found AVX-512F and OS support for the zmm and
 * opmask state.
 */
#include "gemm_kernels.h"

#if FM_HAVE_X86_KERNELS
#include <immintrin.h>
#include <math.h>

#define FM_UKR_TARGET __attribute__((target("avx512f")))

/* In-register transposes for the transposer (kernels_x86_tmpl.h): each
 * stage interleaves ever larger pieces (elements, pairs, 128-bit lanes,
 * 256-bit halves) of rows that are ever further apart; after the last,
 * r[q] holds column q. */
FM_UKR_TARGET __attribute__((always_inline)) static inline void
fm_transpose_f32_avx512(__m512 r[16]) {
    __m512 s[16];
    for (int i = 0; i < 8; i++) {
        s[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        s[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(s[4 * i], s[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(s[4 * i], s[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(s[4 * i + 1], s[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(s[4 * i + 1], s[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            s[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j],
                                                r[8 * i + 4 + j], 0x88);
            s[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j],
                                                    r[8 * i + 4 + j], 0xDD);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(s[j], s[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(s[j], s[8 + j], 0xDD);
    }
}

FM_UKR_TARGET __attribute__((always_inline)) static inline void
fm_transpose_f64_avx512(__m512d r[8]) {
    __m512d s[8];
    for (int i = 0; i < 4; i++) {
        s[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        s[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 2; c++) {
            r[4 * i + c] = _mm512_shuffle_f64x2(s[4 * i + c],
                                                s[4 * i + 2 + c], 0x88);
            r[4 * i + 2 + c] = _mm512_shuffle_f64x2(s[4 * i + c],
                                                    s[4 * i + 2 + c], 0xDD);
        }
    for (int j = 0; j < 4; j++) {
        s[j] = _mm512_shuffle_f64x2(r[j], r[4 + j], 0x88);
        s[4 + j] = _mm512_shuffle_f64x2(r[j], r[4 + j], 0xDD);
    }
    for (int j = 0; j < 8; j++) r[j] = s[j];
}

/* float: 16 lanes, 6×32 tile */
#define T float
#define FM_UKR_NAME fm_ukr_f32_avx512_6x32
#define FM_ROWK_NAME fm_rowk_f32_avx512
#define FM_SUKR_NAME fm_sukr_f32_avx512_6x32
#define FM_SFX_BODY fm_ukr_body_f32_avx512
#define FM_CUKR_NAME fm_cukr_f32_avx512_16x12
#define FM_CUKR_BODY fm_cukr_body_f32_avx512
#define FM_TRM_NAME fm_trm_f32_avx512
#define FM_TRM_BLOCK fm_trm_block_f32_avx512
#define FM_TRANSPOSE_BLOCK fm_transpose_f32_avx512
#define FM_SCALAR_FMA fmaf
#define V __m512
#define VL 16
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_LOAD(p) _mm512_load_ps(p)
#define V_STORE(p, v) _mm512_store_ps((p), (v))
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define V_BCAST(p) _mm512_set1_ps(*(p))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VM __mmask16
#define VM_FIRST(n) ((__mmask16)((1u << (n)) - 1u))
#define V_MASKLOAD(p, mk) _mm512_maskz_loadu_ps((mk), (p))
#define V_MASKSTORE(p, mk, v) _mm512_mask_storeu_ps((p), (mk), (v))
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

/* double: 8 lanes, 6×16 tile */
#define T double
#define FM_UKR_NAME fm_ukr_f64_avx512_6x16
#define FM_ROWK_NAME fm_rowk_f64_avx512
#define FM_SUKR_NAME fm_sukr_f64_avx512_6x16
#define FM_SFX_BODY fm_ukr_body_f64_avx512
#define FM_CUKR_NAME fm_cukr_f64_avx512_8x12
#define FM_CUKR_BODY fm_cukr_body_f64_avx512
#define FM_TRM_NAME fm_trm_f64_avx512
#define FM_TRM_BLOCK fm_trm_block_f64_avx512
#define FM_TRANSPOSE_BLOCK fm_transpose_f64_avx512
#define FM_SCALAR_FMA fma
#define V __m512d
#define VL 8
#define V_ZERO() _mm512_setzero_pd()
#define V_SET1(x) _mm512_set1_pd(x)
#define V_LOAD(p) _mm512_load_pd(p)
#define V_STORE(p, v) _mm512_store_pd((p), (v))
#define V_LOADU(p) _mm512_loadu_pd(p)
#define V_STOREU(p, v) _mm512_storeu_pd((p), (v))
#define V_BCAST(p) _mm512_set1_pd(*(p))
#define V_MUL(a, b) _mm512_mul_pd((a), (b))
#define V_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define VM __mmask8
#define VM_FIRST(n) ((__mmask8)((1u << (n)) - 1u))
#define V_MASKLOAD(p, mk) _mm512_maskz_loadu_pd((mk), (p))
#define V_MASKSTORE(p, mk, v) _mm512_mask_storeu_pd((p), (mk), (v))
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

/* Blocking for 32-48 KiB L1d and >= 1 MiB L2 (AVX-512 parts): with twice
 * the AVX2 panel width, kc = 192 keeps the kc·nr·sizeof(T) = 24 KiB B
 * micro-panel in L1; mc·kc·sizeof(T) = 180 KiB of packed A in L2;
 * kc·nc ≈ 3 MiB (f32) of packed B in L3. */
const fm_ukr_table_t fm__ukr_avx512 = {
    .isa = FM_ISA_AVX512,
    .f32 = {.mr = 6, .nr = 32, .mc = 240, .kc = 192, .nc = 4064,
            .ukr = fm_ukr_f32_avx512_6x32,
            .sukr = fm_sukr_f32_avx512_6x32,
            .cukr = fm_cukr_f32_avx512_16x12, .trm = fm_trm_f32_avx512,
            .cukr_m = 16, .rowk = fm_rowk_f32_avx512},
    .f64 = {.mr = 6, .nr = 16, .mc = 120, .kc = 192, .nc = 4064,
            .ukr = fm_ukr_f64_avx512_6x16,
            .sukr = fm_sukr_f64_avx512_6x16,
            .cukr = fm_cukr_f64_avx512_8x12, .trm = fm_trm_f64_avx512,
            .cukr_m = 8, .rowk = fm_rowk_f64_avx512},
};

#else
/* ISO C wants a declaration in every translation unit. */
typedef int fm_no_x86_kernels_t;
#endif /* FM_HAVE_X86_KERNELS */
