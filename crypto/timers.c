/* SPDX-License-Identifier: MIT */
#include "crypto/timers.h"

#include <sodium.h>
#include <string.h>

#include "crypto/messages.h"

void timers_init(struct timers *t, uint64_t persistent_interval)
{
	memset(t, 0, sizeof(*t));
	t->persistent_interval = persistent_interval;
	randombytes_buf(&t->rng, sizeof(t->rng));
}

static uint64_t jitter(struct timers *t)
{
	uint64_t z;

	if (t->fixed_jitter)
		return t->jitter;
	/* splitmix64 */
	z = (t->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z % (REKEY_TIMEOUT_JITTER_MAX / NSEC_PER_MSEC) * NSEC_PER_MSEC;
}

bool timers_initiation_begin(struct timers *t, uint64_t now, bool retry)
{
	if (!retry)
		t->handshake_attempts = 0;
	if (t->initiation_sent && now - t->last_initiation_sent < REKEY_TIMEOUT)
		return false;
	t->initiation_sent = true;
	t->last_initiation_sent = now;
	t->retransmit = now + REKEY_TIMEOUT + jitter(t);
	return true;
}

void timers_data_sent(struct timers *t, uint64_t now)
{
	if (!t->new_handshake)
		t->new_handshake = now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter(t);
}

void timers_data_received(struct timers *t, uint64_t now)
{
	if (!t->keepalive)
		t->keepalive = now + KEEPALIVE_TIMEOUT;
	else
		t->need_another_keepalive = true;
}

void timers_any_authenticated_packet_sent(struct timers *t, uint64_t now)
{
	(void)now;
	t->keepalive = 0;
}

void timers_any_authenticated_packet_received(struct timers *t, uint64_t now)
{
	(void)now;
	t->new_handshake = 0;
}

void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now)
{
	if (t->persistent_interval)
		t->persistent = now + t->persistent_interval;
}

void timers_handshake_complete(struct timers *t, uint64_t now)
{
	t->retransmit = 0;
	t->handshake_attempts = 0;
	t->sent_last_minute_handshake = false;
	t->last_handshake = now;
}

void timers_session_derived(struct timers *t, uint64_t now)
{
	t->zero_keys = now + 3 * REJECT_AFTER_TIME;
}

bool timers_want_last_minute_handshake(struct timers *t)
{
	if (t->sent_last_minute_handshake)
		return false;
	t->sent_last_minute_handshake = true;
	return true;
}

void timers_stop(struct timers *t)
{
	t->retransmit = t->keepalive = t->new_handshake = t->zero_keys = 0;
	t->need_another_keepalive = false;
}

static bool due(uint64_t *deadline, uint64_t now)
{
	if (!*deadline || *deadline > now)
		return false;
	*deadline = 0;
	return true;
}

unsigned timers_tick(struct timers *t, uint64_t now)
{
	unsigned act = 0;

	if (due(&t->retransmit, now)) {
		if (t->handshake_attempts > MAX_TIMER_HANDSHAKES) {
			act |= TIMER_GIVE_UP;
			t->keepalive = 0;
			if (!t->zero_keys)
				t->zero_keys = now + 3 * REJECT_AFTER_TIME;
		} else {
			t->handshake_attempts++;
			act |= TIMER_SEND_INITIATION;
		}
	}
	if (due(&t->keepalive, now)) {
		act |= TIMER_SEND_KEEPALIVE;
		if (t->need_another_keepalive) {
			t->need_another_keepalive = false;
			t->keepalive = now + KEEPALIVE_TIMEOUT;
		}
	}
	if (due(&t->new_handshake, now))
		act |= TIMER_SEND_INITIATION;
	if (due(&t->zero_keys, now))
		act |= TIMER_ZERO_KEYS;
	if (due(&t->persistent, now) && t->persistent_interval)
		act |= TIMER_SEND_KEEPALIVE;
	return act;
}

uint64_t timers_next_deadline(const struct timers *t)
{
	const uint64_t d[] = { t->retransmit, t->keepalive, t->new_handshake, t->zero_keys,
			       t->persistent };
	uint64_t min = 0;

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i] && (!min || d[i] < min))
			min = d[i];
	return min;
}
