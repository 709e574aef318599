# ccmd's digest edge cases with SIPp (Debian's sip-tester) over UDP and
# TCP, for a non-secure device with a digest user: a challenge with the
# right fields, a 200 with Contact expires/Supported/Date, a cached nonce
# with the next nc, a stale nonce (stale=true), a wrong realm, no qop,
# malformed Authorization values and malformed headers; an INVITE is
# challenged with 401; an OPTIONS keepalive on a registered connection is
# not; a TCP registration ends with its connection.
# What SIPp cannot send or match goes through tests/sip/digestprobe.py
# (answers computed by us: an exact replay of an Authorization, an nc
# going back, a valid answer for another realm, without qop, for another
# uri or opaque, an unknown user, another device's user; SHA-256 and the
# order and binding of the two challenges) and tests/sip/sipsend.py (raw
# requests: broken CSeq, missing mandatory headers, keepalive CRLFs,
# oversized messages, garbage).  Last, throttling after auth_fail_max.
. "$(dirname "$0")/../sip/netns.sh"
. "$(dirname "$0")/lib.sh"
need sipp openssl python3 ss
SIPDIR=$(cd "$(dirname "$0")/../sip" && pwd)
. "$SIPDIR/ccmd.sh"
cleanup() {
	[ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM	# timeout(1): still clean up the namespace
[ -n "${KEEP:-}" ] && trap '[ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid"; echo "kept $T"' EXIT

umask 077
PW=gina-Secret.42
mk_ca capf CAPF-ucsec-test
mk_ccm_cert
ctl device add SEP000000003001 --protocol sip --security nonsecure \
    --extension 3001 --digest-user gina >/dev/null
ctl device add SEP000000003002 --protocol sip --security nonsecure \
    --extension 3002 --digest-user hank >/dev/null
ctl_pw "$PW" user add gina --realm ccmsipline >/dev/null
ctl_pw hank-Secret.42 user add hank --realm ccmsipline >/dev/null
# SIPp computes MD5 only.  The shortest nonce_validity ccmd takes (10 s)
# for the stale case.
ccmd_conf "digest_algorithms = MD5" "nonce_validity = 10" "auth_fail_max = 100"
ccmd_start

lport=5100
# sipp_run SCENARIO udp|tcp [sipp options]: must end with exit 0.
sipp_run() {
	_s=$1 _tp=$2
	shift 2
	lport=$((lport + 1))
	[ "$_tp" = tcp ] && _t=t1 || _t=u1
	rm -f "$T/sipp.err" "$T/sipp.msg"
	sipp -sf "$SIPDIR/sipp/$_s.xml" -t $_t -i 127.0.0.1 -p $lport -m 1 \
	    -timeout 20 -timeout_error -nostdin -key ext 3001 -key user gina \
	    -au gina -ap "$PW" -trace_err -error_file "$T/sipp.err" \
	    -trace_msg -message_file "$T/sipp.msg" "$@" 127.0.0.1:5060 \
	    >"$T/sipp.out" 2>&1 ||
	    fail "SIPp $_s over $_tp: $(head -n 30 "$T/sipp.err" 2>/dev/null; tail -n 5 "$T/sipp.out"; tail -n 15 "$CCMD_LOG")"
	ccmd_alive
}

# --- SIPp, both transports --------------------------------------------------
for tp in udp tcp; do
	for s in register nonce-reuse wrong-realm no-qop malformed-auth \
	    malformed-headers; do
		sipp_run $s $tp
	done
	sipp_run stale $tp -d 11000
	ok "SIPp over $tp: register, nonce reuse with nc+1, stale=true, wrong realm, no qop, 6 malformed Authorization, 3 malformed headers"
done

# UDP: the binding stays after SIPp exits; an INVITE from it is challenged.
sipp_run register udp
p=$lport
i=0	# written behind (at most every second)
until { ctl list registrations --json >"$T/regs.json" &&
    python3 "$SIPDIR/regcheck.py" "$T/regs.json" "SEP000000003001:udp:$p"; } \
    2>"$T/regs.err"; do
	i=$((i + 1))
	[ $i -le 30 ] || fail "UDP registration not listed: $(cat "$T/regs.err")"
	sleep 0.1
done
lport=$((p - 1))	# the same source port
sipp_run invite udp -key callee 3999 -auth_uri 3999@127.0.0.1:5060
ok "INVITE from a registered UDP phone: 401, then 404 for an unknown extension"

# TCP: an OPTIONS keepalive is not challenged; closing drops the binding.
sipp_run keepalive tcp
i=0
until { ctl list registrations --json >"$T/regs.json" &&
    python3 "$SIPDIR/regcheck.py" "$T/regs.json" --absent SEP000000003001; } \
    2>/dev/null; do
	i=$((i + 1))
	[ $i -le 30 ] || fail "the binding outlived its TCP connection: $(cat "$T/regs.json")"
	sleep 0.1
done
ok "TCP: OPTIONS keepalive not challenged; the binding ends with the connection"

# --- digestprobe: answers SIPp cannot make -----------------------------------
PROBE="python3 $SIPDIR/digestprobe.py 127.0.0.1:5060 --ext 3001 --user gina --password $PW"
# probe WANT ARGS...: the probe's output lines after the challenge must be
# exactly WANT (lines joined by ';', each "STEP CODE[ stale=x]").
probe() {
	_want=$1
	shift
	$PROBE "$@" >"$T/probe.out" 2>&1 || true
	_got=$(sed 1d "$T/probe.out" | paste -s -d ';' -)
	head -n 1 "$T/probe.out" | grep -q '^challenge 401 ' ||
	    fail "probe $*: no challenge: $(cat "$T/probe.out")"
	case $_got in
	$_want) ;;
	*) fail "probe $*: want '$_want', got '$_got'; $(tail -n 5 "$CCMD_LOG")" ;;
	esac
	ccmd_alive
}
for tp in "" --tcp; do
	probe 'auth 200;replay 401 stale=*' $tp --replay
	probe 'auth 200;next-nc 401 stale=*' $tp --nc 00000005 --next-nc 00000003
	probe 'auth 200;next-nc 200' $tp --nc 00000005 --next-nc 00000006
	probe 'auth 40[01]*' $tp --realm otherrealm
	probe 'auth 401 stale=false' $tp --no-qop
	probe 'auth 40[01]*' $tp --uri sip:3001@elsewhere.example
	probe 'auth 40[01]*' $tp --opaque forged
	probe 'auth 401 stale=false' $tp --password wrong-password
	$PROBE $tp --user nobody --password wrong >"$T/probe.out" 2>&1 || true
	sed -n 2p "$T/probe.out" | grep -q '^auth 401 stale=false$' ||
	    fail "unknown user: want the same 401 as a wrong password: $(cat "$T/probe.out")"
	probe 'auth 403' $tp --user hank --password hank-Secret.42
