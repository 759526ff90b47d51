/*
 * model_io.c - the fastmlp model file: fm_model_save, fm_model_load and
 * fm_model_load_buffer.
 *
 * Owns the binary format's C implementation; the format itself is defined
 * in docs/FORMAT.md (section numbers below refer to it) and mirrored in
 * Python by fastmlp/_format.py, which writes byte-identical files and
 * applies the same validity rules in the same order.
 *
 * Safety: a file is data only.  Every length read from a file is checked
 * against the bytes that are really there before it is used, every size
 * product and sum is overflow-checked, and nothing is allocated from a
 * size that has not passed rules 1-7 of section 5 (which tie all sizes to
 * the real file length).
 *
 * The network is reached only through the public fm_net_* functions.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "fastmlp.h"

/* ------------------------------------------------------------------ */
/* Format constants (section 2)                                        */
/* ------------------------------------------------------------------ */

#define MF_MAGIC "\x89" "FMP\r\n\x1a\n" /* 8 bytes, PNG-style */
#define MF_MAGIC_LEN 8u
#define MF_MAJOR 1u  /* newest major this code reads and the one it writes */
#define MF_MINOR 0u  /* newest minor this code knows; written as is     */
#define MF_FIXED 56u /* fixed header                                    */
#define MF_LAYER 32u /* one layer record                                */
#define MF_CRC 4u    /* trailing CRC-32                                 */
#define MF_MAX_LAYERS 1024u
#define MF_MAX_DIM ((uint64_t)1 << 31) /* limit of n_in and units      */
#define MF_FLAG_MEAN 1u
#define MF_FLAG_SCALE 2u
#define MF_N_ACT 13u  /* activation codes 0..12 (section 2 table)        */
#define MF_N_INIT 7u  /* init codes 0..6                                 */
/* Longest prefix rules 1-7 ever look at (fixed header + 1024 records). */
#define MF_MAX_HEADER (MF_FIXED + MF_LAYER * MF_MAX_LAYERS + MF_CRC)

/* A new enum value changes which files are valid: update FORMAT.md and
 * fastmlp/_format.py together with these. */
_Static_assert(FM_ACT_COUNT_ == MF_N_ACT, "activation codes changed: see docs/FORMAT.md");
_Static_assert(FM_INIT_COUNT_ == MF_N_INIT, "init codes changed: see docs/FORMAT.md");

/* Everything rules 1-7 derive from the header (section 2). */
typedef struct {
    uint32_t major, minor, dtype, flags, n_layers;
    uint64_t n_in, meta_len, ext_len;
    uint64_t esize;    /* E: 4 or 8                                     */
    uint64_t n_params; /* Σ_l fan_in_l·u_l + u_l                         */
    uint64_t off_mean, off_scale, off_params, off_meta, off_ext, total;
} mf_header_t;

/* One layer record as stored (section 2, 32 bytes). */
typedef struct {
    uint64_t units;
    uint32_t act, init;
    double act_param, dropout;
} mf_record_t;

/* ------------------------------------------------------------------ */
/* Little-endian encoding and checked arithmetic                       */
/* ------------------------------------------------------------------ */

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static double get_f64(const unsigned char *p) {
    uint64_t u = get_u64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_f64(unsigned char *p, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    put_u64(p, u);
}

static int host_is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* dst (n elements of esize bytes, host order) := src (little-endian), or
 * the reverse: the conversion is its own inverse. */
static void copy_le(void *dst, const void *src, size_t n, size_t esize) {
    if (host_is_little_endian()) {
        memcpy(dst, src, n * esize);
        return;
    }
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++, d += esize, s += esize)
        for (size_t k = 0; k < esize; k++) d[k] = s[esize - 1 - k];
}

/* *r = a + b, 0 on overflow. */
static int add_ok(uint64_t a, uint64_t b, uint64_t *r) {
    if (b > UINT64_MAX - a) return 0;
    *r = a + b;
    return 1;
}

/* *r = a·b, 0 on overflow. */
static int mul_ok(uint64_t a, uint64_t b, uint64_t *r) {
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *r = a * b;
    return 1;
}

/* ------------------------------------------------------------------ */
/* CRC-32 (section 3): reflected 0xEDB88320, init and final XOR ~0     */
/* ------------------------------------------------------------------ */

