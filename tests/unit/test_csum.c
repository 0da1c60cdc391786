/* SPDX-License-Identifier: MIT */
/*
 * nat/csum: RFC 1071 sums and RFC 1624 incremental updates.
 * Expected values were computed independently (Python, plain 16-bit word
 * arithmetic) or come from the RFCs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "tests/unit/util_rng.h"

/* The obvious RFC 1071 sum, one big-endian word at a time. */
static uint32_t ref_sum(uint32_t sum, const uint8_t *b, size_t n)
{
	uint64_t s = sum;

	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)b[i] << 8 | (i + 1 < n ? b[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

static uint16_t ref_csum(const uint8_t *b, size_t n)
{
	return (uint16_t)~ref_sum(0, b, n);
}

static unsigned int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned int)(c - 'a' + 10);
	fail_msg("bad hex digit '%c'", c);
	return 0;
}

/* Hex pairs, spaces ignored. */
static size_t unhex(uint8_t *out, size_t cap, const char *s)
{
	size_t n = 0;

	while (*s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_true(n < cap && s[1]);
		out[n++] = (uint8_t)(nibble(s[0]) << 4 | nibble(s[1]));
		s += 2;
	}
	return n;
}

/* RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
static void test_rfc1071_example(void **state)
{
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint32_t sum = csum_add(0, b, sizeof(b));

	(void)state;
	assert_int_equal(sum % 0xffff, 0x2ddf0 % 0xffff);
	assert_int_equal(csum_fold(sum), 0x220d);
	/* Byte-order independence: the swapped words sum to the swapped sum. */
	static const uint8_t sw[] = { 0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6 };
	assert_int_equal(csum_fold(csum_add(0, sw, sizeof(sw))), 0x0d22);
}

/* Known answers: 1-2 textbook sums, 3-7 the IP headers, 8-11 the L4 sums
 * of the packets in test_pkt.c. */
static const struct {
	const char *hex;
	enum { K_RAW, K_IP, K_TCP, K_UDP, K_ICMP } kind;
	uint32_t saddr, daddr;
	uint16_t want;
} kat[] = {
	/* 1: odd length, last byte padded */
	{ "01 02 03 04 05", K_RAW, 0, 0, 0xf6f9 },
	/* 2: the Wikipedia "Internet checksum" IPv4 header */
	{ "45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7",
	  K_IP, 0, 0, 0xb861 },
	/* 3: TCP SYN 192.168.1.10 -> 93.184.216.34 */
	{ "45 00 00 3c 4f 3a 40 00 40 06 f3 f4 c0 a8 01 0a 5d b8 d8 22",
	  K_IP, 0, 0, 0xf3f4 },
	/* 4: UDP DNS query 192.168.1.10 -> 8.8.8.8 */
	{ "45 00 00 39 1c 46 40 00 40 11 4c ac c0 a8 01 0a 08 08 08 08",
	  K_IP, 0, 0, 0x4cac },
	/* 5: ICMP port unreachable 198.51.100.53 -> 203.0.113.7 */
	{ "45 c0 00 55 00 00 00 00 39 01 1a 78 c6 33 64 35 cb 00 71 07",
	  K_IP, 0, 0, 0x1a78 },
	/* 6: IGMP with a router alert option (IHL 6) */
	{ "46 c0 00 20 00 00 40 00 01 02 41 6a c0 a8 01 0a e0 00 00 fb 94 04 00 00",
	  K_IP, 0, 0, 0x416a },
	/* 7: a zeroed checksum field reads the same */
	{ "45 00 00 73 00 00 40 00 40 11 00 00 c0 a8 00 01 c0 a8 00 c7",
	  K_IP, 0, 0, 0xb861 },
	/* 8: TCP SYN 192.168.1.10:54321 -> 93.184.216.34:443, MSS SACK TS WS */
	{ "d4 31 01 bb 1a 2b 3c 4d 00 00 00 00 a0 02 fa f0 ea 5f 00 00"
	  "02 04 05 b4 04 02 08 0a 00 9c 3e 21 00 00 00 00 01 03 03 07",
	  K_TCP, 0xc0a8010a, 0x5db8d822, 0xea5f },
	/* 9: DNS query for example.com A, 192.168.1.10:53000 -> 8.8.8.8:53 */
	{ "cf 08 00 35 00 25 e3 68 ab cd 01 00 00 01 00 00 00 00 00 00"
	  "07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 00 01 00 01",
	  K_UDP, 0xc0a8010a, 0x08080808, 0xe368 },
	/* 10: UDP 10.0.0.1:1234 -> 10.0.0.2:5678 whose sum is 0: sent as ffff */
	{ "04 d2 16 2e 00 0c 00 00 67 77 69 5c", K_UDP, 0x0a000001, 0x0a000002, 0xffff },
	/* 11: ICMP echo request id 0x1234 seq 1, 56 bytes of data */
	{ "08 00 a5 ce 12 34 00 01 d2 a8 65 65 00 00 00 00 3f 1b 0a 00 00 00 00 00"
	  "10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23"
	  "24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35 36 37",
	  K_ICMP, 0, 0, 0xa5ce },
};

