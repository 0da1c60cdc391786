/* SPDX-License-Identifier: MIT */
#include "gw/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/wg.h"

/* One message's control data: UDP_GRO (an int) in, UDP_SEGMENT (a u16) out. */
union udp_cmsg {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

int udp_batch_init(struct udp_batch *b, size_t slot_size)
{
	memset(b, 0, sizeof(*b));
	b->msgs = calloc(UDP_BATCH, sizeof(*b->msgs));
	b->iov = calloc(UDP_BATCH, sizeof(*b->iov));
	b->addr = calloc(UDP_BATCH, sizeof(*b->addr));
	b->alen = calloc(UDP_BATCH, sizeof(*b->alen));
	b->ctl = calloc(UDP_BATCH, sizeof(*b->ctl));
	b->bufs = calloc(UDP_BATCH, slot_size);
	if (!b->msgs || !b->iov || !b->addr || !b->alen || !b->ctl || !b->bufs) {
		udp_batch_free(b);
		return -ENOMEM;
	}
	b->slot_size = b->dgram_max = slot_size;
	return 0;
}

void udp_batch_free(struct udp_batch *b)
{
	free(b->msgs);
	free(b->iov);
	free(b->addr);
	free(b->alen);
	free(b->ctl);
	free(b->bufs);
	memset(b, 0, sizeof(*b));
}

uint8_t *udp_batch_slot(struct udp_batch *b, unsigned i)
{
	return b->bufs + (size_t)i * b->slot_size;
}

static int udp_socket(int family, uint16_t port, bool reuse, uint16_t *bound)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd, one = 1;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
			goto fail;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	}
	/* as wireguard-go: large buffers absorb bursts (forced when root) */
	for (int opt = 0; opt < 2; opt++) {
		int size = UDP_SOCKBUF;
		int force = opt ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
		int plain = opt ? SO_RCVBUF : SO_SNDBUF;

		if (setsockopt(fd, SOL_SOCKET, force, &size, sizeof(size)) < 0)
			setsockopt(fd, SOL_SOCKET, plain, &size, sizeof(size));
	}
	if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	*bound = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					  : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
fail:;
	int err = -errno;

	close(fd);
	return err;
}

int udp_open(int family, uint16_t port, uint16_t *bound)
{
	return udp_socket(family, port, false, bound);
}

int udp_open_group(int family, uint16_t port, int *fds, unsigned n, uint16_t *bound)
{
	int one = 1, fd = udp_socket(family, port, false, bound);

	if (fd < 0)
		return fd;
	fds[0] = fd;
	if (n > 1 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		fd = -errno;
		goto fail;
	}
	for (unsigned i = 1; i < n; i++) {
		uint16_t same;

		fd = udp_socket(family, *bound, true, &same);
		if (fd < 0)
			goto fail;
		fds[i] = fd;
	}
	return 0;
fail:
	for (unsigned i = 0; i < n && fds[i] >= 0; i++) {
		close(fds[i]);
		fds[i] = -1;
	}
	return fd;
}

bool udp_gso_supported(int fd)
{
	int size = 0;
	socklen_t len = sizeof(size);

	return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
}

bool udp_gro_enable(int fd)
{
	int one = 1;

	return setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
}

int udp_recv_batch(int fd, struct udp_batch *b)
{
	int n;

	for (unsigned i = 0; i < UDP_BATCH; i++) {
		b->iov[i] = (struct iovec){ udp_batch_slot(b, i), b->slot_size };
		b->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &b->addr[i],
			.msg_namelen = sizeof(b->addr[i]),
			.msg_iov = &b->iov[i],
			.msg_iovlen = 1,
			.msg_control = &b->ctl[i],
			.msg_controllen = sizeof(b->ctl[i]),
		};
		b->msgs[i].msg_len = 0;
	}
	n = recvmmsg(fd, b->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	b->count = (unsigned)n;
	return n;
}

