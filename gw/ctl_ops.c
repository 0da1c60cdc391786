/* SPDX-License-Identifier: MIT */
/* The control socket's requests: see ctl_ops.h. */
#include "gw/ctl_ops.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "gw/follow.h"
#include "gw/gw.h"
#include "gw/log.h"
#include "gw/metrics.h"
#include "gw/peers.h"
#include "nat/rules.h"

/* --- netfilter's live state ----------------------------------------------- */

/* The live rules of a family, or an empty ruleset (ACCEPT policies) when
 * there are none; *tmp is what the caller frees. */
static const struct rules *live_rules(struct gw *g, uint8_t family, struct rules **tmp)
{
	const struct rules_parse_opts o = { .family = family };
	const struct rules *r = family == NF_V6 ? nf_rules6(g->nf) : nf_rules(g->nf);
	struct rules_error e;

	*tmp = NULL;
	if (r)
		return r;
	if (rules_parse_with(tmp, "", 0, NULL, &o, &e))
		return NULL;
	return *tmp;
}

/* -EPROTONOSUPPORT: IPv6 rules asked of a gateway without Rules6. */
static int live_family(const struct gw *g, uint8_t family)
{
	if (!g->nf)
		return -ENOENT;
	return family == NF_V6 && !g->ipv6_rules ? -EPROTONOSUPPORT : 0;
}

/* The live rules' text: rules_list of table/chain, or with save
 * rules_save with counters. */
static int live_text(struct gw *g, uint8_t family, bool save, unsigned table, const char *chain,
		     unsigned flags, struct sbuf *out)
{
	struct rules *tmp;
	const struct rules *r;
	int ret = live_family(g, family);

	if (ret)
		return ret;
	r = live_rules(g, family, &tmp);
	if (!r)
		return -ENOMEM;
	if (save)
		rules_save(r, true, out);
	else
		rules_list(r, (enum nf_table)table, chain, flags, out);
	rules_free(tmp);
	return 0;
}

static int dp_rules_list(struct gw *g, uint8_t family, unsigned table, const char *chain,
			 unsigned flags, struct sbuf *out)
{
	return live_text(g, family, false, table, chain, flags, out);
}

static int dp_rules_save(struct gw *g, uint8_t family, struct sbuf *out)
{
	return live_text(g, family, true, 0, NULL, 0, out);
}

/* The family a rules request is for: rules6-* asks for IPv6. */
static uint8_t req_family(const char *req)
{
	return !strncmp(req, "rules6-", 7) ? NF_V6 : NF_V4;
}

struct ct_list_arg {
	struct sbuf *out;
	const struct ct_table *ct;
	uint64_t now;
	unsigned flags, n;
	uint8_t family;  /* 0: both */
};

static int ct_list_one(struct ct_entry *e, void *arg)
{
	struct ct_list_arg *a = arg;

	if (a->family && ct_entry_tuple(e, CT_DIR_ORIGINAL)->family != a->family)
		return 0;
	ct_format_ext(a->ct, e, a->now, a->flags, a->out);
	sbuf_add(a->out, "\n");
	a->n++;
	return 0;
}

static int dp_ct_list(struct gw *g, unsigned flags, uint8_t family, struct sbuf *out,
		      unsigned *count)
{
	struct ct_list_arg a = { out, NULL, gw_mono(), flags, 0, family };

	if (!g->nf)
		return -ENOENT;
	a.ct = nf_ct(g->nf);
	ct_foreach(nf_ct(g->nf), ct_list_one, &a);
	*count = a.n;
	return 0;
}

static int dp_ct_flush(struct gw *g, unsigned *flushed)
{
	int ret = dp_ct_count(g, flushed);

	if (ret)
		return ret;
	ct_flush(nf_ct(g->nf));
	gw_notice("%s: conntrack table flushed (%u entries)", g->cfg.ifname, *flushed);
	if (g->linger.ports || g->linger.addrs)
		follow_linger_cb(g->loop, &g->linger_w, 0); /* what they kept goes now */
	return 0;
}


/* --- show, stats, metrics ------------------------------------------------- */

static void show_aip(void *ctx, int family, const uint8_t *addr, uint8_t cidr, void *peer)
{
	char text[INET6_ADDRSTRLEN];

	(void)peer;
	inet_ntop(family, addr, text, sizeof(text));
	metrics_text(ctx, "allowed_ip", "%s/%u", text, cidr);
}

