/* SPDX-License-Identifier: MIT */
/* nat/reject: the ICMP errors and TCP resets REJECT answers with. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"
#include "nat/reject.h"
#include "nat/trace.h"

static void build_q(uint8_t *buf, struct pkt *p, const char *spec, uint32_t seq, uint32_t ack,
		    const uint8_t *quote, size_t qlen)
{
	struct trace_spec s;
	char err[128];
	size_t len;

	assert_int_equal(trace_spec_parse(&s, spec, err, sizeof(err)), 0);
	len = trace_build(&s, seq, ack, 9, quote, qlen, buf, 1600);
	assert_true(len > 0);
	assert_int_equal(pkt_parse(p, buf, len), PKT_OK);
}

static void build(uint8_t *buf, struct pkt *p, const char *spec, uint32_t seq, uint32_t ack)
{
	build_q(buf, p, spec, seq, ack, NULL, 0);
}

static void test_port_unreachable(void **state)
{
	uint8_t in[1600], out[1600];
	struct pkt p, r;
	size_t n;

	(void)state;
	build(in, &p, "udp 10.8.0.2:5000 > 10.8.0.1:53 len 100", 0, 0);
	n = reject_build(&p, REJECT_ICMP_PORT_UNREACH, 0x0a080001, 42, out, sizeof(out));
	assert_int_equal(n, 20 + 8 + 100);
	assert_int_equal(pkt_parse(&r, out, n), PKT_OK);
	assert_int_equal(r.outer.proto, IPPROTO_ICMP);
	assert_int_equal(r.outer.icmp_type, 3);
	assert_int_equal(r.outer.icmp_code, 3);
	assert_int_equal(r.outer.saddr.ip, 0x0a080001);
	assert_int_equal(r.outer.daddr.ip, 0x0a080002);
	assert_int_equal(r.outer.ttl, 64);
	assert_int_equal(out[1], 0xc0); /* precedence: internetwork control */
	assert_true(r.has_inner);
	assert_int_equal(r.inner.saddr.ip, 0x0a080002);
	assert_int_equal(r.inner.sport, 5000);
	assert_memory_equal(out + 28, in, 100);
	assert_int_equal(csum_fold(csum_add(0, out + 20, n - 20)), 0);
}

static void test_codes_and_quote_limit(void **state)
{
	static const struct { enum reject_with with; uint8_t code; } codes[] = {
		{ REJECT_ICMP_NET_UNREACH, 0 }, { REJECT_ICMP_HOST_UNREACH, 1 },
		{ REJECT_ICMP_PROTO_UNREACH, 2 }, { REJECT_ICMP_PORT_UNREACH, 3 },
		{ REJECT_ICMP_NET_PROHIBITED, 9 }, { REJECT_ICMP_HOST_PROHIBITED, 10 },
		{ REJECT_ICMP_ADMIN_PROHIBITED, 13 },
	};
	uint8_t in[1600], out[1600];
	struct pkt p;

	(void)state;
	build(in, &p, "udp 10.8.0.2:5000 > 203.0.113.5:53 len 1400", 0, 0);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		size_t n = reject_build(&p, codes[i].with, 0x0a080001, 1, out, sizeof(out));

		assert_int_equal(n, REJECT_ICMP_QUOTE_MAX);
		assert_int_equal(out[21], codes[i].code);
	}
	/* too small a buffer: nothing */
	assert_int_equal(reject_build(&p, REJECT_ICMP_PORT_UNREACH, 1, 1, out, 100), 0);
	/* fragmentation needed carries the MTU */
	assert_int_equal(icmp_error_build(&p, 3, 4, 1420, 1, 1, out, sizeof(out)), REJECT_ICMP_QUOTE_MAX);
	assert_int_equal(be16_get(out + 26), 1420);
}

