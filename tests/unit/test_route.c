/* SPDX-License-Identifier: MIT */
/* gw/route: the routing decision from the config (one prefix lookup). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <sodium.h>

#include "gw/config.h"
#include "gw/route.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define K1 "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define K2 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="

static void load(struct config *c, const char *extra)
{
	char text[512];
	struct config_error err;

	snprintf(text, sizeof(text),
		 "[Interface]\nPrivateKey = " K1 "\nAddress = 10.8.0.1/24\n%s"
		 "[Peer]\nPublicKey = " K2 "\nAllowedIPs = 10.8.0.1/32, 10.9.0.0/16, 192.168.5.0/24\n",
		 extra);
	if (config_parse(c, "gw0.conf", text, strlen(text), NULL, &err))
		fail_msg("%s", err.message);
}

/* address;kind;out  (kind: L local, F forward, - unreachable) */
static const struct {
	uint32_t addr;
	char kind;
	const char *out;
} cases[] = {
	/* 1 */ { A(10, 8, 0, 1), 'L', "gw0" },      /* own, though a peer lists it too */
	/* 2 */ { A(10, 8, 0, 77), 'F', "gw0" },     /* the Address subnet */
	/* 3 */ { A(10, 9, 200, 1), 'F', "gw0" },    /* a peer's AllowedIPs */
	/* 4 */ { A(192, 168, 5, 9), 'F', "gw0" },
	/* 5 */ { A(192, 0, 2, 1), 'L', "eth0" },    /* the uplink's address */
	/* 6 */ { A(203, 0, 113, 5), 'F', "eth0" },  /* everything else */
	/* 7 */ { A(10, 10, 0, 1), 'F', "eth0" },
};

static void test_routes(void **state)
{
	struct config c;
	struct route_ctx r;

	(void)state;
	load(&c, "Uplink = eth0\nMTU = 1380\n");
	assert_int_equal(route_init(&r, &c, A(192, 0, 2, 1), 1500), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nf_route out;

		if (route_lookup(&r, cases[i].addr, &out))
			fail_msg("case %zu: no route", i + 1);
		if ((cases[i].kind == 'L') != (out.kind == NF_ROUTE_LOCAL) ||
		    strcmp(out.out, cases[i].out))
			fail_msg("case %zu: kind %d out '%s'", i + 1, out.kind, out.out);
		if (out.kind == NF_ROUTE_FORWARD)
			assert_int_equal(out.mtu, strcmp(out.out, "gw0") ? 1500 : 1380);
	}
	assert_true(route_is_own(&r, A(10, 8, 0, 1)));
	assert_false(route_is_own(&r, A(10, 8, 0, 2)));
	assert_int_equal(route_ifaddr(&r, "gw0", 0), A(10, 8, 0, 1));
	assert_int_equal(route_ifaddr(&r, "gw0", A(192, 168, 5, 9)), A(10, 8, 0, 1));
	assert_int_equal(route_ifaddr(&r, "eth0", 0), A(192, 0, 2, 1));
	assert_int_equal(route_ifaddr(&r, "eth0", A(203, 0, 113, 5)), A(192, 0, 2, 1));
	assert_int_equal(route_ifaddr(&r, "eth1", A(203, 0, 113, 5)), 0);
	assert_int_equal(route_src_toward(&r, "eth0", A(10, 8, 0, 9)), A(192, 0, 2, 1));
	assert_int_equal(route_src_toward(&r, "eth0", A(10, 8, 0, 1)), A(10, 8, 0, 1));
	route_free(&r);
	config_free(&c);
}

/* The tunnel's address toward a destination, as inet_select_addr picks it
 * (MASQUERADE out of the tunnel): the first Address whose subnet holds it,
 * else the first.  dst;want */
static void test_ifaddr_toward(void **state)
{
	static const struct {
		uint32_t dst, want;
	} t[] = {
		/* 1 */ { 0, A(10, 8, 0, 1) },                    /* the primary */
		/* 2 */ { A(10, 8, 0, 3), A(10, 8, 0, 1) },       /* .5 is a secondary of it */
		/* 3 */ { A(10, 9, 77, 3), A(10, 9, 0, 1) },      /* the second subnet */
		/* 4 */ { A(10, 10, 0, 3), A(10, 8, 0, 1) },      /* none holds it */
		/* 5 */ { A(172, 16, 0, 1), A(172, 16, 0, 1) },   /* a /32 holds itself */
		/* 6 */ { A(192, 168, 5, 9), A(10, 8, 0, 1) },    /* a peer's route */
	};
	const char *text = "[Interface]\nPrivateKey = " K1 "\n"
			   "Address = 10.8.0.1/24, 10.9.0.1/16, 10.8.0.5/24, 172.16.0.1/32, fd00::1/64\n"
			   "Uplink = eth0\n[Peer]\nPublicKey = " K2 "\nAllowedIPs = 192.168.5.0/24\n";
	struct config c;
	struct config_error err;
	struct route_ctx r;

	(void)state;
	if (config_parse(&c, "gw0.conf", text, strlen(text), NULL, &err))
		fail_msg("%s", err.message);
	assert_int_equal(route_init(&r, &c, A(192, 0, 2, 1), 1500), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t got = route_ifaddr(&r, "gw0", t[i].dst);

		if (got != t[i].want)
			fail_msg("case %zu: %08x, want %08x", i + 1, got, t[i].want);
	}
	route_free(&r);
	config_free(&c);
}

