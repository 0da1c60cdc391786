/* SPDX-License-Identifier: MIT */
/*
 * nat/pkt with IPv6: the extension header walk, fragment headers, ICMPv6 and
 * its errors' embedded headers, the errors, and the rewrites.
 *
 * Packets are built byte by byte from a description (struct spec) with the
 * tests' own checksum (util_refsum, independent of nat/pkt/csum.c).  The
 * rewrite property: a packet rewritten by pkt_set_* equals, byte for byte
 * (a checksum may differ only in the sign of zero), the packet built again
 * from the rewritten description, and parses again to the view the setters
 * kept.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"
#include "tests/unit/util_mutate.h"
#include "tests/unit/util_refsum.h"
#include "tests/unit/util_rng.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum { HOP = 0, TCP = 6, UDP = 17, RT = 43, FRAG = 44, ESP = 50, AH = 51, ICMP6 = 58,
       NONE = 59, DST = 60, GRE = 47 };
enum { CAP = 4096, MAXEXT = 6 };

static const uint8_t PEER[16] = { 0xfd, 0, 0, 8, [15] = 2 };           /* fd00:8::2 */
static const uint8_t HOST[16] = { 0x20, 0x01, 0x0d, 0xb8, 1, [15] = 5 }; /* 2001:db8:100::5 */
static const uint8_t UPL[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [14] = 0xab, 0xcd };

/* ---- packets from a description ----------------------------------------- */

struct ext {
	uint8_t type;  /* HOP RT DST AH FRAG */
	uint8_t units; /* the length field (FRAG: ignored) */
};

struct spec {
	uint8_t src[16], dst[16];
	uint8_t hlim;
	struct ext ext[MAXEXT];
	int next;           /* extension headers in ext */
	uint16_t frag_off;  /* when a FRAG is in ext */
	bool mf;
	uint32_t id;
	uint8_t proto;
	uint16_t sport, dport;  /* TCP/UDP; ICMPv6 echo: sport is the id */
	uint8_t icmp_type, icmp_code;
	uint8_t tcp_opt;    /* TCP option bytes (multiple of 4) */
	bool udp_zero;      /* UDP checksum 0 */
	size_t data;        /* payload bytes after the L4 header */
	uint8_t seed;       /* payload pattern */
	struct spec *inner; /* ICMPv6 error: the quoted packet */
	size_t quote;       /* quoted bytes of the inner packet; 0: all */
};

static size_t ext_len(const struct ext *x)
{
	if (x->type == FRAG)
		return 8;
	if (x->type == AH)
		return ((size_t)x->units + 2) * 4;
	return ((size_t)x->units + 1) * 8;
}

static bool later(const struct spec *s)
{
	for (int i = 0; i < s->next; i++)
		if (s->ext[i].type == FRAG)
			return s->frag_off != 0;
	return false;
}

/* Builds s into b; returns the length.  *l4 gets the upper layer's offset. */
static size_t build(uint8_t *b, const struct spec *s, size_t *l4_out)
{
	size_t at = 40, l4, end;
	uint8_t *nh = b + 6;
	bool lat = false;

	memset(b, 0, 40);
	b[0] = 0x60;
	b[1] = 0x0a;  /* traffic class / flow label: must survive untouched */
	b[3] = 0x77;
	b[7] = s->hlim;
	memcpy(b + 8, s->src, 16);
	memcpy(b + 24, s->dst, 16);
	for (int i = 0; i < s->next; i++) {
		const struct ext *x = &s->ext[i];
		size_t n = ext_len(x);

		*nh = x->type;
		nh = b + at;
		memset(b + at, 0, n);
		if (x->type == FRAG) {
			be16_put(b + at + 2, (uint16_t)(s->frag_off | s->mf));
			be32_put(b + at + 4, s->id);
			lat = s->frag_off != 0;
		} else {
			b[at + 1] = x->units;
			for (size_t k = 2; k < n; k++)
				b[at + k] = (uint8_t)(k == 2 ? 1 : 0);  /* PadN-ish filler */
		}
		at += n;
		if (lat)
			break;
	}
	*nh = s->proto;
	l4 = at;
	if (lat) {
		for (size_t k = 0; k < s->data; k++)
			b[at + k] = (uint8_t)(s->seed + k * 7);
		end = at + s->data;
		goto done;
	}
	switch (s->proto) {
	case TCP: {
		size_t hl = 20 + s->tcp_opt;

		memset(b + at, 0, hl);
		be16_put(b + at, s->sport);
		be16_put(b + at + 2, s->dport);
		be32_put(b + at + 4, 0x01020304);
		b[at + 12] = (uint8_t)(hl / 4 << 4);
		b[at + 13] = 0x12;
		be16_put(b + at + 14, 64240);
		for (size_t k = 20; k < hl; k++)
			b[at + k] = 1;  /* NOPs */
		at += hl;
		break;
	}
	case UDP:
		be16_put(b + at, s->sport);
		be16_put(b + at + 2, s->dport);
		be16_put(b + at + 4, (uint16_t)(8 + s->data));
		be16_put(b + at + 6, 0);
		at += 8;
		break;
	case ICMP6:
		b[at] = s->icmp_type;
		b[at + 1] = s->icmp_code;
		be16_put(b + at + 2, 0);
		be16_put(b + at + 4, pkt_icmp6_is_error(s->icmp_type) ? 0 : s->sport);
		be16_put(b + at + 6, pkt_icmp6_is_error(s->icmp_type) ? 1280 : 9);
		at += 8;
		break;
	default:
		break;
	}
	if (s->inner) {
		uint8_t q[CAP];
		size_t ql, il4;

		ql = build(q, s->inner, &il4);
		if (s->quote && s->quote < ql)
			ql = s->quote;
		memcpy(b + at, q, ql);
		at += ql;
	} else {
		for (size_t k = 0; k < s->data; k++)
			b[at + k] = (uint8_t)(s->seed + k * 7);
		at += s->data;
	}
	end = at;
	{
		size_t cs = s->proto == TCP ? 16 : s->proto == UDP ? 6 : s->proto == ICMP6 ? 2 : 0;

		if (cs && !(s->proto == UDP && s->udp_zero)) {
			uint16_t c = (uint16_t)~ref_fold(ref_sum(ref_pseudo(b, s->proto, end - l4),
								 b + l4, end - l4));

			if (s->proto == UDP && !c)
				c = 0xffff;
			be16_put(b + l4 + cs, c);
		}
	}
done:
	be16_put(b + 4, (uint16_t)(end - 40));
	*l4_out = l4;
	return end;
}

