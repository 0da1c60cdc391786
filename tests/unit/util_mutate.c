/* SPDX-License-Identifier: MIT */
/* Test helper: every bit flip and every truncation of a valid input. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/util_mutate.h"

/* A heap copy of exactly len bytes (malloc(0) included: ASan then reports a
 * read of even one byte).  Tests have no way to recover from OOM. */
static uint8_t *copy(const uint8_t *buf, size_t len)
{
	uint8_t *p = malloc(len);

	if (!p && len)
		abort();
	if (len)
		memcpy(p, buf, len);
	return p;
}

size_t mutate_bitflips(const uint8_t *buf, size_t len, mutate_fn *fn, void *ctx)
{
	for (size_t bit = 0; bit < len * 8; bit++) {
		struct mutant m = { .kind = MUTANT_FLIP, .pos = bit };
		uint8_t *p = copy(buf, len);

		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		fn(ctx, p, len, &m);
		free(p);
	}
	return len * 8;
}

size_t mutate_truncations(const uint8_t *buf, size_t len, mutate_fn *fn, void *ctx)
{
	for (size_t n = 0; n < len; n++) {
		struct mutant m = { .kind = MUTANT_TRUNC, .pos = n };
		uint8_t *p = copy(buf, n);

		fn(ctx, p, n, &m);
		free(p);
	}
	return len;
}

size_t mutate_all(const uint8_t *buf, size_t len, mutate_fn *fn, void *ctx)
{
	return mutate_bitflips(buf, len, fn, ctx) +
	       mutate_truncations(buf, len, fn, ctx);
}
