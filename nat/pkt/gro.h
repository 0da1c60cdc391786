/* SPDX-License-Identifier: MIT */
/*
 * gro — joining consecutive in-order TCP segments of one flow into one
 * super-packet for a TUN write with a virtio_net_hdr (the reverse of
 * nat/pkt/gso.c): the kernel takes it as one packet and cuts it again as its own
 * GSO would.  Only segments that cut back byte for byte join: same addresses,
 * ports, IP and TCP header fields and options; contiguous sequence numbers;
 * IPv4 without options, DF set, IDs counting up; IPv6 without extension
 * headers; flags ACK with PSH only on the last; every segment's checksums
 * valid (the TCP one unless trusted); the same payload size except a
 * shorter last one.  Pure: the caller
 * owns the buffer.
 */
#ifndef GW_PKT_GRO_H
#define GW_PKT_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/pkt/gso.h"
#include "nat/pkt/vnet.h"

#define GRO_MAX 65535u /* an IPv4 total length; IPv6 payload length + 40 kept below it too */

/* The held super-packet: a copy of its first segment with the others'
 * payloads appended. */
struct gro {
	uint8_t *buf;	/* cap bytes, cap >= GRO_MAX */
	size_t cap;
	size_t len;	/* bytes held; 0: nothing */
	size_t l3, hdrs;
	unsigned mss;	/* the first segment's payload */
	unsigned n;	/* segments held */
	bool closed;	/* PSH or a short segment: nothing more joins */
	/* the segments' TCP checksums are trusted, not verified: packets a peer
	 * sent, authenticated by WireGuard's AEAD (the kernel's WireGuard marks
	 * every packet it decrypted CHECKSUM_UNNECESSARY, and its GRO then
	 * joins them unverified).  Set after gro_init; false: verified. */
	bool trusted;
};

enum gro_res {
	GRO_HELD,	/* copied into the held super-packet (joined or begun) */
	GRO_FLUSH,	/* could begin one but does not join: finish, then add again */
	GRO_NOT,	/* not a segment to join: finish, then write it as it is */
};

void gro_init(struct gro *g, uint8_t *buf, size_t cap);
enum gro_res gro_add(struct gro *g, const uint8_t *p, size_t len);
/* Readies the held bytes (g->buf, return value bytes) for one write with
 * the virtio_net_hdr *h and empties g: one segment stays as it came (plain header); more get
 * their lengths, IPv4 header checksum and the TCP pseudo-header sum in the
 * checksum field for the kernel to complete.  0 when nothing is held. */
size_t gro_finish(struct gro *g, struct vnet_hdr *h);

#endif
