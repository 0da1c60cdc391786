/* SPDX-License-Identifier: MIT */
/* The netfilter pipeline's life in gw run: see dataplane.h. */
#include "gw/dataplane.h"

#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <sodium.h>

#include "gw/follow.h"
#include "gw/gw.h"
#include "gw/keep.h"
#include "gw/log.h"
#include "gw/metrics.h"
#include "gw/rulesfile.h"
#include "nat/pkt/frag.h"
#include "nat/rules.h"

/* --- setup ---------------------------------------------------------------- */

/* Rules = relative paths are relative to the config's directory. */
static int load_rules(struct gw *g, struct rules **out, const struct rules *base,
		      uint8_t family)
{
	const char *path = family == NF_V6 ? g->cfg.rules6_path : g->cfg.rules_path;
	char err[512];

	*out = NULL;
	if (!path)
		return 0;
	if (rulesfile_load_cfg(out, g->cfg.path, path, base, family, err, sizeof(err))) {
		gw_err("%s", err);
		return -EINVAL;
	}
	return 0;
}

/* The live rules changed (start, restore, reload): what they need to know. */
static void rules_changed(struct gw *g)
{
	int ret;

	g->owner_need = rules_owner_needs(nf_rules(g->nf)) | rules_owner_needs(nf_rules6(g->nf));
	/* the sock_diag socket when the rules first need it (no privilege
	 * needed: it can come after the drop) */
	if (g->owner_need && !sockdiag_is_open(&g->sd) && (ret = sockdiag_open(&g->sd)))
		gw_warn("%s: sock_diag: %s: -m owner sees no socket for any packet",
		        g->cfg.ifname, strerror(-ret));
	priv_warn_missing(g->cfg.ifname, priv_needed(g));
}

/* LOG targets: at their --log-level, LOG_RULE_BURST lines per interval for
 * all of them together (a LOG rule without -m limit logs every packet). */
static void nf_log_line(void *arg, int level, const char *prefix, const char *line)
{
	static struct log_limit lim = { .burst = LOG_RULE_BURST };

	(void)arg;
	gw_log_rule(&lim, level, prefix, line);
}

int dp_setup(struct gw *g)
{
	struct frag_config fc;
	struct nf_config nfc = { 0 };
	struct rules *rules, *rules6;
	uint32_t addr = 0;
	char text[INET_ADDRSTRLEN], per_peer[32];
	int ret;

	if (!g->cfg.rules_path && !g->cfg.rules6_path && !g->cfg.uplink[0]) {
		/* plain: only the host's addresses, for peers' packets that
		 * claim one (without the watch, only gw's Address: logged) */
		ret = route_init(&g->route, &g->cfg, 0, 1500);
		if (!ret && !follow_watch(g))
			follow_host_changed(g);
		return ret;
	}
	ret = load_rules(g, &rules, NULL, NF_V4);
	if (ret)
		return ret;
	ret = load_rules(g, &rules6, NULL, NF_V6);
	if (ret) {
		rules_free(rules);
		return ret;
	}
	g->ipv6_rules = rules6 != NULL;
	if (g->cfg.uplink[0] && (ret = follow_setup(g, rules, rules6, &addr))) {
		rules_free(rules);
		rules_free(rules6);
		return ret;
	}
	ret = route_init(&g->route, &g->cfg, addr, (uint16_t)(g->uplink_on ? g->uplink.mtu : 1500));
	if (ret) {
		rules_free(rules);
		rules_free(rules6);
		return ret;
	}
	ct_config_default(&nfc.ct, g->cfg.ct_max);
	/* every owner id a peer may get, also peers added at runtime */
	nfc.ct.owners = UINT16_MAX;
	nfc.ct.owner_max = g->cfg.peer_ct_max;
	nfc.ct.hash_seed = randombytes_random();
	nfc.route = route_lookup;
	nfc.ifaddr = route_ifaddr;
	nfc.route6 = route_lookup6;
	nfc.ifaddr6 = route_ifaddr6;
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
		rules_free(rules6);
		gw_err("%s: out of memory", g->cfg.ifname);
		return -ENOMEM;
	}
	nf_set_rules6(g->nf, rules6);
	/* a restart's connections, before anything looks at the table */
	keep_ct(g);
	g->uplink_addr = addr;
	rules_changed(g);
	ev_timer_init(&g->linger_w, follow_linger_cb, GW_LINGER_CHECK, GW_LINGER_CHECK);
	ret = follow_watch(g);
	if (ret)
		return ret;
	/* the host's addresses, and a change between the first read and the
	 * watch */
	follow_host_changed(g);
	follow_addr_text(g->uplink_addr, text, sizeof(text));
	if (g->cfg.peer_ct_max)
		snprintf(per_peer, sizeof(per_peer), "%u per peer", (unsigned)g->cfg.peer_ct_max);
	else
		snprintf(per_peer, sizeof(per_peer), "no per-peer limit");
	gw_log("%s: netfilter on%s%s, uplink %s%s%s, NatPorts %u-%u, conntrack max %u (%s)",
	       g->cfg.ifname, g->cfg.rules_path ? ", rules " : "",
	       g->cfg.rules_path ? g->cfg.rules_path : "", g->uplink_on ? g->cfg.uplink : "none",
	       g->uplink_on ? " " : "", g->uplink_on ? text : "", g->cfg.nat_port_min,
	       g->cfg.nat_port_max, (unsigned)g->cfg.ct_max, per_peer);
	if (g->ipv6_rules)
		gw_log("%s: IPv6 through netfilter, rules %s", g->cfg.ifname, g->cfg.rules6_path);
	else if (!g->cfg.ipv6_pass)
		gw_notice("%s: IPv6 between peers and the host is dropped (IPv6 = drop: no Rules6; "
		          "IPv6 = pass hands it to the host as it is)", g->cfg.ifname);
	return 0;
}

