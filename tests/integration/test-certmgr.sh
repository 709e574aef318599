# certmgr against real peers: a CFSSL CA (cfssl serve on loopback, over
# https and http) with a root made here, SoftHSM for a token key, openssl
# to check every certificate and request, and python3 for a CA that
# answers garbage.  Then, when capfd and capf-phone are built, an LSC
# issued by capfd under the cfssl-signed subordinate CA, verified up to
# the cfssl root.
. "$(dirname "$0")/lib.sh"
need cfssl cfssljson openssl softhsm2-util pkcs11-tool python3
CM=$UCSEC_BIN/certmgr
D=$T/certs
# A proxy from the environment must not see our loopback CA.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy \
    no_proxy NO_PROXY
unset UCSEC_CERT_DIR UCSEC_DB

# Every server we start is killed on the way out, whatever happens.
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null || :
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || :
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A free loopback port (the kernel picks one; a race is harmless here).
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_port PID PORT LOG: up to ~10 s for the server to accept.
wait_port() {
	i=0
	while [ "$i" -lt 100 ]; do
		kill -0 "$1" 2>/dev/null || fail "server exited: $(cat "$3")"
		python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
		    "$2" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	fail "nothing listens on 127.0.0.1:$2 after 10 s: $(cat "$3")"
}

# no_secret FILE...: the auth key must not appear in any of them.
no_secret() {
	for f in "$@"; do
		! grep -qiF "$AK" "$f" || fail "auth key leaked into $f"
	done
}

# Usage.
"$CM" --help >"$T/out" && grep -q selfsign "$T/out" || fail "--help"
for args in "" "selfsign" "selfsign nosuchrole" "show capf --bogus" \
    "csr capf --days 3" "trust add capf" "trust frob capf x"; do
	rc=0
	# shellcheck disable=SC2086
	"$CM" $args >/dev/null 2>"$T/err" || rc=$?
	[ "$rc" -eq 2 ] || fail "usage error \"$args\" exits $rc, not 2"
	[ "$(wc -l <"$T/err")" -ge 1 ] || fail "usage error \"$args\" silent"
done
ok "usage errors exit 2"

# Self-signed CAPF identity: CA:TRUE, pathlen:0, keyCertSign
# (capf-protocol.md 1), key file 0600.
"$CM" --dir "$D" selfsign capf --subject '/CN=CAPF-test/O=Example' \
    --san DNS:capf.example.com,IP:127.0.0.1 >"$T/out" 2>"$T/err" ||
    fail "selfsign capf: $(cat "$T/err")"
grep -q 'reload capfd (SIGHUP)' "$T/out" || fail "selfsign: no reload hint"
grep -q 'ctlclient' "$T/out" || fail "selfsign: no CTL hint"
openssl x509 -in "$D/capf.crt" -noout -text >"$T/x"
grep -A1 'Basic Constraints: critical' "$T/x" | grep -q 'CA:TRUE, pathlen:0' ||
    fail "capf: not CA:TRUE, pathlen:0"
grep -A1 'Key Usage: critical' "$T/x" | grep 'Digital Signature' |
    grep -q 'Certificate Sign' || fail "capf: keyUsage"
grep -q 'DNS:capf.example.com, IP Address:127.0.0.1' "$T/x" || fail "capf: SAN"
openssl verify -CAfile "$D/capf.crt" "$D/capf.crt" >/dev/null ||
    fail "capf: self-signature"
[ "$(stat -c %a "$D/capf.key")" = 600 ] || fail "capf.key mode"
openssl pkey -in "$D/capf.key" -pubout >"$T/k.pub"
openssl x509 -in "$D/capf.crt" -noout -pubkey >"$T/c.pub"
cmp -s "$T/k.pub" "$T/c.pub" || fail "capf.crt is not for capf.key"
expect_fail "$CM" --dir "$D" selfsign capf
grep -q -- '--force' "$T/err" ||
    fail "selfsign over an identity: $(cat "$T/err")"
