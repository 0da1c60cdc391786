/* SPDX-License-Identifier: MIT */
/*
 * dataplane — the netfilter pipeline's life in gw run (Rules or an Uplink
 * in the config): set up after the tunnel (rules loaded, the uplink opened,
 * conntrack and reassembly made, the host's addresses followed), rules
 * swapped in at SIGHUP and at a control socket's restore, its share of gw
 * stats, torn down at exit.  The packets themselves: gw/path.h; what
 * follows the host: gw/follow.h; the control socket's requests:
 * gw/ctl_ops.h.
 *
 * Without Rules and Uplink g->nf is NULL and gw.c keeps the plain tunnel
 * (peers <-> TUN), with the host's addresses followed only to drop a
 * peer's packet that claims one as its source.
 */
#ifndef GW_DATAPLANE_H
#define GW_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/path.h"

struct config;
struct ct_owner_stats;
struct gw;
struct metrics;
struct sbuf;

/* After the tunnel is up: nf, route, reassembly, uplink.  0 or -errno
 * (logged); without Rules and Uplink only route and the host's addresses. */
int dp_setup(struct gw *g);
/* Uplink closed (tc filter and reserved ports removed), nf freed. */
void dp_teardown(struct gw *g);

/* gw stats lines: paths, drops, conntrack use, uplink and reassembly. */
void dp_stats(struct gw *g, struct metrics *m);
/* A peer's share of conntrack (owner: its conntrack owner id), for show;
 * -ENOENT without netfilter. */
int dp_peer_ct(struct gw *g, uint16_t owner, struct ct_owner_stats *os);
/* Conntrack entries now; -ENOENT without netfilter. */
int dp_ct_count(struct gw *g, unsigned *count);

/* SIGHUP: the Rules file again, parsed on top of the live rules and swapped
 * in at once (conntrack and NAT bindings stay); on error the old rules stay
 * (logged). */
int dp_reload(struct gw *g);
/* Rules text (of family: ip6tables-restore text for NF_V6) on top of the
 * live rules of that family, swapped in at once; counters: take its
 * [packets:bytes] (iptables-restore -c).  On error nothing changes and err
 * has "NAME:LINE: message". */
int dp_restore(struct gw *g, uint8_t family, const char *name, const char *text, size_t len,
	       bool counters, char *err, size_t errlen);

#endif
