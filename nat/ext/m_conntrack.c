/* SPDX-License-Identifier: MIT */
/*
 * m_conntrack — the conntrack match (revision 3) and its alias state.
 *
 * State bits as xt_conntrack has them: INVALID, ESTABLISHED, RELATED, NEW,
 * then SNAT, DNAT (from the entry's NAT status) and UNTRACKED.  Without an
 * entry (INVALID, UNTRACKED) only --ctstate can match: a rule with any
 * other option does not.  Status bits are the kernel's (EXPECTED,
 * SEEN_REPLY, ASSURED, CONFIRMED); gw never has EXPECTED.  --ctdir REPLY
 * is stored as the inverted ORIGINAL test, as the kernel does.
 *
 * Canonical form (conntrack_dump): options in the order ctstate, ctproto,
 * ctorigsrc, ctorigdst, ctreplsrc, ctrepldst, ctorigsrcport,
 * ctorigdstport, ctreplsrcport, ctrepldstport, ctstatus, ctexpire, ctdir;
 * states printed INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED,SNAT,DNAT;
 * addresses without "/32" and not masked; ports "a" or "a:b".
 */
#include <string.h>
#include <strings.h>

#include "nat/ct.h"
#include "nat/ext.h"
#include "nat/sbuf.h"

enum {
	F_STATE = 1 << 0, F_PROTO = 1 << 1, F_ORIGSRC = 1 << 2, F_ORIGDST = 1 << 3,
	F_REPLSRC = 1 << 4, F_REPLDST = 1 << 5, F_STATUS = 1 << 6, F_EXPIRES = 1 << 7,
	F_ORIGSRC_PORT = 1 << 8, F_ORIGDST_PORT = 1 << 9, F_REPLSRC_PORT = 1 << 10,
	F_REPLDST_PORT = 1 << 11, F_DIRECTION = 1 << 12,
};

enum {
	ST_INVALID = 1 << 0, ST_ESTABLISHED = 1 << 1, ST_RELATED = 1 << 2, ST_NEW = 1 << 3,
	ST_SNAT = 1 << 8, ST_DNAT = 1 << 9, ST_UNTRACKED = 1 << 10,
};

enum { S_EXPECTED = 1 << 0, S_SEEN_REPLY = 1 << 1, S_ASSURED = 1 << 2, S_CONFIRMED = 1 << 3 };

enum {
	O_STATE, O_PROTO, O_ORIGSRC, O_ORIGDST, O_REPLSRC, O_REPLDST, O_ORIGSRCPORT,
	O_ORIGDSTPORT, O_REPLSRCPORT, O_REPLDSTPORT, O_STATUS, O_EXPIRE, O_DIR,
};

/* Of the ruleset's family (nat/pkt/addr.h), the address not masked (saved
 * as given, as libxt_conntrack does). */
struct ct_addr {
	union nf_addr addr, mask;
};

struct ctm_info {
	struct ct_addr addr[4];     /* origsrc, origdst, replsrc, repldst */
	uint16_t port[4][2];        /* same order, low/high */
	uint16_t flags, inv;        /* F_* */
	uint16_t state;             /* ST_* */
	uint8_t status;             /* S_* */
	uint8_t proto;
	uint32_t expires[2];
	bool alias;                 /* -m state */
	uint8_t family;             /* NF_V4 or NF_V6: of the addresses */
};

static const struct ext_opt ct_opts[] = {
	{ "ctstate", O_STATE, 1, EXT_O_INV },
	{ "ctproto", O_PROTO, 1, EXT_O_INV },
	{ "ctorigsrc", O_ORIGSRC, 1, EXT_O_INV },
	{ "ctorigdst", O_ORIGDST, 1, EXT_O_INV },
	{ "ctreplsrc", O_REPLSRC, 1, EXT_O_INV },
	{ "ctrepldst", O_REPLDST, 1, EXT_O_INV },
	{ "ctstatus", O_STATUS, 1, EXT_O_INV },
	{ "ctexpire", O_EXPIRE, 1, EXT_O_INV },
	{ "ctorigsrcport", O_ORIGSRCPORT, 1, EXT_O_INV },
	{ "ctorigdstport", O_ORIGDSTPORT, 1, EXT_O_INV },
	{ "ctreplsrcport", O_REPLSRCPORT, 1, EXT_O_INV },
	{ "ctrepldstport", O_REPLDSTPORT, 1, EXT_O_INV },
	{ "ctdir", O_DIR, 1, 0 },
	{ NULL, 0, 0, 0 },
};

