/*
 * predict.c - run a fastmlp model file from C: load the model, read the
 * inputs from a text file, print one line of predictions per input row.
 *
 *     predict MODEL INPUTS        (INPUTS "-" reads standard input)
 *
 * MODEL is a file written by fastmlp.MLP.save (Python) or fm_model_save
 * (C); docs/FORMAT.md defines it.  INPUTS holds one sample per line,
 * n_in numbers separated by commas and/or blanks; blank lines and lines
 * starting with '#' are skipped.  When the file stores an input
 * standardisation, x' = (x − mean) / scale is applied first, in the
 * model's dtype, exactly as MLP.predict does, so the output is the
 * Python package's bit for bit on the same instruction-set path
 * (FASTMLP_ISA).  Values are printed with %.9g (float32) or %.17g
 * (float64): enough digits to read back the exact value.
 *
 * Exit status: 0 on success, 1 on any error (the library's errors are
 * reported with fm_strerror), 2 on bad usage.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastmlp.h"

static const char *prog = "predict";

/* Growable array of doubles: the inputs, row after row. */
typedef struct {
    double *v;
    size_t n, cap;
} dvec_t;

/* Append x; 0 if memory ran out (or the size would overflow). */
static int dvec_push(dvec_t *d, double x) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 1024;
        if (cap < d->cap || cap > SIZE_MAX / sizeof(double)) return 0;
        double *v = realloc(d->v, cap * sizeof(double));
        if (v == NULL) return 0;
        d->v = v, d->cap = cap;
    }
    d->v[d->n++] = x;
    return 1;
}

/*
 * Read every sample of `in` into *X (row-major, n_in values per row) and
 * set *n_rows.  Prints the problem (with its line number) and returns 0
 * on a malformed line.
 */
static int read_inputs(FILE *in, const char *name, int64_t n_in, dvec_t *X,
                       int64_t *n_rows) {
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int ok = 1;
    *n_rows = 0;
    while (ok && getline(&line, &cap, in) != -1) {
        lineno++;
        char *p = line;
        p += strspn(p, " \t\r\n");
        if (*p == '\0' || *p == '#') continue; /* blank or comment */
        int64_t count = 0;
        while (*p != '\0') {
            char *end;
            errno = 0;
            double x = strtod(p, &end);
            if (end == p) {
                fprintf(stderr, "%s: %s:%ld: not a number: \"%.20s\"\n", prog,
                        name, lineno, p);
                ok = 0;
                break;
            }
            /* the model refuses non-finite inputs, as MLP.predict does */
            if (!isfinite(x)) {
                fprintf(stderr, "%s: %s:%ld: value %ld is not finite\n", prog,
                        name, lineno, (long)count + 1);
                ok = 0;
                break;
            }
            if (!dvec_push(X, x)) {
                fprintf(stderr, "%s: %s: out of memory\n", prog, name);
                ok = 0;
                break;
            }
            count++;
            p = end + strspn(end, " \t\r\n");
            if (*p == ',') p += 1 + strspn(p + 1, " \t\r\n");
        }
        if (ok && count != n_in) {
            fprintf(stderr, "%s: %s:%ld: %ld values, the model expects %ld\n",
                    prog, name, lineno, (long)count, (long)n_in);
            ok = 0;
        }
        if (ok) (*n_rows)++;
    }
    if (ok && ferror(in)) {
        fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
        ok = 0;
    }
    free(line);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL INPUTS   (INPUTS '-' = stdin)\n", prog);
        return 2;
    }
    const char *model_path = argv[1], *input_path = argv[2];
    fm_net_t *net = NULL;
    void *mean = NULL, *scale = NULL, *X = NULL, *out = NULL;
    dvec_t raw = {NULL, 0, 0};
    FILE *in = NULL;
    int status = 1;

    /* 1. the model, with its optional standardisation */
    int st = fm_model_load(model_path, &net, &mean, &scale, NULL, NULL);
    if (st != FM_OK) {
        fprintf(stderr, "%s: cannot load %s: %s\n", prog, model_path,
                fm_strerror(st));
        goto done;
    }
    const int64_t n_in = fm_net_n_in(net), n_out = fm_net_n_out(net);
    const int f32 = fm_net_dtype(net) == FM_F32;
    const size_t es = f32 ? sizeof(float) : sizeof(double);

    /* 2. the inputs, as doubles */
    in = strcmp(input_path, "-") == 0 ? stdin : fopen(input_path, "r");
    if (in == NULL) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, input_path,
                strerror(errno));
        goto done;
    }
    int64_t n = 0;
    if (!read_inputs(in, input_path, n_in, &raw, &n)) goto done;

    /* 3. X (n, n_in) in the model's dtype; x' = (x − mean) / scale */
    if ((size_t)n > SIZE_MAX / es / (size_t)(n_out > n_in ? n_out : n_in)) {
        fprintf(stderr, "%s: %s\n", prog, fm_strerror(FM_ERR_NOMEM));
        goto done;
    }
    X = malloc(raw.n * es + 1);
    out = malloc((size_t)n * (size_t)n_out * es + 1);
    if (X == NULL || out == NULL) {
        fprintf(stderr, "%s: %s\n", prog, fm_strerror(FM_ERR_NOMEM));
        goto done;
    }
    for (size_t i = 0; i < raw.n; i++) {
        const size_t j = i % (size_t)n_in;
        if (f32) {
            float x = (float)raw.v[i];
            if (mean) x = x - ((const float *)mean)[j];
            if (scale) x = x / ((const float *)scale)[j];
            ((float *)X)[i] = x;
        } else {
            double x = raw.v[i];
            if (mean) x = x - ((const double *)mean)[j];
            if (scale) x = x / ((const double *)scale)[j];
            ((double *)X)[i] = x;
        }
    }

    /* 4. predict and print, one row per line */
    st = fm_net_predict(net, n, X, n_in, out);
    if (st != FM_OK) {
        fprintf(stderr, "%s: predict: %s\n", prog, fm_strerror(st));
        goto done;
    }
    for (int64_t r = 0; r < n; r++) {
        for (int64_t k = 0; k < n_out; k++) {
            const size_t e = (size_t)(r * n_out + k);
            if (f32)
                printf(k ? " %.9g" : "%.9g", (double)((const float *)out)[e]);
            else
                printf(k ? " %.17g" : "%.17g", ((const double *)out)[e]);
        }
        putchar('\n');
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: writing the predictions: %s\n", prog,
                strerror(errno));
        goto done;
    }
    status = 0;

done:
    if (in != NULL && in != stdin) fclose(in);
    free(raw.v);
    free(X);
    free(out);
    free(mean);
    free(scale);
    fm_net_free(net);
    return status;
}
