/* SPDX-License-Identifier: MIT */
/*
 * pkt — parse an IPv4 or IPv6 packet into a view; rewrite fields keeping
 * every checksum right.
 *
 * Fragments: only the first one (offset 0) carries the L4 header; when it is
 * cut short the view simply lacks PKT_F_L4/PKT_F_PORTS, and reassembly
 * completes it.  The reserved flag bit is ignored, as Linux does.
 *
 * ICMP errors (RFC 792, RFC 1812 §4.3.2.3): the embedded header is a quote,
 * possibly truncated, so its total length may exceed the bytes present and
 * its checksum is not verified; its options are not checked either (a
 * parameter problem may quote exactly the bad options).  One level only: an
 * ICMP error quoted inside is read as a plain ICMP header.  A quote that ends
 * inside the embedded TCP checksum leaves that byte as it is: its new value
 * depends on the byte that is missing.
 *
 * IPv6 (RFC 8200): the extension header chain is walked as ipv6_skip_exthdr
 * does, with hop-by-hop options accepted anywhere in it as there.  A later
 * fragment stops the walk at its fragment header: proto is that header's
 * next header (what ip6tables' -p sees, ipv6_find_hdr) and l4 the start of
 * its fragment data.  Structure the kernel would refuse is refused: a chain
 * running past the payload (also in a first fragment: RFC 7112), a second
 * fragment header, a jumbogram (no IPv6 packet over 65535 bytes fits in a
 * view), the IPv4 fragment rules (a non-last fragment a multiple of 8
 * bytes, nothing past 65535, no empty fragment).  An atomic fragment
 * (offset 0, no M flag) is a whole packet (RFC 6946), frag_hdr marking
 * where its header is.  UDP with checksum 0 is accepted: RFC 8200 §8.1
 * makes it invalid for the receiving host, but Linux's conntrack
 * (udp_error: "packet with no checksum") and forwarding pass it for either
 * family, and the rewrites leave a zero checksum zero.  The ICMPv6
 * checksum covers a pseudo-header (unlike ICMP), so address rewrites update
 * it; with that pseudo-header the sum never covers only zeros, so the
 * ICMP all-zero fix below is not needed for ICMPv6.
 */
#include <netinet/in.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"

/* Bytes needed for ports, or ICMP type, code and id. */
enum { L4_PORTS = 8 };

bool pkt_icmp_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

bool pkt_icmp6_is_error(uint8_t type)
{
	return type >= 1 && type <= 4;
}

bool pkt_is_icmp_error(const struct pkt_hdr *h)
{
	if (h->family == NF_V6)
		return h->proto == IPPROTO_ICMPV6 && h->flags & PKT_F_L4 &&
		       pkt_icmp6_is_error(h->icmp_type);
	return h->proto == IPPROTO_ICMP && h->flags & PKT_F_L4 &&
	       pkt_icmp_is_error(h->icmp_type);
}

/* ICMP queries carrying an identifier: echo, timestamp, info, address mask. */
static bool icmp_is_query(uint8_t type)
{
	return type == 0 || type == 8 || (type >= 13 && type <= 18);
}

/* ICMPv6 queries carrying an identifier: echo request and reply. */
static bool icmp6_is_query(uint8_t type)
{
	return type == ICMP6T_ECHO_REQ || type == ICMP6T_ECHO_REPLY;
}

/* An ICMP or ICMPv6 query of h's family (h->proto already checked). */
static bool is_query(const struct pkt_hdr *h)
{
	return h->proto == IPPROTO_ICMPV6 ? icmp6_is_query(h->icmp_type)
					  : icmp_is_query(h->icmp_type);
}

const char *pkt_error_name(enum pkt_error e)
{
	static const char *const names[PKT_E_MAX] = {
		[PKT_OK] = "ok",
		[PKT_E_SHORT] = "short",
		[PKT_E_VERSION] = "version",
		[PKT_E_IHL] = "ihl",
		[PKT_E_TOTLEN] = "totlen",
		[PKT_E_CSUM] = "csum",
		[PKT_E_OPTIONS] = "options",
		[PKT_E_FRAG] = "frag",
		[PKT_E_L4] = "l4",
		[PKT_E_INNER] = "inner",
		[PKT_E_EXTHDR] = "exthdr",
		[PKT_E_JUMBO] = "jumbo",
	};

	if ((unsigned int)e >= PKT_E_MAX)
		return "unknown";
	return names[e];
}

