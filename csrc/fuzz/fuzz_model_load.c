/*
 * fuzz_model_load.c - libFuzzer harness for the model-file reader
 * (fm_model_load_buffer, csrc/model_io.c; rules in docs/FORMAT.md §5).
 *
 * Every input must either be refused with FM_ERR_FORMAT, FM_ERR_VERSION or
 * FM_ERR_CHECKSUM, or give a network that predicts and trains without
 * touching memory it does not own.  Anything else (another status, a
 * sanitizer report, a crash) is a finding: abort() hands it to the fuzzer.
 * Each input is tried as given and again with its last four bytes replaced
 * by the right CRC-32, so that mutations reach the rules after the
 * checksum (UTF-8 metadata, network creation) instead of stopping there.
 *
 * With clang (libFuzzer):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I csrc \
 *       csrc/fuzz/fuzz_model_load.c csrc/[a-z]*.c -lm -o fuzz_model_load
 *   ./fuzz_model_load -max_total_time=60 CORPUS_DIR tests/corpus/model
 *
 * Without libFuzzer, FM_FUZZ_MAIN adds a main() that replays files (or
 * every file of a folder) given as arguments, e.g. under ASan with gcc:
 *   cc -g -O1 -fsanitize=address,undefined -DFM_FUZZ_MAIN -I csrc \
 *       csrc/fuzz/fuzz_model_load.c csrc/[a-z]*.c -lm -o replay
 *   ./replay tests/corpus/model
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastmlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A finding: say what and stop (the fuzzer keeps the input). */
static void finding(const char *what, int st) {
    fprintf(stderr, "fuzz_model_load: %s (status %d: %s)\n", what, st,
            fm_strerror(st));
    abort();
}

/* Run the loaded network once forward and once through a training step
 * on two rows of zeros (inputs) and halves (targets). */
static void exercise(fm_net_t *net) {
    const int64_t n_in = fm_net_n_in(net), n_out = fm_net_n_out(net);
    const size_t es = fm_net_dtype(net) == FM_F32 ? sizeof(float) : sizeof(double);
    /* inputs of a file-sized network: bounded by the file, but stay small */
    if (n_in > (1 << 16) || n_out > (1 << 16)) return;
    void *X = calloc(2 * (size_t)n_in, es);
    void *Y = malloc(2 * (size_t)n_out * es);
    void *out = malloc(2 * (size_t)n_out * es);
    if (!X || !Y || !out) goto done;
    for (int64_t i = 0; i < 2 * n_out; i++) {
        if (es == sizeof(float)) ((float *)Y)[i] = 0.5f;
        else ((double *)Y)[i] = 0.5;
    }
    int st = fm_net_predict(net, 2, X, n_in, out);
    if (st != FM_OK) finding("predict failed on a loaded network", st);

    fm_train_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.loss = FM_LOSS_SQUARED;
    fm_optim_defaults(FM_OPT_ADAM, &cfg.opt);
    cfg.batch_size = 2;
    st = fm_net_train_step(net, &cfg, 2, X, Y, NULL, NULL);
    /* flat activations (step, sign) and non-finite losses are refused;
     * every other status means the reader let a bad network through */
    if (st != FM_OK && st != FM_ERR_NODERIV && st != FM_ERR_NONFINITE)
        finding("train step failed on a loaded network", st);
done:
    free(X);
    free(Y);
    free(out);
}

/* CRC-32 of docs/FORMAT.md §3 (zlib's), bit by bit: inputs are small. */
static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

/* One load of data[0..size) and, when it loads, the checks above. */
static void load_one(const uint8_t *data, size_t size) {
    fm_net_t *net = NULL;
    void *mean = NULL, *scale = NULL;
    char *meta = NULL;
    size_t meta_len = 0;
    int st = fm_model_load_buffer(data, size, &net, &mean, &scale, &meta,
                                  &meta_len);
    if (st != FM_OK) {
        if (st != FM_ERR_FORMAT && st != FM_ERR_VERSION && st != FM_ERR_CHECKSUM)
            finding("unexpected status for a refused file", st);
        if (net || mean || scale || meta || meta_len)
            finding("a refused file left outputs set", st);
        return;
    }
    if (net == NULL || fm_net_n_in(net) < 1 || fm_net_n_layers(net) < 1)
        finding("accepted file gave no usable network", st);
    if ((meta == NULL) != (meta_len == 0) || (meta && meta[meta_len] != '\0'))
        finding("metadata not returned as documented", st);
    /* mean and scale hold n_in values: read them all (ASan checks) */
    const size_t es = fm_net_dtype(net) == FM_F32 ? sizeof(float) : sizeof(double);
    unsigned char acc = 0;
    for (size_t i = 0; mean && i < (size_t)fm_net_n_in(net) * es; i++)
        acc ^= ((unsigned char *)mean)[i];
    for (size_t i = 0; scale && i < (size_t)fm_net_n_in(net) * es; i++)
        acc ^= ((unsigned char *)scale)[i];
    (void)acc;
    exercise(net);
    fm_net_free(net);
    free(mean);
    free(scale);
    free(meta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_one(data, size);
    if (size < 8) return 0;
    uint8_t *fixed = malloc(size);
    if (fixed == NULL) return 0;
    memcpy(fixed, data, size);
    const uint32_t crc = crc32_of(fixed, size - 4);
    for (int k = 0; k < 4; k++) fixed[size - 4 + k] = (uint8_t)(crc >> (8 * k));
    load_one(fixed, size);
    free(fixed);
    return 0;
}

#ifdef FM_FUZZ_MAIN
#include <dirent.h>
#include <sys/stat.h>

/* Feed one file to the harness; 0 on success, 1 if it cannot be read. */
static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *bigger = realloc(buf, cap *= 2);
        if (bigger == NULL) free(buf);
        buf = bigger;
    }
    int bad = buf == NULL || ferror(f);
    fclose(f);
    if (!bad) LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return bad;
}

int main(int argc, char **argv) {
    long count = 0;
    for (int a = 1; a < argc; a++) {
        struct stat sb;
        if (stat(argv[a], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(argv[a]);
            struct dirent *e;
            while (d && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.') continue;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
                if (replay_file(path) != 0) {
                    fprintf(stderr, "cannot read %s\n", path);
                    return 2;
                }
                count++;
            }
            if (d) closedir(d);
        } else {
            if (replay_file(argv[a]) != 0) {
                fprintf(stderr, "cannot read %s\n", argv[a]);
                return 2;
            }
            count++;
        }
    }
    printf("replayed %ld inputs\n", count);
    return 0;
}
#endif
