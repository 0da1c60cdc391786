/* SPDX-License-Identifier: MIT */
/* nat/nat: bindings, port allocation, clashes, exhaustion, ICMP id and error
 * translation, hairpin, address flush — on a real conntrack. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nat/ct.h"
#include "nat/nat.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"
#include "nat/trace.h"
#include "tests/unit/util_ctpkt.h"
#include "tests/unit/util_rng.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const uint32_t CLIENT1 = A(10, 8, 0, 2), CLIENT2 = A(10, 8, 0, 3);
static const uint32_t SERVER = A(203, 0, 113, 5), UPLINK = A(192, 0, 2, 1);
static const uint32_t GW_ADDR = A(10, 8, 0, 1);
static const uint32_t SNAT_ADDR = A(198, 51, 100, 7);

struct packet {
	uint8_t buf[1600];
	struct pkt p;
};

static struct ct_table *table(uint32_t max)
{
	struct ct_config cfg;
	struct ct_table *t;

	ct_config_default(&cfg, max);
	cfg.hash_seed = 1;
	assert_int_equal(ct_create(&t, &cfg), 0);
	return t;
}

/* Build a packet from the trace syntax (TCP gets seq 1000 / ack 0). */
static void build(struct packet *pk, const char *spec, const uint8_t *quote, size_t qlen)
{
	struct trace_spec s;
	char err[128];
	size_t len;

	assert_int_equal(trace_spec_parse(&s, spec, err, sizeof(err)), 0);
	len = trace_build(&s, 1000, 0, 7, quote, qlen, pk->buf, sizeof(pk->buf));
	assert_true(len > 0);
	assert_int_equal(pkt_parse(&pk->p, pk->buf, len), PKT_OK);
}

/* Every checksum present is what a full computation gives. */
static void assert_sums(const struct pkt *p)
{
	const struct pkt_hdr *h = &p->outer;
	const uint8_t *l4 = p->data + h->l4;
	size_t l4len = h->end - h->l4;
	struct pkt again;

	assert_int_equal(csum_ip(p->data, (size_t)(h->l4 - h->ip)), be16_get(p->data + 10));
	if (h->proto == IPPROTO_ICMP) {
		uint8_t copy[1600];

		memcpy(copy, l4, l4len);
		copy[2] = copy[3] = 0;
		assert_int_equal(csum_icmp(copy, l4len), be16_get(l4 + 2));
	} else if (h->proto == IPPROTO_TCP || h->proto == IPPROTO_UDP) {
		uint16_t stored = be16_get(l4 + (h->proto == IPPROTO_TCP ? 16 : 6));

		if (h->proto == IPPROTO_TCP || stored)
			assert_int_equal(csum_fold(csum_add(csum_pseudo(h->saddr.ip, h->daddr.ip, h->proto,
									(uint16_t)l4len), l4, l4len)), 0);
	}
	/* the rewritten packet still parses */
	assert_int_equal(pkt_parse(&again, p->data, h->end), PKT_OK);
}

/* Conntrack at PREROUTING: the entry and direction of a packet. */
static struct ct_entry *track(struct ct_table *t, struct packet *pk, enum ct_state want,
			      enum ct_dir *dir)
{
	struct nf_ctx ctx = { .pkt = &pk->p, .now = 1000000000ull, .hook = NF_PREROUTING };

	ct_in(t, &ctx, true);
	assert_int_equal(ctx.ctstate, want);
	if (dir)
		*dir = ctx.ctdir;
	return ctx.ct;
}

static const struct nat_env env_default = {
	.masq_addr = { .ip6 = { A(192, 0, 2, 1) } },
	.uplink_addr = A(192, 0, 2, 1),
	.host_port_min = 61000,
	.host_port_max = 65535,
	.rnd = 12345,
};

/* A new connection NAT-ed at POSTROUTING by req, confirmed. */
static struct ct_entry *connect_nat(struct ct_table *t, struct packet *pk, const char *spec,
				    const struct nat_request *req, const struct nat_env *env,
				    int want)
{
	struct ct_entry *e;

	build(pk, spec, NULL, 0);
	e = track(t, pk, CT_NEW, NULL);
	assert_non_null(e);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_DST, &(struct nat_request){ NAT_NONE }, env), 0);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_SRC, req, env), want);
	if (want) {
		ct_abort(t, e);
		return NULL;
	}
	assert_int_equal(nat_packet(e, CT_DIR_ORIGINAL, NAT_MANIP_SRC, &pk->p, false), 0);
	assert_int_equal(ct_confirm(t, e, 1000000000ull), 0);
	assert_sums(&pk->p);
	return e;
}

static struct nat_request snat(uint32_t lo, uint32_t hi, uint16_t plo, uint16_t phi)
{
	struct nat_request r = { .kind = NAT_SNAT };

	r.range.flags = NAT_F_MAP_IPS;
	r.range.min_addr.ip = lo;
	r.range.max_addr.ip = hi;
	if (plo) {
		r.range.flags |= NAT_F_PROTO_SPECIFIED;
		r.range.min_port = plo;
		r.range.max_port = phi;
	}
	return r;
}

static void test_invert(void **state)
{
	struct ct_tuple in = ct_tuple4(CLIENT1, SERVER, 7, 8 << 8, 1);
	struct ct_tuple out;

	(void)state;
	assert_true(nat_tuple_invert(&out, &in));
	assert_int_equal(out.src.ip, SERVER);
	assert_int_equal(out.dst.ip, CLIENT1);
	assert_int_equal(out.sport, 7);
	assert_int_equal(out.dport, 0);
	in.dport = 3 << 8; /* unreachable: no inverse */
	assert_false(nat_tuple_invert(&out, &in));
	in = ct_tuple4(CLIENT1, SERVER, 1, 2, 6);
	assert_true(nat_tuple_invert(&out, &in));
	assert_int_equal(out.sport, 2);
	assert_int_equal(out.dport, 1);
	assert_int_equal(nat_hook_manip(NF_PREROUTING), NAT_MANIP_DST);
	assert_int_equal(nat_hook_manip(NF_OUTPUT), NAT_MANIP_DST);
	assert_int_equal(nat_hook_manip(NF_POSTROUTING), NAT_MANIP_SRC);
	assert_int_equal(nat_hook_manip(NF_INPUT), NAT_MANIP_SRC);
}

