/* SPDX-License-Identifier: MIT */
/*
 * tc — gw's one traffic-control object on the uplink: a cls_bpf filter in
 * direct-action mode on the clsact ingress hook, running a classic BPF
 * program (gw/bpf.h) for every ethertype (protocol all: IPv4 and IPv6),
 * installed and removed over rtnetlink.  The clsact
 * qdisc is created when absent and then removed with the filter; a qdisc
 * that was there before is left alone, and so is every other filter.  The
 * filter has a fixed preference and handle, so removal deletes exactly it.
 */
#ifndef GW_TC_H
#define GW_TC_H

#include <stdbool.h>
#include <stdint.h>

struct sock_filter;

enum { TC_GW_PREF = 0xc0de, TC_GW_HANDLE = 1 };

struct tc_filter {
	int ifindex;
	uint16_t pref;
	bool qdisc_added;	/* gw created clsact: remove it too */
	bool filter_added;
};

/* Installs prog[n] on ifindex's ingress at pref (0: TC_GW_PREF).  0 or
 * -errno; -EEXIST when a filter already holds pref (a gw that did not exit
 * cleanly: `tc filter del dev IF ingress pref N`).  Nothing is left behind
 * on failure. */
int tc_install(struct tc_filter *t, int ifindex, uint16_t pref,
	       const struct sock_filter *prog, unsigned n);
/* tc_install for a restart that takes over what a previous gw left
 * (KeepState): a filter already at pref is replaced in one step, not
 * refused.  qdisc_ours: the previous gw created the clsact qdisc (it goes
 * with the filter at a clean exit).  0 or -errno. */
int tc_adopt(struct tc_filter *t, int ifindex, uint16_t pref, const struct sock_filter *prog,
	     unsigned n, bool qdisc_ours);
/* Swaps the program of the installed filter in one step (no moment
 * without a filter).  0 or -errno; the old program stays on failure. */
int tc_replace(struct tc_filter *t, const struct sock_filter *prog, unsigned n);
/* Removes what tc_install added (idempotent).  0 or the first -errno. */
int tc_remove(struct tc_filter *t);

#endif
