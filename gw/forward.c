/* SPDX-License-Identifier: MIT */
/* What becomes of a packet after netfilter: see forward.h. */
#include "gw/forward.h"

#include <netinet/in.h>
#include <string.h>

#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"

enum {
	ICMP_DEST_UNREACH = 3,
	ICMP_HOST_UNREACH = 1,
	ICMP_FRAG_NEEDED = 4,
	ICMP_TIME_EXCEEDED = 11,
	/* ICMPv6 (RFC 4443) */
	ICMP6_DEST_UNREACH = 1,
	ICMP6_ADDR_UNREACH = 3,
	ICMP6_TOO_BIG = 2,
	ICMP6_TIME_EXCEEDED = 3,
};

static const char *const path_names[GW_PATH__MAX] = {
	[GW_PATH_PEER_UPLINK] = "peer_uplink", [GW_PATH_PEER_PEER] = "peer_peer",
	[GW_PATH_PEER_HOST] = "peer_host",     [GW_PATH_UPLINK_PEER] = "uplink_peer",
	[GW_PATH_UPLINK_LOCAL] = "uplink_local", [GW_PATH_HOST_PEER] = "host_peer",
	[GW_PATH_HOST_UPLINK] = "host_uplink", [GW_PATH_ANSWER] = "answer",
};

static const char *const drop_names[GW_DROP__MAX] = {
	[GW_DROP_PARSE] = "parse", [GW_DROP_TOO_BIG] = "too_big",
	[GW_DROP_NO_PEER] = "no_peer", [GW_DROP_UPLINK_DOWN] = "uplink_down",
	[GW_DROP_UPLINK_HOST] = "uplink_host", [GW_DROP_IPV6] = "ipv6",
	[GW_DROP_MARTIAN] = "martian",
};

static const char *const kind_names[] = {
	[FWD_DROP] = "drop", [FWD_PEER] = "peer", [FWD_UPLINK] = "uplink",
	[FWD_HOST] = "host", [FWD_KERNEL] = "kernel",
};

const char *gw_path_name(enum gw_path p)
{
	return p < GW_PATH__MAX ? path_names[p] : "?";
}

const char *gw_drop_name(enum gw_drop d)
{
	return d < GW_DROP__MAX ? drop_names[d] : "?";
}

const char *fwd_kind_name(enum fwd_kind k)
{
	return k <= FWD_KERNEL ? kind_names[k] : "?";
}

bool fwd_kernel_has(const char *uplink, const struct pkt *p, const struct nf_route *r)
{
	return p->outer.proto != IPPROTO_TCP && p->outer.proto != IPPROTO_UDP &&
	       !strcmp(r->out, uplink);
}

bool fwd_host_gets(const char *uplink, const struct pkt *p, const char *in,
		   const struct nf_route *r)
{
	return strcmp(in, uplink) || fwd_kernel_has(uplink, p, r);
}

static void answer_icmp(struct fwd_action *a, enum fwd_from from, uint8_t type, uint8_t code,
			uint16_t mtu)
{
	if (from == FWD_FROM_GW)
		return;
	a->answer = FWD_ANSWER_ICMP;
	a->type = type;
	a->code = code;
	a->mtu = mtu;
}

static void drop(struct fwd_action *a, enum gw_drop why)
{
	a->kind = FWD_DROP;
	a->drop = why;
}

/* The errors of each family: no route (host / address unreachable, as the
 * kernel's WireGuard answers), hop limit exceeded, too big. */
