#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Captures WireGuard data messages off the wire, for replaying them.

    wg_capture.py IFACE PORT COUNT READYFILE

On a packet socket bound to IFACE, takes the first COUNT incoming IPv4 UDP
datagrams to PORT that are data messages with a payload (type 4, longer
than a keepalive), prints each UDP payload as one hex line and exits.
Creates READYFILE once the socket listens, so the caller can start traffic.
"""
import socket
import struct
import sys

ETH_P_IP, PACKET_OUTGOING = 0x0800, 4
MSG_DATA, KEEPALIVE_LEN = 4, 32


def main():
    iface, port, count, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.bind((iface, ETH_P_IP))
    open(ready, "w").close()
    got = 0
    while got < count:
        pkt, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING or len(pkt) < 20 or pkt[9] != socket.IPPROTO_UDP:
            continue
        ihl = (pkt[0] & 0xF) * 4
        udp = pkt[ihl:]
        if len(udp) < 8 or struct.unpack_from("!H", udp, 2)[0] != port:
            continue
        payload = udp[8:struct.unpack_from("!H", udp, 4)[0]]
        if len(payload) > KEEPALIVE_LEN and payload[0] == MSG_DATA:
            print(payload.hex(), flush=True)
            got += 1


if __name__ == "__main__":
    main()
