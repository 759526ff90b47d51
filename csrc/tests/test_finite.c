/*
 * test_finite.c - fm_all_finite_f32/f64: every kind of non-finite value,
 * at the first, a middle and the last position of lengths around the
 * scan's block size, is found; every finite extreme passes; exact-size
 * heap buffers so that the sanitizer build catches a read past the end.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "fastmlp.h"
#include "fm_test.h"

static const int64_t LENGTHS[] = {1, 2, 7, 4095, 4096, 4097, 12289};

static void test_f32(void) {
    const float bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    const float good[] = {FLT_MAX, -FLT_MAX, FLT_MIN, FLT_MIN / 4, -0.0f};
    for (size_t l = 0; l < sizeof LENGTHS / sizeof LENGTHS[0]; l++) {
        const int64_t n = LENGTHS[l];
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++) x[i] = (float)i - 3.5f;
        CHECK(fm_all_finite_f32(n, x) == 1);
        const int64_t where[] = {0, n / 2, n - 1};
        for (int w = 0; w < 3; w++) {
            for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
                const float keep = x[where[w]];
                x[where[w]] = bad[b];
                CHECK(fm_all_finite_f32(n, x) == 0);
                /* the bad value just past a shorter length is not read */
                if (where[w] > 0) CHECK(fm_all_finite_f32(where[w], x) == 1);
                x[where[w]] = keep;
            }
            for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {
                const float keep = x[where[w]];
                x[where[w]] = good[g];
                CHECK(fm_all_finite_f32(n, x) == 1);
                x[where[w]] = keep;
            }
        }
        free(x);
    }
    CHECK(fm_all_finite_f32(0, NULL) == 1);
    CHECK(fm_all_finite_f32(-1, NULL) == 1);
    CHECK(fm_all_finite_f32(3, NULL) == 0);
}

static void test_f64(void) {
    const double bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    const double good[] = {DBL_MAX, -DBL_MAX, DBL_MIN, DBL_MIN / 4, -0.0};
    for (size_t l = 0; l < sizeof LENGTHS / sizeof LENGTHS[0]; l++) {
        const int64_t n = LENGTHS[l];
        double *x = malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++) x[i] = (double)i - 3.5;
        CHECK(fm_all_finite_f64(n, x) == 1);
        const int64_t where[] = {0, n / 2, n - 1};
        for (int w = 0; w < 3; w++) {
            for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
                const double keep = x[where[w]];
                x[where[w]] = bad[b];
                CHECK(fm_all_finite_f64(n, x) == 0);
                if (where[w] > 0) CHECK(fm_all_finite_f64(where[w], x) == 1);
                x[where[w]] = keep;
            }
            for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {
                const double keep = x[where[w]];
                x[where[w]] = good[g];
                CHECK(fm_all_finite_f64(n, x) == 1);
                x[where[w]] = keep;
            }
        }
        free(x);
    }
    CHECK(fm_all_finite_f64(0, NULL) == 1);
    CHECK(fm_all_finite_f64(3, NULL) == 0);
}

int main(void) {
    test_f32();
    test_f64();
    FM_TEST_MAIN_END();
}
