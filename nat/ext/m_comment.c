/* SPDX-License-Identifier: MIT */
/*
 * m_comment — the comment match: always true; the text (at most 255
 * bytes, longer is cut as xt_comment's buffer cuts it) is saved quoted as
 * xtables_save_string() quotes it.
 */
#include <string.h>

#include "nat/ext.h"
#include "nat/sbuf.h"

enum { COMMENT_MAX = 256 };

struct comment_info {
	char comment[COMMENT_MAX];
};

static const struct ext_opt comment_opts[] = {
	{ "comment", 0, 1, 0 },
	{ NULL, 0, 0, 0 },
};

static int comment_parse(void *data, unsigned int id, char *const *args, bool inv,
			 struct ext_parse *pc)
{
	struct comment_info *c = data;
	size_t n = strlen(args[0]);

	(void)id;
	(void)inv;
	(void)pc;
	if (n >= COMMENT_MAX)
		n = COMMENT_MAX - 1;
	memcpy(c->comment, args[0], n);
	c->comment[n] = '\0';
	return 0;
}

static int comment_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!seen)
		return ext_fail(pc, NULL, "comment: option \"--comment\" must be specified");
	return 0;
}

static bool comment_match(void *data, struct ext_pkt *xp)
{
	(void)data;
	(void)xp;
	return true;
}

static void comment_save(const void *data, struct sbuf *out)
{
	const struct comment_info *c = data;

	sbuf_add(out, " --comment");
	ext_put_string(out, c->comment);
}

static void comment_print(const void *data, const struct rule_ip *ip, bool numeric,
			  struct sbuf *out)
{
	const struct comment_info *c = data;

	(void)ip;
	(void)numeric;
	sbuf_printf(out, " /* %s */", c->comment);
}

const struct ext m_comment = {
	.name = "comment",
	.size = sizeof(struct comment_info),
	.opts = comment_opts,
	.parse = comment_parse,
	.final = comment_final,
	.match = comment_match,
	.save = comment_save,
	.print = comment_print,
};
