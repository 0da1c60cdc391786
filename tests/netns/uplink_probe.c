/* SPDX-License-Identifier: MIT */
/*
 * uplink_probe — drives gw/uplink in a test namespace (50-uplink.sh).
 *
 *   uplink_probe offload IF on|off
 *       tx checksum, scatter-gather, TSO, GSO and GRO of IF (SIOCETHTOOL).
 *   uplink_probe udp-echo PORT
 *       a UDP echo server that never misses a datagram (socat's fork does).
 *   uplink_probe run [--bare] [--raw] [--ring SLOTS] IF NATADDR LO HI SERVER STEP...
 *       opens the uplink (--bare: no tc filter, no port reservation;
 *       --raw: send by the raw socket only; --ring: a receive ring of
 *       SLOTS slots) and runs the steps in
 *       order, then prints the uplink's counters:
 *     udp:PORT          a datagram from NATADDR:LO+1 to SERVER:PORT sent by the
 *                       send queue; its echo must come back on the packet socket
 *     syn:PORT:SPORT    a TCP handshake from NATADDR:SPORT (a tiny TCP on the
 *                       raw and packet sockets), then an orderly close
 *     bulk:PORT:SPORT:FILE  the same, receiving the server's stream into FILE
 *                       until its FIN (a new SPORT each time: the server's
 *                       side of the last one may still be in TIME_WAIT)
 *     host:TPORT:UPORT:N  N TCP echoes to SERVER:TPORT and N UDP echoes to
 *                       SERVER:UPORT through the host's own stack; none may
 *                       fail, and no local port may fall in [LO, HI]
 *     neigh:PORT        SERVER has no neighbour entry: a datagram to the UDP
 *                       echo SERVER:PORT from NATADDR:LO+3 must leave by the
 *                       raw socket, and once the kernel's entry is learned,
 *                       the next ones as frames on the packet socket
 *     rate:PORT:N       N datagrams of 64 bytes to SERVER:PORT, 64 per flush:
 *                       the CPU time per packet (informational)
 *     flood:PORT:N      the ring goes round: N datagrams of 1000 bytes to the
 *                       UDP echo SERVER:PORT from NATADDR:LO+2, 16 at a time,
 *                       their echoes read between; then N more, unread, so
 *                       the ring fills and the kernel drops; then the ring
 *                       must be read empty and take the next echoes again
 *     hold              print "holding" and wait for SIGTERM
 *   uplink_probe hold6 [--bare] IF NAT6 FOREIGN6 LO HI
 *       opens the uplink for the host's IPv6 address NAT6 with NatPorts
 *       [LO, HI] (--bare: no tc filter, no port reservation) and the foreign
 *       IPv6 address FOREIGN6, IPv6 handed on; prints "holding", reads the
 *       uplink (answering Neighbor Solicitations) until SIGTERM, then
 *       prints "ipv6: N to NatPorts, ndp replies R announced A".
 *   uplink_probe udp-echo6 PORT
 *       udp-echo on [::]:PORT.
 *   uplink_probe send6 IF NAT6 LO HI STEP...
 *       opens the uplink for the host's IPv6 address NAT6 and NatPorts
 *       [LO, HI], IPv6 handed on, and sends IPv6 by its send queue:
 *     neigh6,ADDR,PORT,MAC  ADDR's next hop has no neighbour entry (the script
 *                       flushed them): a datagram from NAT6:LO+3 to the UDP
 *                       echo ADDR:PORT leaves by the IPv6 raw socket and its
 *                       echo comes back; once the kernel's entry is learned
 *                       (neigh_lookup6 gives MAC), 5 more leave as frames
 *                       on the packet socket, each echoed
 *     up6,ADDR,PORT,SPORT,N,FILE  a TCPv6 handshake from NAT6:SPORT, then N
 *                       segments of 1000 bytes (N < 60) queued and flushed
 *                       at once -- consecutive segments of one flow: GSO
 *                       TCPv6 super-packets -- their bytes written to FILE
 *                       too, then a FIN; every byte and the FIN acked, the
 *                       server's FIN acked
 *   Every packet of the probe's flows that the uplink hands over must have
 *   correct IP and TCP/UDP checksums and fit the uplink's MTU.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw/uplink.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"

static struct uplink U;
static uint32_t NAT, SERVER;
static uint16_t LO, HI;
static unsigned bad_csum, too_big, seen;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void stats(FILE *f)
{
	int d;

	fprintf(f, "uplink: frames %llu copied %llu pkts %llu gso %llu segs %llu csum %llu "
		"tx packet %llu raw %llu no_neigh %llu drops",
		(unsigned long long)U.st.rx_frames, (unsigned long long)U.st.rx_copied,
		(unsigned long long)U.st.rx_pkts,
		(unsigned long long)U.st.rx_gso, (unsigned long long)U.st.rx_segs,
		(unsigned long long)U.st.rx_csum, (unsigned long long)U.tx.st.packet,
		(unsigned long long)U.tx.st.raw, (unsigned long long)U.tx.st.no_neigh);
	for (d = 0; d < UPLINK_DROP__MAX; d++)
		fprintf(f, " %llu", (unsigned long long)U.st.drop[d]);
	fprintf(f, " tx %llu", (unsigned long long)U.tx.st.drop);
	fprintf(f, "\nchecked %u packets: %u bad checksums, %u over the MTU\n", seen, bad_csum,
		too_big);
}

static void die(const char *what)
{
	fprintf(stderr, "uplink_probe: FAIL: %s\n", what);
	stats(stderr);
	exit(1);
}

/* ---- offloads ---- */