done
ok "exact replay, nc going back, valid answers for another realm/uri/opaque and without qop, unknown user (as a wrong password), another device's user (403)"

# --- raw requests -----------------------------------------------------------
# raw udp|tcp WANT: send stdin; the final response's status must match WANT.
raw() {
	_o=""
	[ "$1" = tcp ] && _o=--tcp
	sed "s#^Via: SIP/2.0/UDP#Via: SIP/2.0/$(echo "$1" | tr a-z A-Z)#" |
	    python3 "$SIPDIR/sipsend.py" $_o 127.0.0.1:5060 - >"$T/raw.out" 2>&1 ||
	    true
	head -n 1 "$T/raw.out" | grep -q "^SIP/2.0 $2 " ||
	    fail "raw $1: want $2, got: $(head -n 1 "$T/raw.out"); $(tail -n 3 "$CCMD_LOG")"
	ccmd_alive
}
req() {	# req HEADER-TO-DROP HEADER-TO-REPLACE-WITH: a REGISTER with one change
	printf '%s\n' "REGISTER sip:127.0.0.1:5060 SIP/2.0" \
	    "Via: SIP/2.0/UDP 127.0.0.1:@LPORT@;branch=@BRANCH@;rport" \
	    "Max-Forwards: 70" "From: <sip:3001@127.0.0.1>;tag=@TAG@" \
	    "To: <sip:3001@127.0.0.1>" "Call-ID: @CALLID@" "CSeq: 1 REGISTER" \
	    "Contact: <sip:3001@127.0.0.1:@LPORT@>" "Expires: 600" \
	    "Content-Length: 0" "" | sed -e "/^$1/d" -e "$2"
}
for tp in udp tcp; do
	req CSeq: 's/^Expires: 600$/CSeq: x1 REGISTER\nExpires: 600/' | raw $tp 400
	req CSeq: 's/^Expires: 600$/CSeq: 1 INVITE\nExpires: 600/' | raw $tp 400
	req Call-ID: '' | raw $tp 400
	req From: '' | raw $tp 400
	req To: '' | raw $tp 400
	req CSeq: '' | raw $tp 400
	req Via-none '' | raw $tp 401	# the unchanged request: a challenge