static void test_null_binding(void **state)
{
	struct ct_table *t = table(64);
	struct packet pk;
	struct ct_entry *e;

	(void)state;
	e = connect_nat(t, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", &(struct nat_request){ NAT_NONE },
			&env_default, 0);
	assert_int_equal(ct_entry_status(e) & (CT_S_SRC_NAT | CT_S_DST_NAT), 0);
	assert_true(ct_entry_status(e) & CT_S_NAT_DONE_SRC);
	assert_false(nat_needs_setup(e, NAT_MANIP_SRC));
	assert_int_equal(pk.p.outer.saddr.ip, CLIENT1);
	assert_int_equal(ct_entry_tuple(e, CT_DIR_REPLY)->dst.ip, CLIENT1);
	ct_destroy(t);
}

/* SNAT to a free address keeps the source port; the reply is de-NAT-ed. */
static void test_snat_keeps_port(void **state)
{
	struct ct_table *t = table(64);
	struct packet pk, reply;
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 0, 0);
	struct ct_entry *e, *re;
	enum ct_dir dir;

	(void)state;
	e = connect_nat(t, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", &r, &env_default, 0);
	assert_true(ct_entry_status(e) & CT_S_SRC_NAT);
	assert_int_equal(pk.p.outer.saddr.ip, SNAT_ADDR);
	assert_int_equal(pk.p.outer.sport, 5000);
	build(&reply, "udp 203.0.113.5:53 > 198.51.100.7:5000", NULL, 0);
	re = track(t, &reply, CT_ESTABLISHED, &dir);
	assert_ptr_equal(re, e);
	assert_int_equal(dir, CT_DIR_REPLY);
	assert_int_equal(nat_packet(re, dir, NAT_MANIP_DST, &reply.p, false), 0);
	assert_int_equal(reply.p.outer.daddr.ip, CLIENT1);
	assert_int_equal(reply.p.outer.dport, 5000);
	assert_int_equal(reply.p.outer.saddr.ip, SERVER);
	assert_sums(&reply.p);
	/* the reply at POSTROUTING (source manip) is left alone */
	assert_int_equal(nat_packet(re, dir, NAT_MANIP_SRC, &reply.p, false), 0);
	assert_int_equal(reply.p.outer.saddr.ip, SERVER);
	ct_destroy(t);
}

/* Two clients, one source port, one server: distinct NAT ports. */
static void test_port_clash(void **state)
{
	struct ct_table *t = table(64);
	struct packet a, b, ra, rb;
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 0, 0);
	struct ct_entry *ea, *eb;
	enum ct_dir dir;
	char spec[96];

	(void)state;
	ea = connect_nat(t, &a, "tcp 10.8.0.2:40000 > 203.0.113.5:443 flags S", &r, &env_default, 0);
	eb = connect_nat(t, &b, "tcp 10.8.0.3:40000 > 203.0.113.5:443 flags S", &r, &env_default, 0);
	assert_int_equal(a.p.outer.sport, 40000);
	assert_int_not_equal(b.p.outer.sport, 40000);
	assert_true(b.p.outer.sport >= 1024);
	assert_int_equal(b.p.outer.saddr.ip, SNAT_ADDR);
	/* each SYN-ACK finds its own client */
	build(&ra, "tcp 203.0.113.5:443 > 198.51.100.7:40000 flags SA", NULL, 0);
	assert_ptr_equal(track(t, &ra, CT_ESTABLISHED, &dir), ea);
	nat_packet(ea, dir, NAT_MANIP_DST, &ra.p, false);
	assert_int_equal(ra.p.outer.daddr.ip, CLIENT1);
	snprintf(spec, sizeof(spec), "tcp 203.0.113.5:443 > 198.51.100.7:%u flags SA", b.p.outer.sport);
	build(&rb, spec, NULL, 0);
	assert_ptr_equal(track(t, &rb, CT_ESTABLISHED, &dir), eb);
	nat_packet(eb, dir, NAT_MANIP_DST, &rb.p, false);
	assert_int_equal(rb.p.outer.daddr.ip, CLIENT2);
	assert_int_equal(rb.p.outer.dport, 40000);
	assert_sums(&rb.p);
	ct_destroy(t);
}

/* MASQUERADE to the host's address: NatPorts only, even when the original
 * port is free (gw's design, so the host's own sockets never collide). */
static void test_masquerade_natports(void **state)
{
	struct ct_table *t = table(64);
	struct packet pk;
	struct nat_request m = { .kind = NAT_MASQUERADE };

	(void)state;
	connect_nat(t, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", &m, &env_default, 0);
	assert_int_equal(pk.p.outer.saddr.ip, UPLINK);
	assert_true(pk.p.outer.sport >= 61000);
	/* no uplink address: the packet cannot be masqueraded */
	struct nat_env none = env_default;

	memset(&none.masq_addr, 0, sizeof(none.masq_addr));
	connect_nat(t, &pk, "udp 10.8.0.2:5001 > 203.0.113.5:53", &m, &none, -EADDRNOTAVAIL);
	/* --to-ports is honoured as given */
	m.range.flags = NAT_F_PROTO_SPECIFIED;
	m.range.min_port = m.range.max_port = 2000;
	connect_nat(t, &pk, "udp 10.8.0.2:5002 > 203.0.113.5:53", &m, &env_default, 0);
	assert_int_equal(pk.p.outer.sport, 2000);
	ct_destroy(t);
}

/* A full port range: the next connection fails cleanly, entries intact. */
static void test_exhaustion(void **state)
{
	struct ct_table *t = table(64);
	struct packet pk;
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 7000, 7003);
	char spec[96];
	uint32_t seen = 0;

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(spec, sizeof(spec), "udp 10.8.0.%d:5000 > 203.0.113.5:53", 10 + i);
		connect_nat(t, &pk, spec, &r, &env_default, 0);
		assert_true(pk.p.outer.sport >= 7000 && pk.p.outer.sport <= 7003);
		seen |= 1u << (pk.p.outer.sport - 7000);
	}
	assert_int_equal(seen, 0xf);
	connect_nat(t, &pk, "udp 10.8.0.99:5000 > 203.0.113.5:53", &r, &env_default, -ENOSPC);
	/* the other destination port still has room */
	connect_nat(t, &pk, "udp 10.8.0.99:5000 > 203.0.113.5:54", &r, &env_default, 0);
	for (int i = 0; i < 4; i++) {
		struct ct_tuple tu = ct_tuple4(SERVER, SNAT_ADDR, 53, (uint16_t)(7000 + i), IPPROTO_UDP);
		enum ct_dir dir;
		struct ct_entry *e = ct_lookup(t, &tu, &dir);

		assert_non_null(e);
		assert_int_equal(dir, CT_DIR_REPLY);
		assert_int_equal(ct_entry_tuple(e, CT_DIR_ORIGINAL)->src.ip & 0xffffff00, A(10, 8, 0, 0));
	}
	ct_destroy(t);
}

