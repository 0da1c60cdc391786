/* SPDX-License-Identifier: MIT */
/*
 * udp — gw's WireGuard sockets (IPv4 and IPv6 on ListenPort) and their
 * batches: a receive batch (recvmmsg into preallocated buffers) and a send
 * queue (datagrams copied or encrypted into preallocated slots, flushed with
 * sendmmsg).  Endpoints are struct wg_endpoint: the sockaddr bytes, zero
 * padded, plus the rate-limit key (the IPv4 address or the IPv6 /64).
 *
 * Offloads, as wireguard-go uses them, so that the kernel's per-datagram
 * work is done once per train of datagrams:
 *   UDP GSO  consecutive queued datagrams to one endpoint, all of one size
 *            but the last (which may be shorter), leave as one message with
 *            a UDP_SEGMENT cmsg; the kernel cuts it at the segment size.
 *   UDP GRO  the kernel hands a flow's datagrams over coalesced in one
 *            buffer with a UDP_GRO cmsg giving their size; the slots hold
 *            64 KiB then, and udp_rx_segments tells where to cut.
 */
#ifndef GW_UDP_H
#define GW_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct wg_endpoint;
struct mmsghdr;

enum {
	UDP_BATCH = 64,
	UDP_SOCKBUF = 4 << 20,
	UDP_GSO_MAX_SEGS = 64,	   /* the kernel's UDP_MAX_SEGMENTS */
	UDP_GSO_MAX_BYTES = 65507, /* one IPv4 datagram's payload (IPv6 allows more) */
	/* a receive slot with GRO: a coalesced buffer is up to 64 KiB; the
	 * extra cache line keeps slot starts out of one cache set */
	UDP_GRO_SLOT = (64 << 10) + 64,
};

/* One arena of UDP_BATCH slots of slot_size bytes with their headers.
 * Receive: msgs[i] reads into slot i.  Send: slot i holds the queued
 * datagram iov[i] to addr[i]; udp_flush builds msgs from them, one message
 * per datagram or GSO train. */
struct udp_batch {
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_storage *addr;
	socklen_t *alen;		/* send: addr[i]'s length */
	union udp_cmsg *ctl;		/* msgs[i]'s UDP_GRO / UDP_SEGMENT cmsg */
	uint8_t *bufs;
	size_t slot_size;
	size_t dgram_max; /* receive: a datagram above is oversized (slot_size with no GRO) */
	unsigned count; /* receive: datagrams read; send: slots queued */
	unsigned head;  /* send: the first queued slot not sent yet */
	unsigned split; /* send: slots before it go one per message (a train too big for its path) */
	bool gso;	/* send: trains go as one message (the socket has UDP_SEGMENT) */
	int gso_err;	/* send: why the kernel refused a train (gso went false) */
};

int udp_batch_init(struct udp_batch *b, size_t slot_size);
void udp_batch_free(struct udp_batch *b);
/* Slot i's buffer. */
uint8_t *udp_batch_slot(struct udp_batch *b, unsigned i);

/* A UDP socket of family bound to port (0: any), non-blocking, IPv6 only for
 * AF_INET6.  Returns the fd or -errno; *bound set to the port. */
int udp_open(int family, uint16_t port, uint16_t *bound);
/* n sockets on one port (port 0: a free one, *bound), one per worker: the
 * first is bound alone (so no other reuseport group can hold a port picked
 * for us), then joins SO_REUSEPORT with the others, and the kernel hands each
 * source address and port to one of them, always the same.  fds[] must be
 * -1 on entry; 0 or -errno (nothing left open). */
int udp_open_group(int family, uint16_t port, int *fds, unsigned n, uint16_t *bound);
/* Whether the kernel segments for fd (UDP_SEGMENT known): set b->gso. */
bool udp_gso_supported(int fd);
/* Asks for coalesced receives on fd (UDP_GRO); false when the kernel has
 * none.  The receive batch's slots must then be UDP_GRO_SLOT bytes. */
bool udp_gro_enable(int fd);

/* Reads up to UDP_BATCH messages; returns how many (0 when none) or -errno.
 * A message larger than the slot is flagged MSG_TRUNC in msgs[i].msg_flags. */
int udp_recv_batch(int fd, struct udp_batch *b);
/* How received message i cuts into datagrams: each *seg bytes but the last,
 * which has the rest.  Returns the bytes that hold whole datagrams: all of
 * msg_len; for a message cut short (MSG_TRUNC) the whole datagrams of a
 * coalesced one only, 0 for a single one. */
size_t udp_rx_segments(const struct udp_batch *b, unsigned i, size_t *seg);

/* Queues the next slot (len bytes already in it) to ep; the caller checks
 * there is one (count < UDP_BATCH, see udp_queue_room). */
void udp_queue_commit(struct udp_batch *b, size_t len, const struct wg_endpoint *ep);
/* Room for one more datagram: moves what is still unsent to the front when
 * the end is reached and at least a quarter of the slots went.  False when
 * (nearly) all UDP_BATCH slots wait to be sent. */
bool udp_queue_room(struct udp_batch *b);
/* Empties the send queue (its socket is gone): the number of datagrams
 * that were still waiting. */
unsigned udp_queue_discard(struct udp_batch *b);
/* The GSO train starting at queued slot i: how many slots (at least 1) go
 * as one message, with *seg their segment size.  A train is datagrams to
 * one endpoint, all *seg bytes but the last, which may be shorter; at most
 * UDP_GSO_MAX_SEGS and UDP_GSO_MAX_BYTES.  1 when b->gso is off or i is
 * before b->split. */
unsigned udp_gso_train(const struct udp_batch *b, unsigned i, size_t *seg);
/* Sends what is queued, in one sendmmsg while the socket takes it.  0 when
 * it all went (the queue is empty again); -EAGAIN when the socket buffer is
 * full: the rest stays queued from the first datagram not sent, to be sent
 * when the socket is writable.  A message the kernel refuses for another
 * reason (no route, a full device queue) is dropped and its datagrams
 * counted in *dropped.  A train refused with EMSGSIZE (a segment over its
 * path's MTU) goes datagram by datagram, for the kernel to fragment; one
 * refused with EIO / EINVAL (a device without checksum offload; older
 * kernels' path MTU error) turns b->gso off for good, sets b->gso_err, and
 * goes datagram by datagram too. */
int udp_flush(int fd, struct udp_batch *b, uint64_t *dropped);

/* The endpoint of a sockaddr (AF_INET / AF_INET6, else len 0). */
void udp_endpoint_from_sa(struct wg_endpoint *ep, const struct sockaddr *sa, socklen_t len);
/* "1.2.3.4:5" / "[v6]:5" of an endpoint. */
void udp_endpoint_format(const struct wg_endpoint *ep, char *out, size_t len);
/* Resolves "host:port" / "[v6]:port" (getaddrinfo).  0 or -EINVAL / -ENOENT. */
int udp_endpoint_resolve(struct wg_endpoint *ep, const char *text);
/* The same for an address only (no name lookup): -ENOENT for a host name. */
int udp_endpoint_numeric(struct wg_endpoint *ep, const char *text);
/* The family of an endpoint (AF_INET / AF_INET6 / 0). */
int udp_endpoint_family(const struct wg_endpoint *ep);

#endif
