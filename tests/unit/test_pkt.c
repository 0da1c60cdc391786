/* SPDX-License-Identifier: MIT */
/*
 * nat/pkt: parsing into a view and checksum-preserving rewrites.
 *
 * Known-answer packets and their checksums were computed independently
 * (Python, plain 16-bit word arithmetic).  The property test builds random
 * packets from a description (struct spec) with a reference checksum
 * implementation, rewrites them with pkt_set_*, and compares the result byte
 * for byte with the packet rebuilt from the rewritten description.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"
#include "tests/unit/util_mutate.h"
#include "tests/unit/util_rng.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum { P_ICMP = 1, P_IGMP = 2, P_TCP = 6, P_UDP = 17, P_GRE = 47 };

enum {
	LAN = 0xc0a8010a,     /* 192.168.1.10 */
	WAN = 0xcb007107,     /* 203.0.113.7 */
	DNS = 0xc6336435,     /* 198.51.100.53 */
	GOOGLE = 0x08080808,  /* 8.8.8.8 */
	EXAMPLE = 0x5db8d822, /* 93.184.216.34 */
	MDNS = 0xe00000fb,    /* 224.0.0.251 */
};

#define PKT_CAP 2048

/* ---- helpers ------------------------------------------------------------ */

static unsigned int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned int)(c - 'a' + 10);
	fail_msg("bad hex digit '%c'", c);
	return 0;
}

/* Hex pairs, spaces ignored. */
static size_t unhex(uint8_t *out, size_t cap, const char *s)
{
	size_t n = 0;

	while (*s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_true(n < cap && s[1]);
		out[n++] = (uint8_t)(nibble(s[0]) << 4 | nibble(s[1]));
		s += 2;
	}
	return n;
}

static void dump(const char *tag, const uint8_t *b, size_t n)
{
	print_message("%s (%zu bytes):", tag, n);
	for (size_t i = 0; i < n; i++)
		print_message("%s%02x", i % 16 ? " " : "\n  ", b[i]);
	print_message("\n");
}

/* The reference RFC 1071 sum, one big-endian word at a time, folded. */
static uint32_t ref_sum(uint32_t sum, const uint8_t *b, size_t n)
{
	uint64_t s = sum;

	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)b[i] << 8 | (i + 1 < n ? b[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

static uint16_t ref_csum(uint32_t sum, const uint8_t *b, size_t n)
{
	return (uint16_t)~ref_sum(sum, b, n);
}

static uint32_t ref_pseudo(uint32_t sa, uint32_t da, uint8_t proto, size_t len)
{
	return (sa >> 16) + (sa & 0xffff) + (da >> 16) + (da & 0xffff) + proto +
	       (uint32_t)len;
}

/* A sum over data including its checksum verifies when it folds to ffff. */
static bool ref_ok(uint32_t sum, const uint8_t *b, size_t n)
{
	return ref_sum(sum, b, n) == 0xffff;
}

static void fix_ip_csum(uint8_t *ip)
{
	size_t hl = (size_t)(ip[0] & 0x0f) * 4;

	ip[10] = ip[11] = 0;
	be16_put(ip + 10, ref_csum(0, ip, hl));
}

/* ---- rewrites ------------------------------------------------------------ */

enum op_field { OP_SADDR, OP_DADDR, OP_SPORT, OP_DPORT, OP_ICMP_ID, OP_TTL, OP_MAX };

static const char *const op_names[OP_MAX] = {
	"saddr", "daddr", "sport", "dport", "icmp_id", "ttl",
};

struct op {
	enum op_field field;
	bool inner;
	uint32_t val;
};

static void op_apply(struct pkt *p, const struct op *o)
{
	struct pkt_hdr *h = o->inner ? &p->inner : &p->outer;

	switch (o->field) {
	case OP_SADDR:
		pkt_set_saddr(p, h, &(union nf_addr){ .ip6 = { o->val } });
		break;
	case OP_DADDR:
		pkt_set_daddr(p, h, &(union nf_addr){ .ip6 = { o->val } });
		break;
	case OP_SPORT:
		pkt_set_sport(p, h, (uint16_t)o->val);
		break;
	case OP_DPORT:
		pkt_set_dport(p, h, (uint16_t)o->val);
		break;
	case OP_ICMP_ID:
		pkt_set_icmp_id(p, h, (uint16_t)o->val);
		break;
	case OP_TTL:
		pkt_set_ttl(p, (uint8_t)o->val);
		break;
	case OP_MAX:
		break;
	}
}

/* ---- view checks ----------------------------------------------------------- */

static void check_hdr_bounds(const struct pkt_hdr *h)
{
	assert_true(h->ip + 20 <= h->l4);
	assert_true(h->l4 <= h->end);
	if (h->flags & PKT_F_LATER) {
		assert_true(h->flags & PKT_F_FRAG);
		assert_false(h->flags & (PKT_F_L4 | PKT_F_PORTS));
		assert_int_equal(h->csum, 0);
	}
	if (h->csum) {
		assert_true(h->csum >= h->l4);
		assert_true(h->csum + 2 <= h->end);
	}
	if (h->flags & PKT_F_PORTS)
		assert_true(h->l4 + 8 <= h->end);
	if (h->flags & PKT_F_L4) {
		assert_true(h->flags & PKT_F_PORTS);
		assert_true(h->l4_hlen >= 8);
		assert_true(h->l4 + h->l4_hlen <= h->end);
	}
}

/* Every offset of a successfully parsed view lies inside the buffer. */
static void check_bounds(const struct pkt *p, const uint8_t *buf, size_t len)
{
	assert_ptr_equal(p->data, buf);
	assert_int_equal(p->buflen, len);
	assert_int_equal(p->outer.ip, 0);
	assert_true(p->outer.end <= len);
	assert_int_equal(p->outer.end, p->outer.tot_len);
	check_hdr_bounds(&p->outer);
	if (p->has_inner) {
		assert_int_equal(p->outer.proto, P_ICMP);
		assert_true(pkt_icmp_is_error(p->outer.icmp_type));
		assert_int_equal(p->inner.ip, p->outer.l4 + 8);
		assert_int_equal(p->inner.end, p->outer.end);
		check_hdr_bounds(&p->inner);
	}
}

static void check_hdr_equal(const struct pkt_hdr *a, const struct pkt_hdr *b)
{
	assert_int_equal(a->saddr.ip, b->saddr.ip);
	assert_int_equal(a->daddr.ip, b->daddr.ip);
	assert_int_equal(a->ip, b->ip);
	assert_int_equal(a->l4, b->l4);
	assert_int_equal(a->end, b->end);
	assert_int_equal(a->tot_len, b->tot_len);
	assert_int_equal(a->frag_off, b->frag_off);
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->sport, b->sport);
	assert_int_equal(a->dport, b->dport);
	assert_int_equal(a->csum, b->csum);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->ttl, b->ttl);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->l4_hlen, b->l4_hlen);
	assert_int_equal(a->tcp_flags, b->tcp_flags);
	assert_int_equal(a->icmp_type, b->icmp_type);
	assert_int_equal(a->icmp_code, b->icmp_code);
}

/* Which checksums verify, by the reference sum: bit 0 IP, 1 outer L4 (when
 * the whole message is present), 2 inner IP, 3 inner L4 (likewise).  IPv4
 * only: a flipped version bit can make an IPv6 packet of a mutant, whose
 * first 40 bytes may happen to sum as an IPv4 header would (test_pkt6 has
 * IPv6's checksums). */
static unsigned int sums_ok(const struct pkt *p)
{
	const uint8_t *d = p->data;
	const struct pkt_hdr *h = &p->outer;
	unsigned int ok = 0;

	if (h->family != NF_V4)
		return 0;

	if (ref_ok(0, d, h->l4))
		ok |= 1;
	for (int i = 0; i < 2; i++) {
		size_t end, len;
		uint16_t ulen;

		if (i == 1) {
			if (!p->has_inner)
				break;
			h = &p->inner;
			if (ref_ok(0, d + h->ip, (size_t)(h->l4 - h->ip)))
				ok |= 4;
			if (h->ip + h->tot_len > h->end)
				continue;
		}
		if (!(h->flags & PKT_F_L4) || h->flags & PKT_F_FRAG)
			continue;
		end = (size_t)h->ip + h->tot_len;
		/* An embedded total length may end inside the L4 header. */
		if (end < (size_t)h->l4 + h->l4_hlen)
			continue;
		len = end - h->l4;
		switch (h->proto) {
		case P_TCP:
			if (ref_ok(ref_pseudo(h->saddr.ip, h->daddr.ip, P_TCP, len), d + h->l4, len))
				ok |= 2u << (2 * i);
			break;
		case P_UDP:
			ulen = be16_get(d + h->l4 + 4);
			if (ulen >= 8 && ulen <= len && be16_get(d + h->csum) &&
			    ref_ok(ref_pseudo(h->saddr.ip, h->daddr.ip, P_UDP, ulen), d + h->l4, ulen))
				ok |= 2u << (2 * i);
			break;
		case P_ICMP:
			if (ref_ok(0, d + h->l4, len))
				ok |= 2u << (2 * i);
			break;
		}
	}
	return ok;
}

/* On a parsed (possibly hostile) packet: every rewrite stays in bounds (ASan
 * watches the heap buffer), checksums that verified still verify, and the
 * result parses again to the view the rewrites maintained. */
static void exercise(struct pkt *p, uint8_t *buf, size_t len)
{
	unsigned int before = sums_ok(p), after;
	struct pkt again;

	for (int i = 0; i < (p->has_inner ? 2 : 1); i++) {
		struct pkt_hdr *h = i ? &p->inner : &p->outer;

		pkt_set_saddr(p, h, &(union nf_addr){ .ip6 = { h->saddr.ip ^ 0x0a0b0c0d } });
		pkt_set_daddr(p, h, &(union nf_addr){ .ip6 = { ~h->daddr.ip } });
		pkt_set_sport(p, h, (uint16_t)(h->sport + 1));
		pkt_set_dport(p, h, 0);
		pkt_set_icmp_id(p, h, (uint16_t)~h->sport);
	}
	pkt_set_ttl(p, (uint8_t)(p->outer.ttl - 1));
	after = sums_ok(p);
	if ((before & after) != before)
		fail_msg("checksums verified %x before rewrites, %x after", before, after);
	assert_int_equal(pkt_parse(&again, buf, len), PKT_OK);
	check_hdr_equal(&again.outer, &p->outer);
	assert_int_equal(again.has_inner, p->has_inner);
	if (p->has_inner)
		check_hdr_equal(&again.inner, &p->inner);
}