static void spec_init(struct spec *s, uint8_t proto)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->src, PEER, 16);
	memcpy(s->dst, HOST, 16);
	s->hlim = 64;
	s->proto = proto;
	s->sport = 40000;
	s->dport = 443;
	s->icmp_type = ICMP6T_ECHO_REQ;
	s->id = 0xdeadbeef;
	s->data = 13;
	s->seed = 0x5a;
}

static void add_ext(struct spec *s, uint8_t type, uint8_t units)
{
	assert_true(s->next < MAXEXT);
	s->ext[s->next++] = (struct ext){ type, units };
}

/* ---- view checks -------------------------------------------------------- */

static void check_hdr_bounds(const struct pkt_hdr *h)
{
	assert_int_equal(h->family, NF_V6);
	assert_true(h->ip + 40 <= h->l4);
	assert_true(h->l4 <= h->end);
	if (h->frag_hdr) {
		assert_true(h->frag_hdr >= h->ip + 40);
		assert_true(h->frag_hdr + 8 <= h->l4);
		assert_true(h->exthdrs & PKT_X_FRAG);
	}
	if (h->flags & PKT_F_FRAG)
		assert_true(h->frag_hdr);
	if (h->flags & PKT_F_LATER) {
		assert_true(h->flags & PKT_F_FRAG);
		assert_false(h->flags & (PKT_F_L4 | PKT_F_PORTS));
		assert_int_equal(h->csum, 0);
		assert_int_equal(h->l4, h->frag_hdr + 8);
	}
	if (h->csum) {
		assert_true(h->csum >= h->l4);
		assert_true(h->csum + 2 <= h->end);
	}
	if (h->flags & PKT_F_PORTS)
		assert_true(h->l4 + 8 <= h->end);
	if (h->flags & PKT_F_L4) {
		assert_true(h->flags & PKT_F_PORTS);
		assert_true(h->l4 + h->l4_hlen <= h->end);
	}
}

static void check_bounds(const struct pkt *p, const uint8_t *buf, size_t len)
{
	assert_ptr_equal(p->data, buf);
	assert_true(p->outer.end <= len);
	assert_int_equal(p->outer.end, p->outer.tot_len);
	assert_int_equal(p->outer.ip, 0);
	check_hdr_bounds(&p->outer);
	if (p->has_inner) {
		assert_int_equal(p->outer.proto, ICMP6);
		assert_true(pkt_icmp6_is_error(p->outer.icmp_type));
		assert_true(pkt_is_icmp_error(&p->outer));
		assert_int_equal(p->inner.ip, p->outer.l4 + 8);
		assert_int_equal(p->inner.end, p->outer.end);
		check_hdr_bounds(&p->inner);
	}
}

static void check_hdr_equal(const struct pkt_hdr *a, const struct pkt_hdr *b)
{
	assert_memory_equal(&a->saddr, &b->saddr, 16);
	assert_memory_equal(&a->daddr, &b->daddr, 16);
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->ip, b->ip);
	assert_int_equal(a->l4, b->l4);
	assert_int_equal(a->end, b->end);
	assert_int_equal(a->tot_len, b->tot_len);
	assert_int_equal(a->frag_off, b->frag_off);
	assert_int_equal(a->frag_hdr, b->frag_hdr);
	assert_int_equal(a->sport, b->sport);
	assert_int_equal(a->dport, b->dport);
	assert_int_equal(a->csum, b->csum);
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->ttl, b->ttl);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->l4_hlen, b->l4_hlen);
	assert_int_equal(a->tcp_flags, b->tcp_flags);
	assert_int_equal(a->icmp_type, b->icmp_type);
	assert_int_equal(a->icmp_code, b->icmp_code);
	assert_int_equal(a->exthdrs, b->exthdrs);
}

/* The L4 checksum of a whole upper-layer message verifies (ref sum). */
static bool l4_verifies(const uint8_t *ip, size_t l4, size_t end, uint8_t proto)
{
	return ref_fold(ref_sum(ref_pseudo(ip, proto, end - l4), ip + l4, end - l4)) == 0xffff;
}

/* ---- known structures ----------------------------------------------------- */

/* A hand-written packet: UDP in IPv6 after a hop-by-hop header (a router
 * alert), checksum 0x73d1 computed independently (Python) from the words below. */
static void test_kat(void **state)
{
	static const uint8_t kat[] = {
		0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x40,       /* plen 20, HBH */
		0xfd, 0x00, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05,
		0x11, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00,       /* HBH: UDP, RA */
		0x9c, 0x40, 0x00, 0x35, 0x00, 0x0c, 0x73, 0xd1,       /* 40000 > 53 */
		0x61, 0x62, 0x63, 0x64,
	};
	uint8_t b[sizeof(kat)];
	struct pkt p;

	(void)state;
	memcpy(b, kat, sizeof(b));
	assert_int_equal(pkt_parse(&p, b, sizeof(b)), PKT_OK);
	assert_int_equal(p.outer.family, NF_V6);
	assert_memory_equal(p.outer.saddr.b, kat + 8, 16);
	assert_memory_equal(p.outer.daddr.b, kat + 24, 16);
	assert_int_equal(p.outer.proto, UDP);
	assert_int_equal(p.outer.l4, 48);
	assert_int_equal(p.outer.end, 60);
	assert_int_equal(p.outer.tot_len, 60);
	assert_int_equal(p.outer.ttl, 64);
	assert_int_equal(p.outer.sport, 40000);
	assert_int_equal(p.outer.dport, 53);
	assert_int_equal(p.outer.csum, 54);
	assert_int_equal(p.outer.exthdrs, PKT_X_HOP);
	assert_int_equal(p.outer.flags, PKT_F_L4 | PKT_F_PORTS);
	assert_int_equal(p.outer.frag_hdr, 0);
	assert_false(p.has_inner);
	assert_true(l4_verifies(b, 48, 60, UDP));
	assert_int_equal(csum_l4_6(b + 8, b + 24, UDP, b + 48, 12), 0x73d1);
}

