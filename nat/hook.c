/* SPDX-License-Identifier: MIT */
/* The traversal order of DESIGN.md §2; see hook.h for the picture. */
#include "nat/hook.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "nat/nat.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"

struct nf {
	struct rules *rules, *rules6;
	struct ct_table *ct;
	nf_route_fn *route;
	nf_ifaddr_fn *ifaddr;
	nf_route6_fn *route6;
	nf_ifaddr6_fn *ifaddr6;
	void *route_arg;
	struct nat_env env;
	nf_log_fn *log;
	void *log_arg;
	nf_local_fn *local_gets;
	void *local_arg;
	char tunnel[NF_IFNAMSIZ], uplink[NF_IFNAMSIZ];
};

int nf_create(struct nf **out, const struct nf_config *cfg, struct rules *rules)
{
	struct nf *nf = calloc(1, sizeof(*nf));
	int ret;

	if (!nf)
		return -ENOMEM;
	ret = ct_create(&nf->ct, &cfg->ct);
	if (ret) {
		free(nf);
		return ret;
	}
	ret = nat_srcmap_create(&nf->env.srcmap, cfg->ct.max / 2 + 1);
	if (ret) {
		ct_destroy(nf->ct);
		free(nf);
		return ret;
	}
	nf->rules = rules;
	nf->route = cfg->route;
	nf->ifaddr = cfg->ifaddr;
	nf->route6 = cfg->route6;
	nf->ifaddr6 = cfg->ifaddr6;
	nf->route_arg = cfg->route_arg;
	nf->local_gets = cfg->local_gets;
	nf->local_arg = cfg->local_arg;
	nf->env.uplink_addr = cfg->uplink_addr;
	nf->env.host_port_min = cfg->nat_port_min;
	nf->env.host_port_max = cfg->nat_port_max;
	nf->log = cfg->log;
	nf->log_arg = cfg->log_arg;
	memcpy(nf->tunnel, cfg->tunnel, sizeof(nf->tunnel));
	nf->tunnel[sizeof(nf->tunnel) - 1] = '\0';
	memcpy(nf->uplink, cfg->uplink, sizeof(nf->uplink));
	nf->uplink[sizeof(nf->uplink) - 1] = '\0';
	*out = nf;
	return 0;
}

void nf_destroy(struct nf *nf)
{
	if (!nf)
		return;
	ct_destroy(nf->ct);
	nat_srcmap_destroy(nf->env.srcmap);
	rules_free(nf->rules);
	rules_free(nf->rules6);
	free(nf);
}

struct rules *nf_set_rules(struct nf *nf, struct rules *rules)
{
	struct rules *old = nf->rules;

	nf->rules = rules;
	return old;
}

struct rules *nf_rules(struct nf *nf)
{
	return nf->rules;
}

struct rules *nf_set_rules6(struct nf *nf, struct rules *rules)
{
	struct rules *old = nf->rules6;

	nf->rules6 = rules;
	return old;
}

struct rules *nf_rules6(struct nf *nf)
{
	return nf->rules6;
}

struct ct_table *nf_ct(struct nf *nf)
{
	return nf->ct;
}

void nf_set_uplink_addr(struct nf *nf, uint32_t addr)
{
	nf->env.uplink_addr = addr;
}

void nf_set_uplink_addr6(struct nf *nf, const union nf_addr *addr)
{
	nf->env.uplink_addr6 = *addr;
}

/* The route toward a of the packet's family. */
static int route(struct nf *nf, uint8_t family, const union nf_addr *a, struct nf_route *r)
{
	if (family == NF_V6)
		return nf->route6 ? nf->route6(nf->route_arg, a, r) : -ENETUNREACH;
	return nf->route ? nf->route(nf->route_arg, a->ip, r) : -ENETUNREACH;
}

/* Run one table's chain for ctx->hook, recording the step. */
static enum nf_verdict run(struct nf *nf, enum nf_table t, struct nf_ctx *ctx,
			   struct nf_trace *trace)
{
	struct rules_trace *rt = trace ? trace->rules : NULL;
	unsigned first = rt ? rt->n : 0;
	struct rules *rules = ctx->pkt->outer.family == NF_V6 ? nf->rules6 : nf->rules;
	enum nf_verdict v;

