/* SPDX-License-Identifier: MIT */
/* The host's addresses and the uplink's filters, following: see follow.h. */
#include "gw/follow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>

#include "gw/gw.h"
#include "gw/keep.h"
#include "gw/log.h"
#include "gw/nl.h"
#include "gw/worker.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

void follow_addr_text(uint32_t addr, char *text, size_t len)
{
	struct in_addr a = { htonl(addr) };

	inet_ntop(AF_INET, &a, text, (socklen_t)len);
}

/* The host's addresses now into *h (host_free), and with Rules6 the
 * uplink's first usable global IPv6 address into *dev6 (may be NULL).
 * 0 or -errno (logged). */
static int host_now(struct gw *g, struct uplink_host *h, union nf_addr *dev6)
{
	struct route_addr *a;
	union nf_addr *a6 = NULL, unused;
	int n = route_host_addrs(&a), n6 = 0;
	unsigned ndev6 = 0;

	if (!dev6)
		dev6 = &unused;
	memset(dev6, 0, sizeof(*dev6));
	if (n < 0) {
		gw_err("%s: reading the host's IPv4 addresses: %s", g->cfg.ifname, strerror(-n));
		return n;
	}
	/* with Rules6, the IPv6 ones for the uplink's IPv6 filters */
	if (g->ipv6_rules && g->cfg.uplink[0] &&
	    (n6 = route_host_addrs6(g->cfg.uplink, &g->uplink_addr6, dev6, &a6, &ndev6)) < 0) {
		gw_err("%s: reading the host's IPv6 addresses: %s", g->cfg.ifname, strerror(-n6));
		free(a);
		return n6;
	}
	*h = (struct uplink_host){ .addr = a, .naddr = (unsigned)n,
				   .forwarding = g->cfg.uplink[0] ? uplink_forwarding(g->cfg.uplink) : 0 };
	if (g->ipv6_rules && g->cfg.uplink[0]) {
		h->ipv6 = true;
		h->addr6 = a6;
		h->naddr6 = (unsigned)n6;
		h->ndev6 = ndev6;
		h->masq6 = g->uplink_addr6;
		h->forwarding6 = uplink_forwarding6(g->cfg.uplink);
	}
	return 0;
}

/* What host_now allocated. */
static void host_free(struct uplink_host *h)
{
	free((void *)h->addr);
	free((void *)h->addr6);
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
	nat_live6(nf_ct(g->nf), own, n, cur->addr6, cur->naddr6, within, live);
	for (unsigned i = 0; i < live->nsnat; i++)
		if (uplink_nat_foreign_has(cur, live->snat[i]))
			live->snat[k++] = live->snat[i];
	live->nsnat = k;
	k = 0;
	for (unsigned i = 0; i < live->nsnat6; i++)
		if (uplink_nat_foreign6_has(cur, &live->snat6[i]))
			live->snat6[k++] = live->snat6[i];
	live->nsnat6 = k;
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
		gw_warn("%s: uplink %s: only the first %u IPv4 Addresses are taken off the uplink; "
		        "traffic from the uplink to %u more reaches the host's kernel past gw's "
		        "rules", g->cfg.ifname, g->cfg.uplink, (unsigned)BPF_NAT_MAX_TUNNEL, over);
}

static void tunnel6_addrs(const struct gw *g, struct bpf_nat_spec *s);

/* The uplink's filter spec for rules r and IPv6 rules r6 (read with
 * Rules6 only) with MASQUERADE at addr (0: none)
 * on host h, and what the live connections need of what the filters hold
 * now (once there is a conntrack table); *lg counts what stays for them
 * only, remarks go to note.  0, or -errno with the reason in err. */
static int uplink_spec(struct gw *g, const struct rules *r, const struct rules *r6, uint32_t addr,
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
			      r6, &hl, s, lg, note, err, errlen);
	if (!ret) {
		tunnel_addrs(g, h, s);
		tunnel6_addrs(g, s);
	}
	return ret;
}

