/* SPDX-License-Identifier: MIT */
/*
 * uplink_nat — the uplink's filter spec (gw/bpf.h) from the live rules and
 * the host, recomputed at start, on `gw rules restore`, SIGHUP and whenever
 * an IPv4 address of the host comes or goes:
 *
 *  - host-owned NAT addresses: the uplink's IPv4 addresses, MASQUERADE's
 *    first (at most BPF_NAT_MAX_ADDR), each with NatPorts and the DNAT-ed
 *    ports of nat/rules_uplink.h — both hidden from the kernel by the tc
 *    filter, and reserved where the kernel could pick them as ephemeral
 *    ports (gw/uplink.h, uplink_reserve_map).
 *  - foreign NAT addresses: the SNAT --to-source ranges minus every address
 *    the host has (on any interface).  gw answers ARP for them and takes all
 *    their IPv4; the kernel must not forward what arrives for them, so the
 *    spec is refused while net.ipv4.conf.UPLINK.forwarding is 1 (the value
 *    the kernel reads for packets in from the uplink).
 *
 * With Rules6 (uplink_host.ipv6) the same for IPv6, from the IPv6 ruleset:
 * the uplink's IPv6 MASQUERADE address (its first global one) is the
 * host-owned IPv6 NAT address (addr6) and narrows the IPv6 rules' -d (the
 * uplink's other global IPv6 addresses are not NAT addresses: a DNAT
 * narrowed to one of them by -d catches nothing from the uplink); the IPv6 SNAT
 * ranges minus the host's IPv6 addresses are foreign6 (gw answers Neighbor
 * Solicitations for them), refused while the kernel forwards IPv6 in from
 * the uplink (uplink_forwarding6).  The filters have one list of DNAT-ed
 * ports per protocol for the host-owned addresses of both families: the
 * DNAT-ed ports of both rulesets go into it, so a port DNAT-ed for one
 * family is hidden from the host's kernel for the other family too (and,
 * past the caps together, the rules are refused).
 *
 * What the spec implies that a user may not expect goes into a note for the
 * log: a DNAT rule not limited to TCP/UDP (all TCP and UDP to the uplink's
 * addresses go to gw, the host's own TCP/UDP there stops working; other
 * protocols than TCP, UDP and ICMP stay with the host), REDIRECT or DNAT to
 * the host from the uplink (gw cannot hand those packets to the host's
 * stack: dropped), an SNAT address the host owns that is not MASQUERADE's
 * (its replies reach the host's kernel).
 */
#ifndef GW_UPLINK_NAT_H
#define GW_UPLINK_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/pkt/addr.h"

struct bpf_nat_spec;
struct nat_live;
struct route_addr;
struct rules;
struct sbuf;

/* The host as the spec sees it. */
struct uplink_host {
	const struct route_addr *addr;	/* every IPv4 address of the host, in the
					 * kernel's order (route_host_addrs) */
	unsigned naddr;
	int forwarding;			/* net.ipv4.conf.UPLINK.forwarding: 0, 1
					 * or -errno when it could not be read */
	const struct nat_live *live;	/* what live connections need (nat_live
					 * for the uplink's addresses); NULL: none */
	/* IPv6, taken only with ipv6 (Rules6; else the spec has no IPv6) */
	bool ipv6;
	const union nf_addr *addr6;	/* every IPv6 address of the host, the
					 * uplink's global ones first */
	unsigned naddr6;
	unsigned ndev6;			/* addr6[0..ndev6): the uplink's */
	union nf_addr masq6;		/* the uplink's IPv6 MASQUERADE address
					 * (its one IPv6 NAT address); zero: none */
	int forwarding6;		/* uplink_forwarding6: 0, 1 or -errno */
};

/* What the spec keeps for live connections only, beyond the rules. */
struct uplink_linger {
	unsigned ports;		/* DNAT-ed ports (TCP and UDP) */
	unsigned addrs;		/* foreign SNAT addresses */
};

/* The spec for ruleset r and IPv6 ruleset r6 (NULL: none; r6 is read only
 * with h->ipv6) on uplink, whose MASQUERADE address
 * is masq (host order; 0: none yet), with NatPorts [lo, hi], on host h.
 * With h->live, what live connections need stays too (ports merged across
 * the smallest gaps to fit the filters, foreign addresses beyond their cap
 * left out: both remarked), and *lg (may be NULL) counts what stays for
 * them only: a rule a restore removed leaves its connections working.
 * Without any address on the uplink nothing is DNAT-ed, but r is checked
 * against what every address would need (rules_uplink with no addresses),
 * so what is refused then is refused whatever address comes.  Pure.  0, or -errno with a one-line reason in err (rules beyond the caps,
 * forwarding on with a foreign address); note (may be NULL) gets one line
 * per remark. */
int uplink_nat_spec(const char *uplink, uint32_t masq, uint16_t lo, uint16_t hi,
		    const struct rules *r, const struct rules *r6, const struct uplink_host *h, struct bpf_nat_spec *out,
		    struct uplink_linger *lg, struct sbuf *note, char *err, size_t errlen);
/* What the filters fall back to when the full spec is refused: masq (none
 * when 0) with NatPorts, nothing for the rules. */
void uplink_nat_base(uint32_t masq, uint16_t lo, uint16_t hi, struct bpf_nat_spec *out);

/* Whether a (host order) is in one of s's foreign address ranges. */
bool uplink_nat_foreign_has(const struct bpf_nat_spec *s, uint32_t a);
/* Whether a is in one of s's foreign IPv6 ranges (s may be NULL). */
bool uplink_nat_foreign6_has(const struct bpf_nat_spec *s, const union nf_addr *a);

/* One line for the log: "addresses A; tunnel (all IPv4) T; IPv6 addresses A6;
 * tunnel (all IPv6) T6; DNAT-ed tcp 8080,9000-9010 udp none; not the host's
 * (gw answers ARP) 198.51.100.50; not the host's (gw answers NDP)
 * 2001:db8:1::50" (the IPv6 parts when there are any). */
void uplink_nat_describe(const struct bpf_nat_spec *s, struct sbuf *out);

#endif
