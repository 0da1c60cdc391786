/* SPDX-License-Identifier: MIT */
/*
 * m_mark — the mark and connmark matches: (mark & mask) == value, on the
 * packet's mark or on its conntrack entry's (no entry: no match).
 * Saved as "[!] --mark 0xV[/0xM]", the mask left out when all ones.
 */
#include "nat/ct.h"
#include "nat/ext.h"
#include "nat/sbuf.h"

struct mark_info {
	uint32_t mark, mask;
	uint8_t invert;
};

static const struct ext_opt mark_opts[] = {
	{ "mark", 0, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static int mark_parse(void *data, unsigned int id, char *const *args, bool inv,
		      struct ext_parse *pc)
{
	struct mark_info *m = data;

	(void)id;
	if (!ext_parse_markmask(args[0], &m->mark, &m->mask))
		return ext_fail(pc, args[0], "bad value for option \"--mark\", or out of range");
	m->invert = inv;
	return 0;
}

static int mark_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!seen)
		return ext_fail(pc, NULL, "option \"--mark\" must be specified");
	return 0;
}

static bool mark_match(void *data, struct ext_pkt *xp)
{
	const struct mark_info *m = data;

	return ((xp->ctx->mark & m->mask) == m->mark) != m->invert;
}

static bool connmark_match(void *data, struct ext_pkt *xp)
{
	const struct mark_info *m = data;
	const struct ct_entry *ct = xp->ctx->ct;

	if (!ct)
		return false;
	return ((ct_entry_mark(ct) & m->mask) == m->mark) != m->invert;
}

static void mark_save(const void *data, struct sbuf *out)
{
	const struct mark_info *m = data;

	sbuf_printf(out, "%s --mark 0x%x", m->invert ? " !" : "", m->mark);
	if (m->mask != UINT32_MAX)
		sbuf_printf(out, "/0x%x", m->mask);
}

/* libxt_mark print(): "mark match [!] V[/M]"; connmark's has a blank
 * where the "!" would be. */
static void print_mark(struct sbuf *out, const struct mark_info *m, const char *what)
{
	sbuf_printf(out, " %s match%s 0x%x", what, m->invert ? " !" : "", m->mark);
	if (m->mask != UINT32_MAX)
		sbuf_printf(out, "/0x%x", m->mask);
}

static void mark_print(const void *data, const struct rule_ip *ip, bool numeric,
		       struct sbuf *out)
{
	(void)ip;
	(void)numeric;
	print_mark(out, data, "mark");
}

static void connmark_print(const void *data, const struct rule_ip *ip, bool numeric,
			   struct sbuf *out)
{
	const struct mark_info *m = data;

	(void)ip;
	(void)numeric;
	sbuf_printf(out, " connmark match %s0x%x", m->invert ? "! " : " ", m->mark);
	if (m->mask != UINT32_MAX)
		sbuf_printf(out, "/0x%x", m->mask);
}

const struct ext m_mark = {
	.name = "mark",
	.size = sizeof(struct mark_info),
	.opts = mark_opts,
	.parse = mark_parse,
	.final = mark_final,
	.match = mark_match,
	.save = mark_save,
	.print = mark_print,
};

const struct ext m_connmark = {
	.name = "connmark",
	.size = sizeof(struct mark_info),
	.opts = mark_opts,
	.parse = mark_parse,
	.final = mark_final,
	.match = connmark_match,
	.save = mark_save,
	.print = connmark_print,
};
