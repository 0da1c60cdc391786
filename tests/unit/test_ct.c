/* SPDX-License-Identifier: MIT */
/*
 * nat/conntrack: the table (pool, hash, timer wheel, early drop, clash),
 * UDP, ICMP, generic protocols, RELATED errors, conntrack -L lines, and a
 * seeded property loop.  TCP is in test_ct_tcp.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nat/ct.h"
#include "nat/sbuf.h"
#include "tests/unit/util_ctpkt.h"

#define SEC 1000000000ULL
#define MS 1000000ULL
/* An arbitrary monotonic start, far from zero. */
#define T0 (1000 * SEC + 123456789ULL)
#define T1 (T0 + 100000 * SEC)

static const uint32_t A = IP4(10, 8, 0, 2);
static const uint32_t B = IP4(203, 0, 113, 5);
static const uint32_t R = IP4(198, 51, 100, 1);  /* a router on the way */
static const uint32_t X = IP4(192, 0, 2, 77);    /* a third host */

static struct ct_table *mk(uint32_t max, uint32_t buckets)
{
	struct ct_config cfg;
	struct ct_table *t;

	ct_config_default(&cfg, max);
	cfg.buckets = buckets;
	cfg.hash_seed = 0x1234567;
	assert_int_equal(ct_create(&t, &cfg), 0);
	return t;
}

static uint32_t count(struct ct_table *t)
{
	struct ct_stats st;

	ct_get_stats(t, &st);
	return st.count;
}

static struct ct_stats stats(struct ct_table *t)
{
	struct ct_stats st;

	ct_get_stats(t, &st);
	return st;
}

/* The entry is removed by ct_expire between secs - 50 ms and secs + 50 ms
 * after at (its last refresh). */
static void check_lifetime(struct ct_table *t, const struct ct_tuple *tu,
			   uint64_t at, uint64_t secs)
{
	assert_int_equal(ct_expire(t, at + secs * SEC - 50 * MS, 1000), 0);
	assert_non_null(ct_lookup(t, tu, NULL));
	assert_int_equal(ct_expire(t, at + secs * SEC + 50 * MS, 1000), 1);
	assert_null(ct_lookup(t, tu, NULL));
}

static void test_entry_size(void **state)
{
	(void)state;
	assert_true(ct_entry_size() <= 192);
	assert_int_equal(ct_entry_size(), 192);
}

static void test_create_errors(void **state)
{
	struct ct_config cfg;
	struct ct_table *t = (struct ct_table *)1;

	(void)state;
	ct_config_default(&cfg, 0);
	assert_true(cfg.tcp_loose && cfg.checksum && !cfg.tcp_be_liberal);
	assert_int_equal(ct_create(&t, &cfg), -EINVAL);
	assert_null(t);
	ct_destroy(NULL);
}

static void test_untracked_and_fragments(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct nf_ctx ctx;
	struct tpkt p;

	(void)state;
	tp_udp(&p, A, B, 1000, 53, 16);
	memset(&ctx, 0, sizeof(ctx));
	ctx.pkt = &p.p;
	ctx.now = T0;
	ctx.notrack = true;
	ct_in(t, &ctx, true);
	assert_int_equal(ctx.ctstate, CT_UNTRACKED);
	assert_null(ctx.ct);
	assert_int_equal(count(t), 0);

	/* a first fragment (MF) and a later one: both INVALID */
	tp_set_frag(&p, 0x2000);
	assert_int_equal(tp_ct(t, &p, T0, NULL, NULL), CT_INVALID);
	tp_udp(&p, A, B, 1000, 53, 16);
	tp_set_frag(&p, 0x0004);
	assert_int_equal(tp_ct(t, &p, T0, NULL, NULL), CT_INVALID);
	assert_int_equal(stats(t).invalid, 2);
	assert_int_equal(count(t), 0);
	ct_destroy(t);
}

static void test_udp_states_and_stream(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct ct_entry *e, *e2;
	enum ct_dir dir;
	struct tpkt q, r;

	(void)state;
	tp_udp(&q, A, B, 40000, 53, 20);
	tp_udp(&r, B, A, 53, 40000, 40);
	assert_int_equal(tp_ct(t, &q, T0, &e, &dir), CT_NEW);
	assert_int_equal(dir, CT_DIR_ORIGINAL);
	assert_int_equal(ct_entry_status(e) & (CT_S_SEEN_REPLY | CT_S_ASSURED), 0);
	assert_int_equal(ct_entry_timeout(e, T0 + MS), 29);
	/* a second datagram before any reply: still NEW, same entry */
	assert_int_equal(tp_ct(t, &q, T0 + 100 * MS, &e2, NULL), CT_NEW);
	assert_ptr_equal(e, e2);
	/* the reply */
	assert_int_equal(tp_ct(t, &r, T0 + 200 * MS, &e2, &dir), CT_ESTABLISHED);
	assert_ptr_equal(e, e2);
	assert_int_equal(dir, CT_DIR_REPLY);
	assert_true(ct_entry_status(e) & CT_S_SEEN_REPLY);
	/* within 2 s: no stream, 30 s, not assured (kernel: "udp 17 29") */
	assert_int_equal(tp_ct(t, &q, T0 + 1 * SEC, NULL, NULL), CT_ESTABLISHED);
	assert_false(ct_entry_status(e) & CT_S_ASSURED);
	assert_int_equal(ct_entry_timeout(e, T0 + 1 * SEC + MS), 29);
	check_lifetime(t, ct_entry_tuple(e, CT_DIR_ORIGINAL), T0 + 1 * SEC, 30);

	/* again, now with a packet after 2 s: 120 s and ASSURED */
	assert_int_equal(tp_ct(t, &q, T0, &e, NULL), CT_NEW);
	assert_int_equal(tp_ct(t, &r, T0 + 10 * MS, NULL, NULL), CT_ESTABLISHED);
	assert_int_equal(tp_ct(t, &r, T0 + 2 * SEC - MS, NULL, NULL), CT_ESTABLISHED);
	assert_false(ct_entry_status(e) & CT_S_ASSURED);
	assert_int_equal(tp_ct(t, &q, T0 + 2 * SEC + 100 * MS, NULL, NULL), CT_ESTABLISHED);
	assert_true(ct_entry_status(e) & CT_S_ASSURED);
	assert_int_equal(ct_entry_timeout(e, T0 + 2 * SEC + 101 * MS), 119);
	check_lifetime(t, ct_entry_tuple(e, CT_DIR_ORIGINAL), T0 + 2 * SEC + 100 * MS, 120);
	ct_destroy(t);
}

