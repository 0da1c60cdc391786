/* SPDX-License-Identifier: MIT */
#include "nat/icmp6.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/proto.h"

enum {
	HOP_LIMIT = 64,
	ICMP6_INFOMSG_MASK = 0x80, /* types 128..255 are informational */
	ICMP6_REDIRECT = 137,
};

static bool unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, 16);
}

static bool multicast(const uint8_t *a)
{
	return a[0] == 0xff;
}

/* Whether pkt is an ICMPv6 error or redirect: its upper-layer header found
 * past the extension headers, as Linux's ipv6_skip_exthdr() walks them.  A
 * later fragment, ESP or a header chain that runs out says nothing of the
 * kind: not an error (RFC 8200 4.5). */
static bool is_icmp6_error(const uint8_t *pkt, size_t len)
{
	uint8_t next = pkt[IP6H_NEXT];
	size_t off = IP6H_LEN;

	for (;;) {
		const uint8_t *h = pkt + off;
		size_t hlen;

		switch (next) {
		case IPPROTO_ICMPV6:
			/* no room for a type: Linux calls that ineligible too */
			return off >= len || !(h[0] & ICMP6_INFOMSG_MASK) || h[0] == ICMP6_REDIRECT;
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (len - off < 8)
				return false;
			hlen = ((size_t)h[1] + 1) * 8;
			break;
		case IPPROTO_AH:
			if (len - off < 8)
				return false;
			hlen = ((size_t)h[1] + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if (len - off < 8 || (be16_get(h + 2) & ~7))
				return false;
			hlen = 8;
			break;
		default:
			return false;
		}
		next = h[0];
		if (hlen > len - off)
			return false;
		off += hlen;
	}
}

size_t icmp6_error_build(const uint8_t *pkt, size_t len, uint8_t type, uint8_t code,
			 uint32_t info, const uint8_t src[static 16], uint8_t *out, size_t cap)
{
	const uint8_t *psrc = pkt + IP6H_SADDR, *pdst = pkt + IP6H_DADDR;
	size_t quote, total;
	uint32_t sum;

	if (len < IP6H_LEN || pkt[0] >> 4 != 6)
		return 0;
	if (unspecified(psrc) || multicast(psrc))
		return 0;
	if (multicast(pdst) && type != ICMP6_PACKET_TOO_BIG &&
	    !(type == ICMP6_PARAM_PROB && code == 2))
		return 0;
	if (is_icmp6_error(pkt, len))
		return 0;
	quote = len < ICMP6_ERROR_MAX - IP6H_LEN - ICMP6H_LEN ? len :
		ICMP6_ERROR_MAX - IP6H_LEN - ICMP6H_LEN;
	total = IP6H_LEN + ICMP6H_LEN + quote;
	if (cap < total)
		return 0;
	memmove(out + IP6H_LEN + ICMP6H_LEN, pkt, quote);
	memset(out, 0, IP6H_LEN + ICMP6H_LEN);
	out[0] = 0x60;
	be16_put(out + IP6H_PLEN, (uint16_t)(ICMP6H_LEN + quote));
	out[IP6H_NEXT] = IPPROTO_ICMPV6;
	out[IP6H_HLIM] = HOP_LIMIT;
	memcpy(out + IP6H_SADDR, src, 16);
	memmove(out + IP6H_DADDR, out + IP6H_LEN + ICMP6H_LEN + IP6H_SADDR, 16); /* the offender's source */
	out[IP6H_LEN] = type;
	out[IP6H_LEN + 1] = code;
	be32_put(out + IP6H_LEN + 4, info);
	/* pseudo-header (RFC 8200 8.1): addresses, upper-layer length, next header */
	sum = csum_add(0, out + IP6H_SADDR, 32);
	sum += (uint32_t)(ICMP6H_LEN + quote) + IPPROTO_ICMPV6;
	sum = csum_add(sum, out + IP6H_LEN, ICMP6H_LEN + quote);
	be16_put(out + IP6H_LEN + 2, csum_fold(sum));
	return total;
}
