/* SPDX-License-Identifier: MIT */
/*
 * m_iprange — the iprange match (revision 1): inclusive source and/or
 * destination address ranges.  Addresses in iptables' numeric form;
 * "a" alone is "a-a"; a reversed range is kept (it never matches).
 * Saved as "[!] --src-range a-b [!] --dst-range a-b".  IPv6 (ip6tables):
 * numeric IPv6 addresses (inet_pton), compared as 128-bit numbers.
 */
#include <string.h>

#include "nat/ext.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

enum { R_SRC = 1, R_DST = 2, R_SRC_INV = 0x10, R_DST_INV = 0x20 };

struct iprange_info {
	union nf_addr src[2], dst[2];   /* of family (nat/pkt/addr.h) */
	uint8_t flags;
	uint8_t family;                 /* NF_V4 or NF_V6 */
};

static const struct ext_opt iprange_opts[] = {
	{ "src-range", 0, 1, EXT_O_INV },
	{ "dst-range", 1, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static bool parse_addr(uint8_t family, const char *s, union nf_addr *a)
{
	uint32_t v;

	if (family == NF_V6)
		return ext_parse_ip6addr(s, a);
	if (!ext_parse_ipaddr(s, &v))
		return false;
	*a = nf_addr4(v);
	return true;
}

static int iprange_parse(void *data, unsigned int id, char *const *args, bool inv,
			 struct ext_parse *pc)
{
	struct iprange_info *r = data;
	union nf_addr *range = id ? r->dst : r->src;
	const char *opt = id ? "--dst-range" : "--src-range";
	char *arg = args[0], *dash = strchr(arg, '-');
	bool ok;

	r->family = pc->family;
	if (dash)
		*dash = '\0';
	ok = parse_addr(r->family, arg, &range[0]);
	if (!ok) {
		if (dash)
			*dash = '-';
		return ext_fail(pc, args[0], "iprange: Bad value for \"%s\" option: \"%s\"", opt,
				arg);
	}
	range[1] = range[0];
	if (dash) {
		*dash = '-';
		if (!parse_addr(r->family, dash + 1, &range[1]))
			return ext_fail(pc, args[0], "iprange: Bad value for \"%s\" option: \"%s\"",
					opt, dash + 1);
	}
	r->flags |= id ? R_DST : R_SRC;
	if (inv)
		r->flags |= id ? R_DST_INV : R_SRC_INV;
	return 0;
}

static int iprange_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!seen)
		return ext_fail(pc, "iprange",
				"iprange match: You must specify \"--src-range\" or \"--dst-range\"");
	return 0;
}

/* IPv6 addresses in network order compare as big-endian numbers. */
static bool in_range(uint8_t family, const union nf_addr *a, const union nf_addr *range)
{
	if (family == NF_V6)
		return memcmp(a->b, range[0].b, 16) >= 0 && memcmp(a->b, range[1].b, 16) <= 0;
	return a->ip >= range[0].ip && a->ip <= range[1].ip;
}

static bool iprange_match(void *data, struct ext_pkt *xp)
{
	const struct iprange_info *r = data;
	const struct pkt_hdr *h = xp->h;

	if ((r->flags & R_SRC) &&
	    in_range(r->family, &h->saddr, r->src) == !!(r->flags & R_SRC_INV))
		return false;
	if ((r->flags & R_DST) &&
	    in_range(r->family, &h->daddr, r->dst) == !!(r->flags & R_DST_INV))
		return false;
	return true;
}

static void put_range(struct sbuf *out, uint8_t family, const char *opt,
		      const union nf_addr *range, bool inv)
{
	sbuf_printf(out, "%s %s ", inv ? " !" : "", opt);
	ext_put_addr_fam(out, family, &range[0]);
	sbuf_add(out, "-");
	ext_put_addr_fam(out, family, &range[1]);
}

static void iprange_save(const void *data, struct sbuf *out)
{
	const struct iprange_info *r = data;

	if (r->flags & R_SRC)
		put_range(out, r->family, "--src-range", r->src, r->flags & R_SRC_INV);
	if (r->flags & R_DST)
		put_range(out, r->family, "--dst-range", r->dst, r->flags & R_DST_INV);
}

/* libxt_iprange print(): always numeric. */
static void print_range(struct sbuf *out, uint8_t family, const char *what,
			const union nf_addr *range, bool inv)
{
	sbuf_printf(out, " %s IP range%s ", what, inv ? " !" : "");
	ext_put_addr_fam(out, family, &range[0]);
	sbuf_add(out, "-");
	ext_put_addr_fam(out, family, &range[1]);
}

static void iprange_print(const void *data, const struct rule_ip *ip, bool numeric,
			  struct sbuf *out)
{
	const struct iprange_info *r = data;

	(void)ip;
	(void)numeric;
	if (r->flags & R_SRC)
		print_range(out, r->family, "source", r->src, r->flags & R_SRC_INV);
	if (r->flags & R_DST)
		print_range(out, r->family, "destination", r->dst, r->flags & R_DST_INV);
}

const struct ext m_iprange = {
	.name = "iprange",
	.size = sizeof(struct iprange_info),
	.opts = iprange_opts,
	.parse = iprange_parse,
	.final = iprange_final,
	.match = iprange_match,
	.save = iprange_save,
	.print = iprange_print,
};