"$CM" --dir "$D" selfsign callmanager --key ec:P-256 --days 30 >/dev/null \
    2>"$T/err" || fail "selfsign callmanager: $(cat "$T/err")"
openssl x509 -in "$D/callmanager.crt" -noout -text >"$T/x"
grep -q 'CA:FALSE' "$T/x" && grep -q 'TLS Web Server Authentication' "$T/x" ||
    fail "callmanager: extensions"
grep -q 'NIST CURVE: P-256' "$T/x" || fail "callmanager: EC P-256 key"
ok "selfsign: capf is a CA (pathlen 0), callmanager a server"

# show: the fingerprints openssl computes, and valid JSON.
"$CM" --dir "$D" show capf >"$T/show" 2>"$T/err" || fail "show: $(cat "$T/err")"
fp=$(openssl x509 -in "$D/capf.crt" -noout -fingerprint -sha256 | cut -d= -f2)
grep -q "SHA-256: *$fp" "$T/show" || fail "show: SHA-256 fingerprint"
fp=$(openssl x509 -in "$D/capf.crt" -noout -fingerprint -md5 | cut -d= -f2)
grep -q "MD5: *$fp" "$T/show" || fail "show: MD5 fingerprint"
grep -q 'CA: *yes, pathlen 0' "$T/show" || fail "show: CA"
grep -q 'matches the certificate' "$T/show" || fail "show: key match"
"$CM" --dir "$D" show capf --json >"$T/json" || fail "show --json"
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["ca"] is True and d["pathlen"] == 0 and d["key_matches"] is True
assert d["key_file"].endswith("/capf.key") and len(d["sha256"]) == 64' \
    "$T/json" || fail "show --json: $(cat "$T/json")"
expect_fail "$CM" --dir "$D" show tftp
ok "show, text and JSON"

# A subordinate-CA request for the CAPF key.
"$CM" --dir "$D" csr capf --ca-cert --subject '/CN=CAPF-sub/O=Example' \
    >"$T/out" 2>"$T/err" || fail "csr --ca-cert: $(cat "$T/err")"
openssl req -in "$D/capf.csr" -noout -verify 2>&1 | grep -q 'verify OK' ||
    fail "csr: self-signature"
openssl req -in "$D/capf.csr" -noout -text >"$T/x"
sed -n '/Requested Extensions/,$p' "$T/x" >"$T/ext"
grep -A1 'Basic Constraints: critical' "$T/ext" |
    grep -q 'CA:TRUE, pathlen:0' || fail "csr: no CA:TRUE, pathlen:0 request"
grep -A1 'Key Usage: critical' "$T/ext" |
    grep -q 'Digital Signature, Certificate Sign, CRL Sign' ||
    fail "csr: keyUsage request"
openssl req -in "$D/capf.csr" -noout -pubkey >"$T/r.pub"
cmp -s "$T/r.pub" "$T/k.pub" || fail "csr: not the capf key"
"$CM" --dir "$D" csr callmanager --der -o "$T/cm.der" >/dev/null 2>&1 ||
    fail "csr --der"
openssl req -inform DER -in "$T/cm.der" -noout -verify 2>&1 |
    grep -q 'verify OK' || fail "csr --der does not verify"
expect_fail "$CM" --dir "$D" csr capf --key rsa:2048
"$CM" --dir "$D" csr tftp --ca-cert -o "$T/tftp.csr" >/dev/null 2>&1 ||
    fail "csr for a role without a key"
[ -f "$D/tftp.key" ] && [ ! -f "$D/tftp.crt" ] || fail "csr: tftp.key not made"
ok "csr: subordinate CA request, DER, new key"

# The CA: a root made by cfssl, a subordinate-CA profile without auth, one
# with an auth key (authsign), and a TLS certificate for cfssl itself.
mkdir "$T/ca"
cat >"$T/ca/root.json" <<'EOF'
{"CN": "ucsec test root", "key": {"algo": "rsa", "size": 2048},
 "names": [{"O": "Example", "OU": "PKI"}], "ca": {"expiry": "87600h"}}
