/* SPDX-License-Identifier: MIT */
/*
 * gw/neigh: the next hop of a destination from the uplink's routes as the
 * kernel's netlink messages give them (longest prefix, lowest metric, other
 * devices and tables ignored, routes gw does not follow and a full table
 * sending by the raw socket); neighbour states (usable, stale confirmed once
 * per stale period, failed and deleted gone, proxies ignored); the open
 * table under seeded inserts and deletes; and uplink_tx_ip_fill's IP header
 * (ID as the raw socket gives it with DF set and unset, checksum, length).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "gw/neigh.h"
#include "gw/uplink_tx.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "tests/unit/util_rng.h"

enum { UPLINK = 3, OTHER = 4 };

static const uint8_t MAC_A[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t MAC_B[6] = { 2, 0, 0, 0, 0, 0xb };

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

static void neigh_ev(struct neigh *n, uint16_t type, int ifindex, const char *addr,
		     const uint8_t *mac, uint16_t state, uint8_t flags)
{
	char buf[256] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));

	nlh->nlmsg_type = type;
	nd->ndm_family = AF_INET;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = state;
	nd->ndm_flags = flags;
	mnl_attr_put_u32(nlh, NDA_DST, htonl(ip(addr)));
	if (mac)
		mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	neigh_msg(n, nlh);
}

struct rt {
	const char *dst;
	uint8_t len;
	const char *gw;		/* NULL: on the link */
	int oif;		/* 0: none */
	uint32_t prio;
	uint8_t type;		/* 0: RTN_UNICAST */
	uint32_t table;		/* 0: main */
	bool multipath_here;
};

static void route_ev(struct neigh *n, uint16_t type, const struct rt *r)
{
	char buf[512] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));

	nlh->nlmsg_type = type;
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = r->len;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_type = r->type ? r->type : RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table ? r->table : RT_TABLE_MAIN);
	if (r->len)
		mnl_attr_put_u32(nlh, RTA_DST, htonl(ip(r->dst)));
	if (r->gw)
		mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(ip(r->gw)));
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->oif);
	if (r->prio)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, r->prio);
	if (r->multipath_here) {
		struct nlattr *mp = mnl_attr_nest_start(nlh, RTA_MULTIPATH);
		struct rtnexthop *nh = mnl_nlmsg_get_payload_tail(nlh);

		memset(nh, 0, 2 * sizeof(*nh));
		nh[0] = (struct rtnexthop){ .rtnh_len = sizeof(*nh), .rtnh_ifindex = OTHER };
		nh[1] = (struct rtnexthop){ .rtnh_len = sizeof(*nh), .rtnh_ifindex = UPLINK };
		nlh->nlmsg_len += 2 * sizeof(*nh);
		mnl_attr_nest_end(nlh, mp);
	}
	neigh_msg(n, nlh);
}

static void expect(struct neigh *n, const char *dst, enum neigh_verdict v, const uint8_t *mac)
{
	uint8_t got[6] = { 0 };
	enum neigh_verdict was = neigh_lookup(n, ip(dst), got);

	if (was != v)
		print_message("%s: verdict %d, not %d\n", dst, was, v);
	assert_int_equal(was, v);
	if (v == NEIGH_MAC)
		assert_memory_equal(got, mac, 6);
}

/* 192.0.2.0/24 on the link, default via .254 (A), .253 is B. */
static void lan(struct neigh *n)
{
	neigh_init(n, UPLINK);
	route_ev(n, RTM_NEWROUTE, &(struct rt){ "192.0.2.0", 24, NULL, UPLINK, 0, 0, 0, false });
	route_ev(n, RTM_NEWROUTE, &(struct rt){ "0.0.0.0", 0, "192.0.2.254", UPLINK, 100, 0, 0,
						 false });
	neigh_ev(n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_A, NUD_REACHABLE, 0);
	neigh_ev(n, RTM_NEWNEIGH, UPLINK, "192.0.2.253", MAC_B, NUD_REACHABLE, 0);
}

