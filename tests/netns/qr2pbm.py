#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""qr2pbm.py OUT.pbm < TEXT: the QR code a terminal shows (`gw peer add --qr`,
`qrencode -t UTF8`: half blocks, lit = light module) as a PBM image that
zbarimg reads; SCALE pixels per module.  Lines of the text that are not made
of the four half-block characters are skipped."""
import sys

SCALE = 4
CELLS = {" ": (1, 1), "\u2580": (0, 1), "\u2584": (1, 0), "\u2588": (0, 0)}  # 1 = dark

rows = []
for line in sys.stdin.read().splitlines():
    if not line or any(ch not in CELLS for ch in line):
        continue
    rows.append([CELLS[ch][0] for ch in line])
    rows.append([CELLS[ch][1] for ch in line])
if not rows:
    sys.exit("qr2pbm: no QR code in the input")
width = max(len(r) for r in rows)
with open(sys.argv[1], "w") as out:
    out.write("P1\n%d %d\n" % (width * SCALE, len(rows) * SCALE))
    for r in rows:
        line = " ".join(str(px) for px in r for _ in range(SCALE))
        for _ in range(SCALE):
            out.write(line + "\n")
