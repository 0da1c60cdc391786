/* SPDX-License-Identifier: MIT */
#include "crypto/replay.h"

#include <string.h>

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool replay_check(struct replay *r, uint64_t counter, uint64_t limit)
{
	uint64_t block = counter >> 6, old;

	if (counter >= limit)
		return false;
	if (counter > r->last) {
		uint64_t cur = r->last >> 6, diff = block - cur;

		if (diff > REPLAY_RING_WORDS)
			diff = REPLAY_RING_WORDS;
		for (uint64_t i = cur + 1; i <= cur + diff; i++)
			r->ring[i % REPLAY_RING_WORDS] = 0;
		r->last = counter;
	} else if (r->last - counter > REPLAY_WINDOW) {
		return false;
	}
	block %= REPLAY_RING_WORDS;
	old = r->ring[block];
	r->ring[block] |= 1ull << (counter & 63);
	return old != r->ring[block];
}
