/* SPDX-License-Identifier: MIT */
/*
 * frag — IPv4 and IPv6 fragment reassembly before conntrack, as Linux's
 * ip_fragment.c, nf_conntrack_reasm.c and inet_fragment.c do it (defrag at
 * priority -400, NETFILTER.md §5).
 *
 * Pure: no I/O, no clock (now in ns, monotonic), no allocation after
 * frag_create(): a fixed number of queues and a fixed byte budget, shared
 * by both families.  A queue is keyed by (src, dst, id, protocol) for IPv4,
 * (src, dst, 32-bit id) for IPv6 (no protocol: ip6_frag_match), and lives at
 * most timeout_ns (ipfrag_time, 30 s) or timeout6_ns
 * (nf_conntrack_frag6_timeout, 60 s) from its first fragment.  Overlaps
 * drop the whole queue (RFC 5722, Linux since FragmentSmack); a fragment
 * inside what a queue already holds is a duplicate and ignored (exact
 * duplicates too: inet_frag_queue_insert's IPFRAG_DUP).  When the budget or
 * the queue table is full, the oldest queues of either family are evicted.
 * IPv6 atomic fragments (offset 0, no M flag) are whole packets (RFC 6946;
 * pkt_parse does not mark them PKT_F_FRAG) and never queued.
 *
 * Use (gw/dataplane.c, per batch):
 *   frag_expire(f, now, on_timeout, ctx);       before the batch's packets
 *   for each packet p with p.outer.flags & PKT_F_FRAG:
 *     switch (frag_add(f, now, &p, buf, sizeof(buf), &n)) {
 *     case FRAG_DONE:    pkt_parse(&whole, buf, n), then conntrack as usual
 *     case FRAG_PENDING: (kept) and FRAG_DROP: nothing more to do
 *     }
 *   arm the loop's timer at frag_next_deadline(f).
 */
#ifndef GW_PKT_FRAG_H
#define GW_PKT_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pkt;
struct frag;

/* Largest reassembled datagram (IPv6: a payload of 65535 after the 40-byte
 * header), and how much of a timed-out first fragment the timeout callback
 * gets (what icmp_send quotes: 576 - 20 - 8; icmpv6_send: 1280 - 40 - 8). */
enum {
	FRAG_MAX_DATAGRAM = 65535, FRAG_MAX_DATAGRAM6 = 65535 + 40,
	FRAG_QUOTE_MAX = 548, FRAG_QUOTE_MAX6 = 1232,
};

struct frag_config {
	uint32_t max_queues;  /* datagrams in reassembly at once */
	size_t max_bytes;     /* budget for fragment data (ipfrag_high_thresh) */
	uint64_t timeout_ns;  /* ipfrag_time */
	uint64_t timeout6_ns; /* IPv6: nf_conntrack_frag6_timeout; 0: timeout_ns */
	uint64_t hash_seed;   /* random per instance (keys the SipHash of the key) */
};

/* 1024 queues, 4 MB, 30 s (IPv6 60 s), seed 0. */
void frag_config_default(struct frag_config *cfg);

/* Returns 0, -EINVAL (max_queues 0 or above 1 << 20, max_bytes below one
 * block or above 1 GB, timeout 0) or -ENOMEM.  *out is the caller's; free it
 * with frag_destroy. */
int frag_create(struct frag **out, const struct frag_config *cfg);
void frag_destroy(struct frag *f);

enum frag_result {
	FRAG_PENDING, /* kept in a queue; the datagram is not complete yet */
	FRAG_DONE,    /* the whole datagram is in out[0 .. *out_len) */
	FRAG_DROP,    /* not kept: see frag_stats.drop[] */
};

/* Why a fragment given to frag_add was not kept (indexes frag_stats.drop). */
enum frag_drop_reason {
	FRAG_DROP_DUP,      /* lies inside data already queued; the queue is kept */
	FRAG_DROP_OVERLAP,  /* overlaps queued data: the queue is dropped too */
	FRAG_DROP_INVALID,  /* disagrees on the end, data past the last fragment,
			     * ECN mix (not-ECT with ECT/CE): the queue is
			     * dropped (IPv6: the fragment only, but for the
			     * ECN mix and a non-last fragment not a multiple
			     * of 8 long); an IPv6 first fragment without its
			     * upper-layer header (not queued); or p is not a
			     * fragment at all */
	FRAG_DROP_TOO_BIG,  /* datagram over 65535 bytes (IPv6: payload) or over
			     * cap: queue dropped */
	FRAG_DROP_NOMEM,    /* no room even after evicting every other queue */
	FRAG_DROP_MAX
};

