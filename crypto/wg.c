/* SPDX-License-Identifier: MIT */
/*
 * The device glue: which message goes to which state machine, and the
 * whitepaper's rules around them (wireguard-go device/receive.go, send.go,
 * timers.go):
 *   - mac1 first, then (under load) mac2 or a cookie reply, then the rate
 *     limiter, then any Diffie-Hellman;
 *   - every authenticated datagram moves the peer's endpoint (roaming) and
 *     feeds the timers; unauthenticated ones change nothing but counters;
 *   - packets for a peer without a sending keypair are staged and a
 *     handshake starts; they leave when the handshake completes (initiator)
 *     or the new keypair is confirmed (responder);
 *   - a decrypted packet must come from the sender's allowed IPs.
 * Receiver indices (index.h) map to the peer; kind tells whether the index
 * is a handshake in flight or a keypair (found with session_find).
 */
#include "crypto/wg.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { INDEX_HANDSHAKE = 1, INDEX_KEYPAIR = 2 };

static void zero_keys(struct wg_device *dev, struct wg_peer *peer);

static const char *const drop_names[WG_DROP__COUNT] = {
	[WG_DROP_BAD_TYPE] = "bad-type",
	[WG_DROP_BAD_LENGTH] = "bad-length",
	[WG_DROP_MAC1] = "mac1",
	[WG_DROP_COOKIE_SENT] = "cookie-sent",
	[WG_DROP_RATELIMITED] = "ratelimited",
	[WG_DROP_HANDSHAKE] = "handshake",
	[WG_DROP_UNKNOWN_PEER] = "unknown-peer",
	[WG_DROP_TIMESTAMP] = "timestamp",
	[WG_DROP_FLOOD] = "flood",
	[WG_DROP_UNKNOWN_INDEX] = "unknown-index",
	[WG_DROP_COOKIE_BAD] = "cookie-bad",
	[WG_DROP_KEY_EXPIRED] = "key-expired",
	[WG_DROP_DECRYPT] = "decrypt",
	[WG_DROP_REPLAY] = "replay",
	[WG_DROP_BAD_INNER] = "bad-inner",
	[WG_DROP_ALLOWED_IPS] = "allowed-ips",
	[WG_DROP_NO_PEER] = "no-peer",
	[WG_DROP_NO_ENDPOINT] = "no-endpoint",
	[WG_DROP_TOO_BIG] = "too-big",
	[WG_DROP_STAGED_OVERFLOW] = "staged-overflow",
	[WG_DROP_GAVE_UP] = "gave-up",
	[WG_DROP_HANDSHAKE_BUDGET] = "handshake-budget",
};

const char *wg_drop_name(enum wg_drop d)
{
	return (unsigned)d < WG_DROP__COUNT ? drop_names[d] : "?";
}

bool wg_drop_is_peers(enum wg_drop d)
{
	switch (d) {
	case WG_DROP_HANDSHAKE:
	case WG_DROP_BAD_INNER:
	case WG_DROP_ALLOWED_IPS:
	case WG_DROP_TOO_BIG:
	case WG_DROP_NO_ENDPOINT:
	case WG_DROP_STAGED_OVERFLOW:
	case WG_DROP_GAVE_UP:
		return true;
	default:
		return false;
	}
}

