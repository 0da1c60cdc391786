/* SPDX-License-Identifier: MIT */
/*
 * hook — one netfilter instance (rules, conntrack, NAT) and the packet's way
 * through it, in the order of DESIGN.md §2:
 *
 *   nf_input (from a peer or the uplink):
 *     raw PREROUTING → conntrack → mangle PREROUTING → nat PREROUTING (DNAT)
 *     → route: forward → TTL-1 → mangle FORWARD → filter FORWARD → post
 *              local   → mangle INPUT → filter INPUT → nat INPUT (SNAT)
 *     (before routing: martians; after it: rp_filter, link-local never
 *      forwarded; the tunnel's addresses never the uplink's to reach)
 *   nf_from_host (read from the host's TUN): nf_output when the host made
 *     it (its source is the host's), nf_input from the tunnel when the host
 *     forwarded it (its source is not)
 *   nf_output (made by the host or by gw):
 *     raw OUTPUT → conntrack → mangle OUTPUT → nat OUTPUT (DNAT) → route
 *     → filter OUTPUT → post
 *   post: mangle POSTROUTING → nat POSTROUTING (SNAT/MASQUERADE)
 *   then conntrack confirmation of a new entry.
 *
 * The nat table is consulted once per connection and manip; INVALID and
 * UNTRACKED packets skip it.  Pure: routing comes from a callback, time and
 * randomness from the caller.
 */
#ifndef GW_NAT_HOOK_H
#define GW_NAT_HOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/ct.h"
#include "nat/nf.h"

struct pkt;
struct rules;
struct rules_trace;

/* Why the pipeline dropped a packet; indexes gw's drop counters. */
enum nf_drop {
	NF_DROP_NONE,
	NF_DROP_RULE,          /* a DROP verdict (rule or policy) */
	NF_DROP_REJECT,        /* a REJECT verdict (a reply is due) */
	NF_DROP_CT_FULL,       /* conntrack full and nothing to early-drop */
	NF_DROP_CT_CLASH,      /* the new entry clashed at confirmation */
	NF_DROP_NAT_NOADDR,    /* MASQUERADE/REDIRECT with no address */
	NF_DROP_NAT_EXHAUSTED, /* no free NAT tuple */
	NF_DROP_NAT_REDIRECT,  /* ICMP redirect about a NAT-ed connection */
	NF_DROP_NO_ROUTE,
	NF_DROP_TTL,           /* TTL would reach 0 when forwarded */
	NF_DROP_MARTIAN,       /* impossible source or destination address */
	NF_DROP_CT_PEER_LIMIT, /* the sending peer has its share of conntrack */
	NF_DROP_RP_FILTER,     /* its source routes back by the tunnel, but it did
	                        * not come from a peer (strict rp_filter) */
	NF_DROP_LINK_LOCAL,    /* 169.254.0.0/16 source or destination, to be
	                        * forwarded (RFC 3927 2.7) */
	NF_DROP_TOO_BIG,       /* forwarded, over the route's MTU, may not be
	                        * fragmented: ip_forward drops it before FORWARD
	                        * and answers fragmentation needed */
	NF_DROP_UPLINK_TUNNEL, /* off the uplink to an address of the tunnel
	                        * interface (gw's Address), INPUT accepted it:
	                        * the host's answer would bypass gw */
	NF_DROP_MAX
};

enum nf_route_kind { NF_ROUTE_FORWARD, NF_ROUTE_LOCAL };

struct nf_route {
	enum nf_route_kind kind;
	char out[NF_IFNAMSIZ];  /* FORWARD: the interface it leaves by; LOCAL: the
	                         * interface the address is on, as the kernel's
	                         * local route has it ("" when not known) */
	uint16_t mtu;           /* of that path (TCPMSS --clamp-mss-to-pmtu) */
};

