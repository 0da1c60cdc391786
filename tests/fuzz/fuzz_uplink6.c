/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: gw/uplink's uplink_rx_frame on IPv6 frames (fuzz_uplink has
 * IPv4 and ARP): ethertype 0x86dd with uplink_conf.ipv6 set or not, TCPv6
 * GSO super-packets cut, partial checksums completed, and Neighbor
 * Solicitations for the foreign IPv6 NAT addresses (nat.foreign6) taken
 * off to gw/ndp.  No socket, as in fuzz_uplink: the uplink's packet socket
 * is -1, so an advertisement gw/ndp builds is refused at the send (a
 * counted NDP drop); the harness asks ndp_answer itself for that frame's
 * advertisement and checks it.
 *
 * Input: a flags byte (bit 0: the caller takes IPv6), then frames, each a
 * control byte, a 2-byte length and that many bytes (the vnet header
 * first; the ethertype made IPv6).  Control bit 0 repairs the frame as IPv6: ethertype, version,
 * the payload length of the frame, a TCP, UDP or ICMPv6 checksum right
 * behind the fixed header; bit 1 makes it a Neighbor Solicitation first
 * (next header 58, type 135 code 0, hop limit 255, a target in or next to
 * the foreign ranges by the target's last byte; bit 2: from :: to the
 * target's solicited-node address, as Duplicate Address Detection).
 * Properties, frame by frame:
 *   - a frame is counted once, and is a drop, an NDP frame or packets;
 *   - an NS (ICMPv6 type 135 right behind the fixed header) is never handed
 *     on: it is an NDP drop (the answer refused at the send, or none);
 *   - its advertisement, when ndp_answer makes one, answers a valid NS (hop
 *     limit 255, code 0, checksum right) for a unicast target in the
 *     ranges: from the target, with the uplink's MAC, to the asker (or all
 *     nodes for DAD, Solicited clear), hop limit 255, a checksum that
 *     verifies, the target link-layer option;
 *   - without uplink_conf.ipv6 no IPv6 packet is handed on;
 *   - each IPv6 view is the frame's packet (40 + payload length, family
 *     NF_V6) or a segment in the arena with a valid TCP checksum, its
 *     payload the super-packet's in order; a completed partial checksum
 *     verifies.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/bpf.h"
#include "gw/ndp.h"
#include "gw/uplink.h"
#include "nat/pkt/be.h"
#include "nat/pkt/proto.h"
#include "nat/pkt/vnet.h"
#include "tests/fuzz/uplink_fuzz.h"
#include "tests/unit/util_refsum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { MAX_FRAMES = 64, IP6 = VNET_HLEN + ETHH_LEN };

static struct uplink up;

/* The frame being parsed, for the checks of its views. */
static struct {
	const uint8_t *ip;	/* its IPv6 packet */
	size_t len;		/* 40 + payload length */
	struct vnet_hdr vh;
	bool vh_ok;
	unsigned views;
	size_t hdrs, payload;	/* GSO: header bytes of a segment, payload so far */
	uint16_t before;	/* partial checksum: what the field held */
} cur;

static unsigned checked, flushes;

static bool in_arena(const uint8_t *p, size_t len)
{
	return p >= up.seg && p + len <= up.seg + UPLINK_SEG_ARENA;
}

