/* SPDX-License-Identifier: MIT */
/* Host socket owners for -m owner: see sockdiag.h. */
#include "gw/sockdiag.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nat/pkt/pkt.h"
#include "nat/pkt/siphash.h"
#include "nat/rules.h"

#define CACHE_NS 1000000000ull

/* inet_diag's idiag_state values (the kernel's TCP states) used here. */
enum { ST_SYN_RECV = 3, ST_TIME_WAIT = 6, ST_LISTEN = 10, ST_NEW_SYN_RECV = 12 };

int sockdiag_open(struct sockdiag *sd)
{
	memset(sd, 0, sizeof(*sd));
	sd->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	return sd->fd < 0 ? -errno : 0;
}

int sockdiag_is_open(const struct sockdiag *sd)
{
	return sd->fd > 0;
}

void sockdiag_close(struct sockdiag *sd)
{
	if (sockdiag_is_open(sd))
		close(sd->fd);
	sd->fd = -1;
}

struct found {
	uint32_t uid, inode;
	uint8_t state;
};

/* An address as inet_diag_sockid holds it: four words as on the wire. */
static void diag_addr(uint32_t out[4], uint8_t family, const union nf_addr *a)
{
	if (family == NF_V6) {
		memcpy(out, a->b, 16);
	} else {
		out[0] = htonl(a->ip);
		out[1] = out[2] = out[3] = 0;
	}
}

/* One exact inet_diag lookup of the socket with local address/port l and
 * remote r (r NULL: TCP's listener on l): 1 and what it says, 0 when none. */
static int lookup(struct sockdiag *sd, uint8_t proto, uint8_t family, const union nf_addr *laddr,
		  uint16_t lport, const union nf_addr *raddr, uint16_t rport, struct found *f)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q;
	union {
		struct nlmsghdr nlh;
		char buf[512];
	} a;
	const struct inet_diag_msg *m;
	const union nf_addr any = { 0 };
	uint32_t local[4], remote[4];
	ssize_t n;

	diag_addr(local, family, laddr);
	diag_addr(remote, family, raddr ? raddr : &any);
	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST;
	q.nlh.nlmsg_seq = ++sd->seq;
	q.req.sdiag_family = family == NF_V6 ? AF_INET6 : AF_INET;
	q.req.sdiag_protocol = proto;
	q.req.idiag_states = ~0u;
	q.req.id.idiag_cookie[0] = q.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (proto == IPPROTO_UDP) {
		/* udp_dump_one looks up as for a packet from src to dst:
		 * the socket's own address goes in dst (historical) */
		memcpy(q.req.id.idiag_src, remote, 16), q.req.id.idiag_sport = htons(rport);
		memcpy(q.req.id.idiag_dst, local, 16), q.req.id.idiag_dport = htons(lport);
	} else {
		memcpy(q.req.id.idiag_src, local, 16), q.req.id.idiag_sport = htons(lport);
		memcpy(q.req.id.idiag_dst, remote, 16), q.req.id.idiag_dport = htons(rport);
	}
	sd->lookups++;
	if (send(sd->fd, &q, sizeof(q), 0) < 0)
		return 0;
	for (;;) {
		/* the kernel answers within send(): nothing to wait for */
		n = recv(sd->fd, &a, sizeof(a), MSG_DONTWAIT);
		if (n < (ssize_t)sizeof(struct nlmsghdr) || !NLMSG_OK(&a.nlh, (size_t)n))
			return 0;
		if (a.nlh.nlmsg_seq == sd->seq)
			break; /* (an answer to an earlier, abandoned request otherwise) */
	}
	if (a.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    a.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return 0; /* NLMSG_ERROR: ENOENT, no such socket */
	m = NLMSG_DATA(&a.nlh);
	f->uid = m->idiag_uid;
	f->inode = m->idiag_inode;
	f->state = m->idiag_state;
	return 1;
}

/* The socket that sent h as xt_owner sees it (sockdiag.h). */
static int sender(struct sockdiag *sd, const struct pkt_hdr *h, struct found *f)
{
	if (!lookup(sd, h->proto, h->family, &h->saddr, h->sport, &h->daddr, h->dport, f))
		return 0;
	if (h->proto != IPPROTO_TCP)
		return 1;
	if (f->state == ST_TIME_WAIT || (f->state == ST_LISTEN && (h->tcp_flags & TCP_RST)))
		return 0;
	/* a request socket (inet_req_diag_fill: SYN_RECV, no inode) */
	if (f->state == ST_NEW_SYN_RECV || (f->state == ST_SYN_RECV && !f->inode))
		return lookup(sd, h->proto, h->family, &h->saddr, h->sport, NULL, 0, f) &&
		       f->state == ST_LISTEN;
	return 1;
}