static void test_udp_checksums(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct nf_ctx ctx;
	struct tpkt q;

	(void)state;
	tp_udp(&q, A, B, 40000, 53, 21);
	tp_corrupt(&q);
	assert_int_equal(tp_ct(t, &q, T0, NULL, NULL), CT_INVALID);
	/* not checked: OUTPUT, or the checksum option off */
	memset(&ctx, 0, sizeof(ctx));
	ctx.pkt = &q.p;
	ctx.now = T0;
	ct_in(t, &ctx, false);
	assert_int_equal(ctx.ctstate, CT_NEW);
	ct_abort(t, ctx.ct);
	assert_int_equal(count(t), 0);
	/* checksum 0: none, fine */
	tp_udp_nocsum(&q);
	assert_int_equal(tp_ct(t, &q, T0, NULL, NULL), CT_NEW);
	ct_destroy(t);

	{
		struct ct_config cfg;

		ct_config_default(&cfg, 16);
		cfg.checksum = false;
		assert_int_equal(ct_create(&t, &cfg), 0);
		tp_udp(&q, A, B, 40000, 53, 21);
		tp_corrupt(&q);
		assert_int_equal(tp_ct(t, &q, T0, NULL, NULL), CT_NEW);
		ct_destroy(t);
	}
}

static void test_icmp(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct ct_entry *e, *e2;
	enum ct_dir dir;
	struct tpkt p;

	(void)state;
	/* an echo reply with no entry */
	tp_icmp(&p, B, A, 0, 0, 77);
	assert_int_equal(tp_ct(t, &p, T0, NULL, NULL), CT_INVALID);
	assert_int_equal(count(t), 0);
	/* not a query (router advertisement), and unknown types */
	tp_icmp(&p, B, A, 9, 0, 0);
	assert_int_equal(tp_ct(t, &p, T0, NULL, NULL), CT_INVALID);
	tp_icmp(&p, B, A, 19, 0, 0);
	assert_int_equal(tp_ct(t, &p, T0, NULL, NULL), CT_INVALID);
	tp_icmp(&p, B, A, 40, 0, 0);
	assert_int_equal(tp_ct(t, &p, T0, NULL, NULL), CT_INVALID);
	assert_int_equal(count(t), 0);

	tp_icmp(&p, A, B, 8, 0, 4660);
	assert_int_equal(tp_ct(t, &p, T0, &e, &dir), CT_NEW);
	assert_int_equal(ct_entry_tuple(e, CT_DIR_REPLY)->dport, 0 << 8);
	assert_int_equal(ct_entry_tuple(e, CT_DIR_REPLY)->sport, 4660);
	tp_icmp(&p, B, A, 0, 0, 4660);
	assert_int_equal(tp_ct(t, &p, T0 + MS, &e2, &dir), CT_ESTABLISHED);
	assert_ptr_equal(e, e2);
	assert_int_equal(dir, CT_DIR_REPLY);
	/* a reply with another id does not match */
	tp_icmp(&p, B, A, 0, 0, 4661);
	assert_int_equal(tp_ct(t, &p, T0 + MS, NULL, NULL), CT_INVALID);
	check_lifetime(t, ct_entry_tuple(e, CT_DIR_ORIGINAL), T0 + MS, 30);

	/* timestamp, info, address mask requests make entries */
	for (uint8_t type = 13; type <= 17; type += 2) {
		tp_icmp(&p, A, B, type, 0, 9);
		assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_NEW);
		assert_int_equal(ct_entry_tuple(e, CT_DIR_REPLY)->dport >> 8, type + 1);
		tp_icmp(&p, B, A, (uint8_t)(type + 1), 0, 9);
		assert_int_equal(tp_ct(t, &p, T0, NULL, NULL), CT_ESTABLISHED);
	}
	/* bad checksum */
	tp_icmp(&p, A, B, 8, 0, 1);
	tp_corrupt(&p);
	assert_int_equal(tp_ct(t, &p, T0, NULL, NULL), CT_INVALID);
	ct_destroy(t);
}

