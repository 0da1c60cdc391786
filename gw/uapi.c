/* SPDX-License-Identifier: MIT */
/* The UAPI set parser and the helpers of get: see uapi.h. */
#include "gw/uapi.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw/udp.h"
#include "nat/sbuf.h"

enum { LINE_MAX_LEN = 512 };

void uapi_key_hex(struct sbuf *out, const char *name, const uint8_t key[static KEY_LEN])
{
	char hex[KEY_LEN * 2 + 1];

	sodium_bin2hex(hex, sizeof(hex), key, KEY_LEN);
	sbuf_printf(out, "%s=%s\n", name, hex);
	sodium_memzero(hex, sizeof(hex));
}

/* 64 hex digits, either case. */
int uapi_key_from_hex(const char *v, uint8_t out[static KEY_LEN])
{
	size_t n;
	const char *end;

	if (strlen(v) != KEY_LEN * 2 ||
	    sodium_hex2bin(out, KEY_LEN, v, KEY_LEN * 2, NULL, &n, &end) || n != KEY_LEN ||
	    *end) {
		sodium_memzero(out, KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

/* A decimal number up to max: digits only, as Go's ParseUint(v, 10, n). */
static int parse_uint(const char *v, unsigned long long max, unsigned long long *out)
{
	unsigned long long n = 0;

	if (!*v)
		return -EINVAL;
	for (; *v; v++) {
		if (!isdigit((unsigned char)*v))
			return -EINVAL;
		n = n * 10 + (unsigned)(*v - '0');
		if (n > max)
			return -EINVAL;
	}
	*out = n;
	return 0;
}

static int parse_true(const char *v)
{
	return strcmp(v, "true") ? -EINVAL : 0;
}

void uapi_cidr_mask(struct cidr *c)
{
	unsigned bytes = c->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < 16; i++) {
		unsigned b = i * 8;

		if (i >= bytes || c->prefix <= b)
			c->addr[i] = 0;
		else if (c->prefix < b + 8)
			c->addr[i] &= (uint8_t)(0xff << (8 - (c->prefix - b)));
	}
}

/* ADDR/BITS, the prefix length required (netip.ParsePrefix). */
static int parse_prefix(const char *v, struct cidr *c)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(v, '/');
	unsigned long long bits;
	size_t n;

	memset(c, 0, sizeof(*c));
	if (!slash || (n = (size_t)(slash - v)) == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, c->addr) == 1)
		c->family = AF_INET6;
	else
		return -EINVAL;
	if (parse_uint(slash + 1, c->family == AF_INET ? 32 : 128, &bits) || strlen(slash + 1) > 3)
		return -EINVAL;
	c->prefix = (uint8_t)bits;
	uapi_cidr_mask(c);
	return 0;
}

/* IP:PORT or [IP6]:PORT, numeric (netip.ParseAddrPort); the endpoint and
 * its canonical text. */
static int parse_endpoint(const char *v, struct wg_endpoint *ep, char **text)
{
	char host[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN + 10];
	const char *port;
	unsigned long long p;
	uint8_t a[16];
	size_t n;
	int fam;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		n = (size_t)(close - v - 1);
		v++;
		port = close + 2;
		fam = AF_INET6;
	} else {
		const char *colon = strrchr(v, ':');

		if (!colon || memchr(v, ':', (size_t)(colon - v)))
			return -EINVAL;
		n = (size_t)(colon - v);
		port = colon + 1;
		fam = AF_INET;
	}
	if (!n || n >= sizeof(host) || parse_uint(port, 65535, &p))
		return -EINVAL;
	memcpy(host, v, n);
	host[n] = 0;
	if (inet_pton(fam, host, a) != 1)
		return -EINVAL;
	inet_ntop(fam, a, host, sizeof(host));
	snprintf(out, sizeof(out), fam == AF_INET ? "%s:%llu" : "[%s]:%llu", host, p);
	if (udp_endpoint_resolve(ep, out))
		return -EINVAL;
	*text = strdup(out);
	return *text ? 0 : -ENOMEM;
}

static int device_line(struct uapi_set *s, const char *k, const char *v)
{
	static const uint8_t zero[KEY_LEN];
	unsigned long long n;

	if (!strcmp(k, "private_key")) {
		if (uapi_key_from_hex(v, s->private_key))
			return -EINVAL;
		if (!sodium_memcmp(s->private_key, zero, KEY_LEN))
			return -EINVAL; /* gw always has a key: see uapi.h */
		s->has_private_key = true;
		return 0;
	}
	if (!strcmp(k, "listen_port")) {
		if (parse_uint(v, 65535, &n))
			return -EINVAL;
		s->has_listen_port = true;
		s->listen_port = (uint16_t)n;
		return 0;
	}
	if (!strcmp(k, "fwmark")) {
		if (parse_uint(v, UINT32_MAX, &n))
			return -EINVAL;
		s->has_fwmark = true;
		s->fwmark = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "replace_peers")) {
		if (parse_true(v))
			return -EINVAL;
		s->replace_peers = true;
		return 0;
	}
	return -EINVAL;
}

