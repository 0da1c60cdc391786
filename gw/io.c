/* SPDX-License-Identifier: MIT */
/* The workers' output side: see worker.h. */
#include "gw/worker.h"

#include <errno.h>
#include <sodium.h>
#include <sys/uio.h>

#include "gw/gw.h"
#include "gw/log.h"

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

void gw_clock(struct gw *g, uint64_t *now, uint64_t *wall)
{
	uint64_t m = gw_mono();

	if (m < g->mono_last)
		m = g->mono_last;
	g->mono_last = m;
	*now = m;
	*wall = gw_wall();
}

void gw_unlock(struct gw *g)
{
	if (g->threaded)
		pthread_mutex_unlock(&g->lock);
}

static void stat_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Reading the TUN and the uplink stops while a UDP socket is full (their
 * packets would only be dropped at the send queue) and resumes when the
 * queue has gone out: the kernel's socket buffer paces gw, as a qdisc
 * paces a device. */
void gw_io_inputs(struct gw_io *io, bool on)
{
	if (io == &io->g->ctl_io)
		return; /* it reads nothing */
	if (on) {
		ev_io_start(io->loop, &io->tun_w);
		if (io->urx)
			ev_io_start(io->loop, &io->uplink_w);
	} else {
		ev_io_stop(io->loop, &io->tun_w);
		if (io->urx)
			ev_io_stop(io->loop, &io->uplink_w);
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
		gw_warn("%s: UDP GSO refused on the IPv%c socket (%s): sending datagram by datagram",
		        io->g->cfg.ifname, v6 ? '6' : '4', strerror(q->gso_err));
	if (ret == 0) {
		if (!(io->tx_blocked & bit))
			return;
		ev_io_stop(io->loop, w);
		io->tx_blocked &= ~bit;
		if (!io->tx_blocked)
			gw_io_inputs(io, true);
		return;
	}
	if (io->tx_blocked & bit)
		return;
	stat_add(&io->tx_waits, 1);
	if (!io->tx_blocked)
		gw_io_inputs(io, false);
	io->tx_blocked |= bit;
	ev_io_start(io->loop, w);
}

void gw_io_tx_cb(struct ev_loop *loop, ev_io *w, int revents)
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

void gw_io_flush(struct gw_io *io)
{
	if (io->tx4.count)
		flush_one(io, AF_INET);
	if (io->tx6.count)
		flush_one(io, AF_INET6);
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
	if (n < 0 && errno != EAGAIN) {
		static struct log_limit lim; /* once per packet: rate-limited */

		gw_log_limited(&lim, LOG_ERR, "%s: tun write: %s", io->g->cfg.ifname,
			       strerror(errno));
	}
}

/* Writes the TCP segments held in io->gro, if any: one packet as it came,
 * more as one super-packet the kernel cuts again (it completes the TCP
 * checksum from the pseudo-header sum gro left in it). */
void gw_io_tun_flush(struct gw_io *io)
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
			gw_io_tun_flush(io);
			r = gro_add(&io->gro, p, len);
		}
		if (r == GRO_HELD)
			return;
		gw_io_tun_flush(io);
	}
	tun_writev(io, &plain, p, len);
}

static int mark_fd(int fd, uint32_t mark)
{
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ? -errno : 0;
}