/* RFC 791: EOL ends the list, NOP is one byte, every other option is
 * type, length (>= 2, counting both), value. */
static bool options_ok(const uint8_t *ip, size_t hlen)
{
	size_t i = IP4H_LEN;

	while (i < hlen) {
		if (ip[i] == IP4OPT_EOL)
			return true;
		if (ip[i] == IP4OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || ip[i + 1] < 2 || ip[i + 1] > hlen - i)
			return false;
		i += ip[i + 1];
	}
	return true;
}

/* The fixed fields of the header at off; its first byte is already checked
 * (version 4, IHL >= 5, header present). */
static void read_ip(struct pkt_hdr *h, const uint8_t *data, uint16_t off)
{
	const uint8_t *ip = data + off;
	uint16_t frag = be16_get(ip + IP4H_FRAG);

	h->ip = off;
	h->family = NF_V4;
	h->l4 = (uint16_t)(off + (ip[0] & 0x0f) * 4);
	h->tot_len = be16_get(ip + IP4H_TOTLEN);
	h->id = be16_get(ip + IP4H_ID);
	h->frag_off = (uint16_t)((frag & IP4_OFFMASK) * 8);
	h->ttl = ip[IP4H_TTL];
	h->proto = ip[IP4H_PROTO];
	h->saddr = nf_addr4(be32_get(ip + IP4H_SADDR));
	h->daddr = nf_addr4(be32_get(ip + IP4H_DADDR));
	if (frag & IP4_DF)
		h->flags |= PKT_F_DF;
	if (frag & IP4_MF)
		h->flags |= PKT_F_MF;
	if (h->flags & PKT_F_MF || h->frag_off)
		h->flags |= PKT_F_FRAG;
	if (h->frag_off)
		h->flags |= PKT_F_LATER;
}

/* TCP/UDP ports, or the ICMP type, code and query id: needs L4_PORTS bytes. */
static void read_ports(struct pkt_hdr *h, const uint8_t *l4)
{
	if (h->proto == IPPROTO_ICMP || h->proto == IPPROTO_ICMPV6) {
		h->icmp_type = l4[0];
		h->icmp_code = l4[1];
		if (is_query(h))
			h->sport = h->dport = be16_get(l4 + ICMPH_ID);
	} else {
		h->sport = be16_get(l4);
		h->dport = be16_get(l4 + 2);
	}
	h->flags |= PKT_F_PORTS;
}

/* The outer L4 header of an unfragmented packet or a first fragment. */
static enum pkt_error parse_l4(struct pkt_hdr *h, const uint8_t *data)
{
	const uint8_t *l4 = data + h->l4;
	size_t n = (size_t)(h->end - h->l4);
	enum pkt_error incomplete = h->flags & PKT_F_FRAG ? PKT_OK : PKT_E_L4;
	unsigned int hlen, ulen;

	switch (h->proto) {
	case IPPROTO_TCP:
		if (n >= TCPH_CSUM + 2)
			h->csum = (uint16_t)(h->l4 + TCPH_CSUM);
		if (n < TCPH_LEN)
			return incomplete;
		hlen = (unsigned int)(l4[12] >> 4) * 4;
		if (hlen < TCPH_LEN)
			return PKT_E_L4;
		if (hlen > n)
			return incomplete;
		h->tcp_flags = l4[13];
		break;
	case IPPROTO_UDP:
		if (n < UDPH_LEN)
			return incomplete;
		ulen = be16_get(l4 + 4);
		/* A first fragment carries only the start of the datagram. */
		if (ulen < UDPH_LEN || (!(h->flags & PKT_F_FRAG) && ulen > n))
			return PKT_E_L4;
		h->csum = (uint16_t)(h->l4 + UDPH_CSUM);
		hlen = UDPH_LEN;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((h->proto == IPPROTO_ICMPV6) != (h->family == NF_V6))
			return PKT_OK;  /* ICMP in IPv6, ICMPv6 in IPv4: opaque */
		if (n < ICMPH_LEN)
			return incomplete;
		h->csum = (uint16_t)(h->l4 + ICMPH_CSUM);
		hlen = ICMPH_LEN;
		break;
	default:
		return PKT_OK;
	}
	h->l4_hlen = (uint8_t)hlen;
	h->flags |= PKT_F_L4;
	read_ports(h, l4);
	return PKT_OK;
}

