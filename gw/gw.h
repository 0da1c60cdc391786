/* SPDX-License-Identifier: MIT */
/*
 * gw — the running gateway: one owner struct holding the config, the
 * WireGuard device, the sockets, the TUN device, the control socket and
 * every libev watcher (callbacks find the owner with container_of).
 *
 * Phases: gw_setup() does everything privileged (TUN, addresses, sockets,
 * control socket) as an init ladder; gw_run() is the runtime loop;
 * gw_teardown() runs the ladder in reverse (TUN removed, keys wiped).
 *
 * The files: gw.c (setup, run, teardown, signals, timers, UAPI, Endpoint
 * names), worker.c and io.c (the workers' input and output: gw/worker.h),
 * path.c (a packet through netfilter and where it goes: gw/path.h),
 * dataplane.c (netfilter's life: gw/dataplane.h), follow.c (the host's
 * addresses and the uplink's filters: gw/follow.h), ctl_ops.c (the control
 * socket's requests: gw/ctl_ops.h), peers.c (peers changed at runtime).
 *
 * Data path per wake-up of a worker: UDP readable -> recvmmsg batch ->
 * wg_receive_begin each (under the lock) -> the AEAD (outside) ->
 * wg_receive_end and the packet path (under the lock) -> decrypted packets
 * to TUN, NAT-ed ones to the uplink's queue, replies queued; TUN readable
 * -> a batch of reads -> wg_send_unsealed each into the UDP send queue (or
 * an ICMP/ICMPv6 unreachable back to TUN).  The send queues are sealed and
 * sent (sendmmsg) at the end of each batch (outside the lock) and before
 * the loop blocks; the control thread re-arms the one protocol timer from
 * wg_next_deadline() before its loop blocks.
 */
#ifndef GW_GW_H
#define GW_GW_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "crypto/wg.h"
#include "gw/config.h"
#include "gw/ctl.h"
#include "gw/dataplane.h"
#include "gw/forward.h"
#include "gw/notify.h"
#include "gw/priv.h"
#include "gw/resolve.h"
#include "gw/route.h"
#include "gw/sockdiag.h"
#include "gw/udp.h"
#include "gw/uplink.h"
#include "gw/uplink_nat.h"
#include "gw/uplink_tx.h"
#include "nat/hook.h"
#include "nat/nat.h"
#include "nat/pkt/gro.h"

struct frag;
struct keep;
struct mnl_socket;

/*
 * Under load: more than GW_UNDER_LOAD_HANDSHAKES handshake messages
 * (initiations and responses with any mac1) arrived within one one-second
 * window; the state sticks for a second after the last message over the
 * threshold.  While under load, a handshake message without a valid mac2 is
 * answered with a cookie reply instead of any Diffie-Hellman, and those with
 * mac2 pass the per-source rate limiter (crypto/ratelimit.h).
 *
 * The kernel and wireguard-go call a device under load when 1/8 of their
 * handshake queue (512 resp. 128 messages) waits for the worker threads,
 * sticking for UnderLoadAfterTime = 1 s.  gw handles handshakes inline on
 * one thread, so it has no such queue; the arrival rate stands in for it
 * with wireguard-go's number: 128 a second is far more than peers need (each
 * starts one at most every REKEY_TIMEOUT, 5 s) and far less than a flooder
 * sends or one core answers (thousands a second), so a flood reaches it
 * reliably and ordinary traffic does not.
 */
enum { GW_UNDER_LOAD_HANDSHAKES = 128 };

