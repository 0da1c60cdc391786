/* SPDX-License-Identifier: MIT */
/*
 * ndp — gw's Neighbor Discovery (RFC 4861) for the IPv6 NAT addresses the
 * host does not own, as gw/arp.h is for IPv4: the uplink's packet socket
 * hands gw the Neighbor Solicitations whose target is one of them
 * (gw/bpf.h) and gw answers with a Neighbor Advertisement carrying the
 * uplink's MAC; at start gw announces each such address once with an
 * unsolicited advertisement to all nodes.  Ethernet only.  Pure: frames in,
 * frames out; gw/uplink.c sends them.
 *
 * What is answered (RFC 4861 7.1.1 and 7.2.3, as Linux's ndisc_recv_ns):
 * an NS with hop limit 255, ICMPv6 code 0, a valid checksum, at least 24
 * bytes, no extension header, options of nonzero length inside the
 * message, a unicast target in the ranges:
 *   - from :: (Duplicate Address Detection: the destination must be the
 *     target's solicited-node address, and no source link-layer option):
 *     the address is in use — gw defends it as Linux defends its own
 *     (non-tentative) addresses, with an NA to all nodes (ff02::1),
 *     Solicited clear, Override set;
 *   - from a unicast source: an NA to it, at the source link-layer option's
 *     MAC, else (a unicast NS only: a multicast one must carry the option)
 *     at the frame's Ethernet source; Solicited and Override set.
 * Every NA carries the target link-layer option (Linux leaves it out of
 * answers to unicast NS, and then clears Override; RFC 4861 7.2.4 allows
 * both).  A multicast source or link-layer address is never answered.
 */
#ifndef GW_NDP_H
#define GW_NDP_H

#include <stddef.h>
#include <stdint.h>

#include "nat/pkt/addr.h"
#include "nat/pkt/proto.h"

struct bpf_addr6_range;

enum {
	NDP_NA_LEN = 24 + 8, /* the NA: header, target, target link-layer option */
	NDP_FRAME = ETHH_LEN + IP6H_LEN + NDP_NA_LEN,
	ICMP6_NS_TYPE = 135,
	ICMP6_NA_TYPE = 136,
};

/* The advertisement answering frame[len] (from its Ethernet header) into
 * out, when it is a Neighbor Solicitation gw answers (above) for an
 * address in r[n].  Returns NDP_FRAME, or 0. */
size_t ndp_answer(const uint8_t *frame, size_t len, const uint8_t mac[static 6],
		  const struct bpf_addr6_range *r, unsigned n, uint8_t out[static NDP_FRAME]);

/* An unsolicited advertisement of addr at mac to all nodes (Override set,
 * Solicited clear: RFC 4861 7.2.6). */
void ndp_announce(const uint8_t mac[static 6], const union nf_addr *addr,
		  uint8_t out[static NDP_FRAME]);

#endif