static void test_exthdrs(void **state)
{
	static const struct {
		const char *name;
		struct ext ext[MAXEXT];
		int next;
		uint16_t frag_off;
		bool mf;
		uint8_t proto;
		uint8_t want_x;
		uint8_t want_flags;
	} cases[] = {
		{ "none", { { 0, 0 } }, 0, 0, 0, TCP, 0, PKT_F_L4 | PKT_F_PORTS },
		{ "hop", { { HOP, 0 } }, 1, 0, 0, TCP, PKT_X_HOP, PKT_F_L4 | PKT_F_PORTS },
		{ "hop 3", { { HOP, 3 } }, 1, 0, 0, UDP, PKT_X_HOP, PKT_F_L4 | PKT_F_PORTS },
		{ "routing", { { RT, 2 } }, 1, 0, 0, UDP, PKT_X_RT, PKT_F_L4 | PKT_F_PORTS },
		{ "dst", { { DST, 1 } }, 1, 0, 0, ICMP6, PKT_X_DST, PKT_F_L4 | PKT_F_PORTS },
		{ "ah", { { AH, 4 } }, 1, 0, 0, TCP, PKT_X_AH, PKT_F_L4 | PKT_F_PORTS },
		{ "ah 1 (8 bytes)", { { AH, 0 } }, 1, 0, 0, TCP, PKT_X_AH, PKT_F_L4 | PKT_F_PORTS },
		{ "hop dst rt dst", { { HOP, 0 }, { DST, 0 }, { RT, 0 }, { DST, 1 } }, 4, 0, 0, UDP,
		  PKT_X_HOP | PKT_X_DST | PKT_X_RT, PKT_F_L4 | PKT_F_PORTS },
		{ "hop not first", { { DST, 0 }, { HOP, 0 } }, 2, 0, 0, UDP,
		  PKT_X_HOP | PKT_X_DST, PKT_F_L4 | PKT_F_PORTS },
		{ "atomic fragment", { { FRAG, 0 } }, 1, 0, 0, TCP, PKT_X_FRAG,
		  PKT_F_L4 | PKT_F_PORTS },
		{ "first fragment", { { HOP, 0 }, { FRAG, 0 }, { DST, 0 } }, 3, 0, 1, UDP,
		  PKT_X_HOP | PKT_X_FRAG | PKT_X_DST,
		  PKT_F_MF | PKT_F_FRAG | PKT_F_L4 | PKT_F_PORTS },
		{ "later fragment", { { RT, 0 }, { FRAG, 0 }, { DST, 0 } }, 3, 1480, 1, TCP,
		  PKT_X_RT | PKT_X_FRAG, PKT_F_MF | PKT_F_FRAG | PKT_F_LATER },
		{ "last fragment", { { FRAG, 0 } }, 1, 8, 0, ICMP6, PKT_X_FRAG,
		  PKT_F_FRAG | PKT_F_LATER },
		{ "esp", { { HOP, 0 } }, 1, 0, 0, ESP, PKT_X_HOP, 0 },
		{ "no next header", { { DST, 0 } }, 1, 0, 0, NONE, PKT_X_DST, 0 },
		{ "gre", { { 0, 0 } }, 0, 0, 0, GRE, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct spec s;
		uint8_t b[CAP];
		size_t n, l4, want_l4 = 40, fh = 0;
		struct pkt p;
		enum pkt_error e;

		spec_init(&s, cases[i].proto);
		memcpy(s.ext, cases[i].ext, sizeof(s.ext));
		s.next = cases[i].next;
		s.frag_off = cases[i].frag_off;
		s.mf = cases[i].mf;
		s.data = 16;
		n = build(b, &s, &l4);
		for (int k = 0; k < s.next; k++) {
			if (s.ext[k].type == FRAG)
				fh = want_l4;
			want_l4 += ext_len(&s.ext[k]);
			if (s.ext[k].type == FRAG && s.frag_off)
				break;
		}
		e = pkt_parse(&p, b, n);
		if (e != PKT_OK)
			fail_msg("%s: %s", cases[i].name, pkt_error_name(e));
		check_bounds(&p, b, n);
		if (p.outer.l4 != want_l4 || p.outer.proto != cases[i].proto ||
		    p.outer.exthdrs != cases[i].want_x || p.outer.flags != cases[i].want_flags ||
		    p.outer.frag_hdr != fh)
			fail_msg("%s: l4 %u proto %u x %#x flags %#x frag_hdr %u", cases[i].name,
				 p.outer.l4, p.outer.proto, p.outer.exthdrs, p.outer.flags,
				 p.outer.frag_hdr);
		assert_int_equal(l4, want_l4);
		assert_int_equal(p.outer.frag_off, cases[i].frag_off);
		if (fh)
			assert_int_equal(p.outer.id, 0xdeadbeef);
		else
			assert_int_equal(p.outer.id, 0);
		if (p.outer.flags & PKT_F_PORTS && cases[i].proto != ICMP6) {
			assert_int_equal(p.outer.sport, 40000);
			assert_int_equal(p.outer.dport, 443);
		}
		if (cases[i].proto == ICMP6 && !(p.outer.flags & PKT_F_LATER)) {
			assert_int_equal(p.outer.icmp_type, ICMP6T_ECHO_REQ);
			assert_int_equal(p.outer.sport, 40000);
			assert_int_equal(p.outer.dport, 40000);
		}
	}
}

/* ---- errors --------------------------------------------------------------- */

static enum pkt_error parse_copy(const uint8_t *b, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	struct pkt p;
	enum pkt_error e;

	assert_non_null(c);
	memcpy(c, b, n);
	e = pkt_parse(&p, c, n);
	if (e == PKT_OK)
		check_bounds(&p, c, n);
	free(c);
	return e;
}

static void test_errors(void **state)
{
	bool seen[PKT_E_MAX] = { false };
	struct spec s, in;
	uint8_t b[CAP];
	size_t n, l4;

	(void)state;
#define EXPECT(err, len) do { \
		enum pkt_error e_ = parse_copy(b, (len)); \
		if (e_ != (err)) \
			fail_msg("line %d: %s, want %s", __LINE__, pkt_error_name(e_), \
				 pkt_error_name(err)); \
		seen[e_] = true; \
	} while (0)

	spec_init(&s, UDP);
	n = build(b, &s, &l4);
	EXPECT(PKT_OK, n);
	EXPECT(PKT_E_SHORT, 20);
	EXPECT(PKT_E_SHORT, 39);
	EXPECT(PKT_E_TOTLEN, n - 1);		/* payload length past the buffer */
	EXPECT(PKT_OK, n + 0);
	b[0] = 0x70;
	EXPECT(PKT_E_VERSION, n);
	b[0] = 0x60;
	be16_put(b + 44, 7);			/* UDP length below 8 */
	EXPECT(PKT_E_L4, n);
	be16_put(b + 44, (uint16_t)(n - 40 + 1));	/* past the packet */
	EXPECT(PKT_E_L4, n);

	spec_init(&s, TCP);
	n = build(b, &s, &l4);
	b[40 + 12] = 0x40;			/* data offset 4 */
	EXPECT(PKT_E_L4, n);
	b[40 + 12] = 0xf0;			/* 60 bytes in 33 */
	EXPECT(PKT_E_L4, n);

	/* jumbogram: payload length 0 with hop-by-hop */
	spec_init(&s, UDP);
	add_ext(&s, HOP, 0);
	n = build(b, &s, &l4);
	be16_put(b + 4, 0);
	EXPECT(PKT_E_JUMBO, n);
	b[6] = DST;				/* no HBH: an empty payload */
	EXPECT(PKT_E_EXTHDR, n);		/* whose chain is missing */
	b[6] = NONE;
	EXPECT(PKT_OK, n);			/* ... or says "nothing" */
	b[6] = TCP;
	EXPECT(PKT_E_L4, n);

	/* the chain past the payload */
	spec_init(&s, UDP);
	add_ext(&s, DST, 0);
	n = build(b, &s, &l4);
	b[41] = 3;				/* 32 bytes */
	EXPECT(PKT_E_EXTHDR, n);
	b[41] = 2;				/* 24: then UDP has 5 bytes */
	EXPECT(PKT_E_L4, n);
	b[41] = 0;
	spec_init(&s, UDP);
	add_ext(&s, AH, 5);			/* 28 bytes */
	n = build(b, &s, &l4);
	EXPECT(PKT_OK, n);
	b[41] = 9;				/* 44 bytes in 49 */
	EXPECT(PKT_E_L4, n);
	b[41] = 11;
	EXPECT(PKT_E_EXTHDR, n);

	/* two fragment headers */
	spec_init(&s, UDP);
	add_ext(&s, FRAG, 0);
	add_ext(&s, FRAG, 0);
	n = build(b, &s, &l4);
	EXPECT(PKT_E_EXTHDR, n);

	/* fragments: a non-last one not a multiple of 8, empty, past 65535 */
	spec_init(&s, UDP);
	add_ext(&s, FRAG, 0);
	s.mf = true;
	s.data = 16;
	n = build(b, &s, &l4);
	EXPECT(PKT_OK, n);			/* 8 + 8 + 16 */
	s.data = 17;
	n = build(b, &s, &l4);
	EXPECT(PKT_E_FRAG, n);
	spec_init(&s, UDP);
	add_ext(&s, FRAG, 0);
	s.frag_off = 8;
	s.data = 0;
	n = build(b, &s, &l4);
	EXPECT(PKT_E_FRAG, n);			/* no data */
	s.frag_off = 65528;
	s.data = 7;
	n = build(b, &s, &l4);
	EXPECT(PKT_OK, n);
	s.data = 8;
	n = build(b, &s, &l4);
	EXPECT(PKT_E_FRAG, n);			/* ends at 65536 */
	/* RFC 7112: a first fragment holds the whole chain */
	spec_init(&s, UDP);
	add_ext(&s, FRAG, 0);
	add_ext(&s, DST, 0);
	s.mf = true;
	s.data = 0;
	n = build(b, &s, &l4);
	be16_put(b + 4, 8 + 8);			/* cut after the fragment header + 8 */
	EXPECT(PKT_OK, 40 + 16);		/* DST whole, UDP cut: no L4 yet */
	b[49] = 1;				/* DST of 16 bytes in 8 */
	EXPECT(PKT_E_EXTHDR, 40 + 16);

	/* ICMPv6 errors: the embedded header */
	spec_init(&s, ICMP6);
	s.icmp_type = 1;
	spec_init(&in, TCP);
	memcpy(in.src, HOST, 16);
	memcpy(in.dst, PEER, 16);
	s.inner = &in;
	n = build(b, &s, &l4);
	EXPECT(PKT_OK, n);
	b[48] = 0x45;				/* IPv4 in ICMPv6 */
	EXPECT(PKT_E_INNER, n);
	n = build(b, &s, &l4);
	be16_put(b + 4, 8 + 39);
	EXPECT(PKT_E_INNER, 40 + 8 + 39);	/* a quote below 40 bytes */
	be16_put(b + 4, 8 + 48);
	EXPECT(PKT_OK, 40 + 8 + 48);		/* 8 bytes of TCP: enough */
	be16_put(b + 4, 8 + 40 + 7);
	EXPECT(PKT_E_INNER, 40 + 8 + 47);	/* 7: not */
	n = build(b, &s, &l4);
	be16_put(b + 48 + 4, 0);
	b[48 + 6] = HOP;			/* quoted jumbogram */
	EXPECT(PKT_E_INNER, n);

	for (int e = PKT_OK; e < PKT_E_MAX; e++)
		if (!seen[e] && e != PKT_E_IHL && e != PKT_E_CSUM && e != PKT_E_OPTIONS)
			fail_msg("%s never reached", pkt_error_name((enum pkt_error)e));
	assert_string_equal(pkt_error_name(PKT_E_EXTHDR), "exthdr");
	assert_string_equal(pkt_error_name(PKT_E_JUMBO), "jumbo");
#undef EXPECT
}

