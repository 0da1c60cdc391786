/* SPDX-License-Identifier: MIT */
/*
 * gw rules [-c] -f FILE save [-c]: load a rules file offline and print its
 * canonical iptables-save form, or its first error as FILE:LINE: message
 * (exit 1), as iptables-restore --test would refuse it.  The first -c is
 * iptables-restore's: the file's [packets:bytes] are loaded (without it
 * every chain and rule starts at [0:0]); the second iptables-save's: the
 * rules are printed with their counters.
 *
 * The live forms talk to a running gateway over its control socket:
 *   gw rules IFACE [-t TABLE] [-L [CHAIN]] [-v] [-n] [-x] [--line-numbers]
 *       iptables -L's layout of the live rules (table filter by default)
 *   gw rules IFACE save
 *       iptables-save -c text: [packets:bytes] before every rule
 *   gw rules IFACE restore [-c] [FILE]   (default: standard input)
 *       iptables-restore: parsed on top of the live rules (tables not in the
 *       text stay), swapped in at once; conntrack and NAT bindings survive.
 *       -c loads the text's counters, as iptables-restore -c; without it the
 *       restored tables' chains and rules start at [0:0].
 *       A bad file changes nothing: "FILE:LINE: message" on stderr, exit 1;
 *       standard input is named "stdin" in that message.
 * IFACE may also be a control socket path (containing '/').
 *
 * -6 (first) reads the file as ip6tables-restore text and prints
 * ip6tables-save / ip6tables -L; the offline -L lists a file's rules as the
 * live form lists the running ones.  In the live forms -6 (anywhere) means
 * the gateway's IPv6 rules (Rules6; refused when its config has none).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/cmd.h"
#include "gw/rulesfile.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

static void usage(void)
{
	fputs("Usage: gw rules [-6] [-c] -f FILE save [-c]\n"
	      "       gw rules [-6] [-c] -f FILE [-t TABLE] -L [CHAIN] [-v] [-n] [-x] [--line-numbers]\n"
	      "       gw rules IFACE [-6] [-t TABLE] [-L [CHAIN]] [-v] [-n] [-x] [--line-numbers]\n"
	      "       gw rules IFACE [-6] save | restore [-c] [FILE] (default: stdin)\n"
	      "  -c before -f or after restore: load the counters [packets:bytes] of the\n"
	      "     text, as iptables-restore -c (without it chains and rules start at [0:0]);\n"
	      "  -c after save (offline): print every rule's counters, as iptables-save -c\n"
	      "  -6: the file is ip6tables-restore text (IPv6 rules); live: the gateway's Rules6\n",
	      stderr);
}

/* Prints an answer: its text to stdout, or its error=MESSAGE to stderr
 * (prefixed "gw: " unless raw; raw prints nothing on success).  The exit
 * code. */
static int print_answer(struct sbuf *s, int ret, bool raw)
{
	const char *e = cmd_answer_error(s);

	if (ret)
		return 1;
	if (e) {
		fprintf(stderr, "%s%s", raw ? "" : "gw: ", e);
		return 1;
	}
	if (s->len && !raw)
		fwrite(s->buf, 1, s->len, stdout);
	return 0;
}

static int live_restore(const char *iface, const char *pre, const char *file, bool counters)
{
	struct sbuf s, req;
	char *text = NULL;
	size_t len = 0;
	int ret;

	if (file) {
		ret = rulesfile_read(file, &text, &len);
		if (ret) {
			fprintf(stderr, "%s: %s\n", file, strerror(-ret));
			return 1;
		}
	} else {
		struct sbuf in;
		char buf[65536];
		size_t n;

		sbuf_init(&in);
		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
			sbuf_addn(&in, buf, n);
		if (ferror(stdin) || in.oom) {
			fputs("stdin: read error\n", stderr);
			sbuf_free(&in);
			return 1;
		}
		text = in.buf;
		len = in.len;
	}
	sbuf_init(&s);
	sbuf_init(&req);
	sbuf_printf(&req, "%s-restore %s%s", pre, counters ? "-c " : "", file ? file : "stdin");
	ret = cmd_ask(iface, req.buf, text ? text : "", len, &s);
	ret = print_answer(&s, ret, true);
	if (!ret && strncmp(s.buf ? s.buf : "", "ok=1", 4)) {
		fputs("gw: rules restore: unexpected answer\n", stderr);
		ret = 1;
	}
	free(text);
	sbuf_free(&req);
	sbuf_free(&s);
	return ret;
}

/* iptables -L's options from argv[first..argc): 0, or 1 after usage. */
static int list_opts(int argc, char **argv, int first, const char **table, const char **chain,
		     unsigned *flags)
{
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-t") || !strcmp(a, "--table")) {
			if (++i == argc) {
				usage();
				return 1;
			}
			*table = argv[i];
		} else if (!strcmp(a, "-L") || !strcmp(a, "--list")) {
			if (i + 1 < argc && argv[i + 1][0] != '-')
				*chain = argv[++i];
		} else if (!strcmp(a, "--line-numbers")) {
			*flags |= RULES_LIST_LINE_NUMBERS;
		} else if (!strcmp(a, "--verbose")) {
			*flags |= RULES_LIST_VERBOSE;
		} else if (!strcmp(a, "--numeric")) {
			*flags |= RULES_LIST_NUMERIC;
		} else if (!strcmp(a, "--exact")) {
			*flags |= RULES_LIST_EXACT;
		} else if (a[0] == '-' && a[1] && a[1] != '-') {
			/* bundled short options: -nvL, -vnx, ... */
			for (const char *c = a + 1; *c; c++) {
				if (*c == 'v')
					*flags |= RULES_LIST_VERBOSE;
				else if (*c == 'n')
					*flags |= RULES_LIST_NUMERIC;
				else if (*c == 'x')
					*flags |= RULES_LIST_EXACT;
				else if (*c == 'L' && !c[1] && i + 1 < argc && argv[i + 1][0] != '-')
					*chain = argv[++i];
				else if (*c != 'L') {
					fprintf(stderr, "gw: rules: unknown option -%c\n", *c);
					usage();
					return 1;
				}
			}
		} else {
			fprintf(stderr, "gw: rules: unexpected '%s'\n", a);
			usage();
			return 1;
		}
	}
	return 0;
}

