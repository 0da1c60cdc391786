/* SPDX-License-Identifier: MIT */
/*
 * gw/udp: the send queue when the socket is full.  udp_flush stops at the
 * first datagram the socket does not take and keeps the rest (head);
 * udp_queue_room moves that rest to the front when the end is reached, so
 * the datagrams still go, in order, with their own lengths and endpoints.
 *
 * The offloads: which queued datagrams form a GSO train (endpoint and size
 * boundaries, the caps), how a received message cuts into datagrams (GRO,
 * truncation), and both through the kernel over loopback: trains leave as
 * one message each and arrive as their datagrams (or coalesced again, to a
 * GRO socket), a refused message is dropped and the queue resumes behind
 * it, a refused train falls back to one datagram per message.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/wg.h"
#include "gw/udp.h"
#include "tests/unit/util_netns.h"

static void endpoint(struct wg_endpoint *ep, unsigned i)
{
	char text[64];

	snprintf(text, sizeof(text), "192.0.2.%u:%u", 1 + i % 200, 1000 + i);
	assert_int_equal(udp_endpoint_resolve(ep, text), 0);
}

/* Datagram i: i + 1 bytes of value i, to endpoint(i). */
static void queue(struct udp_batch *b, unsigned i)
{
	struct wg_endpoint ep;

	endpoint(&ep, i);
	assert_true(udp_queue_room(b));
	memset(udp_batch_slot(b, b->count), (int)i, i + 1);
	udp_queue_commit(b, i + 1, &ep);
}

static void assert_slot(struct udp_batch *b, unsigned slot, unsigned i)
{
	struct wg_endpoint ep, want;
	uint8_t bytes[UDP_BATCH + 64];

	endpoint(&want, i);
	udp_endpoint_from_sa(&ep, (struct sockaddr *)&b->addr[slot], b->alen[slot]);
	assert_int_equal(ep.len, want.len);
	assert_memory_equal(ep.addr, want.addr, want.len);
	assert_ptr_equal(b->iov[slot].iov_base, udp_batch_slot(b, slot));
	assert_int_equal(b->iov[slot].iov_len, i + 1);
	memset(bytes, (int)i, i + 1);
	assert_memory_equal(udp_batch_slot(b, slot), bytes, i + 1);
}

static void test_queue_full_and_compacted(void **state)
{
	struct udp_batch b;
	uint64_t dropped = 0;

	(void)state;
	assert_int_equal(udp_batch_init(&b, 256), 0);
	for (unsigned i = 0; i < UDP_BATCH; i++)
		queue(&b, i);
	/* nothing sent yet: no room at all */
	assert_false(udp_queue_room(&b));
	/* the socket took the first 10 (as a partial sendmmsg leaves it):
	 * too few to be worth moving the other 54 */
	b.head = 10;
	assert_false(udp_queue_room(&b));
	assert_int_equal(b.head, 10);
	/* 20: the rest moves to the front */
	b.head = 20;
	assert_true(udp_queue_room(&b));
	assert_int_equal(b.head, 0);
	assert_int_equal(b.count, UDP_BATCH - 20);
	for (unsigned s = 0; s < b.count; s++)
		assert_slot(&b, s, s + 20);
	queue(&b, 99);
	assert_slot(&b, UDP_BATCH - 20, 99);
	/* no socket: what is queued is counted as dropped, the queue empties */
	assert_int_equal(udp_flush(-1, &b, &dropped), 0);
	assert_int_equal(dropped, UDP_BATCH - 19);
	assert_int_equal(b.count, 0);
	assert_int_equal(b.head, 0);
	udp_batch_free(&b);
}

/* Queues len bytes of value fill to text ("addr:port"). */
static void queue_to(struct udp_batch *b, const char *text, size_t len, int fill)
{
	struct wg_endpoint ep;

	assert_int_equal(udp_endpoint_resolve(&ep, text), 0);
	assert_true(udp_queue_room(b));
	assert_true(len <= b->slot_size);
	memset(udp_batch_slot(b, b->count), fill, len);
	udp_queue_commit(b, len, &ep);
}

/* The trains of the queue from slot 0: their lengths into n[], segment
 * sizes into seg[]; returns how many. */
static unsigned trains(const struct udp_batch *b, unsigned n[], size_t seg[])
{
	unsigned k = 0;

	for (unsigned i = 0; i < b->count; i += n[k++])
		n[k] = udp_gso_train(b, i, &seg[k]);
	return k;
}

