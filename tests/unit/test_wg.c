/* SPDX-License-Identifier: MIT */
/* crypto/wg: devices talking to each other entirely in memory — handshake,
 * data both ways, roaming, wrong keys, replays, garbage, cookies under load,
 * allowed-IPs source check, and hours of timers driving rekeys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/wg.h"
#include "tests/unit/util_mutate.h"

enum { MAXQ = 256, NNODES = 4 };
#define WALL0 (1700000000ull * NSEC_PER_SEC)

struct dgram {
	int to;                  /* node index */
	struct wg_endpoint from; /* source address as the receiver sees it */
	uint8_t buf[1600];
	size_t len;
};

struct node {
	struct wg_device dev;
	struct wg_endpoint addr; /* our current source address */
	bool under_load;
	uint8_t priv[32], pub[32];
	/* what the host received */
	unsigned delivered;
	uint8_t last[1600];
	size_t last_len;
	unsigned emitted;
};

struct net {
	struct node n[NNODES];
	struct dgram q[MAXQ];
	unsigned head, count;
	uint64_t now;
};

static struct net *NET;

static struct wg_endpoint ep(uint8_t host, uint16_t port)
{
	struct wg_endpoint e = { .len = 8, .host_len = 4 };

	e.addr[0] = 2;
	e.addr[2] = (uint8_t)(port >> 8);
	e.addr[3] = (uint8_t)port;
	e.addr[4] = 192, e.addr[5] = 0, e.addr[6] = 2, e.addr[7] = host;
	memcpy(e.host, e.addr + 4, 4);
	return e;
}

static int node_at(const struct wg_endpoint *e)
{
	for (int i = 0; i < NNODES; i++)
		if (NET->n[i].addr.len && e->len == NET->n[i].addr.len &&
		    !memcmp(e->addr, NET->n[i].addr.addr, e->len))
			return i;
	return -1;
}

static void push(int to, const struct wg_endpoint *from, const uint8_t *b, size_t len)
{
	struct dgram *d;

	assert_true(NET->count < MAXQ);
	assert_true(len <= sizeof(d->buf));
	d = &NET->q[(NET->head + NET->count++) % MAXQ];
	d->to = to;
	d->from = *from;
	memcpy(d->buf, b, len);
	d->len = len;
}

static void on_emit(void *ctx, struct wg_peer *peer, const struct wg_endpoint *to,
		    const uint8_t *b, size_t len)
{
	struct node *self = ctx;
	int dst = node_at(to);

	(void)peer;
	self->emitted++;
	if (dst >= 0)
		push(dst, &self->addr, b, len);
}

/* Delivers one datagram; returns the receiver's result. */
static struct wg_rx deliver_one(void)
{
	struct dgram d = NET->q[NET->head];
	struct node *n = &NET->n[d.to];
	struct wg_rx rx;

	NET->head = (NET->head + 1) % MAXQ;
	NET->count--;
	wg_receive(&n->dev, NET->now, WALL0 + NET->now, &d.from, d.buf, d.len, n->under_load, &rx);
	if (rx.kind == WG_RX_REPLY) {
		int back = node_at(&d.from);

		if (back >= 0)
			push(back, &n->addr, rx.data, rx.len);
	} else if (rx.kind == WG_RX_PACKET) {
		n->delivered++;
		memcpy(n->last, rx.data, rx.len);
		n->last_len = rx.len;
	}
	return rx;
}

static void run(void)
{
	while (NET->count)
		deliver_one();
}

/* A 40-byte IPv4/UDP-ish packet src -> dst (last octets in 10.0.0.0/24). */
static size_t ip4(uint8_t *p, uint8_t s, uint8_t d, uint8_t tag)
{
	memset(p, 0, 40);
	p[0] = 0x45;
	p[3] = 40;
	p[8] = 64;
	p[9] = 17;
	p[12] = 10, p[15] = s;
	p[16] = 10, p[19] = d;
	p[39] = tag;
	return 40;
}

static struct wg_peer *link_peer(struct node *a, struct node *b, uint8_t b_ip, bool endpoint)
{
	uint8_t pfx[4] = { 10, 0, 0, b_ip };
	int err;
	struct wg_peer *p = wg_peer_add(&a->dev, b->pub, NULL, 0, &err);

	assert_non_null(p);
	assert_int_equal(wg_peer_allow(&a->dev, p, AF_INET, pfx, 32), 0);
	if (endpoint)
		wg_peer_set_endpoint(p, &b->addr);
	return p;
}

