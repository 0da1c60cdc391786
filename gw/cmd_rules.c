/* SPDX-License-Identifier: MIT */
/*
 * gw rules -f FILE save: load a rules file offline and print its canonical
 * iptables-save form, or its first error as FILE:LINE: message (exit 1), as
 * iptables-restore --test would refuse it.  The live forms (gw rules IFACE
 * ...) talk to a running gateway.
 */
#include <stdio.h>
#include <string.h>

#include "gw/cmd.h"
#include "gw/rulesfile.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

static void usage(void)
{
	fputs("Usage: gw rules -f FILE save\n"
	      "       gw rules IFACE [-t TABLE] [-L [CHAIN]] [-v] [-n] [-x]\n"
	      "       gw rules IFACE save | restore < FILE\n", stderr);
}

int cmd_rules(int argc, char **argv)
{
	struct rules *r;
	struct sbuf out;
	char err[512];
	bool counters = false;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage();
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "-f")) {
		if (argc >= 2 && argv[1][0] != '-') {
			fprintf(stderr, "gw: rules on a running gateway ('%s') is not implemented yet\n",
				argv[1]);
			return 2;
		}
		usage();
		return 1;
	}
	if (argc == 5 && !strcmp(argv[4], "-c"))
		counters = true;
	else if (argc != 4 || strcmp(argv[3], "save")) {
		usage();
		return 1;
	}
	if (rulesfile_load(&r, argv[2], NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	sbuf_init(&out);
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
