/*
 * kernels_x86_tmpl.h - the one x86 micro-kernel body, instantiated per ISA
 * and dtype by kernels_avx2.c and kernels_avx512.c (xxHash-style: one
 * source, compiled under different target attributes).  Sharing the body
 * keeps the AVX-512 kernels structurally identical to the AVX2 ones, which
 * matters because the AVX-512 path cannot run on every machine that tests
 * it.
 *
 * Tile: 6 rows × 2 vectors.  12 accumulators + 2 B vectors + 1 broadcast
 * = 15 of the 16 ymm registers AVX2 has; AVX-512 has 32 zmm registers and
 * uses the same shape (a taller tile is a later tuning step).
 * Contract (gemm_kernels.h):  C[0:m,0:n] := beta·C + alpha·Ap·Bp.
 *
 * The includer defines, before each inclusion:
 *   T                 element type
 *   FM_UKR_NAME       kernel name, e.g. fm_ukr_f32_avx2_6x16
 *   FM_UKR_TARGET     function attribute, e.g. target("avx2,fma")
 *   V, VL             vector type and its number of lanes (NR = 2·VL)
 *   V_ZERO() V_SET1(x) V_LOAD(p) (aligned) V_LOADU(p) V_STOREU(p, v)
 *   V_BCAST(p) (broadcast *p) V_MUL(a, b) V_FMA(a, b, c) (a·b + c, fused)
 *   VM, VM_FIRST(n)   mask type and the mask of lanes 0..n-1 (0 <= n <= VL)
 *   V_MASKLOAD(p, mk) V_MASKSTORE(p, mk, v)   lanes outside mk untouched
 * and undefines them afterwards.
 */

/* One row of the tile: t = alpha·acc, then t = beta·C + t (fused) unless
 * beta == 0; the full and the masked path use the same two roundings so
 * an element's value does not depend on whether its tile is an edge. */
#define FM_UKR_ROW_FULL(i, x0, x1)                                         \
    do {                                                                   \
        T *c_ = C + (int64_t)(i) * ldc;                                    \
        V t0_ = V_MUL(va, x0), t1_ = V_MUL(va, x1);                        \
        if (beta != 0) {                                                   \
            t0_ = V_FMA(vb, V_LOADU(c_), t0_);                             \
            t1_ = V_FMA(vb, V_LOADU(c_ + VL), t1_);                        \
        }                                                                  \
        V_STOREU(c_, t0_);                                                 \
        V_STOREU(c_ + VL, t1_);                                            \
    } while (0)

#define FM_UKR_ROW_MASKED(i, x0, x1)                                       \
    do {                                                                   \
        T *c_ = C + (int64_t)(i) * ldc;                                    \
        V t0_ = V_MUL(va, x0);                                             \
        if (beta != 0) t0_ = V_FMA(vb, V_MASKLOAD(c_, mk0), t0_);          \
        V_MASKSTORE(c_, mk0, t0_);                                         \
        if (n > VL) {                                                      \
            V t1_ = V_MUL(va, x1);                                         \
            if (beta != 0)                                                 \
                t1_ = V_FMA(vb, V_MASKLOAD(c_ + VL, mk1), t1_);            \
            V_MASKSTORE(c_ + VL, mk1, t1_);                                \
        }                                                                  \
    } while (0)

/* C[0:m,0:n] := beta·C + alpha·Σ_p Ap[p·6 + i]·Bp[p·NR + j];
 * Ap (k, 6) packed, Bp (k, NR) packed and 64-byte aligned. */
