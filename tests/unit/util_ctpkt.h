/* SPDX-License-Identifier: MIT */
/*
 * Test helper: IPv4 packets for the conntrack tests, built with correct
 * checksums and parsed with pkt_parse().  Addresses and ports host order.
 */
#ifndef GW_TESTS_UTIL_CTPKT_H
#define GW_TESTS_UTIL_CTPKT_H

#include <stddef.h>
#include <stdint.h>

#include "nat/nf.h"
#include "nat/pkt/pkt.h"

struct ct_table;
struct ct_entry;

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
			 (uint32_t)(c) << 8 | (uint32_t)(d))

struct tpkt {
	uint8_t buf[1600];
	size_t len;
	struct pkt p;
};

struct tcp_spec {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt;   /* TCP options, padded by the caller to 4 bytes */
	size_t optlen;
	size_t datalen;       /* payload bytes (zeros) */
};

/* Each builder aborts when pkt_parse() refuses what it built. */
void tp_tcp(struct tpkt *t, const struct tcp_spec *s);
void tp_udp(struct tpkt *t, uint32_t src, uint32_t dst, uint16_t sport,
	    uint16_t dport, size_t datalen);
/* ICMP query or other message with id (bytes 4-5) and 8 data bytes. */
void tp_icmp(struct tpkt *t, uint32_t src, uint32_t dst, uint8_t type,
	     uint8_t code, uint16_t id);
/* ICMP error quoting the first quote bytes of inner's IP packet. */
void tp_icmp_err(struct tpkt *t, uint32_t src, uint32_t dst, uint8_t type,
		 uint8_t code, const struct tpkt *inner, size_t quote);
/* Any protocol, len zero bytes of payload. */
void tp_raw(struct tpkt *t, uint32_t src, uint32_t dst, uint8_t proto, size_t len);
/* Set the IP flags/fragment field and re-parse. */
void tp_set_frag(struct tpkt *t, uint16_t frag_field);
/* Flip a payload byte at the end (the L4 checksum goes wrong), re-parse. */
void tp_corrupt(struct tpkt *t);
/* Zero the UDP checksum field, re-parse. */
void tp_udp_nocsum(struct tpkt *t);

/* Run t through ct_in() at now (ns), checksums checked, and confirm a new
 * entry as POSTROUTING would.  Returns the state; *e and *dir (either may
 * be NULL) get the entry and direction. */
enum ct_state tp_ct(struct ct_table *ct, struct tpkt *t, uint64_t now,
		    struct ct_entry **e, enum ct_dir *dir);

#endif
