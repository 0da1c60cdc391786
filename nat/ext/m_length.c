/* SPDX-License-Identifier: MIT */
/*
 * m_length — the length match: the IP total length in an inclusive range.
 * "a", "a:b", ":b" (0:b), "a:" (a:65535); a reversed range is kept.
 * Saved as "[!] --length a" or "a:b".
 */
#include <string.h>

#include "nat/ext.h"
#include "nat/pkt/pkt.h"
#include "nat/sbuf.h"

struct length_info {
	uint16_t min, max;
	uint8_t invert;
};

static const struct ext_opt length_opts[] = {
	{ "length", 0, 1, EXT_O_INV },
	{ NULL, 0, 0, 0 },
};

static int length_parse(void *data, unsigned int id, char *const *args, bool inv,
			struct ext_parse *pc)
{
	struct length_info *l = data;
	char *arg = args[0], *colon = strchr(arg, ':');
	uint32_t a = 0, b = 65535;
	bool ok = true;

	(void)id;
	if (colon)
		*colon = '\0';
	if (!colon || arg[0])
		ok = ext_strtou32(arg, 65535, &a);
	if (ok && colon && colon[1])
		ok = ext_strtou32(colon + 1, 65535, &b);
	else if (!colon)
		b = a;
	if (colon)
		*colon = ':';
	if (!ok)
		return ext_fail(pc, arg,
				"length: bad value for option \"--length\" near \"%s\", or out of range (0-65535)",
				arg);
	l->min = (uint16_t)a;
	l->max = (uint16_t)b;
	l->invert = inv;
	return 0;
}

static int length_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)data;
	if (!seen)
		return ext_fail(pc, NULL, "length: option \"--length\" must be specified");
	return 0;
}

static bool length_match(void *data, struct ext_pkt *xp)
{
	const struct length_info *l = data;
	uint16_t len = xp->h->tot_len;

	return (len >= l->min && len <= l->max) != l->invert;
}

static void length_save(const void *data, struct sbuf *out)
{
	const struct length_info *l = data;

	sbuf_printf(out, "%s --length %u", l->invert ? " !" : "", l->min);
	if (l->min != l->max)
		sbuf_printf(out, ":%u", l->max);
}

static void length_print(const void *data, const struct rule_ip *ip, bool numeric,
			 struct sbuf *out)
{
	const struct length_info *l = data;

	(void)ip;
	(void)numeric;
	sbuf_printf(out, " length %s%u", l->invert ? "!" : "", l->min);
	if (l->min != l->max)
		sbuf_printf(out, ":%u", l->max);
}

const struct ext m_length = {
	.name = "length",
	.size = sizeof(struct length_info),
	.opts = length_opts,
	.parse = length_parse,
	.final = length_final,
	.match = length_match,
	.save = length_save,
	.print = length_print,
};
