/* SPDX-License-Identifier: MIT */
/* gw/resolve: Endpoint names resolved on the worker thread, answered on the
 * loop; no DNS (addresses, /etc/hosts' localhost, malformed texts). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "gw/resolve.h"
#include "gw/udp.h"

static struct resolve_job *got;
static unsigned calls;

static void done(struct resolver *r, struct resolve_job *job)
{
	got = job;
	calls++;
	ev_break(r->loop, EVBREAK_ALL);
}

static void test_resolve(void **state)
{
	struct resolve_item items[] = {
		{ .text = "192.0.2.7:51820", .id = 10 },
		{ .text = "[2001:db8::1]:4500", .id = 11 },
		{ .text = "localhost:7", .id = 12 },
		{ .text = "[2001:db8::1:4500", .id = 13 },
		{ .text = "nocolon", .id = 14 },
	};
	struct resolve_job job = { items, 5 }, other = { items, 1 };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct resolver r;
	char text[64];

	(void)state;
	for (size_t i = 0; i < 5; i++)
		items[i].err = 1; /* overwritten by the thread */
	assert_int_equal(resolver_start(&r, loop, done), 0);
	assert_int_equal(resolver_submit(&r, &job), 0);
	assert_int_equal(resolver_submit(&r, &other), -EBUSY);
	ev_run(loop, 0);
	assert_int_equal(calls, 1);
	assert_ptr_equal(got, &job);
	assert_false(r.busy);
	assert_int_equal(items[0].err, 0);
	udp_endpoint_format(&items[0].ep, text, sizeof(text));
	assert_string_equal(text, "192.0.2.7:51820");
	assert_int_equal(items[1].err, 0);
	udp_endpoint_format(&items[1].ep, text, sizeof(text));
	assert_string_equal(text, "[2001:db8::1]:4500");
	assert_int_equal(items[2].err, 0);
	assert_int_not_equal(udp_endpoint_family(&items[2].ep), 0);
	assert_int_equal(items[3].err, -EINVAL);
	assert_int_equal(items[4].err, -EINVAL);
	assert_int_equal(items[4].id, 14);

	/* again on the same thread; then stop while one is out: it comes back */
	assert_int_equal(resolver_submit(&r, &other), 0);
	ev_run(loop, 0);
	assert_int_equal(calls, 2);
	assert_ptr_equal(got, &other);
	assert_int_equal(resolver_submit(&r, &job), 0);
	assert_ptr_equal(resolver_stop(&r), &job);
	assert_int_equal(calls, 2);
	assert_null(resolver_stop(&r));
	ev_loop_destroy(loop);
}

/* udp_endpoint_numeric looks nothing up: a name is -ENOENT. */
static void test_numeric(void **state)
{
	struct wg_endpoint ep;

	(void)state;
	assert_int_equal(udp_endpoint_numeric(&ep, "192.0.2.1:1"), 0);
	assert_int_equal(udp_endpoint_numeric(&ep, "[fd00::1]:1"), 0);
	assert_int_equal(udp_endpoint_numeric(&ep, "localhost:1"), -ENOENT);
	assert_int_equal(udp_endpoint_numeric(&ep, "vpn.example.com:51820"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_numeric),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
