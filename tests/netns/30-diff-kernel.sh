#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The differential test: for the same rules and packets, gw's verdicts, NAT
# results, counters and conntrack states equal the kernel's.
#
# (the topology: diff/topology.sh)
#
# Every scenario in diff/*.scn is a rules file and a packet sequence.  gw
# traces it offline (gw trace --json --hex --conntrack); the driver
# (diff/diffkernel.py) sends gw's very bytes through the gw namespace from
# the side they enter, captures what comes out on both far ends (packet
# sockets; an ARP round trip on each side after every packet tells when
# everything it caused has arrived), reads iptables-save -c and conntrack -L
# there, and compares.  The far ends never answer: IPv4 is dropped at their
# ingress, after the capture.
#
#   tests/netns/run.sh 30-diff-kernel.sh            all scenarios
#   bash tests/netns/30-diff-kernel.sh diff/x.scn   some (DIFF_VERBOSE=1: every step)
#   DIFF_KERNEL_ONLY=1 bash tests/netns/30-diff-kernel.sh   only what Linux does
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/diff/topology.sh"

diff_scenarios "$DIFF" "$@"
diff_topology
diff_run "${DIFF_SCENARIOS[@]}"