static const struct {
	const char *name;
	const char *to[8];	/* endpoints, NULL ends */
	size_t len[8];
	unsigned trains;
	unsigned n[8];
	size_t seg[8];
} train_cases[] = {
	{ "one size, one endpoint", { "192.0.2.1:1", "192.0.2.1:1", "192.0.2.1:1" },
	  { 100, 100, 100 }, 1, { 3 }, { 100 } },
	{ "a shorter one ends the train", { "192.0.2.1:1", "192.0.2.1:1", "192.0.2.1:1",
	  "192.0.2.1:1" }, { 100, 100, 60, 100 }, 2, { 3, 1 }, { 100, 100 } },
	{ "two shorter ones", { "192.0.2.1:1", "192.0.2.1:1", "192.0.2.1:1" },
	  { 100, 50, 50 }, 2, { 2, 1 }, { 100, 50 } },
	{ "a longer one starts a train", { "192.0.2.1:1", "192.0.2.1:1", "192.0.2.1:1",
	  "192.0.2.1:1" }, { 100, 100, 150, 150 }, 2, { 2, 2 }, { 100, 150 } },
	{ "endpoint change", { "192.0.2.1:1", "192.0.2.1:1", "192.0.2.2:1", "192.0.2.2:1" },
	  { 100, 100, 100, 100 }, 2, { 2, 2 }, { 100, 100 } },
	{ "port change", { "192.0.2.1:1", "192.0.2.1:2", "192.0.2.1:1" },
	  { 100, 100, 100 }, 3, { 1, 1, 1 }, { 100, 100, 100 } },
	{ "family change", { "192.0.2.1:1", "[2001:db8::1]:1", "[2001:db8::1]:1",
	  "192.0.2.1:1" }, { 100, 100, 100, 100 }, 3, { 1, 2, 1 }, { 100, 100, 100 } },
	{ "back to an earlier endpoint", { "192.0.2.1:1", "192.0.2.2:1", "192.0.2.1:1" },
	  { 100, 100, 100 }, 3, { 1, 1, 1 }, { 100, 100, 100 } },
	{ "a single one", { "192.0.2.1:1" }, { 1 }, 1, { 1 }, { 1 } },
};

static void test_gso_train_boundaries(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(train_cases) / sizeof(train_cases[0]); c++) {
		struct udp_batch b;
		unsigned n[8], k;
		size_t seg[8];

		print_message("%s\n", train_cases[c].name);
		assert_int_equal(udp_batch_init(&b, 256), 0);
		b.gso = true;
		for (unsigned i = 0; i < 8 && train_cases[c].to[i]; i++)
			queue_to(&b, train_cases[c].to[i], train_cases[c].len[i], (int)i);
		k = trains(&b, n, seg);
		assert_int_equal(k, train_cases[c].trains);
		for (unsigned t = 0; t < k; t++) {
			assert_int_equal(n[t], train_cases[c].n[t]);
			assert_int_equal(seg[t], train_cases[c].seg[t]);
		}
		/* without GSO every datagram is a message of its own */
		b.gso = false;
		assert_int_equal(trains(&b, n, seg), b.count);
		udp_batch_free(&b);
	}
}

static void test_gso_train_caps(void **state)
{
	struct udp_batch b;
	unsigned n[UDP_BATCH], per = UDP_GSO_MAX_BYTES / 1500;
	size_t seg[UDP_BATCH];

	(void)state;
	/* a whole queue of small ones: one train, at most UDP_GSO_MAX_SEGS */
	assert_int_equal(udp_batch_init(&b, 2048), 0);
	b.gso = true;
	for (unsigned i = 0; i < UDP_BATCH; i++)
		queue_to(&b, "192.0.2.1:1", 10, 0);
	assert_int_equal(trains(&b, n, seg), (UDP_BATCH + UDP_GSO_MAX_SEGS - 1) / UDP_GSO_MAX_SEGS);
	assert_int_equal(n[0], UDP_BATCH < UDP_GSO_MAX_SEGS ? UDP_BATCH : UDP_GSO_MAX_SEGS);
	udp_batch_free(&b);
	/* 1500-byte ones: as many as fit in UDP_GSO_MAX_BYTES */
	assert_int_equal(udp_batch_init(&b, 2048), 0);
	b.gso = true;
	for (unsigned i = 0; i < UDP_BATCH; i++)
		queue_to(&b, "192.0.2.1:1", 1500, 0);
	assert_int_equal(trains(&b, n, seg), 2);
	assert_int_equal(n[0], per);
	assert_int_equal(n[1], UDP_BATCH - per);
	/* the bytes cap counts a shorter last one too */
	b.iov[per].iov_len = UDP_GSO_MAX_BYTES - per * 1500 + 1;
	assert_int_equal(udp_gso_train(&b, 0, seg), per);
	b.iov[per].iov_len = UDP_GSO_MAX_BYTES - per * 1500;
	assert_int_equal(udp_gso_train(&b, 0, seg), per + 1);
	/* a train may start at any slot */
	assert_int_equal(udp_gso_train(&b, UDP_BATCH - 3, seg), 3);
	udp_batch_free(&b);
}

