/*
 * train_xor.c - train a small network on XOR with the C library alone,
 * print its four predictions and save it as a model file that Python
 * reads with fastmlp.load.
 *
 *     train_xor [MODEL]           (default: xor.fmlp)
 *
 * The network is 2 → 8 tanh → 1 sigmoid in float32, trained with Adam
 * (lr 0.05) on binary cross-entropy, full batches of the 4 samples,
 * shuffled, seed 0, 500 epochs: the same run as
 *
 *     MLP([Dense(8, "tanh"), Dense(1, "sigmoid")],
 *         optimizer={"kind": "adam", "lr": 0.05}, seed=0)
 *         .fit(X, y, epochs=500, batch_size=4)
 *
 * so both reach the same weights bit for bit on one instruction-set path.
 * Exit status: 0 when the four outputs are on the right side of 0.5,
 * 1 on an error or when XOR was not learned, 2 on bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "fastmlp.h"

#define EPOCHS 500

/* Metadata for Python (docs/FORMAT.md section 4): the MLP configuration
 * (what fastmlp.load rebuilds the model from) and the epochs run. */
static const char META[] =
    "{\"config\":{\"dtype\":\"float32\",\"loss\":\"binary_crossentropy\","
    "\"optimizer\":{\"kind\":\"adam\",\"lr\":0.05},\"seed\":0},"
    "\"epochs\":500,\"fastmlp\":\"MLP\"}";

/* Print what failed with the library's text for st; returns 1. */
static int fail(const char *what, int st) {
    fprintf(stderr, "train_xor: %s: %s\n", what, fm_strerror(st));
    return 1;
}

int main(int argc, char **argv) {
    if (argc > 2) {
        fprintf(stderr, "usage: train_xor [MODEL]\n");
        return 2;
    }
    const char *path = argc == 2 ? argv[1] : "xor.fmlp";
    /* X (4, 2), Y (4, 1): the truth table of XOR */
    const float X[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    const float Y[4][1] = {{0}, {1}, {1}, {0}};
    float out[4][1];
    /* units, activation, act_param, init, dropout */
    const fm_layer_t layers[2] = {
        {8, FM_ACT_TANH, 0.0, FM_INIT_GLOROT_UNIFORM, 0.0},
        {1, FM_ACT_SIGMOID, 0.0, FM_INIT_GLOROT_UNIFORM, 0.0},
    };
    int st;

    /* 1. create and initialise the network */
    fm_net_t *net = fm_net_create(FM_F32, 2, 2, layers, &st);
    if (net == NULL) return fail("fm_net_create", st);
    st = fm_net_init(net, 0);
    if (st != FM_OK) {
        fm_net_free(net);
        return fail("fm_net_init", st);
    }

    /* 2. the training configuration: Adam (torch defaults but lr) */
    fm_train_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.loss = FM_LOSS_BINARY_CROSSENTROPY;
    fm_optim_defaults(FM_OPT_ADAM, &cfg.opt);
    cfg.opt.lr = 0.05;
    cfg.batch_size = 4;
    cfg.shuffle = 1;
    cfg.seed = 0;

    /* 3. the epochs; each one is a whole pass in C */
    fm_epoch_stats_t stats;
    for (int64_t e = 0; e < EPOCHS; e++) {
        memset(&stats, 0, sizeof stats);
        st = fm_net_train_epoch(net, &cfg, 4, X, Y, NULL, e, &stats);
        if (st != FM_OK) {
            fm_net_free(net);
            return fail("fm_net_train_epoch", st);
        }
    }

    /* 4. the four predictions */
    st = fm_net_predict(net, 4, X, 2, out);
    if (st != FM_OK) {
        fm_net_free(net);
        return fail("fm_net_predict", st);
    }
    int learned = 1;
    for (int i = 0; i < 4; i++) {
        printf("%g %g -> %.9g\n", X[i][0], X[i][1], out[i][0]);
        learned &= (out[i][0] > 0.5f) == (Y[i][0] > 0.5f);
    }
    printf("final loss %.6g\n", stats.loss);

    /* 5. the model file, no standardisation */
    st = fm_model_save(net, path, NULL, NULL, META, strlen(META));
    fm_net_free(net);
    if (st != FM_OK) return fail(path, st);
    if (!learned) {
        fprintf(stderr, "train_xor: XOR was not learned\n");
        return 1;
    }
    return 0;
}
