# sgntool end to end: the reference vectors rebuilt byte for byte, verify
# and tamper, strip, encrypted configs both ways, the openssl CLI as
# signature oracle, and a signing key on a SoftHSM token.
. "$(dirname "$0")/lib.sh"
need softhsm2-util openssl
SGN=$UCSEC_BIN/sgntool
softhsm_init
cd "$T"
cp "$V/SEP0011223344AA.cnf.xml" "$V/ringlist.xml" "$V/SEP0011223344BB.cnf.xml" .

# --- sign: the reference .sgn vectors, byte for byte (vectors README 3)
"$SGN" sign SEP0011223344AA.cnf.xml --key "$V/tftp.pem" \
    --timestamp 1795650560 >/dev/null || fail "sign SHA-1"
cmp -s SEP0011223344AA.cnf.xml.sgn "$V/SEP0011223344AA.cnf.xml.sgn" ||
    fail "SEP0011223344AA.cnf.xml.sgn differs from the vector"
"$SGN" sign ringlist.xml --key "$V/tftp.key" --cert "$V/tftp.crt" \
    --digest sha512 --timestamp 1795650560 -o rl.sgn \
    --filename ringlist.xml.sgn >/dev/null || fail "sign SHA-512"
cmp -s rl.sgn "$V/ringlist.xml.sgn" || fail "ringlist.xml.sgn differs"
SOURCE_DATE_EPOCH=1795650560 "$SGN" sign ringlist.xml --key "$V/tftp.pem" \
    --digest sha512 >/dev/null || fail "sign with SOURCE_DATE_EPOCH"
cmp -s ringlist.xml.sgn "$V/ringlist.xml.sgn" || fail "SOURCE_DATE_EPOCH ignored"
ok "sign rebuilds both .sgn vectors byte for byte"

# --- verify the vectors; a tampered byte fails with one line
for f in SEP0011223344AA.cnf.xml.sgn ringlist.xml.sgn \
    SEP0011223344BB.cnf.xml.sgn SEP0011223344BB.cnf.xml.enc.sgn; do
	"$SGN" verify "$V/$f" --cert "$V/tftp.crt" >/dev/null ||
	    fail "verify $f"
done
expect_fail "$SGN" verify "$V/SEP0011223344AA.cnf.xml.sgn" --cert "$V/sast1.crt"
cp "$V/SEP0011223344AA.cnf.xml.sgn" tampered.sgn
printf 'X' | dd of=tampered.sgn bs=1 seek=900 conv=notrunc 2>/dev/null
expect_fail "$SGN" verify tampered.sgn --cert "$V/tftp.crt"
grep -q "does not verify" "$T/err" || fail "tamper message: $(cat "$T/err")"
expect_fail "$SGN" verify nonexistent.sgn --cert "$V/tftp.crt"
head -c 100 "$V/ringlist.xml.sgn" >short.sgn
expect_fail "$SGN" verify short.sgn --cert "$V/tftp.crt"
rc=0; "$SGN" verify 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "usage error should exit 2, got $rc"
rc=0; "$SGN" sign x --bogus 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "unknown option should exit 2, got $rc"
ok "vectors verify; tampered, wrong signer, truncated fail with one line"

# --- show
"$SGN" show "$V/SEP0011223344BB.cnf.xml.enc.sgn" --cert "$V/tftp.crt" >show.txt
grep -q "Signature: *valid" show.txt || fail "show: no valid signature"
grep -q "c0dcf60fc9bc78e0f764f8f200919155" show.txt || fail "show: IV"
"$SGN" show "$V/ringlist.xml.sgn" --json >show.json
grep -q '"filename":"ringlist.xml.sgn"' show.json || fail "show --json"
ok "show prints the header, text and JSON"

# --- strip
"$SGN" strip "$V/SEP0011223344AA.cnf.xml.sgn" -o stripped.xml
cmp -s stripped.xml "$V/SEP0011223344AA.cnf.xml" || fail "strip"
cp "$V/ringlist.xml.sgn" r2.xml.sgn
"$SGN" strip r2.xml.sgn && cmp -s r2.xml ringlist.xml || fail "strip default"
ok "strip gives the input back"

# --- openssl CLI as oracle: signature over the file minus tag 12
"$SGN" show SEP0011223344AA.cnf.xml.sgn >show.txt
off=$(sed -n 's/^Signature: *\([0-9]*\) bytes at offset \([0-9]*\)$/\2/p' show.txt)
len=$(sed -n 's/^Signature: *\([0-9]*\) bytes at offset \([0-9]*\)$/\1/p' show.txt)
[ -n "$off" ] && [ -n "$len" ] || fail "no signature offset in show"
f=SEP0011223344AA.cnf.xml.sgn
size=$(wc -c <$f)
head -c "$off" $f >signed.bin
tail -c $((size - off - 3 - len)) $f >>signed.bin
tail -c $((size - off - 3)) $f | head -c "$len" >sig.bin
openssl x509 -in "$V/tftp.crt" -noout -pubkey >tftp.pub
openssl dgst -sha1 -verify tftp.pub -signature sig.bin signed.bin >/dev/null ||
    fail "openssl does not verify sgntool's signature"
ok "openssl dgst verifies the .sgn signature"

# --- encrypted config: the vector decrypts; our own round-trips
"$SGN" decrypt-config "$V/SEP0011223344BB.cnf.xml.enc.sgn" \
    --device-key "$V/device.key" --cert "$V/tftp.crt" -o vec.xml ||
    fail "decrypt the vector"
