/* SPDX-License-Identifier: MIT */
/*
 * gw/bpf: the tc ingress and packet-socket programs run in a small classic
 * BPF interpreter (the opcodes the builders emit, with the kernel's rule that
 * a load past the end returns 0) over crafted Ethernet frames — a table of
 * cases, the maxima (every range edge), and a seeded property loop against
 * a plain C model of what each program must say — and are checked by the
 * kernel's own validator through SO_ATTACH_FILTER on an unprivileged UDP
 * socket.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "gw/bpf.h"
#include "nat/pkt/be.h"
#include "tests/unit/util_rng.h"

/* Returns the program's verdict; fails the test on an opcode it does not know. */
static uint32_t run(const struct sock_filter *p, int n, const uint8_t *pkt, size_t len)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 };
	int pc = 0;

	while (pc < n) {
		const struct sock_filter *f = &p[pc++];
		uint32_t at;

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (f->k + 4 > len)
				return 0;
			A = be32_get(pkt + f->k);
			break;
		case BPF_LD | BPF_H | BPF_ABS:
			if (f->k + 2 > len)
				return 0;
			A = be16_get(pkt + f->k);
			break;
		case BPF_LD | BPF_B | BPF_ABS:
			if (f->k + 1 > len)
				return 0;
			A = pkt[f->k];
			break;
		case BPF_LD | BPF_H | BPF_IND:
			at = X + f->k;
			if (at + 2 > len)
				return 0;
			A = be16_get(pkt + at);
			break;
		case BPF_LDX | BPF_B | BPF_MSH:
			if (f->k + 1 > len)
				return 0;
			X = 4u * (pkt[f->k] & 0xf);
			break;
		case BPF_LD | BPF_MEM:
			A = M[f->k];
			break;
		case BPF_ST:
			M[f->k] = A;
			break;
		case BPF_MISC | BPF_TAX:
			X = A;
			break;
		case BPF_ALU | BPF_LSH | BPF_K:
			A <<= f->k;
			break;
		case BPF_ALU | BPF_ADD | BPF_X:
			A += X;
			break;
		case BPF_JMP | BPF_JA:
			pc += (int)f->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += A == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += A > f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += A >= f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (A & f->k) ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			fail_msg("opcode 0x%x at %d", f->code, pc - 1);
		}
	}
	fail_msg("ran off the end");
	return 0;
}

#define NAT 0xc0000201u   /* 192.0.2.1 */
#define NAT2 0xc6336401u  /* 198.51.100.1 */
#define OTHER 0xc0000209u /* 192.0.2.9 */
#define FOREIGN 0xc6336432u /* 198.51.100.50, not the host's */
#define FRANGE 0xcb00710au /* 203.0.113.10-203.0.113.20, not the host's */
#define TUNNEL 0x0a080001u /* 10.8.0.1, gw's tunnel Address */

struct frame {
	uint16_t ethertype;
	uint32_t dst;
	uint8_t proto;
	uint16_t dport;
	uint16_t frag;	 /* flags + offset field; ARP: the operation */
	unsigned opts;	 /* bytes of IP options (multiple of 4) */
	size_t trunc;	 /* cut the frame to this length when nonzero */
};

static size_t build(const struct frame *f, uint8_t *b)
{
	size_t ihl = 20 + f->opts, len;

	memset(b, 0, 128);
	memset(b, 0xaa, 12);
	be16_put(b + 12, f->ethertype ? f->ethertype : 0x0800);
	b[14] = (uint8_t)(0x40 | ihl / 4);
	be16_put(b + 16, (uint16_t)(ihl + 8));
	be16_put(b + 20, f->frag);
	b[22] = 64;
	b[23] = f->proto;
	be32_put(b + 26, 0xc0000202u);
	be32_put(b + 30, f->dst);
	memset(b + 34, 0x01, f->opts); /* NOPs */
	be16_put(b + 14 + ihl, 0x1234);		/* sport */
	be16_put(b + 14 + ihl + 2, f->dport);	/* dport */
	len = 14 + ihl + 8;
	if (f->ethertype == 0x0806) {
		be32_put(b + 14 + 24, f->dst); /* ARP target protocol address */
		len = 14 + 28;
	}
	return f->trunc ? f->trunc : len;
}

