# ccmd with real phones: baresip (Debian's baresip-core) registers over
# TLS with an LSC from the test's CAPF CA plus digest credentials; two
# phones call each other through ccmd with srtp-mand (status encrypted,
# SRTP keyed end to end: CALL_MENC and RTP on both sides) and with plain
# RTP (status authenticated); an encrypted-profile device refuses plain
# RTP (488); SIGHUP keeps registrations and a live call.  Refusals: a
# wrong password, a certificate from another CA, no certificate, another
# device's certificate, plain TCP and UDP for an encrypted profile, an
# unknown extension.
#
# baresip 1.0 (libre 1.1) gives up on a 401 that carries any non-MD5
# challenge ("Function not implemented"), whatever the order, so ccmd
# runs here with digest_algorithms = MD5; test-ccmd-sipp.sh checks the
# default SHA-256 + MD5 challenge with its own client.
. "$(dirname "$0")/../sip/netns.sh"
. "$(dirname "$0")/lib.sh"
need baresip openssl python3 ss
SIPDIR=$(cd "$(dirname "$0")/../sip" && pwd)
. "$SIPDIR/phones.sh"
. "$SIPDIR/ccmd.sh"
cleanup() {
	phones_stop
	[ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM	# timeout(1): still clean up the namespace
[ -n "${KEEP:-}" ] && trap 'phones_stop; [ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid"; echo "kept $T"' EXIT

umask 077
# --- PKI: the CAPF CA issues LSCs; a rogue CA issues a look-alike -------
mk_ca capf CAPF-ucsec-test
mk_ca rogue CAPF-rogue
mk_ccm_cert
SIP_CA=$T/callmanager.crt
for e in 1001 1002 1003 1004; do
	mk_lsc capf lsc-$e SEP00000000$e
done
mk_lsc rogue rogue-1001 SEP000000001001

# --- store: two encrypted and two authenticated phones ------------------
# (password names are fixed test data, given to ccmctl through a file)
ctl device add SEP000000001001 --protocol sip --security encrypted \
    --extension 1001 --digest-user alice >/dev/null
ctl device add SEP000000001002 --protocol sip --security encrypted \
    --extension 1002 --digest-user bob >/dev/null
ctl device add SEP000000001003 --protocol sip --security authenticated \
    --extension 1003 --digest-user carol >/dev/null
ctl device add SEP000000001004 --protocol sip --security authenticated \
    --extension 1004 --digest-user dave >/dev/null
for u in alice bob carol dave; do
	ctl_pw "$u-Secret.42" user add "$u" --realm ccmsipline >/dev/null
done
ccmd_conf "digest_algorithms = MD5" "auth_fail_max = 100" \
    "auth_fail_window = 60" "nonce_validity = 600"
ccmd_start

# acct EXT USER PASSWORD MEDIAENC [TRANSPORT]: a baresip account line.
acct() {
	case ${5:-tls} in
	tls) _hp="127.0.0.1:5061;transport=tls" ;;
	*) _hp="127.0.0.1:5060;transport=$5" ;;
	esac
	_a="<sip:$1@$_hp>;auth_user=$2;auth_pass=$3;regint=600;answermode=auto"
	[ "$4" = none ] || _a="$_a;mediaenc=$4"
	printf '%s\n' "$_a"
}

# register NAME EXT USER MEDIAENC: uanew and wait for REGISTER_OK.
register() {
	_m=$(phone_mark "$1")
	phone_cmd "$1" uanew "$(acct "$2" "$3" "$3-Secret.42" "$4")" >/dev/null ||
	    fail "uanew on $1"
	phone_wait "$1" "$_m" REGISTER_OK 15 --fail-on REGISTER_FAIL >/dev/null
}

phone_start A 7000 "$T/lsc-1001.pem"
phone_start B 7050 "$T/lsc-1002.pem"
phone_start C 7100 "$T/lsc-1003.pem"
phone_start D 7150 "$T/lsc-1004.pem"
register A 1001 alice srtp-mand
register B 1002 bob srtp-mand
register C 1003 carol none
register D 1004 dave none
ccmd_alive

# list registrations: device, TLS, certificate subject (written behind).
regs_ok() {
	ctl list registrations --json >"$T/regs.json" || return 1
	python3 "$SIPDIR/regcheck.py" "$T/regs.json" "$@"
}
i=0
until regs_ok SEP000000001001:tls:7001 SEP000000001002:tls:7051 \
    SEP000000001003:tls:7101 SEP000000001004:tls:7151 2>"$T/regs.err"; do
	i=$((i + 1))
	[ $i -le 30 ] || fail "list registrations: $(cat "$T/regs.err"; cat "$T/regs.json")"
	sleep 0.2
done
grep -E 'SEP000000001001' "$CCMD_LOG" | grep -q -i 'tls' ||
    fail "no REGISTER log line for SEP000000001001 over TLS"
