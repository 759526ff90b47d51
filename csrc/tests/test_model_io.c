/*
 * test_model_io.c - tests of the model file (csrc/model_io.c against
 * docs/FORMAT.md), organised by what they prove:
 *   - round trips (float32/float64, with and without mean/scale/metadata)
 *     are bit-exact, including NaN payloads, infinities and signed zeros;
 *   - the writer produces exactly the bytes of the FORMAT.md example (the
 *     same constant is checked against the Python writer in
 *     tests/test_format.py, so both writers agree byte for byte);
 *   - every truncation and every single-byte change of a file is refused;
 *   - each validity rule of FORMAT.md section 5 is enforced on its own,
 *     with the checksum repaired so that only that rule can fire;
 *   - absurd headers are refused from the header alone (no allocation
 *     sized by them: under ASan a huge malloc would abort the test);
 *   - saving is atomic: no temporary file is left behind and the previous
 *     file survives a failed save.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastmlp.h"
#include "fm_test.h"

/* The example of FORMAT.md section 8, as written by fastmlp/_format.py. */
static const char GOLDEN_HEX[] =
    "89464d500d0a1a0a010000000000000000000000030000000300000000000000"
    "02000000000000001f0000000000000000000000000000000200000000000000"
    "04000000030000000000000000000000000000000000d03f0100000000000000"
    "06000000040000007b14ae47e17a843f00000000000000000000003f000080bf"
    "000000400000803f000000400000803e0000a0bf000080bf000040bf000000bf"
    "000080be000000000000803e0000003f0000403f0000803f0000a03f7b22636c"
    "6173736573223a5b302c315d2c226e616d65223a2264656d6f227ddebe420b";
static const char GOLDEN_META[] = "{\"classes\":[0,1],\"name\":\"demo\"}";

static char g_dir[64]; /* scratch directory of this run */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void path_in(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", g_dir, name);
}

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    *len = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n)
        *len = (size_t)n;
    fclose(f);
    return buf;
}

