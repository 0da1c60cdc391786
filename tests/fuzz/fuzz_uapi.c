/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the UAPI set parser (gw/uapi.c), what a local client writes
 * after "set=1\n".  Accepted or refused, nothing may leak or crash; a
 * refusal is -EINVAL, -EPROTO or -ENOMEM, names its line and leaves the
 * set empty; an accepted set holds what the parser promises (prefixes
 * within their family's length and masked, canonical endpoint text, no
 * peer lines taken after a remove).
 *
 * Seeds: the requests wg(8) writes, e.g. "private_key=<hex>\nlisten_port=
 * 51820\npublic_key=<hex>\nreplace_allowed_ips=true\nallowed_ip=10.8.0.2/32\n\n".
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uapi_set s;
	char why[160] = "";
	int ret = uapi_parse_set(&s, (const char *)data, size, why, sizeof(why));

	if (ret) {
		if ((ret != -EINVAL && ret != -EPROTO && ret != -ENOMEM) || s.peers || s.npeers ||
		    strncmp(why, "line ", 5))
			abort();
		return 0;
	}
	for (size_t i = 0; i < s.npeers; i++) {
		const struct uapi_peer_op *op = &s.peers[i];

		if (op->has_endpoint != (op->endpoint_text != NULL) ||
		    (op->has_endpoint && !op->endpoint.len))
			abort();
		for (size_t k = 0; k < op->naips; k++) {
			struct cidr c = op->aips[k];

			if (c.family != AF_INET && c.family != AF_INET6)
				abort();
			if (c.prefix > (c.family == AF_INET ? 32 : 128))
				abort();
			uapi_cidr_mask(&c);
			if (memcmp(&c, &op->aips[k], sizeof(c)))
				abort(); /* masked already */
		}
	}
	uapi_set_free(&s);
	return 0;
}
