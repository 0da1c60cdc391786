/* SPDX-License-Identifier: MIT */
/*
 * frag — IPv4 and IPv6 reassembly, following Linux ip_fragment.c,
 * nf_conntrack_reasm.c (nf_ct_frag6_gather) and inet_fragment.c.
 *
 * Queues: a fixed array, chained in a hash on the key (IPv4: src, dst, id,
 * proto; IPv6: src, dst, id -- ip6_frag_match has no protocol) and kept on
 * one list per family in creation order.  Every queue of a family has the
 * same lifetime and Linux does not extend it when fragments arrive (the
 * timer is armed once in inet_frag_create), so creation order is deadline
 * order: frag_expire pops from the heads, and eviction takes the older head
 * (the oldest queue of either family).
 *
 * Timers: deadline = first fragment's now + the family's timeout (IPv4
 * timeout_ns, IPv6 timeout6_ns); due when now >= deadline.  Nothing else
 * runs on time.
 *
 * Data: payload goes straight to its place in the datagram, in 512-byte
 * blocks taken from one pool sized by max_bytes (the budget is whole
 * blocks: a 8-byte fragment costs 512, as an skb's truesize would).  Each
 * block carries two bitmaps over its 8-byte units: which are held, and where
 * a "run" starts.  Offsets are multiples of 8 and every fragment but the
 * last ends on a multiple of 8, so units describe the data exactly.
 *
 * Runs (inet_frag_queue_insert): a fragment that begins exactly at the end
 * of the highest fragment so far extends that run; any other new fragment
 * starts one.  A fragment lying inside one run is a duplicate (ignored);
 * one that touches queued data otherwise is an overlap (RFC 5722 §4 with
 * erratum 3089: the whole queue goes).
 *
 * IPv6 (nf_ct_frag6_queue/nf_ct_frag6_reasm): the header kept is the first
 * fragment's unfragmentable part and its fragment header (hlen bytes: the
 * first HDR_INLINE in the queue, the rest in pool blocks chained through
 * their held word, so a long chain of extension headers costs budget like
 * data).  Offsets and ends count from the byte after the fragment header.
 * Where IPv4 kills the queue (a last fragment that disagrees on the end,
 * data past the last fragment, an empty fragment) nf_ct_frag6_queue only
 * drops the fragment ("goto err"); a non-last fragment that does not end on
 * a multiple of 8 kills it.  A first fragment without its upper-layer
 * header (ipv6frag_thdr_truncated: 20 bytes of TCP, 8 of UDP or ICMPv6, one
 * of anything else) is refused before any queue is looked up; Linux hands it
 * on unreassembled and conntrack sees it untracked, gw drops it.  The
 * reassembled datagram drops the fragment header: the next-header byte that
 * pointed at it (the IPv6 header's or the last unfragmentable extension
 * header's) takes the fragment header's, and the payload length is the
 * unfragmentable part's extension headers plus the data, at most 65535.
 * ECN merges as for IPv4 (ip6_frag_ecn); IPv6 has no DF.
 *
 * Not modelled: ipfrag_max_dist (per-peer reordering distance), the l3mdev
 * and defrag-user parts of the key, and IPv6's input interface in the key
 * (Linux adds it for link-local and multicast destinations, which gw never
 * forwards).  Linux since 4.17 refuses new queues when
 * over ipfrag_high_thresh; gw evicts the oldest (as Linux did before, down
 * to ipfrag_low_thresh) because its budget is a hard limit that existing
 * queues may not overrun.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/frag.h"
#include "nat/pkt/pkt.h"
#include "nat/pkt/proto.h"
#include "nat/pkt/siphash.h"

enum {
	BLOCK = 512,
	HDR_INLINE = 64,                      /* header bytes kept in the queue */
	UNIT = 8,
	UNITS = BLOCK / UNIT,                 /* 64: one uint64_t per bitmap */
	NBLK = (FRAG_MAX_DATAGRAM + 1) / BLOCK, /* 128 blocks cover 65536 bytes */
	MAX_QUEUES = 1 << 20,
};
#define NIL UINT32_MAX
#define MAX_BYTES ((size_t)1 << 30)
#define NS_PER_S 1000000000ULL

