/* SPDX-License-Identifier: MIT */
/*
 * wgquick — what gw says about a wg-quick PreUp/PostUp/PreDown/PostDown line.
 * gw runs no commands; a hook that runs iptables is turned into the
 * iptables-restore lines it would be in the Rules file, where that is
 * mechanical, and each suggested line is first loaded by gw's own rules
 * parser, so a suggestion is never one gw would refuse.
 */
#ifndef GW_WGQUICK_H
#define GW_WGQUICK_H

#include <stdbool.h>

struct sbuf;

/* The warning(s) for the hook key = val at where ("file:line"), %i standing
 * for ifname as in wg-quick, appended to warn.  Returns false when no command
 * of the line runs iptables or ip6tables (nothing appended: the caller's
 * plain "not implemented" warning applies). */
bool wgquick_hook(const char *where, const char *ifname, const char *key, const char *val,
		  struct sbuf *warn);

#endif