static int offload(const char *ifname, bool on)
{
	static const struct { uint32_t cmd; const char *name; } f[] = {
		{ ETHTOOL_STXCSUM, "tx-checksum" }, { ETHTOOL_SSG, "sg" },
		{ ETHTOOL_STSO, "tso" }, { ETHTOOL_SGSO, "gso" }, { ETHTOOL_SGRO, "gro" },
	};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc = 0;
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct ethtool_value v = { .cmd = f[i].cmd, .data = on };
		struct ifreq ifr = { 0 };

		strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
		ifr.ifr_data = (char *)&v;
		if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
			fprintf(stderr, "uplink_probe: %s %s: %s\n", ifname, f[i].name, strerror(errno));
			rc = 1;
		}
	}
	close(fd);
	return rc;
}

/* ---- packets ---- */

static size_t ip_header(uint8_t *p, uint8_t proto, uint16_t len)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	be16_put(p + 2, len);
	be16_put(p + 6, 0x4000);
	p[8] = 64;
	p[9] = proto;
	be32_put(p + 12, NAT);
	be32_put(p + 16, SERVER);
	be16_put(p + 10, csum_ip(p, 20));
	return 20;
}

/* A UDP datagram from NAT:sport to SERVER:dport queued. */
static void queue_udp(uint16_t sport, uint16_t dport, const void *data, size_t len)
{
	uint8_t *p = uplink_send_slot(&U.tx), *l4;

	if (!p) {
		uplink_flush(&U.tx);
		p = uplink_send_slot(&U.tx);
	}
	l4 = p + 20;
	ip_header(p, IPPROTO_UDP, (uint16_t)(28 + len));
	be16_put(l4, sport);
	be16_put(l4 + 2, dport);
	be16_put(l4 + 4, (uint16_t)(8 + len));
	memcpy(l4 + 8, data, len);
	be16_put(l4 + 6, csum_l4(NAT, SERVER, IPPROTO_UDP, l4, 8 + len));
	uplink_send_commit(&U.tx, 28 + len);
}

static void send_udp(uint16_t sport, uint16_t dport, const void *data, size_t len)
{
	queue_udp(sport, dport, data, len);
	if (uplink_flush(&U.tx) != 1)
		die("raw socket refused a UDP packet");
}

static void send_tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t *p = uplink_send_slot(&U.tx), *l4 = p + 20;
	size_t hl = flags & 0x02 ? 28 : 20;

	ip_header(p, IPPROTO_TCP, (uint16_t)(20 + hl));
	memset(l4, 0, hl);
	be16_put(l4, sport);
	be16_put(l4 + 2, dport);
	be32_put(l4 + 4, seq);
	be32_put(l4 + 8, ack);
	l4[12] = (uint8_t)(hl / 4) << 4;
	l4[13] = flags;
	be16_put(l4 + 14, 65535);
	/* MSS 1460, NOP, window scale 2: a 256 KB window keeps the server's
	 * bursts (GSO super-packets still) within what a slow probe, under
	 * the sanitizers, takes off its ring: this tiny TCP keeps no
	 * out-of-order data, every loss costs a retransmission timeout */
	if (hl == 28) {
		static const uint8_t opt[8] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 2 };
		memcpy(l4 + 20, opt, 8);
	}
	be16_put(l4 + 16, csum_l4(NAT, SERVER, IPPROTO_TCP, l4, hl));
	uplink_send_commit(&U.tx, 20 + hl);
	if (uplink_flush(&U.tx) != 1)
		die("raw socket refused a TCP packet");
}

/* ---- receive: checks every packet of ours, hands it to the step ---- */

typedef void step_fn(void *st, const uint8_t *ip, size_t len);
struct rx {
	step_fn *fn;
	void *st;
};

static void on_batch(void *ctx, struct uplink_pkt *pkts, unsigned n)
{
	struct rx *rx = ctx;
	unsigned i;

	for (i = 0; i < n; i++) {
		const uint8_t *ip = pkts[i].data;
		size_t len = pkts[i].len, ihl = (size_t)(ip[0] & 0xf) * 4;
		uint16_t c;

		if (be32_get(ip + 12) != SERVER || be32_get(ip + 16) != NAT ||
		    (ip[9] != IPPROTO_TCP && ip[9] != IPPROTO_UDP) || len < ihl + 8)
			continue;
		seen++;
		if (len > U.mtu)
			too_big++;
		if (csum_ip(ip, ihl) != be16_get(ip + 10))
			bad_csum++;
		c = csum_l4(SERVER, NAT, ip[9], ip + ihl, len - ihl);
		if (c != be16_get(ip + ihl + (ip[9] == IPPROTO_TCP ? 16 : 6)))
			bad_csum++;
		rx->fn(rx->st, ip, len);
	}
}

/* Waits up to t seconds for packets, handing them to fn. */
static void pump(step_fn *fn, void *st, double t)
{
	struct rx rx = { fn, st };
	struct pollfd pfd[2] = { { .fd = U.pfd, .events = POLLIN },
				 { .fd = U.tx.nh.fd, .events = POLLIN } };

	if (poll(pfd, 2, (int)(t * 1000)) > 0) {
		while (uplink_recv_batch(&U, on_batch, &rx) > 0)
			;
		if (uplink_tx_neigh_read(&U.tx) < 0)
			die("neighbour events");
	}
}

/* ---- udp ---- */

struct udp_st {
	uint16_t sport, dport;
	const char *msg;
	bool got;
};

