/* SPDX-License-Identifier: MIT */
#include "gw/ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "nat/sbuf.h"

void ctl_default_path(char *out, size_t len, const char *ifname)
{
	snprintf(out, len, "/run/gw/%s.sock", ifname);
}

static int sockaddr_of(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

/* mkdir -p of path's directory, 0700 for what is created. */
static void make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(dir, 0755);
		*p = '/';
	}
	mkdir(dir, 0700);
}

int ctl_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd, ret = sockaddr_of(&sun, path);
	mode_t old;

	if (ret)
		return ret;
	make_parent(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a socket nobody answers on is stale */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	old = umask(077);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret < 0 || chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

enum { CTL_LINE_MS = 1000, CTL_BODY_MS = 5000 };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_accept(int lfd, char *req, size_t len)
{
	int64_t deadline;
	size_t got = 0;
	int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (cfd < 0)
		return -errno;
	/* byte by byte: what follows the line is the request's body.  The
	 * whole line gets one deadline, so a slow client holds the loop (and
	 * the data path) for at most CTL_LINE_MS. */
	deadline = now_ms() + CTL_LINE_MS;
	while (got + 1 < len) {
		struct pollfd pfd = { cfd, POLLIN, 0 };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = read(cfd, req + got, 1);
		if (n <= 0)
			break;
		if (req[got] == '\n')
			break;
		got++;
	}
	req[got] = 0;
	req[strcspn(req, "\r\n")] = 0;
	return cfd;
}

int ctl_read_body(int cfd, struct sbuf *body, size_t max)
{
	char buf[65536];
	int64_t deadline = now_ms() + CTL_BODY_MS;

	for (;;) {
		struct pollfd pfd = { cfd, POLLIN, 0 };
		int64_t left = deadline - now_ms();
		ssize_t n;
		int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -ETIMEDOUT;
		n = read(cfd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return body->oom ? -ENOMEM : 0;
		if (body->len + (size_t)n > max)
			return -EFBIG;
		sbuf_addn(body, buf, (size_t)n);
	}
}

void ctl_answer(int cfd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = write(cfd, text, len);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		text += n;
		len -= (size_t)n;
	}
	close(cfd);
}

int ctl_request(const char *path, const char *request, struct sbuf *out)
{
	return ctl_request_body(path, request, NULL, 0, out);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ctl_request_body(const char *path, const char *request, const char *body, size_t blen,
		     struct sbuf *out)
{
	struct sockaddr_un sun;
	char buf[4096];
	ssize_t n;
	int fd, ret = sockaddr_of(&sun, path);

	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	snprintf(buf, sizeof(buf), "%s\n", request);
	ret = write_all(fd, buf, strlen(buf));
	if (!ret && blen)
		ret = write_all(fd, body, blen);
	if (ret) {
		close(fd);
		return ret;
	}
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sbuf_addn(out, buf, (size_t)n);
	ret = n < 0 ? -errno : 0;
	close(fd);
	return ret;
}
