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
#include <arpa/inet.h>
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
		case BPF_LD | BPF_B | BPF_IND:
			at = X + f->k;
			if (at + 1 > len)
				return 0;
			A = pkt[at];
			break;
		case BPF_LDX | BPF_W | BPF_IMM:
			X = f->k;
			break;
		case BPF_MISC | BPF_TXA:
			A = X;
			break;
		case BPF_ALU | BPF_ADD | BPF_K:
			A += f->k;
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


/* ---- IPv6 ----------------------------------------------------------------- */

#define NAT6 "2001:db8::1"
#define NAT6B "2001:db8:1::1"
#define OTHER6 "2001:db8::9"
#define FOREIGN6 "2001:db8:f::50"
#define FRANGE6 "2001:db8:f::1:100" /* to 2001:db8:f::1:110 */
#define TUNNEL6 "fd00:8::1"

static union nf_addr a6(const char *t)
{
	union nf_addr a;

	assert_int_equal(inet_pton(AF_INET6, t, a.b), 1);
	return a;
}

static union nf_addr a6_plus(const char *t, uint32_t k)
{
	union nf_addr a = a6(t);

	be32_put(a.b + 12, be32_get(a.b + 12) + k);
	return a;
}

struct frame6 {
	const char *dst;
	uint8_t ext[4];		/* extension headers in order (0, 43, 60, 44, 50, ...) */
	unsigned next;		/* how many */
	uint16_t frag;		/* the fragment header's offset field */
	uint8_t proto;		/* the upper layer */
	uint16_t port;		/* TCP/UDP destination port; ICMPv6: the type */
	uint8_t qproto;		/* an ICMPv6 error's quoted next header */
	uint16_t qport;		/* and source port */
	const char *target;	/* a Neighbor Solicitation's target */
	size_t trunc;
	union nf_addr dst_a, target_a; /* used when dst / target are NULL */
};

static size_t build6(const struct frame6 *f, uint8_t *b)
{
	union nf_addr dst = f->dst ? a6(f->dst) : f->dst_a;
	uint8_t *nh = b + 20;
	size_t off = 54, len;

	memset(b, 0, 256);
	memset(b, 0xaa, 12);
	be16_put(b + 12, 0x86dd);
	b[14] = 0x60;
	b[21] = 64;
	memcpy(b + 22, a6("2001:db8::2").b, 16);
	memcpy(b + 38, dst.b, 16);
	for (unsigned i = 0; i < f->next; i++) {
		uint8_t *h = b + off;

		*nh = f->ext[i];
		nh = h;
		if (f->ext[i] == IPPROTO_FRAGMENT) {
			be16_put(h + 2, f->frag);
			be32_put(h + 4, 77);
			off += 8;
		} else if (f->ext[i] == IPPROTO_HOPOPTS || f->ext[i] == IPPROTO_ROUTING ||
			   f->ext[i] == IPPROTO_DSTOPTS) {
			h[1] = (uint8_t)(i % 2); /* 8 or 16 bytes */
			off += (h[1] + 1u) * 8;
		} else {
			off += 8;
		}
	}
	*nh = f->proto;
	if (f->proto == IPPROTO_ICMPV6) {
		b[off] = (uint8_t)f->port;
		len = off + 24;
		if (f->port == 135)
			memcpy(b + off + 8, (f->target ? a6(f->target) : f->target_a).b, 16);
		if (f->port < 128) {
			uint8_t *q = b + off + 8;

			q[0] = 0x60;
			q[6] = f->qproto;
			memcpy(q + 8, dst.b, 16);
			memcpy(q + 24, a6("2001:db8::2").b, 16);
			be16_put(q + 40, f->qport);
			be16_put(q + 42, 443);
			len = off + 8 + 40 + 8;
		}
	} else {
		be16_put(b + off, 0x1234);
		be16_put(b + off + 2, f->port);
		len = off + 20;
	}
	be16_put(b + 18, (uint16_t)(len - 54));
	return f->trunc ? f->trunc : len;
}

static void add_v6(struct bpf_nat_spec *s)
{
	s->addr6[0] = a6(NAT6);
	s->addr6[1] = a6(NAT6B);
	s->naddr6 = 2;
	s->foreign6[0] = (struct bpf_addr6_range){ a6(FOREIGN6), a6(FOREIGN6) };
	s->foreign6[1] = (struct bpf_addr6_range){ a6(FRANGE6), a6_plus(FRANGE6, 0x10) };
	s->nforeign6 = 2;
	s->tunnel6[0] = a6(TUNNEL6);
	s->ntunnel6 = 1;
}

