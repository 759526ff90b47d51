/*
 * cpu.c - what the library asks of the machine it runs on: which vector
 * instruction set the kernels may use (probed once, newest first, cached,
 * overridable by FASTMLP_ISA), how many OpenMP threads they may use
 * (FASTMLP_NUM_THREADS), aligned allocation, status texts and the version.
 *
 * The ISA probe asks the CPU (cpuid) and the operating system (xgetbv):
 * a CPU may implement AVX2 or AVX-512 while the OS does not save the ymm /
 * zmm / opmask registers on a context switch, and then using them corrupts
 * other programs' state.  __builtin_cpu_supports is not used because older
 * GCC versions do not check the OS half of that condition.
 */
/* posix_memalign is POSIX, not C11: ask for it even when the build
 * (e.g. setup.py) does not pass -D_POSIX_C_SOURCE. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FM_CPU_X86 1
#include <cpuid.h>
#else
#define FM_CPU_X86 0
#endif

#include "fm_internal.h"

/* ------------------------------------------------------------------ */
/* ISA probe                                                          */
/* ------------------------------------------------------------------ */

/* -1 until probed / chosen; the probe is idempotent, so two threads that
 * race on the first call compute and store the same value. */
static _Atomic int fm_isa_detected_ = -1;
static _Atomic int fm_isa_active_ = -1;

#if FM_CPU_X86
/* XCR0: which register states the OS saves (Intel SDM vol. 1, 13.3). */
static uint64_t fm_xgetbv0(void) {
    uint32_t lo, hi;
    /* The mnemonic needs binutils >= 2.19; the bytes work everywhere. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Best ISA usable here: CPU feature bits AND the OS's XCR0 state bits. */
static fm_isa_t fm_isa_probe(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return FM_ISA_GENERIC;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    const int fma = (c >> 12) & 1;
    /* Without OSXSAVE the xgetbv instruction itself faults. */
    if (!osxsave || !avx) return FM_ISA_GENERIC;
    const uint64_t xcr0 = fm_xgetbv0();
    const int os_ymm = (xcr0 & 0x6) == 0x6;    /* SSE + AVX (ymm upper)   */
    const int os_zmm = (xcr0 & 0xe6) == 0xe6;  /* + opmask, zmm 0-15, 16-31 */
    if (__get_cpuid_max(0, NULL) < 7) return FM_ISA_GENERIC;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1;
    if (avx512f && fma && avx2 && os_zmm) return FM_ISA_AVX512;
    if (avx2 && fma && os_ymm) return FM_ISA_AVX2;
    return FM_ISA_GENERIC;
}
#else
static fm_isa_t fm_isa_probe(void) { return FM_ISA_GENERIC; }
#endif

/* Best ISA the CPU and OS support, probed once. */
fm_isa_t fm_isa_detected(void) {
    int isa = atomic_load_explicit(&fm_isa_detected_, memory_order_acquire);
    if (isa < 0) {
        isa = (int)fm_isa_probe();
        atomic_store_explicit(&fm_isa_detected_, isa, memory_order_release);
    }
    return (fm_isa_t)isa;
}

/* Active ISA: FASTMLP_ISA (read at the first call) when valid and
 * supported, else the detected one.  A bad value is ignored rather than
 * reported: the library does not print, and the kernels must still run. */
fm_isa_t fm_isa_active(void) {
    int isa = atomic_load_explicit(&fm_isa_active_, memory_order_acquire);
    if (isa >= 0) return (fm_isa_t)isa;
    const int best = (int)fm_isa_detected();
    const char *env = getenv("FASTMLP_ISA");
    int want = env ? fm_isa_parse(env) : -1;
    if (want < 0 || want > best) want = best;
    /* fm_isa_set may have won the race; keep its choice. */
    int expected = -1;
    if (!atomic_compare_exchange_strong(&fm_isa_active_, &expected, want))
        want = expected;
    return (fm_isa_t)want;
}

/* Force isa; the ISA levels are ordered, so the CPU supports every level
 * up to the detected one. */
int fm_isa_set(fm_isa_t isa) {
    if ((int)isa < 0 || (int)isa >= FM_ISA_COUNT_) return FM_ERR_ARG;
    if ((int)isa > (int)fm_isa_detected()) return FM_ERR_ISA;
    atomic_store_explicit(&fm_isa_active_, (int)isa, memory_order_release);
    return FM_OK;
}

static const char *const fm_isa_names[FM_ISA_COUNT_] = {"generic", "avx2",
                                                        "avx512"};

/* "generic" / "avx2" / "avx512", NULL outside the enum. */
const char *fm_isa_name(fm_isa_t isa) {
    if ((int)isa < 0 || (int)isa >= FM_ISA_COUNT_) return NULL;
    return fm_isa_names[isa];
}

/* Case-insensitive name -> fm_isa_t, -1 if unknown. */
int fm_isa_parse(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < FM_ISA_COUNT_; i++) {
        const char *ref = fm_isa_names[i];
        size_t j = 0;
        while (ref[j] && name[j] &&
               tolower((unsigned char)name[j]) == (unsigned char)ref[j])
            j++;
        if (!ref[j] && !name[j]) return i;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Threads                                                            */
/* ------------------------------------------------------------------ */

/* 0 until first use.  Kept here rather than through omp_set_num_threads
 * so that the library never changes the host program's OpenMP state;
 * the kernels pass it in a num_threads clause. */
static _Atomic int fm_num_threads_ = 0;

#ifdef _OPENMP
/* Positive decimal integer from the environment, else 0. */
static int fm_env_positive_int(const char *name) {
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n') end++;
    if (errno || *end || v < 1 || v > INT_MAX) return 0;
    return (int)v;
}
#endif

/* FASTMLP_NUM_THREADS or OpenMP's default at the first call; 1 without
 * OpenMP. */
int fm_get_num_threads(void) {
#ifdef _OPENMP
    int n = atomic_load_explicit(&fm_num_threads_, memory_order_relaxed);
    if (n > 0) return n;
    n = fm_env_positive_int("FASTMLP_NUM_THREADS");
    if (n < 1) n = omp_get_max_threads();
    if (n < 1) n = 1;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&fm_num_threads_, &expected, n))
        n = expected;
    return n;
#else
    return 1;
#endif
}

