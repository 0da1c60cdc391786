/* SPDX-License-Identifier: MIT */
/*
 * notify — systemd's service notifications (sd_notify(3), Type=notify):
 *
 *   READY=1      once the TUN device, sockets, filters and control socket
 *                are up and privileges are dropped (the loop starts next)
 *   RELOADING=1  with MONOTONIC_USEC= when SIGHUP's reload starts, READY=1
 *                when it is done (good or refused: the gateway runs on)
 *   STOPPING=1   on SIGINT/SIGTERM, before teardown
 *   STATUS=      peers, those with a handshake in the last 3 minutes, and
 *                conntrack use; sent with READY=1 and on the timer when it
 *                changed (never per packet)
 *   WATCHDOG=1   every half WatchdogSec= ($WATCHDOG_USEC, for this PID when
 *                $WATCHDOG_PID is set), from the loop: a stuck loop is killed
 *
 * Without $NOTIFY_SOCKET every call is a no-op.  One timer in the loop.
 */
#ifndef GW_NOTIFY_H
#define GW_NOTIFY_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

struct gw;

/* seconds between looks at STATUS= when there is no watchdog */
#define NOTIFY_STATUS_PERIOD 10.

struct gw_notify {
	ev_timer w;              /* STATUS= and WATCHDOG=1 */
	bool armed;              /* w initialised and started */
	bool warned;             /* a failed send was logged once */
	uint64_t watchdog_usec;  /* 0: no watchdog */
	char status[160];        /* the last STATUS= sent */
};

/* READY=1 with STATUS=; the first call arms the timer on g->loop. */
void notify_ready(struct gw *g);
void notify_reloading(struct gw *g);
void notify_stopping(struct gw *g);
/* The STATUS= text for g now into buf. */
void notify_status(struct gw *g, char *buf, size_t len);

#endif