/*
 * The handshake budget: handshakes run off the data path.  An initiation
 * that passes the gate (mac1; under load mac2, else a cookie reply; the
 * per-source rate limiter: crypto/wg.c, as wireguard-go) still costs two
 * Diffie-Hellman computations before gw knows whether its static key is a
 * peer's: 30-50 us each here (libsodium X25519, this 2-core machine).  The
 * rate limiter lets 20 a second through per source, so 200 sources make
 * 4000 initiations a second, 0.25-0.4 of a core; computed inline under the
 * workers' lock that stopped every worker meanwhile.  Now:
 *   - an initiation's Noise computation runs outside the lock, as the AEAD
 *     of data messages (wg_handshake_begin / _crypt / _end; the response
 *     and the keys under the lock: only a peer's initiation gets there);
 *   - a receive batch begins at most GW_HS_PER_BATCH of them (< 1 ms of
 *     Diffie-Hellman before its data goes on);
 *   - all workers together at most GW_HS_PER_SECOND a second (a token
 *     bucket of GW_HS_BURST), under 10% of a core: enough for a peer
 *     rekeying every 2 minutes in 100000;
 *   - the rest are dropped, counted as drop_handshake-budget in gw stats.
 * Cookie replies (a BLAKE2s and an XChaCha20-Poly1305 of 16 bytes) and the
 * rate limiter's refusals stay outside the budget: a flood of them costs
 * little more than the datagrams' reception.  Responses (to our own
 * initiations, found by an index the flood cannot guess) stay inline.
 * A flood over the budget crowds peers' initiations out of it as much as
 * wireguard-go's full handshake queue does; their data keeps flowing.
 * Measured by tests/netns/42-wg-flood.sh (200 sources with valid cookies,
 * 25 initiations a second each, iperf3 through gw from a wireguard-go
 * client, with and without the flood alternating in one run): before,
 * gw computed all 4000 a second (the test fails on that) and the client
 * kept 53-104% of its throughput from run to run; now gw computes 1000 a
 * second and the client keeps 82-95% (the sums of four alternations).
 * On this 2-core machine the wireguard-go client, not gw, limits the
 * throughput, so the old code's lock held for 0.3 core did not halve it.
 */
enum { GW_HS_PER_BATCH = 8, GW_HS_PER_SECOND = 1000, GW_HS_BURST = 100 };

/*
 * Endpoint host names, as wireguard-tools' reresolve-dns.sh keeps them: a
 * name is looked up at start (before the loop; a failure does not stop gw),
 * then on the resolver thread (gw/resolve.h): while it has never resolved,
 * after 1, 2, 4 ... seconds up to GW_DNS_INTERVAL; once resolved, every
 * GW_DNS_INTERVAL seconds when the peer's last handshake is older than
 * GW_DNS_STALE seconds (reresolve-dns.sh's 135: a session that lives has
 * its endpoint from the peer's own packets, which roaming keeps).
 * GW_DNS_INTERVAL=N in the environment makes them N and N * 135 / 120.
 */
enum { GW_DNS_INTERVAL = 120, GW_DNS_STALE = 135 };

struct gw_dns {
	uint8_t pub[KEY_LEN];		/* the peer's (entries follow g->cfg.peers) */
	char *text;			/* its Endpoint as written */
	unsigned line;			/* where the file has it (0: set at runtime) */
	uint64_t next;			/* gw_mono() of the next lookup */
	unsigned retry;			/* seconds to the next try while never resolved */
	bool resolved, failing;
	bool changed;			/* a new name for a peer: its first answer is taken
					 * even while the peer has a live session */
};

/* Conntrack entries (nf_conntrack_max) when Rules or Uplink are set. */
enum { GW_RND_POOL = 256 };
/* seconds between looks for the end of connections a restore left */
#define GW_LINGER_CHECK 5.

