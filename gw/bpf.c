/* SPDX-License-Identifier: MIT */
#include "gw/bpf.h"

#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/proto.h"

/*
 * A tiny assembler: jumps name labels, resolved when the program is done.
 * Label 0 is "the next instruction".  Classic BPF jumps go forward only and
 * at most 255 instructions, checked at the end.
 */
/* the fixed ones, then one per range tested (foreign twice, port keys),
 * the IPv6 lists (foreign6 twice) and the walk's levels */
enum {
	MAX_LABELS = 17 + 2 * BPF_NAT_MAX_FOREIGN + 2 + 2 * BPF_NAT_MAX_PORTS + 16 +
		     BPF_NAT_MAX_ADDR6 + 2 * BPF_NAT_MAX_FOREIGN6 + BPF_NAT_MAX_TUNNEL6 +
		     2 * BPF_EXT6_WALK
};
_Static_assert(MAX_LABELS <= 256, "labels are stored in a byte");

struct as {
	struct sock_filter *p;
	size_t cap, n;
	int err;
	uint8_t jt[BPF_PROG_MAX], jf[BPF_PROG_MAX];
	int at[MAX_LABELS];
	unsigned nlabels;
};

static unsigned label(struct as *a)
{
	if (a->nlabels == MAX_LABELS) {
		a->err = -E2BIG;
		return 0;
	}
	a->at[a->nlabels] = -1;
	return a->nlabels++;
}

static void place(struct as *a, unsigned l)
{
	a->at[l] = (int)a->n;
}

static void emit(struct as *a, uint16_t code, unsigned jt, unsigned jf, uint32_t k)
{
	if (a->n >= a->cap || a->n >= BPF_PROG_MAX) {
		a->err = -E2BIG;
		return;
	}
	a->p[a->n] = (struct sock_filter){ .code = code, .k = k };
	a->jt[a->n] = (uint8_t)jt;
	a->jf[a->n] = (uint8_t)jf;
	a->n++;
}

static void stmt(struct as *a, uint16_t code, uint32_t k)
{
	emit(a, code, 0, 0, k);
}

static int finish(struct as *a)
{
	size_t i;

	if (a->err)
		return a->err;
	for (i = 0; i < a->n; i++) {
		struct sock_filter *f = &a->p[i];
		long t, e;

		if (BPF_CLASS(f->code) != BPF_JMP)
			continue;
		t = a->jt[i] ? a->at[a->jt[i]] - (long)i - 1 : 0;
		if (BPF_OP(f->code) == BPF_JA) {
			if (t < 0)
				return -EINVAL;
			f->k = (uint32_t)t;
			continue;
		}
		e = a->jf[i] ? a->at[a->jf[i]] - (long)i - 1 : 0;
		if (t < 0 || e < 0)
			return -EINVAL; /* an unplaced label */
		if (t > 255 || e > 255)
			return -E2BIG;
		f->jt = (uint8_t)t;
		f->jf = (uint8_t)e;
	}
	return (int)a->n;
}

static bool spec_ok(const struct bpf_nat_spec *s)
{
	unsigned i;

	if (s->naddr > BPF_NAT_MAX_ADDR || s->nforeign > BPF_NAT_MAX_FOREIGN ||
	    s->ntunnel > BPF_NAT_MAX_TUNNEL ||
	    s->ntcp > BPF_NAT_MAX_PORTS || s->nudp > BPF_NAT_MAX_PORTS)
		return false;
	for (i = 0; i < s->ntcp; i++)
		if (s->tcp[i].lo > s->tcp[i].hi)
			return false;
	for (i = 0; i < s->nudp; i++)
		if (s->udp[i].lo > s->udp[i].hi)
			return false;
	for (i = 0; i < s->nforeign; i++)
		if (s->foreign[i].lo > s->foreign[i].hi)
			return false;
	if (s->naddr6 > BPF_NAT_MAX_ADDR6 || s->nforeign6 > BPF_NAT_MAX_FOREIGN6 ||
	    s->ntunnel6 > BPF_NAT_MAX_TUNNEL6)
		return false;
	for (i = 0; i < s->nforeign6; i++) {
		const struct bpf_addr6_range *r = &s->foreign6[i];

		if (memcmp(r->lo.b, r->hi.b, 12) || be32_get(r->lo.b + 12) > be32_get(r->hi.b + 12))
			return false;
	}
	return true;
}

