/* SPDX-License-Identifier: MIT */
/*
 * addr — an IPv4 or IPv6 address as packets, conntrack, NAT and the rules
 * keep it (Linux's union nf_inet_addr).  The family is kept beside it
 * (struct pkt_hdr.family, struct ct_tuple.family, ...), never inside.
 *
 * IPv4: ip, in host byte order, and the other twelve bytes zero, so that
 * whole-union compares and hashes work for either family.  IPv6: ip6 (the
 * same bytes as b), in network byte order, as on the wire.
 */
#ifndef GW_PKT_ADDR_H
#define GW_PKT_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

union nf_addr {
	uint32_t ip;
	uint32_t ip6[4];
	uint8_t b[16];
};

/* IP versions as struct pkt_hdr.family, struct ct_tuple.family, ... keep
 * them (the version field's values: no AF_* in the data path). */
enum { NF_V4 = 4, NF_V6 = 6 };

static inline union nf_addr nf_addr4(uint32_t ip)
{
	return (union nf_addr){ .ip6 = { ip, 0, 0, 0 } };  /* ip6[0] is ip */
}

static inline bool nf_addr_is_zero(const union nf_addr *a)
{
	return !(a->ip6[0] | a->ip6[1] | a->ip6[2] | a->ip6[3]);
}

static inline bool nf_addr_eq(const union nf_addr *a, const union nf_addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

#endif
