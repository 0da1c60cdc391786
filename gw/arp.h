/* SPDX-License-Identifier: MIT */
/*
 * arp — gw's ARP for the NAT addresses the host does not own (SNAT
 * --to-source an address on no interface): the uplink's packet socket hands
 * gw the ARP requests for them (gw/bpf.h) and gw answers with the uplink's
 * MAC, as the kernel does for its own addresses; at start gw announces each
 * such address once with a gratuitous ARP.  Ethernet and IPv4 only.  Pure:
 * frames in, frames out; gw/uplink.c sends them.
 */
#ifndef GW_ARP_H
#define GW_ARP_H

#include <stddef.h>
#include <stdint.h>

#include "nat/pkt/proto.h"

struct bpf_addr_range;

enum { ARP_FRAME = ETHH_LEN + ARPH_LEN }; /* Ethernet header + ARP for IPv4 (unpadded) */

/* The reply to frame[len] (from its Ethernet header) into out when it is an
 * Ethernet/IPv4 ARP request for an address in r[n] — a probe (sender
 * 0.0.0.0) included, a gratuitous request (sender = target) not.  Returns
 * ARP_FRAME, or 0 for a frame gw does not answer. */
size_t arp_answer(const uint8_t *frame, size_t len, const uint8_t mac[static 6],
		  const struct bpf_addr_range *r, unsigned n, uint8_t out[static ARP_FRAME]);

/* A gratuitous ARP request announcing addr (host order) at mac, broadcast. */
void arp_announce(const uint8_t mac[static 6], uint32_t addr, uint8_t out[static ARP_FRAME]);

#endif
