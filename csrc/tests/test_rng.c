/*
 * test_rng.c - the counter-based generator against an independent,
 * sequential splitmix64 and its published outputs; uniform and normal
 * laws; every initialiser's law; dropout's keep rate, scale and
 * reproducibility; errors.
 *
 * Statistical checks use 4 standard errors: a correct generator fails one
 * with probability ~6e-5, and the draws are fixed (counter-based), so a
 * passing test passes forever.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastmlp.h"
#include "fm_test.h"

/* splitmix64 as a stream: the state advances by γ, each output is the
 * finaliser of the new state.  Output c of the stream seeded with key is
 * what fm_rng_u64(key, c) must return. */
typedef struct {
    uint64_t state;
} splitmix_t;

static uint64_t splitmix_next(splitmix_t *s) {
    s->state += 0x9E3779B97F4A7C15u;
    uint64_t z = s->state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static void test_u64(void) {
    /* published outputs of splitmix64: seed 0 and seed 1234567 */
    CHECK(fm_rng_u64(0, 0) == 0xE220A8397B1DCDAFu);
    CHECK(fm_rng_u64(0, 1) == 0x6E789E6AA1B965F4u);
    CHECK(fm_rng_u64(0, 2) == 0x06C45D188009454Fu);
    CHECK(fm_rng_u64(1234567, 0) == 6457827717110365317u);
    CHECK(fm_rng_u64(1234567, 1) == 3203168211198807973u);
    CHECK(fm_rng_u64(1234567, 2) == 9817491932198370423u);
    CHECK(fm_rng_u64(1234567, 3) == 4593380528125082431u);
    CHECK(fm_rng_u64(1234567, 4) == 16408922859458223821u);
    /* the sequential stream, for assorted keys (incl. wrap-around) */
    const uint64_t keys[] = {0, 1, 42, 1234567, 0xDEADBEEFCAFEF00Du,
                             UINT64_MAX};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        splitmix_t s = {keys[k]};
        int bad = 0;
        for (uint64_t c = 0; c < 1000; c++)
            bad += splitmix_next(&s) != fm_rng_u64(keys[k], c);
        CHECK(bad == 0);
    }
    /* keys are draws of the seed's stream */
    CHECK(fm_rng_key(7, FM_STREAM_INIT) == fm_rng_u64(7, 1));
    CHECK(fm_rng_key(7, FM_STREAM_DROPOUT) == fm_rng_u64(7, 3));
    CHECK(fm_rng_key(7, 1) != fm_rng_key(7, 2));
    CHECK(fm_rng_key(7, 1) != fm_rng_key(8, 1));
}

static void test_uniform_normal(void) {
    enum { N = 100000 };
    const uint64_t key = fm_rng_key(2024, 9);
    double sum = 0, sum2 = 0, lo = 1, hi = 0;
    int bad = 0;
    for (uint64_t c = 0; c < N; c++) {
        double u = fm_rng_uniform(key, c);
        bad += u != (double)(fm_rng_u64(key, c) >> 11) * 0x1.0p-53;
        bad += !(u >= 0 && u < 1);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += u;
        sum2 += u * u;
    }
    CHECK(bad == 0);
    double mean = sum / N, var = sum2 / N - mean * mean;
    CHECK(fabs(mean - 0.5) < 4 * sqrt(1.0 / 12 / N));
    /* Var(U²)-based SE of the variance: √((1/5 − 1/9)/N) */
    CHECK(fabs(var - 1.0 / 12) < 4 * sqrt((1.0 / 5 - 1.0 / 9) / N));
    CHECK(lo < 1e-3 && hi > 1 - 1e-3);

    /* normal: the Box–Muller formula on counters 2c, 2c+1; moments */
    sum = sum2 = 0;
    double sum4 = 0;
    int inside = 0;
    bad = 0;
    for (uint64_t c = 0; c < N; c++) {
        double x = fm_rng_normal(key, c);
        double u1 = fm_rng_uniform(key, 2 * c);
        double u2 = fm_rng_uniform(key, 2 * c + 1);
        bad += x != sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
        bad += !isfinite(x);
        sum += x;
        sum2 += x * x;
        sum4 += x * x * x * x;
        inside += fabs(x) < 1;
    }
    CHECK(bad == 0);
    mean = sum / N;
    var = sum2 / N - mean * mean;
    CHECK(fabs(mean) < 4 * sqrt(1.0 / N));
    CHECK(fabs(var - 1) < 4 * sqrt(2.0 / N));  /* SE of s² is √(2/N) */
    CHECK(fabs(sum4 / N - 3) < 4 * sqrt(96.0 / N)); /* E x⁴ = 3, Var 96 */
    double p1 = 0.6826894921370859; /* P(|X| < 1) */
    CHECK(fabs((double)inside / N - p1) < 4 * sqrt(p1 * (1 - p1) / N));
}

