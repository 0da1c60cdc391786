/* SPDX-License-Identifier: MIT */
/*
 * t_mark — the MARK and CONNMARK targets (revision 2 / 1), both
 * non-terminating.
 *
 * MARK: mark = (mark & ~mask) ^ value.  --set-xmark V[/M] is the kernel
 * form; --set-mark V[/M] is V/(M|V); --and-mark M is 0/~M; --or-mark M is
 * M/M; --xor-mark M is M/0.  Saved as "--set-xmark 0xV/0xM".
 * CONNMARK: the same forms on the entry's mark (mask ctmask), or
 * --save-mark (ctmark = (ctmark & ~ctmask) ^ (mark & nfmask)) and
 * --restore-mark (mark = (mark & ~nfmask) ^ (ctmark & ctmask)); --mask sets
 * both masks; options apply in order.  Saved as "--set-xmark 0xV/0xM" or
 * "--save-mark|--restore-mark --nfmask 0xN --ctmask 0xC".  Without an
 * entry CONNMARK does nothing.
 */
#include "nat/ct.h"
#include "nat/ext.h"
#include "nat/sbuf.h"

enum { O_SET_XMARK, O_SET_MARK, O_AND_MARK, O_OR_MARK, O_XOR_MARK, O_SAVE, O_RESTORE,
       O_MASK, O_NFMASK, O_CTMASK };

enum { M_NONE, M_SET, M_SAVE, M_RESTORE };

struct mark_tg {
	uint32_t mark, mask;
	uint32_t nfmask;
	uint8_t mode;
	uint8_t op;       /* the option that set the mode, for conflicts */
	uint8_t masks;    /* 1 --mask, 2 --nfmask/--ctmask seen */
};

static const char *const op_names[] = {
	"--set-xmark", "--set-mark", "--and-mark", "--or-mark", "--xor-mark",
	"--save-mark", "--restore-mark", "--mask", "--nfmask", "--ctmask",
};

static const struct ext_opt mark_opts[] = {
	{ "set-xmark", O_SET_XMARK, 1, 0 },
	{ "set-mark", O_SET_MARK, 1, 0 },
	{ "and-mark", O_AND_MARK, 1, 0 },
	{ "or-mark", O_OR_MARK, 1, 0 },
	{ "xor-mark", O_XOR_MARK, 1, 0 },
	{ NULL, 0, 0, 0 },
};

static const struct ext_opt connmark_opts[] = {
	{ "set-xmark", O_SET_XMARK, 1, 0 },
	{ "set-mark", O_SET_MARK, 1, 0 },
	{ "and-mark", O_AND_MARK, 1, 0 },
	{ "or-mark", O_OR_MARK, 1, 0 },
	{ "xor-mark", O_XOR_MARK, 1, 0 },
	{ "save-mark", O_SAVE, 0, 0 },
	{ "restore-mark", O_RESTORE, 0, 0 },
	{ "mask", O_MASK, 1, 0 },
	{ "nfmask", O_NFMASK, 1, 0 },
	{ "ctmask", O_CTMASK, 1, 0 },
	{ NULL, 0, 0, 0 },
};

static void connmark_init(void *data)
{
	struct mark_tg *m = data;

	m->mask = m->nfmask = UINT32_MAX;
}

static int parse_op(struct mark_tg *m, unsigned int id, const char *arg, const char *ext,
		    struct ext_parse *pc)
{
	uint32_t v, mask;

	if (m->mode != M_NONE)
		return ext_fail(pc, op_names[id],
				"%s: option \"%s\" cannot be used together with \"%s\"", ext,
				op_names[m->op], op_names[id]);
	m->op = (uint8_t)id;
	m->mode = id == O_SAVE ? M_SAVE : id == O_RESTORE ? M_RESTORE : M_SET;
	if (id == O_SAVE || id == O_RESTORE)
		return 0;
	if (id == O_SET_XMARK || id == O_SET_MARK) {
		if (!ext_parse_markmask(arg, &v, &mask))
			return ext_fail(pc, arg, "%s: bad value for option \"%s\", or out of range",
					ext, op_names[id]);
	} else if (!ext_strtou32(arg, UINT32_MAX, &v)) {
		return ext_fail(pc, arg, "%s: bad value for option \"%s\", or out of range", ext,
				op_names[id]);
	}
	switch (id) {
	case O_SET_XMARK: m->mark = v; m->mask = mask; break;
	case O_SET_MARK: m->mark = v; m->mask = v | mask; break;
	case O_AND_MARK: m->mark = 0; m->mask = ~v; break;
	case O_OR_MARK: m->mark = v; m->mask = v; break;
	case O_XOR_MARK: m->mark = v; m->mask = 0; break;
	}
	return 0;
}

static int mark_parse(void *data, unsigned int id, char *const *args, bool inv,
		      struct ext_parse *pc)
{
	(void)inv;
	return parse_op(data, id, args[0], "MARK", pc);
}

static int connmark_parse(void *data, unsigned int id, char *const *args, bool inv,
			  struct ext_parse *pc)
{
	struct mark_tg *m = data;
	uint32_t v;

