/* SPDX-License-Identifier: MIT */
/*
 * nat — NAT bindings on conntrack entries, as nf_nat_core.c makes them.
 *
 * A binding is decided once per manip type (source or destination) on a
 * connection's first packet: nat_setup() picks a unique tuple and stores its
 * inverse as the entry's reply tuple.  Every packet of the connection, in
 * both directions, is then rewritten from the two tuples by nat_packet(),
 * ICMP errors (RELATED) including their embedded header.
 */
#ifndef GW_NAT_NAT_H
#define GW_NAT_NAT_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/ct.h"
#include "nat/nf.h"
#include "nat/rules_uplink.h"

struct pkt;
struct nat_srcmap;

enum nat_manip { NAT_MANIP_SRC, NAT_MANIP_DST };

/* What a binding decision needs from outside the rules. */
struct nat_env {
	/* addresses of the connection's family; all zero: none */
	union nf_addr masq_addr;  /* MASQUERADE's address: the out-interface's
	                           * toward the destination; none: dropped */
	union nf_addr redirect_addr; /* REDIRECT: the primary address of the
	                           * in-interface */
	uint32_t uplink_addr;     /* the uplink's address, host-owned on an
	                           * interface the host kernel also receives on */
	union nf_addr uplink_addr6; /* the same for IPv6 (its global address) */
	uint16_t host_port_min;   /* NatPorts: source ports used when NAT-ing to */
	uint16_t host_port_max;   /*   the uplink's address (uplink_addr) */
	uint32_t rnd;             /* fresh random bits for this decision */
	struct nat_srcmap *srcmap; /* recent source mappings, or NULL */
};

/*
 * Linux's find_appropriate_src: a source that already has a mapping keeps it
 * for its next connections (same NAT address and port towards any
 * destination) when the original port cannot be kept.  The kernel keeps a
 * hash of all NAT-ed entries by source; gw keeps a direct-mapped cache of
 * recent mappings beside conntrack, so entries stay at 128 bytes.  The
 * difference: a mapping whose connections have all ended may still be
 * reused (the kernel would pick afresh) — still a free, valid tuple.
 */
int nat_srcmap_create(struct nat_srcmap **out, uint32_t slots);
void nat_srcmap_destroy(struct nat_srcmap *m);

/* PREROUTING and OUTPUT rewrite destinations, INPUT and POSTROUTING sources. */
enum nat_manip nat_hook_manip(enum nf_hook hook);

/* True when the nat table must be consulted for manip m of this entry (its
 * binding for m is not decided yet). */
bool nat_needs_setup(const struct ct_entry *e, enum nat_manip m);

/*
 * Decide the binding for manip m of an unconfirmed entry from the nat
 * table's request (kind NAT_NONE: the null binding, which still reserves the
 * tuple).  Returns 0, -EADDRNOTAVAIL (MASQUERADE with no masq_addr) or
 * -ENOSPC (every candidate tuple is taken: drop the packet and count it).
 * A new TCP connection may take the tuple of a source-NAT-ed one that is
 * over, whose entry is then removed from t (see nat.c's top comment).
 */
int nat_setup(struct ct_table *t, struct ct_entry *e, enum nat_manip m,
	      const struct nat_request *req, const struct nat_env *env);

/*
 * Rewrite the packet of entry e travelling in direction dir at a hook of
 * manip m, as the entry's bindings say.  related: p is an ICMP error about
 * the connection; its embedded header is rewritten back to what the other
 * side sent, then the outer header.  Returns 0, or -EPERM for an ICMP
 * redirect about a NAT-ed connection (Linux drops those).
 */
int nat_packet(struct ct_entry *e, enum ct_dir dir, enum nat_manip m,
	       struct pkt *p, bool related);

/* The inverse of a tuple (ICMP queries swap request and reply types).
 * Returns false for ICMP types that have no inverse. */
bool nat_tuple_invert(struct ct_tuple *out, const struct ct_tuple *in);

/* An address went away (MASQUERADE): remove every entry source-NAT-ed to it,
 * as Linux does.  Returns how many were removed. */
unsigned nat_flush_addr(struct ct_table *t, uint32_t addr);
/* The same for an IPv6 address. */
unsigned nat_flush_addr6(struct ct_table *t, const union nf_addr *addr);

/*
 * What live connections still need of the uplink, whatever the rules are
 * now: a restore that removes a DNAT or SNAT rule leaves the connections it
 * made, as in Linux, and their packets must still reach gw.
 */
enum { NAT_LIVE_MAX_SNAT = 64 };
struct nat_live {
	/* original destination ports of DNAT-ed TCP and UDP entries to one of
	 * the addresses asked about (TCP in TIME_WAIT or CLOSE left out: their
	 * port goes back to the host), within the cap as rules_portset_append
	 * merges; merged counts the ports merging added */
	struct rules_portset tcp, udp;
	unsigned merged;
	/* SNAT addresses of live entries (sorted, distinct): the caller
	 * tells the host's own from the foreign ones; beyond the cap counted
	 * in snat_over */
	uint32_t snat[NAT_LIVE_MAX_SNAT];
	unsigned nsnat, snat_over;
	/* the same for IPv6 (sorted by their bytes) */
	union nf_addr snat6[NAT_LIVE_MAX_SNAT];
	unsigned nsnat6, snat6_over;
	uint64_t bits[2 * 1024]; /* nat_live's own: tcp, then udp ports */
};

/* Fills out from table t for DNAT to the addresses addrs[naddr] (host
 * order), ports only where within[0] (TCP) and within[1] (UDP) have them
 * (within NULL: any).  An entry does not say which interface it came in
 * by: within is what keeps a hairpin DNAT from a peer (whose port the
 * uplink's filters never held) out. */
void nat_live(struct ct_table *t, const uint32_t *addrs, unsigned naddr,
	      const struct rules_portset *within, struct nat_live *out);
/* The same with the uplink's IPv6 addresses addrs6[naddr6] too: DNAT-ed
 * IPv6 connections to them keep their ports (the port lists are shared by
 * both families), and live IPv6 SNAT addresses are listed in snat6. */
void nat_live6(struct ct_table *t, const uint32_t *addrs, unsigned naddr,
	       const union nf_addr *addrs6, unsigned naddr6, const struct rules_portset *within,
	       struct nat_live *out);

#endif
