/*
 * test_gemm.c - the matrix product and the CPU/thread dispatch.
 *
 * What it proves:
 *   1. dispatch: ISA names/parse, FASTMLP_ISA at first use, fm_isa_set
 *      (unsupported -> FM_ERR_ISA), thread count setters, status texts;
 *   2. fm_gemm_f32/f64 on every ISA this CPU supports (forced with
 *      fm_isa_set), all four transpose forms, alpha/beta variants, beta = 0
 *      on a NaN-filled C, leading dimensions wider than the matrices
 *      (padding NaN in A/B must not be read, padding in C must not be
 *      written), sizes from {0, 1, 3, 7, ..., 257}, against a naive triple
 *      loop in long double;
 *   3. the fused epilogue (bias + act, with and without Z) against the
 *      product followed by fm_act_forward;
 *   4. results with 1, 2 and 3 threads are bitwise identical;
 *   5. argument errors give FM_ERR_ARG.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastmlp.h"
#include "fm_internal.h"
#include "fm_test.h"

static const int64_t SIZES[] = {0,  1,  3,  7,   17,  31, 33,
                                63, 65, 127, 129, 255, 257};
#define N_SIZES ((int)(sizeof SIZES / sizeof SIZES[0]))
/* Shapes with M·N·K above this are run only from LARGE below: the naive
 * reference is the slow part of the test. */
#define MNK_LIMIT 1000000
/* The last: op(A) over 512 KiB, packed rather than read in place. */
static const int64_t LARGE[][3] = {{257, 255, 129}, {129, 257, 255},
                                   {255, 127, 257}, {257, 257, 257},
                                   {700, 65, 257}};

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static uint64_t rng_state = 0x243F6A8885A308D3u;
/* Uniform in [-1, 1), splitmix64. */
static double rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-52 - 1.0;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_gemm: out of memory\n");
        exit(2);
    }
    return p;
}

/*
 * Tolerance: |C − ref| <= (K + 4)·eps(T)·bound_ij,
 *   bound_ij = |alpha|·(|op(A)|·|op(B)|)_ij + |beta|·|C0_ij|.
 * Why c = 1 (in units of eps): a dot product of length K summed in any
 * order, with or without FMA, errs by at most γ_n·(|a|·|b|) where n is
 * the number of roundings on the way, γ_n ≈ n·u, u = eps/2 (Higham,
 * Accuracy and Stability of Numerical Algorithms, §3.1).  Here n <= K for
 * the sums, plus 2 per kc block (alpha product, add into C; kc >= 96
 * whenever there is more than one block) plus 1 for beta·C:
 * n <= K + 2·(K/96 + 1) + 1, so the error is below (0.52·K + 1.5)·eps·
 * bound, and (K + 4)·eps·bound leaves a factor ~2.  The check is a
 * rigorous bound (never flaky) that still catches a wrong or missing
 * term, which errs by about bound/K: far above K·eps·bound while
 * K²·eps ≪ 1 (≤ 0.008 for float up to K = 257).  The long double
 * reference adds at most K·2⁻⁶⁴·bound.
 */
#define TOL_C 1.0

/* The reference for one shape: S = op(A)·op(B) and |op(A)|·|op(B)| in
 * long double, from op(A) (M, K) and op(B) (K, N) in double. */
static void ref_product(int64_t M, int64_t N, int64_t K, const double *opA,
                        const double *opB, long double *S, long double *absS) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            long double s = 0, a = 0;
            for (int64_t p = 0; p < K; p++) {
                long double t = (long double)opA[i * K + p] * opB[p * N + j];
                s += t;
                a += fabsl(t);
            }
            S[i * N + j] = s;
            absS[i * N + j] = a;
        }
}

/* Values chosen to exercise alpha/beta paths: 1/0 is the plain product,
 * non-trivial alpha with beta 0 (C not read), both non-trivial, beta 1. */
static const double ALPHAS[] = {1.0, -0.75, 1.5, 0.5, 2.0};
static const double BETAS[] = {0.0, 0.0, -0.5, 1.0, 0.25};
#define N_AB 5


