/*
 * gemm_tmpl.h - the portable part of the matrix product for one dtype
 * (T, FM_SFX; included twice by gemm.c): BLIS's five loops around the
 * micro-kernel, the packing of op(A) and op(B) into aligned panels, the
 * fused epilogue, and the split of the work between threads.
 *
 *   for jc in N by nc:                        (B block in L3)
 *     for kg in K by kg_len:                  (kc blocks packed together)
 *       pack op(B)[kg:+kg_len, jc:+nc], each kc block into nr-column
 *         panels (shared; threads pack a share each, then one barrier)
 *       for ic in M by mc:                    (threads: blocks of rows)
 *         for pc in kg:+kg_len by kc:         (depth of a packed block)
 *           pack op(A)[ic:+mc, pc:+kc] into mr-row panels  (per thread)
 *           for jr in nc by nr:               (B micro-panel in L1)
 *             for ir in mc by mr:             (A micro-panel)
 *               C tile := (pc == 0 ? beta : 1)·C tile + alpha·Ap·Bp
 *               after the last pc: epilogue on the tile
 *
 * Packing all the kc blocks of a group at once (kg_len·nc within
 * FM_GEMM_BP_BYTES; the whole of K for a dense layer's shapes) leaves two
 * barriers per group instead of two per kc block: barriers are what
 * threads lose most to when the cores are shared with other work.
 *
 * Every C element is summed by the same micro-kernel over the same kc
 * blocks in the same order whatever the thread count: kc depends on K
 * only, and threads only decide who computes which tile.
 */

/* One product, fixed before any thread starts; read-only in the threads
 * except for the packed buffers and each thread's status slot. */
struct FM_SFX(gemm_job) {
    int64_t M, N, K;
    T alpha, beta;
    const T *A;
    int64_t rsa, csa; /* op(A)[i, p] = A[i·rsa + p·csa] */
    const T *B;
    int64_t rsb, csb; /* op(B)[p, j] = B[p·rsb + j·csb] */
    T *C;
    int64_t ldc;
    const fm_epilogue_t *ep; /* NULL: plain product */
    const struct FM_SFX(fm_ukr_blk) *blk;
    int64_t mc, kc, nc; /* block sizes chosen for this product */
    int64_t kb;         /* kc blocks per packed group of op(B)        */
    T *Bp;              /* shared: kb blocks of kc × nc packed op(B)  */
    T *Ap;              /* thread t: mc × kc packed op(A) at t·ap_len */
    int64_t ap_len;
    int *status; /* (threads,) */
};

/*
 * Pack a block `width` wide and k deep into W-wide panels, panel q at
 * dst + q·k·W: dst[q·k·W + p·W + i] = src[(q·W + i)·s_i + p·s_p], and
 * 0 for q·W + i >= width (the zero padding the micro-kernel relies on).
 * W is a constant at each call site below, so the i loops unroll.
 */
FM_ALWAYS_INLINE void FM_SFX(gemm_pack_w)(const int W, int64_t width,
                                          int64_t k, const T *src,
                                          int64_t s_i, int64_t s_p,
                                          T *restrict dst) {
    const int64_t full = width / W * W;
    if (s_i == 1) {
        /* Block rows contiguous: read each row once, front to back (the
         * prefetcher follows), and deal it out to the panels. */
        for (int64_t p = 0; p < k; p++) {
            const T *s = src + p * s_p;
            T *d = dst + p * W;
            int64_t j = 0;
            for (; j < full; j += W, d += k * W)
                memcpy(d, s + j, (size_t)W * sizeof(T));
            if (j < width) {
                int i = 0;
                for (; j + i < width; i++) d[i] = s[j + i];
                for (; i < W; i++) d[i] = 0;
            }
        }
        return;
    }
    /* Block columns contiguous (a transpose): panel by panel, each of
     * its W source rows read front to back and dealt out down a column
     * of the panel (k·W elements, in L1).  Reading the W rows side by
     * side instead keeps W streams open whose addresses differ by a
     * multiple of the row stride, and runs at a third of the speed when
     * that stride is a multiple of 512 bytes (4K aliasing). */
    for (int64_t j = 0; j < width; j += W, dst += k * W) {
        const T *s = src + j * s_i;
        const int w = j < full ? W : (int)(width - j);
        for (int i = 0; i < w; i++)
            for (int64_t p = 0; p < k; p++) dst[p * W + i] = s[i * s_i + p * s_p];
        for (int i = w; i < W; i++)
            for (int64_t p = 0; p < k; p++) dst[p * W + i] = 0;
    }
}

