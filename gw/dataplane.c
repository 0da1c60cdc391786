/* SPDX-License-Identifier: MIT */
/* The packet's way through gw when it has Rules or an Uplink: see dataplane.h. */
#include "gw/dataplane.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <limits.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw/gw.h"
#include "gw/log.h"
#include "gw/metrics.h"
#include "gw/nl.h"
#include "gw/rulesfile.h"
#include "gw/uplink_nat.h"
#include "nat/ct.h"
#include "nat/hook.h"
#include "nat/nat.h"
#include "nat/pkt/be.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"
#include "nat/reject.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

enum {
	UPLINK_FRAMES_PER_WAKE = 256,	/* then the other sockets get their turn */
	CT_EXPIRE_BUDGET = 256,	/* removals per loop iteration */
};

/* One wake-up's time, for the uplink callback. */
struct rx_ctx {
	struct gw *g;
	uint64_t now, wall;
};

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
	uint8_t buf[REJECT_ICMP_QUOTE_MAX + 64];
	uint32_t src = route_src_toward(&g->route, in, p->outer.daddr);
	struct nf_result rres;
	struct pkt rp;
	size_t len;

	if (a->answer == FWD_ANSWER_REJECT)
		len = reject_build(p, res->reject, src, g->ip_id++, buf, sizeof(buf));
	else
		len = icmp_error_build(p, a->type, a->code, a->mtu, src, g->ip_id++, buf,
				       sizeof(buf));
	if (!len || pkt_parse(&rp, buf, len) != PKT_OK)
		return;
	nf_answer(g->nf, &rp, res, now, rnd_next(g), &rres, NULL);
	finish(g, &rp, &rres, g->cfg.ifname, FWD_FROM_GW, now, wall);
}

/* Encrypted to the peer that owns the destination: false when none does. */
static bool to_peer(struct gw *g, struct pkt *p, enum gw_path path, uint64_t now, uint64_t wall)
{
	size_t len = p->outer.end;
	struct wg_tx tx;

	wg_send(&g->dev, now, wall, p->data, len, g->sendbuf, g->sendbuf_size, &tx);
	if (tx.kind == WG_TX_DATA)
		gw_queue_dgram(g, &tx.peer->endpoint, g->sendbuf, tx.len);
	if (tx.kind != WG_TX_DROP)
		count(g, path, len);
	return tx.kind != WG_TX_DROP || tx.drop != WG_DROP_NO_PEER; /* else counted by wg */
}

static void to_uplink(struct gw *g, const struct pkt *p, enum gw_path path)
{
	size_t len = p->outer.end;
	uint8_t *slot;

	if (len > g->uplink.tx.slot) {
		g->dp_drops[GW_DROP_TOO_BIG]++;
		return;
	}
	slot = uplink_send_slot(&g->uplink.tx);
	if (!slot) {
		uplink_flush(&g->uplink.tx);
		slot = uplink_send_slot(&g->uplink.tx);
	}
	if (!slot)
		return;
	memcpy(slot, p->data, len);
	uplink_send_commit(&g->uplink.tx, len);
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
			fwd_no_peer(from, &a);
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

uint16_t dp_peer_owner(const struct config *c, uint32_t src)
{
	const struct config_peer *p = config_peer_for4(c, src);

	return p ? p->owner : 0;
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

		if (ip_fragment(p->data, p->outer.end, a.cut, g->fragoutbuf, FRAG_MAX_DATAGRAM,
				frag_emit, &o) < 0)
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
 * fragment.  The batch goes when full, when packets from elsewhere come, or
 * at dp_input_flush (the caller's buffers must stay until then). */
static void input(struct gw *g, uint8_t *buf, size_t len, const char *in, enum fwd_from from,
		  uint16_t owner, uint64_t now, uint64_t wall)
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
	}
	p->owner = owner;
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

bool dp_ipv6_dropped(struct gw *g, const uint8_t *pkt)
{
	if (!g->nf || g->cfg.ipv6_pass || (pkt[0] >> 4) != 6)
		return false;
	g->dp_drops[GW_DROP_IPV6]++;
	return true;
}

void dp_from_peer(struct gw *g, uint8_t *pkt, size_t len, uint16_t owner, uint64_t now,
		  uint64_t wall)
{
	if (dp_ipv6_dropped(g, pkt))
		return;
	if (!g->nf || (pkt[0] >> 4) != 4) {
		if (!g->nf && host_source(g, pkt, len)) {
			g->dp_drops[GW_DROP_MARTIAN]++;
			return;
		}
		gw_tun_write(g, pkt, len);
		return;
	}
	input(g, pkt, len, g->cfg.ifname, FWD_FROM_PEER, owner, now, wall);
}

void dp_from_host(struct gw *g, uint8_t *pkt, size_t len, uint64_t now, uint64_t wall)
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
	/* -m owner: the sending socket's, only when a rule asks and the host
	 * made the packet (from one of its addresses: nf_from_host's test) */
	has_owner = g->owner_need && !route_lookup(&g->route, p.outer.saddr, &r) &&
		    r.kind == NF_ROUTE_LOCAL &&
		    sockdiag_owner(&g->sd, &p, g->owner_need, now, owner) > 0;
	/* made by the host (OUTPUT), or forwarded by it into the TUN (FORWARD) */
	nf_from_host(g->nf, &p, has_owner ? owner : NULL, now, rnd_next(g), &res, NULL);
	finish(g, &p, &res, g->cfg.ifname, FWD_FROM_HOST, now, wall);
}

static void uplink_rx(void *ctx, struct uplink_pkt *pkts, unsigned n)
{
	struct rx_ctx *c = ctx;

	for (unsigned i = 0; i < n; i++)
		input(c->g, pkts[i].data, pkts[i].len, c->g->cfg.uplink, FWD_FROM_UPLINK, 0, c->now,
		      c->wall);
	dp_input_flush(c->g, c->now, c->wall); /* the views last for this call only */
}

static void uplink_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw *g = container_of(w, struct gw, uplink_w);
	struct rx_ctx c = { g, gw_mono(), gw_wall() };

	(void)loop, (void)revents;
	for (int n = 0; n < UPLINK_FRAMES_PER_WAKE && !g->tx_blocked;) {
		int got = uplink_recv_batch(&g->uplink, uplink_rx, &c);

		if (got <= 0)
			break;
		n += got;
	}
}