void dp_teardown(struct gw *g)
{
	follow_teardown(g);
	sockdiag_close(&g->sd);
	if (g->nf)
		nf_destroy(g->nf);
	if (g->frag)
		frag_destroy(g->frag);
	route_free(&g->route);
	/* plaintext of the last datagrams reassembled and cut */
	if (g->fragbuf)
		sodium_memzero(g->fragbuf, FRAG_MAX_DATAGRAM);
	if (g->fragoutbuf)
		sodium_memzero(g->fragoutbuf, FRAG_MAX_DATAGRAM);
	free(g->fragbuf);
	free(g->fragoutbuf);
	g->fragoutbuf = NULL;
	g->nf = NULL;
	g->frag = NULL;
	g->fragbuf = NULL;
}

/* --- rules ---------------------------------------------------------------- */

/* Rules6 again (SIGHUP): the uplink's filters follow what it asks (its
 * DNAT-ed ports, its SNAT addresses) before it is swapped in. */
static int reload6(struct gw *g)
{
	struct rules *r;
	char err[256];

	if (load_rules(g, &r, nf_rules6(g->nf), NF_V6)) {
		gw_err("%s: SIGHUP: the old IPv6 rules stay", g->cfg.ifname);
		return -EINVAL;
	}
	if (follow_rules(g, nf_rules(g->nf), r, err, sizeof(err))) {
		gw_err("%s: SIGHUP: %s: %s; the old IPv6 rules stay", g->cfg.ifname,
		       g->cfg.rules6_path, err);
		rules_free(r);
		return -EINVAL;
	}
	rules_free(nf_set_rules6(g->nf, r));
	rules_changed(g);
	gw_notice("%s: SIGHUP: IPv6 rules reloaded from %s", g->cfg.ifname, g->cfg.rules6_path);
	return 0;
}

int dp_reload(struct gw *g)
{
	struct rules *r;
	char err[256];
	int ret6 = 0;

	if (!g->nf || (!g->cfg.rules_path && !g->ipv6_rules)) {
		gw_warn("%s: SIGHUP: no Rules file to reload", g->cfg.ifname);
		return -ENOENT;
	}
	if (g->ipv6_rules)
		ret6 = reload6(g);
	if (!g->cfg.rules_path)
		return ret6;
	if (load_rules(g, &r, nf_rules(g->nf), NF_V4)) {
		gw_err("%s: SIGHUP: the old rules stay", g->cfg.ifname);
		return -EINVAL;
	}
	if (follow_rules(g, r, nf_rules6(g->nf), err, sizeof(err))) {
		gw_err("%s: SIGHUP: %s: %s; the old rules stay", g->cfg.ifname, g->cfg.rules_path,
		       err);
		rules_free(r);
		return -EINVAL;
	}
	rules_free(nf_set_rules(g->nf, r));
	rules_changed(g);
	gw_notice("%s: SIGHUP: rules reloaded from %s", g->cfg.ifname, g->cfg.rules_path);
	return ret6;
}

