/* SPDX-License-Identifier: MIT */
/*
 * nat/rules: the restore parser, the canonical save, traversal and the
 * load-time checks.  Matches and targets on packets: test_rules_ext.c.
 *
 * The canonical table tests/unit/rules_canon.txt was produced by
 * iptables 1.8.9 itself (tests/netns/20-rules-canon.sh checks it still
 * is); every row must load (or be refused) in gw as in iptables and save
 * exactly as iptables-save printed it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "nat/nf.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"
#include "nat/sbuf.h"
#include "tests/unit/util_ctpkt.h"
#include "tests/unit/util_mutate.h"

/* ---- helpers ---- */

static const struct rules_parse_opts with_counters = { .counters = true };

static struct rules *vload(const struct rules *base, const struct rules_parse_opts *o,
			   const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static struct rules *vload(const struct rules *base, const struct rules_parse_opts *o,
			   const char *fmt, va_list ap)
{
	char text[8192];
	struct rules *r = NULL;
	struct rules_error err;
	int rc;

	vsnprintf(text, sizeof(text), fmt, ap);
	rc = rules_parse_with(&r, text, strlen(text), base, o, &err);
	if (rc != 0)
		print_error("parse failed: line %u: %s (%s)\n%s", err.line, err.message,
			    err.token, text);
	assert_int_equal(rc, 0);
	assert_non_null(r);
	return r;
}

static struct rules *load_base(const struct rules *base, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct rules *load_base(const struct rules *base, const char *fmt, ...)
{
	va_list ap;
	struct rules *r;

	va_start(ap, fmt);
	r = vload(base, NULL, fmt, ap);
	va_end(ap);
	return r;
}

/* As iptables-restore -c: the text's counters are taken. */
static struct rules *load_c(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct rules *load_c(const char *fmt, ...)
{
	va_list ap;
	struct rules *r;

	va_start(ap, fmt);
	r = vload(NULL, &with_counters, fmt, ap);
	va_end(ap);
	return r;
}

#define load(...) load_base(NULL, __VA_ARGS__)

static char *save(const struct rules *r, bool counters)
{
	struct sbuf sb;

	sbuf_init(&sb);
	rules_save(r, counters, &sb);
	assert_false(sb.oom);
	return sb.buf;
}

/* The rule lines of a save, joined by a literal "\n" as in the table. */
static char *rule_lines(const struct rules *r)
{
	char *all = save(r, false), *out = calloc(1, strlen(all) + 1), *line, *next;
	size_t n = 0;

	assert_non_null(out);
	for (line = all; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "-A ", 3) != 0)
			continue;
		n += (size_t)sprintf(out + n, "%s%s", n ? "\\n" : "", line);
	}
	free(all);
	return out;
}

static int parse_fails(const char *text, struct rules_error *err)
{
	struct rules *r = (struct rules *)1;
	int rc = rules_parse(&r, text, strlen(text), NULL, err);

	assert_null(r);
	return rc;
}

static void init_ctx(struct nf_ctx *ctx, struct tpkt *t, enum nf_hook hook, const char *in,
		     const char *out)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->pkt = &t->p;
	ctx->hook = hook;
	ctx->ctstate = CT_NEW;
	snprintf(ctx->in, sizeof(ctx->in), "%s", in);
	snprintf(ctx->out, sizeof(ctx->out), "%s", out);
}

static void tcp_syn(struct tpkt *t, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	struct tcp_spec s = {
		.src = src, .dst = dst, .sport = sport, .dport = dport,
		.seq = 1, .flags = TCP_SYN, .win = 64240,
	};

	tp_tcp(t, &s);
}

/* ---- the canonical table ---- */

struct row {
	char table[16];
	char *rule, *canon;
	bool ok;
	unsigned int line;
};

static size_t read_table(const char *path, struct row **rows)
{
	FILE *f = fopen(path, "r");
	char line[4096], table[16] = "filter";
	size_t n = 0, cap = 0;
	unsigned int lineno = 0;

	if (!f)
		fail_msg("cannot open %s (run from the top directory or set RULES_CANON/RULES6_CANON)",
			 path);
	*rows = NULL;
	while (fgets(line, sizeof(line), f)) {
		char *status, *canon;
		size_t len = strlen(line);

		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len || line[0] == '#')
			continue;
		if (line[0] == '*') {
			assert_true(len < sizeof(table));
			memcpy(table, line + 1, len);
			continue;
		}
		status = strrchr(line, ';');
		assert_non_null(status);
		*status++ = '\0';
		canon = strrchr(line, ';');
		assert_non_null(canon);
		*canon++ = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			*rows = realloc(*rows, cap * sizeof(**rows));
			assert_non_null(*rows);
		}
		snprintf((*rows)[n].table, sizeof((*rows)[n].table), "%s", table);
		(*rows)[n].rule = strdup(line);
		(*rows)[n].canon = strdup(canon);
		(*rows)[n].ok = strcmp(status, "OK") == 0;
		(*rows)[n].line = lineno;
		assert_true((*rows)[n].ok || strcmp(status, "FAIL") == 0);
		n++;
	}
	fclose(f);
	return n;
}

static void free_rows(struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].rule);
		free(rows[i].canon);
	}
	free(rows);
}

/* canon: "\n"-joined rules into real lines */
static void unescape_lines(char *dst, const char *src)
{
	for (; *src; src++) {
		if (src[0] == '\\' && src[1] == 'n') {
			*dst++ = '\n';
			src++;
		} else {
			*dst++ = *src;
		}
	}
	*dst = '\0';
}

/* The table's owner names are the one every system has the same: root,
 * uid and gid 0 (the rest are unknown, as gw-no-such-user is). */
static int root_only(void *arg, const char *name, uint32_t *id)
{
	(void)arg;
	if (strcmp(name, "root"))
		return -ENOENT;
	*id = 0;
	return 0;
}

static const struct rules_parse_opts canon_opts = { .user = root_only, .group = root_only };
static const struct rules_parse_opts canon6_opts = { .user = root_only, .group = root_only,
						     .family = NF_V6 };

/* Every row of a canonical table (name in messages) against gw parsed
 * with opts; at least min rows. */
