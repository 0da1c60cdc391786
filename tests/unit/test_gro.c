/* SPDX-License-Identifier: MIT */
/*
 * nat/gro: consecutive TCP segments of one flow joined into the super-packet
 * and virtio_net_hdr a TUN write gives the kernel; what does not join; the
 * checksum the kernel completes; and the round trip back through nat/gso to
 * the original segments byte for byte.  Segments are built here with their
 * own checksum code (plain 16-bit word sums, not nat/csum).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nat/pkt/be.h"
#include "nat/pkt/gro.h"
#include "nat/pkt/gso.h"
#include "tests/unit/util_refsum.h"
#include "tests/unit/util_rng.h"

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40,
       CWR = 0x80, SEGS = 64, SEGMAX = 1600 };



/* One segment as a sender's stack makes it. */
struct segspec {
	bool v6;
	size_t topt;	/* TCP option bytes (a multiple of 4) */
	size_t off;	/* payload offset in the stream: seq and contents follow it */
	size_t plen;
	unsigned id;	/* IPv4 ID = 0xfff0 + id (wraps) */
	uint8_t flags;
};

static size_t build(uint8_t *p, const struct segspec *s)
{
	size_t l3 = s->v6 ? 40 : 20, hdrs = l3 + 20 + s->topt, len = hdrs + s->plen;
	uint8_t *t = p + l3;

	memset(p, 0, hdrs);
	if (s->v6) {
		p[0] = 0x60;
		p[1] = 0x0a; /* a flow label */
		p[2] = 0xbc;
		be16_put(p + 4, (uint16_t)(len - 40));
		p[6] = 6;
		p[7] = 63;
		for (int i = 0; i < 16; i++)
			p[8 + i] = (uint8_t)(0x20 + i), p[24 + i] = (uint8_t)(0x40 + i);
	} else {
		p[0] = 0x45;
		be16_put(p + 2, (uint16_t)len);
		be16_put(p + 4, (uint16_t)(0xfff0 + s->id));
		be16_put(p + 6, 0x4000);
		p[8] = 63;
		p[9] = 6;
		be32_put(p + 12, 0x0a080002);
		be32_put(p + 16, 0x0a080001);
		be16_put(p + 10, (uint16_t)~ref_fold(ref_sum(0, p, 20)));
	}
	be16_put(t, 40000);
	be16_put(t + 2, 7000);
	be32_put(t + 4, 0xffffe000u + (uint32_t)s->off); /* wraps */
	be32_put(t + 8, 0x12345678);
	t[12] = (uint8_t)((20 + s->topt) / 4 << 4);
	t[13] = s->flags;
	be16_put(t + 14, 501);
	for (size_t i = 0; i < s->topt; i++)
		t[20 + i] = (uint8_t)(i < 2 ? 1 : 0x80 + i); /* NOP NOP "timestamps" */
	for (size_t i = 0; i < s->plen; i++)
		p[hdrs + i] = (uint8_t)((s->off + i) * 7 + (s->off + i) / 251);
	be16_put(t + 16, (uint16_t)~ref_fold(ref_sum(ref_pseudo(p, 6, len - l3), t, len - l3)));
	return len;
}

/* A sender's run of n segments of mss bytes, the last last_len, flags on each
 * but the last ACK and on the last last_flags. */
struct run {
	uint8_t seg[SEGS][SEGMAX];
	size_t len[SEGS];
	unsigned n;
};

static void make_run(struct run *r, bool v6, size_t topt, unsigned n, size_t mss,
		     size_t last_len, uint8_t last_flags)
{
	r->n = n;
	for (unsigned i = 0; i < n; i++) {
		struct segspec s = { .v6 = v6, .topt = topt, .off = i * mss,
				     .plen = i + 1 == n ? last_len : mss, .id = i,
				     .flags = i + 1 == n ? last_flags : ACK };

		r->len[i] = build(r->seg[i], &s);
	}
}

