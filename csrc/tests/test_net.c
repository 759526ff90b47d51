/*
 * test_net.c - tests of the network object (net.c), grouped by what they
 * prove: the whole network's gradient against central differences in f64
 * (several activation/loss pairs, sample weights, penalties, dropout);
 * learning (XOR); the epoch against hand-run steps (permutation, batches,
 * statistics); reproducibility by seed; failures that must leave the
 * parameters bitwise unchanged (non-finite loss, flat activation);
 * should_stop; absurd sizes; evaluate and predict against one
 * unchunked pass; layout, accessors and argument errors.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastmlp.h"
#include "tests/fm_test.h"

/* xorshift64*: test data independent of the library's rng. */
static uint64_t rs = 0x13198A2E03707344ull;
static double urand(void) { /* uniform in [-1, 1) */
    rs ^= rs >> 12, rs ^= rs << 25, rs ^= rs >> 27;
    return (double)((rs * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-52 - 1.0;
}

static fm_layer_t layer(int64_t units, fm_act_t act, double dropout) {
    fm_layer_t l = {units, act, 0.0, FM_INIT_GLOROT_UNIFORM, dropout};
    return l;
}

static fm_net_t *make_net(fm_dtype_t dt, int64_t n_in, int L,
                          const fm_layer_t *layers, uint64_t seed) {
    int st = -1;
    fm_net_t *net = fm_net_create(dt, n_in, L, layers, &st);
    CHECK(net != NULL && st == FM_OK);
    if (net != NULL) CHECK(fm_net_init(net, seed) == FM_OK);
    return net;
}

/* Plain SGD with lr = 1: one step moves the parameters by −gradient. */
static fm_train_cfg_t sgd1_cfg(fm_loss_t loss) {
    fm_train_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.loss = loss;
    fm_optim_defaults(FM_OPT_SGD, &cfg.opt);
    cfg.opt.lr = 1.0;
    cfg.opt.momentum = 0;
    cfg.batch_size = 1 << 20;
    return cfg;
}

static size_t psize(const fm_net_t *net) {
    return (size_t)fm_net_n_params(net) *
           (fm_net_dtype(net) == FM_F32 ? sizeof(float) : sizeof(double));
}
static void *copy_params(fm_net_t *net) {
    void *p = malloc(psize(net));
    memcpy(p, fm_net_params(net), psize(net));
    return p;
}

/* The raw gradient (plus penalty) of an f64 net: one SGD(lr = 1) step,
 * g = p_before − p_after, then the parameters and t are put back. */
static int net_gradient(fm_net_t *net, const fm_train_cfg_t *cfg, int64_t n,
                        const void *X, const void *Y, const void *sw,
                        double *g, fm_epoch_stats_t *stats) {
    const int64_t np = fm_net_n_params(net), t = fm_net_step_count(net);
    double *p = fm_net_params(net), *p0 = copy_params(net);
    int st = fm_net_train_step(net, cfg, n, X, Y, sw, stats);
    for (int64_t i = 0; i < np; i++) g[i] = p0[i] - p[i];
    memcpy(p, p0, psize(net));
    fm_net_set_step_count(net, t);
    free(p0);
    return st;
}

/* Data loss + penalty of the net on (X, Y, sw), from evaluate. */
static double objective(const fm_net_t *net, const fm_train_cfg_t *cfg,
                        int64_t n, const void *X, const void *Y,
                        const void *sw) {
    double loss = NAN, pen = NAN;
    CHECK(fm_net_evaluate(net, cfg, n, X, Y, sw, &loss, &pen) == FM_OK);
    return loss + pen;
}

/* Every parameter's gradient against a central difference of the
 * objective; guards against a trivially zero gradient per layer. */
static void check_gradient_fd(fm_net_t *net, const fm_train_cfg_t *cfg,
                              int64_t n, const double *X, const double *Y,
                              const double *sw, const char *name) {
    const int64_t np = fm_net_n_params(net);
    double *g = malloc((size_t)np * sizeof *g), *p = fm_net_params(net);
    const int L = fm_net_n_layers(net);
    double gw[8], gb[8];
    fm_epoch_stats_t stats = {0, 0, 0, 0, gw, gb};
    CHECK(net_gradient(net, cfg, n, X, Y, sw, g, &stats) == FM_OK);
    CHECK(stats.n_batches == 1);
    const double h = 1e-6;
    int bad = 0;
    for (int64_t i = 0; i < np; i++) {
        const double p0 = p[i];
        p[i] = p0 + h;
        const double fp = objective(net, cfg, n, X, Y, sw);
        p[i] = p0 - h;
        const double fm = objective(net, cfg, n, X, Y, sw);
        p[i] = p0;
        const double fd = (fp - fm) / (2 * h);
        if (!(fabs(g[i] - fd) <= 1e-8 + 1e-5 * fabs(fd))) {
            fprintf(stderr, "%s: param %lld grad %.12g fd %.12g\n", name,
                    (long long)i, g[i], fd);
            bad = 1;
        }
    }
    CHECK(!bad);
    /* each layer's dW and db non-trivial, and the step's statistics are
     * mean|dW_l|, mean|db_l| of the raw gradient (no penalty here) */
    for (int l = 0; l < L; l++) {
        const int64_t wo = fm_net_weight_offset(net, l), bo = fm_net_bias_offset(net, l);
        const int64_t units = fm_net_layer(net, l)->units, nw = bo - wo;
        double sw_ = 0, sb = 0;
        for (int64_t i = 0; i < nw; i++) sw_ += fabs(g[wo + i]);
        for (int64_t i = 0; i < units; i++) sb += fabs(g[bo + i]);
        CHECK(sw_ > 1e-4 && sb > 1e-5);
        if (cfg->l2 == 0 && cfg->l1 == 0) {
            CHECK_CLOSE(gw[l], sw_ / (double)nw, 1e-9, 0);
            CHECK_CLOSE(gb[l], sb / (double)units, 1e-9, 0);
        }
    }
    free(g);
}

static void fill(double *v, int64_t n, double scale) {
    for (int64_t i = 0; i < n; i++) v[i] = scale * urand();
}

/* Targets fitting the loss: one-hot rows (CCE), 0/1 (BCE), values. */
static void targets(fm_loss_t loss, double *Y, int64_t n, int64_t k) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) {
            double y = urand();
            if (loss == FM_LOSS_CATEGORICAL_CROSSENTROPY) y = j == i % k;
            if (loss == FM_LOSS_BINARY_CROSSENTROPY) y = y > 0;
            Y[i * k + j] = y;
        }
}

