/* SPDX-License-Identifier: MIT */
/* What the nat table asks of the uplink: see rules_uplink.h. */
#include "nat/rules_uplink.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nat/rules_int.h"

enum {
	PS_MAX = 2 * RULES_UPLINK_MAX_PORTS, /* while narrowing a path */
	P_TCP = 1, P_UDP = 2, P_OTHER = 4, P_ALL = 7,
};

/* Inclusive ranges, sorted, disjoint and not adjacent. */
struct pset {
	unsigned n;
	uint16_t lo[PS_MAX], hi[PS_MAX];
};

/* What a path of rules lets through so far. */
struct cond {
	uint8_t protos;		/* P_* */
	uint64_t addrs;		/* bit i: addrs[i] is still possible */
	struct pset tcp, udp;	/* destination ports */
};

struct walk {
	const struct rules_table *t;
	uint8_t family;		/* the ruleset's: NF_V4 or NF_V6 */
	uint8_t dev[EXT_IFNAMSIZ];	/* the uplink's name, NUL-padded */
	const union nf_addr *addrs;
	unsigned naddrs;
	const union nf_addr *host;	/* sorted (rules_uplink_addr_cmp) */
	unsigned nhost;
	unsigned steps;
	int err;
	struct pset tcp, udp;
	struct rules_uplink *out;
};

/* ---- addresses ---------------------------------------------------------- */

int rules_uplink_addr_cmp(uint8_t family, const union nf_addr *a, const union nf_addr *b)
{
	if (family == NF_V6)
		return memcmp(a->b, b->b, sizeof(a->b));
	return a->ip < b->ip ? -1 : a->ip > b->ip;
}

/* *a + 1 in its family; false when a is the family's last address. */
static bool addr_next(uint8_t family, union nf_addr *a)
{
	if (family != NF_V6)
		return ++a->ip != 0;
	for (int i = 15; i >= 0; i--)
		if (++a->b[i])
			return true;
	return false;
}

/* ---- port sets ---------------------------------------------------------- */

static void ps_full(struct pset *s)
{
	s->n = 1;
	s->lo[0] = 0;
	s->hi[0] = 0xffff;
}

/* Sorts and merges n ranges lo/hi (lo > hi: empty, dropped) into s.
 * -E2BIG when the result has more than PS_MAX ranges. */
static int ps_make(struct pset *s, const uint16_t *lo, const uint16_t *hi, unsigned n)
{
	uint16_t l[2 * PS_MAX], h[2 * PS_MAX];
	unsigned i, j, m = 0;

	for (i = 0; i < n; i++) {
		if (lo[i] > hi[i])
			continue;
		/* insertion sort: n is small */
		for (j = m; j > 0 && l[j - 1] > lo[i]; j--) {
			l[j] = l[j - 1];
			h[j] = h[j - 1];
		}
		l[j] = lo[i];
		h[j] = hi[i];
		m++;
	}
	s->n = 0;
	for (i = 0; i < m; i++) {
		if (s->n && (uint32_t)l[i] <= (uint32_t)s->hi[s->n - 1] + 1) {
			if (h[i] > s->hi[s->n - 1])
				s->hi[s->n - 1] = h[i];
			continue;
		}
		if (s->n == PS_MAX)
			return -E2BIG;
		s->lo[s->n] = l[i];
		s->hi[s->n] = h[i];
		s->n++;
	}
	return 0;
}

/* The ports not in s: at most s->n + 1 ranges, -E2BIG beyond PS_MAX. */
static int ps_invert(struct pset *s)
{
	struct pset c = { 0 };
	uint32_t next = 0;
	unsigned i;

	for (i = 0; i <= s->n; i++) {
		uint32_t end = i < s->n ? s->lo[i] : 0x10000;

		if (end > next) {
			if (c.n == PS_MAX)
				return -E2BIG;
			c.lo[c.n] = (uint16_t)next;
			c.hi[c.n] = (uint16_t)(end - 1);
			c.n++;
		}
		if (i < s->n)
			next = (uint32_t)s->hi[i] + 1;
	}
	*s = c;
	return 0;
}