#define C(n, h) { n, METRIC_COUNTER, h, NULL }
#define G(n, h) { n, METRIC_GAUGE, h, NULL }
static const struct metric_def
	m_peers = G("peers", "Peers configured."),
	m_listen_port = G("listen_port", "The UDP port gw listens on."),
	m_peer_rx = C("peer_receive_bytes", "Bytes of datagrams received from a peer (wg show)."),
	m_peer_tx = C("peer_transmit_bytes", "Bytes of datagrams sent to a peer (wg show)."),
	m_peer_hs = G("peer_latest_handshake_seconds",
		      "Unix time of a peer's latest handshake, 0: never."),
	m_peer_keepalive = G("peer_persistent_keepalive_seconds",
			     "A peer's persistent keepalive interval, 0: off."),
	m_peer_hs_sent = C("peer_handshakes_sent", "Handshake initiations sent to a peer."),
	m_peer_hs_done = C("peer_handshakes_completed", "Handshakes completed with a peer."),
	m_peer_ct = G("peer_conntrack_entries", "Conntrack entries a peer's packets created."),
	m_peer_drops = { "peer_drops", METRIC_COUNTER,
			 "Packets dropped that a peer accounts for, by reason.", "reason" },
	m_rx_packets = C("wg_rx_packets", "Data messages received with a payload."),
	m_tx_packets = C("wg_tx_packets", "Data messages sent with a payload."),
	m_hs_received = C("wg_handshakes_received", "Handshake initiations answered."),
	m_cookies = C("wg_cookies_received", "Cookie replies received."),
	m_under_load = G("wg_under_load", "1 while gw answers handshakes with cookies."),
	m_workers = G("workers", "Data-path worker threads (Workers)."),
	m_udp_waits = C("udp_tx_waits", "Times the UDP send queue was full."),
	m_udp_dropped = C("udp_tx_dropped", "Datagrams dropped at a full UDP send queue."),
	m_tun_offload = G("tun_offload", "1 when the TUN device has offloads (vnet headers)."),
	m_tun_rx_gso = C("tun_rx_gso", "GSO super-packets read from the TUN device."),
	m_tun_rx_segs = C("tun_rx_segments", "Segments cut from the TUN device's super-packets."),
	m_tun_rx_csum = C("tun_rx_csum", "TUN packets whose checksum gw completed."),
	m_tun_rx_bad = C("tun_rx_bad", "TUN packets with a bad vnet header."),
	m_tun_tx_gso = C("tun_tx_gso", "GSO super-packets written to the TUN device."),
	m_tun_tx_segs = C("tun_tx_segments", "Segments coalesced into them."),
	m_wg_drops = { "wg_drops", METRIC_COUNTER,
		       "Datagrams and packets dropped by the WireGuard layer, by reason.", "reason" };
#undef C
#undef G

/* show: the interface, then each peer (gw/ctl.h); with Prometheus, the
 * per-peer metrics. */
static void ctl_show(struct gw *g, struct metrics *m)
{
	char b64[KEY_B64_LEN + 1], ep[64], addr[INET6_ADDRSTRLEN];
	struct ct_owner_stats os;

	key_to_base64(b64, g->dev.keys.pub);
	metrics_text(m, "interface", "%s", g->cfg.ifname);
	metrics_text(m, "public_key", "%s", b64);
	metric(m, &m_listen_port, NULL, g->port, "listen_port");
	for (size_t i = 0; i < g->cfg.n_addresses; i++) {
		const struct cidr *c = &g->cfg.addresses[i];

		inet_ntop(c->family, c->addr, addr, sizeof(addr));
		metrics_text(m, "address", "%s/%u", addr, c->prefix);
	}
	metric(m, &m_peers, NULL, g->dev.npeers, NULL);
	for (size_t i = 0; i < g->dev.npeers; i++) {
		struct wg_peer *p = g->dev.peers[i];

		key_to_base64(b64, p->hs.remote_static);
		metrics_text(m, "peer", "%s", b64);
		metrics_peer(m, b64);
		if (p->endpoint.len) {
			udp_endpoint_format(&p->endpoint, ep, sizeof(ep));
			metrics_text(m, "endpoint", "%s", ep);
		}
		allowedips_walk(&g->dev.aips, p, show_aip, m);
		metric(m, &m_peer_hs, NULL, p->last_handshake_wall / NSEC_PER_SEC, "latest_handshake");
		metric(m, &m_peer_rx, NULL, p->rx_bytes, "rx_bytes");
		metric(m, &m_peer_tx, NULL, p->tx_bytes, "tx_bytes");
		metric(m, &m_peer_keepalive, NULL, p->persistent_keepalive, "persistent_keepalive");
		metric(m, &m_peer_hs_sent, NULL, p->handshakes_sent, "handshakes_sent");
		metric(m, &m_peer_hs_done, NULL, p->handshakes_completed, "handshakes_completed");
		if (!dp_peer_ct(g, (uint16_t)(uintptr_t)p->user, &os)) {
			metric(m, &m_peer_ct, NULL, os.count, "conntrack_entries");
			metric(m, &m_peer_drops, "conntrack-limit", os.limit, "drop_conntrack-limit");
		}
		for (int d = 0; d < WG_DROP__COUNT; d++)
			if (wg_drop_is_peers((enum wg_drop)d))
				metric(m, &m_peer_drops, wg_drop_name((enum wg_drop)d), p->drops[d],
				       "drop_%s", wg_drop_name((enum wg_drop)d));
	}
	metrics_peer(m, NULL);
}

