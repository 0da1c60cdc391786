/* SPDX-License-Identifier: MIT */
/*
 * rules_parse — iptables-restore text into a ruleset.
 *
 * Lines: "#..." comments and blank lines are skipped; "*table" opens a
 * table (its built-in chains start empty with ACCEPT policies, as
 * iptables-restore flushes a table it restores); ":CHAIN POLICY [p:b]"
 * declares a user chain ("-" policy) or sets a built-in chain's policy and
 * counters; "[p:b] -A ..." and the other commands edit the open table;
 * "COMMIT" compiles it.  The [p:b] of chain lines and rule prefixes are
 * taken only with rules_parse_opts.counters (iptables-restore -c).
 *
 * Commands: -A, -I [n], -D (n or rule), -N, -X [chain], -F [chain],
 * -Z [chain], -P.  Jump targets must exist when the rule is read (as with
 * iptables-nft); loops, nesting depth and hook restrictions are checked at
 * COMMIT.  Any error discards everything: the caller's ruleset is never
 * touched.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/rules_int.h"
#include "nat/sbuf.h"

enum { MAX_WORDS = 1024 };

struct parser {
	struct rules *out;
	struct ptable *cur;
	bool touched;         /* the open table block has a chain line or command */
	char curname[16];
	unsigned int line;
	struct rules_error *err;
	const struct rules_parse_opts *opts; /* never NULL */
	int rc;               /* -EINVAL or -ENOMEM once failed */
};

static int perr(struct parser *p, const char *token, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct parser *p, const char *token, const char *fmt, ...)
{
	va_list ap;

	p->err->line = p->line;
	snprintf(p->err->token, sizeof(p->err->token), "%s", token ? token : "");
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	p->rc = -EINVAL;
	return -1;
}

static int poom(struct parser *p)
{
	p->err->line = p->line;
	p->err->token[0] = '\0';
	snprintf(p->err->message, sizeof(p->err->message), "out of memory");
	p->rc = -ENOMEM;
	return -1;
}

/* ---- parse-time tables ---- */

static void pchain_free(struct pchain *c)
{
	if (!c)
		return;
	for (unsigned int i = 0; i < c->n; i++)
		rules_prule_free(c->rules[i]);
	free(c->rules);
	free(c);
}

static void ptable_free(struct ptable *t)
{
	if (!t)
		return;
	for (unsigned int i = 0; i < t->n; i++)
		pchain_free(t->chains[i]);
	free(t->chains);
	free(t);
}

static struct pchain *ptable_find(void *arg, const char *name)
{
	struct ptable *t = arg;

	for (unsigned int i = 0; i < t->n; i++)
		if (strcmp(t->chains[i]->name, name) == 0)
			return t->chains[i];
	return NULL;
}

static struct pchain *ptable_add(struct ptable *t, const char *name)
{
	struct pchain *c;