	if (!rules || !rules_has_chain(rules, t, ctx->hook))
		return NF_ACCEPT;
	v = rules_run(rules, t, ctx, rt);
	if (trace && trace->n_steps < sizeof(trace->steps) / sizeof(trace->steps[0]))
		trace->steps[trace->n_steps++] = (struct nf_step){
			.table = (uint8_t)t, .hook = (uint8_t)ctx->hook, .verdict = (uint8_t)v,
			.first_hit = (uint16_t)first,
			.n_hits = (uint16_t)(rt ? rt->n - first : 0),
		};
	return v;
}

static void drop(struct nf_result *res, enum nf_drop why, enum nf_verdict v)
{
	res->verdict = v;
	res->drop = why;
}

/* A chain verdict other than ACCEPT ends the packet. */
static bool stopped(struct nf_result *res, enum nf_verdict v, const struct nf_ctx *ctx)
{
	if (v == NF_ACCEPT)
		return false;
	drop(res, v == NF_REJECT ? NF_DROP_REJECT : NF_DROP_RULE, v);
	res->reject = ctx->reject;
	return true;
}

/* MASQUERADE's and REDIRECT's address for an IPv6 packet:
 * nf_nat_masquerade_ipv6 (the out-interface's source address toward the
 * destination), nf_nat_redirect_ipv6 (the in-interface's first address;
 * locally made packets go to ::1). */
static void nat_env_addr6(struct nf *nf, const struct nf_ctx *ctx, struct nat_env *env)
{
	if (ctx->nat.kind == NAT_REDIRECT) {
		if (!ctx->in[0]) {
			env->redirect_addr.b[15] = 1;
		} else if (nf->ifaddr6 && !nf->ifaddr6(nf->route_arg, ctx->in, NULL,
							&env->redirect_addr)) {
			memset(&env->redirect_addr, 0, sizeof(env->redirect_addr));
		}
	} else if (ctx->nat.kind == NAT_MASQUERADE && nf->ifaddr6 && ctx->out[0] &&
		   !nf->ifaddr6(nf->route_arg, ctx->out, &ctx->pkt->outer.daddr, &env->masq_addr)) {
		memset(&env->masq_addr, 0, sizeof(env->masq_addr));
	}
}

/* The nat table and the rewrite at one hook (nf_nat_inet_fn). */
static bool nat_hook(struct nf *nf, struct nf_ctx *ctx, struct nf_result *res,
		     struct nf_trace *trace, uint32_t rnd)
{
	struct ct_entry *e = ctx->ct;
	enum nat_manip m = nat_hook_manip(ctx->hook);
	bool related = ctx->ctstate == CT_RELATED;
	int ret;