enum { HOP = IPPROTO_HOPOPTS, RT = IPPROTO_ROUTING, DST = IPPROTO_DSTOPTS, FRAG = IPPROTO_FRAGMENT,
       TCP = IPPROTO_TCP, UDP = IPPROTO_UDP, ICMP6 = IPPROTO_ICMPV6 };

/* positional: the fields a case needs, the rest zero */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct {
	struct frame6 f;
	int tc, sk;
	const char *what;
} cases6[] = {
	{ { NAT6, { 0 }, 0, 0, TCP, 61000 }, 1, 1, "tcp6 NatPort lo" },
	{ { NAT6, { 0 }, 0, 0, UDP, 61999 }, 1, 1, "udp6 NatPort hi" },
	{ { NAT6B, { 0 }, 0, 0, UDP, 61500 }, 1, 1, "second IPv6 address" },
	{ { NAT6, { 0 }, 0, 0, TCP, 60999 }, 0, 0, "tcp6 below" },
	{ { NAT6, { 0 }, 0, 0, TCP, 22 }, 0, 0, "tcp6 host ssh" },
	{ { NAT6, { 0 }, 0, 0, TCP, 8080 }, 1, 1, "tcp6 dnat" },
	{ { NAT6, { 0 }, 0, 0, UDP, 8080 }, 0, 0, "udp6 on a tcp dnat port" },
	{ { NAT6, { 0 }, 0, 0, UDP, 62010 }, 1, 1, "udp6 dnat merged with NatPorts" },
	{ { OTHER6, { 0 }, 0, 0, TCP, 61000 }, 0, 0, "other IPv6 address" },
	{ { "2001:db8::1:1", { 0 }, 0, 0, TCP, 61000 }, 0, 0, "differs in the third word" },
	{ { "2001:db9::1", { 0 }, 0, 0, TCP, 61000 }, 0, 0, "differs in the first word" },
	{ { NAT6, { 0 }, 0, 0, 50, 61000 }, 0, 0, "esp" },
	/* Neighbor Discovery and the rest of ICMPv6 for the host's own address */
	{ { NAT6, { 0 }, 0, 0, ICMP6, 135, 0, 0, NAT6 }, 0, 0, "NS for the host's address" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 136 }, 0, 0, "NA to the host's address" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 134 }, 0, 0, "RA to the host's address" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 143 }, 0, 0, "MLDv2 report" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 128 }, 0, 1, "echo request" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 129 }, 0, 1, "echo reply" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 1, UDP, 61500 }, 1, 1, "unreachable quoting a NAT-ed udp flow" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 2, TCP, 61000 }, 1, 1, "packet too big quoting a NAT-ed tcp flow" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 2, TCP, 8080 }, 1, 1, "packet too big quoting a dnat flow" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 2, TCP, 22 }, 0, 1, "packet too big quoting the host's ssh" },
	{ { NAT6, { 0 }, 0, 0, ICMP6, 3, ICMP6, 61000 }, 0, 1, "time exceeded quoting icmpv6" },
	/* extension headers */
	{ { NAT6, { HOP }, 1, 0, TCP, 61000 }, 1, 1, "hop-by-hop, tcp6 NatPort" },
	{ { NAT6, { HOP }, 1, 0, TCP, 22 }, 0, 0, "hop-by-hop, host port" },
	{ { NAT6, { DST, RT }, 2, 0, UDP, 61000 }, 1, 1, "dst options + routing (16 bytes), udp6" },
	{ { NAT6, { HOP, DST, RT }, 3, 0, TCP, 61000 }, 0, 1, "three headers: past the walk" },
	{ { NAT6, { HOP, DST }, 2, 0, ICMP6, 2, UDP, 61000 }, 1, 1, "headers, then an error" },
	{ { NAT6, { HOP }, 1, 0, ICMP6, 135, 0, 0, NAT6 }, 0, 0, "hop-by-hop, NS" },
	/* fragments */
	{ { NAT6, { FRAG }, 1, 0x0001, UDP, 61000 }, 1, 1, "first fragment" },
	{ { NAT6, { FRAG }, 1, 0x0000, TCP, 61000 }, 1, 1, "atomic fragment" },
	{ { NAT6, { FRAG }, 1, 0x0001, UDP, 22 }, 0, 1, "first fragment, host port" },
	{ { NAT6, { FRAG }, 1, 0x0009, UDP, 61000 }, 0, 1, "middle fragment" },
	{ { NAT6, { FRAG }, 1, 0x0010, UDP, 22 }, 0, 1, "last fragment" },
	{ { NAT6, { HOP, FRAG }, 2, 0x0001, TCP, 61000 }, 1, 1, "hop-by-hop, first fragment" },
	{ { NAT6, { HOP, DST, FRAG }, 3, 0x0001, TCP, 61000 }, 1, 1, "two headers, first fragment" },
	{ { NAT6, { FRAG, DST }, 2, 0x0001, UDP, 61000 }, 0, 1, "first fragment, then dst options" },
	{ { OTHER6, { FRAG }, 1, 0x0010, UDP, 61000 }, 0, 0, "fragment, other address" },
	/* foreign addresses: all of it kept, none shot; their NS kept */
	{ { FOREIGN6, { 0 }, 0, 0, TCP, 22 }, 0, 1, "foreign6 tcp, any port" },
	{ { FOREIGN6, { 0 }, 0, 0, ICMP6, 135, 0, 0, FOREIGN6 }, 0, 1, "foreign6 unicast NS" },
	{ { FRANGE6, { 0 }, 0, 0, UDP, 9 }, 0, 1, "foreign6 range lo" },
	{ { "2001:db8:f::1:110", { 0 }, 0, 0, UDP, 9 }, 0, 1, "foreign6 range hi" },
	{ { "2001:db8:f::1:111", { 0 }, 0, 0, UDP, 9 }, 0, 0, "above the foreign6 range" },
	{ { "2001:db8:f::1:ff", { 0 }, 0, 0, UDP, 9 }, 0, 0, "below the foreign6 range" },
	{ { "ff02::1:ff00:50", { 0 }, 0, 0, ICMP6, 135, 0, 0, FOREIGN6 }, 0, 1, "multicast NS for foreign6" },
	{ { "ff02::1:ff01:105", { 0 }, 0, 0, ICMP6, 135, 0, 0, "2001:db8:f::1:105" }, 0, 1,
	  "multicast NS in the foreign6 range" },
	{ { "ff02::1:ff00:1", { 0 }, 0, 0, ICMP6, 135, 0, 0, NAT6 }, 0, 0, "multicast NS for the host's" },
	{ { "ff02::1:ff00:9", { 0 }, 0, 0, ICMP6, 135, 0, 0, OTHER6 }, 0, 0, "multicast NS for another" },
	{ { "ff02::1:ff00:50", { 0 }, 0, 0, ICMP6, 136, 0, 0, FOREIGN6 }, 0, 0, "NA, not NS" },
	{ { "ff02::1", { 0 }, 0, 0, ICMP6, 134 }, 0, 0, "RA to all nodes" },
	/* tunnel Addresses: all of it */
	{ { TUNNEL6, { 0 }, 0, 0, TCP, 53 }, 1, 1, "tunnel6 tcp" },
	{ { TUNNEL6, { 0 }, 0, 0, ICMP6, 128 }, 1, 1, "tunnel6 echo" },
	{ { "fd00:8::2", { 0 }, 0, 0, TCP, 53 }, 0, 0, "next to the tunnel6 address" },
	/* cut short: classic BPF returns 0 (tc: TC_ACT_OK, passes) */
	{ { NAT6, { 0 }, 0, 0, TCP, 61000, 0, 0, NULL, 56 }, 0, 0, "truncated before the port" },
	{ { NAT6, { 0 }, 0, 0, TCP, 61000, 0, 0, NULL, 40 }, 0, 0, "truncated in the address" },
};
#pragma GCC diagnostic pop

