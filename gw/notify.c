/* SPDX-License-Identifier: MIT */
#include "gw/notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "crypto/messages.h"
#include "gw/gw.h"
#include "gw/log.h"

/* sd_notify, a failure logged once (the socket went, or User may not
 * write it: systemd's own is writable by all). */
static void send_state(struct gw *g, const char *state)
{
	int ret = sd_notify(0, state);

	if (ret < 0 && !g->notify.warned) {
		g->notify.warned = true;
		gw_warn("%s: $NOTIFY_SOCKET: %s (systemd hears nothing more from gw)",
			g->cfg.ifname, strerror(-ret));
	}
}

void notify_status(struct gw *g, char *buf, size_t len)
{
	uint64_t wall = gw_wall();
	size_t active = 0;
	unsigned ct;
	int n;

	for (size_t i = 0; i < g->dev.npeers; i++) {
		uint64_t hs = g->dev.peers[i]->last_handshake_wall;

		if (hs && wall >= hs && wall - hs <= REJECT_AFTER_TIME)
			active++;
	}
	n = snprintf(buf, len, "%zu peer%s, %zu active; ", g->dev.npeers,
		     g->dev.npeers == 1 ? "" : "s", active);
	if (n < 0 || (size_t)n >= len)
		return;
	if (dp_ct_count(g, &ct) == 0)
		snprintf(buf + n, len - (size_t)n, "conntrack %u/%u", ct, (unsigned)g->cfg.ct_max);
	else
		snprintf(buf + n, len - (size_t)n, "conntrack off");
}

/* STATUS= if it changed, WATCHDOG=1 when there is a watchdog: one message. */
static void tick(struct gw *g)
{
	char status[sizeof(g->notify.status)], msg[sizeof(status) + 32];
	bool changed;

	notify_status(g, status, sizeof(status));
	changed = strcmp(status, g->notify.status) != 0;
	if (!changed && !g->notify.watchdog_usec)
		return;
	snprintf(msg, sizeof(msg), "%s%s%s", g->notify.watchdog_usec ? "WATCHDOG=1\n" : "",
		 changed ? "STATUS=" : "", changed ? status : "");
	if (changed)
		memcpy(g->notify.status, status, sizeof(status));
	send_state(g, msg);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	tick(w->data);
}

static void arm(struct gw *g)
{
	struct gw_notify *n = &g->notify;
	double every = NOTIFY_STATUS_PERIOD;
	uint64_t usec;

	n->armed = true;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec) {
		n->watchdog_usec = usec;
		if ((double)usec / 2e6 < every)
			every = (double)usec / 2e6;
		gw_log("%s: systemd watchdog: WATCHDOG=1 every %.3f s", g->cfg.ifname, every);
	}
	ev_timer_init(&n->w, timer_cb, every, every);
	n->w.data = g;
	ev_timer_start(g->loop, &n->w);
}

void notify_ready(struct gw *g)
{
	char msg[sizeof(g->notify.status) + 32];

	if (!getenv("NOTIFY_SOCKET"))
		return;
	if (!g->notify.armed)
		arm(g);
	notify_status(g, g->notify.status, sizeof(g->notify.status));
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", g->notify.status);
	send_state(g, msg);
}

void notify_reloading(struct gw *g)
{
	struct timespec ts;
	char msg[64];

	if (!getenv("NOTIFY_SOCKET"))
		return;
	/* systemd >= 253 takes RELOADING=1 with the time it started */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	send_state(g, msg);
}

void notify_stopping(struct gw *g)
{
	if (!getenv("NOTIFY_SOCKET"))
		return;
	send_state(g, "STOPPING=1\nSTATUS=stopping");
}