/* ---- ICMPv6 ----------------------------------------------------------------- */

static void test_icmp6(void **state)
{
	struct spec s, in;
	uint8_t b[CAP];
	size_t n, l4;
	struct pkt p;

	(void)state;
	assert_true(pkt_icmp6_is_error(1) && pkt_icmp6_is_error(2) &&
		    pkt_icmp6_is_error(3) && pkt_icmp6_is_error(4));
	assert_false(pkt_icmp6_is_error(0) || pkt_icmp6_is_error(5) ||
		     pkt_icmp6_is_error(128) || pkt_icmp6_is_error(135));

	/* echo reply: id in sport/dport */
	spec_init(&s, ICMP6);
	s.icmp_type = ICMP6T_ECHO_REPLY;
	s.sport = 0x1234;
	n = build(b, &s, &l4);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.outer.sport, 0x1234);
	assert_int_equal(p.outer.dport, 0x1234);
	assert_int_equal(p.outer.csum, 42);
	assert_int_equal(p.outer.l4_hlen, 8);
	assert_false(pkt_is_icmp_error(&p.outer));
	/* neighbour solicitation: no id */
	s.icmp_type = 135;
	n = build(b, &s, &l4);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.outer.sport, 0);
	assert_true(p.outer.flags & PKT_F_L4);
	/* ICMPv4 inside IPv6 is opaque: no L4 fields */
	s.proto = 1;
	n = build(b, &s, &l4);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_false(p.outer.flags & (PKT_F_L4 | PKT_F_PORTS));

	/* each error type, each inner upper layer, inner extension headers */
	for (uint8_t type = 1; type <= 4; type++) {
		for (int k = 0; k < 5; k++) {
			spec_init(&s, ICMP6);
			s.icmp_type = type;
			s.icmp_code = (uint8_t)k;
			spec_init(&in, k == 0 ? TCP : k == 1 ? UDP : k == 2 ? ICMP6 : k == 3 ? TCP : UDP);
			memcpy(in.src, HOST, 16);
			memcpy(in.dst, PEER, 16);
			in.sport = 443;
			in.dport = 40000;
			if (k >= 3) {
				add_ext(&in, HOP, 0);
				add_ext(&in, FRAG, 0);
				add_ext(&in, DST, 1);
				in.frag_off = k == 4 ? 64 : 0;
				in.mf = true;
				in.data = 24;
			}
			s.inner = &in;
			n = build(b, &s, &l4);
			assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
			check_bounds(&p, b, n);
			assert_true(p.has_inner);
			assert_memory_equal(p.inner.saddr.b, HOST, 16);
			assert_memory_equal(p.inner.daddr.b, PEER, 16);
			assert_int_equal(p.inner.proto, in.proto);
			assert_int_equal(p.outer.icmp_type, type);
			if (k == 4) {
				assert_true(p.inner.flags & PKT_F_LATER);
				assert_int_equal(p.inner.frag_off, 64);
				assert_int_equal(p.inner.exthdrs, PKT_X_HOP | PKT_X_FRAG);
				continue;
			}
			assert_int_equal(p.inner.sport, in.proto == ICMP6 ? 443 : 443);
			assert_int_equal(p.inner.dport, in.proto == ICMP6 ? 443 : 40000);
			assert_true(p.inner.flags & PKT_F_PORTS);
			if (k == 3) {
				assert_int_equal(p.inner.exthdrs, PKT_X_HOP | PKT_X_FRAG | PKT_X_DST);
				assert_int_equal(p.inner.frag_hdr, 48 + 48);
				assert_int_equal(p.inner.l4, 48 + 40 + 8 + 8 + 16);
				assert_true(p.inner.flags & PKT_F_FRAG);
			}
		}
	}

	/* an error quoted in an error is read as a plain ICMPv6 header */
	{
		struct spec in2;

		spec_init(&s, ICMP6);
		s.icmp_type = 3;
		spec_init(&in, ICMP6);
		in.icmp_type = 1;
		spec_init(&in2, UDP);
		in.inner = &in2;
		s.inner = &in;
		n = build(b, &s, &l4);
		assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
		assert_true(p.has_inner);
		assert_int_equal(p.inner.icmp_type, 1);
		assert_int_equal(p.inner.sport, 0);
	}
	/* the quote cut by a first fragment's end: no inner view, no error */
	spec_init(&s, ICMP6);
	s.icmp_type = 2;
	add_ext(&s, FRAG, 0);
	s.mf = true;
	spec_init(&in, TCP);
	in.data = 100;
	s.inner = &in;
	s.quote = 32;
	n = build(b, &s, &l4);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_false(p.has_inner);
	s.next = 0;
	s.mf = false;
	n = build(b, &s, &l4);
	assert_int_equal(pkt_parse(&p, b, n), PKT_E_INNER);
}

