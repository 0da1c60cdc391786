/* SPDX-License-Identifier: MIT */
/* Peers changed at runtime: see peers.h. */
#include "gw/peers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw/gw.h"
#include "gw/log.h"
#include "gw/uapi.h"
#include "nat/ct.h"
#include "nat/sbuf.h"

/* One peer of the model: its config, and its endpoint when set now. */
struct mpeer {
	struct config_peer c;
	bool set_ep;
	struct wg_endpoint ep;
	struct wg_peer *live;  /* the device's peer of this key, if any */
	struct wg_peer *fresh; /* created for it (prepare) */
};

struct model {
	struct mpeer *p;
	size_t n;
};

static bool cidr_same(const struct cidr *a, const struct cidr *b)
{
	struct cidr x = *a, y = *b;

	if (x.family != y.family || x.prefix != y.prefix)
		return false;
	uapi_cidr_mask(&x);
	uapi_cidr_mask(&y);
	return !memcmp(x.addr, y.addr, sizeof(x.addr));
}

static void mpeer_free(struct mpeer *m)
{
	config_peer_free(&m->c);
	sodium_memzero(m, sizeof(*m));
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		mpeer_free(&m->p[i]);
	free(m->p);
	m->p = NULL;
	m->n = 0;
}

static int peer_copy(struct config_peer *to, const struct config_peer *from)
{
	*to = *from;
	to->allowed_ips = NULL;
	to->endpoint = NULL;
	if (from->n_allowed_ips) {
		to->allowed_ips = malloc(from->n_allowed_ips * sizeof(*to->allowed_ips));
		if (!to->allowed_ips)
			goto fail;
		memcpy(to->allowed_ips, from->allowed_ips,
		       from->n_allowed_ips * sizeof(*to->allowed_ips));
	}
	if (from->endpoint && !(to->endpoint = strdup(from->endpoint)))
		goto fail;
	return 0;
fail:
	config_peer_free(to);
	return -ENOMEM;
}

static int model_init(struct model *m, const struct config *c)
{
	m->n = 0;
	m->p = calloc(c->n_peers ? c->n_peers : 1, sizeof(*m->p));
	if (!m->p)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_peers; i++) {
		if (peer_copy(&m->p[i].c, &c->peers[i])) {
			model_free(m);
			return -ENOMEM;
		}
		m->n++;
	}
	return 0;
}

static long model_find(const struct model *m, const uint8_t pub[static KEY_LEN])
{
	long found = -1;

	for (size_t i = 0; i < m->n; i++)
		if (!sodium_memcmp(m->p[i].c.public_key, pub, KEY_LEN))
			found = (long)i;
	return found;
}