/* struct queue.flags */
enum { Q_FIRST_IN = 1, Q_LAST_IN = 2 };

/* ECN code points seen (ip4_frag_ecn) and how they merge (ip_frag_ecn_table):
 * CE with ECT gives CE; not-ECT mixed with anything else is invalid. */
enum { ECN_NOT_ECT = 1, ECN_ECT_1 = 2, ECN_ECT_0 = 4, ECN_CE = 8 };
static const uint8_t ecn_seen[4] = { ECN_NOT_ECT, ECN_ECT_1, ECN_ECT_0, ECN_CE };

static uint8_t ecn_merge(uint8_t seen)
{
	if (seen & ECN_NOT_ECT)
		return seen == ECN_NOT_ECT ? 0 : 0xff;
	return seen & ECN_CE && seen & (ECN_ECT_0 | ECN_ECT_1) ? 3 : 0;
}

struct block {
	uint64_t held;    /* bit u: bytes [8u, 8u + 8) of this block are queued */
	uint64_t start;   /* bit u: a run starts at unit u */
	uint8_t data[BLOCK];
};

struct queue {
	union nf_addr src, dst;
	uint32_t id;
	uint8_t family;       /* NF_V4, NF_V6 */
	uint8_t proto;        /* IPv4 only (part of its key) */
	uint8_t flags;        /* Q_* */
	uint8_t ecn;          /* ECN_* seen */
	uint16_t hlen;        /* first fragment's header length; 0 until FIRST_IN.
	                       * IPv6: the unfragmentable part and the fragment
	                       * header */
	uint16_t nhoff;       /* IPv6: the next-header byte that points at the
	                       * fragment header (from the first fragment) */
	uint16_t len;         /* datagram payload length as known so far (q->len) */
	uint16_t tail;        /* end of the highest fragment; 0 when empty */
	uint16_t first_len;   /* payload bytes of the first fragment */
	uint16_t max_size;    /* largest fragment (total length) */
	uint16_t max_df_size; /* largest fragment with DF set */
	uint32_t meat;        /* payload bytes queued: == len when complete */
	uint32_t hnext;       /* hash chain; free list when unused */
	uint32_t bucket;      /* the hash bucket it is chained in */
	uint32_t older, newer; /* creation-order list of its family */
	uint32_t hspill;      /* header bytes past HDR_INLINE: first block, or NIL */
	uint64_t deadline;
	uint8_t hdr[HDR_INLINE]; /* first fragment's header as received (start) */
	uint32_t blk[NBLK];   /* block holding payload [512 i, 512 i + 512), or NIL */
};

/* The creation-order list a family's queues are on. */
static unsigned list_of(uint8_t family)
{
	return family == NF_V6;
}

struct frag {
	struct frag_config cfg;
	struct queue *q;
	uint32_t *bucket;
	uint32_t mask;
	uint32_t free_q;            /* unused queues, through hnext */
	uint32_t oldest[2], newest[2]; /* creation-order list ends (list_of) */
	uint64_t timeout[2];        /* per list: timeout_ns, timeout6_ns */
	struct block *blocks;
	uint32_t *free_blk;         /* stack of unused block indices */
	uint32_t nfree_blk, nblocks;
	uint64_t k0, k1;
	uint16_t done_max_size;     /* frag_max_size() */
	struct frag_stats st;
	uint8_t quote[FRAG_QUOTE_MAX6];
};

/* ------------------------------------------------------------------ hash */

