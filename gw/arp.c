/* SPDX-License-Identifier: MIT */
#include "gw/arp.h"

#include <stdbool.h>
#include <string.h>

#include "gw/bpf.h"
#include "nat/pkt/be.h"

/* RFC 826 over Ethernet (offsets from the Ethernet header). */
enum {
	ETH_DST = 0, ETH_SRC = 6, ETH_TYPE = 12,
	A_HTYPE = 14, A_PTYPE = 16, A_HLEN = 18, A_PLEN = 19, A_OP = 20,
	A_SHA = 22, A_SPA = 28, A_THA = 32, A_TPA = 38,
	ETHERTYPE_ARP = 0x0806, ETHERTYPE_IP = 0x0800, HTYPE_ETHER = 1,
	OP_REQUEST = 1, OP_REPLY = 2,
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
	memcpy(f + ETH_DST, dst, 6);
	memcpy(f + ETH_SRC, mac, 6);
	be16_put(f + ETH_TYPE, ETHERTYPE_ARP);
	be16_put(f + A_HTYPE, HTYPE_ETHER);
	be16_put(f + A_PTYPE, ETHERTYPE_IP);
	f[A_HLEN] = 6;
	f[A_PLEN] = 4;
	be16_put(f + A_OP, op);
	memcpy(f + A_SHA, mac, 6);
}

size_t arp_answer(const uint8_t *frame, size_t len, const uint8_t mac[static 6],
		  const struct bpf_addr_range *r, unsigned n, uint8_t out[static ARP_FRAME])
{
	uint32_t spa, tpa;

	if (len < ARP_FRAME || be16_get(frame + ETH_TYPE) != ETHERTYPE_ARP ||
	    be16_get(frame + A_HTYPE) != HTYPE_ETHER || be16_get(frame + A_PTYPE) != ETHERTYPE_IP ||
	    frame[A_HLEN] != 6 || frame[A_PLEN] != 4 || be16_get(frame + A_OP) != OP_REQUEST)
		return 0;
	spa = be32_get(frame + A_SPA);
	tpa = be32_get(frame + A_TPA);
	if (spa == tpa || !in_ranges(r, n, tpa) || (frame[A_SHA] & 1))
		return 0; /* an announcement, not ours, or a multicast sender */
	header(out, frame + A_SHA, mac, OP_REPLY);
	be32_put(out + A_SPA, tpa);
	memcpy(out + A_THA, frame + A_SHA, 6);
	be32_put(out + A_TPA, spa);
	return ARP_FRAME;
}

void arp_announce(const uint8_t mac[static 6], uint32_t addr, uint8_t out[static ARP_FRAME])
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	header(out, bcast, mac, OP_REQUEST);
	be32_put(out + A_SPA, addr);
	memset(out + A_THA, 0, 6);
	be32_put(out + A_TPA, addr);
}
