# gw — one non-recursive Makefile.
#
#   make              build gw/gw
#   make test         install what is missing (deps), unit tests, netns tests
#   make test SAN=1   the same, built with ASan + UBSan (any report fails)
#   make check        unit + netns tests without touching packages
#   make bench        benchmarks (tests/bench), never part of make test
#   make demo         the gateway on a throw-away netns topology
#   make fuzz         libFuzzer harnesses (tests/fuzz), built with clang
#   make container    the real contrib/container/Containerfile built with podman
#                     (on a Debian bookworm base made by mmdebstrap) and netns
#                     test 86 run on that image; slow, not part of make test
#   make fuzz-long FUZZ_SECONDS=N   every harness for N s on its kept corpus
#   make fuzz-cov     each harness's source coverage over that corpus (llvm-cov)
#   make install PREFIX=/usr/local DESTDIR=   gw, gw-userns, gw@.service,
#                     gw-metrics@.service/.timer, examples, gw(8), gw.conf(5),
#                     bash completion
#   V=1 shows the full command lines.

PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?= 0
V       ?= 0

# Debian packages: to build, then to run the tests, benchmarks and demo.
DEB_BUILD := gcc make libc6-dev libsodium-dev libb2-dev libev-dev \
	libcap-ng-dev libseccomp-dev libcmocka-dev libmnl-dev libqrencode-dev libsystemd-dev
DEB_TEST  := iproute2 procps python3 wireguard-tools wireguard-go iptables nftables \
	conntrack socat tcpdump iperf3 clang zbar-tools python3-cryptography groff-base \
	passt podman runc systemd
DEB_PKGS  := $(DEB_BUILD) $(DEB_TEST)

ifeq ($(SAN),1)
B       := build/san
OPT     := -O1 -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
GWBIN   := $(B)/gw/gw
else
B       := build/rel
OPT     := -O2
SANFLAGS :=
GWBIN   := gw/gw
endif

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

CPPFLAGS += -I. -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wvla \
	-Wformat=2 -fstack-protector-strong $(SANFLAGS)
DEPFLAGS := -MMD -MP
LDFLAGS  += $(SANFLAGS)

