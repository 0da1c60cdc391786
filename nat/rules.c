/* SPDX-License-Identifier: MIT */
/*
 * rules — the ruleset object: which chains each table has built in, table
 * and chain names, copying (a restore keeps the tables it does not name,
 * counters included) and freeing.
 */
#include <stdlib.h>
#include <string.h>

#include "nat/rules_int.h"

static const char *const table_names[NF_TABLE_MAX] = {
	[NF_RAW] = "raw", [NF_MANGLE] = "mangle", [NF_NAT] = "nat", [NF_FILTER] = "filter",
};

static const char *const hook_names[NF_HOOK_MAX] = {
	[NF_PREROUTING] = "PREROUTING", [NF_INPUT] = "INPUT", [NF_FORWARD] = "FORWARD",
	[NF_OUTPUT] = "OUTPUT", [NF_POSTROUTING] = "POSTROUTING",
};

/* Linux's built-in chains per table. */
static const uint8_t table_hooks[NF_TABLE_MAX] = {
	[NF_RAW] = 1 << NF_PREROUTING | 1 << NF_OUTPUT,
	[NF_MANGLE] = 1 << NF_PREROUTING | 1 << NF_INPUT | 1 << NF_FORWARD |
		      1 << NF_OUTPUT | 1 << NF_POSTROUTING,
	[NF_NAT] = 1 << NF_PREROUTING | 1 << NF_INPUT | 1 << NF_OUTPUT | 1 << NF_POSTROUTING,
	[NF_FILTER] = 1 << NF_INPUT | 1 << NF_FORWARD | 1 << NF_OUTPUT,
};

bool rules_hook_in_table(enum nf_table t, enum nf_hook h)
{
	return (unsigned int)t < NF_TABLE_MAX && (unsigned int)h < NF_HOOK_MAX &&
	       (table_hooks[t] & (1u << h));
}

const char *rules_hook_name(enum nf_hook h)
{
	return (unsigned int)h < NF_HOOK_MAX ? hook_names[h] : "?";
}

int rules_builtin_hook(enum nf_table t, const char *name)
{
	for (int h = 0; h < NF_HOOK_MAX; h++)
		if (rules_hook_in_table(t, (enum nf_hook)h) && strcmp(hook_names[h], name) == 0)
			return h;
	return -1;
}

int rules_table_by_name(const char *name)
{
	for (int t = 0; t < NF_TABLE_MAX; t++)
		if (strcmp(table_names[t], name) == 0)
			return t;
	return -1;
}

const char *rules_table_name(enum nf_table t)
{
	return (unsigned int)t < NF_TABLE_MAX ? table_names[t] : "?";
}

const char *rules_chain_name(const struct rules *r, enum nf_table t, unsigned chain)
{
	if (!r || (unsigned int)t >= NF_TABLE_MAX || chain >= r->t[t].nchains)
		return NULL;
	return r->t[t].chains[chain].name;
}

uint8_t rules_family(const struct rules *r)
{
	return r->family;
}

bool rules_has_chain(const struct rules *r, enum nf_table t, enum nf_hook hook)
{
	return r && (unsigned int)t < NF_TABLE_MAX && (unsigned int)hook < NF_HOOK_MAX &&
	       r->t[t].hook_chain[hook] >= 0;
}

void rules_table_free(struct rules_table *t)
{
	free(t->chains);
	free(t->rules);
	free(t->matches);
	free(t->arena);
	memset(t, 0, sizeof(*t));
	for (int h = 0; h < NF_HOOK_MAX; h++)
		t->hook_chain[h] = -1;
}

int rules_table_copy(struct rules_table *dst, const struct rules_table *src)
{
	size_t alen = src->arena_len + 16;

	*dst = *src;
	dst->chains = malloc((src->nchains + 1) * sizeof(*dst->chains));
	dst->rules = malloc((src->nrules + 1) * sizeof(*dst->rules));
	dst->matches = malloc((src->nmatches + 1) * sizeof(*dst->matches));
	dst->arena = aligned_alloc(16, alen);
	if (!dst->chains || !dst->rules || !dst->matches || !dst->arena) {
		rules_table_free(dst);
		return -1;
	}
	memcpy(dst->chains, src->chains, src->nchains * sizeof(*dst->chains));
	memcpy(dst->rules, src->rules, src->nrules * sizeof(*dst->rules));
	memcpy(dst->matches, src->matches, src->nmatches * sizeof(*dst->matches));
	memcpy(dst->arena, src->arena, alen);
	/* rebase the extension data pointers onto the new arena */
	for (uint32_t i = 0; i < dst->nmatches; i++)
		dst->matches[i].data = dst->arena + ((uint8_t *)src->matches[i].data - src->arena);
	for (uint32_t i = 0; i < dst->nrules; i++)
		if (dst->rules[i].tdata)
			dst->rules[i].tdata = dst->arena +
				((uint8_t *)src->rules[i].tdata - src->arena);
	return 0;
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (int t = 0; t < NF_TABLE_MAX; t++)
		rules_table_free(&r->t[t]);
	free(r);
}
