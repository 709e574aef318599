# ctlclient end to end: reference vectors, SoftHSM tokens made here with
# tokenctl AND OpenSC's pkcs11-tool, the openssl CLI as signature oracle,
# a live TLS server on loopback, and the trust rules.
. "$(dirname "$0")/lib.sh"
need softhsm2-util pkcs11-tool openssl
softhsm_init
cd "$T"

# --- reference vectors: every trust list parses and verifies, tampered fails
for f in CTLFile.tlv ITLFile.tlv; do
	"$CTL" verify "$V/$f" >/dev/null || fail "verify $f"
	"$CTL" show "$V/$f" | grep -q "Signature: *valid" || fail "show $f"
done
"$CTL" show --json "$V/ITLFile.tlv" | grep -q '"signer_version":"1.1"' || fail "json"
expect_fail "$CTL" verify "$V/CTLFile-tampered.tlv"
grep -q "CTLFile-tampered.tlv" "$T/err" || fail "tampered: error names no file"
ok "vectors verify, tampered refused"

# --- byte-identical rebuilds with the reference's inputs
"$CTL" build -o CTLFile.tlv --digest sha1 --sast "$V/sast1.pem" \
    --sast "$V/sast2.crt" --ccm-tftp "$V/ccm-tftp.crt" --capf "$V/capf.crt" \
    --timestamp 1795650543 >/dev/null
cmp CTLFile.tlv "$V/CTLFile.tlv" || fail "CTLFile.tlv differs from the reference"
SOURCE_DATE_EPOCH=1795650543 "$CTL" build -o ITLFile.tlv --version 1.1 \
    --digest sha512 --sast "$V/sast1.pem" --ccm-tftp "$V/ccm-tftp.crt" \
    --tftp "$V/ec-tftp.crt" --capf "$V/capf.crt" >/dev/null
cmp ITLFile.tlv "$V/ITLFile.tlv" || fail "ITLFile.tlv differs from the reference"
ok "rebuilt CTL and ITL are byte-identical to the reference"

# --- bad input: one line naming file and offset, exit 1, nothing written
: >empty.tlv
expect_fail "$CTL" show empty.tlv
grep -q "empty.tlv" "$T/err" || fail "empty: no file name"
head -c 1000 "$V/CTLFile.tlv" >trunc.tlv
expect_fail "$CTL" verify trunc.tlv
grep -q "offset" "$T/err" || fail "truncated: no offset"
printf 'not a trust list at all' >junk.tlv
expect_fail "$CTL" show junk.tlv
expect_fail "$CTL" build -o x.tlv --version 1.0 --sast "$V/sast1.pem" \
    --sast "$V/sast2.crt" --tftp "$V/ec-tftp.crt"
grep -q "1.1" "$T/err" || fail "EC in 1.0 not explained"
[ ! -e x.tlv ] || fail "partial file written"
ls x.tlv.* 2>/dev/null && fail "temp file left behind"
ok "bad input refused with one line"

# --- SAST count rules
expect_fail "$CTL" build -o one.tlv --sast "$V/sast1.pem" --ccm "$V/ccm-tftp.crt"
grep -q "allow-single-token" "$T/err" || fail "single token not explained"
"$CTL" build -o one.tlv --allow-single-token --sast "$V/sast1.pem" \
    --ccm "$V/ccm-tftp.crt" >/dev/null || fail "--allow-single-token"
expect_fail "$CTL" build -o three.tlv --sast "$V/sast1.pem" \
    --sast "$V/sast2.crt" --sast "$V/tftp.crt"
grep -q "at most 2" "$T/err" || fail "third SAST not explained"
"$CTL" build -o ITLSEP001122334455.tlv --sast "$V/sast1.pem" \
    --tftp "$V/tftp.crt" >/dev/null || fail "ITL with one SAST"
"$CTL" show ITLSEP001122334455.tlv | grep -q "Filename: *ITLFile.tlv" ||
    fail "per-device ITL keeps the generic header filename"
expect_fail "$CTL" build -o odd.tlv --filename ctlfile.tlv --sast "$V/sast1.pem" \
    --ccm "$V/ccm-tftp.crt"
grep -q "CTLFile.tlv or ITLFile.tlv" "$T/err" || fail "--filename not checked"
ok "SAST count rules"

# --- phone rules in verify: SHA-256 (code 2) is not for phones
"$CTL" build -o sha.tlv --sast "$V/sast1.pem" --sast "$V/sast2.crt" \
    --ccm "$V/ccm-tftp.crt" --timestamp 1795650543 >/dev/null