static void one_view(const struct uplink_pkt *v)
{
	const uint8_t *p = v->data;
	size_t len = v->len;

	CHECK(v->family == NF_V6 && up.ipv6);
	CHECK(len >= IP6H_LEN && p[0] >> 4 == 6 && IP6H_LEN + be16_get(p + IP6H_PLEN) == len);
	cur.views++;
	if (!cur.vh_ok || !cur.vh.kind) {
		CHECK(cur.views == 1 && p == cur.ip && len == cur.len);
		if (cur.vh_ok && cur.vh.needs_csum && cur.vh.csum_offset % 2 == 0) {
			size_t start = cur.vh.csum_start - ETHH_LEN;

			CHECK(cur.vh.csum_start >= ETHH_LEN && start + cur.vh.csum_offset + 2 <= len);
			CHECK(ref_fold(ref_sum(cur.before, p + start, len - start)) == 0xffff);
		}
		return;
	}
	/* a TCPv6 segment: TCP right behind the fixed header */
	CHECK(in_arena(p, len) && p[IP6H_NEXT] == IPPROTO_TCP);
	CHECK(ref_l4_ok(p, len, IP6H_LEN, IPPROTO_TCP));
	if (cur.views == 1)
		cur.hdrs = IP6H_LEN + (size_t)(p[IP6H_LEN + 12] >> 4) * 4;
	CHECK(len > cur.hdrs && len - cur.hdrs <= cur.vh.gso_size);
	CHECK(cur.hdrs + cur.payload + (len - cur.hdrs) <= cur.len);
	CHECK(!memcmp(p + cur.hdrs, cur.ip + cur.hdrs + cur.payload, len - cur.hdrs));
	cur.payload += len - cur.hdrs;
}

static void rx_view(void *ctx, struct uplink_pkt *pkts, unsigned n)
{
	(void)ctx;
	CHECK(n > 0 && n <= UPLINK_VIEWS);
	for (unsigned i = checked; i < n; i++)
		one_view(&pkts[i]);
	checked = 0;
	flushes++;
	/* NAT rewrites views in place */
	for (unsigned i = 0; i < n; i++)
		memset(pkts[i].data + IP6H_LEN, 0x5a, pkts[i].len - IP6H_LEN);
}

static uint16_t sum6(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	return (uint16_t)~ref_fold(ref_sum(ref_pseudo(ip, proto, l4len), ip + IP6H_LEN, l4len));
}

/* The foreign ranges: 2001:db8:1::50-51 and 2001:db8:1::1:0-1:3. */
static struct bpf_addr6_range ranges[2];

static void ranges_init(void)
{
	for (unsigned i = 0; i < 2; i++) {
		memset(&ranges[i], 0, sizeof(ranges[i]));
		be16_put(ranges[i].lo.b, 0x2001);
		be16_put(ranges[i].lo.b + 2, 0xdb8);
		be16_put(ranges[i].lo.b + 4, 1);
		ranges[i].hi = ranges[i].lo;
	}
	be32_put(ranges[0].lo.b + 12, 0x50);
	be32_put(ranges[0].hi.b + 12, 0x51);
	be32_put(ranges[1].lo.b + 12, 0x10000);
	be32_put(ranges[1].hi.b + 12, 0x10003);
}

static bool in_ranges(const uint8_t *a)
{
	for (unsigned i = 0; i < 2; i++)
		if (memcmp(a, ranges[i].lo.b, 16) >= 0 && memcmp(a, ranges[i].hi.b, 16) <= 0)
			return true;
	return false;
}

/* Makes the IPv6 packet at ip (n bytes) a Neighbor Solicitation. */
static void make_ns(uint8_t *ip, size_t n, bool dad)
{
	uint8_t *t = ip + IP6H_LEN + 8;

	ip[IP6H_NEXT] = IPPROTO_ICMPV6;
	ip[IP6H_HLIM] = 255;
	if (n < IP6H_LEN + 4)
		return;
	ip[IP6H_LEN] = ICMP6_NS_TYPE;
	ip[IP6H_LEN + 1] = 0;
	if (n < IP6H_LEN + 24)
		return;
	/* the target: by its last byte one of the ranges', or next to them */
	{
		uint8_t k = t[15];

		memcpy(t, ranges[k & 1].lo.b, 16);
		t[15] = (uint8_t)(t[15] + (k >> 1) % 5); /* 0-2 in; 3-4 past */
	}
	if (dad) {
		memset(ip + IP6H_SADDR, 0, 16);
		memset(ip + IP6H_DADDR, 0, 16);
		ip[IP6H_DADDR] = 0xff, ip[IP6H_DADDR + 1] = 0x02;
		ip[IP6H_DADDR + 11] = 1, ip[IP6H_DADDR + 12] = 0xff;
		memcpy(ip + IP6H_DADDR + 13, t + 13, 3);
	}
}