/* ------------------------------------------------------------------ */
/* One dtype seen through doubles, so that each check is written once */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    size_t size;
    double eps;
    double (*get)(const void *p, int64_t i);
    void (*set)(void *p, int64_t i, double v); /* rounds to the dtype */
    int (*gemm)(int ta, int tb, int64_t M, int64_t N, int64_t K, double alpha,
                const void *A, int64_t lda, const void *B, int64_t ldb,
                double beta, void *C, int64_t ldc);
    int (*gemm_ep)(int ta, int tb, int64_t M, int64_t N, int64_t K,
                   const void *A, int64_t lda, const void *B, int64_t ldb,
                   void *C, int64_t ldc, const fm_epilogue_t *ep);
    int (*act)(fm_act_t act, double param, int64_t rows, int64_t cols,
               const void *Z, int64_t ldz, void *A, int64_t lda);
} dtype_t;

#define DEF_DTYPE(T, SFX, EPS)                                               \
    static double get_##SFX(const void *p, int64_t i) {                      \
        return (double)((const T *)p)[i];                                    \
    }                                                                        \
    static void set_##SFX(void *p, int64_t i, double v) {                    \
        ((T *)p)[i] = (T)v;                                                  \
    }                                                                        \
    static int gemm_##SFX(int ta, int tb, int64_t M, int64_t N, int64_t K,   \
                          double alpha, const void *A, int64_t lda,          \
                          const void *B, int64_t ldb, double beta, void *C,  \
                          int64_t ldc) {                                     \
        return fm_gemm_##SFX(ta, tb, M, N, K, (T)alpha, A, lda, B, ldb,      \
                             (T)beta, C, ldc);                               \
    }                                                                        \
    static int gemm_ep_##SFX(int ta, int tb, int64_t M, int64_t N,           \
                             int64_t K, const void *A, int64_t lda,          \
                             const void *B, int64_t ldb, void *C,            \
                             int64_t ldc, const fm_epilogue_t *ep) {         \
        return fm__gemm_ep_##SFX(ta, tb, M, N, K, A, lda, B, ldb, C, ldc,    \
                                 ep);                                        \
    }                                                                        \
    static int act_##SFX(fm_act_t act, double param, int64_t rows,           \
                         int64_t cols, const void *Z, int64_t ldz, void *A,  \
                         int64_t lda) {                                      \
        return fm_act_forward_##SFX(act, param, rows, cols, Z, ldz, A, lda); \
    }                                                                        \
    static const dtype_t DT_##SFX = {#SFX,         sizeof(T),   EPS,         \
                                     get_##SFX,    set_##SFX,   gemm_##SFX,  \
                                     gemm_ep_##SFX, act_##SFX};

DEF_DTYPE(float, f32, 0x1p-23)
DEF_DTYPE(double, f64, 0x1p-52)

/* n values of the dtype, uniform in [-1, 1), returned as doubles. */
static double *rnd_values(const dtype_t *dt, int64_t n) {
    double *v = xmalloc((size_t)n * sizeof(double));
    unsigned char tmp[8];
    for (int64_t i = 0; i < n; i++) {
        dt->set(tmp, 0, rnd());
        v[i] = dt->get(tmp, 0);
    }
    return v;
}

/* A stored matrix of the dtype (rows, cols), leading dimension ld, whose
 * padding columns hold `pad`; element (r, c) = op[c·rows + r] when
 * transposed (op is (cols, rows)), else op[r·cols + c]. */
static void *store(const dtype_t *dt, const double *op, int trans,
                   int64_t rows, int64_t cols, int64_t ld, double pad) {
    void *m = xmalloc((size_t)(rows * ld) * dt->size);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < ld; c++)
            dt->set(m, r * ld + c,
                    c >= cols ? pad
                              : (trans ? op[c * rows + r] : op[r * cols + c]));
    return m;
}

static const char *isa_label(void) { return fm_isa_name(fm_isa_active()); }

/* ------------------------------------------------------------------ */
/* 1. Dispatch                                                        */
/* ------------------------------------------------------------------ */

