#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A WireGuard handshake flooder for 42-wg-flood.sh.

    wg_flood.py HOST PORT SERVER_PUBKEY_B64 STOPFILE

Sends handshake initiations that carry a valid mac1 for the server's public
key (so they pass the first gate and count as handshake load) but random
ephemeral/static/timestamp fields, in small bursts, until STOPFILE exists
(or 60 s pass).  Reads what comes back and counts the cookie replies (type
3, 64 bytes) addressed to one of our sender indices.  Prints
"sent=N cookies=M other=K" on exit.

mac1 = BLAKE2s-128 keyed with HASH("mac1----" || server public key) over
the message up to mac1 (whitepaper 5.4.4); mac2 is left zero, as a sender
without a cookie does.
"""
import base64
import hashlib
import os
import socket
import struct
import sys
import time

MSG_INITIATION, MSG_COOKIE_REPLY = 1, 3
INITIATION_LEN, COOKIE_REPLY_LEN = 148, 64
BURST, PAUSE = 32, 0.005  # a few thousand a second at most
DEADLINE = 60.0


def main():
    host, port, pub_b64, stopfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    server_pub = base64.b64decode(pub_b64)
    mac1_key = hashlib.blake2s(b"mac1----" + server_pub).digest()
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.setblocking(False)
    base = int.from_bytes(os.urandom(4), "little") & 0xFFFF0000
    sent = cookies = other = 0
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end and not os.path.exists(stopfile):
        for _ in range(BURST):
            sender = base | (sent & 0xFFFF)
            body = struct.pack("<B3xI", MSG_INITIATION, sender) + os.urandom(32 + 48 + 28)
            mac1 = hashlib.blake2s(body, key=mac1_key, digest_size=16).digest()
            try:
                s.send(body + mac1 + bytes(16))
                sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                pass
        while True:
            try:
                d = s.recv(2048)
            except (BlockingIOError, ConnectionRefusedError):
                break
            if (len(d) == COOKIE_REPLY_LEN and d[0] == MSG_COOKIE_REPLY
                    and struct.unpack_from("<I", d, 4)[0] & 0xFFFF0000 == base):
                cookies += 1
            else:
                other += 1
        time.sleep(PAUSE)
    print(f"sent={sent} cookies={cookies} other={other}", flush=True)


if __name__ == "__main__":
    main()