static uint8_t gbuf[GRO_MAX];

/* Feeds r to g: every segment must be held. */
static void feed(struct gro *g, const struct run *r)
{
	for (unsigned i = 0; i < r->n; i++)
		assert_int_equal(gro_add(g, r->seg[i], r->len[i]), GRO_HELD);
}

/* The kernel's side: completes the checksum as NEEDS_CSUM asks, checks the
 * result verifies, cuts the super-packet with nat/gso and compares each
 * segment with the original. */
static void check_super(uint8_t *p, size_t len, const struct vnet_hdr *h, const struct run *r,
			bool v6, size_t hdrs, size_t mss)
{
	size_t l3 = v6 ? 40 : 20;
	uint8_t out[SEGMAX];
	struct gso s;

	assert_int_equal(h->kind, v6 ? GSO_TCP6 : GSO_TCP4);
	assert_int_equal(h->gso_size, mss);
	assert_int_equal(h->hdr_len, hdrs);
	assert_int_equal(h->csum_start, l3);
	assert_int_equal(h->csum_offset, 16);
	if (v6) {
		assert_int_equal(be16_get(p + 4), len - 40);
	} else {
		assert_int_equal(be16_get(p + 2), len);
		assert_int_equal(ref_fold(ref_sum(0, p, 20)), 0xffff);
		assert_int_equal(be16_get(p + 4), 0xfff0); /* the first's ID */
	}
	/* the field holds the pseudo-header sum, folded, not complemented */
	assert_int_equal(be16_get(p + l3 + 16), ref_fold(ref_pseudo(p, 6, len - l3)));
	be16_put(p + l3 + 16, (uint16_t)~ref_fold(ref_sum(0, p + l3, len - l3)));
	assert_int_equal(ref_fold(ref_sum(ref_pseudo(p, 6, len - l3), p + l3, len - l3)), 0xffff);

	assert_int_equal(gso_init(&s, p, len, v6 ? GSO_TCP6 : GSO_TCP4, h->gso_size), 0);
	assert_int_equal(s.n, r->n);
	for (unsigned i = 0; i < s.n; i++) {
		assert_int_equal(gso_seg_len(&s, i), r->len[i]);
		gso_seg(&s, i, out);
		assert_memory_equal(out, r->seg[i], r->len[i]);
	}
}

static void join_case(bool v6, size_t topt, unsigned n, size_t mss, size_t last_len,
		      uint8_t last_flags)
{
	static struct run r;
	struct gro g;
	struct vnet_hdr h;
	size_t len, hdrs = (v6 ? 40 : 20) + 20 + topt;

	make_run(&r, v6, topt, n, mss, last_len, last_flags);
	gro_init(&g, gbuf, sizeof(gbuf));
	feed(&g, &r);
	len = gro_finish(&g, &h);
	assert_int_equal(len, hdrs + (n - 1) * mss + last_len);
	assert_int_equal(g.len, 0);
	check_super(gbuf, len, &h, &r, v6, hdrs, mss);
}

static void test_join_tcp4(void **st)
{
	(void)st;
	join_case(false, 12, 5, 1000, 300, ACK | PSH);	/* timestamps, short PSH last */
	join_case(false, 0, 2, 1448, 1448, ACK);	/* all full, no PSH */
	join_case(false, 12, 44, 1448, 1448, ACK | PSH); /* 64 KB: the most that fits */
}

static void test_join_tcp6(void **st)
{
	(void)st;
	join_case(true, 12, 7, 1208, 17, ACK | PSH);
	join_case(true, 0, 3, 1220, 1220, ACK);
}

