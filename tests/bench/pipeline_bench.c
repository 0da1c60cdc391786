/* SPDX-License-Identifier: MIT */
/*
 * The gateway's packet path in-process, with no kernel in the loop: data
 * messages from many peers through wg_receive (receiver index, replay
 * window, ChaCha20-Poly1305 open, allowed IPs), pkt_parse, nf_input_batch
 * (conntrack, the rules of contrib/examples/gw0.rules, MASQUERADE to the
 * uplink) and into a send batch (the copy gw/dataplane.c makes into the
 * uplink's queue), in batches of 32 as gw's UDP receive hands them over.
 * Beside it, in the same run, the AEAD alone: libsodium's open of the same
 * number of bytes.  The last column is issue 11's measure: what everything
 * besides the AEAD costs, in AEADs (goal: total at most 5 AEADs at 64
 * bytes, at most 1.5 at 1420).
 *
 * The peers are real WireGuard devices (crypto/wg.h) that did a handshake
 * with the gateway's in memory; each round they encrypt fresh packets
 * (untimed), then the gateway's side is timed.  Informational: numbers are
 * printed, never judged.
 *
 * Then the workers' scaling (issue 11: N workers at least 0.9 x N x one
 * worker's rate): the same path as gw's workers run it (gw/gw.h), with one
 * lock around the shared state -- wg_receive_begin for a batch, then the
 * AEAD outside the lock, then wg_receive_end, netfilter and the copy --
 * on 1 and on every CPU's threads, each with its own peers (as SO_REUSEPORT
 * gives each worker its own), on datagrams made before the clock starts.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/wg.h"
#include "nat/hook.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"
#include "nat/trace.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

enum { NPEERS = 64, FLOWS = 16, BATCH = 32, ROUND = 1024, QMAX = 4 };
#define MIN_NS 400e6

static const uint32_t UPLINK = A(192, 0, 2, 1);
static const uint64_t WALL0 = 1700000000ull * NSEC_PER_SEC;
static const char RULES[] =
	"*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE\nCOMMIT\n"
	"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"-A FORWARD -i gw0 -o eth0 -j ACCEPT\nCOMMIT\n";

struct dgram {
	uint8_t buf[1600];
	size_t len;
	int peer;   /* the client it is from or to */
	bool to_gw;
};

/* What the devices send on their own (handshake messages, staged data):
 * a small queue, delivered by the handshake loop. */
static struct dgram q[QMAX * NPEERS];
static unsigned qn;

struct client {
	struct wg_device dev;
	struct wg_endpoint addr;
	int idx;
};

static struct client *clients;
static struct wg_device gwdev;
static struct wg_endpoint gw_addr;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct wg_endpoint ep(uint32_t ip, uint16_t port)
{
	struct wg_endpoint e = { .len = 8, .host_len = 4 };

	e.addr[0] = AF_INET;
	e.addr[2] = (uint8_t)(port >> 8);
	e.addr[3] = (uint8_t)port;
	for (int i = 0; i < 4; i++)
		e.addr[4 + i] = (uint8_t)(ip >> (24 - 8 * i));
	memcpy(e.host, e.addr + 4, 4);
	return e;
}

static void queue(int peer, bool to_gw, const uint8_t *b, size_t len)
{
	if (qn == sizeof(q) / sizeof(q[0]) || len > sizeof(q[0].buf)) {
		fprintf(stderr, "pipeline_bench: handshake queue full\n");
		exit(1);
	}
	memcpy(q[qn].buf, b, len);
	q[qn].len = len;
	q[qn].peer = peer;
	q[qn++].to_gw = to_gw;
}

/* A client's own datagrams go to the gateway; the gateway's own (none in
 * a handshake it answers) nowhere. */
static void emit(void *ctx, struct wg_peer *peer, const struct wg_endpoint *to,
		 const uint8_t *b, size_t len)
{
	(void)peer, (void)to;
	if (ctx)
		queue(((struct client *)ctx)->idx, true, b, len);
}