static uint32_t bucket_of(const struct frag *f, const struct pkt_hdr *h)
{
	uint64_t w[5];

	if (h->family != NF_V6)
		return siphash13_2u64((uint64_t)h->saddr.ip << 32 | h->daddr.ip,
				      (uint64_t)h->id << 8 | h->proto, f->k0, f->k1) & f->mask;
	memcpy(w, h->saddr.b, 16);
	memcpy(w + 2, h->daddr.b, 16);
	w[4] = (uint64_t)NF_V6 << 32 | h->id;
	return siphash13_u64s(w, 5, f->k0, f->k1) & f->mask;
}

/* ------------------------------------------------------------ life cycle */

void frag_config_default(struct frag_config *cfg)
{
	cfg->max_queues = 1024;
	cfg->max_bytes = 4u << 20;
	cfg->timeout_ns = 30 * NS_PER_S;
	cfg->timeout6_ns = 60 * NS_PER_S;
	cfg->hash_seed = 0;
}

int frag_create(struct frag **out, const struct frag_config *cfg)
{
	struct frag *f;
	uint64_t nb, seed;

	*out = NULL;
	if (!cfg->max_queues || cfg->max_queues > MAX_QUEUES ||
	    cfg->max_bytes < BLOCK || cfg->max_bytes > MAX_BYTES || !cfg->timeout_ns)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	nb = 2 * (uint64_t)cfg->max_queues;
	nb = 1ULL << (64 - __builtin_clzll(nb - 1));
	f->nblocks = (uint32_t)(cfg->max_bytes / BLOCK);
	f->q = calloc(cfg->max_queues, sizeof(*f->q));
	f->bucket = malloc(nb * sizeof(*f->bucket));
	f->blocks = malloc((size_t)f->nblocks * sizeof(*f->blocks));
	f->free_blk = malloc((size_t)f->nblocks * sizeof(*f->free_blk));
	if (!f->q || !f->bucket || !f->blocks || !f->free_blk) {
		frag_destroy(f);
		return -ENOMEM;
	}
	memset(f->bucket, 0xff, nb * sizeof(*f->bucket));
	f->mask = (uint32_t)(nb - 1);
	for (uint32_t i = 0; i < cfg->max_queues; i++)
		f->q[i].hnext = i + 1 < cfg->max_queues ? i + 1 : NIL;
	f->free_q = 0;
	f->oldest[0] = f->oldest[1] = f->newest[0] = f->newest[1] = NIL;
	f->timeout[0] = cfg->timeout_ns;
	f->timeout[1] = cfg->timeout6_ns ? cfg->timeout6_ns : cfg->timeout_ns;
	for (uint32_t i = 0; i < f->nblocks; i++)
		f->free_blk[i] = f->nblocks - 1 - i;
	f->nfree_blk = f->nblocks;
	seed = cfg->hash_seed;
	f->k0 = splitmix64(&seed);
	f->k1 = splitmix64(&seed);
	f->st.max_queues = cfg->max_queues;
	f->st.max_bytes = (size_t)f->nblocks * BLOCK;
	*out = f;
	return 0;
}

void frag_destroy(struct frag *f)
{
	if (!f)
		return;
	free(f->free_blk);
	free(f->blocks);
	free(f->bucket);
	free(f->q);
	free(f);
}

void frag_get_stats(const struct frag *f, struct frag_stats *st)
{
	*st = f->st;
	st->bytes = (size_t)(f->nblocks - f->nfree_blk) * BLOCK;
}

/* The list whose head is due first (deadline order); -1 when both are empty. */
static int next_due(const struct frag *f)
{
	if (f->oldest[0] == NIL)
		return f->oldest[1] == NIL ? -1 : 1;
	if (f->oldest[1] == NIL)
		return 0;
	return f->q[f->oldest[1]].deadline < f->q[f->oldest[0]].deadline;
}

uint64_t frag_next_deadline(const struct frag *f)
{
	int l = next_due(f);

	return l < 0 ? UINT64_MAX : f->q[f->oldest[l]].deadline;
}

