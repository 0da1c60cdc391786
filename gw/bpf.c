/* SPDX-License-Identifier: MIT */
#include "gw/bpf.h"

#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "nat/pkt/proto.h"

/*
 * A tiny assembler: jumps name labels, resolved when the program is done.
 * Label 0 is "the next instruction".  Classic BPF jumps go forward only and
 * at most 255 instructions, checked at the end.
 */
/* the fixed ones, then one per range tested (foreign twice, port keys) */
enum { MAX_LABELS = 17 + 2 * BPF_NAT_MAX_FOREIGN + 2 + 2 * BPF_NAT_MAX_PORTS };
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
	return true;
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
	return s->naddr || s->ntunnel;
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
static void ret_ports(struct as *a, const struct bpf_nat_spec *s, uint32_t yes, uint32_t no)
{
	uint32_t lo[MAX_KEYS], hi[MAX_KEYS];
	unsigned n = port_keys(s, lo, hi);

	stmt(a, BPF_LDX | BPF_B | BPF_MSH, O_IP);
	stmt(a, BPF_LD | BPF_H | BPF_IND, O_L4_DPORT);
	stmt(a, BPF_MISC | BPF_TAX, 0);
	stmt(a, BPF_LD | BPF_B | BPF_ABS, O_IP_PROTO);
	stmt(a, BPF_ALU | BPF_LSH | BPF_K, 16);
	stmt(a, BPF_ALU | BPF_ADD | BPF_X, 0);
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

/*
 * Every jump in both programs is short: a block that decides returns on the
 * spot instead of jumping to a shared return at the end, so the size of the
 * port list never pushes a conditional jump past 255 instructions.
 */
int bpf_build_tc(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap)
{
	struct as a = { .p = prog, .cap = cap, .nlabels = 1 };
	unsigned ip, l4, ports, shot;

	if (!spec_ok(s) || !bpf_tc_needed(s))
		return -EINVAL;
	ip = label(&a);
	l4 = label(&a);
	ports = label(&a);
	shot = label(&a);

	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_ETHERTYPE);
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
	ret_ports(&a, s, (uint32_t)BPF_TC_SHOT, (uint32_t)BPF_TC_UNSPEC);
	return finish(&a);
}

int bpf_build_sk(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap)
{
	struct as a = { .p = prog, .cap = cap, .nlabels = 1 };
	unsigned keep, ipv4, ip, l4;

	if (!spec_ok(s))
		return -EINVAL;
	if (!s->naddr && !s->nforeign && !s->ntunnel) {
		/* no NAT address at all (the uplink has none yet): keep nothing */
		stmt(&a, BPF_RET | BPF_K, 0);
		return finish(&a);
	}
	keep = label(&a);
	ipv4 = label(&a);
	ip = label(&a);
	l4 = label(&a);

	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_ETHERTYPE);
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
	ret_ports(&a, s, BPF_SK_ACCEPT, 0);
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