static int route(void *arg, uint32_t daddr, struct nf_route *r)
{
	(void)arg;
	memset(r, 0, sizeof(*r));
	if (daddr == UPLINK || daddr == A(10, 8, 0, 1)) {
		r->kind = NF_ROUTE_LOCAL;
		strcpy(r->out, daddr == UPLINK ? "eth0" : "gw0");
		return 0;
	}
	r->kind = NF_ROUTE_FORWARD;
	strcpy(r->out, (daddr & 0xffffff00) == A(10, 8, 0, 0) ? "gw0" : "eth0");
	r->mtu = (daddr & 0xffffff00) == A(10, 8, 0, 0) ? 1420 : 1500;
	return 0;
}

static uint32_t ifaddr(void *arg, const char *ifname, uint32_t dst)
{
	(void)arg, (void)dst;
	return strcmp(ifname, "eth0") ? A(10, 8, 0, 1) : UPLINK;
}

static void die(const char *what)
{
	fprintf(stderr, "pipeline_bench: %s\n", what);
	exit(1);
}

/* Every client does its handshake with the gateway, in memory. */
static void handshakes(uint64_t now)
{
	uint8_t pkt[64], out[256];

	for (int i = 0; i < NPEERS; i++) {
		struct trace_spec s = { .family = NF_V4, .proto = 17,
					.src = nf_addr4(A(10, 8, 0, 2 + i)),
					.dst = nf_addr4(A(198, 51, 100, 2)),
					.sport = 1000, .dport = 53 };
		size_t len = trace_build(&s, 0, 0, 1, NULL, 0, pkt, sizeof(pkt));
		struct wg_tx tx;

		wg_send(&clients[i].dev, now, WALL0 + now, pkt, len, out, sizeof(out), &tx);
		if (tx.kind != WG_TX_STAGED)
			die("the first packet was not staged behind a handshake");
	}
	while (qn) {
		struct dgram d = q[--qn];
		struct wg_rx rx;

		if (d.to_gw) {
			wg_receive(&gwdev, now, WALL0 + now, &clients[d.peer].addr, d.buf, d.len, false,
				   &rx);
			if (rx.kind == WG_RX_REPLY)
				queue(d.peer, false, rx.data, rx.len);
		} else {
			wg_receive(&clients[d.peer].dev, now, WALL0 + now, &gw_addr, d.buf, d.len, false,
				   &rx);
		}
	}
	for (size_t i = 0; i < gwdev.npeers; i++)
		if (!gwdev.peers[i]->handshakes_completed)
			die("a handshake did not complete");
}

static void setup(void)
{
	uint8_t priv[32];
	int err;

	clients = calloc(NPEERS, sizeof(*clients));
	if (!clients)
		die("out of memory");
	randombytes_buf(priv, sizeof(priv));
	if (wg_device_init(&gwdev, priv, NPEERS, 0, emit, NULL))
		die("wg_device_init");
	gw_addr = ep(A(203, 0, 113, 1), 51820);
	for (int i = 0; i < NPEERS; i++) {
		struct client *c = &clients[i];
		uint8_t all[4] = { 0 }, mine[4] = { 10, 8, 0, (uint8_t)(2 + i) };
		struct wg_peer *p;

		c->idx = i;
		c->addr = ep(A(203, 0, 113, 10) + (uint32_t)i, 40000);
		randombytes_buf(priv, sizeof(priv));
		if (wg_device_init(&c->dev, priv, 1, 0, emit, c))
			die("wg_device_init");
		p = wg_peer_add(&c->dev, gwdev.keys.pub, NULL, 0, &err);
		if (!p || wg_peer_allow(&c->dev, p, AF_INET, all, 0))
			die("client peer");
		wg_peer_set_endpoint(p, &gw_addr);
		p = wg_peer_add(&gwdev, c->dev.keys.pub, NULL, 0, &err);
		if (!p || wg_peer_allow(&gwdev, p, AF_INET, mine, 32))
			die("gateway peer");
		p->user = (void *)(uintptr_t)(i + 1);
	}
	sodium_memzero(priv, sizeof(priv));
}