/* The UDP_GRO segment size of a received message, 0 when it has none. */
static size_t gro_size(const struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
		int size;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(size)))
			continue;
		memcpy(&size, CMSG_DATA(c), sizeof(size));
		return size > 0 ? (size_t)size : 0;
	}
	return 0;
}

size_t udp_rx_segments(const struct udp_batch *b, unsigned i, size_t *seg)
{
	const struct mmsghdr *m = &b->msgs[i];
	size_t len = m->msg_len, size = gro_size(&m->msg_hdr);

	*seg = size && size < len ? size : len;
	if (!(m->msg_hdr.msg_flags & MSG_TRUNC))
		return len;
	/* the kernel copied what fit: the datagrams before the cut are whole */
	return size ? len - len % size : 0;
}

void udp_queue_commit(struct udp_batch *b, size_t len, const struct wg_endpoint *ep)
{
	unsigned i = b->count++;

	memcpy(&b->addr[i], ep->addr, ep->len);
	b->alen[i] = ep->len;
	b->iov[i] = (struct iovec){ udp_batch_slot(b, i), len };
}

static bool same_endpoint(const struct udp_batch *b, unsigned i, unsigned j)
{
	return b->alen[i] == b->alen[j] && !memcmp(&b->addr[i], &b->addr[j], b->alen[i]);
}

unsigned udp_gso_train(const struct udp_batch *b, unsigned i, size_t *seg)
{
	size_t size = b->iov[i].iov_len, total = size;
	unsigned n = 1;

	*seg = size;
	if (!b->gso || i < b->split)
		return 1;
	while (i + n < b->count && n < UDP_GSO_MAX_SEGS) {
		size_t len = b->iov[i + n].iov_len;

		if (len > size || total + len > UDP_GSO_MAX_BYTES || !same_endpoint(b, i, i + n))
			break;
		total += len;
		n++;
		if (len < size) /* a shorter one is the last of its train */
			break;
	}
	return n;
}

/* Message k: slots i.. (n of them, seg bytes each but the last). */
static void message(struct udp_batch *b, unsigned k, unsigned i, unsigned n, size_t seg)
{
	struct msghdr *h = &b->msgs[k].msg_hdr;

	*h = (struct msghdr){
		.msg_name = &b->addr[i],
		.msg_namelen = b->alen[i],
		.msg_iov = &b->iov[i],
		.msg_iovlen = n,
	};
	if (n > 1) {
		uint16_t size = (uint16_t)seg;
		struct cmsghdr *c;

		h->msg_control = &b->ctl[k];
		h->msg_controllen = CMSG_SPACE(sizeof(size));
		c = CMSG_FIRSTHDR(h);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(size));
		memcpy(CMSG_DATA(c), &size, sizeof(size));
	}
}

/* The messages for the queued slots from head on; returns how many. */
static unsigned messages(struct udp_batch *b)
{
	unsigned k = 0;

	for (unsigned i = b->head; i < b->count; k++) {
		size_t seg;
		unsigned n = udp_gso_train(b, i, &seg);

		message(b, k, i, n, seg);
		i += n;
	}
	return k;
}

int udp_flush(int fd, struct udp_batch *b, uint64_t *dropped)
{
	while (fd >= 0 && b->head < b->count) {
		unsigned k = messages(b);
		int n = sendmmsg(fd, b->msgs, k, MSG_DONTWAIT);

		if (n < 0) {
			unsigned first = (unsigned)b->msgs[0].msg_hdr.msg_iovlen;

			if (errno == EINTR)
				continue;
			/* (ENOBUFS, a full device queue, leaves the socket
			 * writable: waiting for room would spin) */
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -EAGAIN;
			if (first > 1 && errno == EMSGSIZE) {
				b->split = b->head + first; /* this train one by one */
				continue;
			}
			if (first > 1 && (errno == EIO || errno == EINVAL)) {
				b->gso = false; /* the same datagrams go one by one */
				b->gso_err = errno;
				continue;
			}
			b->head += first;
			*dropped += first;
			continue;
		}
		/* the first n messages went: resume at the next one's slot */
		for (int j = 0; j < n; j++)
			b->head += (unsigned)b->msgs[j].msg_hdr.msg_iovlen;
	}
	if (fd < 0)
		*dropped += b->count - b->head;
	b->head = b->count = b->split = 0;
	return 0;
}