/*
 * Reuse of closed connections' tuples, as Linux 6.18 does it (the same
 * scenarios against the kernel: tests/netns/23-nat-reuse-kernel.sh).  Four
 * connections from 10.8.0.2:40001-40004 fill SNAT to SNAT_ADDR:2000-2003,
 * with falling sequence numbers, and end by a server RST (CLOSE) or a FIN
 * close (TIME_WAIT).
 */
static const uint64_t T0 = 1000000000ull;

/* One segment through conntrack (and, for a new entry, SNAT by r and
 * confirmation).  Returns nat_setup's result (0 for a known entry). */
static uint32_t seg_tsval; /* non-zero: segments from the client carry this TSval */

static int seg(struct ct_table *t, const struct nat_request *r, bool from_client,
	       uint16_t port, uint8_t flags, uint32_t seq, uint32_t ack, struct ct_entry **out)
{
	struct tcp_spec s = { .flags = flags, .seq = seq, .ack = ack, .win = 64000 };
	struct nf_ctx ctx = { .now = T0, .hook = NF_PREROUTING };
	uint8_t ts[12] = { 1, 1, 8, 10 };
	struct tpkt tp;
	int ret = 0;

	if (from_client && seg_tsval) {
		ts[4] = (uint8_t)(seg_tsval >> 24);
		ts[5] = (uint8_t)(seg_tsval >> 16);
		ts[6] = (uint8_t)(seg_tsval >> 8);
		ts[7] = (uint8_t)seg_tsval;
		s.opt = ts;
		s.optlen = sizeof(ts);
	}

	if (from_client)
		s.src = CLIENT1, s.dst = SERVER, s.sport = port, s.dport = 443;
	else
		s.src = SERVER, s.dst = SNAT_ADDR, s.sport = 443, s.dport = port;
	tp_tcp(&tp, &s);
	ctx.pkt = &tp.p;
	assert_int_equal(ct_in(t, &ctx, true), 0);
	assert_non_null(ctx.ct);
	if (ctx.ctstate == CT_NEW && nat_needs_setup(ctx.ct, NAT_MANIP_SRC)) {
		assert_int_equal(nat_setup(t, ctx.ct, NAT_MANIP_DST,
					   &(struct nat_request){ NAT_NONE }, &env_default), 0);
		ret = nat_setup(t, ctx.ct, NAT_MANIP_SRC, r, &env_default);
		if (ret)
			ct_abort(t, ctx.ct);
		else
			assert_int_equal(ct_confirm(t, ctx.ct, T0), 0);
	}
	if (out)
		*out = ret ? NULL : ctx.ct;
	return ret;
}

static uint16_t nat_port(const struct ct_entry *e)
{
	return ct_entry_tuple(e, CT_DIR_REPLY)->dport;
}

static void fill_closed(struct ct_table *t, const struct nat_request *r, bool rst,
			struct ct_entry *old[4])
{
	enum { S = 0x02, A_ = 0x10, F = 0x01, R = 0x04 };

	for (int i = 1; i <= 4; i++) {
		uint32_t s = 1000000 - 100000 * (uint32_t)i;
		uint16_t sport = (uint16_t)(40000 + i), p;

		assert_int_equal(seg(t, r, true, sport, S, s, 0, &old[i - 1]), 0);
		p = nat_port(old[i - 1]);
		assert_true(p >= 2000 && p <= 2003);
		seg(t, r, false, p, S | A_, 5000, s + 1, NULL);
		seg(t, r, true, sport, A_, s + 1, 5001, NULL);
		if (rst) {
			seg(t, r, false, p, R, 5001, 0, NULL);
		} else {
			seg(t, r, true, sport, F | A_, s + 1, 5001, NULL);
			seg(t, r, false, p, A_, 5001, s + 2, NULL);
			seg(t, r, false, p, F | A_, 5001, s + 2, NULL);
			seg(t, r, true, sport, A_, s + 2, 5002, NULL);
		}
		assert_int_equal(ct_entry_tcp_state(old[i - 1]),
				 rst ? CT_TCP_CLOSE : CT_TCP_TIME_WAIT);
	}
}

static void reuse(bool rst)
{
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 2000, 2003);
	struct ct_entry *old[4], *e;
	struct ct_stats st;
	int gone = 0;

	/* a SYN whose sequence number is before the old ones': no tuple */
	struct ct_table *t = table(64);
	fill_closed(t, &r, rst, old);
	assert_int_equal(seg(t, &r, true, 40005, 0x02, 50, 0, &e), -ENOSPC);
	ct_get_stats(t, &st);
	assert_int_equal(st.count, 4);
	assert_int_equal(st.nat_evicted, 0);
	ct_destroy(t);

	/* after them: one old entry is removed and its tuple taken */
	t = table(64);
	fill_closed(t, &r, rst, old);
	assert_int_equal(seg(t, &r, true, 40005, 0x02, 99999999, 0, &e), 0);
	assert_int_equal(ct_entry_tcp_state(e), CT_TCP_SYN_SENT);
	assert_true(nat_port(e) >= 2000 && nat_port(e) <= 2003);
	ct_get_stats(t, &st);
	assert_int_equal(st.count, 4);
	assert_int_equal(st.nat_evicted, 1);
	for (int i = 0; i < 4; i++) {
		struct ct_tuple tu = ct_tuple4(CLIENT1, SERVER, (uint16_t)(40001 + i), 443, IPPROTO_TCP);

		gone += !ct_lookup(t, &tu, NULL);
	}
	assert_int_equal(gone, 1);
	ct_destroy(t);
}

