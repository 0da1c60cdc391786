/* SPDX-License-Identifier: MIT */
#include "gw/gw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw/ctl_ops.h"
#include "gw/dataplane.h"
#include "gw/handover.h"
#include "gw/keep.h"
#include "gw/log.h"
#include "gw/peers.h"
#include "gw/rulesfile.h"
#include "gw/sandbox.h"
#include "gw/tun.h"
#include "gw/uapi.h"
#include "gw/worker.h"
#include "nat/rules.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))


static void on_emit(void *ctx, struct wg_peer *peer, const struct wg_endpoint *to,
		    const uint8_t *dgram, size_t len)
{
	(void)peer;
	gw_queue_dgram(ctx, to, dgram, len);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw *g = container_of(w, struct gw, timer_w);

	uint64_t now = gw_mono();

	(void)loop, (void)revents;
	wg_tick(&g->dev, now, gw_wall());
	dp_tick(g, now);
}

/* With workers, the control thread does not see the timers their packets
 * arm: it looks at least this often (seconds). */
#define GW_TIMER_POLL 0.25

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct gw *g = container_of(w, struct gw, prepare_w);
	uint64_t deadline, dp, now = gw_mono();
	double in;

	(void)revents;
	dp_flush(g, now);
	gw_io_flush(g->cio);
	deadline = wg_next_deadline(&g->dev);
	dp = dp_next_deadline(g);
	if (!deadline || dp < deadline)
		deadline = dp;
	ev_timer_stop(loop, &g->timer_w);
	if (deadline == UINT64_MAX && !g->threaded)
		return;
	in = deadline == UINT64_MAX ? GW_TIMER_POLL :
	     deadline > now ? (double)(deadline - now) / 1e9 + 0.0005 : 0.;
	if (g->threaded && in > GW_TIMER_POLL)
		in = GW_TIMER_POLL;
	ev_timer_set(&g->timer_w, in, 0.);
	ev_timer_start(loop, &g->timer_w);
}

/* SIGHUP: the config file's peers (as wg syncconf against it), then its
 * Rules. */
static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct gw *g = w->data;

	(void)loop, (void)revents;
	notify_reloading(g);
	peers_reload(g);
	if (g->nf && g->cfg.rules_path)
		dp_reload(g);
	notify_ready(g);
}

static unsigned workers_wanted(const struct config *c);

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_addresses(const struct config *a, const struct config *b)
{
	return a->n_addresses == b->n_addresses &&
	       (!a->n_addresses ||
		!memcmp(a->addresses, b->addresses, a->n_addresses * sizeof(*a->addresses)));
}

/* The [Interface] key of c that differs from what gw runs with and that
 * the new image could not apply, or NULL.  It takes the device, its
 * addresses and MTU, the sockets (bound, marked) and the listeners (at
 * their paths) as they are, and switches to no other user. */
static const char *fixed_key_changed(const struct gw *g, const struct config *c)
{
	const struct config *r = &g->cfg;

	if (!same_str(c->user, r->user))
		return "User";
	if (!same_str(c->keep_state, r->keep_state))
		return "KeepState";
	if (strcmp(c->uplink, r->uplink))
		return "Uplink";
	if (c->has_listen_port && c->listen_port != g->port)
		return "ListenPort";
	if ((c->mtu ? c->mtu : WG_DEFAULT_MTU) != (r->mtu ? r->mtu : WG_DEFAULT_MTU))
		return "MTU";
	if (!same_addresses(c, r))
		return "Address";
	if (c->fwmark != r->fwmark)
		return "FwMark";
	if (!same_str(c->control_socket, r->control_socket))
		return "ControlSocket";
	if (c->uapi_off != r->uapi_off || !same_str(c->uapi_socket, r->uapi_socket))
		return "UapiSocket";
	return NULL;
}

/* Whether the new image can start on config c with what gw hands over and
 * the privileges it keeps: NULL, or why not (into buf).  It reads the
 * rules files as they are now (what `gw rules restore` changed since is
 * not kept, as with SIGHUP); what needs privilege or another socket than
 * those handed over needs a restart. */
static const char *upgrade_refusal(const struct gw *g, const struct config *c, char *buf,
				   size_t len)
{
	const char *paths[2] = { c->rules_path, c->rules6_path };
	const char *key = fixed_key_changed(g, c);
	unsigned gid = 0;

	if (workers_wanted(c) > g->nio)
		snprintf(buf, len, "the config asks for more than %u workers: that needs a restart",
			 g->nio);
	else if (key)
		snprintf(buf, len, "%s changed: that needs a restart", key);
	else if (!c->rules_path != !g->cfg.rules_path || !c->rules6_path != !g->cfg.rules6_path)
		snprintf(buf, len, "Rules or Rules6 added or removed: that needs a restart");
	else
		buf[0] = '\0';
	for (int i = 0; i < 2 && !buf[0]; i++) {
		struct rules *r = NULL;

		if (!paths[i])
			continue;
		if (rulesfile_load_cfg(&r, c->path, paths[i], NULL, i ? NF_V6 : NF_V4, buf, len))
			break;
		gid |= rules_owner_needs(r) & RULES_OWNER_GID;
		rules_free(r);
	}
	/* capabilities dropped at start are not had again */
	if (!buf[0] && gid && !(g->owner_need & RULES_OWNER_GID))
		snprintf(buf, len, "the rules now compare groups (--gid-owner), which needs "
			 "capabilities gw dropped: that needs a restart");
	return buf[0] ? buf : NULL;
}

