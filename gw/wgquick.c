/* SPDX-License-Identifier: MIT */
/*
 * A wg-quick hook line is shell: commands separated by ';', '&&', '||', '&'
 * or newlines, %i replaced by the interface name before the shell sees it.
 * Each iptables (ip6tables) command is read as iptables(8) reads its
 * arguments, into the Rules (Rules6) file's suggestion:
 *   -A/-I CHAIN ...   becomes that line of the table's *TABLE block;
 *   -N CHAIN          ":CHAIN - [0:0]";   -P CHAIN POLICY   ":CHAIN POLICY [0:0]";
 *   -D / -C           the undo / a test of a rule: nothing to add;
 *   -t TABLE          the block; -w/-W (xtables lock waits) dropped;
 * anything else (another command, shell expansion, pipes, redirections) is
 * not mechanical and is said to be so.  A suggested line is loaded first by
 * gw's rules parser, with the chains the same hook line declares.
 */
#include "gw/wgquick.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/rulesfile.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

enum { WQ_TOKENS = 64, WQ_ENTRIES = 32, WQ_TABLE = 16 };

/* One line of the suggestion: a rule or a chain line of table, for the
 * Rules file or (v6) the Rules6 one. */
struct entry {
	char table[WQ_TABLE];
	bool chain, v6;
	char *text;
};

struct hook {
	const char *where, *key;
	struct sbuf *warn;
	struct entry e[WQ_ENTRIES];
	size_t n;
	struct sbuf notes;	/* per-command remarks, printed after the block */
	bool iptables;		/* some command ran iptables or ip6tables */
};

/* A command split into words, quotes removed; false when it needs a shell
 * (expansion, pipe, redirection, subshell, escape). */
static bool split_words(char *s, char **w, size_t *n)
{
	char *out = s;

	*n = 0;
	while (*s) {
		char q = 0;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (*n == WQ_TOKENS)
			return false;
		w[(*n)++] = out;
		while (*s && (q || (*s != ' ' && *s != '\t'))) {
			if (q) {
				if (*s == q)
					q = 0;
				else if (q == '"' && strchr("$`\\", *s))
					return false;
				else
					*out++ = *s;
			} else if (*s == '\'' || *s == '"') {
				q = *s;
			} else if (strchr("$`\\|<>()*?[{~", *s)) {
				return false;
			} else {
				*out++ = *s;
			}
			s++;
		}
		if (q)
			return false;
		/* out never passes s: one byte at least (the separator) is left */
		if (*s)
			s++;
		*out++ = '\0';
	}
	return true;
}

static const char *base_name(const char *s)
{
	const char *b = strrchr(s, '/');

	return b ? b + 1 : s;
}

/* A word as iptables-restore reads it: quoted when it holds a blank. */
static void add_word(struct sbuf *s, const char *w)
{
	sbuf_add(s, s->len ? " " : "");
	if (!*w || strpbrk(w, " \t#"))
		sbuf_printf(s, "\"%s\"", w);
	else
		sbuf_add(s, w);
}

__attribute__((format(printf, 3, 4)))
static void note(struct hook *h, const char *cmd, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sbuf_printf(&h->notes, "%s: warning: %s: `%s' %s\n", h->where, h->key, cmd, msg);
}

/* Loads line (a rule or a chain line) in table, after the chain lines the
 * hook has so far: 0, or the parser's message in err. */
static int check(struct hook *h, bool v6, const char *table, const char *line, char *err,
		 size_t len)
{
	struct rules *r = NULL;
	struct sbuf t;
	int ret;

	sbuf_init(&t);
	sbuf_printf(&t, "*%s\n", table);
	for (size_t i = 0; i < h->n; i++)
		if (h->e[i].chain && h->e[i].v6 == v6 && !strcmp(h->e[i].table, table))
			sbuf_printf(&t, "%s\n", h->e[i].text);
	sbuf_printf(&t, "%s\nCOMMIT\n", line);
	ret = rulesfile_parse_as(&r, "rule", t.buf, t.len, NULL, false, v6 ? NF_V6 : NF_V4, err,
				 len);
	rules_free(r);
	sbuf_free(&t);
	if (ret && !strncmp(err, "rule:", 5)) {
		/* "rule:N: message": the line number is the made-up text's */
		const char *m = strstr(err + 5, ": ");

		if (m)
			memmove(err, m + 2, strlen(m + 2) + 1);
	}
	return ret;
}

