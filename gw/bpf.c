/* SPDX-License-Identifier: MIT */
#include "gw/bpf.h"

#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/*
 * A tiny assembler: jumps name labels, resolved when the program is done.
 * Label 0 is "the next instruction".  Classic BPF jumps go forward only and
 * at most 255 instructions, checked at the end.
 */
enum { MAX_LABELS = 16 };

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

/* Unconditional jump to a label (ja k). */
static void jump(struct as *a, unsigned l)
{
	emit(a, BPF_JMP | BPF_JA, l, 0, 0);
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

	if (s->naddr == 0 || s->naddr > BPF_NAT_MAX_ADDR || s->ndnat > BPF_NAT_MAX_DNAT)
		return false;
	for (i = 0; i < s->ndnat; i++)
		if (s->dnat[i].proto != IPPROTO_TCP && s->dnat[i].proto != IPPROTO_UDP)
			return false;
	return true;
}

/* Offsets from the Ethernet header. */
enum {
	O_ETHERTYPE = 12,
	O_IP = 14,
	O_IP_FRAG = O_IP + 6,
	O_IP_PROTO = O_IP + 9,
	O_IP_DST = O_IP + 16,
	O_L4_DPORT = O_IP + 2, /* + the IP header length in X */
	O_ARP_TPA = O_IP + 24,
	M_PROTO = 0, /* scratch memory slot holding the IP protocol */
};

/* Jumps to yes when A holds one of the NAT addresses, else falls through. */
static void match_addr(struct as *a, const struct bpf_nat_spec *s, unsigned yes)
{
	unsigned i;

	for (i = 0; i < s->naddr; i++)
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, yes, 0, s->addr[i]);
}

/*
 * TCP or UDP to a NAT address (already checked), first fragment or whole:
 * jumps to yes when the destination port is ours, else to no.  The protocol
 * is in M[M_PROTO]; compares A = proto << 16 | dport against each entry.
 */
static void match_ports(struct as *a, const struct bpf_nat_spec *s, unsigned yes, unsigned no)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	unsigned i;

	stmt(a, BPF_LDX | BPF_B | BPF_MSH, O_IP);
	stmt(a, BPF_LD | BPF_H | BPF_IND, O_L4_DPORT);
	stmt(a, BPF_MISC | BPF_TAX, 0);
	stmt(a, BPF_LD | BPF_MEM, M_PROTO);
	stmt(a, BPF_ALU | BPF_LSH | BPF_K, 16);
	stmt(a, BPF_ALU | BPF_ADD | BPF_X, 0);
	if (s->lo <= s->hi) {
		for (i = 0; i < sizeof(protos); i++) {
			uint32_t base = (uint32_t)protos[i] << 16;
			unsigned skip = label(a);

			emit(a, BPF_JMP | BPF_JGE | BPF_K, 0, skip, base | s->lo);
			emit(a, BPF_JMP | BPF_JGT | BPF_K, skip, yes, base | s->hi);
			place(a, skip);
		}
	}
	for (i = 0; i < s->ndnat; i++)
		emit(a, BPF_JMP | BPF_JEQ | BPF_K, yes, 0,
		     (uint32_t)s->dnat[i].proto << 16 | s->dnat[i].port);
	jump(a, no);
}

int bpf_build_tc(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap)
{
	struct as a = { .p = prog, .cap = cap, .nlabels = 1 };
	unsigned shot, pass, ip, l4;

	if (!spec_ok(s))
		return -EINVAL;
	shot = label(&a);
	pass = label(&a);
	ip = label(&a);
	l4 = label(&a);

	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_ETHERTYPE);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, 0, pass, 0x0800);
	stmt(&a, BPF_LD | BPF_W | BPF_ABS, O_IP_DST);
	match_addr(&a, s, ip);
	jump(&a, pass);
	place(&a, ip);
	stmt(&a, BPF_LD | BPF_B | BPF_ABS, O_IP_PROTO);
	stmt(&a, BPF_ST, M_PROTO);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_TCP);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, l4, pass, IPPROTO_UDP);
	place(&a, l4);
	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_IP_FRAG);
	emit(&a, BPF_JMP | BPF_JSET | BPF_K, pass, 0, 0x1fff);
	match_ports(&a, s, shot, pass);
	place(&a, shot);
	stmt(&a, BPF_RET | BPF_K, (uint32_t)BPF_TC_SHOT);
	place(&a, pass);
	stmt(&a, BPF_RET | BPF_K, (uint32_t)BPF_TC_UNSPEC);
	return finish(&a);
}

int bpf_build_sk(const struct bpf_nat_spec *s, struct sock_filter *prog, size_t cap)
{
	struct as a = { .p = prog, .cap = cap, .nlabels = 1 };
	unsigned keep, drop, ip, l4, arp;

	if (!spec_ok(s))
		return -EINVAL;
	keep = label(&a);
	drop = label(&a);
	ip = label(&a);
	l4 = label(&a);
	arp = label(&a);

	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_ETHERTYPE);
	if (s->arp)
		emit(&a, BPF_JMP | BPF_JEQ | BPF_K, arp, 0, 0x0806);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, 0, drop, 0x0800);
	stmt(&a, BPF_LD | BPF_W | BPF_ABS, O_IP_DST);
	match_addr(&a, s, ip);
	jump(&a, drop);
	place(&a, ip);
	stmt(&a, BPF_LD | BPF_H | BPF_ABS, O_IP_FRAG);
	emit(&a, BPF_JMP | BPF_JSET | BPF_K, keep, 0, 0x1fff);
	stmt(&a, BPF_LD | BPF_B | BPF_ABS, O_IP_PROTO);
	stmt(&a, BPF_ST, M_PROTO);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, keep, 0, IPPROTO_ICMP);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, l4, 0, IPPROTO_TCP);
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, l4, drop, IPPROTO_UDP);
	place(&a, l4);
	match_ports(&a, s, keep, drop);
	place(&a, arp);
	if (s->arp) {
		stmt(&a, BPF_LD | BPF_W | BPF_ABS, O_ARP_TPA);
		match_addr(&a, s, keep);
		jump(&a, drop);
	}
	place(&a, keep);
	stmt(&a, BPF_RET | BPF_K, BPF_SK_ACCEPT);
	place(&a, drop);
	stmt(&a, BPF_RET | BPF_K, 0);
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