static void udp_rx(void *v, const uint8_t *ip, size_t len)
{
	struct udp_st *s = v;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;
	const uint8_t *l4 = ip + ihl;

	if (ip[9] == IPPROTO_UDP && be16_get(l4) == s->dport && be16_get(l4 + 2) == s->sport &&
	    len - ihl - 8 == strlen(s->msg) && !memcmp(l4 + 8, s->msg, strlen(s->msg)))
		s->got = true;
}

static void step_udp(uint16_t port)
{
	struct udp_st s = { (uint16_t)(LO + 1), port, "uplink probe datagram", false };
	double end = now() + 10;

	while (!s.got && now() < end) {
		double t = now() + 0.5;

		send_udp(s.sport, s.dport, s.msg, strlen(s.msg));
		while (!s.got && now() < t)
			pump(udp_rx, &s, 0.1);
	}
	if (!s.got)
		die("no UDP echo on the packet socket");
	printf("udp echo from %u: ok\n", port);
}

/* ---- neigh: the first datagram by the raw socket, then frames ---- */

/* One UDP echo; returns how the datagram left: 'p' packet socket, 'r' raw. */
static char echo_once(uint16_t port)
{
	struct udp_st s = { (uint16_t)(LO + 3), port, "uplink probe neighbour", false };
	uint64_t p0 = U.tx.st.packet, r0 = U.tx.st.raw;
	double end = now() + 10;

	send_udp(s.sport, s.dport, s.msg, strlen(s.msg));
	while (!s.got && now() < end)
		pump(udp_rx, &s, 0.1);
	if (!s.got)
		die("no UDP echo in the neighbour step");
	if (U.tx.st.packet == p0 + 1 && U.tx.st.raw == r0)
		return 'p';
	if (U.tx.st.raw == r0 + 1 && U.tx.st.packet == p0)
		return 'r';
	die("the datagram left by neither socket, or by both");
	return 0;
}

/* SERVER has no neighbour entry (the script flushed them): the first
 * datagram goes by the raw socket and the kernel resolves SERVER; its
 * event fills the cache, and the next datagrams go as frames. */
static void step_neigh(uint16_t port)
{
	uint8_t mac[6];
	double end = now() + 10;
	unsigned frames = 0;

	if (U.tx.xfd < 0)
		die("no packet socket for sending");
	if (echo_once(port) != 'r' || U.tx.st.no_neigh != 1)
		die("the first datagram to a next hop without an entry did not go by the raw socket");
	while (neigh_lookup(&U.tx.nh, SERVER, mac) != NEIGH_MAC && now() < end)
		pump(udp_rx, &(struct udp_st){ .msg = "" }, 0.1);
	for (int i = 0; i < 5; i++)
		frames += echo_once(port) == 'p';
	printf("neigh: the first datagram by the raw socket (no entry), then %u of 5 as frames\n",
	       frames);
	if (frames != 5)
		die("with the neighbour's entry learned, datagrams still went by the raw socket");
}

/* ---- rate: what sending costs ---- */

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* n datagrams of 64 bytes (IP) to SERVER:PORT, UPLINK_TX_BATCH per flush;
 * the process's CPU time per packet (on a veth the receiver's work is in
 * it too).  Informational. */
static void step_rate(uint16_t port, unsigned n)
{
	uint8_t msg[36] = { 0 };
	uint64_t p0 = U.tx.st.packet, r0 = U.tx.st.raw, d0 = U.tx.st.drop;
	double c0 = cpu_now(), w0 = now(), c, w;

	for (unsigned i = 0; i < n; i++)
		queue_udp((uint16_t)(LO + 4), port, msg, sizeof(msg));
	uplink_flush(&U.tx);
	c = cpu_now() - c0;
	w = now() - w0;
	printf("rate: %u datagrams, %llu as frames, %llu raw, %llu dropped: %.0f ns CPU per "
	       "packet, %.0f k/s\n", n, (unsigned long long)(U.tx.st.packet - p0),
	       (unsigned long long)(U.tx.st.raw - r0), (unsigned long long)(U.tx.st.drop - d0),
	       c * 1e9 / n, n / w / 1e3);
}

/* ---- flood: round the ring, and over it ---- */

struct flood_st {
	uint16_t sport, dport;
	unsigned got;
};

static void flood_rx(void *v, const uint8_t *ip, size_t len)
{
	struct flood_st *s = v;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;
	const uint8_t *l4 = ip + ihl;

	if (ip[9] == IPPROTO_UDP && be16_get(l4) == s->dport && be16_get(l4 + 2) == s->sport &&
	    len == ihl + 8 + 1000)
		s->got++;
}

/* Reads what waits without blocking; returns the frames read. */
static unsigned drain(step_fn *fn, void *st)
{
	struct rx rx = { fn, st };
	unsigned n = 0;
	int got;

	while ((got = uplink_recv_batch(&U, on_batch, &rx)) > 0)
		n += (unsigned)got;
	return n;
}

