/* SPDX-License-Identifier: MIT */
/*
 * gw/neigh: the next hop of a destination from the uplink's routes as the
 * kernel's netlink messages give them (longest prefix, lowest metric, other
 * devices and tables ignored, routes gw does not follow and a full table
 * sending by the raw socket); neighbour states (usable, stale confirmed once
 * per stale period, failed and deleted gone, proxies ignored); the open
 * table under seeded inserts and deletes of both families; IPv6 routes
 * (a link-local default gateway, no route meaning the raw socket, several
 * routers of one metric left to the kernel, NLM_F_REPLACE) and NDP states;
 * uplink_tx_ip_fill's IP header (ID as the raw socket gives it with DF set
 * and unset, checksum, length); and the messages uplink_send_commit
 * queues for IPv6 and IPv4 (frames with the next hop's MAC, ethertype and
 * destination protocol; the vnet header for TCP; the IPv6 raw socket's
 * sockaddr_in6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "gw/neigh.h"
#include "gw/uplink_tx.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/vnet.h"
#include "tests/unit/util_rng.h"

enum { UPLINK = 3, OTHER = 4 };

static const uint8_t MAC_A[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t MAC_B[6] = { 2, 0, 0, 0, 0, 0xb };
static const uint8_t MAC_C[6] = { 2, 0, 0, 0, 0, 0xc };

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

static union nf_addr ip6(const char *s)
{
	union nf_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, a.b), 1);
	return a;
}

/* An address with ':' is IPv6 (the message's family follows). */
static void neigh_ev(struct neigh *n, uint16_t type, int ifindex, const char *addr,
		     const uint8_t *mac, uint16_t state, uint8_t flags)
{
	char buf[256] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	bool v6 = strchr(addr, ':');

	nlh->nlmsg_type = type;
	nd->ndm_family = v6 ? AF_INET6 : AF_INET;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = state;
	nd->ndm_flags = flags;
	if (v6)
		mnl_attr_put(nlh, NDA_DST, 16, ip6(addr).b);
	else
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

/* A dst with ':' is an IPv6 route; flags: nlmsg_flags (NLM_F_REPLACE). */
static void route_ev_flags(struct neigh *n, uint16_t type, uint16_t flags, const struct rt *r)
{
	char buf[512] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	bool v6 = strchr(r->dst, ':');

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	rt->rtm_family = v6 ? AF_INET6 : AF_INET;
	rt->rtm_dst_len = r->len;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_type = r->type ? r->type : RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table ? r->table : RT_TABLE_MAIN);
	if (r->len && v6)
		mnl_attr_put(nlh, RTA_DST, 16, ip6(r->dst).b);
	else if (r->len)
		mnl_attr_put_u32(nlh, RTA_DST, htonl(ip(r->dst)));
	if (r->gw && v6)
		mnl_attr_put(nlh, RTA_GATEWAY, 16, ip6(r->gw).b);
	else if (r->gw)
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

static void route_ev(struct neigh *n, uint16_t type, const struct rt *r)
{
	route_ev_flags(n, type, 0, r);
}

static void expect(struct neigh *n, const char *dst, enum neigh_verdict v, const uint8_t *mac)
{
	uint8_t got[6] = { 0 };
	enum neigh_verdict was;

	if (strchr(dst, ':')) {
		union nf_addr a = ip6(dst);

		was = neigh_lookup6(n, &a, got);
	} else {
		was = neigh_lookup(n, ip(dst), got);
	}

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

/* A multipath route whose last next hop ends the message, in a buffer of
 * exactly its length (found by fuzz_netlink: the walk read the length of a
 * next hop past the end; SAN=1 sees it). */
static void test_multipath_end(void **state)
{
	char buf[256] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf), *copy;
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	struct nlattr *mp;
	struct rtnexthop *nh;
	struct neigh n;

	(void)state;
	lan(&n);
	nlh->nlmsg_type = RTM_NEWROUTE;
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = 8;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_DST, htonl(ip("10.0.0.0")));
	mp = mnl_attr_nest_start(nlh, RTA_MULTIPATH);
	nh = mnl_nlmsg_get_payload_tail(nlh);
	*nh = (struct rtnexthop){ .rtnh_len = sizeof(*nh), .rtnh_ifindex = OTHER };
	nlh->nlmsg_len += sizeof(*nh);
	mnl_attr_nest_end(nlh, mp);
	copy = malloc(nlh->nlmsg_len);
	assert_non_null(copy);
	memcpy(copy, nlh, nlh->nlmsg_len);
	neigh_msg(&n, copy);
	free(copy);
	/* a multipath route names no oif: left to the raw socket, as the
	 * one in test_routes */
	expect(&n, "10.1.2.3", NEIGH_RAW, NULL);
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

/* 2001:db8:1::/64 and fe80::/64 on the link, default via fe80::1 (A) as
 * an RA gives it; 2001:db8:1::5 is B. */
static void lan6(struct neigh *n)
{
	neigh_init(n, UPLINK);
	route_ev(n, RTM_NEWROUTE, &(struct rt){ "2001:db8:1::", 64, NULL, UPLINK, 256, 0, 0, false });
	route_ev(n, RTM_NEWROUTE, &(struct rt){ "fe80::", 64, NULL, UPLINK, 256, 0, 0, false });
	route_ev(n, RTM_NEWROUTE, &(struct rt){ "::", 0, "fe80::1", UPLINK, 1024, 0, 0, false });
	neigh_ev(n, RTM_NEWNEIGH, UPLINK, "fe80::1", MAC_A, NUD_REACHABLE, 0);
	neigh_ev(n, RTM_NEWNEIGH, UPLINK, "2001:db8:1::5", MAC_B, NUD_REACHABLE, 0);
}

static void test_routes6(void **state)
{
	struct neigh n;

	(void)state;
	lan6(&n);
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);	/* the link-local gateway */
	expect(&n, "2001:db8:1::5", NEIGH_MAC, MAC_B);		/* on the link: itself */
	expect(&n, "fe80::1", NEIGH_MAC, MAC_A);
	expect(&n, "2001:db8:1::7", NEIGH_RAW, NULL);		/* no entry: the kernel resolves */
	/* the IPv4 table is another: no IPv4 route or entry answers IPv6 */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "0.0.0.0", 0, "192.0.2.254", UPLINK, 0, 0, 0, false });
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_C, NUD_REACHABLE, 0);
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	expect(&n, "8.8.8.8", NEIGH_MAC, MAC_C);
	/* other devices' and tables' routes ignored; a longer prefix via a
	 * global gateway wins; the lower metric among equals */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8:99::", 48, "2001:db8:1::5", OTHER, 0, 0, 0,
						  false });
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8:99::", 48, "2001:db8:1::5", UPLINK, 0, 0,
						  100, false });
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8:99::", 48, "2001:db8:1::5", UPLINK, 1024, 0,
						  0, false });
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_B);
	expect(&n, "2001:db8:9a::1", NEIGH_MAC, MAC_A);
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8:99::", 48, "fe80::1", UPLINK, 512, 0, 0,
						  false });
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	route_ev(&n, RTM_DELROUTE, &(struct rt){ "2001:db8:99::", 48, "fe80::1", UPLINK, 512, 0, 0,
						  false });
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_B);
	route_ev(&n, RTM_DELROUTE, &(struct rt){ "2001:db8:99::", 48, "2001:db8:1::5", UPLINK, 1024, 0,
						  0, false });
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	/* a second router of the same metric: the kernel chooses between
	 * them; one gone, the other is the next hop */
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "fe80::2", MAC_B, NUD_REACHABLE, 0);
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "::", 0, "fe80::2", UPLINK, 1024, 0, 0, false });
	expect(&n, "2001:db8:99::1", NEIGH_RAW, NULL);
	route_ev(&n, RTM_DELROUTE, &(struct rt){ "::", 0, "fe80::1", UPLINK, 1024, 0, 0, false });
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_B);
	/* replaced: the new gateway only */
	route_ev_flags(&n, RTM_NEWROUTE, NLM_F_REPLACE,
		       &(struct rt){ "::", 0, "fe80::1", UPLINK, 1024, 0, 0, false });
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	assert_int_equal(n.nroute6, 3);
	/* what gw does not follow: the raw socket */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8:dead::", 48, NULL, 0, 0, RTN_UNREACHABLE, 0,
						  false });
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8:beef::", 48, NULL, 0, 0, 0, 0, true });
	expect(&n, "2001:db8:dead::1", NEIGH_RAW, NULL);
	expect(&n, "2001:db8:beef::1", NEIGH_RAW, NULL);
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	/* the default route moves to another device: no route on the uplink
	 * is no next hop (a bound socket's lookup keeps to its device), even
	 * with an entry for the destination itself */
	route_ev_flags(&n, RTM_NEWROUTE, NLM_F_REPLACE,
		       &(struct rt){ "::", 0, "fe80::1", OTHER, 1024, 0, 0, false });
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "2001:db8:99::1", MAC_C, NUD_REACHABLE, 0);
	expect(&n, "2001:db8:99::1", NEIGH_RAW, NULL);
	expect(&n, "2001:db8:1::5", NEIGH_MAC, MAC_B);
	/* a /128 on the link */
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8:99::1", 128, NULL, UPLINK, 0, 0, 0, false });
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_C);
	expect(&n, "2001:db8:99::2", NEIGH_RAW, NULL);
}

