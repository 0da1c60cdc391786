/* SPDX-License-Identifier: MIT */
/* Privilege as a phase: see priv.h. */
#include "gw/priv.h"

#include <cap-ng.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "gw/gw.h"
#include "gw/log.h"
#include "nat/rules.h"
#include "nat/sbuf.h"

enum { PW_BUF = 16384, CAPS_TEXT = 1024 };

/* getpwnam_r/getpwuid_r say "no such entry" with 0 and no result, or with
 * one of these (glibc's NSS modules differ). */
static bool not_found(int rc)
{
	return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM;
}

int priv_user_lookup(const char *user, struct priv_user *out)
{
	struct passwd pw, *res = NULL;
	char *buf = malloc(PW_BUF), *end;
	unsigned long n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!buf)
		return -ENOMEM;
	rc = getpwnam_r(user, &pw, buf, PW_BUF, &res);
	if (!res && not_found(rc) && user[0] >= '0' && user[0] <= '9') {
		errno = 0;
		n = strtoul(user, &end, 10);
		/* (uid_t)-1 means "unchanged" to setresuid */
		if (*end || errno || n >= (unsigned long)(uid_t)-1) {
			free(buf);
			return -EINVAL;
		}
		rc = getpwuid_r((uid_t)n, &pw, buf, PW_BUF, &res);
		if (!res && not_found(rc)) {
			out->set = true;
			out->uid = (uid_t)n;
			out->gid = (gid_t)n;
			free(buf);
			return 0;
		}
	}
	if (res) {
		out->set = true;
		out->uid = res->pw_uid;
		out->gid = res->pw_gid;
	}
	free(buf);
	return res ? 0 : not_found(rc) ? -ENOENT : -rc;
}

int priv_caps_format(uint64_t caps, char *out, size_t len)
{
	size_t at = 0;

	if (!len)
		return -ENOSPC;
	out[0] = 0;
	for (unsigned c = 0; c < 64; c++) {
		const char *name;
		int w;

		if (!(caps & PRIV_CAP(c)))
			continue;
		name = capng_capability_to_name(c);
		if (name)
			w = snprintf(out + at, len - at, "%scap_%s", at ? "," : "", name);
		else
			w = snprintf(out + at, len - at, "%scap_%u", at ? "," : "", c);
		if (w < 0 || (size_t)w >= len - at)
			return -ENOSPC;
		at += (size_t)w;
	}
	if (!at && snprintf(out, len, "none") >= (int)len)
		return -ENOSPC;
	return 0;
}

int priv_read(struct priv_state *st)
{
	memset(st, 0, sizeof(*st));
	st->uid = getuid();
	st->euid = geteuid();
	st->gid = getgid();
	st->egid = getegid();
	errno = 0;
	/* capget, and the bounding set from /proc/self/status */
	if (capng_get_caps_process() < 0)
		return errno ? -errno : -EIO;
	for (unsigned c = 0; c < 64; c++) {
		if (capng_have_capability(CAPNG_EFFECTIVE, c) == 1)
			st->eff |= PRIV_CAP(c);
		if (capng_have_capability(CAPNG_PERMITTED, c) == 1)
			st->prm |= PRIV_CAP(c);
		if (capng_have_capability(CAPNG_BOUNDING_SET, c) == 1)
			st->bnd |= PRIV_CAP(c);
		if (capng_have_capability(CAPNG_INHERITABLE, c) == 1)
			st->inh |= PRIV_CAP(c);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			st->amb |= PRIV_CAP(c);
	}
	return 0;
}

uint64_t priv_needed(const struct gw *g)
{
	uint64_t caps = 0;

	if (g->uplink_on && g->uplink.host_owned)
		caps |= PRIV_CAP(CAP_NET_ADMIN);
	if (g->owner_need & RULES_OWNER_GID)
		caps |= PRIV_CAP(CAP_DAC_READ_SEARCH) | PRIV_CAP(CAP_SYS_PTRACE);
	return caps;
}