unsigned udp_queue_discard(struct udp_batch *b)
{
	unsigned n = b->count - b->head;

	b->head = b->count = b->split = 0;
	return n;
}

bool udp_queue_room(struct udp_batch *b)
{
	unsigned n = b->count - b->head;

	if (b->count < UDP_BATCH)
		return true;
	/* moving the rest costs a copy of each: only when that frees a
	 * quarter of the slots (a socket draining one datagram at a time
	 * would otherwise cost 63 copies per datagram queued) */
	if (b->head < UDP_BATCH / 4)
		return false;
	for (unsigned i = 0; i < n; i++) {
		unsigned from = b->head + i;

		memcpy(udp_batch_slot(b, i), udp_batch_slot(b, from), b->iov[from].iov_len);
		b->addr[i] = b->addr[from];
		b->alen[i] = b->alen[from];
		b->iov[i] = (struct iovec){ udp_batch_slot(b, i), b->iov[from].iov_len };
	}
	b->split = b->split > b->head ? b->split - b->head : 0;
	b->head = 0;
	b->count = n;
	return true;
}

void udp_endpoint_from_sa(struct wg_endpoint *ep, const struct sockaddr *sa, socklen_t len)
{
	memset(ep, 0, sizeof(*ep));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		struct sockaddr_in c = { .sin_family = AF_INET, .sin_port = in->sin_port,
					 .sin_addr = in->sin_addr };

		memcpy(ep->addr, &c, sizeof(c));
		ep->len = sizeof(c);
		memcpy(ep->host, &c.sin_addr, 4);
		ep->host_len = 4;
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		struct sockaddr_in6 c = { .sin6_family = AF_INET6, .sin6_port = in6->sin6_port,
					  .sin6_addr = in6->sin6_addr,
					  .sin6_scope_id = in6->sin6_scope_id };

		memcpy(ep->addr, &c, sizeof(c));
		ep->len = sizeof(c);
		memcpy(ep->host, &c.sin6_addr, 8); /* the /64 */
		ep->host_len = 8;
	}
}

int udp_endpoint_family(const struct wg_endpoint *ep)
{
	struct sockaddr sa;

	if (ep->len < sizeof(sa.sa_family))
		return 0;
	memcpy(&sa.sa_family, ep->addr, sizeof(sa.sa_family));
	return sa.sa_family;
}

void udp_endpoint_format(const struct wg_endpoint *ep, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (udp_endpoint_family(ep) == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, ep->addr, sizeof(in));
		inet_ntop(AF_INET, &in.sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(in.sin_port));
	} else if (udp_endpoint_family(ep) == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, ep->addr, sizeof(in6));
		inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(in6.sin6_port));
	} else {
		snprintf(out, len, "(none)");
	}
}

static int resolve(struct wg_endpoint *ep, const char *text, int flags)
{
	char host[256];
	const char *port, *end;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV | flags };
	struct addrinfo *res;
	size_t hl;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - text - 1);
		memcpy(host, text + 1, hl < sizeof(host) ? hl : 0);
		port = end + 2;
	} else {
		end = strrchr(text, ':');
		if (!end)
			return -EINVAL;
		hl = (size_t)(end - text);
		port = end + 1;
		if (hl < sizeof(host))
			memcpy(host, text, hl);
	}
	if (hl == 0 || hl >= sizeof(host) || !*port)
		return -EINVAL;
	host[hl] = 0;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
		return -ENOENT;
	udp_endpoint_from_sa(ep, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return ep->len ? 0 : -ENOENT;
}

int udp_endpoint_resolve(struct wg_endpoint *ep, const char *text)
{
	return resolve(ep, text, 0);
}

int udp_endpoint_numeric(struct wg_endpoint *ep, const char *text)
{
	return resolve(ep, text, AI_NUMERICHOST);
}
