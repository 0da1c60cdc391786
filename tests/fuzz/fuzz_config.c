/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the config parser (gw/config.c), wg-quick syntax plus gw's
 * keys.  Accepted or refused, nothing may leak or crash; a refusal names
 * the file ("fuzz.conf:LINE: ..."); an accepted config holds what the
 * parser promises (a private key, NatPorts in order, peers with keys).
 *
 * Seeds: the .conf files in contrib/examples and those the netns tests write.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw/config.h"
#include "nat/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct config_error err;
	struct sbuf warn;

	sbuf_init(&warn);
	memset(&err, 0, sizeof(err));
	if (config_parse(&c, "/etc/gw/fuzz.conf", (const char *)data, size, &warn, &err)) {
		if (strncmp(err.message, "/etc/gw/fuzz.conf:", 18) != 0)
			abort(); /* every refusal names the file (and the line) */
	} else {
		if (!c.has_private_key || c.nat_port_min > c.nat_port_max ||
		    strcmp(c.ifname, "fuzz") != 0)
			abort();
		for (size_t i = 0; i < c.n_addresses; i++)
			if (!(c.addresses[i].family == AF_INET && c.addresses[i].prefix <= 32) &&
			    !(c.addresses[i].family == AF_INET6 && c.addresses[i].prefix <= 128))
				abort();
		config_free(&c);
	}
	sbuf_free(&warn);
	return 0;
}