static void test_routes6_full(void **state)
{
	struct neigh n;
	char dst[48];

	(void)state;
	lan6(&n);
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "192.0.2.0", 24, NULL, UPLINK, 0, 0, 0, false });
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "192.0.2.253", MAC_B, NUD_REACHABLE, 0);
	for (unsigned i = 0; i < NEIGH_ROUTES - 3; i++) {
		snprintf(dst, sizeof(dst), "2001:db8:%x::", 0x100 + i);
		route_ev(&n, RTM_NEWROUTE, &(struct rt){ dst, 48, "2001:db8:1::5", UPLINK, 0, 0, 0,
							  false });
	}
	expect(&n, "2001:db8:103::1", NEIGH_MAC, MAC_B);
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8:ffff::", 48, "fe80::1", UPLINK, 0, 0, 0,
						  false });
	expect(&n, "2001:db8:99::1", NEIGH_RAW, NULL);
	expect(&n, "2001:db8:103::1", NEIGH_RAW, NULL);
	expect(&n, "192.0.2.253", NEIGH_MAC, MAC_B);	/* IPv4's table is not full */
}

static void test_states6(void **state)
{
	struct neigh n;
	union nf_addr a4 = ip6("2001:db8::");
	char s4[INET_ADDRSTRLEN];
	struct in_addr in;

	(void)state;
	lan6(&n);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "fe80::1", MAC_A, NUD_STALE, 0);
	expect(&n, "2001:db8:99::1", NEIGH_CONFIRM, NULL);
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "fe80::1", MAC_A, NUD_PROBE, 0);
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "fe80::1", MAC_B, NUD_REACHABLE, 0);
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_B);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "fe80::1", MAC_B, NUD_FAILED, 0);
	expect(&n, "2001:db8:99::1", NEIGH_RAW, NULL);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "fe80::1", NULL, NUD_INCOMPLETE, 0);
	expect(&n, "2001:db8:99::1", NEIGH_RAW, NULL);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "fe80::1", MAC_A, NUD_REACHABLE, 0);
	neigh_ev(&n, RTM_NEWNEIGH, OTHER, "fe80::1", MAC_B, NUD_REACHABLE, 0);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "fe80::1", MAC_B, NUD_REACHABLE, NTF_PROXY);
	expect(&n, "2001:db8:99::1", NEIGH_MAC, MAC_A);
	neigh_ev(&n, RTM_DELNEIGH, UPLINK, "fe80::1", MAC_A, NUD_REACHABLE, 0);
	expect(&n, "2001:db8:99::1", NEIGH_RAW, NULL);
	/* an IPv4 address whose union bytes equal an IPv6 one's is another key */
	memcpy(&in.s_addr, a4.b, 4);
	in.s_addr = htonl(in.s_addr); /* .ip (host order) holds the same bytes */
	assert_non_null(inet_ntop(AF_INET, &in, s4, sizeof(s4)));
	assert_int_equal(ip(s4), a4.ip);
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8::", 64, NULL, UPLINK, 0, 0, 0, false });
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, s4, MAC_C, NUD_REACHABLE, 0);
	expect(&n, s4, NEIGH_MAC, MAC_C);
	expect(&n, "2001:db8::", NEIGH_RAW, NULL);
	neigh_ev(&n, RTM_NEWNEIGH, UPLINK, "2001:db8::", MAC_B, NUD_REACHABLE, 0);
	expect(&n, "2001:db8::", NEIGH_MAC, MAC_B);
	expect(&n, s4, NEIGH_MAC, MAC_C);
	neigh_ev(&n, RTM_DELNEIGH, UPLINK, s4, NULL, 0, 0);
	expect(&n, "2001:db8::", NEIGH_MAC, MAC_B);
	expect(&n, s4, NEIGH_RAW, NULL);
}

