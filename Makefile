# ucsec: plain GNU make.  See README.md.
#   make                 build every tool into $(BUILD)/bin
#   make check           install test deps, ASan+UBSan build, unit +
#                        integration tests, every fuzz harness briefly
#   make demo            install deps, build, run the CTL demo
#   make fuzz            run every libFuzzer harness for FUZZ_SECONDS
#   make install         PREFIX=/usr/local DESTDIR=
#   make SANITIZE=1      ASan + UBSan build (into build-san/)

PREFIX		?= /usr/local
DESTDIR		?=
FUZZ_SECONDS	?= 30
CC		?= cc

ifeq ($(SANITIZE),1)
BUILD		?= build-san
SANFLAGS	 = -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=all
else
BUILD		?= build
SANFLAGS	 =
endif

PKGS		 = libcrypto libssl libp11 p11-kit-1 inih libevent libxml-2.0 \
		   libevent_openssl libevent_pthreads sqlite3 libcurl libosip2 \
		   libsrtp2 libpcap
PKG_CFLAGS	:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

WARNINGS	 = -Wall -Wextra -Werror -Wstrict-prototypes \
		   -Wmissing-prototypes -Wmissing-declarations -Wshadow \
		   -Wpointer-arith -Wsign-compare
CFLAGS		?= -O2 -g
CPPFLAGS	+= -D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 \
		   -DOPENSSL_NO_DEPRECATED -Ilib -Ipkcs11
ALL_CFLAGS	 = -std=c11 $(WARNINGS) $(CFLAGS) $(SANFLAGS) $(CPPFLAGS) \
		   $(PKG_CFLAGS)
ALL_LDFLAGS	 = $(LDFLAGS) $(SANFLAGS)

LIB_SRCS	 = lib/capfmsg.c \
		   lib/cert.c \
		   lib/cmd.c \
		   lib/conf.c \
		   lib/csv.c \
		   lib/cursor.c \
		   lib/daemon.c \
		   lib/digest.c \
		   lib/enccfg.c \
		   lib/fileio.c \
		   lib/json.c \
		   lib/keylog.c \
		   lib/log.c \
		   lib/lsc.c \
		   lib/netpkt.c \
		   lib/pwhash.c \
		   lib/rtpflow.c \
		   lib/sdes.c \
		   lib/seal.c \
		   lib/sgn.c \
		   lib/sgnbuild.c \
		   lib/sgnprint.c \
		   lib/signer.c \
		   lib/skinny.c \
		   lib/srtpw.c \
		   lib/store.c \
		   lib/tftppkt.c \
		   lib/ttyread.c \
		   lib/uerr.c \
		   lib/wbuf.c