static const struct ext_opt state_opts[] = {
	{ "state", O_STATE, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static const struct {
	const char *name;
	uint16_t bit;
} state_names[] = {
	{ "INVALID", ST_INVALID }, { "NEW", ST_NEW }, { "RELATED", ST_RELATED },
	{ "ESTABLISHED", ST_ESTABLISHED }, { "UNTRACKED", ST_UNTRACKED },
	{ "SNAT", ST_SNAT }, { "DNAT", ST_DNAT },
};

static const struct {
	const char *name;
	uint8_t bit;
} status_names[] = {
	{ "NONE", 0 }, { "EXPECTED", S_EXPECTED }, { "SEEN_REPLY", S_SEEN_REPLY },
	{ "ASSURED", S_ASSURED }, { "CONFIRMED", S_CONFIRMED },
};

static const uint16_t addr_flag[4] = { F_ORIGSRC, F_ORIGDST, F_REPLSRC, F_REPLDST };
static const uint16_t port_flag[4] = {
	F_ORIGSRC_PORT, F_ORIGDST_PORT, F_REPLSRC_PORT, F_REPLDST_PORT,
};
static const char *const addr_name[4] = { "ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst" };
static const char *const port_name[4] = {
	"ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport",
};

static int parse_states(struct ctm_info *ci, const char *arg, bool alias,
			struct ext_parse *pc)
{
	char buf[128], *p, *comma;
	size_t n = alias ? 5 : sizeof(state_names) / sizeof(state_names[0]);

	if (strlen(arg) >= sizeof(buf))
		return ext_fail(pc, arg, "Bad ctstate \"%s\"", arg);
	strcpy(buf, arg);
	for (p = buf;; p = comma + 1) {
		size_t i;

		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		for (i = 0; i < n; i++)
			if (strcasecmp(p, state_names[i].name) == 0)
				break;
		if (i == n)
			return ext_fail(pc, arg, alias ? "Bad state \"%s\"" : "Bad ctstate \"%s\"",
					p);
		ci->state |= state_names[i].bit;
		if (!comma)
			return 0;
	}
}

static int parse_status(struct ctm_info *ci, const char *arg, struct ext_parse *pc)
{
	char buf[128], *p, *comma;

	if (strlen(arg) >= sizeof(buf))
		return ext_fail(pc, arg, "Bad ctstatus \"%s\"", arg);
	strcpy(buf, arg);
	for (p = buf;; p = comma + 1) {
		size_t i;

		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
			if (strcasecmp(p, status_names[i].name) == 0)
				break;
		if (i == sizeof(status_names) / sizeof(status_names[0]))
			return ext_fail(pc, arg, "Bad ctstatus \"%s\"", p);
		ci->status |= status_names[i].bit;
		if (!comma)
			return 0;
	}
}

/* XTTYPE_HOSTMASK for IPv6: a numeric address[/prefix or mask]; a mask
 * that is not a prefix becomes /128, as ip6tables 1.8.9 makes it
 * (xtopt_parse_mask's hlen -1). */
static int parse_hostmask6(struct ct_addr *a, char *arg, const char *opt, struct ext_parse *pc)
{
	char *slash = strchr(arg, '/');
	bool ok;

	ext_prefix_mask6(128, &a->mask);
	if (slash) {
		*slash = '\0';
		ok = ext_parse_ip6mask(slash + 1, &a->mask);
		*slash = '/';
		if (!ok)
			return ext_fail(pc, arg,
					"conntrack: bad value for option \"--%s\", neither a valid network mask nor valid CIDR (0-128)",
					opt);
		if (ext_mask_bits6(&a->mask) < 0)
			ext_prefix_mask6(128, &a->mask);
		*slash = '\0';
	}
	ok = ext_parse_ip6addr(arg, &a->addr);
	if (slash)
		*slash = '/';
	if (!ok)
		return ext_fail(pc, arg, "conntrack: bad address \"%s\" for option \"--%s\"", arg,
				opt);
	return 0;
}

/* XTTYPE_HOSTMASK: address[/prefix]; gw takes numeric addresses and
 * contiguous masks only. */
static int parse_hostmask(struct ct_addr *ca, char *arg, const char *opt, struct ext_parse *pc)
{
	char *slash = strchr(arg, '/');
	bool ok;
	struct { uint32_t addr, mask; } v = { 0, UINT32_MAX }, *a = &v;

	if (pc->family == NF_V6)
		return parse_hostmask6(ca, arg, opt, pc);
	if (slash) {
		*slash = '\0';
		ok = ext_parse_ipmask(slash + 1, &a->mask) && ext_mask_bits(a->mask) >= 0;
		*slash = '/';
		if (!ok)
			return ext_fail(pc, arg,
					"conntrack: bad value for option \"--%s\": not a valid prefix length (0-32)",
					opt);
		*slash = '\0';
	}
	ok = ext_parse_ipaddr_strict(arg, &a->addr);
	if (slash)
		*slash = '/';
	if (!ok)
		return ext_fail(pc, arg, "conntrack: bad address \"%s\" for option \"--%s\"", arg,
				opt);
	ca->addr = nf_addr4(v.addr);
	ca->mask = nf_addr4(v.mask);
	return 0;
}

/* XTTYPE_PORTRC */
static int parse_portrc(uint16_t *p, char *arg, const char *opt, struct ext_parse *pc)
{
	const char *bad;

	if (ext_parse_portrc(arg, &p[0], &p[1], &bad) < 0)
		return ext_fail(pc, arg, "conntrack: port \"%s\" for option \"--%s\" does not resolve to anything",
				bad, opt);
	return 0;
}

static int ct_parse_common(struct ctm_info *ci, unsigned int id, char *const *args, bool inv,
			   struct ext_parse *pc)
{
	uint16_t flag = 0;
	uint32_t v;
	int rc = 0;

	switch (id) {
	case O_STATE:
		flag = F_STATE;
		rc = parse_states(ci, args[0], ci->alias, pc);
		break;
	case O_PROTO: {
		char buf[32];
		size_t n = strlen(args[0]);
		int p;

		flag = F_PROTO;
		if (n >= sizeof(buf))
			return ext_fail(pc, args[0], "unknown protocol \"%s\" specified", args[0]);
		for (size_t i = 0; i <= n; i++)
			buf[i] = (char)(args[0][i] >= 'A' && args[0][i] <= 'Z' ?
					args[0][i] + 32 : args[0][i]);
		p = ext_parse_proto(buf);
		if (p < 0)
			return ext_fail(pc, args[0], "unknown protocol \"%s\" specified", args[0]);
		if (p == 0)
			return ext_fail(pc, args[0],
					"conntrack: --ctproto 0 (all) is not a protocol to match");
		ci->proto = (uint8_t)p;
		break;
	}
	case O_ORIGSRC: case O_ORIGDST: case O_REPLSRC: case O_REPLDST:
		flag = addr_flag[id - O_ORIGSRC];
		ci->family = pc->family;
		rc = parse_hostmask(&ci->addr[id - O_ORIGSRC], args[0], addr_name[id - O_ORIGSRC],
				    pc);
		break;
	case O_ORIGSRCPORT: case O_ORIGDSTPORT: case O_REPLSRCPORT: case O_REPLDSTPORT:
		flag = port_flag[id - O_ORIGSRCPORT];
		rc = parse_portrc(ci->port[id - O_ORIGSRCPORT], args[0],
				  port_name[id - O_ORIGSRCPORT], pc);
		break;
	case O_STATUS:
		flag = F_STATUS;
		rc = parse_status(ci, args[0], pc);
		break;
	case O_EXPIRE: {
		char *colon = strchr(args[0], ':');
		bool ok;

		flag = F_EXPIRES;
		if (colon)
			*colon = '\0';
		ok = ext_strtou32(args[0], UINT32_MAX, &v);
		ci->expires[0] = ci->expires[1] = v;
		if (ok && colon)
			ok = ext_strtou32(colon + 1, UINT32_MAX, &ci->expires[1]);
		if (colon)
			*colon = ':';
		if (!ok)
			return ext_fail(pc, args[0], "conntrack: bad value for option \"--ctexpire\"");
		break;
	}
	case O_DIR:
		flag = F_DIRECTION;
		if (strcasecmp(args[0], "ORIGINAL") == 0)
			ci->inv &= (uint16_t)~F_DIRECTION;
		else if (strcasecmp(args[0], "REPLY") == 0)
			ci->inv |= F_DIRECTION;
		else
			return ext_fail(pc, args[0], "Bad ctdir \"%s\"", args[0]);
		ci->flags |= flag;
		return 0;
	default:
		return -1;
	}
	if (rc < 0)
		return rc;
	ci->flags |= flag;
	if (inv)
		ci->inv |= flag;
	return 0;
}

static int ct_parse(void *data, unsigned int id, char *const *args, bool inv,
		    struct ext_parse *pc)
{
	return ct_parse_common(data, id, args, inv, pc);
}

static void state_init(void *data)
{
	struct ctm_info *ci = data;

	ci->alias = true;
}

static int ct_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	const struct ctm_info *ci = data;

	(void)seen;
	if (!ci->flags)
		return ext_fail(pc, ci->alias ? "state" : "conntrack",
				ci->alias ? "state: option \"--state\" must be specified" :
					    "conntrack: At least one option is required");
	return 0;
}

/* Either family: IPv4 has zeros past .ip in the address and the mask. */
static bool addr_ok(const struct ct_addr *a, const union nf_addr *addr)
{
	uint32_t d = 0;

	for (int i = 0; i < 4; i++)
		d |= (addr->ip6[i] ^ a->addr.ip6[i]) & a->mask.ip6[i];
	return d == 0;
}

static bool ports_ok(const uint16_t *p, uint16_t port)
{
	return port >= p[0] && port <= p[1];
}

static uint16_t state_bit(enum ct_state s)
{
	switch (s) {
	case CT_NEW: return ST_NEW;
	case CT_ESTABLISHED: return ST_ESTABLISHED;
	case CT_RELATED: return ST_RELATED;
	case CT_UNTRACKED: return ST_UNTRACKED;
	default: return ST_INVALID;
	}
}

static uint8_t kernel_status(uint32_t s)
{
	return (uint8_t)((s & CT_S_SEEN_REPLY ? S_SEEN_REPLY : 0) |
			 (s & CT_S_ASSURED ? S_ASSURED : 0) |
			 (s & CT_S_CONFIRMED ? S_CONFIRMED : 0));
}

/* conntrack_mt() */
static bool ct_match(void *data, struct ext_pkt *xp)
{
	const struct ctm_info *ci = data;
	const struct nf_ctx *ctx = xp->ctx;
	const struct ct_entry *ct = ctx->ct;
	const struct ct_tuple *orig, *repl;
	uint16_t bits;
	uint32_t status;

	if (ci->flags & F_STATE) {
		bits = state_bit(ctx->ctstate);
		if (ct && bits != ST_UNTRACKED && bits != ST_INVALID) {
			status = ct_entry_status(ct);
			if (status & CT_S_SRC_NAT)
				bits |= ST_SNAT;
			if (status & CT_S_DST_NAT)
				bits |= ST_DNAT;
		}
		if (!!(ci->state & bits) == !!(ci->inv & F_STATE))
			return false;
	}
	if (!ct || ctx->ctstate == CT_INVALID || ctx->ctstate == CT_UNTRACKED)
		return ci->flags & F_STATE;
	if ((ci->flags & F_DIRECTION) &&
	    (ctx->ctdir == CT_DIR_ORIGINAL) == !!(ci->inv & F_DIRECTION))
		return false;
	orig = ct_entry_tuple(ct, CT_DIR_ORIGINAL);
	repl = ct_entry_tuple(ct, CT_DIR_REPLY);
	{
		const union nf_addr *addrs[4] = { &orig->src, &orig->dst, &repl->src, &repl->dst };
		const uint16_t ports[4] = { orig->sport, orig->dport, repl->sport, repl->dport };

		for (int k = 0; k < 4; k++) {
			if ((ci->flags & addr_flag[k]) &&
			    addr_ok(&ci->addr[k], addrs[k]) == !!(ci->inv & addr_flag[k]))
				return false;
		}
		if ((ci->flags & F_PROTO) && (orig->proto == ci->proto) == !!(ci->inv & F_PROTO))
			return false;
		for (int k = 0; k < 4; k++) {
			if ((ci->flags & port_flag[k]) &&
			    ports_ok(ci->port[k], ports[k]) == !!(ci->inv & port_flag[k]))
				return false;
		}
	}
	if ((ci->flags & F_STATUS) &&
	    !!(ci->status & kernel_status(ct_entry_status(ct))) == !!(ci->inv & F_STATUS))
		return false;
	if (ci->flags & F_EXPIRES) {
		uint32_t left = ct_entry_timeout(ct, ctx->now);

		if ((left >= ci->expires[0] && left <= ci->expires[1]) == !!(ci->inv & F_EXPIRES))
			return false;
	}
	return true;
}

static void put_addr(struct sbuf *out, uint8_t family, const struct ct_addr *a)
{
	if (family == NF_V6) {
		ext_put_addr6(out, &a->addr);
		ext_put_mask6(out, &a->mask, true);
	} else {
		ext_put_addr(out, a->addr.ip);
		ext_put_mask(out, a->mask.ip, true);
	}
}

static void put_inv(struct sbuf *out, const struct ctm_info *ci, uint16_t flag)
{
	if (ci->inv & flag)
		sbuf_add(out, " !");
}

static void ct_save(const void *data, struct sbuf *out)
{
	const struct ctm_info *ci = data;

	if (ci->flags & F_STATE) {
		bool first = true;

		put_inv(out, ci, F_STATE);
		sbuf_add(out, ci->alias ? " --state " : " --ctstate ");
		for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
			if (ci->state & state_names[i].bit) {
				sbuf_printf(out, "%s%s", first ? "" : ",", state_names[i].name);
				first = false;
			}
	}
	if (ci->flags & F_PROTO) {
		put_inv(out, ci, F_PROTO);
		sbuf_printf(out, " --ctproto %u", ci->proto);
	}
	for (int k = 0; k < 4; k++)
		if (ci->flags & addr_flag[k]) {
			put_inv(out, ci, addr_flag[k]);
			sbuf_printf(out, " --%s ", addr_name[k]);
			put_addr(out, ci->family, &ci->addr[k]);
		}
	for (int k = 0; k < 4; k++)
		if (ci->flags & port_flag[k]) {
			put_inv(out, ci, port_flag[k]);
			if (ci->port[k][0] == ci->port[k][1])
				sbuf_printf(out, " --%s %u", port_name[k], ci->port[k][0]);
			else
				sbuf_printf(out, " --%s %u:%u", port_name[k], ci->port[k][0],
					    ci->port[k][1]);
		}
	if (ci->flags & F_STATUS) {
		bool first = true;

		put_inv(out, ci, F_STATUS);
		sbuf_add(out, " --ctstatus ");
		for (size_t i = 1; i < sizeof(status_names) / sizeof(status_names[0]); i++)
			if (ci->status & status_names[i].bit) {
				sbuf_printf(out, "%s%s", first ? "" : ",", status_names[i].name);
				first = false;
			}
		if (first)
			sbuf_add(out, "NONE");
	}
	if (ci->flags & F_EXPIRES) {
		put_inv(out, ci, F_EXPIRES);
		if (ci->expires[0] == ci->expires[1])
			sbuf_printf(out, " --ctexpire %u", ci->expires[0]);
		else
			sbuf_printf(out, " --ctexpire %u:%u", ci->expires[0], ci->expires[1]);
	}
	if (ci->flags & F_DIRECTION)
		sbuf_add(out, ci->inv & F_DIRECTION ? " --ctdir REPLY" : " --ctdir ORIGINAL");
}

/* libxt_conntrack print() (conntrack_dump without a prefix): " !" before
 * an inverted option, its name without "--", addresses "anywhere" for 0.0.0.0
 * unless numeric. */
static void ct_print(const void *data, const struct rule_ip *ip, bool numeric,
		     struct sbuf *out)
{
	const struct ctm_info *ci = data;

	(void)ip;
	if (ci->flags & F_STATE) {
		bool first = true;

		put_inv(out, ci, F_STATE);
		sbuf_add(out, ci->alias ? " state " : " ctstate ");
		for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
			if (ci->state & state_names[i].bit) {
				sbuf_printf(out, "%s%s", first ? "" : ",", state_names[i].name);
				first = false;
			}
	}
	if (ci->flags & F_PROTO) {
		put_inv(out, ci, F_PROTO);
		sbuf_printf(out, " ctproto %u", ci->proto);
	}
	for (int k = 0; k < 4; k++)
		if (ci->flags & addr_flag[k]) {
			put_inv(out, ci, addr_flag[k]);
			sbuf_printf(out, " %s ", addr_name[k]);
			if (!numeric && nf_addr_eq(&ci->addr[k].addr, &(union nf_addr){ 0 })) {
				sbuf_add(out, "anywhere");
				continue;
			}
			put_addr(out, ci->family, &ci->addr[k]);
		}
	for (int k = 0; k < 4; k++)
		if (ci->flags & port_flag[k]) {
			put_inv(out, ci, port_flag[k]);
			if (ci->port[k][0] == ci->port[k][1])
				sbuf_printf(out, " %s %u", port_name[k], ci->port[k][0]);
			else
				sbuf_printf(out, " %s %u:%u", port_name[k], ci->port[k][0],
					    ci->port[k][1]);
		}
	if (ci->flags & F_STATUS) {
		bool first = true;

		put_inv(out, ci, F_STATUS);
		sbuf_add(out, " ctstatus ");
		for (size_t i = 1; i < sizeof(status_names) / sizeof(status_names[0]); i++)
			if (ci->status & status_names[i].bit) {
				sbuf_printf(out, "%s%s", first ? "" : ",", status_names[i].name);
				first = false;
			}
		if (first)
			sbuf_add(out, "NONE");
	}
	if (ci->flags & F_EXPIRES) {
		put_inv(out, ci, F_EXPIRES);
		if (ci->expires[0] == ci->expires[1])
			sbuf_printf(out, " ctexpire %u", ci->expires[0]);
		else
			sbuf_printf(out, " ctexpire %u:%u", ci->expires[0], ci->expires[1]);
	}
	if (ci->flags & F_DIRECTION)
		sbuf_add(out, ci->inv & F_DIRECTION ? " ctdir REPLY" : " ctdir ORIGINAL");
}

const struct ext m_conntrack = {
	.name = "conntrack",
	.size = sizeof(struct ctm_info),
	.opts = ct_opts,
	.parse = ct_parse,
	.final = ct_final,
	.match = ct_match,
	.save = ct_save,
	.print = ct_print,
};

const struct ext m_state = {
	.name = "state",
	.size = sizeof(struct ctm_info),
	.opts = state_opts,
	.init = state_init,
	.parse = ct_parse,
	.final = ct_final,
	.match = ct_match,
	.save = ct_save,
	.print = ct_print,
};
