/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the NAT side of conntrack, nat/nat.c's nat_setup and
 * nat_packet, on arbitrary IPv4 and IPv6 packets with arbitrary SNAT, DNAT,
 * MASQUERADE and REDIRECT requests, as gw's hooks call them: ct_in at
 * PREROUTING, a new connection's destination binding and rewrite, then its
 * source binding and rewrite (POSTROUTING), then ct_confirm; a packet of a
 * known connection, an ICMP or ICMPv6 error about one (RELATED) included,
 * rewritten at both.
 *
 * Input: records, each a 12-byte header and a packet:
 *   0      bits 0-1 the source request (none, SNAT, MASQUERADE, SNAT),
 *          bits 2-3 the destination one (none, DNAT, REDIRECT, DNAT),
 *          bits 4-7 the time step (x 100 ms)
 *   1      the range flags (NAT_F_*), bit 7: conntrack checks checksums
 *   2, 3   the source, destination range: low nibble its first address,
 *          high nibble its last (of eight, sorted)
 *   4-11   the source range's ports, the destination range's (sorted)
 *   12     the packet's length, then the packet: as fuzz_ct, its first
 *          byte's version nibble the family (6: IPv6, payload length made
 *          right; else IPv4, version, length, checksum made valid, no
 *          fragment), addresses folded onto ten hosts (an ICMP/ICMPv6
 *          error's quote's too, so it may be RELATED).
 * The NAT ranges are within hosts 1-8 (192.0.2.1-8, 2001:db8::1-8),
 * MASQUERADE's and the uplink's address is host 9 with eight NatPorts,
 * REDIRECT's host 10: ranges clash, overlap the hosts and run out, and
 * replies reach every NAT address.
 * Properties:
 *   - a binding is within what was asked: the address range (MASQUERADE's,
 *     REDIRECT's address), the port range for TCP and UDP, the uplink's
 *     address only with NatPorts when no ports were asked;
 *   - the entry then confirms (its tuples are unique);
 *   - a packet rewritten at both hooks is the inverse of the other
 *     direction's tuple (addresses, ports or ICMP query id); an error's
 *     quote is that tuple;
 *   - the rewritten packet parses again, and each checksum that verified
 *     (IPv4 header, TCP/UDP/ICMP/ICMPv6, the quoted IPv4 header) still does;
 *   - at the end, the clock far ahead, the table is empty.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/ct.h"
#include "nat/nat.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"
#include "tests/unit/util_refsum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { REC_HDR = 13, HOST_PORT_MIN = 61000, HOST_PORT_MAX = 61007 };

/* Host n (1-15) of the family: 192.0.2.n or 2001:db8::n. */
static union nf_addr host(uint8_t family, unsigned n)
{
	union nf_addr a;

	memset(&a, 0, sizeof(a));
	if (family == NF_V4) {
		a.ip = 0xc0000200u + n;
	} else {
		a.b[0] = 0x20, a.b[1] = 0x01, a.b[2] = 0x0d, a.b[3] = 0xb8;
		a.b[15] = (uint8_t)n;
	}
	return a;
}

/* The address at a (4 or 16 bytes) folded onto hosts 1-10. */
static void fold(uint8_t family, uint8_t *a)
{
	union nf_addr h = host(family, 1 + (uint8_t)(a[family == NF_V4 ? 3 : 15] - 1) % 10);

	if (family == NF_V4)
		be32_put(a, h.ip);
	else
		memcpy(a, h.b, 16);
}

/* Host-order comparison of two addresses of the family. */
static int addr_cmp(uint8_t family, const union nf_addr *a, const union nf_addr *b)
{
	if (family == NF_V4)
		return a->ip < b->ip ? -1 : a->ip > b->ip;
	return memcmp(a->b, b->b, 16);
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* The checksums of p that verify, as bits: 1 the IPv4 header, 2 the L4
 * (a complete, unfragmented TCP/UDP/ICMP/ICMPv6 with a checksum), 4 the
 * quoted IPv4 header. */
static unsigned sums(const struct pkt *p)
{
	const struct pkt_hdr *h = &p->outer;
	const uint8_t *ip = p->data + h->ip;
	size_t len = h->end - h->ip, l4 = h->l4 - h->ip;
	unsigned ok = 0;

	if (h->family == NF_V4 && ref_fold(ref_sum(0, ip, l4)) == 0xffff)
		ok |= 1;
	if ((h->flags & (PKT_F_FRAG | PKT_F_L4)) == PKT_F_L4 && !h->exthdrs) {
		if (h->proto == IPPROTO_TCP ||
		    (h->proto == IPPROTO_UDP && (h->family == NF_V6 || be16_get(ip + l4 + 6))) ||
		    h->proto == IPPROTO_ICMPV6) {
			if (ref_l4_ok(ip, len, l4, h->proto))
				ok |= 2;
		} else if (h->proto == IPPROTO_ICMP && h->family == NF_V4) {
			if (ref_fold(ref_sum(0, ip + l4, len - l4)) == 0xffff)
				ok |= 2;
		}
	}
	if (p->has_inner && p->inner.family == NF_V4 && p->inner.l4 <= p->inner.end &&
	    ref_fold(ref_sum(0, p->data + p->inner.ip, p->inner.l4 - p->inner.ip)) == 0xffff)
		ok |= 4;
	return ok;
}

/* Header h carries tuple t (as a packet of that direction). */
static void check_is(const struct pkt_hdr *h, const struct ct_tuple *t)
{
	bool query = h->family == NF_V6 ? h->proto == IPPROTO_ICMPV6 && h->icmp_type >= 128 :
		     h->proto == IPPROTO_ICMP && !pkt_icmp_is_error(h->icmp_type);

	CHECK(nf_addr_eq(&h->saddr, &t->src) && nf_addr_eq(&h->daddr, &t->dst));
	if (!(h->flags & PKT_F_PORTS))
		return;
	if (has_ports(h->proto))
		CHECK(h->sport == t->sport && h->dport == t->dport);
	else if (query)
		CHECK(h->sport == t->sport); /* the ICMP id */
}

/* The header of a record's request for manip m of a family. */
static struct nat_request request(const uint8_t *rec, enum nat_manip m, uint8_t family,
				  uint8_t proto)
{
	static const enum nat_kind src[4] = { NAT_NONE, NAT_SNAT, NAT_MASQUERADE, NAT_SNAT };
	static const enum nat_kind dst[4] = { NAT_NONE, NAT_DNAT, NAT_REDIRECT, NAT_DNAT };
	struct nat_request r;
	uint8_t sel = rec[m == NAT_MANIP_SRC ? 2 : 3];
	const uint8_t *ports = rec + (m == NAT_MANIP_SRC ? 4 : 8);
	unsigned lo = 1 + (sel & 7), hi = 1 + (sel >> 4 & 7);
	uint16_t plo = be16_get(ports), phi = be16_get(ports + 2);

	memset(&r, 0, sizeof(r));
	r.kind = m == NAT_MANIP_SRC ? src[rec[0] & 3] : dst[rec[0] >> 2 & 3];
	if (r.kind == NAT_NONE)
		return r;
	r.range.flags = rec[1] & (NAT_F_RANDOM | NAT_F_PERSISTENT | NAT_F_RANDOM_FULLY);
	if (r.kind == NAT_SNAT || r.kind == NAT_DNAT) {
		r.range.flags |= NAT_F_MAP_IPS;
		r.range.min_addr = host(family, lo < hi ? lo : hi);
		r.range.max_addr = host(family, lo < hi ? hi : lo);
	}
	/* iptables takes ports only with -p tcp/udp/sctp/dccp */
	if ((rec[1] & NAT_F_PROTO_SPECIFIED) && has_ports(proto)) {
		r.range.flags |= NAT_F_PROTO_SPECIFIED;
		r.range.min_port = plo < phi ? plo : phi;
		r.range.max_port = plo < phi ? phi : plo;
	}
	return r;
}

/* The binding just made for manip m is what r asked. */
static void check_binding(const struct ct_entry *e, enum nat_manip m, const struct nat_request *r,
			  const struct nat_env *env)
{
	struct ct_tuple cur;
	const union nf_addr *a;
	uint16_t port;
	uint8_t fam;

	if (r->kind == NAT_NONE)
		return;
	CHECK(nat_tuple_invert(&cur, ct_entry_tuple(e, CT_DIR_REPLY)));
	fam = cur.family;
	a = m == NAT_MANIP_SRC ? &cur.src : &cur.dst;
	port = m == NAT_MANIP_SRC ? cur.sport : cur.dport;
	if (r->kind == NAT_MASQUERADE)
		CHECK(nf_addr_eq(a, &env->masq_addr));
	else if (r->kind == NAT_REDIRECT)
		CHECK(nf_addr_eq(a, &env->redirect_addr));
	else
		CHECK(addr_cmp(fam, a, &r->range.min_addr) >= 0 &&
		      addr_cmp(fam, a, &r->range.max_addr) <= 0);
	if (!has_ports(cur.proto))
		return;
	if (r->range.flags & NAT_F_PROTO_SPECIFIED)
		CHECK(port >= r->range.min_port && port <= r->range.max_port);
	else if (m == NAT_MANIP_SRC && nf_addr_eq(a, &env->masq_addr))
		CHECK(port >= HOST_PORT_MIN && port <= HOST_PORT_MAX);
}

/* The record's packet in buf, repaired as the top comment says. */
static void packet(uint8_t *buf, const uint8_t *in, size_t len)
{
	memcpy(buf, in, len);
	if (len >= 40 && buf[0] >> 4 == 6) {
		be16_put(buf + 4, (uint16_t)(len - 40));
		fold(NF_V6, buf + 8);
		fold(NF_V6, buf + 24);
		if (buf[6] == IPPROTO_ICMPV6 && len >= 88 && buf[40] >= 1 && buf[40] <= 4) {
			fold(NF_V6, buf + 56);
			fold(NF_V6, buf + 72);
		}
	} else if (len >= 20) {
		buf[0] = 0x45;
		be16_put(buf + 2, (uint16_t)len);
		be16_put(buf + 6, be16_get(buf + 6) & 0x4000); /* DF at most */
		fold(NF_V4, buf + 12);
		fold(NF_V4, buf + 16);
		if (buf[9] == IPPROTO_ICMP && len >= 48 && (buf[28] >> 4) == 4) {
			fold(NF_V4, buf + 40);
			fold(NF_V4, buf + 44);
		}
		be16_put(buf + 10, 0);
		be16_put(buf + 10, csum_ip(buf, 20));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nat_srcmap *srcmap;
	struct ct_config cfg;
	struct ct_table *t;
	uint64_t now = 1000000000000ULL;
	uint32_t rnd = 1;
	uint8_t buf[256 + 64];
	struct ct_stats st;

	ct_config_default(&cfg, 16);
	cfg.buckets = 8;
	CHECK(ct_create(&t, &cfg) == 0);
	CHECK(nat_srcmap_create(&srcmap, 16) == 0);

	while (size >= REC_HDR) {
		const uint8_t *rec = data;
		size_t len = data[12];
		struct nf_ctx ctx;
		struct nat_env env;
		struct pkt p, again;
		struct ct_entry *e;
		enum ct_dir dir;
		unsigned before;
		bool related;
		uint8_t fam;

		data += REC_HDR, size -= REC_HDR;
		if (len > size)
			len = size;
		packet(buf, data, len);
		data += len, size -= len;
		now += (uint64_t)(rec[0] >> 4) * 100000000ULL;
		ct_expire(t, now, 4);
		if (pkt_parse(&p, buf, len) != PKT_OK)
			continue;
		fam = p.outer.family;
		memset(&env, 0, sizeof(env));
		env.masq_addr = host(fam, 9);
		env.redirect_addr = host(fam, 10);
		env.uplink_addr = host(NF_V4, 9).ip;
		env.uplink_addr6 = host(NF_V6, 9);
		env.host_port_min = HOST_PORT_MIN;
		env.host_port_max = HOST_PORT_MAX;
		env.rnd = rnd = rnd * 1103515245u + 12345u;
		env.srcmap = srcmap;

		memset(&ctx, 0, sizeof(ctx));
		ctx.pkt = &p;
		ctx.now = now;
		ctx.hook = NF_PREROUTING;
		ct_prefetch(t, &p);
		ct_in(t, &ctx, rec[1] >> 7);
		if (!ctx.ct)
			continue;
		e = ctx.ct;
		dir = ctx.ctdir;
		related = ctx.ctstate == CT_RELATED;
		before = sums(&p);
		if (!(ct_entry_status(e) & CT_S_CONFIRMED)) {
			struct nat_request dreq = request(rec, NAT_MANIP_DST, fam, p.outer.proto);
			struct nat_request sreq = request(rec, NAT_MANIP_SRC, fam, p.outer.proto);
			int ret;

			CHECK(nat_needs_setup(e, NAT_MANIP_DST) && nat_needs_setup(e, NAT_MANIP_SRC));
			ret = nat_setup(t, e, NAT_MANIP_DST, &dreq, &env);
			if (!ret) {
				check_binding(e, NAT_MANIP_DST, &dreq, &env);
				CHECK(!nat_needs_setup(e, NAT_MANIP_DST));
				CHECK(nat_packet(e, dir, NAT_MANIP_DST, &p, related) == 0);
				ret = nat_setup(t, e, NAT_MANIP_SRC, &sreq, &env);
			}
			if (ret) {
				CHECK(ret == -ENOSPC || ret == -EADDRNOTAVAIL || ret == -EINVAL);
				ct_abort(t, e);
				continue;
			}
			check_binding(e, NAT_MANIP_SRC, &sreq, &env);
			CHECK(nat_packet(e, dir, NAT_MANIP_SRC, &p, related) == 0);
			CHECK(ct_confirm(t, e, now) == 0);
		} else {
			int r1 = nat_packet(e, dir, NAT_MANIP_DST, &p, related);
			int r2 = nat_packet(e, dir, NAT_MANIP_SRC, &p, related);

			/* only an ICMP redirect about a NAT-ed connection is refused */
			if (r1 || r2) {
				CHECK(related && (r1 == -EPERM || r1 == 0) && (r2 == -EPERM || r2 == 0));
				continue;
			}
		}
		/* after both hooks: the inverse of the other direction's tuple */
		{
			const struct ct_tuple *other = ct_entry_tuple(e, dir == CT_DIR_ORIGINAL ?
									CT_DIR_REPLY : CT_DIR_ORIGINAL);
			struct ct_tuple inv;

			if (!related) {
				if (nat_tuple_invert(&inv, other))
					check_is(&p.outer, &inv);
			} else if (p.has_inner) {
				check_is(&p.inner, other);
			}
		}
		CHECK((sums(&p) & before) == before);
		CHECK(pkt_parse(&again, p.data, p.outer.end) == PKT_OK);
	}
	ct_expire(t, now + 1000000ULL * 1000000000ULL, ~0u);
	ct_get_stats(t, &st);
	CHECK(st.count == 0);
	ct_destroy(t);
	nat_srcmap_destroy(srcmap);
	return 0;
}