static struct bpf_nat_spec spec(void)
{
	struct bpf_nat_spec s = {
		.addr = { NAT, NAT2 }, .naddr = 2, .lo = 61000, .hi = 61999,
		.tcp = { { 8080, 8080 }, { 9000, 9010 } }, .ntcp = 2,
		.udp = { { 5353, 5353 }, { 61990, 62010 } }, .nudp = 2,
		.foreign = { { FOREIGN, FOREIGN }, { FRANGE, FRANGE + 10 } }, .nforeign = 2,
		.tunnel = { TUNNEL, TUNNEL + 0x100 }, .ntunnel = 2,
	};
	return s;
}

/* Frames and what each program says: tc 2/-1, socket keep/drop. */
static const struct {
	struct frame f;
	int tc;	 /* 1: shot */
	int sk;	 /* 1: kept */
	const char *what;
} cases[] = {
	{ { 0, NAT, IPPROTO_TCP, 61000, 0, 0, 0 }, 1, 1, "tcp lo" },
	{ { 0, NAT, IPPROTO_TCP, 61999, 0, 0, 0 }, 1, 1, "tcp hi" },
	{ { 0, NAT, IPPROTO_UDP, 61500, 0x4000, 0, 0 }, 1, 1, "udp DF" },
	{ { 0, NAT2, IPPROTO_UDP, 61500, 0, 0, 0 }, 1, 1, "second address" },
	{ { 0, NAT, IPPROTO_TCP, 60999, 0, 0, 0 }, 0, 0, "tcp below" },
	{ { 0, NAT, IPPROTO_TCP, 62000, 0, 0, 0 }, 0, 0, "tcp above" },
	{ { 0, NAT, IPPROTO_UDP, 62010, 0, 0, 0 }, 1, 1, "udp dnat range merged with NatPorts" },
	{ { 0, NAT, IPPROTO_UDP, 62011, 0, 0, 0 }, 0, 0, "udp above that" },
	{ { 0, NAT, IPPROTO_TCP, 22, 0, 0, 0 }, 0, 0, "host ssh" },
	{ { 0, OTHER, IPPROTO_TCP, 61000, 0, 0, 0 }, 0, 0, "other address" },
	{ { 0, NAT, IPPROTO_TCP, 8080, 0, 0, 0 }, 1, 1, "dnat tcp" },
	{ { 0, NAT, IPPROTO_TCP, 9005, 0, 0, 0 }, 1, 1, "dnat tcp range" },
	{ { 0, NAT, IPPROTO_TCP, 9011, 0, 0, 0 }, 0, 0, "above the dnat tcp range" },
	{ { 0, NAT, IPPROTO_UDP, 8080, 0, 0, 0 }, 0, 0, "dnat port, wrong proto" },
	{ { 0, NAT, IPPROTO_UDP, 5353, 0, 0, 0 }, 1, 1, "dnat udp" },
	{ { 0, NAT, IPPROTO_TCP, 5353, 0, 0, 0 }, 0, 0, "dnat udp port, tcp" },
	{ { 0, NAT, IPPROTO_TCP, 61000, 0, 8, 0 }, 1, 1, "ip options" },
	{ { 0, NAT, IPPROTO_TCP, 22, 0, 40, 0 }, 0, 0, "ip options, host port" },
	{ { 0, NAT, IPPROTO_UDP, 61000, 0x2000, 0, 0 }, 1, 1, "first fragment" },
	{ { 0, NAT, IPPROTO_UDP, 61000, 0x2010, 0, 0 }, 0, 1, "middle fragment" },
	{ { 0, NAT, IPPROTO_UDP, 22, 0x0010, 0, 0 }, 0, 1, "last fragment" },
	{ { 0, OTHER, IPPROTO_UDP, 61000, 0x0010, 0, 0 }, 0, 0, "fragment, other address" },
	{ { 0, NAT, IPPROTO_ICMP, 0, 0, 0, 0 }, 0, 1, "icmp" },
	{ { 0, NAT, IPPROTO_GRE, 61000, 0, 0, 0 }, 0, 0, "gre" },
	{ { 0x86dd, NAT, IPPROTO_TCP, 61000, 0, 0, 0 }, 0, 0, "ipv6 ethertype" },
	{ { 0x8100, NAT, IPPROTO_TCP, 61000, 0, 0, 0 }, 0, 0, "vlan tag" },
	/* foreign addresses: everything IPv4 to them, never the tc filter */
	{ { 0, FOREIGN, IPPROTO_TCP, 22, 0, 0, 0 }, 0, 1, "foreign tcp, any port" },
	{ { 0, FOREIGN, IPPROTO_UDP, 61000, 0, 0, 0 }, 0, 1, "foreign udp" },
	{ { 0, FOREIGN, IPPROTO_GRE, 0, 0, 0, 0 }, 0, 1, "foreign gre" },
	{ { 0, FOREIGN, IPPROTO_ICMP, 0, 0x0010, 0, 0 }, 0, 1, "foreign fragment" },
	{ { 0, FRANGE, IPPROTO_TCP, 80, 0, 0, 0 }, 0, 1, "foreign range lo" },
	{ { 0, FRANGE + 10, IPPROTO_TCP, 80, 0, 0, 0 }, 0, 1, "foreign range hi" },
	{ { 0, FRANGE + 11, IPPROTO_TCP, 80, 0, 0, 0 }, 0, 0, "above the foreign range" },
	{ { 0, FRANGE - 1, IPPROTO_TCP, 80, 0, 0, 0 }, 0, 0, "below the foreign range" },
	{ { 0, FOREIGN + 1, IPPROTO_TCP, 80, 0, 0, 0 }, 0, 0, "next to the foreign address" },
	/* gw's tunnel Addresses: all IPv4, hidden from the kernel too */
	{ { 0, TUNNEL, IPPROTO_TCP, 53, 0, 0, 0 }, 1, 1, "tunnel address tcp" },
	{ { 0, TUNNEL + 0x100, IPPROTO_UDP, 53, 0, 0, 0 }, 1, 1, "second tunnel address udp" },
	{ { 0, TUNNEL, IPPROTO_ICMP, 0, 0, 0, 0 }, 1, 1, "tunnel address icmp" },
	{ { 0, TUNNEL, IPPROTO_GRE, 0, 0x0010, 0, 0 }, 1, 1, "tunnel address fragment" },
	{ { 0, TUNNEL + 1, IPPROTO_TCP, 53, 0, 0, 0 }, 0, 0, "next to the tunnel address" },
	{ { 0x0806, TUNNEL, 0, 0, 1, 0, 0 }, 0, 0, "arp request for the tunnel address" },
	/* ARP: requests for foreign addresses only (the kernel answers for its own) */
	{ { 0x0806, FOREIGN, 0, 0, 1, 0, 0 }, 0, 1, "arp request for foreign" },
	{ { 0x0806, FRANGE + 5, 0, 0, 1, 0, 0 }, 0, 1, "arp request in the foreign range" },
	{ { 0x0806, FOREIGN, 0, 0, 2, 0, 0 }, 0, 0, "arp reply for foreign" },
	{ { 0x0806, NAT, 0, 0, 1, 0, 0 }, 0, 0, "arp request for a host address" },
	{ { 0x0806, OTHER, 0, 0, 1, 0, 0 }, 0, 0, "arp request for other" },
	{ { 0x0806, FOREIGN, 0, 0, 1, 0, 30 }, 0, 0, "arp truncated" },
	{ { 0, NAT, IPPROTO_TCP, 61000, 0, 0, 36 }, 0, 0, "truncated before port" },
	{ { 0, NAT, IPPROTO_TCP, 61000, 0, 0, 20 }, 0, 0, "truncated before dst" },
};

