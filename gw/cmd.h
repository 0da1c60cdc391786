/* SPDX-License-Identifier: MIT */
/* The subcommands of gw: each takes its own argv (argv[0] = its name) and
 * returns the process exit code. */
#ifndef GW_CMD_H
#define GW_CMD_H

int cmd_genkey(int argc, char **argv);
int cmd_genpsk(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_trace(int argc, char **argv);

#endif