static void test_tcp_reset(void **state)
{
	uint8_t in[1600], out[64];
	struct pkt p, r;
	size_t n;

	(void)state;
	/* a SYN: RST|ACK acknowledging it, seq 0 */
	build(in, &p, "tcp 10.8.0.2:40000 > 203.0.113.5:443 flags S", 1000, 0);
	n = reject_build(&p, REJECT_TCP_RESET, 0, 0, out, sizeof(out));
	assert_int_equal(n, 40);
	assert_int_equal(pkt_parse(&r, out, n), PKT_OK);
	assert_int_equal(r.outer.saddr.ip, 0xcb007105);
	assert_int_equal(r.outer.daddr.ip, 0x0a080002);
	assert_int_equal(r.outer.sport, 443);
	assert_int_equal(r.outer.dport, 40000);
	assert_int_equal(r.outer.tcp_flags, TCP_RST | TCP_ACK);
	assert_int_equal(be32_get(out + 24), 0);
	assert_int_equal(be32_get(out + 28), 1001);
	assert_int_equal(be16_get(out + 6), 0x4000); /* DF */
	assert_int_equal(csum_fold(csum_add(csum_pseudo(r.outer.saddr.ip, r.outer.daddr.ip, 6, 20), out + 20, 20)), 0);
	/* data with ACK: RST with seq = their ack */
	build(in, &p, "tcp 10.8.0.2:40000 > 203.0.113.5:443 flags PA len 140", 5000, 777);
	n = reject_build(&p, REJECT_TCP_RESET, 0, 0, out, sizeof(out));
	assert_int_equal(n, 40);
	assert_int_equal(out[33], TCP_RST);
	assert_int_equal(be32_get(out + 24), 777);
	/* never a reset for a reset, nor tcp-reset for UDP */
	build(in, &p, "tcp 10.8.0.2:40000 > 203.0.113.5:443 flags R", 5000, 0);
	assert_int_equal(reject_build(&p, REJECT_TCP_RESET, 0, 0, out, sizeof(out)), 0);
	build(in, &p, "udp 10.8.0.2:40000 > 203.0.113.5:443", 0, 0);
	assert_int_equal(reject_build(&p, REJECT_TCP_RESET, 0, 0, out, sizeof(out)), 0);
}

static void test_no_answer(void **state)
{
	uint8_t in[1600], out[1600];
	struct pkt p;

	(void)state;
	/* an ICMP error is never answered */
	build(out, &p, "udp 203.0.113.5:53 > 10.8.0.2:5000", 0, 0);
	build_q(in, &p, "icmp 10.8.0.2 > 203.0.113.5 icmp 11/0", 0, 0, out, 28);
	assert_int_equal(reject_build(&p, REJECT_ICMP_PORT_UNREACH, 1, 1, out, sizeof(out)), 0);
	/* an echo request is */
	build(in, &p, "icmp 10.8.0.2:1 > 203.0.113.5", 0, 0);
	assert_true(reject_build(&p, REJECT_ICMP_PORT_UNREACH, 1, 1, out, sizeof(out)) > 0);
	/* from 0.0.0.0 or multicast: no */
	build(in, &p, "udp 0.0.0.0:68 > 255.255.255.255:67", 0, 0);
	assert_int_equal(reject_build(&p, REJECT_ICMP_PORT_UNREACH, 1, 1, out, sizeof(out)), 0);
	build(in, &p, "udp 224.0.0.1:5 > 10.8.0.1:67", 0, 0);
	assert_int_equal(reject_build(&p, REJECT_ICMP_PORT_UNREACH, 1, 1, out, sizeof(out)), 0);
	/* a bad UDP checksum: no */
	build(in, &p, "udp 10.8.0.2:5000 > 203.0.113.5:53", 0, 0);
	in[27] ^= 1;
	assert_int_equal(reject_build(&p, REJECT_ICMP_PORT_UNREACH, 1, 1, out, sizeof(out)), 0);
	/* a later fragment: no */
	build(in, &p, "udp 10.8.0.2:5000 > 203.0.113.5:53 len 60", 0, 0);
	be16_put(in + 6, 185); /* offset 1480 */
	be16_put(in + 10, 0);
	be16_put(in + 10, csum_ip(in, 20));
	assert_int_equal(pkt_parse(&p, in, 60), PKT_OK);
	assert_int_equal(reject_build(&p, REJECT_ICMP_PORT_UNREACH, 1, 1, out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_unreachable),
		cmocka_unit_test(test_codes_and_quote_limit),
		cmocka_unit_test(test_tcp_reset),
		cmocka_unit_test(test_no_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