uint16_t frag_max_size(const struct frag *f)
{
	return f->done_max_size;
}

/* ---------------------------------------------------------------- queues */

static struct queue *find(struct frag *f, uint32_t bucket, const struct pkt_hdr *h)
{
	if (h->family != NF_V6) {
		for (uint32_t i = f->bucket[bucket]; i != NIL; i = f->q[i].hnext) {
			struct queue *q = &f->q[i];

			if (q->src.ip == h->saddr.ip && q->dst.ip == h->daddr.ip &&
			    q->id == h->id && q->proto == h->proto && q->family == NF_V4)
				return q;
		}
		return NULL;
	}
	for (uint32_t i = f->bucket[bucket]; i != NIL; i = f->q[i].hnext) {
		struct queue *q = &f->q[i];

		if (q->id == h->id && q->family == NF_V6 && nf_addr_eq(&q->src, &h->saddr) &&
		    nf_addr_eq(&q->dst, &h->daddr))
			return q;
	}
	return NULL;
}

/* Unlink q from its hash chain and the creation list, free its blocks and
 * the queue itself. */
static void queue_free(struct frag *f, struct queue *q)
{
	uint32_t qi = (uint32_t)(q - f->q);
	uint32_t *pp = &f->bucket[q->bucket];
	unsigned l = list_of(q->family);

	while (*pp != qi)
		pp = &f->q[*pp].hnext;
	*pp = q->hnext;
	if (q->older != NIL)
		f->q[q->older].newer = q->newer;
	else
		f->oldest[l] = q->newer;
	if (q->newer != NIL)
		f->q[q->newer].older = q->older;
	else
		f->newest[l] = q->older;
	for (unsigned b = 0; b < (q->tail + BLOCK - 1u) / BLOCK; b++)  /* tail: highest end */
		if (q->blk[b] != NIL)
			f->free_blk[f->nfree_blk++] = q->blk[b];
	for (uint32_t b = q->hspill; b != NIL; b = (uint32_t)f->blocks[b].held)
		f->free_blk[f->nfree_blk++] = b;
	q->hnext = f->free_q;
	f->free_q = qi;
	f->st.queues--;
}

/* A queue dropped before completion (inet_frag_kill + REASMFAILS). */
static void queue_kill(struct frag *f, struct queue *q, uint64_t *counter)
{
	f->st.fails++;
	if (counter)
		(*counter)++;
	queue_free(f, q);
}

/* The oldest queue other than keep (created first: deadline less its
 * family's timeout), or NIL. */
static uint32_t oldest_but(const struct frag *f, const struct queue *keep)
{
	uint32_t v[2];

	for (unsigned l = 0; l < 2; l++) {
		v[l] = f->oldest[l];
		if (v[l] != NIL && &f->q[v[l]] == keep)
			v[l] = keep->newer;
	}
	if (v[0] == NIL || v[1] == NIL)
		return v[0] == NIL ? v[1] : v[0];
	return f->q[v[1]].deadline - f->timeout[1] < f->q[v[0]].deadline - f->timeout[0] ?
	       v[1] : v[0];
}

static struct queue *queue_new(struct frag *f, uint32_t bucket,
			       const struct pkt_hdr *h, uint64_t now)
{
	unsigned l = list_of(h->family);
	struct queue *q;
	uint32_t qi;

	if (f->free_q == NIL)
		queue_kill(f, &f->q[oldest_but(f, NULL)], &f->st.evicted);
	qi = f->free_q;
	q = &f->q[qi];
	f->free_q = q->hnext;
	memset(q, 0, offsetof(struct queue, hdr));
	memset(q->blk, 0xff, sizeof(q->blk));
	q->src = h->saddr;
	q->dst = h->daddr;
	q->id = h->id;
	q->family = h->family;
	q->proto = h->family == NF_V6 ? 0 : h->proto;
	q->hspill = NIL;
	q->deadline = now + f->timeout[l];
	q->bucket = bucket;
	q->hnext = f->bucket[bucket];
	f->bucket[bucket] = qi;
	q->older = f->newest[l];
	q->newer = NIL;
	if (f->newest[l] != NIL)
		f->q[f->newest[l]].newer = qi;
	else
		f->oldest[l] = qi;
	f->newest[l] = qi;
	f->st.queues++;
	return q;
}