/* A train refused as too big for its path goes one by one (split); the
 * slots after it still form trains, and compaction keeps the split. */
static void test_gso_split(void **state)
{
	struct udp_batch b;
	unsigned n[UDP_BATCH];
	size_t seg[UDP_BATCH];

	(void)state;
	assert_int_equal(udp_batch_init(&b, 256), 0);
	b.gso = true;
	for (unsigned i = 0; i < UDP_BATCH; i++)
		queue_to(&b, i < 40 ? "192.0.2.1:1" : "192.0.2.2:1", 100, 0);
	b.split = 40;
	assert_int_equal(trains(&b, n, seg), 41);
	assert_int_equal(n[39], 1);
	assert_int_equal(n[40], UDP_BATCH - 40);
	/* 30 went: the other 34 move to the front, 10 of them still split */
	b.head = 30;
	assert_true(udp_queue_room(&b));
	assert_int_equal(b.split, 10);
	assert_int_equal(trains(&b, n, seg), 11);
	assert_int_equal(n[10], UDP_BATCH - 40);
	/* an emptied queue forgets it */
	assert_int_equal(udp_flush(-1, &b, &(uint64_t){ 0 }), 0);
	assert_int_equal(b.split, 0);
	udp_batch_free(&b);
}

/* Received message 0 of len bytes, with a UDP_GRO cmsg of gro when not 0,
 * flagged MSG_TRUNC when trunc. */
static void received(struct udp_batch *b, void *ctl, size_t ctl_len, size_t len, int gro,
		     bool trunc)
{
	struct msghdr *h = &b->msgs[0].msg_hdr;

	*h = (struct msghdr){ .msg_control = ctl, .msg_controllen = ctl_len };
	memset(ctl, 0, ctl_len);
	if (gro) {
		struct cmsghdr *c = CMSG_FIRSTHDR(h);

		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_GRO;
		c->cmsg_len = CMSG_LEN(sizeof(gro));
		memcpy(CMSG_DATA(c), &gro, sizeof(gro));
		h->msg_controllen = CMSG_SPACE(sizeof(gro));
	} else {
		h->msg_controllen = 0;
	}
	h->msg_flags = trunc ? MSG_TRUNC : 0;
	b->msgs[0].msg_len = (unsigned)len;
	b->count = 1;
}

static void test_rx_segments(void **state)
{
	static const struct {
		size_t len;
		int gro;
		bool trunc;
		size_t whole, seg;
	} t[] = {
		{ 148, 0, false, 148, 148 },	   /* one datagram */
		{ 0, 0, false, 0, 0 },		   /* an empty one (wg counts it) */
		{ 10300, 1000, false, 10300, 1000 }, /* 10 of 1000 and 300 */
		{ 10000, 1000, false, 10000, 1000 }, /* 10 of 1000 */
		{ 1000, 1000, false, 1000, 1000 },   /* GRO of one */
		{ 500, 1000, false, 500, 500 },	   /* (a size beyond the buffer) */
		{ 1500, 0, true, 0, 1500 },	   /* a single one cut short */
		{ 65600, 1452, true, 65340, 1452 },  /* coalesced, cut: 45 whole */
		{ 1000, 1452, true, 0, 1000 },	   /* cut inside the first */
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int)) * 2];
	} ctl;
	struct udp_batch b;

	(void)state;
	assert_int_equal(udp_batch_init(&b, 64), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t seg = 12345;

		print_message("len %zu gro %d trunc %d\n", t[i].len, t[i].gro, t[i].trunc);
		received(&b, &ctl, sizeof(ctl), t[i].len, t[i].gro, t[i].trunc);
		assert_int_equal(udp_rx_segments(&b, 0, &seg), t[i].whole);
		assert_int_equal(seg, t[i].seg);
	}
	/* another cmsg first (a timestamp, say) is skipped */
	received(&b, &ctl, sizeof(ctl), 3000, 0, false);
	{
		struct msghdr *h = &b.msgs[0].msg_hdr;
		struct cmsghdr *c;
		int v = 7, gro = 1000;
		size_t seg;

		h->msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(h);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SO_TIMESTAMP;
		c->cmsg_len = CMSG_LEN(sizeof(v));
		memcpy(CMSG_DATA(c), &v, sizeof(v));
		c = CMSG_NXTHDR(h, c);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_GRO;
		c->cmsg_len = CMSG_LEN(sizeof(gro));
		memcpy(CMSG_DATA(c), &gro, sizeof(gro));
		assert_int_equal(udp_rx_segments(&b, 0, &seg), 3000);
		assert_int_equal(seg, 1000);
	}
	udp_batch_free(&b);
}