/* Dispatch on the panel widths the tables use, so W is a constant. */
static void FM_SFX(gemm_pack)(int W, int64_t width, int64_t k, const T *src,
                              int64_t s_i, int64_t s_p, T *restrict dst) {
    switch (W) {
    case 4: FM_SFX(gemm_pack_w)(4, width, k, src, s_i, s_p, dst); break;
    case 6: FM_SFX(gemm_pack_w)(6, width, k, src, s_i, s_p, dst); break;
    case 8: FM_SFX(gemm_pack_w)(8, width, k, src, s_i, s_p, dst); break;
    case 16: FM_SFX(gemm_pack_w)(16, width, k, src, s_i, s_p, dst); break;
    case 32: FM_SFX(gemm_pack_w)(32, width, k, src, s_i, s_p, dst); break;
    default: FM_SFX(gemm_pack_w)(W, width, k, src, s_i, s_p, dst); break;
    }
}

/* Epilogue on the finished tile C[i0:+m, j0:+n]:
 * T = C + bias; Z[tile] = T (if kept); C[tile] = act(T).  Z must not
 * overlap C (the activation runs in place on C). */
static int FM_SFX(gemm_epilogue)(const fm_epilogue_t *ep, int64_t m,
                                 int64_t n, T *C, int64_t ldc, int64_t i0,
                                 int64_t j0) {
    T *c = C + i0 * ldc + j0;
    if (ep->bias)
        FM_SFX(fm__add_bias)(m, n, c, ldc, (const T *)ep->bias + j0);
    if (ep->Z) {
        T *z = (T *)ep->Z + i0 * ep->ldz + j0;
        for (int64_t i = 0; i < m; i++)
            memcpy(z + i * ep->ldz, c + i * ldc, (size_t)n * sizeof(T));
    }
    if (ep->act == FM_ACT_IDENTITY) return FM_OK;
    return FM_SFX(fm_act_forward)(ep->act, ep->act_param, m, n, c, ldc, c,
                                  ldc);
}

/* Loops jr, ir for one packed A block (rows ic:+mcur) and panels
 * jp0..jp1-1 of the packed B block Bp, which starts at column jc (ncur
 * columns). */
static int FM_SFX(gemm_macro)(const struct FM_SFX(gemm_job) *g, const T *Ap,
                              const T *Bp, int64_t ic, int64_t mcur,
                              int64_t jc,
                              int64_t ncur, int64_t jp0, int64_t jp1,
                              int64_t kcur, T beta, int last) {
    const int mr = g->blk->mr, nr = g->blk->nr;
    const int64_t ldc = g->ldc;
    int status = FM_OK;
    for (int64_t jp = jp0; jp < jp1; jp++) {
        const int64_t j0 = jc + jp * nr;
        const int n = (int)(jc + ncur - j0 < nr ? jc + ncur - j0 : nr);
        const T *bp = Bp + jp * nr * kcur;
        for (int64_t i0 = ic; i0 < ic + mcur; i0 += mr) {
            const int m = (int)(ic + mcur - i0 < mr ? ic + mcur - i0 : mr);
            const T *ap = Ap + (i0 - ic) * kcur;
            g->blk->ukr(kcur, g->alpha, ap, bp, beta, g->C + i0 * ldc + j0,
                        ldc, m, n);
            if (last && g->ep) {
                const int s = FM_SFX(gemm_epilogue)(g->ep, m, n, g->C, ldc,
                                                    i0, j0);
                if (s != FM_OK) status = s;
            }
        }
    }
    return status;
}

/* Thread tid of nth: packs its share of each group of B blocks, waits for
 * the others, then computes its work items (blocks of rows, or, when
 * there are fewer row blocks than threads, groups of B panels in them). */
