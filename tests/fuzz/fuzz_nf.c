/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the whole netfilter path with NAT (nat/hook.h), as gw's data
 * path drives it: a gateway with a tunnel gw0 (10.8.0.0/24, gw at .1) and an
 * uplink eth0 (192.0.2.1), rules with raw NOTRACK, mangle TCPMSS, nat DNAT /
 * REDIRECT / SNAT / MASQUERADE, filter REJECT and conntrack matches; a small
 * conntrack table and few NAT ports, so early drop, exhaustion and expiry
 * all happen.
 *
 * Input: a config byte (bit 0: tcp_be_liberal, bit 1: no uplink address,
 * bit 2: nf_conntrack_checksum off, bits 3-4: the rules' variant, bits
 * 5-7: the tunnel MTU), two bytes that become ports in the rules, then
 * records of an op byte and 6 argument bytes:
 *   op bits 0-1  where it comes in: nf_input on gw0 (from a peer), nf_input
 *                on eth0, nf_from_host, nf_output
 *   op bits 2-3  what it is: a new packet from the templates; a packet
 *                following one gw let through (same direction, next
 *                sequence numbers); a reply to one gw sent out (addresses,
 *                ports swapped, acknowledging it); an ICMP error quoting one
 *                gw sent out, with a fuzz-chosen byte of the quote changed
 *   op bit  4    replies and errors come in where the packet went out
 *   op bits 5-7  time passing before it (0 to 2 hours), ct_expire runs
 * Each result goes on as gw/forward.h decides (fwd_decide, the no-peer
 * answer when an argument bit says no peer owns the destination, cutting
 * into fragments); every answer gw owes (REJECT, time exceeded,
 * fragmentation needed, host unreachable) is built as gw/dataplane.c builds
 * it and goes through nf_answer; every result is nf_release'd.
 * Properties:
 *   - every accepted packet parses again; its IP header checksum verifies;
 *     its TCP/UDP/ICMP checksum verifies when it did before (an ICMP
 *     error's quoted IP header too), a zero UDP checksum stays zero
 *     (checked with tests/unit/util_refsum, not nat/pkt/csum);
 *   - gw's answers and the fragments it cuts are valid the same way;
 *   - at the end, everything released and the clock far ahead, conntrack
 *     holds no entry (no held or unconfirmed entry leaked).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/forward.h"
#include "nat/ct.h"
#include "nat/hook.h"
#include "nat/pkt/be.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"
#include "nat/reject.h"
#include "nat/rules.h"
#include "tests/unit/util_refsum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "CHECK failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

enum {
	P_ICMP = 1, P_TCP = 6, P_UDP = 17,
	PKT_CAP = 1600, RING = 8, REC = 7,
	GW_ADDR = A(10, 8, 0, 1), UPLINK = A(192, 0, 2, 1),
};

static const char *const TUN = "gw0", *const UP = "eth0";

static const uint32_t addrs[8] = {
	A(10, 8, 0, 2), A(10, 8, 0, 3), A(10, 8, 0, 5), GW_ADDR,
	UPLINK, A(198, 51, 100, 1), A(198, 51, 100, 200), A(192, 0, 2, 9),
};
static const uint16_t ports[16] = {
	80, 8080, 53, 22, 25, 9, 19, 23, 123, 1000, 1001, 61000, 61001, 5353, 2525, 40000,
};
static const uint16_t payloads[8] = { 0, 1, 7, 64, 200, 1000, 1380, 1460 };
static const uint64_t steps[8] = {
	0, 1000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL, 120000000000ULL,
	600000000000ULL, 7200000000000ULL,
};

/* %u: two ports from the input. */
static const char rules_fmt[] =
	"*raw\n"
	":PREROUTING ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"-A PREROUTING -p udp -m udp --dport 7 -j CT --notrack\n"
	"COMMIT\n"
	"*mangle\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n"
	"-A POSTROUTING -o eth0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200\n"
	"COMMIT\n"
	"*nat\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A PREROUTING -d 192.0.2.1/32 -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.8.0.2:80\n"
	"-A PREROUTING -d 192.0.2.1/32 -i eth0 -p udp -m udp --dport 53 -j DNAT --to-destination 10.8.0.3-10.8.0.5:5353\n"
	"-A PREROUTING -d 192.0.2.9/32 -i eth0 -j DNAT --to-destination 10.8.0.5\n"
	"-A PREROUTING -i eth0 -p tcp -m tcp --dport %u -j DNAT --to-destination 10.8.0.3\n"
	"-A PREROUTING -i gw0 -p tcp -m tcp --dport 25 -j REDIRECT --to-ports 2525\n"
	"-A PREROUTING -i gw0 -p udp -m udp --dport %u -j REDIRECT\n"
	"-A OUTPUT -d 198.51.100.200/32 -p tcp -j DNAT --to-destination 10.8.0.2\n"
	"-A POSTROUTING -s 10.8.0.4/30 -o eth0 -p udp -j SNAT --to-source 192.0.2.50-192.0.2.51:1000-1001\n"
	"-A POSTROUTING -s 10.8.0.4/30 -o eth0 -j SNAT --to-source 192.0.2.50\n"
	"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -p tcp -j MASQUERADE --to-ports 61000-61003%s\n"
	"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE\n"
	"-A POSTROUTING -s 10.8.0.0/24 -d 10.8.0.2/32 -o gw0 -j SNAT --to-source 10.8.0.1\n"
	"COMMIT\n"
	"*filter\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD %s [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset\n"
	"-A INPUT -p udp -m udp --dport 9 -j REJECT\n"
	"-A FORWARD -m conntrack --ctstate INVALID -j DROP\n"
	"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"-A FORWARD -i gw0 -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n"
	"-A FORWARD -i gw0 -p udp -m udp --dport 9 -j REJECT --reject-with icmp-port-unreachable\n"
	"-A FORWARD -p udp -m udp --dport 19 -j REJECT --reject-with icmp-admin-prohibited\n"
	"-A FORWARD -i gw0 -j ACCEPT\n"
	"-A FORWARD -i eth0 -o gw0 -m conntrack --ctstate DNAT -j ACCEPT\n"
	"-A OUTPUT -m conntrack --ctstate INVALID -j DROP\n"
	"%s"
	"COMMIT\n";

/* What gw let through, as it came and as it left. */
struct seen {
	uint8_t in[PKT_CAP], out[PKT_CAP];
	size_t in_len, out_len;
	unsigned path;          /* where it came in (op bits 0-1) */
	bool out_tunnel;        /* it left by gw0 (else eth0) */
};

struct run {
	struct nf *nf;
	uint64_t now;
	uint32_t rnd;
	uint16_t ip_id;
	uint16_t mtu;
	bool no_uplink_addr;
	struct seen ring[RING];
	unsigned nring;
	uint8_t fragout[PKT_CAP];
};

static struct run *cur; /* for the callbacks */

static int route(void *arg, uint32_t daddr, struct nf_route *r)
{
	(void)arg;
	memset(r, 0, sizeof(*r));
	if (daddr == GW_ADDR || daddr == UPLINK) {
		r->kind = NF_ROUTE_LOCAL;
		strcpy(r->out, daddr == GW_ADDR ? TUN : UP);
		return 0;
	}
	if (daddr >> 28 == 0xf)
		return -ENETUNREACH;
	r->kind = NF_ROUTE_FORWARD;
	if ((daddr & 0xffffff00) == A(10, 8, 0, 0)) {
		strcpy(r->out, TUN);
		r->mtu = cur->mtu;
	} else {
		strcpy(r->out, UP);
		r->mtu = 1500;
	}
	return 0;
}

static uint32_t ifaddr(void *arg, const char *ifname, uint32_t dst)
{
	(void)arg;
	(void)dst;
	if (!strcmp(ifname, TUN))
		return GW_ADDR;
	if (!strcmp(ifname, UP))
		return cur->no_uplink_addr ? 0 : UPLINK;
	return 0;
}

static const struct fwd_env env = { "gw0", "eth0", true };

static bool local_gets(void *arg, const struct pkt *p, const char *in, const struct nf_route *r)
{
	(void)arg;
	return fwd_host_gets(UP, p, in, r);
}

static uint32_t rnd_next(struct run *r)
{
	r->rnd = r->rnd * 1103515245u + 12345u;
	return r->rnd;
}

static void ipv4_csum(uint8_t *b)
{
	size_t ihl = (size_t)(b[0] & 0xf) * 4;

	be16_put(b + 10, 0);
	be16_put(b + 10, (uint16_t)~ref_fold(ref_sum(0, b, ihl)));
}

/* The L4 checksum of the IPv4 packet b (len bytes) made right. */
static void l4_csum(uint8_t *b, size_t len)
{
	size_t l3 = (size_t)(b[0] & 0xf) * 4;
	uint8_t proto = b[9];
	size_t off = proto == P_TCP ? 16 : proto == P_UDP ? 6 : 2;

	if (l3 + off + 2 > len)
		return;
	be16_put(b + l3 + off, 0);
	if (proto == P_ICMP) {
		be16_put(b + l3 + off, (uint16_t)~ref_fold(ref_sum(0, b + l3, len - l3)));
	} else if (proto == P_TCP || proto == P_UDP) {
		uint16_t s = (uint16_t)~ref_fold(ref_sum(ref_pseudo(b, proto, len - l3),
							   b + l3, len - l3));

		be16_put(b + l3 + off, proto == P_UDP && !s ? 0xffff : s);
	}
}

/* An IPv4 packet from the template bytes a[0..5]. */
static size_t build_new(uint8_t *b, const uint8_t *a)
{
	static const uint8_t protos[4] = { P_TCP, P_UDP, P_ICMP, P_TCP };
	uint8_t proto = protos[a[0] & 3];
	size_t pl = payloads[a[3] & 7], l4h, len;
	bool mss = a[3] & 8;

	l4h = proto == P_TCP ? (mss ? 24 : 20) : 8;
	len = 20 + l4h + pl;
	memset(b, 0, len);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)len);
	be16_put(b + 4, (uint16_t)(a[4] << 8 | a[5]));
	if (a[3] & 0x10)
		be16_put(b + 6, 0x4000); /* DF */
	if (a[3] & 0x20)
		be16_put(b + 6, (uint16_t)(0x2000 | (a[5] & 0x3))); /* a fragment */
	b[8] = a[3] & 0x40 ? 1 : 64;
	b[9] = proto;
	be32_put(b + 12, addrs[a[0] >> 2 & 7]);
	be32_put(b + 16, addrs[a[0] >> 5]);
	if (proto == P_TCP) {
		be16_put(b + 20, ports[a[1] & 15]);
		be16_put(b + 22, ports[a[1] >> 4]);
		be32_put(b + 24, 1000u * a[4]);
		be32_put(b + 28, 1000u * a[5]);
		b[32] = (uint8_t)(l4h / 4 << 4);
		b[33] = a[2];
		be16_put(b + 34, 65535);
		if (mss) {
			b[40] = 2;
			b[41] = 4;
			be16_put(b + 42, 1460);
		}
	} else if (proto == P_UDP) {
		be16_put(b + 20, ports[a[1] & 15]);
		be16_put(b + 22, ports[a[1] >> 4]);
		be16_put(b + 24, (uint16_t)(8 + pl));
	} else {
		/* echo request or reply (or another type the fuzzer picks) */
		b[20] = a[2] & 0x80 ? a[2] & 0x1f : (a[2] & 1 ? 0 : 8);
		b[21] = a[2] & 0x80 ? a[2] >> 5 & 3 : 0;
		be16_put(b + 24, ports[a[1] & 15]);
		be16_put(b + 26, a[1]);
	}
	for (size_t i = 20 + l4h; i < len; i++)
		b[i] = (uint8_t)i;
	ipv4_csum(b);
	if (!(a[3] & 0x80))
		l4_csum(b, len);
	return len;
}

