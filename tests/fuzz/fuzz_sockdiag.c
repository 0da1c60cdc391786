/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: gw/sockdiag.c's reading of the kernel's sock_diag answers
 * (lookup() and what sender() and sockdiag_owner() make of them).  The
 * netlink socket is one end of an AF_UNIX datagram socketpair; the harness
 * holds the other, queues the fuzzer's datagrams on it as the kernel's
 * answers, then asks sockdiag_owner about a packet.  gw's code is run as
 * it is, only its fd is not a netlink socket.
 *
 * Input: a header (flags, TCP flags, two ports, two 16-byte addresses:
 * flags bit 0 IPv6, bit 1 TCP, else UDP), then up to 8 datagrams, each a
 * control byte, a 2-byte length and that many bytes (at least a
 * nlmsghdr's worth is kept when repaired).  Control bit 0 makes nlmsg_len
 * the datagram's length, bit 1 the type SOCK_DIAG_BY_FAMILY, bits 2-3 the
 * sequence number that of the call's first (1) or second (2) request.
 * Properties:
 *   - each request gw sends is one inet_diag_req_v2 for the packet's
 *     4-tuple, UDP's with the socket's own address as destination, a second
 *     one (a request socket's listener) with no remote end;
 *   - the answer (found, uid) is what a model of the kernel's answers read
 *     from the same datagrams says: 512-byte reads, stale answers skipped,
 *     a short or malformed one ending the lookup, TIME_WAIT and a listener
 *     RST owned by no socket, a request socket by its listener;
 *   - a second ask at the same time is served from the cache, no request;
 *     one a second later asks again (and, with nothing queued, finds none).
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw/sockdiag.h"
#include "nat/pkt/be.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { HDR = 2 + 4 + 32, MAX_DGRAMS = 8, READ_MAX = 512 };
enum { ST_SYN_RECV = 3, ST_TIME_WAIT = 6, ST_LISTEN = 10, ST_NEW_SYN_RECV = 12 };

struct dgram {
	const uint8_t *b;
	size_t len;
};

struct model {
	const struct dgram *q;
	unsigned n, at;
};

struct answer {
	uint32_t uid, inode;
	uint8_t state;
};

/* What lookup() reads for request seq: 1 and the answer, 0 when none. */
static int model_lookup(struct model *m, uint32_t seq, struct answer *a)
{
	for (;;) {
		struct nlmsghdr h;
		struct inet_diag_msg d;
		size_t n;

		if (m->at == m->n)
			return 0; /* nothing queued: EAGAIN */
		n = m->q[m->at].len < READ_MAX ? m->q[m->at].len : READ_MAX;
		if (n < sizeof(h))
			return m->at++, 0;
		memcpy(&h, m->q[m->at].b, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > n)
			return m->at++, 0;
		if (h.nlmsg_seq != seq) {
			m->at++;
			continue;
		}
		if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY || h.nlmsg_len < NLMSG_LENGTH(sizeof(d)))
			return m->at++, 0;
		memcpy(&d, m->q[m->at].b + NLMSG_HDRLEN, sizeof(d));
		m->at++;
		a->uid = d.idiag_uid;
		a->inode = d.idiag_inode;
		a->state = d.idiag_state;
		return 1;
	}
}

/* sockdiag.h's table of what xt_owner sees; *lookups: requests made. */
static int model_owner(struct model *m, uint32_t seq, const struct pkt_hdr *h, uint32_t *uid,
		       unsigned *lookups)
{
	struct answer a;

	*lookups = 1;
	if (!model_lookup(m, seq + 1, &a))
		return 0;
	*uid = a.uid;
	if (h->proto != IPPROTO_TCP)
		return 1;
	if (a.state == ST_TIME_WAIT || (a.state == ST_LISTEN && (h->tcp_flags & TCP_RST)))
		return 0;
	if (a.state == ST_NEW_SYN_RECV || (a.state == ST_SYN_RECV && !a.inode)) {
		*lookups = 2;
		if (!model_lookup(m, seq + 2, &a) || a.state != ST_LISTEN)
			return 0;
		*uid = a.uid;
	}
	return 1;
}

/* The request gw sent, as sockdiag.c promises it (listener: no remote). */
static void check_request(int fd, uint32_t seq, const struct pkt_hdr *h, bool listener)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
		uint8_t extra[16];
	} q;
	uint8_t local[16] = { 0 }, remote[16] = { 0 };
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	ssize_t n = recv(fd, &q, sizeof(q), MSG_DONTWAIT);

	CHECK(n == (ssize_t)(sizeof(q.nlh) + sizeof(q.req)));
	CHECK(q.nlh.nlmsg_len == n && q.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY);
	CHECK(q.nlh.nlmsg_flags == NLM_F_REQUEST && q.nlh.nlmsg_seq == seq);
	CHECK(q.req.sdiag_family == (h->family == NF_V6 ? AF_INET6 : AF_INET));
	CHECK(q.req.sdiag_protocol == h->proto && q.req.idiag_states == ~0u);
	if (h->family == NF_V6) {
		memcpy(local, h->saddr.b, 16);
		if (!listener)
			memcpy(remote, h->daddr.b, 16);
	} else {
		be32_put(local, h->saddr.ip);
		if (!listener)
			be32_put(remote, h->daddr.ip);
	}
	if (h->proto == IPPROTO_UDP) {
		src = remote, dst = local;
		sport = h->dport, dport = h->sport;
	} else {
		src = local, dst = remote;
		sport = h->sport, dport = listener ? 0 : h->dport;
	}
	CHECK(!memcmp(q.req.id.idiag_src, src, 16) && !memcmp(q.req.id.idiag_dst, dst, 16));
	CHECK(be16_get((const uint8_t *)&q.req.id.idiag_sport) == sport);
	CHECK(be16_get((const uint8_t *)&q.req.id.idiag_dport) == dport);
}

