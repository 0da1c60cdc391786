/* SPDX-License-Identifier: MIT */
/* gw/config: the config file parser and its file:line errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "gw/config.h"
#include "gw/log.h"
#include "nat/sbuf.h"

#define K1 "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define K2 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define K3 "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="

static const char good[] =
	"# a gateway\n"
	"[Interface]\n"
	"PrivateKey = " K1 "\n"
	"ListenPort = 51820\n"
	"Address = 10.8.0.1/24, fd00::1/64\n"
	"Uplink = eth0\n"
	"Rules = /etc/gw/gw0.rules   # comment\n"
	"NatPorts = 62000-62999\n"
	"ConntrackMax = 1000\n"
	"User = nobody\n"
	"ControlSocket = /run/gw/x.sock\n"
	"IPv6 = Pass\n"
	"UapiSocket = /run/x/uapi.sock\n"
	"FwMark = 0x10\n"
	"LogLevel = Warning\n"
	"Workers = 3\n"
	"\n"
	"[Peer]\n"
	"PublicKey = " K2 "\n"
	"PresharedKey = " K3 "\n"
	"AllowedIPs = 10.8.0.2/32\n"
	"AllowedIPs = 10.9.0.0/16\n"
	"Endpoint = 192.0.2.7:51820\n"
	"PersistentKeepalive = 25\n"
	"[peer]\n"
	"publickey = " K3 "\n"
	"Endpoint = [2001:db8::1]:4500\n";

static void test_good(void **state)
{
	struct config c;
	struct config_error err;
	char buf[64];

	(void)state;
	assert_int_equal(config_parse(&c, "/etc/gw/gw0.conf", good, strlen(good), NULL, &err), 0);
	assert_string_equal(c.ifname, "gw0");
	assert_true(c.has_private_key);
	assert_int_equal(c.listen_port, 51820);
	assert_int_equal(c.n_addresses, 2);
	cidr_format(&c.addresses[0], buf, sizeof(buf));
	assert_string_equal(buf, "10.8.0.1/24");
	cidr_format(&c.addresses[1], buf, sizeof(buf));
	assert_string_equal(buf, "fd00::1/64");
	assert_true(cidr_contains4(&c.addresses[0], 0x0a0800fe));
	assert_false(cidr_contains4(&c.addresses[0], 0x0a0801fe));
	assert_string_equal(c.uplink, "eth0");
	assert_string_equal(c.rules_path, "/etc/gw/gw0.rules");
	assert_int_equal(c.nat_port_min, 62000);
	assert_int_equal(c.nat_port_max, 62999);
	assert_string_equal(c.user, "nobody");
	assert_int_equal(c.user_line, 10);
	assert_int_equal(c.ct_max, 1000);
	assert_int_equal(c.peer_ct_max, 250);
	assert_string_equal(c.control_socket, "/run/gw/x.sock");
	assert_true(c.ipv6_pass);
	assert_string_equal(c.uapi_socket, "/run/x/uapi.sock");
	assert_false(c.uapi_off);
	assert_int_equal(c.fwmark, 16);
	assert_int_equal(c.log_level, LOG_WARNING);
	assert_int_equal(c.workers, 3);
	assert_int_equal(c.n_peers, 2);
	assert_int_equal(c.peers[0].owner, 1);
	assert_int_equal(c.peers[1].owner, 2);
	assert_true(c.peers[0].has_psk);
	assert_int_equal(c.peers[0].n_allowed_ips, 2);
	assert_string_equal(c.peers[0].endpoint, "192.0.2.7:51820");
	assert_int_equal(c.peers[0].persistent_keepalive, 25);
	assert_false(c.peers[1].has_psk);
	assert_string_equal(c.peers[1].endpoint, "[2001:db8::1]:4500");
	config_free(&c);
}

static void test_defaults(void **state)
{
	static const char text[] = "[Interface]\nPrivateKey=" K1 "\n";
	struct config c;
	struct config_error err;

	(void)state;
	assert_int_equal(config_parse(&c, "wg1.conf", text, strlen(text), NULL, &err), 0);
	assert_string_equal(c.ifname, "wg1");
	assert_int_equal(c.nat_port_min, CONFIG_DEFAULT_NAT_MIN);
	assert_int_equal(c.nat_port_max, CONFIG_DEFAULT_NAT_MAX);
	assert_int_equal(c.ct_max, 65536);
	assert_int_equal(c.peer_ct_max, 16384);
	assert_null(c.rules_path);
	assert_false(c.ipv6_pass); /* IPv6 = drop */
	assert_int_equal(c.log_level, 0); /* unset: info */
	assert_int_equal(c.workers, 0); /* unset: one per CPU */
	assert_int_equal(c.n_peers, 0);
	config_free(&c);
}

