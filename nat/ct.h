/* SPDX-License-Identifier: MIT */
/*
 * ct — connection tracking as Linux nf_conntrack does it, in a fixed pool.
 *
 * One entry holds two tuples, original and reply, both in one hash table;
 * a lookup finds the entry and the direction.  NAT is a reply tuple that is
 * not the inverse of the original (nat/nat.c sets it before confirmation).
 *
 * Life of an entry: ct_in() on a packet with no entry takes one from the pool
 * (unconfirmed, not in the hash); ct_confirm() after POSTROUTING inserts both
 * tuples; ct_abort() returns an unconfirmed entry to the pool when its packet
 * is dropped.  Expiry runs from ct_expire(now) on a timer wheel: no full
 * scans.  Time is injected everywhere (ns, monotonic).
 */
#ifndef GW_NAT_CT_H
#define GW_NAT_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nat/nf.h"
#include "nat/pkt/addr.h"

struct sbuf;
struct pkt;

/* Host order (IPv6 addresses as nat/pkt/addr.h keeps them).  TCP/UDP:
 * ports.  ICMP: sport = id, dport = type << 8 | code (the reply tuple
 * carries the reply type: echo 8 <-> echo reply 0, ...).  Other protocols:
 * ports zero.  family: NF_V4 or NF_V6. */
struct ct_tuple {
	union nf_addr src, dst;
	uint16_t sport, dport;
	uint8_t proto;
	uint8_t family;
};

/* An IPv4 tuple (padding zero, as lookups need it). */
static inline struct ct_tuple ct_tuple4(uint32_t src, uint32_t dst, uint16_t sport,
					uint16_t dport, uint8_t proto)
{
	struct ct_tuple t;

	memset(&t, 0, sizeof(t));
	t.src = nf_addr4(src);
	t.dst = nf_addr4(dst);
	t.sport = sport;
	t.dport = dport;
	t.proto = proto;
	t.family = NF_V4;
	return t;
}

/* The tuple of the answer to t (ports swapped; ICMP and ICMPv6 queries
 * their reply type): false for ICMP types that have none. */
bool ct_tuple_invert(struct ct_tuple *inv, const struct ct_tuple *t);

/* The ICMPv6 type of the answer to an informational type that conntrack
 * tracks (echo request 128 <-> reply 129, node information query 139 <->
 * reply 140), or -1. */
int ct_icmp6_inverse(uint8_t type);

/* struct ct_entry.status */
enum {
	CT_S_SEEN_REPLY = 1 << 0,
	CT_S_ASSURED    = 1 << 1,
	CT_S_CONFIRMED  = 1 << 2,
	CT_S_SRC_NAT    = 1 << 3,  /* reply tuple's dst differs from original src */
	CT_S_DST_NAT    = 1 << 4,  /* reply tuple's src differs from original dst */
	CT_S_NAT_DONE_SRC = 1 << 5, /* the nat table was consulted for SNAT */
	CT_S_NAT_DONE_DST = 1 << 6, /* ... for DNAT */
	CT_S_DYING      = 1 << 7,
};

/* TCP conntrack states (nf_conntrack_proto_tcp.c order). */
enum ct_tcp_state {
	CT_TCP_NONE, CT_TCP_SYN_SENT, CT_TCP_SYN_RECV, CT_TCP_ESTABLISHED,
	CT_TCP_FIN_WAIT, CT_TCP_CLOSE_WAIT, CT_TCP_LAST_ACK, CT_TCP_TIME_WAIT,
	CT_TCP_CLOSE, CT_TCP_SYN_SENT2, CT_TCP_MAX
};

struct ct_entry;  /* opaque outside ct; <= 192 bytes (ct_entry_size()) */

struct ct_config {
	uint32_t max;            /* entries in the pool (nf_conntrack_max) */
	uint32_t buckets;        /* hash buckets; 0 = derived from max */
	bool tcp_be_liberal;     /* nf_conntrack_tcp_be_liberal */
	bool tcp_loose;          /* nf_conntrack_tcp_loose (default on) */
	bool checksum;           /* nf_conntrack_checksum: bad L4 sum -> INVALID */
	uint32_t hash_seed;      /* random per instance */
	uint16_t owners;         /* owner ids 1..owners (peers); 0: none */
	uint32_t owner_max;      /* entries one owner may create (0: no limit) */
	bool hot_off;            /* no hot-destination bitmaps (ct_hot_learn) */
};

/* Defaults as Linux: loose on, liberal off, checksum on. */
void ct_config_default(struct ct_config *cfg, uint32_t max);

struct ct_table;

int ct_create(struct ct_table **out, const struct ct_config *cfg);
void ct_destroy(struct ct_table *t);

