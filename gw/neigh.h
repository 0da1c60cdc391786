/* SPDX-License-Identifier: MIT */
/*
 * neigh — the uplink's next hops and their MACs, learned from the kernel's
 * tables, so gw can send Ethernet frames on a packet socket (gw/uplink.h).
 * One per owner (a worker's send queue): no globals, no locks.
 *
 * Routes: the main table's IPv4 and IPv6 routes whose device is the
 * uplink (RTM_NEWROUTE / RTM_DELROUTE), up to NEIGH_ROUTES of each family.
 * A destination's next hop is the gateway of the longest route that holds
 * it (the lowest metric among equals), or the destination itself when
 * that route has no gateway: what the kernel's output lookup does for the
 * raw socket bound to the uplink.  When no route holds it, IPv4 takes the
 * destination itself (with an oif, a destination no route of that device
 * holds is on the link); IPv6 goes by the raw socket (a socket bound to a
 * device looks up that device's routes only, and without one the kernel
 * refuses: ENETUNREACH).  An IPv6 gateway is most often link-local
 * (fe80::, an RA's default route): the next hop is that address on the
 * uplink.  IPv6 routes of equal prefix and metric via different gateways
 * (several routers) are the kernel's choice (router reachability, round
 * robin): their destinations go by the raw socket.
 * Routes gw does not follow (multipath, a nexthop object, a gateway of
 * another family, unreachable / blackhole / prohibit on any device) hold
 * their destinations for the raw socket, and so does everything of a
 * family while its table is full: the kernel decides those as before.
 *
 * Neighbours: the kernel's ARP and NDP entries on the uplink (RTM_NEWNEIGH
 * / RTM_DELNEIGH of AF_INET and AF_INET6), one open-addressed table of
 * NEIGH_SLOTS for both, keyed by (family, address): a lookup is one hash
 * probe run; filled to 3/4 at most (a next hop with no room is sent by
 * the raw socket).  By state:
 *   REACHABLE, DELAY, PROBE, PERMANENT, NOARP: frames to its MAC.
 *   STALE: frames to its MAC, but the first packet after the entry went
 *     stale goes by the raw socket: the kernel uses the entry, so it
 *     confirms it (DELAY -> PROBE -> REACHABLE, or FAILED) and tells us; a
 *     neighbour that changed its MAC is found as the kernel would.  One
 *     packet per stale period (base_reachable_time, ~30 s), not a timer.
 *   INCOMPLETE, FAILED, no entry: the raw socket; the kernel resolves the
 *     address and its RTM_NEWNEIGH fills the entry for the next packets.
 *
 * Events arrive on this cache's own netlink socket (fd: watch it for
 * reading, then neigh_read).  Lost events (ENOBUFS) empty the cache and
 * dump all the tables again.  neigh_msg and neigh_lookup[6] are the pure
 * part.
 */
#ifndef GW_NEIGH_H
#define GW_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/pkt/addr.h"

struct mnl_socket;
struct nlmsghdr;

enum {
	NEIGH_ROUTES = 32,
	NEIGH_SLOTS = 256,	/* a power of two */
};

struct neigh_route {
	uint32_t dst, gw;	/* host order; gw 0: on the link */
	uint32_t prio;		/* metric */
	uint8_t len, tos;
	bool raw;		/* its destinations go by the raw socket */
};

struct neigh_route6 {
	union nf_addr dst, gw;	/* network order; gw all zero: on the link */
	uint32_t prio;		/* metric */
	uint8_t len;
	bool raw;		/* its destinations go by the raw socket */
};

struct neigh_entry {
	union nf_addr addr;	/* IPv4: .ip, host order; IPv6: network order */
	uint8_t mac[6];
	uint16_t state;		/* NUD_* */
	uint8_t family;		/* NF_V4, NF_V6; 0: free slot */
	bool confirm;		/* stale: the next packet goes by the raw socket */
};

struct neigh {
	int ifindex;
	int fd;			/* -1: no socket (tests feed neigh_msg) */
	struct mnl_socket *nl;
	unsigned seq;
	struct neigh_route route[NEIGH_ROUTES];
	unsigned nroute;
	bool route_full;	/* a route had no room: all by the raw socket */
	struct neigh_route6 route6[NEIGH_ROUTES];
	unsigned nroute6;
	bool route6_full;	/* the same for IPv6 */
	struct neigh_entry slot[NEIGH_SLOTS];
	unsigned nentry;
	uint64_t resyncs;	/* dumps after lost events */
};

enum neigh_verdict {
	NEIGH_MAC,		/* mac is the next hop's */
	NEIGH_RAW,		/* no usable entry: by the raw socket */
	NEIGH_CONFIRM,		/* stale: by the raw socket, this once */
};

/* An empty cache for ifindex, no socket. */
void neigh_init(struct neigh *n, int ifindex);
/* neigh_init, a netlink socket subscribed to neighbour, IPv4 and IPv6
 * route events, and the tables of both families dumped into the cache.  0 or -errno (logged by
 * the caller); nothing left open on failure. */
int neigh_open(struct neigh *n, int ifindex);
void neigh_close(struct neigh *n);
/* Reads what events are waiting (non-blocking); dumps again after lost
 * ones.  0 or -errno. */
int neigh_read(struct neigh *n);
/* One rtnetlink message (RTM_{NEW,DEL}{NEIGH,ROUTE}; others ignored). */
void neigh_msg(struct neigh *n, const struct nlmsghdr *nlh);
/* The next hop toward daddr (host order) on the uplink, and its MAC when
 * the verdict is NEIGH_MAC.  NEIGH_CONFIRM is returned once per stale
 * period. */
enum neigh_verdict neigh_lookup(struct neigh *n, uint32_t daddr, uint8_t mac[static 6]);
/* The same for the IPv6 destination daddr (network order). */
enum neigh_verdict neigh_lookup6(struct neigh *n, const union nf_addr *daddr,
				 uint8_t mac[static 6]);

#endif