static long model_add(struct model *m, const uint8_t pub[static KEY_LEN])
{
	struct mpeer *grown = uapi_secret_grow(m->p, m->n * sizeof(*grown),
					       (m->n + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	m->p = grown;
	memset(&m->p[m->n], 0, sizeof(*grown));
	memcpy(m->p[m->n].c.public_key, pub, KEY_LEN);
	return (long)m->n++;
}

static void model_del(struct model *m, size_t i)
{
	mpeer_free(&m->p[i]);
	memmove(&m->p[i], &m->p[i + 1], (m->n - i - 1) * sizeof(*m->p));
	m->n--;
	sodium_memzero(&m->p[m->n], sizeof(*m->p)); /* the copy the move left */
}

static void aip_drop(struct config_peer *p, const struct cidr *c)
{
	for (size_t k = 0; k < p->n_allowed_ips; k++)
		if (cidr_same(&p->allowed_ips[k], c)) {
			memmove(&p->allowed_ips[k], &p->allowed_ips[k + 1],
				(p->n_allowed_ips - k - 1) * sizeof(*p->allowed_ips));
			p->n_allowed_ips--;
			return;
		}
}

/* Peer i of the model takes prefix c: from any other peer that has it
 * (cryptokey routing holds a prefix once), appended unless it has it. */
static int aip_take(struct model *m, size_t i, const struct cidr *c)
{
	struct config_peer *p = &m->p[i].c;
	struct cidr *grown;

	for (size_t j = 0; j < m->n; j++)
		if (j != i)
			aip_drop(&m->p[j].c, c);
	for (size_t k = 0; k < p->n_allowed_ips; k++)
		if (cidr_same(&p->allowed_ips[k], c))
			return 0;
	grown = realloc(p->allowed_ips, (p->n_allowed_ips + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->allowed_ips = grown;
	p->allowed_ips[p->n_allowed_ips] = *c;
	uapi_cidr_mask(&p->allowed_ips[p->n_allowed_ips]);
	p->n_allowed_ips++;
	return 0;
}

void peers_normalize(struct config *c)
{
	/* later peers take a prefix from earlier ones, as the device's
	 * table gives it to the last insert */
	for (size_t i = 0; i < c->n_peers; i++) {
		struct config_peer *p = &c->peers[i];
		size_t k = 0;

		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			struct cidr x = p->allowed_ips[j];
			bool dup = false;

			uapi_cidr_mask(&x);
			for (size_t q = 0; q < k; q++)
				dup |= cidr_same(&p->allowed_ips[q], &x);
			if (!dup)
				p->allowed_ips[k++] = x;
		}
		p->n_allowed_ips = k;
		for (size_t j = 0; j < i; j++)
			for (size_t q = 0; q < p->n_allowed_ips; q++)
				aip_drop(&c->peers[j], &p->allowed_ips[q]);
	}
}

/* One peer block on the model, as wireguard-go takes its lines. */
static int model_op(struct model *m, const struct uapi_peer_op *op)
{
	static const uint8_t zero[KEY_LEN];
	long i = model_find(m, op->pub);
	bool created = false;
	struct config_peer *p;

	if (i < 0) {
		if (op->remove || op->update_only)
			return 0;
		i = model_add(m, op->pub);
		if (i < 0)
			return (int)i;
		created = true;
	}
	p = &m->p[i].c;
	if (op->has_psk) {
		memcpy(p->preshared_key, op->psk, KEY_LEN);
		p->has_psk = sodium_memcmp(op->psk, zero, KEY_LEN) != 0;
	}
	if (op->has_endpoint || op->endpoint_later) {
		char *t = strdup(op->endpoint_text);

		if (!t)
			return -ENOMEM;
		free(p->endpoint);
		p->endpoint = t;
		m->p[i].set_ep = op->has_endpoint;
		if (op->has_endpoint)
			m->p[i].ep = op->endpoint;
	}
	if (op->has_keepalive)
		p->persistent_keepalive = op->keepalive;
	if (op->replace_aips)
		p->n_allowed_ips = 0;
	for (size_t k = 0; k < op->naips; k++) {
		int ret = aip_take(m, (size_t)i, &op->aips[k]);

		if (ret)
			return ret;
	}
	if (op->remove || (created && op->update_only))
		model_del(m, (size_t)i);
	return 0;
}

/* The set on a model of the live peers; own: the public key the device
 * will have. */
static int model_build(struct model *m, struct gw *g, const struct uapi_set *s,
		       const uint8_t own[static KEY_LEN])
{
	int ret = model_init(m, &g->cfg);

	if (ret)
		return ret;
	if (s->replace_peers)
		while (m->n)
			model_del(m, m->n - 1);
	/* a new private key takes the peer of its public key out */
	for (long i; (i = model_find(m, own)) >= 0;)
		model_del(m, (size_t)i);
	for (size_t k = 0; k < s->npeers && !ret; k++)
		if (sodium_memcmp(s->peers[k].pub, own, KEY_LEN))
			ret = model_op(m, &s->peers[k]);
	if (ret)
		model_free(m);
	return ret;
}

/* Owner ids: kept by peers that stay, the smallest free one for a new
 * peer (0 when all 65535 are taken: no per-peer limit). */
static int assign_owners(struct model *m, struct gw *g)
{
	uint8_t *used = calloc(UINT16_MAX + 1, 1);

	if (!used)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		struct mpeer *p = &m->p[i];

		p->live = wg_peer_find(&g->dev, p->c.public_key);
		p->c.owner = p->live ? (uint16_t)(uintptr_t)p->live->user : 0;
		used[p->c.owner] = 1;
	}
	for (size_t i = 0, next = 1; i < m->n; i++) {
		if (m->p[i].live)
			continue;
		while (next <= UINT16_MAX && used[next])
			next++;
		if (next <= UINT16_MAX) {
			m->p[i].c.owner = (uint16_t)next;
			used[next] = 1;
		}
	}
	free(used);
	return 0;
}

static void mark_gone(struct gw *g, const struct model *m, bool *gone)
{
	for (size_t i = 0; i < g->dev.npeers; i++) {
		gone[i] = true;
		for (size_t j = 0; j < m->n; j++)
			if (m->p[j].live == g->dev.peers[i])
				gone[i] = false;
	}
}

/* What can fail, aside: the device's room and new peers, the tables, the
 * sockets.  On error everything made here is undone. */
struct prep {
	struct allowedips aips, route;
	struct config_peer *cfg;   /* the new g->cfg.peers */
	struct gw_socks socks;
	bool rebind, remark;
};

static void prep_undo(struct gw *g, struct model *m, struct prep *pr)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->p[i].fresh) {
			wg_peer_free(&g->dev, m->p[i].fresh);
			m->p[i].fresh = NULL;
		}
	allowedips_destroy(&pr->aips);
	allowedips_destroy(&pr->route);
	free(pr->cfg);
	pr->cfg = NULL;
	if (pr->rebind)
		gw_udp_close(g, &pr->socks);
	else if (pr->remark)
		gw_udp_mark(g, g->cfg.fwmark);
}