/* ---- truncations and bit flips ------------------------------------------------ */

static struct spec *samples(size_t *count)
{
	static struct spec s[8], in[3];

	spec_init(&s[0], TCP);
	add_ext(&s[0], HOP, 1);
	add_ext(&s[0], RT, 0);
	add_ext(&s[0], DST, 0);
	s[0].tcp_opt = 12;
	spec_init(&s[1], UDP);
	add_ext(&s[1], AH, 2);
	spec_init(&s[2], ICMP6);
	add_ext(&s[2], DST, 0);
	add_ext(&s[2], FRAG, 0);
	spec_init(&s[3], UDP);
	add_ext(&s[3], HOP, 0);
	add_ext(&s[3], FRAG, 0);
	add_ext(&s[3], DST, 0);
	s[3].mf = true;
	s[3].data = 16;
	spec_init(&s[4], TCP);
	add_ext(&s[4], FRAG, 0);
	s[4].frag_off = 1232;
	spec_init(&in[0], TCP);
	add_ext(&in[0], HOP, 0);
	add_ext(&in[0], DST, 0);
	memcpy(in[0].src, HOST, 16);
	spec_init(&s[5], ICMP6);
	s[5].icmp_type = 1;
	s[5].icmp_code = 3;
	s[5].inner = &in[0];
	spec_init(&in[1], UDP);
	spec_init(&s[6], ICMP6);
	s[6].icmp_type = 2;
	add_ext(&s[6], HOP, 0);
	s[6].inner = &in[1];
	spec_init(&in[2], ICMP6);
	spec_init(&s[7], ICMP6);
	s[7].icmp_type = 3;
	s[7].inner = &in[2];
	*count = ARRAY_SIZE(s);
	return s;
}

static void on_trunc(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct pkt p;
	enum pkt_error e;

	(void)ctx;
	(void)m;
	e = pkt_parse(&p, buf, len);
	assert_int_equal(e, len < 40 ? PKT_E_SHORT : PKT_E_TOTLEN);
}

/* The packet cut at len with its payload length saying so: where the cut
 * falls names the error. */
