#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two hosts and a TCP and a UDP echo: the harness itself works.
#
#   ┌───────┐ eth0 192.0.2.1/24      192.0.2.2/24 eth0 ┌───────┐
#   │   a   ├─────────────────── veth ─────────────────┤   b   │
#   └───────┘                                          └───────┘
#                                            TCP echo :7000, UDP echo :7001
. "$(dirname "$0")/lib.sh"

host_add a b
link_add a eth0 b eth0
addr_add a eth0 192.0.2.1/24
addr_add b eth0 192.0.2.2/24

tcp_echo_server b 7000 > /dev/null
bg b python3 "$TOP/tests/netns/gw_e2e.py" udp-echo 7001 > /dev/null
wait_udp b 7001

head -c 1000000 /dev/urandom > "$TMP/data"
tcp_echo a 192.0.2.2 7000 "$TMP/data"

on a python3 "$TOP/tests/netns/gw_e2e.py" udp-ping 192.0.2.2 7001 3 > /dev/null || fail "UDP echo"
log "TCP and UDP echo between two namespaces"