/* One segment alone goes out exactly as it came, with a plain header. */
static void test_single_plain(void **st)
{
	static struct run r;
	struct gro g;
	struct vnet_hdr h;

	(void)st;
	for (int v6 = 0; v6 < 2; v6++) {
		make_run(&r, v6, 12, 1, 1000, 1000, ACK | PSH);
		gro_init(&g, gbuf, sizeof(gbuf));
		feed(&g, &r);
		assert_int_equal(gro_finish(&g, &h), r.len[0]);
		assert_int_equal(h.kind, 0);
		assert_int_equal(h.gso_size, 0);
		assert_int_equal(h.csum_start, 0);
		assert_memory_equal(gbuf, r.seg[0], r.len[0]);
	}
	gro_init(&g, gbuf, sizeof(gbuf));
	assert_int_equal(gro_finish(&g, &h), 0); /* nothing held */
}

/* Fixes up the checksums of a segment changed after build(). */
static void resum(uint8_t *p, size_t len)
{
	size_t l3 = p[0] >> 4 == 6 ? 40 : 20;

	if (l3 == 20) {
		be16_put(p + 10, 0);
		be16_put(p + 10, (uint16_t)~ref_fold(ref_sum(0, p, 20)));
	}
	be16_put(p + l3 + 16, 0);
	be16_put(p + l3 + 16,
		 (uint16_t)~ref_fold(ref_sum(ref_pseudo(p, 6, len - l3), p + l3, len - l3)));
}

/* The second segment of a two-segment run, changed at byte at (xor x), or
 * given other spec fields, must not join: GRO_FLUSH, and the first alone is
 * still held intact. */
static void no_join(bool v6, const struct segspec *second, int at, uint8_t x)
{
	struct segspec first = { .v6 = v6, .topt = 12, .off = 0, .plen = 1000, .id = 0,
				 .flags = ACK };
	static uint8_t a[SEGMAX], b[SEGMAX];
	size_t alen = build(a, &first), blen;
	struct segspec s = *second;
	struct gro g;
	struct vnet_hdr h;

	s.v6 = v6;
	blen = build(b, &s);
	if (at >= 0) {
		b[at] ^= x;
		resum(b, blen);
	}
	gro_init(&g, gbuf, sizeof(gbuf));
	assert_int_equal(gro_add(&g, a, alen), GRO_HELD);
	assert_int_equal(gro_add(&g, b, blen), GRO_FLUSH);
	assert_int_equal(gro_finish(&g, &h), alen);
	assert_int_equal(h.kind, 0);
	assert_memory_equal(gbuf, a, alen);
	/* it begins a super-packet of its own */
	assert_int_equal(gro_add(&g, b, blen), GRO_HELD);
}

static void test_no_join(void **st)
{
	const struct segspec next = { .topt = 12, .off = 1000, .plen = 1000, .id = 1,
				      .flags = ACK };
	struct segspec s;

	(void)st;
	for (int v6 = 0; v6 < 2; v6++) {
		size_t l3 = v6 ? 40 : 20;

		s = next, s.off = 1001;	no_join(v6, &s, -1, 0);	/* a gap */
		s = next, s.off = 999;	no_join(v6, &s, -1, 0);	/* overlap */
		s = next, s.off = 0;	no_join(v6, &s, -1, 0);	/* a retransmission */
		s = next, s.plen = 1001; no_join(v6, &s, -1, 0); /* larger than the first */
		s = next, s.topt = 8;	no_join(v6, &s, -1, 0);	/* other option length */
		s = next, s.topt = 16;	no_join(v6, &s, -1, 0);
		no_join(v6, &next, (int)l3 + 1, 1);	/* source port */
		no_join(v6, &next, (int)l3 + 3, 1);	/* destination port */
		no_join(v6, &next, (int)l3 + 11, 1);	/* ack */
		no_join(v6, &next, (int)l3 + 15, 1);	/* window */
		no_join(v6, &next, (int)l3 + 31, 1);	/* a timestamp */
		no_join(v6, &next, (int)l3 + 22, 1);	/* an option byte */
		no_join(v6, &next, 8, 1);		/* TTL / a source address byte */
		no_join(v6, &next, 19, 1);		/* a destination / source byte */
		no_join(v6, &next, 1, 0x01);		/* ECN CE / traffic class */
		if (v6) {
			no_join(v6, &next, 3, 1);	/* flow label */
			no_join(v6, &next, 7, 1);	/* hop limit */
			no_join(v6, &next, 39, 1);	/* destination */
		} else {
			s = next, s.id = 2;	no_join(v6, &s, -1, 0); /* ID skips */
			s = next, s.id = 0;	no_join(v6, &s, -1, 0); /* ID fixed */
		}
	}
	/* IPv4 after IPv6 */
	{
		struct segspec a = { .topt = 12, .off = 0, .plen = 1000, .flags = ACK };
		uint8_t p4[SEGMAX], p6[SEGMAX];
		size_t n6, n4;
		struct gro g;

		a.v6 = true;
		n6 = build(p6, &a);
		a.v6 = false, a.off = 1000, a.id = 1;
		n4 = build(p4, &a);
		gro_init(&g, gbuf, sizeof(gbuf));
		assert_int_equal(gro_add(&g, p6, n6), GRO_HELD);
		assert_int_equal(gro_add(&g, p4, n4), GRO_FLUSH);
	}
}

