/* SPDX-License-Identifier: MIT */
/*
 * conntrack — the table: entry pool, hash, timer wheel, and the per-packet
 * entry point ct_in() (nf_conntrack_core.c's nf_conntrack_in and
 * resolve_normal_ct, nf_conntrack_proto_icmp.c's error path).
 *
 * Pool.  cfg->max entries of 192 bytes, allocated once.  Free entries are
 * chained through hnext[0]; entries above the high-water mark were never
 * used, so creating a big table touches no memory.  stats.count counts
 * unconfirmed entries too (as the kernel's count does).
 *
 * Accounting (nf_conntrack_acct, always on).  Packets and bytes per entry
 * and direction, in an array beside the pool (32 bytes an entry, so an entry
 * stays three cache lines), added in ct_refresh as the kernel's
 * nf_ct_refresh_acct does: two adds per packet the tracker accepts,
 * unconfirmed entries included.  Measured on Linux 6.18 in a netns with
 * nf_conntrack_acct=1 (conntrack-tools 1.4.7), through a MASQUERADE router:
 * three UDP datagrams of 100 payload bytes count packets=3 bytes=384 (the
 * whole IP packet, 20 + 8 + 100) and their 200-byte replies packets=3
 * bytes=684; an ICMP echo with 32 data bytes packets=1 bytes=60 each way; a
 * TCP exchange counts its SYN, ACKs and FINs; the ICMP port unreachable
 * answering an unreplied datagram (RELATED) and INVALID packets are not
 * counted (reply side packets=0 bytes=0).  `conntrack -L` prints
 * "packets=N bytes=N" after each direction's tuple, the original's before
 * [UNREPLIED]; `-o extended` starts the line with "ipv4     2 ".  gw cuts
 * GSO super-packets into segments before conntrack, so each segment counts
 * as one packet (a Linux router with GRO counts a coalesced packet once).
 *
 * Hash.  SipHash-1-3 keyed from cfg->hash_seed over the tuple.  Each
 * confirmed entry is in the table twice, once per direction: a node id is
 * entry index * 2 + direction, chains are singly linked through hnext[].
 * Buckets default to the power of two >= 2 * max, so at most one node per
 * bucket on average when the table is full.
 *
 * Entry lifetime.  Nothing on the packet path frees a confirmed entry that
 * a packet may still hold, except early drop when the table is full (as in
 * the kernel, without its reference counts): a connection that dies there
 * (an RST before any reply, a reopened TCP connection) is marked DYING,
 * leaves every lookup and is freed by the next ct_expire().  Callers run a
 * packet through all its hooks before the next ct_in() that may have to
 * early-drop, and call ct_expire() between packets.
 *
 * Timer wheel.  Ticks of 2^24 ns (~16.8 ms); 6 levels of 64 slots, each
 * level 16 times coarser (level 5 spans ~13 days).  An entry sits in the
 * finest level whose span covers its expiry, in the slot rounded *down*:
 * when the slot fires early the entry is placed again, finer (at most once
 * per level).  A refresh only stores the new expiry; the entry moves only
 * when its timeout shrinks below the slot it sits in.  Expired entries are
 * removed at most one tick late.  Lookups made with a clock (ct_in,
 * ct_confirm) ignore entries already past their expiry, as the kernel's do.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "nat/ct.h"
#include "nat/ct_priv.h"
#include "nat/pkt/be.h"
#include "nat/pkt/csum.h"
#include "nat/pkt/pkt.h"
#include "nat/pkt/siphash.h"
#include "nat/sbuf.h"

static_assert(sizeof(struct ct_entry) <= 192, "ct_entry must fit three cache lines");
static_assert(sizeof(struct ct_tuple) == 40, "ct_tuple is hashed as five words");

enum {
	NR_ICMP_TYPES = 18,
	CT_MAX_ENTRIES = 1u << 30,
	CT_MIN_BUCKETS = 1,
	EARLY_DROP_BUCKETS = 8,   /* NF_CT_EVICTION_RANGE */
	CT_S_PUBLIC = 0xff,
};

/* ------------------------------------------------------------------ hash */

static uint32_t tuple_hash(const struct ct_table *t, const struct ct_tuple *tu)
{
	if (tu->family == NF_V4)
		return siphash13_2u64((uint64_t)tu->src.ip << 32 | tu->dst.ip,
				      (uint64_t)tu->sport << 48 | (uint64_t)tu->dport << 32 | tu->proto,
				      t->k0, t->k1);
	uint64_t w[sizeof(*tu) / 8];

	memcpy(w, tu, sizeof(w));  /* padding is zero (tuple_norm) */
	return siphash13_u64s(w, sizeof(*tu) / 8, t->k0, t->k1);
}

static inline bool tuple_eq(const struct ct_tuple *a, const struct ct_tuple *b)
{
	return nf_addr_eq(&a->src, &b->src) && nf_addr_eq(&a->dst, &b->dst) &&
	       a->sport == b->sport && a->dport == b->dport && a->proto == b->proto &&
	       a->family == b->family;
}

/* A copy with the padding bytes zeroed. */
static void tuple_norm(struct ct_tuple *dst, const struct ct_tuple *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->src = src->src;
	dst->dst = src->dst;
	dst->sport = src->sport;
	dst->dport = src->dport;
	dst->proto = src->proto;
	dst->family = src->family;
}

/* Add 1; zero: no inverse (nf_conntrack_proto_icmp.c invmap). */
static const uint8_t icmp_invmap[] = {
	[8] = 0 + 1, [0] = 8 + 1, [13] = 14 + 1, [14] = 13 + 1,
	[15] = 16 + 1, [16] = 15 + 1, [17] = 18 + 1, [18] = 17 + 1,
};

bool ct_tuple_invert(struct ct_tuple *inv, const struct ct_tuple *t)
{
	memset(inv, 0, sizeof(*inv));
	inv->src = t->dst;
	inv->dst = t->src;
	inv->proto = t->proto;
	inv->family = t->family;
	if (t->proto == IPPROTO_ICMP && t->family == NF_V4) {
		unsigned type = t->dport >> 8;

		if (type >= sizeof(icmp_invmap) || !icmp_invmap[type])
			return false;
		inv->sport = t->sport;
		inv->dport = (uint16_t)((icmp_invmap[type] - 1) << 8 | (t->dport & 0xff));
		return true;
	}
	if (t->proto == IPPROTO_ICMPV6 && t->family == NF_V6) {
		int type = ct_icmp6_inverse((uint8_t)(t->dport >> 8));

		if (type < 0)
			return false;
		inv->sport = t->sport;
		inv->dport = (uint16_t)(type << 8 | (t->dport & 0xff));
		return true;
	}
	inv->sport = t->dport;
	inv->dport = t->sport;
	return true;
}

