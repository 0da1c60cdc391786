/* SPDX-License-Identifier: MIT */
/*
 * wg — a WireGuard device: our static identity, the peers (handshake,
 * keypairs, timers, cookie state, endpoint, staged packets, counters), the
 * receiver index table, the cookie checker, the handshake rate limiter and
 * the allowed-IPs table, driven by three events:
 *
 *   wg_receive  a datagram from the network  -> a decrypted IP packet (in
 *               place), a reply to the sender (in place), nothing, or a drop
 *   wg_send     an IP packet from the host    -> a data message (into the
 *               caller's buffer), staged behind a handshake, or a drop
 *   wg_tick     time passing                  -> retries, keepalives, rekeys,
 *               key zeroing
 *
 * Other datagrams the events cause (initiations, keepalives, staged packets
 * flushed when a handshake completes) go to the device's emit callback, each
 * addressed to a peer's endpoint; the callback copies them out before it
 * returns.  Endpoints are the caller's sockaddr bytes, opaque here: they are
 * compared, copied (roaming: the source of every authenticated packet) and
 * fed to the cookie MAC; the caller also fills the rate-limit key (the IPv4
 * address or the IPv6 /64).
 *
 * Pure (crypto/ rules): time is passed in (now: monotonic ns; wall: Unix ns
 * for TAI64N and "latest handshake"), no I/O.  Allocation happens in
 * wg_device_init, wg_device_reserve and wg_peer_create/add/allow only; the
 * packet path works in the caller's buffers and the per-peer staging slots
 * allocated up front.
 *
 * Peers change at runtime in two steps, so a caller can make a change all
 * or nothing: what can fail comes first (wg_device_reserve for room,
 * wg_peer_create for each new peer, a new allowed-IPs table built aside),
 * then what cannot (wg_peer_insert, wg_peer_remove, wg_device_swap_aips,
 * wg_peer_set_*).  A peer left alone keeps its keypairs and timers.
 */
#ifndef GW_CRYPTO_WG_H
#define GW_CRYPTO_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/allowedips.h"
#include "crypto/cookie.h"
#include "crypto/index.h"
#include "crypto/noise.h"
#include "crypto/ratelimit.h"
#include "crypto/session.h"
#include "crypto/timers.h"

enum {
	WG_ENDPOINT_MAX = 28, /* sizeof(struct sockaddr_in6) */
	WG_STAGED_MAX = 32,   /* packets held per peer while a handshake runs */
	WG_DEFAULT_MTU = 1420,
	WG_RATELIMIT_BUCKETS = 1024,
};

/* Why a datagram or packet was dropped: indexes dev->drops[]. */
enum wg_drop {
	WG_DROP_BAD_TYPE,        /* not a WireGuard message type */
	WG_DROP_BAD_LENGTH,      /* a known type of the wrong length */
	WG_DROP_MAC1,            /* bad mac1: wrong public key for us, or garbage */
	WG_DROP_COOKIE_SENT,     /* under load without mac2: answered with a cookie */
	WG_DROP_RATELIMITED,     /* under load, over the per-source handshake rate */
	WG_DROP_HANDSHAKE,       /* handshake failed to decrypt or to compute */
	WG_DROP_UNKNOWN_PEER,    /* a valid initiation from a static key we do not know */
	WG_DROP_TIMESTAMP,       /* replayed initiation (timestamp not newer) */
	WG_DROP_FLOOD,           /* initiations faster than 50/s from one peer */
	WG_DROP_UNKNOWN_INDEX,   /* receiver index not ours (or no longer) */
	WG_DROP_COOKIE_BAD,      /* cookie reply that does not authenticate */
	WG_DROP_KEY_EXPIRED,     /* data on a keypair past its limits */
	WG_DROP_DECRYPT,         /* data that does not authenticate */
	WG_DROP_REPLAY,          /* data counter seen before or too old */
	WG_DROP_BAD_INNER,       /* decrypted payload is not a whole IP packet */
	WG_DROP_ALLOWED_IPS,     /* inner source not in the sender's allowed IPs */
	WG_DROP_NO_PEER,         /* send: no peer's allowed IPs hold the destination */
	WG_DROP_NO_ENDPOINT,     /* send: the peer has no known endpoint */
	WG_DROP_TOO_BIG,         /* send: larger than the MTU or the caller's buffer */
	WG_DROP_STAGED_OVERFLOW, /* send: oldest staged packet pushed out */
	WG_DROP_GAVE_UP,         /* staged packets dropped when handshakes gave up */
	WG_DROP_HANDSHAKE_BUDGET, /* an initiation past the gate, over the caller's budget */
	WG_DROP__COUNT,
};