/* crc_table[b] = CRC register after shifting byte b through 8 steps of the
 * reflected polynomial (generated once by a short loop, stored here so
 * there is no lazy, racy initialisation). */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du
};

/* Continue a CRC-32 over p[0..n): start with crc = 0, like zlib.crc32. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

/* ------------------------------------------------------------------ */
/* Validity rules (section 5)                                          */
/* ------------------------------------------------------------------ */

/* Rule 9: strict UTF-8 (as Python's decoder: no overlong forms, no
 * surrogates, nothing above U+10FFFF).  1 if valid. */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t more;
        unsigned lo = 0x80, hi = 0xBF; /* range of the 2nd byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2;
            if (c == 0xE0) lo = 0xA0;       /* no overlong 3-byte forms */
            if (c == 0xED) hi = 0x9F;       /* no surrogates            */
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            if (c == 0xF0) lo = 0x90;       /* no overlong 4-byte forms */
            if (c == 0xF4) hi = 0x8F;       /* nothing above U+10FFFF   */
        } else {
            return 0;
        }
        if (more > n - i - 1) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= more; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
        i += more + 1;
    }
    return 1;
}

/* Rule 6 for one layer record (last: it is the output layer). */
static int record_valid(const mf_record_t *r, int last) {
    if (r->units < 1 || r->units > MF_MAX_DIM) return 0;
    if (r->act >= MF_N_ACT || r->init >= MF_N_INIT) return 0;
    if (!isfinite(r->act_param)) return 0;
    if (r->act == FM_ACT_LEAKY_RELU && !(r->act_param >= 0)) return 0;
    if (r->act == FM_ACT_ELU && !(r->act_param > 0)) return 0;
    if (!(r->dropout >= 0 && r->dropout < 1)) return 0; /* NaN fails */
    if (last && r->dropout != 0) return 0;
    return 1;
}

static void get_record(const unsigned char *p, mf_record_t *r) {
    r->units = get_u64(p);
    r->act = get_u32(p + 8);
    r->init = get_u32(p + 12);
    r->act_param = get_f64(p + 16);
    r->dropout = get_f64(p + 24);
}

static void put_record(unsigned char *p, const mf_record_t *r) {
    put_u64(p, r->units);
    put_u32(p + 8, r->act);
    put_u32(p + 12, r->init);
    put_f64(p + 16, r->act_param);
    put_f64(p + 24, r->dropout);
}

/* *n_params += fan_in·units + units; 0 on overflow. */
static int add_layer_params(uint64_t *n_params, uint64_t fan_in,
                            uint64_t units) {
    uint64_t w;
    return mul_ok(fan_in, units, &w) && add_ok(*n_params, w, n_params) &&
           add_ok(*n_params, units, n_params);
}

/* Section offsets and total from the fields and n_params (rule 7's size
 * computation, every step checked).  0 on overflow. */
static int layout(mf_header_t *h) {
    uint64_t vec, params, off;
    int m = (h->flags & MF_FLAG_MEAN) != 0, s = (h->flags & MF_FLAG_SCALE) != 0;
    h->esize = h->dtype == FM_F64 ? 8 : 4;
    if (!mul_ok(h->n_in, h->esize, &vec)) return 0;
    if (!mul_ok(h->n_params, h->esize, &params)) return 0;
    off = MF_FIXED + (uint64_t)MF_LAYER * h->n_layers; /* n_layers <= 1024 */
    h->off_mean = off;
    if (m && !add_ok(off, vec, &off)) return 0;
    h->off_scale = off;
    if (s && !add_ok(off, vec, &off)) return 0;
    h->off_params = off;
    if (!add_ok(off, params, &off)) return 0;
    h->off_meta = off;
    if (!add_ok(off, h->meta_len, &off)) return 0;
    h->off_ext = off;
    if (!add_ok(off, h->ext_len, &off)) return 0;
    if (!add_ok(off, MF_CRC, &h->total)) return 0;
    return 1;
}

/*
 * Rules 1-7 on a file of len bytes whose first avail bytes are p[0..avail),
 * avail >= min(len, MF_MAX_HEADER).  Reads nothing beyond what rules 3 and
 * 5 have shown to be present.  FM_OK and *h filled, or the rule's status.
 */
