/* SPDX-License-Identifier: MIT */
/*
 * route — gw's routing decision from its config and the host's addresses:
 * every address of the host (any interface: the kernel's local table), gw's
 * own Address and the uplink's address are local; peers' AllowedIPs and the
 * Address subnets leave by the tunnel; everything else by the Uplink.
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/allowedips.h"
#include "nat/hook.h"

struct config;

/* One IPv4 address of the host and the interface it is on. */
struct route_addr {
	uint32_t addr;			/* host order */
	char dev[NF_IFNAMSIZ];
};

struct route_ctx {
	const struct config *cfg;
	struct allowedips table; /* IPv4 prefixes -> ROUTE_* markers, built once */
	uint32_t uplink_addr;    /* host order; 0 = unknown */
	union nf_addr uplink_addr6; /* the uplink's IPv6 address; zero: none */
	union nf_addr *local6;   /* every IPv6 address of the host (route_set_local6) */
	unsigned nlocal6;
	/* every IPv4 address of the host (route_set_local): local, as the
	 * kernel's local table has them; sorted by addr, distinct */
	struct route_addr *local;
	unsigned nlocal;
	uint16_t tunnel_mtu;
	uint16_t uplink_mtu;
};

/* Builds the prefix table from cfg (which must outlive r); no host address
 * is known yet.  0 or -ENOMEM. */
int route_init(struct route_ctx *r, const struct config *cfg, uint32_t uplink_addr,
	       uint16_t uplink_mtu);
void route_free(struct route_ctx *r);
/* The prefix table of cfg into *t (initialised here), for peers changed at
 * runtime: built aside, then route_table_swap.  0 or -ENOMEM (t empty). */
int route_table_build(struct allowedips *t, const struct config *cfg);
/* r takes table t (the old one is freed; t is left empty). */
void route_table_swap(struct route_ctx *r, struct allowedips *t);
/* The host's addresses are now a[n] (any order; a is not kept).  0, or
 * -ENOMEM with the old set kept. */
int route_set_local(struct route_ctx *r, const struct route_addr *a, unsigned n);
/* nf_route_fn: one longest-prefix lookup, no scan of the config. */
int route_lookup(void *arg, uint32_t daddr, struct nf_route *out);
/* nf_ifaddr_fn: for the tunnel, gw's first Address whose subnet holds dst,
 * else its first Address (dst 0: the first); for the uplink, the uplink's
 * address. */
uint32_t route_ifaddr(void *arg, const char *ifname, uint32_t dst);
/* The host's IPv6 addresses are now a[n] (taken over: r frees it). */
void route_set_local6(struct route_ctx *r, union nf_addr *a, unsigned n);
/* nf_route6_fn and nf_ifaddr6_fn: the same for IPv6 (without an IPv6
 * address on the uplink there is no IPv6 route out of it). */
int route_lookup6(void *arg, const union nf_addr *daddr, struct nf_route *out);
bool route_ifaddr6(void *arg, const char *ifname, const union nf_addr *dst, union nf_addr *out);
/* The source gw answers from (ICMP errors) for a packet that came in on
 * ifname to daddr: daddr itself when it is local, else gw's address on that
 * interface. */
uint32_t route_src_toward(const struct route_ctx *r, const char *ifname, uint32_t daddr);
/* The same for IPv6: daddr when local, else gw's address on ifname toward
 * to (the packet's source); false when it has none. */
bool route_src_toward6(const struct route_ctx *r, const char *ifname, const union nf_addr *daddr,
		       const union nf_addr *to, union nf_addr *out);
/* True when addr is one of gw's own tunnel addresses. */
bool route_is_own(const struct route_ctx *r, uint32_t addr);

/* The host's IPv4 addresses now, every interface, in the kernel's order
 * (an interface's primary address before its secondaries): *out (the
 * caller frees it; NULL when there are none) and their count, or -errno. */
int route_host_addrs(struct route_addr **out);
/* What route_host_addrs and route_host_addrs6 make of one read of their
 * RTM_GETADDR dump, buf[0..len) as recvfrom gave it (no sequence or port
 * check): the addresses into *out / *all (the caller frees them) and their
 * count, or -errno (an NLMSG_ERROR's, -EINVAL for a malformed message,
 * -ENOMEM); route_addrs6_parse looks for dev_addr and the *ndev addresses
 * of interface index (keeping keep, as route_host_addrs6).
 * For the fuzz harness (tests/fuzz/fuzz_netlink.c). */
int route_addrs_parse(const void *buf, size_t len, struct route_addr **out);
int route_addrs6_parse(const void *buf, size_t len, unsigned index, const union nf_addr *keep,
		       union nf_addr *dev_addr, union nf_addr **all, unsigned *ndev);
/* The first address of dev in a[n] (its primary), 0 when it has none. */
uint32_t route_dev_addr(const struct route_addr *a, unsigned n, const char *dev);
/* Every IPv6 address of the host into *all (the caller's to free), and
 * the first global address of dev (NULL: none) the host may send from (not
 * tentative, deprecated, failed DAD or temporary) into *dev_addr (zero:
 * none) — keep instead while it is one of them (keep may be NULL); dev's
 * global addresses (but tentative or failed DAD ones) first in *all, *ndev
 * of them: the count, or -errno. */
int route_host_addrs6(const char *dev, const union nf_addr *keep, union nf_addr *dev_addr,
		      union nf_addr **all, unsigned *ndev);

#endif