/* The kernel's neighbour and route events, for the uplink's send queue. */
static void uplink_nh_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw *g = container_of(w, struct gw, uplink_nh_w);
	int rc = uplink_tx_neigh_read(&g->uplink.tx);

	(void)loop, (void)revents;
	if (rc < 0)
		gw_log("%s: uplink neighbour events: %s", g->cfg.ifname, strerror(-rc));
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

/* --- setup ---------------------------------------------------------------- */

/* Rules = relative paths are relative to the config's directory. */
static int load_rules(struct gw *g, struct rules **out, const struct rules *base)
{
	char path[PATH_MAX], dir[PATH_MAX], err[512];
	const char *rp = g->cfg.rules_path;

	*out = NULL;
	if (!rp)
		return 0;
	if (rp[0] != '/') {
		snprintf(dir, sizeof(dir), "%s", g->cfg.path);
		snprintf(path, sizeof(path), "%s/%s", dirname(dir), rp);
		rp = path;
	}
	if (rulesfile_load(out, rp, base, false, err, sizeof(err))) {
		gw_log("%s", err);
		return -EINVAL;
	}
	return 0;
}

/* The live rules changed (start, restore, reload): what they need to know. */
static void rules_changed(struct gw *g)
{
	int ret;

	g->owner_need = rules_owner_needs(nf_rules(g->nf));
	/* the sock_diag socket when the rules first need it (no privilege
	 * needed: it can come after the drop) */
	if (g->owner_need && !sockdiag_is_open(&g->sd) && (ret = sockdiag_open(&g->sd)))
		gw_log("%s: sock_diag: %s: -m owner sees no socket for any packet",
		       g->cfg.ifname, strerror(-ret));
	priv_warn_missing(g->cfg.ifname, priv_needed(g));
}

static void nf_log_line(void *arg, int level, const char *prefix, const char *line)
{
	(void)arg, (void)level;
	gw_log("%s%s", prefix ? prefix : "", line);
}

static void addr_text(uint32_t addr, char *text, size_t len)
{
	struct in_addr a = { htonl(addr) };

	inet_ntop(AF_INET, &a, text, (socklen_t)len);
}

/* The host's addresses now into *h (h->addr is the caller's to free).
 * 0 or -errno (logged). */
static int host_now(struct gw *g, struct uplink_host *h)
{
	struct route_addr *a;
	int n = route_host_addrs(&a);

	if (n < 0) {
		gw_log("%s: reading the host's IPv4 addresses: %s", g->cfg.ifname, strerror(-n));
		return n;
	}
	*h = (struct uplink_host){ a, (unsigned)n,
				   g->cfg.uplink[0] ? uplink_forwarding(g->cfg.uplink) : 0, NULL };
	return 0;
}

static void log_notes(struct gw *g, struct sbuf *note)
{
	char *line, *next;

	for (line = note->buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		gw_log("%s: uplink %s: %s", g->cfg.ifname, g->cfg.uplink, line);
	}
}

/* The live connections' needs that the uplink's filters hold now (the
 * ports of a hairpin DNAT from a peer, an SNAT out another interface were
 * never theirs), for the uplink's addresses own[n]. */
static void live_needs(struct gw *g, const uint32_t *own, unsigned n, struct nat_live *live)
{
	const struct bpf_nat_spec *cur = &g->uplink.nat;
	struct rules_portset within[2] = { { .n = cur->ntcp }, { .n = cur->nudp } };
	unsigned k = 0;

	for (unsigned i = 0; i < cur->ntcp; i++)
		within[0].lo[i] = cur->tcp[i].lo, within[0].hi[i] = cur->tcp[i].hi;
	for (unsigned i = 0; i < cur->nudp; i++)
		within[1].lo[i] = cur->udp[i].lo, within[1].hi[i] = cur->udp[i].hi;
	nat_live(nf_ct(g->nf), own, n, within, live);
	for (unsigned i = 0; i < live->nsnat; i++)
		if (uplink_nat_foreign_has(cur, live->snat[i]))
			live->snat[k++] = live->snat[i];
	live->nsnat = k;
}

/* gw's tunnel Addresses into s: all IPv4 to them off the uplink is gw's
 * (hidden from the host's kernel), through INPUT and dropped
 * (NF_DROP_UPLINK_TUNNEL). */
static void tunnel_addrs(const struct gw *g, const struct uplink_host *h,
			 struct bpf_nat_spec *s)
{
	unsigned over = 0;