static void test_gradient_fd(void) {
    static const struct {
        fm_act_t h1, h2, out;
        fm_loss_t loss;
        int weighted;
        double l2, l1;
    } cases[] = {
        {FM_ACT_TANH, FM_ACT_SIGMOID, FM_ACT_SOFTMAX, FM_LOSS_CATEGORICAL_CROSSENTROPY, 1, 0, 0},
        {FM_ACT_TANH, FM_ACT_SIGMOID, FM_ACT_SOFTMAX, FM_LOSS_CATEGORICAL_CROSSENTROPY, 1, 0.3, 0.05},
        {FM_ACT_SIGMOID, FM_ACT_TANH, FM_ACT_IDENTITY, FM_LOSS_SQUARED, 1, 0, 0},
        {FM_ACT_TANH, FM_ACT_GELU, FM_ACT_SIGMOID, FM_LOSS_SQUARED, 0, 0, 0},
        {FM_ACT_SIGMOID, FM_ACT_TANH, FM_ACT_SIGMOID, FM_LOSS_BINARY_CROSSENTROPY, 1, 0, 0},
        {FM_ACT_TANH, FM_ACT_SOFTPLUS, FM_ACT_TANH, FM_LOSS_SQUARED, 1, 0.1, 0},
    };
    const int64_t n = 7, n_in = 3, k = 2;
    for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
        fm_layer_t ls[3] = {layer(5, cases[c].h1, 0), layer(4, cases[c].h2, 0),
                            layer(k, cases[c].out, 0)};
        fm_net_t *net = make_net(FM_F64, n_in, 3, ls, 100 + (uint64_t)c);
        if (net == NULL) continue;
        double X[21], Y[14], sw[7];
        fill(X, n * n_in, 1.5);
        targets(cases[c].loss, Y, n, k);
        for (int i = 0; i < n; i++) sw[i] = 0.6 + 0.5 * urand();
        fm_train_cfg_t cfg = sgd1_cfg(cases[c].loss);
        cfg.l2 = cases[c].l2;
        cfg.l1 = cases[c].l1;
        char name[32];
        snprintf(name, sizeof name, "gradient case %d", c);
        check_gradient_fd(net, &cfg, n, X, Y, cases[c].weighted ? sw : NULL, name);

        if (c == 0) {
            /* the f32 network on the same (rounded) parameters agrees with
             * the f64 gradient to f32 accuracy */
            const int64_t np = fm_net_n_params(net);
            fm_net_t *n32 = make_net(FM_F32, n_in, 3, ls, 1);
            float *p32 = fm_net_params(n32);
            const double *p64 = fm_net_params(net);
            for (int64_t i = 0; i < np; i++) p32[i] = (float)p64[i];
            for (int64_t i = 0; i < np; i++) ((double *)fm_net_params(net))[i] = p32[i];
            float X32[21], Y32[14], sw32[7];
            for (int i = 0; i < 21; i++) X[i] = X32[i] = (float)X[i];
            for (int i = 0; i < 14; i++) Y32[i] = (float)Y[i];
            for (int i = 0; i < 7; i++) sw[i] = sw32[i] = (float)sw[i];
            double *g64 = malloc((size_t)np * sizeof *g64);
            float *before = copy_params(n32);
            CHECK(net_gradient(net, &cfg, n, X, Y, sw, g64, NULL) == FM_OK);
            CHECK(fm_net_train_step(n32, &cfg, n, X32, Y32, sw32, NULL) == FM_OK);
            int bad = 0;
            for (int64_t i = 0; i < np; i++) {
                const double g32 = (double)before[i] - (double)p32[i];
                if (!(fabs(g32 - g64[i]) <= 1e-5 + 1e-3 * fabs(g64[i]))) bad = 1;
            }
            CHECK(!bad);
            free(g64), free(before);
            fm_net_free(n32);
        }
        fm_net_free(net);
    }
}

/* Dropout: the step's gradient is that of the network whose hidden output
 * is multiplied by the mask MATH.md defines (key(seed, 3), counter0 =
 * ((t+1)·L + l)·2³²), rebuilt here from the public rng and dense layer. */
static double dropout_objective(const fm_net_t *net, const double *mask,
                                int64_t n, const double *X, const double *Y) {
    const double *p = fm_net_params((fm_net_t *)net);
    const int64_t n_in = 3, hid = 6, k = 2;
    double Z0[5 * 6], A0[5 * 6], Z1[5 * 2], A1[5 * 2], v = NAN;
    fm_dense_forward_f64(Z0, A0, X, n_in, p + fm_net_weight_offset(net, 0),
                         p + fm_net_bias_offset(net, 0), n, n_in, hid, FM_ACT_TANH, 0);
    for (int64_t e = 0; e < n * hid; e++) A0[e] *= mask[e];
    fm_dense_forward_f64(Z1, A1, A0, hid, p + fm_net_weight_offset(net, 1),
                         p + fm_net_bias_offset(net, 1), n, hid, k, FM_ACT_IDENTITY, 0);
    fm_loss_f64(FM_LOSS_SQUARED, FM_ACT_IDENTITY, 0, n, k, Z1, A1, Y, NULL, &v, NULL);
    return v;
}

static void test_gradient_dropout(void) {
    const int64_t n = 5, n_in = 3, hid = 6, k = 2, t0 = 5;
    const double p_drop = 0.4;
    fm_layer_t ls[2] = {layer(hid, FM_ACT_TANH, p_drop), layer(k, FM_ACT_IDENTITY, 0)};
    fm_net_t *net = make_net(FM_F64, n_in, 2, ls, 5);
    if (net == NULL) return;
    double X[15], Y[10], mask[30];
    fill(X, n * n_in, 1.0);
    fill(Y, n * k, 1.0);
    fm_train_cfg_t cfg = sgd1_cfg(FM_LOSS_SQUARED);
    cfg.seed = 77;
    fm_net_set_step_count(net, t0);
    const uint64_t key = fm_rng_key(cfg.seed, FM_STREAM_DROPOUT);
    const uint64_t c0 = ((uint64_t)(t0 + 1) * 2u + 0u) << 32;
    int dropped = 0;
    for (int64_t e = 0; e < n * hid; e++) {
        const int keep = fm_rng_uniform(key, c0 + (uint64_t)e) >= p_drop;
        mask[e] = keep ? 1.0 / (1.0 - p_drop) : 0.0;
        dropped += !keep;
    }
    CHECK(dropped > 0 && dropped < n * hid);

    const int64_t np = fm_net_n_params(net);
    double *g = malloc((size_t)np * sizeof *g), *p = fm_net_params(net);
    CHECK(net_gradient(net, &cfg, n, X, Y, NULL, g, NULL) == FM_OK);
    CHECK(fm_net_step_count(net) == t0);
    const double h = 1e-6;
    int bad = 0;
    for (int64_t i = 0; i < np; i++) {
        const double p0 = p[i];
        p[i] = p0 + h;
        const double fp = dropout_objective(net, mask, n, X, Y);
        p[i] = p0 - h;
        const double fm = dropout_objective(net, mask, n, X, Y);
        p[i] = p0;
        const double fd = (fp - fm) / (2 * h);
        if (!(fabs(g[i] - fd) <= 1e-8 + 1e-5 * fabs(fd))) {
            fprintf(stderr, "dropout: param %lld grad %.12g fd %.12g\n",
                    (long long)i, g[i], fd);
            bad = 1;
        }
    }
    CHECK(!bad);
    free(g);
    fm_net_free(net);
}