EOF
(cd "$T/ca" && cfssl gencert -initca root.json 2>/dev/null |
    cfssljson -bare root) || fail "cfssl gencert -initca"
ROOT=$T/ca/root.pem
AK=$(openssl rand -hex 16)
printf '%s\n' "$AK" >"$T/auth.key"
chmod 600 "$T/auth.key"
cat >"$T/ca/config.json" <<EOF
{"signing": {
  "default": {"expiry": "8760h",
    "usages": ["digital signature", "key encipherment", "server auth"]},
  "profiles": {
    "subca": {"expiry": "43800h",
      "usages": ["cert sign", "crl sign", "digital signature"],
      "ca_constraint": {"is_ca": true, "max_path_len": 0,
        "max_path_len_zero": true}},
    "subca-auth": {"expiry": "43800h",
      "usages": ["cert sign", "crl sign", "digital signature"],
      "ca_constraint": {"is_ca": true, "max_path_len": 0,
        "max_path_len_zero": true},
      "auth_key": "certmgr"},
    "tls": {"expiry": "8760h",
      "usages": ["digital signature", "key encipherment", "server auth"]}}},
 "auth_keys": {"certmgr": {"type": "standard", "key": "$AK"}}}
EOF
cat >"$T/ca/tls.json" <<'EOF'
{"CN": "127.0.0.1", "hosts": ["127.0.0.1"],
 "key": {"algo": "ecdsa", "size": 256}}
EOF
(cd "$T/ca" && cfssl gencert -ca root.pem -ca-key root-key.pem \
    -config config.json -profile tls tls.json 2>/dev/null |
    cfssljson -bare tls) || fail "cfssl gencert (TLS)"

PS=$(free_port)
cfssl serve -address 127.0.0.1 -port "$PS" -ca "$ROOT" \
    -ca-key "$T/ca/root-key.pem" -config "$T/ca/config.json" \
    -tls-cert "$T/ca/tls.pem" -tls-key "$T/ca/tls-key.pem" \
    >"$T/cfssl-https.log" 2>&1 &
PIDS="$PIDS $!"
wait_port $! "$PS" "$T/cfssl-https.log"
PH=$(free_port)
cfssl serve -address 127.0.0.1 -port "$PH" -ca "$ROOT" \
    -ca-key "$T/ca/root-key.pem" -config "$T/ca/config.json" \
    >"$T/cfssl-http.log" 2>&1 &
PIDS="$PIDS $!"
wait_port $! "$PH" "$T/cfssl-http.log"
CAS="cfssl:https://127.0.0.1:$PS"
CAH="cfssl:http://127.0.0.1:$PH"
ok "cfssl serve on 127.0.0.1:$PS (https) and :$PH (http)"

# sign over https, verified with the root; the chain comes from /info.
"$CM" --dir "$D" submit capf --ca "$CAS" --cacert "$ROOT" --profile subca \
    >"$T/out" 2>"$T/err" || fail "submit (sign): $(cat "$T/err")"
[ ! -s "$T/err" ] || fail "submit over verified https warned: $(cat "$T/err")"
grep -q 'reload capfd' "$T/out" || fail "submit: no reload hint"
openssl verify -CAfile "$ROOT" "$D/capf.crt" >/dev/null ||
    fail "the subordinate CA does not verify up to the cfssl root"
openssl x509 -in "$D/capf.crt" -noout -text >"$T/x"
grep -A1 'Basic Constraints: critical' "$T/x" | grep -q 'CA:TRUE, pathlen:0' ||
    fail "issued capf: not a CA with pathlen 0"
grep -q 'Certificate Sign' "$T/x" || fail "issued capf: no keyCertSign"
[ "$(grep -c 'BEGIN CERTIFICATE' "$D/capf.crt")" -eq 2 ] ||
    fail "capf.crt should hold the certificate and the root"
