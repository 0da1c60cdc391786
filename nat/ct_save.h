/* SPDX-License-Identifier: MIT */
/*
 * ct_save — a conntrack entry as bytes and back, for KeepState (gw/keep.h):
 * a restart that carries the table over.  A fixed-size record of explicit
 * little-endian fields (never the struct's memory): the two tuples (the
 * NAT mapping is the reply tuple), status, mark, owner, the time left
 * (relative: the next process has another monotonic clock), the TCP
 * window tracking, the UDP stream point and the counters.
 *
 * Record (CT_SAVE_LEN bytes, offsets in the .c): family u8, proto u8,
 * status u16, tuple[2] (4 x u32 src, 4 x u32 dst, u16 sport, u16 dport),
 * mark u32, owner u16, units left u32, UDP stream point (units from now,
 * signed) i32, TCP state (2 sides of 4 x u32 + u8 + u8 + u16; 3 x u32, u16,
 * 6 x u8), counters (2 x (u64 packets, u64 bytes)).
 */
#ifndef GW_NAT_CT_SAVE_H
#define GW_NAT_CT_SAVE_H

#include <stddef.h>
#include <stdint.h>

struct ct_table;
struct ct_entry;

enum { CT_SAVE_LEN = 182 };

/* e (confirmed) as a record, its time left counted from now (ns). */
void ct_entry_save(const struct ct_table *t, const struct ct_entry *e, uint64_t now,
		   uint8_t out[static CT_SAVE_LEN]);
/* The owner id a record was saved with. */
uint16_t ct_saved_owner(const uint8_t rec[static CT_SAVE_LEN]);
/* A record back into t as a confirmed entry with owner, gone ns having
 * passed since it was saved (its time left shrinks by that).  0, -ETIME
 * (expired meanwhile: nothing added), -EINVAL (a record that cannot be
 * one), -EEXIST (a tuple is taken), -ENOSPC (the table is full; nothing is
 * dropped for it) or -EDQUOT (owner over cfg.owner_max). */
int ct_entry_load(struct ct_table *t, const uint8_t rec[static CT_SAVE_LEN], uint64_t now,
		  uint64_t gone, uint16_t owner);

#endif
