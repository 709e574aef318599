# capfd against capf-phone: every operation x auth mode x key type, the
# issued LSCs checked by the openssl CLI, each failure the spec names
# (wrong auth string, lockout, unknown device, expired deadline, MIC from
# an untrusted issuer, garbage, wrong session, truncated and oversized
# elements), and a kill -9 in the middle of 200 concurrent enrollments.
. "$(dirname "$0")/lib.sh"
need openssl sqlite3
CAPFD=$UCSEC_BIN/capfd
CCTL=$UCSEC_BIN/capfctl
PHONE=$UCSEC_BIN/capf-phone
DB=$T/ucsec.db
export UCSEC_DB=$DB
ccmd() { "$CCTL" "$@" 2>"$T/cctl.err" || fail "capfctl $*: $(cat "$T/cctl.err")"; }
port=$((20000 + $$ % 20000))
srv=""
cleanup() {
	[ -n "$srv" ] && kill -9 "$srv" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

start_capfd() {
	# Wait for this start's own "serving" line: the log spans restarts.
	before=$(cat "$T/capfd.log" 2>/dev/null | wc -l)
	"$CAPFD" -f --db "$DB" --cert "$V/capf.crt" --key "$V/capf.key" \
	    --listen 127.0.0.1 --port "$port" --lockout 3 --lockout-time 600 \
	    --workers 2 --max-per-addr 256 "$@" >>"$T/capfd.log" 2>&1 &
	srv=$!
	i=0
	while ! tail -n +$((before + 1)) "$T/capfd.log" 2>/dev/null |
	    grep -q "serving"; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "capfd did not start: $(cat "$T/capfd.log")"
		kill -0 "$srv" 2>/dev/null ||
		    fail "capfd exited: $(cat "$T/capfd.log")"
		sleep 0.1
	done
}
stop_capfd() {
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null || true
	srv=""
}

phone() {
	"$PHONE" --server 127.0.0.1 --port "$port" --ca "$V/capf.crt" \
	    --dir "$T/phones" --timeout 30 "$@"
}
# The last log line for a device.
logline() { grep "$1" "$T/capfd.log" | tail -n 1; }
# A field of `capfctl show DEVICE --json`.
field() {
	"$CCTL" show "$1" --json | python3 -c \
	    "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$2"
}

umask 077
mkdir -p "$T/phones"
ccmd trust add "$V/mfg-ca.crt" >/dev/null
start_capfd

# --- install: every key type, auth string and none --------------------
n=0
for key in rsa:1024 rsa:2048 rsa:4096 ec:P-256 ec:P-384 ec:P-521; do
	for auth in password none; do
		n=$((n + 1))
		dev=$(printf 'SEP0000000000%02X' "$n")
		if [ "$auth" = password ]; then
			printf '%s\n' 24680$n >"$T/pw"
			ccmd add "$dev" --op install --auth password \
			    --password-file "$T/pw" --key "$key" >/dev/null
			phone --device "$dev" --password-file "$T/pw" >"$T/out" ||
			    fail "install $key/$auth: $(cat "$T/out"; logline "$dev")"
		else
			ccmd add "$dev" --op install --auth none \
			    --key "$key" >/dev/null
			phone --device "$dev" >"$T/out" ||
			    fail "install $key/$auth: $(cat "$T/out"; logline "$dev")"
		fi
		pem=$T/phones/$dev.pem
		[ -s "$pem" ] || fail "$dev: no LSC stored by the phone"
		openssl x509 -in "$pem" -noout -text >"$T/lsc.txt"
		openssl verify -CAfile "$V/capf.crt" -purpose sslclient "$pem" \
		    >/dev/null 2>&1 || fail "$dev: LSC does not verify to CAPF"
		grep -q "Subject: CN = $dev, O = ucsec-test, OU = CAPF, L = Wellington, ST = Wellington, C = NZ" \
		    "$T/lsc.txt" || fail "$dev: subject: $(grep Subject: "$T/lsc.txt")"
		grep -q "TLS Web Server Authentication, TLS Web Client Authentication, IPSec End System" \
		    "$T/lsc.txt" || fail "$dev: EKU"
		grep -q "URI:$dev" "$T/lsc.txt" || fail "$dev: SAN"
		grep -q "CA:FALSE" "$T/lsc.txt" || fail "$dev: basicConstraints"
		grep -q "Digital Signature, Key Encipherment" "$T/lsc.txt" ||
		    fail "$dev: keyUsage"
		grep -q "sha256WithRSAEncryption" "$T/lsc.txt" || fail "$dev: sig"
		case $key in
		rsa:*) grep -q "(${key#rsa:} bit)" "$T/lsc.txt" ||
		    fail "$dev: want $key" ;;
		ec:P-256) grep -q "prime256v1" "$T/lsc.txt" || fail "$dev: $key" ;;
		ec:P-384) grep -q "secp384r1" "$T/lsc.txt" || fail "$dev: $key" ;;
		ec:P-521) grep -q "secp521r1" "$T/lsc.txt" || fail "$dev: $key" ;;
		esac
		# The store holds what the phone holds, and the task is done.
		"$CCTL" cert "$dev" >"$T/stored.pem"
		[ "$(openssl x509 -in "$T/stored.pem" -noout -fingerprint -sha256)" = \
		    "$(openssl x509 -in "$pem" -noout -fingerprint -sha256)" ] ||
		    fail "$dev: store and phone hold different LSCs"
		[ "$(field "$dev" op)" = none ] || fail "$dev: op not reset"
		[ "$(field "$dev" status)" = success ] || fail "$dev: status"
		logline "$dev" | grep -q "install" || fail "$dev: no log line"
	done
