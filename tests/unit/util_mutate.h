/* SPDX-License-Identifier: MIT */
/*
 * Test helper: systematic mutants of a valid input (packet, message, text).
 * Each mutant is handed to the callback in a fresh heap buffer of exactly
 * the mutant's length, so AddressSanitizer reports any read past its end.
 */
#ifndef GW_TESTS_UTIL_MUTATE_H
#define GW_TESTS_UTIL_MUTATE_H

#include <stddef.h>
#include <stdint.h>

enum mutant_kind {
	MUTANT_FLIP,  /* pos: index of the flipped bit (byte pos / 8, bit pos % 8) */
	MUTANT_TRUNC, /* pos: length kept */
};

struct mutant {
	enum mutant_kind kind;
	size_t pos;
};

/* buf is the callback's to modify; it is freed when the callback returns. */
typedef void mutate_fn(void *ctx, uint8_t *buf, size_t len, const struct mutant *m);

/* Every single-bit flip of buf: len * 8 calls.  Returns the number of calls. */
size_t mutate_bitflips(const uint8_t *buf, size_t len, mutate_fn *fn, void *ctx);
/* Every truncation of buf to 0 .. len - 1 bytes: len calls.  Returns len. */
size_t mutate_truncations(const uint8_t *buf, size_t len, mutate_fn *fn, void *ctx);
/* Both of the above; returns the total number of calls. */
size_t mutate_all(const uint8_t *buf, size_t len, mutate_fn *fn, void *ctx);

#endif
