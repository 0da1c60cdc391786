/* SPDX-License-Identifier: MIT */
/*
 * gw/uplink_nat: the uplink's filter spec from the rules and a snapshot of
 * the host's addresses — the uplink's own addresses (MASQUERADE's first, its
 * secondaries narrowing -d), none yet, the foreign SNAT ranges minus every
 * address of the host however many it has, forwarding, the base spec.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw/bpf.h"
#include "gw/route.h"
#include "gw/uplink_nat.h"
#include "nat/nat.h"
#include "nat/rules.h"
#include "nat/sbuf.h"
#include "tests/unit/util_ctpkt.h"

static struct rules *load(const char *text)
{
	struct rules *r = NULL;
	struct rules_error err;

	if (rules_parse(&r, text, strlen(text), NULL, &err) != 0)
		fail_msg("line %u: %s (%s)\n%s", err.line, err.message, err.token, text);
	return r;
}

#define NAT_HEAD "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n" \
		 ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"

static const uint32_t UPL = IP4(198, 51, 100, 1), UPL2 = IP4(198, 51, 100, 7);

static struct route_addr ra(uint32_t a, const char *dev)
{
	struct route_addr r = { .addr = a };

	strncpy(r.dev, dev, sizeof(r.dev) - 1);
	return r;
}

static char *describe(const struct bpf_nat_spec *s)
{
	static char buf[512];
	struct sbuf d;

	sbuf_init(&d);
	uplink_nat_describe(s, &d);
	snprintf(buf, sizeof(buf), "%s", d.buf ? d.buf : "");
	sbuf_free(&d);
	return buf;
}

/* The uplink's secondary address is one of its NAT addresses and narrows
 * -d; MASQUERADE's comes first whatever the kernel's order. */
static void test_own(void **state)
{
	struct rules *r = load(NAT_HEAD
		"-A PREROUTING -i eth0 -d 198.51.100.7 -p tcp --dport 80 -j DNAT --to-destination 10.8.0.2\n"
		"-A PREROUTING -i eth0 -d 198.51.100.9 -p tcp --dport 81 -j DNAT --to-destination 10.8.0.2\n"
		"COMMIT\n");
	struct route_addr a[] = { ra(IP4(127, 0, 0, 1), "lo"), ra(UPL2, "eth0"),
				  ra(UPL, "eth0"), ra(IP4(192, 0, 2, 1), "lan0") };
	struct uplink_host h = { .addr = a, .naddr = 4, .live = NULL };
	struct bpf_nat_spec s;
	char err[256];

	(void)state;
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, NULL, &h, &s, NULL, NULL, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1,198.51.100.7; DNAT-ed tcp 80 "
					  "udp none");
	assert_int_equal(s.lo, 61000);
	assert_int_equal(s.hi, 61999);
	/* without the secondary, -d 198.51.100.7 catches nothing */
	h.naddr = 1;
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, NULL, &h, &s, NULL, NULL, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; DNAT-ed tcp none udp none");
	rules_free(r);
}

/* No address on the uplink yet: no host-owned NAT address at all (not a
 * placeholder 0.0.0.0), while the rules are still checked. */
static void test_no_address(void **state)
{
	struct rules *r = load(NAT_HEAD
		"-A POSTROUTING -o eth0 -j SNAT --to-source 198.51.100.50\n"
		"COMMIT\n");
	struct route_addr a[] = { ra(IP4(192, 0, 2, 1), "lan0") };
	struct uplink_host h = { .addr = a, .naddr = 1, .live = NULL };
	struct bpf_nat_spec s;
	char err[256];

	(void)state;
	assert_int_equal(uplink_nat_spec("eth0", 0, 61000, 61999, r, NULL, &h, &s, NULL, NULL, err,
					 sizeof(err)), 0);
	assert_int_equal(s.naddr, 0);
	assert_string_equal(describe(&s), "addresses ; DNAT-ed tcp none udp none; not the host's "
					  "(gw answers ARP) 198.51.100.50");
	h.forwarding = 1;
	assert_int_equal(uplink_nat_spec("eth0", 0, 61000, 61999, r, NULL, &h, &s, NULL, NULL, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "net.ipv4.conf.eth0.forwarding=0"));
	rules_free(r);
}

/* A host with far more addresses than any fixed table: the last of them,
 * inside an SNAT range, is still the host's, not foreign. */
