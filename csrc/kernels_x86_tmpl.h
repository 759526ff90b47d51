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
 *   FM_SUKR_NAME      unpacked kernel name, e.g. fm_sukr_f32_avx2_6x16
 *   FM_SFX_BODY       name of their shared body
 *   FM_CUKR_NAME      column kernel name, e.g. fm_cukr_f32_avx2_8x12
 *   FM_CUKR_BODY      name of its body
 *   FM_TRM_NAME       transposer name, e.g. fm_trm_f32_avx2
 *   FM_TRM_BLOCK      name of its block body
 *   FM_TRANSPOSE_BLOCK(r)  transposes V r[VL] in registers: r[q] := the
 *                     old column q (inline, ISA- and dtype-specific)
 *   FM_SCALAR_FMA     fmaf or fma
 *   FM_ROWK_NAME      row kernel name
 *   FM_UKR_TARGET     function attribute, e.g. target("avx2,fma")
 *   V, VL             vector type and its number of lanes (NR = 2·VL)
 *   V_ZERO() V_SET1(x) V_LOAD(p) V_STORE(p, v) (aligned) V_LOADU(p)
 *   V_STOREU(p, v)
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

/* The unpacked tile's rank-1 updates over two vectors of columns (the
 * second masked when n < 2·VL), for its first `rows` rows (3 or 6, a
 * constant at each use). */
#define FM_UKR_WIDE_LOOP(rows)                                             \
    for (int64_t p = 0; p < k; p++) {                                      \
        const T *b = B + p * ldb;                                          \
        const V b0 = V_LOADU(b);                                           \
        const V b1 =                                                       \
            n == 2 * VL ? V_LOADU(b + VL) : V_MASKLOAD(b + VL, mk1);       \
        const int64_t o = p * csa;                                         \
        V a;                                                               \
        a = V_BCAST(a0 + o); c00 = V_FMA(a, b0, c00); c01 = V_FMA(a, b1, c01); \
        a = V_BCAST(a1 + o); c10 = V_FMA(a, b0, c10); c11 = V_FMA(a, b1, c11); \
        a = V_BCAST(a2 + o); c20 = V_FMA(a, b0, c20); c21 = V_FMA(a, b1, c21); \
        if ((rows) > 3) {                                                  \
            a = V_BCAST(a3 + o); c30 = V_FMA(a, b0, c30); c31 = V_FMA(a, b1, c31); \
            a = V_BCAST(a4 + o); c40 = V_FMA(a, b0, c40); c41 = V_FMA(a, b1, c41); \
            a = V_BCAST(a5 + o); c50 = V_FMA(a, b0, c50); c51 = V_FMA(a, b1, c51); \
        }                                                                  \
    }

/* The tile body shared by the packed and the unpacked kernel:
 * C[0:m,0:n] := beta·C + alpha·Σ_p A(i, p)·B(p, j), where A(i, p) =
 * A[i·rsa + p·csa] and B(p, j) = B[p·ldb + j].  packed (a constant at
 * each caller, so the branches fold away): A and B are the packed panels
 * (rsa = 1, csa = 6, ldb = NR, 64-byte aligned B rows, zero padding).
 * Unpacked: the matrices in place; B's lanes past n are masked (nothing
 * past B's row end is read), and rows past m read row 0 again (valid
 * memory; their sums are not stored); a tile of one vector of columns
 * (n <= VL) may have up to FM_SUKR_NARROW_MR = 12 rows.  Each element is
 * one FMA chain in increasing p either way, so both kernels give it the
 * same value. */
