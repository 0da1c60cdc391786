#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for systemd's notify socket (sd_notify(3)): binds an AF_UNIX
datagram socket at PATH (mode 0777, as /run/systemd/notify), and appends one
line per message to OUT: the sender's PID (SCM_CREDENTIALS), then the
message's NAME=VALUE lines joined by tabs.  With --ctl SOCKET, a message
with READY=1 also gets "ctl=up" or "ctl=down": whether SOCKET accepted a
connection when the message arrived (gw's control socket must be up by
then).  Runs until killed."""
import argparse
import os
import socket
import struct


def ctl_up(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return "ctl=up"
    except OSError:
        return "ctl=down"
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("--ctl")
    a = ap.parse_args()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(a.path + ".new")
    os.chmod(a.path + ".new", 0o777)
    os.rename(a.path + ".new", a.path)  # appears whole, bound
    ucred = struct.calcsize("3i")
    with open(a.out, "a", buffering=1) as out:
        while True:
            msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(ucred))
            pid = 0
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", data[:ucred])[0]
            fields = msg.decode(errors="replace").split("\n")
            if "READY=1" in fields and a.ctl:
                fields.append(ctl_up(a.ctl))
            out.write("%d\t%s\n" % (pid, "\t".join(f for f in fields if f)))


if __name__ == "__main__":
    main()