static void node_init(struct node *n, uint8_t host)
{
	randombytes_buf(n->priv, 32);
	assert_int_equal(wg_device_init(&n->dev, n->priv, 8, 0, on_emit, n), 0);
	memcpy(n->pub, n->dev.keys.pub, 32);
	n->addr = ep(host, 51820);
}

/* n[0] (10.0.0.1, initiator, knows n[1]'s endpoint) and n[1] (10.0.0.2). */
static int setup(void **state)
{
	struct net *net = calloc(1, sizeof(*net));

	assert_non_null(net);
	NET = net;
	for (int i = 0; i < NNODES; i++)
		node_init(&net->n[i], (uint8_t)(i + 1));
	link_peer(&net->n[0], &net->n[1], 2, true);
	link_peer(&net->n[1], &net->n[0], 1, false);
	net->now = 1000 * NSEC_PER_SEC;
	*state = net;
	return 0;
}

static int teardown(void **state)
{
	struct net *net = *state;

	for (int i = 0; i < NNODES; i++)
		wg_device_destroy(&net->n[i].dev);
	free(net);
	return 0;
}

static struct wg_tx send_ip(int from, uint8_t s, uint8_t d, uint8_t tag)
{
	uint8_t pkt[64], out[1600];
	struct wg_tx tx;
	struct node *n = &NET->n[from];

	ip4(pkt, s, d, tag);
	wg_send(&n->dev, NET->now, WALL0 + NET->now, pkt, 40, out, sizeof(out), &tx);
	if (tx.kind == WG_TX_DATA) {
		int dst = node_at(&tx.peer->endpoint);

		if (dst >= 0)
			push(dst, &n->addr, out, tx.len);
	}
	return tx;
}

static void establish(void)
{
	struct wg_tx tx = send_ip(0, 1, 2, 1);

	assert_int_equal(tx.kind, WG_TX_STAGED);
	run();
}

static void test_handshake_and_data(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];
	struct wg_peer *pa = a->dev.peers[0], *pb = b->dev.peers[0];

	assert_int_equal(pb->endpoint.len, 0);
	establish();
	/* the staged packet went out after the response, confirming b's keypair */
	assert_int_equal(b->delivered, 1);
	assert_int_equal(b->last_len, 40);
	assert_int_equal(b->last[39], 1);
	assert_int_equal(pa->handshakes_completed, 1);
	assert_int_equal(pb->handshakes_completed, 1);
	assert_int_equal(pa->last_handshake_wall, WALL0 + net->now);
	/* b learnt a's endpoint from the handshake */
	assert_memory_equal(pb->endpoint.addr, a->addr.addr, a->addr.len);
	/* both ways, now without staging */
	for (uint8_t i = 2; i < 20; i++) {
		assert_int_equal(send_ip(1, 2, 1, i).kind, WG_TX_DATA);
		assert_int_equal(send_ip(0, 1, 2, i).kind, WG_TX_DATA);
		run();
		assert_int_equal(a->last[39], i);
		assert_int_equal(b->last[39], i);
	}
	assert_int_equal(a->delivered, 18);
	assert_int_equal(b->delivered, 19);
	assert_true(pa->tx_bytes > 0 && pa->rx_bytes > 0);
	assert_int_equal(pa->tx_bytes, pb->rx_bytes);
	assert_int_equal(pb->tx_bytes, pa->rx_bytes);
	for (int i = 0; i < WG_DROP__COUNT; i++)
		if (a->dev.drops[i] || b->dev.drops[i])
			fail_msg("unexpected drop %s", wg_drop_name((enum wg_drop)i));
	/* no route */
	uint8_t pkt[64], out[256];
	struct wg_tx tx;

	ip4(pkt, 1, 99, 0);
	wg_send(&a->dev, net->now, WALL0, pkt, 40, out, sizeof(out), &tx);
	assert_int_equal(tx.kind, WG_TX_DROP);
	assert_int_equal(tx.drop, WG_DROP_NO_PEER);
	/* b has no way back to a peer it never heard from: here it has */
	assert_int_equal(send_ip(1, 2, 1, 77).kind, WG_TX_DATA);
	run();
}