/* After a PSH or a short segment nothing more joins. */
static void test_closed(void **st)
{
	uint8_t a[SEGMAX], b[SEGMAX];
	struct segspec sa = { .topt = 12, .off = 0, .plen = 1000, .flags = ACK | PSH };
	struct segspec sb = { .topt = 12, .off = 1000, .plen = 1000, .id = 1, .flags = ACK };
	struct gro g;
	size_t na, nb;

	(void)st;
	for (int v6 = 0; v6 < 2; v6++) {
		sa.v6 = sb.v6 = v6;
		na = build(a, &sa);
		nb = build(b, &sb);
		gro_init(&g, gbuf, sizeof(gbuf));
		assert_int_equal(gro_add(&g, a, na), GRO_HELD);
		assert_int_equal(gro_add(&g, b, nb), GRO_FLUSH);
	}
	/* full, short, then a would-be continuation */
	{
		static struct run r;
		struct segspec sc = { .topt = 12, .off = 2 * 1000 + 500, .plen = 1000, .id = 2,
				      .flags = ACK };

		make_run(&r, false, 12, 2, 1000, 500, ACK);
		na = build(a, &sc);
		gro_init(&g, gbuf, sizeof(gbuf));
		feed(&g, &r);
		assert_int_equal(gro_add(&g, a, na), GRO_FLUSH);
	}
}

/* A segment that may not be part of any super-packet: GRO_NOT, and what is
 * held stays held. */
static void not_case(bool v6, uint8_t flags, int at, uint8_t x, bool fix, long dlen)
{
	struct segspec sa = { .v6 = v6, .topt = 12, .off = 0, .plen = 1000, .flags = ACK };
	struct segspec sb = { .v6 = v6, .topt = 12, .off = 1000, .plen = 1000, .id = 1,
			      .flags = flags };
	static uint8_t a[SEGMAX], b[SEGMAX];
	size_t na = build(a, &sa), nb = build(b, &sb);
	struct gro g;
	struct vnet_hdr h;

	if (at >= 0) {
		b[at] ^= x;
		if (fix)
			resum(b, nb);
	}
	nb = (size_t)((long)nb + dlen);
	gro_init(&g, gbuf, sizeof(gbuf));
	assert_int_equal(gro_add(&g, b, nb), GRO_NOT); /* alone */
	assert_int_equal(gro_add(&g, a, na), GRO_HELD);
	assert_int_equal(gro_add(&g, b, nb), GRO_NOT); /* after one */
	assert_int_equal(gro_finish(&g, &h), na);
	assert_memory_equal(gbuf, a, na);
}

/* Trusted (a peer's packets, authenticated): a segment with a bad TCP
 * checksum joins all the same, as the kernel's GRO joins what WireGuard
 * marked CHECKSUM_UNNECESSARY; a bad IP header checksum still does not. */