/* Sample mean and std of n values. */
static void moments(const double *x, int64_t n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (int64_t i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
    *sd = sqrt(s2 / n);
}

static void test_init(void) {
    enum { FI = 200, FO = 300, NW = FI * FO };
    double *W = malloc(NW * sizeof *W), *W2 = malloc(NW * sizeof *W2);
    float *Wf = malloc(NW * sizeof *Wf);
    double b[FO], bb[FO];
    float bf[FO];
    const uint64_t key = fm_rng_key(11, FM_STREAM_INIT + 0);
    const struct {
        fm_init_t init;
        int normal;
        double scale; /* std or bound, by hand */
    } laws[] = {
        {FM_INIT_LECUN_NORMAL, 1, 0.070710678118654752},   /* √(1/200) */
        {FM_INIT_LECUN_UNIFORM, 0, 0.12247448713915890},   /* √(3/200) */
        {FM_INIT_GLOROT_NORMAL, 1, 0.063245553203367587},  /* √(2/500) */
        {FM_INIT_GLOROT_UNIFORM, 0, 0.10954451150103322},  /* √(6/500) */
        {FM_INIT_HE_NORMAL, 1, 0.1},                       /* √(2/200) */
        {FM_INIT_HE_UNIFORM, 0, 0.17320508075688773},      /* √(6/200) */
        {FM_INIT_SKLEARN, 0, 0.10954451150103322},         /* √(6/500) */
    };
    for (size_t k = 0; k < sizeof laws / sizeof laws[0]; k++) {
        const double sc = laws[k].scale;
        CHECK(fm_init_layer_f64(laws[k].init, key, FI, FO, 0, W, b) == FM_OK);
        CHECK(fm_init_layer_f32(laws[k].init, key, FI, FO, 0, Wf, bf) ==
              FM_OK);
        double mean, sd;
        moments(W, NW, &mean, &sd);
        if (laws[k].normal) {
            /* SE of the mean σ/√N, of the sample std ≈ σ/√(2N) */
            CHECK(fabs(mean) < 4 * sc / sqrt(NW));
            CHECK(fabs(sd - sc) < 4 * sc / sqrt(2.0 * NW));
            /* W_j = std·normal(key, j); the hand std may differ by an ulp */
            CHECK_CLOSE(W[12345], sc * fm_rng_normal(key, 12345),
                        2 * DBL_EPSILON, 0);
        } else {
            /* U(±b): std b/√3, within [−b, b], extremes reached */
            double lo = 0, hi = 0;
            for (int i = 0; i < NW; i++) {
                lo = W[i] < lo ? W[i] : lo;
                hi = W[i] > hi ? W[i] : hi;
            }
            CHECK(lo >= -sc && hi <= sc);
            CHECK(lo < -0.999 * sc && hi > 0.999 * sc);
            CHECK(fabs(mean) < 4 * (sc / sqrt(3.0)) / sqrt(NW));
            /* SE of s² for U(±b): b²·√((1/5 − 1/9)/N) */
            CHECK(fabs(sd * sd - sc * sc / 3) <
                  4 * sc * sc * sqrt((1.0 / 5 - 1.0 / 9) / NW));
            double want = sc * (2.0 * fm_rng_uniform(key, 777) - 1.0);
            CHECK_CLOSE(W[777], want, 2 * DBL_EPSILON, 0);
        }
        /* float is T(the same double): W_f32 = float(W_f64) exactly */
        int bad = 0;
        for (int i = 0; i < NW; i++) bad += Wf[i] != (float)W[i];
        CHECK(bad == 0);
        /* biases: zero except for scikit-learn's, drawn after the weights */
        int nonzero = 0;
        for (int j = 0; j < FO; j++) nonzero += b[j] != 0;
        if (laws[k].init == FM_INIT_SKLEARN) {
            CHECK(nonzero == FO);
            for (int j = 0; j < FO; j++) CHECK(fabs(b[j]) <= sc);
            CHECK_CLOSE(b[5], sc * (2.0 * fm_rng_uniform(key, NW + 5) - 1.0),
                        2 * DBL_EPSILON, 0);
        } else {
            CHECK(nonzero == 0);
        }
        /* same key, same layer; another key, another layer */
        CHECK(fm_init_layer_f64(laws[k].init, key, FI, FO, 0, W2, bb) == FM_OK);
        CHECK(memcmp(W, W2, NW * sizeof *W) == 0);
        CHECK(fm_init_layer_f64(laws[k].init, key + 1, FI, FO, 0, W2, bb) ==
              FM_OK);
        CHECK(W2[0] != W[0] && W2[1] != W[1]);
    }
    /* scikit-learn's gain for a sigmoid network: f = 2, bound √(2/500) */
    CHECK(fm_init_layer_f64(FM_INIT_SKLEARN, key, FI, FO, 1, W2, bb) == FM_OK);
    CHECK(fm_init_layer_f64(FM_INIT_SKLEARN, key, FI, FO, 0, W, b) == FM_OK);
    CHECK_CLOSE(W2[100] / W[100], sqrt(2.0 / 6.0), 1e-15, 0);
    CHECK_CLOSE(bb[7] / b[7], sqrt(2.0 / 6.0), 1e-15, 0);

    /* errors */
    CHECK(fm_init_layer_f64(FM_INIT_COUNT_, key, 2, 2, 0, W, b) == FM_ERR_ARG);
    CHECK(fm_init_layer_f64((fm_init_t)-1, key, 2, 2, 0, W, b) == FM_ERR_ARG);
    CHECK(fm_init_layer_f64(FM_INIT_HE_NORMAL, key, -2, 2, 0, W, b) ==
          FM_ERR_ARG);
    CHECK(fm_init_layer_f64(FM_INIT_HE_NORMAL, key, 2, -2, 0, W, b) ==
          FM_ERR_ARG);
    CHECK(fm_init_layer_f64(FM_INIT_HE_NORMAL, key, 2, 2, 0, NULL, b) ==
          FM_ERR_ARG);
    CHECK(fm_init_layer_f32(FM_INIT_HE_NORMAL, key, 2, 2, 0, Wf, NULL) ==
          FM_ERR_ARG);
    CHECK(fm_init_layer_f64(FM_INIT_HE_NORMAL, key, INT64_MAX, 2, 0, W, b) ==
          FM_ERR_ARG);
    CHECK(fm_init_layer_f64(FM_INIT_HE_NORMAL, key, 0, 0, 0, NULL, NULL) ==
          FM_OK);
    free(W);
    free(W2);
    free(Wf);
}

static void test_dropout(void) {
    enum { R = 250, C = 400, N = R * C };
    const double p = 0.3;
    const uint64_t key = fm_rng_key(5, FM_STREAM_DROPOUT), c0 = 1ull << 32;
    double *A = malloc(N * sizeof *A), *M = malloc(N * sizeof *M);
    double *A2 = malloc(N * sizeof *A2), *M2 = malloc(N * sizeof *M2);
    float *Af = malloc(N * sizeof *Af), *Mf = malloc(N * sizeof *Mf);
    for (int i = 0; i < N; i++) A[i] = 1.0, A2[i] = 2.0, Af[i] = 1.0f;
    CHECK(fm_dropout_forward_f64(p, key, c0, R, C, A, M) == FM_OK);
    CHECK(fm_dropout_forward_f32(p, key, c0, R, C, Af, Mf) == FM_OK);
    const double scale = 1.0 / 0.7;
    int kept = 0, bad = 0;
    double sum = 0;
    for (int e = 0; e < N; e++) {
        int keep = fm_rng_uniform(key, c0 + (uint64_t)e) >= p;
        kept += keep;
        bad += M[e] != (keep ? scale : 0.0); /* kept ⇔ uniform >= p */
        bad += A[e] != M[e];                 /* A was 1 */
        bad += Mf[e] != (keep ? (float)scale : 0.0f) || Af[e] != Mf[e];
        sum += A[e];
    }
    CHECK(bad == 0);
    /* keep rate 1 − p, and E[A] preserved (inverted dropout) */
    CHECK(fabs((double)kept / N - 0.7) < 4 * sqrt(p * (1 - p) / N));
    CHECK(fabs(sum / N - 1.0) < 4 * sqrt(p / (1 - p) / N));
    /* same key and counter: same mask; the values are scaled, not set */
    CHECK(fm_dropout_forward_f64(p, key, c0, R, C, A2, M2) == FM_OK);
    CHECK(memcmp(M, M2, N * sizeof *M) == 0);
    bad = 0;
    for (int e = 0; e < N; e++) bad += A2[e] != 2.0 * M[e];
    CHECK(bad == 0);
    /* another counter range: another mask */
    CHECK(fm_dropout_forward_f64(p, key, c0 + N, R, C, A2, M2) == FM_OK);
    CHECK(memcmp(M, M2, N * sizeof *M) != 0);
    /* p = 0 keeps everything, factor exactly 1; mask may be NULL */
    for (int i = 0; i < 10; i++) A[i] = i - 4.5;
    CHECK(fm_dropout_forward_f64(0.0, key, 0, 2, 5, A, M) == FM_OK);
    for (int i = 0; i < 10; i++) CHECK(M[i] == 1.0 && A[i] == i - 4.5);
    CHECK(fm_dropout_forward_f64(0.5, key, 0, 2, 5, A, NULL) == FM_OK);
    /* errors */
    CHECK(fm_dropout_forward_f64(1.0, key, 0, 2, 5, A, M) == FM_ERR_ARG);
    CHECK(fm_dropout_forward_f64(-0.1, key, 0, 2, 5, A, M) == FM_ERR_ARG);
    CHECK(fm_dropout_forward_f32(NAN, key, 0, 2, 5, Af, Mf) == FM_ERR_ARG);
    CHECK(fm_dropout_forward_f64(0.5, key, 0, -2, 5, A, M) == FM_ERR_ARG);
    CHECK(fm_dropout_forward_f64(0.5, key, 0, 2, 5, NULL, M) == FM_ERR_ARG);
    CHECK(fm_dropout_forward_f64(0.5, key, 0, 0, 5, NULL, NULL) == FM_OK);
    free(A);
    free(M);
    free(A2);
    free(M2);
    free(Af);
    free(Mf);
}

int main(void) {
    test_u64();
    test_uniform_normal();
    test_init();
    test_dropout();
    FM_TEST_MAIN_END();
}