/* a = a ∩ b.  The intersection of two sets has at most a.n + b.n - 1
 * ranges; -E2BIG when that is more than PS_MAX. */
static int ps_and(struct pset *a, const struct pset *b)
{
	struct pset r = { 0 };
	unsigned i = 0, j = 0;

	while (i < a->n && j < b->n) {
		uint16_t lo = a->lo[i] > b->lo[j] ? a->lo[i] : b->lo[j];
		uint16_t hi = a->hi[i] < b->hi[j] ? a->hi[i] : b->hi[j];

		if (lo <= hi) {
			if (r.n == PS_MAX)
				return -E2BIG;
			r.lo[r.n] = lo;
			r.hi[r.n] = hi;
			r.n++;
		}
		if (a->hi[i] < b->hi[j])
			i++;
		else
			j++;
	}
	*a = r;
	return 0;
}

/* a = a ∪ b. */
static int ps_or(struct pset *a, const struct pset *b)
{
	uint16_t lo[2 * PS_MAX], hi[2 * PS_MAX];

	memcpy(lo, a->lo, a->n * sizeof(lo[0]));
	memcpy(hi, a->hi, a->n * sizeof(hi[0]));
	memcpy(lo + a->n, b->lo, b->n * sizeof(lo[0]));
	memcpy(hi + a->n, b->hi, b->n * sizeof(hi[0]));
	return ps_make(a, lo, hi, a->n + b->n);
}

/* ---- one rule narrows a path ------------------------------------------ */

static bool iface_ok(const uint8_t dev[EXT_IFNAMSIZ], const uint8_t *name, const uint8_t *mask,
		     bool inv)
{
	uint8_t diff = 0;

	for (unsigned i = 0; i < EXT_IFNAMSIZ; i++)
		diff |= (uint8_t)((dev[i] ^ name[i]) & mask[i]);
	return (diff == 0) != inv;
}

static uint8_t proto_bits(const struct rule_ip *ip)
{
	uint8_t p = ip->proto == 6 ? P_TCP : ip->proto == 17 ? P_UDP : P_OTHER;

	if (!ip->proto)
		return P_ALL;
	if (!(ip->invflags & IPINV_PROTO))
		return p;
	/* "! -p icmp" still takes every other protocol gw does not port-match */
	return p == P_OTHER ? P_ALL : (uint8_t)(P_ALL & ~p);
}

/* The destination ports of the rule's matches narrow c's set for the rule's
 * protocol (tcp, udp and multiport need a plain -p). */
static int narrow_ports(struct walk *w, const struct rule *rl, struct cond *c)
{
	struct pset *s = rl->ip.proto == 6 ? &c->tcp : rl->ip.proto == 17 ? &c->udp : NULL;
	uint16_t lo[EXT_DPORTS_MAX], hi[EXT_DPORTS_MAX];

	if (!s || (rl->ip.invflags & IPINV_PROTO))
		return 0;
	for (unsigned k = 0; k < rl->nmatch; k++) {
		const struct rule_match *m = &w->t->matches[rl->match0 + k];
		struct pset p;
		bool inv = false;
		int n;

		if (!m->ext->dports)
			continue;
		n = m->ext->dports(m->data, lo, hi, &inv);
		if (n < 0)
			continue;
		if (ps_make(&p, lo, hi, (unsigned)n) < 0 || (inv && ps_invert(&p) < 0) ||
		    ps_and(s, &p) < 0)
			return -E2BIG;
	}
	return 0;
}

