/* SPDX-License-Identifier: MIT */
#include "gw/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw/config.h"
#include "gw/nl.h"

enum { NL_BUF = 8192 };

static int open_dev(const char *name, short flags)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ifr.ifr_flags = flags;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* One queue of the device: with offloads, each fd says so itself. */
static int open_queue(const char *name, short flags, int *offload_err)
{
	int fd = open_dev(name, flags | IFF_VNET_HDR);
	int hdr = sizeof(struct virtio_net_hdr);

	if (fd < 0)
		return fd;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) == 0 &&
	    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0) {
		*offload_err = 0;
		return fd;
	}
	/* an old kernel: the device goes with the fd; again without headers */
	*offload_err = -errno;
	close(fd);
	return open_dev(name, flags);
}

int tun_open(const char *name, unsigned queues, int *fds, int *offload_err)
{
	short flags = IFF_TUN | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0);
	int fd = open_queue(name, flags, offload_err);

	if (fd < 0)
		return fd;
	fds[0] = fd;
	if (*offload_err)
		flags &= (short)~IFF_VNET_HDR;
	else
		flags |= IFF_VNET_HDR;
	for (unsigned i = 1; i < queues; i++) {
		int hdr = sizeof(struct virtio_net_hdr);

		fd = open_dev(name, flags);
		if (fd >= 0 && !*offload_err && ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
			close(fd);
			fd = -errno;
		}
		if (fd < 0) {
			while (i--)
				close(fds[i]);
			return fd;
		}
		fds[i] = fd;
	}
	return 0;
}

int tun_vnet(int fd)
{
	struct ifreq ifr = { 0 };

	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	return ifr.ifr_flags & IFF_VNET_HDR ? 0 : -ENOTSUP;
}

int tun_configure(const char *name, uint16_t mtu, const struct cidr *addrs, size_t n,
		  const char **what)
{
	char buf[NL_BUF];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	unsigned seq = (unsigned)time(NULL);
	unsigned ifindex = if_nametoindex(name);
	int ret = 0;

	*what = "interface index";
	if (!ifindex)
		return -errno;
	*what = "netlink socket";
	nl = nl_route_open(0, 0);
	if (!nl)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		struct ifaddrmsg *ifa;

		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_NEWADDR;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
		nlh->nlmsg_seq = ++seq;
		ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = addrs[i].family;
		ifa->ifa_prefixlen = addrs[i].prefix;
		ifa->ifa_scope = RT_SCOPE_UNIVERSE;
		ifa->ifa_index = ifindex;
		if (addrs[i].family == AF_INET) {
			mnl_attr_put(nlh, IFA_LOCAL, 4, addrs[i].addr);
			mnl_attr_put(nlh, IFA_ADDRESS, 4, addrs[i].addr);
		} else {
			mnl_attr_put(nlh, IFA_ADDRESS, 16, addrs[i].addr);
		}
		*what = "address";
		ret = nl_request(nl, nlh);
		if (ret)
			goto out;
	}
	struct ifinfomsg *ifi;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	*what = "mtu and link up";
	ret = nl_request(nl, nlh);
out:
	mnl_socket_close(nl);
	return ret;
}

/* A net.ipv4.conf boolean: true when it reads 1. */
static bool conf_on(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == '1';
}

int tun_accept_local(const char *name)
{
	char path[64 + IFNAMSIZ];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_local", name);
	if (conf_on(path))
		return 0;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		ret = -errno;
	else if (write(fd, "1\n", 2) != 2)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	/* a read-only /proc/sys (containers): the kernel ORs all's value
	 * with the device's, and default's is the new device's own */
	if (ret && conf_on("/proc/sys/net/ipv4/conf/all/accept_local"))
		ret = 0;
	return ret;
}
