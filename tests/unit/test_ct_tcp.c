/* SPDX-License-Identifier: MIT */
/*
 * nat/ct_tcp: every cell of the TCP state table, then conversations: the
 * handshake, window tracking (scaling, SACK, liberal), RSTs, loose pickup,
 * reopening, retransmissions, the challenge ACK and each state's timeout.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nat/ct.h"
#include "nat/ct_priv.h"
#include "nat/sbuf.h"
#include "tests/unit/util_ctpkt.h"

#define SEC 1000000000ULL
#define MS 1000000ULL
#define T0 (5000 * SEC + 987654321ULL)

static const uint32_t C = IP4(10, 8, 0, 2);      /* client */
static const uint32_t S = IP4(203, 0, 113, 5);   /* server */
enum { CPORT = 40000, SPORT = 443, CISN = 1000000, SISN = 7000000 };

static struct ct_table *mk(bool liberal, bool loose)
{
	struct ct_config cfg;
	struct ct_table *t;

	ct_config_default(&cfg, 64);
	cfg.tcp_be_liberal = liberal;
	cfg.tcp_loose = loose;
	cfg.hash_seed = 99;
	assert_int_equal(ct_create(&t, &cfg), 0);
	return t;
}

/* A conversation: next sequence numbers of both ends. */
struct conv {
	struct ct_table *t;
	uint64_t now;
	uint32_t cseq, sseq;
	uint16_t cwin, swin;
	struct ct_entry *e;
	enum ct_dir dir;
	const uint8_t *opt;  /* options of the next segment */
	size_t optlen;
};

static void conv_init(struct conv *c, struct ct_table *t)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->now = T0;
	c->cseq = CISN;
	c->sseq = SISN;
	c->cwin = c->swin = 64000;
}

/* A segment from the client (or the server) with the given flags and
 * payload length; seq/ack from the conversation, advanced on success. */
static enum ct_state seg_at(struct conv *c, bool client, uint8_t flags, size_t len,
			    uint32_t seq, uint32_t ack)
{
	struct tcp_spec s = {
		.src = client ? C : S, .dst = client ? S : C,
		.sport = client ? CPORT : SPORT, .dport = client ? SPORT : CPORT,
		.seq = seq, .ack = flags & TCP_ACK ? ack : 0, .flags = flags,
		.win = client ? c->cwin : c->swin,
		.opt = c->opt, .optlen = c->optlen, .datalen = len,
	};
	struct tpkt p;
	enum ct_state st;

	tp_tcp(&p, &s);
	c->opt = NULL;
	c->optlen = 0;
	st = tp_ct(c->t, &p, c->now, &c->e, &c->dir);
	return st;
}

static enum ct_state seg(struct conv *c, bool client, uint8_t flags, size_t len)
{
	uint32_t *mine = client ? &c->cseq : &c->sseq;
	uint32_t other = client ? c->sseq : c->cseq;
	enum ct_state st = seg_at(c, client, flags, len, *mine, other);

	if (st != CT_INVALID)
		*mine += (uint32_t)len + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
	return st;
}

static unsigned tstate(const struct conv *c)
{
	return ct_entry_tcp_state(c->e);
}