/* c narrowed by rule rl; false when nothing of the uplink's traffic is left. */
static bool narrow(struct walk *w, const struct rule *rl, struct cond *c)
{
	const struct rule_ip *ip = &rl->ip;
	uint64_t keep = 0;

	if (!iface_ok(w->dev, ip->iniface, ip->iniface_mask, ip->invflags & IPINV_VIA_IN))
		return false;
	if (!w->addrs && (!nf_addr_is_zero(&ip->dmsk) || (ip->invflags & IPINV_DST)))
		return false; /* the address is not known: a -d may not match it */
	/* (an IPv4 address has zeros past .ip, as its mask has: one compare
	 * for both families) */
	for (unsigned i = 0; i < w->naddrs; i++)
		if ((c->addrs >> i & 1) &&
		    ext_addr_masked_eq(&w->addrs[i], &ip->dmsk, &ip->dst) !=
			    !!(ip->invflags & IPINV_DST))
			keep |= (uint64_t)1 << i;
	if (w->addrs)
		c->addrs = keep;
	c->protos &= proto_bits(ip);
	if (narrow_ports(w, rl, c) < 0) {
		w->err = -E2BIG;
		return false;
	}
	if (!c->tcp.n)
		c->protos &= (uint8_t)~P_TCP;
	if (!c->udp.n)
		c->protos &= (uint8_t)~P_UDP;
	return c->addrs && c->protos;
}

/* REDIRECT, DNAT with only a port (the destination stays the uplink's), or
 * DNAT to a range that holds an address of the host. */