/* --- through the kernel, over loopback --------------------------------- */

/* A loopback receiver: its port, its text endpoint. */
struct rcv {
	int fd;
	uint16_t port;
	char ep[32];
	struct udp_batch b;
};

static void rcv_open_family(struct rcv *r, int family, bool gro)
{
	r->fd = udp_open(family, 0, &r->port);
	assert_true(r->fd >= 0);
	if (gro)
		assert_true(udp_gro_enable(r->fd));
	snprintf(r->ep, sizeof(r->ep), family == AF_INET6 ? "[::1]:%u" : "127.0.0.1:%u",
		 r->port);
	assert_int_equal(udp_batch_init(&r->b, gro ? UDP_GRO_SLOT : 2048), 0);
}

static void rcv_open(struct rcv *r, bool gro)
{
	rcv_open_family(r, AF_INET, gro);
}

static void rcv_close(struct rcv *r)
{
	udp_batch_free(&r->b);
	close(r->fd);
}

/* Receives everything waiting for r, cut into datagrams; their lengths
 * into len[], each checked to be filled with its index's byte (fill[]). */
static unsigned rcv_all(struct rcv *r, size_t len[], const int fill[], unsigned max,
			unsigned *msgs)
{
	unsigned got = 0;
	int n;

	*msgs = 0;
	while ((n = udp_recv_batch(r->fd, &r->b)) > 0) {
		for (unsigned i = 0; i < (unsigned)n; i++) {
			size_t seg, whole = udp_rx_segments(&r->b, i, &seg);
			uint8_t *buf = udp_batch_slot(&r->b, i);

			(*msgs)++;
			for (size_t off = 0; off < whole; off += seg) {
				size_t l = whole - off < seg ? whole - off : seg;
				uint8_t want[2048];

				assert_true(got < max);
				assert_true(l <= sizeof(want));
				len[got] = l;
				memset(want, fill[got], l);
				assert_memory_equal(buf + off, want, l);
				got++;
			}
		}
	}
	assert_int_equal(n, 0);
	return got;
}

static int snd_open_family(int family)
{
	uint16_t port;
	int fd = udp_open(family, 0, &port);

	assert_true(fd >= 0);
	assert_true(udp_gso_supported(fd));
	return fd;
}

static int snd_open(void)
{
	return snd_open_family(AF_INET);
}

/* Trains to two receivers, interleaved: each receiver sees its datagrams
 * in order with their sizes and bytes; three messages (trains) in all. */