bool bpf_has_v6(const struct bpf_nat_spec *s)
{
	return s->naddr6 || s->nforeign6 || s->ntunnel6;
}

/* Offsets from the Ethernet header. */
enum {
	O_ETHERTYPE = ETHH_TYPE,
	O_IP = ETHH_LEN,
	O_IP_FRAG = O_IP + IP4H_FRAG,
	O_IP_PROTO = O_IP + IP4H_PROTO,
	O_IP_DST = O_IP + IP4H_DADDR,
	O_L4_DPORT = O_IP + TCPH_DPORT, /* + the IP header length in X (UDP: the same) */
	O_ARP_OP = O_IP + ARPH_OP,
	O_ARP_TPA = O_IP + ARPH_TPA,
	/* NatPorts twice, then every DNAT-ed range */
	MAX_KEYS = 2 + 2 * BPF_NAT_MAX_PORTS,
	/* IPv6: the fixed header, then X counts from its end */
	O6_NEXT = O_IP + IP6H_NEXT,
	O6_DST = O_IP + IP6H_DADDR,
	O6_L4 = O_IP + IP6H_LEN,
	O6_DPORT = O6_L4 + TCPH_DPORT,		/* + X */
	O6_FRAG_OFF = O6_L4 + 2,		/* + X: offset << 3 | M */
	O6_ICMP_TYPE = O6_L4,			/* + X */
	O6_QUOTE_NEXT = O6_L4 + ICMP6H_LEN + IP6H_NEXT,	/* + X: an error's quoted header */
	O6_QUOTE_SPORT = O6_L4 + ICMP6H_LEN + IP6H_LEN + TCPH_SPORT,
	O6_NS_TARGET = O6_L4 + ICMP6H_LEN,	/* no extension header */
	ICMP6_NS = 135,
	ICMP6_ND_FIRST = 130,	/* MLD, router/neighbor discovery, redirect, ... */
};

/* Jumps to yes when A holds one of the host-owned NAT addresses, else falls
 * through. */
static void match_addr(struct as *a, const struct bpf_nat_spec *s, unsigned yes)
{
	unsigned i;

	for (i = 0; i < s->naddr; i++)
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, yes, 0, s->addr[i]);
}

/* Jumps to yes when A holds one of gw's tunnel Addresses. */
static void match_tunnel(struct as *a, const struct bpf_nat_spec *s, unsigned yes)
{
	for (unsigned i = 0; i < s->ntunnel; i++)
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, yes, 0, s->tunnel[i]);
}

bool bpf_tc_needed(const struct bpf_nat_spec *s)
{
	return s->naddr || s->ntunnel || s->naddr6 || s->ntunnel6;
}

/* Returns ret when A is in one of the ranges (the returns sit in the block,
 * so no jump reaches far), else falls through. */
static void ret_in_ranges(struct as *a, const uint32_t *lo, const uint32_t *hi, unsigned n,
			  uint32_t ret)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		unsigned skip = label(a);

		if (lo[i] == hi[i]) {
			emit(a, BPF_JMP | BPF_JEQ | BPF_K, 0, skip, lo[i]);
		} else {
			emit(a, BPF_JMP | BPF_JGE | BPF_K, 0, skip, lo[i]);
			emit(a, BPF_JMP | BPF_JGT | BPF_K, skip, 0, hi[i]);
		}
		stmt(a, BPF_RET | BPF_K, ret);
		place(a, skip);
	}
}

static void ret_in_foreign(struct as *a, const struct bpf_nat_spec *s, uint32_t ret)
{
	uint32_t lo[BPF_NAT_MAX_FOREIGN], hi[BPF_NAT_MAX_FOREIGN];
	unsigned i;

	for (i = 0; i < s->nforeign; i++) {
		lo[i] = s->foreign[i].lo;
		hi[i] = s->foreign[i].hi;
	}
	ret_in_ranges(a, lo, hi, s->nforeign, ret);
}

/* The port keys proto << 16 | port of NatPorts and the DNAT-ed ranges,
 * sorted and merged; returns their count. */
