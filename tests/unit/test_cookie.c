/* SPDX-License-Identifier: MIT */
/* crypto/cookie: mac1/mac2, cookie replies, expiry, every bit flip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/cookie.h"
#include "crypto/noise.h"
#include "tests/unit/util_mutate.h"

static const uint8_t SRC[6] = { 192, 0, 2, 1, 0xca, 0xfe };  /* IP || port */
static const uint8_t SRC2[6] = { 192, 0, 2, 1, 0xca, 0xff };

struct fixture {
	struct noise_keys ka, kb;
	struct noise_handshake hab;
	struct cookie_maker mab;   /* A's maker for B */
	struct cookie_checker cb;  /* B's checker */
	struct msg_initiation init;
};

static void setup(struct fixture *f)
{
	uint8_t priv[32];

	randombytes_buf(priv, 32);
	assert_int_equal(noise_keys_init(&f->ka, priv), 0);
	randombytes_buf(priv, 32);
	assert_int_equal(noise_keys_init(&f->kb, priv), 0);
	noise_handshake_init(&f->hab, f->kb.pub, NULL);
	cookie_maker_init(&f->mab, f->kb.pub);
	cookie_checker_init(&f->cb, f->kb.pub);
}

static void make_init(struct fixture *f, uint64_t now)
{
	assert_int_equal(noise_create_initiation(&f->hab, &f->ka, 42, 1700000000ull * NSEC_PER_SEC + now,
						 &f->init), 0);
	cookie_add_macs(&f->mab, (uint8_t *)&f->init, sizeof(f->init), now);
}

static enum cookie_result check(struct fixture *f, const uint8_t *src, uint64_t now)
{
	return cookie_check(&f->cb, (const uint8_t *)&f->init, sizeof(f->init), src, 6, now);
}

static void test_cookie_flow(void **state)
{
	struct fixture f;
	struct msg_cookie_reply reply;
	const uint8_t zero[16] = { 0 };

	(void)state;
	setup(&f);
	make_init(&f, 0);
	assert_memory_equal(f.init.mac2, zero, 16);
	assert_int_equal(check(&f, SRC, 0), COOKIE_MAC1_VALID);
	/* under load: B answers with a cookie; A takes it */
	cookie_create_reply(&f.cb, (const uint8_t *)&f.init, sizeof(f.init), 42, SRC, 6, 0, &reply);
	assert_int_equal(reply.type[0], MSG_COOKIE_REPLY);
	assert_int_equal(msg_get_le32(reply.receiver), 42);
	assert_int_equal(cookie_consume_reply(&f.mab, &reply, 0), 0);
	/* next initiation carries mac2, valid from the same source only */
	make_init(&f, NSEC_PER_SEC);
	assert_memory_not_equal(f.init.mac2, zero, 16);
	assert_int_equal(check(&f, SRC, NSEC_PER_SEC), COOKIE_MAC2_VALID);
	assert_int_equal(check(&f, SRC2, NSEC_PER_SEC), COOKIE_MAC1_VALID);
	/* the reply answered the previous mac1: a replay of it no longer decrypts */
	assert_int_equal(cookie_consume_reply(&f.mab, &reply, NSEC_PER_SEC), -EBADMSG);
	/* B's secret is too old after 120 s: mac2 no longer counts */
	assert_int_equal(check(&f, SRC, COOKIE_SECRET_MAX_AGE + 1), COOKIE_MAC1_VALID);
	/* A's cookie expires after 120 s: mac2 zero again */
	make_init(&f, COOKIE_MAX_AGE + 1);
	assert_memory_equal(f.init.mac2, zero, 16);
}

static void test_reply_needs_mac1(void **state)
{
	struct fixture f;
	struct msg_cookie_reply reply;

	(void)state;
	setup(&f);
	memset(&reply, 0, sizeof(reply));
	assert_int_equal(cookie_consume_reply(&f.mab, &reply, 0), -EINVAL);
}

static void test_wrong_key(void **state)
{
	struct fixture f;
	struct cookie_checker other;
	uint8_t pub[32];

	(void)state;
	setup(&f);
	make_init(&f, 0);
	randombytes_buf(pub, 32);
	cookie_checker_init(&other, pub);
	assert_int_equal(cookie_check(&other, (const uint8_t *)&f.init, sizeof(f.init), SRC, 6, 0),
			 COOKIE_MAC1_INVALID);
}

struct flip_ctx {
	struct fixture *f;
	uint64_t now;
	size_t tried, rejected;
};

/* Under load: only MAC2_VALID passes.  Every flip must fail that. */
static void init_mutant(void *vctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct flip_ctx *ctx = vctx;
	enum cookie_result r = cookie_check(&ctx->f->cb, buf, len, SRC, 6, ctx->now);

	ctx->tried++;
	if (r != COOKIE_MAC2_VALID)
		ctx->rejected++;
	else
		fail_msg("initiation mutant %d/%zu passed", m->kind, m->pos);
	/* not under load: anything but a mac2 flip must fail mac1 */
	if (m->kind == MUTANT_FLIP && m->pos / 8 < MSG_INITIATION_LEN - COOKIE_LEN)
		assert_int_equal(r, COOKIE_MAC1_INVALID);
}

static void reply_mutant(void *vctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct flip_ctx *ctx = vctx;
	struct cookie_maker mk = ctx->f->mab;

	if (m->kind != MUTANT_FLIP || m->pos / 8 < 8 || len != MSG_COOKIE_REPLY_LEN)
		return; /* type/receiver: the caller's dispatch, not authenticated */
	ctx->tried++;
	if (cookie_consume_reply(&mk, (const struct msg_cookie_reply *)buf, ctx->now) != 0)
		ctx->rejected++;
}

static void test_bitflips(void **state)
{
	struct fixture f;
	struct msg_cookie_reply reply;

	(void)state;
	setup(&f);
	make_init(&f, 0);
	cookie_create_reply(&f.cb, (const uint8_t *)&f.init, sizeof(f.init), 42, SRC, 6, 0, &reply);

	struct flip_ctx cr = { &f, 0, 0, 0 };
	mutate_bitflips((const uint8_t *)&reply, sizeof(reply), reply_mutant, &cr);
	assert_int_equal(cr.tried, (64 - 8) * 8);
	assert_int_equal(cr.rejected, cr.tried);

	assert_int_equal(cookie_consume_reply(&f.mab, &reply, 0), 0);
	make_init(&f, 0);
	assert_int_equal(check(&f, SRC, 0), COOKIE_MAC2_VALID);
	struct flip_ctx ci = { &f, 0, 0, 0 };
	size_t n = mutate_all((const uint8_t *)&f.init, sizeof(f.init), init_mutant, &ci);
	assert_int_equal(n, 148 * 9);
	assert_int_equal(ci.rejected, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_flow),
		cmocka_unit_test(test_reply_needs_mac1),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_bitflips),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