/* The TCP sequence space a segment takes. */
static uint32_t tcp_span(const uint8_t *b, size_t len)
{
	size_t l3 = (size_t)(b[0] & 0xf) * 4;
	size_t doff = l3 + 13 <= len ? (size_t)(b[l3 + 12] >> 4) * 4 : 0;
	uint32_t n = len > l3 + doff ? (uint32_t)(len - l3 - doff) : 0;

	if (l3 + 14 > len)
		return 0;
	return n + !!(b[l3 + 13] & 0x02) + !!(b[l3 + 13] & 0x01);
}

/* The next packet after s->in in its direction: sequence numbers moved on,
 * TCP flags a[2] (ACK kept). */
static size_t build_follow(uint8_t *b, const struct seen *s, const uint8_t *a)
{
	size_t len = s->in_len, l3 = (size_t)(s->in[0] & 0xf) * 4;

	memcpy(b, s->in, len);
	be16_put(b + 4, (uint16_t)(be16_get(b + 4) + 1));
	if (b[9] == P_TCP && l3 + 20 <= len) {
		be32_put(b + l3 + 4, be32_get(b + l3 + 4) + tcp_span(s->in, len));
		b[l3 + 13] = (uint8_t)(a[2] | (a[3] & 1 ? 0 : 0x10));
	} else if (b[9] == P_ICMP && l3 + 8 <= len) {
		be16_put(b + l3 + 6, (uint16_t)(be16_get(b + l3 + 6) + 1));
	}
	ipv4_csum(b);
	if (!(a[3] & 0x80))
		l4_csum(b, len);
	return len;
}

