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

#include <arpa/inet.h>

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

/* ---- IPv6 (Rules6) ----------------------------------------------------- */

static struct rules *load6(const char *text)
{
	struct rules_parse_opts o = { .family = NF_V6 };
	struct rules *r = NULL;
	struct rules_error err;

	if (rules_parse_with(&r, text, strlen(text), NULL, &o, &err) != 0)
		fail_msg("line %u: %s (%s)\n%s", err.line, err.message, err.token, text);
	return r;
}

static union nf_addr a6(const char *s)
{
	union nf_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, a.b), 1);
	return a;
}

/* Live IPv6 connections SNAT-ed to an address no rule names any more (a
 * restore removed it) keep it foreign (NDP answered, replies taken), the
 * host's own and what the rules hold already are not counted; not with
 * IPv6 forwarding on (said so). */
static void test_live6(void **state)
{
	struct rules *r = load(NAT_HEAD "COMMIT\n");
	struct rules *r6 = load6(NAT_HEAD
		"-A POSTROUTING -o eth0 -j SNAT --to-source 2001:db8:1::50\n"
		"COMMIT\n");
	struct route_addr a[] = { ra(UPL, "eth0") };
	union nf_addr h6[] = { a6("2001:db8:1::1"), a6("2001:db8:1::7") };
	static struct nat_live live;
	struct uplink_host h = { .addr = a, .naddr = 1, .ipv6 = true, .addr6 = h6, .naddr6 = 2,
				 .live = &live };
	struct uplink_linger lg;
	struct bpf_nat_spec s;
	struct sbuf note;
	char err[256];

	(void)state;
	h.masq6 = h6[0];
	live.nsnat6 = 4;
	live.snat6[0] = a6("2001:db8:1::7");	/* the host's */
	live.snat6[1] = a6("2001:db8:1::50");	/* the rules' */
	live.snat6[2] = a6("2001:db8:1::60");	/* an SNAT rule gone */
	live.snat6[3] = a6("2001:db8:9::60");	/* another /96 */
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, &lg, NULL, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; IPv6 addresses 2001:db8:1::1; "
		"DNAT-ed tcp none udp none; not the host's (gw answers NDP) "
		"2001:db8:1::50,2001:db8:1::60,2001:db8:9::60");
	assert_int_equal(lg.addrs, 2);
	assert_int_equal(lg.ports, 0);

	/* IPv6 forwarding on and no rule needing it off: left out, said so */
	rules_free(r6);
	r6 = load6(NAT_HEAD "COMMIT\n");
	h.forwarding6 = 1;
	sbuf_init(&note);
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, &lg, &note, err,
					 sizeof(err)), 0);
	assert_int_equal(s.nforeign6, 0);
	assert_int_equal(lg.addrs, 0);
	assert_non_null(strstr(note.buf, "3 IPv6 SNAT address(es) of live connections"));
	assert_non_null(strstr(note.buf, "net.ipv6.conf.eth0.forwarding is 1"));
	sbuf_free(&note);
	rules_free(r6);
	rules_free(r);
}

/* The uplink's other global IPv6 addresses join MASQUERADE's in addr6:
 * DNAT66 -d naming one of them takes its port (as IPv4's secondaries);
 * another interface's address stays out. */
static void test_v6_secondary(void **state)
{
	struct rules *r = load(NAT_HEAD "COMMIT\n");
	struct rules *r6 = load6(NAT_HEAD
		"-A PREROUTING -i eth0 -d 2001:db8:1::9 -p tcp --dport 8082 -j DNAT --to-destination fd00:8::2\n"
		"-A PREROUTING -i eth0 -d 2001:db8:7::1 -p tcp --dport 8083 -j DNAT --to-destination fd00:8::2\n"
		"COMMIT\n");
	struct route_addr a[] = { ra(UPL, "eth0") };
	/* the uplink's first (ndev6 = 2), then lan0's */
	union nf_addr h6[] = { a6("2001:db8:1::9"), a6("2001:db8:1::1"), a6("2001:db8:7::1") };
	struct uplink_host h = { .addr = a, .naddr = 1, .ipv6 = true, .addr6 = h6, .naddr6 = 3,
				 .ndev6 = 2 };
	struct bpf_nat_spec s;
	char err[256];

	(void)state;
	h.masq6 = h6[1];
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, NULL, NULL, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; IPv6 addresses 2001:db8:1::1,"
		"2001:db8:1::9; DNAT-ed tcp 8082 udp none");
	/* only MASQUERADE's known: ::9 is not the uplink's */
	h.ndev6 = 0;
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, NULL, NULL, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; IPv6 addresses 2001:db8:1::1; "
		"DNAT-ed tcp none udp none");
	rules_free(r6);
	rules_free(r);
}

/* Both rulesets: the uplink's IPv6 MASQUERADE address is addr6 and
 * narrows Rules6's -d (its other addresses are not NAT addresses); the DNAT-ed
 * ports of both go into the one list; IPv6 SNAT ranges minus the host's
 * IPv6 addresses are foreign6, cut where their upper 96 bits change;
 * forwarding of IPv6 refuses them; together past the port cap: refused. */
