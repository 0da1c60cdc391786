/* SPDX-License-Identifier: MIT */
/* ip_fragment: see frag.h.  Linux's ip_do_fragment slow path and
 * ip_options_fragment. */
#include <errno.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/proto.h"

/* The header of the fragments after the first: options that are not to be
 * copied into every fragment become NOPs; the header keeps its length. */
static void options_fragment(uint8_t *opt, size_t l)
{
	while (l > 0) {
		size_t optlen;

		if (opt[0] == IP4OPT_EOL)
			return;
		if (opt[0] == IP4OPT_NOP) {
			opt++, l--;
			continue;
		}
		if (l < 2)
			return;
		optlen = opt[1];
		if (optlen < 2 || optlen > l)
			return;
		if (!(opt[0] & IP4OPT_COPIED))
			memset(opt, IP4OPT_NOP, optlen);
		opt += optlen;
		l -= optlen;
	}
}

int ip_fragment(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap,
		frag_emit_fn *emit, void *ctx)
{
	size_t hlen = (size_t)(pkt[0] & 0x0f) * 4;
	uint16_t frag = be16_get(pkt + IP4H_FRAG);
	unsigned offset = (unsigned)(frag & IP4_OFFMASK) << 3;
	uint16_t keep = frag & IP4_DF, more = frag & IP4_MF;
	size_t room, pos = hlen, left = len - hlen;
	int n = 0;

	if (len < IP4H_LEN || hlen < IP4H_LEN || len < hlen || mtu > cap || mtu < hlen + 8)
		return -EMSGSIZE;
	room = mtu - hlen;
	while (left > 0) {
		size_t dlen = left;

		/* the header again each time: emit may have written on out */
		memcpy(out, pkt, hlen);
		if (n)
			options_fragment(out + IP4H_LEN, hlen - IP4H_LEN);

		if (dlen > room)
			dlen = room & ~(size_t)7;
		memcpy(out + hlen, pkt + pos, dlen);
		pos += dlen;
		left -= dlen;
		be16_put(out + IP4H_TOTLEN, (uint16_t)(hlen + dlen));
		be16_put(out + IP4H_FRAG, (uint16_t)(keep | (offset >> 3) |
					     (left > 0 || more ? IP4_MF : 0)));
		be16_put(out + IP4H_CSUM, 0);
		be16_put(out + IP4H_CSUM, csum_ip(out, hlen));
		emit(ctx, out, hlen + dlen);
		offset += (unsigned)dlen;
		n++;
	}
	return n;
}

enum ip_out ip_out_decide(size_t len, unsigned mtu, unsigned fmax, bool df, unsigned *cut)
{
	/* a reassembled datagram leaves in pieces no larger than it came in:
	 * ip_do_fragment's mtu = min(mtu, frag_max_size) */
	*cut = mtu && fmax && fmax < mtu ? fmax : mtu;
	if (!*cut || len <= *cut)
		return IP_OUT_SEND;
	/* DF: ip_exceeds_mtu; a reassembled datagram (ignore_df) only when
	 * its own fragments exceed the route */
	if (df && (!fmax || fmax > mtu))
		return IP_OUT_TOO_BIG;
	return IP_OUT_FRAGMENT;
}