static void tuple_from_hdr(struct ct_tuple *tu, const struct pkt_hdr *h)
{
	memset(tu, 0, sizeof(*tu));
	tu->src = h->saddr;
	tu->dst = h->daddr;
	tu->proto = h->proto;
	tu->family = h->family;
	switch (h->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		tu->sport = h->sport;
		tu->dport = h->dport;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((h->proto == IPPROTO_ICMP) != (h->family == NF_V4))
			break;  /* ICMP over IPv6, ICMPv6 over IPv4: generic */
		tu->sport = h->sport;  /* query id; zero for other types */
		tu->dport = (uint16_t)(h->icmp_type << 8 | h->icmp_code);
		break;
	}
}

static inline uint32_t entry_index(const struct ct_table *t, const struct ct_entry *e)
{
	return (uint32_t)(e - t->pool);
}

static inline bool expired(const struct ct_entry *e, uint32_t now_u)
{
	return !ct_before(now_u, e->expires);
}

/* The confirmed, live node holding tu, or CT_NIL.  timed: also skip
 * entries past their expiry at now_u. */
static uint32_t find_node(const struct ct_table *t, const struct ct_tuple *tu,
			  uint32_t hash, bool timed, uint32_t now_u)
{
	uint32_t n = t->buckets[hash & t->mask];

	while (n != CT_NIL) {
		const struct ct_entry *e = &t->pool[n >> 1];

		if (tuple_eq(&e->tuple[n & 1], tu) && !(e->status & CT_S_DYING) &&
		    !(timed && expired(e, now_u)))
			return n;
		n = e->hnext[n & 1];
	}
	return CT_NIL;
}

static void entry_free(struct ct_table *t, struct ct_entry *e);

static void reap_expired(struct ct_table *t, const struct ct_tuple *tu, uint32_t hash,
			 uint32_t now_u)
{
	uint32_t n = find_node(t, tu, hash, false, now_u);

	if (n != CT_NIL && expired(&t->pool[n >> 1], now_u)) {
		entry_free(t, &t->pool[n >> 1]);
		t->stats.expired++;
	}
}

/* ------------------------------------------------------ hot destinations */

/* tu's port bit in h, or -1 when tu is not h's destination or out of its
 * range. */
static int hot_bit(const struct ct_hot *h, const struct ct_tuple *tu)
{
	uint32_t off = (uint16_t)(tu->dport - h->lo);

	if (off >= h->n || tu->sport != h->key.sport || tu->proto != h->key.proto ||
	    tu->family != h->key.family || !nf_addr_eq(&tu->dst, &h->key.dst) ||
	    !nf_addr_eq(&tu->src, &h->key.src))
		return -1;
	return (int)off;
}

static bool hot_get(const struct ct_hot *h, int bit)
{
	return h->bits[bit >> 6] >> (bit & 63) & 1;
}

static void hot_put(struct ct_hot *h, int bit, bool held)
{
	uint64_t m = 1ull << (bit & 63);

	if (held == hot_get(h, bit))
		return;
	h->bits[bit >> 6] ^= m;
	if (held)
		h->held++;
	else
		h->held--;
}

/* tu entered the hash (linked) or may have left it (an entry holding it
 * was unlinked or killed): its bit follows.  Leaving clears the bit only
 * when no other live entry holds the tuple. */
static void hot_note(struct ct_table *t, const struct ct_tuple *tu, bool linked)
{
	for (unsigned i = 0; i < t->nhot; i++) {
		struct ct_hot *h = &t->hot[i];
		int bit = hot_bit(h, tu);

		if (bit < 0)
			continue;
		if (linked)
			hot_put(h, bit, true);
		else if (hot_get(h, bit))
			hot_put(h, bit, find_node(t, tu, tuple_hash(t, tu), false, 0) != CT_NIL);
	}
}

static void hash_link(struct ct_table *t, struct ct_entry *e, unsigned dir)
{
	uint32_t *head = &t->buckets[tuple_hash(t, &e->tuple[dir]) & t->mask];

	e->hnext[dir] = *head;
	*head = entry_index(t, e) * 2 + dir;
	if (t->nhot)
		hot_note(t, &e->tuple[dir], true);
}

static void hash_unlink(struct ct_table *t, struct ct_entry *e, unsigned dir)
{
	uint32_t node = entry_index(t, e) * 2 + dir;
	uint32_t *link = &t->buckets[tuple_hash(t, &e->tuple[dir]) & t->mask];

	while (*link != CT_NIL) {
		if (*link == node) {
			*link = e->hnext[dir];
			break;
		}
		link = &t->pool[*link >> 1].hnext[*link & 1];
	}
	if (t->nhot)
		hot_note(t, &e->tuple[dir], false);
}

/* ----------------------------------------------------------- timer wheel */

static inline unsigned lvl_shift(unsigned lvl)
{
	return lvl * CT_WHEEL_LVL_SHIFT;
}

/* The wheel tick at which expiry e (units) is due, given now (ns). */
static uint64_t due_tick(uint64_t now, uint32_t e)
{
	int64_t u = (int64_t)(now >> CT_UNIT_SHIFT) + (int32_t)(e - ct_units(now));

	if (u < 0)
		u = 0;
	return ((uint64_t)u + (1u << CT_UNITS_PER_TICK_SHIFT) - 1) >> CT_UNITS_PER_TICK_SHIFT;
}

static void wheel_link(struct ct_table *t, struct ct_entry *e, uint64_t tick)
{
	uint64_t clk = t->clk, when;
	unsigned lvl, sh = 0, slot;
	uint32_t idx = entry_index(t, e);

	if (tick < clk)
		tick = clk;
	for (lvl = 0; lvl < CT_WHEEL_LEVELS; lvl++) {
		sh = lvl_shift(lvl);
		if ((tick >> sh) - (clk >> sh) < CT_WHEEL_SLOTS - 1)
			break;
	}
	if (lvl == CT_WHEEL_LEVELS) {
		/* beyond the wheel: the farthest slot, placed again then */
		lvl = CT_WHEEL_LEVELS - 1;
		sh = lvl_shift(lvl);
		when = ((clk >> sh) + CT_WHEEL_SLOTS - 2) << sh;
	} else {
		when = tick >> sh << sh;
	}
	slot = (unsigned)(when >> sh) & (CT_WHEEL_SLOTS - 1);
	e->wslot = (uint16_t)(lvl * CT_WHEEL_SLOTS + slot);
	e->wtick = (uint32_t)when;
	e->wprev = CT_NIL;
	e->wnext = t->wheel[e->wslot];
	if (e->wnext != CT_NIL)
		t->pool[e->wnext].wprev = idx;
	t->wheel[e->wslot] = idx;
	t->occupied[lvl] |= 1ULL << slot;
}

