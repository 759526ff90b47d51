/*
 * test_dense.c - tests of the dense layer (dense.c): forward against a
 * naive double-precision loop on edge-tile shapes in both dtypes and for
 * several activations (softmax included), backward against the naive
 * products and against central differences in f64, the row-order bias
 * sum, and argument errors.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastmlp.h"
#include "tests/fm_test.h"

/* Per-dtype unit of error: the layer's products accumulate in T, so
 * their error grows like K·eps(T) (MATH.md); every bound below is a small
 * multiple of this unit times the size of the terms summed. */
static double eps_of(int f64) { return f64 ? DBL_EPSILON : FLT_EPSILON; }

/* xorshift64*: test data that does not depend on the library's rng. */
static uint64_t rs = 0x243F6A8885A308D3ull;
static double urand(void) { /* uniform in [-1, 1) */
    rs ^= rs >> 12, rs ^= rs << 25, rs ^= rs >> 27;
    return (double)((rs * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-52 - 1.0;
}

/* g(z) in double, as MATH.md's table writes it. */
static double ref_g(fm_act_t act, double p, double z) {
    switch (act) {
    case FM_ACT_IDENTITY: return z;
    case FM_ACT_SIGMOID: return 1 / (1 + exp(-z));
    case FM_ACT_TANH: return tanh(z);
    case FM_ACT_RELU: return z > 0 ? z : 0;
    case FM_ACT_LEAKY_RELU: return z > 0 ? z : p * z;
    case FM_ACT_ELU: return z > 0 ? z : p * expm1(z);
    case FM_ACT_GELU: return 0.5 * z * (1 + erf(z / sqrt(2.0)));
    case FM_ACT_SOFTPLUS: return log1p(exp(z));
    default: return NAN;
    }
}

/* A buffer of n values of the dtype, filled from vals (double). */
static void *to_dtype(int f64, const double *vals, int64_t n) {
    void *p = malloc((size_t)(n > 0 ? n : 1) * (f64 ? 8 : 4));
    for (int64_t i = 0; i < n; i++) {
        if (f64) ((double *)p)[i] = vals[i];
        else ((float *)p)[i] = (float)vals[i];
    }
    return p;
}
static double get(int f64, const void *p, int64_t i) {
    return f64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static int dense_fwd(int f64, void *Z, void *A, const void *X, int64_t ldx,
                     const void *W, const void *b, int64_t n, int64_t n_in,
                     int64_t n_out, fm_act_t act, double p) {
    return f64 ? fm_dense_forward_f64(Z, A, X, ldx, W, b, n, n_in, n_out, act, p)
               : fm_dense_forward_f32(Z, A, X, ldx, W, b, n, n_in, n_out, act, p);
}
static int dense_bwd(int f64, void *dW, void *db, void *dX, const void *dZ,
                     const void *X, int64_t ldx, const void *W, int64_t n,
                     int64_t n_in, int64_t n_out) {
    return f64 ? fm_dense_backward_f64(dW, db, dX, dZ, X, ldx, W, n, n_in, n_out)
               : fm_dense_backward_f32(dW, db, dX, dZ, X, ldx, W, n, n_in, n_out);
}

/* Forward of one (n, n_in) → n_out case against the naive loop:
 * Zref = Σ_k X_ik·W_kj + b_j in double from the same (rounded) inputs,
 * Aref = g(Zref).  X has row stride ldx = n_in + pad. */
static void forward_case(int f64, int64_t n, int64_t n_in, int64_t n_out,
                         fm_act_t act, double p, int64_t pad) {
    const int64_t ldx = n_in + pad;
    double *x = malloc((size_t)(n * ldx) * sizeof *x);
    double *w = malloc((size_t)(n_in * n_out) * sizeof *w);
    double *bb = malloc((size_t)n_out * sizeof *bb);
    for (int64_t i = 0; i < n * ldx; i++) x[i] = 2 * urand();
    for (int64_t i = 0; i < n_in * n_out; i++) w[i] = urand() / sqrt((double)n_in);
    for (int64_t i = 0; i < n_out; i++) bb[i] = urand();
    void *X = to_dtype(f64, x, n * ldx), *W = to_dtype(f64, w, n_in * n_out);
    void *B = to_dtype(f64, bb, n_out);
    void *Z = malloc((size_t)(n * n_out) * 8), *A = malloc((size_t)(n * n_out) * 8);
    void *A2 = malloc((size_t)(n * n_out) * 8);
    /* NaN in the outputs: the layer must write every element */
    memset(Z, 0xff, (size_t)(n * n_out) * 8);
    memset(A, 0xff, (size_t)(n * n_out) * 8);
    memset(A2, 0xff, (size_t)(n * n_out) * 8);

    CHECK(dense_fwd(f64, Z, A, X, ldx, W, B, n, n_in, n_out, act, p) == FM_OK);
    /* Z not kept: same A */
    CHECK(dense_fwd(f64, NULL, A2, X, ldx, W, B, n, n_in, n_out, act, p) == FM_OK);

    const double u = eps_of(f64);
    double *zr = malloc((size_t)n_out * sizeof *zr);
    double *tz = malloc((size_t)n_out * sizeof *tz);
    int bad = 0;
    for (int64_t i = 0; i < n && !bad; i++) {
        double tzmax = 0;
        for (int64_t j = 0; j < n_out; j++) {
            double s = get(f64, B, j), mag = fabs(s);
            for (int64_t k = 0; k < n_in; k++) {
                const double t = get(f64, X, i * ldx + k) * get(f64, W, k * n_out + j);
                s += t;
                mag += fabs(t);
            }
            zr[j] = s;
            tz[j] = 2 * (double)(n_in + 2) * u * mag; /* bound on |ΔZ| */
            if (tz[j] > tzmax) tzmax = tz[j];
        }
        double m = -INFINITY, se = 0;
        if (act == FM_ACT_SOFTMAX) {
            for (int64_t j = 0; j < n_out; j++) m = fmax(m, zr[j]);
            for (int64_t j = 0; j < n_out; j++) se += exp(zr[j] - m);
        }
        for (int64_t j = 0; j < n_out; j++) {
            const double z = get(f64, Z, i * n_out + j);
            const double a = get(f64, A, i * n_out + j);
            const double ar = act == FM_ACT_SOFTMAX ? exp(zr[j] - m) / se
                                                    : ref_g(act, p, zr[j]);
            /* |g'| <= ~1.13 for these activations; softmax moves by at
             * most 2·max|ΔZ| of its row */
            const double ta = act == FM_ACT_SOFTMAX ? 2 * tzmax + 8 * u * ar
                                                    : 1.2 * tz[j] + 8 * u * fabs(ar);
            if (!(fabs(z - zr[j]) <= tz[j]) || !(fabs(a - ar) <= ta) ||
                get(f64, A2, i * n_out + j) != a) {
                fprintf(stderr, "forward f%d n=%lld in=%lld out=%lld act=%d (%lld,%lld): "
                        "z %.17g ref %.17g, a %.17g ref %.17g\n", f64 ? 64 : 32,
                        (long long)n, (long long)n_in, (long long)n_out, (int)act,
                        (long long)i, (long long)j, z, zr[j], a, ar);
                bad = 1;
                break;
            }
        }
    }
    CHECK(!bad);
    free(x), free(w), free(bb), free(X), free(W), free(B), free(Z), free(A);
    free(A2), free(zr), free(tz);
}

static void test_forward_shapes(void) {
    static const int64_t sz[] = {1, 3, 7, 17, 33, 65};
    static const struct { fm_act_t act; double p; } acts[] = {
        {FM_ACT_IDENTITY, 0}, {FM_ACT_RELU, 0},     {FM_ACT_SIGMOID, 0},
        {FM_ACT_TANH, 0},     {FM_ACT_GELU, 0},     {FM_ACT_LEAKY_RELU, 0.1},
        {FM_ACT_ELU, 0.7},    {FM_ACT_SOFTPLUS, 0}, {FM_ACT_SOFTMAX, 0},
    };
    /* every ISA: the fused epilogue runs inside each ISA's product; 40
     * rows by 10 and 12 outputs take the column kernel, whose tile is
     * wider than AVX2's float64 panel of 8 */
    for (int isa = 0; isa <= (int)fm_isa_detected(); isa++) {
        fm_isa_set((fm_isa_t)isa);
        for (int f64 = 0; f64 <= 1; f64++)
            for (int a = 0; a < (int)(sizeof acts / sizeof acts[0]); a++) {
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++)
                        for (int k = 0; k < 6; k++)
                            /* every shape for identity, a diagonal for the
                             * rest */
                            if (a == 0 || (i + j + k) % 3 == 0)
                                forward_case(f64, sz[i], sz[j], sz[k],
                                             acts[a].act, acts[a].p,
                                             (i + k) % 2 ? 3 : 0);
                forward_case(f64, 40, 17, 10, acts[a].act, acts[a].p, 0);
                forward_case(f64, 40, 33, 12, acts[a].act, acts[a].p, 3);
            }
    }
    fm_isa_set(fm_isa_detected());
}

/* Backward products and bias sum against naive loops in both dtypes:
 * dW = Xᵀ·dZ, dX = dZ·Wᵀ within K·eps, db bitwise equal to the row-order
 * sum in T (MATH.md fixes that order). */
static void backward_naive_case(int f64, int64_t n, int64_t n_in, int64_t n_out,
                                int64_t pad) {
    const int64_t ldx = n_in + pad;
    double *x = malloc((size_t)(n * ldx) * 8), *w = malloc((size_t)(n_in * n_out) * 8);
    double *dz = malloc((size_t)(n * n_out) * 8);
    for (int64_t i = 0; i < n * ldx; i++) x[i] = urand();
    for (int64_t i = 0; i < n_in * n_out; i++) w[i] = urand();
    for (int64_t i = 0; i < n * n_out; i++) dz[i] = urand() * 1e-2;
    void *X = to_dtype(f64, x, n * ldx), *W = to_dtype(f64, w, n_in * n_out);
    void *dZ = to_dtype(f64, dz, n * n_out);
    void *dW = malloc((size_t)(n_in * n_out) * 8), *db = malloc((size_t)n_out * 8);
    void *dX = malloc((size_t)(n * n_in) * 8);
    memset(dW, 0xff, (size_t)(n_in * n_out) * 8);
    memset(db, 0xff, (size_t)n_out * 8);
    memset(dX, 0xff, (size_t)(n * n_in) * 8);
    CHECK(dense_bwd(f64, dW, db, dX, dZ, X, ldx, W, n, n_in, n_out) == FM_OK);
    const double u = eps_of(f64);
    int bad = 0;
    for (int64_t k = 0; k < n_in; k++)
        for (int64_t j = 0; j < n_out; j++) {
            double s = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) {
                const double t = get(f64, X, i * ldx + k) * get(f64, dZ, i * n_out + j);
                s += t, mag += fabs(t);
            }
            if (!(fabs(get(f64, dW, k * n_out + j) - s) <= 2 * (n + 1) * u * mag)) bad = 1;
        }
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < n_in; k++) {
            double s = 0, mag = 0;
            for (int64_t j = 0; j < n_out; j++) {
                const double t = get(f64, dZ, i * n_out + j) * get(f64, W, k * n_out + j);
                s += t, mag += fabs(t);
            }
            if (!(fabs(get(f64, dX, i * n_in + k) - s) <= 2 * (n_out + 1) * u * mag)) bad = 1;
        }
    for (int64_t j = 0; j < n_out; j++) {
        if (f64) {
            double s = 0;
            for (int64_t i = 0; i < n; i++) s += ((double *)dZ)[i * n_out + j];
            if (((double *)db)[j] != s) bad = 1;
        } else {
            float s = 0;
            for (int64_t i = 0; i < n; i++) s += ((float *)dZ)[i * n_out + j];
            if (((float *)db)[j] != s) bad = 1;
        }
    }
    if (bad)
        fprintf(stderr, "backward f%d n=%lld in=%lld out=%lld\n", f64 ? 64 : 32,
                (long long)n, (long long)n_in, (long long)n_out);
    CHECK(!bad);

    /* dX == NULL: dW, db the same, W not needed */
    void *dW2 = malloc((size_t)(n_in * n_out) * 8), *db2 = malloc((size_t)n_out * 8);
    CHECK(dense_bwd(f64, dW2, db2, NULL, dZ, X, ldx, NULL, n, n_in, n_out) == FM_OK);
    CHECK(memcmp(dW, dW2, (size_t)(n_in * n_out) * (f64 ? 8 : 4)) == 0);
    CHECK(memcmp(db, db2, (size_t)n_out * (f64 ? 8 : 4)) == 0);
    free(x), free(w), free(dz), free(X), free(W), free(dZ), free(dW), free(db);
    free(dX), free(dW2), free(db2);
}