/* ---- known-answer packets ------------------------------------------------ */

/* 1: TCP SYN 192.168.1.10:54321 -> 93.184.216.34:443, MSS SACK TS WS */
static const char syn_lan[] =
	"45 00 00 3c 4f 3a 40 00 40 06 f3 f4 c0 a8 01 0a"
	"5d b8 d8 22 d4 31 01 bb 1a 2b 3c 4d 00 00 00 00"
	"a0 02 fa f0 ea 5f 00 00 02 04 05 b4 04 02 08 0a"
	"00 9c 3e 21 00 00 00 00 01 03 03 07";
/* 1': the same after SNAT to 203.0.113.7:40000 */
static const char syn_wan[] =
	"45 00 00 3c 4f 3a 40 00 40 06 79 9f cb 00 71 07"
	"5d b8 d8 22 9c 40 01 bb 1a 2b 3c 4d 00 00 00 00"
	"a0 02 fa f0 a7 fb 00 00 02 04 05 b4 04 02 08 0a"
	"00 9c 3e 21 00 00 00 00 01 03 03 07";
/* 2: DNS query for example.com A, 192.168.1.10:53000 -> 8.8.8.8:53 */
static const char dns_lan[] =
	"45 00 00 39 1c 46 40 00 40 11 4c ac c0 a8 01 0a"
	"08 08 08 08 cf 08 00 35 00 25 e3 68 ab cd 01 00"
	"00 01 00 00 00 00 00 00 07 65 78 61 6d 70 6c 65"
	"03 63 6f 6d 00 00 01 00 01";
/* 2': after SNAT to 203.0.113.7:40001 */
static const char dns_wan[] =
	"45 00 00 39 1c 46 40 00 40 11 d2 56 cb 00 71 07"
	"08 08 08 08 9c 41 00 35 00 25 9b da ab cd 01 00"
	"00 01 00 00 00 00 00 00 07 65 78 61 6d 70 6c 65"
	"03 63 6f 6d 00 00 01 00 01";
/* 3: ICMP echo request 192.168.1.10 -> 8.8.8.8, id 0x1234 seq 1 */
static const char echo_lan[] =
	"45 00 00 54 b5 e1 40 00 40 01 b3 05 c0 a8 01 0a"
	"08 08 08 08 08 00 a5 ce 12 34 00 01 d2 a8 65 65"
	"00 00 00 00 3f 1b 0a 00 00 00 00 00 10 11 12 13"
	"14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23"
	"24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33"
	"34 35 36 37";
/* 3': after SNAT to 203.0.113.7, id 40002 */
static const char echo_wan[] =
	"45 00 00 54 b5 e1 40 00 40 01 38 b0 cb 00 71 07"
	"08 08 08 08 08 00 1b c0 9c 42 00 01 d2 a8 65 65"
	"00 00 00 00 3f 1b 0a 00 00 00 00 00 10 11 12 13"
	"14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23"
	"24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33"
	"34 35 36 37";
/* 4: port unreachable 198.51.100.53 -> 203.0.113.7 quoting the (SNATed)
 * DNS query 203.0.113.7:40001 -> 198.51.100.53:53 whole */
static const char unreach_wan[] =
	"45 c0 00 55 00 00 00 00 39 01 1a 78 c6 33 64 35"
	"cb 00 71 07 03 03 63 a4 00 00 00 00 45 00 00 39"
	"1c 46 40 00 3f 11 b8 fd cb 00 71 07 c6 33 64 35"
	"9c 41 00 35 00 25 81 81 ab cd 01 00 00 01 00 00"
	"00 00 00 00 07 65 78 61 6d 70 6c 65 03 63 6f 6d"
	"00 00 01 00 01";
/* 4': the same after reverse NAT to 192.168.1.10:53000 */
static const char unreach_lan[] =
	"45 c0 00 55 00 00 00 00 39 01 94 cd c6 33 64 35"
	"c0 a8 01 0a 03 03 e9 4e 00 00 00 00 45 00 00 39"
	"1c 46 40 00 3f 11 33 53 c0 a8 01 0a c6 33 64 35"
	"cf 08 00 35 00 25 c9 0f ab cd 01 00 00 01 00 00"
	"00 00 00 00 07 65 78 61 6d 70 6c 65 03 63 6f 6d"
	"00 00 01 00 01";
/* 5: IGMPv2 report 192.168.1.10 -> 224.0.0.251 with a router alert option */
static const char igmp_ra[] =
	"46 c0 00 20 00 00 40 00 01 02 41 6a c0 a8 01 0a"
	"e0 00 00 fb 94 04 00 00 16 00 09 04 e0 00 00 fb";

static const struct kat {
	const char *name, *hex;
	uint32_t saddr, daddr;
	uint16_t tot_len, sport, dport;
	uint16_t l4, csum; /* offsets */
	uint8_t proto, flags, l4_hlen, tcp_flags, icmp_type, icmp_code;
	bool has_inner;
	uint16_t ip_csum, l4_csum;
} kats[] = {
	/* 1 */ { "tcp syn", syn_lan, LAN, EXAMPLE, 60, 54321, 443, 20, 36, P_TCP,
		  PKT_F_DF | PKT_F_L4 | PKT_F_PORTS, 40, TCP_SYN, 0, 0, false, 0xf3f4, 0xea5f },
	/* 2 */ { "udp dns", dns_lan, LAN, GOOGLE, 57, 53000, 53, 20, 26, P_UDP,
		  PKT_F_DF | PKT_F_L4 | PKT_F_PORTS, 8, 0, 0, 0, false, 0x4cac, 0xe368 },
	/* 3 */ { "icmp echo", echo_lan, LAN, GOOGLE, 84, 0x1234, 0x1234, 20, 22, P_ICMP,
		  PKT_F_DF | PKT_F_L4 | PKT_F_PORTS, 8, 0, 8, 0, false, 0xb305, 0xa5ce },
	/* 4 */ { "icmp unreach", unreach_wan, DNS, WAN, 85, 0, 0, 20, 22, P_ICMP,
		  PKT_F_L4 | PKT_F_PORTS, 8, 0, 3, 3, true, 0x1a78, 0x63a4 },
	/* 5 */ { "igmp ra", igmp_ra, LAN, MDNS, 32, 0, 0, 24, 0, P_IGMP,
		  PKT_F_DF, 0, 0, 0, 0, false, 0x416a, 0 },
};

static void test_kat_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(kats); i++) {
		const struct kat *k = &kats[i];
		uint8_t buf[PKT_CAP];
		size_t len = unhex(buf, sizeof(buf), k->hex);
		struct pkt p;
		enum pkt_error e = pkt_parse(&p, buf, len);

		if (e != PKT_OK)
			fail_msg("kat %zu (%s): %s", i + 1, k->name, pkt_error_name(e));
		check_bounds(&p, buf, len);
		assert_int_equal(p.outer.saddr.ip, k->saddr);
		assert_int_equal(p.outer.daddr.ip, k->daddr);
		assert_int_equal(p.outer.tot_len, k->tot_len);
		assert_int_equal(p.outer.end, len);
		assert_int_equal(p.outer.proto, k->proto);
		assert_int_equal(p.outer.flags, k->flags);
		assert_int_equal(p.outer.l4, k->l4);
		assert_int_equal(p.outer.csum, k->csum);
		assert_int_equal(p.outer.l4_hlen, k->l4_hlen);
		assert_int_equal(p.outer.sport, k->sport);
		assert_int_equal(p.outer.dport, k->dport);
		assert_int_equal(p.outer.tcp_flags, k->tcp_flags);
		assert_int_equal(p.outer.icmp_type, k->icmp_type);
		assert_int_equal(p.outer.icmp_code, k->icmp_code);
		assert_int_equal(p.has_inner, k->has_inner);

		/* The stored checksums are the independently computed ones, and
		 * nat/csum computes the same. */
		assert_int_equal(be16_get(buf + 10), k->ip_csum);
		assert_int_equal(csum_ip(buf, k->l4), k->ip_csum);
		if (!k->csum)
			continue;
		assert_int_equal(be16_get(buf + k->csum), k->l4_csum);
		if (k->proto == P_ICMP)
			assert_int_equal(csum_icmp(buf + k->l4, len - k->l4), k->l4_csum);
		else
			assert_int_equal(csum_l4(k->saddr, k->daddr, k->proto, buf + k->l4,
						 len - k->l4), k->l4_csum);
	}
}

static void test_kat_inner(void **state)
{
	uint8_t buf[PKT_CAP];
	size_t len = unhex(buf, sizeof(buf), unreach_wan);
	struct pkt p;

	(void)state;
	assert_int_equal(pkt_parse(&p, buf, len), PKT_OK);
	assert_true(p.has_inner);
	assert_int_equal(p.inner.ip, 28);
	assert_int_equal(p.inner.l4, 48);
	assert_int_equal(p.inner.end, 85);
	assert_int_equal(p.inner.tot_len, 57);
	assert_int_equal(p.inner.saddr.ip, WAN);
	assert_int_equal(p.inner.daddr.ip, DNS);
	assert_int_equal(p.inner.proto, P_UDP);
	assert_int_equal(p.inner.ttl, 63);
	assert_int_equal(p.inner.id, 0x1c46);
	assert_int_equal(p.inner.sport, 40001);
	assert_int_equal(p.inner.dport, 53);
	assert_int_equal(p.inner.csum, 54);
	assert_int_equal(p.inner.l4_hlen, 8);
	assert_int_equal(p.inner.flags, PKT_F_DF | PKT_F_L4 | PKT_F_PORTS);
	assert_int_equal(be16_get(buf + 38), 0xb8fd);
	assert_int_equal(be16_get(buf + 54), 0x8181);
}

