/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the answers gw builds about a packet (nat/reject.c,
 * nat/icmp6.c): REJECT's TCP RST or ICMP unreachable (reject_build,
 * reject6_build), ICMP time exceeded and fragmentation needed
 * (icmp_error_build), ICMPv6 errors (icmp6_error_build, also about what
 * pkt_parse refuses).
 *
 * Input: [mode, with, type, code, mtu_hi, mtu_lo], then the packet.
 *   mode bit 0  repair: the IP length fields say the packet's length, the
 *               IPv4 header checksum and the TCP/UDP/ICMP(v6) checksum of
 *               a packet without extension headers are made right (an
 *               answer is due only to a packet with good checksums)
 *   mode bit 1  IPv6: version 6 (else 4)
 *   with        the --reject-with (modulo the enum)
 * Properties, on an exact heap copy (ASan sees any read past it):
 *   - an answer fits its buffer (and ICMP errors 576 / 1280 bytes), parses
 *     (pkt_parse), of the packet's family, toward its source (a RST: from
 *     its destination), with a verifying IPv4 header checksum and L4
 *     checksum (tests/unit/util_refsum, not nat/pkt/csum);
 *   - an ICMP error quotes the packet's first bytes as they were;
 *   - no answer to an ICMP error (an answer's answer is none).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/icmp6.h"
#include "nat/pkt/be.h"
#include "nat/pkt/pkt.h"
#include "nat/reject.h"
#include "tests/unit/util_refsum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { HDR = 6, OUT_CAP = 1600 };

static void put_l4_sum(uint8_t *p, size_t len, size_t l3, uint8_t proto)
{
	size_t at = proto == 6 ? 16 : proto == 17 ? 6 : 2;
	uint32_t s;

	if (len < l3 + at + 2)
		return;
	be16_put(p + l3 + at, 0);
	s = proto == 1 ? 0 : ref_pseudo(p, proto, len - l3);
	s = ref_sum(s, p + l3, len - l3);
	be16_put(p + l3 + at, (uint16_t)~ref_fold(s));
}

static void repair(uint8_t *p, size_t len, bool v6)
{
	if (v6) {
		if (len < 40)
			return;
		be16_put(p + 4, (uint16_t)(len - 40));
		if (p[6] == 6 || p[6] == 17 || p[6] == 58)
			put_l4_sum(p, len, 40, p[6]);
		return;
	}
	size_t ihl = (size_t)(p[0] & 0xf) * 4;

	if (len < 20 || ihl < 20 || ihl > len)
		return;
	be16_put(p + 2, (uint16_t)len);
	if (!(be16_get(p + 6) & 0x1fff) && (p[9] == 1 || p[9] == 6 || p[9] == 17))
		put_l4_sum(p, len, ihl, p[9]);
	be16_put(p + 10, 0);
	be16_put(p + 10, (uint16_t)~ref_fold(ref_sum(0, p, ihl)));
}

/* What every answer is: a valid packet of p's family, toward toward. */
static void check_answer(const uint8_t *a, size_t len, const struct pkt *p, bool rst)
{
	struct pkt q;
	size_t l3;

	enum pkt_error e;

	CHECK(len <= OUT_CAP);
	e = pkt_parse(&q, (uint8_t *)a, len);
	if (e == PKT_E_INNER && !rst && p->outer.family == NF_V6 && len == ICMP6_ERROR_MAX) {
		/* the quote cut in the packet's extension headers (RFC 4443's
		 * 1280 bytes, as Linux cuts it): pkt_parse takes no such
		 * error, but it is the one Linux sends */
		CHECK(a[0] >> 4 == 6 && a[6] == 58 && be16_get(a + 4) == len - 40);
		CHECK(!memcmp(a + 24, &p->outer.saddr, 16) && ref_l4_ok(a, len, 40, 58));
		return;
	}
	if (e == PKT_E_INNER && !rst && !(p->outer.flags & PKT_F_L4) &&
	    (p->outer.proto == 6 || p->outer.proto == 17 || p->outer.proto == 58 ||
	     p->outer.proto == 1)) {
		/* p has no L4 header at all (a first fragment of extension
		 * headers only, against RFC 7112): the quote cannot have its
		 * ports, and pkt_parse takes no error without them unless the
		 * error itself is a fragment, so gw drops this answer of its
		 * own (counted); Linux would send it (tests/fuzz/README.md) */
		return;
	}
	if (e != PKT_OK)
		fprintf(stderr, "answer refused by pkt_parse: %s\n", pkt_error_name(e));
	CHECK(e == PKT_OK);
	CHECK(q.outer.family == p->outer.family);
	CHECK(!memcmp(&q.outer.daddr, &p->outer.saddr, sizeof(q.outer.daddr)));
	if (rst) {
		CHECK(q.outer.proto == 6 && !memcmp(&q.outer.saddr, &p->outer.daddr,
						    sizeof(q.outer.saddr)));
		CHECK(q.outer.sport == p->outer.dport && q.outer.dport == p->outer.sport);
	} else {
		CHECK(len <= (p->outer.family == NF_V6 ? 1280u : (unsigned)REJECT_ICMP_QUOTE_MAX));
	}
	if (q.outer.family == NF_V6) {
		l3 = 40;
		CHECK(ref_l4_ok(a, len, l3, q.outer.proto));
	} else {
		l3 = (size_t)(a[0] & 0xf) * 4;
		CHECK(ref_fold(ref_sum(0, a, l3)) == 0xffff);
		if (q.outer.proto == 1)
			CHECK(ref_fold(ref_sum(0, a + l3, len - l3)) == 0xffff);
		else
			CHECK(ref_l4_ok(a, len, l3, q.outer.proto));
	}
}

/* An ICMP error about p quotes p's first bytes. */
static void check_quote(const uint8_t *a, size_t len, const uint8_t *pkt, size_t plen)
{
	size_t at = a[0] >> 4 == 6 ? 48 : (size_t)(a[0] & 0xf) * 4 + 8, n = len - at;

	CHECK(len > at && n <= plen && !memcmp(a + at, pkt, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t src6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint8_t *pkt, *copy, out[OUT_CAP];
	uint8_t mode, with, type, code;
	uint16_t mtu;
	size_t len, n;
	struct pkt p;
	bool v6;

	if (size < HDR)
		return 0;
	mode = data[0], with = data[1], type = data[2], code = data[3];
	mtu = be16_get(data + 4);
	data += HDR, size -= HDR;
	len = size;
	v6 = mode & 2;
	pkt = malloc(len ? len : 1);
	copy = malloc(len ? len : 1);
	CHECK(pkt && copy);
	memcpy(pkt, data, len);
	if (len)
		pkt[0] = (uint8_t)((v6 ? 0x60 : 0x40) | (pkt[0] & 0xf));
	if (mode & 1)
		repair(pkt, len, v6);
	memcpy(copy, pkt, len);

	/* ICMPv6 errors about whatever it is, parsed or not */
	if (v6) {
		n = icmp6_error_build(pkt, len, type, code, mtu, src6, out, sizeof(out));
		CHECK(n <= sizeof(out) && n <= ICMP6_ERROR_MAX);
		if (n) {
			CHECK(n >= 48 && ref_l4_ok(out, n, 40, 58));
			CHECK(!memcmp(out + 24, pkt + 8, 16)); /* to its source */
			check_quote(out, n, pkt, len);
		}
		CHECK(!memcmp(pkt, copy, len));
	}
	if (pkt_parse(&p, pkt, len) == PKT_OK) {
		enum reject_with w = (enum reject_with)(with % (REJECT_ICMP6_REJECT_ROUTE + 1));

		if (p.outer.family == NF_V4) {
			n = reject_build(&p, w, 0x0a080001, 7, out, sizeof(out));
			if (n) {
				check_answer(out, n, &p, w == REJECT_TCP_RESET);
				if (w != REJECT_TCP_RESET)
					check_quote(out, n, pkt, len);
			}
			n = icmp_error_build(&p, type % 2 ? 11 : 3, code % 16, mtu, 0x0a080001, 8, out,
					     sizeof(out));
			if (n) {
				check_answer(out, n, &p, false);
				check_quote(out, n, pkt, len);
			}
			if (pkt_is_icmp_error(&p.outer))
				CHECK(!n);
		} else {
			union nf_addr s;

			memcpy(s.b, src6, 16);
			n = reject6_build(&p, w, &s, out, sizeof(out));
			if (n) {
				check_answer(out, n, &p, w == REJECT_TCP_RESET);
				if (w != REJECT_TCP_RESET)
					check_quote(out, n, pkt, len);
			}
		}
		/* too small a buffer: none, never a cut answer */
		CHECK(reject_build(&p, w, 0x0a080001, 7, out, 20) == 0);
	}
	CHECK(!memcmp(pkt, copy, len)); /* the packet is read, never written */
	free(pkt);
	free(copy);
	return 0;
}