void priv_warn_missing(const char *what, uint64_t needed)
{
	struct priv_state st;
	char miss[CAPS_TEXT];

	if (priv_read(&st) || !(needed & ~st.prm))
		return;
	priv_caps_format(needed & ~st.prm, miss, sizeof(miss));
	gw_warn("%s: warning: the rules now need %s, dropped at start (the rules then did not): "
	        "--gid-owner cannot find the group of other users' sockets; restart gw to keep them",
	        what, miss);
}

/* What capng_change_id's negative return says failed. */
static const char *change_id_step(int rc)
{
	switch (rc) {
	case -2:
	case -7:
		return "PR_SET_KEEPCAPS";
	case -3:
		return "raising CAP_SETUID/CAP_SETGID/CAP_SETPCAP for the switch";
	case -4:
		return "setresgid";
	case -5:
		return "setgroups";
	case -6:
		return "setresuid";
	case -8:
		return "clearing the bounding set";
	case -9:
		return "applying the kept capabilities";
	default:
		return "libcap-ng";
	}
}

/* The kernel's state after the drop is what we asked for. */
static int check(const char *what, const struct priv_user *u, uint64_t keep, bool clear_bnd,
		 bool exec)
{
	struct priv_state st;
	char eff[CAPS_TEXT], bnd[CAPS_TEXT];
	int rc = priv_read(&st);

	if (rc) {
		gw_err("%s: privileges: reading them back: %s", what, strerror(-rc));
		return rc;
	}
	priv_caps_format(st.eff, eff, sizeof(eff));
	priv_caps_format(st.bnd, bnd, sizeof(bnd));
	if (st.eff != keep || st.prm != keep || (clear_bnd && st.bnd) ||
	    st.inh != (exec ? keep : 0) || st.amb != (exec ? keep : 0) ||
	    (u->set && (st.uid != u->uid || st.euid != u->uid || st.gid != u->gid ||
			st.egid != u->gid))) {
		gw_err("%s: privileges: the drop did not take: uid %u gid %u, capabilities %s, "
		       "bounding set %s", what, (unsigned)st.euid, (unsigned)st.egid, eff, bnd);
		return -EPERM;
	}
	gw_log("%s: privileges: uid %u gid %u, capabilities %s, bounding set %s", what,
	       (unsigned)st.euid, (unsigned)st.egid, eff, bnd);
	return 0;
}

/* Already u's uid and gid, with no supplementary groups (systemd's User=
 * and the config's User the same): nothing to switch. */
static bool already(const struct priv_user *u)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	return !getresuid(&r, &e, &s) && !getresgid(&rg, &eg, &sg) && r == u->uid &&
	       e == u->uid && s == u->uid && rg == u->gid && eg == u->gid && sg == u->gid &&
	       getgroups(0, NULL) == 0;
}

