/* SPDX-License-Identifier: MIT */
/*
 * priv — privilege as a phase.  gw_setup() first does everything that needs
 * privilege (TUN, addresses, UDP/packet/raw sockets, the tc filter, the
 * reserved ports, the control socket); then priv_drop() keeps only what the
 * running gateway still needs, with libcap-ng, and switches to User.
 *
 * What the running gateway needs:
 *   CAP_NET_ADMIN  with an uplink whose address is the host's (MASQUERADE):
 *                  address changes, rules restores and reloads install,
 *                  replace or remove the tc filter (rtnetlink), and exit
 *                  removes it and writes net.ipv4.ip_local_reserved_ports (a
 *                  net sysctl: writable with CAP_NET_ADMIN over the
 *                  namespace, whatever the uid).
 *   CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE
 *                  only when the rules at start compare gids (-m owner
 *                  --gid-owner): the socket's group comes from walking
 *                  /proc/PID/fd of other users' processes (gw/sockdiag.h).
 *                  There is no other way to it: sock_diag gives the
 *                  socket's uid and inode, not its group (the creator's
 *                  fsgid, xt_owner's), and only an fd of the socket does
 *                  (fstat); listing another user's /proc/PID/fd needs
 *                  CAP_DAC_READ_SEARCH, following its links ptrace access,
 *                  so CAP_SYS_PTRACE (the owning process's gid in
 *                  /proc/PID/status is not the socket's, and finding that
 *                  PID is the same walk).  Started without them, priv_drop
 *                  refuses to start, naming them; the seccomp filter
 *                  refuses ptrace(2) and process_vm_readv(2) whatever the
 *                  capabilities.  Rules restored later that need them find
 *                  them gone: priv_warn_missing says so.
 *   nothing else   every socket and the TUN device are open (closing the TUN
 *                  removes it), the control socket already listens, the
 *                  packet socket's filter is swapped and ARP is answered on
 *                  it without any, and sock_diag's uid lookups need none.
 *
 * After the drop: effective = permitted = that set; inheritable and ambient
 * empty -- with KeepState the same set, so that SIGUSR2's execve of gw
 * (gw/handover.h; no file capabilities, no set-uid) starts the new image
 * with exactly that set again (ambient capabilities survive an execve,
 * and become its permitted and effective set; inheritable ones can only
 * be raised while the bounding set has them, so before it is emptied; the
 * switch to User clears ambient, so they are raised after it); the new
 * image's own drop finds them and keeps them; the bounding set empty when CAP_SETPCAP allows clearing it (started
 * without it, e.g. as a user with ambient capabilities, the bounding set is
 * what the starter gave: systemd's CapabilityBoundingSet=); no_new_privs.
 * With User: uid and gid switched, supplementary groups cleared.  Not
 * dumpable (PR_SET_DUMPABLE 0), switched or not: other processes of the
 * same uid cannot ptrace it or read its memory (the keys), and it leaves
 * no core file.  Then gw/sandbox.h's seccomp filter.
 */
#ifndef GW_PRIV_H
#define GW_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gw;
struct sbuf;

/* Capability bit masks: bit n is capability n (CAP_NET_ADMIN = 12). */
#define PRIV_CAP(n) ((uint64_t)1 << (n))

struct priv_user {
	bool set;		/* User given: switch to uid/gid */
	uid_t uid;
	gid_t gid;
};

/* The process's credentials as the kernel has them. */
struct priv_state {
	uid_t uid, euid;
	gid_t gid, egid;
	uint64_t eff, prm, bnd, inh, amb;
};

/* User = NAME or a number: the passwd entry's uid and gid (a number with
 * no entry: that uid, and the same number as gid).  0, or -ENOENT (no such
 * user), -EINVAL (a number out of range), -errno of the lookup. */
int priv_user_lookup(const char *user, struct priv_user *out);

/* Keeps only keep (PRIV_CAP bits) and switches to u when u->set (nothing to
 * switch when the process is u already, without supplementary groups);
 * exec: keep inheritable and ambient too (above).  Checks the result
 * against the kernel's state; 0 or -errno (logged, naming what failed).
 * what names the instance in messages. */
int priv_drop(const char *what, const struct priv_user *u, uint64_t keep, bool exec);

/* The process's credentials and capability sets.  0 or -errno. */
int priv_read(struct priv_state *st);

/* "cap_net_admin,cap_net_raw" (ascending numbers), "none" for 0.  0 or
 * -ENOSPC. */
int priv_caps_format(uint64_t caps, char *out, size_t len);

/* What the running gateway g still needs (above): PRIV_CAP bits. */
uint64_t priv_needed(const struct gw *g);
/* Logs a warning naming what of needed the process no longer has. */
void priv_warn_missing(const char *what, uint64_t needed);

/* gw stats lines, read from the process's real state: user=NAME (the
 * effective uid's, or its number) uid=N gid=N (effective) caps=SET
 * (permitted: all the process can still use) caps_effective=SET
 * caps_bounding=SET, each SET as priv_caps_format prints it. */
void priv_stats(struct sbuf *s);

#endif
