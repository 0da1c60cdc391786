/* SPDX-License-Identifier: MIT */
/*
 * gw peer add | list | remove: onboarding, as wg-easy and PiVPN users know it.
 *
 *   gw peer add IFACE NAME [--ip ADDR] [--dns ADDR] [--endpoint HOST:PORT] [--qr]
 *   gw peer list IFACE
 *   gw peer remove IFACE NAME|PUBKEY
 *
 * IFACE is an interface name (its config is /etc/gw/IFACE.conf, or
 * $GW_CONFIG_DIR/IFACE.conf) or the config file's path.  add makes a key
 * pair and a preshared key, takes the lowest address of the [Interface]'s
 * IPv4 Address subnet that is neither gw's own, the subnet's network or
 * broadcast address, nor inside any peer's AllowedIPs (the file's peers and
 * the running gateway's, which may hold peers added at runtime), adds the
 * peer to the running gateway over the WireGuard UAPI socket, appends it to
 * the config under a "# NAME" comment and prints the client's wg-quick
 * config (and, with --qr, the same as a QR code: libqrencode, drawn with
 * half blocks as `qrencode -t UTF8` does).  remove takes the peer out of the
 * gateway (UAPI remove=true, which also flushes its connections) and its
 * [Peer] section out of the file.
 *
 * All or nothing: the new file is parsed (gw's own config parser) and
 * written beside the old one before anything changes; the running gateway
 * is changed next, and only if that worked is the new file renamed over the
 * old one (same mode and owner), so the file and the gateway never
 * disagree.  A gateway that is not running (no UAPI socket) only gets the
 * file changed, said on stderr.  The config is locked (flock) for the whole
 * operation, so two adds never hand out one address.  Keys are zeroed after
 * use; the private key is printed only in the client config on stdout.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/key.h"
#include "gw/cmd.h"
#include "gw/config.h"
#include "gw/ctl.h"
#include "gw/uapi.h"
#include "nat/sbuf.h"

enum { NAME_MAX_LEN = 64 };

/* The config file, read and locked. */
struct conf_file {
	char path[PATH_MAX];
	int fd;              /* holds the flock */
	struct stat st;
	char *text;
	size_t len, cap;
	struct config cfg;
	char uapi[108];      /* the gateway's UAPI socket */
};

/* A peer as the running gateway reports it (UAPI get). */
struct live_peer {
	uint8_t pub[KEY_LEN];
	struct cidr *aips;
	size_t n_aips;
	char endpoint[64];
	unsigned long long handshake, rx, tx;
};

struct live {
	bool up;             /* the gateway answered */
	unsigned listen_port;
	struct live_peer *peers;
	size_t n;
};

static int read_all(int fd, char **text, size_t *len, size_t *cap)
{
	struct sbuf s;
	char buf[4096];
	ssize_t n;

	sbuf_init_secret(&s);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sbuf_addn(&s, buf, (size_t)n);
	sodium_memzero(buf, sizeof(buf));
	if (n < 0 || s.oom) {
		int e = n < 0 ? errno : ENOMEM;

		sbuf_free(&s);
		return -e;
	}
	*text = s.buf ? s.buf : strdup("");
	*len = s.len;
	*cap = s.buf ? s.cap : 1;
	return *text ? 0 : -ENOMEM;
}

static void conf_close(struct conf_file *f)
{
	if (f->text) {
		sodium_memzero(f->text, f->cap);
		free(f->text);
		f->text = NULL;
	}
	if (f->cfg.path)
		config_free(&f->cfg);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Opens, locks and parses IFACE's config.  The lock is taken on the file
 * itself; a file renamed over it while we waited is opened again. */
static int conf_open(struct conf_file *f, const char *iface)
{
	struct config_error err;
	struct stat now;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (config_find(iface, f->path, sizeof(f->path))) {
		fprintf(stderr, "gw: %s: %s\n", iface, strerror(ENAMETOOLONG));
		return -1;
	}
	for (;;) {
		f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0) {
			fprintf(stderr, "gw: %s: %s\n", f->path, strerror(errno));
			return -1;
		}
		if (flock(f->fd, LOCK_EX) || fstat(f->fd, &f->st) || stat(f->path, &now)) {
			fprintf(stderr, "gw: %s: %s\n", f->path, strerror(errno));
			conf_close(f);
			return -1;
		}
		if (now.st_ino == f->st.st_ino && now.st_dev == f->st.st_dev)
			break;
		close(f->fd);
	}
	if (read_all(f->fd, &f->text, &f->len, &f->cap)) {
		fprintf(stderr, "gw: %s: %s\n", f->path, strerror(errno));
		conf_close(f);
		return -1;
	}
	if (config_parse(&f->cfg, f->path, f->text, f->len, NULL, &err)) {
		fprintf(stderr, "gw: %s\n", err.message);
		conf_close(f);
		return -1;
	}
	if (f->cfg.uapi_off)
		f->uapi[0] = 0; /* no way to the running gateway: the file only */
	else if (f->cfg.uapi_socket)
		snprintf(f->uapi, sizeof(f->uapi), "%s", f->cfg.uapi_socket);
	else
		snprintf(f->uapi, sizeof(f->uapi), "/var/run/wireguard/%s.sock", f->cfg.ifname);
	return 0;
}