static uint32_t pow2_at_least(size_t n)
{
	uint32_t p = 16;

	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

int wg_device_init(struct wg_device *dev, const uint8_t priv[static NOISE_PUBLIC_KEY_LEN],
		   size_t max_peers, size_t mtu, wg_emit_fn *emit, void *emit_ctx)
{
	uint32_t nslots;
	int ret;

	memset(dev, 0, sizeof(*dev));
	if (!max_peers || max_peers > (1u << 20))
		return -EINVAL;
	ret = noise_keys_init(&dev->keys, priv);
	if (ret)
		goto fail;
	cookie_checker_init(&dev->checker, dev->keys.pub);
	dev->mtu = mtu ? mtu : WG_DEFAULT_MTU;
	dev->slot_size = MSG_DATA_MIN_LEN + dev->mtu;
	dev->emit = emit;
	dev->emit_ctx = emit_ctx;
	allowedips_init(&dev->aips);
	/* a handshake and three keypairs per peer, at most 3/4 full */
	nslots = pow2_at_least(max_peers * 4 * 4 / 3 + 1);
	ret = -ENOMEM;
	dev->index_slots = calloc(nslots, sizeof(*dev->index_slots));
	dev->rl_entries = calloc((size_t)WG_RATELIMIT_BUCKETS * RATELIMIT_WAYS,
				 sizeof(*dev->rl_entries));
	dev->peers = calloc(max_peers, sizeof(*dev->peers));
	if (!dev->index_slots || !dev->rl_entries || !dev->peers)
		goto fail;
	index_table_init(&dev->index, dev->index_slots, nslots);
	ratelimit_init(&dev->ratelimit, dev->rl_entries, WG_RATELIMIT_BUCKETS);
	dev->max_peers = max_peers;
	return 0;
fail:
	free(dev->index_slots);
	free(dev->rl_entries);
	free(dev->peers);
	sodium_memzero(dev, sizeof(*dev));
	return ret;
}

static void peer_free(struct wg_peer *peer, size_t slot_size)
{
	uint32_t dropped[3];

	session_clear(&peer->session, dropped);
	noise_handshake_destroy(&peer->hs);
	cookie_maker_destroy(&peer->cookie);
	if (peer->staged) {
		sodium_memzero(peer->staged, slot_size * WG_STAGED_MAX);
		free(peer->staged);
	}
	sodium_memzero(peer, sizeof(*peer));
	free(peer);
}

void wg_device_destroy(struct wg_device *dev)
{
	for (size_t i = 0; i < dev->npeers; i++)
		peer_free(dev->peers[i], dev->slot_size);
	allowedips_destroy(&dev->aips);
	cookie_checker_destroy(&dev->checker);
	free(dev->peers);
	free(dev->index_slots);
	free(dev->rl_entries);
	sodium_memzero(dev, sizeof(*dev));
}

struct wg_peer *wg_peer_find(struct wg_device *dev, const uint8_t pub[static NOISE_PUBLIC_KEY_LEN])
{
	struct wg_peer *found = NULL;

	/* every peer compared, in constant time each */
	for (size_t i = 0; i < dev->npeers; i++)
		if (sodium_memcmp(dev->peers[i]->hs.remote_static, pub, NOISE_PUBLIC_KEY_LEN) == 0)
			found = dev->peers[i];
	return found;
}

int wg_device_reserve(struct wg_device *dev, size_t max_peers)
{
	struct wg_peer **peers;
	struct index_entry *slots;
	struct index_table t;
	uint32_t nslots;

	if (max_peers <= dev->max_peers)
		return 0;
	if (max_peers > (1u << 20))
		return -ENOMEM;
	nslots = pow2_at_least(max_peers * 4 * 4 / 3 + 1);
	peers = calloc(max_peers, sizeof(*peers));
	slots = nslots > dev->index.mask + 1 ? calloc(nslots, sizeof(*slots)) : NULL;
	if (!peers || (nslots > dev->index.mask + 1 && !slots)) {
		free(peers);
		free(slots);
		return -ENOMEM;
	}
	memcpy(peers, dev->peers, dev->npeers * sizeof(*peers));
	free(dev->peers);
	dev->peers = peers;
	dev->max_peers = max_peers;
	if (!slots)
		return 0;
	/* every live index moves to the bigger table, under the same number */
	index_table_init(&t, slots, nslots);
	for (uint32_t i = 0; i <= dev->index.mask; i++) {
		const struct index_entry *e = &dev->index_slots[i];

		if (e->ptr)
			index_table_put(&t, e->index, e->ptr, e->kind);
	}
	sodium_memzero(dev->index_slots, (size_t)(dev->index.mask + 1) * sizeof(*slots));
	free(dev->index_slots);
	dev->index_slots = slots;
	dev->index = t;
	return 0;
}

struct wg_peer *wg_peer_create(struct wg_device *dev, const uint8_t pub[static NOISE_PUBLIC_KEY_LEN],
			       const uint8_t *psk, uint16_t persistent_keepalive, int *err)
{
	struct wg_peer *peer;

	if (wg_peer_find(dev, pub) ||
	    sodium_memcmp(pub, dev->keys.pub, NOISE_PUBLIC_KEY_LEN) == 0) {
		*err = -EEXIST;
		return NULL;
	}
	peer = calloc(1, sizeof(*peer));
	if (!peer || !(peer->staged = calloc(WG_STAGED_MAX, dev->slot_size))) {
		free(peer);
		*err = -ENOMEM;
		return NULL;
	}
	peer->dev = dev;
	noise_handshake_init(&peer->hs, pub, psk);
	session_init(&peer->session);
	timers_init(&peer->timers, (uint64_t)persistent_keepalive * NSEC_PER_SEC);
	cookie_maker_init(&peer->cookie, pub);
	peer->persistent_keepalive = persistent_keepalive;
	*err = 0;
	return peer;
}

int wg_peer_insert(struct wg_device *dev, struct wg_peer *peer)
{
	if (dev->npeers == dev->max_peers)
		return -ENOSPC;
	dev->peers[dev->npeers++] = peer;
	return 0;
}

void wg_peer_free(struct wg_device *dev, struct wg_peer *peer)
{
	peer_free(peer, dev->slot_size);
}

struct wg_peer *wg_peer_add(struct wg_device *dev, const uint8_t pub[static NOISE_PUBLIC_KEY_LEN],
			    const uint8_t *psk, uint16_t persistent_keepalive, int *err)
{
	struct wg_peer *peer;

	if (dev->npeers == dev->max_peers && !wg_peer_find(dev, pub)) {
		*err = -ENOSPC;
		return NULL;
	}
	peer = wg_peer_create(dev, pub, psk, persistent_keepalive, err);
	if (peer)
		wg_peer_insert(dev, peer);
	return peer;
}

int wg_peer_allow(struct wg_device *dev, struct wg_peer *peer, int family, const uint8_t *addr,
		  uint8_t cidr)
{
	return allowedips_insert(&dev->aips, family, addr, cidr, peer);
}

int wg_peer_disallow(struct wg_device *dev, struct wg_peer *peer, int family, const uint8_t *addr,
		     uint8_t cidr)
{
	return allowedips_remove(&dev->aips, family, addr, cidr, peer);
}

void wg_peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep)
{
	peer->endpoint = *ep;
}