struct frag_stats {
	uint64_t reqds;     /* fragments given to frag_add (ReasmReqds) */
	uint64_t oks;       /* datagrams reassembled (ReasmOKs) */
	uint64_t fails;     /* queues dropped, any reason (ReasmFails) */
	uint64_t timeouts;  /* queues timed out (ReasmTimeout) */
	uint64_t overlaps;  /* queues dropped for an overlap (ReasmOverlaps) */
	uint64_t evicted;   /* queues evicted for room (budget or table full) */
	uint64_t drop[FRAG_DROP_MAX]; /* fragments not kept, by reason */
	uint32_t queues, max_queues;  /* in use / configured */
	size_t bytes, max_bytes;      /* budget in use / configured (whole blocks) */
};
void frag_get_stats(const struct frag *f, struct frag_stats *st);

/* Add one fragment: p parsed by pkt_parse with PKT_F_FRAG set (the buffer is
 * not kept).  On FRAG_DONE out holds the datagram.  IPv4: the first
 * fragment's header (options included) with total length, DF as Linux sets
 * it, ECN merged, offset and MF cleared and the header checksum recomputed.
 * IPv6 (RFC 8200 §4.5, nf_ct_frag6_reasm): the first fragment's
 * unfragmentable part (the IPv6 header and the extension headers before
 * the fragment header), the fragment header removed, the next-header byte
 * that named it set to its next header, the payload length fixed, ECN
 * merged; then the data (the extension headers after the fragment header
 * included).  The L4 checksum is the sender's.  cap: room in out
 * (FRAG_MAX_DATAGRAM always suffices for IPv4, FRAG_MAX_DATAGRAM6 for IPv6;
 * note that pkt_parse refuses IPv6 packets over 65535 bytes, so with a
 * 65535-byte out a longer one is dropped here as FRAG_DROP_TOO_BIG).  The
 * caller must run frag_expire(now) first: a queue already past its
 * deadline is not joined here but dropped (as a timeout, without the
 * callback) and the fragment starts a new one. */
enum frag_result frag_add(struct frag *f, uint64_t now, const struct pkt *p,
			  uint8_t *out, size_t cap, size_t *out_len);

/* The largest fragment (IP total length; IPv6: 40 + its payload length) of
 * the datagram the last FRAG_DONE returned: Linux's IPCB/IP6CB
 * frag_max_size.  Forwarding refragments the datagram to at most min(MTU,
 * this), and with DF set in out (always, for IPv6) a datagram whose
 * fragments exceed the MTU gets ICMP fragmentation needed (Packet Too Big)
 * instead: ip_out_decide, ip6_out_decide. */
uint16_t frag_max_size(const struct frag *f);

/* Called for each timed-out queue that holds its first fragment, with that
 * fragment as received (header and data, at most FRAG_QUOTE_MAX bytes,
 * IPv6 FRAG_QUOTE_MAX6; the bytes are valid during the call).  Linux
 * answers ICMP time exceeded, code 1 (fragment reassembly time exceeded),
 * when the destination is local; ICMPv6 time exceeded, code 1, from
 * conntrack's queue too (ip6frag_expire_frag_queue). */
typedef void frag_timeout_fn(void *ctx, const uint8_t *first, size_t len);

/* Drop every queue whose deadline is at or before now; fn (may be NULL) as
 * above.  Returns the number of queues that timed out. */
unsigned frag_expire(struct frag *f, uint64_t now, frag_timeout_fn *fn, void *ctx);
/* The earliest queue deadline, or UINT64_MAX when no queue is open. */
uint64_t frag_next_deadline(const struct frag *f);

/* --- fragmenting on output (nat/pkt/fragment.c) ------------------------------ */

/* Receives each fragment ip_fragment makes; the bytes are valid during the
 * call only (the caller's out buffer, reused for the next fragment). */
typedef void frag_emit_fn(void *ctx, uint8_t *frag, size_t len);

