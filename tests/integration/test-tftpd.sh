# ucsec-tftpd end to end: tftp-hpa, atftp and curl fetch plain, signed,
# encrypted and stub files byte-exactly; the openssl CLI checks the
# signatures and decrypts the .enc.sgn; hostile packets (traversal,
# absolute, symlink out, overlong, truncated, wrong opcode, bad options)
# each get the right TFTP error or are ignored, with a log line, and the
# server keeps serving.  A config that cannot be made (DOCTYPE, EC device
# certificate, FIFO certificate) gets ERROR 0, never an empty file; name
# aliases ("./", "//") are refused; mid-window ACKs send no duplicates;
# unacknowledged sessions are short-lived and capped.  With
# --strip-credentials the plain, .sgn and .enc.sgn configs lose exactly
# their authPassword and sshPassword lines, still verify, and a config
# that does not parse is refused, never served as it is.
. "$(dirname "$0")/lib.sh"
need tftp atftp curl openssl python3 cmp
TFTPD=$UCSEC_BIN/ucsec-tftpd
cd "$T"

mkdir -p root/Desktops/320x196x4 dev cache outside
head -c 100000 /dev/urandom >root/small.bin
head -c 4096 /dev/urandom >root/exact.bin
: >root/empty.bin
printf 'line1\nline2\r\nend\n' >root/text.txt
printf '<list/>\n' >root/Desktops/320x196x4/List.xml
cp "$V/ringlist.xml" root/ringlist.xml
cp "$V/SEP0011223344BB.cnf.xml" root/
# A device without a certificate: its config is served plain and as .sgn.
cp "$V/SEP0011223344BB.cnf.xml" root/SEP0011223344AA.cnf.xml
cp "$V/device.crt" dev/SEP0011223344BB.pem
# Configs that cannot be made: a DOCTYPE, an EC device key, a FIFO cert.
{ echo '<?xml version="1.0"?>'; echo '<!DOCTYPE x [<!ENTITY a "b">]>'
  sed 1d "$V/SEP0011223344BB.cnf.xml"; } >root/SEP0011223344CC.cnf.xml
cp "$V/device.crt" dev/SEP0011223344CC.pem
cp "$V/SEP0011223344BB.cnf.xml" root/SEP0011223344DD.cnf.xml
cp "$V/capf-lsc-SEP0011223344DD-ec.pem" dev/SEP0011223344DD.pem
cp "$V/SEP0011223344BB.cnf.xml" root/SEP0011223344EE.cnf.xml
mkfifo dev/SEP0011223344EE.pem
echo "host secret" >outside/secret
ln -s ../outside/secret root/escape
ln -s small.bin root/inside-link

# python3 helpers: hostile packets and the signed-header reader.
cat >tool.py <<'EOF'
import os, socket, struct, sys
HOST = os.environ.get("TFTP_HOST", "127.0.0.1")
def hdr(buf):
    """(header length, {tag: value}, signature offset) of a signed file"""
    hlen = struct.unpack(">H", buf[8:10])[0]
    off, tags, sigoff = 0, {}, None
    while off < hlen:
        t = buf[off]
        if t == 13:
            off += 1
            continue
        n = struct.unpack(">H", buf[off + 1:off + 3])[0]
        if t in (3, 7, 9, 16, 17, 21):
            off += 3
            continue
        if t == 12:
            sigoff = off
        tags[t] = buf[off + 3:off + 3 + n]
        off += 3 + n
    return hlen, tags, sigoff
def send(port, pkt, wait=2.0):
    s = socket.socket(socket.AF_INET6 if ":" in HOST else socket.AF_INET,
        socket.SOCK_DGRAM)
    s.settimeout(wait)
    s.sendto(pkt, (HOST, port))
    try:
        data, peer = s.recvfrom(70000)
    except socket.timeout:
        return "none"
    op = struct.unpack(">H", data[:2])[0]
    if op in (3, 6):	# end the transfer: no resends to a reused port
        s.sendto(b"\0\5\0\0done\0", peer)
    if op == 5:
        return "error %d" % struct.unpack(">H", data[2:4])[0]
    if op == 6:
        return "oack " + data[2:].replace(b"\0", b" ").decode().strip()
    if op == 3:
        return "data %d" % struct.unpack(">H", data[2:4])[0]
    return "op %d" % op