static void wheel_unlink(struct ct_table *t, struct ct_entry *e)
{
	if (e->wprev != CT_NIL)
		t->pool[e->wprev].wnext = e->wnext;
	else
		t->wheel[e->wslot] = e->wnext;
	if (e->wnext != CT_NIL)
		t->pool[e->wnext].wprev = e->wprev;
	if (t->wheel[e->wslot] == CT_NIL)
		t->occupied[e->wslot / CT_WHEEL_SLOTS] &=
			~(1ULL << (e->wslot % CT_WHEEL_SLOTS));
}

static bool wheel_empty(const struct ct_table *t)
{
	for (unsigned l = 0; l < CT_WHEEL_LEVELS; l++)
		if (t->occupied[l])
			return false;
	return true;
}

/* The first tick >= clk with a non-empty slot, or UINT64_MAX.  Every entry
 * at level l sits at a slot boundary >= clk, fewer than 63 slots ahead. */
static uint64_t wheel_next(const struct ct_table *t)
{
	uint64_t best = UINT64_MAX;

	for (unsigned lvl = 0; lvl < CT_WHEEL_LEVELS; lvl++) {
		uint64_t bm = t->occupied[lvl], p, rot, when;
		unsigned sh = lvl_shift(lvl), i0;

		if (!bm)
			continue;
		p = (t->clk + (1ULL << sh) - 1) >> sh;
		i0 = (unsigned)p & (CT_WHEEL_SLOTS - 1);
		rot = i0 ? bm >> i0 | bm << (64 - i0) : bm;
		when = (p + (unsigned)__builtin_ctzll(rot)) << sh;
		if (when < best)
			best = when;
	}
	return best;
}

/* Move e when its new expiry falls before the slot it sits in. */
static void wheel_update(struct ct_table *t, struct ct_entry *e, uint64_t now)
{
	uint64_t tick = due_tick(now, e->expires);

	if ((int32_t)((uint32_t)tick - e->wtick) < 0) {
		wheel_unlink(t, e);
		wheel_link(t, e, tick);
	}
}

/* ------------------------------------------------------------------ pool */

static void entry_free(struct ct_table *t, struct ct_entry *e)
{
	if (e->status & CT_S_CONFIRMED) {
		hash_unlink(t, e, CT_DIR_ORIGINAL);
		hash_unlink(t, e, CT_DIR_REPLY);
		wheel_unlink(t, e);
	}
	if (e->owner)
		t->owner_count[e->owner]--;
	e->status = 0;
	e->hnext[0] = t->free_head;
	t->free_head = entry_index(t, e);
	t->stats.count--;
}

/* Drop the non-assured entries of the first of 8 buckets from hash that
 * has any (early_drop_list frees them all); entries already dead are freed
 * on the way.  True when room was made. */
static bool early_drop(struct ct_table *t, uint32_t hash, uint32_t now_u)
{
	bool freed = false;

	for (unsigned i = 0; i < EARLY_DROP_BUCKETS; i++) {
		uint32_t b = (hash + i) & t->mask;
		unsigned drops = 0;

		for (;;) {
			struct ct_entry *victim = NULL;
			bool dead = false;

			for (uint32_t n = t->buckets[b]; n != CT_NIL;) {
				struct ct_entry *e = &t->pool[n >> 1];

				dead = (e->status & CT_S_DYING) || expired(e, now_u);
				if (dead || !(e->status & CT_S_ASSURED)) {
					victim = e;
					break;
				}
				n = e->hnext[n & 1];
			}
			if (!victim)
				break;
			entry_free(t, victim);
			freed = true;
			if (dead)
				t->stats.expired++;
			else
				drops++;
		}
		if (drops) {
			t->stats.early_drop += drops;
			return true;
		}
	}
	return freed;
}

static struct ct_entry *entry_alloc(struct ct_table *t, const struct ct_tuple *orig,
				    const struct ct_tuple *repl, uint32_t hash,
				    uint32_t now_u, uint16_t owner)
{
	struct ct_entry *e;
	uint32_t idx;

	if (t->stats.count >= t->cfg.max && !early_drop(t, hash, now_u))
		return NULL;
	if (t->free_head != CT_NIL) {
		idx = t->free_head;
		t->free_head = t->pool[idx].hnext[0];
	} else {
		idx = t->hiwat++;
	}
	e = &t->pool[idx];
	memset(e, 0, sizeof(*e));
	e->tuple[CT_DIR_ORIGINAL] = *orig;
	e->tuple[CT_DIR_REPLY] = *repl;
	e->hnext[0] = e->hnext[1] = CT_NIL;
	e->wprev = e->wnext = CT_NIL;
	e->status = CT_S_ALLOCATED;
	e->owner = owner;
	t->owner_count[owner] += owner != 0;
	memset(t->acct[idx], 0, sizeof(t->acct[idx]));
	t->stats.count++;
	return e;
}

/* ------------------------------------------------------------ life cycle */

/* Big tables on huge pages where the system offers them (transparent huge
 * pages in madvise mode): a lookup in a 1M-entry table otherwise pays a
 * page walk on top of its cache misses. */
static void *big_alloc(size_t size)
{
	enum { HUGE = 2u << 20 };
	void *p;

	if (size < HUGE)
		return aligned_alloc(64, (size + 63) & ~(size_t)63);
	size = (size + HUGE - 1) & ~(size_t)(HUGE - 1);
	p = aligned_alloc(HUGE, size);
	if (p)
		madvise(p, size, MADV_HUGEPAGE);  /* a hint: failure is fine */
	return p;
}

void ct_config_default(struct ct_config *cfg, uint32_t max)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max = max;
	cfg->tcp_loose = true;
	cfg->checksum = true;
}