static void test_backward_shapes(void) {
    static const int64_t sz[] = {1, 3, 7, 17, 33, 65};
    /* every ISA: db comes from its row kernel, bitwise the row-order sum;
     * 257 outputs span three of the row kernel's 128-column chunks */
    for (int isa = 0; isa <= (int)fm_isa_detected(); isa++) {
        fm_isa_set((fm_isa_t)isa);
        for (int f64 = 0; f64 <= 1; f64++) {
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++)
                    for (int k = 0; k < 6; k++)
                        if ((i + 2 * j + k) % 2 == 0)
                            backward_naive_case(f64, sz[i], sz[j], sz[k],
                                                (j % 2) * 2);
            backward_naive_case(f64, 9, 5, 257, 1);
        }
    }
    fm_isa_set(fm_isa_detected());
}

/* f(X, W, b) = Σ R ⊙ g(X·W + b) in f64 for a fixed random R. */
static double fd_objective(const double *X, const double *W, const double *b,
                           const double *R, int64_t n, int64_t n_in,
                           int64_t n_out, fm_act_t act, double p) {
    double *A = malloc((size_t)(n * n_out) * sizeof *A);
    fm_dense_forward_f64(NULL, A, X, n_in, W, b, n, n_in, n_out, act, p);
    double f = 0;
    for (int64_t i = 0; i < n * n_out; i++) f += R[i] * A[i];
    free(A);
    return f;
}

