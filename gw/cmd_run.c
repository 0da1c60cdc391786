/* SPDX-License-Identifier: MIT */
/* gw run CONFIG: the gateway in the foreground until SIGINT/SIGTERM. */
#include <stdio.h>
#include <string.h>

#include "gw/cmd.h"
#include "gw/config.h"
#include "gw/gw.h"
#include "nat/sbuf.h"

int cmd_run(int argc, char **argv)
{
	struct config_error err;
	struct config cfg;
	struct sbuf warn;
	static struct gw g; /* large, and one per process */
	int ret;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: gw %s CONFIG\n", argv[0]);
		return 1;
	}
	sbuf_init(&warn);
	ret = config_load(&cfg, argv[1], &warn, &err);
	if (warn.len)
		fputs(warn.buf, stderr);
	sbuf_free(&warn);
	if (ret) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	ret = gw_setup(&g, &cfg);
	if (ret == 0)
		gw_run(&g);
	gw_teardown(&g);
	return ret ? 1 : 0;
}
