# tokenctl against SoftHSM2, cross-checked with OpenSC pkcs11-tool and
# openssl: keys made on the token, certificates and requests signed there,
# signatures verified off it, PIN handling, p11-kit proxy and module-name.
. "$(dirname "$0")/lib.sh"
need softhsm2-util pkcs11-tool p11tool openssl
softhsm_init
# A PIN that cannot turn up by chance in hex, base64 or PEM output.
PIN='Zq#7x-PIN-9'
init_token SAST-1 "$PIN"
init_token SAST-2 "$PIN"
export UCSEC_PIN="$PIN"
P11="pkcs11-tool --module $SOFTHSM_MODULE"
K1='pkcs11:token=SAST-1;object=sast1'
K2='pkcs11:token=SAST-2;object=ec1'
echo 'a CTL file, say' >"$T/msg"

# no_pin FILE...: the PIN must not appear in any of them.
no_pin() {
	for f in "$@"; do
		! grep -qF "$PIN" "$f" || fail "PIN leaked into $f"
	done
}

# Usage.
"$TOK" --help >"$T/out" && grep -q keygen "$T/out" || fail "--help"
rc=0; "$TOK" keygen 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "usage error exits $rc, not 2"
ok "usage"

# Keys made on the tokens.
"$TOK" keygen "$K1" rsa:2048 >"$T/k1" 2>"$T/err"
grep -q '^pkcs11:token=SAST-1;object=sast1;id=%' "$T/k1" || fail "keygen URI"
"$TOK" keygen "$K2;id=%0a" ec:P-256 >"$T/k2" 2>>"$T/err"
grep -qx 'pkcs11:token=SAST-2;object=ec1;id=%0a;type=private' "$T/k2" ||
    fail "keygen EC URI"
expect_fail "$TOK" keygen "$K1" ec:P-256
grep -q 'already has an object' "$T/err" || fail "duplicate label accepted"
expect_fail "$TOK" keygen 'pkcs11:token=SAST-1;object=x' dsa:1024
ok "keygen RSA-2048 and EC P-256"

# OpenSC sees our key; we see OpenSC's.
$P11 --token-label SAST-1 --login --pin "$PIN" --list-objects >"$T/o" 2>&1
grep -q 'label: *sast1' "$T/o" || fail "pkcs11-tool does not see sast1"
$P11 --token-label SAST-1 --login --pin "$PIN" --keypairgen \
    --key-type rsa:2048 --id 02 --label other >/dev/null 2>&1
"$TOK" list 'pkcs11:token=SAST-1' >"$T/list" 2>"$T/err"
grep -q 'pkcs11:token=SAST-1;object=other;id=%02;type=private' "$T/list" ||
    fail "list misses pkcs11-tool's key"
"$TOK" show 'pkcs11:token=SAST-1;id=%02;type=private' >"$T/show" 2>>"$T/err"
grep -q 'RSA 2048 bits' "$T/show" || fail "show type/bits"
"$TOK" show "$K1;type=private" >"$T/show" 2>>"$T/err"
grep -q 'sensitive: yes, extractable: no' "$T/show" || fail "keygen flags"
no_pin "$T/list" "$T/show" "$T/err"
ok "interop with pkcs11-tool"

# Self-signed certificate: subject, and its key is the token key.
"$TOK" selfsign "$K1" --subject '/CN=SAST-1/O=Example/OU=SAST' \
    -o "$T/s1.pem" 2>"$T/err"
openssl x509 -in "$T/s1.pem" -noout -subject | grep -q 'CN *= *SAST-1' ||
    fail "selfsign subject"
openssl x509 -in "$T/s1.pem" -noout -pubkey >"$T/certpub.pem"
$P11 --token-label SAST-1 --read-object --type pubkey --label sast1 \
    -o "$T/tokpub.der" >/dev/null 2>&1
openssl pkey -pubin -inform DER -in "$T/tokpub.der" -out "$T/tokpub.pem"
cmp -s "$T/certpub.pem" "$T/tokpub.pem" || fail "certificate key != token key"
openssl verify -CAfile "$T/s1.pem" "$T/s1.pem" >/dev/null ||
    fail "self-signature"
"$TOK" selfsign "$K2" --subject '/CN=EC-1' --days 30 --serial 0AB1 \
    >"$T/e1.pem" 2>>"$T/err"
openssl x509 -in "$T/e1.pem" -noout -serial | grep -qi 'serial=0AB1' ||
    fail "selfsign --serial"
expect_fail "$TOK" selfsign "$K1" --subject '/CN=again'
no_pin "$T/s1.pem" "$T/e1.pem" "$T/err"
ok "selfsign RSA and EC"

