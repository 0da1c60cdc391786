/* SPDX-License-Identifier: MIT */
#include "gw/gw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "crypto/key.h"
#include "gw/ctl.h"
#include "gw/dataplane.h"
#include "gw/icmp6.h"
#include "gw/log.h"
#include "gw/metrics.h"
#include "gw/peers.h"
#include "gw/tun.h"
#include "gw/uapi.h"
#include "nat/ct.h"
#include "nat/pkt/gro.h"
#include "nat/pkt/gso.h"
#include "nat/pkt/pkt.h"
#include "nat/pkt/proto.h"
#include "nat/pkt/vnet.h"
#include "nat/reject.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

enum { TUN_READS_PER_WAKE = UDP_BATCH, UDP_BATCHES_PER_WAKE = 8,
       TUN_READ_MAX = VNET_HLEN + 65536 };

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t gw_mono(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t gw_wall(void)
{
	return clock_ns(CLOCK_REALTIME);
}


void gw_lock(struct gw *g, struct gw_io *io)
{
	if (g->threaded)
		pthread_mutex_lock(&g->lock);
	g->cur = io;
}

void gw_unlock(struct gw *g)
{
	if (g->threaded)
		pthread_mutex_unlock(&g->lock);
}

/* The control loop holds the lock except while it waits (libev's release
 * and acquire callbacks). */
static void ctl_release(struct ev_loop *loop)
{
	gw_unlock(ev_userdata(loop));
}

static void ctl_acquire(struct ev_loop *loop)
{
	struct gw *g = ev_userdata(loop);

	gw_lock(g, g->cio);
}

static void stat_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Reading the TUN and the uplink stops while a UDP socket is full (their
 * packets would only be dropped at the send queue) and resumes when the
 * queue has gone out: the kernel's socket buffer paces gw, as a qdisc
 * paces a device. */
static void inputs(struct gw_io *io, bool on)
{
	struct gw *g = io->g;
	bool uplink = g->uplink_on && io->id == 0 && io != &g->ctl_io;

	if (io == &g->ctl_io)
		return; /* it reads nothing */
	if (on) {
		ev_io_start(io->loop, &io->tun_w);
		if (uplink)
			ev_io_start(io->loop, &g->uplink_w);
	} else {
		ev_io_stop(io->loop, &io->tun_w);
		if (uplink)
			ev_io_stop(io->loop, &g->uplink_w);
	}
}

/* Sends family's queue; when the socket is full, waits for room with a
 * write watcher and holds the inputs. */
/* The AEAD of every data message queued unsealed (gw_queue_unsealed):
 * with workers, outside the lock. */
static void seal_all(struct gw_io *io)
{
	for (unsigned i = 0; i < io->nseals; i++)
		session_seal(&io->seals[i].seal, io->seals[i].slot, io->seals[i].len);
	io->nseals = 0;
}

static void flush_one(struct gw_io *io, int fam)
{
	bool v6 = fam == AF_INET6;
	struct udp_batch *q = v6 ? &io->tx6 : &io->tx4;
	ev_io *w = v6 ? &io->udp6_tx_w : &io->udp4_tx_w;
	unsigned bit = v6 ? 2 : 1;
	bool gso = q->gso;
	uint64_t dropped = 0;
	int ret;

	seal_all(io);
	ret = udp_flush(v6 ? io->udp6 : io->udp4, q, &dropped);

	if (dropped)
		stat_add(&io->tx_dropped, dropped);
	if (gso && !q->gso)
		gw_log("%s: UDP GSO refused on the IPv%c socket (%s): sending datagram by datagram",
		       io->g->cfg.ifname, v6 ? '6' : '4', strerror(q->gso_err));
	if (ret == 0) {
		if (!(io->tx_blocked & bit))
			return;
		ev_io_stop(io->loop, w);
		io->tx_blocked &= ~bit;
		if (!io->tx_blocked)
			inputs(io, true);
		return;
	}
	if (io->tx_blocked & bit)
		return;
	stat_add(&io->tx_waits, 1);
	if (!io->tx_blocked)
		inputs(io, false);
	io->tx_blocked |= bit;
	ev_io_start(io->loop, w);
}

static void udp_tx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_io *io = w->data;

	(void)loop, (void)revents;
	flush_one(io, w == &io->udp6_tx_w ? AF_INET6 : AF_INET);
}

/* Queues a datagram to ep on the socket of its family: its slot, or NULL
 * when it was dropped. */
static uint8_t *queue(struct gw_io *io, const struct wg_endpoint *ep, const uint8_t *d,
		      size_t len)
{
	int fam = udp_endpoint_family(ep);
	struct udp_batch *q = fam == AF_INET6 ? &io->tx6 : &io->tx4;
	int fd = fam == AF_INET6 ? io->udp6 : io->udp4;
	uint8_t *slot;

	if (!fam || fd < 0 || len > q->slot_size)
		return NULL;
	if (q->count == UDP_BATCH)
		flush_one(io, fam);
	if (!udp_queue_room(q)) {
		stat_add(&io->tx_dropped, 1); /* all UDP_BATCH slots wait for a full socket */
		return NULL;
	}
	slot = udp_batch_slot(q, q->count);
	memcpy(slot, d, len);
	udp_queue_commit(q, len, ep);
	return slot;
}

void gw_queue_dgram(struct gw *g, const struct wg_endpoint *ep, const uint8_t *d, size_t len)
{
	queue(g->cur, ep, d, len);
}