/* ---- the running gateway, over UAPI ---- */

/* Sends one UAPI request (req: "get=1" or "set=1", body: its lines) and
 * reads the answer into out.  Returns 0 when the gateway answered (its
 * errno=N into *answer: 0 for success, -errno from gw and wireguard-go), or
 * -errno when no answer could be had (-ENOENT, -ECONNREFUSED: none runs). */
static int uapi(const char *path, const char *req, const char *body, struct sbuf *out,
		int *answer)
{
	const char *e;
	int ret = ctl_request_body(path, req, body, body ? strlen(body) : 0, out);

	if (ret)
		return ret;
	if (out->oom)
		return -ENOMEM;
	e = out->buf ? strstr(out->buf, "errno=") : NULL;
	if (!e || (e != out->buf && e[-1] != '\n'))
		return -EPROTO;
	*answer = atoi(e + 6);
	return 0;
}

static void live_free(struct live *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->peers[i].aips);
	free(l->peers);
	memset(l, 0, sizeof(*l));
}

/* What the gateway holds now; l->up false when it does not run. */
static int live_get(const struct conf_file *f, struct live *l)
{
	struct sbuf s;
	char *line, *save = NULL;
	struct live_peer *p = NULL;
	bool ours = false;
	int ret, answer;

	memset(l, 0, sizeof(*l));
	if (!f->uapi[0])
		return 0;
	sbuf_init_secret(&s); /* get=1 carries the private key */
	ret = uapi(f->uapi, "get=1", "\n", &s, &answer);
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		ret = 0;
		goto out;
	}
	if (ret || answer) {
		fprintf(stderr, "gw: %s: %s\n", f->uapi, ret ? strerror(-ret) :
			answer < 0 ? strerror(-answer) : "refused");
		ret = -1;
		goto out;
	}
	l->up = true;
	for (line = strtok_r(s.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');

		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "private_key")) {
			uint8_t k[KEY_LEN];

			ours = !uapi_key_from_hex(v, k) && !sodium_memcmp(k, f->cfg.private_key, KEY_LEN);
			sodium_memzero(k, sizeof(k));
			sodium_memzero(v, strlen(v));
		} else if (!strcmp(line, "listen_port")) {
			l->listen_port = (unsigned)atoi(v);
		} else if (!strcmp(line, "public_key")) {
			struct live_peer *np = realloc(l->peers, (l->n + 1) * sizeof(*np));

			if (!np) {
				ret = -1;
				break;
			}
			l->peers = np;
			p = &l->peers[l->n++];
			memset(p, 0, sizeof(*p));
			uapi_key_from_hex(v, p->pub); /* unreadable: stays zero */
		} else if (p && !strcmp(line, "allowed_ip")) {
			struct cidr *na = realloc(p->aips, (p->n_aips + 1) * sizeof(*na));

			if (!na) {
				ret = -1;
				break;
			}
			p->aips = na;
			if (!cidr_parse(v, &p->aips[p->n_aips]))
				p->n_aips++;
		} else if (p && !strcmp(line, "endpoint")) {
			snprintf(p->endpoint, sizeof(p->endpoint), "%s", v);
		} else if (p && !strcmp(line, "last_handshake_time_sec")) {
			p->handshake = strtoull(v, NULL, 10);
		} else if (p && !strcmp(line, "rx_bytes")) {
			p->rx = strtoull(v, NULL, 10);
		} else if (p && !strcmp(line, "tx_bytes")) {
			p->tx = strtoull(v, NULL, 10);
		}
	}
	if (ret) {
		fprintf(stderr, "gw: out of memory\n");
	} else if (!ours) {
		/* the socket's path is shared by every network namespace */
		fprintf(stderr, "gw: %s belongs to a gateway with another private key than %s's; "
				"nothing changed\n", f->uapi, f->path);
		ret = -1;
	}