/* Seeded inserts and deletes of 400 addresses (more than the table
 * takes), the odd ones IPv6: every one kept is found with its MAC, every
 * one deleted or refused is not, the table never over 3/4. */
static void key_addr(unsigned k, char *s, size_t size)
{
	if (k & 1)
		snprintf(s, size, "2001:db8::%x:%x", k * 7919 & 0xffff, k);
	else
		snprintf(s, size, "10.0.%u.%u", k >> 8, k & 255);
}

static void test_table(void **state)
{
	enum { N = 400 };
	bool in[N] = { false };
	struct rng r = { test_seed() };
	struct neigh n;
	unsigned count = 0;

	(void)state;
	neigh_init(&n, UPLINK);
	route_ev(&n, RTM_NEWROUTE, &(struct rt){ "2001:db8::", 64, NULL, UPLINK, 0, 0, 0, false });
	for (unsigned round = 0; round < 50000; round++) {
		unsigned k = rnd(&r, N), before = n.nentry;
		uint8_t mac[6] = { 2, 1, 0, (uint8_t)(k >> 8), (uint8_t)k, (uint8_t)round };
		char s[64];
		bool add = rnd(&r, 3) != 0;

		key_addr(k, s, sizeof(s));
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
		if (add && in[k])
			expect(&n, s, NEIGH_MAC, mac);
		if (round % 1000 == 0) {
			for (unsigned j = 0; j < N; j++) {
				uint8_t got[6];
				enum neigh_verdict v;

				key_addr(j, s, sizeof(s));
				if (j & 1) {
					union nf_addr a = ip6(s);

					v = neigh_lookup6(&n, &a, got);
				} else {
					v = neigh_lookup(&n, ip(s), got);
				}
				assert_int_equal(v, in[j] ? NEIGH_MAC : NEIGH_RAW);
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

/* A packet of proto from src to dst (either family) with plen bytes of
 * L4 in slot; its length.  The IPv6 payload length is left wrong: commit
 * sets it. */
static size_t put_pkt(uint8_t *slot, const char *src, const char *dst, uint8_t proto, size_t plen)
{
	if (strchr(dst, ':')) {
		memset(slot, 0, 40 + plen);
		slot[0] = 0x60;
		slot[6] = proto;
		slot[7] = 64;
		memcpy(slot + 8, ip6(src).b, 16);
		memcpy(slot + 24, ip6(dst).b, 16);
		return 40 + plen;
	}
	memset(slot, 0, 20 + plen);
	slot[0] = 0x45;
	be16_put(slot + 6, 0x4000);
	slot[8] = 64;
	slot[9] = proto;
	be32_put(slot + 12, ip(src));
	be32_put(slot + 16, ip(dst));
	return 20 + plen;
}

/* Message i is a frame to mac of ethertype type for a packet of len
 * bytes, with (TCP) or without the virtio header before it. */
static void expect_frame(const struct uplink_tx *t, unsigned i, const uint8_t *mac,
			 uint16_t type, size_t len, bool vh)
{
	const struct msghdr *m = &t->msg[i].msg_hdr;
	const struct sockaddr_ll *ll = m->msg_name;
	const struct iovec *f = &m->msg_iov[m->msg_iovlen - 1];
	const uint8_t *eth = f->iov_base;

	assert_int_equal(m->msg_namelen, sizeof(*ll));
	assert_ptr_equal(ll, &t->ll[type == 0x86dd]);
	assert_int_equal(ll->sll_family, AF_PACKET);
	assert_int_equal(ll->sll_protocol, htons(type == 0x86dd ? ETH_P_IPV6 : ETH_P_IP));
	assert_int_equal(ll->sll_ifindex, UPLINK);
	assert_int_equal(m->msg_iovlen, vh ? 2 : 1);
	if (vh) {
		static const uint8_t plain[VNET_HLEN];

		assert_int_equal(m->msg_iov[0].iov_len, VNET_HLEN);
		assert_memory_equal(m->msg_iov[0].iov_base, plain, VNET_HLEN);
	}
	assert_int_equal(f->iov_len, 14 + len);
	assert_memory_equal(eth, mac, 6);
	assert_memory_equal(eth + 6, MAC_C, 6);
	assert_int_equal(be16_get(eth + 12), type);
	if (type == 0x86dd)
		assert_int_equal(be16_get(eth + 14 + 4), len - 40);
	else
		assert_int_equal(be16_get(eth + 14 + 2), len);
}

/* Message i goes by the IPv6 raw socket to dst, the packet as it is. */
static void expect_raw6(const struct uplink_tx *t, unsigned i, const char *dst, size_t len)
{
	const struct msghdr *m = &t->msg[i].msg_hdr;
	const struct sockaddr_in6 *a = m->msg_name;
	const uint8_t *p = m->msg_iov[0].iov_base;

	assert_int_equal(m->msg_namelen, sizeof(*a));
	assert_int_equal(a->sin6_family, AF_INET6);
	assert_int_equal(a->sin6_port, 0);
	assert_int_equal(a->sin6_scope_id, strncmp(dst, "ff02:", 5) ? 0 : UPLINK);
	assert_memory_equal(&a->sin6_addr, ip6(dst).b, 16);
	assert_int_equal(m->msg_iovlen, 1);
	assert_int_equal(m->msg_iov[0].iov_len, len);
	assert_int_equal(p[0] >> 4, 6);
	assert_int_equal(be16_get(p + 4), len - 40);
}

/* What uplink_send_commit queues, no socket touched: the queue's fds
 * stand for sockets (never written: nothing is flushed). */
static void test_frames(void **state)
{
	struct uplink_tx t;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	size_t len[16];
	unsigned i = 0;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(uplink_tx_init(&t, UPLINK, 1500, MAC_C), 0);
	t.xfd = t.gfd = t.rfd6 = fd;
	lan6(&t.nh);
	route_ev(&t.nh, RTM_NEWROUTE, &(struct rt){ "0.0.0.0", 0, "192.0.2.254", UPLINK, 0, 0, 0,
						     false });
	neigh_ev(&t.nh, RTM_NEWNEIGH, UPLINK, "192.0.2.254", MAC_B, NUD_REACHABLE, 0);
	/* 0: UDPv6 via the link-local gateway: a frame, the bypass */
	len[0] = put_pkt(uplink_send_slot(&t), "2001:db8:1::1", "2001:db8:99::1", IPPROTO_UDP, 30);
	uplink_send_commit(&t, len[0]);
	/* 1: TCPv6 on the link: a frame behind the plain virtio header */
	len[1] = put_pkt(uplink_send_slot(&t), "2001:db8:1::1", "2001:db8:1::5", IPPROTO_TCP, 20);
	uplink_send_commit(&t, len[1]);
	/* 2: no entry; 3: multicast; 4: no route: the IPv6 raw socket */
	len[2] = put_pkt(uplink_send_slot(&t), "2001:db8:1::1", "2001:db8:1::7", IPPROTO_UDP, 8);
	uplink_send_commit(&t, len[2]);
	len[3] = put_pkt(uplink_send_slot(&t), "fe80::9", "ff02::1", IPPROTO_UDP, 8);
	uplink_send_commit(&t, len[3]);
	route_ev(&t.nh, RTM_DELROUTE, &(struct rt){ "::", 0, "fe80::1", UPLINK, 1024, 0, 0, false });
	len[4] = put_pkt(uplink_send_slot(&t), "2001:db8:1::1", "2001:db8:99::1", IPPROTO_UDP, 8);
	uplink_send_commit(&t, len[4]);
	/* 5: IPv4 as before: a frame of its own type to its own next hop */
	len[5] = put_pkt(uplink_send_slot(&t), "192.0.2.1", "198.51.100.2", IPPROTO_UDP, 8);
	uplink_send_commit(&t, len[5]);
	/* 6: stale: once by the raw socket (the kernel confirms), 7: then frames */
	neigh_ev(&t.nh, RTM_NEWNEIGH, UPLINK, "2001:db8:1::5", MAC_B, NUD_STALE, 0);
	for (i = 6; i < 8; i++) {
		len[i] = put_pkt(uplink_send_slot(&t), "2001:db8:1::1", "2001:db8:1::5", IPPROTO_UDP,
				 8);
		uplink_send_commit(&t, len[i]);
	}
	assert_int_equal(t.count, 8);
	expect_frame(&t, 0, MAC_A, 0x86dd, len[0], false);
	expect_frame(&t, 1, MAC_B, 0x86dd, len[1], true);
	expect_raw6(&t, 2, "2001:db8:1::7", len[2]);
	expect_raw6(&t, 3, "ff02::1", len[3]);
	expect_raw6(&t, 4, "2001:db8:99::1", len[4]);
	expect_frame(&t, 5, MAC_B, 0x0800, len[5], false);
	{ /* the IPv4 header filled as before */
		const uint8_t *p4 = (const uint8_t *)t.msg[5].msg_hdr.msg_iov[0].iov_base + 14;

		assert_int_equal(csum_ip(p4, 20), be16_get(p4 + 10));
	}
	expect_raw6(&t, 6, "2001:db8:1::5", len[6]);
	expect_frame(&t, 7, MAC_B, 0x86dd, len[7], false);
	assert_int_equal(t.st.no_neigh, 2);	/* 2, 4 (multicast is not a miss) */
	assert_int_equal(t.st.confirm, 1);
	/* no IPv6 raw socket: IPv6 counted and dropped, IPv4 queued */
	t.count = 0;
	t.rfd6 = -1;
	uplink_send_commit(&t, put_pkt(uplink_send_slot(&t), "2001:db8:1::1", "2001:db8:1::5",
				       IPPROTO_UDP, 8));
	assert_int_equal(t.count, 0);
	assert_int_equal(t.st.drop, 1);
	/* too short for an IPv6 header */
	t.rfd6 = fd;
	put_pkt(uplink_send_slot(&t), "2001:db8:1::1", "2001:db8:1::5", IPPROTO_UDP, 8);
	uplink_send_commit(&t, 39);
	assert_int_equal(t.count, 0);
	assert_int_equal(t.st.drop, 2);
	t.count = 0;
	t.xfd = t.gfd = t.rfd6 = -1;
	uplink_tx_close(&t);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_multipath_end),
		cmocka_unit_test(test_routes_full),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_routes6),
		cmocka_unit_test(test_routes6_full),
		cmocka_unit_test(test_states6),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ip_fill),
		cmocka_unit_test(test_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