/* SIGUSR2: the in-place upgrade (gw/handover.h), with KeepState only. */
static void sigusr2_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct gw *g = w->data;
	struct config_error err;
	struct config c;
	struct sbuf warn;
	char why[512];
	const char *no;
	int ret;

	(void)revents;
	if (!g->cfg.keep_state) {
		gw_warn("%s: SIGUSR2 refused: an in-place upgrade needs KeepState", g->cfg.ifname);
		return;
	}
	/* the new image reads the config and rules as User: what it cannot
	 * read or parse would end gw, so that is checked before anything
	 * stops; so is what it could not set up without privilege (more
	 * workers than queues and sockets to hand over, another User,
	 * uplink, port, MTU, Address...: upgrade_refusal) */
	sbuf_init(&warn);
	ret = config_load(&c, g->cfg.path, &warn, &err);
	sbuf_free(&warn);
	if (ret) {
		gw_err("%s: SIGUSR2 refused, running on: %s", g->cfg.ifname, err.message);
		return;
	}
	no = upgrade_refusal(g, &c, why, sizeof(why));
	config_free(&c);
	if (no) {
		gw_err("%s: SIGUSR2 refused, running on: %s", g->cfg.ifname, no);
		return;
	}
	gw_notice("%s: SIGUSR2: handing over to a new image", g->cfg.ifname);
	g->stop_signal = SIGUSR2;
	ev_break(loop, EVBREAK_ALL);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	gw_notice("%s: signal %d, shutting down", ((struct gw *)w->data)->cfg.ifname, w->signum);
	((struct gw *)w->data)->stop_signal = w->signum;
	notify_stopping(w->data);
	ev_break(loop, EVBREAK_ALL);
}

/* --- the WireGuard UAPI (gw/uapi.h) -------------------------------------- */

static void uapi_handle(void *arg, const char *req, const char *body, size_t blen,
			struct sbuf *out)
{
	struct gw *g = arg;
	struct uapi_set s;
	char why[256] = "";
	int ret;

	(void)body, (void)blen;
	if (!strcmp(req, "get=1\n\n")) {
		peers_get(g, out);
		sbuf_add(out, "errno=0\n\n");
		return;
	}
	if (strncmp(req, "set=1\n", 6))
		return; /* no operation: closed unanswered, as wireguard-go does */
	ret = uapi_parse_set(&s, req + 6, strlen(req + 6), why, sizeof(why));
	if (!ret) {
		ret = peers_apply(g, &s, why, sizeof(why));
		uapi_set_free(&s);
	}
	if (ret)
		gw_warn("%s: UAPI set refused, nothing changed: %s", g->cfg.ifname, why);
	else
		gw_log("%s: UAPI set: %s", g->cfg.ifname, why);
	sbuf_printf(out, "errno=%d\n\n", ret);
}

static bool uapi_no_body(const char *req)
{
	(void)req;
	return false;
}

/* The UAPI socket, before the privilege drop.  Only an explicit UapiSocket
 * is needed to start: the default path is shared by every network
 * namespace, and another instance of the same interface name may hold it. */
static int uapi_listen(struct gw *g)
{
	int fd;

	if (g->cfg.uapi_off)
		return 0;
	if (g->cfg.uapi_socket)
		snprintf(g->uapi_path, sizeof(g->uapi_path), "%s", g->cfg.uapi_socket);
	else
		snprintf(g->uapi_path, sizeof(g->uapi_path), "/var/run/wireguard/%s.sock",
			 g->cfg.ifname);
	fd = handover_take("uapi", 0);
	if (fd < 0)
		fd = ctl_listen(g->uapi_path, 0755);
	if (fd < 0) {
		gw_err("%s: UAPI socket %s: %s%s", g->cfg.ifname, g->uapi_path, strerror(-fd),
		       g->cfg.uapi_socket ? "" : "; wg(8) cannot reach this gateway (another "
		       "instance of this interface name holds it? UapiSocket sets another path)");
		g->uapi_path[0] = 0;
		return g->cfg.uapi_socket ? fd : 0;
	}
	g->uapi.uapi = true;
	g->uapi.has_body = uapi_no_body;
	g->uapi.handle = uapi_handle;
	g->uapi.arg = g;
	ctl_server_start(&g->uapi, g->loop, fd);
	return 0;
}

/* --- setup and teardown ------------------------------------------------ */