static int parse_header(const unsigned char *p, size_t avail, uint64_t len,
                        mf_header_t *h) {
    size_t nm = len < MF_MAGIC_LEN ? (size_t)len : MF_MAGIC_LEN;
    memset(h, 0, sizeof *h);
    /* 1: magic (a short file must at least start like one) */
    if (nm > 0 && memcmp(p, MF_MAGIC, nm) != 0) return FM_ERR_FORMAT;
    /* 2: major version, before anything whose layout it could change */
    if (len >= 12) {
        h->major = get_u32(p + 8);
        if (h->major == 0) return FM_ERR_FORMAT;
        if (h->major > MF_MAJOR) return FM_ERR_VERSION;
    }
    /* 3: room for the fixed header and the crc */
    if (len < MF_FIXED + MF_CRC || avail < MF_FIXED + MF_CRC)
        return FM_ERR_FORMAT;
    /* 4: fixed fields */
    h->minor = get_u32(p + 12);
    h->dtype = get_u32(p + 16);
    h->flags = get_u32(p + 20);
    h->n_in = get_u64(p + 24);
    h->n_layers = get_u32(p + 32);
    h->meta_len = get_u64(p + 40);
    h->ext_len = get_u64(p + 48);
    if (h->dtype != FM_F32 && h->dtype != FM_F64) return FM_ERR_FORMAT;
    if (h->flags & ~(uint32_t)(MF_FLAG_MEAN | MF_FLAG_SCALE))
        return FM_ERR_FORMAT;
    if (get_u32(p + 36) != 0) return FM_ERR_FORMAT;
    if (h->n_in < 1 || h->n_in > MF_MAX_DIM) return FM_ERR_FORMAT;
    if (h->n_layers < 1 || h->n_layers > MF_MAX_LAYERS) return FM_ERR_FORMAT;
    if (h->minor <= MF_MINOR && h->ext_len != 0) return FM_ERR_FORMAT;
    /* 5: the layer table is there (n_layers <= 1024: no overflow) */
    uint64_t need = MF_FIXED + (uint64_t)MF_LAYER * h->n_layers + MF_CRC;
    if (len < need || avail < need) return FM_ERR_FORMAT;
    /* 6: each layer; n_params accumulated with checks (part of rule 7) */
    uint64_t fan_in = h->n_in;
    int overflow = 0;
    for (uint32_t l = 0; l < h->n_layers; l++) {
        mf_record_t r;
        get_record(p + MF_FIXED + (size_t)MF_LAYER * l, &r);
        if (!record_valid(&r, l + 1 == h->n_layers)) return FM_ERR_FORMAT;
        if (!overflow && !add_layer_params(&h->n_params, fan_in, r.units))
            overflow = 1;
        fan_in = r.units;
    }
    /* 7: every size computed without overflow and equal to the length */
    if (overflow || !layout(h)) return FM_ERR_FORMAT;
    if (h->total != len) return FM_ERR_FORMAT;
    return FM_OK;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

int fm_model_load_buffer(const void *buf, size_t len, fm_net_t **net,
                         void **mean, void **scale, char **meta,
                         size_t *meta_len) {
    const unsigned char *p = buf;
    mf_header_t h;
    fm_layer_t *layers = NULL;
    fm_net_t *nn = NULL;
    void *mn = NULL, *sc = NULL;
    char *md = NULL;
    int st;

    if (net) *net = NULL;
    if (mean) *mean = NULL;
    if (scale) *scale = NULL;
    if (meta) *meta = NULL;
    if (meta_len) *meta_len = 0;
    if (!net || !buf) return FM_ERR_ARG;

    /* Rules 1-7, then 8 (checksum) and 9 (UTF-8 metadata). */
    st = parse_header(p, len, len, &h);
    if (st != FM_OK) return st;
    if (get_u32(p + len - MF_CRC) != crc32_update(0, p, len - MF_CRC))
        return FM_ERR_CHECKSUM;
    if (!utf8_valid(p + h.off_meta, (size_t)h.meta_len)) return FM_ERR_FORMAT;

    /* Every size below is now bounded by len. */
    layers = malloc(sizeof *layers * h.n_layers); /* n_layers <= 1024 */
    if (!layers) return FM_ERR_NOMEM;
    for (uint32_t l = 0; l < h.n_layers; l++) {
        mf_record_t r;
        get_record(p + MF_FIXED + (size_t)MF_LAYER * l, &r);
        layers[l].units = (int64_t)r.units;
        layers[l].act = (fm_act_t)r.act;
        layers[l].act_param = r.act_param;
        layers[l].init = (fm_init_t)r.init;
        layers[l].dropout = r.dropout;
    }
    nn = fm_net_create((fm_dtype_t)h.dtype, (int64_t)h.n_in, (int)h.n_layers,
                       layers, &st);
    free(layers);
    if (!nn) return st == FM_ERR_NOMEM ? FM_ERR_NOMEM : FM_ERR_FORMAT;
    /* The network's buffer must have exactly the documented layout. */
    if (fm_net_n_params(nn) < 0 || (uint64_t)fm_net_n_params(nn) != h.n_params ||
        !fm_net_params(nn)) {
        st = FM_ERR_FORMAT;
        goto fail;
    }
    copy_le(fm_net_params(nn), p + h.off_params, (size_t)h.n_params,
            (size_t)h.esize);

    st = FM_ERR_NOMEM;
    if (mean && (h.flags & MF_FLAG_MEAN)) {
        if (!(mn = malloc((size_t)(h.n_in * h.esize)))) goto fail;
        copy_le(mn, p + h.off_mean, (size_t)h.n_in, (size_t)h.esize);
    }
    if (scale && (h.flags & MF_FLAG_SCALE)) {
        if (!(sc = malloc((size_t)(h.n_in * h.esize)))) goto fail;
        copy_le(sc, p + h.off_scale, (size_t)h.n_in, (size_t)h.esize);
    }
    if (meta && h.meta_len > 0) { /* meta_len < len, so + 1 fits */
        if (!(md = malloc((size_t)h.meta_len + 1))) goto fail;
        memcpy(md, p + h.off_meta, (size_t)h.meta_len);
        md[h.meta_len] = '\0';
    }

    *net = nn;
    if (mean) *mean = mn;
    if (scale) *scale = sc;
    if (meta) *meta = md;
    if (meta_len) *meta_len = md ? (size_t)h.meta_len : 0;
    return FM_OK;

fail:
    fm_net_free(nn);
    free(mn);
    free(sc);
    free(md);
    return st;
}

/* Read up to n bytes (fewer only at end of file); bytes read or -1. */
static ptrdiff_t read_full(int fd, unsigned char *dst, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, dst + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ptrdiff_t)got;
}

