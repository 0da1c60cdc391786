/* SPDX-License-Identifier: MIT */
/* What fuzz_uplink and fuzz_uplink6 share: an uplink with its receive
 * arenas and no sockets, and the sum of its drop counters. */
#ifndef TESTS_FUZZ_UPLINK_FUZZ_H
#define TESTS_FUZZ_UPLINK_FUZZ_H

#include <stdint.h>
#include <string.h>

#include "gw/uplink.h"

/* u's arenas (never freed: reused, as in gw), no socket, MAC 02:00:00:00:00:01 */
static inline int uplink_fuzz_init(struct uplink *u)
{
	int rc = uplink_rx_init(u);

	u->pfd = -1;
	u->tx.rfd = u->tx.xfd = u->tx.gfd = -1;
	memcpy(u->mac, "\x02\x00\x00\x00\x00\x01", 6);
	return rc;
}

static inline uint64_t uplink_fuzz_drops(const struct uplink *u)
{
	uint64_t d = 0;

	for (unsigned i = 0; i < UPLINK_DROP__MAX; i++)
		d += u->st.drop[i];
	return d;
}

#endif