void wg_device_swap_aips(struct wg_device *dev, struct allowedips *t)
{
	allowedips_destroy(&dev->aips);
	dev->aips = *t;
	allowedips_init(t);
}

/* Roaming: the endpoint follows the latest authenticated datagram. */
static void roam(struct wg_peer *peer, const struct wg_endpoint *src)
{
	if (src && src->len)
		peer->endpoint = *src;
}

static void emit(struct wg_device *dev, struct wg_peer *peer, const uint8_t *dgram, size_t len)
{
	peer->tx_bytes += len;
	if (dev->emit)
		dev->emit(dev->emit_ctx, peer, &peer->endpoint, dgram, len);
}

static void drop_indices(struct wg_device *dev, const uint32_t *idx, int n)
{
	for (int i = 0; i < n; i++)
		index_table_remove(&dev->index, idx[i]);
}

static void forget_handshake_index(struct wg_device *dev, struct wg_peer *peer)
{
	if (peer->hs_index_live) {
		index_table_remove(&dev->index, peer->hs_index);
		peer->hs_index_live = false;
	}
}

/* A new initiation to peer (timers permitting); retry keeps the count. */
static void send_initiation(struct wg_device *dev, struct wg_peer *peer, uint64_t now,
			    uint64_t wall, bool retry)
{
	struct msg_initiation msg;
	uint32_t idx;

	if (!peer->endpoint.len || !timers_initiation_begin(&peer->timers, now, retry))
		return;
	forget_handshake_index(dev, peer);
	if (index_table_add(&dev->index, peer, INDEX_HANDSHAKE, &idx))
		return;
	if (noise_create_initiation(&peer->hs, &dev->keys, idx, wall, &msg)) {
		index_table_remove(&dev->index, idx);
		return;
	}
	peer->hs_index = idx;
	peer->hs_index_live = true;
	cookie_add_macs(&peer->cookie, (uint8_t *)&msg, sizeof(msg), now);
	peer->handshakes_sent++;
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	timers_any_authenticated_packet_sent(&peer->timers, now);
	emit(dev, peer, (const uint8_t *)&msg, sizeof(msg));
}

/* Encrypts len bytes at out + MSG_DATA_HEADER_LEN (or from payload) into
 * out; the timers and counters of a sent data message.  0 or -ENOKEY. */
/* seal NULL: sealed here; else the caller seals (session_seal). */
static int encrypt_to(struct wg_device *dev, struct wg_peer *peer, uint64_t now, uint64_t wall,
		      const uint8_t *payload, size_t len, uint8_t *out, size_t *outlen,
		      struct session_seal *seal)
{
	unsigned flags;
	int ret = seal ? session_seal_begin(&peer->session, now, payload, len, dev->mtu, out,
					    outlen, &flags, seal)
		       : session_encrypt(&peer->session, now, payload, len, dev->mtu, out, outlen,
					 &flags);

	if (ret)
		return ret;
	peer->tx_bytes += *outlen;
	if (len) {
		dev->tx_packets++;
		timers_data_sent(&peer->timers, now);
	}
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	timers_any_authenticated_packet_sent(&peer->timers, now);
	if (flags & SESSION_WANT_REKEY)
		send_initiation(dev, peer, now, wall, false);
	return 0;
}

static int encrypt(struct wg_device *dev, struct wg_peer *peer, uint64_t now, uint64_t wall,
		   const uint8_t *payload, size_t len, uint8_t *out, size_t *outlen)
{
	return encrypt_to(dev, peer, now, wall, payload, len, out, outlen, NULL);
}

static void send_keepalive(struct wg_device *dev, struct wg_peer *peer, uint64_t now,
			   uint64_t wall)
{
	uint8_t msg[MSG_DATA_MIN_LEN];
	size_t len;

	if (!peer->endpoint.len)
		return;
	if (encrypt(dev, peer, now, wall, NULL, 0, msg, &len) == 0) {
		if (dev->emit)
			dev->emit(dev->emit_ctx, peer, &peer->endpoint, msg, len);
	} else {
		send_initiation(dev, peer, now, wall, false);
	}
}