static unsigned port_keys(const struct bpf_nat_spec *s, uint32_t *lo, uint32_t *hi)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	uint32_t l[MAX_KEYS], h[MAX_KEYS];
	unsigned i, j, n = 0, m = 0;

	for (i = 0; i < 2 && s->lo <= s->hi; i++) {
		l[n] = (uint32_t)protos[i] << 16 | s->lo;
		h[n++] = (uint32_t)protos[i] << 16 | s->hi;
	}
	for (i = 0; i < s->ntcp; i++) {
		l[n] = (uint32_t)IPPROTO_TCP << 16 | s->tcp[i].lo;
		h[n++] = (uint32_t)IPPROTO_TCP << 16 | s->tcp[i].hi;
	}
	for (i = 0; i < s->nudp; i++) {
		l[n] = (uint32_t)IPPROTO_UDP << 16 | s->udp[i].lo;
		h[n++] = (uint32_t)IPPROTO_UDP << 16 | s->udp[i].hi;
	}
	for (i = 1; i < n; i++) { /* insertion sort by lo */
		uint32_t kl = l[i], kh = h[i];

		for (j = i; j > 0 && l[j - 1] > kl; j--) {
			l[j] = l[j - 1];
			h[j] = h[j - 1];
		}
		l[j] = kl;
		h[j] = kh;
	}
	for (i = 0; i < n; i++) {
		if (m && l[i] <= hi[m - 1] + 1) {
			if (h[i] > hi[m - 1])
				hi[m - 1] = h[i];
			continue;
		}
		lo[m] = l[i];
		hi[m++] = h[i];
	}
	return m;
}

/*
 * TCP or UDP to a host-owned NAT address (already checked), first fragment
 * or whole: returns yes when the destination port is ours, else no.
 * Compares A = proto << 16 | dport.  (No scratch memory: the kernel's check
 * of loads from it follows straight-line order through returns.)
 */
static void ret_ports(struct as *a, const struct bpf_nat_spec *s, uint32_t yes, uint32_t no,
		      unsigned ranges)
{
	uint32_t lo[MAX_KEYS], hi[MAX_KEYS];
	unsigned n = port_keys(s, lo, hi);

	stmt(a, BPF_LDX | BPF_B | BPF_MSH, O_IP);
	stmt(a, BPF_LD | BPF_H | BPF_IND, O_L4_DPORT);
	stmt(a, BPF_MISC | BPF_TAX, 0);
	stmt(a, BPF_LD | BPF_B | BPF_ABS, O_IP_PROTO);
	stmt(a, BPF_ALU | BPF_LSH | BPF_K, 16);
	stmt(a, BPF_ALU | BPF_ADD | BPF_X, 0);
	place(a, ranges); /* the IPv6 part jumps here with its key in A */
	ret_in_ranges(a, lo, hi, n, yes);
	stmt(a, BPF_RET | BPF_K, no);
}

/* Falls through when A == k, else returns ret. */
static void ret_unless(struct as *a, uint32_t k, uint32_t ret)
{
	unsigned go = label(a);

	emit(a, BPF_JMP | BPF_JEQ | BPF_K, go, 0, k);
	stmt(a, BPF_RET | BPF_K, ret);
	place(a, go);
}


/* ---- IPv6 ---------------------------------------------------------------- */

/* Falls through when the 16 bytes at off are in lo..hi (equal but for the
 * last word; spec_ok), else jumps to miss. */
static void in6(struct as *a, const union nf_addr *lo, const union nf_addr *hi, uint32_t off,
		unsigned miss)
{
	uint32_t l = be32_get(lo->b + 12), h = be32_get(hi->b + 12);

	for (unsigned w = 0; w < 3; w++) {
		stmt(a, BPF_LD | BPF_W | BPF_ABS, off + 4 * w);
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, 0, miss, be32_get(lo->b + 4 * w));
	}
	stmt(a, BPF_LD | BPF_W | BPF_ABS, off + 12);
	if (l == h) {
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, 0, miss, l);
	} else {
		emit(a, BPF_JMP | BPF_JGE | BPF_K, 0, miss, l);
		emit(a, BPF_JMP | BPF_JGT | BPF_K, miss, 0, h);
	}
}

/* Returns ret when the address at off is one of addr[n]. */
static void ret_in6_list(struct as *a, const union nf_addr *addr, unsigned n, uint32_t off,
			 uint32_t ret)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned miss = label(a);

		in6(a, &addr[i], &addr[i], off, miss);
		stmt(a, BPF_RET | BPF_K, ret);
		place(a, miss);
	}
}