static void verdicts(const struct sock_filter *tc, int ntc, const struct sock_filter *sk, int nsk,
		     const uint8_t *b, size_t len, bool trunc, int *shot, int *kept, const char *what)
{
	uint32_t vtc = run(tc, ntc, b, len), vsk = run(sk, nsk, b, len);

	*shot = vtc == (uint32_t)BPF_TC_SHOT;
	if (!*shot && vtc != (uint32_t)BPF_TC_UNSPEC && !(trunc && vtc == 0))
		fail_msg("%s: tc returned %u", what, vtc);
	if (vsk && vsk != BPF_SK_ACCEPT)
		fail_msg("%s: socket filter returned %u", what, vsk);
	*kept = vsk != 0;
}

static void test_cases6(void **state)
{
	struct bpf_nat_spec s = spec();
	struct sock_filter tc[BPF_PROG_MAX], sk[BPF_PROG_MAX];
	int ntc, nsk, shot, kept;

	(void)state;
	add_v6(&s);
	ntc = bpf_build_tc(&s, tc, BPF_PROG_MAX);
	nsk = bpf_build_sk(&s, sk, BPF_PROG_MAX);
	assert_true(ntc > 0);
	assert_true(nsk > 0);
	for (size_t i = 0; i < sizeof(cases6) / sizeof(cases6[0]); i++) {
		uint8_t b[256];
		size_t len = build6(&cases6[i].f, b);

		verdicts(tc, ntc, sk, nsk, b, len, cases6[i].f.trunc, &shot, &kept, cases6[i].what);
		if (shot != cases6[i].tc)
			fail_msg("%s: tc %s", cases6[i].what, shot ? "shot" : "passed");
		if (kept != cases6[i].sk)
			fail_msg("%s: socket filter %s", cases6[i].what, kept ? "kept" : "dropped");
	}
	/* the IPv4 cases say the same with IPv6 in the spec */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[128];
		size_t len = build(&cases[i].f, b);

		verdicts(tc, ntc, sk, nsk, b, len, cases[i].f.trunc, &shot, &kept, cases[i].what);
		if (shot != cases[i].tc || kept != cases[i].sk)
			fail_msg("%s, IPv6 in the spec: tc %d sk %d", cases[i].what, shot, kept);
	}
}

