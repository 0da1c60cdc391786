/* SPDX-License-Identifier: MIT */
#include "crypto/allowedips.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct aip_node {
	struct aip_node *child[2];
	void *peer;       /* NULL: a branching node only */
	uint8_t bits[16]; /* zero past cidr */
	uint8_t cidr;
};

void allowedips_init(struct allowedips *t)
{
	memset(t, 0, sizeof(*t));
}

static void free_tree(struct aip_node *n)
{
	if (!n)
		return;
	free_tree(n->child[0]);
	free_tree(n->child[1]);
	free(n);
}

void allowedips_destroy(struct allowedips *t)
{
	free_tree(t->root4);
	free_tree(t->root6);
	memset(t, 0, sizeof(*t));
}

static unsigned bit_at(const uint8_t *key, unsigned i)
{
	return (key[i / 8] >> (7 - i % 8)) & 1;
}

static void mask(uint8_t *out, const uint8_t *in, unsigned cidr, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned b = i * 8;

		if (cidr >= b + 8)
			out[i] = in[i];
		else if (cidr <= b)
			out[i] = 0;
		else
			out[i] = in[i] & (uint8_t)(0xff << (8 - (cidr - b)));
	}
}

/* Number of leading bits a and b share, at most maxbits. */
static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned maxbits)
{
	unsigned n = 0;

	for (unsigned i = 0; i < maxbits / 8; i++) {
		uint8_t x = a[i] ^ b[i];

		if (x) {
			while (!(x & 0x80)) {
				x <<= 1;
				n++;
			}
			return n;
		}
		n += 8;
	}
	return n;
}

/* Whether key lies inside node's prefix. */
static bool prefix_match(const struct aip_node *n, const uint8_t *key, unsigned maxbits)
{
	return common_bits(n->bits, key, maxbits) >= n->cidr;
}

static struct aip_node **root_of(struct allowedips *t, int family, unsigned *maxbits)
{
	if (family == AF_INET) {
		*maxbits = 32;
		return &t->root4;
	}
	if (family == AF_INET6) {
		*maxbits = 128;
		return &t->root6;
	}
	return NULL;
}

static struct aip_node *node_new(const uint8_t *key, unsigned cidr, void *peer)
{
	struct aip_node *n = calloc(1, sizeof(*n));

	if (n) {
		memcpy(n->bits, key, sizeof(n->bits));
		n->cidr = (uint8_t)cidr;
		n->peer = peer;
	}
	return n;
}

int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
		      void *peer)
{
	uint8_t key[16] = { 0 };
	unsigned maxbits;
	struct aip_node **root = root_of(t, family, &maxbits), **down, *n, *d, *fresh, *mid;

	if (!root || cidr > maxbits || !peer)
		return -EINVAL;
	mask(key, addr, cidr, maxbits / 8);

	/* the deepest node on key's path whose prefix holds key, cidr <= ours */
	n = NULL;
	down = root;
	while (*down && (*down)->cidr <= cidr && prefix_match(*down, key, maxbits)) {
		n = *down;
		if (n->cidr == cidr)
			break;
		down = &n->child[bit_at(key, n->cidr)];
	}
	if (n && n->cidr == cidr) {
		if (!n->peer)
			t->count++;
		n->peer = peer;
		return 0;
	}
	fresh = node_new(key, cidr, peer);
	if (!fresh)
		return -ENOMEM;
	d = *down;
	if (!d) {
		*down = fresh;
		t->count++;
		return 0;
	}
	/* d lies below n but is not inside our prefix, or is longer than it */
	unsigned common = common_bits(d->bits, key, maxbits);

	if (common > cidr)
		common = cidr;
	if (common == cidr) {
		/* d is inside the new prefix: it becomes our child */
		fresh->child[bit_at(d->bits, cidr)] = d;
		*down = fresh;
		t->count++;
		return 0;
	}
	uint8_t mkey[16] = { 0 };

	mask(mkey, key, common, maxbits / 8);
	mid = node_new(mkey, common, NULL);
	if (!mid) {
		free(fresh);
		return -ENOMEM;
	}
	mid->child[bit_at(d->bits, common)] = d;
	mid->child[bit_at(key, common)] = fresh;
	*down = mid;
	t->count++;
	return 0;
}

/* Compacts n after its prefix went: returns what replaces it. */
static struct aip_node *compact(struct aip_node *n)
{
	struct aip_node *only;

	if (n->peer || (n->child[0] && n->child[1]))
		return n;
	only = n->child[0] ? n->child[0] : n->child[1];
	free(n);
	return only;
}

/* Clears peer's prefixes below n and compacts; returns the new subtree. */
static struct aip_node *prune(struct allowedips *t, struct aip_node *n, void *peer)
{
	if (!n)
		return NULL;
	n->child[0] = prune(t, n->child[0], peer);
	n->child[1] = prune(t, n->child[1], peer);
	if (n->peer && n->peer == peer) {
		n->peer = NULL;
		t->count--;
	}
	return compact(n);
}

int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
		      void *peer)
{
	uint8_t key[16] = { 0 };
	unsigned maxbits, depth = 0;
	struct aip_node **root = root_of(t, family, &maxbits), **down;
	struct aip_node **path[129];

	if (!root || cidr > maxbits || !peer)
		return -EINVAL;
	mask(key, addr, cidr, maxbits / 8);
	down = root;
	while (*down && (*down)->cidr <= cidr && prefix_match(*down, key, maxbits)) {
		path[depth++] = down;
		if ((*down)->cidr == cidr)
			break;
		down = &(*down)->child[bit_at(key, (*down)->cidr)];
	}
	if (!depth || (*path[depth - 1])->cidr != cidr || (*path[depth - 1])->peer != peer)
		return -ENOENT;
	(*path[depth - 1])->peer = NULL;
	t->count--;
	/* the node, then a branching parent left with one child, go */
	while (depth--) {
		struct aip_node *n = *path[depth], *keep = compact(n);

		*path[depth] = keep;
		if (keep == n)
			break;
	}
	return 0;
}

void allowedips_remove_peer(struct allowedips *t, void *peer)
{
	t->root4 = prune(t, t->root4, peer);
	t->root6 = prune(t, t->root6, peer);
}

void *allowedips_lookup(const struct allowedips *t, int family, const uint8_t *addr)
{
	const struct aip_node *n;
	unsigned maxbits;
	void *best = NULL;

	if (family == AF_INET) {
		n = t->root4;
		maxbits = 32;
	} else if (family == AF_INET6) {
		n = t->root6;
		maxbits = 128;
	} else {
		return NULL;
	}
	while (n && prefix_match(n, addr, maxbits)) {
		if (n->peer)
			best = n->peer;
		if (n->cidr == maxbits)
			break;
		n = n->child[bit_at(addr, n->cidr)];
	}
	return best;
}

static void walk(const struct aip_node *n, int family, void *peer, allowedips_walk_fn *fn,
		 void *ctx)
{
	if (!n)
		return;
	if (n->peer && (!peer || n->peer == peer))
		fn(ctx, family, n->bits, n->cidr, n->peer);
	walk(n->child[0], family, peer, fn, ctx);
	walk(n->child[1], family, peer, fn, ctx);
}

void allowedips_walk(const struct allowedips *t, void *peer, allowedips_walk_fn *fn, void *ctx)
{
	walk(t->root4, AF_INET, peer, fn, ctx);
	walk(t->root6, AF_INET6, peer, fn, ctx);
}