static void test_roaming(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];
	struct wg_peer *pb = b->dev.peers[0];

	establish();
	a->addr = ep(77, 40000); /* a moves: new address and port */
	assert_int_equal(send_ip(0, 1, 2, 5).kind, WG_TX_DATA);
	run();
	assert_memory_equal(pb->endpoint.addr, a->addr.addr, a->addr.len);
	assert_int_equal(send_ip(1, 2, 1, 6).kind, WG_TX_DATA);
	run();
	assert_int_equal(a->last[39], 6);
	/* an unauthenticated datagram from elsewhere moves nothing */
	struct wg_endpoint evil = ep(66, 6666);
	uint8_t junk[64] = { 4 };
	struct wg_rx rx;

	wg_receive(&b->dev, net->now, WALL0, &evil, junk, sizeof(junk), false, &rx);
	assert_int_equal(rx.kind, WG_RX_DROP);
	assert_memory_equal(pb->endpoint.addr, a->addr.addr, a->addr.len);
}

static void test_wrong_key(void **state)
{
	struct net *net = *state;
	struct node *b = &net->n[1], *c = &net->n[2], *d = &net->n[3];
	uint8_t wrong[32];

	/* c: b does not know c's key */
	link_peer(c, b, 2, true);
	/* d: configured with a wrong public key for b, at b's address */
	int err;
	uint8_t pfx[4] = { 10, 0, 0, 2 };

	randombytes_buf(wrong, 32);
	struct wg_peer *pd = wg_peer_add(&d->dev, wrong, NULL, 0, &err);

	assert_non_null(pd);
	assert_int_equal(wg_peer_allow(&d->dev, pd, AF_INET, pfx, 32), 0);
	wg_peer_set_endpoint(pd, &b->addr);
	link_peer(b, d, 4, false);

	assert_int_equal(send_ip(2, 3, 2, 1).kind, WG_TX_STAGED);
	assert_int_equal(send_ip(3, 4, 2, 1).kind, WG_TX_STAGED);
	/* 90 s of retries, then they give up */
	for (int i = 0; i < 200; i++) {
		run();
		uint64_t next = wg_next_deadline(&c->dev);
		uint64_t nd = wg_next_deadline(&d->dev);

		if (!next || (nd && nd < next))
			next = nd;
		if (!next)
			break;
		net->now = next;
		wg_tick(&c->dev, net->now, WALL0 + net->now);
		wg_tick(&d->dev, net->now, WALL0 + net->now);
	}
	run();
	assert_int_equal(c->dev.peers[0]->handshakes_completed, 0);
	assert_int_equal(pd->handshakes_completed, 0);
	assert_int_equal(b->delivered, 0);
	/* 1 + 18 retries each (MAX_TIMER_HANDSHAKES) */
	assert_int_equal(c->dev.peers[0]->handshakes_sent, 2 + MAX_TIMER_HANDSHAKES);
	assert_int_equal(b->dev.drops[WG_DROP_UNKNOWN_PEER], 2 + MAX_TIMER_HANDSHAKES);
	assert_int_equal(b->dev.drops[WG_DROP_MAC1], 2 + MAX_TIMER_HANDSHAKES);
	assert_int_equal(c->dev.drops[WG_DROP_GAVE_UP], 1);
	assert_int_equal(c->dev.peers[0]->staged_count, 0);
}

static void test_replay(void **state)
{
	struct net *net = *state;
	struct node *b = &net->n[1];

	establish();
	send_ip(0, 1, 2, 9);
	struct dgram copy = net->q[net->head];

	run();
	assert_int_equal(b->delivered, 2);
	push(copy.to, &copy.from, copy.buf, copy.len);
	struct wg_rx rx = deliver_one();

	assert_int_equal(rx.kind, WG_RX_DROP);
	assert_int_equal(rx.drop, WG_DROP_REPLAY);
	assert_int_equal(b->dev.drops[WG_DROP_REPLAY], 1);
	/* a replay proves nothing of its sender: no peer's drop */
	assert_int_equal(b->dev.peers[0]->drops[WG_DROP_REPLAY], 0);
	assert_int_equal(b->delivered, 2);
}

