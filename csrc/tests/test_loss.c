/*
 * test_loss.c - losses: values against hand formulas, dZ against central
 * differences of the value w.r.t. Z for every loss (and squared error
 * after non-identity outputs), sample weights, saturated logits, the
 * exact float32 form of the canonical delta, pairs and errors.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastmlp.h"
#include "fm_test.h"

enum { N = 4, K = 3 };

/* A = g(Z) then the loss, in double. */
static double value_of(fm_loss_t loss, fm_act_t act, double param,
                       const double *Z, const double *Y, const double *sw,
                       double *dZ) {
    double A[N * K], v = NAN;
    fm_act_forward_f64(act, param, N, K, Z, K, A, K);
    int st = fm_loss_f64(loss, act, param, N, K, Z, A, Y, sw, &v, dZ);
    CHECK(st == FM_OK);
    return v;
}

/* dZ against central differences of value(Z).  The value is O(1) and
 * accurate to ~1e-16, so with h = 1e-6 the difference quotient carries
 * ~1e-10 of rounding and ~h² = 1e-12 of truncation: rtol 1e-6 with atol
 * 1e-9 can only pass a correct gradient.  Also asserts the gradient is
 * not trivially zero. */
static void check_grad(fm_loss_t loss, fm_act_t act, double param,
                       const double *Y, const double *sw) {
    double Z[N * K], dZ[N * K], maxabs = 0;
    const double h = 1e-6;
    for (int i = 0; i < N * K; i++) Z[i] = 1.7 * sin(1.3 * i + 0.4) + 0.05;
    value_of(loss, act, param, Z, Y, sw, dZ);
    for (int i = 0; i < N * K; i++) {
        double zi = Z[i];
        Z[i] = zi + h;
        double vp = value_of(loss, act, param, Z, Y, sw, NULL);
        Z[i] = zi - h;
        double vm = value_of(loss, act, param, Z, Y, sw, NULL);
        Z[i] = zi;
        double want = (vp - vm) / (2 * h);
        if (fabs(dZ[i] - want) > 1e-6 * fabs(want) + 1e-9)
            fprintf(stderr, "loss %d act %d sw %s i=%d: dZ %.12g fd %.12g\n",
                    loss, act, sw ? "yes" : "no", i, dZ[i], want);
        CHECK_CLOSE(dZ[i], want, 1e-6, 1e-9);
        if (fabs(dZ[i]) > maxabs) maxabs = fabs(dZ[i]);
    }
    CHECK(maxabs > 1e-3);
}

static void test_gradients(void) {
    /* targets suited to each loss: BCE in [0,1], CCE rows summing to 1
     * (the canonical delta A − Y assumes Σ_k y_k = 1), Poisson >= 0 */
    double Yreg[N * K], Ybin[N * K], Ycat[N * K], Ycnt[N * K];
    for (int i = 0; i < N * K; i++) {
        Yreg[i] = cos(0.9 * i);
        Ybin[i] = (i % 3 == 0) ? 1.0 : (i % 3 == 1) ? 0.0 : 0.3;
        Ycnt[i] = (double)(i % 4); /* includes y = 0 (xlogy) */
    }
    for (int r = 0; r < N; r++)
        for (int c = 0; c < K; c++)
            Ycat[r * K + c] = r == 3 ? (c == 0 ? 0.2 : c == 1 ? 0.5 : 0.3)
                                     : (c == r % K ? 1.0 : 0.0);
    const double sw[N] = {0.5, 2.0, 1.0, 0.25};
    for (int w = 0; w < 2; w++) {
        const double *s = w ? sw : NULL;
        check_grad(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, Yreg, s);
        /* the course's quadratic cost after a sigmoid output */
        check_grad(FM_LOSS_SQUARED, FM_ACT_SIGMOID, 0, Ybin, s);
        check_grad(FM_LOSS_SQUARED, FM_ACT_TANH, 0, Yreg, s);
        check_grad(FM_LOSS_SQUARED, FM_ACT_SOFTMAX, 0, Ycat, s);
        check_grad(FM_LOSS_SQUARED, FM_ACT_GELU, 0, Yreg, s);
        check_grad(FM_LOSS_SQUARED, FM_ACT_ELU, 1.5, Yreg, s);
        check_grad(FM_LOSS_SQUARED, FM_ACT_LEAKY_RELU, 0.1, Yreg, s);
        check_grad(FM_LOSS_SQUARED, FM_ACT_SOFTPLUS, 0, Yreg, s);
        check_grad(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, Ybin, s);
        check_grad(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SOFTMAX, 0, Ycat,
                   s);
        check_grad(FM_LOSS_POISSON, FM_ACT_EXP, 0, Ycnt, s);
    }
}

