/* SPDX-License-Identifier: MIT */
/*
 * trace — the packet syntax of gw trace:
 *   PROTO SRC[:PORT] > DST[:PORT] [in IFACE] [flags FLAGS] [icmp TYPE[/CODE]]
 *   [len N] [ttl N] [df]
 * PROTO is tcp, udp, icmp, icmp6 or a number; FLAGS are letters of SAFRPU;
 * for icmp (icmp6) queries the "port" of SRC is the echo id.  len is the IP
 * total length, ttl the IP time to live (64 unless given).
 * IPv6 (DESIGN.md 1): addresses in brackets, [2001:db8::2]:40000 (a bare
 * address without a port too); "icmp6 TYPE[/CODE]" (128 unless given);
 * ttl is the hop limit; "mtu N" a Packet Too Big's MTU (1280 unless given);
 * "ext hop|dst|hop,dst" puts 8-byte hop-by-hop / destination-options
 * headers before the upper layer, in that order; len is the whole packet.
 */
#ifndef GW_NAT_TRACE_H
#define GW_NAT_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nf.h"
#include "nat/pkt/addr.h"

struct pkt;
struct sbuf;

enum { TRACE_EXT_HOP = 1, TRACE_EXT_DST = 2 };

struct trace_spec {
	uint8_t family;           /* NF_V4, NF_V6 */
	uint8_t proto;
	union nf_addr src, dst;   /* as nat/pkt/addr.h keeps them */
	uint16_t sport, dport;    /* icmp: sport is the id */
	char in[NF_IFNAMSIZ];     /* "" when not given */
	uint8_t tcp_flags;
	bool has_flags;
	uint8_t icmp_type, icmp_code;
	uint16_t len;             /* 0: the smallest packet */
	uint8_t ttl;              /* 0: 64 */
	bool df;                  /* "df": don't fragment */
	uint32_t mtu;             /* IPv6 Packet Too Big: 0: 1280 */
	uint8_t ext;              /* TRACE_EXT_* */
};

/* Parse one packet argument.  Returns 0, or -EINVAL with a message naming
 * the bad word in err. */
int trace_spec_parse(struct trace_spec *s, const char *text, char *err, size_t errlen);

/*
 * Build the packet of a spec into out[0..cap).  TCP takes seq/ack (window
 * 65535, no options), an ICMP error quotes quote[0..quote_len).  The IP id
 * is ip_id.  Returns the length, or 0 when it does not fit.
 */
size_t trace_build(const struct trace_spec *s, uint32_t seq, uint32_t ack, uint16_t ip_id,
		   const uint8_t *quote, size_t quote_len, uint8_t *out, size_t cap);

/* A parsed packet in the same syntax (without "in"), e.g.
 * "tcp 192.0.2.1:61000 > 203.0.113.5:443 flags S". */
void trace_format(const struct pkt *p, struct sbuf *out);

#endif