/* A stock wg-quick server config loads; keys gw does not act on are named. */
static void test_wg_quick(void **state)
{
	static const char text[] =
		"[Interface]\n"
		"Address = 10.200.100.1/24\n"
		"ListenPort = 51820\n"
		"PrivateKey = " K1 "\n"
		"DNS = 10.200.100.1\n"
		"MTU = 1420\n"
		"Table = off\n"
		"PostUp = iptables -A FORWARD -i %i -j ACCEPT\n"
		"PostDown = iptables -D FORWARD -i %i -j ACCEPT\n"
		"SaveConfig = true\n"
		"[Peer]\n"
		"PublicKey = " K2 "\n"
		"AllowedIPs = 10.200.100.2/32\n";
	struct config c;
	struct config_error err;
	struct sbuf warn;

	(void)state;
	sbuf_init(&warn);
	assert_int_equal(config_parse(&c, "wg0.conf", text, strlen(text), &warn, &err), 0);
	assert_int_equal(c.mtu, 1420);
	assert_non_null(strstr(warn.buf, "wg0.conf:5: warning: DNS is not implemented by gw"));
	assert_non_null(strstr(warn.buf, "wg0.conf:7: warning: Table"));
	assert_non_null(strstr(warn.buf, "wg0.conf:8: warning: PostUp"));
	assert_non_null(strstr(warn.buf, "wg0.conf:9: warning: PostDown"));
	assert_non_null(strstr(warn.buf, "wg0.conf:10: warning: SaveConfig"));
	config_free(&c);
	sbuf_free(&warn);
}