/* --- Endpoint host names (gw.h) ---------------------------------------- */

static void dns_arm(struct gw *g)
{
	uint64_t next = UINT64_MAX, now = gw_mono();

	ev_timer_stop(g->loop, &g->dns_w);
	if (g->resolver.busy || !g->resolver.started)
		return;
	for (size_t i = 0; i < g->n_dns; i++)
		if (g->dns[i].next < next)
			next = g->dns[i].next;
	if (next == UINT64_MAX)
		return;
	ev_timer_set(&g->dns_w, next > now ? (double)(next - now) / 1e9 : 0., 0.);
	ev_timer_start(g->loop, &g->dns_w);
}

static bool handshake_fresh(const struct gw *g, const struct wg_peer *p, uint64_t wall)
{
	return p->last_handshake_wall &&
	       wall - p->last_handshake_wall <= (uint64_t)g->dns_stale * NSEC_PER_SEC;
}

static void dns_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw *g = container_of(w, struct gw, dns_w);
	uint64_t now = gw_mono(), wall = gw_wall();
	size_t n = 0;

	(void)loop, (void)revents;
	/* no job is out (dns_arm): the items may move */
	if (g->dns_job_cap < g->n_dns) {
		struct resolve_item *it = realloc(g->dns_job.items, g->n_dns * sizeof(*it));

		if (!it) {
			gw_err("%s: out of memory for Endpoint lookups", g->cfg.ifname);
			for (size_t i = 0; i < g->n_dns; i++)
				if (g->dns[i].next <= now)
					g->dns[i].next = now + (uint64_t)g->dns_interval * NSEC_PER_SEC;
			dns_arm(g);
			return;
		}
		g->dns_job.items = it;
		g->dns_job_cap = g->n_dns;
	}
	for (size_t i = 0; i < g->n_dns; i++) {
		struct gw_dns *d = &g->dns[i];
		const struct wg_peer *p = wg_peer_find(&g->dev, d->pub);

		if (d->next > now)
			continue;
		if (!p || (d->resolved && !d->changed && handshake_fresh(g, p, wall)) ||
		    !(g->dns_job.items[n].text = strdup(d->text))) {
			d->next = now + (uint64_t)g->dns_interval * NSEC_PER_SEC;
			continue;
		}
		g->dns_job.items[n++].id = i;
	}
	g->dns_job.n = n;
	g->dns_job_gen = g->dns_gen;
	if (n && resolver_submit(&g->resolver, &g->dns_job) == 0)
		return;
	for (size_t i = 0; i < n; i++)
		free(g->dns_job.items[i].text);
	g->dns_job.n = 0;
	dns_arm(g);
}

static void dns_job_free(struct resolve_job *job)
{
	for (size_t i = 0; i < job->n; i++) {
		free(job->items[i].text);
		job->items[i].text = NULL;
	}
	job->n = 0;
}

/* A lookup's answer on the loop: the endpoint is set when the name resolves
 * to another address and the peer has no fresh session (or the name is new
 * for the peer).  Answers for a list that changed meanwhile are dropped:
 * the names still due are looked up again at once. */
static void dns_done(struct resolver *r, struct resolve_job *job)
{
	struct gw *g = container_of(r, struct gw, resolver);
	uint64_t now = gw_mono(), wall = gw_wall();

	for (size_t i = 0; i < job->n && g->dns_job_gen == g->dns_gen; i++) {
		const struct resolve_item *it = &job->items[i];
		struct gw_dns *d = &g->dns[it->id];
		struct wg_peer *p = wg_peer_find(&g->dev, d->pub);
		char was[64], is[64];
		bool had;

		if (!p)
			continue;
		had = p->endpoint.len;
		if (it->err) {
			if (d->resolved && !d->failing)
				gw_warn("%s:%u: Endpoint %s does not resolve now: keeping the endpoint",
				        g->cfg.path, d->line, d->text);
			d->failing = true;
			if (!d->resolved && (d->retry *= 2) > g->dns_interval)
				d->retry = g->dns_interval;
			d->next = now + (uint64_t)(d->resolved ? g->dns_interval : d->retry) * NSEC_PER_SEC;
			continue;
		}
		d->resolved = true;
		d->failing = false;
		d->next = now + (uint64_t)g->dns_interval * NSEC_PER_SEC;
		if (had && p->endpoint.len == it->ep.len &&
		    !memcmp(p->endpoint.addr, it->ep.addr, it->ep.len)) {
			d->changed = false;
			continue;
		}
		if (had && !d->changed && handshake_fresh(g, p, wall))
			continue;
		d->changed = false;
		udp_endpoint_format(&it->ep, is, sizeof(is));
		if (had) {
			udp_endpoint_format(&p->endpoint, was, sizeof(was));
			gw_notice("%s:%u: Endpoint %s now resolves to %s (was %s)", g->cfg.path,
			          d->line, d->text, is, was);
		} else {
			gw_log("%s:%u: Endpoint %s resolves to %s", g->cfg.path, d->line, d->text,
			       is);
		}
		wg_peer_set_endpoint(p, &it->ep);
		if (!had)
			wg_peer_up(&g->dev, p, now, wall);
	}
	dns_job_free(job);
	dns_arm(g);
}

