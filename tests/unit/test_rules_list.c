/* SPDX-License-Identifier: MIT */
/*
 * nat/rules_list: iptables -L's text, byte for byte.
 *
 * tests/unit/rules_list_*.txt hold a ruleset with counters ("@@ rules") and
 * what Debian 12's iptables 1.8.9 printed for it ("@@ list TABLE ARGS...");
 * tests/netns/22-rules-list.sh checks (REGEN=1: rewrites) them against the
 * real iptables.  Here every list section must equal rules_list()'s output.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nat/nf.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

struct section {
	unsigned int line;        /* of its "@@" line */
	char *head;               /* after "@@ " */
	char *text;               /* the lines up to the next "@@" */
	size_t len;
};

struct file {
	char *buf;
	struct section s[64];
	unsigned int n;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		if (!got)
			break;
		n += got;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Split into sections in place: "@@ " lines end the previous section's
 * text and start the next; leading comment lines belong to none. */
static void load(struct file *f, const char *name)
{
	const char *dir = getenv("RULES_LIST_DIR") ? getenv("RULES_LIST_DIR") : "tests/unit";
	char path[512];
	size_t len = 0;
	char *p;
	unsigned int line = 1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f->buf = slurp(path, &len);
	if (!f->buf)
		fail_msg("%s: %s", path, strerror(errno));
	f->n = 0;
	for (p = f->buf; *p; line++) {
		char *nl = strchr(p, '\n');
		char *next = nl ? nl + 1 : p + strlen(p);

		if (strncmp(p, "@@ ", 3) == 0) {
			struct section *s;

			assert_true(f->n < sizeof(f->s) / sizeof(f->s[0]));
			if (f->n)
				f->s[f->n - 1].len = (size_t)(p - f->s[f->n - 1].text);
			s = &f->s[f->n++];
			s->line = line;
			s->head = p + 3;
			if (nl)
				*nl = '\0';
			s->text = next;
		}
		p = next;
	}
	if (f->n)
		f->s[f->n - 1].len = (size_t)(f->buf + len - f->s[f->n - 1].text);
}

static int table_of(const char *name)
{
	static const struct {
		const char *name;
		enum nf_table t;
	} tables[] = {
		{ "raw", NF_RAW }, { "mangle", NF_MANGLE }, { "nat", NF_NAT }, { "filter", NF_FILTER },
	};

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strcmp(tables[i].name, name) == 0)
			return (int)tables[i].t;
	return -1;
}

/* "list TABLE -L [CHAIN] [-v] [-n] [-x] [--line-numbers]" */
static void parse_head(char *head, enum nf_table *t, char **chain, unsigned int *flags)
{
	char *save = NULL, *w;
	int tab;

	w = strtok_r(head, " ", &save);
	assert_string_equal(w, "list");
	w = strtok_r(NULL, " ", &save);
	tab = table_of(w);
	if (tab < 0)
		fail_msg("unknown table %s", w);
	*t = (enum nf_table)tab;
	*chain = NULL;
	*flags = 0;
	while ((w = strtok_r(NULL, " ", &save))) {
		if (strcmp(w, "-L") == 0)
			continue;
		else if (strcmp(w, "-v") == 0)
			*flags |= RULES_LIST_VERBOSE;
		else if (strcmp(w, "-n") == 0)
			*flags |= RULES_LIST_NUMERIC;
		else if (strcmp(w, "-x") == 0)
			*flags |= RULES_LIST_EXACT;
		else if (strcmp(w, "--line-numbers") == 0)
			*flags |= RULES_LIST_LINE_NUMBERS;
		else if (w[0] != '-' && !*chain)
			*chain = w;
		else
			fail_msg("unknown list argument %s", w);
	}
}