/* Sends what waited for a keypair; returns how many left. */
static unsigned flush_staged(struct wg_device *dev, struct wg_peer *peer, uint64_t now,
			     uint64_t wall)
{
	unsigned sent = 0;

	while (peer->staged_count && peer->endpoint.len) {
		uint8_t *slot = peer->staged + (size_t)peer->staged_head * dev->slot_size;
		size_t len;

		if (encrypt(dev, peer, now, wall, slot + MSG_DATA_HEADER_LEN,
			    peer->staged_len[peer->staged_head], slot, &len))
			break;
		if (dev->emit)
			dev->emit(dev->emit_ctx, peer, &peer->endpoint, slot, len);
		sodium_memzero(slot, dev->slot_size);
		peer->staged_head = (peer->staged_head + 1) % WG_STAGED_MAX;
		peer->staged_count--;
		sent++;
	}
	return sent;
}

static void clear_staged(struct wg_device *dev, struct wg_peer *peer, bool count)
{
	if (count) {
		dev->drops[WG_DROP_GAVE_UP] += peer->staged_count;
		peer->drops[WG_DROP_GAVE_UP] += peer->staged_count;
	}
	sodium_memzero(peer->staged, dev->slot_size * WG_STAGED_MAX);
	peer->staged_head = peer->staged_count = 0;
}

void wg_peer_remove(struct wg_device *dev, struct wg_peer *peer)
{
	size_t i;

	for (i = 0; i < dev->npeers && dev->peers[i] != peer; i++)
		;
	if (i == dev->npeers)
		return;
	memmove(&dev->peers[i], &dev->peers[i + 1], (dev->npeers - i - 1) * sizeof(*dev->peers));
	dev->peers[--dev->npeers] = NULL;
	allowedips_remove_peer(&dev->aips, peer);
	zero_keys(dev, peer); /* its receiver indices leave the table */
	peer_free(peer, dev->slot_size);
}

void wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk)
{
	if (psk)
		memcpy(peer->hs.psk, psk, sizeof(peer->hs.psk));
	else
		sodium_memzero(peer->hs.psk, sizeof(peer->hs.psk));
}

void wg_peer_set_keepalive(struct wg_device *dev, struct wg_peer *peer, uint16_t secs,
			   uint64_t now, uint64_t wall)
{
	bool on = !peer->persistent_keepalive && secs;

	peer->persistent_keepalive = secs;
	peer->timers.persistent_interval = (uint64_t)secs * NSEC_PER_SEC;
	if (!secs)
		peer->timers.persistent = 0;
	if (on)
		wg_peer_up(dev, peer, now, wall);
}

int wg_device_set_private_key(struct wg_device *dev,
			      const uint8_t priv[static NOISE_PUBLIC_KEY_LEN])
{
	struct noise_keys keys;
	int ret = noise_keys_init(&keys, priv);

	if (ret)
		goto out;
	if (sodium_memcmp(keys.priv, dev->keys.priv, sizeof(keys.priv)) == 0)
		goto out; /* the same identity: nothing to redo */
	for (size_t i = 0; i < dev->npeers; i++) {
		zero_keys(dev, dev->peers[i]);
		timers_stop(&dev->peers[i]->timers);
	}
	cookie_checker_destroy(&dev->checker);
	dev->keys = keys;
	cookie_checker_init(&dev->checker, dev->keys.pub);
out:
	sodium_memzero(&keys, sizeof(keys));
	return ret;
}

void wg_peer_up(struct wg_device *dev, struct wg_peer *peer, uint64_t now, uint64_t wall)
{
	if (peer->persistent_keepalive && peer->endpoint.len)
		send_keepalive(dev, peer, now, wall);
}

/* The IP packet at p (up to len bytes, padding after it): its length, or 0
 * when it is no whole IPv4/IPv6 packet.  *family, *src, *dst set. */
static size_t ip_view(const uint8_t *p, size_t len, int *family, const uint8_t **src,
		      const uint8_t **dst)
{
	size_t tot;

	if (len < 1)
		return 0;
	switch (p[0] >> 4) {
	case 4:
		if (len < 20)
			return 0;
		tot = (size_t)p[2] << 8 | p[3];
		if (tot < 20 || tot > len || (size_t)(p[0] & 0xf) * 4 < 20)
			return 0;
		*family = AF_INET;
		*src = p + 12;
		*dst = p + 16;
		return tot;
	case 6:
		if (len < 40)
			return 0;
		tot = 40 + ((size_t)p[4] << 8 | p[5]);
		if (tot > len)
			return 0;
		*family = AF_INET6;
		*src = p + 8;
		*dst = p + 24;
		return tot;
	default:
		return 0;
	}
}

static void rx_drop(struct wg_device *dev, struct wg_rx *rx, enum wg_drop why)
{
	dev->drops[why]++;
	if (rx->peer)
		rx->peer->drops[why]++;
	rx->kind = WG_RX_DROP;
	rx->drop = why;
}