static void test_cases(void **state)
{
	struct bpf_nat_spec s = spec();
	struct sock_filter tc[BPF_PROG_MAX], sk[BPF_PROG_MAX];
	int ntc, nsk;
	size_t i;

	(void)state;
	ntc = bpf_build_tc(&s, tc, BPF_PROG_MAX);
	nsk = bpf_build_sk(&s, sk, BPF_PROG_MAX);
	assert_true(ntc > 0);
	assert_true(nsk > 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[128];
		size_t len = build(&cases[i].f, b);
		uint32_t vtc = run(tc, ntc, b, len), vsk = run(sk, nsk, b, len);
		/* a truncated frame makes classic BPF return 0: TC_ACT_OK, passes */
		int shot = vtc == (uint32_t)BPF_TC_SHOT;

		if (!shot && vtc != (uint32_t)BPF_TC_UNSPEC && !(cases[i].f.trunc && vtc == 0))
			fail_msg("%s: tc returned %u", cases[i].what, vtc);
		if (shot != cases[i].tc)
			fail_msg("%s: tc %s", cases[i].what, shot ? "shot" : "passed");
		if ((vsk != 0) != cases[i].sk)
			fail_msg("%s: socket filter %u", cases[i].what, vsk);
		if (vsk)
			assert_int_equal(vsk, BPF_SK_ACCEPT);
	}
}