/* A reply to s->out: addresses and ports swapped, TCP acknowledging it. */
static size_t build_reply(uint8_t *b, const struct seen *s, const uint8_t *a)
{
	size_t len = s->out_len, l3 = (size_t)(s->out[0] & 0xf) * 4;
	size_t pl = payloads[a[3] & 7];

	memcpy(b, s->out, len);
	be32_put(b + 12, be32_get(s->out + 16));
	be32_put(b + 16, be32_get(s->out + 12));
	b[8] = 64;
	be16_put(b + 6, a[3] & 0x10 ? 0x4000 : 0);
	if ((b[9] == P_TCP || b[9] == P_UDP) && l3 + 8 <= len) {
		be16_put(b + l3, be16_get(s->out + l3 + 2));
		be16_put(b + l3 + 2, be16_get(s->out + l3));
	}
	if (b[9] == P_TCP && l3 + 20 <= len) {
		size_t doff = (size_t)(b[l3 + 12] >> 4) * 4;

		be32_put(b + l3 + 4, be32_get(s->out + l3 + 8) + (a[4] & 0x80 ? a[5] : 0));
		be32_put(b + l3 + 8, be32_get(s->out + l3 + 4) + tcp_span(s->out, len));
		b[l3 + 13] = (uint8_t)(a[2] | 0x10);
		if (doff >= 20 && l3 + doff <= len && l3 + doff + pl <= PKT_CAP)
			len = l3 + doff + pl;
	} else if (b[9] == P_UDP && l3 + 8 <= len) {
		if (l3 + 8 + pl <= PKT_CAP)
			len = l3 + 8 + pl;
		be16_put(b + l3 + 4, (uint16_t)(len - l3));
	} else if (b[9] == P_ICMP && l3 + 8 <= len) {
		b[l3] = b[l3] == 8 ? 0 : b[l3] == 0 ? 8 : b[l3];
	}
	be16_put(b + 2, (uint16_t)len);
	ipv4_csum(b);
	if (!(a[3] & 0x80))
		l4_csum(b, len);
	return len;
}