	(void)inv;
	if (id < O_MASK)
		return parse_op(m, id, args[0], "CONNMARK", pc);
	if ((id == O_MASK && (m->masks & 2)) || (id != O_MASK && (m->masks & 1)))
		return ext_fail(pc, op_names[id],
				"CONNMARK: option \"%s\" cannot be used together with \"--mask\"",
				id == O_MASK ? "--nfmask" : op_names[id]);
	if (!ext_strtou32(args[0], UINT32_MAX, &v))
		return ext_fail(pc, args[0], "CONNMARK: bad value for option \"%s\"", op_names[id]);
	m->masks |= id == O_MASK ? 1 : 2;
	if (id == O_MASK || id == O_NFMASK)
		m->nfmask = v;
	if (id == O_MASK || id == O_CTMASK)
		m->mask = v;
	return 0;
}

static int mark_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	const struct mark_tg *m = data;

	(void)seen;
	if (m->mode == M_NONE)
		return ext_fail(pc, NULL,
				"MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required");
	return 0;
}

static int connmark_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	const struct mark_tg *m = data;

	(void)seen;
	if (m->mode == M_NONE)
		return ext_fail(pc, NULL, "CONNMARK target: No operation specified");
	return 0;
}

static int mark_target(void *data, struct ext_pkt *xp)
{
	const struct mark_tg *m = data;

	xp->ctx->mark = (xp->ctx->mark & ~m->mask) ^ m->mark;
	return EXT_CONTINUE;
}

static int connmark_target(void *data, struct ext_pkt *xp)
{
	const struct mark_tg *m = data;
	struct nf_ctx *ctx = xp->ctx;
	uint32_t old, new_;

	if (!ctx->ct)
		return EXT_CONTINUE;
	old = ct_entry_mark(ctx->ct);
	switch (m->mode) {
	case M_SET:
		new_ = (old & ~m->mask) ^ m->mark;
		if (new_ != old)
			ct_entry_set_mark(ctx->ct, new_);
		break;
	case M_SAVE:
		new_ = (old & ~m->mask) ^ (ctx->mark & m->nfmask);
		if (new_ != old)
			ct_entry_set_mark(ctx->ct, new_);
		break;
	case M_RESTORE:
		ctx->mark = (ctx->mark & ~m->nfmask) ^ (old & m->mask);
		break;
	}
	return EXT_CONTINUE;
}

static void mark_save(const void *data, struct sbuf *out)
{
	const struct mark_tg *m = data;

	sbuf_printf(out, " --set-xmark 0x%x/0x%x", m->mark, m->mask);
}

static void connmark_save(const void *data, struct sbuf *out)
{
	const struct mark_tg *m = data;

	if (m->mode == M_SET)
		sbuf_printf(out, " --set-xmark 0x%x/0x%x", m->mark, m->mask);
	else
		sbuf_printf(out, " --%s-mark --nfmask 0x%x --ctmask 0x%x",
			    m->mode == M_SAVE ? "save" : "restore", m->nfmask, m->mask);
}

/* libxt_MARK / libxt_CONNMARK print() (revision 2 / 1). */
static void print_xmark(struct sbuf *out, const char *what, uint32_t mark, uint32_t mask)
{
	if (mark == 0)
		sbuf_printf(out, " %s and 0x%x", what, ~mask);
	else if (mark == mask)
		sbuf_printf(out, " %s or 0x%x", what, mark);
	else if (mask == 0)
		sbuf_printf(out, " %s xor 0x%x", what, mark);
	else if (mask == UINT32_MAX)
		sbuf_printf(out, " %s set 0x%x", what, mark);
	else
		sbuf_printf(out, " %s xset 0x%x/0x%x", what, mark, mask);
}

static void mark_print(const void *data, const struct rule_ip *ip, bool numeric,
		       struct sbuf *out)
{
	const struct mark_tg *m = data;

	(void)ip;
	(void)numeric;
	print_xmark(out, "MARK", m->mark, m->mask);
}

static void connmark_print(const void *data, const struct rule_ip *ip, bool numeric,
			   struct sbuf *out)
{
	const struct mark_tg *m = data;
	const char *op = m->mode == M_SAVE ? "save" : "restore";

	(void)ip;
	(void)numeric;
	if (m->mode == M_SET)
		print_xmark(out, "CONNMARK", m->mark, m->mask);
	else if (m->nfmask == UINT32_MAX && m->mask == UINT32_MAX)
		sbuf_printf(out, " CONNMARK %s", op);
	else if (m->nfmask == m->mask)
		sbuf_printf(out, " CONNMARK %s mask 0x%x", op, m->mask);
	else if (m->mode == M_SAVE)
		sbuf_printf(out, " CONNMARK save nfmask 0x%x ctmask ~0x%x", m->nfmask, m->mask);
	else
		sbuf_printf(out, " CONNMARK restore ctmask 0x%x nfmask ~0x%x", m->mask, m->nfmask);
}

const struct ext t_mark = {
	.name = "MARK",
	.size = sizeof(struct mark_tg),
	.opts = mark_opts,
	.parse = mark_parse,
	.final = mark_final,
	.target = mark_target,
	.save = mark_save,
	.print = mark_print,
};

const struct ext t_connmark = {
	.name = "CONNMARK",
	.size = sizeof(struct mark_tg),
	.opts = connmark_opts,
	.init = connmark_init,
	.parse = connmark_parse,
	.final = connmark_final,
	.target = connmark_target,
	.save = connmark_save,
	.print = connmark_print,
};