done
ok "install: 6 key types x {auth string, none}: LSCs verify, profile exact"

# --- fetch, delete, none -----------------------------------------------
dev=SEP000000000002
ccmd set "$dev" --op fetch >/dev/null
phone --device "$dev" >"$T/out" || fail "fetch: $(cat "$T/out")"
[ "$(field "$dev" status)" = success ] || fail "fetch: status"
[ "$(field "$dev" op)" = none ] || fail "fetch: op"
ccmd set "$dev" --op delete >/dev/null
phone --device "$dev" >"$T/out" || fail "delete: $(cat "$T/out")"
[ ! -e "$T/phones/$dev.pem" ] || fail "delete: the phone kept its LSC"
[ "$(field "$dev" op)" = none ] || fail "delete: op"
phone --device "$dev" >"$T/out" || fail "none: $(cat "$T/out")"
grep -qi "no scheduled operation" "$T/out" || fail "none: $(cat "$T/out")"
ccmd set "$dev" --op fetch >/dev/null
phone --device "$dev" >"$T/out" 2>&1 && fail "fetch without an LSC succeeded"
ok "fetch, delete and none end as the spec says"

# --- existing certificate: LSC, MIC (+SUDI), lsc-or-mic ------------------
dev=SEP000000000003		# has an RSA-2048 LSC from above
ccmd set "$dev" --op install --auth lsc --key ec:P-256 >/dev/null
cp "$T/phones/$dev.pem" "$T/old-lsc.pem"
phone --device "$dev" --lsc "$T/old-lsc.pem" --auth-mode lsc >"$T/out" ||
    fail "auth by LSC: $(cat "$T/out"; logline "$dev")"
openssl x509 -in "$T/phones/$dev.pem" -noout -text | grep -q prime256v1 ||
    fail "auth by LSC: no new EC LSC"
ccmd set SEP000000000004 --op install --auth lsc >/dev/null
phone --device SEP000000000004 --lsc "$T/old-lsc.pem" --auth-mode lsc \
    >"$T/out" 2>&1 && fail "another device's LSC was accepted"
[ "$(field SEP000000000004 status)" = failed ] || fail "foreign LSC: status"
ccmd add SEP0011223344CC --op install --auth mic --key rsa:2048 >/dev/null
phone --device SEP0011223344CC --mic "$V/sudi.pem" --sudi "$V/sudi.pem" \
    --auth-mode mic >"$T/out" || fail "auth by MIC+SUDI: $(cat "$T/out"; logline SEP0011223344CC)"