static void test_no_uplink(void **state)
{
	struct config c;
	struct route_ctx r;
	struct nf_route out;

	(void)state;
	load(&c, "");
	assert_int_equal(route_init(&r, &c, 0, 1500), 0);
	assert_int_equal(route_lookup(&r, A(203, 0, 113, 5), &out), -ENETUNREACH);
	assert_int_equal(route_lookup(&r, A(10, 9, 0, 1), &out), 0);
	route_free(&r);
	config_free(&c);
}

static struct route_addr ra(uint32_t a, const char *dev)
{
	struct route_addr r = { .addr = a };

	strncpy(r.dev, dev, sizeof(r.dev) - 1);
	return r;
}

/* Every address of the host is local on its interface, before any route:
 * the uplink's secondary, another interface's (even inside a peer's
 * AllowedIPs, as the kernel's local table wins); a new set replaces the old. */
static void test_local(void **state)
{
	struct config c;
	struct route_ctx r;
	struct nf_route out;
	struct route_addr a[] = {
		ra(A(192, 0, 2, 1), "eth0"), ra(A(192, 0, 2, 7), "eth0"),
		ra(A(192, 168, 5, 1), "lan0"), ra(A(10, 8, 0, 1), "gw0"),
		ra(A(192, 168, 5, 1), "lan1"), /* on two interfaces: the first one's */
	};

	(void)state;
	load(&c, "Uplink = eth0\n");
	assert_int_equal(route_init(&r, &c, A(192, 0, 2, 1), 1500), 0);
	/* not known yet: the secondary leaves by the uplink */
	assert_int_equal(route_lookup(&r, A(192, 0, 2, 7), &out), 0);
	assert_int_equal(out.kind, NF_ROUTE_FORWARD);
	assert_int_equal(route_set_local(&r, a, 5), 0);
	assert_int_equal(route_lookup(&r, A(192, 0, 2, 7), &out), 0);
	assert_int_equal(out.kind, NF_ROUTE_LOCAL);
	assert_string_equal(out.out, "eth0");
	assert_int_equal(route_lookup(&r, A(192, 168, 5, 1), &out), 0);
	assert_int_equal(out.kind, NF_ROUTE_LOCAL);
	assert_string_equal(out.out, "lan0");
	assert_int_equal(route_lookup(&r, A(192, 168, 5, 2), &out), 0);
	assert_int_equal(out.kind, NF_ROUTE_FORWARD);
	assert_string_equal(out.out, "gw0");
	assert_int_equal(route_lookup(&r, A(10, 8, 0, 1), &out), 0);
	assert_int_equal(out.kind, NF_ROUTE_LOCAL);
	assert_string_equal(out.out, "gw0");
	assert_int_equal(route_lookup(&r, A(192, 0, 2, 8), &out), 0);
	assert_int_equal(out.kind, NF_ROUTE_FORWARD);
	/* ICMP errors about a packet to the secondary come from it */
	assert_int_equal(route_src_toward(&r, "eth0", A(192, 0, 2, 7)), A(192, 0, 2, 7));
	/* the secondary goes */
	assert_int_equal(route_set_local(&r, a, 1), 0);
	assert_int_equal(route_lookup(&r, A(192, 0, 2, 7), &out), 0);
	assert_int_equal(out.kind, NF_ROUTE_FORWARD);
	assert_int_equal(route_set_local(&r, NULL, 0), 0);
	assert_int_equal(route_lookup(&r, A(192, 0, 2, 1), &out), 0);
	assert_int_equal(out.kind, NF_ROUTE_LOCAL); /* MASQUERADE's, known apart */
	route_free(&r);
	config_free(&c);
}

/* One read of an RTM_GETADDR dump, parsed as route_host_addrs[6] parse
 * it: a message too short for its ifaddrmsg is skipped, never read past
 * (found by tests/fuzz/fuzz_netlink; under SAN=1 the read past the exact
 * heap copy is an error), and a whole one after it still counts. */