/* No range, one address, no foreign one: no ARP at all. */
static void test_variants(void **state)
{
	struct bpf_nat_spec s = { .addr = { NAT }, .naddr = 1, .lo = 1, .hi = 0,
				  .tcp = { { 80, 80 } }, .ntcp = 1 };
	struct sock_filter p[BPF_PROG_MAX];
	struct frame arp = { 0x0806, NAT, 0, 0, 1, 0, 0 };
	struct frame f80 = { 0, NAT, IPPROTO_TCP, 80, 0, 0, 0 };
	struct frame f61 = { 0, NAT, IPPROTO_TCP, 61000, 0, 0, 0 };
	uint8_t b[128];
	size_t len;
	int n;

	(void)state;
	n = bpf_build_sk(&s, p, BPF_PROG_MAX);
	assert_true(n > 0);
	len = build(&arp, b);
	assert_int_equal(run(p, n, b, len), 0);
	len = build(&f80, b);
	assert_int_equal(run(p, n, b, len), BPF_SK_ACCEPT);
	len = build(&f61, b);
	assert_int_equal(run(p, n, b, len), 0);
	n = bpf_build_tc(&s, p, BPF_PROG_MAX);
	assert_true(n > 0);
	len = build(&f61, b);
	assert_int_equal(run(p, n, b, len), (uint32_t)BPF_TC_UNSPEC);
	len = build(&f80, b);
	assert_int_equal(run(p, n, b, len), BPF_TC_SHOT);

	/* only foreign addresses: a socket filter, no tc program */
	s = (struct bpf_nat_spec){ .lo = 1, .hi = 0, .foreign = { { FOREIGN, FOREIGN } },
				   .nforeign = 1 };
	assert_int_equal(bpf_build_tc(&s, p, BPF_PROG_MAX), -EINVAL);
	n = bpf_build_sk(&s, p, BPF_PROG_MAX);
	assert_true(n > 0);
	arp.dst = FOREIGN;
	len = build(&arp, b);
	assert_int_equal(run(p, n, b, len), BPF_SK_ACCEPT);
	len = build(&f80, b);
	assert_int_equal(run(p, n, b, len), 0);

	/* only a tunnel Address (the uplink has none yet): both programs */
	s = (struct bpf_nat_spec){ .lo = 1, .hi = 0, .tunnel = { TUNNEL }, .ntunnel = 1 };
	assert_true(bpf_tc_needed(&s));
	f80.dst = TUNNEL;
	len = build(&f80, b);
	n = bpf_build_tc(&s, p, BPF_PROG_MAX);
	assert_true(n > 0);
	assert_int_equal(run(p, n, b, len), BPF_TC_SHOT);
	n = bpf_build_sk(&s, p, BPF_PROG_MAX);
	assert_true(n > 0);
	assert_int_equal(run(p, n, b, len), BPF_SK_ACCEPT);
	s.ntunnel = 0;
	assert_false(bpf_tc_needed(&s));
}

