/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: gw cutting datagrams into fragments on output (nat/pkt/
 * fragment.c): ip_fragment (IPv4, ip_do_fragment's slow path) and
 * ip6_fragment (a datagram gw reassembled, sent on in pieces again).
 *
 * Input: [mode, mtu_hi, mtu_lo, id], then the datagram.
 *   mode bit 0  repair: the length field(s) say the input's length and the
 *               IPv4 header checksum is right; an IPv4 datagram goes to
 *               ip_fragment only when pkt_parse takes it (its precondition)
 *   mode bit 1  IPv6 (version 6), else IPv4
 *   mode bit 2  a small output buffer (the mtu), else 64 KB
 * Properties, on an exact heap copy of the datagram:
 *   - nothing is emitted on an error; the datagram is never written;
 *   - every fragment fits the mtu and the buffer; IPv4: its header checksum
 *     verifies, it has the datagram's id, protocol and addresses, MF on
 *     all but the last (and on that too when the datagram had it), its
 *     data a multiple of 8 but in the last; IPv6: the unfragmentable part
 *     as the datagram's (the next header that ended it 44), a fragment
 *     header with the id asked for and the original next header;
 *   - the fragments' data, laid out at their offsets, is the datagram's
 *     data, whole, without gap or overlap.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"
#include "tests/unit/util_refsum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

struct cut {
	const uint8_t *pkt;
	size_t len, hlen;       /* IPv6: hlen is the unfragmentable part */
	unsigned mtu, n;
	uint32_t id;
	size_t next;            /* the data offset the next fragment starts at */
	uint16_t off0;          /* IPv4: the datagram's own offset (bytes) */
	bool mf0, last;         /* the datagram's MF; a fragment without MF came */
	bool v6;
	uint8_t nh;             /* IPv6: the next header the fragment header names */
	size_t nhoff;           /* IPv6: where the byte that names it is */
};

static void emit4(void *ctx, uint8_t *f, size_t len)
{
	struct cut *c = ctx;
	size_t ihl = (size_t)(f[0] & 0xf) * 4, dlen;
	uint16_t fo = be16_get(f + 6);
	bool mf = fo & 0x2000;

	CHECK(!c->last); /* nothing after the last */
	CHECK(len <= c->mtu && len >= 20 && ihl >= 20 && ihl <= len && be16_get(f + 2) == len);
	CHECK(ref_fold(ref_sum(0, f, ihl)) == 0xffff);
	CHECK(!memcmp(f + 4, c->pkt + 4, 2) && f[9] == c->pkt[9] && !memcmp(f + 12, c->pkt + 12, 8));
	CHECK((fo & 0x4000) == (be16_get(c->pkt + 6) & 0x4000));
	if (c->n == 0)
		CHECK(ihl == c->hlen && !memcmp(f + 20, c->pkt + 20, ihl - 20));
	else
		CHECK(ihl == c->hlen);
	dlen = len - ihl;
	CHECK((size_t)(fo & 0x1fff) * 8 == c->off0 + c->next);
	CHECK(c->next + dlen <= c->len - c->hlen);
	CHECK(!memcmp(f + ihl, c->pkt + c->hlen + c->next, dlen));
	c->next += dlen;
	if (c->next < c->len - c->hlen)
		CHECK(mf && dlen % 8 == 0);
	else
		{ CHECK(mf == c->mf0); c->last = true; }
	c->n++;
}

static void emit6(void *ctx, uint8_t *f, size_t len)
{
	struct cut *c = ctx;
	const uint8_t *fh = f + c->hlen;
	size_t dlen;
	uint16_t fo;

	CHECK(!c->last);
	CHECK(len <= c->mtu && len >= c->hlen + 8 && be16_get(f + 4) == len - 40);
	/* the unfragmentable part as it was, but the next header ending it */
	CHECK(f[c->nhoff] == 44);
	f[c->nhoff] = c->pkt[c->nhoff];
	CHECK(!memcmp(f, c->pkt, 4) && !memcmp(f + 6, c->pkt + 6, c->hlen - 6));
	CHECK(fh[0] == c->nh && be32_get(fh + 4) == c->id);
	fo = be16_get(fh + 2);
	dlen = len - c->hlen - 8;
	CHECK((size_t)(fo & 0xfff8) == c->next);
	CHECK(c->next + dlen <= c->len - c->hlen);
	CHECK(!memcmp(fh + 8, c->pkt + c->hlen + c->next, dlen));
	c->next += dlen;
	if (c->next < c->len - c->hlen)
		CHECK((fo & 1) && dlen % 8 == 0 && dlen);
	else
		{ CHECK(!(fo & 1)); c->last = true; }
	c->n++;
}

/* The IPv6 unfragmentable part as ip6_find_1stfragopt finds it, and the
 * next header that ends it; 0 when the headers run past len. */
static size_t unfrag6(const uint8_t *p, size_t len, uint8_t *nh, size_t *nhoff)
{
	size_t at = 40;
	uint8_t h = p[6];
	bool routing = false;

	for (;;) {
		size_t hl;

		if ((h != 0 && h != 43 && h != 60) || (h == 60 && routing))
			break; /* destination options after a routing header: fragmentable */
		if (at + 8 > len)
			return 0;
		hl = ((size_t)p[at + 1] + 1) * 8;
		if (at + hl > len)
			return 0;
		if (h == 43)
			routing = true;
		*nhoff = at;
		h = p[at];
		at += hl;
	}
	*nh = h;
	return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t big[65536];
	uint8_t mode, *pkt, *copy, *out;
	struct cut c;
	struct pkt p;
	size_t cap;
	int n;

	if (size < 4 || size - 4 > 65535 + 40)
		return 0;
	memset(&c, 0, sizeof(c));
	mode = data[0];
	c.mtu = be16_get(data + 1);
	c.id = 0x01000193u * data[3];
	data += 4, size -= 4;
	c.len = size;
	c.v6 = mode & 2;
	pkt = malloc(size ? size : 1);
	copy = malloc(size ? size : 1);
	CHECK(pkt && copy);
	memcpy(pkt, data, size);
	if (size)
		pkt[0] = (uint8_t)((c.v6 ? 0x60 : 0x40) | (pkt[0] & 0xf));
	if ((mode & 1) && !c.v6 && size >= 20 && size <= 65535) {
		size_t ihl = (size_t)(pkt[0] & 0xf) * 4;

		be16_put(pkt + 2, (uint16_t)size);
		if (ihl >= 20 && ihl <= size) {
			be16_put(pkt + 10, 0);
			be16_put(pkt + 10, (uint16_t)~ref_fold(ref_sum(0, pkt, ihl)));
		}
	}
	if ((mode & 1) && c.v6 && size >= 40 && size - 40 <= 65535)
		be16_put(pkt + 4, (uint16_t)(size - 40));
	memcpy(copy, pkt, size);
	c.pkt = pkt;
	if (mode & 4) {
		cap = c.mtu;
		out = malloc(cap ? cap : 1);
		CHECK(out);
	} else {
		cap = sizeof(big);
		out = big;
	}
	if (!c.v6) {
		c.hlen = size >= 20 ? (size_t)(pkt[0] & 0xf) * 4 : 0;
		c.off0 = size >= 20 ? (uint16_t)((be16_get(pkt + 6) & 0x1fff) * 8) : 0;
		c.mf0 = size >= 20 && (be16_get(pkt + 6) & 0x2000);
		/* ip_fragment's precondition: a datagram pkt_parse took (its
		 * fragment, if it is one, ends within 65535) */
		if (pkt_parse(&p, pkt, size) != PKT_OK)
			goto out;
		n = ip_fragment(pkt, size, c.mtu, out, cap, emit4, &c);
	} else {
		c.nhoff = 6;
		c.hlen = size >= 40 ? unfrag6(pkt, size, &c.nh, &c.nhoff) : 0;
		n = ip6_fragment(pkt, size, c.mtu, c.id, out, cap, emit6, &c);
	}
	if (n < 0) {
		CHECK(n == -EINVAL || n == -EMSGSIZE);
		CHECK(c.n == 0);
	} else {
		/* (a datagram of no data: no fragment) */
		CHECK((unsigned)n == c.n && (c.last || !n) && c.next == c.len - c.hlen);
	}
out:
	CHECK(!memcmp(pkt, copy, size));
	if (out != big)
		free(out);
	free(pkt);
	free(copy);
	return 0;
}
