/* SPDX-License-Identifier: MIT */
/*
 * sysctl — gw's ports in net.ipv4.ip_local_reserved_ports, so the kernel
 * never picks one of them as an ephemeral port for the host's own
 * connections (UPLINK.md: with the tc filter alone, every such connection
 * fails): NatPorts, and the DNAT-ed ports inside ip_local_port_range
 * (gw/uplink.h decides which).  The setting is per network namespace.  gw
 * keeps a map of the ports it added: it adds what it wants that is not
 * reserved yet, takes out what it added and no longer wants, and at exit
 * takes out only what it added — a port reserved by someone else is never
 * touched.  Reserved ports still allow an explicit bind(), so gw also warns
 * about sockets that already hold a NatPort.
 *
 * IPv6: there is no IPv6 copy of either sysctl.  Linux's
 * inet_is_local_reserved_port() and inet_get_local_port_range() serve
 * AF_INET6 sockets too, so the one reservation covers NatPorts for both
 * families.  Measured on this kernel (6.18) in a namespace with
 * ip_local_port_range 61980-62019 and 61000-61999 reserved: bind(0) of
 * IPv6-only UDP and TCP sockets and of dual-stack TCP sockets gets exactly
 * the 20 ports 62000-62019, 40 without the reservation; connect() of TCPv6
 * and UDPv6 the same (tests/netns/51-uplink6.sh).
 */
#ifndef GW_SYSCTL_H
#define GW_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SYSCTL_PORTMAP_BYTES = 65536 / 8 };

struct sysctl_ports {
	uint8_t *ours;	/* SYSCTL_PORTMAP_BYTES: the ports gw added; NULL: none */
};

/* Makes gw's share of the sysctl exactly want (a port map, bit p: port p):
 * adds the wanted ports that are not reserved, takes out the ports gw added
 * that want lacks.  Writes only when something changes.  0, or -errno with
 * nothing changed. */
int sysctl_ports_set(struct sysctl_ports *s, const uint8_t want[static SYSCTL_PORTMAP_BYTES]);
/* Takes out what gw added, keeping everything else (also what others added
 * meanwhile).  Idempotent.  0 or -errno. */
int sysctl_ports_release(struct sysctl_ports *s);
/* The pure step of sysctl_ports_set: map (the sysctl) and ours (gw's
 * share) updated for want.  Returns true when map changed. */
bool sysctl_ports_merge(uint8_t map[static SYSCTL_PORTMAP_BYTES],
			uint8_t ours[static SYSCTL_PORTMAP_BYTES],
			const uint8_t want[static SYSCTL_PORTMAP_BYTES]);
/* net.ipv4.ip_local_port_range: 0 or -errno. */
int sysctl_local_port_range(uint16_t *lo, uint16_t *hi);
/* Sets ports [lo, hi] in map. */
void sysctl_ports_add(uint8_t map[static SYSCTL_PORTMAP_BYTES], uint16_t lo, uint16_t hi);

/* The sysctl's text ("1,5-9", empty) into / from a 65536-bit map (bit p set:
 * port p reserved).  parse: 0 or -EINVAL; format: 0 or -ENOSPC. */
int sysctl_ports_parse(const char *text, uint8_t map[static SYSCTL_PORTMAP_BYTES]);
int sysctl_ports_format(const uint8_t map[static SYSCTL_PORTMAP_BYTES], char *out, size_t len);

/* Logs each TCP listener and UDP socket of this namespace bound to a port
 * in [lo, hi]; returns how many. */
int sysctl_ports_warn_taken(uint16_t lo, uint16_t hi);

#endif
