/* SPDX-License-Identifier: MIT */
/* gw/uapi: the set=1 parser — every key, the order rules wireguard-go
 * applies lines by, a table of bad requests with their errno, and every
 * bit flip and truncation of a valid request (parse or refuse cleanly). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <sodium.h>

#include "gw/uapi.h"
#include "nat/sbuf.h"
#include "tests/unit/util_mutate.h"

#define HA "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define HB "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
#define HZ "0000000000000000000000000000000000000000000000000000000000000000"

static const char full[] =
	"private_key=" HA "\n"
	"listen_port=51820\n"
	"fwmark=42\n"
	"replace_peers=true\n"
	"public_key=" HB "\n"
	"preshared_key=" HA "\n"
	"endpoint=[2001:db8::0001]:4500\n"
	"persistent_keepalive_interval=25\n"
	"replace_allowed_ips=true\n"
	"allowed_ip=10.8.0.7/24\n"
	"allowed_ip=fd00::1:2/64\n"
	"protocol_version=1\n"
	"public_key=" HA "\n"
	"update_only=true\n"
	"endpoint=192.0.2.1:1\n"
	"\n"
	"this is not read\n";

static int parse(struct uapi_set *s, const char *text)
{
	char why[128];

	return uapi_parse_set(s, text, strlen(text), why, sizeof(why));
}

static void test_full(void **state)
{
	struct uapi_set s;
	uint8_t a[32], b[32];
	char text[64];

	(void)state;
	assert_int_equal(sodium_hex2bin(a, 32, HA, 64, NULL, NULL, NULL), 0);
	assert_int_equal(sodium_hex2bin(b, 32, HB, 64, NULL, NULL, NULL), 0);
	assert_int_equal(parse(&s, full), 0);
	assert_true(s.has_private_key);
	assert_memory_equal(s.private_key, a, 32);
	assert_true(s.has_listen_port);
	assert_int_equal(s.listen_port, 51820);
	assert_true(s.has_fwmark);
	assert_int_equal(s.fwmark, 42);
	assert_true(s.replace_peers);
	assert_int_equal(s.npeers, 2);
	assert_memory_equal(s.peers[0].pub, b, 32);
	assert_true(s.peers[0].has_psk);
	assert_memory_equal(s.peers[0].psk, a, 32);
	assert_true(s.peers[0].has_endpoint);
	assert_string_equal(s.peers[0].endpoint_text, "[2001:db8::1]:4500");
	assert_true(s.peers[0].has_keepalive);
	assert_int_equal(s.peers[0].keepalive, 25);
	assert_true(s.peers[0].replace_aips);
	assert_int_equal(s.peers[0].naips, 2);
	cidr_format(&s.peers[0].aips[0], text, sizeof(text));
	assert_string_equal(text, "10.8.0.0/24"); /* masked, as wg reports it */
	cidr_format(&s.peers[0].aips[1], text, sizeof(text));
	assert_string_equal(text, "fd00::/64");
	assert_true(s.peers[1].update_only);
	assert_string_equal(s.peers[1].endpoint_text, "192.0.2.1:1");
	assert_false(s.peers[1].has_psk);
	uapi_set_free(&s);
	/* upper-case hex is hex too; no empty line: the end of the text ends it */
	assert_int_equal(parse(&s, "public_key=E84B5A6D2717C1003A13B431570353DBACA9146CF150C5F8575680FEBA52027A"), 0);
	assert_memory_equal(s.peers[0].pub, a, 32);
	uapi_set_free(&s);
	/* an empty request is a set of nothing */
	assert_int_equal(parse(&s, "\n"), 0);
	assert_int_equal(s.npeers, 0);
	assert_false(s.has_private_key || s.has_listen_port || s.replace_peers);
	uapi_set_free(&s);
}

/* Lines take effect in order: replace_allowed_ips drops the prefixes
 * before it, a removed peer's later lines are checked but not taken. */
static void test_order(void **state)
{
	struct uapi_set s;

	(void)state;
	assert_int_equal(parse(&s, "public_key=" HB "\nallowed_ip=10.0.0.1/32\n"
				   "allowed_ip=10.0.0.2/32\nreplace_allowed_ips=true\n"
				   "allowed_ip=10.0.0.3/32\n\n"), 0);
	assert_int_equal(s.peers[0].naips, 1);
	assert_int_equal(s.peers[0].aips[0].addr[3], 3);
	uapi_set_free(&s);
	assert_int_equal(parse(&s, "public_key=" HB "\nallowed_ip=10.0.0.1/32\nremove=true\n"
				   "allowed_ip=10.0.0.2/32\npreshared_key=" HA "\n"
				   "persistent_keepalive_interval=5\npublic_key=" HA "\n\n"), 0);
	assert_true(s.peers[0].remove);
	assert_int_equal(s.peers[0].naips, 1);
	assert_false(s.peers[0].has_psk);
	assert_false(s.peers[0].has_keepalive);
	assert_int_equal(s.npeers, 2);
	uapi_set_free(&s);
	/* after remove, a bad line is still refused */
	assert_int_equal(parse(&s, "public_key=" HB "\nremove=true\nallowed_ip=10.0.0.300/32\n"),
			 -EINVAL);
}

