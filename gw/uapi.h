/* SPDX-License-Identifier: MIT */
/*
 * uapi — the WireGuard cross-platform userspace API ("Cross-platform
 * userspace implementation", wireguard.com/xplatform), as wg(8), wgctrl and
 * wg-quick's userspace mode speak it to wireguard-go.
 *
 * A Unix stream socket, /var/run/wireguard/IFACE.sock by default (mode 0600,
 * its directory 0755; UapiSocket = PATH | off).  One operation per
 * connection, ended by an empty line:
 *
 *   get=1\n\n  ->  private_key=HEX  listen_port=N  [fwmark=N]  then per peer
 *                  public_key=HEX  preshared_key=HEX  protocol_version=1
 *                  [endpoint=IP:PORT | [IP6]:PORT]  last_handshake_time_sec=N
 *                  last_handshake_time_nsec=N  tx_bytes=N  rx_bytes=N
 *                  persistent_keepalive_interval=N  allowed_ip=CIDR...
 *                  errno=0\n\n
 *   set=1\n KEY=VALUE\n ... \n  ->  errno=0\n\n, or errno=-N\n\n
 *
 * Keys of set (hex keys are 64 hex digits; "true" is the only flag value):
 *   device  private_key, listen_port, fwmark, replace_peers
 *   peer    public_key (starts a peer), remove, update_only, preshared_key,
 *           endpoint (numeric, as wg resolves names itself),
 *           persistent_keepalive_interval, replace_allowed_ips, allowed_ip,
 *           protocol_version (1 only)
 * Lines take effect in order as wireguard-go applies them (replace_peers
 * drops the peers so far, a peer's lines after remove are ignored,
 * replace_allowed_ips drops its prefixes so far, a prefix another peer holds
 * moves, a peer with our own public key is ignored), but unlike
 * wireguard-go a set is all or nothing: the whole request is parsed and
 * checked first (uapi_parse_set), the result worked out against the live
 * state and everything that can fail done aside (gw/peers.h), and only then
 * applied; on any error the reply is errno=-N and nothing has changed.
 *
 * errno values as wireguard-go's: -EINVAL (a bad key, value or line),
 * -EPROTO (no '=' on a line, an unknown operation: the connection closes),
 * -EADDRINUSE (the new listen_port cannot be bound, a port below 1024
 * after the privilege drop included), -ENOMEM; and -EINVAL for an all-zero
 * private_key (wireguard-go's "no key": gw always has one).  fwmark is
 * taken and reported always; it reaches the sockets at once while gw holds
 * CAP_NET_ADMIN (not dropped, or kept for an Uplink), else at the next
 * start (FwMark; logged).
 */
#ifndef GW_UAPI_H
#define GW_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "crypto/wg.h"
#include "gw/config.h"

struct sbuf;

/* One peer block of a set=1, in effect as its lines said. */
struct uapi_peer_op {
	uint8_t pub[KEY_LEN];
	bool remove;             /* remove=true (later lines ignored) */
	bool update_only;        /* do not create the peer */
	bool replace_aips;       /* replace_allowed_ips=true (before aips[]) */
	bool has_psk;
	uint8_t psk[KEY_LEN];    /* all zero: none */
	bool has_endpoint;
	struct wg_endpoint endpoint;
	char *endpoint_text;     /* as the config file keeps it */
	bool endpoint_later;     /* endpoint_text only: a host name, which the
	                          * resolver thread looks up (gw_dns_sync) */
	bool has_keepalive;
	uint16_t keepalive;
	struct cidr *aips;       /* masked to their prefix; added in this order */
	size_t naips;
};

struct uapi_set {
	bool has_private_key;
	uint8_t private_key[KEY_LEN];
	bool has_listen_port;
	uint16_t listen_port;
	bool has_fwmark;
	uint32_t fwmark;
	bool replace_peers;
	struct uapi_peer_op *peers;
	size_t npeers;
};

/* The lines of a set=1 after its first line, up to the empty line (or the
 * end of text).  0, -EINVAL, -EPROTO or -ENOMEM; on error *s is empty and
 * why names the line and its key (never a value: it may be a key). */
int uapi_parse_set(struct uapi_set *s, const char *text, size_t len, char *why, size_t wlen);
/* Wipes the keys and frees everything. */
void uapi_set_free(struct uapi_set *s);

/* realloc for arrays that hold keys: the old block is zeroed before it is
 * freed.  NULL (p untouched) when out of memory. */
void *uapi_secret_grow(void *p, size_t old_size, size_t new_size);

/* A CIDR masked to its prefix (what wg and wireguard-go report). */
void uapi_cidr_mask(struct cidr *c);

/* A key from its 64 hex digits (either case): 0, or -EINVAL with out
 * zeroed. */
int uapi_key_from_hex(const char *v, uint8_t out[static KEY_LEN]);

/* Lower-case hex of a key, as wireguard-go prints it, to out. */
void uapi_key_hex(struct sbuf *out, const char *name, const uint8_t key[static KEY_LEN]);

#endif
