/* SPDX-License-Identifier: MIT */
/*
 * t_notrack — NOTRACK and CT --notrack (raw table only): the packet is not
 * tracked (ctx->notrack); non-terminating, as xt_CT returns XT_CONTINUE.
 * CT without options attaches nothing gw would use and does nothing; its
 * other options (zones, helpers, timeouts, events) are not supported.
 */
#include "nat/ext.h"
#include "nat/sbuf.h"

struct ct_tg {
	uint8_t notrack;
};

static const struct ext_opt ct_opts[] = {
	{ "notrack", 0, 0, 0 },
	{ NULL, 0, 0, 0 },
};

static int ct_parse(void *data, unsigned int id, char *const *args, bool inv,
		    struct ext_parse *pc)
{
	struct ct_tg *c = data;

	(void)id;
	(void)args;
	(void)inv;
	(void)pc;
	c->notrack = 1;
	return 0;
}

static int notrack_target(void *data, struct ext_pkt *xp)
{
	(void)data;
	xp->ctx->notrack = true;
	return EXT_CONTINUE;
}

static int ct_target(void *data, struct ext_pkt *xp)
{
	const struct ct_tg *c = data;

	if (c->notrack)
		xp->ctx->notrack = true;
	return EXT_CONTINUE;
}

static void notrack_save(const void *data, struct sbuf *out)
{
	(void)data;
	(void)out;
}

static void ct_save(const void *data, struct sbuf *out)
{
	const struct ct_tg *c = data;

	if (c->notrack)
		sbuf_add(out, " --notrack");
}

static void notrack_print(const void *data, const struct rule_ip *ip, bool numeric,
			  struct sbuf *out)
{
	(void)data;
	(void)ip;
	(void)numeric;
	sbuf_add(out, " NOTRACK");
}

static void ct_print(const void *data, const struct rule_ip *ip, bool numeric,
		     struct sbuf *out)
{
	const struct ct_tg *c = data;

	(void)ip;
	(void)numeric;
	sbuf_add(out, c->notrack ? " CT notrack" : " CT");
}

const struct ext t_notrack = {
	.name = "NOTRACK",
	.size = sizeof(struct ct_tg),
	.tables = 1 << NF_RAW,
	.target = notrack_target,
	.save = notrack_save,
	.print = notrack_print,
};

const struct ext t_ct = {
	.name = "CT",
	.size = sizeof(struct ct_tg),
	.tables = 1 << NF_RAW,
	.opts = ct_opts,
	.parse = ct_parse,
	.target = ct_target,
	.save = ct_save,
	.print = ct_print,
};
