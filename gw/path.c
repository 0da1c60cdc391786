/* SPDX-License-Identifier: MIT */
/* The packet's way through gw when it has Rules or an Uplink: see path.h. */
#include "gw/path.h"

#include <sodium.h>

#include "gw/gw.h"
#include "nat/pkt/be.h"
#include "nat/pkt/frag.h"
#include "nat/icmp6.h"
#include "nat/reject.h"

enum { CT_EXPIRE_BUDGET = 256 };	/* removals per batch */

static uint32_t rnd_next(struct gw *g)
{
	/* one getrandom for GW_RND_POOL packets */
	if (!g->rnd_left) {
		randombytes_buf(g->rnd, sizeof(g->rnd));
		g->rnd_left = GW_RND_POOL;
	}
	return g->rnd[--g->rnd_left];
}

static void count(struct gw *g, enum gw_path path, size_t len)
{
	g->path_pkts[path]++;
	g->path_bytes[path] += len;
}

static void finish(struct gw *g, struct pkt *p, struct nf_result *res, const char *in,
		   enum fwd_from from, uint64_t now, uint64_t wall);

/* gw's answer to p (which came in on in), as a says: the REJECT reply res
 * names or an ICMP error; through OUTPUT and POSTROUTING, then where its
 * route says. */
static void answer(struct gw *g, const struct pkt *p, const struct nf_result *res,
		   const struct fwd_action *a, const char *in, uint64_t now, uint64_t wall)
{
	uint8_t buf[ICMP6_ERROR_MAX];
	struct nf_result rres;
	struct pkt rp;
	size_t len = dp_answer_build(&g->route, p, res, a, in, g->ip_id++, buf, sizeof(buf));

	if (!len || pkt_parse(&rp, buf, len) != PKT_OK)
		return;
	nf_answer(g->nf, &rp, res, now, rnd_next(g), &rres, NULL);
	finish(g, &rp, &rres, g->cfg.ifname, FWD_FROM_GW, now, wall);
}

/* Encrypted to the peer that owns the destination: false when none does. */
static bool to_peer(struct gw *g, struct pkt *p, enum gw_path path, uint64_t now, uint64_t wall)
{
	size_t len = p->outer.end;
	struct session_seal seal;
	struct wg_tx tx;

	wg_send_unsealed(&g->dev, now, wall, p->data, len, g->sendbuf, g->sendbuf_size, &tx, &seal);
	if (tx.kind == WG_TX_DATA)
		gw_queue_unsealed(g, &tx.peer->endpoint, g->sendbuf, tx.len, &seal);
	if (tx.kind != WG_TX_DROP)
		count(g, path, len);
	return tx.kind != WG_TX_DROP || tx.drop != WG_DROP_NO_PEER; /* else counted by wg */
}

static void to_uplink(struct gw *g, const struct pkt *p, enum gw_path path)
{
	struct uplink_tx *t = g->cur->utx; /* the worker's queue */
	size_t len = p->outer.end;
	uint8_t *slot;

	if (len > t->slot) {
		g->dp_drops[GW_DROP_TOO_BIG]++;
		return;
	}
	slot = uplink_send_slot(t);
	if (!slot) {
		uplink_flush(t);
		slot = uplink_send_slot(t);
	}
	if (!slot)
		return;
	memcpy(slot, p->data, len);
	uplink_send_commit(t, len);
	count(g, path, len);
}

/* Carries out a (a copy: a packet to no peer changes it) for one packet or
 * fragment. */
static void carry(struct gw *g, struct pkt *p, const struct nf_result *res,
		  struct fwd_action a, const char *in, enum fwd_from from, uint64_t now,
		  uint64_t wall)
{
	switch (a.kind) {
	case FWD_PEER:
		if (!to_peer(g, p, a.path, now, wall)) {
			fwd_no_peer(from, p, &a);
			g->dp_drops[a.drop]++;
		}
		break;
	case FWD_UPLINK:
		to_uplink(g, p, a.path);
		break;
	case FWD_HOST:
		gw_tun_write(g, p->data, p->outer.end);
		count(g, a.path, p->outer.end);
		break;
	case FWD_KERNEL:
		count(g, a.path, p->outer.end);
		break;
	case FWD_DROP:
		if (a.nf_drop)
			g->nf_drops[res->drop]++;
		else
			g->dp_drops[a.drop]++;
		break;
	}
	if (a.answer != FWD_ANSWER_NONE)
		answer(g, p, res, &a, in, now, wall);
}

struct frag_out {
	struct gw *g;
	const struct nf_result *res;
	const struct fwd_action *a;
	const char *in;
	enum fwd_from from;
	uint64_t now, wall;
};

static void frag_emit(void *ctx, uint8_t *frag, size_t len)
{
	struct frag_out *o = ctx;
	struct pkt fp;

	if (pkt_parse(&fp, frag, len) != PKT_OK) {
		o->g->dp_drops[GW_DROP_PARSE]++;
		return;
	}
	o->g->frag_created++;
	carry(o->g, &fp, o->res, *o->a, o->in, o->from, o->now, o->wall);
}

