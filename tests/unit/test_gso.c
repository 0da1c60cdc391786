/* SPDX-License-Identifier: MIT */
/*
 * nat/gso: super-packets cut as the kernel's tcp4/tcp6/udp4 GSO would, and
 * partial checksums completed.  Every segment is checked against the
 * super-packet it came from with a checksum written here (plain 16-bit word
 * sums, not nat/csum), and bad input is refused, never read past.
 */
#include <errno.h>
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
#include "tests/unit/util_mutate.h"
#include "tests/unit/util_refsum.h"
#include "tests/unit/util_rng.h"

enum { FIN = 0x01, SYN = 0x02, PSH = 0x08, ACK = 0x10, ECE = 0x40, CWR = 0x80, MAX = 70000 };



/*
 * A TCP super-packet: IPv4 (l3 = 20 + v4opt bytes) or IPv6 (40), a TCP
 * header with topt bytes of options, payload bytes of a counting pattern.
 * Checksum fields are left as garbage: GSO segments get theirs computed.
 */
static size_t build_tcp(uint8_t *p, bool v6, size_t v4opt, size_t topt, size_t payload,
			uint8_t flags)
{
	size_t l3 = v6 ? 40 : 20 + v4opt, hdrs = l3 + 20 + topt, len = hdrs + payload;

	memset(p, 0, hdrs);
	if (v6) {
		p[0] = 0x60;
		be16_put(p + 4, (uint16_t)(len - 40));
		p[6] = 6;
		p[7] = 64;
		for (int i = 0; i < 16; i++)
			p[8 + i] = (uint8_t)(0x20 + i), p[24 + i] = (uint8_t)(0x40 + i);
	} else {
		p[0] = (uint8_t)(0x40 | l3 / 4);
		be16_put(p + 2, (uint16_t)len);
		be16_put(p + 4, 0xfffe); /* the ID wraps */
		be16_put(p + 6, 0x4000); /* DF */
		p[8] = 64;
		p[9] = 6;
		be16_put(p + 10, 0xbeef);
		be32_put(p + 12, 0xc0000201);
		be32_put(p + 16, 0xcb007105);
		for (size_t i = 20; i < l3; i++)
			p[i] = 1; /* NOPs */
	}
	be16_put(p + l3, 40000);
	be16_put(p + l3 + 2, 443);
	be32_put(p + l3 + 4, 0xfffff000); /* the sequence wraps */
	be32_put(p + l3 + 8, 0x12345678);
	p[l3 + 12] = (uint8_t)((20 + topt) / 4 << 4);
	p[l3 + 13] = flags;
	be16_put(p + l3 + 14, 501);
	be16_put(p + l3 + 16, 0xdead);
	for (size_t i = 0; i < topt; i++)
		p[l3 + 20 + i] = (uint8_t)(0x80 + i);
	for (size_t i = 0; i < payload; i++)
		p[hdrs + i] = (uint8_t)(i * 7 + i / 251);
	return len;
}

