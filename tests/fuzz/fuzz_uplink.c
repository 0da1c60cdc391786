/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: gw/uplink's uplink_rx_frame, the parsing of what one read off
 * the uplink's packet socket hands over (virtio_net_hdr, Ethernet, IPv4; a
 * GSO super-packet cut into segments, a partial checksum completed, an ARP
 * request for a foreign NAT address answered) into the IPv4 packet views
 * the data path gets.  No socket: the uplink has only its receive arenas
 * (uplink_rx_init) and a packet socket of -1, so an ARP answer is built by
 * gw/arp and then refused at the send (a counted drop).
 *
 * Input: frames, each a control byte, a 2-byte length and that many bytes
 * (the vnet header first).  Control bit 0 repairs the frame: Ethernet type
 * IPv4, an IPv4 header with the frame's length, its checksum and the
 * TCP/UDP checksum right, so segmentation and checksum completion are
 * reached; bit 1 makes the Ethernet type ARP.  All the frames stay alive
 * until uplink_rx_flush (as the receive slots do), then the last views go.
 * Properties, frame by frame:
 *   - a frame is counted once, and is a drop, an ARP frame, or packets;
 *   - each view is an IPv4 packet of its total length, inside the frame or
 *     the segment arena (ASan sees exact heap copies), and the views of one
 *     call never overlap;
 *   - a frame without GSO becomes one view, its IP packet from the frame;
 *     a completed partial checksum verifies (tests/unit/util_refsum);
 *   - the segments cut from a super-packet carry its payload, in order,
 *     each with valid IP and TCP/UDP checksums.
 * The views are then scribbled over, as NAT rewrites them in place.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/uplink.h"
#include "nat/pkt/be.h"
#include "nat/pkt/proto.h"
#include "nat/pkt/vnet.h"
#include "tests/fuzz/uplink_fuzz.h"
#include "tests/unit/util_refsum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { P_TCP = 6, P_UDP = 17, MAX_FRAMES = 64 };

/* What the frame being parsed is, for the callback. */
struct seen {
	const uint8_t *ip;      /* its IPv4 packet in the frame */
	size_t len;             /* that packet's total length */
	struct vnet_hdr vh;
	bool vh_ok;
	unsigned views;         /* views of this frame so far */
	size_t payload;         /* GSO: payload bytes of segments so far */
	size_t hdrs;            /* GSO: the first segment's header bytes */
	uint16_t before;        /* partial checksum: what the field held */
};

static struct uplink up;
static struct seen cur;

static bool in_arena(const uint8_t *p, size_t len)
{
	return p >= up.seg && p + len <= up.seg + UPLINK_SEG_ARENA;
}

static void rx(void *ctx, struct uplink_pkt *pkts, unsigned n)
{
	(void)ctx;
	CHECK(n > 0 && n <= UPLINK_VIEWS);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = pkts[i].data;
		size_t len = pkts[i].len, ihl;

		CHECK(len >= IP4H_LEN && p[0] >> 4 == 4);
		ihl = (size_t)(p[0] & 0xf) * 4;
		CHECK(ihl >= IP4H_LEN && ihl <= len && be16_get(p + 2) == len);
		(void)ref_sum(0, p, len); /* every byte readable */
		for (unsigned j = 0; j < i; j++) {
			const uint8_t *q = pkts[j].data;

			CHECK(p + len <= q || q + pkts[j].len <= p);
		}
	}
	/* NAT rewrites views in place: a view that another one shares would
	 * show it */
	for (unsigned i = 0; i < n; i++)
		memset(pkts[i].data + IP4H_LEN, 0xa5, pkts[i].len - IP4H_LEN);
}

/* Checks a view of the current frame as it arrives (before the callback
 * gets it and scribbles over it): called from rx_view below. */
static void one_view(const uint8_t *p, size_t len)
{
	size_t ihl = (size_t)(p[0] & 0xf) * 4;
	uint8_t proto = p[9];

	cur.views++;
	if (!cur.vh_ok || !cur.vh.kind) {
		CHECK(cur.views == 1 && p == cur.ip && len == cur.len);
		if (cur.vh_ok && cur.vh.needs_csum) {
			/* csum_start counts from the Ethernet header; the sum
			 * over [start, len) with what the field held added
			 * verifies (an odd offset: the field straddles words) */
			size_t start = cur.vh.csum_start - ETHH_LEN;

			CHECK(cur.vh.csum_start >= ETHH_LEN && start >= IP4H_LEN);
			CHECK(start + cur.vh.csum_offset + 2 <= len);
			if (cur.vh.csum_offset % 2 == 0)
				CHECK(ref_fold(ref_sum(cur.before, p + start, len - start)) == 0xffff);
		}
		return;
	}
	/* a segment */
	CHECK(in_arena(p, len));
	CHECK(ref_fold(ref_sum(0, p, ihl)) == 0xffff);
	CHECK(proto == P_TCP || proto == P_UDP);
	CHECK(ref_l4_ok(p, len, ihl, proto));
	if (cur.views == 1)
		cur.hdrs = ihl + (proto == P_TCP ? (size_t)(p[ihl + 12] >> 4) * 4 : 8);
	CHECK(len > cur.hdrs && len - cur.hdrs <= cur.vh.gso_size);
	CHECK(cur.hdrs + cur.payload + (len - cur.hdrs) <= cur.len);
	CHECK(!memcmp(p + cur.hdrs, cur.ip + cur.hdrs + cur.payload, len - cur.hdrs));
	cur.payload += len - cur.hdrs;
}

