/* SPDX-License-Identifier: MIT */
/*
 * forward — what becomes of a packet once netfilter has decided: one pure
 * decision that `gw run` carries out (gw/dataplane.c) and `gw trace` prints
 * (gw/cmd_trace.c), so the two never disagree about where a packet goes,
 * which drops gw counts beyond the verdict, and which answers gw sends back:
 *
 *   verdict not ACCEPT        drop (the verdict's reason); a REJECT is
 *                             answered as it says, a TTL that ran out with
 *                             ICMP time exceeded
 *   route local               to the host's TUN; off the uplink: the kernel
 *                             has it already (ICMP to the uplink's address)
 *                             or gw cannot hand it over (dropped)
 *   over the route's MTU      DF (or a reassembled datagram whose largest
 *                             fragment is over it): dropped, answered with
 *                             fragmentation needed and the MTU; else cut
 *                             into fragments as Linux's ip_fragment does
 *   out of the tunnel         to the peer whose AllowedIPs hold the
 *                             destination; none: dropped, answered with
 *                             host unreachable (fwd_no_peer: cryptokey
 *                             routing happens once, when gw encrypts)
 *   out of the uplink         its raw socket; without an uplink, dropped
 *
 * gw's own answers (from FWD_FROM_GW) are never answered.  No I/O here.
 */
#ifndef GW_FORWARD_H
#define GW_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/hook.h"

/* Where a packet went through the netfilter pipeline (gw stats). */
enum gw_path {
	GW_PATH_PEER_UPLINK,	/* from a peer, out of the uplink */
	GW_PATH_PEER_PEER,	/* from a peer, to a peer */
	GW_PATH_PEER_HOST,	/* from a peer, to the host TUN */
	GW_PATH_UPLINK_PEER,	/* off the uplink, to a peer */
	GW_PATH_UPLINK_LOCAL,	/* off the uplink, for the host (the kernel has it too) */
	GW_PATH_HOST_PEER,	/* from the host TUN, to a peer */
	GW_PATH_HOST_UPLINK,	/* from the host TUN, out of the uplink */
	GW_PATH_ANSWER,		/* made by gw: REJECT, TTL exceeded, frag needed */
	GW_PATH__MAX
};

/* Why the data path dropped a packet outside the netfilter verdicts. */
enum gw_drop {
	GW_DROP_PARSE,		/* not a valid IPv4 packet */
	GW_DROP_TOO_BIG,	/* larger than the path MTU (DF: frag needed sent) */
	GW_DROP_NO_PEER,	/* routed to the tunnel, no peer owns it */
	GW_DROP_UPLINK_DOWN,	/* routed to an uplink gw does not have */
	GW_DROP_UPLINK_HOST,	/* off the uplink, for the host, which never got it (the
				 * tc filter hid it, or DNAT sent it to another of the
				 * host's addresses): gw cannot hand it to its stack */
	GW_DROP_IPV6,		/* IPv6 between peers and the host in gateway mode
				 * (IPv6 = drop): no rule would see it */
	GW_DROP_MARTIAN,	/* plain mode: from a peer, with one of the host's
				 * addresses as its source */
	GW_DROP__MAX
};

/* Where a packet came from. */
enum fwd_from { FWD_FROM_PEER, FWD_FROM_UPLINK, FWD_FROM_HOST, FWD_FROM_GW };

enum fwd_kind {
	FWD_DROP,	/* nf_drop when the verdict refused it, else drop */
	FWD_PEER,	/* encrypted to the peer that owns the destination */
	FWD_UPLINK,	/* out of the uplink */
	FWD_HOST,	/* written to the host's TUN */
	FWD_KERNEL,	/* for the host, which has it already: nothing to send */
};

enum fwd_answer {
	FWD_ANSWER_NONE,
	FWD_ANSWER_REJECT,	/* the reply the REJECT rule names (res->reject) */
	FWD_ANSWER_ICMP,	/* an ICMP error: type, code (and mtu) */
};

struct fwd_action {
	enum fwd_kind kind;
	enum gw_path path;	/* counted under, when it goes */
	bool nf_drop;		/* FWD_DROP by the verdict: res->drop counts it */
	enum gw_drop drop;	/* FWD_DROP otherwise */
	unsigned cut;		/* > 0: cut into fragments of at most this many
				 * bytes first; each goes as kind says */
	enum fwd_answer answer;	/* gw's answer to the packet's sender */
	uint8_t type, code;	/* ICMP, or ICMPv6 for an IPv6 packet */
	uint16_t mtu;		/* fragmentation needed, packet too big: the
				 * next hop's MTU */
};

/* Interface names of the model, and whether the uplink is there. */
struct fwd_env {
	const char *tunnel;
	const char *uplink;	/* "" without one */
	bool uplink_on;
};

/* The decision for p (its netfilter result res; p->frag_max: the largest
 * fragment of a datagram gw reassembled, else 0). */
void fwd_decide(const struct fwd_env *e, const struct pkt *p, const struct nf_result *res,
		enum fwd_from from, struct fwd_action *a);
/* FWD_PEER found no peer for the destination: a changes into the drop and
 * its answer. */
void fwd_no_peer(enum fwd_from from, const struct pkt *p, struct fwd_action *a);
/* Off the uplink for the host: did the host's kernel get it too?  Only
 * ICMP and other protocols still to the uplink's address (gw sees TCP and
 * UDP to the host's addresses only on the ports its tc filter hides). */
bool fwd_kernel_has(const char *uplink, const struct pkt *p, const struct nf_route *r);
/* Does the host get p, which came in on in and routes to it locally?
 * Always, but off the uplink only what fwd_kernel_has says (nf_config's
 * local_gets). */
bool fwd_host_gets(const char *uplink, const struct pkt *p, const char *in,
		   const struct nf_route *r);

const char *fwd_kind_name(enum fwd_kind k);
const char *gw_path_name(enum gw_path p);
const char *gw_drop_name(enum gw_drop d);

#endif
