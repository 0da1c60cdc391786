/* SPDX-License-Identifier: MIT */
/*
 * ct_save — conntrack entries as records and back (nat/ct_save.h).
 */
#include "nat/ct_save.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include "nat/ct.h"
#include "nat/ct_priv.h"

enum {
	O_FAMILY = 0, O_PROTO = 1, O_STATUS = 2, O_TUPLE = 4, TUPLE_LEN = 36,
	O_MARK = O_TUPLE + 2 * TUPLE_LEN, O_OWNER = O_MARK + 4, O_LEFT = O_OWNER + 2,
	O_STREAM = O_LEFT + 4, O_TCP = O_STREAM + 4, TCP_SIDE_LEN = 20,
	O_TCP_LAST = O_TCP + 2 * TCP_SIDE_LEN, O_ACCT = O_TCP_LAST + 20,
	O_END = O_ACCT + 32,
	/* what a record may carry: the public bits and TCP's timestamp flag;
	 * CONFIRMED and DYING are the table's own */
	SAVED_STATUS = (0xff | CT_S_TS_ORIG) & ~(CT_S_CONFIRMED | CT_S_DYING),
	/* ct compares times wrap-safe below 2^31 units */
	LEFT_MAX = INT32_MAX,
};

_Static_assert((int)O_END == (int)CT_SAVE_LEN, "CT_SAVE_LEN is the record's size");

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put_tuple(uint8_t *p, const struct ct_tuple *tu)
{
	for (unsigned i = 0; i < 4; i++) {
		put32(p + 4 * i, tu->src.ip6[i]);
		put32(p + 16 + 4 * i, tu->dst.ip6[i]);
	}
	put16(p + 32, tu->sport);
	put16(p + 34, tu->dport);
}

static bool get_tuple(struct ct_tuple *tu, const uint8_t *p, uint8_t family, uint8_t proto)
{
	memset(tu, 0, sizeof(*tu));
	for (unsigned i = 0; i < 4; i++) {
		tu->src.ip6[i] = get32(p + 4 * i);
		tu->dst.ip6[i] = get32(p + 16 + 4 * i);
	}
	tu->sport = get16(p + 32);
	tu->dport = get16(p + 34);
	tu->proto = proto;
	tu->family = family;
	/* an IPv4 address is the first word alone */
	return family == NF_V6 || !(tu->src.ip6[1] | tu->src.ip6[2] | tu->src.ip6[3] |
				    tu->dst.ip6[1] | tu->dst.ip6[2] | tu->dst.ip6[3]);
}

void ct_entry_save(const struct ct_table *t, const struct ct_entry *e, uint64_t now,
		   uint8_t out[static CT_SAVE_LEN])
{
	const struct ct_tcp *tcp = &e->proto.tcp;
	uint32_t now_u = ct_units(now);
	int32_t left = (int32_t)(e->expires - now_u);
	struct ct_acct a[2] = { ct_entry_acct(t, e, CT_DIR_ORIGINAL),
				ct_entry_acct(t, e, CT_DIR_REPLY) };

	memset(out, 0, CT_SAVE_LEN);
	out[O_FAMILY] = e->tuple[CT_DIR_ORIGINAL].family;
	out[O_PROTO] = e->tuple[CT_DIR_ORIGINAL].proto;
	put16(out + O_STATUS, (uint16_t)(e->status & SAVED_STATUS));
	put_tuple(out + O_TUPLE, &e->tuple[CT_DIR_ORIGINAL]);
	put_tuple(out + O_TUPLE + TUPLE_LEN, &e->tuple[CT_DIR_REPLY]);
	put32(out + O_MARK, e->mark);
	put16(out + O_OWNER, e->owner);
	put32(out + O_LEFT, left > 0 ? (uint32_t)left : 0);
	if (e->tuple[CT_DIR_ORIGINAL].proto == IPPROTO_UDP)
		put32(out + O_STREAM, (uint32_t)(int32_t)(e->proto.udp.stream_ts - now_u));
	if (e->tuple[CT_DIR_ORIGINAL].proto == IPPROTO_TCP) {
		for (unsigned d = 0; d < 2; d++) {
			const struct ct_tcp_side *s = &tcp->seen[d];
			uint8_t *p = out + O_TCP + d * TCP_SIDE_LEN;

			put32(p, s->td_end);
			put32(p + 4, s->td_maxend);
			put32(p + 8, s->td_maxwin);
			put32(p + 12, s->td_maxack);
			p[16] = s->td_scale;
			p[17] = s->flags;
			put16(p + 18, s->ts_half);
		}
		put32(out + O_TCP_LAST, tcp->last_seq);
		put32(out + O_TCP_LAST + 4, tcp->last_ack);
		put32(out + O_TCP_LAST + 8, tcp->last_end);
		put16(out + O_TCP_LAST + 12, tcp->last_win);
		out[O_TCP_LAST + 14] = tcp->state;
		out[O_TCP_LAST + 15] = tcp->last_dir;
		out[O_TCP_LAST + 16] = tcp->last_index;
		out[O_TCP_LAST + 17] = tcp->last_wscale;
		out[O_TCP_LAST + 18] = tcp->last_flags;
		out[O_TCP_LAST + 19] = tcp->retrans;
	}
	for (unsigned d = 0; d < 2; d++) {
		put64(out + O_ACCT + 16 * d, a[d].packets);
		put64(out + O_ACCT + 16 * d + 8, a[d].bytes);
	}
}

