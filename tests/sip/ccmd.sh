# Sourced by tests/integration/test-ccmd*.sh right after lib.sh: ccmd
# and ccmctl, the test PKI, and helpers.  The test runs inside its own
# network namespace (see ccm_netns), so ccmd takes the standard ports
# 5060 (UDP, TCP) and 5061 (TLS) on 127.0.0.1.
#
#   ctl ARGS...              ccmctl with the test's db and key; must succeed
#   mk_ca NAME CN            $T/NAME.crt, $T/NAME.key: a CA (EC P-256)
#   mk_lsc CA NAME CN        $T/NAME.{crt,key,pem}: an LSC-like client
#                            certificate (CN and SAN URI = CN) from CA;
#                            .pem = certificate + unencrypted key
#   mk_ccm_cert              $T/callmanager.{crt,key}: self-signed
#                            "CallManager" certificate (the CTL's CCM)
#   ccmd_conf [LINE...]      $T/ccmd.conf; LINEs are extra [sip] lines;
#                            client_ca = $CLIENT_CA (default the CAPF CA)
#   ccmd_start / ccmd_stop / ccmd_hup
#   ccmd_mark                the ccmd log's line count now
#   ccmd_log_wait MARK ERE [TIMEOUT]   a log line after MARK matching
#                            ERE, printed; fails the test on timeout
: "${SIPDIR:?}"
CCMD=$UCSEC_BIN/ccmd
CCMCTL=$UCSEC_BIN/ccmctl
DB=$T/ucsec.db
SECRET=$T/ccm-secret.key
CCMD_LOG=$T/ccmd.log
ccmd_pid=""
[ -x "$CCMD" ] || fail "no ccmd binary at $CCMD"
[ -x "$CCMCTL" ] || fail "no ccmctl binary at $CCMCTL"

ctl() {
	"$CCMCTL" --db "$DB" --secret-key "$SECRET" "$@" \
	    >"$T/ctl.out" 2>"$T/ctl.err" </dev/null ||
	    fail "ccmctl $*: $(cat "$T/ctl.err")"
	cat "$T/ctl.out"
}

# ctl_pw PASSWORD [--out] ARGS...: ccmctl reading the password from a
# 0600 file (--password-file; with --out, a trunk's --out-password-file).
ctl_pw() {
	_pw=$1 _opt=--password-file
	shift
	[ "$1" = --out ] && { _opt=--out-password-file; shift; }
	(umask 077; printf '%s\n' "$_pw" >"$T/pw.tmp")
	ctl "$@" $_opt "$T/pw.tmp"
	rm -f "$T/pw.tmp"
}

mk_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$T/$1.key" -out "$T/$1.crt" -days 30 \
	    -subj "/CN=$2/O=ucsec-test/OU=CAPF" \
	    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
	    2>"$T/openssl.err" || fail "mk_ca $1: $(cat "$T/openssl.err")"
}

mk_lsc() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$2.key" -out "$T/$2.crt" -days 30 \
	    -CA "$T/$1.crt" -CAkey "$T/$1.key" \
	    -subj "/CN=$3/O=ucsec-test/OU=LSC" \
	    -addext "basicConstraints=critical,CA:FALSE" \
	    -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
	    -addext "extendedKeyUsage=serverAuth,clientAuth" \
	    -addext "subjectAltName=URI:$3" \
	    2>"$T/openssl.err" || fail "mk_lsc $2: $(cat "$T/openssl.err")"
	cat "$T/$2.crt" "$T/$2.key" >"$T/$2.pem"
}

mk_ccm_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$T/callmanager.key" -out "$T/callmanager.crt" \
	    -days 30 -subj "/CN=CallManager/O=ucsec-test/OU=CCM" \
	    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
	    -addext "keyUsage=critical,digitalSignature,keyCertSign" \
	    -addext "extendedKeyUsage=serverAuth,clientAuth" \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	    2>"$T/openssl.err" || fail "mk_ccm_cert: $(cat "$T/openssl.err")"
}

ccmd_conf() {
	{
		echo "[sip]"
		echo "udp = 127.0.0.1:5060"
		echo "tcp = 127.0.0.1:5060"
		echo "tls = 127.0.0.1:5061"
		echo "cert = $T/callmanager.crt"
		echo "key = $T/callmanager.key"
		echo "client_ca = ${CLIENT_CA:-$T/capf.crt}"
		echo "realm = ccmsipline"
		echo "domain = 127.0.0.1"
		for l in "$@"; do
			echo "$l"
		done
		echo "[store]"
		echo "db = $DB"
		echo "secret_key = $SECRET"
	} >"$T/ccmd.conf"
}

ccmd_mark() { wc -l <"$CCMD_LOG" 2>/dev/null || echo 0; }

# Listening = every configured TCP port accepts and every UDP port is bound.
ccmd_listening() {
	for a in $(sed -n 's/^\(tcp\|tls\|tls_legacy\) *= *//p' "$T/ccmd.conf" |
	    tr ',' ' '); do
		ss -Hltn "sport = :${a##*:}" | grep -q . || return 1
	done
	for a in $(sed -n 's/^udp *= *//p' "$T/ccmd.conf" | tr ',' ' '); do
		ss -Hlun "sport = :${a##*:}" | grep -q . || return 1
	done
}

ccmd_start() {
	"$CCMD" -f -d -c "$T/ccmd.conf" >>"$CCMD_LOG" 2>&1 </dev/null &
	ccmd_pid=$!
	_i=0
	until ccmd_listening; do
		_i=$((_i + 1))
		[ $_i -le 100 ] || fail "ccmd did not listen: $(tail -n 20 "$CCMD_LOG")"
		kill -0 "$ccmd_pid" 2>/dev/null ||
		    fail "ccmd exited: $(tail -n 20 "$CCMD_LOG")"
		sleep 0.1
	done
}

ccmd_alive() {
	kill -0 "$ccmd_pid" 2>/dev/null ||
	    fail "ccmd died: $(tail -n 20 "$CCMD_LOG")"
}

ccmd_stop() {
	[ -n "$ccmd_pid" ] || return 0
	kill "$ccmd_pid" 2>/dev/null || true
	_i=0
	while kill -0 "$ccmd_pid" 2>/dev/null && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if kill -0 "$ccmd_pid" 2>/dev/null; then
		kill -9 "$ccmd_pid" 2>/dev/null
		fail "ccmd ignored SIGTERM for 5 s"
	fi
	_rc=0
	wait "$ccmd_pid" || _rc=$?
	ccmd_pid=""
	[ "$_rc" -eq 0 ] || fail "ccmd exited $_rc on SIGTERM: $(tail -n 20 "$CCMD_LOG")"
}

ccmd_hup() {
	kill -HUP "$ccmd_pid"
	sleep 0.5
	ccmd_alive
}

ccmd_log_wait() {
	_m=$1 _re=$2 _to=${3:-10}
	_i=0
	while :; do
		_l=$(tail -n +$((_m + 1)) "$CCMD_LOG" | grep -E -e "$_re" | head -n 1)
		[ -n "$_l" ] && { printf '%s\n' "$_l"; return 0; }
		_i=$((_i + 1))
		[ $_i -le $((_to * 10)) ] ||
		    fail "no ccmd log line /$_re/ within ${_to}s; log since: $(tail -n +$((_m + 1)) "$CCMD_LOG" | tail -n 25)"
		sleep 0.1
	done
}

# The number of ccmd log lines after MARK matching ERE.
ccmd_log_count() {
	tail -n +$(($1 + 1)) "$CCMD_LOG" | grep -c -E -e "$2" || true
}