static void dns_start(struct gw *g)
{
	int err;

	if (g->resolver.started || !g->n_dns)
		return;
	err = resolver_start(&g->resolver, g->loop, dns_done);
	if (err)
		gw_warn("%s: no resolver thread (%s): Endpoint names stay as they resolved "
		        "at start", g->cfg.ifname, strerror(-err));
}

static bool dns_text_in(const struct gw_dns *d, size_t n, const char *text)
{
	for (size_t i = 0; i < n; i++)
		if (d[i].text == text)
			return true;
	return false;
}

int gw_dns_sync(struct gw *g)
{
	struct gw_dns *nd = calloc(g->cfg.n_peers ? g->cfg.n_peers : 1, sizeof(*nd));
	uint64_t now = gw_mono();
	size_t n = 0;

	if (!nd)
		goto oom;
	for (size_t i = 0; i < g->cfg.n_peers; i++) {
		const struct config_peer *cp = &g->cfg.peers[i];
		struct gw_dns *d = &nd[n], *old = NULL;
		struct wg_endpoint ep;

		if (!cp->endpoint || udp_endpoint_numeric(&ep, cp->endpoint) != -ENOENT)
			continue;
		for (size_t j = 0; j < g->n_dns && !old; j++)
			if (g->dns[j].text && !strcmp(g->dns[j].text, cp->endpoint) &&
			    !sodium_memcmp(g->dns[j].pub, cp->public_key, KEY_LEN))
				old = &g->dns[j];
		if (old) {
			*d = *old; /* its text too: freed with the old list unless kept */
		} else {
			if (!(d->text = strdup(cp->endpoint)))
				goto oom;
			memcpy(d->pub, cp->public_key, KEY_LEN);
			d->retry = 1;
			d->next = now;
			/* a name that replaces another, or an address, for a peer
			 * that has an endpoint (a new peer has none yet) */
			const struct wg_peer *wp = wg_peer_find(&g->dev, cp->public_key);

			d->changed = wp && wp->endpoint.len;
		}
		d->line = cp->line;
		n++;
	}
	for (size_t j = 0; j < g->n_dns; j++)
		if (!dns_text_in(nd, n, g->dns[j].text))
			free(g->dns[j].text);
	free(g->dns);
	g->dns = nd;
	g->n_dns = n;
	g->dns_gen++;
	if (g->dns_live) {
		dns_start(g);
		dns_arm(g);
	}
	return 0;
oom:
	for (size_t j = 0; nd && j < n; j++)
		if (!dns_text_in(g->dns, g->n_dns, nd[j].text))
			free(nd[j].text);
	free(nd);
	/* without memory for the new list, the old one keeps only what still
	 * holds: a name a peer no longer has must not come back over the
	 * endpoint set instead */
	n = 0;
	for (size_t j = 0; j < g->n_dns; j++) {
		bool kept = false;

		for (size_t i = 0; i < g->cfg.n_peers && !kept; i++)
			kept = g->cfg.peers[i].endpoint &&
			       !strcmp(g->cfg.peers[i].endpoint, g->dns[j].text) &&
			       !sodium_memcmp(g->cfg.peers[i].public_key, g->dns[j].pub, KEY_LEN);
		if (kept)
			g->dns[n++] = g->dns[j];
		else
			free(g->dns[j].text);
	}
	g->n_dns = n;
	g->dns_gen++;
	gw_err("%s: out of memory: new Endpoint names are not followed for this change",
	       g->cfg.ifname);
	return -ENOMEM;
}

/* At start (no loop yet): each name looked up once now; a failure is
 * retried in the background. */
static void dns_first(struct gw *g)
{
	for (size_t i = 0; i < g->n_dns; i++) {
		struct gw_dns *d = &g->dns[i];
		struct wg_peer *p = wg_peer_find(&g->dev, d->pub);
		struct wg_endpoint ep;
		char text[64];

		d->changed = false;
		if (!p)
			continue;
		if (udp_endpoint_resolve(&ep, d->text) == 0) {
			udp_endpoint_format(&ep, text, sizeof(text));
			gw_log("%s:%u: Endpoint %s resolves to %s", g->cfg.path, d->line, d->text,
			       text);
			wg_peer_set_endpoint(p, &ep);
			d->resolved = true;
			d->next = gw_mono() + (uint64_t)g->dns_interval * NSEC_PER_SEC;
		} else {
			gw_warn("%s:%u: Endpoint %s does not resolve: trying again in the background",
			        g->cfg.path, d->line, d->text);
			d->failing = true;
			d->next = gw_mono() + (uint64_t)d->retry * NSEC_PER_SEC;
		}
	}
}