static void cut_at(const uint8_t *full, size_t n, size_t len, const struct spec *s,
		   size_t l4)
{
	uint8_t *c = malloc(len);
	struct pkt p;
	enum pkt_error e;

	assert_non_null(c);
	memcpy(c, full, len);
	be16_put(c + 4, (uint16_t)(len - 40));
	e = pkt_parse(&p, c, len);
	if (e == PKT_OK)
		check_bounds(&p, c, len);
	else
		assert_string_not_equal(pkt_error_name(e), "unknown");
	if (len < l4 && !(later(s) && len >= l4 - 8 + 8)) {
		/* inside the chain (a later fragment: before its data) */
		if (len == 40 && s->ext[0].type == HOP)
			assert_int_equal(e, PKT_E_JUMBO);
		else if (e != PKT_E_EXTHDR && e != PKT_E_FRAG)
			fail_msg("cut at %zu of %zu (l4 %zu): %s", len, n, l4, pkt_error_name(e));
	} else if (later(s)) {
		assert_int_equal(e, len == l4 ? PKT_E_FRAG : PKT_OK);
	} else if (s->mf) {
		/* a first fragment: the upper layer may be cut */
		assert_true(e == PKT_OK || e == PKT_E_FRAG);
	} else if (s->proto == TCP && len < l4 + 20 + s->tcp_opt) {
		assert_int_equal(e, PKT_E_L4);
	} else if ((s->proto == UDP || s->proto == ICMP6) && len < l4 + 8) {
		assert_int_equal(e, PKT_E_L4);
	} else if (s->proto == UDP && len < n) {
		assert_int_equal(e, PKT_E_L4);  /* the UDP length says more */
	} else if (s->inner && len < l4 + 8 + 48) {
		assert_int_equal(e, PKT_E_INNER);
	} else if (!(s->inner && s->inner->next)) {
		assert_int_equal(e, PKT_OK);
		if (s->inner)
			assert_true(p.has_inner);
	}
	free(c);
}

static void on_flip(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct pkt p;

	(void)ctx;
	(void)m;
	if (pkt_parse(&p, buf, len) == PKT_OK) {
		check_bounds(&p, buf, len);
		/* setters stay inside too (ASan: buf is an exact heap copy) */
		pkt_set_saddr(&p, &p.outer, &(union nf_addr){ .b = { 0x20, 1, [15] = 1 } });
		pkt_set_dport(&p, &p.outer, 1);
		pkt_set_icmp_id(&p, &p.outer, 2);
		if (p.has_inner) {
			pkt_set_daddr(&p, &p.inner, &(union nf_addr){ .b = { 0xfd, [15] = 9 } });
			pkt_set_sport(&p, &p.inner, 3);
			pkt_set_icmp_id(&p, &p.inner, 4);
		}
		pkt_set_ttl(&p, 1);
	}
}

static void test_mutants(void **state)
{
	size_t count;
	struct spec *s = samples(&count);

	(void)state;
	for (size_t i = 0; i < count; i++) {
		uint8_t b[CAP];
		size_t l4, n = build(b, &s[i], &l4);

		mutate_truncations(b, n, on_trunc, NULL);
		for (size_t len = 40; len < n; len++)
			cut_at(b, n, len, &s[i], l4);
		mutate_bitflips(b, n, on_flip, NULL);
	}
}

/* ---- rewrites ------------------------------------------------------------------ */

enum op_field { OP_SADDR, OP_DADDR, OP_SPORT, OP_DPORT, OP_ICMP_ID, OP_TTL, OP_MAX };

/* Offsets of the checksum fields of the packet p describes. */
static int csum_fields(const struct pkt *p, size_t *at)
{
	int n = 0;

	if (p->outer.csum)
		at[n++] = p->outer.csum;
	if (p->has_inner && p->inner.csum)
		at[n++] = p->inner.csum;
	return n;
}

static void model_apply(struct spec *s, enum op_field f, bool inner, const uint8_t *a,
			uint16_t v)
{
	struct spec *m = inner ? s->inner : s;

	switch (f) {
	case OP_SADDR:
		memcpy(m->src, a, 16);
		break;
	case OP_DADDR:
		memcpy(m->dst, a, 16);
		break;
	case OP_SPORT:
		if ((m->proto == TCP || m->proto == UDP) && !later(m))
			m->sport = v;
		break;
	case OP_DPORT:
		if ((m->proto == TCP || m->proto == UDP) && !later(m))
			m->dport = v;
		break;
	case OP_ICMP_ID:
		if (m->proto == ICMP6 && !later(m) && (m->icmp_type == ICMP6T_ECHO_REQ ||
						       m->icmp_type == ICMP6T_ECHO_REPLY))
			m->sport = v;
		break;
	case OP_TTL:
		s->hlim = (uint8_t)v;
		break;
	case OP_MAX:
		break;
	}
}

static void op_apply(struct pkt *p, enum op_field f, bool inner, const uint8_t *a,
		     uint16_t v)
{
	struct pkt_hdr *h = inner ? &p->inner : &p->outer;
	union nf_addr addr;

	memcpy(addr.b, a, 16);
	switch (f) {
	case OP_SADDR:
		pkt_set_saddr(p, h, &addr);
		break;
	case OP_DADDR:
		pkt_set_daddr(p, h, &addr);
		break;
	case OP_SPORT:
		pkt_set_sport(p, h, v);
		break;
	case OP_DPORT:
		pkt_set_dport(p, h, v);
		break;
	case OP_ICMP_ID:
		pkt_set_icmp_id(p, h, v);
		break;
	case OP_TTL:
		pkt_set_ttl(p, (uint8_t)v);
		break;
	case OP_MAX:
		break;
	}
}