/* The callback uplink_rx_frame's views reach: each checked against the
 * frame it came from while that is the current one. */
static unsigned checked, flushes;

static void rx_view(void *ctx, struct uplink_pkt *pkts, unsigned n)
{
	(void)ctx;
	for (unsigned i = checked; i < n; i++)
		one_view(pkts[i].data, pkts[i].len);
	checked = 0;
	flushes++;
	rx(ctx, pkts, n);
}

static void repair(uint8_t *f, size_t len)
{
	uint8_t *ip = f + VNET_HLEN + ETHH_LEN;
	size_t tot = len - VNET_HLEN - ETHH_LEN, ihl, csum;

	be16_put(f + VNET_HLEN + ETHH_TYPE, ETYPE_IP);
	if (tot < IP4H_LEN || tot > 0xffff)
		return;
	ip[0] = (uint8_t)(0x40 | ((ip[0] & 0xf) < 5 ? 5 : ip[0] & 0xf));
	ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ihl > tot)
		return;
	be16_put(ip + 2, (uint16_t)tot);
	be16_put(ip + 10, 0);
	be16_put(ip + 10, (uint16_t)~ref_fold(ref_sum(0, ip, ihl)));
	if (ip[9] != P_TCP && ip[9] != P_UDP)
		return;
	csum = ihl + (ip[9] == P_TCP ? 16 : 6);
	if (csum + 2 > tot)
		return;
	if (ip[9] == P_UDP)
		be16_put(ip + ihl + 4, (uint16_t)(tot - ihl));
	be16_put(ip + csum, 0);
	be16_put(ip + csum, (uint16_t)~ref_fold(ref_sum(ref_pseudo(ip, ip[9], tot - ihl), ip + ihl,
							  tot - ihl)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint8_t *frames[MAX_FRAMES];
	unsigned nframes = 0;

	if (!ready) {
		CHECK(uplink_fuzz_init(&up) == 0);
		up.nat.foreign[0].lo = 0xc0000232; /* 192.0.2.50-51 */
		up.nat.foreign[0].hi = 0xc0000233;
		up.nat.nforeign = 1;
		ready = true;
	}
	memset(&up.st, 0, sizeof(up.st));
	checked = 0;
	while (size >= 3 && nframes < MAX_FRAMES) {
		uint8_t ctl = data[0];
		size_t len = be16_get(data + 1), ihl;
		uint64_t frames_before = up.st.rx_frames, d = uplink_fuzz_drops(&up);
		uint64_t arp = up.st.arp_replies, gso = up.st.rx_gso;
		unsigned first, fl;
		uint8_t *f;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		f = malloc(len ? len : 1);
		CHECK(f);
		memcpy(f, data, len);
		data += len;
		size -= len;
		frames[nframes++] = f;
		if (len >= VNET_HLEN + ETHH_LEN && (ctl & 1))
			repair(f, len);
		if (len >= VNET_HLEN + ETHH_LEN && (ctl & 2))
			be16_put(f + VNET_HLEN + ETHH_TYPE, ETYPE_ARP);

		memset(&cur, 0, sizeof(cur));
		if (len >= VNET_HLEN + ETHH_LEN + IP4H_LEN) {
			cur.vh_ok = vnet_parse(&cur.vh, f) == 0;
			cur.ip = f + VNET_HLEN + ETHH_LEN;
			cur.len = be16_get(cur.ip + 2);
			if (cur.vh_ok && cur.vh.needs_csum && cur.vh.csum_start >= ETHH_LEN) {
				size_t at = cur.vh.csum_start - ETHH_LEN + cur.vh.csum_offset;

				if (at + 2 <= len - VNET_HLEN - ETHH_LEN)
					cur.before = be16_get(cur.ip + at);
			}
		}
		/* the views this frame queued are checked here, or by rx_view
		 * when the queue fills on the way */
		first = up.nviews;
		fl = flushes;
		uplink_rx_frame(&up, f, len, len, rx_view, NULL);
		CHECK(up.st.rx_frames == frames_before + 1);
		if (flushes != fl)
			first = 0; /* flushed on the way: rx_view checked those */
		for (unsigned i = first; i < up.nviews; i++)
			one_view(up.views[i].data, up.views[i].len);
		checked = up.nviews;

		if (uplink_fuzz_drops(&up) != d) {
			CHECK(uplink_fuzz_drops(&up) == d + 1);
			/* only a super-packet cut part way has views too */
			CHECK(!cur.views || up.st.drop[UPLINK_DROP_GSO]);
		} else if (up.st.arp_replies != arp) {
			CHECK(!cur.views);
		} else {
			CHECK(cur.views >= 1);
			if (up.st.rx_gso != gso) {
				ihl = (size_t)(cur.ip[0] & 0xf) * 4;
				CHECK(cur.hdrs >= ihl && cur.hdrs + cur.payload == cur.len);
			} else {
				CHECK(cur.views == 1);
			}
		}
	}
	uplink_rx_flush(&up, rx_view, NULL);
	CHECK(up.nviews == 0);
	for (unsigned i = 0; i < nframes; i++)
		free(frames[i]);
	return 0;
}