static struct nf *gateway_nf(void)
{
	struct nf_config cfg = { .route = route, .ifaddr = ifaddr, .uplink_addr = UPLINK,
				 .nat_port_min = 61000, .nat_port_max = 65535 };
	struct rules_error rerr;
	struct rules *r;
	struct nf *nf;

	strcpy(cfg.tunnel, "gw0");
	strcpy(cfg.uplink, "eth0");
	ct_config_default(&cfg.ct, 65536);
	if (rules_parse(&r, RULES, strlen(RULES), NULL, &rerr) || nf_create(&nf, &cfg, r))
		die("nf_create");
	return nf;
}

/* A decrypted packet joins the batch for nf_input_batch (seq: its
 * randomness). */
static void batch_add(const struct wg_rx *rx, struct pkt *p, struct pkt **pp, uint32_t *rnd,
		      unsigned *n, uint32_t seq)
{
	if (rx->kind != WG_RX_PACKET || pkt_parse(&p[*n], rx->data, rx->len) != PKT_OK)
		die("the gateway refused a data message");
	p[*n].owner = (uint16_t)(uintptr_t)rx->peer->user;
	rnd[*n] = seq;
	pp[*n] = &p[*n];
	(*n)++;
}

struct result {
	double aead, wg, nf, copy;
};

/* The AEAD alone: opening len bytes (a data message's payload, padded as
 * WireGuard pads it) with libsodium. */
static double aead_ns(size_t len)
{
	uint8_t key[32], nonce[12] = { 0 }, mac[16], *pt = malloc(len), *ct = malloc(len);
	unsigned n = 0;
	double t0, t1;

	if (!pt || !ct)
		die("out of memory");
	randombytes_buf(key, sizeof(key));
	randombytes_buf(pt, len);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, mac, NULL, pt, len, NULL, 0, NULL,
							   nonce, key);
	t0 = now_ns();
	do {
		for (int i = 0; i < ROUND; i++)
			if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(pt, NULL, ct, len, mac,
									       NULL, 0, nonce, key))
				die("AEAD open failed");
		n += ROUND;
		t1 = now_ns();
	} while (t1 - t0 < MIN_NS);
	free(pt);
	free(ct);
	return (t1 - t0) / n;
}

static void measure(size_t size, struct result *res)
{
	static struct dgram in[ROUND];
	static uint8_t slots[BATCH][1600];
	struct nf *nf = gateway_nf();
	uint8_t pkt[1600];
	double twg = 0, tnf = 0, tcopy = 0;
	uint64_t now = 1000 * NSEC_PER_SEC;
	unsigned total = 0, accepted = 0;

	for (double t0 = now_ns(); now_ns() - t0 < 3 * MIN_NS && total < 20000000;) {
		/* fresh data messages from every peer, untimed */
		for (int i = 0; i < ROUND; i++) {
			int c = i % NPEERS;
			struct trace_spec s = { .family = NF_V4, .proto = 17,
						.src = nf_addr4(A(10, 8, 0, 2 + c)),
						.dst = nf_addr4(A(198, 51, 100, 2)), .dport = 53,
						.sport = (uint16_t)(2000 + (i / NPEERS) % FLOWS),
						.len = (uint16_t)size };
			size_t len = trace_build(&s, 0, 0, 1, NULL, 0, pkt, sizeof(pkt));
			struct wg_tx tx;

			wg_send(&clients[c].dev, now, WALL0 + now, pkt, len, in[i].buf, sizeof(in[i].buf),
				&tx);
			if (tx.kind != WG_TX_DATA)
				die("a client could not encrypt");
			in[i].len = tx.len;
			in[i].peer = c;
		}
		/* the gateway's side, timed by stage */
		for (int i = 0; i < ROUND; i += BATCH) {
			struct pkt p[BATCH], *pp[BATCH];
			struct nf_result r[BATCH];
			uint32_t rnd[BATCH];
			unsigned n = 0;
			double t1 = now_ns(), t2, t3, t4;

			for (int b = 0; b < BATCH; b++) {
				struct dgram *d = &in[i + b];
				struct wg_rx rx;

				wg_receive(&gwdev, now, WALL0 + now, &clients[d->peer].addr, d->buf, d->len,
					   false, &rx);
				batch_add(&rx, p, pp, rnd, &n, (uint32_t)(i + b));
			}
			t2 = now_ns();
			nf_input_batch(nf, pp, n, "gw0", now, rnd, r);
			t3 = now_ns();
			for (unsigned b = 0; b < n; b++) {
				if (r[b].verdict != NF_ACCEPT || strcmp(r[b].route.out, "eth0"))
					die("a packet was not forwarded to the uplink");
				memcpy(slots[b], p[b].data, p[b].outer.end);
				accepted++;
			}
			t4 = now_ns();
			twg += t2 - t1;
			tnf += t3 - t2;
			tcopy += t4 - t3;
		}
		total += ROUND;
		now += NSEC_PER_SEC / 1000;
	}
	if (accepted != total)
		die("packets lost");
	res->wg = twg / total;
	res->nf = tnf / total;
	res->copy = tcopy / total;
	/* the AEAD opens the padded payload: the size rounded up to 16 */
	res->aead = aead_ns((size + 15) & ~(size_t)15);
	nf_destroy(nf);
}

