/* SPDX-License-Identifier: MIT */
/* The workers' input side and their threads: see worker.h. */
#include "gw/worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stddef.h>
#include <unistd.h>

#include "gw/gw.h"
#include "nat/icmp6.h"
#include "nat/reject.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

enum { UPLINK_FRAMES_PER_WAKE = 256 };	/* then the other sockets get their turn */

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

/* The end of a batch under the lock: what it held for the TUN and queued
 * for the uplink goes, conntrack reaps what it killed, and the lock is
 * given back; then (outside it) the datagrams it queued to peers. */
void gw_batch_end(struct gw_io *io, uint64_t now)
{
	struct gw *g = io->g;

	gw_io_tun_flush(io);
	if (g->threaded) {
		dp_flush(g, now);
		gw_unlock(g);
		gw_io_uplink_flush(io);
		gw_io_flush(io);
	}
}

static void rx_result(struct gw *g, uint64_t now, uint64_t wl, const struct wg_endpoint *src,
		      const struct wg_rx *rx)
{
	if (rx->kind == WG_RX_PACKET)
		dp_from_peer(g, rx->data, rx->len, rx->room, (uint16_t)(uintptr_t)rx->peer->user,
			     now, wl);
	else if (rx->kind == WG_RX_REPLY)
		gw_queue_dgram(g, src, rx->data, rx->len);
}

/* The data messages and initiations begun so far: their AEAD and
 * Diffie-Hellman outside the lock (with workers), then each on its way; the
 * input batch has gone when it returns, so nothing shared points into io's
 * buffers. */
static void open_jobs(struct gw_io *io, uint64_t *nowp, uint64_t *wlp)
{
	struct gw *g = io->g;
	unsigned n = io->njobs, nhs = io->nhs;
	uint64_t now, wl;

	if (!n && !nhs)
		return;
	gw_unlock(g);
	for (unsigned i = 0; i < n; i++)
		wg_open_crypt(&io->jobs[i].o, io->jobs[i].buf, io->jobs[i].len);
	for (unsigned i = 0; i < nhs; i++)
		wg_handshake_crypt(&io->hs_jobs[i].h, io->hs_jobs[i].buf, io->hs_jobs[i].len);
	gw_lock(g, io);
	gw_clock(g, nowp, wlp); /* what the lock's other holders did meanwhile is later */
	now = *nowp;
	wl = *wlp;
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
static void udp_receive(struct gw_io *io, uint64_t *nowp, uint64_t *wlp,
			const struct wg_endpoint *src, uint8_t *buf, size_t len)
{
	uint64_t now = *nowp, wl = *wlp; /* open_jobs may move them on */
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
			open_jobs(io, nowp, wlp);
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

/* A datagram larger than any WireGuard message of our MTU (or cut short):
 * counted as a bad length (gw stats drop_bad-length). */
static void oversized(struct gw_io *io)
{
	io->g->dev.drops[WG_DROP_BAD_LENGTH]++;
}

/* One recvmmsg batch, under the lock. */
static void udp_batch(struct gw_io *io, int n, uint64_t *now, uint64_t *wl)
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
	dp_input_flush(io->g, *now, *wl);
}

static void udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_io *io = w->data;
	struct gw *g = io->g;

	(void)loop, (void)revents;
	for (int round = 0; round < UDP_BATCHES_PER_WAKE; round++) {
		int n = udp_recv_batch(w->fd, &io->rx);
		uint64_t now, wl;

		if (n <= 0)
			break;
		gw_lock(g, io);
		gw_clock(g, &now, &wl);
		io->gro_on = io->grobuf != NULL;
		udp_batch(io, n, &now, &wl);
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

/* One packet from the host (room: bytes writable after it): through
 * netfilter (IPv4 when on, IPv6 with Rules6) or straight to its peer. */
static void from_host(struct gw *g, uint8_t *p, size_t len, size_t room, uint64_t now,
		      uint64_t wl)
{
	struct session_seal seal;
	struct wg_tx tx;

	if (dp_filtered(g, p)) {
		dp_from_host(g, p, len, room, now, wl);
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
		from_host(g, ip, len, io->tunbuf_size - n, now, wl);
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
		from_host(g, io->segbuf, gso_seg_len(&s, i), io->segbuf_size - gso_seg_len(&s, i),
			  now, wl);
	}
}

/* The TUN queue's reads go in rounds of TUN_BATCH, read outside the lock
 * into the worker's buffers, then carried under it. */
static void tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_io *io = w->data;
	struct gw *g = io->g;

	(void)loop, (void)revents;
	for (int done = 0; done < TUN_READS_PER_WAKE && !io->tx_blocked;) {
		size_t len[TUN_BATCH];
		unsigned n = 0;
		uint64_t now, wl;

		while (n < TUN_BATCH) {
			ssize_t r = read(io->tun, io->tunbuf + n * io->tunbuf_size, io->tunbuf_size);

			if (r <= 0)
				break;
			len[n++] = (size_t)r;
		}
		if (!n)
			break;
		gw_lock(g, io);
		gw_clock(g, &now, &wl);
		for (unsigned i = 0; i < n; i++) {
			uint8_t *buf = io->tunbuf + i * io->tunbuf_size;

			if (g->tun_vnet)
				from_tun_vnet(io, buf, len[i], now, wl);
			else
				from_host(g, buf, len[i], io->tunbuf_size - len[i], now, wl);
		}
		gw_batch_end(io, now);
		done += (int)n;
		if (n < TUN_BATCH)
			break;
	}
}

/* A worker's loop: before it waits, its queued datagrams go. */
static void worker_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop, (void)revents;
	gw_io_uplink_flush(w->data);
	gw_io_flush(w->data);
}

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct gw_io *io = w->data;
	struct gw *g = io->g;

	(void)revents;
	gw_lock(g, io);
	if (io->swap) {
		io->swap = false;
		gw_io_take_socks(io, io->new4, io->new6);
	}
	if (io->stop)
		ev_break(loop, EVBREAK_ALL);
	gw_unlock(g);
}