static void test_dispatch(void) {
    /* FASTMLP_ISA is read at the first use; main sets it to "Avx2". */
    const fm_isa_t det = fm_isa_detected();
    CHECK(fm_isa_active() == (det >= FM_ISA_AVX2 ? FM_ISA_AVX2 : det));
    CHECK(fm_isa_detected() == det);

    for (int i = 0; i < FM_ISA_COUNT_; i++) {
        CHECK(fm_isa_name((fm_isa_t)i) != NULL);
        CHECK(fm_isa_parse(fm_isa_name((fm_isa_t)i)) == i);
    }
    CHECK(fm_isa_name(FM_ISA_COUNT_) == NULL);
    CHECK(fm_isa_name((fm_isa_t)-1) == NULL);
    CHECK(fm_isa_parse("GENERIC") == FM_ISA_GENERIC);
    CHECK(fm_isa_parse("AvX512") == FM_ISA_AVX512);
    CHECK(fm_isa_parse("avx") == -1);
    CHECK(fm_isa_parse("avx2x") == -1);
    CHECK(fm_isa_parse("") == -1);
    CHECK(fm_isa_parse(NULL) == -1);
    CHECK(fm_isa_set((fm_isa_t)FM_ISA_COUNT_) == FM_ERR_ARG);
    CHECK(fm_isa_set((fm_isa_t)-1) == FM_ERR_ARG);
    for (int i = 0; i < FM_ISA_COUNT_; i++) {
        if (i <= (int)det) {
            CHECK(fm_isa_set((fm_isa_t)i) == FM_OK);
            CHECK(fm_isa_active() == (fm_isa_t)i);
        } else {
            CHECK(fm_isa_set((fm_isa_t)i) == FM_ERR_ISA);
            CHECK(fm_isa_active() != (fm_isa_t)i);
        }
    }
    CHECK(fm_isa_set(det) == FM_OK);

    const int nt0 = fm_get_num_threads();
    CHECK(nt0 >= 1);
    CHECK(fm_set_num_threads(0) == FM_ERR_ARG);
    CHECK(fm_set_num_threads(-3) == FM_ERR_ARG);
    CHECK(fm_set_num_threads(3) == FM_OK);
    CHECK(fm_get_num_threads() == (fm_has_openmp() ? 3 : 1));
    CHECK(fm_set_num_threads(nt0) == FM_OK);
    CHECK(fm_get_num_threads() == nt0);

    const char *unknown = fm_strerror(-12345);
    CHECK(unknown != NULL);
    for (int s = 0; s < FM_ERR_COUNT_; s++) {
        const char *t = fm_strerror(s);
        CHECK(t != NULL && t[0] != '\0' && strcmp(t, unknown) != 0);
    }
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", FM_VERSION_MAJOR, FM_VERSION_MINOR,
             FM_VERSION_PATCH);
    CHECK(strcmp(fm_version(), v) == 0);

    void *p = fm__alloc(1000);
    CHECK(p != NULL && (uintptr_t)p % FM_CACHELINE == 0);
    fm__free(p);
    p = fm__alloc(0);
    CHECK(p != NULL);
    fm__free(p);
    CHECK(fm__alloc(SIZE_MAX) == NULL);
    CHECK(fm__calloc(SIZE_MAX / 2, 4) == NULL);
    double *z = fm__calloc(10, sizeof(double));
    CHECK(z != NULL && (uintptr_t)z % FM_CACHELINE == 0);
    int zero = 1;
    for (int i = 0; z && i < 10; i++) zero &= z[i] == 0.0;
    CHECK(zero);
    fm__free(z);
    fm__free(NULL);
}

/* ------------------------------------------------------------------ */
/* 2. Products against the long double reference                      */
/* ------------------------------------------------------------------ */

/* Run one call and compare every element; padding of C must survive.
 * Returns 1 if all good (failures are reported once per call). */