out:
	sbuf_free(&s);
	if (ret)
		live_free(l);
	return ret;
}

/* ---- names: the "# NAME" comment that opens a [Peer] section ---- */

/* The name of the [Peer] section starting at line (1-based), into out. */
static bool section_name(const struct conf_file *f, unsigned line, char *out, size_t len)
{
	const char *p = f->text, *end = f->text + f->len;

	for (unsigned l = 1; p < end && l <= line; l++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		p = nl ? nl + 1 : end;
	}
	/* the lines after the header, up to the first that is not a comment */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;

		while (p < e && isblank((unsigned char)*p))
			p++;
		if (p == e || *p != '#')
			return false;
		p++;
		while (p < e && isblank((unsigned char)*p))
			p++;
		while (e > p && isspace((unsigned char)e[-1]))
			e--;
		if (e > p) {
			snprintf(out, len, "%.*s", (int)(e - p), p);
			return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._@+-", s[i]))
			return false;
	return true;
}

/* The file's peer NAME or PUBKEY (base64), or -1. */
static ssize_t find_peer(const struct conf_file *f, const char *who)
{
	uint8_t key[KEY_LEN];
	bool by_key = !key_from_base64(key, who, strlen(who));
	char name[NAME_MAX_LEN + 1];

	for (size_t i = 0; i < f->cfg.n_peers; i++) {
		const struct config_peer *p = &f->cfg.peers[i];

		if (by_key ? !sodium_memcmp(p->public_key, key, KEY_LEN)
			   : section_name(f, p->line, name, sizeof(name)) && !strcmp(name, who))
			return (ssize_t)i;
	}
	return -1;
}

/* ---- addresses ---- */

static bool cidr_holds4(const struct cidr *c, uint32_t a)
{
	return c->family == AF_INET && cidr_contains4(c, a);
}

static bool addr_taken(const struct conf_file *f, const struct live *l, uint32_t a)
{
	for (size_t i = 0; i < f->cfg.n_addresses; i++)
		if (f->cfg.addresses[i].family == AF_INET && cidr_addr4(&f->cfg.addresses[i]) == a)
			return true;
	for (size_t i = 0; i < f->cfg.n_peers; i++)
		for (size_t j = 0; j < f->cfg.peers[i].n_allowed_ips; j++)
			if (cidr_holds4(&f->cfg.peers[i].allowed_ips[j], a))
				return true;
	for (size_t i = 0; i < l->n; i++)
		for (size_t j = 0; j < l->peers[i].n_aips; j++)
			if (cidr_holds4(&l->peers[i].aips[j], a))
				return true;
	return false;
}

/* The [Interface]'s IPv4 Address with room for peers, or NULL. */
static const struct cidr *tunnel_subnet(const struct conf_file *f)
{
	for (size_t i = 0; i < f->cfg.n_addresses; i++)
		if (f->cfg.addresses[i].family == AF_INET && f->cfg.addresses[i].prefix < 31)
			return &f->cfg.addresses[i];
	return NULL;
}

/* The peer's address: --ip (checked) or the lowest free one. */
static int pick_addr(const struct conf_file *f, const struct live *l, const char *want,
		     uint32_t *out)
{
	const struct cidr *net = tunnel_subnet(f);

	if (want) {
		struct cidr c;

		if (cidr_parse(want, &c) || c.family != AF_INET || c.prefix != 32) {
			fprintf(stderr, "gw: --ip %s: give one IPv4 address\n", want);
			return -1;
		}
		*out = cidr_addr4(&c);
		if (net) {
			uint32_t m = ~0u << (32 - net->prefix), first = cidr_addr4(net) & m;

			if ((*out & m) != first || *out == first || *out == (first | ~m)) {
				char sn[64];

				cidr_format(net, sn, sizeof(sn));
				fprintf(stderr, "gw: --ip %s: not a host address of %s\n", want, sn);
				return -1;
			}
		}
		if (addr_taken(f, l, *out)) {
			fprintf(stderr, "gw: --ip %s: the address is taken\n", want);
			return -1;
		}
		return 0;
	}
	if (!net) {
		fprintf(stderr, "gw: %s: no IPv4 Address subnet to pick from; give --ip\n", f->path);
		return -1;
	}
	uint32_t mask = net->prefix ? ~0u << (32 - net->prefix) : 0;
	uint32_t first = cidr_addr4(net) & mask, last = first | ~mask;

	for (uint32_t a = first + 1; a < last; a++) {
		if (!addr_taken(f, l, a)) {
			*out = a;
			return 0;
		}
	}
	{
		char s[64];

		cidr_format(net, s, sizeof(s));
		fprintf(stderr, "gw: %s: no free address left in %s\n", f->path, s);
	}
	return -1;
}

static void addr4_text(uint32_t a, char *out, size_t len)
{
	struct in_addr in = { .s_addr = htonl(a) };

	inet_ntop(AF_INET, &in, out, (socklen_t)len);
}

/* The endpoint clients use when --endpoint is not given: the uplink's
 * first IPv4 address and the port the gateway listens on. */
static int default_endpoint(const struct conf_file *f, const struct live *l, char *out,
			    size_t len)
{
	unsigned port = l->up && l->listen_port ? l->listen_port : f->cfg.listen_port;
	struct ifaddrs *ifa, *i;
	int ret = -1;

	if (!port || !f->cfg.uplink[0] || getifaddrs(&ifa))
		goto out;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    strcmp(i->ifa_name, f->cfg.uplink))
			continue;
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof(a));
		snprintf(out, len, "%s:%u", a, port);
		ret = 0;
		break;
	}
	freeifaddrs(ifa);
