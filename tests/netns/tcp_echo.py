#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A TCP echo for the netns tests that cannot deadlock, whatever the size.

    tcp_echo.py serve PORT [BIND]
        echoes each connection in a thread of its own until the peer's EOF,
        then closes it; prints each peer as ADDR:PORT when it is accepted.
        BIND (default 0.0.0.0) may be an IPv6 address.
    tcp_echo.py check ADDR PORT FILE
        sends FILE from one thread while the main one reads the echo back,
        then exits 0 if every byte came back intact and in order, 1 with
        "N of M bytes came back intact" if not.

Why: a client that writes everything before it reads (socat - TCP:... <
file), against an echo that blocks on its write while the client blocks on
its own, waits forever once the buffers of both directions are full (socat's
PIPE echo did, at about 540 KB of 1 MB).  Here the client always reads, so
the server's write always drains, and the server's reads resume.
"""
import socket
import sys
import threading

TIMEOUT = 60  # a stall this long is a failure, reported, not a hang


def serve(port, bind="0.0.0.0"):
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((bind, port))
    ls.listen(128)

    def echo(c):
        try:
            while True:
                d = c.recv(1 << 16)
                if not d:
                    break
                c.sendall(d)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # reset: a test may do that on purpose
        finally:
            c.close()

    while True:
        c, a = ls.accept()
        print("%s:%d" % a[:2], flush=True)
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def check(addr, port, path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        s = socket.create_connection((addr, port), timeout=TIMEOUT)
    except OSError as e:
        print("connect: %s" % e, flush=True)
        return 1
    sent = []

    def send():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            sent.append(None)
        except OSError as e:
            sent.append(e)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    got, bad, err = 0, None, None
    try:
        while True:
            d = s.recv(1 << 16)
            if not d:
                break
            if bad is None and d != data[got:got + len(d)]:
                bad = got + next(i for i in range(len(d))
                                 if got + i >= len(data) or d[i] != data[got + i])
            got += len(d)
    except OSError as e:
        err = e
    t.join(TIMEOUT)
    if bad is None and got == len(data) and err is None and sent == [None]:
        return 0
    why = [str(x) for x in (err, sent[0] if sent else "still sending") if x]
    if bad is not None:
        why.insert(0, "wrong from byte %d on" % bad)
    print("%d of %d bytes came back%s" % (got, len(data), ": " + "; ".join(why) if why else ""),
          flush=True)
    return 1


def main():
    a = sys.argv[1:]
    if a[:1] == ["serve"] and len(a) in (2, 3):
        serve(int(a[1]), *a[2:])
    elif a[:1] == ["check"] and len(a) == 4:
        sys.exit(check(a[1], int(a[2]), a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