/* With Rules6, all IPv6 to gw's tunnel IPv6 Addresses off the uplink is
 * gw's (the uplink's IPv6 addresses, with NatPorts and the DNAT-ed ports,
 * come from uplink_nat_spec). */
static void tunnel6_addrs(const struct gw *g, struct bpf_nat_spec *s)
{
	s->ntunnel6 = 0;
	if (!g->ipv6_rules)
		return;
	for (size_t i = 0; i < g->cfg.n_addresses && s->ntunnel6 < BPF_NAT_MAX_TUNNEL6; i++)
		if (g->cfg.addresses[i].family == AF_INET6)
			memcpy(s->tunnel6[s->ntunnel6++].b, g->cfg.addresses[i].addr, 16);
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
	follow_addr_text(old, o, sizeof(o));
	follow_addr_text(addr, n, sizeof(n));
	g->uplink_addr = addr;
	g->route.uplink_addr = addr;
	nf_set_uplink_addr(g->nf, addr);
	if (old)
		flushed = nat_flush_addr(nf_ct(g->nf), old);
	gw_notice("%s: uplink %s address %s -> %s: %u conntrack entries NAT-ed to %s flushed%s",
	          g->cfg.ifname, g->cfg.uplink, old ? o : "none", addr ? n : "none", flushed,
	          old ? o : "none", addr ? "" : "; MASQUERADE drops until an address appears");
}

/* The uplink's IPv6 address is now addr (all zero: none): MASQUERADE (to
 * IPv6) takes it; entries source-NAT-ed to the old one are flushed. */
static void masq6_follow(struct gw *g, const union nf_addr *addr)
{
	char o[INET6_ADDRSTRLEN], n[INET6_ADDRSTRLEN];
	union nf_addr old = g->uplink_addr6;
	unsigned flushed = 0;

	if (nf_addr_eq(addr, &old))
		return;
	inet_ntop(AF_INET6, old.b, o, sizeof(o));
	inet_ntop(AF_INET6, addr->b, n, sizeof(n));
	g->uplink_addr6 = *addr;
	g->route.uplink_addr6 = *addr;
	nf_set_uplink_addr6(g->nf, addr);
	if (!nf_addr_is_zero(&old))
		flushed = nat_flush_addr6(nf_ct(g->nf), &old);
	gw_notice("%s: uplink %s IPv6 address %s -> %s: %u conntrack entries NAT-ed to the old "
		  "one flushed%s", g->cfg.ifname, g->cfg.uplink, nf_addr_is_zero(&old) ? "none" : o,
		  nf_addr_is_zero(addr) ? "none" : n, flushed,
		  nf_addr_is_zero(addr) ? "; IPv6 MASQUERADE drops until an address appears" : "");
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
	if (uplink_spec(g, nf_rules(g->nf), nf_rules6(g->nf), g->uplink_addr, h, &spec, &lg, &note,
			err, sizeof(err))) {
		gw_err("%s: uplink %s: ERROR: the live rules cannot be followed on the host's "
		       "addresses now: %s; the uplink's filters fall back to MASQUERADE's address "
		       "and NatPorts: DNAT from the uplink and SNAT to addresses the host does not "
		       "have stop working until the rules or the host change", g->cfg.ifname,
		       g->cfg.uplink, err);
		uplink_nat_base(g->uplink_addr, g->cfg.nat_port_min, g->cfg.nat_port_max, &spec);
		tunnel_addrs(g, h, &spec);
		if (g->ipv6_rules && !nf_addr_is_zero(&g->uplink_addr6))
			spec.addr6[spec.naddr6++] = g->uplink_addr6;
		tunnel6_addrs(g, &spec);
		lg = (struct uplink_linger){ 0 };
	} else if (!uplink_nat_equal(&spec, &g->uplink.nat)) {
		log_notes(g, &note); /* what the new spec implies */
	}
	sbuf_free(&note);
	if (uplink_follow(g, &spec, &lg))
		gw_err("%s: uplink %s: ERROR: its filters could not follow the host's addresses "
		       "and stay as they were", g->cfg.ifname, g->cfg.uplink);
}

