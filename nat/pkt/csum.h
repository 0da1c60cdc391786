/* SPDX-License-Identifier: MIT */
/*
 * Internet checksums: full computation and incremental update (RFC 1071,
 * RFC 1624).  Checksum values are as stored in packets: big-endian 16-bit,
 * passed and returned here in host order.
 */
#ifndef GW_PKT_CSUM_H
#define GW_PKT_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* One's-complement sum of buf (big-endian words), added to sum, unfolded. */
uint32_t csum_add(uint32_t sum, const void *buf, size_t len);
/* Fold a 32-bit sum to 16 bits and complement it: the checksum to store. */
uint16_t csum_fold(uint32_t sum);
/* Sum of the IPv4 pseudo-header (addresses host order). */
uint32_t csum_pseudo(uint32_t saddr, uint32_t daddr, uint8_t proto, uint16_t len);

/* Sum of the IPv6 pseudo-header (RFC 8200 §8.1): the addresses as on the
 * wire (16 bytes each), the upper-layer length and next header. */
uint32_t csum_pseudo6(const uint8_t *saddr16, const uint8_t *daddr16, uint8_t proto,
		      uint32_t len);

/* Checksum of an IP header of hlen bytes (its checksum field read as zero). */
uint16_t csum_ip(const uint8_t *hdr, size_t hlen);
/* TCP/UDP checksum of len bytes of L4 header + payload (checksum field read as
 * zero).  For UDP, a result of 0 is returned as 0xffff (RFC 768). */
uint16_t csum_l4(uint32_t saddr, uint32_t daddr, uint8_t proto,
		 const uint8_t *l4, size_t len);
/* The same over IPv6 (TCP, UDP or ICMPv6: all three cover the pseudo-header;
 * the checksum field read as zero).  UDP: 0 returned as 0xffff. */
uint16_t csum_l4_6(const uint8_t *saddr16, const uint8_t *daddr16, uint8_t proto,
		   const uint8_t *l4, size_t len);
/* ICMP checksum over len bytes (checksum field read as zero). */
uint16_t csum_icmp(const uint8_t *icmp, size_t len);

/* Incremental update of the checksum stored at field[0..1] (big-endian) when a
 * 16-bit or 32-bit quantity covered by it changes from old to new. */
void csum_replace2(uint8_t *field, uint16_t old, uint16_t new_);
void csum_replace4(uint8_t *field, uint32_t old, uint32_t new_);
/* The same for a UDP checksum: zero (none) stays zero, and an updated value of
 * zero is stored as 0xffff. */
void csum_replace2_udp(uint8_t *field, uint16_t old, uint16_t new_);
void csum_replace4_udp(uint8_t *field, uint32_t old, uint32_t new_);
/* A 16-byte quantity (an IPv6 address, wire order) from old16 to new16. */
void csum_replace16(uint8_t *field, const uint8_t *old16, const uint8_t *new16);
void csum_replace16_udp(uint8_t *field, const uint8_t *old16, const uint8_t *new16);

#endif
