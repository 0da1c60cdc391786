/* SPDX-License-Identifier: MIT */
/*
 * keep — KeepState: the state file written at SIGTERM and read at start
 * (gw/keep.h has the format).
 */
#include "gw/keep.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/wg.h"
#include "gw/gw.h"
#include "gw/log.h"
#include "gw/sysctl.h"
#include "nat/ct.h"
#include "nat/ct_save.h"
#include "nat/hook.h"

static const uint8_t magic[8] = "gw-keep\n";
static const char mac_label[] = "gw KeepState 1 mac";

enum {
	EP_LEN = 1 + 2 + 16 + 4,
	KP_LEN = 2 + 4 + 4 + 8 + 8 + 32 + 32 + 8 + REPLAY_RING_WORDS * 8,
	PEER_FIXED = 32 + EP_LEN + 5 * 8 + NOISE_TIMESTAMP_LEN + 1,
	SEC_HDR = 8,
	OWNER_LEN = 2 + 32,
	/* a file larger than this is not one gw wrote */
	KEEP_MAX_FILE = 1 << 30,
	/* a file written later than now by more than this is refused (a
	 * clock set back: its times cannot be trusted) */
	KEEP_FUTURE_NS = 60 * 1000000000ull,
};

struct keep {
	uint8_t *buf;		/* the file as read */
	size_t len;
	const uint8_t *ct;	/* its conntrack section's payload, or NULL */
	size_t ct_len;
	uint64_t gone;		/* ns between writing and reading */
	struct keep_host host;
	bool unlink;		/* read and taken: keep_commit deletes it */
};

/* --- little-endian fields ------------------------------------------------ */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
};

static void w8(struct wbuf *b, uint8_t v)
{
	if (b->len < b->cap)
		b->p[b->len] = v;
	b->len++;
}

static void w16(struct wbuf *b, uint16_t v)
{
	w8(b, (uint8_t)v);
	w8(b, (uint8_t)(v >> 8));
}

static void w32(struct wbuf *b, uint32_t v)
{
	w16(b, (uint16_t)v);
	w16(b, (uint16_t)(v >> 16));
}

static void w64(struct wbuf *b, uint64_t v)
{
	w32(b, (uint32_t)v);
	w32(b, (uint32_t)(v >> 32));
}

