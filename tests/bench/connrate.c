/* SPDX-License-Identifier: MIT */
/*
 * connrate — short TCP connections as fast as they go (tests/bench and the
 * load of tests/netns 50 and 65).
 *
 *   connrate server PORT [-b BYTES]
 *       accepts, writes BYTES bytes (default 8), closes; for ever.
 *   connrate client ADDR PORT [-n INFLIGHT] [-t SECONDS] [-c COUNT]
 *                    [-b BYTES] [-w TIMEOUT] [--rst|--fin]
 *       keeps INFLIGHT connections (default 1) going, each a non-blocking
 *       connect, then reading the server's BYTES bytes up to its EOF, then a
 *       close: --rst (default) with SO_LINGER 0, so a RST, --fin an orderly
 *       close.  New connections start until SECONDS have passed (default 5
 *       without -c) or COUNT have started; then it waits for those still
 *       open to end (each has TIMEOUT).  On SIGTERM or SIGINT it stops at
 *       once: those open are abandoned and not counted.  Prints one line:
 *         conns=N ok=N failed=N refused=N timeout=N reset=N short=N other=N
 *         seconds=S rate=R
 *       conns are the connections that ended (ok + failed); failed are
 *       refused (connect answered by a RST), timeout (no connection or no
 *       EOF after TIMEOUT seconds, default 3), reset (a RST before the
 *       server's EOF), short (EOF before BYTES bytes) and other (any other
 *       error, connect's own included); rate is per second, of those that
 *       ended well within SECONDS (or until the end without -t), and seconds
 *       is that window.
 *       Exit status 0 once it ran, whatever the counts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT 4096
#define MAX_BYTES 4096

enum outcome { OK, REFUSED, TIMEOUT, RESET, SHORT, OTHER, OUTCOME__MAX };
static const char *const outcome_name[OUTCOME__MAX] = {
	"ok", "refused", "timeout", "reset", "short", "other",
};

struct conn {
	int fd;           /* -1: free slot */
	bool connected;
	size_t got;       /* bytes of the server's so far */
	double deadline;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: connrate server PORT [-b BYTES]\n"
			"       connrate client ADDR PORT [-n INFLIGHT] [-t SECONDS] [-c COUNT]\n"
			"                       [-b BYTES] [-w TIMEOUT] [--rst|--fin]\n");
	exit(2);
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "connrate: %s: %s\n", what, strerror(errno));
	exit(1);
}

static unsigned long number(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		usage();
	return v;
}

/* ---- server ---- */

static _Noreturn void server(unsigned port, size_t bytes)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[MAX_BYTES];
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(buf, 'c', bytes);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
			    errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				continue;
			die("accept");
		}
		/* a fresh socket's send buffer takes a few bytes at once; a
		 * client already gone makes this fail, which is its business */
		if (send(c, buf, bytes, MSG_NOSIGNAL) < 0 && errno != ECONNRESET && errno != EPIPE)
			die("send");
		close(c);
	}
}

/* ---- client ---- */

struct client {
	struct sockaddr_in to;
	size_t bytes;
	double timeout;
	bool rst;
	int ep;
	struct conn c[MAX_INFLIGHT];
	unsigned long n[OUTCOME__MAX];
	unsigned long started;
};

/* ends connection c with outcome o (counted when count is set) */
static void finish(struct client *cl, struct conn *c, enum outcome o, bool count)
{
	if (cl->rst) {
		struct linger l = { 1, 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(c->fd); /* leaves the epoll set too */
	c->fd = -1;
	if (count)
		cl->n[o]++;
}

static enum outcome from_errno(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return REFUSED;
	case ETIMEDOUT:
		return TIMEOUT;
	case ECONNRESET:
	case EPIPE:
		return RESET;
	default:
		return OTHER;
	}
}

/* starts a connection in slot c; false if it failed at once (counted) */
static bool start(struct client *cl, struct conn *c, double t)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

	cl->started++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	c->connected = false;
	c->got = 0;
	c->deadline = t + cl->timeout;
	if (connect(c->fd, (struct sockaddr *)&cl->to, sizeof(cl->to)) < 0 &&
	    errno != EINPROGRESS) {
		enum outcome o = from_errno(errno);

		finish(cl, c, o, true);
		return false;
	}
	if (epoll_ctl(cl->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl");
	return true;
}

static void readable(struct client *cl, struct conn *c)
{
	char buf[MAX_BYTES];

	for (;;) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);

		if (r > 0) {
			c->got += (size_t)r;
			continue;
		}
		if (r == 0) {
			finish(cl, c, c->got >= cl->bytes ? OK : SHORT, true);
			return;
		}
		if (errno == EAGAIN || errno == EINTR)
			return;
		finish(cl, c, from_errno(errno), true);
		return;
	}
}

