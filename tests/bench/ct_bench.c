/* SPDX-License-Identifier: MIT */
/*
 * ct_bench — conntrack throughput: new connections per second, ct_in() on
 * established flows and bare ct_lookup() with 1k, 100k and 1M entries
 * (flows picked at random, so the big tables miss the caches as real
 * traffic would), and the memory each entry costs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nat/ct.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"

enum { NPKT = 8192, PKTLEN = 48, BATCH = 32 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Flow i: 10.x.y.z:port -> 203.0.113.5:443, UDP, 20 bytes of payload. */
static void flow_tuple(uint32_t i, uint32_t *src, uint16_t *sport)
{
	*src = 0x0a000000u | (i >> 4);
	*sport = (uint16_t)(1024 + (i & 15));
}

static void build(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	memset(b, 0, PKTLEN);
	b[0] = 0x45;
	be16_put(b + 2, PKTLEN);
	b[8] = 64;
	b[9] = 17;
	be32_put(b + 12, src);
	be32_put(b + 16, dst);
	be16_put(b + 10, csum_ip(b, 20));
	be16_put(b + 20, sport);
	be16_put(b + 22, dport);
	be16_put(b + 24, PKTLEN - 20);
	be16_put(b + 26, csum_l4(src, dst, 17, b + 20, PKTLEN - 20));
}

struct run {
	uint32_t n;
	double new_per_s, in_ns, batch_ns, lookup_ns;
	double bytes_per_entry;
};

static struct pkt *pkts;
static uint8_t (*bufs)[PKTLEN];

static int measure(uint32_t n, struct run *r)
{
	const uint32_t dst = 0xcb007105u; /* 203.0.113.5 */
	struct ct_config cfg;
	struct ct_table *t;
	struct ct_tuple *tuples;
	uint64_t now = 1000000000000ULL;
	uint8_t buf[PKTLEN];
	struct pkt p;
	double t0, t1;
	unsigned rounds;
	volatile uintptr_t sink = 0;

	ct_config_default(&cfg, n);
	cfg.hash_seed = 0x5eed;
	if (ct_create(&t, &cfg))
		return -1;
	r->n = n;
	r->bytes_per_entry = (double)ct_entry_size() +
		/* the accounting beside the pool: packets and bytes each way */
		(double)(2 * sizeof(struct ct_acct)) +
		/* default buckets: the power of two >= 2 * max, 4 bytes each */
		4.0 * (double)(1u << (32 - __builtin_clz(2 * n - 1))) / n;

	/* new connections: first packet, confirm, and the reply */
	t0 = now_s();
	for (uint32_t i = 0; i < n; i++) {
		struct nf_ctx ctx = { .pkt = &p, .now = now };
		uint32_t src;
		uint16_t sport;

		flow_tuple(i, &src, &sport);
		build(buf, src, dst, sport, 443);
		if (pkt_parse(&p, buf, PKTLEN) != PKT_OK)
			return -1;
		ct_in(t, &ctx, true);
		if (!ctx.ct || ct_confirm(t, ctx.ct, now))
			return -1;
	}
	t1 = now_s();
	r->new_per_s = n / (t1 - t0);

	/* established: random flows, replies and originals */
	tuples = malloc(NPKT * sizeof(*tuples));
	if (!tuples)
		return -1;
	for (uint32_t k = 0; k < NPKT; k++) {
		uint32_t i = rnd() % n, src;
		uint16_t sport;

		flow_tuple(i, &src, &sport);
		if (k & 1)
			build(bufs[k], dst, src, 443, sport);
		else
			build(bufs[k], src, dst, sport, 443);
		if (pkt_parse(&pkts[k], bufs[k], PKTLEN) != PKT_OK)
			return -1;
		tuples[k] = ct_tuple4(src, dst, sport, 443, 17);
	}
	rounds = n >= 1000000 ? 200 : 400;
	t0 = now_s();
	for (unsigned round = 0; round < rounds; round++) {
		for (uint32_t k = 0; k < NPKT; k++) {
			struct nf_ctx ctx = { .pkt = &pkts[k], .now = now + round * 1000000ULL };

			ct_in(t, &ctx, false);
			sink += (uintptr_t)ctx.ct;
		}
	}
	t1 = now_s();
	r->in_ns = (t1 - t0) * 1e9 / ((double)rounds * NPKT);

	/* the same in batches of 32, prefetched first (gw's recvmmsg batch) */
	t0 = now_s();
	for (unsigned round = 0; round < rounds; round++) {
		for (uint32_t k = 0; k < NPKT; k += BATCH) {
			for (uint32_t j = k; j < k + BATCH; j++)
				ct_prefetch(t, &pkts[j]);
			for (uint32_t j = k; j < k + BATCH; j++) {
				struct nf_ctx ctx = { .pkt = &pkts[j],
						      .now = now + round * 1000000ULL };

				ct_in(t, &ctx, false);
				sink += (uintptr_t)ctx.ct;
			}
		}
	}
	t1 = now_s();
	r->batch_ns = (t1 - t0) * 1e9 / ((double)rounds * NPKT);

	t0 = now_s();
	for (unsigned round = 0; round < rounds; round++)
		for (uint32_t k = 0; k < NPKT; k++)
			sink += (uintptr_t)ct_lookup(t, &tuples[k], NULL);
	t1 = now_s();
	r->lookup_ns = (t1 - t0) * 1e9 / ((double)rounds * NPKT);
	(void)sink;
	free(tuples);
	ct_destroy(t);
	return 0;
}

int main(void)
{
	static const uint32_t sizes[] = { 1000, 100000, 1000000 };
	struct run runs[3];

	pkts = calloc(NPKT, sizeof(*pkts));
	bufs = calloc(NPKT, sizeof(*bufs));
	if (!pkts || !bufs)
		return 1;
	for (int i = 0; i < 3; i++) {
		if (measure(sizes[i], &runs[i])) {
			fprintf(stderr, "ct_bench: setup failed at %u entries\n", sizes[i]);
			return 1;
		}
	}
	printf("conntrack (UDP flows, random access, entry %zu bytes)\n", ct_entry_size());
	printf("%10s %12s %12s %14s %12s %12s %12s\n", "entries", "new conn/s",
	       "ct_in ns", "batched ns", "Mpkt/s", "lookup ns", "bytes/entry");
	for (int i = 0; i < 3; i++)
		printf("%10u %12.0f %12.1f %14.1f %12.2f %12.1f %12.1f\n", runs[i].n,
		       runs[i].new_per_s, runs[i].in_ns, runs[i].batch_ns,
		       1e3 / runs[i].batch_ns, runs[i].lookup_ns, runs[i].bytes_per_entry);
	printf("cost 1M / 1k: ct_in %.2fx, batched ct_in %.2fx, lookup %.2fx\n",
	       runs[2].in_ns / runs[0].in_ns, runs[2].batch_ns / runs[0].batch_ns,
	       runs[2].lookup_ns / runs[0].lookup_ns);
	free(pkts);
	free(bufs);
	return 0;
}