/* An IPv4 address of the host came or went (any interface), or events were
 * lost: routing knows every address of the host as local, MASQUERADE
 * follows the uplink's primary address, and the uplink's filters the
 * uplink's secondaries (DNAT narrowed by -d) and the other interfaces'
 * addresses (what is foreign). */
void follow_host_changed(struct gw *g)
{
	struct uplink_host h;
	union nf_addr dev6;

	if (host_now(g, &h, &dev6))
		return;
	if (route_set_local(&g->route, h.addr, h.naddr))
		gw_err("%s: out of memory: the host's new addresses are not local to gw's routing",
		       g->cfg.ifname);
	if (g->uplink_on) {
		masq_follow(g, route_dev_addr(h.addr, h.naddr, g->cfg.uplink));
		if (h.ipv6) {
			union nf_addr *all = malloc((h.naddr6 ? h.naddr6 : 1) * sizeof(*all));

			if (all) {
				if (h.naddr6)
					memcpy(all, h.addr6, h.naddr6 * sizeof(*all));
				route_set_local6(&g->route, all, h.naddr6);
			} else {
				gw_err("%s: out of memory: the host's new IPv6 addresses are not "
				       "local to gw's routing", g->cfg.ifname);
			}
			masq6_follow(g, &dev6);
		}
		/* (h was read before the IPv6 address was followed) */
		h.masq6 = g->uplink_addr6;
		uplink_refresh(g, &h);
	}
	host_free(&h);
}

void follow_linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw *g = container_of(w, struct gw, linger_w);
	struct uplink_host h;

	(void)loop, (void)revents;
	if (!g->uplink_on || host_now(g, &h, NULL))
		return;
	uplink_refresh(g, &h);
	host_free(&h);
}

/* What one read of the events says. */
struct host_events {
	int uplink;		/* the uplink's ifindex (0: none) */
	bool addr;		/* an IPv4 or IPv6 address came or went */
	unsigned mtu;		/* the uplink's MTU in its last link event, or 0 */
};

/* IFLA_MTU of a link message, or 0. */
static unsigned link_mtu(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg))
		if (mnl_attr_get_type(a) == IFLA_MTU && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			return mnl_attr_get_u32(a);
	return 0;
}

static int addr_msg(const struct nlmsghdr *nlh, void *data)
{
	struct host_events *ev = data;

	if (nlh->nlmsg_type == RTM_NEWLINK) {
		const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

		if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifi) && ev->uplink &&
		    ifi->ifi_index == ev->uplink) {
			unsigned mtu = link_mtu(nlh);

			if (mtu)
				ev->mtu = mtu;
		}
		return MNL_CB_OK;
	}
	if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
		return MNL_CB_OK;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifaddrmsg))
		return MNL_CB_OK;
	switch (((const struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh))->ifa_family) {
	case AF_INET:
	case AF_INET6:
		ev->addr = true;
		break;
	}
	return MNL_CB_OK;
}

/* The uplink's MTU changed to mtu: routing's path MTU out of it (what a
 * packet too big for it gets: fragmentation needed, fragments, packet too
 * big) and every send queue's, at most what a send slot holds (sized at
 * start: more takes a restart). */
static void follow_mtu(struct gw *g, unsigned mtu)
{
	unsigned use = mtu > g->uplink.tx.slot ? (unsigned)g->uplink.tx.slot : mtu;

	if (use < 576)
		use = 576; /* the IPv4 minimum; IPv6 routes floor theirs at 1280 */
	if (mtu == g->uplink.mtu)
		return; /* another change of the link (its state, its name) */
	if (use < mtu)
		gw_warn("%s: uplink %s: MTU %u -> %u; gw's send slots hold %u bytes: packets are "
			"kept to that until gw restarts", g->cfg.ifname, g->cfg.uplink,
			g->uplink.mtu, mtu, use);
	else
		gw_notice("%s: uplink %s: MTU %u -> %u", g->cfg.ifname, g->cfg.uplink,
			  g->uplink.mtu, mtu);
	g->uplink.mtu = mtu;
	g->route.uplink_mtu = (uint16_t)use;
	uplink_tx_set_mtu(&g->uplink.tx, use);
	for (unsigned i = 0; i < g->nio; i++)
		if (g->io[i].utx_own)
			uplink_tx_set_mtu(g->io[i].utx, use);
}

