/* SPDX-License-Identifier: MIT */
/* gw/icmp6: the ICMPv6 errors gw answers the host with (RFC 4443). */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nat/icmp6.h"

static const uint8_t gw6[16] = { 0xfd, 0, 0, 8, [15] = 1 };      /* fd00:8::1 */
static const uint8_t host6[16] = { 0xfd, 0, 0, 8, [15] = 2 };    /* fd00:8::2 */
static const uint8_t far6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 }; /* 2001:db8::9 */
static const uint8_t mcast6[16] = { 0xff, 0x02, [15] = 1 };      /* ff02::1 */

/* An IPv6 packet of len bytes: the header, then exthdr (already chained
 * by the caller: next is the first header's type), then a payload whose
 * first byte is first. */
static size_t v6(uint8_t *p, size_t len, const uint8_t *src, const uint8_t *dst, uint8_t next,
		 const uint8_t *ext, size_t extlen, uint8_t first)
{
	memset(p, 0, len);
	p[0] = 0x60;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	p[6] = next;
	p[7] = 63;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	if (extlen)
		memcpy(p + 40, ext, extlen);
	p[40 + extlen] = first;
	for (size_t i = 41 + extlen; i < len; i++)
		p[i] = (uint8_t)i;
	return len;
}

/* RFC 1071 over the pseudo-header and the ICMPv6 message, written apart
 * from nat/csum so the two check each other. */