static void FM_SFX(gemm_thread)(const struct FM_SFX(gemm_job) *g, int tid,
                                int nth) {
    const int mr = g->blk->mr, nr = g->blk->nr;
    const int64_t M = g->M, N = g->N, K = g->K, kc = g->kc;
    T *Ap = g->Ap + tid * g->ap_len;
    int status = FM_OK;
    const int64_t n_ic = (M + g->mc - 1) / g->mc;
    for (int64_t jc = 0; jc < N; jc += g->nc) {
        const int64_t ncur = N - jc < g->nc ? N - jc : g->nc;
        const int64_t n_jp = (ncur + nr - 1) / nr;
        int64_t n_jg = 1;
        if (n_ic < nth) {
            n_jg = (nth + n_ic - 1) / n_ic;
            if (n_jg > n_jp) n_jg = n_jp;
        }
        const int64_t n_items = n_ic * n_jg;
        for (int64_t kg = 0; kg < K; kg += g->kb * kc) {
            const int64_t kg_end = K - kg < g->kb * kc ? K : kg + g->kb * kc;

            /* B panels [lo, hi) of each kc block are this thread's to
             * pack; block b of the group lives at Bp + b·kc·nc. */
            const int64_t lo = n_jp * tid / nth, hi = n_jp * (tid + 1) / nth;
            for (int64_t pc = kg; pc < kg_end && lo < hi; pc += kc) {
                const int64_t kcur = kg_end - pc < kc ? kg_end - pc : kc;
                FM_SFX(gemm_pack)(
                    nr, (hi * nr < ncur ? hi * nr : ncur) - lo * nr, kcur,
                    g->B + pc * g->rsb + (jc + lo * nr) * g->csb, g->csb,
                    g->rsb, g->Bp + (pc - kg) * g->nc + lo * nr * kcur);
            }
            FM_GEMM_BARRIER(nth);

            for (int64_t item = tid; item < n_items; item += nth) {
                const int64_t ic = item / n_jg * g->mc, jg = item % n_jg;
                const int64_t mcur = M - ic < g->mc ? M - ic : g->mc;
                for (int64_t pc = kg; pc < kg_end; pc += kc) {
                    const int64_t kcur =
                        kg_end - pc < kc ? kg_end - pc : kc;
                    /* C := beta·C + alpha·S₀ on the first block, then
                     * C += alpha·S_b: beta applies exactly once, and each
                     * element sums its blocks in increasing pc. */
                    const T beta = pc == 0 ? g->beta : (T)1;
                    FM_SFX(gemm_pack)(mr, mcur, kcur,
                                      g->A + ic * g->rsa + pc * g->csa,
                                      g->rsa, g->csa, Ap);
                    const int s = FM_SFX(gemm_macro)(
                        g, Ap, g->Bp + (pc - kg) * g->nc, ic, mcur, jc,
                        ncur, n_jp * jg / n_jg, n_jp * (jg + 1) / n_jg, kcur,
                        beta, pc + kcur == K);
                    if (s != FM_OK) status = s;
                }
            }
            /* The next group's packing overwrites Bp. */
            FM_GEMM_BARRIER(nth);
        }
    }
    g->status[tid] = status;
}

/* C := alpha·op(A)·op(B) + beta·C then the epilogue, for checked
 * arguments with M, N, K >= 1: choose blocks and threads, allocate the
 * packed buffers, run. */