/* Cuts p and checks every segment against it. */
static void check_tcp(const uint8_t *p, size_t len, bool v6, unsigned mss, unsigned want_n)
{
	enum gso_kind kind = v6 ? GSO_TCP6 : GSO_TCP4;
	size_t l3 = v6 ? 40 : (size_t)(p[0] & 0xf) * 4, hdrs = l3 + (size_t)(p[l3 + 12] >> 4) * 4;
	size_t payload = len - hdrs, off = 0;
	uint8_t *seg = malloc(MAX);
	uint8_t flags = p[l3 + 13];
	struct gso s;

	assert_non_null(seg);
	assert_int_equal(gso_init(&s, p, len, kind, mss), 0);
	assert_int_equal(s.n, want_n);
	for (unsigned i = 0; i < s.n; i++) {
		size_t n = gso_seg_len(&s, i), plen = n - hdrs;
		uint8_t f;

		assert_true(plen > 0 && plen <= mss);
		assert_true(i + 1 == s.n || plen == mss);
		memset(seg, 0xa5, n);
		gso_seg(&s, i, seg);
		f = seg[l3 + 13];
		if (v6) {
			assert_int_equal(be16_get(seg + 4), n - 40);
			assert_memory_equal(seg, p, 4);
			assert_memory_equal(seg + 6, p + 6, 34);
		} else {
			assert_int_equal(be16_get(seg + 2), n);
			assert_int_equal(be16_get(seg + 4), (uint16_t)(0xfffe + i));
			assert_int_equal(ref_fold(ref_sum(0, seg, l3)), 0xffff);
			assert_memory_equal(seg + 6, p + 6, 4);		/* flags, TTL, proto */
			assert_memory_equal(seg + 12, p + 12, l3 - 12); /* addresses, options */
		}
		assert_memory_equal(seg + l3, p + l3, 4); /* ports */
		assert_int_equal(be32_get(seg + l3 + 4), (uint32_t)(0xfffff000u + off));
		assert_memory_equal(seg + l3 + 8, p + l3 + 8, 5); /* ack, data offset */
		assert_int_equal(f & (FIN | PSH), i + 1 == s.n ? flags & (FIN | PSH) : 0);
		assert_int_equal(f & CWR, i == 0 ? flags & CWR : 0);
		assert_int_equal(f & ~(FIN | PSH | CWR), flags & ~(FIN | PSH | CWR));
		assert_memory_equal(seg + l3 + 14, p + l3 + 14, 2);	  /* window */
		assert_memory_equal(seg + l3 + 18, p + l3 + 18, hdrs - l3 - 18); /* urg, options */
		assert_memory_equal(seg + hdrs, p + hdrs + off, plen);
		assert_true(ref_l4_ok(seg, n, l3, 6));
		off += plen;
	}
	assert_int_equal(off, payload);
	free(seg);
}

static void test_tcp4_last_short(void **state)
{
	uint8_t *p = malloc(MAX);
	size_t len = build_tcp(p, false, 0, 12, 10000, ACK | PSH | FIN | CWR | ECE);

	(void)state;
	check_tcp(p, len, false, 1448, 7); /* 6 * 1448 + 1312 */
	free(p);
}

static void test_tcp4_exact_and_options(void **state)
{
	uint8_t *p = malloc(MAX);
	size_t len = build_tcp(p, false, 8, 40, 4 * 1000, ACK | PSH);

	(void)state;
	check_tcp(p, len, false, 1000, 4); /* no empty segment after an exact fit */
	check_tcp(p, len, false, 4000, 1); /* one segment: every flag stays */
	check_tcp(p, len, false, 1, 4000);
	free(p);
}

static void test_tcp4_max(void **state)
{
	uint8_t *p = malloc(MAX);
	size_t len = build_tcp(p, false, 0, 0, 65535 - 40, ACK | CWR);

	(void)state;
	check_tcp(p, len, false, 1460, 45);
	free(p);
}

static void test_tcp6(void **state)
{
	uint8_t *p = malloc(MAX);
	size_t len = build_tcp(p, true, 0, 12, 9999, ACK | PSH | FIN | CWR);

	(void)state;
	check_tcp(p, len, true, 1428, 8); /* 7 * 1428 + 3 */
	len = build_tcp(p, true, 0, 0, 65535 - 20, ACK);
	check_tcp(p, len, true, 1440, 46);
	free(p);
}

