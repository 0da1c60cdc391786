/* SPDX-License-Identifier: MIT */
/*
 * m_limit — the limit match: a token bucket per rule on ctx->now.
 *
 * --limit N[/second|minute|hour|day] (any prefix of the unit, default
 * 3/hour, at most 10000/s) is kept as xt_limit's avg = 10000 * seconds / N;
 * iptables-nft turns it into a rate per largest unit that divides it well
 * and prints that ("60/minute" is "1/sec"), and that rate is what the
 * bucket runs on, as nft_limit does: one packet costs unit / rate of time,
 * the bucket holds burst packets (default 5; a burst of 0 is 5) and starts
 * full at load.  The state lives in the compiled rule.
 */
#include <string.h>
#include <strings.h>

#include "nat/ext.h"
#include "nat/sbuf.h"

enum { SCALE = 10000, BURST_DEFAULT = 5 };

struct limit_info {
	uint32_t avg;           /* seconds * SCALE per packet */
	uint32_t burst;
	uint64_t cost, cap;     /* ns per packet, ns the bucket holds */
	uint64_t credit, prev;  /* bucket state */
	bool started;
};

static const struct ext_opt limit_opts[] = {
	{ "limit", 0, 1, 0 },
	{ "limit-burst", 1, 1, 0 },
	{ NULL, 0, 0, 0 },
};

static const struct {
	const char *name;
	uint32_t mult;   /* SCALE * seconds */
	uint32_t secs;
} rates[] = {
	{ "day", SCALE * 24 * 60 * 60, 24 * 60 * 60 },
	{ "hour", SCALE * 60 * 60, 60 * 60 },
	{ "min", SCALE * 60, 60 },
	{ "sec", SCALE, 1 },
};

/* The unit index and rate iptables-nft prints for avg. */
static unsigned int canon(uint32_t avg, uint32_t *rate)
{
	unsigned int i;

	for (i = 1; i < 4; i++)
		if (avg > rates[i].mult || rates[i].mult / avg < rates[i].mult % avg)
			break;
	*rate = rates[i - 1].mult / avg;
	return i - 1;
}

static void limit_setup(struct limit_info *l)
{
	uint32_t rate;
	unsigned int u = canon(l->avg, &rate);

	l->cost = (uint64_t)rates[u].secs * 1000000000u / rate;
	l->cap = l->cost * l->burst;
	l->credit = l->cap;
	l->prev = 0;
	l->started = false;
}

static void limit_init(void *data)
{
	struct limit_info *l = data;

	l->avg = SCALE * 60 * 60 / 3;
	l->burst = BURST_DEFAULT;
}

/* parse_rate() */
static bool parse_rate(const char *s, uint32_t *avg, bool *too_fast)
{
	const char *slash = strchr(s, '/');
	uint32_t mult = 1;
	uint64_t r = 0;
	const char *p = s;

	*too_fast = false;
	if (slash) {
		const char *u = slash + 1;
		size_t n = strlen(u);

		if (n == 0)
			return false;
		if (strncasecmp(u, "second", n) == 0)
			mult = 1;
		else if (strncasecmp(u, "minute", n) == 0)
			mult = 60;
		else if (strncasecmp(u, "hour", n) == 0)
			mult = 60 * 60;
		else if (strncasecmp(u, "day", n) == 0)
			mult = 24 * 60 * 60;
		else
			return false;
	}
	/* atoi(): leading digits */
	while (*p >= '0' && *p <= '9' && r < 100000000u)
		r = r * 10 + (uint64_t)(*p++ - '0');
	if (r == 0)
		return false;
	if ((uint64_t)SCALE * mult / r == 0) {
		*too_fast = true;
		return false;
	}
	*avg = (uint32_t)((uint64_t)SCALE * mult / r);
	return true;
}

static int limit_parse(void *data, unsigned int id, char *const *args, bool inv,
		       struct ext_parse *pc)
{
	struct limit_info *l = data;
	bool too_fast;
	uint32_t v;

	(void)inv;
	if (id == 0) {
		if (!parse_rate(args[0], &l->avg, &too_fast))
			return ext_fail(pc, args[0], too_fast ? "Rate too fast \"%s\"" :
								 "bad rate \"%s\"", args[0]);
		return 0;
	}
	if (!ext_strtou32(args[0], 10000, &v))
		return ext_fail(pc, args[0],
				"limit: bad value for option \"--limit-burst\", or out of range (0-10000)");
	l->burst = v ? v : BURST_DEFAULT;
	return 0;
}

static int limit_final(void *data, uint32_t seen, struct ext_parse *pc)
{
	(void)seen;
	(void)pc;
	limit_setup(data);
	return 0;
}

static bool limit_match(void *data, struct ext_pkt *xp)
{
	struct limit_info *l = data;
	uint64_t now = xp->ctx->now;

	if (!l->started) {
		l->started = true;
		l->prev = now;
	} else if (now > l->prev) {
		uint64_t add = now - l->prev;

		l->credit = add >= l->cap - l->credit ? l->cap : l->credit + add;
		l->prev = now;
	}
	if (l->credit >= l->cost) {
		l->credit -= l->cost;
		return true;
	}
	return false;
}

static void limit_save(const void *data, struct sbuf *out)
{
	const struct limit_info *l = data;
	uint32_t rate;
	unsigned int u = canon(l->avg, &rate);

	sbuf_printf(out, " --limit %u/%s", rate, rates[u].name);
	if (l->burst != BURST_DEFAULT)
		sbuf_printf(out, " --limit-burst %u", l->burst);
}

/* libxt_limit print(): the burst always. */
static void limit_print(const void *data, const struct rule_ip *ip, bool numeric,
			struct sbuf *out)
{
	const struct limit_info *l = data;
	uint32_t rate;
	unsigned int u = canon(l->avg, &rate);

	(void)ip;
	(void)numeric;
	sbuf_printf(out, " limit: avg %u/%s burst %u", rate, rates[u].name, l->burst);
}

const struct ext m_limit = {
	.name = "limit",
	.size = sizeof(struct limit_info),
	.opts = limit_opts,
	.init = limit_init,
	.parse = limit_parse,
	.final = limit_final,
	.match = limit_match,
	.save = limit_save,
	.print = limit_print,
};