/* A line of the peer being set; dead: after its remove=true (checked, not
 * taken). */
static int peer_line(struct uapi_peer_op *op, bool dead, const char *k, const char *v)
{
	unsigned long long n;
	uint8_t key[KEY_LEN];
	struct wg_endpoint ep;
	struct cidr c;
	char *text = NULL;
	int ret = 0;

	if (!strcmp(k, "remove") || !strcmp(k, "update_only") ||
	    !strcmp(k, "replace_allowed_ips")) {
		if (parse_true(v))
			return -EINVAL;
		if (dead)
			return 0;
		if (!strcmp(k, "remove")) {
			op->remove = true;
		} else if (!strcmp(k, "update_only")) {
			op->update_only = true;
		} else {
			op->replace_aips = true;
			op->naips = 0;
		}
		return 0;
	}
	if (!strcmp(k, "preshared_key")) {
		ret = uapi_key_from_hex(v, key);
		if (!ret && !dead) {
			memcpy(op->psk, key, KEY_LEN);
			op->has_psk = true;
		}
		sodium_memzero(key, sizeof(key));
		return ret;
	}
	if (!strcmp(k, "endpoint")) {
		ret = parse_endpoint(v, &ep, &text);
		if (!ret && !dead) {
			free(op->endpoint_text);
			op->endpoint_text = text;
			op->endpoint = ep;
			op->has_endpoint = true;
			text = NULL;
		}
		free(text);
		return ret;
	}
	if (!strcmp(k, "persistent_keepalive_interval")) {
		if (parse_uint(v, 65535, &n))
			return -EINVAL;
		if (!dead) {
			op->has_keepalive = true;
			op->keepalive = (uint16_t)n;
		}
		return 0;
	}
	if (!strcmp(k, "allowed_ip")) {
		struct cidr *grown;

		if (parse_prefix(v, &c))
			return -EINVAL;
		if (dead)
			return 0;
		grown = realloc(op->aips, (op->naips + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		op->aips = grown;
		op->aips[op->naips++] = c;
		return 0;
	}
	if (!strcmp(k, "protocol_version"))
		return strcmp(v, "1") ? -EINVAL : 0;
	return -EINVAL;
}

void *uapi_secret_grow(void *p, size_t old_size, size_t new_size)
{
	void *q = malloc(new_size);

	if (!q)
		return NULL;
	if (p) {
		memcpy(q, p, old_size < new_size ? old_size : new_size);
		sodium_memzero(p, old_size);
		free(p);
	}
	return q;
}

static int new_peer(struct uapi_set *s, const char *v)
{
	struct uapi_peer_op *grown;
	uint8_t key[KEY_LEN];

	if (uapi_key_from_hex(v, key))
		return -EINVAL;
	grown = uapi_secret_grow(s->peers, s->npeers * sizeof(*grown),
				 (s->npeers + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->peers = grown;
	memset(&s->peers[s->npeers], 0, sizeof(*grown));
	memcpy(s->peers[s->npeers++].pub, key, KEY_LEN);
	return 0;
}

int uapi_parse_set(struct uapi_set *s, const char *text, size_t len, char *why, size_t wlen)
{
	char line[LINE_MAX_LEN + 1];
	size_t off = 0;
	unsigned lineno = 1;
	int ret = 0;

	line[0] = 0;
	memset(s, 0, sizeof(*s));
	while (off < len && !ret) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char *eq;

		if (n == 0)
			break; /* the empty line ends the operation */
		lineno++;
		if (n > LINE_MAX_LEN || memchr(text + off, 0, n)) {
			snprintf(why, wlen, "line %u: too long or a NUL byte", lineno);
			ret = -EINVAL;
			break;
		}
		memcpy(line, text + off, n);
		line[n] = 0;
		off += n + 1;
		eq = strchr(line, '=');
		if (!eq) {
			snprintf(why, wlen, "line %u: no '='", lineno);
			ret = -EPROTO;
			break;
		}
		*eq = 0;
		if (!strcmp(line, "public_key"))
			ret = new_peer(s, eq + 1);
		else if (!s->npeers)
			ret = device_line(s, line, eq + 1);
		else
			ret = peer_line(&s->peers[s->npeers - 1], s->peers[s->npeers - 1].remove,
					line, eq + 1);
		if (ret)
			snprintf(why, wlen, "line %u: %.32s: %s", lineno, line,
				 ret == -ENOMEM ? strerror(ENOMEM) : s->npeers ?
				 "not a peer key, or a bad value" : "not a device key, or a bad value");
	}
	sodium_memzero(line, sizeof(line));
	if (ret)
		uapi_set_free(s);
	return ret;
}

void uapi_set_free(struct uapi_set *s)
{
	for (size_t i = 0; i < s->npeers; i++) {
		free(s->peers[i].aips);
		free(s->peers[i].endpoint_text);
		sodium_memzero(&s->peers[i], sizeof(s->peers[i]));
	}
	free(s->peers);
	sodium_memzero(s, sizeof(*s));
}