/* An Endpoint address is set now; a host name waits for dns_first. */
static int add_endpoint(struct gw *g, struct wg_peer *p, const struct config_peer *cp)
{
	struct wg_endpoint ep;
	int err = udp_endpoint_numeric(&ep, cp->endpoint);

	if (!err)
		wg_peer_set_endpoint(p, &ep);
	else if (err != -ENOENT)
		gw_err("%s:%u: Endpoint %s: not host:port", g->cfg.path, cp->line, cp->endpoint);
	return err == -ENOENT ? 0 : err;
}

/* GW_DNS_INTERVAL=N in the environment: look names up every N seconds
 * (1..3600), a session stale after 135/120 of that (the defaults' ratio). */
static void dns_intervals(struct gw *g)
{
	const char *e = getenv("GW_DNS_INTERVAL");
	char *end;
	unsigned long v = e && *e ? strtoul(e, &end, 10) : 0;

	g->dns_interval = GW_DNS_INTERVAL;
	g->dns_stale = GW_DNS_STALE;
	if (!e || !*e)
		return;
	if (*end || v < 1 || v > 3600) {
		gw_warn("%s: GW_DNS_INTERVAL=%s: not 1..3600 seconds; %u it is", g->cfg.ifname, e,
		        g->dns_interval);
		return;
	}
	g->dns_interval = (unsigned)v;
	g->dns_stale = (unsigned)((v * GW_DNS_STALE + GW_DNS_INTERVAL - 1) / GW_DNS_INTERVAL);
}

static int add_peers(struct gw *g)
{
	dns_intervals(g);
	for (size_t i = 0; i < g->cfg.n_peers; i++) {
		const struct config_peer *cp = &g->cfg.peers[i];
		struct wg_peer *p;
		int err;

		p = wg_peer_add(&g->dev, cp->public_key, cp->has_psk ? cp->preshared_key : NULL,
				cp->persistent_keepalive, &err);
		if (!p) {
			gw_err("%s:%u: peer: %s", g->cfg.path, cp->line, strerror(-err));
			return err;
		}
		/* its conntrack owner id (PeerConntrackMax): 1.., 0 past 65535 */
		p->user = (void *)(uintptr_t)cp->owner;
		for (size_t j = 0; j < cp->n_allowed_ips; j++) {
			const struct cidr *c = &cp->allowed_ips[j];

			err = wg_peer_allow(&g->dev, p, c->family, c->addr, c->prefix);
			if (err) {
				gw_err("%s:%u: allowed ips: %s", g->cfg.path, cp->line,
				       strerror(-err));
				return err;
			}
		}
		if (cp->endpoint && (err = add_endpoint(g, p, cp)))
			return err;
	}
	if (gw_dns_sync(g))
		return -ENOMEM;
	dns_first(g);
	return 0;
}

/* The UDP sockets a re-exec handed over (gw/handover.h), bound and marked
 * already: 0, or -ENOENT (none: open them). */
static int handover_udp(struct gw *g, struct gw_socks *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	s->fd4 = calloc(g->nio, sizeof(int));
	s->fd6 = calloc(g->nio, sizeof(int));
	if (!s->fd4 || !s->fd6) {
		free(s->fd4);
		free(s->fd6);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < g->nio; i++) {
		s->fd4[i] = handover_take("udp4", i);
		s->fd6[i] = handover_take("udp6", i);
	}
	if (s->fd4[0] < 0 || getsockname(s->fd4[0], (struct sockaddr *)&ss, &len) < 0 ||
	    ss.ss_family != AF_INET) {
		gw_udp_close(g, s);
		return -ENOENT;
	}
	s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	for (unsigned i = 1; i < g->nio; i++)
		if (s->fd4[i] < 0) {
			gw_err("%s: handover: no UDP socket for worker %u", g->cfg.ifname, i);
			gw_udp_close(g, s);
			return -EINVAL;
		}
	return 0;
}

/* The WireGuard sockets with their offloads, then each worker's receive
 * batch: its slots hold a coalesced 64 KiB when GRO is on. */
