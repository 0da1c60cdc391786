/* SPDX-License-Identifier: MIT */
/*
 * nat/ct_save: conntrack entries saved as records and loaded into another
 * table on another clock (KeepState): a source-NAT-ed TCP connection keeps
 * its reply tuple, state, window tracking, counters and the rest of its
 * timeout less the downtime; a UDP stream likewise; expired records, clashes,
 * a full table and records that cannot be one are refused; every byte of a
 * record mutated loads or is refused without harm (SAN).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nat/ct.h"
#include "nat/ct_save.h"
#include "nat/sbuf.h"
#include "tests/unit/util_ctpkt.h"

#define SEC 1000000000ULL
#define T0 (1000 * SEC + 123456789ULL)
/* the next process's clock: another start */
#define T1 (77 * SEC + 5)

static const uint32_t C = IP4(10, 8, 0, 2);
static const uint32_t S = IP4(203, 0, 113, 5);
static const uint32_t N = IP4(198, 51, 100, 1);  /* the NAT address */
enum { CPORT = 40000, SPORT = 443, NPORT = 61234 };

static struct ct_table *mk(uint32_t max, uint32_t seed)
{
	struct ct_config cfg;
	struct ct_table *t;

	ct_config_default(&cfg, max);
	cfg.hash_seed = seed;
	cfg.owners = 8;
	assert_int_equal(ct_create(&t, &cfg), 0);
	return t;
}

static enum ct_state tcp(struct ct_table *t, uint64_t now, bool client, uint8_t flags,
			 uint32_t seq, uint32_t ack, size_t len, struct ct_entry **e)
{
	struct tcp_spec s = {
		.src = client ? C : S, .dst = client ? S : N,
		.sport = client ? CPORT : SPORT, .dport = client ? SPORT : NPORT,
		.seq = seq, .ack = ack, .flags = flags, .win = 64000, .datalen = len,
	};
	struct tpkt p;

	tp_tcp(&p, &s);
	return tp_ct(t, &p, now, e, NULL);
}

/* A source-NAT-ed TCP connection C:CPORT -> S:SPORT seen as N:NPORT,
 * established, with some data each way. */
static struct ct_entry *nat_conn(struct ct_table *t, uint64_t now)
{
	struct tcp_spec s = { .src = C, .dst = S, .sport = CPORT, .dport = SPORT, .seq = 1000,
			      .flags = TCP_SYN, .win = 64000 };
	struct ct_tuple reply = ct_tuple4(S, N, SPORT, NPORT, 6);
	struct nf_ctx ctx;
	struct ct_entry *e;
	struct tpkt p;

	tp_tcp(&p, &s);
	memset(&ctx, 0, sizeof(ctx));
	ctx.pkt = &p.p;
	ctx.now = now;
	assert_int_equal(ct_in(t, &ctx, true), 0);
	assert_non_null(ctx.ct);
	ct_entry_set_reply(ctx.ct, &reply);
	ct_entry_set_status(ctx.ct, CT_S_SRC_NAT | CT_S_NAT_DONE_SRC);
	ct_entry_set_mark(ctx.ct, 0x42);
	assert_int_equal(ct_confirm(t, ctx.ct, now), 0);
	assert_int_equal(tcp(t, now, false, TCP_SYN | TCP_ACK, 5000, 1001, 0, &e), CT_ESTABLISHED);
	assert_int_equal(tcp(t, now, true, TCP_ACK, 1001, 5001, 0, &e), CT_ESTABLISHED);
	assert_int_equal(tcp(t, now, true, TCP_ACK | TCP_PSH, 1001, 5001, 1000, &e),
			 CT_ESTABLISHED);
	assert_int_equal(tcp(t, now, false, TCP_ACK, 5001, 2001, 0, &e), CT_ESTABLISHED);
	assert_int_equal(ct_entry_tcp_state(e), CT_TCP_ESTABLISHED);
	return e;
}

struct saved {
	uint8_t rec[8][CT_SAVE_LEN];
	unsigned n;
	uint64_t now;
	const struct ct_table *t;
};

static int save_one(struct ct_entry *e, void *arg)
{
	struct saved *s = arg;

	assert_true(s->n < 8);
	ct_entry_save(s->t, e, s->now, s->rec[s->n++]);
	return 0;
}

static void line(const struct ct_table *t, const struct ct_entry *e, uint64_t now, char *out,
		 size_t len)
{
	struct sbuf b;

	sbuf_init(&b);
	ct_format_ext(t, e, now, CT_FMT_ACCT, &b);
	snprintf(out, len, "%s", b.buf);
	sbuf_free(&b);
}

