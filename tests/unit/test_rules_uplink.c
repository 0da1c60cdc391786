/* SPDX-License-Identifier: MIT */
/*
 * nat/rules_uplink: the DNAT-ed ports and SNAT addresses a ruleset asks of
 * the uplink — a table of rulesets and their results, the caps, and a seeded
 * property loop: for random rulesets, every packet that the real PREROUTING
 * walk (rules_run) DNATs must have its port in the computed set.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "nat/nf.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"
#include "nat/rules_uplink.h"
#include "nat/sbuf.h"
#include "tests/unit/util_ctpkt.h"
#include "tests/unit/util_rng.h"

static const uint32_t UPL = IP4(198, 51, 100, 1), UPL2 = IP4(198, 51, 100, 7);
/* the uplink's address as rules_uplink takes it */
static const union nf_addr UPLA = { .ip6 = { IP4(198, 51, 100, 1), 0, 0, 0 } };

static struct rules *load(const char *text)
{
	struct rules *r = NULL;
	struct rules_error err;

	if (rules_parse(&r, text, strlen(text), NULL, &err) != 0)
		fail_msg("line %u: %s (%s)\n%s", err.line, err.message, err.token, text);
	return r;
}

static void put_ports(char *out, size_t len, const struct rules_portset *s)
{
	size_t at = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < s->n && at < len; i++) {
		if (s->lo[i] == s->hi[i])
			at += (size_t)snprintf(out + at, len - at, "%s%u", i ? "," : "", s->lo[i]);
		else
			at += (size_t)snprintf(out + at, len - at, "%s%u-%u", i ? "," : "",
					       s->lo[i], s->hi[i]);
	}
}

static void put_addrs(char *out, size_t len, const struct rules_uplink *u)
{
	size_t at = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < u->nsnat && at < len; i++) {
		uint32_t a = u->snat_lo[i].ip, b = u->snat_hi[i].ip;

		at += (size_t)snprintf(out + at, len - at, "%s%u.%u.%u.%u", i ? "," : "",
				       a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
		if (b != a)
			at += (size_t)snprintf(out + at, len - at, "-%u.%u.%u.%u", b >> 24,
					       b >> 16 & 255, b >> 8 & 255, b & 255);
	}
}

#define NAT_HEAD "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n" \
		 ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
#define TO " -j DNAT --to-destination 10.8.0.2"