/* ---------------------------------------------------------------- blocks */

/* Bits lo .. hi - 1 (0 <= lo < hi <= 64). */
static uint64_t bits(unsigned lo, unsigned hi)
{
	uint64_t upto = hi == 64 ? ~0ULL : (1ULL << hi) - 1;

	return upto & ~((1ULL << lo) - 1);
}

enum place { PLACE_NEW, PLACE_DUP, PLACE_OVERLAP };

/* Where units [u0, u1) fall among the queued runs. */
static enum place classify(const struct frag *f, const struct queue *q,
			   unsigned u0, unsigned u1)
{
	bool any = false, all = true, split = false;

	for (unsigned u = u0; u < u1; u = (u / UNITS + 1) * UNITS) {
		unsigned b = u / UNITS, base = b * UNITS;
		unsigned hi = u1 - base < UNITS ? u1 - base : UNITS;
		uint64_t m = bits(u - base, hi), held = 0, start = 0;

		if (q->blk[b] != NIL) {
			held = f->blocks[q->blk[b]].held & m;
			start = f->blocks[q->blk[b]].start & m;
		}
		if (u == u0)
			start &= ~(1ULL << (u - base));
		any |= held != 0;
		all &= held == m;
		split |= start != 0;
	}
	if (!any)
		return PLACE_NEW;
	return all && !split ? PLACE_DUP : PLACE_OVERLAP;
}

/* Blocks [offset, end) needs that q does not have yet. */
static uint32_t blocks_missing(const struct queue *q, unsigned offset, unsigned end)
{
	uint32_t n = 0;

	for (unsigned b = offset / BLOCK; b <= (end - 1) / BLOCK; b++)
		n += q->blk[b] == NIL;
	return n;
}

/* Evict the oldest queues other than keep until need blocks are free. */
static bool make_room(struct frag *f, const struct queue *keep, uint32_t need)
{
	while (f->nfree_blk < need) {
		uint32_t v = oldest_but(f, keep);

		if (v == NIL)
			return false;
		queue_kill(f, &f->q[v], &f->st.evicted);
	}
	return true;
}

/* Blocks a header of n bytes takes beyond the queue's own HDR_INLINE. */
static uint32_t hdr_blocks(size_t n)
{
	return n > HDR_INLINE ? (uint32_t)((n - HDR_INLINE + BLOCK - 1) / BLOCK) : 0;
}

/* Keep the first fragment's header src[0 .. n) (hdr_blocks(n) are free). */
static void hdr_store(struct frag *f, struct queue *q, const uint8_t *src, size_t n)
{
	uint32_t prev = NIL;

	memcpy(q->hdr, src, n < HDR_INLINE ? n : HDR_INLINE);
	for (size_t pos = HDR_INLINE; pos < n; pos += BLOCK) {
		uint32_t b = f->free_blk[--f->nfree_blk];

		memcpy(f->blocks[b].data, src + pos, n - pos < BLOCK ? n - pos : BLOCK);
		f->blocks[b].held = NIL;
		if (prev == NIL)
			q->hspill = b;
		else
			f->blocks[prev].held = b;
		prev = b;
	}
	q->hlen = (uint16_t)n;
}

/* The first n bytes of the kept header. */
static void hdr_copy(const struct frag *f, const struct queue *q, uint8_t *dst, size_t n)
{
	uint32_t b = q->hspill;

	memcpy(dst, q->hdr, n < HDR_INLINE ? n : HDR_INLINE);
	for (size_t pos = HDR_INLINE; pos < n; pos += BLOCK, b = (uint32_t)f->blocks[b].held)
		memcpy(dst + pos, f->blocks[b].data, n - pos < BLOCK ? n - pos : BLOCK);
}

