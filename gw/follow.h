/* SPDX-License-Identifier: MIT */
/*
 * follow — what gw keeps in step with the host while it runs (gateway mode):
 *
 *   - the host's IPv4 addresses, over an rtnetlink RTMGRP_IPV4_IFADDR socket
 *     on the control loop: routing (route_set_local), and MASQUERADE's
 *     address.  When the uplink's primary address changes, nf and route
 *     take the new one and the entries NAT-ed to the old one are flushed
 *     (nat_flush_addr, as Linux does, logged); with no address MASQUERADE
 *     drops until one appears.
 *   - the uplink's MTU, over the same socket's RTMGRP_LINK events: routing's
 *     path MTU out of the uplink and the send queues' (at most a send slot,
 *     sized at start: max(1500, the MTU then)).
 *   - the uplink's filters (gw/uplink_nat.h): on every address event and
 *     every new ruleset the filter spec is computed again from the live
 *     rules and the host's addresses (the uplink's secondaries, what is
 *     foreign); when that spec is refused, the filters fall back to
 *     MASQUERADE's address and NatPorts (logged as an error) instead of
 *     staying on stale addresses.  What the filters keep only for live
 *     connections (a rule restored away) lingers: a timer looks for their
 *     end.
 *
 * All of it runs on the control thread, under the workers' lock.
 */
#ifndef GW_FOLLOW_H
#define GW_FOLLOW_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

struct gw;
struct rules;

/* The uplink opened for rules and (with Rules6) rules6 (its filters, the tc
 * filter, NatPorts reserved); *addr its address now (0: none yet).  0 or
 * -errno (logged). */
int follow_setup(struct gw *g, const struct rules *rules, const struct rules *rules6,
		 uint32_t *addr);
/* The rtnetlink watch of the host's addresses.  0 or -errno (logged). */
int follow_watch(struct gw *g);
/* The host's addresses read again and everything that follows them. */
void follow_host_changed(struct gw *g);
/* The uplink's filters for new rules r and IPv6 rules r6 (either may be
 * the live one; r6 is read with Rules6 only), before they are swapped in.
 * 0, or -errno with the reason in err: they are refused, the old filters
 * stay. */
int follow_rules(struct gw *g, const struct rules *r, const struct rules *r6, char *err,
		 size_t errlen);
/* The linger timer (g->linger_w): what the filters kept for connections
 * that are over goes. */
void follow_linger_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* The address watch closed, the uplink closed (its filters and reserved
 * ports removed). */
void follow_teardown(struct gw *g);
/* addr (host order) as text. */
void follow_addr_text(uint32_t addr, char *text, size_t len);

#endif