static int open_sockets(struct gw *g, size_t mtu)
{
	size_t slot = MSG_DATA_MIN_LEN + mtu + 256;
	struct gw_socks s;
	bool gro = false;
	int ret;

	ret = handover_active() ? handover_udp(g, &s) : -ENOENT;
	if (ret == -ENOENT)
		ret = gw_udp_open(g, g->cfg.listen_port, g->cfg.fwmark, &s);
	if (ret) {
		gw_err("%s: udp port %u%s: %s", g->cfg.ifname, g->cfg.listen_port,
		       g->cfg.fwmark ? " with FwMark" : "", strerror(-ret));
		return ret;
	}
	g->port = s.port;
	for (unsigned i = 0; i < g->nio; i++) {
		struct gw_io *io = &g->io[i];

		io->udp4 = s.fd4[i];
		io->udp6 = s.fd6[i];
		io->tx4.gso = udp_gso_supported(io->udp4);
		gro = udp_gro_enable(io->udp4);
		if (io->udp6 >= 0) {
			io->tx6.gso = udp_gso_supported(io->udp6);
			gro |= udp_gro_enable(io->udp6);
		}
		if (udp_batch_init(&io->rx, gro && slot < UDP_GRO_SLOT ? UDP_GRO_SLOT : slot)) {
			gw_err("%s: out of memory", g->cfg.ifname);
			free(s.fd4);
			free(s.fd6);
			return -ENOMEM;
		}
		io->rx.dgram_max = slot; /* as without GRO */
	}
	free(s.fd4);
	free(s.fd6);
	if (!g->io[0].tx4.gso)
		gw_notice("%s: no UDP GSO in this kernel: one send per datagram", g->cfg.ifname);
	if (!gro)
		gw_notice("%s: no UDP GRO in this kernel: one receive per datagram", g->cfg.ifname);
	if (g->threaded) {
		g->ctl_io.udp4 = g->io[0].udp4;
		g->ctl_io.udp6 = g->io[0].udp6;
		g->ctl_io.tx4.gso = g->io[0].tx4.gso;
		g->ctl_io.tx6.gso = g->io[0].tx6.gso;
		g->ctl_io.tun = -1;
	}
	return 0;
}