"$CM" --dir "$D" show capf >"$T/show"
grep -q 'issuer: .*CN=ucsec test root' "$T/show" || fail "show: issuer"
grep -q '+1 chain certificate' "$T/show" || fail "show: chain"
ok "submit (sign, https) installs a sub-CA that verifies to the root"

# authsign: right key from a file, wrong key, key on the command line.
"$CM" --dir "$D" submit tftp --csr "$T/tftp.csr" --ca "$CAS" \
    --cacert "$ROOT" --profile subca-auth --auth-key-file "$T/auth.key" \
    >"$T/out" 2>"$T/err" || fail "submit (authsign): $(cat "$T/err")"
openssl verify -CAfile "$ROOT" "$D/tftp.crt" >/dev/null ||
    fail "authsign certificate does not verify"
grep -q 'reload ucsec-tftpd' "$T/out" || fail "authsign: reload hint"
no_secret "$T/out" "$T/err"
openssl rand -hex 16 >"$T/wrong.key"
expect_fail "$CM" --dir "$D" submit tftp --csr "$T/tftp.csr" --ca "$CAS" \
    --cacert "$ROOT" --profile subca-auth --auth-key-file "$T/wrong.key"
grep -q 'invalid token' "$T/err" || fail "wrong auth key: $(cat "$T/err")"
expect_fail "$CM" --dir "$D" submit tftp --csr "$T/tftp.csr" --ca "$CAS" \
    --cacert "$ROOT" --profile subca-auth
grep -q 'authentication required' "$T/err" ||
    fail "no auth key: $(cat "$T/err")"
"$CM" --dir "$D" submit tftp --csr "$T/tftp.csr" --ca "$CAH" \
    --profile subca-auth --auth-key "$AK" >"$T/out" 2>"$T/err" ||
    fail "submit --auth-key over http: $(cat "$T/err")"
grep -q 'auth-key-file' "$T/err" || fail "--auth-key did not warn"
grep -q 'plain http' "$T/err" || fail "http did not warn"
no_secret "$T/out" "$T/err"
ok "submit (authsign): right key works, wrong key is one line"

# Refusals and garbage, each one line and exit 1.
echo 'not a request' >"$T/garbage.csr"
expect_fail "$CM" --dir "$D" submit capf --csr "$T/garbage.csr" --ca "$CAS" \
    --cacert "$ROOT" --profile subca
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/other.key" \
    -subj /CN=other -out "$T/other.csr" 2>/dev/null
expect_fail "$CM" --dir "$D" submit capf --csr "$T/other.csr" --ca "$CAS" \
    --cacert "$ROOT" --profile subca
grep -q 'not for the capf key' "$T/err" || fail "foreign CSR: $(cat "$T/err")"
expect_fail "$CM" --dir "$D" submit capf --ca "$CAS" --profile subca
grep -qi 'certificate' "$T/err" || fail "untrusted TLS: $(cat "$T/err")"
dead=$(free_port)
expect_fail "$CM" --dir "$D" submit capf --ca "cfssl:https://127.0.0.1:$dead" \
    --cacert "$ROOT" --profile subca
expect_fail "$CM" --dir "$D" submit capf --ca "acme:https://127.0.0.1:$PS"
expect_fail "$CM" --dir "$D" submit capf --ca "cfssl:https://u:p@127.0.0.1:$PS"
expect_fail "$CM" --dir "$D" submit capf --ca "$CAS" --cacert "$ROOT" \
    --profile nosuchprofile
