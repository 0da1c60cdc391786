/* SPDX-License-Identifier: MIT */
#include "nat/pkt/gso.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/proto.h"

int gso_init(struct gso *s, const uint8_t *pkt, size_t len, enum gso_kind kind, unsigned mss)
{
	uint8_t proto = kind == GSO_UDP4 ? IPPROTO_UDP : IPPROTO_TCP;
	size_t l3, tot, l4;

	if (len < 20)
		return -EINVAL;
	if (kind == GSO_TCP6) {
		if (pkt[0] >> 4 != 6 || len < IP6H_LEN || pkt[6] != proto)
			return -EINVAL;
		l3 = IP6H_LEN;
		tot = IP6H_LEN + be16_get(pkt + 4); /* no jumbograms here */
	} else if (kind == GSO_TCP4 || kind == GSO_UDP4) {
		l3 = (size_t)(pkt[0] & 0xf) * 4;
		tot = be16_get(pkt + 2);
		/* a fragment (MF or an offset) is not a whole packet to cut */
		if (pkt[0] >> 4 != 4 || l3 < 20 || pkt[9] != proto || (be16_get(pkt + 6) & 0x3fff))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (tot > len || l3 + (proto == IPPROTO_TCP ? 20 : 8) > tot || mss == 0)
		return -EINVAL;
	l4 = proto == IPPROTO_TCP ? (size_t)(pkt[l3 + 12] >> 4) * 4 : 8;
	if (l4 < (proto == IPPROTO_TCP ? 20u : 8u) || l3 + l4 >= tot) /* or no payload */
		return -EINVAL;
	*s = (struct gso){ .pkt = pkt, .len = tot, .l3 = l3, .hdrs = l3 + l4, .mss = mss,
			   .kind = kind };
	s->n = (unsigned)((tot - s->hdrs + mss - 1) / mss);
	return 0;
}

size_t gso_seg_len(const struct gso *s, unsigned i)
{
	size_t off = (size_t)i * s->mss, payload = s->len - s->hdrs;

	return s->hdrs + (payload - off < s->mss ? payload - off : s->mss);
}

/* TCP/UDP checksum over an IPv6 packet's l4 bytes (RFC 8200 8.1). */
static uint16_t csum6_l4(const uint8_t *ip6, uint8_t proto, const uint8_t *l4, size_t len)
{
	uint32_t sum = csum_add(0, ip6 + 8, 32); /* source and destination */

	sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + proto;
	return csum_fold(csum_add(sum, l4, len));
}

void gso_seg(const struct gso *s, unsigned i, uint8_t *out)
{
	size_t off = (size_t)i * s->mss, len = gso_seg_len(s, i), plen = len - s->hdrs;
	size_t l4len = len - s->l3;
	const uint8_t *in = s->pkt;
	uint8_t *l4 = out + s->l3;

	memcpy(out, in, s->hdrs);
	memcpy(out + s->hdrs, in + s->hdrs + off, plen);
	if (s->kind == GSO_TCP6) {
		be16_put(out + 4, (uint16_t)l4len);
	} else {
		be16_put(out + 2, (uint16_t)len);
		be16_put(out + 4, (uint16_t)(be16_get(in + 4) + i));
		be16_put(out + 10, csum_ip(out, s->l3));
	}
	if (s->kind == GSO_UDP4) {
		be16_put(l4 + 4, (uint16_t)l4len);
		be16_put(l4 + 6, csum_l4(be32_get(out + 12), be32_get(out + 16), IPPROTO_UDP,
					 l4, l4len));
		return;
	}
	if (i + 1 < s->n)
		l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i)
		l4[13] &= (uint8_t)~TCP_CWR;
	be32_put(l4 + 4, be32_get(in + s->l3 + 4) + (uint32_t)off);
	if (s->kind == GSO_TCP6) {
		be16_put(l4 + 16, 0);
		be16_put(l4 + 16, csum6_l4(out, IPPROTO_TCP, l4, l4len));
	} else {
		be16_put(l4 + 16, csum_l4(be32_get(out + 12), be32_get(out + 16), IPPROTO_TCP,
					  l4, l4len));
	}
}

int gso_csum_complete(uint8_t *pkt, size_t len, size_t start, size_t off)
{
	size_t l3;
	uint8_t proto;
	uint16_t c;

	if (len < 20)
		return -EINVAL;
	l3 = pkt[0] >> 4 == 6 ? IP6H_LEN : 20;
	/* the field inside the packet past the IP header, no sum wrapping */
	if (len < l3 || start < l3 || start > len || off > len - start || len - start - off < 2)
		return -EINVAL;
	proto = l3 == IP6H_LEN ? pkt[6] : pkt[9];
	c = csum_fold(csum_add(0, pkt + start, len - start));
	if (c == 0 && proto == IPPROTO_UDP)
		c = 0xffff;
	be16_put(pkt + start + off, c);
	return 0;
}