static void gen(struct rng *r, struct spec *s, bool inner)
{
	static const uint8_t protos[] = { TCP, UDP, ICMP6, ICMP6, GRE };
	static const uint8_t xt[] = { HOP, RT, DST, AH, FRAG };
	int nx = (int)rnd(r, 4);
	bool fr = false;

	spec_init(s, protos[rnd(r, ARRAY_SIZE(protos))]);
	rnd_bytes(r, s->src, 16);
	rnd_bytes(r, s->dst, 16);
	if (rnd(r, 3) == 0)
		memset(s->src + 4, 0, 12);  /* runs of zero words */
	s->hlim = (uint8_t)rnd(r, 256);
	for (int i = 0; i < nx; i++) {
		uint8_t t = xt[rnd(r, ARRAY_SIZE(xt))];

		if (t == FRAG && fr)
			t = DST;
		fr |= t == FRAG;
		add_ext(s, t, (uint8_t)rnd(r, 3));
	}
	if (fr && rnd(r, 2)) {
		s->mf = rnd(r, 2);
		s->frag_off = (uint16_t)(rnd(r, 3) * 8 * rnd(r, 200));
	}
	s->sport = (uint16_t)rnd(r, 65536);
	s->dport = (uint16_t)rnd(r, 65536);
	s->tcp_opt = (uint8_t)(4 * rnd(r, 5));
	s->udp_zero = rnd(r, 8) == 0;
	s->data = rnd(r, 3) ? rnd(r, 40) : 0;
	if (s->mf)
		s->data = 8 * rnd_in(r, 1, 6);
	s->seed = (uint8_t)rnd(r, 256);
	if (s->proto == ICMP6) {
		static const uint8_t types[] = { 128, 129, 1, 2, 3, 4, 135, 136 };

		s->icmp_type = types[rnd(r, inner ? 4 : ARRAY_SIZE(types))];
		s->icmp_code = (uint8_t)rnd(r, 5);
		if (!inner && pkt_icmp6_is_error(s->icmp_type))
			s->data = 0;
		if (inner && pkt_icmp6_is_error(s->icmp_type))
			s->icmp_type = ICMP6T_ECHO_REQ;
	}
	if (fr) {
		/* a fragment's data: not empty, a multiple of 8 unless the last */
		uint8_t b[CAP];
		size_t l4, n = build(b, s, &l4), fh = 40;

		for (int i = 0; s->ext[i].type != FRAG; i++)
			fh += ext_len(&s->ext[i]);
		n -= fh + 8;
		if (!n)
			s->data += 8;
		else if (s->mf && n % 8)
			s->data += 8 - n % 8;
	}
}

static void compare(const uint8_t *got, const uint8_t *want, size_t n, const struct pkt *p)
{
	size_t cs[2];
	int nc = csum_fields(p, cs);

	for (size_t i = 0; i < n; i++) {
		bool zero_sign = false;

		for (int k = 0; k < nc; k++)
			if (i == cs[k] || i == cs[k] + 1) {
				size_t c = cs[k];
				uint16_t g = be16_get(got + c), w = be16_get(want + c);

				zero_sign = (g == 0 && w == 0xffff) || (g == 0xffff && w == 0);
			}
		if (got[i] != want[i] && !zero_sign) {
			print_message("proto %u x %#x flags %#x l4 %u inner %d\n", p->outer.proto,
				      p->outer.exthdrs, p->outer.flags, p->outer.l4, p->has_inner);
			fail_msg("byte %zu: %02x, want %02x", i, got[i], want[i]);
		}
	}
}

static void test_property_rewrites(void **state)
{
	struct rng r = { test_seed() };
	unsigned long done = 0, inner_ops = 0;

	(void)state;
	for (int it = 0; it < 4000; it++) {
		struct spec s, in;
		uint8_t b[CAP], want[CAP];
		size_t n, wn, l4;
		struct pkt p, again;
		enum pkt_error e;
		int nops = (int)rnd_in(&r, 1, 6);

		gen(&r, &s, false);
		if (s.proto == ICMP6 && pkt_icmp6_is_error(s.icmp_type) && !s.mf && !s.frag_off) {
			gen(&r, &in, true);
			s.inner = &in;
		} else if (s.proto == ICMP6 && pkt_icmp6_is_error(s.icmp_type)) {
			s.icmp_type = ICMP6T_ECHO_REPLY;
		}
		n = build(b, &s, &l4);
		e = pkt_parse(&p, b, n);
		if (e != PKT_OK) {
			fail_msg("iteration %d: %s", it, pkt_error_name(e));
		}
		check_bounds(&p, b, n);
		assert_int_equal(p.has_inner, s.inner != NULL);
		for (int k = 0; k < nops; k++) {
			enum op_field f = (enum op_field)rnd(&r, OP_MAX);
			bool inner = p.has_inner && rnd(&r, 2);
			uint8_t a[16];
			uint16_t v = (uint16_t)rnd(&r, 65536);

			rnd_bytes(&r, a, 16);
			if (rnd(&r, 4) == 0)
				memcpy(a, inner ? (f == OP_SADDR ? in.src : in.dst)
						: (f == OP_SADDR ? s.src : s.dst), 16); /* no-op */
			if (rnd(&r, 4) == 0)
				memset(a + 2, 0, 14);
			op_apply(&p, f, inner, a, v);
			model_apply(&s, f, inner, a, v);
			inner_ops += inner;
		}
		wn = build(want, &s, &l4);
		assert_int_equal(wn, n);
		compare(b, want, n, &p);
		/* every checksum verifies by a full recomputation */
		if (p.outer.flags & PKT_F_L4 && !(p.outer.flags & PKT_F_FRAG) &&
		    !(s.proto == UDP && s.udp_zero))
			assert_true(l4_verifies(b, p.outer.l4, p.outer.end, p.outer.proto));
		if (p.has_inner && p.inner.flags & PKT_F_L4 && !(p.inner.flags & PKT_F_FRAG) &&
		    !(in.proto == UDP && in.udp_zero))
			assert_true(l4_verifies(b + p.inner.ip, p.inner.l4 - p.inner.ip,
						p.inner.end - p.inner.ip, p.inner.proto));
		assert_int_equal(pkt_parse(&again, b, n), PKT_OK);
		check_hdr_equal(&again.outer, &p.outer);
		if (p.has_inner)
			check_hdr_equal(&again.inner, &p.inner);
		done++;
	}
	print_message("%lu rewritten packets (%lu ops on an inner header)\n", done, inner_ops);
}

/* The setters' checksum updates checked one field at a time against a
 * checksum computed from scratch: outer TCP/UDP/ICMPv6 and an ICMPv6
 * error's outer checksum over a quoted header. */