/* An ICMP error quoting s->out, from its destination or a router on the
 * way, one byte of the quote changed (a[3], a[4]), cut to a[5] bytes. */
static size_t build_error(uint8_t *b, const struct seen *s, const uint8_t *a)
{
	static const uint8_t tc[8][2] = {
		{ 3, 3 }, { 3, 1 }, { 3, 4 }, { 11, 0 }, { 3, 13 }, { 12, 0 }, { 5, 1 }, { 4, 0 },
	};
	size_t q = s->out_len, len;
	uint32_t from = a[0] & 0x80 ? be32_get(s->out + 16) : addrs[a[0] & 7];

	if (a[5] && a[5] < q)
		q = a[5] < 28 ? 28 : a[5];
	if (q > s->out_len)
		q = s->out_len;
	if (q > REJECT_ICMP_QUOTE_MAX - 28)
		q = REJECT_ICMP_QUOTE_MAX - 28;
	len = 28 + q;
	memset(b, 0, 28);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)len);
	be16_put(b + 4, a[1]);
	b[8] = 64;
	b[9] = P_ICMP;
	be32_put(b + 12, from);
	be32_put(b + 16, be32_get(s->out + 12));
	b[20] = tc[a[2] & 7][0];
	b[21] = tc[a[2] & 7][1];
	if (b[20] == 3 && b[21] == 4)
		be16_put(b + 26, 1280);
	memcpy(b + 28, s->out, q);
	if (a[3] < q)
		b[28 + a[3]] ^= a[4];
	if (a[2] & 0x40)
		ipv4_csum(b + 28);
	ipv4_csum(b);
	if (!(a[2] & 0x80))
		l4_csum(b, len);
	return len;
}