static void test_limits(void **state)
{
	struct bpf_nat_spec s = spec();
	struct sock_filter p[BPF_PROG_MAX];

	(void)state;
	s.naddr = 0;
	s.nforeign = 0;
	s.ntunnel = 0;
	/* no address at all: a socket filter that keeps nothing, no tc program */
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), 1);
	assert_int_equal(run(p, 1, (const uint8_t *)"", 0), 0);
	assert_int_equal(bpf_build_tc(&s, p, BPF_PROG_MAX), -EINVAL);
	s = spec();
	s.naddr = BPF_NAT_MAX_ADDR + 1;
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), -EINVAL);
	s = spec();
	s.ntcp = BPF_NAT_MAX_PORTS + 1;
	assert_int_equal(bpf_build_tc(&s, p, BPF_PROG_MAX), -EINVAL);
	s = spec();
	s.nforeign = BPF_NAT_MAX_FOREIGN + 1;
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), -EINVAL);
	s = spec();
	s.udp[0] = (struct bpf_port_range){ 10, 9 };
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), -EINVAL);
	s = spec();
	s.foreign[1] = (struct bpf_addr_range){ FRANGE, FRANGE - 1 };
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), -EINVAL);
	s = spec();
	assert_int_equal(bpf_build_sk(&s, p, 10), -E2BIG);
}

/* Everything at its maximum, no two ranges merging: every edge of every
 * range is right in both programs, and the kernel takes them. */
static struct bpf_nat_spec spec_max(void)
{
	struct bpf_nat_spec s = { .lo = 61000, .hi = 61999 };
	unsigned i;

	s.naddr = BPF_NAT_MAX_ADDR;
	for (i = 0; i < BPF_NAT_MAX_ADDR; i++)
		s.addr[i] = NAT + 2 * i;
	s.ntcp = s.nudp = BPF_NAT_MAX_PORTS;
	for (i = 0; i < BPF_NAT_MAX_PORTS; i++) {
		s.tcp[i] = (struct bpf_port_range){ (uint16_t)(1000 + 10 * i),
						     (uint16_t)(1000 + 10 * i + (i % 3)) };
		s.udp[i] = (struct bpf_port_range){ (uint16_t)(2000 + 7 * i), (uint16_t)(2000 + 7 * i) };
	}
	s.nforeign = BPF_NAT_MAX_FOREIGN;
	for (i = 0; i < BPF_NAT_MAX_FOREIGN; i++)
		s.foreign[i] = (struct bpf_addr_range){ FRANGE + 100 * i, FRANGE + 100 * i + (i % 2) * 5 };
	s.ntunnel = BPF_NAT_MAX_TUNNEL;
	for (i = 0; i < BPF_NAT_MAX_TUNNEL; i++)
		s.tunnel[i] = TUNNEL + 0x100 * i;
	return s;
}

static int in_ports(const struct bpf_port_range *r, unsigned n, uint16_t port)
{
	for (unsigned i = 0; i < n; i++)
		if (port >= r[i].lo && port <= r[i].hi)
			return 1;
	return 0;
}

static int in_foreign(const struct bpf_nat_spec *s, uint32_t a)
{
	for (unsigned i = 0; i < s->nforeign; i++)
		if (a >= s->foreign[i].lo && a <= s->foreign[i].hi)
			return 1;
	return 0;
}

static int tunnel(const struct bpf_nat_spec *s, uint32_t a)
{
	for (unsigned i = 0; i < s->ntunnel; i++)
		if (s->tunnel[i] == a)
			return 1;
	return 0;
}

static int own(const struct bpf_nat_spec *s, uint32_t a)
{
	for (unsigned i = 0; i < s->naddr; i++)
		if (s->addr[i] == a)
			return 1;
	return 0;
}

/* The model: is the frame f (untruncated, no VLAN) shot by tc / kept? */
static void model(const struct bpf_nat_spec *s, const struct frame *f, int *tc, int *sk)
{
	uint16_t et = f->ethertype ? f->ethertype : 0x0800;
	int l4 = f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP;
	int port = (f->proto == IPPROTO_TCP && in_ports(s->tcp, s->ntcp, f->dport)) ||
		   (f->proto == IPPROTO_UDP && in_ports(s->udp, s->nudp, f->dport)) ||
		   (l4 && s->lo <= s->hi && f->dport >= s->lo && f->dport <= s->hi);

	*tc = *sk = 0;
	if (et == 0x0806) {
		*sk = f->frag == 1 && in_foreign(s, f->dst);
		return;
	}
	if (et != 0x0800)
		return;
	if (tunnel(s, f->dst)) {
		*tc = *sk = 1;
		return;
	}
	if (own(s, f->dst)) {
		*tc = l4 && !(f->frag & 0x1fff) && port;
		*sk = (f->frag & 0x1fff) || f->proto == IPPROTO_ICMP || (l4 && port);
		return;
	}
	*sk = in_foreign(s, f->dst);
}