/* SNAT and the reverse NAT of the ICMP error, to the independently computed
 * packets; then back again. */
static const struct {
	const char *from, *to;
	struct op ops[4];
	size_t nops;
} kat_rewrites[] = {
	/* 1 */ { syn_lan, syn_wan,
		  { { OP_SADDR, false, WAN }, { OP_SPORT, false, 40000 } }, 2 },
	/* 2 */ { syn_wan, syn_lan,
		  { { OP_SPORT, false, 54321 }, { OP_SADDR, false, LAN } }, 2 },
	/* 3 */ { dns_lan, dns_wan,
		  { { OP_SADDR, false, WAN }, { OP_SPORT, false, 40001 } }, 2 },
	/* 4 */ { dns_wan, dns_lan,
		  { { OP_SADDR, false, LAN }, { OP_SPORT, false, 53000 } }, 2 },
	/* 5 */ { echo_lan, echo_wan,
		  { { OP_SADDR, false, WAN }, { OP_ICMP_ID, false, 40002 } }, 2 },
	/* 6 */ { echo_wan, echo_lan,
		  { { OP_ICMP_ID, false, 0x1234 }, { OP_SADDR, false, LAN } }, 2 },
	/* 7 */ { unreach_wan, unreach_lan,
		  { { OP_DADDR, false, LAN }, { OP_SADDR, true, LAN },
		    { OP_SPORT, true, 53000 } }, 3 },
	/* 8 */ { unreach_lan, unreach_wan,
		  { { OP_SPORT, true, 40001 }, { OP_SADDR, true, WAN },
		    { OP_DADDR, false, WAN } }, 3 },
};

static void test_kat_rewrite(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(kat_rewrites); i++) {
		uint8_t buf[PKT_CAP], want[PKT_CAP];
		size_t len = unhex(buf, sizeof(buf), kat_rewrites[i].from);
		size_t wlen = unhex(want, sizeof(want), kat_rewrites[i].to);
		struct pkt p;

		assert_int_equal(len, wlen);
		assert_int_equal(pkt_parse(&p, buf, len), PKT_OK);
		for (size_t j = 0; j < kat_rewrites[i].nops; j++)
			op_apply(&p, &kat_rewrites[i].ops[j]);
		if (memcmp(buf, want, len)) {
			dump("got", buf, len);
			dump("want", want, len);
			fail_msg("kat rewrite %zu", i + 1);
		}
	}
}

/* TTL decrement on the SYN: a full recomputation agrees. */
static void test_kat_ttl(void **state)
{
	uint8_t buf[PKT_CAP];
	size_t len = unhex(buf, sizeof(buf), syn_lan);
	struct pkt p;

	(void)state;
	assert_int_equal(pkt_parse(&p, buf, len), PKT_OK);
	for (int ttl = 63; ttl >= 0; ttl--) {
		pkt_set_ttl(&p, (uint8_t)ttl);
		assert_int_equal(buf[8], ttl);
		assert_int_equal(p.outer.ttl, ttl);
		assert_int_equal(be16_get(buf + 10), csum_ip(buf, 20));
		assert_true(ref_ok(0, buf, 20));
	}
	/* 64 -> 63 by hand: f3f4 + 0100 */
	pkt_set_ttl(&p, 64);
	assert_int_equal(be16_get(buf + 10), 0xf3f4);
	pkt_set_ttl(&p, 63);
	assert_int_equal(be16_get(buf + 10), 0xf4f4);
}

/* ---- mutants of valid packets -------------------------------------------- */

struct mut_ctx {
	size_t calls, accepted;
	bool fix; /* repair the IP checksum first, to get past it */
};

static void on_trunc(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct mut_ctx *c = ctx;
	struct pkt p;
	enum pkt_error e = pkt_parse(&p, buf, len);
	enum pkt_error want = len < 20 || len < (size_t)(buf[0] & 0x0f) * 4 ?
		PKT_E_SHORT : PKT_E_TOTLEN;

	/* Truncation can never leave a valid shorter packet: the total length
	 * field no longer fits the buffer. */
	if (e != want)
		fail_msg("truncated to %zu: %s, want %s", m->pos, pkt_error_name(e),
			 pkt_error_name(want));
	c->calls++;
}

static void on_flip(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct mut_ctx *c = ctx;
	struct pkt p;
	enum pkt_error e;

	(void)m;
	if (c->fix && len >= 20 && (buf[0] & 0x0f) * 4 <= len)
		fix_ip_csum(buf);
	e = pkt_parse(&p, buf, len);
	c->calls++;
	if (e != PKT_OK)
		return;
	c->accepted++;
	check_bounds(&p, buf, len);
	exercise(&p, buf, len);
}

static void mutate_kat(const uint8_t *buf, size_t len, const char *name)
{
	struct mut_ctx t = { 0 }, f = { 0 }, fx = { .fix = true };

	assert_int_equal(mutate_truncations(buf, len, on_trunc, &t), len);
	assert_int_equal(t.calls, len);
	assert_int_equal(mutate_bitflips(buf, len, on_flip, &f), len * 8);
	assert_int_equal(f.calls, len * 8);
	/* Every flip inside the IP header is caught by its checksum. */
	assert_true(f.accepted <= (len - (size_t)(buf[0] & 0x0f) * 4) * 8);
	mutate_bitflips(buf, len, on_flip, &fx);
	print_message("%-14s %3zu bytes: %4zu flips, %4zu accepted, %4zu with IP csum repaired\n",
		      name, len, f.calls, f.accepted, fx.accepted);
}

/* ---- the packet builder (a reference, independent of nat/) ---------------- */

struct spec {
	uint32_t saddr, daddr;
	uint16_t id;
	uint16_t frag_off;     /* bytes; nonzero: data is the opaque payload */
	uint8_t tos, ttl, proto;
	bool df, mf, rsv;
	uint8_t opt[40];
	uint8_t optlen;        /* multiple of 4 */
	uint16_t sport, dport; /* ICMP query: sport is the id */
	uint32_t seq, ack;
	uint8_t tcp_doff, tcp_flags;
	uint8_t l4opt[40];     /* TCP options; ICMP non-query: bytes 4..7 */
	bool udp_nocsum;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_seq;
	uint8_t data[600];
	size_t datalen;
	size_t carry;          /* first fragment: datagram bytes carried; 0: all */
	struct spec *inner;    /* ICMP error: the packet quoted */
	size_t quote;          /* bytes of it quoted */
	int half_csum;         /* the quote ends inside the TCP checksum: its
				  first byte as first built, which no rewrite
				  can update; -1: not so */
};

static bool is_query(uint8_t type)
{
	return type == 0 || type == 8 || (type >= 13 && type <= 18);
}

static size_t build_ip(const struct spec *s, uint8_t *out);

/* The whole L4 datagram with its checksum. */
static size_t build_l4(const struct spec *s, uint8_t *out)
{
	size_t n, hl;
	uint16_t c;

	switch (s->proto) {
	case P_TCP:
		hl = (size_t)s->tcp_doff * 4;
		be16_put(out, s->sport);
		be16_put(out + 2, s->dport);
		be32_put(out + 4, s->seq);
		be32_put(out + 8, s->ack);
		out[12] = (uint8_t)(s->tcp_doff << 4);
		out[13] = s->tcp_flags;
		be16_put(out + 14, (uint16_t)(s->seq ^ s->ack));
		be32_put(out + 16, 0);
		memcpy(out + 20, s->l4opt, hl - 20);
		memcpy(out + hl, s->data, s->datalen);
		n = hl + s->datalen;
		be16_put(out + 16, ref_csum(ref_pseudo(s->saddr, s->daddr, P_TCP, n), out, n));
		return n;
	case P_UDP:
		n = 8 + s->datalen;
		be16_put(out, s->sport);
		be16_put(out + 2, s->dport);
		be16_put(out + 4, (uint16_t)n);
		be16_put(out + 6, 0);
		memcpy(out + 8, s->data, s->datalen);
		if (!s->udp_nocsum) {
			c = ref_csum(ref_pseudo(s->saddr, s->daddr, P_UDP, n), out, n);
			be16_put(out + 6, c ? c : 0xffff);
		}
		return n;
	case P_ICMP:
		out[0] = s->icmp_type;
		out[1] = s->icmp_code;
		be16_put(out + 2, 0);
		if (is_query(s->icmp_type)) {
			be16_put(out + 4, s->sport);
			be16_put(out + 6, s->icmp_seq);
		} else {
			memcpy(out + 4, s->l4opt, 4);
		}
		if (s->inner) {
			uint8_t q[PKT_CAP];

			assert_true(build_ip(s->inner, q) >= s->quote);
			memcpy(out + 8, q, s->quote);
			n = 8 + s->quote;
			if (s->half_csum >= 0)
				out[n - 1] = (uint8_t)s->half_csum;
		} else {
			memcpy(out + 8, s->data, s->datalen);
			n = 8 + s->datalen;
		}
		be16_put(out + 2, ref_csum(0, out, n));
		return n;
	default:
		memcpy(out, s->data, s->datalen);
		return s->datalen;
	}
}

