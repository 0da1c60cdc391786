/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: nat/pkt's gso segmentation, gro joining, vnet headers and
 * partial checksum completion on what a TUN or packet-socket read may hand
 * over.
 *
 * Input: [mode, mss_hi, mss_lo, start_hi, start_lo, off_hi, off_lo], then
 * the packet.
 *   mode bits 0-1  the super-packet's kind (0: none, refused)
 *   mode bit  2    repair: the IP length fields say the packet's length,
 *                  the IPv4 header checksum and the TCP/UDP checksum are
 *                  made right (so eligible segments reach nat/gro)
 *   mode bits 3-7  where the packet itself goes among its segments on the
 *                  way to nat/gro (past the last: nowhere)
 *   mss            gso_size; start, off: csum_start and csum_offset
 * The input's first VNET_HLEN bytes are also read as a virtio_net_hdr.
 * Properties, on exact heap copies (ASan sees any access past them):
 *   - a packet gso_init takes is cut into segments whose payloads are the
 *     super-packet's, in order, each at most mss, with lengths and every
 *     checksum right (checked with a sum written here, not nat/csum);
 *   - the segments (and the packet itself among them) written to the TUN as
 *     gw_tun_write does (nat/gro joins what it can, the rest flushes; each
 *     write with its header through vnet_build), then read back as the
 *     kernel would (vnet_parse; a super-packet cut with nat/gso by its
 *     header, its partial checksum verifying once completed), are the very
 *     packets written, in order, byte for byte;
 *   - vnet_parse then vnet_build gives back the header's bytes but for the
 *     flags and ECN bit gw does not keep, and parses again to the same;
 *   - a packet joins nothing it was not begun with: the same packet twice is
 *     never one super-packet;
 *   - gso_csum_complete takes only a field inside the packet past the IP
 *     header, and the sum over [start, end) then verifies.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/gro.h"
#include "nat/pkt/gso.h"
#include "nat/pkt/vnet.h"
#include "tests/unit/util_refsum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { HDR = 7, P_TCP = 6, P_UDP = 17, TRIP_SEGS = 256, TRIP_MAX = TRIP_SEGS + 1 };

static uint32_t sum16(uint32_t s, const uint8_t *b, size_t n)
{
	return ref_fold(ref_sum(s, b, n));
}

/* Does the TCP/UDP checksum of p (l4 at l3, len bytes) verify? */
static bool l4_ok(const uint8_t *p, size_t len, size_t l3, uint8_t proto)
{
	return ref_l4_ok(p, len, l3, proto);
}

/* Mode bit 2: lengths, IPv4 header checksum and L4 checksum made right. */
static void repair(uint8_t *p, size_t len)
{
	bool v6 = p[0] >> 4 == 6;
	size_t l3 = v6 ? 40 : (size_t)(p[0] & 0xf) * 4, csum;
	uint8_t proto;

	if (len < 20 || len > 0xffff || l3 < 20 || l3 > len)
		return;
	if (v6) {
		be16_put(p + 4, (uint16_t)(len - 40));
		proto = p[6];
	} else {
		be16_put(p + 2, (uint16_t)len);
		be16_put(p + 10, 0);
		be16_put(p + 10, (uint16_t)~sum16(0, p, l3));
		proto = p[9];
	}
	if (proto != P_TCP && proto != P_UDP)
		return;
	csum = l3 + (proto == P_TCP ? 16 : 6);
	if (csum + 2 > len)
		return;
	be16_put(p + csum, 0);
	be16_put(p + csum, (uint16_t)~sum16(ref_pseudo(p, proto, len - l3), p + l3, len - l3));
}

/* Segment i of s in a fresh heap buffer of its exact length. */
static uint8_t *seg_new(const struct gso *s, unsigned i, size_t *n)
{
	uint8_t *seg;

	*n = gso_seg_len(s, i);
	seg = malloc(*n);
	CHECK(seg);
	gso_seg(s, i, seg);
	return seg;
}

/* Every segment of s against the super-packet p; all of them to g, which
 * should join them.  Returns true when g took every one. */