static int FM_SFX(gemm_run)(int trans_a, int trans_b, int64_t M, int64_t N,
                            int64_t K, T alpha, const T *A, int64_t lda,
                            const T *B, int64_t ldb, T beta, T *C,
                            int64_t ldc, const fm_epilogue_t *ep) {
    const struct FM_SFX(fm_ukr_blk) *blk = FM_SFX(fm_gemm_blk)();
    const int64_t mr = blk->mr, nr = blk->nr;
    const int nt = fm_gemm_threads(M, N, K);
    struct FM_SFX(gemm_job) g = {
        .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta,
        .A = A, .rsa = trans_a ? 1 : lda, .csa = trans_a ? lda : 1,
        .B = B, .rsb = trans_b ? 1 : ldb, .csb = trans_b ? ldb : 1,
        .C = C, .ldc = ldc, .ep = ep, .blk = blk};

    /* Blocks of near-equal size rather than full blocks and a remnant:
     * K = 300 runs as 150 + 150, not 256 + 44.  kc depends on K only
     * (it fixes the summation order); mc gives each thread the same
     * number of row blocks. */
    int64_t nb = (K + blk->kc - 1) / blk->kc;
    g.kc = (K + nb - 1) / nb;
    nb = (N + blk->nc - 1) / blk->nc;
    g.nc = ((N + nb - 1) / nb + nr - 1) / nr * nr;
    nb = (M + blk->mc * nt - 1) / (blk->mc * nt) * nt;
    g.mc = ((M + nb - 1) / nb + mr - 1) / mr * mr;
    g.kb = FM_GEMM_BP_BYTES / (int64_t)sizeof(T) / (g.kc * g.nc);
    if (g.kb < 1) g.kb = 1;
    if (g.kb > (K + g.kc - 1) / g.kc) g.kb = (K + g.kc - 1) / g.kc;

    /* One allocation: Bp, then one Ap per thread, then the status slots,
     * each part starting on a cache line. */
    const int64_t line = FM_CACHELINE / (int64_t)sizeof(T);
    const int64_t bp_len = (g.kb * g.kc * g.nc + line - 1) / line * line;
    g.ap_len = (g.mc * g.kc + line - 1) / line * line;
    const size_t bytes = ((size_t)bp_len + (size_t)nt * (size_t)g.ap_len) *
                             sizeof(T) +
                         (size_t)nt * sizeof(int);
    T *buf = fm__alloc(bytes);
    if (!buf) return FM_ERR_NOMEM;
    g.Bp = buf;
    g.Ap = buf + bp_len;
    g.status = (int *)(g.Ap + nt * g.ap_len);
    for (int t = 0; t < nt; t++) g.status[t] = FM_OK;

#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        FM_SFX(gemm_thread)(&g, omp_get_thread_num(), omp_get_num_threads());
    } else
#endif
    {
        FM_SFX(gemm_thread)(&g, 0, 1);
    }

    int status = FM_OK;
    for (int t = 0; t < nt && status == FM_OK; t++) status = g.status[t];
    fm__free(buf);
    return status;
}

/* Products of at most FM_GEMM_SMALL_M rows with B not transposed (a
 * forward pass on a few samples): each row of C from the ISA's row
 * kernel, B read in place, then the epilogue.  Packing B for so few rows
 * would cost more than the product.  Such a product only streams B, so
 * when B is large the threads split its columns (whole row-kernel
 * chunks, so every element is computed as on one thread): each core then
 * reads its share through its own L2 and the shares stay there between
 * calls. */
/* gemm_small_m's work item q: columns q·FM_ROWK_MAX_N onward of every
 * row. */
static void FM_SFX(gemm_small_m_chunk)(const struct FM_SFX(fm_ukr_blk) *blk,
                                       int64_t q, int64_t M, int64_t N,
                                       int64_t K, T alpha, const T *A,
                                       int64_t rsa, int64_t csa, const T *B,
                                       int64_t ldb, T beta, T *C,
                                       int64_t ldc) {
    const int64_t j0 = q * FM_ROWK_MAX_N;
    const int n = (int)(N - j0 < FM_ROWK_MAX_N ? N - j0 : FM_ROWK_MAX_N);
    for (int64_t i = 0; i < M; i++)
        blk->rowk(K, alpha, A + i * rsa, csa, B + j0, ldb, beta,
                  C + i * ldc + j0, n);
}

static int FM_SFX(gemm_small_m)(int trans_a, int64_t M, int64_t N, int64_t K,
                                T alpha, const T *A, int64_t lda,
                                const T *B, int64_t ldb, T beta, T *C,
                                int64_t ldc, const fm_epilogue_t *ep) {
    const struct FM_SFX(fm_ukr_blk) *blk = FM_SFX(fm_gemm_blk)();
    const int64_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    const int64_t n_chunks = (N + FM_ROWK_MAX_N - 1) / FM_ROWK_MAX_N;
    /* Such a product only streams B: the second core pays off from
     * FM_GEMM_STREAM_MIN_BYTES of it */
    const int nt = fm__threads_for(K * N * (int64_t)sizeof(T),
                                   FM_GEMM_STREAM_MIN_BYTES, n_chunks);
    FM_FOR_ON_THREADS(nt, q, n_chunks,
                      FM_SFX(gemm_small_m_chunk)(blk, q, M, N, K, alpha, A,
                                                 rsa, csa, B, ldb, beta, C,
                                                 ldc));
    return ep ? FM_SFX(gemm_epilogue)(ep, M, N, C, ldc, 0, 0) : FM_OK;
}

