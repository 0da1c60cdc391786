/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for wg_receive: every datagram a WireGuard device can be
 * sent.  Two devices with fixed keys shake hands once at start-up (a is b's
 * peer), so receiver indices and keys exist to aim at.
 *
 * Input: one mode byte, then datagrams, each prefixed by a 2-byte length.
 *   bit 0  fill mac1 correctly (a's cookie maker), so handshake parsing is
 *          reached past the cheap check
 *   bit 1  b is under load (cookie replies, mac2, rate limiter)
 *   bit 2  wrap the datagram as a valid data message from a (so the inner
 *          packet checks are fuzzed)
 *   bit 3  a handshake between b and a third device c made afresh for the
 *          input (b knows c's key): the records are no datagrams but
 *          masks XORed over the message each side really sends next, so
 *          valid messages reach noise_consume_initiation /
 *          noise_accept_initiation, noise_consume_response, the cookie
 *          reply (cookie_consume_reply) and, under load with the cookie's
 *          mac2, the rate limiter (ratelimit_allow); the first record goes
 *          to b (c's initiation), then each answer to the other side
 *          (whatever a side sends when it has nothing to answer: c's
 *          retried initiation after 6 s, or a data message once it has a
 *          session)
 * Properties: nothing reads outside the datagram (ASan on an exact heap
 * copy); a packet result lies inside the buffer; results are consistent.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "crypto/wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static struct wg_device a, b, c;
static struct wg_endpoint ep_a, ep_b, ep_c;
static uint8_t pending[3][256];
static size_t pending_len[3];
static uint8_t kc[32];
static uint64_t now = 1000000000000ull;

static void on_emit(void *ctx, struct wg_peer *peer, const struct wg_endpoint *to,
		    const uint8_t *dgram, size_t len)
{
	int who = ctx == &a ? 0 : ctx == &b ? 1 : 2;

	(void)peer, (void)to;
	if (len <= sizeof(pending[0])) {
		memcpy(pending[who], dgram, len);
		pending_len[who] = len;
	}
}

static void setup(void)
{
	uint8_t ka[32], kb[32], pfx[4] = { 10, 0, 0, 0 }, ip[40] = { 0x45, 0, 0, 40 };
	uint8_t buf[256], out[256];
	struct wg_peer *pa, *pb;
	struct wg_rx rx;
	struct wg_tx tx;
	int err;

	if (sodium_init() < 0)
		abort();
	memset(ka, 0x11, 32);
	memset(kb, 0x22, 32);
	CHECK(wg_device_init(&a, ka, 4, 0, on_emit, &a) == 0);
	CHECK(wg_device_init(&b, kb, 4, 0, on_emit, &b) == 0);
	ep_a.len = ep_b.len = 8;
	ep_a.addr[0] = ep_b.addr[0] = 2;
	ep_a.addr[7] = 1;
	ep_b.addr[7] = 2;
	pa = wg_peer_add(&a, b.keys.pub, NULL, 0, &err);
	pb = wg_peer_add(&b, a.keys.pub, NULL, 0, &err);
	CHECK(pa && pb);
	pfx[3] = 2;
	CHECK(wg_peer_allow(&a, pa, AF_INET, pfx, 32) == 0);
	pfx[3] = 0;
	CHECK(wg_peer_allow(&b, pb, AF_INET, pfx, 24) == 0);
	wg_peer_set_endpoint(pa, &ep_b);
	ip[12] = 10, ip[15] = 1, ip[16] = 10, ip[19] = 2;
	wg_send(&a, now, now, ip, sizeof(ip), out, sizeof(out), &tx);
	CHECK(tx.kind == WG_TX_STAGED && pending_len[0] == MSG_INITIATION_LEN);
	memcpy(buf, pending[0], pending_len[0]);
	wg_receive(&b, now, now, &ep_a, buf, pending_len[0], false, &rx);
	CHECK(rx.kind == WG_RX_REPLY);
	memcpy(buf, rx.data, rx.len);
	wg_receive(&a, now, now, &ep_b, buf, rx.len, false, &rx);
	CHECK(rx.kind == WG_RX_NONE && pa->session.current.valid);
	/* c: b's peer, its device made afresh for each input (new_c) */
	memset(kc, 0x33, 32);
	CHECK(wg_device_init(&c, kc, 4, 0, on_emit, &c) == 0);
	pb = wg_peer_add(&b, c.keys.pub, NULL, 0, &err);
	CHECK(pb);
	pfx[3] = 3;
	CHECK(wg_peer_allow(&b, pb, AF_INET, pfx, 32) == 0);
	wg_device_destroy(&c);
	ep_c = ep_a;
	ep_c.addr[7] = 3;
}

/* c afresh, with b as its peer and an initiation to b pending. */
static void new_c(void)
{
	uint8_t pfx[4] = { 0 }, ip[40] = { 0x45, 0, 0, 40 }, out[256];
	struct wg_peer *pc;
	struct wg_tx tx;
	int err;

	CHECK(wg_device_init(&c, kc, 4, 0, on_emit, &c) == 0);
	pc = wg_peer_add(&c, b.keys.pub, NULL, 0, &err);
	CHECK(pc);
	CHECK(wg_peer_allow(&c, pc, AF_INET, pfx, 0) == 0);
	wg_peer_set_endpoint(pc, &ep_b);
	ip[12] = 10, ip[15] = 3, ip[16] = 10, ip[19] = 1;
	pending_len[2] = 0;
	wg_send(&c, now, now, ip, sizeof(ip), out, sizeof(out), &tx);
	CHECK(tx.kind == WG_TX_STAGED && pending_len[2] == MSG_INITIATION_LEN);
}

/* What c sends when it has nothing to answer: its pending message, else
 * what 6 s of timers make (a retried initiation), else a data message. */
static size_t c_next(uint8_t *msg, size_t cap)
{
	uint8_t ip[40] = { 0x45, 0, 0, 40 };
	struct wg_tx tx;

	if (!pending_len[2]) {
		now += 6000000000ull;
		wg_tick(&c, now, now);
	}
	if (!pending_len[2]) {
		ip[12] = 10, ip[15] = 3, ip[16] = 10, ip[19] = 1;
		wg_send(&c, now, now, ip, sizeof(ip), msg, cap, &tx);
		if (tx.kind == WG_TX_DATA)
			return tx.len;
	}
	if (!pending_len[2] || pending_len[2] > cap)
		return 0;
	memcpy(msg, pending[2], pending_len[2]);
	cap = pending_len[2];
	pending_len[2] = 0;
	return cap;
}

/* Mode bit 3: records are masks over the messages c and b exchange. */
static void handshake(bool under_load, const uint8_t *data, size_t size)
{
	uint8_t msg[256];
	size_t mlen = 0;
	bool to_b = true;

	new_c();
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1];
		uint8_t *buf;
		struct wg_rx rx;

		data += 2, size -= 2;
		if (len > size)
			len = size;
		now += 1000000;
		if (to_b)
			mlen = c_next(msg, sizeof(msg));
		if (!mlen)
			break;
		for (size_t i = 0; i < len && i < mlen; i++)
			msg[i] ^= data[i];
		buf = malloc(mlen);
		CHECK(buf);
		memcpy(buf, msg, mlen);
		if (to_b)
			wg_receive(&b, now, now, &ep_c, buf, mlen, under_load, &rx);
		else
			wg_receive(&c, now, now, &ep_b, buf, mlen, false, &rx);
		if (rx.kind == WG_RX_PACKET || rx.kind == WG_RX_REPLY)
			CHECK(rx.data >= buf && rx.data + rx.len <= buf + mlen);
		if (rx.kind == WG_RX_DROP)
			CHECK(rx.drop < WG_DROP__COUNT);
		if (rx.kind == WG_RX_REPLY && rx.len <= sizeof(msg)) {
			/* the answer goes to the other side next */
			memmove(msg, rx.data, rx.len);
			mlen = rx.len;
			if (!to_b) {
				/* c answers b: queued as c's next message */
				memcpy(pending[2], msg, mlen);
				pending_len[2] = mlen;
			}
			to_b = !to_b;
		} else {
			to_b = true;
		}
		free(buf);
		data += len, size -= len;
	}
	wg_tick(&b, now, now);
	wg_device_destroy(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint8_t mode;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 1)
		return 0;
	mode = data[0];
	data++, size--;
	if (mode & 8) {
		handshake(mode & 2, data, size);
		return 0;
	}
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1];
		uint8_t *buf;
		size_t blen;
		struct wg_rx rx;

		data += 2, size -= 2;
		if (len > size)
			len = size;
		now += 1000000;
		if (mode & 4) {
			unsigned flags;

			blen = session_data_len(len, a.mtu);
			buf = malloc(blen);
			CHECK(buf);
			if (session_encrypt(&a.peers[0]->session, now, data, len, a.mtu, buf, &blen,
					    &flags)) {
				free(buf);
				break;
			}
		} else {
			blen = len;
			buf = malloc(blen ? blen : 1);
			CHECK(buf);
			memcpy(buf, data, len);
			if ((mode & 1) && (len == MSG_INITIATION_LEN || len == MSG_RESPONSE_LEN))
				cookie_add_macs(&a.peers[0]->cookie, buf, len, now);
		}
		wg_receive(&b, now, now, &ep_a, buf, blen, mode & 2, &rx);
		if (rx.kind == WG_RX_PACKET || rx.kind == WG_RX_REPLY)
			CHECK(rx.data >= buf && rx.data + rx.len <= buf + blen);
		if (rx.kind == WG_RX_DROP)
			CHECK(rx.drop < WG_DROP__COUNT);
		free(buf);
		data += len, size -= len;
	}
	wg_tick(&b, now, now);
	return 0;
}