static void test_trusted(void **st)
{
	(void)st;
	for (int v6 = 0; v6 < 2; v6++) {
		struct segspec sa = { .v6 = v6, .topt = 12, .off = 0, .plen = 1000, .flags = ACK };
		struct segspec sb = { .v6 = v6, .topt = 12, .off = 1000, .plen = 1000, .id = 1,
				      .flags = ACK };
		static uint8_t a[SEGMAX], b[SEGMAX];
		size_t na = build(a, &sa), nb = build(b, &sb), l3 = v6 ? 40 : 20;
		struct gro g;
		struct vnet_hdr h;

		b[l3 + 16] ^= 0x01; /* its TCP checksum */
		gro_init(&g, gbuf, sizeof(gbuf));
		g.trusted = true;
		assert_int_equal(gro_add(&g, a, na), GRO_HELD);
		assert_int_equal(gro_add(&g, b, nb), GRO_HELD);
		assert_true(g.trusted); /* kept across the new held packet */
		assert_int_equal(gro_finish(&g, &h), na + 1000);
		gro_init(&g, gbuf, sizeof(gbuf));
		assert_int_equal(gro_add(&g, a, na), GRO_HELD);
		assert_int_equal(gro_add(&g, b, nb), GRO_NOT); /* untrusted: verified */
	}
}

static void test_not(void **st)
{
	(void)st;
	for (int v6 = 0; v6 < 2; v6++) {
		size_t l3 = v6 ? 40 : 20;

		not_case(v6, ACK | SYN, -1, 0, false, 0);
		not_case(v6, ACK | FIN, -1, 0, false, 0);
		not_case(v6, ACK | RST, -1, 0, false, 0);
		not_case(v6, ACK | URG, -1, 0, false, 0);
		not_case(v6, ACK | ECE, -1, 0, false, 0);
		not_case(v6, ACK | CWR, -1, 0, false, 0);
		not_case(v6, PSH, -1, 0, false, 0);		/* no ACK */
		not_case(v6, ACK, (int)l3 + 12, 0x01, true, 0);	/* a reserved bit */
		not_case(v6, ACK, (int)l3 + 16, 0x01, false, 0); /* bad TCP checksum */
		not_case(v6, ACK, (int)l3 + 500, 0x01, false, 0); /* payload changed */
		not_case(v6, ACK, -1, 0, false, -1);		/* shorter than it says */
		not_case(v6, ACK, -1, 0, false, 1);		/* longer: padding */
		not_case(v6, ACK, v6 ? 6 : 9, 11, true, 0);	/* another protocol */
		not_case(v6, ACK, 0, 0x20, true, 0);		/* another IP version */
	}
	not_case(false, ACK, 6, 0x40, true, 0);		/* no DF */
	not_case(false, ACK, 6, 0x20, true, 0);		/* MF */
	not_case(false, ACK, 7, 0x01, true, 0);		/* an offset */
	not_case(false, ACK, 6, 0x80, true, 0);		/* the reserved bit */
	not_case(false, ACK, 10, 0x01, false, 0);	/* bad IP checksum */
	not_case(false, ACK, 0, 0x01, true, 0);		/* IP options (IHL 6) */

	/* a bare ACK (no payload) and truncated headers */
	{
		struct segspec s = { .topt = 12, .plen = 0, .flags = ACK };
		uint8_t p[SEGMAX];
		struct gro g;
		size_t n;

		gro_init(&g, gbuf, sizeof(gbuf));
		for (int v6 = 0; v6 < 2; v6++) {
			s.v6 = v6;
			n = build(p, &s);
			assert_int_equal(gro_add(&g, p, n), GRO_NOT);
			s.plen = 100;
			n = build(p, &s);
			for (size_t k = 0; k < n; k++)
				assert_int_equal(gro_add(&g, p, k), GRO_NOT);
			s.plen = 0;
		}
	}
}

