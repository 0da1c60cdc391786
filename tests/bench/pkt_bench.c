/* SPDX-License-Identifier: MIT */
/*
 * nat/pkt and nat/csum throughput: parse, full L4 checksum, SNAT rewrite.
 * Each case runs in batches until at least MIN_NS have passed on
 * CLOCK_MONOTONIC; results feed a volatile sink so nothing is optimised
 * away.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"

enum { BATCH = 1 << 14 };
#define MIN_NS 300e6

static volatile uint32_t sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* An IPv4 packet of len bytes, proto TCP or UDP, with valid checksums. */
static void build(uint8_t *b, size_t len, uint8_t proto)
{
	size_t l4len = len - 20;

	memset(b, 0, len);
	for (size_t i = 20; i < len; i++)
		b[i] = (uint8_t)(i * 31 + 7);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)len);
	be16_put(b + 4, 0x1c46);
	b[6] = 0x40;
	b[8] = 64;
	b[9] = proto;
	be32_put(b + 12, 0xc0a8010a);
	be32_put(b + 16, 0x5db8d822);
	be16_put(b + 10, csum_ip(b, 20));
	be16_put(b + 20, 54321);
	be16_put(b + 22, 443);
	if (proto == 6) {
		b[32] = 0x50;
		b[33] = 0x18;
		be16_put(b + 36, csum_l4(0xc0a8010a, 0x5db8d822, 6, b + 20, l4len));
	} else {
		be16_put(b + 24, (uint16_t)l4len);
		be16_put(b + 26, csum_l4(0xc0a8010a, 0x5db8d822, 17, b + 20, l4len));
	}
}

struct result {
	const char *name;
	double ns;
};

static struct result bench_parse(const char *name, uint8_t *b, size_t len)
{
	double t0 = now_ns(), t;
	unsigned long n = 0;
	struct pkt p;

	do {
		for (int i = 0; i < BATCH; i++) {
			if (pkt_parse(&p, b, len) != PKT_OK)
				abort();
			sink += p.outer.sport;
		}
		n += BATCH;
	} while ((t = now_ns() - t0) < MIN_NS);
	return (struct result){ name, t / (double)n };
}

static struct result bench_csum(const char *name, const uint8_t *b, size_t len)
{
	double t0 = now_ns(), t;
	unsigned long n = 0;

	do {
		for (int i = 0; i < BATCH; i++)
			sink += csum_l4(0xc0a8010a, 0x5db8d822 + (uint32_t)i, 6, b + 20, len - 20);
		n += BATCH;
	} while ((t = now_ns() - t0) < MIN_NS);
	return (struct result){ name, t / (double)n };
}

/* Source address and port to one of two public bindings, alternating so
 * every rewrite changes both fields and all checksums. */
static struct result bench_snat(const char *name, uint8_t *b, size_t len)
{
	static const union nf_addr addr[2] = { { .ip6 = { 0xcb007107 } }, { .ip6 = { 0xcb007108 } } };
	static const uint16_t port[2] = { 40000, 40001 };
	double t0, t;
	unsigned long n = 0;
	struct pkt p;

	if (pkt_parse(&p, b, len) != PKT_OK)
		abort();
	t0 = now_ns();
	do {
		for (int i = 0; i < BATCH; i++) {
			pkt_set_saddr(&p, &p.outer, &addr[i & 1]);
			pkt_set_sport(&p, &p.outer, port[i & 1]);
		}
		n += BATCH;
	} while ((t = now_ns() - t0) < MIN_NS);
	sink += be16_get(b + 36);
	/* Still a valid packet with a right TCP checksum. */
	if (pkt_parse(&p, b, len) != PKT_OK ||
	    csum_l4(p.outer.saddr.ip, p.outer.daddr.ip, 6, b + 20, len - 20) != be16_get(b + 36))
		abort();
	return (struct result){ name, t / (double)n };
}

int main(void)
{
	static uint8_t udp64[64], tcp1400[1400];
	struct result r[4];

	build(udp64, sizeof(udp64), 17);
	build(tcp1400, sizeof(tcp1400), 6);
	r[0] = bench_parse("pkt_parse UDP 64 B", udp64, sizeof(udp64));
	r[1] = bench_parse("pkt_parse TCP 1400 B", tcp1400, sizeof(tcp1400));
	r[2] = bench_csum("csum_l4 full 1400 B", tcp1400, sizeof(tcp1400));
	r[3] = bench_snat("SNAT saddr+sport (pkt_set_*)", tcp1400, sizeof(tcp1400));

	printf("%-30s %10s %10s\n", "benchmark", "ns/pkt", "Mpps");
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		printf("%-30s %10.1f %10.2f\n", r[i].name, r[i].ns, 1e3 / r[i].ns);
	return 0;
}