/* request;errno */
static const struct {
	const char *text;
	int err;
} bad[] = {
	/* 1 */ { "listen_port\n", -EPROTO },
	/* 2 */ { "private_key=" HZ "\n", -EINVAL },
	/* 3 */ { "private_key=abc\n", -EINVAL },
	/* 4 */ { "private_key=" HA "0\n", -EINVAL },
	/* 5 */ { "private_key=" "g" HA "\n", -EINVAL },
	/* 6 */ { "listen_port=65536\n", -EINVAL },
	/* 7 */ { "listen_port=-1\n", -EINVAL },
	/* 8 */ { "listen_port=\n", -EINVAL },
	/* 9 */ { "listen_port= 1\n", -EINVAL },
	/* 10 */ { "fwmark=4294967296\n", -EINVAL },
	/* 11 */ { "fwmark=0x10\n", -EINVAL },
	/* 12 */ { "replace_peers=false\n", -EINVAL },
	/* 13 */ { "bogus=1\n", -EINVAL },
	/* 14 */ { "public_key=" HB "\nlisten_port=1\n", -EINVAL },
	/* 15 */ { "public_key=" HB "\nallowed_ip=10.0.0.1\n", -EINVAL },
	/* 16 */ { "public_key=" HB "\nallowed_ip=10.0.0.1/33\n", -EINVAL },
	/* 17 */ { "public_key=" HB "\nallowed_ip=fd00::/129\n", -EINVAL },
	/* 18 */ { "public_key=" HB "\nallowed_ip=10.0.0.1/\n", -EINVAL },
	/* 19 */ { "public_key=" HB "\nallowed_ip=/8\n", -EINVAL },
	/* 20 */ { "public_key=" HB "\nendpoint=example.com:51820\n", -EINVAL },
	/* 21 */ { "public_key=" HB "\nendpoint=192.0.2.1\n", -EINVAL },
	/* 22 */ { "public_key=" HB "\nendpoint=[2001:db8::1]\n", -EINVAL },
	/* 23 */ { "public_key=" HB "\nendpoint=2001:db8::1:51820\n", -EINVAL },
	/* 24 */ { "public_key=" HB "\nendpoint=192.0.2.1:65536\n", -EINVAL },
	/* 25 */ { "public_key=" HB "\npersistent_keepalive_interval=65536\n", -EINVAL },
	/* 26 */ { "public_key=" HB "\nprotocol_version=2\n", -EINVAL },
	/* 27 */ { "public_key=" HB "\nremove=1\n", -EINVAL },
	/* 28 */ { "public_key=" HB "\nupdate_only=yes\n", -EINVAL },
	/* 29 */ { "public_key=" HB "\nreplace_allowed_ips=\n", -EINVAL },
	/* 30 */ { "public_key=" HB "\npreshared_key=" HA "ff\n", -EINVAL },
	/* 31 */ { "public_key=" HB "\nbogus=1\n", -EINVAL },
	/* 32 */ { "public_key=\n", -EINVAL },
	/* 33 */ { "public_key=" HB "\nno equals sign\n", -EPROTO },
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct uapi_set s;
		char why[128] = "";
		int ret = uapi_parse_set(&s, bad[i].text, strlen(bad[i].text), why, sizeof(why));

		if (ret != bad[i].err)
			fail_msg("case %zu: %d, want %d", i + 1, ret, bad[i].err);
		if (strncmp(why, "line ", 5))
			fail_msg("case %zu: why '%s' names no line", i + 1, why);
		/* a key's value never reaches the reason */
		if (strstr(why, HA) || strstr(why, HB))
			fail_msg("case %zu: why '%s' holds a key", i + 1, why);
		assert_int_equal(s.npeers, 0);
		assert_null(s.peers);
	}
	/* a line too long, a NUL byte */
	char *longline = malloc(2000);
	struct uapi_set s;

	assert_non_null(longline);
	memset(longline, 'a', 1999);
	memcpy(longline, "fwmark=", 7);
	longline[1999] = 0;
	assert_int_equal(parse(&s, longline), -EINVAL);
	free(longline);
	{
		static const char nul[] = "fwmark=1\0\n";
		char why[64];

		assert_int_equal(uapi_parse_set(&s, nul, sizeof(nul) - 1, why, sizeof(why)), -EINVAL);
	}
}

static void mutant(void *ctx, uint8_t *buf, size_t len, const struct mutant *m)
{
	struct uapi_set s;
	char why[128];
	unsigned *ok = ctx;

	(void)m;
	if (uapi_parse_set(&s, (const char *)buf, len, why, sizeof(why)) == 0) {
		for (size_t i = 0; i < s.npeers; i++)
			for (size_t k = 0; k < s.peers[i].naips; k++)
				assert_true(s.peers[i].aips[k].prefix <=
					    (s.peers[i].aips[k].family == AF_INET ? 32 : 128));
		uapi_set_free(&s);
		(*ok)++;
	}
}

static void test_mutants(void **state)
{
	unsigned ok = 0;
	size_t n = mutate_all((const uint8_t *)full, sizeof(full) - 1, mutant, &ok);

	(void)state;
	assert_true(n > 0);
	assert_true(ok > 0 && ok < n);
}

static void test_key_hex(void **state)
{
	struct sbuf s;
	uint8_t k[32];

	(void)state;
	assert_int_equal(sodium_hex2bin(k, 32, HA, 64, NULL, NULL, NULL), 0);
	sbuf_init(&s);
	uapi_key_hex(&s, "public_key", k);
	assert_string_equal(s.buf, "public_key=" HA "\n");
	sbuf_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_mutants),
		cmocka_unit_test(test_key_hex),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
