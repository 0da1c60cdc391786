/* SPDX-License-Identifier: MIT */
/* The uplink's next hops and their MACs: see neigh.h. */
#include "gw/neigh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

#include "gw/nl.h"

enum {
	NEIGH_BUF = 32768,	/* one read: a dump's part or events */
	NEIGH_DUMP_MS = 2000,	/* a dump's next part, at most */
	NEIGH_RCVBUF = 1 << 20,
	NEIGH_RESYNC_TRIES = 3,
};

/* ---- the neighbour table ------------------------------------------------ */

/* IPv4 hashes its host-order address as before; IPv6 folds its four
 * words into one first. */
static unsigned hash(uint8_t family, const union nf_addr *a)
{
	uint32_t h = a->ip;

	if (family == NF_V6)
		h = ((a->ip6[0] * 2654435761u ^ a->ip6[1]) * 2654435761u ^ a->ip6[2]) *
			    2654435761u ^ a->ip6[3];
	return (h * 2654435761u) >> 24 & (NEIGH_SLOTS - 1);
}

/* An IPv4 address's other twelve bytes are zero: one compare for both. */
static bool same(const struct neigh_entry *e, uint8_t family, const union nf_addr *a)
{
	return e->family == family && !((e->addr.ip6[0] ^ a->ip6[0]) | (e->addr.ip6[1] ^ a->ip6[1]) |
					(e->addr.ip6[2] ^ a->ip6[2]) | (e->addr.ip6[3] ^ a->ip6[3]));
}

static struct neigh_entry *find(struct neigh *n, uint8_t family, const union nf_addr *a)
{
	for (unsigned i = hash(family, a);; i = (i + 1) & (NEIGH_SLOTS - 1)) {
		if (same(&n->slot[i], family, a))
			return &n->slot[i];
		if (!n->slot[i].family)
			return NULL;
	}
}

/* Linear probing's delete: later entries of the run move back into the
 * hole unless their home slot lies after it. */
static void forget(struct neigh *n, struct neigh_entry *e)
{
	unsigned i = (unsigned)(e - n->slot), j = i;

	for (;;) {
		unsigned k;

		j = (j + 1) & (NEIGH_SLOTS - 1);
		if (!n->slot[j].family)
			break;
		k = hash(n->slot[j].family, &n->slot[j].addr);
		/* stays when its home k lies cyclically in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		n->slot[i] = n->slot[j];
		i = j;
	}
	n->slot[i].family = 0;
	n->nentry--;
}

static void learn(struct neigh *n, uint8_t family, const union nf_addr *a, const uint8_t *mac,
		  uint16_t state)
{
	struct neigh_entry *e = find(n, family, a);
	bool was_stale;

	if (!e) {
		unsigned i;

		if (4 * (n->nentry + 1) > 3 * NEIGH_SLOTS)
			return; /* no room: it goes by the raw socket */
		for (i = hash(family, a); n->slot[i].family; i = (i + 1) & (NEIGH_SLOTS - 1))
			;
		e = &n->slot[i];
		*e = (struct neigh_entry){ .addr = *a, .family = family };
		n->nentry++;
	}
	was_stale = e->state & NUD_STALE;
	memcpy(e->mac, mac, 6);
	e->state = state;
	if (!(state & NUD_STALE))
		e->confirm = false;
	else if (!was_stale)
		e->confirm = true;
}

static void neigh_event(struct neigh *n, const struct nlmsghdr *nlh)
{
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	const uint8_t *mac = NULL;
	struct neigh_entry *e;
	union nf_addr addr = { 0 };
	uint8_t family;
	size_t alen;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nd)) || nd->ndm_ifindex != n->ifindex ||
	    (nd->ndm_flags & NTF_PROXY))
		return;
	if (nd->ndm_family == AF_INET)
		family = NF_V4, alen = 4;
	else if (nd->ndm_family == AF_INET6)
		family = NF_V6, alen = 16;
	else
		return;
	mnl_attr_for_each(a, nlh, sizeof(*nd)) {
		if (mnl_attr_get_type(a) == NDA_DST && mnl_attr_get_payload_len(a) == alen)
			memcpy(addr.b, mnl_attr_get_payload(a), alen);
		else if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6)
			mac = mnl_attr_get_payload(a);
	}
	if (family == NF_V4)
		addr.ip = ntohl(addr.ip);
	if (nf_addr_is_zero(&addr))
		return;
	if (nlh->nlmsg_type == RTM_NEWNEIGH && mac &&
	    (nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT |
			      NUD_NOARP))) {
		learn(n, family, &addr, mac, nd->ndm_state);
		return;
	}
	e = find(n, family, &addr);
	if (e)
		forget(n, e);
}