int dp_restore(struct gw *g, uint8_t family, const char *name, const char *text, size_t len,
	       bool counters, char *err, size_t errlen)
{
	struct rules *r;
	char why[256];
	int ret;

	if (!g->nf) {
		snprintf(err, errlen, "%s has no netfilter (no Rules and no Uplink)", g->cfg.ifname);
		return -ENOENT;
	}
	if (family == NF_V6) {
		ret = rulesfile_parse_as(&r, name, text, len, nf_rules6(g->nf), counters, NF_V6, err,
					 errlen);
		if (ret)
			return ret;
		ret = follow_rules(g, nf_rules(g->nf), r, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%s: %s", name, why);
			rules_free(r);
			return ret;
		}
		rules_free(nf_set_rules6(g->nf, r));
		rules_changed(g);
		gw_notice("%s: IPv6 rules restored from %s", g->cfg.ifname, name);
		return 0;
	}
	ret = rulesfile_parse(&r, name, text, len, nf_rules(g->nf), counters, err, errlen);
	if (ret)
		return ret;
	ret = follow_rules(g, r, nf_rules6(g->nf), why, sizeof(why));
	if (ret) {
		snprintf(err, errlen, "%s: %s", name, why);
		rules_free(r);
		return ret;
	}
	rules_free(nf_set_rules(g->nf, r));
	rules_changed(g);
	gw_notice("%s: rules restored from %s", g->cfg.ifname, name);
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


/* --- stats ---------------------------------------------------------------- */

static const char *const uplink_drop_names[UPLINK_DROP__MAX] = {
	[UPLINK_DROP_TRUNC] = "trunc", [UPLINK_DROP_NOT_IP] = "not_ip",
	[UPLINK_DROP_BAD_IP] = "bad_ip", [UPLINK_DROP_GSO] = "gso",
	[UPLINK_DROP_CSUM] = "csum",   [UPLINK_DROP_ARP] = "arp",
	[UPLINK_DROP_IPV6] = "ipv6",   [UPLINK_DROP_NDP] = "ndp",
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
	m_ct_hot = C("conntrack_nat_hot",
		     "Port bitmaps built for a destination the NAT port search toiled on."),
	m_ct_hot_used = C("conntrack_nat_hot_used", "NAT port searches a port bitmap served."),
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
	m_up_ndp = C("uplink_ndp_replies", "Neighbor Advertisements sent for a NAT address."),
	m_up_ndp_announced = C("uplink_ndp_announced", "Unsolicited Neighbor Advertisements sent."),
	m_up_ring_pkts = C("uplink_ring_packets", "Frames the uplink's socket filter passed to the ring."),
	m_up_ring_drops = C("uplink_ring_drops", "Frames lost because the uplink's ring was full."),
	m_up_drops = CL("uplink_drops", "Uplink frames dropped, by reason.", "reason");

void dp_stats(struct gw *g, struct metrics *m)
{
	struct ct_stats cs;
	struct frag_stats fs;
	struct uplink_stats sum, *us = &sum;
	struct uplink_tx_stats t = g->uplink.tx.st, *ts = &t;
	uint64_t resyncs = g->uplink.tx.nh.resyncs;

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
	metric(m, &m_ct_hot, NULL, cs.nat_hot, "conntrack_nat_hot");
	metric(m, &m_ct_hot_used, NULL, cs.nat_hot_used, "conntrack_nat_hot_used");
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
	/* the uplink's readers, summed */
	uplink_ring_stats(&g->uplink);
	sum = g->uplink.st;
	for (unsigned i = 0; i < g->uplink.nrx; i++) {
		uplink_ring_stats(&g->uplink.rx[i]);
		uplink_stats_add(&sum, &g->uplink.rx[i].st);
	}
	metric(m, &m_up_frames, NULL, us->rx_frames, "uplink_rx_frames");
	metric(m, &m_up_copied, NULL, us->rx_copied, "uplink_rx_copied");
	metric(m, &m_up_rx, NULL, us->rx_pkts, "uplink_rx_packets");
	metric(m, &m_up_gso, NULL, us->rx_gso, "uplink_rx_gso");
	metric(m, &m_up_segs, NULL, us->rx_segs, "uplink_rx_segments");
	metric(m, &m_up_csum, NULL, us->rx_csum, "uplink_rx_csum");
	/* and the workers' own queues, as of their last batch */
	for (unsigned i = 0; i < g->nio; i++) {
		const struct gw_io *io = &g->io[i];

		if (!io->utx_own)
			continue;
#define ADD(f) t.f += __atomic_load_n(&io->utx_st.f, __ATOMIC_RELAXED)
		ADD(packet);
		ADD(raw);
		ADD(no_neigh);
		ADD(confirm);
		ADD(drop);
		ADD(gso);
		ADD(gso_segs);
#undef ADD
		resyncs += __atomic_load_n(&io->utx_resyncs, __ATOMIC_RELAXED);
	}
	metric(m, &m_up_tx, NULL, ts->packet + ts->raw, "uplink_tx_packets");
	metric(m, &m_up_tx_packet, NULL, ts->packet, "uplink_tx_packet");
	metric(m, &m_up_tx_raw, NULL, ts->raw, "uplink_tx_raw");
	metric(m, &m_up_tx_no_neigh, NULL, ts->no_neigh, "uplink_tx_no_neigh");
	metric(m, &m_up_tx_confirm, NULL, ts->confirm, "uplink_tx_confirm");
	metric(m, &m_up_tx_gso, NULL, ts->gso, "uplink_tx_gso");
	metric(m, &m_up_tx_gso_segs, NULL, ts->gso_segs, "uplink_tx_gso_segments");
	metric(m, &m_up_neigh_resyncs, NULL, resyncs, "uplink_neigh_resyncs");
	metric(m, &m_up_arp, NULL, us->arp_replies, "uplink_arp_replies");
	metric(m, &m_up_announced, NULL, us->arp_announced, "uplink_arp_announced");
	metric(m, &m_up_ndp, NULL, us->ndp_replies, "uplink_ndp_replies");
	metric(m, &m_up_ndp_announced, NULL, us->ndp_announced, "uplink_ndp_announced");
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