/* The routing decision for daddr (after DNAT).  Returns 0 or -ENETUNREACH. */
typedef int nf_route_fn(void *arg, uint32_t daddr, struct nf_route *r);
/* The IPv4 address interface ifname gives a packet toward dst (Linux's
 * inet_select_addr): its first primary address whose subnet holds dst, else
 * its first primary address; dst 0: the first primary address.  0 if it has
 * none.  MASQUERADE asks for the out-interface and the (post-DNAT)
 * destination, REDIRECT for the in-interface's primary address. */
typedef uint32_t nf_ifaddr_fn(void *arg, const char *ifname, uint32_t dst);
/* The same two for IPv6 packets: the route toward daddr; the address
 * interface ifname gives a packet toward dst (Linux's ipv6_dev_get_saddr;
 * dst NULL: its first global address) into *out, false when it has none. */
typedef int nf_route6_fn(void *arg, const union nf_addr *daddr, struct nf_route *r);
typedef bool nf_ifaddr6_fn(void *arg, const char *ifname, const union nf_addr *dst,
			   union nf_addr *out);

/* Whether the host's stack gets a packet that arrived on in for one of its
 * addresses (route r).  When it does not (gw hid it from the kernel and has
 * no one to hand it to), the packet's new conntrack entry is never
 * confirmed: an unsolicited packet to a NAT port holds no tuple. */
typedef bool nf_local_fn(void *arg, const struct pkt *p, const char *in,
			 const struct nf_route *r);

struct nf_config {
	struct ct_config ct;
	nf_route_fn *route;
	nf_ifaddr_fn *ifaddr;         /* MASQUERADE and REDIRECT drop without it */
	nf_route6_fn *route6;         /* IPv6: without it nothing routes */
	nf_ifaddr6_fn *ifaddr6;
	void *route_arg;              /* for route, ifaddr, route6, ifaddr6 */
	uint32_t uplink_addr;         /* the uplink's address (0: none yet): NAT to
	                               * it takes source ports from NatPorts */
	uint16_t nat_port_min, nat_port_max; /* NatPorts */
	nf_log_fn *log;               /* LOG target sink */
	void *log_arg;
	nf_local_fn *local_gets;      /* NULL: the host gets every local packet */
	void *local_arg;
	/* the tunnel interface (peers, and the host's TUN) and the uplink
	 * ("": none): rp_filter, nf_from_host, the tunnel's addresses */
	char tunnel[NF_IFNAMSIZ], uplink[NF_IFNAMSIZ];
};

struct nf;

/* What became of one packet. */
struct nf_result {
	enum nf_verdict verdict;
	enum nf_drop drop;           /* NF_DROP_NONE when accepted */
	struct nf_route route;       /* valid when accepted */
	enum ct_state ctstate;       /* as conntrack classified it; CT_STATE_MAX
	                              * when the packet did not get that far */
	enum reject_with reject;     /* verdict NF_REJECT: the reply to build */
	uint8_t ttl_in;              /* NF_DROP_TTL: the TTL it came with */
	struct ct_entry *ct;         /* refused before confirmation in a way gw
	                              * answers (REJECT, TTL, fragmentation needed):
	                              * its entry, kept for the answer to attach
	                              * to (nf_answer); nf_release frees it */
	enum ct_dir ctdir;
	bool ct_held;
};

/* One line of a trace: a chain the packet crossed ("filter", "FORWARD"). */
struct nf_step {
	uint8_t table;      /* enum nf_table */
	uint8_t hook;       /* enum nf_hook */
	uint8_t verdict;
	uint16_t first_hit; /* its rule hits: rules->hits[first_hit..+n_hits) */
	uint16_t n_hits;
};

struct nf_trace {
	struct rules_trace *rules;   /* rule hits, may be NULL */
	struct nf_step steps[16];
	unsigned n_steps;
};

