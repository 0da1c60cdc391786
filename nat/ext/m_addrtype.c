/* SPDX-License-Identifier: MIT */
/*
 * m_addrtype — the addrtype match (revision 1), on the source and the
 * destination.
 *
 * The kernel classifies with inet_dev_addr_type(): 0.0.0.0/8 and
 * 255.255.255.255 are BROADCAST, 224.0.0.0/4 MULTICAST, an address of the
 * local routing table LOCAL, any other UNICAST.  gw's local table is what
 * the pipeline tells (ctx->src_local/dst_local, with the interface owning
 * the address in ctx->src_dev/dst_dev) plus 127.0.0.0/8 on "lo".  With
 * --limit-iface-in (-out) only the addresses of the incoming (outgoing)
 * interface are LOCAL; others count as UNICAST, as the kernel's lookup does
 * when the local route's device differs.  Directed subnet broadcasts, which
 * the local table also lists, are not known to gw and count as UNICAST.
 *
 * Types are read as libxt_addrtype does: comma-separated, each a
 * case-insensitive prefix of a type name, the first in the kernel's order
 * winning ("U" is UNSPEC).  Saved as "[!] --src-type T,.. [!] --dst-type
 * T,.. [--limit-iface-in|out]", types in the kernel's order.
 *
 * IPv6 (ip6tables, match_type6()): BROADCAST, BLACKHOLE, PROHIBIT and the
 * later types are refused at load, as the kernel refuses them.  The types
 * of one option are not alternatives there: MULTICAST, UNICAST (anything
 * but ::, ff00::/8 and ::ffff:0:0/96, as ipv6_addr_type) and UNSPEC (::)
 * must all hold, then LOCAL, ANYCAST or UNREACHABLE if any is asked, from
 * the route lookup: LOCAL as for IPv4 (::1 on lo), ANYCAST and UNREACHABLE
 * never (gw has no such routes).
 */
#include <string.h>
#include <strings.h>

#include "nat/ext.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

enum {
	T_UNSPEC = 1 << 0, T_UNICAST = 1 << 1, T_LOCAL = 1 << 2, T_BROADCAST = 1 << 3,
	T_ANYCAST = 1 << 4, T_MULTICAST = 1 << 5, T_BLACKHOLE = 1 << 6,
	T_UNREACHABLE = 1 << 7, T_PROHIBIT = 1 << 8,
};
enum { F_INV_SRC = 1, F_INV_DST = 2, F_IFACE_IN = 4, F_IFACE_OUT = 8 };
enum { O_SRC, O_DST, O_IN, O_OUT };

struct addrtype_info {
	uint16_t source, dest;
	uint8_t flags;
	uint8_t family;     /* NF_V4 or NF_V6 */
};

static const struct ext_opt addrtype_opts[] = {
	{ "src-type", O_SRC, 1, EXT_O_INV },
	{ "dst-type", O_DST, 1, EXT_O_INV },
	{ "limit-iface-in", O_IN, 0, 0 },
	{ "limit-iface-out", O_OUT, 0, 0 },
	{ NULL, 0, 0, 0 },
};

static const char *const type_names[] = {
	"UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE",
	"UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE",
};

enum { NTYPES = sizeof(type_names) / sizeof(type_names[0]) };

static int parse_types(const char *arg, uint16_t *mask, struct ext_parse *pc)
{
	const char *p = arg;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		size_t i = NTYPES;

		if (len > 0)
			for (i = 0; i < NTYPES; i++)
				if (strncasecmp(p, type_names[i], len) == 0)
					break;
		if (i == NTYPES)
			return ext_fail(pc, arg, "addrtype: bad type \"%s\"", p);
		*mask |= (uint16_t)(1u << i);
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int addrtype_parse(void *data, unsigned int id, char *const *args, bool inv,
			  struct ext_parse *pc)
{
	struct addrtype_info *a = data;

	a->family = pc->family;
	switch (id) {
	case O_SRC:
		if (inv)
			a->flags |= F_INV_SRC;
		return parse_types(args[0], &a->source, pc);
	case O_DST:
		if (inv)
			a->flags |= F_INV_DST;
		return parse_types(args[0], &a->dest, pc);
	case O_IN:
		if (a->flags & F_IFACE_OUT)
			return ext_fail(pc, "--limit-iface-in",
					"addrtype: you can't specify both --limit-iface-out and --limit-iface-in");
		a->flags |= F_IFACE_IN;
		return 0;
	case O_OUT:
		if (a->flags & F_IFACE_IN)
			return ext_fail(pc, "--limit-iface-out",
					"addrtype: you can't specify both --limit-iface-out and --limit-iface-in");
		a->flags |= F_IFACE_OUT;
		return 0;
	}
	return -1;
}

static int addrtype_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	const struct addrtype_info *a = data;

	(void)seen;
	if (!a->source && !a->dest)
		return ext_fail(pc, NULL, "addrtype: you must specify --src-type or --dst-type");
	return 0;
}

static int addrtype_check(const void *data, const struct ext_check *ck, struct ext_parse *pc)
{
	const struct addrtype_info *a = data;
	uint8_t in_ok = 1 << NF_PREROUTING | 1 << NF_INPUT | 1 << NF_FORWARD;
	uint8_t out_ok = 1 << NF_POSTROUTING | 1 << NF_OUTPUT | 1 << NF_FORWARD;

	if ((a->flags & F_IFACE_IN) && (ck->hooks & ~in_ok))
		return ext_fail(pc, "--limit-iface-in",
				"addrtype: --limit-iface-in is only valid in PREROUTING, INPUT and FORWARD");
	if ((a->flags & F_IFACE_OUT) && (ck->hooks & ~out_ok))
		return ext_fail(pc, "--limit-iface-out",
				"addrtype: --limit-iface-out is only valid in POSTROUTING, OUTPUT and FORWARD");
	if (ck->family == NF_V6) {
		uint16_t all = a->source | a->dest;

		if (all & T_BLACKHOLE)
			return ext_fail(pc, "addrtype", "addrtype: ipv6 BLACKHOLE matching not supported");
		if (all >= T_PROHIBIT)
			return ext_fail(pc, "addrtype",
					"addrtype: ipv6 PROHIBIT (THROW, NAT ..) matching not supported");
		if (all & T_BROADCAST)
			return ext_fail(pc, "addrtype", "addrtype: ipv6 does not support BROADCAST matching");
	}
	return 0;
}