static void test_allowed_ips_source(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];
	struct wg_tx tx;

	/* b knows no endpoint of a yet: a drop of b's peer a */
	tx = send_ip(1, 2, 1, 1);
	assert_int_equal(tx.kind, WG_TX_DROP);
	assert_int_equal(tx.drop, WG_DROP_NO_ENDPOINT);
	assert_int_equal(b->dev.peers[0]->drops[WG_DROP_NO_ENDPOINT], 1);
	establish();
	/* b sends to a with a source outside its allowed IPs (10.0.0.2/32) */
	assert_int_equal(send_ip(1, 9, 1, 1).kind, WG_TX_DATA);
	struct wg_rx rx = deliver_one();

	assert_int_equal(rx.kind, WG_RX_DROP);
	assert_int_equal(rx.drop, WG_DROP_ALLOWED_IPS);
	assert_int_equal(a->dev.drops[WG_DROP_ALLOWED_IPS], 1);
	/* authenticated: counted for the peer that sent it too */
	assert_int_equal(a->dev.peers[0]->drops[WG_DROP_ALLOWED_IPS], 1);
	assert_int_equal(a->delivered, 0);
}

struct mut_ctx {
	struct node *n;
	size_t protect_from, protect_to; /* flips here may pass */
	unsigned passed;
};

static void mutant_cb(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct mut_ctx *mc = ctx;
	struct wg_endpoint src = ep(1, 51820);
	struct wg_rx rx;

	wg_receive(&mc->n->dev, NET->now, WALL0 + NET->now, &src, buf, len, false, &rx);
	if (rx.kind == WG_RX_DROP || rx.kind == WG_RX_NONE)
		return;
	if (m->kind == MUTANT_FLIP && m->pos / 8 >= mc->protect_from &&
	    m->pos / 8 < mc->protect_to) {
		mc->passed++;
		return;
	}
	fail_msg("mutant %s %zu passed (kind %d)", m->kind == MUTANT_FLIP ? "flip" : "trunc",
		 m->pos, rx.kind);
}

static void test_garbage(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];
	struct wg_endpoint src = a->addr;
	uint8_t buf[2048];
	struct wg_rx rx;
	static const struct { uint8_t type; size_t len; enum wg_drop want; } cases[] = {
		/* 1 */ { 1, 147, WG_DROP_BAD_LENGTH },
		/* 2 */ { 1, 149, WG_DROP_BAD_LENGTH },
		/* 3 */ { 2, 91, WG_DROP_BAD_LENGTH },
		/* 4 */ { 3, 65, WG_DROP_BAD_LENGTH },
		/* 5 */ { 4, 31, WG_DROP_BAD_LENGTH },
		/* 6 */ { 5, 148, WG_DROP_BAD_TYPE },
		/* 7 */ { 0, 100, WG_DROP_BAD_TYPE },
		/* 8 */ { 1, 3, WG_DROP_BAD_TYPE },
		/* 9 */ { 1, 148, WG_DROP_MAC1 },
		/* 10 */ { 2, 92, WG_DROP_MAC1 },
		/* 11 */ { 3, 64, WG_DROP_UNKNOWN_INDEX },
		/* 12 */ { 4, 32, WG_DROP_UNKNOWN_INDEX },
		/* 13 */ { 4, 2000, WG_DROP_UNKNOWN_INDEX },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		randombytes_buf(buf, sizeof(buf));
		buf[0] = cases[i].type;
		buf[1] = buf[2] = buf[3] = 0;
		wg_receive(&b->dev, net->now, WALL0, &src, buf, cases[i].len, false, &rx);
		if (rx.kind != WG_RX_DROP || rx.drop != cases[i].want)
			fail_msg("case %zu: kind %d drop %s", i + 1, rx.kind, wg_drop_name(rx.drop));
	}
	buf[0] = 1, buf[1] = 1;
	wg_receive(&b->dev, net->now, WALL0, &src, buf, 148, false, &rx);
	assert_int_equal(rx.drop, WG_DROP_BAD_TYPE);

	/* every bit flip and truncation of a real initiation: only mac2 flips
	 * (not checked when not under load) may pass */
	assert_int_equal(send_ip(0, 1, 2, 1).kind, WG_TX_STAGED);
	assert_int_equal(net->count, 1);
	struct dgram init = net->q[net->head];
	struct mut_ctx mc = { .n = b, .protect_from = 132, .protect_to = 148 };

	net->head = 0, net->count = 0;
	mutate_all(init.buf, init.len, mutant_cb, &mc);
	assert_true(mc.passed >= 1);

	/* and of a real data message (after a fresh pair of nodes shake hands) */
	net->now += 10 * NSEC_PER_SEC;
	net->q[0] = init;
	net->head = 0, net->count = 0;
	teardown(state);
	setup(state);
	net = *state;
	establish();
	assert_int_equal(send_ip(0, 1, 2, 2).kind, WG_TX_DATA);
	struct dgram data = net->q[net->head];

	net->count = 0;
	mc = (struct mut_ctx){ .n = &net->n[1] };
	mutate_all(data.buf, data.len, mutant_cb, &mc);
	assert_int_equal(mc.passed, 0);
	assert_true(net->n[1].dev.drops[WG_DROP_DECRYPT] > 0);
}