static struct fwd_env fwd_env_of(const struct gw *g)
{
	return (struct fwd_env){ g->cfg.ifname, g->cfg.uplink, g->uplink_on };
}

bool dp_host_gets(void *cfg, const struct pkt *p, const char *in, const struct nf_route *r)
{
	const struct config *c = cfg;

	return fwd_host_gets(c->uplink, p, in, r);
}

uint16_t dp_peer_owner(const struct config *c, uint8_t family, const union nf_addr *src)
{
	const struct config_peer *p = family == NF_V6 ? config_peer_for6(c, src->b) :
				      config_peer_for4(c, src->ip);

	return p ? p->owner : 0;
}

size_t dp_answer_build(const struct route_ctx *r, const struct pkt *p,
		       const struct nf_result *res, const struct fwd_action *a, const char *in,
		       uint16_t ip_id, uint8_t *buf, size_t cap)
{
	const struct pkt_hdr *h = &p->outer;

	if (h->family == NF_V6) {
		union nf_addr src;

		if (!route_src_toward6(r, in, &h->daddr, &h->saddr, &src))
			return 0;
		if (a->answer == FWD_ANSWER_REJECT)
			return reject6_build(p, res->reject, &src, buf, cap);
		return icmp6_error_build(p->data + h->ip, h->end - h->ip, a->type, a->code, a->mtu,
					 src.b, buf, cap);
	}
	if (a->answer == FWD_ANSWER_REJECT)
		return reject_build(p, res->reject, route_src_toward(r, in, h->daddr.ip), ip_id,
				    buf, cap);
	return icmp_error_build(p, a->type, a->code, a->mtu, route_src_toward(r, in, h->daddr.ip),
				ip_id, buf, cap);
}

/* The packet's netfilter result carried out (gw/forward.h decides), then
 * released. */
static void finish(struct gw *g, struct pkt *p, struct nf_result *res, const char *in,
		   enum fwd_from from, uint64_t now, uint64_t wall)
{
	struct fwd_env e = fwd_env_of(g);
	struct fwd_action a;

	fwd_decide(&e, p, res, from, &a);
	if (!a.cut) {
		carry(g, p, res, a, in, from, now, wall);
	} else {
		struct frag_out o = { g, res, &a, in, from, now, wall };
		int ret = p->outer.family == NF_V6 ?
			  /* a fresh id, as ipv6_select_ident after NAT */
			  ip6_fragment(p->data, p->outer.end, a.cut, randombytes_random(),
				       g->fragoutbuf, FRAG_MAX_DATAGRAM, frag_emit, &o) :
			  ip_fragment(p->data, p->outer.end, a.cut, g->fragoutbuf,
				      FRAG_MAX_DATAGRAM, frag_emit, &o);

		if (ret < 0)
			g->dp_drops[GW_DROP_TOO_BIG]++;
		else
			g->frag_oks++;
	}
	nf_release(g->nf, res);
}

/* The batch's packets through nf_input_batch (conntrack prefetched for all
 * of them), then each where its verdict says. */
void dp_input_flush(struct gw *g, uint64_t now, uint64_t wall)
{
	struct dp_batch *b = &g->inb;
	unsigned n = b->n;

	if (!n)
		return;
	for (unsigned i = 0; i < n; i++)
		b->rnd[i] = rnd_next(g);
	nf_input_batch(g->nf, b->pp, n, b->in, now, b->rnd, b->res);
	b->n = 0;
	b->fragbuf_used = false;
	for (unsigned i = 0; i < n; i++)
		finish(g, &b->p[i], &b->res[i], b->in, (enum fwd_from)b->from, now, wall);
}

/* A packet that arrived on in joins the input batch, reassembled first if a
 * fragment; csum_ok: its L4 checksum is known good (struct pkt).  The batch
 * goes when full, when packets from elsewhere come, or at dp_input_flush
 * (the caller's buffers must stay until then). */
static void input(struct gw *g, uint8_t *buf, size_t len, size_t room, const char *in,
		  enum fwd_from from, uint16_t owner, bool csum_ok, uint64_t now, uint64_t wall)
{
	struct dp_batch *b = &g->inb;
	struct pkt *p;

	if (b->n && (b->in != in || b->from != from))
		dp_input_flush(g, now, wall);
	p = &b->p[b->n];
	if (pkt_parse(p, buf, len) != PKT_OK) {
		g->dp_drops[GW_DROP_PARSE]++;
		return;
	}
	if (p->outer.flags & PKT_F_FRAG) {
		size_t n;

		/* one reassembly buffer: a datagram in it must go first */
		if (b->fragbuf_used) {
			dp_input_flush(g, now, wall);
			p = &b->p[0];
			if (pkt_parse(p, buf, len) != PKT_OK)
				return;
		}
		if (frag_add(g->frag, now, p, g->fragbuf, FRAG_MAX_DATAGRAM, &n) != FRAG_DONE)
			return; /* kept, or counted in the frag stats */
		if (pkt_parse(p, g->fragbuf, n) != PKT_OK) {
			g->dp_drops[GW_DROP_PARSE]++;
			return;
		}
		b->fragbuf_used = true;
		p->frag_max = frag_max_size(g->frag);
		csum_ok = false;
		room = FRAG_MAX_DATAGRAM - n;
	}
	p->owner = owner;
	p->l4_csum_ok = csum_ok;
	p->room = pkt_room_of(room);
	b->pp[b->n] = p;
	b->in = in;
	b->from = (uint8_t)from;
	if (++b->n == DP_BATCH)
		dp_input_flush(g, now, wall);
}