static void test_generic_and_gre(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct ct_entry *e;
	struct tpkt p, r;

	(void)state;
	tp_raw(&p, A, B, 253, 8);
	assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_NEW);
	tp_raw(&r, B, A, 253, 8);
	assert_int_equal(tp_ct(t, &r, T0, NULL, NULL), CT_ESTABLISHED);
	assert_false(ct_entry_status(e) & CT_S_ASSURED);
	check_lifetime(t, ct_entry_tuple(e, CT_DIR_ORIGINAL), T0, 600);

	tp_raw(&p, A, B, 47, 12);
	tp_raw(&r, B, A, 47, 12);
	assert_int_equal(tp_ct(t, &p, T1, &e, NULL), CT_NEW);
	assert_int_equal(ct_entry_timeout(e, T1 + MS), 29);
	assert_int_equal(tp_ct(t, &r, T1, NULL, NULL), CT_ESTABLISHED);
	assert_int_equal(tp_ct(t, &p, T1 + SEC, NULL, NULL), CT_ESTABLISHED);
	assert_true(ct_entry_status(e) & CT_S_ASSURED);
	check_lifetime(t, ct_entry_tuple(e, CT_DIR_ORIGINAL), T1 + SEC, 180);
	ct_destroy(t);
}

static void test_related(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct ct_entry *e, *e2;
	enum ct_dir dir;
	struct tpkt q, r, err;

	(void)state;
	tp_udp(&q, A, B, 40000, 53, 20);
	assert_int_equal(tp_ct(t, &q, T0, &e, NULL), CT_NEW);
	/* port unreachable from B: RELATED, reply direction */
	tp_icmp_err(&err, B, A, 3, 3, &q, 28);
	assert_int_equal(tp_ct(t, &err, T0, &e2, &dir), CT_RELATED);
	assert_ptr_equal(e, e2);
	assert_int_equal(dir, CT_DIR_REPLY);
	/* not a reply: the next datagram is still NEW */
	assert_false(ct_entry_status(e) & CT_S_SEEN_REPLY);
	assert_int_equal(tp_ct(t, &q, T0, NULL, NULL), CT_NEW);
	/* time exceeded from a router on the way, the whole packet quoted */
	tp_icmp_err(&err, R, A, 11, 0, &q, q.len);
	assert_int_equal(tp_ct(t, &err, T0, &e2, NULL), CT_RELATED);
	/* the same error sent to a third host is not related */
	tp_icmp_err(&err, R, X, 11, 0, &q, 28);
	assert_int_equal(tp_ct(t, &err, T0, NULL, NULL), CT_INVALID);
	/* an error about the reply direction, going to B */
	tp_udp(&r, B, A, 53, 40000, 20);
	tp_icmp_err(&err, A, B, 3, 3, &r, 28);
	assert_int_equal(tp_ct(t, &err, T0, &e2, &dir), CT_RELATED);
	assert_int_equal(dir, CT_DIR_ORIGINAL);
	/* ... and to the wrong host */
	tp_icmp_err(&err, A, X, 3, 3, &r, 28);
	assert_int_equal(tp_ct(t, &err, T0, NULL, NULL), CT_INVALID);
	/* about no connection */
	tp_udp(&r, A, B, 40001, 53, 20);
	tp_icmp_err(&err, B, A, 3, 3, &r, 28);
	assert_int_equal(tp_ct(t, &err, T0, NULL, NULL), CT_INVALID);
	/* errors about ICMP echo */
	tp_icmp(&q, A, B, 8, 0, 99);
	assert_int_equal(tp_ct(t, &q, T0, &e, NULL), CT_NEW);
	tp_icmp_err(&err, R, A, 11, 0, &q, 28);
	assert_int_equal(tp_ct(t, &err, T0, &e2, &dir), CT_RELATED);
	assert_ptr_equal(e, e2);
	assert_int_equal(dir, CT_DIR_REPLY);
	/* a bad checksum on the error */
	tp_icmp_err(&err, R, A, 11, 0, &q, 28);
	tp_corrupt(&err);
	assert_int_equal(tp_ct(t, &err, T0, NULL, NULL), CT_INVALID);
	/* the entries of errors never change: still one per flow */
	assert_int_equal(count(t), 2);
	ct_destroy(t);
}

/* Fill a one-bucket table: early drop frees the non-assured entries. */
/* PeerConntrackMax: an owner at its limit gets no new entry (-EDQUOT,
 * counted); another owner and ownerless packets are not affected; an
 * entry that goes gives its owner room again. */
