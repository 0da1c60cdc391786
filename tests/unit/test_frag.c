/* SPDX-License-Identifier: MIT */
/*
 * nat/frag: IPv4 and IPv6 reassembly, fragmenting on output.
 *
 * Datagrams are built whole (UDP with a valid checksum, optional IP options)
 * and cut into fragments the way a sender does: the first carries the whole
 * header, later ones a 20-byte header (options here are not "copied" ones).
 * A reassembled datagram must equal the original byte for byte and parse.
 * Property loops are seeded (GW_TEST_SEED) and print their seed.
 *
 * IPv6 datagrams (second half) are built the same way with extension
 * headers before the fragment header (the unfragmentable part, copied into
 * every fragment) and after it (the start of the fragmentable part), and
 * cut by a sender written here, independently of ip6_fragment.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"
#include "tests/unit/util_mutate.h"
#include "tests/unit/util_rng.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SEC 1000000000ULL

enum { P_UDP = 17 };
enum { SRC = 0xcb007107, DST = 0xc0a8010a };  /* 203.0.113.7 -> 192.168.1.10 */
enum { IP_MF = 0x2000, IP_DF = 0x4000 };
enum { T0 = 1000 };                             /* seconds */

/* ---- helpers ------------------------------------------------------------ */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	assert_non_null(p);
	return p;
}

/* A whole datagram: header of hlen bytes (options NOP), UDP of plen bytes. */
struct dgram {
	uint8_t *b;
	size_t len, hlen;
	uint16_t id;
	uint32_t src;
};

static void dgram_build(struct dgram *d, size_t hlen, size_t plen, uint16_t id,
			uint32_t src, uint8_t tos, uint8_t salt)
{
	uint8_t *b;

	assert_true(plen >= 8 && hlen + plen <= 65535);
	d->len = hlen + plen;
	d->hlen = hlen;
	d->id = id;
	d->src = src;
	d->b = b = xmalloc(d->len);
	memset(b, 0, hlen);
	b[0] = (uint8_t)(0x40 | hlen / 4);
	b[1] = tos;
	be16_put(b + 2, (uint16_t)d->len);
	be16_put(b + 4, id);
	b[8] = 64;
	b[9] = P_UDP;
	be32_put(b + 12, src);
	be32_put(b + 16, DST);
	memset(b + 20, 1, hlen - 20);  /* NOP options */
	be16_put(b + 10, csum_ip(b, hlen));
	for (size_t i = hlen; i < d->len; i++)
		b[i] = (uint8_t)((i - hlen) * 131 + salt + (i - hlen) / 251);
	be16_put(b + hlen, 40000);
	be16_put(b + hlen + 2, 53);
	be16_put(b + hlen + 4, (uint16_t)plen);
	be16_put(b + hlen + 6, 0);
	be16_put(b + hlen + 6, csum_l4(src, DST, P_UDP, b + hlen, plen));
}

static void dgram_free(struct dgram *d)
{
	free(d->b);
}

/* Fragment of payload [off, off + n); flags adds DF (MF follows from the
 * position unless force_mf).  Returns a heap buffer of exactly *len bytes. */
static uint8_t *dgram_frag(const struct dgram *d, unsigned off, unsigned n,
			   uint16_t flags, size_t *len)
{
	size_t h = off ? 20 : d->hlen;
	size_t plen = d->len - d->hlen;
	uint8_t *b;

	assert_true(off + n <= plen && off % 8 == 0);
	*len = h + n;
	b = xmalloc(*len);
	memcpy(b, d->b, 20);
	if (h > 20)
		memcpy(b + 20, d->b + 20, h - 20);
	b[0] = (uint8_t)(0x40 | h / 4);
	be16_put(b + 2, (uint16_t)*len);
	if (off + n < plen)
		flags |= IP_MF;
	be16_put(b + 6, (uint16_t)(flags | off / 8));
	be16_put(b + 10, 0);
	be16_put(b + 10, csum_ip(b, h));
	memcpy(b + h, d->b + d->hlen + off, n);
	return b;
}

/* A fragment of a UDP datagram that exists only in pieces: header of hlen
 * bytes, payload [off, off + n) of filler (a UDP header at offset 0). */
static uint8_t *raw_frag(size_t hlen, uint16_t id, unsigned off, unsigned n,
			 bool mf, size_t *len)
{
	uint8_t *b;

	*len = hlen + n;
	b = xmalloc(*len);
	memset(b, 0, hlen);
	memset(b + 20, 1, hlen - 20);
	b[0] = (uint8_t)(0x40 | hlen / 4);
	be16_put(b + 2, (uint16_t)*len);
	be16_put(b + 4, id);
	be16_put(b + 6, (uint16_t)((mf ? IP_MF : 0) | off / 8));
	b[8] = 64;
	b[9] = P_UDP;
	be32_put(b + 12, SRC);
	be32_put(b + 16, DST);
	be16_put(b + 10, csum_ip(b, hlen));
	memset(b + hlen, 0x11, n);
	if (!off) {
		be16_put(b + hlen + 4, 0xffff);
		be16_put(b + hlen + 6, 0);
	}
	return b;
}

/* Parse buf (must succeed) and add it. */
static enum frag_result add_buf(struct frag *f, uint64_t now, uint8_t *buf,
				size_t len, uint8_t *out, size_t cap, size_t *olen)
{
	struct pkt p;

	assert_int_equal(pkt_parse(&p, buf, len), PKT_OK);
	assert_true(p.outer.flags & PKT_F_FRAG);
	return frag_add(f, now, &p, out, cap, olen);
}

static enum frag_result add(struct frag *f, uint64_t now, const struct dgram *d,
			    unsigned off, unsigned n, uint16_t flags,
			    uint8_t *out, size_t *olen)
{
	size_t len;
	uint8_t *b = dgram_frag(d, off, n, flags, &len);
	enum frag_result r = add_buf(f, now, b, len, out, 65535, olen);

	free(b);
	return r;
}

/* out holds d again, and parses as a whole UDP datagram. */
static void assert_whole(const struct dgram *d, uint8_t *out, size_t olen)
{
	struct pkt p;

	assert_int_equal(olen, d->len);
	assert_memory_equal(out, d->b, d->len);
	assert_int_equal(pkt_parse(&p, out, olen), PKT_OK);
	assert_false(p.outer.flags & PKT_F_FRAG);
	assert_true(p.outer.flags & PKT_F_L4);
	assert_int_equal(csum_l4(p.outer.saddr.ip, p.outer.daddr.ip, P_UDP,
				 out + p.outer.l4, olen - p.outer.l4),
			 be16_get(out + p.outer.l4 + 6));
}

static struct frag *mk(uint32_t queues, size_t bytes)
{
	struct frag_config cfg;
	struct frag *f;

	frag_config_default(&cfg);
	cfg.max_queues = queues;
	cfg.max_bytes = bytes;
	cfg.hash_seed = 42;
	assert_int_equal(frag_create(&f, &cfg), 0);
	return f;
}

static struct frag_stats stats(const struct frag *f)
{
	struct frag_stats st;

	frag_get_stats(f, &st);
	return st;
}

static uint8_t out[FRAG_MAX_DATAGRAM6 + 1];

/* ---- basic orders ------------------------------------------------------- */

static void test_config(void **state)
{
	struct frag_config cfg;
	struct frag *f;

	(void)state;
	frag_config_default(&cfg);
	assert_int_equal(cfg.max_bytes, 4u << 20);
	assert_int_equal(cfg.timeout_ns, 30 * SEC);
	cfg.max_queues = 0;
	assert_int_equal(frag_create(&f, &cfg), -EINVAL);
	assert_null(f);
	frag_config_default(&cfg);
	cfg.max_bytes = 100;
	assert_int_equal(frag_create(&f, &cfg), -EINVAL);
	frag_config_default(&cfg);
	cfg.timeout_ns = 0;
	assert_int_equal(frag_create(&f, &cfg), -EINVAL);
	frag_destroy(NULL);
	f = mk(16, 1 << 20);
	assert_int_equal(frag_next_deadline(f), UINT64_MAX);
	assert_int_equal(stats(f).max_queues, 16);
	assert_int_equal(stats(f).max_bytes, 1 << 20);
	frag_destroy(f);
}