/* Without IPv6 entries the programs are the IPv4 ones as they were before
 * IPv6 (instruction counts of that build); an IPv6-only spec works alone. */
static void test_v6_shapes(void **state)
{
	struct bpf_nat_spec s = spec();
	struct sock_filter p[BPF_PROG_MAX];
	struct frame6 f = { .dst = NAT6, .proto = TCP, .port = 61000 };
	uint8_t b[256];
	size_t len;
	int n;

	(void)state;
	assert_int_equal(bpf_build_tc(&s, p, BPF_PROG_MAX), 37);
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), 53);
	s = spec_max();
	assert_int_equal(bpf_build_tc(&s, p, BPF_PROG_MAX), 187);
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), 233);

	s = (struct bpf_nat_spec){ .lo = 61000, .hi = 61999, .addr6 = { a6(NAT6) }, .naddr6 = 1 };
	assert_true(bpf_tc_needed(&s));
	len = build6(&f, b);
	n = bpf_build_tc(&s, p, BPF_PROG_MAX);
	assert_true(n > 0);
	assert_int_equal(run(p, n, b, len), BPF_TC_SHOT);
	n = bpf_build_sk(&s, p, BPF_PROG_MAX);
	assert_true(n > 0);
	assert_int_equal(run(p, n, b, len), BPF_SK_ACCEPT);
	/* a foreign6 address alone: a socket filter, no tc program */
	s = (struct bpf_nat_spec){ .lo = 1, .hi = 0, .nforeign6 = 1,
				   .foreign6 = { { a6(FOREIGN6), a6(FOREIGN6) } } };
	assert_false(bpf_tc_needed(&s));
	assert_int_equal(bpf_build_tc(&s, p, BPF_PROG_MAX), -EINVAL);
	n = bpf_build_sk(&s, p, BPF_PROG_MAX);
	assert_true(n > 0);
	f.dst = FOREIGN6;
	len = build6(&f, b);
	assert_int_equal(run(p, n, b, len), BPF_SK_ACCEPT);
	/* ranges wider than the last 32 bits, reversed, too many */
	s.foreign6[0].hi = a6("2001:db8:f::1:0:50");
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), -EINVAL);
	s.foreign6[0] = (struct bpf_addr6_range){ a6_plus(FOREIGN6, 1), a6(FOREIGN6) };
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), -EINVAL);
	s.foreign6[0] = (struct bpf_addr6_range){ a6(FOREIGN6), a6(FOREIGN6) };
	s.naddr6 = BPF_NAT_MAX_ADDR6 + 1;
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), -EINVAL);
	s.naddr6 = 0;
	s.ntunnel6 = BPF_NAT_MAX_TUNNEL6 + 1;
	assert_int_equal(bpf_build_tc(&s, p, BPF_PROG_MAX), -EINVAL);
}