/* The whole packet (a fragment carries its part of the datagram). */
static size_t build_ip(const struct spec *s, uint8_t *out)
{
	size_t hl = 20 + (size_t)s->optlen, carry;
	uint8_t dg[PKT_CAP];

	if (s->frag_off) {
		memcpy(out + hl, s->data, s->datalen);
		carry = s->datalen;
	} else {
		size_t n = build_l4(s, dg);

		carry = s->carry ? s->carry : n;
		assert_true(carry <= n);
		memcpy(out + hl, dg, carry);
	}
	out[0] = (uint8_t)(0x40 | hl / 4);
	out[1] = s->tos;
	be16_put(out + 2, (uint16_t)(hl + carry));
	be16_put(out + 4, s->id);
	be16_put(out + 6, (uint16_t)((s->rsv ? 0x8000 : 0) | (s->df ? 0x4000 : 0) |
				     (s->mf ? 0x2000 : 0) | s->frag_off / 8));
	out[8] = s->ttl;
	out[9] = s->proto;
	be16_put(out + 10, 0);
	be32_put(out + 12, s->saddr);
	be32_put(out + 16, s->daddr);
	memcpy(out + 20, s->opt, s->optlen);
	be16_put(out + 10, ref_csum(0, out, hl));
	return hl + carry;
}

/* Well-formed options: NOPs, type-length-value options, maybe an EOL
 * followed by junk. */
static void gen_opts(struct rng *r, struct spec *s, bool garbage)
{
	size_t n = 4 * rnd(r, 11), i = 0;

	s->optlen = (uint8_t)n;
	if (garbage) {
		rnd_bytes(r, s->opt, n);
		return;
	}
	while (i < n) {
		switch (rnd(r, 4)) {
		case 0:
			s->opt[i++] = 1;
			break;
		case 1:
			s->opt[i++] = 0;
			rnd_bytes(r, s->opt + i, n - i);
			i = n;
			break;
		default:
			if (n - i < 2) {
				s->opt[i++] = 1;
				break;
			}
			s->opt[i + 1] = (uint8_t)rnd_in(r, 2, (uint32_t)(n - i));
			s->opt[i] = (uint8_t)rnd_in(r, 2, 255);
			rnd_bytes(r, s->opt + i + 2, s->opt[i + 1] - 2u);
			i += s->opt[i + 1];
			break;
		}
	}
}

enum gen_kind { G_TCP, G_UDP, G_ICMPQ, G_ICMPERR, G_OTHER, G_FIRST, G_LATER, G_MAX };

static void gen_data(struct rng *r, struct spec *s, size_t lo, size_t hi)
{
	s->datalen = rnd_in(r, (uint32_t)lo, (uint32_t)hi);
	if (rnd(r, 8) == 0)
		memset(s->data, 0, s->datalen);
	else
		rnd_bytes(r, s->data, s->datalen);
}

static void gen_l4(struct rng *r, struct spec *s, uint8_t proto)
{
	static const uint8_t queries[] = { 0, 8, 13, 14, 15, 16, 17, 18 };

	s->proto = proto;
	s->sport = rnd(r, 8) ? (uint16_t)rnd64(r) : 0;
	s->dport = rnd(r, 8) ? (uint16_t)rnd64(r) : 0xffff;
	switch (proto) {
	case P_TCP:
		s->seq = (uint32_t)rnd64(r);
		s->ack = (uint32_t)rnd64(r);
		s->tcp_doff = (uint8_t)rnd_in(r, 5, 15);
		s->tcp_flags = (uint8_t)rnd64(r);
		rnd_bytes(r, s->l4opt, sizeof(s->l4opt));
		gen_data(r, s, 0, 200);
		break;
	case P_UDP:
		s->udp_nocsum = rnd(r, 3) == 0;
		gen_data(r, s, 0, 200);
		break;
	case P_ICMP:
		s->icmp_type = queries[rnd(r, ARRAY_SIZE(queries))];
		s->icmp_code = (uint8_t)(rnd(r, 4) ? 0 : rnd64(r));
		s->icmp_seq = (uint16_t)rnd64(r);
		gen_data(r, s, 0, 200);
		if (rnd(r, 16) == 0) {
			/* An all-zero echo reply but for the id. */
			s->icmp_type = 0;
			s->icmp_code = 0;
			s->icmp_seq = 0;
			s->datalen = 0;
		}
		break;
	default:
		gen_data(r, s, 0, 200);
		break;
	}
}

static uint8_t rnd_proto(struct rng *r)
{
	static const uint8_t protos[] = { P_TCP, P_UDP, P_ICMP, P_IGMP, P_GRE, 50, 132, 255 };

	return protos[rnd(r, ARRAY_SIZE(protos))];
}

/* A random valid packet; inner is storage for the packet an ICMP error
 * quotes. */
static void gen_spec(struct rng *r, struct spec *s, struct spec *inner, bool is_inner)
{
	enum gen_kind kind = rnd(r, G_MAX);
	uint8_t dg[PKT_CAP];
	size_t n;

	memset(s, 0, sizeof(*s));
	s->saddr = (uint32_t)rnd64(r);
	s->daddr = (uint32_t)rnd64(r);
	s->id = (uint16_t)rnd64(r);
	s->tos = (uint8_t)rnd64(r);
	s->ttl = (uint8_t)rnd64(r);
	s->df = rnd(r, 2);
	s->rsv = rnd(r, 8) == 0;
	if (rnd(r, 3) == 0)
		gen_opts(r, s, is_inner && rnd(r, 4) == 0);
	if (is_inner && kind == G_ICMPERR) {
		/* Quoted ICMP errors are read as plain ICMP headers. */
		gen_l4(r, s, P_ICMP);
		s->icmp_type = (uint8_t)(rnd(r, 2) ? 3 : 11);
		rnd_bytes(r, s->l4opt, 4);
		return;
	}

	switch (kind) {
	case G_TCP:
		gen_l4(r, s, P_TCP);
		break;
	case G_UDP:
		gen_l4(r, s, P_UDP);
		break;
	case G_ICMPQ:
		gen_l4(r, s, P_ICMP);
		break;
	case G_ICMPERR:
		gen_l4(r, s, P_ICMP);
		s->icmp_type = (uint8_t)(rnd(r, 5) ? 3 : 11 + rnd(r, 2));
		s->icmp_code = (uint8_t)rnd(r, 16);
		rnd_bytes(r, s->l4opt, 4);
		if (rnd(r, 2))
			memset(s->l4opt, 0, 4);
		s->inner = inner;
		gen_spec(r, inner, NULL, true);
		n = build_ip(inner, dg);
		{
			size_t ihl = 20 + (size_t)inner->optlen, lo = ihl;

			if (!inner->frag_off && (inner->proto == P_TCP ||
			    inner->proto == P_UDP || inner->proto == P_ICMP))
				lo = ihl + 8;
			switch (rnd(r, 3)) {
			case 0:
				s->quote = n;
				break;
			case 1:
				s->quote = lo;
				break;
			default:
				s->quote = rnd_in(r, (uint32_t)lo, (uint32_t)n);
				break;
			}
			s->half_csum = -1;
			if (inner->proto == P_TCP && !inner->frag_off && s->quote == ihl + 17)
				s->half_csum = dg[ihl + 16];
		}
		break;
	case G_OTHER:
		gen_l4(r, s, rnd_proto(r));
		break;
	case G_FIRST:
		gen_l4(r, s, (uint8_t)(rnd(r, 3) == 0 ? P_UDP : rnd(r, 2) ? P_TCP : P_ICMP));
		if (s->datalen < 16)
			gen_data(r, s, 16, 200);
		n = build_l4(s, dg);
		s->mf = true;
		s->carry = 8 * rnd_in(r, 1, (uint32_t)(n - 1) / 8);
		break;
	case G_LATER:
		s->proto = rnd_proto(r);
		s->mf = rnd(r, 2);
		s->frag_off = (uint16_t)(8 * rnd_in(r, 1, is_inner ? 8191 : 1000));
		gen_data(r, s, 1, 200);
		if (s->mf) {
			s->datalen &= ~(size_t)7;
			if (!s->datalen)
				s->datalen = 8;
		}
		break;
	case G_MAX:
		break;
	}
}

/* What pkt_parse must report for a header built from s, with present bytes
 * of it in the buffer. */
static void expect_hdr(const struct spec *s, const struct pkt_hdr *h, size_t present,
		       bool outer)
{
	size_t hl = 20 + (size_t)s->optlen, n = present - hl;
	uint8_t flags = 0, l4_hlen = 0;
	uint16_t csum = 0;
	bool ports = false;

	assert_int_equal(h->saddr.ip, s->saddr);
	assert_int_equal(h->daddr.ip, s->daddr);
	assert_int_equal(h->proto, s->proto);
	assert_int_equal(h->ttl, s->ttl);
	assert_int_equal(h->id, s->id);
	assert_int_equal(h->frag_off, s->frag_off);
	assert_int_equal(h->l4, h->ip + hl);
	if (s->df)
		flags |= PKT_F_DF;
	if (s->mf)
		flags |= PKT_F_MF;
	if (s->mf || s->frag_off)
		flags |= PKT_F_FRAG;
	if (s->frag_off)
		flags |= PKT_F_LATER;
	if (!s->frag_off) {
		switch (s->proto) {
		case P_TCP:
			if (n >= 18)
				csum = (uint16_t)(h->l4 + 16);
			ports = outer ? n >= s->tcp_doff * 4u : n >= 8;
			if (n >= s->tcp_doff * 4u)
				l4_hlen = (uint8_t)(s->tcp_doff * 4);
			break;
		case P_UDP:
			csum = (uint16_t)(h->l4 + 6);
			ports = true;
			l4_hlen = 8;
			break;
		case P_ICMP:
			csum = (uint16_t)(h->l4 + 2);
			ports = true;
			l4_hlen = 8;
			break;
		}
	}
	if (ports)
		flags |= PKT_F_PORTS;
	if (l4_hlen)
		flags |= PKT_F_L4;
	assert_int_equal(h->flags, flags);
	assert_int_equal(h->csum, csum);
	assert_int_equal(h->l4_hlen, l4_hlen);
	if (ports && s->proto == P_ICMP) {
		assert_int_equal(h->icmp_type, s->icmp_type);
		assert_int_equal(h->icmp_code, s->icmp_code);
		assert_int_equal(h->sport, is_query(s->icmp_type) ? s->sport : 0);
		assert_int_equal(h->dport, is_query(s->icmp_type) ? s->sport : 0);
	} else if (ports) {
		assert_int_equal(h->sport, s->sport);
		assert_int_equal(h->dport, s->dport);
	}
	if (l4_hlen && s->proto == P_TCP)
		assert_int_equal(h->tcp_flags, s->tcp_flags);
}

