/* SPDX-License-Identifier: MIT */
/* nat/hook: the whole pipeline — tables in order, conntrack, NAT once per
 * connection, routing, TTL, counters, rules swapped under live flows. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nat/ct.h"
#include "nat/hook.h"
#include "nat/pkt/pkt.h"
#include "nat/rules.h"
#include "nat/sbuf.h"
#include "nat/trace.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const uint32_t GW_ADDR = A(10, 8, 0, 1), UPLINK = A(192, 0, 2, 1);

static const char road_warrior[] =
	"*nat\n"
	":PREROUTING ACCEPT [0:0]\n"
	":INPUT ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A PREROUTING -d 192.0.2.1/32 -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.8.0.2:80\n"
	"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE\n"
	"COMMIT\n"
	"*filter\n"
	":INPUT ACCEPT [0:0]\n"
	":FORWARD DROP [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"-A FORWARD -i gw0 -o eth0 -j ACCEPT\n"
	"-A FORWARD -i eth0 -o gw0 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -j ACCEPT\n"
	"-A FORWARD -p udp -m udp --dport 9 -j REJECT --reject-with icmp-port-unreachable\n"
	"COMMIT\n";

/* gw0: 10.8.0.0/24 with gw at .1; everything else leaves by eth0, which
 * has the uplink address. */
static int route(void *arg, uint32_t daddr, struct nf_route *r)
{
	(void)arg;
	memset(r, 0, sizeof(*r));
	if (daddr == GW_ADDR || daddr == UPLINK) {
		r->kind = NF_ROUTE_LOCAL;
		strcpy(r->out, daddr == GW_ADDR ? "gw0" : "eth0");
		return 0;
	}
	r->kind = NF_ROUTE_FORWARD;
	strcpy(r->out, (daddr & 0xffffff00) == A(10, 8, 0, 0) ? "gw0" : "eth0");
	r->mtu = 1420;
	return 0;
}

/* The address each interface gives toward dst: the tunnel's 10.8.0.1, the
 * uplink's; the last question asked is kept. */
static const char *ifaddr_asked;
static uint32_t ifaddr_dst;

static uint32_t ifaddr(void *arg, const char *ifname, uint32_t dst)
{
	(void)arg;
	ifaddr_asked = ifname;
	ifaddr_dst = dst;
	if (!strcmp(ifname, "gw0"))
		return GW_ADDR;
	return strcmp(ifname, "eth0") ? 0 : UPLINK;
}

static struct rules *parse(const char *text)
{
	struct rules *r;
	struct rules_error err;

	if (rules_parse(&r, text, strlen(text), NULL, &err))
		fail_msg("rules:%u: %s", err.line, err.message);
	return r;
}

/* named: gw0 and eth0 are the tunnel and the uplink (named_gateway) */
static struct nf *gateway_as(const char *rules, bool named)
{
	struct nf_config cfg = {
		.route = route,
		.ifaddr = ifaddr,
		.uplink_addr = UPLINK,
		.nat_port_min = 61000,
		.nat_port_max = 61999,
	};
	struct nf *nf;

	if (named) {
		strcpy(cfg.tunnel, "gw0");
		strcpy(cfg.uplink, "eth0");
	}
	ct_config_default(&cfg.ct, 1024);
	cfg.ct.hash_seed = 3;
	assert_int_equal(nf_create(&nf, &cfg, rules ? parse(rules) : NULL), 0);
	return nf;
}

static struct nf *gateway(const char *rules)
{
	return gateway_as(rules, false);
}

struct packet {
	uint8_t buf[1600];
	struct pkt p;
};

static void build(struct packet *pk, const char *spec, uint32_t seq, uint32_t ack)
{
	struct trace_spec s;
	char err[128];
	size_t len;

	assert_int_equal(trace_spec_parse(&s, spec, err, sizeof(err)), 0);
	len = trace_build(&s, seq, ack, 1, NULL, 0, pk->buf, sizeof(pk->buf));
	assert_int_equal(pkt_parse(&pk->p, pk->buf, len), PKT_OK);
}