static uint16_t check_sum(const uint8_t *ip6, size_t len)
{
	uint32_t sum = 0;
	size_t plen = len - 40;

	for (size_t i = 8; i < 40; i += 2)
		sum += (uint32_t)ip6[i] << 8 | ip6[i + 1];
	sum += (uint32_t)plen + IPPROTO_ICMPV6;
	for (size_t i = 0; i < plen; i += 2)
		sum += (uint32_t)ip6[40 + i] << 8 | (i + 1 < plen ? ip6[41 + i] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void test_unreachable(void **state)
{
	uint8_t in[1600], out[1600];
	size_t n;

	(void)state;
	v6(in, 100, host6, far6, IPPROTO_UDP, NULL, 0, 0x12);
	n = icmp6_error_build(in, 100, ICMP6_DST_UNREACH, ICMP6_UNREACH_ADDR, 0, gw6, out,
			      sizeof(out));
	assert_int_equal(n, 40 + 8 + 100);
	assert_int_equal(out[0], 0x60);                /* version 6, class 0 */
	assert_int_equal(out[1] | out[2] | out[3], 0); /* no flow label */
	assert_int_equal(out[4] << 8 | out[5], 8 + 100);
	assert_int_equal(out[6], IPPROTO_ICMPV6);
	assert_int_equal(out[7], 64);
	assert_memory_equal(out + 8, gw6, 16);
	assert_memory_equal(out + 24, host6, 16);
	assert_int_equal(out[40], 1);
	assert_int_equal(out[41], 3);
	assert_int_equal(out[44] | out[45] | out[46] | out[47], 0); /* unused */
	assert_memory_equal(out + 48, in, 100);
	assert_int_equal(check_sum(out, n), 0);
}

static void test_quote_capped_at_min_mtu(void **state)
{
	uint8_t in[1500], out[1600];
	size_t n;

	(void)state;
	v6(in, 1420, host6, far6, IPPROTO_TCP, NULL, 0, 0);
	n = icmp6_error_build(in, 1420, ICMP6_DST_UNREACH, ICMP6_UNREACH_NOROUTE, 0, gw6, out,
			      sizeof(out));
	assert_int_equal(n, 1280);
	assert_int_equal(out[4] << 8 | out[5], 1240);
	assert_memory_equal(out + 48, in, 1232);
	assert_int_equal(check_sum(out, n), 0);
	/* one byte short of room: nothing */
	assert_int_equal(icmp6_error_build(in, 1420, 1, 3, 0, gw6, out, 1279), 0);
	v6(in, 101, host6, far6, IPPROTO_UDP, NULL, 0, 0); /* odd length: checksum pads */
	n = icmp6_error_build(in, 101, 1, 3, 0, gw6, out, sizeof(out));
	assert_int_equal(n, 149);
	assert_int_equal(check_sum(out, n), 0);
}

static void test_in_place(void **state)
{
	uint8_t a[1600], b[1600], out[1600];
	size_t n, m;

	(void)state;
	v6(a, 300, host6, far6, IPPROTO_UDP, NULL, 0, 1);
	memcpy(b, a, 300);
	n = icmp6_error_build(a, 300, 1, 3, 0, gw6, out, sizeof(out));
	m = icmp6_error_build(b, 300, 1, 3, 0, gw6, b, sizeof(b));
	assert_int_equal(n, m);
	assert_memory_equal(out, b, n);
}

static void test_packet_too_big_info(void **state)
{
	uint8_t in[200], out[400];
	size_t n;

	(void)state;
	v6(in, 200, host6, mcast6, IPPROTO_UDP, NULL, 0, 0); /* multicast allowed here */
	n = icmp6_error_build(in, 200, ICMP6_PACKET_TOO_BIG, 0, 1280, gw6, out, sizeof(out));
	assert_int_equal(n, 248);
	assert_int_equal(out[44] << 24 | out[45] << 16 | out[46] << 8 | out[47], 1280);
	assert_int_equal(check_sum(out, n), 0);
	/* parameter problem code 2 too (RFC 4443 2.4 (e.3)) */
	assert_int_not_equal(icmp6_error_build(in, 200, ICMP6_PARAM_PROB, 2, 40, gw6, out,
					       sizeof(out)), 0);
	assert_int_equal(icmp6_error_build(in, 200, ICMP6_PARAM_PROB, 1, 40, gw6, out,
					   sizeof(out)), 0);
}

/* RFC 4443 2.4 (e): when no error is due; and when one still is. */
static void test_when_due(void **state)
{
	static const uint8_t zero[16];
	static const uint8_t hop_dst[16] = {
		IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0, /* hop-by-hop, 8 bytes, PadN */
		IPPROTO_ICMPV6, 0, 1, 4, 0, 0, 0, 0,  /* destination options */
	};
	static const uint8_t frag_first[8] = { IPPROTO_ICMPV6, 0, 0x00, 0x01, 0, 0, 0, 7 };
	static const uint8_t frag_later[8] = { IPPROTO_ICMPV6, 0, 0x05, 0x01, 0, 0, 0, 7 };
	static const uint8_t esp[8] = { 0 };
	static const uint8_t runs_out[8] = { IPPROTO_ICMPV6, 9, 0, 0, 0, 0, 0, 0 };
	static const struct {
		const uint8_t *src, *dst;
		uint8_t next;
		const uint8_t *ext;
		size_t extlen;
		uint8_t first; /* ICMPv6 type where the upper layer is ICMPv6 */
		size_t len;
		bool due;
	} cases[] = {
		/* 0 */ { host6, far6, IPPROTO_UDP, NULL, 0, 0, 80, true },
		/* 1 */ { zero, far6, IPPROTO_UDP, NULL, 0, 0, 80, false },
		/* 2 */ { mcast6, far6, IPPROTO_UDP, NULL, 0, 0, 80, false },
		/* 3 */ { host6, mcast6, IPPROTO_UDP, NULL, 0, 0, 80, false },
		/* 4 */ { host6, far6, IPPROTO_ICMPV6, NULL, 0, 1, 80, false },   /* unreachable */
		/* 5 */ { host6, far6, IPPROTO_ICMPV6, NULL, 0, 2, 80, false },   /* too big */
		/* 6 */ { host6, far6, IPPROTO_ICMPV6, NULL, 0, 127, 80, false },
		/* 7 */ { host6, far6, IPPROTO_ICMPV6, NULL, 0, 137, 80, false }, /* redirect */
		/* 8 */ { host6, far6, IPPROTO_ICMPV6, NULL, 0, 128, 80, true },  /* echo request */
		/* 9 */ { host6, far6, IPPROTO_ICMPV6, NULL, 0, 135, 80, true },  /* neighbour sol. */
		/* 10 */ { host6, far6, IPPROTO_HOPOPTS, hop_dst, 16, 1, 80, false },
		/* 11 */ { host6, far6, IPPROTO_HOPOPTS, hop_dst, 16, 128, 80, true },
		/* 12 */ { host6, far6, IPPROTO_FRAGMENT, frag_first, 8, 1, 80, false },
		/* 13 */ { host6, far6, IPPROTO_FRAGMENT, frag_later, 8, 1, 80, true },
		/* 14 */ { host6, far6, IPPROTO_ESP, esp, 8, 1, 80, true },
		/* 15 */ { host6, far6, IPPROTO_HOPOPTS, runs_out, 8, 1, 60, true },
		/* 16 */ { host6, far6, IPPROTO_ICMPV6, NULL, 0, 1, 40, false }, /* no room for a type */
		/* 17 */ { host6, far6, IPPROTO_HOPOPTS, hop_dst, 16, 1, 50, true }, /* chain cut */
	};
	uint8_t in[200], out[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len, n;

		v6(in, 100, cases[i].src, cases[i].dst, cases[i].next, cases[i].ext,
		   cases[i].extlen, cases[i].first);
		in[4] = 0;
		in[5] = (uint8_t)(len - 40);
		n = icmp6_error_build(in, len, ICMP6_DST_UNREACH, ICMP6_UNREACH_ADDR, 0, gw6, out,
				      sizeof(out));
		if ((n != 0) != cases[i].due)
			fail_msg("case %zu: %zu bytes", i, n);
		if (n)
			assert_int_equal(check_sum(out, n), 0);
	}
}

static void test_not_ipv6(void **state)
{
	uint8_t in[100] = { 0x45 }, out[400];

	(void)state;
	assert_int_equal(icmp6_error_build(in, sizeof(in), 1, 3, 0, gw6, out, sizeof(out)), 0);
	v6(in, 100, host6, far6, IPPROTO_UDP, NULL, 0, 0);
	assert_int_equal(icmp6_error_build(in, 39, 1, 3, 0, gw6, out, sizeof(out)), 0);
	assert_int_equal(icmp6_error_build(in, 40, 1, 3, 0, gw6, out, sizeof(out)), 88);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_quote_capped_at_min_mtu),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_packet_too_big_info),
		cmocka_unit_test(test_when_due),
		cmocka_unit_test(test_not_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