int ct_create(struct ct_table **out, const struct ct_config *cfg)
{
	struct ct_table *t;
	uint64_t nb, seed;

	*out = NULL;
	if (!cfg->max || cfg->max > CT_MAX_ENTRIES || cfg->buckets > CT_MAX_ENTRIES)
		return -EINVAL;
	nb = cfg->buckets ? cfg->buckets : 2 * (uint64_t)cfg->max;
	if (nb < CT_MIN_BUCKETS)
		nb = CT_MIN_BUCKETS;
	if (nb > 1)
		nb = 1ULL << (64 - __builtin_clzll(nb - 1));

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	t->pool = big_alloc((size_t)cfg->max * sizeof(struct ct_entry));
	t->buckets = big_alloc((size_t)nb * sizeof(uint32_t));
	t->owner_count = calloc((size_t)cfg->owners + 1, sizeof(uint32_t));
	t->owner_limit = calloc((size_t)cfg->owners + 1, sizeof(uint64_t));
	t->acct = big_alloc((size_t)cfg->max * sizeof(t->acct[0]));
	if (!t->pool || !t->buckets || !t->owner_count || !t->owner_limit || !t->acct) {
		ct_destroy(t);
		return -ENOMEM;
	}
	memset(t->buckets, 0xff, (size_t)nb * sizeof(uint32_t));
	t->mask = (uint32_t)(nb - 1);
	t->free_head = CT_NIL;
	memset(t->wheel, 0xff, sizeof(t->wheel));
	seed = cfg->hash_seed;
	t->k0 = splitmix64(&seed);
	t->k1 = splitmix64(&seed);
	t->stats.max = cfg->max;
	*out = t;
	return 0;
}

void ct_destroy(struct ct_table *t)
{
	if (!t)
		return;
	free(t->pool);
	free(t->buckets);
	free(t->owner_count);
	free(t->owner_limit);
	free(t->acct);
	free(t);
}

void ct_get_stats(const struct ct_table *t, struct ct_stats *st)
{
	*st = t->stats;
}

void ct_get_owner_stats(const struct ct_table *t, uint16_t owner, struct ct_owner_stats *st)
{
	bool ok = owner && owner <= t->cfg.owners;

	st->count = ok ? t->owner_count[owner] : 0;
	st->limit = ok ? t->owner_limit[owner] : 0;
}

size_t ct_entry_size(void)
{
	return sizeof(struct ct_entry);
}

/* ------------------------------------------------- helpers for trackers */

/* As nf_ct_refresh_acct: every caller holds the packet c->p, which counts
 * in its direction (two adds; the counters sit beside the pool). */
void ct_refresh(struct ct_ctx *c, struct ct_entry *e, uint32_t timeout)
{
	struct ct_acct *a = &c->t->acct[entry_index(c->t, e)][c->dir];

	a->packets++;
	a->bytes += c->p->outer.tot_len;
	if (!(e->status & CT_S_CONFIRMED)) {
		/* relative until ct_confirm, as the kernel's ct->timeout */
		e->expires = timeout;
		return;
	}
	e->expires = c->now_u + timeout;
	wheel_update(c->t, e, c->now);
}

uint32_t ct_expires_in(const struct ct_ctx *c, const struct ct_entry *e)
{
	int32_t d;

	if (!(e->status & CT_S_CONFIRMED))
		return e->expires;
	d = (int32_t)(e->expires - c->now_u);
	return d > 0 ? (uint32_t)d : 0;
}

void ct_kill(struct ct_ctx *c, struct ct_entry *e)
{
	e->status |= CT_S_DYING;
	if (e->status & CT_S_CONFIRMED) {
		/* a dying entry holds no tuple (ct_tuple_taken) */
		if (c->t->nhot) {
			hot_note(c->t, &e->tuple[CT_DIR_ORIGINAL], false);
			hot_note(c->t, &e->tuple[CT_DIR_REPLY], false);
		}
		/* due now: freed by the next ct_expire of this tick or later */
		e->expires = c->now_u;
		wheel_unlink(c->t, e);
		wheel_link(c->t, e, c->now >> CT_TICK_SHIFT);
	}
}

/* The sum of h's pseudo-header for len bytes of upper layer (RFC 768,
 * RFC 8200 8.1). */
static uint32_t pseudo_sum(const struct pkt_hdr *h, uint16_t len)
{
	if (h->family == NF_V6)
		return csum_pseudo6(h->saddr.b, h->daddr.b, h->proto, len);
	return csum_pseudo(h->saddr.ip, h->daddr.ip, h->proto, len);
}

bool ct_l4_csum_ok(const struct pkt *p)
{
	const struct pkt_hdr *h = &p->outer;
	const uint8_t *l4 = p->data + h->l4;
	uint16_t len = (uint16_t)(h->end - h->l4);

	switch (h->proto) {
	case IPPROTO_UDP:
		/* no checksum: as nf_conntrack_proto_udp.c, for IPv6 too */
		if (!be16_get(l4 + 6))
			return true;
		/* fall through */
	case IPPROTO_TCP:
		return csum_fold(csum_add(pseudo_sum(h, len), l4, len)) == 0;
	case IPPROTO_ICMP:
		return csum_fold(csum_add(0, l4, len)) == 0;
	case IPPROTO_ICMPV6:  /* over a pseudo-header, unlike ICMP */
		return h->family != NF_V6 || csum_fold(csum_add(pseudo_sum(h, len), l4, len)) == 0;
	default:
		return true;
	}
}

/* ------------------------------------------------------------ the packet */

enum icmp_res { ICMP_GO_ON, ICMP_RELATED, ICMP_INVALID, ICMP_UNTRACKED };

/* nf_conntrack_inet_error: an ICMP or ICMPv6 error is RELATED to the
 * connection of the packet it quotes. */
static enum icmp_res inet_error(struct ct_ctx *c, struct nf_ctx *ctx)
{
	const struct pkt *p = c->p;
	const struct pkt_hdr *h = &p->outer;
	struct ct_tuple inner, inv;
	struct ct_entry *e;
	uint32_t n;
	unsigned dir;

