/* SPDX-License-Identifier: MIT */
/*
 * frag — IPv4 reassembly, following Linux ip_fragment.c / inet_fragment.c.
 *
 * Queues: a fixed array, chained in a hash on (src, dst, id, proto) and kept
 * on one list in creation order.  Every queue has the same lifetime and
 * Linux does not extend it when fragments arrive (the timer is armed once in
 * inet_frag_create), so creation order is deadline order: frag_expire pops
 * from the head, and eviction takes the head too (the oldest queue).
 *
 * Timers: deadline = first fragment's now + timeout_ns; due when now >=
 * deadline.  Nothing else runs on time.
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
 * Not modelled: ipfrag_max_dist (per-peer reordering distance), the l3mdev
 * and defrag-user parts of the key.  Linux since 4.17 refuses new queues when
 * over ipfrag_high_thresh; gw evicts the oldest (as Linux did before, down
 * to ipfrag_low_thresh) because its budget is a hard limit that existing
 * queues may not overrun.
 */
#include <errno.h>
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
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	uint8_t flags;        /* Q_* */
	uint8_t ecn;          /* ECN_* seen */
	uint8_t hlen;         /* first fragment's header length; 0 until FIRST_IN */
	uint16_t len;         /* datagram payload length as known so far (q->len) */
	uint16_t tail;        /* end of the highest fragment; 0 when empty */
	uint16_t first_len;   /* payload bytes of the first fragment */
	uint16_t max_size;    /* largest fragment (total length) */
	uint16_t max_df_size; /* largest fragment with DF set */
	uint32_t meat;        /* payload bytes queued: == len when complete */
	uint32_t hnext;       /* hash chain; free list when unused */
	uint32_t older, newer; /* creation-order list */
	uint64_t deadline;
	uint8_t hdr[IP4H_MAX]; /* first fragment's header as received */
	uint32_t blk[NBLK];   /* block holding payload [512 i, 512 i + 512), or NIL */
};

struct frag {
	struct frag_config cfg;
	struct queue *q;
	uint32_t *bucket;
	uint32_t mask;
	uint32_t free_q;            /* unused queues, through hnext */
	uint32_t oldest, newest;    /* creation-order list ends */
	struct block *blocks;
	uint32_t *free_blk;         /* stack of unused block indices */
	uint32_t nfree_blk, nblocks;
	uint64_t k0, k1;
	uint16_t done_max_size;     /* frag_max_size() */
	struct frag_stats st;
	uint8_t quote[FRAG_QUOTE_MAX];
};

/* ------------------------------------------------------------------ hash */

static uint32_t *bucket_of(struct frag *f, uint32_t src, uint32_t dst,
			   uint16_t id, uint8_t proto)
{
	uint32_t h = siphash13_2u64((uint64_t)src << 32 | dst,
				    (uint64_t)id << 8 | proto, f->k0, f->k1);

	return &f->bucket[h & f->mask];
}

/* ------------------------------------------------------------ life cycle */