/* text;expected error */
static const struct {
	const char *text, *error;
} bad[] = {
	/* 1 */ { "", "gw0.conf:1: no [Interface] section" },
	/* 2 */ { "[Interface]\nPrivateKey = abc\n", "gw0.conf:2: PrivateKey: not a key" },
	/* 3 */ { "[Interface]\nPrivateKey = " K1 "\nFoo = 1\n", "gw0.conf:3: unknown key 'Foo' in [Interface]" },
	/* 4 */ { "[Interface]\nPrivateKey = " K1 "\nAddress = 10.8.0.300/24\n", "gw0.conf:3: Address: '10.8.0.300/24' is not" },
	/* 5 */ { "[Interface]\nPrivateKey = " K1 "\nAddress = 10.8.0.1/33\n", "gw0.conf:3: Address" },
	/* 6 */ { "[Interface]\nPrivateKey = " K1 "\n[Peer]\nPublicKey = " K2 "\n[Peer]\nPublicKey = " K2 "\n",
		  "gw0.conf:5: duplicate peer: same PublicKey as the [Peer] at line 3" },
	/* 7 */ { "[Interface]\nPrivateKey = " K1 "\n[Peer]\nAllowedIPs = 10.0.0.0/8\n", "gw0.conf:3: [Peer] has no PublicKey" },
	/* 8 */ { "PrivateKey = " K1 "\n", "gw0.conf:1: 'PrivateKey' outside of any section" },
	/* 9 */ { "[Interface]\nListenPort = 70000\nPrivateKey = " K1 "\n", "gw0.conf:2: ListenPort" },
	/* 10 */ { "[Interface]\nPrivateKey = " K1 "\nNatPorts = 5000\n", "gw0.conf:3: NatPorts" },
	/* 11 */ { "[Interface]\nPrivateKey = " K1 "\nNatPorts = 6000-5000\n", "gw0.conf:3: NatPorts" },
	/* 12 */ { "[Interface]\nPrivateKey = " K1 "\n[Peer]\nPublicKey = " K2 "\nEndpoint = host\n", "gw0.conf:5: Endpoint" },
	/* 13 */ { "[Interface]\nPrivateKey = " K1 "\n[Peer]\nPublicKey = " K2 "\nPersistentKeepalive = x\n", "gw0.conf:5: PersistentKeepalive" },
	/* 14 */ { "[Interface]\nPrivateKey = " K1 "\n[Nope]\n", "gw0.conf:3: unknown section [Nope]" },
	/* 15 */ { "[Interface]\nPrivateKey = " K1 "\nPrivateKey = " K1 "\n", "gw0.conf:3: PrivateKey is given twice" },
	/* 16 */ { "[Interface]\nPrivateKey = " K1 "\nUplink = a b\n", "gw0.conf:3: Uplink" },
	/* 17 */ { "[Interface]\nPrivateKey = " K1 "\nUplink = waytoolonginterfacename\n", "gw0.conf:3: Uplink" },
	/* 18 */ { "[Interface]\nPrivateKey = " K1 "\njunk\n", "gw0.conf:3: expected 'Key = Value'" },
	/* 19 */ { "[Interface\n", "gw0.conf:1: a section header needs" },
	/* 20 */ { "[Interface]\nAddress = 10.0.0.1/8\n", "gw0.conf:1: [Interface] has no PrivateKey" },
	/* 21 */ { "[Interface]\nPrivateKey =\n", "gw0.conf:2: PrivateKey has no value" },
	/* 22 */ { "[Interface]\nPrivateKey = " K1 "\n[Interface]\n", "gw0.conf:3: a second [Interface]" },
	/* 23 */ { "[Interface]\nPrivateKey = " K1 "\n[Peer]\nPublicKey = " K2 "\nDNS = 1.1.1.1\n", "gw0.conf:5: unknown key 'DNS' in [Peer]" },
	/* 24 */ { "[Interface]\nPrivateKey = " K1 "\nMTU = 100\n", "gw0.conf:3: MTU" },
	/* 25 */ { "[Interface]\nPrivateKey = " K1 "\nConntrackMax = 10\n", "gw0.conf:3: ConntrackMax" },
	/* 26 */ { "[Interface]\nPrivateKey = " K1 "\nConntrackMax = 99999999999\n", "gw0.conf:3: ConntrackMax" },
	/* 27 */ { "[Interface]\nPrivateKey = " K1 "\nPeerConntrackMax = -1\n", "gw0.conf:3: PeerConntrackMax" },
	/* 28 */ { "[Interface]\nPrivateKey = " K1 "\nPeerConntrackMax = 1\nPeerConntrackMax = 2\n",
		   "gw0.conf:4: PeerConntrackMax is given twice" },
	/* 29 */ { "[Interface]\nPrivateKey = " K1 "\nIPv6 = allow\n", "gw0.conf:3: IPv6: 'allow' is not drop or pass" },
	/* 30 */ { "[Interface]\nPrivateKey = " K1 "\nIPv6 = pass\nIPv6 = drop\n", "gw0.conf:4: IPv6 is given twice" },
	/* 31 */ { "[Interface]\nPrivateKey = " K1 "\nUapiSocket = run/x.sock\n",
		   "gw0.conf:3: UapiSocket: 'run/x.sock' is not off or an absolute path" },
	/* 32 */ { "[Interface]\nPrivateKey = " K1 "\nUapiSocket = off\nUapiSocket = /x\n",
		   "gw0.conf:4: UapiSocket is given twice" },
	/* 33 */ { "[Interface]\nPrivateKey = " K1 "\nFwMark = mark\n", "gw0.conf:3: FwMark" },
	/* 34 */ { "[Interface]\nPrivateKey = " K1 "\nFwMark = 0x100000000\n", "gw0.conf:3: FwMark" },
	/* 35 */ { "[Interface]\nPrivateKey = " K1 "\nFwMark = -1\n", "gw0.conf:3: FwMark" },
	/* 36 */ { "[Interface]\nPrivateKey = " K1 "\nLogLevel = verbose\n",
		   "gw0.conf:3: LogLevel: 'verbose' is not error, warning, notice, info or debug" },
	/* 37 */ { "[Interface]\nPrivateKey = " K1 "\nLogLevel = 7\n", "gw0.conf:3: LogLevel: '7'" },
	/* 38 */ { "[Interface]\nLogLevel = info\nPrivateKey = " K1 "\nLogLevel = debug\n",
		   "gw0.conf:4: LogLevel is given twice" },
	/* 39 */ { "[Interface]\nPrivateKey = " K1 "\n[Peer]\nPublicKey = " K2 "\nLogLevel = info\n",
		   "gw0.conf:5: unknown key 'LogLevel' in [Peer]" },
	/* 40 */ { "[Interface]\nPrivateKey = " K1 "\nWorkers = 0\n",
		   "gw0.conf:3: Workers: '0' is not a number of threads (1-1024)" },
	/* 41 */ { "[Interface]\nPrivateKey = " K1 "\nWorkers = 1025\n", "gw0.conf:3: Workers" },
	/* 42 */ { "[Interface]\nPrivateKey = " K1 "\nWorkers = two\n", "gw0.conf:3: Workers" },
	/* 43 */ { "[Interface]\nWorkers = 2\nPrivateKey = " K1 "\nWorkers = 2\n",
		   "gw0.conf:4: Workers is given twice" },
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config c;
		struct config_error err;
		int ret = config_parse(&c, "gw0.conf", bad[i].text, strlen(bad[i].text), NULL, &err);

		if (ret != -EINVAL || strncmp(err.message, bad[i].error, strlen(bad[i].error)))
			fail_msg("case %zu: ret %d, message '%s', want '%s'", i + 1, ret,
				 err.message, bad[i].error);
	}
}