cat >"$T/fake.py" <<'EOF'
import http.server, sys
BODIES = {
    "notjson": b"<html>not a CA</html>",
    "badcert": b'{"success":true,"result":{"certificate":'
        b'"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n"},'
        b'"errors":[],"messages":[]}',
    "nocert": b'{"success":true,"result":{},"errors":[]}',
    "truncated": b'{"success":true,"result":{"certificate":"-----BEGIN',
    "trailing": b'{"success":false,"errors":[]} {"success":true}',
    "deep": b'{"success":true,"result":' + b"[" * 100000,
    "huge": b'{"success":true,"pad":"' + b"A" * (2 * 1024 * 1024) + b'"}',
    "evil": b'{"success":false,"errors":[{"code":7,'
        b'"message":"line one\\nline two\\u0007"}]}',
}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = BODIES.get(self.path.split("/")[1], b"{}")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
PF=$(free_port)
python3 "$T/fake.py" "$PF" >"$T/fake.log" 2>&1 &
PIDS="$PIDS $!"
wait_port $! "$PF" "$T/fake.log"
cp "$D/capf.crt" "$T/capf.crt.before"
for mode in notjson badcert nocert truncated trailing deep huge evil; do
	expect_fail "$CM" --dir "$D" submit capf \
	    --ca "cfssl:http://127.0.0.1:$PF/$mode" --profile subca
	case $mode in
	huge) grep -q 'larger than' "$T/err" || fail "huge: $(cat "$T/err")" ;;
	evil) grep -q 'line one' "$T/err" || fail "evil: $(cat "$T/err")" ;;
	esac
done
cmp -s "$D/capf.crt" "$T/capf.crt.before" ||
    fail "a failed submit changed capf.crt"
ok "bad CSR, foreign CSR, untrusted TLS, dead CA, bad URLs, garbage replies"

# import: a certificate from the root for the callmanager key verifies and
# is installed; one for another key, or from another CA, is refused.
openssl req -inform DER -in "$T/cm.der" -out "$T/cm.csr"
openssl x509 -req -in "$T/cm.csr" -CA "$ROOT" -CAkey "$T/ca/root-key.pem" \
    -set_serial 7 -days 30 -out "$T/cm.crt" 2>/dev/null
openssl x509 -req -in "$T/other.csr" -CA "$ROOT" -CAkey "$T/ca/root-key.pem" \
    -set_serial 8 -days 30 -out "$T/other.crt" 2>/dev/null
expect_fail "$CM" --dir "$D" import callmanager "$T/other.crt" "$ROOT"
grep -q 'not the callmanager key' "$T/err" || fail "mismatch: $(cat "$T/err")"
expect_fail "$CM" --dir "$D" import callmanager "$T/cm.crt" "$V/mfg-ca.crt"
expect_fail "$CM" --dir "$D" import callmanager "$T/cm.crt"
expect_fail "$CM" --dir "$D" import capf "$D/tftp.crt"
"$CM" --dir "$D" import callmanager "$T/cm.crt" "$ROOT" >"$T/out" 2>"$T/err" ||
    fail "import: $(cat "$T/err")"
grep -q 'reload ccmd' "$T/out" && grep -q -- '--add-ccm' "$T/out" ||
    fail "import: hints"
openssl verify -CAfile "$ROOT" "$D/callmanager.crt" >/dev/null ||
    fail "imported certificate does not verify"
ok "import checks the key and the chain"

# A token key straight from tokenctl keygen, with no certificate on the
# token (p11_signer_open_bare): the CSR is signed on the token; no key
# leaves it.
softhsm_init
init_token CAPF-TOK 4321
export UCSEC_PIN=4321
DT=$T/tokcerts
URI=$("$TOK" keygen 'pkcs11:token=CAPF-TOK;object=capf' rsa:2048 2>"$T/err") ||
    fail "tokenctl keygen: $(cat "$T/err")"
# tok_certs: the number of certificate objects on CAPF-TOK.
tok_certs() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --token-label CAPF-TOK \
	    --login --pin 4321 --list-objects --type cert 2>/dev/null |
	    grep -c 'Certificate Object' || :
}
[ "$(tok_certs)" -eq 0 ] || fail "tokenctl keygen stored a certificate"
expect_fail "$CM" --dir "$DT" csr capf \
    --key-uri 'pkcs11:token=CAPF-TOK;object=nosuchkey'