void gw_queue_unsealed(struct gw *g, const struct wg_endpoint *ep, const uint8_t *d, size_t len,
		       struct session_seal *seal)
{
	struct gw_io *io = g->cur;
	uint8_t *slot = queue(io, ep, d, len);

	if (slot) {
		struct gw_seal_job *j = &io->seals[io->nseals++];

		j->slot = slot;
		j->len = len;
		j->seal = *seal;
	}
	sodium_memzero(seal, sizeof(*seal));
}

static void on_emit(void *ctx, struct wg_peer *peer, const struct wg_endpoint *to,
		    const uint8_t *dgram, size_t len)
{
	(void)peer;
	gw_queue_dgram(ctx, to, dgram, len);
}

static void flush(struct gw_io *io)
{
	if (io->tx4.count)
		flush_one(io, AF_INET);
	if (io->tx6.count)
		flush_one(io, AF_INET6);
}

static bool under_load(struct gw *g, uint64_t now, const uint8_t *d, size_t len)
{
	if (len && (d[0] == MSG_INITIATION || d[0] == MSG_RESPONSE)) {
		if (now - g->load_window > NSEC_PER_SEC) {
			g->load_window = now;
			g->load_count = 0;
		}
		if (++g->load_count > GW_UNDER_LOAD_HANDSHAKES)
			g->under_load_until = now + NSEC_PER_SEC; /* sticks for 1 s */
	}
	return now < g->under_load_until;
}

static void tun_writev(struct gw_io *io, const struct vnet_hdr *h, const uint8_t *p, size_t len)
{
	uint8_t vh[VNET_HLEN];
	struct iovec iov[2] = { { vh, sizeof(vh) }, { (void *)(uintptr_t)p, len } };
	ssize_t n;

	if (io->g->tun_vnet) {
		vnet_build(h, vh);
		n = writev(io->tun, iov, 2);
	} else {
		n = write(io->tun, p, len);
	}

	/* the kernel takes it or drops it; a full TUN queue is not our error */
	if (n < 0 && errno != EAGAIN)
		gw_log("%s: tun write: %s", io->g->cfg.ifname, strerror(errno));
}

/* Writes the TCP segments held in io->gro, if any: one packet as it came,
 * more as one super-packet the kernel cuts again (it completes the TCP
 * checksum from the pseudo-header sum gro left in it). */
static void tun_flush(struct gw_io *io)
{
	unsigned segs = io->gro.n;
	struct vnet_hdr h;
	size_t len;

	if (!io->grobuf)
		return;
	len = gro_finish(&io->gro, &h);
	if (!len)
		return;
	if (h.kind) {
		io->tun_tx_gso++;
		io->tun_tx_segments += segs;
	}
	tun_writev(io, &h, io->grobuf, len);
}

/* While a receive batch is handled (io->gro_on), TCP segments are held and
 * joined; anything else first writes what is held, so each flow keeps its
 * order. */
void gw_tun_write(struct gw *g, const uint8_t *p, size_t len)
{
	static const struct vnet_hdr plain; /* no GSO, checksums complete */
	struct gw_io *io = g->cur;

	if (io->gro_on) {
		enum gro_res r = gro_add(&io->gro, p, len);

		if (r == GRO_FLUSH) {
			tun_flush(io);
			r = gro_add(&io->gro, p, len);
		}
		if (r == GRO_HELD)
			return;
		tun_flush(io);
	}
	tun_writev(io, &plain, p, len);
}

/* The end of a batch under the lock: what it held for the TUN and queued
 * for the uplink goes, conntrack reaps what it killed, and the lock is
 * given back; then (outside it) the datagrams it queued to peers. */
void gw_batch_end(struct gw_io *io, uint64_t now)
{
	struct gw *g = io->g;

	tun_flush(io);
	if (g->threaded) {
		dp_flush(g, now);
		gw_unlock(g);
		flush(io);
	}
}

static void rx_result(struct gw *g, uint64_t now, uint64_t wl, const struct wg_endpoint *src,
		      const struct wg_rx *rx)
{
	if (rx->kind == WG_RX_PACKET)
		dp_from_peer(g, rx->data, rx->len, (uint16_t)(uintptr_t)rx->peer->user, now, wl);
	else if (rx->kind == WG_RX_REPLY)
		gw_queue_dgram(g, src, rx->data, rx->len);
}

/* The data messages and initiations begun so far: their AEAD and
 * Diffie-Hellman outside the lock (with workers), then each on its way; the
 * input batch has gone when it returns, so nothing shared points into io's
 * buffers. */
static void open_jobs(struct gw_io *io, uint64_t now, uint64_t wl)
{
	struct gw *g = io->g;
	unsigned n = io->njobs, nhs = io->nhs;

	if (!n && !nhs)
		return;
	gw_unlock(g);
	for (unsigned i = 0; i < n; i++)
		wg_open_crypt(&io->jobs[i].o, io->jobs[i].buf, io->jobs[i].len);
	for (unsigned i = 0; i < nhs; i++)
		wg_handshake_crypt(&io->hs_jobs[i].h, io->hs_jobs[i].buf, io->hs_jobs[i].len);
	gw_lock(g, io);
	for (unsigned i = 0; i < n; i++) {
		struct gw_open_job *j = &io->jobs[i];
		struct wg_rx rx;

		wg_receive_end(&g->dev, now, wl, &j->src, j->buf, j->len, &j->o, &rx);
		rx_result(g, now, wl, &j->src, &rx);
	}
	for (unsigned i = 0; i < nhs; i++) {
		struct gw_hs_job *j = &io->hs_jobs[i];
		struct wg_rx rx;

		wg_handshake_end(&g->dev, now, wl, &j->src, j->buf, j->len, &j->h, &rx);
		rx_result(g, now, wl, &j->src, &rx);
	}
	io->njobs = io->nhs = 0;
	dp_input_flush(g, now, wl);
}

