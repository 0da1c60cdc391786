/* SPDX-License-Identifier: MIT */
/*
 * gw/arp: the answer to a request for a foreign NAT address (every field),
 * probes, what gw never answers, the gratuitous announcement, and every bit
 * flip and truncation of a valid request: answered only when still a valid
 * request for one of the addresses, never read past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw/arp.h"
#include "gw/bpf.h"
#include "nat/pkt/be.h"
#include "tests/unit/util_mutate.h"

static const uint8_t MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t ASKER[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static const struct bpf_addr_range R[] = {
	{ 0xc6336432, 0xc6336432 },	/* 198.51.100.50 */
	{ 0xcb00710a, 0xcb007114 },	/* 203.0.113.10-20 */
};

static void request(uint8_t *f, uint32_t spa, uint32_t tpa)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, ASKER, 6);
	be16_put(f + 12, 0x0806);
	be16_put(f + 14, 1);
	be16_put(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	be16_put(f + 20, 1);
	memcpy(f + 22, ASKER, 6);
	be32_put(f + 28, spa);
	memset(f + 32, 0, 6);
	be32_put(f + 38, tpa);
}

static void test_answer(void **state)
{
	uint8_t f[60] = { 0 }, out[ARP_FRAME];

	(void)state;
	request(f, 0xc6336402, 0xc6336432);
	assert_int_equal(arp_answer(f, sizeof(f), MAC, R, 2, out), ARP_FRAME);
	assert_memory_equal(out, ASKER, 6);		/* to the asker */
	assert_memory_equal(out + 6, MAC, 6);		/* from the uplink */
	assert_int_equal(be16_get(out + 12), 0x0806);
	assert_int_equal(be16_get(out + 14), 1);
	assert_int_equal(be16_get(out + 16), 0x0800);
	assert_int_equal(out[18], 6);
	assert_int_equal(out[19], 4);
	assert_int_equal(be16_get(out + 20), 2);	/* reply */
	assert_memory_equal(out + 22, MAC, 6);		/* 198.51.100.50 is at MAC */
	assert_int_equal(be32_get(out + 28), 0xc6336432);
	assert_memory_equal(out + 32, ASKER, 6);
	assert_int_equal(be32_get(out + 38), 0xc6336402);

	/* the range's edges; a probe (RFC 5227) is answered too */
	request(f, 0xc6336402, 0xcb00710a);
	assert_int_equal(arp_answer(f, ARP_FRAME, MAC, R, 2, out), ARP_FRAME);
	request(f, 0, 0xcb007114);
	assert_int_equal(arp_answer(f, sizeof(f), MAC, R, 2, out), ARP_FRAME);
	assert_int_equal(be32_get(out + 38), 0);

	/* not answered: other addresses, announcements, replies, short frames,
	 * a multicast sender */
	request(f, 0xc6336402, 0xcb007115);
	assert_int_equal(arp_answer(f, sizeof(f), MAC, R, 2, out), 0);
	request(f, 0xc6336402, 0xc6336431);
	assert_int_equal(arp_answer(f, sizeof(f), MAC, R, 2, out), 0);
	request(f, 0xc6336432, 0xc6336432);
	assert_int_equal(arp_answer(f, sizeof(f), MAC, R, 2, out), 0);
	request(f, 0xc6336402, 0xc6336432);
	be16_put(f + 20, 2);
	assert_int_equal(arp_answer(f, sizeof(f), MAC, R, 2, out), 0);
	request(f, 0xc6336402, 0xc6336432);
	assert_int_equal(arp_answer(f, ARP_FRAME - 1, MAC, R, 2, out), 0);
	f[22] |= 1;
	assert_int_equal(arp_answer(f, sizeof(f), MAC, R, 2, out), 0);
	request(f, 0xc6336402, 0xc6336432);
	assert_int_equal(arp_answer(f, sizeof(f), MAC, R, 0, out), 0);
}

static void test_announce(void **state)
{
	uint8_t out[ARP_FRAME];
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	(void)state;
	arp_announce(MAC, 0xc6336432, out);
	assert_memory_equal(out, bcast, 6);
	assert_memory_equal(out + 6, MAC, 6);
	assert_int_equal(be16_get(out + 20), 1);
	assert_memory_equal(out + 22, MAC, 6);
	assert_int_equal(be32_get(out + 28), 0xc6336432);
	assert_int_equal(be32_get(out + 38), 0xc6336432);
	/* nobody answers an announcement, gw included */
	assert_int_equal(arp_answer(out, ARP_FRAME, MAC, R, 2, out), 0);
}

struct mut {
	unsigned answered;
};

static void one(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct mut *c = ctx;
	uint8_t out[ARP_FRAME];
	size_t n = arp_answer(buf, len, MAC, R, 2, out);
	bool valid = len >= ARP_FRAME && be16_get(buf + 12) == 0x0806 && be16_get(buf + 14) == 1 &&
		     be16_get(buf + 16) == 0x0800 && buf[18] == 6 && buf[19] == 4 &&
		     be16_get(buf + 20) == 1 && !(buf[22] & 1) &&
		     be32_get(buf + 28) != be32_get(buf + 38) &&
		     ((be32_get(buf + 38) >= R[0].lo && be32_get(buf + 38) <= R[0].hi) ||
		      (be32_get(buf + 38) >= R[1].lo && be32_get(buf + 38) <= R[1].hi));

	if ((n != 0) != valid)
		fail_msg("mutant %s %zu: answered %zu, valid %d",
			 m->kind == MUTANT_FLIP ? "flip" : "trunc", m->pos, n, valid);
	if (n) {
		assert_memory_equal(out, buf + 22, 6);
		assert_int_equal(be32_get(out + 28), be32_get(buf + 38));
		c->answered++;
	}
}

static void test_mutants(void **state)
{
	uint8_t f[ARP_FRAME];
	struct mut c = { 0 };

	(void)state;
	request(f, 0xc6336402, 0xcb00710f);
	assert_int_equal(mutate_all(f, sizeof(f), one, &c), sizeof(f) * 9);
	assert_true(c.answered > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_mutants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