static void test_nul_and_name(void **state)
{
	static const char text[] = "[Interface]\nPrivateKey = " K1 "\n\0junk";
	struct config c;
	struct config_error err;

	(void)state;
	assert_int_equal(config_parse(&c, "gw0.conf", text, sizeof(text) - 1, NULL, &err), -EINVAL);
	assert_string_equal(err.message, "gw0.conf:3: a NUL byte in the file");
	assert_int_equal(config_parse(&c, "/x/averyveryverylongname.conf", text, strlen(text), NULL, &err), -EINVAL);
	assert_non_null(strstr(err.message, "at most 15 characters"));
}

/* Every prefix of a valid file either parses or fails cleanly (ASan). */
static void test_truncations(void **state)
{
	(void)state;
	for (size_t n = 0; n <= sizeof(good) - 1; n++) {
		struct config c;
		struct config_error err;
		char *copy = malloc(n ? n : 1);

		memcpy(copy, good, n);
		if (config_parse(&c, "gw0.conf", copy, n, NULL, &err) == 0)
			config_free(&c);
		free(copy);
	}
}


/* gw run IFACE: a bare interface name is $GW_CONFIG_DIR/IFACE.conf. */
static void test_find(void **state)
{
	char out[64];

	(void)state;
	unsetenv("GW_CONFIG_DIR");
	assert_int_equal(config_find("gw0", out, sizeof(out)), 0);
	assert_string_equal(out, "/etc/gw/gw0.conf");
	assert_int_equal(config_find("gw0.conf", out, sizeof(out)), 0);
	assert_string_equal(out, "gw0.conf");
	assert_int_equal(config_find("./gw0", out, sizeof(out)), 0);
	assert_string_equal(out, "./gw0");
	assert_int_equal(config_find("/x/wg0.conf", out, sizeof(out)), 0);
	assert_string_equal(out, "/x/wg0.conf");
	/* 16 characters: no interface name, so a path */
	assert_int_equal(config_find("abcdefghijklmnop", out, sizeof(out)), 0);
	assert_string_equal(out, "abcdefghijklmnop");
	assert_int_equal(config_find("a b", out, sizeof(out)), 0);
	assert_string_equal(out, "a b");
	setenv("GW_CONFIG_DIR", "/tmp/cfg", 1);
	assert_int_equal(config_find("wg-1.a", out, sizeof(out)), 0);
	assert_string_equal(out, "/tmp/cfg/wg-1.a.conf");
	assert_int_equal(config_find("gw0", out, 10), -ENAMETOOLONG);
	unsetenv("GW_CONFIG_DIR");
}

/* A scratch directory for key files: mode 0755, so a 0644 file in it is
 * world accessible as wg-quick tests it. */
static char dir[64];

static void put(const char *name, const char *text, mode_t mode)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int parse_in_dir(struct config *c, const char *text, struct sbuf *warn,
			struct config_error *err)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/gw0.conf", dir);
	return config_parse(c, path, text, strlen(text), warn, err);
}

