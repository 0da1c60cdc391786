/* SPDX-License-Identifier: MIT */
/*
 * util_refsum — an Internet checksum written plainly, byte by byte, for the
 * tests of code that computes checksums (nat/gso, nat/gro): independent of
 * nat/csum, so a shared bug cannot hide.
 */
#ifndef GW_TESTS_UTIL_REFSUM_H
#define GW_TESTS_UTIL_REFSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* s plus the 16-bit big-endian words of b[0..n) (an odd last byte padded). */
uint32_t ref_sum(uint32_t s, const uint8_t *b, size_t n);
/* The one's complement fold of s to 16 bits. */
uint16_t ref_fold(uint32_t s);
/* The pseudo-header sum of IPv4/IPv6 packet p for an L4 of proto and l4len
 * bytes. */
uint32_t ref_pseudo(const uint8_t *p, uint8_t proto, size_t l4len);
/* True when the TCP/UDP checksum of packet p (L4 at l3, len bytes in all)
 * verifies. */
bool ref_l4_ok(const uint8_t *p, size_t len, size_t l3, uint8_t proto);

#endif