static void test_setters_full(void **state)
{
	static const uint8_t protos[] = { TCP, UDP, ICMP6 };
	static const uint8_t a1[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 0x42 };
	struct spec s, in;
	uint8_t b[CAP];
	size_t n, l4;
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++) {
		for (int f = 0; f < OP_MAX; f++) {
			spec_init(&s, protos[i]);
			add_ext(&s, HOP, 0);
			n = build(b, &s, &l4);
			assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
			op_apply(&p, (enum op_field)f, false, a1, 0x4242);
			assert_true(l4_verifies(b, l4, n, protos[i]));
			if (f == OP_SADDR)
				assert_memory_equal(b + 8, a1, 16);
			if (f == OP_DADDR)
				assert_memory_equal(b + 24, a1, 16);
			if (f == OP_TTL)
				assert_int_equal(b[7], 0x42);
			/* csum_l4_6 agrees with the reference */
			assert_int_equal(csum_l4_6(b + 8, b + 24, protos[i], b + l4, n - l4),
					 be16_get(b + p.outer.csum));
		}
		/* an ICMPv6 error quoting a packet of this protocol */
		for (int f = 0; f < OP_TTL; f++) {
			spec_init(&s, ICMP6);
			s.icmp_type = 3;
			spec_init(&in, protos[i]);
			memcpy(in.src, UPL, 16);
			s.inner = &in;
			n = build(b, &s, &l4);
			assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
			op_apply(&p, (enum op_field)f, true, a1, 0x4242);
			assert_true(l4_verifies(b, l4, n, ICMP6));
			assert_true(l4_verifies(b + 48, p.inner.l4 - 48, n - 48, protos[i]));
		}
	}
	/* pseudo-header sums against the reference */
	{
		uint8_t sa[16], da[16];
		struct rng r = { test_seed() };

		for (int k = 0; k < 1000; k++) {
			uint32_t len = rnd(&r, 2) ? (uint32_t)rnd(&r, 70000) : 0xffff;
			uint8_t ph[40] = { 0 };

			rnd_bytes(&r, sa, 16);
			rnd_bytes(&r, da, 16);
			memcpy(ph, sa, 16);
			memcpy(ph + 16, da, 16);
			be32_put(ph + 32, len);
			ph[39] = (uint8_t)k;
			assert_int_equal(ref_fold(csum_pseudo6(sa, da, (uint8_t)k, len)),
					 ref_fold(ref_sum(0, ph, 40)));
		}
	}
}

/* UDP with checksum 0: accepted (as Linux's conntrack does), and kept 0 by
 * every rewrite. */
static void test_udp_zero(void **state)
{
	static const uint8_t a[16] = { 0x20, 0x01, [15] = 7 };
	struct spec s;
	uint8_t b[CAP];
	size_t n, l4;
	struct pkt p;

	(void)state;
	spec_init(&s, UDP);
	s.udp_zero = true;
	n = build(b, &s, &l4);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(be16_get(b + p.outer.csum), 0);
	pkt_set_saddr(&p, &p.outer, &(union nf_addr){ .b = { 0x20, 0x01, [15] = 7 } });
	pkt_set_daddr(&p, &p.outer, (const union nf_addr *)a);
	pkt_set_sport(&p, &p.outer, 1);
	pkt_set_dport(&p, &p.outer, 2);
	assert_int_equal(be16_get(b + p.outer.csum), 0);
	assert_int_equal(p.outer.sport, 1);
	assert_int_equal(p.outer.dport, 2);
	assert_memory_equal(b + 8, a, 16);
	assert_memory_equal(b + 24, a, 16);
}

/* IPv6 leaves IPv4 parsing and the v4 view as they were: an IPv4 header has
 * no exthdrs or frag_hdr. */
static void test_v4_fields(void **state)
{
	uint8_t b[28] = { 0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
			  0x12, 0x34, 0, 53, 0, 8, 0, 0 };
	struct pkt p;

	(void)state;
	be16_put(b + 10, csum_ip(b, 20));
	assert_int_equal(pkt_parse(&p, b, sizeof(b)), PKT_OK);
	assert_int_equal(p.outer.family, NF_V4);
	assert_int_equal(p.outer.exthdrs, 0);
	assert_int_equal(p.outer.frag_hdr, 0);
	assert_int_equal(p.outer.saddr.ip, 0x0a000001);
	b[9] = ICMP6;
	be16_put(b + 10, 0);
	be16_put(b + 10, csum_ip(b, 20));
	assert_int_equal(pkt_parse(&p, b, sizeof(b)), PKT_OK);
	assert_false(p.outer.flags & PKT_F_L4);  /* ICMPv6 in IPv4: opaque */
}

/* IPv6 fragments are not reassembled yet: frag_add refuses them whole
 * (a long unfragmentable part must not reach the IPv4 header copy). */
/* frag keeps a 232-byte unfragmentable part (past the 60 bytes an IPv4
 * header takes) and queues both fragments under one key. */
static void test_frag_keeps_v6(void **state)
{
	static uint8_t out[FRAG_MAX_DATAGRAM];
	struct frag_config cfg;
	struct frag_stats st;
	struct frag *f;
	struct spec s;
	uint8_t b[CAP];
	size_t n, l4, olen;
	struct pkt p;

	(void)state;
	frag_config_default(&cfg);
	assert_int_equal(frag_create(&f, &cfg), 0);
	for (int later_frag = 0; later_frag < 2; later_frag++) {
		spec_init(&s, UDP);
		add_ext(&s, HOP, 7);
		add_ext(&s, DST, 7);
		add_ext(&s, RT, 7);
		add_ext(&s, FRAG, 0);
		s.mf = true;
		s.frag_off = later_frag ? 64 : 0;
		s.data = later_frag ? 64 : 56;
		n = build(b, &s, &l4);
		assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
		assert_true(p.outer.flags & PKT_F_FRAG);
		assert_int_equal(p.outer.frag_hdr, 40 + 3 * 64);
		assert_int_equal(frag_add(f, 0, &p, out, sizeof(out), &olen), FRAG_PENDING);
	}
	frag_get_stats(f, &st);
	assert_int_equal(st.drop[FRAG_DROP_INVALID], 0);
	assert_int_equal(st.queues, 1);
	frag_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat),
		cmocka_unit_test(test_exthdrs),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_icmp6),
		cmocka_unit_test(test_mutants),
		cmocka_unit_test(test_setters_full),
		cmocka_unit_test(test_udp_zero),
		cmocka_unit_test(test_v4_fields),
		cmocka_unit_test(test_frag_keeps_v6),
		cmocka_unit_test(test_property_rewrites),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