/* Does process pid hold socket inode (want: "socket:[N]")?  Then *gid is
 * the socket inode's group: the creator's fsgid. */
static int holds(const char *pid, const char *want, uint32_t *gid)
{
	char path[300], link[64];
	struct dirent *d;
	struct stat st;
	DIR *fds;
	int fd, found = 0;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(fds = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (!found && (d = readdir(fds))) {
		ssize_t n = readlinkat(fd, d->d_name, link, sizeof(link) - 1);

		if (n <= 0)
			continue;
		link[n] = 0;
		if (strcmp(link, want) || fstatat(fd, d->d_name, &st, 0))
			continue;
		*gid = st.st_gid;
		found = 1;
	}
	closedir(fds);
	return found;
}

/* The gid of socket inode, from a /proc/PID/fd link to it. */
static int inode_gid(struct sockdiag *sd, uint32_t inode, uint32_t *gid)
{
	char want[32];
	struct dirent *d;
	DIR *proc;
	int ret = 0;

	sd->proc_walks++;
	snprintf(want, sizeof(want), "socket:[%u]", inode);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (!ret && (d = readdir(proc)))
		if (d->d_name[0] >= '1' && d->d_name[0] <= '9')
			ret = holds(d->d_name, want, gid);
	closedir(proc);
	return ret;
}

static bool same_flow(const struct sockdiag_entry *e, const struct pkt_hdr *h)
{
	return e->expires && nf_addr_eq(&e->saddr, &h->saddr) && nf_addr_eq(&e->daddr, &h->daddr) &&
	       e->sport == h->sport && e->dport == h->dport && e->proto == h->proto &&
	       e->family == h->family;
}

/* h's entry: its own (maybe expired) when cached, else the set's empty or
 * oldest way. */
static struct sockdiag_entry *slot(struct sockdiag *sd, const struct pkt_hdr *h)
{
	/* the cache only has to spread the host's own flows: a fixed key */
	uint32_t set = siphash13_2u64((uint64_t)(h->saddr.ip6[0] ^ h->saddr.ip6[3]) << 32 |
				      (h->daddr.ip6[0] ^ h->daddr.ip6[3]),
				      (uint64_t)h->sport << 32 | (uint64_t)h->dport << 16 | h->proto,
				      0x736f636b64696167ull, 0x6f776e6572736868ull) %
		       SOCKDIAG_SETS;
	struct sockdiag_entry *ways = sd->cache[set], *old = &ways[0];

	for (unsigned i = 0; i < SOCKDIAG_WAYS; i++) {
		if (same_flow(&ways[i], h))
			return &ways[i];
		if (ways[i].expires < old->expires)
			old = &ways[i];
	}
	return old;
}

int sockdiag_owner(struct sockdiag *sd, const struct pkt *p, unsigned need, uint64_t now,
		   uint32_t owner[2])
{
	const struct pkt_hdr *h = &p->outer;
	struct sockdiag_entry *e;
	struct found f;

	if ((h->proto != IPPROTO_TCP && h->proto != IPPROTO_UDP) || !(h->flags & PKT_F_PORTS) ||
	    !sockdiag_is_open(sd))
		return 0;
	e = slot(sd, h);
	if (!same_flow(e, h) || e->expires <= now) {
		int found = sender(sd, h, &f);

		if (!found || !same_flow(e, h) || e->inode != f.inode)
			e->has_gid = 0; /* another socket: its gid is not known yet */
		e->saddr = h->saddr, e->daddr = h->daddr, e->family = h->family;
		e->sport = h->sport, e->dport = h->dport, e->proto = h->proto;
		e->found = (uint8_t)found;
		e->uid = found ? f.uid : 0;
		e->inode = found ? f.inode : 0;
		e->expires = now + CACHE_NS;
	}
	if (!e->found)
		return 0;
	if ((need & RULES_OWNER_GID) && !e->has_gid) {
		if (!inode_gid(sd, e->inode, &e->gid))
			e->gid = SOCKDIAG_GID_UNKNOWN;
		e->has_gid = 1;
	}
	owner[0] = e->uid;
	owner[1] = e->has_gid ? e->gid : SOCKDIAG_GID_UNKNOWN;
	return 1;
}