static void check_canon(const char *path, const char *name, const struct rules_parse_opts *opts,
			size_t min)
{
	struct row *rows;
	size_t n = read_table(path, &rows), ok = 0, failed = 0, bad = 0;

	assert_true(n >= min);
	for (size_t i = 0; i < n; i++) {
		char text[8192], body[4096];
		struct rules *r = NULL, *r2 = NULL;
		struct rules_error err;
		int rc;

		snprintf(text, sizeof(text), "*%s\n:U - [0:0]\n%s\nCOMMIT\n", rows[i].table,
			 rows[i].rule);
		rc = rules_parse_with(&r, text, strlen(text), NULL, opts, &err);
		if (!rows[i].ok) {
			failed++;
			if (rc == 0) {
				print_error("%s:%u: gw accepts what iptables refuses: %s\n",
					    name, rows[i].line, rows[i].rule);
				bad++;
				rules_free(r);
			} else if (err.line != 3 || !err.message[0]) {
				print_error("%s:%u: error at line %u (%s)\n", name, rows[i].line,
					    err.line, err.message);
				bad++;
			}
			continue;
		}
		ok++;
		if (rc != 0) {
			print_error("%s:%u: gw refuses %s: %s (%s)\n", name, rows[i].line,
				    rows[i].rule, err.message, err.token);
			bad++;
			continue;
		}
		{
			char *got = rule_lines(r);

			if (strcmp(got, rows[i].canon) != 0) {
				print_error("%s:%u: %s\n  gw:       %s\n  iptables: %s\n",
					    name, rows[i].line, rows[i].rule, got, rows[i].canon);
				bad++;
			}
			free(got);
		}
		/* the canonical text loads back to itself */
		unescape_lines(body, rows[i].canon);
		snprintf(text, sizeof(text), "*%s\n:U - [0:0]\n%s\nCOMMIT\n", rows[i].table, body);
		rc = rules_parse_with(&r2, text, strlen(text), NULL, opts, &err);
		if (rc != 0) {
			print_error("%s:%u: canonical form refused: %s\n", name, rows[i].line,
				    err.message);
			bad++;
		} else {
			char *got = rule_lines(r2);

			if (strcmp(got, rows[i].canon) != 0) {
				print_error("%s:%u: not a fixed point: %s\n", name, rows[i].line,
					    got);
				bad++;
			}
			free(got);
		}
		rules_free(r);
		rules_free(r2);
	}
	print_message("canonical table: %zu rows (%zu OK, %zu FAIL), %zu wrong\n", n, ok, failed,
		      bad);
	free_rows(rows, n);
	assert_int_equal(bad, 0);
}

static void test_canon_table(void **state)
{
	const char *path = getenv("RULES_CANON") ? getenv("RULES_CANON") :
						   "tests/unit/rules_canon.txt";

	(void)state;
	check_canon(path, "rules_canon.txt", &canon_opts, 600);
}

/* The IPv6 table, produced by ip6tables 1.8.9 (tests/netns/24-rules6-canon.sh). */
static void test_canon6_table(void **state)
{
	const char *path = getenv("RULES6_CANON") ? getenv("RULES6_CANON") :
						    "tests/unit/rules6_canon.txt";

	(void)state;
	check_canon(path, "rules6_canon.txt", &canon6_opts, 200);
}

/* All OK rows of the table in one file per table: load, save, load, save. */
static void test_canon_fixed_point_files(void **state)
{
	struct row *rows;
	size_t n = read_table(getenv("RULES_CANON") ? getenv("RULES_CANON") :
						      "tests/unit/rules_canon.txt", &rows);
	static const char *const tables[] = { "raw", "mangle", "nat", "filter" };

	(void)state;
	for (size_t t = 0; t < 4; t++) {
		struct sbuf text;
		struct rules *r1, *r2;
		struct rules_error err;
		char *s1, *s2;
		size_t used = 0;

		sbuf_init(&text);
		sbuf_printf(&text, "*%s\n:U - [0:0]\n", tables[t]);
		for (size_t i = 0; i < n; i++) {
			/* jumps into U would make U's rules reachable from built-in
			 * chains, where some are not valid */
			if (!rows[i].ok || strcmp(rows[i].table, tables[t]) != 0 ||
			    strstr(rows[i].rule, " U") || strstr(rows[i].rule, "--goto"))
				continue;
			sbuf_printf(&text, "%s\n", rows[i].rule);
			used++;
		}
		sbuf_add(&text, "COMMIT\n");
		if (rules_parse_with(&r1, text.buf, text.len, NULL, &canon_opts, &err) != 0)
			fail_msg("%s: line %u: %s (%s)", tables[t], err.line, err.message, err.token);
		s1 = save(r1, true);
		assert_int_equal(rules_parse(&r2, s1, strlen(s1), NULL, &err), 0);
		s2 = save(r2, true);
		assert_string_equal(s1, s2);
		assert_true(used >= 5);
		free(s1);
		free(s2);
		rules_free(r1);
		rules_free(r2);
		sbuf_free(&text);
	}
	free_rows(rows, n);
}

/* ---- whole files ---- */

static const char design_example[] =
	"*nat\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE\n"
	"COMMIT\n"
	"*filter\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD DROP [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"-A FORWARD -i gw0 -o eth0 -j ACCEPT\n"
	"COMMIT\n";

static void test_save_layout(void **state)
{
	struct rules *r;
	char *s;

	(void)state;
	r = load("%s", design_example);
	s = save(r, false);
	assert_string_equal(s,
		"# Generated by gw\n"
		"*filter\n"
		":INPUT ACCEPT [0:0]\n"
		":FORWARD DROP [0:0]\n"
		":OUTPUT ACCEPT [0:0]\n"
		"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
		"-A FORWARD -i gw0 -o eth0 -j ACCEPT\n"
		"COMMIT\n"
		"*nat\n"
		":PREROUTING ACCEPT [0:0]\n"
		":INPUT ACCEPT [0:0]\n"
		":OUTPUT ACCEPT [0:0]\n"
		":POSTROUTING ACCEPT [0:0]\n"
		"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE\n"
		"COMMIT\n");
	free(s);
	rules_free(r);

	/* tables in iptables-nft's order, missing built-in chain lines
	 * filled in, user chains sorted by byte value, counters taken */
	r = load_c("*nat\n-F\nCOMMIT\n*filter\n:INPUT DROP [10:2000]\n:zeta - [5:6]\n:Alpha - [0:0]\n"
		 ":beta - [0:0]\n[3:4] -A INPUT -j zeta\n-A zeta -j beta\n-A beta -j Alpha\n"
		 "-A INPUT -c 7 8 -j ACCEPT\nCOMMIT\n*raw\n-F\nCOMMIT\n*mangle\n:FORWARD ACCEPT\n"
		 "COMMIT\n");
	s = save(r, true);
	assert_string_equal(s,
		"# Generated by gw\n"
		"*mangle\n"
		":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
		":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
		"COMMIT\n"
		"*raw\n"
		":PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		"COMMIT\n"
		"*filter\n"
		":INPUT DROP [10:2000]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		":Alpha - [0:0]\n:beta - [0:0]\n:zeta - [0:0]\n"
		"[3:4] -A INPUT -j zeta\n"
		"[7:8] -A INPUT -j ACCEPT\n"
		"[0:0] -A beta -j Alpha\n"
		"[0:0] -A zeta -j beta\n"
		"COMMIT\n"
		"*nat\n"
		":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		":POSTROUTING ACCEPT [0:0]\n"
		"COMMIT\n");
	free(s);
	rules_free(r);
}