/* Reports the first line that differs; true when equal. */
static bool same(const char *name, const struct section *s, const char *got, size_t glen)
{
	const char *a = s->text, *b = got;
	unsigned int line = s->line + 1;

	if (s->len == glen && memcmp(a, b, glen) == 0)
		return true;
	for (;;) {
		const char *ea = memchr(a, '\n', (size_t)(s->text + s->len - a));
		const char *eb = memchr(b, '\n', (size_t)(got + glen - b));
		size_t la = ea ? (size_t)(ea - a) : (size_t)(s->text + s->len - a);
		size_t lb = eb ? (size_t)(eb - b) : (size_t)(got + glen - b);

		if (la != lb || memcmp(a, b, la) != 0 || !ea || !eb) {
			print_error("%s:%u: (%s)\n  iptables: [%.*s]\n  gw:       [%.*s]\n", name, line,
				    s->head, (int)la, a, (int)lb, b);
			return false;
		}
		a = ea + 1;
		b = eb + 1;
		line++;
	}
}

/* RULES_LIST_DUMP=DIR: gw's text of a differing listing into DIR/FILE:LINE,
 * for a diff -u against the file's section. */
static void dump(const char *name, const struct section *s, const struct sbuf *out)
{
	const char *dir = getenv("RULES_LIST_DUMP");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s:%u", dir, name, s->line);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(out->buf ? out->buf : "", 1, out->len, f);
	fclose(f);
}

static void check_file_as(const char *name, uint8_t family)
{
	struct file *f = calloc(1, sizeof(*f));
	struct rules *r = NULL;
	struct rules_error err;
	unsigned int bad = 0, lists = 0;

	assert_non_null(f);
	load(f, name);
	assert_true(f->n > 1);
	assert_string_equal(f->s[0].head, "rules");
	/* as iptables-restore -c loads it */
	if (rules_parse_with(&r, f->s[0].text, f->s[0].len, NULL,
			     &(const struct rules_parse_opts){ .counters = true, .family = family },
			     &err) != 0)
		fail_msg("%s: rules line %u: %s (%s)", name, err.line, err.message, err.token);
	for (unsigned int i = 1; i < f->n; i++) {
		struct section *s = &f->s[i];
		char head[256];
		enum nf_table t;
		char *chain;
		unsigned int flags;
		struct sbuf out;

		snprintf(head, sizeof(head), "%s", s->head);
		parse_head(head, &t, &chain, &flags);
		sbuf_init(&out);
		rules_list(r, t, chain, flags, &out);
		assert_false(out.oom);
		lists++;
		if (!same(name, s, out.buf ? out.buf : "", out.len)) {
			bad++;
			dump(name, s, &out);
		}
		sbuf_free(&out);
	}
	rules_free(r);
	free(f->buf);
	free(f);
	if (bad)
		fail_msg("%s: %u of %u listings differ from iptables -L", name, bad, lists);
}

static void check_file(const char *name)
{
	check_file_as(name, NF_V4);
}

/* ip6tables -L (tests/netns/24-rules6-canon.sh keeps it ip6tables'). */
static void test_canon6(void **state)
{
	(void)state;
	check_file_as("rules6_list_canon.txt", NF_V6);
}

static void test_canon(void **state)
{
	(void)state;
	check_file("rules_list_canon.txt");
}

static void test_canon_names(void **state)
{
	(void)state;
	check_file("rules_list_canon_names.txt");
}

static void test_chains(void **state)
{
	(void)state;
	check_file("rules_list_chains.txt");
}

static void test_names(void **state)
{
	(void)state;
	check_file("rules_list_names.txt");
}

/* A chain the table lacks prints nothing; an empty chain its header. */
static void test_unknown_chain(void **state)
{
	static const char text[] = "*filter\n:x - [0:0]\nCOMMIT\n";
	struct rules *r = NULL;
	struct rules_error err;
	struct sbuf out;

	(void)state;
	assert_int_equal(rules_parse(&r, text, sizeof(text) - 1, NULL, &err), 0);
	sbuf_init(&out);
	rules_list(r, NF_FILTER, "nope", RULES_LIST_NUMERIC, &out);
	assert_int_equal(out.len, 0);
	rules_list(r, NF_FILTER, "x", RULES_LIST_NUMERIC, &out);
	assert_string_equal(out.buf, "Chain x (0 references)\n"
			    "target     prot opt source               destination         \n");
	sbuf_free(&out);
	rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon),
		cmocka_unit_test(test_canon6),
		cmocka_unit_test(test_canon_names),
		cmocka_unit_test(test_chains),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_unknown_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