/* mac1, and under load mac2 / cookie reply / rate limit.  True: go on. */
static bool handshake_gate(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
			   uint8_t *buf, size_t len, bool under_load, uint32_t sender,
			   struct wg_rx *rx)
{
	enum cookie_result cr = cookie_check(&dev->checker, buf, len, src->addr, src->len, now);

	if (cr == COOKIE_MAC1_INVALID) {
		rx_drop(dev, rx, WG_DROP_MAC1);
		return false;
	}
	if (!under_load)
		return true;
	if (cr != COOKIE_MAC2_VALID) {
		struct msg_cookie_reply reply;

		cookie_create_reply(&dev->checker, buf, len, sender, src->addr, src->len, now,
				    &reply);
		memcpy(buf, &reply, sizeof(reply));
		dev->drops[WG_DROP_COOKIE_SENT]++;
		rx->kind = WG_RX_REPLY;
		rx->drop = WG_DROP_COOKIE_SENT;
		rx->data = buf;
		rx->len = sizeof(reply);
		return false;
	}
	if (!ratelimit_allow(&dev->ratelimit, src->host, src->host_len ? src->host_len : src->len,
			     now)) {
		rx_drop(dev, rx, WG_DROP_RATELIMITED);
		return false;
	}
	return true;
}

bool wg_handshake_begin(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
			uint8_t *buf, size_t len, bool under_load, struct wg_handshake *h,
			struct wg_rx *rx)
{
	const struct msg_initiation *msg = (const struct msg_initiation *)buf;

	*rx = (struct wg_rx){ .kind = WG_RX_NONE };
	if (msg_classify(buf, len) != MSG_INITIATION)
		return false;
	if (!handshake_gate(dev, now, src, buf, len, under_load, msg_get_le32(msg->sender), rx))
		return false;
	h->keys = dev->keys;
	h->err = 0;
	return true;
}

void wg_handshake_crypt(struct wg_handshake *h, const uint8_t *buf, size_t len)
{
	(void)len; /* classified as an initiation: exactly its length */
	h->err = noise_consume_initiation(&h->keys, (const struct msg_initiation *)buf, &h->in);
	sodium_memzero(h->keys.priv, sizeof(h->keys.priv));
}

void wg_handshake_drop(struct wg_device *dev, struct wg_handshake *h, enum wg_drop why,
		       struct wg_rx *rx)
{
	sodium_memzero(h, sizeof(*h));
	*rx = (struct wg_rx){ .kind = WG_RX_NONE };
	rx_drop(dev, rx, why);
}

void wg_handshake_end(struct wg_device *dev, uint64_t now, uint64_t wall,
		      const struct wg_endpoint *src, uint8_t *buf, size_t len,
		      struct wg_handshake *h, struct wg_rx *rx)
{
	struct msg_response resp;
	struct noise_session_keys keys = { 0 };
	struct wg_peer *peer;
	uint32_t idx, dropped[3];
	int ret, n;

	(void)wall;
	*rx = (struct wg_rx){ .kind = WG_RX_NONE };
	/* our identity changed while it was computed: made for the old one */
	if (h->err || sodium_memcmp(h->keys.pub, dev->keys.pub, sizeof(h->keys.pub))) {
		rx_drop(dev, rx, WG_DROP_HANDSHAKE);
		goto out;
	}
	peer = wg_peer_find(dev, h->in.remote_static);
	if (!peer) {
		rx_drop(dev, rx, WG_DROP_UNKNOWN_PEER);
		goto out;
	}
	ret = noise_accept_initiation(&peer->hs, &h->in, now); /* wipes in */
	if (ret) {
		rx_drop(dev, rx, ret == -EALREADY ? WG_DROP_TIMESTAMP :
				 ret == -EBUSY ? WG_DROP_FLOOD : WG_DROP_HANDSHAKE);
		goto out;
	}
	/* authenticated from here on */
	rx->peer = peer;
	peer->rx_bytes += len;
	roam(peer, src);
	forget_handshake_index(dev, peer);
	if (index_table_add(&dev->index, peer, INDEX_KEYPAIR, &idx)) {
		noise_handshake_clear(&peer->hs);
		rx_drop(dev, rx, WG_DROP_HANDSHAKE);
		goto out;
	}
	if (noise_create_response(&peer->hs, idx, &resp) ||
	    noise_derive_keys(&peer->hs, &keys)) {
		index_table_remove(&dev->index, idx);
		noise_handshake_clear(&peer->hs);
		rx_drop(dev, rx, WG_DROP_HANDSHAKE);
		goto out;
	}
	n = session_install(&peer->session, &keys, now, dropped);
	drop_indices(dev, dropped, n);
	dev->handshakes_received++;
	timers_session_derived(&peer->timers, now);
	timers_any_authenticated_packet_received(&peer->timers, now);
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	timers_any_authenticated_packet_sent(&peer->timers, now);
	cookie_add_macs(&peer->cookie, (uint8_t *)&resp, sizeof(resp), now);
	memcpy(buf, &resp, sizeof(resp));
	peer->tx_bytes += sizeof(resp);
	rx->kind = WG_RX_REPLY;
	rx->data = buf;
	rx->len = sizeof(resp);
out:
	sodium_memzero(&keys, sizeof(keys));
	sodium_memzero(h, sizeof(*h));
}