	s->ntunnel = 0;
	for (size_t i = 0; i < g->cfg.n_addresses; i++) {
		uint32_t v = cidr_addr4(&g->cfg.addresses[i]);
		bool elsewhere = false;

		if (g->cfg.addresses[i].family != AF_INET)
			continue;
		/* an Address the host also has on another interface (the
		 * uplink's own, say) stays the host's: hiding it would cut
		 * the host off (ssh, DHCP, gw's own handshakes) */
		for (unsigned j = 0; j < h->naddr && !elsewhere; j++)
			elsewhere = h->addr[j].addr == v && strcmp(h->addr[j].dev, g->cfg.ifname);
		if (elsewhere)
			continue;
		if (s->ntunnel < BPF_NAT_MAX_TUNNEL)
			s->tunnel[s->ntunnel++] = v;
		else
			over++;
	}
	if (over)
		gw_log("%s: uplink %s: only the first %u IPv4 Addresses are taken off the uplink; "
		       "traffic from the uplink to %u more reaches the host's kernel past gw's "
		       "rules", g->cfg.ifname, g->cfg.uplink, (unsigned)BPF_NAT_MAX_TUNNEL, over);
}

/* The uplink's filter spec for rules r with MASQUERADE at addr (0: none)
 * on host h, and what the live connections need of what the filters hold
 * now (once there is a conntrack table); *lg counts what stays for them
 * only, remarks go to note.  0, or -errno with the reason in err. */
static int uplink_spec(struct gw *g, const struct rules *r, uint32_t addr,
		       const struct uplink_host *h, struct bpf_nat_spec *s, struct uplink_linger *lg,
		       struct sbuf *note, char *err, size_t errlen)
{
	struct uplink_host hl = *h;
	uint32_t own[RULES_UPLINK_MAX_ADDRS];
	unsigned n = 0;
	int ret;

	if (addr)
		own[n++] = addr; /* MASQUERADE's first, as the spec has them */
	for (unsigned i = 0; i < h->naddr && n < RULES_UPLINK_MAX_ADDRS; i++)
		if (!strcmp(h->addr[i].dev, g->cfg.uplink) && h->addr[i].addr != addr)
			own[n++] = h->addr[i].addr;
	if (g->nf && g->uplink_on) {
		live_needs(g, own, n, &g->live);
		hl.live = &g->live;
	}
	ret = uplink_nat_spec(g->cfg.uplink, addr, g->cfg.nat_port_min, g->cfg.nat_port_max, r,
			      &hl, s, lg, note, err, errlen);
	if (!ret)
		tunnel_addrs(g, h, s);
	return ret;
}

/* While the filters keep something for live connections only, every
 * GW_LINGER_CHECK s the spec is worked out again: what their end freed goes
 * back to the host. */
static void linger_track(struct gw *g, const struct uplink_linger *lg)
{
	g->linger = *lg;
	if (!g->loop)
		return;
	if (lg->ports || lg->addrs) {
		if (!ev_is_active(&g->linger_w))
			ev_timer_start(g->loop, &g->linger_w);
	} else if (ev_is_active(&g->linger_w)) {
		ev_timer_stop(g->loop, &g->linger_w);
	}
}

/* The uplink's filters take spec s, lg of it for live connections only
 * (logged when they change).  0 or -errno (logged). */
static int uplink_follow(struct gw *g, const struct bpf_nat_spec *s, const struct uplink_linger *lg)
{
	struct sbuf d;
	int ret;
	bool same = uplink_nat_equal(s, &g->uplink.nat) && !g->uplink.stale;

	if (!same) {
		ret = uplink_set_nat(&g->uplink, s);
		if (ret)
			return ret; /* logged */
	}
	/* logged when they change, or when what they keep for live
	 * connections only does (the same filters, now for other reasons) */
	if (!same || lg->ports != g->linger.ports || lg->addrs != g->linger.addrs) {
		sbuf_init(&d);
		uplink_nat_describe(s, &d);
		if (lg->ports || lg->addrs)
			sbuf_printf(&d, "; kept for live connections only: %u port(s), %u "
				    "address(es)", lg->ports, lg->addrs);
		gw_log("%s: uplink %s filters: %s", g->cfg.ifname, g->cfg.uplink,
		       d.buf ? d.buf : "");
		sbuf_free(&d);
	}
	linger_track(g, lg);
	return 0;
}

/* The uplink's primary address is now addr (0: none).  MASQUERADE takes
 * it and the entries NAT-ed to the old one are flushed (as Linux does);
 * with no address MASQUERADE drops until one appears. */
static void masq_follow(struct gw *g, uint32_t addr)
{
	uint32_t old = g->uplink_addr;
	char o[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN];
	unsigned flushed = 0;

	if (addr == old)
		return;
	addr_text(old, o, sizeof(o));
	addr_text(addr, n, sizeof(n));
	g->uplink_addr = addr;
	g->route.uplink_addr = addr;
	nf_set_uplink_addr(g->nf, addr);
	if (old)
		flushed = nat_flush_addr(nf_ct(g->nf), old);
	gw_log("%s: uplink %s address %s -> %s: %u conntrack entries NAT-ed to %s flushed%s",
	       g->cfg.ifname, g->cfg.uplink, old ? o : "none", addr ? n : "none", flushed,
	       old ? o : "none", addr ? "" : "; MASQUERADE drops until an address appears");
}