static void ret_in_foreign6(struct as *a, const struct bpf_nat_spec *s, uint32_t off, uint32_t ret)
{
	for (unsigned i = 0; i < s->nforeign6; i++) {
		unsigned miss = label(a);

		in6(a, &s->foreign6[i].lo, &s->foreign6[i].hi, off, miss);
		stmt(a, BPF_RET | BPF_K, ret);
		place(a, miss);
	}
}

/* A = M[0] after A was stored there: the pair that carries the next
 * header across the arithmetic on X (the kernel checks M[0] is written
 * first on every path: it always is, right before). */
static void keep_a(struct as *a)
{
	stmt(a, BPF_ST, 0);
}

static void restore_a(struct as *a)
{
	stmt(a, BPF_LD | BPF_MEM, 0);
}

/* A = proto (TCP or UDP), the port at X + off: A becomes the port key and
 * the program goes on at ranges (ret_ports' comparisons). */
static void key_to_ranges(struct as *a, uint32_t off, unsigned ranges)
{
	stmt(a, BPF_ALU | BPF_LSH | BPF_K, 16);
	keep_a(a);
	stmt(a, BPF_LD | BPF_H | BPF_IND, off);
	stmt(a, BPF_MISC | BPF_TAX, 0);
	restore_a(a);
	stmt(a, BPF_ALU | BPF_ADD | BPF_X, 0);
	stmt(a, BPF_JMP | BPF_JA, 0);
	a->jt[a->n - 1] = (uint8_t)ranges; /* finish resolves JA through jt */
}

/*
 * The IPv6 part of both programs, entered with the ethertype checked: the
 * lists, then for a host-owned address the header walk and the verdict.
 * tc: no = UNSPEC, shot = SHOT; socket: no = 0, keep = ACCEPT.  TCP/UDP to
 * a port of ours and (tc) ICMPv6 errors quoting one go to ranges with the
 * port key in A.
 */