	/* the quoted packet: not a later fragment, ports present */
	if (!p->has_inner || p->inner.flags & PKT_F_LATER)
		return ICMP_INVALID;
	tuple_from_hdr(&inner, &p->inner);
	/* the quote is the packet as sent: its inverse is what we track */
	if (!ct_tuple_invert(&inv, &inner))
		return ICMP_INVALID;
	n = find_node(c->t, &inv, tuple_hash(c->t, &inv), true, c->now_u);
	if (n == CT_NIL)
		return ICMP_INVALID;
	e = &c->t->pool[n >> 1];
	dir = n & 1;
	/* an error to a third host is not related to the connection */
	if (!nf_addr_eq(&h->daddr, &e->tuple[dir].dst))
		return ICMP_INVALID;
	ctx->ct = e;
	ctx->ctstate = CT_RELATED;
	ctx->ctdir = (enum ct_dir)dir;
	return ICMP_RELATED;
}

/* nf_conntrack_icmpv4_error. */
static enum icmp_res icmp_error(struct ct_ctx *c, struct nf_ctx *ctx, bool csum)
{
	const struct pkt_hdr *h = &c->p->outer;

	if (csum && !ct_l4_csum_ok(c->p))
		return ICMP_INVALID;
	if (h->icmp_type > NR_ICMP_TYPES)
		return ICMP_INVALID;
	if (!pkt_icmp_is_error(h->icmp_type))
		return ICMP_GO_ON;
	return inet_error(c, ctx);
}

/* nf_conntrack_icmpv6_error: Neighbor Discovery and Multicast Listener
 * messages are never tracked (UNTRACKED, as NOTRACK would make them);
 * informational types (128 and up) are tracked or refused by their
 * tracker; errors go to inet_error. */