static int check_call(const dtype_t *dt, int ta, int tb, int64_t M,
                      int64_t N, int64_t K, const void *A, int64_t lda,
                      const void *B, int64_t ldb, const long double *S,
                      const long double *absS, const double *c0, double alpha,
                      double beta, int64_t ldc) {
    const double pad = 7.0;
    void *C = xmalloc((size_t)(M * ldc + 1) * dt->size);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++)
            dt->set(C, i * ldc + j,
                    j >= N ? pad : (beta == 0 ? NAN : c0[i * N + j]));
    const int st = dt->gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
                            ldc);
    int64_t bad = 0, first = -1;
    double worst = 0;
    for (int64_t i = 0; i < M && st == FM_OK; i++)
        for (int64_t j = 0; j < ldc; j++) {
            const double got = dt->get(C, i * ldc + j);
            int ok;
            if (j >= N) {
                ok = got == pad;
            } else {
                const double b0 = beta == 0 ? 0.0 : c0[i * N + j];
                const long double want =
                    (long double)alpha * S[i * N + j] + (long double)beta * b0;
                const long double bound = fabsl((long double)alpha) *
                                              absS[i * N + j] +
                                          fabs(beta * b0);
                const long double tol = TOL_C * (K + 4) * dt->eps * bound;
                const long double err = fabsl((long double)got - want);
                ok = err <= tol; /* false for NaN */
                if (tol > 0 && (double)(err / tol) > worst)
                    worst = (double)(err / tol);
            }
            if (!ok && bad++ == 0) first = i * ldc + j;
        }
    CHECK(st == FM_OK);
    CHECK(bad == 0);
    if (bad)
        fprintf(stderr,
                "  %s %s ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g "
                "lda=%lld ldb=%lld ldc=%lld: %lld bad, first at (%lld, %lld) "
                "= %.9g\n",
                dt->name, isa_label(), ta, tb, (long long)M, (long long)N,
                (long long)K, alpha, beta, (long long)lda, (long long)ldb,
                (long long)ldc, (long long)bad, (long long)(first / ldc),
                (long long)(first % ldc), dt->get(C, first));
    free(C);
    return bad == 0;
}

/* Every transpose form, every supported ISA, two alpha/beta variants. */
static void test_shape(const dtype_t *dt, int64_t M, int64_t N, int64_t K,
                       int idx) {
    double *opA = rnd_values(dt, M * K), *opB = rnd_values(dt, K * N);
    double *c0 = rnd_values(dt, M * N);
    long double *S = xmalloc((size_t)(M * N) * sizeof(long double));
    long double *absS = xmalloc((size_t)(M * N) * sizeof(long double));
    ref_product(M, N, K, opA, opB, S, absS);
    static const int64_t PADS[] = {0, 1, 5};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            const int form = 2 * ta + tb;
            /* NaN in the padding of A and B: reading it would show. */
            const int64_t lda = (ta ? M : K) + PADS[(idx + form) % 3];
            const int64_t ldb = (tb ? K : N) + PADS[(idx + form + 1) % 3];
            const int64_t ldc = N + PADS[(idx + form + 2) % 3];
            void *A = store(dt, opA, ta, ta ? K : M, ta ? M : K, lda, NAN);
            void *B = store(dt, opB, tb, tb ? N : K, tb ? K : N, ldb, NAN);
            for (int isa = 0; isa <= (int)fm_isa_detected(); isa++) {
                fm_isa_set((fm_isa_t)isa);
                const int v = 1 + (idx + form + isa) % (N_AB - 1);
                check_call(dt, ta, tb, M, N, K, A, lda, B, ldb, S, absS, c0,
                           ALPHAS[0], BETAS[0], ldc);
                check_call(dt, ta, tb, M, N, K, A, lda, B, ldb, S, absS, c0,
                           ALPHAS[v], BETAS[v], ldc);
            }
            free(A);
            free(B);
        }
    fm_isa_set(fm_isa_detected());
    free(opA);
    free(opB);
    free(c0);
    free(S);
    free(absS);
}