[ ! -e "$DT/capf.keyuri" ] || fail "a URI of a missing key was stored"
expect_fail "$CM" --dir "$DT" csr capf --key-uri "$URI?pin-value=4321"
[ ! -e "$DT/capf.keyuri" ] || fail "a pin-value URI was stored"
"$CM" --dir "$DT" csr capf --key-uri "$URI" --ca-cert \
    --subject '/CN=CAPF-token/O=Example' >"$T/out" 2>"$T/err" ||
    fail "csr --key-uri: $(cat "$T/err")"
[ "$(cat "$DT/capf.keyuri")" = "$URI" ] || fail "capf.keyuri"
openssl req -in "$DT/capf.csr" -noout -verify 2>&1 | grep -q 'verify OK' ||
    fail "token CSR does not verify"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label CAPF-TOK \
    --read-object --type pubkey --label capf -o "$T/tok.der" >/dev/null 2>&1
openssl pkey -pubin -inform DER -in "$T/tok.der" -out "$T/tok.pub"
openssl req -in "$DT/capf.csr" -noout -pubkey >"$T/r.pub"
cmp -s "$T/r.pub" "$T/tok.pub" || fail "token CSR is not for the token key"
"$CM" --dir "$DT" submit capf --ca "$CAS" --cacert "$ROOT" --profile subca \
    >"$T/out" 2>"$T/err" || fail "submit (token): $(cat "$T/err")"
openssl verify -CAfile "$ROOT" "$DT/capf.crt" >/dev/null ||
    fail "token sub-CA does not verify"
"$CM" --dir "$DT" show capf >"$T/show" || fail "show (token)"
grep -q "key uri: *pkcs11:token=CAPF-TOK" "$T/show" || fail "show: key uri"
[ ! -e "$DT/capf.key" ] || fail "a key file appeared for a token key"
! grep -rq 'PRIVATE KEY' "$DT" || fail "private key material in $DT"
"$TOK" show "$URI" >"$T/tokshow" 2>&1
grep -q 'sensitive: yes, extractable: no' "$T/tokshow" ||
    fail "token key can leave the token: $(cat "$T/tokshow")"
"$CM" --dir "$DT" selfsign https --key-uri "$URI" >/dev/null 2>"$T/err" ||
    fail "selfsign --key-uri: $(cat "$T/err")"
openssl x509 -in "$DT/https.crt" -noout -pubkey >"$T/c.pub"
cmp -s "$T/c.pub" "$T/tok.pub" || fail "selfsign --key-uri: not the token key"
expect_fail "$CM" --dir "$DT" import capf "$D/capf.crt"
# A bare EC key: its public key comes from the token's key objects.
URI2=$("$TOK" keygen 'pkcs11:token=CAPF-TOK;object=ipsec' ec:P-256 \
    2>"$T/err") || fail "tokenctl keygen ec: $(cat "$T/err")"
"$CM" --dir "$DT" selfsign ipsec --key-uri "$URI2" >/dev/null 2>"$T/err" ||
    fail "selfsign with a bare EC token key: $(cat "$T/err")"
openssl x509 -in "$DT/ipsec.crt" -noout -text | grep -q 'NIST CURVE: P-256' ||
    fail "ipsec: not an EC P-256 certificate"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label CAPF-TOK \
    --read-object --type pubkey --label ipsec -o "$T/tok2.der" >/dev/null 2>&1
openssl pkey -pubin -inform DER -in "$T/tok2.der" -out "$T/tok2.pub"
openssl x509 -in "$DT/ipsec.crt" -noout -pubkey >"$T/c.pub"
cmp -s "$T/c.pub" "$T/tok2.pub" || fail "ipsec: not the token EC key"
[ "$(tok_certs)" -eq 0 ] || fail "certmgr stored a certificate on the token"
ok "bare token keys (RSA, EC): CSR and self-signed certificates" \
    "signed on the token"