void frag_config_default(struct frag_config *cfg)
{
	cfg->max_queues = 1024;
	cfg->max_bytes = 4u << 20;
	cfg->timeout_ns = 30 * NS_PER_S;
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
	f->oldest = f->newest = NIL;
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

uint64_t frag_next_deadline(const struct frag *f)
{
	return f->oldest == NIL ? UINT64_MAX : f->q[f->oldest].deadline;
}

uint16_t frag_max_size(const struct frag *f)
{
	return f->done_max_size;
}

/* ---------------------------------------------------------------- queues */

static struct queue *find(struct frag *f, uint32_t *head, const struct pkt_hdr *h)
{
	for (uint32_t i = *head; i != NIL; i = f->q[i].hnext) {
		struct queue *q = &f->q[i];

		if (q->src == h->saddr.ip && q->dst == h->daddr.ip && q->id == h->id &&
		    q->proto == h->proto)
			return q;
	}
	return NULL;
}

/* Unlink q from its hash chain and the creation list, free its blocks and
 * the queue itself. */
static void queue_free(struct frag *f, struct queue *q)
{
	uint32_t qi = (uint32_t)(q - f->q);
	uint32_t *pp = bucket_of(f, q->src, q->dst, q->id, q->proto);

	while (*pp != qi)
		pp = &f->q[*pp].hnext;
	*pp = q->hnext;
	if (q->older != NIL)
		f->q[q->older].newer = q->newer;
	else
		f->oldest = q->newer;
	if (q->newer != NIL)
		f->q[q->newer].older = q->older;
	else
		f->newest = q->older;
	for (unsigned b = 0; b < (q->tail + BLOCK - 1u) / BLOCK; b++)  /* tail: highest end */
		if (q->blk[b] != NIL)
			f->free_blk[f->nfree_blk++] = q->blk[b];
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

static struct queue *queue_new(struct frag *f, uint32_t *head,
			       const struct pkt_hdr *h, uint64_t now)
{
	struct queue *q;
	uint32_t qi;

	if (f->free_q == NIL)
		queue_kill(f, &f->q[f->oldest], &f->st.evicted);
	qi = f->free_q;
	q = &f->q[qi];
	f->free_q = q->hnext;
	memset(q, 0, offsetof(struct queue, hdr));
	memset(q->blk, 0xff, sizeof(q->blk));
	q->src = h->saddr.ip;
	q->dst = h->daddr.ip;
	q->id = h->id;
	q->proto = h->proto;
	q->deadline = now + f->cfg.timeout_ns;
	q->hnext = *head;
	*head = qi;
	q->older = f->newest;
	q->newer = NIL;
	if (f->newest != NIL)
		f->q[f->newest].newer = qi;
	else
		f->oldest = qi;
	f->newest = qi;
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
		uint32_t v = f->oldest;

		if (&f->q[v] == keep)
			v = keep->newer;
		if (v == NIL)
			return false;
		queue_kill(f, &f->q[v], &f->st.evicted);
	}
	return true;
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

enum frag_result frag_add(struct frag *f, uint64_t now, const struct pkt *p,
			  uint8_t *out, size_t cap, size_t *out_len)
{
	const struct pkt_hdr *h = &p->outer;
	const uint8_t *payload = p->data + h->l4;
	unsigned hlen = (unsigned)(h->l4 - h->ip);
	unsigned offset = h->frag_off, end = offset + (unsigned)(h->end - h->l4);
	uint32_t *head;
	struct queue *q;
	enum place where;
	uint32_t need;

	*out_len = 0;
	f->st.reqds++;
	/* IPv6 fragments are not reassembled here yet (frag.h) */
	if (!(h->flags & PKT_F_FRAG) || h->family != NF_V4)
		return drop(f, FRAG_DROP_INVALID);
	if (end > FRAG_MAX_DATAGRAM)
		return drop(f, FRAG_DROP_TOO_BIG);  /* pkt_parse refuses these */

	head = bucket_of(f, h->saddr.ip, h->daddr.ip, h->id, h->proto);
	q = find(f, head, h);
	if (q && now >= q->deadline) {
		queue_kill(f, q, &f->st.timeouts);
		q = NULL;
	}
	if (!q)
		q = queue_new(f, head, h, now);

	/* ip_frag_queue: where the datagram ends. */
	if (!(h->flags & PKT_F_MF)) {
		if (end < q->len || (q->flags & Q_LAST_IN && end != q->len))
			return kill_drop(f, q, FRAG_DROP_INVALID, NULL);
		q->flags |= Q_LAST_IN;
		q->len = (uint16_t)end;
	} else {
		end &= ~(unsigned)(UNIT - 1);
		if (end > q->len) {
			if (q->flags & Q_LAST_IN)
				return kill_drop(f, q, FRAG_DROP_INVALID, NULL);
			q->len = (uint16_t)end;
		}
	}
	if (end <= offset)
		return kill_drop(f, q, FRAG_DROP_INVALID, NULL);

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

	need = blocks_missing(q, offset, end);
	if (!make_room(f, q, need))
		return kill_drop(f, q, FRAG_DROP_NOMEM, NULL);
	store(f, q, payload, offset, end, !(q->tail && offset == q->tail));
	if (end > q->tail)
		q->tail = (uint16_t)end;
	q->meat += end - offset;
	q->ecn |= ecn_seen[p->data[h->ip + IP4H_TOS] & 3];
	if (offset == 0) {
		q->flags |= Q_FIRST_IN;
		q->hlen = (uint8_t)hlen;
		q->first_len = (uint16_t)(end - offset);
		memcpy(q->hdr, p->data + h->ip, hlen);
	}
	if (hlen + end - offset > q->max_size)
		q->max_size = (uint16_t)(hlen + end - offset);
	if (h->flags & PKT_F_DF && hlen + end - offset > q->max_df_size)
		q->max_df_size = (uint16_t)(hlen + end - offset);

	if (q->flags == (Q_FIRST_IN | Q_LAST_IN) && q->meat == q->len)
		return reassemble(f, q, out, cap, out_len);
	return FRAG_PENDING;
}

/* ---------------------------------------------------------------- expiry */

unsigned frag_expire(struct frag *f, uint64_t now, frag_timeout_fn *fn, void *ctx)
{
	unsigned n = 0;

	while (f->oldest != NIL && f->q[f->oldest].deadline <= now) {
		struct queue *q = &f->q[f->oldest];
		size_t len = 0;

		if (q->flags & Q_FIRST_IN && fn) {
			size_t data = q->first_len;

			if (data > (size_t)FRAG_QUOTE_MAX - q->hlen)
				data = (size_t)FRAG_QUOTE_MAX - q->hlen;
			memcpy(f->quote, q->hdr, q->hlen);
			copy_out(f, q, f->quote + q->hlen, (unsigned)data);
			len = q->hlen + data;
		}
		queue_kill(f, q, &f->st.timeouts);
		if (len)
			fn(ctx, f->quote, len);
		n++;
	}
	return n;
}