/*
 * Workers (Workers = N, default one per CPU).  Each worker owns a struct
 * gw_io: a libev loop on its own thread, its own WireGuard sockets (one
 * SO_REUSEPORT group per family: the kernel hands a peer's datagrams, by
 * source address and port, always to the same worker), its own queue of the
 * multiqueue TUN device (the kernel hands each flow the host sends to one
 * queue), its receive buffers and its send queues.  Worker 0 also reads the
 * uplink.  The control thread (gw_run's) has the signals, the timers, the
 * control and UAPI sockets, the host's addresses and the resolver's
 * answers; it sends on worker 0's sockets from a queue of its own.
 *
 * What the packets share -- the WireGuard device (sessions, replay windows,
 * timers), netfilter (rules, conntrack, NAT), reassembly, the uplink's send
 * queue -- is guarded by one lock, taken once per batch (up to UDP_BATCH
 * datagrams, UPLINK_RX_BATCH frames, TUN_READS_PER_WAKE reads), never per
 * packet; the control thread holds it whenever its loop is not waiting.
 * Outside the lock a worker does its system calls: recvmmsg, and the
 * sendmmsg of what a batch queued to its peers, the TUN reads, and the
 * AEAD (data messages are opened and sealed with a copy of their key: see
 * wg_receive_begin and wg_send_unsealed).  Measured (make bench,
 * tests/bench/pipeline_bench.c and tunnel_bench.sh; README "Performance"):
 * the system calls are most of an end-to-end packet's cost, so they come
 * first; the AEAD and conntrack under the lock are what still serializes.
 *
 * With one worker there is no thread and no lock: worker 0's watchers are
 * on the control loop, as gw always ran.
 */
struct gw;

/* A data message whose AEAD waits for the lock to be given back. */
struct gw_open_job {
	uint8_t *buf;
	size_t len;
	struct wg_endpoint src;
	struct wg_open o;
};
enum { GW_OPEN_JOBS = 128 };
/* An initiation whose Diffie-Hellman waits for the lock to be given back
 * (the handshake budget, above). */
struct gw_hs_job {
	uint8_t *buf;
	size_t len;
	struct wg_endpoint src;
	struct wg_handshake h;
};
/* A data message queued whose AEAD waits for the queue to go. */
struct gw_seal_job {
	uint8_t *slot;
	size_t len;
	struct session_seal seal;
};

struct gw_io {
	struct gw *g;
	unsigned id;
	struct ev_loop *loop;
	int udp4, udp6, tun;	/* the control thread's: worker 0's (it only sends) */
	struct udp_batch rx, tx4, tx6;
	struct gw_seal_job *seals;	/* one per queued slot at most: 2 * UDP_BATCH */
	unsigned nseals;
	uint8_t *tunbuf;	/* TUN_BATCH reads from TUN of tunbuf_size bytes each:
				 * a packet or a super-packet */
	size_t tunbuf_size;
	struct gw_open_job *jobs;	/* GW_OPEN_JOBS; njobs begun */
	unsigned njobs;
	struct gw_hs_job *hs_jobs;	/* GW_HS_PER_BATCH; nhs begun */
	unsigned nhs;
	unsigned hs_batch;	/* initiations begun in this receive batch */
	uint8_t *segbuf;	/* a super-packet's segment, cut one at a time */
	size_t segbuf_size;
	/* while a receive batch is handled (gro_on), TCP segments for the host
	 * are joined in grobuf (GRO_MAX) and written as one */
	struct gro gro;
	uint8_t *grobuf;
	bool gro_on;
	ev_io udp4_w, udp6_w, tun_w;
	ev_io udp4_tx_w, udp6_tx_w;	/* a full UDP socket: wait for room */
	struct uplink *urx;	/* its reader of the uplink (worker 0: the uplink's
				 * own; the others: a PACKET_FANOUT member), or NULL */
	ev_io uplink_w;
	ev_prepare prepare_w;
	ev_async wake_w;	/* a worker: stop, or take new sockets */
	unsigned tx_blocked;	/* bit 0: IPv4 queue waits, bit 1: IPv6 */
	/* counters (summed by gw stats): tx_* are written outside the lock by
	 * the worker alone, read with __atomic */
	uint64_t tx_waits, tx_dropped;	/* times a socket was full; datagrams lost */
	uint64_t tun_rx_gso, tun_rx_segments, tun_rx_csum, tun_rx_bad;
	uint64_t tun_tx_gso, tun_tx_segments;
	/* its send queue to the uplink: a worker's own with threads (sent
	 * outside the lock, its own neighbour cache watched by utx_nh_w), else
	 * (and the control thread's) the uplink's, under the lock */
	struct uplink_tx *utx;
	bool utx_own;
	ev_io utx_nh_w;
	struct uplink_tx_stats utx_st;	/* its counters, published after each send */
	uint64_t utx_resyncs;
	/* ListenPort changed: the sockets to take (set under the lock) */
	int new4, new6;
	bool swap, stop;
	pthread_t thread;
	bool thread_on;
};