static enum icmp_res icmp6_error(struct ct_ctx *c, struct nf_ctx *ctx, bool csum)
{
	/* MLD query, report, done; router and neighbour solicitation and
	 * advertisement; MLDv2 report */
	static const uint8_t noct[] = { [0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1,
					[5] = 1, [6] = 1, [143 - 130] = 1 };
	unsigned type = c->p->outer.icmp_type;

	if (csum && !ct_l4_csum_ok(c->p))
		return ICMP_INVALID;
	if (type >= 130 && type - 130 < sizeof(noct) && noct[type - 130])
		return ICMP_UNTRACKED;
	if (type >= 128)
		return ICMP_GO_ON;
	return inet_error(c, ctx);
}

static enum ct_verdict handle_packet(struct ct_ctx *c, struct ct_entry *e)
{
	switch (e->tuple[CT_DIR_ORIGINAL].proto) {
	case IPPROTO_TCP:
		return ct_tcp_packet(c, e);
	case IPPROTO_UDP:
		return ct_udp_packet(c, e);
	/* ICMP over IPv6 and ICMPv6 over IPv4: the trackers refuse the
	 * family (nf_conntrack_icmp_packet, nf_conntrack_icmpv6_packet) */
	case IPPROTO_ICMP:
		if (e->tuple[CT_DIR_ORIGINAL].family != NF_V4)
			return CT_V_INVALID;
		return ct_icmp_packet(c, e);
	case IPPROTO_ICMPV6:
		if (e->tuple[CT_DIR_ORIGINAL].family != NF_V6)
			return CT_V_INVALID;
		return ct_icmp6_packet(c, e);
	case IPPROTO_GRE:
		return ct_gre_packet(c, e);
	default:
		return ct_generic_packet(c, e);
	}
}

void ct_prefetch(const struct ct_table *t, const struct pkt *p)
{
	struct ct_tuple tu;
	uint32_t n;

	if (p->outer.flags & PKT_F_FRAG)
		return;
	tuple_from_hdr(&tu, &p->outer);
	n = t->buckets[tuple_hash(t, &tu) & t->mask];
	if (n != CT_NIL) {
		__builtin_prefetch(&t->pool[n >> 1]);
		__builtin_prefetch(&t->acct[n >> 1], 1);  /* ct_refresh counts there */
	}
}

int ct_in(struct ct_table *t, struct nf_ctx *ctx, bool check_csum)
{
	const struct pkt *p = ctx->pkt;
	const struct pkt_hdr *h = &p->outer;
	bool csum = check_csum && t->cfg.checksum;
	struct ct_ctx c = { .t = t, .p = p, .now = ctx->now, .now_u = ct_units(ctx->now) };
	struct ct_tuple tu, rt;
	struct ct_entry *e;
	uint16_t owner = p->owner <= t->cfg.owners ? p->owner : 0;

	ctx->ct = NULL;
	ctx->ctdir = CT_DIR_ORIGINAL;
	if (ctx->notrack) {
		ctx->ctstate = CT_UNTRACKED;
		return 0;
	}
	ctx->ctstate = CT_INVALID;
	/* gw reassembles before conntrack: a fragment here is not trackable */
	if (h->flags & PKT_F_FRAG)
		goto invalid;
	switch (h->proto) {
	case IPPROTO_TCP:
		if (!(h->flags & PKT_F_L4) || ct_tcp_error(p, csum))
			goto invalid;
		break;
	case IPPROTO_UDP:
		if (!(h->flags & PKT_F_L4) || ct_udp_error(p, csum))
			goto invalid;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((h->proto == IPPROTO_ICMP) != (h->family == NF_V4))
			break;  /* refused by handle_packet */
		if (!(h->flags & PKT_F_L4))
			goto invalid;
		switch (h->family == NF_V4 ? icmp_error(&c, ctx, csum) : icmp6_error(&c, ctx, csum)) {
		case ICMP_RELATED:
			return 0;
		case ICMP_UNTRACKED:
			ctx->ctstate = CT_UNTRACKED;
			return 0;
		case ICMP_INVALID:
			goto invalid;
		case ICMP_GO_ON:
			break;
		}
		break;
	}

	tuple_from_hdr(&tu, h);
	for (unsigned round = 0;; round++) {
		uint32_t hash = tuple_hash(t, &tu);
		uint32_t n = find_node(t, &tu, hash, true, c.now_u);
		enum ct_verdict v;
		bool fresh = n == CT_NIL;

		if (!fresh) {
			e = &t->pool[n >> 1];
			c.dir = (enum ct_dir)(n & 1);
			t->stats.found++;
		} else {
			if (!ct_tuple_invert(&rt, &tu))
				goto invalid;
			/* as nf_ct_gc_expired on lookup: an entry past its
			 * timeout that holds either tuple goes now, so the
			 * table never shows it beside its successor */
			reap_expired(t, &tu, hash, c.now_u);
			reap_expired(t, &rt, tuple_hash(t, &rt), c.now_u);
			if (owner && t->cfg.owner_max && t->owner_count[owner] >= t->cfg.owner_max) {
				t->stats.owner_limit++;
				t->owner_limit[owner]++;
				return -EDQUOT;
			}
			e = entry_alloc(t, &tu, &rt, hash, c.now_u, owner);
			if (!e) {
				/* table full: the kernel drops the packet */
				t->stats.drop++;
				return -ENOSPC;
			}
			c.dir = CT_DIR_ORIGINAL;
			if (tu.proto == IPPROTO_TCP && !ct_tcp_new(&c, e)) {
				entry_free(t, e);
				goto invalid;
			}
		}
		v = handle_packet(&c, e);
		if (v == CT_V_ACCEPT)
			break;
		if (fresh)
			entry_free(t, e);
		/* an attempt to reopen a closed connection: kill, look up again */
		if (v == CT_V_REPEAT && round == 0) {
			ct_kill(&c, e);
			continue;
		}
		goto invalid;
	}

	if (c.dir == CT_DIR_REPLY) {
		e->status |= CT_S_SEEN_REPLY;
		ctx->ctstate = CT_ESTABLISHED;
	} else {
		ctx->ctstate = e->status & CT_S_SEEN_REPLY ? CT_ESTABLISHED : CT_NEW;
	}
	ctx->ct = e;
	ctx->ctdir = c.dir;
	return 0;
invalid:
	t->stats.invalid++;
	return 0;
}

/* ------------------------------------------------- confirm, abort, expire */

int ct_confirm(struct ct_table *t, struct ct_entry *e, uint64_t now)
{
	uint32_t now_u = ct_units(now);

	if (!e || e->status & CT_S_CONFIRMED)
		return 0;
	if (e->status & CT_S_DYING ||
	    find_node(t, &e->tuple[CT_DIR_ORIGINAL],
		      tuple_hash(t, &e->tuple[CT_DIR_ORIGINAL]), true, now_u) != CT_NIL ||
	    find_node(t, &e->tuple[CT_DIR_REPLY],
		      tuple_hash(t, &e->tuple[CT_DIR_REPLY]), true, now_u) != CT_NIL) {
		t->stats.insert_failed++;
		t->stats.drop++;
		entry_free(t, e);
		return -EEXIST;
	}
	/* the timeout runs from confirmation */
	e->expires += now_u;
	hash_link(t, e, CT_DIR_ORIGINAL);
	hash_link(t, e, CT_DIR_REPLY);
	e->status |= CT_S_CONFIRMED;
	if (wheel_empty(t) && t->clk < now >> CT_TICK_SHIFT)
		t->clk = now >> CT_TICK_SHIFT;
	wheel_link(t, e, due_tick(now, e->expires));
	t->stats.new_++;
	return 0;
}

int ct_insert_saved(struct ct_table *t, const struct ct_entry *from, const struct ct_acct acct[2],
		    uint64_t now, uint32_t left)
{
	struct ct_tuple orig, repl;
	uint32_t now_u = ct_units(now), h0, h1;
	uint16_t owner = from->owner <= t->cfg.owners ? from->owner : 0;
	struct ct_entry *e;

	tuple_norm(&orig, &from->tuple[CT_DIR_ORIGINAL]);
	tuple_norm(&repl, &from->tuple[CT_DIR_REPLY]);
	h0 = tuple_hash(t, &orig);
	h1 = tuple_hash(t, &repl);
	reap_expired(t, &orig, h0, now_u);
	reap_expired(t, &repl, h1, now_u);
	if (find_node(t, &orig, h0, true, now_u) != CT_NIL ||
	    find_node(t, &repl, h1, true, now_u) != CT_NIL)
		return -EEXIST;
	if (owner && t->cfg.owner_max && t->owner_count[owner] >= t->cfg.owner_max)
		return -EDQUOT;
	/* no early drop: what the table holds already stays */
	if (t->stats.count >= t->cfg.max)
		return -ENOSPC;
	e = entry_alloc(t, &orig, &repl, h0, now_u, owner);
	if (!e)
		return -ENOSPC;
	e->mark = from->mark;
	e->proto = from->proto;
	e->status |= from->status & (CT_S_PUBLIC | CT_S_TS_ORIG) & ~(CT_S_CONFIRMED | CT_S_DYING);
	memcpy(t->acct[entry_index(t, e)], acct, sizeof(t->acct[0]));
	e->expires = now_u + left;
	hash_link(t, e, CT_DIR_ORIGINAL);
	hash_link(t, e, CT_DIR_REPLY);
	e->status |= CT_S_CONFIRMED;
	if (wheel_empty(t) && t->clk < now >> CT_TICK_SHIFT)
		t->clk = now >> CT_TICK_SHIFT;
	wheel_link(t, e, due_tick(now, e->expires));
	return 0;
}

void ct_abort(struct ct_table *t, struct ct_entry *e)
{
	if (e && !(e->status & CT_S_CONFIRMED))
		entry_free(t, e);
}

unsigned ct_expire(struct ct_table *t, uint64_t now, unsigned budget)
{
	uint64_t target = now >> CT_TICK_SHIFT;
	uint32_t now_u = ct_units(now);
	unsigned done = 0;

	while (t->clk <= target) {
		uint64_t tick = wheel_next(t);

		if (tick > target) {
			t->clk = target + 1;
			break;
		}
		t->clk = tick;
		for (unsigned lvl = 0; lvl < CT_WHEEL_LEVELS; lvl++) {
			unsigned sh = lvl_shift(lvl);
			unsigned slot = lvl * CT_WHEEL_SLOTS +
					((unsigned)(tick >> sh) & (CT_WHEEL_SLOTS - 1));
			uint32_t i;

			if (tick & ((1ULL << sh) - 1))
				break;
			while ((i = t->wheel[slot]) != CT_NIL) {
				struct ct_entry *e = &t->pool[i];

				if (expired(e, now_u)) {
					if (done == budget)
						return done;
					entry_free(t, e);
					t->stats.expired++;
					done++;
				} else {
					/* fired early (rounded down, or refreshed):
					 * place it again, always past this tick */
					wheel_unlink(t, e);
					wheel_link(t, e, due_tick(now, e->expires));
				}
			}
		}
		t->clk = tick + 1;
	}
	return done;
}

uint64_t ct_next_deadline(const struct ct_table *t)
{
	uint64_t tick = wheel_next(t);

	return tick == UINT64_MAX ? UINT64_MAX : tick << CT_TICK_SHIFT;
}

/* -------------------------------------------------------------- lookups */

struct ct_entry *ct_lookup(struct ct_table *t, const struct ct_tuple *tuple,
			   enum ct_dir *dir)
{
	struct ct_tuple tu;
	uint32_t n;