cmd = sys.argv[1]
if cmd == "split":        # split FILE: body, signed bytes, signature
    buf = open(sys.argv[2], "rb").read()
    hlen, tags, so = hdr(buf)
    n = len(tags[12])
    open("body.bin", "wb").write(buf[hlen:])
    open("signed.bin", "wb").write(buf[:so] + buf[so + 3 + n:])
    open("sig.bin", "wb").write(tags[12])
    print(tags[14].rstrip(b"\0").decode(), tags[8][0])
elif cmd == "enc":        # enc FILE: wrapped key, iv hex, pad count
    buf = open(sys.argv[2], "rb").read()
    hlen, tags, so = hdr(buf)
    open("wrapped.bin", "wb").write(tags[25])
    open("ct.bin", "wb").write(buf[hlen:])
    print(tags[19].hex(), struct.unpack(">H", tags[20])[0])
elif cmd == "send":       # send PORT HEXPACKET: print the answer
    print(send(int(sys.argv[2]), bytes.fromhex(sys.argv[3])))
elif cmd in ("rrq", "wrq"):  # rrq PORT NAME MODE [opt val]...: answer
    p = (b"\0\1" if cmd == "rrq" else b"\0\2") + sys.argv[3].encode() + b"\0" + sys.argv[4].encode() + b"\0"
    for a in sys.argv[5:]:
        p += a.encode() + b"\0"
    print(send(int(sys.argv[2]), p))
EOF

PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
"$TFTPD" -f --root root --listen 127.0.0.1 --port "$PORT" --mode mixed \
    --sign-key "$V/tftp.pem" --sign-cert "$V/tftp.crt" --device-certs dev \
    --cache-dir cache --retries 2 >server.log 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null || true; rm -rf "$T"' EXIT
i=0
until grep -q "serving" server.log; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "server did not start: $(cat server.log)"
	kill -0 $SRV 2>/dev/null || fail "server died: $(cat server.log)"
	sleep 0.1
done

hpa() { timeout 30 tftp 127.0.0.1 "$PORT" -m binary -c get "$1" "$2"; }
at() { timeout 30 atftp --option "blksize 1428" --option "windowsize 16" \
    -g -r "$1" -l "$2" 127.0.0.1 "$PORT" >/dev/null 2>&1; }
cu() { timeout 60 curl -sf "$@"; }
want() {	# want ANSWER CMD...
	w=$1
	shift
	got=$("$@")
	[ "$got" = "$w" ] || fail "$*: want \"$w\", got \"$got\""
}

# --- plain files, three clients, byte-exact
for f in small.bin exact.bin empty.bin Desktops/320x196x4/List.xml; do
	rm -f o1 o2 o3 o4
	hpa "$f" o1 || fail "tftp-hpa get $f"
	at "$f" o2 || fail "atftp get $f"
	cu "tftp://127.0.0.1:$PORT/$f" -o o3 || fail "curl get $f"
	cu --tftp-blksize 1024 "tftp://127.0.0.1:$PORT/$f" -o o4 ||
	    fail "curl blksize get $f"
	for o in o1 o2 o3 o4; do
		cmp "$o" "root/$f" || fail "$f via $o differs"
	done
done
hpa /small.bin o1 && cmp o1 root/small.bin || fail "one leading / stripped"
hpa inside-link o1 && cmp o1 root/small.bin || fail "symlink inside root"
ok "plain files byte-exact via tftp-hpa, atftp (window 16), curl"

# --- netascii: LF -> CR LF, CR -> CR NUL on the wire; tftp-hpa undoes it
timeout 10 tftp 127.0.0.1 "$PORT" -m ascii -c get text.txt o1 ||
    fail "netascii get"
cmp o1 root/text.txt || fail "netascii round trip"
head -c 1100000 /dev/zero | tr '\0' 'x' >root/big.txt
want "error 0" python3 tool.py rrq "$PORT" big.txt netascii
grep -q '"big.txt" refused: error 0 (netascii limited to 1 MiB)' server.log ||
    fail "no log line for netascii over 1 MiB"
rm -f root/big.txt
ok "netascii (refused over 1 MiB)"