static void test_whole_file_fixed_point(void **state)
{
	static const char *const files[] = {
		design_example,
		"*filter\n:INPUT DROP [1:2]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		":in_tcp - [0:0]\n:LOGDROP - [0:0]\n"
		"-A INPUT -i lo -j ACCEPT\n"
		"-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT\n"
		"-A INPUT -p tcp --syn -m limit --limit 60/minute --limit-burst 20 -j in_tcp\n"
		"-A INPUT -p icmp --icmp-type echo-request -m limit --limit 1/s -j ACCEPT\n"
		"-A INPUT -g LOGDROP\n"
		"-A in_tcp -p tcp -m multiport --dports ssh,http,https -j ACCEPT\n"
		"-A in_tcp -j RETURN\n"
		"-A LOGDROP -m limit --limit 5/min -j LOG --log-prefix \"drop: \" --log-level info\n"
		"-A LOGDROP -p tcp -j REJECT --reject-with tcp-reset\n"
		"-A LOGDROP -j REJECT --reject-with icmp-admin-prohibited\n"
		"-A FORWARD -m conntrack --ctstate INVALID -j DROP\n"
		"-A FORWARD -s 10.8.0.0/255.255.255.0 -o eth+ -m comment --comment \"peers out\" -j ACCEPT\n"
		"-A OUTPUT -m owner --uid-owner 0-99 -j ACCEPT\n"
		"COMMIT\n",
		"*mangle\n"
		"-A PREROUTING -j CONNMARK --restore-mark\n"
		"-A PREROUTING -m mark --mark 0 -m iprange --src-range 10.8.0.2-10.8.0.9 -j MARK --set-mark 2\n"
		"-A PREROUTING -j CONNMARK --save-mark --mask 0xff\n"
		"-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n"
		"COMMIT\n"
		"*raw\n"
		"-A PREROUTING -p udp --dport 53 -j CT --notrack\n"
		"-A OUTPUT -p udp --sport 53 -j NOTRACK\n"
		"COMMIT\n"
		"*nat\n"
		":PORTFW - [0:0]\n"
		"-A PREROUTING -d 192.0.2.1 -p tcp -j PORTFW\n"
		"-A PORTFW -p tcp --dport 8080 -j DNAT --to 10.8.0.2:80\n"
		"-A PORTFW -p tcp --dport 2222 -j DNAT --to-destination 10.8.0.3:22 --persistent\n"
		"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -p udp -j MASQUERADE --to-ports 61000-65535 --random\n"
		"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j SNAT --to-source 192.0.2.1 --random-fully\n"
		"COMMIT\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct rules *r1 = load("%s", files[i]), *r2;
		char *s1 = save(r1, true), *s2;

		r2 = load("%s", s1);
		s2 = save(r2, true);
		assert_string_equal(s1, s2);
		free(s1);
		free(s2);
		rules_free(r1);
		rules_free(r2);
	}
}

/* ---- errors ---- */