/* The description after a rewrite the view allowed. */
static void model_apply(struct spec *s, const struct pkt *p, const struct op *o)
{
	struct spec *t = o->inner ? s->inner : s;
	const struct pkt_hdr *h = o->inner ? &p->inner : &p->outer;
	bool ports = h->flags & PKT_F_PORTS && (t->proto == P_TCP || t->proto == P_UDP);

	switch (o->field) {
	case OP_SADDR:
		t->saddr = o->val;
		break;
	case OP_DADDR:
		t->daddr = o->val;
		break;
	case OP_SPORT:
		if (ports)
			t->sport = (uint16_t)o->val;
		break;
	case OP_DPORT:
		if (ports)
			t->dport = (uint16_t)o->val;
		break;
	case OP_ICMP_ID:
		if (h->flags & PKT_F_PORTS && t->proto == P_ICMP && is_query(t->icmp_type))
			t->sport = (uint16_t)o->val;
		break;
	case OP_TTL:
		s->ttl = (uint8_t)o->val;
		break;
	case OP_MAX:
		break;
	}
}

static void check_model_view(const struct spec *s, const struct pkt_hdr *h)
{
	assert_int_equal(h->saddr.ip, s->saddr);
	assert_int_equal(h->daddr.ip, s->daddr);
	assert_int_equal(h->ttl, s->ttl);
	if (!(h->flags & PKT_F_PORTS))
		return;
	if (s->proto == P_ICMP) {
		if (is_query(s->icmp_type)) {
			assert_int_equal(h->sport, s->sport);
			assert_int_equal(h->dport, s->sport);
		}
	} else {
		assert_int_equal(h->sport, s->sport);
		assert_int_equal(h->dport, s->dport);
	}
}

/*
 * An ICMP message present only in part (a first fragment, a truncated quote)
 * may be all zero beyond what is present; its incrementally updated checksum
 * is then right only up to the sign of zero (0000 for ffff, RFC 1624 §3),
 * and nothing in the packet tells the two apart.  Accept exactly that.
 */
static void allow_zero_sign(const struct pkt *p, const uint8_t *got, uint8_t *want)
{
	for (int i = 0; i < (p->has_inner ? 2 : 1); i++) {
		const struct pkt_hdr *h = i ? &p->inner : &p->outer;
		uint16_t g, w;

		if (h->proto != P_ICMP || !h->csum)
			continue;
		if (!(h->flags & PKT_F_FRAG) && h->ip + h->tot_len <= h->end)
			continue;
		g = be16_get(got + h->csum);
		w = be16_get(want + h->csum);
		if ((g == 0 && w == 0xffff) || (g == 0xffff && w == 0))
			be16_put(want + h->csum, g);
	}
}

static uint32_t rnd_value(struct rng *r, enum op_field f, uint32_t old)
{
	switch (rnd(r, 6)) {
	case 0:
		return 0;
	case 1:
		return old;
	case 2:
		return f == OP_SADDR || f == OP_DADDR ? 0xffffffff : 0xffff;
	default:
		return f == OP_SADDR || f == OP_DADDR ? (uint32_t)rnd64(r) :
		       f == OP_TTL ? (uint8_t)rnd64(r) : (uint16_t)rnd64(r);
	}
}

enum { PROPERTY_PACKETS = 20000 };

static void test_property_rewrites(void **state)
{
	uint64_t seed = test_seed();
	struct rng r = { seed };
	unsigned long stats[8] = { 0 };

	(void)state;
	for (int it = 0; it < PROPERTY_PACKETS; it++) {
		struct spec s, inner;
		uint8_t buf[PKT_CAP], want[PKT_CAP];
		struct op ops[12];
		size_t len, pad = rnd(&r, 4) ? 0 : rnd_in(&r, 1, 3);
		int nops = (int)rnd_in(&r, 1, ARRAY_SIZE(ops));
		struct pkt p;
		enum pkt_error e;

		gen_spec(&r, &s, &inner, false);
		len = build_ip(&s, buf);
		rnd_bytes(&r, buf + len, pad);
		e = pkt_parse(&p, buf, len + pad);
		if (e != PKT_OK) {
			dump("packet", buf, len + pad);
			fail_msg("seed %llu iteration %d: %s", (unsigned long long)seed, it,
				 pkt_error_name(e));
		}
		check_bounds(&p, buf, len + pad);
		expect_hdr(&s, &p.outer, len, true);
		assert_int_equal(p.has_inner, s.inner != NULL);
		if (s.inner)
			expect_hdr(s.inner, &p.inner, s.quote, false);
		stats[0]++;
		stats[1] += p.has_inner;
		stats[2] += !!(p.outer.flags & PKT_F_FRAG);
		stats[3] += p.has_inner && !(p.inner.flags & PKT_F_L4);

		for (int i = 0; i < nops; i++) {
			struct op *o = &ops[i];
			const struct pkt_hdr *h;

			o->field = rnd(&r, OP_MAX);
			o->inner = p.has_inner && o->field != OP_TTL && rnd(&r, 3);
			h = o->inner ? &p.inner : &p.outer;
			o->val = rnd_value(&r, o->field,
					   o->field == OP_SADDR ? h->saddr.ip :
					   o->field == OP_DADDR ? h->daddr.ip :
					   o->field == OP_DPORT ? h->dport :
					   o->field == OP_TTL ? h->ttl : h->sport);
			model_apply(&s, &p, o);
			op_apply(&p, o);
			stats[4]++;

			memcpy(want, buf, len + pad);
			assert_int_equal(build_ip(&s, want), len);
			allow_zero_sign(&p, buf, want);
			if (memcmp(buf, want, len + pad)) {
				for (int j = 0; j <= i; j++)
					print_message("op %d: %s %s %#x\n", j, op_names[ops[j].field],
						      ops[j].inner ? "inner" : "outer", ops[j].val);
				dump("got", buf, len);
				dump("want", want, len);
				fail_msg("seed %llu iteration %d op %d: packet differs from a full rebuild",
					 (unsigned long long)seed, it, i);
			}
			check_model_view(&s, &p.outer);
			if (p.has_inner)
				check_model_view(s.inner, &p.inner);
		}

		/* Every checksum present whole still verifies, independently. */
		{
			unsigned int ok = sums_ok(&p), want_ok = 1;

			if (p.outer.flags & PKT_F_L4 && !(p.outer.flags & PKT_F_FRAG) &&
			    !(s.proto == P_UDP && s.udp_nocsum))
				want_ok |= 2;
			if (p.has_inner)
				want_ok |= 4;
			if (p.has_inner && !(p.inner.flags & PKT_F_FRAG) &&
			    p.inner.flags & PKT_F_L4 && s.quote == (size_t)p.inner.tot_len &&
			    !(inner.proto == P_UDP && inner.udp_nocsum))
				want_ok |= 8;
			if ((ok & want_ok) != want_ok)
				fail_msg("seed %llu iteration %d: checksums %x, want %x",
					 (unsigned long long)seed, it, ok, want_ok);
			stats[5] += !!(want_ok & 8);
		}

		/* And the rewritten packet parses to the view kept up to date. */
		{
			struct pkt again;

			assert_int_equal(pkt_parse(&again, buf, len + pad), PKT_OK);
			check_hdr_equal(&again.outer, &p.outer);
			assert_int_equal(again.has_inner, p.has_inner);
			if (p.has_inner)
				check_hdr_equal(&again.inner, &p.inner);
		}
	}
	print_message("%lu packets (%lu ICMP errors, %lu with a truncated inner L4, "
		      "%lu fragments), %lu rewrites, %lu whole inner L4 verified\n",
		      stats[0], stats[1], stats[3], stats[2], stats[4], stats[5]);
}

/* Mutants of the known answers and of generated packets. */
static void test_mutants(void **state)
{
	struct rng r = { test_seed() };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(kats); i++) {
		uint8_t buf[PKT_CAP];
		size_t len = unhex(buf, sizeof(buf), kats[i].hex);

		mutate_kat(buf, len, kats[i].name);
	}
	for (int i = 0; i < 40; i++) {
		struct spec s, inner;
		uint8_t buf[PKT_CAP];
		size_t len;
		struct mut_ctx t = { 0 }, f = { .fix = true };

		gen_spec(&r, &s, &inner, false);
		len = build_ip(&s, buf);
		if (len > 200)
			continue;
		mutate_truncations(buf, len, on_trunc, &t);
		mutate_bitflips(buf, len, on_flip, &f);
	}
}

/* ---- random bytes ---------------------------------------------------------- */

enum { RANDOM_INPUTS = 200000 };

static void test_random_bytes(void **state)
{
	struct rng r = { test_seed() };
	unsigned long accepted = 0, inner = 0;

	(void)state;
	for (int it = 0; it < RANDOM_INPUTS; it++) {
		size_t len = rnd(&r, 120);
		uint8_t *buf = malloc(len ? len : 1);
		struct pkt p;

		assert_non_null(buf);
		rnd_bytes(&r, buf, len);
		/* Half of them look like IPv4 enough to get past the header. */
		if (rnd(&r, 2) && len >= 20) {
			size_t hl = 20 + 4 * rnd(&r, 11);

			if (hl > len)
				hl = 20;
			buf[0] = (uint8_t)(0x40 | hl / 4);
			be16_put(buf + 2, (uint16_t)(rnd(&r, 4) ? len : rnd_in(&r, (uint32_t)hl, (uint32_t)len)));
			if (rnd(&r, 4)) {
				buf[6] &= 0xc0;	/* keep the reserved bit and DF */
				buf[7] = 0;
			}
			buf[9] = (uint8_t)(rnd(&r, 2) ? P_ICMP : rnd_proto(&r));
			if (rnd(&r, 2))
				memset(buf + 20, 1, hl - 20);
			if (buf[9] == P_ICMP && len >= hl + 8 + 20 && rnd(&r, 2)) {
				buf[hl] = (uint8_t)(rnd(&r, 2) ? 3 : 11);
				buf[hl + 8] = (uint8_t)(0x45 + rnd(&r, 3));
				buf[hl + 8 + 9] = (uint8_t)(rnd(&r, 2) ? P_TCP : rnd_proto(&r));
				if (rnd(&r, 2)) {
					buf[hl + 8 + 6] &= 0xc0;
					buf[hl + 8 + 7] = 0;
				}
			}
			fix_ip_csum(buf);
		}
		if (pkt_parse(&p, buf, len) == PKT_OK) {
			accepted++;
			inner += p.has_inner;
			check_bounds(&p, buf, len);
			exercise(&p, buf, len);
		}
		free(buf);
	}
	print_message("%d random inputs: %lu accepted, %lu with an inner header\n", RANDOM_INPUTS,
		      accepted, inner);
}

