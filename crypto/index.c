/* SPDX-License-Identifier: MIT */
#include "crypto/index.h"

#include <errno.h>
#include <sodium.h>
#include <stddef.h>

void index_table_init(struct index_table *t, struct index_entry *slots, uint32_t nslots)
{
	t->slots = slots;
	t->mask = nslots - 1;
	t->count = 0;
	for (uint32_t i = 0; i < nslots; i++)
		slots[i] = (struct index_entry){ 0 };
}

/* The slot holding index, or the free slot ending its probe sequence. */
static uint32_t probe(const struct index_table *t, uint32_t index)
{
	uint32_t i = index & t->mask;

	while (t->slots[i].ptr && t->slots[i].index != index)
		i = (i + 1) & t->mask;
	return i;
}

int index_table_add(struct index_table *t, void *ptr, uint32_t kind, uint32_t *index)
{
	if (t->count + 1 > (t->mask + 1) / 4 * 3)
		return -ENOSPC;
	for (;;) {
		uint32_t idx = randombytes_random();
		uint32_t i = probe(t, idx);

		if (t->slots[i].ptr)
			continue; /* in use: draw again */
		t->slots[i] = (struct index_entry){ .index = idx, .kind = kind, .ptr = ptr };
		t->count++;
		*index = idx;
		return 0;
	}
}

int index_table_put(struct index_table *t, uint32_t index, void *ptr, uint32_t kind)
{
	uint32_t i;

	if (t->count + 1 > (t->mask + 1) / 4 * 3)
		return -ENOSPC;
	i = probe(t, index);
	if (t->slots[i].ptr)
		return -EEXIST;
	t->slots[i] = (struct index_entry){ .index = index, .kind = kind, .ptr = ptr };
	t->count++;
	return 0;
}

int index_table_replace(struct index_table *t, uint32_t index, void *ptr, uint32_t kind)
{
	uint32_t i = probe(t, index);

	if (!t->slots[i].ptr)
		return -ENOENT;
	t->slots[i].ptr = ptr;
	t->slots[i].kind = kind;
	return 0;
}

const struct index_entry *index_table_lookup(const struct index_table *t, uint32_t index)
{
	uint32_t i = probe(t, index);

	return t->slots[i].ptr ? &t->slots[i] : NULL;
}

void index_table_remove(struct index_table *t, uint32_t index)
{
	uint32_t i = probe(t, index), j = i;

	if (!t->slots[i].ptr)
		return;
	/* backward-shift deletion: no tombstones */
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->slots[j].ptr)
			break;
		uint32_t home = t->slots[j].index & t->mask;
		/* move j to i unless its home lies cyclically in (i, j] */
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i] = (struct index_entry){ 0 };
	t->count--;
}