int fm_model_load(const char *path, fm_net_t **net, void **mean, void **scale,
                  char **meta, size_t *meta_len) {
    struct stat sb;
    unsigned char *head = NULL, *buf = NULL;
    mf_header_t h;
    int fd, st;

    if (net) *net = NULL;
    if (mean) *mean = NULL;
    if (scale) *scale = NULL;
    if (meta) *meta = NULL;
    if (meta_len) *meta_len = 0;
    if (!path || !net) return FM_ERR_ARG;

    do fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return FM_ERR_IO;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0) {
        st = FM_ERR_IO;
        goto done;
    }
    uint64_t size = (uint64_t)sb.st_size;

    /* Rules 1-7 on the first bytes against the real size: an absurd or
     * inconsistent header is refused before the file is read. */
    size_t prefix = size < MF_MAX_HEADER ? (size_t)size : MF_MAX_HEADER;
    st = FM_ERR_NOMEM;
    if (!(head = malloc(MF_MAX_HEADER))) goto done;
    st = FM_ERR_IO;
    if (read_full(fd, head, prefix) != (ptrdiff_t)prefix) goto done;
    st = parse_header(head, prefix, size, &h);
    if (st != FM_OK) goto done;

    /* size == total now, and total is at most what the header allows. */
    st = FM_ERR_NOMEM;
    if (size > SIZE_MAX || !(buf = malloc((size_t)size))) goto done;
    memcpy(buf, head, prefix);
    st = FM_ERR_IO;
    if (read_full(fd, buf + prefix, (size_t)size - prefix) !=
        (ptrdiff_t)((size_t)size - prefix))
        goto done; /* the file shrank while being read */
    st = fm_model_load_buffer(buf, (size_t)size, net, mean, scale, meta,
                              meta_len);