static void step_flood(uint16_t port, unsigned n)
{
	struct flood_st s = { (uint16_t)(LO + 2), port, 0 };
	uint64_t frames0 = U.st.rx_frames, drops0;
	uint8_t msg[1000];
	double end;
	unsigned i, got1;

	memset(msg, 'f', sizeof(msg));
	/* round: the ring must go round more than twice */
	for (i = 0; i < n; i++) {
		send_udp(s.sport, s.dport, msg, sizeof(msg));
		if (i % 16 == 15)
			pump(flood_rx, &s, 0.002);
	}
	for (end = now() + 10; s.got < n && now() < end;)
		pump(flood_rx, &s, 0.1);
	got1 = s.got;
	printf("flood round: %u of %u echoes, %llu frames through a %u-slot ring\n", got1, n,
	       (unsigned long long)(U.st.rx_frames - frames0), U.nframes);
	if (U.st.rx_frames - frames0 <= 2 * U.nframes)
		die("the ring did not go round twice");
	if (got1 < n / 2)
		die("most of the flood's echoes lost with the ring read all along");
	/* over: unread, the ring fills; the kernel counts its drops */
	uplink_ring_stats(&U);
	drops0 = U.st.ring_drops;
	for (i = 0; i < n; i++)
		send_udp(s.sport, s.dport, msg, sizeof(msg));
	for (end = now() + 10; U.st.ring_drops == drops0 && now() < end;) {
		struct pollfd pfd = { .fd = -1 };

		poll(&pfd, 0, 10);
		uplink_ring_stats(&U);
	}
	if (U.st.ring_drops == drops0)
		die("a flood larger than the ring, unread, and the kernel dropped nothing");
	s.got = 0;
	drain(flood_rx, &s);
	printf("flood over: %u of %u echoes kept by a %u-slot ring, %llu dropped by the kernel\n",
	       s.got, n, U.nframes, (unsigned long long)(U.st.ring_drops - drops0));
	if (s.got == 0 || s.got > U.nframes)
		die("a full ring kept none of the flood, or more than it holds");
}

/* ---- a tiny TCP client ---- */

/* The receive window the tiny TCP offers (65535 << 2) fits in OOO_WIN. */
enum { OOO_WIN = 1 << 18 };

struct tcp_st {
	uint16_t sport, dport;
	uint32_t iss, snd_nxt, rcv_nxt;
	bool established, their_fin, our_fin_sent, our_fin_acked, need_ack;
	FILE *out;
	uint64_t bytes;
	unsigned segs, ooo_segs;
	/* step_tcp: the window's bytes by sequence number modulo OOO_WIN, and
	 * which are there: data after a hole waits for it, so a lost segment
	 * costs one retransmission (three duplicate ACKs), not the rest of
	 * the window and a timeout each */
	uint8_t *win, *have;
	uint32_t fin_seq;
	bool fin_known;
};

static void tcp_rx(void *v, const uint8_t *ip, size_t len)
{
	struct tcp_st *s = v;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4, thl;
	const uint8_t *l4 = ip + ihl;
	uint32_t seq, ack, head;
	uint8_t fl;
	size_t plen;

	if (ip[9] != IPPROTO_TCP || be16_get(l4) != s->dport || be16_get(l4 + 2) != s->sport)
		return;
	thl = (size_t)(l4[12] >> 4) * 4;
	seq = be32_get(l4 + 4);
	ack = be32_get(l4 + 8);
	fl = l4[13];
	plen = len - ihl - thl;
	if (fl & 0x04)
		die("RST from the server");
	if (!s->established) {
		if ((fl & 0x12) == 0x12 && ack == s->iss + 1) {
			s->established = true;
			s->rcv_nxt = seq + 1;
			s->snd_nxt = s->iss + 1;
			s->need_ack = true;
		}
		return;
	}
	if ((fl & 0x10) && s->our_fin_sent && ack == s->snd_nxt)
		s->our_fin_acked = true;
	head = s->rcv_nxt;
	if (fl & 0x01 && !s->fin_known) {
		s->fin_known = true;
		s->fin_seq = seq + (uint32_t)plen;
	}
	if (seq != head) {
		if (getenv("PROBE_DEBUG"))
			fprintf(stderr, "ooo seq %u len %zu rcv_nxt %u fl %02x\n", seq, plen, s->rcv_nxt, fl);
		s->ooo_segs++;
	}
	/* every byte within the window from rcv_nxt on, where it goes */
	for (size_t i = 0; i < plen; i++) {
		uint32_t at = seq + (uint32_t)i;

		if (at - s->rcv_nxt >= OOO_WIN)
			continue; /* had already, or beyond the window */
		s->win[at % OOO_WIN] = l4[thl + i];
		s->have[at % OOO_WIN] = 1;
	}
	if (plen && seq == head)
		s->segs++;
	while (s->have[s->rcv_nxt % OOO_WIN]) {
		s->have[s->rcv_nxt % OOO_WIN] = 0;
		if (s->out && fputc(s->win[s->rcv_nxt % OOO_WIN], s->out) == EOF)
			die("write");
		s->bytes++;
		s->rcv_nxt++;
	}
	if (s->fin_known && !s->their_fin && s->rcv_nxt == s->fin_seq) {
		s->their_fin = true;
		s->rcv_nxt++;
	}
	if (seq != head && (plen || fl & 0x01))
		/* out of order: a duplicate ACK each, at once, asks for what
		 * is missing (three make the server retransmit it) */
		send_tcp(s->sport, s->dport, s->snd_nxt, s->rcv_nxt, 0x10);
	else if (plen || fl & 0x01)
		s->need_ack = true;
}

