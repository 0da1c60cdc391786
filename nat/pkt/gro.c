/* SPDX-License-Identifier: MIT */
#include "nat/pkt/gro.h"

#include <netinet/in.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/proto.h"

void gro_init(struct gro *g, uint8_t *buf, size_t cap)
{
	*g = (struct gro){ .buf = buf, .cap = cap };
}

/* Sum of the pseudo-header (RFC 793 / RFC 8200 8.1) for l4len TCP bytes. */
static uint32_t pseudo(const uint8_t *p, size_t l3, size_t l4len)
{
	if (l3 == IP6H_LEN)
		return csum_add(0, p + 8, 32) + (uint32_t)(l4len >> 16) +
		       (uint32_t)(l4len & 0xffff) + IPPROTO_TCP;
	return csum_pseudo(be32_get(p + 12), be32_get(p + 16), IPPROTO_TCP, (uint16_t)l4len);
}

/* A segment that could be part of a super-packet: its IP header length,
 * headers length and payload length, or false. */
static bool eligible(const uint8_t *p, size_t len, bool trusted, size_t *l3, size_t *hdrs)
{
	size_t tot, doff;

	if (len < IP4H_LEN)
		return false;
	if (p[0] == 0x45) {
		tot = be16_get(p + 2);
		/* DF, no MF, no offset: a whole packet the kernel's GSO may cut */
		if (p[9] != IPPROTO_TCP || (be16_get(p + 6) & 0xbfff) != 0 ||
		    !(be16_get(p + 6) & IP4_DF) || csum_fold(csum_add(0, p, IP4H_LEN)))
			return false;
		*l3 = IP4H_LEN;
	} else if (p[0] >> 4 == 6) {
		if (len < IP6H_LEN || p[6] != IPPROTO_TCP)
			return false;
		tot = IP6H_LEN + (size_t)be16_get(p + 4);
		*l3 = IP6H_LEN;
	} else {
		return false;
	}
	if (tot != len || *l3 + TCPH_LEN > tot)
		return false;
	doff = (size_t)(p[*l3 + 12] >> 4) * 4;
	*hdrs = *l3 + doff;
	/* ACK, maybe PSH, nothing else; no reserved bits; some payload */
	if (doff < TCPH_LEN || *hdrs >= tot || (p[*l3 + 12] & 0x0f) ||
	    (p[*l3 + 13] & (uint8_t)~TCP_PSH) != TCP_ACK)
		return false;
	return trusted || csum_fold(csum_add(pseudo(p, *l3, tot - *l3), p + *l3, tot - *l3)) == 0;
}

/* Does segment p (l3, hdrs as eligible() found) continue the held one? */
static bool joins(const struct gro *g, const uint8_t *p, size_t len, size_t l3, size_t hdrs)
{
	const uint8_t *h = g->buf, *t = p + l3, *ht = h + l3;
	size_t plen = len - hdrs;

	if (g->closed || l3 != g->l3 || hdrs != g->hdrs || plen > g->mss ||
	    g->len + plen > GRO_MAX || g->len + plen > g->cap)
		return false;
	if (l3 == IP4H_LEN) {
		/* version..TOS, flags, TTL, protocol, addresses; IDs count up */
		if (memcmp(p, h, 2) || memcmp(p + 6, h + 6, 4) || memcmp(p + 12, h + 12, 8) ||
		    be16_get(p + 4) != (uint16_t)(be16_get(h + 4) + g->n))
			return false;
	} else if (memcmp(p, h, 4) || memcmp(p + 6, h + 6, 34)) {
		return false; /* class, flow label, next header, hops, addresses */
	}
	/* ports, ack, offset, window, urgent pointer, options; flags but PSH */
	return !memcmp(t, ht, 4) && !memcmp(t + 8, ht + 8, 5) && !memcmp(t + 14, ht + 14, 2) &&
	       !memcmp(t + 18, ht + 18, hdrs - l3 - 18) &&
	       be32_get(t + 4) == be32_get(ht + 4) + (uint32_t)(g->len - g->hdrs) &&
	       ((t[13] ^ ht[13]) & (uint8_t)~TCP_PSH) == 0;
}

enum gro_res gro_add(struct gro *g, const uint8_t *p, size_t len)
{
	size_t l3, hdrs;

	if (len > g->cap || !eligible(p, len, g->trusted, &l3, &hdrs))
		return GRO_NOT;
	if (g->len) {
		if (!joins(g, p, len, l3, hdrs))
			return GRO_FLUSH;
		memcpy(g->buf + g->len, p + hdrs, len - hdrs);
		g->len += len - hdrs;
		g->buf[l3 + 13] |= p[l3 + 13] & TCP_PSH; /* the last's flags */
	} else {
		memcpy(g->buf, p, len);
		*g = (struct gro){ .buf = g->buf, .cap = g->cap, .len = len, .l3 = l3,
				   .hdrs = hdrs, .mss = (unsigned)(len - hdrs), .trusted = g->trusted };
	}
	g->n++;
	g->closed = (p[l3 + 13] & TCP_PSH) || len - hdrs < g->mss;
	return GRO_HELD;
}

size_t gro_finish(struct gro *g, struct vnet_hdr *h)
{
	size_t len = g->len, l4len = len - g->l3;
	uint8_t *b = g->buf;

	*h = (struct vnet_hdr){ 0 };
	g->len = 0;
	if (!len || g->n == 1)
		return len;
	if (g->l3 == IP6H_LEN) {
		be16_put(b + 4, (uint16_t)l4len);
		h->kind = GSO_TCP6;
	} else {
		be16_put(b + 2, (uint16_t)len);
		be16_put(b + 10, csum_ip(b, IP4H_LEN));
		h->kind = GSO_TCP4;
	}
	/* the kernel sums from csum_start on and folds this in */
	be16_put(b + g->l3 + TCPH_CSUM, (uint16_t)~csum_fold(pseudo(b, g->l3, l4len)));
	h->needs_csum = true;
	h->gso_size = (uint16_t)g->mss;
	h->hdr_len = (uint16_t)g->hdrs;
	h->csum_start = (uint16_t)g->l3;
	h->csum_offset = TCPH_CSUM;
	return len;
}
