/* SPDX-License-Identifier: MIT */
/*
 * nat_bench: packets per second through the whole netfilter pipeline
 * (raw, conntrack, mangle, nat, routing, filter, NAT rewrite) for
 * established flows, with 10 / 100 / 1000 filter rules and 1k / 100k / 1M
 * flows; new connections per second; memory per conntrack entry.
 *
 * The filter rules are worst-case ordered: N-1 rules that never match come
 * before the ESTABLISHED accept, so every packet walks all of them.
 * Flows are visited in a random order, so the conntrack lookups miss the
 * caches as they would with real traffic.  Not a test: `make bench`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nat/ct.h"
#include "nat/hook.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"
#include "nat/sbuf.h"
#include "nat/trace.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

enum { SAMPLE = 1 << 16, PKT_LEN = 64, BATCH = 32 };

static const uint32_t UPLINK = A(192, 0, 2, 1);

static int route(void *arg, uint32_t daddr, struct nf_route *r)
{
	(void)arg;
	memset(r, 0, sizeof(*r));
	if (daddr == UPLINK) {
		r->kind = NF_ROUTE_LOCAL;
		return 0;
	}
	r->kind = NF_ROUTE_FORWARD;
	strcpy(r->out, (daddr & 0xffff0000) == A(10, 8, 0, 0) ? "gw0" : "eth0");
	r->mtu = 1500;
	return 0;
}

/* MASQUERADE's address: the uplink's out of eth0 (the tunnel's is not used). */
static uint32_t ifaddr(void *arg, const char *ifname, uint32_t dst)
{
	(void)arg;
	(void)dst;
	return strcmp(ifname, "eth0") ? A(10, 8, 0, 1) : UPLINK;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;

static uint32_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static struct rules *make_rules(unsigned n)
{
	struct sbuf s;
	struct rules *r;
	struct rules_error err;

	sbuf_init(&s);
	sbuf_add(&s, "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		     ":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 10.8.0.0/16 -o eth0 -j MASQUERADE\n"
		     "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
	for (unsigned i = 0; i + 2 < n; i++)
		sbuf_printf(&s, "-A FORWARD -s 198.18.%u.%u/32 -p udp -m udp --dport %u -j DROP\n",
			    (i >> 8) & 0xff, i & 0xff, 1 + i % 60000);
	sbuf_add(&s, "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
		     "-A FORWARD -i gw0 -o eth0 -j ACCEPT\nCOMMIT\n");
	if (rules_parse(&r, s.buf, s.len, NULL, &err)) {
		fprintf(stderr, "nat_bench: rules:%u: %s\n", err.line, err.message);
		exit(1);
	}
	sbuf_free(&s);
	return r;
}

/* Flow i: a peer address and port to a distinct server (100.64.0.0/10). */
static void flow_spec(struct trace_spec *s, uint32_t i)
{
	memset(s, 0, sizeof(*s));
	s->family = NF_V4;
	s->proto = 17;
	s->src = nf_addr4(A(10, 8, 0, 0) + 2 + (i & 0xff));
	s->sport = (uint16_t)(1024 + (i >> 8) % 60000);
	s->dst = nf_addr4(A(100, 64, 0, 0) + i);
	s->dport = 443;
}

static struct nf *gateway_hot(unsigned rules, uint32_t max, bool hot)
{
	struct nf_config cfg = { .route = route, .ifaddr = ifaddr, .uplink_addr = UPLINK,
				 .nat_port_min = 61000, .nat_port_max = 65535 };
	struct nf *nf;

	ct_config_default(&cfg.ct, max);
	cfg.ct.hash_seed = 0x1234567;
	cfg.ct.hot_off = !hot;
	if (nf_create(&nf, &cfg, make_rules(rules))) {
		fprintf(stderr, "nat_bench: out of memory\n");
		exit(1);
	}
	return nf;
}

static struct nf *gateway(unsigned rules, uint32_t max)
{
	return gateway_hot(rules, max, true);
}

static void one(struct nf *nf, const struct trace_spec *s, uint8_t *buf, uint64_t t)
{
	struct pkt p;
	struct nf_result res;
	size_t len = trace_build(s, 0, 0, 1, NULL, 0, buf, PKT_LEN + 64);

	if (pkt_parse(&p, buf, len) == PKT_OK)
		nf_input(nf, &p, "gw0", t, xorshift(), &res, NULL);
}

/* Established flows: the first packet of each, then timed packets. */
static double established_mpps(unsigned rules, uint32_t flows)
{
	struct nf *nf = gateway(rules, flows + flows / 4);
	uint8_t (*tmpl)[PKT_LEN] = malloc(SAMPLE * sizeof(*tmpl));
	uint16_t *lens = malloc(SAMPLE * sizeof(*lens));
	uint8_t buf[PKT_LEN + 64];
	struct trace_spec s;
	unsigned iters = 2000000;
	double t0, t1;

	for (uint32_t i = 0; i < flows; i++) {
		flow_spec(&s, i);
		one(nf, &s, buf, 1000);
	}
	for (unsigned k = 0; k < SAMPLE; k++) {
		flow_spec(&s, xorshift() % flows);
		lens[k] = (uint16_t)trace_build(&s, 0, 0, 1, NULL, 0, tmpl[k], PKT_LEN);
	}
	t0 = now_s();
	for (unsigned n = 0; n < iters; n += BATCH) {
		static uint8_t bufs[BATCH][PKT_LEN];
		struct pkt pk[BATCH], *pp[BATCH];
		struct nf_result res[BATCH];
		static const uint32_t rnd[BATCH];
		unsigned m = 0;

		for (unsigned b = 0; b < BATCH; b++) {
			unsigned k = (n + b) & (SAMPLE - 1);

			memcpy(bufs[b], tmpl[k], lens[k]);
			if (pkt_parse(&pk[m], bufs[b], lens[k]) == PKT_OK) {
				pp[m] = &pk[m];
				m++;
			}
		}
		nf_input_batch(nf, pp, m, "gw0", 2000, rnd, res);
	}
	t1 = now_s();
	free(tmpl);
	free(lens);
	nf_destroy(nf);
	return iters / (t1 - t0) / 1e6;
}

static double new_per_s(uint32_t n)
{
	struct nf *nf = gateway(10, n + n / 4);
	uint8_t buf[PKT_LEN + 64];
	struct trace_spec s;
	double t0, t1;

	t0 = now_s();
	for (uint32_t i = 0; i < n; i++) {
		flow_spec(&s, i);
		one(nf, &s, buf, 1000);
	}
	t1 = now_s();
	nf_destroy(nf);
	return n / (t1 - t0);
}

/* One TCP segment of spec s (flags, seq, ack) in on interface in; the
 * port it leaves with. */
static uint16_t segment(struct nf *nf, struct trace_spec *s, uint8_t flags, uint32_t seq,
			uint32_t ack, const char *in)
{
	uint8_t buf[PKT_LEN + 64];
	struct nf_result res;
	struct pkt p;
	size_t len;

	s->tcp_flags = flags;
	s->has_flags = true;
	len = trace_build(s, seq, ack, 1, NULL, 0, buf, sizeof(buf));
	if (pkt_parse(&p, buf, len) != PKT_OK)
		return 0;
	nf_input(nf, &p, in, 1000, xorshift(), &res, NULL);
	return p.outer.sport;
}

/* New TCP connections toward one server whose NatPorts (4536) are all held
 * by connections it reset (CLOSE): each SYN's port search runs into Linux's
 * harder phase and takes one over.  Per second (four packets each: SYN,
 * SYN-ACK, ACK, RST), with ct's bitmap of the hot destination or without it
 * (ct_config.hot_off); *evicted: how many were taken over. */
static double saturated_per_s(bool hot, uint32_t n, uint64_t *evicted)
{
	enum { FILL = 65535 - 61000 + 1 };
	struct nf *nf = gateway_hot(10, 65536, hot);
	struct trace_spec c = { .family = NF_V4, .proto = 6, .dst = nf_addr4(A(203, 0, 113, 5)),
				.dport = 443 };
	struct trace_spec r = { .family = NF_V4, .proto = 6, .src = c.dst, .sport = 443,
				.dst = nf_addr4(UPLINK) };
	struct ct_stats st;
	double t0 = 0;

	for (uint32_t i = 0; i < FILL + n; i++) {
		uint32_t seq = 1000 + i * 1000;

		if (i == FILL)
			t0 = now_s();
		c.src = nf_addr4(A(10, 8, 0, 2) + (i & 0xff));
		c.sport = (uint16_t)(1024 + (i >> 8));
		/* the server answers, the client acknowledges, the server
		 * resets: CLOSE (a reset before any answer would kill it) */
		r.dport = segment(nf, &c, 0x02, seq, 0, "gw0");
		segment(nf, &r, 0x12, 5000, seq + 1, "eth0");
		segment(nf, &c, 0x10, seq + 1, 5001, "gw0");
		segment(nf, &r, 0x04, 5001, 0, "eth0");
	}
	t0 = now_s() - t0;
	ct_get_stats(nf_ct(nf), &st);
	*evicted = st.nat_evicted;
	if (hot && !st.nat_hot_used) {
		fprintf(stderr, "nat_bench: no search used a bitmap\n");
		exit(1);
	}
	nf_destroy(nf);
	return n / t0;
}

int main(void)
{
	uint64_t ev_hot = 0, ev_off = 0;
	double hot, off;

	static const unsigned rules[] = { 10, 100, 1000 };
	static const uint32_t flows[] = { 1000, 100000, 1000000 };
	double base = 0;

	printf("gw nat pipeline: established UDP flows in batches of %d, worst-case rule order "
	       "(Mpps, one core)\n", BATCH);
	printf("%-8s", "rules");
	for (size_t f = 0; f < 3; f++)
		printf("  %9u flows", flows[f]);
	printf("\n");
	for (size_t r = 0; r < 3; r++) {
		printf("%-8u", rules[r]);
		for (size_t f = 0; f < 3; f++) {
			double m = established_mpps(rules[r], flows[f]);

			if (r == 0 && f == 0)
				base = m;
			printf("  %15.2f", m);
			fflush(stdout);
		}
		printf("\n");
	}
	printf("\nnew connections (first packet: conntrack, MASQUERADE port search, confirm): %.0f /s\n",
	       new_per_s(200000));
	/* each way twice, alternating, the better of each: the first run
	 * warms the caches and the allocator for the rest */
	off = hot = 0;
	for (int i = 0; i < 4; i++) {
		uint64_t ev;
		double r = saturated_per_s(i & 1, 50000, &ev);

		if (i & 1) {
			hot = r > hot ? r : hot;
			ev_hot = ev;
		} else {
			off = r > off ? r : off;
			ev_off = ev;
		}
	}
	if (ev_hot != ev_off) {
		fprintf(stderr, "nat_bench: %llu connections taken over with the bitmap, %llu "
			"without: the answers differ\n", (unsigned long long)ev_hot,
			(unsigned long long)ev_off);
		return 1;
	}
	printf("new TCP connections toward one server, NatPorts all held by closed ones (each "
	       "SYN takes one over; 4 packets each): %.0f /s with the hot bitmap, %.0f /s without "
	       "(%llu and %llu taken over)\n", hot, off, (unsigned long long)ev_hot,
	       (unsigned long long)ev_off);
	printf("conntrack entry: %zu bytes (goal <= 128)\n", ct_entry_size());
	printf("goals: >= 5 Mpps with 10 rules; 1M flows within 2x of 1k flows (1k: %.2f Mpps)\n", base);
	return 0;
}
