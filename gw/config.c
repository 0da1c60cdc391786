/* SPDX-License-Identifier: MIT */
/*
 * The config file: [Interface] and [Peer] sections of Key = Value lines, '#'
 * comments, keys case-insensitive as wg(8) reads them.  Single-valued keys may
 * appear once per section; Address and AllowedIPs accumulate.
 */
#include "gw/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw/log.h"
#include "gw/wgquick.h"
#include "nat/sbuf.h"

enum { CONFIG_MAX_BYTES = 1 << 20, KEY_FILE_MAX = 256 };

enum section { SEC_NONE, SEC_INTERFACE, SEC_PEER };

struct parser {
	struct config *c;
	const char *path;
	unsigned line;
	enum section sec;
	uint32_t seen;             /* single-valued keys seen in this section */
	struct sbuf *warn;
	struct config_error *err;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct parser *p, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err->message, sizeof(p->err->message), "%s:%u: %s", p->path, p->line, msg);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_u16(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out, uint32_t max)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int cidr_parse(const char *s, struct cidr *c)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	uint16_t prefix;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		c->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		c->prefix = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		if (parse_u16(slash, &prefix) || prefix > c->prefix)
			return -EINVAL;
		c->prefix = (uint8_t)prefix;
	}
	return 0;
}

void cidr_format(const struct cidr *c, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->addr, a, sizeof(a));
	snprintf(out, len, "%s/%u", a, c->prefix);
}

uint32_t cidr_addr4(const struct cidr *c)
{
	return (uint32_t)c->addr[0] << 24 | (uint32_t)c->addr[1] << 16 |
	       (uint32_t)c->addr[2] << 8 | c->addr[3];
}

bool cidr_contains4(const struct cidr *c, uint32_t addr)
{
	uint32_t net, mask;

	if (c->family != AF_INET)
		return false;
	net = cidr_addr4(c);
	mask = c->prefix ? ~0u << (32 - c->prefix) : 0;
	return (net & mask) == (addr & mask);
}

/* A comma-separated list of CIDRs appended to *list. */
static int add_cidrs(struct parser *p, const char *key, char *val,
		     struct cidr **list, size_t *n)
{
	char *save = NULL, *tok;

