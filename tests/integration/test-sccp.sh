# ccmd's SCCP side with real media: sccp-phone simulators register over
# TLS with LSCs (CN = device name) and place calls through ccmd; each
# phone sends SRTP with the key ccmd gave it and checks that every packet
# from the other side decrypts and authenticates.  Oracles that are not
# ours: tshark's Skinny dissector on a plain-TCP capture and on the
# messages taken from inside TLS (text2pcap), baresip as a SIP phone for
# SCCP <-> SIP calls, and a capture that srtp-decrypt turns back into
# the plain RTP the senders sent (with the right keys only).
. "$(dirname "$0")/../sip/netns.sh"
. "$(dirname "$0")/lib.sh"
need baresip openssl python3 ss tshark dumpcap text2pcap
SIPDIR=$(cd "$(dirname "$0")/../sip" && pwd)
SCCPDIR=$(cd "$(dirname "$0")/../sccp" && pwd)
. "$SIPDIR/phones.sh"
. "$SIPDIR/ccmd.sh"
SP=$UCSEC_BIN/sccp-phone
SIPPH=$UCSEC_BIN/sip-phone
DEC=$UCSEC_BIN/srtp-decrypt
cap_pid=""
cleanup() {
	phones_stop
	[ -n "$cap_pid" ] && kill "$cap_pid" 2>/dev/null
	[ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
[ -n "${KEEP:-}" ] && trap 'phones_stop; [ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid"; echo "kept $T"' EXIT

umask 077
mk_ca capf CAPF-ucsec-test
mk_ca rogue CAPF-rogue
mk_ccm_cert
SIP_CA=$T/callmanager.crt
# SCCP devices: 2001/2002 encrypted, 2003/2006 authenticated, 2004/2005/2007
# non-secure; SIP devices 1001 (baresip) and 1002 (sip-phone), encrypted.
for n in 2001 2002 2003 2006; do
	mk_lsc capf lsc-$n SEP0000000A$n
done
mk_lsc rogue rogue-2001 SEP0000000A2001
mk_lsc capf lsc-1001 SEP000000001001
mk_lsc capf lsc-1002 SEP000000001002
for n in 2001 2002; do
	ctl device add SEP0000000A$n --protocol sccp --security encrypted \
	    --extension $n >/dev/null
done
for n in 2003 2006; do
	ctl device add SEP0000000A$n --protocol sccp --security authenticated \
	    --extension $n >/dev/null
done
for n in 2004 2005 2007; do
	ctl device add SEP0000000A$n --protocol sccp --security nonsecure \
	    --extension $n >/dev/null
done
ctl device add SEP000000001001 --protocol sip --security encrypted \
    --extension 1001 --digest-user alice >/dev/null
ctl device add SEP000000001002 --protocol sip --security encrypted \
    --extension 1002 --digest-user bob >/dev/null
for u in alice bob; do
	ctl_pw "$u-Secret.42" user add "$u" --realm ccmsipline >/dev/null
done
ccmd_conf "digest_algorithms = MD5" "[sccp]" "tcp = 127.0.0.1:2000" \
    "tls = 127.0.0.1:2443" "keepalive = 30" "key_log = $T/keys.log" \
    "allow_sha1_80 = yes"
ccmd_start
[ "$(stat -c %a "$T/keys.log")" = 600 ] || fail "key log mode $(stat -c %a "$T/keys.log"), want 600"

# sp NAME ARGS...: an SCCP phone over TLS with its LSC, output in $T/NAME.out
sp() {
	_n=$1
	shift
	"$SP" --server 127.0.0.1:2443 --tls --ca "$T/callmanager.crt" \
	    --cert "$T/lsc-$_n.crt" --key "$T/lsc-$_n.key" \
	    --name SEP0000000A$_n --timeout 30 "$@" >"$T/$_n.out" 2>&1
}
# spt NAME ARGS...: the same over plain TCP (non-secure devices)
spt() {
	_n=$1
	shift
	"$SP" --server 127.0.0.1:2000 --name SEP0000000A$_n --timeout 30 \
	    "$@" >"$T/$_n.out" 2>&1
}
result() { grep '^result ' "$T/$1.out" | tail -n 1; }
# registered NAME: wait until ccmd logs the registration of SEP..NAME
# after the mark $rm (set with rmark before the phone starts)
rmark() { rm=$(ccmd_mark); }
registered() {
	_i=0
	until tail -n +$((rm + 1)) "$CCMD_LOG" | grep -q "device=SEP0000000A$1 registered"; do
		_i=$((_i + 1))
		[ $_i -le 100 ] || fail "SEP0000000A$1 did not register: $(cat "$T/$1.out"; tail -n 5 "$CCMD_LOG")"
		sleep 0.1
	done
}
cap_start() {	# cap_start FILE FILTER
	dumpcap -q -i lo -f "$2" -P -w "$1" 2>"$T/dumpcap.err" &
	cap_pid=$!
	_i=0
	until grep -q "Capturing on" "$T/dumpcap.err" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -le 50 ] || break
		sleep 0.1
	done
	sleep 0.5
}
cap_stop() { sleep 0.5; kill "$cap_pid" 2>/dev/null; wait "$cap_pid" 2>/dev/null || true; cap_pid=""; }

# --- 1. two encrypted SCCP phones over TLS: SRTP both ways, status encrypted
cap_start "$T/media.pcap" udp
mc=$(ccmd_mark)
rmark
sp 2002 --answer --talk 3 --expect-security encrypted &
b=$!
registered 2002
sp 2001 --call 2002 --talk 3 --expect-security encrypted \
    --dump "$T/2001.dump" --sent "$T/2001.sent" ||
    fail "2001 -> 2002: $(cat "$T/2001.out")"
wait $b || fail "2002 (answer): $(cat "$T/2002.out")"
cap_stop
for n in 2001 2002; do
	r=$(result $n)
	echo "$r" | grep -q 'security=encrypted' || fail "$n: $r"
	echo "$r" | grep -q 'srtp=AES_CM_128_HMAC_SHA1_32' || fail "$n: $r"
	echo "$r" | grep -q 'auth_failed=0' || fail "$n: $r"
done
l=$(ccmd_log_wait "$mc" 'call .*2001.*2002.* status=' 10)
echo "$l" | grep -q 'status=encrypted' || fail "ccmd call log: $l"
ok "2001 -> 2002 over TLS: SRTP (AES_CM_128_HMAC_SHA1_32) decrypts both ways; status encrypted: $(result 2001 | sed 's/^result //')"

# the key log: one line per direction, 0600, keys never in ccmd's log
[ "$(stat -c %a "$T/keys.log")" = 600 ] || fail "key log mode changed"
n=$(grep -c 'dir=SEP0000000A2001>SEP0000000A2002\|dir=SEP0000000A2002>SEP0000000A2001' "$T/keys.log" || true)
[ "$n" -ge 2 ] || fail "key log: want a line per direction: $(cat "$T/keys.log")"
for k in $(sed -n 's/.* key=\([^ ]*\).*/\1/p' "$T/keys.log"); do
	grep -q -F "$k" "$CCMD_LOG" && fail "a key from the key log is in ccmd's log"
	grep -q -F "$k" "$T/2001.out" "$T/2002.out" && fail "a phone printed a key"
done
ok "key log: $n lines for the call, mode 0600; no key in any log"

# --- 2. srtp-decrypt: the capture back to the plain RTP 2001 sent ----------
"$DEC" -r "$T/media.pcap" -k "$T/keys.log" -w "$T/plain.pcap" >"$T/dec.out" 2>&1 ||
    fail "srtp-decrypt: $(cat "$T/dec.out")"
tshark -r "$T/plain.pcap" -o rtp.heuristic_rtp:TRUE -T fields -e rtp.ssrc \
    -e rtp.seq -e rtp.payload 2>/dev/null >"$T/plain.txt"
python3 "$SCCPDIR/rtpmatch.py" "$T/2001.sent" "$T/plain.txt" ||
    fail "decrypted RTP does not match what 2001 sent"
ok "srtp-decrypt: $(tail -n 1 "$T/dec.out")"
# a third party with a wrong key cannot
python3 - "$T/keys.log" "$T/badkeys.log" <<'EOF'
import base64, sys
out = []
for line in open(sys.argv[1]):
    f = line.split()
    for i, x in enumerate(f):
        if x.startswith("key="):
            k = bytearray(base64.b64decode(x[4:]))
            k[0] ^= 0x01
            f[i] = "key=" + base64.b64encode(bytes(k)).decode()
    out.append(" ".join(f) + "\n")
open(sys.argv[2], "w").write("".join(out))
EOF
chmod 600 "$T/badkeys.log"
if "$DEC" -r "$T/media.pcap" -k "$T/badkeys.log" -w "$T/bad.pcap" >"$T/dec2.out" 2>&1; then
	fail "srtp-decrypt succeeded with wrong keys: $(cat "$T/dec2.out")"
fi
grep -q 'auth_failed=[1-9]' "$T/dec2.out" || fail "wrong keys: $(cat "$T/dec2.out")"
ok "with one key bit flipped nothing decrypts (authentication fails)"

# --- 3. the keys as tshark reads them from inside TLS -----------------------
text2pcap -q -D -T 2000,40000 "$T/2001.dump" "$T/tls-inner.pcap" ||
    fail "text2pcap of 2001's dump"
tshark -r "$T/tls-inner.pcap" -d tcp.port==2000,skinny -Y '_ws.malformed' \
    -T fields -e frame.number >"$T/malformed.txt" 2>"$T/tshark.err"
[ -s "$T/malformed.txt" ] && fail "tshark: malformed Skinny inside TLS: $(head "$T/malformed.txt")"
tshark -r "$T/tls-inner.pcap" -d tcp.port==2000,skinny \
    -Y 'skinny.messageId == 0x008a || skinny.messageId == 0x0105' \
    -T fields -e skinny.messageId -e skinny.algorithmID -e skinny.keylen \
    -e skinny.saltlen -e skinny.key -e skinny.salt >"$T/keys.txt" 2>/dev/null
python3 "$SCCPDIR/keycheck.py" "$T/keys.txt" "$T/keys.log" SEP0000000A2001 ||
    fail "keys tshark decoded differ from the key log"
ok "tshark decodes ORC/SMT from inside TLS: algorithm 1, key 16, salt 14, bytes = the key log"

# --- 4. hold and resume: new keys --------------------------------------------
rmark
sp 2002 --answer --talk 4 --expect-security encrypted &
b=$!
registered 2002
sp 2001 --call 2002 --talk 4 --hold --expect-security encrypted ||
    fail "hold: $(cat "$T/2001.out")"
wait $b || fail "hold (2002): $(cat "$T/2002.out")"
result 2001 | grep -q 'rekeyed=1' || fail "hold/resume did not rekey: $(result 2001)"
ok "hold/resume: fresh keys after resume, media checked again"

# --- 5. authenticated devices: RTP, status authenticated; encrypted refused
rmark
sp 2006 --answer --talk 2 --expect-security authenticated &
b=$!
registered 2006
sp 2003 --call 2006 --talk 2 --expect-security authenticated ||
    fail "2003 -> 2006: $(cat "$T/2003.out")"
wait $b || fail "2006: $(cat "$T/2006.out")"
result 2003 | grep -q 'srtp=none' || fail "authenticated call used SRTP: $(result 2003)"
# an encrypted phone and one that cannot do SRTP: RTP, no key to either,
# status lowered to authenticated on both (spec 7.1 rule 1, 8)
mc=$(ccmd_mark)
rmark
sp 2001 --answer --talk 2 --expect-security authenticated &
b=$!
registered 2001
sp 2003 --call 2001 --talk 2 --expect-security authenticated ||
    fail "2003 (authenticated) -> 2001 (encrypted): $(cat "$T/2003.out")"
wait $b || fail "2001 answering 2003: $(cat "$T/2001.out")"
result 2001 | grep -q 'srtp=none' || fail "keys sent to a call with an authenticated phone: $(result 2001)"
l=$(ccmd_log_wait "$mc" 'call .*2003.*2001.* status=' 10)
echo "$l" | grep -q 'status=authenticated' || fail "2003 -> 2001 call log: $l"
ok "authenticated devices: RTP, status authenticated; encrypted <-> authenticated falls back to RTP, status authenticated"

# --- 6. tshark on the plain-TCP Skinny of two non-secure phones -------------
cap_start "$T/sccp.pcap" "tcp port 2000"
rmark
spt 2005 --answer --talk 2 --expect-security nonsecure &
b=$!
registered 2005
spt 2004 --call 2005 --talk 2 --version 17 --dump "$T/2004.dump" \
    --expect-security nonsecure || fail "2004 -> 2005: $(cat "$T/2004.out")"
wait $b || fail "2005: $(cat "$T/2005.out")"
cap_stop
python3 "$SCCPDIR/tsharkcheck.py" "$T/sccp.pcap" "$T/2004.dump" SEP0000000A2004 17 ||
    fail "tshark on the plain-TCP capture"
ok "tshark: plain-TCP Skinny decodes with no malformed or unknown message; ids, device name, versions, key lengths = ours"

# --- 7. SCCP <-> SIP: baresip (SDES) and sip-phone --------------------------
phone_start A 7000 "$T/lsc-1001.pem"
ma=$(phone_mark A)
phone_cmd A uanew "<sip:1001@127.0.0.1:5061;transport=tls>;auth_user=alice;auth_pass=alice-Secret.42;regint=600;answermode=auto;mediaenc=srtp-mand" >/dev/null
phone_wait A "$ma" REGISTER_OK 15 --fail-on REGISTER_FAIL >/dev/null
cap_start "$T/mixed.pcap" udp
mc=$(ccmd_mark)
sp 2001 --call 1001 --talk 3 --expect-security encrypted --any-audio ||
    fail "2001 -> baresip 1001: $(cat "$T/2001.out")"
cap_stop
l=$(ccmd_log_wait "$mc" 'call .*2001.*1001.* status=' 10)
echo "$l" | grep -q 'status=encrypted' || fail "SCCP -> SIP call log: $l"
# baresip also sends plain RTCP (a "PINGPONG" APP packet before SRTP is
# up, and its BYE after): those fail authentication, as they should, so
# srtp-decrypt exits 1; the RTP streams (to the addresses the key log
# names) must be clean.
"$DEC" -r "$T/mixed.pcap" -k "$T/keys.log" -w "$T/mixed-plain.pcap" >"$T/dec3.out" 2>&1 || true
n=$(python3 - "$T/dec3.out" "$T/keys.log" <<'EOF2'
import sys
dsts = {f[4:] for l in open(sys.argv[2]) for f in l.split() if f.startswith("dst=")}
n = 0
for l in open(sys.argv[1]):
    f = l.split()
    if f and f[0] == "stream" and f[3] in dsts:
        kv = dict(x.split("=", 1) for x in f if "=" in x)
        n += int(kv["decrypted"]) > 100 and kv["auth_failed"] == "0"
print(n)
EOF2
)
[ "$n" -ge 2 ] || fail "want both RTP directions decrypted cleanly: $(cat "$T/dec3.out")"
ok "SCCP 2001 -> baresip 1001 (SDES): encrypted, both directions decrypt: $(result 2001 | sed 's/^result //')"

# baresip calls the SCCP phone: its offer's key goes to the SCCP phone
rmark
sp 2002 --answer --talk 3 --expect-security encrypted --any-audio &
b=$!
registered 2002
ma=$(phone_mark A)
mc=$(ccmd_mark)
phone_cmd A dial 2002 >/dev/null || fail "dial 2002 on baresip"
phone_wait A "$ma" CALL_ESTABLISHED 15 --fail-on CALL_CLOSED >/dev/null
phone_wait A "$ma" CALL_MENC 10 >/dev/null
sleep 3
phone_cmd A hangup >/dev/null || fail "hangup on baresip"
wait $b || fail "SCCP 2002 answering baresip: $(cat "$T/2002.out")"
result 2002 | grep -q 'received=[1-9].* auth_failed=0' ||
    fail "2002 got no authenticated SRTP from baresip: $(result 2002)"
l=$(ccmd_log_wait "$mc" 'call .*1001.*2002.* status=' 10)
echo "$l" | grep -q 'status=encrypted' || fail "SIP -> SCCP call log: $l"
ok "baresip 1001 -> SCCP 2002: encrypted (CALL_MENC at baresip; SRTP from baresip authenticated at 2002)"

printf 'bob-Secret.42\n' >"$T/bob.pw"
rmark
sp 2002 --answer --talk 3 --expect-security encrypted &
b=$!
registered 2002
"$SIPPH" --server 127.0.0.1:5061 --transport tls --cert "$T/lsc-1002.crt" \
    --key "$T/lsc-1002.key" --ca "$T/callmanager.crt" --user 1002 \
    --auth-user bob --password-file "$T/bob.pw" --call 2002 \
    --srtp mandatory --talk 3 --expect-security encrypted --timeout 30 \
    >"$T/1002.out" 2>&1 || fail "sip-phone 1002 -> 2002: $(cat "$T/1002.out")"
wait $b || fail "SCCP 2002 answering sip-phone 1002: $(cat "$T/2002.out")"
ok "sip-phone 1002 -> SCCP 2002: encrypted, media checked at both ends"

# --- 8. refusals and hostile input ------------------------------------------
mc=$(ccmd_mark)
"$SP" --server 127.0.0.1:2443 --tls --ca "$T/callmanager.crt" \
    --cert "$T/rogue-2001.crt" --key "$T/rogue-2001.key" \
    --name SEP0000000A2001 --timeout 5 >"$T/rogue.out" 2>&1 &&
    fail "a certificate from another CA registered"
"$SP" --server 127.0.0.1:2443 --tls --ca "$T/callmanager.crt" \
    --cert "$T/lsc-2002.crt" --key "$T/lsc-2002.key" \
    --name SEP0000000A2001 --timeout 5 >"$T/other.out" 2>&1 &&
    fail "2002's certificate registered 2001"
grep -q -i 'reject' "$T/other.out" || fail "another device's LSC: $(cat "$T/other.out")"
spt 2001 --timeout 5 && fail "encrypted 2001 registered over plain TCP"
grep -q -i 'reject' "$T/2001.out" || fail "encrypted over TCP: $(cat "$T/2001.out")"
ok "refused: another CA, another device's LSC, plain TCP for an encrypted device"
# a rebooted phone: a new TLS session with the device's own certificate
# replaces the live one (spec 1.2 item 6); on plain TCP badinput.py
# checks that a second session is rejected and the first kept
rmark
sp 2002 --answer --timeout 20 &
b=$!
registered 2002
mc=$(ccmd_mark)
"$SP" --server 127.0.0.1:2443 --tls --ca "$T/callmanager.crt" \
    --cert "$T/lsc-2002.crt" --key "$T/lsc-2002.key" \
    --name SEP0000000A2002 --timeout 5 >"$T/2002b.out" 2>&1 ||
    fail "a new session of 2002 with its own LSC: $(cat "$T/2002b.out")"
wait $b && fail "the replaced session of 2002 went on: $(cat "$T/2002.out")"
ccmd_log_wait "$mc" 'SEP0000000A2002 unregistered: replaced' 5 >/dev/null
ok "a new TLS session with the device's own LSC replaces the old one"
python3 "$SCCPDIR/badinput.py" 127.0.0.1 2000 SEP0000000A2007 \
    SEP0000000A2005 2005 ||
    fail "hostile Skinny input"
ccmd_alive
ccmd_log_wait "$mc" '(length|frame).*(cap|4096|broken)' 5 >/dev/null
ok "hostile input handled and logged; ccmd alive"

# --- 9. registrations listed; SIGHUP keeps ccmd up ------------------------
ccmd_hup
ccmd_alive
ccmd_stop
ok "SIGHUP and clean stop"