out:
	if (ret)
		fprintf(stderr, "gw: %s: no Uplink address and ListenPort to offer clients; "
				"give --endpoint HOST:PORT\n", f->path);
	return ret;
}

/* ---- the file ---- */

/* Writes text beside f->path with f's mode and owner; its name into tmp. */
static int write_beside(const struct conf_file *f, const char *text, size_t len, char *tmp,
			size_t tmplen)
{
	const char *slash = strrchr(f->path, '/');
	int fd;

	if (slash)
		snprintf(tmp, tmplen, "%.*s/.%s.XXXXXX", (int)(slash - f->path), f->path, slash + 1);
	else
		snprintf(tmp, tmplen, ".%s.XXXXXX", f->path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "gw: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, f->st.st_mode & 07777) ||
	    (fchown(fd, f->st.st_uid, f->st.st_gid) && errno != EPERM))
		goto fail;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd))
		goto fail;
	close(fd);
	return 0;
fail:
	fprintf(stderr, "gw: %s: %s\n", tmp, strerror(errno));
	close(fd);
	unlink(tmp);
	return -1;
}

/* Checks that text still parses, as a config with want_peers peers. */
static int check_text(const struct conf_file *f, const char *text, size_t len, size_t want_peers)
{
	struct config c;
	struct config_error err;

	if (config_parse(&c, f->path, text, len, NULL, &err)) {
		fprintf(stderr, "gw: the changed config would not load: %s\n", err.message);
		return -1;
	}
	bool ok = c.n_peers == want_peers;

	config_free(&c);
	if (!ok)
		fprintf(stderr, "gw: %s: the changed config does not hold the peers it should\n",
			f->path);
	return ok ? 0 : -1;
}

/* Applies body to the gateway (when it runs), then renames tmp over the
 * config; undo is the UAPI body that takes the change back. */