	tuple_norm(&tu, tuple);
	n = find_node(t, &tu, tuple_hash(t, &tu), false, 0);
	if (n == CT_NIL)
		return NULL;
	if (dir)
		*dir = (enum ct_dir)(n & 1);
	return &t->pool[n >> 1];
}

uint32_t ct_tuple_hash(const struct ct_table *t, const struct ct_tuple *tuple)
{
	struct ct_tuple tu;

	tuple_norm(&tu, tuple);
	return tuple_hash(t, &tu);
}

void ct_prefetch_hash(const struct ct_table *t, uint32_t hash, bool chain)
{
	const uint32_t *b = &t->buckets[hash & t->mask];

	if (!chain) {
		__builtin_prefetch(b);
		return;
	}
	if (*b != CT_NIL)
		__builtin_prefetch(&t->pool[*b >> 1]);
}

bool ct_tuple_taken(const struct ct_table *t, const struct ct_tuple *tuple,
		    const struct ct_entry *ignore)
{
	return ct_tuple_taken_hash(t, tuple, ct_tuple_hash(t, tuple), ignore);
}

/* nf_conntrack_tuple_taken: tuple is in the table, in either direction, for
 * an entry other than ignore -- unless that entry has the same original
 * tuple as ignore (the same flow: confirmation sorts that out). */
bool ct_tuple_taken_hash(const struct ct_table *t, const struct ct_tuple *tuple,
			 uint32_t hash, const struct ct_entry *ignore)
{
	struct ct_tuple tu;
	uint32_t n;

	tuple_norm(&tu, tuple);
	n = t->buckets[hash & t->mask];
	while (n != CT_NIL) {
		const struct ct_entry *e = &t->pool[n >> 1];

		if (e != ignore && !(e->status & CT_S_DYING) &&
		    tuple_eq(&e->tuple[n & 1], &tu) &&
		    !(ignore && tuple_eq(&ignore->tuple[CT_DIR_ORIGINAL],
					 &e->tuple[CT_DIR_ORIGINAL])))
			return true;
		n = e->hnext[n & 1];
	}
	return false;
}

int ct_hot_find(struct ct_table *t, const struct ct_tuple *reply, uint16_t lo, uint32_t n)
{
	for (unsigned i = 0; i < t->nhot; i++) {
		struct ct_hot *h = &t->hot[i];
		struct ct_tuple tu = *reply;

		tu.dport = lo;
		if (h->lo == lo && h->n == n && hot_bit(h, &tu) == 0) {
			h->used = ++t->hot_clock;
			t->stats.nat_hot_used++;
			return (int)i;
		}
	}
	return -1;
}

bool ct_hot_held(const struct ct_table *t, int slot, uint16_t port)
{
	const struct ct_hot *h = &t->hot[slot];

	return hot_get(h, (uint16_t)(port - h->lo));
}

int ct_hot_learn(struct ct_table *t, const struct ct_tuple *reply, uint16_t lo, uint32_t n,
		 uint32_t spent)
{
	struct ct_hot *h = &t->hot[0];
	struct ct_tuple tu;
	unsigned slot = 0;

	if (t->cfg.hot_off || !n || n > CT_HOT_PORTS || lo + n - 1 > UINT16_MAX)
		return -1;
	t->hot_credit += spent;
	if (t->hot_credit < n)
		return -1;
	t->hot_credit -= n;
	if (t->nhot < CT_HOT_SLOTS) {
		slot = t->nhot;
	} else {
		for (unsigned i = 1; i < CT_HOT_SLOTS; i++)
			if (t->hot[i].used < t->hot[slot].used)
				slot = i;
	}
	h = &t->hot[slot];
	memset(h, 0, sizeof(*h));
	tuple_norm(&h->key, reply);
	h->key.dport = 0;
	h->lo = lo;
	tu = h->key;
	for (uint32_t i = 0; i < n; i++) {
		tu.dport = (uint16_t)(lo + i);
		if (find_node(t, &tu, tuple_hash(t, &tu), false, 0) != CT_NIL) {
			h->bits[i >> 6] |= 1ull << (i & 63);
			h->held++;
		}
	}
	/* live only once its bits are in */
	h->n = (uint16_t)n;
	h->used = ++t->hot_clock;
	if (slot == t->nhot)
		t->nhot++;
	t->stats.nat_hot++;
	return (int)slot;
}

bool ct_hot_check(const struct ct_table *t)
{
	for (unsigned i = 0; i < t->nhot; i++) {
		const struct ct_hot *h = &t->hot[i];
		struct ct_tuple tu = h->key;
		uint32_t held = 0;

		for (uint32_t b = 0; b < h->n; b++) {
			tu.dport = (uint16_t)(h->lo + b);
			if (hot_get(h, (int)b) != ct_tuple_taken(t, &tu, NULL))
				return false;
			held += hot_get(h, (int)b);
		}
		if (held != h->held)
			return false;
	}
	return true;
}

/* nf_nat_used_tuple_harder: when reply, a candidate reply tuple of new_ (a
 * TCP entry whose SYN was just seen), is held by the reply direction of a
 * source-NAT-ed connection that is over (TIME_WAIT, CLOSE, or later in the
 * state order) and new_'s sequence number has moved past the old one's in
 * the original direction (so a late segment of the old connection is out
 * of the new one's window), remove the old entry: the tuple is free. */
bool ct_evict_closed(struct ct_table *t, const struct ct_tuple *reply,
		     const struct ct_entry *new_)
{
	enum ct_dir dir;
	struct ct_entry *old;

	old = ct_lookup(t, reply, &dir);
	if (!old)
		return true;
	if (old == new_ || dir != CT_DIR_REPLY || old->tuple[0].proto != IPPROTO_TCP ||
	    (old->status & CT_S_DYING) || !(old->status & CT_S_SRC_NAT) ||
	    !ct_tcp_may_take_over(old, new_))
		return false;
	t->stats.nat_evicted++;
	entry_free(t, old);
	return true;
}

/* ------------------------------------------------------------ accessors */

const struct ct_tuple *ct_entry_tuple(const struct ct_entry *e, enum ct_dir dir)
{
	return &e->tuple[dir];
}

void ct_entry_set_reply(struct ct_entry *e, const struct ct_tuple *reply)
{
	/* a confirmed entry is hashed by its tuples: they no longer change */
	if (!(e->status & CT_S_CONFIRMED))
		tuple_norm(&e->tuple[CT_DIR_REPLY], reply);
}

uint32_t ct_entry_status(const struct ct_entry *e)
{
	return e->status & CT_S_PUBLIC;
}

void ct_entry_set_status(struct ct_entry *e, uint32_t bits)
{
	e->status |= (uint16_t)(bits & (CT_S_PUBLIC & ~(CT_S_CONFIRMED | CT_S_DYING)));
}

uint32_t ct_entry_mark(const struct ct_entry *e)
{
	return e->mark;
}

void ct_entry_set_mark(struct ct_entry *e, uint32_t mark)
{
	e->mark = mark;
}

enum ct_tcp_state ct_entry_tcp_state(const struct ct_entry *e)
{
	if (e->tuple[CT_DIR_ORIGINAL].proto != IPPROTO_TCP)
		return CT_TCP_NONE;
	return (enum ct_tcp_state)e->proto.tcp.state;
}

uint32_t ct_entry_timeout(const struct ct_entry *e, uint64_t now)
{
	/* whole units, as the kernel counts whole jiffies */
	int64_t u = (e->status & CT_S_CONFIRMED) ?
		(int32_t)(e->expires - ct_units(now)) : (int64_t)e->expires;

	return u > 0 ? (uint32_t)((u << CT_UNIT_SHIFT) / 1000000000) : 0;
}

/* ----------------------------------------------------- the control path */

int ct_foreach(struct ct_table *t, int (*fn)(struct ct_entry *e, void *arg), void *arg)
{
	for (uint32_t i = 0; i < t->hiwat; i++) {
		struct ct_entry *e = &t->pool[i];
		int ret;

		if ((e->status & (CT_S_CONFIRMED | CT_S_DYING)) != CT_S_CONFIRMED)
			continue;
		ret = fn(e, arg);
		if (ret)
			return ret;
	}
	return 0;
}

void ct_remove(struct ct_table *t, struct ct_entry *e)
{
	if (e->status & CT_S_ALLOCATED)
		entry_free(t, e);
}

void ct_flush(struct ct_table *t)
{
	for (uint32_t i = 0; i < t->hiwat; i++)
		if (t->pool[i].status & CT_S_CONFIRMED)
			entry_free(t, &t->pool[i]);
}

unsigned ct_flush_owner(struct ct_table *t, uint16_t owner)
{
	unsigned n = 0;

	if (!owner)
		return 0;
	for (uint32_t i = 0; i < t->hiwat; i++)
		if ((t->pool[i].status & CT_S_CONFIRMED) && t->pool[i].owner == owner) {
			entry_free(t, &t->pool[i]);
			n++;
		}
	return n;
}

uint16_t ct_entry_owner(const struct ct_entry *e)
{
	return e->owner;
}

/* libnetfilter_conntrack's names (conntrack -L). */
static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 33: return "dccp";
	case 47: return "gre";
	case 58: return "icmpv6";
	case 132: return "sctp";
	case 136: return "udplite";
	default: return "unknown";
	}
}