/* Padding after the IP length is not payload. */
static void test_padding_ignored(void **state)
{
	uint8_t *p = calloc(1, MAX);
	size_t len = build_tcp(p, false, 0, 0, 3000, ACK);
	struct gso s;

	(void)state;
	assert_int_equal(gso_init(&s, p, len + 30, GSO_TCP4, 1000), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(gso_seg_len(&s, 2), 40 + 1000);
	len = build_tcp(p, true, 0, 0, 3000, ACK);
	assert_int_equal(gso_init(&s, p, len + 30, GSO_TCP6, 1000), 0);
	assert_int_equal(s.n, 3);
	free(p);
}

static void test_udp4(void **state)
{
	uint8_t p[20 + 8 + 2500], seg[1500];
	struct gso s;
	size_t off = 0;

	(void)state;
	memset(p, 0, sizeof(p));
	p[0] = 0x45;
	be16_put(p + 2, sizeof(p));
	be16_put(p + 4, 7);
	p[8] = 64;
	p[9] = 17;
	be32_put(p + 12, 0x0a000001);
	be32_put(p + 16, 0x0a000002);
	be16_put(p + 20, 5000);
	be16_put(p + 22, 53);
	for (size_t i = 28; i < sizeof(p); i++)
		p[i] = (uint8_t)i;
	assert_int_equal(gso_init(&s, p, sizeof(p), GSO_UDP4, 1200), 0);
	assert_int_equal(s.n, 3);
	for (unsigned i = 0; i < s.n; i++) {
		size_t n = gso_seg_len(&s, i);

		gso_seg(&s, i, seg);
		assert_int_equal(be16_get(seg + 2), n);
		assert_int_equal(be16_get(seg + 4), 7 + i);
		assert_int_equal(ref_fold(ref_sum(0, seg, 20)), 0xffff);
		assert_int_equal(be16_get(seg + 24), n - 20);
		assert_true(ref_l4_ok(seg, n, 20, 17));
		assert_memory_equal(seg + 28, p + 28 + off, n - 28);
		off += n - 28;
	}
	assert_int_equal(off, 2500);
	/* UDP is not cut as TCP, nor TCP as UDP */
	assert_int_equal(gso_init(&s, p, sizeof(p), GSO_TCP4, 1200), -EINVAL);
}

static void test_refused(void **state)
{
	uint8_t *p = malloc(MAX);
	size_t len = build_tcp(p, false, 0, 0, 3000, ACK);
	struct gso s;

	(void)state;
	assert_int_equal(gso_init(&s, p, len, GSO_TCP4, 0), -EINVAL);	    /* bad gso_size */
	assert_int_equal(gso_init(&s, p, len - 1, GSO_TCP4, 1000), -EINVAL); /* cut short */
	assert_int_equal(gso_init(&s, p, len, GSO_TCP6, 1000), -EINVAL);	    /* family */
	assert_int_equal(gso_init(&s, p, len, GSO_UDP4, 1000), -EINVAL);
	assert_int_equal(gso_init(&s, p, len, (enum gso_kind)0, 1000), -EINVAL);
	assert_int_equal(gso_init(&s, p, 19, GSO_TCP4, 1000), -EINVAL);
	be16_put(p + 6, 0x2000); /* MF: a fragment */
	assert_int_equal(gso_init(&s, p, len, GSO_TCP4, 1000), -EINVAL);
	be16_put(p + 6, 0x0001); /* an offset */
	assert_int_equal(gso_init(&s, p, len, GSO_TCP4, 1000), -EINVAL);
	be16_put(p + 6, 0);
	p[0] = 0x44; /* IHL 16 */
	assert_int_equal(gso_init(&s, p, len, GSO_TCP4, 1000), -EINVAL);
	p[0] = 0x45;
	p[20 + 12] = 0x40; /* data offset 4 */
	assert_int_equal(gso_init(&s, p, len, GSO_TCP4, 1000), -EINVAL);
	p[20 + 12] = 0xf0; /* 60-byte TCP header: past the 40-byte packet */
	be16_put(p + 2, 60);
	assert_int_equal(gso_init(&s, p, len, GSO_TCP4, 1000), -EINVAL);
	len = build_tcp(p, false, 0, 0, 0, ACK); /* headers only: nothing to cut */
	assert_int_equal(gso_init(&s, p, len, GSO_TCP4, 1000), -EINVAL);
	be16_put(p + 2, 30); /* the IP length inside the TCP header */
	assert_int_equal(gso_init(&s, p, len, GSO_TCP4, 1000), -EINVAL);

	len = build_tcp(p, true, 0, 0, 3000, ACK);
	assert_int_equal(gso_init(&s, p, len, GSO_TCP6, 1000), 0);
	assert_int_equal(gso_init(&s, p, len, GSO_TCP4, 1000), -EINVAL);
	p[6] = 0; /* a hop-by-hop header first */
	assert_int_equal(gso_init(&s, p, len, GSO_TCP6, 1000), -EINVAL);
	p[6] = 6;
	be16_put(p + 4, 0); /* a jumbogram */
	assert_int_equal(gso_init(&s, p, len, GSO_TCP6, 1000), -EINVAL);
	be16_put(p + 4, (uint16_t)(len - 39));
	assert_int_equal(gso_init(&s, p, len, GSO_TCP6, 1000), -EINVAL);
	assert_int_equal(gso_init(&s, p, 39, GSO_TCP6, 1000), -EINVAL);
	free(p);
}

/* Random bytes, lengths and sizes: refused or cut inside the buffer (ASan
 * watches), never more payload than there is. */
static void test_random(void **state)
{
	struct rng r = { test_seed() };
	unsigned ok_count = 0;
	uint8_t *p = malloc(MAX), *seg = malloc(MAX);

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = rnd_in(&r, 0, round % 2 ? 200 : 3000);
		enum gso_kind kind = (enum gso_kind)rnd_in(&r, 0, 4);
		unsigned mss = rnd_in(&r, 0, 1600), total = 0;
		uint8_t *q = p + MAX - len; /* the buffer ends with the packet */
		struct gso s;

		rnd_bytes(&r, q, len);
		if (len > 0 && rnd(&r, 2))
			q[0] = (uint8_t)(rnd(&r, 2) ? 0x45 : 0x60);
		if (len > 10 && rnd(&r, 2))
			be16_put(q + 2, (uint16_t)len), be16_put(q + 4, (uint16_t)(len - 40)),
				q[6] = 6, q[9] = (uint8_t)(rnd(&r, 2) ? 6 : 17);
		if (len > 34 && rnd(&r, 2))
			be16_put(q + 6, 0), q[32] = 0x50, q[52 < len ? 52 : 32] = 0x50;
		if (gso_init(&s, q, len, kind, mss))
			continue;
		assert_true(s.n >= 1 && s.len <= len);
		ok_count++;
		for (unsigned i = 0; i < s.n; i++) {
			size_t n = gso_seg_len(&s, i);

			assert_true(n > s.hdrs && n - s.hdrs <= mss);
			gso_seg(&s, i, seg + MAX - n);
			total += (unsigned)(n - s.hdrs);
		}
		assert_int_equal(total, s.len - s.hdrs);
	}
	assert_true(ok_count > 0); /* some were cut */
	free(seg);
	free(p);
}

