/* SPDX-License-Identifier: MIT */
/*
 * gw show [IFACE] and gw stats IFACE: ask a running gateway over its control
 * socket (gw/ctl.h) and print, for show, the layout of `wg show`.  IFACE may
 * also be a socket path (containing '/'), for a ControlSocket elsewhere.
 * gw stats IFACE --json prints the same counters as one JSON object (numbers
 * stay numbers), --prometheus them and the per-peer ones in the Prometheus
 * text exposition format (the gateway writes it: gw/metrics.h).
 * gw show IFACE --json prints the show answer as one JSON object:
 *   { "interface": NAME, "public_key": B64, "listen_port": N,
 *     "addresses": [CIDR...], "peers": [ { "public_key": B64,
 *       "endpoint": "ADDR:PORT" | null, "allowed_ips": [CIDR...],
 *       "latest_handshake": UNIX-SECONDS (0: never), "rx_bytes": N,
 *       "tx_bytes": N, "persistent_keepalive": SECONDS (0: off),
 *       "handshakes_sent": N, "handshakes_completed": N,
 *       "conntrack_entries": N (with netfilter),
 *       "drops": { REASON: N, ... } } ... ] }
 * Keys the gateway adds later pass through (numbers as numbers); a private
 * or preshared key is never printed, whatever the answer holds.
 * gw show IFACE conf prints the running config in gw run format (like wg
 * showconf, with gw's own [Interface] keys; it holds the private key: the
 * control socket is root's, mode 0600).
 */
#include <dirent.h>
#include <sodium.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw/cmd.h"
#include "gw/ctl.h"
#include "nat/sbuf.h"

static void socket_path(char *out, size_t len, const char *iface)
{
	if (strchr(iface, '/'))
		snprintf(out, len, "%s", iface);
	else
		ctl_default_path(out, len, iface);
}

int cmd_ask(const char *iface, const char *req, const char *body, size_t blen,
	    struct sbuf *out)
{
	char path[108];
	int ret;

	socket_path(path, sizeof(path), iface);
	ret = ctl_request_body(path, req, body, blen, out);
	if (!ret && out->oom)
		ret = -ENOMEM;
	if (ret)
		fprintf(stderr, "gw: %s: %s (is `gw run` up for %s?)\n", path, strerror(-ret),
			iface);
	return ret;
}

static int ask(const char *iface, const char *req, struct sbuf *out)
{
	return cmd_ask(iface, req, NULL, 0, out);
}

const char *cmd_answer_error(const struct sbuf *s)
{
	if (!s->len)
		return NULL;
	if (!strncmp(s->buf, "error=", 6))
		return s->buf + 6;
	return NULL;
}

/* wg's pretty_time: "1 day, 2 hours, 3 seconds". */
static void pretty_time(char *out, size_t len, unsigned long long secs)
{
	static const struct { unsigned long long n; const char *name; } units[] = {
		{ 365ull * 24 * 3600, "year" }, { 24 * 3600, "day" }, { 3600, "hour" },
		{ 60, "minute" }, { 1, "second" },
	};
	size_t off = 0;

	out[0] = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && off < len; i++) {
		unsigned long long v = secs / units[i].n;

		if (!v)
			continue;
		secs %= units[i].n;
		off += (size_t)snprintf(out + off, len - off, "%s%llu %s%s", off ? ", " : "", v,
					units[i].name, v == 1 ? "" : "s");
	}
}

/* wg's bytes: B, KiB, MiB, GiB, TiB with two decimals. */
static void pretty_bytes(char *out, size_t len, unsigned long long b)
{
	if (b < 1024)
		snprintf(out, len, "%llu B", b);
	else if (b < 1024ull * 1024)
		snprintf(out, len, "%.2f KiB", (double)b / 1024);
	else if (b < 1024ull * 1024 * 1024)
		snprintf(out, len, "%.2f MiB", (double)b / (1024 * 1024));
	else if (b < 1024ull * 1024 * 1024 * 1024)
		snprintf(out, len, "%.2f GiB", (double)b / (1024. * 1024 * 1024));
	else
		snprintf(out, len, "%.2f TiB", (double)b / (1024. * 1024 * 1024 * 1024));
}

struct peer_view {
	char key[64], endpoint[64];
	struct sbuf aips;
	unsigned long long handshake, rx, tx, keepalive;
	bool active;
};

