/* SPDX-License-Identifier: MIT */
/* crypto/timers: hours of injected time, driven by next_deadline like gw's
 * event loop would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/messages.h"
#include "crypto/timers.h"

#define S NSEC_PER_SEC
#define MS NSEC_PER_MSEC

struct sim {
	struct timers t;
	uint64_t now;
	unsigned initiations, keepalives, give_ups, zeros;
	uint64_t last_initiation, last_keepalive, give_up_at, zero_at;
	bool peer_answers; /* a response arrives 10 ms after each initiation */
};

static void sim_init(struct sim *s, uint64_t persistent)
{
	*s = (struct sim){ 0 };
	timers_init(&s->t, persistent);
	s->t.fixed_jitter = true;
	s->t.jitter = 100 * MS;
	s->now = 1000 * S;
}

static void send_initiation(struct sim *s, bool retry)
{
	if (!timers_initiation_begin(&s->t, s->now, retry))
		return;
	s->initiations++;
	s->last_initiation = s->now;
	timers_any_authenticated_packet_traversal(&s->t, s->now);
	timers_any_authenticated_packet_sent(&s->t, s->now);
}

/* Advances to `until`, firing deadlines in order. */
static void run(struct sim *s, uint64_t until)
{
	for (;;) {
		uint64_t d = timers_next_deadline(&s->t);

		if (!d || d > until)
			break;
		assert_true(d >= s->now);
		s->now = d;
		unsigned act = timers_tick(&s->t, s->now);

		assert_int_not_equal(act, 0);
		if (act & TIMER_SEND_INITIATION)
			send_initiation(s, true);
		if (act & TIMER_SEND_KEEPALIVE) {
			s->keepalives++;
			s->last_keepalive = s->now;
			timers_any_authenticated_packet_traversal(&s->t, s->now);
			timers_any_authenticated_packet_sent(&s->t, s->now);
		}
		if (act & TIMER_GIVE_UP) {
			s->give_ups++;
			s->give_up_at = s->now;
		}
		if (act & TIMER_ZERO_KEYS) {
			s->zeros++;
			s->zero_at = s->now;
			timers_stop(&s->t);
		}
	}
	s->now = until;
}

static void test_give_up(void **state)
{
	struct sim s;
	uint64_t start;

	(void)state;
	sim_init(&s, 0);
	start = s.now;
	send_initiation(&s, false);
	run(&s, start + 3600 * S);
	/* 1 + MAX_TIMER_HANDSHAKES + 1 tries, 5.1 s apart, then give up */
	assert_int_equal(s.initiations, MAX_TIMER_HANDSHAKES + 2);
	assert_int_equal(s.give_ups, 1);
	assert_int_equal(s.give_up_at, start + (MAX_TIMER_HANDSHAKES + 2) * (REKEY_TIMEOUT + 100 * MS));
	assert_int_equal(s.zeros, 1);
	assert_int_equal(s.zero_at, s.give_up_at + 3 * REJECT_AFTER_TIME);
	assert_int_equal(timers_next_deadline(&s.t), 0);
}

static void test_initiation_rate(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 0);
	assert_true(timers_initiation_begin(&s.t, s.now, false));
	assert_false(timers_initiation_begin(&s.t, s.now + REKEY_TIMEOUT - 1, false));
	assert_true(timers_initiation_begin(&s.t, s.now + REKEY_TIMEOUT, false));
}

static void test_handshake_complete_stops_retry(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 0);
	send_initiation(&s, false);
	run(&s, s.now + 12 * S); /* two retries */
	assert_int_equal(s.initiations, 3);
	timers_handshake_complete(&s.t, s.now);
	timers_session_derived(&s.t, s.now);
	uint64_t derived = s.now;
	run(&s, s.now + 3600 * S);
	assert_int_equal(s.initiations, 3);
	assert_int_equal(s.zeros, 1);
	assert_int_equal(s.zero_at, derived + 3 * REJECT_AFTER_TIME);
}