static void v6_part(struct as *a, const struct bpf_nat_spec *s, bool tc, unsigned ranges)
{
	uint32_t no = tc ? (uint32_t)BPF_TC_UNSPEC : 0;
	uint32_t yes = tc ? (uint32_t)BPF_TC_SHOT : BPF_SK_ACCEPT;
	unsigned own = label(a), walked = label(a), frag = label(a), l4 = label(a);
	unsigned icmp = label(a), deep = label(a);

	ret_in6_list(a, s->tunnel6, s->ntunnel6, O6_DST, yes);
	for (unsigned i = 0; i < s->naddr6; i++) {
		unsigned miss = label(a);

		in6(a, &s->addr6[i], &s->addr6[i], O6_DST, miss);
		stmt(a, BPF_JMP | BPF_JA, 0);
		a->jt[a->n - 1] = (uint8_t)own;
		place(a, miss);
	}
	if (!tc && s->nforeign6) {
		unsigned not_ns = label(a);

		ret_in_foreign6(a, s, O6_DST, BPF_SK_ACCEPT);
		/* a Neighbor Solicitation for a foreign address */
		stmt(a, BPF_LD | BPF_B | BPF_ABS, O6_NEXT);
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, 0, not_ns, IPPROTO_ICMPV6);
		stmt(a, BPF_LD | BPF_B | BPF_ABS, O6_ICMP_TYPE);
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, 0, not_ns, ICMP6_NS);
		ret_in_foreign6(a, s, O6_NS_TARGET, BPF_SK_ACCEPT);
		place(a, not_ns);
	}
	stmt(a, BPF_RET | BPF_K, no);

	place(a, own);
	stmt(a, BPF_LD | BPF_B | BPF_ABS, O6_NEXT);
	stmt(a, BPF_LDX | BPF_W | BPF_IMM, 0);
	for (unsigned k = 0; k < BPF_EXT6_WALK; k++) {
		unsigned ext = label(a);

		emit(a, BPF_JMP | BPF_JEQ | BPF_K, ext, 0, IPPROTO_HOPOPTS);
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, ext, 0, IPPROTO_ROUTING);
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, ext, walked, IPPROTO_DSTOPTS);
		place(a, ext);
		/* A = its next header; X += (length + 1) * 8 */
		stmt(a, BPF_LD | BPF_B | BPF_IND, O6_L4);
		keep_a(a);
		stmt(a, BPF_LD | BPF_B | BPF_IND, O6_L4 + 1);
		stmt(a, BPF_ALU | BPF_ADD | BPF_K, 1);
		stmt(a, BPF_ALU | BPF_LSH | BPF_K, 3);
		stmt(a, BPF_ALU | BPF_ADD | BPF_X, 0);
		stmt(a, BPF_MISC | BPF_TAX, 0);
		restore_a(a);
	}
	emit(a, BPF_JMP | BPF_JEQ | BPF_K, deep, 0, IPPROTO_HOPOPTS);
	emit(a, BPF_JMP | BPF_JEQ | BPF_K, deep, 0, IPPROTO_ROUTING);
	emit(a, BPF_JMP | BPF_JEQ | BPF_K, deep, 0, IPPROTO_DSTOPTS);
	place(a, walked);
	emit(a, BPF_JMP | BPF_JEQ | BPF_K, frag, 0, IPPROTO_FRAGMENT);
	emit(a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_TCP);
	emit(a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_UDP);
	emit(a, BPF_JMP | BPF_JEQ | BPF_K, icmp, 0, IPPROTO_ICMPV6);
	stmt(a, BPF_RET | BPF_K, no);
	place(a, deep);
	stmt(a, BPF_RET | BPF_K, tc ? no : BPF_SK_ACCEPT);

	place(a, frag);
	if (tc) {
		unsigned later = label(a);

		stmt(a, BPF_LD | BPF_H | BPF_IND, O6_FRAG_OFF);
		emit(a, BPF_JMP | BPF_JSET | BPF_K, later, 0, 0xfff8);
		/* a first fragment: the ports follow its 8-byte header */
		stmt(a, BPF_LD | BPF_B | BPF_IND, O6_L4);
		keep_a(a);
		stmt(a, BPF_MISC | BPF_TXA, 0);
		stmt(a, BPF_ALU | BPF_ADD | BPF_K, 8);
		stmt(a, BPF_MISC | BPF_TAX, 0);
		restore_a(a);
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_TCP);
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_UDP);
		place(a, later);
		stmt(a, BPF_RET | BPF_K, no);
	} else {
		stmt(a, BPF_RET | BPF_K, BPF_SK_ACCEPT); /* every fragment */
	}

	place(a, l4);
	key_to_ranges(a, O6_DPORT, ranges);

	place(a, icmp);
	stmt(a, BPF_LD | BPF_B | BPF_IND, O6_ICMP_TYPE);
	if (tc) {
		unsigned quote = label(a), pass = label(a);

		/* an error (type < 128) quoting TCP/UDP from a port of ours */
		emit(a, BPF_JMP | BPF_JSET | BPF_K, pass, 0, 0x80);
		stmt(a, BPF_LD | BPF_B | BPF_IND, O6_QUOTE_NEXT);
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, quote, 0, IPPROTO_TCP);
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, quote, 0, IPPROTO_UDP);
		place(a, pass);
		stmt(a, BPF_RET | BPF_K, no);
		place(a, quote);
		key_to_ranges(a, O6_QUOTE_SPORT, ranges);
	} else {
		unsigned nd = label(a);

		emit(a, BPF_JMP | BPF_JGE | BPF_K, nd, 0, ICMP6_ND_FIRST);
		stmt(a, BPF_RET | BPF_K, BPF_SK_ACCEPT);
		place(a, nd);
		stmt(a, BPF_RET | BPF_K, 0);
	}
}

/* With IPv6 in the spec: A holds the ethertype; IPv6 goes on into
 * v6_part, the rest jumps to v4 (the IPv4 program as without IPv6). */
static void v6_dispatch(struct as *a, const struct bpf_nat_spec *s, bool tc, unsigned v4,
			unsigned ranges)
{
	unsigned six = label(a);

	emit(a, BPF_JMP | BPF_JEQ | BPF_K, six, 0, ETYPE_IPV6);
	stmt(a, BPF_JMP | BPF_JA, 0);
	a->jt[a->n - 1] = (uint8_t)v4;
	place(a, six);
	v6_part(a, s, tc, ranges);
	place(a, v4);
}

/*
 * Every jump in both programs is short: a block that decides returns on the
 * spot instead of jumping to a shared return at the end, so the size of the
 * port list never pushes a conditional jump past 255 instructions.
 */
