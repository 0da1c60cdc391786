/* SPDX-License-Identifier: MIT */
/* ip_fragment, ip6_fragment and the forwarding decisions: see frag.h.
 * Linux's ip_do_fragment slow path and ip_options_fragment; ip6_fragment's
 * slow path with ip6_find_1stfragopt; ip6_forward's ip6_pkt_too_big and
 * __ip6_finish_output. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
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

	if (len < IP4H_LEN || pkt[0] >> 4 != 4)
		return -EINVAL;  /* IPv6 is ip6_fragment's */
	if (hlen < IP4H_LEN || len < hlen || mtu > cap || mtu < hlen + 8)
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

/* ip6_find_1stfragopt: the length of the unfragmentable part (the IPv6
 * header, hop-by-hop, routing and the destination options that are not
 * after a routing header) and the offset of the next-header byte that
 * names what follows it.  -EINVAL: the chain runs past len, or pkt has a
 * fragment header already. */
static int first_frag_opt(const uint8_t *pkt, size_t len, size_t *nhoff)
{
	size_t off = IP6H_LEN;
	bool rthdr = false;

	*nhoff = IP6H_NEXT;
	while (off <= len) {
		switch (pkt[*nhoff]) {
		case IPPROTO_HOPOPTS:
			break;
		case IPPROTO_ROUTING:
			rthdr = true;
			break;
		case IPPROTO_DSTOPTS:
			if (rthdr)
				return (int)off;
			break;
		case IPPROTO_FRAGMENT:
			return -EINVAL;
		default:
			return (int)off;
		}
		if (off + 2 > len)
			return -EINVAL;
		*nhoff = off + IP6X_NEXT;
		off += ((size_t)pkt[off + IP6X_LEN] + 1) * 8;
	}
	return -EINVAL;
}

int ip6_fragment(const uint8_t *pkt, size_t len, unsigned mtu, uint32_t id, uint8_t *out,
		 size_t cap, frag_emit_fn *emit, void *ctx)
{
	size_t nhoff, hlen, room, pos, left;
	unsigned offset = 0;
	uint8_t next;
	int h, n = 0;

	if (len < IP6H_LEN || len > FRAG_MAX_DATAGRAM6)
		return -EINVAL;
	h = first_frag_opt(pkt, len, &nhoff);
	if (h < 0 || (size_t)h >= len)
		return -EINVAL;
	hlen = (size_t)h;
	if (mtu > FRAG_MAX_DATAGRAM6)
		mtu = FRAG_MAX_DATAGRAM6;
	if (mtu > cap || mtu < hlen + IP6FH_LEN + 8)
		return -EMSGSIZE;
	room = mtu - hlen - IP6FH_LEN;
	next = pkt[nhoff];
	pos = hlen;
	left = len - hlen;
	while (left > 0) {
		size_t dlen = left;
		uint8_t *fh = out + hlen;

		if (dlen > room)
			dlen = room & ~(size_t)7;
		/* the unfragmentable part again each time: emit may write on out */
		memcpy(out, pkt, hlen);
		out[nhoff] = IPPROTO_FRAGMENT;
		fh[IP6X_NEXT] = next;
		fh[1] = 0;
		memcpy(out + hlen + IP6FH_LEN, pkt + pos, dlen);
		pos += dlen;
		left -= dlen;
		be16_put(fh + IP6FH_OFF, (uint16_t)(offset | (left > 0 ? IP6F_MF : 0)));
		be32_put(fh + IP6FH_ID, id);
		be16_put(out + IP6H_PLEN, (uint16_t)(hlen - IP6H_LEN + IP6FH_LEN + dlen));
		emit(ctx, out, hlen + IP6FH_LEN + dlen);
		offset += (unsigned)dlen;
		n++;
	}
	return n;
}

enum ip_out ip6_out_decide(size_t len, unsigned mtu, unsigned fmax, unsigned *cut)
{
	bool fits = !mtu || len <= mtu;

	*cut = mtu;
	/* ip6_pkt_too_big: nothing else may be cut on the way */
	if (!fmax)
		return fits ? IP_OUT_SEND : IP_OUT_TOO_BIG;
	/* a reassembled datagram: too big only when its own fragments are */
	if (!fits && fmax > mtu)
		return IP_OUT_TOO_BIG;
	/* __ip6_finish_output: out in fragments no larger than it came in,
	 * whenever it is larger than the largest of them */
	if (fits && len <= fmax)
		return IP_OUT_SEND;
	*cut = fmax;
	return IP_OUT_FRAGMENT;
}