# Re-sign it with SHA-256 (hash code 2) using the openssl CLI: the
# signature is valid, but phones take only SHA-1 and SHA-512.
off=$("$CTL" show sha.tlv | sed -n 's/^Signature: *256 bytes at offset \([0-9]*\)$/\1/p')
[ -n "$off" ] || fail "no signature offset"
cp sha.tlv sha256.tlv
printf '\002' | dd of=sha256.tlv bs=1 seek=$((off - 12)) conv=notrunc 2>/dev/null
head -c "$off" sha256.tlv >signed256.bin
tail -c +$((off + 3 + 256 + 1)) sha256.tlv >>signed256.bin
openssl dgst -sha256 -sign "$V/sast1.key" -out sig256.bin signed256.bin
dd if=sig256.bin of=sha256.tlv bs=1 seek=$((off + 3)) conv=notrunc 2>/dev/null
"$CTL" show sha256.tlv | grep -q "Digest Algorithm: *SHA256" || fail "not SHA-256"
"$CTL" show sha256.tlv | grep -q "Signature: *valid" || fail "re-signed file invalid"
expect_fail "$CTL" verify sha256.tlv
grep -q "SHA-1 and SHA-512" "$T/err" || fail "SHA-256 not explained"
if "$CTL" check-rollover sha.tlv sha256.tlv >roll.txt; then
	fail "check-rollover accepted SHA-256"
fi
ok "verify applies phone rules"

# --- a certificate-file SAST first: the signer is found among the others
"$CTL" build -o first-cert.tlv --sast "$V/sast2.crt" --sast "$V/sast1.pem" \
    --ccm "$V/ccm-tftp.crt" >/dev/null || fail "cert-file first SAST"
"$CTL" verify first-cert.tlv | grep -q "CN=SAST-1" || fail "signed by the wrong SAST"
expect_fail "$CTL" build -o nosign.tlv --sast "$V/sast2.crt" --sast "$V/sast1.crt" \
    --ccm "$V/ccm-tftp.crt"
grep -q "sign-with" "$T/err" || fail "no-signer not explained"
ok "signer chosen among the SAST sources"

# --- tokens: one key from tokenctl, one from OpenSC's pkcs11-tool
init_token SAST-1 1111
init_token SAST-2 2222
init_token ROGUE 3333
printf '1111\n' >pin1; printf '2222\n' >pin2; printf '3333\n' >pin3
chmod 600 pin1 pin2 pin3
K1="pkcs11:token=SAST-1;object=sast?pin-source=$T/pin1"
K2="pkcs11:token=SAST-2;object=sast2?pin-source=$T/pin2"
KR="pkcs11:token=ROGUE;object=sast?pin-source=$T/pin3"
"$TOK" keygen "$K1" rsa:2048 >/dev/null || fail "tokenctl keygen"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label SAST-2 --login \
    --pin 2222 --keypairgen --key-type rsa:2048 --id 22 --label sast2 \
    >/dev/null 2>&1 || fail "pkcs11-tool keygen"
"$TOK" keygen "$KR" rsa:2048 >/dev/null || fail "tokenctl keygen rogue"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label SAST-1 --login \
    --pin 1111 --list-objects 2>/dev/null | grep -q "label: *sast" ||
    fail "pkcs11-tool does not see tokenctl's key"
"$TOK" selfsign "$K1" --subject "/CN=SAST-1/O=ucsec-it/OU=SAST" -o sast1.pem >/dev/null
"$TOK" selfsign "$K2" --subject "/CN=SAST-2/O=ucsec-it/OU=SAST" -o sast2.pem >/dev/null ||
    fail "tokenctl cannot use pkcs11-tool's key"
"$TOK" selfsign "$KR" --subject "/CN=Rogue/O=Mallory" -o rogue.pem >/dev/null
ok "keys from tokenctl and pkcs11-tool, SAST certificates on the tokens"

# --- a live server's certificate over TLS (loopback only, bounded wait)
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=ccm2.test" \
    -keyout ccm2.key -out ccm2.crt 2>/dev/null
port=$((21000 + $$ % 20000))
openssl s_server -accept "127.0.0.1:$port" -cert ccm2.crt -key ccm2.key \
    -naccept 1 -www >s_server.log 2>&1 </dev/null &
srv=$!
i=0
while ! grep -q ACCEPT s_server.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

# --- a pin-value never reaches messages, even when the source fails
expect_fail "$CTL" build -o leak.tlv \
    --sast 'pkcs11:token=NOPE;object=sast?pin-value=Secret4711' --sast "$V/sast2.crt"
grep -q Secret4711 "$T/err" "$T/out" && fail "pin-value leaked: $(cat "$T/err")"
grep -q "token=NOPE" "$T/err" || fail "failing source not named"

# --- a pinned tls:// certificate must match
want=$(openssl x509 -in ccm2.crt -outform DER | openssl dgst -sha256 -r | cut -c1-64)
port2=$((port + 1))
openssl s_server -accept "127.0.0.1:$port2" -cert ccm2.crt -key ccm2.key \
    -naccept 1 -www >s_server2.log 2>&1 </dev/null &
i=0
while ! grep -q ACCEPT s_server2.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
expect_fail "$CTL" build -o pinned.tlv --sast "$V/sast1.pem" --sast "$V/sast2.crt" \
    --ccm "tls://127.0.0.1:$port2,sha256=00$(echo "$want" | cut -c3-)"
