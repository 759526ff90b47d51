/*
 * rng_tmpl.h - the consumers of the counter-based generator for one dtype
 * T: layer initialisation and inverted dropout.
 *
 * Included by rng.c once per dtype (T, FM_SFX).  Specification:
 * docs/MATH.md, "Initialisers" and "Dropout"; NumPy mirror:
 * fastmlp/reference.py: init_layer, dropout_forward.  Every draw is a
 * pure function of (key, counter), so the values do not depend on the
 * order in which elements are visited.
 */

/* W (fan_in, fan_out), b (fan_out,): W_j = T(std·normal(key, j)) or
 * T(bound·(2·uniform(key, j) − 1)); b_j = 0, or for SKLEARN
 * T(bound·(2·uniform(key, fan_in·fan_out + j) − 1)). */
int FM_SFX(fm_init_layer)(fm_init_t init, uint64_t key, int64_t fan_in,
                          int64_t fan_out, int gain_sigmoid, T *W, T *b) {
    int64_t nw;
    if ((int)init < 0 || init >= FM_INIT_COUNT_) return FM_ERR_ARG;
    if (!fm__mul_ok(fan_in, fan_out, &nw)) return FM_ERR_ARG;
    if ((nw > 0 && W == NULL) || (fan_out > 0 && b == NULL)) return FM_ERR_ARG;

    double scale; /* std for the normal laws, bound for the uniform ones */
    const int normal = init_law(init, fan_in, fan_out, gain_sigmoid, &scale);
    if (normal) {
        for (int64_t j = 0; j < nw; j++)
            W[j] = (T)(scale * fm_rng_normal(key, (uint64_t)j));
    } else {
        for (int64_t j = 0; j < nw; j++)
            W[j] = (T)(scale * (2.0 * fm_rng_uniform(key, (uint64_t)j) - 1.0));
    }
    if (init == FM_INIT_SKLEARN) {
        for (int64_t j = 0; j < fan_out; j++) {
            double u = fm_rng_uniform(key, (uint64_t)nw + (uint64_t)j);
            b[j] = (T)(scale * (2.0 * u - 1.0));
        }
    } else {
        for (int64_t j = 0; j < fan_out; j++) b[j] = (T)0;
    }
    return FM_OK;
}

/* A (rows, cols) ⊙= mask; mask_e = uniform(key, counter0 + e) >= p ?
 * T(1/(1−p)) : 0.  mask may be NULL when backward is not needed. */
int FM_SFX(fm_dropout_forward)(double p, uint64_t key, uint64_t counter0,
                               int64_t rows, int64_t cols, T *A, T *mask) {
    int64_t n;
    if (!(p >= 0 && p < 1)) return FM_ERR_ARG;
    if (!fm__mul_ok(rows, cols, &n)) return FM_ERR_ARG;
    if (n > 0 && A == NULL) return FM_ERR_ARG;
    const T keep = (T)(1.0 / (1.0 - p));
    for (int64_t e = 0; e < n; e++) {
        T m = fm_rng_uniform(key, counter0 + (uint64_t)e) >= p ? keep : (T)0;
        A[e] = A[e] * m;
        if (mask != NULL) mask[e] = m;
    }
    return FM_OK;
}
