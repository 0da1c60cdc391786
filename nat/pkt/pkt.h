/* SPDX-License-Identifier: MIT */
/*
 * pkt — an IPv4 or IPv6 packet parsed once into a view.
 *
 * pkt_parse() validates everything later stages rely on: version, header
 * length, total length against the buffer, header checksum, option layout,
 * fragment fields, the L4 header (TCP/UDP/ICMP) and, for ICMP errors, the
 * embedded IP header and the first 8 bytes of its L4 header.  After a
 * successful parse, every offset in the view lies inside the buffer, so
 * later stages never re-check lengths.
 *
 * IPv6 (family NF_V6): the extension headers are walked as the kernel's
 * ipv6_skip_exthdr does (hop-by-hop, routing, fragment, destination
 * options; AH by its own length rule) up to the upper layer: proto is that
 * layer (TCP, UDP, ICMPv6, ESP, 59 "no next header", anything else) and l4
 * its offset.  The chain must lie whole inside the packet (in a first
 * fragment too, RFC 7112); ICMPv6 (RFC 4443) takes the place of ICMP, with
 * echo request/reply ids as ICMP query ids and errors (types 1-4) carrying
 * an embedded IPv6 header, its extension headers and 8 bytes of its upper
 * layer.  IPv6 has no header checksum and no DF (routers never fragment).
 *
 * Offsets count from the start of the outer IP header (pkt->data).
 * Ports and ids are host byte order; addresses as union nf_addr keeps them
 * (IPv4 host order, IPv6 the wire bytes).
 */
#ifndef GW_PKT_PKT_H
#define GW_PKT_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/pkt/addr.h"
#include "nat/pkt/proto.h"

/* Why a buffer is not a packet we accept; indexes a drop counter. */
enum pkt_error {
	PKT_OK = 0,
	PKT_E_SHORT,      /* fewer than 20 bytes, or than the header length */
	PKT_E_VERSION,    /* not IPv4 */
	PKT_E_IHL,        /* header length below 20 bytes */
	PKT_E_TOTLEN,     /* total length below the header length or beyond the buffer */
	PKT_E_CSUM,       /* IP header checksum wrong */
	PKT_E_OPTIONS,    /* malformed IP options */
	PKT_E_FRAG,       /* impossible fragment (past 65535, empty, odd size) */
	PKT_E_L4,         /* truncated or malformed TCP/UDP/ICMP header */
	PKT_E_INNER,      /* ICMP error whose embedded header is unusable */
	PKT_E_EXTHDR,     /* IPv6 extension headers: cut short, past the payload,
	                   * or a second fragment header */
	PKT_E_JUMBO,      /* IPv6 jumbogram (payload length 0, hop-by-hop
	                   * header: RFC 2675), or longer than 65535 bytes */
	PKT_E_MAX
};

/* struct pkt_hdr.flags */
enum {
	PKT_F_DF      = 1 << 0, /* don't fragment */
	PKT_F_MF      = 1 << 1, /* more fragments */
	PKT_F_FRAG    = 1 << 2, /* a fragment: MF set or offset != 0 */
	PKT_F_LATER   = 1 << 3, /* a fragment with offset != 0: no L4 header */
	PKT_F_L4      = 1 << 4, /* the L4 header is complete (fields below valid) */
	PKT_F_PORTS   = 1 << 5, /* sport/dport (or ICMP id) valid: first 8 L4 bytes present */
};

/* struct pkt_hdr.exthdrs: the IPv6 extension headers met on the way to the
 * upper layer (for a later fragment: those up to its fragment header) */
enum {
	PKT_X_HOP  = 1 << 0, /* hop-by-hop options (0) */
	PKT_X_RT   = 1 << 1, /* routing (43) */
	PKT_X_FRAG = 1 << 2, /* fragment (44); also atomic: frag_hdr says where */
	PKT_X_DST  = 1 << 3, /* destination options (60), before or after routing */
	PKT_X_AH   = 1 << 4, /* authentication header (51) */
};

/* One IP header and what follows it: the outer packet, or the header
 * embedded in an ICMP error. */