grep -q "not the pinned" "$T/err" || fail "pin mismatch not explained: $(cat "$T/err")"
[ ! -e pinned.tlv ] || fail "file written despite a pin mismatch"
ok "pin-value redacted; tls:// pin mismatch refused"

# --- build on the token: both tokens present
"$CTL" build -o CTLFile.tlv --sast "$K1" --sast "pkcs11:token=SAST-2;object=sast2" \
    --ccm-tftp "$V/ccm-tftp.crt,dns=ccm1.example.test,ip=192.0.2.11" \
    --ccm "tls://127.0.0.1:$port,sha256=$want" --capf "$V/capf.crt" >build.out ||
    { kill $srv 2>/dev/null; fail "build on token: $(cat build.out)"; }
kill $srv 2>/dev/null || true
"$CTL" verify CTLFile.tlv >/dev/null || fail "token-signed CTL does not verify"
"$CTL" show CTLFile.tlv >show.txt
grep -q "IP Address: *192.0.2.11" show.txt || fail "no IP address"
grep -q "DNS Name: *ccm1.example.test" show.txt || fail "no DNS name"
grep -q "CN=ccm2.test" show.txt || fail "TLS-collected certificate missing"
grep -q "IP Address: *127.0.0.1" show.txt || fail "TLS record has no IP"
! grep -q 1111 build.out show.txt || fail "PIN leaked into output"
ok "CTL built and signed on a SoftHSM token, incl. a tls:// source"

# --- openssl CLI as oracle: signature over the file minus tag 12
off=$(sed -n 's/^Signature: *\([0-9]*\) bytes at offset \([0-9]*\)$/\2/p' show.txt)
len=$(sed -n 's/^Signature: *\([0-9]*\) bytes at offset \([0-9]*\)$/\1/p' show.txt)
[ -n "$off" ] && [ -n "$len" ] || fail "no signature offset in show"
size=$(wc -c <CTLFile.tlv)
head -c "$off" CTLFile.tlv >signed.bin
tail -c $((size - off - 3 - len)) CTLFile.tlv >>signed.bin
tail -c $((size - off - 3)) CTLFile.tlv | head -c "$len" >sig.bin
openssl x509 -in sast1.pem -noout -pubkey >sast1.pub
openssl dgst -sha1 -verify sast1.pub -signature sig.bin signed.bin >/dev/null ||
    fail "openssl does not verify the token signature"
ok "openssl dgst verifies the token's signature"

# --- update with the second token; the first token is unplugged (cert file)
cp CTLFile.tlv CTLFile-v1.tlv
"$CTL" update CTLFile.tlv --sign-with "$K2" --add-tftp "$V/tftp.crt" \
    --remove 2001 >/dev/null || fail "update with SAST-2"
"$CTL" verify CTLFile.tlv | grep -q "CN=SAST-2" || fail "update not signed by SAST-2"
"$CTL" check-rollover CTLFile-v1.tlv CTLFile.tlv >/dev/null ||
    fail "phones would refuse a legitimate update"
"$CTL" diff CTLFile-v1.tlv CTLFile.tlv >diff.txt && fail "diff: want exit 1"
grep -q "^- CCM+TFTP" diff.txt && grep -q "^+ TFTP" diff.txt || fail "diff content: $(cat diff.txt)"
ok "update signed by the second token; check-rollover accepts it"

# --- the stolen-laptop rule
cp CTLFile.tlv before.tlv
expect_fail "$CTL" update CTLFile.tlv --sign-with "$KR" --add-ccm ccm2.crt
grep -q "not a SAST" "$T/err" || fail "rogue update not explained"
cmp CTLFile.tlv before.tlv || fail "refused update changed the file"
# a rogue-built list is refused by check-rollover
"$CTL" build -o rogue.tlv --allow-single-token --sast "$KR" \
    --ccm-tftp "$V/ccm-tftp.crt" >/dev/null
if "$CTL" check-rollover CTLFile.tlv rogue.tlv >roll.txt; then
	fail "check-rollover accepted a rogue list"
fi
grep -q "REFUSED" roll.txt || fail "rollover refusal not explained"
ok "rogue token refused for update and rollover"

# --- wrong PIN: token's answer, exit 1, old file intact, PIN not shown
expect_fail env UCSEC_PIN=9999 "$CTL" update CTLFile.tlv \
    --sign-with "pkcs11:token=SAST-1;object=sast" --add-ccm ccm2.crt
grep -qi "pin" "$T/err" || fail "wrong PIN not reported: $(cat "$T/err")"
grep -q 9999 "$T/err" && fail "PIN echoed"
cmp CTLFile.tlv before.tlv || fail "failed update changed the file"
"$CTL" update CTLFile.tlv --sign-with "$K1" --add-app-server "$V/device.crt" >/dev/null ||
    fail "correct PIN after a wrong one"
ok "wrong PIN reported once; the token still works"