/* ---- the uplink's routes ------------------------------------------------ */

/* True when one of the multipath route's next hops is on the uplink. */
static bool multipath_here(const struct neigh *n, const struct nlattr *a)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(a);
	int left = (int)mnl_attr_get_payload_len(a);

	/* RTNH_OK reads rtnh_len before it looks at left: the room first */
	for (; left >= (int)sizeof(*nh) && RTNH_OK(nh, left);
	     left -= (int)RTNH_ALIGN(nh->rtnh_len), nh = RTNH_NEXT(nh))
		if (nh->rtnh_ifindex == n->ifindex)
			return true;
	return false;
}

static struct neigh_route *route_find(struct neigh *n, const struct neigh_route *r)
{
	for (unsigned i = 0; i < n->nroute; i++) {
		struct neigh_route *o = &n->route[i];

		if (o->dst == r->dst && o->len == r->len && o->tos == r->tos && o->prio == r->prio)
			return o;
	}
	return NULL;
}

/* A route message as route_event reads it, either family. */
struct route_msg {
	union nf_addr dst, gw;	/* as in the message: network order */
	uint32_t table, oif, prio;
	uint8_t len;
	bool keep, raw;
};

/* The IPv4 route r into the table, replacing the one of the same key, or
 * out of it (del). */
static void route4_store(struct neigh *n, const struct route_msg *m, uint8_t tos, bool del)
{
	struct neigh_route r = {
		.dst = ntohl(m->dst.ip), .gw = ntohl(m->gw.ip), .prio = m->prio,
		.len = m->len, .tos = tos, .raw = m->raw,
	}, *o;

	r.dst &= r.len ? ~0u << (32 - r.len) : 0;
	o = route_find(n, &r);
	if (del) {
		if (o)
			*o = n->route[--n->nroute];
		return;
	}
	if (o)
		*o = r;
	else if (n->nroute < NEIGH_ROUTES)
		n->route[n->nroute++] = r;
	else
		n->route_full = true;
}

/* a with all but its first len bits cleared (network order). */
static void prefix6(union nf_addr *a, unsigned len)
{
	for (unsigned w = 0; w < 4; w++, len = len > 32 ? len - 32 : 0)
		a->ip6[w] &= len >= 32 ? ~0u : htonl(len ? ~0u << (32 - len) : 0);
}

/* IPv6 routes are told apart by their gateway too: the kernel keeps one
 * per router with the same prefix and metric (RAs from several routers).
 * NLM_F_REPLACE replaces those of the same prefix and metric. */
static void route6_store(struct neigh *n, const struct route_msg *m, bool del, bool replace)
{
	struct neigh_route6 r = { .dst = m->dst, .gw = m->gw, .prio = m->prio, .len = m->len,
				  .raw = m->raw };

	prefix6(&r.dst, r.len);
	for (unsigned i = 0; i < n->nroute6;) {
		struct neigh_route6 *o = &n->route6[i];

		if (o->len == r.len && o->prio == r.prio && nf_addr_eq(&o->dst, &r.dst) &&
		    (replace || nf_addr_eq(&o->gw, &r.gw)))
			*o = n->route6[--n->nroute6];
		else
			i++;
	}
	if (del)
		return;
	if (n->nroute6 < NEIGH_ROUTES)
		n->route6[n->nroute6++] = r;
	else
		n->route6_full = true;
}

