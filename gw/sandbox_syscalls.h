/* SPDX-License-Identifier: MIT */
/*
 * The system calls the running gateway may make (gw/sandbox.h), one
 * SANDBOX_SYSCALL(name) each, libseccomp's names, grouped by who makes
 * them: taken from what gw and its libraries call after setup, then checked
 * by running the netns suite with GW_SECCOMP=log (the kernel logs each call
 * the filter would refuse), and the rest of the suite with the filter on
 * (test 73 found sysinfo that way).  Some entries are there for paths
 * the suite does not take (rename/fsync for files written at exit, the
 * x86_64 legacy open/stat).  tests/netns/88-sandbox.sh reads this file:
 * every name must be in systemd's @system-service set or in its list of
 * extras (contrib/systemd/gw@.service's SystemCallFilter= line), the
 * SANDBOX_SYSCALL_EXEC ones at the end too.
 *
 * socket(2) is further limited in gw/sandbox.c to AF_UNIX, AF_INET,
 * AF_INET6 and AF_NETLINK: the packet and raw sockets are open before the
 * drop, and a new one would need CAP_NET_RAW, gone by then.
 */

/* the event loops: libev's epoll, its eventfd wake-ups, signals */
SANDBOX_SYSCALL(epoll_wait)
SANDBOX_SYSCALL(epoll_pwait)
SANDBOX_SYSCALL(epoll_pwait2)
SANDBOX_SYSCALL(epoll_ctl)
SANDBOX_SYSCALL(epoll_create1)
SANDBOX_SYSCALL(eventfd2)
SANDBOX_SYSCALL(poll)
SANDBOX_SYSCALL(ppoll)
SANDBOX_SYSCALL(rt_sigaction)
SANDBOX_SYSCALL(rt_sigprocmask)
SANDBOX_SYSCALL(rt_sigreturn)
SANDBOX_SYSCALL(sigaltstack)
SANDBOX_SYSCALL(restart_syscall)
SANDBOX_SYSCALL(clock_gettime)
SANDBOX_SYSCALL(clock_nanosleep)
SANDBOX_SYSCALL(nanosleep)
SANDBOX_SYSCALL(gettimeofday)

/* descriptors: TUN, UDP, the uplink's packet socket, netlink, control */
SANDBOX_SYSCALL(read)
SANDBOX_SYSCALL(write)
SANDBOX_SYSCALL(readv)
SANDBOX_SYSCALL(writev)
SANDBOX_SYSCALL(close)
SANDBOX_SYSCALL(ioctl)
SANDBOX_SYSCALL(fcntl)
SANDBOX_SYSCALL(pipe2)
SANDBOX_SYSCALL(socket)
SANDBOX_SYSCALL(connect)
SANDBOX_SYSCALL(bind)
SANDBOX_SYSCALL(accept4)
SANDBOX_SYSCALL(shutdown)
SANDBOX_SYSCALL(getsockname)
SANDBOX_SYSCALL(getpeername)
SANDBOX_SYSCALL(getsockopt)
SANDBOX_SYSCALL(setsockopt)
SANDBOX_SYSCALL(sendto)
SANDBOX_SYSCALL(recvfrom)
SANDBOX_SYSCALL(sendmsg)
SANDBOX_SYSCALL(recvmsg)
SANDBOX_SYSCALL(sendmmsg)
SANDBOX_SYSCALL(recvmmsg)

/* files: SIGHUP and rules restores read the config and Rules files, user
 * and group names (NSS), /proc/PID/fd for --gid-owner, /proc/sys for the
 * reserved ports, libcap-ng's /proc/self/status; exit unlinks the
 * sockets */