static void test_v6(void **state)
{
	struct rules *r = load(NAT_HEAD
		"-A PREROUTING -i eth0 -p tcp --dport 8080 -j DNAT --to-destination 10.8.0.2:80\n"
		"COMMIT\n");
	struct rules *r6 = load6(NAT_HEAD
		"-A PREROUTING -i eth0 -d 2001:db8:1::1 -p tcp --dport 8081 -j DNAT --to-destination fd00:8::2\n"
		"-A PREROUTING -i eth0 -d 2001:db8:1::9 -p tcp --dport 8082 -j DNAT --to-destination fd00:8::2\n"
		"-A PREROUTING -i eth0 -p udp --dport 5353 -j DNAT --to-destination fd00:8::2\n"
		"-A POSTROUTING -o eth0 -j SNAT --to-source 2001:db8:1::50-2001:db8:1::52\n"
		"-A POSTROUTING -o eth0 -j SNAT --to-source 2001:db8:5::ffff:fffe-2001:db8:5::1:0:1\n"
		"COMMIT\n");
	struct route_addr a[] = { ra(UPL, "eth0") };
	union nf_addr h6[] = { a6("2001:db8:1::1"), a6("fe80::1"), a6("2001:db8:1::7"),
			       a6("2001:db8:1::51"), a6("::1") };
	struct uplink_host h = { .addr = a, .naddr = 1, .ipv6 = true, .addr6 = h6, .naddr6 = 5 };
	struct bpf_nat_spec s;
	struct sbuf note;
	char err[256];

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::1", h.masq6.b), 1);
	sbuf_init(&note);
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, NULL, &note, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; IPv6 addresses 2001:db8:1::1; "
		"DNAT-ed tcp 8080-8081 udp 5353; not the host's (gw answers NDP) "
		"2001:db8:1::50,2001:db8:1::52,2001:db8:5::ffff:fffe-2001:db8:5::ffff:ffff,"
		"2001:db8:5::1:0:0-2001:db8:5::1:0:1");
	assert_non_null(strstr(note.buf, "SNAT to 2001:db8:1::51, an IPv6 address of this host"));
	sbuf_free(&note);
	/* without Rules6 the spec has no IPv6 */
	h.ipv6 = false;
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, NULL, NULL, err,
					 sizeof(err)), 0);
	assert_string_equal(describe(&s), "addresses 198.51.100.1; DNAT-ed tcp 8080 udp none");
	/* IPv6 forwarding on: refused, as for IPv4 */
	h.ipv6 = true;
	h.forwarding6 = 1;
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, NULL, NULL, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "SNAT to 2001:db8:1::50, an IPv6 address this host does not "
				    "have, needs IPv6 forwarding off"));
	assert_non_null(strstr(err, "net.ipv6.conf.eth0.forwarding=0"));
	/* ... but only with foreign IPv6 SNAT: IPv4's forwarding is its own */
	h.forwarding6 = 0;
	h.forwarding = 1;
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, NULL, NULL, err,
					 sizeof(err)), 0);
	/* no IPv6 address on the uplink: no IPv6 port is DNAT-ed */
	h.naddr6 = 1;
	memset(&h.masq6, 0, sizeof(h.masq6));
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, NULL, NULL, err,
					 sizeof(err)), 0);
	assert_int_equal(s.naddr6, 0);
	assert_int_equal(s.ntcp, 1);
	assert_int_equal(s.nudp, 0);
	rules_free(r6);
	/* a range over more /96s than the filters hold */
	h.naddr6 = 5;
	r6 = load6(NAT_HEAD "-A POSTROUTING -j SNAT --to-source 2001:db8:5::-2001:db8:5::9:0:0\n"
		   "COMMIT\n");
	assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, NULL, NULL, err,
					 sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "IPv6 SNAT addresses"));
	rules_free(r6);
	rules_free(r);
	/* 20 + 20 separate port ranges: each ruleset fits, together they do
	 * not */
	{
		struct sbuf t4, t6;

		sbuf_init(&t4);
		sbuf_init(&t6);
		sbuf_add(&t4, NAT_HEAD);
		sbuf_add(&t6, NAT_HEAD);
		for (unsigned i = 0; i < 20; i++) {
			sbuf_printf(&t4, "-A PREROUTING -p udp --dport %u -j DNAT "
				    "--to-destination 10.8.0.2\n", 1000 + 4 * i);
			sbuf_printf(&t6, "-A PREROUTING -p udp --dport %u -j DNAT "
				    "--to-destination fd00:8::2\n", 1002 + 4 * i);
		}
		sbuf_add(&t4, "COMMIT\n");
		sbuf_add(&t6, "COMMIT\n");
		r = load(t4.buf);
		r6 = load6(t6.buf);
		assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::1", h.masq6.b), 1);
		assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, r6, &h, &s, NULL, NULL,
						 err, sizeof(err)), -E2BIG);
		assert_non_null(strstr(err, "Rules and Rules6 for eth0 together need more than 32"));
		assert_int_equal(uplink_nat_spec("eth0", UPL, 61000, 61999, r, NULL, &h, &s, NULL,
						 NULL, err, sizeof(err)), 0);
		assert_int_equal(s.nudp, 20);
		rules_free(r);
		rules_free(r6);
		sbuf_free(&t4);
		sbuf_free(&t6);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own),
		cmocka_unit_test(test_no_address),
		cmocka_unit_test(test_many_host_addrs),
		cmocka_unit_test(test_base),
		cmocka_unit_test(test_live),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_live6),
		cmocka_unit_test(test_v6_secondary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