NAT_SRC    := $(sort $(wildcard nat/*.c nat/ext/*.c))
PKT_SRC    := $(sort $(wildcard nat/pkt/*.c))
CRYPTO_SRC := $(sort $(wildcard crypto/*.c))
GW_SRC     := $(sort $(wildcard gw/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UTIL_SRC   := $(sort $(wildcard tests/unit/util_*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench/*_bench.c))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))

objs = $(patsubst %.c,$(B)/%.o,$(1))

LIBNAT    := $(B)/nat/libnat.a
LIBPKT    := $(B)/nat/pkt/libpkt.a
LIBCRYPTO := $(B)/crypto/libgwcrypto.a
LIBGW     := $(B)/gw/libgw.a
LIBS      := $(LIBNAT) $(LIBPKT) $(LIBCRYPTO)
GW_MAIN   := gw/main.c
GW_LIBSRC := $(filter-out $(GW_MAIN),$(GW_SRC))
EXT_LIBS  := -lsodium -lb2
GW_LIBS   := $(EXT_LIBS) -lev -lcap-ng -lseccomp -lmnl -lqrencode -lsystemd

UNIT_BINS  := $(patsubst %.c,$(B)/%,$(UNIT_SRC))
BENCH_BINS := $(patsubst %.c,$(B)/%,$(BENCH_SRC))
CONNRATE   := $(B)/tests/bench/connrate

ALL_OBJ := $(call objs,$(NAT_SRC) $(PKT_SRC) $(CRYPTO_SRC) $(GW_SRC) $(UTIL_SRC)) \
	$(UNIT_BINS:=.o) $(BENCH_BINS:=.o)

.SECONDARY:

.PHONY: all test check unit doc-check netns tsan pure bench demo fuzz fuzz-long fuzz-cov deps install clean container
.DEFAULT_GOAL := all

all: $(GWBIN)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(LIBNAT): $(call objs,$(NAT_SRC))
	@mkdir -p $(@D)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBPKT): $(call objs,$(PKT_SRC))
	@mkdir -p $(@D)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBCRYPTO): $(call objs,$(CRYPTO_SRC))
	@mkdir -p $(@D)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBGW): $(call objs,$(GW_LIBSRC))
	@mkdir -p $(@D)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(GWBIN): $(call objs,$(GW_MAIN)) $(LIBGW) $(LIBS)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(call objs,$(GW_MAIN)) $(LIBGW) $(LIBS) $(GW_LIBS)

# Unit tests link everything but gw's main(): libraries are archives, so each
# test pulls in only what it uses.
$(B)/tests/unit/test_%: $(B)/tests/unit/test_%.o $(call objs,$(UTIL_SRC)) $(LIBGW) $(LIBS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(call objs,$(UTIL_SRC)) $(LIBGW) $(LIBS) $(GW_LIBS) -lcmocka

$(B)/tests/bench/%_bench: $(B)/tests/bench/%_bench.o $(LIBS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(EXT_LIBS)

# The libraries (nat/, its packet core nat/pkt/, crypto/) are pure: no clock, no sockets, no files, no stdio.
PURE_FORBIDDEN := clock_gettime gettimeofday time socket bind connect \
	open openat fopen read write close ioctl recv recvfrom recvmsg recvmmsg \
	send sendto sendmsg sendmmsg poll epoll_wait select printf fprintf puts \
	perror stderr stdout exit abort syslog getrandom
pure: $(LIBS)
	$(call say,PURE,'nat nat/pkt crypto')
	$(Q)bad=$$(nm -u $^ | awk '{print $$NF}' | sed 's/@.*//' | sort -u | \
		grep -xF $(foreach s,$(PURE_FORBIDDEN),-e $(s))); \
	if [ -n "$$bad" ]; then echo "nat/, nat/pkt/ or crypto/ calls I/O: $$bad" >&2; exit 1; fi

# The benchmarks are built here too (run only by make bench), so a change
# that breaks one fails make test.
unit: $(UNIT_BINS) $(BENCH_BINS) pure doc-check
	$(Q)tests/unit/run.sh $(UNIT_BINS)

# The man pages (doc/) and the bash completion against gw --help and the
# config parser's keys; groff -ww renders the pages without a warning.
doc-check: $(GWBIN)
	$(Q)tests/doc/check.sh $(GWBIN)

# The suite runs gw with Workers = 2; these again with one worker (no threads).
NETNS_ONE_WORKER := 40-wg-interop.sh 46-gateway-runtime-peers.sh 60-gateway-masquerade.sh \
	65-gateway-bulk.sh 70-gateway-frag.sh
netns: $(GWBIN)
	$(Q)GW=$(abspath $(GWBIN)) tests/netns/run.sh
	$(Q)GW=$(abspath $(GWBIN)) GW_TEST_WORKERS=1 tests/netns/run.sh $(NETNS_ONE_WORKER)

check: unit netns

# The workers under ThreadSanitizer (not in make test: a build of its own,
# and slow): a data race aborts gw (halt_on_error), so these tests, which
# drive the threads hardest, fail on one.
TSAN_TESTS := 40-wg-interop.sh 42-wg-flood.sh 45-wg-uapi.sh 46-gateway-runtime-peers.sh \
	60-gateway-masquerade.sh 61-gateway-control.sh 65-gateway-bulk.sh 70-gateway-frag.sh \
	89-gateway-reexec.sh
tsan: $(CONNRATE)
	$(Q)$(MAKE) --no-print-directory B=build/tsan OPT='-O1 -g' SANFLAGS=-fsanitize=thread \
		GWBIN=build/tsan/gw/gw build/tsan/gw/gw
	$(Q)GW=$(abspath build/tsan/gw/gw) TSAN_OPTIONS=halt_on_error=1 \
		tests/netns/run.sh $(TSAN_TESTS)

test:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory check

# Each bench's output is kept in $(BENCH_OUT); goals.py reads them at the end.
BENCH_OUT := $(B)/bench-out
bench: $(BENCH_BINS) $(GWBIN) $(CONNRATE)
	$(Q)mkdir -p $(BENCH_OUT)
	$(Q)for b in $(BENCH_BINS); do echo "== $$b"; o=$(BENCH_OUT)/$${b##*/}.txt; \
		$$b > $$o; rc=$$?; cat $$o; [ $$rc = 0 ] || exit 1; done
	@# then the tunnel between two namespaces (root; iperf3, wireguard-go)
	$(Q)GW=$(abspath $(GWBIN)) tests/bench/tunnel_bench.sh > $(BENCH_OUT)/tunnel_bench.txt; \
		rc=$$?; cat $(BENCH_OUT)/tunnel_bench.txt; [ $$rc = 0 ]
	@# and the connection rate through gw and through the kernel's NAT
	$(Q)GW=$(abspath $(GWBIN)) CONNRATE=$(abspath $(CONNRATE)) tests/bench/connrate_bench.sh
	@# and what the gateway costs per GB through its uplink (TCP through the NAT)
	$(Q)GW=$(abspath $(GWBIN)) tests/bench/uplink_bench.sh > $(BENCH_OUT)/uplink_bench.txt; \
		rc=$$?; cat $(BENCH_OUT)/uplink_bench.txt; [ $$rc = 0 ]
	@# issue 11's goals against this run's numbers
	$(Q)python3 tests/bench/goals.py $(BENCH_OUT)

demo:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)GW=$(abspath $(GWBIN)) tests/netns/demo.sh

# Fuzzers: clang with libFuzzer; the libraries as archives so each harness
# pulls in only what it uses.  FUZZ_B and FUZZ_EXTRA let tests/fuzz/cov.sh
# build the same harnesses with clang's source coverage in a tree of its own.
FUZZ_B     ?= build/fuzz
FUZZ_EXTRA ?=
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(FUZZ_EXTRA)
FUZZ_LIBNAT := $(FUZZ_B)/libnat.a
FUZZ_LIBPKT := $(FUZZ_B)/libpkt.a
FUZZ_LIBCRYPTO := $(FUZZ_B)/libgwcrypto.a
FUZZ_LIBGW := $(FUZZ_B)/libgw.a
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(FUZZ_B)/%,$(FUZZ_SRC))
# the tests' reference checksum, so harnesses do not write their own
FUZZ_UTIL := $(FUZZ_B)/obj/tests/unit/util_refsum.o

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CLANG,$<)
	$(Q)clang $(CPPFLAGS) $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(FUZZ_LIBNAT): $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(NAT_SRC))
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_LIBPKT): $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(PKT_SRC))
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_LIBCRYPTO): $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(CRYPTO_SRC))
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_LIBGW): $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(GW_LIBSRC))
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_B)/%: tests/fuzz/%.c $(FUZZ_UTIL) $(FUZZ_LIBGW) $(FUZZ_LIBNAT) $(FUZZ_LIBPKT) $(FUZZ_LIBCRYPTO)
	@mkdir -p $(@D)
	$(call say,FUZZ,$@)
	$(Q)clang $(CPPFLAGS) $(FUZZ_CFLAGS) $(DEPFLAGS) -MF $@.d -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_UTIL) $(FUZZ_LIBGW) $(FUZZ_LIBNAT) $(FUZZ_LIBPKT) $(FUZZ_LIBCRYPTO) $(GW_LIBS)