/* A rectangle of C for gemm_direct: row tiles [it0, it1) of `rows` rows,
 * column panels [jp0, jp1) of NR columns, summed over the kc blocks. */
struct FM_SFX(direct_part) {
    int64_t it0, it1, jp0, jp1;
};

/* gemm_direct's loops over one rectangle: per column panel, per kc block,
 * every row tile, so the kc × NR panel of B stays in L1 while the tiles
 * pass over it; A is read again for each panel, from L2.  C := beta·C +
 * alpha·S₀ on the first block, then C += alpha·S_b, as gemm_thread does,
 * so each element gets the same bits as through the packed path. */
static void FM_SFX(gemm_direct_part)(const struct FM_SFX(fm_ukr_blk) *blk,
                                    struct FM_SFX(direct_part) r, int rows,
                                    int64_t M, int64_t N, int64_t K,
                                    int64_t kc, T alpha, const T *A,
                                    int64_t rsa, int64_t csa, const T *B,
                                    int64_t ldb, T beta, T *C, int64_t ldc) {
    const int nr = blk->nr;
    for (int64_t jp = r.jp0; jp < r.jp1; jp++) {
        const int64_t j0 = jp * nr;
        const int n = (int)(N - j0 < nr ? N - j0 : nr);
        for (int64_t pc = 0; pc < K; pc += kc) {
            const int64_t kcur = K - pc < kc ? K - pc : kc;
            const T b = pc == 0 ? beta : (T)1;
            for (int64_t it = r.it0; it < r.it1; it++) {
                const int64_t i0 = it * rows;
                const int m = (int)(M - i0 < rows ? M - i0 : rows);
                blk->sukr(kcur, alpha, A + i0 * rsa + pc * csa, rsa, csa,
                          B + pc * ldb + j0, ldb, b, C + i0 * ldc + j0, ldc,
                          m, n);
            }
        }
    }
}

/* The column kernel's loops over row tiles [r.it0, r.it1) of cukr_m
 * rows (N <= FM_CUKR_MAX_N), each summed over the kc blocks as
 * gemm_direct_part sums them.  An untransposed A is first transposed, one
 * tile and block at a time, into the layout the kernel reads. */
static void FM_SFX(gemm_direct_cols)(const struct FM_SFX(fm_ukr_blk) *blk,
                                    struct FM_SFX(direct_part) r,
                                    int trans_a, int64_t M, int64_t N,
                                    int64_t K, int64_t kc, T alpha,
                                    const T *A, int64_t lda, const T *B,
                                    int64_t ldb, T beta, T *C, int64_t ldc) {
    const int cm = blk->cukr_m;
    _Alignas(FM_CACHELINE) T at[FM_GEMM_DIRECT_AT_BYTES / sizeof(T)];
    for (int64_t it = r.it0; it < r.it1; it++) {
        const int64_t i0 = it * cm;
        const int m = (int)(M - i0 < cm ? M - i0 : cm);
        for (int64_t pc = 0; pc < K; pc += kc) {
            const int64_t kcur = K - pc < kc ? K - pc : kc;
            const T *a = A + pc * lda + i0;
            int64_t lda_t = lda;
            if (!trans_a) {
                blk->trm(m, kcur, A + i0 * lda + pc, lda, at, cm);
                a = at, lda_t = cm;
            }
            blk->cukr(kcur, alpha, a, lda_t, B + pc * ldb, ldb,
                      pc == 0 ? beta : (T)1, C + i0 * ldc, ldc, m, (int)N);
        }
    }
}

/* Whether gemm_direct takes the column kernel: few enough columns, the
 * kernel there and, for an untransposed A, room for a kc block of its
 * transposed tile. */