/* Short stable names ("mac1", "replay", ...), for stats. */
const char *wg_drop_name(enum wg_drop d);
/* True for the reasons a peer's drops[] can count (see struct wg_peer). */
bool wg_drop_is_peers(enum wg_drop d);

struct wg_endpoint {
	uint8_t addr[WG_ENDPOINT_MAX]; /* the caller's sockaddr; zero padded */
	uint8_t len;                   /* 0: none */
	uint8_t host[16];              /* rate-limit key */
	uint8_t host_len;
};

struct wg_device;

struct wg_peer {
	struct wg_device *dev;
	struct noise_handshake hs;
	struct session session;
	struct timers timers;
	struct cookie_maker cookie;
	struct wg_endpoint endpoint;
	uint32_t hs_index;      /* valid when hs_index_live: our index of an initiation in flight */
	bool hs_index_live;
	uint64_t rx_bytes, tx_bytes;   /* every datagram, as wg show counts */
	uint64_t last_handshake_wall;  /* Unix ns of the last completed handshake; 0 none */
	uint64_t handshakes_sent, handshakes_completed;
	uint16_t persistent_keepalive; /* seconds, 0 = off */
	/* the part of dev->drops this peer accounts for: its authenticated
	 * datagrams and packets (handshake, bad-inner, allowed-ips) and the
	 * packets to it (too-big, no-endpoint, staged-overflow, gave-up) */
	uint64_t drops[WG_DROP__COUNT];
	/* staged packets: a ring of WG_STAGED_MAX slots of dev->slot_size bytes,
	 * each holding the packet at MSG_DATA_HEADER_LEN so it encrypts in place */
	uint8_t *staged;
	uint16_t staged_len[WG_STAGED_MAX];
	unsigned staged_head, staged_count;
	void *user; /* the caller's */
};

/* Receives each datagram wg sends on its own; to: the peer's endpoint. */
typedef void wg_emit_fn(void *ctx, struct wg_peer *peer, const struct wg_endpoint *to,
			const uint8_t *dgram, size_t len);

struct wg_device {
	struct noise_keys keys;
	struct cookie_checker checker;
	struct ratelimit ratelimit;
	struct ratelimit_entry *rl_entries;
	struct index_table index;
	struct index_entry *index_slots;
	struct allowedips aips;
	struct wg_peer **peers;
	size_t npeers, max_peers;
	size_t mtu, slot_size;
	wg_emit_fn *emit;
	void *emit_ctx;
	uint64_t drops[WG_DROP__COUNT];
	uint64_t rx_packets, tx_packets;  /* data messages with a payload */
	uint64_t handshakes_received;     /* initiations answered */
	uint64_t cookies_received;
};

enum wg_rx_kind {
	WG_RX_NONE,   /* consumed (handshake, keepalive, cookie) */
	WG_RX_PACKET, /* data/len: an IP packet from peer, inside the datagram buffer */
	WG_RX_REPLY,  /* data/len: a datagram to send back to the source, in the buffer */
	WG_RX_DROP,   /* drop says why; counted in dev->drops */
};

struct wg_rx {
	enum wg_rx_kind kind;
	enum wg_drop drop;
	struct wg_peer *peer; /* the authenticated sender, when known */
	uint8_t *data;
	size_t len;
	size_t room;          /* WG_RX_PACKET: bytes writable after data[len] in
	                       * the message (its padding and spent tag) */
};

enum wg_tx_kind {
	WG_TX_DATA,   /* out/len: a data message for peer's endpoint */
	WG_TX_STAGED, /* held until the handshake completes */
	WG_TX_DROP,   /* drop says why (WG_DROP_NO_PEER: answer ICMP unreachable) */
};

struct wg_tx {
	enum wg_tx_kind kind;
	enum wg_drop drop;
	struct wg_peer *peer;
	size_t len;
};