int priv_drop(const char *what, const struct priv_user *u, uint64_t keep, bool exec)
{
	bool setpcap;
	int rc;

	errno = 0;
	if (capng_get_caps_process() < 0) {
		rc = errno ? -errno : -EIO;
		gw_err("%s: privileges: reading them: %s", what, strerror(-rc));
		return rc;
	}
	/* what the loop needs must be there to keep: say which is missing
	 * (the kernel's EPERM from capset would not) */
	for (unsigned c = 0; c < 64; c++) {
		char name[CAPS_TEXT];

		if (!(keep & PRIV_CAP(c)) || capng_have_capability(CAPNG_PERMITTED, c) == 1)
			continue;
		priv_caps_format(PRIV_CAP(c), name, sizeof(name));
		gw_err("%s: privileges: the running gateway needs %s%s, and gw was started "
		       "without it", what, name,
		       c == CAP_SYS_PTRACE || c == CAP_DAC_READ_SEARCH ?
		       " (rules with --gid-owner read other users' /proc/PID/fd; under systemd: "
		       "AmbientCapabilities=, CapabilityBoundingSet=, ProtectProc=default)" : "");
		return -EPERM;
	}
	/* the bounding set can only be cleared holding CAP_SETPCAP */
	setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP) == 1;
	/* exec: the kept ones inheritable now, while the bounding set still
	 * has them (a capability outside it cannot become inheritable) */
	for (unsigned c = 0; exec && c < 64; c++)
		if (keep & PRIV_CAP(c))
			capng_update(CAPNG_ADD, CAPNG_INHERITABLE, c);
	errno = 0;
	if (exec && keep && capng_apply(CAPNG_SELECT_CAPS) < 0) {
		rc = errno ? -errno : -EPERM;
		gw_err("%s: privileges: making the kept capabilities inheritable: %s", what,
		       strerror(-rc));
		return rc;
	}
	capng_clear(CAPNG_SELECT_BOTH);
	for (unsigned c = 0; c < 64; c++) {
		if ((keep & PRIV_CAP(c)) &&
		    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
				 (exec ? CAPNG_INHERITABLE : 0), c) < 0) {
			gw_warn("%s: privileges: capability %u unknown to this kernel", what, c);
			return -EINVAL;
		}
	}
	/* lowering permitted and inheritable would clear them too; explicitly */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
		rc = -errno;
		gw_err("%s: privileges: clearing ambient capabilities: %s", what, strerror(-rc));
		return rc;
	}
	if (u->set && !already(u)) {
		errno = 0;
		rc = capng_change_id((int)u->uid, (int)u->gid,
				     CAPNG_DROP_SUPP_GRP | (setpcap ? CAPNG_CLEAR_BOUNDING : 0));
		if (rc < 0) {
			gw_err("%s: User: switching to uid %u gid %u: %s failed%s%s", what,
			       (unsigned)u->uid, (unsigned)u->gid, change_id_step(rc),
			       errno ? ": " : "", errno ? strerror(errno) : "");
			return errno ? -errno : -EPERM;
		}
	} else {
		errno = 0;
		if ((setpcap && capng_apply(CAPNG_SELECT_BOUNDS) < 0) ||
		    capng_apply(CAPNG_SELECT_CAPS) < 0) {
			rc = errno ? -errno : -EPERM;
			gw_err("%s: privileges: dropping capabilities: %s", what, strerror(-rc));
			return rc;
		}
	}
	/* exec: ambient too (cleared by the switch), so the re-executed image
	 * starts with exactly them */
	for (unsigned c = 0; exec && c < 64; c++)
		if ((keep & PRIV_CAP(c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) {
			rc = -errno;
			gw_err("%s: privileges: raising ambient capability %u: %s", what, c,
			       strerror(-rc));
			return rc;
		}
	/* not dumpable, switched or not: no core file with the keys, and no
	 * other process of the same uid may ptrace gw or read its memory */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		rc = -errno;
		gw_err("%s: privileges: PR_SET_DUMPABLE: %s", what, strerror(-rc));
		return rc;
	}
	/* gw executes only itself (SIGUSR2); nothing may gain privileges */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		gw_err("%s: privileges: no_new_privs: %s", what, strerror(-rc));
		return rc;
	}
	return check(what, u, keep, setpcap, exec);
}

void priv_stats(struct sbuf *s)
{
	struct priv_state st;
	struct passwd pw, *res = NULL;
	char *buf, prm[CAPS_TEXT], eff[CAPS_TEXT], bnd[CAPS_TEXT];
	int rc = priv_read(&st);

	if (rc) {
		sbuf_printf(s, "caps_error=%s\n", strerror(-rc));
		return;
	}
	buf = malloc(PW_BUF);
	if (buf)
		getpwuid_r(st.euid, &pw, buf, PW_BUF, &res);
	priv_caps_format(st.prm, prm, sizeof(prm));
	priv_caps_format(st.eff, eff, sizeof(eff));
	priv_caps_format(st.bnd, bnd, sizeof(bnd));
	if (res)
		sbuf_printf(s, "user=%s\n", res->pw_name);
	else
		sbuf_printf(s, "user=%u\n", (unsigned)st.euid);
	sbuf_printf(s, "uid=%u\ngid=%u\ncaps=%s\ncaps_effective=%s\ncaps_bounding=%s\n",
		    (unsigned)st.euid, (unsigned)st.egid, prm, eff, bnd);
	free(buf);
}