/* Plain mode: is the IPv4 packet's source one of the host's addresses?  The
 * TUN has accept_local (gw's own ICMP errors come from its Address), so the
 * kernel would take it. */
static bool host_source(struct gw *g, const uint8_t *pkt, size_t len)
{
	struct nf_route r;

	if (len < 20 || (pkt[0] >> 4) != 4)
		return false;
	return !route_lookup(&g->route, be32_get(pkt + 12), &r) && r.kind == NF_ROUTE_LOCAL;
}

bool dp_filtered(const struct gw *g, const uint8_t *pkt)
{
	return g->nf && ((pkt[0] >> 4) == 4 || (g->ipv6_rules && (pkt[0] >> 4) == 6));
}

bool dp_ipv6_dropped(struct gw *g, const uint8_t *pkt)
{
	if (!g->nf || g->cfg.ipv6_pass || g->ipv6_rules || (pkt[0] >> 4) != 6)
		return false;
	g->dp_drops[GW_DROP_IPV6]++;
	return true;
}

void dp_from_peer(struct gw *g, uint8_t *pkt, size_t len, size_t room, uint16_t owner,
		  uint64_t now, uint64_t wall)
{
	if (dp_ipv6_dropped(g, pkt))
		return;
	if (!dp_filtered(g, pkt)) {
		if (!g->nf && host_source(g, pkt, len)) {
			g->dp_drops[GW_DROP_MARTIAN]++;
			return;
		}
		gw_tun_write(g, pkt, len);
		return;
	}
	input(g, pkt, len, room, g->cfg.ifname, FWD_FROM_PEER, owner, false, now, wall);
}

void dp_from_host(struct gw *g, uint8_t *pkt, size_t len, size_t room, uint64_t now,
		  uint64_t wall)
{
	struct nf_result res;
	struct nf_route r;
	struct pkt p;

	uint32_t owner[2];
	bool has_owner;

	if (pkt_parse(&p, pkt, len) != PKT_OK) {
		g->dp_drops[GW_DROP_PARSE]++;
		return;
	}
	p.room = pkt_room_of(room);
	/* -m owner: the sending socket's, only when a rule asks and the host
	 * made the packet (from one of its addresses: nf_from_host's test) */
	has_owner = g->owner_need &&
		    !(p.outer.family == NF_V6 ? route_lookup6(&g->route, &p.outer.saddr, &r) :
						route_lookup(&g->route, p.outer.saddr.ip, &r)) &&
		    r.kind == NF_ROUTE_LOCAL &&
		    sockdiag_owner(&g->sd, &p, g->owner_need, now, owner) > 0;
	/* made by the host (OUTPUT), or forwarded by it into the TUN (FORWARD) */
	nf_from_host(g->nf, &p, has_owner ? owner : NULL, now, rnd_next(g), &res, NULL);
	finish(g, &p, &res, g->cfg.ifname, FWD_FROM_HOST, now, wall);
}

void dp_from_uplink(void *ctx, struct uplink_pkt *pkts, unsigned n)
{
	struct dp_rx_ctx *c = ctx;

	for (unsigned i = 0; i < n; i++)
		input(c->g, pkts[i].data, pkts[i].len, pkts[i].room, c->g->cfg.uplink,
		      FWD_FROM_UPLINK, 0, pkts[i].csum_ok, c->now, c->wall);
	dp_input_flush(c->g, c->now, c->wall); /* the views last for this call only */
}

void dp_flush(struct gw *g, uint64_t now)
{
	if (!g->nf)
		return;
	if (g->uplink_on && g->uplink.tx.count)
		uplink_flush(&g->uplink.tx);
	ct_expire(nf_ct(g->nf), now, CT_EXPIRE_BUDGET);
}

void dp_tick(struct gw *g, uint64_t now)
{
	if (!g->nf)
		return;
	ct_expire(nf_ct(g->nf), now, CT_EXPIRE_BUDGET);
	frag_expire(g->frag, now, NULL, NULL);
}

uint64_t dp_next_deadline(const struct gw *g)
{
	uint64_t ct, fr;

	if (!g->nf)
		return UINT64_MAX;
	ct = ct_next_deadline(nf_ct(g->nf));
	fr = frag_next_deadline(g->frag);
	return ct < fr ? ct : fr;
}