static int commit(const struct conf_file *f, const struct live *l, const char *tmp,
		  const char *body, const char *undo)
{
	struct sbuf s;
	int ret = 0, answer = 0;

	sbuf_init_secret(&s);
	if (l->up) {
		ret = uapi(f->uapi, "set=1", body, &s, &answer);
		if (ret || answer) {
			if (ret)
				fprintf(stderr, "gw: %s: no answer from the gateway (%s): whether it "
						"took the change is unknown; %s is unchanged\n",
					f->uapi, strerror(-ret), f->path);
			else
				fprintf(stderr, "gw: %s: the gateway refused the change (%s); nothing "
						"changed\n", f->uapi, strerror(answer < 0 ? -answer : answer));
			unlink(tmp);
			sbuf_free(&s);
			return -1;
		}
	} else {
		fprintf(stderr, "gw: %s is not running (no %s): only %s changes\n", f->cfg.ifname,
			f->uapi[0] ? f->uapi : "UAPI socket", f->path);
	}
	if (rename(tmp, f->path)) {
		fprintf(stderr, "gw: %s: %s\n", f->path, strerror(errno));
		unlink(tmp);
		if (l->up) {
			sbuf_reset(&s);
			if (uapi(f->uapi, "set=1", undo, &s, &answer) || answer)
				fprintf(stderr, "gw: %s: could not undo the change: the running gateway "
						"and %s now differ\n", f->uapi, f->path);
		}
		ret = -1;
	}
	sbuf_free(&s);
	return ret;
}

/* ---- the client's config and its QR code ---- */

/* Draws the code with one character per two rows of modules: light modules
 * are the terminal's foreground, so it reads as black on white on a dark
 * terminal (qrencode -t UTF8). */
static void print_qr(const char *text)
{
	enum { MARGIN = 2 };
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);

	if (!qr) {
		fprintf(stderr, "gw: the QR code: %s\n", strerror(errno));
		return;
	}
	int w = qr->width;

	for (int y = -MARGIN; y < w + MARGIN; y += 2) {
		for (int x = -MARGIN; x < w + MARGIN; x++) {
			bool top = y >= 0 && y < w && x >= 0 && x < w && (qr->data[y * w + x] & 1);
			bool bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w &&
				   (qr->data[(y + 1) * w + x] & 1);

			fputs(top ? (bot ? " " : "\u2584") : (bot ? "\u2580" : "\u2588"), stdout);
		}
		putchar('\n');
	}
	sodium_memzero(qr->data, (size_t)w * (size_t)w);
	QRcode_free(qr);
}

struct client {
	char name[NAME_MAX_LEN + 1];
	char addr[INET_ADDRSTRLEN];
	unsigned prefix;
	const char *dns;
	char endpoint[300];
	uint8_t priv[KEY_LEN], pub[KEY_LEN], psk[KEY_LEN];
};

static void client_conf(struct sbuf *s, const struct client *c, const uint8_t server[KEY_LEN])
{
	char k[KEY_B64_LEN + 1];

	key_to_base64(k, c->priv);
	sbuf_printf(s, "[Interface]\n# %s\nPrivateKey = %s\nAddress = %s/%u\n", c->name, k,
		    c->addr, c->prefix);
	if (c->dns)
		sbuf_printf(s, "DNS = %s\n", c->dns);
	key_to_base64(k, server);
	sbuf_printf(s, "\n[Peer]\nPublicKey = %s\n", k);
	key_to_base64(k, c->psk);
	sbuf_printf(s, "PresharedKey = %s\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = %s\n"
		       "PersistentKeepalive = 25\n", k, c->endpoint);
	sodium_memzero(k, sizeof(k));
}

/* ---- the subcommands ---- */

static int usage(void)
{
	fprintf(stderr, "Usage: gw peer add IFACE NAME [--ip ADDR] [--dns ADDR] "
			"[--endpoint HOST:PORT] [--qr]\n"
			"       gw peer list IFACE\n"
			"       gw peer remove IFACE NAME|PUBKEY\n");
	return 1;
}

