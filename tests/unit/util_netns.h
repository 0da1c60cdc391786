/* SPDX-License-Identifier: MIT */
/* The loopback tests talk only to a network namespace of their own (a fresh
 * one, with lo up), never to the machine's: cmocka group setups. */
#ifndef GW_TESTS_UTIL_NETNS_H
#define GW_TESTS_UTIL_NETNS_H

/* unshare(CLONE_NEWNET) and lo up: 0, or -1 with why on stderr (the tests
 * need root, as make test has).  A cmocka group setup. */
int own_netns(void **state);

#endif