/* Central difference of f along v[i] with step h. */
static double central(double *v, int64_t i, double h, const double *X,
                      const double *W, const double *b, const double *R,
                      int64_t n, int64_t n_in, int64_t n_out, fm_act_t act,
                      double p) {
    const double v0 = v[i];
    v[i] = v0 + h;
    const double fp = fd_objective(X, W, b, R, n, n_in, n_out, act, p);
    v[i] = v0 - h;
    const double fm = fd_objective(X, W, b, R, n, n_in, n_out, act, p);
    v[i] = v0;
    return (fp - fm) / (2 * h);
}

/* dW, db, dX from backward(act_backward(R)) against central differences:
 * the layer's whole chain rule, each element, with a guard against an
 * all-zero gradient passing trivially. */
static void test_backward_fd(void) {
    static const fm_act_t acts[] = {FM_ACT_TANH, FM_ACT_SIGMOID, FM_ACT_SOFTMAX,
                                    FM_ACT_GELU, FM_ACT_IDENTITY};
    const int64_t n = 5, n_in = 4, n_out = 3;
    const double h = 1e-6;
    for (int a = 0; a < 5; a++) {
        const fm_act_t act = acts[a];
        double X[20], W[12], b[3], R[15], Z[15], A[15], dZ[15];
        double dW[12], db[3], dX[20];
        for (int i = 0; i < 20; i++) X[i] = urand();
        for (int i = 0; i < 12; i++) W[i] = urand();
        for (int i = 0; i < 3; i++) b[i] = urand();
        for (int i = 0; i < 15; i++) R[i] = urand();
        CHECK(fm_dense_forward_f64(Z, A, X, n_in, W, b, n, n_in, n_out, act, 0) == FM_OK);
        /* dZ = R ⊙ g'(Z) */
        CHECK(fm_act_backward_f64(act, 0, n, n_out, Z, A, R, dZ) == FM_OK);
        CHECK(fm_dense_backward_f64(dW, db, dX, dZ, X, n_in, W, n, n_in, n_out) == FM_OK);
        double gsum = 0;
        for (int i = 0; i < 12; i++) {
            CHECK_CLOSE(dW[i], central(W, i, h, X, W, b, R, n, n_in, n_out, act, 0), 1e-6, 1e-8);
            gsum += fabs(dW[i]);
        }
        for (int i = 0; i < 3; i++)
            CHECK_CLOSE(db[i], central(b, i, h, X, W, b, R, n, n_in, n_out, act, 0), 1e-6, 1e-8);
        for (int i = 0; i < 20; i++) {
            CHECK_CLOSE(dX[i], central(X, i, h, X, W, b, R, n, n_in, n_out, act, 0), 1e-6, 1e-8);
            gsum += fabs(dX[i]);
        }
        CHECK(gsum > 1e-2);
    }
}