static int open_tun(struct gw *g)
{
	uint16_t mtu = g->cfg.mtu ? g->cfg.mtu : WG_DEFAULT_MTU;
	int *fds = calloc(g->nio, sizeof(int));
	const char *what;
	int ret, offload_err;
	bool handed;

	if (!fds)
		return -ENOMEM;
	/* a re-exec's queues: the device, its addresses and routes are there */
	for (unsigned i = 0; i < g->nio; i++)
		fds[i] = handover_take("tun", i);
	handed = fds[0] >= 0;
	if (handed) {
		for (unsigned i = 1; i < g->nio; i++)
			if (fds[i] < 0) {
				gw_err("%s: handover: no TUN queue for worker %u", g->cfg.ifname, i);
				for (unsigned j = 0; j < g->nio; j++)
					if (fds[j] >= 0)
						close(fds[j]);
				free(fds);
				return -EINVAL;
			}
		offload_err = tun_vnet(fds[0]);
		ret = 0;
	} else {
		ret = tun_open(g->cfg.ifname, g->nio, fds, &offload_err);
	}
	if (ret < 0) {
		gw_err("%s: /dev/net/tun: %s", g->cfg.ifname, strerror(-ret));
		free(fds);
		return ret;
	}
	for (unsigned i = 0; i < g->nio; i++)
		g->io[i].tun = fds[i];
	free(fds);
	g->tun_vnet = !offload_err;
	if (offload_err) {
		gw_notice("%s: no TUN offloads in this kernel (%s): one read per packet",
		          g->cfg.ifname, strerror(-offload_err));
	} else {
		for (unsigned i = 0; i < g->nio; i++) {
			struct gw_io *io = &g->io[i];

			io->grobuf = malloc(GRO_MAX);
			if (!io->grobuf) {
				gw_err("%s: out of memory", g->cfg.ifname);
				return -ENOMEM;
			}
			gro_init(&io->gro, io->grobuf, GRO_MAX);
			io->gro.trusted = true; /* peers' packets, authenticated (gro.h) */
		}
	}
	ret = handed ? 0 : tun_configure(g->cfg.ifname, mtu, g->cfg.addresses,
					  g->cfg.n_addresses, &what);
	if (ret) {
		gw_err("%s: %s: %s", g->cfg.ifname, what, strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < g->cfg.n_addresses && !g->addr4; i++)
		if (g->cfg.addresses[i].family == AF_INET)
			memcpy(&g->addr4, g->cfg.addresses[i].addr, 4), g->addr4 = ntohl(g->addr4);
	if (g->addr4 && !handed && (ret = tun_accept_local(g->cfg.ifname)))
		gw_warn("%s: accept_local: %s (ICMP unreachable will not reach the host; "
		        "where /proc/sys is read-only, preset net.ipv4.conf.all.accept_local=1)",
		        g->cfg.ifname, strerror(-ret));
	for (size_t i = 0; i < g->cfg.n_addresses && !g->has_addr6; i++)
		if (g->cfg.addresses[i].family == AF_INET6) {
			memcpy(g->addr6, g->cfg.addresses[i].addr, 16);
			g->has_addr6 = true;
		}
	return 0;
}

/* Workers = N, else one per CPU. */
static unsigned workers_wanted(const struct config *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (c->workers)
		return c->workers;
	return n < 1 ? 1 : n > CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX : (unsigned)n;
}

int gw_setup(struct gw *g, struct config *cfg)
{
	size_t mtu;
	int ret;

	memset(g, 0, sizeof(*g));
	g->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if (!g->cfg.has_private_key) {
		gw_err("%s: no PrivateKey", g->cfg.path);
		return -EINVAL;
	}
	if (g->cfg.user && (ret = priv_user_lookup(g->cfg.user, &g->user))) {
		gw_err("%s:%u: User: '%s': %s", g->cfg.path, g->cfg.user_line, g->cfg.user,
		       ret == -ENOENT ? "no such user" :
		       ret == -EINVAL ? "not a user name or uid" : strerror(-ret));
		return ret;
	}
	mtu = g->cfg.mtu ? g->cfg.mtu : WG_DEFAULT_MTU;
	ret = wg_device_init(&g->dev, g->cfg.private_key, g->cfg.n_peers ? g->cfg.n_peers : 1, mtu,
			     on_emit, g);
	if (ret) {
		gw_err("%s: PrivateKey: %s", g->cfg.path, strerror(-ret));
		return ret;
	}
	g->dev_up = true;
	/* the device holds its own copy now */
	sodium_memzero(g->cfg.private_key, sizeof(g->cfg.private_key));
	peers_normalize(&g->cfg);
	ret = add_peers(g);
	if (ret)
		return ret;
	/* the sessions of a restart's state file, before anything is sent */
	ret = keep_load(g);
	if (ret)
		goto oom;
	g->nio = workers_wanted(&g->cfg);
	g->threaded = g->nio > 1;
	g->io = calloc(g->nio, sizeof(*g->io));
	g->sendbuf_size = MSG_DATA_MIN_LEN + mtu + 16;
	g->sendbuf = calloc(1, g->sendbuf_size);
	if (!g->io || !g->sendbuf)
		goto oom;
	for (unsigned i = 0; i <= g->nio; i++) {
		struct gw_io *io = i < g->nio ? &g->io[i] : &g->ctl_io;

		io->g = g;
		io->id = i < g->nio ? i : 0;
		io->udp4 = io->udp6 = io->tun = io->new4 = io->new6 = -1;
	}
	if (g->threaded)
		pthread_mutex_init(&g->lock, NULL);
	for (unsigned i = 0; i < g->nio; i++)
		if (gw_io_init(&g->io[i], mtu))
			goto oom;
	if (g->threaded && gw_io_init(&g->ctl_io, mtu))
		goto oom;
	g->cio = g->threaded ? &g->ctl_io : &g->io[0];
	g->cur = g->cio;
	ret = open_sockets(g, mtu);
	if (ret)
		return ret;
	ret = open_tun(g);
	if (ret)
		return ret;
	g->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!g->loop || gw_workers_watch(g))
		goto oom;
	ev_signal_init(&g->sigint_w, signal_cb, SIGINT);
	g->sigint_w.data = g;
	ev_signal_start(g->loop, &g->sigint_w);
	ev_signal_init(&g->sigterm_w, signal_cb, SIGTERM);
	g->sigterm_w.data = g;
	ev_signal_start(g->loop, &g->sigterm_w);
	ev_signal_init(&g->sighup_w, sighup_cb, SIGHUP);
	g->sighup_w.data = g;
	ev_signal_start(g->loop, &g->sighup_w);
	ev_signal_init(&g->sigusr2_w, sigusr2_cb, SIGUSR2);
	g->sigusr2_w.data = g;
	ev_signal_start(g->loop, &g->sigusr2_w);
	{
		/* a re-exec blocked them across the exec: what came meanwhile
		 * is delivered now, to these watchers */
		sigset_t sigs;

		handover_signals(&sigs);
		pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	}
	ev_init(&g->timer_w, timer_cb);
	ev_prepare_init(&g->prepare_w, prepare_cb);
	ev_prepare_start(g->loop, &g->prepare_w);
	ret = dp_setup(g);
	if (ret)
		return ret;
	/* last: the control socket appearing means gw is ready */
	if (g->cfg.control_socket)
		snprintf(g->ctl_path, sizeof(g->ctl_path), "%s", g->cfg.control_socket);
	else
		ctl_default_path(g->ctl_path, sizeof(g->ctl_path), g->cfg.ifname);
	ret = uapi_listen(g);
	if (ret)
		return ret;
	ret = handover_take("ctl", 0);
	if (ret < 0)
		ret = ctl_listen(g->ctl_path, 0700);
	if (ret < 0) {
		gw_err("%s: control socket %s: %s", g->cfg.ifname, g->ctl_path, strerror(-ret));
		g->ctl_path[0] = 0;
		return ret;
	}
	g->ctl.has_body = ctl_ops_has_body;
	g->ctl.handle = ctl_ops_handle;
	g->ctl.arg = g;
	ctl_server_start(&g->ctl, g->loop, ret);
	/* set up: the state file read is spent (nothing was sent with it) */
	ret = keep_commit(g);
	if (ret)
		return ret;
	keep_done(g);
	handover_done(g->cfg.ifname);
	/* everything privileged is done: keep only what the loop needs, then
	 * allow only the system calls it makes */
	ret = priv_drop(g->cfg.ifname, &g->user, priv_needed(g), g->cfg.keep_state != NULL);
	if (ret)
		return ret;
	return sandbox_enter(g->cfg.ifname, sandbox_mode_env(), g->cfg.keep_state != NULL,
			     handover_active());
oom:
	gw_err("%s: out of memory", g->cfg.ifname);
	return -ENOMEM;
}

