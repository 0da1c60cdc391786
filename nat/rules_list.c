/* SPDX-License-Identifier: MIT */
/*
 * rules_list — a table as Debian 12's iptables -L prints it (1.8.9,
 * nf_tables: print_header, print_rule_details, print_ifaces,
 * print_ipv4_addresses, then each match's and the target's print()):
 *
 *  - chains in save order, one blank line between them; a built-in chain's
 *    header has its policy (and, with -v, the policy counters), a user
 *    chain's the number of rules that jump or go to it;
 *  - columns as iptables pads them, counters as xtables_print_num (K, M,
 *    G, T by thousands, rounded, unless -x); a field wider than its column
 *    pushes the rest of the line right;
 *  - with -n the protocol is a number ("0" for any), without it "all" or
 *    the /etc/protocols name; "*" or "any" for no interface; "anywhere"
 *    for a /0 address without -n;
 *  - "[goto] " before the matches of a -g rule; NOTRACK's column reads "CT"
 *    (libxt_CT's alias).
 */
#include <stdbool.h>
#include <string.h>

#include "nat/rules_int.h"
#include "nat/sbuf.h"

enum {
	F_VERBOSE = RULES_LIST_VERBOSE,
	F_NUMERIC = RULES_LIST_NUMERIC,
	F_EXACT = RULES_LIST_EXACT,
	F_LINES = RULES_LIST_LINE_NUMBERS,
};

/* xtables_print_num(): table columns unless notable (the policy header). */
static void put_num(struct sbuf *out, uint64_t n, unsigned int flags, bool notable)
{
	static const char units[] = "KMG";
	unsigned long long v = n;

	if (flags & F_EXACT) {
		sbuf_printf(out, notable ? "%llu " : "%8llu ", v);
		return;
	}
	if (v <= 99999) {
		sbuf_printf(out, notable ? "%llu " : "%5llu ", v);
		return;
	}
	for (int i = 0; i < 3; i++) {
		v = (v + 500) / 1000;
		if (v <= 9999) {
			sbuf_printf(out, notable ? "%llu%c " : "%4llu%c ", v, units[i]);
			return;
		}
	}
	v = (v + 500) / 1000;
	sbuf_printf(out, notable ? "%lluT " : "%4lluT ", v);
}

static unsigned int refs(const struct rules_table *t, uint32_t chain)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < t->nrules; i++)
		if ((t->rules[i].kind == RK_JUMP || t->rules[i].kind == RK_GOTO) &&
		    t->rules[i].chain == chain)
			n++;
	return n;
}

static void put_header(struct sbuf *out, const struct rules_table *t, uint32_t c,
		       unsigned int flags)
{
	const struct rules_chain *ch = &t->chains[c];

	sbuf_printf(out, "Chain %s", ch->name);
	if (ch->builtin) {
		sbuf_printf(out, " (policy %s", ch->policy == NF_DROP ? "DROP" : "ACCEPT");
		if (flags & F_VERBOSE) {
			sbuf_add(out, " ");
			put_num(out, ch->pcnt, flags, true);
			sbuf_add(out, "packets, ");
			put_num(out, ch->bcnt, flags, true);
			sbuf_add(out, "bytes");
		}
		sbuf_add(out, ")\n");
	} else {
		sbuf_printf(out, " (%u references)\n", refs(t, c));
	}
	if (flags & F_LINES)
		sbuf_add(out, "num  ");
	if (flags & F_VERBOSE)
		sbuf_add(out, flags & F_EXACT ? "    pkts      bytes " : " pkts bytes ");
	sbuf_add(out, "target     prot opt");
	if (flags & F_VERBOSE)
		sbuf_add(out, " in     out    ");
	sbuf_printf(out, " %-19s  %-19s \n", "source", "destination");
}

static void put_iface(struct sbuf *out, const uint8_t *name, const uint8_t *mask, bool inv,
		      unsigned int flags)
{
	char buf[EXT_IFNAMSIZ + 2];
	bool any = true;
	size_t n = 0;

	for (int i = 0; i < EXT_IFNAMSIZ; i++)
		any = any && !mask[i];
	if (!name[0] || (any && !inv)) {
		sbuf_printf(out, "%-6s ", flags & F_NUMERIC ? "*" : "any");
		return;
	}
	if (inv)
		buf[n++] = '!';
	for (int i = 0; i < EXT_IFNAMSIZ && name[i]; i++)
		buf[n++] = (char)name[i];
	buf[n] = '\0';
	sbuf_printf(out, "%-6s ", buf);
}