__attribute__((always_inline)) FM_UKR_TARGET static inline void FM_SFX_BODY(
    const int packed, int64_t k, T alpha, const T *A, int64_t rsa,
    int64_t csa, const T *B, int64_t ldb, T beta, T *C, int64_t ldc, int m,
    int n) {
    V c00 = V_ZERO(), c01 = V_ZERO(), c10 = V_ZERO(), c11 = V_ZERO();
    V c20 = V_ZERO(), c21 = V_ZERO(), c30 = V_ZERO(), c31 = V_ZERO();
    V c40 = V_ZERO(), c41 = V_ZERO(), c50 = V_ZERO(), c51 = V_ZERO();

    /* The tile of C is written once at the end; fetch it meanwhile. */
    for (int i = 0; i < m; i++) {
        __builtin_prefetch(C + (int64_t)i * ldc, 1);
        __builtin_prefetch(C + (int64_t)i * ldc + (n - 1), 1);
    }
    const VM mk0 = VM_FIRST(n < VL ? n : VL);
    const VM mk1 = VM_FIRST(n > VL ? n - VL : 0);
    const T *a0 = A, *a1 = A + (m > 1) * rsa, *a2 = A + (m > 2) * 2 * rsa;
    const T *a3 = A + (m > 3) * 3 * rsa, *a4 = A + (m > 4) * 4 * rsa;
    const T *a5 = A + (m > 5) * 5 * rsa;

    /* Rank-1 updates: broadcast one A value per row, two B vectors (one
     * when the unpacked tile is at most one vector wide). */
    if (packed) {
        for (int64_t p = 0; p < k; p++) {
            const V b0 = V_LOAD(B), b1 = V_LOAD(B + VL);
            V a;
            a = V_BCAST(A + 0); c00 = V_FMA(a, b0, c00); c01 = V_FMA(a, b1, c01);
            a = V_BCAST(A + 1); c10 = V_FMA(a, b0, c10); c11 = V_FMA(a, b1, c11);
            a = V_BCAST(A + 2); c20 = V_FMA(a, b0, c20); c21 = V_FMA(a, b1, c21);
            a = V_BCAST(A + 3); c30 = V_FMA(a, b0, c30); c31 = V_FMA(a, b1, c31);
            a = V_BCAST(A + 4); c40 = V_FMA(a, b0, c40); c41 = V_FMA(a, b1, c41);
            a = V_BCAST(A + 5); c50 = V_FMA(a, b0, c50); c51 = V_FMA(a, b1, c51);
            A += 6;
            B += 2 * VL;
        }
    } else if (n <= VL) {
        /* One vector of columns (unpacked only): up to 12 rows, rows 6..11
         * in the second accumulator of each pair, so that twelve FMA
         * chains, not six, cover the FMA latency. */
        const T *a6 = a0 + (m > 6) * 6 * rsa, *a7 = a0 + (m > 7) * 7 * rsa;
        const T *a8 = a0 + (m > 8) * 8 * rsa, *a9 = a0 + (m > 9) * 9 * rsa;
        const T *a10 = a0 + (m > 10) * 10 * rsa;
        const T *a11 = a0 + (m > 11) * 11 * rsa;
        for (int64_t p = 0; p < k; p++) {
            const V b0 = V_MASKLOAD(B + p * ldb, mk0);
            const int64_t o = p * csa;
            c00 = V_FMA(V_BCAST(a0 + o), b0, c00);
            c10 = V_FMA(V_BCAST(a1 + o), b0, c10);
            c20 = V_FMA(V_BCAST(a2 + o), b0, c20);
            c30 = V_FMA(V_BCAST(a3 + o), b0, c30);
            c40 = V_FMA(V_BCAST(a4 + o), b0, c40);
            c50 = V_FMA(V_BCAST(a5 + o), b0, c50);
            c01 = V_FMA(V_BCAST(a6 + o), b0, c01);
            c11 = V_FMA(V_BCAST(a7 + o), b0, c11);
            c21 = V_FMA(V_BCAST(a8 + o), b0, c21);
            c31 = V_FMA(V_BCAST(a9 + o), b0, c31);
            c41 = V_FMA(V_BCAST(a10 + o), b0, c41);
            c51 = V_FMA(V_BCAST(a11 + o), b0, c51);
        }
        const V va = V_SET1(alpha), vb = V_SET1(beta);
        const V lo[6] = {c00, c10, c20, c30, c40, c50};
        const V hi[6] = {c01, c11, c21, c31, c41, c51};
        for (int i = 0; i < m; i++) {
            T *c_ = C + (int64_t)i * ldc;
            V t_ = V_MUL(va, i < 6 ? lo[i] : hi[i - 6]);
            if (beta != 0) t_ = V_FMA(vb, V_MASKLOAD(c_, mk0), t_);
            V_MASKSTORE(c_, mk0, t_);
        }
        return;
    } else if (m <= 3) {
        /* At most three rows (the last tile of M = 32 or 128): only their
         * six FMA chains, still enough to cover the FMA latency, so the
         * tile costs half a full one rather than all of it. */
        FM_UKR_WIDE_LOOP(3);
    } else {
        FM_UKR_WIDE_LOOP(6);
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
    FM_UKR_ROW_MASKED(0, c00, c01);
    if (m > 1) FM_UKR_ROW_MASKED(1, c10, c11);
    if (m > 2) FM_UKR_ROW_MASKED(2, c20, c21);
    if (m > 3) FM_UKR_ROW_MASKED(3, c30, c31);
    if (m > 4) FM_UKR_ROW_MASKED(4, c40, c41);
    if (m > 5) FM_UKR_ROW_MASKED(5, c50, c51);
}

/* Packed micro-kernel: C[0:m,0:n] := beta·C + alpha·Σ_p Ap[p·6 + i]·
 * Bp[p·NR + j]; Ap (k, 6) packed, Bp (k, NR) packed and 64-byte aligned. */
FM_UKR_TARGET
static void FM_UKR_NAME(int64_t k, T alpha, const T *Ap, const T *Bp, T beta,
                        T *C, int64_t ldc, int m, int n) {
    FM_SFX_BODY(1, k, alpha, Ap, 1, 6, Bp, 2 * VL, beta, C, ldc, m, n);
}

/* Unpacked kernel (gemm_kernels.h): the same tile from A and B in place. */
FM_UKR_TARGET
static void FM_SUKR_NAME(int64_t k, T alpha, const T *A, int64_t rsa,
                         int64_t csa, const T *B, int64_t ldb, T beta, T *C,
                         int64_t ldc, int m, int n) {
    FM_SFX_BODY(0, k, alpha, A, rsa, csa, B, ldb, beta, C, ldc, m, n);
}

/* Column kernel (gemm_kernels.h): C[0:m, 0:n] := beta·C + alpha·Σ_p
 * A[p·lda + i]·B[p·ldb + j] for m <= VL, n <= FM_CUKR_MAX_N (12): a
 * transposed A with few columns of B (a 10-class layer's dW = Hᵀ·dZ).
 * Vectors run along i, where the stored A is contiguous, one accumulator
 * per column j, so no lane is wasted on N = 10; the tile is then written
 * through a small stack copy (C's columns are strided).  Each element is
 * still one FMA chain in increasing p with the same two final roundings,
 * so it equals what the other kernels give it.
 *
 * The body is inlined once per column count nc, a constant there, so that
 * only nc FMAs run per p (the loop is bound by FMA throughput) and their
 * offsets into B's row are constants. */
#define FM_CUKR_EACH(X) \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define FM_CUKR_INIT(j) V x##j = V_ZERO();
#define FM_CUKR_FMA(j) \
    if ((j) < nc) x##j = V_FMA(a, V_BCAST(b + (j)), x##j);
#define FM_CUKR_SPILL(j) \
    if ((j) < nc) V_STORE(tile[j], V_MUL(va, x##j));
__attribute__((always_inline)) FM_UKR_TARGET static inline void
FM_CUKR_BODY(const int nc, int64_t k, T alpha, const T *A, int64_t lda,
             const T *B, int64_t ldb, int m, T tile[FM_CUKR_MAX_N][VL]) {
    FM_CUKR_EACH(FM_CUKR_INIT)
    const VM mk = VM_FIRST(m);
    for (int64_t p = 0; p < k; p++) {
        const V a = V_MASKLOAD(A + p * lda, mk);
        const T *b = B + p * ldb;
        FM_CUKR_EACH(FM_CUKR_FMA)
    }
    const V va = V_SET1(alpha);
    FM_CUKR_EACH(FM_CUKR_SPILL)
}

#define FM_CUKR_CASE(j) \
    case (j) + 1:                                                          \
        FM_CUKR_BODY((j) + 1, k, alpha, A, lda, B, ldb, m, tile);          \
        break;
FM_UKR_TARGET
static void FM_CUKR_NAME(int64_t k, T alpha, const T *A, int64_t lda,
                         const T *B, int64_t ldb, T beta, T *C, int64_t ldc,
                         int m, int n) {
    _Alignas(64) T tile[FM_CUKR_MAX_N][VL];
    switch (n) { FM_CUKR_EACH(FM_CUKR_CASE) }
    for (int i = 0; i < m; i++) {
        T *c = C + (int64_t)i * ldc;
        if (beta == 0)
            for (int j = 0; j < n; j++) c[j] = tile[j][i];
        else /* beta·c + t in one rounding, as the vector kernels' FMA */
            for (int j = 0; j < n; j++)
                c[j] = FM_SCALAR_FMA(beta, c[j], tile[j][i]);
    }
}
#undef FM_CUKR_EACH
#undef FM_CUKR_INIT
#undef FM_CUKR_FMA
#undef FM_CUKR_SPILL
#undef FM_CUKR_CASE

/* Transposer (gemm_kernels.h), VL × VL blocks through registers: VL
 * row loads, FM_TRANSPOSE_BLOCK's shuffles, VL stores.  In an edge block
 * (full == 0: m < VL rows or kk < VL columns left) columns past kk are
 * masked off the loads and their rows of D not stored, and rows past m
 * load as zero and are masked off the stores.  One block per call: inlined
 * into the loops, its 32 addresses would be hoisted out of them and
 * spilled (measured 15% slower). */
__attribute__((noinline)) FM_UKR_TARGET static void
FM_TRM_BLOCK(const int full, const T *s, int64_t lds, T *d, int64_t ldd,
             int m, int kk) {
    const VM mk_cols = VM_FIRST(kk), mk_rows = VM_FIRST(m);
    V r[VL];
    for (int i = 0; i < VL; i++)
        r[i] = full     ? V_LOADU(s + i * lds)
               : i < m ? V_MASKLOAD(s + i * lds, mk_cols)
                       : V_ZERO();
    FM_TRANSPOSE_BLOCK(r);
    for (int q = 0; q < VL; q++) {
        if (full)
            V_STOREU(d + q * ldd, r[q]);
        else if (q < kk)
            V_MASKSTORE(d + q * ldd, mk_rows, r[q]);
    }
}

FM_UKR_TARGET
static void FM_TRM_NAME(int64_t rows, int64_t cols, const T *S, int64_t lds,
                        T *D, int64_t ldd) {
    for (int64_t i0 = 0; i0 < rows; i0 += VL) {
        const int m = rows - i0 < VL ? (int)(rows - i0) : VL;
        for (int64_t p0 = 0; p0 < cols; p0 += VL) {
            const int kk = cols - p0 < VL ? (int)(cols - p0) : VL;
            const T *s = S + i0 * lds + p0;
            T *d = D + p0 * ldd + i0;
            if (m == VL && kk == VL)
                FM_TRM_BLOCK(1, s, lds, d, ldd, m, kk);
            else
                FM_TRM_BLOCK(0, s, lds, d, ldd, m, kk);
        }
    }
}

/* Row kernel (gemm_kernels.h): c[0:n] := beta·c + alpha·Σ_p a[p·sa]·B[p,:],
 * n <= FM_ROWK_MAX_N, B unpacked.  Columns in blocks of 8 vectors, one
 * named accumulator each: 8 independent FMA chains cover the FMA latency,
 * and named variables stay in registers (an array of them would not).
 * Lanes past n are masked, so nothing past c's or B's row end is touched;
 * a last block of nv < 8 vectors is inlined per nv (a constant there), so
 * that it runs nv FMAs per p, not 8 (a 10-class layer: 1).  Each element
 * is one FMA chain in increasing p. */
#define FM_ROWK_EACH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define FM_ROWK_ZERO(v) V x##v = V_ZERO();
#define FM_ROWK_MASK(v)                                                    \
    const int l##v = left - (v) * VL;                                      \
    const VM mk##v = VM_FIRST(l##v <= 0 ? 0 : l##v < VL ? l##v : VL);
#define FM_ROWK_LOAD(p, v) (full ? V_LOADU(p) : V_MASKLOAD((p), mk##v))
#define FM_ROWK_FMA(v)                                                     \
    if ((v) < nv) x##v = V_FMA(av, FM_ROWK_LOAD(b + (v) * VL, v), x##v);
#define FM_ROWK_STORE(v)                                                   \
    if ((v) < nv) {                                                        \
        T *c_ = cj + (v) * VL;                                             \
        V t = V_MUL(va, x##v);                                             \
        if (beta != 0) t = V_FMA(vb, FM_ROWK_LOAD(c_, v), t);              \
        if (full)                                                          \
            V_STOREU(c_, t);                                               \
        else                                                               \
            V_MASKSTORE(c_, mk##v, t);                                     \
    }
/* One block of the row kernel: nv vectors of columns, all full (full:
 * nv = 8, no masks) or the last block's left < 8·VL columns; named after
 * the row kernel (FM_ROWK_NAME##_block). */
#define FM_ROWK_CAT_(a, b) a##b
#define FM_ROWK_CAT(a, b) FM_ROWK_CAT_(a, b)
#define FM_ROWK_BLOCK FM_ROWK_CAT(FM_ROWK_NAME, _block)
__attribute__((always_inline)) FM_UKR_TARGET static inline void
FM_ROWK_BLOCK(const int nv, const int full, int64_t k, const V va,
              const V vb, T beta, const T *a, int64_t sa, const T *bj,
              int64_t ldb, T *cj, int left) {
    FM_ROWK_EACH(FM_ROWK_ZERO)
    FM_ROWK_EACH(FM_ROWK_MASK)
    for (int64_t p = 0; p < k; p++) {
        const V av = V_BCAST(a + p * sa);
        const T *b = bj + p * ldb;
        FM_ROWK_EACH(FM_ROWK_FMA)
    }
    FM_ROWK_EACH(FM_ROWK_STORE)
}
#define FM_ROWK_CASE(v)                                                    \
    case (v) + 1:                                                          \
        FM_ROWK_BLOCK((v) + 1, 0, k, va, vb, beta, a, sa, bj, ldb, cj,     \
                      left);                                               \
        break;
FM_UKR_TARGET
static void FM_ROWK_NAME(int64_t k, T alpha, const T *a, int64_t sa,
                         const T *B, int64_t ldb, T beta, T *c, int n) {
    const V va = V_SET1(alpha), vb = V_SET1(beta);
    for (int j0 = 0; j0 < n; j0 += 8 * VL) {
        const int left = n - j0;
        const T *bj = B + j0;
        T *cj = c + j0;
        if (left >= 8 * VL)
            FM_ROWK_BLOCK(8, 1, k, va, vb, beta, a, sa, bj, ldb, cj, left);
        else
            switch ((left + VL - 1) / VL) { FM_ROWK_EACH(FM_ROWK_CASE) }
    }
}
#undef FM_ROWK_EACH
#undef FM_ROWK_ZERO
#undef FM_ROWK_MASK
#undef FM_ROWK_LOAD
#undef FM_ROWK_FMA
#undef FM_ROWK_STORE
#undef FM_ROWK_CASE
#undef FM_ROWK_BLOCK
#undef FM_ROWK_CAT
#undef FM_ROWK_CAT_

#undef FM_UKR_ROW_FULL
#undef FM_UKR_ROW_MASKED
#undef FM_UKR_WIDE_LOOP