/* Sets up a device with our private key, room for max_peers and a tunnel
 * MTU (0: 1420).  0, -EINVAL (key) or -ENOMEM; on error nothing is held. */
int wg_device_init(struct wg_device *dev, const uint8_t priv[static NOISE_PUBLIC_KEY_LEN],
		   size_t max_peers, size_t mtu, wg_emit_fn *emit, void *emit_ctx);
/* Wipes all key material and frees everything, peers included. */
void wg_device_destroy(struct wg_device *dev);

/* A new peer; psk may be NULL.  -EEXIST (same key, or our own), -ENOSPC or
 * -ENOMEM via *err; returns NULL on error. */
struct wg_peer *wg_peer_add(struct wg_device *dev, const uint8_t pub[static NOISE_PUBLIC_KEY_LEN],
			    const uint8_t *psk, uint16_t persistent_keepalive, int *err);
/* Room for max_peers peers (the peer list and the index table grow; a
 * smaller number changes nothing).  0 or -ENOMEM (nothing changed). */
int wg_device_reserve(struct wg_device *dev, size_t max_peers);
/* A new peer, not yet part of dev (wg_peer_insert, or wg_peer_free to drop
 * it); psk may be NULL.  NULL with -EEXIST (a peer of dev has this key, or
 * it is our own) or -ENOMEM via *err. */
struct wg_peer *wg_peer_create(struct wg_device *dev, const uint8_t pub[static NOISE_PUBLIC_KEY_LEN],
			       const uint8_t *psk, uint16_t persistent_keepalive, int *err);
/* Makes a created peer part of dev, last in dev->peers.  0 or -ENOSPC (no
 * room: wg_device_reserve first). */
int wg_peer_insert(struct wg_device *dev, struct wg_peer *peer);
/* Wipes and frees a created peer that was never inserted. */
void wg_peer_free(struct wg_device *dev, struct wg_peer *peer);
/* Takes peer out of dev: its prefixes leave the allowed-IPs table, its
 * receiver indices the index table, its keys and staged packets are wiped,
 * and it is freed.  The other peers keep their order. */
void wg_peer_remove(struct wg_device *dev, struct wg_peer *peer);
/* psk NULL: none (all zero).  A new psk takes effect at the next handshake;
 * the current keypairs stay. */
void wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk);
/* The persistent keepalive interval in seconds (0: off); turned on with an
 * endpoint known, a keepalive goes now (as wg set does). */
void wg_peer_set_keepalive(struct wg_device *dev, struct wg_peer *peer, uint16_t secs,
			   uint64_t now, uint64_t wall);
/* Our static key changes: every peer's keypairs, handshake in flight and
 * staged packets go (they were made with the old identity), the cookie
 * checker takes the new public key.  A peer with the new public key as its
 * own is the caller's to remove first.  0 or -EINVAL (a key whose public
 * key is a low-order point; nothing changed). */
int wg_device_set_private_key(struct wg_device *dev,
			      const uint8_t priv[static NOISE_PUBLIC_KEY_LEN]);
/* The allowed-IPs table becomes *t (built aside with allowedips_insert,
 * peers of dev only); the old one is freed.  *t is left empty. */
void wg_device_swap_aips(struct wg_device *dev, struct allowedips *t);
/* Adds an allowed prefix (family AF_INET / AF_INET6).  0 or -errno. */
int wg_peer_allow(struct wg_device *dev, struct wg_peer *peer, int family, const uint8_t *addr,
		  uint8_t cidr);
/* Removes one allowed prefix of peer.  0, -ENOENT (not peer's) or -EINVAL. */
int wg_peer_disallow(struct wg_device *dev, struct wg_peer *peer, int family, const uint8_t *addr,
		     uint8_t cidr);
void wg_peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep);
/* Brings a peer up: with a persistent keepalive and an endpoint, starts a
 * handshake now (as wg set does). */
void wg_peer_up(struct wg_device *dev, struct wg_peer *peer, uint64_t now, uint64_t wall);
/* The peer with this public key, or NULL. */
struct wg_peer *wg_peer_find(struct wg_device *dev, const uint8_t pub[static NOISE_PUBLIC_KEY_LEN]);

/* One datagram from src (len bytes in buf, which wg may rewrite: it holds
 * the packet or reply on return).  under_load: the caller's handshake load
 * signal (cookies, rate limiting). */
