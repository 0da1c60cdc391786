/* SPDX-License-Identifier: MIT */
/*
 * Receiver index table: maps the random 32-bit sender indices we hand out
 * (handshakes in flight, keypairs) to the caller's objects, so a received
 * response or data message finds its peer/keypair in O(1).  Open addressing
 * with linear probing over caller-provided slots; no allocation.
 */
#ifndef GW_CRYPTO_INDEX_H
#define GW_CRYPTO_INDEX_H

#include <stdint.h>

struct index_entry {
	uint32_t index;
	uint32_t kind; /* caller's tag, e.g. handshake or keypair */
	void *ptr;     /* NULL: free slot */
};

struct index_table {
	struct index_entry *slots;
	uint32_t mask;  /* nslots - 1 */
	uint32_t count;
};

/* nslots must be a power of two; at most 3/4 of them are used. */
void index_table_init(struct index_table *t, struct index_entry *slots, uint32_t nslots);
/* A fresh random index not in use, mapped to (ptr, kind).  0 or -ENOSPC. */
int index_table_add(struct index_table *t, void *ptr, uint32_t kind, uint32_t *index);
/* Maps a given index not in use (moving entries to a bigger table).  0,
 * -EEXIST or -ENOSPC. */
int index_table_put(struct index_table *t, uint32_t index, void *ptr, uint32_t kind);
/* Re-points an existing index (a handshake's index becoming its keypair's).
 * 0 or -ENOENT. */
int index_table_replace(struct index_table *t, uint32_t index, void *ptr, uint32_t kind);
/* The entry or NULL. */
const struct index_entry *index_table_lookup(const struct index_table *t, uint32_t index);
/* Removes index if present. */
void index_table_remove(struct index_table *t, uint32_t index);

#endif
