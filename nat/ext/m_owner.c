/* SPDX-License-Identifier: MIT */
/*
 * m_owner — the owner match (revision 1) on packets a host socket sent
 * (ctx->has_owner, uid, gid); valid in OUTPUT and POSTROUTING only.
 *
 * As owner_mt(): without a socket the rule matches only when every test it
 * has is inverted; with one, --uid-owner/--gid-owner compare the range.
 * Ids are numbers (gw does not read the user database); --suppl-groups is
 * refused (gw does not know supplementary groups).  Saved in the order
 * --socket-exists, --uid-owner, --gid-owner; ranges as "a-b".
 */
#include <string.h>

#include "nat/ext.h"
#include "nat/rules.h"
#include "nat/rules_int.h"
#include "nat/sbuf.h"

enum { OW_UID = 1, OW_GID = 2, OW_SOCKET = 4 };
enum { O_UID, O_GID, O_SOCKET, O_SUPPL };

struct owner_info {
	uint32_t uid[2], gid[2];
	uint8_t match, invert;
};

static const struct ext_opt owner_opts[] = {
	{ "uid-owner", O_UID, 1, EXT_O_INV },
	{ "gid-owner", O_GID, 1, EXT_O_INV },
	{ "socket-exists", O_SOCKET, 0, EXT_O_INV },
	{ "suppl-groups", O_SUPPL, 0, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

/* libxt_owner: a user (group) name as the caller's database has it when
 * the rules load, else a number or a numeric range "a-b". */
static int parse_id(char *arg, uint32_t *r, bool user, struct ext_parse *pc)
{
	const struct rules_parse_opts *o = pc->opts;
	int (*lookup)(void *, const char *, uint32_t *) = user ? o->user : o->group;
	const char *opt = user ? "uid-owner" : "gid-owner";
	char *dash;
	bool ok;

	if (lookup && lookup(o->arg, arg, &r[0]) == 0) {
		r[1] = r[0];
		return 0;
	}
	dash = strchr(arg, '-');
	if (dash)
		*dash = '\0';
	ok = ext_strtou32(arg, UINT32_MAX - 1, &r[0]);
	r[1] = r[0];
	if (ok && dash)
		ok = ext_strtou32(dash + 1, UINT32_MAX - 1, &r[1]);
	if (dash)
		*dash = '-';
	if (!ok)
		return ext_fail(pc, arg, "owner: Bad value for \"--%s\" option: \"%s\" (%s)", opt,
				arg, !lookup ? "ids are numbers here" :
				user ? "no such user, uid or uid range" :
				"no such group, gid or gid range");
	if (r[0] > r[1])
		return ext_fail(pc, arg, "owner: reversed range \"%s\" for \"--%s\"", arg, opt);
	return 0;
}

static int owner_parse(void *data, unsigned int id, char *const *args, bool inv,
		       struct ext_parse *pc)
{
	struct owner_info *o = data;
	uint8_t bit;

	switch (id) {
	case O_UID:
		bit = OW_UID;
		if (parse_id(args[0], o->uid, true, pc) < 0)
			return -1;
		break;
	case O_GID:
		bit = OW_GID;
		if (parse_id(args[0], o->gid, false, pc) < 0)
			return -1;
		break;
	case O_SOCKET:
		bit = OW_SOCKET;
		break;
	default:
		return ext_fail(pc, "--suppl-groups",
				"owner: --suppl-groups is not supported (gw does not know supplementary groups)");
	}
	o->match |= bit;
	if (inv)
		o->invert |= bit;
	return 0;
}

static int owner_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!seen)
		return ext_fail(pc, NULL,
				"owner: At least one of --uid-owner, --gid-owner or --socket-exists is required");
	return 0;
}

static bool owner_match(void *data, struct ext_pkt *xp)
{
	const struct owner_info *o = data;
	const struct nf_ctx *ctx = xp->ctx;

	if (!ctx->has_owner)
		return (o->match ^ o->invert) == 0;
	if (o->match & o->invert & OW_SOCKET)
		return false;
	if ((o->match & OW_UID) &&
	    (ctx->uid >= o->uid[0] && ctx->uid <= o->uid[1]) == !!(o->invert & OW_UID))
		return false;
	if ((o->match & OW_GID) &&
	    (ctx->gid >= o->gid[0] && ctx->gid <= o->gid[1]) == !!(o->invert & OW_GID))
		return false;
	return true;
}

static void put_item(struct sbuf *out, const struct owner_info *o, uint8_t bit,
		     const char *opt, const uint32_t *r)
{
	if (!(o->match & bit))
		return;
	sbuf_printf(out, "%s --%s", o->invert & bit ? " !" : "", opt);
	if (!r)
		return;
	sbuf_printf(out, " %u", r[0]);
	if (r[0] != r[1])
		sbuf_printf(out, "-%u", r[1]);
}

static void owner_save(const void *data, struct sbuf *out)
{
	const struct owner_info *o = data;

	put_item(out, o, OW_SOCKET, "socket-exists", NULL);
	put_item(out, o, OW_UID, "uid-owner", o->uid);
	put_item(out, o, OW_GID, "gid-owner", o->gid);
}

/* libxt_owner print() (revision 1); ids stay numbers (no passwd lookups). */
static void print_item(struct sbuf *out, const struct owner_info *o, uint8_t bit,
		       const char *label, const uint32_t *r)
{
	if (!(o->match & bit))
		return;
	sbuf_printf(out, "%s %s", o->invert & bit ? " !" : "", label);
	if (!r)
		return;
	sbuf_printf(out, " %u", r[0]);
	if (r[0] != r[1])
		sbuf_printf(out, "-%u", r[1]);
}

static void owner_print(const void *data, const struct rule_ip *ip, bool numeric,
			struct sbuf *out)
{
	const struct owner_info *o = data;

	(void)ip;
	(void)numeric;
	print_item(out, o, OW_SOCKET, "owner socket exists", NULL);
	print_item(out, o, OW_UID, "owner UID match", o->uid);
	print_item(out, o, OW_GID, "owner GID match", o->gid);
}

const struct ext m_owner = {
	.name = "owner",
	.size = sizeof(struct owner_info),
	.hooks = 1 << NF_OUTPUT | 1 << NF_POSTROUTING,
	.opts = owner_opts,
	.parse = owner_parse,
	.final = owner_final,
	.match = owner_match,
	.save = owner_save,
	.print = owner_print,
};

unsigned rules_owner_needs(const struct rules *r)
{
	unsigned need = 0;

	for (unsigned t = 0; r && t < NF_TABLE_MAX; t++)
		for (uint32_t i = 0; i < r->t[t].nmatches; i++) {
			const struct rule_match *m = &r->t[t].matches[i];

			if (m->ext != &m_owner)
				continue;
			need |= RULES_OWNER_SOCKET;
			if (((const struct owner_info *)m->data)->match & OW_GID)
				need |= RULES_OWNER_GID;
		}
	return need;
}