static void add_entry(struct hook *h, const char *cmd, bool v6, const char *table, bool chain,
		      const char *line)
{
	char err[256];

	if (h->n == WQ_ENTRIES) {
		note(h, cmd, "is one rule too many for this warning: not translated");
		return;
	}
	if (check(h, v6, table, line, err, sizeof(err))) {
		note(h, cmd, "would be `%s' in *%s, which gw's rules refuse (%s): not suggested",
		     line, table, err);
		return;
	}
	h->e[h->n].text = strdup(line);
	if (!h->e[h->n].text)
		return;
	snprintf(h->e[h->n].table, WQ_TABLE, "%s", table);
	h->e[h->n].v6 = v6;
	h->e[h->n++].chain = chain;
}

static bool is_word(const char *w, const char *s, const char *l)
{
	return !strcmp(w, s) || !strcmp(w, l);
}

/* The iptables commands that name one chain: their letter, else 0. */
static char command_letter(const char *w)
{
	static const struct {
		const char *s, *l;
	} cmds[] = {
		{ "-A", "--append" }, { "-I", "--insert" }, { "-D", "--delete" },
		{ "-C", "--check" }, { "-N", "--new-chain" }, { "-P", "--policy" },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (is_word(w, cmds[i].s, cmds[i].l))
			return cmds[i].s[1];
	return 0;
}

/* One iptables (v6: ip6tables) command, its words w[0..n). */
static void iptables(struct hook *h, const char *cmd, bool v6, char **w, size_t n)
{
	const char *table = "filter", *chain = NULL, *arg = NULL;
	char op = 0;
	struct sbuf rest, line;

	sbuf_init(&rest);
	sbuf_init(&line);
	for (size_t i = 1; i < n; i++) {
		const char *x = w[i];

		if (is_word(x, "-t", "--table") && i + 1 < n) {
			table = w[++i];
		} else if (!strncmp(x, "--table=", 8)) {
			table = x + 8;
		} else if (!strncmp(x, "-t", 2) && x[2] && x[1] != '-') {
			table = x + 2;
		} else if (is_word(x, "-w", "--wait")) {
			if (i + 1 < n && strspn(w[i + 1], "0123456789") == strlen(w[i + 1]))
				i++;
		} else if (!strncmp(x, "--wait=", 7)) {
			continue;
		} else if (is_word(x, "-W", "--wait-interval")) {
			i++;
		} else if (!op && (op = command_letter(x))) {
			if (i + 1 == n)
				break;
			chain = w[++i];
			if (op == 'P' && i + 1 < n)
				arg = w[++i];
			else if (op == 'I' && i + 1 < n && strspn(w[i + 1], "0123456789") == strlen(w[i + 1]))
				arg = w[++i];
		} else if ((x[0] == '-' && x[1] != '-' && x[1] && strchr("FXZLSERh", x[1]) && !x[2]) ||
			   !strcmp(x, "--flush") || !strcmp(x, "--delete-chain") ||
			   !strcmp(x, "--zero") || !strcmp(x, "--list") || !strcmp(x, "--list-rules") ||
			   !strcmp(x, "--rename-chain") || !strcmp(x, "--replace")) {
			op = '?';
		} else {
			add_word(&rest, x);
		}
	}
	if (!op || op == '?' || !chain || (op == 'P' && (!arg || rest.len)) ||
	    (op == 'N' && rest.len) || strlen(table) >= WQ_TABLE) {
		note(h, cmd, "is not one rule to add: not translated");
	} else if (op == 'D') {
		note(h, cmd, "deletes a rule: nothing to undo once the rule is in the %s file",
		     v6 ? "Rules6" : "Rules");
	} else if (op == 'C') {
		note(h, cmd, "tests for a rule: not needed with the %s file", v6 ? "Rules6" : "Rules");
	} else if (op == 'N' || op == 'P') {
		sbuf_printf(&line, ":%s %s [0:0]", chain, op == 'N' ? "-" : arg);
		add_entry(h, cmd, v6, table, true, line.buf);
	} else {
		sbuf_printf(&line, "-%c %s", op, chain);
		if (arg)
			sbuf_printf(&line, " %s", arg);
		if (rest.len)
			sbuf_printf(&line, " %s", rest.buf);
		add_entry(h, cmd, v6, table, false, line.buf);
	}
	sbuf_free(&rest);
	sbuf_free(&line);
}

static void command(struct hook *h, char *cmd)
{
	char *copy = strdup(cmd), *w[WQ_TOKENS];
	const char *prog;
	size_t n;

	if (!copy)
		return;
	if (!split_words(copy, w, &n) || !n) {
		/* shell: only worth a word when it mentions iptables at all */
		if (strstr(cmd, "iptables")) {
			h->iptables = true;
			note(h, cmd, "needs a shell: not translated");
		}
		goto out;
	}
	prog = base_name(w[0]);
	if (!strcmp(prog, "iptables") || !strcmp(prog, "iptables-nft") ||
	    !strcmp(prog, "iptables-legacy")) {
		h->iptables = true;
		iptables(h, cmd, false, w, n);
	} else if (!strcmp(prog, "ip6tables") || !strcmp(prog, "ip6tables-nft") ||
		   !strcmp(prog, "ip6tables-legacy")) {
		h->iptables = true;
		iptables(h, cmd, true, w, n);
	} else if (!strncmp(prog, "iptables", 8) || !strncmp(prog, "ip6tables", 9)) {
		h->iptables = true;
		note(h, cmd, "is not one rule to add: not translated");
	} else {
		note(h, cmd, "is not run by gw: ignored");
	}
out:
	free(copy);
}

/* %i -> ifname, as wg-quick does before running the line. */
static char *substitute(const char *val, const char *ifname)
{
	struct sbuf s;
	char *out;

	sbuf_init(&s);
	for (const char *p = val; *p; p++) {
		if (p[0] == '%' && p[1] == 'i') {
			sbuf_add(&s, ifname);
			p++;
		} else {
			sbuf_addn(&s, p, 1);
		}
	}
	out = s.buf ? strdup(s.buf) : strdup("");
	sbuf_free(&s);
	return out;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* The suggested Rules (v6: Rules6) file, one block per table. */
static void suggest(struct hook *h, bool v6)
{
	bool header = false;

	for (size_t i = 0; i < h->n; i++) {
		bool first = h->e[i].v6 == v6;

		for (size_t j = 0; j < i && first; j++)
			first = h->e[j].v6 != v6 || strcmp(h->e[j].table, h->e[i].table);
		if (!first)
			continue;
		if (!header)
			sbuf_printf(h->warn, "%s: warning: %s is not run by gw, and its %s rules would "
				    "not see the tunnel's packets: gw's own rules do.  Put them into "
				    "the %s file (%s = FILE in [Interface], %s format):\n",
				    h->where, h->key, v6 ? "ip6tables" : "iptables",
				    v6 ? "Rules6" : "Rules", v6 ? "Rules6" : "Rules",
				    v6 ? "ip6tables-restore" : "iptables-restore");
		header = true;
		sbuf_printf(h->warn, "    *%s\n", h->e[i].table);
		for (int chains = 1; chains >= 0; chains--)
			for (size_t j = i; j < h->n; j++)
				if (h->e[j].v6 == v6 && !strcmp(h->e[j].table, h->e[i].table) &&
				    h->e[j].chain == chains)
					sbuf_printf(h->warn, "    %s\n", h->e[j].text);
		sbuf_add(h->warn, "    COMMIT\n");
	}
}

bool wgquick_hook(const char *where, const char *ifname, const char *key, const char *val,
		  struct sbuf *warn)
{
	struct hook h = { .where = where, .key = key, .warn = warn };
	char *line = substitute(val, ifname), *p, *start;
	bool any;

	if (!line)
		return false;
	sbuf_init(&h.notes);
	/* the commands: split where the shell would run the next one */
	for (p = start = line;; p++) {
		char q = 0;

		while (*p && (q || !strchr(";&|\n", *p))) {
			if (q && *p == q)
				q = 0;
			else if (!q && (*p == '\'' || *p == '"'))
				q = *p;
			p++;
		}
		if (*p == '|' && p[1] != '|') {
			/* a pipe: this command and the next are one */
			continue;
		}
		{
			char sep = *p;

			*p = '\0';
			if (*trim(start))
				command(&h, trim(start));
			if (!sep)
				break;
			if ((sep == '&' || sep == '|') && p[1] == sep)
				p++;
			start = p + 1;
		}
	}
	any = h.iptables;
	for (int v6 = 0; any && v6 <= 1; v6++)
		suggest(&h, v6);
	if (any && !h.n) {
		sbuf_printf(warn, "%s: warning: %s is not run by gw, and its iptables rules would not "
			    "see the tunnel's packets: gw's own rules (Rules = FILE) do\n", where, key);
	}
	if (any && h.notes.len)
		sbuf_addn(warn, h.notes.buf, h.notes.len);
	for (size_t i = 0; i < h.n; i++)
		free(h.e[i].text);
	sbuf_free(&h.notes);
	free(line);
	return any;
}