static void test_key_files(void **state)
{
	uint8_t k1[KEY_LEN], k3[KEY_LEN];
	struct config c;
	struct config_error err;
	struct sbuf warn;
	char want[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/gw-test-config.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	put("priv", K1 "\n", 0600);
	put("psk", K3 " \t\n\n", 0600);
	put("open", K1 "\n", 0644);
	put("bad", "not a key\n", 0600);
	put("short", "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm=\n", 0600);
	assert_int_equal(key_from_base64(k1, K1, strlen(K1)), 0);
	assert_int_equal(key_from_base64(k3, K3, strlen(K3)), 0);
	sbuf_init(&warn);

	/* relative to the config's directory; trailing blanks and newlines */
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = priv\n[Peer]\n"
				      "PublicKey = " K2 "\nPresharedKeyFile = psk\n", &warn, &err), 0);
	assert_memory_equal(c.private_key, k1, KEY_LEN);
	assert_true(c.peers[0].has_psk);
	assert_memory_equal(c.peers[0].preshared_key, k3, KEY_LEN);
	assert_false(c.secrets_inline);
	config_warn_access(&c, &warn);
	assert_int_equal(warn.len, 0);
	config_free(&c);

	/* world accessible: wg-quick's words, from gw run's check */
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = open\n", &warn, &err), 0);
	assert_int_equal(warn.len, 0);
	config_warn_access(&c, &warn);
	snprintf(want, sizeof(want), "Warning: `%s/open' is world accessible\n", dir);
	assert_string_equal(warn.buf, want);
	config_free(&c);
	sbuf_reset(&warn);
	/* ... not when the directory keeps others out */
	assert_int_equal(chmod(dir, 0750), 0);
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = open\n", &warn, &err), 0);
	config_warn_access(&c, &warn);
	assert_int_equal(warn.len, 0);
	config_free(&c);
	assert_int_equal(chmod(dir, 0755), 0);

	/* errors: file:line: message */
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = nope\n", &warn, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s/gw0.conf:2: PrivateKeyFile: %s/nope: No such file or directory",
		 dir, dir);
	assert_string_equal(err.message, want);
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = bad\n", &warn, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s/gw0.conf:2: PrivateKeyFile: %s/bad does not hold a key", dir, dir);
	assert_int_equal(strncmp(err.message, want, strlen(want)), 0);
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = short\n", &warn, &err), -EINVAL);
	assert_non_null(strstr(err.message, "gw0.conf:2: PrivateKeyFile:"));
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = /tmp\n", &warn, &err), -EINVAL);
	assert_non_null(strstr(err.message, "gw0.conf:2: PrivateKeyFile: /tmp: not a regular file"));
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKey = " K1 "\nPrivateKeyFile = priv\n",
				      &warn, &err), -EINVAL);
	assert_non_null(strstr(err.message, "gw0.conf:3: PrivateKey and PrivateKeyFile are both given"));
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = priv\nPrivateKey = " K1 "\n",
				      &warn, &err), -EINVAL);
	assert_non_null(strstr(err.message, "gw0.conf:3: PrivateKey and PrivateKeyFile are both given"));
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = priv\nPrivateKeyFile = priv\n",
				      &warn, &err), -EINVAL);
	assert_non_null(strstr(err.message, "gw0.conf:3: PrivateKeyFile is given twice"));
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = priv\n[Peer]\nPublicKey = " K2
				      "\nPresharedKey = " K3 "\nPresharedKeyFile = psk\n", &warn, &err), -EINVAL);
	assert_non_null(strstr(err.message, "gw0.conf:6: PresharedKey and PresharedKeyFile are both given"));
	assert_int_equal(parse_in_dir(&c, "[Interface]\nPrivateKeyFile = priv\n[Peer]\nPublicKey = " K2
				      "\nPresharedKeyFile = bad\n", &warn, &err), -EINVAL);
	assert_non_null(strstr(err.message, "gw0.conf:5: PresharedKeyFile:"));
	sbuf_free(&warn);
}

/* config_warn_access: a config that holds a key itself warns as wg-quick does when
 * others can read it; one that only names key files does not. */
