/* SPDX-License-Identifier: MIT */
/*
 * nl — the rtnetlink socket gw's setup and control paths share (addresses,
 * links, tc, address events): opened close-on-exec and bound in one call,
 * and one request answered by its acknowledgement.
 */
#ifndef GW_NL_H
#define GW_NL_H

struct mnl_socket;
struct nlmsghdr;

/* A NETLINK_ROUTE socket, close-on-exec plus flags (SOCK_NONBLOCK),
 * bound to the multicast groups (0: none).  NULL with errno set. */
struct mnl_socket *nl_route_open(unsigned groups, int flags);

/* nlh sent on nl as a request asking for an acknowledgement (its flags
 * get NLM_F_REQUEST | NLM_F_ACK, its nlmsg_seq is kept), and that
 * acknowledgement read: 0 or the kernel's -errno. */
int nl_request(struct mnl_socket *nl, struct nlmsghdr *nlh);

#endif
