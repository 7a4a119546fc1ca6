/* The seeded simulators' PRNG (splitmix64): one global state, so that a
 * failing seed replays exactly. */
#ifndef TB_TESTS_SIM_RNG_H
#define TB_TESTS_SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

static uint64_t sim_rng_state;

static inline void
sim_seed(uint64_t seed)
{
	sim_rng_state = seed;
}

static inline uint64_t
sim_rng(void)
{
	uint64_t z = (sim_rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* sim_between draws from lo..hi, inclusive. */
static inline uint64_t
sim_between(uint64_t lo, uint64_t hi)
{
	return lo + sim_rng() % (hi - lo + 1);
}

/* sim_chance is true per_mille times in 1000. */
static inline bool
sim_chance(unsigned per_mille)
{
	return sim_rng() % 1000 < per_mille;
}

#endif