static void test_errors_and_empty(void) {
    float X[6] = {0}, W[6] = {0}, b[3] = {0}, Z[6], A[6], dW[6], db[3], dX[6];
    /* negative sizes, short stride, missing arrays, bad parameter */
    CHECK(fm_dense_forward_f32(Z, A, X, 2, W, b, -1, 2, 3, FM_ACT_RELU, 0) == FM_ERR_ARG);
    CHECK(fm_dense_forward_f32(Z, A, X, 1, W, b, 2, 2, 3, FM_ACT_RELU, 0) == FM_ERR_ARG);
    CHECK(fm_dense_forward_f32(Z, NULL, X, 2, W, b, 2, 2, 3, FM_ACT_RELU, 0) == FM_ERR_ARG);
    CHECK(fm_dense_forward_f32(Z, A, X, 2, W, NULL, 2, 2, 3, FM_ACT_RELU, 0) == FM_ERR_ARG);
    CHECK(fm_dense_forward_f32(Z, A, X, 2, W, b, 2, 2, 3, FM_ACT_ELU, 0) == FM_ERR_ARG);
    CHECK(fm_dense_forward_f32(Z, A, X, 2, W, b, 2, 2, 3, FM_ACT_LEAKY_RELU, -1) == FM_ERR_ARG);
    CHECK(fm_dense_forward_f32(Z, A, X, 2, W, b, 2, 2, 3, (fm_act_t)99, 0) == FM_ERR_ARG);
    CHECK(fm_dense_backward_f32(dW, db, dX, NULL, X, 2, W, 2, 2, 3) == FM_ERR_ARG);
    CHECK(fm_dense_backward_f32(dW, db, dX, Z, X, 2, NULL, 2, 2, 3) == FM_ERR_ARG);
    CHECK(fm_dense_backward_f32(dW, db, dX, Z, X, 1, W, 2, 2, 3) == FM_ERR_ARG);
    CHECK(fm_dense_backward_f64(NULL, NULL, NULL, NULL, NULL, 2, NULL, 2, -2, 3) == FM_ERR_ARG);
    /* n == 0: nothing to compute; backward then gives zero gradients */
    CHECK(fm_dense_forward_f32(NULL, NULL, NULL, 2, W, b, 0, 2, 3, FM_ACT_TANH, 0) == FM_OK);
    for (int i = 0; i < 6; i++) dW[i] = 1;
    for (int i = 0; i < 3; i++) db[i] = 1;
    CHECK(fm_dense_backward_f32(dW, db, NULL, NULL, NULL, 2, W, 0, 2, 3) == FM_OK);
    int zero = 1;
    for (int i = 0; i < 6; i++) zero &= dW[i] == 0;
    for (int i = 0; i < 3; i++) zero &= db[i] == 0;
    CHECK(zero);
}

int main(void) {
    test_forward_shapes();
    test_backward_shapes();
    test_backward_fd();
    test_errors_and_empty();
    FM_TEST_MAIN_END();
}