static void test_reuse_close(void **state)
{
	(void)state;
	reuse(true);
}

static void test_reuse_time_wait(void **state)
{
	(void)state;
	reuse(false);
}

/* gw beyond Linux (RFC 6191): where the old connection and the new SYN carry
 * timestamps, the SYN's TSval must be after the old connection's last one
 * too, or the server's TIME_WAIT would refuse it. */
static void test_reuse_timestamps(void **state)
{
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 2000, 2003);
	struct ct_entry *old[4], *e;
	struct ct_table *t;
	struct ct_stats st;

	(void)state;
	/* the old connections' last TSval is 0x80001000 (past the sign bit:
	 * the comparison is serial, as PAWS's) */
	seg_tsval = 0x80001000;
	t = table(64);
	fill_closed(t, &r, false, old);
	seg_tsval = 0x80000fff;   /* sequence number new, TSval old: refused */
	assert_int_equal(seg(t, &r, true, 40005, 0x02, 99999999, 0, &e), -ENOSPC);
	seg_tsval = 0x80001001;   /* both new */
	assert_int_equal(seg(t, &r, true, 40006, 0x02, 99999999, 0, &e), 0);
	ct_get_stats(t, &st);
	assert_int_equal(st.nat_evicted, 1);
	assert_int_equal(st.count, 4);
	ct_destroy(t);
	/* a SYN without timestamps: the sequence number decides, as Linux */
	t = table(64);
	seg_tsval = 0x80001000;
	fill_closed(t, &r, false, old);
	seg_tsval = 0;
	assert_int_equal(seg(t, &r, true, 40005, 0x02, 99999999, 0, &e), 0);
	ct_destroy(t);
}

/* Only a connection that is over, NAT-ed, and TCP gives its tuple up. */
static void test_reuse_refused(void **state)
{
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 2000, 2000);
	struct ct_table *t = table(64);
	struct ct_entry *e;
	char spec[96];
	struct packet pk;

	(void)state;
	/* an established connection keeps its tuple */
	assert_int_equal(seg(t, &r, true, 40001, 0x02, 1000, 0, &e), 0);
	seg(t, &r, false, 2000, 0x12, 5000, 1001, NULL);
	seg(t, &r, true, 40001, 0x10, 1001, 5001, NULL);
	assert_int_equal(ct_entry_tcp_state(e), CT_TCP_ESTABLISHED);
	assert_int_equal(seg(t, &r, true, 40002, 0x02, 99999999, 0, NULL), -ENOSPC);
	/* a UDP flow is never taken over */
	ct_flush(t);
	for (int i = 0; i < 2; i++) {
		snprintf(spec, sizeof(spec), "udp 10.8.0.%d:5000 > 203.0.113.5:443", 2 + i);
		connect_nat(t, &pk, spec, &r, &env_default, i ? -ENOSPC : 0);
	}
	ct_destroy(t);
}

/*
 * ct's hot destinations (ct.h): the same random walk of connections
 * through two tables, one that keeps port bitmaps for the destinations the
 * search toils on and one that does not (hot_off), gets the same answer to
 * every packet -- the NAT port picked, the closed connection taken over,
 * the refusal -- while every bit agrees with ct_tuple_taken.  The walk:
 * SNAT to 256 ports; TCP from 2000 client ports to one server port, a
 * SYN each time with a later sequence number (some answered, then some
 * reset by the server: CLOSE, some closed by the client: TIME_WAIT, where
 * a new SYN from its ports kills it and starts anew; a few SYNs dropped
 * before NAT), UDP from
 * the same ports and from 2000 others to five more server ports; time
 * moves on, so CLOSE and UDP entries expire.  The ranges fill up, and seven
 * destinations contend for four bitmaps.
 */
enum { HOT_STEPS = 20000 };

/* One packet through t at now (SNAT by r with rnd for a new entry; none:
 * a new entry is dropped, as by FORWARD, before it is NAT-ed): what both
 * tables must agree on -- state and NAT port, or the refusal. */
static uint32_t hot_pkt(struct ct_table *t, const struct nat_request *r, uint32_t rnd,
			uint64_t now, struct tpkt *tp)
{
	struct nf_ctx ctx = { .pkt = &tp->p, .now = now, .hook = NF_PREROUTING };
	struct nat_env env = env_default;
	int ret;

	env.rnd = rnd;
	assert_int_equal(ct_in(t, &ctx, true), 0);
	if (!ctx.ct)
		return 0xff000000u | ctx.ctstate;
	if (!r && ctx.ctstate == CT_NEW) {
		ct_abort(t, ctx.ct);
		return 0xfd000000u;
	}
	if (ctx.ctstate == CT_NEW && nat_needs_setup(ctx.ct, NAT_MANIP_SRC)) {
		assert_int_equal(nat_setup(t, ctx.ct, NAT_MANIP_DST,
					   &(struct nat_request){ NAT_NONE }, &env), 0);
		ret = nat_setup(t, ctx.ct, NAT_MANIP_SRC, r, &env);
		if (ret) {
			ct_abort(t, ctx.ct);
			return 0xfe000000u | (uint32_t)-ret;
		}
		assert_int_equal(ct_confirm(t, ctx.ct, now), 0);
	}
	return (uint32_t)ctx.ctstate << 16 | ct_entry_tuple(ctx.ct, CT_DIR_REPLY)->dport;
}

/* A TCP segment of the walk: from CLIENT1:port to SERVER:443, or from
 * SERVER:443 to SNAT_ADDR:port (a NAT port), through hot_pkt. */
static uint32_t hot_tcp(struct ct_table *t, const struct nat_request *r, uint32_t rn,
			uint64_t now, bool from_client, uint16_t port, uint8_t flags, uint32_t seq,
			uint32_t ack)
{
	struct tcp_spec sp = { .src = from_client ? CLIENT1 : SERVER,
			       .dst = from_client ? SERVER : SNAT_ADDR,
			       .sport = from_client ? port : 443, .dport = from_client ? 443 : port,
			       .flags = flags, .seq = seq, .ack = ack, .win = 64000 };
	struct tpkt tp;

	tp_tcp(&tp, &sp);
	return hot_pkt(t, r, rn, now, &tp);
}