/* Values against the textbook formulas, written out by hand. */
static void test_values(void) {
    double v;
    /* squared: ℓ = ½·Σ(a−y)²: rows (1,2)-(0,2) → ½, (3,5)-(3,3) → 2 */
    {
        double A[4] = {1, 2, 3, 5}, Y[4] = {0, 2, 3, 3}, w[2] = {1, 3};
        float Af[4] = {1, 2, 3, 5}, Yf[4] = {0, 2, 3, 3}, wf[2] = {1, 3};
        CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 2, NULL, A,
                          Y, NULL, &v, NULL) == FM_OK);
        CHECK(v == 1.25); /* (½ + 2)/2 */
        CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 2, NULL, A,
                          Y, w, &v, NULL) == FM_OK);
        CHECK(v == 1.625); /* (1·½ + 3·2)/4 */
        CHECK(fm_loss_f32(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 2, NULL, Af,
                          Yf, wf, &v, NULL) == FM_OK);
        CHECK(v == 1.625);
    }
    /* BCE: −y·log σ(z) − (1−y)·log(1−σ(z)), moderate z so the naive form
     * is accurate */
    {
        double Z[4] = {0, 2, -1, 3}, Y[4] = {1, 0, 0.25, 1}, A[4];
        double want = 0;
        for (int i = 0; i < 4; i++) {
            double s = 1 / (1 + exp(-Z[i]));
            A[i] = s;
            want += -Y[i] * log(s) - (1 - Y[i]) * log(1 - s);
        }
        want /= 2; /* two rows of k = 2 */
        CHECK(fm_loss_f64(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, 2, 2,
                          Z, A, Y, NULL, &v, NULL) == FM_OK);
        CHECK_CLOSE(v, want, 1e-14, 0);
        /* z = 0, y = 1 alone: log 2 */
        CHECK(fm_loss_f64(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, 1, 1,
                          Z, A, Y, NULL, &v, NULL) == FM_OK);
        CHECK_CLOSE(v, log(2.0), 1e-15, 0);
    }
    /* CCE: −Σ y·log(softmax(z)), naive softmax */
    {
        double Z[3] = {1.6, 0.55, 0.98}, A[3], Y[3] = {0.2, 0.5, 0.3};
        double s = exp(1.6) + exp(0.55) + exp(0.98), want = 0;
        for (int j = 0; j < 3; j++) want -= Y[j] * log(exp(Z[j]) / s);
        fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 1, 3, Z, 3, A, 3);
        CHECK(fm_loss_f64(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SOFTMAX, 0,
                          1, 3, Z, A, Y, NULL, &v, NULL) == FM_OK);
        CHECK_CLOSE(v, want, 1e-14, 0);
        double onehot[3] = {1, 0, 0};
        CHECK(fm_loss_f64(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SOFTMAX, 0,
                          1, 3, Z, A, onehot, NULL, &v, NULL) == FM_OK);
        CHECK_CLOSE(v, -log(exp(1.6) / s), 1e-14, 0);
    }
    /* Poisson half deviance y·log(y/ŷ) − y + ŷ, ŷ = e^z:
     * (y=2, ŷ=3): 2·log(2/3) + 1;  (y=0, ŷ=1): 1 */
    {
        double Z[2] = {log(3.0), 0}, A[2] = {3, 1}, Y[2] = {2, 0};
        CHECK(fm_loss_f64(FM_LOSS_POISSON, FM_ACT_EXP, 0, 1, 2, Z, A, Y, NULL,
                          &v, NULL) == FM_OK);
        CHECK_CLOSE(v, 2 * log(2.0 / 3.0) + 2, 1e-15, 0);
    }
    /* the value does not depend on dZ being asked for, and f32 agrees */
    {
        double Z[N * K], A[N * K], Y[N * K], dZ[N * K], v2;
        float Zf[N * K], Af[N * K], Yf[N * K];
        for (int i = 0; i < N * K; i++) {
            Z[i] = sin(i);
            Y[i] = (i % 2) * 0.8;
            Zf[i] = (float)Z[i];
            Yf[i] = (float)Y[i];
        }
        fm_act_forward_f64(FM_ACT_SIGMOID, 0, N, K, Z, K, A, K);
        fm_act_forward_f32(FM_ACT_SIGMOID, 0, N, K, Zf, K, Af, K);
        CHECK(fm_loss_f64(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, N, K,
                          Z, A, Y, NULL, &v, NULL) == FM_OK);
        CHECK(fm_loss_f64(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, N, K,
                          Z, A, Y, NULL, &v2, dZ) == FM_OK);
        CHECK(v == v2);
        CHECK(fm_loss_f32(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, N, K,
                          Zf, Af, Yf, NULL, &v2, NULL) == FM_OK);
        CHECK_CLOSE(v2, v, 1e-6, 0);
    }
}