/* The L4 header quoted in an ICMP error: at least L4_PORTS bytes present. */
static void parse_inner_l4(struct pkt_hdr *h, const uint8_t *data)
{
	const uint8_t *l4 = data + h->l4;
	size_t n = (size_t)(h->end - h->l4);
	unsigned int hlen = 0;

	read_ports(h, l4);
	switch (h->proto) {
	case IPPROTO_TCP:
		if (n >= TCPH_CSUM + 2)
			h->csum = (uint16_t)(h->l4 + TCPH_CSUM);
		if (n >= TCPH_LEN) {
			hlen = (unsigned int)(l4[12] >> 4) * 4;
			if (hlen < TCPH_LEN || hlen > n)
				hlen = 0;
			else
				h->tcp_flags = l4[13];
		}
		break;
	case IPPROTO_UDP:
		h->csum = (uint16_t)(h->l4 + UDPH_CSUM);
		hlen = UDPH_LEN;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		h->csum = (uint16_t)(h->l4 + ICMPH_CSUM);
		hlen = ICMPH_LEN;
		break;
	}
	if (hlen) {
		h->l4_hlen = (uint8_t)hlen;
		h->flags |= PKT_F_L4;
	}
}

/* The header embedded in an ICMP error, right after the 8-byte ICMP header.
 * When the outer packet is a first fragment, a quote cut short by the
 * fragment boundary just leaves no inner view. */
static enum pkt_error parse_inner(struct pkt *p)
{
	struct pkt_hdr h = { 0 };
	uint16_t off = (uint16_t)(p->outer.l4 + ICMPH_LEN);
	size_t n = (size_t)(p->outer.end - off);
	enum pkt_error cut = p->outer.flags & PKT_F_FRAG ? PKT_OK : PKT_E_INNER;
	const uint8_t *ip = p->data + off;
	size_t hlen;

	if (n < IP4H_LEN)
		return cut;
	hlen = (size_t)(ip[0] & 0x0f) * 4;
	if (ip[0] >> 4 != 4 || hlen < IP4H_LEN)
		return PKT_E_INNER;
	if (hlen > n)
		return cut;
	read_ip(&h, p->data, off);
	h.end = p->outer.end;
	if (h.tot_len < hlen)
		return PKT_E_INNER;
	if (!(h.flags & PKT_F_LATER) && (h.proto == IPPROTO_TCP ||
	    h.proto == IPPROTO_UDP || h.proto == IPPROTO_ICMP)) {
		if (n - hlen < L4_PORTS)
			return cut;
		parse_inner_l4(&h, p->data);
	}
	p->inner = h;
	p->has_inner = true;
	return PKT_OK;
}

/*
 * IPv6.  read_ip6 takes the fixed header at off (40 bytes present) and
 * walks the extension headers within [off + 40, h->end), which the caller
 * set.  Returns PKT_OK, PKT_E_EXTHDR (a header past h->end, a second
 * fragment header) or PKT_E_JUMBO (payload length 0 with hop-by-hop first:
 * a jumbogram; tot_len past 65535).
 */
static enum pkt_error read_ip6(struct pkt_hdr *h, const uint8_t *data, uint16_t off)
{
	const uint8_t *ip = data + off;
	uint32_t plen = be16_get(ip + IP6H_PLEN);
	uint8_t nh = ip[IP6H_NEXT];
	size_t at = (size_t)off + IP6H_LEN, hlen;

