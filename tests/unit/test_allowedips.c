/* SPDX-License-Identifier: MIT */
/* crypto/allowedips: fixed cases (the kernel selftest's spirit), then a
 * seeded property loop against a naive list (as selftest/allowedips.c's
 * randomized test), with removal by peer and the walk. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "crypto/allowedips.h"
#include "tests/unit/util_rng.h"

static int peers[16]; /* their addresses are the opaque peers */
#define P(i) ((void *)&peers[i])

static void ins(struct allowedips *t, int i, const char *text, uint8_t cidr)
{
	uint8_t a[16];
	int fam = strchr(text, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(fam, text, a), 1);
	assert_int_equal(allowedips_insert(t, fam, a, cidr, P(i)), 0);
}

static void *look(const struct allowedips *t, const char *text)
{
	uint8_t a[16];
	int fam = strchr(text, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(fam, text, a), 1);
	return allowedips_lookup(t, fam, a);
}

static void test_fixed(void **state)
{
	struct allowedips t;

	(void)state;
	allowedips_init(&t);
	/* from linux selftest/allowedips.c */
	ins(&t, 1, "192.168.4.0", 24);
	ins(&t, 2, "192.168.4.4", 32);
	ins(&t, 3, "192.168.0.0", 16);
	ins(&t, 4, "192.95.5.64", 27);
	ins(&t, 3, "192.95.5.65", 27); /* replaces 4's, same prefix */
	ins(&t, 4, "2607:5300:60:6b00::", 64);
	ins(&t, 5, "2607:5300:60:6b00::c05f:543", 128);
	ins(&t, 6, "2001:db8::", 32);
	ins(&t, 7, "0.0.0.0", 0);
	ins(&t, 8, "10.0.0.0", 8);
	ins(&t, 9, "10.1.0.0", 16);
	ins(&t, 10, "10.1.2.3", 32);

	assert_ptr_equal(look(&t, "192.168.4.20"), P(1));
	assert_ptr_equal(look(&t, "192.168.4.0"), P(1));
	assert_ptr_equal(look(&t, "192.168.4.4"), P(2));
	assert_ptr_equal(look(&t, "192.168.200.182"), P(3));
	assert_ptr_equal(look(&t, "192.95.5.68"), P(3));
	assert_ptr_equal(look(&t, "192.95.5.96"), P(7));
	assert_ptr_equal(look(&t, "2607:5300:60:6b00::c05f:543"), P(5));
	assert_ptr_equal(look(&t, "2607:5300:60:6b00::c02e:1ee"), P(4));
	assert_ptr_equal(look(&t, "2607:5300:60:6b01::1"), NULL);
	assert_ptr_equal(look(&t, "2001:db8:ffff::1"), P(6));
	assert_ptr_equal(look(&t, "::1"), NULL);
	assert_ptr_equal(look(&t, "1.2.3.4"), P(7));
	assert_ptr_equal(look(&t, "10.2.0.1"), P(8));
	assert_ptr_equal(look(&t, "10.1.9.9"), P(9));
	assert_ptr_equal(look(&t, "10.1.2.3"), P(10));
	assert_ptr_equal(look(&t, "10.1.2.4"), P(9));
	assert_int_equal(t.count, 11);

	allowedips_remove_peer(&t, P(9));
	assert_ptr_equal(look(&t, "10.1.9.9"), P(8));
	assert_ptr_equal(look(&t, "10.1.2.3"), P(10));
	allowedips_remove_peer(&t, P(3));
	assert_ptr_equal(look(&t, "192.168.200.182"), P(7));
	assert_ptr_equal(look(&t, "192.168.4.4"), P(2));
	allowedips_remove_peer(&t, P(7));
	assert_ptr_equal(look(&t, "1.2.3.4"), NULL);
	assert_int_equal(t.count, 7);

	/* bits past the prefix are ignored */
	ins(&t, 11, "172.16.255.255", 12);
	assert_ptr_equal(look(&t, "172.31.0.1"), P(11));
	assert_ptr_equal(look(&t, "172.32.0.1"), NULL);
	/* one prefix: a covering prefix and a longer one stay */
	uint8_t a[16] = { 0 };

	ins(&t, 12, "172.16.1.0", 24);
	ins(&t, 13, "172.16.1.128", 25);
	assert_int_equal(inet_pton(AF_INET, "172.16.1.77", a), 1);
	assert_int_equal(allowedips_remove(&t, AF_INET, a, 24, P(13)), -ENOENT);
	assert_int_equal(allowedips_remove(&t, AF_INET, a, 23, P(12)), -ENOENT);
	assert_int_equal(allowedips_remove(&t, AF_INET, a, 24, P(12)), 0);
	assert_ptr_equal(look(&t, "172.16.1.1"), P(11));
	assert_ptr_equal(look(&t, "172.16.1.200"), P(13));
	assert_int_equal(allowedips_remove(&t, AF_INET, a, 24, P(12)), -ENOENT);
	assert_int_equal(t.count, 9);
	memset(a, 0, sizeof(a));
	/* bad arguments */

	assert_int_equal(allowedips_insert(&t, AF_INET, a, 33, P(1)), -EINVAL);
	assert_int_equal(allowedips_insert(&t, AF_INET6, a, 129, P(1)), -EINVAL);
	assert_int_equal(allowedips_insert(&t, 99, a, 1, P(1)), -EINVAL);
	assert_int_equal(allowedips_insert(&t, AF_INET, a, 1, NULL), -EINVAL);
	assert_int_equal(allowedips_remove(&t, AF_INET, a, 33, P(1)), -EINVAL);
	assert_int_equal(allowedips_remove(&t, 99, a, 1, P(1)), -EINVAL);
	allowedips_destroy(&t);
}