static void test_passive_keepalive(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 0);
	/* data received, nothing sent back: one keepalive 10 s later */
	timers_data_received(&s.t, s.now);
	uint64_t t0 = s.now;
	run(&s, s.now + 60 * S);
	assert_int_equal(s.keepalives, 1);
	assert_int_equal(s.last_keepalive, t0 + KEEPALIVE_TIMEOUT);
	/* data received, then we send data: no keepalive */
	timers_data_received(&s.t, s.now);
	timers_any_authenticated_packet_sent(&s.t, s.now + S);
	run(&s, s.now + 60 * S);
	assert_int_equal(s.keepalives, 1);
	/* more data while armed: the timer is re-armed when it fires ... */
	timers_data_received(&s.t, s.now);
	timers_data_received(&s.t, s.now + S);
	uint64_t t1 = s.now;
	assert_int_equal(timers_tick(&s.t, t1 + KEEPALIVE_TIMEOUT), TIMER_SEND_KEEPALIVE);
	assert_int_equal(timers_next_deadline(&s.t), t1 + 2 * KEEPALIVE_TIMEOUT);
	/* ... and the keepalive, an authenticated packet sent, cancels that (as
	 * in the kernel and wireguard-go, where the send follows the re-arm) */
	timers_any_authenticated_packet_sent(&s.t, t1 + KEEPALIVE_TIMEOUT);
	assert_int_equal(timers_next_deadline(&s.t), 0);
}

static void test_new_handshake_on_silence(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 0);
	/* we send data and hear nothing back: initiation after 15 s + jitter */
	uint64_t t0 = s.now;
	timers_data_sent(&s.t, s.now);
	timers_data_sent(&s.t, s.now + 3 * S); /* does not re-arm */
	run(&s, s.now + 16 * S);
	assert_int_equal(s.initiations, 1);
	assert_int_equal(s.last_initiation, t0 + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + 100 * MS);
	/* a reply in time cancels it */
	sim_init(&s, 0);
	timers_data_sent(&s.t, s.now);
	timers_any_authenticated_packet_received(&s.t, s.now + 14 * S);
	run(&s, s.now + 60 * S);
	assert_int_equal(s.initiations, 0);
}

static void test_persistent_hours(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 25 * S);
	timers_any_authenticated_packet_traversal(&s.t, s.now);
	run(&s, s.now + 3 * 3600 * S);
	assert_int_equal(s.keepalives, 3 * 3600 / 25);
	/* off: nothing */
	sim_init(&s, 0);
	timers_any_authenticated_packet_traversal(&s.t, s.now);
	run(&s, s.now + 3 * 3600 * S);
	assert_int_equal(s.keepalives, 0);
}

static void test_last_minute_once(void **state)
{
	struct timers t;

	(void)state;
	timers_init(&t, 0);
	assert_true(timers_want_last_minute_handshake(&t));
	assert_false(timers_want_last_minute_handshake(&t));
	timers_handshake_complete(&t, 5);
	assert_true(timers_want_last_minute_handshake(&t));
}

static void test_random_jitter(void **state)
{
	struct timers t;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		timers_init(&t, 0);
		assert_true(timers_initiation_begin(&t, 0, false));
		assert_in_range(t.retransmit, REKEY_TIMEOUT, REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
	}
}

/* The jitter without fixed_jitter: whole milliseconds below
 * REKEY_TIMEOUT_JITTER_MAX, not all the same. */
static void test_random_jitter_spread(void **state)
{
	uint64_t first = UINT64_MAX;
	bool differ = false;

	(void)state;
	for (int i = 0; i < 64; i++) {
		struct timers t;
		uint64_t j;

		timers_init(&t, 0);
		timers_data_sent(&t, 1000);
		j = t.new_handshake - 1000 - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
		assert_true(j < REKEY_TIMEOUT_JITTER_MAX);
		assert_int_equal(j % NSEC_PER_MSEC, 0);
		if (first == UINT64_MAX)
			first = j;
		differ |= j != first;
	}
	assert_true(differ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_give_up),
		cmocka_unit_test(test_random_jitter_spread),
		cmocka_unit_test(test_initiation_rate),
		cmocka_unit_test(test_handshake_complete_stops_retry),
		cmocka_unit_test(test_passive_keepalive),
		cmocka_unit_test(test_new_handshake_on_silence),
		cmocka_unit_test(test_persistent_hours),
		cmocka_unit_test(test_last_minute_once),
		cmocka_unit_test(test_random_jitter),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