static void test_in_order(void **state)
{
	struct frag *f = mk(16, 1 << 20);
	struct dgram d;
	size_t olen = 1;
	struct frag_stats st;

	(void)state;
	dgram_build(&d, 20, 3008, 0x1234, SRC, 0, 1);
	assert_int_equal(add(f, T0 * SEC, &d, 0, 1480, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(olen, 0);
	assert_int_equal(frag_next_deadline(f), (T0 + 30) * SEC);
	assert_int_equal(add(f, T0 * SEC, &d, 1480, 1480, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, T0 * SEC + 1, &d, 2960, 48, 0, out, &olen), FRAG_DONE);
	assert_whole(&d, out, olen);
	assert_int_equal(frag_max_size(f), 1500);
	st = stats(f);
	assert_int_equal(st.reqds, 3);
	assert_int_equal(st.oks, 1);
	assert_int_equal(st.fails, 0);
	assert_int_equal(st.queues, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(frag_next_deadline(f), UINT64_MAX);
	dgram_free(&d);
	frag_destroy(f);
}

static void test_reverse_with_options(void **state)
{
	struct frag *f = mk(16, 1 << 20);
	struct dgram d;
	size_t olen;
	unsigned plen = 1000;

	(void)state;
	dgram_build(&d, 32, plen, 7, SRC, 0, 2);
	for (int off = 992; off >= 0; off -= 8) {
		unsigned n = off == 992 ? plen - 992 : 8;
		enum frag_result r = add(f, T0 * SEC, &d, (unsigned)off, n, 0, out, &olen);

		assert_int_equal(r, off ? FRAG_PENDING : FRAG_DONE);
	}
	assert_whole(&d, out, olen);
	dgram_free(&d);
	frag_destroy(f);
}

/* Two fragments: the smallest legal split, and an odd last fragment. */
static void test_small(void **state)
{
	struct frag *f = mk(4, 4096);
	struct dgram d;
	size_t olen;

	(void)state;
	dgram_build(&d, 20, 9, 9, SRC, 0, 3);
	assert_int_equal(add(f, T0 * SEC, &d, 8, 1, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, T0 * SEC, &d, 0, 8, 0, out, &olen), FRAG_DONE);
	assert_whole(&d, out, olen);
	dgram_free(&d);
	frag_destroy(f);
}

static void test_not_a_fragment(void **state)
{
	struct frag *f = mk(4, 4096);
	struct dgram d;
	struct pkt p;
	size_t olen;

	(void)state;
	dgram_build(&d, 20, 100, 9, SRC, 0, 3);
	assert_int_equal(pkt_parse(&p, d.b, d.len), PKT_OK);
	assert_int_equal(frag_add(f, 0, &p, out, sizeof(out), &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 1);
	assert_int_equal(stats(f).queues, 0);
	dgram_free(&d);
	frag_destroy(f);
}

/* ---- duplicates and overlaps ------------------------------------------- */

static void test_duplicates(void **state)
{
	struct frag *f = mk(16, 1 << 20);
	struct dgram d, other;
	size_t olen, len;
	uint8_t *b;

	(void)state;
	dgram_build(&d, 20, 2000, 77, SRC, 0, 4);
	dgram_build(&other, 20, 2000, 77, SRC, 0, 99);  /* same key, other bytes */
	assert_int_equal(add(f, 0, &d, 0, 800, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, 0, &d, 0, 800, 0, out, &olen), FRAG_DROP);
	assert_int_equal(add(f, 0, &d, 800, 800, 0, out, &olen), FRAG_PENDING);
	/* Inside the run [0, 1600): ignored whatever its bytes, also across
	 * the two fragments that made the run. */
	assert_int_equal(add(f, 0, &other, 400, 800, 0, out, &olen), FRAG_DROP);
	assert_int_equal(add(f, 0, &other, 1592, 8, 0, out, &olen), FRAG_DROP);
	/* A last fragment that lies inside: a duplicate too. */
	b = dgram_frag(&d, 800, 800, 0, &len);
	be16_put(b + 6, 800 / 8);
	be16_put(b + 10, 0);
	be16_put(b + 10, csum_ip(b, 20));
	assert_int_equal(add_buf(f, 0, b, len, out, sizeof(out), &olen), FRAG_DROP);
	free(b);
	assert_int_equal(stats(f).drop[FRAG_DROP_DUP], 4);
	/* ... but it set the end at 1600 (as Linux): the true last one now
	 * lies past it and the queue is dropped. */
	assert_int_equal(add(f, 0, &d, 1600, 400, 0, out, &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 1);
	assert_int_equal(stats(f).queues, 0);

	/* Again without the trap: duplicates of every piece, then done. */
	for (unsigned off = 0; off < 2000; off += 400) {
		assert_int_equal(add(f, 0, &d, off, 400, 0, out, &olen),
				 off == 1600 ? FRAG_DONE : FRAG_PENDING);
		if (off < 1600)
			assert_int_equal(add(f, 0, &other, off, 400, 0, out, &olen),
					 FRAG_DROP);
	}
	assert_whole(&d, out, olen);
	assert_int_equal(stats(f).drop[FRAG_DROP_DUP], 8);
	dgram_free(&d);
	dgram_free(&other);
	frag_destroy(f);
}

/* Pieces given in order; expect is the result of the last one. */
struct overlap_case {
	const char *name;
	unsigned n;
	struct { unsigned off, len; } piece[4];
	enum frag_result last;
	enum frag_drop_reason why;
};

static const struct overlap_case overlap_cases[] = {
	/* 1 */ { "head overlaps tail", 2, { { 0, 16 }, { 8, 16 } }, FRAG_DROP, FRAG_DROP_OVERLAP },
	/* 2 */ { "tail overlaps head", 2, { { 8, 16 }, { 0, 16 } }, FRAG_DROP, FRAG_DROP_OVERLAP },
	/* 3 */ { "covers a smaller one", 2, { { 8, 8 }, { 0, 24 } }, FRAG_DROP, FRAG_DROP_OVERLAP },
	/* 4 */ { "inside two runs", 3, { { 8, 8 }, { 0, 8 }, { 0, 16 } }, FRAG_DROP, FRAG_DROP_OVERLAP },
	/* 5 */ { "inside one run", 3, { { 0, 8 }, { 8, 8 }, { 0, 16 } }, FRAG_DROP, FRAG_DROP_DUP },
	/* 6 */ { "fills a gap exactly", 3, { { 0, 8 }, { 16, 8 }, { 8, 8 } }, FRAG_PENDING, 0 },
	/* 7 */ { "gap plus one unit", 3, { { 0, 8 }, { 24, 8 }, { 8, 24 } }, FRAG_DROP, FRAG_DROP_OVERLAP },
	/* 8 */ { "across a block", 2, { { 0, 1024 }, { 504, 16 } }, FRAG_DROP, FRAG_DROP_DUP },
	/* 9 */ { "touches the end", 2, { { 512, 512 }, { 0, 520 } }, FRAG_DROP, FRAG_DROP_OVERLAP },
};

static void test_overlaps(void **state)
{
	struct dgram d;

	(void)state;
	dgram_build(&d, 20, 4000, 5, SRC, 0, 5);
	for (size_t i = 0; i < ARRAY_SIZE(overlap_cases); i++) {
		const struct overlap_case *c = &overlap_cases[i];
		struct frag *f = mk(4, 1 << 20);
		enum frag_result r = FRAG_DROP;
		size_t olen;

		for (unsigned k = 0; k < c->n; k++) {
			r = add(f, 0, &d, c->piece[k].off, c->piece[k].len, 0, out, &olen);
			if (k + 1 < c->n && r != FRAG_PENDING)
				fail_msg("case %zu (%s): piece %u not kept", i + 1, c->name, k);
		}
		if (r != c->last)
			fail_msg("case %zu (%s): result %d", i + 1, c->name, r);
		if (r == FRAG_DROP && stats(f).drop[c->why] != 1)
			fail_msg("case %zu (%s): wrong reason", i + 1, c->name);
		if (c->why == FRAG_DROP_OVERLAP && r == FRAG_DROP) {
			assert_int_equal(stats(f).queues, 0);
			assert_int_equal(stats(f).overlaps, 1);
			assert_int_equal(stats(f).bytes, 0);
		}
		frag_destroy(f);
	}
	dgram_free(&d);
}

/* The end of the datagram: the last fragment sets it, once. */
static void test_end_rules(void **state)
{
	struct dgram d, e;
	struct frag *f = mk(4, 1 << 20);
	size_t olen;

	(void)state;
	dgram_build(&d, 20, 100, 6, SRC, 0, 6);
	dgram_build(&e, 20, 200, 6, SRC, 0, 6);  /* same key, longer */
	/* Two last fragments that disagree. */
	assert_int_equal(add(f, 0, &d, 96, 4, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, 0, &e, 192, 8, 0, out, &olen), FRAG_DROP);
	assert_int_equal(stats(f).queues, 0);
	/* A last fragment ending before data already queued. */
	assert_int_equal(add(f, 0, &e, 96, 8, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, 0, &d, 96, 4, 0, out, &olen), FRAG_DROP);
	/* Data past the last fragment. */
	assert_int_equal(add(f, 0, &d, 96, 4, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, 0, &e, 96, 8, 0, out, &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 3);
	assert_int_equal(stats(f).fails, 3);
	assert_int_equal(stats(f).queues, 0);
	dgram_free(&d);
	dgram_free(&e);
	frag_destroy(f);
}

/* ---- timeouts ----------------------------------------------------------- */

struct quotes {
	unsigned n;
	size_t len;
	uint8_t b[FRAG_QUOTE_MAX];
};

static void on_timeout(void *ctx, const uint8_t *first, size_t len)
{
	struct quotes *q = ctx;

	assert_true(len <= FRAG_QUOTE_MAX);
	q->n++;
	q->len = len;
	memcpy(q->b, first, len);
}

static void test_timeout(void **state)
{
	struct frag *f = mk(16, 1 << 20);
	struct dgram d, e;
	struct quotes qs = { 0 };
	size_t olen, flen;
	uint64_t t = T0 * SEC;
	uint8_t *first;

	(void)state;
	dgram_build(&d, 24, 3000, 1, SRC, 0, 7);
	dgram_build(&e, 20, 3000, 2, SRC, 0, 8);
	assert_int_equal(add(f, t, &d, 0, 1480, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, t + 5 * SEC, &e, 1480, 1480, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, t + 10 * SEC, &d, 2960, 40, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(frag_next_deadline(f), t + 30 * SEC);
	assert_int_equal(frag_expire(f, t + 30 * SEC - 1, on_timeout, &qs), 0);
	assert_int_equal(qs.n, 0);
	assert_int_equal(frag_expire(f, t + 30 * SEC, on_timeout, &qs), 1);
	/* The first fragment as received, cut to what ICMP quotes. */
	first = dgram_frag(&d, 0, 1480, 0, &flen);
	assert_int_equal(qs.n, 1);
	assert_int_equal(qs.len, FRAG_QUOTE_MAX);
	assert_memory_equal(qs.b, first, FRAG_QUOTE_MAX);
	free(first);
	assert_int_equal(frag_next_deadline(f), t + 35 * SEC);
	/* The missing piece now starts a new queue. */
	assert_int_equal(add(f, t + 31 * SEC, &d, 1480, 1480, 0, out, &olen), FRAG_PENDING);
	/* No first fragment: no callback. */
	assert_int_equal(frag_expire(f, t + 35 * SEC, on_timeout, &qs), 1);
	assert_int_equal(qs.n, 1);
	assert_int_equal(stats(f).timeouts, 2);
	/* A queue past its deadline is not joined even without frag_expire. */
	assert_int_equal(add(f, t + 50 * SEC, &d, 0, 1480, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, t + 61 * SEC, &d, 2960, 40, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(stats(f).timeouts, 3);
	assert_int_equal(stats(f).queues, 1);
	assert_int_equal(add(f, t + 61 * SEC, &d, 0, 1480, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, t + 62 * SEC, &d, 1480, 1480, 0, out, &olen), FRAG_DONE);
	assert_whole(&d, out, olen);
	assert_int_equal(frag_expire(f, UINT64_MAX, NULL, NULL), 0);
	/* A short first fragment is quoted whole. */
	assert_int_equal(add(f, t, &e, 0, 64, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(frag_expire(f, UINT64_MAX, on_timeout, &qs), 1);
	first = dgram_frag(&e, 0, 64, 0, &flen);
	assert_int_equal(qs.len, flen);
	assert_memory_equal(qs.b, first, flen);
	free(first);
	assert_int_equal(stats(f).bytes, 0);
	dgram_free(&d);
	dgram_free(&e);
	frag_destroy(f);
}

/* ---- memory bound ------------------------------------------------------- */

static void test_budget_evicts_oldest(void **state)
{
	/* 16 blocks of 512: each queue below takes 3 (1480 bytes). */
	struct frag *f = mk(64, 16 * 512);
	struct dgram d[8];
	size_t olen;
	struct frag_stats st;

	(void)state;
	for (unsigned i = 0; i < 8; i++) {
		dgram_build(&d[i], 20, 2000, (uint16_t)(100 + i), SRC, 0, (uint8_t)i);
		assert_int_equal(add(f, (T0 + i) * SEC, &d[i], 0, 1480, 0, out, &olen),
				 FRAG_PENDING);
	}
	st = stats(f);
	assert_int_equal(st.evicted, 3);   /* 8 x 3 blocks > 16: the first three */
	assert_int_equal(st.fails, 3);
	assert_int_equal(st.queues, 5);
	assert_int_equal(st.bytes, 15 * 512);
	assert_true(st.bytes <= st.max_bytes);
	assert_int_equal(frag_next_deadline(f), (T0 + 3 + 30) * SEC);
	/* The newest completes; the evicted one starts over. */
	assert_int_equal(add(f, (T0 + 9) * SEC, &d[7], 1480, 520, 0, out, &olen), FRAG_DONE);
	assert_whole(&d[7], out, olen);
	assert_int_equal(add(f, (T0 + 9) * SEC, &d[0], 1480, 520, 0, out, &olen), FRAG_PENDING);
	/* A queue never evicts itself to grow, but fails when alone. */
	frag_destroy(f);
	f = mk(4, 2 * 512);
	assert_int_equal(add(f, 0, &d[0], 0, 1480, 0, out, &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_NOMEM], 1);
	assert_int_equal(stats(f).queues, 0);
	assert_int_equal(add(f, 0, &d[0], 0, 1024, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, 0, &d[0], 1024, 8, 0, out, &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_NOMEM], 2);
	assert_int_equal(stats(f).bytes, 0);
	for (unsigned i = 0; i < 8; i++)
		dgram_free(&d[i]);
	frag_destroy(f);
}

static void test_queue_table_full(void **state)
{
	struct frag *f = mk(4, 1 << 20);
	struct dgram d[6];
	size_t olen;

	(void)state;
	for (unsigned i = 0; i < 6; i++) {
		dgram_build(&d[i], 20, 100, 1, SRC + i, 0, (uint8_t)i);
		assert_int_equal(add(f, i, &d[i], 0, 8, 0, out, &olen), FRAG_PENDING);
	}
	assert_int_equal(stats(f).queues, 4);
	assert_int_equal(stats(f).evicted, 2);
	assert_int_equal(frag_next_deadline(f), 2 + 30 * SEC);
	for (unsigned i = 6; i-- > 0;)
		assert_int_equal(add(f, 10, &d[i], 8, 92, 0, out, &olen),
				 i < 2 ? FRAG_PENDING : FRAG_DONE);
	assert_int_equal(stats(f).evicted, 2);
	assert_int_equal(stats(f).oks, 4);
	assert_int_equal(stats(f).queues, 2);
	for (unsigned i = 0; i < 6; i++)
		dgram_free(&d[i]);
	frag_destroy(f);
}

/* ---- sizes, ECN, DF ----------------------------------------------------- */

static void test_max_size(void **state)
{
	struct frag *f = mk(4, 1 << 20);
	struct dgram d;
	size_t olen;
	unsigned plen = 65535 - 20;

	(void)state;
	dgram_build(&d, 20, plen, 3, SRC, 0, 9);
	for (unsigned off = 0; off < plen; off += 8192) {
		unsigned n = plen - off < 8192 ? plen - off : 8192;

		assert_int_equal(add(f, 0, &d, off, n, 0, out, &olen),
				 off + n == plen ? FRAG_DONE : FRAG_PENDING);
	}
	assert_whole(&d, out, olen);
	/* Too small an output buffer: the queue is dropped. */
	assert_int_equal(add(f, 0, &d, 0, 65504, 0, out, &olen), FRAG_PENDING);
	{
		size_t len;
		uint8_t *b = dgram_frag(&d, 65504, plen - 65504, 0, &len);

		assert_int_equal(add_buf(f, 0, b, len, out, 65534, &olen), FRAG_DROP);
		free(b);
	}
	assert_int_equal(stats(f).drop[FRAG_DROP_TOO_BIG], 1);
	dgram_free(&d);

	/* Options on the first fragment push the datagram past 65535: 60 +
	 * 65535 bytes of payload. */
	for (unsigned off = 0; off < 65535; off += 8184) {
		unsigned n = 65535 - off < 8184 ? 65535 - off : 8184;
		size_t len;
		uint8_t *b = raw_frag(off ? 20 : 60, 4, off, n, off + n < 65535, &len);

		assert_int_equal(add_buf(f, 0, b, len, out, sizeof(out), &olen),
				 off + n < 65535 ? FRAG_PENDING : FRAG_DROP);
		free(b);
	}
	assert_int_equal(stats(f).drop[FRAG_DROP_TOO_BIG], 2);
	assert_int_equal(stats(f).queues, 0);
	frag_destroy(f);
}

static void test_ecn_df(void **state)
{
	struct frag *f = mk(4, 1 << 20);
	struct dgram d, ce, notect;
	size_t olen;
	struct pkt p;

	(void)state;
	dgram_build(&d, 20, 100, 1, SRC, 0x02, 1);       /* ECT(0) */
	dgram_build(&ce, 20, 100, 1, SRC, 0x03, 1);      /* CE */
	dgram_build(&notect, 20, 100, 1, SRC, 0x00, 1);  /* not-ECT */
	/* ECT(0) + CE: CE in the result. */
	assert_int_equal(add(f, 0, &d, 0, 48, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, 0, &ce, 48, 52, 0, out, &olen), FRAG_DONE);
	assert_int_equal(out[1], 0x03);
	assert_int_equal(pkt_parse(&p, out, olen), PKT_OK);
	assert_memory_equal(out + 20, d.b + 20, 80);
	/* not-ECT + CE: invalid. */
	assert_int_equal(add(f, 0, &notect, 0, 48, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, 0, &ce, 48, 52, 0, out, &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 1);
	/* DF on every fragment: DF kept. */
	assert_int_equal(add(f, 0, &d, 0, 48, IP_DF, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, 0, &d, 48, 52, IP_DF, out, &olen), FRAG_DONE);
	assert_int_equal(be16_get(out + 6), IP_DF);
	assert_int_equal(pkt_parse(&p, out, olen), PKT_OK);
	/* DF only on the smaller fragment: cleared (max_df_size < max_size). */
	assert_int_equal(add(f, 0, &d, 0, 56, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(add(f, 0, &d, 56, 44, IP_DF, out, &olen), FRAG_DONE);
	assert_int_equal(be16_get(out + 6), 0);
	assert_whole(&d, out, olen);
	assert_int_equal(frag_max_size(f), 76);
	dgram_free(&d);
	dgram_free(&ce);
	dgram_free(&notect);
	frag_destroy(f);
}

/* ---- random orders, interleaved, duplicated ----------------------------- */

enum { MAXPIECES = 8200 };

struct piece {
	uint16_t dg;
	uint16_t idx;
	unsigned off, len;
};

struct plan {
	struct dgram d;
	unsigned npieces, have;
	uint8_t *got;
};

static void test_random_orders(void **state)
{
	struct rng r = { test_seed() };
	struct frag *f = mk(64, 16u << 20);
	unsigned long total = 0;

	(void)state;
	for (int round = 0; round < 200; round++) {
		unsigned ndg = 1 + rnd(&r, 6), nseq = 0;
		struct plan pl[6];
		struct piece *seq = xmalloc(2 * 6 * MAXPIECES * sizeof(*seq));

		for (unsigned i = 0; i < ndg; i++) {
			unsigned plen, maxp, off = 0;
			size_t hlen = 20 + 4 * rnd(&r, 11);

			switch (rnd(&r, 3)) {
			case 0: plen = 9 + rnd(&r, 200); break;
			case 1: plen = 9 + rnd(&r, 6000); break;
			default: plen = 9 + rnd(&r, (unsigned)(65535 - hlen - 8)); break;
			}
			maxp = 8 * (1 + rnd(&r, plen > 4096 ? 1024 : 64));
			if (!rnd(&r, 8))
				maxp = 8 * (1 + rnd(&r, 4));  /* thousands of pieces */
			dgram_build(&pl[i].d, hlen, plen, (uint16_t)rnd(&r, 4),
				    SRC + rnd(&r, 2), 0, (uint8_t)rnd64(&r));
			/* keys differ between the datagrams of a round */
			pl[i].d.b[4] = (uint8_t)i;
			be16_put(pl[i].d.b + 10, 0);
			be16_put(pl[i].d.b + 10, csum_ip(pl[i].d.b, hlen));
			pl[i].npieces = 0;
			while (off < plen) {
				unsigned n = 8 * (1 + rnd(&r, maxp / 8));

				if (n > plen - off)
					n = plen - off;
				if (n == plen)  /* at least two fragments */
					n = (plen - 1) & ~7u;
				seq[nseq++] = (struct piece){ (uint16_t)i, (uint16_t)pl[i].npieces, off, n };
				pl[i].npieces++;
				off += n;
			}
			pl[i].got = calloc(pl[i].npieces, 1);
			pl[i].have = 0;
		}
		/* Exact duplicates of a few pieces. */
		for (unsigned k = 0, n = nseq; k < n / 8; k++)
			seq[nseq++] = seq[rnd(&r, n)];
		for (unsigned i = nseq - 1; i > 0; i--) {
			unsigned j = rnd(&r, i + 1);
			struct piece t = seq[i];

			seq[i] = seq[j];
			seq[j] = t;
		}
		total += nseq;
		for (unsigned k = 0; k < nseq; k++) {
			struct plan *p = &pl[seq[k].dg];
			size_t olen;
			enum frag_result want, got;

			if (p->got[seq[k].idx]) {
				want = FRAG_DROP;
			} else {
				p->got[seq[k].idx] = 1;
				want = ++p->have == p->npieces ? FRAG_DONE : FRAG_PENDING;
			}
			got = add(f, T0 * SEC + k, &p->d, seq[k].off, seq[k].len, 0, out, &olen);
			if (got != want)
				fail_msg("round %d piece %u of datagram %u: %d, want %d",
					 round, k, seq[k].dg, got, want);
			if (got == FRAG_DONE) {
				assert_whole(&p->d, out, olen);
				/* A new queue starts from here (late duplicates). */
				memset(p->got, 0, p->npieces);
				p->have = 0;
			}
		}
		for (unsigned i = 0; i < ndg; i++) {
			dgram_free(&pl[i].d);
			free(pl[i].got);
		}
		free(seq);
		frag_expire(f, UINT64_MAX, NULL, NULL);
		assert_int_equal(stats(f).queues, 0);
		assert_int_equal(stats(f).bytes, 0);
	}
	print_message("fragments: %lu, datagrams: %llu\n", total,
		      (unsigned long long)stats(f).oks);
	assert_int_equal(stats(f).evicted, 0);
	assert_int_equal(stats(f).drop[FRAG_DROP_OVERLAP], 0);
	frag_destroy(f);
}

/* ---- mutants ------------------------------------------------------------ */

struct mut_ctx {
	const struct dgram *d;
	unsigned which;          /* the fragment being mutated */
	unsigned long fed, done;
};

static const struct { unsigned off, len; } mut_pieces[] = { { 0, 16 }, { 16, 16 }, { 32, 10 } };

/* Feed the mutant in place of fragment c->which, the others unchanged. */
static void feed_mutant(struct mut_ctx *c, uint8_t *buf, size_t len)
{
	struct frag *f = mk(2, 8 * 512);
	struct quotes qs = { 0 };
	struct pkt p;

	for (unsigned k = 0; k < ARRAY_SIZE(mut_pieces); k++) {
		enum frag_result r;
		size_t olen;

		if (k == c->which) {
			if (pkt_parse(&p, buf, len) != PKT_OK || !(p.outer.flags & PKT_F_FRAG))
				continue;
			c->fed++;
			r = frag_add(f, 0, &p, out, sizeof(out), &olen);
		} else {
			r = add(f, 0, c->d, mut_pieces[k].off, mut_pieces[k].len, 0, out, &olen);
		}
		if (r == FRAG_DONE) {
			struct pkt whole;
			enum pkt_error e = pkt_parse(&whole, out, olen);

			c->done++;
			assert_true(e == PKT_OK || e == PKT_E_L4 || e == PKT_E_INNER);
			assert_false(whole.outer.flags & PKT_F_FRAG);
		}
	}
	assert_true(stats(f).bytes <= stats(f).max_bytes);
	frag_expire(f, UINT64_MAX, on_timeout, &qs);
	assert_int_equal(stats(f).queues, 0);
	frag_destroy(f);
}

/* Each mutant as it is, and with its header checksum repaired so header
 * mutants get past pkt_parse. */
static void on_mutant(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct mut_ctx *c = ctx;
	size_t hlen = len ? (size_t)(buf[0] & 0x0f) * 4 : 0;

	(void)m;
	feed_mutant(c, buf, len);
	if (hlen >= 20 && hlen <= len) {
		be16_put(buf + 10, 0);
		be16_put(buf + 10, csum_ip(buf, hlen));
		feed_mutant(c, buf, len);
	}
}

static void test_mutants(void **state)
{
	struct dgram d;
	struct mut_ctx c = { .d = &d };

	(void)state;
	dgram_build(&d, 28, 42, 0x4242, SRC, 0x02, 10);
	for (unsigned k = 0; k < ARRAY_SIZE(mut_pieces); k++) {
		size_t len;
		uint8_t *b = dgram_frag(&d, mut_pieces[k].off, mut_pieces[k].len, 0, &len);

		c.which = k;
		mutate_all(b, len, on_mutant, &c);
		free(b);
	}
	print_message("mutants fed to frag_add: %lu, reassembled: %lu\n", c.fed, c.done);
	assert_true(c.fed > 100);
	assert_true(c.done > 10);
	dgram_free(&d);
}

/* ---- fragmenting on output (ip_fragment) -------------------------------- */

struct pieces {
	uint8_t *b[64];
	size_t len[64];
	unsigned n;
};

static void collect(void *ctx, uint8_t *frag, size_t len)
{
	struct pieces *ps = ctx;

	assert_true(ps->n < ARRAY_SIZE(ps->b));
	ps->b[ps->n] = xmalloc(len);
	memcpy(ps->b[ps->n], frag, len);
	ps->len[ps->n++] = len;
	memset(frag, 0xee, len); /* ip_fragment must not rely on what it handed out */
}

static void pieces_free(struct pieces *ps)
{
	for (unsigned i = 0; i < ps->n; i++)
		free(ps->b[i]);
	ps->n = 0;
}

/* Every piece: at most mtu, a valid header (pkt_parse), the datagram's ID,
 * data a multiple of 8 but in the last; offsets contiguous from first_off. */
static void assert_pieces(const struct pieces *ps, unsigned mtu, uint16_t id,
			  unsigned first_off, bool last_mf)
{
	unsigned off = first_off;

	for (unsigned i = 0; i < ps->n; i++) {
		struct pkt p;
		size_t data;

		assert_true(ps->len[i] <= mtu);
		assert_int_equal(pkt_parse(&p, ps->b[i], ps->len[i]), PKT_OK);
		assert_true(p.outer.flags & PKT_F_FRAG);
		assert_int_equal(p.outer.id, id);
		assert_int_equal(p.outer.frag_off, off);
		data = ps->len[i] - p.outer.l4;
		if (i + 1 < ps->n)
			assert_int_equal(data % 8, 0);
		assert_int_equal(!!(p.outer.flags & PKT_F_MF), i + 1 < ps->n || last_mf);
		off += (unsigned)data;
	}
}

static void test_fragment_roundtrip(void **state)
{
	struct rng r = { test_seed() };
	struct frag *f = mk(16, 16u << 20);
	uint8_t *buf = xmalloc(65536);

	(void)state;
	for (int round = 0; round < 300; round++) {
		size_t hlen = 20 + 4 * rnd(&r, 11);
		unsigned plen = 9 + rnd(&r, round % 3 ? 4000 : 65000 - (unsigned)hlen);
		/* below the datagram's length: it must be cut */
		unsigned mtu = (unsigned)hlen + 8 + rnd(&r, plen - 8 < 1492 ? plen - 8 : 1492);
		unsigned room, unit, left, want = 1;
		struct pieces ps = { .n = 0 };
		struct dgram d;
		size_t olen = 0;
		int n;

		room = mtu - (unsigned)hlen;
		unit = room & ~7u;
		if (plen / unit >= ARRAY_SIZE(ps.b))
			unit = room = (plen / 60 + 8) & ~7u, mtu = (unsigned)hlen + room;
		for (left = plen; left > room; left -= unit)
			want++;
		dgram_build(&d, hlen, plen, (uint16_t)round, SRC, 0, (uint8_t)round);
		n = ip_fragment(d.b, d.len, mtu, buf, 65536, collect, &ps);
		assert_int_equal(n, (int)ps.n);
		assert_int_equal(ps.n, want);
		assert_pieces(&ps, mtu, d.id, 0, false);
		/* the receiver's reassembly gives the datagram back, any order */
		for (unsigned i = 0; i < ps.n; i++) {
			unsigned j = ps.n - 1 - i;
			enum frag_result fr;
			struct pkt p;

			assert_int_equal(pkt_parse(&p, ps.b[j], ps.len[j]), PKT_OK);
			fr = frag_add(f, T0 * SEC, &p, out, sizeof(out), &olen);
			assert_int_equal(fr, i + 1 < ps.n ? FRAG_PENDING : FRAG_DONE);
		}
		/* the later pieces' headers had only NOPs: the first's returns */
		assert_whole(&d, out, olen);
		pieces_free(&ps);
		dgram_free(&d);
	}
	free(buf);
	frag_destroy(f);
}

static void test_fragment_options_and_flags(void **state)
{
	struct pieces ps = { .n = 0 };
	struct dgram d;
	uint8_t buf[1500];
	struct pkt p;

	(void)state;
	/* header of 32: record route (7, not copied), router alert (4, copied), NOP */
	dgram_build(&d, 32, 2000, 0x4242, SRC, 0, 3);
	memcpy(d.b + 20, (const uint8_t[]){ 7, 7, 4, 0, 0, 0, 0, 0x94, 4, 0, 0, 1 }, 12);
	be16_put(d.b + 6, IP_DF);
	be16_put(d.b + 10, 0);
	be16_put(d.b + 10, csum_ip(d.b, 32));
	assert_int_equal(ip_fragment(d.b, d.len, 1000, buf, sizeof(buf), collect, &ps), 3);
	assert_pieces(&ps, 1000, 0x4242, 0, false);
	assert_memory_equal(ps.b[0] + 20, d.b + 20, 12);
	for (unsigned i = 1; i < 3; i++) {
		assert_int_equal(ps.b[i][0], 0x48);  /* header length kept */
		assert_memory_equal(ps.b[i] + 20,
				    ((const uint8_t[]){ 1, 1, 1, 1, 1, 1, 1, 0x94, 4, 0, 0, 1 }), 12);
		assert_true(be16_get(ps.b[i] + 6) & IP_DF);
	}
	pieces_free(&ps);

	/* a non-last fragment cut again: offsets continue, MF on every piece */
	be16_put(d.b + 6, IP_MF | 100);
	be16_put(d.b + 10, 0);
	be16_put(d.b + 10, csum_ip(d.b, 32));
	assert_int_equal(ip_fragment(d.b, d.len, 1000, buf, sizeof(buf), collect, &ps), 3);
	assert_pieces(&ps, 1000, 0x4242, 800, true);
	assert_int_equal(pkt_parse(&p, ps.b[2], ps.len[2]), PKT_OK);
	assert_int_equal(p.outer.frag_off + (ps.len[2] - 32), 800 + 2000);
	pieces_free(&ps);

	/* no room for the header and 8 bytes, or a buffer below the MTU */
	assert_int_equal(ip_fragment(d.b, d.len, 39, buf, sizeof(buf), collect, &ps), -EMSGSIZE);
	assert_int_equal(ip_fragment(d.b, d.len, 1000, buf, 999, collect, &ps), -EMSGSIZE);
	assert_int_equal(ps.n, 0);
	dgram_free(&d);
}

/* Forwarding's choice, as ip_forward and ip_finish_output make it. */
static void test_out_decide(void **state)
{
	static const struct {
		size_t len;
		unsigned mtu, fmax;
		bool df;
		enum ip_out want;
		unsigned cut;
	} cases[] = {
		{ 1500, 1500, 0, false, IP_OUT_SEND, 1500 },      /* fits */
		{ 1500, 0, 0, true, IP_OUT_SEND, 0 },             /* no limit */
		{ 1501, 1500, 0, false, IP_OUT_FRAGMENT, 1500 },  /* too big, no DF */
		{ 1501, 1500, 0, true, IP_OUT_TOO_BIG, 1500 },    /* DF */
		{ 4000, 1420, 1500, false, IP_OUT_FRAGMENT, 1420 }, /* reassembled, to the path */
		{ 4000, 1500, 1420, false, IP_OUT_FRAGMENT, 1420 }, /* to its own fragments */
		{ 1400, 1500, 1000, false, IP_OUT_FRAGMENT, 1000 }, /* fits, still cut back */
		{ 4000, 1500, 1420, true, IP_OUT_FRAGMENT, 1420 },  /* DF fragments that fit */
		{ 4000, 1420, 1500, true, IP_OUT_TOO_BIG, 1420 },   /* DF fragments too big */
		{ 900, 1500, 1000, true, IP_OUT_SEND, 1000 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned cut = 7;

		assert_int_equal(ip_out_decide(cases[i].len, cases[i].mtu, cases[i].fmax,
					       cases[i].df, &cut), cases[i].want);
		assert_int_equal(cut, cases[i].cut);
	}
}

/* ---- IPv6 --------------------------------------------------------------- */

enum { NH_HOP = 0, NH_TCP = 6, NH_UDP = 17, NH_RT = 43, NH_FRAG = 44, NH_NONE = 59,
       NH_DST = 60 };
enum { T6 = 60 };  /* the IPv6 timeout by default, seconds */

static const uint8_t SRC6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
static const uint8_t DST6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5 };

/* One extension header: type and length in bytes (a multiple of 8). */
struct ext {
	uint8_t type;
	unsigned len;
};

/* A whole IPv6 datagram: header, pre (the unfragmentable extension
 * headers), post (the fragmentable ones), UDP of plen bytes. */
struct dgram6 {
	uint8_t *b;
	size_t len;
	size_t unfrag;  /* IPv6 header and pre */
	size_t nhoff;   /* the next-header byte naming what follows pre */
	size_t l4;      /* the UDP header */
	uint32_t id;
};

static void dgram6_build(struct dgram6 *d, const struct ext *pre, unsigned npre,
			 const struct ext *post, unsigned npost, size_t plen, uint32_t id,
			 uint8_t tclass, uint8_t salt)
{
	size_t at = 40, prevnh = 6, ext = 0;
	uint8_t *b;

	for (unsigned i = 0; i < npre + npost; i++)
		ext += i < npre ? pre[i].len : post[i - npre].len;
	assert_true(plen >= 8 && plen <= 65535 && ext + plen <= 65535 + 8);
	d->len = 40 + ext + plen;
	d->id = id;
	d->b = b = xmalloc(d->len);
	memset(b, 0, d->len);
	b[0] = (uint8_t)(0x60 | tclass >> 4);
	b[1] = (uint8_t)(tclass << 4);
	be16_put(b + 4, (uint16_t)(d->len - 40));  /* wrong past 65535: the fragments fix it */
	b[7] = 64;
	memcpy(b + 8, SRC6, 16);
	memcpy(b + 24, DST6, 16);
	d->unfrag = 40;
	d->nhoff = 6;
	for (unsigned i = 0; i < npre + npost; i++) {
		const struct ext *x = i < npre ? &pre[i] : &post[i - npre];

		assert_true(x->len >= 8 && x->len % 8 == 0 && x->len <= 2048);
		b[prevnh] = x->type;
		b[at + 1] = (uint8_t)(x->len / 8 - 1);
		if (x->type == NH_RT) {
			b[at + 2] = 253;  /* experimental type, segments left 0 */
		} else {
			b[at + 2] = 1;  /* PadN over the rest */
			b[at + 3] = (uint8_t)(x->len - 4);
		}
		prevnh = at;
		at += x->len;
		if (i + 1 == npre) {
			d->unfrag = at;
			d->nhoff = prevnh;
		}
	}
	b[prevnh] = NH_UDP;
	d->l4 = at;
	for (size_t i = at; i < d->len; i++)
		b[i] = (uint8_t)((i - at) * 131 + salt + (i - at) / 251);
	be16_put(b + at, 40000);
	be16_put(b + at + 2, 53);
	be16_put(b + at + 4, (uint16_t)plen);
	be16_put(b + at + 6, 0);
	be16_put(b + at + 6, csum_l4_6(SRC6, DST6, NH_UDP, b + at, plen));
}

static size_t dgram6_flen(const struct dgram6 *d)
{
	return d->len - d->unfrag;
}

/* The fragment [off, off + n) of the fragmentable part as a sender cuts it
 * (M unless it ends the datagram, or forced). */
static uint8_t *dgram6_frag(const struct dgram6 *d, unsigned off, unsigned n, bool mf,
			    size_t *len)
{
	uint8_t *b, *fh;

	assert_true(off + n <= dgram6_flen(d) && off % 8 == 0);
	*len = d->unfrag + 8 + n;
	b = xmalloc(*len);
	memcpy(b, d->b, d->unfrag);
	b[d->nhoff] = NH_FRAG;
	fh = b + d->unfrag;
	fh[0] = d->b[d->nhoff];
	fh[1] = 0;
	be16_put(fh + 2, (uint16_t)(off | (mf || off + n < dgram6_flen(d) ? 1 : 0)));
	be32_put(fh + 4, d->id);
	memcpy(fh + 8, d->b + d->unfrag + off, n);
	be16_put(b + 4, (uint16_t)(*len - 40));
	return b;
}

static enum frag_result add6_cap(struct frag *f, uint64_t now, const struct dgram6 *d,
				 unsigned off, unsigned n, size_t cap, size_t *olen)
{
	size_t len;
	uint8_t *b = dgram6_frag(d, off, n, false, &len);
	enum frag_result r = add_buf(f, now, b, len, out, cap, olen);

	free(b);
	return r;
}

static enum frag_result add6(struct frag *f, uint64_t now, const struct dgram6 *d,
			     unsigned off, unsigned n, size_t *olen)
{
	return add6_cap(f, now, d, off, n, sizeof(out), olen);
}

/* out holds d again: the fragment header gone, and a whole UDP datagram. */
static void assert_whole6(const struct dgram6 *d, const uint8_t *o, size_t olen)
{
	struct pkt p;
	uint8_t *copy;

	assert_int_equal(olen, d->len);
	assert_memory_equal(o, d->b, d->len);
	copy = xmalloc(olen);
	memcpy(copy, o, olen);
	assert_int_equal(pkt_parse(&p, copy, olen), PKT_OK);
	assert_int_equal(p.outer.family, NF_V6);
	assert_false(p.outer.flags & PKT_F_FRAG);
	assert_int_equal(p.outer.frag_hdr, 0);
	assert_true(p.outer.flags & PKT_F_L4);
	assert_int_equal(p.outer.l4, d->l4);
	assert_int_equal(csum_l4_6(SRC6, DST6, NH_UDP, copy + d->l4, olen - d->l4),
			 be16_get(copy + d->l4 + 6));
	free(copy);
}

static void dgram6_free(struct dgram6 *d)
{
	free(d->b);
}

static void test6_in_order(void **state)
{
	struct frag *f = mk(16, 1 << 20);
	struct frag_config cfg;
	struct dgram6 d;
	size_t olen = 1;
	struct frag_stats st;

	(void)state;
	frag_config_default(&cfg);
	assert_int_equal(cfg.timeout6_ns, 60 * SEC);
	dgram6_build(&d, NULL, 0, NULL, 0, 3000, 0x89abcdef, 0, 1);
	assert_int_equal(add6(f, T0 * SEC, &d, 0, 1232, &olen), FRAG_PENDING);
	assert_int_equal(olen, 0);
	assert_int_equal(frag_next_deadline(f), (T0 + T6) * SEC);
	assert_int_equal(add6(f, T0 * SEC, &d, 1232, 1232, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, T0 * SEC + 1, &d, 2464, 536, &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	assert_int_equal(frag_max_size(f), 1280);
	st = stats(f);
	assert_int_equal(st.reqds, 3);
	assert_int_equal(st.oks, 1);
	assert_int_equal(st.fails, 0);
	assert_int_equal(st.queues, 0);
	assert_int_equal(st.bytes, 0);
	/* reverse order, and the protocol is no part of the key: a later
	 * fragment names ICMPv6, the first UDP */
	assert_int_equal(add6(f, T0 * SEC, &d, 2464, 536, &olen), FRAG_PENDING);
	{
		size_t len;
		uint8_t *b = dgram6_frag(&d, 1232, 1232, false, &len);

		b[40] = 58;
		assert_int_equal(add_buf(f, T0 * SEC, b, len, out, sizeof(out), &olen),
				 FRAG_PENDING);
		free(b);
	}
	assert_int_equal(add6(f, T0 * SEC, &d, 0, 1232, &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	assert_int_equal(stats(f).queues, 0);
	/* the same id from another source is another datagram */
	{
		size_t len;
		uint8_t *b = dgram6_frag(&d, 0, 1232, false, &len);

		b[23] ^= 1;
		assert_int_equal(add_buf(f, T0 * SEC, b, len, out, sizeof(out), &olen),
				 FRAG_PENDING);
		free(b);
	}
	assert_int_equal(add6(f, T0 * SEC, &d, 1232, 1768, &olen), FRAG_PENDING);
	assert_int_equal(stats(f).queues, 2);
	dgram6_free(&d);
	frag_destroy(f);
}

/* Random extension headers, sizes, orders, duplicates; several datagrams
 * interleaved, some sharing the id (other sources). */
static void random_exts(struct rng *r, struct ext *pre, unsigned *npre, struct ext *post,
			unsigned *npost)
{
	static const uint8_t pre_types[] = { NH_HOP, NH_DST, NH_RT };

	*npre = rnd(r, 4);
	for (unsigned i = 0; i < *npre; i++) {
		pre[i].type = i == 0 && rnd(r, 2) ? NH_HOP : pre_types[1 + rnd(r, 2)];
		pre[i].len = 8 * (1 + rnd(r, i == 1 ? 40 : 3));
	}
	*npost = rnd(r, 3);
	for (unsigned i = 0; i < *npost; i++) {
		post[i].type = NH_DST;
		post[i].len = 8 * (1 + rnd(r, 4));
	}
}

static void test6_orders(void **state)
{
	struct rng r = { test_seed() };
	struct frag *f = mk(64, 16u << 20);

	(void)state;
	for (int round = 0; round < 300; round++) {
		struct ext pre[4], post[3];
		unsigned npre, npost, post_len = 0, nd = 1 + rnd(&r, 3), done = 0;
		struct dgram6 d[3];
		struct { uint8_t dg; unsigned off, n; } seq[3 * 80];
		unsigned nseq = 0;

		random_exts(&r, pre, &npre, post, &npost);
		for (unsigned i = 0; i < npost; i++)
			post_len += post[i].len;
		for (unsigned k = 0; k < nd; k++) {
			size_t plen = 16 + rnd(&r, round % 10 ? 5000 : 60000);
			unsigned flen, unit;

			dgram6_build(&d[k], pre, npre, post, npost, plen, (uint32_t)round * 7 + 1,
				     0, (uint8_t)(round + k));
			d[k].b[23] = (uint8_t)k;  /* sources differ: the ids may not */
			be16_put(d[k].b + d[k].l4 + 6, 0);
			be16_put(d[k].b + d[k].l4 + 6, csum_l4_6(d[k].b + 8, DST6, NH_UDP,
						d[k].b + d[k].l4, plen));
			flen = (unsigned)dgram6_flen(&d[k]);
			/* the first fragment holds the chain and the UDP header */
			unit = (post_len + 8 + 7 + rnd(&r, 1500)) & ~7u;
			if (unit >= flen)  /* two pieces at least: no atomic fragment */
				unit = (flen - 1) & ~7u;
			if (flen / unit > 70)
				unit = (flen / 70 + 8) & ~7u;
			for (unsigned off = 0; off < flen; off += unit) {
				seq[nseq].dg = (uint8_t)k;
				seq[nseq].off = off;
				seq[nseq++].n = flen - off < unit ? flen - off : unit;
			}
		}
		for (unsigned i = nseq - 1; i > 0; i--) {
			unsigned j = rnd(&r, i + 1);
			__typeof__(seq[0]) t = seq[i];

			seq[i] = seq[j];
			seq[j] = t;
		}
		for (unsigned i = 0; i < nseq; i++) {
			size_t olen;
			enum frag_result fr = add6(f, T0 * SEC, &d[seq[i].dg], seq[i].off, seq[i].n,
						   &olen);

			if (fr == FRAG_DONE) {
				struct pkt p;

				assert_int_equal(olen, d[seq[i].dg].len);
				assert_memory_equal(out, d[seq[i].dg].b, olen);
				if (olen <= 65535)
					assert_int_equal(pkt_parse(&p, out, olen), PKT_OK);
				done++;
			} else {
				assert_int_equal(fr, FRAG_PENDING);
			}
			/* an exact duplicate now and then: ignored */
			if (fr == FRAG_PENDING && !rnd(&r, 8))
				assert_int_equal(add6(f, T0 * SEC, &d[seq[i].dg], seq[i].off,
						      seq[i].n, &olen), FRAG_DROP);
		}
		assert_int_equal(done, nd);
		assert_int_equal(stats(f).queues, 0);
		assert_int_equal(stats(f).bytes, 0);
		for (unsigned k = 0; k < nd; k++)
			dgram6_free(&d[k]);
	}
	assert_int_equal(stats(f).fails, 0);
	frag_destroy(f);
}

/* The unfragmentable part comes from the first fragment (later ones may
 * differ), the next header that named the fragment header is restored
 * wherever it is, and a long one spills into the budget. */
static void test6_ext_headers(void **state)
{
	static const struct ext pre[] = { { NH_HOP, 8 }, { NH_DST, 16 }, { NH_RT, 24 } };
	static const struct ext post[] = { { NH_DST, 8 } };
	static const struct ext big[] = { { NH_HOP, 2048 }, { NH_RT, 1024 } };
	struct frag *f = mk(16, 1 << 20);
	struct dgram6 d, e;
	size_t olen, len;
	uint8_t *b;

	(void)state;
	dgram6_build(&d, pre, 3, post, 1, 2000, 5, 0, 2);
	assert_int_equal(d.unfrag, 88);
	assert_int_equal(d.nhoff, 64);
	/* later fragments with only the IPv6 header: what they carry is not kept */
	dgram6_build(&e, NULL, 0, post, 1, 2000, 5, 0, 2);
	assert_int_equal(add6(f, 0, &e, 1000, 1008, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &d, 0, 1000, &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	/* and the other way round: the first fragment decides */
	assert_int_equal(add6(f, 0, &d, 1000, 1008, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &e, 0, 1000, &olen), FRAG_DONE);
	assert_whole6(&e, out, olen);
	dgram6_free(&d);

	/* 3072 bytes of extension headers: six blocks past the queue's own */
	dgram6_build(&d, big, 2, post, 1, 4000, 6, 0, 3);
	assert_int_equal(add6(f, 0, &d, 2008, 2000, &olen), FRAG_PENDING);
	assert_int_equal(stats(f).bytes, 5 * 512);
	b = dgram6_frag(&d, 0, 2008, false, &len);
	assert_int_equal(add_buf(f, 0, b, len, out, sizeof(out), &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	assert_int_equal(frag_max_size(f), len);
	free(b);
	assert_int_equal(stats(f).bytes, 0);
	/* a budget without room for them: no memory */
	frag_destroy(f);
	f = mk(4, 8 * 512);
	assert_int_equal(add6(f, 0, &d, 2008, 2000, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &d, 0, 2008, &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_NOMEM], 1);
	assert_int_equal(stats(f).bytes, 0);
	assert_int_equal(stats(f).queues, 0);
	dgram6_free(&d);
	dgram6_free(&e);
	frag_destroy(f);
}

static void test6_duplicates(void **state)
{
	struct frag *f = mk(16, 1 << 20);
	struct dgram6 d, other;
	size_t olen;

	(void)state;
	dgram6_build(&d, NULL, 0, NULL, 0, 2000, 77, 0, 4);
	dgram6_build(&other, NULL, 0, NULL, 0, 2000, 77, 0, 99);  /* same key, other bytes */
	assert_int_equal(add6(f, 0, &d, 0, 800, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &d, 0, 800, &olen), FRAG_DROP);  /* exact */
	assert_int_equal(add6(f, 0, &d, 800, 800, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &other, 400, 800, &olen), FRAG_DROP);  /* inside the run */
	assert_int_equal(add6(f, 0, &other, 0, 800, &olen), FRAG_DROP);   /* first again */
	assert_int_equal(stats(f).drop[FRAG_DROP_DUP], 3);
	assert_int_equal(stats(f).queues, 1);
	assert_int_equal(add6(f, 0, &d, 1600, 400, &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	assert_int_equal(add6(f, 0, &d, 1600, 400, &olen), FRAG_PENDING);  /* a new queue */
	assert_int_equal(add6(f, 0, &d, 1600, 400, &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_DUP], 4);
	assert_int_equal(stats(f).fails, 0);
	dgram6_free(&d);
	dgram6_free(&other);
	frag_destroy(f);
}

static void test6_overlaps(void **state)
{
	struct dgram6 d;

	(void)state;
	dgram6_build(&d, NULL, 0, NULL, 0, 4000, 5, 0, 5);
	for (size_t i = 0; i < ARRAY_SIZE(overlap_cases); i++) {
		const struct overlap_case *c = &overlap_cases[i];
		struct frag *f = mk(4, 1 << 20);
		enum frag_result r = FRAG_DROP;
		size_t olen;

		for (unsigned k = 0; k < c->n; k++) {
			r = add6(f, 0, &d, c->piece[k].off, c->piece[k].len, &olen);
			if (k + 1 < c->n && r != FRAG_PENDING)
				fail_msg("case %zu (%s): piece %u not kept", i + 1, c->name, k);
		}
		if (r != c->last)
			fail_msg("case %zu (%s): result %d", i + 1, c->name, r);
		if (r == FRAG_DROP && stats(f).drop[c->why] != 1)
			fail_msg("case %zu (%s): wrong reason", i + 1, c->name);
		if (c->why == FRAG_DROP_OVERLAP && r == FRAG_DROP) {
			/* RFC 5722: the whole datagram goes; the rest starts anew */
			assert_int_equal(stats(f).queues, 0);
			assert_int_equal(stats(f).overlaps, 1);
			assert_int_equal(stats(f).bytes, 0);
			assert_int_equal(add6(f, 0, &d, 8, 8, &olen), FRAG_PENDING);
			assert_int_equal(stats(f).queues, 1);
		}
		frag_destroy(f);
	}
	dgram6_free(&d);
}

/* Where IPv4 drops the queue, nf_ct_frag6_queue drops the fragment. */
static void test6_end_rules(void **state)
{
	struct dgram6 d, e;
	struct frag *f = mk(4, 1 << 20);
	size_t olen;

	(void)state;
	dgram6_build(&d, NULL, 0, NULL, 0, 100, 6, 0, 6);
	dgram6_build(&e, NULL, 0, NULL, 0, 200, 6, 0, 6);  /* same key, longer */
	/* two last fragments that disagree */
	assert_int_equal(add6(f, 0, &d, 96, 4, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &e, 192, 8, &olen), FRAG_DROP);
	/* data past the last fragment */
	assert_int_equal(add6(f, 0, &e, 96, 8, &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 2);
	assert_int_equal(stats(f).fails, 0);
	assert_int_equal(stats(f).queues, 1);
	assert_int_equal(add6(f, 0, &d, 0, 96, &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	/* a last fragment ending before data already queued */
	assert_int_equal(add6(f, 0, &e, 96, 8, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &d, 96, 4, &olen), FRAG_DROP);
	assert_int_equal(stats(f).queues, 1);
	assert_int_equal(add6(f, 0, &e, 0, 96, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &e, 104, 96, &olen), FRAG_DONE);
	assert_whole6(&e, out, olen);
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 3);
	assert_int_equal(stats(f).fails, 0);
	dgram6_free(&d);
	dgram6_free(&e);
	frag_destroy(f);
}

/* RFC 8200 §4.5: a first fragment must hold the upper-layer header
 * (ipv6frag_thdr_truncated); such a one is refused before any queue. */
static void test6_truncated_first(void **state)
{
	static const struct ext post[] = { { NH_DST, 16 } };
	struct frag *f = mk(4, 1 << 20);
	struct dgram6 d;
	size_t olen, len;
	uint8_t *b;
	struct pkt p;

	(void)state;
	dgram6_build(&d, NULL, 0, post, 1, 100, 8, 0, 8);
	/* the options header whole, no UDP header: pkt_parse takes it */
	b = dgram6_frag(&d, 0, 16, false, &len);
	assert_int_equal(pkt_parse(&p, b, len), PKT_OK);
	assert_false(p.outer.flags & PKT_F_L4);
	assert_int_equal(frag_add(f, 0, &p, out, sizeof(out), &olen), FRAG_DROP);
	free(b);
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 1);
	assert_int_equal(stats(f).queues, 0);
	/* with it: kept */
	assert_int_equal(add6(f, 0, &d, 0, 24, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &d, 24, 92, &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	/* TCP: 20 bytes, 16 are not enough; "no next header" needs none */
	dgram6_free(&d);
	dgram6_build(&d, NULL, 0, NULL, 0, 100, 9, 0, 8);
	for (int k = 0; k < 3; k++) {
		uint8_t nh = k == 2 ? NH_NONE : NH_TCP;

		b = dgram6_frag(&d, 0, k == 1 ? 24 : 16, false, &len);
		b[40] = nh;
		be32_put(b + 44, 100 + (uint32_t)k);
		b[48 + 12] = 0x50;  /* a TCP data offset of 20 */
		assert_int_equal(pkt_parse(&p, b, len), PKT_OK);
		assert_int_equal(p.outer.proto, nh);
		assert_int_equal(frag_add(f, 0, &p, out, sizeof(out), &olen),
				 k ? FRAG_PENDING : FRAG_DROP);
		free(b);
	}
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 2);
	assert_int_equal(stats(f).queues, 2);
	dgram6_free(&d);
	frag_destroy(f);
}

/* RFC 6946: offset 0 and no M flag is a whole packet, never queued. */
static void test6_atomic(void **state)
{
	struct frag *f = mk(4, 1 << 20);
	struct dgram6 d;
	size_t olen, len;
	uint8_t *b;
	struct pkt p;

	(void)state;
	dgram6_build(&d, NULL, 0, NULL, 0, 200, 9, 0, 9);
	assert_int_equal(add6(f, 0, &d, 8, 192, &olen), FRAG_PENDING);
	b = dgram6_frag(&d, 0, 200, false, &len);
	assert_int_equal(pkt_parse(&p, b, len), PKT_OK);
	assert_false(p.outer.flags & PKT_F_FRAG);
	assert_int_equal(p.outer.frag_hdr, 40);
	assert_true(p.outer.flags & PKT_F_L4);
	assert_int_equal(frag_add(f, 0, &p, out, sizeof(out), &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 1);
	free(b);
	/* the queue with the same id is untouched */
	assert_int_equal(stats(f).queues, 1);
	assert_int_equal(add6(f, 0, &d, 0, 8, &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	dgram6_free(&d);
	frag_destroy(f);
}

struct quotes6 {
	unsigned n;
	size_t len;
	uint8_t b[FRAG_QUOTE_MAX6];
};

static void on_timeout6(void *ctx, const uint8_t *first, size_t len)
{
	struct quotes6 *q = ctx;

	assert_true(len <= FRAG_QUOTE_MAX6);
	q->n++;
	q->len = len;
	memcpy(q->b, first, len);
}

static void test6_timeout(void **state)
{
	static const struct ext big[] = { { NH_HOP, 1024 }, { NH_RT, 512 } };
	struct frag *f = mk(16, 1 << 20);
	struct frag_config cfg;
	struct dgram6 d, e;
	struct dgram v4;
	struct quotes6 qs = { 0 };
	size_t olen, flen;
	uint64_t t = T0 * SEC;
	uint8_t *first;

	(void)state;
	dgram6_build(&d, NULL, 0, NULL, 0, 3000, 1, 0, 7);
	dgram_build(&v4, 20, 3000, 1, SRC, 0, 8);
	/* IPv6 lives 60 s, IPv4 30 s: the IPv4 queue made later is due first */
	assert_int_equal(add6(f, t, &d, 0, 1400, &olen), FRAG_PENDING);
	assert_int_equal(add(f, t + 10 * SEC, &v4, 0, 1480, 0, out, &olen), FRAG_PENDING);
	assert_int_equal(frag_next_deadline(f), t + 40 * SEC);
	assert_int_equal(frag_expire(f, t + 40 * SEC, on_timeout6, &qs), 1);
	assert_int_equal(qs.n, 1);
	assert_int_equal(qs.len, FRAG_QUOTE_MAX);  /* the IPv4 quote */
	assert_int_equal(frag_next_deadline(f), t + T6 * SEC);
	assert_int_equal(add6(f, t + T6 * SEC - 1, &d, 1400, 1400, &olen), FRAG_PENDING);
	assert_int_equal(frag_expire(f, t + T6 * SEC - 1, on_timeout6, &qs), 0);
	assert_int_equal(frag_expire(f, t + T6 * SEC, on_timeout6, &qs), 1);
	/* the first fragment as received, cut to what ICMPv6 quotes */
	first = dgram6_frag(&d, 0, 1400, false, &flen);
	assert_int_equal(qs.n, 2);
	assert_int_equal(qs.len, FRAG_QUOTE_MAX6);
	assert_memory_equal(qs.b, first, FRAG_QUOTE_MAX6);
	free(first);
	assert_int_equal(stats(f).timeouts, 2);
	/* past its deadline without frag_expire: not joined */
	assert_int_equal(add6(f, t, &d, 1400, 1400, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, t + T6 * SEC, &d, 0, 1400, &olen), FRAG_PENDING);
	assert_int_equal(stats(f).timeouts, 3);
	assert_int_equal(add6(f, t + T6 * SEC, &d, 1400, 1600, &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	/* no first fragment: no callback; a short one is quoted whole */
	assert_int_equal(add6(f, t, &d, 1400, 1400, &olen), FRAG_PENDING);
	assert_int_equal(frag_expire(f, UINT64_MAX, on_timeout6, &qs), 1);
	assert_int_equal(qs.n, 2);
	assert_int_equal(add6(f, t, &d, 0, 64, &olen), FRAG_PENDING);
	assert_int_equal(frag_expire(f, UINT64_MAX, on_timeout6, &qs), 1);
	first = dgram6_frag(&d, 0, 64, false, &flen);
	assert_int_equal(qs.len, flen);
	assert_memory_equal(qs.b, first, flen);
	free(first);
	/* headers longer than the quote: the quote is their start */
	dgram6_build(&e, big, 2, NULL, 0, 3000, 2, 0, 7);
	assert_int_equal(add6(f, t, &e, 0, 1400, &olen), FRAG_PENDING);
	assert_int_equal(frag_expire(f, UINT64_MAX, on_timeout6, &qs), 1);
	first = dgram6_frag(&e, 0, 1400, false, &flen);
	assert_int_equal(qs.len, FRAG_QUOTE_MAX6);
	assert_memory_equal(qs.b, first, FRAG_QUOTE_MAX6);
	free(first);
	assert_int_equal(stats(f).bytes, 0);
	frag_destroy(f);

	/* timeout6_ns 0: the IPv4 timeout */
	frag_config_default(&cfg);
	cfg.timeout6_ns = 0;
	assert_int_equal(frag_create(&f, &cfg), 0);
	assert_int_equal(add6(f, t, &d, 0, 1400, &olen), FRAG_PENDING);
	assert_int_equal(frag_next_deadline(f), t + 30 * SEC);
	frag_destroy(f);
	dgram6_free(&d);
	dgram6_free(&e);
	dgram_free(&v4);
}

/* One budget and one queue table for both families; the oldest queue goes
 * whichever its family. */
static void test6_budget(void **state)
{
	struct frag *f = mk(64, 16 * 512);
	struct rng r = { test_seed() };
	struct dgram6 d[8];
	struct dgram v4;
	size_t olen;
	struct frag_stats st;

	(void)state;
	dgram_build(&v4, 20, 2000, 100, SRC, 0, 1);
	for (unsigned i = 0; i < 8; i++)
		dgram6_build(&d[i], NULL, 0, NULL, 0, 3000, 200 + i, 0, (uint8_t)i);
	/* IPv6 at T0 (due T0 + 60), IPv4 at T0 + 1 (due T0 + 31): the IPv6
	 * one was made first and is evicted first.  Three blocks each. */
	assert_int_equal(add6(f, T0 * SEC, &d[0], 0, 1480, &olen), FRAG_PENDING);
	assert_int_equal(add(f, (T0 + 1) * SEC, &v4, 0, 1480, 0, out, &olen), FRAG_PENDING);
	for (unsigned i = 1; i < 5; i++)
		assert_int_equal(add6(f, (T0 + 1 + i) * SEC, &d[i], 0, 1480, &olen),
				 FRAG_PENDING);
	st = stats(f);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.queues, 5);
	assert_int_equal(st.bytes, 15 * 512);
	/* IPv4 is still there (one block more: no eviction), d[0] is not */
	assert_int_equal(add(f, (T0 + 9) * SEC, &v4, 1480, 520, 0, out, &olen), FRAG_DONE);
	assert_int_equal(add6(f, (T0 + 9) * SEC, &d[0], 1480, 1520, &olen), FRAG_PENDING);
	assert_int_equal(stats(f).evicted, 1);
	assert_int_equal(add6(f, (T0 + 9) * SEC, &d[1], 1480, 1520, &olen), FRAG_DONE);
	assert_int_equal(frag_expire(f, UINT64_MAX, NULL, NULL), stats(f).queues);
	/* a flood of tiny fragments into many keys never goes past the budget */
	frag_destroy(f);
	f = mk(256, 64 * 512);
	for (unsigned i = 0; i < 20000; i++) {
		struct dgram6 *x = &d[rnd(&r, 8)];
		size_t len;
		uint8_t *b = dgram6_frag(x, 8 + 8 * rnd(&r, 300), 8, true, &len);

		be32_put(b + 44, rnd(&r, 4096));
		assert_int_not_equal(add_buf(f, T0 * SEC + i, b, len, out, sizeof(out), &olen),
				     FRAG_DONE);
		free(b);
		st = stats(f);
		assert_true(st.bytes <= st.max_bytes && st.queues <= st.max_queues);
	}
	assert_true(stats(f).evicted > 0);
	for (unsigned i = 0; i < 8; i++)
		dgram6_free(&d[i]);
	dgram_free(&v4);
	frag_destroy(f);
}

/* A payload of 65535 after the IPv6 header; past it, too big. */
static void test6_limit(void **state)
{
	static const struct ext hop[] = { { NH_HOP, 8 } };
	struct frag *f = mk(4, 1 << 20);
	struct dgram6 d;
	size_t olen;
	enum frag_result r = FRAG_DROP;

	(void)state;
	dgram6_build(&d, NULL, 0, NULL, 0, 65535, 11, 0, 1);
	assert_int_equal(d.len, FRAG_MAX_DATAGRAM6);
	for (unsigned off = 0; off < 65535; off += 8192) {
		unsigned n = 65535 - off < 8192 ? 65535 - off : 8192;

		r = add6(f, 0, &d, off, n, &olen);
		assert_int_equal(r, off + n < 65535 ? FRAG_PENDING : FRAG_DONE);
	}
	assert_int_equal(olen, FRAG_MAX_DATAGRAM6);
	assert_memory_equal(out, d.b, olen);
	assert_int_equal(be16_get(out + 4), 65535);
	/* into 65535 bytes, it does not fit */
	for (unsigned off = 0; off < 65535; off += 8192) {
		unsigned n = 65535 - off < 8192 ? 65535 - off : 8192;

		r = add6_cap(f, 0, &d, off, n, FRAG_MAX_DATAGRAM, &olen);
	}
	assert_int_equal(r, FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_TOO_BIG], 1);
	dgram6_free(&d);
	/* 8 bytes of hop-by-hop: a payload of 65543 */
	dgram6_build(&d, hop, 1, NULL, 0, 65535, 12, 0, 1);
	for (unsigned off = 0; off < 65535; off += 8192) {
		unsigned n = 65535 - off < 8192 ? 65535 - off : 8192;

		r = add6(f, 0, &d, off, n, &olen);
	}
	assert_int_equal(r, FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_TOO_BIG], 2);
	assert_int_equal(stats(f).queues, 0);
	assert_int_equal(stats(f).bytes, 0);
	dgram6_free(&d);
	frag_destroy(f);
}

static void test6_ecn_max_size(void **state)
{
	struct frag *f = mk(4, 1 << 20);
	struct dgram6 d, ce, notect;
	size_t olen;

	(void)state;
	dgram6_build(&d, NULL, 0, NULL, 0, 100, 1, 0xb8 | 2, 1);  /* EF, ECT(0) */
	dgram6_build(&ce, NULL, 0, NULL, 0, 100, 1, 0xb8 | 3, 1);
	dgram6_build(&notect, NULL, 0, NULL, 0, 100, 1, 0xb8, 1);
	assert_int_equal(add6(f, 0, &d, 0, 48, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &ce, 48, 52, &olen), FRAG_DONE);
	assert_int_equal(out[0], 0x6b);
	assert_int_equal(out[1], 0x80 | 3 << 4);
	assert_memory_equal(out + 2, d.b + 2, d.len - 2);
	assert_int_equal(frag_max_size(f), 40 + 8 + 52);
	assert_int_equal(add6(f, 0, &notect, 0, 48, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &ce, 48, 52, &olen), FRAG_DROP);
	assert_int_equal(stats(f).drop[FRAG_DROP_INVALID], 1);
	assert_int_equal(stats(f).queues, 0);
	assert_int_equal(add6(f, 0, &d, 0, 64, &olen), FRAG_PENDING);
	assert_int_equal(add6(f, 0, &d, 64, 36, &olen), FRAG_DONE);
	assert_whole6(&d, out, olen);
	assert_int_equal(frag_max_size(f), 40 + 8 + 64);
	dgram6_free(&d);
	dgram6_free(&ce);
	dgram6_free(&notect);
	frag_destroy(f);
}

/* ip6_fragment then reassembly gives the datagram back byte for byte; the
 * pieces carry what ip6_find_1stfragopt leaves unfragmentable. */
static void test6_fragment_roundtrip(void **state)
{
	static const struct { struct ext pre[3]; unsigned npre; struct ext post[2];
			      unsigned npost; } shapes[] = {
		{ .npre = 0 },
		{ { { NH_HOP, 8 } }, 1, .npost = 0 },
		{ { { NH_HOP, 16 }, { NH_DST, 8 } }, 2, .npost = 0 },  /* DST, no routing */
		{ { { NH_RT, 24 } }, 1, { { NH_DST, 16 } }, 1 },        /* DST after routing */
		{ { { NH_HOP, 8 }, { NH_DST, 8 }, { NH_RT, 40 } }, 3, { { NH_DST, 8 } }, 1 },
		{ { { NH_HOP, 1032 } }, 1, .npost = 0 },
	};
	struct rng r = { test_seed() };
	struct frag *f = mk(16, 16u << 20);
	uint8_t *buf = xmalloc(FRAG_MAX_DATAGRAM6);

	(void)state;
	for (int round = 0; round < 300; round++) {
		unsigned s = (unsigned)round % ARRAY_SIZE(shapes);
		size_t plen = 17 + rnd(&r, round % 7 ? 5000 : 60000);
		struct pieces ps = { .n = 0 };
		struct dgram6 d;
		unsigned mtu, off = 0, perm[64];
		uint32_t id = (uint32_t)rnd64(&r);
		size_t olen = 0;
		int n;

		dgram6_build(&d, shapes[s].pre, shapes[s].npre, shapes[s].post, shapes[s].npost,
			     plen, 0, 0, (uint8_t)round);
		/* below the datagram's length, at most 63 pieces; the first holds
		 * the headers after the fragment header and UDP's (RFC 7112) */
		mtu = (unsigned)(d.l4 + 16 + rnd(&r, 1500));
		if (mtu >= d.len)
			mtu = (unsigned)d.len - 1;
		if (dgram6_flen(&d) / ((mtu - d.unfrag - 8) & ~7u) > 60)
			mtu = (unsigned)(d.unfrag + 8 + ((dgram6_flen(&d) / 60 + 8) & ~7u));
		n = ip6_fragment(d.b, d.len, mtu, id, buf, FRAG_MAX_DATAGRAM6, collect, &ps);
		assert_int_equal(n, (int)ps.n);
		assert_true(ps.n >= 2 && ps.n <= 64);
		for (unsigned i = 0; i < ps.n; i++) {
			struct pkt p;
			size_t data;

			assert_true(ps.len[i] <= mtu);
			assert_int_equal(pkt_parse(&p, ps.b[i], ps.len[i]), PKT_OK);
			assert_true(p.outer.flags & PKT_F_FRAG);
			assert_int_equal(p.outer.id, id);
			assert_int_equal(p.outer.frag_hdr, d.unfrag);
			assert_int_equal(p.outer.frag_off, off);
			assert_int_equal(be16_get(ps.b[i] + 4), ps.len[i] - 40);
			assert_memory_equal(ps.b[i], d.b, 4);
			assert_int_equal(ps.b[i][d.nhoff], NH_FRAG);
			assert_int_equal(ps.b[i][d.unfrag], d.b[d.nhoff]);
			assert_memory_equal(ps.b[i] + 6, d.b + 6, d.nhoff - 6);
			assert_memory_equal(ps.b[i] + d.nhoff + 1, d.b + d.nhoff + 1,
					    d.unfrag - d.nhoff - 1);
			data = ps.len[i] - d.unfrag - 8;
			if (i + 1 < ps.n)
				assert_int_equal(data % 8, 0);
			assert_int_equal(!!(p.outer.flags & PKT_F_MF), i + 1 < ps.n);
			assert_memory_equal(ps.b[i] + d.unfrag + 8, d.b + d.unfrag + off, data);
			off += (unsigned)data;
			perm[i] = i;
		}
		assert_int_equal(off, dgram6_flen(&d));
		/* the receiver's reassembly gives the datagram back, any order */
		for (unsigned i = ps.n - 1; i > 0; i--) {
			unsigned j = rnd(&r, i + 1), t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (unsigned i = 0; i < ps.n; i++) {
			struct pkt p;

			assert_int_equal(pkt_parse(&p, ps.b[perm[i]], ps.len[perm[i]]), PKT_OK);
			assert_int_equal(frag_add(f, T0 * SEC, &p, out, sizeof(out), &olen),
					 i + 1 < ps.n ? FRAG_PENDING : FRAG_DONE);
		}
		assert_int_equal(olen, d.len);
		assert_memory_equal(out, d.b, d.len);
		/* and cut again at its largest fragment, the same pieces */
		if (frag_max_size(f) < d.len) {
			struct pieces again = { .n = 0 };
			unsigned cut;

			assert_int_equal(ip6_out_decide(d.len, 9000, frag_max_size(f), &cut),
					 IP_OUT_FRAGMENT);
			assert_int_equal(ip6_fragment(out, olen, cut, id, buf, FRAG_MAX_DATAGRAM6,
						      collect, &again), (int)ps.n);
			for (unsigned i = 0; i < ps.n; i++) {
				assert_int_equal(again.len[i], ps.len[i]);
				assert_memory_equal(again.b[i], ps.b[i], ps.len[i]);
			}
			pieces_free(&again);
		}
		pieces_free(&ps);
		dgram6_free(&d);
	}
	assert_int_equal(stats(f).queues, 0);
	free(buf);
	frag_destroy(f);
}

static void test6_fragment_errors(void **state)
{
	static const struct ext hop[] = { { NH_HOP, 16 } };
	struct pieces ps = { .n = 0 };
	struct dgram6 d;
	uint8_t buf[1500], *b;
	size_t len;

	(void)state;
	dgram6_build(&d, hop, 1, NULL, 0, 2000, 0, 0, 1);
	/* room for the headers and 8 bytes: 56 + 8 + 8 */
	assert_int_equal(ip6_fragment(d.b, d.len, 71, 1, buf, sizeof(buf), collect, &ps),
			 -EMSGSIZE);
	assert_int_equal(ip6_fragment(d.b, d.len, 1280, 1, buf, 1279, collect, &ps), -EMSGSIZE);
	assert_int_equal(ps.n, 0);
	{
		struct dgram6 small;

		dgram6_build(&small, hop, 1, NULL, 0, 40, 0, 0, 1);
		assert_int_equal(ip6_fragment(small.b, small.len, 72, 1, buf, sizeof(buf),
					      collect, &ps), 5);
		dgram6_free(&small);
	}
	pieces_free(&ps);
	/* not ip_fragment's */
	assert_int_equal(ip_fragment(d.b, d.len, 1280, buf, sizeof(buf), collect, &ps), -EINVAL);
	/* a fragment header already: refused */
	b = dgram6_frag(&d, 0, 208, false, &len);
	assert_int_equal(ip6_fragment(b, len, 100, 1, buf, sizeof(buf), collect, &ps), -EINVAL);
	free(b);
	/* an extension header running past the end, or nothing after them */
	assert_int_equal(ip6_fragment(d.b, 50, 1280, 1, buf, sizeof(buf), collect, &ps), -EINVAL);
	assert_int_equal(ip6_fragment(d.b, 56, 1280, 1, buf, sizeof(buf), collect, &ps), -EINVAL);
	assert_int_equal(ip6_fragment(d.b, 39, 1280, 1, buf, sizeof(buf), collect, &ps), -EINVAL);
	assert_int_equal(ps.n, 0);
	dgram6_free(&d);
}

/* ip6_forward and __ip6_finish_output's choice. */
static void test6_out_decide(void **state)
{
	static const struct {
		size_t len;
		unsigned mtu, fmax;
		enum ip_out want;
		unsigned cut;
	} cases[] = {
		{ 1500, 1500, 0, IP_OUT_SEND, 1500 },         /* fits */
		{ 9000, 0, 0, IP_OUT_SEND, 0 },               /* no limit */
		{ 1501, 1500, 0, IP_OUT_TOO_BIG, 1500 },      /* routers never fragment */
		{ 4000, 1420, 1280, IP_OUT_FRAGMENT, 1280 },  /* reassembled: its own size */
		{ 4000, 1420, 1420, IP_OUT_FRAGMENT, 1420 },
		{ 4000, 1420, 1500, IP_OUT_TOO_BIG, 1420 },   /* its fragments too big */
		{ 1400, 1500, 1000, IP_OUT_FRAGMENT, 1000 },  /* fits, still cut back */
		{ 1400, 0, 1000, IP_OUT_FRAGMENT, 1000 },
		{ 1000, 1500, 1008, IP_OUT_SEND, 1500 },      /* one fragment held it all */
		{ 1000, 900, 1008, IP_OUT_TOO_BIG, 900 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned cut = 7;

		assert_int_equal(ip6_out_decide(cases[i].len, cases[i].mtu, cases[i].fmax, &cut),
				 cases[i].want);
		assert_int_equal(cut, cases[i].cut);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_reverse_with_options),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_not_a_fragment),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_end_rules),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_budget_evicts_oldest),
		cmocka_unit_test(test_queue_table_full),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_ecn_df),
		cmocka_unit_test(test_random_orders),
		cmocka_unit_test(test_mutants),
		cmocka_unit_test(test_fragment_roundtrip),
		cmocka_unit_test(test_fragment_options_and_flags),
		cmocka_unit_test(test_out_decide),
		cmocka_unit_test(test6_in_order),
		cmocka_unit_test(test6_orders),
		cmocka_unit_test(test6_ext_headers),
		cmocka_unit_test(test6_duplicates),
		cmocka_unit_test(test6_overlaps),
		cmocka_unit_test(test6_end_rules),
		cmocka_unit_test(test6_truncated_first),
		cmocka_unit_test(test6_atomic),
		cmocka_unit_test(test6_timeout),
		cmocka_unit_test(test6_budget),
		cmocka_unit_test(test6_limit),
		cmocka_unit_test(test6_ecn_max_size),
		cmocka_unit_test(test6_fragment_roundtrip),
		cmocka_unit_test(test6_fragment_errors),
		cmocka_unit_test(test6_out_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
