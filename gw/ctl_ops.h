/* SPDX-License-Identifier: MIT */
/*
 * ctl_ops — what gw run answers on its control socket (gw/ctl.h carries
 * the requests and replies): a table of operations, one per request word,
 * as wireguard-tools keeps its subcommands.
 *
 *   show | stats | metrics          the interface and peers; counters; both
 *                                   as Prometheus text (gw/metrics.h)
 *   rules-list TABLE FLAGS [CHAIN]  iptables -L of the live rules
 *   rules-save                      iptables-save -c of the live rules
 *   rules-restore [-c ]NAME + body  iptables-restore of the body
 *   trace-info                      what gw trace needs from the live gateway
 *   conf                            the config as gw run holds it now
 *   ct-list [extended] | ct-count | ct-flush   conntrack -L / -C / -F
 *
 * A request no op takes gets "error=unknown request".  They run on the
 * control thread, under the workers' lock.
 */
#ifndef GW_CTL_OPS_H
#define GW_CTL_OPS_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf;

/* ctl_server's has_body: whether req is followed by a body. */
bool ctl_ops_has_body(const char *req);
/* ctl_server's handle (arg: struct gw). */
void ctl_ops_handle(void *arg, const char *req, const char *body, size_t blen, struct sbuf *out);

#endif
