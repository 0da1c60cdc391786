/* SPDX-License-Identifier: MIT */
/*
 * m_addrtype — the addrtype match (revision 1) on the destination.
 *
 * The kernel classifies with inet_addr_type(): 0.0.0.0/8 and
 * 255.255.255.255 are BROADCAST, 224.0.0.0/4 MULTICAST, an address of the
 * local routing table LOCAL (gw: ctx->dst_local, and 127.0.0.0/8), any
 * other UNICAST.  Directed subnet broadcasts, which the local table also
 * lists, are not known to gw and count as UNICAST.  --src-type is refused:
 * gw does not know which source addresses are its own.
 *
 * Saved as "[!] --src-type T,.. [!] --dst-type T,.. [--limit-iface-in|out]",
 * types in the kernel's order.
 */
#include <string.h>
#include <strings.h>

#include "nat/ext.h"
#include "nat/pkt.h"
#include "nat/sbuf.h"

enum {
	T_UNSPEC = 1 << 0, T_UNICAST = 1 << 1, T_LOCAL = 1 << 2, T_BROADCAST = 1 << 3,
	T_ANYCAST = 1 << 4, T_MULTICAST = 1 << 5,
};
enum { F_INV_SRC = 1, F_INV_DST = 2, F_IFACE_IN = 4, F_IFACE_OUT = 8 };
enum { O_SRC, O_DST, O_IN, O_OUT };

struct addrtype_info {
	uint16_t source, dest;
	uint8_t flags;
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
	char buf[160], *p, *comma;

	if (strlen(arg) >= sizeof(buf))
		return ext_fail(pc, arg, "addrtype: bad type \"%s\"", arg);
	strcpy(buf, arg);
	for (p = buf;; p = comma + 1) {
		size_t i;

		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		for (i = 0; i < NTYPES; i++)
			if (strcasecmp(p, type_names[i]) == 0)
				break;
		if (i == NTYPES)
			return ext_fail(pc, arg, "addrtype: bad type \"%s\"", p);
		*mask |= (uint16_t)(1u << i);
		if (!comma)
			return 0;
	}
}

static int addrtype_parse(void *data, unsigned int id, char *const *args, bool inv,
			  struct ext_parse *pc)
{
	struct addrtype_info *a = data;

	switch (id) {
	case O_SRC:
		return ext_fail(pc, args[0],
				"addrtype: --src-type is not supported (gw does not know its own source addresses)");
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
	return 0;
}

static uint16_t classify(uint32_t addr, bool local)
{
	if ((addr >> 24) == 0 || addr == UINT32_MAX)
		return T_BROADCAST;
	if ((addr >> 28) == 0xe)
		return T_MULTICAST;
	if (local || (addr >> 24) == 127)
		return T_LOCAL;
	return T_UNICAST;
}

static bool addrtype_match(void *data, struct ext_pkt *xp)
{
	const struct addrtype_info *a = data;

	if (a->dest && !!(a->dest & classify(xp->h->daddr, xp->ctx->dst_local)) ==
			       !!(a->flags & F_INV_DST))
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

	if (a->dest) {
		sbuf_add(out, a->flags & F_INV_DST ? " ! --dst-type " : " --dst-type ");
		put_types(out, a->dest);
	}
	if (a->flags & F_IFACE_IN)
		sbuf_add(out, " --limit-iface-in");
	if (a->flags & F_IFACE_OUT)
		sbuf_add(out, " --limit-iface-out");
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
};