static void test_owner_limit(void **state)
{
	struct ct_config cfg;
	struct ct_table *t;
	struct ct_entry *first = NULL;
	struct ct_stats st;
	struct tpkt q;

	(void)state;
	ct_config_default(&cfg, 64);
	cfg.owners = 2;
	cfg.owner_max = 3;
	assert_int_equal(ct_create(&t, &cfg), 0);
	for (uint16_t i = 0; i < 4; i++) {
		struct nf_ctx ctx = { .now = T0, .hook = NF_PREROUTING };

		tp_udp(&q, A, B, (uint16_t)(1000 + i), 53, 4);
		q.p.owner = 1;
		ctx.pkt = &q.p;
		if (i < 3) {
			assert_int_equal(ct_in(t, &ctx, true), 0);
			assert_int_equal(ctx.ctstate, CT_NEW);
			assert_int_equal(ct_confirm(t, ctx.ct, T0), 0);
			if (!i)
				first = ctx.ct;
		} else {
			assert_int_equal(ct_in(t, &ctx, true), -EDQUOT);
			assert_null(ctx.ct);
		}
	}
	/* a known flow of the owner still passes */
	{
		struct nf_ctx ctx = { .now = T0, .hook = NF_PREROUTING };

		tp_udp(&q, A, B, 1000, 53, 4);
		q.p.owner = 1;
		ctx.pkt = &q.p;
		assert_int_equal(ct_in(t, &ctx, true), 0);
		assert_ptr_equal(ctx.ct, first);
	}
	for (uint16_t owner = 0; owner <= 2; owner += 2) {
		struct nf_ctx ctx = { .now = T0, .hook = NF_PREROUTING };

		tp_udp(&q, A, B, (uint16_t)(2000 + owner), 53, 4);
		q.p.owner = owner;
		ctx.pkt = &q.p;
		assert_int_equal(ct_in(t, &ctx, true), 0);
		assert_int_equal(ct_confirm(t, ctx.ct, T0), 0);
	}
	ct_get_stats(t, &st);
	assert_int_equal(st.owner_limit, 1);
	assert_int_equal(st.count, 5);
	/* per owner: owner 1 has 3 entries and one refusal, owner 2 one
	 * entry, ids out of range read zero */
	{
		struct ct_owner_stats os;

		ct_get_owner_stats(t, 1, &os);
		assert_int_equal(os.count, 3);
		assert_int_equal(os.limit, 1);
		ct_get_owner_stats(t, 2, &os);
		assert_int_equal(os.count, 1);
		assert_int_equal(os.limit, 0);
		ct_get_owner_stats(t, 0, &os);
		assert_int_equal(os.count + os.limit, 0);
		ct_get_owner_stats(t, 3, &os);
		assert_int_equal(os.count + os.limit, 0);
	}
	ct_remove(t, first);
	{
		struct nf_ctx ctx = { .now = T0, .hook = NF_PREROUTING };

		tp_udp(&q, A, B, 1003, 53, 4);
		q.p.owner = 1;
		ctx.pkt = &q.p;
		assert_int_equal(ct_in(t, &ctx, true), 0);
		assert_int_equal(ctx.ctstate, CT_NEW);
		assert_int_equal(ct_confirm(t, ctx.ct, T0), 0);
		assert_int_equal(ct_entry_owner(ctx.ct), 1);
	}
	/* the owner goes (a peer removed): its entries only, and its count */
	assert_int_equal(ct_flush_owner(t, 0), 0);
	assert_int_equal(ct_flush_owner(t, 1), 3);
	ct_get_stats(t, &st);
	assert_int_equal(st.count, 2);
	assert_int_equal(ct_flush_owner(t, 1), 0);
	for (uint16_t i = 0; i < 3; i++) {
		struct nf_ctx ctx = { .now = T0, .hook = NF_PREROUTING };

		tp_udp(&q, A, B, (uint16_t)(3000 + i), 53, 4);
		q.p.owner = 1;
		ctx.pkt = &q.p;
		assert_int_equal(ct_in(t, &ctx, true), 0);
		assert_int_equal(ct_confirm(t, ctx.ct, T0), 0);
	}
	ct_destroy(t);
}

static void test_early_drop(void **state)
{
	struct ct_table *t = mk(8, 1);
	struct ct_entry *e;
	struct tpkt q, r;
	struct ct_stats st;

	(void)state;
	for (uint16_t i = 0; i < 8; i++) {
		tp_udp(&q, A, B, (uint16_t)(1000 + i), 53, 4);
		assert_int_equal(tp_ct(t, &q, T0, NULL, NULL), CT_NEW);
		if (i < 4) {  /* assured: reply, then a packet after 2 s */
			tp_udp(&r, B, A, 53, (uint16_t)(1000 + i), 4);
			assert_int_equal(tp_ct(t, &r, T0, NULL, NULL), CT_ESTABLISHED);
			assert_int_equal(tp_ct(t, &q, T0 + 3 * SEC, &e, NULL), CT_ESTABLISHED);
			assert_true(ct_entry_status(e) & CT_S_ASSURED);
		}
	}
	assert_int_equal(count(t), 8);
	tp_udp(&q, A, B, 2000, 53, 4);
	assert_int_equal(tp_ct(t, &q, T0 + 3 * SEC, &e, NULL), CT_NEW);
	assert_non_null(e);
	st = stats(t);
	assert_int_equal(st.early_drop, 4);
	assert_int_equal(st.count, 5);
	assert_int_equal(st.drop, 0);
	for (uint16_t i = 0; i < 8; i++) {
		struct ct_tuple tu = ct_tuple4(A, B, (uint16_t)(1000 + i), 53, 17);

		assert_true((ct_lookup(t, &tu, NULL) != NULL) == (i < 4));
	}
	ct_destroy(t);
}

static void test_refuse_when_all_assured(void **state)
{
	struct ct_table *t = mk(4, 0);
	struct ct_entry *e;
	struct tpkt q, r;
	struct ct_stats st;

	(void)state;
	for (uint16_t i = 0; i < 4; i++) {
		tp_udp(&q, A, B, (uint16_t)(1000 + i), 53, 4);
		tp_udp(&r, B, A, 53, (uint16_t)(1000 + i), 4);
		assert_int_equal(tp_ct(t, &q, T0, NULL, NULL), CT_NEW);
		assert_int_equal(tp_ct(t, &r, T0, NULL, NULL), CT_ESTABLISHED);
		assert_int_equal(tp_ct(t, &q, T0 + 3 * SEC, NULL, NULL), CT_ESTABLISHED);
	}
	tp_udp(&q, A, B, 2000, 53, 4);
	{
		/* refused: INVALID, no entry, and ct_in says the packet must go */
		struct nf_ctx ctx = { .pkt = &q.p, .now = T0 + 3 * SEC };

		assert_int_equal(ct_in(t, &ctx, true), -ENOSPC);
		assert_int_equal(ctx.ctstate, CT_INVALID);
		assert_null(ctx.ct);
	}
	st = stats(t);
	assert_int_equal(st.drop, 1);
	assert_int_equal(st.early_drop, 0);
	assert_int_equal(st.invalid, 0);
	assert_int_equal(st.count, 4);
	/* an expired entry makes room even before ct_expire runs */
	assert_int_equal(tp_ct(t, &q, T0 + 200 * SEC, &e, NULL), CT_NEW);
	assert_non_null(e);
	ct_destroy(t);
}

