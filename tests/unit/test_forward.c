/* SPDX-License-Identifier: MIT */
/* gw/forward: the one decision gw run carries out and gw trace prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gw/forward.h"
#include "tests/unit/util_ctpkt.h"

static const struct fwd_env env = { "gw0", "eth0", true };

static struct nf_result accepted(enum nf_route_kind kind, const char *out, uint16_t mtu)
{
	struct nf_result r = { .verdict = NF_ACCEPT, .drop = NF_DROP_NONE };

	r.route.kind = kind;
	snprintf(r.route.out, sizeof(r.route.out), "%s", out);
	r.route.mtu = mtu;
	return r;
}

static void udp(struct tpkt *t, size_t datalen, bool df)
{
	tp_udp(t, IP4(10, 8, 0, 2), IP4(198, 51, 100, 2), 40000, 53, datalen);
	if (df)
		tp_set_frag(t, 0x4000);
}

/* Accepted packets go where the route says, counted by where they came from. */
static void test_routes(void **state)
{
	struct tpkt t;
	struct fwd_action a;
	struct nf_result r;

	(void)state;
	udp(&t, 100, false);
	r = accepted(NF_ROUTE_FORWARD, "eth0", 1500);
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_int_equal(a.kind, FWD_UPLINK);
	assert_int_equal(a.path, GW_PATH_PEER_UPLINK);
	assert_int_equal(a.answer, FWD_ANSWER_NONE);
	assert_int_equal(a.cut, 0);
	fwd_decide(&env, &t.p, &r, FWD_FROM_HOST, &a);
	assert_int_equal(a.path, GW_PATH_HOST_UPLINK);

	r = accepted(NF_ROUTE_FORWARD, "gw0", 1420);
	fwd_decide(&env, &t.p, &r, FWD_FROM_UPLINK, &a);
	assert_int_equal(a.kind, FWD_PEER);
	assert_int_equal(a.path, GW_PATH_UPLINK_PEER);
	fwd_decide(&env, &t.p, &r, FWD_FROM_GW, &a);
	assert_int_equal(a.path, GW_PATH_ANSWER);

	r = accepted(NF_ROUTE_LOCAL, "gw0", 1420);
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_int_equal(a.kind, FWD_HOST);
	assert_int_equal(a.path, GW_PATH_PEER_HOST);

	/* without the uplink: dropped, not answered */
	struct fwd_env down = env;

	down.uplink_on = false;
	r = accepted(NF_ROUTE_FORWARD, "eth0", 1500);
	fwd_decide(&down, &t.p, &r, FWD_FROM_PEER, &a);
	assert_int_equal(a.kind, FWD_DROP);
	assert_false(a.nf_drop);
	assert_int_equal(a.drop, GW_DROP_UPLINK_DOWN);
	assert_int_equal(a.answer, FWD_ANSWER_NONE);
}

/* Off the uplink for the host: ICMP to the uplink's address is the
 * kernel's too; TCP/UDP (the tc filter hid it) cannot reach the host. */
static void test_uplink_local(void **state)
{
	struct tpkt t;
	struct fwd_action a;
	struct nf_result r = accepted(NF_ROUTE_LOCAL, "eth0", 1500);

	(void)state;
	tp_icmp(&t, IP4(198, 51, 100, 2), IP4(198, 51, 100, 1), 8, 0, 7);
	fwd_decide(&env, &t.p, &r, FWD_FROM_UPLINK, &a);
	assert_int_equal(a.kind, FWD_KERNEL);
	assert_int_equal(a.path, GW_PATH_UPLINK_LOCAL);
	udp(&t, 10, false);
	fwd_decide(&env, &t.p, &r, FWD_FROM_UPLINK, &a);
	assert_int_equal(a.kind, FWD_DROP);
	assert_int_equal(a.drop, GW_DROP_UPLINK_HOST);
	r = accepted(NF_ROUTE_LOCAL, "gw0", 1420);
	tp_icmp(&t, IP4(198, 51, 100, 2), IP4(10, 8, 0, 1), 8, 0, 7);
	fwd_decide(&env, &t.p, &r, FWD_FROM_UPLINK, &a);
	assert_int_equal(a.drop, GW_DROP_UPLINK_HOST);
}

