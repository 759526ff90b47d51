/*
 * rng.c - the counter-based random generator (fm_rng_u64, fm_rng_key,
 * fm_rng_uniform, fm_rng_normal) and, from rng_tmpl.h for float and
 * double, what draws from it: fm_init_layer_* and fm_dropout_forward_*.
 * Specification: docs/MATH.md, "Random numbers".
 *
 * Why counter-based: value c of a stream is splitmix64's finaliser applied
 * to key + (c+1)·γ, a pure function of (key, c).  Any element can be drawn
 * independently, so results do not depend on the thread count, and the
 * NumPy reference reproduces them bit for bit with uint64 arithmetic.
 */
#include <math.h>

#include "fm_internal.h"

#define FM_GOLDEN_GAMMA 0x9E3779B97F4A7C15u /* 2⁶⁴/φ, splitmix64's step */
#define FM_TWO_PI 6.283185307179586476925286766559

/* splitmix64 finaliser of key + (counter+1)·γ (all mod 2⁶⁴). */
uint64_t fm_rng_u64(uint64_t key, uint64_t counter) {
    uint64_t z = key + (counter + 1u) * (uint64_t)FM_GOLDEN_GAMMA;
    z = (z ^ (z >> 30)) * (uint64_t)0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * (uint64_t)0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Independent key for (seed, stream): one draw of the seed's stream. */
uint64_t fm_rng_key(uint64_t seed, uint64_t stream) {
    return fm_rng_u64(seed, stream);
}

/* (u64 >> 11)·2⁻⁵³: the top 53 bits, exactly representable, in [0, 1). */
double fm_rng_uniform(uint64_t key, uint64_t counter) {
    return (double)(fm_rng_u64(key, counter) >> 11) * 0x1.0p-53;
}

/* Box–Muller, cosine branch: √(−2·log(1 − u₁))·cos(2π·u₂), u₁ from
 * counter 2c, u₂ from 2c+1.  1 − u₁ is in (0, 1], so the log is finite. */
double fm_rng_normal(uint64_t key, uint64_t counter) {
    const double u1 = fm_rng_uniform(key, 2u * counter);
    const double u2 = fm_rng_uniform(key, 2u * counter + 1u);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(FM_TWO_PI * u2);
}

/* Scale of an initialiser's law: sets *scale to the std (returns 1, a
 * normal law) or the bound (returns 0, a uniform law), in double. */
static int init_law(fm_init_t init, int64_t fan_in, int64_t fan_out,
                    int gain_sigmoid, double *scale) {
    const double fi = (double)fan_in, fsum = (double)fan_in + (double)fan_out;
    switch (init) {
    case FM_INIT_LECUN_NORMAL: *scale = sqrt(1.0 / fi); return 1;
    case FM_INIT_LECUN_UNIFORM: *scale = sqrt(3.0 / fi); return 0;
    case FM_INIT_GLOROT_NORMAL: *scale = sqrt(2.0 / fsum); return 1;
    case FM_INIT_GLOROT_UNIFORM: *scale = sqrt(6.0 / fsum); return 0;
    case FM_INIT_HE_NORMAL: *scale = sqrt(2.0 / fi); return 1;
    case FM_INIT_HE_UNIFORM: *scale = sqrt(6.0 / fi); return 0;
    default: /* FM_INIT_SKLEARN: f = 2 after a sigmoid output, else 6 */
        *scale = sqrt((gain_sigmoid ? 2.0 : 6.0) / fsum);
        return 0;
    }
}

#define T float
#define FM_SFX(name) name##_f32
#include "rng_tmpl.h"
#undef T
#undef FM_SFX

#define T double
#define FM_SFX(name) name##_f64
#include "rng_tmpl.h"
#undef T
#undef FM_SFX