ccmd set SEP0011223344CC --op install --auth lsc-or-mic >/dev/null
phone --device SEP0011223344CC --mic "$V/sudi.pem" --auth-mode mic \
    >"$T/out" || fail "lsc-or-mic with a MIC: $(cat "$T/out")"
ccmd set SEP0011223344CC --op install --auth lsc-or-mic >/dev/null
cp "$T/phones/SEP0011223344CC.pem" "$T/cc-lsc.pem"
phone --device SEP0011223344CC --lsc "$T/cc-lsc.pem" --auth-mode lsc \
    >"$T/out" || fail "lsc-or-mic with an LSC: $(cat "$T/out")"
# A "MIC" from an untrusted issuer (a self-signed device certificate).
ccmd add SEP0011223344BB --op install --auth mic >/dev/null
phone --device SEP0011223344BB --mic "$V/device.pem" --auth-mode mic \
    >"$T/out" 2>&1 && fail "MIC from an untrusted issuer accepted"
logline SEP0011223344BB | grep -q "result 7" || fail "untrusted MIC: log"
[ "$(field SEP0011223344BB status)" = failed ] || fail "untrusted MIC: status"
# A bad signature over a good certificate.
ccmd set SEP0011223344CC --op install --auth mic >/dev/null
phone --device SEP0011223344CC --mic "$V/sudi.pem" --auth-mode mic \
    --bad-signature >"$T/out" 2>&1 && fail "bad signature accepted"
# A MIC binds a device whose name ENDS its CN, not one inside it.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/loose.key" \
    -subj "/CN=SEP0011223344DE-x/O=ucsec-test" -out "$T/loose.csr" \
    2>/dev/null || fail "openssl req"
openssl x509 -req -in "$T/loose.csr" -CA "$V/mfg-ca.crt" \
    -CAkey "$V/mfg-ca.key" -CAcreateserial -CAserial "$T/mfg.srl" \
    -days 30 -out "$T/loose.crt" 2>/dev/null || fail "openssl x509"
cat "$T/loose.crt" "$T/loose.key" >"$T/loose.pem"
ccmd add SEP0011223344DE --op install --auth mic >/dev/null
phone --device SEP0011223344DE --mic "$T/loose.pem" --auth-mode mic \
    >"$T/out" 2>&1 && fail "MIC accepted for a name inside its CN"
logline SEP0011223344DE | grep -q "CN does not name the device" ||
    fail "MIC binding: log: $(logline SEP0011223344DE)"
ok "auth by LSC, MIC+SUDI, lsc-or-mic; foreign LSC, untrusted MIC, bad signature, loose MIC binding refused"

# --- wrong auth string, lockout, unknown device, deadline ---------------
dev=SEP0000000000AA
printf '112233\n' >"$T/pw"
printf '999999\n' >"$T/bad"
ccmd add "$dev" --op install --auth password --password-file "$T/pw" \
    --key rsa:1024 >/dev/null
phone --device "$dev" --password-file "$T/bad" >"$T/out" 2>&1 &&
    fail "wrong auth string accepted"
logline "$dev" | grep -q "result 7" || fail "wrong auth string: log"
[ "$(field "$dev" auth_failures)" = 1 ] || fail "auth failure not counted"
phone --device "$dev" --password-file "$T/bad" >/dev/null 2>&1 || true
phone --device "$dev" --password-file "$T/bad" >/dev/null 2>&1 || true
phone --device "$dev" --password-file "$T/pw" >"$T/out" 2>&1 &&
    fail "right auth string accepted while locked out"
"$CCTL" show "$dev" | grep -qi "locked" || fail "lockout not shown"
ccmd unlock "$dev" >/dev/null
phone --device "$dev" --password-file "$T/pw" >"$T/out" ||
    fail "after unlock: $(cat "$T/out")"