/* Copy payload to [offset, end) and mark its units; new_run sets a run
 * start.  The blocks are there (blocks_missing/make_room). */
static void store(struct frag *f, struct queue *q, const uint8_t *data,
		  unsigned offset, unsigned end, bool new_run)
{
	unsigned u1 = (end + UNIT - 1) / UNIT;

	for (unsigned pos = offset; pos < end; ) {
		unsigned b = pos / BLOCK, base = b * BLOCK;
		unsigned stop = end - base < BLOCK ? end - base : BLOCK;
		unsigned uhi = u1 - b * UNITS < UNITS ? u1 - b * UNITS : UNITS;
		struct block *blk;

		if (q->blk[b] == NIL) {
			q->blk[b] = f->free_blk[--f->nfree_blk];
			blk = &f->blocks[q->blk[b]];
			blk->held = blk->start = 0;
		}
		blk = &f->blocks[q->blk[b]];
		memcpy(blk->data + (pos - base), data + (pos - offset), stop - (pos - base));
		blk->held |= bits((pos - base) / UNIT, uhi);
		if (pos == offset && new_run)
			blk->start |= 1ULL << ((pos - base) / UNIT);
		pos = base + stop;
	}
}

/* Copy payload [0, len) out of q's blocks. */
static void copy_out(const struct frag *f, const struct queue *q, uint8_t *out,
		     unsigned len)
{
	for (unsigned pos = 0; pos < len; pos += BLOCK) {
		unsigned n = len - pos < BLOCK ? len - pos : BLOCK;

		memcpy(out + pos, f->blocks[q->blk[pos / BLOCK]].data, n);
	}
}

/* ----------------------------------------------------------------- input */

static enum frag_result drop(struct frag *f, enum frag_drop_reason why)
{
	f->st.drop[why]++;
	return FRAG_DROP;
}

static enum frag_result kill_drop(struct frag *f, struct queue *q,
				  enum frag_drop_reason why, uint64_t *counter)
{
	queue_kill(f, q, counter);
	return drop(f, why);
}

/* ip_frag_reasm: q holds every byte.  The queue is freed either way. */
static enum frag_result reassemble(struct frag *f, struct queue *q, uint8_t *out,
				   size_t cap, size_t *out_len)
{
	size_t total = (size_t)q->hlen + q->len;
	uint8_t ecn = ecn_merge(q->ecn);

	if (ecn == 0xff)
		return kill_drop(f, q, FRAG_DROP_INVALID, NULL);
	if (total > FRAG_MAX_DATAGRAM || total > cap)
		return kill_drop(f, q, FRAG_DROP_TOO_BIG, NULL);
	memcpy(out, q->hdr, q->hlen);
	out[IP4H_TOS] |= ecn;
	be16_put(out + IP4H_TOTLEN, (uint16_t)total);
	be16_put(out + IP4H_FRAG, q->max_df_size == q->max_size ? IP4_DF : 0);
	be16_put(out + IP4H_CSUM, 0);
	be16_put(out + IP4H_CSUM, csum_ip(out, q->hlen));
	copy_out(f, q, out + q->hlen, q->len);
	*out_len = total;
	f->done_max_size = q->max_size;
	f->st.oks++;
	queue_free(f, q);
	return FRAG_DONE;
}

/* nf_ct_frag6_reasm: the first fragment's unfragmentable part, the data
 * after it; the fragment header goes.  The queue is freed either way. */