static struct ct_entry *in_unconfirmed(struct ct_table *t, struct tpkt *p, uint64_t now)
{
	struct nf_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.pkt = &p->p;
	ctx.now = now;
	ct_in(t, &ctx, true);
	assert_int_equal(ctx.ctstate, CT_NEW);
	return ctx.ct;
}

static void test_confirm_clash_and_abort(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct ct_entry *e1, *e2, *e3;
	struct ct_tuple tu;
	struct tpkt q, q2;

	(void)state;
	tp_udp(&q, A, B, 40000, 53, 8);
	e1 = in_unconfirmed(t, &q, T0);
	e2 = in_unconfirmed(t, &q, T0);  /* not in the hash yet: another one */
	assert_ptr_not_equal(e1, e2);
	assert_int_equal(count(t), 2);
	assert_int_equal(ct_confirm(t, e1, T0), 0);
	assert_int_equal(ct_confirm(t, e1, T0), 0);  /* again: nothing */
	assert_int_equal(ct_confirm(t, e2, T0), -EEXIST);
	assert_int_equal(stats(t).insert_failed, 1);
	assert_int_equal(count(t), 1);

	/* NAT gives a second flow the reply tuple of the first */
	tp_udp(&q2, X, B, 40000, 53, 8);
	e3 = in_unconfirmed(t, &q2, T0);
	assert_false(ct_tuple_taken(t, ct_entry_tuple(e3, CT_DIR_REPLY), e3));
	assert_true(ct_tuple_taken(t, ct_entry_tuple(e1, CT_DIR_REPLY), e3));
	ct_entry_set_reply(e3, ct_entry_tuple(e1, CT_DIR_REPLY));
	assert_int_equal(ct_confirm(t, e3, T0), -EEXIST);

	/* abort frees an unconfirmed entry, ignores a confirmed one */
	e3 = in_unconfirmed(t, &q2, T0);
	ct_abort(t, e3);
	assert_int_equal(count(t), 1);
	ct_abort(t, e1);
	ct_abort(t, NULL);
	assert_int_equal(count(t), 1);

	/* a NAT-ed reply tuple is found in the reply direction */
	e3 = in_unconfirmed(t, &q2, T0);
	tu = ct_tuple4(B, IP4(192, 0, 2, 1), 53, 61000, 17);
	ct_entry_set_reply(e3, &tu);
	ct_entry_set_status(e3, CT_S_SRC_NAT | CT_S_CONFIRMED);
	assert_false(ct_entry_status(e3) & CT_S_CONFIRMED);
	assert_int_equal(ct_confirm(t, e3, T0), 0);
	{
		enum ct_dir dir;
		struct tpkt r;
		struct ct_entry *e;

		assert_ptr_equal(ct_lookup(t, &tu, &dir), e3);
		assert_int_equal(dir, CT_DIR_REPLY);
		tp_udp(&r, B, IP4(192, 0, 2, 1), 53, 61000, 8);
		assert_int_equal(tp_ct(t, &r, T0, &e, &dir), CT_ESTABLISHED);
		assert_ptr_equal(e, e3);
		assert_true(ct_entry_status(e3) & CT_S_SRC_NAT);
		/* the tuples of a confirmed entry no longer change */
		ct_entry_set_reply(e3, ct_entry_tuple(e1, CT_DIR_REPLY));
		assert_int_equal(ct_entry_tuple(e3, CT_DIR_REPLY)->dport, 61000);
	}
	ct_destroy(t);
}

/* nf_conntrack_tuple_taken semantics. */
static void test_tuple_taken(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct ct_entry *e1, *e2;
	struct ct_tuple orig, reply, other = ct_tuple4(X, B, 1, 2, 17);
	struct tpkt q;

	(void)state;
	tp_udp(&q, A, B, 40000, 53, 8);
	/* two packets of one flow pass ct_in before the first is confirmed */
	e1 = in_unconfirmed(t, &q, T0);
	e2 = in_unconfirmed(t, &q, T0);
	assert_int_equal(ct_confirm(t, e1, T0), 0);
	orig = *ct_entry_tuple(e1, CT_DIR_ORIGINAL);
	reply = *ct_entry_tuple(e1, CT_DIR_REPLY);
	assert_true(ct_tuple_taken(t, &reply, NULL));
	assert_true(ct_tuple_taken(t, &orig, NULL));  /* either direction */
	assert_false(ct_tuple_taken(t, &other, NULL));
	assert_false(ct_tuple_taken(t, &reply, e1));
	/* the same flow (same original tuple): not taken, confirm decides */
	assert_false(ct_tuple_taken(t, &reply, e2));
	assert_int_equal(ct_confirm(t, e2, T0), -EEXIST);
	/* garbage in the padding does not matter */
	{
		struct ct_tuple g;

		memset(&g, 0xa5, sizeof(g));
		g.src = reply.src;
		g.dst = reply.dst;
		g.sport = reply.sport;
		g.dport = reply.dport;
		g.proto = reply.proto;
		g.family = reply.family;
		assert_true(ct_tuple_taken(t, &g, NULL));
		assert_ptr_equal(ct_lookup(t, &g, NULL), e1);
	}
	ct_destroy(t);
}

static int count_fn(struct ct_entry *e, void *arg)
{
	(void)e;
	(*(unsigned *)arg)++;
	return 0;
}

