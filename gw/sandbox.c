/* SPDX-License-Identifier: MIT */
/* The running gateway's seccomp filter: see sandbox.h. */
#include "gw/sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw/log.h"

const char *const sandbox_syscalls[] = {
#define SANDBOX_SYSCALL(name) #name,
#define SANDBOX_SYSCALL_EXEC(name)
#include "gw/sandbox_syscalls.h"
#undef SANDBOX_SYSCALL_EXEC
#undef SANDBOX_SYSCALL
};
const size_t sandbox_n = sizeof(sandbox_syscalls) / sizeof(sandbox_syscalls[0]);

const char *const sandbox_exec_syscalls[] = {
#define SANDBOX_SYSCALL(name)
#define SANDBOX_SYSCALL_EXEC(name) #name,
#include "gw/sandbox_syscalls.h"
#undef SANDBOX_SYSCALL_EXEC
#undef SANDBOX_SYSCALL
};
const size_t sandbox_exec_n = sizeof(sandbox_exec_syscalls) / sizeof(sandbox_exec_syscalls[0]);

/* What the sanitizers' runtimes add (SAN=1 and TSan builds only): the leak
 * check at exit stops the threads with ptrace from a clone of its own, and
 * walks /proc/self/task with getdents (found with GW_SECCOMP=log). */
static const char *const sanitizer_syscalls[] = {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	"ptrace", "wait4", "waitid", "getppid", "getdents", "sched_getparam",
	"sched_getscheduler", "getrlimit", "prlimit64",
#endif
	NULL
};

/* Calls are numbered below this on the native architectures (x86_64: ~460). */
enum { NR_NAMES = 1024, LINE_MAX_LEN = 256 };

static const char *names[NR_NAMES]; /* set at install: the handler only reads */
static char prefix[LINE_MAX_LEN];   /* "<2>gw: IFACE: seccomp: " */

static size_t add(char *buf, size_t at, const char *s)
{
	while (*s && at < LINE_MAX_LEN - 1)
		buf[at++] = *s++;
	return at;
}

static size_t add_num(char *buf, size_t at, unsigned long v)
{
	char digits[24];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(digits));
	while (n && at < LINE_MAX_LEN - 1)
		buf[at++] = digits[--n];
	return at;
}

/* SIGSYS from the filter: one line, then the process ends (async-signal
 * safe: write and _exit only). */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[LINE_MAX_LEN];
	int nr = si->si_syscall;
	size_t n;

	(void)sig, (void)uc;
	n = add(line, 0, prefix);
	n = add(line, n, "forbidden system call ");
	n = add_num(line, n, (unsigned long)(unsigned)nr);
	n = add(line, n, " (");
	n = add(line, n, nr >= 0 && nr < NR_NAMES && names[nr] ? names[nr] : "unknown");
	n = add(line, n, "): exiting\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere else to say it */
	}
	_exit(SANDBOX_EXIT);
}

enum sandbox_mode sandbox_mode_env(void)
{
	const char *e = getenv("GW_SECCOMP");

	if (e && !strcmp(e, "off"))
		return SANDBOX_OFF;
	if (e && !strcmp(e, "log"))
		return SANDBOX_LOG;
	return SANDBOX_ON;
}

static void names_load(void)
{
	for (int nr = 0; nr < NR_NAMES; nr++) {
		if (names[nr])
			continue;
		/* malloc'ed, kept for the process's life */
		names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	}
}

/* Allows name; a name this architecture lacks (open on arm64) is skipped,
 * a name libseccomp does not know is a mistake in the list. */
static int allow(const char *what, scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name), rc;

	if (nr == __NR_SCMP_ERROR) {
		gw_err("%s: seccomp: unknown system call %s", what, name);
		return -EINVAL;
	}
	if (nr < 0)
		return 0; /* not on this architecture */
	if (!strcmp(name, "socket")) {
		static const int families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };

		for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/* An exec-only call: as allow, but prlimit64 (glibc's start reads its own
 * stack limit) only reading one's own, never setting anyone's. */
static int allow_exec(const char *what, scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (strcmp(name, "prlimit64") || nr < 0)
		return allow(what, ctx, name);
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2, SCMP_A0(SCMP_CMP_EQ, 0),
				SCMP_A2(SCMP_CMP_EQ, 0));
}

int sandbox_trap(const char *what)
{
	struct sigaction sa;
	size_t n;
	int rc;

	names_load();
	n = add(prefix, 0, log_prefixed() ? "<2>" : "");
	n = add(prefix, n, "gw: ");
	n = add(prefix, n, what);
	add(prefix, n, ": seccomp: ");
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		rc = -errno;
		gw_err("%s: seccomp: SIGSYS handler: %s", what, strerror(-rc));
		return rc;
	}
	return 0;
}

int sandbox_enter(const char *what, enum sandbox_mode mode, bool exec, bool inherited)
{
	scmp_filter_ctx ctx;
	int rc = 0;

	if (mode == SANDBOX_OFF) {
		gw_warn("%s: seccomp: off (GW_SECCOMP=off): every system call is allowed", what);
		return 0;
	}
	rc = sandbox_trap(what);
	if (rc)
		return rc;
	/* the hand-over's word is not taken for it: the kernel says whether
	 * a filter is on (what it says cannot be forged by the environment) */
	if (inherited && prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2 &&
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) {
		gw_log("%s: seccomp: the filter of the image before the re-exec stays", what);
		return 0;
	}
	ctx = seccomp_init(mode == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	if (!ctx) {
		gw_err("%s: seccomp: out of memory", what);
		return -ENOMEM;
	}
	/* every thread now, not only the caller */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (size_t i = 0; !rc && i < sandbox_n; i++)
		rc = allow(what, ctx, sandbox_syscalls[i]);
	for (size_t i = 0; !rc && exec && i < sandbox_exec_n; i++)
		rc = allow_exec(what, ctx, sandbox_exec_syscalls[i]);
	for (size_t i = 0; !rc && sanitizer_syscalls[i]; i++)
		rc = allow(what, ctx, sanitizer_syscalls[i]);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		gw_err("%s: seccomp: installing the filter: %s", what, strerror(-rc));
		return rc;
	}
	gw_log("%s: seccomp: %zu system calls allowed%s", what, sandbox_n + (exec ? sandbox_exec_n : 0),
	       mode == SANDBOX_LOG ? ", the others logged (GW_SECCOMP=log)" : "");
	return 0;
}