static int prepare(struct gw *g, struct model *m, const struct uapi_set *s, struct prep *pr,
		   char *why, size_t len)
{
	struct config tmp = g->cfg;
	uint32_t mark = s->has_fwmark ? s->fwmark : g->cfg.fwmark;
	int ret;

	*pr = (struct prep){ 0 };
	allowedips_init(&pr->aips);
	allowedips_init(&pr->route);
	ret = wg_device_reserve(&g->dev, m->n);
	if (!ret && !(pr->cfg = calloc(m->n ? m->n : 1, sizeof(*pr->cfg))))
		ret = -ENOMEM;
	for (size_t i = 0; i < m->n && !ret; i++) {
		struct mpeer *p = &m->p[i];

		if (!p->live)
			p->fresh = wg_peer_create(&g->dev, p->c.public_key,
						  p->c.has_psk ? p->c.preshared_key : NULL,
						  p->c.persistent_keepalive, &ret);
	}
	for (size_t i = 0; i < m->n && !ret; i++) {
		struct mpeer *p = &m->p[i];

		for (size_t k = 0; k < p->c.n_allowed_ips && !ret; k++)
			ret = allowedips_insert(&pr->aips, p->c.allowed_ips[k].family,
						p->c.allowed_ips[k].addr, p->c.allowed_ips[k].prefix,
						p->live ? p->live : p->fresh);
	}
	if (!ret) {
		/* gw's routing from the model's peers */
		struct config_peer *cp = calloc(m->n ? m->n : 1, sizeof(*cp));

		if (!cp) {
			ret = -ENOMEM;
		} else {
			for (size_t i = 0; i < m->n; i++)
				cp[i] = m->p[i].c; /* shallow: only read */
			tmp.peers = cp;
			tmp.n_peers = m->n;
			ret = route_table_build(&pr->route, &tmp);
			sodium_memzero(cp, (m->n ? m->n : 1) * sizeof(*cp));
			free(cp);
		}
	}
	if (ret) {
		snprintf(why, len, "%s", strerror(-ret));
		goto fail;
	}
	if (s->has_listen_port && s->listen_port != g->port) {
		ret = gw_udp_open(g, s->listen_port, mark, &pr->socks);
		if (ret) {
			snprintf(why, len, "listen_port %u: %s", s->listen_port, strerror(-ret));
			ret = ret == -EPERM || ret == -EACCES || ret == -EADDRINUSE ? -EADDRINUSE : ret;
			goto fail;
		}
		pr->rebind = true;
	} else if (s->has_fwmark && s->fwmark != g->cfg.fwmark) {
		pr->remark = true;
		ret = gw_udp_mark(g, mark);
		if (ret == -EPERM) {
			/* CAP_NET_ADMIN went with the privilege drop: taken and
			 * reported, on the sockets from the next start */
			gw_warn("%s: fwmark %u: %s after the privilege drop: the sockets keep "
			        "their mark until gw restarts with it (FwMark)", g->cfg.ifname, mark,
			        strerror(EPERM));
			ret = 0;
		} else if (ret) {
			snprintf(why, len, "fwmark %u: %s", mark, strerror(-ret));
			goto fail;
		}
	}
	return 0;
fail:
	prep_undo(g, m, pr);
	return ret;
}