static void answer_unreach(struct fwd_action *a, enum fwd_from from, const struct pkt *p)
{
	if (p->outer.family == NF_V6)
		answer_icmp(a, from, ICMP6_DEST_UNREACH, ICMP6_ADDR_UNREACH, 0);
	else
		answer_icmp(a, from, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
}

static void answer_ttl(struct fwd_action *a, enum fwd_from from, const struct pkt *p)
{
	if (p->outer.family == NF_V6)
		answer_icmp(a, from, ICMP6_TIME_EXCEEDED, 0, 0);
	else
		answer_icmp(a, from, ICMP_TIME_EXCEEDED, 0, 0);
}

static void answer_too_big(struct fwd_action *a, enum fwd_from from, const struct pkt *p,
			   uint16_t mtu)
{
	if (p->outer.family == NF_V6)
		answer_icmp(a, from, ICMP6_TOO_BIG, 0, mtu);
	else
		answer_icmp(a, from, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu);
}

void fwd_no_peer(enum fwd_from from, const struct pkt *p, struct fwd_action *a)
{
	drop(a, GW_DROP_NO_PEER);
	answer_unreach(a, from, p);
}

/* Out of the route's interface: the tunnel or the uplink. */
static void send_out(const struct fwd_env *e, const struct nf_route *r, enum fwd_from from,
		     struct fwd_action *a)
{
	static const enum gw_path to_peer[] = {
		[FWD_FROM_PEER] = GW_PATH_PEER_PEER, [FWD_FROM_UPLINK] = GW_PATH_UPLINK_PEER,
		[FWD_FROM_HOST] = GW_PATH_HOST_PEER, [FWD_FROM_GW] = GW_PATH_ANSWER,
	};

	if (!strcmp(r->out, e->tunnel)) {
		a->kind = FWD_PEER;
		a->path = to_peer[from];
	} else if (e->uplink_on && !strcmp(r->out, e->uplink)) {
		a->kind = FWD_UPLINK;
		a->path = from == FWD_FROM_PEER ? GW_PATH_PEER_UPLINK :
			  from == FWD_FROM_HOST ? GW_PATH_HOST_UPLINK : GW_PATH_ANSWER;
	} else {
		drop(a, GW_DROP_UPLINK_DOWN);
	}
}

void fwd_decide(const struct fwd_env *e, const struct pkt *p, const struct nf_result *res,
		enum fwd_from from, struct fwd_action *a)
{
	const struct nf_route *r = &res->route;
	unsigned cut;

	memset(a, 0, sizeof(*a));
	if (res->verdict != NF_ACCEPT) {
		a->kind = FWD_DROP;
		a->nf_drop = true;
		if (from == FWD_FROM_GW)
			return;
		if (res->verdict == NF_REJECT)
			a->answer = FWD_ANSWER_REJECT;
		else if (res->drop == NF_DROP_TTL)
			answer_ttl(a, from, p);
		else if (res->drop == NF_DROP_TOO_BIG) /* before FORWARD, as ip_forward */
			answer_too_big(a, from, p, res->route.mtu);
		return;
	}
	if (r->kind == NF_ROUTE_LOCAL) {
		if (from != FWD_FROM_UPLINK) {
			a->kind = FWD_HOST;
			a->path = from == FWD_FROM_PEER ? GW_PATH_PEER_HOST : GW_PATH_ANSWER;
		} else if (fwd_kernel_has(e->uplink, p, r)) {
			a->kind = FWD_KERNEL;
			a->path = GW_PATH_UPLINK_LOCAL;
		} else {
			drop(a, GW_DROP_UPLINK_HOST);
		}
		return;
	}
	/* IPv6 is never fragmented on the way, but a datagram gw reassembled
	 * goes in pieces again as it came (ip6_out_decide) */
	switch (p->outer.family == NF_V6 ? ip6_out_decide(p->outer.end, r->mtu, p->frag_max, &cut) :
		ip_out_decide(p->outer.end, r->mtu, p->frag_max, p->outer.flags & PKT_F_DF, &cut)) {
	case IP_OUT_SEND:
		break;
	case IP_OUT_TOO_BIG:
		drop(a, GW_DROP_TOO_BIG);
		answer_too_big(a, from, p, r->mtu);
		return;
	case IP_OUT_FRAGMENT:
		a->cut = cut;
		break;
	}
	send_out(e, r, from, a);
}