ok "4 phones registered over TLS with LSC + MD5 digest; listed with transport and certificate subject"

# --- encrypted call: SDES passed end to end, SRTP flows ---------------------
# call FROM TO EXT: dial and wait until both sides are up and RTP flows.
call() {
	ma=$(phone_mark "$1")
	mb=$(phone_mark "$2")
	mc=$(ccmd_mark)
	phone_cmd "$1" dial "$3" >/dev/null || fail "dial $3 on $1"
	phone_wait "$2" "$mb" CALL_ESTABLISHED 15 --fail-on CALL_CLOSED >/dev/null
	phone_wait "$1" "$ma" CALL_ESTABLISHED 15 --fail-on CALL_CLOSED >/dev/null
	phone_wait "$1" "$ma" CALL_RTPESTAB 10 --fail-on CALL_CLOSED >/dev/null
	phone_wait "$2" "$mb" CALL_RTPESTAB 10 --fail-on CALL_CLOSED >/dev/null
}
# hangup WHO OTHER: the other side sees the BYE; ccmd logs the call end.
hangup() {
	mo=$(phone_mark "$2")
	phone_cmd "$1" hangup >/dev/null || fail "hangup on $1"
	phone_wait "$2" "$mo" CALL_CLOSED 10 >/dev/null
}

call A B 1002
phone_wait A "$ma" CALL_MENC 5 --param AES_CM_128_HMAC_SHA1_80 >/dev/null
phone_wait B "$mb" CALL_MENC 5 --param AES_CM_128_HMAC_SHA1_80 >/dev/null
l=$(ccmd_log_wait "$mc" 'call .* status=' 10)
echo "$l" | grep -q -E '1001.* -> .*1002' || fail "call log: parties: $l"
echo "$l" | grep -q 'status=encrypted' || fail "A->B srtp-mand: want status=encrypted: $l"
echo "$l" | grep -q 'srtp=AES_CM_128_HMAC_SHA1_80' || fail "A->B: want srtp=AES_CM_128_HMAC_SHA1_80: $l"
hangup A B
i=0
while [ "$(ccmd_log_count "$mc" 'call .* status=encrypted')" -lt 2 ]; do
	i=$((i + 1))
	[ $i -le 50 ] || fail "no call-end log line: $(tail -n +$((mc + 1)) "$CCMD_LOG" | tail -n 10)"
	sleep 0.1
done
grep -q -i 'inline:[A-Za-z0-9+/]\{20\}' "$CCMD_LOG" && fail "ccmd logged an SDES key"
ok "1001 -> 1002 srtp-mand: CALL_MENC AES_CM_128_HMAC_SHA1_80 and SRTP on both, status=encrypted at answer and end"

# --- plain RTP between authenticated devices --------------------------------
call C D 1004
l=$(ccmd_log_wait "$mc" 'call .*1003.* -> .*1004.* status=' 10)
echo "$l" | grep -q 'status=authenticated' || fail "C->D RTP: want status=authenticated: $l"
echo "$l" | grep -q 'srtp=none' || fail "C->D RTP: want srtp=none: $l"
$BSCTL wait "$T/ph-C/ev" CALL_MENC --from "$ma" --timeout 0 >/dev/null 2>&1 &&
    fail "C->D: plain RTP call reported SRTP"
hangup D C
ok "1003 -> 1004 plain RTP over TLS: status=authenticated srtp=none"

# --- an encrypted-profile device never gets a plain-RTP call ----------------
ma=$(phone_mark A)
mc3=$(phone_mark C)
phone_cmd C dial 1001 >/dev/null || fail "dial 1001 on C"
e=$(phone_wait C "$mc3" CALL_CLOSED 15)
echo "$e" | grep -q '488' || fail "C (RTP) -> 1001 (encrypted): want 488: $e"
$BSCTL wait "$T/ph-A/ev" CALL_ESTABLISHED --from "$ma" --timeout 0 \
    >/dev/null 2>&1 && fail "1001 (encrypted) answered a plain RTP call"
ok "plain RTP offer to an encrypted-profile device: 488"

# --- SIGHUP with a call up: registrations and the call survive --------------
call A B 1002
ccmd_hup
hangup B A
regs_ok SEP000000001001:tls:7001 SEP000000001002:tls:7051 SEP000000001003:tls:7101 \
    SEP000000001004:tls:7151 2>"$T/regs.err" ||
    fail "registrations after SIGHUP: $(cat "$T/regs.err")"
call A B 1002
hangup A B
ok "SIGHUP: the call up at the time ends normally, registrations kept, next call works"