fuzz: $(FUZZ_BINS)

# the headers each object and harness was built from: a changed struct
# rebuilds everything that lays it out (else harness and libraries disagree)
-include $(patsubst %.c,$(FUZZ_B)/obj/%.d,$(NAT_SRC) $(PKT_SRC) $(CRYPTO_SRC) $(GW_LIBSRC)) \
	$(FUZZ_UTIL:.o=.d) $(FUZZ_BINS:=.d)

# The real image: a bookworm base from Debian's packages (mmdebstrap, where
# no image registry is reachable), the Containerfile's two stages (gw
# compiled in the first), then test 86 on it.  Everything podman keeps is
# under build/container (make clean removes it).
CONTAINER_DIR := $(abspath build/container)
PODMAN := podman --root $(CONTAINER_DIR)/storage --runroot $(CONTAINER_DIR)/run \
	--storage-driver vfs --cgroup-manager cgroupfs --runtime runc --events-backend file
container: $(GWBIN)
	$(Q)command -v mmdebstrap > /dev/null || DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends mmdebstrap
	$(Q)mkdir -p $(CONTAINER_DIR)
	$(Q)$(PODMAN) image exists localhost/debian:bookworm || { \
		mmdebstrap --variant=minbase bookworm $(CONTAINER_DIR)/bookworm.tar && \
		$(PODMAN) import $(CONTAINER_DIR)/bookworm.tar localhost/debian:bookworm && \
		rm -f $(CONTAINER_DIR)/bookworm.tar; }
	$(Q)$(PODMAN) build --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
		--build-arg BASE=localhost/debian:bookworm -f contrib/container/Containerfile \
		-t localhost/gw .
	$(Q)GW=$(abspath $(GWBIN)) GW_IMAGE=localhost/gw GW_PODMAN_ROOT=$(CONTAINER_DIR) \
		tests/netns/run.sh 86-container.sh