static size_t hot_walk(struct ct_table *t, uint64_t seed, uint32_t *out)
{
	enum { F = 0x01, S = 0x02, R = 0x04, A_ = 0x10 };
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 2000, 2255);
	struct rng g = { seed };
	uint64_t now = T0;
	uint32_t seq = 1000;
	size_t k = 0;

	for (int i = 0; i < HOT_STEPS; i++) {
		uint16_t c = (uint16_t)(40000 + rnd(&g, 2000)), port;
		uint32_t what = rnd(&g, 10), rn = (uint32_t)rnd64(&g), got;
		struct tpkt tp;

		now += rnd(&g, 10) * 1000000ull;
		ct_expire(t, now, 4096);
		seq += 100000;
		if (what >= 6) {
			tp_udp(&tp, what < 8 ? CLIENT1 : CLIENT2, SERVER, c,
			       what < 8 ? 443 : (uint16_t)(53 + rnd(&g, 5)), 8);
			out[k++] = hot_pkt(t, &r, rn, now, &tp);
			assert_true(ct_hot_check(t));
			continue;
		}
		/* one SYN in twelve dropped: one that reopened a closed
		 * connection leaves the old entry dying, its tuple free */
		out[k++] = got = hot_tcp(t, rn % 12 ? &r : NULL, rn, now, true, c, S, seq, 0);
		port = (uint16_t)got;
		if (!(got >> 24) && what < 4) {
			/* answered; then some reset by the server (CLOSE), some
			 * closed by the client (TIME_WAIT) */
			out[k++] = hot_tcp(t, &r, rn, now, false, port, S | A_, 5000, seq + 1);
			out[k++] = hot_tcp(t, &r, rn, now, true, c, A_, seq + 1, 5001);
			if (what < 2) {
				out[k++] = hot_tcp(t, &r, rn, now, false, port, R, 5001, 0);
			} else if (what < 3) {
				out[k++] = hot_tcp(t, &r, rn, now, true, c, F | A_, seq + 1, 5001);
				out[k++] = hot_tcp(t, &r, rn, now, false, port, F | A_, 5001, seq + 2);
				out[k++] = hot_tcp(t, &r, rn, now, true, c, A_, seq + 2, 5002);
			}
		}
		assert_true(ct_hot_check(t));
	}
	return k;
}

static void test_hot_same_answers(void **state)
{
	uint64_t seed = test_seed();
	uint32_t *oa = calloc(6 * HOT_STEPS, sizeof(*oa)), *ob = calloc(6 * HOT_STEPS, sizeof(*ob));
	struct ct_table *a = table(8192), *b;
	struct ct_stats sa, sb;
	struct ct_config cfg;
	size_t na, nb, full = 0;

	(void)state;
	assert_non_null(oa);
	assert_non_null(ob);
	ct_config_default(&cfg, 8192);
	cfg.hash_seed = 1;
	cfg.hot_off = true;
	assert_int_equal(ct_create(&b, &cfg), 0);
	na = hot_walk(a, seed, oa);
	nb = hot_walk(b, seed, ob);
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++)
		if (oa[i] != ob[i])
			fail_msg("packet %zu: %#x with bitmaps, %#x without", i, oa[i], ob[i]);
	ct_get_stats(a, &sa);
	ct_get_stats(b, &sb);
	/* bitmaps were built, replaced and searched, the harder phase took
	 * over closed connections, the ranges were full */
	assert_true(sa.nat_hot > CT_HOT_SLOTS);
	assert_true(sa.nat_hot_used > 1000);
	assert_int_equal(sb.nat_hot, 0);
	assert_int_equal(sb.nat_hot_used, 0);
	assert_true(sa.nat_evicted > 0);
	assert_int_equal(sa.nat_evicted, sb.nat_evicted);
	assert_int_equal(sa.count, sb.count);
	assert_int_equal(sa.expired, sb.expired);
	for (size_t i = 0; i < na; i++)
		full += oa[i] == (0xfe000000u | ENOSPC);
	assert_true(full > 0);
	ct_destroy(a);
	ct_destroy(b);
	free(oa);
	free(ob);
}

/* ICMP echo: a second client with the same id gets another id; replies are
 * mapped back. */
static void test_icmp_id(void **state)
{
	struct ct_table *t = table(64);
	struct packet a, b, rb;
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 0, 0);
	struct ct_entry *eb;
	enum ct_dir dir;
	char spec[96];

	(void)state;
	connect_nat(t, &a, "icmp 10.8.0.2:77 > 203.0.113.5", &r, &env_default, 0);
	eb = connect_nat(t, &b, "icmp 10.8.0.3:77 > 203.0.113.5", &r, &env_default, 0);
	assert_int_equal(a.p.outer.sport, 77);
	assert_int_not_equal(b.p.outer.sport, 77);
	snprintf(spec, sizeof(spec), "icmp 203.0.113.5:%u > 198.51.100.7 icmp 0", b.p.outer.sport);
	build(&rb, spec, NULL, 0);
	assert_ptr_equal(track(t, &rb, CT_ESTABLISHED, &dir), eb);
	nat_packet(eb, dir, NAT_MANIP_DST, &rb.p, false);
	assert_int_equal(rb.p.outer.daddr.ip, CLIENT2);
	assert_int_equal(rb.p.outer.sport, 77);
	assert_sums(&rb.p);
	ct_destroy(t);
}

/* A port unreachable about a NAT-ed UDP flow reaches the client with the
 * embedded header rewritten back to what the client sent. */