/* Whether the handshake budget (gw.h) takes one more initiation now: this
 * batch's share, then the global bucket, charged. */
static bool hs_budget(struct gw_io *io, uint64_t now)
{
	const uint64_t cost = NSEC_PER_SEC / GW_HS_PER_SECOND;
	struct gw *g = io->g;
	uint64_t credit = g->hs_credit + (now - g->hs_last);

	if (io->hs_batch >= GW_HS_PER_BATCH)
		return false;
	g->hs_last = now;
	g->hs_credit = credit > GW_HS_BURST * cost ? GW_HS_BURST * cost : credit;
	if (g->hs_credit < cost)
		return false;
	g->hs_credit -= cost;
	io->hs_batch++;
	return true;
}

/* One datagram from src, len bytes at buf: a data message is begun (its
 * AEAD waits for open_jobs), an initiation past the gate too if the budget
 * takes it (its Diffie-Hellman waits), anything else handled at once. */
static void udp_receive(struct gw_io *io, uint64_t now, uint64_t wl,
			const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
	struct gw *g = io->g;
	struct gw_open_job *j = &io->jobs[io->njobs];
	bool load = under_load(g, now, buf, len);
	struct wg_handshake h;
	struct wg_rx rx;

	if (wg_receive_begin(&g->dev, now, buf, len, &j->o)) {
		j->buf = buf;
		j->len = len;
		j->src = *src;
		if (++io->njobs == GW_OPEN_JOBS)
			open_jobs(io, now, wl);
		return;
	}
	if (wg_handshake_begin(&g->dev, now, src, buf, len, load, &h, &rx)) {
		struct gw_hs_job *hj = &io->hs_jobs[io->nhs];

		if (!hs_budget(io, now)) {
			wg_handshake_drop(&g->dev, &h, WG_DROP_HANDSHAKE_BUDGET, &rx);
			return;
		}
		hj->buf = buf;
		hj->len = len;
		hj->src = *src;
		hj->h = h;
		sodium_memzero(&h, sizeof(h));
		io->nhs++; /* at most GW_HS_PER_BATCH: the budget's */
		return;
	}
	if (rx.kind == WG_RX_NONE) /* not an initiation */
		wg_receive(&g->dev, now, wl, src, buf, len, load, &rx);
	rx_result(g, now, wl, src, &rx);
}

/* A datagram larger than any WireGuard message of our MTU (or cut short). */
static void oversized(struct gw_io *io)
{
	io->oversized++;
	io->g->dev.drops[WG_DROP_BAD_LENGTH]++;
}

/* One recvmmsg batch, under the lock. */
static void udp_batch(struct gw_io *io, int n, uint64_t now, uint64_t wl)
{
	io->hs_batch = 0;
	for (int i = 0; i < n; i++) {
		struct mmsghdr *m = &io->rx.msgs[i];
		uint8_t *buf = udp_batch_slot(&io->rx, (unsigned)i);
		struct wg_endpoint src;
		size_t seg, len = udp_rx_segments(&io->rx, (unsigned)i, &seg), off = 0;

		if (m->msg_hdr.msg_flags & MSG_TRUNC) {
			oversized(io);
			if (!len)
				continue;
		}
		udp_endpoint_from_sa(&src, m->msg_hdr.msg_name, m->msg_hdr.msg_namelen);
		if (!src.len)
			continue;
		/* a GRO buffer holds many: each is a message of its own */
		do {
			size_t dlen = len - off < seg ? len - off : seg;

			if (dlen > io->rx.dgram_max)
				oversized(io);
			else
				udp_receive(io, now, wl, &src, buf + off, dlen);
			off += dlen;
		} while (off < len);
	}
	open_jobs(io, now, wl); /* before the slots are read into again */
	dp_input_flush(io->g, now, wl);
}

static void udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_io *io = w->data;
	struct gw *g = io->g;

	(void)loop, (void)revents;
	for (int round = 0; round < UDP_BATCHES_PER_WAKE; round++) {
		int n = udp_recv_batch(w->fd, &io->rx);
		uint64_t now = gw_mono(), wl = gw_wall();

		if (n <= 0)
			break;
		gw_lock(g, io);
		io->gro_on = io->grobuf != NULL;
		udp_batch(io, n, now, wl);
		io->gro_on = false;
		gw_batch_end(io, now); /* nothing held past the batch */
		if (n < UDP_BATCH)
			break;
	}
}

/* No peer for this packet from the host: destination unreachable back to
 * it, from our Address of its family (none configured: nothing), with the
 * codes the kernel's WireGuard uses (host unreachable / address
 * unreachable). */
static void unreachable(struct gw *g, uint8_t *pkt, size_t len)
{
	uint8_t out[ICMP6_ERROR_MAX];
	struct pkt p;
	size_t n = 0;

	if ((pkt[0] >> 4) == 6) {
		if (g->has_addr6)
			n = icmp6_error_build(pkt, len, ICMP6_DST_UNREACH, ICMP6_UNREACH_ADDR, 0,
					      g->addr6, out, sizeof(out));
	} else if (g->addr4 && pkt_parse(&p, pkt, len) == PKT_OK) {
		n = icmp_error_build(&p, 3, 1, 0, g->addr4, g->ip_id++, out, sizeof(out));
	}
	if (n)
		gw_tun_write(g, out, n);
}

