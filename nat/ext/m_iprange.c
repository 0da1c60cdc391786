/* SPDX-License-Identifier: MIT */
/*
 * m_iprange — the iprange match (revision 1): inclusive source and/or
 * destination address ranges.  Addresses in iptables' numeric form;
 * "a" alone is "a-a"; a reversed range is kept (it never matches).
 * Saved as "[!] --src-range a-b [!] --dst-range a-b".
 */
#include <string.h>

#include "nat/ext.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

enum { R_SRC = 1, R_DST = 2, R_SRC_INV = 0x10, R_DST_INV = 0x20 };

struct iprange_info {
	uint32_t src[2], dst[2];
	uint8_t flags;
};

static const struct ext_opt iprange_opts[] = {
	{ "src-range", 0, 1, EXT_O_INV },
	{ "dst-range", 1, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static int iprange_parse(void *data, unsigned int id, char *const *args, bool inv,
			 struct ext_parse *pc)
{
	struct iprange_info *r = data;
	uint32_t *range = id ? r->dst : r->src;
	const char *opt = id ? "--dst-range" : "--src-range";
	char *arg = args[0], *dash = strchr(arg, '-');
	bool ok;

	if (dash)
		*dash = '\0';
	ok = ext_parse_ipaddr(arg, &range[0]);
	if (!ok) {
		if (dash)
			*dash = '-';
		return ext_fail(pc, args[0], "iprange: Bad value for \"%s\" option: \"%s\"", opt,
				arg);
	}
	range[1] = range[0];
	if (dash) {
		*dash = '-';
		if (!ext_parse_ipaddr(dash + 1, &range[1]))
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

static bool iprange_match(void *data, struct ext_pkt *xp)
{
	const struct iprange_info *r = data;
	const struct pkt_hdr *h = xp->h;

	if ((r->flags & R_SRC) &&
	    (h->saddr.ip >= r->src[0] && h->saddr.ip <= r->src[1]) == !!(r->flags & R_SRC_INV))
		return false;
	if ((r->flags & R_DST) &&
	    (h->daddr.ip >= r->dst[0] && h->daddr.ip <= r->dst[1]) == !!(r->flags & R_DST_INV))
		return false;
	return true;
}

static void put_range(struct sbuf *out, const char *opt, const uint32_t *range, bool inv)
{
	sbuf_printf(out, "%s %s ", inv ? " !" : "", opt);
	ext_put_addr(out, range[0]);
	sbuf_add(out, "-");
	ext_put_addr(out, range[1]);
}

static void iprange_save(const void *data, struct sbuf *out)
{
	const struct iprange_info *r = data;

	if (r->flags & R_SRC)
		put_range(out, "--src-range", r->src, r->flags & R_SRC_INV);
	if (r->flags & R_DST)
		put_range(out, "--dst-range", r->dst, r->flags & R_DST_INV);
}

/* libxt_iprange print(): always numeric. */
static void print_range(struct sbuf *out, const char *what, const uint32_t *range, bool inv)
{
	sbuf_printf(out, " %s IP range%s ", what, inv ? " !" : "");
	ext_put_addr(out, range[0]);
	sbuf_add(out, "-");
	ext_put_addr(out, range[1]);
}

static void iprange_print(const void *data, const struct rule_ip *ip, bool numeric,
			  struct sbuf *out)
{
	const struct iprange_info *r = data;

	(void)ip;
	(void)numeric;
	if (r->flags & R_SRC)
		print_range(out, "source", r->src, r->flags & R_SRC_INV);
	if (r->flags & R_DST)
		print_range(out, "destination", r->dst, r->flags & R_DST_INV);
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