static void test_kat(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		uint8_t b[128];
		size_t n = unhex(b, sizeof(b), kat[i].hex);
		uint16_t got = 0;

		switch (kat[i].kind) {
		case K_RAW:
			got = csum_fold(csum_add(0, b, n));
			break;
		case K_IP:
			got = csum_ip(b, n);
			break;
		case K_TCP:
			got = csum_l4(kat[i].saddr, kat[i].daddr, 6, b, n);
			break;
		case K_UDP:
			got = csum_l4(kat[i].saddr, kat[i].daddr, 17, b, n);
			break;
		case K_ICMP:
			got = csum_icmp(b, n);
			break;
		}
		if (got != kat[i].want)
			fail_msg("kat %zu: got %04x want %04x", i + 1, got, kat[i].want);
	}
}

static void test_pseudo(void **state)
{
	(void)state;
	/* c0a8 + 010a + 0808 + 0808 + 0011 + 0025 */
	assert_int_equal(csum_pseudo(0xc0a8010a, 0x08080808, 17, 37), 0xd1f8);
	assert_int_equal(csum_fold(csum_pseudo(0xffffffff, 0xffffffff, 0xff, 0xffff)),
			 (uint16_t)~ref_sum(0xffff * 5 + 0xff, NULL, 0));
}

static void test_fold(void **state)
{
	(void)state;
	assert_int_equal(csum_fold(0), 0xffff);
	assert_int_equal(csum_fold(0xffff), 0);
	assert_int_equal(csum_fold(0x10000), 0xfffe);
	assert_int_equal(csum_fold(0xffffffff), 0);
	assert_int_equal(csum_fold(0x2ddf0), 0x220d);
}

/* csum_add against the reference for every length and alignment, with
 * random initial sums; and sums of even-length pieces add up. */
static void test_add_matches_reference(void **state)
{
	struct rng r = { test_seed() };
	uint8_t buf[600];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd64(&r);
	for (size_t len = 0; len <= 512; len++) {
		for (size_t align = 0; align < 8; align++) {
			uint32_t init = (uint32_t)rnd64(&r);
			const uint8_t *b = buf + align;
			uint32_t got = csum_add(init, b, len);
			size_t k = 2 * rnd(&r, (uint32_t)len / 2 + 1);

			if (csum_fold(got) != (uint16_t)~ref_sum(init, b, len))
				fail_msg("len %zu align %zu init %08x", len, align, init);
			if (csum_fold(csum_add(csum_add(init, b, k), b + k, len - k)) !=
			    csum_fold(got))
				fail_msg("split %zu/%zu", k, len);
		}
	}
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(csum_fold(csum_add(0, buf, sizeof(buf))),
			 (uint16_t)~ref_sum(0, buf, sizeof(buf)));
	/* 64 KiB of 0xff words: the largest packet does not overflow. */
	{
		static uint8_t big[65536];

		memset(big, 0xff, sizeof(big));
		assert_int_equal(csum_fold(csum_add(0xffffffff, big, sizeof(big))),
				 (uint16_t)~ref_sum(0xffffffff, big, sizeof(big)));
	}
}

/* The checksum field is read as zero. */
static void test_field_skipped(void **state)
{
	struct rng r = { test_seed() };

	(void)state;
	for (int n = 0; n < 2000; n++) {
		uint8_t b[100], z[100];
		size_t len = 20 + rnd(&r, 80);
		uint32_t sa = (uint32_t)rnd64(&r), da = (uint32_t)rnd64(&r);
		uint16_t want;

		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)rnd64(&r);
		memcpy(z, b, len);

		z[10] = z[11] = 0;
		assert_int_equal(csum_ip(b, 20), ref_csum(z, 20));
		memcpy(z, b, len);
		z[2] = z[3] = 0;
		assert_int_equal(csum_icmp(b, len), ref_csum(z, len));

		memcpy(z, b, len);
		z[16] = z[17] = 0;
		want = (uint16_t)~ref_sum(csum_pseudo(sa, da, 6, (uint16_t)len), z, len);
		assert_int_equal(csum_l4(sa, da, 6, b, len), want);

		memcpy(z, b, len);
		z[6] = z[7] = 0;
		want = (uint16_t)~ref_sum(csum_pseudo(sa, da, 17, (uint16_t)len), z, len);
		assert_int_equal(csum_l4(sa, da, 17, b, len), want ? want : 0xffff);
	}
}