int peers_apply(struct gw *g, const struct uapi_set *s, char *why, size_t len)
{
	uint64_t now = gw_mono(), wall = gw_wall();
	struct noise_keys keys;
	struct model m;
	struct prep pr;
	unsigned added = 0, removed = 0, flushed = 0;
	bool *gone = NULL;
	int ret;

	why[0] = 0;
	if (s->has_private_key) {
		ret = noise_keys_init(&keys, s->private_key);
		if (ret) {
			snprintf(why, len, "private_key: not a usable key");
			goto out_keys;
		}
	} else {
		memcpy(keys.pub, g->dev.keys.pub, KEY_LEN);
	}
	ret = model_build(&m, g, s, keys.pub);
	if (!ret)
		ret = assign_owners(&m, g);
	if (!ret && !(gone = calloc(g->dev.npeers + 1, sizeof(*gone))))
		ret = -ENOMEM;
	if (ret) {
		snprintf(why, len, "%s", strerror(-ret));
		goto out;
	}
	ret = prepare(g, &m, s, &pr, why, len);
	if (ret)
		goto out;

	/* --- from here on nothing fails --- */
	if (s->has_private_key)
		wg_device_set_private_key(&g->dev, s->private_key);
	mark_gone(g, &m, gone);
	for (size_t i = g->dev.npeers; i-- > 0;) {
		struct wg_peer *p = g->dev.peers[i];
		uint16_t owner = (uint16_t)(uintptr_t)p->user;

		if (!gone[i])
			continue;
		wg_peer_remove(&g->dev, p);
		if (g->nf)
			flushed += ct_flush_owner(nf_ct(g->nf), owner);
		removed++;
	}
	for (size_t i = 0; i < m.n; i++) {
		struct mpeer *p = &m.p[i];
		struct wg_peer *w = p->live ? p->live : p->fresh;

		if (p->fresh) {
			wg_peer_insert(&g->dev, p->fresh); /* room reserved */
			added++;
		} else {
			wg_peer_set_psk(w, p->c.has_psk ? p->c.preshared_key : NULL);
		}
		w->user = (void *)(uintptr_t)p->c.owner;
		if (p->set_ep)
			wg_peer_set_endpoint(w, &p->ep);
		if (p->live && w->persistent_keepalive != p->c.persistent_keepalive)
			wg_peer_set_keepalive(&g->dev, w, p->c.persistent_keepalive, now, wall);
	}
	wg_device_swap_aips(&g->dev, &pr.aips);
	route_table_swap(&g->route, &pr.route);
	if (pr.rebind)
		gw_udp_swap(g, &pr.socks);
	if (s->has_listen_port) {
		g->cfg.listen_port = s->listen_port;
		g->cfg.has_listen_port = true;
	}
	if (s->has_fwmark)
		g->cfg.fwmark = s->fwmark;
	for (size_t i = 0; i < g->cfg.n_peers; i++)
		config_peer_free(&g->cfg.peers[i]);
	free(g->cfg.peers);
	g->cfg.peers = pr.cfg; /* the model's configs move over */
	g->cfg.n_peers = m.n;
	for (size_t i = 0; i < m.n; i++) {
		g->cfg.peers[i] = m.p[i].c;
		memset(&m.p[i].c, 0, sizeof(m.p[i].c));
	}
	for (size_t i = 0; i < m.n; i++)
		if (m.p[i].fresh)
			wg_peer_up(&g->dev, m.p[i].fresh, now, wall);
	gw_dns_sync(g); /* logs its own failure; the change stands */
	snprintf(why, len, "%u peer(s) added, %u removed (%u conntrack entries flushed), %zu now",
		 added, removed, flushed, g->dev.npeers);
out:
	free(gone);
	model_free(&m);
out_keys:
	sodium_memzero(&keys, sizeof(keys));
	return ret;
}