# --- block number rollover: 33.6 MB at blksize 512 is over 65536 blocks
head -c 34000000 /dev/zero | tr '\0' 'x' >root/big.bin
printf 'tail' >>root/big.bin
cu "tftp://127.0.0.1:$PORT/big.bin" -o big.out || fail "curl big.bin"
cmp big.out root/big.bin || fail "big.bin differs (rollover)"
at big.bin big2.out || fail "atftp big.bin"
cmp big2.out root/big.bin || fail "big.bin via atftp differs"
rm -f big.out big2.out root/big.bin
ok "block rollover past 65535"

# --- signed files made on demand (signed-files.md 3)
openssl x509 -in "$V/tftp.crt" -pubkey -noout >tftp.pub
check_sgn() {	# check_sgn FILE NAME SOURCE
	set -- "$1" "$2" "$3" "$(python3 tool.py split "$1")"
	[ "$4" = "$2 1" ] || fail "$1: header filename/digest: $4"
	[ -z "$3" ] || cmp body.bin "$3" || fail "$1: body is not $3"
	openssl dgst -sha1 -verify tftp.pub -signature sig.bin signed.bin \
	    >/dev/null || fail "$1: signature does not verify"
}
hpa ringlist.xml.sgn s1 || fail "get ringlist.xml.sgn"
check_sgn s1 ringlist.xml.sgn root/ringlist.xml
at Desktops/320x196x4/List.xml.sgn s2 || fail "atftp List.xml.sgn"
check_sgn s2 Desktops/320x196x4/List.xml.sgn root/Desktops/320x196x4/List.xml
cu "tftp://127.0.0.1:$PORT/ringlist.xml.sgn" -o s3 || fail "curl .sgn"
cmp s1 s3 || fail "second fetch not served from the cache"
ls cache | grep -q "ringlist.xml.sgn" || fail "--cache-dir not written"
sleep 1.1
printf '<changed/>\n' >>root/ringlist.xml
hpa ringlist.xml.sgn s4 || fail "get changed ringlist.xml.sgn"
check_sgn s4 ringlist.xml.sgn root/ringlist.xml
hpa SEP0011223344AA.cnf.xml.sgn s7 || fail "get SEP...AA.cnf.xml.sgn"
check_sgn s7 SEP0011223344AA.cnf.xml.sgn root/SEP0011223344AA.cnf.xml
grep -q "s3cret-digest-password" body.bin ||
    fail "config .sgn without --strip-credentials has no password"
ok ".sgn made, verified with openssl, cached, re-made on change"

# --- encrypted config and its stub (signed-files.md 4)
hpa SEP0011223344BB.cnf.xml.enc.sgn e1 || fail "get .enc.sgn"
set -- $(python3 tool.py enc e1)
iv=$1 pad=$2
openssl pkeyutl -decrypt -inkey "$V/device.key" -in wrapped.bin -out key.bin ||
    fail "unwrap AES key"
key=$(od -An -tx1 key.bin | tr -d ' \n')
openssl enc -d -aes-128-cbc -K "$key" -iv "$iv" -nopad -in ct.bin -out pt.bin ||
    fail "AES decrypt"
n=$(($(wc -c <pt.bin) - pad))
head -c "$n" pt.bin >pt2.bin
cmp pt2.bin root/SEP0011223344BB.cnf.xml || fail "decrypted config differs"
python3 tool.py split e1 >/dev/null
openssl dgst -sha1 -verify tftp.pub -signature sig.bin signed.bin >/dev/null ||
    fail ".enc.sgn signature"
hpa SEP0011223344BB.cnf.xml.sgn e2 || fail "get stub"
check_sgn e2 SEP0011223344BB.cnf.xml.sgn ""
grep -q "<encrConfig>true</encrConfig>" body.bin || fail "stub: no encrConfig"
python3 tool.py split "$V/SEP0011223344BB.cnf.xml.sgn" >/dev/null
cp body.bin ref-stub.bin
python3 tool.py split e2 >/dev/null
cmp body.bin ref-stub.bin || fail "stub body differs from the reference"
grep -q "SEP0011223344BB.cnf.xml.enc.sgn.*encrypted.*ok" server.log ||
    fail "no transfer log line for .enc.sgn"
want "error 2" python3 tool.py rrq "$PORT" SEP0011223344BB.cnf.xml octet
ok ".enc.sgn decrypts to the config with openssl; stub matches the reference"

