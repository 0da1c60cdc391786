/* SPDX-License-Identifier: MIT */
/* gw/handover: GW_HANDOVER as a re-exec's new image reads it.  A value that
 * is not ROLE:N=FD,... of open descriptors is refused whole (nothing taken,
 * the variable gone, no hand-over); a good one hands each descriptor to its
 * role once and closes every other inherited one.  Each case runs in a
 * child: the hand-over is the process's own state. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw/handover.h"

/* Exit statuses of a child. */
enum { OK = 0, BAD_RET = 10, ACTIVE = 11, ENV_LEFT = 12, TOOK = 13, NOT_TAKEN = 14,
       TWICE = 15, NOT_CLOSED = 16, INACTIVE = 17 };

static int in_child(int (*fn)(const char *), const char *value)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(value));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* value refused: -EINVAL, no hand-over, nothing to take, the variable gone */
static int refused(const char *value)
{
	setenv(HANDOVER_ENV, value, 1);
	if (handover_init() != -EINVAL)
		return BAD_RET;
	if (handover_active())
		return ACTIVE;
	if (getenv(HANDOVER_ENV))
		return ENV_LEFT;
	if (handover_take("tun", 0) >= 0)
		return TOOK;
	return OK;
}

/* tmpl with every "FD" replaced by fd, into v */
static void fill(char *v, size_t len, const char *tmpl, int fd)
{
	size_t n = 0;

	for (const char *p = tmpl; *p && n + 12 < len;) {
		if (p[0] == 'F' && p[1] == 'D') {
			n += (size_t)snprintf(v + n, len - n, "%d", fd);
			p += 2;
		} else {
			v[n++] = *p++;
		}
	}
	v[n] = 0;
}

static void test_refused(void **state)
{
	char v[128];
	int fd = open("/dev/null", O_RDONLY), fd2 = open("/dev/null", O_RDONLY);
	const char *const bad[] = {
		"", ",", "tun", "tun:0", "tun:0=", ":0=FD", "tun:=FD", "tun:x=FD", "tun:-1=FD",
		"tun:65536=FD", "tun:0=FDx", "tun:0=1", "tun:0=2", "tun:0=99999",
		"tun:0=-FD", "a_role_too_long:0=FD", "tun:0=FD,udp4:0=FD",
		"tun:0=FD;udp4:0=FD", "tun:0=FD,,",
	};

	(void)state;
	assert_true(fd > 2 && fd2 > 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* every FD is the same open descriptor: listed twice is bad */
		fill(v, sizeof(v), bad[i], fd);
		if (in_child(refused, v) != OK)
			fail_msg("GW_HANDOVER=\"%s\" was not refused as it should be", v);
	}
	/* a descriptor that is not open */
	fill(v, sizeof(v), "tun:0=FD", fd2);
	close(fd2);
	assert_int_equal(in_child(refused, v), OK);
	close(fd);
}

static int fd_a, fd_b, fd_other;

/* value taken: each descriptor to its role once, the others closed */
static int taken(const char *value)
{
	setenv(HANDOVER_ENV, value, 1);
	if (handover_init() != 0)
		return BAD_RET;
	if (!handover_active())
		return INACTIVE;
	if (getenv(HANDOVER_ENV))
		return ENV_LEFT;
	if (fcntl(fd_other, F_GETFD) >= 0)
		return NOT_CLOSED;
	if (handover_take("tun", 0) != fd_a || handover_take("udp4", 1) != fd_b)
		return NOT_TAKEN;
	if (handover_take("tun", 0) >= 0 || handover_take("udp4", 0) >= 0)
		return TWICE;
	return OK;
}

static void test_taken(void **state)
{
	char v[128];

	(void)state;
	fd_a = open("/dev/null", O_RDONLY);
	fd_b = open("/dev/null", O_RDONLY);
	fd_other = open("/dev/null", O_RDONLY);
	assert_true(fd_a > 2 && fd_b > 2 && fd_other > 2);
	snprintf(v, sizeof(v), "tun:0=%d,udp4:1=%d", fd_a, fd_b);
	assert_int_equal(in_child(taken, v), OK);
	/* a trailing comma ends the list */
	snprintf(v, sizeof(v), "tun:0=%d,udp4:1=%d,", fd_a, fd_b);
	assert_int_equal(in_child(taken, v), OK);
	close(fd_a);
	close(fd_b);
	close(fd_other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_taken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