/* The live peer of cfg peer i (the device holds the same keys). */
static struct wg_peer *live_of(struct gw *g, size_t i)
{
	return wg_peer_find(&g->dev, g->cfg.peers[i].public_key);
}

void peers_get(struct gw *g, struct sbuf *out)
{
	char text[INET6_ADDRSTRLEN + 8];

	uapi_key_hex(out, "private_key", g->dev.keys.priv);
	sbuf_printf(out, "listen_port=%u\n", g->port);
	if (g->cfg.fwmark)
		sbuf_printf(out, "fwmark=%u\n", (unsigned)g->cfg.fwmark);
	for (size_t i = 0; i < g->cfg.n_peers; i++) {
		const struct config_peer *c = &g->cfg.peers[i];
		struct wg_peer *p = live_of(g, i);

		if (!p)
			continue;
		uapi_key_hex(out, "public_key", c->public_key);
		uapi_key_hex(out, "preshared_key", p->hs.psk);
		sbuf_add(out, "protocol_version=1\n");
		if (p->endpoint.len) {
			udp_endpoint_format(&p->endpoint, text, sizeof(text));
			sbuf_printf(out, "endpoint=%s\n", text);
		}
		sbuf_printf(out, "last_handshake_time_sec=%llu\nlast_handshake_time_nsec=%llu\n"
			    "tx_bytes=%llu\nrx_bytes=%llu\npersistent_keepalive_interval=%u\n",
			    (unsigned long long)(p->last_handshake_wall / NSEC_PER_SEC),
			    (unsigned long long)(p->last_handshake_wall % NSEC_PER_SEC),
			    (unsigned long long)p->tx_bytes, (unsigned long long)p->rx_bytes,
			    p->persistent_keepalive);
		for (size_t k = 0; k < c->n_allowed_ips; k++) {
			cidr_format(&c->allowed_ips[k], text, sizeof(text));
			sbuf_printf(out, "allowed_ip=%s\n", text);
		}
	}
}

void peers_conf(struct gw *g, struct sbuf *out)
{
	struct config c = g->cfg;
	char path[PATH_MAX + 64], dir[PATH_MAX], *slash;

	/* as wg showconf: the port gw listens on */
	c.listen_port = g->port;
	c.has_listen_port = true;
	/* a relative Rules path is the config's directory's: absolute here,
	 * so the text works wherever it is saved */
	if (c.rules_path && c.rules_path[0] != '/') {
		snprintf(dir, sizeof(dir), "%s", g->cfg.path);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		else
			snprintf(dir, sizeof(dir), ".");
		snprintf(path, sizeof(path), "%.*s/%s", PATH_MAX - 1, dir, c.rules_path);
		if (realpath(path, dir))
			c.rules_path = dir;
	}
	config_format(&c, g->dev.keys.priv, out);
}

void peers_trace_info(struct gw *g, struct sbuf *out)
{
	char text[INET6_ADDRSTRLEN + 8];

	for (size_t i = 0; i < g->cfg.n_peers; i++) {
		const struct config_peer *c = &g->cfg.peers[i];

		sbuf_printf(out, "peer_owner=%u\n", c->owner);
		for (size_t k = 0; k < c->n_allowed_ips; k++) {
			cidr_format(&c->allowed_ips[k], text, sizeof(text));
			sbuf_printf(out, "peer_allowed_ip=%s\n", text);
		}
	}
}

/* The file's peer p as a peer block that sets all of it; its endpoint
 * only when the file changed it (a roamed endpoint stays otherwise). */