/* The uplink's filters on host h: the live rules' spec, or when that is
 * refused on these addresses (a cap, forwarding turned on meanwhile), the
 * fallback to MASQUERADE's address and NatPorts rather than filters that
 * stay on addresses the host no longer has. */
static void uplink_refresh(struct gw *g, const struct uplink_host *h)
{
	struct bpf_nat_spec spec;
	struct uplink_linger lg = { 0 };
	struct sbuf note;
	char err[256];

	sbuf_init(&note);
	if (uplink_spec(g, nf_rules(g->nf), g->uplink_addr, h, &spec, &lg, &note, err,
			sizeof(err))) {
		gw_log("%s: uplink %s: ERROR: the live rules cannot be followed on the host's "
		       "addresses now: %s; the uplink's filters fall back to MASQUERADE's address "
		       "and NatPorts: DNAT from the uplink and SNAT to addresses the host does not "
		       "have stop working until the rules or the host change", g->cfg.ifname,
		       g->cfg.uplink, err);
		uplink_nat_base(g->uplink_addr, g->cfg.nat_port_min, g->cfg.nat_port_max, &spec);
		tunnel_addrs(g, h, &spec);
		lg = (struct uplink_linger){ 0 };
	} else if (!uplink_nat_equal(&spec, &g->uplink.nat)) {
		log_notes(g, &note); /* what the new spec implies */
	}
	sbuf_free(&note);
	if (uplink_follow(g, &spec, &lg))
		gw_log("%s: uplink %s: ERROR: its filters could not follow the host's addresses "
		       "and stay as they were", g->cfg.ifname, g->cfg.uplink);
}

/* An IPv4 address of the host came or went (any interface), or events were
 * lost: routing knows every address of the host as local, MASQUERADE
 * follows the uplink's primary address, and the uplink's filters the
 * uplink's secondaries (DNAT narrowed by -d) and the other interfaces'
 * addresses (what is foreign). */
static void host_addrs_changed(struct gw *g)
{
	struct uplink_host h;

	if (host_now(g, &h))
		return;
	if (route_set_local(&g->route, h.addr, h.naddr))
		gw_log("%s: out of memory: the host's new addresses are not local to gw's routing",
		       g->cfg.ifname);
	if (g->uplink_on) {
		masq_follow(g, route_dev_addr(h.addr, h.naddr, g->cfg.uplink));
		uplink_refresh(g, &h);
	}
	free((void *)h.addr);
}

static void linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw *g = container_of(w, struct gw, linger_w);
	struct uplink_host h;

	(void)loop, (void)revents;
	if (!g->uplink_on || host_now(g, &h))
		return;
	uplink_refresh(g, &h);
	free((void *)h.addr);
}

static int addr_msg(const struct nlmsghdr *nlh, void *data)
{
	bool *hit = data;
	const struct ifaddrmsg *ifa;

	if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family == AF_INET)
		*hit = true;
	return MNL_CB_OK;
}

static void addr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw *g = container_of(w, struct gw, addr_w);
	char buf[8192] __attribute__((aligned(8)));
	bool hit = false, overrun = false;
	ssize_t n;

	(void)loop, (void)revents;
	for (;;) {
		n = recv(mnl_socket_get_fd(g->addr_nl), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS)
				overrun = true; /* events lost: read the addresses again */
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break;
		}
		(void)mnl_cb_run(buf, (size_t)n, 0, 0, addr_msg, &hit);
	}
	if (hit || overrun)
		host_addrs_changed(g);
}

/* rtnetlink IPv4 address events, watched by the loop.  0 or -errno. */
static int watch_addr(struct gw *g)
{
	int fd;

	g->addr_nl = nl_route_open(RTMGRP_IPV4_IFADDR, SOCK_NONBLOCK);
	if (!g->addr_nl) {
		int ret = -errno;

		gw_log("%s: rtnetlink address events: %s", g->cfg.ifname, strerror(-ret));
		return ret;
	}
	fd = mnl_socket_get_fd(g->addr_nl);
	ev_io_init(&g->addr_w, addr_cb, fd, EV_READ);
	ev_io_start(g->loop, &g->addr_w);
	return 0;
}

static int open_uplink(struct gw *g, const struct bpf_nat_spec *spec)
{
	struct uplink_conf c = { 0 };
	struct sbuf d;
	int ret;

	c.ifname = g->cfg.uplink;
	c.nat = *spec;
	c.host_owned = true;
	ret = uplink_open_conf(&g->uplink, &c);
	if (ret)
		return ret;
	g->uplink_on = true;
	ev_io_init(&g->uplink_w, uplink_cb, g->uplink.pfd, EV_READ);
	ev_io_start(g->loop, &g->uplink_w);
	if (g->uplink.tx.nh.fd >= 0) {
		ev_io_init(&g->uplink_nh_w, uplink_nh_cb, g->uplink.tx.nh.fd, EV_READ);
		ev_io_start(g->loop, &g->uplink_nh_w);
	}
	sbuf_init(&d);
	uplink_nat_describe(spec, &d);
	gw_log("%s: uplink %s filters: %s", g->cfg.ifname, g->cfg.uplink, d.buf ? d.buf : "");
	sbuf_free(&d);
	return 0;
}

/* The uplink opened with the filters rules ask for on the host as it is;
 * *addr is its primary address (0: none yet).  0 or -errno (logged: at
 * start a spec the rules cannot have is refused). */