static void ctl_stats(struct gw *g, struct metrics *m)
{
	metric(m, &m_rx_packets, NULL, g->dev.rx_packets, "rx_packets");
	metric(m, &m_tx_packets, NULL, g->dev.tx_packets, "tx_packets");
	metric(m, &m_hs_received, NULL, g->dev.handshakes_received, "handshakes_received");
	metric(m, &m_cookies, NULL, g->dev.cookies_received, "cookies_received");
	metric(m, &m_under_load, NULL, gw_mono() < g->under_load_until, "under_load");
	struct gw_io t = { 0 };

	/* the workers' counters, summed (tx_* written outside the lock) */
	for (unsigned i = 0; i <= g->nio; i++) {
		const struct gw_io *io = i < g->nio ? &g->io[i] : &g->ctl_io;

		if (io == &g->ctl_io && !g->threaded)
			break;
		t.tx_waits += __atomic_load_n(&io->tx_waits, __ATOMIC_RELAXED);
		t.tx_dropped += __atomic_load_n(&io->tx_dropped, __ATOMIC_RELAXED);
		t.tun_rx_gso += io->tun_rx_gso;
		t.tun_rx_segments += io->tun_rx_segments;
		t.tun_rx_csum += io->tun_rx_csum;
		t.tun_rx_bad += io->tun_rx_bad;
		t.tun_tx_gso += io->tun_tx_gso;
		t.tun_tx_segments += io->tun_tx_segments;
	}
	metric(m, &m_workers, NULL, g->nio, "workers");
	metric(m, &m_udp_waits, NULL, t.tx_waits, "udp_tx_waits");
	metric(m, &m_udp_dropped, NULL, t.tx_dropped, "udp_tx_dropped");
	metric(m, &m_tun_offload, NULL, (uint64_t)g->tun_vnet, "tun_offload");
	metric(m, &m_tun_rx_gso, NULL, t.tun_rx_gso, "tun_rx_gso");
	metric(m, &m_tun_rx_segs, NULL, t.tun_rx_segments, "tun_rx_segments");
	metric(m, &m_tun_rx_csum, NULL, t.tun_rx_csum, "tun_rx_csum");
	metric(m, &m_tun_rx_bad, NULL, t.tun_rx_bad, "tun_rx_bad");
	metric(m, &m_tun_tx_gso, NULL, t.tun_tx_gso, "tun_tx_gso");
	metric(m, &m_tun_tx_segs, NULL, t.tun_tx_segments, "tun_tx_segments");
	for (int i = 0; i < WG_DROP__COUNT; i++)
		metric(m, &m_wg_drops, wg_drop_name((enum wg_drop)i), g->dev.drops[i], "drop_%s",
		       wg_drop_name((enum wg_drop)i));
	if (!m->prom)
		priv_stats(m->out);
	dp_stats(g, m);
}

/* "show", "stats" (key=value) or "metrics" (both, Prometheus). */
static void ctl_metrics(struct gw *g, const char *req, struct sbuf *out)
{
	struct metrics m;
	bool prom = !strcmp(req, "metrics");

	metrics_init(&m, out, prom, g->cfg.ifname);
	if (prom || !strcmp(req, "show"))
		ctl_show(g, &m);
	if (prom || !strcmp(req, "stats"))
		ctl_stats(g, &m);
	metrics_finish(&m);
}

