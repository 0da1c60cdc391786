/* SPDX-License-Identifier: MIT */
/*
 * reject — the packets REJECT answers with, built as Linux's nf_reject_ipv4
 * and icmp_send() build them.
 */
#ifndef GW_NAT_REJECT_H
#define GW_NAT_REJECT_H

#include <stddef.h>
#include <stdint.h>

#include "nat/nf.h"
#include "nat/pkt/addr.h"

struct pkt;

enum { REJECT_ICMP_QUOTE_MAX = 576 }; /* an ICMP error is at most this long */

/*
 * Build into out[0..cap) the answer to the rejected packet p: an ICMP
 * destination-unreachable quoting p (source icmp_src, the address gw has
 * toward the sender), or a TCP RST from p's destination.  ip_id: the IP
 * identification to use for ICMP.  Returns the answer's length, or 0 when
 * none is due: p is an ICMP error, a later fragment, carries a bad
 * checksum, comes from 0.0.0.0 or a broadcast/multicast address, a RST
 * answering a RST, or cap is too small.
 */
size_t reject_build(const struct pkt *p, enum reject_with with, uint32_t icmp_src,
		    uint16_t ip_id, uint8_t *out, size_t cap);

/* An ICMP error of type/code about p (TTL exceeded, fragmentation needed
 * with mtu), from src; the same rules on when none is due. */
size_t icmp_error_build(const struct pkt *p, uint8_t type, uint8_t code, uint16_t mtu,
			uint32_t src, uint16_t ip_id, uint8_t *out, size_t cap);

/* The same for an IPv6 packet p: a TCP RST, or an ICMPv6 destination
 * unreachable (nat/icmp6.h) of REJECT_ICMP6_*'s code, from src. */
size_t reject6_build(const struct pkt *p, enum reject_with with, const union nf_addr *src,
		     uint8_t *out, size_t cap);

#endif