# --- a config that cannot be made is an ERROR 0, never an empty success
want "error 0" python3 tool.py rrq "$PORT" SEP0011223344CC.cnf.xml.sgn octet
want "error 0" python3 tool.py rrq "$PORT" SEP0011223344DD.cnf.xml.enc.sgn \
    octet
want "error 0" python3 tool.py rrq "$PORT" SEP0011223344EE.cnf.xml octet
want "error 0" python3 tool.py rrq "$PORT" SEP0011223344EE.cnf.xml.sgn octet
grep -q '"SEP0011223344CC.cnf.xml.sgn" refused: error 0.*DOCTYPE' server.log ||
    fail "no log line with the reason for the DOCTYPE config"
grep -q '"SEP0011223344DD.cnf.xml.enc.sgn" refused: error 0.*EC key' \
    server.log || fail "no log line with the reason for the EC device"
grep -q 'SEP0011223344EE.pem: not a regular file' server.log ||
    fail "no log line for the FIFO device certificate"
grep -Eq '"SEP0011223344(CC|DD|EE)[^"]*" 0 bytes' server.log &&
    fail "an unmakeable config served as an empty file"
ok "unmakeable config (DOCTYPE, EC cert, FIFO cert): error 0 and a reason"

# --- one name per file: "." and empty components are refused
for n in ./SEP0011223344BB.cnf.xml .//SEP0011223344BB.cnf.xml \
    ./SEP0011223344BB.cnf.xml.sgn ./SEP0011223344BB.cnf.xml.enc.sgn \
    Desktops//320x196x4/List.xml Desktops/./320x196x4/List.xml \
    ./small.bin small.bin/ //small.bin; do
	want "error 2" python3 tool.py rrq "$PORT" "$n" octet
done
ok "name aliases (./, //, trailing /) refused with error 2"

# --- hostile requests: right error, one log line, server keeps serving
send() { python3 tool.py send "$PORT" "$1"; }
rrq() { python3 tool.py rrq "$PORT" "$@"; }
want "error 2" rrq ../etc/passwd octet
want "error 2" rrq sub/../../etc/passwd octet
want "error 1" rrq /etc/passwd octet
want "error 2" rrq //etc/passwd octet
want "error 2" rrq escape octet
want "error 2" rrq 'a\b' octet
want "error 1" rrq missing.bin octet
want "error 2" rrq "$(head -c 300 /dev/zero | tr '\0' a)" octet
want "error 4" rrq small.bin mail
want "error 8" rrq small.bin octet blksize 0
want "error 8" rrq small.bin octet blksize 70000
want "error 8" rrq small.bin octet blksize 1x
want "error 8" rrq small.bin octet blksize 512 blksize 1024
want "error 8" rrq small.bin octet windowsize 99999999999999999999999
want "oack blksize 1428 windowsize 64" rrq small.bin octet \
    blksize 1428 windowsize 1000
want "oack blksize 512 tsize 100000" rrq small.bin octet blksize 512 \
    tsize 0 bogus 1
want "error 2" send 000265766c006f6374657400		# WRQ "evl"
want "error 4" send 0001736d616c6c2e62696e		# no NUL at all
want "error 4" send 0001736d616c6c2e62696e006f63	# mode without NUL
want "error 4" send 000161006200006f6374657400		# NUL in the name
want "none" send 00030001414141				# DATA to the listener
want "none" send 0004000a				# ACK to the listener
want "none" send 00					# one byte
want "none" send 0009414141				# unknown opcode
grep -q '"../etc/passwd" refused: error 2' server.log ||
    fail "no log line for the traversal"
grep -q "opcode 3 to the listener" server.log || fail "no log for DATA"
n=$(grep -c "refused" server.log)
[ "$n" -ge 16 ] || fail "want a log line per refusal, got $n"
hpa small.bin o1 && cmp o1 root/small.bin || fail "no longer serving"
ok "hostile requests refused with the right error and a log line"

# --- Sorcerer's Apprentice: a duplicate ACK is never answered
python3 - "$PORT" <<'EOF' || fail "duplicate ACK answered"
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
s.sendto(b"\0\1small.bin\0octet\0", ("127.0.0.1", int(sys.argv[1])))
d, peer = s.recvfrom(1000)
assert d[:4] == b"\0\3\0\1", d[:4]
s.sendto(b"\0\4\0\1", peer)
d, _ = s.recvfrom(1000)
assert d[:4] == b"\0\3\0\2"
s.sendto(b"\0\4\0\1", peer)	# duplicate of the old ACK
try:
    d, _ = s.recvfrom(1000)
    sys.exit("answered a duplicate ACK with block %d" % d[3])