static int FM_SFX(gemm_direct_uses_cukr)(
    const struct FM_SFX(fm_ukr_blk) *blk, int trans_a, int64_t N) {
    if (blk->cukr == NULL || N > FM_CUKR_MAX_N) return 0;
    return trans_a ||
           blk->kc * blk->cukr_m * (int64_t)sizeof(T) <= FM_GEMM_DIRECT_AT_BYTES;
}

/* One thread's rectangle of gemm_direct, by either kernel, then one
 * epilogue over the whole rectangle, not one per tile: a tile's rows are
 * at most NR wide, and per-row calls of the activation cost more than
 * the activation itself at these sizes (C is at most a few hundred KiB
 * here, still in L2). */
static int FM_SFX(gemm_direct_rect)(const struct FM_SFX(fm_ukr_blk) *blk,
                                    int by_cukr, struct FM_SFX(direct_part) r,
                                    int rows, int trans_a, int64_t M,
                                    int64_t N, int64_t K, int64_t kc,
                                    T alpha, const T *A, int64_t lda,
                                    const T *B, int64_t ldb, T beta, T *C,
                                    int64_t ldc, const fm_epilogue_t *ep) {
    if (by_cukr) {
        FM_SFX(gemm_direct_cols)(blk, r, trans_a, M, N, K, kc, alpha, A, lda,
                                 B, ldb, beta, C, ldc);
    } else {
        const int64_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
        FM_SFX(gemm_direct_part)(blk, r, rows, M, N, K, kc, alpha, A, rsa,
                                 csa, B, ldb, beta, C, ldc);
    }
    if (ep == NULL || r.it0 >= r.it1 || r.jp0 >= r.jp1) return FM_OK;
    /* the column kernel's one "panel" is all N columns, which may be more
     * than NR (AVX2's float64 panel is 8 wide, its column tile 12) */
    const int64_t nr = by_cukr ? N : blk->nr;
    const int64_t i0 = r.it0 * rows, j0 = r.jp0 * nr;
    const int64_t i1 = r.it1 * rows < M ? r.it1 * rows : M;
    const int64_t j1 = r.jp1 * nr < N ? r.jp1 * nr : N;
    return FM_SFX(gemm_epilogue)(ep, i1 - i0, j1 - j0, C, ldc, i0, j0);
}

/* Products whose op(A) fits in L2 (gemm_use_direct): the MR×NR tiles
 * from the unpacked kernel, A and B read in place, the epilogue on each
 * thread's finished rectangle.  No packing: at these sizes packing op(A)
 * and op(B) moves as many bytes as the product reads, and the packed
 * path's shared B costs each thread a barrier and the other core's half
 * of B.  Threads take whole column panels when op(B) is the larger
 * operand (each reads its own share of B and all of A), else whole row
 * tiles; a tie goes to rows (W2's 128×256·256×128 forward: 24 → 20 ms an
 * epoch at 2 threads, the same alone).  A transposed B
 * (K·N·sizeof(T) <= FM_GEMM_DIRECT_BT_BYTES) is first copied to op(B) by
 * the ISA's transposer, as the kernel reads it:
 * each thread copies its own panels' columns, or, splitting by rows, an
 * equal share of them and then waits for the others.  At most
 * FM_CUKR_MAX_N columns go to the column kernel, whose vectors run along
 * the rows of C: a row of 10 columns would fill 10 of 16 lanes. */