# PKCS#10 request signed on the token.
"$TOK" csr "$K2" --subject '/CN=EC-1/O=Example' -o "$T/r.csr" 2>"$T/err"
openssl req -in "$T/r.csr" -verify -noout 2>&1 | grep -q 'verify OK' ||
    fail "csr does not verify"
ok "csr"

# Signing through the signer, verified off the token.
for d in sha1 sha256 sha512; do
	"$TOK" sign "$K1" "$T/msg" --digest $d -o "$T/sig" 2>"$T/err"
	openssl dgst -$d -verify "$T/certpub.pem" -signature "$T/sig" \
	    "$T/msg" >/dev/null || fail "RSA $d signature"
done
openssl x509 -in "$T/e1.pem" -noout -pubkey >"$T/ecpub.pem"
"$TOK" sign "$K2" "$T/msg" --digest sha256 -o "$T/sig" 2>"$T/err"
openssl dgst -sha256 -verify "$T/ecpub.pem" -signature "$T/sig" \
    "$T/msg" >/dev/null || fail "ECDSA signature"
"$TOK" sign "$K1" "$T/msg" --cert "$T/s1.pem" -o "$T/sig" 2>"$T/err"
expect_fail "$TOK" sign "$K1" "$T/msg" --cert "$V/sast2.crt" -o "$T/sig"
grep -q 'does not match' "$T/err" || fail "cert override mismatch"
expect_fail "$TOK" sign 'pkcs11:token=SAST-1;id=%02' "$T/msg" -o "$T/sig"
grep -q 'tokenctl selfsign' "$T/err" || fail "no hint for a key without cert"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "missing-cert error not one line"
ok "sign RSA sha1/sha256/sha512 and ECDSA"

# import-cert: refused when it is not the key's, stored when no key.
expect_fail "$TOK" import-cert "$K2" "$V/sast2.crt"
grep -q 'does not match' "$T/err" || fail "mismatched import accepted"
"$TOK" import-cert 'pkcs11:token=SAST-2;object=peer;id=%77' "$V/sast2.crt" \
    2>"$T/err"
"$TOK" show 'pkcs11:token=SAST-2;object=peer;type=cert' >"$T/show" 2>&1
grep -q 'certificate:' "$T/show" || fail "imported cert not shown"
ok "import-cert"

# Wrong PIN: one line naming the PIN, exit 1, tried once.
rc=0
UCSEC_PIN=wrong-1 "$TOK" sign "$K1" "$T/msg" -o "$T/sig" >"$T/out" \
    2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "wrong PIN exit $rc"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "wrong PIN: not one line"
grep -q 'refused the PIN (CKR_PIN_INCORRECT)' "$T/err" || fail "PIN message"
! grep -q wrong-1 "$T/err" || fail "wrong PIN echoed"
"$TOK" sign "$K1" "$T/msg" -o "$T/sig" 2>"$T/err" ||
    fail "good PIN after a bad one"
ok "wrong PIN reported once, not echoed"

# pin-source file; pin-value; no PIN at all.
printf '%s\n' "$PIN" >"$T/pin"
chmod 600 "$T/pin"
(
	unset UCSEC_PIN
	"$TOK" sign "$K1?pin-source=file:$T/pin" "$T/msg" -o "$T/sig" \
	    >"$T/out" 2>"$T/err" </dev/null
	[ ! -s "$T/err" ] || fail "pin-source: $(cat "$T/err")"
	"$TOK" sign "$K1?pin-source=$T/pin" "$T/msg" -o "$T/sig" </dev/null
	expect_fail "$TOK" sign "$K1" "$T/msg" -o "$T/sig" </dev/null
	grep -q 'needs a PIN' "$T/err" || fail "no-PIN message"
)
no_pin "$T/out" "$T/err"
ok "pin-source"

# URI types: keygen's URI (type=private) names its key's certificate
# where a certificate is wanted, so does type=public; a type=cert URI (or
# none) names the key with the certificate's id where a key is wanted.
KU1=$(cat "$T/k1")
"$TOK" sign "$K1" "$T/msg" --cert "$KU1" -o "$T/sig" 2>"$T/err" ||
    fail "type=private URI as certificate: $(cat "$T/err")"
"$TOK" sign "$K1" "$T/msg" --cert "$(echo "$KU1" | sed 's/=private$/=public/')" \
    -o "$T/sig" 2>"$T/err" || fail "type=public URI as certificate"
