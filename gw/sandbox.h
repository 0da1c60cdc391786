/* SPDX-License-Identifier: MIT */
/*
 * sandbox — the running gateway's seccomp filter (libseccomp).
 *
 * Installed last in gw_setup, after priv_drop (no_new_privs is set, so no
 * capability is needed), on every thread of the process at once (TSYNC);
 * the threads started later (workers, the resolver) inherit it.  It allows
 * the system calls of gw/sandbox_syscalls.h — what the loop, the workers,
 * SIGHUP and rules reloads, the control and UAPI sockets, name lookups and
 * the exit path use — and nothing else: ptrace, mount, bpf,
 * new packet or raw sockets, keyctl and the rest are refused.
 *
 * A refused call raises SIGSYS in the thread that made it (SCMP_ACT_TRAP);
 * the handler writes one line to stderr,
 *     gw: IFACE: seccomp: forbidden system call N (NAME): exiting
 * (at LOG_CRIT with the journal's priority prefix) and ends the process
 * with exit status 128 + SIGSYS (159), without its teardown: a call that
 * should not happen means gw is not what it was.  The names are looked up
 * at install, so the handler only writes.
 *
 * GW_SECCOMP in the environment: "off" installs nothing (an escape hatch,
 * logged as a warning); "log" lets every call through and has the kernel
 * log those the filter would refuse (SCMP_ACT_LOG: the audit lines with
 * syscall=N in dmesg or the journal) — how gw/sandbox_syscalls.h was
 * found; anything else, or unset: the filter.
 *
 * KeepState: execve is allowed, with what the new image's start makes
 * (SANDBOX_SYSCALL_EXEC in gw/sandbox_syscalls.h), since SIGUSR2's
 * re-exec (gw/handover.h) runs under the filter: a filter survives
 * execve.  The new image does not install its own: filters only stack
 * (a second one could only refuse more, never allow a call the first
 * refuses), and one more per upgrade would grow the chain every call
 * walks towards the kernel's limit of instructions; the inherited one is
 * the same list.  It sets its SIGSYS handler again (execve resets it).
 * GW_SECCOMP is inherited with the environment.
 */
#ifndef GW_SANDBOX_H
#define GW_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

enum sandbox_mode { SANDBOX_ON, SANDBOX_OFF, SANDBOX_LOG };
enum { SANDBOX_EXIT = 128 + 31 }; /* 128 + SIGSYS */

/* GW_SECCOMP as above. */
enum sandbox_mode sandbox_mode_env(void);
/* Installs the filter in mode on every thread; what names the instance in
 * messages; exec (KeepState): the SANDBOX_SYSCALL_EXEC calls allowed too;
 * inherited (a re-exec's new image, gw/handover.h): the SIGSYS handler
 * only, the previous image's filter stays.  0 or -errno (logged). */
int sandbox_enter(const char *what, enum sandbox_mode mode, bool exec, bool inherited);
/* Just the SIGSYS handler (one line naming the call, then exit), what
 * naming the instance: what sandbox_enter installs first; a re-exec's new
 * image installs it at once, since it runs under the old image's filter
 * from its first instruction (execve reset the handler).  0 or -errno. */
int sandbox_trap(const char *what);

/* The allowed calls' names (gw/sandbox_syscalls.h), sandbox_n of them. */
extern const char *const sandbox_syscalls[];
extern const size_t sandbox_n;
/* Those allowed with KeepState only, sandbox_exec_n of them. */
extern const char *const sandbox_exec_syscalls[];
extern const size_t sandbox_exec_n;

#endif