static void print_peer(struct peer_view *p)
{
	char a[64], b[64];

	if (!p->active)
		return;
	printf("\npeer: %s\n", p->key);
	if (p->endpoint[0])
		printf("  endpoint: %s\n", p->endpoint);
	printf("  allowed ips: %s\n", p->aips.len ? p->aips.buf : "(none)");
	if (p->handshake) {
		unsigned long long now = (unsigned long long)time(NULL);

		if (now == p->handshake) {
			printf("  latest handshake: Now\n");
		} else if (now < p->handshake) {
			printf("  latest handshake: (System clock wound backward; connection problems may ensue.)\n");
		} else {
			pretty_time(a, sizeof(a), now - p->handshake);
			printf("  latest handshake: %s ago\n", a);
		}
	}
	if (p->rx || p->tx) {
		pretty_bytes(a, sizeof(a), p->rx);
		pretty_bytes(b, sizeof(b), p->tx);
		printf("  transfer: %s received, %s sent\n", a, b);
	}
	if (p->keepalive) {
		pretty_time(a, sizeof(a), p->keepalive);
		printf("  persistent keepalive: every %s\n", a);
	}
	sbuf_reset(&p->aips);
	p->endpoint[0] = 0;
	p->handshake = p->rx = p->tx = p->keepalive = 0;
	p->active = false;
}

static int show_one(const char *iface)
{
	struct sbuf s;
	struct peer_view p = { 0 };
	char *line, *save = NULL;
	int ret;

	sbuf_init(&s);
	sbuf_init(&p.aips);
	ret = ask(iface, "show", &s);
	for (line = ret || !s.buf ? NULL : strtok_r(s.buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');

		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "interface")) {
			printf("interface: %s\n", v);
		} else if (!strcmp(line, "public_key")) {
			printf("  public key: %s\n  private key: (hidden)\n", v);
		} else if (!strcmp(line, "listen_port")) {
			printf("  listening port: %s\n", v);
		} else if (!strcmp(line, "peer")) {
			print_peer(&p);
			snprintf(p.key, sizeof(p.key), "%s", v);
			p.active = true;
		} else if (!strcmp(line, "endpoint")) {
			snprintf(p.endpoint, sizeof(p.endpoint), "%s", v);
		} else if (!strcmp(line, "allowed_ip")) {
			if (p.aips.len)
				sbuf_add(&p.aips, ", ");
			sbuf_add(&p.aips, v);
		} else if (!strcmp(line, "latest_handshake")) {
			p.handshake = strtoull(v, NULL, 10);
		} else if (!strcmp(line, "rx_bytes")) {
			p.rx = strtoull(v, NULL, 10);
		} else if (!strcmp(line, "tx_bytes")) {
			p.tx = strtoull(v, NULL, 10);
		} else if (!strcmp(line, "persistent_keepalive")) {
			p.keepalive = strtoull(v, NULL, 10);
		} else if (!strcmp(line, "error")) {
			fprintf(stderr, "gw: %s: %s\n", iface, v);
			ret = -EPROTO;
		}
	}
	print_peer(&p);
	sbuf_free(&p.aips);
	sbuf_free(&s);
	return ret;
}