static int file_op(struct gw *g, const struct config_peer *p, struct uapi_peer_op *op)
{
	long live = -1;
	int ret;

	memcpy(op->pub, p->public_key, KEY_LEN);
	op->has_psk = true;
	if (p->has_psk)
		memcpy(op->psk, p->preshared_key, KEY_LEN);
	op->has_keepalive = true;
	op->keepalive = p->persistent_keepalive;
	op->replace_aips = true;
	op->aips = p->allowed_ips; /* borrowed */
	op->naips = p->n_allowed_ips;
	for (size_t i = 0; i < g->cfg.n_peers; i++)
		if (!sodium_memcmp(g->cfg.peers[i].public_key, p->public_key, KEY_LEN))
			live = (long)i;
	if (!p->endpoint ||
	    (live >= 0 && g->cfg.peers[live].endpoint && !strcmp(g->cfg.peers[live].endpoint, p->endpoint)))
		return 0;
	op->endpoint_text = p->endpoint; /* borrowed */
	/* a host name is looked up off the loop, as at start (gw_dns_sync);
	 * the file's parser has checked the host:port form */
	ret = udp_endpoint_numeric(&op->endpoint, p->endpoint);
	if (ret == -ENOENT) {
		op->endpoint_later = true;
	} else if (ret) {
		gw_err("%s:%u: endpoint %s: not host:port", g->cfg.path, p->line, p->endpoint);
		return ret;
	} else {
		op->has_endpoint = true;
	}
	return 0;
}

int peers_reload(struct gw *g)
{
	struct config c;
	struct config_error err;
	struct uapi_set s = { 0 };
	char why[256] = "";
	size_t n = 0, cap;
	int ret;

	ret = config_load(&c, g->cfg.path, NULL, &err);
	if (ret) {
		gw_err("%s: SIGHUP: %s; the peers stay", g->cfg.ifname, err.message);
		return ret;
	}
	if (c.log_level != g->cfg.log_level) {
		g->cfg.log_level = c.log_level;
		log_set_level(c.log_level ? c.log_level : LOG_INFO);
		gw_notice("%s: SIGHUP: LogLevel %s", g->cfg.ifname, log_level_name(log_level()));
	}
	peers_normalize(&c);
	cap = c.n_peers + g->cfg.n_peers + 1;
	s.peers = calloc(cap, sizeof(*s.peers));
	if (!s.peers) {
		ret = -ENOMEM;
		goto out;
	}
	s.has_private_key = true;
	memcpy(s.private_key, c.private_key, KEY_LEN);
	s.has_listen_port = c.has_listen_port;
	s.listen_port = c.listen_port;
	s.has_fwmark = true;
	s.fwmark = c.fwmark;
	/* peers the file no longer has go, as wg syncconf removes them */
	for (size_t i = 0; i < g->cfg.n_peers; i++) {
		bool kept = false;

		for (size_t j = 0; j < c.n_peers && !kept; j++)
			kept = !sodium_memcmp(c.peers[j].public_key, g->cfg.peers[i].public_key,
					      KEY_LEN);
		if (!kept) {
			memcpy(s.peers[n].pub, g->cfg.peers[i].public_key, KEY_LEN);
			s.peers[n++].remove = true;
		}
	}
	for (size_t j = 0; j < c.n_peers && !ret; j++)
		ret = file_op(g, &c.peers[j], &s.peers[n++]);
	s.npeers = n;
	if (!ret)
		ret = peers_apply(g, &s, why, sizeof(why));
	if (ret)
		gw_err("%s: SIGHUP: peers from %s: %s; they stay as they were", g->cfg.ifname,
		       g->cfg.path, why[0] ? why : strerror(-ret));
	else
		gw_notice("%s: SIGHUP: peers from %s: %s", g->cfg.ifname, g->cfg.path, why);
out:
	/* the ops borrowed from c */
	if (s.peers)
		sodium_memzero(s.peers, cap * sizeof(*s.peers));
	free(s.peers);
	sodium_memzero(&s, sizeof(s));
	config_free(&c);
	return ret;
}
