/* SPDX-License-Identifier: MIT */
#include "gw/ctl.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* mkdir -p of path's directory, mode for the last part (0755 above). */
static void make_parent(const char *path, unsigned mode)
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
	mkdir(dir, (mode_t)mode);
}

int ctl_listen(const char *path, unsigned dir_mode)
{
	struct sockaddr_un sun;
	int fd, ret = sockaddr_of(&sun, path);
	mode_t old;

	if (ret)
		return ret;
	make_parent(path, dir_mode);
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

/* Per-client deadlines, seconds: the request line, the body, the answer. */
#define CTL_LINE_S 1.0
#define CTL_BODY_S 5.0
#define CTL_WRITE_S 5.0

enum conn_state { CONN_LINE, CONN_BODY, CONN_WRITE };

/* Requests and answers may hold keys (UAPI set and get, conf): their
 * buffers are secret (zeroed as they grow and when freed). */
static void wipe(struct sbuf *s)
{
	sbuf_free(s);
}

static void conn_close(struct ctl_conn *c)
{
	ev_io_stop(c->srv->loop, &c->io);
	ev_timer_stop(c->srv->loop, &c->timer);
	close(c->fd);
	c->fd = -1;
	wipe(&c->in);
	wipe(&c->out);
}

static void conn_wait(struct ctl_conn *c, int events, double seconds)
{
	ev_io_stop(c->srv->loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(c->srv->loop, &c->io);
	ev_timer_stop(c->srv->loop, &c->timer);
	ev_timer_set(&c->timer, seconds, 0.);
	ev_timer_start(c->srv->loop, &c->timer);
}

/* Sends what the socket takes now; closes when all is sent. */
static void conn_write(struct ctl_conn *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.buf + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		c->sent += (size_t)n;
	}
	conn_close(c);
}

/* Hands the request to the server's handler and starts writing its answer
 * (oom: what to answer instead when the answer did not fit in memory). */
static void conn_reply(struct ctl_conn *c, const char *body, size_t blen, const char *oom)
{
	c->srv->handle(c->srv->arg, c->in.buf, body, blen, &c->out);
	if (c->out.oom) {
		sbuf_reset(&c->out);
		c->out.oom = false;
		sbuf_add(&c->out, oom);
	}
	wipe(&c->in);
	c->state = CONN_WRITE;
	conn_wait(c, EV_WRITE, CTL_WRITE_S);
	conn_write(c);
}

static void conn_answer(struct ctl_conn *c)
{
	conn_reply(c, c->in.buf + c->line_len + 1, c->in.len - c->line_len - 1,
		   "error=out of memory\n");
}

/* What the server answers on its own, in the framing of its protocol. */
static const char *refusal(const struct ctl_server *srv, const char *msg)
{
	if (!srv->uapi)
		return msg;
	if (strstr(msg, "busy"))
		return "errno=-16\n\n"; /* EBUSY */
	if (strstr(msg, "memory"))
		return "errno=-12\n\n"; /* ENOMEM */
	return "errno=-71\n\n"; /* EPROTO */
}

static void conn_error(struct ctl_conn *c, const char *msg)
{
	msg = refusal(c->srv, msg);
	wipe(&c->in);
	sbuf_reset(&c->out);
	sbuf_add(&c->out, msg);
	c->state = CONN_WRITE;
	conn_wait(c, EV_WRITE, CTL_WRITE_S);
	conn_write(c);
}

/* The request line is complete when a newline came: the body, if the
 * request has one, follows it up to EOF. */
static void conn_got_line(struct ctl_conn *c, char *nl)
{
	c->line_len = (size_t)(nl - c->in.buf);
	*nl = 0;
	if (c->line_len && c->in.buf[c->line_len - 1] == '\r')
		c->in.buf[c->line_len - 1] = 0;
	if (c->srv->has_body(c->in.buf)) {
		c->state = CONN_BODY;
		conn_wait(c, EV_READ, CTL_BODY_S);
	} else {
		c->in.len = c->line_len + 1; /* whatever came after is ignored */
		conn_answer(c);
	}
}

/* UAPI: whole at the first empty line, or at EOF.  buf: room to read into. */
static void conn_read_uapi_into(struct ctl_conn *c, char *buf, size_t size)
{
	for (;;) {
		ssize_t n = read(c->fd, buf, size);
		size_t from = c->in.len ? c->in.len - 1 : 0;
		char *end = NULL;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (n == 0 && c->in.len)
				break; /* EOF ends the operation, as wireguard-go reads it */
			conn_close(c);
			return;
		}
		if (c->in.len + (size_t)n > CTL_MAX_BODY) {
			conn_error(c, "error=request too large\n");
			return;
		}
		sbuf_addn(&c->in, buf, (size_t)n);
		if (c->in.oom) {
			conn_error(c, "error=out of memory\n");
			return;
		}
		if (c->in.buf[0] == '\n') {
			end = c->in.buf;
		} else {
			for (size_t i = from; i + 1 < c->in.len && !end; i++)
				if (c->in.buf[i] == '\n' && c->in.buf[i + 1] == '\n')
					end = c->in.buf + i + 1;
		}
		if (end) {
			c->in.len = (size_t)(end - c->in.buf) + 1; /* what follows is not read */
			break;
		}
		if (c->state == CONN_LINE) {
			c->state = CONN_BODY;
			conn_wait(c, EV_READ, CTL_BODY_S);
		}
	}
	sbuf_addn(&c->in, "", 1); /* NUL-terminated */
	if (c->in.oom) {
		conn_error(c, "error=out of memory\n");
		return;
	}
	c->in.len--;
	c->line_len = c->in.len;
	conn_reply(c, NULL, 0, "errno=-12\n\n");
}