/* One direction's counters of an entry (nf_conntrack_acct): the packets
 * and bytes (whole IPv4 packets, header included) the protocol tracker
 * accepted in that direction, counted where Linux's nf_ct_refresh_acct does
 * (ct_refresh).  RELATED ICMP errors and INVALID packets are not counted. */
struct ct_acct {
	uint64_t packets, bytes;
};

/* Counters for gw stats / conntrack -S. */
struct ct_stats {
	uint64_t found, new_, invalid, insert_failed, drop, early_drop, expired;
	uint64_t nat_evicted;      /* closed entries whose NAT tuple a new SYN took */
	uint64_t nat_hot;          /* port bitmaps built for a hot destination */
	uint64_t nat_hot_used;     /* port searches a bitmap served */
	uint64_t owner_limit;      /* new entries refused: their owner had owner_max */
	uint32_t count, max;
};
void ct_get_stats(const struct ct_table *t, struct ct_stats *st);
/* One owner's share of the table (owner 1..cfg.owners; others read zero):
 * its entries now, and the new entries refused because it had owner_max. */
struct ct_owner_stats {
	uint32_t count;
	uint64_t limit;
};
void ct_get_owner_stats(const struct ct_table *t, uint16_t owner, struct ct_owner_stats *st);

/*
 * Conntrack at PREROUTING / OUTPUT: find the packet's entry and direction, run
 * the protocol state machine, and set ctx->ct, ctx->ctstate, ctx->ctdir.  A
 * packet with no entry gets a new unconfirmed one (ctstate NEW) unless it is
 * INVALID.  ICMP errors are matched through their embedded header (RELATED).
 * ctx->notrack set before the call (raw table) gives UNTRACKED.  When the
 * pool is full a non-assured entry is dropped early; if none can be, the
 * packet is INVALID with ct NULL, stats.drop counts it and ct_in returns
 * -ENOSPC: the caller drops the packet, as the kernel does.  A packet whose
 * owner (pkt.owner, the peer that sent it) already has cfg.owner_max entries
 * gets no new one: ct NULL, stats.owner_limit, -EDQUOT; the caller drops it
 * (other owners are not affected).  Otherwise 0
 * (an INVALID packet is the rules' to judge).  check_csum: verify
 * the L4 checksum (PREROUTING, when the checksum option is on).
 * ctx->ct stays valid until the next ct_expire(), ct_remove() or ct_flush(),
 * or a ct_in() that has to early-drop: finish a packet before those.
 */
int ct_in(struct ct_table *t, struct nf_ctx *ctx, bool check_csum);
/* Optional, for a batch: call for every packet of the batch before their
 * ct_in(); it starts the memory loads ct_in will need (no state changes). */
void ct_prefetch(const struct ct_table *t, const struct pkt *p);

/* After POSTROUTING: insert a new entry's tuples.  Returns 0, or -EEXIST when
 * a tuple clashes (the packet must be dropped, the entry is freed). */
int ct_confirm(struct ct_table *t, struct ct_entry *e, uint64_t now);
/* The packet of an unconfirmed entry was dropped: free it. */
void ct_abort(struct ct_table *t, struct ct_entry *e);

/* Expire what is due at now, doing at most budget removals; returns the
 * number removed. */
unsigned ct_expire(struct ct_table *t, uint64_t now, unsigned budget);
/* When ct_expire next has work, or UINT64_MAX. */
uint64_t ct_next_deadline(const struct ct_table *t);

/* Find the entry holding tuple (in either direction). */
struct ct_entry *ct_lookup(struct ct_table *t, const struct ct_tuple *tuple,
			   enum ct_dir *dir);
/* True when some confirmed entry other than ignore holds tuple, in either
 * direction (NAT uniqueness check: pass the candidate reply tuple).  As
 * nf_conntrack_tuple_taken: an entry with ignore's original tuple does not
 * count (the same flow; ct_confirm settles it). */
bool ct_tuple_taken(const struct ct_table *t, const struct ct_tuple *tuple,
		    const struct ct_entry *ignore);
/* The same in steps, for a search that looks ahead (NAT's port search):
 * the tuple's hash; a prefetch of its bucket (chain false), then, once that
 * has arrived, of the first entry of its chain (chain true); the test. */
uint32_t ct_tuple_hash(const struct ct_table *t, const struct ct_tuple *tuple);
void ct_prefetch_hash(const struct ct_table *t, uint32_t hash, bool chain);
bool ct_tuple_taken_hash(const struct ct_table *t, const struct ct_tuple *tuple,
			 uint32_t hash, const struct ct_entry *ignore);