static void step_tcp(uint16_t sport, uint16_t dport, const char *file)
{
	struct tcp_st s = { .sport = sport, .dport = dport, .iss = (uint32_t)random() };
	double end = now() + 60, last = 0;

	s.win = malloc(OOO_WIN);
	s.have = calloc(OOO_WIN, 1);
	if (!s.win || !s.have)
		die("out of memory");
	if (file && !(s.out = fopen(file, "w")))
		die("cannot create the output file");
	while (now() < end && !(s.their_fin && s.our_fin_acked)) {
		if (now() - last > 0.5) { /* (re)transmit what is outstanding */
			last = now();
			if (!s.established)
				send_tcp(sport, dport, s.iss, 0, 0x02);
			else if (s.our_fin_sent && !s.our_fin_acked)
				send_tcp(sport, dport, s.snd_nxt - 1, s.rcv_nxt, 0x11);
		}
		pump(tcp_rx, &s, 0.05);
		if (s.established && (s.their_fin || !file) && !s.our_fin_sent) {
			/* echo server: we close first; bulk: after their FIN */
			send_tcp(sport, dport, s.snd_nxt, s.rcv_nxt, 0x11);
			s.snd_nxt++;
			s.our_fin_sent = true;
			s.need_ack = false;
			last = now();
		}
		if (s.need_ack) {
			send_tcp(sport, dport, s.snd_nxt, s.rcv_nxt, 0x10);
			s.need_ack = false;
		}
	}
	if (s.out)
		fclose(s.out);
	free(s.win);
	free(s.have);
	if (!s.established)
		die("no SYN-ACK on the packet socket");
	if (!(s.their_fin && s.our_fin_acked)) {
		uplink_ring_stats(&U);
		fprintf(stderr, "tcp %u -> %u: %llu bytes in %u segments (%u out of order), fin in "
			"%d, fin out %d acked %d; ring: %llu packets, %llu dropped\n",
			sport, dport, (unsigned long long)s.bytes, s.segs, s.ooo_segs, s.their_fin,
			s.our_fin_sent, s.our_fin_acked, (unsigned long long)U.st.ring_packets,
			(unsigned long long)U.st.ring_drops);
		die("the TCP exchange did not close in time");
	}
	printf("tcp %u -> %u: ok, %llu bytes in %u segments\n", sport, dport,
	       (unsigned long long)s.bytes, s.segs);
}

/* ---- the host's own connections ---- */

static void step_host(uint16_t tport, uint16_t uport, unsigned n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(SERVER) };
	struct timeval tv = { 3, 0 };
	unsigned i, tcp_ok = 0, udp_ok = 0, in_range = 0;

	for (i = 0; i < 2 * n; i++) {
		bool tcp = i < n;
		int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
		struct sockaddr_in me;
		socklen_t ml = sizeof(me);
		char c = 'x', r = 0;

		sa.sin_port = htons(tcp ? tport : uport);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(fd, (struct sockaddr *)&me, &ml) == 0) {
			uint16_t p = ntohs(me.sin_port);

			if (p >= LO && p <= HI)
				in_range++;
			if (send(fd, &c, 1, 0) == 1 && recv(fd, &r, 1, 0) == 1 && r == c)
				*(tcp ? &tcp_ok : &udp_ok) += 1;
		}
		close(fd);
	}
	printf("host: %u/%u TCP, %u/%u UDP, %u in NatPorts\n", tcp_ok, n, udp_ok, n, in_range);
	if (tcp_ok != n || udp_ok != n || in_range)
		die("the host's own connections");
}

static _Noreturn void udp_echo(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint8_t buf[2048];

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("udp-echo bind");
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n >= 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

static volatile sig_atomic_t stopping;
static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static unsigned v6_ours;

static void on_batch6(void *ctx, struct uplink_pkt *pkts, unsigned n)
{
	const union nf_addr *nat6 = ctx;

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *ip = pkts[i].data;

		if (pkts[i].family != NF_V6 || pkts[i].len < 44 ||
		    memcmp(ip + 24, nat6->b, 16) ||
		    (ip[6] != IPPROTO_TCP && ip[6] != IPPROTO_UDP))
			continue;
		if (be16_get(ip + 42) >= LO && be16_get(ip + 42) <= HI)
			v6_ours++;
	}
}

static int hold6(int argc, char **argv)
{
	struct uplink_conf c = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	union nf_addr nat6, foreign6;
	bool bare = argc == 8;

	if (bare)
		argv++;
	if (inet_pton(AF_INET6, argv[3], nat6.b) != 1 ||
	    inet_pton(AF_INET6, argv[4], foreign6.b) != 1)
		die("IPv6 address");
	LO = (uint16_t)atoi(argv[5]);
	HI = (uint16_t)atoi(argv[6]);
	c.ifname = argv[2];
	c.nat = (struct bpf_nat_spec){ .lo = LO, .hi = HI, .addr6 = { nat6 }, .naddr6 = 1,
				       .foreign6 = { { foreign6, foreign6 } }, .nforeign6 = 1 };
	c.host_owned = !bare;
	c.ipv6 = true;
	if (uplink_open_conf(&U, &c) < 0)
		die("uplink_open");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("holding\n");
	while (!stopping) {
		struct pollfd pfd = { .fd = U.pfd, .events = POLLIN };

		if (poll(&pfd, 1, 100) > 0)
			while (uplink_recv_batch(&U, on_batch6, &nat6) > 0)
				;
	}
	printf("ipv6: %u to NatPorts, ndp replies %llu announced %llu\n", v6_ours,
	       (unsigned long long)U.st.ndp_replies, (unsigned long long)U.st.ndp_announced);
	stats(stdout);
	uplink_close(&U);
	return 0;
}

/* ---- IPv6 out of the send queue ---- */

static union nf_addr NAT6, PEER6;

/* An IPv6 packet from NAT6 to PEER6 queued: proto, l4 bytes at l4 (its
 * checksum field filled here at csum_at). */