static enum frag_result reassemble6(struct frag *f, struct queue *q, uint8_t *out,
				    size_t cap, size_t *out_len)
{
	size_t unfrag = (size_t)q->hlen - IP6FH_LEN;
	size_t plen = unfrag - IP6H_LEN + q->len;
	uint8_t ecn = ecn_merge(q->ecn);

	if (ecn == 0xff)
		return kill_drop(f, q, FRAG_DROP_INVALID, NULL);
	if (plen > IP6H_MAXPLEN || unfrag + q->len > cap)
		return kill_drop(f, q, FRAG_DROP_TOO_BIG, NULL);
	/* the fragment header lands where the data goes: its next header first */
	hdr_copy(f, q, out, q->hlen);
	out[q->nhoff] = out[unfrag + IP6X_NEXT];
	be16_put(out + IP6H_PLEN, (uint16_t)plen);
	out[1] |= (uint8_t)(ecn << 4);  /* ipv6_change_dsfield(0xff, ecn) */
	copy_out(f, q, out + unfrag, q->len);
	*out_len = unfrag + q->len;
	f->done_max_size = q->max_size;
	f->st.oks++;
	queue_free(f, q);
	return FRAG_DONE;
}

/* find_prev_fhdr: the offset (from the IPv6 header ip) of the next-header
 * byte naming the fragment header at fh.  pkt_parse walked this chain. */
static uint16_t prev_nexthdr(const uint8_t *ip, unsigned fh)
{
	unsigned at = IP6H_LEN, nhoff = IP6H_NEXT;
	uint8_t nh = ip[IP6H_NEXT];

	while (at < fh) {
		nhoff = at;
		at += nh == IPPROTO_AH ? (ip[at + IP6X_LEN] + 2u) * 4 : (ip[at + IP6X_LEN] + 1u) * 8;
		nh = ip[nhoff + IP6X_NEXT];
	}
	return (uint16_t)nhoff;
}

/* ipv6frag_thdr_truncated: a first fragment must hold its upper-layer
 * header (RFC 8200 §4.5); "no next header" has none. */
static bool thdr_truncated(const struct pkt_hdr *h)
{
	unsigned need = h->proto == IPPROTO_TCP ? TCPH_LEN :
			h->proto == IPPROTO_UDP ? UDPH_LEN :
			h->proto == IPPROTO_ICMPV6 ? ICMP6H_LEN :
			h->proto == IP6_NEXT_NONE ? 0 : 1;

	return (unsigned)(h->end - h->l4) < need;
}