static int remove_fn(struct ct_entry *e, void *arg)
{
	ct_remove(arg, e);
	return 0;
}

static int stop_fn(struct ct_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	return 7;
}

static void test_flush_remove_foreach(void **state)
{
	struct ct_table *t = mk(64, 0);
	struct ct_entry *e, *unconfirmed;
	struct tpkt q;
	unsigned n = 0;

	(void)state;
	for (uint16_t i = 0; i < 10; i++) {
		tp_udp(&q, A, B, (uint16_t)(1000 + i), 53, 4);
		assert_int_equal(tp_ct(t, &q, T0, &e, NULL), CT_NEW);
	}
	tp_udp(&q, A, B, 5000, 53, 4);
	unconfirmed = in_unconfirmed(t, &q, T0);
	assert_int_equal(ct_foreach(t, count_fn, &n), 0);
	assert_int_equal(n, 10);  /* confirmed only */
	assert_int_equal(ct_foreach(t, stop_fn, NULL), 7);
	ct_remove(t, e);
	assert_null(ct_lookup(t, ct_entry_tuple(e, CT_DIR_ORIGINAL), NULL));
	assert_int_equal(count(t), 10);
	ct_flush(t);
	assert_int_equal(count(t), 1);  /* the packet in flight keeps its entry */
	ct_abort(t, unconfirmed);
	assert_int_equal(count(t), 0);
	assert_int_equal(ct_next_deadline(t), UINT64_MAX);
	/* foreach may remove */
	for (uint16_t i = 0; i < 10; i++) {
		tp_udp(&q, A, B, (uint16_t)(1000 + i), 53, 4);
		assert_int_equal(tp_ct(t, &q, T0, NULL, NULL), CT_NEW);
	}
	assert_int_equal(ct_foreach(t, remove_fn, t), 0);
	assert_int_equal(count(t), 0);
	ct_destroy(t);
}

static void test_deadline(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct ct_entry *e;
	struct tpkt q;
	uint64_t d, removed_at = 0;
	unsigned rounds = 0;

	(void)state;
	assert_int_equal(ct_next_deadline(t), UINT64_MAX);
	tp_udp(&q, A, B, 40000, 53, 4);
	assert_int_equal(tp_ct(t, &q, T0, &e, NULL), CT_NEW);
	/* follow the deadlines like gw's timer would */
	while ((d = ct_next_deadline(t)) != UINT64_MAX) {
		assert_true(d > T0);
		assert_true(d <= T0 + 30 * SEC + 40 * MS);
		if (ct_expire(t, d, 100))
			removed_at = d;
		assert_true(++rounds <= 8);
	}
	assert_true(removed_at >= T0 + 30 * SEC);
	assert_int_equal(count(t), 0);

	/* a refresh to a shorter timeout moves the entry earlier: TCP
	 * ESTABLISHED (5 days) then RST (10 s) is covered in test_ct_tcp.c;
	 * here: a long sleep of the caller, then one call catches up */
	tp_udp(&q, A, B, 40001, 53, 4);
	assert_int_equal(tp_ct(t, &q, T0 + 3600 * SEC, NULL, NULL), CT_NEW);
	assert_int_equal(ct_expire(t, T0 + 86400 * SEC, 100), 1);
	ct_destroy(t);
}

static void test_expire_budget(void **state)
{
	struct ct_table *t = mk(64, 0);
	struct tpkt q;

	(void)state;
	for (uint16_t i = 0; i < 50; i++) {
		tp_udp(&q, A, B, (uint16_t)(1000 + i), 53, 4);
		assert_int_equal(tp_ct(t, &q, T0 + i * MS, NULL, NULL), CT_NEW);
	}
	assert_int_equal(ct_expire(t, T0 + 40 * SEC, 20), 20);
	assert_int_equal(ct_expire(t, T0 + 40 * SEC, 0), 0);
	assert_int_equal(ct_expire(t, T0 + 40 * SEC, 100), 30);
	assert_int_equal(stats(t).expired, 50);
	assert_int_equal(count(t), 0);
	ct_destroy(t);
}

static char *fmt(struct ct_entry *e, uint64_t now, struct sbuf *sb)
{
	sbuf_reset(sb);
	ct_format(e, now, sb);
	return sb->buf;
}

static void check_acct(struct ct_table *t, struct ct_entry *e, enum ct_dir dir,
		       uint64_t packets, uint64_t bytes)
{
	struct ct_acct a = ct_entry_acct(t, e, dir);

	assert_int_equal(a.packets, packets);
	assert_int_equal(a.bytes, bytes);
}

/* nf_conntrack_acct: what the kernel counted in the same exchange
 * (conntrack.c's top comment): whole IP packets per direction, the first
 * one too; a RELATED ICMP error and INVALID packets are not counted; a
 * reused pool slot starts from zero. */