static void add_v6_max(struct bpf_nat_spec *s)
{
	s->naddr6 = BPF_NAT_MAX_ADDR6;
	for (unsigned i = 0; i < BPF_NAT_MAX_ADDR6; i++)
		s->addr6[i] = a6_plus(NAT6, 2 * i);
	s->nforeign6 = BPF_NAT_MAX_FOREIGN6;
	for (unsigned i = 0; i < BPF_NAT_MAX_FOREIGN6; i++)
		s->foreign6[i] = (struct bpf_addr6_range){ a6_plus(FRANGE6, 100 * i),
							   a6_plus(FRANGE6, 100 * i + (i % 2) * 5) };
	s->ntunnel6 = BPF_NAT_MAX_TUNNEL6;
	for (unsigned i = 0; i < BPF_NAT_MAX_TUNNEL6; i++)
		s->tunnel6[i] = a6_plus(TUNNEL6, 0x100 * i);
}

static bool eq6(const union nf_addr *a, const union nf_addr *b)
{
	return !memcmp(a->b, b->b, 16);
}

static int in_foreign6(const struct bpf_nat_spec *s, const union nf_addr *a)
{
	for (unsigned i = 0; i < s->nforeign6; i++)
		if (!memcmp(a->b, s->foreign6[i].lo.b, 12) &&
		    be32_get(a->b + 12) >= be32_get(s->foreign6[i].lo.b + 12) &&
		    be32_get(a->b + 12) <= be32_get(s->foreign6[i].hi.b + 12))
			return 1;
	return 0;
}

static int port_ours(const struct bpf_nat_spec *s, uint8_t proto, uint16_t port)
{
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	return (s->lo <= s->hi && port >= s->lo && port <= s->hi) ||
	       (proto == IPPROTO_TCP ? in_ports(s->tcp, s->ntcp, port)
				     : in_ports(s->udp, s->nudp, port));
}

static bool walkable(uint8_t t)
{
	return t == IPPROTO_HOPOPTS || t == IPPROTO_ROUTING || t == IPPROTO_DSTOPTS;
}

/* The model for IPv6 frames (untruncated), as bpf.h says it. */
static void model6(const struct bpf_nat_spec *s, const struct frame6 *f, int *tc, int *sk)
{
	union nf_addr dst = f->dst ? a6(f->dst) : f->dst_a;
	union nf_addr target = f->target ? a6(f->target) : f->target_a;
	unsigned i = 0, own = 0;

	*tc = *sk = 0;
	for (unsigned k = 0; k < s->ntunnel6; k++)
		if (eq6(&s->tunnel6[k], &dst)) {
			*tc = *sk = 1;
			return;
		}
	for (unsigned k = 0; k < s->naddr6; k++)
		own |= eq6(&s->addr6[k], &dst);
	if (!own) {
		*sk = in_foreign6(s, &dst) ||
		      (!f->next && f->proto == IPPROTO_ICMPV6 && f->port == 135 &&
		       in_foreign6(s, &target));
		return;
	}
	while (i < f->next && i < BPF_EXT6_WALK && walkable(f->ext[i]))
		i++;
	if (i < f->next && walkable(f->ext[i])) {
		*sk = 1; /* past the walk */
		return;
	}
	if (i < f->next && f->ext[i] == IPPROTO_FRAGMENT) {
		uint8_t inner = i + 1 < f->next ? f->ext[i + 1] : f->proto;

		*sk = 1;
		*tc = !(f->frag & 0xfff8) && port_ours(s, inner, f->port);
		return;
	}
	if (i < f->next)
		return; /* ESP and the like */
	if (f->proto == IPPROTO_ICMPV6) {
		*sk = f->port < 130;
		*tc = f->port < 128 && port_ours(s, f->qproto, f->qport);
		return;
	}
	*tc = *sk = port_ours(s, f->proto, f->port);
}

