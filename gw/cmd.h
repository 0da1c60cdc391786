/* SPDX-License-Identifier: MIT */
/* The subcommands of gw: each takes its own argv (argv[0] = its name) and
 * returns the process exit code. */
#ifndef GW_CMD_H
#define GW_CMD_H

int cmd_genkey(int argc, char **argv);
int cmd_genpsk(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_conntrack(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_peer(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_trace(int argc, char **argv);

#include <stddef.h>

struct sbuf;

/* Sends req (and body, if blen) to the running gateway IFACE (or a socket
 * path) and appends its answer to out; prints why it could not (stderr).
 * 0 or -errno. */
int cmd_ask(const char *iface, const char *req, const char *body, size_t blen,
	    struct sbuf *out);
/* The message of an "error=MESSAGE" answer (newline included), else NULL. */
const char *cmd_answer_error(const struct sbuf *s);

#endif