static int setup_uplink(struct gw *g, const struct rules *rules, uint32_t *addr)
{
	struct uplink_host h;
	struct bpf_nat_spec spec;
	struct sbuf note;
	char err[256];
	int ret;

	ret = host_now(g, &h);
	if (ret)
		return ret;
	/* none yet (DHCP still running): the filters and MASQUERADE follow
	 * when one appears (host_addrs_changed) */
	*addr = route_dev_addr(h.addr, h.naddr, g->cfg.uplink);
	if (!*addr)
		gw_log("%s: Uplink %s has no IPv4 address yet: MASQUERADE drops until one "
		       "appears", g->cfg.ifname, g->cfg.uplink);
	sbuf_init(&note);
	ret = uplink_spec(g, rules, *addr, &h, &spec, NULL, &note, err, sizeof(err));
	free((void *)h.addr);
	if (ret) {
		gw_log("%s: uplink %s: %s", g->cfg.ifname, g->cfg.uplink, err);
	} else {
		log_notes(g, &note);
		ret = open_uplink(g, &spec);
	}
	sbuf_free(&note);
	return ret;
}

int dp_setup(struct gw *g)
{
	struct frag_config fc;
	struct nf_config nfc = { 0 };
	struct rules *rules;
	uint32_t addr = 0;
	char text[INET_ADDRSTRLEN], per_peer[32];
	int ret;

	if (!g->cfg.rules_path && !g->cfg.uplink[0]) {
		/* plain: only the host's addresses, for peers' packets that
		 * claim one (without the watch, only gw's Address: logged) */
		ret = route_init(&g->route, &g->cfg, 0, 1500);
		if (!ret && !watch_addr(g))
			host_addrs_changed(g);
		return ret;
	}
	ret = load_rules(g, &rules, NULL);
	if (ret)
		return ret;
	if (g->cfg.uplink[0] && (ret = setup_uplink(g, rules, &addr))) {
		rules_free(rules);
		return ret;
	}
	ret = route_init(&g->route, &g->cfg, addr, (uint16_t)(g->uplink_on ? g->uplink.mtu : 1500));
	if (ret) {
		rules_free(rules);
		return ret;
	}
	ct_config_default(&nfc.ct, g->cfg.ct_max);
	/* every owner id a peer may get, also peers added at runtime */
	nfc.ct.owners = UINT16_MAX;
	nfc.ct.owner_max = g->cfg.peer_ct_max;
	nfc.ct.hash_seed = randombytes_random();
	nfc.route = route_lookup;
	nfc.ifaddr = route_ifaddr;
	nfc.route_arg = &g->route;
	nfc.uplink_addr = addr;
	nfc.nat_port_min = g->cfg.nat_port_min;
	nfc.nat_port_max = g->cfg.nat_port_max;
	nfc.log = nf_log_line;
	nfc.local_gets = dp_host_gets;
	nfc.local_arg = &g->cfg;
	snprintf(nfc.tunnel, sizeof(nfc.tunnel), "%s", g->cfg.ifname);
	snprintf(nfc.uplink, sizeof(nfc.uplink), "%s", g->cfg.uplink);
	frag_config_default(&fc);
	randombytes_buf(&fc.hash_seed, sizeof(fc.hash_seed));
	g->fragbuf = malloc(FRAG_MAX_DATAGRAM);
	g->fragoutbuf = malloc(FRAG_MAX_DATAGRAM);
	if (!g->fragbuf || !g->fragoutbuf || frag_create(&g->frag, &fc) || nf_create(&g->nf, &nfc, rules)) {
		rules_free(rules);
		gw_log("%s: out of memory", g->cfg.ifname);
		return -ENOMEM;
	}
	g->uplink_addr = addr;
	rules_changed(g);
	ev_timer_init(&g->linger_w, linger_cb, GW_LINGER_CHECK, GW_LINGER_CHECK);
	ret = watch_addr(g);
	if (ret)
		return ret;
	/* the host's addresses, and a change between the first read and the
	 * watch */
	host_addrs_changed(g);
	addr_text(g->uplink_addr, text, sizeof(text));
	if (g->cfg.peer_ct_max)
		snprintf(per_peer, sizeof(per_peer), "%u per peer", (unsigned)g->cfg.peer_ct_max);
	else
		snprintf(per_peer, sizeof(per_peer), "no per-peer limit");
	gw_log("%s: netfilter on%s%s, uplink %s%s%s, NatPorts %u-%u, conntrack max %u (%s)",
	       g->cfg.ifname, g->cfg.rules_path ? ", rules " : "",
	       g->cfg.rules_path ? g->cfg.rules_path : "", g->uplink_on ? g->cfg.uplink : "none",
	       g->uplink_on ? " " : "", g->uplink_on ? text : "", g->cfg.nat_port_min,
	       g->cfg.nat_port_max, (unsigned)g->cfg.ct_max, per_peer);
	if (!g->cfg.ipv6_pass)
		gw_log("%s: IPv6 between peers and the host is dropped (IPv6 = drop: gw has no "
		       "IPv6 rules yet; IPv6 = pass hands it to the host as it is)", g->cfg.ifname);
	return 0;
}

