/* SPDX-License-Identifier: MIT */
/*
 * icmp6 — the ICMPv6 errors gw answers the host with (RFC 4443), built as
 * Linux's icmp6_send() builds them: for a packet read from TUN that no
 * peer's allowed IPs hold, destination unreachable, code 3 (address
 * unreachable), as the kernel's WireGuard answers.  Pure: bytes in, bytes
 * out.
 */
#ifndef GW_NAT_ICMP6_H
#define GW_NAT_ICMP6_H

#include <stddef.h>
#include <stdint.h>

enum {
	ICMP6_DST_UNREACH = 1,
	ICMP6_PACKET_TOO_BIG = 2,
	ICMP6_PARAM_PROB = 4,
	ICMP6_UNREACH_NOROUTE = 0,
	ICMP6_UNREACH_ADDR = 3,
	ICMP6_ERROR_MAX = 1280, /* IPv6 minimum MTU: an error never exceeds it */
};

/*
 * Builds into out[0..cap) an ICMPv6 error of type/code (info: the MTU of a
 * packet too big, the pointer of a parameter problem, else 0) about the
 * IPv6 packet pkt[0..len), from src to its source, hop limit 64, quoting as
 * much of it as fits in ICMP6_ERROR_MAX bytes.  Returns the error's length,
 * or 0 when none is due (RFC 4443 2.4 (e)): pkt is no IPv6 packet, its
 * source is unspecified or multicast, its destination is multicast (except
 * for a packet too big and a parameter problem of code 2), it is an ICMPv6
 * error or redirect itself (found past the extension headers), or cap is
 * too small.
 */
size_t icmp6_error_build(const uint8_t *pkt, size_t len, uint8_t type, uint8_t code,
			 uint32_t info, const uint8_t src[static 16], uint8_t *out, size_t cap);

#endif
