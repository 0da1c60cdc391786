/* SPDX-License-Identifier: MIT */
/*
 * gw/udp: the send queue when the socket is full.  udp_flush stops at the
 * first datagram the socket does not take and keeps the rest (head);
 * udp_queue_room moves that rest to the front when the end is reached, so
 * the datagrams still go, in order, with their own lengths and endpoints.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "crypto/wg.h"
#include "gw/udp.h"

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
	const struct msghdr *h = &b->msgs[slot].msg_hdr;
	struct wg_endpoint ep, want;
	uint8_t bytes[UDP_BATCH + 64];

	endpoint(&want, i);
	udp_endpoint_from_sa(&ep, h->msg_name, h->msg_namelen);
	assert_int_equal(ep.len, want.len);
	assert_memory_equal(ep.addr, want.addr, want.len);
	assert_int_equal(h->msg_iovlen, 1);
	assert_ptr_equal(h->msg_iov[0].iov_base, udp_batch_slot(b, slot));
	assert_int_equal(h->msg_iov[0].iov_len, i + 1);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_full_and_compacted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
