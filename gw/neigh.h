/* SPDX-License-Identifier: MIT */
/*
 * neigh — the uplink's next hops and their MACs, learned from the kernel's
 * tables, so gw can send Ethernet frames on a packet socket (gw/uplink.h).
 * One per owner (a worker's send queue): no globals, no locks.
 *
 * Routes: the main table's IPv4 routes whose device is the uplink
 * (RTM_NEWROUTE / RTM_DELROUTE), up to NEIGH_ROUTES.  A destination's next
 * hop is the gateway of the longest route that holds it (the lowest metric
 * among equals), or the destination itself when none does: what the
 * kernel's output lookup does for the raw socket bound to the uplink (with
 * an oif, a destination no route of that device holds is on the link).
 * Routes gw does not follow (multipath, a nexthop object, a gateway of
 * another family, unreachable / blackhole / prohibit on any device) hold
 * their destinations for the raw socket, and so does everything while the
 * table is full: the kernel decides those as before.
 *
 * Neighbours: the kernel's ARP entries on the uplink (RTM_NEWNEIGH /
 * RTM_DELNEIGH), an open-addressed table of NEIGH_SLOTS, filled to 3/4 at
 * most (a next hop with no room is sent by the raw socket).  By state:
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
 * dump both tables again.  neigh_msg and neigh_lookup are the pure part.
 */
#ifndef GW_NEIGH_H
#define GW_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

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

struct neigh_entry {
	uint32_t addr;		/* host order; 0: free slot */
	uint8_t mac[6];
	uint16_t state;		/* NUD_* */
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
/* neigh_init, a netlink socket subscribed to neighbour and IPv4 route
 * events, and both tables dumped into the cache.  0 or -errno (logged by
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

#endif