struct pkt_hdr {
	union nf_addr saddr, daddr;
	uint32_t id;        /* IPv4 identification; IPv6: the fragment header's */
	uint16_t ip;        /* offset of the IP header */
	uint16_t l4;        /* offset of the L4 header (ip + header length) */
	uint16_t end;       /* end of the bytes present (outer: ip + total length) */
	uint16_t tot_len;   /* the total length field (inner: may exceed end - ip);
	                     * IPv6: 40 + the payload length field */
	uint16_t frag_off;  /* fragment offset in bytes */
	uint16_t frag_hdr;  /* IPv6: offset of the fragment header, 0 if none.  Set
	                     * for an atomic fragment (offset 0, no M flag: RFC
	                     * 6946) too, which is not PKT_F_FRAG.  The
	                     * fragmentable part starts at frag_hdr + 8. */
	uint16_t sport;     /* TCP/UDP source port; ICMP query: id */
	uint16_t dport;     /* TCP/UDP destination port; ICMP query: id */
	uint16_t csum;      /* offset of the L4 checksum field, 0 if none */
	uint8_t family;     /* NF_V4, NF_V6 (nat/pkt/addr.h) */
	uint8_t proto;      /* IPv6: the upper layer, past extension headers */
	uint8_t ttl;        /* IPv6: the hop limit */
	uint8_t flags;      /* PKT_F_* */
	uint8_t l4_hlen;    /* L4 header length: TCP data offset, 8 for UDP/ICMP */
	uint8_t tcp_flags;  /* TCP: FIN SYN RST PSH ACK URG ECE CWR bits */
	uint8_t icmp_type;  /* ICMP or ICMPv6 */
	uint8_t icmp_code;
	uint8_t exthdrs;    /* IPv6: PKT_X_* seen; 0 for IPv4 */
};

/* A parsed packet.  The buffer is the caller's; the view points into it. */
struct pkt {
	uint8_t *data;        /* outer IP header */
	size_t buflen;        /* bytes in the buffer (>= outer.end) */
	struct pkt_hdr outer;
	struct pkt_hdr inner; /* valid when has_inner */
	bool has_inner;       /* ICMP error carrying an embedded header */
	uint16_t owner;       /* who sent it, for conntrack's per-owner limit (a
	                       * peer's id); 0: none.  Set by the caller after
	                       * pkt_parse, which zeroes it. */
	uint16_t frag_max;    /* a datagram the caller reassembled: its largest
	                       * fragment (Linux's IPCB frag_max_size), else 0;
	                       * set like owner */
	bool l4_csum_ok;      /* the L4 checksum is known good -- the caller
	                       * computed it, or the kernel verified it (Linux's
	                       * CHECKSUM_UNNECESSARY, or PARTIAL): conntrack does
	                       * not verify it again; set like owner */
	uint16_t room;        /* bytes the packet may grow by in its buffer
	                       * (writable after data[buflen]: TCPMSS adds an MSS
	                       * option to a SYN without one); set like owner */
};

/* A buffer's spare bytes as struct pkt's room (at most 65535). */
static inline uint16_t pkt_room_of(size_t spare)
{
	return spare > UINT16_MAX ? UINT16_MAX : (uint16_t)spare;
}

/* Parse buf[0..len) as an IPv4 or IPv6 packet (the version nibble says which).
 * Returns PKT_OK and fills *p, or an error; never reads outside the buffer.
 * IPv6 packets longer than 65535 bytes are refused (PKT_E_JUMBO): offsets
 * are 16 bits. */
enum pkt_error pkt_parse(struct pkt *p, uint8_t *buf, size_t len);

/* True for ICMP types that carry an embedded header (unreachable,
 * source quench, redirect, time exceeded, parameter problem). */
bool pkt_icmp_is_error(uint8_t type);
/* True for the ICMPv6 errors that carry an embedded header: destination
 * unreachable, packet too big, time exceeded, parameter problem (1-4). */
bool pkt_icmp6_is_error(uint8_t type);
/* True when h is an ICMP or ICMPv6 error of its family (has_inner may still
 * be false: a first fragment whose quote was cut). */
bool pkt_is_icmp_error(const struct pkt_hdr *h);

/* A short stable name for an error ("short", "version", ...). */
const char *pkt_error_name(enum pkt_error e);

/*
 * Rewrites that keep every checksum right by incremental update (RFC 1624):
 * the IP header checksum, the L4 checksum over the pseudo-header (TCP, UDP
 * unless its checksum is zero, and for IPv6 ICMPv6 too: its checksum covers
 * a pseudo-header) and, for ports and ICMP ids, the L4 checksum.  IPv6 has
 * no header checksum; addr is of h's family (IPv6: the wire bytes).
 * Later fragments carry no L4 header and get the IP checksum only.
 * On an inner header, the inner IP checksum and the inner L4 checksum (when
 * its field is present) are updated, and so is the outer ICMP checksum, which
 * covers the embedded bytes.
 */
void pkt_set_saddr(struct pkt *p, struct pkt_hdr *h, const union nf_addr *addr);
void pkt_set_daddr(struct pkt *p, struct pkt_hdr *h, const union nf_addr *addr);
void pkt_set_sport(struct pkt *p, struct pkt_hdr *h, uint16_t port);
void pkt_set_dport(struct pkt *p, struct pkt_hdr *h, uint16_t port);
/* ICMP query id (echo, timestamp, ...; ICMPv6 echo): sets both sport and dport. */
void pkt_set_icmp_id(struct pkt *p, struct pkt_hdr *h, uint16_t id);
/* The outer TTL, or the IPv6 hop limit (no checksum covers it). */
void pkt_set_ttl(struct pkt *p, uint8_t ttl);

#endif
