# sip-phone against ccmd: two TLS phones with
# LSC-like certificates from a throwaway CA call each other through ccmd
# (SDES passed end to end: security=encrypted, SRTP both ways), and two
# UDP phones with digest (nonsecure, plain RTP).
. "$(dirname "$0")/../sip/netns.sh"
. "$(dirname "$0")/lib.sh"
need openssl ss
SIPDIR=$(cd "$(dirname "$0")/../sip" && pwd)
. "$SIPDIR/ccmd.sh"
SIPPHONE=${SIPPHONE:-$UCSEC_BIN/sip-phone}
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
[ -n "${KEEP:-}" ] && trap 'for p in $pids; do kill "$p" 2>/dev/null; done; [ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid"; echo "kept $T"' EXIT

umask 077
mk_ca capf CAPF-ucsec-test
mk_ccm_cert
mk_lsc capf lsc-1001 SEP000000001001
mk_lsc capf lsc-1002 SEP000000001002
ctl device add SEP000000001001 --protocol sip --security encrypted \
    --extension 1001 --digest-user alice >/dev/null
ctl device add SEP000000001002 --protocol sip --security encrypted \
    --extension 1002 --digest-user bob >/dev/null
ctl device add SEP000000003001 --protocol sip --security nonsecure \
    --extension 3001 --digest-user gina >/dev/null
ctl device add SEP000000003002 --protocol sip --security nonsecure \
    --extension 3002 --digest-user hank >/dev/null
for u in alice bob gina hank; do
	ctl_pw "$u-Secret.42" user add "$u" --realm ccmsipline >/dev/null
	printf '%s\n' "$u-Secret.42" >"$T/$u.pw"
done
ccmd_conf "auth_fail_max = 100"
ccmd_start

# answerer NAME EXT USER ARGS...: a --answer phone in the background,
# registered before this returns.
answerer() {
	_n=$1 _e=$2 _u=$3
	shift 3
	_m=$(ccmd_mark)
	"$SIPPHONE" --user "$_e" --auth-user "$_u" --password-file "$T/$_u.pw" \
	    --answer --timeout 20 "$@" >"$T/$_n.out" 2>"$T/$_n.err" &
	eval "pid_$_n=$!"
	pids="$pids $!"
	ccmd_log_wait "$_m" "register: .*aor=$_e .*result=200" 10 >/dev/null
}
# result NAME: $res = the phone's result line (it must have exited 0).
result() {
	eval "_p=\$pid_$1"
	_rc=0
	wait "$_p" || _rc=$?
	[ "$_rc" -eq 0 ] || fail "$1 exited $_rc: $(cat "$T/$1.err" "$T/$1.out")"
	res=$(grep '^result ' "$T/$1.out") || fail "$1: no result line"
}
# media_ok LINE: received > 0, nothing lost, bad, unauthenticated.
media_ok() {
	echo "$1" | grep -q -E ' received=[1-9][0-9]* lost=0 bad=0 auth_failed=0$' ||
	    fail "media: $1"
}

# --- TLS + LSC + digest (SHA-256 first), SRTP both ways -----------------
TLS="--server 127.0.0.1:5061 --transport tls --ca $T/callmanager.crt"
answerer B 1002 bob $TLS --cert "$T/lsc-1002.pem" --expect-security encrypted
rc=0
"$SIPPHONE" $TLS --cert "$T/lsc-1001.pem" --user 1001 --auth-user alice \
    --password-file "$T/alice.pw" --call 1002 --talk 3 \
    --expect-security encrypted --sent "$T/A.sent" >"$T/A.out" 2>"$T/A.err" || rc=$?
[ $rc -eq 0 ] || fail "A exited $rc: $(cat "$T/A.err" "$T/A.out")"
a=$(grep '^result ' "$T/A.out")
result B; b=$res
for l in "$a" "$b"; do
	echo "$l" | grep -q 'registered=1 call=connected security=encrypted srtp=AES_CM_128_HMAC_SHA1_80 ' ||
	    fail "TLS call: $l"
	media_ok "$l"