static void route_event(struct neigh *n, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	struct route_msg m = { 0 };
	size_t alen;
	bool odd = false, multi = false;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rt)))
		return;
	if (rt->rtm_family == AF_INET)
		alen = 4;
	else if (rt->rtm_family == AF_INET6)
		alen = 16;
	else
		return;
	if (rt->rtm_dst_len > 8 * alen)
		return;
	m.table = rt->rtm_table;
	mnl_attr_for_each(a, nlh, sizeof(*rt)) {
		uint16_t len = mnl_attr_get_payload_len(a);

		switch (mnl_attr_get_type(a)) {
		case RTA_TABLE:
			if (len == 4)
				m.table = mnl_attr_get_u32(a);
			break;
		case RTA_DST:
			if (len == alen)
				memcpy(m.dst.b, mnl_attr_get_payload(a), alen);
			break;
		case RTA_OIF:
			if (len == 4)
				m.oif = mnl_attr_get_u32(a);
			break;
		case RTA_GATEWAY:
			if (len == alen)
				memcpy(m.gw.b, mnl_attr_get_payload(a), alen);
			break;
		case RTA_PRIORITY:
			if (len == 4)
				m.prio = mnl_attr_get_u32(a);
			break;
		case RTA_MULTIPATH:
			multi = multipath_here(n, a);
			odd = true;
			break;
		case RTA_VIA:
		case RTA_NH_ID:
			odd = true;
			break;
		}
	}
	if (m.table != RT_TABLE_MAIN)
		return;
	m.len = rt->rtm_dst_len;
	switch (rt->rtm_type) {
	case RTN_UNICAST:
		/* a nexthop object's device is not in the message: assume
		 * the uplink, for the raw socket to decide */
		m.keep = odd ? multi || !m.oif : m.oif == (uint32_t)n->ifindex;
		m.raw = odd || rt->rtm_tos;
		break;
	case RTN_UNREACHABLE:
	case RTN_BLACKHOLE:
	case RTN_PROHIBIT:
	case RTN_THROW:
		m.keep = true; /* on no device: the kernel refuses, as before */
		m.raw = true;
		break;
	}
	if (rt->rtm_family == AF_INET)
		route4_store(n, &m, rt->rtm_tos, nlh->nlmsg_type == RTM_DELROUTE || !m.keep);
	else
		route6_store(n, &m, nlh->nlmsg_type == RTM_DELROUTE || !m.keep,
			     nlh->nlmsg_flags & NLM_F_REPLACE);
}

void neigh_msg(struct neigh *n, const struct nlmsghdr *nlh)
{
	switch (nlh->nlmsg_type) {
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		neigh_event(n, nlh);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		route_event(n, nlh);
		break;
	}
}

/* The entry for the next hop (family, hop), its MAC into mac. */
static enum neigh_verdict hop_verdict(struct neigh *n, uint8_t family, const union nf_addr *hop,
				      uint8_t mac[static 6])
{
	struct neigh_entry *e = find(n, family, hop);

	if (!e)
		return NEIGH_RAW;
	if (e->confirm) {
		e->confirm = false;
		return NEIGH_CONFIRM;
	}
	memcpy(mac, e->mac, 6);
	return NEIGH_MAC;
}

enum neigh_verdict neigh_lookup(struct neigh *n, uint32_t daddr, uint8_t mac[static 6])
{
	const struct neigh_route *best = NULL;
	union nf_addr hop = nf_addr4(daddr);

	if (n->route_full)
		return NEIGH_RAW;
	for (unsigned i = 0; i < n->nroute; i++) {
		const struct neigh_route *r = &n->route[i];
		uint32_t mask = r->len ? ~0u << (32 - r->len) : 0;

		if ((daddr & mask) == r->dst &&
		    (!best || r->len > best->len || (r->len == best->len && r->prio < best->prio)))
			best = r;
	}
	if (best && best->raw)
		return NEIGH_RAW;
	if (best && best->gw)
		hop.ip = best->gw;
	if (!hop.ip)
		return NEIGH_RAW;
	return hop_verdict(n, NF_V4, &hop, mac);
}

static bool in_prefix6(const union nf_addr *a, const union nf_addr *dst, unsigned len)
{
	for (unsigned w = 0; w < 4 && len; w++, len = len > 32 ? len - 32 : 0) {
		uint32_t mask = len >= 32 ? ~0u : htonl(~0u << (32 - len));

		if ((a->ip6[w] & mask) != dst->ip6[w])
			return false;
	}
	return true;
}

