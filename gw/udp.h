/* SPDX-License-Identifier: MIT */
/*
 * udp — gw's WireGuard sockets (IPv4 and IPv6 on ListenPort) and their
 * batches: a receive batch (recvmmsg into preallocated buffers) and a send
 * queue (datagrams copied or encrypted into preallocated slots, flushed with
 * sendmmsg).  Endpoints are struct wg_endpoint: the sockaddr bytes, zero
 * padded, plus the rate-limit key (the IPv4 address or the IPv6 /64).
 */
#ifndef GW_UDP_H
#define GW_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct wg_endpoint;
struct mmsghdr;

enum { UDP_BATCH = 64, UDP_SOCKBUF = 4 << 20 };

/* One arena of UDP_BATCH slots of slot_size bytes with their headers. */
struct udp_batch {
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_storage *addr;
	uint8_t *bufs;
	size_t slot_size;
	unsigned count; /* receive: datagrams read; send: slots queued */
	unsigned head;  /* send: the first queued slot not sent yet */
};

int udp_batch_init(struct udp_batch *b, size_t slot_size);
void udp_batch_free(struct udp_batch *b);
/* Slot i's buffer. */
uint8_t *udp_batch_slot(struct udp_batch *b, unsigned i);

/* A UDP socket of family bound to port (0: any), non-blocking, IPv6 only for
 * AF_INET6.  Returns the fd or -errno; *bound set to the port. */
int udp_open(int family, uint16_t port, uint16_t *bound);
/* Reads up to UDP_BATCH datagrams; returns how many (0 when none) or -errno.
 * A datagram larger than the slot is flagged MSG_TRUNC in msgs[i].msg_flags. */
int udp_recv_batch(int fd, struct udp_batch *b);
/* Queues the next slot (len bytes already in it) to ep; the caller checks
 * there is one (count < UDP_BATCH, see udp_queue_room). */
void udp_queue_commit(struct udp_batch *b, size_t len, const struct wg_endpoint *ep);
/* Room for one more datagram: moves what is still unsent to the front when
 * the end is reached and at least a quarter of the slots went.  False when
 * (nearly) all UDP_BATCH slots wait to be sent. */
bool udp_queue_room(struct udp_batch *b);
/* Sends what is queued.  0 when it all went (the queue is empty again);
 * -EAGAIN when the socket buffer is full: the rest stays queued, to be sent
 * when the socket is writable.  A datagram the kernel refuses for another
 * reason (no route, a full device queue) is dropped and *dropped counted. */
int udp_flush(int fd, struct udp_batch *b, uint64_t *dropped);

/* The endpoint of a sockaddr (AF_INET / AF_INET6, else len 0). */
void udp_endpoint_from_sa(struct wg_endpoint *ep, const struct sockaddr *sa, socklen_t len);
/* "1.2.3.4:5" / "[v6]:5" of an endpoint. */
void udp_endpoint_format(const struct wg_endpoint *ep, char *out, size_t len);
/* Resolves "host:port" / "[v6]:port" (getaddrinfo).  0 or -EINVAL / -ENOENT. */
int udp_endpoint_resolve(struct wg_endpoint *ep, const char *text);
/* The family of an endpoint (AF_INET / AF_INET6 / 0). */
int udp_endpoint_family(const struct wg_endpoint *ep);

#endif