static void check6(const struct bpf_nat_spec *s, const struct sock_filter *tc, int ntc,
		   const struct sock_filter *sk, int nsk, const struct frame6 *f)
{
	uint8_t b[256];
	size_t len = build6(f, b);
	int shot, kept, wtc, wsk;
	char d[64], t[64];

	verdicts(tc, ntc, sk, nsk, b, len, false, &shot, &kept, "model6");
	model6(s, f, &wtc, &wsk);
	if (shot != wtc || kept != wsk) {
		inet_ntop(AF_INET6, f->dst ? a6(f->dst).b : f->dst_a.b, d, sizeof(d));
		inet_ntop(AF_INET6, f->target ? a6(f->target).b : f->target_a.b, t, sizeof(t));
		fail_msg("dst %s ext %u [%u %u %u] frag %#x proto %u port %u q %u/%u target %s: "
			 "tc %d sk %d, want %d %d", d, f->next, f->ext[0], f->ext[1], f->ext[2],
			 f->frag, f->proto, f->port, f->qproto, f->qport, t, shot, kept, wtc, wsk);
	}
}

static void test_maxima6(void **state)
{
	struct bpf_nat_spec s = spec_max();
	struct sock_filter tc[BPF_PROG_MAX], sk[BPF_PROG_MAX];
	int ntc, nsk;

	(void)state;
	add_v6_max(&s);
	ntc = bpf_build_tc(&s, tc, BPF_PROG_MAX);
	nsk = bpf_build_sk(&s, sk, BPF_PROG_MAX);
	assert_true(ntc > 0);
	assert_true(nsk > 0);
	print_message("maxima with IPv6: tc %d, socket %d instructions\n", ntc, nsk);
	for (unsigned i = 0; i < BPF_NAT_MAX_PORTS; i++) {
		for (unsigned k = 0; k < 4; k++) {
			const struct bpf_port_range *r = k < 2 ? &s.tcp[i] : &s.udp[i];
			uint8_t proto = k < 2 ? IPPROTO_TCP : IPPROTO_UDP;
			uint16_t edge[] = { (uint16_t)(r->lo - 1), r->lo, r->hi, (uint16_t)(r->hi + 1) };

			for (unsigned e = 0; e < 4; e++) {
				struct frame6 f = { .dst_a = s.addr6[(i + k) % BPF_NAT_MAX_ADDR6],
						    .proto = proto, .port = edge[e] };
				struct frame6 q = { .dst_a = f.dst_a, .proto = IPPROTO_ICMPV6,
						    .port = 2, .qproto = proto, .qport = edge[e] };

				check6(&s, tc, ntc, sk, nsk, &f);
				check6(&s, tc, ntc, sk, nsk, &q);
			}
		}
	}
	for (unsigned i = 0; i < BPF_NAT_MAX_FOREIGN6; i++) {
		union nf_addr lo = s.foreign6[i].lo, hi = s.foreign6[i].hi;
		uint32_t l = be32_get(lo.b + 12), h = be32_get(hi.b + 12);
		uint32_t edge[] = { l - 1, l, h, h + 1 };

		for (unsigned k = 0; k < 4; k++) {
			union nf_addr a = lo;
			struct frame6 f = { .proto = IPPROTO_UDP, .port = 9 };
			struct frame6 ns = { "ff02::1:ff00:1", .proto = IPPROTO_ICMPV6, .port = 135 };

			be32_put(a.b + 12, edge[k]);
			f.dst_a = a;
			ns.target_a = a;
			check6(&s, tc, ntc, sk, nsk, &f);
			check6(&s, tc, ntc, sk, nsk, &ns);
		}
	}
	for (unsigned i = 0; i < BPF_NAT_MAX_TUNNEL6; i++) {
		struct frame6 t = { .dst_a = s.tunnel6[i], .proto = IPPROTO_ICMPV6, .port = 128 };
		struct frame6 n = { .dst_a = a6_plus(TUNNEL6, 0x100 * i + 1), .proto = IPPROTO_TCP,
				    .port = 61000 };

		check6(&s, tc, ntc, sk, nsk, &t);
		check6(&s, tc, ntc, sk, nsk, &n);
	}
}