static int FM_SFX(gemm_direct)(int trans_a, int trans_b, int64_t M,
                               int64_t N, int64_t K, T alpha, const T *A,
                               int64_t lda, const T *B, int64_t ldb, T beta,
                               T *C, int64_t ldc, const fm_epilogue_t *ep) {
    const struct FM_SFX(fm_ukr_blk) *blk = FM_SFX(fm_gemm_blk)();
    const int nr = blk->nr;
    /* the packed path's kc, so that both give the same bits */
    const int64_t nb = (K + blk->kc - 1) / blk->kc, kc = (K + nb - 1) / nb;
    _Alignas(FM_CACHELINE) T bt_stack[FM_GEMM_DIRECT_BT_STACK_BYTES /
                                      sizeof(T)];
    T *bt = bt_stack;
    if (trans_b && K * N > (int64_t)(sizeof bt_stack / sizeof(T))) {
        bt = fm__alloc((size_t)(K * N) * sizeof(T));
        if (bt == NULL) return FM_ERR_NOMEM;
    }
    const T *Bk = trans_b ? bt : B; /* op(B) as the kernels read it */
    const int64_t ldbk = trans_b ? N : ldb;
    const int by_cukr = FM_SFX(gemm_direct_uses_cukr)(blk, trans_a, N);
    /* at most half a tile wide: tiles of FM_SUKR_NARROW_MR rows */
    const int rows = by_cukr           ? blk->cukr_m
                     : 2 * N <= nr     ? FM_SUKR_NARROW_MR
                                       : blk->mr;
    const int64_t n_it = (M + rows - 1) / rows;
    const int64_t n_jp = by_cukr ? 1 : (N + nr - 1) / nr;
    int nt = fm_gemm_threads(M, N, K);
    const int by_cols = N > M ? n_jp >= nt : n_it < nt;
    const int64_t n_split = by_cols ? n_jp : n_it;
    if (nt > n_split) nt = (int)n_split;
    struct FM_SFX(direct_part) r = {0, n_it, 0, n_jp};
    int status = FM_OK;
    if (nt == 1) { /* no parallel region (see FM_FOR_ON_THREADS) */
        /* op(B)[p, j] = B[j·ldb + p] */
        if (trans_b) blk->trm(N, K, B, ldb, bt, N);
        status = FM_SFX(gemm_direct_rect)(blk, by_cukr, r, rows, trans_a, M,
                                          N, K, kc, alpha, A, lda, Bk, ldbk,
                                          beta, C, ldc, ep);
    }
#ifdef _OPENMP
    else {
#pragma omp parallel num_threads(nt) firstprivate(r)
        {
            const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
            const int64_t lo = n_split * tid / nth,
                          hi = n_split * (tid + 1) / nth;
            if (by_cols)
                r.jp0 = lo, r.jp1 = hi;
            else
                r.it0 = lo, r.it1 = hi;
            if (trans_b) {
                /* columns [j0, j1) of op(B), copied by this thread */
                const int64_t j0 = by_cols ? lo * nr : N * tid / nth;
                const int64_t j1 = by_cols ? (hi * nr < N ? hi * nr : N)
                                           : N * (tid + 1) / nth;
                blk->trm(j1 - j0, K, B + j0 * ldb, ldb, bt + j0, N);
                if (!by_cols) FM_GEMM_BARRIER(nth);
            }
            const int s = FM_SFX(gemm_direct_rect)(
                blk, by_cukr, r, rows, trans_a, M, N, K, kc, alpha, A, lda,
                Bk, ldbk, beta, C, ldc, ep);
            if (s != FM_OK) {
#pragma omp atomic write
                status = s;
            }
        }
    }
#endif
    if (bt != bt_stack) fm__free(bt);
    return status;
}

/* Whether an (M, N, K) product takes gemm_direct: op(A) within
 * FM_GEMM_DIRECT_A_BYTES (it is read once per column panel, so it must
 * stay in L2); B's rows at most FM_GEMM_DIRECT_LDB_BYTES apart (further
 * apart, a kc × NR panel of B spans so few cache sets that it no longer
 * stays cached: packing it is what fixes that); a transposed B small
 * enough for the stack copy. */
static int FM_SFX(gemm_use_direct)(int trans_b, int64_t M, int64_t N,
                                   int64_t K, int64_t ldb) {
    const double size = (double)sizeof(T);
    if ((double)M * (double)K * size > (double)FM_GEMM_DIRECT_A_BYTES)
        return 0;
    if (trans_b)
        return (double)K * (double)N * size <=
               (double)FM_GEMM_DIRECT_BT_BYTES;
    return (double)ldb * size <= (double)FM_GEMM_DIRECT_LDB_BYTES;
}

/* C := beta·C without reading C when beta == 0 (M, N >= 1). */
static void FM_SFX(gemm_scale)(int64_t M, int64_t N, T beta, T *C,
                               int64_t ldc) {
    if (beta == 1) return;
    for (int64_t i = 0; i < M; i++) {
        T *c = C + i * ldc;
        if (beta == 0)
            for (int64_t j = 0; j < N; j++) c[j] = 0;
        else
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
    }
}