/* --- workers ------------------------------------------------------------ */

enum { SCALE_PKTS = 16384, SCALE_REPS = 6 };

struct worker {
	pthread_t th;
	int id, nthreads;
	size_t size;
	struct dgram *in;	/* SCALE_PKTS of its peers' datagrams */
	uint64_t now;
	double busy;		/* ns from the start to its last packet */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start_line;
static struct nf *scale_nf;
static double scale_t0;

/* Its peers' fresh datagrams, untimed (each thread its own clients). */
static void scale_fill(struct worker *w)
{
	uint8_t pkt[1600];

	for (int i = 0; i < SCALE_PKTS; i++) {
		int c = w->id + w->nthreads * (i % (NPEERS / w->nthreads));
		struct trace_spec s = { .family = NF_V4, .proto = 17,
					.src = nf_addr4(A(10, 8, 0, 2 + c)),
					.dst = nf_addr4(A(198, 51, 100, 2)), .dport = 53,
					.sport = (uint16_t)(2000 + i % FLOWS), .len = (uint16_t)w->size };
		size_t len = trace_build(&s, 0, 0, 1, NULL, 0, pkt, sizeof(pkt));
		struct wg_tx tx;

		wg_send(&clients[c].dev, w->now, WALL0 + w->now, pkt, len, w->in[i].buf,
			sizeof(w->in[i].buf), &tx);
		if (tx.kind != WG_TX_DATA)
			die("a client could not encrypt");
		w->in[i].len = tx.len;
		w->in[i].peer = c;
	}
}

static void *scale_run(void *arg)
{
	struct worker *w = arg;
	static __thread uint8_t slots[BATCH][1600];
	uint64_t now = w->now;

	pthread_barrier_wait(&start_line);
	for (int i = 0; i < SCALE_PKTS; i += BATCH) {
		struct wg_open o[BATCH];
		struct pkt p[BATCH], *pp[BATCH];
		struct nf_result r[BATCH];
		uint32_t rnd[BATCH];
		unsigned n = 0;

		pthread_mutex_lock(&lock);
		for (int b = 0; b < BATCH; b++)
			if (!wg_receive_begin(&gwdev, now, w->in[i + b].buf, w->in[i + b].len, &o[b]))
				die("the gateway refused a data message");
		pthread_mutex_unlock(&lock);
		for (int b = 0; b < BATCH; b++)
			wg_open_crypt(&o[b], w->in[i + b].buf, w->in[i + b].len);
		pthread_mutex_lock(&lock);
		for (int b = 0; b < BATCH; b++) {
			struct dgram *d = &w->in[i + b];
			struct wg_rx rx;

			wg_receive_end(&gwdev, now, WALL0 + now, &clients[d->peer].addr, d->buf, d->len,
				       &o[b], &rx);
			batch_add(&rx, p, pp, rnd, &n, (uint32_t)(i + b));
		}
		nf_input_batch(scale_nf, pp, n, "gw0", now, rnd, r);
		for (unsigned b = 0; b < n; b++) {
			if (r[b].verdict != NF_ACCEPT)
				die("a packet was not forwarded to the uplink");
			memcpy(slots[b], p[b].data, p[b].outer.end);
		}
		pthread_mutex_unlock(&lock);
	}
	w->busy = now_ns() - scale_t0;
	return NULL;
}

/* Packets per second through nthreads workers. */
static double scale(size_t size, int nthreads, uint64_t *now)
{
	struct worker w[NPEERS];
	double ns = 0;
	unsigned pkts = 0;

	for (int t = 0; t < nthreads; t++) {
		w[t] = (struct worker){ .id = t, .nthreads = nthreads, .size = size };
		w[t].in = malloc(SCALE_PKTS * sizeof(*w[t].in));
		if (!w[t].in)
			die("out of memory");
	}
	for (int rep = 0; rep < SCALE_REPS; rep++) {
		double end = 0;

		for (int t = 0; t < nthreads; t++) {
			w[t].now = *now;
			scale_fill(&w[t]);
		}
		pthread_barrier_init(&start_line, NULL, (unsigned)nthreads + 1);
		for (int t = 0; t < nthreads; t++)
			if (pthread_create(&w[t].th, NULL, scale_run, &w[t]))
				die("pthread_create");
		scale_t0 = now_ns();
		pthread_barrier_wait(&start_line);
		for (int t = 0; t < nthreads; t++) {
			pthread_join(w[t].th, NULL);
			if (w[t].busy > end)
				end = w[t].busy;
		}
		pthread_barrier_destroy(&start_line);
		ns += end;
		pkts += (unsigned)nthreads * SCALE_PKTS;
		*now += NSEC_PER_SEC / 100;
	}
	for (int t = 0; t < nthreads; t++)
		free(w[t].in);
	return pkts / ns * 1e9;
}

static void scaling(void)
{
	static const size_t sizes[] = { 64, 1420 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int n = ncpu < 2 ? 2 : ncpu > NPEERS ? NPEERS : (int)ncpu;
	uint64_t now = 1100 * NSEC_PER_SEC; /* the sessions are from 999 s */

	scale_nf = gateway_nf();
	printf("workers: the same path with one lock around the shared state, the AEAD outside "
	       "it (packets/s; goal: %d workers >= 0.9 x %d x 1 worker)\n", n, n);
	printf("%-6s %12s %12s %10s\n", "bytes", "1 worker", "workers", "ratio");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double one = scale(sizes[i], 1, &now), many = scale(sizes[i], n, &now);

		printf("%-6zu %12.0f %9.0f/%-2d %10.2f\n", sizes[i], one, many, n, many / one);
	}
	nf_destroy(scale_nf);
}

int main(void)
{
	static const size_t sizes[] = { 64, 1420 };

	if (sodium_init() < 0)
		die("sodium_init");
	setup();
	handshakes(1000 * NSEC_PER_SEC - NSEC_PER_SEC);
	printf("gw packet path in-process: %d peers, %d flows each, batches of %d, one core "
	       "(ns per packet)\n", NPEERS, FLOWS, BATCH);
	printf("%-6s %8s %12s %10s %8s %8s %10s %12s\n", "bytes", "AEAD", "wg_receive", "netfilter",
	       "copy", "total", "total/AEAD", "beyond/AEAD");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct result r;
		double total;

		measure(sizes[i], &r);
		total = r.wg + r.nf + r.copy;
		printf("%-6zu %8.1f %12.1f %10.1f %8.1f %8.1f %10.2f %12.2f\n", sizes[i], r.aead,
		       r.wg, r.nf, r.copy, total, total / r.aead, (total - r.aead) / r.aead);
	}
	scaling();
	for (int i = 0; i < NPEERS; i++)
		wg_device_destroy(&clients[i].dev);
	wg_device_destroy(&gwdev);
	free(clients);
	return 0;
}
