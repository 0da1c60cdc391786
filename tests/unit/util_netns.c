/* SPDX-License-Identifier: MIT */
#include "tests/unit/util_netns.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int own_netns(void **state)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd, ret;

	(void)state;
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (the tests need root, as make test "
				"has)\n", strerror(errno));
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ifr.ifr_flags = IFF_UP;
	ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return ret ? -1 : 0;
}