	h->ip = off;
	h->family = NF_V6;
	h->ttl = ip[IP6H_HLIM];
	memcpy(h->saddr.b, ip + IP6H_SADDR, 16);
	memcpy(h->daddr.b, ip + IP6H_DADDR, 16);
	if ((!plen && nh == IPPROTO_HOPOPTS) || IP6H_LEN + plen > 0xffff)
		return PKT_E_JUMBO;
	h->tot_len = (uint16_t)(IP6H_LEN + plen);
	for (;;) {
		const uint8_t *x = data + at;

		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
			if (at + 2 > h->end)
				return PKT_E_EXTHDR;
			hlen = nh == IPPROTO_AH ? ((size_t)x[IP6X_LEN] + 2) * 4
						: ((size_t)x[IP6X_LEN] + 1) * 8;
			h->exthdrs |= nh == IPPROTO_HOPOPTS ? PKT_X_HOP :
				      nh == IPPROTO_ROUTING ? PKT_X_RT :
				      nh == IPPROTO_DSTOPTS ? PKT_X_DST : PKT_X_AH;
			break;
		case IPPROTO_FRAGMENT: {
			uint16_t fo;

			if (at + IP6FH_LEN > h->end || h->frag_hdr)
				return PKT_E_EXTHDR;
			fo = be16_get(x + IP6FH_OFF);
			h->frag_hdr = (uint16_t)at;
			h->exthdrs |= PKT_X_FRAG;
			h->id = be32_get(x + IP6FH_ID);
			h->frag_off = fo & IP6F_OFFMASK;
			if (fo & IP6F_MF)
				h->flags |= PKT_F_MF | PKT_F_FRAG;
			if (h->frag_off) {
				/* a later fragment: no headers to walk past */
				h->flags |= PKT_F_FRAG | PKT_F_LATER;
				h->proto = x[IP6X_NEXT];
				h->l4 = (uint16_t)(at + IP6FH_LEN);
				return PKT_OK;
			}
			hlen = IP6FH_LEN;
			break;
		}
		default:
			/* an upper layer, ESP or no next header */
			h->proto = nh;
			h->l4 = (uint16_t)at;
			return PKT_OK;
		}
		if (at + hlen > h->end)
			return PKT_E_EXTHDR;
		nh = x[IP6X_NEXT];
		at += hlen;
	}
}

/* The IPv6 header embedded in an ICMPv6 error, right after the 8-byte
 * ICMPv6 header; as parse_inner. */
static enum pkt_error parse_inner6(struct pkt *p)
{
	struct pkt_hdr h = { 0 };
	uint16_t off = (uint16_t)(p->outer.l4 + ICMP6H_LEN);
	size_t n = (size_t)(p->outer.end - off);
	enum pkt_error cut = p->outer.flags & PKT_F_FRAG ? PKT_OK : PKT_E_INNER;
	enum pkt_error err;

	if (n < IP6H_LEN)
		return cut;
	if (p->data[off] >> 4 != 6)
		return PKT_E_INNER;
	h.end = p->outer.end;
	err = read_ip6(&h, p->data, off);
	if (err == PKT_E_EXTHDR)
		return cut;
	if (err != PKT_OK)
		return PKT_E_INNER;
	if (!(h.flags & PKT_F_LATER) && (h.proto == IPPROTO_TCP ||
	    h.proto == IPPROTO_UDP || h.proto == IPPROTO_ICMPV6)) {
		if ((size_t)(h.end - h.l4) < L4_PORTS)
			return cut;
		parse_inner_l4(&h, p->data);
	}
	p->inner = h;
	p->has_inner = true;
	return PKT_OK;
}

static enum pkt_error parse6(struct pkt *p, uint8_t *buf, size_t len)
{
	struct pkt_hdr *h = &p->outer;
	size_t tot, payload;
	enum pkt_error err;

	if (len < IP6H_LEN)
		return PKT_E_SHORT;
	tot = IP6H_LEN + (size_t)be16_get(buf + IP6H_PLEN);
	if (tot > len)
		return PKT_E_TOTLEN;
	h->end = (uint16_t)(tot > 0xffff ? 0xffff : tot);
	err = read_ip6(h, buf, 0);
	if (err != PKT_OK)
		return err;
	if (h->flags & PKT_F_FRAG) {
		payload = (size_t)(h->end - h->frag_hdr - IP6FH_LEN);
		if (h->frag_off + payload > IP6H_MAXPLEN || !payload)
			return PKT_E_FRAG;
		if (h->flags & PKT_F_MF && payload % 8)
			return PKT_E_FRAG;
		if (h->flags & PKT_F_LATER)
			return PKT_OK;
	}
	err = parse_l4(h, buf);
	if (err != PKT_OK)
		return err;
	if (h->proto == IPPROTO_ICMPV6 && h->flags & PKT_F_L4 &&
	    pkt_icmp6_is_error(h->icmp_type))
		return parse_inner6(p);
	return PKT_OK;
}

enum pkt_error pkt_parse(struct pkt *p, uint8_t *buf, size_t len)
{
	struct pkt_hdr *h = &p->outer;
	size_t hlen, tot, payload;
	enum pkt_error err;