/* ---- specific cases ------------------------------------------------------- */

/* A plain packet from a description, for the cases below. */
static size_t make(uint8_t *buf, uint8_t proto, size_t datalen)
{
	struct spec s;

	memset(&s, 0, sizeof(s));
	s.saddr = LAN;
	s.daddr = GOOGLE;
	s.ttl = 64;
	s.id = 0x1234;
	s.proto = proto;
	s.sport = 1111;
	s.dport = 2222;
	s.tcp_doff = 5;
	s.tcp_flags = TCP_ACK;
	s.icmp_type = 8;
	s.datalen = datalen;
	for (size_t i = 0; i < datalen; i++)
		s.data[i] = (uint8_t)(i * 7 + 1);
	return build_ip(&s, buf);
}

/* An ICMP error from LAN's router quoting a packet to LAN of quote bytes;
 * fn may edit the quoted packet (at q, ql bytes) before the sums are set. */
static size_t make_error(uint8_t *buf, uint8_t proto, size_t quote,
			 void (*fn)(uint8_t *q, size_t ql))
{
	uint8_t q[PKT_CAP];
	size_t n = make(q, proto, 100);

	assert_true(quote <= n);
	if (fn)
		fn(q, quote);
	memset(buf, 0, 28);
	buf[0] = 0x45;
	be16_put(buf + 2, (uint16_t)(28 + quote));
	buf[8] = 64;
	buf[9] = P_ICMP;
	be32_put(buf + 12, 0x0a000001);
	be32_put(buf + 16, LAN);
	buf[20] = 3;
	buf[21] = 3;
	memcpy(buf + 28, q, quote);
	fix_ip_csum(buf);
	be16_put(buf + 22, ref_csum(0, buf + 20, 8 + quote));
	return 28 + quote;
}

static enum pkt_error parse(uint8_t *buf, size_t len)
{
	struct pkt p;
	uint8_t *copy = malloc(len ? len : 1);
	enum pkt_error e;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	e = pkt_parse(&p, copy, len);
	if (e == PKT_OK)
		check_bounds(&p, copy, len);
	free(copy);
	return e;
}

/* IP options of an 8-byte option area after a UDP header is built. */
static enum pkt_error with_options(const char *opts_hex)
{
	uint8_t opts[40], buf[PKT_CAP], out[PKT_CAP];
	size_t olen = unhex(opts, sizeof(opts), opts_hex), len = make(buf, P_UDP, 10);

	assert_int_equal(olen % 4, 0);
	memcpy(out, buf, 20);
	memcpy(out + 20, opts, olen);
	memcpy(out + 20 + olen, buf + 20, len - 20);
	out[0] = (uint8_t)(0x45 + olen / 4);
	be16_put(out + 2, (uint16_t)(len + olen));
	fix_ip_csum(out);
	return parse(out, len + olen);
}

/* The same options in a packet that is only its header, so the last option
 * byte is the last byte of the (exact-size heap) buffer. */
static enum pkt_error bare_options(const char *opts_hex)
{
	uint8_t b[60];
	size_t olen = unhex(b + 20, 40, opts_hex), len = 20 + olen;

	memset(b, 0, 20);
	b[0] = (uint8_t)(0x45 + olen / 4);
	be16_put(b + 2, (uint16_t)len);
	b[8] = 64;
	b[9] = 255;
	be32_put(b + 12, LAN);
	be32_put(b + 16, GOOGLE);
	fix_ip_csum(b);
	return parse(b, len);
}

static void test_options(void **state)
{
	static const struct {
		const char *hex;
		enum pkt_error want;
	} cases[] = {
		/* 1 */ { "01 01 01 01", PKT_OK },
		/* 2 */ { "00 ff ff ff", PKT_OK },               /* EOL, then ignored */
		/* 3 */ { "94 04 00 00", PKT_OK },               /* router alert */
		/* 4 */ { "01 07 07 04 0a 00 00 01", PKT_OK },    /* record route, exact fit */
		/* 5 */ { "07 08 04 00 00 00 00 00", PKT_OK },
		/* 6 */ { "01 01 94 04 00 00 00 00", PKT_OK },
		/* 7 */ { "07 00 00 00", PKT_E_OPTIONS },        /* length 0 */
		/* 8 */ { "07 01 00 00", PKT_E_OPTIONS },        /* length 1 */
		/* 9 */ { "07 05 00 00", PKT_E_OPTIONS },        /* past the header */
		/* 10 */ { "01 01 01 07", PKT_E_OPTIONS },       /* no room for the length */
		/* 11 */ { "94 04 00 00 07 09 00 00", PKT_E_OPTIONS },
		/* 12 */ { "94 04 00 00 01 01 01 83", PKT_E_OPTIONS },
		/* 13 */ { "07 ff 00 00", PKT_E_OPTIONS },
		/* 14 */ { "94 04 00 00 00 07 00 00", PKT_OK },  /* junk after EOL */
		/* 15 */ { "07 27 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
			   "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", PKT_OK },
		/* 16 */ { "07 27 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
			   "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 44", PKT_E_OPTIONS },
		/* 17 */ { "01 27 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
			   "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", PKT_OK },
		/* 18 */ { "07 28 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
			   "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", PKT_OK },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum pkt_error e = with_options(cases[i].hex);

		if (e != cases[i].want)
			fail_msg("case %zu: %s, want %s", i + 1, pkt_error_name(e),
				 pkt_error_name(cases[i].want));
		e = bare_options(cases[i].hex);
		if (e != cases[i].want)
			fail_msg("case %zu, header only: %s, want %s", i + 1,
				 pkt_error_name(e), pkt_error_name(cases[i].want));
	}
}

/* Each error, reached by a minimal edit of a valid packet (IP checksum
 * repaired unless the case is about it). */
