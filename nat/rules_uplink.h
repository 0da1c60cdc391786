/* SPDX-License-Identifier: MIT */
/*
 * rules_uplink — what a ruleset asks of the uplink, read off the compiled
 * nat table (gw/ turns it into the uplink's BPF filters and ARP answers):
 *
 *  - DNAT-ed ports: per protocol, the destination ports of inbound TCP and
 *    UDP that a DNAT or REDIRECT rule reachable from nat PREROUTING could
 *    catch in a packet that came in by the uplink to one of its addresses.
 *    A path to such a rule narrows what it catches: every rule on the way
 *    (the jumps and the NAT rule itself) adds its -i (a path that cannot
 *    match the uplink catches nothing), -p, -d (against the addresses
 *    given) and the destination ports of its tcp, udp and multiport
 *    --dports matches, inverted ones included.  Everything else (other
 *    matches, RETURN and ACCEPT before the rule, rule order) is ignored, so
 *    the result is a superset: it never misses a port a rule could catch.
 *    A path with no port restriction catches all ports of its protocols; a
 *    path not restricted to TCP or UDP by -p catches all TCP and all UDP
 *    ports and is counted in nother (other protocols than TCP, UDP and
 *    ICMP do not reach gw from the uplink).  Paths to REDIRECT, to DNAT
 *    with only a port (the address stays the uplink's) or to DNAT to a range
 *    holding an address of the host (the uplink's, another interface's, gw's
 *    tunnel Address) are counted in nlocal: gw has no way to hand such a
 *    packet to the host's own stack.
 *  - SNAT addresses: the --to-source address ranges of SNAT rules reachable
 *    from nat POSTROUTING by a path whose -o can match the uplink.
 *
 * A ruleset of either family: an IPv6 one (Rules6) is read the same way,
 * with IPv6 addresses for -d, the host's and the SNAT ranges.
 *
 * Port ranges and address ranges come sorted, merged when they overlap or
 * touch, and capped: beyond the cap the ruleset is refused (-E2BIG), as is
 * one with more paths to walk than RULES_UPLINK_MAX_STEPS (-ELOOP).
 */
#ifndef GW_NAT_RULES_UPLINK_H
#define GW_NAT_RULES_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/pkt/addr.h"

struct rules;

enum {
	RULES_UPLINK_MAX_PORTS = 32,	/* port ranges per protocol */
	RULES_UPLINK_MAX_SNAT = 8,	/* SNAT address ranges */
	RULES_UPLINK_MAX_ADDRS = 32,	/* addresses of the uplink considered */
	RULES_UPLINK_MAX_STEPS = 1 << 16, /* rules visited on all paths */
};

/* Inclusive port ranges, sorted, disjoint and not adjacent. */
struct rules_portset {
	unsigned n;
	uint16_t lo[RULES_UPLINK_MAX_PORTS], hi[RULES_UPLINK_MAX_PORTS];
};

struct rules_uplink {
	struct rules_portset tcp, udp;	/* DNAT-ed destination ports */
	unsigned ndnat;		/* paths to DNAT/REDIRECT rules catching uplink traffic */
	unsigned nother;	/* of those: not limited to TCP or UDP by -p */
	unsigned nlocal;	/* of those: to this host (REDIRECT, DNAT to its address or
				 * to a port only) */
	/* SNAT --to-source ranges (inclusive, of the ruleset's family as
	 * nat/pkt/addr.h keeps it), sorted and merged */
	unsigned nsnat;
	union nf_addr snat_lo[RULES_UPLINK_MAX_SNAT], snat_hi[RULES_UPLINK_MAX_SNAT];
};

/*
 * Fills out for ruleset r (NULL: no rules), the uplink interface uplink and
 * its addresses addrs[n] (of r's family, nat/pkt/addr.h; beyond
 * RULES_UPLINK_MAX_ADDRS they are not looked at), the host having the
 * addresses host[nhost] of r's family besides (any interface, gw's tunnel
 * Address among them; sorted by rules_uplink_addr_cmp; for nlocal).  addrs
 * NULL: the uplink has no address yet, and the result is what any address
 * it may get needs at least (a path with a -d, plain or inverted, is taken
 * to catch nothing), so a ruleset refused then is refused whatever address
 * comes.  0, or -E2BIG / -ELOOP with a one-line reason in err.
 */
int rules_uplink(const struct rules *r, const char *uplink, const union nf_addr *addrs,
		 unsigned n, const union nf_addr *host, unsigned nhost, struct rules_uplink *out,
		 char *err, size_t errlen);
/* Address order within family (NF_V4: .ip as a number; NF_V6: the bytes):
 * <0, 0, >0 as memcmp. */
int rules_uplink_addr_cmp(uint8_t family, const union nf_addr *a, const union nf_addr *b);

/*
 * Port sets grown one range at a time, kept within the cap by merging: a
 * range beyond RULES_UPLINK_MAX_PORTS joins the two neighbours with the
 * smallest gap between them into one (a superset; merging the smallest gap
 * each time keeps the largest gaps apart, the best any cap allows).
 */

/* Adds [lo, hi], which starts at or after every range of s (overlapping or
 * touching the last one is fine).  Returns how many ports the merge beyond
 * the cap added to s that neither s nor [lo, hi] had (0 when none). */
unsigned rules_portset_append(struct rules_portset *s, uint16_t lo, uint16_t hi);
/* s = s ∪ o, merged within the cap as rules_portset_append does.  Returns
 * the ports added by merging. */
unsigned rules_portset_union(struct rules_portset *s, const struct rules_portset *o);
bool rules_portset_equal(const struct rules_portset *a, const struct rules_portset *b);

#endif
