/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: a sequence of IPv4 and IPv6 fragments through one small
 * reassembler (4 queues, 16 KB or 160 KB) so eviction, timeouts, overlaps
 * and completion all happen.
 *
 * Input: one byte (bit 0: the larger budget), then records of 5 bytes, [ctl, off_hi, off_lo, len_hi, len_lo]:
 *   ctl bits 0-1  key bits 0-1 (key: two sources x four ids)
 *   ctl bit  2    MF
 *   ctl bit  3    DF (IPv6: the next header is 59, no next header, not UDP)
 *   ctl bits 4-5  IP options: 0, 4, 20 or 40 bytes (NOPs); IPv6: the
 *                 extension headers before the fragment header: none,
 *                 hop-by-hop 8, hop-by-hop 8 + routing 24, hop-by-hop
 *                 1024 + routing 512 (past what a queue holds inline)
 *   ctl bit  6    advance the clock by 7 s (and run frag_expire, unless
 *                 len_hi bit 6 says not to: queues then go stale in place)
 *   ctl bit  7    raw: len_lo more input bytes follow and replace the
 *                 payload (the key's data check is then off)
 *   off_hi/lo     offset in 8-byte units (13 bits); bits 5-6 of off_hi the
 *                 ECN code point, bit 7 IPv6 (keys of their own)
 *   len_hi/lo     payload length (13 bits); len_hi bit 5 is key bit 2
 * Payload bytes are a function of the key and the datagram position, so
 * whatever is reassembled from pattern fragments must show the pattern.
 * Properties: no crash (ASan/UBSan), the budget and queue limits hold, every
 * FRAG_DONE datagram parses with a correct header and no fragment bits
 * (IPv6: no fragment header, the payload length its size, the next header
 * the first fragment's and the data after its unfragmentable part), and
 * the deadline never lies in the past after frag_expire.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const size_t opt_len[4] = { 0, 4, 20, 40 };

/* IPv6: the extension headers before the fragment header */
static const struct {
	unsigned n;
	uint8_t type[2];
	uint16_t len[2];
} pre6[4] = {
	{ 0, { 0 }, { 0 } },
	{ 1, { 0 }, { 8 } },
	{ 2, { 0, 43 }, { 8, 24 } },
	{ 2, { 0, 43 }, { 1024, 512 } },
};

/* An IPv4 fragment's header in pkt; returns its length. */
static size_t build4(uint8_t *pkt, unsigned ctl, unsigned key, unsigned off, unsigned ecn,
		     size_t n)
{
	size_t hlen = 20 + opt_len[(ctl >> 4) & 3];

	memset(pkt, 0, 20);
	pkt[0] = (uint8_t)(0x40 | hlen / 4);
	pkt[1] = (uint8_t)ecn;
	be16_put(pkt + 2, (uint16_t)(hlen + n));
	be16_put(pkt + 4, (uint16_t)(0x100 + (key >> 1)));
	be16_put(pkt + 6, (uint16_t)((ctl & 4 ? 0x2000 : 0) |
				     (ctl & 8 ? 0x4000 : 0) | off / 8));
	pkt[8] = 64;
	pkt[9] = 17;
	be32_put(pkt + 12, 0xc0000201 + (key & 1));
	be32_put(pkt + 16, 0xc6336401);
	memset(pkt + 20, 1, hlen - 20);
	be16_put(pkt + 10, csum_ip(pkt, hlen));
	return hlen;
}

/* The unfragmentable part of pre6[cfg], and the next-header byte naming
 * what follows it. */
static size_t unfrag6(unsigned cfg, size_t *nhoff)
{
	size_t at = 40;

	*nhoff = 6;
	for (unsigned i = 0; i < pre6[cfg].n; i++) {
		*nhoff = at;
		at += pre6[cfg].len[i];
	}
	return at;
}

/* An IPv6 fragment's headers in pkt; returns their length (the fragment
 * header included). */
static size_t build6(uint8_t *pkt, unsigned cfg, unsigned key, unsigned off, bool mf,
		     unsigned ecn, uint8_t next, size_t n)
{
	size_t at = 40, prev = 6;

	memset(pkt, 0, 40);
	pkt[0] = 0x60;
	pkt[1] = (uint8_t)(ecn << 4);
	pkt[7] = 64;
	pkt[8] = 0x20, pkt[9] = 0x01, pkt[10] = 0x0d, pkt[11] = 0xb8;
	pkt[23] = (uint8_t)(1 + (key & 1));
	pkt[24] = 0x20, pkt[25] = 0x01, pkt[26] = 0x0d, pkt[27] = 0xb8, pkt[29] = 1;
	pkt[39] = 1;
	for (unsigned i = 0; i < pre6[cfg].n; i++) {
		size_t len = pre6[cfg].len[i];

		pkt[prev] = pre6[cfg].type[i];
		memset(pkt + at, 0, len);  /* Pad1 options; routing segments left 0 */
		pkt[at + 1] = (uint8_t)(len / 8 - 1);
		if (pre6[cfg].type[i] == 43)
			pkt[at + 2] = 253;
		prev = at;
		at += len;
	}
	pkt[prev] = 44;
	pkt[at] = next;
	pkt[at + 1] = 0;
	be16_put(pkt + at + 2, (uint16_t)(off | (mf ? 1 : 0)));
	be32_put(pkt + at + 4, 0x80000100u + (key >> 1));
	be16_put(pkt + 4, (uint16_t)(at + 8 + n - 40));
	return at + 8;
}

static uint8_t pattern(unsigned key, size_t pos)
{
	return (uint8_t)(pos * 13 + key * 101 + (pos >> 8));
}

static void on_timeout(void *ctx, const uint8_t *first, size_t len)
{
	volatile uint8_t sink = 0;

	(void)ctx;
	if (first[0] >> 4 == 6)
		CHECK(len >= 48 && len <= FRAG_QUOTE_MAX6);
	else
		CHECK(len >= 20 && len <= FRAG_QUOTE_MAX);
	for (size_t i = 0; i < len; i++)
		sink ^= first[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pkt[2048 + 8192], out[FRAG_MAX_DATAGRAM6];
	struct frag_config cfg;
	struct frag_stats st;
	struct frag *f;
	uint64_t now = 5000000000000ULL;
	bool raw_used[2][8] = { { false } };
	unsigned first_cfg[8] = { 0 };
	uint8_t first_next[8] = { 0 };

	if (!size)
		return 0;
	frag_config_default(&cfg);
	cfg.max_queues = 4;
	cfg.max_bytes = data[0] & 1 ? 160 << 10 : 16 << 10;
	data++;
	size--;
	if (frag_create(&f, &cfg))
		return 0;
	while (size >= 5) {
		unsigned ctl = data[0], key = (ctl & 3) | (data[3] >> 3 & 4);
		unsigned off = (unsigned)(be16_get(data + 1) & 0x1fff) * 8;
		unsigned ecn = data[1] >> 5 & 3;
		bool v6 = data[1] & 0x80;
		bool expire = !(data[3] & 0x40);
		size_t n = be16_get(data + 3) & 0x1fff;
		size_t hlen;
		enum frag_result r;
		size_t olen;
		struct pkt p;
		uint8_t *buf;

		data += 5;
		size -= 5;
		if (ctl & 0x40) {
			now += 7000000000ULL;
			if (expire) {
				frag_expire(f, now, on_timeout, NULL);
				CHECK(frag_next_deadline(f) > now);
			}
		}
		if (ctl & 0x80) {
			n = n & 0xff;
			if (n > size)
				n = size;
			raw_used[v6][key] = true;
		}
		if (v6)
			hlen = build6(pkt, ctl >> 4 & 3, key, off, ctl & 4, ecn,
				      ctl & 8 ? 59 : 17, n);
		else
			hlen = build4(pkt, ctl, key, off, ecn, n);
		if (ctl & 0x80) {
			memcpy(pkt + hlen, data, n);
			data += n;
			size -= n;
		} else {
			for (size_t i = 0; i < n; i++)
				pkt[hlen + i] = pattern(key, off + i);
		}
		/* An exact heap copy, so ASan sees any read past the fragment. */
		buf = malloc(hlen + n);
		if (!buf)
			break;
		memcpy(buf, pkt, hlen + n);
		if (pkt_parse(&p, buf, hlen + n) != PKT_OK || !(p.outer.flags & PKT_F_FRAG)) {
			free(buf);
			continue;
		}
		r = frag_add(f, now, &p, out, sizeof(out), &olen);
		free(buf);
		if (v6 && !off && r != FRAG_DROP) {
			first_cfg[key] = ctl >> 4 & 3;
			first_next[key] = ctl & 8 ? 59 : 17;
		}
		frag_get_stats(f, &st);
		CHECK(st.bytes <= st.max_bytes && st.queues <= st.max_queues);
		if (r != FRAG_DONE) {
			CHECK(olen == 0);
			continue;
		}
		if (v6) {
			struct pkt whole;
			size_t nhoff, u = unfrag6(first_cfg[key], &nhoff);

			CHECK(olen > u && olen <= FRAG_MAX_DATAGRAM6);
			CHECK(be16_get(out + 4) == olen - 40);
			CHECK(out[nhoff] == first_next[key]);
			if (olen <= 65535) {
				enum pkt_error e = pkt_parse(&whole, out, olen);

				CHECK(e == PKT_OK || e == PKT_E_L4);
				CHECK(!(whole.outer.flags & PKT_F_FRAG) && !whole.outer.frag_hdr);
			}
			if (!raw_used[1][key])
				for (size_t i = u; i < olen; i++)
					CHECK(out[i] == pattern(key, i - u));
			continue;
		}
		{
			struct pkt whole;
			enum pkt_error e = pkt_parse(&whole, out, olen);
			size_t wh;

			CHECK(e == PKT_OK || e == PKT_E_L4 || e == PKT_E_INNER);
			CHECK(!(whole.outer.flags & PKT_F_FRAG));
			CHECK(be16_get(out + 2) == olen);
			wh = (size_t)(out[0] & 0x0f) * 4;
			if (!raw_used[0][key])
				for (size_t i = wh; i < olen; i++)
					CHECK(out[i] == pattern(key, i - wh));
		}
	}
	frag_expire(f, UINT64_MAX, on_timeout, NULL);
	frag_get_stats(f, &st);
	CHECK(st.queues == 0 && st.bytes == 0);
	CHECK(frag_next_deadline(f) == UINT64_MAX);
	frag_destroy(f);
	return 0;
}