/* A partial checksum: the pseudo-header sum in the field, completed over the
 * rest; refused when the field is not inside the packet. */
static void test_csum_complete(void **state)
{
	uint8_t *p = malloc(MAX);
	size_t len = build_tcp(p, false, 4, 0, 777, ACK), l3 = 24;
	uint32_t ps = ref_sum(6 + (uint32_t)(len - l3), p + 12, 8);

	(void)state;
	be16_put(p + l3 + 16, ref_fold(ps));
	assert_int_equal(gso_csum_complete(p, len, l3, 16), 0);
	assert_true(ref_l4_ok(p, len, l3, 6));

	len = build_tcp(p, true, 0, 0, 1001, ACK | PSH);
	ps = ref_sum(6 + (uint32_t)(len - 40), p + 8, 32);
	be16_put(p + 40 + 16, ref_fold(ps));
	assert_int_equal(gso_csum_complete(p, len, 40, 16), 0);
	assert_true(ref_l4_ok(p, len, 40, 6));

	assert_int_equal(gso_csum_complete(p, len, 40, (size_t)len - 41), -EINVAL);
	assert_int_equal(gso_csum_complete(p, len, len - 1, 0), -EINVAL);
	assert_int_equal(gso_csum_complete(p, len, 10, 6), -EINVAL); /* inside the IP header */
	assert_int_equal(gso_csum_complete(p, len, 40, SIZE_MAX), -EINVAL);
	assert_int_equal(gso_csum_complete(p, len, 40, SIZE_MAX - 41), -EINVAL); /* wraps */
	assert_int_equal(gso_csum_complete(p, len, SIZE_MAX, 1), -EINVAL);
	assert_int_equal(gso_csum_complete(p, 0, 0, 0), -EINVAL);
	assert_int_equal(gso_csum_complete(p, 30, 20, 6), -EINVAL); /* shorter than IPv6 */
	free(p);
}