/* n >= 1 threads for the following kernels (stored even without OpenMP,
 * where it has no effect). */
int fm_set_num_threads(int n) {
    if (n < 1) return FM_ERR_ARG;
    atomic_store_explicit(&fm_num_threads_, n, memory_order_relaxed);
    return FM_OK;
}

/* See fm_internal.h. */
int fm__threads_for(int64_t work, int64_t min_work, int64_t parts) {
#ifdef _OPENMP
    if (work < min_work || parts < 2 || omp_in_parallel()) return 1;
    const int nt = fm_get_num_threads();
    return nt < parts ? nt : (int)parts;
#else
    (void)work, (void)min_work, (void)parts;
    return 1;
#endif
}

/* See fm_internal.h. */
int fm__thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Whether this build was compiled with -fopenmp. */
int fm_has_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* ------------------------------------------------------------------ */
/* Status texts and version                                           */
/* ------------------------------------------------------------------ */

/* Static text per fm_status_t; never NULL. */
const char *fm_strerror(int status) {
    switch (status) {
    case FM_OK: return "success";
    case FM_ERR_NOMEM: return "out of memory, or a size that overflows";
    case FM_ERR_ARG: return "invalid argument (size, enum or NULL pointer)";
    case FM_ERR_SHAPE: return "array shapes do not agree";
    case FM_ERR_NONFINITE:
        return "NaN or infinity in input, loss or parameters";
    case FM_ERR_NODERIV:
        return "gradient through an activation with zero derivative "
               "(step/sign)";
    case FM_ERR_ISA: return "instruction set not supported by this CPU";
    case FM_ERR_IO: return "file could not be opened, read or written";
    case FM_ERR_FORMAT: return "not a fastmlp model file, or corrupted";
    case FM_ERR_VERSION: return "model file from a newer format version";
    case FM_ERR_CHECKSUM: return "model file checksum mismatch";
    case FM_ERR_INTERRUPTED: return "training stopped by the callback";
    case FM_ERR_LOSS_PAIR:
        return "loss not valid with this output activation";
    default: return "unknown status code";
    }
}

#define FM_STR_(x) #x
#define FM_STR(x) FM_STR_(x)

/* "MAJOR.MINOR.PATCH" from fastmlp.h's macros, built at compile time. */
const char *fm_version(void) {
    return FM_STR(FM_VERSION_MAJOR) "." FM_STR(FM_VERSION_MINOR) "." FM_STR(
        FM_VERSION_PATCH);
}

/* ------------------------------------------------------------------ */
/* Aligned allocation                                                 */
/* ------------------------------------------------------------------ */

/* bytes rounded up to whole cache lines, FM_CACHELINE-aligned; a request
 * of 0 bytes still returns a distinct pointer, so NULL always means
 * failure. */
void *fm__alloc(size_t bytes) {
    if (bytes > (size_t)PTRDIFF_MAX - FM_CACHELINE) return NULL;
    bytes = (bytes + FM_CACHELINE - 1) / FM_CACHELINE * FM_CACHELINE;
    if (bytes == 0) bytes = FM_CACHELINE;
#if defined(_WIN32)
    return _aligned_malloc(bytes, FM_CACHELINE);
#else
    void *p = NULL;
    if (posix_memalign(&p, FM_CACHELINE, bytes) != 0) return NULL;
    return p;
#endif
}

/* count·elem_size zeroed bytes; NULL if the product overflows. */
void *fm__calloc(size_t count, size_t elem_size) {
    if (elem_size != 0 && count > SIZE_MAX / elem_size) return NULL;
    void *p = fm__alloc(count * elem_size);
    if (p) memset(p, 0, count * elem_size);
    return p;
}

/* Release what fm__alloc / fm__calloc returned; NULL is a no-op. */
void fm__free(void *p) {
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}