done
n=$(wc -l <"$T/A.sent")
echo "$a" | grep -q " sent=$n " || fail "--sent has $n lines: $a"
echo "$b" | grep -q " received=$n " || fail "B received not what A sent ($n): $b"
grep -q 'call-info .*security=Encrypted' "$T/A.out" || fail "A: no Call-Info security=Encrypted: $(cat "$T/A.out")"
grep -q -i 'inline:' "$T/A.out" "$T/A.err" "$T/B.out" "$T/B.err" && fail "a key was printed"
ok "TLS: 1001 -> 1002 encrypted, SRTP both ways ($a)"

# --- the same with --hold, the 32-bit suite and a delayed offer ---------
answerer B 1002 bob $TLS --cert "$T/lsc-1002.pem"
"$SIPPHONE" $TLS --cert "$T/lsc-1001.pem" --user 1001 --auth-user alice \
    --password-file "$T/alice.pw" --call 1002 --talk 3 --hold \
    --suites AES_CM_128_HMAC_SHA1_32 --expect-security encrypted \
    >"$T/A.out" 2>"$T/A.err" || fail "A (hold): $(cat "$T/A.err" "$T/A.out")"
a=$(grep '^result ' "$T/A.out")
result B; b=$res
for l in "$a" "$b"; do
	echo "$l" | grep -q 'call=connected security=encrypted srtp=AES_CM_128_HMAC_SHA1_32 ' ||
	    fail "TLS hold call: $l"
	media_ok "$l"
done
ok "TLS: hold and resume with new keys, AES_CM_128_HMAC_SHA1_32"

answerer B 1002 bob $TLS --cert "$T/lsc-1002.pem"
"$SIPPHONE" $TLS --cert "$T/lsc-1001.pem" --user 1001 --auth-user alice \
    --password-file "$T/alice.pw" --call 1002 --talk 2 --delayed-offer \
    --expect-security encrypted >"$T/A.out" 2>"$T/A.err" ||
    fail "A (delayed offer): $(cat "$T/A.err" "$T/A.out")"
a=$(grep '^result ' "$T/A.out")
result B; b=$res
media_ok "$a"
media_ok "$b"
ok "TLS: INVITE without SDP (offer in the 200, answer in the ACK)"

# --- UDP + digest, plain RTP ---------------------------------------------
UDP="--server 127.0.0.1:5060 --transport udp"
answerer D 3002 hank $UDP --expect-security nonsecure
"$SIPPHONE" $UDP --user 3001 --auth-user gina --password-file "$T/gina.pw" \
    --call 3002 --talk 2 --expect-security nonsecure >"$T/C.out" 2>"$T/C.err" ||
    fail "C: $(cat "$T/C.err" "$T/C.out")"
c=$(grep '^result ' "$T/C.out")
result D; d=$res
for l in "$c" "$d"; do
	echo "$l" | grep -q 'registered=1 call=connected security=nonsecure srtp=none ' ||
	    fail "UDP call: $l"
	media_ok "$l"
done
ok "UDP: 3001 -> 3002 digest, nonsecure, RTP both ways ($c)"

# --- refusals ------------------------------------------------------------
printf 'wrong\n' >"$T/wrong.pw"
expect_fail "$SIPPHONE" $UDP --user 3001 --auth-user gina --password-file "$T/wrong.pw" --timeout 5
grep -q 'registered=0' "$T/out" || fail "wrong password: $(cat "$T/out")"
ok "wrong password: $(cat "$T/err")"
expect_fail "$SIPPHONE" --server 127.0.0.1:5061 --transport tls --ca "$T/capf.crt" \
    --cert "$T/lsc-1001.pem" --user 1001 --auth-user alice --password-file "$T/alice.pw" --timeout 5
ok "untrusted server: $(cat "$T/err")"
ccmd_stop