/* What was right about a packet before netfilter saw it. */
struct sums {
	bool l4_ok, udp_zero, inner_ok, whole;
};

static struct sums sums_of(const struct pkt *p)
{
	const uint8_t *b = p->data;
	struct sums s = { false, false, false, false };
	size_t l3 = p->outer.l4 - p->outer.ip, len = p->outer.end;

	s.whole = !(p->outer.flags & (PKT_F_MF)) && p->outer.frag_off == 0;
	if (!s.whole)
		return s;
	if (p->outer.proto == P_ICMP)
		s.l4_ok = ref_fold(ref_sum(0, b + l3, len - l3)) == 0xffff;
	else if (p->outer.proto == P_TCP || p->outer.proto == P_UDP)
		s.l4_ok = ref_l4_ok(b, len, l3, p->outer.proto);
	s.udp_zero = p->outer.proto == P_UDP && be16_get(b + l3 + 6) == 0;
	if (p->has_inner)
		s.inner_ok = ref_fold(ref_sum(0, b + p->inner.ip, p->inner.l4 - p->inner.ip)) == 0xffff;
	return s;
}

/* An accepted packet: parses, and what was right is still right. */
static void check_out(struct pkt *p, const struct sums *before)
{
	struct pkt again;
	uint8_t *b = p->data;
	size_t len = p->outer.end, l3 = p->outer.l4 - p->outer.ip;

	CHECK(ref_fold(ref_sum(0, b, l3)) == 0xffff);
	CHECK(pkt_parse(&again, b, len) == PKT_OK);
	CHECK(again.outer.saddr.ip == p->outer.saddr.ip && again.outer.daddr.ip == p->outer.daddr.ip);
	CHECK(again.outer.sport == p->outer.sport && again.outer.dport == p->outer.dport);
	if (!before->whole)
		return;
	if (before->udp_zero)
		CHECK(be16_get(b + l3 + 6) == 0);
	else if (before->l4_ok && p->outer.proto == P_ICMP)
		CHECK(ref_fold(ref_sum(0, b + l3, len - l3)) == 0xffff);
	else if (before->l4_ok)
		CHECK(ref_l4_ok(b, len, l3, p->outer.proto));
	if (before->inner_ok && again.has_inner)
		CHECK(ref_fold(ref_sum(0, b + again.inner.ip, again.inner.l4 - again.inner.ip)) ==
		      0xffff);
}

static void remember(struct run *r, const uint8_t *in, size_t in_len, const struct pkt *p,
		     unsigned path, bool out_tunnel)
{
	struct seen *s = &r->ring[r->nring++ % RING];

	memcpy(s->in, in, in_len);
	s->in_len = in_len;
	memcpy(s->out, p->data, p->outer.end);
	s->out_len = p->outer.end;
	s->path = path;
	s->out_tunnel = out_tunnel;
}

struct frag_ctx {
	struct sums whole;
	unsigned n;
};

static void frag_emit(void *ctx, uint8_t *frag, size_t len)
{
	struct frag_ctx *f = ctx;
	struct pkt fp;

	CHECK(pkt_parse(&fp, frag, len) == PKT_OK);
	CHECK(ref_fold(ref_sum(0, frag, fp.outer.l4 - fp.outer.ip)) == 0xffff);
	f->n++;
}