static void test_acct(void **state)
{
	struct ct_table *t = mk(1, 0);
	struct ct_entry *e, *e2;
	struct tpkt q, r, err, bad;
	struct sbuf sb;

	(void)state;
	sbuf_init(&sb);
	tp_udp(&q, A, B, 40000, 5000, 100);
	tp_udp(&r, B, A, 5000, 40000, 200);
	assert_int_equal(tp_ct(t, &q, T0, &e, NULL), CT_NEW);
	check_acct(t, e, CT_DIR_ORIGINAL, 1, 128);
	check_acct(t, e, CT_DIR_REPLY, 0, 0);
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(tp_ct(t, &r, T0 + (uint64_t)i * MS, &e2, NULL), CT_ESTABLISHED);
		assert_int_equal(tp_ct(t, &q, T0 + (uint64_t)i * MS, &e2, NULL), CT_ESTABLISHED);
		assert_ptr_equal(e, e2);
	}
	assert_int_equal(tp_ct(t, &r, T0 + 3 * MS, NULL, NULL), CT_ESTABLISHED);
	check_acct(t, e, CT_DIR_ORIGINAL, 3, 384);
	check_acct(t, e, CT_DIR_REPLY, 3, 684);
	/* RELATED (a port unreachable about the datagram) and INVALID (a bad
	 * checksum) leave the counters alone */
	tp_icmp_err(&err, B, A, 3, 3, &q, 28);
	assert_int_equal(tp_ct(t, &err, T0 + 4 * MS, NULL, NULL), CT_RELATED);
	bad = r;
	tp_corrupt(&bad);
	assert_int_equal(tp_ct(t, &bad, T0 + 4 * MS, NULL, NULL), CT_INVALID);
	check_acct(t, e, CT_DIR_ORIGINAL, 3, 384);
	check_acct(t, e, CT_DIR_REPLY, 3, 684);
	/* -o extended's line: counters after each tuple */
	sbuf_reset(&sb);
	ct_format_ext(t, e, T0 + 10 * MS, CT_FMT_L3 | CT_FMT_ACCT, &sb);
	assert_string_equal(sb.buf,
		"ipv4     2 udp      17 29 src=10.8.0.2 dst=203.0.113.5 sport=40000 dport=5000 "
		"packets=3 bytes=384 src=203.0.113.5 dst=10.8.0.2 sport=5000 dport=40000 "
		"packets=3 bytes=684 mark=0 use=1");
	/* the table's one slot again, for an unreplied ICMP echo */
	ct_flush(t);
	ct_expire(t, T0 + 20 * MS, 10);
	tp_icmp(&q, A, B, 8, 0, 7);
	assert_int_equal(tp_ct(t, &q, T0 + 30 * MS, &e, NULL), CT_NEW);
	check_acct(t, e, CT_DIR_ORIGINAL, 1, 36);
	check_acct(t, e, CT_DIR_REPLY, 0, 0);
	sbuf_reset(&sb);
	ct_format_ext(t, e, T0 + 40 * MS, CT_FMT_ACCT, &sb);
	assert_string_equal(sb.buf,
		"icmp     1 29 src=10.8.0.2 dst=203.0.113.5 type=8 code=0 id=7 packets=1 bytes=36 "
		"[UNREPLIED] src=203.0.113.5 dst=10.8.0.2 type=0 code=0 id=7 packets=0 bytes=0 "
		"mark=0 use=1");
	sbuf_free(&sb);
	ct_destroy(t);
}

/* Lines as conntrack -L (conntrack-tools 1.4.7) prints them on Linux 6.18. */
static void test_format(void **state)
{
	struct ct_table *t = mk(16, 0);
	struct ct_entry *e;
	struct tpkt p;
	struct sbuf sb;

	(void)state;
	sbuf_init(&sb);
	tp_udp(&p, IP4(192, 0, 2, 1), IP4(198, 51, 100, 2), 40002, 7999, 3);
	assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_NEW);
	assert_string_equal(fmt(e, T0 + 10 * MS, &sb),
		"udp      17 29 src=192.0.2.1 dst=198.51.100.2 sport=40002 dport=7999 "
		"[UNREPLIED] src=198.51.100.2 dst=192.0.2.1 sport=7999 dport=40002 mark=0 use=1");
	ct_entry_set_mark(e, 42);
	assert_int_equal(ct_entry_mark(e), 42);
	assert_int_equal(ct_entry_tcp_state(e), CT_TCP_NONE);
	tp_udp(&p, IP4(198, 51, 100, 2), IP4(192, 0, 2, 1), 7999, 40002, 3);
	assert_int_equal(tp_ct(t, &p, T0 + 10 * MS, NULL, NULL), CT_ESTABLISHED);
	tp_udp(&p, IP4(192, 0, 2, 1), IP4(198, 51, 100, 2), 40002, 7999, 3);
	assert_int_equal(tp_ct(t, &p, T0 + 3 * SEC, NULL, NULL), CT_ESTABLISHED);
	assert_string_equal(fmt(e, T0 + 3 * SEC + 10 * MS, &sb),
		"udp      17 119 src=192.0.2.1 dst=198.51.100.2 sport=40002 dport=7999 "
		"src=198.51.100.2 dst=192.0.2.1 sport=7999 dport=40002 [ASSURED] mark=42 use=1");

	tp_icmp(&p, IP4(192, 0, 2, 1), IP4(198, 51, 100, 2), 8, 0, 4660);
	assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_NEW);
	assert_string_equal(fmt(e, T0 + 10 * MS, &sb),
		"icmp     1 29 src=192.0.2.1 dst=198.51.100.2 type=8 code=0 id=4660 "
		"[UNREPLIED] src=198.51.100.2 dst=192.0.2.1 type=0 code=0 id=4660 mark=0 use=1");

	tp_raw(&p, IP4(192, 0, 2, 1), IP4(198, 51, 100, 2), 253, 8);
	assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_NEW);
	assert_string_equal(fmt(e, T0 + 10 * MS, &sb),
		"unknown  253 599 src=192.0.2.1 dst=198.51.100.2 [UNREPLIED] "
		"src=198.51.100.2 dst=192.0.2.1 mark=0 use=1");
	tp_raw(&p, IP4(192, 0, 2, 1), IP4(198, 51, 100, 2), 47, 12);
	assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_NEW);
	assert_string_equal(fmt(e, T0 + 10 * MS, &sb),
		"gre      47 29 src=192.0.2.1 dst=198.51.100.2 srckey=0x0 dstkey=0x0 "
		"[UNREPLIED] src=198.51.100.2 dst=192.0.2.1 srckey=0x0 dstkey=0x0 mark=0 use=1");
	tp_raw(&p, IP4(192, 0, 2, 1), IP4(198, 51, 100, 2), 33, 16);
	assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_NEW);
	assert_string_equal(fmt(e, T0 + 10 * MS, &sb),
		"dccp     33 599 src=192.0.2.1 dst=198.51.100.2 sport=0 dport=0 "
		"[UNREPLIED] src=198.51.100.2 dst=192.0.2.1 sport=0 dport=0 mark=0 use=1");
	/* an expired entry shows 0 */
	assert_int_equal(ct_entry_timeout(e, T0 + 700 * SEC), 0);
	sbuf_free(&sb);
	ct_destroy(t);
}

