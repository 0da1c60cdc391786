/* SPDX-License-Identifier: MIT */
/*
 * crypto/ throughput on one core: ChaCha20-Poly1305 data messages through
 * session_encrypt (seal) and session_decrypt (open, with the replay check)
 * for 1420-byte (the tunnel MTU) and 64-byte payloads, and whole Noise IK
 * handshakes (both sides: initiation with mac1 and its check, response,
 * keys).  Each case runs in batches until at least MIN_NS have passed on
 * CLOCK_MONOTONIC; time is injected as crypto/ wants it.  Informational:
 * numbers are printed, never judged.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/cookie.h"
#include "crypto/noise.h"
#include "crypto/session.h"

enum { BATCH = 512, MTU = 1420, HS_BATCH = 64 };
#define MIN_NS 500e6

static volatile uint32_t sink;
static const uint64_t WALL0 = 1700000000ull * NSEC_PER_SEC;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct party {
	struct noise_keys keys;
	struct noise_handshake hs;
	struct cookie_maker maker;     /* mac1 for the other's key */
	struct cookie_checker checker; /* mac1 check for our key */
};

static void pair(struct party *a, struct party *b)
{
	uint8_t priv[NOISE_PUBLIC_KEY_LEN];

	randombytes_buf(priv, sizeof(priv));
	if (noise_keys_init(&a->keys, priv))
		abort();
	randombytes_buf(priv, sizeof(priv));
	if (noise_keys_init(&b->keys, priv))
		abort();
	sodium_memzero(priv, sizeof(priv));
	noise_handshake_init(&a->hs, b->keys.pub, NULL);
	noise_handshake_init(&b->hs, a->keys.pub, NULL);
	cookie_maker_init(&a->maker, b->keys.pub);
	cookie_maker_init(&b->maker, a->keys.pub);
	cookie_checker_init(&a->checker, a->keys.pub);
	cookie_checker_init(&b->checker, b->keys.pub);
}

/* One handshake a -> b at time i; the transport keys of both sides. */
static void handshake(struct party *a, struct party *b, uint64_t i,
		      struct noise_session_keys *ka, struct noise_session_keys *kb)
{
	static const uint8_t src[6] = { 192, 0, 2, 2, 0xca, 0x6c };
	uint64_t now = (i + 1) * NSEC_PER_SEC; /* past the 20 ms flood gap */
	struct msg_initiation init;
	struct msg_response resp;
	struct noise_initiation in;

	if (noise_create_initiation(&a->hs, &a->keys, (uint32_t)i, WALL0 + now, &init))
		abort();
	cookie_add_macs(&a->maker, (uint8_t *)&init, sizeof(init), now);
	if (cookie_check(&b->checker, (uint8_t *)&init, sizeof(init), src, sizeof(src), now) ==
		    COOKIE_MAC1_INVALID ||
	    noise_consume_initiation(&b->keys, &init, &in) ||
	    noise_accept_initiation(&b->hs, &in, now) ||
	    noise_create_response(&b->hs, (uint32_t)i + 1, &resp))
		abort();
	cookie_add_macs(&b->maker, (uint8_t *)&resp, sizeof(resp), now);
	if (cookie_check(&a->checker, (uint8_t *)&resp, sizeof(resp), src, sizeof(src), now) ==
		    COOKIE_MAC1_INVALID ||
	    noise_consume_response(&a->hs, &a->keys, &resp) ||
	    noise_derive_keys(&a->hs, ka) || noise_derive_keys(&b->hs, kb))
		abort();
}

struct result {
	char name[40];
	double ns;     /* per operation */
	size_t bytes;  /* payload per operation; 0: a handshake */
};

static struct result bench_handshakes(struct party *a, struct party *b)
{
	struct noise_session_keys ka, kb;
	double t0 = now_ns(), t;
	uint64_t n = 0;

	do {
		for (int i = 0; i < HS_BATCH; i++, n++) {
			handshake(a, b, n, &ka, &kb);
			sink += ka.send[0] ^ kb.recv[0];
		}
	} while ((t = now_ns() - t0) < MIN_NS);
	sodium_memzero(&ka, sizeof(ka));
	sodium_memzero(&kb, sizeof(kb));
	return (struct result){ "handshake (both sides)", t / (double)n, 0 };
}

/* Seal: encrypt len-byte payloads on s.  Open: decrypt on r what s sealed
 * (sealing untimed, between timed rounds of opening). */
static void bench_data(struct session *s, struct session *r, size_t len, uint8_t *msgs,
		       struct result *seal, struct result *open)
{
	size_t slot = session_data_len(MTU, MTU), outlen = 0;
	uint8_t payload[MTU], out[MTU + 16];
	double t0, t, topen = 0;
	uint64_t n = 0, nopen = 0;
	unsigned flags;
	struct session_rx rx;

	randombytes_buf(payload, sizeof(payload));
	t0 = now_ns();
	do {
		for (int i = 0; i < BATCH; i++)
			if (session_encrypt(s, 1, payload, len, MTU, msgs + (size_t)i * slot,
					    &outlen, &flags))
				abort();
		n += BATCH;
	} while ((t = now_ns() - t0) < MIN_NS);
	snprintf(seal->name, sizeof(seal->name), "seal %zu B (session_encrypt)", len);
	seal->ns = t / (double)n;
	seal->bytes = len;

	do {
		for (int i = 0; i < BATCH; i++)
			if (session_encrypt(s, 1, payload, len, MTU, msgs + (size_t)i * slot,
					    &outlen, &flags))
				abort();
		t0 = now_ns();
		for (int i = 0; i < BATCH; i++) {
			if (session_decrypt(r, 1, msgs + (size_t)i * slot, outlen, out, &rx))
				abort();
			sink += out[0];
		}
		topen += now_ns() - t0;
		nopen += BATCH;
	} while (topen < MIN_NS);
	snprintf(open->name, sizeof(open->name), "open %zu B (session_decrypt)", len);
	open->ns = topen / (double)nopen;
	open->bytes = len;
}

int main(void)
{
	struct noise_session_keys ka, kb;
	struct session sa, sb;
	struct party a, b;
	struct result r[5];
	uint32_t dropped[3];
	uint8_t *msgs;

	if (sodium_init() < 0)
		abort();
	msgs = malloc((size_t)BATCH * session_data_len(MTU, MTU));
	if (!msgs)
		abort();
	pair(&a, &b);
	r[0] = bench_handshakes(&a, &b);

	/* one more handshake for the keys; b confirms on its first open */
	handshake(&a, &b, 1u << 30, &ka, &kb);
	session_init(&sa);
	session_init(&sb);
	session_install(&sa, &ka, 1, dropped);
	session_install(&sb, &kb, 1, dropped);
	sodium_memzero(&ka, sizeof(ka));
	sodium_memzero(&kb, sizeof(kb));
	bench_data(&sa, &sb, MTU, msgs, &r[1], &r[2]);
	bench_data(&sa, &sb, 64, msgs, &r[3], &r[4]);

	printf("%-32s %10s %10s %12s\n", "crypto, one core", "ns/op", "kops/s", "MB/s");
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		if (r[i].bytes)
			printf("%-32s %10.1f %10.1f %12.1f\n", r[i].name, r[i].ns, 1e6 / r[i].ns,
			       (double)r[i].bytes * 1e3 / r[i].ns);
		else
			printf("%-32s %10.1f %10.2f %12s\n", r[i].name, r[i].ns, 1e6 / r[i].ns,
			       "-");
	}
	session_clear(&sa, dropped);
	session_clear(&sb, dropped);
	free(msgs);
	return 0;
}