void dp_teardown(struct gw *g)
{
	if (g->addr_nl) {
		if (g->loop)
			ev_io_stop(g->loop, &g->addr_w);
		mnl_socket_close(g->addr_nl);
		g->addr_nl = NULL;
	}
	if (g->uplink_on) {
		if (g->loop) {
			ev_io_stop(g->loop, &g->uplink_w);
			if (g->uplink.tx.nh.fd >= 0)
				ev_io_stop(g->loop, &g->uplink_nh_w);
			ev_timer_stop(g->loop, &g->linger_w);
		}
		uplink_close(&g->uplink);
		g->uplink_on = false;
	}
	sockdiag_close(&g->sd);
	if (g->nf)
		nf_destroy(g->nf);
	if (g->frag)
		frag_destroy(g->frag);
	route_free(&g->route);
	free(g->fragbuf);
	free(g->fragoutbuf);
	g->fragoutbuf = NULL;
	g->nf = NULL;
	g->frag = NULL;
	g->fragbuf = NULL;
}

/* --- control ------------------------------------------------------------ */

/* The uplink's filters for new rules r, before r is swapped in — computed
 * as at start (with no address too: the caps and foreign SNAT with
 * forwarding on are checked all the same) and applied.  0, or -errno with
 * the reason in err: r is refused, the old filters stay. */
static int uplink_take(struct gw *g, const struct rules *r, char *err, size_t errlen)
{
	struct uplink_linger lg = { 0 };
	struct bpf_nat_spec spec;
	struct uplink_host h;
	struct sbuf note;
	int ret;

	if (!g->uplink_on)
		return 0;
	ret = host_now(g, &h);
	if (ret) {
		snprintf(err, errlen, "reading the host's addresses: %s", strerror(-ret));
		return ret;
	}
	sbuf_init(&note);
	ret = uplink_spec(g, r, g->uplink_addr, &h, &spec, &lg, &note, err, errlen);
	free((void *)h.addr);
	if (!ret) {
		ret = uplink_follow(g, &spec, &lg);
		if (ret)
			snprintf(err, errlen, "the uplink's filters cannot take these rules: %s "
				 "(gw's log says which)", strerror(-ret));
		else
			log_notes(g, &note);
	}
	sbuf_free(&note);
	return ret;
}

int dp_reload(struct gw *g)
{
	struct rules *r;
	char err[256];

	if (!g->nf || !g->cfg.rules_path) {
		gw_log("%s: SIGHUP: no Rules file to reload", g->cfg.ifname);
		return -ENOENT;
	}
	if (load_rules(g, &r, nf_rules(g->nf))) {
		gw_log("%s: SIGHUP: the old rules stay", g->cfg.ifname);
		return -EINVAL;
	}
	if (uplink_take(g, r, err, sizeof(err))) {
		gw_log("%s: SIGHUP: %s: %s; the old rules stay", g->cfg.ifname, g->cfg.rules_path,
		       err);
		rules_free(r);
		return -EINVAL;
	}
	rules_free(nf_set_rules(g->nf, r));
	rules_changed(g);
	gw_log("%s: SIGHUP: rules reloaded from %s", g->cfg.ifname, g->cfg.rules_path);
	return 0;
}

int dp_restore(struct gw *g, const char *name, const char *text, size_t len, bool counters,
	       char *err, size_t errlen)
{
	struct rules *r;
	char why[256];
	int ret;

	if (!g->nf) {
		snprintf(err, errlen, "%s has no netfilter (no Rules and no Uplink)", g->cfg.ifname);
		return -ENOENT;
	}
	ret = rulesfile_parse(&r, name, text, len, nf_rules(g->nf), counters, err, errlen);
	if (ret)
		return ret;
	ret = uplink_take(g, r, why, sizeof(why));
	if (ret) {
		snprintf(err, errlen, "%s: %s", name, why);
		rules_free(r);
		return ret;
	}
	rules_free(nf_set_rules(g->nf, r));
	rules_changed(g);
	gw_log("%s: rules restored from %s", g->cfg.ifname, name);
	return 0;
}

/* The live rules, or an empty ruleset (ACCEPT policies) when there are none;
 * *tmp is what the caller frees. */
static const struct rules *live_rules(struct gw *g, struct rules **tmp)
{
	struct rules_error e;

	*tmp = NULL;
	if (nf_rules(g->nf))
		return nf_rules(g->nf);
	if (rules_parse(tmp, "", 0, NULL, &e))
		return NULL;
	return *tmp;
}

/* The live rules' text: rules_list of table/chain, or with save
 * rules_save with counters. */
static int live_text(struct gw *g, bool save, unsigned table, const char *chain,
		     unsigned flags, struct sbuf *out)
{
	struct rules *tmp;
	const struct rules *r;

	if (!g->nf)
		return -ENOENT;
	r = live_rules(g, &tmp);
	if (!r)
		return -ENOMEM;
	if (save)
		rules_save(r, true, out);
	else
		rules_list(r, (enum nf_table)table, chain, flags, out);
	rules_free(tmp);
	return 0;
}

int dp_rules_list(struct gw *g, unsigned table, const char *chain, unsigned flags,
		  struct sbuf *out)
{
	return live_text(g, false, table, chain, flags, out);
}

int dp_rules_save(struct gw *g, struct sbuf *out)
{
	return live_text(g, true, 0, NULL, 0, out);
}

struct ct_list_arg {
	struct sbuf *out;
	const struct ct_table *ct;
	uint64_t now;
	unsigned flags, n;
};

static int ct_list_one(struct ct_entry *e, void *arg)
{
	struct ct_list_arg *a = arg;

	ct_format_ext(a->ct, e, a->now, a->flags, a->out);
	sbuf_add(a->out, "\n");
	a->n++;
	return 0;
}