/* Random IPv6 specs and frames against the model. */
static void test_property6(void **state)
{
	struct rng g = { test_seed() + 6 };
	static const uint8_t exts[] = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS,
					IPPROTO_FRAGMENT, IPPROTO_FRAGMENT, 50 };
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6,
					  IPPROTO_ICMPV6, IPPROTO_GRE };
	static const uint16_t types[] = { 1, 2, 3, 4, 128, 129, 133, 134, 135, 135, 136, 143 };

	(void)state;
	for (unsigned iter = 0; iter < 1000; iter++) {
		struct bpf_nat_spec s = { 0 };
		struct sock_filter tc[BPF_PROG_MAX], sk[BPF_PROG_MAX];
		int ntc, nsk;

		/* addresses that differ in any word: 2001:db8:W2::W3 */
#define ADDR(x) a6_plus(rnd(&g, 2) ? "2001:db8::" : "2001:db8:0:1::", (uint32_t)(x))
		s.naddr6 = 1 + rnd(&g, BPF_NAT_MAX_ADDR6);
		for (unsigned i = 0; i < s.naddr6; i++)
			s.addr6[i] = ADDR(rnd(&g, 16));
		s.naddr = rnd(&g, 2);
		s.addr[0] = NAT;
		s.lo = (uint16_t)rnd_in(&g, 0, 300);
		s.hi = (uint16_t)(s.lo + rnd(&g, 40) - 10);
		s.ntcp = rnd(&g, 4);
		s.nudp = rnd(&g, 4);
		for (unsigned i = 0; i < 4; i++) {
			uint16_t a = (uint16_t)rnd_in(&g, 0, 300);

			s.tcp[i] = (struct bpf_port_range){ a, (uint16_t)(a + rnd(&g, 10)) };
			a = (uint16_t)rnd_in(&g, 0, 300);
			s.udp[i] = (struct bpf_port_range){ a, (uint16_t)(a + rnd(&g, 3)) };
		}
		s.nforeign6 = rnd(&g, BPF_NAT_MAX_FOREIGN6 + 1);
		for (unsigned i = 0; i < s.nforeign6; i++) {
			union nf_addr a = ADDR(rnd(&g, 32)), b = a;

			be32_put(b.b + 12, be32_get(a.b + 12) + rnd(&g, 4));
			s.foreign6[i] = (struct bpf_addr6_range){ a, b };
		}
		s.ntunnel6 = rnd(&g, BPF_NAT_MAX_TUNNEL6 + 1);
		for (unsigned i = 0; i < s.ntunnel6; i++)
			s.tunnel6[i] = ADDR(rnd(&g, 40));
		ntc = bpf_build_tc(&s, tc, BPF_PROG_MAX);
		nsk = bpf_build_sk(&s, sk, BPF_PROG_MAX);
		if (ntc <= 0 || nsk <= 0)
			fail_msg("iteration %u: build %d %d", iter, ntc, nsk);
		for (unsigned k = 0; k < 64; k++) {
			struct frame6 f = { .proto = protos[rnd(&g, 5)],
					    .port = (uint16_t)rnd_in(&g, 0, 310) };

			f.dst_a = rnd(&g, 8) ? ADDR(rnd(&g, 40)) : a6("ff02::1:ff00:1");
			f.next = rnd(&g, 3) ? 0 : rnd(&g, 5);
			for (unsigned i = 0; i < f.next; i++)
				f.ext[i] = exts[rnd(&g, 6)];
			f.frag = (uint16_t)(rnd(&g, 2) ? rnd(&g, 2) : rnd(&g, 0x10000));
			if (f.proto == IPPROTO_ICMPV6) {
				f.port = types[rnd(&g, 12)];
				f.qproto = protos[rnd(&g, 5)];
				f.qport = (uint16_t)rnd_in(&g, 0, 310);
				f.target_a = ADDR(rnd(&g, 40));
			}
			check6(&s, tc, ntc, sk, nsk, &f);
		}
#undef ADDR
	}
}

/* The kernel's validator takes the IPv6 programs (scratch memory, the
 * walk), at the maxima too. */
static void test_kernel_accepts6(void **state)
{
	struct sock_filter p[BPF_PROG_MAX];

	(void)state;
	for (int k = 0; k < 4; k++) {
		struct bpf_nat_spec s = k < 2 ? spec() : spec_max();
		struct sock_fprog fp;
		int n, fd;

		if (k < 2)
			add_v6(&s);
		else
			add_v6_max(&s);
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
		cmocka_unit_test(test_cases6),
		cmocka_unit_test(test_v6_shapes),
		cmocka_unit_test(test_maxima6),
		cmocka_unit_test(test_property6),
		cmocka_unit_test(test_kernel_accepts6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