except socket.timeout:
    pass
s.sendto(b"\0\5\0\0done\0", peer)
EOF
ok "duplicate ACK ignored"

# --- windowsize 16, an ACK per block: each block is sent once
python3 - "$PORT" <<'EOF' || fail "mid-window ACKs resend blocks in flight"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"\0\1small.bin\0octet\0blksize\x00512\0windowsize\x0016\0",
    ("127.0.0.1", int(sys.argv[1])))
d, peer = s.recvfrom(2000)
assert d[:2] == b"\0\6", d
s.sendto(b"\0\4\0\0", peer)
n, last = 0, 0
while last < 196:
    d, _ = s.recvfrom(2000)
    assert d[:2] == b"\0\3", d[:4]
    n += 1
    b = d[2] * 256 + d[3]
    if b == last + 1:
        last = b
        s.sendto(b"\0\4" + d[2:4], peer)
if n > 196:
    sys.exit("%d DATA packets for 196 blocks" % n)
EOF
ok "mid-window ACKs: 196 DATA for 196 blocks"

# --- timeout 255 is granted; an unanswered OACK is resent after 11 s,
# and at once when the client repeats its request
python3 - "$PORT" <<'EOF' || fail "timeout 255 / OACK resend"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(13)
req = b"\0\1small.bin\0octet\0timeout\x00255\0"
s.sendto(req, ("127.0.0.1", int(sys.argv[1])))
d, peer = s.recvfrom(2000)
assert d == b"\0\6timeout\x00255\0", d
t0 = time.time()
d, peer = s.recvfrom(2000)
dt = time.time() - t0
assert d[:2] == b"\0\6" and 10.5 < dt < 12, dt
time.sleep(3.2)
t0 = time.time()
s.sendto(req, ("127.0.0.1", int(sys.argv[1])))
d, peer2 = s.recvfrom(2000)
assert peer2 == peer and d[:2] == b"\0\6" and time.time() - t0 < 0.5, d
s.sendto(b"\0\5\0\0done\0", peer)
EOF
ok "timeout option granted; OACK resent after 11 s, or at once on a repeated request"

# --- lost ACKs: the server resends with backoff, then gives up
python3 - "$PORT" <<'EOF' || fail "retransmission"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"\0\1small.bin\0octet\0", ("127.0.0.1", int(sys.argv[1])))
t0 = time.time()
for i in range(3):
    d, peer = s.recvfrom(1000)
    assert d[:4] == b"\0\3\0\1", d[:4]
assert time.time() - t0 > 2.5	# 1 s, then 2 s
EOF
i=0
until grep -q '"small.bin".*timeout' server.log; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no timeout log line"
	sleep 0.1
done
ok "resend with backoff, retry limit, timeout logged"

# --- SIGHUP flushes the cache and keeps serving
kill -HUP $SRV
i=0
until grep -q "SIGHUP" server.log; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "no SIGHUP log line"
	sleep 0.1
done
hpa ringlist.xml.sgn s5 || fail "get .sgn after SIGHUP"
check_sgn s5 ringlist.xml.sgn root/ringlist.xml
ok "SIGHUP reload"

# --- clean exit on SIGTERM
kill -TERM $SRV
i=0
while kill -0 $SRV 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "server ignored SIGTERM"
	sleep 0.1
done
wait $SRV || fail "server exit status on SIGTERM"
ok "SIGTERM exits 0"

# --- nonsecure mode from a config file, IPv6, uploads into --write-dir
mkdir -p up
cat >tftpd.conf <<EOF2
root = $T/root
mode = nonsecure
listen = ::1
port = $PORT
write-dir = $T/up
max-sessions = 4
EOF2
"$TFTPD" -f --config tftpd.conf >server2.log 2>&1 &
SRV=$!
i=0
until grep -q "serving" server2.log; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "nonsecure server did not start: $(cat server2.log)"
	sleep 0.1
done
cu "tftp://[::1]:$PORT/small.bin" -o o1 || fail "IPv6 get"
cmp o1 root/small.bin || fail "IPv6 plain"
cu "tftp://[::1]:$PORT/ringlist.xml.sgn" -o o2 && fail "nonsecure signed"
grep -q '"ringlist.xml.sgn" refused: error 1' server2.log ||
    fail "nonsecure: .sgn not refused as missing"