static void test_errors(void **state)
{
	bool seen[PKT_E_MAX] = { false };
	uint8_t b[PKT_CAP];
	size_t n;

	(void)state;
#define EXPECT(err, len) do { \
		enum pkt_error e_ = parse(b, (len)); \
		if (e_ != (err)) \
			fail_msg("line %d: %s, want %s", __LINE__, pkt_error_name(e_), \
				 pkt_error_name(err)); \
		seen[e_] = true; \
	} while (0)

	n = make(b, P_UDP, 12);
	EXPECT(PKT_OK, n);
	EXPECT(PKT_E_SHORT, 0);
	EXPECT(PKT_E_SHORT, 19);
	b[0] = 0x4f;			/* 60-byte header in 40 bytes */
	EXPECT(PKT_E_SHORT, n);
	n = make(b, P_UDP, 12);
	b[0] = 0x55;				/* (6 is IPv6: test_pkt6.c) */
	EXPECT(PKT_E_VERSION, n);
	b[0] = 0x05;
	EXPECT(PKT_E_VERSION, n);
	b[0] = 0x44;
	EXPECT(PKT_E_IHL, n);
	b[0] = 0x40;
	EXPECT(PKT_E_IHL, n);

	n = make(b, P_UDP, 12);
	be16_put(b + 2, 19);
	fix_ip_csum(b);
	EXPECT(PKT_E_TOTLEN, n);
	be16_put(b + 2, (uint16_t)(n + 1));
	fix_ip_csum(b);
	EXPECT(PKT_E_TOTLEN, n);
	be16_put(b + 2, (uint16_t)(n - 1));	/* shorter is fine: UDP length... */
	fix_ip_csum(b);
	EXPECT(PKT_E_L4, n);			/* ...then no longer fits */
	be16_put(b + 2, (uint16_t)n);
	fix_ip_csum(b);
	EXPECT(PKT_OK, n + 3);			/* trailing padding */

	n = make(b, P_UDP, 12);
	b[10] ^= 0x01;
	EXPECT(PKT_E_CSUM, n);
	b[10] ^= 0x01;
	b[8] ^= 0x80;
	EXPECT(PKT_E_CSUM, n);

	{
		enum pkt_error e = with_options("07 01 00 00");

		assert_int_equal(e, PKT_E_OPTIONS);
		seen[e] = true;
	}

	/* Fragments. */
	n = make(b, P_UDP, 12);			/* 20 + 8 + 12 bytes */
	be16_put(b + 6, 0x1fff);		/* 65528 + 20 > 65535 */
	fix_ip_csum(b);
	EXPECT(PKT_E_FRAG, n);
	be16_put(b + 6, 0x1ffd);		/* 65512 + 20 = 65532 */
	fix_ip_csum(b);
	EXPECT(PKT_OK, n);
	be16_put(b + 6, 0x1fff);
	be16_put(b + 2, 28);			/* 65528 + 8 = 65536 */
	fix_ip_csum(b);
	EXPECT(PKT_E_FRAG, n);
	be16_put(b + 2, 27);			/* 65528 + 7 = 65535: the last byte */
	fix_ip_csum(b);
	EXPECT(PKT_OK, n);
	be16_put(b + 2, (uint16_t)n);
	be16_put(b + 6, 0x2000);		/* MF, 20 bytes: not a multiple of 8 */
	fix_ip_csum(b);
	EXPECT(PKT_E_FRAG, n);
	be16_put(b + 2, 36);			/* MF, 16 bytes: fine (UDP len > present) */
	fix_ip_csum(b);
	EXPECT(PKT_OK, n);
	be16_put(b + 2, 20);			/* MF, empty */
	fix_ip_csum(b);
	EXPECT(PKT_E_FRAG, n);
	be16_put(b + 6, 0x0001);		/* last fragment, empty */
	fix_ip_csum(b);
	EXPECT(PKT_E_FRAG, n);
	be16_put(b + 2, 21);			/* last fragment, 1 byte: fine */
	fix_ip_csum(b);
	EXPECT(PKT_OK, n);

	/* L4 headers. */
	n = make(b, P_TCP, 0);
	EXPECT(PKT_OK, n);
	be16_put(b + 2, 39);
	fix_ip_csum(b);
	EXPECT(PKT_E_L4, n);			/* 19 bytes of TCP */
	n = make(b, P_TCP, 0);
	b[32] = 0x40;				/* data offset 4 */
	EXPECT(PKT_E_L4, n);
	b[32] = 0x60;				/* data offset 6 in 20 bytes */
	EXPECT(PKT_E_L4, n);
	n = make(b, P_UDP, 0);
	be16_put(b + 2, 27);
	fix_ip_csum(b);
	EXPECT(PKT_E_L4, n);			/* 7 bytes of UDP */
	n = make(b, P_UDP, 4);
	be16_put(b + 24, 7);
	EXPECT(PKT_E_L4, n);			/* UDP length 7 */
	be16_put(b + 24, 13);
	EXPECT(PKT_E_L4, n);			/* UDP length past the packet */
	be16_put(b + 24, 11);
	EXPECT(PKT_OK, n);			/* shorter than the packet: fine */
	n = make(b, P_ICMP, 0);
	be16_put(b + 2, 27);
	fix_ip_csum(b);
	EXPECT(PKT_E_L4, n);			/* 7 bytes of ICMP */

	/* ICMP errors. */
	n = make_error(b, P_UDP, 28, NULL);
	EXPECT(PKT_OK, n);
	n = make_error(b, P_UDP, 19, NULL);
	EXPECT(PKT_E_INNER, n);			/* 19 bytes quoted */
	n = make_error(b, P_UDP, 27, NULL);
	EXPECT(PKT_E_INNER, n);			/* 7 bytes of UDP quoted */
	n = make_error(b, P_TCP, 27, NULL);
	EXPECT(PKT_E_INNER, n);
	n = make_error(b, P_ICMP, 27, NULL);
	EXPECT(PKT_E_INNER, n);
	n = make_error(b, P_GRE, 20, NULL);
	EXPECT(PKT_OK, n);			/* unknown L4: the IP header will do */
	n = make_error(b, P_UDP, 28, NULL);
	b[28] = 0x65;
	EXPECT(PKT_E_INNER, n);			/* version */
	b[28] = 0x44;
	EXPECT(PKT_E_INNER, n);			/* IHL */
	b[28] = 0x48;
	EXPECT(PKT_E_INNER, n);			/* 32-byte header, 28 bytes quoted */
	b[28] = 0x45;
	be16_put(b + 30, 19);
	EXPECT(PKT_E_INNER, n);			/* total length below the header */
	be16_put(b + 30, 0xffff);
	EXPECT(PKT_OK, n);			/* beyond what is quoted: fine */

	for (int e = PKT_OK; e < PKT_E_MAX; e++)
		if (!seen[e] && e != PKT_E_EXTHDR && e != PKT_E_JUMBO)  /* IPv6 only */
			fail_msg("%s never reached", pkt_error_name((enum pkt_error)e));
#undef EXPECT
}

static void test_error_names(void **state)
{
	(void)state;
	for (int i = 0; i < PKT_E_MAX; i++) {
		const char *a = pkt_error_name((enum pkt_error)i);

		assert_non_null(a);
		assert_true(strlen(a) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a, pkt_error_name((enum pkt_error)j));
	}
	assert_string_equal(pkt_error_name(PKT_E_SHORT), "short");
	assert_string_equal(pkt_error_name(PKT_E_MAX), "unknown");
}

static void test_fragments(void **state)
{
	uint8_t b[PKT_CAP], orig[PKT_CAP];
	struct pkt p;
	size_t n;

	(void)state;
	/* First fragment, 16 bytes of a 20-byte TCP header: fine, no L4. */
	n = make(b, P_TCP, 20);
	be16_put(b + 2, 36);
	be16_put(b + 6, 0x2000);
	fix_ip_csum(b);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.outer.flags, PKT_F_MF | PKT_F_FRAG);
	assert_int_equal(p.outer.csum, 0);
	assert_int_equal(p.outer.end, 36);

	/* 24 bytes of a 32-byte TCP header: the checksum field is there. */
	n = make(b, P_TCP, 20);
	b[32] = 0x80;
	be16_put(b + 2, 44);
	be16_put(b + 6, 0x2000);
	fix_ip_csum(b);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.outer.flags, PKT_F_MF | PKT_F_FRAG);
	assert_int_equal(p.outer.csum, 36);
	/* A malformed header is still an error in a first fragment. */
	b[32] = 0x40;
	assert_int_equal(pkt_parse(&p, b, n), PKT_E_L4);

	/* A later fragment: offset in bytes, no L4, DF and the reserved bit. */
	n = make(b, P_TCP, 20);
	be16_put(b + 6, 0x8000 | 0x4000 | 0x2000 | 185);
	be16_put(b + 2, 36);
	fix_ip_csum(b);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.outer.frag_off, 1480);
	assert_int_equal(p.outer.flags, PKT_F_DF | PKT_F_MF | PKT_F_FRAG | PKT_F_LATER);
	assert_int_equal(p.outer.csum, 0);
	assert_int_equal(p.outer.sport, 0);
	/* Rewrites touch the IP header only. */
	memcpy(orig, b, n);
	pkt_set_saddr(&p, &p.outer, &(union nf_addr){ .ip6 = { WAN } });
	pkt_set_sport(&p, &p.outer, 9);
	pkt_set_dport(&p, &p.outer, 9);
	assert_memory_equal(b + 20, orig + 20, n - 20);
	assert_int_equal(be16_get(b + 10), csum_ip(b, 20));
	assert_int_equal(be32_get(b + 12), WAN);

	/* The reserved bit alone changes nothing. */
	n = make(b, P_UDP, 4);
	b[6] |= 0x80;
	fix_ip_csum(b);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.outer.flags, PKT_F_L4 | PKT_F_PORTS);

	/* An ICMP error as a later fragment has no inner view; as a first
	 * fragment cut inside the quote, neither (and no error). */
	n = make_error(b, P_UDP, 28, NULL);
	be16_put(b + 6, 0x0001);
	fix_ip_csum(b);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_false(p.has_inner);
	assert_int_equal(p.outer.flags, PKT_F_FRAG | PKT_F_LATER);
	n = make_error(b, P_UDP, 32, NULL);
	be16_put(b + 6, 0x2000);
	be16_put(b + 2, 20 + 16);
	fix_ip_csum(b);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_false(p.has_inner);
	assert_int_equal(p.outer.icmp_type, 3);
	be16_put(b + 2, 20 + 32);
	fix_ip_csum(b);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_false(p.has_inner);		/* 24 bytes: header, 4 of UDP */
	be16_put(b + 2, 20 + 40);
	fix_ip_csum(b);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_true(p.has_inner);
	b[28] = 0x65;				/* but garbage is garbage */
	assert_int_equal(pkt_parse(&p, b, n), PKT_E_INNER);
}

static void cut_tcp_doff8(uint8_t *q, size_t ql)
{
	(void)ql;
	q[32] = 0x80;
}

static void inner_frag(uint8_t *q, size_t ql)
{
	(void)ql;
	be16_put(q + 6, 0x0003);
	fix_ip_csum(q);
}

static void inner_bad_options(uint8_t *q, size_t ql)
{
	(void)ql;
	/* IHL 6 with a zero-length option: quoted, not judged. */
	memmove(q + 24, q + 20, 100);
	q[0] = 0x46;
	q[20] = 7;
	q[21] = 0;
	q[22] = q[23] = 0;
	be16_put(q + 2, (uint16_t)(be16_get(q + 2) + 4));
	fix_ip_csum(q);
}

static void inner_icmp_error(uint8_t *q, size_t ql)
{
	q[20] = 3;
	q[21] = 1;
	q[22] = q[23] = 0;
	be16_put(q + 22, ref_csum(0, q + 20, ql - 20));
}

static void test_inner_variants(void **state)
{
	uint8_t b[PKT_CAP];
	struct pkt p;
	size_t n;

	(void)state;
	/* TCP quoted to 8 bytes: ports, no header, no checksum field. */
	n = make_error(b, P_TCP, 28, NULL);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.inner.flags, PKT_F_PORTS);
	assert_int_equal(p.inner.sport, 1111);
	assert_int_equal(p.inner.dport, 2222);
	assert_int_equal(p.inner.csum, 0);
	assert_int_equal(p.inner.l4_hlen, 0);
	/* 18 bytes: the checksum field too. */
	n = make_error(b, P_TCP, 38, NULL);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.inner.flags, PKT_F_PORTS);
	assert_int_equal(p.inner.csum, 28 + 20 + 16);
	/* 20 bytes: the whole header. */
	n = make_error(b, P_TCP, 40, NULL);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.inner.flags, PKT_F_PORTS | PKT_F_L4);
	assert_int_equal(p.inner.l4_hlen, 20);
	assert_int_equal(p.inner.tcp_flags, TCP_ACK);
	/* 28 bytes of a 32-byte header. */
	n = make_error(b, P_TCP, 48, cut_tcp_doff8);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.inner.flags, PKT_F_PORTS);
	/* ICMP echo: the id. */
	n = make_error(b, P_ICMP, 28, NULL);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.inner.flags, PKT_F_PORTS | PKT_F_L4);
	assert_int_equal(p.inner.sport, 1111);
	assert_int_equal(p.inner.dport, 1111);
	assert_int_equal(p.inner.icmp_type, 8);
	assert_int_equal(p.inner.csum, 28 + 20 + 2);
	/* A quoted ICMP error is a plain ICMP header: no deeper view. */
	n = make_error(b, P_ICMP, 60, inner_icmp_error);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_true(p.has_inner);
	assert_int_equal(p.inner.icmp_type, 3);
	assert_int_equal(p.inner.icmp_code, 1);
	assert_int_equal(p.inner.sport, 0);
	assert_int_equal(p.inner.flags, PKT_F_PORTS | PKT_F_L4);
	/* A later fragment quoted: the IP header only. */
	n = make_error(b, P_UDP, 20, inner_frag);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.inner.flags, PKT_F_FRAG | PKT_F_LATER);
	assert_int_equal(p.inner.frag_off, 24);
	/* Unknown protocol. */
	n = make_error(b, P_GRE, 24, NULL);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.inner.flags, 0);
	assert_int_equal(p.inner.proto, P_GRE);
	/* Malformed options in the quote are accepted. */
	n = make_error(b, P_UDP, 32, inner_bad_options);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	assert_int_equal(p.inner.l4, 28 + 24);
	assert_int_equal(p.inner.sport, 1111);
}