static void wbytes(struct wbuf *b, const void *d, size_t n)
{
	if (b->len <= b->cap && n <= b->cap - b->len)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put32_at(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void put64_at(uint8_t *p, uint64_t v)
{
	put32_at(p, (uint32_t)v);
	put32_at(p + 4, (uint32_t)(v >> 32));
}

/* A reader over a section: any read past its end sets bad. */
struct rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static const uint8_t *rtake(struct rbuf *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t rle(struct rbuf *r, unsigned n)
{
	const uint8_t *p = rtake(r, n);
	uint64_t v = 0;

	for (unsigned i = 0; p && i < n; i++)
		v |= (uint64_t)p[i] << 8 * i;
	return v;
}

static void rcopy(struct rbuf *r, uint8_t *out, size_t n)
{
	const uint8_t *p = rtake(r, n);

	if (p)
		memcpy(out, p, n);
}

#define r8(r) ((uint8_t)rle(r, 1))
#define r16(r) ((uint16_t)rle(r, 2))
#define r32(r) ((uint32_t)rle(r, 4))
#define r64(r) rle(r, 8)

static uint64_t get64_at(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << 8 * i;
	return v;
}

/* --- the MAC and the checks ----------------------------------------------- */

void keep_mac(const uint8_t *buf, size_t len, const uint8_t priv[static 32],
	      uint8_t mac[static KEEP_MAC_LEN])
{
	uint8_t k[crypto_generichash_KEYBYTES];

	crypto_generichash(k, sizeof(k), (const uint8_t *)mac_label, sizeof(mac_label) - 1,
			   priv, 32);
	crypto_generichash(mac, KEEP_MAC_LEN, buf, len, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
}

int keep_verify(const uint8_t *buf, size_t len, const uint8_t priv[static 32],
		const uint8_t pub[static 32], uint64_t wall, const uint8_t **body,
		size_t *body_len, uint64_t *written, const char **why)
{
	uint8_t mac[KEEP_MAC_LEN];
	uint64_t blen;
	uint32_t version;

	if (len >= sizeof(magic) && memcmp(buf, magic, sizeof(magic))) {
		*why = "not a gw state file";
		return -EINVAL;
	}
	if (len < KEEP_HDR_LEN + KEEP_MAC_LEN) {
		*why = "truncated";
		return -EINVAL;
	}
	version = (uint32_t)(get64_at(buf + 8) & 0xffffffffu);
	if (version != KEEP_VERSION) {
		*why = "written by another version of gw (file format version differs)";
		return -EINVAL;
	}
	if (sodium_memcmp(buf + 12, pub, 32)) {
		*why = "written for another PrivateKey";
		return -EINVAL;
	}
	blen = get64_at(buf + 52);
	if (blen != len - KEEP_HDR_LEN - KEEP_MAC_LEN) {
		*why = blen > len - KEEP_HDR_LEN - KEEP_MAC_LEN ? "truncated" :
		       "longer than its header says";
		return -EINVAL;
	}
	keep_mac(buf, KEEP_HDR_LEN + blen, priv, mac);
	if (sodium_memcmp(mac, buf + KEEP_HDR_LEN + blen, KEEP_MAC_LEN)) {
		*why = "bad checksum";
		return -EINVAL;
	}
	*written = get64_at(buf + 44);
	if (*written > wall + KEEP_FUTURE_NS) {
		*why = "written in the future (the clock went back)";
		return -EINVAL;
	}
	*body = buf + KEEP_HDR_LEN;
	*body_len = (size_t)blen;
	return 0;
}

/* --- writing ------------------------------------------------------------- */

static size_t sec_begin(struct wbuf *b, uint16_t type)
{
	size_t at = b->len;

	w16(b, type);
	w16(b, 0);
	w32(b, 0);
	return at;
}

static void sec_end(struct wbuf *b, size_t at)
{
	if (b->len <= b->cap)
		put32_at(b->p + at + 4, (uint32_t)(b->len - at - SEC_HDR));
}

static void put_endpoint(struct wbuf *b, const struct wg_endpoint *ep)
{
	uint8_t addr[16] = { 0 };
	uint16_t port = 0;
	uint32_t scope = 0;
	uint8_t fam = 0;

	if (ep->len == sizeof(struct sockaddr_in)) {
		struct sockaddr_in in;

		memcpy(&in, ep->addr, sizeof(in));
		fam = 4;
		port = ntohs(in.sin_port);
		memcpy(addr, &in.sin_addr, 4);
	} else if (ep->len == sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 in6;

		memcpy(&in6, ep->addr, sizeof(in6));
		fam = 6;
		port = ntohs(in6.sin6_port);
		memcpy(addr, &in6.sin6_addr, 16);
		scope = in6.sin6_scope_id;
	}
	w8(b, fam);
	w16(b, port);
	wbytes(b, addr, 16);
	w32(b, scope);
}

static void put_keypair(struct wbuf *b, const struct keypair *kp, unsigned slot, uint64_t now)
{
	w8(b, (uint8_t)slot);
	w8(b, kp->initiator);
	w32(b, kp->local_index);
	w32(b, kp->remote_index);
	w64(b, now > kp->birth ? now - kp->birth : 0);
	w64(b, kp->send_counter);
	wbytes(b, kp->send_key, sizeof(kp->send_key));
	wbytes(b, kp->recv_key, sizeof(kp->recv_key));
	w64(b, kp->replay.last);
	for (unsigned i = 0; i < REPLAY_RING_WORDS; i++)
		w64(b, kp->replay.ring[i]);
}

static void put_peer(struct wbuf *b, const struct wg_peer *p, uint64_t now)
{
	const struct keypair *kps[3] = { &p->session.current, &p->session.previous,
					 &p->session.next };
	size_t at = sec_begin(b, KEEP_S_PEER);
	uint8_t n = 0;

	wbytes(b, p->hs.remote_static, 32);
	put_endpoint(b, &p->endpoint);
	w64(b, p->last_handshake_wall);
	w64(b, p->rx_bytes);
	w64(b, p->tx_bytes);
	w64(b, p->handshakes_sent);
	w64(b, p->handshakes_completed);
	wbytes(b, p->hs.greatest_timestamp, NOISE_TIMESTAMP_LEN);
	for (unsigned i = 0; i < 3; i++)
		n += kps[i]->valid;
	w8(b, n);
	for (unsigned i = 0; i < 3; i++)
		if (kps[i]->valid)
			put_keypair(b, kps[i], i, now);
	sec_end(b, at);
}

static void put_host(struct wbuf *b, const struct gw *g)
{
	const struct uplink *u = &g->uplink;
	size_t at = sec_begin(b, KEEP_S_HOST), nat;
	char name[16] = { 0 };
	uint32_t n = 0;

	w8(b, u->tc_on);
	w8(b, u->tc_on && u->tc.qdisc_added);
	w16(b, u->tc_on ? u->tc.pref : 0);
	snprintf(name, sizeof(name), "%s", g->cfg.uplink);
	wbytes(b, name, sizeof(name));
	nat = b->len;
	w32(b, 0);
	for (unsigned p = 0; u->ports.ours && p < 65536;) {
		unsigned lo;

		if (!(u->ports.ours[p / 8] & 1u << p % 8)) {
			p++;
			continue;
		}
		lo = p;
		while (p < 65536 && u->ports.ours[p / 8] & 1u << p % 8)
			p++;
		w16(b, (uint16_t)lo);
		w16(b, (uint16_t)(p - 1));
		n++;
	}
	if (b->len <= b->cap)
		put32_at(b->p + nat, n);
	sec_end(b, at);
}

struct ct_walk {
	struct wbuf *b;
	const struct ct_table *t;
	uint64_t now;
	uint32_t n;
};

static int put_ct_one(struct ct_entry *e, void *arg)
{
	struct ct_walk *w = arg;
	uint8_t rec[CT_SAVE_LEN];

	ct_entry_save(w->t, e, w->now, rec);
	wbytes(w->b, rec, sizeof(rec));
	w->n++;
	return 0;
}

static void put_ct(struct wbuf *b, struct gw *g, uint64_t now)
{
	struct ct_table *t = nf_ct(g->nf);
	size_t at = sec_begin(b, KEEP_S_CT), cnt;
	struct ct_walk w = { .b = b, .t = t, .now = now };

	w32(b, CT_SAVE_LEN);
	w32(b, (uint32_t)g->dev.npeers);
	for (size_t i = 0; i < g->dev.npeers; i++) {
		w16(b, (uint16_t)(uintptr_t)g->dev.peers[i]->user);
		wbytes(b, g->dev.peers[i]->hs.remote_static, 32);
	}
	cnt = b->len;
	w32(b, 0);
	ct_foreach(t, put_ct_one, &w);
	if (b->len <= b->cap)
		put32_at(b->p + cnt, w.n);
	sec_end(b, at);
}

/* Everything into b (b->len counts past b->cap when it is too small). */
static void put_all(struct wbuf *b, struct gw *g, uint64_t now, uint64_t wall)
{
	b->len = 0;
	wbytes(b, magic, sizeof(magic));
	w32(b, KEEP_VERSION);
	wbytes(b, g->dev.keys.pub, 32);
	w64(b, wall);
	w64(b, 0); /* the body's length, below */
	if (g->uplink_on)
		put_host(b, g);
	for (size_t i = 0; i < g->dev.npeers; i++)
		put_peer(b, g->dev.peers[i], now);
	if (g->nf)
		put_ct(b, g, now);
	if (b->len <= b->cap)
		put64_at(b->p + 52, b->len - KEEP_HDR_LEN);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int keep_save(struct gw *g)
{
	const char *path = g->cfg.keep_state;
	uint64_t now = gw_mono(), wall = gw_wall();
	struct wbuf b = { 0 };
	char tmp[4096];
	int fd = -1, ret;
	unsigned conns = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	put_all(&b, g, now, wall); /* measures */
	b.cap = b.len + KEEP_MAC_LEN;
	b.p = malloc(b.cap);
	if (!b.p) {
		ret = -ENOMEM;
		goto out;
	}
	put_all(&b, g, now, wall);
	keep_mac(b.p, b.len, g->dev.keys.priv, b.p + b.len);
	b.len += KEEP_MAC_LEN;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, b.p, b.len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	fd = -1;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		(void)unlink(tmp);
out:
	if (b.p)
		sodium_memzero(b.p, b.cap);
	free(b.p);
	if (ret) {
		gw_err("%s: KeepState %s: %s: %s", g->cfg.ifname, path, strerror(-ret),
		       g->stop_signal == SIGUSR2 ? "no upgrade" : "the connections end here");
		return ret;
	}
	if (g->nf) {
		struct ct_stats st;

		ct_get_stats(nf_ct(g->nf), &st);
		conns = st.count;
	}
	gw_notice("%s: KeepState: state written to %s (%zu peer(s), %u connection(s)); the "
		  "uplink's filters stay for the next start", g->cfg.ifname, path, g->dev.npeers,
		  conns);
	return 0;
}

/* --- reading ------------------------------------------------------------- */

static void keep_free(struct keep *k)
{
	if (!k)
		return;
	if (k->buf)
		sodium_memzero(k->buf, k->len);
	free(k->buf);
	free(k->host.ports);
	free(k);
}

/* The file read whole (a good one is deleted by keep_commit once the start
 * has gone through: a start that fails before it, say a re-exec's new
 * image, leaves it to the next; nothing is sent before that).  One that
 * others could read is deleted now.  0, -ENOENT (none), or -errno
 * (logged). */
static int read_file(const char *path, const char *ifname, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > KEEP_MAX_FILE) {
		gw_warn("%s: KeepState %s: not a regular file of at most 1 GiB: ignored",
		        ifname, path);
		ret = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		gw_warn("%s: KeepState %s: readable by others than its owner (mode %03o): "
		        "refused, starting fresh", ifname, path, (unsigned)(st.st_mode & 0777));
		ret = -EPERM;
		goto del;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	buf = NULL;
	goto out;
del:
	if (unlink(path) < 0 && errno != ENOENT)
		gw_warn("%s: KeepState %s: cannot delete it: %s", ifname, path, strerror(errno));
out:
	free(buf);
	close(fd);
	return ret;
}

static void get_endpoint(struct rbuf *r, struct wg_endpoint *ep)
{
	uint8_t fam = r8(r);
	uint16_t port = r16(r);
	const uint8_t *addr = rtake(r, 16);
	uint32_t scope = r32(r);

	memset(ep, 0, sizeof(*ep));
	if (r->bad)
		return;
	if (fam == 4) {
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };

		memcpy(&in.sin_addr, addr, 4);
		udp_endpoint_from_sa(ep, (const struct sockaddr *)&in, sizeof(in));
	} else if (fam == 6) {
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
					    .sin6_scope_id = scope };

		memcpy(&in6.sin6_addr, addr, 16);
		udp_endpoint_from_sa(ep, (const struct sockaddr *)&in6, sizeof(in6));
	} else if (fam) {
		r->bad = true;
	}
}

/* One peer's section: its session, endpoint and counters back (a peer the
 * config no longer has is skipped); *kept counts keypairs restored. */
static int load_peer(struct gw *g, struct rbuf *r, uint64_t gone, uint64_t now,
		     unsigned *peers, unsigned *kept)
{
	const uint8_t *pub = rtake(r, 32);
	struct wg_endpoint ep;
	struct wg_peer *p;
	struct session s;
	uint64_t hs_wall, rxb, txb, sent, done;
	const uint8_t *ts;
	uint8_t n;
	int ret = 0;

	session_init(&s);
	get_endpoint(r, &ep);
	hs_wall = r64(r);
	rxb = r64(r);
	txb = r64(r);
	sent = r64(r);
	done = r64(r);
	ts = rtake(r, NOISE_TIMESTAMP_LEN);
	n = r8(r);
	if (r->bad || n > 3)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct keypair kp;
		struct keypair *slot;
		uint8_t which = r8(r);
		uint64_t age;

		memset(&kp, 0, sizeof(kp));
		kp.initiator = r8(r) != 0;
		kp.local_index = r32(r);
		kp.remote_index = r32(r);
		age = r64(r);
		kp.send_counter = r64(r);
		rcopy(r, kp.send_key, sizeof(kp.send_key));
		rcopy(r, kp.recv_key, sizeof(kp.recv_key));
		kp.replay.last = r64(r);
		for (unsigned j = 0; j < REPLAY_RING_WORDS; j++)
			kp.replay.ring[j] = r64(r);
		slot = which == 0 ? &s.current : which == 1 ? &s.previous :
		       which == 2 ? &s.next : NULL;
		if (r->bad || !slot || slot->valid) {
			sodium_memzero(&kp, sizeof(kp));
			ret = -EINVAL;
			goto out;
		}
		/* past REJECT_AFTER_TIME by now, or older than this clock */
		if (age >= REJECT_AFTER_TIME || gone >= REJECT_AFTER_TIME - age ||
		    now <= age + gone) {
			sodium_memzero(&kp, sizeof(kp));
			continue;
		}
		kp.birth = now - age - gone;
		kp.valid = true;
		*slot = kp;
		sodium_memzero(&kp, sizeof(kp));
	}
	if (r->off != r->len) {
		ret = -EINVAL;
		goto out;
	}
	p = wg_peer_find(&g->dev, pub);
	if (!p)
		goto out;
	(*peers)++;
	if (ep.len)
		wg_peer_set_endpoint(p, &ep);
	p->last_handshake_wall = hs_wall;
	p->rx_bytes = rxb;
	p->tx_bytes = txb;
	p->handshakes_sent = sent;
	p->handshakes_completed = done;
	memcpy(p->hs.greatest_timestamp, ts, NOISE_TIMESTAMP_LEN);
	p->session = s;
	*kept += wg_peer_adopt_session(&g->dev, p);
out:
	sodium_memzero(&s, sizeof(s));
	return ret;
}

static int load_host(struct keep *k, struct rbuf *r)
{
	const uint8_t *name;
	uint32_t n;

	k->host.tc_left = r8(r) != 0;
	k->host.qdisc_ours = r8(r) != 0;
	k->host.pref = r16(r);
	name = rtake(r, 16);
	n = r32(r);
	if (r->bad || !memchr(name, 0, 16) || n > 32768)
		return -EINVAL;
	memcpy(k->host.uplink, name, 16);
	k->host.ports = calloc(1, SYSCTL_PORTMAP_BYTES);
	if (!k->host.ports)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t lo = r16(r), hi = r16(r);

		if (r->bad || lo > hi)
			return -EINVAL;
		sysctl_ports_add(k->host.ports, lo, hi);
	}
	if (r->off != r->len)
		return -EINVAL;
	k->host.valid = true;
	return 0;
}

/* The conntrack section's framing (records are checked when loaded). */
static int check_ct(struct rbuf *r)
{
	uint32_t reclen = r32(r), owners = r32(r), n;

	if (reclen != CT_SAVE_LEN || owners > 1u << 20 || !rtake(r, (size_t)owners * OWNER_LEN))
		return -EINVAL;
	n = r32(r);
	if (r->bad || (uint64_t)n * CT_SAVE_LEN != r->len - r->off)
		return -EINVAL;
	return 0;
}

/* Walks the sections once: checks all, then (apply) uses them. */
static int sections(struct gw *g, struct keep *k, const uint8_t *body, size_t len, bool apply,
		    uint64_t now, unsigned *peers, unsigned *kept)
{
	struct rbuf all = { .p = body, .len = len };
	unsigned seen = 0;

	while (all.off < all.len) {
		uint16_t type = r16(&all);
		uint16_t zero = r16(&all);
		uint32_t slen = r32(&all);
		const uint8_t *p = rtake(&all, slen);
		struct rbuf r = { .p = p, .len = slen };
		int ret = 0;

		if (all.bad || zero)
			return -EINVAL;
		switch (type) {
		case KEEP_S_HOST:
			if (seen & 1u << type)
				return -EINVAL;
			ret = apply ? load_host(k, &r) : 0;
			break;
		case KEEP_S_PEER:
			ret = apply ? load_peer(g, &r, k->gone, now, peers, kept) : 0;
			if (!apply && slen < PEER_FIXED)
				ret = -EINVAL;
			break;
		case KEEP_S_CT:
			if (seen & 1u << type)
				return -EINVAL;
			ret = check_ct(&r);
			k->ct = p;
			k->ct_len = slen;
			break;
		default:
			return -EINVAL;
		}
		if (ret)
			return ret;
		seen |= 1u << type;
	}
	return 0;
}

int keep_load(struct gw *g)
{
	const char *path = g->cfg.keep_state, *why = NULL;
	uint64_t now = gw_mono(), wall = gw_wall(), written;
	const uint8_t *body;
	size_t body_len;
	struct keep *k;
	unsigned peers = 0, kept = 0;
	int ret;

	if (!path)
		return 0;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	ret = read_file(path, g->cfg.ifname, &k->buf, &k->len);
	if (ret == -ENOENT) {
		gw_log("%s: KeepState %s: no state file: starting fresh", g->cfg.ifname, path);
		keep_free(k);
		return 0;
	}
	if (ret) {
		if (ret != -EPERM && ret != -EINVAL)
			gw_warn("%s: KeepState %s: %s: starting fresh", g->cfg.ifname, path,
			        strerror(-ret));
		keep_free(k);
		return ret == -ENOMEM ? ret : 0;
	}
	if (keep_verify(k->buf, k->len, g->dev.keys.priv, g->dev.keys.pub, wall, &body,
			&body_len, &written, &why))
		goto refuse;
	k->gone = wall > written ? wall - written : 0;
	/* all checked before anything is used */
	if (sections(g, k, body, body_len, false, now, &peers, &kept)) {
		why = "a section does not parse";
		goto refuse;
	}
	k->ct = NULL;
	ret = sections(g, k, body, body_len, true, now, &peers, &kept);
	if (ret == -ENOMEM) {
		keep_free(k);
		return ret;
	}
	if (ret) {
		/* the MAC held: a writer's bug; what was applied stays */
		gw_warn("%s: KeepState %s: a section does not parse: the rest is ignored",
		        g->cfg.ifname, path);
	}
	gw_notice("%s: KeepState: state of %.3f s ago read from %s: %u peer(s), %u keypair(s) "
		  "still valid", g->cfg.ifname, (double)k->gone / 1e9, path, peers, kept);
	k->unlink = true;
	g->keep = k;
	return 0;
refuse:
	gw_warn("%s: KeepState %s: refused (%s): starting fresh", g->cfg.ifname, path, why);
	if (unlink(path) < 0 && errno != ENOENT)
		gw_warn("%s: KeepState %s: cannot delete it: %s", g->cfg.ifname, path,
		        strerror(errno));
	keep_free(k);
	return 0;
}

int keep_commit(struct gw *g)
{
	const char *path = g->cfg.keep_state;
	int fd, ret;

	if (!g->keep || !g->keep->unlink)
		return 0;
	g->keep->unlink = false;
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	ret = -errno;
	/* emptied, it is refused as no state file; read again whole, the
	 * sessions' counters would start over (nonces used twice) */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		close(fd);
		gw_warn("%s: KeepState %s: cannot delete it (%s): emptied instead", g->cfg.ifname,
			path, strerror(-ret));
		return 0;
	}
	gw_err("%s: KeepState %s: cannot delete or empty it (%s): not starting, a later start "
	       "would take its sessions again", g->cfg.ifname, path, strerror(-ret));
	return ret;
}

