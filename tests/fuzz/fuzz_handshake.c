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

static struct wg_device a, b;
static struct wg_endpoint ep_a, ep_b;
static uint8_t pending[2][256];
static size_t pending_len[2];
static uint64_t now = 1000000000000ull;

static void on_emit(void *ctx, struct wg_peer *peer, const struct wg_endpoint *to,
		    const uint8_t *dgram, size_t len)
{
	int who = ctx == &a ? 0 : 1;

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