	for (tok = strtok_r(val, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct cidr c, *grown;

		tok = trim(tok);
		if (!*tok)
			continue;
		if (cidr_parse(tok, &c))
			return fail(p, "%s: '%s' is not an address or CIDR", key, tok);
		grown = realloc(*list, (*n + 1) * sizeof(**list));
		if (!grown)
			return fail(p, "out of memory");
		*list = grown;
		(*list)[(*n)++] = c;
	}
	return 0;
}

static int parse_key(struct parser *p, const char *key, const char *val, uint8_t out[static KEY_LEN])
{
	if (key_from_base64(out, val, strlen(val)))
		return fail(p, "%s: not a key (44 base64 characters, as wg genkey prints)", key);
	return 0;
}

/* path as a file name: a relative one is relative to the config's directory
 * (as Rules is). */
static void rel_path(const struct parser *p, const char *path, char *out, size_t len)
{
	const char *slash = strrchr(p->path, '/');

	if (path[0] == '/' || !slash)
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%.*s/%s", (int)(slash - p->path), p->path, path);
}

/* PrivateKeyFile / PresharedKeyFile: one base64 key, trailing blanks and
 * newline allowed, as wg set private-key FILE reads it. */
static int key_file(struct parser *p, const char *key, const char *val,
		    uint8_t out[static KEY_LEN])
{
	char path[PATH_MAX], buf[KEY_FILE_MAX];
	struct stat st;
	size_t got = 0;
	ssize_t n = 0;
	int fd, ret = 0;

	rel_path(p, val, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* a FIFO: no wait */
	if (fd < 0)
		return fail(p, "%s: %s: %s", key, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(p, "%s: %s: not a regular file", key, path);
	}
	while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (n < 0) {
		ret = fail(p, "%s: %s: %s", key, path, strerror(errno));
		goto out;
	}
	while (got && isspace((unsigned char)buf[got - 1]))
		got--;
	if (key_from_base64(out, buf, got)) {
		ret = fail(p, "%s: %s does not hold a key (44 base64 characters, as wg genkey "
			   "prints)", key, path);
		goto out;
	}
	{
		char **grown = realloc(p->c->key_files, (p->c->n_key_files + 1) * sizeof(*grown));

		if (!grown || !(grown[p->c->n_key_files] = strdup(path))) {
			if (grown)
				p->c->key_files = grown;
			ret = fail(p, "out of memory");
			goto out;
		}
		p->c->key_files = grown;
		p->c->n_key_files++;
	}
out:
	sodium_memzero(buf, sizeof(buf));
	return ret;
}

static int parse_ifname(struct parser *p, const char *key, const char *val, char out[16])
{
	size_t n = strlen(val);

	if (!n || n >= 16 || strchr(val, '/') || strpbrk(val, " \t:"))
		return fail(p, "%s: '%s' is not an interface name", key, val);
	memcpy(out, val, n + 1);
	return 0;
}

static int dup_str(struct parser *p, char **out, const char *val)
{
	*out = strdup(val);
	return *out ? 0 : fail(p, "out of memory");
}

static int parse_endpoint(struct parser *p, const char *val, char **out)
{
	const char *colon;
	uint16_t port;

	if (val[0] == '[') {
		const char *close = strchr(val, ']');

		if (!close || close[1] != ':')
			return fail(p, "Endpoint: '%s' is not [address]:port", val);
		colon = close + 1;
	} else {
		colon = strrchr(val, ':');
		if (!colon || colon == val)
			return fail(p, "Endpoint: '%s' is not host:port", val);
	}
	if (parse_u16(colon + 1, &port) || !port)
		return fail(p, "Endpoint: '%s' has no valid port", val);
	return dup_str(p, out, val);
}

/* Keys of wg-quick (and wg) that gw reads but does not act on. */
static const char *const unimplemented[] = {
	"DNS", "Table", "PreUp", "PostUp", "PreDown", "PostDown", "SaveConfig",
};

enum {
	K_PRIVATE = 1 << 0, K_PORT = 1 << 1, K_UPLINK = 1 << 2, K_RULES = 1 << 3,
	K_NATPORTS = 1 << 4, K_USER = 1 << 5, K_CTL = 1 << 6, K_MTU = 1 << 7,
	K_IPV6 = 1 << 12,
	K_PUBLIC = 1 << 8, K_PSK = 1 << 9, K_ENDPOINT = 1 << 10, K_KEEPALIVE = 1 << 11,
	K_CTMAX = 1 << 13, K_PEERCTMAX = 1 << 14,
	K_PRIVATE_FILE = 1 << 15, K_PSK_FILE = 1 << 16, K_UAPI = 1 << 17, K_FWMARK = 1 << 18,
	K_LOGLEVEL = 1 << 19,
	K_WORKERS = 1 << 20,
	K_RULES6 = 1 << 21,
	K_KEEPSTATE = 1 << 22,
};

static int once(struct parser *p, const char *key, uint32_t bit)
{
	if (p->seen & bit)
		return fail(p, "%s is given twice in this section", key);
	p->seen |= bit;
	return 0;
}

static int interface_key(struct parser *p, const char *key, char *val)
{
	struct config *c = p->c;

	if (!strcasecmp(key, "PrivateKey") || !strcasecmp(key, "PrivateKeyFile")) {
		bool file = !strcasecmp(key, "PrivateKeyFile");

		if ((p->seen & K_PRIVATE) && (p->seen & K_PRIVATE_FILE) != (file ? K_PRIVATE_FILE : 0))
			return fail(p, "PrivateKey and PrivateKeyFile are both given: keep one");
		if (once(p, file ? "PrivateKeyFile" : "PrivateKey", K_PRIVATE))
			return -EINVAL;
		c->has_private_key = true;
		if (!file) {
			c->secrets_inline = true;
			return parse_key(p, key, val, c->private_key);
		}
		p->seen |= K_PRIVATE_FILE;
		return key_file(p, "PrivateKeyFile", val, c->private_key);
	}
	if (!strcasecmp(key, "ListenPort")) {
		if (once(p, key, K_PORT))
			return -EINVAL;
		if (parse_u16(val, &c->listen_port))
			return fail(p, "ListenPort: '%s' is not a port (0-65535)", val);
		c->has_listen_port = true;
		return 0;
	}
	if (!strcasecmp(key, "Address"))
		return add_cidrs(p, key, val, &c->addresses, &c->n_addresses);
	if (!strcasecmp(key, "MTU")) {
		if (once(p, key, K_MTU))
			return -EINVAL;
		if (parse_u16(val, &c->mtu) || c->mtu < 576)
			return fail(p, "MTU: '%s' is not an MTU (576-65535)", val);
		return 0;
	}
	if (!strcasecmp(key, "Uplink"))
		return once(p, key, K_UPLINK) ? -EINVAL : parse_ifname(p, key, val, c->uplink);
	if (!strcasecmp(key, "Rules"))
		return once(p, key, K_RULES) ? -EINVAL : dup_str(p, &c->rules_path, val);
	if (!strcasecmp(key, "Rules6"))
		return once(p, key, K_RULES6) ? -EINVAL : dup_str(p, &c->rules6_path, val);
	if (!strcasecmp(key, "NatPorts")) {
		char *dash = strchr(val, '-');
		uint16_t lo, hi;

		if (once(p, key, K_NATPORTS))
			return -EINVAL;
		if (!dash)
			return fail(p, "NatPorts: '%s' is not a range LOW-HIGH", val);
		*dash = '\0';
		if (parse_u16(trim(val), &lo) || parse_u16(trim(dash + 1), &hi) || !lo || lo > hi)
			return fail(p, "NatPorts: not a range LOW-HIGH of ports 1-65535");
		c->nat_port_min = lo;
		c->nat_port_max = hi;
		return 0;
	}
	if (!strcasecmp(key, "ConntrackMax")) {
		if (once(p, key, K_CTMAX))
			return -EINVAL;
		if (parse_u32(val, &c->ct_max, CONFIG_CT_MAX_LIMIT) || c->ct_max < 64)
			return fail(p, "ConntrackMax: '%s' is not a number of entries (64-%u)", val,
				    (unsigned)CONFIG_CT_MAX_LIMIT);
		return 0;
	}
	if (!strcasecmp(key, "PeerConntrackMax")) {
		if (once(p, key, K_PEERCTMAX))
			return -EINVAL;
		if (parse_u32(val, &c->peer_ct_max, CONFIG_CT_MAX_LIMIT))
			return fail(p, "PeerConntrackMax: '%s' is not a number of entries "
				    "(0 for no limit)", val);
		c->has_peer_ct_max = true;
		return 0;
	}
	if (!strcasecmp(key, "Workers")) {
		uint32_t n;

		if (once(p, key, K_WORKERS))
			return -EINVAL;
		if (parse_u32(val, &n, CONFIG_WORKERS_MAX) || !n)
			return fail(p, "Workers: '%s' is not a number of threads (1-%u)", val,
				    (unsigned)CONFIG_WORKERS_MAX);
		c->workers = n;
		return 0;
	}
	if (!strcasecmp(key, "User")) {
		if (once(p, key, K_USER))
			return -EINVAL;
		c->user_line = p->line;
		return dup_str(p, &c->user, val);
	}
	if (!strcasecmp(key, "IPv6")) {
		if (once(p, key, K_IPV6))
			return -EINVAL;
		if (strcasecmp(val, "drop") && strcasecmp(val, "pass"))
			return fail(p, "IPv6: '%s' is not drop or pass", val);
		c->ipv6_pass = !strcasecmp(val, "pass");
		return 0;
	}
	if (!strcasecmp(key, "UapiSocket")) {
		if (once(p, key, K_UAPI))
			return -EINVAL;
		if (!strcasecmp(val, "off")) {
			c->uapi_off = true;
			return 0;
		}
		if (val[0] != '/')
			return fail(p, "UapiSocket: '%s' is not off or an absolute path", val);
		return dup_str(p, &c->uapi_socket, val);
	}
	if (!strcasecmp(key, "FwMark")) {
		char *end;
		unsigned long long v;

		if (once(p, key, K_FWMARK))
			return -EINVAL;
		if (!strcasecmp(val, "off")) {
			c->fwmark = 0;
			return 0;
		}
		errno = 0;
		v = isdigit((unsigned char)val[0]) ? strtoull(val, &end, 0) : ~0ull;
		if (v == ~0ull || errno || *end || v > UINT32_MAX)
			return fail(p, "FwMark: '%s' is not off or a 32-bit number", val);
		c->fwmark = (uint32_t)v;
		return 0;
	}
	if (!strcasecmp(key, "ControlSocket"))
		return once(p, key, K_CTL) ? -EINVAL : dup_str(p, &c->control_socket, val);
	if (!strcasecmp(key, "KeepState")) {
		if (once(p, key, K_KEEPSTATE))
			return -EINVAL;
		if (val[0] != '/')
			return fail(p, "KeepState: '%s' is not an absolute path", val);
		return dup_str(p, &c->keep_state, val);
	}
	if (!strcasecmp(key, "LogLevel")) {
		int level = log_level_parse(val);

		if (once(p, key, K_LOGLEVEL))
			return -EINVAL;
		if (level < 0)
			return fail(p, "LogLevel: '%s' is not error, warning, notice, info or debug",
				    val);
		c->log_level = level;
		return 0;
	}
	return 1;
}

static int peer_key(struct parser *p, const char *key, char *val)
{
	struct config_peer *peer = &p->c->peers[p->c->n_peers - 1];

	if (!strcasecmp(key, "PublicKey")) {
		if (once(p, key, K_PUBLIC))
			return -EINVAL;
		return parse_key(p, key, val, peer->public_key);
	}
	if (!strcasecmp(key, "PresharedKey") || !strcasecmp(key, "PresharedKeyFile")) {
		bool file = !strcasecmp(key, "PresharedKeyFile");

		if ((p->seen & K_PSK) && (p->seen & K_PSK_FILE) != (file ? K_PSK_FILE : 0))
			return fail(p, "PresharedKey and PresharedKeyFile are both given: keep one");
		if (once(p, file ? "PresharedKeyFile" : "PresharedKey", K_PSK))
			return -EINVAL;
		peer->has_psk = true;
		if (!file) {
			p->c->secrets_inline = true;
			return parse_key(p, key, val, peer->preshared_key);
		}
		p->seen |= K_PSK_FILE;
		return key_file(p, "PresharedKeyFile", val, peer->preshared_key);
	}
	if (!strcasecmp(key, "AllowedIPs"))
		return add_cidrs(p, key, val, &peer->allowed_ips, &peer->n_allowed_ips);
	if (!strcasecmp(key, "Endpoint"))
		return once(p, key, K_ENDPOINT) ? -EINVAL : parse_endpoint(p, val, &peer->endpoint);
	if (!strcasecmp(key, "PersistentKeepalive")) {
		if (once(p, key, K_KEEPALIVE))
			return -EINVAL;
		if (!strcasecmp(val, "off")) {
			peer->persistent_keepalive = 0;
			return 0;
		}
		if (parse_u16(val, &peer->persistent_keepalive))
			return fail(p, "PersistentKeepalive: '%s' is not off or 0-65535 seconds", val);
		return 0;
	}
	return 1;
}

/* The peer section just ended: it needs a key no other peer has. */
static int finish_peer(struct parser *p)
{
	struct config *c = p->c;
	struct config_peer *peer;
	unsigned line = p->line;
	int ret = 0;

	if (p->sec != SEC_PEER)
		return 0;
	peer = &c->peers[c->n_peers - 1];
	p->line = peer->line;
	if (!(p->seen & K_PUBLIC)) {
		ret = fail(p, "[Peer] has no PublicKey");
		goto out;
	}
	for (size_t i = 0; i + 1 < c->n_peers; i++) {
		if (!sodium_memcmp(c->peers[i].public_key, peer->public_key, KEY_LEN)) {
			ret = fail(p, "duplicate peer: same PublicKey as the [Peer] at line %u",
				   c->peers[i].line);
			goto out;
		}
	}
out:
	p->line = line;
	return ret;
}

static int start_section(struct parser *p, const char *name)
{
	struct config *c = p->c;

	if (finish_peer(p))
		return -EINVAL;
	p->seen = 0;
	if (!strcasecmp(name, "Interface")) {
		if (p->sec != SEC_NONE || c->has_private_key || c->n_addresses)
			return fail(p, "a second [Interface] section");
		p->sec = SEC_INTERFACE;
		return 0;
	}
	if (!strcasecmp(name, "Peer")) {
		struct config_peer *grown = realloc(c->peers, (c->n_peers + 1) * sizeof(*grown));

		if (!grown)
			return fail(p, "out of memory");
		c->peers = grown;
		memset(&c->peers[c->n_peers], 0, sizeof(*grown));
		c->peers[c->n_peers].line = p->line;
		c->peers[c->n_peers].owner = c->n_peers < UINT16_MAX ? (uint16_t)(c->n_peers + 1) : 0;
		c->n_peers++;
		p->sec = SEC_PEER;
		return 0;
	}
	return fail(p, "unknown section [%s]", name);
}

static int parse_line(struct parser *p, char *s)
{
	char *eq, *key, *val, *hash;
	int ret;

	hash = strchr(s, '#');
	if (hash)
		*hash = '\0';
	s = trim(s);
	if (!*s)
		return 0;
	if (*s == '[') {
		size_t n = strlen(s);

		if (s[n - 1] != ']')
			return fail(p, "a section header needs a closing ']'");
		s[n - 1] = '\0';
		return start_section(p, trim(s + 1));
	}
	eq = strchr(s, '=');
	if (!eq)
		return fail(p, "expected 'Key = Value' or a [Section]");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!*key)
		return fail(p, "a line with no key");
	if (p->sec == SEC_NONE)
		return fail(p, "'%s' outside of any section", key);
	if (!*val)
		return fail(p, "%s has no value", key);
	ret = p->sec == SEC_INTERFACE ? interface_key(p, key, val) : peer_key(p, key, val);
	if (ret <= 0)
		return ret;
	for (size_t i = 0; i < sizeof(unimplemented) / sizeof(unimplemented[0]); i++) {
		if (!strcasecmp(key, unimplemented[i]) && p->sec == SEC_INTERFACE) {
			char where[PATH_MAX + 16];

			snprintf(where, sizeof(where), "%s:%u", p->path, p->line);
			/* PreUp, PostUp, PreDown, PostDown: iptables gets advice */
			if (p->warn && i >= 2 && i <= 5 &&
			    wgquick_hook(where, p->c->ifname, unimplemented[i], val, p->warn))
				return 0;
			if (p->warn)
				sbuf_printf(p->warn, "%s:%u: warning: %s is not implemented by gw; ignored\n",
					    p->path, p->line, unimplemented[i]);
			return 0;
		}
	}
	return fail(p, "unknown key '%s' in [%s]", key, p->sec == SEC_INTERFACE ? "Interface" : "Peer");
}

static int set_ifname(struct parser *p)
{
	const char *base = strrchr(p->path, '/');
	size_t n;

	base = base ? base + 1 : p->path;
	n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".conf"))
		n -= 5;
	p->line = 0;
	if (!n || n >= sizeof(p->c->ifname))
		return fail(p, "the file name gives the interface name: at most 15 characters before .conf");
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)base[i]) && !strchr("_=+.-", base[i]))
			return fail(p, "the file name gives the interface name: '%c' cannot be in one", base[i]);
	memcpy(p->c->ifname, base, n);
	p->c->ifname[n] = '\0';
	return 0;
}

