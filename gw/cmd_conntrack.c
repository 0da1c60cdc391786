/* SPDX-License-Identifier: MIT */
/*
 * gw conntrack IFACE [-L] [-C] [-F]: a running gateway's connection tracking
 * table, as conntrack(8) shows it.
 *   -L (default)  one line per entry in the conntrack -L format on stdout,
 *                 then "gw conntrack: N flow entries have been shown." on
 *                 stderr (as conntrack-tools)
 *   -C            the number of entries
 *   -F            flush; "gw conntrack: connection tracking table has been
 *                 emptied." on stderr
 *   -o extended   with -L: the lines as `conntrack -L -o extended` prints them
 *                 on a kernel with nf_conntrack_acct=1 ("ipv4     2 " first,
 *                 packets=N bytes=N after each direction's tuple)
 *   -f ipv4|ipv6  with -L: only that family's entries (conntrack-tools 1.4.7
 *                 lists both without it)
 * One command at most; options in any order, as conntrack's.  IFACE may also
 * be a control socket path (containing '/').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/cmd.h"
#include "nat/sbuf.h"

static void usage(void)
{
	fputs("Usage: gw conntrack IFACE [-L [-o extended] [-f ipv4|ipv6] | -C | -F]\n", stderr);
}

int cmd_conntrack(int argc, char **argv)
{
	const char *req = NULL, *output = NULL, *family = NULL;
	char ask[64];
	struct sbuf s;
	const char *e, *count;
	int ret;

	if (argc < 2 || argv[1][0] == '-') {
		usage();
		return argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? 0 : 1;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *cmd = NULL;

		if (!strcmp(a, "-L") || !strcmp(a, "--dump"))
			cmd = "ct-list";
		else if (!strcmp(a, "-C") || !strcmp(a, "--count"))
			cmd = "ct-count";
		else if (!strcmp(a, "-F") || !strcmp(a, "--flush"))
			cmd = "ct-flush";
		if (cmd) {
			if (req) {
				fprintf(stderr, "gw conntrack: %s: only one command at a time\n", a);
				return 1;
			}
			req = cmd;
		} else if (!strcmp(a, "-f") || !strcmp(a, "--family")) {
			if (i + 1 == argc || (strcmp(argv[i + 1], "ipv4") && strcmp(argv[i + 1], "ipv6"))) {
				fprintf(stderr, "gw conntrack: %s needs a family (ipv4 or ipv6)\n", a);
				return 1;
			}
			family = argv[++i];
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			if (i + 1 == argc) {
				fprintf(stderr, "gw conntrack: %s needs a format (extended)\n", a);
				return 1;
			}
			output = argv[++i];
			if (strcmp(output, "extended")) {
				fprintf(stderr, "gw conntrack: %s: unknown output format '%s' (known: extended)\n",
					a, output);
				return 1;
			}
		} else {
			usage();
			return 1;
		}
	}
	if (!req)
		req = "ct-list";
	if ((output || family) && strcmp(req, "ct-list")) {
		fprintf(stderr, "gw conntrack: %s goes with -L only\n", output ? "-o" : "-f");
		return 1;
	}
	snprintf(ask, sizeof(ask), "%s%s%s%s", req, output ? " extended" : "", family ? " " : "",
		 family ? family : "");
	sbuf_init(&s);
	ret = cmd_ask(argv[1], ask, NULL, 0, &s);
	if (ret) {
		sbuf_free(&s);
		return 1;
	}
	if ((e = cmd_answer_error(&s))) {
		fprintf(stderr, "gw: %s", e);
		sbuf_free(&s);
		return 1;
	}
	ret = 0;
	if (!strcmp(req, "ct-flush")) {
		fputs("gw conntrack: connection tracking table has been emptied.\n", stderr);
	} else {
		/* the last line is count=N */
		count = s.len ? strstr(s.buf, "count=") : NULL;
		while (count && count != s.buf && count[-1] != '\n')
			count = strstr(count + 1, "count=");
		if (!count) {
			fputs("gw: conntrack: unexpected answer\n", stderr);
			ret = 1;
		} else if (!strcmp(req, "ct-count")) {
			printf("%lu\n", strtoul(count + 6, NULL, 10));
		} else {
			fwrite(s.buf, 1, (size_t)(count - s.buf), stdout);
			fflush(stdout);
			fprintf(stderr, "gw conntrack: %lu flow entries have been shown.\n",
				strtoul(count + 6, NULL, 10));
		}
	}
	sbuf_free(&s);
	return ret;
}