static void repair(uint8_t *f, size_t len, uint8_t ctl)
{
	uint8_t *ip = f + IP6;
	size_t plen = len - IP6 - IP6H_LEN, csum = 0;

	if (len < IP6 + IP6H_LEN || plen > 0xffff)
		return;
	ip[0] = (uint8_t)(0x60 | (ip[0] & 0xf));
	be16_put(ip + IP6H_PLEN, (uint16_t)plen);
	if (ctl & 2)
		make_ns(ip, len - IP6, ctl & 4);
	if (ip[IP6H_NEXT] == IPPROTO_TCP)
		csum = 16;
	else if (ip[IP6H_NEXT] == IPPROTO_UDP)
		csum = 6;
	else if (ip[IP6H_NEXT] == IPPROTO_ICMPV6)
		csum = 2;
	if (!csum || IP6H_LEN + csum + 2 > len - IP6)
		return;
	if (ip[IP6H_NEXT] == IPPROTO_UDP)
		be16_put(ip + IP6H_LEN + 4, (uint16_t)plen);
	be16_put(ip + IP6H_LEN + csum, 0);
	be16_put(ip + IP6H_LEN + csum, sum6(ip, ip[IP6H_NEXT], plen));
}

/* ndp_answer's advertisement for the Ethernet frame f[len], if any. */
static void check_answer(const uint8_t *f, size_t len)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	uint8_t out[NDP_FRAME];
	const uint8_t *ns = f + ETHH_LEN, *na = out + ETHH_LEN, *t = ns + IP6H_LEN + 8;
	size_t plen;
	bool dad;

	if (!ndp_answer(f, len, up.mac, ranges, 2, out))
		return;
	/* the NS was one gw answers */
	plen = be16_get(ns + IP6H_PLEN);
	CHECK(ns[IP6H_HLIM] == 255 && ns[IP6H_LEN + 1] == 0 && plen >= 24);
	CHECK(ETHH_LEN + IP6H_LEN + plen <= len);
	CHECK(ref_l4_ok(ns, IP6H_LEN + plen, IP6H_LEN, IPPROTO_ICMPV6));
	CHECK(in_ranges(t) && ns[IP6H_SADDR] != 0xff);
	dad = !memcmp(ns + IP6H_SADDR, (const uint8_t[16]){ 0 }, 16);
	/* the NA */
	CHECK(!memcmp(out + ETHH_SRC, up.mac, 6) && be16_get(out + ETHH_TYPE) == ETYPE_IPV6);
	CHECK(!(out[ETHH_DST] & 1) == !dad);
	CHECK(na[0] >> 4 == 6 && be16_get(na + IP6H_PLEN) == NDP_NA_LEN);
	CHECK(na[IP6H_NEXT] == IPPROTO_ICMPV6 && na[IP6H_HLIM] == 255);
	CHECK(!memcmp(na + IP6H_SADDR, t, 16));
	CHECK(!memcmp(na + IP6H_DADDR, dad ? all_nodes : ns + IP6H_SADDR, 16));
	CHECK(na[IP6H_LEN] == ICMP6_NA_TYPE && na[IP6H_LEN + 1] == 0);
	CHECK(ref_l4_ok(na, IP6H_LEN + NDP_NA_LEN, IP6H_LEN, IPPROTO_ICMPV6));
	CHECK(((na[IP6H_LEN + 4] & 0x40) != 0) == !dad); /* Solicited */
	CHECK(!memcmp(na + IP6H_LEN + 8, t, 16));
	CHECK(na[IP6H_LEN + 24] == 2 && na[IP6H_LEN + 25] == 1 &&
	      !memcmp(na + IP6H_LEN + 26, up.mac, 6));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint8_t *frames[MAX_FRAMES];
	unsigned nframes = 0;

	if (!ready) {
		CHECK(uplink_fuzz_init(&up) == 0);
		ranges_init();
		memcpy(up.nat.foreign6, ranges, sizeof(ranges));
		up.nat.nforeign6 = 2;
		ready = true;
	}
	if (!size)
		return 0;
	up.ipv6 = data[0] & 1;
	data++, size--;
	memset(&up.st, 0, sizeof(up.st));
	checked = 0;
	while (size >= 3 && nframes < MAX_FRAMES) {
		uint8_t ctl = data[0];
		size_t len = be16_get(data + 1);
		uint64_t frames_before = up.st.rx_frames, d = uplink_fuzz_drops(&up), ndp = up.st.drop[UPLINK_DROP_NDP];
		uint64_t gso = up.st.rx_gso;
		bool ns = false;
		unsigned first, fl;
		uint8_t *f;

		data += 3, size -= 3;
		if (len > size)
			len = size;
		f = malloc(len ? len : 1);
		CHECK(f);
		memcpy(f, data, len);
		data += len, size -= len;
		frames[nframes++] = f;
		/* IPv6 only: fuzz_uplink has IPv4 and ARP */
		if (len >= IP6)
			be16_put(f + VNET_HLEN + ETHH_TYPE, ETYPE_IPV6);
		if (len >= IP6 && (ctl & 1))
			repair(f, len, ctl);

		memset(&cur, 0, sizeof(cur));
		if (len >= IP6 + IP6H_LEN && be16_get(f + VNET_HLEN + ETHH_TYPE) == ETYPE_IPV6) {
			const uint8_t *ip = f + IP6;

			cur.vh_ok = vnet_parse(&cur.vh, f) == 0;
			cur.ip = ip;
			cur.len = IP6H_LEN + be16_get(ip + IP6H_PLEN);
			ns = ip[0] >> 4 == 6 && ip[IP6H_NEXT] == IPPROTO_ICMPV6 &&
			     len > IP6 + IP6H_LEN && ip[IP6H_LEN] == ICMP6_NS_TYPE;
			if (cur.vh_ok && cur.vh.needs_csum && cur.vh.csum_start >= ETHH_LEN) {
				size_t at = cur.vh.csum_start - ETHH_LEN + cur.vh.csum_offset;

				if (at + 2 <= len - IP6)
					cur.before = be16_get(ip + at);
			}
			if (ns)
				check_answer(f + VNET_HLEN, len - VNET_HLEN);
		}
		first = up.nviews;
		fl = flushes;
		uplink_rx_frame(&up, f, len, len, rx_view, NULL);
		CHECK(up.st.rx_frames == frames_before + 1);
		if (flushes != fl)
			first = 0; /* flushed on the way: rx_view checked those */
		for (unsigned i = first; i < up.nviews; i++)
			one_view(&up.views[i]);
		checked = up.nviews;

		if (ns) {
			/* never handed on: answered (and refused at the send) or not */
			CHECK(!cur.views && uplink_fuzz_drops(&up) == d + 1 && up.st.drop[UPLINK_DROP_NDP] == ndp + 1);
		} else if (uplink_fuzz_drops(&up) != d) {
			CHECK(uplink_fuzz_drops(&up) == d + 1);
			CHECK(!cur.views || up.st.drop[UPLINK_DROP_GSO]);
		} else if (cur.views) {
			if (up.st.rx_gso != gso)
				CHECK(cur.hdrs + cur.payload == cur.len);
			else
				CHECK(cur.views == 1);
		} else {
			abort(); /* neither dropped nor handed on */
		}
	}
	uplink_rx_flush(&up, rx_view, NULL);
	CHECK(up.nviews == 0);
	for (unsigned i = 0; i < nframes; i++)
		free(frames[i]);
	return 0;
}