phone --device SEP0000DEADBEEF >"$T/out" 2>&1 && fail "unknown device"
grep -qi "unknown device" "$T/out" || fail "unknown device: $(cat "$T/out")"
logline SEP0000DEADBEEF | grep -q "result 9" || fail "unknown device: log"
soon=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
ccmd add SEP0000000000AB --op install --auth none --deadline "$soon" \
    >/dev/null
sleep 3
phone --device SEP0000000000AB >"$T/out" 2>&1 && fail "expired operation ran"
[ "$(field SEP0000000000AB status)" = expired ] || fail "deadline: status"
ok "wrong auth string, lockout after 3 and unlock, unknown device, deadline"

# --- hostile phones: the server logs, answers the spec's way, survives -------
ccmd add SEP0000000000AC --op install --auth none >/dev/null
for bad in --garbage --wrong-session --truncate --oversize --bad-version; do
	before=$(wc -l <"$T/capfd.log")
	phone --device SEP0000000000AC "$bad" >"$T/out" 2>&1 &&
	    fail "$bad: the phone saw success"
	i=0
	while [ "$(wc -l <"$T/capfd.log")" -le "$before" ] && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ "$(wc -l <"$T/capfd.log")" -gt "$before" ] || fail "$bad: no log line"
	kill -0 "$srv" || fail "$bad: capfd died"
done
phone --device SEP0000000000AC >"$T/out" || fail "after abuse: $(cat "$T/out")"
ok "garbage, wrong session, truncated, oversized, bad version: logged, survived"

# --- one session per device at a time -------------------------------------
# A raw phone authenticates (auth none) and then sits on the
# KEY_GENERATE_REQUEST; meanwhile a second phone for the same device must
# be refused (no parallel guesses past a lockout, one owner of the task).
hold() {
	python3 - "$port" "$V/capf.crt" "$1" "$T/held" <<'EOF'
import os, socket, ssl, struct, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(sys.argv[2])
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])),
    timeout=20))
def msg():
    h = b""
    while len(h) < 8:
        h += s.recv(8 - len(h))
    n = struct.unpack(">H", h[6:8])[0]
    p = b""
    while len(p) < n:
        p += s.recv(n - len(p))
    return h, p
h, _ = msg()
dev = sys.argv[3].encode() + b"\0"
el = b"\x01\x00\x01\x01\x07\x00\x01\x03\x0d" + struct.pack(">H", len(dev)) + dev
s.sendall(b"\x55\x02" + h[2:6] + struct.pack(">H", len(el)) + el)
h, _ = msg()
if h[1] != 3:
    sys.exit("holder: got command %d, want KEY_GENERATE_REQUEST" % h[1])
open(sys.argv[4], "w").close()
for i in range(300):
    if not os.path.exists(sys.argv[4]):
        break
    time.sleep(0.1)
s.close()
EOF
}
dev=SEP0000000000AE
ccmd add "$dev" --op install --auth none --key ec:P-256 >/dev/null
rm -f "$T/held"
hold "$dev" 2>"$T/hold.err" &
holder=$!
i=0
while [ ! -e "$T/held" ] && [ $i -lt 100 ]; do
	kill -0 "$holder" 2>/dev/null || fail "holder: $(cat "$T/hold.err")"
	sleep 0.1; i=$((i + 1))
done
[ -e "$T/held" ] || fail "holder did not get past AUTH_RESPONSE"
phone --device "$dev" >"$T/out" 2>&1 &&
    fail "a second session for a busy device succeeded"
grep "$dev" "$T/capfd.log" |
    grep -q "another session for this device is in progress" ||
    fail "busy device: no log reason: $(logline "$dev")"
rm -f "$T/held"
wait "$holder" || fail "holder: $(cat "$T/hold.err")"
i=0
while ! grep "$dev" "$T/capfd.log" | grep -q "closed" && [ $i -lt 50 ]; do
	sleep 0.1; i=$((i + 1))
done
phone --device "$dev" >"$T/out" ||
    fail "after the first session ended: $(cat "$T/out"; logline "$dev")"
ok "a second concurrent session for a device is refused, then served"

