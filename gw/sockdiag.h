/* SPDX-License-Identifier: MIT */
/*
 * sockdiag — which host socket sent a packet that came in through the TUN,
 * for -m owner (--uid-owner, --gid-owner, --socket-exists).
 *
 * The kernel's sock_diag (NETLINK_SOCK_DIAG, an exact inet_diag lookup by
 * the packet's TCP or UDP 4-tuple) gives the socket's uid and inode, and
 * its state, read as xt_owner sees skb->sk:
 *   a request socket (SYN-ACK of a listener)  the listener's owner
 *                                             (skb_to_full_sk)
 *   TIME_WAIT, and a RST found on a listener  no socket: the kernel sends
 *                                             those from its control socket
 * The gid xt_owner compares is the socket file's fsgid at creation: the
 * socket inode's group, read with fstatat on a /proc/PID/fd link to it
 * (found by walking /proc, only when a rule compares gids; gw needs to read
 * other users' /proc/PID/fd then, see gw/priv.c; a socket gw cannot find
 * has gid SOCKDIAG_GID_UNKNOWN, which no --gid-owner range below 2^32 - 1
 * holds).
 *
 * IPv4 and IPv6 (an AF_INET6 lookup; a dual-stack socket's IPv4 flows are
 * found by the AF_INET one, as the kernel lists them).
 * Known differences from Linux: ICMP (ping and raw sockets), other
 * protocols and fragments after the first have no owner here (Linux knows
 * the sending socket of each).
 *
 * Answers are cached per 4-tuple for a second in a 4-way set-associative
 * table, so a flow costs one lookup a second, not one per packet; a socket
 * whose inode did not change keeps its gid without another /proc walk.
 * Only used when the rules use the owner match (rules_owner_needs): the
 * netlink socket is opened then.
 */
#ifndef GW_SOCKDIAG_H
#define GW_SOCKDIAG_H

#include <stdint.h>

#include "nat/pkt/addr.h"

struct pkt;

enum { SOCKDIAG_WAYS = 4, SOCKDIAG_SETS = 256 };
#define SOCKDIAG_GID_UNKNOWN UINT32_MAX

struct sockdiag_entry {
	union nf_addr saddr, daddr;
	uint32_t uid, gid, inode;
	uint16_t sport, dport;
	uint8_t proto, family, found, has_gid;
	uint64_t expires;     /* ns, monotonic; 0: empty */
};

struct sockdiag {
	int fd;               /* -1 (or 0 in a zeroed struct gw): not open */
	uint32_t seq;
	uint64_t lookups, proc_walks;  /* for gw stats */
	struct sockdiag_entry cache[SOCKDIAG_SETS][SOCKDIAG_WAYS];
};

/* 0 or -errno. */
int sockdiag_open(struct sockdiag *sd);
void sockdiag_close(struct sockdiag *sd);
int sockdiag_is_open(const struct sockdiag *sd);

/* The owner of the host socket that sent p: owner[0] uid, owner[1] gid
 * (looked up only when need has RULES_OWNER_GID).  1 when a socket was
 * found, 0 when none. */
int sockdiag_owner(struct sockdiag *sd, const struct pkt *p, unsigned need, uint64_t now,
		   uint32_t owner[2]);

#endif