/* The super-packet stops below 64 KB: the segment that would pass it begins
 * the next. */
static void test_size_limit(void **st)
{
	static struct run r;
	struct gro g;
	struct vnet_hdr h;
	size_t hdrs = 20 + 20 + 12, fits = (GRO_MAX - hdrs) / 1448;

	(void)st;
	make_run(&r, false, 12, (unsigned)fits + 1, 1448, 1448, ACK);
	gro_init(&g, gbuf, sizeof(gbuf));
	for (unsigned i = 0; i < fits; i++)
		assert_int_equal(gro_add(&g, r.seg[i], r.len[i]), GRO_HELD);
	assert_int_equal(gro_add(&g, r.seg[fits], r.len[fits]), GRO_FLUSH);
	assert_int_equal(gro_finish(&g, &h), hdrs + fits * 1448);
	assert_true(hdrs + fits * 1448 <= GRO_MAX);
	/* a smaller buffer limits it too */
	gro_init(&g, gbuf, 2900);
	assert_int_equal(gro_add(&g, r.seg[0], r.len[0]), GRO_HELD);
	assert_int_equal(gro_add(&g, r.seg[1], r.len[1]), GRO_FLUSH);
}

/* Random bytes and randomly damaged runs: never a read or write out of
 * bounds (SAN), and whatever is joined cuts back to what went in. */
static void test_random(void **st)
{
	static struct run r, in;
	static uint8_t junk[SEGMAX];
	struct rng rng = { test_seed() };
	struct gro g;
	struct vnet_hdr h;

	(void)st;
	for (int k = 0; k < 3000; k++) {
		size_t n = rnd(&rng, (uint32_t)sizeof(junk));

		for (size_t i = 0; i < n; i++)
			junk[i] = (uint8_t)rnd64(&rng);
		if (n)
			junk[0] = (uint8_t)(k & 1 ? 0x45 : 0x60);
		gro_init(&g, gbuf, sizeof(gbuf));
		(void)gro_add(&g, junk, n);
		(void)gro_finish(&g, &h);
	}
	for (int k = 0; k < 300; k++) {
		bool v6 = k & 1;
		unsigned n = 2 + (unsigned)rnd(&rng, (uint32_t)20), held = 0;
		size_t mss = 200 + rnd(&rng, (uint32_t)1300), hdrs = (v6 ? 40 : 20) + 20 + 12;

		make_run(&r, v6, 12, n, mss, 1 + rnd(&rng, (uint32_t)mss), ACK | PSH);
		/* damage one segment: it may or may not join, but never wrongly */
		if (rnd(&rng, (uint32_t)2)) {
			unsigned i = (unsigned)rnd(&rng, (uint32_t)n);

			r.seg[i][rnd(&rng, (uint32_t)hdrs)] ^= (uint8_t)(1 + rnd(&rng, (uint32_t)255));
			if (rnd(&rng, (uint32_t)2))
				resum(r.seg[i], r.len[i]);
		}
		gro_init(&g, gbuf, sizeof(gbuf));
		in.n = 0;
		for (unsigned i = 0; i < n; i++) {
			enum gro_res res = gro_add(&g, r.seg[i], r.len[i]);

			if (res == GRO_HELD) {
				memcpy(in.seg[in.n], r.seg[i], r.len[i]);
				in.len[in.n++] = r.len[i];
				held = 1;
			} else {
				break; /* checked up to the first break */
			}
		}
		if (held && in.n > 1) {
			size_t len = gro_finish(&g, &h);

			check_super(gbuf, len, &h, &in, v6, h.hdr_len, h.gso_size);
			assert_int_equal(h.hdr_len, hdrs);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_tcp4),
		cmocka_unit_test(test_join_tcp6),
		cmocka_unit_test(test_single_plain),
		cmocka_unit_test(test_no_join),
		cmocka_unit_test(test_closed),
		cmocka_unit_test(test_not),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