/* Over the MTU: DF is answered with fragmentation needed and the MTU
 * (never for gw's own answers), else cut; a reassembled datagram leaves in
 * pieces no larger than it came. */
static void test_mtu(void **state)
{
	struct tpkt t;
	struct fwd_action a;
	struct nf_result r = accepted(NF_ROUTE_FORWARD, "eth0", 576);

	(void)state;
	udp(&t, 1000, true);
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_int_equal(a.kind, FWD_DROP);
	assert_int_equal(a.drop, GW_DROP_TOO_BIG);
	assert_int_equal(a.answer, FWD_ANSWER_ICMP);
	assert_int_equal(a.type, 3);
	assert_int_equal(a.code, 4);
	assert_int_equal(a.mtu, 576);
	fwd_decide(&env, &t.p, &r, FWD_FROM_GW, &a);
	assert_int_equal(a.kind, FWD_DROP);
	assert_int_equal(a.answer, FWD_ANSWER_NONE);

	udp(&t, 1000, false);
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_int_equal(a.kind, FWD_UPLINK);
	assert_int_equal(a.cut, 576);
	t.p.frag_max = 500;
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_int_equal(a.cut, 500);
	/* reassembled with DF: too big only when its own fragments were */
	udp(&t, 1000, true);
	t.p.frag_max = 500;
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_int_equal(a.kind, FWD_UPLINK);
	assert_int_equal(a.cut, 500);
	t.p.frag_max = 600;
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_int_equal(a.drop, GW_DROP_TOO_BIG);
}

/* Refused packets: the verdict's drop; REJECT and an expired TTL are
 * answered, unless gw made the packet; a packet to no peer is answered
 * with host unreachable. */
static void test_refused(void **state)
{
	struct tpkt t;
	struct fwd_action a;
	struct nf_result r = { .verdict = NF_REJECT, .drop = NF_DROP_REJECT };

	(void)state;
	udp(&t, 10, false);
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_int_equal(a.kind, FWD_DROP);
	assert_true(a.nf_drop);
	assert_int_equal(a.answer, FWD_ANSWER_REJECT);
	fwd_decide(&env, &t.p, &r, FWD_FROM_GW, &a);
	assert_int_equal(a.answer, FWD_ANSWER_NONE);

	r = (struct nf_result){ .verdict = NF_DROP, .drop = NF_DROP_TTL };
	fwd_decide(&env, &t.p, &r, FWD_FROM_UPLINK, &a);
	assert_int_equal(a.answer, FWD_ANSWER_ICMP);
	assert_int_equal(a.type, 11);
	assert_int_equal(a.code, 0);

	/* over the MTU before FORWARD (netfilter's drop): fragmentation needed
	 * with the route's MTU */
	r = (struct nf_result){ .verdict = NF_DROP, .drop = NF_DROP_TOO_BIG };
	r.route.mtu = 1400;
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_true(a.nf_drop);
	assert_int_equal(a.answer, FWD_ANSWER_ICMP);
	assert_int_equal(a.type, 3);
	assert_int_equal(a.code, 4);
	assert_int_equal(a.mtu, 1400);

	r = (struct nf_result){ .verdict = NF_DROP, .drop = NF_DROP_RULE };
	fwd_decide(&env, &t.p, &r, FWD_FROM_PEER, &a);
	assert_true(a.nf_drop);
	assert_int_equal(a.answer, FWD_ANSWER_NONE);

	r = accepted(NF_ROUTE_FORWARD, "gw0", 1420);
	fwd_decide(&env, &t.p, &r, FWD_FROM_HOST, &a);
	fwd_no_peer(FWD_FROM_HOST, &t.p, &a);
	assert_int_equal(a.kind, FWD_DROP);
	assert_false(a.nf_drop);
	assert_int_equal(a.drop, GW_DROP_NO_PEER);
	assert_int_equal(a.answer, FWD_ANSWER_ICMP);
	assert_int_equal(a.type, 3);
	assert_int_equal(a.code, 1);
	fwd_decide(&env, &t.p, &r, FWD_FROM_GW, &a);
	fwd_no_peer(FWD_FROM_GW, &t.p, &a);
	assert_int_equal(a.answer, FWD_ANSWER_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_uplink_local),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