static const struct {
	const char *text;
	unsigned int line;
	const char *token;
	const char *message;   /* a substring */
} error_cases[] = {
	/* 1 */ { "*filter\n-A INPUT -m foo -j ACCEPT\nCOMMIT\n", 2, "foo", "unknown match \"foo\"" },
	/* 2 */ { "*filter\n-A INPUT -p tcp --bar 1 -j ACCEPT\nCOMMIT\n", 2, "--bar",
		  "unknown option \"--bar\"" },
	/* 3 */ { "*filter\n\n-A INPUT -j X\nCOMMIT\n", 3, "X", "chain \"X\" does not exist" },
	/* 4 */ { "*filter\n-A NOPE -j ACCEPT\nCOMMIT\n", 2, "NOPE", "chain \"NOPE\" does not exist" },
	/* 5 */ { "*filter\n-A INPUT -j ACCEPT\n", 3, "*filter", "COMMIT missing" },
	/* 6 */ { "*filter\n*nat\nCOMMIT\n", 2, "*filter", "COMMIT missing" },
	/* 7 */ { "*filter\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j A\nCOMMIT\n",
		  6, "A", "jump loop" },
	/* 8 */ { "*filter\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -g B\n-A B -g A\nCOMMIT\n",
		  6, "A", "jump loop" },
	/* 9 */ { "*filter\n:FOO - [0:0]\n-A INPUT -j FOO\n-X FOO\nCOMMIT\n", 4, "FOO", "referenced" },
	/* 10 */ { "*filter\n:FOO - [0:0]\n-A FOO -j ACCEPT\n-X FOO\nCOMMIT\n", 4, "FOO", "not empty" },
	/* 11 */ { "*foo\nCOMMIT\n", 1, "foo", "table \"foo\" does not exist" },
	/* 12 */ { "-A INPUT -j ACCEPT\n", 1, "-A", "no table" },
	/* 13 */ { "COMMIT\n", 1, "COMMIT", "without a table" },
	/* 14 */ { "*filter\n:INPUT RETURN [0:0]\nCOMMIT\n", 2, "RETURN", "bad policy" },
	/* 15 */ { "*filter\n:INPUT DROP [x:1]\nCOMMIT\n", 2, "[x:1]", "bad counters" },
	/* 16 */ { "*filter\n:ACCEPT - [0:0]\nCOMMIT\n", 2, "ACCEPT", "clash" },
	/* 17 */ { "*filter\n:a0123456789012345678901234567 - [0:0]\nCOMMIT\n", 2,
		   "a0123456789012345678901234567", "too long" },
	/* 18 */ { "*filter\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n", 2, "99999",
		   "invalid port/service" },
	/* 19 */ { "*filter\n-A INPUT -m comment --comment \"x\nCOMMIT\n", 2, "x", "unterminated" },
	/* 20 */ { "*filter\n-A INPUT ! ! -s 1.2.3.4\nCOMMIT\n", 2, "!", "consecutive" },
	/* 21 */ { "*filter\n-A INPUT -j ACCEPT !\nCOMMIT\n", 2, "!", "nothing appropriate" },
	/* 22 */ { "*filter\n-A INPUT -s 1.2.3.4 -s 5.6.7.8\nCOMMIT\n", 2, "-s", "multiple -s" },
	/* 23 */ { "*filter\n-A INPUT -o eth0\nCOMMIT\n", 2, "-o", "can't use -o with INPUT" },
	/* 24 */ { "*nat\n-A PREROUTING -j MASQUERADE\nCOMMIT\n", 2, "MASQUERADE",
		   "not valid in PREROUTING" },
	/* 25 */ { "*mangle\n-A INPUT -j REJECT\nCOMMIT\n", 2, "REJECT", "only valid in the filter table" },
	/* 26 */ { "*filter\n-A INPUT -j REJECT --reject-with tcp-reset\nCOMMIT\n", 2, "tcp-reset",
		   "-p tcp" },
	/* 27 */ { "*nat\n:U - [0:0]\n-A PREROUTING -j U\n-A U -j SNAT --to-source 1.2.3.4\nCOMMIT\n",
		   4, "SNAT", "not valid in PREROUTING" },
	/* 28 */ { "*filter\n-A INPUT -m owner --uid-owner 0\nCOMMIT\n", 2, "owner", "not valid in INPUT" },
	/* 29 */ { "*filter\n-I INPUT 2 -j ACCEPT\nCOMMIT\n", 2, "INPUT", "insertion too big" },
	/* 30 */ { "*filter\n-D INPUT -j ACCEPT\nCOMMIT\n", 2, "INPUT", "bad rule" },
	/* 31 */ { "*filter\n-N INPUT\nCOMMIT\n", 2, "INPUT", "already exists" },
	/* 32 */ { "*filter\n-P FOO DROP\nCOMMIT\n", 2, "FOO", "bad built-in chain" },
	/* 33 */ { "*nat\n-P PREROUTING DROP\nCOMMIT\n", 2, "DROP", "not for filtering" },
	/* 34 */ { "*filter\n-A INPUT -j INPUT\nCOMMIT\n", 2, "INPUT", "built-in chain" },
	/* 35 */ { "*filter\n-A INPUT -j TRACE\nCOMMIT\n", 2, "TRACE", "not supported" },
	/* 36 */ { "*filter\n-A INPUT -s localhost\nCOMMIT\n", 2, "localhost", "not found" },
	/* 37 */ { "*filter\n-A INPUT -p tcp -m tcp --dport 1 -m tcp --dport 2\nCOMMIT\n", 2, "tcp",
		   "same option" },
	/* 38 */ { "*filter\n-A INPUT -m limit --limit 5/week\nCOMMIT\n", 2, "5/week", "bad rate" },
	/* 39 */ { "*filter\n-A INPUT -t nat\nCOMMIT\n", 2, "-t", "-t option" },
	/* 40 */ { "*filter\n-A INPUT -m addrtype --src-type LOCAL,\nCOMMIT\n", 2, "LOCAL,",
		   "addrtype: bad type" },
	/* 41 */ { "*filter\n-A INPUT -p tcp ! --dport 0:65535\nCOMMIT\n", 2, "--dport", "never matches" },
	/* 42 */ { "*filter\n-A INPUT -i \"eth 0\"\nCOMMIT\n", 2, "eth 0", "blank" },
	/* 43 */ { "*filter\n-F\n-X\n-A INPUT -j ACCEPT\nCOMMIT\nfoo\n", 6, "foo", "no table" },
	/* 44 */ { "*filter\n-A INPUT -j LOG --log-prefix \"\"\nCOMMIT\n", 2, "", "minimum length" },
	/* 45 */ { "*raw\n-A PREROUTING -j CT --zone 1\nCOMMIT\n", 2, "--zone", "unknown option" },
	/* 46 */ { "*filter\n-N \"a b\"\nCOMMIT\n", 2, "a b", "blank" },
	/* 48 */ { "*filter\n \nCOMMIT\n", 2, "", "no command" },
	/* 49 */ { "*filter\r\nCOMMIT\n", 1, "filter\r", "does not exist" },
	/* 50 */ { "*filter\n-A INPUT -j ACCEPT\r\nCOMMIT\n", 2, "ACCEPT\r", "does not exist" },
	/* 51 */ { "*filter\n:INPUT DROP [0x1:2]\nCOMMIT\n", 2, "[0x1:2]", "bad counters" },
	/* 54: one past the largest 64-bit counter (the largest itself loads) */
	{ "*filter\n:INPUT DROP [0:18446744073709551616]\nCOMMIT\n", 2,
	  "[0:18446744073709551616]", "bad counters" },
	/* 47 */ { "*filter\n-A INPUT -o \"a\\\"b\"\nCOMMIT\n", 2, "a\"b", "quote" },
	/* 52: --mark belongs to connmark, loaded after mark (a second -m mark
	 * is a clone and does not bring its options forward again) */
	{ "*filter\n-A INPUT -m mark --mark 1 -m connmark --mark 2 -m mark --mark 3\nCOMMIT\n",
	  2, "--mark", "connmark: option \"--mark\" can only be used once" },
	/* 53: an abbreviation both mark and connmark have is ambiguous */
	{ "*filter\n-A INPUT -m connmark --mark 1 -m mark --mar 2\nCOMMIT\n", 2, "--mar",
	  "unknown option" },
};

static void test_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		struct rules_error err;
		int rc = parse_fails(error_cases[i].text, &err);

		if (rc != -EINVAL || err.line != error_cases[i].line ||
		    strcmp(err.token, error_cases[i].token) != 0 ||
		    !strstr(err.message, error_cases[i].message))
			fail_msg("case %zu: rc %d line %u token \"%s\" message \"%s\"", i + 1, rc,
				 err.line, err.token, err.message);
	}
}

/* Nothing half-loaded: an error after a good table leaves base alone. */
static void test_error_keeps_base(void **state)
{
	struct rules *base = load("%s", design_example), *r = (struct rules *)1;
	struct rules_error err;
	const char *bad = "*filter\n-A INPUT -j ACCEPT\nCOMMIT\n*nat\n-A INPUT -m nope\nCOMMIT\n";
	char *before = save(base, true), *after;

	(void)state;
	assert_int_equal(rules_parse(&r, bad, strlen(bad), base, &err), -EINVAL);
	assert_null(r);
	assert_int_equal(err.line, 5);
	after = save(base, true);
	assert_string_equal(before, after);
	free(before);
	free(after);
	rules_free(base);
}

/* ---- commands ---- */

static void expect_rules(const struct rules *r, const char *want)
{
	char *got = rule_lines(r);

	assert_string_equal(got, want);
	free(got);
}