const struct keep_host *keep_host(const struct gw *g)
{
	return g->keep && g->keep->host.valid ? &g->keep->host : NULL;
}

/* The owner id this run gives the peer that had old in the saved run: 0
 * for none, -1 when that peer is gone (its connections go with it). */
static int owner_now(struct gw *g, struct rbuf owners, uint32_t n, uint16_t old)
{
	if (!old)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t id = r16(&owners);
		const uint8_t *pub = rtake(&owners, 32);
		struct wg_peer *p;

		if (id != old)
			continue;
		p = wg_peer_find(&g->dev, pub);
		return p ? (uint16_t)(uintptr_t)p->user : -1;
	}
	return -1;
}

void keep_ct(struct gw *g)
{
	struct keep *k = g->keep;
	struct rbuf r;
	struct rbuf owners;
	uint32_t nown, n;
	unsigned ok = 0, expired = 0, other = 0;
	uint64_t now = gw_mono();

	if (!k || !k->ct || !g->nf)
		return;
	r = (struct rbuf){ .p = k->ct, .len = k->ct_len };
	(void)r32(&r);
	nown = r32(&r);
	owners = (struct rbuf){ .p = rtake(&r, (size_t)nown * OWNER_LEN),
				.len = (size_t)nown * OWNER_LEN };
	n = r32(&r);
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		const uint8_t *rec = rtake(&r, CT_SAVE_LEN);
		int owner = owner_now(g, owners, nown, ct_saved_owner(rec));
		int ret = owner < 0 ? -ENOENT :
			  ct_entry_load(nf_ct(g->nf), rec, now, k->gone, (uint16_t)owner);

		if (!ret)
			ok++;
		else if (ret == -ETIME)
			expired++;
		else
			other++;
	}
	gw_notice("%s: KeepState: %u connection(s) carried over, %u expired meanwhile, %u "
		  "refused (a peer gone, a full table or a clash)", g->cfg.ifname, ok, expired,
		  other);
}

void keep_done(struct gw *g)
{
	keep_free(g->keep);
	g->keep = NULL;
}