static bool cut(const struct gso *s, const uint8_t *p, struct gro *g)
{
	bool v6 = s->kind == GSO_TCP6, all_held = true;
	uint8_t proto = s->kind == GSO_UDP4 ? P_UDP : P_TCP;
	size_t done = 0;

	for (unsigned i = 0; i < s->n; i++) {
		size_t n;
		uint8_t *seg = seg_new(s, i, &n);

		CHECK(n > s->hdrs && n - s->hdrs <= s->mss);
		CHECK(!memcmp(seg + s->hdrs, p + s->hdrs + done, n - s->hdrs));
		done += n - s->hdrs;
		if (v6) {
			CHECK(be16_get(seg + 4) == n - 40);
		} else {
			CHECK(be16_get(seg + 2) == n);
			CHECK(sum16(0, seg, s->l3) == 0xffff);
		}
		if (proto == P_UDP)
			CHECK(be16_get(seg + s->l3 + 4) == n - s->l3);
		CHECK(l4_ok(seg, n, s->l3, proto));
		if (proto == P_TCP && all_held)
			all_held = gro_add(g, seg, n) == GRO_HELD;
		free(seg);
	}
	CHECK(done == s->len - s->hdrs);
	return proto == P_TCP && all_held;
}

/* g holds all of s's segments: finished, completed and cut again, they
 * come out the same. */
static void round_trip(const struct gso *s, struct gro *g)
{
	struct vnet_hdr h;
	size_t len = gro_finish(g, &h);
	struct gso again;

	if (s->n == 1) {
		size_t n;
		uint8_t *seg = seg_new(s, 0, &n);

		CHECK(h.kind == 0 && len == n && !memcmp(g->buf, seg, n));
		free(seg);
		return;
	}
	CHECK(len == s->len && h.kind == s->kind && h.gso_size == s->mss);
	CHECK(h.hdr_len == s->hdrs && h.csum_start == s->l3 && h.csum_offset == 16);
	CHECK(gso_csum_complete(g->buf, len, h.csum_start, h.csum_offset) == 0);
	CHECK(l4_ok(g->buf, len, s->l3, P_TCP));
	CHECK(gso_init(&again, g->buf, len, h.kind, h.gso_size) == 0 && again.n == s->n);
	for (unsigned i = 0; i < s->n; i++) {
		size_t n, m;
		uint8_t *a = seg_new(s, i, &n), *b = seg_new(&again, i, &m);

		CHECK(n == m && !memcmp(a, b, n));
		free(a);
		free(b);
	}
}

/* The packets of a TUN round trip: what gw writes, what it reads back. */
struct seq {
	uint8_t *p[TRIP_MAX];
	size_t len[TRIP_MAX];
	unsigned n;
};

static void seq_add(struct seq *q, const uint8_t *p, size_t len)
{
	CHECK(q->n < TRIP_MAX);
	q->p[q->n] = malloc(len ? len : 1);
	CHECK(q->p[q->n]);
	memcpy(q->p[q->n], p, len);
	q->len[q->n++] = len;
}

static void seq_free(struct seq *q)
{
	for (unsigned i = 0; i < q->n; i++)
		free(q->p[i]);
	q->n = 0;
}

/* One TUN write (the header as vnet_build makes it, then the packet), read
 * as the kernel would: a super-packet cut by its header, else the packet as
 * it is (its partial checksum completed). */
static void tun_read(struct seq *back, const struct vnet_hdr *h, const uint8_t *p, size_t len)
{
	uint8_t raw[VNET_HLEN];
	struct vnet_hdr r;
	uint8_t *w;

	vnet_build(h, raw);
	CHECK(vnet_parse(&r, raw) == 0);
	CHECK(r.kind == h->kind && r.needs_csum == h->needs_csum && r.gso_size == h->gso_size);
	CHECK(r.hdr_len == h->hdr_len && r.csum_start == h->csum_start &&
	      r.csum_offset == h->csum_offset);
	w = malloc(len);
	CHECK(w);
	memcpy(w, p, len);
	if (r.needs_csum) {
		CHECK(gso_csum_complete(w, len, r.csum_start, r.csum_offset) == 0);
		CHECK(!r.kind || l4_ok(w, len, r.csum_start, P_TCP));
	}
	if (r.kind) {
		struct gso s;

		CHECK(gso_init(&s, w, len, r.kind, r.gso_size) == 0 && s.len == len);
		CHECK(r.hdr_len == s.hdrs && s.n > 1);
		for (unsigned i = 0; i < s.n; i++) {
			size_t n;
			uint8_t *seg = seg_new(&s, i, &n);

			seq_add(back, seg, n);
			free(seg);
		}
	} else {
		seq_add(back, w, len);
	}
	free(w);
}

static void tun_flush(struct gro *g, struct seq *back)
{
	struct vnet_hdr h;
	size_t len = gro_finish(g, &h);

	if (len)
		tun_read(back, &h, g->buf, len);
}

