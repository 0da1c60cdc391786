/* SPDX-License-Identifier: MIT */
/*
 * gw/ndp: the Neighbor Advertisement answering a solicitation for a foreign
 * IPv6 NAT address, byte for byte (its checksum also summed by
 * util_refsum's plain code), Duplicate Address Detection probes defended,
 * what gw never answers (RFC 4861 7.1.1), the unsolicited announcement,
 * and every bit flip and truncation of a valid solicitation: answered only
 * when still valid, never read past its end.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw/bpf.h"
#include "gw/ndp.h"
#include "nat/pkt/be.h"
#include "tests/unit/util_mutate.h"
#include "tests/unit/util_refsum.h"

static const uint8_t MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t ASKER[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static struct bpf_addr6_range R[2];

static union nf_addr a6(const char *t)
{
	union nf_addr a;

	assert_int_equal(inet_pton(AF_INET6, t, a.b), 1);
	return a;
}

static int setup(void **state)
{
	(void)state;
	R[0] = (struct bpf_addr6_range){ a6("2001:db8:f::50"), a6("2001:db8:f::50") };
	R[1] = (struct bpf_addr6_range){ a6("2001:db8:f::1:100"), a6("2001:db8:f::1:110") };
	return 0;
}

/* The ICMPv6 checksum of frame f (ICMPv6 right after the fixed header),
 * by util_refsum: 0 when it verifies. */
static uint16_t ref_icmp6(const uint8_t *f)
{
	size_t plen = be16_get(f + 18);

	return (uint16_t)~ref_fold(ref_sum(ref_pseudo(f + 14, 58, plen), f + 54, plen));
}

/* A solicitation from src to dst for target; slla: with the source
 * link-layer option.  Returns its length. */
static size_t ns(uint8_t *f, const char *src, const char *dst, const char *target, bool slla)
{
	size_t plen = 24 + (slla ? 8 : 0);
	uint32_t sum;

	static const uint8_t sn_mac[6] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x50 };

	memset(f, 0, 128);
	memcpy(f, sn_mac, 6);
	memcpy(f + 6, ASKER, 6);
	be16_put(f + 12, 0x86dd);
	f[14] = 0x60;
	be16_put(f + 18, (uint16_t)plen);
	f[20] = 58;
	f[21] = 255;
	memcpy(f + 22, a6(src).b, 16);
	memcpy(f + 38, a6(dst).b, 16);
	f[54] = 135;
	memcpy(f + 62, a6(target).b, 16);
	if (slla) {
		f[78] = 1;
		f[79] = 1;
		memcpy(f + 80, ASKER, 6);
	}
	sum = ref_pseudo(f + 14, 58, plen);
	be16_put(f + 56, (uint16_t)~ref_fold(ref_sum(sum, f + 54, plen)));
	return 54 + plen;
}

static void test_answer(void **state)
{
	static const uint8_t want[NDP_FRAME] = {
		0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd,
		0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, /* 32 bytes of ICMPv6, hop limit 255 */
		0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x50, /* from the target */
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x02, /* to the asker */
		0x88, 0x00, 0x89, 0xb7, 0x60, 0x00, 0x00, 0x00, /* NA, checksum, S and O */
		0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x50, /* target */
		0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* target link-layer address */
	};
	uint8_t f[128], out[NDP_FRAME];
	size_t len;

	(void)state;
	len = ns(f, "2001:db8::2", "ff02::1:ff00:50", "2001:db8:f::50", true);
	assert_int_equal(ref_icmp6(f), 0);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), NDP_FRAME);
	assert_memory_equal(out, want, NDP_FRAME);
	assert_int_equal(ref_icmp6(out), 0);
	/* Ethernet padding after the message is no part of it */
	assert_int_equal(ndp_answer(f, len + 4, MAC, R, 2, out), NDP_FRAME);
	assert_memory_equal(out, want, NDP_FRAME);

	/* unicast (reachability): to the option's MAC, else the frame's */
	len = ns(f, "2001:db8::2", "2001:db8:f::1:100", "2001:db8:f::1:100", false);
	memcpy(f, MAC, 6);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), NDP_FRAME);
	assert_memory_equal(out, ASKER, 6);
	assert_memory_equal(out + 22, a6("2001:db8:f::1:100").b, 16);
	assert_memory_equal(out + 38, a6("2001:db8::2").b, 16);
	assert_int_equal(be32_get(out + 58), 0x60000000);
	assert_int_equal(ref_icmp6(out), 0);
	/* the range's last address; a link-local asker */
	len = ns(f, "fe80::aa", "ff02::1:ff01:110", "2001:db8:f::1:110", true);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), NDP_FRAME);
	assert_memory_equal(out + 38, a6("fe80::aa").b, 16);
	assert_int_equal(ref_icmp6(out), 0);
}

