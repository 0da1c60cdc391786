/* SPDX-License-Identifier: MIT */
/* Endpoint names off the loop: see resolve.h. */
#include "gw/resolve.h"

#include <errno.h>
#include <string.h>

#include "gw/udp.h"

static void *worker(void *arg)
{
	struct resolver *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct resolve_job *job;

		while (!r->stop && !r->todo)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop)
			break;
		job = r->todo;
		r->todo = NULL;
		pthread_mutex_unlock(&r->lock);
		for (size_t i = 0; i < job->n; i++) {
			struct resolve_item *it = &job->items[i];

			memset(&it->ep, 0, sizeof(it->ep));
			it->err = udp_endpoint_resolve(&it->ep, it->text);
		}
		pthread_mutex_lock(&r->lock);
		r->done = job;
		ev_async_send(r->loop, &r->async);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct resolver *r = w->data;
	struct resolve_job *job;

	(void)loop, (void)revents;
	pthread_mutex_lock(&r->lock);
	job = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->lock);
	if (!job)
		return;
	r->busy = false;
	r->done_cb(r, job);
}

int resolver_start(struct resolver *r, struct ev_loop *loop,
		   void (*done_cb)(struct resolver *r, struct resolve_job *job))
{
	int err;

	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->done_cb = done_cb;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	ev_async_init(&r->async, async_cb);
	r->async.data = r;
	ev_async_start(loop, &r->async);
	err = pthread_create(&r->thread, NULL, worker, r);
	if (err) {
		ev_async_stop(loop, &r->async);
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		return -err;
	}
	r->started = true;
	return 0;
}

int resolver_submit(struct resolver *r, struct resolve_job *job)
{
	if (r->busy)
		return -EBUSY;
	r->busy = true;
	pthread_mutex_lock(&r->lock);
	r->todo = job;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

struct resolve_job *resolver_stop(struct resolver *r)
{
	struct resolve_job *job;

	if (!r->started)
		return NULL;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	ev_async_stop(r->loop, &r->async);
	/* the thread is gone: what it held is the loop's */
	job = r->done ? r->done : r->todo;
	r->done = r->todo = NULL;
	r->started = false;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	r->busy = false;
	return job;
}
