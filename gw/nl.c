/* SPDX-License-Identifier: MIT */
/* The shared rtnetlink socket: see nl.h. */
#include "gw/nl.h"

#include <errno.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

enum { NL_ACK_BUF = 8192 };

struct mnl_socket *nl_route_open(unsigned groups, int flags)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | flags);
	int err;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		mnl_socket_close(nl);
		errno = err;
		return NULL;
	}
	return nl;
}

int nl_request(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	char buf[NL_ACK_BUF] __attribute__((aligned(8)));
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		return -errno;
	return 0;
}