static void test_gso_loopback(void **state)
{
	static const size_t a_len[] = { 1000, 1000, 1000, 400, 1000, 1000 };
	static const size_t b_len[] = { 700, 700, 700 };
	struct rcv a, b;
	struct udp_batch q;
	uint64_t dropped = 0;
	size_t got[16];
	int a_fill[6], b_fill[3];
	unsigned msgs, fill = 1, n[8];
	size_t seg[8];
	int fd = snd_open();

	(void)state;
	rcv_open(&a, false);
	rcv_open(&b, false);
	assert_int_equal(udp_batch_init(&q, 2048), 0);
	q.gso = true;
	for (unsigned i = 0; i < 4; i++)
		queue_to(&q, a.ep, a_len[i], a_fill[i] = (int)fill++);
	for (unsigned i = 0; i < 3; i++)
		queue_to(&q, b.ep, b_len[i], b_fill[i] = (int)fill++);
	for (unsigned i = 4; i < 6; i++)
		queue_to(&q, a.ep, a_len[i], a_fill[i] = (int)fill++);
	assert_int_equal(trains(&q, n, seg), 3);
	assert_int_equal(udp_flush(fd, &q, &dropped), 0);
	assert_int_equal(dropped, 0);
	assert_true(q.gso);
	assert_int_equal(q.count, 0);
	assert_int_equal(rcv_all(&a, got, a_fill, 16, &msgs), 6);
	assert_int_equal(msgs, 6); /* no GRO: the kernel cut them */
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(got[i], a_len[i]);
	assert_int_equal(rcv_all(&b, got, b_fill, 16, &msgs), 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(got[i], b_len[i]);
	udp_batch_free(&q);
	rcv_close(&a);
	rcv_close(&b);
	close(fd);
}

/* A train to a GRO socket arrives as one coalesced message, cut back into
 * its datagrams by udp_rx_segments; over IPv4 and IPv6. */
static void gro_loopback(int family)
{
	struct rcv r;
	struct udp_batch q;
	uint64_t dropped = 0;
	size_t got[UDP_BATCH];
	int fill[UDP_BATCH];
	unsigned msgs;
	int fd = snd_open_family(family);

	rcv_open_family(&r, family, true);
	assert_int_equal(udp_batch_init(&q, 2048), 0);
	q.gso = true;
	for (unsigned i = 0; i < 40; i++)
		queue_to(&q, r.ep, i == 39 ? 333 : 1452, fill[i] = (int)(i + 1));
	assert_int_equal(udp_flush(fd, &q, &dropped), 0);
	assert_int_equal(dropped, 0);
	assert_int_equal(rcv_all(&r, got, fill, UDP_BATCH, &msgs), 40);
	assert_int_equal(msgs, 1);
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(got[i], i == 39 ? 333 : 1452);
	udp_batch_free(&q);
	rcv_close(&r);
	close(fd);
}

static void test_gro_loopback(void **state)
{
	(void)state;
	gro_loopback(AF_INET);
	gro_loopback(AF_INET6);
}

/* A message the kernel refuses (an IPv6 endpoint on the IPv4 socket) is
 * dropped with its datagrams; the queue resumes at the train behind it. */
static void test_flush_resumes_after_refused(void **state)
{
	struct rcv r;
	struct udp_batch q;
	uint64_t dropped = 0;
	size_t got[16];
	int fill[] = { 1, 2, 3, 7, 8 };
	unsigned msgs;
	int fd = snd_open();

	(void)state;
	rcv_open(&r, false);
	assert_int_equal(udp_batch_init(&q, 2048), 0);
	q.gso = true;
	for (unsigned i = 0; i < 3; i++)
		queue_to(&q, r.ep, 500, fill[i]);
	for (unsigned i = 0; i < 3; i++)
		queue_to(&q, "[2001:db8::1]:9", 500, 4 + (int)i);
	queue_to(&q, r.ep, 500, 7);
	queue_to(&q, r.ep, 200, 8);
	assert_int_equal(udp_flush(fd, &q, &dropped), 0);
	assert_int_equal(dropped, 3);
	assert_true(q.gso); /* not a GSO refusal */
	assert_int_equal(rcv_all(&r, got, fill, 16, &msgs), 5);
	assert_int_equal(got[3], 500);
	assert_int_equal(got[4], 200);
	udp_batch_free(&q);
	rcv_close(&r);
	close(fd);
}

/* A train the kernel refuses (no UDP checksum: GSO needs one) turns GSO off
 * and its datagrams go one by one; nothing is lost. */
static void test_gso_refused_falls_back(void **state)
{
	struct rcv r;
	struct udp_batch q;
	uint64_t dropped = 0;
	size_t got[16];
	int fill[8], one = 1;
	unsigned msgs;
	int fd = snd_open();

	(void)state;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)), 0);
	rcv_open(&r, true);
	assert_int_equal(udp_batch_init(&q, 2048), 0);
	q.gso = true;
	for (unsigned i = 0; i < 8; i++)
		queue_to(&q, r.ep, i == 7 ? 10 : 1000, fill[i] = (int)(i + 1));
	assert_int_equal(udp_flush(fd, &q, &dropped), 0);
	assert_int_equal(dropped, 0);
	assert_false(q.gso);
	assert_int_equal(q.gso_err, EINVAL);
	assert_int_equal(rcv_all(&r, got, fill, 16, &msgs), 8);
	assert_int_equal(msgs, 8);
	assert_int_equal(got[7], 10);
	udp_batch_free(&q);
	rcv_close(&r);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_full_and_compacted),
		cmocka_unit_test(test_gso_train_boundaries),
		cmocka_unit_test(test_gso_train_caps),
		cmocka_unit_test(test_gso_split),
		cmocka_unit_test(test_rx_segments),
		cmocka_unit_test(test_gso_loopback),
		cmocka_unit_test(test_gro_loopback),
		cmocka_unit_test(test_flush_resumes_after_refused),
		cmocka_unit_test(test_gso_refused_falls_back),
	};

	return cmocka_run_group_tests(tests, own_netns, NULL);
}
