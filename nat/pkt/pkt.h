/* SPDX-License-Identifier: MIT */
/*
 * pkt — an IPv4 packet parsed once into a view.
 *
 * pkt_parse() validates everything later stages rely on: version, header
 * length, total length against the buffer, header checksum, option layout,
 * fragment fields, the L4 header (TCP/UDP/ICMP) and, for ICMP errors, the
 * embedded IP header and the first 8 bytes of its L4 header.  After a
 * successful parse, every offset in the view lies inside the buffer, so
 * later stages never re-check lengths.
 *
 * Offsets count from the start of the outer IP header (pkt->data).
 * Addresses, ports and ids are host byte order.
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

/* One IP header and what follows it: the outer packet, or the header
 * embedded in an ICMP error. */
struct pkt_hdr {
	union nf_addr saddr, daddr;
	uint32_t id;        /* IPv4 identification; IPv6: the fragment header's */
	uint16_t ip;        /* offset of the IP header */
	uint16_t l4;        /* offset of the L4 header (ip + header length) */
	uint16_t end;       /* end of the bytes present (outer: ip + total length) */
	uint16_t tot_len;   /* the total length field (inner: may exceed end - ip) */
	uint16_t frag_off;  /* fragment offset in bytes */
	uint16_t sport;     /* TCP/UDP source port; ICMP query: id */
	uint16_t dport;     /* TCP/UDP destination port; ICMP query: id */
	uint16_t csum;      /* offset of the L4 checksum field, 0 if none */
	uint8_t family;     /* NF_V4, NF_V6 (nat/pkt/addr.h) */
	uint8_t proto;      /* IPv6: the upper layer, past extension headers */
	uint8_t ttl;        /* IPv6: the hop limit */
	uint8_t flags;      /* PKT_F_* */
	uint8_t l4_hlen;    /* L4 header length: TCP data offset, 8 for UDP/ICMP */
	uint8_t tcp_flags;  /* TCP: FIN SYN RST PSH ACK URG ECE CWR bits */
	uint8_t icmp_type;
	uint8_t icmp_code;
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
};

/* Parse buf[0..len) as an IPv4 packet.  Returns PKT_OK and fills *p, or an
 * error; never reads outside the buffer. */
enum pkt_error pkt_parse(struct pkt *p, uint8_t *buf, size_t len);

/* True for ICMP types that carry an embedded header (unreachable,
 * source quench, redirect, time exceeded, parameter problem). */
bool pkt_icmp_is_error(uint8_t type);

/* A short stable name for an error ("short", "version", ...). */
const char *pkt_error_name(enum pkt_error e);

/*
 * Rewrites that keep every checksum right by incremental update (RFC 1624):
 * the IP header checksum, the L4 checksum over the pseudo-header (TCP, UDP
 * unless its checksum is zero) and, for ports and ICMP ids, the L4 checksum.
 * Later fragments carry no L4 header and get the IP checksum only.
 * On an inner header, the inner IP checksum and the inner L4 checksum (when
 * its field is present) are updated, and so is the outer ICMP checksum, which
 * covers the embedded bytes.
 */
void pkt_set_saddr(struct pkt *p, struct pkt_hdr *h, const union nf_addr *addr);
void pkt_set_daddr(struct pkt *p, struct pkt_hdr *h, const union nf_addr *addr);
void pkt_set_sport(struct pkt *p, struct pkt_hdr *h, uint16_t port);
void pkt_set_dport(struct pkt *p, struct pkt_hdr *h, uint16_t port);
/* ICMP query id (echo, timestamp, ...): sets both sport and dport. */
void pkt_set_icmp_id(struct pkt *p, struct pkt_hdr *h, uint16_t id);
void pkt_set_ttl(struct pkt *p, uint8_t ttl);

#endif
