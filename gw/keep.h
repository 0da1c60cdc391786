/* SPDX-License-Identifier: MIT */
/*
 * keep — KeepState = PATH: a restart that keeps the connections.
 *
 * On SIGTERM gw writes its state to PATH: the conntrack table (NAT
 * mappings included: nat/ct_save.h), each peer's keypairs (keys, counters,
 * replay window, indices, ages), endpoint, counters and latest handshake,
 * and what it left on the host -- the uplink's tc filter and its share of
 * net.ipv4.ip_local_reserved_ports stay in place, so while no gw runs the
 * kernel answers none of the NAT-ed flows (a RST would end them).  The
 * next start reads the file, takes the filter and the ports over, deletes
 * the file once its setup went through (a start that fails before leaves
 * it to the next; nothing is sent with it before) and carries on: the peers' keypairs work at once (no handshake
 * unless they expired meanwhile), the connections keep their NAT ports.
 * Times are kept as what was left of them at writing; the downtime
 * (wall clock) is taken off at reading and what is past expires.  SIGINT
 * (and SIGTERM without KeepState) exits cleaning up as always.  SIGUSR2
 * writes the file the same way and re-executes gw in place instead of
 * exiting (gw/handover.h): the new image reads it back at once, the TUN
 * device and the sockets handed over; a failed exec deletes it again.
 *
 * The file (all integers little-endian):
 *   0   magic "gw-keep\n"
 *   8   u32 version (KEEP_VERSION)
 *   12  32 bytes: the public key of the PrivateKey that wrote it
 *   44  u64 Unix time of writing, ns
 *   52  u64 body length B
 *   60  body: sections, each u16 type, u16 zero, u32 length, payload
 *   60+B  32 bytes: BLAKE2b-256 (libsodium crypto_generichash) of bytes
 *       [0, 60+B), keyed with BLAKE2b-256("gw KeepState 1 mac") keyed
 *       with the private key: a file of another config's key, or changed
 *       in any byte, is refused
 * Sections (each at most once):
 *   KEEP_S_HOST  u8 tc filter left, u8 clsact qdisc ours, u16 pref, 16 bytes
 *                uplink name, u32 N, N x (u16 lo, u16 hi) reserved ports
 *   KEEP_S_PEER  one per peer: 32 public key, endpoint (u8 family 0/4/6,
 *                u16 port, 16 address bytes, u32 scope id), u64 latest
 *                handshake (Unix ns), u64 rx bytes, u64 tx bytes, u64
 *                handshakes sent, u64 completed, 12 greatest initiation
 *                timestamp, u8 K, K keypairs: u8 slot (0 current, 1
 *                previous, 2 next), u8 initiator, u32 local index, u32
 *                remote index, u64 age ns, u64 send counter, 32 send key,
 *                32 receive key, u64 replay last, 128 x u64 replay ring
 *   KEEP_S_CT    u32 record length (CT_SAVE_LEN), u32 owners N, N x (u16
 *                owner id, 32 public key), u32 records M, M records
 * The file is written to PATH.tmp with mode 0600 (the user gw runs as,
 * after User), synced and renamed over PATH; buffers holding keys are
 * wiped.  A file that is not one (magic, version, another key, length,
 * checksum, a section that does not parse, written in the future) is
 * refused with a log line naming why, and gw starts fresh.
 */
#ifndef GW_KEEP_H
#define GW_KEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw;
struct keep;

enum {
	KEEP_VERSION = 1,
	KEEP_HDR_LEN = 60,
	KEEP_MAC_LEN = 32,
	KEEP_S_HOST = 1,
	KEEP_S_PEER = 2,
	KEEP_S_CT = 3,
};

/* What a previous run left on the host (valid: a host section was read). */
struct keep_host {
	bool valid;
	bool tc_left, qdisc_ours;
	uint16_t pref;
	char uplink[16];
	uint8_t *ports;		/* SYSCTL_PORTMAP_BYTES: the ports it reserved, or NULL */
};

/* Checks buf[len] as a state file for the key pair (priv, pub) at Unix time
 * wall: 0 with *body, *body_len (the sections) and *written set, or -EINVAL
 * with *why saying what is wrong. */
int keep_verify(const uint8_t *buf, size_t len, const uint8_t priv[static 32],
		const uint8_t pub[static 32], uint64_t wall, const uint8_t **body,
		size_t *body_len, uint64_t *written, const char **why);
/* The MAC of buf[len] under priv (for keep_verify's tests and the writer). */
void keep_mac(const uint8_t *buf, size_t len, const uint8_t priv[static 32],
	      uint8_t mac[static KEEP_MAC_LEN]);

/* At start, before the uplink opens (peers added): with KeepState, reads
 * the file (a refused one is deleted; a good one by keep_commit); a good one's sessions go to the peers now, its
 * host part and conntrack wait in g->keep for keep_host / keep_ct.  0 (a
 * file refused is logged, not an error) or -ENOMEM. */
int keep_load(struct gw *g);
/* What the file says was left on the host, or NULL. */
const struct keep_host *keep_host(const struct gw *g);
/* Once conntrack exists: the saved entries into it. */
void keep_ct(struct gw *g);
/* Setup went through: the file read is deleted (before anything is sent
 * with its sessions: it is never read twice once they have been used), or
 * emptied.  0, or -errno (logged) when neither can be done: gw must not
 * start. */
int keep_commit(struct gw *g);
/* End of setup: what was read is wiped and freed. */
void keep_done(struct gw *g);
/* At SIGTERM's exit (workers stopped): writes the file.  0 (the uplink's
 * filters and ports are then left in place) or -errno (logged). */
int keep_save(struct gw *g);

#endif