static void test_world_accessible(void **state)
{
	char path[128], want[256];
	struct config c;
	struct config_error err;
	struct sbuf warn;

	(void)state;
	sbuf_init(&warn);
	snprintf(path, sizeof(path), "%s/gw0.conf", dir);
	put("gw0.conf", "[Interface]\nPrivateKey = " K1 "\n", 0644);
	assert_int_equal(config_load(&c, path, &warn, &err), 0);
	config_warn_access(&c, &warn);
	snprintf(want, sizeof(want), "Warning: `%s' is world accessible\n", path);
	assert_string_equal(warn.buf, want);
	config_free(&c);
	sbuf_reset(&warn);
	put("gw0.conf", "[Interface]\nPrivateKey = " K1 "\n", 0640);
	assert_int_equal(config_load(&c, path, &warn, &err), 0);
	config_warn_access(&c, &warn);
	assert_int_equal(warn.len, 0);
	config_free(&c);
	put("gw0.conf", "[Interface]\nPrivateKeyFile = priv\n[Peer]\nPublicKey = " K2 "\n"
	    "PresharedKey = " K3 "\n", 0604);
	assert_int_equal(config_load(&c, path, &warn, &err), 0);
	config_warn_access(&c, &warn);
	assert_string_equal(warn.buf, want);
	config_free(&c);
	sbuf_reset(&warn);
	put("gw0.conf", "[Interface]\nPrivateKeyFile = priv\n", 0644);
	assert_int_equal(config_load(&c, path, &warn, &err), 0);
	config_warn_access(&c, &warn);
	assert_int_equal(warn.len, 0);
	config_free(&c);
	sbuf_free(&warn);
	{
		const char *names[] = { "priv", "psk", "open", "bad", "short", "gw0.conf" };

		for (size_t i = 0; i < 6; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			unlink(path);
		}
		rmdir(dir);
	}
}

/* A hook line (%i is gw0) -> what the warnings must hold, and must not. */
static const struct {
	const char *key, *line, *want[4], *not;
} hooks[] = {
	/* 1 */ { "PostUp", "iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE",
		  { "gw0.conf:3: warning: PostUp is not run by gw", "Rules file",
		    "\n    *nat\n    -A POSTROUTING -o eth0 -j MASQUERADE\n    COMMIT\n" }, "filter" },
	/* 2 */ { "PostUp", "iptables -A FORWARD -i %i -j ACCEPT; iptables -A FORWARD -o %i -j ACCEPT",
		  { "\n    *filter\n    -A FORWARD -i gw0 -j ACCEPT\n    -A FORWARD -o gw0 -j ACCEPT\n"
		    "    COMMIT\n" }, "%i" },
	/* 3 */ { "PostDown", "iptables -D FORWARD -i %i -j ACCEPT; iptables -t nat -D POSTROUTING -o eth0 -j MASQUERADE",
		  { "gw0.conf:3: warning: PostDown: `iptables -D FORWARD -i gw0 -j ACCEPT' deletes a rule",
		    "`iptables -t nat -D POSTROUTING -o eth0 -j MASQUERADE' deletes a rule" }, "COMMIT" },
	/* 4: a match gw does not have: said, not suggested */
	/* 4 */ { "PostUp", "iptables -A FORWARD -m nosuch -j ACCEPT",
		  { "`iptables -A FORWARD -m nosuch -j ACCEPT' would be `-A FORWARD -m nosuch -j ACCEPT'"
		    " in *filter, which gw's rules refuse (unknown match \"nosuch\"): not suggested" },
		  "COMMIT" },
	/* 5 */ { "PostUp", "sysctl -w net.ipv4.ip_forward=1",
		  { "gw0.conf:3: warning: PostUp is not implemented by gw; ignored" }, "Rules" },
	/* 6 */ { "PreUp", "iptables -w 5 -N vpn && iptables -I FORWARD 1 -j vpn && iptables -A vpn -s 10.8.0.0/24 -m comment --comment 'from peers' -j ACCEPT",
		  { "    *filter\n    :vpn - [0:0]\n    -I FORWARD 1 -j vpn\n"
		    "    -A vpn -s 10.8.0.0/24 -m comment --comment \"from peers\" -j ACCEPT\n    COMMIT\n" }, "-w" },
	/* 7 */ { "PostUp", "iptables -P FORWARD DROP; /usr/sbin/iptables-legacy --table=mangle --append FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
		  { "    *filter\n    :FORWARD DROP [0:0]\n    COMMIT\n",
		    "    *mangle\n    -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n" }, NULL },
	/* 8 */ { "PostUp", "iptables -t nat -A POSTROUTING -o $(ip route | awk '/default/{print $5}') -j MASQUERADE; echo hi",
		  { "needs a shell: not translated", "`echo hi' is not run by gw: ignored" }, "COMMIT" },
	/* 9: ip6tables into the Rules6 file, beside iptables into Rules */
	/* 9 */ { "PostUp", "ip6tables -A FORWARD -i %i -j ACCEPT; ip6tables -t nat -A POSTROUTING -o eth0 -j MASQUERADE; iptables -A FORWARD -o %i -j ACCEPT",
		  { "Put them into the Rules file (Rules = FILE in [Interface], iptables-restore format):\n"
		    "    *filter\n    -A FORWARD -o gw0 -j ACCEPT\n    COMMIT\n",
		    "its ip6tables rules would not see the tunnel's packets: gw's own rules do.  Put them "
		    "into the Rules6 file (Rules6 = FILE in [Interface], ip6tables-restore format):\n"
		    "    *filter\n    -A FORWARD -i gw0 -j ACCEPT\n    COMMIT\n"
		    "    *nat\n    -A POSTROUTING -o eth0 -j MASQUERADE\n    COMMIT\n" }, "%i" },
	/* 10 */ { "PostUp", "iptables -F; iptables -A",
		  { "`iptables -F' is not one rule to add", "`iptables -A' is not one rule to add" }, "COMMIT" },
	/* 11: a target that needs a chain the line does not make */
	/* 11 */ { "PostUp", "iptables -A FORWARD -j nochain",
		  { "which gw's rules refuse" }, "COMMIT" },
};