int gw_udp_mark(struct gw *g, uint32_t mark)
{
	int ret = 0;

	for (unsigned i = 0; i < g->nio && !ret; i++) {
		const struct gw_io *io = &g->io[i];

		ret = mark_fd(io->udp4, mark);
		if (!ret && io->udp6 >= 0)
			ret = mark_fd(io->udp6, mark);
		/* the sockets a worker has yet to take (the control thread's
		 * queue sends on worker 0's already) */
		if (!ret && io->swap)
			ret = mark_fd(io->new4, mark);
		if (!ret && io->swap && io->new6 >= 0)
			ret = mark_fd(io->new6, mark);
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
		gw_warn("%s: no IPv6 socket on port %u: %s", g->cfg.ifname, s->port,
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
void gw_io_take_socks(struct gw_io *io, int fd4, int fd6)
{
	bool reads = io != &io->g->ctl_io;

	gw_io_flush(io);
	ev_io_stop(io->loop, &io->udp4_w);
	ev_io_stop(io->loop, &io->udp6_w);
	ev_io_stop(io->loop, &io->udp4_tx_w);
	ev_io_stop(io->loop, &io->udp6_tx_w);
	if (io->tx_blocked) {
		io->tx_blocked = 0;
		gw_io_inputs(io, true);
	}
	/* what the old sockets did not take */
	stat_add(&io->tx_dropped, udp_queue_discard(&io->tx4) + udp_queue_discard(&io->tx6));
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
		gw_io_take_socks(&g->ctl_io, s->fd4[0], s->fd6[0]);
	for (unsigned i = 0; i < g->nio; i++) {
		struct gw_io *io = &g->io[i];

		if (!g->threaded) {
			gw_io_take_socks(io, s->fd4[i], s->fd6[i]);
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
	gw_notice("%s: listening on port %u now", g->cfg.ifname, g->port);
}

/* A worker's buffers and queues; sockets and TUN queue come later. */
int gw_io_init(struct gw_io *io, size_t mtu)
{
	io->seals = calloc(2 * UDP_BATCH, sizeof(*io->seals));
	if (!io->seals || udp_batch_init(&io->tx4, MSG_DATA_MIN_LEN + mtu + 16) ||
	    udp_batch_init(&io->tx6, MSG_DATA_MIN_LEN + mtu + 16))
		return -ENOMEM;
	if (io == &io->g->ctl_io)
		return 0;
	io->tunbuf_size = TUN_READ_MAX;
	io->tunbuf = calloc(TUN_BATCH, io->tunbuf_size);
	io->segbuf_size = mtu + 64;
	io->segbuf = calloc(1, io->segbuf_size);
	io->jobs = calloc(GW_OPEN_JOBS, sizeof(*io->jobs));
	io->hs_jobs = calloc(GW_HS_PER_BATCH, sizeof(*io->hs_jobs));
	return io->tunbuf && io->segbuf && io->jobs && io->hs_jobs ? 0 : -ENOMEM;
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

void gw_io_free(struct gw_io *io, bool fds)
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
	wipe_free(io->tunbuf, TUN_BATCH * io->tunbuf_size);
	wipe_free(io->segbuf, io->segbuf_size);
	wipe_free(io->grobuf, GRO_MAX);
	wipe_free((uint8_t *)io->jobs, io->jobs ? GW_OPEN_JOBS * sizeof(*io->jobs) : 0);
	wipe_free((uint8_t *)io->hs_jobs, io->hs_jobs ? GW_HS_PER_BATCH * sizeof(*io->hs_jobs) : 0);
	wipe_free((uint8_t *)io->seals, io->seals ? 2 * UDP_BATCH * sizeof(*io->seals) : 0);
}


/* Written by the worker alone, outside the lock: published field by field
 * with __atomic stores (gw stats loads them so). */
static void utx_publish(struct gw_io *io)
{
	const struct uplink_tx_stats *s = &io->utx->st;
	struct uplink_tx_stats *p = &io->utx_st;

	__atomic_store_n(&p->packet, s->packet, __ATOMIC_RELAXED);
	__atomic_store_n(&p->raw, s->raw, __ATOMIC_RELAXED);
	__atomic_store_n(&p->no_neigh, s->no_neigh, __ATOMIC_RELAXED);
	__atomic_store_n(&p->confirm, s->confirm, __ATOMIC_RELAXED);
	__atomic_store_n(&p->drop, s->drop, __ATOMIC_RELAXED);
	__atomic_store_n(&p->gso, s->gso, __ATOMIC_RELAXED);
	__atomic_store_n(&p->gso_segs, s->gso_segs, __ATOMIC_RELAXED);
	__atomic_store_n(&io->utx_resyncs, io->utx->nh.resyncs, __ATOMIC_RELAXED);
}


/* A worker's own uplink queue: the kernel's neighbour and route events for
 * its cache, on its own loop. */
static void utx_nh_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_io *io = w->data;
	int rc = uplink_tx_neigh_read(io->utx);

	(void)loop, (void)revents;
	utx_publish(io);
	if (rc < 0)
		gw_warn("%s: uplink neighbour events (worker %u): %s", io->g->cfg.ifname, io->id,
			strerror(-rc));
}

void gw_io_uplink_open(struct gw *g)
{
	struct uplink *u = &g->uplink;

	g->ctl_io.utx = &u->tx;
	for (unsigned i = 0; i < g->nio; i++) {
		struct gw_io *io = &g->io[i];
		struct uplink_tx *t;
		int ret;

		io->utx = &u->tx;
		if (!g->threaded)
			continue;
		t = calloc(1, sizeof(*t));
		ret = t ? uplink_tx_open(t, g->cfg.uplink, u->ifindex, u->mtu, u->mac,
					 u->tx.xfd < 0, i + 1)
			: -ENOMEM;
		if (ret) {
			free(t);
			gw_warn("%s: worker %u sends to the uplink under the lock: %s", g->cfg.ifname, i,
				strerror(-ret));
			continue;
		}
		io->utx = t;
		io->utx_own = true;
		if (t->nh.fd >= 0) {
			ev_io_init(&io->utx_nh_w, utx_nh_cb, t->nh.fd, EV_READ);
			io->utx_nh_w.data = io;
			ev_io_start(io->loop, &io->utx_nh_w);
		}
	}
}

void gw_io_uplink_close(struct gw *g)
{
	for (unsigned i = 0; g->io && i < g->nio; i++) {
		struct gw_io *io = &g->io[i];

		if (io->utx_own) {
			if (io->utx->nh.fd >= 0)
				ev_io_stop(io->loop, &io->utx_nh_w);
			uplink_tx_close(io->utx);
			free(io->utx);
			io->utx_own = false;
		}
		io->utx = NULL;
	}
	g->ctl_io.utx = NULL;
}

void gw_io_uplink_flush(struct gw_io *io)
{
	if (!io->utx_own)
		return;
	if (io->utx->count)
		uplink_flush(io->utx);
	utx_publish(io);
}