/* Sample weights: a common factor cancels; a zero weight removes a row. */
static void test_weights(void) {
    double Z[N * K], A[N * K], Y[N * K], v1, v2, d1[N * K], d2[N * K];
    for (int i = 0; i < N * K; i++) {
        Z[i] = 0.7 * cos(2.1 * i);
        Y[i] = (i % 3 == 1);
    }
    fm_act_forward_f64(FM_ACT_SOFTMAX, 0, N, K, Z, K, A, K);
    const double w1[N] = {1, 2, 3, 4}, w2[N] = {2, 4, 6, 8};
    CHECK(fm_loss_f64(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SOFTMAX, 0, N,
                      K, Z, A, Y, w1, &v1, d1) == FM_OK);
    CHECK(fm_loss_f64(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SOFTMAX, 0, N,
                      K, Z, A, Y, w2, &v2, d2) == FM_OK);
    CHECK_CLOSE(v2, v1, 1e-15, 0);
    for (int i = 0; i < N * K; i++) CHECK_CLOSE(d2[i], d1[i], 1e-15, 0);
    /* w = (1, 0, 1, 1) equals the unweighted loss of rows 0, 2, 3 */
    const double w3[N] = {1, 0, 1, 1};
    double Z3[3 * K], A3[3 * K], Y3[3 * K], d3[3 * K];
    const int rows[3] = {0, 2, 3};
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < K; c++) {
            Z3[r * K + c] = Z[rows[r] * K + c];
            A3[r * K + c] = A[rows[r] * K + c];
            Y3[r * K + c] = Y[rows[r] * K + c];
        }
    CHECK(fm_loss_f64(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SOFTMAX, 0, N,
                      K, Z, A, Y, w3, &v1, d1) == FM_OK);
    CHECK(fm_loss_f64(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SOFTMAX, 0, 3,
                      K, Z3, A3, Y3, NULL, &v2, d3) == FM_OK);
    CHECK_CLOSE(v1, v2, 1e-15, 0);
    for (int c = 0; c < K; c++) CHECK(d1[1 * K + c] == 0);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < K; c++)
            CHECK_CLOSE(d1[rows[r] * K + c], d3[r * K + c], 1e-15, 0);
}

/* Saturated logits: values from Z stay finite and exact. */
static void test_saturated(void) {
    double v;
    /* BCE, one row of 4: ℓ = 1e4 + 1e4 + 0 + 0 */
    double Z[4] = {1e4, -1e4, 1e4, -1e4}, Y[4] = {0, 1, 1, 0}, A[4], dZ[4];
    float Zf[4] = {1e4f, -1e4f, 1e4f, -1e4f}, Yf[4] = {0, 1, 1, 0}, Af[4],
          dZf[4];
    fm_act_forward_f64(FM_ACT_SIGMOID, 0, 1, 4, Z, 4, A, 4);
    fm_act_forward_f32(FM_ACT_SIGMOID, 0, 1, 4, Zf, 4, Af, 4);
    CHECK(fm_loss_f64(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, 1, 4, Z,
                      A, Y, NULL, &v, dZ) == FM_OK);
    CHECK(v == 2e4);
    CHECK(dZ[0] == 1 && dZ[1] == -1 && dZ[2] == 0 && dZ[3] == 0);
    CHECK(fm_loss_f32(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, 1, 4, Zf,
                      Af, Yf, NULL, &v, dZf) == FM_OK);
    CHECK(v == 2e4);
    CHECK(dZf[0] == 1 && dZf[1] == -1 && dZf[2] == 0 && dZf[3] == 0);
    /* CCE: z = (1e4, −1e4, 0), y = e₂: ℓ = −(−1e4 − 1e4 − log(1+…)) = 2e4 */
    double Zc[3] = {1e4, -1e4, 0}, Yc[3] = {0, 1, 0}, Ac[3], dZc[3];
    float Zcf[3] = {1e4f, -1e4f, 0}, Ycf[3] = {0, 1, 0}, Acf[3];
    fm_act_forward_f64(FM_ACT_SOFTMAX, 0, 1, 3, Zc, 3, Ac, 3);
    fm_act_forward_f32(FM_ACT_SOFTMAX, 0, 1, 3, Zcf, 3, Acf, 3);
    CHECK(fm_loss_f64(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SOFTMAX, 0, 1, 3,
                      Zc, Ac, Yc, NULL, &v, dZc) == FM_OK);
    CHECK(v == 2e4);
    CHECK(dZc[0] == 1 && dZc[1] == -1 && dZc[2] == 0);
    CHECK(fm_loss_f32(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SOFTMAX, 0, 1, 3,
                      Zcf, Acf, Ycf, NULL, &v, NULL) == FM_OK);
    CHECK(v == 2e4);
}