done
ok "raw: CSeq not a number / not the method, no Call-ID, From, To, CSeq: 400 over UDP and TCP"

python3 - <<'EOF' || fail "keepalive CRLFCRLF over TCP: no CRLF back"
import socket, sys
s = socket.create_connection(("127.0.0.1", 5060), timeout=3)
s.sendall(b"\r\n\r\n")
d = s.recv(16)
sys.exit(0 if d.startswith(b"\r\n") else 1)
EOF
{ req Content-Length: 's/^Expires: 600$/Expires: 600\nContent-Length: 100000/'; } |
    python3 "$SIPDIR/sipsend.py" --tcp --timeout 5 127.0.0.1:5060 - >"$T/raw.out" 2>&1 || true
head -n 1 "$T/raw.out" | grep -q -E '^SIP/2.0 (400|413) |connection closed' ||
    fail "Content-Length over the message limit: want 400/413 or a close: $(head -n 3 "$T/raw.out")"
head -c 3000 /dev/urandom >"$T/junk"
python3 - "$T/junk" <<'EOF'
import socket, sys
junk = open(sys.argv[1], "rb").read()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(junk, ("127.0.0.1", 5060))
t = socket.create_connection(("127.0.0.1", 5060), timeout=3)
t.sendall(junk + b"\r\n\r\n")
t.close()
EOF
sleep 0.3
ccmd_alive
req Via-none '' | raw udp 401
ok "CRLF keepalive answered; oversized Content-Length refused; garbage survived"

# --- SHA-256 and MD5 challenges side by side (the default order) ------------
ccmd_stop
ccmd_conf "nonce_validity = 600" "auth_fail_max = 100"
ccmd_start
$PROBE >"$T/probe.out" 2>&1 || true
head -n 1 "$T/probe.out" | grep -q '^challenge 401 stale=false algs=SHA-256,MD5 qop=auth nonces=distinct$' ||
    fail "default challenge: want SHA-256 then MD5, qop=auth, distinct nonces: $(head -n 1 "$T/probe.out")"
probe 'auth 200' --alg SHA-256
probe 'auth 200' --alg MD5
probe 'auth 200' --tcp --alg SHA-256
probe 'auth 401 stale=false' --alg SHA-256 --nonce-from MD5
probe 'auth 401 stale=false' --alg MD5 --nonce-from SHA-256
ok "default challenge SHA-256 then MD5 with their own nonces; both answered; a nonce answered with the other algorithm: 401"

# --- throttling ---------------------------------------------------------------
ccmd_stop
ccmd_conf "digest_algorithms = MD5" "auth_fail_max = 3" "auth_fail_window = 60"
ccmd_start
m=$(ccmd_mark)
# the failure that reaches auth_fail_max is answered 403 already
probe 'auth 401 stale=false;auth 401 stale=false;auth 403' \
    --password wrong-password --tries 3
# throttled: 403 (to the REGISTER itself or to its answer)
throttled() {
	$PROBE "$@" >"$T/probe.out" 2>&1 || true
	_got=$(paste -s -d ';' "$T/probe.out")
	case $_got in
	"challenge 403" | "challenge 401 "*";auth 403") ;;
	*) fail "throttled $*: want 403, got '$_got'" ;;
	esac
}
throttled
throttled --user hank --password hank-Secret.42 --ext 3002
ccmd_log_wait "$m" 'auth: throttled user gina from 127\.0\.0\.1' 5 >/dev/null
ok "the 3rd wrong answer gets 403, then gina even with her password and any user from that address; logged"
ccmd_stop