int config_parse(struct config *c, const char *path, const char *text, size_t len,
		 struct sbuf *warn, struct config_error *err)
{
	struct parser p = { .c = c, .path = path, .warn = warn, .err = err };
	char *copy, *line, *next;
	int ret = -EINVAL;

	memset(c, 0, sizeof(*c));
	err->message[0] = '\0';
	c->nat_port_min = CONFIG_DEFAULT_NAT_MIN;
	c->nat_port_max = CONFIG_DEFAULT_NAT_MAX;
	c->ct_max = CONFIG_DEFAULT_CT_MAX;
	if (memchr(text, '\0', len)) {
		p.line = 1;
		for (size_t i = 0; i < len && text[i]; i++)
			p.line += text[i] == '\n';
		return fail(&p, "a NUL byte in the file");
	}
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	c->path = strdup(path);
	if (!c->path)
		goto out;
	/* the interface name, for %i in hooks; a bad one is refused at the end */
	if (set_ifname(&p))
		err->message[0] = '\0';
	p.line = 0;
	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p.line++;
		if (parse_line(&p, line))
			goto out;
	}
	if (finish_peer(&p))
		goto out;
	p.line = 0;
	if (p.sec == SEC_NONE && !c->n_peers) {
		p.line = 1;
		fail(&p, "no [Interface] section");
		goto out;
	}
	if (!c->has_private_key) {
		p.line = 1;
		fail(&p, "[Interface] has no PrivateKey");
		goto out;
	}
	if (!c->has_peer_ct_max)
		c->peer_ct_max = c->ct_max / 4;
	ret = set_ifname(&p);