static void test_addr_dump_short(void **state)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg ifa;
		struct nlattr a;
		uint8_t addr[4];
	} good = {
		{ sizeof(good), RTM_NEWADDR, NLM_F_MULTI, 0, 0 },
		{ AF_INET, 8, 0, RT_SCOPE_HOST, 1 },
		{ sizeof(struct nlattr) + 4, IFA_LOCAL },
		{ 127, 0, 0, 1 },
	};
	struct nlmsghdr shortm = { sizeof(shortm), RTM_NEWADDR, NLM_F_MULTI, 0, 0 };
	struct route_addr *a;
	union nf_addr dev, *all;
	unsigned ndev;
	uint8_t *buf;

	(void)state;
	/* the short message alone, as the end of the read */
	buf = malloc(sizeof(shortm));
	assert_non_null(buf);
	memcpy(buf, &shortm, sizeof(shortm));
	assert_int_equal(route_addrs_parse(buf, sizeof(shortm), &a), 0);
	assert_null(a);
	assert_int_equal(route_addrs6_parse(buf, sizeof(shortm), 1, NULL, &dev, &all, &ndev), 0);
	assert_null(all);
	assert_true(nf_addr_is_zero(&dev));
	free(buf);
	/* then before a whole one */
	buf = malloc(sizeof(shortm) + sizeof(good));
	assert_non_null(buf);
	memcpy(buf, &shortm, sizeof(shortm));
	memcpy(buf + sizeof(shortm), &good, sizeof(good));
	assert_int_equal(route_addrs_parse(buf, sizeof(shortm) + sizeof(good), &a), 1);
	assert_int_equal(a[0].addr, 0x7f000001);
	free(a);
	free(buf);
}

/* One RTM_NEWADDR of an IPv6 address on interface 2, with its flags. */
struct msg6 {
	struct nlmsghdr h;
	struct ifaddrmsg ifa;
	struct nlattr a;
	uint8_t addr[16];
	struct nlattr f;
	uint32_t flags;
};

static struct msg6 msg6(uint8_t last, uint32_t flags, uint8_t scope)
{
	struct msg6 m = {
		{ sizeof(m), RTM_NEWADDR, NLM_F_MULTI, 0, 0 },
		{ AF_INET6, 64, 0, scope, 2 },
		{ sizeof(struct nlattr) + 16, IFA_ADDRESS },
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = last },
		{ sizeof(struct nlattr) + 4, IFA_FLAGS },
		flags,
	};

	return m;
}

/* MASQUERADE's IPv6 address: the first usable global one of the uplink,
 * never a temporary, tentative or deprecated one, and the one it has while
 * that stays usable. */
static void test_addr6_choice(void **state)
{
	struct msg6 m[5] = {
		msg6(1, IFA_F_TENTATIVE, RT_SCOPE_UNIVERSE),
		msg6(2, IFA_F_TEMPORARY, RT_SCOPE_UNIVERSE),
		msg6(3, 0, RT_SCOPE_LINK),
		msg6(4, 0, RT_SCOPE_UNIVERSE),
		msg6(5, 0, RT_SCOPE_UNIVERSE),
	};
	union nf_addr dev, keep, *all;
	unsigned ndev;

	(void)state;
	assert_int_equal(route_addrs6_parse(m, sizeof(m), 2, NULL, &dev, &all, &ndev), 5);
	/* the interface's own first: every global one the kernel took (a
	 * temporary one too), then the rest in dump order */
	assert_int_equal(ndev, 3);
	assert_int_equal(all[0].b[15], 2);
	assert_int_equal(all[1].b[15], 4);
	assert_int_equal(all[2].b[15], 5);
	assert_int_equal(all[3].b[15], 1);
	assert_int_equal(all[4].b[15], 3);
	free(all);
	assert_int_equal(dev.b[15], 4);
	keep = dev;
	keep.b[15] = 5;
	assert_int_equal(route_addrs6_parse(m, sizeof(m), 2, &keep, &dev, &all, &ndev), 5);
	free(all);
	assert_int_equal(dev.b[15], 5);
	keep.b[15] = 2; /* a temporary one is not kept */
	assert_int_equal(route_addrs6_parse(m, sizeof(m), 2, &keep, &dev, &all, &ndev), 5);
	free(all);
	assert_int_equal(dev.b[15], 4);
	/* on another interface: none */
	assert_int_equal(route_addrs6_parse(m, sizeof(m), 3, NULL, &dev, &all, &ndev), 5);
	free(all);
	assert_true(nf_addr_is_zero(&dev));
	assert_int_equal(ndev, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_ifaddr_toward),
		cmocka_unit_test(test_no_uplink),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_addr_dump_short),
		cmocka_unit_test(test_addr6_choice),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
