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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nat/pkt.h"
#include "nat/rules.h"
#include "nat/siphash.h"

#define CACHE_NS 1000000000ull

int sockdiag_open(struct sockdiag *sd)
{
	memset(sd, 0, sizeof(*sd));
	sd->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	return sd->fd < 0 ? -errno : 0;
}

void sockdiag_close(struct sockdiag *sd)
{
	if (sd->fd > 0) /* 0: never opened (struct gw starts zeroed) */
		close(sd->fd);
	sd->fd = -1;
}

/* One exact inet_diag lookup: 1 and uid/inode, 0 when no such socket. */
static int lookup(struct sockdiag *sd, const struct pkt_hdr *h, uint32_t *uid, uint32_t *inode)
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
	uint32_t local = htonl(h->saddr), remote = htonl(h->daddr);
	uint16_t lport = htons(h->sport), rport = htons(h->dport);
	ssize_t n;

	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST;
	q.nlh.nlmsg_seq = ++sd->seq;
	q.req.sdiag_family = AF_INET;
	q.req.sdiag_protocol = h->proto;
	q.req.idiag_states = ~0u;
	q.req.id.idiag_cookie[0] = q.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (h->proto == IPPROTO_UDP) {
		/* udp_dump_one looks up as for a packet from src to dst:
		 * the socket's own address goes in dst (historical) */
		q.req.id.idiag_src[0] = remote, q.req.id.idiag_sport = rport;
		q.req.id.idiag_dst[0] = local, q.req.id.idiag_dport = lport;
	} else {
		q.req.id.idiag_src[0] = local, q.req.id.idiag_sport = lport;
		q.req.id.idiag_dst[0] = remote, q.req.id.idiag_dport = rport;
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
	*uid = m->idiag_uid;
	*inode = m->idiag_inode;
	return 1;
}

/* The fsgid ("Gid:" field 4) of process pid. */
static int proc_fsgid(const char *pid, uint32_t *gid)
{
	char path[300], line[256];
	unsigned r, e, s, fs;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Gid: %u %u %u %u", &r, &e, &s, &fs) == 4) {
			*gid = fs;
			ret = 1;
			break;
		}
	fclose(f);
	return ret;
}

/* Does process pid hold socket inode? */
static int holds(const char *pid, const char *want)
{
	char path[300], link[64];
	struct dirent *d;
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

		if (n > 0) {
			link[n] = 0;
			found = !strcmp(link, want);
		}
	}
	closedir(fds);
	return found;
}

/* The gid of a process holding socket inode, from /proc. */
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
		if (d->d_name[0] >= '1' && d->d_name[0] <= '9' && holds(d->d_name, want))
			ret = proc_fsgid(d->d_name, gid);
	closedir(proc);
	return ret;
}

static struct sockdiag_entry *slot(struct sockdiag *sd, const struct pkt_hdr *h)
{
	/* the cache only has to spread the host's own flows: a fixed key */
	return &sd->cache[siphash13_2u64((uint64_t)h->saddr << 32 | h->daddr,
					 (uint64_t)h->sport << 32 | (uint64_t)h->dport << 16 |
						 h->proto,
					 0x736f636b64696167ull, 0x6f776e6572736868ull) %
			  SOCKDIAG_CACHE];
}

static int same_flow(const struct sockdiag_entry *e, const struct pkt_hdr *h)
{
	return e->expires && e->saddr == h->saddr && e->daddr == h->daddr &&
	       e->sport == h->sport && e->dport == h->dport && e->proto == h->proto;
}

int sockdiag_owner(struct sockdiag *sd, const struct pkt *p, unsigned need, uint64_t now,
		   uint32_t owner[2])
{
	const struct pkt_hdr *h = &p->outer;
	struct sockdiag_entry *e;
	uint32_t uid, inode;
	int found;

	if ((h->proto != IPPROTO_TCP && h->proto != IPPROTO_UDP) || !(h->flags & PKT_F_PORTS) ||
	    sd->fd < 0)
		return 0;
	e = slot(sd, h);
	if (!same_flow(e, h) || e->expires <= now) {
		found = lookup(sd, h, &uid, &inode);
		if (!found || !same_flow(e, h) || e->inode != inode)
			e->has_gid = 0; /* another socket: its gid is not known yet */
		e->saddr = h->saddr, e->daddr = h->daddr;
		e->sport = h->sport, e->dport = h->dport, e->proto = h->proto;
		e->found = (uint8_t)found;
		e->uid = found ? uid : 0;
		e->inode = found ? inode : 0;
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