static void event(struct client *cl, struct conn *c, uint32_t events)
{
	if (!c->connected) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			finish(cl, c, from_errno(err), true);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->connected = true;
		if (epoll_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
			die("epoll_ctl");
		/* the data and the FIN may be there already: the next wait
		 * reports them (level-triggered) */
		return;
	}
	readable(cl, c);
}

/* rate: the connections that succeeded within the window, per second */
static void report(const struct client *cl, unsigned long ok_window, double window)
{
	unsigned long failed = 0;
	int o;

	for (o = OK + 1; o < OUTCOME__MAX; o++)
		failed += cl->n[o];
	printf("conns=%lu ok=%lu failed=%lu", cl->n[OK] + failed, cl->n[OK], failed);
	for (o = OK + 1; o < OUTCOME__MAX; o++)
		printf(" %s=%lu", outcome_name[o], cl->n[o]);
	printf(" seconds=%.2f rate=%.0f\n", window,
	       window > 0 ? (double)ok_window / window : 0.0);
	fflush(stdout);
}

static void client(struct client *cl, unsigned inflight, double seconds, unsigned long count)
{
	struct epoll_event evs[256];
	double t0 = now(), t = t0, next_scan = t0, window = -1;
	double end = seconds > 0 ? t0 + seconds : 1e300;
	unsigned long ok_window = 0;
	unsigned i, open;

	cl->ep = epoll_create1(EPOLL_CLOEXEC);
	if (cl->ep < 0)
		die("epoll_create1");
	for (i = 0; i < inflight; i++)
		cl->c[i].fd = -1;
	while (!stopping) {
		bool more = t < end && (!count || cl->started < count);
		int k, nev;

		open = 0;
		for (i = 0; i < inflight; i++) {
			struct conn *c = &cl->c[i];

			/* a slot refilled at most once a round: a connect that
			 * fails at once must not spin here */
			if (c->fd < 0 && more && (!count || cl->started < count) &&
			    start(cl, c, t))
				open++;
			else if (c->fd >= 0)
				open++;
		}
		if (!open && !more)
			break;
		nev = epoll_wait(cl->ep, evs, sizeof(evs) / sizeof(evs[0]), open ? 20 : 1);
		if (nev < 0 && errno != EINTR)
			die("epoll_wait");
		t = now();
		for (k = 0; k < nev; k++)
			event(cl, evs[k].data.ptr, evs[k].events);
		if (t >= next_scan) {
			for (i = 0; i < inflight; i++)
				if (cl->c[i].fd >= 0 && t >= cl->c[i].deadline)
					finish(cl, &cl->c[i], TIMEOUT, true);
			next_scan = t + 0.05;
		}
		if (t >= end && window < 0) { /* those in flight still count */
			window = t - t0;
			ok_window = cl->n[OK];
		}
	}
	for (i = 0; i < inflight; i++) /* stopped by a signal */
		if (cl->c[i].fd >= 0)
			finish(cl, &cl->c[i], OTHER, false);
	if (window < 0) {
		window = now() - t0;
		ok_window = cl->n[OK];
	}
	report(cl, ok_window, window);
	close(cl->ep);
}

int main(int argc, char **argv)
{
	static struct client cl;
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned inflight = 1;
	unsigned long count = 0;
	double seconds = 0;
	int i;

	cl.bytes = 8;
	cl.timeout = 3;
	cl.rst = true;
	if (argc >= 3 && !strcmp(argv[1], "server")) {
		unsigned port = (unsigned)number(argv[2], 1, 65535);

		if (argc == 5 && !strcmp(argv[3], "-b"))
			server(port, number(argv[4], 0, MAX_BYTES));
		if (argc != 3)
			usage();
		server(port, cl.bytes);
	}
	if (argc < 4 || strcmp(argv[1], "client"))
		usage();
	cl.to.sin_family = AF_INET;
	if (!inet_aton(argv[2], &cl.to.sin_addr))
		usage();
	cl.to.sin_port = htons((uint16_t)number(argv[3], 1, 65535));
	for (i = 4; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--rst")) {
			cl.rst = true;
		} else if (!strcmp(a, "--fin")) {
			cl.rst = false;
		} else if (!v) {
			usage();
		} else if (!strcmp(a, "-n")) {
			inflight = (unsigned)number(v, 1, MAX_INFLIGHT);
			i++;
		} else if (!strcmp(a, "-t")) {
			seconds = (double)number(v, 1, 86400);
			i++;
		} else if (!strcmp(a, "-c")) {
			count = number(v, 1, 1UL << 30);
			i++;
		} else if (!strcmp(a, "-b")) {
			cl.bytes = number(v, 0, MAX_BYTES);
			i++;
		} else if (!strcmp(a, "-w")) {
			cl.timeout = (double)number(v, 1, 600);
			i++;
		} else {
			usage();
		}
	}
	if (!seconds && !count)
		seconds = 5;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	client(&cl, inflight, seconds, count);
	return 0;
}