static int peer_add(int argc, char **argv)
{
	const char *ip = NULL, *endpoint = NULL;
	struct client c = { .prefix = 32 };
	struct conf_file f;
	struct live l = { 0 };
	struct sbuf text, body, undo, out;
	char k[KEY_B64_LEN + 1], tmp[PATH_MAX + 16], hexpub[2 * KEY_LEN + 1],
		hexpsk[2 * KEY_LEN + 1];
	uint8_t server[KEY_LEN];
	bool qr = false;
	uint32_t a;
	int ret = 1;

	if (argc < 3)
		return usage();
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--qr"))
			qr = true;
		else if (i + 1 < argc && !strcmp(argv[i], "--ip"))
			ip = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--dns"))
			c.dns = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--endpoint"))
			endpoint = argv[++i];
		else
			return usage();
	}
	if (!valid_name(argv[2])) {
		fprintf(stderr, "gw: peer name '%s': 1 to %d letters, digits or ._@+-\n", argv[2],
			NAME_MAX_LEN);
		return 1;
	}
	if (c.dns) {
		struct cidr d;

		if (strchr(c.dns, '/') || cidr_parse(c.dns, &d)) {
			fprintf(stderr, "gw: --dns %s: not an IP address\n", c.dns);
			return 1;
		}
	}
	if (endpoint && (!*endpoint || !strchr(endpoint, ':') ||
			 strspn(endpoint, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789.-_:[]") != strlen(endpoint))) {
		fprintf(stderr, "gw: --endpoint %s: give HOST:PORT\n", endpoint);
		return 1;
	}
	snprintf(c.name, sizeof(c.name), "%s", argv[2]);
	if (conf_open(&f, argv[1]))
		return 1;
	sbuf_init_secret(&text);
	sbuf_init_secret(&body);
	sbuf_init_secret(&undo);
	sbuf_init_secret(&out);
	if (find_peer(&f, c.name) >= 0) {
		fprintf(stderr, "gw: %s: a peer named '%s' exists\n", f.path, c.name);
		goto out;
	}
	if (live_get(&f, &l) || pick_addr(&f, &l, ip, &a))
		goto out;
	addr4_text(a, c.addr, sizeof(c.addr));
	if (endpoint)
		snprintf(c.endpoint, sizeof(c.endpoint), "%s", endpoint);
	else if (default_endpoint(&f, &l, c.endpoint, sizeof(c.endpoint)))
		goto out;
	if (!ip && tunnel_subnet(&f))
		c.prefix = tunnel_subnet(&f)->prefix;
	key_generate_private(c.priv);
	key_generate_psk(c.psk);
	if (key_public(c.pub, c.priv)) {
		fprintf(stderr, "gw: key generation failed\n");
		goto out;
	}

	/* the file: appended [Peer] */
	sbuf_addn(&text, f.text, f.len);
	if (f.len && f.text[f.len - 1] != '\n')
		sbuf_add(&text, "\n");
	key_to_base64(k, c.pub);
	sbuf_printf(&text, "\n[Peer]\n# %s\nPublicKey = %s\n", c.name, k);
	key_to_base64(k, c.psk);
	sbuf_printf(&text, "PresharedKey = %s\nAllowedIPs = %s/32\n", k, c.addr);
	/* the gateway: the same peer */
	sodium_bin2hex(hexpub, sizeof(hexpub), c.pub, KEY_LEN);
	sodium_bin2hex(hexpsk, sizeof(hexpsk), c.psk, KEY_LEN);
	sbuf_printf(&body, "public_key=%s\npreshared_key=%s\nreplace_allowed_ips=true\n"
			   "allowed_ip=%s/32\n\n", hexpub, hexpsk, c.addr);
	sbuf_printf(&undo, "public_key=%s\nremove=true\n\n", hexpub);
	if (key_public(server, f.cfg.private_key)) {
		fprintf(stderr, "gw: %s: the PrivateKey has no public key\n", f.path);
		goto out;
	}
	client_conf(&out, &c, server);
	if (text.oom || body.oom || undo.oom || out.oom) {
		fprintf(stderr, "gw: out of memory\n");
		goto out;
	}
	if (check_text(&f, text.buf, text.len, f.cfg.n_peers + 1) ||
	    write_beside(&f, text.buf, text.len, tmp, sizeof(tmp)) ||
	    commit(&f, &l, tmp, body.buf, undo.buf))
		goto out;
	fputs(out.buf, stdout);
	if (qr) {
		putchar('\n');
		print_qr(out.buf);
	}
	fflush(stdout);
	ret = 0;
out:
	sodium_memzero(&c, sizeof(c));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(hexpsk, sizeof(hexpsk));
	sbuf_free(&text);
	sbuf_free(&body);
	sbuf_free(&undo);
	sbuf_free(&out);
	live_free(&l);
	conf_close(&f);
	return ret;
}

/* The byte offset where line (1-based) starts, or len past the end. */
static size_t line_start(const char *text, size_t len, unsigned line)
{
	size_t off = 0;

	for (unsigned l = 1; l < line && off < len; l++) {
		const char *nl = memchr(text + off, '\n', len - off);

		off = nl ? (size_t)(nl - text) + 1 : len;
	}
	return off;
}

static bool blank_or_comment(const char *p, const char *e, bool comment_too)
{
	while (p < e && isspace((unsigned char)*p))
		p++;
	return p == e || (comment_too && *p == '#');
}

/* The bytes of peer i's section: its header line (and one blank line
 * before it) to its last key line; comments and blank lines after that
 * belong to what follows. */
static void section_span(const struct conf_file *f, size_t i, size_t *from, size_t *to)
{
	const char *t = f->text;
	unsigned hdr = f->cfg.peers[i].line;
	size_t off = line_start(t, f->len, hdr), end = off;

	*from = off;
	if (hdr > 1) {
		size_t prev = line_start(t, f->len, hdr - 1);

		if (blank_or_comment(t + prev, t + off, false))
			*from = prev;
	}
	for (size_t p = off; p < f->len;) {
		const char *nl = memchr(t + p, '\n', f->len - p);
		size_t next = nl ? (size_t)(nl - t) + 1 : f->len;
		const char *s = t + p;

		while (s < t + next && isblank((unsigned char)*s))
			s++;
		if (p != off && *s == '[')
			break;
		if (p == off || !blank_or_comment(t + p, t + next, true))
			end = next;
		p = next;
	}
	*to = end;
}

static int peer_remove(int argc, char **argv)
{
	struct conf_file f;
	struct live l = { 0 };
	struct sbuf text, body, undo;
	char tmp[PATH_MAX + 16], hex[2 * KEY_LEN + 1];
	uint8_t key[KEY_LEN];
	ssize_t i;
	size_t from, to;
	int ret = 1;

	if (argc != 3)
		return usage();
	if (conf_open(&f, argv[1]))
		return 1;
	sbuf_init_secret(&text);
	sbuf_init_secret(&body);
	sbuf_init_secret(&undo);
	i = find_peer(&f, argv[2]);
	if (i < 0) {
		if (key_from_base64(key, argv[2], strlen(argv[2]))) {
			fprintf(stderr, "gw: %s: no peer named '%s'\n", f.path, argv[2]);
			goto out;
		}
		/* a peer only the running gateway has (added at runtime) */
		if (live_get(&f, &l))
			goto out;
		bool found = false;

		for (size_t j = 0; j < l.n && !found; j++)
			found = !sodium_memcmp(l.peers[j].pub, key, KEY_LEN);
		if (!found) {
			fprintf(stderr, "gw: %s: no peer %s\n", f.path, argv[2]);
			goto out;
		}
		sodium_bin2hex(hex, sizeof(hex), key, KEY_LEN);
		sbuf_printf(&body, "public_key=%s\nremove=true\n\n", hex);
		int answer = 0, r = body.oom ? -ENOMEM :
				    uapi(f.uapi, "set=1", body.buf, &undo, &answer);

		if (r || answer)
			fprintf(stderr, "gw: %s: %s: %s\n", f.uapi,
				r ? "no answer" : "the gateway refused the change",
				strerror(r ? -r : answer < 0 ? -answer : answer));
		else
			ret = 0;
		goto out;
	}
	memcpy(key, f.cfg.peers[i].public_key, KEY_LEN);
	section_span(&f, (size_t)i, &from, &to);
	sbuf_addn(&text, f.text, from);
	sbuf_addn(&text, f.text + to, f.len - to);
	sodium_bin2hex(hex, sizeof(hex), key, KEY_LEN);
	sbuf_printf(&body, "public_key=%s\nremove=true\n\n", hex);
	/* the undo puts the peer back as the file had it */
	{
		const struct config_peer *p = &f.cfg.peers[i];
		char a[64];

		sbuf_printf(&undo, "public_key=%s\n", hex);
		if (p->has_psk) {
			sodium_bin2hex(hex, sizeof(hex), p->preshared_key, KEY_LEN);
			sbuf_printf(&undo, "preshared_key=%s\n", hex);
		}
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			cidr_format(&p->allowed_ips[j], a, sizeof(a));
			sbuf_printf(&undo, "allowed_ip=%s\n", a);
		}
		if (p->persistent_keepalive)
			sbuf_printf(&undo, "persistent_keepalive_interval=%u\n",
				    p->persistent_keepalive);
		sbuf_add(&undo, "\n");
	}
	if (text.oom || body.oom || undo.oom) {
		fprintf(stderr, "gw: out of memory\n");
		goto out;
	}
	if (live_get(&f, &l) ||
	    check_text(&f, text.len ? text.buf : "", text.len, f.cfg.n_peers - 1) ||
	    write_beside(&f, text.len ? text.buf : "", text.len, tmp, sizeof(tmp)) ||
	    commit(&f, &l, tmp, body.buf, undo.buf))
		goto out;
	ret = 0;
out:
	sodium_memzero(hex, sizeof(hex));
	sbuf_free(&text);
	sbuf_free(&body);
	sbuf_free(&undo);
	live_free(&l);
	conf_close(&f);
	return ret;
}