static void queue6(uint8_t proto, const uint8_t *l4, size_t len, size_t csum_at)
{
	uint8_t *p = uplink_send_slot(&U.tx);

	if (!p) {
		uplink_flush(&U.tx);
		p = uplink_send_slot(&U.tx);
	}
	memset(p, 0, 40);
	p[0] = 0x60;
	be16_put(p + 4, (uint16_t)len);
	p[6] = proto;
	p[7] = 64;
	memcpy(p + 8, NAT6.b, 16);
	memcpy(p + 24, PEER6.b, 16);
	memcpy(p + 40, l4, len);
	be16_put(p + 40 + csum_at, 0);
	be16_put(p + 40 + csum_at, csum_l4_6(NAT6.b, PEER6.b, proto, p + 40, len));
	uplink_send_commit(&U.tx, 40 + len);
}

static void send_udp6(uint16_t sport, uint16_t dport, const char *msg)
{
	uint8_t l4[256];
	size_t n = strlen(msg);

	be16_put(l4, sport);
	be16_put(l4 + 2, dport);
	be16_put(l4 + 4, (uint16_t)(8 + n));
	memcpy(l4 + 8, msg, n);
	queue6(IPPROTO_UDP, l4, 8 + n, 6);
	if (uplink_flush(&U.tx) != 1)
		die("a UDPv6 datagram refused");
}

static void on_batch6_step(void *ctx, struct uplink_pkt *pkts, unsigned n)
{
	struct rx *rx = ctx;

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *ip = pkts[i].data;
		size_t len = pkts[i].len;

		if (pkts[i].family != NF_V6 || len < 48 || memcmp(ip + 8, PEER6.b, 16) ||
		    memcmp(ip + 24, NAT6.b, 16) || (ip[6] != IPPROTO_TCP && ip[6] != IPPROTO_UDP))
			continue;
		seen++;
		if (len > U.mtu)
			too_big++;
		if (csum_l4_6(PEER6.b, NAT6.b, ip[6], ip + 40, len - 40) !=
		    be16_get(ip + 40 + (ip[6] == IPPROTO_TCP ? 16 : 6)))
			bad_csum++;
		rx->fn(rx->st, ip, len);
	}
}

static void pump6(step_fn *fn, void *st, double t)
{
	struct rx rx = { fn, st };
	struct pollfd pfd[2] = { { .fd = U.pfd, .events = POLLIN },
				 { .fd = U.tx.nh.fd, .events = POLLIN } };

	if (poll(pfd, 2, (int)(t * 1000)) > 0) {
		while (uplink_recv_batch(&U, on_batch6_step, &rx) > 0)
			;
		if (uplink_tx_neigh_read(&U.tx) < 0)
			die("neighbour events");
	}
}

static void udp6_rx(void *v, const uint8_t *ip, size_t len)
{
	struct udp_st *s = v;
	const uint8_t *l4 = ip + 40;

	if (ip[6] == IPPROTO_UDP && be16_get(l4) == s->dport && be16_get(l4 + 2) == s->sport &&
	    len - 48 == strlen(s->msg) && !memcmp(l4 + 8, s->msg, strlen(s->msg)))
		s->got = true;
}

/* One UDPv6 echo; how the datagram left: 'p' packet socket, 'r' raw. */
static char echo6_once(uint16_t port)
{
	struct udp_st s = { (uint16_t)(LO + 3), port, "uplink probe IPv6 neighbour", false };
	uint64_t p0 = U.tx.st.packet, r0 = U.tx.st.raw;
	double end = now() + 10;

	send_udp6(s.sport, s.dport, s.msg);
	while (!s.got && now() < end)
		pump6(udp6_rx, &s, 0.1);
	if (!s.got)
		die("no UDPv6 echo");
	if (U.tx.st.packet == p0 + 1 && U.tx.st.raw == r0)
		return 'p';
	if (U.tx.st.raw == r0 + 1 && U.tx.st.packet == p0)
		return 'r';
	die("the IPv6 datagram left by neither socket, or by both");
	return 0;
}

static void step_neigh6(uint16_t port, const uint8_t want[6])
{
	uint8_t mac[6];
	double end = now() + 10;
	unsigned frames = 0;
	uint64_t miss0 = U.tx.st.no_neigh;

	if (U.tx.xfd < 0 || U.tx.rfd6 < 0)
		die("no packet socket or no IPv6 raw socket for sending");
	if (neigh_lookup6(&U.tx.nh, &PEER6, mac) != NEIGH_RAW)
		die("a next hop already known before the first IPv6 datagram");
	if (echo6_once(port) != 'r' || U.tx.st.no_neigh != miss0 + 1)
		die("the first IPv6 datagram to a next hop without an entry did not go by the raw socket");
	while (neigh_lookup6(&U.tx.nh, &PEER6, mac) != NEIGH_MAC && now() < end)
		pump6(udp6_rx, &(struct udp_st){ .msg = "" }, 0.1);
	if (memcmp(mac, want, 6))
		die("the next hop's MAC learned is not the one expected");
	for (int i = 0; i < 5; i++)
		frames += echo6_once(port) == 'p';
	printf("neigh6 %u: the first datagram by the IPv6 raw socket (no entry), then %u of 5 as "
	       "frames to %02x:%02x:%02x:%02x:%02x:%02x\n", port, frames, mac[0], mac[1], mac[2],
	       mac[3], mac[4], mac[5]);
	if (frames != 5)
		die("with the neighbour's entry learned, IPv6 datagrams still went by the raw socket");
}

