/* SPDX-License-Identifier: MIT */
/*
 * peers — the running gateway's peers changed at runtime: a UAPI set
 * (wg set / syncconf / addconf), SIGHUP (the config file's peers, as
 * `wg syncconf` against it), and what reads them back (UAPI get, gw show
 * IFACE conf).
 *
 * g->cfg.peers is the live list: every change is worked out on a copy of
 * it (the model), then made in two steps.  First what can fail, aside:
 * room in the device, the new peers, the device's allowed-IPs table and
 * gw's route table rebuilt from the model, a socket on a new listen_port,
 * the fwmark on the sockets.  Then what cannot: the private key, peers
 * removed (their conntrack entries flushed by owner id), new peers
 * inserted, settings, the tables and sockets swapped in, the model becomes
 * g->cfg.peers.  A peer whose key stays keeps its keypairs, timers,
 * endpoint (unless set), counters and conntrack owner id, so its sessions,
 * conntrack and NAT entries live on; one set back by the same key within
 * one request (replace_peers, remove then add) is the same peer.
 *
 * Everything derived from AllowedIPs follows at once from the rebuilt
 * tables: cryptokey routing (the device's table), gw's routing decision
 * (route.h: the tunnel's prefixes, so FORWARD/rp_filter and the tunnel
 * source checks), gw trace IFACE (trace-info lists the live peers), and
 * the owner id of a peer (PeerConntrackMax): kept while it lives, the
 * smallest free one for a new peer.
 *
 * Runtime private_key: every session ends (they were made with the old
 * identity) and peers handshake again, as wireguard-go does; a peer with
 * the new public key goes.  Runtime listen_port: new sockets are bound
 * first (-EADDRINUSE and nothing changed when that fails, e.g. a port
 * below 1024 after the privilege drop), then replace the old ones;
 * sessions stay (peers reach the new port once they hear from it, or gw
 * initiates: the endpoints are unchanged).
 */
#ifndef GW_PEERS_H
#define GW_PEERS_H

#include <stddef.h>

struct gw;
struct sbuf;
struct config;
struct uapi_set;

/* At start, before the device has them: every AllowedIPs prefix masked
 * and held by one peer only (the last that lists it, as the device's table
 * has it). */
void peers_normalize(struct config *c);
/* Applies s all or nothing.  0 or -errno (why, logged by the caller). */
int peers_apply(struct gw *g, const struct uapi_set *s, char *why, size_t len);
/* SIGHUP: the config file's peers, private key and listen port, applied
 * as wg syncconf does.  0 or -errno (logged). */
int peers_reload(struct gw *g);
/* The UAPI get answer (without errno=0). */
void peers_get(struct gw *g, struct sbuf *out);
/* The running config in gw run format (gw show IFACE conf). */
void peers_conf(struct gw *g, struct sbuf *out);
/* trace-info's peers: owner=N then its allowed_ip=CIDR lines. */
void peers_trace_info(struct gw *g, struct sbuf *out);

#endif
