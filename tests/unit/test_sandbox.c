/* SPDX-License-Identifier: MIT */
/* gw/sandbox: the list of allowed calls, and the filter itself in forked
 * children: what the running gateway does passes, a forbidden call (in the
 * installing thread or one started later) ends the child with status 159
 * and one line naming the call. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <seccomp.h>

#include "gw/sandbox.h"

static void test_list(void **state)
{
	(void)state;
	assert_true(sandbox_n > 50);
	for (size_t i = 0; i < sandbox_exec_n; i++) {
		assert_int_not_equal(seccomp_syscall_resolve_name(sandbox_exec_syscalls[i]),
				     __NR_SCMP_ERROR);
		for (size_t j = 0; j < sandbox_n; j++)
			assert_string_not_equal(sandbox_exec_syscalls[i], sandbox_syscalls[j]);
	}
	for (size_t i = 0; i < sandbox_n; i++) {
		/* known to libseccomp (a typo would fail the install) */
		assert_int_not_equal(seccomp_syscall_resolve_name(sandbox_syscalls[i]),
				     __NR_SCMP_ERROR);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(sandbox_syscalls[i], sandbox_syscalls[j]);
	}
}

static void test_mode_env(void **state)
{
	(void)state;
	unsetenv("GW_SECCOMP");
	assert_int_equal(sandbox_mode_env(), SANDBOX_ON);
	setenv("GW_SECCOMP", "off", 1);
	assert_int_equal(sandbox_mode_env(), SANDBOX_OFF);
	setenv("GW_SECCOMP", "log", 1);
	assert_int_equal(sandbox_mode_env(), SANDBOX_LOG);
	setenv("GW_SECCOMP", "OFF", 1); /* only "off" turns it off */
	assert_int_equal(sandbox_mode_env(), SANDBOX_ON);
	unsetenv("GW_SECCOMP");
}

/* What the gateway does at run time, in a thread started after the
 * filter as the workers are. */
static void *busy(void *arg)
{
	struct timespec ts;
	char buf[256];
	void *big = malloc(8 << 20); /* mmap'ed */
	int fd, s;

	(void)arg;
	if (!big || clock_gettime(CLOCK_MONOTONIC, &ts))
		return (void *)1;
	memset(big, 1, 8 << 20);
	free(big);
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
		return (void *)2;
	close(fd);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return (void *)3;
	close(s);
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s < 0)
		return (void *)4;
	close(s);
	return NULL;
}

/* A forbidden call in a thread started after the filter. */
static void *exec_true(void *arg)
{
	char *argv[] = { "true", NULL }, *envp[] = { NULL };

	(void)arg;
	execve("/bin/true", argv, envp);
	return NULL;
}

enum what { ALLOWED, PERSONALITY, PACKET_SOCKET, EXEC_IN_THREAD, EXEC_KEEPSTATE,
	    PRLIMIT_READ, PRLIMIT_SET };

/* Runs what in a child under the filter; its exit status and stderr. */
static int child(enum what what, char *err, size_t len)
{
	int fds[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t t;
		void *ret = NULL;

		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		if (sandbox_enter("t", SANDBOX_ON, what >= EXEC_KEEPSTATE, false))
			_exit(100);
		switch (what) {
		case ALLOWED:
			if (pthread_create(&t, NULL, busy, NULL) || pthread_join(t, &ret))
				_exit(101);
			_exit(ret ? 102 : 0);
		case PERSONALITY:
			personality(0xffffffff); /* a query: harmless if it passed */
			_exit(0);
		case PACKET_SOCKET:
			/* refused by the filter before the kernel checks CAP_NET_RAW */
			socket(AF_PACKET, SOCK_RAW, 0);
			_exit(0);
		case EXEC_IN_THREAD:
			if (pthread_create(&t, NULL, exec_true, NULL) == 0)
				pthread_join(t, NULL);
			_exit(0);
		case EXEC_KEEPSTATE:
			/* a dynamically linked program starts under the filter:
			 * its status is 0 unless a call of its start is refused
			 * (SIGSYS, the handler gone with the exec) */
			exec_true(NULL);
			_exit(104);
		case PRLIMIT_READ:
		case PRLIMIT_SET: {
			/* KeepState's prlimit64: one's own limit, read only */
			struct rlimit rl;

			if (syscall(SYS_prlimit64, 0, RLIMIT_STACK, NULL, &rl))
				_exit(105);
			if (what == PRLIMIT_SET)
				syscall(SYS_prlimit64, 0, RLIMIT_STACK, &rl, NULL);
			_exit(0);
		}
		}
		_exit(103);
	}
	close(fds[1]);
	while (got < (ssize_t)len - 1 && (n = read(fds[0], err + got, len - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void expect_killed(enum what what, const char *name)
{
	char err[1024], want[128];
	int nr = seccomp_syscall_resolve_name(name);

	snprintf(want, sizeof(want), "gw: t: seccomp: forbidden system call %d (%s): exiting\n",
		 nr, name);
	assert_int_equal(child(what, err, sizeof(err)), SANDBOX_EXIT);
	assert_non_null(strstr(err, want));
}

static void test_allowed(void **state)
{
	char err[1024];

	(void)state;
	assert_int_equal(child(ALLOWED, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "gw: t: seccomp: "));
	assert_null(strstr(err, "forbidden"));
}

static void test_forbidden(void **state)
{
	(void)state;
	expect_killed(PERSONALITY, "personality");
	expect_killed(PACKET_SOCKET, "socket");
	expect_killed(EXEC_IN_THREAD, "execve");
}

/* KeepState: execve allowed, with what a program's start makes (SIGUSR2's
 * re-exec, gw/handover.h). */
static void test_exec_keepstate(void **state)
{
	char err[1024];

	(void)state;
	assert_int_equal(child(EXEC_KEEPSTATE, err, sizeof(err)), 0);
	assert_null(strstr(err, "forbidden"));
	/* prlimit64 for that start: reading one's own limit, not setting it */
	assert_int_equal(child(PRLIMIT_READ, err, sizeof(err)), 0);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* (the sanitizers' runtimes get prlimit64 whole: gw/sandbox.c) */
	expect_killed(PRLIMIT_SET, "prlimit64");
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_mode_env),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_forbidden),
		cmocka_unit_test(test_exec_keepstate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
