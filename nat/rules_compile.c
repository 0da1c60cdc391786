/* SPDX-License-Identifier: MIT */
/*
 * rules_compile — a parsed table (chains of malloc'ed rules) into the flat
 * arrays rules_run() walks, then the load-time checks Linux makes when a
 * table is replaced (mark_source_chains() and the extensions' checkentry):
 *
 *  - chains reachable from a built-in chain must not loop (a jump or goto
 *    back into a chain on the current path);
 *  - no chain may be nested more than RULES_MAX_DEPTH chains below a
 *    built-in one, jumps and gotos alike (nf_tables' limit), which also
 *    bounds the jump stack of a walk;
 *  - every match and target is checked with the set of hooks its rule is
 *    reachable from (none for a chain no built-in chain reaches, which the
 *    kernel accepts unchecked) and with the table.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/rules_int.h"

enum { WHITE, GREY, BLACK };
enum { ALIGN = 16 };

struct graph {
	struct rules_table *t;
	const unsigned int *lines;  /* per compiled rule */
	uint8_t *color;
	uint8_t *height;            /* longest nesting below a chain */
	uint8_t *hooks;             /* hooks reaching a chain */
	struct rules_error *err;
	uint8_t family;
};

static int cfail(struct rules_error *err, unsigned int line, const char *token,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int cfail(struct rules_error *err, unsigned int line, const char *token,
		 const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	snprintf(err->token, sizeof(err->token), "%s", token);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int cmp_name(const void *a, const void *b)
{
	const struct pchain *x = *(const struct pchain *const *)a;
	const struct pchain *y = *(const struct pchain *const *)b;

	return strcmp(x->name, y->name);
}

static size_t align_up(size_t n)
{
	return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static int dfs(struct graph *g, uint32_t c, unsigned int level)
{
	const struct rules_chain *ch = &g->t->chains[c];
	unsigned int h = 0;

	g->color[c] = GREY;
	for (uint32_t i = ch->first; i < ch->first + ch->n; i++) {
		const struct rule *r = &g->t->rules[i];
		uint32_t d;

		if (r->kind != RK_JUMP && r->kind != RK_GOTO)
			continue;
		d = r->chain;
		if (g->color[d] == GREY)
			return cfail(g->err, g->lines[i], g->t->chains[d].name,
				     "jump loop through chain \"%s\"", g->t->chains[d].name);
		if (level + 1 > RULES_MAX_DEPTH)
			return cfail(g->err, g->lines[i], g->t->chains[d].name,
				     "chains nested more than %d deep", RULES_MAX_DEPTH);
		if (g->color[d] == WHITE) {
			int rc = dfs(g, d, level + 1);

			if (rc < 0)
				return rc;
		}
		if (level + 1 + g->height[d] > RULES_MAX_DEPTH)
			return cfail(g->err, g->lines[i], g->t->chains[d].name,
				     "chains nested more than %d deep", RULES_MAX_DEPTH);
		if (1u + g->height[d] > h)
			h = 1u + g->height[d];
	}
	g->height[c] = (uint8_t)h;
	g->color[c] = BLACK;
	return 0;
}

static void mark_hooks(struct graph *g, uint32_t c, uint8_t bit)
{
	const struct rules_chain *ch = &g->t->chains[c];

	if (g->hooks[c] & bit)
		return;
	g->hooks[c] |= bit;
	for (uint32_t i = ch->first; i < ch->first + ch->n; i++) {
		const struct rule *r = &g->t->rules[i];

		if (r->kind == RK_JUMP || r->kind == RK_GOTO)
			mark_hooks(g, r->chain, bit);
	}
}

static const char *first_hook(uint8_t mask)
{
	for (int h = 0; h < NF_HOOK_MAX; h++)
		if (mask & (1u << h))
			return rules_hook_name((enum nf_hook)h);
	return "?";
}

static const char *table_name(uint8_t mask)
{
	for (int t = 0; t < NF_TABLE_MAX; t++)
		if (mask & (1u << t))
			return rules_table_name((enum nf_table)t);
	return "?";
}

static int check_ext(struct graph *g, enum nf_table table, uint8_t hooks,
		     const struct rule *r, unsigned int line, const struct ext *e,
		     const void *data, bool target)
{
	const char *kind = target ? "target" : "match";
	struct ext_check ck = { .table = table, .family = g->family, .hooks = hooks,
				.ip = &r->ip };
	struct ext_parse pc = { .ip = &r->ip, .family = g->family, .err = g->err,
				.token = e->name };

	if (e->tables && !(e->tables & (1u << table)))
		return cfail(g->err, line, e->name, "%s %s: only valid in the %s table",
			     e->name, kind, table_name(e->tables));
	if (e->hooks && (hooks & ~e->hooks))
		return cfail(g->err, line, e->name, "%s %s: not valid in %s", e->name, kind,
			     first_hook(hooks & (uint8_t)~e->hooks));
	if (e->check && e->check(data, &ck, &pc) < 0) {
		g->err->line = line;
		return -EINVAL;
	}
	return 0;
}

static int check_table(struct graph *g, enum nf_table table)
{
	struct rules_table *t = g->t;
	int rc;

	for (uint32_t c = 0; c < t->nchains; c++) {
		if (t->chains[c].builtin && g->color[c] == WHITE) {
			rc = dfs(g, c, 0);
			if (rc < 0)
				return rc;
		}
	}
	for (uint32_t c = 0; c < t->nchains; c++)
		if (t->chains[c].builtin)
			mark_hooks(g, c, (uint8_t)(1u << t->chains[c].hook));
	for (uint32_t c = 0; c < t->nchains; c++) {
		const struct rules_chain *ch = &t->chains[c];

		for (uint32_t i = ch->first; i < ch->first + ch->n; i++) {
			const struct rule *r = &t->rules[i];

			for (unsigned int k = 0; k < r->nmatch; k++) {
				const struct rule_match *m = &t->matches[r->match0 + k];

				rc = check_ext(g, table, g->hooks[c], r, g->lines[i], m->ext,
					       m->data, false);
				if (rc < 0)
					return rc;
			}
			if (r->kind == RK_EXT) {
				rc = check_ext(g, table, g->hooks[c], r, g->lines[i], r->target,
					       r->tdata, true);
				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
}

int rules_compile(const struct ptable *src, struct rules_table *dst,
		  struct rules_error *err)
{
	struct pchain **order = NULL;
	unsigned int *lines = NULL;
	struct graph g = { .t = dst, .err = err, .family = src->family };
	size_t arena = 0, nrules = 0, nmatches = 0, off = 0;
	unsigned int n = 0, ri = 0, mi = 0;
	int rc = -ENOMEM;

	memset(dst, 0, sizeof(*dst));
	for (int h = 0; h < NF_HOOK_MAX; h++)
		dst->hook_chain[h] = -1;
	if (src->n > UINT16_MAX)
		return cfail(err, 0, "", "too many chains");

	order = malloc((src->n + 1) * sizeof(*order));
	if (!order)
		goto oom;
	for (int h = 0; h < NF_HOOK_MAX; h++)
		for (unsigned int i = 0; i < src->n; i++)
			if (src->chains[i]->builtin && src->chains[i]->hook == h)
				order[n++] = src->chains[i];
	for (unsigned int i = 0; i < src->n; i++)
		if (!src->chains[i]->builtin)
			order[n++] = src->chains[i];
	{
		unsigned int nb = 0;

		while (nb < n && order[nb]->builtin)
			nb++;
		qsort(order + nb, n - nb, sizeof(*order), cmp_name);
	}
	for (unsigned int i = 0; i < n; i++) {
		order[i]->index = i;
		nrules += order[i]->n;
		for (unsigned int k = 0; k < order[i]->n; k++) {
			const struct prule *r = order[i]->rules[k];

			nmatches += r->nm;
			for (unsigned int m = 0; m < r->nm; m++)
				arena += align_up(r->m[m].ext->size);
			if (r->kind == RK_EXT)
				arena += align_up(r->target->size);
		}
	}
	dst->chains = calloc(n + 1, sizeof(*dst->chains));
	dst->rules = calloc(nrules + 1, sizeof(*dst->rules));
	dst->matches = calloc(nmatches + 1, sizeof(*dst->matches));
	dst->arena = aligned_alloc(ALIGN, arena + ALIGN);
	lines = calloc(nrules + 1, sizeof(*lines));
	g.color = calloc(n + 1, 3);
	if (!dst->chains || !dst->rules || !dst->matches || !dst->arena || !lines || !g.color)
		goto oom;
	g.height = g.color + n + 1;
	g.hooks = g.height + n + 1;
	g.lines = lines;
	memset(dst->arena, 0, arena + ALIGN);
	dst->nchains = (uint16_t)n;
	dst->nrules = (uint32_t)nrules;
	dst->nmatches = (uint32_t)nmatches;
	dst->arena_len = arena;

	for (unsigned int i = 0; i < n; i++) {
		const struct pchain *pc = order[i];
		struct rules_chain *c = &dst->chains[i];

		snprintf(c->name, sizeof(c->name), "%s", pc->name);
		c->builtin = pc->builtin;
		c->hook = pc->hook;
		c->policy = pc->policy;
		c->pcnt = pc->pcnt;
		c->bcnt = pc->bcnt;
		c->first = ri;
		c->n = pc->n;
		if (pc->builtin)
			dst->hook_chain[pc->hook] = (int32_t)i;
		for (unsigned int k = 0; k < pc->n; k++) {
			const struct prule *p = pc->rules[k];
			struct rule *r = &dst->rules[ri];

			r->ip = p->ip;
			r->kind = p->kind;
			r->nmatch = p->nm;
			r->match0 = mi;
			r->pcnt = p->pcnt;
			r->bcnt = p->bcnt;
			lines[ri] = p->line;
			if (p->kind == RK_JUMP || p->kind == RK_GOTO)
				r->chain = p->jump->index;
			for (unsigned int m = 0; m < p->nm; m++) {
				struct rule_match *dm = &dst->matches[mi++];

				dm->ext = p->m[m].ext;
				dm->data = dst->arena + off;
				memcpy(dm->data, p->m[m].data, dm->ext->size);
				off += align_up(dm->ext->size);
			}
			if (p->kind == RK_EXT) {
				r->target = p->target;
				r->tdata = dst->arena + off;
				memcpy(r->tdata, p->tdata, p->target->size);
				off += align_up(p->target->size);
			}
			ri++;
		}
	}
	rc = check_table(&g, src->table);
	if (rc < 0)
		goto out;
	free(order);
	free(lines);
	free(g.color);
	return 0;
oom:
	err->line = 0;
	err->token[0] = '\0';
	snprintf(err->message, sizeof(err->message), "out of memory");
out:
	free(order);
	free(lines);
	free(g.color);
	rules_table_free(dst);
	return rc;
}