static void receive_initiation(struct wg_device *dev, uint64_t now, uint64_t wall,
			       const struct wg_endpoint *src, uint8_t *buf, size_t len,
			       bool under_load, struct wg_rx *rx)
{
	struct wg_handshake h;

	if (!wg_handshake_begin(dev, now, src, buf, len, under_load, &h, rx))
		return;
	wg_handshake_crypt(&h, buf, len);
	wg_handshake_end(dev, now, wall, src, buf, len, &h, rx);
}

static struct wg_peer *peer_of_index(struct wg_device *dev, uint32_t index, uint32_t kind)
{
	const struct index_entry *e = index_table_lookup(&dev->index, index);

	return e && (!kind || e->kind == kind) ? e->ptr : NULL;
}

static void receive_response(struct wg_device *dev, uint64_t now, uint64_t wall,
			     const struct wg_endpoint *src, uint8_t *buf, size_t len,
			     bool under_load, struct wg_rx *rx)
{
	const struct msg_response *msg = (const struct msg_response *)buf;
	struct noise_session_keys keys;
	struct wg_peer *peer;
	uint32_t dropped[3];
	int n;

	if (!handshake_gate(dev, now, src, buf, len, under_load, msg_get_le32(msg->sender), rx))
		return;
	peer = peer_of_index(dev, msg_get_le32(msg->receiver), INDEX_HANDSHAKE);
	if (!peer) {
		rx_drop(dev, rx, WG_DROP_UNKNOWN_INDEX);
		return;
	}
	if (noise_consume_response(&peer->hs, &dev->keys, msg) ||
	    noise_derive_keys(&peer->hs, &keys)) {
		rx_drop(dev, rx, WG_DROP_HANDSHAKE);
		return;
	}
	rx->peer = peer;
	peer->rx_bytes += len;
	roam(peer, src);
	/* the handshake's index becomes the keypair's */
	index_table_replace(&dev->index, peer->hs_index, peer, INDEX_KEYPAIR);
	peer->hs_index_live = false;
	n = session_install(&peer->session, &keys, now, dropped);
	sodium_memzero(&keys, sizeof(keys));
	drop_indices(dev, dropped, n);
	peer->handshakes_completed++;
	peer->last_handshake_wall = wall;
	timers_session_derived(&peer->timers, now);
	timers_handshake_complete(&peer->timers, now);
	timers_any_authenticated_packet_received(&peer->timers, now);
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	/* the responder needs a data message to confirm the keypair */
	if (!flush_staged(dev, peer, now, wall))
		send_keepalive(dev, peer, now, wall);
	rx->kind = WG_RX_NONE;
}

static void receive_cookie(struct wg_device *dev, uint64_t now, uint8_t *buf,
			   struct wg_rx *rx)
{
	const struct msg_cookie_reply *msg = (const struct msg_cookie_reply *)buf;
	struct wg_peer *peer = peer_of_index(dev, msg_get_le32(msg->receiver), 0);

	if (!peer) {
		rx_drop(dev, rx, WG_DROP_UNKNOWN_INDEX);
		return;
	}
	if (cookie_consume_reply(&peer->cookie, msg, now)) {
		rx_drop(dev, rx, WG_DROP_COOKIE_BAD);
		return;
	}
	dev->cookies_received++;
	rx->kind = WG_RX_NONE;
}

static enum wg_drop open_drop(int err)
{
	return err == -ENOKEY ? WG_DROP_UNKNOWN_INDEX : err == -EKEYEXPIRED ? WG_DROP_KEY_EXPIRED :
	       err == -EALREADY ? WG_DROP_REPLAY : WG_DROP_DECRYPT;
}

bool wg_receive_begin(struct wg_device *dev, uint64_t now, const uint8_t *buf, size_t len,
		      struct wg_open *o)
{
	const struct msg_data *msg = (const struct msg_data *)buf;
	struct wg_peer *peer;

	if (msg_classify(buf, len) != MSG_DATA)
		return false;
	peer = peer_of_index(dev, msg_get_le32(msg->receiver), INDEX_KEYPAIR);
	if (!peer || session_open_begin(&peer->session, now, buf, len, &o->op))
		return false; /* wg_receive drops it, counted */
	o->err = 0;
	return true;
}