static void test_icmp_error_inner(void **state)
{
	struct ct_table *t = table(64);
	struct packet pk, err;
	struct nat_request m = { .kind = NAT_MASQUERADE };
	struct ct_entry *e, *re;
	enum ct_dir dir;
	uint16_t natport;

	(void)state;
	e = connect_nat(t, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:53 len 60", &m, &env_default, 0);
	natport = pk.p.outer.sport;
	build(&err, "icmp 203.0.113.5 > 192.0.2.1 icmp 3/3", pk.p.data, pk.p.outer.end);
	assert_true(err.p.has_inner);
	re = track(t, &err, CT_RELATED, &dir);
	assert_ptr_equal(re, e);
	assert_int_equal(dir, CT_DIR_REPLY);
	assert_int_equal(nat_packet(re, dir, NAT_MANIP_DST, &err.p, true), 0);
	assert_int_equal(err.p.outer.daddr.ip, CLIENT1);
	assert_int_equal(err.p.outer.saddr.ip, SERVER);
	assert_int_equal(err.p.inner.saddr.ip, CLIENT1);
	assert_int_equal(err.p.inner.sport, 5000);
	assert_int_equal(err.p.inner.daddr.ip, SERVER);
	assert_int_equal(err.p.inner.dport, 53);
	assert_int_not_equal(natport, 5000);
	assert_sums(&err.p);
	/* the embedded header's own checksums */
	assert_int_equal(csum_ip(err.p.data + err.p.inner.ip, 20), be16_get(err.p.data + err.p.inner.ip + 10));
	{
		const uint8_t *l4 = err.p.data + err.p.inner.l4;
		size_t len = err.p.inner.end - err.p.inner.l4;

		assert_int_equal(csum_fold(csum_add(csum_pseudo(CLIENT1, SERVER, IPPROTO_UDP, (uint16_t)len),
						    l4, len)), 0);
	}
	/* at the source-manip hook nothing more changes */
	assert_int_equal(nat_packet(re, dir, NAT_MANIP_SRC, &err.p, true), 0);
	assert_int_equal(err.p.outer.saddr.ip, SERVER);
	ct_destroy(t);
}

/* An ICMP redirect about a NAT-ed connection is dropped, as Linux does. */
static void test_icmp_redirect_dropped(void **state)
{
	struct ct_table *t = table(64);
	struct packet pk, err;
	struct nat_request m = { .kind = NAT_MASQUERADE };
	struct ct_entry *e;
	enum ct_dir dir;

	(void)state;
	connect_nat(t, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", &m, &env_default, 0);
	build(&err, "icmp 203.0.113.5 > 192.0.2.1 icmp 5/1", pk.p.data, pk.p.outer.end);
	e = track(t, &err, CT_RELATED, &dir);
	assert_int_equal(nat_packet(e, dir, NAT_MANIP_DST, &err.p, true), -EPERM);
	ct_destroy(t);
}

/* Hairpin: a client reaches the uplink address on a DNAT-ed port; DNAT to
 * another client plus MASQUERADE so the reply comes back through gw.  Out
 * of the tunnel MASQUERADE takes the tunnel's address (the caller's
 * masq_addr), and keeps the port: NatPorts are for the uplink's address
 * only. */
static void test_hairpin(void **state)
{
	struct ct_table *t = table(64);
	struct packet pk, reply;
	struct nat_request d = { .kind = NAT_DNAT }, m = { .kind = NAT_MASQUERADE };
	struct nat_env tun = env_default;
	struct ct_entry *e, *re;
	enum ct_dir dir;
	char spec[96];

	(void)state;
	tun.masq_addr = nf_addr4(GW_ADDR);
	d.range.flags = NAT_F_MAP_IPS | NAT_F_PROTO_SPECIFIED;
	d.range.min_addr.ip = d.range.max_addr.ip = CLIENT1;
	d.range.min_port = d.range.max_port = 80;
	build(&pk, "tcp 10.8.0.3:40000 > 192.0.2.1:8080 flags S", NULL, 0);
	e = track(t, &pk, CT_NEW, NULL);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_DST, &d, &tun), 0);
	assert_int_equal(nat_packet(e, CT_DIR_ORIGINAL, NAT_MANIP_DST, &pk.p, false), 0);
	assert_int_equal(pk.p.outer.daddr.ip, CLIENT1);
	assert_int_equal(pk.p.outer.dport, 80);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_SRC, &m, &tun), 0);
	assert_int_equal(nat_packet(e, CT_DIR_ORIGINAL, NAT_MANIP_SRC, &pk.p, false), 0);
	assert_int_equal(pk.p.outer.saddr.ip, GW_ADDR);
	assert_int_equal(pk.p.outer.sport, 40000);
	assert_int_equal(ct_confirm(t, e, 1000000000ull), 0);
	assert_sums(&pk.p);
	assert_true(ct_entry_status(e) & CT_S_SRC_NAT);
	assert_true(ct_entry_status(e) & CT_S_DST_NAT);
	/* the server's SYN-ACK goes back to the tunnel address, and out
	 * comes what the client expects: from 192.0.2.1:8080 */
	snprintf(spec, sizeof(spec), "tcp 10.8.0.2:80 > 10.8.0.1:%u flags SA", pk.p.outer.sport);
	build(&reply, spec, NULL, 0);
	re = track(t, &reply, CT_ESTABLISHED, &dir);
	assert_ptr_equal(re, e);
	nat_packet(re, dir, NAT_MANIP_DST, &reply.p, false);
	nat_packet(re, dir, NAT_MANIP_SRC, &reply.p, false);
	assert_int_equal(reply.p.outer.saddr.ip, UPLINK);
	assert_int_equal(reply.p.outer.sport, 8080);
	assert_int_equal(reply.p.outer.daddr.ip, CLIENT2);
	assert_int_equal(reply.p.outer.dport, 40000);
	assert_sums(&reply.p);
	ct_destroy(t);
}

