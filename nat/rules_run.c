/* SPDX-License-Identifier: MIT */
/*
 * rules_run — one packet through one table, as ipt_do_table() walks it:
 *
 *  - start at the built-in chain of ctx->hook; rules in order;
 *  - a rule matches when its base part (addresses, interfaces, protocol,
 *    fragment) and every match do; it is then counted (packets, bytes of
 *    the IP total length) and traced, whatever its target;
 *  - -j CHAIN pushes the next rule and enters CHAIN; -g CHAIN enters it
 *    without pushing;
 *  - RETURN, or the end of a user chain, pops; with nothing to pop (a
 *    built-in chain, or a chain reached by -g from one), the built-in
 *    chain's policy decides and is counted;
 *  - targets return a verdict or continue (LOG, MARK, ...); a match that
 *    must drop the packet (hotdrop) drops it at once.
 *
 * The stack is bounded: load rejects chains nested more than
 * RULES_MAX_DEPTH deep, and only jumps push.
 */
#include <string.h>

#include "nat/pkt/pkt.h"
#include "nat/rules_int.h"

struct frame {
	uint32_t chain;
	uint32_t next;
};

static inline bool iface_match(const uint64_t dev[2], const uint8_t *name,
			       const uint8_t *mask, bool inv)
{
	uint64_t n[2], m[2];

	memcpy(n, name, sizeof(n));
	memcpy(m, mask, sizeof(m));
	return ((((dev[0] ^ n[0]) & m[0]) | ((dev[1] ^ n[1]) & m[1])) == 0) != inv;
}

/* ip_packet_match(), ip6_packet_match(): the packet's family is the
 * ruleset's (the caller runs IPv6 packets through IPv6 rules).  IPv4 keeps
 * its one-word compare; IPv6 compares 128 bits (IPv4 would compare the same
 * with zeros past .ip, one word is enough).  IPv6's proto is the upper
 * layer past the extension headers (the IPv6 parser walks hop-by-hop,
 * routing, fragment, AH and destination options as ipv6_find_hdr does), so
 * a -p of one of those never matches a packet that carries it, as in the
 * kernel. */
static inline bool ip_match(const struct rule_ip *ip, const struct pkt_hdr *h,
			    const uint64_t in[2], const uint64_t out[2], bool v6)
{
	uint8_t inv = ip->invflags;

	if (v6) {
		if (!ext_addr_masked_eq(&h->saddr, &ip->smsk, &ip->src) != !!(inv & IPINV_SRC) ||
		    !ext_addr_masked_eq(&h->daddr, &ip->dmsk, &ip->dst) != !!(inv & IPINV_DST))
			return false;
	} else if (((h->saddr.ip & ip->smsk.ip) != ip->src.ip) != !!(inv & IPINV_SRC) ||
		   ((h->daddr.ip & ip->dmsk.ip) != ip->dst.ip) != !!(inv & IPINV_DST)) {
		return false;
	}
	if (!iface_match(in, ip->iniface, ip->iniface_mask, inv & IPINV_VIA_IN) ||
	    !iface_match(out, ip->outiface, ip->outiface_mask, inv & IPINV_VIA_OUT))
		return false;
	if (ip->proto && (h->proto != ip->proto) != !!(inv & IPINV_PROTO))
		return false;
	if ((ip->flags & IPF_FRAG) && (h->frag_off == 0) != !!(inv & IPINV_FRAG))
		return false;
	return true;
}

static inline void hit(struct rules_trace *tr, enum nf_table t, uint32_t chain,
		       uint32_t rule, uint16_t bytes)
{
	if (!tr)
		return;
	if (tr->n < tr->max)
		tr->hits[tr->n++] = (struct rules_hit){
			.table = (uint8_t)t, .chain = (uint16_t)chain, .rule = (uint16_t)rule,
			.bytes = bytes,
		};
	else
		tr->dropped++;
}

enum nf_verdict rules_run(struct rules *r, enum nf_table t, struct nf_ctx *ctx,
			  struct rules_trace *trace)
{
	struct rules_table *tb;
	struct frame stack[RULES_MAX_DEPTH + 1];
	unsigned int sp = 0;
	struct ext_pkt xp;
	uint64_t in[2], out[2];
	const struct rules_chain *ch;
	struct rules_chain *pol;
	uint32_t c, i, end;
	int32_t root;
	bool v6;

	if (!r || (unsigned int)t >= NF_TABLE_MAX || (unsigned int)ctx->hook >= NF_HOOK_MAX)
		return NF_ACCEPT;
	tb = &r->t[t];
	v6 = r->family == NF_V6;
	root = tb->hook_chain[ctx->hook];
	if (root < 0)
		return NF_ACCEPT;
	memcpy(in, ctx->in, sizeof(in));
	memcpy(out, ctx->out, sizeof(out));
	xp.ctx = ctx;
	xp.h = &ctx->pkt->outer;
	xp.hotdrop = false;

	c = (uint32_t)root;
	ch = &tb->chains[c];
	i = ch->first;
	end = i + ch->n;
	for (;;) {
		struct rule *rl;
		unsigned int k;
		int v;

		if (i == end) {
			if (sp == 0)
				break;  /* end of a built-in chain, or of one reached by -g */
			sp--;
			c = stack[sp].chain;
			i = stack[sp].next;
			end = tb->chains[c].first + tb->chains[c].n;
			continue;
		}
		rl = &tb->rules[i];
		if (!ip_match(&rl->ip, xp.h, in, out, v6)) {
			i++;
			continue;
		}
		for (k = 0; k < rl->nmatch; k++) {
			const struct rule_match *m = &tb->matches[rl->match0 + k];

			if (!m->ext->match(m->data, &xp))
				break;
		}
		if (k < rl->nmatch) {
			if (xp.hotdrop)
				return NF_DROP;
			i++;
			continue;
		}
		rl->pcnt++;
		rl->bcnt += xp.h->tot_len;
		hit(trace, t, c, i - tb->chains[c].first + 1, xp.h->tot_len);
		switch (rl->kind) {
		case RK_NONE:
			i++;
			continue;
		case RK_ACCEPT:
			return NF_ACCEPT;
		case RK_DROP:
			return NF_DROP;
		case RK_RETURN:
			i = end;
			continue;
		case RK_JUMP:
			if (sp == RULES_MAX_DEPTH + 1)
				return NF_DROP;  /* load makes this impossible */
			stack[sp].chain = c;
			stack[sp].next = i + 1;
			sp++;
			/* fall through */
		case RK_GOTO:
			c = rl->chain;
			i = tb->chains[c].first;
			end = i + tb->chains[c].n;
			continue;
		case RK_EXT:
			v = rl->target->target(rl->tdata, &xp);
			if (v == EXT_CONTINUE) {
				i++;
				continue;
			}
			return (enum nf_verdict)v;
		default:
			return NF_DROP;
		}
	}
	pol = &tb->chains[root];
	pol->pcnt++;
	pol->bcnt += xp.h->tot_len;
	hit(trace, t, (uint32_t)root, 0, xp.h->tot_len);
	return (enum nf_verdict)pol->policy;
}