void wg_open_crypt(struct wg_open *o, uint8_t *buf, size_t len)
{
	o->err = session_open_crypt(&o->op, buf, len, buf + MSG_DATA_HEADER_LEN);
}

void wg_receive_end(struct wg_device *dev, uint64_t now, uint64_t wall,
		    const struct wg_endpoint *src, uint8_t *buf, size_t len,
		    const struct wg_open *o, struct wg_rx *rx)
{
	struct wg_peer *peer = peer_of_index(dev, o->op.local_index, INDEX_KEYPAIR);
	uint8_t *pt = buf + MSG_DATA_HEADER_LEN;
	const uint8_t *isrc, *idst;
	struct session_rx srx;
	size_t ilen;
	int family, ret;

	*rx = (struct wg_rx){ .kind = WG_RX_NONE };
	if (!peer) {
		rx_drop(dev, rx, WG_DROP_UNKNOWN_INDEX);
		return;
	}
	ret = o->err ? o->err : session_open_end(&peer->session, now, &o->op, len, &srx);
	if (ret) {
		rx_drop(dev, rx, open_drop(ret));
		return;
	}
	rx->peer = peer;
	peer->rx_bytes += len;
	roam(peer, src);
	if (srx.flags & SESSION_DROPPED)
		index_table_remove(&dev->index, srx.dropped_index);
	timers_any_authenticated_packet_received(&peer->timers, now);
	timers_any_authenticated_packet_traversal(&peer->timers, now);
	if (srx.flags & SESSION_CONFIRMED) {
		peer->handshakes_completed++;
		peer->last_handshake_wall = wall;
		timers_handshake_complete(&peer->timers, now);
		flush_staged(dev, peer, now, wall);
	}
	if ((srx.flags & SESSION_REKEY_RECV) && timers_want_last_minute_handshake(&peer->timers))
		send_initiation(dev, peer, now, wall, false);
	rx->kind = WG_RX_NONE;
	if (srx.flags & SESSION_KEEPALIVE)
		return;
	timers_data_received(&peer->timers, now);
	ilen = ip_view(pt, srx.len, &family, &isrc, &idst);
	if (!ilen) {
		rx_drop(dev, rx, WG_DROP_BAD_INNER);
		return;
	}
	if (allowedips_lookup(&dev->aips, family, isrc) != peer) {
		rx_drop(dev, rx, WG_DROP_ALLOWED_IPS);
		return;
	}
	dev->rx_packets++;
	rx->kind = WG_RX_PACKET;
	rx->data = pt;
	rx->len = ilen;
	rx->room = srx.len - ilen + NOISE_TAG_LEN;
}

static void receive_data(struct wg_device *dev, uint64_t now, uint64_t wall,
			 const struct wg_endpoint *src, uint8_t *buf, size_t len,
			 struct wg_rx *rx)
{
	const struct msg_data *msg = (const struct msg_data *)buf;
	struct wg_peer *peer = peer_of_index(dev, msg_get_le32(msg->receiver), INDEX_KEYPAIR);
	struct wg_open o;
	int ret;

	if (!peer) {
		rx_drop(dev, rx, WG_DROP_UNKNOWN_INDEX);
		return;
	}
	ret = session_open_begin(&peer->session, now, buf, len, &o.op);
	if (ret) {
		rx_drop(dev, rx, open_drop(ret));
		return;
	}
	wg_open_crypt(&o, buf, len);
	wg_receive_end(dev, now, wall, src, buf, len, &o, rx);
}

void wg_receive(struct wg_device *dev, uint64_t now, uint64_t wall,
		const struct wg_endpoint *src, uint8_t *buf, size_t len, bool under_load,
		struct wg_rx *rx)
{
	*rx = (struct wg_rx){ .kind = WG_RX_NONE };
	switch (msg_classify(buf, len)) {
	case MSG_INITIATION:
		receive_initiation(dev, now, wall, src, buf, len, under_load, rx);
		break;
	case MSG_RESPONSE:
		receive_response(dev, now, wall, src, buf, len, under_load, rx);
		break;
	case MSG_COOKIE_REPLY:
		receive_cookie(dev, now, buf, rx);
		break;
	case MSG_DATA:
		receive_data(dev, now, wall, src, buf, len, rx);
		break;
	default:
		if (len >= 4 && buf[0] >= MSG_INITIATION && buf[0] <= MSG_DATA && !buf[1] &&
		    !buf[2] && !buf[3])
			rx_drop(dev, rx, WG_DROP_BAD_LENGTH);
		else
			rx_drop(dev, rx, WG_DROP_BAD_TYPE);
		break;
	}
}

static void tx_drop(struct wg_device *dev, struct wg_tx *tx, enum wg_drop why)
{
	dev->drops[why]++;
	if (tx->peer)
		tx->peer->drops[why]++;
	tx->kind = WG_TX_DROP;
	tx->drop = why;
}

