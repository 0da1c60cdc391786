/* SPDX-License-Identifier: MIT */
/*
 * ct_tcp — the TCP tracker, as net/netfilter/nf_conntrack_proto_tcp.c does
 * it (current upstream).
 *
 * States: NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT,
 * LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2; the table below gives the next
 * state for direction x flag class (SYN, SYN-ACK, FIN, ACK, RST, none) x
 * state, or IV (invalid) or IG (ignore: pass it, change nothing, remember
 * it: the endpoints may be in sync while we are not).
 *
 * Rules on top of the table:
 *  - window tracking (van Rooij, RFC 793 bounds) on every packet that would
 *    change state; out-of-window packets are INVALID, or ignored when the
 *    bound they miss may be a retransmission; BE_LIBERAL (per direction, set
 *    by loose pickup, or tcp_be_liberal) accepts them all;
 *  - a SYN in TIME_WAIT/CLOSE reopens (the entry dies and a new one is made)
 *    only after a FIN close or our own RST; otherwise it is ignored, and a
 *    SYN-ACK answering it resynchronises the entry;
 *  - RSTs: below the peer's max ACK they are INVALID; inexact ones in
 *    ESTABLISHED leave the state (the peer may answer a challenge ACK);
 *    an RST before any reply kills the entry;
 *  - an ACK after a challenged SYN in LAST_ACK does not move to TIME_WAIT;
 *  - ASSURED on a valid ACK taking SYN_RECV (or a picked-up ESTABLISHED)
 *    to ESTABLISHED once a reply was seen;
 *  - timeouts per state, shortened to 300 s after 3 retransmissions, with
 *    unacknowledged data, a zero window, or before any reply in ESTABLISHED;
 *    10 s after an RST; a retransmitted SYN does not extend the timeout.
 *
 * Not done: NAT sequence adjustment (no helpers), SYN proxy, tcp_max_retrans
 * and the timeouts as knobs (the kernel defaults are constants here).
 */
#include <string.h>

#include "nat/ct_priv.h"
#include "nat/pkt/be.h"
#include "nat/pkt/pkt.h"

enum { TCP_SYN_SET, TCP_SYNACK_SET, TCP_FIN_SET, TCP_ACK_SET, TCP_RST_SET,
	TCP_NONE_SET, TCP_SETS };

enum {
	sNO = CT_TCP_NONE, sSS = CT_TCP_SYN_SENT, sSR = CT_TCP_SYN_RECV,
	sES = CT_TCP_ESTABLISHED, sFW = CT_TCP_FIN_WAIT, sCW = CT_TCP_CLOSE_WAIT,
	sLA = CT_TCP_LAST_ACK, sTW = CT_TCP_TIME_WAIT, sCL = CT_TCP_CLOSE,
	sS2 = CT_TCP_SYN_SENT2, sIV = CT_TCP_MAX, sIG = CT_TCP_MAX + 1,
};

