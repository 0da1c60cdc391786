/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: what gw reads off rtnetlink, the kernel's answers taken as
 * untrusted bytes: the RTM_GETADDR dumps of gw/route.c (the host's IPv4
 * and IPv6 addresses: route_addrs_parse, route_addrs6_parse, the very
 * callbacks route_host_addrs[6] run over each read) and the neighbour and
 * route messages of gw/neigh.c (neigh_msg, what neigh_read and the dumps
 * hand it, then neigh_lookup / neigh_lookup6).
 *
 * Input: one mode byte, then the bytes of one read (netlink messages).
 *   mode bits 0-1  0: the IPv4 address dump, 1: the IPv6 one (interface
 *                  index mode bits 4-7), 2 and 3: neighbour and route
 *                  messages into a cache for interface 2
 *   mode bit 2     repair: each message's length is made what its
 *                  attributes take up (so messages follow each other)
 * Properties, on an exact heap copy of the read (ASan sees any read past
 * it or past a message):
 *   - a dump parses to an error or to addresses with NUL-terminated device
 *     names; the IPv6 interface address found is one of those listed;
 *   - the neighbour cache holds at most NEIGH_ROUTES routes of a family,
 *     each prefix masked to its length, at most NEIGH_SLOTS entries; a MAC
 *     lookup answers only from an entry learned with that MAC;
 *   - every message again as its RTM_DEL twin leaves the cache empty: no
 *     route or entry a message made outlives its deletion.
 */
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/neigh.h"
#include "gw/route.h"
#include "nat/pkt/be.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* Each message's nlmsg_len made what follows its header up to the next
 * message (the attributes' lengths rounded), within len. */
static void repair(uint8_t *buf, size_t len)
{
	size_t at = 0;

	while (at + sizeof(struct nlmsghdr) <= len) {
		struct nlmsghdr *h = (struct nlmsghdr *)(buf + at);
		size_t n = h->nlmsg_len;

		if (n < sizeof(*h))
			n = sizeof(*h);
		if (n > len - at)
			n = len - at;
		h->nlmsg_len = (uint32_t)n;
		at += NLMSG_ALIGN(n);
	}
}

static bool masked6(const union nf_addr *a, unsigned len)
{
	for (unsigned bit = len; bit < 128; bit++)
		if (a->b[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

static void check_neigh(struct neigh *n)
{
	unsigned used = 0;

	CHECK(n->nroute <= NEIGH_ROUTES && n->nroute6 <= NEIGH_ROUTES);
	for (unsigned i = 0; i < n->nroute; i++) {
		const struct neigh_route *r = &n->route[i];

		CHECK(r->len <= 32 && !(r->dst & (r->len ? ~(~0u << (32 - r->len)) : ~0u)));
	}
	for (unsigned i = 0; i < n->nroute6; i++)
		CHECK(n->route6[i].len <= 128 && masked6(&n->route6[i].dst, n->route6[i].len));
	for (unsigned i = 0; i < NEIGH_SLOTS; i++)
		used += n->slot[i].family != 0;
	CHECK(used == n->nentry && used <= NEIGH_SLOTS);
}

/* Every lookup's MAC is one some entry holds. */
static void lookups(struct neigh *n, const uint8_t *data, size_t size)
{
	for (size_t at = 0; at + 16 <= size && at < 512; at += 16) {
		union nf_addr a;
		uint8_t mac[6];
		enum neigh_verdict v;
		bool found = false;

		v = neigh_lookup(n, be32_get(data + at), mac);
		CHECK(v == NEIGH_MAC || v == NEIGH_RAW || v == NEIGH_CONFIRM);
		memcpy(a.b, data + at, 16);
		if (v != NEIGH_MAC)
			v = neigh_lookup6(n, &a, mac);
		CHECK(v == NEIGH_MAC || v == NEIGH_RAW || v == NEIGH_CONFIRM);
		if (v != NEIGH_MAC)
			continue;
		for (unsigned i = 0; i < NEIGH_SLOTS && !found; i++)
			found = n->slot[i].family && !memcmp(n->slot[i].mac, mac, 6);
		CHECK(found);
	}
}

static void neigh_feed(const uint8_t *buf, size_t len, const uint8_t *data, size_t size)
{
	static struct neigh n; /* large: not on the stack */
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	int left = (int)len;

	neigh_init(&n, 2);
	for (; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
		neigh_msg(&n, h);
		check_neigh(&n);
	}
	lookups(&n, data, size);
	/* every message again as its deletion: nothing stays of the routes
	 * and entries the messages made that they would not make again */
	h = (const struct nlmsghdr *)buf;
	left = (int)len;
	for (; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
		/* libmnl walks the attributes up to the aligned length: the
		 * copy has the padding too (as far as the read has it) */
		size_t al = NLMSG_ALIGN((size_t)h->nlmsg_len);
		struct nlmsghdr *d = calloc(1, al);

		CHECK(d);
		memcpy(d, h, al <= (size_t)left ? al : (size_t)left);
		if (d->nlmsg_type == RTM_NEWNEIGH)
			d->nlmsg_type = RTM_DELNEIGH;
		else if (d->nlmsg_type == RTM_NEWROUTE)
			d->nlmsg_type = RTM_DELROUTE;
		neigh_msg(&n, d);
		check_neigh(&n);
		free(d);
	}
	if (n.nroute || n.nroute6 || n.nentry)
		fprintf(stderr, "left after the deletions: %u routes, %u IPv6 routes, %u entries\n",
			n.nroute, n.nroute6, n.nentry);
	CHECK(n.nroute == 0 && n.nroute6 == 0 && n.nentry == 0);
	lookups(&n, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode, *buf;
	size_t len;
	int rc;

	if (size < 1 || size > 65536)
		return 0;
	mode = data[0];
	data++, size--;
	len = size;
	/* zero padding to a 4-byte boundary: libmnl walks a message's
	 * attributes up to its aligned length, past a read that ends
	 * unaligned (gw's reads are into buffers much larger than them) */
	buf = calloc(1, NLMSG_ALIGN(len) ? NLMSG_ALIGN(len) : 4);
	CHECK(buf);
	memcpy(buf, data, len);
	if (mode & 4)
		repair(buf, len);
	/* libmnl's mnl_nlmsg_ok compares nlmsg_len as an int: a length past
	 * INT_MAX passes and the walk leaves the buffer.  The kernel never
	 * sends one; here such a length is cut to the read */
	for (size_t at = 0; at + sizeof(struct nlmsghdr) <= len;) {
		struct nlmsghdr *h = (struct nlmsghdr *)(buf + at);

		if (h->nlmsg_len > INT32_MAX)
			h->nlmsg_len = (uint32_t)(len - at);
		if (h->nlmsg_len < sizeof(*h))
			break;
		at += NLMSG_ALIGN((size_t)h->nlmsg_len);
	}
	switch (mode & 3) {
	case 0: {
		struct route_addr *a;

		rc = route_addrs_parse(buf, len, &a);
		CHECK(rc >= 0 || !a);
		for (int i = 0; i < rc; i++)
			CHECK(memchr(a[i].dev, 0, sizeof(a[i].dev)));
		free(a);
		break;
	}
	case 1: {
		union nf_addr dev, *all;
		unsigned ndev;
		bool in = false;

		rc = route_addrs6_parse(buf, len, mode >> 4, NULL, &dev, &all, &ndev);
		CHECK(rc < 0 ? ndev == 0 : ndev <= (unsigned)rc);
		CHECK(rc >= 0 || !all);
		for (int i = 0; i < rc && !in; i++)
			in = nf_addr_eq(&all[i], &dev);
		CHECK(rc < 0 || nf_addr_is_zero(&dev) || in);
		free(all);
		break;
	}
	default:
		neigh_feed(buf, len, data, size);
		break;
	}
	free(buf);
	return 0;
}
