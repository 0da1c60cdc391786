/* SPDX-License-Identifier: MIT */
/* crypto/session: keypair rotation, key confirmation, data messages,
 * padding, replay, limits, every bit flip and truncation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/noise.h"
#include "crypto/session.h"
#include "tests/unit/util_mutate.h"

struct pair {
	struct noise_keys ka, kb;
	struct noise_handshake ha, hb;
	struct session sa, sb; /* a initiates */
	uint32_t next_index;
};

static void pair_init(struct pair *p)
{
	uint8_t priv[32];

	memset(p, 0, sizeof(*p));
	randombytes_buf(priv, 32);
	assert_int_equal(noise_keys_init(&p->ka, priv), 0);
	randombytes_buf(priv, 32);
	assert_int_equal(noise_keys_init(&p->kb, priv), 0);
	noise_handshake_init(&p->ha, p->kb.pub, NULL);
	noise_handshake_init(&p->hb, p->ka.pub, NULL);
	session_init(&p->sa);
	session_init(&p->sb);
	p->next_index = 100;
}

/* A full handshake initiated by a at now; returns dropped counts. */
static void handshake(struct pair *p, uint64_t now, int *da, int *db)
{
	struct msg_initiation init;
	struct msg_response resp;
	struct noise_initiation in;
	struct noise_session_keys ka, kb;
	uint32_t dropped[3];

	assert_int_equal(noise_create_initiation(&p->ha, &p->ka, p->next_index++,
						 1700000000ull * NSEC_PER_SEC + now, &init), 0);
	assert_int_equal(noise_consume_initiation(&p->kb, &init, &in), 0);
	assert_int_equal(noise_accept_initiation(&p->hb, &in, now), 0);
	assert_int_equal(noise_create_response(&p->hb, p->next_index++, &resp), 0);
	assert_int_equal(noise_consume_response(&p->ha, &p->ka, &resp), 0);
	assert_int_equal(noise_derive_keys(&p->ha, &ka), 0);
	assert_int_equal(noise_derive_keys(&p->hb, &kb), 0);
	int n = session_install(&p->sa, &ka, now, dropped);
	if (da)
		*da = n;
	n = session_install(&p->sb, &kb, now, dropped);
	if (db)
		*db = n;
}

static size_t send_pkt(struct session *s, uint64_t now, const char *text, uint8_t *out)
{
	size_t outlen;
	unsigned flags;

	assert_int_equal(session_encrypt(s, now, (const uint8_t *)text, strlen(text), 1420, out,
					 &outlen, &flags), 0);
	return outlen;
}

static void test_confirmation(void **state)
{
	struct pair p;
	uint8_t msg[256], pt[256];
	size_t len, outlen;
	unsigned flags;
	struct session_rx rx;

	(void)state;
	pair_init(&p);
	handshake(&p, 0, NULL, NULL);
	assert_true(p.sa.current.valid);
	assert_true(p.sb.next.valid);
	assert_false(p.sb.current.valid);
	/* the responder may not send before confirmation */
	assert_int_equal(session_encrypt(&p.sb, 0, NULL, 0, 1420, msg, &outlen, &flags), -ENOKEY);
	len = send_pkt(&p.sa, 1, "hello", msg);
	assert_int_equal(len, 16 + 16 + 16);
	assert_int_equal(session_decrypt(&p.sb, 2, msg, len, pt, &rx), 0);
	assert_int_equal(rx.len, 16);
	assert_memory_equal(pt, "hello", 5);
	assert_true(rx.flags & SESSION_CONFIRMED);
	assert_true(p.sb.current.valid);
	assert_false(p.sb.next.valid);
	/* now it can, and a receives */
	len = send_pkt(&p.sb, 3, "world", msg);
	assert_int_equal(session_decrypt(&p.sa, 4, msg, len, pt, &rx), 0);
	assert_false(rx.flags & SESSION_CONFIRMED);
	assert_memory_equal(pt, "world", 5);
	/* replay */
	assert_int_equal(session_decrypt(&p.sa, 5, msg, len, pt, &rx), -EALREADY);
	/* keepalive */
	assert_int_equal(session_encrypt(&p.sa, 6, NULL, 0, 1420, msg, &outlen, &flags), 0);
	assert_int_equal(outlen, 32);
	assert_int_equal(session_decrypt(&p.sb, 6, msg, outlen, pt, &rx), 0);
	assert_true(rx.flags & SESSION_KEEPALIVE);
	assert_int_equal(rx.len, 0);
}