static void ctl_error(struct sbuf *s, int err)
{
	if (err == -ENOENT)
		sbuf_add(s, "error=no netfilter on this gateway (its config has no Rules and no Uplink)\n");
	else if (err == -EPROTONOSUPPORT)
		sbuf_add(s, "error=no IPv6 rules on this gateway (its config has no Rules6)\n");
	else
		sbuf_printf(s, "error=%s\n", strerror(-err));
}

/* rules-list TABLE FLAGS [CHAIN] (rules6-list: the IPv6 rules) */
static void ctl_rules_list(struct gw *g, uint8_t family, const char *args, struct sbuf *s)
{
	char table[32], chain[64];
	unsigned flags, t;
	int n = sscanf(args, "%31s %u %63s", table, &flags, chain), ret;

	if (n < 2) {
		sbuf_add(s, "error=bad rules-list request\n");
		return;
	}
	for (t = 0; t < NF_TABLE_MAX; t++)
		if (!strcmp(rules_table_name((enum nf_table)t), table))
			break;
	if (t == NF_TABLE_MAX) {
		sbuf_printf(s, "error=can't initialize iptables table `%s': Table does not exist\n",
			    table);
		return;
	}
	ret = dp_rules_list(g, family, t, n == 3 ? chain : NULL, flags, s);
	if (ret)
		ctl_error(s, ret);
	else if (!s->len)
		sbuf_add(s, "error=No chain/target/match by that name.\n");
}

/* "rules-restore [-c ]NAME": -c as iptables-restore -c (rules6-restore:
 * the IPv6 rules). */
static void ctl_restore(struct gw *g, uint8_t family, const char *arg, const char *body,
			size_t blen, struct sbuf *s)
{
	bool counters = !strncmp(arg, "-c ", 3);
	char err[512];
	int ret = live_family(g, family);

	if (!ret)
		ret = dp_restore(g, family, arg + (counters ? 3 : 0), body, blen, counters, err,
				 sizeof(err));
	if (ret == -ENOENT || ret == -EPROTONOSUPPORT)
		ctl_error(s, ret);
	else if (ret)
		sbuf_printf(s, "error=%s\n", err);
	else
		sbuf_add(s, "ok=1\n");
}

/* --- the requests --------------------------------------------------------- */

static void op_metrics(struct gw *g, const char *req, const char *args, const char *body,
		       size_t blen, struct sbuf *out)
{
	(void)args, (void)body, (void)blen;
	ctl_metrics(g, req, out);
}

static void op_rules_list(struct gw *g, const char *req, const char *args, const char *body,
			  size_t blen, struct sbuf *out)
{
	(void)body, (void)blen;
	ctl_rules_list(g, req_family(req), args, out);
}

static void op_rules_save(struct gw *g, const char *req, const char *args, const char *body,
			  size_t blen, struct sbuf *out)
{
	int ret = dp_rules_save(g, req_family(req), out);

	(void)args, (void)body, (void)blen;
	if (ret)
		ctl_error(out, ret);
}

static void op_restore(struct gw *g, const char *req, const char *args, const char *body,
		       size_t blen, struct sbuf *out)
{
	ctl_restore(g, req_family(req), args, body, blen, out);
}

static void op_trace_info(struct gw *g, const char *req, const char *args, const char *body,
			  size_t blen, struct sbuf *out)
{
	char path[PATH_MAX], ua[INET_ADDRSTRLEN];
	struct in_addr a = { htonl(g->route.uplink_addr) };

	(void)req, (void)args, (void)body, (void)blen;
	if (!g->nf) {
		ctl_error(out, -ENOENT);
		return;
	}
	inet_ntop(AF_INET, &a, ua, sizeof(ua));
	sbuf_printf(out, "config=%s\nuplink_addr=%s\n",
		    realpath(g->cfg.path, path) ? path : g->cfg.path, ua);
	if (!nf_addr_is_zero(&g->uplink_addr6)) {
		char ua6[INET6_ADDRSTRLEN];

		sbuf_printf(out, "uplink_addr6=%s\n",
			    inet_ntop(AF_INET6, g->uplink_addr6.b, ua6, sizeof(ua6)));
	}
	peers_trace_info(g, out);
}

static void op_conf(struct gw *g, const char *req, const char *args, const char *body,
		    size_t blen, struct sbuf *out)
{
	(void)req, (void)args, (void)body, (void)blen;
	peers_conf(g, out);
}