/* One packet from the host: through netfilter (IPv4, when on) or straight to
 * its peer. */
static void from_host(struct gw *g, uint8_t *p, size_t len, uint64_t now, uint64_t wl)
{
	struct session_seal seal;
	struct wg_tx tx;

	if (g->nf && (p[0] >> 4) == 4) {
		dp_from_host(g, p, len, now, wl);
		return;
	}
	if (dp_ipv6_dropped(g, p))
		return;
	/* into out, then queued, sealed when the queue goes: wg_send may emit
	 * staged packets into the queue itself first */
	wg_send_unsealed(&g->dev, now, wl, p, len, g->sendbuf, g->sendbuf_size, &tx, &seal);
	if (tx.kind == WG_TX_DATA)
		gw_queue_unsealed(g, &tx.peer->endpoint, g->sendbuf, tx.len, &seal);
	else if (tx.kind == WG_TX_DROP && tx.drop == WG_DROP_NO_PEER)
		unreachable(g, p, len);
}

/* One read with offloads on: a TCP super-packet goes on segment by segment
 * as the kernel would have cut it; a partial checksum is completed first.
 * A bad header or length is a counted drop. */
static void from_tun_vnet(struct gw_io *io, uint8_t *buf, size_t n, uint64_t now, uint64_t wl)
{
	struct gw *g = io->g;
	struct vnet_hdr vh;
	uint8_t *ip = buf + VNET_HLEN;
	size_t len;
	struct gso s;

	if (n <= VNET_HLEN || vnet_parse(&vh, buf) < 0) {
		io->tun_rx_bad++;
		return;
	}
	len = n - VNET_HLEN;
	if (!vh.kind) {
		if (vh.needs_csum) {
			if (gso_csum_complete(ip, len, vh.csum_start, vh.csum_offset)) {
				io->tun_rx_bad++;
				return;
			}
			io->tun_rx_csum++;
		}
		from_host(g, ip, len, now, wl);
		return;
	}
	/* the segments' checksums are computed whole: csum_* are not needed */
	if (vh.kind == GSO_UDP4 || gso_init(&s, ip, len, vh.kind, vh.gso_size) ||
	    gso_seg_len(&s, 0) > io->segbuf_size) {
		io->tun_rx_bad++;
		return;
	}
	io->tun_rx_gso++;
	for (unsigned i = 0; i < s.n; i++) {
		gso_seg(&s, i, io->segbuf);
		io->tun_rx_segments++;
		from_host(g, io->segbuf, gso_seg_len(&s, i), now, wl);
	}
}

/* The TUN queue's reads are made under the lock: what they carry is
 * processed from the read buffer at once. */
static void tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_io *io = w->data;
	struct gw *g = io->g;
	uint64_t now = gw_mono(), wl = gw_wall();

	(void)loop, (void)revents;
	gw_lock(g, io);
	for (int i = 0; i < TUN_READS_PER_WAKE && !io->tx_blocked; i++) {
		ssize_t n = read(io->tun, io->tunbuf, io->tunbuf_size);

		if (n <= 0)
			break;
		if (g->tun_vnet)
			from_tun_vnet(io, io->tunbuf, (size_t)n, now, wl);
		else
			from_host(g, io->tunbuf, (size_t)n, now, wl);
	}
	gw_batch_end(io, now);
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
	flush(g->cio);
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

/* A worker's loop: before it waits, its queued datagrams go. */
static void worker_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop, (void)revents;
	flush(w->data);
}

/* SIGHUP: the config file's peers (as wg syncconf against it), then its
 * Rules. */
static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct gw *g = w->data;

	(void)loop, (void)revents;
	peers_reload(g);
	if (g->nf && g->cfg.rules_path)
		dp_reload(g);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	gw_log("%s: signal %d, shutting down", ((struct gw *)w->data)->cfg.ifname, w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* --- control socket ---------------------------------------------------- */

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
	else
		sbuf_printf(s, "error=%s\n", strerror(-err));
}

/* rules-list TABLE FLAGS [CHAIN] */
static void ctl_rules_list(struct gw *g, const char *args, struct sbuf *s)
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
	ret = dp_rules_list(g, t, n == 3 ? chain : NULL, flags, s);
	if (ret)
		ctl_error(s, ret);
	else if (!s->len)
		sbuf_add(s, "error=No chain/target/match by that name.\n");
}

/* "rules-restore [-c ]NAME": -c as iptables-restore -c. */
static void ctl_restore(struct gw *g, const char *arg, const char *body, size_t blen,
			struct sbuf *s)
{
	bool counters = !strncmp(arg, "-c ", 3);
	char err[512];
	int ret = dp_restore(g, arg + (counters ? 3 : 0), body, blen, counters, err,
			     sizeof(err));

	if (ret == -ENOENT)
		ctl_error(s, ret);
	else if (ret)
		sbuf_printf(s, "error=%s\n", err);
	else
		sbuf_add(s, "ok=1\n");
}

static bool ctl_has_body(const char *req)
{
	return !strncmp(req, "rules-restore ", 14);
}

/* One control request (gw/ctl.h): req, its body for rules-restore. */
static void ctl_handle(void *arg, const char *req, const char *body, size_t blen,
		       struct sbuf *out)
{
	struct gw *g = arg;
	unsigned n;
	int ret;

