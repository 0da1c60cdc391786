/* SPDX-License-Identifier: MIT */
/*
 * nat/frag throughput, ns per fragment (pkt_parse included):
 *   pair       a 2000-byte UDP datagram in two fragments (MTU 1500), in order
 *   64k rev    a 65535-byte datagram in 45 fragments, last first
 *   tiny flood 8-byte fragments at random offsets into 4096 random keys,
 *              never completing: a budget of 4 MB, so the oldest queues are
 *              evicted all the time (the attack the budget is for)
 *   pair v6    a 2000-byte IPv6 UDP datagram in two fragments (1280 and the
 *              rest), in order
 *   tiny v6    the tiny flood with IPv6 fragments
 * Each case runs until at least MIN_NS have passed on CLOCK_MONOTONIC.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"

#define MIN_NS 300e6

static volatile size_t sink;
static uint8_t out[FRAG_MAX_DATAGRAM];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ z >> 27) * 0x94d049bb133111ebULL;
	return z ^ z >> 31;
}

/* A UDP fragment: payload [off, off + n) of a datagram of plen bytes. */
static size_t mkfrag(uint8_t *b, uint32_t src, uint16_t id, unsigned off,
		     unsigned n, unsigned plen)
{
	memset(b, 0, 20);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)(20 + n));
	be16_put(b + 4, id);
	be16_put(b + 6, (uint16_t)((off + n < plen ? 0x2000 : 0) | off / 8));
	b[8] = 64;
	b[9] = 17;
	be32_put(b + 12, src);
	be32_put(b + 16, 0xc6336401);
	be16_put(b + 10, csum_ip(b, 20));
	memset(b + 20, 0x5a, n);
	if (!off) {
		be16_put(b + 24, (uint16_t)plen);
		be16_put(b + 26, 0);
	}
	return 20 + n;
}

/* An IPv6 UDP fragment: data [off, off + n) of a fragmentable part of
 * plen bytes (UDP header first), behind a 40-byte header. */
static size_t mkfrag6(uint8_t *b, uint32_t src, uint32_t id, unsigned off, unsigned n,
		      unsigned plen)
{
	memset(b, 0, 48);
	b[0] = 0x60;
	be16_put(b + 4, (uint16_t)(8 + n));
	b[6] = 44;
	b[7] = 64;
	be32_put(b + 8, 0x20010db8);
	be32_put(b + 20, src);
	be32_put(b + 24, 0x20010db8);
	be32_put(b + 36, 1);
	b[40] = 17;
	be16_put(b + 42, (uint16_t)(off | (off + n < plen ? 1 : 0)));
	be32_put(b + 44, id);
	memset(b + 48, 0x5a, n);
	if (!off) {
		be16_put(b + 52, (uint16_t)plen);
		be16_put(b + 54, 0);
	}
	return 48 + n;
}

struct frg {
	uint8_t *b;
	size_t len;
};

static double run(struct frag *f, struct frg *v, size_t n, unsigned long *count,
		  uint64_t *now)
{
	double t0 = now_ns(), t;
	unsigned long c = 0;

	do {
		for (size_t i = 0; i < n; i++) {
			struct pkt p;
			size_t olen;

			if (pkt_parse(&p, v[i].b, v[i].len) != PKT_OK)
				abort();
			if (frag_add(f, *now, &p, out, sizeof(out), &olen) == FRAG_DONE)
				sink += olen;
		}
		c += n;
		*now += 1000;
		t = now_ns() - t0;
	} while (t < MIN_NS);
	*count = c;
	return t;
}

static struct frag *mk(void)
{
	struct frag_config cfg;
	struct frag *f;

	frag_config_default(&cfg);
	cfg.hash_seed = 1;
	if (frag_create(&f, &cfg))
		abort();
	return f;
}

static void report(const char *name, struct frag *f, double t, unsigned long c)
{
	struct frag_stats st;

	frag_get_stats(f, &st);
	printf("%-12s %8.1f ns/fragment  %9.0f fragments/s  ok %llu evicted %llu\n",
	       name, t / (double)c, (double)c * 1e9 / t,
	       (unsigned long long)st.oks, (unsigned long long)st.evicted);
}

int main(void)
{
	enum { TINY = 1 << 16 };
	struct frg pair[2], big[45], *tiny = malloc(TINY * sizeof(*tiny));
	uint64_t now = 1, s = 42;
	unsigned long c;
	struct frag *f;
	double t;

	if (!tiny)
		return 1;
	for (unsigned i = 0; i < 2; i++) {
		pair[i].b = malloc(1500);
		pair[i].len = mkfrag(pair[i].b, 0xc0000201, 7, i * 1480,
				     i ? 520 : 1480, 2000);
	}
	f = mk();
	t = run(f, pair, 2, &c, &now);
	report("pair", f, t, c);
	frag_destroy(f);

	for (unsigned i = 0; i < 45; i++) {
		unsigned off = (44 - i) * 1480, n = off + 1480 > 65515 ? 65515 - off : 1480;

		big[i].b = malloc(1500);
		big[i].len = mkfrag(big[i].b, 0xc0000201, 9, off, n, 65515);
	}
	f = mk();
	t = run(f, big, 45, &c, &now);
	report("64k rev", f, t, c);
	frag_destroy(f);

	for (unsigned i = 0; i < TINY; i++) {
		unsigned off = 8 + (unsigned)(rnd(&s) % 8000) * 8;

		tiny[i].b = malloc(28);
		tiny[i].len = mkfrag(tiny[i].b, 0x0a000000 + (uint32_t)(rnd(&s) % 4096),
				     (uint16_t)rnd(&s), off, 8, 65000);
	}
	f = mk();
	t = run(f, tiny, TINY, &c, &now);
	report("tiny flood", f, t, c);
	frag_destroy(f);

	for (unsigned i = 0; i < 2; i++)
		pair[i].len = mkfrag6(pair[i].b, 1, 7, i * 1232, i ? 768 : 1232, 2000);
	f = mk();
	t = run(f, pair, 2, &c, &now);
	report("pair v6", f, t, c);
	frag_destroy(f);

	for (unsigned i = 0; i < TINY; i++) {
		unsigned off = 8 + (unsigned)(rnd(&s) % 8000) * 8;

		free(tiny[i].b);
		tiny[i].b = malloc(56);
		tiny[i].len = mkfrag6(tiny[i].b, (uint32_t)(rnd(&s) % 4096), (uint32_t)rnd(&s),
				      off, 8, 65000);
	}
	f = mk();
	t = run(f, tiny, TINY, &c, &now);
	report("tiny v6", f, t, c);
	frag_destroy(f);

	for (unsigned i = 0; i < 2; i++)
		free(pair[i].b);
	for (unsigned i = 0; i < 45; i++)
		free(big[i].b);
	for (unsigned i = 0; i < TINY; i++)
		free(tiny[i].b);
	free(tiny);
	return 0;
}