static void in(struct nf *nf, struct packet *pk, const char *spec, const char *iface,
	       uint32_t seq, uint32_t ack, struct nf_result *res, struct rules_trace *rt)
{
	struct nf_trace tr = { .rules = rt };

	build(pk, spec, seq, ack);
	nf_input(nf, &pk->p, iface, 5000000000ull, 77, res, &tr);
}

static bool has_hit(const struct nf *nf_unused, struct nf *nf, const struct rules_trace *rt,
		    enum nf_table t, const char *chain, unsigned rule)
{
	(void)nf_unused;
	for (unsigned i = 0; i < rt->n; i++)
		if (rt->hits[i].table == t && rt->hits[i].rule == rule &&
		    !strcmp(rules_chain_name(nf_rules(nf), t, rt->hits[i].chain), chain))
			return true;
	return false;
}

#define HIT(t, chain, rule) has_hit(NULL, nf, &rt, t, chain, rule)

static uint32_t ct_count(struct nf *nf)
{
	struct ct_stats st;

	ct_get_stats(nf_ct(nf), &st);
	return st.count;
}

static void test_masquerade_roundtrip(void **state)
{
	struct nf *nf = gateway(road_warrior);
	struct packet pk;
	struct nf_result res;
	struct rules_hit hits[32];
	struct rules_trace rt = { .hits = hits, .max = 32 };
	uint16_t natport;
	char spec[96];

	(void)state;
	in(nf, &pk, "tcp 10.8.0.2:40000 > 203.0.113.5:443 flags S", "gw0", 1000, 0, &res, &rt);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_string_equal(res.route.out, "eth0");
	assert_int_equal(res.ctstate, CT_NEW);
	assert_int_equal(pk.p.outer.saddr.ip, UPLINK);
	natport = pk.p.outer.sport;
	assert_true(natport >= 61000 && natport <= 61999);
	assert_int_equal(pk.p.outer.ttl, 63);
	assert_true(HIT(NF_FILTER, "FORWARD", 2));
	assert_true(HIT(NF_NAT, "POSTROUTING", 1));
	assert_int_equal(ct_count(nf), 1);

	rt.n = 0;
	snprintf(spec, sizeof(spec), "tcp 203.0.113.5:443 > 192.0.2.1:%u flags SA", natport);
	in(nf, &pk, spec, "eth0", 5000, 1001, &res, &rt);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_string_equal(res.route.out, "gw0");
	assert_int_equal(res.ctstate, CT_ESTABLISHED);
	assert_int_equal(pk.p.outer.daddr.ip, A(10, 8, 0, 2));
	assert_int_equal(pk.p.outer.dport, 40000);
	assert_true(HIT(NF_FILTER, "FORWARD", 1));
	/* the nat table is not consulted again */
	assert_false(HIT(NF_NAT, "POSTROUTING", 1));

	rt.n = 0;
	in(nf, &pk, "tcp 10.8.0.2:40000 > 203.0.113.5:443 flags A", "gw0", 1001, 5001, &res, &rt);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(res.ctstate, CT_ESTABLISHED);
	assert_int_equal(pk.p.outer.sport, natport);
	assert_int_equal(rt.n, 1);
	nf_destroy(nf);
}

static void test_unsolicited_dropped(void **state)
{
	struct nf *nf = gateway(road_warrior);
	struct packet pk;
	struct nf_result res;
	struct rules_hit hits[32];
	struct rules_trace rt = { .hits = hits, .max = 32 };
	struct sbuf save;

	(void)state;
	in(nf, &pk, "udp 203.0.113.5:53 > 10.8.0.2:5000", "eth0", 0, 0, &res, &rt);
	assert_int_equal(res.verdict, NF_DROP);
	assert_int_equal(res.drop, NF_DROP_RULE);
	assert_true(HIT(NF_FILTER, "FORWARD", 0));
	assert_int_equal(ct_count(nf), 0); /* never confirmed */
	sbuf_init(&save);
	rules_save(nf_rules(nf), true, &save);
	assert_non_null(strstr(save.buf, ":FORWARD DROP [1:28]"));
	sbuf_free(&save);
	nf_destroy(nf);
}