static void test_products(const dtype_t *dt) {
    const int failures0 = fm_test_failures;
    int idx = 0;
    for (int a = 0; a < N_SIZES; a++)
        for (int b = 0; b < N_SIZES; b++)
            for (int c = 0; c < N_SIZES; c++) {
                const int64_t M = SIZES[a], N = SIZES[b], K = SIZES[c];
                if (M * N * K <= MNK_LIMIT) test_shape(dt, M, N, K, idx++);
            }
    for (size_t s = 0; s < sizeof LARGE / sizeof LARGE[0]; s++)
        test_shape(dt, LARGE[s][0], LARGE[s][1], LARGE[s][2], idx++);
    /* K above every kc: several packed blocks, beta applied once. */
    test_shape(dt, 31, 65, 1000, idx++);
    test_shape(dt, 7, 17, 2049, idx++);
    /* K·N above the 4 MiB of packed B shared at once: several groups. */
    test_shape(dt, 7, 1100, 1100, idx++);
    printf("products %s: %d shapes x 4 forms x %d ISAs%s\n", dt->name, idx,
           (int)fm_isa_detected() + 1,
           fm_test_failures == failures0 ? "" : "  FAILED");
}

/* alpha == 0 reads neither A nor B (as BLAS): NaN there must not show. */
static void test_alpha_zero(const dtype_t *dt) {
    void *A = xmalloc(12 * dt->size), *B = xmalloc(12 * dt->size);
    void *C = xmalloc(9 * dt->size);
    for (int i = 0; i < 12; i++) dt->set(A, i, NAN), dt->set(B, i, NAN);
    for (int i = 0; i < 9; i++) dt->set(C, i, i);
    CHECK(dt->gemm(0, 0, 3, 3, 4, 0.0, A, 4, B, 3, 2.0, C, 3) == FM_OK);
    int ok = 1;
    for (int i = 0; i < 9; i++) ok &= dt->get(C, i) == 2.0 * i;
    CHECK(ok);
    CHECK(dt->gemm(0, 0, 3, 3, 4, 0.0, A, 4, B, 3, 0.0, C, 3) == FM_OK);
    for (int i = 0; i < 9; i++) ok &= dt->get(C, i) == 0.0;
    CHECK(ok);
    free(A);
    free(B);
    free(C);
}

/* ------------------------------------------------------------------ */
/* 3. Epilogue                                                        */
/* ------------------------------------------------------------------ */

