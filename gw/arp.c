/* SPDX-License-Identifier: MIT */
#include "gw/arp.h"

#include <stdbool.h>
#include <string.h>

#include "gw/bpf.h"
#include "nat/pkt/be.h"
#include "nat/pkt/proto.h"

/* RFC 826 over Ethernet (offsets from the Ethernet header). */
enum {
	A_HTYPE = ETHH_LEN + ARPH_HTYPE, A_PTYPE = ETHH_LEN + ARPH_PTYPE,
	A_HLEN = ETHH_LEN + ARPH_HLEN, A_PLEN = ETHH_LEN + ARPH_PLEN, A_OP = ETHH_LEN + ARPH_OP,
	A_SHA = ETHH_LEN + ARPH_SHA, A_SPA = ETHH_LEN + ARPH_SPA,
	A_THA = ETHH_LEN + ARPH_THA, A_TPA = ETHH_LEN + ARPH_TPA,
};

static bool in_ranges(const struct bpf_addr_range *r, unsigned n, uint32_t a)
{
	for (unsigned i = 0; i < n; i++)
		if (a >= r[i].lo && a <= r[i].hi)
			return true;
	return false;
}

static void header(uint8_t *f, const uint8_t *dst, const uint8_t *mac, uint16_t op)
{
	memcpy(f + ETHH_DST, dst, 6);
	memcpy(f + ETHH_SRC, mac, 6);
	be16_put(f + ETHH_TYPE, ETYPE_ARP);
	be16_put(f + A_HTYPE, ARP_HTYPE_ETHER);
	be16_put(f + A_PTYPE, ETYPE_IP);
	f[A_HLEN] = 6;
	f[A_PLEN] = 4;
	be16_put(f + A_OP, op);
	memcpy(f + A_SHA, mac, 6);
}

size_t arp_answer(const uint8_t *frame, size_t len, const uint8_t mac[static 6],
		  const struct bpf_addr_range *r, unsigned n, uint8_t out[static ARP_FRAME])
{
	uint32_t spa, tpa;

	if (len < ARP_FRAME || be16_get(frame + ETHH_TYPE) != ETYPE_ARP ||
	    be16_get(frame + A_HTYPE) != ARP_HTYPE_ETHER || be16_get(frame + A_PTYPE) != ETYPE_IP ||
	    frame[A_HLEN] != 6 || frame[A_PLEN] != 4 || be16_get(frame + A_OP) != ARP_OP_REQUEST)
		return 0;
	spa = be32_get(frame + A_SPA);
	tpa = be32_get(frame + A_TPA);
	if (spa == tpa || !in_ranges(r, n, tpa) || (frame[A_SHA] & 1))
		return 0; /* an announcement, not ours, or a multicast sender */
	header(out, frame + A_SHA, mac, ARP_OP_REPLY);
	be32_put(out + A_SPA, tpa);
	memcpy(out + A_THA, frame + A_SHA, 6);
	be32_put(out + A_TPA, spa);
	return ARP_FRAME;
}

void arp_announce(const uint8_t mac[static 6], uint32_t addr, uint8_t out[static ARP_FRAME])
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	header(out, bcast, mac, ARP_OP_REQUEST);
	be32_put(out + A_SPA, addr);
	memset(out + A_THA, 0, 6);
	be32_put(out + A_TPA, addr);
}