/* float32 canonical delta is (A − Y)·T(w_i/W), element for element, and
 * the non-canonical one is that dA pushed through act_backward. */
static void test_delta_f32(void) {
    float Z[N * K], A[N * K], Y[N * K], dZ[N * K], want[N * K];
    const float sw[N] = {0.3f, 1.1f, 2.0f, 0.7f};
    double v, W = 0;
    for (int i = 0; i < N; i++) W += (double)sw[i];
    for (int i = 0; i < N * K; i++) {
        Z[i] = (float)sin(0.6 * i);
        Y[i] = (float)(i % 2);
    }
    fm_act_forward_f32(FM_ACT_SIGMOID, 0, N, K, Z, K, A, K);
    CHECK(fm_loss_f32(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, N, K, Z,
                      A, Y, sw, &v, dZ) == FM_OK);
    for (int r = 0; r < N; r++)
        for (int c = 0; c < K; c++)
            want[r * K + c] =
                (A[r * K + c] - Y[r * K + c]) * (float)((double)sw[r] / W);
    CHECK(memcmp(dZ, want, sizeof dZ) == 0);
    /* many rows of varied weights, k = 1, so that c_i = T(w_i/W) is told
     * apart from T(w_i)/T(W) (they differ in the last bit for some i) */
    {
        enum { M = 256 };
        float z1[M], a1[M], y1[M], w1[M], d1[M];
        double W1 = 0;
        for (int i = 0; i < M; i++) {
            z1[i] = (float)sin(0.3 * i);
            y1[i] = (float)(i % 2);
            w1[i] = (float)(0.1 + fabs(cos(1.7 * i)) * 3);
            W1 += (double)w1[i];
        }
        fm_act_forward_f32(FM_ACT_IDENTITY, 0, M, 1, z1, 1, a1, 1);
        CHECK(fm_loss_f32(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, M, 1, z1, a1,
                          y1, w1, &v, d1) == FM_OK);
        int bad = 0;
        for (int i = 0; i < M; i++)
            bad += d1[i] != (a1[i] - y1[i]) * (float)((double)w1[i] / W1);
        CHECK(bad == 0);
    }
    /* unweighted: c = T(1/n) */
    CHECK(fm_loss_f32(FM_LOSS_SQUARED, FM_ACT_SIGMOID, 0, N, K, Z, A, Y, NULL,
                      &v, dZ) == FM_OK);
    for (int i = 0; i < N * K; i++)
        want[i] = (A[i] - Y[i]) * (float)(1.0 / N);
    fm_act_backward_f32(FM_ACT_SIGMOID, 0, N, K, NULL, A, want, want);
    CHECK(memcmp(dZ, want, sizeof dZ) == 0);
}