static void drain(int fd)
{
	uint8_t b[READ_MAX];

	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) >= 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sockdiag sd;
	static int peer = -1;
	static uint64_t now = 1000000000ull;
	struct dgram q[MAX_DGRAMS];
	uint8_t bufs[MAX_DGRAMS][READ_MAX + 64];
	struct model m = { q, 0, 0 };
	struct pkt p;
	struct pkt_hdr *h = &p.outer;
	uint32_t owner[2] = { 0, 0 }, again[2], uid = 0, seq;
	uint64_t lookups;
	unsigned want_lookups;
	int found, want;

	if (peer < 0) {
		int sv[2];

		CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
		memset(&sd, 0, sizeof(sd));
		sd.fd = sv[0];
		peer = sv[1];
	}
	if (size < HDR)
		return 0;
	memset(&p, 0, sizeof(p));
	h->family = data[0] & 1 ? NF_V6 : NF_V4;
	h->proto = data[0] & 2 ? IPPROTO_TCP : IPPROTO_UDP;
	h->flags = PKT_F_L4 | PKT_F_PORTS;
	h->tcp_flags = h->proto == IPPROTO_TCP ? data[1] : 0;
	h->sport = be16_get(data + 2);
	h->dport = be16_get(data + 4);
	if (h->family == NF_V6) {
		memcpy(h->saddr.b, data + 6, 16);
		memcpy(h->daddr.b, data + 22, 16);
	} else {
		h->saddr.ip = be32_get(data + 6);
		h->daddr.ip = be32_get(data + 22);
	}
	data += HDR;
	size -= HDR;
	seq = sd.seq;

	while (size >= 3 && m.n < MAX_DGRAMS) {
		uint8_t ctl = data[0];
		size_t len = be16_get(data + 1);
		struct nlmsghdr nh;

		data += 3, size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(bufs[0]))
			len = sizeof(bufs[0]);
		memcpy(bufs[m.n], data, len);
		data += len, size -= len;
		if (len >= sizeof(nh) && (ctl & 15)) {
			memcpy(&nh, bufs[m.n], sizeof(nh));
			if (ctl & 1)
				nh.nlmsg_len = (uint32_t)len;
			if (ctl & 2)
				nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
			if ((ctl >> 2) & 3)
				nh.nlmsg_seq = seq + ((ctl >> 2) & 3);
			memcpy(bufs[m.n], &nh, sizeof(nh));
		}
		if (send(peer, bufs[m.n], len, MSG_DONTWAIT) < 0)
			break; /* the queue is full: the rest is not sent */
		q[m.n].b = bufs[m.n];
		q[m.n].len = len;
		m.n++;
	}

	/* each input starts a second after the last: nothing cached */
	now += 2000000000ull;
	lookups = sd.lookups;
	want = model_owner(&m, seq, h, &uid, &want_lookups);
	found = sockdiag_owner(&sd, &p, RULES_OWNER_SOCKET, now, owner);
	CHECK(found == want);
	CHECK(sd.lookups == lookups + want_lookups && sd.seq == seq + want_lookups);
	if (found)
		CHECK(owner[0] == uid && owner[1] == SOCKDIAG_GID_UNKNOWN);
	check_request(peer, seq + 1, h, false);
	if (want_lookups == 2)
		check_request(peer, seq + 2, h, true);
	CHECK(recv(peer, bufs[0], 1, MSG_DONTWAIT) < 0 && errno == EAGAIN);
	drain(sd.fd);

	/* the same flow at the same time: from the cache */
	again[0] = again[1] = 0;
	CHECK(sockdiag_owner(&sd, &p, RULES_OWNER_SOCKET, now, again) == found);
	CHECK(sd.lookups == lookups + want_lookups);
	if (found)
		CHECK(again[0] == owner[0] && again[1] == owner[1]);

	/* a second later it asks again; with no answer queued none is found */
	seq = sd.seq;
	CHECK(sockdiag_owner(&sd, &p, RULES_OWNER_SOCKET, now + 1000000000ull, again) == 0);
	CHECK(sd.lookups == lookups + want_lookups + 1);
	check_request(peer, seq + 1, h, false);
	return 0;
}