/* C (M, N) := alpha·op(A)·op(B) + beta·C; see fastmlp.h. */
int FM_SFX(fm_gemm)(int trans_a, int trans_b, int64_t M, int64_t N,
                    int64_t K, T alpha, const T *A, int64_t lda, const T *B,
                    int64_t ldb, T beta, T *C, int64_t ldc) {
    const int status = fm_gemm_check(trans_a, trans_b, M, N, K, A, lda, B,
                                     ldb, C, ldc);
    if (status != FM_OK) return status;
    if (M == 0 || N == 0) return FM_OK;
    /* As in BLAS, alpha == 0 does not read A and B (no NaN from them). */
    if (K == 0 || alpha == 0) {
        FM_SFX(gemm_scale)(M, N, beta, C, ldc);
        return FM_OK;
    }
    if (M <= FM_GEMM_SMALL_M && !trans_b)
        return FM_SFX(gemm_small_m)(trans_a, M, N, K, alpha, A, lda, B, ldb,
                                    beta, C, ldc, NULL);
    if (FM_SFX(gemm_use_direct)(trans_b, M, N, K, ldb))
        return FM_SFX(gemm_direct)(trans_a, trans_b, M, N, K, alpha, A, lda,
                                   B, ldb, beta, C, ldc, NULL);
    return FM_SFX(gemm_run)(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb,
                            beta, C, ldc, NULL);
}

/* C (M, N) := act(op(A)·op(B) + bias), Z := the pre-activation; see
 * fm_internal.h. */
int FM_SFX(fm__gemm_ep)(int trans_a, int trans_b, int64_t M, int64_t N,
                        int64_t K, const T *A, int64_t lda, const T *B,
                        int64_t ldb, T *C, int64_t ldc,
                        const fm_epilogue_t *ep) {
    int status = fm_gemm_check(trans_a, trans_b, M, N, K, A, lda, B, ldb, C,
                               ldc);
    if (status != FM_OK) return status;
    if (ep) {
        if ((status = fm_gemm_check_ep(ep, M, N)) != FM_OK) return status;
        if (M > 0 && N > 0 && !ep->bias && !ep->Z &&
            ep->act == FM_ACT_IDENTITY)
            ep = NULL; /* nothing to do after the product */
    }
    if (ep && ep->act != FM_ACT_IDENTITY) {
        /* Reject a bad act_param now, not from inside the threads. */
        T z = 0, a;
        status = FM_SFX(fm_act_forward)(ep->act, ep->act_param, 1, 1, &z, 1,
                                        &a, 1);
        if (status != FM_OK) return status;
    }
    if (M == 0 || N == 0) return FM_OK;
    if (K == 0) {
        FM_SFX(gemm_scale)(M, N, 0, C, ldc);
        return ep ? FM_SFX(gemm_epilogue)(ep, M, N, C, ldc, 0, 0) : FM_OK;
    }
    if (M <= FM_GEMM_SMALL_M && !trans_b)
        return FM_SFX(gemm_small_m)(trans_a, M, N, K, 1, A, lda, B, ldb, 0, C,
                                    ldc, ep);
    if (FM_SFX(gemm_use_direct)(trans_b, M, N, K, ldb))
        return FM_SFX(gemm_direct)(trans_a, trans_b, M, N, K, 1, A, lda, B,
                                   ldb, 0, C, ldc, ep);
    return FM_SFX(gemm_run)(trans_a, trans_b, M, N, K, 1, A, lda, B, ldb, 0,
                            C, ldc, ep);
}

/* Column sums (fm_internal.h): s = 1ᵀ·X as the one-row product of
 * gemm_small_m, op(A) a row of ones read with stride 0 (A transposed with
 * lda = 0).  Each element is the row kernel's chain acc = 1·x + acc from
 * acc = 0, one rounding per row as in the plain sum, and alpha = 1 leaves
 * it exact. */
void FM_SFX(fm__col_sums)(int64_t m, int64_t n, const T *X, int64_t ldx,
                          T *s) {
    const T one = 1;
    FM_SFX(gemm_small_m)(1, 1, n, m, (T)1, &one, 0, X, ldx, (T)0, s, n, NULL);
}