/* The packets of q written one by one as gw_tun_write does with nat/gro
 * on, and read back: the same packets, in order, byte for byte. */
static void tun_trip(const struct seq *q, struct gro *g)
{
	static const struct vnet_hdr plain;
	struct seq back = { .n = 0 };

	for (unsigned i = 0; i < q->n; i++) {
		enum gro_res r = gro_add(g, q->p[i], q->len[i]);

		if (r == GRO_FLUSH) {
			tun_flush(g, &back);
			r = gro_add(g, q->p[i], q->len[i]);
		}
		if (r == GRO_HELD)
			continue;
		tun_flush(g, &back);
		tun_read(&back, &plain, q->p[i], q->len[i]);
	}
	tun_flush(g, &back);
	CHECK(back.n == q->n);
	for (unsigned i = 0; i < q->n; i++)
		CHECK(back.len[i] == q->len[i] && !memcmp(back.p[i], q->p[i], q->len[i]));
	seq_free(&back);
}

/* The virtio_net_hdr in b: what gw reads it as, it writes back the same,
 * but for the flags and the ECN bit it does not keep. */
static void vnet(const uint8_t b[VNET_HLEN])
{
	struct vnet_hdr h, again;
	uint8_t out[VNET_HLEN];

	if (vnet_parse(&h, b))
		return;
	vnet_build(&h, out);
	CHECK(out[0] == (b[0] & 1) && out[1] == (b[1] & 0x7f));
	CHECK(!memcmp(out + 2, b + 2, VNET_HLEN - 2));
	CHECK(vnet_parse(&again, out) == 0 && again.kind == h.kind);
	CHECK(again.needs_csum == h.needs_csum && again.gso_size == h.gso_size);
	CHECK(again.hdr_len == h.hdr_len && again.csum_start == h.csum_start &&
	      again.csum_offset == h.csum_offset);
}

/* gso_csum_complete on p: accepted only inside the packet, then it sums
 * to 0xffff over [start, len) with what the field held (the pseudo-header
 * sum) added. */
static void csum(uint8_t *p, size_t len, size_t start, size_t off)
{
	uint16_t before;

	if (start + off + 2 <= len)
		before = be16_get(p + start + off);
	else
		before = 0;
	if (gso_csum_complete(p, len, start, off))
		return;
	CHECK(len >= 20 && start >= (p[0] >> 4 == 6 ? 40u : 20u) && start + off + 2 <= len);
	if (off % 2 == 0)
		CHECK(sum16(before, p + start, len - start) == 0xffff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum gso_kind kinds[4] = { 0, GSO_TCP4, GSO_TCP6, GSO_UDP4 };
	uint8_t *p, *gbuf;
	size_t len, start, off;
	unsigned mode, mss;
	struct gro g;
	struct gso s;

	if (size < HDR)
		return 0;
	mode = data[0];
	mss = be16_get(data + 1);
	start = be16_get(data + 3);
	off = be16_get(data + 5);
	len = size - HDR;
	p = malloc(len);
	gbuf = malloc(GRO_MAX);
	CHECK(p && gbuf);
	memcpy(p, data + HDR, len);
	if (mode & 4)
		repair(p, len);
	gro_init(&g, gbuf, GRO_MAX);

	if (size >= VNET_HLEN)
		vnet(data);
	if (gso_init(&s, p, len, kinds[mode & 3], mss) == 0) {
		CHECK(s.n >= 1 && s.len <= len && s.hdrs < s.len);
		if (cut(&s, p, &g))
			round_trip(&s, &g);
		else
			gro_finish(&g, &(struct vnet_hdr){ 0 });
		if (s.n <= TRIP_SEGS) {
			struct seq q = { .n = 0 };

			for (unsigned i = 0; i < s.n; i++) {
				size_t n;
				uint8_t *seg = seg_new(&s, i, &n);

				if (i == mode >> 3)
					seq_add(&q, p, len);
				seq_add(&q, seg, n);
				free(seg);
			}
			if (mode >> 3 == s.n)
				seq_add(&q, p, len);
			tun_trip(&q, &g);
			seq_free(&q);
		}
	}

	/* the packet itself, twice: begun, then never joined to itself */
	if (gro_add(&g, p, len) == GRO_HELD) {
		CHECK(gro_add(&g, p, len) != GRO_HELD);
		CHECK(gro_finish(&g, &(struct vnet_hdr){ 0 }) == len && !memcmp(gbuf, p, len));
	}

	csum(p, len, start, off);
	free(gbuf);
	free(p);
	return 0;
}