/*
 * Property: random flows come and go (new, refreshed, replied, removed,
 * expired); after every step each confirmed entry is found by both its
 * tuples in the right direction, the live flows of a shadow model are
 * exactly the table's, and the count matches.
 */
struct flow {
	struct ct_tuple tu;
	uint64_t last;     /* last packet (ns) */
	bool live, replied;
};

struct walk {
	struct ct_table *t;
	unsigned n;
	bool ok;
};

static int check_fn(struct ct_entry *e, void *arg)
{
	struct walk *w = arg;

	for (unsigned d = 0; d < 2; d++) {
		enum ct_dir dir;

		if (ct_lookup(w->t, ct_entry_tuple(e, (enum ct_dir)d), &dir) != e ||
		    dir != (enum ct_dir)d)
			w->ok = false;
	}
	w->n++;
	return 0;
}

static void test_property(void **state)
{
	enum { NFLOWS = 300, STEPS = 20000 };
	static struct flow fl[NFLOWS];
	unsigned seed = (unsigned)time(NULL);
	struct ct_table *t = mk(256, 0);
	uint64_t now = T0;
	char *env = getenv("CT_SEED");

	(void)state;
	if (env)
		seed = (unsigned)strtoul(env, NULL, 0);
	printf("test_property: CT_SEED=%u\n", seed);
	srand(seed);
	memset(fl, 0, sizeof(fl));
	for (unsigned i = 0; i < NFLOWS; i++)
		fl[i].tu = ct_tuple4(A + (i % 7), B, (uint16_t)(1000 + i), 53, 17);

	for (unsigned step = 0; step < STEPS; step++) {
		unsigned i = (unsigned)rand() % NFLOWS, op = (unsigned)rand() % 10;
		struct flow *f = &fl[i];
		struct tpkt q;
		struct walk w = { t, 0, true };
		unsigned live = 0;
		uint64_t drops = stats(t).early_drop;

		if (op < 6) {  /* a packet, either way */
			bool reply = f->live && op >= 4;
			struct ct_entry *e;

			if (reply)
				tp_udp(&q, f->tu.dst.ip, f->tu.src.ip, f->tu.dport, f->tu.sport, 4);
			else
				tp_udp(&q, f->tu.src.ip, f->tu.dst.ip, f->tu.sport, f->tu.dport, 4);
			if (tp_ct(t, &q, now, &e, NULL) != CT_INVALID) {
				if (!f->live)
					f->replied = false;
				f->live = true;
				f->last = now;
				f->replied |= reply;
			}
		} else if (op < 7 && f->live) {
			struct ct_entry *e = ct_lookup(t, &f->tu, NULL);

			assert_non_null(e);
			ct_remove(t, e);
			f->live = false;
		} else {
			now += (uint64_t)(rand() % 4000) * MS;
			ct_expire(t, now, 1u << 20);
		}
		for (unsigned j = 0; j < NFLOWS; j++) {
			struct flow *g = &fl[j];
			bool found = ct_lookup(t, &g->tu, NULL) != NULL;

			/* gone: early drop (table full), or its timeout (30 s,
			 * or 120 s for a replied stream) ran out */
			if (g->live && !found &&
			    (stats(t).early_drop != drops || now >= g->last + 30 * SEC))
				g->live = false;
			if (found != g->live)
				fail_msg("seed %u step %u flow %u: found %d live %d",
					 seed, step, j, found, g->live);
			if (found && now >= g->last + (g->replied ? 120 : 30) * SEC + 40 * MS)
				fail_msg("seed %u step %u flow %u: not expired", seed, step, j);
			live += g->live;
		}
		ct_foreach(t, check_fn, &w);
		if (!w.ok || w.n != live || count(t) != live)
			fail_msg("seed %u step %u: walk ok %d n %u live %u count %u",
				 seed, step, w.ok, w.n, live, count(t));
	}
	ct_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_size),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_untracked_and_fragments),
		cmocka_unit_test(test_udp_states_and_stream),
		cmocka_unit_test(test_udp_checksums),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_generic_and_gre),
		cmocka_unit_test(test_related),
		cmocka_unit_test(test_early_drop),
		cmocka_unit_test(test_refuse_when_all_assured),
		cmocka_unit_test(test_confirm_clash_and_abort),
		cmocka_unit_test(test_tuple_taken),
		cmocka_unit_test(test_flush_remove_foreach),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_expire_budget),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_acct),
		cmocka_unit_test(test_owner_limit),
		cmocka_unit_test(test_property),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