static void test_tcp_nat_carried_over(void **state)
{
	struct ct_table *t = mk(64, 1), *t2 = mk(64, 2);
	struct ct_tuple reply = ct_tuple4(S, N, SPORT, NPORT, 6);
	struct saved s = { .now = T0 + 10 * SEC, .t = t };
	struct ct_entry *e = nat_conn(t, T0), *e2;
	char before[512], after[512];
	enum ct_dir dir;

	(void)state;
	assert_int_equal(ct_foreach(t, save_one, &s), 0);
	assert_int_equal(s.n, 1);
	/* explicit little-endian fields */
	assert_int_equal(s.rec[0][0], NF_V4);
	assert_int_equal(s.rec[0][1], 6);
	assert_int_equal(s.rec[0][4], C & 0xff);
	assert_int_equal(s.rec[0][4 + 32], CPORT & 0xff);
	assert_int_equal(s.rec[0][4 + 33], CPORT >> 8);
	assert_int_equal(ct_saved_owner(s.rec[0]), 0);
	line(t, e, s.now, before, sizeof(before));

	/* 3 s later, on another clock and hash seed */
	assert_int_equal(ct_entry_load(t2, s.rec[0], T1, 3 * SEC, 5), 0);
	e2 = ct_lookup(t2, &reply, &dir);
	assert_non_null(e2);
	assert_int_equal(dir, CT_DIR_REPLY);
	assert_int_equal(ct_entry_owner(e2), 5);
	line(t2, e2, T1, after, sizeof(after));
	/* the same line but for the timeout, 3 s less (432000 - 10 - 3) */
	assert_non_null(strstr(before, " 431990 ESTABLISHED "));
	assert_non_null(strstr(after, " 431987 ESTABLISHED "));
	assert_string_equal(strstr(before, "ESTABLISHED"), strstr(after, "ESTABLISHED"));
	assert_true(ct_entry_status(e2) & CT_S_SRC_NAT);
	assert_int_equal(ct_entry_mark(e2), 0x42);
	/* the connection goes on in t2: the server's next segment is a reply,
	 * in window; one far out of the window is INVALID in both tables */
	assert_int_equal(tcp(t2, T1, false, TCP_ACK | TCP_PSH, 5001, 2001, 500, &e2),
			 CT_ESTABLISHED);
	assert_int_equal(tcp(t2, T1, false, TCP_ACK, 5001 + 2000000000u, 2001, 0, NULL),
			 CT_INVALID);
	assert_int_equal(tcp(t, T0, false, TCP_ACK, 5001 + 2000000000u, 2001, 0, NULL),
			 CT_INVALID);
	/* loaded twice: the tuples are taken */
	assert_int_equal(ct_entry_load(t2, s.rec[0], T1, 3 * SEC, 5), -EEXIST);
	ct_destroy(t2);
	/* left alone, it expires when its time is up: 431987 s after T1 */
	t2 = mk(64, 9);
	assert_int_equal(ct_entry_load(t2, s.rec[0], T1, 3 * SEC, 0), 0);
	ct_expire(t2, T1 + 431986 * SEC, 100);
	assert_non_null(ct_lookup(t2, &reply, NULL));
	ct_expire(t2, T1 + 431988 * SEC, 100);
	assert_null(ct_lookup(t2, &reply, NULL));
	/* a downtime longer than the time left: expired, nothing added */
	assert_int_equal(ct_entry_load(t2, s.rec[0], T1, 431991 * SEC, 0), -ETIME);
	assert_null(ct_lookup(t2, &reply, NULL));
	ct_destroy(t);
	ct_destroy(t2);
}

static void test_udp_and_limits(void **state)
{
	struct ct_table *t = mk(64, 3), *t2 = mk(1, 4);
	struct ct_tuple tu = ct_tuple4(C, S, 5353, 53, 17);
	struct saved s = { .now = T0 + SEC, .t = t };
	struct tpkt p;
	struct ct_entry *e;

	(void)state;
	tp_udp(&p, C, S, 5353, 53, 10);
	assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_NEW);
	tp_udp(&p, S, C, 53, 5353, 10);
	assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_ESTABLISHED);
	tp_udp(&p, C, S, 5354, 53, 10);
	assert_int_equal(tp_ct(t, &p, T0, &e, NULL), CT_NEW);
	assert_int_equal(ct_foreach(t, save_one, &s), 0);
	assert_int_equal(s.n, 2);
	/* UDP replied: 30 s, 1 s gone by saving, 10 s of downtime: 19 left */
	for (unsigned i = 0; i < s.n; i++) {
		int r = ct_entry_load(t2, s.rec[i], T1, 10 * SEC, 0);

		if (r == 0) {
			e = ct_lookup(t2, &tu, NULL);
			assert_non_null(e);
			assert_int_equal(ct_entry_timeout(e, T1), 19);
		} else {
			/* the table holds one: no early drop for a restore */
			assert_int_equal(r, -ENOSPC);
		}
	}
	assert_non_null(ct_lookup(t2, &tu, NULL));
	ct_destroy(t);
	ct_destroy(t2);
}

static void test_bad_records(void **state)
{
	struct ct_table *t = mk(64, 5), *t2;
	struct saved s = { .now = T0, .t = t };
	uint8_t rec[CT_SAVE_LEN];

	(void)state;
	nat_conn(t, T0);
	assert_int_equal(ct_foreach(t, save_one, &s), 0);
	memcpy(rec, s.rec[0], sizeof(rec));
	rec[0] = 5;
	t2 = mk(64, 6);
	assert_int_equal(ct_entry_load(t2, rec, T1, 0, 0), -EINVAL);
	memcpy(rec, s.rec[0], sizeof(rec));
	rec[2] |= 1 << 2;  /* CONFIRMED: the table's own */
	assert_int_equal(ct_entry_load(t2, rec, T1, 0, 0), -EINVAL);
	memcpy(rec, s.rec[0], sizeof(rec));
	rec[4 + 4] = 1;    /* an IPv4 address with more than one word */
	assert_int_equal(ct_entry_load(t2, rec, T1, 0, 0), -EINVAL);
	ct_destroy(t2);
	/* every byte, every bit: loaded or refused, never harm */
	for (unsigned i = 0; i < CT_SAVE_LEN; i++) {
		for (unsigned b = 0; b < 8; b++) {
			int r;

			t2 = mk(4, 7);
			memcpy(rec, s.rec[0], sizeof(rec));
			rec[i] ^= (uint8_t)(1u << b);
			r = ct_entry_load(t2, rec, T1, SEC, 0);
			assert_true(r == 0 || r == -EINVAL || r == -ETIME || r == -EEXIST);
			ct_expire(t2, T1 + 1000000 * SEC, 100);
			ct_destroy(t2);
		}
	}
	ct_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_nat_carried_over),
		cmocka_unit_test(test_udp_and_limits),
		cmocka_unit_test(test_bad_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