static void put_addr(struct sbuf *out, uint32_t addr, uint32_t mask, bool inv,
		     unsigned int flags)
{
	struct sbuf a;

	sbuf_add(out, inv ? "!" : " ");
	if (!mask && !(flags & F_NUMERIC)) {
		sbuf_printf(out, "%-19s ", "anywhere");
		return;
	}
	sbuf_init(&a);
	ext_put_addr(&a, addr);
	ext_put_mask(&a, mask, true);
	sbuf_printf(out, "%-19s ", a.oom ? "" : a.buf);
	if (a.oom)
		out->oom = true;
	sbuf_free(&a);
}

static void put_proto(struct sbuf *out, const struct rule_ip *ip, unsigned int flags)
{
	const char *name = NULL;

	sbuf_add(out, ip->invflags & IPINV_PROTO ? "!" : " ");
	if (!(flags & F_NUMERIC))
		name = ip->proto ? ext_proto_name(ip->proto) : "all";
	if (name)
		sbuf_printf(out, "%-4s ", name);
	else
		sbuf_printf(out, "%-4u ", ip->proto);
}

static const char *target_name(const struct rules_table *t, const struct rule *rl)
{
	switch (rl->kind) {
	case RK_ACCEPT:
		return "ACCEPT";
	case RK_DROP:
		return "DROP";
	case RK_RETURN:
		return "RETURN";
	case RK_JUMP:
	case RK_GOTO:
		return t->chains[rl->chain].name;
	case RK_EXT:
		/* libxt_CT registers NOTRACK as an alias of CT */
		return strcmp(rl->target->name, "NOTRACK") == 0 ? "CT" : rl->target->name;
	default:
		return "";
	}
}

static void put_rule(struct sbuf *out, const struct rules_table *t, const struct rule *rl,
		     unsigned int num, unsigned int flags)
{
	const struct rule_ip *ip = &rl->ip;

	if (flags & F_LINES)
		sbuf_printf(out, "%-4u ", num);
	if (flags & F_VERBOSE) {
		put_num(out, rl->pcnt, flags, false);
		put_num(out, rl->bcnt, flags, false);
	}
	sbuf_printf(out, "%-9s ", target_name(t, rl));
	put_proto(out, ip, flags);
	sbuf_printf(out, "%c%c ", ip->invflags & IPINV_FRAG ? '!' : '-',
		    ip->flags & IPF_FRAG ? 'f' : '-');
	if (flags & F_VERBOSE) {
		sbuf_add(out, " ");
		put_iface(out, ip->iniface, ip->iniface_mask, ip->invflags & IPINV_VIA_IN, flags);
		put_iface(out, ip->outiface, ip->outiface_mask, ip->invflags & IPINV_VIA_OUT,
			  flags);
	}
	put_addr(out, ip->src, ip->smsk, ip->invflags & IPINV_SRC, flags);
	put_addr(out, ip->dst, ip->dmsk, ip->invflags & IPINV_DST, flags);
	if (rl->kind == RK_GOTO)
		sbuf_add(out, "[goto] ");
	for (uint32_t k = rl->match0; k < rl->match0 + rl->nmatch; k++) {
		const struct rule_match *m = &t->matches[k];

		if (m->ext->print)
			m->ext->print(m->data, ip, flags & F_NUMERIC, out);
		else
			sbuf_printf(out, "%s ", m->ext->name);
	}
	if (rl->kind == RK_EXT && rl->target->print)
		rl->target->print(rl->tdata, ip, flags & F_NUMERIC, out);
	sbuf_add(out, "\n");
}

/* A table no restore has created: iptables-nft lists its built-in chains,
 * empty, with ACCEPT policies and no counters. */
static void list_empty(enum nf_table table, const char *chain, unsigned int flags,
		       struct sbuf *out)
{
	struct rules_chain ch = { .builtin = true, .policy = NF_ACCEPT };
	struct rules_table t = { .nchains = 1, .chains = &ch };
	bool first = true;

	for (int h = 0; h < NF_HOOK_MAX; h++) {
		const char *name = rules_hook_name((enum nf_hook)h);

		if (!rules_hook_in_table(table, (enum nf_hook)h) ||
		    (chain && strcmp(chain, name) != 0))
			continue;
		memcpy(ch.name, name, strlen(name) + 1);
		if (!first)
			sbuf_add(out, "\n");
		first = false;
		put_header(out, &t, 0, flags);
	}
}

void rules_list(const struct rules *r, enum nf_table table, const char *chain,
		unsigned int flags, struct sbuf *out)
{
	const struct rules_table *t = &r->t[table];
	bool first = true;

	if (!t->nchains) {
		list_empty(table, chain, flags, out);
		return;
	}
	for (uint32_t c = 0; c < t->nchains; c++) {
		const struct rules_chain *ch = &t->chains[c];

		if (chain && strcmp(chain, ch->name) != 0)
			continue;
		if (!first)
			sbuf_add(out, "\n");
		first = false;
		put_header(out, t, c, flags);
		for (uint32_t i = 0; i < ch->n; i++)
			put_rule(out, t, &t->rules[ch->first + i], i + 1, flags);
	}
}
