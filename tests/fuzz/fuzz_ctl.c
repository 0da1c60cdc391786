/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the control protocol's server side (gw/ctl.c).  The input is
 * what a client writes before it shuts its side down, served through a
 * socketpair by the real non-blocking server in a libev loop.  The handler
 * checks what the server promises: the request line has no newline and is
 * at most CTL_MAX_LINE bytes, a body comes only with rules-restore, and the
 * answer goes back whole.
 *
 * An input starting with byte 0x01 is served with the UAPI framing
 * instead (gw/uapi.h): the handler gets the whole request, which holds no
 * empty line but at its end, and no body.
 *
 * Seeds: "show\n", "stats\n", "rules-list filter 3 FORWARD\n",
 * "rules-restore x\n*filter\nCOMMIT\n", "ct-list\n", "\x01get=1\n\n",
 * "\x01set=1\nlisten_port=1\n\n".
 */
#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw/ctl.h"
#include "nat/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned handled;
static bool uapi;

static bool has_body(const char *req)
{
	return !strncmp(req, "rules-restore ", 14);
}

static void handle(void *arg, const char *req, const char *body, size_t blen, struct sbuf *out)
{
	(void)arg;
	if (uapi) {
		const char *end = strstr(req, "\n\n");

		if (body || blen || (end && end[2]) || (req[0] == '\n' && req[1]))
			abort();
	} else if (strlen(req) > CTL_MAX_LINE || strchr(req, '\n') || (blen && !has_body(req)) ||
	    (blen && !body))
		abort();
	handled++;
	/* an answer larger than a socket buffer: it must go out in pieces */
	for (int i = 0; i < 4096; i++)
		sbuf_printf(out, "line=%d %.40s\n", i, req);
	sbuf_printf(out, "body=%zu\n", blen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	struct ctl_server srv;
	struct sbuf ans;
	char buf[65536];
	int sv[2];
	size_t off = 0;

	if (!loop)
		loop = ev_loop_new(EVFLAG_AUTO);
	if (size > (1u << 20) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return 0;
	uapi = size && data[0] == 1;
	if (uapi) {
		data++;
		size--;
	}
	memset(&srv, 0, sizeof(srv));
	srv.uapi = uapi;
	srv.has_body = has_body;
	srv.handle = handle;
	ctl_server_start(&srv, loop, -1);
	if (ctl_server_adopt(&srv, sv[0]))
		abort();
	sbuf_init(&ans);
	handled = 0;
	/* the client: writes what the socket takes, reads what comes back,
	 * until the server closes; the loop runs between */
	for (int round = 0; round < 100000; round++) {
		ssize_t n;

		if (off < size) {
			n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(sv[1], SHUT_WR);
		} else if (!size) {
			shutdown(sv[1], SHUT_WR);
		}
		ev_run(loop, EVRUN_NOWAIT);
		n = read(sv[1], buf, sizeof(buf));
		if (n > 0)
			sbuf_addn(&ans, buf, (size_t)n);
		else if (n == 0)
			break; /* the server closed: done */
	}
	/* an answer, when the handler ran, arrived whole */
	if (handled && (ans.len < 11 || memcmp(ans.buf + ans.len - 1, "\n", 1) ||
			!strstr(ans.buf, "body=")))
		abort();
	ctl_server_stop(&srv);
	close(sv[1]);
	sbuf_free(&ans);
	return 0;
}