	if (!strcmp(req, "show") || !strcmp(req, "stats") || !strcmp(req, "metrics")) {
		ctl_metrics(g, req, out);
	} else if (!strncmp(req, "rules-list ", 11)) {
		ctl_rules_list(g, req + 11, out);
	} else if (!strcmp(req, "rules-save")) {
		if ((ret = dp_rules_save(g, out)))
			ctl_error(out, ret);
	} else if (!strncmp(req, "rules-restore ", 14)) {
		ctl_restore(g, req + 14, body, blen, out);
	} else if (!strcmp(req, "trace-info")) {
		char path[PATH_MAX];
		struct in_addr a = { htonl(g->route.uplink_addr) };
		char ua[INET_ADDRSTRLEN];

		if (!g->nf) {
			ctl_error(out, -ENOENT);
		} else {
			inet_ntop(AF_INET, &a, ua, sizeof(ua));
			sbuf_printf(out, "config=%s\nuplink_addr=%s\n",
				    realpath(g->cfg.path, path) ? path : g->cfg.path, ua);
			peers_trace_info(g, out);
		}
	} else if (!strcmp(req, "conf")) {
		peers_conf(g, out);
	} else if (!strcmp(req, "ct-list") || !strcmp(req, "ct-list extended")) {
		if ((ret = dp_ct_list(g, req[7] ? CT_FMT_L3 | CT_FMT_ACCT : 0, out, &n)))
			ctl_error(out, ret);
		else
			sbuf_printf(out, "count=%u\n", n);
	} else if (!strcmp(req, "ct-count")) {
		if ((ret = dp_ct_count(g, &n)))
			ctl_error(out, ret);
		else
			sbuf_printf(out, "count=%u\n", n);
	} else if (!strcmp(req, "ct-flush")) {
		if ((ret = dp_ct_flush(g, &n)))
			ctl_error(out, ret);
		else
			sbuf_printf(out, "flushed=%u\n", n);
	} else {
		sbuf_add(out, "error=unknown request\n");
	}
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
		gw_log("%s: UAPI set refused, nothing changed: %s", g->cfg.ifname, why);
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
	fd = ctl_listen(g->uapi_path, 0755);
	if (fd < 0) {
		gw_log("%s: UAPI socket %s: %s%s", g->cfg.ifname, g->uapi_path, strerror(-fd),
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
			gw_log("%s: out of memory for Endpoint lookups", g->cfg.ifname);
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
				gw_log("%s:%u: Endpoint %s does not resolve now: keeping the endpoint",
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
			gw_log("%s:%u: Endpoint %s now resolves to %s (was %s)", g->cfg.path,
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
		gw_log("%s: no resolver thread (%s): Endpoint names stay as they resolved "
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
	gw_log("%s: out of memory: new Endpoint names are not followed for this change",
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
			gw_log("%s:%u: Endpoint %s does not resolve: trying again in the background",
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
		gw_log("%s:%u: Endpoint %s: not host:port", g->cfg.path, cp->line, cp->endpoint);
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
		gw_log("%s: GW_DNS_INTERVAL=%s: not 1..3600 seconds; %u it is", g->cfg.ifname, e,
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
			gw_log("%s:%u: peer: %s", g->cfg.path, cp->line, strerror(-err));
			return err;
		}
		/* its conntrack owner id (PeerConntrackMax): 1.., 0 past 65535 */
		p->user = (void *)(uintptr_t)cp->owner;
		for (size_t j = 0; j < cp->n_allowed_ips; j++) {
			const struct cidr *c = &cp->allowed_ips[j];

			err = wg_peer_allow(&g->dev, p, c->family, c->addr, c->prefix);
			if (err) {
				gw_log("%s:%u: allowed ips: %s", g->cfg.path, cp->line,
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

static int mark_fd(int fd, uint32_t mark)
{
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ? -errno : 0;
}

int gw_udp_mark(struct gw *g, uint32_t mark)
{
	int ret = 0;

	for (unsigned i = 0; i < g->nio && !ret; i++) {
		ret = mark_fd(g->io[i].udp4, mark);
		if (!ret && g->io[i].udp6 >= 0)
			ret = mark_fd(g->io[i].udp6, mark);
	}
	return ret;
}

void gw_udp_close(struct gw *g, struct gw_socks *s)
{
	for (unsigned i = 0; i < g->nio && s->fd4; i++) {
		if (s->fd4[i] >= 0)
			close(s->fd4[i]);
		if (s->fd6[i] >= 0)
			close(s->fd6[i]);
	}
	free(s->fd4);
	free(s->fd6);
	s->fd4 = s->fd6 = NULL;
}

int gw_udp_open(struct gw *g, uint16_t port, uint32_t fwmark, struct gw_socks *s)
{
	uint16_t port6;
	int ret;

	s->fd4 = malloc(g->nio * sizeof(int));
	s->fd6 = malloc(g->nio * sizeof(int));
	if (!s->fd4 || !s->fd6) {
		free(s->fd4);
		free(s->fd6);
		s->fd4 = s->fd6 = NULL;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < g->nio; i++)
		s->fd4[i] = s->fd6[i] = -1;
	ret = udp_open_group(AF_INET, port, s->fd4, g->nio, &s->port);
	if (ret) {
		gw_udp_close(g, s);
		return ret;
	}
	ret = udp_open_group(AF_INET6, s->port, s->fd6, g->nio, &port6);
	if (ret)
		gw_log("%s: no IPv6 socket on port %u: %s", g->cfg.ifname, s->port,
		       strerror(-ret));
	for (unsigned i = 0; fwmark && i < g->nio; i++)
		if ((ret = mark_fd(s->fd4[i], fwmark)) ||
		    (s->fd6[i] >= 0 && (ret = mark_fd(s->fd6[i], fwmark)))) {
			gw_udp_close(g, s);
			return ret;
		}
	return 0;
}

/* A worker's sockets become fd4 and fd6 (the old ones closed): its own
 * thread does it, under the lock.  The control thread's queue takes worker
 * 0's new sockets at once (reads nothing, closes nothing). */
static void io_take_socks(struct gw_io *io, int fd4, int fd6)
{
	bool reads = io != &io->g->ctl_io;

	flush(io);
	ev_io_stop(io->loop, &io->udp4_w);
	ev_io_stop(io->loop, &io->udp6_w);
	ev_io_stop(io->loop, &io->udp4_tx_w);
	ev_io_stop(io->loop, &io->udp6_tx_w);
	if (io->tx_blocked) {
		io->tx_blocked = 0;
		inputs(io, true);
	}
	io->tx4.count = io->tx6.count = 0; /* what the old sockets did not take */
	if (reads) {
		close(io->udp4);
		if (io->udp6 >= 0)
			close(io->udp6);
	}
	io->udp4 = fd4;
	io->udp6 = fd6;
	io->tx4.gso = udp_gso_supported(fd4);
	if (reads)
		udp_gro_enable(fd4);
	ev_io_set(&io->udp4_w, fd4, EV_READ);
	if (reads)
		ev_io_start(io->loop, &io->udp4_w);
	ev_io_set(&io->udp4_tx_w, fd4, EV_WRITE);
	if (fd6 >= 0) {
		io->tx6.gso = udp_gso_supported(fd6);
		if (reads)
			udp_gro_enable(fd6);
		ev_io_set(&io->udp6_w, fd6, EV_READ);
		if (reads)
			ev_io_start(io->loop, &io->udp6_w);
		ev_io_set(&io->udp6_tx_w, fd6, EV_WRITE);
	}
}

void gw_udp_swap(struct gw *g, struct gw_socks *s)
{
	if (g->threaded) /* the control thread's own, now: worker 0 closes the old */
		io_take_socks(&g->ctl_io, s->fd4[0], s->fd6[0]);
	for (unsigned i = 0; i < g->nio; i++) {
		struct gw_io *io = &g->io[i];

		if (!g->threaded) {
			io_take_socks(io, s->fd4[i], s->fd6[i]);
			continue;
		}
		if (io->swap) { /* a change before the last was taken */
			close(io->new4);
			if (io->new6 >= 0)
				close(io->new6);
		}
		io->new4 = s->fd4[i];
		io->new6 = s->fd6[i];
		io->swap = true;
		ev_async_send(io->loop, &io->wake_w);
	}
	g->port = s->port;
	free(s->fd4);
	free(s->fd6);
	s->fd4 = s->fd6 = NULL;
	gw_log("%s: listening on port %u now", g->cfg.ifname, g->port);
}

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct gw_io *io = w->data;
	struct gw *g = io->g;

	(void)revents;
	gw_lock(g, io);
	if (io->swap) {
		io->swap = false;
		io_take_socks(io, io->new4, io->new6);
	}
	if (io->stop)
		ev_break(loop, EVBREAK_ALL);
	gw_unlock(g);
}

/* A worker's buffers and queues; sockets and TUN queue come later. */
static int io_init(struct gw_io *io, size_t mtu)
{
	io->seals = calloc(2 * UDP_BATCH, sizeof(*io->seals));
	if (!io->seals || udp_batch_init(&io->tx4, MSG_DATA_MIN_LEN + mtu + 16) ||
	    udp_batch_init(&io->tx6, MSG_DATA_MIN_LEN + mtu + 16))
		return -ENOMEM;
	if (io == &io->g->ctl_io)
		return 0;
	io->tunbuf_size = TUN_READ_MAX;
	io->tunbuf = calloc(1, io->tunbuf_size);
	io->segbuf_size = mtu + 64;
	io->segbuf = calloc(1, io->segbuf_size);
	io->jobs = calloc(GW_OPEN_JOBS, sizeof(*io->jobs));
	io->hs_jobs = calloc(GW_HS_PER_BATCH, sizeof(*io->hs_jobs));
	return io->tunbuf && io->segbuf && io->jobs && io->hs_jobs ? 0 : -ENOMEM;
}

/* The WireGuard sockets with their offloads, then each worker's receive
 * batch: its slots hold a coalesced 64 KiB when GRO is on. */
static int open_sockets(struct gw *g, size_t mtu)
{
	size_t slot = MSG_DATA_MIN_LEN + mtu + 256;
	struct gw_socks s;
	bool gro = false;
	int ret;

	ret = gw_udp_open(g, g->cfg.listen_port, g->cfg.fwmark, &s);
	if (ret) {
		gw_log("%s: udp port %u%s: %s", g->cfg.ifname, g->cfg.listen_port,
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
			gw_log("%s: out of memory", g->cfg.ifname);
			free(s.fd4);
			free(s.fd6);
			return -ENOMEM;
		}
		io->rx.dgram_max = slot; /* as without GRO */
	}
	free(s.fd4);
	free(s.fd6);
	if (!g->io[0].tx4.gso)
		gw_log("%s: no UDP GSO in this kernel: one send per datagram", g->cfg.ifname);
	if (!gro)
		gw_log("%s: no UDP GRO in this kernel: one receive per datagram", g->cfg.ifname);
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

	if (!fds)
		return -ENOMEM;
	ret = tun_open(g->cfg.ifname, g->nio, fds, &offload_err);
	if (ret < 0) {
		gw_log("%s: /dev/net/tun: %s", g->cfg.ifname, strerror(-ret));
		free(fds);
		return ret;
	}
	for (unsigned i = 0; i < g->nio; i++)
		g->io[i].tun = fds[i];
	free(fds);
	g->tun_vnet = !offload_err;
	if (offload_err) {
		gw_log("%s: no TUN offloads in this kernel (%s): one read per packet",
		       g->cfg.ifname, strerror(-offload_err));
	} else {
		for (unsigned i = 0; i < g->nio; i++) {
			struct gw_io *io = &g->io[i];

			io->grobuf = malloc(GRO_MAX);
			if (!io->grobuf) {
				gw_log("%s: out of memory", g->cfg.ifname);
				return -ENOMEM;
			}
			gro_init(&io->gro, io->grobuf, GRO_MAX);
		}
	}
	ret = tun_configure(g->cfg.ifname, mtu, g->cfg.addresses, g->cfg.n_addresses, &what);
	if (ret) {
		gw_log("%s: %s: %s", g->cfg.ifname, what, strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < g->cfg.n_addresses && !g->addr4; i++)
		if (g->cfg.addresses[i].family == AF_INET)
			memcpy(&g->addr4, g->cfg.addresses[i].addr, 4), g->addr4 = ntohl(g->addr4);
	if (g->addr4 && (ret = tun_accept_local(g->cfg.ifname)))
		gw_log("%s: accept_local: %s (ICMP unreachable will not reach the host)",
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

/* The workers' loops and watchers (their threads start in gw_run). */
static int io_watchers(struct gw *g)
{
	for (unsigned i = 0; i < g->nio; i++) {
		struct gw_io *io = &g->io[i];

		io->loop = g->threaded ? ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK) : g->loop;
		if (!io->loop)
			return -ENOMEM;
		ev_io_init(&io->udp4_w, udp_cb, io->udp4, EV_READ);
		io->udp4_w.data = io;
		ev_io_start(io->loop, &io->udp4_w);
		ev_io_init(&io->udp6_w, udp_cb, io->udp6, EV_READ);
		io->udp6_w.data = io;
		if (io->udp6 >= 0)
			ev_io_start(io->loop, &io->udp6_w);
		ev_io_init(&io->tun_w, tun_cb, io->tun, EV_READ);
		io->tun_w.data = io;
		ev_io_start(io->loop, &io->tun_w);
		ev_io_init(&io->udp4_tx_w, udp_tx_cb, io->udp4, EV_WRITE);
		io->udp4_tx_w.data = io;
		ev_io_init(&io->udp6_tx_w, udp_tx_cb, io->udp6, EV_WRITE);
		io->udp6_tx_w.data = io;
		if (!g->threaded)
			continue;
		ev_prepare_init(&io->prepare_w, worker_prepare_cb);
		io->prepare_w.data = io;
		ev_prepare_start(io->loop, &io->prepare_w);
		ev_async_init(&io->wake_w, wake_cb);
		io->wake_w.data = io;
		ev_async_start(io->loop, &io->wake_w);
	}
	if (g->threaded) {
		struct gw_io *c = &g->ctl_io;

		c->loop = g->loop;
		ev_io_init(&c->udp4_tx_w, udp_tx_cb, c->udp4, EV_WRITE);
		c->udp4_tx_w.data = c;
		ev_io_init(&c->udp6_tx_w, udp_tx_cb, c->udp6, EV_WRITE);
		c->udp6_tx_w.data = c;
		ev_set_userdata(g->loop, g);
		ev_set_loop_release_cb(g->loop, ctl_release, ctl_acquire);
	}
	return 0;
}

int gw_setup(struct gw *g, struct config *cfg)
{
	size_t mtu;
	int ret;

	memset(g, 0, sizeof(*g));
	g->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if (!g->cfg.has_private_key) {
		gw_log("%s: no PrivateKey", g->cfg.path);
		return -EINVAL;
	}
	if (g->cfg.user && (ret = priv_user_lookup(g->cfg.user, &g->user))) {
		gw_log("%s:%u: User: '%s': %s", g->cfg.path, g->cfg.user_line, g->cfg.user,
		       ret == -ENOENT ? "no such user" :
		       ret == -EINVAL ? "not a user name or uid" : strerror(-ret));
		return ret;
	}
	mtu = g->cfg.mtu ? g->cfg.mtu : WG_DEFAULT_MTU;
	ret = wg_device_init(&g->dev, g->cfg.private_key, g->cfg.n_peers ? g->cfg.n_peers : 1, mtu,
			     on_emit, g);
	if (ret) {
		gw_log("%s: PrivateKey: %s", g->cfg.path, strerror(-ret));
		return ret;
	}
	g->dev_up = true;
	/* the device holds its own copy now */
	sodium_memzero(g->cfg.private_key, sizeof(g->cfg.private_key));
	peers_normalize(&g->cfg);
	ret = add_peers(g);
	if (ret)
		return ret;
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
		if (io_init(&g->io[i], mtu))
			goto oom;
	if (g->threaded && io_init(&g->ctl_io, mtu))
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
	if (!g->loop || io_watchers(g))
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
	ret = ctl_listen(g->ctl_path, 0700);
	if (ret < 0) {
		gw_log("%s: control socket %s: %s", g->cfg.ifname, g->ctl_path, strerror(-ret));
		g->ctl_path[0] = 0;
		return ret;
	}
	g->ctl.has_body = ctl_has_body;
	g->ctl.handle = ctl_handle;
	g->ctl.arg = g;
	ctl_server_start(&g->ctl, g->loop, ret);
	/* everything privileged is done: keep only what the loop needs */
	return priv_drop(g->cfg.ifname, &g->user, priv_needed(g));
oom:
	gw_log("%s: out of memory", g->cfg.ifname);
	return -ENOMEM;
}

static void *worker_main(void *arg)
{
	struct gw_io *io = arg;

	ev_run(io->loop, 0);
	return NULL;
}

/* Worker threads, with every signal blocked (the control thread takes
 * them).  0 or -errno: the ones started are stopped again. */
static int workers_start(struct gw *g)
{
	sigset_t all, old;
	int ret = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < g->nio && !ret; i++) {
		ret = -pthread_create(&g->io[i].thread, NULL, worker_main, &g->io[i]);
		g->io[i].thread_on = !ret;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* With the lock held: each worker ends its loop; the lock goes meanwhile. */
static void workers_stop(struct gw *g)
{
	for (unsigned i = 0; i < g->nio; i++) {
		g->io[i].stop = true;
		if (g->io[i].thread_on)
			ev_async_send(g->io[i].loop, &g->io[i].wake_w);
	}
	gw_unlock(g);
	for (unsigned i = 0; i < g->nio; i++)
		if (g->io[i].thread_on) {
			pthread_join(g->io[i].thread, NULL);
			g->io[i].thread_on = false;
		}
	gw_lock(g, g->cio);
}

void gw_run(struct gw *g)
{
	uint64_t now = gw_mono(), wl = gw_wall();
	int ret;

	gw_log("%s: up, listening on port %u, %zu peer(s), mtu %zu, %u worker%s, control %s, "
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
	if (g->threaded && (ret = workers_start(g))) {
		gw_log("%s: worker threads: %s", g->cfg.ifname, strerror(-ret));
		workers_stop(g);
		gw_unlock(g);
		return;
	}
	ev_run(g->loop, 0);
	if (g->threaded)
		workers_stop(g);
	gw_unlock(g);
}

static void batch_wipe(struct udp_batch *b)
{
	if (b->bufs)
		sodium_memzero(b->bufs, b->slot_size * UDP_BATCH);
	udp_batch_free(b);
}

static void wipe_free(uint8_t *p, size_t len)
{
	if (p) {
		sodium_memzero(p, len);
		free(p);
	}
}

static void io_free(struct gw_io *io, bool fds)
{
	if (io->loop && io->loop != io->g->loop)
		ev_loop_destroy(io->loop);
	if (fds) {
		if (io->tun >= 0)
			close(io->tun); /* the device goes with the last one */
		if (io->udp6 >= 0)
			close(io->udp6);
		if (io->udp4 >= 0)
			close(io->udp4);
		if (io->swap) {
			close(io->new4);
			if (io->new6 >= 0)
				close(io->new6);
		}
	}
	batch_wipe(&io->rx);
	batch_wipe(&io->tx4);
	batch_wipe(&io->tx6);
	wipe_free(io->tunbuf, io->tunbuf_size);
	wipe_free(io->segbuf, io->segbuf_size);
	wipe_free(io->grobuf, GRO_MAX);
	wipe_free((uint8_t *)io->jobs, io->jobs ? GW_OPEN_JOBS * sizeof(*io->jobs) : 0);
	wipe_free((uint8_t *)io->hs_jobs, io->hs_jobs ? GW_HS_PER_BATCH * sizeof(*io->hs_jobs) : 0);
	wipe_free((uint8_t *)io->seals, io->seals ? 2 * UDP_BATCH * sizeof(*io->seals) : 0);
}

void gw_teardown(struct gw *g)
{
	if (resolver_stop(&g->resolver)) /* its job is g->dns_job */
		dns_job_free(&g->dns_job);
	for (size_t i = 0; i < g->n_dns; i++)
		free(g->dns[i].text);
	free(g->dns);
	free(g->dns_job.items);
	dp_teardown(g);
	ctl_server_stop(&g->ctl);
	ctl_server_stop(&g->uapi);
	if (g->uapi_path[0] && unlink(g->uapi_path) < 0 && errno != ENOENT)
		gw_log("%s: UAPI socket %s stays: %s (the next gw run replaces it)",
		       g->cfg.ifname, g->uapi_path, strerror(errno));
	/* after a drop to User, its directory may not be ours to write */
	if (g->ctl_path[0] && unlink(g->ctl_path) < 0 && errno != ENOENT)
		gw_log("%s: control socket %s stays: %s (the next gw run replaces it)",
		       g->cfg.ifname, g->ctl_path, strerror(errno));
	for (unsigned i = 0; g->io && i < g->nio; i++)
		io_free(&g->io[i], true);
	free(g->io);
	if (g->threaded) {
		io_free(&g->ctl_io, false); /* its sockets are worker 0's */
		pthread_mutex_destroy(&g->lock);
	}
	if (g->loop)
		ev_loop_destroy(g->loop);
	free(g->sendbuf);
	if (g->dev_up)
		wg_device_destroy(&g->dev);
	config_free(&g->cfg);
	sodium_memzero(g, sizeof(*g));
}