	memset(p, 0, sizeof(*p));
	p->data = buf;
	p->buflen = len;
	if (len < IP4H_LEN)
		return PKT_E_SHORT;
	if (buf[0] >> 4 != 4)
		return buf[0] >> 4 == 6 ? parse6(p, buf, len) : PKT_E_VERSION;
	hlen = (size_t)(buf[0] & 0x0f) * 4;
	if (hlen < IP4H_LEN)
		return PKT_E_IHL;
	if (hlen > len)
		return PKT_E_SHORT;
	tot = be16_get(buf + IP4H_TOTLEN);
	if (tot < hlen || tot > len)
		return PKT_E_TOTLEN;
	if (csum_fold(csum_add(0, buf, hlen)) != 0)
		return PKT_E_CSUM;
	if (!options_ok(buf, hlen))
		return PKT_E_OPTIONS;

	read_ip(h, buf, 0);
	h->end = (uint16_t)tot;
	payload = tot - hlen;
	if (h->frag_off + payload > 0xffff)
		return PKT_E_FRAG;
	if (h->flags & PKT_F_FRAG && !payload)
		return PKT_E_FRAG;
	if (h->flags & PKT_F_MF && payload % 8)
		return PKT_E_FRAG;
	if (h->flags & PKT_F_LATER)
		return PKT_OK;

	err = parse_l4(h, buf);
	if (err != PKT_OK)
		return err;
	if (h->proto == IPPROTO_ICMP && h->flags & PKT_F_L4 &&
	    pkt_icmp_is_error(h->icmp_type))
		return parse_inner(p);
	return PKT_OK;
}

/*
 * Rewrites.  When h is the inner header, every byte changed inside the ICMP
 * payload (the field, and each checksum field updated for it) is also
 * carried into the outer ICMP checksum, oc.
 */

static uint8_t *outer_icmp_csum(struct pkt *p, const struct pkt_hdr *h)
{
	return h == &p->inner ? p->data + p->outer.csum : NULL;
}

static void update2(uint8_t *field, uint16_t old, uint16_t new_, bool udp,
		    uint8_t *oc)
{
	uint16_t before = be16_get(field);

	if (udp)
		csum_replace2_udp(field, old, new_);
	else
		csum_replace2(field, old, new_);
	if (oc)
		csum_replace2(oc, before, be16_get(field));
}

static void update4(uint8_t *field, uint32_t old, uint32_t new_, bool udp,
		    uint8_t *oc)
{
	uint16_t before = be16_get(field);

	if (udp)
		csum_replace4_udp(field, old, new_);
	else
		csum_replace4(field, old, new_);
	if (oc)
		csum_replace2(oc, before, be16_get(field));
}

static void set_addr(struct pkt *p, struct pkt_hdr *h, unsigned int at,
		     uint32_t *view, uint32_t addr)
{
	uint8_t *ip = p->data + h->ip;
	uint8_t *oc = outer_icmp_csum(p, h);
	uint32_t old = be32_get(ip + at);

	if (old == addr)
		return;
	be32_put(ip + at, addr);
	if (oc)
		csum_replace4(oc, old, addr);
	update4(ip + IP4H_CSUM, old, addr, false, oc);
	/* h->csum is zero for later fragments: no L4 header there. */
	if (h->csum && (h->proto == IPPROTO_TCP || h->proto == IPPROTO_UDP))
		update4(p->data + h->csum, old, addr, h->proto == IPPROTO_UDP, oc);
	*view = addr;
}

/* IPv6: no header checksum; TCP, UDP and ICMPv6 cover the addresses in
 * their pseudo-header. */
static void set_addr6(struct pkt *p, struct pkt_hdr *h, unsigned int at,
		      union nf_addr *view, const union nf_addr *addr)
{
	uint8_t *f = p->data + h->ip + at;
	uint8_t *oc = outer_icmp_csum(p, h);
	uint8_t old[16];

	if (!memcmp(f, addr->b, 16))
		return;
	memcpy(old, f, 16);
	memcpy(f, addr->b, 16);
	if (oc)
		csum_replace16(oc, old, addr->b);
	if (h->csum && (h->proto == IPPROTO_TCP || h->proto == IPPROTO_UDP ||
			h->proto == IPPROTO_ICMPV6)) {
		uint8_t *c = p->data + h->csum;
		uint16_t before = be16_get(c);

		if (h->proto == IPPROTO_UDP)
			csum_replace16_udp(c, old, addr->b);
		else
			csum_replace16(c, old, addr->b);
		if (oc)
			csum_replace2(oc, before, be16_get(c));
	}
	*view = *addr;
}