static void aips_text(char *out, size_t len, const struct cidr *c, size_t n)
{
	size_t off = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && off < len; i++) {
		char a[64];

		cidr_format(&c[i], a, sizeof(a));
		off += (size_t)snprintf(out + off, len - off, "%s%s", i ? "," : "", a);
	}
	if (!n)
		snprintf(out, len, "(none)");
}

static void print_row(const char *name, const uint8_t pub[KEY_LEN], const char *aips,
		      const struct live *l, const struct live_peer *lp)
{
	char k[KEY_B64_LEN + 1], hs[32];

	key_to_base64(k, pub);
	if (!l->up || !lp)
		snprintf(hs, sizeof(hs), "-");
	else if (!lp->handshake)
		snprintf(hs, sizeof(hs), "never");
	else
		snprintf(hs, sizeof(hs), "%llus ago",
			 (unsigned long long)time(NULL) > lp->handshake ?
				 (unsigned long long)time(NULL) - lp->handshake : 0);
	printf("%-16s %s  %-18s %-21s %-12s %llu/%llu\n", name, k, aips,
	       lp && lp->endpoint[0] ? lp->endpoint : "-", hs, lp ? lp->rx : 0,
	       lp ? lp->tx : 0);
}

/* One line per peer: the file's (named or not), then those only the running
 * gateway has ("(runtime)"). */
