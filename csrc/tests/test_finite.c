/*
 * test_finite.c - fm_all_finite_f32/f64: every kind of non-finite value,
 * at the first, a middle and the last position of lengths around the
 * scan's block size (and one long enough for the threads), is found;
 * every finite extreme passes; exact-size heap buffers so that the
 * sanitizer build catches a read past the end.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "fastmlp.h"
#include "fm_test.h"

/* Then one over the 64 MiB from which the threads share the scan. */
static const int64_t LENGTHS[] = {1, 2, 7, 4095, 4096, 4097, 12289,
                                  (1 << 20) + 3, 0};

/* One test per dtype: T, its check, its finite extremes MAX and MIN. */
#define FM_DEF_TEST_FINITE(NAME, T, CHECK_FN, MAX, MIN)                    \
    static void NAME(void) {                                               \
        const T bad[] = {NAN, -NAN, INFINITY, -INFINITY};                  \
        const T good[] = {MAX, -MAX, MIN, MIN / 4, -(T)0};                 \
        for (size_t l = 0; l < sizeof LENGTHS / sizeof LENGTHS[0]; l++) {  \
            const int64_t n = LENGTHS[l] ? LENGTHS[l]                      \
                                         : ((int64_t)64 << 20) / (int64_t)sizeof(T) + 3; \
            T *x = malloc((size_t)n * sizeof *x);                          \
            for (int64_t i = 0; i < n; i++) x[i] = (T)i - (T)3.5;          \
            CHECK(CHECK_FN(n, x) == 1);                                    \
            const int64_t where[] = {0, n / 2, n - 1};                     \
            for (int w = 0; w < 3; w++) {                                  \
                const T keep = x[where[w]];                                \
                for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {  \
                    x[where[w]] = bad[b];                                  \
                    CHECK(CHECK_FN(n, x) == 0);                            \
                    /* a bad value just past a shorter length is unread */ \
                    if (where[w] > 0) CHECK(CHECK_FN(where[w], x) == 1);   \
                }                                                          \
                for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {\
                    x[where[w]] = good[g];                                 \
                    CHECK(CHECK_FN(n, x) == 1);                            \
                }                                                          \
                x[where[w]] = keep;                                        \
            }                                                              \
            free(x);                                                       \
        }                                                                  \
        CHECK(CHECK_FN(0, NULL) == 1);                                     \
        CHECK(CHECK_FN(-1, NULL) == 1);                                    \
        CHECK(CHECK_FN(3, NULL) == 0);                                     \
    }

FM_DEF_TEST_FINITE(test_f32, float, fm_all_finite_f32, FLT_MAX, FLT_MIN)
FM_DEF_TEST_FINITE(test_f64, double, fm_all_finite_f64, DBL_MAX, DBL_MIN)

int main(void) {
    test_f32();
    test_f64();
    FM_TEST_MAIN_END();
}