	if (!e)
		return true; /* INVALID, UNTRACKED: not NAT-ed */
	if (!related && ctx->ctstate == CT_NEW && ctx->ctdir == CT_DIR_ORIGINAL &&
	    nat_needs_setup(e, m)) {
		struct nat_env env = nf->env;
		enum nf_verdict v;

		memset(&ctx->nat, 0, sizeof(ctx->nat));
		v = run(nf, NF_NAT, ctx, trace);
		if (stopped(res, v, ctx))
			return false;
		env.rnd = rnd;
		memset(&env.redirect_addr, 0, sizeof(env.redirect_addr));
		memset(&env.masq_addr, 0, sizeof(env.masq_addr));
		if (ctx->pkt->outer.family == NF_V6) {
			nat_env_addr6(nf, ctx, &env);
		} else if (ctx->nat.kind == NAT_REDIRECT) {
			/* nf_nat_redirect_ipv4: the primary address of the
			 * incoming interface; locally made packets go to
			 * 127.0.0.1 */
			if (!ctx->in[0])
				env.redirect_addr = nf_addr4(0x7f000001);
			else if (nf->ifaddr)
				env.redirect_addr = nf_addr4(nf->ifaddr(nf->route_arg, ctx->in, 0));
		} else if (ctx->nat.kind == NAT_MASQUERADE && nf->ifaddr && ctx->out[0]) {
			/* nf_nat_masquerade_ipv4: the out-interface's address
			 * toward the next hop (gw's routes have no gateway
			 * but the uplink's, whose address is the uplink's
			 * whatever the next hop) */
			env.masq_addr = nf_addr4(nf->ifaddr(nf->route_arg, ctx->out,
							    ctx->pkt->outer.daddr.ip));
		}
		ret = nat_setup(nf->ct, e, m, &ctx->nat, &env);
		if (ret == -EADDRNOTAVAIL) {
			drop(res, NF_DROP_NAT_NOADDR, NF_DROP);
			return false;
		}
		if (ret) {
			drop(res, NF_DROP_NAT_EXHAUSTED, NF_DROP);
			return false;
		}
	}
	if (related && ctx->pkt->outer.proto !=
		       (ctx->pkt->outer.family == NF_V6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
		return true;
	if (nat_packet(e, ctx->ctdir, m, ctx->pkt, related)) {
		drop(res, NF_DROP_NAT_REDIRECT, NF_DROP);
		return false;
	}
	return true;
}

static void ctx_init(struct nf *nf, struct nf_ctx *ctx, struct pkt *p, enum nf_hook hook,
		     const char *in, uint64_t now)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->pkt = p;
	ctx->now = now;
	ctx->hook = hook;
	if (in) {
		size_t n = strnlen(in, sizeof(ctx->in) - 1);

		memcpy(ctx->in, in, n); /* ctx is zeroed: terminated */
	}
	ctx->ctstate = CT_INVALID;
	ctx->pkt_room = p->room;
	ctx->log = nf->log;
	ctx->log_arg = nf->log_arg;
}

/* The routing decision for the destination, as of now: one lookup per
 * packet when nothing before routing changed the destination (addr_types
 * looked it up already: *pre), a second one after DNAT. */
struct pre_route {
	union nf_addr daddr;
	bool ok;
	bool src_tunnel;   /* the source routes back by the tunnel (rp_spoofed) */
};

static bool do_route(struct nf *nf, struct nf_ctx *ctx, struct nf_result *res,
		     const struct pre_route *pre)
{
	const struct pkt_hdr *h = &ctx->pkt->outer;
	bool ok = nf_addr_eq(&pre->daddr, &h->daddr) ? pre->ok :
		  !route(nf, h->family, &h->daddr, &res->route);

	if (!ok) {
		drop(res, NF_DROP_NO_ROUTE, NF_DROP);
		return false;
	}
	ctx->dst_local = res->route.kind == NF_ROUTE_LOCAL;
	ctx->dst_dev[0] = '\0';
	if (ctx->dst_local) {
		memcpy(ctx->dst_dev, res->route.out, sizeof(ctx->dst_dev));
		ctx->dst_dev[sizeof(ctx->dst_dev) - 1] = '\0';
	} else {
		memcpy(ctx->out, res->route.out, sizeof(ctx->out));
		ctx->pmtu = res->route.mtu;
	}
	return true;
}

/* Conntrack: raw's NOTRACK, then classification. */
static bool track(struct nf *nf, struct nf_ctx *ctx, struct nf_result *res, bool check_csum)
{
	if (ctx->attach) {
		/* nf_ct_attach: the answer is RELATED, opposite to the packet */
		ctx->ct = ctx->attach;
		ctx->ctstate = CT_RELATED;
		ctx->ctdir = ctx->attach_dir == CT_DIR_ORIGINAL ? CT_DIR_REPLY : CT_DIR_ORIGINAL;
	} else if (ctx->notrack) {
		ctx->ctstate = CT_UNTRACKED;
		ctx->ct = NULL;
	} else {
		int ret = ct_in(nf->ct, ctx, check_csum);

		if (ret) {
			drop(res, ret == -EDQUOT ? NF_DROP_CT_PEER_LIMIT : NF_DROP_CT_FULL, NF_DROP);
			return false;
		}
	}
	res->ctstate = ctx->ctstate;
	return true;
}

/* mangle and nat POSTROUTING, then confirmation. */
static bool post(struct nf *nf, struct nf_ctx *ctx, struct nf_result *res,
		 struct nf_trace *trace, uint32_t rnd)
{
	ctx->hook = NF_POSTROUTING;
	if (stopped(res, run(nf, NF_MANGLE, ctx, trace), ctx))
		return false;
	return nat_hook(nf, ctx, res, trace, rnd);
}

/* Refused in a way gw answers (gw/forward.h decides the answers; these
 * are the ones before confirmation): the entry stays for it. */
static bool answered(const struct nf_result *res)
{
	return res->verdict == NF_REJECT || res->drop == NF_DROP_TTL ||
	       res->drop == NF_DROP_TOO_BIG;
}

static void finish(struct nf *nf, struct nf_ctx *ctx, struct nf_result *res, bool ok)
{
	struct ct_entry *e = ctx->ct;

	if (!e || ctx->attach)
		return; /* an answer neither confirms nor frees what it is about */
	if (!ok) {
		if (ct_entry_status(e) & CT_S_CONFIRMED)
			return;
		if (answered(res)) {
			/* out of the table, so nothing else frees it meanwhile;
			 * a confirmed entry is found again by the answer's own
			 * lookup (and may go before it: early drop) */
			res->ct = e;
			res->ctdir = ctx->ctdir;
			res->ct_held = true;
			return;
		}
		ct_abort(nf->ct, e);
		return;
	}
	if (!(ct_entry_status(e) & CT_S_CONFIRMED) && ct_confirm(nf->ct, e, ctx->now))
		drop(res, NF_DROP_CT_CLASH, NF_DROP);
}

/* addrtype's view of both addresses before routing (do_route redoes the
 * destination if DNAT changed it; nothing before routing changes the
 * source).  The destination's route is kept in res->route for do_route;
 * the source's one lookup answers both addrtype and rp_filter. */
static void addr_types(struct nf *nf, struct nf_ctx *ctx, struct nf_result *res,
		       struct pre_route *pre)
{
	const struct pkt_hdr *h = &ctx->pkt->outer;
	struct nf_route sr;
	bool s_ok;