expect_fail "$TOK" sign "$K1" "$T/msg" --cert "$K2;type=private" -o "$T/sig"
grep -q 'does not match' "$T/err" || fail "other key's certificate accepted"
"$TOK" list 'pkcs11:token=SAST-1' >"$T/list" 2>"$T/err"
CU1=$(grep -o 'pkcs11:token=SAST-1;object=sast1;id=[^ ]*;type=cert' "$T/list")
[ -n "$CU1" ] || fail "list prints no certificate URI for sast1"
for u in "$CU1" "$K1;type=cert" "$K1"; do
	"$TOK" sign "$u" "$T/msg" -o "$T/sig" 2>"$T/err" ||
	    fail "signing key $u: $(cat "$T/err")"
	openssl dgst -sha256 -verify "$T/certpub.pem" -signature "$T/sig" \
	    "$T/msg" >/dev/null || fail "signature by $u"
done
"$TOK" sign 'pkcs11:token=SAST-2;id=%0a;type=cert' "$T/msg" -o "$T/sig" \
    2>"$T/err" || fail "type=cert by id: $(cat "$T/err")"
openssl dgst -sha256 -verify "$T/ecpub.pem" -signature "$T/sig" \
    "$T/msg" >/dev/null || fail "signature by type=cert id URI"
expect_fail "$TOK" sign "$K1;type=data" "$T/msg" -o "$T/sig"
ok "URI types: key URI for a certificate, certificate URI for a key"

# A private certificate: no login with UCSEC_PIN (it may be another
# token's PIN), one clear line; login with the URI's own pin-source.
# (pkcs11-tool 0.23 ignores --private for certificates; p11tool marks it.)
GNUTLS_PIN=$PIN p11tool --provider "$SOFTHSM_MODULE" --login --write \
    --load-certificate "$T/e1.pem" --label privcert --id 55 --mark-private \
    'pkcs11:token=SAST-2' >/dev/null 2>&1
PC='pkcs11:token=SAST-2;object=privcert;type=cert'
(
	export UCSEC_PIN=wrong-1
	expect_fail "$TOK" sign "$K2" "$T/msg" --cert "$PC" -o "$T/sig" \
	    </dev/null
)
grep -q 'no certificate visible without login on token SAST-2' "$T/err" ||
    fail "private certificate: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "private certificate: not one line"
"$TOK" sign "$K2" "$T/msg" --cert "$PC?pin-source=$T/pin" -o "$T/sig" \
    2>"$T/err" </dev/null || fail "private certificate with pin-source"
[ ! -s "$T/err" ] || fail "private certificate: $(cat "$T/err")"
ok "certificate load never logs in with another token's PIN"

# pin-value works but warns, once, on success only.
(
	unset UCSEC_PIN
	"$TOK" sign "$K1?pin-value=$PIN" "$T/msg" -o "$T/sig" 2>"$T/err" \
	    </dev/null || fail "pin-value: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" -eq 1 ] && grep -q 'pin-value in a URI is visible' \
	    "$T/err" || fail "pin-value warning: $(cat "$T/err")"
	expect_fail "$TOK" sign "pkcs11:token=SAST-1;id=%02?pin-value=$PIN" \
	    "$T/msg" -o "$T/sig" </dev/null
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "pin-value failure not one line"
	no_pin "$T/err"
)
ok "pin-value warning"

# list: a URI naming several tokens shows them all, logged in to none.
"$TOK" list 'pkcs11:' >"$T/list" 2>"$T/err"
grep -q 'token: SAST-1' "$T/list" && grep -q 'token: SAST-2' "$T/list" ||
    fail "list shows only some matching tokens"
grep -q 'names 2 tokens: no login' "$T/list" || fail "list logged in to several"
! grep -q 'type=private' "$T/list" || fail "list: private keys of 2 tokens"
ok "list every matching token"

# Through p11-kit: the proxy (no module given) and module-name.
(
	unset PKCS11_MODULE
	"$TOK" list 'pkcs11:token=SAST-1' >"$T/list" 2>"$T/err"
	grep -q 'p11-kit-proxy' "$T/list" || fail "not through the proxy"
	grep -q 'object=sast1' "$T/list" || fail "proxy list"
	"$TOK" sign "$K1" "$T/msg" -o "$T/sig" 2>>"$T/err"
	openssl dgst -sha256 -verify "$T/certpub.pem" -signature "$T/sig" \
	    "$T/msg" >/dev/null || fail "signature through the proxy"
	"$TOK" show "$K1;type=cert?module-name=softhsm2" >"$T/show" \
	    2>>"$T/err" || fail "module-name: $(cat "$T/err")"
	grep -q 'CN=SAST-1' "$T/show" || fail "module-name show"
)
ok "p11-kit proxy and module-name"