static void finish(struct run *r, struct pkt *p, struct nf_result *res, const char *in,
		   enum fwd_from from, const uint8_t *a, const uint8_t *orig, size_t orig_len,
		   unsigned path, const struct sums *before, unsigned depth);

/* gw's answer about p (in on in), as dataplane.c's answer() makes it. */
static void answer(struct run *r, const struct pkt *p, const struct nf_result *res,
		   const struct fwd_action *a, const char *in, const uint8_t *arg, unsigned depth)
{
	uint8_t buf[REJECT_ICMP_QUOTE_MAX + 64];
	uint32_t src = ifaddr(NULL, in, p->outer.saddr.ip);
	struct nf_result rres;
	struct sums s;
	struct pkt rp;
	size_t len;

	if (a->answer == FWD_ANSWER_REJECT)
		len = reject_build(p, res->reject, src, r->ip_id++, buf, sizeof(buf));
	else
		len = icmp_error_build(p, a->type, a->code, a->mtu, src, r->ip_id++, buf,
				       sizeof(buf));
	if (!len)
		return;
	CHECK(len <= sizeof(buf));
	CHECK(pkt_parse(&rp, buf, len) == PKT_OK);
	s = sums_of(&rp);
	CHECK(s.l4_ok);
	nf_answer(r->nf, &rp, res, r->now, rnd_next(r), &rres, NULL);
	finish(r, &rp, &rres, TUN, FWD_FROM_GW, arg, buf, len, 3, &s, depth + 1);
}

/* As dataplane.c's finish(): carried out, answered, released. */
static void finish(struct run *r, struct pkt *p, struct nf_result *res, const char *in,
		   enum fwd_from from, const uint8_t *a, const uint8_t *orig, size_t orig_len,
		   unsigned path, const struct sums *before, unsigned depth)
{
	struct fwd_action act;

	CHECK(depth < 3);
	fwd_decide(&env, p, res, from, &act);
	if (res->verdict == NF_ACCEPT)
		check_out(p, before);
	if (act.kind == FWD_PEER && (a[1] & 0x80))
		fwd_no_peer(from, p, &act);
	if (from == FWD_FROM_GW)
		CHECK(act.answer == FWD_ANSWER_NONE);
	if (act.cut) {
		struct frag_ctx f = { *before, 0 };
		int n = ip_fragment(p->data, p->outer.end, act.cut, r->fragout,
				    sizeof(r->fragout), frag_emit, &f);

		CHECK(n < 0 || (unsigned)n == f.n);
	}
	if (act.kind == FWD_PEER || act.kind == FWD_UPLINK || act.kind == FWD_HOST)
		remember(r, orig, orig_len, p, path, act.kind != FWD_UPLINK);
	if (act.answer != FWD_ANSWER_NONE)
		answer(r, p, res, &act, in, a, depth);
	nf_release(r->nf, res);
	CHECK(!res->ct && !res->ct_held);
}