static void test_commands(void **state)
{
	struct rules *r;

	(void)state;
	/* -I with and without a position; -I of a list inserts each at the
	 * same place (the list ends up reversed, as in iptables) */
	r = load("*filter\n-A INPUT -j ACCEPT\n-A INPUT -j DROP\n-I INPUT 2 -j LOG\n"
		 "-I INPUT -s 9.9.9.9,8.8.8.8 -j RETURN\n-I INPUT 6 -p udp\nCOMMIT\n");
	expect_rules(r, "-A INPUT -s 8.8.8.8/32 -j RETURN\\n-A INPUT -s 9.9.9.9/32 -j RETURN\\n"
			"-A INPUT -j ACCEPT\\n-A INPUT -j LOG\\n-A INPUT -j DROP\\n"
			"-A INPUT -p udp");
	rules_free(r);

	/* -D by number and by rule (its canonical text, so spellings differ) */
	r = load("*filter\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -j DROP\n"
		 "-A INPUT -j DROP\n-D INPUT 2\n-D INPUT -p tcp -m tcp --dport ssh -j ACCEPT\nCOMMIT\n");
	expect_rules(r, "-A INPUT -j DROP");
	rules_free(r);

	/* -N, -F, -X, -P, -Z */
	r = load_c("*filter\n:INPUT ACCEPT [5:6]\n-N FOO\n-A FOO -j ACCEPT\n-A INPUT -j FOO\n"
		 "-N BAR\n-A BAR -j DROP\n-F BAR\n-X BAR\n-P FORWARD DROP\n[3:4] -A INPUT -j DROP\n"
		 "-Z INPUT\nCOMMIT\n");
	{
		char *s = save(r, true);

		assert_non_null(strstr(s, ":INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n"));
		assert_non_null(strstr(s, ":FOO - [0:0]\n"));
		assert_null(strstr(s, "BAR"));
		assert_non_null(strstr(s, "[0:0] -A INPUT -j DROP\n"));
		free(s);
	}
	rules_free(r);

	/* -F of every chain, then -X of every user chain */
	r = load("*filter\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-F\n-X\n"
		 "-A INPUT -j ACCEPT\nCOMMIT\n");
	expect_rules(r, "-A INPUT -j ACCEPT");
	assert_null(rules_chain_name(r, NF_FILTER, 3));
	rules_free(r);

	/* counters are decimal, leading zeros and all */
	r = load_c("*filter\n:INPUT DROP [010:0020]\n[07:08] -A INPUT\n-A INPUT -c 09 010\nCOMMIT\n");
	{
		char *s = save(r, true);

		assert_non_null(strstr(s, ":INPUT DROP [10:20]\n"));
		assert_non_null(strstr(s, "[7:8] -A INPUT\n[9:10] -A INPUT\n"));
		free(s);
	}
	rules_free(r);

	/* a table given twice: the second replaces the first; -6 lines are skipped */
	r = load("*filter\n-A INPUT -j DROP\nCOMMIT\n*filter\n-A INPUT -j ACCEPT\n"
		 "-A INPUT -6 -j DROP\nCOMMIT\n");
	expect_rules(r, "-A INPUT -j ACCEPT");
	rules_free(r);
}

static void test_base_tables(void **state)
{
	struct rules *base, *r;
	struct tpkt t;
	struct nf_ctx ctx;
	char *s;

	(void)state;
	base = load("%s", design_example);
	tcp_syn(&t, IP4(10, 8, 0, 2), IP4(198, 51, 100, 1), 1000, 80);
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	assert_int_equal(rules_run(base, NF_FILTER, &ctx, NULL), NF_ACCEPT);

	/* restoring only nat keeps filter with its counters */
	r = load_base(base, "*nat\n-A POSTROUTING -o eth0 -j MASQUERADE --random\nCOMMIT\n");
	s = save(r, true);
	assert_non_null(strstr(s, "[1:40] -A FORWARD -i gw0 -o eth0 -j ACCEPT\n"));
	assert_non_null(strstr(s, "-A POSTROUTING -o eth0 -j MASQUERADE --random\n"));
	assert_null(strstr(s, "10.8.0.0/24"));
	free(s);

	/* the copy is independent of base */
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
	rules_free(base);
	s = save(r, true);
	assert_non_null(strstr(s, "[2:80] -A FORWARD -i gw0 -o eth0 -j ACCEPT\n"));
	free(s);
	rules_free(r);

	/* an empty block removes a table (iptables-nft): no chains, accepts */
	base = load("%s", design_example);
	r = load_base(base, "*filter\nCOMMIT\n*raw\n\n# nothing\nCOMMIT\n");
	rules_free(base);
	assert_false(rules_has_chain(r, NF_FILTER, NF_FORWARD));
	assert_false(rules_has_chain(r, NF_RAW, NF_PREROUTING));
	assert_true(rules_has_chain(r, NF_NAT, NF_POSTROUTING));
	s = save(r, false);
	assert_null(strstr(s, "*filter"));
	assert_null(strstr(s, "*raw"));
	assert_non_null(strstr(s, "*nat"));
	free(s);
	rules_free(r);

	/* without base, tables not restored have no chains and accept */
	r = load("*nat\n-F\nCOMMIT\n");
	assert_false(rules_has_chain(r, NF_FILTER, NF_FORWARD));
	assert_true(rules_has_chain(r, NF_NAT, NF_POSTROUTING));
	assert_false(rules_has_chain(r, NF_NAT, NF_FORWARD));
	assert_int_equal(rules_run(r, NF_FILTER, &ctx, NULL), NF_ACCEPT);
	s = save(r, false);
	assert_null(strstr(s, "*filter"));
	free(s);
	rules_free(r);
}

/* ---- traversal ---- */

static const char *hit_str(const struct rules *r, const struct rules_trace *tr, char *buf,
			   size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < tr->n; i++) {
		const struct rules_hit *h = &tr->hits[i];

		if (h->rule)
			n += (size_t)snprintf(buf + n, len - n, "%s%s/%s/%u", i ? " " : "",
					      rules_table_name((enum nf_table)h->table),
					      rules_chain_name(r, (enum nf_table)h->table, h->chain),
					      h->rule);
		else
			n += (size_t)snprintf(buf + n, len - n, "%s%s/%s/policy", i ? " " : "",
					      rules_table_name((enum nf_table)h->table),
					      rules_chain_name(r, (enum nf_table)h->table, h->chain));
	}
	return buf;
}

static enum nf_verdict walk(struct rules *r, uint16_t dport, char *hits, size_t len)
{
	struct rules_hit h[32];
	struct rules_trace tr = { .hits = h, .max = 32 };
	struct tpkt t;
	struct nf_ctx ctx;
	enum nf_verdict v;

	tcp_syn(&t, IP4(10, 8, 0, 2), IP4(198, 51, 100, 1), 1000, dport);
	init_ctx(&ctx, &t, NF_FORWARD, "gw0", "eth0");
	v = rules_run(r, NF_FILTER, &ctx, &tr);
	hit_str(r, &tr, hits, len);
	return v;
}