static void addr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw *g = container_of(w, struct gw, addr_w);
	/* a link message can be long (the VFs of an SR-IOV NIC): cut short,
	 * mnl would refuse it whole */
	static char buf[65536] __attribute__((aligned(8)));
	struct host_events ev = { .uplink = g->uplink_on ? g->uplink.ifindex : 0 };
	bool overrun = false;
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
		(void)mnl_cb_run(buf, (size_t)n, 0, 0, addr_msg, &ev);
	}
	if (overrun && ev.uplink)
		ev.mtu = uplink_mtu_now(g->cfg.uplink);
	if (ev.mtu)
		follow_mtu(g, ev.mtu);
	if (ev.addr || overrun)
		follow_host_changed(g);
}

/* rtnetlink IPv4 and IPv6 address events and link events (the uplink's
 * MTU), watched by the loop.  0 or -errno. */
int follow_watch(struct gw *g)
{
	int fd;

	g->addr_nl = nl_route_open(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
				   (g->uplink_on ? RTMGRP_LINK : 0), SOCK_NONBLOCK);
	if (!g->addr_nl) {
		int ret = -errno;

		gw_err("%s: rtnetlink address events: %s", g->cfg.ifname, strerror(-ret));
		return ret;
	}
	fd = mnl_socket_get_fd(g->addr_nl);
	ev_io_init(&g->addr_w, addr_cb, fd, EV_READ);
	ev_io_start(g->loop, &g->addr_w);
	return 0;
}

/* The kernel's neighbour and route events, for the uplink's send queue
 * (on the control loop, under the lock: the queue is shared). */
static void uplink_nh_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw *g = container_of(w, struct gw, uplink_nh_w);
	int rc = uplink_tx_neigh_read(&g->uplink.tx);

	(void)loop, (void)revents;
	if (rc < 0)
		gw_warn("%s: uplink neighbour events: %s", g->cfg.ifname, strerror(-rc));
}

/* Each worker reads the uplink: worker 0 its own socket, the others a
 * reader each in its PACKET_FANOUT group (without them, worker 0 alone). */
static void uplink_readers(struct gw *g)
{
	unsigned n = g->threaded ? g->nio - 1 : 0;

	g->io[0].urx = &g->uplink;
	if (n && (g->uplink_rx = calloc(n, sizeof(*g->uplink_rx))) &&
	    uplink_fanout(&g->uplink, g->uplink_rx, n, 0) == 0) {
		for (unsigned i = 1; i < g->nio; i++)
			g->io[i].urx = &g->uplink_rx[i - 1];
	} else if (n) {
		free(g->uplink_rx);
		g->uplink_rx = NULL;
		gw_warn("%s: worker 0 alone reads the uplink", g->cfg.ifname);
	}
	for (unsigned i = 0; i < g->nio; i++) {
		struct gw_io *io = &g->io[i];

		if (!io->urx)
			continue;
		ev_io_init(&io->uplink_w, gw_uplink_cb, io->urx->pfd, EV_READ);
		io->uplink_w.data = io;
		ev_io_start(io->loop, &io->uplink_w);
	}
}

