/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for pkt_parse and the pkt_set_* rewrites, IPv4 and IPv6.
 *
 * Input: one mode byte, then the packet.  Mode bit 0 repairs the IPv4 header
 * checksum (bit 5 instead makes the input IPv6: version 6, payload length
 * from the input's length) and bit 1 the L4, inner and ICMP checksums before
 * the rewrites,
 * so the fuzzer gets past them; the other bits pick rewrite values.
 * Properties: a parsed view stays inside the buffer (ASan watches an exact
 * heap copy); rewrites keep every checksum that verified before verifying
 * (checked with a sum independent of nat/pkt/csum.c); the result parses again
 * to the view the rewrites kept up to date.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { P_ICMP = 1, P_TCP = 6, P_UDP = 17, P_ICMP6 = 58 };

static uint32_t sum16(uint32_t s, const uint8_t *b, size_t n)
{
	uint64_t t = s;

	for (size_t i = 0; i < n; i += 2)
		t += (uint32_t)b[i] << 8 | (i + 1 < n ? b[i + 1] : 0);
	while (t >> 16)
		t = (t & 0xffff) + (t >> 16);
	return (uint32_t)t;
}

static uint32_t pseudo(const struct pkt_hdr *h, uint8_t proto, size_t len)
{
	if (h->family == NF_V6)
		return sum16(sum16(proto + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff),
				   h->saddr.b, 16), h->daddr.b, 16);
	return (h->saddr.ip >> 16) + (h->saddr.ip & 0xffff) + (h->daddr.ip >> 16) +
	       (h->daddr.ip & 0xffff) + proto + (uint32_t)len;
}

/* The L4 message of h when it is present whole: [l4, *end), and the
 * pre-sum its checksum covers.  False when it cannot be checked. */
static bool l4_whole(const struct pkt *p, const struct pkt_hdr *h,
		     size_t *end, uint32_t *pre)
{
	size_t e = (size_t)h->ip + h->tot_len;

	/* An embedded total length may end the message inside its own header. */
	if (!(h->flags & PKT_F_L4) || h->flags & PKT_F_FRAG || e > h->end ||
	    e < (size_t)h->l4 + h->l4_hlen)
		return false;
	switch (h->proto) {
	case P_TCP:
		*pre = pseudo(h, P_TCP, e - h->l4);
		break;
	case P_UDP:
		/* An embedded UDP length is not validated by the parser. */
		e = h->l4 + (size_t)be16_get(p->data + h->l4 + 4);
		if (e < h->l4 + 8u || e > h->end || !be16_get(p->data + h->csum))
			return false;
		*pre = pseudo(h, P_UDP, e - h->l4);
		break;
	case P_ICMP:
		if (h->family != NF_V4)
			return false;
		*pre = 0;
		break;
	case P_ICMP6:
		if (h->family != NF_V6)
			return false;
		*pre = pseudo(h, P_ICMP6, e - h->l4);
		break;
	default:
		return false;
	}
	*end = e;
	return true;
}

static void repair(uint8_t *field, uint32_t pre, const uint8_t *b, size_t n, bool udp)
{
	uint16_t c;

	be16_put(field, 0);
	c = (uint16_t)~sum16(pre, b, n);
	be16_put(field, udp && !c ? 0xffff : c);
}

/* Bits: 0 IP, 1 outer L4, 2 inner IP, 3 inner L4. */
static unsigned int sums_ok(const struct pkt *p)
{
	const uint8_t *d = p->data;
	unsigned int ok = 0;
	size_t end;
	uint32_t pre;

	if (p->outer.family == NF_V6 || sum16(0, d, p->outer.l4) == 0xffff)
		ok |= 1;
	if (l4_whole(p, &p->outer, &end, &pre) &&
	    sum16(pre, d + p->outer.l4, end - p->outer.l4) == 0xffff)
		ok |= 2;
	if (!p->has_inner)
		return ok;
	if (p->inner.family == NF_V6 ||
	    sum16(0, d + p->inner.ip, (size_t)(p->inner.l4 - p->inner.ip)) == 0xffff)
		ok |= 4;
	if (l4_whole(p, &p->inner, &end, &pre) &&
	    sum16(pre, d + p->inner.l4, end - p->inner.l4) == 0xffff)
		ok |= 8;
	return ok;
}

static void repair_all(struct pkt *p)
{
	uint8_t *d = p->data;
	size_t end;
	uint32_t pre;

	if (p->has_inner) {
		struct pkt_hdr *h = &p->inner;

		if (h->family == NF_V4)
			repair(d + h->ip + 10, 0, d + h->ip, (size_t)(h->l4 - h->ip), false);
		if (l4_whole(p, h, &end, &pre))
			repair(d + h->csum, pre, d + h->l4, end - h->l4, h->proto == P_UDP);
	}
	if (l4_whole(p, &p->outer, &end, &pre))
		repair(d + p->outer.csum, pre, d + p->outer.l4, end - p->outer.l4,
		       p->outer.proto == P_UDP);
}

