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

static unsigned hash(uint32_t addr)
{
	return (addr * 2654435761u) >> 24 & (NEIGH_SLOTS - 1);
}

static struct neigh_entry *find(struct neigh *n, uint32_t addr)
{
	for (unsigned i = hash(addr);; i = (i + 1) & (NEIGH_SLOTS - 1)) {
		if (n->slot[i].addr == addr)
			return &n->slot[i];
		if (!n->slot[i].addr)
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
		if (!n->slot[j].addr)
			break;
		k = hash(n->slot[j].addr);
		/* stays when its home k lies cyclically in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		n->slot[i] = n->slot[j];
		i = j;
	}
	n->slot[i].addr = 0;
	n->nentry--;
}

static void learn(struct neigh *n, uint32_t addr, const uint8_t *mac, uint16_t state)
{
	struct neigh_entry *e = find(n, addr);
	bool was_stale;

	if (!e) {
		unsigned i;

		if (4 * (n->nentry + 1) > 3 * NEIGH_SLOTS)
			return; /* no room: it goes by the raw socket */
		for (i = hash(addr); n->slot[i].addr; i = (i + 1) & (NEIGH_SLOTS - 1))
			;
		e = &n->slot[i];
		*e = (struct neigh_entry){ .addr = addr };
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
	uint32_t addr = 0;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nd)) || nd->ndm_family != AF_INET ||
	    nd->ndm_ifindex != n->ifindex || (nd->ndm_flags & NTF_PROXY))
		return;
	mnl_attr_for_each(a, nlh, sizeof(*nd)) {
		if (mnl_attr_get_type(a) == NDA_DST && mnl_attr_get_payload_len(a) == 4)
			addr = ntohl(*(const uint32_t *)mnl_attr_get_payload(a));
		else if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6)
			mac = mnl_attr_get_payload(a);
	}
	if (!addr)
		return;
	if (nlh->nlmsg_type == RTM_NEWNEIGH && mac &&
	    (nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT |
			      NUD_NOARP))) {
		learn(n, addr, mac, nd->ndm_state);
		return;
	}
	e = find(n, addr);
	if (e)
		forget(n, e);
}

/* ---- the uplink's routes ------------------------------------------------ */

/* True when one of the multipath route's next hops is on the uplink. */
static bool multipath_here(const struct neigh *n, const struct nlattr *a)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(a);
	int left = (int)mnl_attr_get_payload_len(a);

	for (; RTNH_OK(nh, left); left -= (int)RTNH_ALIGN(nh->rtnh_len), nh = RTNH_NEXT(nh))
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

static void route_event(struct neigh *n, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	struct neigh_route r = { 0 }, *o;
	uint32_t table, oif = 0;
	bool keep = false, odd = false, multi = false;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rt)) || rt->rtm_family != AF_INET ||
	    rt->rtm_dst_len > 32)
		return;
	table = rt->rtm_table;
	mnl_attr_for_each(a, nlh, sizeof(*rt)) {
		uint16_t len = mnl_attr_get_payload_len(a);

		switch (mnl_attr_get_type(a)) {
		case RTA_TABLE:
			if (len == 4)
				table = mnl_attr_get_u32(a);
			break;
		case RTA_DST:
			if (len == 4)
				r.dst = ntohl(mnl_attr_get_u32(a));
			break;
		case RTA_OIF:
			if (len == 4)
				oif = mnl_attr_get_u32(a);
			break;
		case RTA_GATEWAY:
			if (len == 4)
				r.gw = ntohl(mnl_attr_get_u32(a));
			break;
		case RTA_PRIORITY:
			if (len == 4)
				r.prio = mnl_attr_get_u32(a);
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
	if (table != RT_TABLE_MAIN)
		return;
	r.len = rt->rtm_dst_len;
	r.tos = rt->rtm_tos;
	r.dst &= r.len ? ~0u << (32 - r.len) : 0;
	switch (rt->rtm_type) {
	case RTN_UNICAST:
		/* a nexthop object's device is not in the message: assume
		 * the uplink, for the raw socket to decide */
		keep = odd ? multi || !oif : oif == (uint32_t)n->ifindex;
		r.raw = odd || r.tos;
		break;
	case RTN_UNREACHABLE:
	case RTN_BLACKHOLE:
	case RTN_PROHIBIT:
	case RTN_THROW:
		keep = true; /* on no device: the kernel refuses, as before */
		r.raw = true;
		break;
	}
	o = route_find(n, &r);
	if (nlh->nlmsg_type == RTM_DELROUTE || !keep) {
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

enum neigh_verdict neigh_lookup(struct neigh *n, uint32_t daddr, uint8_t mac[static 6])
{
	const struct neigh_route *best = NULL;
	struct neigh_entry *e;
	uint32_t hop = daddr;

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
		hop = best->gw;
	e = hop ? find(n, hop) : NULL;
	if (!e)
		return NEIGH_RAW;
	if (e->confirm) {
		e->confirm = false;
		return NEIGH_CONFIRM;
	}
	memcpy(mac, e->mac, 6);
	return NEIGH_MAC;
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

/* One table dumped into the cache (events that come meanwhile too). */
static int dump(struct neigh *n, uint16_t type)
{
	char buf[NEIGH_BUF] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	bool done = false;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++n->seq;
	if (type == RTM_GETNEIGH) {
		struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));

		nd->ndm_family = AF_INET;
	} else {
		struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));

		rt->rtm_family = AF_INET;
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

/* Both tables from scratch. */
static int resync(struct neigh *n)
{
	int rc = -ENOBUFS;

	for (int i = 0; i < NEIGH_RESYNC_TRIES && rc == -ENOBUFS; i++) {
		n->nroute = n->nentry = 0;
		n->route_full = false;
		memset(n->slot, 0, sizeof(n->slot));
		rc = dump(n, RTM_GETNEIGH);
		if (rc == 0)
			rc = dump(n, RTM_GETROUTE);
	}
	return rc;
}

int neigh_open(struct neigh *n, int ifindex)
{
	int rcvbuf = NEIGH_RCVBUF, rc;

	neigh_init(n, ifindex);
	n->nl = nl_route_open(RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE, SOCK_NONBLOCK);
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