static bool to_local(const struct walk *w, const struct rule *rl)
{
	const struct nat_range *nr = ext_nat_range(rl->target, rl->tdata);
	unsigned lo = 0, hi = w->nhost;

	if (rl->target == &t_redirect)
		return true;
	if (!nr)
		return false;
	if (!(nr->flags & NAT_F_MAP_IPS))
		return true;
	for (unsigned i = 0; i < w->naddrs; i++)
		if (rules_uplink_addr_cmp(w->family, &w->addrs[i], &nr->min_addr) >= 0 &&
		    rules_uplink_addr_cmp(w->family, &w->addrs[i], &nr->max_addr) <= 0)
			return true;
	/* the first host address >= min_addr */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (rules_uplink_addr_cmp(w->family, &w->host[mid], &nr->min_addr) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->nhost && rules_uplink_addr_cmp(w->family, &w->host[lo], &nr->max_addr) <= 0;
}

/* A DNAT or REDIRECT rule at the end of a path catches what c says. */
static void caught(struct walk *w, const struct rule *rl, const struct cond *c)
{
	w->out->ndnat++;
	if (c->protos & P_OTHER)
		w->out->nother++;
	if (to_local(w, rl))
		w->out->nlocal++;
	if (((c->protos & P_TCP) && ps_or(&w->tcp, &c->tcp) < 0) ||
	    ((c->protos & P_UDP) && ps_or(&w->udp, &c->udp) < 0))
		w->err = -E2BIG;
}

static void walk_dnat(struct walk *w, uint32_t chain, const struct cond *c)
{
	const struct rules_chain *ch = &w->t->chains[chain];

	for (uint32_t i = ch->first; i < ch->first + ch->n && !w->err; i++) {
		const struct rule *rl = &w->t->rules[i];
		struct cond n;

		if (++w->steps > RULES_UPLINK_MAX_STEPS) {
			w->err = -ELOOP;
			return;
		}
		if (rl->kind != RK_JUMP && rl->kind != RK_GOTO &&
		    !(rl->kind == RK_EXT && (rl->target == &t_dnat || rl->target == &t_redirect)))
			continue;
		n = *c;
		if (!narrow(w, rl, &n))
			continue;
		if (rl->kind == RK_EXT)
			caught(w, rl, &n);
		else
			walk_dnat(w, rl->chain, &n); /* depth bounded at load */
	}
}

/* ---- SNAT addresses ----------------------------------------------------- */

static int add_snat(struct rules_uplink *out, uint8_t family, union nf_addr lo, union nf_addr hi)
{
	unsigned i, j;

	if (rules_uplink_addr_cmp(family, &lo, &hi) > 0) {
		union nf_addr t = lo;

		lo = hi;
		hi = t;
	}
	for (i = 0; i < out->nsnat && rules_uplink_addr_cmp(family, &out->snat_lo[i], &lo) < 0; i++)
		;
	if (out->nsnat == RULES_UPLINK_MAX_SNAT)
		return -E2BIG;
	memmove(out->snat_lo + i + 1, out->snat_lo + i, (out->nsnat - i) * sizeof(lo));
	memmove(out->snat_hi + i + 1, out->snat_hi + i, (out->nsnat - i) * sizeof(hi));
	out->snat_lo[i] = lo;
	out->snat_hi[i] = hi;
	out->nsnat++;
	/* merge what overlaps or touches */
	for (i = j = 0; i < out->nsnat; i++) {
		if (j) {
			union nf_addr next = out->snat_hi[j - 1];

			/* (the last address touches nothing after it: none is) */
			if (!addr_next(family, &next) ||
			    rules_uplink_addr_cmp(family, &out->snat_lo[i], &next) <= 0) {
				if (rules_uplink_addr_cmp(family, &out->snat_hi[i],
							  &out->snat_hi[j - 1]) > 0)
					out->snat_hi[j - 1] = out->snat_hi[i];
				continue;
			}
		}
		out->snat_lo[j] = out->snat_lo[i];
		out->snat_hi[j] = out->snat_hi[i];
		j++;
	}
	out->nsnat = j;
	return 0;
}

/* Every chain is walked once: a path's only condition is its -o. */
static void walk_snat(struct walk *w, uint32_t chain, uint8_t *seen)
{
	const struct rules_chain *ch = &w->t->chains[chain];

	seen[chain / 8] |= (uint8_t)(1u << (chain % 8));
	for (uint32_t i = ch->first; i < ch->first + ch->n && !w->err; i++) {
		const struct rule *rl = &w->t->rules[i];
		const struct nat_range *nr;

		if (!iface_ok(w->dev, rl->ip.outiface, rl->ip.outiface_mask,
			      rl->ip.invflags & IPINV_VIA_OUT))
			continue;
		if (rl->kind == RK_JUMP || rl->kind == RK_GOTO) {
			if (!(seen[rl->chain / 8] & (1u << (rl->chain % 8))))
				walk_snat(w, rl->chain, seen);
			continue;
		}
		if (rl->kind != RK_EXT || rl->target != &t_snat)
			continue;
		nr = ext_nat_range(rl->target, rl->tdata);
		if (nr && (nr->flags & NAT_F_MAP_IPS) &&
		    add_snat(w->out, w->family, nr->min_addr, nr->max_addr))
			w->err = -E2BIG;
	}
}

/* ---- the result --------------------------------------------------------- */

static int export(struct rules_portset *dst, const struct pset *src)
{
	if (src->n > RULES_UPLINK_MAX_PORTS)
		return -E2BIG;
	dst->n = src->n;
	memcpy(dst->lo, src->lo, src->n * sizeof(src->lo[0]));
	memcpy(dst->hi, src->hi, src->n * sizeof(src->hi[0]));
	return 0;
}

int rules_uplink(const struct rules *r, const char *uplink, const union nf_addr *addrs,
		 unsigned n, const union nf_addr *host, unsigned nhost, struct rules_uplink *out, char *err,
		 size_t errlen)
{
	struct walk w = { .addrs = addrs, .host = host, .nhost = host ? nhost : 0, .out = out };
	uint8_t seen[(UINT16_MAX + 1) / 8];
	struct cond c = { .protos = P_ALL };
	const char *v6;
	int32_t root;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!r)
		return 0;
	w.family = r->family;
	v6 = r->family == NF_V6 ? "IPv6 " : "";
	w.t = &r->t[NF_NAT];
	strncpy((char *)w.dev, uplink, sizeof(w.dev) - 1);
	w.naddrs = n < RULES_UPLINK_MAX_ADDRS ? n : RULES_UPLINK_MAX_ADDRS;
	/* no addresses: one unknown address that no -d is taken to match */
	c.addrs = addrs ? ((uint64_t)1 << w.naddrs) - 1 : 1;
	ps_full(&c.tcp);
	ps_full(&c.udp);

	root = w.t->hook_chain[NF_PREROUTING];
	if (root >= 0 && c.addrs)
		walk_dnat(&w, (uint32_t)root, &c);
	if (w.err == -ELOOP) {
		snprintf(err, errlen, "%snat PREROUTING has more than %u rules on its paths to "
			 "DNAT rules: too many to work out the uplink's DNAT-ed ports", v6,
			 (unsigned)RULES_UPLINK_MAX_STEPS);
		return w.err;
	}
	if (w.err || export(&out->tcp, &w.tcp) || export(&out->udp, &w.udp)) {
		snprintf(err, errlen, "%sDNAT and REDIRECT rules for %s need more than %u port "
			 "ranges per protocol (tcp %u, udp %u after merging)", v6, uplink,
			 (unsigned)RULES_UPLINK_MAX_PORTS, w.tcp.n, w.udp.n);
		return -E2BIG;
	}

	root = w.t->hook_chain[NF_POSTROUTING];
	memset(seen, 0, sizeof(seen));
	if (root >= 0)
		walk_snat(&w, (uint32_t)root, seen);
	if (w.err) {
		snprintf(err, errlen, "%sSNAT rules for %s need more than %u address ranges", v6,
			 uplink,
			 (unsigned)RULES_UPLINK_MAX_SNAT);
		return w.err;
	}
	return 0;
}