done:
    close(fd);
    free(head);
    free(buf);
    return st;
}

/* ------------------------------------------------------------------ */
/* Saving                                                              */
/* ------------------------------------------------------------------ */

#define MF_WBUF (1u << 16)

/* Buffered writer that keeps the running CRC of everything put. */
typedef struct {
    int fd;
    int failed; /* a write failed: stop writing, report FM_ERR_IO */
    uint32_t crc;
    size_t n; /* bytes waiting in buf */
    unsigned char buf[MF_WBUF];
} mf_writer_t;

static void w_flush(mf_writer_t *w) {
    size_t done = 0;
    while (!w->failed && done < w->n) {
        ssize_t r = write(w->fd, w->buf + done, w->n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) w->failed = 1;
        else done += (size_t)r;
    }
    w->n = 0;
}

static void w_put(mf_writer_t *w, const void *src, size_t len) {
    const unsigned char *s = src;
    w->crc = crc32_update(w->crc, s, len);
    while (len > 0 && !w->failed) {
        size_t k = MF_WBUF - w->n < len ? MF_WBUF - w->n : len;
        memcpy(w->buf + w->n, s, k);
        w->n += k;
        s += k;
        len -= k;
        if (w->n == MF_WBUF) w_flush(w);
    }
}

/* Put n host-order elements of esize bytes as little-endian. */
static void w_put_le(mf_writer_t *w, const void *src, size_t n, size_t esize) {
    const unsigned char *s = src;
    unsigned char tmp[4096];
    size_t per = sizeof tmp / esize;
    if (host_is_little_endian()) {
        w_put(w, src, n * esize);
        return;
    }
    while (n > 0) {
        size_t k = n < per ? n : per;
        copy_le(tmp, s, k, esize);
        w_put(w, tmp, k * esize);
        s += k * esize;
        n -= k;
    }
}

/* splitmix64 finaliser: spreads the bits of a temp-name seed. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/*
 * Create "<path>.tmp-XXXXXX" exclusively (O_EXCL: never an existing file
 * or a symlink), mode 0666 before the umask so the renamed file gets the
 * permissions of any new file (mkstemp would make it 0600).  The six
 * characters come from the clock, the pid, a stack address and the
 * attempt number; a name that exists is simply retried.  Returns the
 * descriptor and the name in *tmp_out (malloc'ed), or -1 and a status.
 */
static int create_temp(const char *path, char **tmp_out, int *status) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp-XXXXXX");
    struct timespec ts;
    uint64_t seed;
    int fd = -1;

    *tmp_out = NULL;
    if (!tmp) {
        *status = FM_ERR_NOMEM;
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) ts.tv_sec = ts.tv_nsec = 0;
    seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
           (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&seed;
    for (uint64_t attempt = 0; attempt < 100; attempt++) {
        uint64_t r = mix64(seed + attempt * 0x9E3779B97F4A7C15u);
        for (int i = 0; i < 6; i++, r /= 62)
            tmp[plen + 5 + i] = alphabet[r % 62];
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            return fd;
        }
        if (errno != EEXIST && errno != EINTR) break;
    }
    free(tmp);
    *status = FM_ERR_IO;
    return -1;
}

/* Best-effort fsync of the directory holding path, so the rename itself
 * survives a crash.  Errors are ignored (some file systems refuse). */