# Trust stores in the shared store.
DB=$T/ucsec.db
"$CM" --db "$DB" trust add capf "$V/mfg-ca.crt" >"$T/out" 2>"$T/err" ||
    fail "trust add: $(cat "$T/err")"
grep -q 'reload capfd' "$T/out" || fail "trust add: reload hint"
"$CM" trust add callmanager "$ROOT" --db "$DB" >/dev/null 2>&1 ||
    fail "trust add (callmanager)"
sha=$(openssl x509 -in "$V/mfg-ca.crt" -noout -fingerprint -sha256 |
    cut -d= -f2 | tr -d : | tr 'A-F' 'a-f')
"$CM" --db "$DB" trust list capf >"$T/list" || fail "trust list"
grep -q "^$sha " "$T/list" || fail "trust list: $(cat "$T/list")"
[ "$(wc -l <"$T/list")" -eq 1 ] || fail "trust list shows other stores"
"$CM" --db "$DB" trust remove capf "$sha" >/dev/null || fail "trust remove"
"$CM" --db "$DB" trust list capf >"$T/list"
[ ! -s "$T/list" ] || fail "trust remove left: $(cat "$T/list")"
expect_fail "$CM" --db "$DB" trust remove capf "$V/mfg-ca.crt"
"$CM" --db "$DB" trust list callmanager | grep -q 'ucsec test root' ||
    fail "trust list callmanager"
ok "trust add, list, remove"

# capfd issues an LSC under the cfssl-signed subordinate CA.
CAPFD=$UCSEC_BIN/capfd
PHONE=$UCSEC_BIN/capf-phone
CAPFCTL=$UCSEC_BIN/capfctl

# The CAPF TLS identity is self-signed (phones trust it through the CTL);
# the LSC issuer is the sub-CA cfssl signed for the CAPF key in $D.
"$CM" --dir "$T/tls" selfsign capf --subject /CN=CAPF-tls/O=Example \
    >/dev/null 2>"$T/err" || fail "selfsign TLS identity: $(cat "$T/err")"
CDB=$T/capf.db
printf '4711\n' >"$T/pw"
"$CAPFCTL" --db "$CDB" add SEP001122334455 --op install --auth password \
    --key rsa:2048 --password-file "$T/pw" >/dev/null 2>"$T/err" ||
    fail "capfctl add: $(cat "$T/err")"
PC=$(free_port)
"$CAPFD" -f --db "$CDB" --cert "$T/tls/capf.crt" --key "$T/tls/capf.key" \
    --issuer-cert "$D/capf.crt" --issuer-key "$D/capf.key" \
    --listen 127.0.0.1 --port "$PC" --workers 1 >"$T/capfd.log" 2>&1 &
PIDS="$PIDS $!"
wait_port $! "$PC" "$T/capfd.log"
mkdir "$T/phone"
"$PHONE" --server 127.0.0.1 --port "$PC" --ca "$T/tls/capf.crt" \
    --device SEP001122334455 --password-file "$T/pw" --dir "$T/phone" \
    --timeout 30 >"$T/out" 2>"$T/err" ||
    fail "capf-phone install: $(cat "$T/out" "$T/err" "$T/capfd.log")"
LSC=$T/phone/SEP001122334455.pem
[ -s "$LSC" ] || fail "no LSC in $LSC: $(cat "$T/out" "$T/err")"
openssl x509 -in "$LSC" -noout -issuer >"$T/x"
grep -q 'CAPF-sub' "$T/x" || fail "LSC issuer is not the sub-CA: $(cat "$T/x")"
openssl verify -CAfile "$ROOT" -untrusted "$D/capf.crt" "$LSC" >"$T/v" 2>&1 ||
    fail "LSC does not verify up to the cfssl root: $(cat "$T/v")"
ok "capfd issues an LSC under the cfssl sub-CA; it verifies to the root"