static void test_padding(void **state)
{
	static const struct { size_t len, mtu, want; } cases[] = {
		/* 1 */ { 0, 1420, 32 },
		/* 2 */ { 1, 1420, 48 },
		/* 3 */ { 16, 1420, 48 },
		/* 4 */ { 17, 1420, 64 },
		/* 5 */ { 1419, 1420, 16 + 1420 + 16 },
		/* 6 */ { 1420, 1420, 16 + 1420 + 16 },
		/* 7 */ { 1410, 1412, 16 + 1412 + 16 },
		/* 8 */ { 1500, 1420, 16 + 1500 + 16 }, /* over the MTU: unpadded */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (session_data_len(cases[i].len, cases[i].mtu) != cases[i].want)
			fail_msg("case %zu", i + 1);
}

static void test_rotation(void **state)
{
	struct pair p;
	uint8_t old[128], msg[128], pt[128];
	size_t oldlen, len;
	struct session_rx rx;
	int da, db;

	(void)state;
	pair_init(&p);
	handshake(&p, 0, &da, &db);
	assert_int_equal(da + db, 0);
	oldlen = send_pkt(&p.sa, 1, "old", old);
	len = send_pkt(&p.sa, 1, "confirm", msg);
	assert_int_equal(session_decrypt(&p.sb, 1, msg, len, pt, &rx), 0);
	uint32_t first_a = p.sa.current.local_index;
	handshake(&p, 10 * NSEC_PER_SEC, &da, &db);
	assert_int_equal(da, 0); /* first current became previous */
	assert_int_equal(p.sa.previous.local_index, first_a);
	/* b: new keypair in next, old current still current, previous dropped */
	assert_true(p.sb.next.valid);
	/* an old packet in flight still decrypts at b (on current) */
	assert_int_equal(session_decrypt(&p.sb, 11 * NSEC_PER_SEC, old, oldlen, pt, &rx), 0);
	/* a sends on the new keypair: b confirms and drops nothing it still needs */
	len = send_pkt(&p.sa, 12 * NSEC_PER_SEC, "new", msg);
	assert_int_equal(session_decrypt(&p.sb, 12 * NSEC_PER_SEC, msg, len, pt, &rx), 0);
	assert_true(rx.flags & SESSION_CONFIRMED);
	/* third handshake: a drops its oldest */
	handshake(&p, 20 * NSEC_PER_SEC, &da, &db);
	assert_int_equal(da, 1);
	assert_null(session_find(&p.sa, first_a));
	/* b: installing next dropped its previous (as wireguard-go) */
	assert_int_equal(db, 1);
	len = send_pkt(&p.sa, 21 * NSEC_PER_SEC, "x", msg);
	assert_int_equal(session_decrypt(&p.sb, 21 * NSEC_PER_SEC, msg, len, pt, &rx), 0);
	assert_true(rx.flags & SESSION_CONFIRMED);
	assert_false(rx.flags & SESSION_DROPPED);
	uint32_t dropped[3];
	assert_int_equal(session_clear(&p.sa, dropped), 2);
	assert_false(session_can_send(&p.sa, 0));
}

static void test_limits(void **state)
{
	struct pair p;
	uint8_t msg[128], pt[128];
	size_t len;
	unsigned flags;
	struct session_rx rx;

	(void)state;
	pair_init(&p);
	handshake(&p, 0, NULL, NULL);
	len = send_pkt(&p.sa, 0, "a", msg);
	assert_int_equal(session_decrypt(&p.sb, 0, msg, len, pt, &rx), 0);
	/* time: rekey wanted by the initiator after 120 s, nothing after 180 s */
	assert_int_equal(session_encrypt(&p.sa, REKEY_AFTER_TIME, NULL, 0, 1420, msg, &len, &flags), 0);
	assert_int_equal(flags, 0);
	assert_int_equal(session_encrypt(&p.sa, REKEY_AFTER_TIME + 1, NULL, 0, 1420, msg, &len, &flags), 0);
	assert_int_equal(flags, SESSION_WANT_REKEY);
	assert_int_equal(session_encrypt(&p.sb, REKEY_AFTER_TIME + 1, NULL, 0, 1420, msg, &len, &flags), 0);
	assert_int_equal(flags, 0); /* the responder does not rekey on time */
	/* receive side: the initiator is told at 165 s */
	assert_int_equal(session_decrypt(&p.sa, 165 * NSEC_PER_SEC + 1, msg, len, pt, &rx), 0);
	assert_true(rx.flags & SESSION_REKEY_RECV);
	assert_int_equal(session_encrypt(&p.sa, REJECT_AFTER_TIME, NULL, 0, 1420, msg, &len, &flags), -ENOKEY);
	assert_int_equal(session_encrypt(&p.sb, REJECT_AFTER_TIME - 1, NULL, 0, 1420, msg, &len, &flags), 0);
	assert_int_equal(session_decrypt(&p.sa, REJECT_AFTER_TIME, msg, len, pt, &rx), -EKEYEXPIRED);
	/* messages */
	p.sa.current.birth = REJECT_AFTER_TIME;
	p.sa.current.send_counter = REKEY_AFTER_MESSAGES;
	assert_int_equal(session_encrypt(&p.sa, REJECT_AFTER_TIME, NULL, 0, 1420, msg, &len, &flags), 0);
	assert_int_equal(flags, SESSION_WANT_REKEY);
	p.sa.current.send_counter = REJECT_AFTER_MESSAGES;
	assert_int_equal(session_encrypt(&p.sa, REJECT_AFTER_TIME, NULL, 0, 1420, msg, &len, &flags), -ENOKEY);
	p.sa.current.send_counter = REJECT_AFTER_MESSAGES - 1;
	assert_int_equal(session_encrypt(&p.sa, REJECT_AFTER_TIME, NULL, 0, 1420, msg, &len, &flags), 0);
}

struct flip_ctx {
	struct session *s;
	size_t tried, rejected;
};

static void data_mutant(void *vctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct flip_ctx *ctx = vctx;
	struct session copy = *ctx->s;
	uint8_t pt[256];
	struct session_rx rx;

	if (m->kind == MUTANT_FLIP && m->pos / 8 < 4)
		return; /* type: the caller's dispatch */
	ctx->tried++;
	if (session_decrypt(&copy, 0, buf, len, pt, &rx) != 0)
		ctx->rejected++;
	else
		fail_msg("data mutant %d/%zu accepted", m->kind, m->pos);
}

static void test_mutants(void **state)
{
	struct pair p;
	uint8_t msg[256], pt[256];
	size_t len;
	struct session_rx rx;

	(void)state;
	pair_init(&p);
	handshake(&p, 0, NULL, NULL);
	len = send_pkt(&p.sa, 0, "some payload of a few bytes", msg);
	struct flip_ctx c = { &p.sb, 0, 0 };
	size_t n = mutate_all(msg, len, data_mutant, &c);
	assert_int_equal(c.tried, n - 32);
	assert_int_equal(c.rejected, c.tried);
	assert_int_equal(session_decrypt(&p.sb, 0, msg, len, pt, &rx), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confirmation),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_mutants),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