FM_UKR_TARGET
static void FM_UKR_NAME(int64_t k, T alpha, const T *Ap, const T *Bp, T beta,
                        T *C, int64_t ldc, int m, int n) {
    V c00 = V_ZERO(), c01 = V_ZERO(), c10 = V_ZERO(), c11 = V_ZERO();
    V c20 = V_ZERO(), c21 = V_ZERO(), c30 = V_ZERO(), c31 = V_ZERO();
    V c40 = V_ZERO(), c41 = V_ZERO(), c50 = V_ZERO(), c51 = V_ZERO();

    /* The tile of C is written once at the end; fetch it meanwhile. */
    for (int i = 0; i < m; i++) {
        __builtin_prefetch(C + (int64_t)i * ldc, 1);
        __builtin_prefetch(C + (int64_t)i * ldc + (n - 1), 1);
    }

    /* Rank-1 updates: broadcast one A value per row, two B vectors. */
    for (int64_t p = 0; p < k; p++) {
        const V b0 = V_LOAD(Bp), b1 = V_LOAD(Bp + VL);
        V a;
        a = V_BCAST(Ap + 0); c00 = V_FMA(a, b0, c00); c01 = V_FMA(a, b1, c01);
        a = V_BCAST(Ap + 1); c10 = V_FMA(a, b0, c10); c11 = V_FMA(a, b1, c11);
        a = V_BCAST(Ap + 2); c20 = V_FMA(a, b0, c20); c21 = V_FMA(a, b1, c21);
        a = V_BCAST(Ap + 3); c30 = V_FMA(a, b0, c30); c31 = V_FMA(a, b1, c31);
        a = V_BCAST(Ap + 4); c40 = V_FMA(a, b0, c40); c41 = V_FMA(a, b1, c41);
        a = V_BCAST(Ap + 5); c50 = V_FMA(a, b0, c50); c51 = V_FMA(a, b1, c51);
        Ap += 6;
        Bp += 2 * VL;
    }

    const V va = V_SET1(alpha), vb = V_SET1(beta);
    if (m == 6 && n == 2 * VL) {
        FM_UKR_ROW_FULL(0, c00, c01);
        FM_UKR_ROW_FULL(1, c10, c11);
        FM_UKR_ROW_FULL(2, c20, c21);
        FM_UKR_ROW_FULL(3, c30, c31);
        FM_UKR_ROW_FULL(4, c40, c41);
        FM_UKR_ROW_FULL(5, c50, c51);
        return;
    }
    /* Edge tile: rows by count, columns by lane masks (masked-off lanes
     * are neither read nor written, so nothing past C's edge is touched). */
    const VM mk0 = VM_FIRST(n < VL ? n : VL);
    const VM mk1 = VM_FIRST(n > VL ? n - VL : 0);
    FM_UKR_ROW_MASKED(0, c00, c01);
    if (m > 1) FM_UKR_ROW_MASKED(1, c10, c11);
    if (m > 2) FM_UKR_ROW_MASKED(2, c20, c21);
    if (m > 3) FM_UKR_ROW_MASKED(3, c30, c31);
    if (m > 4) FM_UKR_ROW_MASKED(4, c40, c41);
    if (m > 5) FM_UKR_ROW_MASKED(5, c50, c51);
}

/* Row kernel (gemm_kernels.h): c[0:n] := beta·c + alpha·Σ_p a[p·sa]·B[p,:],
 * n <= FM_ROWK_MAX_N, B unpacked.  Columns in blocks of NV vectors (8
 * independent FMA chains cover the FMA latency); the lanes past n are
 * masked, so nothing past c's or B's row end is touched. */
FM_UKR_TARGET
static void FM_ROWK_NAME(int64_t k, T alpha, const T *a, int64_t sa,
                         const T *B, int64_t ldb, T beta, T *c, int n) {
    enum { NV = FM_ROWK_MAX_N / VL < 8 ? FM_ROWK_MAX_N / VL : 8 };
    const V va = V_SET1(alpha), vb = V_SET1(beta);
    for (int j0 = 0; j0 < n; j0 += NV * VL) {
        V acc[NV];
        VM mk[NV];
        const int nv = (n - j0 + VL - 1) / VL < NV ? (n - j0 + VL - 1) / VL : NV;
        for (int v = 0; v < nv; v++) {
            acc[v] = V_ZERO();
            const int left = n - j0 - v * VL;
            mk[v] = VM_FIRST(left < VL ? left : VL);
        }
        for (int64_t p = 0; p < k; p++) {
            const V av = V_BCAST(a + p * sa);
            const T *b = B + p * ldb + j0;
            for (int v = 0; v < nv; v++)
                acc[v] = V_FMA(av, V_MASKLOAD(b + v * VL, mk[v]), acc[v]);
        }
        for (int v = 0; v < nv; v++) {
            V t = V_MUL(va, acc[v]);
            if (beta != 0) t = V_FMA(vb, V_MASKLOAD(c + j0 + v * VL, mk[v]), t);
            V_MASKSTORE(c + j0 + v * VL, mk[v], t);
        }
    }
}

#undef FM_UKR_ROW_FULL
#undef FM_UKR_ROW_MASKED