/* The read buffers on the stack are zeroed after use: requests hold keys. */
static void conn_read_uapi(struct ctl_conn *c)
{
	char buf[65536];

	conn_read_uapi_into(c, buf, sizeof(buf));
	sodium_memzero(buf, sizeof(buf));
}

static void conn_read_into(struct ctl_conn *c, char *buf, size_t size)
{
	for (;;) {
		ssize_t n = read(c->fd, buf, size);
		size_t old = c->in.len;
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (n == 0 && c->state == CONN_LINE && c->in.len) {
				/* a line without its newline, then EOF */
				sbuf_add(&c->in, "\n");
				if (c->in.oom) {
					conn_error(c, "error=out of memory\n");
					return;
				}
				conn_got_line(c, c->in.buf + c->in.len - 1);
			}
			if (n == 0 && c->state == CONN_BODY)
				conn_answer(c);
			else if (c->state != CONN_WRITE)
				conn_close(c);
			return;
		}
		if (c->in.len + (size_t)n > CTL_MAX_LINE + 1u + CTL_MAX_BODY) {
			conn_error(c, "error=request too large\n");
			return;
		}
		sbuf_addn(&c->in, buf, (size_t)n);
		if (c->in.oom) {
			conn_error(c, "error=out of memory\n");
			return;
		}
		if (c->state != CONN_LINE)
			continue;
		nl = memchr(c->in.buf + old, '\n', c->in.len - old);
		if (nl && (size_t)(nl - c->in.buf) <= CTL_MAX_LINE) {
			conn_got_line(c, nl);
			if (c->state != CONN_BODY)
				return;
		} else if (c->in.len > CTL_MAX_LINE) {
			conn_error(c, "error=request line too long\n");
			return;
		}
	}
}

static void conn_read(struct ctl_conn *c)
{
	char buf[65536];

	conn_read_into(c, buf, sizeof(buf));
	sodium_memzero(buf, sizeof(buf));
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *c = w->data;

	(void)loop, (void)revents;
	if (c->state == CONN_WRITE)
		conn_write(c);
	else if (c->srv->uapi)
		conn_read_uapi(c);
	else
		conn_read(c);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_conn *c = w->data;

	(void)loop, (void)revents;
	if (c->state == CONN_BODY)
		conn_error(c, "error=request body: timed out\n");
	else
		conn_close(c); /* silent client, or one that does not read */
}

static void adopt(struct ctl_conn *c, int fd)
{
	c->fd = fd;
	c->state = CONN_LINE;
	c->sent = c->line_len = 0;
	sbuf_init_secret(&c->in);
	sbuf_init_secret(&c->out);
	conn_wait(c, EV_READ, CTL_LINE_S);
}

int ctl_server_adopt(struct ctl_server *srv, int fd)
{
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		if (srv->conns[i].fd < 0) {
			adopt(&srv->conns[i], fd);
			return 0;
		}
	return -EBUSY;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_server *srv = w->data;

	(void)loop, (void)revents;
	for (;;) {
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		const char *busy = refusal(srv, "error=busy\n");

		if (fd < 0)
			return; /* EAGAIN, or nothing gw can do about it */
		if (ctl_server_adopt(srv, fd) == 0)
			continue;
		(void)!send(fd, busy, strlen(busy), MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
	}
}

void ctl_server_start(struct ctl_server *srv, struct ev_loop *loop, int lfd)
{
	srv->loop = loop;
	srv->lfd = lfd;
	for (int i = 0; i < CTL_MAX_CONNS; i++) {
		struct ctl_conn *c = &srv->conns[i];

		c->srv = srv;
		c->fd = -1;
		ev_io_init(&c->io, conn_io_cb, -1, EV_READ);
		c->io.data = c;
		ev_timer_init(&c->timer, conn_timer_cb, 0., 0.);
		c->timer.data = c;
	}
	ev_io_init(&srv->accept_w, accept_cb, lfd, EV_READ);
	srv->accept_w.data = srv;
	if (lfd >= 0)
		ev_io_start(loop, &srv->accept_w);
}

void ctl_server_stop(struct ctl_server *srv)
{
	if (!srv->loop)
		return;
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		if (srv->conns[i].fd >= 0)
			conn_close(&srv->conns[i]);
	ev_io_stop(srv->loop, &srv->accept_w);
	if (srv->lfd >= 0)
		close(srv->lfd);
	srv->loop = NULL;
}

int ctl_request(const char *path, const char *request, struct sbuf *out)
{
	return ctl_request_body(path, request, NULL, 0, out);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

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
	/* the server may have answered and closed before taking it all
	 * (error=busy, a request too large): its answer is still to read */
	if (ret && ret != -EPIPE && ret != -ECONNRESET) {
		close(fd);
		return ret;
	}
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sbuf_addn(out, buf, (size_t)n);
	if (n < 0)
		ret = -errno;
	sodium_memzero(buf, sizeof(buf)); /* an answer may hold keys */
	/* closed with our request unread: the answer came first */
	if (out->len && (ret == -EPIPE || ret == -ECONNRESET))
		ret = 0;
	close(fd);
	return ret;
}