cmp -s vec.xml "$V/SEP0011223344BB.cnf.xml" || fail "vector decrypts wrong"
mkdir od
"$SGN" encrypt-config SEP0011223344BB.cnf.xml --device-cert "$V/device.crt" \
    --key "$V/tftp.pem" --digest sha512 -o od >/dev/null ||
    fail "encrypt-config"
[ -f SEP0011223344BB.cnf.xml ] || fail "encrypt-config deleted its input"
"$SGN" verify od/SEP0011223344BB.cnf.xml.enc.sgn --cert "$V/tftp.crt" \
    >/dev/null || fail "verify own .enc.sgn"
"$SGN" verify od/SEP0011223344BB.cnf.xml.sgn --cert "$V/tftp.crt" \
    >/dev/null || fail "verify own stub"
"$SGN" strip od/SEP0011223344BB.cnf.xml.sgn -o stub.xml
tail -c +429 "$V/SEP0011223344BB.cnf.xml.sgn" >vecstub.xml
cmp -s stub.xml vecstub.xml || fail "stub body differs from the reference"
! grep -q "s3cret\|ssh-secret" stub.xml od/*.enc.sgn || fail "secret in clear"
"$SGN" decrypt-config od/SEP0011223344BB.cnf.xml.enc.sgn \
    --device-key "$V/device.key" -o rt.xml || fail "decrypt-config"
cmp -s rt.xml SEP0011223344BB.cnf.xml || fail "round trip differs"
[ "$(stat -c %a rt.xml)" = 600 ] || fail "decrypted config is not mode 0600"
ok "encrypt-config + decrypt-config round trip; vector decrypts; stub exact"

# --- encrypted config: refusals
expect_fail "$SGN" decrypt-config od/SEP0011223344BB.cnf.xml.enc.sgn \
    --device-key "$V/tftp.key" -o bad.xml
[ ! -e bad.xml ] || fail "wrote output with the wrong key"
cp od/SEP0011223344BB.cnf.xml.enc.sgn t.enc.sgn
size=$(wc -c <t.enc.sgn)
printf 'X' | dd of=t.enc.sgn bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
expect_fail "$SGN" decrypt-config t.enc.sgn --device-key "$V/device.key" \
    -o bad.xml
grep -q "plaintext hash" "$T/err" || fail "mismatch message: $(cat "$T/err")"
[ ! -e bad.xml ] || fail "wrote output on a hash mismatch"
expect_fail "$SGN" decrypt-config t.enc.sgn --device-key "$V/device.key" \
    --cert "$V/tftp.crt" -o bad.xml
expect_fail "$SGN" encrypt-config SEP0011223344BB.cnf.xml \
    --device-cert "$V/ec-tftp.crt" --key "$V/tftp.pem" -o od
grep -q "no EC key-wrapping format" "$T/err" || fail "EC message"
printf '<!DOCTYPE device [<!ENTITY a "b">]><device>&a;</device>\n' \
    >SEP0011223344CC.cnf.xml
expect_fail "$SGN" encrypt-config SEP0011223344CC.cnf.xml \
    --device-cert "$V/device.crt" --key "$V/tftp.pem" -o od
grep -q DOCTYPE "$T/err" || fail "DOCTYPE message"
printf '<config/>\n' >SEP0011223344DD.cnf.xml
expect_fail "$SGN" encrypt-config SEP0011223344DD.cnf.xml \
    --device-cert "$V/device.crt" --key "$V/tftp.pem" -o od
[ ! -e od/SEP0011223344DD.cnf.xml.sgn ] || fail "stub written for bad XML"
ok "wrong key, tampering, EC device, DOCTYPE and wrong root refused"

# --- certhash (vectors README 5)
[ "$("$SGN" certhash "$V/ccm-tftp.crt")" = "VuBMFYKk9BzpnArek6RxJ8Rr/80=" ] ||
    fail "certhash sha1"
[ "$("$SGN" certhash --digest sha512 "$V/ccm-tftp.crt")" = \
    "O93ytK+mJVGrrqblk4bpeu4A0KC6TxjvWl4L6TbYps2GOxOVNu6Zfmg0SkQmM0EPoQSIXyhycCUxxyRk6p+RFg==" ] ||
    fail "certhash sha512"
ok "certhash matches the reference"

# --- a TFTP key on a SoftHSM token
init_token TFTP 4444
printf '4444\n' >pin; chmod 600 pin
K="pkcs11:token=TFTP;object=tftp?pin-source=$T/pin"
"$UCSEC_BIN/tokenctl" keygen "$K" rsa:2048 >/dev/null || fail "tokenctl keygen"
"$UCSEC_BIN/tokenctl" selfsign "$K" --subject "/CN=tftp-hsm/O=ucsec-it/OU=TFTP" \
    -o hsm.pem >/dev/null || fail "tokenctl selfsign"
"$SGN" sign ringlist.xml --key "$K" --cert hsm.pem -o hsm.sgn \
    >/dev/null || fail "sign on the token"
"$SGN" verify hsm.sgn --cert hsm.pem >/dev/null || fail "verify token signature"
expect_fail "$SGN" verify hsm.sgn --cert "$V/tftp.crt"
"$SGN" encrypt-config SEP0011223344BB.cnf.xml --device-cert "$V/device.crt" \
    --key "$K" --cert hsm.pem -o od >/dev/null || fail "encrypt-config on token"
"$SGN" decrypt-config od/SEP0011223344BB.cnf.xml.enc.sgn --cert hsm.pem \
    --device-key "$V/device.key" -o hsm.xml || fail "decrypt token-signed"
cmp -s hsm.xml SEP0011223344BB.cnf.xml || fail "token round trip"
! grep -rq 4444 hsm.sgn od || fail "PIN leaked"
ok "signing with a SoftHSM token key, verified with the exported cert"