/* ---- port sets within the cap ------------------------------------------- */

unsigned rules_portset_append(struct rules_portset *s, uint16_t lo, uint16_t hi)
{
	unsigned best = 0, added;
	uint32_t gap = UINT32_MAX;

	if (s->n && lo <= (uint32_t)s->hi[s->n - 1] + 1) {
		if (hi > s->hi[s->n - 1])
			s->hi[s->n - 1] = hi;
		return 0;
	}
	if (s->n < RULES_UPLINK_MAX_PORTS) {
		s->lo[s->n] = lo;
		s->hi[s->n++] = hi;
		return 0;
	}
	/* full: the smallest gap of the n + 1 ranges is closed */
	for (unsigned i = 0; i + 1 < s->n; i++) {
		if ((uint32_t)s->lo[i + 1] - s->hi[i] < gap) {
			gap = (uint32_t)s->lo[i + 1] - s->hi[i];
			best = i;
		}
	}
	if ((uint32_t)lo - s->hi[s->n - 1] < gap) {
		added = (unsigned)(lo - s->hi[s->n - 1] - 1);
		s->hi[s->n - 1] = hi;
		return added;
	}
	added = gap - 1;
	s->hi[best] = s->hi[best + 1];
	memmove(&s->lo[best + 1], &s->lo[best + 2], (s->n - best - 2) * sizeof(s->lo[0]));
	memmove(&s->hi[best + 1], &s->hi[best + 2], (s->n - best - 2) * sizeof(s->hi[0]));
	s->lo[s->n - 1] = lo;
	s->hi[s->n - 1] = hi;
	return added;
}

unsigned rules_portset_union(struct rules_portset *s, const struct rules_portset *o)
{
	struct rules_portset a = *s;
	unsigned i = 0, k = 0, added = 0;

	s->n = 0;
	while (i < a.n || k < o->n) {
		bool mine = k == o->n || (i < a.n && a.lo[i] <= o->lo[k]);

		if (mine) {
			added += rules_portset_append(s, a.lo[i], a.hi[i]);
			i++;
		} else {
			added += rules_portset_append(s, o->lo[k], o->hi[k]);
			k++;
		}
	}
	return added;
}

bool rules_portset_equal(const struct rules_portset *a, const struct rules_portset *b)
{
	return a->n == b->n && !memcmp(a->lo, b->lo, a->n * sizeof(a->lo[0])) &&
	       !memcmp(a->hi, b->hi, a->n * sizeof(a->hi[0]));
}