out:
	sodium_memzero(copy, len);
	free(copy);
	if (ret)
		config_free(c);
	return ret;
}

int config_load(struct config *c, const char *path, struct sbuf *warn,
		struct config_error *err)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err->message, sizeof(err->message), "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
		snprintf(err->message, sizeof(err->message), "%s: not a regular file of at most 1 MiB", path);
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	ret = config_parse(c, path, buf, got, warn, err);
	sodium_memzero(buf, got);
	free(buf);
	return ret;
}

void config_warn_access(const struct config *c, struct sbuf *warn)
{
	char real[PATH_MAX];

	if (c->secrets_inline && config_world_accessible(c->path, real, sizeof(real)))
		sbuf_printf(warn, "Warning: `%s' is world accessible\n", real);
	for (size_t i = 0; i < c->n_key_files; i++)
		if (config_world_accessible(c->key_files[i], real, sizeof(real)))
			sbuf_printf(warn, "Warning: `%s' is world accessible\n", real);
}

bool config_world_accessible(const char *path, char *real, size_t len)
{
	char buf[PATH_MAX], dir[PATH_MAX];
	struct stat f, d;

	if (!realpath(path, buf) || stat(buf, &f))
		return false;
	snprintf(dir, sizeof(dir), "%s", buf);
	if (stat(dirname(dir), &d))
		return false;
	snprintf(real, len, "%s", buf);
	return (f.st_mode & d.st_mode & 0007) != 0;
}