static int write_all(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(buf, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Bit-by-bit CRC-32 (FORMAT.md section 3), independent of the table one
 * in model_io.c. */
static uint32_t ref_crc32(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void set_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void set_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void set_f64(unsigned char *p, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    set_u64(p, u);
}
static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const unsigned char *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* Recompute the trailing CRC so that only the edited rule can fail. */
static void fix_crc(unsigned char *buf, size_t len) {
    set_u32(buf + len - 4, ref_crc32(buf, len - 4));
}

/* Load from memory through an exact-size heap copy (so ASan sees any read
 * past the end); the network and outputs are freed.  Returns the status. */
static int load_copy(const unsigned char *buf, size_t len) {
    unsigned char *copy = malloc(len ? len : 1);
    fm_net_t *net = (fm_net_t *)copy; /* sentinel: must become NULL */
    void *mean = copy, *scale = copy;
    char *meta = (char *)copy;
    size_t meta_len = 12345;
    memcpy(copy, buf, len);
    int st = fm_model_load_buffer(copy, len, &net, &mean, &scale, &meta,
                                  &meta_len);
    if (st != FM_OK)
        CHECK(net == NULL && mean == NULL && scale == NULL && meta == NULL &&
              meta_len == 0);
    fm_net_free(net);
    free(mean);
    free(scale);
    free(meta);
    free(copy);
    return st;
}

/* Number of directory entries whose name contains ".tmp-". */
static int count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp-")) n++;
    closedir(d);
    return n;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void remove_dir_contents(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (remove(p) != 0) { /* a directory made by a test */
            rmdir(p);
        }
    }
    closedir(d);
}

static size_t esize_of(fm_dtype_t dt) { return dt == FM_F64 ? 8 : 4; }

/* Store value v (as double) at element i of a float/double array. */
static void put_elem(void *a, fm_dtype_t dt, int64_t i, double v) {
    if (dt == FM_F64) ((double *)a)[i] = v;
    else ((float *)a)[i] = (float)v;
}

/* A small three-layer network with deterministic, partly special,
 * parameter values. */
static fm_net_t *make_net(fm_dtype_t dt) {
    fm_layer_t layers[3] = {
        {5, FM_ACT_RELU, 0.0, FM_INIT_HE_UNIFORM, 0.1},
        {4, FM_ACT_LEAKY_RELU, 0.2, FM_INIT_GLOROT_NORMAL, 0.0},
        {2, FM_ACT_SOFTMAX, 0.0, FM_INIT_SKLEARN, 0.0},
    };
    int st;
    fm_net_t *net = fm_net_create(dt, 3, 3, layers, &st);
    CHECK(net != NULL && st == FM_OK);
    if (!net) return NULL;
    void *p = fm_net_params(net);
    int64_t n = fm_net_n_params(net);
    CHECK(n == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2);
    for (int64_t i = 0; i < n; i++)
        put_elem(p, dt, i, (double)((i * 37) % 101 - 50) / 7.0);
    put_elem(p, dt, 1, -0.0);
    put_elem(p, dt, 2, INFINITY);
    put_elem(p, dt, 3, -INFINITY);
    put_elem(p, dt, 4, NAN);
    return net;
}

/* ------------------------------------------------------------------ */
/* Round trips                                                         */
/* ------------------------------------------------------------------ */

static void check_same_net(const fm_net_t *a, fm_net_t *b) {
    CHECK(fm_net_dtype(a) == fm_net_dtype(b));
    CHECK(fm_net_n_in(a) == fm_net_n_in(b));
    CHECK(fm_net_n_layers(a) == fm_net_n_layers(b));
    CHECK(fm_net_n_params(a) == fm_net_n_params(b));
    for (int l = 0; l < fm_net_n_layers(a) && l < fm_net_n_layers(b); l++) {
        const fm_layer_t *x = fm_net_layer(a, l), *y = fm_net_layer(b, l);
        CHECK(x->units == y->units && x->act == y->act && x->init == y->init);
        CHECK(memcmp(&x->act_param, &y->act_param, sizeof(double)) == 0);
        CHECK(memcmp(&x->dropout, &y->dropout, sizeof(double)) == 0);
    }
    if (fm_net_n_params(a) == fm_net_n_params(b))
        CHECK(memcmp(fm_net_params((fm_net_t *)a), fm_net_params(b),
                     (size_t)fm_net_n_params(a) * esize_of(fm_net_dtype(a))) == 0);
}

static void test_roundtrip(void) {
    const char *metas[2] = {NULL, "{\"classes\":[\"a\",\"b\"],\"lr\":0.001,\"note\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}"};
    char path[256];
    path_in(path, sizeof path, "rt.fmlp");
    for (int d = 0; d < 2; d++) {
        fm_dtype_t dt = d ? FM_F64 : FM_F32;
        size_t es = esize_of(dt);
        fm_net_t *net = make_net(dt);
        if (!net) continue;
        double mean_d[3] = {0.5, -1.25, NAN}, scale_d[3] = {1.0, 2.0, 1e-3};
        unsigned char mean[24], scale[24];
        for (int i = 0; i < 3; i++) {
            put_elem(mean, dt, i, mean_d[i]);
            put_elem(scale, dt, i, scale_d[i]);
        }
        /* variant bits: 1 mean, 2 scale, 4 metadata */
        for (int v = 0; v < 8; v++) {
            const char *meta = (v & 4) ? metas[1] : NULL;
            size_t ml = meta ? strlen(meta) : 0;
            int st = fm_model_save(net, path, (v & 1) ? mean : NULL,
                                   (v & 2) ? scale : NULL, meta, ml);
            CHECK(st == FM_OK);

            fm_net_t *back = NULL;
            void *m = NULL, *s = NULL;
            char *md = NULL;
            size_t mdl = 99;
            st = fm_model_load(path, &back, &m, &s, &md, &mdl);
            CHECK(st == FM_OK && back != NULL);
            if (st != FM_OK || !back) continue;
            check_same_net(net, back);
            CHECK(((v & 1) != 0) == (m != NULL));
            CHECK(((v & 2) != 0) == (s != NULL));
            if (m) CHECK(memcmp(m, mean, 3 * es) == 0);
            if (s) CHECK(memcmp(s, scale, 3 * es) == 0);
            CHECK(mdl == ml);
            CHECK((meta != NULL) == (md != NULL));
            if (md) CHECK(memcmp(md, meta, ml) == 0 && md[ml] == '\0');
            fm_net_free(back);
            free(m);
            free(s);
            free(md);

            /* the buffer loader on the same bytes; outputs not wanted */
            size_t len;
            unsigned char *bytes = read_all(path, &len);
            CHECK(bytes != NULL);
            back = NULL;
            st = fm_model_load_buffer(bytes, len, &back, NULL, NULL, NULL, NULL);
            CHECK(st == FM_OK && back != NULL);
            if (back) check_same_net(net, back);
            fm_net_free(back);
            free(bytes);
        }
        fm_net_free(net);
    }
    CHECK(count_temp_files(g_dir) == 0);
}

/* ------------------------------------------------------------------ */
/* The FORMAT.md example, byte for byte                                */
/* ------------------------------------------------------------------ */

static unsigned char *golden(size_t *len) {
    size_t n = strlen(GOLDEN_HEX) / 2;
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(GOLDEN_HEX + 2 * i, "%2x", &v);
        b[i] = (unsigned char)v;
    }
    *len = n;
    return b;
}

static fm_net_t *golden_net(float *mean, float *scale) {
    fm_layer_t layers[2] = {
        {2, FM_ACT_TANH, 0.0, FM_INIT_GLOROT_UNIFORM, 0.25},
        {1, FM_ACT_LEAKY_RELU, 0.01, FM_INIT_HE_NORMAL, 0.0},
    };
    int st;
    fm_net_t *net = fm_net_create(FM_F32, 3, 2, layers, &st);
    CHECK(net != NULL && fm_net_n_params(net) == 11);
    if (!net) return NULL;
    float *p = fm_net_params(net);
    for (int i = 0; i < 11; i++) p[i] = (float)(i - 5) * 0.25f;
    mean[0] = 0.5f, mean[1] = -1.0f, mean[2] = 2.0f;
    scale[0] = 1.0f, scale[1] = 2.0f, scale[2] = 0.25f;
    return net;
}

static void test_golden(void) {
    char path[256];
    float mean[3], scale[3];
    size_t glen, len;
    unsigned char *gold = golden(&glen);
    fm_net_t *net = golden_net(mean, scale);
    path_in(path, sizeof path, "golden.fmlp");
    CHECK(glen == 223);
    CHECK(fm_model_save(net, path, mean, scale, GOLDEN_META,
                        strlen(GOLDEN_META)) == FM_OK);
    unsigned char *bytes = read_all(path, &len);
    CHECK(bytes && len == glen && memcmp(bytes, gold, glen) == 0);
    /* documented offsets (FORMAT.md section 2) */
    CHECK(memcmp(gold, "\x89" "FMP\r\n\x1a\n", 8) == 0);
    CHECK(get_u32(gold + 8) == 1 && get_u32(gold + 12) == 0);
    CHECK(get_u32(gold + 16) == 0 && get_u32(gold + 20) == 3);
    CHECK(get_u64(gold + 24) == 3 && get_u32(gold + 32) == 2);
    CHECK(get_u64(gold + 40) == strlen(GOLDEN_META) && get_u64(gold + 48) == 0);
    CHECK(get_u64(gold + 56) == 2 && get_u32(gold + 64) == FM_ACT_TANH);
    CHECK(get_u32(gold + glen - 4) == ref_crc32(gold, glen - 4));
    CHECK(ref_crc32((const unsigned char *)"123456789", 9) == 0xCBF43926u);

    fm_net_t *back = NULL;
    void *m = NULL, *s = NULL;
    char *md = NULL;
    size_t mdl = 0;
    CHECK(fm_model_load_buffer(gold, glen, &back, &m, &s, &md, &mdl) == FM_OK);
    if (back) check_same_net(net, back);
    CHECK(m && memcmp(m, mean, sizeof mean) == 0);
    CHECK(s && memcmp(s, scale, sizeof scale) == 0);
    CHECK(md && mdl == strlen(GOLDEN_META) && strcmp(md, GOLDEN_META) == 0);
    fm_net_free(back);
    free(m);
    free(s);
    free(md);
    free(bytes);
    free(gold);
    fm_net_free(net);
}

/* ------------------------------------------------------------------ */
/* Truncation and corruption                                           */
/* ------------------------------------------------------------------ */

static void test_truncation(void) {
    size_t glen;
    unsigned char *gold = golden(&glen);
    char path[256];
    path_in(path, sizeof path, "trunc.fmlp");
    int refused = 0, refused_file = 0;
    for (size_t k = 0; k < glen; k++) {
        refused += load_copy(gold, k) == FM_ERR_FORMAT;
        fm_net_t *net = NULL;
        if (write_all(path, gold, k))
            refused_file += fm_model_load(path, &net, NULL, NULL, NULL, NULL) ==
                            FM_ERR_FORMAT;
        CHECK(net == NULL);
    }
    CHECK(refused == (int)glen);
    CHECK(refused_file == (int)glen);
    /* and one byte too many */
    unsigned char *longer = calloc(1, glen + 1);
    memcpy(longer, gold, glen);
    CHECK(load_copy(longer, glen + 1) == FM_ERR_FORMAT);
    free(longer);
    CHECK(load_copy(gold, glen) == FM_OK);
    free(gold);
}

static void test_every_byte_changed(void) {
    size_t glen;
    unsigned char *gold = golden(&glen);
    unsigned char *buf = malloc(glen);
    int refused = 0, total = 0, other = 0;
    memcpy(buf, gold, glen);
    for (size_t i = 0; i < glen; i++) {
        for (int delta = 1; delta < 256; delta++) {
            buf[i] = (unsigned char)(gold[i] ^ delta);
            fm_net_t *net = NULL;
            int st = fm_model_load_buffer(buf, glen, &net, NULL, NULL, NULL, NULL);
            total++;
            refused += st != FM_OK && net == NULL;
            other += st != FM_ERR_FORMAT && st != FM_ERR_VERSION &&
                     st != FM_ERR_CHECKSUM;
            fm_net_free(net);
        }
        buf[i] = gold[i];
    }
    CHECK(refused == total);
    CHECK(other == 0);
    /* a changed parameter or crc byte is the checksum's to catch */
    buf[150] ^= 0x10;
    CHECK(load_copy(buf, glen) == FM_ERR_CHECKSUM);
    buf[150] ^= 0x10;
    buf[glen - 1] ^= 0x01;
    CHECK(load_copy(buf, glen) == FM_ERR_CHECKSUM);
    free(buf);
    free(gold);
}

static void test_magic_and_text_mode(void) {
    size_t glen;
    unsigned char *gold = golden(&glen);
    unsigned char *buf = malloc(glen + 1);

    memcpy(buf, gold, glen);
    buf[1] = 'X';
    CHECK(load_copy(buf, glen) == FM_ERR_FORMAT);
    CHECK(load_copy((const unsigned char *)"\x89PNG\r\n\x1a\n", 8) == FM_ERR_FORMAT);
    CHECK(load_copy((const unsigned char *)"hello world", 11) == FM_ERR_FORMAT);
    /* CRLF -> LF (the \r at offset 4 removed) */
    memcpy(buf, gold, 4);
    memcpy(buf + 4, gold + 5, glen - 5);
    CHECK(load_copy(buf, glen - 1) == FM_ERR_FORMAT);
    /* LF -> CRLF (a \r inserted before the lone \n at offset 7) */
    memcpy(buf, gold, 7);
    buf[7] = '\r';
    memcpy(buf + 8, gold + 7, glen - 7);
    CHECK(load_copy(buf, glen + 1) == FM_ERR_FORMAT);
    free(buf);
    free(gold);
}

/* ------------------------------------------------------------------ */
/* Versions                                                            */
/* ------------------------------------------------------------------ */

static void test_versions(void) {
    size_t glen;
    unsigned char *gold = golden(&glen);
    unsigned char *buf = malloc(glen + 5);

    memcpy(buf, gold, glen);
    set_u32(buf + 8, 2);
    fix_crc(buf, glen);
    CHECK(load_copy(buf, glen) == FM_ERR_VERSION);
    set_u32(buf + 8, 7); /* newer: refused whatever else it contains */
    CHECK(load_copy(buf, glen) == FM_ERR_VERSION);
    CHECK(load_copy(buf, 16) == FM_ERR_VERSION);
    set_u32(buf + 8, 0);
    fix_crc(buf, glen);
    CHECK(load_copy(buf, glen) == FM_ERR_FORMAT);

    /* a newer minor with 5 extension bytes: read, extension skipped */
    memcpy(buf, gold, glen - 4);
    set_u32(buf + 12, 3);
    set_u64(buf + 48, 5);
    memcpy(buf + glen - 4, "EXTN!", 5);
    fix_crc(buf, glen + 5);
    fm_net_t *net = NULL;
    char *md = NULL;
    size_t mdl = 0;
    CHECK(fm_model_load_buffer(buf, glen + 5, &net, NULL, NULL, &md, &mdl) == FM_OK);
    CHECK(net != NULL && md && strcmp(md, GOLDEN_META) == 0);
    if (net) {
        const float *p = fm_net_params(net);
        CHECK(p[0] == -1.25f && p[10] == 1.25f);
    }
    fm_net_free(net);
    free(md);
    /* ...but a 1.0 file may not have one */
    set_u32(buf + 12, 0);
    fix_crc(buf, glen + 5);
    CHECK(load_copy(buf, glen + 5) == FM_ERR_FORMAT);
    free(buf);
    free(gold);
}

/* ------------------------------------------------------------------ */
/* One validity rule at a time (FORMAT.md section 5)                   */
/* ------------------------------------------------------------------ */

/* Load the golden file with the change `edit` applied at `off` (u32, u64
 * or f64 by kind) and the crc repaired; returns the status. */
static int edited(size_t off, char kind, uint64_t u, double d) {
    size_t glen;
    unsigned char *buf = golden(&glen);
    if (kind == 'i') set_u32(buf + off, (uint32_t)u);
    if (kind == 'q') set_u64(buf + off, u);
    if (kind == 'd') set_f64(buf + off, d);
    fix_crc(buf, glen);
    int st = load_copy(buf, glen);
    free(buf);
    return st;
}

static void test_rules(void) {
    const size_t L0 = 56, L1 = 88; /* layer records of the golden file */
    CHECK(edited(16, 'i', 2, 0) == FM_ERR_FORMAT);            /* dtype      */
    CHECK(edited(20, 'i', 7, 0) == FM_ERR_FORMAT);            /* flags      */
    CHECK(edited(36, 'i', 1, 0) == FM_ERR_FORMAT);            /* reserved   */
    CHECK(edited(24, 'q', 0, 0) == FM_ERR_FORMAT);            /* n_in 0     */
    CHECK(edited(24, 'q', (1ull << 31) + 1, 0) == FM_ERR_FORMAT);
    CHECK(edited(32, 'i', 0, 0) == FM_ERR_FORMAT);            /* n_layers 0 */
    CHECK(edited(32, 'i', 1025, 0) == FM_ERR_FORMAT);
    CHECK(edited(32, 'i', 0xFFFFFFFFu, 0) == FM_ERR_FORMAT);
    CHECK(edited(40, 'q', UINT64_MAX, 0) == FM_ERR_FORMAT);   /* meta_len   */
    CHECK(edited(40, 'q', 30, 0) == FM_ERR_FORMAT);
    CHECK(edited(L0, 'q', 0, 0) == FM_ERR_FORMAT);            /* units 0    */
    CHECK(edited(L0, 'q', (1ull << 31) + 1, 0) == FM_ERR_FORMAT);
    CHECK(edited(L0, 'q', 3, 0) == FM_ERR_FORMAT);            /* size off   */
    CHECK(edited(L0 + 8, 'i', FM_ACT_COUNT_, 0) == FM_ERR_FORMAT);
    CHECK(edited(L0 + 8, 'i', 99, 0) == FM_ERR_FORMAT);
    CHECK(edited(L0 + 12, 'i', FM_INIT_COUNT_, 0) == FM_ERR_FORMAT);
    CHECK(edited(L0 + 16, 'd', 0, NAN) == FM_ERR_FORMAT);     /* act_param  */
    CHECK(edited(L0 + 16, 'd', 0, INFINITY) == FM_ERR_FORMAT);
    CHECK(edited(L0 + 16, 'd', 0, -3.0) == FM_OK);            /* tanh: any  */
    CHECK(edited(L1 + 16, 'd', 0, -0.01) == FM_ERR_FORMAT);   /* leaky < 0  */
    CHECK(edited(L1 + 16, 'd', 0, 0.0) == FM_OK);
    CHECK(edited(L0 + 24, 'd', 0, 1.0) == FM_ERR_FORMAT);     /* dropout    */
    CHECK(edited(L0 + 24, 'd', 0, -0.1) == FM_ERR_FORMAT);
    CHECK(edited(L0 + 24, 'd', 0, NAN) == FM_ERR_FORMAT);
    CHECK(edited(L0 + 24, 'd', 0, 0.0) == FM_OK);
    CHECK(edited(L1 + 24, 'd', 0, 0.5) == FM_ERR_FORMAT);     /* output     */

    /* ELU alpha must be > 0 */
    {
        size_t glen;
        unsigned char *buf = golden(&glen);
        set_u32(buf + L1 + 8, FM_ACT_ELU);
        set_f64(buf + L1 + 16, 0.0);
        fix_crc(buf, glen);
        CHECK(load_copy(buf, glen) == FM_ERR_FORMAT);
        set_f64(buf + L1 + 16, 1.0);
        fix_crc(buf, glen);
        CHECK(load_copy(buf, glen) == FM_OK);
        free(buf);
    }

    /* metadata must be UTF-8: overlong, surrogate, > U+10FFFF, cut short,
     * stray continuation byte (each replaces the last bytes of the blob) */
    static const char *bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                "\xe2\x82", "\x80", "\xff"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        size_t glen, n = strlen(bad[k]);
        unsigned char *buf = golden(&glen);
        memcpy(buf + glen - 4 - n, bad[k], n);
        fix_crc(buf, glen);
        CHECK(load_copy(buf, glen) == FM_ERR_FORMAT);
        free(buf);
    }
}

