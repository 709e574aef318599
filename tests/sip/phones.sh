# Sourced by the ccmd integration tests: headless baresip phones, each
# with its own config dir under $T/ph-NAME, driven through bsctl.py.
# Needs $T, fail() (tests/integration/lib.sh) and $SIPDIR (this dir).
#
#   phone_start NAME SIP_PORT CERT_PEM|none [TLSMAX]
#       SIP on 127.0.0.1:SIP_PORT (TLS on SIP_PORT+1), ctrl_tcp on
#       SIP_PORT+2, RTP in SIP_PORT*2..+40 (so keep SIP_PORT below 30000
#       and 50 apart).  The phone trusts $SIP_CA (sip_cafile) and
#       verifies the server's chain (OPENSSL_CONF VerifyMode=Peer).
#       TLSMAX caps the TLS version (TLSv1.2 for a phone that must see
#       a refusal in the handshake).
#   phone_cmd NAME COMMAND [PARAMS]      prints the response data
#   phone_mark NAME                      the event count now (for --from)
#   phone_wait NAME MARK TYPE[|TYPE] [TIMEOUT] [--param X] [--fail-on T]
#       prints the event (JSON); fails the test on timeout
#   phone_try NAME MARK TYPE ...         same, but returns 1 instead
#   phone_stop NAME
#   phones_stop                          every phone started
BSCTL="python3 $SIPDIR/bsctl.py"

phone_start() {
	_n=$1 _p=$2 _cert=$3 _max=${4:-TLSv1.3}
	_d=$T/ph-$_n
	rm -rf "$_d"
	mkdir -p "$_d"
	sed -e "s#@SIP_PORT@#$_p#" -e "s#@CERT@#$_cert#" \
	    -e "s#@CAFILE@#$SIP_CA#" -e "s#@CTRL_PORT@#$((_p + 2))#" \
	    -e "s#@RTP_PORTS@#$((_p * 2))-$((_p * 2 + 40))#" \
	    "$SIPDIR/baresip.conf.in" >"$_d/config"
	[ "$_cert" = none ] && sed -i '/^sip_certificate/d' "$_d/config"
	sed -e "s#@MAXPROTO@#$_max#" "$SIPDIR/openssl-verify.cnf" \
	    >"$_d/openssl.cnf"
	: >"$_d/ev"
	OPENSSL_CONF=$_d/openssl.cnf baresip -f "$_d" >"$_d/log" 2>&1 \
	    </dev/null &
	echo $! >"$_d/pid"
	$BSCTL serve --ctrl 127.0.0.1:$((_p + 2)) --sock "$_d/sock" \
	    --events "$_d/ev" --timeout 10 >"$_d/bsctl.log" 2>&1 &
	echo $! >"$_d/bspid"
	$BSCTL wait "$_d/ev" BSCTL_READY --timeout 12 >/dev/null 2>&1 ||
	    fail "phone $_n did not start: $(tail -n 5 "$_d/log" "$_d/bsctl.log")"
	kill -0 "$(cat "$_d/pid")" 2>/dev/null ||
	    fail "baresip $_n exited: $(tail -n 5 "$_d/log")"
}

phone_cmd() {
	_n=$1
	shift
	$BSCTL cmd "$T/ph-$_n/sock" "$@"
}

phone_mark() { $BSCTL lines "$T/ph-$1/ev"; }

# phone_try NAME MARK TYPE [TIMEOUT] [more bsctl wait options]
phone_try() {
	_n=$1 _m=$2 _t=$3
	shift 3
	_to=10
	case ${1:-} in [0-9]*) _to=$1; shift ;; esac
	$BSCTL wait "$T/ph-$_n/ev" "$_t" --from "$_m" --timeout "$_to" "$@" \
	    2>"$T/ph-$_n/wait.err"
}

phone_wait() {
	_wn=$1
	phone_try "$@" ||
	    fail "phone $_wn: waiting for $3: $(cat "$T/ph-$_wn/wait.err")"
}

phone_stop() {
	_d=$T/ph-$1
	[ -e "$_d/pid" ] || return 0
	$BSCTL quit "$_d/sock" >/dev/null 2>&1 || true
	kill "$(cat "$_d/pid")" 2>/dev/null || true
	kill "$(cat "$_d/bspid")" 2>/dev/null || true
	# bounded: baresip unregisters for a moment, then exits
	_i=0
	while kill -0 "$(cat "$_d/pid")" 2>/dev/null && [ $_i -lt 30 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -9 "$(cat "$_d/pid")" 2>/dev/null || true
	rm -f "$_d/pid"
}

# Every phone with a pid file, also those started in a subshell.
phones_stop() {
	for _d in "$T"/ph-*; do
		[ -e "$_d/pid" ] && phone_stop "${_d##*/ph-}"
	done
	return 0
}