static void test_cookie_under_load(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];

	b->under_load = true;
	assert_int_equal(send_ip(0, 1, 2, 1).kind, WG_TX_STAGED);
	run();
	/* b answered with a cookie; a holds it */
	assert_int_equal(b->dev.drops[WG_DROP_COOKIE_SENT], 1);
	assert_int_equal(a->dev.cookies_received, 1);
	assert_int_equal(b->delivered, 0);
	/* the retry carries mac2 and gets through */
	net->now = wg_next_deadline(&a->dev);
	wg_tick(&a->dev, net->now, WALL0 + net->now);
	run();
	assert_int_equal(b->dev.drops[WG_DROP_COOKIE_SENT], 1);
	assert_int_equal(b->delivered, 1);
	assert_int_equal(a->dev.peers[0]->handshakes_completed, 1);
	/* under load, a flood from one source hits the rate limiter */
	struct wg_rx rx;
	unsigned limited = 0;

	for (int i = 0; i < 20; i++) {
		uint8_t pkt[64], out[256];
		struct wg_tx tx;

		a->dev.peers[0]->timers.initiation_sent = false; /* bypass a's own limit */
		net->now += NSEC_PER_MSEC;
		ip4(pkt, 1, 2, 1);
		a->dev.peers[0]->session.current.valid = false;
		wg_send(&a->dev, net->now, WALL0 + net->now, pkt, 40, out, sizeof(out), &tx);
		while (net->count) {
			rx = deliver_one();
			limited += rx.kind == WG_RX_DROP && rx.drop == WG_DROP_RATELIMITED;
		}
	}
	assert_true(limited > 0);
}

/* An initiation in the three steps gw's workers use (begin and end under
 * their lock, the Diffie-Hellman between): the same result as wg_receive;
 * refused after begin it is counted; made for a key that changed meanwhile
 * it is dropped; anything else is not begun. */
static void test_handshake_steps(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];
	struct wg_handshake h;
	struct wg_rx rx;
	struct dgram d;
	uint8_t priv[32];

	assert_int_equal(send_ip(0, 1, 2, 1).kind, WG_TX_STAGED);
	assert_int_equal(net->count, 1);
	d = net->q[net->head];
	/* refused by the caller's budget */
	assert_true(wg_handshake_begin(&b->dev, net->now, &d.from, d.buf, d.len, false, &h, &rx));
	wg_handshake_drop(&b->dev, &h, WG_DROP_HANDSHAKE_BUDGET, &rx);
	assert_int_equal(rx.kind, WG_RX_DROP);
	assert_int_equal(b->dev.drops[WG_DROP_HANDSHAKE_BUDGET], 1);
	assert_int_equal(b->dev.handshakes_received, 0);
	/* b's key changes between crypt and end */
	memcpy(priv, b->priv, sizeof(priv));
	assert_true(wg_handshake_begin(&b->dev, net->now, &d.from, d.buf, d.len, false, &h, &rx));
	wg_handshake_crypt(&h, d.buf, d.len);
	randombytes_buf(b->priv, sizeof(b->priv));
	assert_int_equal(wg_device_set_private_key(&b->dev, b->priv), 0);
	wg_handshake_end(&b->dev, net->now, WALL0 + net->now, &d.from, d.buf, d.len, &h, &rx);
	assert_int_equal(rx.kind, WG_RX_DROP);
	assert_int_equal(rx.drop, WG_DROP_HANDSHAKE);
	assert_int_equal(wg_device_set_private_key(&b->dev, priv), 0);
	memcpy(b->priv, priv, sizeof(priv));
	/* the three steps answer it as wg_receive does */
	assert_true(wg_handshake_begin(&b->dev, net->now, &d.from, d.buf, d.len, false, &h, &rx));
	wg_handshake_crypt(&h, d.buf, d.len);
	wg_handshake_end(&b->dev, net->now, WALL0 + net->now, &d.from, d.buf, d.len, &h, &rx);
	assert_int_equal(rx.kind, WG_RX_REPLY);
	assert_int_equal(b->dev.handshakes_received, 1);
	net->head = (net->head + 1) % MAXQ;
	net->count--;
	push(0, &b->addr, rx.data, rx.len);
	run();
	assert_int_equal(a->dev.peers[0]->handshakes_completed, 1);
	assert_int_equal(b->delivered, 1);
	/* a data message is not begun: rx says nothing happened */
	assert_int_equal(send_ip(0, 1, 2, 2).kind, WG_TX_DATA);
	d = net->q[net->head];
	assert_false(wg_handshake_begin(&b->dev, net->now, &d.from, d.buf, d.len, false, &h, &rx));
	assert_int_equal(rx.kind, WG_RX_NONE);
	run();
	assert_int_equal(b->delivered, 2);
	/* under load, without mac2: the cookie reply, not begun */
	a->dev.peers[0]->session.current.valid = false;
	net->now += 6 * NSEC_PER_SEC;
	assert_int_equal(send_ip(0, 1, 2, 3).kind, WG_TX_STAGED);
	d = net->q[net->head];
	assert_false(wg_handshake_begin(&b->dev, net->now, &d.from, d.buf, d.len, true, &h, &rx));
	assert_int_equal(rx.kind, WG_RX_REPLY);
	assert_int_equal(rx.drop, WG_DROP_COOKIE_SENT);
}

