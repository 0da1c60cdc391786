/* SPDX-License-Identifier: MIT */
/*
 * sysctl — NatPorts in net.ipv4.ip_local_reserved_ports, so the kernel never
 * picks a NAT port as an ephemeral port for the host's own connections
 * (UPLINK.md: with the tc filter alone, every such connection fails).  The
 * setting is per network namespace.  gw merges its range into what is there
 * and at exit takes out only the ports it added: a port that was reserved
 * before stays reserved.  Reserved ports still allow an explicit bind(), so
 * gw also warns about sockets that already hold a port in the range.
 */
#ifndef GW_SYSCTL_H
#define GW_SYSCTL_H

#include <stddef.h>
#include <stdint.h>

enum { SYSCTL_PORTMAP_BYTES = 65536 / 8 };

struct sysctl_ports {
	uint16_t lo, hi;
	uint8_t *ours;	/* bitmap over [lo, hi] of ports gw added; NULL: none */
};

/* Reserves [lo, hi] (merged).  0 or -errno. */
int sysctl_ports_reserve(struct sysctl_ports *s, uint16_t lo, uint16_t hi);
/* Unreserves what reserve added, keeping everything else (also what others
 * added meanwhile).  Idempotent.  0 or -errno. */
int sysctl_ports_release(struct sysctl_ports *s);

/* The sysctl's text ("1,5-9", empty) into / from a 65536-bit map (bit p set:
 * port p reserved).  parse: 0 or -EINVAL; format: 0 or -ENOSPC. */
int sysctl_ports_parse(const char *text, uint8_t map[static SYSCTL_PORTMAP_BYTES]);
int sysctl_ports_format(const uint8_t map[static SYSCTL_PORTMAP_BYTES], char *out, size_t len);

/* Logs each TCP listener and UDP socket of this namespace bound to a port
 * in [lo, hi]; returns how many. */
int sysctl_ports_warn_taken(uint16_t lo, uint16_t hi);

#endif
