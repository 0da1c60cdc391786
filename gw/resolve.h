/* SPDX-License-Identifier: MIT */
/*
 * resolve — Endpoint host names looked up off the event loop.
 *
 * getaddrinfo blocks for as long as DNS takes (seconds when a server does
 * not answer), and the loop carries every packet, so one worker thread does
 * the lookups: the loop hands it a job (a list of "host:port" texts), the
 * thread resolves them one by one into the job and hands it back through an
 * ev_async, and the loop applies the results.  One job at a time; the
 * thread touches nothing but the job and this struct's queue.
 *
 * Start it after privileges are dropped: capabilities and no_new_privs are
 * per thread, so a thread made earlier would keep what gw gave up.  Stopping
 * joins the thread, so it waits for a lookup in progress (at most the
 * resolver's own timeout, resolv.conf's timeout × attempts per server).
 */
#ifndef GW_RESOLVE_H
#define GW_RESOLVE_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "crypto/wg.h"

struct resolve_item {
	char *text;		/* "host:port", the caller's: lives until the job is back */
	size_t id;		/* the caller's */
	int err;		/* 0 and ep, or -ENOENT / -EINVAL */
	struct wg_endpoint ep;
};

struct resolve_job {
	struct resolve_item *items;
	size_t n;
};

struct resolver {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, stop;
	struct resolve_job *todo;	/* waiting for the thread (under lock) */
	struct resolve_job *done;	/* waiting for the loop (under lock) */
	bool busy;			/* the loop's: a job is out */
	ev_async async;
	struct ev_loop *loop;
	/* called on the loop with each finished job; the job is the caller's again */
	void (*done_cb)(struct resolver *r, struct resolve_job *job);
};

/* Starts the thread and the loop's watcher.  0 or -errno. */
int resolver_start(struct resolver *r, struct ev_loop *loop,
		   void (*done_cb)(struct resolver *r, struct resolve_job *job));
/* Hands job to the thread: 0, or -EBUSY while one is out. */
int resolver_submit(struct resolver *r, struct resolve_job *job);
/* Stops and joins the thread; returns a job still out (resolved or not: the
 * caller frees it), else NULL.  Safe when never started. */
struct resolve_job *resolver_stop(struct resolver *r);

#endif