static int open_uplink(struct gw *g, const struct bpf_nat_spec *spec)
{
	struct uplink_conf c = { 0 };
	struct sbuf d;
	int ret;

	c.ifname = g->cfg.uplink;
	c.nat = *spec;
	c.host_owned = true;
	c.ipv6 = g->ipv6_rules;
	if (g->cfg.keep_state) {
		const struct keep_host *kh = keep_host(g);

		/* a filter a previous run left is taken over even when its
		 * state file was refused: the next exit removes it or keeps it */
		c.adopt = true;
		if (kh && !strcmp(kh->uplink, g->cfg.uplink)) {
			c.adopt_qdisc = kh->qdisc_ours;
			c.adopt_ports = kh->ports;
		} else if (kh) {
			c.adopt_ports = kh->ports;
		}
	}
	ret = uplink_open_conf(&g->uplink, &c);
	if (ret)
		return ret;
	g->uplink_on = true;
	uplink_readers(g);
	if (g->uplink.tx.nh.fd >= 0) {
		ev_io_init(&g->uplink_nh_w, uplink_nh_cb, g->uplink.tx.nh.fd, EV_READ);
		ev_io_start(g->loop, &g->uplink_nh_w);
	}
	gw_io_uplink_open(g);
	sbuf_init(&d);
	uplink_nat_describe(spec, &d);
	gw_log("%s: uplink %s filters: %s", g->cfg.ifname, g->cfg.uplink, d.buf ? d.buf : "");
	sbuf_free(&d);
	return 0;
}

/* The uplink opened with the filters rules ask for on the host as it is;
 * *addr is its primary address (0: none yet).  0 or -errno (logged: at
 * start a spec the rules cannot have is refused). */
int follow_setup(struct gw *g, const struct rules *rules, const struct rules *rules6,
		 uint32_t *addr)
{
	struct uplink_host h;
	struct bpf_nat_spec spec;
	struct sbuf note;
	char err[256];
	int ret;

	ret = host_now(g, &h, NULL);
	if (ret)
		return ret;
	/* none yet (DHCP still running): the filters and MASQUERADE follow
	 * when one appears (follow_host_changed) */
	*addr = route_dev_addr(h.addr, h.naddr, g->cfg.uplink);
	if (!*addr)
		gw_warn("%s: Uplink %s has no IPv4 address yet: MASQUERADE drops until one "
		        "appears", g->cfg.ifname, g->cfg.uplink);
	sbuf_init(&note);
	ret = uplink_spec(g, rules, rules6, *addr, &h, &spec, NULL, &note, err, sizeof(err));
	host_free(&h);
	if (ret) {
		gw_err("%s: uplink %s: %s", g->cfg.ifname, g->cfg.uplink, err);
	} else {
		log_notes(g, &note);
		ret = open_uplink(g, &spec);
	}
	sbuf_free(&note);
	return ret;
}

/* The uplink's filters for new rules r and r6 (either may be the live
 * one), before they are swapped in — computed as at start (with no address
 * too: the caps and foreign SNAT with forwarding on are checked all the
 * same) and applied.  0, or -errno with the reason in err: the new rules
 * are refused, the old filters stay. */
int follow_rules(struct gw *g, const struct rules *r, const struct rules *r6, char *err,
		 size_t errlen)
{
	struct uplink_linger lg = { 0 };
	struct bpf_nat_spec spec;
	struct uplink_host h;
	struct sbuf note;
	int ret;

	if (!g->uplink_on)
		return 0;
	ret = host_now(g, &h, NULL);
	if (ret) {
		snprintf(err, errlen, "reading the host's addresses: %s", strerror(-ret));
		return ret;
	}
	sbuf_init(&note);
	ret = uplink_spec(g, r, r6, g->uplink_addr, &h, &spec, &lg, &note, err, errlen);
	host_free(&h);
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


void follow_teardown(struct gw *g)
{
	if (g->addr_nl) {
		if (g->loop)
			ev_io_stop(g->loop, &g->addr_w);
		mnl_socket_close(g->addr_nl);
		g->addr_nl = NULL;
	}
	gw_io_uplink_close(g);
	if (g->uplink_on) {
		if (g->loop) {
			for (unsigned i = 0; i < g->nio; i++)
				if (g->io[i].urx) {
					ev_io_stop(g->io[i].loop, &g->io[i].uplink_w);
					g->io[i].urx = NULL;
				}
			if (g->uplink.tx.nh.fd >= 0)
				ev_io_stop(g->loop, &g->uplink_nh_w);
			ev_timer_stop(g->loop, &g->linger_w);
		}
		uplink_close(&g->uplink); /* the readers too */
		free(g->uplink_rx);
		g->uplink_rx = NULL;
		g->uplink_on = false;
	}
}
