/* SPDX-License-Identifier: MIT */
/* SIGUSR2's re-exec and the descriptors it hands over: see handover.h. */
#include "gw/handover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>
/* <sys/auxv.h> brings <elf.h>, whose ELF version macros are names in
 * libev's enum (gw/gw.h) */
#undef EV_NONE
#undef EV_CURRENT
#undef EV_NUM

#include "gw/gw.h"
#include "gw/log.h"
#include "nat/sbuf.h"

extern char **environ;

enum { ROLE_LEN = 8, CMDLINE_MAX = 65536 };

struct hfd {
	char role[ROLE_LEN];
	unsigned n;
	int fd;			/* -1: taken */
};

/* Process-wide, as the environment and the descriptors are. */
static struct {
	char exe[PATH_MAX];	/* "": unknown, no re-exec */
	char *cmdline;		/* argv[0]\0argv[1]\0... */
	char **argv;
	struct hfd *fds;
	size_t n;
	bool active;
} ho;

/* argv of this process, from /proc/self/cmdline (the caller's argv is
 * shifted by the subcommand dispatch). */
static void read_argv(void)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	size_t len = 0, argc = 0;
	ssize_t r;

	ho.cmdline = malloc(CMDLINE_MAX);
	if (fd < 0 || !ho.cmdline)
		goto fail;
	while (len < CMDLINE_MAX - 1 &&
	       (r = read(fd, ho.cmdline + len, CMDLINE_MAX - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	fd = -1;
	if (!len || len == CMDLINE_MAX - 1)
		goto fail;
	ho.cmdline[len] = 0;
	for (size_t i = 0; i < len; i++)
		argc += !ho.cmdline[i];
	ho.argv = calloc(argc + 1, sizeof(char *));
	if (!ho.argv)
		goto fail;
	for (size_t i = 0, a = 0; i < len; i += strlen(ho.cmdline + i) + 1)
		ho.argv[a++] = ho.cmdline + i;
	return;
fail:
	if (fd >= 0)
		close(fd);
	free(ho.cmdline);
	ho.cmdline = NULL;
}

static bool listed(int fd)
{
	for (size_t i = 0; i < ho.n; i++)
		if (ho.fds[i].fd == fd)
			return true;
	return false;
}

/* Every descriptor above stderr that is not one handed over. */
static void close_others(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int *close_fds = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		gw_warn("handover: /proc/self/fd: %s: inherited descriptors stay open",
			strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d) || listed((int)fd))
			continue;
		if (n == cap) {
			int *m = realloc(close_fds, (cap = cap ? 2 * cap : 16) * sizeof(int));

			if (!m)
				break;
			close_fds = m;
		}
		close_fds[n++] = (int)fd;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		close(close_fds[i]);
	free(close_fds);
}

/* ROLE:N=FD[,...] into ho.fds.  0 or -EINVAL. */
static int parse(const char *s)
{
	size_t cap = 1;

	for (const char *p = s; *p; p++)
		cap += *p == ',';
	ho.fds = calloc(cap, sizeof(*ho.fds));
	if (!ho.fds)
		return -ENOMEM;
	while (*s) {
		struct hfd *h = &ho.fds[ho.n];
		const char *colon = strchr(s, ':');
		char *end;
		unsigned long n, fd;

		if (!colon || colon == s || colon - s >= ROLE_LEN)
			return -EINVAL;
		memcpy(h->role, s, (size_t)(colon - s));
		errno = 0;
		n = strtoul(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end != '=' || n > 65535)
			return -EINVAL;
		s = end + 1;
		fd = strtoul(s, &end, 10);
		if (errno || end == s || (*end && *end != ',') || fd <= 2 || fd > INT_MAX ||
		    fcntl((int)fd, F_GETFD) < 0 || listed((int)fd))
			return -EINVAL;
		h->n = (unsigned)n;
		h->fd = (int)fd;
		ho.n++;
		s = *end ? end + 1 : end;
	}
	return ho.n ? 0 : -EINVAL; /* an empty list hands nothing over */
}

/* The path gw was started by, kept as written: the one execve was given
 * (AT_EXECFN: argv[0] with a '/', or where execvp found it in PATH), made
 * absolute.  A symlink in it stays one, so an upgrade that re-points it is
 * followed.  When it is not this binary (moved since), the target of
 * /proc/self/exe.  A re-exec's image (inherited) was given ho.exe, an
 * absolute path: it asks for no current directory, which the seccomp
 * filter it inherited would refuse. */
static void read_exe(bool inherited)
{
	const char *fn = (const char *)getauxval(AT_EXECFN);
	char cwd[PATH_MAX];
	struct stat self, st;
	ssize_t len;
	int n = -1;

	while (fn && fn[0] == '.' && fn[1] == '/')
		fn += 2;
	if (fn && *fn == '/')
		n = snprintf(ho.exe, sizeof(ho.exe), "%s", fn);
	else if (fn && *fn && !inherited && getcwd(cwd, sizeof(cwd)))
		n = snprintf(ho.exe, sizeof(ho.exe), "%s/%s", cwd, fn);
	if (n > 0 && (size_t)n < sizeof(ho.exe) && stat("/proc/self/exe", &self) == 0 &&
	    stat(ho.exe, &st) == 0 && st.st_dev == self.st_dev && st.st_ino == self.st_ino)
		return;
	len = readlink("/proc/self/exe", ho.exe, sizeof(ho.exe) - 1);
	ho.exe[len > 0 ? len : 0] = 0;
}

int handover_init(void)
{
	const char *e = getenv(HANDOVER_ENV);
	char *copy;
	int ret;

	read_argv();
	read_exe(e != NULL);
	if (!e)
		return 0;
	copy = strdup(e);
	unsetenv(HANDOVER_ENV);
	ret = copy ? parse(copy) : -ENOMEM;
	free(copy);
	if (ret) {
		gw_err("handover: %s: %s: not taken", HANDOVER_ENV,
		       ret == -EINVAL ? "not ROLE:N=FD,... of open descriptors" : strerror(-ret));
		free(ho.fds);
		ho.fds = NULL;
		ho.n = 0;
		return ret;
	}
	for (size_t i = 0; i < ho.n; i++)
		(void)fcntl(ho.fds[i].fd, F_SETFD, FD_CLOEXEC);
	ho.active = true;
	close_others();
	return 0;
}

bool handover_active(void)
{
	return ho.active;
}

int handover_take(const char *role, unsigned n)
{
	for (size_t i = 0; ho.active && i < ho.n; i++)
		if (ho.fds[i].fd >= 0 && ho.fds[i].n == n && !strcmp(ho.fds[i].role, role)) {
			int fd = ho.fds[i].fd;

			ho.fds[i].fd = -1;
			return fd;
		}
	return -1;
}

void handover_done(const char *what)
{
	for (size_t i = 0; i < ho.n; i++)
		if (ho.fds[i].fd >= 0) {
			gw_log("%s: handover: %s:%u (fd %d) not used by this configuration: closed",
			       what, ho.fds[i].role, ho.fds[i].n, ho.fds[i].fd);
			close(ho.fds[i].fd);
		}
	free(ho.fds);
	ho.fds = NULL;
	ho.n = 0;
}

/* --- the re-exec --------------------------------------------------------- */

struct give {
	struct sbuf env;
	int *fds;
	size_t n, cap;
	bool oom;
};

static void give(struct give *gv, const char *role, unsigned n, int fd)
{
	if (fd < 0 || gv->oom)
		return;
	if (gv->n == gv->cap) {
		int *m = realloc(gv->fds, (gv->cap = gv->cap ? 2 * gv->cap : 32) * sizeof(int));

		if (!m) {
			gv->oom = true;
			return;
		}
		gv->fds = m;
	}
	gv->fds[gv->n++] = fd;
	sbuf_printf(&gv->env, "%s%s:%u=%d", gv->n == 1 ? "" : ",", role, n, fd);
}

static void give_tx(struct give *gv, const struct uplink_tx *t, unsigned q)
{
	give(gv, "raw4", q, t->rfd);
	give(gv, "raw6", q, t->rfd6);
	give(gv, "xmit", q, t->xfd);
	give(gv, "gso", q, t->gfd);
}

static void collect(struct gw *g, struct give *gv)
{
	sbuf_printf(&gv->env, "%s=", HANDOVER_ENV);
	for (unsigned i = 0; i < g->nio; i++) {
		give(gv, "tun", i, g->io[i].tun);
		give(gv, "udp4", i, g->io[i].udp4);
		give(gv, "udp6", i, g->io[i].udp6);
	}
	if (g->uplink_on) {
		give(gv, "pkt", 0, g->uplink.pfd);
		for (unsigned i = 0; i < g->uplink.nrx; i++)
			give(gv, "pkt", i + 1, g->uplink.rx[i].pfd);
		give_tx(gv, &g->uplink.tx, 0);
		for (unsigned i = 0; i < g->nio; i++)
			if (g->io[i].utx_own)
				give_tx(gv, g->io[i].utx, i + 1);
	}
	give(gv, "ctl", 0, g->ctl.lfd);
	give(gv, "uapi", 0, g->uapi.lfd);
}

static void cloexec(const struct give *gv, bool on)
{
	for (size_t i = 0; i < gv->n; i++)
		(void)fcntl(gv->fds[i], F_SETFD, on ? FD_CLOEXEC : 0);
}

void handover_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGUSR2);
}

