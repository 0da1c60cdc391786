/* SPDX-License-Identifier: MIT */
/*
 * config — the gw config file: wg-quick's format plus Uplink, Rules,
 * NatPorts, User, ControlSocket, UapiSocket and IPv6.  Errors are "file:line: message";
 * wg-quick keys gw does not implement are reported by name as warnings.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"

struct sbuf;

struct cidr {
	uint8_t family;     /* AF_INET or AF_INET6 */
	uint8_t prefix;     /* prefix length */
	uint8_t addr[16];   /* network byte order; IPv4 in the first 4 bytes */
};

struct config_peer {
	uint8_t public_key[KEY_LEN];
	uint8_t preshared_key[KEY_LEN];
	bool has_psk;
	struct cidr *allowed_ips;
	size_t n_allowed_ips;
	char *endpoint;              /* "host:port" / "[v6]:port" as written, or NULL */
	uint16_t persistent_keepalive; /* seconds, 0 = off */
	unsigned line;               /* where the [Peer] section starts; 0: not from a file */
	uint16_t owner;              /* its conntrack owner id (PeerConntrackMax): 1.. in
	                              * file order, 0 past 65535; kept while the peer lives */
};

struct config {
	char *path;
	char ifname[16];             /* basename without .conf */
	uint8_t private_key[KEY_LEN];
	bool has_private_key;
	uint16_t listen_port;        /* 0 = random */
	bool has_listen_port;
	struct cidr *addresses;
	size_t n_addresses;
	uint16_t mtu;                /* 0 = default (1420) */
	char uplink[16];             /* "" = none */
	char *rules_path;            /* NULL = no rules file */
	char *rules6_path;           /* Rules6: ip6tables-restore; NULL = none */
	uint16_t nat_port_min, nat_port_max; /* NatPorts */
	uint32_t ct_max;             /* ConntrackMax */
	uint32_t peer_ct_max;        /* PeerConntrackMax (0: no limit) */
	bool has_peer_ct_max;
	unsigned workers;            /* Workers: data-path threads (0: one per CPU) */
	char *user;                  /* User, as written (gw/priv.h resolves it) */
	unsigned user_line;
	char *control_socket;
	char *uapi_socket;           /* UapiSocket: NULL = /var/run/wireguard/IFACE.sock */
	bool uapi_off;               /* UapiSocket = off */
	char *keep_state;            /* KeepState: the state file SIGTERM writes; NULL = none */
	uint32_t fwmark;             /* FwMark of the WireGuard sockets (0: none) */
	int log_level;               /* LogLevel: LOG_ERR..LOG_DEBUG (syslog.h); 0 = unset (info) */
	bool ipv6_pass;              /* IPv6 = pass: gateway mode hands peers' IPv6
	                              * to the host unfiltered (default drop) */
	struct config_peer *peers;
	size_t n_peers;
	bool secrets_inline;         /* PrivateKey or a PresharedKey written in the
	                              * file itself (not ...KeyFile) */
	char **key_files;            /* the PrivateKeyFile and PresharedKeyFile paths read */
	size_t n_key_files;
};

/* "file:line: message" lines, or warnings for keys gw does not implement. */
struct config_error {
	char message[256];
};

enum {
	CONFIG_WORKERS_MAX = 1024,
	CONFIG_DEFAULT_NAT_MIN = 61000, CONFIG_DEFAULT_NAT_MAX = 65535,
	CONFIG_DEFAULT_CT_MAX = 65536,   /* PeerConntrackMax: a quarter of it */
	CONFIG_CT_MAX_LIMIT = 1 << 24,
};

/* Parse text as the config at path (for messages and the interface name).
 * Warnings (unimplemented wg-quick keys, advice for iptables in PostUp...)
 * go to warn when non-NULL.  PrivateKeyFile and
 * PresharedKeyFile are read here (relative to path's directory).  Returns 0
 * or -EINVAL with err set; on error nothing is left allocated. */
int config_parse(struct config *c, const char *path, const char *text, size_t len,
		 struct sbuf *warn, struct config_error *err);
/* Read and parse a file. */
int config_load(struct config *c, const char *path, struct sbuf *warn,
		struct config_error *err);
/* The directory `gw run IFACE` looks in (wg-quick: /etc/wireguard), unless
 * the environment names another in GW_CONFIG_DIR. */
#define CONFIG_DIR "/etc/gw"
/* The config file an argument names: an interface name (no '/', no ".conf",
 * at most 15 of [A-Za-z0-9_=+.-]) is DIR/IFACE.conf, anything else a path.
 * 0, or -ENAMETOOLONG. */
int config_find(const char *arg, char *out, size_t len);
/* wg-quick's test: others may read path (its realpath into real) and enter
 * its directory (file mode & directory mode & 0007). */
bool config_world_accessible(const char *path, char *real, size_t len);
/* wg-quick's "Warning: `FILE' is world accessible" (gw run, at start) for
 * the config when it holds a key itself and for each key file. */
void config_warn_access(const struct config *c, struct sbuf *warn);
/* Zeroes the keys and frees everything. */
void config_free(struct config *c);
/* Frees what one peer holds (allowed IPs, endpoint) and wipes it. */
void config_peer_free(struct config_peer *p);
/* c as a config file gw run reads back to the same config: [Interface]
 * with priv as its PrivateKey (the caller's: c's own is wiped once the
 * device has it), then every [Peer]. */
void config_format(const struct config *c, const uint8_t priv[static KEY_LEN], struct sbuf *out);

/* The peer whose AllowedIPs hold the IPv4 address addr (host order) most
 * specifically (cryptokey routing), or NULL. */
const struct config_peer *config_peer_for4(const struct config *c, uint32_t addr);
/* The same for an IPv6 address (16 bytes, network order). */
const struct config_peer *config_peer_for6(const struct config *c, const uint8_t *addr);
/* "ADDR[/PREFIX]" (IPv4 or IPv6; no prefix: the whole address).  0 or
 * -EINVAL. */
int cidr_parse(const char *s, struct cidr *c);
/* Text of a CIDR ("10.8.0.1/24", "fd00::1/64"). */
void cidr_format(const struct cidr *c, char *out, size_t len);
/* True when the IPv4 address addr (host order) is inside c. */
bool cidr_contains4(const struct cidr *c, uint32_t addr);
/* An IPv4 cidr's address, host order. */
uint32_t cidr_addr4(const struct cidr *c);

#endif