static void check(const struct bpf_nat_spec *s, const struct sock_filter *tc, int ntc,
		  const struct sock_filter *sk, int nsk, const struct frame *f)
{
	uint8_t b[128];
	size_t len = build(f, b);
	int wtc, wsk;
	uint32_t vtc = run(tc, ntc, b, len), vsk = run(sk, nsk, b, len);

	model(s, f, &wtc, &wsk);
	if ((vtc == (uint32_t)BPF_TC_SHOT) != wtc ||
	    (vtc != (uint32_t)BPF_TC_SHOT && vtc != (uint32_t)BPF_TC_UNSPEC) ||
	    (vsk != 0) != wsk || (vsk && vsk != BPF_SK_ACCEPT))
		fail_msg("ethertype %#x dst %#x proto %u dport %u frag %#x: tc %d sk %u, want "
			 "shot %d kept %d", f->ethertype, f->dst, f->proto, f->dport, f->frag,
			 (int)vtc, vsk, wtc, wsk);
}

static void test_maxima(void **state)
{
	struct bpf_nat_spec s = spec_max();
	struct sock_filter tc[BPF_PROG_MAX], sk[BPF_PROG_MAX];
	int ntc = bpf_build_tc(&s, tc, BPF_PROG_MAX), nsk = bpf_build_sk(&s, sk, BPF_PROG_MAX);
	unsigned i, k;

	(void)state;
	assert_true(ntc > 0);
	assert_true(nsk > 0);
	for (i = 0; i < BPF_NAT_MAX_PORTS; i++) {
		for (k = 0; k < 4; k++) {
			const struct bpf_port_range *r = k < 2 ? &s.tcp[i] : &s.udp[i];
			uint8_t proto = k < 2 ? IPPROTO_TCP : IPPROTO_UDP;
			uint16_t edge[] = { (uint16_t)(r->lo - 1), r->lo, r->hi, (uint16_t)(r->hi + 1) };

			for (unsigned e = 0; e < 4; e++) {
				struct frame f = { 0, s.addr[(i + k) % BPF_NAT_MAX_ADDR], proto,
						   edge[e], 0, 0, 0 };

				check(&s, tc, ntc, sk, nsk, &f);
			}
		}
	}
	for (i = 0; i < BPF_NAT_MAX_FOREIGN; i++) {
		uint32_t edge[] = { s.foreign[i].lo - 1, s.foreign[i].lo, s.foreign[i].hi,
				    s.foreign[i].hi + 1 };

		for (k = 0; k < 4; k++) {
			struct frame ip = { 0, edge[k], IPPROTO_UDP, 9, 0, 0, 0 };
			struct frame arp = { 0x0806, edge[k], 0, 0, 1, 0, 0 };

			check(&s, tc, ntc, sk, nsk, &ip);
			check(&s, tc, ntc, sk, nsk, &arp);
		}
	}
	for (i = 0; i < BPF_NAT_MAX_TUNNEL; i++) {
		struct frame t = { 0, s.tunnel[i], IPPROTO_ICMP, 0, 0, 0, 0 };
		struct frame n = { 0, s.tunnel[i] + 1, IPPROTO_TCP, 61000, 0, 0, 0 };

		check(&s, tc, ntc, sk, nsk, &t);
		check(&s, tc, ntc, sk, nsk, &n);
	}
	for (i = 0; i < BPF_NAT_MAX_ADDR; i++) {
		struct frame f = { 0, s.addr[i] + 1, IPPROTO_TCP, 61000, 0, 0, 0 };
		struct frame g = { 0, s.addr[i], IPPROTO_TCP, 61999, 0, 0, 0 };

		check(&s, tc, ntc, sk, nsk, &f);
		check(&s, tc, ntc, sk, nsk, &g);
	}
}

