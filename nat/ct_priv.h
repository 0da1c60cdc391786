/* SPDX-License-Identifier: MIT */
/*
 * ct_priv — conntrack internals shared by conntrack.c (table, hash, timer
 * wheel), ct_tcp.c and ct_proto.c (the protocol trackers).  Not for use
 * outside nat/conntrack.c, nat/ct_*.c and their tests.
 *
 * Time inside ct is kept in units of 2^20 ns (~1.05 ms) as uint32_t,
 * compared wrap-safe (valid while timeouts stay below 2^31 units, ~26 days).
 * The timer wheel ticks every 2^24 ns (~16.8 ms).
 */
#ifndef GW_NAT_CT_PRIV_H
#define GW_NAT_CT_PRIV_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "nat/ct.h"

struct pkt;
struct pkt_hdr;

enum {
	CT_UNIT_SHIFT = 20,          /* ns -> units */
	CT_TICK_SHIFT = 24,          /* ns -> wheel ticks */
	CT_UNITS_PER_TICK_SHIFT = CT_TICK_SHIFT - CT_UNIT_SHIFT,
	CT_NIL = UINT32_MAX,         /* no entry / end of a list */
	CT_WHEEL_LEVELS = 6,
	CT_WHEEL_SLOT_BITS = 6,
	CT_WHEEL_SLOTS = 1 << CT_WHEEL_SLOT_BITS,
	CT_WHEEL_LVL_SHIFT = 4,      /* each level 16 times coarser */
};

/* Seconds to units, rounded up (an entry never expires early). */
#define CT_SECS(s) ((uint32_t)(((uint64_t)(s) * 1000000000u + \
	(1u << CT_UNIT_SHIFT) - 1) >> CT_UNIT_SHIFT))

/* Internal status bits, above the public CT_S_* ones. */
enum {
	CT_S_ALLOCATED = 1 << 14,    /* taken from the pool */
	CT_S_TS_ORIG = 1 << 13,      /* TCP: the original direction carries
	                              * timestamps; its last TSval is kept */
};

/* ip_ct_tcp_state flags (nf_conntrack_tcp.h). */
enum {
	CT_TCPF_WINDOW_SCALE = 0x01,
	CT_TCPF_SACK_PERM = 0x02,
	CT_TCPF_CLOSE_INIT = 0x04,
	CT_TCPF_BE_LIBERAL = 0x08,
	CT_TCPF_DATA_UNACKNOWLEDGED = 0x10,
	CT_TCPF_MAXACK_SET = 0x20,
	/* in ct_tcp.last_flags, values as the kernel's (0x04 is shared) */
	CT_TCPF_SIMULTANEOUS_OPEN = 0x04,
	CT_TCPF_EXP_CHALLENGE_ACK = 0x40,
};

/* One direction's view of a TCP stream (van Rooij's bounds). */
struct ct_tcp_side {
	uint32_t td_end;      /* max of seq + len */
	uint32_t td_maxend;   /* max of ack + max(win, 1) */
	uint32_t td_maxwin;   /* max(win) */
	uint32_t td_maxack;   /* max of ack */
	uint8_t td_scale;     /* window scale factor */
	uint8_t flags;        /* CT_TCPF_* */
	uint16_t ts_half;     /* seen[0]: low, seen[1]: high half of the original
	                       * direction's last TSval (CT_S_TS_ORIG; kept here
	                       * so the entry stays three cache lines) */
};

struct ct_tcp {
	struct ct_tcp_side seen[2];
	uint32_t last_seq, last_ack, last_end;
	uint16_t last_win;
	uint8_t state;        /* enum ct_tcp_state */
	uint8_t last_dir, last_index, last_wscale, last_flags, retrans;
};

/*
 * One connection: three cache lines.  The first two hold everything a
 * lookup and a refresh touch (two tuples of 40 bytes: IPv6 addresses fit);
 * the rest is the protocol state.
 */
struct ct_entry {
	alignas(64) struct ct_tuple tuple[2]; /* padding bytes always zero */
	uint32_t hnext[2];    /* hash chain: next node (entry index * 2 + dir) */
	uint32_t wprev, wnext; /* timer wheel list (entry indices) */
	uint32_t expires;     /* units; relative to confirmation while unconfirmed */
	uint32_t wtick;       /* tick of the wheel slot holding the entry */
	uint32_t mark;
	uint16_t status;      /* CT_S_* */
	uint16_t wslot;       /* level * CT_WHEEL_SLOTS + slot */
	union {
		struct ct_tcp tcp;
		struct {
			uint32_t stream_ts; /* units: replies after this make a stream */
		} udp;
	} proto;
	uint16_t owner;       /* the owner it counts for (cfg.owners), 0: none */
};