# --- TLS 1.0 only on request (7900-series phones) --------------------------
ccmd add SEP0000000000AD --op install --auth none >/dev/null
phone --device SEP0000000000AD --tls1 >"$T/out" 2>&1 &&
    fail "a TLS 1.0 phone got through without --tls1"
stop_capfd
start_capfd --tls1 --handshake-timeout 1
phone --device SEP0000000000AD --tls1 >"$T/out" ||
    fail "--tls1: $(cat "$T/out"; logline SEP0000000000AD)"
# A connection that never starts TLS is closed at the handshake deadline.
python3 - "$port" <<'EOF' || fail "silent connection kept past --handshake-timeout"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t = time.time()
try:
    d = s.recv(1)
except ConnectionResetError:
    d = b""
sys.exit(0 if d == b"" and time.time() - t < 8 else 1)
EOF
grep -q "TLS handshake timeout" "$T/capfd.log" || fail "handshake timeout: log"
stop_capfd
start_capfd
ok "TLS 1.0 refused by default, served with --tls1; handshake deadline"

# --- kill -9 during 200 concurrent enrollments ----------------------------
{
	echo "device,op,auth,password,key,deadline"
	i=1
	while [ $i -le 600 ]; do
		printf 'SEP1%011d,install,none,,rsa:2048,\n' "$i"
		i=$((i + 1))
	done
} >"$T/load.csv"
"$CCTL" import "$T/load.csv" >/dev/null || fail "import"
"$PHONE" --server 127.0.0.1 --port "$port" --ca "$V/capf.crt" \
    --load 600 --concurrency 200 --prefix SEP1 --record "$T/received" \
    >"$T/load.out" 2>&1 &
load=$!
i=0
while [ "$(sqlite3 "$DB" "select count(*) from certificates" 2>/dev/null || echo 0)" -lt 150 ] &&
    [ $i -lt 300 ]; do
	sleep 0.05; i=$((i + 1))
done
kill -9 "$srv"
wait "$srv" 2>/dev/null || true
srv=""
wait "$load" 2>/dev/null || true
[ -s "$T/received" ] || fail "kill -9: the phones received nothing: $(tail -3 "$T/load.out")"
[ "$(sqlite3 "$DB" "pragma integrity_check")" = ok ] || fail "store corrupt"
inprog=$(sqlite3 "$DB" "select count(*) from capf_tasks where status = 1")
start_capfd
[ "$(sqlite3 "$DB" "select count(*) from capf_tasks where status = 1")" -eq 0 ] ||
    fail "tasks left in progress by kill -9 were not reset"
[ "$inprog" -eq 0 ] || grep -q "$inprog CAPF tasks* left in progress" \
    "$T/capfd.log" || fail "reset of $inprog tasks in progress: no log line"
missing=0
while read -r dev serial; do
	"$CCTL" cert "$dev" --all >"$T/c.pem" 2>/dev/null || true
	grep -q . "$T/c.pem" || { missing=$((missing + 1)); continue; }
	openssl crl2pkcs7 -nocrl -certfile "$T/c.pem" 2>/dev/null |
	    openssl pkcs7 -print_certs -noout -text 2>/dev/null |
	    tr -d ':\n ' | grep -qi "$serial" || missing=$((missing + 1))
done <"$T/received"
[ "$missing" -eq 0 ] || fail "kill -9: $missing received LSCs are not in the store"
got=$(wc -l <"$T/received")
# The rest enroll after the restart.
"$PHONE" --server 127.0.0.1 --port "$port" --ca "$V/capf.crt" \
    --load 600 --concurrency 50 --prefix SEP1 --record "$T/received2" \
    >"$T/load2.out" 2>&1 || true
left=$(sqlite3 "$DB" "select count(*) from capf_tasks where device like 'SEP1%' and (op != 0 or status != 2)")
[ "$left" -eq 0 ] || fail "after the restart $left enrollments are still open: $(tail -3 "$T/load2.out")"
ok "kill -9 after $got of 600 enrollments: store intact, every received LSC in it, the rest done after restart"
stop_capfd