/* The uplink address goes away: what was masqueraded to it is flushed. */
static void test_flush_addr(void **state)
{
	struct ct_table *t = table(64);
	struct packet pk;
	struct nat_request m = { .kind = NAT_MASQUERADE }, s = snat(SNAT_ADDR, SNAT_ADDR, 0, 0);
	struct ct_stats st;

	(void)state;
	connect_nat(t, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", &m, &env_default, 0);
	connect_nat(t, &pk, "udp 10.8.0.3:5000 > 203.0.113.5:53", &m, &env_default, 0);
	connect_nat(t, &pk, "udp 10.8.0.4:5000 > 203.0.113.5:53", &s, &env_default, 0);
	assert_int_equal(nat_flush_addr(t, UPLINK), 2);
	ct_get_stats(t, &st);
	assert_int_equal(st.count, 1);
	ct_destroy(t);
}

/* find_appropriate_src: a source whose port cannot be kept keeps the
 * mapping it has for its next connections, whatever their destination. */
static void test_source_mapping_kept(void **state)
{
	struct ct_table *t = table(64);
	struct packet a, b, c;
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 2000, 2100);
	struct nat_env env = env_default;

	(void)state;
	assert_int_equal(nat_srcmap_create(&env.srcmap, 16), 0);
	connect_nat(t, &a, "udp 10.8.0.2:40000 > 203.0.113.5:53", &r, &env, 0);
	env.rnd = 999; /* another random start: the mapping must not depend on it */
	connect_nat(t, &b, "udp 10.8.0.2:40000 > 203.0.113.6:53", &r, &env, 0);
	assert_true(a.p.outer.sport >= 2000 && a.p.outer.sport <= 2100);
	assert_int_equal(b.p.outer.sport, a.p.outer.sport);
	/* another source port gets its own */
	connect_nat(t, &c, "udp 10.8.0.2:40001 > 203.0.113.5:53", &r, &env, 0);
	assert_int_not_equal(c.p.outer.sport, a.p.outer.sport);
	/* --random skips it */
	r.range.flags |= NAT_F_RANDOM;
	env.rnd = 4242;
	connect_nat(t, &c, "udp 10.8.0.2:40000 > 203.0.113.7:53", &r, &env, 0);
	nat_srcmap_destroy(env.srcmap);
	ct_destroy(t);
}

/* --random on a protocol without ports (GRE): the address is mapped as
 * Linux maps it (nf_nat_l4proto_unique_tuple has no key to change), not
 * refused; a second source to the same destination clashes, and only
 * then is the packet dropped (-ENOSPC).  Found by fuzz_nat. */
static void test_random_keyless(void **state)
{
	struct ct_table *t = table(64);
	struct packet a, b;
	struct nat_request r = snat(SNAT_ADDR, SNAT_ADDR, 0, 0);

	(void)state;
	r.range.flags |= NAT_F_RANDOM;
	connect_nat(t, &a, "47 10.8.0.2 > 203.0.113.5", &r, &env_default, 0);
	assert_int_equal(a.p.outer.saddr.ip, SNAT_ADDR);
	r.range.flags ^= NAT_F_RANDOM | NAT_F_RANDOM_FULLY;
	connect_nat(t, &b, "47 10.8.0.3 > 203.0.113.6", &r, &env_default, 0);
	assert_int_equal(b.p.outer.saddr.ip, SNAT_ADDR);
	connect_nat(t, &b, "47 10.8.0.3 > 203.0.113.5", &r, &env_default, -ENOSPC);
	ct_destroy(t);
}

/* An ICMPv6 Node Information query (139) carries no identifier that NAT
 * could rewrite (only echo does): its binding never changes the tuple's id,
 * so the reply (140) finds the connection; where only another id would
 * make the tuple unique, the query is dropped (-ENOSPC).  Found by
 * fuzz_nat: with --random the binding took a random id the packet never
 * carried, and the reply matched nothing. */
static void test_icmp6_node_info(void **state)
{
	struct ct_table *t = table(64);
	struct packet q, rep, q2;
	struct nat_request none = { .kind = NAT_NONE }, r = { .kind = NAT_SNAT };
	struct ct_entry *e;
	enum ct_dir dir;
	char err[64];
	struct trace_spec s;

	(void)state;
	assert_int_equal(trace_spec_parse(&s, "icmp6 2001:db8:ff::7 > 2001:db8:ff::7", err,
					  sizeof(err)), 0);
	r.range.flags = NAT_F_MAP_IPS | NAT_F_RANDOM;
	r.range.min_addr = r.range.max_addr = s.src;
	build(&q, "icmp6 2001:db8:1::2 > 2001:db8:2::5 icmp6 139", NULL, 0);
	e = track(t, &q, CT_NEW, NULL);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_DST, &none, &env_default), 0);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_SRC, &r, &env_default), 0);
	assert_int_equal(nat_packet(e, CT_DIR_ORIGINAL, NAT_MANIP_SRC, &q.p, false), 0);
	assert_int_equal(ct_confirm(t, e, 1000000000ull), 0);
	assert_memory_equal(q.p.outer.saddr.b, s.src.b, 16);
	build(&rep, "icmp6 2001:db8:2::5 > 2001:db8:ff::7 icmp6 140", NULL, 0);
	assert_ptr_equal(track(t, &rep, CT_ESTABLISHED, &dir), e);
	assert_int_equal(dir, CT_DIR_REPLY);
	assert_int_equal(nat_packet(e, dir, NAT_MANIP_DST, &rep.p, false), 0);
	assert_int_equal(rep.p.outer.daddr.b[5], 1);
	assert_int_equal(rep.p.outer.daddr.b[15], 2);
	/* another client's query to the same server: only an id would differ */
	r.range.flags = NAT_F_MAP_IPS;
	build(&q2, "icmp6 2001:db8:1::3 > 2001:db8:2::5 icmp6 139", NULL, 0);
	e = track(t, &q2, CT_NEW, NULL);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_DST, &none, &env_default), 0);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_SRC, &r, &env_default), -ENOSPC);
	ct_abort(t, e);
	ct_destroy(t);
}

/* A DNAT-ed connection from the internet to addr:port (to CLIENT1), tracked
 * and confirmed. */
static struct ct_entry *connect_dnat(struct ct_table *t, const char *spec)
{
	struct nat_request d = { .kind = NAT_DNAT }, none = { .kind = NAT_NONE };
	struct packet pk;
	struct ct_entry *e;

	d.range.flags = NAT_F_MAP_IPS;
	d.range.min_addr.ip = d.range.max_addr.ip = CLIENT1;
	build(&pk, spec, NULL, 0);
	e = track(t, &pk, CT_NEW, NULL);
	assert_non_null(e);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_DST, &d, &env_default), 0);
	assert_int_equal(nat_packet(e, CT_DIR_ORIGINAL, NAT_MANIP_DST, &pk.p, false), 0);
	assert_int_equal(nat_setup(t, e, NAT_MANIP_SRC, &none, &env_default), 0);
	assert_int_equal(ct_confirm(t, e, 1000000000ull), 0);
	return e;
}

/* What live connections need of the uplink: the DNAT-ed ports to its
 * addresses (not a closed TCP connection's), every SNAT address. */