/* ------------------------------------------------------------------ */
/* Absurd headers                                                      */
/* ------------------------------------------------------------------ */

/* A header-only buffer: fixed part, n_rec records of `units`, crc. */
static unsigned char *absurd(uint64_t n_in, uint32_t n_layers, uint32_t n_rec,
                             uint64_t units, uint32_t dtype, size_t *len) {
    size_t n = 56 + 32 * (size_t)n_rec + 4;
    unsigned char *b = calloc(1, n);
    memcpy(b, "\x89" "FMP\r\n\x1a\n", 8);
    set_u32(b + 8, 1);
    set_u32(b + 16, dtype);
    set_u64(b + 24, n_in);
    set_u32(b + 32, n_layers);
    for (uint32_t l = 0; l < n_rec; l++) {
        set_u64(b + 56 + 32 * (size_t)l, units);
        set_u32(b + 56 + 32 * (size_t)l + 8, FM_ACT_RELU);
    }
    fix_crc(b, n);
    *len = n;
    return b;
}

static void test_absurd_headers(void) {
    struct {
        uint64_t n_in;
        uint32_t n_layers, n_rec;
        uint64_t units;
        uint32_t dtype;
    } cases[] = {
        {3, 0xFFFFFFFFu, 1, 4, 0},      /* 4 billion layers            */
        {3, 1025, 1025, 4, 0},          /* one over the limit          */
        {3, 1024, 1024, 1ull << 31, 1}, /* n_params overflows 64 bits  */
        {1ull << 31, 1, 1, 1ull << 31, 0}, /* 2^62 params: bytes overflow */
        {1ull << 20, 1, 1, 1ull << 20, 1}, /* 8 TiB claimed, 92 present */
        {1ull << 31, 2, 2, 1ull << 31, 1},
        {UINT64_MAX, 1, 1, 4, 0},
        {3, 1, 1, UINT64_MAX, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        size_t len;
        unsigned char *b = absurd(cases[k].n_in, cases[k].n_layers,
                                  cases[k].n_rec, cases[k].units,
                                  cases[k].dtype, &len);
        CHECK(load_copy(b, len) == FM_ERR_FORMAT);
        free(b);
    }

    /* A file whose size is huge (sparse) but whose header describes the
     * small golden model: refused from the header, without reading or
     * allocating the file's size (64 GiB). */
    char path[256];
    size_t glen;
    unsigned char *gold = golden(&glen);
    path_in(path, sizeof path, "sparse.fmlp");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, gold, glen) == (ssize_t)glen);
        int big = ftruncate(fd, (off_t)1 << 36) == 0;
        close(fd);
        if (big) {
            fm_net_t *net = NULL;
            CHECK(fm_model_load(path, &net, NULL, NULL, NULL, NULL) == FM_ERR_FORMAT);
            CHECK(net == NULL);
        } else {
            printf("note: sparse 64 GiB file not supported here, skipped\n");
        }
        remove(path);
    }
    free(gold);
}