/* TCPv6: the handshake, n segments at once, FIN. */
static void tcp6_queue(struct tcp_st *s, uint32_t seq, uint8_t flags, const uint8_t *data,
		       size_t n)
{
	uint8_t l4[28 + 1000];
	size_t hl = flags & 0x02 ? 28 : 20;

	memset(l4, 0, hl);
	be16_put(l4, s->sport);
	be16_put(l4 + 2, s->dport);
	be32_put(l4 + 4, seq);
	be32_put(l4 + 8, flags & 0x10 ? s->rcv_nxt : 0);
	l4[12] = (uint8_t)(hl / 4) << 4;
	l4[13] = flags;
	be16_put(l4 + 14, 65535);
	if (hl == 28) {
		static const uint8_t opt[8] = { 2, 4, 0x05, 0xa0, 1, 3, 3, 2 }; /* MSS 1440 */
		memcpy(l4 + 20, opt, 8);
	}
	if (n)
		memcpy(l4 + hl, data, n);
	queue6(IPPROTO_TCP, l4, hl + n, 16);
}

static void tcp6_rx(void *v, const uint8_t *ip, size_t len)
{
	struct tcp_st *s = v;
	const uint8_t *l4 = ip + 40;
	uint32_t seq, ack;
	uint8_t fl;
	size_t thl;

	if (ip[6] != IPPROTO_TCP || be16_get(l4) != s->dport || be16_get(l4 + 2) != s->sport)
		return;
	thl = (size_t)(l4[12] >> 4) * 4;
	seq = be32_get(l4 + 4);
	ack = be32_get(l4 + 8);
	fl = l4[13];
	if (fl & 0x04)
		die("RST from the IPv6 server");
	if (!s->established) {
		if ((fl & 0x12) == 0x12 && ack == s->iss + 1) {
			s->established = true;
			s->rcv_nxt = seq + 1;
			s->snd_nxt = s->iss + 1;
			s->need_ack = true;
		}
		return;
	}
	if (fl & 0x10 && ack - s->snd_nxt < 0x80000000u)
		s->bytes = ack - s->iss - 1; /* acked so far (the FIN counts 1) */
	if (fl & 0x10 && s->our_fin_sent && ack == s->snd_nxt)
		s->our_fin_acked = true;
	if (seq == s->rcv_nxt && (fl & 0x01) && len == 40 + thl && !s->their_fin) {
		s->their_fin = true;
		s->rcv_nxt++;
		s->need_ack = true;
	}
}

static void step_up6(uint16_t dport, uint16_t sport, unsigned n, const char *file)
{
	struct tcp_st s = { .sport = sport, .dport = dport, .iss = (uint32_t)random() };
	uint8_t data[1000];
	uint64_t gso0 = U.tx.st.gso, segs0 = U.tx.st.gso_segs, q0, r0;
	double end = now() + 30, last = 0;
	FILE *f = fopen(file, "w");

	if (!f || n == 0 || n >= 60)
		die("up6: output file, or N");
	while (!s.established && now() < end) {
		if (now() - last > 0.5) {
			last = now();
			tcp6_queue(&s, s.iss, 0x02, NULL, 0);
			uplink_flush(&U.tx);
		}
		pump6(tcp6_rx, &s, 0.05);
	}
	if (!s.established)
		die("no TCPv6 SYN-ACK");
	/* all the data and the FIN in one flush */
	q0 = U.tx.st.packet;
	r0 = U.tx.st.raw;
	for (unsigned i = 0; i < n; i++) {
		for (unsigned j = 0; j < sizeof(data); j++)
			data[j] = (uint8_t)((i * 1000 + j) % 251);
		if (fwrite(data, 1, sizeof(data), f) != sizeof(data))
			die("write");
		tcp6_queue(&s, s.snd_nxt, 0x10, data, sizeof(data));
		s.snd_nxt += sizeof(data);
	}
	fclose(f);
	tcp6_queue(&s, s.snd_nxt, 0x11, NULL, 0);
	s.snd_nxt++;
	s.our_fin_sent = true;
	s.need_ack = false;
	if (uplink_flush(&U.tx) != n + 1)
		die("TCPv6 segments refused");
	while (!(s.our_fin_acked && s.their_fin) && now() < end) {
		pump6(tcp6_rx, &s, 0.05);
		if (s.need_ack) {
			tcp6_queue(&s, s.snd_nxt, 0x10, NULL, 0);
			uplink_flush(&U.tx);
			s.need_ack = false;
		}
	}
	printf("up6 %u -> %u: %u segments, %llu bytes acked, %llu of them in %llu TCPv6 "
	       "super-packets, %llu frames after the handshake\n", sport, dport, n,
	       (unsigned long long)s.bytes,
	       (unsigned long long)(U.tx.st.gso_segs - segs0),
	       (unsigned long long)(U.tx.st.gso - gso0), (unsigned long long)(U.tx.st.packet - q0));
	if (!s.our_fin_acked || !s.their_fin)
		die("the TCPv6 upload was not all acked, or the server did not close");
	/* one run of one flow, under GRO_MAX: all the data joined, the FIN
	 * and the ACKs as frames of their own */
	if (U.tx.st.gso - gso0 != 1 || U.tx.st.gso_segs - segs0 != n || U.tx.st.raw != r0)
		die("the TCPv6 segments did not leave as frames joined into one super-packet");
}