uint16_t ct_saved_owner(const uint8_t rec[static CT_SAVE_LEN])
{
	return get16(rec + O_OWNER);
}

int ct_entry_load(struct ct_table *t, const uint8_t rec[static CT_SAVE_LEN], uint64_t now,
		  uint64_t gone, uint16_t owner)
{
	struct ct_entry e;
	struct ct_acct a[2];
	uint8_t family = rec[O_FAMILY], proto = rec[O_PROTO];
	uint32_t left = get32(rec + O_LEFT), now_u = ct_units(now);
	uint64_t gone_u = gone >> CT_UNIT_SHIFT;
	uint16_t status = get16(rec + O_STATUS);

	memset(&e, 0, sizeof(e));
	if ((family != NF_V4 && family != NF_V6) || (status & ~SAVED_STATUS) || left > LEFT_MAX ||
	    !get_tuple(&e.tuple[CT_DIR_ORIGINAL], rec + O_TUPLE, family, proto) ||
	    !get_tuple(&e.tuple[CT_DIR_REPLY], rec + O_TUPLE + TUPLE_LEN, family, proto))
		return -EINVAL;
	if (gone_u >= left)
		return -ETIME;
	e.status = status;
	e.mark = get32(rec + O_MARK);
	e.owner = owner;
	if (proto == IPPROTO_UDP)
		e.proto.udp.stream_ts = now_u - (uint32_t)gone_u + get32(rec + O_STREAM);
	if (proto == IPPROTO_TCP) {
		struct ct_tcp *tcp = &e.proto.tcp;

		for (unsigned d = 0; d < 2; d++) {
			struct ct_tcp_side *s = &tcp->seen[d];
			const uint8_t *p = rec + O_TCP + d * TCP_SIDE_LEN;

			s->td_end = get32(p);
			s->td_maxend = get32(p + 4);
			s->td_maxwin = get32(p + 8);
			s->td_maxack = get32(p + 12);
			s->td_scale = p[16];
			s->flags = p[17];
			s->ts_half = get16(p + 18);
			if (s->td_scale > 14)
				return -EINVAL;
		}
		tcp->last_seq = get32(rec + O_TCP_LAST);
		tcp->last_ack = get32(rec + O_TCP_LAST + 4);
		tcp->last_end = get32(rec + O_TCP_LAST + 8);
		tcp->last_win = get16(rec + O_TCP_LAST + 12);
		tcp->state = rec[O_TCP_LAST + 14];
		tcp->last_dir = rec[O_TCP_LAST + 15];
		tcp->last_index = rec[O_TCP_LAST + 16];
		tcp->last_wscale = rec[O_TCP_LAST + 17];
		tcp->last_flags = rec[O_TCP_LAST + 18];
		tcp->retrans = rec[O_TCP_LAST + 19];
		if (tcp->state >= CT_TCP_MAX || tcp->last_dir > 1)
			return -EINVAL;
	}
	for (unsigned d = 0; d < 2; d++) {
		a[d].packets = get64(rec + O_ACCT + 16 * d);
		a[d].bytes = get64(rec + O_ACCT + 16 * d + 8);
	}
	return ct_insert_saved(t, &e, a, now, left - (uint32_t)gone_u);
}