LIB_HDRS	 = $(wildcard lib/*.h)

P11_SRCS	 = pkcs11/p11.c \
		   pkcs11/p11uri.c \
		   pkcs11/pin.c \
		   pkcs11/keyref.c
P11_HDRS	 = $(wildcard pkcs11/*.h)

CTL_SRCS	 = ctlclient/main.c \
		   ctlclient/build.c \
		   ctlclient/inspect.c \
		   ctlclient/source.c
TOK_SRCS	 = pkcs11/tokenctl.c
TFTPD_SRCS	 = tftp/tftpd.c \
		   tftp/server.c \
		   tftp/files.c
SGNT_SRCS	 = tftp/sgntool.c
STORM_SRCS	 = tftp/tftpstorm.c
CAPFD_SRCS	 = capf/capfd.c \
		   capf/server.c \
		   capf/capfsm.c
CAPFCTL_SRCS	 = capf/capfctl.c
PHONE_SRCS	 = capf/phone.c
CERTMGR_SRCS	 = capf/certmgr.c
# The call core without its I/O edges (fuzz-sip links these alone).
CCM_CORE_SRCS	 = ccm/sip.c \
		   ccm/registrar.c \
		   ccm/auth.c \
		   ccm/b2bua.c \
		   ccm/dialog.c \
		   ccm/trunk.c \
		   ccm/sdp.c \
		   ccm/sccp.c \
		   ccm/keymgr.c \
		   ccm/sipleg.c
CCMD_SRCS	 = ccm/ccmd.c \
		   ccm/transport.c \
		   $(CCM_CORE_SRCS)
CCMCTL_SRCS	 = ccm/ccmctl.c
# Endpoint simulators and the capture decryptor: lib/ only, no ccm.h.
SCCPPHONE_SRCS	 = ccm/sccp-phone.c
SIPPHONE_SRCS	 = ccm/sip-phone.c
SRTPDEC_SRCS	 = ccm/srtp-decrypt.c

LIB_OBJS	 = $(LIB_SRCS:%.c=$(BUILD)/%.o)
P11_OBJS	 = $(P11_SRCS:%.c=$(BUILD)/%.o)
CTL_OBJS	 = $(CTL_SRCS:%.c=$(BUILD)/%.o)
TOK_OBJS	 = $(TOK_SRCS:%.c=$(BUILD)/%.o)
TFTPD_OBJS	 = $(TFTPD_SRCS:%.c=$(BUILD)/%.o)
SGNT_OBJS	 = $(SGNT_SRCS:%.c=$(BUILD)/%.o)
STORM_OBJS	 = $(STORM_SRCS:%.c=$(BUILD)/%.o)
CAPFD_OBJS	 = $(CAPFD_SRCS:%.c=$(BUILD)/%.o)
CAPFCTL_OBJS	 = $(CAPFCTL_SRCS:%.c=$(BUILD)/%.o)
PHONE_OBJS	 = $(PHONE_SRCS:%.c=$(BUILD)/%.o)
CERTMGR_OBJS	 = $(CERTMGR_SRCS:%.c=$(BUILD)/%.o)
CCMD_OBJS	 = $(CCMD_SRCS:%.c=$(BUILD)/%.o)
CCMCTL_OBJS	 = $(CCMCTL_SRCS:%.c=$(BUILD)/%.o)
SCCPPHONE_OBJS	 = $(SCCPPHONE_SRCS:%.c=$(BUILD)/%.o)
SIPPHONE_OBJS	 = $(SIPPHONE_SRCS:%.c=$(BUILD)/%.o)
SRTPDEC_OBJS	 = $(SRTPDEC_SRCS:%.c=$(BUILD)/%.o)

LIBUCSEC	 = $(BUILD)/libucsec.a
LIBP11		 = $(BUILD)/libucsec-p11.a
BINS		 = $(BUILD)/bin/ctlclient $(BUILD)/bin/tokenctl \
		   $(BUILD)/bin/ucsec-tftpd $(BUILD)/bin/sgntool \
		   $(BUILD)/bin/tftpstorm $(BUILD)/bin/capfd \
		   $(BUILD)/bin/capfctl $(BUILD)/bin/capf-phone \
		   $(BUILD)/bin/certmgr $(BUILD)/bin/ccmd \
		   $(BUILD)/bin/ccmctl $(BUILD)/bin/sccp-phone \
		   $(BUILD)/bin/sip-phone $(BUILD)/bin/srtp-decrypt
SBINS		 = $(BUILD)/bin/ucsec-tftpd $(BUILD)/bin/capfd $(BUILD)/bin/ccmd

UNIT_SRCS	 = $(wildcard tests/unit/test-*.c)
UNIT_BIN	 = $(BUILD)/tests/unit-tests
# The CAPF server state machine, replayed against the transcripts.
REPLAY_BIN	 = $(BUILD)/tests/capf-replay

FUZZ_SRCS	 = $(wildcard fuzz/fuzz-*.c)
FUZZ_BINS	 = $(FUZZ_SRCS:fuzz/%.c=build-fuzz/%)
FUZZ_CFLAGS	 = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
		   $(CPPFLAGS) $(PKG_CFLAGS) -DUCSEC_FUZZ

MANS		 = docs/ctlclient.1 docs/tokenctl.1 docs/sgntool.1 \
		   docs/tftpstorm.1 docs/capf-phone.1 docs/sccp-phone.1 \
		   docs/sip-phone.1 docs/srtp-decrypt.1
MANS8		 = docs/ucsec-tftpd.8 docs/capfd.8 docs/capfctl.8 docs/certmgr.8 \
		   docs/ccmd.8 docs/ccmctl.8

.PHONY: all check test unit integration demo fuzz fuzz-build install \
	clean deps deps-demo deps-test deps-bench bench bench-run

all: $(BINS)

$(BUILD)/%.o: %.c $(LIB_HDRS) $(P11_HDRS) $(wildcard $(dir $<)extern.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBUCSEC): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(LIBP11): $(P11_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/ctlclient: $(CTL_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CTL_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/tokenctl: $(TOK_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TOK_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/ucsec-tftpd: $(TFTPD_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TFTPD_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/sgntool: $(SGNT_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(SGNT_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/tftpstorm: $(STORM_OBJS) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(STORM_OBJS) $(LIBUCSEC) $(PKG_LIBS)

$(TFTPD_OBJS) $(SGNT_OBJS) $(STORM_OBJS): $(wildcard tftp/extern.h)

$(BUILD)/bin/capfd: $(CAPFD_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CAPFD_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/capfctl: $(CAPFCTL_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CAPFCTL_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/capf-phone: $(PHONE_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(PHONE_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/certmgr: $(CERTMGR_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CERTMGR_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(CAPFD_OBJS): capf/capfd.h capf/capfsm.h

$(BUILD)/bin/ccmd: $(CCMD_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CCMD_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/ccmctl: $(CCMCTL_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CCMCTL_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/sccp-phone: $(SCCPPHONE_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(SCCPPHONE_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/sip-phone: $(SIPPHONE_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(SIPPHONE_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(BUILD)/bin/srtp-decrypt: $(SRTPDEC_OBJS) $(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(SRTPDEC_OBJS) $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

$(CCMD_OBJS): ccm/ccm.h $(wildcard ccm/sdp.h)

$(REPLAY_BIN): tests/capf/replay.c capf/capfsm.h $(BUILD)/capf/capfsm.o \
		$(LIBP11) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icapf $(ALL_LDFLAGS) -o $@ $< \
	    $(BUILD)/capf/capfsm.o $(LIBP11) $(LIBUCSEC) $(PKG_LIBS)

# The unit suite also covers the call core's SDP module (ccm/sdp.c).
$(UNIT_BIN): $(UNIT_SRCS) tests/unit/unit.h ccm/sdp.c ccm/sdp.h $(LIBP11) \
		$(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Iccm $(ALL_LDFLAGS) -o $@ \
	    $(UNIT_SRCS) ccm/sdp.c $(LIBP11) $(LIBUCSEC) $(PKG_LIBS) -lcunit

$(BUILD)/bench/bench-sgn: bench/bench-sgn.c $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBUCSEC) $(PKG_LIBS)

bench: deps-bench
	$(MAKE) bench-run

$(BUILD)/bench/sipload: bench/sipload.c $(LIB_HDRS) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBUCSEC) $(PKG_LIBS)

# Our SRTP wrapper against raw libsrtp2, in one process.
$(BUILD)/bench/srtpbench: bench/srtpbench.c $(LIB_HDRS) $(LIBUCSEC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBUCSEC) $(PKG_LIBS)

bench-run: $(BINS) $(BUILD)/bench/bench-sgn $(BUILD)/bench/sipload \
		$(BUILD)/bench/srtpbench
	UCSEC_BIN=$(CURDIR)/$(BUILD)/bin BUILD=$(CURDIR)/$(BUILD) bench/run

deps:
	scripts/deps build

deps-test:
	scripts/deps test

deps-bench:
	scripts/deps bench

deps-demo:
	scripts/deps demo

# The README's test command: everything CI checks, from a fresh machine.
check: deps-test
	$(MAKE) SANITIZE=1 test
	$(MAKE) -j2 fuzz-build
	$(MAKE) fuzz FUZZ_SECONDS=$(or $(CHECK_FUZZ_SECONDS),20)

test: unit integration

unit: $(UNIT_BIN) $(REPLAY_BIN)
	UCSEC_VECTORS=$(or $(UCSEC_VECTORS),tests/vectors) $(UNIT_BIN)
	UCSEC_VECTORS=$(or $(UCSEC_VECTORS),tests/vectors) $(REPLAY_BIN)

integration: $(BINS)
	UCSEC_BIN=$(CURDIR)/$(BUILD)/bin tests/integration/run

demo: deps-demo
	$(MAKE) all
	UCSEC_BIN=$(CURDIR)/$(BUILD)/bin scripts/demo

fuzz-build: $(FUZZ_BINS)

build-fuzz/fuzz-sdp: ccm/sdp.c ccm/sdp.h

# The core is compiled once for all harnesses (instrumented objects in
# build-fuzz/obj, one archive); each harness links it.
FUZZ_CORE_OBJS	 = $(LIB_SRCS:%.c=build-fuzz/obj/%.o) \
		   $(P11_SRCS:%.c=build-fuzz/obj/%.o)
FUZZ_CCM_OBJS	 = $(CCM_CORE_SRCS:%.c=build-fuzz/obj/%.o) \
		   build-fuzz/obj/fuzz/stub-tp.o
FUZZ_CORE	 = build-fuzz/libucsec-fuzz.a

build-fuzz/obj/%.o: %.c $(LIB_HDRS) $(P11_HDRS) ccm/ccm.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Iccm -c $< -o $@

$(FUZZ_CORE): $(FUZZ_CORE_OBJS)
	rm -f $@
	ar rcs $@ $^

# The SIP and SCCP harnesses run the call core with a stub transport.
build-fuzz/fuzz-sccp build-fuzz/fuzz-sip: build-fuzz/%: fuzz/%.c \
		$(FUZZ_CCM_OBJS) $(FUZZ_CORE) ccm/ccm.h
	clang $(FUZZ_CFLAGS) -Iccm -o $@ $< $(FUZZ_CCM_OBJS) $(FUZZ_CORE) \
	    $(PKG_LIBS)

build-fuzz/%: fuzz/%.c $(FUZZ_CORE) $(LIB_HDRS) $(P11_HDRS)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_CORE) $(PKG_LIBS)

fuzz: $(FUZZ_BINS)
	fuzz/run $(FUZZ_SECONDS) $(FUZZ_BINS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(filter-out $(SBINS),$(BINS)) $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(SBINS) $(DESTDIR)$(PREFIX)/sbin
	install -m 0644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 $(MANS8) $(DESTDIR)$(PREFIX)/share/man/man8

clean:
	rm -rf build build-san build-fuzz

$(CTL_OBJS): ctlclient/extern.h