static void format_tuple(struct sbuf *out, const struct ct_tuple *tu)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	if (tu->family == NF_V6) {
		inet_ntop(AF_INET6, tu->src.b, s, sizeof(s));
		inet_ntop(AF_INET6, tu->dst.b, d, sizeof(d));
	} else {
		uint32_t sa = htonl(tu->src.ip), da = htonl(tu->dst.ip);

		inet_ntop(AF_INET, &sa, s, sizeof(s));
		inet_ntop(AF_INET, &da, d, sizeof(d));
	}
	sbuf_printf(out, "src=%s dst=%s ", s, d);
	switch (tu->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		sbuf_printf(out, "sport=%u dport=%u ", tu->sport, tu->dport);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((tu->proto == IPPROTO_ICMP) != (tu->family == NF_V4))
			break;
		sbuf_printf(out, "type=%u code=%u id=%u ", tu->dport >> 8,
			    tu->dport & 0xff, tu->sport);
		break;
	/* tracked generically here: the tool still prints their fields */
	case IPPROTO_DCCP:
	case IPPROTO_SCTP:
	case IPPROTO_UDPLITE:
		sbuf_add(out, "sport=0 dport=0 ");
		break;
	case IPPROTO_GRE:
		sbuf_add(out, "srckey=0x0 dstkey=0x0 ");
		break;
	}
}

struct ct_acct ct_entry_acct(const struct ct_table *t, const struct ct_entry *e, enum ct_dir dir)
{
	return t->acct[entry_index(t, e)][dir];
}

static void format_acct(struct sbuf *out, const struct ct_table *t, const struct ct_entry *e,
			enum ct_dir dir)
{
	struct ct_acct a = ct_entry_acct(t, e, dir);

	sbuf_printf(out, "packets=%llu bytes=%llu ", (unsigned long long)a.packets,
		    (unsigned long long)a.bytes);
}

void ct_format_ext(const struct ct_table *t, const struct ct_entry *e, uint64_t now,
		   unsigned flags, struct sbuf *out)
{
	uint8_t proto = e->tuple[CT_DIR_ORIGINAL].proto;
	bool acct = t && (flags & CT_FMT_ACCT);

	if (flags & CT_FMT_L3)
		sbuf_add(out, e->tuple[CT_DIR_ORIGINAL].family == NF_V6 ? "ipv6     10 " : "ipv4     2 ");
	sbuf_printf(out, "%-8s %u %u ", proto_name(proto), proto, ct_entry_timeout(e, now));
	if (proto == IPPROTO_TCP)
		sbuf_printf(out, "%s ", ct_tcp_state_name(e->proto.tcp.state));
	format_tuple(out, &e->tuple[CT_DIR_ORIGINAL]);
	if (acct)
		format_acct(out, t, e, CT_DIR_ORIGINAL);
	if (!(e->status & CT_S_SEEN_REPLY))
		sbuf_add(out, "[UNREPLIED] ");
	format_tuple(out, &e->tuple[CT_DIR_REPLY]);
	if (acct)
		format_acct(out, t, e, CT_DIR_REPLY);
	if (e->status & CT_S_ASSURED)
		sbuf_add(out, "[ASSURED] ");
	sbuf_printf(out, "mark=%u use=1", e->mark);
}

void ct_format(const struct ct_entry *e, uint64_t now, struct sbuf *out)
{
	ct_format_ext(NULL, e, now, 0, out);
}
