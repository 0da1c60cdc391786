/* SPDX-License-Identifier: MIT */
/*
 * worker — gw's workers (struct gw_io, see gw/gw.h for the design):
 *
 *   input (worker.c): each worker's loop reads its WireGuard sockets
 *     (recvmmsg), its TUN queue and (worker 0) the uplink, in batches;
 *     under the lock a batch goes through wg (handshakes at once; data
 *     messages begun, opened outside the lock, ended) and the packet path
 *     (gw/path.h), then the batch ends (gw_batch_end).  The threads, their
 *     start and their stop.
 *   output (io.c): each worker's send queues to peers (data messages
 *     sealed just before they leave), TCP segments joined for the TUN,
 *     writes to the TUN; the WireGuard sockets, opened as one SO_REUSEPORT
 *     group per family and swapped when ListenPort changes.
 *
 * input -> path -> output: the packet path calls only the output side.
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/session.h"
#include "gw/udp.h"
#include "nat/pkt/vnet.h"

struct gw;
struct gw_io;
struct wg_endpoint;

enum {
	TUN_READS_PER_WAKE = UDP_BATCH,	/* then the other sockets get their turn */
	TUN_BATCH = 8,			/* reads made outside the lock, then carried */
	UDP_BATCHES_PER_WAKE = 8,
	TUN_READ_MAX = VNET_HLEN + 65536,
};

/* --- output (io.c) --- */

/* A worker's buffers and queues (and the control thread's queue, which
 * only sends).  0 or -ENOMEM (gw_io_free frees what was made). */
int gw_io_init(struct gw_io *io, size_t mtu);
/* Its buffers wiped and freed; fds: its sockets and TUN queue closed too. */
void gw_io_free(struct gw_io *io, bool fds);
/* Its queued datagrams sealed and sent; a full socket holds its inputs
 * until there is room. */
void gw_io_flush(struct gw_io *io);
/* The TCP segments held for the TUN written. */
void gw_io_tun_flush(struct gw_io *io);
/* A full socket of the worker (w->data) has room again. */
void gw_io_tx_cb(struct ev_loop *loop, ev_io *w, int revents);
/* Reading its TUN queue and (worker 0) the uplink on or off. */
void gw_io_inputs(struct gw_io *io, bool on);
/* Its sockets become fd4 and fd6, under the lock on its own thread: what
 * it queued goes on the old ones, which it closes (the control thread's
 * queue only takes worker 0's new ones). */
void gw_io_take_socks(struct gw_io *io, int fd4, int fd6);

/* With the uplink open: each worker's send queue to it (with threads its
 * own: sockets, neighbour cache, sent outside the lock; else the uplink's);
 * closed again. */
void gw_io_uplink_open(struct gw *g);
void gw_io_uplink_close(struct gw *g);
/* A worker's own uplink queue sent (outside the lock). */
void gw_io_uplink_flush(struct gw_io *io);

/* --- input (worker.c) --- */

/* Each worker's watchers on its loop (its own with threads, else the
 * control loop), and the control loop's lock callbacks.  0 or -ENOMEM. */
int gw_workers_watch(struct gw *g);
/* The worker threads (every signal blocked in them).  0 or -errno (those
 * started are stopped again). */
int gw_workers_start(struct gw *g);
/* With the lock held: each worker ends its loop; joined. */
void gw_workers_stop(struct gw *g);
/* A worker's reader of the uplink is readable (w->data: the worker). */
void gw_uplink_cb(struct ev_loop *loop, ev_io *w, int revents);

#endif
