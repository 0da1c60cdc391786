/* SPDX-License-Identifier: MIT */
/*
 * gso — cutting a TCP or UDP super-packet (a GSO packet as the kernel hands
 * it out of a packet socket or a TUN device with a virtio_net_hdr) into the
 * packets the kernel's own segmentation would have sent, and completing a
 * checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM).  Pure: the
 * caller owns every buffer.
 */
#ifndef GW_PKT_GSO_H
#define GW_PKT_GSO_H

#include <stddef.h>
#include <stdint.h>

enum gso_kind { GSO_TCP4 = 1, GSO_TCP6, GSO_UDP4 };

/* One checked super-packet; the segments are read off it by index. */
struct gso {
	const uint8_t *pkt;
	size_t len;	/* the IP packet, without any padding after it */
	size_t l3;	/* IP header length */
	size_t hdrs;	/* IP + TCP/UDP header length: copied into every segment */
	unsigned mss;	/* payload bytes per segment (the last may have fewer) */
	unsigned n;	/* segments */
	enum gso_kind kind;
};

/* Checks pkt (len bytes from the IP header; more than the IP length is
 * padding) as a super-packet of kind cut at mss payload bytes: IPv4 without
 * fragmentation, IPv6 with TCP right after its fixed header, headers whole,
 * some payload.  0, or -EINVAL for anything else. */
int gso_init(struct gso *s, const uint8_t *pkt, size_t len, enum gso_kind kind, unsigned mss);
/* Bytes of segment i (i < s->n). */
size_t gso_seg_len(const struct gso *s, unsigned i);
/* Writes segment i into out (gso_seg_len bytes): the IPv4 ID counts up from
 * the super-packet's, TCP sequence numbers advance, FIN and PSH only on the
 * last segment, CWR only on the first, options carried to every segment,
 * lengths and every checksum whole. */
void gso_seg(const struct gso *s, unsigned i, uint8_t *out);

/* Completes a partial checksum: the 16-bit field at start + off holds the
 * pseudo-header sum; the sum runs from start (counted from the IP header) to
 * the end of the len-byte packet.  A UDP result of 0 is stored as 0xffff.
 * 0, or -EINVAL when the field is not inside the packet past an IP header. */
int gso_csum_complete(uint8_t *pkt, size_t len, size_t start, size_t off);

#endif