int dp_ct_list(struct gw *g, unsigned flags, struct sbuf *out, unsigned *count)
{
	struct ct_list_arg a = { out, NULL, gw_mono(), flags, 0 };

	if (!g->nf)
		return -ENOENT;
	a.ct = nf_ct(g->nf);
	ct_foreach(nf_ct(g->nf), ct_list_one, &a);
	*count = a.n;
	return 0;
}

int dp_ct_count(struct gw *g, unsigned *count)
{
	struct ct_stats st;

	if (!g->nf)
		return -ENOENT;
	ct_get_stats(nf_ct(g->nf), &st);
	*count = st.count;
	return 0;
}

int dp_ct_flush(struct gw *g, unsigned *flushed)
{
	int ret = dp_ct_count(g, flushed);

	if (ret)
		return ret;
	ct_flush(nf_ct(g->nf));
	gw_log("%s: conntrack table flushed (%u entries)", g->cfg.ifname, *flushed);
	if (g->linger.ports || g->linger.addrs)
		linger_cb(g->loop, &g->linger_w, 0); /* what they kept goes now */
	return 0;
}

/* --- stats ---------------------------------------------------------------- */

static const char *const uplink_drop_names[UPLINK_DROP__MAX] = {
	[UPLINK_DROP_TRUNC] = "trunc", [UPLINK_DROP_NOT_IP] = "not_ip",
	[UPLINK_DROP_BAD_IP] = "bad_ip", [UPLINK_DROP_GSO] = "gso",
	[UPLINK_DROP_CSUM] = "csum",   [UPLINK_DROP_ARP] = "arp",
};

#define C(n, h) { n, METRIC_COUNTER, h, NULL }
#define CL(n, h, l) { n, METRIC_COUNTER, h, l }
#define G(n, h) { n, METRIC_GAUGE, h, NULL }
static const struct metric_def
	m_path_pkts = CL("path_packets", "Packets forwarded, by path (from_to).", "path"),
	m_path_bytes = CL("path_bytes", "Bytes of IP packets forwarded, by path (from_to).", "path"),
	m_nf_drops = CL("netfilter_drops", "Packets dropped by the rules, conntrack or NAT, by reason.",
			"reason"),
	m_dp_drops = CL("dataplane_drops", "Packets the data path could not deliver, by reason.",
			"reason"),
	m_ct_count = G("conntrack_entries", "Conntrack entries in use."),
	m_ct_max = G("conntrack_max", "Conntrack entries at most (ConntrackMax)."),
	m_ct_new = C("conntrack_new", "Conntrack entries created (confirmed)."),
	m_ct_invalid = C("conntrack_invalid", "Packets conntrack found INVALID."),
	m_ct_early = C("conntrack_early_drop", "Conntrack entries dropped early for room."),
	m_ct_evicted = C("conntrack_nat_evicted",
			 "Closed TCP entries whose NAT tuple a new connection took."),
	m_ct_peer_limit = C("conntrack_peer_limit",
			    "New conntrack entries refused by PeerConntrackMax."),
	m_owner_lookups = C("owner_lookups", "Socket owner lookups for -m owner."),
	m_owner_walks = C("owner_proc_walks", "Walks of /proc for -m owner."),
	m_frag_ok = C("frag_reassembled", "Packets reassembled from fragments."),
	m_frag_fails = C("frag_fails", "Reassemblies that failed."),
	m_frag_timeouts = C("frag_timeouts", "Reassemblies that timed out."),
	m_frag_fragmented = C("frag_fragmented", "Packets fragmented on the way out."),
	m_frag_created = C("frag_created", "Fragments created."),
	m_up_frames = C("uplink_rx_frames", "Frames read off the uplink's packet socket."),
	m_up_copied = C("uplink_rx_copied", "Uplink frames too large for a ring slot, read from the queue."),
	m_up_rx = C("uplink_rx_packets", "IPv4 packets taken off the uplink."),
	m_up_gso = C("uplink_rx_gso", "GSO super-packets taken off the uplink."),
	m_up_segs = C("uplink_rx_segments", "Segments cut from the uplink's GSO super-packets."),
	m_up_csum = C("uplink_rx_csum", "Uplink packets whose checksum gw completed."),
	m_up_tx = C("uplink_tx_packets", "Packets sent out of the uplink."),
	m_up_tx_packet = C("uplink_tx_packet",
			   "Of them: Ethernet frames on the packet socket, to a known neighbour."),
	m_up_tx_raw = C("uplink_tx_raw", "Of them: packets on the raw socket (the kernel routes)."),
	m_up_tx_no_neigh = C("uplink_tx_no_neigh",
			     "Packets queued on the raw socket for want of a neighbour entry."),
	m_up_tx_confirm = C("uplink_tx_confirm",
			    "Packets queued on the raw socket for the kernel to confirm a stale neighbour."),
	m_up_tx_gso = C("uplink_tx_gso", "TCP super-packets sent on the packet socket (GSO frames)."),
	m_up_tx_gso_segs = C("uplink_tx_gso_segments", "The segments they carried."),
	m_up_neigh_resyncs = C("uplink_neigh_resyncs",
			       "Neighbour and route tables dumped again after lost events."),
	m_up_arp = C("uplink_arp_replies", "ARP replies sent for a NAT address."),
	m_up_announced = C("uplink_arp_announced", "Gratuitous ARP announcements sent."),
	m_up_ring_pkts = C("uplink_ring_packets", "Frames the uplink's socket filter passed to the ring."),
	m_up_ring_drops = C("uplink_ring_drops", "Frames lost because the uplink's ring was full."),
	m_up_drops = CL("uplink_drops", "Uplink frames dropped, by reason.", "reason");

