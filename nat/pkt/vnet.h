/* SPDX-License-Identifier: MIT */
/*
 * vnet — the struct virtio_net_hdr a TUN device with IFF_VNET_HDR or a
 * packet socket with PACKET_VNET_HDR puts before every packet: read into
 * what gw acts on, written from it.  One implementation for both.
 *
 * The fields are in native byte order, as both give them (no
 * TUNSETVNETLE).  Pure: bytes in, bytes out.
 */
#ifndef GW_PKT_VNET_H
#define GW_PKT_VNET_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/pkt/gso.h"
#include "nat/pkt/proto.h"

/* What a header says (all zero: a plain packet with its checksums whole). */
struct vnet_hdr {
	enum gso_kind kind;	/* 0: not a super-packet; else how to cut it */
	bool needs_csum;	/* the L4 checksum is partial: complete it at
				 * csum_start + csum_offset (from the header
				 * that follows the virtio_net_hdr) */
	bool data_valid;	/* read: the kernel verified the checksums
				 * (CHECKSUM_UNNECESSARY) */
	uint16_t gso_size, hdr_len, csum_start, csum_offset;
};

/* Reads the header at buf.  Returns 0, or -EPROTONOSUPPORT for a GSO type
 * other than TCPv4, TCPv6 and UDP_L4 (the ECN bit is ignored; the other
 * fields of *h are read all the same). */
int vnet_parse(struct vnet_hdr *h, const uint8_t buf[static VNET_HLEN]);

/* Writes h into out as a virtio_net_hdr. */
void vnet_build(const struct vnet_hdr *h, uint8_t out[static VNET_HLEN]);

#endif