timeout 10 tftp ::1 "$PORT" -m binary -c put root/exact.bin exact.up ||
    fail "WRQ"
cmp up/exact.up root/exact.bin || fail "uploaded file differs"
timeout 10 tftp ::1 "$PORT" -m binary -c put root/exact.bin sub/x.up 2>&1 |
    grep -qi "violation\|not allowed" || fail "WRQ into a subdirectory"
want "error 3" env TFTP_HOST=::1 python3 tool.py wrq "$PORT" huge.up octet \
    tsize 16777217
ok "nonsecure from --config over IPv6; WRQ into --write-dir only"

# --- unacknowledged sessions: at most half of max-sessions, short-lived
python3 - "$PORT" <<'EOF' || fail "pending session cap"
import socket, sys, time
def rrq():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"\0\1small.bin\0octet\0", ("::1", int(sys.argv[1])))
    return s, s.recvfrom(2000)[0]
a, d = rrq()
assert d[:4] == b"\0\3\0\1", d[:4]
b, d = rrq()
assert d[:4] == b"\0\3\0\1", d[:4]
c, d = rrq()
assert d[:4] == b"\0\5\0\0", d	# third pending of max-sessions 4
time.sleep(8.5)		# 1 + 2 + 4 s: two resends, then given up
c, d = rrq()
assert d[:4] == b"\0\3\0\1", d[:4]
EOF
grep -q "unacknowledged session limit" server2.log ||
    fail "no log line for the pending session cap"
grep -q '"small.bin".*timeout (never acknowledged)' server2.log ||
    fail "pending session not ended after two resends"
ok "pending sessions capped at half of max-sessions, two resends"
kill -TERM $SRV
wait $SRV || fail "nonsecure server exit status"

# --- --strip-credentials: configs served without the passwords
grep -v Password root/SEP0011223344AA.cnf.xml >stripped.xml
{ echo '<?xml version="1.0"?>'; echo '<!DOCTYPE x [<!ENTITY a "b">]>'
  sed 1d "$V/SEP0011223344BB.cnf.xml"; } >root/SEP0011223344FF.cnf.xml
printf 'ssh-secret is not XML\n' >root/SEP001122334400.cnf.xml
cp s7 root/SEP00112233440A.cnf.xml.sgn	# signed elsewhere, password inside
"$TFTPD" -f --root root --listen 127.0.0.1 --port "$PORT" --mode mixed \
    --sign-key "$V/tftp.pem" --sign-cert "$V/tftp.crt" --device-certs dev \
    --strip-credentials --retries 2 >server5.log 2>&1 &
SRV=$!
i=0
until grep -q "serving" server5.log; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "strip server did not start: $(cat server5.log)"
	sleep 0.1
done
grep -q "credentials stripped" server5.log || fail "no strip in start line"
hpa SEP0011223344AA.cnf.xml.sgn x1 || fail "strip: get .sgn"
check_sgn x1 SEP0011223344AA.cnf.xml.sgn stripped.xml
for pw in s3cret-digest-password ssh-secret authPassword sshPassword; do
	grep -q "$pw" x1 && fail "strip: .sgn still holds $pw"
done
grep -q "<authName>1001</authName>" body.bin || fail "strip: authName gone"
hpa SEP0011223344AA.cnf.xml x2 || fail "strip: get plain config"
cmp x2 stripped.xml || fail "strip: plain config is not the stripped one"
hpa SEP0011223344BB.cnf.xml.enc.sgn x3 || fail "strip: get .enc.sgn"
set -- $(python3 tool.py enc x3)
openssl pkeyutl -decrypt -inkey "$V/device.key" -in wrapped.bin \
    -out key.bin || fail "strip: unwrap AES key"
key=$(od -An -tx1 key.bin | tr -d ' \n')
openssl enc -d -aes-128-cbc -K "$key" -iv "$1" -nopad -in ct.bin \
    -out pt.bin || fail "strip: AES decrypt"