static const struct {
	const char *rules;	/* after the *nat header, before COMMIT */
	const char *tcp, *udp;	/* the port sets */
	unsigned ndnat, nother;
	const char *snat;
	unsigned nlocal;
} cases[] = {
	{ "", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING -i eth0 -p tcp --dport 8080" TO ":80\n", "8080", "", 1, 0, "", 0 },
	{ "-A PREROUTING -i eth0 -p udp -m udp --dport 5353" TO "\n", "", "5353", 1, 0, "", 0 },
	/* interfaces: another one, wildcards, inverted */
	{ "-A PREROUTING -i gw0 -p tcp --dport 53" TO "\n", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING -i eth+ -p tcp --dport 53" TO "\n", "53", "", 1, 0, "", 0 },
	{ "-A PREROUTING ! -i eth0 -p tcp --dport 53" TO "\n", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING ! -i gw0 -p tcp --dport 53" TO "\n", "53", "", 1, 0, "", 0 },
	{ "-A PREROUTING -p tcp --dport 53" TO "\n", "53", "", 1, 0, "", 0 },
	/* port forms */
	{ "-A PREROUTING -p tcp -m multiport --dports 80,443,1000:2000" TO "\n",
	  "80,443,1000-2000", "", 1, 0, "", 0 },
	{ "-A PREROUTING -p tcp ! --dport 22" TO "\n", "0-21,23-65535", "", 1, 0, "", 0 },
	{ "-A PREROUTING -p tcp -m multiport ! --dports 1:100,200" TO "\n",
	  "0,101-199,201-65535", "", 1, 0, "", 0 },
	{ "-A PREROUTING -p tcp -m multiport --ports 80" TO "\n", "0-65535", "", 1, 0, "", 0 },
	{ "-A PREROUTING -p tcp -m multiport --sports 80" TO "\n", "0-65535", "", 1, 0, "", 0 },
	{ "-A PREROUTING -p tcp --sport 80 --dport 81" TO "\n", "81", "", 1, 0, "", 0 },
	{ "-A PREROUTING -p udp --dport 100:50" TO "\n", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING -p udp ! --dport 100:50" TO "\n", "", "0-65535", 1, 0, "", 0 },
	{ "-A PREROUTING -p tcp -m tcp --dport 80:90 -m multiport --dports 85,95" TO "\n",
	  "85", "", 1, 0, "", 0 },
	/* no port, no protocol, other protocols */
	{ "-A PREROUTING -i eth0 -p udp" TO "\n", "", "0-65535", 1, 0, "", 0 },
	{ "-A PREROUTING -i eth0" TO "\n", "0-65535", "0-65535", 1, 1, "", 0 },
	{ "-A PREROUTING -p icmp" TO "\n", "", "", 1, 1, "", 0 },
	{ "-A PREROUTING ! -p tcp" TO "\n", "", "0-65535", 1, 1, "", 0 },
	{ "-A PREROUTING ! -p icmp" TO "\n", "0-65535", "0-65535", 1, 1, "", 0 },
	/* merging */
	{ "-A PREROUTING -p tcp --dport 80" TO "\n-A PREROUTING -p tcp --dport 81" TO "\n"
	  "-A PREROUTING -p tcp --dport 79:85" TO "\n-A PREROUTING -p tcp --dport 87" TO "\n",
	  "79-85,87", "", 4, 0, "", 0 },
	/* destinations: the uplink's addresses are .1 and .7 */
	{ "-A PREROUTING -d 198.51.100.1 -p tcp --dport 80" TO "\n", "80", "", 1, 0, "", 0 },
	{ "-A PREROUTING -d 198.51.100.7 -p tcp --dport 80" TO "\n", "80", "", 1, 0, "", 0 },
	{ "-A PREROUTING -d 198.51.100.9 -p tcp --dport 80" TO "\n", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING -d 198.51.100.0/24 -p tcp --dport 80" TO "\n", "80", "", 1, 0, "", 0 },
	{ "-A PREROUTING ! -d 198.51.100.1 -p tcp --dport 80" TO "\n", "80", "", 1, 0, "", 0 },
	{ "-A PREROUTING ! -d 198.51.100.0/29 -p tcp --dport 80" TO "\n", "", "", 0, 0, "", 0 },
	/* REDIRECT; DNAT in OUTPUT is the host's own traffic */
	{ "-A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080\n", "80", "", 1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 198.51.100.7:22\n", "80", "",
	  1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 198.51.100.0-198.51.100.3\n",
	  "80", "", 1, 0, "", 1 },
	/* ... to a port only (the uplink's address stays), to gw's tunnel
	 * Address or another interface's (the host has 10.8.0.1, 192.0.2.1) */
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination :22\n", "80", "", 1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.8.0.1:22\n", "80", "",
	  1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 192.0.2.1\n", "80", "",
	  1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.8.0.0-10.8.0.5\n", "80",
	  "", 1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.8.0.2-10.8.0.5\n", "80",
	  "", 1, 0, "", 0 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 192.0.2.2-192.0.2.254\n",
	  "80", "", 1, 0, "", 0 },
	{ "-A OUTPUT -p tcp --dport 80" TO "\n", "", "", 0, 0, "", 0 },
	/* user chains: the path narrows; unreachable chains do not count */
	{ ":FWD - [0:0]\n-A PREROUTING -i eth0 -p tcp --dport 8000:9000 -j FWD\n"
	  "-A FWD -p tcp --dport 8500:9500" TO "\n-A FWD" TO "\n", "8000-9000", "", 2, 0, "", 0 },
	{ ":FWD - [0:0]\n-A PREROUTING -i eth0 -p udp -j FWD\n-A FWD -p tcp" TO "\n",
	  "", "", 0, 0, "", 0 },
	{ ":FWD - [0:0]\n-A PREROUTING -i gw0 -j FWD\n-A FWD -p tcp" TO "\n", "", "", 0, 0, "", 0 },
	{ ":FWD - [0:0]\n-A PREROUTING -d 198.51.100.9 -g FWD\n-A FWD -p tcp" TO "\n",
	  "", "", 0, 0, "", 0 },
	{ ":FWD - [0:0]\n:A - [0:0]\n-A PREROUTING -p tcp -m multiport --dports 1:99 -g A\n"
	  "-A A -p tcp ! --dport 50 -j FWD\n-A FWD" TO "\n", "1-49,51-99", "", 1, 0, "", 0 },
	{ ":FWD - [0:0]\n-A FWD -p tcp --dport 80" TO "\n", "", "", 0, 0, "", 0 },
	/* SNAT: addresses for the uplink, merged; other interfaces, MASQUERADE,
	 * ports only: none */
	{ "-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j SNAT --to-source 198.51.100.50\n",
	  "", "", 0, 0, "198.51.100.50", 0 },
	{ "-A POSTROUTING -o gw0 -j SNAT --to-source 10.8.0.1\n", "", "", 0, 0, "", 0 },
	{ "-A POSTROUTING -j MASQUERADE\n", "", "", 0, 0, "", 0 },
	{ "-A POSTROUTING -p tcp -j SNAT --to-source :1000-2000\n", "", "", 0, 0, "", 0 },
	{ "-A POSTROUTING -j SNAT --to-source 198.51.100.50-198.51.100.59\n"
	  "-A POSTROUTING -p udp -j SNAT --to-source 198.51.100.60:1000\n"
	  "-A POSTROUTING -j SNAT --to-source 198.51.100.70\n"
	  "-A POSTROUTING -j SNAT --to-source 198.51.100.55\n",
	  "", "", 0, 0, "198.51.100.50-198.51.100.60,198.51.100.70", 0 },
	{ ":S - [0:0]\n:T - [0:0]\n-A POSTROUTING -o eth0 -j S\n-A POSTROUTING -o gw0 -j T\n"
	  "-A S -j SNAT --to-source 203.0.113.5\n-A T -j SNAT --to-source 203.0.113.6\n"
	  "-A S -j T\n", "", "", 0, 0, "203.0.113.5-203.0.113.6", 0 },
};

static void test_cases(void **state)
{
	const union nf_addr addrs[] = { nf_addr4(UPL), nf_addr4(UPL2) };
	const union nf_addr host[] = { nf_addr4(IP4(10, 8, 0, 1)), nf_addr4(IP4(192, 0, 2, 1)) };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[2048], tcp[512], udp[512], snat[512], err[256];
		struct rules_uplink u;
		struct rules *r;

		snprintf(text, sizeof(text), NAT_HEAD "%sCOMMIT\n", cases[i].rules);
		r = load(text);
		if (rules_uplink(r, "eth0", addrs, 2, host, 2, &u, err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", i, err);
		put_ports(tcp, sizeof(tcp), &u.tcp);
		put_ports(udp, sizeof(udp), &u.udp);
		put_addrs(snat, sizeof(snat), &u);
		if (strcmp(tcp, cases[i].tcp) || strcmp(udp, cases[i].udp) ||
		    strcmp(snat, cases[i].snat) || u.ndnat != cases[i].ndnat ||
		    u.nother != cases[i].nother || u.nlocal != cases[i].nlocal)
			fail_msg("case %zu: tcp \"%s\" udp \"%s\" snat \"%s\" ndnat %u nother %u "
				 "nlocal %u\n%s", i, tcp, udp, snat, u.ndnat, u.nother, u.nlocal,
				 cases[i].rules);
		rules_free(r);
	}
}

/* ---- IPv6 rulesets (Rules6) -------------------------------------------- */

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

	if (inet_pton(AF_INET6, s, a.b) != 1)
		fail_msg("bad address %s", s);
	return a;
}

static void put_addrs6(char *out, size_t len, const struct rules_uplink *u)
{
	size_t at = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < u->nsnat && at < len; i++) {
		char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, u->snat_lo[i].b, a, sizeof(a));
		inet_ntop(AF_INET6, u->snat_hi[i].b, b, sizeof(b));
		at += (size_t)snprintf(out + at, len - at, "%s%s", i ? "," : "", a);
		if (!nf_addr_eq(&u->snat_lo[i], &u->snat_hi[i]))
			at += (size_t)snprintf(out + at, len - at, "-%s", b);
	}
}

#define TO6 " -j DNAT --to-destination fd00:8::2"

/* The uplink's IPv6 addresses are 2001:db8:1::1 and 2001:db8:1::7; the
 * host has fd00:8::1 (gw's tunnel Address) and 2001:db8:2::1 besides. */
static const struct {
	const char *rules;
	const char *tcp, *udp;
	unsigned ndnat, nother;
	const char *snat;
	unsigned nlocal;
} cases6[] = {
	{ "", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING -i eth0 -p tcp --dport 8080 -j DNAT --to-destination [fd00:8::2]:80\n",
	  "8080", "", 1, 0, "", 0 },
	{ "-A PREROUTING -i eth0 -p udp -m udp --dport 5353" TO6 "\n", "", "5353", 1, 0, "", 0 },
	{ "-A PREROUTING -i gw0 -p tcp --dport 53" TO6 "\n", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING ! -i eth0 -p tcp --dport 53" TO6 "\n", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING -i eth+ -p tcp -m multiport --dports 80,443,1000:2000" TO6 "\n",
	  "80,443,1000-2000", "", 1, 0, "", 0 },
	{ "-A PREROUTING -p tcp ! --dport 22" TO6 "\n", "0-21,23-65535", "", 1, 0, "", 0 },
	/* no protocol; ICMPv6 (other protocols) */
	{ "-A PREROUTING -i eth0" TO6 "\n", "0-65535", "0-65535", 1, 1, "", 0 },
	{ "-A PREROUTING -p ipv6-icmp" TO6 "\n", "", "", 1, 1, "", 0 },
	/* -d with IPv6 addresses and prefixes */
	{ "-A PREROUTING -d 2001:db8:1::1 -p tcp --dport 80" TO6 "\n", "80", "", 1, 0, "", 0 },
	{ "-A PREROUTING -d 2001:db8:1::7/128 -p tcp --dport 80" TO6 "\n", "80", "", 1, 0, "", 0 },
	{ "-A PREROUTING -d 2001:db8:1::9 -p tcp --dport 80" TO6 "\n", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING -d 2001:db8:1::/64 -p tcp --dport 80" TO6 "\n", "80", "", 1, 0, "", 0 },
	{ "-A PREROUTING -d 2001:db8:9::/48 -p tcp --dport 80" TO6 "\n", "", "", 0, 0, "", 0 },
	{ "-A PREROUTING ! -d 2001:db8:1::1 -p tcp --dport 80" TO6 "\n", "80", "", 1, 0, "", 0 },
	{ "-A PREROUTING ! -d 2001:db8:1::/125 -p tcp --dport 80" TO6 "\n", "", "", 0, 0, "", 0 },
	/* the same address's bytes in the wrong half are another address */
	{ "-A PREROUTING -d ::1:0:0:0:1 -p tcp --dport 80" TO6 "\n", "", "", 0, 0, "", 0 },
	/* to the host: REDIRECT, a port only, the uplink's address, gw's
	 * tunnel Address, another interface's, ranges holding one */
	{ "-A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080\n", "80", "", 1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination :22\n", "80", "", 1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination [2001:db8:1::7]:22\n", "80",
	  "", 1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination fd00:8::1\n", "80", "", 1, 0,
	  "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 2001:db8:2::1\n", "80", "", 1,
	  0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination fd00:8::-fd00:8::5\n", "80", "",
	  1, 0, "", 1 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination fd00:8::2-fd00:8::5\n", "80", "",
	  1, 0, "", 0 },
	{ "-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 2001:db8:2::2-2001:db8:2::ff\n",
	  "80", "", 1, 0, "", 0 },
	/* user chains narrow */
	{ ":FWD - [0:0]\n-A PREROUTING -i eth0 -d 2001:db8:1::7 -p tcp --dport 8000:9000 -j FWD\n"
	  "-A FWD -p tcp --dport 8500:9500" TO6 "\n", "8500-9000", "", 1, 0, "", 0 },
	{ ":FWD - [0:0]\n-A PREROUTING -d 2001:db8:1::9 -g FWD\n-A FWD -p tcp" TO6 "\n",
	  "", "", 0, 0, "", 0 },
	/* SNAT: IPv6 ranges for the uplink, sorted and merged (also across a
	 * byte carry); other interfaces, MASQUERADE, ports only: none */
	{ "-A POSTROUTING -s fd00:8::/64 -o eth0 -j SNAT --to-source 2001:db8:1::50\n",
	  "", "", 0, 0, "2001:db8:1::50", 0 },
	{ "-A POSTROUTING -o gw0 -j SNAT --to-source fd00:8::1\n", "", "", 0, 0, "", 0 },
	{ "-A POSTROUTING -j MASQUERADE\n", "", "", 0, 0, "", 0 },
	{ "-A POSTROUTING -p tcp -j SNAT --to-source :1000-2000\n", "", "", 0, 0, "", 0 },
	{ "-A POSTROUTING -j SNAT --to-source 2001:db8:1::50-2001:db8:1::59\n"
	  "-A POSTROUTING -p udp -j SNAT --to-source [2001:db8:1::5a]:1000\n"
	  "-A POSTROUTING -j SNAT --to-source 2001:db8:1::70\n"
	  "-A POSTROUTING -j SNAT --to-source 2001:db8:1::1:0\n"
	  "-A POSTROUTING -j SNAT --to-source 2001:db8:1::ff-2001:db8:1::ffff\n",
	  "", "", 0, 0, "2001:db8:1::50-2001:db8:1::5a,2001:db8:1::70,2001:db8:1::ff-2001:db8:1::1:0",
	  0 },
	{ "-A POSTROUTING -j SNAT --to-source ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0-"
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n"
	  "-A POSTROUTING -j SNAT --to-source ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n",
	  "", "", 0, 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	  0 },
};

static void test_cases6(void **state)
{
	const union nf_addr addrs[] = { a6("2001:db8:1::1"), a6("2001:db8:1::7") };
	/* sorted */
	const union nf_addr host[] = { a6("2001:db8:2::1"), a6("fd00:8::1") };

	(void)state;
	for (size_t i = 0; i < sizeof(cases6) / sizeof(cases6[0]); i++) {
		char text[2048], tcp[512], udp[512], snat[512], err[256];
		struct rules_uplink u;
		struct rules *r;

		snprintf(text, sizeof(text), NAT_HEAD "%sCOMMIT\n", cases6[i].rules);
		r = load6(text);
		if (rules_uplink(r, "eth0", addrs, 2, host, 2, &u, err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", i, err);
		put_ports(tcp, sizeof(tcp), &u.tcp);
		put_ports(udp, sizeof(udp), &u.udp);
		put_addrs6(snat, sizeof(snat), &u);
		if (strcmp(tcp, cases6[i].tcp) || strcmp(udp, cases6[i].udp) ||
		    strcmp(snat, cases6[i].snat) || u.ndnat != cases6[i].ndnat ||
		    u.nother != cases6[i].nother || u.nlocal != cases6[i].nlocal)
			fail_msg("case %zu: tcp \"%s\" udp \"%s\" snat \"%s\" ndnat %u nother %u "
				 "nlocal %u\n%s", i, tcp, udp, snat, u.ndnat, u.nother, u.nlocal,
				 cases6[i].rules);
		rules_free(r);
	}
}

/* IPv6 without an address on the uplink (a -d catches nothing), and the
 * caps with the IPv6 wording. */
static void test_v6_no_address_caps(void **state)
{
	struct rules_uplink u;
	struct rules *r;
	struct sbuf s;
	char err[256], tcp[256];

	(void)state;
	r = load6(NAT_HEAD
		  "-A PREROUTING -i eth0 -p tcp --dport 80" TO6 "\n"
		  "-A PREROUTING -i eth0 -d 2001:db8:1::1 -p tcp --dport 81" TO6 "\n"
		  "-A PREROUTING -i eth0 ! -d 2001:db8:1::9 -p tcp --dport 82" TO6 "\n"
		  "COMMIT\n");
	assert_int_equal(rules_uplink(r, "eth0", NULL, 0, NULL, 0, &u, err, sizeof(err)), 0);
	put_ports(tcp, sizeof(tcp), &u.tcp);
	assert_string_equal(tcp, "80");
	rules_free(r);

	sbuf_init(&s);
	sbuf_add(&s, NAT_HEAD);
	for (unsigned i = 0; i <= RULES_UPLINK_MAX_PORTS; i++)
		sbuf_printf(&s, "-A PREROUTING -i eth0 -p udp --dport %u" TO6 "\n", 1000 + 2 * i);
	for (unsigned i = 0; i <= RULES_UPLINK_MAX_SNAT; i++)
		sbuf_printf(&s, "-A POSTROUTING -j SNAT --to-source 2001:db8:1::%x\n", 2 * i + 0x51);
	sbuf_add(&s, "COMMIT\n");
	r = load6(s.buf);
	assert_int_equal(rules_uplink(r, "eth0", NULL, 0, NULL, 0, &u, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "IPv6 DNAT and REDIRECT rules for eth0 need more than 32"));
	rules_free(r);
	sbuf_free(&s);
	sbuf_init(&s);
	sbuf_add(&s, NAT_HEAD);
	for (unsigned i = 0; i <= RULES_UPLINK_MAX_SNAT; i++)
		sbuf_printf(&s, "-A POSTROUTING -j SNAT --to-source 2001:db8:1::%x\n", 2 * i + 0x51);
	sbuf_add(&s, "COMMIT\n");
	r = load6(s.buf);
	assert_int_equal(rules_uplink(r, "eth0", NULL, 0, NULL, 0, &u, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "IPv6 SNAT rules for eth0 need more than"));
	rules_free(r);
	sbuf_free(&s);
}

static void test_no_rules(void **state)
{
	struct rules_uplink u;
	char err[64];

	(void)state;
	assert_int_equal(rules_uplink(NULL, "eth0", &UPLA, 1, NULL, 0, &u, err, sizeof(err)), 0);
	assert_int_equal(u.tcp.n + u.udp.n + u.ndnat + u.nsnat, 0);
}

static void test_caps(void **state)
{
	struct sbuf s;
	struct rules_uplink u;
	struct rules *r;
	char err[256];
	unsigned i;

	(void)state;
	/* RULES_UPLINK_MAX_PORTS separate ranges fit, one more does not */
	for (unsigned extra = 0; extra < 2; extra++) {
		sbuf_init(&s);
		sbuf_add(&s, NAT_HEAD);
		for (i = 0; i < RULES_UPLINK_MAX_PORTS + extra; i++)
			sbuf_printf(&s, "-A PREROUTING -p udp --dport %u" TO "\n", 1000 + 2 * i);
		sbuf_add(&s, "COMMIT\n");
		r = load(s.buf);
		if (!extra) {
			assert_int_equal(rules_uplink(r, "eth0", &UPLA, 1, NULL, 0, &u, err, sizeof(err)), 0);
			assert_int_equal(u.udp.n, RULES_UPLINK_MAX_PORTS);
		} else {
			assert_int_equal(rules_uplink(r, "eth0", &UPLA, 1, NULL, 0, &u, err, sizeof(err)),
					 -E2BIG);
			assert_non_null(strstr(err, "port ranges"));
		}
		rules_free(r);
		sbuf_free(&s);
	}
	/* SNAT address ranges */
	sbuf_init(&s);
	sbuf_add(&s, NAT_HEAD);
	for (i = 0; i <= RULES_UPLINK_MAX_SNAT; i++)
		sbuf_printf(&s, "-A POSTROUTING -j SNAT --to-source 203.0.113.%u\n", 2 * i + 1);
	sbuf_add(&s, "COMMIT\n");
	r = load(s.buf);
	assert_int_equal(rules_uplink(r, "eth0", &UPLA, 1, NULL, 0, &u, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "address ranges"));
	rules_free(r);
	sbuf_free(&s);
	/* three jumps per chain, 14 chains deep: 3^14 paths */
	sbuf_init(&s);
	sbuf_add(&s, NAT_HEAD);
	for (i = 1; i <= 14; i++)
		sbuf_printf(&s, ":C%u - [0:0]\n", i);
	sbuf_add(&s, "-A PREROUTING -j C1\n");
	for (i = 1; i < 14; i++)
		sbuf_printf(&s, "-A C%u -j C%u\n-A C%u -j C%u\n-A C%u -j C%u\n", i, i + 1, i, i + 1,
			    i, i + 1);
	sbuf_add(&s, "-A C14 -p tcp --dport 80" TO "\nCOMMIT\n");
	r = load(s.buf);
	assert_int_equal(rules_uplink(r, "eth0", &UPLA, 1, NULL, 0, &u, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "too many"));
	rules_free(r);
	sbuf_free(&s);
}

/* No address yet (addrs NULL): what every address needs — a path with a -d,
 * plain or inverted, catches nothing; the caps hold all the same. */
static void test_no_address(void **state)
{
	struct rules_uplink u;
	struct rules *r;
	struct sbuf s;
	char err[256], tcp[256], udp[256];

	(void)state;
	r = load(NAT_HEAD
		 "-A PREROUTING -i eth0 -p tcp --dport 80" TO "\n"
		 "-A PREROUTING -i eth0 -d 198.51.100.1 -p tcp --dport 81" TO "\n"
		 "-A PREROUTING -i eth0 ! -d 198.51.100.9 -p tcp --dport 82" TO "\n"
		 "-A PREROUTING -i eth1 -p udp --dport 83" TO "\n"
		 "-A PREROUTING -i eth0 -p udp --dport 84 -j DNAT --to-destination :8084\n"
		 "COMMIT\n");
	assert_int_equal(rules_uplink(r, "eth0", NULL, 0, NULL, 0, &u, err, sizeof(err)), 0);
	put_ports(tcp, sizeof(tcp), &u.tcp);
	put_ports(udp, sizeof(udp), &u.udp);
	assert_string_equal(tcp, "80");
	assert_string_equal(udp, "84");
	assert_int_equal(u.ndnat, 2);
	assert_int_equal(u.nlocal, 1); /* the port-only DNAT */
	rules_free(r);

	sbuf_init(&s);
	sbuf_add(&s, NAT_HEAD);
	for (unsigned i = 0; i <= RULES_UPLINK_MAX_PORTS; i++)
		sbuf_printf(&s, "-A PREROUTING -i eth0 -p udp --dport %u" TO "\n", 1000 + 2 * i);
	sbuf_add(&s, "COMMIT\n");
	r = load(s.buf);
	assert_int_equal(rules_uplink(r, "eth0", NULL, 0, NULL, 0, &u, err, sizeof(err)), -E2BIG);
	rules_free(r);
	sbuf_free(&s);
}

/* ---- property: whatever rules_run DNATs is in the computed set ---------- */

static void rnd_ports(struct rng *g, struct sbuf *s, const char *proto)
{
	unsigned a = rnd_in(g, 0, 200), b = a + 1 + rnd(g, 30);

	switch (rnd(g, 5)) {
	case 0:
		break;
	case 1:
		sbuf_printf(s, " -p %s %s--dport %u", proto, rnd(g, 3) ? "" : "! ", a);
		break;
	case 2:
		sbuf_printf(s, " -p %s %s--dport %u:%u", proto, rnd(g, 3) ? "" : "! ", a, b);
		break;
	case 3:
		sbuf_printf(s, " -p %s -m multiport %s--dports %u,%u:%u,%u", proto,
			    rnd(g, 3) ? "" : "! ", a, b, b + rnd(g, 9) + 1, rnd_in(g, 0, 200));
		break;
	default:
		sbuf_printf(s, " -p %s", proto);
		break;
	}
}

static void rnd_rule(struct rng *g, struct sbuf *s, const char *chain, unsigned nchains,
		     unsigned self)
{
	static const char *const ifs[] = { "", " -i eth0", " -i gw0", " ! -i eth0", " -i eth+" };
	static const char *const dsts[] = { "", " -d 198.51.100.1", " -d 198.51.100.9",
					    " ! -d 198.51.100.1", " -d 198.51.100.0/28" };

	sbuf_printf(s, "-A %s%s%s", chain, ifs[rnd(g, 5)], dsts[rnd(g, 5)]);
	rnd_ports(g, s, rnd(g, 2) ? "tcp" : "udp");
	if (self + 1 < nchains && rnd(g, 3) == 0)
		sbuf_printf(s, " -%c U%u\n", rnd(g, 2) ? 'j' : 'g', rnd_in(g, self + 1, nchains - 1));
	else if (rnd(g, 4) == 0)
		sbuf_add(s, rnd(g, 2) ? " -j RETURN\n" : " -j ACCEPT\n");
	else
		sbuf_add(s, rnd(g, 4) ? TO "\n" : " -j REDIRECT\n");
}

static bool in_set(const struct rules_portset *s, uint16_t port)
{
	for (unsigned i = 0; i < s->n; i++)
		if (port >= s->lo[i] && port <= s->hi[i])
			return true;
	return false;
}

static void test_property(void **state)
{
	struct rng g = { test_seed() };
	unsigned caught = 0;

	(void)state;
	for (unsigned iter = 0; iter < 300; iter++) {
		unsigned nchains = 1 + rnd(&g, 4);
		struct rules_uplink u;
		struct rules *r;
		struct sbuf s;
		char err[256];

		sbuf_init(&s);
		sbuf_add(&s, NAT_HEAD);
		for (unsigned c = 1; c < nchains; c++)
			sbuf_printf(&s, ":U%u - [0:0]\n", c);
		for (unsigned c = 0; c < nchains; c++) {
			char name[16];

			snprintf(name, sizeof(name), c ? "U%u" : "PREROUTING", c);
			for (unsigned k = rnd(&g, 4); k > 0; k--)
				rnd_rule(&g, &s, name, nchains, c);
		}
		sbuf_add(&s, "COMMIT\n");
		r = load(s.buf);
		if (rules_uplink(r, "eth0", &UPLA, 1, NULL, 0, &u, err, sizeof(err)) != 0)
			fail_msg("%s\n%s", err, s.buf);
		for (unsigned p = 0; p < 2; p++) {
			for (uint32_t port = 0; port < 260; port++) {
				struct tpkt t;
				struct nf_ctx ctx = { 0 };

				if (p)
					tp_udp(&t, IP4(203, 0, 113, 9), UPL, 40000, (uint16_t)port, 0);
				else
					tp_tcp(&t, &(struct tcp_spec){ .src = IP4(203, 0, 113, 9),
								      .dst = UPL, .sport = 40000,
								      .dport = (uint16_t)port,
								      .flags = 0x02, .win = 1 });
				ctx.pkt = &t.p;
				ctx.hook = NF_PREROUTING;
				ctx.ctstate = CT_NEW;
				strcpy(ctx.in, "eth0");
				rules_run(r, NF_NAT, &ctx, NULL);
				if (ctx.nat.kind != NAT_DNAT && ctx.nat.kind != NAT_REDIRECT)
					continue;
				caught++;
				if (!in_set(p ? &u.udp : &u.tcp, (uint16_t)port))
					fail_msg("%s %u caught but not in the set\n%s",
						 p ? "udp" : "tcp", port, s.buf);
			}
		}
		rules_free(r);
		sbuf_free(&s);
	}
	/* the generator does produce DNAT-ed packets */
	assert_true(caught > 1000);
}

/* ---- port sets within the cap ------------------------------------------- */

/* The reference: the ranges of bits[] with the smallest gaps closed until
 * the cap is met (offline); how many ports it covers. */
static unsigned ref_cover(const uint8_t *bits)
{
	static uint16_t lo[32768], hi[32768];
	static uint32_t gap[32768];
	unsigned n = 0, cover = 0;

	for (uint32_t p = 0; p <= UINT16_MAX; p++) {
		if (!bits[p])
			continue;
		if (n && hi[n - 1] + 1u == p) {
			hi[n - 1] = (uint16_t)p;
		} else {
			lo[n] = hi[n] = (uint16_t)p;
			n++;
		}
		cover++;
	}
	/* closing the n - cap smallest gaps adds their ports */
	for (unsigned i = 0; i + 1 < n; i++)
		gap[i] = (uint32_t)lo[i + 1] - hi[i] - 1;
	while (n > RULES_UPLINK_MAX_PORTS) {
		unsigned best = 0;

		for (unsigned i = 1; i + 1 < n; i++)
			if (gap[i] < gap[best])
				best = i;
		cover += gap[best];
		memmove(&gap[best], &gap[best + 1], (n - 2 - best) * sizeof(gap[0]));
		n--;
	}
	return cover;
}

static void assert_holds(const struct rules_portset *s, const uint8_t *bits, unsigned want_cover)
{
	unsigned cover = 0;

	assert_true(s->n <= RULES_UPLINK_MAX_PORTS);
	for (unsigned i = 0; i < s->n; i++) {
		assert_true(s->lo[i] <= s->hi[i]);
		if (i)
			assert_true((uint32_t)s->hi[i - 1] + 1 < s->lo[i]);
		cover += (unsigned)(s->hi[i] - s->lo[i]) + 1;
	}
	for (uint32_t p = 0; p <= UINT16_MAX; p++) {
		bool in = false;

		for (unsigned i = 0; i < s->n && !in; i++)
			in = p >= s->lo[i] && p <= s->hi[i];
		if (bits[p] && !in)
			fail_msg("port %u missing", p);
	}
	assert_int_equal(cover, want_cover);
}

/* Random sets of ranges, appended in order and as a union of two sets:
 * a superset of what went in, within the cap, and as small as merging the
 * smallest gaps offline gives. */
static void test_portset_cap(void **state)
{
	static uint8_t all[UINT16_MAX + 1], one[UINT16_MAX + 1];
	struct rng g = { test_seed() };

	(void)state;
	for (unsigned iter = 0; iter < 200; iter++) {
		struct rules_portset a = { 0 }, b = { 0 };
		unsigned added = 0, had = 0;
		uint32_t p = rnd(&g, 100);

		memset(all, 0, sizeof(all));
		memset(one, 0, sizeof(one));
		/* a: up to 60 ranges with gaps of all sizes (touching ones too) */
		for (unsigned k = rnd(&g, 60); k-- && p <= UINT16_MAX;) {
			uint32_t len = rnd(&g, 4) ? 1 : 1 + rnd(&g, 50);
			uint32_t hi = p + len - 1 > UINT16_MAX ? UINT16_MAX : p + len - 1;

			added += rules_portset_append(&a, (uint16_t)p, (uint16_t)hi);
			memset(&one[p], 1, hi - p + 1);
			p = hi + 1 + (rnd(&g, 3) ? rnd(&g, 2000) : rnd(&g, 3));
		}
		assert_holds(&a, one, ref_cover(one));
		/* what merging added is what a covers beyond its ranges */
		for (unsigned i = 0; i < UINT16_MAX + 1; i++)
			had += one[i];
		assert_int_equal(added, ref_cover(one) - had);
		/* a as it is now (merged gaps too) and b go into the union */
		for (unsigned i = 0; i < a.n; i++)
			memset(&all[a.lo[i]], 1, (size_t)(a.hi[i] - a.lo[i]) + 1);
		/* b: up to 32 ranges anywhere, then a ∪ b */
		memset(one, 0, sizeof(one));
		for (p = rnd(&g, 1000); p <= UINT16_MAX && b.n < RULES_UPLINK_MAX_PORTS;
		     p += 1 + rnd(&g, 4000)) {
			uint32_t end = p + rnd(&g, 10); /* drawn once: a range stays a range */
			uint32_t hi = end > UINT16_MAX ? UINT16_MAX : end;

			rules_portset_append(&b, (uint16_t)p, (uint16_t)hi);
			memset(&one[p], 1, hi - p + 1);
			memset(&all[p], 1, hi - p + 1);
			p = hi;
		}
		added = rules_portset_union(&a, &b);
		had = 0;
		for (unsigned i = 0; i < UINT16_MAX + 1; i++)
			had += all[i];
		assert_holds(&a, all, ref_cover(all));
		assert_int_equal(added, ref_cover(all) - had);
	}
}

/* A full set: a new range far off closes the smallest gap inside, a new
 * range close by joins the last one; the ports added are returned. */
static void test_portset_append(void **state)
{
	struct rules_portset s = { 0 };
	char out[512];

	(void)state;
	for (unsigned i = 0; i < RULES_UPLINK_MAX_PORTS; i++)
		assert_int_equal(rules_portset_append(&s, (uint16_t)(1000 * (i + 1) + (i == 5)),
						      (uint16_t)(1000 * (i + 1) + (i == 5))), 0);
	/* 32 ranges; the gap 6001 -> 7000 is a little smaller than the others */
	assert_int_equal(rules_portset_append(&s, 40000, 40000), 998);
	put_ports(out, sizeof(out), &s);
	assert_int_equal(s.n, RULES_UPLINK_MAX_PORTS);
	assert_non_null(strstr(out, ",6001-7000,"));
	/* touching the last one: no merge needed */
	assert_int_equal(rules_portset_append(&s, 40001, 40010), 0);
	/* 40020: the gap of 9 to 40010 is now the smallest */
	assert_int_equal(rules_portset_append(&s, 40020, 40020), 9);
	put_ports(out, sizeof(out), &s);
	assert_non_null(strstr(out, ",40000-40020"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_cases6),
		cmocka_unit_test(test_v6_no_address_caps),
		cmocka_unit_test(test_no_rules),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_no_address),
		cmocka_unit_test(test_property),
		cmocka_unit_test(test_portset_cap),
		cmocka_unit_test(test_portset_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