void wg_send(struct wg_device *dev, uint64_t now, uint64_t wall, const uint8_t *pkt, size_t len,
	     uint8_t *out, size_t cap, struct wg_tx *tx)
{
	wg_send_unsealed(dev, now, wall, pkt, len, out, cap, tx, NULL);
}

void wg_send_unsealed(struct wg_device *dev, uint64_t now, uint64_t wall, const uint8_t *pkt,
		      size_t len, uint8_t *out, size_t cap, struct wg_tx *tx,
		      struct session_seal *seal)
{
	const uint8_t *isrc, *idst;
	struct wg_peer *peer;
	int family;
	size_t ilen;

	*tx = (struct wg_tx){ .kind = WG_TX_DROP };
	ilen = ip_view(pkt, len, &family, &isrc, &idst);
	if (!ilen || ilen != len) {
		tx_drop(dev, tx, WG_DROP_BAD_INNER);
		return;
	}
	peer = allowedips_lookup(&dev->aips, family, idst);
	if (!peer) {
		tx_drop(dev, tx, WG_DROP_NO_PEER);
		return;
	}
	tx->peer = peer;
	if (len > dev->mtu || cap < session_data_len(len, dev->mtu)) {
		tx_drop(dev, tx, WG_DROP_TOO_BIG);
		return;
	}
	if (!peer->endpoint.len) {
		tx_drop(dev, tx, WG_DROP_NO_ENDPOINT);
		return;
	}
	/* order: whatever waited goes first */
	if (peer->staged_count)
		flush_staged(dev, peer, now, wall);
	if (!peer->staged_count &&
	    encrypt_to(dev, peer, now, wall, pkt, len, out, &tx->len, seal) == 0) {
		tx->kind = WG_TX_DATA;
		return;
	}
	if (peer->staged_count == WG_STAGED_MAX) {
		/* the oldest goes, as the kernel and wireguard-go do */
		peer->staged_head = (peer->staged_head + 1) % WG_STAGED_MAX;
		peer->staged_count--;
		dev->drops[WG_DROP_STAGED_OVERFLOW]++;
		peer->drops[WG_DROP_STAGED_OVERFLOW]++;
	}
	unsigned slot = (peer->staged_head + peer->staged_count) % WG_STAGED_MAX;

	memcpy(peer->staged + (size_t)slot * dev->slot_size + MSG_DATA_HEADER_LEN, pkt, len);
	peer->staged_len[slot] = (uint16_t)len;
	peer->staged_count++;
	tx->kind = WG_TX_STAGED;
	send_initiation(dev, peer, now, wall, false);
}

static void zero_keys(struct wg_device *dev, struct wg_peer *peer)
{
	uint32_t dropped[3];
	int n = session_clear(&peer->session, dropped);

	drop_indices(dev, dropped, n);
	forget_handshake_index(dev, peer);
	noise_handshake_clear(&peer->hs);
	clear_staged(dev, peer, false);
}

unsigned wg_peer_adopt_session(struct wg_device *dev, struct wg_peer *peer)
{
	struct keypair *slots[3] = { &peer->session.current, &peer->session.previous,
				     &peer->session.next };
	uint64_t newest = 0;
	unsigned kept = 0;

	for (unsigned i = 0; i < 3; i++) {
		struct keypair *kp = slots[i];

		if (!kp->valid)
			continue;
		if (index_table_put(&dev->index, kp->local_index, peer, INDEX_KEYPAIR)) {
			sodium_memzero(kp, sizeof(*kp));
			continue;
		}
		if (!kept++ || kp->birth > newest)
			newest = kp->birth;
	}
	if (kept)
		timers_session_derived(&peer->timers, newest);
	if (peer->session.current.valid)
		peer->timers.last_handshake = peer->session.current.birth;
	return kept;
}

void wg_tick(struct wg_device *dev, uint64_t now, uint64_t wall)
{
	for (size_t i = 0; i < dev->npeers; i++) {
		struct wg_peer *peer = dev->peers[i];
		bool retry = peer->timers.retransmit && peer->timers.retransmit <= now;
		unsigned act = timers_tick(&peer->timers, now);

		if (act & TIMER_GIVE_UP) {
			clear_staged(dev, peer, true);
			forget_handshake_index(dev, peer);
			noise_handshake_clear(&peer->hs);
		}
		if (act & TIMER_SEND_INITIATION)
			send_initiation(dev, peer, now, wall, retry);
		if (act & TIMER_SEND_KEEPALIVE)
			send_keepalive(dev, peer, now, wall);
		if (act & TIMER_ZERO_KEYS)
			zero_keys(dev, peer);
	}
}

uint64_t wg_next_deadline(const struct wg_device *dev)
{
	uint64_t min = 0;

	for (size_t i = 0; i < dev->npeers; i++) {
		uint64_t d = timers_next_deadline(&dev->peers[i]->timers);

		if (d && (!min || d < min))
			min = d;
	}
	return min;
}