/* An hour of traffic every 10 s with the timers driving: rekeys happen,
 * nothing is lost, no keypair expires under use. */
static void test_timers_hours(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];
	uint64_t end;
	unsigned sent = 0;

	establish();
	sent = 1;
	end = net->now + 3600 * NSEC_PER_SEC;
	uint64_t next_send = net->now + 10 * NSEC_PER_SEC;

	while (net->now < end) {
		uint64_t t = next_send;
		uint64_t da = wg_next_deadline(&a->dev), db = wg_next_deadline(&b->dev);

		if (da && da < t)
			t = da;
		if (db && db < t)
			t = db;
		net->now = t;
		wg_tick(&a->dev, net->now, WALL0 + net->now);
		wg_tick(&b->dev, net->now, WALL0 + net->now);
		run();
		if (net->now >= next_send) {
			send_ip(0, 1, 2, (uint8_t)sent);
			sent++;
			run();
			send_ip(1, 2, 1, (uint8_t)sent);
			run();
			next_send += 10 * NSEC_PER_SEC;
		}
	}
	/* a rekey on the first send after REKEY_AFTER_TIME: every 120-130 s */
	assert_true(a->dev.peers[0]->handshakes_completed >= 3600 / 130);
	assert_true(a->dev.peers[0]->handshakes_completed <= 3600 / 120 + 1);
	assert_int_equal(b->delivered, sent);
	assert_true(a->delivered >= sent - 2);
	assert_int_equal(b->dev.drops[WG_DROP_KEY_EXPIRED] + a->dev.drops[WG_DROP_KEY_EXPIRED], 0);

	/* then silence: after 3 * REJECT_AFTER_TIME the keys are zeroed */
	for (int i = 0; i < 100; i++) {
		uint64_t da = wg_next_deadline(&a->dev), db = wg_next_deadline(&b->dev);
		uint64_t t = da && (!db || da < db) ? da : db;

		if (!t)
			break;
		net->now = t;
		wg_tick(&a->dev, net->now, WALL0 + net->now);
		wg_tick(&b->dev, net->now, WALL0 + net->now);
		run();
	}
	assert_false(a->dev.peers[0]->session.current.valid);
	assert_false(b->dev.peers[0]->session.current.valid);
	assert_int_equal(wg_next_deadline(&a->dev), 0);
}

static void test_persistent_keepalive(void **state)
{
	struct net *net = *state;
	struct node *c = &net->n[2], *d = &net->n[3];
	int err;
	struct wg_peer *pc = wg_peer_add(&c->dev, d->pub, NULL, 25, &err);
	struct wg_peer *pd = link_peer(d, c, 3, false);

	assert_non_null(pc);
	wg_peer_set_endpoint(pc, &d->addr);
	wg_peer_up(&c->dev, pc, net->now, WALL0 + net->now);
	run();
	assert_int_equal(pc->handshakes_completed, 1);
	assert_int_equal(pd->handshakes_completed, 1); /* confirmed by the keepalive */
	uint64_t rx0 = pd->rx_bytes;

	net->now = wg_next_deadline(&c->dev);
	wg_tick(&c->dev, net->now, WALL0 + net->now);
	run();
	assert_true(pd->rx_bytes > rx0);
	/* duplicate and own keys refused */
	assert_null(wg_peer_add(&c->dev, d->pub, NULL, 0, &err));
	assert_int_equal(err, -EEXIST);
	assert_null(wg_peer_add(&c->dev, c->pub, NULL, 0, &err));
	assert_int_equal(err, -EEXIST);
}

