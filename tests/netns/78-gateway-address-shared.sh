#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# An Address the host also has on its uplink stays the host's: the world of
# gateway.sh with `Address = 198.51.100.1/32` (the uplink's own address)
# beside 10.8.0.1/24.  gw takes all IPv4 to its tunnel Addresses off the
# uplink (so gw's rules see it), but not this one: the internet host still
# reaches a listener of the gateway's host on 198.51.100.1, and the filters
# line names only 10.8.0.1 as a tunnel address.  (Hiding it cut the host off:
# ssh, DHCP, gw's own handshakes.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

GW_IFACE_EXTRA="Address = 198.51.100.1/32" gateway_world
bg gateway python3 "$TOP/tests/netns/antispoof.py" tcp-listen 0.0.0.0 2299
wait_tcp gateway 2299
wait_for 15 grep -q "filters: .*tunnel (all IPv4) 10.8.0.1;" "$TMP/gw.log"
r=$(on internet python3 "$TOP/tests/netns/antispoof.py" connect 198.51.100.1 2299 20)
[ "$r" = connected ] || fail "the host's listener on its uplink address: $r"
r=$(on client python3 "$TOP/tests/netns/antispoof.py" connect 10.8.0.1 2299 20)
[ "$r" = connected ] || fail "the client to the host's listener on 10.8.0.1: $r"
log "an Address the uplink has too stays reachable from the uplink; 10.8.0.1 is gw's"