/* XOR with a 2-4-1 net (tanh, sigmoid output, BCE, Adam): 100 %. */
static void test_xor(void) {
    for (int f64 = 0; f64 <= 1; f64++) {
        fm_layer_t ls[2] = {layer(4, FM_ACT_TANH, 0), layer(1, FM_ACT_SIGMOID, 0)};
        fm_net_t *net = make_net(f64 ? FM_F64 : FM_F32, 2, 2, ls, 3);
        if (net == NULL) continue;
        const double x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, y[4] = {0, 1, 1, 0};
        double X64[8], Y64[4], out64[4];
        float X32[8], Y32[4], out32[4];
        for (int i = 0; i < 8; i++) X64[i] = X32[i] = (float)x[i];
        for (int i = 0; i < 4; i++) Y64[i] = Y32[i] = (float)y[i];
        fm_train_cfg_t cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.loss = FM_LOSS_BINARY_CROSSENTROPY;
        fm_optim_defaults(FM_OPT_ADAM, &cfg.opt);
        cfg.opt.lr = 0.05;
        cfg.batch_size = 4;
        cfg.shuffle = 1;
        cfg.seed = 9;
        fm_epoch_stats_t stats = {0};
        int st = FM_OK;
        for (int e = 0; e < 600 && st == FM_OK; e++)
            st = fm_net_train_epoch(net, &cfg, 4, f64 ? (void *)X64 : (void *)X32,
                                    f64 ? (void *)Y64 : (void *)Y32, NULL, e, &stats);
        CHECK(st == FM_OK);
        CHECK(stats.loss < 0.05);
        CHECK(stats.t == 600);
        CHECK(fm_net_predict(net, 4, f64 ? (void *)X64 : (void *)X32, 2,
                             f64 ? (void *)out64 : (void *)out32) == FM_OK);
        int correct = 0;
        for (int i = 0; i < 4; i++) {
            const double o = f64 ? out64[i] : out32[i];
            correct += (o > 0.5) == (y[i] > 0.5);
        }
        CHECK(correct == 4);
        fm_net_free(net);
    }
}

