#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 11's goals from what make bench measured in this run: reads the
outputs the benches left in DIR (pipeline_bench.txt, tunnel_bench.txt,
uplink_bench.txt) and prints one table, measured against goal.  A figure a
bench did not print is "-".  Informational: nothing is judged here."""
import re
import sys

d = sys.argv[1]


def read(name):
    try:
        with open(f"{d}/{name}") as f:
            return f.read()
    except OSError:
        return ""


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


rows = []


def row(goal, measured, target, ok):
    rows.append((goal, measured, target, "-" if ok is None else ("met" if ok else "not met")))


pipe = read("pipeline_bench.txt")
aead = {}
for m in re.finditer(r"^(64|1420)\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+([\d.]+)",
                     pipe, re.M):
    aead[m.group(1)] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
scale = {}
for m in re.finditer(r"^(64|1420)\s+(\d+)\s+(\d+)/(\d+)\s+([\d.]+)\s*$", pipe, re.M):
    scale[m.group(1)] = (float(m.group(5)), int(m.group(4)))

tun = read("tunnel_bench.txt")
mbps = {}
section = None
for line in tun.splitlines():
    if line.startswith("== tunnel throughput"):
        section = "mbps"
    elif line.startswith("== CPU"):
        section = "cpu"
    m = re.match(r"^(gw ↔ gw, \d+ workers?|wireguard-go ↔ wireguard-go)\s+(\S+)\s+(\S+)\s*$", line)
    if m and section == "mbps":
        mbps[m.group(1)] = (num(m.group(2)), num(m.group(3)))
gwbest = [None, None]
for k, v in mbps.items():
    if k.startswith("gw ↔ gw"):
        for i in (0, 1):
            if v[i] is not None and (gwbest[i] is None or v[i] > gwbest[i]):
                gwbest[i] = v[i]
wggo = mbps.get("wireguard-go ↔ wireguard-go", (None, None))
for i, way in enumerate(("up", "down")):
    r = gwbest[i] / wggo[i] if gwbest[i] and wggo[i] else None
    row(f"gw ↔ gw TCP / wireguard-go ↔ wireguard-go ({way})",
        "-" if r is None else f"{r:.1f}x ({gwbest[i]:.0f} / {wggo[i]:.0f} Mbit/s)", ">= 6x",
        None if r is None else r >= 6)

upl = read("uplink_bench.txt")
aead_gb = aead["1420"][0] * 1e9 / 1420 / 1e6 if "1420" in aead else None
for way in ("up", "down"):
    m = re.search(rf"^{way.upper()}\s+Mbit/s\s+\S+\s+\(.*?\)\s+gateway CPU ms/GB\s+(\S+)", upl, re.M)
    cpu = num(m.group(1)) if m else None
    r = cpu / aead_gb if cpu and aead_gb else None
    row(f"gateway CPU per GB / the AEAD's, TCP through tunnel + NAT ({way})",
        "-" if r is None else f"{r:.1f}x ({cpu:.0f} / {aead_gb:.0f} ms/GB)", "<= 1.5x",
        None if r is None else r <= 1.5)

if "64" in aead:
    a, total, ratio = aead["64"]
    row("in-process 64 B packet / the AEAD's (decrypt, conntrack, NAT, send batch)",
        f"{ratio:.2f}x ({total:.0f} / {a:.0f} ns)", "<= 5x", ratio <= 5)
for size in ("64", "1420"):
    if size in scale:
        r, n = scale[size]
        row(f"in-process, {n} workers / ({n} x 1 worker), {size} B", f"{r / n:.2f}", ">= 0.9",
            r / n >= 0.9)

print("== issue 11's goals, from this run's benches")
w = max(len(r[0]) for r in rows) if rows else 10
for g, m, t, ok in rows:
    print(f"{g:<{w}}  {m:>28}  {t:>8}  {ok}")
