/* SPDX-License-Identifier: MIT */
/* gw genkey | genpsk | pubkey: the key tools, interchangeable with wg's. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/key.h"
#include "gw/cmd.h"

static int no_args(int argc, char **argv)
{
	if (argc == 1)
		return 0;
	fprintf(stderr, "Usage: gw %s\n", argv[0]);
	return -EINVAL;
}

/* As wg does: a private key written to a file others can read is a mistake. */
static void warn_world_readable(void)
{
	struct stat st;

	if (!fstat(STDOUT_FILENO, &st) && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fputs("Warning: writing to world accessible file.\n"
		      "Consider setting the umask to 077 and trying again.\n", stderr);
}

static int put_key(const uint8_t key[static KEY_LEN])
{
	char b64[KEY_B64_LEN + 1];
	int ret = 0;

	key_to_base64(b64, key);
	if (puts(b64) == EOF || fflush(stdout) == EOF) {
		perror("gw: stdout");
		ret = 1;
	}
	sodium_memzero(b64, sizeof(b64));
	return ret;
}

static int genkey(int argc, char **argv, bool psk)
{
	uint8_t key[KEY_LEN];
	int ret;

	if (no_args(argc, argv))
		return 1;
	warn_world_readable();
	if (psk)
		key_generate_psk(key);
	else
		key_generate_private(key);
	ret = put_key(key);
	sodium_memzero(key, sizeof(key));
	return ret;
}

int cmd_genkey(int argc, char **argv)
{
	return genkey(argc, argv, false);
}

int cmd_genpsk(int argc, char **argv)
{
	return genkey(argc, argv, true);
}

/* Reads one base64 key from stdin; only trailing whitespace may follow it
 * (wg pubkey accepts exactly the same). */
int cmd_pubkey(int argc, char **argv)
{
	char buf[128];
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	size_t len;
	int ret = 1;

	if (no_args(argc, argv))
		return 1;
	len = fread(buf, 1, sizeof(buf) - 1, stdin);
	if (ferror(stdin)) {
		perror("gw: pubkey: stdin");
		goto out;
	}
	if (len == sizeof(buf) - 1 && !feof(stdin))
		goto bad; /* far longer than a key */
	while (len && isspace((unsigned char)buf[len - 1]))
		len--;
	if (key_from_base64(priv, buf, len))
		goto bad;
	if (key_public(pub, priv)) {
		fputs("gw: pubkey: the key gives the zero point\n", stderr);
		goto out;
	}
	ret = put_key(pub);
	goto out;
bad:
	fputs("gw: pubkey: not a key: expected 44 base64 characters ending in '='\n", stderr);
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(priv, sizeof(priv));
	return ret;
}