struct gw {
	struct ev_loop *loop;	/* the control thread's */
	struct config cfg;
	struct priv_user user; /* User, resolved before setup */
	struct wg_device dev;
	bool dev_up;
	uint16_t port;
	struct gw_io *io;	/* the workers */
	unsigned nio;
	struct gw_io *cio;	/* the control thread's: io[0] with one worker */
	struct gw_io ctl_io;
	struct gw_io *cur;	/* the lock holder's */
	bool threaded;		/* more than one worker: threads and the lock */
	pthread_mutex_t lock;
	struct ctl_server ctl;	/* the control socket and its clients */
	char ctl_path[108];
	struct ctl_server uapi;	/* the WireGuard UAPI socket (gw/uapi.h) */
	char uapi_path[108];	/* "" when none (off, or another instance holds it) */
	uint32_t addr4; /* first IPv4 Address, host order: ICMP errors come from it */
	uint8_t addr6[16]; /* first IPv6 Address, if has_addr6: ICMPv6 errors' source */
	bool has_addr6;
	bool ipv6_rules;   /* Rules6: peers' and the uplink's IPv6 go through nf */
	union nf_addr uplink_addr6; /* the uplink's IPv6 address (zero: none) */
	uint16_t ip_id;
	/* TUN offloads on: reads and writes carry a virtio_net_hdr, reads may be
	 * TCP super-packets */
	bool tun_vnet;
	uint8_t *sendbuf; /* its data message, before it joins the send queue */
	size_t sendbuf_size;
	/* under load (above): handshake messages counted in the window that
	 * began at load_window; under load while now < under_load_until */
	uint64_t load_window, under_load_until;
	unsigned load_count;
	/* the handshake budget's global bucket (above): credit in ns, at most
	 * GW_HS_BURST handshakes' worth, as of hs_last */
	uint64_t hs_credit, hs_last;
	uint64_t mono_last;	/* gw_clock's latest */
	/* the netfilter pipeline (gw/dataplane.c): set when Rules or Uplink is */
	struct nf *nf;
	struct route_ctx route;
	struct frag *frag;
	uint8_t *fragbuf;	/* FRAG_MAX_DATAGRAM: a reassembled datagram */
	uint8_t *fragoutbuf;	/* FRAG_MAX_DATAGRAM: one fragment gw cuts on output */
	uint64_t frag_oks, frag_created; /* datagrams fragmented; fragments made */
	struct dp_batch inb;	/* packets on their way into nf_input_batch */
	struct sockdiag sd;	/* host sockets' owners, for -m owner */
	unsigned owner_need;	/* rules_owner_needs() of the live rules */
	bool uplink_on;
	struct uplink uplink;
	/* the host's IPv4 addresses (routing, MASQUERADE, the uplink's filters)
	 * follow rtnetlink RTMGRP_IPV4_IFADDR */
	struct mnl_socket *addr_nl;
	ev_io addr_w;
	uint32_t uplink_addr;	/* host order; 0 while the uplink has none */
	/* what the uplink's filters keep for live connections only (a rule
	 * restored away); while any, linger_w looks for their end */
	struct uplink_linger linger;
	ev_timer linger_w;
	struct nat_live live;	/* what live connections need: scratch (16 KB) */
	uint32_t rnd[GW_RND_POOL]; /* NAT port search randomness, refilled when used up */
	unsigned rnd_left;
	uint64_t path_pkts[GW_PATH__MAX], path_bytes[GW_PATH__MAX];
	uint64_t nf_drops[NF_DROP_MAX], dp_drops[GW_DROP__MAX];
	struct uplink *uplink_rx;	/* the workers' readers beside uplink's own */
	ev_io uplink_nh_w;	/* the uplink send queue's neighbour events (fd >= 0) */
	struct gw_dns *dns;	/* peers whose Endpoint is a host name */
	size_t n_dns;
	uint64_t dns_gen;	/* bumped when the list changes */
	struct resolver resolver;
	struct resolve_job dns_job;	/* its items: dns_job_cap slots, texts its own */
	size_t dns_job_cap;
	uint64_t dns_job_gen;	/* dns_gen when the job went out */
	bool dns_live;		/* the loop runs: a new name starts the thread */
	unsigned dns_interval, dns_stale; /* seconds: GW_DNS_INTERVAL, GW_DNS_STALE */
	ev_timer dns_w;
	ev_signal sigint_w, sigterm_w, sighup_w, sigusr2_w;
	ev_timer timer_w;
	ev_prepare prepare_w;
	struct gw_notify notify;	/* systemd: READY=1, STATUS=, WATCHDOG=1 */
	int stop_signal;	/* what ended the loop (SIGTERM: KeepState writes; SIGUSR2: re-exec) */
	struct keep *keep;	/* KeepState read at start, until setup ends (gw/keep.h) */
};