/* ct-list [extended] [ipv4|ipv6] */
static void op_ct_list(struct gw *g, const char *req, const char *args, const char *body,
		       size_t blen, struct sbuf *out)
{
	bool ext = !strncmp(args, "extended", 8) && (!args[8] || args[8] == ' ');
	const char *fam = ext ? args + 8 + !!args[8] : args;
	uint8_t family = !strcmp(fam, "ipv4") ? NF_V4 : !strcmp(fam, "ipv6") ? NF_V6 : 0;
	unsigned n;
	int ret;

	(void)req, (void)body, (void)blen;
	if (*fam && !family) {
		sbuf_add(out, "error=bad ct-list request\n");
		return;
	}
	if ((ret = dp_ct_list(g, ext ? CT_FMT_L3 | CT_FMT_ACCT : 0, family, out, &n)))
		ctl_error(out, ret);
	else
		sbuf_printf(out, "count=%u\n", n);
}

static void op_ct_count(struct gw *g, const char *req, const char *args, const char *body,
			size_t blen, struct sbuf *out)
{
	unsigned n;
	int ret = dp_ct_count(g, &n);

	(void)req, (void)args, (void)body, (void)blen;
	if (ret)
		ctl_error(out, ret);
	else
		sbuf_printf(out, "count=%u\n", n);
}

static void op_ct_flush(struct gw *g, const char *req, const char *args, const char *body,
			size_t blen, struct sbuf *out)
{
	unsigned n;
	int ret = dp_ct_flush(g, &n);

	(void)req, (void)args, (void)body, (void)blen;
	if (ret)
		ctl_error(out, ret);
	else
		sbuf_printf(out, "flushed=%u\n", n);
}

enum ctl_args { ARGS_NONE, ARGS_OPTIONAL, ARGS_REQUIRED };

/* The control socket's requests, as wireguard-tools keeps its subcommands:
 * the first word names one; what follows a space is its arguments. */
static const struct ctl_op {
	const char *name;
	enum ctl_args args;
	bool body;	/* a body follows the request line (gw/ctl.h) */
	void (*run)(struct gw *g, const char *req, const char *args, const char *body,
		    size_t blen, struct sbuf *out);
} ctl_ops[] = {
	{ "show", ARGS_NONE, false, op_metrics },
	{ "stats", ARGS_NONE, false, op_metrics },
	{ "metrics", ARGS_NONE, false, op_metrics },
	{ "rules-list", ARGS_REQUIRED, false, op_rules_list },
	{ "rules-save", ARGS_NONE, false, op_rules_save },
	{ "rules-restore", ARGS_REQUIRED, true, op_restore },
	{ "rules6-list", ARGS_REQUIRED, false, op_rules_list },
	{ "rules6-save", ARGS_NONE, false, op_rules_save },
	{ "rules6-restore", ARGS_REQUIRED, true, op_restore },
	{ "trace-info", ARGS_NONE, false, op_trace_info },
	{ "conf", ARGS_NONE, false, op_conf },
	{ "ct-list", ARGS_OPTIONAL, false, op_ct_list },
	{ "ct-count", ARGS_NONE, false, op_ct_count },
	{ "ct-flush", ARGS_NONE, false, op_ct_flush },
};

/* The op req names, with *args its arguments ("" when none), or NULL. */
static const struct ctl_op *op_of(const char *req, const char **args)
{
	size_t word = strcspn(req, " ");

	for (size_t i = 0; i < sizeof(ctl_ops) / sizeof(ctl_ops[0]); i++) {
		const struct ctl_op *op = &ctl_ops[i];

		if (strlen(op->name) != word || strncmp(req, op->name, word))
			continue;
		*args = req[word] ? req + word + 1 : "";
		if ((op->args == ARGS_NONE && req[word]) ||
		    (op->args == ARGS_REQUIRED && !req[word]))
			return NULL;
		return op;
	}
	return NULL;
}

bool ctl_ops_has_body(const char *req)
{
	const char *args;
	const struct ctl_op *op = op_of(req, &args);

	return op && op->body;
}

void ctl_ops_handle(void *arg, const char *req, const char *body, size_t blen, struct sbuf *out)
{
	const char *args;
	const struct ctl_op *op = op_of(req, &args);

	if (!op) {
		sbuf_add(out, "error=unknown request\n");
		return;
	}
	op->run(arg, req, args, body, blen, out);
}
