// rng: explicit, seedable pseudo-random numbers (xoshiro256**, seeded through splitmix64).
//
// The state is a plain struct passed by pointer: there is no hidden global generator, so a
// run is reproducible from its seed and the state can be saved in a checkpoint and restored.
#ifndef MANABI_CORE_RNG_H
#define MANABI_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng_t;

void rng_seed(rng_t *r, uint64_t seed);
uint64_t rng_u64(rng_t *r);
// Uniform in [0, 1) with 24 random bits (exactly representable as float).
float rng_uniform(rng_t *r);
// Uniform integer in [0, n), n > 0, without modulo bias.
uint64_t rng_below(rng_t *r, uint64_t n);
// Puts a[0..n) in a uniformly random order (Fisher-Yates).
void rng_shuffle(rng_t *r, size_t *a, size_t n);
// Standard normal (Box-Muller).
float rng_normal(rng_t *r);

#endif
