# ucsec-tftpd under 5% packet loss: a network namespace made here, nft
# dropping a random 5% of all UDP datagrams on input (both directions;
# on input, so senders see no error, as on a real lossy link),
# real clients fetching plain and signed files byte-exactly.
. "$(dirname "$0")/lib.sh"
need ip nft atftp tftp openssl
[ "$(id -u)" -eq 0 ] || fail "needs root for ip netns (CI runs as root)"
ns=ucsec-loss-$$
ip netns add "$ns" || fail "ip netns add"
cleanup() {
	# every process left in the namespace, then the namespace
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns nft -f - <<'NFT'
table inet loss {
	chain in {
		type filter hook input priority 0;
		meta l4proto udp numgen random mod 100 < 5 counter drop
	}
}
NFT

mkdir -p "$T/root"
head -c 300000 /dev/urandom >"$T/root/firmware.bin"
head -c 16384 /dev/urandom | base64 >"$T/root/SEP001122334455.cnf.xml"
port=69
ip netns exec "$ns" "$UCSEC_BIN/ucsec-tftpd" -f --root "$T/root" --listen 127.0.0.1 \
    --port $port --mode mixed --sign-key "$V/tftp.pem" \
    --sign-cert "$V/tftp.crt" >"$T/server.log" 2>&1 &
srv=$!
sleep 1
kill -0 "$srv" 2>/dev/null || fail "server did not start: $(cat "$T/server.log")"

for i in 1 2 3; do
	rm -f "$T/fw" "$T/cfg.sgn"
	in_ns timeout 120 atftp --verbose --option "blksize 1428" --option "timeout 1" \
	    -g -r firmware.bin -l "$T/fw" 127.0.0.1 $port >"$T/atftp.out" 2>&1 ||
	    fail "atftp firmware.bin under loss (round $i): $(tail -n 5 "$T/atftp.out"; tail -n 3 "$T/server.log")"
	cmp "$T/fw" "$T/root/firmware.bin" || fail "firmware.bin differs (round $i)"
	in_ns timeout 120 sh -c "printf 'binary\nrexmt 1\ntimeout 100\nget SEP001122334455.cnf.xml.sgn $T/cfg.sgn\nquit\n' |
	    tftp 127.0.0.1 $port" >"$T/tftp.out" 2>&1 ||
	    fail "tftp-hpa .sgn under loss (round $i): $(tail -n 5 "$T/tftp.out"; tail -n 3 "$T/server.log")"
	hl=$(od -An -tu1 -j8 -N2 "$T/cfg.sgn" | awk '{print $1 * 256 + $2}')
	tail -c +$((hl + 1)) "$T/cfg.sgn" | cmp - "$T/root/SEP001122334455.cnf.xml" ||
	    fail "signed config body differs (round $i)"
done
drops=$(in_ns nft list ruleset | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | head -n 1)
[ "${drops:-0}" -gt 0 ] || fail "nft dropped nothing: the loss test tested nothing"
ok "3 rounds byte-exact under 5% loss ($drops datagrams dropped)"