SANDBOX_SYSCALL(openat)
SANDBOX_SYSCALL(open)
SANDBOX_SYSCALL(newfstatat)
SANDBOX_SYSCALL(fstat)
SANDBOX_SYSCALL(stat)
SANDBOX_SYSCALL(lstat)
SANDBOX_SYSCALL(statx)
SANDBOX_SYSCALL(lseek)
SANDBOX_SYSCALL(pread64)
SANDBOX_SYSCALL(getdents64)
SANDBOX_SYSCALL(readlinkat)
SANDBOX_SYSCALL(readlink)
SANDBOX_SYSCALL(access)
SANDBOX_SYSCALL(faccessat)
SANDBOX_SYSCALL(faccessat2)
SANDBOX_SYSCALL(unlink)
SANDBOX_SYSCALL(unlinkat)
SANDBOX_SYSCALL(rename)
SANDBOX_SYSCALL(renameat)
SANDBOX_SYSCALL(renameat2)
SANDBOX_SYSCALL(fsync)
SANDBOX_SYSCALL(fdatasync)
SANDBOX_SYSCALL(ftruncate)
SANDBOX_SYSCALL(fchmod)
SANDBOX_SYSCALL(fchown)
SANDBOX_SYSCALL(umask)

/* memory: malloc, the worker threads' stacks, libsodium's guarded pages */
SANDBOX_SYSCALL(brk)
SANDBOX_SYSCALL(mmap)
SANDBOX_SYSCALL(munmap)
SANDBOX_SYSCALL(mremap)
SANDBOX_SYSCALL(mprotect)
SANDBOX_SYSCALL(madvise)
SANDBOX_SYSCALL(mlock)
SANDBOX_SYSCALL(munlock)
/* glibc's qsort of a large array asks for the RAM size (sysconf
 * _SC_PHYS_PAGES): many host addresses on the uplink, netns test 73 */
SANDBOX_SYSCALL(sysinfo)

/* threads: workers and the resolver (glibc's pthread_create, join, exit) */
SANDBOX_SYSCALL(clone)
SANDBOX_SYSCALL(clone3)
SANDBOX_SYSCALL(futex)
SANDBOX_SYSCALL(set_robust_list)
SANDBOX_SYSCALL(rseq)
SANDBOX_SYSCALL(sched_yield)
SANDBOX_SYSCALL(sched_getaffinity)
SANDBOX_SYSCALL(exit)
SANDBOX_SYSCALL(exit_group)

/* the process: ids and capabilities (gw stats), randomness (libsodium),
 * abort() */
SANDBOX_SYSCALL(getpid)
SANDBOX_SYSCALL(gettid)
SANDBOX_SYSCALL(getuid)
SANDBOX_SYSCALL(geteuid)
SANDBOX_SYSCALL(getgid)
SANDBOX_SYSCALL(getegid)
SANDBOX_SYSCALL(getresuid)
SANDBOX_SYSCALL(getresgid)
SANDBOX_SYSCALL(getgroups)
SANDBOX_SYSCALL(capget)
SANDBOX_SYSCALL(prctl)
SANDBOX_SYSCALL(getrandom)
SANDBOX_SYSCALL(uname)
SANDBOX_SYSCALL(tgkill)

/* KeepState only (gw/sandbox.h): SIGUSR2's re-exec of gw, and what the new
 * image's start makes under the inherited filter beside the calls above
 * (found by netns test 89 with GW_SECCOMP=log).  The trade-off: a process
 * that may execve could run another program, under this same filter,
 * no_new_privs and the kept capabilities; without KeepState execve stays
 * forbidden, as nothing else in gw runs a program. */
/* SIGUSR2: gw executes the binary it was started from */
SANDBOX_SYSCALL_EXEC(execve)
/* the new image's start: the loader's TLS and thread pointer (glibc) */
SANDBOX_SYSCALL_EXEC(arch_prctl)
SANDBOX_SYSCALL_EXEC(set_tid_address)
/* glibc's start-up reads the stack limit (gw/sandbox.c: its own, reading
 * only: pid 0, no new limit) */
SANDBOX_SYSCALL_EXEC(prlimit64)
/* libcap-ng checks that /proc is procfs before it reads capabilities */
SANDBOX_SYSCALL_EXEC(fstatfs)
/* priv_drop again: the kept set applied (the same one, inherited) */
SANDBOX_SYSCALL_EXEC(capset)