static void sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    size_t n;
    int fd;
    if (!slash) {
        dir = malloc(2);
        if (dir) memcpy(dir, ".", 2);
    } else {
        n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir) return;
    fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int fm_model_save(const fm_net_t *net, const char *path, const void *mean,
                  const void *scale, const char *meta, size_t meta_len) {
    mf_header_t h;
    unsigned char *head = NULL;
    mf_writer_t *w = NULL;
    char *tmp = NULL;
    const void *params;
    int fd = -1, st;

    /* Check what would be written against the reader's rules, so a file
     * this library writes is always one it can read (FORMAT.md section 7). */
    if (!net || !path || !*path || (meta_len > 0 && !meta)) return FM_ERR_ARG;
    if (!utf8_valid((const unsigned char *)meta, meta_len)) return FM_ERR_ARG;
    memset(&h, 0, sizeof h);
    h.major = MF_MAJOR;
    h.minor = MF_MINOR;
    h.dtype = (uint32_t)fm_net_dtype(net);
    h.flags = (mean ? MF_FLAG_MEAN : 0u) | (scale ? MF_FLAG_SCALE : 0u);
    if (fm_net_n_in(net) < 1 || (uint64_t)fm_net_n_in(net) > MF_MAX_DIM ||
        fm_net_n_layers(net) < 1 ||
        (uint64_t)fm_net_n_layers(net) > MF_MAX_LAYERS ||
        (h.dtype != FM_F32 && h.dtype != FM_F64))
        return FM_ERR_ARG;
    h.n_in = (uint64_t)fm_net_n_in(net);
    h.n_layers = (uint32_t)fm_net_n_layers(net);
    h.meta_len = meta_len;
    h.ext_len = 0;
    params = fm_net_params((fm_net_t *)net); /* read only; the accessor
                                                 takes a non-const net */
    if (!params) return FM_ERR_ARG;

    /* Header and layer table, built in memory (at most MF_MAX_HEADER). */
    size_t head_len = MF_FIXED + (size_t)MF_LAYER * h.n_layers;
    if (!(head = calloc(1, head_len))) return FM_ERR_NOMEM;
    uint64_t fan_in = h.n_in;
    st = FM_ERR_ARG;
    for (uint32_t l = 0; l < h.n_layers; l++) {
        const fm_layer_t *L = fm_net_layer(net, (int)l);
        mf_record_t r;
        if (!L || L->units < 1) goto fail;
        r.units = (uint64_t)L->units;
        r.act = (uint32_t)L->act;
        r.init = (uint32_t)L->init;
        r.act_param = L->act_param;
        r.dropout = L->dropout;
        if (!record_valid(&r, l + 1 == h.n_layers)) goto fail;
        if (!add_layer_params(&h.n_params, fan_in, r.units)) goto fail;
        put_record(head + MF_FIXED + (size_t)MF_LAYER * l, &r);
        fan_in = r.units;
    }
    if (!layout(&h) || fm_net_n_params(net) < 0 ||
        (uint64_t)fm_net_n_params(net) != h.n_params || h.n_params > SIZE_MAX / 8)
        goto fail;
    memcpy(head, MF_MAGIC, MF_MAGIC_LEN);
    put_u32(head + 8, h.major);
    put_u32(head + 12, h.minor);
    put_u32(head + 16, h.dtype);
    put_u32(head + 20, h.flags);
    put_u64(head + 24, h.n_in);
    put_u32(head + 32, h.n_layers);
    put_u32(head + 36, 0); /* reserved */
    put_u64(head + 40, h.meta_len);
    put_u64(head + 48, h.ext_len);

    /* Write everything to a fresh temporary file in the same directory. */
    st = FM_ERR_NOMEM;
    if (!(w = malloc(sizeof *w))) goto fail;
    fd = create_temp(path, &tmp, &st);
    if (fd < 0) goto fail;
    w->fd = fd;
    w->failed = 0;
    w->crc = 0;
    w->n = 0;
    w_put(w, head, head_len);
    if (mean) w_put_le(w, mean, (size_t)h.n_in, (size_t)h.esize);
    if (scale) w_put_le(w, scale, (size_t)h.n_in, (size_t)h.esize);
    w_put_le(w, params, (size_t)h.n_params, (size_t)h.esize);
    if (meta_len > 0) w_put(w, meta, meta_len);
    unsigned char crc[MF_CRC];
    put_u32(crc, w->crc);
    w_put(w, crc, MF_CRC);
    w_flush(w);

    /* Durable, then visible: fsync, close (which can report errors too),
     * rename over the target. */
    st = FM_ERR_IO;
    if (w->failed || fsync(fd) != 0) goto fail;
    int rc = close(fd);
    fd = -1;
    if (rc != 0 || rename(tmp, path) != 0) goto fail;
    sync_parent_dir(path);
    free(tmp);
    free(w);
    free(head);
    return FM_OK;

fail:
    if (fd >= 0) close(fd);
    if (tmp) unlink(tmp);
    free(tmp);
    free(w);
    free(head);
    return st;
}