# --- refusals: one fresh phone X each ---------------------------------------
# refuse NAME CERT TLSMAX ACCOUNT: REGISTER_FAIL (printed), never OK.
refuse() {
	phone_start X 7200 "$2" "$3"
	mx=$(phone_mark X)
	phone_cmd X uanew "$4" >/dev/null || fail "$1: uanew"
	e=$(phone_wait X "$mx" REGISTER_FAIL 15 --fail-on REGISTER_OK) ||
	    fail "$1: $(cat "$T/ph-X/wait.err")"
	phone_stop X
	ccmd_alive
	printf '%s\n' "$e"
}
mc=$(ccmd_mark)
e=$(refuse "wrong password" "$T/lsc-1001.pem" TLSv1.3 \
    "$(acct 1001 alice wrong-password srtp-mand)")
echo "$e" | grep -q -E '"param": "(401|403)' || fail "wrong password: $e"
regs_ok SEP000000001001:tls:7001 2>"$T/regs.err" ||
    fail "a failed REGISTER touched 1001's binding: $(cat "$T/regs.err")"
ok "wrong password: $(echo "$e" | sed -n 's/.*"param": "\([^"]*\)".*/\1/p')"

mc=$(ccmd_mark)
e=$(refuse "rogue CA" "$T/rogue-1001.pem" TLSv1.2 \
    "$(acct 1001 alice alice-Secret.42 srtp-mand)")
ccmd_log_wait "$mc" 'closed: TLS: .*certificate verify failed' 5 >/dev/null
ok "certificate from another CA: TLS refused"

mc=$(ccmd_mark)
e=$(refuse "no certificate" none TLSv1.2 \
    "$(acct 1001 alice alice-Secret.42 srtp-mand)")
ccmd_log_wait "$mc" 'closed: TLS: .*(did not return a certificate|certificate required)' 5 >/dev/null
ok "no client certificate: TLS refused"

# The phones verify ccmd: one that does not trust its certificate stops.
SIP_CA=$T/rogue.crt
e=$(refuse "untrusted server" "$T/lsc-1001.pem" TLSv1.3 \
    "$(acct 1001 alice alice-Secret.42 srtp-mand)")
SIP_CA=$T/callmanager.crt
ok "a phone that does not trust ccmd's certificate does not register (the phones verify)"

mc=$(ccmd_mark)
e=$(refuse "another device's LSC" "$T/lsc-1002.pem" TLSv1.3 \
    "$(acct 1001 alice alice-Secret.42 srtp-mand)")
echo "$e" | grep -q '"param": "403' || fail "LSC of SEP000000001002 for 1001: want 403: $e"
[ "$(ccmd_log_count "$mc" 'SEP000000001002|SEP000000001001')" -gt 0 ] ||
    fail "another device's LSC: no log line"
ok "another device's certificate: 403"

for tp in tcp udp; do
	e=$(refuse "plain $tp" "$T/lsc-1001.pem" TLSv1.3 \
	    "$(acct 1001 alice alice-Secret.42 srtp-mand "$tp")")
	echo "$e" | grep -q '"param": "403' ||
	    fail "encrypted profile over $tp: want 403: $e"
done
ok "plain TCP and UDP for an encrypted profile: 403"

e=$(refuse "unknown extension" "$T/lsc-1001.pem" TLSv1.3 \
    "$(acct 1999 alice alice-Secret.42 srtp-mand)")
echo "$e" | grep -q '"param": "404' || fail "unknown extension: want 404: $e"
ok "unknown extension: 404"

# --- SIGHUP: a new CallManager certificate and another LSC issuer ----------
ctl device add SEP000000001005 --protocol sip --security encrypted \
    --extension 1005 --digest-user alice >/dev/null
mk_lsc rogue rogue-1005 SEP000000001005
cp "$T/callmanager.crt" "$T/ccm-old.crt"
mk_ccm_cert
CLIENT_CA="$T/capf.crt, $T/rogue.crt"
ccmd_conf "digest_algorithms = MD5" "auth_fail_max = 100" \
    "auth_fail_window = 60" "nonce_validity = 600"
ccmd_hup
SIP_CA=$T/ccm-old.crt
e=$(refuse "old server certificate" "$T/rogue-1005.pem" TLSv1.3 \
    "$(acct 1005 alice alice-Secret.42 srtp-mand)")
SIP_CA=$T/callmanager.crt
phone_start X 7200 "$T/rogue-1005.pem"
register X 1005 alice srtp-mand
phone_stop X
regs_ok SEP000000001001:tls:7001 SEP000000001002:tls:7051 SEP000000001003:tls:7101 \
    SEP000000001004:tls:7151 2>"$T/regs.err" ||
    fail "registrations after the certificate reload: $(cat "$T/regs.err")"
ok "SIGHUP: new server certificate and a second client CA used for new connections; registrations kept"

# The refused phones changed nothing: A and B still call each other.
call A B 1002
hangup B A
phones_stop
ccmd_stop
ok "after the refusals the registered phones still call; ccmd exits cleanly"
