/* SPDX-License-Identifier: MIT */
/* gw run CONFIG|IFACE: the gateway in the foreground until SIGINT/SIGTERM;
 * IFACE is $GW_CONFIG_DIR/IFACE.conf (/etc/gw by default), as wg-quick. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "gw/cmd.h"
#include "gw/config.h"
#include "gw/gw.h"
#include "gw/handover.h"
#include "gw/log.h"
#include "gw/sandbox.h"
#include "nat/sbuf.h"

int cmd_run(int argc, char **argv)
{
	struct config_error err;
	struct config cfg;
	struct sbuf warn;
	char path[PATH_MAX];
	static struct gw g; /* large, and one per process */
	int ret;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: gw %s CONFIG|IFACE  (IFACE: %s/IFACE.conf, or $GW_CONFIG_DIR)\n",
			argv[0], CONFIG_DIR);
		return 1;
	}
	/* a re-exec's descriptors (SIGUSR2), before anything opens one; its
	 * new image runs under the old one's seccomp filter already: a call
	 * it refuses is said, not a silent death */
	handover_init();
	if (handover_active())
		(void)sandbox_trap(argv[1]);
	if (config_find(argv[1], path, sizeof(path))) {
		fprintf(stderr, "gw: %s: name too long\n", argv[1]);
		return 1;
	}
	sbuf_init(&warn);
	ret = config_load(&cfg, path, &warn, &err);
	if (!ret)
		config_warn_access(&cfg, &warn);
	if (!ret && cfg.log_level)
		log_set_level(cfg.log_level);
	for (char *line = warn.buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		gw_log_raw(LOG_WARNING, "%s", line);
	}
	sbuf_free(&warn);
	if (ret) {
		gw_log_raw(LOG_ERR, "%s", err.message);
		return 1;
	}
	ret = gw_setup(&g, &cfg);
	if (ret == 0)
		gw_run(&g);
	gw_teardown(&g);
	return ret ? 1 : 0;
}
