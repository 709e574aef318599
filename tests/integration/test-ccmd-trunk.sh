# ccmd and a SIP trunk to Kamailio (Debian's kamailio 5.6) over UDP.
# Outgoing: a phone dials 9..., ccmd sends the INVITE over the trunk,
# Kamailio challenges it (407 and 401), ccmd answers with the trunk's
# out_user/password for out_realm, Kamailio checks the credentials and
# busies or relays the call to a phone behind it; the call is non-secure
# (a trunk is in the path) although the caller's leg is TLS; wrong
# trunk credentials stop after the second challenge.  An encrypted-
# profile phone cannot call out over the non-secure trunk (488).
# Incoming: a call from behind Kamailio reaches an extension after ccmd's
# digest challenge.  ACLs: Kamailio sends an out-of-dialog REFER and an
# unsolicited NOTIFY, authenticated: 403 until the trunk allows them, 403
# while only the trunk (not the digest user) allows them, then accepted.
#
# Kamailio 5.6's uac module and baresip 1.0 only answer MD5 and give up
# when the first (uac) or any (baresip) challenge is SHA-256, so ccmd
# runs with digest_algorithms = MD5 here.
. "$(dirname "$0")/../sip/netns.sh"
. "$(dirname "$0")/lib.sh"
need kamailio baresip openssl python3 ss
SIPDIR=$(cd "$(dirname "$0")/../sip" && pwd)
. "$SIPDIR/phones.sh"
. "$SIPDIR/ccmd.sh"
SIPSEND="python3 $SIPDIR/sipsend.py"
kam_pid=""
cleanup() {
	phones_stop
	[ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid" 2>/dev/null
	[ -n "$kam_pid" ] && kill "$kam_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM	# timeout(1): still clean up the namespace
[ -n "${KEEP:-}" ] && trap 'phones_stop; [ -n "$ccmd_pid" ] && kill -9 "$ccmd_pid"; [ -n "$kam_pid" ] && kill "$kam_pid"; echo "kept $T"' EXIT

umask 077
KAM_PORT=5090
PHONE_C=7250		# the phone behind Kamailio (UDP)
OUT_PW=trunk-Secret.7	# what Kamailio expects from ccmd (realm kamtrunk)
IN_PW=kamin-Secret.9	# what Kamailio answers ccmd's challenges with

mk_ca capf CAPF-ucsec-test
mk_ccm_cert
SIP_CA=$T/callmanager.crt
mk_lsc capf lsc-2001 SEP000000002001
mk_lsc capf lsc-2002 SEP000000002002

ctl device add SEP000000002001 --protocol sip --security authenticated \
    --extension 2001 --digest-user erin >/dev/null
ctl device add SEP000000002002 --protocol sip --security encrypted \
    --extension 2002 --digest-user frank >/dev/null
ctl_pw erin-Secret.42 user add erin --realm ccmsipline >/dev/null
ctl_pw frank-Secret.42 user add frank --realm ccmsipline >/dev/null
ctl_pw "$IN_PW" user add kamin --realm ccmsipline >/dev/null
ctl_pw "$OUT_PW" --out trunk add kam --peer 127.0.0.1:$KAM_PORT --transport udp \
    --security nonsecure --digest --prefix 9 \
    --out-realm kamtrunk --out-user ccm-out >/dev/null
ctl trunk show kam >"$T/trunk.txt"
grep -q "$OUT_PW" "$T/trunk.txt" "$DB" && fail "the trunk password is stored or shown in clear"
ccmd_conf "digest_algorithms = MD5" "auth_fail_max = 100"
ccmd_start

# --- Kamailio -----------------------------------------------------------
sed -e "s/@PORT@/$KAM_PORT/g" -e "s/@PHONE_PORT@/$PHONE_C/g" \
    -e "s/@REALM@/kamtrunk/g" -e "s/@USER@/ccm-out/g" \
    -e "s/@PASSWORD@/$OUT_PW/g" -e "s/@CCM@/127.0.0.1:5060/g" \
    -e "s/@IN_USER@/kamin/g" -e "s/@IN_PASSWORD@/$IN_PW/g" \
    "$SIPDIR/kamailio-trunk.cfg.in" >"$T/kamailio.cfg"
mkdir -p "$T/kamrun"
kamailio -c -f "$T/kamailio.cfg" >"$T/kam-check.log" 2>&1 ||
    fail "kamailio -c: $(tail -n 5 "$T/kam-check.log")"
kamailio -f "$T/kamailio.cfg" -DD -E -Y "$T/kamrun" -m 32 -M 8 \
    >"$T/kam.log" 2>&1 </dev/null &
kam_pid=$!
i=0
until ss -Hlun "sport = :$KAM_PORT" | grep -q .; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "kamailio did not start: $(tail -n 10 "$T/kam.log")"
	kill -0 "$kam_pid" 2>/dev/null || fail "kamailio exited: $(tail -n 10 "$T/kam.log")"
	sleep 0.1
done
kam_mark() { wc -l <"$T/kam.log"; }
kam_since() { tail -n +$(($1 + 1)) "$T/kam.log" | grep 'kam:' || true; }

# --- phones -------------------------------------------------------------
phone_start P 7000 "$T/lsc-2001.pem"
phone_start Q 7050 "$T/lsc-2002.pem"
phone_start C $PHONE_C none
register() {	# NAME EXT USER MEDIAENC
	_m=$(phone_mark "$1")
	_a="<sip:$2@127.0.0.1:5061;transport=tls>;auth_user=$3;auth_pass=$3-Secret.42;regint=600;answermode=auto"
	[ "$4" = none ] || _a="$_a;mediaenc=$4"
	phone_cmd "$1" uanew "$_a" >/dev/null || fail "uanew on $1"
	phone_wait "$1" "$_m" REGISTER_OK 15 --fail-on REGISTER_FAIL >/dev/null
}
register P 2001 erin none
register Q 2002 frank srtp-mand
phone_cmd C uanew "<sip:3001@127.0.0.1;transport=udp>;regint=0;answermode=auto;auth_user=kamin;auth_pass=$IN_PW" \
    >/dev/null || fail "uanew on C"
ok "phones up: 2001 (authenticated), 2002 (encrypted) on ccmd, 3001 behind Kamailio"

# --- outgoing over the trunk: 407, credentials checked, call relayed --------
mp=$(phone_mark P)
mc=$(phone_mark C)
mk=$(kam_mark)
ml=$(ccmd_mark)
phone_cmd P dial 9407200 >/dev/null || fail "dial on P"
phone_wait C "$mc" CALL_ESTABLISHED 15 --fail-on CALL_CLOSED >/dev/null
phone_wait P "$mp" CALL_ESTABLISHED 15 --fail-on CALL_CLOSED >/dev/null
phone_wait P "$mp" CALL_RTPESTAB 10 >/dev/null
phone_wait C "$mc" CALL_RTPESTAB 10 >/dev/null
kam_since "$mk" >"$T/k.txt"
grep -q 'auth failed rc=-5 INVITE' "$T/k.txt" || fail "Kamailio did not challenge: $(cat "$T/k.txt")"
a=$(grep 'auth ok user=ccm-out realm=kamtrunk INVITE' "$T/k.txt") ||
    fail "ccmd's credentials not accepted by Kamailio: $(cat "$T/k.txt")"
c1=$(sed -n 's/.*in INVITE .* from 127.0.0.1:5060 cseq=\([0-9]*\) .*/\1/p' "$T/k.txt" | head -n 1)
c2=$(echo "$a" | sed -n 's/.*cseq=\([0-9]*\).*/\1/p')
[ -n "$c1" ] && [ "$c2" = $((c1 + 1)) ] || fail "retry CSeq: first $c1, authenticated $c2"
echo "$a" | grep -q ' uri=\([^ ]*\) ruri=\1$' ||
    fail "digest uri is not the Request-URI (spec 4.7): $a"
l=$(ccmd_log_wait "$ml" 'call .* status=' 10)
echo "$l" | grep -q 'status=nonsecure' || fail "call over the trunk: want status=nonsecure: $l"
echo "$l" | grep -q 'srtp=none' || fail "call over the trunk: want srtp=none: $l"
mc=$(phone_mark C)
phone_cmd P hangup >/dev/null
phone_wait C "$mc" CALL_CLOSED 10 >/dev/null
ok "2001 -> 9407200: 407 answered (CSeq $c1 -> $c2), Kamailio relayed, RTP both ways, status=nonsecure"

# --- 401 variant, busy -----------------------------------------------------
mp=$(phone_mark P)
mk=$(kam_mark)
phone_cmd P dial 9401486 >/dev/null || fail "dial on P"
e=$(phone_wait P "$mp" CALL_CLOSED 15)
echo "$e" | grep -q '486' || fail "9401486: want 486 from Kamailio: $e"
kam_since "$mk" | grep -q 'auth ok user=ccm-out realm=kamtrunk INVITE 9\{0,1\}401486' ||
    fail "401 challenge not answered: $(kam_since "$mk")"
ok "2001 -> 9401486: 401 answered, 486 relayed back"

# --- an encrypted-profile phone cannot go out over a non-secure trunk -----
mq=$(phone_mark Q)
phone_cmd Q dial 9407200 >/dev/null || fail "dial on Q"
e=$(phone_wait Q "$mq" CALL_CLOSED 15)
echo "$e" | grep -q '488' || fail "encrypted phone over the trunk: want 488: $e"
grep -q -i 'inline:' "$T/ph-C/log" && fail "SDES keys reached the phone behind the trunk"
ok "2002 (encrypted, srtp-mand) -> trunk: 488, no keys sent over the trunk"

# --- wrong trunk password: one retry, then give up ------------------------
ctl_pw wrong-password --out trunk set kam --out-realm kamtrunk --out-user ccm-out >/dev/null
ccmd_hup
mp=$(phone_mark P)
mk=$(kam_mark)
phone_cmd P dial 9407486 >/dev/null || fail "dial on P"
e=$(phone_wait P "$mp" CALL_CLOSED 15)
echo "$e" | grep -q -E '"param": "(403|503)' || fail "wrong trunk password: want 403 or 503 to the phone: $e"
sleep 2
n=$(kam_since "$mk" | grep -c 'in INVITE .* from 127.0.0.1:5060' || true)
[ "$n" -eq 2 ] || fail "wrong trunk password: want 2 INVITEs to Kamailio, got $n: $(kam_since "$mk")"
kam_since "$mk" | grep -q 'auth failed rc=-2' || fail "Kamailio saw no wrong password: $(kam_since "$mk")"
ctl_pw "$OUT_PW" --out trunk set kam --out-realm kamtrunk --out-user ccm-out >/dev/null
ccmd_hup
ok "wrong trunk password: stopped after the second challenge: $(echo "$e" | sed -n 's/.*"param": "\([^"]*\)".*/\1/p')"

# --- incoming: from behind Kamailio to 2001, through ccmd's challenge ---------
mp=$(phone_mark P)
mc=$(phone_mark C)
ml=$(ccmd_mark)
mk=$(kam_mark)
phone_cmd C dial "sip:2001@127.0.0.1:$KAM_PORT" >/dev/null || fail "dial on C"
phone_wait P "$mp" CALL_ESTABLISHED 15 --fail-on CALL_CLOSED >/dev/null
phone_wait C "$mc" CALL_ESTABLISHED 15 --fail-on CALL_CLOSED >/dev/null
l=$(ccmd_log_wait "$ml" 'call .* status=' 10)
echo "$l" | grep -q 'status=nonsecure' || fail "incoming trunk call: want status=nonsecure: $l"
# ccmd's 200 must carry Kamailio's Record-Route (RFC 3261 12.1.1): the
# phone behind Kamailio then sends its ACK and BYE through the trunk.
kam_since "$mk" | grep 'reply 200 INVITE' | grep -q 'record-route=<sip:127.0.0.1:5090;lr' ||
    fail "ccmd's 200 to the trunk lacks Kamailio's Record-Route: $(kam_since "$mk" | grep 'reply 200 INVITE')"
mp=$(phone_mark P)
phone_cmd C hangup >/dev/null
phone_wait P "$mp" CALL_CLOSED 10 >/dev/null
[ "$(ccmd_log_count "$ml" "from unregistered 127.0.0.1:$PHONE_C")" -eq 0 ] ||
    fail "the phone behind Kamailio reached ccmd directly: $(grep "127.0.0.1:$PHONE_C" "$CCMD_LOG" | tail -n 3)"
ok "3001 (behind Kamailio) -> 2001: digest-authenticated trunk call, status=nonsecure, ended from behind the trunk"

# --- ACLs: out-of-dialog REFER and unsolicited NOTIFY ----------------------
# kam_send METHOD none|good|bad: the test sends METHOD to Kamailio, which
# relays it to ccmd as the trunk peer (answering ccmd's challenge once,
# with its password or a wrong one, or not); prints the final code.
kam_send() {
	if [ "$1" = REFER ]; then
		_h="Refer-To: <sip:2002@127.0.0.1>
Referred-By: <sip:voicemail@127.0.0.1:$KAM_PORT>
Contact: <sip:voicemail@127.0.0.1:@LPORT@>"
		_b=""
	else
		_h="Event: message-summary
Subscription-State: active
Content-Type: application/simple-message-summary"
		_b="Messages-Waiting: yes
Voice-Message: 1/0 (0/0)
"
	fi
	printf '%s\n' "$1 sip:2001@127.0.0.1:5060 SIP/2.0" \
	    "Via: SIP/2.0/UDP 127.0.0.1:@LPORT@;branch=@BRANCH@" \
	    "Max-Forwards: 70" "From: <sip:voicemail@127.0.0.1>;tag=@TAG@" \
	    "To: <sip:2001@127.0.0.1>" "Call-ID: @CALLID@" "CSeq: 1 $1" \
	    "X-Auth: $2" "$_h" "Content-Length: auto" "" "$_b" |
	    $SIPSEND --timeout 8 127.0.0.1:$KAM_PORT - >"$T/kam-send.out" 2>&1 ||
	    fail "$1 ($2) through Kamailio: $(cat "$T/kam-send.out"; kam_since "$mk0" | tail -n 5)"
	sed -n '1s/^SIP\/2.0 \([0-9]*\) .*/\1/p' "$T/kam-send.out"
}
mk0=$(kam_mark)
ccmd_alive
r=$(kam_send REFER none)
[ "$r" = 401 ] || fail "unauthenticated REFER from the trunk: want 401, got $r"
r=$(kam_send REFER bad)
[ "$r" = 401 ] || fail "REFER with a wrong trunk password: want 401, got $r"
r=$(kam_send REFER good)
[ "$r" = 403 ] || fail "out-of-dialog REFER, trunk does not allow: want 403, got $r"
r=$(kam_send NOTIFY good)
[ "$r" = 403 ] || fail "unsolicited NOTIFY, trunk does not allow: want 403, got $r"
n=$(kam_since "$mk0" | grep -c "answering ccmd's 401" || true)
[ "$n" -eq 3 ] || fail "Kamailio answered $n challenges, want 3 (bad REFER, REFER, NOTIFY)"
ok "digest first (401), then out-of-dialog REFER and unsolicited NOTIFY: 403"

ctl trunk set kam --allow ood-refer,unsolicited-notify >/dev/null
ccmd_hup
r=$(kam_send REFER good)
[ "$r" = 403 ] || fail "REFER allowed by the trunk but not for user kamin: want 403, got $r"
r=$(kam_send NOTIFY good)
[ "$r" = 403 ] || fail "NOTIFY allowed by the trunk but not for user kamin: want 403, got $r"
ok "allowed by the trunk, not by the application user: 403"

ctl user set kamin --realm ccmsipline --allow ood-refer,unsolicited-notify >/dev/null
ccmd_hup
r=$(kam_send REFER good)
case $r in 401 | 403 | 407 | "") fail "REFER allowed by trunk and user: got $r" ;; esac
r2=$(kam_send NOTIFY good)
case $r2 in 401 | 403 | 407 | "") fail "NOTIFY allowed by trunk and user: got $r2" ;; esac
ok "allowed by trunk and user: REFER -> $r, NOTIFY -> $r2"

ccmd_alive
phones_stop
ccmd_stop