static void test_epilogue(const dtype_t *dt) {
    /* K = 600 spans several kc blocks: the activation must see the whole
     * sum, not a partial one. */
    static const int64_t SH[][3] = {{1, 1, 1},    {7, 33, 17}, {65, 129, 31},
                                    {17, 40, 600}, {129, 257, 255},
                                    {5, 9, 0}};
    static const fm_act_t ACTS[] = {FM_ACT_IDENTITY, FM_ACT_RELU,
                                    FM_ACT_SIGMOID, FM_ACT_TANH};
    const int failures0 = fm_test_failures;
    for (size_t s = 0; s < sizeof SH / sizeof SH[0]; s++) {
        const int64_t M = SH[s][0], N = SH[s][1], K = SH[s][2];
        double *opA = rnd_values(dt, M * K), *opB = rnd_values(dt, K * N);
        double *bias = rnd_values(dt, N);
        void *b = store(dt, bias, 0, 1, N, N, 0);
        const int64_t ldc = N + 1, ldz = N + 2;
        void *P = xmalloc((size_t)(M * N + 1) * dt->size);
        void *Zx = xmalloc((size_t)(M * N + 1) * dt->size);
        void *Ax = xmalloc((size_t)(M * N + 1) * dt->size);
        void *C = xmalloc((size_t)(M * ldc + 1) * dt->size);
        void *Z = xmalloc((size_t)(M * ldz + 1) * dt->size);
        for (int form = 0; form < 4; form++) {
            const int ta = form >> 1, tb = form & 1;
            const int64_t lda = ta ? M : K, ldb = tb ? K : N;
            void *A = store(dt, opA, ta, ta ? K : M, ta ? M : K, lda, 0);
            void *B = store(dt, opB, tb, tb ? N : K, tb ? K : N, ldb, 0);
            for (int isa = 0; isa <= (int)fm_isa_detected(); isa++) {
                fm_isa_set((fm_isa_t)isa);
                CHECK(dt->gemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 0.0, P,
                               N) == FM_OK);
                for (int a = 0; a < 4; a++)
                    for (int opt = 0; opt < 4; opt++) {
                        const int with_bias = opt & 1, with_z = opt >> 1;
                        /* expected: Zx = P (+ b) in T, Ax = act(Zx) */
                        for (int64_t i = 0; i < M * N; i++)
                            dt->set(Zx, i,
                                    dt->get(P, i) +
                                        (with_bias ? bias[i % N] : 0.0));
                        CHECK(dt->act(ACTS[a], 0.0, M, N, Zx, N, Ax, N) ==
                              FM_OK);
                        for (int64_t i = 0; i < M * ldc; i++)
                            dt->set(C, i, NAN);
                        for (int64_t i = 0; i < M * ldz; i++)
                            dt->set(Z, i, NAN);
                        const fm_epilogue_t ep = {
                            .bias = with_bias ? b : NULL, .act = ACTS[a],
                            .act_param = 0.0, .Z = with_z ? Z : NULL,
                            .ldz = ldz};
                        CHECK(dt->gemm_ep(ta, tb, M, N, K, A, lda, B, ldb, C,
                                          ldc, &ep) == FM_OK);
                        /* Z is the product plus bias, bit for bit; the
                         * activation may run a different code path on a
                         * tile than on the whole matrix (vector body vs
                         * tail), hence a few ulps. */
                        int64_t bad = 0;
                        for (int64_t i = 0; i < M; i++)
                            for (int64_t j = 0; j < N; j++) {
                                const double want = dt->get(Ax, i * N + j);
                                const double got = dt->get(C, i * ldc + j);
                                if (!(fabs(got - want) <=
                                      8 * dt->eps * fabs(want)))
                                    bad++;
                                if (with_z && dt->get(Z, i * ldz + j) !=
                                                  dt->get(Zx, i * N + j))
                                    bad++;
                            }
                        /* padding untouched (still NaN) */
                        for (int64_t i = 0; i < M; i++) {
                            if (!isnan(dt->get(C, i * ldc + N))) bad++;
                            if (!isnan(dt->get(Z, i * ldz + N))) bad++;
                            if (!with_z && !isnan(dt->get(Z, i * ldz))) bad++;
                        }
                        CHECK(bad == 0);
                        if (bad)
                            fprintf(stderr,
                                    "  epilogue %s %s M=%lld N=%lld K=%lld "
                                    "ta=%d tb=%d act=%d bias=%d Z=%d: %lld "
                                    "bad\n",
                                    dt->name, isa_label(), (long long)M,
                                    (long long)N, (long long)K, ta, tb,
                                    (int)ACTS[a], with_bias, with_z,
                                    (long long)bad);
                    }
            }
            free(A);
            free(B);
        }
        fm_isa_set(fm_isa_detected());
        free(opA), free(opB), free(bias), free(b);
        free(P), free(Zx), free(Ax), free(C), free(Z);
    }
    printf("epilogue %s%s\n", dt->name,
           fm_test_failures == failures0 ? "" : "  FAILED");
}

/* ------------------------------------------------------------------ */
/* 4. Thread count does not change a bit                               */
/* ------------------------------------------------------------------ */

