/* SPDX-License-Identifier: MIT */
/*
 * gw/sysctl and uplink_reserve_map: which ports gw keeps in
 * net.ipv4.ip_local_reserved_ports — the text of the sysctl, gw's share of
 * it moved from one wish to the next without touching anyone else's ports,
 * and the wish itself: NatPorts plus the DNAT-ed ports inside the ephemeral
 * range, unless they would take more than half of it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gw/bpf.h"
#include "gw/sysctl.h"
#include "gw/uplink.h"

static uint8_t A[SYSCTL_PORTMAP_BYTES], B[SYSCTL_PORTMAP_BYTES], C[SYSCTL_PORTMAP_BYTES];

static void map_of(uint8_t *m, const char *text)
{
	if (sysctl_ports_parse(text, m))
		fail_msg("bad map text '%s'", text);
}

static const char *text_of(const uint8_t *m)
{
	static char buf[4096];

	assert_int_equal(sysctl_ports_format(m, buf, sizeof(buf)), 0);
	return buf;
}

static void test_text(void **state)
{
	(void)state;
	map_of(A, "1, 5-9,65535\n");
	assert_string_equal(text_of(A), "1,5-9,65535");
	map_of(A, "");
	assert_string_equal(text_of(A), "");
	assert_int_equal(sysctl_ports_parse("9-5", A), -EINVAL);
	assert_int_equal(sysctl_ports_parse("65536", A), -EINVAL);
	assert_int_equal(sysctl_ports_parse("1;2", A), -EINVAL);
}

/* sysctl before, gw's share before, gw's wish -> sysctl after, share after */
static const struct {
	const char *map, *ours, *want, *map2, *ours2;
	bool changed;
} merges[] = {
	/* 1: first reservation, merged with someone else's 7 */
	{ "7", "", "61000-61999", "7,61000-61999", "61000-61999", true },
	/* 2: a port someone else reserved is not gw's, and stays at exit */
	{ "7,61000-61999", "61000-61999", "7,61000-61999", "7,61000-61999", "61000-61999", false },
	{ "7,61000-61999", "61000-61999", "", "7", "", true },
	/* 3: DNAT-ed ports come and go, NatPorts stay */
	{ "61000-61999", "61000-61999", "50000-50100,61000-61999", "50000-50100,61000-61999",
	  "50000-50100,61000-61999", true },
	{ "50000-50100,61000-61999", "50000-50100,61000-61999", "50050,61000-61999",
	  "50050,61000-61999", "50050,61000-61999", true },
	/* 4: 50050 was someone else's before gw wanted it: it stays theirs */
	{ "50050", "", "50000-50100", "50000-50100", "50000-50049,50051-50100", true },
	{ "50000-50100", "50000-50049,50051-50100", "", "50050", "", true },
	/* 5: someone took out a port of gw's that gw still wants: back in */
	{ "61000-61998", "61000-61999", "61000-61999", "61000-61999", "61000-61999", true },
	/* 6: ... and one gw no longer wants: nothing to write */
	{ "61000-61998", "61000-61999", "61000-61998", "61000-61998", "61000-61998", false },
};

static void test_merge(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(merges) / sizeof(merges[0]); i++) {
		bool changed;

		map_of(A, merges[i].map);
		map_of(B, merges[i].ours);
		map_of(C, merges[i].want);
		changed = sysctl_ports_merge(A, B, C);
		if (strcmp(text_of(A), merges[i].map2))
			fail_msg("case %zu: sysctl '%s', not '%s'", i + 1, text_of(A), merges[i].map2);
		if (strcmp(text_of(B), merges[i].ours2))
			fail_msg("case %zu: gw's '%s', not '%s'", i + 1, text_of(B), merges[i].ours2);
		if (changed != merges[i].changed)
			fail_msg("case %zu: changed %d", i + 1, changed);
	}
}

static struct bpf_nat_spec nat(void)
{
	struct bpf_nat_spec s = {
		.addr = { 0xc6336401u }, .naddr = 1, .lo = 61000, .hi = 61999,
		.tcp = { { 8080, 8080 }, { 60990, 61010 } }, .ntcp = 2,
		.udp = { { 5353, 5353 }, { 50000, 50100 } }, .nudp = 2,
	};
	return s;
}

static void test_reserve_map(void **state)
{
	struct bpf_nat_spec s = nat();

	(void)state;
	/* the DNAT-ed ports inside the ephemeral range, and NatPorts */
	assert_true(uplink_reserve_map(&s, 50000, 60995, A));
	assert_string_equal(text_of(A), "50000-50100,60990-60995,61000-61999");
	/* the kernel's default range: 5353 and 8080 are never ephemeral */
	assert_true(uplink_reserve_map(&s, 32768, 60999, A));
	assert_string_equal(text_of(A), "50000-50100,60990-61999");
	/* the range unknown: NatPorts only */
	assert_true(uplink_reserve_map(&s, 1, 0, A));
	assert_string_equal(text_of(A), "61000-61999");
	/* half the range is taken, not more */
	s.ntcp = 0;
	assert_true(uplink_reserve_map(&s, 50000, 50201, A));	/* 101 of 202 */
	assert_string_equal(text_of(A), "50000-50100,61000-61999");
	assert_false(uplink_reserve_map(&s, 50000, 50200, A));	/* 101 of 201 */
	assert_string_equal(text_of(A), "61000-61999");
	/* a DNAT of every UDP port: the host keeps its ephemeral ports */
	s.udp[0] = (struct bpf_port_range){ 1, 65535 };
	s.nudp = 1;
	assert_false(uplink_reserve_map(&s, 32768, 60999, A));
	assert_string_equal(text_of(A), "61000-61999");
	/* no NatPorts */
	s.lo = 1;
	s.hi = 0;
	s.nudp = 0;
	assert_true(uplink_reserve_map(&s, 32768, 60999, A));
	assert_string_equal(text_of(A), "");
	/* the top of the port space */
	s.udp[0] = (struct bpf_port_range){ 65530, 65535 };
	s.nudp = 1;
	assert_true(uplink_reserve_map(&s, 32768, 65535, A));
	assert_string_equal(text_of(A), "65530-65535");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_reserve_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
