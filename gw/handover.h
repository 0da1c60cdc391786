/* SPDX-License-Identifier: MIT */
/*
 * handover — SIGUSR2: an in-place upgrade (with KeepState, gw/keep.h).
 *
 * gw stops its workers, writes the state file as on SIGTERM (the uplink's
 * filter and ports left), clears FD_CLOEXEC on the descriptors that cannot
 * be had again without privilege and execve()s the binary at the path it
 * was started by (the one its execve was given, AT_EXECFN: argv[0], or
 * where execvp found it in PATH; made absolute, symlinks kept: a new binary
 * renamed over it, or a symlink re-pointed, is the one run) with its
 * original argv, the environment plus
 *     GW_HANDOVER=ROLE:N=FD[,ROLE:N=FD]...
 * ROLE (N a decimal index, FD the descriptor):
 *     tun:N            the TUN queue of worker N
 *     udp4:N, udp6:N   worker N's WireGuard UDP sockets
 *     pkt:N            the uplink's packet socket read by worker N (0:
 *                      the first, N > 0: its PACKET_FANOUT member)
 *     raw4:N, raw6:N, xmit:N, gso:N
 *                      the uplink's send sockets (IPPROTO_RAW IPv4 and
 *                      IPv6, packet socket, its TCP GSO twin) of send
 *                      queue N (0: the shared queue, N > 0: worker N-1's)
 *     ctl:0, uapi:0    the listening control and UAPI sockets
 * The new process (same PID) reads and removes the variable first thing,
 * closes every other descriptor above stderr it inherited, and its setup
 * takes these instead of opening, binding or configuring: the TUN device
 * and its addresses and routes stay (closing the last queue would remove
 * them), clients' datagrams keep arriving on the same UDP sockets, and the
 * packet sockets keep their fanout membership (each gets its RX ring set up
 * again: the old mapping went with the old image).  It then reads the state
 * file (keep_load), drops privileges and carries on.  What it was handed
 * but did not take (Workers changed) is closed, with a log line.
 *
 * A failed execve (the binary gone, not executable) is logged; gw deletes
 * the state file it wrote, starts its workers again and runs on.  Without
 * KeepState SIGUSR2 is refused with a log line.  Privileges: gw/priv.h
 * keeps the retained capabilities inheritable and ambient with KeepState,
 * so the new image has the same ones; seccomp: gw/sandbox.h.
 */
#ifndef GW_HANDOVER_H
#define GW_HANDOVER_H

#include <signal.h>
#include <stdbool.h>

struct gw;

#define HANDOVER_ENV "GW_HANDOVER"

/* First thing in gw run: the binary's path and argv for a later re-exec,
 * and GW_HANDOVER taken (removed from the environment; every other
 * inherited descriptor above 2 closed).  0, or -errno (logged) when the
 * variable does not parse: then nothing is taken. */
int handover_init(void);
/* Started with descriptors handed over (after handover_done too). */
bool handover_active(void);
/* The descriptor handed over as ROLE:n (it is the caller's now), or -1. */
int handover_take(const char *role, unsigned n);
/* End of setup: what was handed over and not taken is closed (logged). */
void handover_done(const char *what);

/* The signals gw's loop watches (HUP, INT, TERM, USR2): blocked across
 * the exec, unblocked by the new image once it watches them. */
void handover_signals(sigset_t *set);
/* With the workers stopped and the state file written: execve as above.
 * Returns only on failure: -errno (logged), the descriptors as they were. */
int handover_exec(struct gw *g);

#endif