static void test_threads(const dtype_t *dt) {
    if (!fm_has_openmp()) {
        printf("skip threads: built without OpenMP\n");
        return;
    }
    /* Above FM_PARALLEL_MIN_FLOPS: many row blocks; few rows (threads
     * split the B panels); few columns; K over several kc blocks; packed
     * B in several groups; read in place with a transposed B copied by
     * the threads, split by columns and by rows (each copy on the heap
     * for float64, and for float32 in the first); a square one, split by
     * rows. */
    static const int64_t SH[][3] = {{255, 257, 129}, {6, 1000, 400},
                                    {1000, 5, 300},  {130, 260, 780},
                                    {6, 1100, 1100}, {80, 150, 100},
                                    {200, 64, 96},   {128, 128, 256}};
    const int nt0 = fm_get_num_threads();
    for (size_t s = 0; s < sizeof SH / sizeof SH[0]; s++) {
        const int64_t M = SH[s][0], N = SH[s][1], K = SH[s][2];
        double *opA = rnd_values(dt, M * K), *opB = rnd_values(dt, K * N);
        double *bias = rnd_values(dt, N);
        void *b = store(dt, bias, 0, 1, N, N, 0);
        void *C[3], *Z[3];
        for (int t = 0; t < 3; t++) {
            C[t] = xmalloc((size_t)(M * N) * dt->size);
            Z[t] = xmalloc((size_t)(M * N) * dt->size);
        }
        for (int form = 0; form < 4; form++) {
            const int ta = form >> 1, tb = form & 1;
            const int64_t lda = ta ? M : K, ldb = tb ? K : N;
            void *A = store(dt, opA, ta, ta ? K : M, ta ? M : K, lda, 0);
            void *B = store(dt, opB, tb, tb ? N : K, tb ? K : N, ldb, 0);
            for (int isa = 0; isa <= (int)fm_isa_detected(); isa++) {
                fm_isa_set((fm_isa_t)isa);
                for (int t = 0; t < 3; t++) {
                    fm_set_num_threads(t + 1);
                    for (int64_t i = 0; i < M * N; i++)
                        dt->set(C[t], i, 0.5);
                    CHECK(dt->gemm(ta, tb, M, N, K, -1.5, A, lda, B, ldb,
                                   0.5, C[t], N) == FM_OK);
                }
                CHECK(memcmp(C[0], C[1], (size_t)(M * N) * dt->size) == 0);
                CHECK(memcmp(C[0], C[2], (size_t)(M * N) * dt->size) == 0);
                const fm_epilogue_t ep0 = {.bias = b, .act = FM_ACT_SIGMOID};
                for (int t = 0; t < 3; t++) {
                    fm_epilogue_t ep = ep0;
                    ep.Z = Z[t];
                    ep.ldz = N;
                    fm_set_num_threads(t + 1);
                    CHECK(dt->gemm_ep(ta, tb, M, N, K, A, lda, B, ldb, C[t],
                                      N, &ep) == FM_OK);
                }
                CHECK(memcmp(C[0], C[1], (size_t)(M * N) * dt->size) == 0);
                CHECK(memcmp(C[0], C[2], (size_t)(M * N) * dt->size) == 0);
                CHECK(memcmp(Z[0], Z[1], (size_t)(M * N) * dt->size) == 0);
                CHECK(memcmp(Z[0], Z[2], (size_t)(M * N) * dt->size) == 0);
            }
            free(A);
            free(B);
        }
        fm_isa_set(fm_isa_detected());
        for (int t = 0; t < 3; t++) free(C[t]), free(Z[t]);
        free(opA), free(opB), free(bias), free(b);
    }
    fm_set_num_threads(nt0);
    printf("threads %s: 1, 2, 3 threads bitwise identical\n", dt->name);
}

/* ------------------------------------------------------------------ */
/* 5. Argument errors                                                 */
/* ------------------------------------------------------------------ */