void wg_receive(struct wg_device *dev, uint64_t now, uint64_t wall,
		const struct wg_endpoint *src, uint8_t *buf, size_t len, bool under_load,
		struct wg_rx *rx);
/*
 * A data message in three steps, so that its AEAD runs while the device is
 * another thread's (gw's workers: the device's lock is held for begin and
 * end only).  begin: true when buf is a data message for a keypair that can
 * take it (o holds a copy of its key); otherwise wg_receive it as usual.
 * crypt: the AEAD alone, in place, touching no device state; the key copy
 * is wiped.  end: what wg_receive would have made of it (rx), the keypair
 * looked up again (gone meanwhile: dropped as an unknown index).
 */
struct wg_open {
	struct session_open op;
	int err;
};
bool wg_receive_begin(struct wg_device *dev, uint64_t now, const uint8_t *buf, size_t len,
		      struct wg_open *o);
void wg_open_crypt(struct wg_open *o, uint8_t *buf, size_t len);
void wg_receive_end(struct wg_device *dev, uint64_t now, uint64_t wall,
		    const struct wg_endpoint *src, uint8_t *buf, size_t len,
		    const struct wg_open *o, struct wg_rx *rx);
/*
 * An initiation in three steps, so that its Diffie-Hellman runs while the
 * device is another thread's (as the data steps above), and so the caller
 * can refuse the expensive part (a budget).  begin: true when buf is an
 * initiation that passed the gate (mac1; under load mac2, else a cookie
 * reply in rx; the per-source rate limiter) and now needs its Noise
 * computation, h holding a copy of our static key; false: rx says what
 * became of it (a drop, counted, or the cookie reply), or it is no
 * initiation at all (rx->kind WG_RX_NONE: wg_receive it).  crypt: the Noise
 * computation alone (two Diffie-Hellman), touching no device state; the key
 * copy is wiped.  end: what wg_receive would have made of it (rx; our key
 * changed meanwhile: dropped as a failed handshake); h is wiped.  A caller
 * that refuses an initiation after begin calls wg_handshake_drop.
 */
struct wg_handshake {
	struct noise_keys keys;
	struct noise_initiation in;
	int err;
};
bool wg_handshake_begin(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
			uint8_t *buf, size_t len, bool under_load, struct wg_handshake *h,
			struct wg_rx *rx);
void wg_handshake_crypt(struct wg_handshake *h, const uint8_t *buf, size_t len);
void wg_handshake_end(struct wg_device *dev, uint64_t now, uint64_t wall,
		      const struct wg_endpoint *src, uint8_t *buf, size_t len,
		      struct wg_handshake *h, struct wg_rx *rx);
/* Refuses a begun initiation: counted as why, h wiped. */
void wg_handshake_drop(struct wg_device *dev, struct wg_handshake *h, enum wg_drop why,
		       struct wg_rx *rx);
/* One IP packet from the host: routed by its destination, encrypted into
 * out (cap bytes; MSG_DATA_MIN_LEN + mtu suffices). */
void wg_send(struct wg_device *dev, uint64_t now, uint64_t wall, const uint8_t *pkt, size_t len,
	     uint8_t *out, size_t cap, struct wg_tx *tx);
/* wg_send, but a WG_TX_DATA message in out is not sealed yet when seal is
 * not NULL: session_seal(seal, out, tx->len) before it leaves (outside the
 * device's lock, as the open steps above). */
void wg_send_unsealed(struct wg_device *dev, uint64_t now, uint64_t wall, const uint8_t *pkt,
		      size_t len, uint8_t *out, size_t cap, struct wg_tx *tx,
		      struct session_seal *seal);
/* KeepState (gw/keep.h): peer->session's slots were filled from a saved
 * state, births in this run's clock.  Their local indices join the index
 * table (a keypair whose index is taken is wiped), key zeroing runs from
 * the newest birth, the handshake time from current's.  Returns the number
 * of keypairs kept. */
unsigned wg_peer_adopt_session(struct wg_device *dev, struct wg_peer *peer);
/* Runs every peer's due timers. */
void wg_tick(struct wg_device *dev, uint64_t now, uint64_t wall);
/* The earliest timer deadline of any peer, or 0 when none is armed. */
uint64_t wg_next_deadline(const struct wg_device *dev);

#endif