/* inet_dev_addr_type(): dev is the interface the lookup is limited to, NULL
 * for any; owner the interface holding a local address ("" unknown). */
static uint16_t classify(uint32_t addr, bool local, const char *owner, const char *dev)
{
	if ((addr >> 24) == 0 || addr == UINT32_MAX)
		return T_BROADCAST;
	if ((addr >> 28) == 0xe)
		return T_MULTICAST;
	if ((addr >> 24) == 127) {
		local = true;
		owner = "lo";
	}
	if (local && (!dev || strcmp(owner, dev) == 0))
		return T_LOCAL;
	return T_UNICAST;
}

/* match_type6() */
static bool match6(const union nf_addr *addr, uint16_t mask, bool local, const char *owner,
		   const char *dev)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	bool any = !(addr->ip6[0] | addr->ip6[1] | addr->ip6[2] | addr->ip6[3]);
	bool multicast = addr->b[0] == 0xff;
	bool unicast = !any && !multicast && memcmp(addr->b, mapped, sizeof(mapped)) != 0;
	static const uint8_t loopback[16] = { [15] = 1 };

	if ((mask & T_MULTICAST) && !multicast)
		return false;
	if ((mask & T_UNICAST) && !unicast)
		return false;
	if ((mask & T_UNSPEC) && !any)
		return false;
	if (mask & (T_LOCAL | T_ANYCAST | T_UNREACHABLE)) {
		if (memcmp(addr->b, loopback, 16) == 0) {
			local = true;
			owner = "lo";
		}
		return (mask & T_LOCAL) && local && (!dev || strcmp(owner, dev) == 0);
	}
	return true;
}

static bool addrtype_match(void *data, struct ext_pkt *xp)
{
	const struct addrtype_info *a = data;
	const struct nf_ctx *ctx = xp->ctx;
	const char *dev = NULL;

	/* an empty name is no device: the kernel's lookup is then not limited */
	if (a->flags & F_IFACE_IN)
		dev = ctx->in[0] ? ctx->in : NULL;
	else if (a->flags & F_IFACE_OUT)
		dev = ctx->out[0] ? ctx->out : NULL;
	if (a->family == NF_V6) {
		if (a->source && match6(&xp->h->saddr, a->source, ctx->src_local, ctx->src_dev, dev) ==
					 !!(a->flags & F_INV_SRC))
			return false;
		if (a->dest && match6(&xp->h->daddr, a->dest, ctx->dst_local, ctx->dst_dev, dev) ==
				       !!(a->flags & F_INV_DST))
			return false;
		return true;
	}
	if (a->source && !!(a->source & classify(xp->h->saddr.ip, ctx->src_local, ctx->src_dev,
						  dev)) == !!(a->flags & F_INV_SRC))
		return false;
	if (a->dest && !!(a->dest & classify(xp->h->daddr.ip, ctx->dst_local, ctx->dst_dev,
					      dev)) == !!(a->flags & F_INV_DST))
		return false;
	return true;
}

static void put_types(struct sbuf *out, uint16_t mask)
{
	bool first = true;

	for (unsigned int i = 0; i < NTYPES; i++)
		if (mask & (1u << i)) {
			sbuf_printf(out, "%s%s", first ? "" : ",", type_names[i]);
			first = false;
		}
}

static void addrtype_save(const void *data, struct sbuf *out)
{
	const struct addrtype_info *a = data;

	if (a->source) {
		sbuf_add(out, a->flags & F_INV_SRC ? " ! --src-type " : " --src-type ");
		put_types(out, a->source);
	}
	if (a->dest) {
		sbuf_add(out, a->flags & F_INV_DST ? " ! --dst-type " : " --dst-type ");
		put_types(out, a->dest);
	}
	if (a->flags & F_IFACE_IN)
		sbuf_add(out, " --limit-iface-in");
	if (a->flags & F_IFACE_OUT)
		sbuf_add(out, " --limit-iface-out");
}

/* libxt_addrtype print() (revision 1). */
static void addrtype_print(const void *data, const struct rule_ip *ip, bool numeric,
			   struct sbuf *out)
{
	const struct addrtype_info *a = data;

	(void)ip;
	(void)numeric;
	sbuf_add(out, " ADDRTYPE match");
	if (a->source) {
		sbuf_add(out, a->flags & F_INV_SRC ? " src-type !" : " src-type ");
		put_types(out, a->source);
	}
	if (a->dest) {
		sbuf_add(out, a->flags & F_INV_DST ? " dst-type !" : " dst-type ");
		put_types(out, a->dest);
	}
	if (a->flags & F_IFACE_IN)
		sbuf_add(out, " limit-in");
	if (a->flags & F_IFACE_OUT)
		sbuf_add(out, " limit-out");
}

const struct ext m_addrtype = {
	.name = "addrtype",
	.size = sizeof(struct addrtype_info),
	.opts = addrtype_opts,
	.parse = addrtype_parse,
	.final = addrtype_final,
	.check = addrtype_check,
	.match = addrtype_match,
	.save = addrtype_save,
	.print = addrtype_print,
};