/* The workers' loops and watchers (their threads start in gw_run). */
int gw_workers_watch(struct gw *g)
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
		ev_io_init(&io->udp4_tx_w, gw_io_tx_cb, io->udp4, EV_WRITE);
		io->udp4_tx_w.data = io;
		ev_io_init(&io->udp6_tx_w, gw_io_tx_cb, io->udp6, EV_WRITE);
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
		ev_io_init(&c->udp4_tx_w, gw_io_tx_cb, c->udp4, EV_WRITE);
		c->udp4_tx_w.data = c;
		ev_io_init(&c->udp6_tx_w, gw_io_tx_cb, c->udp6, EV_WRITE);
		c->udp6_tx_w.data = c;
		ev_set_userdata(g->loop, g);
		ev_set_loop_release_cb(g->loop, ctl_release, ctl_acquire);
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct gw_io *io = arg;

	ev_run(io->loop, 0);
	return NULL;
}

/* Worker threads, with every signal blocked (the control thread takes
 * them).  0 or -errno: the ones started are stopped again. */
int gw_workers_start(struct gw *g)
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
void gw_workers_stop(struct gw *g)
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


void gw_uplink_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_io *io = w->data;
	struct gw *g = io->g;

	(void)loop, (void)revents;
	for (int n = 0; n < UPLINK_FRAMES_PER_WAKE && !io->tx_blocked;) {
		struct dp_rx_ctx c = { g, 0, 0 };
		int got;

		gw_lock(g, io);
		gw_clock(g, &c.now, &c.wall);
		got = uplink_recv_batch(io->urx, dp_from_uplink, &c);
		gw_batch_end(io, c.now);
		if (got <= 0)
			break;
		n += got;
	}
}

