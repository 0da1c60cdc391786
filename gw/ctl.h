/* SPDX-License-Identifier: MIT */
/*
 * ctl — the control socket of a running gateway and its line protocol.
 *
 * A Unix stream socket (default /run/gw/IFACE.sock, mode 0600, in a 0700
 * directory gw creates).  One request per connection: the client writes one
 * line and shuts its side down; the server answers with "key=value" lines
 * and closes.  Keys never carry secrets.
 *
 *   show    interface=NAME  public_key=B64  listen_port=N
 *           then per peer, starting with its key:
 *             peer=B64  endpoint=ADDR:PORT (absent: none)  allowed_ip=CIDR
 *             (repeated)  latest_handshake=UNIX-SECONDS (0: never)
 *             rx_bytes=N  tx_bytes=N  persistent_keepalive=SECONDS
 *             handshakes_sent=N  handshakes_completed=N
 *   stats   rx_packets=N  tx_packets=N  handshakes_received=N
 *           cookies_received=N  under_load=0|1  then drop_REASON=N for every
 *           reason of crypto/wg.h (bad-type, mac1, replay, ...)
 *   other   error=unknown request
 */
#ifndef GW_CTL_H
#define GW_CTL_H

#include <stddef.h>

struct sbuf;

/* The socket path for an interface ("/run/gw/IFACE.sock"). */
void ctl_default_path(char *out, size_t len, const char *ifname);
/* Listens on path (a stale socket is replaced; a live one is -EADDRINUSE).
 * fd (non-blocking) or -errno. */
int ctl_listen(const char *path);
/* Accepts one client: reads its request line into req (NUL-terminated,
 * newline stripped) with a short timeout.  Returns the client fd or -errno. */
int ctl_accept(int lfd, char *req, size_t len);
/* Writes the whole answer and closes the client. */
void ctl_answer(int cfd, const char *text, size_t len);
/* Client side: sends request, appends the answer to out.  0 or -errno. */
int ctl_request(const char *path, const char *request, struct sbuf *out);

#endif