/* nf_conntrack_proto_tcp.c tcp_conntracks[dir][flag class][state]. */
static const uint8_t tcp_conntracks[2][TCP_SETS][CT_TCP_MAX] = {
	{
/* ORIGINAL	     sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 */
/* syn */	   { sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2 },
/* synack */	   { sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR },
/* fin */	   { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
/* ack */	   { sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV },
/* rst */	   { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
/* none */	   { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	}, {
/* REPLY	     sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 */
/* syn */	   { sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2 },
/* synack */	   { sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR },
/* fin */	   { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
/* ack */	   { sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG },
/* rst */	   { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
/* none */	   { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	}
};

enum { TO_RETRANS = CT_TCP_MAX, TO_UNACK, TO_MAX };

static const uint32_t tcp_timeouts[TO_MAX] = {
	[CT_TCP_SYN_SENT] = CT_SECS(120),
	[CT_TCP_SYN_RECV] = CT_SECS(60),
	[CT_TCP_ESTABLISHED] = CT_SECS(432000),
	[CT_TCP_FIN_WAIT] = CT_SECS(120),
	[CT_TCP_CLOSE_WAIT] = CT_SECS(60),
	[CT_TCP_LAST_ACK] = CT_SECS(30),
	[CT_TCP_TIME_WAIT] = CT_SECS(120),
	[CT_TCP_CLOSE] = CT_SECS(10),
	[CT_TCP_SYN_SENT2] = CT_SECS(120),
	[TO_RETRANS] = CT_SECS(300),
	[TO_UNACK] = CT_SECS(300),
};

enum {
	TCP_MAX_RETRANS = 3,       /* nf_conntrack_tcp_max_retrans */
	TCP_MAX_WSCALE = 14,       /* RFC 7323 */
	MAXACKWINCONST = 66000,
	TCPOPT_EOL = 0, TCPOPT_NOP = 1, TCPOPT_WINDOW = 3, TCPOPT_SACK_PERM = 4,
	TCPOPT_SACK = 5,
	TCPOLEN_WINDOW = 3, TCPOLEN_SACK_PERM = 2, TCPOLEN_SACK_BASE = 2,
	TCPOLEN_SACK_PERBLOCK = 8, TCPOLEN_TSTAMP_ALIGNED = 12,
	TCP_TSTAMP_ONLY = 0x0101080a, /* NOP NOP TIMESTAMP 10 */
	TCPOPT_TIMESTAMP = 8, TCPOLEN_TIMESTAMP = 10,
};

static const char *const tcp_state_names[CT_TCP_MAX] = {
	"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
};

const char *ct_tcp_state_name(unsigned state)
{
	return state < CT_TCP_MAX ? tcp_state_names[state] : "?";
}

/* A segment's fields. */
struct seg {
	const uint8_t *th;
	unsigned hlen;
	uint32_t seq, ack, end;
	uint16_t win;
	uint8_t flags;
};

static void seg_read(struct seg *s, const struct pkt *p)
{
	const struct pkt_hdr *h = &p->outer;
	unsigned len = (unsigned)(h->end - h->l4);

	s->th = p->data + h->l4;
	s->hlen = h->l4_hlen;
	s->seq = be32_get(s->th + 4);
	s->ack = be32_get(s->th + 8);
	s->flags = s->th[13];
	s->win = be16_get(s->th + 14);
	s->end = s->seq + (len - s->hlen) + !!(s->flags & TCP_SYN) + !!(s->flags & TCP_FIN);
}

static unsigned conntrack_index(uint8_t flags)
{
	if (flags & TCP_RST)
		return TCP_RST_SET;
	if (flags & TCP_SYN)
		return flags & TCP_ACK ? TCP_SYNACK_SET : TCP_SYN_SET;
	if (flags & TCP_FIN)
		return TCP_FIN_SET;
	if (flags & TCP_ACK)
		return TCP_ACK_SET;
	return TCP_NONE_SET;
}

static inline bool before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool after(uint32_t a, uint32_t b)
{
	return before(b, a);
}

static uint32_t maxackwindow(const struct ct_tcp_side *sender)
{
	return sender->td_maxwin > MAXACKWINCONST ? sender->td_maxwin : MAXACKWINCONST;
}

/* One TCP option: its kind and its value (size - 2 bytes at val). */
struct tcp_opt {
	int kind, size;
	const uint8_t *val;
};

/* The next option at *ptr (*left bytes of options), walked as the kernel
 * does: NOPs skipped; EOL, a truncated or a bad length ends the walk. */
static bool tcp_opt_next(const uint8_t **ptr, int *left, struct tcp_opt *o)
{
	while (*left > 0) {
		int kind = **ptr, size;

		if (kind == TCPOPT_EOL)
			return false;
		if (kind == TCPOPT_NOP) {
			(*ptr)++;
			(*left)--;
			continue;
		}
		if (*left < 2)
			return false;
		size = (*ptr)[1];
		if (size < 2 || size > *left)
			return false;
		o->kind = kind;
		o->size = size;
		o->val = *ptr + 2;
		*ptr += size;
		*left -= size;
		return true;
	}
	return false;
}

/* Window scale and SACK-permitted options (tcp_options). */
static void tcp_options(const struct seg *s, struct ct_tcp_side *side)
{
	const uint8_t *ptr = s->th + TCPH_LEN;
	int left = (int)s->hlen - TCPH_LEN;
	struct tcp_opt o;

	if (!left)
		return;
	side->td_scale = 0;
	side->flags &= CT_TCPF_BE_LIBERAL;
	while (tcp_opt_next(&ptr, &left, &o)) {
		if (o.kind == TCPOPT_SACK_PERM && o.size == TCPOLEN_SACK_PERM) {
			side->flags |= CT_TCPF_SACK_PERM;
		} else if (o.kind == TCPOPT_WINDOW && o.size == TCPOLEN_WINDOW) {
			side->td_scale = *o.val > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : *o.val;
			side->flags |= CT_TCPF_WINDOW_SCALE;
		}
	}
}

/* The TSval of the segment's timestamps option (RFC 7323), if it has one. */
static bool tcp_tsval(const struct seg *s, uint32_t *tsval)
{
	const uint8_t *ptr = s->th + TCPH_LEN;
	int left = (int)s->hlen - TCPH_LEN;
	struct tcp_opt o;

	if (left == TCPOLEN_TSTAMP_ALIGNED && be32_get(ptr) == TCP_TSTAMP_ONLY) {
		*tsval = be32_get(ptr + 4);
		return true;
	}
	while (tcp_opt_next(&ptr, &left, &o))
		if (o.kind == TCPOPT_TIMESTAMP && o.size == TCPOLEN_TIMESTAMP) {
			*tsval = be32_get(o.val);
			return true;
		}
	return false;
}

/* Keep the TSval of an accepted segment in the original direction. */
static void note_tsval(struct ct_entry *e, const struct seg *s)
{
	uint32_t ts;

	if (s->hlen > TCPH_LEN && tcp_tsval(s, &ts)) {
		e->proto.tcp.seen[0].ts_half = (uint16_t)ts;
		e->proto.tcp.seen[1].ts_half = (uint16_t)(ts >> 16);
		e->status |= CT_S_TS_ORIG;
	}
}

static uint32_t tsval_orig(const struct ct_entry *e)
{
	return (uint32_t)e->proto.tcp.seen[1].ts_half << 16 | e->proto.tcp.seen[0].ts_half;
}

/*
 * nf_nat_used_tuple_harder's test, and one more of gw's own.  Linux: old is
 * over (TIME_WAIT, CLOSE or later in the state order) and new_'s sequence
 * number is past old's last one in the original direction
 * (nf_seq_has_advanced).  gw also follows RFC 6191 where both carry
 * timestamps: new_'s TSval must be after old's last one.  The server may
 * still hold the old connection in TIME_WAIT on the very same addresses and
 * ports (it closed first); a SYN whose TSval is older fails its PAWS test
 * (RFC 7323) and is answered with an ACK instead of a SYN-ACK, so the client
 * waits a retransmission timeout (1 s) -- measured here with Linux clients,
 * which choose a random timestamp offset per connection: one in two taken
 * tuples would stall.
 */
bool ct_tcp_may_take_over(const struct ct_entry *old, const struct ct_entry *new_)
{
	if (old->proto.tcp.state < CT_TCP_TIME_WAIT)
		return false;
	if ((int32_t)(new_->proto.tcp.seen[0].td_end - old->proto.tcp.seen[0].td_end) <= 0)
		return false;
	if ((old->status & CT_S_TS_ORIG) && (new_->status & CT_S_TS_ORIG) &&
	    (int32_t)(tsval_orig(new_) - tsval_orig(old)) <= 0)
		return false;
	return true;
}

/* The highest right edge of the first SACK option, if above *sack. */
static void tcp_sack(const struct seg *s, uint32_t *sack)
{
	const uint8_t *ptr = s->th + TCPH_LEN;
	int left = (int)s->hlen - TCPH_LEN;
	struct tcp_opt o;

	if (!left)
		return;
	if (left == TCPOLEN_TSTAMP_ALIGNED && be32_get(ptr) == TCP_TSTAMP_ONLY)
		return;
	while (tcp_opt_next(&ptr, &left, &o)) {
		if (o.kind != TCPOPT_SACK)
			continue;
		if (o.size >= TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK &&
		    !((o.size - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_PERBLOCK)) {
			for (int i = 0; i < o.size - TCPOLEN_SACK_BASE; i += TCPOLEN_SACK_PERBLOCK) {
				uint32_t tmp = be32_get(o.val + i + 4);

				if (after(tmp, *sack))
					*sack = tmp;
			}
			return;
		}
	}
}

/* SYN-ACK answering a SYN, or a SYN from the reply side (simultaneous
 * open): this side starts here. */
static void tcp_init_sender(struct ct_tcp_side *sender, struct ct_tcp_side *receiver,
			    const struct seg *s, uint32_t end, uint32_t win,
			    enum ct_dir dir)
{
	sender->td_end = sender->td_maxend = end;
	sender->td_maxwin = win ? win : 1;
	tcp_options(s, sender);
	/* RFC 1323: scaling only when both sides send the option */
	if (dir == CT_DIR_REPLY &&
	    !(sender->flags & CT_TCPF_WINDOW_SCALE &&
	      receiver->flags & CT_TCPF_WINDOW_SCALE)) {
		sender->td_scale = 0;
		receiver->td_scale = 0;
	}
}

enum win_res { WIN_IGNORE, WIN_INVALID, WIN_ACCEPT };

static enum win_res win_fail(const struct ct_ctx *c, const struct ct_tcp_side *sender,
			     enum win_res res)
{
	if (sender->flags & CT_TCPF_BE_LIBERAL || c->t->cfg.tcp_be_liberal)
		return WIN_ACCEPT;
	return res;
}

/*
 * van Rooij's bounds, as RFC 793 allows segments to overlap the window:
 *   I.   seq <= sender.td_maxend
 *   II.  seq + len >= sender.td_end - receiver.td_maxwin
 *   III. sack <= receiver.td_end
 *   IV.  sack >= receiver.td_end - MAXACKWINDOW
 * sack: the highest SACK right edge, or ack.
 */
static enum win_res tcp_in_window(const struct ct_ctx *c, struct ct_entry *e,
				  unsigned index, const struct seg *s)
{
	struct ct_tcp *st = &e->proto.tcp;
	enum ct_dir dir = c->dir;
	struct ct_tcp_side *sender = &st->seen[dir];
	struct ct_tcp_side *receiver = &st->seen[!dir];
	uint32_t seq = s->seq, ack = s->ack, sack = s->ack, end = s->end;
	uint32_t win = s->win, swin;
	bool in_recv_win;

	if (receiver->flags & CT_TCPF_SACK_PERM)
		tcp_sack(s, &sack);

	if (sender->td_maxwin == 0) {
		if (s->flags & TCP_SYN) {
			tcp_init_sender(sender, receiver, s, end, win, dir);
			if (!(s->flags & TCP_ACK))
				return WIN_ACCEPT;  /* simultaneous open */
		} else {
			/* mid-stream: start from this packet */
			sender->td_end = end;
			swin = win << sender->td_scale;
			sender->td_maxwin = swin ? swin : 1;
			sender->td_maxend = end + sender->td_maxwin;
			if (receiver->td_maxwin == 0)
				receiver->td_end = receiver->td_maxend = sack;
			else if (sack == receiver->td_end + 1)
				receiver->td_end++;  /* answer to a keepalive */
		}
	} else if (s->flags & TCP_SYN && after(end, sender->td_end) &&
		   (st->state == CT_TCP_SYN_SENT || st->state == CT_TCP_SYN_RECV)) {
		/* RFC 793: a reinitialised TCP uses higher sequence numbers */
		tcp_init_sender(sender, receiver, s, end, win, dir);
		if (dir == CT_DIR_REPLY && !(s->flags & TCP_ACK))
			return WIN_ACCEPT;
	}

	if (!(s->flags & TCP_ACK)) {
		ack = sack = receiver->td_end;
	} else if ((s->flags & (TCP_ACK | TCP_RST)) == (TCP_ACK | TCP_RST) && ack == 0) {
		/* broken stacks: RST with ACK set and ack 0 */
		ack = sack = receiver->td_end;
	}

	if (s->flags & TCP_RST && seq == 0 && st->state == CT_TCP_SYN_SENT)
		seq = end = sender->td_end;  /* RST answering a SYN */

	if (!before(seq, sender->td_maxend + 1)) {
		uint32_t overshot = end - sender->td_maxend + 1;
		bool ack_ok = after(sack, receiver->td_end - maxackwindow(sender) - 1);

		in_recv_win = receiver->td_maxwin &&
			      after(end, sender->td_end - receiver->td_maxwin - 1);
		if (in_recv_win && ack_ok && overshot <= receiver->td_maxwin &&
		    before(sack, receiver->td_end + 1)) {
			/* a sender overrunning the window: let a later ACK
			 * of these bytes find them */
			sender->td_end = end;
			sender->flags |= CT_TCPF_DATA_UNACKNOWLEDGED;
			return win_fail(c, sender, WIN_IGNORE);
		}
		return win_fail(c, sender, WIN_INVALID);  /* I */
	}
	if (!before(sack, receiver->td_end + 1))
		return win_fail(c, sender, WIN_INVALID);  /* III */
	in_recv_win = !receiver->td_maxwin ||
		      after(end, sender->td_end - receiver->td_maxwin - 1);
	if (!in_recv_win)
		return win_fail(c, sender, WIN_IGNORE);   /* II: retransmission */
	if (!after(sack, receiver->td_end - maxackwindow(sender) - 1))
		return win_fail(c, sender, WIN_IGNORE);   /* IV: delayed ACK */

	if (!(s->flags & TCP_SYN))
		win <<= sender->td_scale;

	swin = win + (sack - ack);
	if (sender->td_maxwin < swin)
		sender->td_maxwin = swin;
	if (after(end, sender->td_end)) {
		sender->td_end = end;
		sender->flags |= CT_TCPF_DATA_UNACKNOWLEDGED;
	}
	if (s->flags & TCP_ACK) {
		if (!(sender->flags & CT_TCPF_MAXACK_SET)) {
			sender->td_maxack = ack;
			sender->flags |= CT_TCPF_MAXACK_SET;
		} else if (after(ack, sender->td_maxack)) {
			sender->td_maxack = ack;
		}
	}

	if (receiver->td_maxwin != 0 && after(end, sender->td_maxend))
		receiver->td_maxwin += end - sender->td_maxend;
	if (after(sack + win, receiver->td_maxend - 1)) {
		receiver->td_maxend = sack + win;
		if (win == 0)
			receiver->td_maxend++;
	}
	if (ack == receiver->td_end)
		receiver->flags &= ~CT_TCPF_DATA_UNACKNOWLEDGED;

	/* retransmissions: the same ACK segment again */
	if (index == TCP_ACK_SET) {
		if (st->last_dir == dir && st->last_seq == seq && st->last_ack == ack &&
		    st->last_end == end && st->last_win == s->win) {
			st->retrans++;  /* u8, wraps as the kernel's */
		} else {
			st->last_dir = (uint8_t)dir;
			st->last_seq = seq;
			st->last_ack = ack;
			st->last_end = end;
			st->last_win = s->win;
			st->retrans = 0;
		}
	}
	return WIN_ACCEPT;
}

/* Out-of-window FIN/RST answering one from the other side on an assured
 * connection: shorten its life as for unacknowledged data. */
static void tcp_handle_invalid(struct ct_ctx *c, struct ct_entry *e, unsigned index)
{
	struct ct_tcp *st = &e->proto.tcp;

	if (!(e->status & CT_S_ASSURED))
		return;
	if (index != TCP_RST_SET && index != TCP_FIN_SET)
		return;
	if (st->last_dir != c->dir &&
	    (st->last_index == TCP_FIN_SET || st->last_index == TCP_RST_SET)) {
		uint32_t left = ct_expires_in(c, e);

		if (left < CT_SECS(120))
			return;
		if (left > tcp_timeouts[TO_UNACK])
			ct_refresh(c, e, tcp_timeouts[TO_UNACK]);
	} else {
		st->last_index = (uint8_t)index;
		st->last_dir = (uint8_t)c->dir;
	}
}

static bool tcp_can_early_drop(unsigned state)
{
	return state == CT_TCP_FIN_WAIT || state == CT_TCP_LAST_ACK ||
	       state == CT_TCP_TIME_WAIT || state == CT_TCP_CLOSE ||
	       state == CT_TCP_CLOSE_WAIT;
}

static bool tcp_established(const struct ct_entry *e)
{
	return e->proto.tcp.state == CT_TCP_ESTABLISHED && e->status & CT_S_ASSURED;
}

static void tcp_side_reset(struct ct_tcp_side *side)
{
	side->td_end = side->td_maxend = side->td_maxwin = side->td_maxack = 0;
	side->td_scale = 0;
	side->flags &= CT_TCPF_BE_LIBERAL;
}

/* tcp_valid_flags: FIN SYN RST ACK URG; PSH, ECE and CWR always valid. */
static bool tcp_flags_ok(uint8_t flags)
{
	switch (flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK | TCP_URG)) {
	case TCP_SYN:
	case TCP_SYN | TCP_URG:
	case TCP_SYN | TCP_ACK:
	case TCP_RST:
	case TCP_RST | TCP_ACK:
	case TCP_FIN | TCP_ACK:
	case TCP_FIN | TCP_ACK | TCP_URG:
	case TCP_ACK:
	case TCP_ACK | TCP_URG:
		return true;
	default:
		return false;
	}
}

bool ct_tcp_error(const struct pkt *p, bool check_csum)
{
	if (check_csum && !ct_l4_csum_ok(p))
		return true;
	return !tcp_flags_ok(p->outer.tcp_flags);
}

/* tcp_new: the first packet of a connection. */
bool ct_tcp_new(struct ct_ctx *c, struct ct_entry *e)
{
	struct ct_tcp *st = &e->proto.tcp;
	unsigned new_state;
	struct seg s;

	seg_read(&s, c->p);
	new_state = tcp_conntracks[0][conntrack_index(s.flags)][CT_TCP_NONE];
	if (new_state >= CT_TCP_MAX)
		return false;
	memset(st, 0, sizeof(*st));
	st->seen[0].td_end = s.end;
	st->seen[0].td_maxwin = s.win ? s.win : 1;
	if (new_state == CT_TCP_SYN_SENT) {
		st->seen[0].td_maxend = st->seen[0].td_end;
		tcp_options(&s, &st->seen[0]);
		note_tsval(e, &s);
	} else {
		if (!c->t->cfg.tcp_loose)
			return false;
		/* picked up mid-stream: the window scale is unknown */
		st->seen[0].td_maxend = st->seen[0].td_end + st->seen[0].td_maxwin;
		st->seen[0].flags = st->seen[1].flags =
			CT_TCPF_SACK_PERM | CT_TCPF_BE_LIBERAL;
	}
	st->last_index = TCP_NONE_SET;
	return true;
}

/* nf_conntrack_tcp_packet. */
enum ct_verdict ct_tcp_packet(struct ct_ctx *c, struct ct_entry *e)
{
	struct ct_tcp *st = &e->proto.tcp;
	enum ct_dir dir = c->dir;
	unsigned index, old_state, new_state;
	uint32_t timeout;
	struct seg s;

	seg_read(&s, c->p);
	old_state = st->state;
	index = conntrack_index(s.flags);
	new_state = tcp_conntracks[dir][index][old_state];

	switch (new_state) {
	case sSS:
		if (old_state < CT_TCP_TIME_WAIT)
			break;
		/* RFC 1122: a SYN may reopen from TIME_WAIT.  Reopen after a
		 * FIN close, or after our side aborted with an RST. */
		if ((st->seen[dir].flags | st->seen[!dir].flags) & CT_TCPF_CLOSE_INIT ||
		    (st->last_dir == dir && st->last_index == TCP_RST_SET))
			return CT_V_REPEAT;
		/* fall through */
	case sIG:
		if (index == TCP_SYNACK_SET && st->last_index == TCP_SYN_SET &&
		    st->last_dir != dir && s.ack == st->last_end) {
			/* this SYN-ACK answers the SYN we ignored: the
			 * endpoints are in sync, we resync from that SYN */
			unsigned ld = st->last_dir;

			old_state = CT_TCP_SYN_SENT;
			new_state = CT_TCP_SYN_RECV;
			st->seen[ld].td_end = st->last_end;
			st->seen[ld].td_maxend = st->last_end;
			st->seen[ld].td_maxwin = st->last_win ? st->last_win : 1;
			st->seen[ld].td_scale = st->last_wscale;
			st->last_flags &= ~CT_TCPF_EXP_CHALLENGE_ACK;
			st->seen[ld].flags = st->last_flags;
			tcp_side_reset(&st->seen[dir]);
			break;
		}
		st->last_index = (uint8_t)index;
		st->last_dir = (uint8_t)dir;
		st->last_seq = s.seq;
		st->last_end = s.end;
		st->last_win = s.win;
		if (index == TCP_SYN_SET && dir == CT_DIR_ORIGINAL) {
			/* note its options, in case a SYN-ACK answers it */
			struct ct_tcp_side seen = { 0 };

			st->last_flags = st->last_wscale = 0;
			tcp_options(&s, &seen);
			if (seen.flags & CT_TCPF_WINDOW_SCALE) {
				st->last_flags |= CT_TCPF_WINDOW_SCALE;
				st->last_wscale = seen.td_scale;
			}
			if (seen.flags & CT_TCPF_SACK_PERM)
				st->last_flags |= CT_TCPF_SACK_PERM;
			/* RFC 5961: the peer may answer with a challenge
			 * ACK, which must not count as the last ACK */
			if (old_state == CT_TCP_LAST_ACK)
				st->last_flags |= CT_TCPF_EXP_CHALLENGE_ACK;
		}
		if (old_state == CT_TCP_SYN_SENT && index == TCP_ACK_SET &&
		    dir == CT_DIR_REPLY)
			st->last_ack = s.ack;  /* maybe a challenge ACK */
		return CT_V_ACCEPT;
	case sIV:
		return CT_V_INVALID;
	case sTW:
		if (old_state == CT_TCP_LAST_ACK && index == TCP_ACK_SET &&
		    st->last_dir != dir && st->last_index == TCP_SYN_SET &&
		    st->last_flags & CT_TCPF_EXP_CHALLENGE_ACK) {
			/* the challenge ACK: keep the state */
			st->last_flags &= ~CT_TCPF_EXP_CHALLENGE_ACK;
			return CT_V_ACCEPT;
		}
		break;
	case sS2:
		st->last_flags |= CT_TCPF_SIMULTANEOUS_OPEN;
		break;
	case sSR:
		if (dir == CT_DIR_REPLY && index == TCP_ACK_SET &&
		    st->last_flags & CT_TCPF_SIMULTANEOUS_OPEN)
			new_state = CT_TCP_ESTABLISHED;
		break;
	case sCL:
		if (index != TCP_RST_SET)
			break;
		/* closing: the tuple may be reused, skip the checks */
		if (tcp_can_early_drop(old_state))
			goto in_window;
		if (st->seen[!dir].flags & CT_TCPF_MAXACK_SET &&
		    st->last_index != TCP_SYN_SET) {
			uint32_t seq = s.seq;

			/* answer to a SYN we let through */
			if (seq == 0 && !tcp_established(e))
				break;
			if (before(seq, st->seen[!dir].td_maxack))
				return CT_V_INVALID;  /* tcp_ignore_invalid_rst = 0 */
			if (!tcp_established(e) || seq == st->seen[!dir].td_maxack)
				break;
			/* part of a train: data then RST at its end */
			if (st->last_index == TCP_ACK_SET && st->last_dir == dir &&
			    seq == st->last_end)
				break;
			/* inexact: keep the state, the peer may send a
			 * challenge ACK */
			new_state = old_state;
		}
		if (((e->status & CT_S_SEEN_REPLY && st->last_index == TCP_SYN_SET) ||
		     (!(e->status & CT_S_ASSURED) && st->last_index == TCP_ACK_SET)) &&
		    s.ack == st->last_end)
			goto in_window;  /* RST to a SYN or ACK we ignored */
		if (old_state == CT_TCP_SYN_SENT && st->last_index == TCP_ACK_SET &&
		    st->last_dir == CT_DIR_REPLY && s.seq == st->last_ack)
			goto in_window;  /* RST to a challenge ACK */
		break;
	default:
		break;
	}

	switch (tcp_in_window(c, e, index, &s)) {
	case WIN_IGNORE:
		return CT_V_ACCEPT;
	case WIN_INVALID:
		tcp_handle_invalid(c, e, index);
		return CT_V_INVALID;
	case WIN_ACCEPT:
		break;
	}
in_window:
	st->last_index = (uint8_t)index;
	st->last_dir = (uint8_t)dir;
	st->state = (uint8_t)new_state;
	/* the last TSval of a connection that closes, for a new one that
	 * would take over its NAT tuple (ct_tcp_may_take_over); the SYN's is
	 * kept by ct_tcp_new, and an established flow's data is not parsed */
	if (dir == CT_DIR_ORIGINAL && new_state >= CT_TCP_FIN_WAIT)
		note_tsval(e, &s);
	if (old_state != new_state && new_state == CT_TCP_FIN_WAIT)
		st->seen[dir].flags |= CT_TCPF_CLOSE_INIT;

	if (st->retrans >= TCP_MAX_RETRANS &&
	    tcp_timeouts[new_state] > tcp_timeouts[TO_RETRANS])
		timeout = tcp_timeouts[TO_RETRANS];
	else if (index == TCP_RST_SET)
		timeout = tcp_timeouts[CT_TCP_CLOSE];
	else if ((st->seen[0].flags | st->seen[1].flags) & CT_TCPF_DATA_UNACKNOWLEDGED &&
		 tcp_timeouts[new_state] > tcp_timeouts[TO_UNACK])
		timeout = tcp_timeouts[TO_UNACK];
	else if (st->last_win == 0 &&
		 tcp_timeouts[new_state] > tcp_timeouts[TO_RETRANS])
		timeout = tcp_timeouts[TO_RETRANS];
	else
		timeout = tcp_timeouts[new_state];

	if (!(e->status & CT_S_SEEN_REPLY)) {
		/* only an RST came back (or went out): no connection */
		if (s.flags & TCP_RST) {
			ct_kill(c, e);
			return CT_V_ACCEPT;
		}
		/* a retransmitted SYN does not extend the entry's life */
		if (index == TCP_SYN_SET && old_state == CT_TCP_SYN_SENT)
			return CT_V_ACCEPT;
		/* picked up mid-stream, no reply yet */
		if (new_state == CT_TCP_ESTABLISHED && timeout > tcp_timeouts[TO_UNACK])
			timeout = tcp_timeouts[TO_UNACK];
	} else if (!(e->status & CT_S_ASSURED) &&
		   (old_state == CT_TCP_SYN_RECV || old_state == CT_TCP_ESTABLISHED) &&
		   new_state == CT_TCP_ESTABLISHED) {
		e->status |= CT_S_ASSURED;
	}
	ct_refresh(c, e, timeout);
	return CT_V_ACCEPT;
}