static _Noreturn void udp_echo6(uint16_t port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	uint8_t buf[2048];

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("udp-echo6 bind");
	for (;;) {
		struct sockaddr_in6 from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n >= 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

static int send6(int argc, char **argv)
{
	struct uplink_conf c = { 0 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	srandom((unsigned)getpid());
	if (inet_pton(AF_INET6, argv[3], NAT6.b) != 1)
		die("NAT6");
	LO = (uint16_t)atoi(argv[4]);
	HI = (uint16_t)atoi(argv[5]);
	c.ifname = argv[2];
	c.nat = (struct bpf_nat_spec){ .lo = LO, .hi = HI, .addr6 = { NAT6 }, .naddr6 = 1 };
	c.host_owned = true;
	c.ipv6 = true;
	if (uplink_open_conf(&U, &c) < 0)
		die("uplink_open");
	for (int i = 6; i < argc; i++) {
		char addr[64], file[256];
		unsigned port, sport, n, m[6];

		if (sscanf(argv[i], "neigh6,%63[^,],%u,%x:%x:%x:%x:%x:%x", addr, &port, &m[0], &m[1],
			   &m[2], &m[3], &m[4], &m[5]) == 8) {
			uint8_t mac[6];

			for (int k = 0; k < 6; k++)
				mac[k] = (uint8_t)m[k];
			if (inet_pton(AF_INET6, addr, PEER6.b) != 1)
				die(argv[i]);
			step_neigh6((uint16_t)port, mac);
		} else if (sscanf(argv[i], "up6,%63[^,],%u,%u,%u,%255s", addr, &port, &sport, &n,
				  file) == 5) {
			if (inet_pton(AF_INET6, addr, PEER6.b) != 1)
				die(argv[i]);
			step_up6((uint16_t)port, (uint16_t)sport, n, file);
		} else {
			die(argv[i]);
		}
	}
	stats(stdout);
	uplink_close(&U);
	return bad_csum || too_big ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct uplink_conf c = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct in_addr a;
	bool bare = false, raw = false;
	unsigned ring = 0;
	int i;

	if (argc == 4 && !strcmp(argv[1], "offload"))
		return offload(argv[2], !strcmp(argv[3], "on"));
	if (argc == 3 && !strcmp(argv[1], "udp-echo"))
		udp_echo((uint16_t)atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "udp-echo6"))
		udp_echo6((uint16_t)atoi(argv[2]));
	if (argc >= 6 && !strcmp(argv[1], "send6"))
		return send6(argc, argv);
	if ((argc == 7 || (argc == 8 && !strcmp(argv[2], "--bare"))) && !strcmp(argv[1], "hold6"))
		return hold6(argc, argv);
	if (argc > 2 && !strcmp(argv[2], "--bare")) {
		bare = true;
		argv[2] = argv[1];
		argv++;
		argc--;
	}
	if (argc > 2 && !strcmp(argv[2], "--raw")) {
		raw = true;
		argv[2] = argv[1];
		argv++;
		argc--;
	}
	if (argc > 3 && !strcmp(argv[2], "--ring")) { /* slots */
		ring = (unsigned)atoi(argv[3]);
		argv[3] = argv[1];
		argv += 2;
		argc -= 2;
	}
	if (argc < 7 || strcmp(argv[1], "run")) {
		fprintf(stderr, "usage: uplink_probe offload IF on|off\n"
				"       uplink_probe run [--bare] [--raw] [--ring SLOTS] IF NATADDR LO HI SERVER STEP...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	srandom((unsigned)getpid());
	if (!inet_aton(argv[3], &a))
		die("NATADDR");
	NAT = ntohl(a.s_addr);
	if (!inet_aton(argv[6], &a))
		die("SERVER");
	SERVER = ntohl(a.s_addr);
	LO = (uint16_t)atoi(argv[4]);
	HI = (uint16_t)atoi(argv[5]);
	c.ifname = argv[2];
	c.nat = (struct bpf_nat_spec){ .addr = { NAT }, .naddr = 1, .lo = LO, .hi = HI };
	c.host_owned = !bare;
	c.ring_frames = ring;
	c.raw_send = raw;
	if (uplink_open_conf(&U, &c) < 0)
		die("uplink_open");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (i = 7; i < argc; i++) {
		char file[256];
		unsigned p1, p2, n;

		if (sscanf(argv[i], "udp:%u", &p1) == 1) {
			step_udp((uint16_t)p1);
		} else if (sscanf(argv[i], "rate:%u:%u", &p1, &n) == 2) {
			step_rate((uint16_t)p1, n);
		} else if (sscanf(argv[i], "neigh:%u", &p1) == 1) {
			step_neigh((uint16_t)p1);
		} else if (sscanf(argv[i], "syn:%u:%u", &p1, &p2) == 2) {
			step_tcp((uint16_t)p2, (uint16_t)p1, NULL);
		} else if (sscanf(argv[i], "bulk:%u:%u:%255s", &p1, &p2, file) == 3) {
			step_tcp((uint16_t)p2, (uint16_t)p1, file);
		} else if (sscanf(argv[i], "host:%u:%u:%u", &p1, &p2, &n) == 3) {
			step_host((uint16_t)p1, (uint16_t)p2, n);
		} else if (sscanf(argv[i], "flood:%u:%u", &p1, &n) == 2) {
			step_flood((uint16_t)p1, n);
		} else if (!strcmp(argv[i], "hold")) {
			printf("holding\n");
			while (!stopping)
				pause();
		} else {
			die(argv[i]);
		}
	}
	stats(stdout);
	uplink_close(&U);
	return bad_csum || too_big ? 1 : 0;
}