/* Stable argsort by (key, index), written independently of net.c. */
typedef struct { uint64_t key; int64_t idx; } pair_t;
static int pair_cmp(const void *a, const void *b) {
    const pair_t *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* An epoch equals hand-run steps on the batches MATH.md defines, bitwise,
 * and its statistics are the Σw-weighted means of the steps'. */
static void test_epoch_matches_steps(void) {
    const int64_t n = 11, n_in = 3, k = 2, bs = 4;
    fm_layer_t ls[2] = {layer(6, FM_ACT_TANH, 0.25), layer(k, FM_ACT_IDENTITY, 0)};
    double X[33], Y[22], sw[11];
    fill(X, n * n_in, 1.0);
    fill(Y, n * k, 1.0);
    for (int i = 0; i < n; i++) sw[i] = 0.5 + 0.4 * urand();
    for (int shuffle = 0; shuffle <= 1; shuffle++) {
        fm_net_t *a = make_net(FM_F64, n_in, 2, ls, 21);
        fm_net_t *b = make_net(FM_F64, n_in, 2, ls, 21);
        if (a == NULL || b == NULL) return;
        fm_train_cfg_t cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.loss = FM_LOSS_SQUARED;
        fm_optim_defaults(FM_OPT_ADAM, &cfg.opt);
        cfg.l2 = 0.01;
        cfg.batch_size = bs;
        cfg.shuffle = shuffle;
        cfg.seed = 1234;
        const int64_t epoch = 3;
        double gw[2], gb[2];
        fm_epoch_stats_t es = {0, 0, 0, 0, gw, gb};
        CHECK(fm_net_train_epoch(a, &cfg, n, X, Y, sw, epoch, &es) == FM_OK);

        pair_t perm[11];
        const uint64_t key = fm_rng_key(cfg.seed, FM_STREAM_SHUFFLE);
        for (int64_t i = 0; i < n; i++) {
            perm[i].key = shuffle ? fm_rng_u64(key, (uint64_t)(epoch * n + i)) : 0;
            perm[i].idx = i;
        }
        qsort(perm, (size_t)n, sizeof perm[0], pair_cmp);
        double sum_vw = 0, sum_pw = 0, sum_w = 0, agw[2] = {0}, agb[2] = {0};
        int64_t nb = 0;
        for (int64_t s = 0; s < n; s += bs, nb++) {
            const int64_t m = n - s < bs ? n - s : bs;
            double Xb[12], Yb[8], swb[4], bw[2], bb[2], W = 0;
            for (int64_t r = 0; r < m; r++) {
                const int64_t i = perm[s + r].idx;
                memcpy(Xb + r * n_in, X + i * n_in, (size_t)n_in * sizeof *X);
                memcpy(Yb + r * k, Y + i * k, (size_t)k * sizeof *Y);
                swb[r] = sw[i];
                W += sw[i];
            }
            fm_epoch_stats_t ss = {0, 0, 0, 0, bw, bb};
            CHECK(fm_net_train_step(b, &cfg, m, Xb, Yb, swb, &ss) == FM_OK);
            sum_vw += ss.loss * W, sum_pw += ss.penalty * W, sum_w += W;
            for (int l = 0; l < 2; l++) agw[l] += bw[l], agb[l] += bb[l];
        }
        CHECK(memcmp(fm_net_params(a), fm_net_params(b), psize(a)) == 0);
        CHECK(memcmp(fm_net_opt_state(a, 0), fm_net_opt_state(b, 0), psize(a)) == 0);
        CHECK(es.n_batches == nb && nb == 3);
        CHECK(es.t == 3 && fm_net_step_count(b) == 3);
        CHECK_CLOSE(es.loss, sum_vw / sum_w, 1e-14, 0);
        CHECK_CLOSE(es.penalty, sum_pw / sum_w, 1e-14, 0);
        CHECK(es.penalty > 0);
        for (int l = 0; l < 2; l++) {
            CHECK_CLOSE(gw[l], agw[l] / (double)nb, 1e-14, 0);
            CHECK_CLOSE(gb[l], agb[l] / (double)nb, 1e-14, 0);
        }
        fm_net_free(a);
        fm_net_free(b);
    }
}

/* Same seeds ⇒ bitwise the same parameters after an epoch (shuffle and
 * dropout on); a different training seed or init seed ⇒ different. */
static void test_reproducible(void) {
    const int64_t n = 10, n_in = 3, k = 2;
    fm_layer_t ls[2] = {layer(8, FM_ACT_RELU, 0.3), layer(k, FM_ACT_SOFTMAX, 0)};
    float X[30], Y[20];
    for (int i = 0; i < 30; i++) X[i] = (float)urand();
    for (int i = 0; i < 10; i++) Y[2 * i] = (float)(i % 2), Y[2 * i + 1] = (float)(1 - i % 2);
    fm_train_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.loss = FM_LOSS_CATEGORICAL_CROSSENTROPY;
    fm_optim_defaults(FM_OPT_ADAM, &cfg.opt);
    cfg.batch_size = 3;
    cfg.shuffle = 1;
    void *res[4];
    const uint64_t init_seed[4] = {7, 7, 7, 8}, train_seed[4] = {11, 11, 12, 11};
    for (int r = 0; r < 4; r++) {
        fm_net_t *net = make_net(FM_F32, n_in, 2, ls, init_seed[r]);
        if (net == NULL) return;
        cfg.seed = train_seed[r];
        for (int e = 0; e < 2; e++)
            CHECK(fm_net_train_epoch(net, &cfg, n, X, Y, NULL, e, NULL) == FM_OK);
        res[r] = copy_params(net);
        CHECK(fm_net_step_count(net) == 8);
        if (r == 3) {
            CHECK(memcmp(res[0], res[1], psize(net)) == 0);
            CHECK(memcmp(res[0], res[2], psize(net)) != 0);
            CHECK(memcmp(res[0], res[3], psize(net)) != 0);
        }
        fm_net_free(net);
    }
    for (int r = 0; r < 4; r++) free(res[r]);
}

/* Everything a failed step could have touched, for bitwise comparison. */
typedef struct { void *p, *s0, *s1; int64_t t; } snap_t;
static snap_t snap(fm_net_t *net) {
    snap_t s = {copy_params(net), malloc(psize(net)), malloc(psize(net)),
                fm_net_step_count(net)};
    memcpy(s.s0, fm_net_opt_state(net, 0), psize(net));
    memcpy(s.s1, fm_net_opt_state(net, 1), psize(net));
    return s;
}
static int same(fm_net_t *net, snap_t s) {
    const int eq = memcmp(s.p, fm_net_params(net), psize(net)) == 0 &&
                   memcmp(s.s0, fm_net_opt_state(net, 0), psize(net)) == 0 &&
                   memcmp(s.s1, fm_net_opt_state(net, 1), psize(net)) == 0 &&
                   s.t == fm_net_step_count(net);
    free(s.p), free(s.s0), free(s.s1);
    return eq;
}

/* A non-finite loss or a flat activation fails the step before any
 * update: parameters, optimiser state and t bitwise as before. */
static void test_failures_leave_params(void) {
    fm_layer_t ls[2] = {layer(4, FM_ACT_TANH, 0), layer(2, FM_ACT_IDENTITY, 0)};
    fm_net_t *net = make_net(FM_F64, 3, 2, ls, 1);
    if (net == NULL) return;
    fm_train_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.loss = FM_LOSS_SQUARED;
    fm_optim_defaults(FM_OPT_ADAM, &cfg.opt);
    cfg.batch_size = 2;
    double X[24], Y[16];
    fill(X, 24, 1.0);
    fill(Y, 16, 1.0);
    /* one good step first, so the Adam state is not all zero */
    CHECK(fm_net_train_step(net, &cfg, 8, X, Y, NULL, NULL) == FM_OK);
    X[5 * 3 + 1] = NAN; /* row 5 */
    snap_t s = snap(net);
    CHECK(fm_net_train_step(net, &cfg, 8, X, Y, NULL, NULL) == FM_ERR_NONFINITE);
    CHECK(same(net, s));
    /* an overflowing target gives an infinite loss */
    X[16] = 0.5;
    Y[3] = 1e300;
    s = snap(net);
    CHECK(fm_net_train_step(net, &cfg, 8, X, Y, NULL, NULL) == FM_ERR_NONFINITE);
    CHECK(same(net, s));
    Y[3] = 0.1;

    /* epoch (no shuffle, batches of 2): batches 0 and 1 run, batch 2
     * holds row 5 and stops the epoch with the parameters of after
     * batch 1 - those of two hand-run steps on a twin */
    X[5 * 3 + 1] = NAN;
    fm_net_t *twin = make_net(FM_F64, 3, 2, ls, 1);
    memcpy(fm_net_params(twin), fm_net_params(net), psize(net));
    memcpy(fm_net_opt_state(twin, 0), fm_net_opt_state(net, 0), psize(net));
    memcpy(fm_net_opt_state(twin, 1), fm_net_opt_state(net, 1), psize(net));
    fm_net_set_step_count(twin, fm_net_step_count(net));
    CHECK(fm_net_train_step(twin, &cfg, 2, X, Y, NULL, NULL) == FM_OK);
    CHECK(fm_net_train_step(twin, &cfg, 2, X + 6, Y + 4, NULL, NULL) == FM_OK);
    fm_epoch_stats_t es = {0};
    CHECK(fm_net_train_epoch(net, &cfg, 8, X, Y, NULL, 0, &es) == FM_ERR_NONFINITE);
    CHECK(es.n_batches == 2);
    CHECK(es.t == fm_net_step_count(twin));
    CHECK(memcmp(fm_net_params(net), fm_net_params(twin), psize(net)) == 0);
    fm_net_free(twin);
    fm_net_free(net);

    /* a flat activation (step) in a hidden layer: no gradient flows */
    fm_layer_t fl[2] = {layer(4, FM_ACT_STEP, 0), layer(2, FM_ACT_IDENTITY, 0)};
    net = make_net(FM_F64, 3, 2, fl, 1);
    X[5 * 3 + 1] = 0.2;
    s = snap(net);
    CHECK(fm_net_train_step(net, &cfg, 8, X, Y, NULL, NULL) == FM_ERR_NODERIV);
    CHECK(same(net, s));
    s = snap(net);
    CHECK(fm_net_train_epoch(net, &cfg, 8, X, Y, NULL, 0, NULL) == FM_ERR_NODERIV);
    CHECK(same(net, s));
    fm_net_free(net);
    /* ... and a step output under squared error */
    fm_layer_t fo[2] = {layer(4, FM_ACT_TANH, 0), layer(2, FM_ACT_STEP, 0)};
    net = make_net(FM_F64, 3, 2, fo, 1);
    s = snap(net);
    CHECK(fm_net_train_step(net, &cfg, 8, X, Y, NULL, NULL) == FM_ERR_NODERIV);
    CHECK(same(net, s));
    fm_net_free(net);
}

typedef struct { int64_t stop_at, calls, last; } stop_ctx_t;
static int stop_cb(void *ctx, int64_t b) {
    stop_ctx_t *c = ctx;
    c->calls++;
    c->last = b;
    return b == c->stop_at;
}

/* should_stop is asked after each batch's update; a stop request ends the
 * epoch with FM_ERR_INTERRUPTED and stats for the batches that ran. */
static void test_should_stop(void) {
    fm_layer_t ls[2] = {layer(4, FM_ACT_TANH, 0), layer(1, FM_ACT_IDENTITY, 0)};
    fm_net_t *net = make_net(FM_F64, 2, 2, ls, 1);
    if (net == NULL) return;
    double X[20], Y[10];
    fill(X, 20, 1.0);
    fill(Y, 10, 1.0);
    fm_train_cfg_t cfg = sgd1_cfg(FM_LOSS_SQUARED);
    cfg.opt.lr = 0.01;
    cfg.batch_size = 2;
    cfg.shuffle = 1;
    stop_ctx_t c = {2, 0, -1};
    cfg.should_stop = stop_cb;
    cfg.ctx = &c;
    fm_epoch_stats_t es = {0};
    CHECK(fm_net_train_epoch(net, &cfg, 10, X, Y, NULL, 0, &es) == FM_ERR_INTERRUPTED);
    CHECK(c.calls == 3 && c.last == 2);
    CHECK(es.n_batches == 3 && es.t == 3 && fm_net_step_count(net) == 3);
    CHECK(isfinite(es.loss) && es.loss > 0);
    c.stop_at = -1, c.calls = 0;
    CHECK(fm_net_train_epoch(net, &cfg, 10, X, Y, NULL, 1, &es) == FM_OK);
    CHECK(c.calls == 5 && c.last == 4 && es.n_batches == 5 && es.t == 8);
    fm_net_free(net);
}

/* Absurd sizes fail with FM_ERR_NOMEM at once, before allocating. */
static void test_absurd_sizes(void) {
    const clock_t t0 = clock();
    int st = -1;
    fm_layer_t big[2] = {layer(1000000000000LL, FM_ACT_RELU, 0), layer(1, FM_ACT_IDENTITY, 0)};
    CHECK(fm_net_create(FM_F32, 1, 2, big, &st) == NULL && st == FM_ERR_NOMEM);
    fm_layer_t ovf[2] = {layer((int64_t)1 << 40, FM_ACT_RELU, 0), layer((int64_t)1 << 40, FM_ACT_IDENTITY, 0)};
    st = -1;
    CHECK(fm_net_create(FM_F64, (int64_t)1 << 40, 2, ovf, &st) == NULL && st == FM_ERR_NOMEM);
    st = -1;
    CHECK(fm_net_create(FM_F64, INT64_MAX, 1, ovf, &st) == NULL && st == FM_ERR_NOMEM);

    /* a batch too large for the workspace: refused before X is read */
    fm_layer_t ls[2] = {layer(64, FM_ACT_RELU, 0), layer(1, FM_ACT_IDENTITY, 0)};
    fm_net_t *net = make_net(FM_F32, 4, 2, ls, 1);
    float dummy[4] = {0};
    fm_train_cfg_t cfg = sgd1_cfg(FM_LOSS_SQUARED);
    CHECK(fm_net_train_step(net, &cfg, (int64_t)1 << 50, dummy, dummy, NULL, NULL) == FM_ERR_NOMEM);
    CHECK(fm_net_train_step(net, &cfg, INT64_MAX, dummy, dummy, NULL, NULL) == FM_ERR_NOMEM);
    fm_net_free(net);
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
}

/* Z_out, A_out of the whole data in one unchunked pass of dense layers. */
static void forward_all(fm_net_t *net, int64_t n, const double *X, double *Zo,
                        double *Ao) {
    const int L = fm_net_n_layers(net);
    const double *p = fm_net_params(net), *H = X;
    int64_t fan_in = fm_net_n_in(net);
    double *bufs[2] = {malloc((size_t)n * 64 * sizeof(double)),
                       malloc((size_t)n * 64 * sizeof(double))};
    for (int l = 0; l < L; l++) {
        const fm_layer_t *ly = fm_net_layer(net, l);
        double *Z = l == L - 1 ? Zo : NULL, *A = l == L - 1 ? Ao : bufs[l % 2];
        CHECK(fm_dense_forward_f64(Z, A, H, fan_in, p + fm_net_weight_offset(net, l),
                                   p + fm_net_bias_offset(net, l), n, fan_in,
                                   ly->units, ly->act, ly->act_param) == FM_OK);
        H = A;
        fan_in = ly->units;
    }
    free(bufs[0]), free(bufs[1]);
}

/* evaluate over chunks equals the loss of one pass over all rows (and of
 * predict's outputs); predict equals that pass and row-by-row predict. */
static void test_evaluate_predict(void) {
    const int64_t n = 600, n_in = 5, k = 3;
    double *X = malloc((size_t)(n * (n_in + 2)) * sizeof *X);
    double *Y = malloc((size_t)(n * k) * sizeof *Y), *sw = malloc((size_t)n * sizeof *sw);
    double *Zo = malloc((size_t)(n * k) * sizeof *Zo), *Ao = malloc((size_t)(n * k) * sizeof *Ao);
    double *out = malloc((size_t)(n * k) * sizeof *out);
    fill(X, n * (n_in + 2), 2.0);
    for (int64_t i = 0; i < n; i++) sw[i] = (i >= 256 && i < 512) ? 0 : 0.5 + 0.5 * urand();
    for (int c = 0; c < 2; c++) {
        const fm_loss_t loss = c == 0 ? FM_LOSS_CATEGORICAL_CROSSENTROPY : FM_LOSS_SQUARED;
        fm_layer_t ls[3] = {layer(7, FM_ACT_TANH, 0.2), layer(6, FM_ACT_ELU, 0),
                            layer(k, c == 0 ? FM_ACT_SOFTMAX : FM_ACT_IDENTITY, 0)};
        ls[1].act_param = 1.0;
        fm_net_t *net = make_net(FM_F64, n_in, 3, ls, 40 + (uint64_t)c);
        if (net == NULL) continue;
        targets(loss, Y, n, k);
        fm_train_cfg_t cfg = sgd1_cfg(loss);
        cfg.l2 = 0.5;
        cfg.l1 = 0.1;
        forward_all(net, n, X, Zo, Ao);
        for (int w = 0; w <= 1; w++) {
            const double *s = w ? sw : NULL;
            double ref = NAN, loss_v = NAN, pen = NAN, W = 0;
            CHECK(fm_loss_f64(loss, ls[2].act, 0, n, k, Zo, Ao, Y, s, &ref, NULL) == FM_OK);
            CHECK(fm_net_evaluate(net, &cfg, n, X, Y, s, &loss_v, &pen) == FM_OK);
            CHECK_CLOSE(loss_v, ref, 1e-13, 0);
            /* penalty with W = Σw of this data, weights only */
            for (int64_t i = 0; i < n; i++) W += s ? s[i] : 1.0;
            double sq = 0, ab = 0;
            const double *p = fm_net_params(net);
            for (int l = 0; l < 3; l++)
                for (int64_t j = fm_net_weight_offset(net, l); j < fm_net_bias_offset(net, l); j++)
                    sq += p[j] * p[j], ab += fabs(p[j]);
            CHECK_CLOSE(pen, cfg.l2 / (2 * W) * sq + cfg.l1 / W * ab, 1e-13, 0);
        }
        /* predict: chunked = one pass = row by row; a row stride works */
        CHECK(fm_net_predict(net, n, X, n_in, out) == FM_OK);
        int bad = 0;
        for (int64_t i = 0; i < n * k; i++) bad |= !(fabs(out[i] - Ao[i]) <= 1e-13);
        for (int64_t i = 0; i < n; i += 37) {
            double row[3];
            CHECK(fm_net_predict(net, 1, X + i * n_in, n_in, row) == FM_OK);
            for (int j = 0; j < k; j++) bad |= !(fabs(row[j] - out[i * k + j]) <= 1e-13);
        }
        double *Xs = malloc((size_t)(n * (n_in + 2)) * sizeof *Xs);
        for (int64_t i = 0; i < n; i++) memcpy(Xs + i * (n_in + 2), X + i * n_in, (size_t)n_in * sizeof *X);
        double *out2 = malloc((size_t)(n * k) * sizeof *out2);
        CHECK(fm_net_predict(net, n, Xs, n_in + 2, out2) == FM_OK);
        for (int64_t i = 0; i < n * k; i++) bad |= !(fabs(out2[i] - out[i]) <= 1e-13);
        CHECK(!bad);
        if (c == 1) {
            /* identity output: the loss of predict's outputs (A = Z) */
            double ref = NAN, loss_v = NAN;
            CHECK(fm_loss_f64(loss, FM_ACT_IDENTITY, 0, n, k, out, out, Y, sw, &ref, NULL) == FM_OK);
            CHECK(fm_net_evaluate(net, &cfg, n, X, Y, sw, &loss_v, NULL) == FM_OK);
            CHECK_CLOSE(loss_v, ref, 1e-13, 0);
        }
        CHECK(fm_net_predict(net, 0, NULL, n_in, NULL) == FM_OK);
        free(Xs), free(out2);
        fm_net_free(net);
    }
    free(X), free(Y), free(sw), free(Zo), free(Ao), free(out);
}

/* Layout [W0, b0, W1, b1, …], accessors, state handling, argument errors. */
static void test_layout_and_errors(void) {
    fm_layer_t ls[3] = {layer(5, FM_ACT_TANH, 0.1), layer(4, FM_ACT_SIGMOID, 0),
                        layer(2, FM_ACT_SOFTMAX, 0)};
    fm_net_t *net = make_net(FM_F64, 3, 3, ls, 2);
    if (net == NULL) return;
    CHECK(fm_net_n_params(net) == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2);
    CHECK(fm_net_weight_offset(net, 0) == 0 && fm_net_bias_offset(net, 0) == 15);
    CHECK(fm_net_weight_offset(net, 1) == 20 && fm_net_bias_offset(net, 1) == 40);
    CHECK(fm_net_weight_offset(net, 2) == 44 && fm_net_bias_offset(net, 2) == 52);
    CHECK(fm_net_weight_offset(net, 3) == -1 && fm_net_bias_offset(net, -1) == -1);
    CHECK(fm_net_n_in(net) == 3 && fm_net_n_out(net) == 2 && fm_net_n_layers(net) == 3);
    CHECK(fm_net_dtype(net) == FM_F64);
    CHECK(fm_net_layer(net, 1)->units == 4 && fm_net_layer(net, 1)->act == FM_ACT_SIGMOID);
    CHECK(fm_net_layer(net, 3) == NULL);
    CHECK(fm_net_opt_state(net, 0) != NULL && fm_net_opt_state(net, 1) != NULL);
    CHECK(fm_net_opt_state(net, 2) == NULL);

    double X[12], Y[8];
    fill(X, 12, 1.0);
    targets(FM_LOSS_CATEGORICAL_CROSSENTROPY, Y, 4, 2);
    fm_train_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.loss = FM_LOSS_CATEGORICAL_CROSSENTROPY;
    fm_optim_defaults(FM_OPT_ADAM, &cfg.opt);
    cfg.batch_size = 4;
    CHECK(fm_net_train_step(net, &cfg, 4, X, Y, NULL, NULL) == FM_OK);
    CHECK(fm_net_step_count(net) == 1);
    const double *s1 = fm_net_opt_state(net, 1);
    double nz = 0;
    for (int64_t i = 0; i < fm_net_n_params(net); i++) nz += fabs(s1[i]);
    CHECK(nz > 0);
    fm_net_reset_optimizer(net);
    nz = 0;
    for (int64_t i = 0; i < fm_net_n_params(net); i++) nz += fabs(s1[i]);
    CHECK(nz == 0 && fm_net_step_count(net) == 0);
    CHECK(fm_net_set_step_count(net, 41) == FM_OK && fm_net_step_count(net) == 41);
    CHECK(fm_net_set_step_count(net, -1) == FM_ERR_ARG);

    /* configuration and data errors, each before anything changes */
    snap_t s = snap(net);
    fm_train_cfg_t bad = cfg;
    bad.loss = FM_LOSS_BINARY_CROSSENTROPY;
    CHECK(fm_net_train_step(net, &bad, 4, X, Y, NULL, NULL) == FM_ERR_LOSS_PAIR);
    CHECK(fm_net_evaluate(net, &bad, 4, X, Y, NULL, NULL, NULL) == FM_ERR_LOSS_PAIR);
    bad = cfg, bad.batch_size = 0;
    CHECK(fm_net_train_epoch(net, &bad, 4, X, Y, NULL, 0, NULL) == FM_ERR_ARG);
    bad = cfg, bad.opt.lr = -1;
    CHECK(fm_net_train_step(net, &bad, 4, X, Y, NULL, NULL) == FM_ERR_ARG);
    bad = cfg, bad.opt.beta1 = 1.5;
    CHECK(fm_net_train_epoch(net, &bad, 4, X, Y, NULL, 0, NULL) == FM_ERR_ARG);
    bad = cfg, bad.opt.kind = (fm_opt_kind_t)77;
    CHECK(fm_net_train_step(net, &bad, 4, X, Y, NULL, NULL) == FM_ERR_ARG);
    bad = cfg, bad.l2 = -1;
    CHECK(fm_net_train_step(net, &bad, 4, X, Y, NULL, NULL) == FM_ERR_ARG);
    bad = cfg, bad.loss = (fm_loss_t)9;
    CHECK(fm_net_evaluate(net, &bad, 4, X, Y, NULL, NULL, NULL) == FM_ERR_ARG);
    double sw[4] = {1, -1, 1, 1};
    CHECK(fm_net_train_step(net, &cfg, 4, X, Y, sw, NULL) == FM_ERR_ARG);
    sw[1] = NAN;
    CHECK(fm_net_train_epoch(net, &cfg, 4, X, Y, sw, 0, NULL) == FM_ERR_NONFINITE);
    sw[1] = 0, sw[0] = 0, sw[2] = 0, sw[3] = 0;
    CHECK(fm_net_train_step(net, &cfg, 4, X, Y, sw, NULL) == FM_ERR_ARG);
    CHECK(fm_net_evaluate(net, &cfg, 4, X, Y, sw, NULL, NULL) == FM_ERR_ARG);
    CHECK(fm_net_train_step(net, &cfg, 0, X, Y, NULL, NULL) == FM_ERR_ARG);
    CHECK(fm_net_train_step(net, NULL, 4, X, Y, NULL, NULL) == FM_ERR_ARG);
    CHECK(fm_net_train_step(net, &cfg, 4, NULL, Y, NULL, NULL) == FM_ERR_ARG);
    CHECK(fm_net_train_epoch(net, &cfg, 4, X, Y, NULL, -1, NULL) == FM_ERR_ARG);
    CHECK(fm_net_predict(net, 4, X, 2, X) == FM_ERR_ARG);
    CHECK(same(net, s));
    fm_net_free(net);

    /* creation errors */
    int st = -1;
    fm_layer_t e1[2] = {layer(3, FM_ACT_TANH, 0), layer(2, FM_ACT_IDENTITY, 0.5)};
    CHECK(fm_net_create(FM_F32, 3, 2, e1, &st) == NULL && st == FM_ERR_ARG);
    fm_layer_t e2[2] = {layer(0, FM_ACT_TANH, 0), layer(2, FM_ACT_IDENTITY, 0)};
    CHECK(fm_net_create(FM_F32, 3, 2, e2, &st) == NULL && st == FM_ERR_ARG);
    fm_layer_t e3[1] = {layer(2, FM_ACT_ELU, 0)}; /* ELU alpha must be > 0 */
    CHECK(fm_net_create(FM_F32, 3, 1, e3, &st) == NULL && st == FM_ERR_ARG);
    fm_layer_t e4[2] = {layer(3, FM_ACT_TANH, 1.0), layer(2, FM_ACT_IDENTITY, 0)};
    CHECK(fm_net_create(FM_F32, 3, 2, e4, &st) == NULL && st == FM_ERR_ARG);
    CHECK(fm_net_create(FM_F32, 0, 2, e1, &st) == NULL && st == FM_ERR_ARG);
    CHECK(fm_net_create(FM_F32, 3, 0, e1, &st) == NULL && st == FM_ERR_ARG);
    CHECK(fm_net_create((fm_dtype_t)5, 3, 1, e3, &st) == NULL && st == FM_ERR_ARG);
    CHECK(fm_net_create(FM_F32, 3, 1, NULL, NULL) == NULL);
    fm_net_free(NULL);
    CHECK(fm_net_init(NULL, 1) == FM_ERR_ARG);
    CHECK(fm_net_params(NULL) == NULL && fm_net_n_params(NULL) == -1);
}

/* fm_net_init: layer l from key(seed, FM_STREAM_INIT + l); the sklearn
 * law's gain is the first layer's (sigmoid ⇒ f = 2 for every layer);
 * state and t are zeroed. */
static void test_init(void) {
    static const fm_act_t first[2] = {FM_ACT_SIGMOID, FM_ACT_RELU};
    for (int c = 0; c < 2; c++) {
        fm_layer_t ls[3] = {layer(5, first[c], 0), layer(4, FM_ACT_TANH, 0),
                            layer(2, FM_ACT_SIGMOID, 0)};
        for (int l = 0; l < 3; l++) ls[l].init = c ? FM_INIT_HE_NORMAL : FM_INIT_SKLEARN;
        ls[1].init = FM_INIT_SKLEARN;
        fm_net_t *net = make_net(FM_F64, 3, 3, ls, 99);
        if (net == NULL) continue;
        fm_train_cfg_t cfg = sgd1_cfg(FM_LOSS_SQUARED);
        cfg.opt.momentum = 0.9;
        double X[6] = {1, 2, 3, 4, 5, 6}, Y[4] = {0};
        CHECK(fm_net_train_step(net, &cfg, 2, X, Y, NULL, NULL) == FM_OK);
        CHECK(fm_net_init(net, 99) == FM_OK);
        CHECK(fm_net_step_count(net) == 0);
        const double *p = fm_net_params(net), *s0 = fm_net_opt_state(net, 0);
        double nz = 0;
        for (int64_t i = 0; i < fm_net_n_params(net); i++) nz += fabs(s0[i]);
        CHECK(nz == 0);
        int64_t fan_in = 3;
        for (int l = 0; l < 3; l++) {
            double W[20], b[5];
            CHECK(fm_init_layer_f64(ls[l].init, fm_rng_key(99, FM_STREAM_INIT + (uint64_t)l),
                                    fan_in, ls[l].units, c == 0, W, b) == FM_OK);
            CHECK(memcmp(W, p + fm_net_weight_offset(net, l),
                         (size_t)(fan_in * ls[l].units) * sizeof *W) == 0);
            CHECK(memcmp(b, p + fm_net_bias_offset(net, l), (size_t)ls[l].units * sizeof *b) == 0);
            fan_in = ls[l].units;
        }
        fm_net_free(net);
    }
}

/* predict and evaluate give the same bits on 1, 2 and 3 threads: chunks
 * spread over the threads (1,000 and 601 rows; 601 leaves one thread a
 * chunk more), each product spread instead (130 rows, 2 chunks), one small
 * chunk (3 rows); float32 and float64, with sample weights. */
static void test_predict_threads(void) {
    static const int64_t NS[] = {1000, 601, 130, 3};
    const int64_t n_max = 1000, n_in = 300, k = 3;
    const fm_layer_t ls[3] = {layer(64, FM_ACT_TANH, 0),
                              layer(32, FM_ACT_RELU, 0),
                              layer(k, FM_ACT_SOFTMAX, 0)};
    double *X = malloc((size_t)(n_max * n_in) * sizeof *X);
    double *Y = malloc((size_t)(n_max * k) * sizeof *Y);
    double *sw = malloc((size_t)n_max * sizeof *sw);
    float *X32 = malloc((size_t)(n_max * n_in) * sizeof *X32);
    float *Y32 = malloc((size_t)(n_max * k) * sizeof *Y32);
    float *sw32 = malloc((size_t)n_max * sizeof *sw32);
    double *out[3];
    for (int t = 0; t < 3; t++) out[t] = malloc((size_t)(n_max * k) * sizeof(double));
    fill(X, n_max * n_in, 1.0);
    targets(FM_LOSS_CATEGORICAL_CROSSENTROPY, Y, n_max, k);
    for (int64_t i = 0; i < n_max; i++) sw[i] = 0.5 + 0.5 * urand();
    for (int64_t i = 0; i < n_max * n_in; i++) X32[i] = (float)X[i];
    for (int64_t i = 0; i < n_max * k; i++) Y32[i] = (float)Y[i];
    for (int64_t i = 0; i < n_max; i++) sw32[i] = (float)sw[i];
    const fm_train_cfg_t cfg = sgd1_cfg(FM_LOSS_CATEGORICAL_CROSSENTROPY);
    const int nt0 = fm_get_num_threads();
    for (int f64 = 0; f64 <= 1; f64++) {
        fm_net_t *net = make_net(f64 ? FM_F64 : FM_F32, n_in, 3, ls, 7);
        if (net == NULL) continue;
        const void *x = f64 ? (void *)X : (void *)X32, *y = f64 ? (void *)Y : (void *)Y32;
        const void *w = f64 ? (void *)sw : (void *)sw32;
        const size_t es = f64 ? sizeof(double) : sizeof(float);
        for (size_t s = 0; s < sizeof NS / sizeof NS[0]; s++) {
            const int64_t n = NS[s];
            double loss[3], pen[3];
            for (int t = 0; t < 3; t++) {
                fm_set_num_threads(t + 1);
                memset(out[t], 0, (size_t)(n * k) * es);
                CHECK(fm_net_predict(net, n, x, n_in, out[t]) == FM_OK);
                CHECK(fm_net_evaluate(net, &cfg, n, x, y, w, &loss[t], &pen[t]) == FM_OK);
            }
            for (int t = 1; t < 3; t++) {
                CHECK(memcmp(out[0], out[t], (size_t)(n * k) * es) == 0);
                CHECK(loss[t] == loss[0] && pen[t] == pen[0]);
            }
            /* and the right answer: each row's outputs sum to 1 */
            int bad = 0;
            for (int64_t i = 0; i < n; i++) {
                double sum = 0;
                for (int j = 0; j < k; j++)
                    sum += f64 ? out[0][i * k + j] : (double)((float *)out[0])[i * k + j];
                bad |= !(fabs(sum - 1) <= 1e-5);
            }
            CHECK(!bad);
            /* a NaN or an infinity in any chunk: FM_ERR_NONFINITE on any
             * thread count; none is looked for in the padding of a row
             * stride */
            const int64_t at = (n - 1) * n_in + n_in / 2;
            for (int t = 0; t < 3; t++) {
                fm_set_num_threads(t + 1);
                for (int v = 0; v < 2; v++) {
                    const double bad_v = v ? -INFINITY : NAN;
                    if (f64) X[at] = bad_v; else X32[at] = (float)bad_v;
                    CHECK(fm_net_predict(net, n, x, n_in, out[t]) == FM_ERR_NONFINITE);
                    if (f64) X[at] = 0; else X32[at] = 0;
                }
                CHECK(fm_net_predict(net, n, x, n_in, out[t]) == FM_OK);
            }
            if (n > 1) { /* rows of n_in - 1 values, stride n_in */
                if (f64) X[n_in - 1] = NAN; else X32[n_in - 1] = NAN;
                fm_net_t *narrow = make_net(f64 ? FM_F64 : FM_F32, n_in - 1, 3, ls, 7);
                if (narrow != NULL)
                    CHECK(fm_net_predict(narrow, n - 1, x, n_in, out[0]) == FM_OK);
                fm_net_free(narrow);
                if (f64) X[n_in - 1] = 0; else X32[n_in - 1] = 0;
            }
        }
        fm_net_free(net);
    }
    fm_set_num_threads(nt0);
    for (int t = 0; t < 3; t++) free(out[t]);
    free(X), free(Y), free(sw), free(X32), free(Y32), free(sw32);
}

int main(void) {
    test_init();
    test_gradient_fd();
    test_gradient_dropout();
    test_xor();
    test_epoch_matches_steps();
    test_reproducible();
    test_failures_leave_params();
    test_should_stop();
    test_absurd_sizes();
    test_evaluate_predict();
    test_predict_threads();
    test_layout_and_errors();
    FM_TEST_MAIN_END();
}