int nf_create(struct nf **out, const struct nf_config *cfg, struct rules *rules);
/* Frees conntrack and the current rules. */
void nf_destroy(struct nf *nf);
/* Swap in new rules (one store; conntrack and NAT bindings stay); returns
 * the old ones for the caller to free. */
struct rules *nf_set_rules(struct nf *nf, struct rules *rules);
struct rules *nf_rules(struct nf *nf);
/* The same for the IPv6 ruleset (ip6tables; NULL: none, every chain
 * accepts, as Linux without ip6tables rules).  IPv4 packets walk the
 * IPv4 ruleset, IPv6 packets this one; conntrack is shared, as in Linux. */
struct rules *nf_set_rules6(struct nf *nf, struct rules *rules);
struct rules *nf_rules6(struct nf *nf);
struct ct_table *nf_ct(struct nf *nf);
void nf_set_uplink_addr(struct nf *nf, uint32_t addr);
/* The uplink's IPv6 address (all zero: none): NAT to it takes NatPorts. */
void nf_set_uplink_addr6(struct nf *nf, const union nf_addr *addr);

/* A packet that arrived on interface in.  rnd: fresh random bits (NAT port
 * search).  trace may be NULL. */
void nf_input(struct nf *nf, struct pkt *p, const char *in, uint64_t now,
	      uint32_t rnd, struct nf_result *res, struct nf_trace *trace);
/* A batch of packets that arrived on one interface (a recvmmsg's worth):
 * conntrack lookups are prefetched for the whole batch first, then each
 * packet goes its way as with nf_input.  rnd[i] per packet. */
void nf_input_batch(struct nf *nf, struct pkt *const *p, unsigned n, const char *in,
		    uint64_t now, const uint32_t *rnd, struct nf_result *res);
/* A packet the host (through TUN, with its socket's owner when known) or gw
 * itself sends.  owner: NULL when unknown. */
void nf_output(struct nf *nf, struct pkt *p, const uint32_t owner[2], uint64_t now,
	       uint32_t rnd, struct nf_result *res, struct nf_trace *trace);

/*
 * A packet read from the host's TUN device: made by the host (its source is
 * one of the host's addresses: nf_output), or one the host forwarded into
 * the TUN (any other source): nf_input as if in on the tunnel interface,
 * through FORWARD like every forwarded packet, except that a source that
 * routes back by the tunnel (a peer's, the Address subnet) is spoofed:
 * NF_DROP_RP_FILTER.
 */
void nf_from_host(struct nf *nf, struct pkt *p, const uint32_t owner[2], uint64_t now,
		  uint32_t rnd, struct nf_result *res, struct nf_trace *trace);
/*
 * gw's answer about a packet it refused or cannot deliver (a REJECT reply,
 * time exceeded, fragmentation needed, host unreachable): OUTPUT and
 * POSTROUTING with the packet's entry attached, as Linux's icmp_send and
 * nf_send_reset do with nf_ct_attach: RELATED in the reply direction, so
 * the nat table is not consulted, the entry translates it back (a DNAT-ed
 * packet's quote gets its original address), and it is never confirmed.
 * Linux 6.18 counts such an answer in OUTPUT as RELATED (diff scenarios 50, 51).
 * About a packet whose entry is confirmed, or with none, the answer is
 * classified afresh: the lookup finds the same entry, RELATED.
 */
void nf_answer(struct nf *nf, struct pkt *p, const struct nf_result *about, uint64_t now,
	       uint32_t rnd, struct nf_result *res, struct nf_trace *trace);
/* Done with res: an entry held for an answer (never confirmed) is freed. */
void nf_release(struct nf *nf, struct nf_result *res);

/* Whether a (host order) is in 169.254.0.0/16. */
bool nf_link_local(uint32_t a);

const char *nf_drop_name(enum nf_drop d);
const char *nf_hook_name(enum nf_hook h);
const char *nf_ctstate_name(enum ct_state s);
const char *nf_verdict_name(enum nf_verdict v);

#endif
