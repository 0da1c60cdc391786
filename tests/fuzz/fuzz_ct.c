/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: conntrack on arbitrary packets.  The input is a sequence of
 * records: one control byte (bit 0: check checksums, bits 1-7: time step in
 * units of 100 ms), a length byte, then that many packet bytes.  Its first
 * byte's version nibble chooses the family: 6, an IPv6 packet (payload
 * length made right, addresses folded onto four hosts of 2001:db8::/64;
 * next header, extension headers, the upper layer and ICMPv6 errors' quotes
 * the fuzzer's), else IPv4 (version, length, checksum made valid; addresses
 * folded onto four hosts so flows meet), the rest is the fuzzer's.  Every
 * packet pkt_parse() accepts goes through ct_in() and is confirmed; the
 * table is small so early drop, expiry and reopening all happen.  At the
 * end, the clock far ahead, the table is empty.
 */
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "nat/ct.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The IPv6 address at a folded onto 2001:db8::1-4 by its last byte. */
static void fold6(uint8_t *a)
{
	uint8_t host = (uint8_t)(1 + (a[15] & 3));

	memset(a, 0, 16);
	be16_put(a, 0x2001);
	be16_put(a + 2, 0xdb8);
	a[15] = host;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_config cfg;
	struct ct_table *t;
	uint64_t now = 1000000000000ULL;
	uint8_t buf[256];
	struct ct_stats st;

	ct_config_default(&cfg, 8);
	cfg.buckets = 4;
	if (ct_create(&t, &cfg))
		return 0;
	while (size >= 2) {
		uint8_t ctl = data[0];
		size_t len = data[1];
		struct nf_ctx ctx;
		struct pkt p;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		memcpy(buf, data, len);
		data += len;
		size -= len;
		if (len >= 40 && buf[0] >> 4 == 6) {
			be16_put(buf + 4, (uint16_t)(len - 40));
			fold6(buf + 8);
			fold6(buf + 24);
			/* an ICMPv6 error right after the header: its quote's
			 * addresses too, so that it may be RELATED */
			if (buf[6] == 58 && len >= 88 && buf[40] >= 1 && buf[40] <= 4) {
				fold6(buf + 56);
				fold6(buf + 72);
			}
		} else if (len >= 20) {
			buf[0] = 0x45;
			be16_put(buf + 2, (uint16_t)len);
			be32_put(buf + 12, 0xc0000201u + (buf[12] & 3));
			be32_put(buf + 16, 0xc0000201u + (buf[16] & 3));
			be16_put(buf + 10, csum_ip(buf, 20));
		}
		now += (uint64_t)(ctl >> 1) * 100000000ULL;
		ct_expire(t, now, 4);
		if (pkt_parse(&p, buf, len) != PKT_OK)
			continue;
		memset(&ctx, 0, sizeof(ctx));
		ctx.pkt = &p;
		ctx.now = now;
		ct_prefetch(t, &p);
		ct_in(t, &ctx, ctl & 1);
		if (ctx.ct && !(ct_entry_status(ctx.ct) & CT_S_CONFIRMED))
			ct_confirm(t, ctx.ct, now);
	}
	ct_expire(t, now + 1000000ULL * 1000000000ULL, ~0u);
	ct_get_stats(t, &st);
	if (st.count)
		abort(); /* an entry outlived every timeout */
	ct_destroy(t);
	return 0;
}