/* the naive reference: a list, newest insert of a prefix wins */
struct ref {
	int fam;
	uint8_t addr[16];
	uint8_t cidr;
	void *peer;
};

static bool in_prefix(const uint8_t *addr, const uint8_t *pfx, unsigned cidr)
{
	for (unsigned i = 0; i < cidr; i++) {
		unsigned m = 0x80u >> (i % 8);

		if ((addr[i / 8] & m) != (pfx[i / 8] & m))
			return false;
	}
	return true;
}

static void *ref_lookup(const struct ref *r, size_t n, int fam, const uint8_t *addr)
{
	int best = -1;
	void *peer = NULL;

	for (size_t i = 0; i < n; i++)
		if (r[i].peer && r[i].fam == fam && r[i].cidr > best &&
		    in_prefix(addr, r[i].addr, r[i].cidr)) {
			best = r[i].cidr;
			peer = r[i].peer;
		}
	return peer;
}

static void ref_insert(struct ref *r, size_t *n, int fam, const uint8_t *addr, uint8_t cidr,
		       void *peer)
{
	for (size_t i = 0; i < *n; i++)
		if (r[i].peer && r[i].fam == fam && r[i].cidr == cidr &&
		    in_prefix(addr, r[i].addr, cidr)) {
			r[i].peer = peer;
			return;
		}
	r[*n] = (struct ref){ .fam = fam, .cidr = cidr, .peer = peer };
	memcpy(r[*n].addr, addr, 16);
	(*n)++;
}

struct walk_ctx {
	size_t n;
	void *only;
	bool bad;
};

static void count_cb(void *ctx, int fam, const uint8_t *addr, uint8_t cidr, void *peer)
{
	struct walk_ctx *w = ctx;

	(void)fam, (void)addr, (void)cidr;
	if (w->only && peer != w->only)
		w->bad = true;
	w->n++;
}

enum { NPREFIX = 2000, NLOOKUP = 20000 };

/* an address near the ones already used, so prefixes nest and collide */
static void rnd_addr(struct rng *r, const struct ref *refs, size_t n, int fam, uint8_t *a)
{
	unsigned bytes = fam == AF_INET ? 4 : 16;

	memset(a, 0, 16);
	if (n && rnd(r, 4)) {
		const struct ref *base = &refs[rnd(r, (uint32_t)n)];

		if (base->fam == fam) {
			memcpy(a, base->addr, 16);
			unsigned from = rnd(r, bytes * 8);

			for (unsigned i = from; i < bytes * 8; i++)
				if (rnd(r, 2))
					a[i / 8] ^= (uint8_t)(0x80u >> (i % 8));
			return;
		}
	}
	for (unsigned i = 0; i < bytes; i++)
		a[i] = (uint8_t)rnd(r, 256);
}

static void test_random(void **state)
{
	struct rng r = { test_seed() };
	struct allowedips t;
	struct ref *refs = calloc(NPREFIX, sizeof(*refs));
	size_t n = 0;
	uint8_t a[16];

	(void)state;
	assert_non_null(refs);
	allowedips_init(&t);
	for (int round = 0; round < 3; round++) {
		while (n < NPREFIX * (size_t)(round + 1) / 3) {
			int fam = rnd(&r, 2) ? AF_INET : AF_INET6;
			uint8_t cidr = (uint8_t)rnd(&r, (fam == AF_INET ? 32 : 128) + 1);
			void *peer = P(rnd(&r, 16));

			rnd_addr(&r, refs, n, fam, a);
			assert_int_equal(allowedips_insert(&t, fam, a, cidr, peer), 0);
			ref_insert(refs, &n, fam, a, cidr, peer);
		}
		/* some peers leave */
		void *gone = P(rnd(&r, 16));

		allowedips_remove_peer(&t, gone);
		for (size_t i = 0; i < n; i++)
			if (refs[i].peer == gone)
				refs[i].peer = NULL;

		/* and single prefixes: a quarter of what is left, each first
		 * asked of a peer that does not hold it */
		for (size_t i = 0; i < n; i++) {
			void *other;

			if (!refs[i].peer || rnd(&r, 4))
				continue;
			other = refs[i].peer == P(0) ? P(1) : P(0);
			assert_int_equal(allowedips_remove(&t, refs[i].fam, refs[i].addr,
							   refs[i].cidr, other), -ENOENT);
			assert_int_equal(allowedips_remove(&t, refs[i].fam, refs[i].addr,
							   refs[i].cidr, refs[i].peer), 0);
			assert_int_equal(allowedips_remove(&t, refs[i].fam, refs[i].addr,
							   refs[i].cidr, refs[i].peer), -ENOENT);
			refs[i].peer = NULL;
		}

		size_t live = 0;

		for (size_t i = 0; i < n; i++)
			live += refs[i].peer != NULL;
		assert_int_equal(t.count, live);
		struct walk_ctx w = { 0 };

		allowedips_walk(&t, NULL, count_cb, &w);
		assert_int_equal(w.n, live);
		w = (struct walk_ctx){ .only = P(3) };
		allowedips_walk(&t, P(3), count_cb, &w);
		assert_false(w.bad);

		for (int i = 0; i < NLOOKUP; i++) {
			int fam = rnd(&r, 2) ? AF_INET : AF_INET6;

			rnd_addr(&r, refs, n, fam, a);
			void *want = ref_lookup(refs, n, fam, a);
			void *got = allowedips_lookup(&t, fam, a);

			if (want != got)
				fail_msg("round %d lookup %d: got peer %td want %td", round, i,
					 got ? (int *)got - peers : -1,
					 want ? (int *)want - peers : -1);
		}
	}
	allowedips_destroy(&t);
	free(refs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