/* What a TUN or packet-socket read can make of a packet: cut as each kind,
 * joined, its checksum completed at every start and offset.  buf is an exact
 * heap copy, so ASan reports any read past its end; nothing is accepted that
 * is not inside it. */
static void through_all(uint8_t *buf, size_t len)
{
	static const unsigned mss[] = { 1, 8, 1000 };
	uint8_t *gbuf = malloc(GRO_MAX);
	struct gro g;
	struct vnet_hdr h;

	for (int k = 0; k <= GSO_UDP4; k++) {
		for (size_t m = 0; m < sizeof(mss) / sizeof(mss[0]); m++) {
			struct gso s;

			if (gso_init(&s, buf, len, (enum gso_kind)k, mss[m]))
				continue;
			assert_true(s.len <= len && s.n >= 1);
			for (unsigned i = 0; i < s.n; i++) {
				size_t n = gso_seg_len(&s, i);
				uint8_t *seg = malloc(n);

				gso_seg(&s, i, seg);
				free(seg);
			}
		}
	}
	gro_init(&g, gbuf, GRO_MAX);
	if (gro_add(&g, buf, len) == GRO_HELD)
		assert_int_equal(gro_finish(&g, &h), len);
	for (size_t start = 0; start <= len + 1; start++) {
		const size_t offs[] = { 0, 6, 16, len, SIZE_MAX - start };

		for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
			if (gso_csum_complete(buf, len, start, offs[o]) == 0)
				assert_true(start >= 20 && offs[o] <= len && start + offs[o] + 2 <= len);
		}
	}
	free(gbuf);
}

static void through_all_mutant(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	(void)ctx;
	(void)m;
	through_all(buf, len);
}

/* Short and broken packets are refused, never read past: the input fuzzing
 * found (gso_csum_complete read the protocol byte of a 5-byte packet), then
 * every bit flip and truncation of a TCP/IPv4, TCP/IPv6 and UDP/IPv4
 * super-packet. */
static void test_short_and_mutants(void **state)
{
	static const uint8_t fuzz_csum_short[] = { 0xff, 0xff, 0x6f, 0x00, 0x00 };
	uint8_t *p = malloc(MAX), *q = malloc(sizeof(fuzz_csum_short));
	size_t len;

	(void)state;
	memcpy(q, fuzz_csum_short, sizeof(fuzz_csum_short));
	through_all(q, sizeof(fuzz_csum_short));
	free(q);

	len = build_tcp(p, false, 4, 4, 17, ACK);
	assert_int_equal(mutate_all(p, len, through_all_mutant, NULL), len * 9);
	len = build_tcp(p, true, 0, 0, 9, ACK | PSH);
	assert_int_equal(mutate_all(p, len, through_all_mutant, NULL), len * 9);
	len = build_tcp(p, false, 0, 0, 9, ACK);
	p[9] = 17; /* a UDP header where the TCP one was */
	assert_int_equal(mutate_all(p, len, through_all_mutant, NULL), len * 9);
	free(p);
}

/* A UDP sum that comes out 0 is sent as 0xffff (0 means none). */
static void test_csum_udp_zero(void **state)
{
	uint8_t p[20 + 8 + 2] = { 0x45 };
	uint32_t s;

	(void)state;
	p[9] = 17;
	be16_put(p + 2, sizeof(p));
	be16_put(p + 24, 10);
	/* choose the last payload word so the whole sum is 0xffff */
	s = ref_fold(ref_sum(17 + 10, p + 12, 8));
	be16_put(p + 26, (uint16_t)s); /* the pseudo-header sum, as the kernel leaves it */
	s = ref_fold(ref_sum(0, p + 20, 8));
	be16_put(p + 28, (uint16_t)~s);
	assert_int_equal(gso_csum_complete(p, sizeof(p), 20, 6), 0);
	assert_int_equal(be16_get(p + 26), 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp4_last_short),
		cmocka_unit_test(test_tcp4_exact_and_options),
		cmocka_unit_test(test_tcp4_max),
		cmocka_unit_test(test_tcp6),
		cmocka_unit_test(test_padding_ignored),
		cmocka_unit_test(test_udp4),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_csum_udp_zero),
		cmocka_unit_test(test_short_and_mutants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