static int peer_list(int argc, char **argv)
{
	struct conf_file f;
	struct live l;
	char name[NAME_MAX_LEN + 1], aips[512];
	bool *seen;

	if (argc != 2)
		return usage();
	if (conf_open(&f, argv[1]))
		return 1;
	if (live_get(&f, &l)) {
		conf_close(&f);
		return 1;
	}
	seen = calloc(l.n + 1, sizeof(*seen));
	if (!seen) {
		live_free(&l);
		conf_close(&f);
		return 1;
	}
	printf("%-16s %-44s  %-18s %-21s %-12s %s\n", "NAME", "PUBLIC KEY", "ALLOWED IPS",
	       "ENDPOINT", "HANDSHAKE", "RX/TX BYTES");
	for (size_t i = 0; i < f.cfg.n_peers; i++) {
		const struct config_peer *p = &f.cfg.peers[i];
		const struct live_peer *lp = NULL;

		for (size_t j = 0; j < l.n && !lp; j++)
			if (!sodium_memcmp(l.peers[j].pub, p->public_key, KEY_LEN)) {
				lp = &l.peers[j];
				seen[j] = true;
			}
		if (!section_name(&f, p->line, name, sizeof(name)))
			snprintf(name, sizeof(name), "-");
		aips_text(aips, sizeof(aips), lp ? lp->aips : p->allowed_ips,
			  lp ? lp->n_aips : p->n_allowed_ips);
		print_row(name, p->public_key, aips, &l, lp);
	}
	for (size_t j = 0; j < l.n; j++) {
		if (seen[j])
			continue;
		aips_text(aips, sizeof(aips), l.peers[j].aips, l.peers[j].n_aips);
		print_row("(runtime)", l.peers[j].pub, aips, &l, &l.peers[j]);
	}
	if (!l.up)
		fprintf(stderr, "gw: %s is not running (no %s): the config's peers only\n",
			f.cfg.ifname, f.uapi[0] ? f.uapi : "UAPI socket");
	free(seen);
	live_free(&l);
	conf_close(&f);
	return 0;
}

int cmd_peer(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "add"))
		return peer_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return peer_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "remove"))
		return peer_remove(argc - 1, argv + 1);
	return usage();
}