/* SIGUSR2 with the workers stopped: the state file as on SIGTERM, then the
 * re-exec (gw/handover.h), which returns only when it fails: the file goes,
 * the workers start again and gw runs on.  Nonzero: gw stops (the workers
 * did not start again). */
static int reexec(struct gw *g)
{
	int ret;

	dp_flush(g, gw_mono());
	gw_io_flush(g->cio);
	if (keep_save(g) == 0) {
		handover_exec(g);
		if (unlink(g->cfg.keep_state) < 0 && errno != ENOENT)
			gw_err("%s: KeepState %s: %s (the next start reads it)", g->cfg.ifname,
			       g->cfg.keep_state, strerror(errno));
	}
	g->stop_signal = 0;
	for (unsigned i = 0; i < g->nio; i++)
		g->io[i].stop = false;
	if (g->threaded && (ret = gw_workers_start(g))) {
		gw_err("%s: worker threads: %s", g->cfg.ifname, strerror(-ret));
		gw_workers_stop(g);
		return ret;
	}
	gw_notice("%s: SIGUSR2: the upgrade failed, running on", g->cfg.ifname);
	return 0;
}

void gw_run(struct gw *g)
{
	uint64_t now = gw_mono(), wl = gw_wall();
	int ret;

	gw_notice("%s: up, listening on port %u, %zu peer(s), mtu %zu, %u worker%s, control %s, "
		  "uapi %s", g->cfg.ifname, g->port, g->dev.npeers, g->dev.mtu, g->nio,
	       g->nio == 1 ? "" : "s", g->ctl_path, g->uapi_path[0] ? g->uapi_path : "off");
	gw_lock(g, g->cio);
	for (size_t i = 0; i < g->dev.npeers; i++)
		wg_peer_up(&g->dev, g->dev.peers[i], now, wl);
	/* after priv_drop: the thread has only what the process kept; names
	 * that come later (UAPI set, SIGHUP) start it then */
	ev_init(&g->dns_w, dns_cb);
	g->dns_live = true;
	dns_start(g);
	dns_arm(g);
	if (g->threaded && (ret = gw_workers_start(g))) {
		gw_err("%s: worker threads: %s", g->cfg.ifname, strerror(-ret));
		gw_workers_stop(g);
		gw_unlock(g);
		return;
	}
	for (;;) {
		notify_ready(g);
		ev_run(g->loop, 0);
		if (g->threaded)
			gw_workers_stop(g);
		if (g->stop_signal != SIGUSR2 || (ret = reexec(g)))
			break;
	}
	/* SIGTERM with KeepState: the state for the next start, and the
	 * uplink's filters and ports left for it (gw/keep.h) */
	if (g->cfg.keep_state && g->stop_signal == SIGTERM && keep_save(g) == 0 && g->uplink_on)
		uplink_keep(&g->uplink);
	gw_unlock(g);
}

void gw_teardown(struct gw *g)
{
	if (resolver_stop(&g->resolver)) /* its job is g->dns_job */
		dns_job_free(&g->dns_job);
	for (size_t i = 0; i < g->n_dns; i++)
		free(g->dns[i].text);
	free(g->dns);
	free(g->dns_job.items);
	keep_done(g);
	dp_teardown(g);
	ctl_server_stop(&g->ctl);
	ctl_server_stop(&g->uapi);
	if (g->uapi_path[0] && unlink(g->uapi_path) < 0 && errno != ENOENT)
		gw_warn("%s: UAPI socket %s stays: %s (the next gw run replaces it)",
		        g->cfg.ifname, g->uapi_path, strerror(errno));
	/* after a drop to User, its directory may not be ours to write */
	if (g->ctl_path[0] && unlink(g->ctl_path) < 0 && errno != ENOENT)
		gw_warn("%s: control socket %s stays: %s (the next gw run replaces it)",
		        g->cfg.ifname, g->ctl_path, strerror(errno));
	for (unsigned i = 0; g->io && i < g->nio; i++)
		gw_io_free(&g->io[i], true);
	free(g->io);
	if (g->threaded) {
		gw_io_free(&g->ctl_io, false); /* its sockets are worker 0's */
		pthread_mutex_destroy(&g->lock);
	}
	if (g->loop)
		ev_loop_destroy(g->loop);
	if (g->sendbuf) /* plaintext of the last packet sent */
		sodium_memzero(g->sendbuf, g->sendbuf_size);
	free(g->sendbuf);
	if (g->dev_up)
		wg_device_destroy(&g->dev);
	config_free(&g->cfg);
	sodium_memzero(g, sizeof(*g));
}