/* n[0] also talks to n[2] (10.0.0.3); removing that peer leaves n[1]'s
 * session untouched and takes every trace of n[2] out of n[0]. */
static void test_peer_remove(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1], *c = &net->n[2];
	struct wg_peer *pab = a->dev.peers[0], *pac;
	uint32_t idx_ab;
	uint8_t pfx[4] = { 10, 0, 0, 3 };

	establish();
	idx_ab = a->dev.index.count;
	pac = link_peer(a, c, 3, true);
	link_peer(c, a, 1, false);
	assert_int_equal(send_ip(0, 1, 3, 1).kind, WG_TX_STAGED);
	run();
	assert_int_equal(c->delivered, 1);
	assert_true(a->dev.index.count > idx_ab);
	/* one prefix first */
	assert_int_equal(wg_peer_disallow(&a->dev, pab, AF_INET, pfx, 32), -ENOENT);
	assert_int_equal(wg_peer_disallow(&a->dev, pac, AF_INET, pfx, 32), 0);
	assert_int_equal(send_ip(0, 1, 3, 2).kind, WG_TX_DROP);
	assert_int_equal(wg_peer_allow(&a->dev, pac, AF_INET, pfx, 32), 0);
	/* then the peer */
	uint64_t hs = pab->handshakes_completed;

	wg_peer_remove(&a->dev, pac);
	assert_int_equal(a->dev.npeers, 1);
	assert_ptr_equal(a->dev.peers[0], pab);
	assert_int_equal(a->dev.index.count, idx_ab);
	assert_int_equal(a->dev.aips.count, 1);
	assert_null(wg_peer_find(&a->dev, c->pub));
	struct wg_tx tx = send_ip(0, 1, 3, 3);

	assert_int_equal(tx.kind, WG_TX_DROP);
	assert_int_equal(tx.drop, WG_DROP_NO_PEER);
	/* c's data on the keypair a forgot: an unknown index */
	uint64_t unknown = a->dev.drops[WG_DROP_UNKNOWN_INDEX];

	assert_int_equal(send_ip(2, 3, 1, 4).kind, WG_TX_DATA);
	run();
	assert_int_equal(a->dev.drops[WG_DROP_UNKNOWN_INDEX], unknown + 1);
	/* a and b go on without a new handshake */
	assert_int_equal(send_ip(0, 1, 2, 5).kind, WG_TX_DATA);
	assert_int_equal(send_ip(1, 2, 1, 6).kind, WG_TX_DATA);
	run();
	assert_int_equal(b->last[39], 5);
	assert_int_equal(a->last[39], 6);
	assert_int_equal(pab->handshakes_completed, hs);
	/* removing what is not there changes nothing */
	wg_peer_remove(&a->dev, pac == pab ? NULL : (struct wg_peer *)&hs);
	assert_int_equal(a->dev.npeers, 1);
	/* c comes back: a new handshake (past c's flood limit) */
	net->now += NSEC_PER_SEC;
	pac = link_peer(a, c, 3, true);
	assert_int_equal(send_ip(0, 1, 3, 7).kind, WG_TX_STAGED);
	run();
	assert_int_equal(c->last[39], 7);
}

/* More peers than the device was made for: the index table grows under
 * live sessions; a created peer joins only when inserted. */