static void json_string(const char *v)
{
	putchar('"');
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

/* A decimal number stays a number in JSON. */
static void json_value(const char *v)
{
	if (*v && strspn(v, "0123456789") == strlen(v) && (v[0] != '0' || !v[1]))
		fputs(v, stdout);
	else
		json_string(v);
}

struct kv {
	const char *key, *val;
};

/* Keys that repeat in the show answer and the JSON arrays they make. */
static const char *json_array_name(const char *key)
{
	if (!strcmp(key, "allowed_ip"))
		return "allowed_ips";
	if (!strcmp(key, "address"))
		return "addresses";
	return NULL;
}

static bool json_secret(const char *key)
{
	return strstr(key, "private") || strstr(key, "preshared");
}

/* The members of the object of lines kv[0..n): the interface's, or a
 * peer's (kv[0] is peer=KEY).  ind: their indentation.  False when none
 * was printed. */
static bool json_members(const struct kv *kv, size_t n, bool peer, const char *ind)
{
	bool first = true, ep = false, aips = false, drops = false;

	for (size_t i = 0; i < n; i++) {
		ep |= !strcmp(kv[i].key, "endpoint");
		aips |= !strcmp(kv[i].key, "allowed_ip");
	}
	for (size_t i = 0; i < n; i++) {
		const char *k = kv[i].key, *arr = json_array_name(k);

		if (json_secret(k))
			continue;
		if (!strncmp(k, "drop_", 5)) {
			if (drops)
				continue;
			drops = true;
			printf("%s\n%s\"drops\": {", first ? "" : ",", ind);
			for (size_t j = i, f = 1; j < n; j++)
				if (!strncmp(kv[j].key, "drop_", 5)) {
					printf("%s\n%s  ", f ? "" : ",", ind);
					json_string(kv[j].key + 5);
					fputs(": ", stdout);
					json_value(kv[j].val);
					f = 0;
				}
			printf("\n%s}", ind);
			first = false;
			continue;
		}
		if (arr) {
			bool seen = false;

			for (size_t j = 0; j < i && !seen; j++)
				seen = !strcmp(kv[j].key, k);
			if (seen)
				continue;
			printf("%s\n%s\"%s\": [", first ? "" : ",", ind, arr);
			for (size_t j = i, f = 1; j < n; j++)
				if (!strcmp(kv[j].key, k)) {
					fputs(f ? "" : ", ", stdout);
					json_string(kv[j].val);
					f = 0;
				}
			putchar(']');
			first = false;
			continue;
		}
		printf("%s\n%s", first ? "" : ",", ind);
		json_string(peer && i == 0 ? "public_key" : k);
		fputs(": ", stdout);
		json_value(kv[i].val);
		first = false;
		if (peer && i == 0) {
			if (!ep)
				printf(",\n%s\"endpoint\": null", ind);
			if (!aips)
				printf(",\n%s\"allowed_ips\": []", ind);
		}
	}
	return !first;
}

static int show_json(const char *iface)
{
	struct sbuf s;
	struct kv *kv = NULL;
	size_t n = 0, cap = 0, head, i;
	char *line, *save = NULL;
	const char *e;
	int ret;

	sbuf_init(&s);
	ret = ask(iface, "show", &s);
	if (!ret && (e = cmd_answer_error(&s))) {
		fprintf(stderr, "gw: %s: %s", iface, e);
		ret = -EPROTO;
	}
	for (line = ret || !s.buf ? NULL : strtok_r(s.buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');

		if (!v)
			continue;
		*v++ = 0;
		if (n == cap) {
			struct kv *nk = realloc(kv, (cap = cap ? 2 * cap : 64) * sizeof(*kv));

			if (!nk) {
				fputs("gw: out of memory\n", stderr);
				ret = -ENOMEM;
				break;
			}
			kv = nk;
		}
		kv[n++] = (struct kv){ line, v };
	}
	if (!ret) {
		for (head = 0; head < n && strcmp(kv[head].key, "peer"); head++)
			;
		putchar('{');
		printf("%s\n  \"peers\": [", json_members(kv, head, false, "  ") ? "," : "");
		for (i = head; i < n;) {
			size_t j = i + 1;

			while (j < n && strcmp(kv[j].key, "peer"))
				j++;
			printf("%s\n    {", i == head ? "" : ",");
			json_members(kv + i, j - i, true, "      ");
			fputs("\n    }", stdout);
			i = j;
		}
		printf("%s]\n}\n", n > head ? "\n  " : "");
	}
	free(kv);
	sbuf_free(&s);
	return ret;
}

static int show_conf(const char *iface)
{
	struct sbuf s;
	const char *e;
	int ret;

	sbuf_init(&s);
	ret = ask(iface, "conf", &s);
	if (!ret && (e = cmd_answer_error(&s))) {
		fprintf(stderr, "gw: %s", e);
		ret = 1;
	} else if (!ret && s.len) {
		fwrite(s.buf, 1, s.len, stdout);
	}
	if (s.buf)
		sodium_memzero(s.buf, s.len);
	sbuf_free(&s);
	return ret ? 1 : 0;
}

int cmd_show(int argc, char **argv)
{
	struct dirent *de;
	DIR *d;
	int ret = 0;
	bool first = true;

	if (argc == 3 && argv[1][0] != '-' && !strcmp(argv[2], "--json"))
		return show_json(argv[1]) ? 1 : 0;
	if (argc == 3 && argv[1][0] != '-' && !strcmp(argv[2], "conf"))
		return show_conf(argv[1]);
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "Usage: gw %s [IFACE [--json | conf]]\n", argv[0]);
		return 1;
	}
	if (argc == 2)
		return show_one(argv[1]) ? 1 : 0;
	d = opendir("/run/gw");
	if (!d)
		return 0; /* no gateway runs */
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char name[256];

		if (n < 6 || strcmp(de->d_name + n - 5, ".sock"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 5), de->d_name);
		if (!first)
			putchar('\n');
		first = false;
		if (show_one(name))
			ret = 1;
	}
	closedir(d);
	return ret;
}

/* "key=value" lines as one JSON object: values that are decimal numbers
 * stay numbers, the others become strings. */
static void print_json(char *text)
{
	char *line, *save = NULL;
	bool first = true;

	putchar('{');
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');

		if (!v)
			continue;
		*v++ = 0;
		printf("%s\n  ", first ? "" : ",");
		json_string(line);
		fputs(": ", stdout);
		json_value(v);
		first = false;
	}
	puts(first ? "}" : "\n}");
}

int cmd_stats(int argc, char **argv)
{
	struct sbuf s;
	bool json = argc == 3 && !strcmp(argv[2], "--json");
	bool prom = argc == 3 && !strcmp(argv[2], "--prometheus");
	const char *e;
	int ret;

	if ((argc != 2 && !json && !prom) || argv[1][0] == '-') {
		fprintf(stderr, "Usage: gw %s IFACE [--json | --prometheus]\n", argv[0]);
		return 1;
	}
	sbuf_init(&s);
	ret = ask(argv[1], prom ? "metrics" : "stats", &s);
	if (!ret && (e = cmd_answer_error(&s))) {
		fprintf(stderr, "gw: %s", e);
		ret = 1;
	} else if (!ret && json) {
		print_json(s.buf ? s.buf : (char *)"");
	} else if (!ret && s.len) {
		fputs(s.buf, stdout);
	}
	sbuf_free(&s);
	return ret ? 1 : 0;
}