int config_find(const char *arg, char *out, size_t len)
{
	const char *dir = getenv("GW_CONFIG_DIR");
	size_t n = strlen(arg);
	bool name = n && n < sizeof(((struct config *)0)->ifname);

	for (size_t i = 0; i < n && name; i++)
		name = isalnum((unsigned char)arg[i]) || strchr("_=+.-", arg[i]);
	if (!name || (n > 5 && !strcmp(arg + n - 5, ".conf")))
		dir = NULL, name = false;
	else if (!dir || !*dir)
		dir = CONFIG_DIR;
	if ((size_t)(name ? snprintf(out, len, "%s/%s.conf", dir, arg) :
			    snprintf(out, len, "%s", arg)) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Does c (IPv6) hold the 16 bytes a? */
static bool cidr_contains6(const struct cidr *c, const uint8_t *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (c->family != AF_INET6 || memcmp(c->addr, a, full))
		return false;
	return !rest || !((c->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest)));
}

const struct config_peer *config_peer_for6(const struct config *c, const uint8_t *addr)
{
	const struct config_peer *best = NULL;
	int prefix = -1;

	for (size_t i = 0; i < c->n_peers; i++)
		for (size_t j = 0; j < c->peers[i].n_allowed_ips; j++) {
			const struct cidr *a = &c->peers[i].allowed_ips[j];

			if (a->prefix > prefix && cidr_contains6(a, addr)) {
				prefix = a->prefix;
				best = &c->peers[i];
			}
		}
	return best;
}

const struct config_peer *config_peer_for4(const struct config *c, uint32_t addr)
{
	const struct config_peer *best = NULL;
	int prefix = -1;

	for (size_t i = 0; i < c->n_peers; i++)
		for (size_t j = 0; j < c->peers[i].n_allowed_ips; j++) {
			const struct cidr *a = &c->peers[i].allowed_ips[j];

			if (a->family == AF_INET && a->prefix > prefix && cidr_contains4(a, addr)) {
				prefix = a->prefix;
				best = &c->peers[i];
			}
		}
	return best;
}

void config_peer_free(struct config_peer *p)
{
	free(p->allowed_ips);
	free(p->endpoint);
	sodium_memzero(p, sizeof(*p));
}

void config_free(struct config *c)
{
	for (size_t i = 0; i < c->n_peers; i++)
		config_peer_free(&c->peers[i]);
	free(c->peers);
	free(c->addresses);
	free(c->rules_path);
	free(c->rules6_path);
	free(c->user);
	free(c->control_socket);
	free(c->uapi_socket);
	free(c->keep_state);
	free(c->path);
	for (size_t i = 0; i < c->n_key_files; i++)
		free(c->key_files[i]);
	free(c->key_files);
	sodium_memzero(c, sizeof(*c));
}

static void format_key(struct sbuf *out, const char *name, const uint8_t key[static KEY_LEN])
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, key);
	sbuf_printf(out, "%s = %s\n", name, b64);
	sodium_memzero(b64, sizeof(b64));
}