static int live(int argc, char **argv)
{
	const char *iface = argv[1], *table = "filter", *chain = NULL, *pre = "rules";
	unsigned flags = 0;
	struct sbuf s, req;
	char ask[32];
	int ret, k = 2;

	/* -6 anywhere: the IPv6 rules (Rules6); dropped from argv */
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-6") || !strcmp(argv[i], "--ipv6"))
			pre = "rules6";
		else
			argv[k++] = argv[i];
	}
	argc = k;

	if (argc >= 3 && !strcmp(argv[2], "save")) {
		if (argc != 3) {
			usage();
			return 1;
		}
		sbuf_init(&s);
		snprintf(ask, sizeof(ask), "%s-save", pre);
		ret = print_answer(&s, cmd_ask(iface, ask, NULL, 0, &s), false);
		sbuf_free(&s);
		return ret;
	}
	if (argc >= 3 && !strcmp(argv[2], "restore")) {
		bool counters = argc >= 4 && (!strcmp(argv[3], "-c") || !strcmp(argv[3], "--counters"));
		int f = counters ? 4 : 3;

		if (argc > f + 1) {
			usage();
			return 1;
		}
		return live_restore(iface, pre, argc == f + 1 && strcmp(argv[f], "-") ? argv[f] : NULL,
				    counters);
	}
	if (list_opts(argc, argv, 2, &table, &chain, &flags))
		return 1;
	sbuf_init(&s);
	sbuf_init(&req);
	sbuf_printf(&req, "%s-list %s %u%s%s", pre, table, flags, chain ? " " : "",
		    chain ? chain : "");
	ret = print_answer(&s, cmd_ask(iface, req.buf, NULL, 0, &s), false);
	sbuf_free(&req);
	sbuf_free(&s);
	return ret;
}

/* Offline: gw rules [-6] [-c] -f FILE save [-c] | [-t TABLE] -L [CHAIN] ... */
int cmd_rules(int argc, char **argv)
{
	struct rules *r;
	struct sbuf out;
	char err[512];
	bool load_counters = false, counters = false, list;
	uint8_t family = NF_V4;
	const char *table = "filter", *chain = NULL;
	unsigned flags = 0;
	int tbl = 0;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage();
		return 0;
	}
	while (argc >= 2 && (!strcmp(argv[1], "-c") || !strcmp(argv[1], "--counters") ||
			     !strcmp(argv[1], "-6") || !strcmp(argv[1], "--ipv6"))) {
		if (argv[1][1] == 'c' || argv[1][2] == 'c')
			load_counters = true;
		else
			family = NF_V6;
		argc--;
		argv++;
	}
	if (argc < 2 || strcmp(argv[1], "-f")) {
		if (argc >= 2 && argv[1][0] != '-' && !load_counters && family == NF_V4)
			return live(argc, argv);
		if (argc >= 2 && argv[1][0] != '-' && !load_counters && family == NF_V6) {
			/* gw rules -6 IFACE ...: as gw rules IFACE -6 ... */
			char **av = calloc((size_t)argc + 2, sizeof(*av));
			int ret;

			if (!av)
				return 1;
			av[0] = argv[0];
			av[1] = argv[1];
			av[2] = (char *)"-6";
			for (int i = 2; i < argc; i++)
				av[i + 1] = argv[i];
			ret = live(argc + 1, av);
			free(av);
			return ret;
		}
		usage();
		return 1;
	}
	if (argc < 4) {
		usage();
		return 1;
	}
	list = strcmp(argv[3], "save") != 0;
	if (!list) {
		if (argc == 5 && !strcmp(argv[4], "-c"))
			counters = true;
		if (argc != 4 + counters) {
			usage();
			return 1;
		}
	} else {
		bool have_l = false;

		for (int i = 3; i < argc; i++)
			have_l = have_l || !strcmp(argv[i], "-L") || !strcmp(argv[i], "--list") ||
				 (argv[i][0] == '-' && argv[i][1] != '-' && strchr(argv[i], 'L'));
		if (!have_l || list_opts(argc, argv, 3, &table, &chain, &flags)) {
			if (!have_l)
				usage();
			return 1;
		}
		tbl = -1;
		for (int t = 0; t < NF_TABLE_MAX; t++)
			if (!strcmp(rules_table_name((enum nf_table)t), table))
				tbl = t;
		if (tbl < 0) {
			fprintf(stderr, "gw: rules: no table \"%s\"\n", table);
			return 1;
		}
	}
	if (rulesfile_load_as(&r, argv[2], NULL, load_counters, family, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	sbuf_init(&out);
	if (list)
		rules_list(r, (enum nf_table)tbl, chain, flags, &out);
	else
		rules_save(r, counters, &out);
	if (out.oom) {
		fputs("gw: rules: out of memory\n", stderr);
		sbuf_free(&out);
		rules_free(r);
		return 1;
	}
	if (out.len)
		fwrite(out.buf, 1, out.len, stdout);
	sbuf_free(&out);
	rules_free(r);
	return 0;
}
