/* SPDX-License-Identifier: MIT */
#include "gw/ndp.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "gw/bpf.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"

/* Offsets from the Ethernet header. */
enum {
	N_IP = ETHH_LEN,
	N_PLEN = N_IP + IP6H_PLEN, N_NEXT = N_IP + IP6H_NEXT, N_HLIM = N_IP + IP6H_HLIM,
	N_SRC = N_IP + IP6H_SADDR, N_DST = N_IP + IP6H_DADDR,
	N_ICMP = N_IP + IP6H_LEN,
	N_TYPE = N_ICMP, N_CODE = N_ICMP + 1, N_CSUM = N_ICMP + 2, N_FLAGS = N_ICMP + 4,
	N_TARGET = N_ICMP + 8,
	N_OPTS = N_ICMP + 24,
	OPT_SLLA = 1, OPT_TLLA = 2,
	NA_SOLICITED = 0x40000000, NA_OVERRIDE = 0x20000000,
	HOP_LIMIT = 255,
};

static const uint8_t ALL_NODES[16] = { 0xff, 0x02, [15] = 0x01 };

static bool in_ranges(const struct bpf_addr6_range *r, unsigned n, const uint8_t *a)
{
	uint32_t last = be32_get(a + 12);

	for (unsigned i = 0; i < n; i++)
		if (!memcmp(a, r[i].lo.b, 12) && last >= be32_get(r[i].lo.b + 12) &&
		    last <= be32_get(r[i].hi.b + 12))
			return true;
	return false;
}

static bool unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, 16);
}

/* ff02::1:ffXX:XXXX for target's last 24 bits */
static bool solicited_node(const uint8_t *a, const uint8_t *target)
{
	static const uint8_t prefix[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };

	return !memcmp(a, prefix, 13) && !memcmp(a + 13, target + 13, 3);
}

/* The ICMPv6 checksum of the message icmp[len] between src and dst
 * (RFC 8200 8.1), the checksum field read as it is. */
static uint16_t icmp6_sum(const uint8_t *src, const uint8_t *dst, const uint8_t *icmp, size_t len)
{
	uint8_t ph[8] = { 0 };
	uint32_t sum = csum_add(0, src, 16);

	sum = csum_add(sum, dst, 16);
	be32_put(ph, (uint32_t)len);
	ph[7] = IPPROTO_ICMPV6;
	sum = csum_add(sum, ph, sizeof(ph));
	return csum_fold(csum_add(sum, icmp, len));
}

/* The NA for target from mac to dst at dmac, flags as RFC 4861 4.4. */
static void advert(uint8_t *out, const uint8_t *dmac, const uint8_t *mac, const uint8_t *dst,
		   const uint8_t *target, uint32_t flags)
{
	memset(out, 0, NDP_FRAME);
	memcpy(out + ETHH_DST, dmac, 6);
	memcpy(out + ETHH_SRC, mac, 6);
	be16_put(out + ETHH_TYPE, ETYPE_IPV6);
	out[N_IP] = 0x60;
	be16_put(out + N_PLEN, NDP_NA_LEN);
	out[N_NEXT] = IPPROTO_ICMPV6;
	out[N_HLIM] = HOP_LIMIT;
	memcpy(out + N_SRC, target, 16); /* the address is gw's: it speaks for it */
	memcpy(out + N_DST, dst, 16);
	out[N_TYPE] = ICMP6_NA_TYPE;
	be32_put(out + N_FLAGS, flags);
	memcpy(out + N_TARGET, target, 16);
	out[N_OPTS] = OPT_TLLA;
	out[N_OPTS + 1] = 1; /* 8 bytes */
	memcpy(out + N_OPTS + 2, mac, 6);
	be16_put(out + N_CSUM, icmp6_sum(out + N_SRC, out + N_DST, out + N_ICMP, NDP_NA_LEN));
}

size_t ndp_answer(const uint8_t *frame, size_t len, const uint8_t mac[static 6],
		  const struct bpf_addr6_range *r, unsigned n, uint8_t out[static NDP_FRAME])
{
	const uint8_t *src = frame + N_SRC, *dst = frame + N_DST, *target = frame + N_TARGET;
	const uint8_t *slla = NULL;
	size_t plen;

	if (len < N_OPTS || be16_get(frame + ETHH_TYPE) != ETYPE_IPV6 || frame[N_IP] >> 4 != 6 ||
	    frame[N_NEXT] != IPPROTO_ICMPV6 || frame[N_HLIM] != HOP_LIMIT ||
	    frame[N_TYPE] != ICMP6_NS_TYPE || frame[N_CODE] != 0)
		return 0;
	plen = be16_get(frame + N_PLEN);
	if (plen < 24 || plen > len - N_ICMP || icmp6_sum(src, dst, frame + N_ICMP, plen) != 0)
		return 0; /* (a valid sum over the message, its field included, folds to 0) */
	if (target[0] == 0xff || !in_ranges(r, n, target) || src[0] == 0xff)
		return 0;
	for (size_t o = N_OPTS; o < N_ICMP + plen;) {
		size_t olen;

		if (N_ICMP + plen - o < 2 || frame[o + 1] == 0)
			return 0;
		olen = (size_t)frame[o + 1] * 8;
		if (olen > N_ICMP + plen - o)
			return 0;
		if (frame[o] == OPT_SLLA && olen == 8)
			slla = frame + o + 2;
		o += olen;
	}
	if (unspecified(src)) {
		static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };

		if (slla || !solicited_node(dst, target))
			return 0;
		advert(out, all_nodes_mac, mac, ALL_NODES, target, NA_OVERRIDE);
		return NDP_FRAME;
	}
	if (!slla && dst[0] == 0xff)
		return 0; /* a multicast NS must say where the asker is */
	if (!slla)
		slla = frame + ETHH_SRC;
	if (slla[0] & 1)
		return 0;
	advert(out, slla, mac, src, target, NA_SOLICITED | NA_OVERRIDE);
	return NDP_FRAME;
}

void ndp_announce(const uint8_t mac[static 6], const union nf_addr *addr,
		  uint8_t out[static NDP_FRAME])
{
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };

	advert(out, all_nodes_mac, mac, ALL_NODES, addr->b, NA_OVERRIDE);
}