static void test_many_host_addrs(void **state)
{
	enum { N = 1000 };
	struct rules *r = load(NAT_HEAD
		"-A POSTROUTING -o eth0 -j SNAT --to-source 10.77.3.200-10.77.4.10\n"
		"COMMIT\n");
	struct route_addr *a = calloc(N + 1, sizeof(*a));
	struct uplink_host h = { .addr = a, .naddr = N + 1, .live = NULL };
	struct bpf_nat_spec s;
	struct sbuf note;
	char err[256];

	(void)state;
	assert_non_null(a);
	a[0] = ra(UPL, "eth0");
	/* 10.77.0.1 .. 10.77.3.232 on lan0, in descending order */
	for (unsigned i = 0; i < N; i++)
		a[1 + i] = ra(IP4(10, 77, 0, 0) + N - i, "lan0");
	sbuf_init(&note);
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, NULL, &h, &s, NULL, &note, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; DNAT-ed tcp none udp none; "
					  "not the host's (gw answers ARP) 10.77.3.233-10.77.4.10");
	/* each of the host's own addresses in the range is remarked on */
	assert_non_null(strstr(note.buf, "SNAT to 10.77.3.232, an address of this host"));
	sbuf_free(&note);
	free(a);
	rules_free(r);
}

static void test_base(void **state)
{
	struct bpf_nat_spec s;

	(void)state;
	uplink_nat_base(UPL, 61000, 61999, &s);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; DNAT-ed tcp none udp none");
	assert_int_equal(s.lo, 61000);
	assert_int_equal(s.hi, 61999);
	uplink_nat_base(0, 61000, 61999, &s);
	assert_int_equal(s.naddr, 0);
}

/* A restore left connections of rules it removed: their DNAT-ed ports and
 * foreign SNAT addresses stay, counted as kept for them only; what the
 * rules hold already is not counted; a foreign address is not kept with
 * forwarding on (the restore is not refused for it). */
static void test_live(void **state)
{
	struct rules *r = load(NAT_HEAD
		"-A PREROUTING -i eth0 -p tcp --dport 80 -j DNAT --to-destination 10.8.0.2\n"
		"COMMIT\n");
	struct route_addr a[] = { ra(UPL, "eth0"), ra(IP4(192, 0, 2, 1), "lan0") };
	struct nat_live live = { 0 };
	struct uplink_host h = { .addr = a, .naddr = 2, .live = &live };
	struct uplink_linger lg;
	struct bpf_nat_spec s;
	struct sbuf note;
	char err[256];

	(void)state;
	live.tcp = (struct rules_portset){ 2, { 80, 8080 }, { 80, 8081 } };
	live.udp = (struct rules_portset){ 1, { 5353 }, { 5353 } };
	live.nsnat = 3;
	live.snat[0] = IP4(192, 0, 2, 1);	/* the host's (lan0) */
	live.snat[1] = UPL;			/* MASQUERADE's */
	live.snat[2] = IP4(203, 0, 113, 7);	/* foreign: an SNAT rule gone */
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, NULL, &h, &s, &lg, NULL, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; DNAT-ed tcp 80,8080-8081 udp "
					  "5353; not the host's (gw answers ARP) 203.0.113.7");
	assert_int_equal(lg.ports, 3);
	assert_int_equal(lg.addrs, 1);

	/* forwarding on: the foreign address is left out, and said so */
	h.forwarding = 1;
	sbuf_init(&note);
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, NULL, &h, &s, &lg, &note, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; DNAT-ed tcp 80,8080-8081 udp "
					  "5353");
	assert_int_equal(lg.addrs, 0);
	assert_non_null(strstr(note.buf, "net.ipv4.conf.eth0.forwarding is 1"));
	sbuf_free(&note);

	/* nothing beyond the rules: nothing kept for live connections only */
	h.forwarding = 0;
	live = (struct nat_live){ 0 };
	live.tcp = (struct rules_portset){ 1, { 80 }, { 80 } };
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, NULL, &h, &s, &lg, NULL, err,
					 sizeof(err)), 0);
	assert_int_equal(lg.ports + lg.addrs, 0);
	rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own),
		cmocka_unit_test(test_no_address),
		cmocka_unit_test(test_many_host_addrs),
		cmocka_unit_test(test_base),
		cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