/* nf_local_fn for test_unsolicited_to_nat_port: the host gets nothing of
 * TCP/UDP from eth0 (gw's tc filter hid it). */
static bool host_gets(void *arg, const struct pkt *p, const char *iface, const struct nf_route *r)
{
	(void)arg;
	(void)r;
	return strcmp(iface, "eth0") || (p->outer.proto != IPPROTO_TCP && p->outer.proto != IPPROTO_UDP);
}

/* A bare ACK from the uplink to a NAT port goes through INPUT (counted) but
 * leaves no entry, so the NAT port stays free; an echo request the host
 * answers is tracked. */
static void test_unsolicited_to_nat_port(void **state)
{
	struct nf_config cfg = {
		.route = route, .uplink_addr = UPLINK, .nat_port_min = 61000,
		.nat_port_max = 61999, .local_gets = host_gets,
	};
	struct nf *nf;
	struct packet pk;
	struct nf_result res;

	(void)state;
	ct_config_default(&cfg.ct, 1024);
	assert_int_equal(nf_create(&nf, &cfg, parse(road_warrior)), 0);
	in(nf, &pk, "tcp 203.0.113.5:80 > 192.0.2.1:61000 flags A", "eth0", 1, 1, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(res.route.kind, NF_ROUTE_LOCAL);
	assert_int_equal(res.ctstate, CT_NEW);
	assert_int_equal(ct_count(nf), 0);
	in(nf, &pk, "udp 203.0.113.5:53 > 192.0.2.1:61001", "eth0", 0, 0, &res, NULL);
	assert_int_equal(ct_count(nf), 0);
	in(nf, &pk, "icmp 203.0.113.5:7 > 192.0.2.1 icmp 8/0", "eth0", 0, 0, &res, NULL);
	assert_int_equal(ct_count(nf), 1);
	nf_destroy(nf);
}

static void test_reject_and_renat(void **state)
{
	struct nf *nf = gateway(road_warrior);
	struct packet pk;
	struct nf_result res;
	struct rules_hit hits[32];
	struct rules_trace rt = { .hits = hits, .max = 32 };

	(void)state;
	in(nf, &pk, "udp 203.0.113.5:7 > 10.8.0.2:9", "eth0", 0, 0, &res, &rt);
	assert_int_equal(res.verdict, NF_REJECT);
	assert_int_equal(res.reject, REJECT_ICMP_PORT_UNREACH);
	/* the entry stays for the answer (nf_answer), out of the table */
	assert_true(res.ct_held);
	nf_release(nf, &res);
	assert_int_equal(ct_count(nf), 0);
	nf_destroy(nf);
}

/* A bad UDP checksum: INVALID off the uplink (conntrack checks it in
 * PREROUTING); from a peer the AEAD vouched for the packet, as the kernel's
 * WireGuard says with CHECKSUM_UNNECESSARY: NEW, forwarded as it is. */
static void test_peer_checksum(void **state)
{
	struct nf *nf = gateway_as(road_warrior, true);
	struct packet pk;
	struct nf_result res;

	(void)state;
	build(&pk, "udp 10.8.0.2:5000 > 203.0.113.5:53 len 40", 0, 0);
	pk.buf[pk.p.outer.end - 1] ^= 0x55;
	nf_input(nf, &pk.p, "gw0", 1, 1, &res, NULL);
	assert_int_equal(res.ctstate, CT_NEW);
	assert_int_equal(res.verdict, NF_ACCEPT);
	build(&pk, "udp 203.0.113.5:53 > 192.0.2.1:9999 len 40", 0, 0);
	pk.buf[pk.p.outer.end - 1] ^= 0x55;
	nf_input(nf, &pk.p, "eth0", 1, 1, &res, NULL);
	assert_int_equal(res.ctstate, CT_INVALID);
	nf_destroy(nf);
}

static void test_ttl(void **state)
{
	struct nf *nf = gateway(road_warrior);
	struct packet pk;
	struct nf_result res;

	(void)state;
	build(&pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", 0, 0);
	pkt_set_ttl(&pk.p, 1);
	nf_input(nf, &pk.p, "gw0", 1, 1, &res, NULL);
	assert_int_equal(res.verdict, NF_DROP);
	assert_int_equal(res.drop, NF_DROP_TTL);
	assert_int_equal(res.ttl_in, 1);
	assert_true(res.ct_held);
	nf_release(nf, &res);
	assert_int_equal(ct_count(nf), 0);
	/* TTL 2 leaves with 1 */
	build(&pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", 0, 0);
	pkt_set_ttl(&pk.p, 2);
	nf_input(nf, &pk.p, "gw0", 1, 1, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(pk.p.outer.ttl, 1);
	nf_destroy(nf);
}

static void test_dnat_port_forward(void **state)
{
	struct nf *nf = gateway(road_warrior);
	struct packet pk;
	struct nf_result res;
	struct rules_hit hits[32];
	struct rules_trace rt = { .hits = hits, .max = 32 };

	(void)state;
	in(nf, &pk, "tcp 198.51.100.9:3333 > 192.0.2.1:8080 flags S", "eth0", 1000, 0, &res, &rt);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_string_equal(res.route.out, "gw0");
	assert_int_equal(pk.p.outer.daddr.ip, A(10, 8, 0, 2));
	assert_int_equal(pk.p.outer.dport, 80);
	assert_int_equal(pk.p.outer.saddr.ip, A(198, 51, 100, 9));
	assert_true(HIT(NF_NAT, "PREROUTING", 1));
	assert_true(HIT(NF_FILTER, "FORWARD", 3));
	/* the reply leaves from the uplink address and port 8080 */
	rt.n = 0;
	in(nf, &pk, "tcp 10.8.0.2:80 > 198.51.100.9:3333 flags SA", "gw0", 5000, 1001, &res, &rt);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_string_equal(res.route.out, "eth0");
	assert_int_equal(pk.p.outer.saddr.ip, UPLINK);
	assert_int_equal(pk.p.outer.sport, 8080);
	nf_destroy(nf);
}

/* Hairpin: a peer reaches another through the uplink address's DNAT-ed
 * port; MASQUERADE takes the address of the interface the packet leaves by
 * (the tunnel's, asked toward the DNAT-ed destination) and keeps the port,
 * while out of the uplink it takes the uplink's and a NatPorts port. */
static void test_masquerade_out_interface(void **state)
{
	struct nf *nf = gateway("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
				":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
				"-A PREROUTING -d 192.0.2.1/32 -p tcp -m tcp --dport 8080 "
				"-j DNAT --to-destination 10.8.0.3:80\n"
				"-A POSTROUTING -s 10.8.0.0/24 -j MASQUERADE\nCOMMIT\n");
	struct packet pk;
	struct nf_result res;

	(void)state;
	in(nf, &pk, "tcp 10.8.0.2:40000 > 192.0.2.1:8080 flags S", "gw0", 1000, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_string_equal(res.route.out, "gw0");
	assert_string_equal(ifaddr_asked, "gw0");
	assert_int_equal(ifaddr_dst, A(10, 8, 0, 3));
	assert_int_equal(pk.p.outer.saddr.ip, GW_ADDR);
	assert_int_equal(pk.p.outer.sport, 40000);
	assert_int_equal(pk.p.outer.daddr.ip, A(10, 8, 0, 3));
	assert_int_equal(pk.p.outer.dport, 80);
	/* the answer comes back to the tunnel address and leaves as what the
	 * first peer asked for */
	in(nf, &pk, "tcp 10.8.0.3:80 > 10.8.0.1:40000 flags SA", "gw0", 5000, 1001, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(res.ctstate, CT_ESTABLISHED);
	assert_string_equal(res.route.out, "gw0");
	assert_int_equal(pk.p.outer.saddr.ip, UPLINK);
	assert_int_equal(pk.p.outer.sport, 8080);
	assert_int_equal(pk.p.outer.daddr.ip, A(10, 8, 0, 2));
	assert_int_equal(pk.p.outer.dport, 40000);
	/* out of the uplink: the uplink's address, a NatPorts port */
	in(nf, &pk, "tcp 10.8.0.2:40001 > 203.0.113.5:443 flags S", "gw0", 1000, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_string_equal(ifaddr_asked, "eth0");
	assert_int_equal(pk.p.outer.saddr.ip, UPLINK);
	assert_true(pk.p.outer.sport >= 61000 && pk.p.outer.sport <= 61999);
	nf_destroy(nf);
}

static void test_local_and_untracked(void **state)
{
	struct nf *nf = gateway("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
				"-A PREROUTING -p udp -m udp --dport 5353 -j NOTRACK\nCOMMIT\n"
				"*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
				":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n");
	struct packet pk;
	struct nf_result res;

	(void)state;
	/* to gw's own address: delivered to the host, nothing forwarded */
	in(nf, &pk, "udp 10.8.0.2:5000 > 10.8.0.1:53", "gw0", 0, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(res.route.kind, NF_ROUTE_LOCAL);
	assert_int_equal(pk.p.outer.ttl, 64);
	/* NOTRACK: untracked, and not masqueraded */
	in(nf, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:5353", "gw0", 0, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(res.ctstate, CT_UNTRACKED);
	assert_int_equal(pk.p.outer.saddr.ip, A(10, 8, 0, 2));
	nf_destroy(nf);
}

/* -m addrtype learns gw's addresses, and the interface each is on, from
 * the routing callback; DNAT-ed destinations are looked at anew. */
static void test_addrtype(void **state)
{
	struct nf *nf = gateway("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
				":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
				"-A PREROUTING -i eth0 -p udp --dport 2222 -j DNAT --to-destination 10.8.0.1:22\n"
				"COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
				":OUTPUT ACCEPT [0:0]\n"
				"-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in -j DROP\n"
				"-A FORWARD -m addrtype ! --src-type UNICAST -j ACCEPT\n"
				"-A FORWARD -m addrtype --src-type UNICAST --dst-type UNICAST -j DROP\n"
				"-A OUTPUT -m addrtype ! --src-type LOCAL -j DROP\n"
				"-A OUTPUT -m addrtype --src-type LOCAL --limit-iface-out "
				"-j REJECT --reject-with icmp-admin-prohibited\n"
				"COMMIT\n");
	struct packet pk;
	struct nf_result res;

	(void)state;
	/* --limit-iface-in: only the addresses of the interface it came by */
	in(nf, &pk, "udp 203.0.113.5:5000 > 192.0.2.1:53", "eth0", 0, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_DROP);
	in(nf, &pk, "udp 203.0.113.5:5000 > 10.8.0.1:53", "eth0", 0, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(res.route.kind, NF_ROUTE_LOCAL);
	in(nf, &pk, "udp 10.8.0.2:5000 > 10.8.0.1:53", "gw0", 0, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_DROP);
	/* DNAT to gw0's address: INPUT sees the new destination */
	in(nf, &pk, "udp 203.0.113.5:5000 > 192.0.2.1:2222", "eth0", 0, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(pk.p.outer.daddr.ip, GW_ADDR);
	/* --src-type on forwarded packets */
	in(nf, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", "gw0", 0, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_DROP);
	/* --src-type LOCAL on the host's packets, --limit-iface-out */
	build(&pk, "udp 10.8.0.9:5000 > 203.0.113.5:53", 0, 0);
	nf_output(nf, &pk.p, NULL, 5000000000ull, 1, &res, NULL);
	assert_int_equal(res.verdict, NF_DROP);
	build(&pk, "udp 10.8.0.1:5000 > 203.0.113.5:53", 0, 0);
	nf_output(nf, &pk.p, NULL, 5000000000ull, 1, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	build(&pk, "udp 192.0.2.1:5000 > 203.0.113.5:53", 0, 0);
	nf_output(nf, &pk.p, NULL, 5000000000ull, 1, &res, NULL);
	assert_int_equal(res.verdict, NF_REJECT);
	nf_destroy(nf);
}

/* New rules, same conntrack: the NAT binding of a live flow survives. */
static void test_swap_keeps_flows(void **state)
{
	struct nf *nf = gateway(road_warrior);
	struct packet pk;
	struct nf_result res;
	uint16_t natport;
	char spec[96];

	(void)state;
	in(nf, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", "gw0", 0, 0, &res, NULL);
	natport = pk.p.outer.sport;
	rules_free(nf_set_rules(nf, parse("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
					  ":OUTPUT ACCEPT [0:0]\nCOMMIT\n")));
	snprintf(spec, sizeof(spec), "udp 203.0.113.5:53 > 192.0.2.1:%u", natport);
	in(nf, &pk, spec, "eth0", 0, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(res.ctstate, CT_ESTABLISHED);
	assert_int_equal(pk.p.outer.daddr.ip, A(10, 8, 0, 2));
	assert_int_equal(pk.p.outer.dport, 5000);
	nf_destroy(nf);
}

/* A batch gives what one-by-one gives. */
static void test_batch(void **state)
{
	struct nf *nf = gateway(road_warrior);
	struct packet a, b, c;
	struct pkt *pp[3] = { &a.p, &b.p, &c.p };
	struct nf_result res[3];
	const uint32_t rnd[3] = { 1, 2, 3 };

	(void)state;
	build(&a, "udp 10.8.0.2:5000 > 203.0.113.5:53", 0, 0);
	build(&b, "udp 10.8.0.3:5000 > 203.0.113.5:53", 0, 0);
	build(&c, "udp 203.0.113.5:53 > 10.8.0.2:5000", 0, 0);
	nf_input_batch(nf, pp, 3, "gw0", 1, rnd, res);
	assert_int_equal(res[0].verdict, NF_ACCEPT);
	assert_int_equal(res[1].verdict, NF_ACCEPT);
	assert_int_equal(a.p.outer.saddr.ip, UPLINK);
	assert_int_equal(b.p.outer.saddr.ip, UPLINK);
	assert_int_not_equal(a.p.outer.sport, b.p.outer.sport);
	/* in by gw0 to a peer: FORWARD -i gw0 -o eth0 does not match */
	assert_int_equal(res[2].verdict, NF_DROP);
	assert_int_equal(ct_count(nf), 2);
	nf_destroy(nf);
}

/* gateway() with the interface names gw gives nf: gw0 the tunnel, eth0 the
 * uplink (rp_filter, nf_from_host, the tunnel's addresses). */
static struct nf *named_gateway(const char *rules)
{
	return gateway_as(rules, true);
}

static const char accept_all[] =
	"*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	"-A PREROUTING -i eth0 -p udp -m udp --dport 53 -j DNAT --to-destination 169.254.169.254\n"
	"-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE\nCOMMIT\n"
	"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	"-A FORWARD -d 169.254.0.0/16 -j ACCEPT\nCOMMIT\n";

/* RFC 3927 2.7: link-local is never forwarded, whatever FORWARD says (the
 * cloud's metadata service); the host's own link-local is not forwarding. */
static void test_link_local(void **state)
{
	struct nf *nf = named_gateway(accept_all);
	struct packet pk;
	struct nf_result res;
	static const struct {
		const char *pkt, *in;
		enum nf_drop drop;
	} cases[] = {
		{ "tcp 10.8.0.2:40000 > 169.254.169.254:80 flags S", "gw0", NF_DROP_LINK_LOCAL },
		{ "udp 10.8.0.2:40000 > 169.254.0.1:53", "gw0", NF_DROP_LINK_LOCAL },
		{ "icmp 169.254.3.4:7 > 10.8.0.2", "eth0", NF_DROP_LINK_LOCAL },
		{ "udp 198.51.100.2:1000 > 192.0.2.1:53", "eth0", NF_DROP_LINK_LOCAL }, /* DNAT-ed */
		{ "tcp 10.8.0.2:40000 > 169.253.255.255:80 flags S", "gw0", NF_DROP_NONE },
		{ "tcp 10.8.0.2:40000 > 169.255.0.1:80 flags S", "gw0", NF_DROP_NONE },
		{ "tcp 10.8.0.2:40001 > 198.51.100.2:80 flags S", "gw0", NF_DROP_NONE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in(nf, &pk, cases[i].pkt, cases[i].in, 1, 0, &res, NULL);
		if (res.drop != cases[i].drop)
			fail_msg("case %zu (%s): drop %s, want %s", i, cases[i].pkt,
				 nf_drop_name(res.drop), nf_drop_name(cases[i].drop));
		assert_int_equal(res.verdict, cases[i].drop ? NF_DROP : NF_ACCEPT);
	}
	assert_true(nf_link_local(A(169, 254, 169, 254)));
	assert_false(nf_link_local(A(169, 253, 169, 254)));
	assert_int_equal(ct_count(nf), 3); /* only the accepted ones */
	assert_string_equal(nf_drop_name(NF_DROP_LINK_LOCAL), "link_local");
	nf_destroy(nf);
}

/* Strict rp_filter: the tunnel's sources only from peers; the host's own
 * from nowhere (martian, as before). */
static void test_rp_filter(void **state)
{
	struct nf *nf = named_gateway(accept_all), *unnamed = gateway(NULL);
	struct packet pk;
	struct nf_result res;
	static const struct {
		const char *pkt, *in;
		enum nf_drop drop;
	} cases[] = {
		{ "udp 10.8.0.3:5353 > 10.8.0.2:5353", "eth0", NF_DROP_RP_FILTER },
		{ "udp 10.8.0.200:5353 > 192.0.2.1:5353", "eth0", NF_DROP_RP_FILTER },
		{ "tcp 10.8.0.3:1000 > 198.51.100.2:80 flags S", "lan1", NF_DROP_RP_FILTER },
		{ "udp 10.8.0.1:5353 > 10.8.0.2:5353", "eth0", NF_DROP_MARTIAN },
		{ "udp 192.0.2.1:5353 > 10.8.0.2:5353", "eth0", NF_DROP_MARTIAN },
		{ "udp 198.51.100.2:5353 > 10.8.0.2:5353", "eth0", NF_DROP_NONE },
		{ "udp 10.8.0.3:5353 > 10.8.0.2:5353", "gw0", NF_DROP_NONE }, /* a peer's */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in(nf, &pk, cases[i].pkt, cases[i].in, 1, 0, &res, NULL);
		if (res.drop != cases[i].drop)
			fail_msg("case %zu (%s in %s): drop %s, want %s", i, cases[i].pkt,
				 cases[i].in, nf_drop_name(res.drop), nf_drop_name(cases[i].drop));
	}
	/* without the interface names nf cannot tell (the library's default) */
	in(unnamed, &pk, cases[0].pkt, "eth0", 1, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	nf_destroy(nf);
	nf_destroy(unnamed);
}

/* Off the uplink to gw's tunnel Address: INPUT decides first, what it
 * accepts is dropped (the host's answer would leave past gw). */
static void test_uplink_tunnel_addr(void **state)
{
	static const char input_drop[] =
		"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		"-A INPUT -i eth0 -p udp -j DROP\nCOMMIT\n";
	struct nf *nf = named_gateway(input_drop);
	struct packet pk;
	struct nf_result res;
	struct rules_hit hits[32];
	struct rules_trace rt = { .hits = hits, .max = 32 };

	(void)state;
	in(nf, &pk, "tcp 198.51.100.2:1000 > 10.8.0.1:53 flags S", "eth0", 1, 0, &res, &rt);
	assert_int_equal(res.verdict, NF_DROP);
	assert_int_equal(res.drop, NF_DROP_UPLINK_TUNNEL);
	assert_true(HIT(NF_FILTER, "INPUT", 0)); /* INPUT's policy saw it */
	assert_int_equal(ct_count(nf), 0);
	rt.n = 0;
	in(nf, &pk, "udp 198.51.100.2:1000 > 10.8.0.1:53", "eth0", 1, 0, &res, &rt);
	assert_int_equal(res.drop, NF_DROP_RULE);
	assert_true(HIT(NF_FILTER, "INPUT", 1));
	in(nf, &pk, "icmp 198.51.100.2:7 > 10.8.0.1", "eth0", 1, 0, &res, NULL);
	assert_int_equal(res.drop, NF_DROP_UPLINK_TUNNEL);
	/* from a peer it is the host's; the uplink's own address from the
	 * uplink too */
	in(nf, &pk, "tcp 10.8.0.2:1000 > 10.8.0.1:53 flags S", "gw0", 1, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(res.route.kind, NF_ROUTE_LOCAL);
	in(nf, &pk, "icmp 198.51.100.2:7 > 192.0.2.1", "eth0", 1, 0, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_int_equal(res.route.kind, NF_ROUTE_LOCAL);
	nf_destroy(nf);
}

/* From the host's TUN: made by the host (its source is the host's) goes
 * through OUTPUT; forwarded by it through FORWARD; a tunnel source is
 * spoofed. */
static void test_from_host(void **state)
{
	struct nf *nf = named_gateway(road_warrior), *open = named_gateway(accept_all);
	struct packet pk;
	struct nf_result res;
	struct rules_hit hits[32];
	struct rules_trace rt = { .hits = hits, .max = 32 };
	struct nf_trace tr = { .rules = &rt };

	(void)state;
	build(&pk, "tcp 10.8.0.1:5000 > 10.8.0.2:80 flags S", 1, 0);
	nf_from_host(nf, &pk.p, NULL, 5000000000ull, 1, &res, &tr);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_string_equal(res.route.out, "gw0");
	assert_true(tr.n_steps >= 2);
	assert_int_equal(tr.steps[0].hook, NF_OUTPUT);
	for (unsigned i = 0; i < tr.n_steps; i++)
		assert_int_not_equal(tr.steps[i].hook, NF_FORWARD);
	assert_int_equal(pk.p.outer.ttl, 64); /* not forwarded */
	build(&pk, "tcp 192.0.2.1:5001 > 10.8.0.2:80 flags S", 1, 0);
	nf_from_host(nf, &pk.p, NULL, 5000000000ull, 1, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);

	/* a LAN host's, forwarded by the host: FORWARD DROP holds it */
	rt.n = 0;
	tr.n_steps = 0;
	build(&pk, "tcp 198.51.100.2:5000 > 10.8.0.2:80 flags S", 1, 0);
	nf_from_host(nf, &pk.p, NULL, 5000000000ull, 1, &res, &tr);
	assert_int_equal(res.verdict, NF_DROP);
	assert_int_equal(res.drop, NF_DROP_RULE);
	assert_true(HIT(NF_FILTER, "FORWARD", 0));
	assert_int_equal(ct_count(nf), 2); /* the host's two, not this one */
	/* ... and FORWARD ACCEPT lets it through, one hop more */
	build(&pk, "tcp 198.51.100.2:5000 > 10.8.0.2:80 flags S", 1, 0);
	nf_from_host(open, &pk.p, NULL, 5000000000ull, 1, &res, NULL);
	assert_int_equal(res.verdict, NF_ACCEPT);
	assert_string_equal(res.route.out, "gw0");
	assert_int_equal(pk.p.outer.ttl, 63);
	/* a peer's address from the host is spoofed */
	build(&pk, "tcp 10.8.0.3:5000 > 10.8.0.2:80 flags S", 1, 0);
	nf_from_host(open, &pk.p, NULL, 5000000000ull, 1, &res, NULL);
	assert_int_equal(res.drop, NF_DROP_RP_FILTER);
	/* and link-local is not forwarded from there either */
	build(&pk, "udp 169.254.1.1:68 > 10.8.0.2:67", 1, 0);
	nf_from_host(open, &pk.p, NULL, 5000000000ull, 1, &res, NULL);
	assert_int_equal(res.drop, NF_DROP_LINK_LOCAL);
	nf_destroy(nf);
	nf_destroy(open);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_masquerade_roundtrip),
		cmocka_unit_test(test_unsolicited_dropped),
		cmocka_unit_test(test_unsolicited_to_nat_port),
		cmocka_unit_test(test_reject_and_renat),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_peer_checksum),
		cmocka_unit_test(test_dnat_port_forward),
		cmocka_unit_test(test_masquerade_out_interface),
		cmocka_unit_test(test_local_and_untracked),
		cmocka_unit_test(test_addrtype),
		cmocka_unit_test(test_swap_keeps_flows),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_link_local),
		cmocka_unit_test(test_rp_filter),
		cmocka_unit_test(test_uplink_tunnel_addr),
		cmocka_unit_test(test_from_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