/* Random specs and frames against the model. */
static void test_property(void **state)
{
	struct rng g = { test_seed() };

	(void)state;
	for (unsigned iter = 0; iter < 2000; iter++) {
		struct bpf_nat_spec s = { 0 };
		struct sock_filter tc[BPF_PROG_MAX], sk[BPF_PROG_MAX];
		int ntc, nsk;
		unsigned i;

		s.naddr = 1 + rnd(&g, BPF_NAT_MAX_ADDR);
		for (i = 0; i < s.naddr; i++)
			s.addr[i] = NAT + rnd(&g, 16);
		s.lo = (uint16_t)rnd_in(&g, 0, 300);
		s.hi = (uint16_t)(s.lo + rnd(&g, 40) - 10);
		s.ntcp = rnd(&g, BPF_NAT_MAX_PORTS + 1);
		s.nudp = rnd(&g, BPF_NAT_MAX_PORTS + 1);
		for (i = 0; i < BPF_NAT_MAX_PORTS; i++) {
			uint16_t a = (uint16_t)rnd_in(&g, 0, 300), b = (uint16_t)rnd_in(&g, 0, 300);

			s.tcp[i] = (struct bpf_port_range){ a < b ? a : b, a < b ? b : a };
			a = (uint16_t)rnd_in(&g, 0, 300);
			s.udp[i] = (struct bpf_port_range){ a, (uint16_t)(a + rnd(&g, 3)) };
		}
		s.nforeign = rnd(&g, BPF_NAT_MAX_FOREIGN + 1);
		for (i = 0; i < s.nforeign; i++) {
			uint32_t a = NAT + rnd(&g, 32);

			s.foreign[i] = (struct bpf_addr_range){ a, a + rnd(&g, 4) };
		}
		s.ntunnel = rnd(&g, BPF_NAT_MAX_TUNNEL + 1);
		for (i = 0; i < s.ntunnel; i++)
			s.tunnel[i] = NAT + rnd(&g, 40);
		ntc = bpf_build_tc(&s, tc, BPF_PROG_MAX);
		nsk = bpf_build_sk(&s, sk, BPF_PROG_MAX);
		if (ntc <= 0 || nsk <= 0)
			fail_msg("iteration %u: build %d %d", iter, ntc, nsk);
		for (unsigned k = 0; k < 64; k++) {
			static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
							  IPPROTO_GRE };
			static const uint16_t types[] = { 0, 0, 0, 0x0806, 0x86dd };
			struct frame f = {
				.ethertype = types[rnd(&g, 5)], .dst = NAT + rnd(&g, 40),
				.proto = protos[rnd(&g, 4)], .dport = (uint16_t)rnd_in(&g, 0, 310),
				.frag = rnd(&g, 4) ? 0 : (uint16_t)rnd(&g, 0x4000),
				.opts = 4 * rnd(&g, 3),
			};

			if (f.ethertype == 0x0806)
				f.frag = (uint16_t)rnd_in(&g, 1, 2);
			check(&s, tc, ntc, sk, nsk, &f);
		}
	}
}

/* The kernel's validator accepts both (no privilege needed to attach a
 * filter to one's own socket). */
static void test_kernel_accepts(void **state)
{
	struct bpf_nat_spec s = spec();
	struct sock_filter p[BPF_PROG_MAX];
	int n, fd, k;

	(void)state;
	for (k = 0; k < 4; k++) {
		struct sock_fprog fp;

		if (k == 2)
			s = spec_max();
		n = k % 2 ? bpf_build_sk(&s, p, BPF_PROG_MAX) : bpf_build_tc(&s, p, BPF_PROG_MAX);
		assert_true(n > 0);
		fp = (struct sock_fprog){ .len = (unsigned short)n, .filter = p };
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			skip();
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)), 0);
		close(fd);
	}
}

static void test_format(void **state)
{
	struct sock_filter p[2] = { BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
				    BPF_STMT(BPF_RET | BPF_K, 0xffffffff) };
	char out[64];

	(void)state;
	assert_int_equal(bpf_format(p, 2, out, sizeof(out)), 0);
	assert_string_equal(out, "2,40 0 0 12,6 0 0 4294967295");
	assert_int_equal(bpf_format(p, 2, out, 8), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_maxima),
		cmocka_unit_test(test_property),
		cmocka_unit_test(test_kernel_accepts),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