static void one(struct run *r, uint8_t op, const uint8_t *a)
{
	static const char *const ins[4] = { "gw0", "eth0", "gw0", "gw0" };
	static const enum fwd_from froms[4] = {
		FWD_FROM_PEER, FWD_FROM_UPLINK, FWD_FROM_HOST, FWD_FROM_HOST,
	};
	unsigned kind = op >> 2 & 3, path = op & 3;
	const struct seen *s = r->nring ? &r->ring[a[0] % (r->nring < RING ? r->nring : RING)] : NULL;
	static const uint32_t uid[2] = { 1000, 1000 };
	uint8_t *buf, orig[PKT_CAP];
	struct nf_result res;
	struct sums before;
	struct pkt p;
	size_t len;

	r->now += steps[op >> 5];
	ct_expire(nf_ct(r->nf), r->now, 8);
	if (kind && !s)
		kind = 0;
	switch (kind) {
	case 0:
		len = build_new(orig, a);
		break;
	case 1:
		len = build_follow(orig, s, a);
		if (op & 0x10)
			path = s->path;
		break;
	case 2:
		len = build_reply(orig, s, a);
		if (op & 0x10)
			path = s->out_tunnel ? 0 : 1;
		break;
	default:
		len = build_error(orig, s, a);
		if (op & 0x10)
			path = s->out_tunnel ? 0 : 1;
		break;
	}
	buf = malloc(len); /* exact: ASan sees any access past it */
	CHECK(buf);
	memcpy(buf, orig, len);
	if (pkt_parse(&p, buf, len) != PKT_OK) {
		free(buf);
		return;
	}
	before = sums_of(&p);
	if (path == 0)
		p.owner = (uint16_t)(1 + (a[1] & 3));
	switch (path) {
	case 0:
	case 1:
		nf_input(r->nf, &p, ins[path], r->now, rnd_next(r), &res, NULL);
		break;
	case 2:
		nf_from_host(r->nf, &p, a[4] & 1 ? uid : NULL, r->now, rnd_next(r), &res, NULL);
		break;
	default:
		nf_output(r->nf, &p, a[4] & 1 ? uid : NULL, r->now, rnd_next(r), &res, NULL);
		break;
	}
	finish(r, &p, &res, ins[path], path == 3 ? FWD_FROM_GW : froms[path], a, orig, len,
	       path, &before, 0);
	free(buf);
}

static struct rules *rules_for(const uint8_t *data)
{
	static const char *const masq[4] = { "", " --random", " --random-fully", "" };
	static const char *const tail[4] = {
		"",
		"-A OUTPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n",
		"-A OUTPUT -m conntrack --ctstate RELATED -j ACCEPT\n-A OUTPUT -o gw0 -j DROP\n",
		"-A OUTPUT -p icmp -j DROP\n",
	};
	unsigned v = data[0] >> 3 & 3;
	static char text[sizeof(rules_fmt) + 256];
	struct rules_error err;
	struct rules *rules;

	snprintf(text, sizeof(text), rules_fmt, ports[data[1] & 15], ports[data[2] & 15],
		 masq[v], v == 3 ? "ACCEPT" : "DROP", tail[v]);
	if (rules_parse(&rules, text, strlen(text), NULL, &err)) {
		fprintf(stderr, "rules:%u: %s\n", err.line, err.message);
		abort();
	}
	return rules;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run run;
	struct nf_config cfg = {
		.route = route,
		.ifaddr = ifaddr,
		.uplink_addr = UPLINK,
		.nat_port_min = 61000,
		.nat_port_max = 61003,
		.local_gets = local_gets,
		.tunnel = "gw0",
		.uplink = "eth0",
	};
	struct ct_stats st;

	if (size < 3)
		return 0;
	memset(&run, 0, sizeof(run));
	cur = &run;
	run.now = 1000000000000ULL;
	run.rnd = 7;
	run.mtu = (uint16_t)(576 + (data[0] >> 5) * 128);
	run.no_uplink_addr = data[0] & 2;
	ct_config_default(&cfg.ct, 12);
	cfg.ct.buckets = 4;
	cfg.ct.hash_seed = 3;
	cfg.ct.owners = 4;
	cfg.ct.owner_max = 6;
	cfg.ct.tcp_be_liberal = data[0] & 1;
	cfg.ct.checksum = !(data[0] & 4);
	if (run.no_uplink_addr)
		cfg.uplink_addr = 0;
	CHECK(nf_create(&run.nf, &cfg, rules_for(data)) == 0);
	data += 3;
	size -= 3;
	while (size >= REC) {
		one(&run, data[0], data + 1);
		data += REC;
		size -= REC;
	}
	ct_expire(nf_ct(run.nf), run.now + 1000000ULL * 1000000000ULL, ~0u);
	ct_get_stats(nf_ct(run.nf), &st);
	CHECK(st.count == 0);
	for (uint16_t o = 1; o <= 4; o++) {
		struct ct_owner_stats os;

		ct_get_owner_stats(nf_ct(run.nf), o, &os);
		CHECK(os.count == 0);
	}
	nf_destroy(run.nf);
	return 0;
}