static void test_traversal(void **state)
{
	struct rules *r;
	char hits[512], *s;

	(void)state;
	r = load("*filter\n:FORWARD DROP [0:0]\n:A - [0:0]\n:B - [0:0]\n:C - [0:0]\n"
		 "-A FORWARD -j A\n"                       /* 1 */
		 "-A FORWARD -p tcp --dport 2 -g B\n"      /* 2 */
		 "-A FORWARD -p tcp --dport 3 -j ACCEPT\n" /* 3 */
		 "-A A -p tcp --dport 1 -j ACCEPT\n"       /* A1 */
		 "-A A -p tcp --dport 4 -j C\n"            /* A2 */
		 "-A A -j LOG\n"                           /* A3: non-terminal, counts */
		 "-A B -p tcp --dport 2 -j C\n"            /* B1 */
		 "-A B -j ACCEPT\n"                        /* B2 */
		 "-A C -p tcp --dport 4 -j RETURN\n"       /* C1 */
		 "-A C -j DROP\n"                          /* C2 */
		 "COMMIT\n");

	assert_int_equal(walk(r, 1, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "filter/FORWARD/1 filter/A/1");
	/* end of A returns after the jump: FORWARD 2, 3 */
	assert_int_equal(walk(r, 3, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "filter/FORWARD/1 filter/A/3 filter/FORWARD/3");
	/* RETURN from C goes back to A after its jump, the end of A back to
	 * FORWARD after its jump, and the policy decides */
	assert_int_equal(walk(r, 4, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "filter/FORWARD/1 filter/A/2 filter/C/1 filter/A/3 filter/FORWARD/policy");
	assert_int_equal(walk(r, 5, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "filter/FORWARD/1 filter/A/3 filter/FORWARD/policy");
	/* -g B: B's jump to C drops */
	assert_int_equal(walk(r, 2, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "filter/FORWARD/1 filter/A/3 filter/FORWARD/2 filter/B/1 filter/C/2");

	s = save(r, true);
	assert_string_equal(s,
		"# Generated by gw\n*filter\n"
		":INPUT ACCEPT [0:0]\n:FORWARD DROP [2:80]\n:OUTPUT ACCEPT [0:0]\n"
		":A - [0:0]\n:B - [0:0]\n:C - [0:0]\n"
		"[5:200] -A FORWARD -j A\n"
		"[1:40] -A FORWARD -p tcp -m tcp --dport 2 -g B\n"
		"[1:40] -A FORWARD -p tcp -m tcp --dport 3 -j ACCEPT\n"
		"[1:40] -A A -p tcp -m tcp --dport 1 -j ACCEPT\n"
		"[1:40] -A A -p tcp -m tcp --dport 4 -j C\n"
		"[4:160] -A A -j LOG\n"
		"[1:40] -A B -p tcp -m tcp --dport 2 -j C\n"
		"[0:0] -A B -j ACCEPT\n"
		"[1:40] -A C -p tcp -m tcp --dport 4 -j RETURN\n"
		"[1:40] -A C -j DROP\n"
		"COMMIT\n");
	free(s);
	rules_free(r);
}

static void test_traversal_return_paths(void **state)
{
	struct rules *r;
	char hits[512];

	(void)state;
	/* RETURN in a built-in chain, the end of a chain reached by -g from
	 * a built-in chain, RETURN after -g: all end in the policy */
	r = load("*filter\n:FORWARD DROP [0:0]\n:G - [0:0]\n:J - [0:0]\n"
		 "-A FORWARD -p tcp --dport 1 -j RETURN\n"
		 "-A FORWARD -p tcp --dport 2 -g G\n"
		 "-A FORWARD -p tcp --dport 3 -j J\n"
		 "-A FORWARD -j ACCEPT\n"
		 "-A G -p tcp --dport 9 -j ACCEPT\n"
		 "-A J -g G\n"
		 "COMMIT\n");
	assert_int_equal(walk(r, 1, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "filter/FORWARD/1 filter/FORWARD/policy");
	assert_int_equal(walk(r, 2, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "filter/FORWARD/2 filter/FORWARD/policy");
	/* -j J then J -g G: the end of G returns to FORWARD after the jump */
	assert_int_equal(walk(r, 3, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "filter/FORWARD/3 filter/J/1 filter/FORWARD/4");
	rules_free(r);

	/* a rule without a target counts and continues; trace overflow */
	r = load("*filter\n-A FORWARD\n-A FORWARD\n-A FORWARD\n-A FORWARD -j DROP\nCOMMIT\n");
	{
		struct rules_hit h[2];
		struct rules_trace tr = { .hits = h, .max = 2 };
		struct tpkt t;
		struct nf_ctx ctx;

		tcp_syn(&t, 1, 2, 3, 4);
		init_ctx(&ctx, &t, NF_FORWARD, "a", "b");
		assert_int_equal(rules_run(r, NF_FILTER, &ctx, &tr), NF_DROP);
		assert_int_equal(tr.n, 2);
		assert_int_equal(tr.dropped, 2);
	}
	rules_free(r);
}

static void test_depth_and_loops(void **state)
{
	struct sbuf sb;
	struct rules *r;
	struct rules_error err;

	(void)state;
	/* 15 user chains below INPUT load, 16 do not (jumps or gotos) */
	for (int go = 0; go < 2; go++)
		for (int n = 15; n <= 16; n++) {
			sbuf_init(&sb);
			sbuf_add(&sb, "*filter\n");
			for (int i = 1; i <= n; i++)
				sbuf_printf(&sb, ":C%d - [0:0]\n", i);
			sbuf_printf(&sb, "-A INPUT -%c C1\n", go ? 'g' : 'j');
			for (int i = 1; i < n; i++)
				sbuf_printf(&sb, "-A C%d -%c C%d\n", i, go ? 'g' : 'j', i + 1);
			sbuf_add(&sb, "COMMIT\n");
			if (n == 15) {
				assert_int_equal(rules_parse(&r, sb.buf, sb.len, NULL, &err), 0);
				rules_free(r);
			} else {
				assert_int_equal(rules_parse(&r, sb.buf, sb.len, NULL, &err), -EINVAL);
				assert_non_null(strstr(err.message, "nested"));
				assert_string_equal(err.token, "C16");
			}
			sbuf_free(&sb);
		}

	/* chains no built-in chain reaches are not checked, as in Linux */
	r = load("*filter\n:A - [0:0]\n-A A -j A\nCOMMIT\n*nat\n:U - [0:0]\n"
		 "-A U -j MASQUERADE\n-A U -j DNAT --to-destination 1.2.3.4\nCOMMIT\n");
	rules_free(r);

	/* a diamond of jumps is fine: not a loop */
	r = load("*filter\n:A - [0:0]\n:B - [0:0]\n:C - [0:0]\n-A INPUT -j A\n-A INPUT -j B\n"
		 "-A A -j C\n-A B -j C\n-A A -j B\nCOMMIT\n");
	rules_free(r);

	/* hook restrictions follow the chains reaching a user chain */
	r = load("*nat\n:U - [0:0]\n-A POSTROUTING -j U\n-A U -j MASQUERADE\nCOMMIT\n");
	rules_free(r);
	assert_int_equal(parse_fails("*nat\n:U - [0:0]\n-A POSTROUTING -j U\n-A OUTPUT -j U\n"
				     "-A U -j MASQUERADE\nCOMMIT\n", &err), -EINVAL);
	assert_non_null(strstr(err.message, "not valid in OUTPUT"));
	assert_int_equal(err.line, 5);
}

/* ---- robustness ---- */

struct mut_ctx {
	size_t parsed, refused;
};

static void mutant(void *arg, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct mut_ctx *mc = arg;
	struct rules *r = NULL, *r2 = NULL;
	struct rules_error err;
	char *s1, *s2;

	(void)m;
	if (rules_parse(&r, (const char *)buf, len, NULL, &err) != 0) {
		assert_null(r);
		mc->refused++;
		return;
	}
	mc->parsed++;
	s1 = save(r, true);
	if (rules_parse(&r2, s1, strlen(s1), NULL, &err) != 0)
		fail_msg("save of a mutant does not load: %s (%s)\n%s", err.message, err.token, s1);
	s2 = save(r2, true);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
	rules_free(r);
	rules_free(r2);
}

/* Every bit flip and truncation of a rules file: refused or a fixed point. */
static void test_mutants(void **state)
{
	static const char text[] =
		"*filter\n:INPUT DROP [1:2]\n:U - [0:0]\n"
		"-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -m comment --comment \"a b\" -j U\n"
		"-A U -m conntrack --ctstate NEW,ESTABLISHED -m limit --limit 3/min -j LOG --log-prefix x\n"
		"COMMIT\n*nat\n-A POSTROUTING -p udp -j SNAT --to-source 1.2.3.4:5-6\nCOMMIT\n";
	struct mut_ctx mc = { 0 };
	size_t n;

	(void)state;
	n = mutate_all((const uint8_t *)text, sizeof(text) - 1, mutant, &mc);
	print_message("%zu mutants: %zu loaded, %zu refused\n", n, mc.parsed, mc.refused);
	assert_int_equal(n, mc.parsed + mc.refused);
	assert_true(mc.parsed > 100 && mc.refused > 100);
}

/* The [p:b] of chain lines and rule prefixes load only as iptables-restore
 * -c loads them (checked here against what iptables 1.8.9 saved after
 * restoring the same text with and without -c): user chains never keep
 * them, a rule's own -c always counts, and with -c a prefix is a -c. */
static void test_counters_only_with_c(void **state)
{
	static const char text[] =
		"*filter\n:INPUT DROP [5:300]\n:FORWARD ACCEPT [7:700]\n:U - [3:30]\n"
		"[9:900] -A INPUT -s 10.0.0.1/32 -j ACCEPT\n-A INPUT -s 10.0.0.2/32 -c 5 50 -j ACCEPT\n"
		"[4:40] -A U -j RETURN\nCOMMIT\n";
	static const char with_c[] =
		":INPUT DROP [5:300]\n:FORWARD ACCEPT [7:700]\n:OUTPUT ACCEPT [0:0]\n:U - [0:0]\n"
		"[9:900] -A INPUT -s 10.0.0.1/32 -j ACCEPT\n[5:50] -A INPUT -s 10.0.0.2/32 -j ACCEPT\n"
		"[4:40] -A U -j RETURN\n";
	static const char without[] =
		":INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:U - [0:0]\n"
		"[0:0] -A INPUT -s 10.0.0.1/32 -j ACCEPT\n[5:50] -A INPUT -s 10.0.0.2/32 -j ACCEPT\n"
		"[0:0] -A U -j RETURN\n";
	static const char both[] = "*filter\n[6:60] -A INPUT -c 7 70 -j ACCEPT\nCOMMIT\n";
	struct rules *r;
	struct rules_error err;
	char *s;

	(void)state;
	r = load_c("%s", text);
	s = save(r, true);
	if (!strstr(s, with_c))
		fail_msg("with -c:\n%s", s);
	free(s);
	rules_free(r);
	r = load("%s", text);
	s = save(r, true);
	if (!strstr(s, without))
		fail_msg("without -c:\n%s", s);
	free(s);
	rules_free(r);
	/* a prefix and -c: the -c without, refused with */
	r = load("%s", both);
	s = save(r, true);
	assert_non_null(strstr(s, "[7:70] -A INPUT -j ACCEPT\n"));
	free(s);
	rules_free(r);
	assert_int_equal(rules_parse_with(&r, both, strlen(both), NULL, &with_counters, &err),
			 -EINVAL);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "multiple -c flags not allowed"));
	/* bad counters are refused either way */
	assert_int_equal(rules_parse(&r, "*filter\n:INPUT DROP [x:1]\nCOMMIT\n", 33, NULL, &err),
			 -EINVAL);
	assert_int_equal(err.line, 2);
}


/* ---- IPv6 rulesets: the base match and the IPv6 matches at run time,
 * on hand-filled views (the IPv6 parser fills the same fields) ---- */

static const struct rules_parse_opts v6_opts = { .family = NF_V6 };

static union nf_addr a6(const char *s)
{
	union nf_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, a.b), 1);
	return a;
}

struct v6pkt {
	struct pkt p;
	uint8_t buf[64];
};

static void v6_fill(struct v6pkt *t, const char *src, const char *dst, uint8_t proto,
		    uint16_t dport, uint8_t type, uint8_t code)
{
	memset(t, 0, sizeof(*t));
	t->p.data = t->buf;
	t->p.buflen = sizeof(t->buf);
	t->p.outer.family = NF_V6;
	t->p.outer.saddr = a6(src);
	t->p.outer.daddr = a6(dst);
	t->p.outer.proto = proto;
	t->p.outer.l4 = 40;
	t->p.outer.end = 60;
	t->p.outer.tot_len = 60;
	t->p.outer.ttl = 64;
	t->p.outer.flags = PKT_F_L4;
	t->p.outer.sport = 40000;
	t->p.outer.dport = dport;
	t->p.outer.icmp_type = type;
	t->p.outer.icmp_code = code;
}

/* The 1-based rules of FORWARD the packet hit, "policy" at the end. */
static enum nf_verdict v6_walk(struct rules *r, struct v6pkt *t, char *hits, size_t len)
{
	struct rules_hit h[32];
	struct rules_trace tr = { .hits = h, .max = 32 };
	struct nf_ctx ctx;
	enum nf_verdict v;
	size_t n = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.pkt = &t->p;
	ctx.hook = NF_FORWARD;
	ctx.ctstate = CT_NEW;
	snprintf(ctx.in, sizeof(ctx.in), "gw0");
	snprintf(ctx.out, sizeof(ctx.out), "eth0");
	v = rules_run(r, NF_FILTER, &ctx, &tr);
	hits[0] = '\0';
	for (unsigned int i = 0; i < tr.n; i++) {
		if (h[i].rule)
			n += (size_t)snprintf(hits + n, len - n, "%s%u", n ? " " : "", h[i].rule);
		else
			n += (size_t)snprintf(hits + n, len - n, "%spolicy", n ? " " : "");
	}
	return v;
}

static void test_ipv6_run(void **state)
{
	struct rules *r = NULL;
	struct rules_error err;
	struct v6pkt t;
	char hits[256];
	static const char text[] =
		"*filter\n:FORWARD DROP [0:0]\n"
		"-A FORWARD -s 2001:db8:1::/48 -j ACCEPT\n"                      /* 1 */
		"-A FORWARD -d 2001:db8::/ffff:ffff:0:0:ffff:: -j ACCEPT\n"      /* 2 */
		"-A FORWARD ! -s fd00::/8 -p tcp --dport 443 -j ACCEPT\n"        /* 3 */
		"-A FORWARD -p ipv6-icmp --icmpv6-type port-unreachable -j ACCEPT\n" /* 4 */
		"-A FORWARD -p ipv6-icmp -m icmp6 ! --icmpv6-type 128 -j DROP\n" /* 5 */
		"-A FORWARD -m iprange --src-range fd00::10-fd00::1:0 -j ACCEPT\n" /* 6 */
		"-A FORWARD -m addrtype --dst-type MULTICAST -j DROP\n"          /* 7 */
		"-A FORWARD -m addrtype --dst-type UNICAST,MULTICAST -j DROP\n"  /* 8 */
		"-A FORWARD -s fd00::1 -j ACCEPT\n"                              /* 9 */
		"-A FORWARD -4 -s 10.0.0.1 -j ACCEPT\n"                          /* skipped */
		"-A FORWARD -6 -d 2001:db8:9:0:1::9 -j ACCEPT\n"                     /* 10 */
		"COMMIT\n";

	(void)state;
	assert_int_equal(rules_parse_with(&r, text, sizeof(text) - 1, NULL, &v6_opts, &err), 0);
	assert_int_equal(rules_family(r), NF_V6);
	v6_fill(&t, "2001:db8:1:ffff::1", "2001:db8:99::1", 17, 53, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "1");
	/* one bit outside the /48 */
	v6_fill(&t, "2001:db8:0:ffff::1", "2001:db9::1", 17, 53, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "policy");
	/* the non-contiguous mask looks at words 0, 1 and 4 only */
	v6_fill(&t, "fd00::2", "2001:db8:aaaa:bbbb:0:cccc:dddd:eeee", 17, 53, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "2");
	v6_fill(&t, "fd00::2", "2001:db8:aaaa:bbbb:1:cccc:dddd:eeee", 17, 53, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_DROP);
	/* ! -s fd00::/8 */
	v6_fill(&t, "2001:db8:7::1", "2001:db9:8::1", 6, 443, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "3");
	v6_fill(&t, "fd00::2", "2001:db9:8::1", 6, 443, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "policy");
	/* icmp6 type/code, and its inversion */
	v6_fill(&t, "fd00::2", "2001:db9:8::1", 58, 0, 1, 4);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "4");
	v6_fill(&t, "fd00::2", "2001:db9:8::1", 58, 0, 1, 3);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "5");
	v6_fill(&t, "fd00::2", "2001:db9:8::1", 58, 0, 128, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "policy");
	/* iprange compares 128-bit numbers */
	v6_fill(&t, "fd00::ffff", "2001:db9:8::1", 17, 53, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "6");
	v6_fill(&t, "fd00::1:1", "2001:db9:8::1", 17, 53, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "policy");
	/* addrtype: MULTICAST; UNICAST,MULTICAST must both hold (never) */
	v6_fill(&t, "fd00::1", "ff02::1", 17, 53, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_DROP);
	assert_string_equal(hits, "7");
	v6_fill(&t, "fd00::1", "2001:db9:8::1", 17, 53, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "9");
	/* the -4 line was skipped, the -6 one taken */
	v6_fill(&t, "fd00::3", "2001:db8:9:0:1::9", 17, 53, 0, 0);
	assert_int_equal(v6_walk(r, &t, hits, sizeof(hits)), NF_ACCEPT);
	assert_string_equal(hits, "10");
	{
		char *all = save(r, false);

		assert_non_null(strstr(all, "-A FORWARD -d 2001:db8:9:0:1::9/128 -j ACCEPT\n"));
		assert_null(strstr(all, "10.0.0.1"));
		free(all);
	}
	rules_free(r);
}

/* A base of the other family is refused; IPv4 text stays IPv4's. */
static void test_ipv6_family(void **state)
{
	struct rules *r4 = load("*filter\n-A INPUT -s 10.0.0.1 -j ACCEPT\n-A INPUT -6 -j DROP\nCOMMIT\n");
	struct rules *r6 = NULL;
	struct rules_error err;
	static const char t6[] = "*filter\n-A INPUT -s ::1 -j ACCEPT\nCOMMIT\n";
	char *all;

	(void)state;
	assert_int_equal(rules_family(r4), NF_V4);
	all = save(r4, false);
	assert_null(strstr(all, "DROP"));
	free(all);
	assert_int_equal(rules_parse_with(&r6, t6, sizeof(t6) - 1, r4, &v6_opts, &err), -EINVAL);
	assert_null(r6);
	assert_int_equal(rules_parse(&r6, t6, sizeof(t6) - 1, NULL, &err), -EINVAL);
	assert_int_equal(rules_parse_with(&r6, t6, sizeof(t6) - 1, NULL, &v6_opts, &err), 0);
	rules_free(r6);
	rules_free(r4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_table),
		cmocka_unit_test(test_canon6_table),
		cmocka_unit_test(test_ipv6_run),
		cmocka_unit_test(test_ipv6_family),
		cmocka_unit_test(test_canon_fixed_point_files),
		cmocka_unit_test(test_save_layout),
		cmocka_unit_test(test_whole_file_fixed_point),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_error_keeps_base),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_counters_only_with_c),
		cmocka_unit_test(test_base_tables),
		cmocka_unit_test(test_traversal),
		cmocka_unit_test(test_traversal_return_paths),
		cmocka_unit_test(test_depth_and_loops),
		cmocka_unit_test(test_mutants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