/*
 * Hot destinations: NAT's port search toward one destination that holds
 * most of a port range probes tuple after taken tuple (about 96 hash
 * lookups per new connection once the range is full, before Linux's harder
 * phase may take over a closed one).  For up to CT_HOT_SLOTS such
 * destinations (all of a reply tuple but its destination port, and a range
 * of at most CT_HOT_PORTS ports) ct keeps a bitmap of the ports held: a bit
 * is set exactly when ct_tuple_taken would say the tuple is taken (some
 * live entry, DYING ones aside, holds it in either direction), updated as
 * entries enter and leave the hash and are killed.  The search then tests
 * bits instead of chains, with the same answers: it asks
 * ct_tuple_taken_hash with the new entry as ignore, which differs from
 * ignore NULL only for a live entry with the new one's original tuple, and
 * there is none (ct_in creates an entry only when no live one holds its
 * tuple, reaping an expired one first; a killed one is DYING).
 *
 * ct_hot_find: the slot for reply's destination and exactly the ports
 *   [lo, lo + n), or -1.
 * ct_hot_held: whether port's bit is set in slot.
 * ct_hot_learn: a search that found no slot spent `spent` probes on taken
 *   tuples toward reply; once such probes add up to a range's size, a slot
 *   is built for this destination (one lookup per port of the range; the
 *   least recently used slot is replaced), so building costs at most what
 *   the probes it saves would have.  Returns the slot or -1.
 */
enum { CT_HOT_PORTS = 8192, CT_HOT_SLOTS = 4 };
int ct_hot_find(struct ct_table *t, const struct ct_tuple *reply, uint16_t lo, uint32_t n);
bool ct_hot_held(const struct ct_table *t, int slot, uint16_t port);
int ct_hot_learn(struct ct_table *t, const struct ct_tuple *reply, uint16_t lo, uint32_t n,
		 uint32_t spent);
/* Test support: every bit of every slot agrees with ct_tuple_taken. */
bool ct_hot_check(const struct ct_table *t);

/* NAT's last resort when every candidate tuple is taken (Linux's
 * nf_nat_used_tuple_harder): returns true when reply, a candidate reply
 * tuple for new_ (a TCP entry in SYN_SENT), is free, or was held by a
 * source-NAT-ed TCP connection that is over (TIME_WAIT or CLOSE) and whose
 * last sequence number in the original direction is before new_'s (and,
 * where both carry timestamps, its last TSval before new_'s: RFC 6191): that
 * entry is removed (stats.nat_evicted).  False: the tuple stays taken. */
bool ct_evict_closed(struct ct_table *t, const struct ct_tuple *reply,
		     const struct ct_entry *new_);
/* Entry accessors for nat/ and the control path. */
const struct ct_tuple *ct_entry_tuple(const struct ct_entry *e, enum ct_dir dir);
void ct_entry_set_reply(struct ct_entry *e, const struct ct_tuple *reply);
uint32_t ct_entry_status(const struct ct_entry *e);
/* Adds bits (CONFIRMED and DYING are ct's own and ignored). */
void ct_entry_set_status(struct ct_entry *e, uint32_t bits);
uint32_t ct_entry_mark(const struct ct_entry *e);
void ct_entry_set_mark(struct ct_entry *e, uint32_t mark);
enum ct_tcp_state ct_entry_tcp_state(const struct ct_entry *e);
/* The entry's counters in direction dir. */
struct ct_acct ct_entry_acct(const struct ct_table *t, const struct ct_entry *e, enum ct_dir dir);
/* Seconds until expiry at now (for conntrack -L). */
uint32_t ct_entry_timeout(const struct ct_entry *e, uint64_t now);
size_t ct_entry_size(void);

/* Visit every confirmed entry; stop when fn returns non-zero. */
int ct_foreach(struct ct_table *t, int (*fn)(struct ct_entry *e, void *arg), void *arg);
/* Remove an entry now (flush, MASQUERADE address change). */
void ct_remove(struct ct_table *t, struct ct_entry *e);
void ct_flush(struct ct_table *t);
/* Remove every entry of owner (a peer that went); returns how many. */
unsigned ct_flush_owner(struct ct_table *t, uint16_t owner);
/* The owner id the entry was created with (0: none). */
uint16_t ct_entry_owner(const struct ct_entry *e);

/* One line in the conntrack -L format, without newline:
 * "tcp      6 431999 ESTABLISHED src=... dst=... sport=... dport=... src=...
 *  dst=... sport=... dport=... [ASSURED] mark=0 use=1" */
void ct_format(const struct ct_entry *e, uint64_t now, struct sbuf *out);
/* The same with options, as `conntrack -L -o extended` prints it on a kernel
 * with nf_conntrack_acct=1: CT_FMT_L3 starts the line with "ipv4     2 ",
 * CT_FMT_ACCT puts "packets=N bytes=N " after each direction's tuple (before
 * [UNREPLIED] for the original one). */
enum { CT_FMT_L3 = 1 << 0, CT_FMT_ACCT = 1 << 1 };
void ct_format_ext(const struct ct_table *t, const struct ct_entry *e, uint64_t now,
		   unsigned flags, struct sbuf *out);

#endif