static void test_routes(void **state)
{
	struct neigh n;

	(void)state;
	lan(&n);
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_A);		/* the default's gateway */
	expect(&n, "192.0.2.253", NEIGH_MAC, MAC_B);		/* on the link: itself */
	expect(&n, "192.0.2.7", NEIGH_RAW, NULL);		/* no entry: the kernel resolves */
	/* another device's route and another table's: not the raw socket's */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "10.0.0.0", 8, "192.0.2.253", OTHER, 0, 0, 0, false });
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "10.0.0.0", 8, "192.0.2.253", UPLINK, 0, 0, 100,
						  false });
	expect(&n, "10.1.2.3", NEIGH_MAC, MAC_A);
	/* a longer prefix on the uplink wins, until deleted */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "10.0.0.0", 8, "192.0.2.253", UPLINK, 0, 0, 0, false });
	expect(&n, "10.1.2.3", NEIGH_MAC, MAC_B);
	expect(&n, "11.1.2.3", NEIGH_MAC, MAC_A);
	route_ev(&n, RTM_DELROUTE, &(struct rt){ "10.0.0.0", 8, "192.0.2.253", UPLINK, 0, 0, 0, false });
	expect(&n, "10.1.2.3", NEIGH_MAC, MAC_A);
	/* the lower metric among equal prefixes; the replaced route moves */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "0.0.0.0", 0, "192.0.2.253", UPLINK, 50, 0, 0, false });
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_B);
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "0.0.0.0", 0, "192.0.2.254", UPLINK, 50, 0, 0, false });
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_A);
	/* a route of the uplink that moves to another device is gone */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "0.0.0.0", 0, "192.0.2.254", OTHER, 50, 0, 0, false });
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "0.0.0.0", 0, "192.0.2.254", OTHER, 100, 0, 0, false });
	expect(&n, "8.8.8.8", NEIGH_RAW, NULL);	/* on the link (the kernel's oif rule): itself */
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "8.8.8.8", MAC_B, NUD_REACHABLE, 0);
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_B);
	/* what gw does not follow: the raw socket */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "198.51.100.0", 24, NULL, 0, 0, RTN_UNREACHABLE, 0,
						  false });
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "203.0.113.0", 24, NULL, 0, 0, 0, 0, true });
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "192.0.2.128", 25, NULL, UPLINK, 0, 0, 0, false });
	expect(&n, "198.51.100.1", NEIGH_RAW, NULL);
	expect(&n, "203.0.113.1", NEIGH_RAW, NULL);
	expect(&n, "192.0.2.253", NEIGH_MAC, MAC_B);		/* /25 on the link still */
	route_ev(&n, RTM_DELROUTE, &(struct rt){ "198.51.100.0", 24, NULL, 0, 0, RTN_UNREACHABLE, 0,
						  false });
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "198.51.100.1", MAC_A, NUD_REACHABLE, 0);
	expect(&n, "198.51.100.1", NEIGH_MAC, MAC_A);
}

static void test_routes_full(void **state)
{
	struct neigh n;
	char dst[48];

	(void)state;
	lan(&n);
	for (unsigned i = 0; i < NEIGH_ROUTES - 2; i++) {
		snprintf(dst, sizeof(dst), "10.%u.0.0", i);
		route_ev(&n, RTM_NEWROUTE, &(struct rt){ dst, 16, "192.0.2.253", UPLINK, 0, 0, 0, false });
	}
	expect(&n, "10.3.0.1", NEIGH_MAC, MAC_B);
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_A);
	/* one more than the table holds: nothing is sure, all by the raw socket */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "172.16.0.0", 12, "192.0.2.254", UPLINK, 0, 0, 0,
						  false });
	expect(&n, "8.8.8.8", NEIGH_RAW, NULL);
	expect(&n, "10.3.0.1", NEIGH_RAW, NULL);
}

static void test_states(void **state)
{
	struct neigh n;

	(void)state;
	lan(&n);
	/* stale: the first packet by the raw socket, then frames */
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_A, NUD_STALE, 0);
	expect(&n, "8.8.8.8", NEIGH_CONFIRM, NULL);
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_A);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_A, NUD_STALE, 0); /* still */
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_A);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_A, NUD_DELAY, 0);
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_A);
	/* confirmed with a new MAC; stale again: once more */
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_B, NUD_REACHABLE, 0);
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_B);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_B, NUD_STALE, 0);
	expect(&n, "8.8.8.8", NEIGH_CONFIRM, NULL);
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_B);
	/* failed, incomplete, deleted: the raw socket */
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_B, NUD_FAILED, 0);
	expect(&n, "8.8.8.8", NEIGH_RAW, NULL);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_A, NUD_PERMANENT, 0);
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_A);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", NULL, NUD_INCOMPLETE, 0);
	expect(&n, "8.8.8.8", NEIGH_RAW, NULL);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_A, NUD_REACHABLE, 0);
	neigh_ev(&n, RTM_DELNEIGH, UPLINK, "192.0.2.254", MAC_A, NUD_REACHABLE, 0);
	expect(&n, "8.8.8.8", NEIGH_RAW, NULL);
	/* another device's entry and a proxy entry are not next hops */
	neigh_ev(&n, RTM_NEWNEIGH, OTHER, "192.0.2.254", MAC_A, NUD_REACHABLE, 0);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_A, NUD_REACHABLE, NTF_PROXY);
	expect(&n, "8.8.8.8", NEIGH_RAW, NULL);
	assert_int_equal(n.nentry, 1); /* .253 */
}

