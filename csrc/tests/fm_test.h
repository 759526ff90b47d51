/* fm_test.h - a minimal test harness for the C tests: CHECK records a
 * failure with file/line and goes on; FM_TEST_MAIN_END returns non-zero if
 * any check failed. */
#ifndef FM_TEST_H
#define FM_TEST_H
#include <math.h>
#include <stdio.h>

static int fm_test_failures = 0;
static int fm_test_checks = 0;

#define CHECK(cond)                                                        \
    do {                                                                   \
        fm_test_checks++;                                                  \
        if (!(cond)) {                                                     \
            fm_test_failures++;                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)

/* |a - b| <= atol + rtol·|b| */
#define CHECK_CLOSE(a, b, rtol, atol)                                      \
    do {                                                                   \
        double a_ = (double)(a), b_ = (double)(b);                         \
        fm_test_checks++;                                                  \
        if (!(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_))) {              \
            fm_test_failures++;                                            \
            fprintf(stderr, "%s:%d: %s = %.17g, expected %s = %.17g\n",    \
                    __FILE__, __LINE__, #a, a_, #b, b_);                   \
        }                                                                  \
    } while (0)

#define FM_TEST_MAIN_END()                                                 \
    do {                                                                   \
        printf("%d checks, %d failed\n", fm_test_checks,                   \
               fm_test_failures);                                          \
        return fm_test_failures ? 1 : 0;                                   \
    } while (0)
#endif