/* ------------------------------------------------------------------ */
/* Atomic save and argument errors                                     */
/* ------------------------------------------------------------------ */

static void test_atomic_save(void) {
    char path[256], missing[256], dirpath[256];
    float mean[3], scale[3];
    fm_net_t *net = golden_net(mean, scale);
    size_t len0, len1;
    if (!net) return;
    path_in(path, sizeof path, "atomic.fmlp");
    path_in(missing, sizeof missing, "no_such_dir/m.fmlp");
    path_in(dirpath, sizeof dirpath, "a_directory");

    /* into a directory that does not exist: an error, nothing created */
    int before = count_entries(g_dir);
    CHECK(fm_model_save(net, missing, NULL, NULL, NULL, 0) == FM_ERR_IO);
    CHECK(count_entries(g_dir) == before);

    /* over a directory: the final rename fails, the temp file goes */
    CHECK(mkdir(dirpath, 0755) == 0);
    CHECK(fm_model_save(net, dirpath, NULL, NULL, NULL, 0) == FM_ERR_IO);
    struct stat sb;
    CHECK(stat(dirpath, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK(count_temp_files(g_dir) == 0);
    rmdir(dirpath);

    /* a new file gets the usual permissions (0666 less the umask) */
    mode_t old_mask = umask(022);
    CHECK(fm_model_save(net, path, mean, scale, NULL, 0) == FM_OK);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
    umask(old_mask);
    unsigned char *old = read_all(path, &len0);

    /* a save that fails half-way (file size limit) keeps the old file */
    fm_layer_t big_layers[1] = {{200, FM_ACT_IDENTITY, 0.0, FM_INIT_HE_NORMAL, 0.0}};
    int st;
    fm_net_t *big = fm_net_create(FM_F64, 200, 1, big_layers, &st); /* 315 KiB */
    CHECK(big != NULL);
    struct rlimit saved, small;
    void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    if (big && getrlimit(RLIMIT_FSIZE, &saved) == 0) {
        small = saved;
        small.rlim_cur = 64 * 1024;
        if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
            CHECK(fm_model_save(big, path, NULL, NULL, NULL, 0) == FM_ERR_IO);
            setrlimit(RLIMIT_FSIZE, &saved);
            unsigned char *now = read_all(path, &len1);
            CHECK(now && len1 == len0 && memcmp(now, old, len0) == 0);
            free(now);
            CHECK(count_temp_files(g_dir) == 0);
        } else {
            printf("note: RLIMIT_FSIZE not settable, failed-write test skipped\n");
        }
    }
    signal(SIGXFSZ, saved_handler);

    /* a successful save replaces the file, leaving no temp file */
    CHECK(big && fm_model_save(big, path, NULL, NULL, NULL, 0) == FM_OK);
    fm_net_t *back = NULL;
    CHECK(fm_model_load(path, &back, NULL, NULL, NULL, NULL) == FM_OK);
    CHECK(back && fm_net_n_params(back) == 200 * 200 + 200);
    fm_net_free(back);
    CHECK(count_temp_files(g_dir) == 0);

    /* argument errors write nothing */
    before = count_entries(g_dir);
    CHECK(fm_model_save(NULL, path, NULL, NULL, NULL, 0) == FM_ERR_ARG);
    CHECK(fm_model_save(net, NULL, NULL, NULL, NULL, 0) == FM_ERR_ARG);
    CHECK(fm_model_save(net, "", NULL, NULL, NULL, 0) == FM_ERR_ARG);
    CHECK(fm_model_save(net, path, NULL, NULL, NULL, 3) == FM_ERR_ARG);
    CHECK(fm_model_save(net, path, NULL, NULL, "\xff\xfe", 2) == FM_ERR_ARG);
    CHECK(count_entries(g_dir) == before);

    free(old);
    fm_net_free(big);
    fm_net_free(net);
}

static void test_load_errors(void) {
    char path[256];
    fm_net_t *net = (fm_net_t *)&net;
    path_in(path, sizeof path, "does_not_exist.fmlp");
    CHECK(fm_model_load(path, &net, NULL, NULL, NULL, NULL) == FM_ERR_IO);
    CHECK(net == NULL);
    CHECK(fm_model_load(g_dir, &net, NULL, NULL, NULL, NULL) == FM_ERR_IO);
    CHECK(fm_model_load(NULL, &net, NULL, NULL, NULL, NULL) == FM_ERR_ARG);
    CHECK(fm_model_load(path, NULL, NULL, NULL, NULL, NULL) == FM_ERR_ARG);
    CHECK(fm_model_load_buffer(NULL, 10, &net, NULL, NULL, NULL, NULL) == FM_ERR_ARG);
    CHECK(fm_model_load_buffer("x", 1, NULL, NULL, NULL, NULL, NULL) == FM_ERR_ARG);
    CHECK(load_copy((const unsigned char *)"", 0) == FM_ERR_FORMAT);
}

int main(void) {
    strcpy(g_dir, "/tmp/fm_test_model_io_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrip();
    test_golden();
    test_truncation();
    test_every_byte_changed();
    test_magic_and_text_mode();
    test_versions();
    test_rules();
    test_absurd_headers();
    test_atomic_save();
    test_load_errors();
    remove_dir_contents(g_dir);
    rmdir(g_dir);
    FM_TEST_MAIN_END();
}