/* RFC 1624 §4: m = 5555 -> 3285 with the other words summing to cd7a; the
 * right answer is 0000 (eqn. 2 would give ffff). */
static void test_rfc1624_example(void **state)
{
	uint8_t f[2];

	(void)state;
	be16_put(f, 0xdd2f);
	csum_replace2(f, 0x5555, 0x3285);
	assert_int_equal(be16_get(f), 0x0000);

	/* As a UDP checksum that 0 is sent as ffff. */
	be16_put(f, 0xdd2f);
	csum_replace2_udp(f, 0x5555, 0x3285);
	assert_int_equal(be16_get(f), 0xffff);
	be16_put(f, 0xdd2f);
	csum_replace4_udp(f, 0x12345555, 0x12343285);
	assert_int_equal(be16_get(f), 0xffff);

	/* And back again from ffff. */
	csum_replace2_udp(f, 0x3285, 0x5555);
	assert_int_equal(be16_get(f), 0xdd2f);
}

static void test_udp_zero_stays_zero(void **state)
{
	uint8_t f[2] = { 0, 0 };

	(void)state;
	csum_replace2_udp(f, 0x1234, 0x4321);
	assert_int_equal(be16_get(f), 0);
	csum_replace4_udp(f, 0x0a000001, 0xc0a80001);
	assert_int_equal(be16_get(f), 0);
}

/* Incremental updates equal a full recomputation, for random data and
 * random changes of a 16-bit or 32-bit field at an even offset. */
static void test_replace_matches_full(void **state)
{
	struct rng r = { test_seed() };

	(void)state;
	for (int n = 0; n < 20000; n++) {
		uint8_t b[64];
		size_t len = 8 + 2 * rnd(&r, 28);
		size_t cs = 2 * rnd(&r, (uint32_t)len / 2);
		size_t at;
		bool wide = rnd(&r, 2), udp = rnd(&r, 2);
		uint16_t want;

		size_t mark;

		for (size_t i = 0; i < len; i++)
			b[i] = rnd(&r, 4) ? (uint8_t)rnd64(&r) : 0;
		do {
			at = 2 * rnd(&r, (uint32_t)len / 2 - (wide ? 1 : 0));
		} while (at == cs || (wide && at + 2 == cs));
		/* Some word outside the checksum and the field stays nonzero: only
		 * all-zero data sums to +0 (RFC 1624 §3). */
		do {
			mark = 2 * rnd(&r, (uint32_t)len / 2);
		} while (mark == cs || mark == at || (wide && mark == at + 2));
		b[mark] |= 0x40;
		b[cs] = b[cs + 1] = 0;
		want = ref_csum(b, len);
		if (udp && !want)
			want = 0xffff;
		be16_put(b + cs, want);

		if (wide) {
			uint32_t old = be32_get(b + at);
			uint32_t v = rnd(&r, 4) ? (uint32_t)rnd64(&r) : old ^ 0xffff0000;

			be32_put(b + at, v);
			if (udp)
				csum_replace4_udp(b + cs, old, v);
			else
				csum_replace4(b + cs, old, v);
		} else {
			uint16_t old = be16_get(b + at);
			uint16_t v = rnd(&r, 4) ? (uint16_t)rnd64(&r) : (uint16_t)~old;

			be16_put(b + at, v);
			if (udp)
				csum_replace2_udp(b + cs, old, v);
			else
				csum_replace2(b + cs, old, v);
		}
		uint16_t got = be16_get(b + cs);

		b[cs] = b[cs + 1] = 0;
		want = ref_csum(b, len);
		if (udp && !want)
			want = 0xffff;
		if (got != want)
			fail_msg("iteration %d: len %zu csum@%zu field@%zu wide %d udp %d: got %04x want %04x",
				 n, len, cs, at, wide, udp, got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1071_example),
		cmocka_unit_test(test_kat),
		cmocka_unit_test(test_pseudo),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_add_matches_reference),
		cmocka_unit_test(test_field_skipped),
		cmocka_unit_test(test_rfc1624_example),
		cmocka_unit_test(test_udp_zero_stays_zero),
		cmocka_unit_test(test_replace_matches_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
