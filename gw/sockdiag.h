/* SPDX-License-Identifier: MIT */
/*
 * sockdiag — which host socket sent a packet that came in through the TUN,
 * for -m owner (--uid-owner, --gid-owner, --socket-exists).
 *
 * The kernel's sock_diag (NETLINK_SOCK_DIAG, an exact inet_diag lookup by
 * the packet's TCP or UDP 4-tuple) gives the socket's uid and inode; the
 * gid (the fsgid the owner match compares) is the one of a process holding
 * that inode, found under /proc (only when a rule compares gids; gw needs
 * to be able to read /proc/PID/fd then, else the gid stays unknown:
 * SOCKDIAG_GID_UNKNOWN, which no --gid-owner range below 2^32 - 1 holds).
 * Other protocols, and packets no socket sent (a kernel RST), have no
 * owner: as in Linux, then only inverted owner tests match.
 *
 * Answers are cached per 4-tuple for a second (a few hundred flows), so a
 * flow costs one lookup per second, not one per packet; a socket whose
 * inode did not change keeps its gid without another /proc walk.  Only
 * called when the rules use the owner match (rules_owner_needs).
 */
#ifndef GW_SOCKDIAG_H
#define GW_SOCKDIAG_H

#include <stdint.h>

struct pkt;

enum { SOCKDIAG_CACHE = 256 };
#define SOCKDIAG_GID_UNKNOWN UINT32_MAX

struct sockdiag_entry {
	uint32_t saddr, daddr, uid, gid, inode;
	uint16_t sport, dport;
	uint8_t proto, found, has_gid;
	uint64_t expires;     /* ns, monotonic; 0: empty */
};

struct sockdiag {
	int fd;
	uint32_t seq;
	uint64_t lookups, proc_walks;  /* for gw stats */
	struct sockdiag_entry cache[SOCKDIAG_CACHE];
};

/* 0 or -errno. */
int sockdiag_open(struct sockdiag *sd);
void sockdiag_close(struct sockdiag *sd);

/* The owner of the host socket that sent p: owner[0] uid, owner[1] gid
 * (looked up only when need has RULES_OWNER_GID).  1 when a socket was
 * found, 0 when none. */
int sockdiag_owner(struct sockdiag *sd, const struct pkt *p, unsigned need, uint64_t now,
		   uint32_t owner[2]);

#endif
