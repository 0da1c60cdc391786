/* SPDX-License-Identifier: MIT */
/*
 * ctl — the control socket of a running gateway and its line protocol.
 *
 * A Unix stream socket (default /run/gw/IFACE.sock, mode 0600, in a 0700
 * directory gw creates).  One request per connection: the client writes one
 * line and shuts its side down; the server answers with "key=value" lines
 * and closes.  Keys never carry secrets, but for conf (the socket is
 * root's, 0600, as the UAPI socket that gives the same key away).
 *
 *   show    interface=NAME  public_key=B64  listen_port=N  address=CIDR
 *           (repeated: Address) then per peer, starting with its key:
 *             peer=B64  endpoint=ADDR:PORT (absent: none)  allowed_ip=CIDR
 *             (repeated)  latest_handshake=UNIX-SECONDS (0: never)
 *             rx_bytes=N  tx_bytes=N  persistent_keepalive=SECONDS
 *             handshakes_sent=N  handshakes_completed=N
 *             conntrack_entries=N  drop_conntrack-limit=N (with netfilter:
 *             its conntrack entries, its new ones PeerConntrackMax refused)
 *             drop_REASON=N for each crypto/wg.h reason a peer accounts
 *             for (wg_drop_is_peers)
 *   stats   rx_packets=N  tx_packets=N  handshakes_received=N
 *           cookies_received=N  under_load=0|1  then drop_REASON=N for every
 *           reason of crypto/wg.h (bad-type, mac1, replay, ...)
 *   metrics the numbers of show and stats in the Prometheus text exposition
 *           format (gw/metrics.h), per-peer ones labelled peer="B64"
 *   rules-list TABLE FLAGS [CHAIN]
 *           the text of rules_list() (iptables -L layout); FLAGS is the
 *           RULES_LIST_* bits in decimal
 *   rules-save
 *           the text of rules_save() with counters (iptables-save -c)
 *   rules-restore [-c ]NAME
 *           followed by the rules text up to EOF (at most 16 MiB, the client
 *           shuts its side down): parsed on top of the live rules and
 *           swapped in at once (conntrack and NAT bindings stay); with -c
 *           its [packets:bytes] are taken (iptables-restore -c), without
 *           the restored chains and rules start at [0:0]; answers
 *           ok=1, or error=NAME:LINE: message and nothing changed
 *   ct-list the conntrack -L lines (ct_format), then count=N
 *   ct-list extended
 *           the same as conntrack -L -o extended prints them with
 *           nf_conntrack_acct=1: "ipv4     2 " first, packets= bytes= after
 *           each direction's tuple (ct_format_ext)
 *   ct-count count=N
 *   ct-flush flushed=N (the entries removed)
 *   trace-info
 *           config=PATH (absolute) uplink_addr=A.B.C.D, then per live peer
 *           peer_owner=N and its peer_allowed_ip=CIDR lines: what gw trace
 *           IFACE needs besides the live rules (rules-save) to trace in the
 *           CLI (the peers as they are now, changed at runtime or not)
 *   conf    the running config in gw run format, private key included
 *           (gw show IFACE conf; gw/peers.h)
 *   other   error=unknown request; any request may answer error=MESSAGE
 *           (one line) instead, e.g. when the gateway has no netfilter
 *   refused before the request is read: error=busy (CTL_MAX_CONNS clients
 *           are being served), error=request line too long, error=request
 *           too large (a body over CTL_MAX_BODY), error=request body: timed
 *           out; the server closes then, and the client reads this answer
 *           even if its write failed (ctl_request_body)
 */
#ifndef GW_CTL_H
#define GW_CTL_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "nat/sbuf.h"

/* The socket path for an interface ("/run/gw/IFACE.sock"). */
void ctl_default_path(char *out, size_t len, const char *ifname);
/* Listens on path, mode 0600 (a stale socket is replaced; a live one is
 * -EADDRINUSE); missing directories are made with dir_mode (0700 for the
 * control socket, 0755 for /var/run/wireguard as wireguard-go has it).
 * fd (non-blocking) or -errno. */
int ctl_listen(const char *path, unsigned dir_mode);

/*
 * The server side inside the event loop: every client is a non-blocking
 * watcher with a deadline (its line within 1 s, a body within 5 s, the answer
 * taken within 5 s), so a slow or silent client never holds the loop (the
 * data path).  At most CTL_MAX_CONNS clients at once; more are refused with
 * error=busy.  handle() gets the request line (newline stripped) and, when
 * has_body() says the request carries one, the body up to EOF (at most
 * CTL_MAX_BODY bytes), and appends the answer to out.
 */
enum { CTL_MAX_CONNS = 8, CTL_MAX_BODY = 16u << 20, CTL_MAX_LINE = 512 };

struct ctl_server;
struct ctl_conn {
	struct ctl_server *srv;
	int fd;                 /* -1: the slot is free */
	int state;
	ev_io io;
	ev_timer timer;
	struct sbuf in, out;    /* the request (line + body); the answer */
	size_t line_len, sent;
};

/*
 * UAPI framing (gw/uapi.h), when srv->uapi is set: the request is whole at
 * its first empty line ("get=1\n\n", "set=1\n...\n\n") or at EOF, up to
 * CTL_MAX_BODY bytes within CTL_BODY_S; handle() gets all of it as req
 * (body NULL) and has_body is not used.  What the server refuses on its
 * own is answered errno=-EBUSY / -EPROTO / -ENOMEM instead of error=....
 */
struct ctl_server {
	struct ev_loop *loop;
	int lfd;
	bool uapi;
	ev_io accept_w;
	bool (*has_body)(const char *req);
	void (*handle)(void *arg, const char *req, const char *body, size_t blen,
		       struct sbuf *out);
	void *arg;
	struct ctl_conn conns[CTL_MAX_CONNS];
};

/* Serves lfd (from ctl_listen, now owned by srv; -1: none, clients come
 * through ctl_server_adopt only) in loop. */
void ctl_server_start(struct ctl_server *srv, struct ev_loop *loop, int lfd);
/* Serves fd (a connected, non-blocking stream socket) as a client, as if
 * accepted: 0, or -EBUSY when CTL_MAX_CONNS are being served. */
int ctl_server_adopt(struct ctl_server *srv, int fd);
/* Drops every client and closes the listening socket. */
void ctl_server_stop(struct ctl_server *srv);

/* Client side: sends request, appends the answer to out.  0 or -errno. */
int ctl_request(const char *path, const char *request, struct sbuf *out);
/* The same with a body after the request line. */
int ctl_request_body(const char *path, const char *request, const char *body, size_t blen,
		     struct sbuf *out);

#endif