	if (t->n == t->cap) {
		unsigned int cap = t->cap ? t->cap * 2 : 8;
		struct pchain **v = realloc(t->chains, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->chains = v;
		t->cap = cap;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->policy = NF_ACCEPT;
	t->chains[t->n++] = c;
	return c;
}

static struct ptable *ptable_new(enum nf_table table, uint8_t family)
{
	struct ptable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->table = table;
	t->family = family;
	for (int h = 0; h < NF_HOOK_MAX; h++) {
		struct pchain *c;

		if (!rules_hook_in_table(table, (enum nf_hook)h))
			continue;
		c = ptable_add(t, rules_hook_name((enum nf_hook)h));
		if (!c) {
			ptable_free(t);
			return NULL;
		}
		c->builtin = true;
		c->hook = (uint8_t)h;
	}
	return t;
}

static int chain_insert(struct pchain *c, unsigned int pos, struct prule *r)
{
	if (c->n == c->cap) {
		unsigned int cap = c->cap ? c->cap * 2 : 8;
		struct prule **v = realloc(c->rules, cap * sizeof(*v));

		if (!v)
			return -1;
		c->rules = v;
		c->cap = cap;
	}
	memmove(&c->rules[pos + 1], &c->rules[pos], (c->n - pos) * sizeof(c->rules[0]));
	c->rules[pos] = r;
	c->n++;
	if (r->jump)
		r->jump->refs++;
	return 0;
}

static void chain_delete(struct pchain *c, unsigned int pos)
{
	struct prule *r = c->rules[pos];

	if (r->jump)
		r->jump->refs--;
	rules_prule_free(r);
	memmove(&c->rules[pos], &c->rules[pos + 1], (c->n - pos - 1) * sizeof(c->rules[0]));
	c->n--;
}

static void chain_flush(struct pchain *c)
{
	while (c->n)
		chain_delete(c, c->n - 1);
}

/* ---- lines ---- */

static int valid_chain_name(struct parser *p, const char *name)
{
	static const char *const reserved[] = { "ACCEPT", "DROP", "QUEUE", "RETURN" };

	if (strlen(name) > RULES_CHAIN_MAXLEN)
		return perr(p, name, "chain name too long (must be under %d chars)",
			    RULES_CHAIN_MAXLEN + 1);
	if (name[0] == '-' || name[0] == '!')
		return perr(p, name, "chain name not allowed to start with \"%c\"", name[0]);
	/* saved bare, so it must read back as one word */
	if (strpbrk(name, " \t\r\""))
		return perr(p, name, "chain name with a blank or a quote");
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(name, reserved[i]) == 0)
			return perr(p, name, "chain name may not clash with target name");
	return 0;
}

/* Counters are decimal (iptables reads them with strtoull(.., 10)). */
static bool dec64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9' ||
		    v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static int parse_counter_word(const char *w, uint64_t *pc, uint64_t *bc)
{
	char buf[64], *colon;
	size_t len = strlen(w);

	if (len < 5 || len >= sizeof(buf) || w[0] != '[' || w[len - 1] != ']')
		return -1;
	memcpy(buf, w + 1, len - 2);
	buf[len - 2] = '\0';
	colon = strchr(buf, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	if (!dec64(buf, pc) || !dec64(colon + 1, bc))
		return -1;
	return 0;
}

static char *next_word(char **s)
{
	char *w = *s;

	while (*w == ' ' || *w == '\t')
		w++;
	if (!*w) {
		*s = w;
		return NULL;
	}
	*s = w;
	while (**s && **s != ' ' && **s != '\t')
		(*s)++;
	if (**s)
		*(*s)++ = '\0';
	return w;
}

static int chain_line(struct parser *p, char *line)
{
	char *s = line + 1, *name, *policy, *counters;
	uint64_t pc = 0, bc = 0;
	struct pchain *c;
	int hook;

	name = next_word(&s);
	if (!name || line[1] == ' ' || line[1] == '\t')
		return perr(p, line, "chain name missing");
	policy = next_word(&s);
	counters = next_word(&s);
	if (!policy)
		return perr(p, name, "policy missing for chain \"%s\"", name);
	if (next_word(&s))
		return perr(p, s, "unexpected words after the counters");
	if (counters && parse_counter_word(counters, &pc, &bc) < 0)
		return perr(p, counters, "bad counters \"%s\"", counters);
	if (valid_chain_name(p, name) < 0)
		return -1;
	hook = rules_builtin_hook(p->cur->table, name);
	if (hook >= 0) {
		c = ptable_find(p->cur, name);
		if (strcmp(policy, "ACCEPT") == 0 || strcmp(policy, "-") == 0)
			c->policy = NF_ACCEPT;
		else if (strcmp(policy, "DROP") == 0)
			c->policy = NF_DROP;
		else
			return perr(p, policy, "bad policy name \"%s\"", policy);
		c->pcnt = p->opts->counters ? pc : 0;
		c->bcnt = p->opts->counters ? bc : 0;
		return 0;
	}
	if (strcmp(policy, "-") != 0 && strcmp(policy, "ACCEPT") != 0 &&
	    strcmp(policy, "DROP") != 0)
		return perr(p, policy, "bad policy name \"%s\"", policy);
	if (ptable_find(p->cur, name))
		return 0;
	if (!ptable_add(p->cur, name))
		return poom(p);
	return 0;
}

static struct pchain *need_chain(struct parser *p, const char *name, const char *cmd)
{
	struct pchain *c;

	if (!name) {
		perr(p, cmd, "%s needs a chain", cmd);
		return NULL;
	}
	c = ptable_find(p->cur, name);
	if (!c)
		perr(p, name, "chain \"%s\" does not exist", name);
	return c;
}

static void put_prule(struct sbuf *sb, uint8_t family, const struct prule *r)
{
	rules_put_rule(sb, family, "", &r->ip, r->m, r->nm, (enum rule_kind)r->kind,
		       r->jump ? r->jump->name : NULL, r->target, r->tdata);
}

/* -D CHAIN RULE: the first rule with the same canonical text. */
static int delete_rule(struct parser *p, struct pchain *c, const struct prule *r)
{
	struct sbuf want, have;
	int found = -1;

	sbuf_init(&want);
	sbuf_init(&have);
	put_prule(&want, p->cur->family, r);
	for (unsigned int i = 0; i < c->n && !want.oom; i++) {
		sbuf_reset(&have);
		put_prule(&have, p->cur->family, c->rules[i]);
		if (have.oom)
			break;
		if (strcmp(want.buf, have.buf) == 0) {
			found = (int)i;
			break;
		}
	}
	if (want.oom || have.oom) {
		sbuf_free(&want);
		sbuf_free(&have);
		return poom(p);
	}
	sbuf_free(&want);
	sbuf_free(&have);
	if (found < 0)
		return perr(p, c->name, "bad rule (does a matching rule exist in that chain?)");
	chain_delete(c, (unsigned int)found);
	return 0;
}

static int delete_chain(struct parser *p, struct pchain *c)
{
	if (c->builtin)
		return perr(p, c->name, "cannot delete built-in chain \"%s\"", c->name);
	if (c->refs)
		return perr(p, c->name, "chain \"%s\" is referenced", c->name);
	if (c->n)
		return perr(p, c->name, "chain \"%s\" is not empty", c->name);
	for (unsigned int i = 0; i < p->cur->n; i++)
		if (p->cur->chains[i] == c) {
			memmove(&p->cur->chains[i], &p->cur->chains[i + 1],
				(p->cur->n - i - 1) * sizeof(p->cur->chains[0]));
			p->cur->n--;
			break;
		}
	pchain_free(c);
	return 0;
}

static int run_cmd(struct parser *p, struct pcmd *cmd)
{
	struct ptable *t = p->cur;
	struct pchain *c = NULL;
	char flag[3] = { '-', cmd->cmd, '\0' };

	switch (cmd->cmd) {
	case 'A':
	case 'I': {
		unsigned int pos;

		c = need_chain(p, cmd->chain, flag);
		if (!c)
			return -1;
		pos = cmd->cmd == 'A' ? c->n : (unsigned int)(cmd->rulenum ? cmd->rulenum - 1 : 0);
		if (pos > c->n)
			return perr(p, cmd->chain, "index of insertion too big");
		for (unsigned int i = 0; i < cmd->nrules; i++) {
			if (chain_insert(c, cmd->cmd == 'A' ? c->n : pos, cmd->rules[i]) < 0)
				return poom(p);
			cmd->rules[i] = NULL;
		}
		return 0;
	}
	case 'D':
		c = need_chain(p, cmd->chain, flag);
		if (!c)
			return -1;
		if (!cmd->has_rule) {
			if ((unsigned long)cmd->rulenum > c->n)
				return perr(p, cmd->chain, "index of deletion too big");
			chain_delete(c, (unsigned int)cmd->rulenum - 1);
			return 0;
		}
		for (unsigned int i = 0; i < cmd->nrules; i++)
			if (delete_rule(p, c, cmd->rules[i]) < 0)
				return -1;
		return 0;
	case 'N':
		if (!cmd->chain)
			return perr(p, flag, "-N needs a chain");
		if (valid_chain_name(p, cmd->chain) < 0)
			return -1;
		if (ptable_find(t, cmd->chain))
			return perr(p, cmd->chain, "chain \"%s\" already exists", cmd->chain);
		if (!ptable_add(t, cmd->chain))
			return poom(p);
		return 0;
	case 'X':
		if (cmd->chain) {
			c = need_chain(p, cmd->chain, flag);
			return c ? delete_chain(p, c) : -1;
		}
		for (unsigned int i = t->n; i-- > 0;) {
			if (t->chains[i]->builtin)
				continue;
			if (delete_chain(p, t->chains[i]) < 0)
				return -1;
		}
		return 0;
	case 'F':
		if (cmd->chain) {
			c = need_chain(p, cmd->chain, flag);
			if (!c)
				return -1;
			chain_flush(c);
			return 0;
		}
		for (unsigned int i = 0; i < t->n; i++)
			chain_flush(t->chains[i]);
		return 0;
	case 'Z':
		for (unsigned int i = 0; i < t->n; i++) {
			c = t->chains[i];
			if (cmd->chain && strcmp(c->name, cmd->chain) != 0)
				continue;
			c->pcnt = c->bcnt = 0;
			for (unsigned int k = 0; k < c->n; k++)
				c->rules[k]->pcnt = c->rules[k]->bcnt = 0;
		}
		if (cmd->chain && !ptable_find(t, cmd->chain))
			return perr(p, cmd->chain, "chain \"%s\" does not exist", cmd->chain);
		return 0;
	case 'P':
		c = ptable_find(t, cmd->chain);
		if (!c || !c->builtin)
			return perr(p, cmd->chain, "bad built-in chain name \"%s\"", cmd->chain);
		if (strcmp(cmd->policy, "ACCEPT") == 0) {
			c->policy = NF_ACCEPT;
		} else if (strcmp(cmd->policy, "DROP") == 0) {
			if (t->table == NF_NAT)
				return perr(p, cmd->policy,
					    "the nat table is not for filtering: DROP is not allowed");
			c->policy = NF_DROP;
		} else {
			return perr(p, cmd->policy, "bad policy name \"%s\"", cmd->policy);
		}
		return 0;
	}
	return perr(p, flag, "unknown command");
}

static int command_line(struct parser *p, char *line)
{
	char **words = malloc(MAX_WORDS * sizeof(*words));
	struct pcmd cmd;
	int n, rc;

	if (!words)
		return poom(p);
	n = rules_lex(line, words, MAX_WORDS, p->err);
	if (n < 0) {
		free(words);
		p->err->line = p->line;
		p->rc = -EINVAL;
		return -1;
	}
	rc = rules_parse_line(words, (unsigned int)n, p->cur->table, ptable_find, p->cur,
			      p->line, p->opts, &cmd, p->err);
	if (rc < 0) {
		free(words);
		p->err->line = p->line;
		p->rc = rc;
		return -1;
	}
	if (!cmd.skip)
		p->touched = true;
	rc = cmd.skip || !cmd.cmd ? 0 : run_cmd(p, &cmd);
	rules_pcmd_free(&cmd);
	free(words);
	return rc;
}

static int table_line(struct parser *p, char *line)
{
	char *s = line + 1, *name = next_word(&s);
	int t;

	if (p->cur)
		return perr(p, p->curname, "COMMIT missing");
	if (!name || line[1] == ' ' || line[1] == '\t')
		return perr(p, line, "table name missing");
	t = rules_table_by_name(name);
	if (t < 0)
		return perr(p, name, "table \"%s\" does not exist", name);
	p->cur = ptable_new((enum nf_table)t, p->out->family);
	if (!p->cur)
		return poom(p);
	p->touched = false;
	snprintf(p->curname, sizeof(p->curname), "*%s", name);
	return 0;
}

static int commit_line(struct parser *p)
{
	struct rules_table nt;
	int rc;

	if (!p->cur)
		return perr(p, "COMMIT", "COMMIT without a table");
	if (!p->touched) {
		/* an empty block removes the table, as with iptables-nft */
		rules_table_free(&p->out->t[p->cur->table]);
		ptable_free(p->cur);
		p->cur = NULL;
		return 0;
	}
	rc = rules_compile(p->cur, &nt, p->err);
	if (rc < 0) {
		p->rc = rc;
		return -1;
	}
	nt.loaded = true;
	rules_table_free(&p->out->t[p->cur->table]);
	p->out->t[p->cur->table] = nt;
	ptable_free(p->cur);
	p->cur = NULL;
	return 0;
}

static int one_line(struct parser *p, char *line)
{
	char *s = line;

	/* iptables-restore skips empty lines and "#" lines only: a line of
	 * blanks is a command line without a command */
	if (line[0] == '\0' || line[0] == '#')
		return 0;
	while (*s == ' ' || *s == '\t')
		s++;
	if (line[0] == '*')
		return table_line(p, line);
	if (strcmp(line, "COMMIT") == 0)
		return commit_line(p);
	if (!p->cur) {
		char *w = s;

		while (*s && *s != ' ' && *s != '\t')
			s++;
		*s = '\0';
		return perr(p, w, "no table: a *table line must come first");
	}
	if (line[0] == ':') {
		p->touched = true;
		return chain_line(p, line);
	}
	return command_line(p, line);
}

int rules_parse(struct rules **out, const char *text, size_t len,
		const struct rules *base, struct rules_error *err)
{
	return rules_parse_with(out, text, len, base, NULL, err);
}

int rules_parse_with(struct rules **out, const char *text, size_t len,
		     const struct rules *base, const struct rules_parse_opts *opts,
		     struct rules_error *err)
{
	static const struct rules_parse_opts none;
	struct parser p = { .err = err, .opts = opts ? opts : &none };
	size_t pos = 0;
	char *buf = NULL;
	size_t bufcap = 0;

	memset(err, 0, sizeof(*err));
	*out = NULL;
	p.out = calloc(1, sizeof(*p.out));
	if (!p.out)
		return poom(&p), -ENOMEM;
	p.out->family = p.opts->family == NF_V6 ? NF_V6 : NF_V4;
	if (base && base->family != p.out->family) {
		perr(&p, "", "the current rules are IPv%u rules, not IPv%u",
		     base->family, p.out->family);
		goto fail;
	}
	for (int t = 0; t < NF_TABLE_MAX; t++) {
		for (int h = 0; h < NF_HOOK_MAX; h++)
			p.out->t[t].hook_chain[h] = -1;
		if (base && base->t[t].loaded &&
		    rules_table_copy(&p.out->t[t], &base->t[t]) < 0) {
			poom(&p);
			goto fail;
		}
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p.line++;
		if (n + 1 > bufcap) {
			char *b = realloc(buf, n + 1);

			if (!b) {
				poom(&p);
				goto fail;
			}
			buf = b;
			bufcap = n + 1;
		}
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		if (memchr(buf, '\0', n)) {
			perr(&p, "", "NUL byte in line");
			goto fail;
		}
		if (one_line(&p, buf) < 0)
			goto fail;
		pos += n + (nl ? 1 : 0);
	}
	if (p.cur) {
		p.line++;
		perr(&p, p.curname, "COMMIT missing");
		goto fail;
	}
	free(buf);
	*out = p.out;
	return 0;
fail:
	free(buf);
	ptable_free(p.cur);
	rules_free(p.out);
	return p.rc ? p.rc : -EINVAL;
}