static void format_cidrs(struct sbuf *out, const char *name, const struct cidr *list, size_t n)
{
	char text[INET6_ADDRSTRLEN + 8];

	if (!n)
		return;
	sbuf_printf(out, "%s = ", name);
	for (size_t i = 0; i < n; i++) {
		cidr_format(&list[i], text, sizeof(text));
		sbuf_printf(out, "%s%s", i ? ", " : "", text);
	}
	sbuf_add(out, "\n");
}

void config_format(const struct config *c, const uint8_t priv[static KEY_LEN], struct sbuf *out)
{
	sbuf_add(out, "[Interface]\n");
	format_key(out, "PrivateKey", priv);
	if (c->has_listen_port)
		sbuf_printf(out, "ListenPort = %u\n", c->listen_port);
	if (c->fwmark)
		sbuf_printf(out, "FwMark = 0x%x\n", (unsigned)c->fwmark);
	format_cidrs(out, "Address", c->addresses, c->n_addresses);
	if (c->mtu)
		sbuf_printf(out, "MTU = %u\n", c->mtu);
	if (c->uplink[0])
		sbuf_printf(out, "Uplink = %s\n", c->uplink);
	if (c->rules_path)
		sbuf_printf(out, "Rules = %s\n", c->rules_path);
	if (c->rules6_path)
		sbuf_printf(out, "Rules6 = %s\n", c->rules6_path);
	if (c->nat_port_min != CONFIG_DEFAULT_NAT_MIN || c->nat_port_max != CONFIG_DEFAULT_NAT_MAX)
		sbuf_printf(out, "NatPorts = %u-%u\n", c->nat_port_min, c->nat_port_max);
	if (c->ct_max != CONFIG_DEFAULT_CT_MAX)
		sbuf_printf(out, "ConntrackMax = %u\n", (unsigned)c->ct_max);
	if (c->has_peer_ct_max)
		sbuf_printf(out, "PeerConntrackMax = %u\n", (unsigned)c->peer_ct_max);
	if (c->workers)
		sbuf_printf(out, "Workers = %u\n", c->workers);
	if (c->user)
		sbuf_printf(out, "User = %s\n", c->user);
	if (c->control_socket)
		sbuf_printf(out, "ControlSocket = %s\n", c->control_socket);
	if (c->keep_state)
		sbuf_printf(out, "KeepState = %s\n", c->keep_state);
	if (c->uapi_off)
		sbuf_add(out, "UapiSocket = off\n");
	else if (c->uapi_socket)
		sbuf_printf(out, "UapiSocket = %s\n", c->uapi_socket);
	if (c->ipv6_pass)
		sbuf_add(out, "IPv6 = pass\n");
	if (c->log_level)
		sbuf_printf(out, "LogLevel = %s\n", log_level_name(c->log_level));
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct config_peer *p = &c->peers[i];

		sbuf_add(out, "\n[Peer]\n");
		format_key(out, "PublicKey", p->public_key);
		if (p->has_psk)
			format_key(out, "PresharedKey", p->preshared_key);
		format_cidrs(out, "AllowedIPs", p->allowed_ips, p->n_allowed_ips);
		if (p->endpoint)
			sbuf_printf(out, "Endpoint = %s\n", p->endpoint);
		if (p->persistent_keepalive)
			sbuf_printf(out, "PersistentKeepalive = %u\n", p->persistent_keepalive);
	}
}