void dp_stats(struct gw *g, struct metrics *m)
{
	struct ct_stats cs;
	struct frag_stats fs;
	struct uplink_stats *us = &g->uplink.st;
	struct uplink_tx_stats *ts = &g->uplink.tx.st;

	if (!g->nf) {
		/* plain: what it drops of peers' packets */
		metric(m, &m_dp_drops, "martian", g->dp_drops[GW_DROP_MARTIAN], "dp_drop_martian");
		return;
	}
	for (int i = 0; i < GW_PATH__MAX; i++) {
		metric(m, &m_path_pkts, gw_path_name(i), g->path_pkts[i], "path_%s_packets",
		       gw_path_name(i));
		metric(m, &m_path_bytes, gw_path_name(i), g->path_bytes[i], "path_%s_bytes",
		       gw_path_name(i));
	}
	for (int i = 1; i < NF_DROP_MAX; i++)
		metric(m, &m_nf_drops, nf_drop_name((enum nf_drop)i), g->nf_drops[i], "nf_drop_%s",
		       nf_drop_name((enum nf_drop)i));
	for (int i = 0; i < GW_DROP__MAX; i++)
		metric(m, &m_dp_drops, gw_drop_name(i), g->dp_drops[i], "dp_drop_%s", gw_drop_name(i));
	ct_get_stats(nf_ct(g->nf), &cs);
	metric(m, &m_ct_count, NULL, cs.count, "conntrack_count");
	metric(m, &m_ct_max, NULL, cs.max, "conntrack_max");
	metric(m, &m_ct_new, NULL, cs.new_, "conntrack_new");
	metric(m, &m_ct_invalid, NULL, cs.invalid, "conntrack_invalid");
	metric(m, &m_ct_early, NULL, cs.early_drop, "conntrack_early_drop");
	metric(m, &m_ct_evicted, NULL, cs.nat_evicted, "conntrack_nat_evicted");
	metric(m, &m_ct_peer_limit, NULL, cs.owner_limit, "conntrack_peer_limit");
	frag_get_stats(g->frag, &fs);
	metric(m, &m_owner_lookups, NULL, g->sd.lookups, "owner_lookups");
	metric(m, &m_owner_walks, NULL, g->sd.proc_walks, "owner_proc_walks");
	metric(m, &m_frag_ok, NULL, fs.oks, "frag_reassembled");
	metric(m, &m_frag_fails, NULL, fs.fails, "frag_fails");
	metric(m, &m_frag_timeouts, NULL, fs.timeouts, "frag_timeouts");
	metric(m, &m_frag_fragmented, NULL, g->frag_oks, "frag_fragmented");
	metric(m, &m_frag_created, NULL, g->frag_created, "frag_created");
	if (!g->uplink_on)
		return;
	uplink_ring_stats(&g->uplink);
	metric(m, &m_up_frames, NULL, us->rx_frames, "uplink_rx_frames");
	metric(m, &m_up_copied, NULL, us->rx_copied, "uplink_rx_copied");
	metric(m, &m_up_rx, NULL, us->rx_pkts, "uplink_rx_packets");
	metric(m, &m_up_gso, NULL, us->rx_gso, "uplink_rx_gso");
	metric(m, &m_up_segs, NULL, us->rx_segs, "uplink_rx_segments");
	metric(m, &m_up_csum, NULL, us->rx_csum, "uplink_rx_csum");
	metric(m, &m_up_tx, NULL, ts->packet + ts->raw, "uplink_tx_packets");
	metric(m, &m_up_tx_packet, NULL, ts->packet, "uplink_tx_packet");
	metric(m, &m_up_tx_raw, NULL, ts->raw, "uplink_tx_raw");
	metric(m, &m_up_tx_no_neigh, NULL, ts->no_neigh, "uplink_tx_no_neigh");
	metric(m, &m_up_tx_confirm, NULL, ts->confirm, "uplink_tx_confirm");
	metric(m, &m_up_tx_gso, NULL, ts->gso, "uplink_tx_gso");
	metric(m, &m_up_tx_gso_segs, NULL, ts->gso_segs, "uplink_tx_gso_segments");
	metric(m, &m_up_neigh_resyncs, NULL, g->uplink.tx.nh.resyncs, "uplink_neigh_resyncs");
	metric(m, &m_up_arp, NULL, us->arp_replies, "uplink_arp_replies");
	metric(m, &m_up_announced, NULL, us->arp_announced, "uplink_arp_announced");
	metric(m, &m_up_ring_pkts, NULL, us->ring_packets, "uplink_ring_packets");
	metric(m, &m_up_ring_drops, NULL, us->ring_drops, "uplink_ring_drops");
	for (int i = 0; i < UPLINK_DROP__MAX; i++)
		metric(m, &m_up_drops, uplink_drop_names[i], us->drop[i], "uplink_drop_%s",
		       uplink_drop_names[i]);
	metric(m, &m_up_drops, "tx", ts->drop, "uplink_drop_tx");
}

int dp_peer_ct(struct gw *g, uint16_t owner, struct ct_owner_stats *os)
{
	if (!g->nf)
		return -ENOENT;
	ct_get_owner_stats(nf_ct(g->nf), owner, os);
	return 0;
}
#undef C
#undef CL
#undef G