static void handshake(struct conv *c)
{
	assert_int_equal(seg(c, true, TCP_SYN, 0), CT_NEW);
	assert_int_equal(seg(c, false, TCP_SYN | TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(seg(c, true, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(c), CT_TCP_ESTABLISHED);
}

/* Removed by ct_expire between secs -/+ 50 ms after at. */
static void check_lifetime(struct ct_table *t, struct ct_entry *e, uint64_t at,
			   uint64_t secs)
{
	struct ct_tuple tu = *ct_entry_tuple(e, CT_DIR_ORIGINAL);

	assert_int_equal(ct_expire(t, at + secs * SEC - 50 * MS, 1000), 0);
	assert_ptr_equal(ct_lookup(t, &tu, NULL), e);
	assert_int_equal(ct_expire(t, at + secs * SEC + 50 * MS, 1000), 1);
	assert_null(ct_lookup(t, &tu, NULL));
}

/* ---------------------------------------------------------- the table */

enum { sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2, sIV, sIG };

/* Linux tcp_conntracks (current upstream), typed in again from the source:
 * [dir][class: syn synack fin ack rst none][state]. */
static const uint8_t want[2][6][10] = {
	{
		{ sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2 },
		{ sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR },
		{ sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
		{ sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV },
		{ sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
		{ sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	}, {
		{ sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2 },
		{ sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR },
		{ sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
		{ sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG },
		{ sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
		{ sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	}
};

static const uint8_t class_flags[6] = {
	TCP_SYN, TCP_SYN | TCP_ACK, TCP_FIN | TCP_ACK, TCP_ACK, TCP_RST, TCP_PSH,
};

/*
 * Each cell, from a neutral entry: both sides liberal (the window never
 * objects), a reply seen, nothing remembered (no FIN or RST before, no
 * ignored SYN).  Then IV is INVALID and leaves the state, IG passes and
 * leaves it, a SYN into TIME_WAIT/CLOSE with no FIN or RST before is
 * ignored too, everything else moves to the cell's state.
 */
static void test_table_cells(void **state)
{
	(void)state;
	for (unsigned dir = 0; dir < 2; dir++)
	for (unsigned cls = 0; cls < 6; cls++)
	for (unsigned from = 0; from < CT_TCP_MAX; from++) {
		struct ct_table *t = mk(false, true);
		struct conv c;
		struct ct_tcp *st;
		enum ct_state got;
		unsigned cell = want[dir][cls][from], expect = cell;
		enum ct_state expect_ct = CT_ESTABLISHED;

		conv_init(&c, t);
		/* picked up mid-stream, then answered */
		assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_NEW);
		assert_int_equal(seg(&c, false, TCP_ACK, 0), CT_ESTABLISHED);
		st = &c.e->proto.tcp;
		st->state = (uint8_t)from;
		st->seen[0].flags = st->seen[1].flags = CT_TCPF_BE_LIBERAL | CT_TCPF_SACK_PERM;
		st->last_index = 5;  /* TCP_NONE_SET */
		st->last_flags = 0;
		st->retrans = 0;

		got = seg(&c, dir == 0, class_flags[cls], 0);
		if (cell == sIV) {
			expect = from;
			expect_ct = CT_INVALID;
		} else if (cell == sIG || (cell == sSS && from >= sTW)) {
			expect = from;
		}
		if (got != expect_ct || st->state != expect)
			fail_msg("dir %u class %u from %s: state %s ct %d, want %s ct %d",
				 dir, cls, ct_tcp_state_name(from),
				 ct_tcp_state_name(st->state), got,
				 ct_tcp_state_name(expect), expect_ct);
		ct_destroy(t);
	}
}

/* A first packet (no entry): only a SYN, or an ACK picked up, start one. */
static void test_first_packet(void **state)
{
	static const struct {
		uint8_t flags;
		enum ct_state loose, strict;
		unsigned tstate;
	} rows[] = {
		/* 1 */ { TCP_SYN, CT_NEW, CT_NEW, CT_TCP_SYN_SENT },
		/* 2 */ { TCP_SYN | TCP_ECE | TCP_CWR, CT_NEW, CT_NEW, CT_TCP_SYN_SENT },
		/* 3 */ { TCP_ACK, CT_NEW, CT_INVALID, CT_TCP_ESTABLISHED },
		/* 4 */ { TCP_ACK | TCP_PSH, CT_NEW, CT_INVALID, CT_TCP_ESTABLISHED },
		/* 5 */ { TCP_SYN | TCP_ACK, CT_INVALID, CT_INVALID, 0 },
		/* 6 */ { TCP_FIN | TCP_ACK, CT_INVALID, CT_INVALID, 0 },
		/* 7 */ { TCP_RST, CT_INVALID, CT_INVALID, 0 },
		/* 8 */ { TCP_RST | TCP_ACK, CT_INVALID, CT_INVALID, 0 },
		/* 9 */ { TCP_SYN | TCP_FIN, CT_INVALID, CT_INVALID, 0 },   /* bad flags */
		/* 10 */ { TCP_FIN, CT_INVALID, CT_INVALID, 0 },
		/* 11 */ { 0, CT_INVALID, CT_INVALID, 0 },
		/* 12 */ { TCP_SYN | TCP_RST, CT_INVALID, CT_INVALID, 0 },
		/* 13 */ { TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG,
			   CT_INVALID, CT_INVALID, 0 },                           /* xmas */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (int loose = 0; loose < 2; loose++) {
			struct ct_table *t = mk(false, loose);
			struct conv c;
			enum ct_state got;
			struct ct_stats st;

			conv_init(&c, t);
			got = seg(&c, true, rows[i].flags, 0);
			ct_get_stats(t, &st);
			if (got != (loose ? rows[i].loose : rows[i].strict))
				fail_msg("row %zu loose %d: %d", i + 1, loose, got);
			if (got == CT_NEW)
				assert_int_equal(tstate(&c), rows[i].tstate);
			else
				assert_int_equal(st.count, 0);
			ct_destroy(t);
		}
	}
}

/* ----------------------------------------------------- conversations */

static void test_handshake_and_format(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;
	struct sbuf sb;

	(void)state;
	conv_init(&c, t);
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	assert_int_equal(tstate(&c), CT_TCP_SYN_SENT);
	assert_int_equal(ct_entry_timeout(c.e, c.now + MS), 119);
	/* a retransmitted SYN: still NEW */
	assert_int_equal(seg_at(&c, true, TCP_SYN, 0, CISN, 0), CT_NEW);
	assert_int_equal(seg(&c, false, TCP_SYN | TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(c.dir, CT_DIR_REPLY);
	assert_int_equal(tstate(&c), CT_TCP_SYN_RECV);
	assert_false(ct_entry_status(c.e) & CT_S_ASSURED);
	assert_int_equal(ct_entry_timeout(c.e, c.now + MS), 59);
	assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(c.dir, CT_DIR_ORIGINAL);
	assert_int_equal(tstate(&c), CT_TCP_ESTABLISHED);
	assert_true(ct_entry_status(c.e) & CT_S_ASSURED);

	sbuf_init(&sb);
	ct_format(c.e, c.now + 10 * MS, &sb);
	assert_string_equal(sb.buf,
		"tcp      6 431999 ESTABLISHED src=10.8.0.2 dst=203.0.113.5 sport=40000 "
		"dport=443 src=203.0.113.5 dst=10.8.0.2 sport=443 dport=40000 [ASSURED] "
		"mark=0 use=1");
	sbuf_free(&sb);

	/* data, acknowledged: 300 s while unacknowledged, then 5 days */
	assert_int_equal(seg(&c, true, TCP_ACK | TCP_PSH, 500), CT_ESTABLISHED);
	assert_int_equal(ct_entry_timeout(c.e, c.now), 300);
	assert_int_equal(seg(&c, false, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(ct_entry_timeout(c.e, c.now), 432000);
	check_lifetime(t, c.e, c.now, 432000);
	ct_destroy(t);
}

static void test_ack_before_synack(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;
	struct ct_tuple tu = ct_tuple4(C, S, CPORT, SPORT, 6);

	(void)state;
	conv_init(&c, t);
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_INVALID);
	assert_int_equal(ct_lookup(t, &tu, NULL)
			 ->proto.tcp.state, CT_TCP_SYN_SENT);
	/* an ACK from the server then is ignored (half-open?), no change */
	assert_int_equal(seg(&c, false, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_SYN_SENT);
	ct_destroy(t);
}

static void test_window(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;

	(void)state;
	conv_init(&c, t);
	handshake(&c);
	/* data far beyond what the server's window allows */
	assert_int_equal(seg_at(&c, true, TCP_ACK, 100, c.cseq + 200000, c.sseq),
			 CT_INVALID);
	/* the server acknowledges data the client never sent */
	assert_int_equal(seg_at(&c, false, TCP_ACK, 0, c.sseq, c.cseq + 5000),
			 CT_INVALID);
	/* an ACK far below (more than MAXACKWINDOW): ignored, passes */
	assert_int_equal(seg_at(&c, false, TCP_ACK, 0, c.sseq, c.cseq - 100000),
			 CT_ESTABLISHED);
	/* in the window */
	assert_int_equal(seg(&c, true, TCP_ACK, 1000), CT_ESTABLISHED);
	assert_int_equal(seg(&c, true, TCP_ACK, 1000), CT_ESTABLISHED);
	/* a retransmission of old data far below: passes, ignored */
	assert_int_equal(seg_at(&c, true, TCP_ACK, 100, c.cseq - 1500000, c.sseq),
			 CT_ESTABLISHED);
	/* overrunning the window a little (less than the receiver's
	 * max window): ignored but remembered, the peer's ACK is fine */
	assert_int_equal(seg_at(&c, true, TCP_ACK, 1000, c.cseq + 63000, c.sseq),
			 CT_ESTABLISHED);
	assert_int_equal(seg_at(&c, false, TCP_ACK, 0, c.sseq, c.cseq + 64000),
			 CT_ESTABLISHED);
	ct_destroy(t);

	/* liberal: only RSTs are checked */
	t = mk(true, true);
	conv_init(&c, t);
	handshake(&c);
	assert_int_equal(seg_at(&c, true, TCP_ACK, 100, c.cseq + 200000, c.sseq),
			 CT_ESTABLISHED);
	assert_int_equal(seg_at(&c, false, TCP_ACK, 0, c.sseq, c.cseq + 5000000),
			 CT_ESTABLISHED);
	assert_int_equal(seg_at(&c, false, TCP_RST, 0, c.sseq - 10, 0), CT_INVALID);
	ct_destroy(t);
}

static const uint8_t opt_ws7[] = { 1, 3, 3, 7 };
static const uint8_t opt_sackok[] = { 1, 1, 4, 2 };

static void test_window_scale(void **state)
{
	for (int both = 0; both < 2; both++) {
		struct ct_table *t = mk(false, true);
		struct conv c;
		struct ct_tcp *st;

		(void)state;
		conv_init(&c, t);
		c.opt = opt_ws7;
		c.optlen = 4;
		assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
		if (both) {
			c.opt = opt_ws7;
			c.optlen = 4;
		}
		c.swin = 1000;  /* a SYN's window is never scaled */
		assert_int_equal(seg(&c, false, TCP_SYN | TCP_ACK, 0), CT_ESTABLISHED);
		st = &c.e->proto.tcp;
		assert_int_equal(st->seen[0].td_scale, both ? 7 : 0);
		assert_int_equal(st->seen[1].td_scale, both ? 7 : 0);
		assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_ESTABLISHED);
		/* the server's window: 1000 << 7 = 128000 bytes, or 1000 */
		assert_int_equal(seg(&c, false, TCP_ACK, 0), CT_ESTABLISHED);
		assert_int_equal(seg_at(&c, true, TCP_ACK, 100, c.cseq + 100000, c.sseq),
				 both ? CT_ESTABLISHED : CT_INVALID);
		ct_destroy(t);
	}
	{
		/* a scale above 14 counts as 14 */
		static const uint8_t opt_ws20[] = { 1, 3, 3, 20 };
		struct ct_table *t = mk(false, true);
		struct conv c;

		conv_init(&c, t);
		c.opt = opt_ws20;
		c.optlen = 4;
		assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
		c.opt = opt_ws20;
		c.optlen = 4;
		assert_int_equal(seg(&c, false, TCP_SYN | TCP_ACK, 0), CT_ESTABLISHED);
		assert_int_equal(c.e->proto.tcp.seen[0].td_scale, 14);
		ct_destroy(t);
	}
}

static void test_sack(void **state)
{
	for (int sackok = 0; sackok < 2; sackok++) {
		struct ct_table *t = mk(false, true);
		struct conv c;
		uint8_t sack[12] = { 1, 1, 5, 10 };

		(void)state;
		conv_init(&c, t);
		if (sackok) {
			c.opt = opt_sackok;
			c.optlen = 4;
		}
		assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
		assert_int_equal(seg(&c, false, TCP_SYN | TCP_ACK, 0), CT_ESTABLISHED);
		assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_ESTABLISHED);
		assert_int_equal(seg(&c, true, TCP_ACK, 1000), CT_ESTABLISHED);
		/* the server SACKs bytes the client never sent */
		sack[4] = (uint8_t)((c.cseq + 100) >> 24);
		sack[5] = (uint8_t)((c.cseq + 100) >> 16);
		sack[6] = (uint8_t)((c.cseq + 100) >> 8);
		sack[7] = (uint8_t)(c.cseq + 100);
		sack[8] = (uint8_t)((c.cseq + 9000) >> 24);
		sack[9] = (uint8_t)((c.cseq + 9000) >> 16);
		sack[10] = (uint8_t)((c.cseq + 9000) >> 8);
		sack[11] = (uint8_t)(c.cseq + 9000);
		c.opt = sack;
		c.optlen = 12;
		assert_int_equal(seg_at(&c, false, TCP_ACK, 0, c.sseq, c.cseq - 1000),
				 sackok ? CT_INVALID : CT_ESTABLISHED);
		ct_destroy(t);
	}
}

static void test_rst(void **state)
{
	struct ct_table *t = mk(false, true);
	struct ct_entry *e;
	struct conv c;
	uint64_t d;

	(void)state;
	conv_init(&c, t);
	handshake(&c);
	e = c.e;
	/* below the client's highest ACK: INVALID */
	assert_int_equal(seg_at(&c, false, TCP_RST, 0, c.sseq - 100, 0), CT_INVALID);
	assert_int_equal(ct_entry_tcp_state(e), CT_TCP_ESTABLISHED);
	/* inexact, in the window: the state stays (challenge ACK to come),
	 * but the timeout is the RST one */
	assert_int_equal(seg_at(&c, false, TCP_RST, 0, c.sseq + 100, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_ESTABLISHED);
	assert_int_equal(ct_entry_timeout(c.e, c.now), 10);
	/* the challenge ACK (kernel: "299 ESTABLISHED", the RST's sequence
	 * counts as unacknowledged data), then the exact RST */
	assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(ct_entry_timeout(c.e, c.now + MS), 299);
	assert_int_equal(seg_at(&c, false, TCP_RST, 0, c.sseq, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_CLOSE);
	/* the entry moved forward in the wheel: 10 s, not 5 days */
	d = ct_next_deadline(t);
	assert_true(d <= c.now + 10 * SEC + 40 * MS);
	check_lifetime(t, c.e, c.now, 10);
	ct_destroy(t);

	/* an RST right after data, at its end: exact enough */
	t = mk(false, true);
	conv_init(&c, t);
	handshake(&c);
	assert_int_equal(seg(&c, false, TCP_ACK | TCP_PSH, 19), CT_ESTABLISHED);
	assert_int_equal(seg(&c, false, TCP_RST | TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_CLOSE);
	ct_destroy(t);
}

static void test_rst_before_reply(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;
	struct ct_entry *old;
	struct ct_stats st;

	(void)state;
	/* the server's port is closed: RST|ACK seq 0 answering the SYN */
	conv_init(&c, t);
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	old = c.e;
	assert_int_equal(seg_at(&c, false, TCP_RST | TCP_ACK, 0, 0, c.cseq),
			 CT_ESTABLISHED);
	assert_ptr_equal(c.e, old);  /* the packet keeps its entry... */
	assert_null(ct_lookup(t, ct_entry_tuple(old, CT_DIR_ORIGINAL), NULL));
	ct_get_stats(t, &st);
	assert_int_equal(st.count, 1);  /* ...until ct_expire */
	assert_int_equal(ct_expire(t, c.now, 10), 1);
	ct_get_stats(t, &st);
	assert_int_equal(st.count, 0);
	/* a new SYN makes a new connection */
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	ct_destroy(t);

	/* the client gives up with an RST before any reply */
	t = mk(false, true);
	conv_init(&c, t);
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	assert_int_equal(seg(&c, true, TCP_RST, 0), CT_NEW);
	assert_null(ct_lookup(t, ct_entry_tuple(c.e, CT_DIR_ORIGINAL), NULL));
	ct_destroy(t);
}

static void test_loose_pickup(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;

	(void)state;
	conv_init(&c, t);
	assert_int_equal(seg(&c, true, TCP_ACK, 100), CT_NEW);
	assert_int_equal(tstate(&c), CT_TCP_ESTABLISHED);
	assert_true(c.e->proto.tcp.seen[0].flags & CT_TCPF_BE_LIBERAL);
	assert_true(c.e->proto.tcp.seen[1].flags & CT_TCPF_BE_LIBERAL);
	/* no reply yet: not the 5 days */
	assert_int_equal(ct_entry_timeout(c.e, c.now), 300);
	/* the window scale is unknown: liberal, wild segments pass */
	assert_int_equal(seg_at(&c, true, TCP_ACK, 100, c.cseq + 900000, c.sseq),
			 CT_NEW);
	assert_int_equal(seg(&c, false, TCP_ACK, 0), CT_ESTABLISHED);
	assert_false(ct_entry_status(c.e) & CT_S_ASSURED);
	assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_ESTABLISHED);
	assert_true(ct_entry_status(c.e) & CT_S_ASSURED);
	assert_int_equal(ct_entry_timeout(c.e, c.now), 432000);
	ct_destroy(t);
}

static void fin_close(struct conv *c)
{
	assert_int_equal(seg(c, true, TCP_FIN | TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(c), CT_TCP_FIN_WAIT);
	assert_int_equal(ct_entry_timeout(c->e, c->now), 120);
	assert_int_equal(seg(c, false, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(c), CT_TCP_CLOSE_WAIT);
	assert_int_equal(ct_entry_timeout(c->e, c->now), 60);
	assert_int_equal(seg(c, false, TCP_FIN | TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(c), CT_TCP_LAST_ACK);
	assert_int_equal(ct_entry_timeout(c->e, c->now), 30);
	assert_int_equal(seg(c, true, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(c), CT_TCP_TIME_WAIT);
	assert_int_equal(ct_entry_timeout(c->e, c->now), 120);
}

/* NETFILTER.md: after a FIN close a SYN replaces the entry and is NEW. */
static void test_reopen_after_fin(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;
	struct ct_entry *old;
	struct ct_stats st;

	(void)state;
	conv_init(&c, t);
	handshake(&c);
	fin_close(&c);
	old = c.e;
	c.cseq += 100000;
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	assert_ptr_not_equal(c.e, old);
	assert_int_equal(tstate(&c), CT_TCP_SYN_SENT);
	assert_false(ct_entry_status(c.e) & CT_S_SEEN_REPLY);
	ct_get_stats(t, &st);
	assert_int_equal(st.count, 2);
	assert_int_equal(ct_expire(t, c.now, 10), 1);  /* the old one */
	handshake(&c);
	ct_destroy(t);
}

/* NETFILTER.md: after a server RST the entry is CLOSE, and a new client SYN
 * on the same ports passes as ESTABLISHED through the old entry. */
static void test_syn_after_server_rst(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;
	struct ct_entry *old;

	(void)state;
	conv_init(&c, t);
	handshake(&c);
	assert_int_equal(seg_at(&c, false, TCP_RST, 0, c.sseq, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_CLOSE);
	old = c.e;
	c.cseq += 100000;
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_ESTABLISHED);
	assert_ptr_equal(c.e, old);
	assert_int_equal(tstate(&c), CT_TCP_CLOSE);
	/* the server answers that SYN: the entry resynchronises */
	c.sseq += 555555;
	assert_int_equal(seg(&c, false, TCP_SYN | TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_SYN_RECV);
	assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_ESTABLISHED);
	ct_destroy(t);

	/* the client's own RST, then its SYN: a new connection */
	t = mk(false, true);
	conv_init(&c, t);
	handshake(&c);
	assert_int_equal(seg_at(&c, true, TCP_RST, 0, c.cseq, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_CLOSE);
	old = c.e;
	c.cseq += 100000;
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	assert_ptr_not_equal(c.e, old);
	ct_destroy(t);
}

static void test_retransmissions(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;

	(void)state;
	conv_init(&c, t);
	handshake(&c);
	/* the handshake's ACK was the first; two more: not yet */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(seg_at(&c, true, TCP_ACK, 0, c.cseq, c.sseq), CT_ESTABLISHED);
		assert_int_equal(ct_entry_timeout(c.e, c.now), 432000);
	}
	assert_int_equal(seg_at(&c, true, TCP_ACK, 0, c.cseq, c.sseq), CT_ESTABLISHED);
	assert_int_equal(c.e->proto.tcp.retrans, 3);
	assert_int_equal(ct_entry_timeout(c.e, c.now), 300);
	/* something new: counting restarts */
	assert_int_equal(seg(&c, false, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(ct_entry_timeout(c.e, c.now), 432000);
	ct_destroy(t);
}

/* RFC 5961: a SYN in LAST_ACK draws a challenge ACK, which must not be
 * taken for the last ACK. */
static void test_challenge_ack(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;

	(void)state;
	conv_init(&c, t);
	handshake(&c);
	assert_int_equal(seg(&c, false, TCP_FIN | TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(seg(&c, true, TCP_FIN | TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_LAST_ACK);
	assert_int_equal(seg_at(&c, true, TCP_SYN, 0, c.cseq + 5000, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_LAST_ACK);
	assert_int_equal(seg_at(&c, false, TCP_ACK, 0, c.sseq, c.cseq), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_LAST_ACK);
	/* the real last ACK */
	assert_int_equal(seg(&c, false, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_TIME_WAIT);
	ct_destroy(t);
}

static void test_simultaneous_open(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;

	(void)state;
	conv_init(&c, t);
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	assert_int_equal(seg(&c, false, TCP_SYN, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_SYN_SENT2);
	assert_int_equal(ct_entry_timeout(c.e, c.now), 120);
	assert_int_equal(seg_at(&c, true, TCP_SYN | TCP_ACK, 0, c.cseq - 1, c.sseq),
			 CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_SYN_RECV);
	assert_int_equal(seg(&c, false, TCP_ACK, 0), CT_ESTABLISHED);
	assert_int_equal(tstate(&c), CT_TCP_ESTABLISHED);
	ct_destroy(t);
}

/* Each state's timeout, and a retransmitted SYN does not extend it. */
static void test_timeouts(void **state)
{
	struct ct_table *t = mk(false, true);
	struct conv c;
	uint64_t first;

	(void)state;
	conv_init(&c, t);
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	first = c.now;
	c.now += 60 * SEC;
	assert_int_equal(seg_at(&c, true, TCP_SYN, 0, CISN, 0), CT_NEW);
	check_lifetime(t, c.e, first, 120);

	c.now += 1000 * SEC;
	conv_init(&c, t);
	c.now = T0 + 2000 * SEC;
	assert_int_equal(seg(&c, true, TCP_SYN, 0), CT_NEW);
	assert_int_equal(seg(&c, false, TCP_SYN | TCP_ACK, 0), CT_ESTABLISHED);
	check_lifetime(t, c.e, c.now, 60);

	{
		/* FIN_WAIT 120, CLOSE_WAIT 60, LAST_ACK 30, TIME_WAIT 120 */
		static const unsigned steps[] = { 120, 60, 30, 120 };

		for (unsigned n = 0; n < 4; n++) {
			conv_init(&c, t);
			c.now = T0 + (3000 + 1000 * n) * SEC;
			handshake(&c);
			assert_int_equal(seg(&c, true, TCP_FIN | TCP_ACK, 0), CT_ESTABLISHED);
			if (n >= 1)
				assert_int_equal(seg(&c, false, TCP_ACK, 0), CT_ESTABLISHED);
			if (n >= 2)
				assert_int_equal(seg(&c, false, TCP_FIN | TCP_ACK, 0), CT_ESTABLISHED);
			if (n >= 3)
				assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_ESTABLISHED);
			assert_int_equal(tstate(&c), CT_TCP_FIN_WAIT + n);
			check_lifetime(t, c.e, c.now, steps[n]);
		}
	}
	/* picked up, never answered: 300 s */
	conv_init(&c, t);
	c.now = T0 + 9000 * SEC;
	assert_int_equal(seg(&c, true, TCP_ACK, 0), CT_NEW);
	check_lifetime(t, c.e, c.now, 300);
	ct_destroy(t);
}

static void test_checksum(void **state)
{
	struct ct_table *t = mk(false, true);
	struct tcp_spec s = { .src = C, .dst = S, .sport = CPORT, .dport = SPORT,
			      .seq = CISN, .flags = TCP_SYN, .win = 1000 };
	struct nf_ctx ctx;
	struct tpkt p;

	(void)state;
	tp_tcp(&p, &s);
	tp_corrupt(&p);
	assert_int_equal(tp_ct(t, &p, T0, NULL, NULL), CT_INVALID);
	memset(&ctx, 0, sizeof(ctx));
	ctx.pkt = &p.p;
	ctx.now = T0;
	ct_in(t, &ctx, false);
	assert_int_equal(ctx.ctstate, CT_NEW);
	ct_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_cells),
		cmocka_unit_test(test_first_packet),
		cmocka_unit_test(test_handshake_and_format),
		cmocka_unit_test(test_ack_before_synack),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_window_scale),
		cmocka_unit_test(test_sack),
		cmocka_unit_test(test_rst),
		cmocka_unit_test(test_rst_before_reply),
		cmocka_unit_test(test_loose_pickup),
		cmocka_unit_test(test_reopen_after_fin),
		cmocka_unit_test(test_syn_after_server_rst),
		cmocka_unit_test(test_retransmissions),
		cmocka_unit_test(test_challenge_ack),
		cmocka_unit_test(test_simultaneous_open),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_checksum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