static void test_reserve(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];
	struct wg_peer *pab = a->dev.peers[0], *extra;
	uint32_t mask = a->dev.index.mask, live;
	uint8_t key[32];
	int err;

	establish();
	live = a->dev.index.count;
	assert_int_equal(wg_device_reserve(&a->dev, 4), 0); /* smaller: nothing */
	assert_int_equal(a->dev.max_peers, 8);
	assert_int_equal(wg_device_reserve(&a->dev, 300), 0);
	assert_true(a->dev.index.mask > mask);
	assert_int_equal(a->dev.index.count, live);
	assert_int_equal(a->dev.max_peers, 300);
	for (int i = 0; i < 299; i++) {
		randombytes_buf(key, sizeof(key));
		extra = wg_peer_create(&a->dev, key, NULL, 0, &err);
		assert_non_null(extra);
		assert_int_equal(wg_peer_insert(&a->dev, extra), 0);
	}
	extra = wg_peer_create(&a->dev, b->pub, NULL, 0, &err);
	assert_null(extra);
	assert_int_equal(err, -EEXIST);
	randombytes_buf(key, sizeof(key));
	extra = wg_peer_create(&a->dev, key, NULL, 0, &err);
	assert_non_null(extra);
	assert_int_equal(wg_peer_insert(&a->dev, extra), -ENOSPC);
	wg_peer_free(&a->dev, extra);
	assert_int_equal(a->dev.npeers, 300);
	/* the session found its indices in the new table */
	uint64_t hs = pab->handshakes_completed;

	assert_int_equal(send_ip(1, 2, 1, 9).kind, WG_TX_DATA);
	assert_int_equal(send_ip(0, 1, 2, 10).kind, WG_TX_DATA);
	run();
	assert_int_equal(a->last[39], 9);
	assert_int_equal(b->last[39], 10);
	assert_int_equal(pab->handshakes_completed, hs);
	assert_int_equal(a->dev.drops[WG_DROP_UNKNOWN_INDEX], 0);
}

/* The same private key again changes nothing; a new one ends every
 * session, and the peer (told the new public key) handshakes again. */
static void test_set_private_key(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];
	struct wg_peer *pab = a->dev.peers[0];
	uint8_t priv[32];
	int err;

	establish();
	uint64_t hs = pab->handshakes_completed;

	assert_int_equal(wg_device_set_private_key(&a->dev, a->priv), 0);
	assert_int_equal(send_ip(0, 1, 2, 1).kind, WG_TX_DATA);
	run();
	assert_int_equal(pab->handshakes_completed, hs);
	randombytes_buf(priv, sizeof(priv));
	assert_int_equal(wg_device_set_private_key(&a->dev, priv), 0);
	assert_int_equal(a->dev.index.count, 0);
	assert_false(pab->session.current.valid);
	assert_memory_not_equal(a->dev.keys.pub, a->pub, 32);
	/* b still knows the old key: a's initiation is refused */
	assert_int_equal(send_ip(0, 1, 2, 2).kind, WG_TX_STAGED);
	run();
	assert_int_equal(pab->handshakes_completed, hs);
	/* b learns the new one */
	wg_peer_remove(&b->dev, b->dev.peers[0]);
	struct wg_peer *pba = wg_peer_add(&b->dev, a->dev.keys.pub, NULL, 0, &err);
	uint8_t pfx[4] = { 10, 0, 0, 1 };

	assert_non_null(pba);
	assert_int_equal(wg_peer_allow(&b->dev, pba, AF_INET, pfx, 32), 0);
	net->now += 6 * NSEC_PER_SEC; /* past REKEY_TIMEOUT */
	assert_int_equal(send_ip(0, 1, 2, 3).kind, WG_TX_STAGED);
	run();
	assert_int_equal(pab->handshakes_completed, hs + 1);
	assert_int_equal(b->last[39], 3);
}

/* Turning a persistent keepalive on sends one at once; psk changes apply
 * at the next handshake. */
static void test_peer_settings(void **state)
{
	struct net *net = *state;
	struct node *a = &net->n[0], *b = &net->n[1];
	struct wg_peer *pab = a->dev.peers[0];
	uint8_t psk[32];

	establish();
	uint64_t rx = b->dev.peers[0]->rx_bytes;

	wg_peer_set_keepalive(&a->dev, pab, 25, net->now, WALL0 + net->now);
	run();
	assert_true(b->dev.peers[0]->rx_bytes > rx);
	assert_int_equal(pab->timers.persistent_interval, 25 * NSEC_PER_SEC);
	wg_peer_set_keepalive(&a->dev, pab, 0, net->now, WALL0 + net->now);
	assert_int_equal(pab->timers.persistent, 0);
	randombytes_buf(psk, sizeof(psk));
	wg_peer_set_psk(pab, psk);
	assert_memory_equal(pab->hs.psk, psk, 32);
	/* the session stays; the next handshake fails until b has it too */
	assert_int_equal(send_ip(0, 1, 2, 4).kind, WG_TX_DATA);
	wg_peer_set_psk(pab, NULL);
	memset(psk, 0, sizeof(psk));
	assert_memory_equal(pab->hs.psk, psk, 32);
	run();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roaming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowed_ips_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timers_hours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistent_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_private_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_settings, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
