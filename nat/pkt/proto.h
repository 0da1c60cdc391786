/* SPDX-License-Identifier: MIT */
/*
 * proto — the wire formats gw reads and writes, in one place: header field
 * offsets (from the start of that header), header lengths, flag bits and
 * type numbers of Ethernet, ARP, IPv4, IPv6, TCP, UDP, ICMP, ICMPv6 and the
 * virtio_net_hdr.  IP protocol numbers are <netinet/in.h>'s IPPROTO_*.
 *
 * The names carry an H after the protocol (IP4H_TTL, TCPH_CSUM) or a
 * protocol prefix of their own (IP4_DF, TCP_SYN, ETYPE_IP) so that they never
 * meet the system headers' macros (IP_TTL, IPOPT_NOP, ETH_HLEN, ...).
 */
#ifndef GW_PKT_PROTO_H
#define GW_PKT_PROTO_H

/* Ethernet (IEEE 802.3) */
enum {
	ETHH_DST = 0, ETHH_SRC = 6, ETHH_TYPE = 12,
	ETHH_LEN = 14,
};
enum { ETYPE_IP = 0x0800, ETYPE_ARP = 0x0806, ETYPE_IPV6 = 0x86dd };

/* ARP for IPv4 over Ethernet (RFC 826), from the ARP header */
enum {
	ARPH_HTYPE = 0, ARPH_PTYPE = 2, ARPH_HLEN = 4, ARPH_PLEN = 5, ARPH_OP = 6,
	ARPH_SHA = 8, ARPH_SPA = 14, ARPH_THA = 18, ARPH_TPA = 24,
	ARPH_LEN = 28,
	ARP_HTYPE_ETHER = 1, ARP_OP_REQUEST = 1, ARP_OP_REPLY = 2,
};

/* IPv4 (RFC 791) */
enum {
	IP4H_TOS = 1, IP4H_TOTLEN = 2, IP4H_ID = 4, IP4H_FRAG = 6, IP4H_TTL = 8,
	IP4H_PROTO = 9, IP4H_CSUM = 10, IP4H_SADDR = 12, IP4H_DADDR = 16,
	IP4H_LEN = 20,		/* without options */
	IP4H_MAX = 60,		/* with 40 bytes of options */
};
/* the fragment field */
enum { IP4_DF = 0x4000, IP4_MF = 0x2000, IP4_OFFMASK = 0x1fff };
/* options: end of list, no operation, "copy into every fragment" bit */
enum { IP4OPT_EOL = 0, IP4OPT_NOP = 1, IP4OPT_COPIED = 0x80 };

/* IPv6 (RFC 8200) */
enum {
	IP6H_PLEN = 4, IP6H_NEXT = 6, IP6H_HLIM = 7, IP6H_SADDR = 8, IP6H_DADDR = 24,
	IP6H_LEN = 40,
	IP6H_MAXPLEN = 65535,	/* payload length without a jumbo option */
};
/* extension headers (RFC 8200 §4): next header, length, ...; the fragment
 * header: next header, reserved, offset (13 bits, in 8-byte units) with
 * the M flag in bit 0, identification */
enum {
	IP6X_NEXT = 0, IP6X_LEN = 1,
	IP6FH_OFF = 2, IP6FH_ID = 4, IP6FH_LEN = 8,
};
enum { IP6F_OFFMASK = 0xfff8, IP6F_MF = 0x0001 };
/* next header values that are not upper layers <netinet/in.h> spells */
enum { IP6_NEXT_NONE = 59 };

/* TCP (RFC 9293) */
enum {
	TCPH_SPORT = 0, TCPH_DPORT = 2, TCPH_SEQ = 4, TCPH_ACK = 8, TCPH_OFF = 12,
	TCPH_FLAGS = 13, TCPH_WIN = 14, TCPH_CSUM = 16, TCPH_URP = 18,
	TCPH_LEN = 20,		/* without options */
};
enum {
	TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08,
	TCP_ACK = 0x10, TCP_URG = 0x20, TCP_ECE = 0x40, TCP_CWR = 0x80,
};

/* UDP (RFC 768) */
enum { UDPH_SPORT = 0, UDPH_DPORT = 2, UDPH_ULEN = 4, UDPH_CSUM = 6, UDPH_LEN = 8 };

/* ICMP (RFC 792): type, code, checksum, then the id of a query */
enum { ICMPH_TYPE = 0, ICMPH_CODE = 1, ICMPH_CSUM = 2, ICMPH_ID = 4, ICMPH_LEN = 8 };

/* ICMPv6 (RFC 4443): type, code, checksum as ICMP; echo id at 4 */
enum { ICMP6H_CSUM = 2, ICMP6H_ID = 4, ICMP6H_LEN = 8 };
enum { ICMP6T_ECHO_REQ = 128, ICMP6T_ECHO_REPLY = 129 };  /* types (T: not <netinet/icmp6.h>'s macros) */

/* struct virtio_net_hdr (linux/virtio_net.h) before each packet of a TUN
 * device with IFF_VNET_HDR or a packet socket with PACKET_VNET_HDR */
enum { VNET_HLEN = 10 };

#endif