	memset(&sr, 0, sizeof(sr));
	s_ok = !route(nf, h->family, &h->saddr, &sr);
	ctx->src_local = s_ok && sr.kind == NF_ROUTE_LOCAL;
	ctx->src_dev[0] = '\0';
	if (ctx->src_local) {
		memcpy(ctx->src_dev, sr.out, NF_IFNAMSIZ);
		ctx->src_dev[NF_IFNAMSIZ - 1] = '\0';
	}
	pre->src_tunnel = s_ok && sr.kind == NF_ROUTE_FORWARD && nf->tunnel[0] &&
			  !strncmp(sr.out, nf->tunnel, NF_IFNAMSIZ);
	memset(&res->route, 0, sizeof(res->route));
	pre->daddr = h->daddr;
	pre->ok = !route(nf, h->family, &h->daddr, &res->route);
	ctx->dst_local = pre->ok && res->route.kind == NF_ROUTE_LOCAL;
	ctx->dst_dev[0] = '\0';
	if (ctx->dst_local) {
		memcpy(ctx->dst_dev, res->route.out, NF_IFNAMSIZ);
		ctx->dst_dev[NF_IFNAMSIZ - 1] = '\0';
	}
}

/* ip_route_input_slow and fib_validate_source: what the kernel's routing
 * refuses from outside (rp_filter aside). */
static bool martian(const struct nf_ctx *ctx)
{
	uint32_t s = ctx->pkt->outer.saddr.ip, d = ctx->pkt->outer.daddr.ip;

	if (ctx->pkt->outer.family == NF_V6)
		return false;  /* ip6_rcv_core refused them before PREROUTING */
	if ((s >> 28) == 0xe || s == 0xffffffff || (s >> 24) == 0 || (s >> 24) == 127)
		return true;
	if ((d >> 24) == 0 || (d >> 24) == 127)
		return true;
	return ctx->src_local;
}

bool nf_link_local(uint32_t a)
{
	return (a >> 16) == 0xa9fe;
}

static bool loopback6(const union nf_addr *a)
{
	static const uint8_t one[16] = { [15] = 1 };

	return !memcmp(a->b, one, 16);
}

/* ip6_rcv_core: what IPv6 refuses on arrival, before netfilter sees it (no
 * PREROUTING counter moves): a multicast or loopback source, a loopback or
 * unspecified destination, multicast of scope 0 or of interface-local
 * scope (ff00::/16, ff01::/16: RFC 4291, erratum 3480).  IPv4-mapped
 * addresses pass (Linux 6.18 tracks and forwards them: diff6 scenario 35). */
static bool martian6(const struct pkt_hdr *h)
{
	return h->saddr.b[0] == 0xff || loopback6(&h->saddr) || loopback6(&h->daddr) ||
	       nf_addr_is_zero(&h->daddr) ||
	       (h->daddr.b[0] == 0xff && (h->daddr.b[1] & 0x0f) <= 1);
}

/* fe80::/10 (RFC 4291 2.5.6): never forwarded. */
static bool link_local6(const union nf_addr *a)
{
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

/* Strict rp_filter (fib_validate_source with rp_filter=1) for what gw can
 * tell: a source that routes back by the tunnel belongs to a peer (or the
 * Address subnet) and is only ever right from a peer, whom cryptokey
 * routing already held to its AllowedIPs.  from_peer: it came from one. */
static bool rp_spoofed(const struct pre_route *pre, bool from_peer)
{
	return !from_peer && pre->src_tunnel;
}

/* from_peer: the packet came from a peer (not off the uplink, nor forwarded
 * by the host into its TUN). */
static bool input_path(struct nf *nf, struct nf_ctx *ctx, struct nf_result *res,
		       struct nf_trace *trace, uint32_t rnd, bool from_peer)
{
	struct pkt *p = ctx->pkt;
	bool v6 = p->outer.family == NF_V6;
	struct pre_route pre;

	if (v6 && martian6(&p->outer)) {
		drop(res, NF_DROP_MARTIAN, NF_DROP);
		return false;
	}
	addr_types(nf, ctx, res, &pre);
	if (stopped(res, run(nf, NF_RAW, ctx, trace), ctx))
		return false;
	/* conntrack checks TCP/UDP/ICMP checksums in PREROUTING, except for
	 * what a peer sent: the kernel's WireGuard marks a decrypted packet
	 * CHECKSUM_UNNECESSARY at every level (the AEAD authenticated it), so
	 * Linux never finds it INVALID for its checksum; nor what the kernel
	 * verified or gw computed itself (p->l4_csum_ok: Linux skips
	 * CHECKSUM_UNNECESSARY and PARTIAL skbs too) */
	if (!track(nf, ctx, res, !from_peer && !p->l4_csum_ok))
		return false;
	if (stopped(res, run(nf, NF_MANGLE, ctx, trace), ctx))
		return false;
	if (!nat_hook(nf, ctx, res, trace, rnd))
		return false;
	if (martian(ctx)) {
		drop(res, NF_DROP_MARTIAN, NF_DROP);
		return false;
	}
	if (rp_spoofed(&pre, from_peer)) {
		drop(res, NF_DROP_RP_FILTER, NF_DROP);
		return false;
	}
	if (!do_route(nf, ctx, res, &pre))
		return false;
	if (res->route.kind == NF_ROUTE_LOCAL) {
		ctx->hook = NF_INPUT;
		if (stopped(res, run(nf, NF_MANGLE, ctx, trace), ctx) ||
		    stopped(res, run(nf, NF_FILTER, ctx, trace), ctx))
			return false;
		/* gw's own Address is the peers' to reach: from the uplink the
		 * host's answer would leave by its own route, past gw */
		if (nf->uplink[0] && !strcmp(ctx->in, nf->uplink) && nf->tunnel[0] &&
		    !strcmp(ctx->dst_dev, nf->tunnel)) {
			drop(res, NF_DROP_UPLINK_TUNNEL, NF_DROP);
			return false;
		}
		if (!nat_hook(nf, ctx, res, trace, rnd))
			return false;
		/* no one takes it: its new entry would hold a tuple (a NAT
		 * port toward its source) for nothing */
		if (ctx->ct && !(ct_entry_status(ctx->ct) & CT_S_CONFIRMED) && nf->local_gets &&
		    !nf->local_gets(nf->local_arg, p, ctx->in, &res->route)) {
			ct_abort(nf->ct, ctx->ct);
			ctx->ct = NULL;
		}
		return true;
	}
	/* RFC 3927 2.7: a router never forwards link-local (on every cloud
	 * the instance metadata service, 169.254.169.254), whatever FORWARD
	 * says */
	if (!v6 && (nf_link_local(p->outer.saddr.ip) || nf_link_local(p->outer.daddr.ip))) {
		drop(res, NF_DROP_LINK_LOCAL, NF_DROP);
		return false;
	}
	/* ip_forward, ip6_forward: TTL (hop limit) checked and decremented
	 * before the FORWARD hook */
	if (p->outer.ttl <= 1) {
		res->ttl_in = p->outer.ttl;
		drop(res, NF_DROP_TTL, NF_DROP);
		return false;
	}
	/* ip6_forward, after the hop limit: an unspecified source is never
	 * forwarded, nor a link-local one (Linux answers "beyond scope" from
	 * its own link-local address; gw's tunnel has none), nor is a
	 * link-local destination routed off its link */
	if (v6 && nf_addr_is_zero(&p->outer.saddr)) {
		drop(res, NF_DROP_MARTIAN, NF_DROP);
		return false;
	}
	if (v6 && (link_local6(&p->outer.saddr) || link_local6(&p->outer.daddr))) {
		drop(res, NF_DROP_LINK_LOCAL, NF_DROP);
		return false;
	}
	/* ip_forward: then the MTU (ip_exceeds_mtu, a reassembled datagram by
	 * its largest fragment); Linux 6.18 counts such a packet in
	 * PREROUTING only and confirms no entry (diff scenario 50) */
	{
		unsigned cut;

		/* IPv6 routers never fragment (ip6_pkt_too_big), but a
		 * datagram gw reassembled goes in pieces again as it came */
		if ((v6 ? ip6_out_decide(p->outer.end, res->route.mtu, p->frag_max, &cut) :
			  ip_out_decide(p->outer.end, res->route.mtu, p->frag_max,
					p->outer.flags & PKT_F_DF, &cut)) == IP_OUT_TOO_BIG) {
			drop(res, NF_DROP_TOO_BIG, NF_DROP);
			return false;
		}
	}
	pkt_set_ttl(p, (uint8_t)(p->outer.ttl - 1));
	ctx->hook = NF_FORWARD;
	if (stopped(res, run(nf, NF_MANGLE, ctx, trace), ctx) ||
	    stopped(res, run(nf, NF_FILTER, ctx, trace), ctx))
		return false;
	return post(nf, ctx, res, trace, rnd);
}

void nf_input(struct nf *nf, struct pkt *p, const char *in, uint64_t now,
	      uint32_t rnd, struct nf_result *res, struct nf_trace *trace)
{
	struct nf_ctx ctx;

	memset(res, 0, sizeof(*res));
	res->ctstate = CT_STATE_MAX;
	ctx_init(nf, &ctx, p, NF_PREROUTING, in, now);
	finish(nf, &ctx, res,
	       input_path(nf, &ctx, res, trace, rnd, nf->tunnel[0] && in && !strcmp(in, nf->tunnel)));
}

void nf_input_batch(struct nf *nf, struct pkt *const *p, unsigned n, const char *in,
		    uint64_t now, const uint32_t *rnd, struct nf_result *res)
{
	for (unsigned i = 0; i < n; i++)
		ct_prefetch(nf->ct, p[i]);
	for (unsigned i = 0; i < n; i++)
		nf_input(nf, p[i], in, now, rnd[i], &res[i], NULL);
}

static bool output_path(struct nf *nf, struct nf_ctx *ctx, struct nf_result *res,
			struct nf_trace *trace, uint32_t rnd)
{
	struct pre_route pre;

	addr_types(nf, ctx, res, &pre);
	if (stopped(res, run(nf, NF_RAW, ctx, trace), ctx))
		return false;
	if (!track(nf, ctx, res, false))
		return false;
	if (stopped(res, run(nf, NF_MANGLE, ctx, trace), ctx))
		return false;
	if (!nat_hook(nf, ctx, res, trace, rnd))
		return false;
	if (!do_route(nf, ctx, res, &pre))
		return false;
	if (stopped(res, run(nf, NF_FILTER, ctx, trace), ctx))
		return false;
	return post(nf, ctx, res, trace, rnd);
}

void nf_output(struct nf *nf, struct pkt *p, const uint32_t owner[2], uint64_t now,
	       uint32_t rnd, struct nf_result *res, struct nf_trace *trace)
{
	struct nf_ctx ctx;

	memset(res, 0, sizeof(*res));
	res->ctstate = CT_STATE_MAX;
	ctx_init(nf, &ctx, p, NF_OUTPUT, NULL, now);
	if (owner) {
		ctx.has_owner = true;
		ctx.uid = owner[0];
		ctx.gid = owner[1];
	}
	finish(nf, &ctx, res, output_path(nf, &ctx, res, trace, rnd));
}

void nf_answer(struct nf *nf, struct pkt *p, const struct nf_result *about, uint64_t now,
	       uint32_t rnd, struct nf_result *res, struct nf_trace *trace)
{
	struct nf_ctx ctx;

	memset(res, 0, sizeof(*res));
	res->ctstate = CT_STATE_MAX;
	ctx_init(nf, &ctx, p, NF_OUTPUT, NULL, now);
	ctx.attach = about && about->ct_held ? about->ct : NULL;
	ctx.attach_dir = about ? about->ctdir : CT_DIR_ORIGINAL;
	finish(nf, &ctx, res, output_path(nf, &ctx, res, trace, rnd));
}

void nf_release(struct nf *nf, struct nf_result *res)
{
	if (res->ct_held)
		ct_abort(nf->ct, res->ct);
	res->ct_held = false;
	res->ct = NULL;
}

void nf_from_host(struct nf *nf, struct pkt *p, const uint32_t owner[2], uint64_t now,
		  uint32_t rnd, struct nf_result *res, struct nf_trace *trace)
{
	struct nf_ctx ctx;
	struct nf_route r;

	if ((p->outer.family == NF_V6 ? !nf->route6 : !nf->route) ||
	    (!route(nf, p->outer.family, &p->outer.saddr, &r) && r.kind == NF_ROUTE_LOCAL)) {
		nf_output(nf, p, owner, now, rnd, res, trace);
		return;
	}
	memset(res, 0, sizeof(*res));
	res->ctstate = CT_STATE_MAX;
	ctx_init(nf, &ctx, p, NF_PREROUTING, nf->tunnel, now);
	finish(nf, &ctx, res, input_path(nf, &ctx, res, trace, rnd, false));
}

const char *nf_drop_name(enum nf_drop d)
{
	static const char *const names[NF_DROP_MAX] = {
		[NF_DROP_NONE] = "none",
		[NF_DROP_RULE] = "rule",
		[NF_DROP_REJECT] = "reject",
		[NF_DROP_CT_FULL] = "conntrack_full",
		[NF_DROP_CT_CLASH] = "conntrack_clash",
		[NF_DROP_NAT_NOADDR] = "nat_no_address",
		[NF_DROP_NAT_EXHAUSTED] = "nat_exhausted",
		[NF_DROP_NAT_REDIRECT] = "nat_icmp_redirect",
		[NF_DROP_NO_ROUTE] = "no_route",
		[NF_DROP_TTL] = "ttl_exceeded",
		[NF_DROP_MARTIAN] = "martian",
		[NF_DROP_CT_PEER_LIMIT] = "peer_conntrack_limit",
		[NF_DROP_RP_FILTER] = "rp_filter",
		[NF_DROP_LINK_LOCAL] = "link_local",
		[NF_DROP_TOO_BIG] = "frag_needed",
		[NF_DROP_UPLINK_TUNNEL] = "uplink_tunnel_addr",
	};

	return (unsigned)d < NF_DROP_MAX ? names[d] : "?";
}

const char *nf_hook_name(enum nf_hook h)
{
	static const char *const names[NF_HOOK_MAX] = {
		"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING",
	};

	return (unsigned)h < NF_HOOK_MAX ? names[h] : "?";
}

const char *nf_ctstate_name(enum ct_state s)
{
	static const char *const names[CT_STATE_MAX] = {
		"NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED",
	};

	return (unsigned)s < CT_STATE_MAX ? names[s] : "?";
}

const char *nf_verdict_name(enum nf_verdict v)
{
	switch (v) {
	case NF_ACCEPT: return "ACCEPT";
	case NF_DROP: return "DROP";
	case NF_REJECT: return "REJECT";
	}
	return "?";
}