static void test_errors(void) {
    double Z[4] = {0.1, 0.2, 0.3, 0.4}, A[4] = {0.5, 0.5, 0.5, 0.5};
    double Y[4] = {0, 1, 0, 1}, dZ[4], v;
    const double zero_w[2] = {0, 0}, neg_w[2] = {1, -2}, nan_w[2] = {1, NAN};
    /* pairs */
    CHECK(fm_loss_check_pair(FM_LOSS_SQUARED, FM_ACT_STEP) == FM_OK);
    CHECK(fm_loss_check_pair(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID) ==
          FM_OK);
    CHECK(fm_loss_check_pair(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_IDENTITY) ==
          FM_ERR_LOSS_PAIR);
    CHECK(fm_loss_check_pair(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SOFTMAX) ==
          FM_ERR_LOSS_PAIR);
    CHECK(fm_loss_check_pair(FM_LOSS_CATEGORICAL_CROSSENTROPY,
                             FM_ACT_SIGMOID) == FM_ERR_LOSS_PAIR);
    CHECK(fm_loss_check_pair(FM_LOSS_POISSON, FM_ACT_RELU) == FM_ERR_LOSS_PAIR);
    CHECK(fm_loss_check_pair(FM_LOSS_COUNT_, FM_ACT_IDENTITY) == FM_ERR_ARG);
    CHECK(fm_loss_check_pair(FM_LOSS_SQUARED, FM_ACT_COUNT_) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_CATEGORICAL_CROSSENTROPY, FM_ACT_SIGMOID, 0, 2, 2,
                      Z, A, Y, NULL, &v, dZ) == FM_ERR_LOSS_PAIR);
    CHECK(fm_loss_f32(FM_LOSS_POISSON, FM_ACT_IDENTITY, 0, 1, 1, NULL, NULL,
                      NULL, NULL, NULL, NULL) == FM_ERR_LOSS_PAIR);
    /* sizes and weights */
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 0, 2, Z, A, Y, NULL,
                      &v, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 0, Z, A, Y, NULL,
                      &v, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, -1, 2, Z, A, Y,
                      NULL, &v, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 2, Z, A, Y,
                      zero_w, &v, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 2, Z, A, Y, neg_w,
                      &v, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 2, Z, A, Y, nan_w,
                      &v, dZ) == FM_ERR_ARG);
    /* pointers: value, A, Y always; Z for the logit losses and for a
     * gradient through gelu */
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 2, Z, A, Y, NULL,
                      NULL, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 2, Z, NULL, Y,
                      NULL, &v, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_BINARY_CROSSENTROPY, FM_ACT_SIGMOID, 0, 2, 2,
                      NULL, A, Y, NULL, &v, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, 2, 2, NULL, A, Y,
                      NULL, &v, dZ) == FM_OK);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_GELU, 0, 2, 2, NULL, A, Y, NULL,
                      &v, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_GELU, 0, 2, 2, NULL, A, Y, NULL,
                      &v, NULL) == FM_OK);
    /* no gradient through step/sign; the value alone is fine */
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_STEP, 0, 2, 2, Z, A, Y, NULL, &v,
                      dZ) == FM_ERR_NODERIV);
    CHECK(fm_loss_f32(FM_LOSS_SQUARED, FM_ACT_SIGN, 0, 1, 1, NULL, NULL, NULL,
                      NULL, NULL, NULL) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_SIGN, 0, 2, 2, Z, A, Y, NULL, &v,
                      NULL) == FM_OK);
    /* a bad activation parameter matters only when dZ goes through it */
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_LEAKY_RELU, -1, 2, 2, Z, A, Y,
                      NULL, &v, dZ) == FM_ERR_ARG);
    CHECK(fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_LEAKY_RELU, -1, 2, 2, Z, A, Y,
                      NULL, &v, NULL) == FM_OK);
}

/* Categorical cross-entropy's value, whose log-sum-exp takes fastmlp's
 * vectorised exp, against its formula with libm's exp, on every ISA the
 * CPU has: logits of a few units, and some of ±700 (terms that
 * underflow), soft labels, 7 and 1,500 classes (the second past the
 * 1,024 exponentials taken at once: a row in pieces).  Within 1e-14 relative: exp is within 1 ulp of libm's, the rest is
 * the same operations in the same order. */
static void test_cce_value_every_isa(void) {
    enum { R = 5, C = 1500 };
    static double Z[R * C], Y[R * C], A[R * C];
    for (int i = 0; i < R * C; i++) {
        Z[i] = (i % 50 == 0 ? 700.0 : 3.0) * sin(0.77 * i);
        Y[i] = 0.5 + 0.5 * cos(1.9 * i);
    }
    const fm_isa_t before = fm_isa_active();
    for (int isa = 0; isa <= (int)fm_isa_detected(); isa++) {
        CHECK(fm_isa_set((fm_isa_t)isa) == FM_OK);
        for (int k = 7; k <= C; k += C - 7) {
            double want = 0;
            for (int r = 0; r < R; r++) {
                const double *z = Z + r * k, *y = Y + r * k;
                double m = z[0], s = 0, l = 0;
                for (int j = 1; j < k; j++) m = z[j] > m ? z[j] : m;
                for (int j = 0; j < k; j++) s += exp(z[j] - m);
                for (int j = 0; j < k; j++) l += y[j] * ((z[j] - m) - log(s));
                want += -l;
            }
            want /= R;
            double v = NAN;
            fm_act_forward_f64(FM_ACT_SOFTMAX, 0, R, k, Z, k, A, k);
            CHECK(fm_loss_f64(FM_LOSS_CATEGORICAL_CROSSENTROPY,
                              FM_ACT_SOFTMAX, 0, R, k, Z, A, Y, NULL, &v,
                              NULL) == FM_OK);
            CHECK_CLOSE(v, want, 1e-14, 0);
        }
    }
    fm_isa_set(before);
}

int main(void) {
    test_cce_value_every_isa();
    test_values();
    test_gradients();
    test_weights();
    test_saturated();
    test_delta_f32();
    test_errors();
    FM_TEST_MAIN_END();
}
