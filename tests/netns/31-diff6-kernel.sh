#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The differential test for IPv6: for the same ip6tables rules and IPv6
# packets, gw's verdicts, NAT66 results, counters and conntrack states equal
# the kernel's.  The machinery is 30-diff-kernel.sh's (diff/diffkernel.py,
# diff/pkt.py, the topology in diff/topology.sh with its IPv6 addresses);
# the scenarios are diff6/*.scn: their packets use IPv6 addresses, their
# [rules] are ip6tables-restore text, given to gw as Rules6 and loaded with
# ip6tables-restore into the gw namespace, which forwards IPv6
# (net.ipv6.conf.all.forwarding=1) only as the kernel reference.  Counters
# come from ip6tables-save -c, the table from conntrack -L -f ipv6.
#
#   tests/netns/run.sh 31-diff6-kernel.sh             all IPv6 scenarios
#   bash tests/netns/31-diff6-kernel.sh diff6/x.scn   some (DIFF_VERBOSE=1: every step)
#   DIFF_KERNEL_ONLY=1 bash tests/netns/31-diff6-kernel.sh   only what Linux does
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/diff/topology.sh"

diff_scenarios "$TOP/tests/netns/diff6" "$@"
diff_topology 6
diff_run "${DIFF_SCENARIOS[@]}"