/* One destination whose NAT tuples are kept as a bitmap (ct_hot_*): bit
 * i says whether the tuple key with destination port lo + i is held. */
struct ct_hot {
	struct ct_tuple key;  /* normalized; dport 0 */
	uint16_t lo;
	uint16_t n;           /* ports in the bitmap, 0: slot unused */
	uint32_t held;        /* bits set */
	uint64_t used;        /* t->hot_clock at its last use */
	uint64_t bits[CT_HOT_PORTS / 64];
};

struct ct_table {
	struct ct_config cfg;
	struct ct_entry *pool;
	uint32_t *buckets;    /* heads of hash chains (node ids) */
	uint32_t mask;        /* buckets - 1 */
	uint32_t free_head;   /* free entries, chained by hnext[0] */
	uint32_t hiwat;       /* entries at and above were never used */
	uint64_t k0, k1;      /* hash key */
	/* timer wheel: hierarchical, placed rounded down, re-placed when a
	 * slot fires early (refresh is a store to expires) */
	uint64_t clk;         /* first tick not yet processed */
	uint64_t occupied[CT_WHEEL_LEVELS];
	uint32_t wheel[CT_WHEEL_LEVELS * CT_WHEEL_SLOTS];
	struct ct_stats stats;
	uint32_t *owner_count; /* [0..cfg.owners]: entries per owner */
	uint64_t *owner_limit; /* [0..cfg.owners]: new entries refused by owner_max */
	/* [entry index][dir]: kept beside the pool so an entry stays two
	 * cache lines; 32 bytes, one line; zeroed by entry_alloc */
	struct ct_acct (*acct)[2];
	struct ct_hot hot[CT_HOT_SLOTS];
	unsigned nhot;        /* slots in use, from 0 */
	uint64_t hot_clock;
	uint64_t hot_credit;  /* probes spent where a bitmap would have served */
};

/* What a protocol tracker says about a packet. */
enum ct_verdict {
	CT_V_ACCEPT,
	CT_V_INVALID,
	CT_V_REPEAT,          /* the entry was removed: look up again (TCP reopen) */
};

/* One packet as the trackers see it. */
struct ct_ctx {
	struct ct_table *t;
	const struct pkt *p;
	uint64_t now;         /* ns */
	uint32_t now_u;       /* units */
	enum ct_dir dir;
};

static inline uint32_t ct_units(uint64_t ns)
{
	return (uint32_t)(ns >> CT_UNIT_SHIFT);
}

/* a is before b, wrap-safe */
static inline bool ct_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* ct_tcp.c, for NAT's reuse of a closed connection's tuple: may new_ (its
 * SYN just seen) take over old's tuples?  See ct_evict_closed. */
bool ct_tcp_may_take_over(const struct ct_entry *old, const struct ct_entry *new_);

/* conntrack.c, for the trackers */
void ct_refresh(struct ct_ctx *c, struct ct_entry *e, uint32_t timeout);
/* Units until e expires (0 when due). */
uint32_t ct_expires_in(const struct ct_ctx *c, const struct ct_entry *e);
/* Remove e from lookups now; the memory stays valid until ct_expire. */
void ct_kill(struct ct_ctx *c, struct ct_entry *e);
/* The L4 checksum of the outer header is right (UDP 0: none, right). */
bool ct_l4_csum_ok(const struct pkt *p);

/* conntrack.c, for ct_save.c: a confirmed entry made from from's tuples,
 * status, mark, owner and protocol state, with counters acct, expiring left
 * units after now.  0, -EEXIST, -EDQUOT or -ENOSPC (ct_save.h). */
int ct_insert_saved(struct ct_table *t, const struct ct_entry *from, const struct ct_acct acct[2],
		    uint64_t now, uint32_t left);

/* ct_tcp.c */
bool ct_tcp_error(const struct pkt *p, bool check_csum);
bool ct_tcp_new(struct ct_ctx *c, struct ct_entry *e);
enum ct_verdict ct_tcp_packet(struct ct_ctx *c, struct ct_entry *e);
const char *ct_tcp_state_name(unsigned state);

/* ct_proto.c */
bool ct_udp_error(const struct pkt *p, bool check_csum);
enum ct_verdict ct_udp_packet(struct ct_ctx *c, struct ct_entry *e);
enum ct_verdict ct_icmp_packet(struct ct_ctx *c, struct ct_entry *e);
enum ct_verdict ct_icmp6_packet(struct ct_ctx *c, struct ct_entry *e);
enum ct_verdict ct_gre_packet(struct ct_ctx *c, struct ct_entry *e);
enum ct_verdict ct_generic_packet(struct ct_ctx *c, struct ct_entry *e);

#endif