# Every harness for FUZZ_SECONDS (FUZZERS: some of them), each on its kept
# corpus: the committed seeds (tests/fuzz/corpus/NAME) and what earlier runs
# found (build/fuzz/corpus/NAME); crashes in build/fuzz/crash/.  Not in
# make test.  fuzz-cov: source coverage of each harness over its kept
# corpus (llvm-cov; tests/fuzz/cov.sh), after a fuzz-long.
FUZZ_SECONDS ?= 60
FUZZERS ?= $(notdir $(FUZZ_BINS))
fuzz-long: $(addprefix $(FUZZ_B)/,$(FUZZERS))
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

fuzz-cov:
	$(Q)tests/fuzz/cov.sh $(FUZZERS)

# Installs exactly what is missing; runs apt-get update at most once.
deps:
	$(Q)missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || \
			missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

install: $(GWBIN)
	install -D -m 0755 $(GWBIN) $(DESTDIR)$(PREFIX)/bin/gw
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/doc/gw/examples
	install -m 0644 contrib/examples/* $(DESTDIR)$(PREFIX)/share/doc/gw/examples/
	install -d -m 0755 $(DESTDIR)$(PREFIX)/lib/systemd/system
	for u in gw@.service gw-metrics@.service gw-metrics@.timer; do \
		sed 's|/usr/local/bin/gw|$(PREFIX)/bin/gw|' contrib/systemd/$$u > \
			$(DESTDIR)$(PREFIX)/lib/systemd/system/$$u || exit 1; \
	done
	install -m 0755 contrib/container/gw-userns $(DESTDIR)$(PREFIX)/bin/gw-userns
	install -D -m 0644 doc/gw.8 $(DESTDIR)$(PREFIX)/share/man/man8/gw.8
	install -D -m 0644 doc/gw.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/gw.conf.5
	install -D -m 0644 contrib/bash-completion/gw \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/gw

clean:
	rm -rf build gw/gw

-include $(ALL_OBJ:.o=.d)

# ---- tests/netns/uplink_probe: drives gw/uplink in 50-uplink.sh -------------
UPLINK_PROBE := $(B)/tests/netns/uplink_probe

$(UPLINK_PROBE): $(B)/tests/netns/uplink_probe.o $(LIBGW) $(LIBS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIBGW) $(LIBS) $(GW_LIBS)

netns: $(UPLINK_PROBE)
tsan: $(UPLINK_PROBE)

-include $(B)/tests/netns/uplink_probe.d

# ---- tests/bench/connrate: short TCP connections (make bench, 50 and 65) ----
$(CONNRATE): $(B)/tests/bench/connrate.o
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $<

netns: $(CONNRATE)

-include $(B)/tests/bench/connrate.d

# ---- tests/netns/syscall_filter: systemd's SystemCallFilter= in 84 ----------
SYSCALL_FILTER := $(B)/tests/netns/syscall_filter

$(SYSCALL_FILTER): $(B)/tests/netns/syscall_filter.o
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< -lseccomp

netns: $(SYSCALL_FILTER)

-include $(B)/tests/netns/syscall_filter.d