static void set_port(struct pkt *p, struct pkt_hdr *h, unsigned int at,
		     uint16_t *view, uint16_t port)
{
	uint8_t *oc = outer_icmp_csum(p, h);
	uint8_t *f = p->data + h->l4 + at;
	uint16_t old;

	if (!(h->flags & PKT_F_PORTS) ||
	    (h->proto != IPPROTO_TCP && h->proto != IPPROTO_UDP))
		return;
	old = be16_get(f);
	if (old == port)
		return;
	be16_put(f, port);
	if (oc)
		csum_replace2(oc, old, port);
	if (h->csum)
		update2(p->data + h->csum, old, port, h->proto == IPPROTO_UDP, oc);
	*view = port;
}

void pkt_set_saddr(struct pkt *p, struct pkt_hdr *h, const union nf_addr *addr)
{
	if (h->family == NF_V6)
		set_addr6(p, h, IP6H_SADDR, &h->saddr, addr);
	else
		set_addr(p, h, IP4H_SADDR, &h->saddr.ip, addr->ip);
}

void pkt_set_daddr(struct pkt *p, struct pkt_hdr *h, const union nf_addr *addr)
{
	if (h->family == NF_V6)
		set_addr6(p, h, IP6H_DADDR, &h->daddr, addr);
	else
		set_addr(p, h, IP4H_DADDR, &h->daddr.ip, addr->ip);
}

void pkt_set_sport(struct pkt *p, struct pkt_hdr *h, uint16_t port)
{
	set_port(p, h, 0, &h->sport, port);
}

void pkt_set_dport(struct pkt *p, struct pkt_hdr *h, uint16_t port)
{
	set_port(p, h, 2, &h->dport, port);
}

/*
 * RFC 1624 eqn. 3 yields 0x0000 where a full sum yields 0xffff only when
 * every covered word is zero.  With no pseudo-header, an ICMP message can be
 * all zero (an echo reply with id, sequence and data zero); when it is
 * present whole, store the checksum a full computation gives.
 */
static void icmp_zero_fix(struct pkt *p, const struct pkt_hdr *h)
{
	uint8_t *msg = p->data + h->l4;
	size_t len;

	if (h->flags & PKT_F_FRAG || be16_get(msg + ICMPH_CSUM))
		return;
	if (h == &p->outer)
		len = (size_t)(h->end - h->l4);
	else if (h->ip + h->tot_len <= h->end &&
		 h->tot_len >= h->l4 - h->ip + ICMPH_LEN)
		len = (size_t)(h->tot_len - (h->l4 - h->ip));
	else
		return;
	for (size_t i = 0; i < len; i++)
		if (msg[i])
			return;
	be16_put(msg + ICMPH_CSUM, 0xffff);
}

void pkt_set_icmp_id(struct pkt *p, struct pkt_hdr *h, uint16_t id)
{
	uint8_t *oc = outer_icmp_csum(p, h);
	uint8_t *f = p->data + h->l4 + ICMPH_ID;
	uint8_t *c = p->data + h->csum;
	uint16_t old, before;

	if (!(h->flags & PKT_F_PORTS) ||
	    h->proto != (h->family == NF_V6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP) ||
	    !is_query(h))
		return;
	old = be16_get(f);
	if (old == id)
		return;
	be16_put(f, id);
	before = be16_get(c);
	csum_replace2(c, old, id);
	if (h->proto == IPPROTO_ICMP)
		icmp_zero_fix(p, h);
	if (oc) {
		csum_replace2(oc, old, id);
		csum_replace2(oc, before, be16_get(c));
	}
	h->sport = h->dport = id;
}

void pkt_set_ttl(struct pkt *p, uint8_t ttl)
{
	uint8_t *ip = p->data + p->outer.ip;
	uint16_t old = be16_get(ip + IP4H_TTL);

	if (p->outer.family == NF_V6) {
		ip[IP6H_HLIM] = ttl;
		p->outer.ttl = ttl;
		return;
	}
	if (ip[IP4H_TTL] == ttl)
		return;
	ip[IP4H_TTL] = ttl;
	csum_replace2(ip + IP4H_CSUM, old, be16_get(ip + IP4H_TTL));
	p->outer.ttl = ttl;
}