/*
 * Splits the IPv4 datagram pkt[0 .. len) (a well-formed header, as pkt_parse
 * accepted it) into fragments of at most mtu bytes, as Linux's
 * ip_do_fragment (slow path) does: every fragment but the last carries a
 * multiple of 8 data bytes; the first keeps the whole header, the others
 * keep its length with the options not marked "copied" overwritten by NOPs
 * (ip_options_fragment); the ID and DF are kept; MF is set on all but the
 * last, and on the last too when pkt is itself a non-last fragment; offsets
 * continue pkt's own.  Each fragment is built in out (cap bytes, at least
 * mtu) and handed to emit.  Returns the number of fragments, -EMSGSIZE
 * when mtu cannot hold the header and 8 data bytes, or -EINVAL when pkt is
 * not IPv4 (nothing is emitted then).
 * The DF check (fragmentation needed) is the caller's.
 */
int ip_fragment(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap,
		frag_emit_fn *emit, void *ctx);

/* What forwarding does with a datagram of len bytes toward a route of
 * mtu (0: no limit), as Linux's ip_forward (ip_exceeds_mtu) and
 * ip_finish_output (ip_fragment) decide it: fmax is the largest fragment of
 * a datagram gw reassembled (frag_max_size; 0 otherwise), df its DF bit. */
enum ip_out {
	IP_OUT_SEND,      /* as it is */
	IP_OUT_FRAGMENT,  /* ip_fragment to *cut bytes */
	IP_OUT_TOO_BIG,   /* DF: ICMP fragmentation needed with the route's mtu */
};
enum ip_out ip_out_decide(size_t len, unsigned mtu, unsigned fmax, bool df, unsigned *cut);

/*
 * IPv6 on output.  Routers never fragment IPv6 (RFC 8200 §5): a packet over
 * the route's MTU gets Packet Too Big.  The exception is a datagram gw
 * reassembled itself (fmax = frag_max_size, as conntrack's defrag sets
 * IP6CB frag_max_size and ignore_df): Linux sends it on in fragments again,
 * so that reassembly before conntrack stays invisible on the wire.
 *
 * ip6_out_decide (ip6_forward's ip6_pkt_too_big, then __ip6_finish_output
 * and ip6_fragment), for a datagram of len bytes toward a route of mtu
 * (0: no limit):
 *   fmax == 0                      len <= mtu: IP_OUT_SEND; else TOO_BIG
 *   len > mtu and fmax > mtu       IP_OUT_TOO_BIG (its own fragments do not
 *                                  fit: Packet Too Big with the mtu)
 *   len <= mtu and len <= fmax     IP_OUT_SEND (one fragment held it all)
 *   otherwise                      IP_OUT_FRAGMENT, *cut = fmax: also when
 *                                  the whole fits the mtu (Linux
 *                                  refragments whenever len > frag_max_size)
 * *cut is the mtu (the Packet Too Big value) in the other cases.  Linux's
 * ip6_fragment keeps the received fragments as they were when it can (the
 * fast path over the reassembled skb's frag_list) and cuts at
 * max(frag_max_size, 1280) otherwise; cutting at fmax gives the received
 * pieces back whenever the sender made every non-last fragment the same
 * size, which is what senders do, and never sends pieces larger than those
 * received.  The route's mtu is not raised to 1280 here (ip6_forward
 * does: an IPv6 link has at least that).
 *
 * ip6_fragment (ip6_fragment's slow path) splits the IPv6 datagram
 * pkt[0 .. len) into fragments of at most mtu bytes: each carries the
 * unfragmentable part (the IPv6 header, hop-by-hop, routing, and the
 * destination options not after a routing header: ip6_find_1stfragopt)
 * with the next-header byte that ended it set to 44, then a fragment header
 * (its next header the one that byte had, offset, M on all but the last,
 * identification id), then the next piece of the rest: a multiple of 8
 * bytes in all but the last.  The payload length is fixed; nothing else
 * changes (no checksum covers the IPv6 header).  Linux takes a new id for
 * the refragmented datagram (ipv6_select_ident over the addresses it
 * leaves with, after NAT), not the received one: the caller chooses (a
 * random one, like Linux's; the received id would collide when NAT66 maps
 * two sources that picked the same id to one address).  Returns the number
 * of fragments, -EMSGSIZE when mtu cannot hold the unfragmentable part,
 * the fragment header and 8 data bytes or exceeds cap, -EINVAL when pkt is
 * not a whole IPv6 datagram (its extension headers run past len, it has a
 * fragment header already, or nothing follows the unfragmentable part);
 * nothing is emitted then.
 */
enum ip_out ip6_out_decide(size_t len, unsigned mtu, unsigned fmax, unsigned *cut);
int ip6_fragment(const uint8_t *pkt, size_t len, unsigned mtu, uint32_t id, uint8_t *out,
		 size_t cap, frag_emit_fn *emit, void *ctx);

#endif