int bpf_build_tc(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap)
{
	struct as a = { .p = prog, .cap = cap, .nlabels = 1 };
	unsigned ip, l4, ports, shot, ranges;

	if (!spec_ok(s) || !bpf_tc_needed(s))
		return -EINVAL;
	ip = label(&a);
	l4 = label(&a);
	ports = label(&a);
	shot = label(&a);
	ranges = label(&a);

	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_ETHERTYPE);
	if (bpf_has_v6(s))
		v6_dispatch(&a, s, true, label(&a), ranges);
	ret_unless(&a, ETYPE_IP, (uint32_t)BPF_TC_UNSPEC);
	stmt(&a, BPF_LD | BPF_W | BPF_ABS, O_IP_DST);
	match_tunnel(&a, s, shot);
	match_addr(&a, s, ip);
	stmt(&a, BPF_RET | BPF_K, (uint32_t)BPF_TC_UNSPEC);
	place(&a, shot);
	stmt(&a, BPF_RET | BPF_K, (uint32_t)BPF_TC_SHOT);
	place(&a, ip);
	stmt(&a, BPF_LD | BPF_B | BPF_ABS, O_IP_PROTO);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_TCP);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_UDP);
	stmt(&a, BPF_RET | BPF_K, (uint32_t)BPF_TC_UNSPEC);
	place(&a, l4);
	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_IP_FRAG);
	emit(&a, BPF_JMP | BPF_JSET | BPF_K, 0, ports, 0x1fff);
	stmt(&a, BPF_RET | BPF_K, (uint32_t)BPF_TC_UNSPEC);
	place(&a, ports);
	ret_ports(&a, s, (uint32_t)BPF_TC_SHOT, (uint32_t)BPF_TC_UNSPEC, ranges);
	return finish(&a);
}

int bpf_build_sk(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap)
{
	struct as a = { .p = prog, .cap = cap, .nlabels = 1 };
	unsigned keep, ipv4, ip, l4, ranges;

	if (!spec_ok(s))
		return -EINVAL;
	if (!s->naddr && !s->nforeign && !s->ntunnel && !bpf_has_v6(s)) {
		/* no NAT address at all (the uplink has none yet): keep nothing */
		stmt(&a, BPF_RET | BPF_K, 0);
		return finish(&a);
	}
	keep = label(&a);
	ipv4 = label(&a);
	ip = label(&a);
	l4 = label(&a);
	ranges = label(&a);

	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_ETHERTYPE);
	if (bpf_has_v6(s))
		v6_dispatch(&a, s, false, label(&a), ranges);
	if (s->nforeign) {
		/* an ARP request for a foreign address */
		emit(&a, BPF_JMP | BPF_JEQ | BPF_K, 0, ipv4, ETYPE_ARP);
		stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_ARP_OP);
		ret_unless(&a, ARP_OP_REQUEST, 0);
		stmt(&a, BPF_LD | BPF_W | BPF_ABS, O_ARP_TPA);
		ret_in_foreign(&a, s, BPF_SK_ACCEPT);
		stmt(&a, BPF_RET | BPF_K, 0);
	}
	place(&a, ipv4);
	ret_unless(&a, ETYPE_IP, 0);
	stmt(&a, BPF_LD | BPF_W | BPF_ABS, O_IP_DST);
	match_tunnel(&a, s, keep);
	match_addr(&a, s, ip);
	ret_in_foreign(&a, s, BPF_SK_ACCEPT);
	stmt(&a, BPF_RET | BPF_K, 0);
	place(&a, ip);
	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_IP_FRAG);
	emit(&a, BPF_JMP | BPF_JSET | BPF_K, keep, 0, 0x1fff);
	stmt(&a, BPF_LD | BPF_B | BPF_ABS, O_IP_PROTO);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, keep, 0, IPPROTO_ICMP);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_TCP);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_UDP);
	stmt(&a, BPF_RET | BPF_K, 0);
	place(&a, keep);
	stmt(&a, BPF_RET | BPF_K, BPF_SK_ACCEPT);
	place(&a, l4);
	ret_ports(&a, s, BPF_SK_ACCEPT, 0, ranges);
	return finish(&a);
}

int bpf_format(const struct sock_filter *prog, unsigned n, char *out, size_t len)
{
	size_t at;
	unsigned i;
	int w;

	w = snprintf(out, len, "%u", n);
	if (w < 0 || (size_t)w >= len)
		return -ENOSPC;
	at = (size_t)w;
	for (i = 0; i < n; i++) {
		w = snprintf(out + at, len - at, ",%u %u %u %u", prog[i].code,
			     prog[i].jt, prog[i].jf, prog[i].k);
		if (w < 0 || (size_t)w >= len - at)
			return -ENOSPC;
		at += (size_t)w;
	}
	return 0;
}