static void check_hdr(const struct pkt_hdr *h)
{
	CHECK(h->ip + 20 <= h->l4 && h->l4 <= h->end);
	if (h->csum)
		CHECK(h->csum >= h->l4 && h->csum + 2 <= h->end);
	if (h->flags & PKT_F_PORTS)
		CHECK(h->l4 + 8 <= h->end);
	if (h->flags & PKT_F_L4)
		CHECK(h->flags & PKT_F_PORTS && h->l4 + h->l4_hlen <= h->end);
	if (h->flags & PKT_F_LATER)
		CHECK(!(h->flags & (PKT_F_L4 | PKT_F_PORTS)) && !h->csum);
}

static bool hdr_equal(const struct pkt_hdr *a, const struct pkt_hdr *b)
{
	return nf_addr_eq(&a->saddr, &b->saddr) && nf_addr_eq(&a->daddr, &b->daddr) &&
	       a->family == b->family && a->frag_hdr == b->frag_hdr &&
	       a->exthdrs == b->exthdrs && a->ip == b->ip &&
	       a->l4 == b->l4 && a->end == b->end && a->tot_len == b->tot_len &&
	       a->frag_off == b->frag_off && a->id == b->id &&
	       a->sport == b->sport && a->dport == b->dport && a->csum == b->csum &&
	       a->proto == b->proto && a->ttl == b->ttl && a->flags == b->flags &&
	       a->l4_hlen == b->l4_hlen && a->tcp_flags == b->tcp_flags &&
	       a->icmp_type == b->icmp_type && a->icmp_code == b->icmp_code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt p, again;
	unsigned int mode, before, after;
	uint32_t k = 2166136261u;
	uint8_t *buf;
	size_t len;

	if (size < 1)
		return 0;
	mode = data[0];
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	for (size_t i = 0; i < len; i++)
		k = (k ^ buf[i]) * 16777619u;
	if (mode & 32 && len >= 40 && len <= 0xffff) {
		buf[0] = (uint8_t)(0x60 | (buf[0] & 0x0f));
		be16_put(buf + 4, (uint16_t)(len - 40));
	} else if (mode & 1 && len >= 20 && buf[0] >> 4 == 4 &&
		   (size_t)(buf[0] & 0x0f) * 4 >= 20 && (size_t)(buf[0] & 0x0f) * 4 <= len) {
		repair(buf + 10, 0, buf, (size_t)(buf[0] & 0x0f) * 4, false);
	}

	if (pkt_parse(&p, buf, len) != PKT_OK)
		goto out;
	CHECK(p.data == buf && p.buflen == len && p.outer.ip == 0);
	CHECK(p.outer.end == p.outer.tot_len && p.outer.end <= len);
	check_hdr(&p.outer);
	CHECK(p.outer.family == buf[0] >> 4);
	if (p.outer.family == NF_V6)
		CHECK(!p.outer.frag_hdr || (p.outer.frag_hdr >= 40 &&
					    p.outer.frag_hdr + 8 <= p.outer.l4));
	if (p.has_inner) {
		CHECK(pkt_is_icmp_error(&p.outer) && p.inner.family == p.outer.family);
		CHECK(p.inner.ip == p.outer.l4 + 8 && p.inner.end == p.outer.end);
		check_hdr(&p.inner);
	}
	if (mode & 2)
		repair_all(&p);
	before = sums_ok(&p);

	for (int i = 0; i < (p.has_inner ? 2 : 1); i++) {
		struct pkt_hdr *h = i ? &p.inner : &p.outer;
		uint32_t v = mode & 4 ? k : mode & 8 ? 0 : 0xffffffff;
		union nf_addr sa = nf_addr4(v), da = h->daddr;

		if (h->family == NF_V6) {
			for (int j = 0; j < 16; j += 4)
				be32_put(sa.b + j, mode & 64 && j ? 0 : v ^ (uint32_t)j);
			da.b[k % 16] ^= (uint8_t)(k >> 3);
		} else {
			da.ip ^= k >> 3;
		}
		pkt_set_saddr(&p, h, &sa);
		pkt_set_daddr(&p, h, &da);
		pkt_set_sport(&p, h, (uint16_t)v);
		pkt_set_dport(&p, h, (uint16_t)(k >> 16));
		pkt_set_icmp_id(&p, h, (uint16_t)(mode & 16 ? 0 : k >> 8));
	}
	pkt_set_ttl(&p, (uint8_t)(p.outer.ttl - 1));
	after = sums_ok(&p);
	CHECK((before & after) == before);

	CHECK(pkt_parse(&again, buf, len) == PKT_OK);
	CHECK(hdr_equal(&again.outer, &p.outer));
	CHECK(again.has_inner == p.has_inner);
	if (p.has_inner)
		CHECK(hdr_equal(&again.inner, &p.inner));
out:
	free(buf);
	return 0;
}
