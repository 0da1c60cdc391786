/* SPDX-License-Identifier: MIT */
/*
 * tun — the host side of the tunnel: a TUN device (IFF_TUN | IFF_NO_PI, with
 * IFF_VNET_HDR and TSO when the kernel has them) named after the config, its
 * addresses, MTU and link state set over rtnetlink
 * (libmnl).  The device goes away when its fd is closed.
 */
#ifndef GW_TUN_H
#define GW_TUN_H

#include <stddef.h>
#include <stdint.h>

struct cidr;

/* Creates the device with queues queues (IFF_MULTI_QUEUE when more than
 * one: the kernel spreads what the host sends by flow, each flow to one
 * queue), their fds (non-blocking) in fds[0..queues-1].  0 or -errno
 * (nothing left open).  With the kernel's offloads (IFF_VNET_HDR,
 * TUNSETOFFLOAD checksum + TSO4/6: *offload_err = 0) every read and write
 * carries a struct virtio_net_hdr first and reads may be TCP super-packets
 * up to 64 KB; otherwise (*offload_err = -errno why not) plain packets, one
 * per read. */
int tun_open(const char *name, unsigned queues, int *fds, int *offload_err);
/* Sets mtu, adds the addresses and brings the link up.  0 or -errno; *what
 * names the step that failed. */
int tun_configure(const char *name, uint16_t mtu, const struct cidr *addrs, size_t n,
		  const char **what);
/* net.ipv4.conf.NAME.accept_local = 1: the kernel takes packets from the
 * device whose source is one of its own addresses, as gw's ICMP errors are
 * (from the device's Address); without it they are dropped as martians.
 * The setting goes with the device.  Where /proc/sys is read-only (a
 * container), presetting net.ipv4.conf.all.accept_local=1 (or .default.,
 * which the new device copies) does: nothing to write then.  0 or -errno. */
int tun_accept_local(const char *name);
/* A queue handed over by a re-exec (gw/handover.h): 0 when it carries the
 * virtio header (the offloads are on), else -errno or -ENOTSUP. */
int tun_vnet(int fd);

#endif