/* Seeded inserts and deletes of 400 addresses (more than the table
 * takes): every one kept is found with its MAC, every one deleted or
 * refused is not, the table never over 3/4. */
static void test_table(void **state)
{
	enum { N = 400 };
	bool in[N] = { false };
	struct rng r = { test_seed() };
	struct neigh n;
	unsigned count = 0;

	(void)state;
	neigh_init(&n, UPLINK);
	for (unsigned round = 0; round < 50000; round++) {
		unsigned k = rnd(&r, N), before = n.nentry;
		uint32_t a = 0x0a000000u | k;
		uint8_t mac[6] = { 2, 1, 0, (uint8_t)(k >> 8), (uint8_t)k, (uint8_t)round };
		char s[32];
		bool add = rnd(&r, 3) != 0;

		snprintf(s, sizeof(s), "10.0.%u.%u", k >> 8, k & 255);
		neigh_ev(&n, add ? RTM_NEWNEIGH : RTM_DELNEIGH, UPLINK, s, mac, NUD_REACHABLE, 0);
		if (!add && in[k]) {
			in[k] = false;
			count--;
		} else if (add && !in[k] && n.nentry == before + 1) {
			in[k] = true;
			count++;
		}
		assert_int_equal(n.nentry, count);
		assert_true(4 * n.nentry <= 3 * NEIGH_SLOTS);
		if (add && in[k]) {
			uint8_t got[6];

			assert_int_equal(neigh_lookup(&n, a, got), NEIGH_MAC);
			assert_memory_equal(got, mac, 6);
		}
		if (round % 1000 == 0) {
			for (unsigned j = 0; j < N; j++) {
				uint8_t got[6];

				assert_int_equal(neigh_lookup(&n, 0x0a000000u | j, got),
						 in[j] ? NEIGH_MAC : NEIGH_RAW);
				if (in[j])
					assert_int_equal(got[4], (uint8_t)j);
			}
		}
	}
	assert_true(count > NEIGH_SLOTS / 2); /* the table was filled */
}

static void test_ip_fill(void **state)
{
	struct uplink_tx t;
	uint8_t p[40] = { 0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17 };
	uint16_t a, b;

	(void)state;
	memset(&t, 0, sizeof(t));
	for (unsigned i = 0; i < UPLINK_TX_IDS; i++)
		t.id[i] = (uint16_t)(1000 + i);
	be32_put(p + 12, ip("192.0.2.1"));
	be32_put(p + 16, ip("198.51.100.2"));
	/* DF and no ID: zero stays, as the raw socket sends it */
	uplink_tx_ip_fill(&t, p, 28);
	assert_int_equal(be16_get(p + 2), 28);
	assert_int_equal(be16_get(p + 4), 0);
	assert_int_equal(csum_ip(p, 20), be16_get(p + 10));
	/* an ID is kept, DF or not */
	be16_put(p + 4, 0x1234);
	uplink_tx_ip_fill(&t, p, 40);
	assert_int_equal(be16_get(p + 4), 0x1234);
	assert_int_equal(be16_get(p + 2), 40);
	be16_put(p + 6, 0);
	uplink_tx_ip_fill(&t, p, 40);
	assert_int_equal(be16_get(p + 4), 0x1234);
	assert_int_equal(csum_ip(p, 20), be16_get(p + 10));
	/* no DF, no ID: the next of the flow's counter */
	be16_put(p + 4, 0);
	uplink_tx_ip_fill(&t, p, 40);
	a = be16_get(p + 4);
	be16_put(p + 4, 0);
	uplink_tx_ip_fill(&t, p, 40);
	b = be16_get(p + 4);
	assert_true(a >= 1000 && a < 1000 + UPLINK_TX_IDS);
	assert_int_equal(b, (uint16_t)(a + 1));
	assert_int_equal(csum_ip(p, 20), be16_get(p + 10));
	/* a fragment (MF, offset) without DF gets one too */
	be16_put(p + 4, 0);
	be16_put(p + 6, 0x2000);
	uplink_tx_ip_fill(&t, p, 40);
	assert_int_equal(be16_get(p + 4), (uint16_t)(a + 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_routes_full),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ip_fill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