static void test_live(void **state)
{
	struct ct_table *t = table(256);
	struct packet pk, rst;
	struct nat_request m = { .kind = NAT_MASQUERADE }, s = snat(SNAT_ADDR, SNAT_ADDR, 0, 0);
	const uint32_t addrs[] = { UPLINK, A(192, 0, 2, 9) };
	static struct nat_live l;
	struct rules_portset within[2] = { { 1, { 8000 }, { 8085 } }, { 1, { 0 }, { 65535 } } };

	(void)state;
	connect_nat(t, &pk, "udp 10.8.0.2:5000 > 203.0.113.5:53", &m, &env_default, 0);
	connect_nat(t, &pk, "udp 10.8.0.4:5000 > 203.0.113.5:53", &s, &env_default, 0);
	{
		/* IPv6 SNAT: its address listed apart */
		struct nat_request s6 = { .kind = NAT_SNAT };

		s6.range.flags = NAT_F_MAP_IPS;
		assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::60", s6.range.min_addr.b), 1);
		s6.range.max_addr = s6.range.min_addr;
		static const char *const from6[] = {
			"udp [fd00:8::2]:5000 > [2001:db8:2::5]:53",
			"udp [fd00:8::3]:5000 > [2001:db8:2::5]:53",
		};

		for (unsigned i = 0; i < 2; i++) {
			struct ct_entry *e;

			build(&pk, from6[i], NULL, 0);
			e = track(t, &pk, CT_NEW, NULL);
			assert_non_null(e);
			assert_int_equal(nat_setup(t, e, NAT_MANIP_DST,
						   &(struct nat_request){ NAT_NONE }, &env_default), 0);
			assert_int_equal(nat_setup(t, e, NAT_MANIP_SRC, &s6, &env_default), 0);
			assert_int_equal(ct_confirm(t, e, 1000000000ull), 0);
		}
	}
	connect_dnat(t, "udp 203.0.113.5:4000 > 192.0.2.1:5353");
	connect_dnat(t, "tcp 203.0.113.5:4000 > 192.0.2.9:8080 flags S");
	connect_dnat(t, "tcp 203.0.113.5:4001 > 192.0.2.1:8081 flags S");
	/* to an address not asked about */
	connect_dnat(t, "tcp 203.0.113.5:4000 > 10.8.0.1:9000 flags S");
	/* closed by a RST: its port is the host's again */
	connect_dnat(t, "tcp 203.0.113.5:4002 > 192.0.2.1:8082 flags S");
	{
		struct trace_spec ts;
		char err[128];
		size_t len;

		/* the client's RST answering the SYN (seq 1000): connection refused */
		assert_int_equal(trace_spec_parse(&ts, "tcp 10.8.0.2:8082 > 203.0.113.5:4002 flags RA",
						  err, sizeof(err)), 0);
		len = trace_build(&ts, 0, 1001, 7, NULL, 0, rst.buf, sizeof(rst.buf));
		assert_int_equal(pkt_parse(&rst.p, rst.buf, len), PKT_OK);
		track(t, &rst, CT_ESTABLISHED, NULL);
	}

	nat_live(t, addrs, 2, NULL, &l);
	assert_int_equal(l.tcp.n, 1);
	assert_int_equal(l.tcp.lo[0], 8080);
	assert_int_equal(l.tcp.hi[0], 8081);
	assert_int_equal(l.udp.n, 1);
	assert_int_equal(l.udp.lo[0], 5353);
	assert_int_equal(l.udp.hi[0], 5353);
	assert_int_equal(l.merged, 0);
	assert_int_equal(l.nsnat, 2);
	assert_int_equal(l.snat[0], UPLINK);
	assert_int_equal(l.snat[1], SNAT_ADDR);
	assert_int_equal(l.snat_over, 0);
	assert_int_equal(l.nsnat6, 1);
	{
		uint8_t want[16];

		assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::60", want), 1);
		assert_memory_equal(l.snat6[0].b, want, 16);
	}
	/* only the ports the uplink's filters hold: 8080 and 8081 (within
	 * 8000-8085), not 5353 once UDP holds none */
	within[1].n = 0;
	nat_live(t, addrs, 2, within, &l);
	assert_int_equal(l.tcp.n, 1);
	assert_int_equal(l.tcp.hi[0], 8081);
	assert_int_equal(l.udp.n, 0);
	within[0] = (struct rules_portset){ 1, { 8081 }, { 9000 } };
	nat_live(t, addrs, 2, within, &l);
	assert_int_equal(l.tcp.lo[0], 8081);
	within[1] = (struct rules_portset){ 1, { 0 }, { 65535 } };

	/* more DNAT-ed ports than ranges: merged across the smallest gaps */
	for (unsigned i = 0; i < 40; i++) {
		char spec[96];

		snprintf(spec, sizeof(spec), "udp 203.0.113.5:4000 > 192.0.2.1:%u", 20000 + i * i * 3);
		connect_dnat(t, spec);
	}
	nat_live(t, addrs, 1, within, &l);
	assert_int_equal(l.tcp.n, 1); /* 8081 only: 8080 was to 192.0.2.9 */
	assert_int_equal(l.tcp.lo[0], 8081);
	assert_int_equal(l.udp.n, RULES_UPLINK_MAX_PORTS);
	assert_true(l.merged > 0);
	assert_int_equal(l.udp.hi[l.udp.n - 1], 20000 + 39 * 39 * 3);
	ct_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invert),
		cmocka_unit_test(test_null_binding),
		cmocka_unit_test(test_snat_keeps_port),
		cmocka_unit_test(test_port_clash),
		cmocka_unit_test(test_masquerade_natports),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_reuse_close),
		cmocka_unit_test(test_reuse_time_wait),
		cmocka_unit_test(test_reuse_timestamps),
		cmocka_unit_test(test_reuse_refused),
		cmocka_unit_test(test_hot_same_answers),
		cmocka_unit_test(test_icmp_id),
		cmocka_unit_test(test_icmp_error_inner),
		cmocka_unit_test(test_icmp_redirect_dropped),
		cmocka_unit_test(test_hairpin),
		cmocka_unit_test(test_flush_addr),
		cmocka_unit_test(test_source_mapping_kept),
		cmocka_unit_test(test_random_keyless),
		cmocka_unit_test(test_icmp6_node_info),
		cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
