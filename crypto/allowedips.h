/* SPDX-License-Identifier: MIT */
/*
 * Cryptokey routing: the allowed-IPs table, a path-compressed binary trie per
 * address family mapping prefixes to peers (opaque pointers), looked up by
 * longest prefix (whitepaper §2; the kernel's allowedips.c).
 *
 * Invariants: a node's bits are zero past its cidr; a child's cidr is
 * greater than its parent's and shares the parent's prefix; the child a key
 * descends to is chosen by the key's bit at the parent's cidr; a node without
 * a peer has two children (remove compacts the others away).
 *
 * Allocation happens only in insert (at most two nodes); removal frees and
 * compacts what is left without a peer; lookup allocates nothing and is O(address bits).  Not thread safe.
 */
#ifndef GW_CRYPTO_ALLOWEDIPS_H
#define GW_CRYPTO_ALLOWEDIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aip_node;

struct allowedips {
	struct aip_node *root4, *root6;
	size_t count; /* prefixes with a peer */
};

void allowedips_init(struct allowedips *t);
/* Frees every node. */
void allowedips_destroy(struct allowedips *t);
/* Maps family (AF_INET / AF_INET6) addr/cidr to peer (non-NULL); an existing
 * prefix changes owner.  Bits of addr past cidr are ignored.  0, -EINVAL
 * (family, cidr) or -ENOMEM. */
int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
		      void *peer);
/* Removes the one prefix family addr/cidr when peer holds it (bits of addr
 * past cidr ignored).  0, -ENOENT (no such prefix, or another peer's) or
 * -EINVAL. */
int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
		      void *peer);
/* Removes every prefix of peer. */
void allowedips_remove_peer(struct allowedips *t, void *peer);
/* The peer of the longest prefix holding addr (4 or 16 bytes), or NULL. */
void *allowedips_lookup(const struct allowedips *t, int family, const uint8_t *addr);

/* Called per prefix by allowedips_walk, IPv4 first, then IPv6, each in
 * address order; addr holds 4 or 16 bytes. */
typedef void allowedips_walk_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr,
				void *peer);
/* Every prefix (of peer only, when peer is non-NULL). */
void allowedips_walk(const struct allowedips *t, void *peer, allowedips_walk_fn *fn, void *ctx);

#endif