/* UDP without a checksum keeps none, outer and inner. */
static void test_udp_zero_csum(void **state)
{
	uint8_t b[PKT_CAP];
	struct pkt p;
	size_t n;

	(void)state;
	n = make(b, P_UDP, 13);
	be16_put(b + 26, 0);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	pkt_set_saddr(&p, &p.outer, &(union nf_addr){ .ip6 = { WAN } });
	pkt_set_daddr(&p, &p.outer, &(union nf_addr){ .ip6 = { DNS } });
	pkt_set_sport(&p, &p.outer, 4);
	pkt_set_dport(&p, &p.outer, 5);
	assert_int_equal(be16_get(b + 26), 0);
	assert_int_equal(be16_get(b + 10), csum_ip(b, 20));
	assert_int_equal(be32_get(b + 12), WAN);
	assert_int_equal(be32_get(b + 16), DNS);
	assert_int_equal(be16_get(b + 20), 4);
	assert_int_equal(be16_get(b + 22), 5);

	n = make_error(b + 200, P_UDP, 28, NULL);
	memcpy(b, b + 200, n);
	be16_put(b + 54, 0);			/* inner UDP checksum */
	be16_put(b + 22, 0);
	be16_put(b + 22, ref_csum(0, b + 20, n - 20));
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	pkt_set_saddr(&p, &p.inner, &(union nf_addr){ .ip6 = { WAN } });
	pkt_set_daddr(&p, &p.inner, &(union nf_addr){ .ip6 = { DNS } });
	pkt_set_sport(&p, &p.inner, 4);
	pkt_set_dport(&p, &p.inner, 5);
	assert_int_equal(be16_get(b + 54), 0);
	assert_true(ref_ok(0, b + 28, 20));
	assert_true(ref_ok(0, b + 20, n - 20));
}

/* A UDP rewrite whose checksum comes out 0 stores ffff (RFC 768), outer and
 * inner; and rewriting back from ffff gives the original. */
static void test_udp_csum_ffff(void **state)
{
	uint8_t b[PKT_CAP], orig[PKT_CAP], t[PKT_CAP];
	struct pkt p;
	size_t n = make(b, P_UDP, 13);
	uint32_t port;

	(void)state;
	/* Find the source port for which the sum is 0, the slow way. */
	for (port = 0; port <= 0xffff; port++) {
		memcpy(t, b, n);
		be16_put(t + 20, (uint16_t)port);
		be16_put(t + 26, 0);
		if (ref_csum(ref_pseudo(LAN, GOOGLE, P_UDP, n - 20), t + 20, n - 20) == 0)
			break;
	}
	assert_true(port <= 0xffff);
	memcpy(orig, b, n);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	pkt_set_sport(&p, &p.outer, (uint16_t)port);
	assert_int_equal(be16_get(b + 26), 0xffff);
	assert_int_equal(csum_l4(LAN, GOOGLE, P_UDP, b + 20, n - 20), 0xffff);
	assert_true(ref_ok(ref_pseudo(LAN, GOOGLE, P_UDP, n - 20), b + 20, n - 20));
	pkt_set_sport(&p, &p.outer, 1111);
	assert_memory_equal(b, orig, n);

	/* The same datagram quoted whole in an ICMP error. */
	memcpy(t, b, n);
	memset(b, 0, 28);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)(28 + n));
	b[8] = 64;
	b[9] = P_ICMP;
	be32_put(b + 12, GOOGLE);
	be32_put(b + 16, LAN);
	b[20] = 3;
	b[21] = 3;
	memcpy(b + 28, t, n);
	fix_ip_csum(b);
	be16_put(b + 22, ref_csum(0, b + 20, 8 + n));
	memcpy(orig, b, 28 + n);
	assert_int_equal(pkt_parse(&p, b, 28 + n), PKT_OK);
	pkt_set_sport(&p, &p.inner, (uint16_t)port);
	assert_int_equal(be16_get(b + 28 + 26), 0xffff);
	assert_true(ref_ok(0, b + 20, 8 + n));
	pkt_set_sport(&p, &p.inner, 1111);
	assert_memory_equal(b, orig, 28 + n);
}

/* An echo reply that is all zero but for its id: RFC 1624 eqn. 3 alone
 * would store 0000 where the full sum gives ffff. */
static void test_icmp_all_zero(void **state)
{
	uint8_t b[PKT_CAP];
	struct pkt p;
	size_t n = make(b, P_ICMP, 0);

	(void)state;
	memset(b + 20, 0, 8);
	be16_put(b + 24, 0x1234);
	be16_put(b + 22, ref_csum(0, b + 20, 8));
	assert_int_equal(be16_get(b + 22), 0xedcb);
	assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
	pkt_set_icmp_id(&p, &p.outer, 0);
	assert_int_equal(be16_get(b + 22), 0xffff);
	assert_true(ref_ok(0, b + 20, 8));
	pkt_set_icmp_id(&p, &p.outer, 0x1234);
	assert_int_equal(be16_get(b + 22), 0xedcb);

	/* Quoted whole in an ICMP error: the same, and the outer sum follows. */
	memmove(b + 28, b, 28);
	memset(b, 0, 28);
	b[0] = 0x45;
	be16_put(b + 2, 56);
	b[8] = 64;
	b[9] = P_ICMP;
	be32_put(b + 12, GOOGLE);
	be32_put(b + 16, LAN);
	b[20] = 11;
	fix_ip_csum(b);
	be16_put(b + 22, ref_csum(0, b + 20, 36));
	n = 56;
	{
		uint8_t *h = malloc(n);

		assert_non_null(h);
		memcpy(h, b, n);
		assert_int_equal(pkt_parse(&p, h, n), PKT_OK);
		assert_int_equal(p.inner.sport, 0x1234);
		pkt_set_icmp_id(&p, &p.inner, 0);
		assert_int_equal(be16_get(h + 50), 0xffff);
		assert_true(ref_ok(0, h + 20, 36));
		free(h);
	}
	/* Claiming 8 more bytes than are quoted, it is not known to be all zero:
	 * eqn. 3's 0000 stays (and nothing past the buffer is read). */
	be16_put(b + 30, 36);
	fix_ip_csum(b + 28);
	be16_put(b + 22, 0);
	be16_put(b + 22, ref_csum(0, b + 20, 36));
	{
		uint8_t *h = malloc(n);

		assert_non_null(h);
		memcpy(h, b, n);
		assert_int_equal(pkt_parse(&p, h, n), PKT_OK);
		pkt_set_icmp_id(&p, &p.inner, 0);
		assert_int_equal(be16_get(h + 50), 0x0000);
		assert_true(ref_ok(0, h + 20, 36));
		free(h);
	}
}

/* Rewrites that do not apply leave the packet alone. */
static void test_rewrite_noops(void **state)
{
	static const char *const hexes[] = { echo_lan, igmp_ra, syn_lan, unreach_wan };
	uint8_t b[PKT_CAP], orig[PKT_CAP];
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(hexes); i++) {
		size_t n = unhex(b, sizeof(b), hexes[i]);

		memcpy(orig, b, n);
		assert_int_equal(pkt_parse(&p, b, n), PKT_OK);
		if (p.outer.proto == P_ICMP) {
			pkt_set_sport(&p, &p.outer, 7);
			pkt_set_dport(&p, &p.outer, 7);
		} else {
			pkt_set_icmp_id(&p, &p.outer, 7);
		}
		if (p.outer.proto == P_IGMP) {
			pkt_set_sport(&p, &p.outer, 7);
			pkt_set_dport(&p, &p.outer, 7);
		}
		/* The same values again. */
		pkt_set_saddr(&p, &p.outer, &(union nf_addr){ .ip6 = { p.outer.saddr.ip } });
		pkt_set_daddr(&p, &p.outer, &(union nf_addr){ .ip6 = { p.outer.daddr.ip } });
		pkt_set_sport(&p, &p.outer, p.outer.sport);
		pkt_set_ttl(&p, p.outer.ttl);
		if (p.has_inner) {
			pkt_set_icmp_id(&p, &p.inner, 7);	/* UDP inside */
			pkt_set_icmp_id(&p, &p.outer, 7);	/* an error, not a query */
			pkt_set_daddr(&p, &p.inner, &(union nf_addr){ .ip6 = { p.inner.daddr.ip } });
		}
		assert_memory_equal(b, orig, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat_parse),
		cmocka_unit_test(test_kat_inner),
		cmocka_unit_test(test_kat_rewrite),
		cmocka_unit_test(test_kat_ttl),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_inner_variants),
		cmocka_unit_test(test_udp_zero_csum),
		cmocka_unit_test(test_udp_csum_ffff),
		cmocka_unit_test(test_icmp_all_zero),
		cmocka_unit_test(test_rewrite_noops),
		cmocka_unit_test(test_mutants),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_property_rewrites),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