static void test_hooks(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		char text[1024];
		struct config c;
		struct config_error err;
		struct sbuf warn;

		snprintf(text, sizeof(text), "[Interface]\nPrivateKey = " K1 "\n%s = %s\n",
			 hooks[i].key, hooks[i].line);
		sbuf_init(&warn);
		if (config_parse(&c, "/etc/gw/gw0.conf", text, strlen(text), &warn, &err))
			fail_msg("case %zu: %s", i + 1, err.message);
		config_free(&c);
		for (size_t j = 0; j < 4 && hooks[i].want[j]; j++)
			if (!warn.buf || !strstr(warn.buf, hooks[i].want[j]))
				fail_msg("case %zu: want '%s' in:\n%s", i + 1, hooks[i].want[j],
					 warn.buf ? warn.buf : "");
		if (hooks[i].not && warn.buf && strstr(warn.buf, hooks[i].not))
			fail_msg("case %zu: '%s' in:\n%s", i + 1, hooks[i].not, warn.buf);
		sbuf_free(&warn);
	}
}

/* config_format's text parses back to the same config, and formats to the
 * same text again (gw show IFACE conf -> gw run). */
static void test_format(void **state)
{
	static const char off[] = "[Interface]\nPrivateKey = " K1 "\nUapiSocket = off\n"
				  "FwMark = off\n[Peer]\nPublicKey = " K2 "\n";
	const char *texts[] = { good, off };
	uint8_t key[32];

	(void)state;
	assert_int_equal(key_from_base64(key, K1, strlen(K1)), 0);
	for (size_t t = 0; t < 2; t++) {
		struct config c, d;
		struct config_error err;
		struct sbuf a, b;

		sbuf_init(&a);
		sbuf_init(&b);
		assert_int_equal(config_parse(&c, "gw0.conf", texts[t], strlen(texts[t]), NULL, &err), 0);
		config_format(&c, key, &a);
		assert_non_null(a.buf);
		if (config_parse(&d, "gw0.conf", a.buf, a.len, NULL, &err))
			fail_msg("%s in:\n%s", err.message, a.buf);
		config_format(&d, key, &b);
		assert_string_equal(a.buf, b.buf);
		assert_int_equal(d.n_peers, c.n_peers);
		assert_int_equal(d.uapi_off, c.uapi_off);
		assert_int_equal(d.fwmark, c.fwmark);
		assert_int_equal(d.log_level, c.log_level);
		assert_int_equal(d.workers, c.workers);
		assert_memory_equal(d.private_key, key, 32);
		assert_non_null(strstr(a.buf, "PrivateKey = " K1 "\n"));
		config_free(&c);
		config_free(&d);
		sbuf_free(&a);
		sbuf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_wg_quick),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_nul_and_name),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_world_accessible),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_format),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