static void test_errors(const dtype_t *dt) {
    unsigned char A[64 * 8], B[64 * 8], C[64 * 8];
    memset(C, 0, sizeof C);
    memset(A, 0, sizeof A);
    memset(B, 0, sizeof B);
    /* valid baseline: (2, 3)·(3, 4) */
    CHECK(dt->gemm(0, 0, 2, 4, 3, 1, A, 3, B, 4, 0, C, 4) == FM_OK);
    CHECK(dt->gemm(1, 1, 2, 4, 3, 1, A, 2, B, 3, 0, C, 4) == FM_OK);
    CHECK(dt->gemm(2, 0, 2, 4, 3, 1, A, 3, B, 4, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, -1, 2, 4, 3, 1, A, 3, B, 4, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 0, -1, 4, 3, 1, A, 3, B, 4, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 0, 2, -4, 3, 1, A, 3, B, 4, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 0, 2, 4, -3, 1, A, 3, B, 4, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 0, 2, 4, 3, 1, A, 2, B, 4, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(1, 0, 2, 4, 3, 1, A, 1, B, 4, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 0, 2, 4, 3, 1, A, 3, B, 3, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 1, 2, 4, 3, 1, A, 3, B, 2, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 0, 2, 4, 3, 1, A, 3, B, 4, 0, C, 3) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 0, 2, 4, 3, 1, NULL, 3, B, 4, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 0, 2, 4, 3, 1, A, 3, NULL, 4, 0, C, 4) == FM_ERR_ARG);
    CHECK(dt->gemm(0, 0, 2, 4, 3, 1, A, 3, B, 4, 0, NULL, 4) == FM_ERR_ARG);
    /* an absurd leading dimension cannot be addressed */
    CHECK(dt->gemm(0, 0, 2, 4, 3, 1, A, INT64_MAX, B, 4, 0, C, 4) ==
          FM_ERR_ARG);
    /* empty operands may be NULL */
    CHECK(dt->gemm(0, 0, 0, 4, 3, 1, NULL, 3, B, 4, 0, NULL, 4) == FM_OK);
    CHECK(dt->gemm(0, 0, 2, 4, 0, 1, NULL, 0, NULL, 4, 0, C, 4) == FM_OK);
    CHECK(dt->gemm(0, 0, 2, 0, 3, 1, A, 3, NULL, 0, 0, NULL, 0) == FM_OK);

    fm_epilogue_t ep = {.act = FM_ACT_SOFTMAX};
    CHECK(dt->gemm_ep(0, 0, 2, 4, 3, A, 3, B, 4, C, 4, &ep) == FM_ERR_ARG);
    ep.act = FM_ACT_COUNT_;
    CHECK(dt->gemm_ep(0, 0, 2, 4, 3, A, 3, B, 4, C, 4, &ep) == FM_ERR_ARG);
    ep.act = (fm_act_t)-1;
    CHECK(dt->gemm_ep(0, 0, 2, 4, 3, A, 3, B, 4, C, 4, &ep) == FM_ERR_ARG);
    ep.act = FM_ACT_LEAKY_RELU;
    ep.act_param = -1.0; /* negative slope: rejected by fm_act_forward */
    CHECK(dt->gemm_ep(0, 0, 2, 4, 3, A, 3, B, 4, C, 4, &ep) == FM_ERR_ARG);
    ep.act = FM_ACT_RELU;
    ep.Z = B;
    ep.ldz = 3; /* < N */
    CHECK(dt->gemm_ep(0, 0, 2, 4, 3, A, 3, B, 4, C, 4, &ep) == FM_ERR_ARG);
    ep.ldz = 4;
    CHECK(dt->gemm_ep(0, 0, 2, 4, 3, A, 3, B, 4, C, 4, &ep) == FM_OK);
    CHECK(dt->gemm_ep(0, 0, 2, 4, 3, A, 2, B, 4, C, 4, &ep) == FM_ERR_ARG);
    CHECK(dt->gemm_ep(0, 0, 2, 4, 3, A, 3, B, 4, C, 4, NULL) == FM_OK);
}

int main(void) {
    /* Before any other call: FASTMLP_ISA is read once, at first use. */
    setenv("FASTMLP_ISA", "Avx2", 1);
    test_dispatch();
    printf("ISA detected: %s; OpenMP: %s, %d threads\n",
           fm_isa_name(fm_isa_detected()), fm_has_openmp() ? "yes" : "no",
           fm_get_num_threads());
    for (int isa = 0; isa < FM_ISA_COUNT_; isa++)
        if (isa > (int)fm_isa_detected())
            printf("skip %s: CPU lacks it\n", fm_isa_name((fm_isa_t)isa));

    const dtype_t *dts[2] = {&DT_f32, &DT_f64};
    for (int d = 0; d < 2; d++) {
        test_products(dts[d]);
        test_alpha_zero(dts[d]);
        test_epilogue(dts[d]);
        test_threads(dts[d]);
        test_errors(dts[d]);
    }
    FM_TEST_MAIN_END();
}