/* Duplicate Address Detection: defended as Linux defends its own. */
static void test_dad(void **state)
{
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	uint8_t f[128], out[NDP_FRAME];
	size_t len;

	(void)state;
	len = ns(f, "::", "ff02::1:ff00:50", "2001:db8:f::50", false);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), NDP_FRAME);
	assert_memory_equal(out, all_nodes_mac, 6);
	assert_memory_equal(out + 22, a6("2001:db8:f::50").b, 16);
	assert_memory_equal(out + 38, a6("ff02::1").b, 16);
	assert_int_equal(be32_get(out + 58), 0x20000000); /* Override, not Solicited */
	assert_int_equal(be16_get(out + 56), 0xf86e);
	assert_int_equal(ref_icmp6(out), 0);
	/* invalid probes: with a source link-layer option, not to the
	 * solicited-node address */
	len = ns(f, "::", "ff02::1:ff00:50", "2001:db8:f::50", true);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	len = ns(f, "::", "ff02::1", "2001:db8:f::50", false);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	len = ns(f, "::", "ff02::1:ff00:51", "2001:db8:f::50", false);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
}

static void test_not_answered(void **state)
{
	uint8_t f[128], out[NDP_FRAME];
	size_t len;

	(void)state;
#define NS_OK() ns(f, "2001:db8::2", "ff02::1:ff00:50", "2001:db8:f::50", true)
	len = ns(f, "2001:db8::2", "ff02::1:ff00:51", "2001:db8:f::51", true);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0); /* not ours */
	len = ns(f, "2001:db8::2", "ff02::1:ff01:111", "2001:db8:f::1:111", true);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	len = NS_OK();
	assert_int_equal(ndp_answer(f, len, MAC, R, 0, out), 0); /* no range */
	/* multicast without a source link-layer option */
	len = ns(f, "2001:db8::2", "ff02::1:ff00:50", "2001:db8:f::50", false);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	/* a multicast source */
	len = ns(f, "ff02::2", "ff02::1:ff00:50", "2001:db8:f::50", true);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	/* a multicast link-layer address in the option */
	len = NS_OK();
	f[80] |= 1;
	be16_put(f + 56, 0);
	be16_put(f + 56, ref_icmp6(f));
	assert_int_equal(ref_icmp6(f), 0);
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	/* hop limit below 255 (a router forwarded it) */
	len = NS_OK();
	f[21] = 254;
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	/* a bad checksum */
	len = NS_OK();
	f[57] ^= 1;
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	/* an option of length 0; one running past the message */
	len = NS_OK();
	f[79] = 0;
	f[56] = f[57] = 0;
	be16_put(f + 56, ref_icmp6(f));
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	len = NS_OK();
	f[79] = 2;
	f[56] = f[57] = 0;
	be16_put(f + 56, ref_icmp6(f));
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
	/* the payload length past the frame, a cut frame */
	len = NS_OK();
	assert_int_equal(ndp_answer(f, len - 1, MAC, R, 2, out), 0);
	assert_int_equal(ndp_answer(f, 60, MAC, R, 2, out), 0);
	/* an advertisement, not a solicitation */
	len = NS_OK();
	f[54] = 136;
	assert_int_equal(ndp_answer(f, len, MAC, R, 2, out), 0);
#undef NS_OK
}

static void test_announce(void **state)
{
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	static const uint8_t tlla[8] = { 2, 1, 2, 0, 0, 0, 0, 1 };
	uint8_t out[NDP_FRAME];
	union nf_addr a = a6("2001:db8:f::50");

	(void)state;
	ndp_announce(MAC, &a, out);
	assert_memory_equal(out, all_nodes_mac, 6);
	assert_memory_equal(out + 6, MAC, 6);
	assert_int_equal(out[21], 255);
	assert_memory_equal(out + 22, a.b, 16);
	assert_memory_equal(out + 38, a6("ff02::1").b, 16);
	assert_int_equal(out[54], 136);
	assert_int_equal(be32_get(out + 58), 0x20000000);
	assert_memory_equal(out + 62, a.b, 16);
	assert_memory_equal(out + 78, tlla, 8);
	assert_int_equal(be16_get(out + 56), 0xf86e); /* the DAD answer's: the same NA */
	assert_int_equal(ref_icmp6(out), 0);
	/* gw never answers an advertisement */
	assert_int_equal(ndp_answer(out, NDP_FRAME, MAC, R, 2, out), 0);
}

struct mut {
	size_t full;
	unsigned answered;
};

static void one(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct mut *c = ctx;
	uint8_t out[NDP_FRAME];
	size_t n = ndp_answer(buf, len, MAC, R, 2, out);
	size_t byte = m->pos / 8;
	bool valid;

	if (m->kind == MUTANT_TRUNC)
		valid = len == c->full;
	else /* outside the checked and summed bytes: the MACs, the traffic
	      * class and flow label; every flip of a summed bit breaks the
	      * sum */
		valid = byte < 12 || (byte == 14 && m->pos % 8 < 4) || (byte >= 15 && byte < 18);
	if ((n != 0) != valid)
		fail_msg("mutant %s %zu: answered %zu, valid %d",
			 m->kind == MUTANT_FLIP ? "flip" : "trunc", m->pos, n, valid);
	if (n) {
		assert_memory_equal(out, ASKER, 6);
		assert_int_equal(ref_icmp6(out), 0);
		c->answered++;
	}
}

static void test_mutants(void **state)
{
	uint8_t f[128];
	struct mut c = { 0 };

	(void)state;
	c.full = ns(f, "2001:db8::2", "ff02::1:ff01:105", "2001:db8:f::1:105", true);
	assert_int_equal(mutate_all(f, c.full, one, &c), c.full * 9);
	assert_true(c.answered > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_dad),
		cmocka_unit_test(test_not_answered),
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_mutants),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