int handover_exec(struct gw *g)
{
	struct give gv = { 0 };
	sigset_t stop, old;
	char **envp = NULL;
	size_t ne = 0, k = 0;
	int ret;

	if (!ho.exe[0] || !ho.argv) {
		gw_err("%s: SIGUSR2: the binary's path or argv was not known at start", g->cfg.ifname);
		return -ENOENT;
	}
	sbuf_init(&gv.env);
	collect(g, &gv);
	while (environ && environ[ne])
		ne++;
	envp = calloc(ne + 2, sizeof(char *));
	if (gv.oom || !gv.env.buf || !envp) {
		ret = -ENOMEM;
		gw_err("%s: SIGUSR2: out of memory", g->cfg.ifname);
		goto out;
	}
	for (size_t i = 0; i < ne; i++)
		if (strncmp(environ[i], HANDOVER_ENV "=", sizeof(HANDOVER_ENV)))
			envp[k++] = environ[i];
	envp[k++] = gv.env.buf;
	gw_notice("%s: SIGUSR2: executing %s, %zu descriptor(s) handed over", g->cfg.ifname,
		  ho.exe, gv.n);
	cloexec(&gv, false);
	/* execve resets the handlers: a SIGHUP (a reload, logrotate) or
	 * another SIGUSR2 before the new image watches them would end it;
	 * blocked, they wait for it (the mask and what is pending survive) */
	handover_signals(&stop);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	execve(ho.exe, ho.argv, envp);
	ret = -errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	cloexec(&gv, true);
	gw_err("%s: SIGUSR2: executing %s: %s: running on", g->cfg.ifname, ho.exe, strerror(-ret));
out:
	free(envp);
	free(gv.fds);
	sbuf_free(&gv.env);
	return ret;
}