/* The shared state is the caller's (and g->cur is io) until gw_unlock;
 * nothing happens with one worker. */
void gw_lock(struct gw *g, struct gw_io *io);
void gw_unlock(struct gw *g);
/* The time for what the lock holder does now (monotonic ns, and Unix ns):
 * read under the lock, so it never goes back from one holder to the next
 * (the shared state keeps times: rate limiters, keypairs' births, timers,
 * the handshake budget, all computing now - then unsigned).  A worker that
 * gave the lock back and took it again reads it again. */
void gw_clock(struct gw *g, uint64_t *now, uint64_t *wall);
/* The end of a worker's batch under the lock (gw_lock(g, io) before it):
 * the TUN's held segments written; with workers, the uplink's queue sent,
 * conntrack's dead reaped, the lock given back and io's datagrams sent. */
void gw_batch_end(struct gw_io *io, uint64_t now);

/* Makes g->dns follow g->cfg.peers after a change of peers (start, UAPI
 * set, SIGHUP): one entry per peer whose Endpoint is a host name, state
 * carried over for the same key and name.  0 or -ENOMEM (the old list
 * stays: its entries name peers by key, so a stale one is harmless). */
int gw_dns_sync(struct gw *g);

/* io.c, for gw/path.c: queue a datagram to a peer's endpoint; write
 * one packet to the host TUN (both from the lock holder's worker). */
void gw_queue_dgram(struct gw *g, const struct wg_endpoint *ep, const uint8_t *d, size_t len);
void gw_tun_write(struct gw *g, const uint8_t *p, size_t len);
/* A data message wg_send_unsealed wrote: queued, sealed before it leaves
 * (outside the lock); *seal is wiped. */
void gw_queue_unsealed(struct gw *g, const struct wg_endpoint *ep, const uint8_t *d, size_t len,
		       struct session_seal *seal);
uint64_t gw_mono(void);
uint64_t gw_wall(void);
/* io.c, for gw/peers.c: the WireGuard sockets, one pair per worker. */
struct gw_socks {
	int *fd4, *fd6;		/* g->nio each; fd6[i] -1: no IPv6 */
	uint16_t port;
};
/* The sockets on port (0: any) with fwmark (0: none), not yet in use.  0
 * or -errno (nothing left open). */
int gw_udp_open(struct gw *g, uint16_t port, uint32_t fwmark, struct gw_socks *s);
void gw_udp_close(struct gw *g, struct gw_socks *s);
/* They replace the sockets in use (each worker closes its own; queued
 * datagrams go out first); s is left empty. */
void gw_udp_swap(struct gw *g, struct gw_socks *s);
/* SO_MARK on every socket in use.  0 or -errno. */
int gw_udp_mark(struct gw *g, uint32_t mark);

/* Loads nothing: cfg must be parsed.  Takes ownership of cfg.  0 or -errno
 * (logged). */
int gw_setup(struct gw *g, struct config *cfg);
/* Runs until SIGINT/SIGTERM. */
void gw_run(struct gw *g);
void gw_teardown(struct gw *g);

#endif
