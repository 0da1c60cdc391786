/* SPDX-License-Identifier: MIT */
/*
 * gw/bpf: the tc ingress and packet-socket programs run in a small classic
 * BPF interpreter (the opcodes the builders emit, with the kernel's rule that
 * a load past the end returns 0) over crafted Ethernet frames, and are
 * checked by the kernel's own validator through SO_ATTACH_FILTER on an
 * unprivileged UDP socket.
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
#include "nat/be.h"

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

struct frame {
	uint16_t ethertype;
	uint32_t dst;
	uint8_t proto;
	uint16_t dport;
	uint16_t frag;	 /* flags + offset field */
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
		.dnat = { { IPPROTO_TCP, 8080 }, { IPPROTO_UDP, 5353 } }, .ndnat = 2,
		.arp = true,
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
	{ { 0, NAT, IPPROTO_UDP, 62000, 0, 0, 0 }, 0, 0, "udp above" },
	{ { 0, NAT, IPPROTO_TCP, 22, 0, 0, 0 }, 0, 0, "host ssh" },
	{ { 0, OTHER, IPPROTO_TCP, 61000, 0, 0, 0 }, 0, 0, "other address" },
	{ { 0, NAT, IPPROTO_TCP, 8080, 0, 0, 0 }, 1, 1, "dnat tcp" },
	{ { 0, NAT, IPPROTO_UDP, 8080, 0, 0, 0 }, 0, 0, "dnat port, wrong proto" },
	{ { 0, NAT, IPPROTO_UDP, 5353, 0, 0, 0 }, 1, 1, "dnat udp" },
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
	{ { 0x0806, NAT, 0, 0, 0, 0, 0 }, 0, 1, "arp for nat" },
	{ { 0x0806, OTHER, 0, 0, 0, 0, 0 }, 0, 0, "arp for other" },
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

/* No range, one address, no ARP; and the tcpdump-equivalent simple case. */
static void test_variants(void **state)
{
	struct bpf_nat_spec s = { .addr = { NAT }, .naddr = 1, .lo = 1, .hi = 0,
				  .dnat = { { IPPROTO_TCP, 80 } }, .ndnat = 1 };
	struct sock_filter p[BPF_PROG_MAX];
	struct frame arp = { 0x0806, NAT, 0, 0, 0, 0, 0 };
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
}

static void test_limits(void **state)
{
	struct bpf_nat_spec s = spec();
	struct sock_filter p[BPF_PROG_MAX];
	unsigned i;

	(void)state;
	s.naddr = 0;
	assert_int_equal(bpf_build_tc(&s, p, BPF_PROG_MAX), -EINVAL);
	s.naddr = BPF_NAT_MAX_ADDR + 1;
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), -EINVAL);
	s = spec();
	s.dnat[0].proto = IPPROTO_ICMP;
	assert_int_equal(bpf_build_sk(&s, p, BPF_PROG_MAX), -EINVAL);
	s = spec();
	assert_int_equal(bpf_build_sk(&s, p, 10), -E2BIG);
	/* the maxima fit, and the last DNAT entry still matches */
	s.naddr = BPF_NAT_MAX_ADDR;
	for (i = 0; i < BPF_NAT_MAX_ADDR; i++)
		s.addr[i] = NAT + i;
	s.ndnat = BPF_NAT_MAX_DNAT;
	for (i = 0; i < BPF_NAT_MAX_DNAT; i++)
		s.dnat[i] = (struct bpf_nat_port){ IPPROTO_UDP, (uint16_t)(1000 + i) };
	{
		struct frame f = { 0, NAT + BPF_NAT_MAX_ADDR - 1, IPPROTO_UDP,
				   1000 + BPF_NAT_MAX_DNAT - 1, 0, 0, 0 };
		uint8_t b[128];
		size_t len = build(&f, b);
		int n = bpf_build_sk(&s, p, BPF_PROG_MAX);

		assert_true(n > 0);
		assert_int_equal(run(p, n, b, len), BPF_SK_ACCEPT);
		n = bpf_build_tc(&s, p, BPF_PROG_MAX);
		assert_true(n > 0);
		assert_int_equal(run(p, n, b, len), BPF_TC_SHOT);
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
	for (k = 0; k < 2; k++) {
		struct sock_fprog fp;

		n = k ? bpf_build_sk(&s, p, BPF_PROG_MAX) : bpf_build_tc(&s, p, BPF_PROG_MAX);
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
		cmocka_unit_test(test_kernel_accepts),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