head -c "$(($(wc -c <pt.bin) - $2))" pt.bin >pt2.bin
cmp pt2.bin stripped.xml || fail "strip: decrypted config is not stripped"
python3 tool.py split x3 >/dev/null
openssl dgst -sha1 -verify tftp.pub -signature sig.bin signed.bin \
    >/dev/null || fail "strip: .enc.sgn signature"
hpa SEP0011223344BB.cnf.xml.sgn x4 || fail "strip: get stub"
check_sgn x4 SEP0011223344BB.cnf.xml.sgn ""
cmp body.bin ref-stub.bin || fail "strip: stub changed"
for n in SEP0011223344FF.cnf.xml SEP0011223344FF.cnf.xml.sgn \
    SEP001122334400.cnf.xml; do
	want "error 0" python3 tool.py rrq "$PORT" "$n" octet
	[ "$(grep -c "\"$n\" refused: error 0" server5.log)" -eq 1 ] ||
	    fail "strip: want one log line for $n"
done
grep -q '"SEP0011223344FF.cnf.xml" refused: error 0.*DOCTYPE' server5.log ||
    fail "strip: no DOCTYPE reason in the log"
grep -Eq '"SEP0011223344(FF|00)[^"]*" [0-9]+ bytes' server5.log &&
    fail "strip: an unparseable config was served"
want "error 2" python3 tool.py rrq "$PORT" SEP00112233440A.cnf.xml.sgn octet
grep -q '"SEP00112233440A.cnf.xml.sgn" refused: error 2.*cannot have its' \
    server5.log || fail "strip: pre-signed config on disk not refused"
hpa small.bin o1 && cmp o1 root/small.bin || fail "strip: other files"
kill -TERM $SRV
wait $SRV || fail "strip server exit status"
printf 'root = %s\nmode = nonsecure\nlisten = 127.0.0.1\nport = %s\n%s\n' \
    "$T/root" "$PORT" "strip-credentials = yes" >strip.conf
"$TFTPD" -f --config strip.conf >server6.log 2>&1 &
SRV=$!
i=0
until grep -q "serving" server6.log; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "strip-credentials = yes: $(cat server6.log)"
	sleep 0.1
done
hpa SEP0011223344AA.cnf.xml x5 || fail "strip (config file): get plain"
cmp x5 stripped.xml || fail "strip (config file): plain not stripped"
kill -TERM $SRV
wait $SRV || fail "strip-credentials = yes server exit status"
sed -i 's/= yes/= maybe/' strip.conf
"$TFTPD" -f --config strip.conf >server6.log 2>&1 &&
    fail "strip-credentials = maybe accepted"
grep -q "want yes or no" server6.log || fail "no reason: $(cat server6.log)"
ok "--strip-credentials: plain, .sgn, .enc.sgn without passwords, verified"

# --- --write-dir inside --root is refused at startup
"$TFTPD" -f --root root --listen 127.0.0.1 --port "$PORT" --mode nonsecure \
    --write-dir root/Desktops >server4.log 2>&1 &&
    fail "--write-dir inside --root accepted"
grep -q "is inside --root" server4.log || fail "no reason: $(cat server4.log)"
"$TFTPD" -f --root root --listen 127.0.0.1 --port "$PORT" --mode nonsecure \
    --write-dir root >server4.log 2>&1 && fail "--write-dir = --root accepted"
ok "--write-dir at or under --root refused"

# --- --user: bind and open the key as root, then serve as nobody
if [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$T"
	"$TFTPD" -f --root root --listen 127.0.0.1 --port "$PORT" \
	    --sign-key "$V/tftp.pem" --sign-cert "$V/tftp.crt" \
	    --user nobody >server3.log 2>&1 &
	SRV=$!
	i=0
	until grep -q "serving" server3.log; do
		i=$((i + 1))
		[ $i -lt 50 ] || fail "--user server did not start: $(cat server3.log)"
		sleep 0.1
	done
	uid=$(awk '/^Uid:/ {print $2 $3 $4 $5}' /proc/$SRV/status)
	n=$(id -u nobody)
	[ "$uid" = "$n$n$n$n" ] || fail "--user nobody: uids are $uid"
	hpa ringlist.xml.sgn s6 || fail "get .sgn as nobody"
	check_sgn s6 ringlist.xml.sgn root/ringlist.xml
	kill -TERM $SRV
	wait $SRV || fail "--user server exit status"
	ok "--user drops to nobody after opening the key; still signs"
else
	echo "skip --user (not root)"
fi
