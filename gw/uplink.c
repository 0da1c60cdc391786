/* SPDX-License-Identifier: MIT */
#include "gw/uplink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw/arp.h"
#include "gw/handover.h"
#include "gw/log.h"
#include "gw/ndp.h"
#include "gw/uplink_nat.h"
#include "nat/pkt/be.h"
#include "nat/pkt/gso.h"
#include "nat/pkt/pkt.h"
#include "nat/pkt/proto.h"
#include "nat/pkt/vnet.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* ---- ARP and Neighbor Discovery for foreign addresses -------------------- */

/* One Ethernet frame out of the packet socket (rare: ARP and NDP only).
 * With PACKET_VNET_HDR on, a (zero) virtio header goes first. */
static int send_frame(struct uplink *u, const uint8_t *f, size_t len)
{
	static const uint8_t vh[VNET_HLEN]; /* all zero: a plain frame */
	struct iovec iov[2] = { { (void *)(uintptr_t)vh, sizeof(vh) },
				{ (void *)(uintptr_t)f, len } };
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET, .sll_protocol = htons(be16_get(f + ETHH_TYPE)),
		.sll_ifindex = u->ifindex, .sll_halen = 6,
	};
	struct msghdr m = {
		.msg_name = &sll, .msg_namelen = sizeof(sll), .msg_iov = iov, .msg_iovlen = 2,
	};

	memcpy(sll.sll_addr, f, 6);
	if (sendmsg(u->pfd, &m, MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

static void arp_input(struct uplink *u, const uint8_t *frame, size_t len)
{
	uint8_t out[ARP_FRAME];

	if (!arp_answer(frame, len, u->mac, u->nat.foreign, u->nat.nforeign, out) ||
	    send_frame(u, out, sizeof(out)) < 0) {
		u->st.drop[UPLINK_DROP_ARP]++;
		return;
	}
	u->st.arp_replies++;
}

static void ndp_input(struct uplink *u, const uint8_t *frame, size_t len)
{
	uint8_t out[NDP_FRAME];

	if (!ndp_answer(frame, len, u->mac, u->nat.foreign6, u->nat.nforeign6, out) ||
	    send_frame(u, out, sizeof(out)) < 0) {
		u->st.drop[UPLINK_DROP_NDP]++;
		return;
	}
	u->st.ndp_replies++;
}

/* An unsolicited NA for each foreign IPv6 address of nat that old lacked
 * (the first UPLINK_ANNOUNCE_MAX). */
static void announce6(struct uplink *u, const struct bpf_nat_spec *old,
		      const struct bpf_nat_spec *nat)
{
	unsigned sent = 0;

	for (unsigned i = 0; i < nat->nforeign6; i++) {
		union nf_addr a = nat->foreign6[i].lo;
		uint64_t k = be32_get(a.b + 12), end = be32_get(nat->foreign6[i].hi.b + 12);

		if (end - k >= UPLINK_ANNOUNCE_MAX)
			end = k + UPLINK_ANNOUNCE_MAX - 1;
		for (; k <= end; k++) {
			uint8_t f[NDP_FRAME];

			if (sent == UPLINK_ANNOUNCE_MAX)
				return;
			be32_put(a.b + 12, (uint32_t)k);
			if (uplink_nat_foreign6_has(old, &a))
				continue;
			ndp_announce(u->mac, &a, f);
			if (send_frame(u, f, sizeof(f)) < 0) {
				u->st.drop[UPLINK_DROP_NDP]++;
				return;
			}
			u->st.ndp_announced++;
			sent++;
		}
	}
}

static bool foreign_has(const struct bpf_nat_spec *s, uint32_t a)
{
	for (unsigned i = 0; s && i < s->nforeign; i++)
		if (a >= s->foreign[i].lo && a <= s->foreign[i].hi)
			return true;
	return false;
}

/* A gratuitous ARP for each foreign address of nat that old lacked, so
 * neighbours that cached another owner learn gw's MAC at once. */
static void announce(struct uplink *u, const struct bpf_nat_spec *old,
		     const struct bpf_nat_spec *nat)
{
	unsigned sent = 0;

	for (unsigned i = 0; i < nat->nforeign; i++) {
		uint64_t a = nat->foreign[i].lo, end = nat->foreign[i].hi;

		/* the first addresses of a large range only: the rest are
		 * answered when asked */
		if (end - a >= UPLINK_ANNOUNCE_MAX)
			end = a + UPLINK_ANNOUNCE_MAX - 1;
		for (; a <= end; a++) {
			uint8_t f[ARP_FRAME];

			if (sent == UPLINK_ANNOUNCE_MAX)
				return;
			if (foreign_has(old, (uint32_t)a))
				continue;
			arp_announce(u->mac, (uint32_t)a, f);
			if (send_frame(u, f, sizeof(f)) < 0) {
				u->st.drop[UPLINK_DROP_ARP]++;
				return;
			}
			u->st.arp_announced++;
			sent++;
		}
	}
}

/* ---- receive ---------------------------------------------------------- */

void uplink_rx_flush(struct uplink *u, uplink_rx_fn *fn, void *ctx)
{
	if (u->nviews)
		fn(ctx, u->views, u->nviews);
	u->st.rx_pkts += u->nviews;
	for (unsigned i = 0; i < u->nviews; i++)
		u->st.rx_pkts6 += u->views[i].family == NF_V6;
	u->nviews = 0;
	u->seg_used = 0;
}

static void view(struct uplink *u, uint8_t *ip, size_t len, size_t room, bool csum_ok,
		 uint8_t family, uplink_rx_fn *fn, void *ctx)
{
	u->views[u->nviews++] = (struct uplink_pkt){ ip, (uint32_t)len, csum_ok, family,
						     pkt_room_of(room) };
	if (u->nviews == UPLINK_VIEWS)
		uplink_rx_flush(u, fn, ctx);
}

/* Room for len bytes of segment, flushing the queue when the arena is full. */
static uint8_t *seg_alloc(struct uplink *u, size_t len, uplink_rx_fn *fn, void *ctx)
{
	uint8_t *p;

	if (len > UPLINK_SEG_ARENA)
		return NULL;
	if (u->seg_used + len > UPLINK_SEG_ARENA)
		uplink_rx_flush(u, fn, ctx);
	p = u->seg + u->seg_used;
	u->seg_used += (len + 7) & ~(size_t)7;
	return p;
}

/* Cuts a TCP or UDP super-packet into the packets the kernel's GSO would
 * have sent (nat/gso), queued as views like any other packet. */
static int segment(struct uplink *u, uint8_t *ip, size_t len, enum gso_kind kind, unsigned mss,
		   uplink_rx_fn *fn, void *ctx)
{
	struct gso s;

	if (gso_init(&s, ip, len, kind, mss))
		return -EINVAL;
	u->st.rx_gso++;
	for (unsigned i = 0; i < s.n; i++) {
		size_t n = gso_seg_len(&s, i);
		uint8_t *seg = seg_alloc(u, n, fn, ctx);

		if (!seg)
			return -E2BIG;
		gso_seg(&s, i, seg);
		u->st.rx_segs++;
		view(u, seg, n, 0, true, kind == GSO_TCP6 ? NF_V6 : NF_V4, fn, ctx);
	}
	return 0;
}

/* The offloads' work on an IP packet ip[len] of family, as the vnet header
 * vh says, then its view(s); ip[0..cap) is writable. */
static void offloads(struct uplink *u, const struct vnet_hdr *vh, int vh_err, uint8_t *ip,
		     size_t len, size_t cap, uint8_t family, uplink_rx_fn *fn, void *ctx)
{
	if (vh_err || vh->kind) {
		/* the header's hdr_len is only a hint: gso_init measures */
		if (vh_err || (vh->kind == GSO_TCP6) != (family == NF_V6) ||
		    segment(u, ip, len, vh->kind, vh->gso_size, fn, ctx) < 0)
			u->st.drop[UPLINK_DROP_GSO]++;
		return;
	}
	if (vh->needs_csum) {
		/* csum_start counts from the Ethernet header */
		if (vh->csum_start < ETHH_LEN ||
		    gso_csum_complete(ip, len, vh->csum_start - ETHH_LEN, vh->csum_offset)) {
			u->st.drop[UPLINK_DROP_CSUM]++;
			return;
		}
		u->st.rx_csum++;
	}
	view(u, ip, len, cap - len, vh->needs_csum || vh->data_valid, family, fn, ctx);
}

/* An IPv6 frame (from its Ethernet header): Neighbor Solicitations to NDP,
 * the rest handed on when the caller takes IPv6. */
static void rx6(struct uplink *u, uint8_t *frame, size_t len, size_t cap,
		const struct vnet_hdr *vh, int vh_err, uplink_rx_fn *fn, void *ctx)
{
	uint8_t *ip = frame + ETHH_LEN;
	size_t tot;

	if (len < ETHH_LEN + IP6H_LEN || ip[0] >> 4 != 6) {
		u->st.drop[UPLINK_DROP_BAD_IP]++;
		return;
	}
	if (ip[IP6H_NEXT] == IPPROTO_ICMPV6 && len > ETHH_LEN + IP6H_LEN &&
	    ip[IP6H_LEN] == ICMP6_NS_TYPE) {
		ndp_input(u, frame, len);
		return;
	}
	len -= ETHH_LEN;
	tot = IP6H_LEN + (size_t)be16_get(ip + IP6H_PLEN);
	if (tot == IP6H_LEN) {
		u->st.drop[UPLINK_DROP_BAD_IP]++; /* no payload, or a jumbogram */
		return;
	}
	if (tot > len) {
		u->st.drop[UPLINK_DROP_TRUNC]++;
		return;
	}
	if (!u->ipv6) {
		u->st.drop[UPLINK_DROP_IPV6]++;
		return;
	}
	/* without the Ethernet padding */
	offloads(u, vh, vh_err, ip, tot, cap - ETHH_LEN, NF_V6, fn, ctx);
}

void uplink_rx_frame(struct uplink *u, uint8_t *frame, size_t len, size_t cap,
		     uplink_rx_fn *fn, void *ctx)
{
	struct vnet_hdr vh;
	uint8_t *ip;
	size_t ihl, tot;
	int vh_err;

	u->st.rx_frames++;
	if (len < VNET_HLEN + ETHH_LEN + IP4H_LEN) {
		u->st.drop[UPLINK_DROP_TRUNC]++;
		return;
	}
	vh_err = vnet_parse(&vh, frame);
	frame += VNET_HLEN;
	len -= VNET_HLEN;
	cap = (cap < len + VNET_HLEN ? len + VNET_HLEN : cap) - VNET_HLEN;
	if (be16_get(frame + ETHH_TYPE) == ETYPE_ARP) {
		arp_input(u, frame, len);
		return;
	}
	if (be16_get(frame + ETHH_TYPE) == ETYPE_IPV6) {
		rx6(u, frame, len, cap, &vh, vh_err, fn, ctx);
		return;
	}
	if (be16_get(frame + ETHH_TYPE) != ETYPE_IP) {
		u->st.drop[UPLINK_DROP_NOT_IP]++;
		return;
	}
	ip = frame + ETHH_LEN;
	len -= ETHH_LEN;
	cap -= ETHH_LEN;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = be16_get(ip + IP4H_TOTLEN);
	if (ip[0] >> 4 != 4 || ihl < IP4H_LEN || tot < ihl) {
		u->st.drop[UPLINK_DROP_BAD_IP]++;
		return;
	}
	if (tot > len) {
		u->st.drop[UPLINK_DROP_TRUNC]++;
		return;
	}
	offloads(u, &vh, vh_err, ip, tot, cap, NF_V4, fn, ctx); /* without the Ethernet padding */
}

/* ---- the receive ring --------------------------------------------------
 *
 * TPACKET_V2: nframes slots of frame_size bytes (a power of two that holds
 * an MTU-sized frame with its headers: 2 KB for 1500), mmap'ed once.  The
 * kernel copies each frame the socket filter passes into the next free
 * slot (a tpacket2_hdr, the vnet header just before the MAC header at
 * tp_mac, the frame), marks it TP_STATUS_USER and wakes the reader at once.
 * gw walks the slots in ring order from cur, hands the packets on in place
 * (the views point into the slots; NAT rewrites them there), and gives the
 * slots back (TP_STATUS_KERNEL) after uplink_rx_flush has used their views.
 * A frame larger than a slot (a GRO or GSO super-packet, up to 64 KB) is
 * put in the slot cut short and flagged TP_STATUS_COPY, and the whole of it
 * queued on the socket as before the ring (PACKET_COPY_THRESH): gw reads it
 * with recvmsg into cbuf.  When every slot is gw's, the kernel drops what
 * comes (ring_drops).
 *
 * Why not TPACKET_V3 (blocks of frames of any length, which the issue
 * asked for): it wakes the reader only when a block is handed over, which
 * at a low packet rate is the block timeout (at least 1 ms).  Measured on
 * this kernel (6.18, veth, one frame every 3 ms): V3 with the 1 ms timeout
 * 0.7-0.95 ms from send to wake-up on average, up to 4.6 ms; V2 18 us.  With
 * V3 the connection rate through gw at 1 connection in flight fell from
 * 4041 to 488 per second (gw <-> gw, connrate_bench) and at 32 in flight
 * from 12356 to 9762; V2 keeps the wake-up per frame that recvmmsg had.
 * PACKET_VNET_HDR works with both (GSO super-packets and partial checksums
 * are handled as before); the socket filter, PACKET_IGNORE_OUTGOING and
 * ETH_P_ALL are unchanged.
 * What the ring saves is the skb clone, queueing and recvmmsg per frame
 * that fits a slot.  With GRO on the uplink most bytes arrive as
 * super-packets, which still come by the queue: TCP down through the NAT
 * (tests/bench/uplink_bench.sh, 5 runs, medians) cost gw 2480 ms/GB with
 * recvmmsg and 2436 with the ring, inside the noise; packet_recvmsg's
 * share of gw's profile stays about 4.6%.  The gain is for MTU-sized and
 * small frames (uplinks without GRO, floods), which never enter the kernel
 * queue now.
 */

static struct tpacket2_hdr *slot(const struct uplink *u, unsigned i)
{
	return (struct tpacket2_hdr *)(u->ring + (size_t)(i / u->per_block) * u->block_size +
				       (size_t)(i % u->per_block) * u->frame_size);
}

/* A frame too large for its slot, from the socket's queue into cbuf. */
static void rx_copied(struct uplink *u, uplink_rx_fn *fn, void *ctx)
{
	struct iovec iov = { u->cbuf, UPLINK_COPY_SLOT };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	uplink_rx_flush(u, fn, ctx); /* cbuf's last views are done with */
	n = recvmsg(u->pfd, &m, MSG_DONTWAIT);
	if (n < 0 || (m.msg_flags & MSG_TRUNC)) {
		u->st.rx_frames++;
		u->st.drop[UPLINK_DROP_TRUNC]++;
		return;
	}
	u->st.rx_copied++;
	uplink_rx_frame(u, u->cbuf, (size_t)n, UPLINK_COPY_SLOT, fn, ctx);
	uplink_rx_flush(u, fn, ctx);
}

int uplink_recv_batch(struct uplink *u, uplink_rx_fn *fn, void *ctx)
{
	unsigned n, first = u->cur;

	for (n = 0; n < UPLINK_RX_BATCH; n++) {
		struct tpacket2_hdr *h = slot(u, u->cur);
		/* the acquire pairs with the kernel's barrier before it sets
		 * the status: the frame is all written when gw sees USER */
		uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

		if (!(st & TP_STATUS_USER))
			break;
		if (st & TP_STATUS_COPY) {
			rx_copied(u, fn, ctx);
		} else if (h->tp_mac < sizeof(*h) + VNET_HLEN ||
			   h->tp_snaplen > u->frame_size - h->tp_mac || h->tp_snaplen < h->tp_len) {
			/* cut short and not queued whole (the queue was full) */
			u->st.rx_frames++;
			u->st.drop[UPLINK_DROP_TRUNC]++;
		} else {
			uint8_t *f = (uint8_t *)h + h->tp_mac;

			uplink_rx_frame(u, f - VNET_HLEN, VNET_HLEN + h->tp_snaplen,
					VNET_HLEN + u->frame_size - h->tp_mac, fn, ctx);
		}
		u->cur = u->cur + 1 == u->nframes ? 0 : u->cur + 1;
	}
	uplink_rx_flush(u, fn, ctx); /* the slots' views are done with */
	for (unsigned i = 0, k = first; i < n; i++, k = k + 1 == u->nframes ? 0 : k + 1)
		__atomic_store_n(&slot(u, k)->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	return (int)n;
}

void uplink_stats_add(struct uplink_stats *sum, const struct uplink_stats *s)
{
	const uint64_t *from = (const uint64_t *)s;
	uint64_t *to = (uint64_t *)sum;

	/* every field is a uint64_t counter (or an array of them) */
	_Static_assert(sizeof(*s) % sizeof(uint64_t) == 0, "uplink_stats: counters only");
	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		to[i] += from[i];
}

void uplink_ring_stats(struct uplink *u)
{
	struct tpacket_stats s = { 0 };
	socklen_t len = sizeof(s);

	if (u->pfd < 0 || getsockopt(u->pfd, SOL_PACKET, PACKET_STATISTICS, &s, &len) < 0)
		return;
	/* tp_packets counts the dropped ones too */
	u->st.ring_packets += s.tp_packets;
	u->st.ring_drops += s.tp_drops;
}

int uplink_rx_init(struct uplink *u)
{
	u->seg = malloc(UPLINK_SEG_ARENA);
	u->views = calloc(UPLINK_VIEWS, sizeof(*u->views));
	u->cbuf = malloc(UPLINK_COPY_SLOT);
	if (!u->seg || !u->views || !u->cbuf)
		return -ENOMEM;
	return 0;
}

/* The ring on the packet socket, for nframes slots that hold a frame of
 * the uplink's MTU: set up before bind, so no frame is lost between the
 * two.  0 or -errno. */
static int open_ring(struct uplink *u, unsigned nframes)
{
	int v = TPACKET_V2, one = 1;
	unsigned fs = 2048;
	struct tpacket_req r;
	void *m;

	/* header, sockaddr_ll, vnet header, Ethernet + VLAN tag, frame */
	while (fs < TPACKET2_HDRLEN + 16 + VNET_HLEN + ETHH_LEN + 4 + u->mtu)
		fs *= 2;
	if ((size_t)nframes * fs > UPLINK_RING_BYTES)
		nframes = UPLINK_RING_BYTES / fs;
	u->frame_size = fs;
	u->block_size = fs > 65536 ? fs : 65536;
	u->per_block = u->block_size / fs;
	nframes = (nframes + u->per_block - 1) / u->per_block * u->per_block;
	r = (struct tpacket_req){
		.tp_block_size = u->block_size, .tp_block_nr = nframes / u->per_block,
		.tp_frame_size = fs, .tp_frame_nr = nframes,
	};
	if (setsockopt(u->pfd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
	    setsockopt(u->pfd, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof(one)) < 0 ||
	    setsockopt(u->pfd, SOL_PACKET, PACKET_RX_RING, &r, sizeof(r)) < 0)
		return -errno;
	m = mmap(NULL, (size_t)r.tp_block_nr * u->block_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 u->pfd, 0);
	if (m == MAP_FAILED)
		return -errno;
	u->ring = m;
	u->ring_size = (size_t)r.tp_block_nr * u->block_size;
	u->nframes = nframes;
	u->cur = 0;
	return 0;
}

/* ---- open / close ----------------------------------------------------- */

/* A packet socket a re-exec handed over (gw/handover.h), bound, in its
 * fanout group, with the old image's ring.  Its receive queue may hold
 * frames: the copies of super-packets whose ring slots (TP_STATUS_COPY)
 * the old image never got to, and whatever arrives while no ring is set
 * up.  Left there, every later COPY slot would read one of those instead
 * of its own frame, for good.  So: a filter that takes nothing, the ring
 * torn down (a request of zero blocks; the old mapping went with the old
 * image), the queue drained, the vnet header and a new ring, then the
 * real filter -- what arrives meanwhile is lost, as during any restart.
 * 0 or -errno. */
static int adopt_packet(struct uplink *u, const struct bpf_nat_spec *nat, unsigned nframes)
{
	struct sock_filter prog[BPF_PROG_MAX];
	struct sock_fprog fp;
	struct tpacket_req none = { 0 };
	int n = bpf_build_sk(nat, prog, BPF_PROG_MAX), one = 1;
	uint8_t sink[64];

	if (n < 0)
		return n;
	fp = (struct sock_fprog){ .len = (unsigned short)n, .filter = prog };
	n = uplink_take_nothing(u->pfd);
	if (n < 0)
		return n;
	if (setsockopt(u->pfd, SOL_PACKET, PACKET_RX_RING, &none, sizeof(none)) < 0)
		return -errno;
	while (recv(u->pfd, sink, sizeof(sink), MSG_DONTWAIT | MSG_TRUNC) >= 0)
		u->st.drop[UPLINK_DROP_TRUNC]++; /* counted as cut short: never seen */
	if (setsockopt(u->pfd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		return -errno;
	n = open_ring(u, nframes);
	if (n < 0)
		return n;
	if (setsockopt(u->pfd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0)
		return -errno;
	return 0;
}

static int open_packet(struct uplink *u, const struct bpf_nat_spec *nat, unsigned nframes,
		       unsigned reader)
{
	struct sock_filter prog[BPF_PROG_MAX];
	struct sock_fprog fp;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = u->ifindex,
	};
	int n, one = 1, rcvbuf = 16 << 20;

	u->pfd = handover_take("pkt", reader);
	if (u->pfd >= 0) {
		u->adopted = true;
		return adopt_packet(u, nat, nframes);
	}
	n = bpf_build_sk(nat, prog, BPF_PROG_MAX);
	if (n < 0)
		return n;
	fp = (struct sock_fprog){ .len = (unsigned short)n, .filter = prog };
	/* protocol 0: nothing arrives before the filter is on and it is bound */
	u->pfd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->pfd < 0)
		return -errno;
	if (setsockopt(u->pfd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0 ||
	    setsockopt(u->pfd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 ||
	    setsockopt(u->pfd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		return -errno;
	/* the queue takes the frames too large for a slot */
	if (setsockopt(u->pfd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(u->pfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* the vnet header before the ring: the kernel refuses it after */
	n = open_ring(u, nframes);
	if (n < 0)
		return n;
	if (bind(u->pfd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

/* ---- reserved ports ---------------------------------------------------- */

bool uplink_reserve_map(const struct bpf_nat_spec *nat, uint16_t elo, uint16_t ehi,
			uint8_t map[static SYSCTL_PORTMAP_BYTES])
{
	unsigned n = 0, size = elo <= ehi ? (unsigned)ehi - elo + 1 : 0;
	bool dnat = true;

	memset(map, 0, SYSCTL_PORTMAP_BYTES);
	for (unsigned i = 0; size && i < nat->ntcp + nat->nudp; i++) {
		const struct bpf_port_range *r = i < nat->ntcp ? &nat->tcp[i]
							       : &nat->udp[i - nat->ntcp];
		uint16_t lo = r->lo > elo ? r->lo : elo, hi = r->hi < ehi ? r->hi : ehi;

		if (lo <= hi)
			sysctl_ports_add(map, lo, hi);
	}
	for (unsigned p = elo; size && p <= ehi; p++)
		n += map[p / 8] >> (p % 8) & 1;
	/* more than half of the ephemeral range: the host would run short of
	 * ports for every connection, on every interface */
	if (2 * n > size) {
		memset(map, 0, SYSCTL_PORTMAP_BYTES);
		dnat = false;
	}
	if (nat->lo <= nat->hi)
		sysctl_ports_add(map, nat->lo, nat->hi);
	return dnat;
}

/* The reservation for nat: NatPorts and the DNAT-ed ports that the kernel
 * could hand out as ephemeral ports.  0 or -errno. */
static int set_reserved(struct uplink *u, const struct bpf_nat_spec *nat)
{
	uint8_t *want = malloc(SYSCTL_PORTMAP_BYTES);
	uint16_t elo = 1, ehi = 0;
	int rc;

	if (!want)
		return -ENOMEM;
	rc = sysctl_local_port_range(&elo, &ehi);
	if (rc < 0)
		gw_warn("uplink: net.ipv4.ip_local_port_range: %s: DNAT-ed ports are not "
		        "reserved", strerror(-rc));
	if (!uplink_reserve_map(nat, elo, ehi, want))
		gw_warn("uplink: the DNAT-ed ports cover more than half of "
		        "net.ipv4.ip_local_port_range %u-%u: not reserved (the host would run "
		        "short of ephemeral ports); a connection of the host's own from one of "
		        "them to the uplink's addresses loses its replies to gw", elo, ehi);
	rc = sysctl_ports_set(&u->ports, want);
	free(want);
	return rc;
}

unsigned uplink_mtu_now(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned mtu = 0;

	if (fd < 0)
		return 0;
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
		mtu = (unsigned)ifr.ifr_mtu;
	close(fd);
	return mtu;
}

/* The uplink's MTU (1500 when unknown) and MAC (zero when it has none). */
static unsigned if_info(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned mtu = uplink_mtu_now(ifname);

	memset(mac, 0, 6);
	if (fd >= 0) {
		strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
			memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
		close(fd);
	}
	return mtu ? mtu : 1500;
}

int uplink_open_conf(struct uplink *u, const struct uplink_conf *c)
{
	const struct bpf_nat_spec *nat = &c->nat;
	const char *step;
	int rc;

	memset(u, 0, sizeof(*u));
	u->pfd = u->tx.rfd = u->tx.xfd = u->tx.gfd = -1;
	step = "interface";
	u->ifindex = (int)if_nametoindex(c->ifname);
	if (!u->ifindex) {
		rc = -errno;
		goto fail;
	}
	u->mtu = if_info(c->ifname, u->mac);
	u->host_owned = c->host_owned;
	u->ipv6 = c->ipv6;
	u->tc_pref = c->tc_pref;
	step = "buffers";
	rc = uplink_rx_init(u);
	if (rc < 0)
		goto fail;
	if (c->host_owned && bpf_tc_needed(nat)) {
		struct sock_filter prog[BPF_PROG_MAX];
		int n = bpf_build_tc(nat, prog, BPF_PROG_MAX);

		step = "tc ingress filter";
		rc = n < 0 ? n : c->adopt ?
		     tc_adopt(&u->tc, u->ifindex, c->tc_pref, prog, (unsigned)n, c->adopt_qdisc) :
		     tc_install(&u->tc, u->ifindex, c->tc_pref, prog, (unsigned)n);
		if (rc < 0)
			goto fail;
		u->tc_on = true;
	}
	if (c->host_owned) {
		step = "net.ipv4.ip_local_reserved_ports";
		if (c->adopt_ports) {
			/* a previous gw's ports: released below if no longer wanted */
			u->ports.ours = malloc(SYSCTL_PORTMAP_BYTES);
			rc = -ENOMEM;
			if (!u->ports.ours)
				goto fail;
			memcpy(u->ports.ours, c->adopt_ports, SYSCTL_PORTMAP_BYTES);
		}
		rc = set_reserved(u, nat);
		if (rc < 0)
			goto fail;
		if (nat->lo <= nat->hi)
			sysctl_ports_warn_taken(nat->lo, nat->hi);
	}
	step = "packet socket";
	rc = open_packet(u, nat, c->ring_frames ? c->ring_frames : UPLINK_RING_FRAMES, 0);
	if (rc < 0)
		goto fail;
	step = "send sockets";
	rc = uplink_tx_open(&u->tx, c->ifname, u->ifindex, u->mtu, u->mac, c->raw_send, 0);
	if (rc < 0)
		goto fail;
	u->nat = *nat;
	announce(u, NULL, nat);
	announce6(u, NULL, nat);
	return 0;
fail:
	gw_err("uplink %s: %s: %s", c->ifname, step, strerror(-rc));
	uplink_close(u);
	return rc;
}

int uplink_open(struct uplink *u, const char *ifname, uint32_t nat_addr, uint16_t lo, uint16_t hi)
{
	struct uplink_conf c = {
		.ifname = ifname,
		.nat = { .addr = { nat_addr }, .naddr = 1, .lo = lo, .hi = hi },
		.host_owned = true,
	};

	return uplink_open_conf(u, &c);
}

static bool ports_equal(const struct bpf_port_range *a, const struct bpf_port_range *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i].lo != b[i].lo || a[i].hi != b[i].hi)
			return false;
	return true;
}

bool uplink_nat_equal(const struct bpf_nat_spec *a, const struct bpf_nat_spec *b)
{
	if (a->naddr != b->naddr || a->lo != b->lo || a->hi != b->hi || a->ntcp != b->ntcp ||
	    a->nudp != b->nudp || a->nforeign != b->nforeign ||
	    memcmp(a->addr, b->addr, a->naddr * sizeof(a->addr[0])) || a->ntunnel != b->ntunnel ||
	    memcmp(a->tunnel, b->tunnel, a->ntunnel * sizeof(a->tunnel[0])) ||
	    !ports_equal(a->tcp, b->tcp, a->ntcp) || !ports_equal(a->udp, b->udp, a->nudp))
		return false;
	for (unsigned i = 0; i < a->nforeign; i++)
		if (a->foreign[i].lo != b->foreign[i].lo || a->foreign[i].hi != b->foreign[i].hi)
			return false;
	if (a->naddr6 != b->naddr6 || a->nforeign6 != b->nforeign6 || a->ntunnel6 != b->ntunnel6 ||
	    memcmp(a->addr6, b->addr6, a->naddr6 * sizeof(a->addr6[0])) ||
	    memcmp(a->foreign6, b->foreign6, a->nforeign6 * sizeof(a->foreign6[0])) ||
	    memcmp(a->tunnel6, b->tunnel6, a->ntunnel6 * sizeof(a->tunnel6[0])))
		return false;
	return true;
}

/* The tc filter for nat: replaced in place, installed when it was not,
 * removed when nat has no host-owned address. */
static int set_tc(struct uplink *u, const struct bpf_nat_spec *nat)
{
	struct sock_filter prog[BPF_PROG_MAX];
	int n, rc;

	if (!u->host_owned)
		return 0;
	if (!bpf_tc_needed(nat)) {
		if (!u->tc_on)
			return 0;
		rc = tc_remove(&u->tc);
		u->tc_on = false;
		if (rc < 0)
			gw_warn("uplink: removing the tc filter: %s", strerror(-rc));
		return rc;
	}
	n = bpf_build_tc(nat, prog, BPF_PROG_MAX);
	if (n < 0)
		rc = n;
	else if (u->tc_on)
		rc = tc_replace(&u->tc, prog, (unsigned)n);
	else
		rc = tc_install(&u->tc, u->ifindex, u->tc_pref, prog, (unsigned)n);
	if (rc < 0) {
		gw_err("uplink: tc ingress filter: %s", strerror(-rc));
		return rc;
	}
	u->tc_on = true;
	return 0;
}

/* The packet socket's filter for nat, swapped in one setsockopt.  0 or
 * -errno. */
static int set_sk(struct uplink *u, const struct bpf_nat_spec *nat)
{
	struct sock_filter prog[BPF_PROG_MAX];
	struct sock_fprog fp;
	int n = bpf_build_sk(nat, prog, BPF_PROG_MAX);

	if (n < 0)
		return n;
	fp = (struct sock_fprog){ .len = (unsigned short)n, .filter = prog };
	if (setsockopt(u->pfd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0)
		return -errno;
	/* the fanout's other readers: the same filter (and foreign addresses
	 * for their ARP answers) */
	for (unsigned i = 0; i < u->nrx; i++) {
		if (setsockopt(u->rx[i].pfd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0)
			return -errno;
		u->rx[i].nat = *nat;
	}
	return 0;
}

int uplink_set_nat(struct uplink *u, const struct bpf_nat_spec *nat)
{
	struct sock_filter prog[BPF_PROG_MAX];
	struct bpf_nat_spec old = u->nat;
	int rc;

	if (!u->stale && uplink_nat_equal(nat, &u->nat))
		return 0;
	/* both programs must build before anything changes */
	rc = bpf_build_sk(nat, prog, BPF_PROG_MAX);
	if (rc >= 0 && u->host_owned && bpf_tc_needed(nat))
		rc = bpf_build_tc(nat, prog, BPF_PROG_MAX);
	if (rc < 0) {
		gw_err("uplink: filters: %s", strerror(-rc));
		return rc;
	}
	/* the ports first: the host must not pick one the filters hide */
	if (u->host_owned && (rc = set_reserved(u, nat)) < 0) {
		gw_err("uplink: net.ipv4.ip_local_reserved_ports: %s", strerror(-rc));
		return rc;
	}
	rc = set_sk(u, nat);
	if (rc < 0)
		gw_err("uplink: socket filter: %s", strerror(-rc));
	else
		rc = set_tc(u, nat); /* logged; the old tc program stays on failure */
	if (rc < 0) {
		/* all or nothing: the socket filter and the ports go back */
		int back = set_sk(u, &old);

		if (u->host_owned)
			(void)set_reserved(u, &old);
		if (back < 0) {
			gw_err("uplink: socket filter back to the old spec: %s", strerror(-back));
			u->nat = *nat;
			u->stale = true; /* the next call tries again */
		}
		return rc;
	}
	u->nat = *nat;
	u->stale = false;
	announce(u, &old, nat);
	announce6(u, &old, nat);
	return 0;
}

/* A forwarding sysctl: 0, 1 or -errno. */
static int forwarding_read(const char *path)
{
	char buf[16];
	FILE *f = fopen(path, "re");
	int v = -1;

	if (!f)
		return -errno;
	if (fgets(buf, sizeof(buf), f))
		v = atoi(buf);
	fclose(f);
	return v < 0 ? -EIO : v != 0;
}

int uplink_forwarding(const char *ifname)
{
	char path[128];

	if (strchr(ifname, '/') || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	return forwarding_read(path);
}

int uplink_forwarding6(const char *ifname)
{
	static const char *const name[] = { "forwarding", "forwarding", "force_forwarding" };
	char path[128];
	int v = 0;

	if (strchr(ifname, '/') || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	for (unsigned i = 0; i < 3 && v != 1; i++) {
		int r;

		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", i ? ifname : "all",
			 name[i]);
		r = forwarding_read(path);
		if (r == -ENOENT && i == 2)
			r = 0; /* force_forwarding came with Linux 6.17 */
		if (r != 0)
			v = r;
	}
	return v;
}

int uplink_fanout(struct uplink *u, struct uplink *rx, unsigned n, unsigned ring_frames)
{
	int val = (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16, rc;
	socklen_t len = sizeof(val);

	for (unsigned i = 0; i < n; i++) {
		memset(&rx[i], 0, sizeof(rx[i]));
		rx[i].pfd = rx[i].tx.rfd = rx[i].tx.xfd = rx[i].tx.gfd = -1;
	}
	/* a handed-over socket is in its group already (gw/handover.h) */
	if ((!u->adopted && setsockopt(u->pfd, SOL_PACKET, PACKET_FANOUT, &val, sizeof(val)) < 0) ||
	    getsockopt(u->pfd, SOL_PACKET, PACKET_FANOUT, &val, &len) < 0) {
		rc = -errno;
		goto fail;
	}
	val = PACKET_FANOUT_HASH << 16 | (val & 0xffff);
	for (unsigned i = 0; i < n; i++) {
		struct uplink *c = &rx[i];

		c->ifindex = u->ifindex;
		c->ipv6 = u->ipv6;
		c->mtu = u->mtu;
		memcpy(c->mac, u->mac, sizeof(c->mac));
		c->nat = u->nat;
		if ((rc = uplink_rx_init(c)) < 0 ||
		    (rc = open_packet(c, &u->nat, ring_frames ? ring_frames : UPLINK_RING_FRAMES,
				      i + 1)) < 0)
			goto fail;
		if (!c->adopted && setsockopt(c->pfd, SOL_PACKET, PACKET_FANOUT, &val, sizeof(val)) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	u->rx = rx;
	u->nrx = n;
	return 0;
fail:
	gw_err("uplink: fanout to %u more readers: %s", n, strerror(-rc));
	for (unsigned i = 0; i < n; i++)
		uplink_close(&rx[i]);
	return rc;
}

void uplink_keep(struct uplink *u)
{
	u->keep = true;
}

void uplink_close(struct uplink *u)
{
	int rc;

	for (unsigned i = 0; i < u->nrx; i++)
		uplink_close(&u->rx[i]);
	u->nrx = 0;
	if (u->ring)
		munmap(u->ring, u->ring_size);
	u->ring = NULL;
	if (u->pfd >= 0)
		close(u->pfd);
	u->pfd = -1;
	uplink_tx_close(&u->tx);
	if (u->keep) {
		/* the next gw takes them over */
		u->tc_on = false;
		free(u->ports.ours);
		u->ports.ours = NULL;
	}
	if (u->tc_on) {
		rc = tc_remove(&u->tc);
		if (rc < 0)
			gw_warn("uplink: removing the tc filter: %s", strerror(-rc));
		u->tc_on = false;
	}
	rc = sysctl_ports_release(&u->ports);
	if (rc < 0)
		gw_warn("uplink: restoring ip_local_reserved_ports: %s", strerror(-rc));
	free(u->seg);
	free(u->cbuf);
	free(u->views);
	u->seg = u->cbuf = NULL;
	u->views = NULL;
}