enum neigh_verdict neigh_lookup6(struct neigh *n, const union nf_addr *daddr,
				 uint8_t mac[static 6])
{
	const struct neigh_route6 *best = NULL;
	bool tie = false;

	if (n->route6_full)
		return NEIGH_RAW;
	for (unsigned i = 0; i < n->nroute6; i++) {
		const struct neigh_route6 *r = &n->route6[i];

		if (!in_prefix6(daddr, &r->dst, r->len))
			continue;
		if (!best || r->len > best->len || (r->len == best->len && r->prio < best->prio)) {
			best = r;
			tie = false;
		} else if (r->len == best->len && r->prio == best->prio) {
			tie = true; /* another router: the kernel's choice */
		}
	}
	if (!best || best->raw || tie)
		return NEIGH_RAW;
	return hop_verdict(n, NF_V6, nf_addr_is_zero(&best->gw) ? daddr : &best->gw, mac);
}

/* ---- netlink ------------------------------------------------------------ */

void neigh_init(struct neigh *n, int ifindex)
{
	memset(n, 0, sizeof(*n));
	n->ifindex = ifindex;
	n->fd = -1;
}

/* Applies the messages of one read; true when the dump seq is done. */
static int walk(struct neigh *n, const char *buf, size_t len, unsigned seq, bool *done)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		bool ours = seq && nlh->nlmsg_seq == seq;

		if (nlh->nlmsg_type == NLMSG_DONE) {
			if (ours)
				*done = true;
		} else if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

			if (ours && nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*err)) && err->error)
				return err->error;
		} else {
			neigh_msg(n, nlh);
		}
	}
	return 0;
}

/* One table of one family dumped into the cache (events that come
 * meanwhile too). */
static int dump(struct neigh *n, uint16_t type, uint8_t family)
{
	char buf[NEIGH_BUF] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	bool done = false;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++n->seq;
	if (type == RTM_GETNEIGH) {
		struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));

		nd->ndm_family = family;
	} else {
		struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));

		rt->rtm_family = family;
	}
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (!done) {
		struct pollfd p = { n->fd, POLLIN, 0 };
		ssize_t got;
		int rc;

		rc = poll(&p, 1, NEIGH_DUMP_MS);
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got = recv(n->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		rc = walk(n, buf, (size_t)got, n->seq, &done);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* All the tables from scratch.  IPv6 off in the kernel (ipv6.disable:
 * no AF_INET6 tables to dump) leaves the IPv6 ones empty. */
static int resync(struct neigh *n)
{
	static const struct { uint16_t type; uint8_t family; } t[] = {
		{ RTM_GETNEIGH, AF_INET }, { RTM_GETROUTE, AF_INET },
		{ RTM_GETNEIGH, AF_INET6 }, { RTM_GETROUTE, AF_INET6 },
	};
	int rc = -ENOBUFS;

	for (int i = 0; i < NEIGH_RESYNC_TRIES && rc == -ENOBUFS; i++) {
		n->nroute = n->nroute6 = n->nentry = 0;
		n->route_full = n->route6_full = false;
		memset(n->slot, 0, sizeof(n->slot));
		rc = 0;
		for (size_t j = 0; j < sizeof(t) / sizeof(t[0]) && rc == 0; j++) {
			rc = dump(n, t[j].type, t[j].family);
			if (rc == -EAFNOSUPPORT && t[j].family == AF_INET6)
				rc = 0;
		}
	}
	return rc;
}

int neigh_open(struct neigh *n, int ifindex)
{
	int rcvbuf = NEIGH_RCVBUF, rc;

	neigh_init(n, ifindex);
	n->nl = nl_route_open(RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE, SOCK_NONBLOCK);
	if (!n->nl)
		return -errno;
	n->fd = mnl_socket_get_fd(n->nl);
	if (setsockopt(n->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	rc = resync(n);
	if (rc < 0) {
		neigh_close(n);
		return rc;
	}
	return 0;
}

int neigh_read(struct neigh *n)
{
	char buf[NEIGH_BUF] __attribute__((aligned(8)));

	if (n->fd < 0)
		return 0;
	for (;;) {
		ssize_t got = recv(n->fd, buf, sizeof(buf), MSG_DONTWAIT);
		bool done = false;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			if (errno != ENOBUFS)
				return -errno;
			n->resyncs++;
			return resync(n);
		}
		(void)walk(n, buf, (size_t)got, 0, &done);
	}
}

void neigh_close(struct neigh *n)
{
	if (n->nl)
		mnl_socket_close(n->nl);
	n->nl = NULL;
	n->fd = -1;
}