enum frag_result frag_add(struct frag *f, uint64_t now, const struct pkt *p,
			  uint8_t *out, size_t cap, size_t *out_len)
{
	const struct pkt_hdr *h = &p->outer;
	bool v6 = h->family == NF_V6;
	unsigned doff = v6 ? h->frag_hdr + IP6FH_LEN : h->l4;  /* fragment data */
	const uint8_t *payload = p->data + doff;
	unsigned hlen = doff - h->ip;
	unsigned offset = h->frag_off, end = offset + (unsigned)(h->end - doff);
	uint32_t bucket;
	struct queue *q;
	enum place where;
	uint32_t need;
	unsigned size;

	*out_len = 0;
	f->st.reqds++;
	if (!(h->flags & PKT_F_FRAG) || (v6 && !h->frag_hdr))
		return drop(f, FRAG_DROP_INVALID);
	if (end > FRAG_MAX_DATAGRAM)
		return drop(f, FRAG_DROP_TOO_BIG);  /* pkt_parse refuses these */
	if (v6 && !offset && thdr_truncated(h))
		return drop(f, FRAG_DROP_INVALID);

	bucket = bucket_of(f, h);
	q = find(f, bucket, h);
	if (q && now >= q->deadline) {
		queue_kill(f, q, &f->st.timeouts);
		q = NULL;
	}
	if (!q)
		q = queue_new(f, bucket, h, now);

	/* ip_frag_queue / nf_ct_frag6_queue: where the datagram ends.  Where
	 * IPv4 kills the queue, IPv6 drops the fragment only. */
	if (!(h->flags & PKT_F_MF)) {
		if (end < q->len || (q->flags & Q_LAST_IN && end != q->len))
			goto invalid;
		q->flags |= Q_LAST_IN;
		q->len = (uint16_t)end;
	} else {
		if (v6 && end % UNIT)  /* pkt_parse refuses these */
			return kill_drop(f, q, FRAG_DROP_INVALID, NULL);
		end &= ~(unsigned)(UNIT - 1);
		if (end > q->len) {
			if (q->flags & Q_LAST_IN)
				goto invalid;
			q->len = (uint16_t)end;
		}
	}
	if (end <= offset)
		goto invalid;

	/* inet_frag_queue_insert. */
	if (!q->tail)
		where = PLACE_NEW;
	else if (end > q->tail)
		where = offset < q->tail ? PLACE_OVERLAP : PLACE_NEW;
	else
		where = classify(f, q, offset / UNIT, (end + UNIT - 1) / UNIT);
	if (where == PLACE_DUP)
		return drop(f, FRAG_DROP_DUP);
	if (where == PLACE_OVERLAP) {
		f->st.overlaps++;
		return kill_drop(f, q, FRAG_DROP_OVERLAP, NULL);
	}

	need = blocks_missing(q, offset, end) + (offset ? 0 : hdr_blocks(hlen));
	if (!make_room(f, q, need))
		return kill_drop(f, q, FRAG_DROP_NOMEM, NULL);
	store(f, q, payload, offset, end, !(q->tail && offset == q->tail));
	if (end > q->tail)
		q->tail = (uint16_t)end;
	q->meat += end - offset;
	q->ecn |= ecn_seen[v6 ? p->data[h->ip + 1] >> 4 & 3 : p->data[h->ip + IP4H_TOS] & 3];
	if (offset == 0) {
		q->flags |= Q_FIRST_IN;
		q->first_len = (uint16_t)(end - offset);
		hdr_store(f, q, p->data + h->ip, hlen);
		if (v6)
			q->nhoff = prev_nexthdr(p->data + h->ip, h->frag_hdr - h->ip);
	}
	/* the fragment's total length (IPv6: 40 + its payload length) */
	size = v6 ? (unsigned)(h->end - h->ip) : hlen + end - offset;
	if (size > q->max_size)
		q->max_size = (uint16_t)size;
	if (h->flags & PKT_F_DF && size > q->max_df_size)
		q->max_df_size = (uint16_t)size;

	if (q->flags == (Q_FIRST_IN | Q_LAST_IN) && q->meat == q->len)
		return v6 ? reassemble6(f, q, out, cap, out_len) : reassemble(f, q, out, cap, out_len);
	return FRAG_PENDING;

invalid:
	if (v6)
		return drop(f, FRAG_DROP_INVALID);
	return kill_drop(f, q, FRAG_DROP_INVALID, NULL);
}

/* ---------------------------------------------------------------- expiry */

unsigned frag_expire(struct frag *f, uint64_t now, frag_timeout_fn *fn, void *ctx)
{
	unsigned n = 0;
	int l;

	while ((l = next_due(f)) >= 0 && f->q[f->oldest[l]].deadline <= now) {
		struct queue *q = &f->q[f->oldest[l]];
		size_t max = q->family == NF_V6 ? FRAG_QUOTE_MAX6 : FRAG_QUOTE_MAX;
		size_t len = 0;

		if (q->flags & Q_FIRST_IN && fn) {
			size_t head = q->hlen < max ? q->hlen : max;
			size_t data = q->first_len;

			if (data > max - head)
				data = max - head;
			hdr_copy(f, q, f->quote, head);
			copy_out(f, q, f->quote + head, (unsigned)data);
			len = head + data;
		}
		queue_kill(f, q, &f->st.timeouts);
		if (len)
			fn(ctx, f->quote, len);
		n++;
	}
	return n;
}
