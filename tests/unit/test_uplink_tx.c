/* SPDX-License-Identifier: MIT */
/*
 * gw/uplink_tx's packet sockets stay send-only: uplink_tx_seal's locked
 * take-nothing filter keeps a socket bound to every protocol from seeing
 * a frame (an unsealed one beside it sees it), refuses a new filter and
 * its removal, and takes a sealed socket again (a re-exec's); and
 * uplink_tx_open seals both the bypass and the queue socket of a TAP
 * uplink.  In a network namespace of the test's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "gw/uplink_tx.h"
#include "tests/unit/util_netns.h"

/* A packet socket of no protocol yet: it receives nothing until bound. */
static int packet_socket(void)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

/* Binds fd to every protocol on interface ifindex: all its frames. */
static void bind_all(int fd, int ifindex)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex,
	};

	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
}

/* Both filter calls a widening would make are refused. */
static void assert_locked(int fd)
{
	struct sock_filter all = BPF_STMT(BPF_RET | BPF_K, 0xffff);
	struct sock_fprog fp = { .len = 1, .filter = &all };
	int zero = 0;

	errno = 0;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof(zero)), -1);
	assert_int_equal(errno, EPERM);
}

static void test_sealed_sees_nothing(void **state)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lo = (int)if_nametoindex("lo"), seen = packet_socket(), sealed = packet_socket(), u;
	uint8_t buf[2048];
	ssize_t n = -1;

	(void)state;
	assert_true(lo > 0);
	assert_int_equal(uplink_tx_seal(sealed), 0);
	assert_int_equal(uplink_tx_seal(sealed), 0); /* a re-exec's, sealed already */
	bind_all(seen, lo);
	bind_all(sealed, lo);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(u >= 0);
	assert_int_equal(sendto(u, "seal", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
	/* the frame is queued on both taps in the sender's call: once the
	 * unsealed one has it, the sealed one would have it too */
	for (int i = 0; i < 1000 && n < 0; i++) {
		n = recv(seen, buf, sizeof(buf), 0);
		if (n < 0)
			usleep(1000);
	}
	assert_true(n > 0);
	errno = 0;
	assert_int_equal(recv(sealed, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EAGAIN);
	assert_locked(sealed);
	close(u);
	close(seen);
	close(sealed);
}

static void test_open_seals_both(void **state)
{
	struct ifreq ifr = { .ifr_name = "gwtx0" };
	struct uplink_tx t;
	int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC), fd, ifindex;
	uint8_t mac[6];

	(void)state;
	assert_true(tun >= 0);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	assert_int_equal(ioctl(tun, TUNSETIFF, &ifr), 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	ifr.ifr_flags = IFF_UP;
	assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
	ifindex = (int)if_nametoindex("gwtx0");
	assert_true(ifindex > 0);
	assert_int_equal(uplink_tx_open(&t, "gwtx0", ifindex, 1500, mac, false, 0), 0);
	assert_true(t.xfd >= 0);
	assert_true(t.gfd >= 0);
	assert_locked(t.xfd);
	assert_locked(t.gfd);
	uplink_tx_close(&t);
	close(tun);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sealed_sees_nothing),
		cmocka_unit_test(test_open_seals_both),
	};

	return cmocka_run_group_tests(tests, own_netns, NULL);
}
