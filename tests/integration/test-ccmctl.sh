# ccmctl end to end on a throwaway store: device add/set/show/list with
# JSON that parses, unique extensions, digest users from a password
# file, standard input and a terminal (HA1 sealed: neither the password
# nor the HA1 is anywhere in the database), the secret key created 0600
# and refused when others may read it, trunks with sealed outgoing
# credentials, per-device and per-trunk digest algorithm lists, a bulk
# CSV import (1000 rows in one transaction, a bad line or a 0644 file
# changes nothing), registrations, a version 1 store migrated, and
# every refusal as one line with a non-zero exit.
. "$(dirname "$0")/lib.sh"
need sqlite3 python3 script
CM=$UCSEC_BIN/ccmctl
CC=$UCSEC_BIN/capfctl
DB=$T/ucsec.db
KEY=$T/keys/ccm-secret.key
export UCSEC_DB="$DB"
cd "$T"
mkdir -m 700 keys
# Passwords that cannot turn up by chance in base64, hex or SQLite pages.
PW1='Tr0ub4dor&3-horse-battery'
PW2='correct.staple.9x7q'
PW3='kamailio-trunk-pw-5521'
PW4='terminal-typed-pw-8812'
printf '%s\n' "$PW1" >pw1
printf '%s\r\nsecond line ignored\n' "$PW2" >pw2
printf '%s\n' "$PW3" >pw3
chmod 600 pw1 pw2 pw3

# expect_usage CMD...: exit 2 (usage) with exactly one line on stderr.
expect_usage() {
	rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 2 ] || fail "want exit 2, got $rc: $* ($(cat "$T/err"))"
	n=$(wc -l <"$T/err")
	[ "$n" -eq 1 ] || fail "want one usage line, got $n: $*: $(cat "$T/err")"
}

# ha1 ALG USER REALM PW: the lower-case hex HA1 (RFC 7616).
ha1() {
	python3 -c 'import hashlib,sys
a, u, r, p = sys.argv[1:]
h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[a]
print(h(("%s:%s:%s" % (u, r, p)).encode()).hexdigest())' "$@"
}

# no_secret WORD...: none of the words is in any file of the store,
# nor in its SQL dump.
no_secret() {
	for f in "$DB"*; do
		for p in "$@"; do
			! grep -aqiF "$p" "$f" || fail "secret $p in $f"
		done
	done
	sqlite3 "$DB" .dump >dump.sql || fail "sqlite3 .dump"
	for p in "$@"; do
		! grep -qiF "$p" dump.sql || fail "secret $p in the dump"
	done
}

# --- usage: --help and --version exit 0; usage errors exit 2, one line
"$CM" --help >out && grep -q "ccmctl trunk add" out || fail "--help"
"$CM" --version | grep -q "^ccmctl (ucsec)" || fail "--version"
"$CM" device --help >out && grep -q "device show" out || fail "device --help"
"$CM" user add --help >out && grep -q "password-file" out ||
    fail "user add --help"
for args in "bogus" "device" "device bogus" "device add" \
    "device add SEP001122334455 --protocol sip" \
    "device list extra" "device show SEP001122334455 --protocol sip" \
    "device set SEP001122334455" "user add alice" "user add alice --bogus" \
    "trunk add kam --peer 127.0.0.1" "list" "list calls" \
    "list registrations --json --json" "--frobnicate device list" \
    "device add SEP001122334455 --password SECRET"; do
	# shellcheck disable=SC2086
	expect_usage "$CM" $args
done
# Long options are spelled in full, and a refusal never echoes a value.
expect_usage "$CM" user add alice --realm ccmsipline --password "$PW1"
grep -q "unknown option --password " err || fail "--password: $(cat err)"
! grep -qF "$PW1" err || fail "a refused option echoed its value"
expect_usage "$CM" user add alice --realm ccmsipline --pass "$PW1"
expect_usage "$CM" device show SEP001122334455 --extension "$PW1"
grep -q "option --extension does not apply" err || fail "$(cat err)"
! grep -qF "$PW1" err || fail "a refused option echoed its value"
expect_fail "$CM" device list
grep -q "no such database" err || fail "missing database: $(cat err)"
[ ! -e "$DB" ] || fail "list created the database"
ok "usage, --help, --version, a missing database"

# --- devices
"$CM" device add SEP001122334455 --protocol sip --security encrypted \
    --extension 1001 --digest-user alice >out 2>err || fail "device add"
grep -q "SEP001122334455: added (sip, encrypted, extension 1001" out ||
    fail "device add output: $(cat out)"
grep -q "no digest user alice yet" err || fail "no digest-user warning"
[ "$(stat -c %a "$DB")" = 600 ] || fail "database mode $(stat -c %a "$DB")"
"$CM" --db "$DB" device add SEP0011223344AA --protocol sip \
    --security authenticated --extension 1002 --presence-group "Sales floor" \
    >/dev/null 2>&1 || fail "device add with --db first"
"$CM" device add SEP0011223344BB --protocol sccp --security nonsecure \
    --extension 1003 --db "$DB" >/dev/null || fail "device add with --db last"
expect_fail "$CM" device add SEP0011223344CC --protocol sip \
    --security nonsecure --extension 1001
grep -q "extension 1001 is already the line of device SEP001122334455" err ||
    fail "duplicate extension: $(cat err)"
expect_fail "$CM" device add SEP001122334455 --protocol sip \
    --security nonsecure --extension 1009
grep -q "already exists" err || fail "add twice: $(cat err)"
expect_fail "$CM" device add SEP0011223344CC --protocol h323 \
    --security nonsecure --extension 1004
grep -q 'protocol "h323"' err || fail "bad protocol: $(cat err)"
expect_fail "$CM" device add SEP0011223344CC --protocol sip \
    --security secure --extension 1004
expect_fail "$CM" device add SEP0011223344CC --protocol sip \
    --security nonsecure --extension "10 04"
expect_fail "$CM" device add 'SEP00112233!' --protocol sip \
    --security nonsecure --extension 1004
grep -q "device name" err || fail "bad device name: $(cat err)"
expect_fail "$CM" device add SEP0011223344CC --protocol sccp \
    --security nonsecure --extension 1004 --digest-user bob
"$CM" device show SEP001122334455 >show.txt || fail "device show"
grep -q "^Security: *encrypted$" show.txt || fail "show security"
grep -q "^Extension: *1001$" show.txt || fail "show extension"
grep -q "^Digest user: *alice$" show.txt || fail "show digest user"
"$CM" device show SEP0011223344AA --json >show.json || fail "show --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d == {"name": "SEP0011223344AA", "protocol": "sip",
    "security": "authenticated", "extension": "1002", "digest_user": None,
    "presence_group": "Sales floor", "digest_algorithms": None,
    "certificates": 0}, d' show.json ||
    fail "device show --json values"
# set changes only what it is given
"$CM" device set SEP0011223344AA --security encrypted --digest-user bob \
    >/dev/null 2>&1 || fail "device set"
"$CM" device set SEP001122334455 --extension 1002 2>err &&
    fail "set took another device's extension"
"$CM" device list --json >list.json || fail "device list --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert [x["name"] for x in d] == ["SEP001122334455", "SEP0011223344AA",
    "SEP0011223344BB"], d
a = d[1]
assert a["security"] == "encrypted" and a["digest_user"] == "bob", a
assert a["extension"] == "1002" and a["presence_group"] == "Sales floor", a
assert d[2]["protocol"] == "sccp" and d[0]["extension"] == "1001", d' \
    list.json || fail "device list --json values"
"$CM" device list >list.txt || fail "device list"
[ "$(grep -c '^SEP' list.txt)" -eq 3 ] || fail "device list: $(cat list.txt)"
"$CM" device set SEP0011223344BB --extension "" >/dev/null ||
    fail "clear extension"
"$CM" device show SEP0011223344BB --json | python3 -c 'import json,sys
assert json.load(sys.stdin)["extension"] is None' || fail "cleared extension"
expect_fail "$CM" device set SEP0099887766AA --security encrypted
grep -q "no such device" err || fail "set unknown device: $(cat err)"
ok "device add, set, show, list (text and JSON); unique extensions"

# --- per-device challenge algorithms (baresip answers MD5 only)
"$CM" device set SEP0011223344AA --digest-algorithms md5 >out ||
    fail "device set --digest-algorithms"
grep -q "challenged with MD5)" out || fail "set output: $(cat out)"
"$CM" device show SEP0011223344AA >show.txt || fail "show algs"
grep -q "^Challenge algs: *MD5$" show.txt || fail "show algs: $(cat show.txt)"
"$CM" device add SEP0011223344DD --protocol sip --security nonsecure \
    --extension 1005 --digest-algorithms ' SHA-256 , md5' >/dev/null ||
    fail "device add --digest-algorithms"
[ "$(sqlite3 "$DB" "select digest_algs from devices where name =
    'SEP0011223344DD'")" = "SHA-256,MD5" ] || fail "algorithms not canonical"
"$CM" device show SEP0011223344DD --json | python3 -c 'import json,sys
assert json.load(sys.stdin)["digest_algorithms"] == ["SHA-256", "MD5"]' ||
    fail "show --json algorithms"
"$CM" device list >list.txt || fail "device list"
grep -q "^SEP0011223344DD .* SHA-256,MD5 " list.txt || fail "list: $(cat list.txt)"
for bad in MD5-sess SHA-1 "MD5,md5" "MD5," ",MD5" "SHA-256;MD5"; do
	expect_fail "$CM" device set SEP0011223344DD --digest-algorithms "$bad"
	grep -q "digest-algorithms" err || fail "bad list $bad: $(cat err)"
done
"$CM" device set SEP0011223344DD --digest-algorithms "MD5,md5" 2>err &&
    fail "duplicate algorithm accepted"
grep -q "MD5 twice" err || fail "duplicate: $(cat err)"
"$CM" device set SEP0011223344DD --digest-algorithms default >/dev/null ||
    fail "--digest-algorithms default"
[ -z "$(sqlite3 "$DB" "select digest_algs from devices where name =
    'SEP0011223344DD'")" ] || fail "default did not clear"
"$CM" device set SEP0011223344AA --digest-algorithms "" >/dev/null ||
    fail "--digest-algorithms ''"
"$CM" device show SEP0011223344AA --json | python3 -c 'import json,sys
assert json.load(sys.stdin)["digest_algorithms"] is None' || fail "'' kept"
"$CM" device remove SEP0011223344DD >/dev/null || fail "remove DD"
ok "device --digest-algorithms: canonical, validated, cleared by default"

# --- a device with CAPF records needs --force to go
"$CC" add SEP0011223344BB --op fetch --auth none >/dev/null ||
    fail "capfctl add"
expect_fail "$CM" device remove SEP0011223344BB
grep -q "CAPF operation.*--force" err || fail "remove without --force: $(cat err)"
"$CM" device remove SEP0011223344BB --force >/dev/null || fail "remove --force"
expect_fail "$CM" device show SEP0011223344BB
"$CC" list | grep -q SEP0011223344BB && fail "CAPF task outlived the device"
expect_fail "$CM" device remove SEP0011223344BB
ok "device remove (CAPF records need --force)"

# --- digest users: the secret key is made 0600; HA1 only, sealed
[ ! -e "$KEY" ] || fail "key exists before first use"
"$CM" --secret-key "$KEY" user add alice --realm ccmsipline \
    --password-file pw1 >out || fail "user add --password-file"
grep -q "alice: added in realm ccmsipline (HA1 SHA-256,SHA-512-256,MD5" out ||
    fail "user add output: $(cat out)"
[ "$(stat -c %a "$KEY")" = 600 ] || fail "key mode $(stat -c %a "$KEY")"
[ "$(stat -c %s "$KEY")" -ge 32 ] || fail "key size"
printf '%s\n' "$PW2" | "$CM" user add bob --realm ccmsipline \
    --algorithms MD5,SHA-256 --allow presence,replaces \
    --secret-key "$KEY" >out || fail "user add from stdin"
grep -q "bob: added in realm ccmsipline (HA1 SHA-256,MD5; allow replaces,presence)" \
    out || fail "user add stdin output: $(cat out)"
# The same name in another realm is another user.
"$CM" --secret-key "$KEY" user add alice --realm "cluster 1" \
    --password-file pw2 >/dev/null || fail "user add second realm"
# A terminal: asked twice, without echo.
(sleep 1; printf '%s\n' "$PW4"; sleep 1; printf '%s\n' "$PW4") |
    timeout 20 script -qec "'$CM' --secret-key '$KEY' user add carol \
    --realm ccmsipline" /dev/null >tty.out 2>&1 || fail "user add on a tty: $(cat tty.out)"
grep -q "Password for carol in realm ccmsipline:" tty.out || fail "no prompt"
grep -q "carol: added" tty.out || fail "tty add: $(cat tty.out)"
(sleep 1; printf 'one-pw\n'; sleep 1; printf 'other-pw\n') |
    timeout 20 script -qec "'$CM' --secret-key '$KEY' user add dave \
    --realm ccmsipline" /dev/null >tty.out 2>&1 && fail "tty mismatch accepted"
grep -q "the two passwords differ" tty.out || fail "tty mismatch: $(cat tty.out)"
sqlite3 "$DB" "select username || '@' || realm || ' ' ||
    (ha1_md5 != '') || (ha1_sha256 != '') || (ha1_sha512_256 != '')
    from digest_users order by realm, username" >rows.txt
printf 'alice@ccmsipline 111\nbob@ccmsipline 110\ncarol@ccmsipline 111\nalice@cluster 1 111\n' \
    >want.txt
cmp -s rows.txt want.txt || fail "digest user rows: $(cat rows.txt)"
for col in ha1_md5 ha1_sha256 ha1_sha512_256; do
	sqlite3 "$DB" "select $col from digest_users where $col != ''" |
	    grep -v '^s1:[A-Za-z0-9+/=]*$' && fail "$col not sealed"
done
# Sealed values differ per row even for one password (fresh nonces).
[ "$(sqlite3 "$DB" "select count(distinct ha1_sha256) from digest_users")" \
    -eq 4 ] || fail "sealed values repeat"
no_secret "$PW1" "$PW2" "$PW4" \
    "$(ha1 MD5 alice ccmsipline "$PW1")" \
    "$(ha1 SHA-256 alice ccmsipline "$PW1")" \
    "$(ha1 MD5 bob ccmsipline "$PW2")" \
    "$(ha1 SHA-256 bob ccmsipline "$PW2")"
"$CM" user list --json >users.json || fail "user list --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert [(u["username"], u["realm"]) for u in d] == [("alice", "ccmsipline"),
    ("bob", "ccmsipline"), ("carol", "ccmsipline"), ("alice", "cluster 1")], d
assert d[1]["algorithms"] == ["SHA-256", "MD5"], d
assert d[1]["allow"] == ["replaces", "presence"] and d[0]["allow"] == [], d
assert all(set(u) == {"username", "realm", "algorithms", "allow", "changed"}
    for u in d), d' users.json || fail "user list --json values"
"$CM" user list >users.txt || fail "user list"
! grep -q "s1:" users.txt || fail "user list prints sealed values"
expect_fail "$CM" --secret-key "$KEY" user add alice --realm ccmsipline \
    --password-file pw2
grep -q "already exists" err || fail "user add twice: $(cat err)"
ok "user add: file, stdin, terminal; key 0600; only sealed HA1 stored"

# --- passwd, set, remove
old=$(sqlite3 "$DB" "select ha1_md5 from digest_users where username = 'bob'")
"$CM" --secret-key "$KEY" user passwd bob --realm ccmsipline \
    --password-file pw1 >out || fail "user passwd"
grep -q "bob: password changed in realm ccmsipline (HA1 SHA-256,MD5; allow replaces,presence)" \
    out || fail "passwd output: $(cat out)"
new=$(sqlite3 "$DB" "select ha1_md5 from digest_users where username = 'bob'")
[ -n "$new" ] && [ "$old" != "$new" ] || fail "passwd did not change the HA1"
printf '%s\n' "$PW3" | "$CM" --secret-key "$KEY" user passwd bob \
    --realm ccmsipline --algorithms SHA-256 >/dev/null ||
    fail "user passwd --algorithms from stdin"
[ -z "$(sqlite3 "$DB" "select ha1_md5 from digest_users where username = 'bob'")" ] ||
    fail "passwd --algorithms kept MD5"
"$CM" user set bob --realm ccmsipline --allow none >/dev/null ||
    fail "user set --allow none"
"$CM" user set bob --realm ccmsipline --allow ood-refer >/dev/null ||
    fail "user set --allow"
[ "$(sqlite3 "$DB" "select flags from digest_users where username = 'bob'")" \
    = 1 ] || fail "user set flags"
expect_fail "$CM" user set bob --realm ccmsipline --allow transmit-security
expect_fail "$CM" --secret-key "$KEY" user passwd nobody --realm ccmsipline \
    --password-file pw1
grep -q "no such user" err || fail "passwd unknown: $(cat err)"
"$CM" user remove alice --realm "cluster 1" >/dev/null || fail "user remove"
expect_fail "$CM" user remove alice --realm "cluster 1"
[ "$(sqlite3 "$DB" "select count(*) from digest_users")" -eq 3 ] ||
    fail "user remove count"
no_secret "$PW1" "$PW2" "$PW3" "$PW4"
ok "user passwd, set, remove"

# --- refusals around passwords and the key file
: >empty; chmod 600 empty
expect_fail "$CM" --secret-key "$KEY" user add erin --realm ccmsipline \
    --password-file empty
grep -q "empty" err || fail "empty password file: $(cat err)"
expect_fail "$CM" --secret-key "$KEY" user add erin --realm ccmsipline \
    --password-file nonexistent
: | "$CM" --secret-key "$KEY" user add erin --realm ccmsipline \
    >out 2>err && fail "empty stdin accepted"
[ "$(wc -l <err)" -eq 1 ] || fail "empty stdin: $(cat err)"
expect_fail "$CM" --secret-key "$KEY" user add erin --realm ccmsipline \
    --algorithms SHA-1 --password-file pw1
grep -q 'algorithms "SHA-1"' err || fail "bad algorithm: $(cat err)"
expect_fail "$CM" --secret-key "$KEY" user add 'er in' --realm ccmsipline \
    --password-file pw1
expect_fail "$CM" --secret-key "$KEY" user add erin --realm 'ccm"sip' \
    --password-file pw1
cp "$KEY" loose.key
chmod 644 loose.key
expect_fail "$CM" --secret-key loose.key user add erin --realm ccmsipline \
    --password-file pw1
grep -q "loose.key" err || fail "0644 key: $(cat err)"
expect_fail "$CM" --secret-key "$T/nodir/ccm.key" user add erin \
    --realm ccmsipline --password-file pw1
[ "$(sqlite3 "$DB" "select count(*) from digest_users where username = 'erin'")" \
    -eq 0 ] || fail "a refused user was stored"
ok "empty or missing password, bad algorithm, names, a 0644 key: refused"

# --- trunks
"$CM" trunk add kam --peer 127.0.0.1:5070 --transport tls --digest \
    --nonce-validity 300 --allow ood-refer,transmit-security --prefix 9 \
    --out-realm kamailio --out-user ccm --out-password-file pw3 \
    --secret-key "$KEY" >out || fail "trunk add"
grep -q "kam: added (tls 127.0.0.1, encrypted, digest, outgoing credentials)" \
    out || fail "trunk add output: $(cat out)"
printf '%s\n' "$PW3" | "$CM" trunk add pstn --peer '[::1]:5080' \
    --transport udp --out-realm carrier --out-user ucsec \
    --secret-key "$KEY" >/dev/null || fail "trunk add, password on stdin"
"$CM" trunk add plain --peer gw.example.net --transport tcp >/dev/null ||
    fail "trunk add without credentials"
"$CM" trunk list --json >trunks.json || fail "trunk list --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert [t["name"] for t in d] == ["kam", "plain", "pstn"], d
k, p, s = d
assert k["peer"] == "127.0.0.1" and k["port"] == 5070, k
assert k["transport"] == "tls" and k["security"] == "encrypted", k
assert k["digest"] is True and k["nonce_validity"] == 300, k
assert k["x509_subject"] == "127.0.0.1" and k["prefix"] == "9", k
assert k["allow"] == ["ood-refer", "transmit-security"], k
assert k["out_realm"] == "kamailio" and k["out_user"] == "ccm", k
assert k["out_password_set"] is True, k
assert p["port"] == 5060 and p["security"] == "nonsecure", p
assert p["out_password_set"] is False and p["out_user"] is None, p
assert s["peer"] == "::1" and s["port"] == 5080, s
assert k["digest_algorithms"] is None and k["out_min_algorithm"] == "MD5", k
assert all("out_secret" not in t for t in d), d' trunks.json ||
    fail "trunk list --json values"
"$CM" trunk list >trunks.txt || fail "trunk list"
grep -q '^pstn .*\[::1\]:5080' trunks.txt || fail "trunk list: $(cat trunks.txt)"
"$CM" trunk show kam >show.txt || fail "trunk show"
grep -q "^Outgoing secret: *set$" show.txt || fail "trunk show secret"
! grep -q "s1:" show.txt || fail "trunk show prints the sealed secret"
sqlite3 "$DB" "select out_secret from trunks where name = 'kam'" |
    grep -q '^s1:[A-Za-z0-9+/=]*$' || fail "trunk secret not sealed"
# set: the realm moves (the secret is sealed again), digest off
"$CM" trunk set kam --out-realm kamailio2 --no-digest \
    --secret-key "$KEY" >/dev/null || fail "trunk set"
"$CM" trunk show kam --json | python3 -c 'import json,sys
k = json.load(sys.stdin)
assert k["digest"] is False and k["out_realm"] == "kamailio2", k
assert k["out_password_set"] and k["nonce_validity"] == 300, k' ||
    fail "trunk set values"
"$CM" trunk set kam --out-user "" >/dev/null || fail "trunk set --out-user ''"
[ -z "$(sqlite3 "$DB" "select out_secret || out_realm from trunks where name = 'kam'")" ] ||
    fail "credentials not cleared"
expect_fail "$CM" trunk add kam --peer 127.0.0.1 --transport udp
grep -q "already exists" err || fail "trunk add twice: $(cat err)"
expect_fail "$CM" trunk add t2 --peer 127.0.0.1 --transport udp \
    --security encrypted
grep -q "needs transport tls" err || fail "encrypted over udp: $(cat err)"
expect_fail "$CM" trunk add t2 --peer 127.0.0.1:99999 --transport udp
expect_fail "$CM" trunk add t2 --peer 127.0.0.1 --transport sctp
expect_fail "$CM" trunk add t2 --peer 127.0.0.1 --transport udp \
    --nonce-validity -5
expect_fail "$CM" trunk add t2 --peer 127.0.0.1 --transport udp \
    --allow everything
expect_fail "$CM" trunk set t2 --digest
grep -q "no such trunk" err || fail "set unknown trunk: $(cat err)"
# challenge algorithms for the peer, the weakest one we answer with
"$CM" trunk add t3 --peer 127.0.0.1:5090 --transport udp --digest \
    --digest-algorithms MD5 --out-min-algorithm sha-256 >/dev/null ||
    fail "trunk add --digest-algorithms --out-min-algorithm"
"$CM" trunk show t3 --json | python3 -c 'import json,sys
t = json.load(sys.stdin)
assert t["digest_algorithms"] == ["MD5"], t
assert t["out_min_algorithm"] == "SHA-256", t' || fail "trunk algs JSON"
"$CM" trunk show t3 >show.txt || fail "trunk show t3"
grep -q "^Challenge algs: *MD5$" show.txt || fail "trunk show: $(cat show.txt)"
grep -q "^Out min alg: *SHA-256$" show.txt || fail "trunk show: $(cat show.txt)"
"$CM" trunk list >trunks.txt || fail "trunk list"
grep -q "^t3 .* MD5 " trunks.txt || fail "trunk list: $(cat trunks.txt)"
"$CM" trunk set t3 --digest-algorithms SHA-512-256,SHA-256 \
    --out-min-algorithm default >/dev/null || fail "trunk set algs"
[ "$(sqlite3 "$DB" "select digest_algs || '/' || out_min_alg from trunks
    where name = 't3'")" = "SHA-512-256,SHA-256/" ] || fail "trunk set algs values"
expect_fail "$CM" trunk set t3 --out-min-algorithm SHA-256-sess
expect_fail "$CM" trunk set t3 --out-min-algorithm MD5,SHA-256
expect_fail "$CM" trunk set t3 --digest-algorithms SHA-256,sha-256
expect_usage "$CM" device set SEP001122334455 --out-min-algorithm MD5
"$CM" trunk remove t3 >/dev/null || fail "trunk remove t3"
expect_fail "$CM" trunk set kam --out-user ccm
grep -q "needs --out-realm" err || fail "out-user without realm: $(cat err)"
"$CM" trunk remove plain >/dev/null || fail "trunk remove"
expect_fail "$CM" trunk remove plain
no_secret "$PW1" "$PW2" "$PW3" "$PW4"
ok "trunk add, set, show, list, remove; outgoing password sealed"

# --- import: 1000 devices with digest users in one transaction
mkcsv() {	# mkcsv FILE N [BAD_LINE]: header + N rows; BAD_LINE spoils one
	python3 - "$@" <<'PYEOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
bad = int(sys.argv[3]) if len(sys.argv) > 3 else 0
rows = ["device,protocol,security,extension,digest_user,password,realm,"
    "digest_algorithms,presence_group"]
for i in range(n):
    rows.append("SEPC0FFEE%06d,sip,%s,%d,imp%d,imp-pw-%d-zq,ccmsipline,%s,%s"
        % (i, ["encrypted", "authenticated", "nonsecure"][i % 3], 50000 + i,
           i, i, "MD5" if i % 2 else "", '"Floor, %d"' % (i % 4)))
if bad:
    rows[bad - 1] = rows[bad - 1].replace(",sip,", ",h323,")
open(path, "w").write("\n".join(rows) + "\n")
PYEOF
	chmod 600 "$1"
}
ndev=$(sqlite3 "$DB" "select count(*) from devices")
nusr=$(sqlite3 "$DB" "select count(*) from digest_users")
mkcsv imp.csv 1000
"$CM" --secret-key "$KEY" import imp.csv >out || fail "import: $(cat out)"
grep -Eq "^imp.csv: imported 1000 devices \(1000 new, 0 updated\) and 1000 digest users \(1000 new, 0 updated\) in [0-9.]+ s \([0-9]+ rows/s\)$" out ||
    fail "import output: $(cat out)"
[ "$(sqlite3 "$DB" "select count(*) from devices")" -eq $((ndev + 1000)) ] ||
    fail "import device count"
[ "$(sqlite3 "$DB" "select count(*) from digest_users")" -eq $((nusr + 1000)) ] ||
    fail "import user count"
"$CM" device show SEPC0FFEE000007 --json | python3 -c 'import json,sys
d = json.load(sys.stdin)
assert d["security"] == "authenticated" and d["extension"] == "50007", d
assert d["digest_user"] == "imp7" and d["digest_algorithms"] == ["MD5"], d
assert d["presence_group"] == "Floor, 3", d' || fail "imported device values"
sqlite3 "$DB" "select ha1_md5, ha1_sha256, ha1_sha512_256 from digest_users
    where username like 'imp%'" | grep -v '^s1:[A-Za-z0-9+/=]*|s1:[A-Za-z0-9+/=]*|s1:[A-Za-z0-9+/=]*$' &&
    fail "imported HA1 not sealed (all three algorithms)"
no_secret imp-pw-7-zq imp-pw-999-zq "$(ha1 MD5 imp7 ccmsipline imp-pw-7-zq)" \
    "$(ha1 SHA-256 imp7 ccmsipline imp-pw-7-zq)"
# Re-import: devices and users updated; a user's feature flags stay.
"$CM" user set imp5 --realm ccmsipline --allow presence >/dev/null ||
    fail "user set imp5"
old=$(sqlite3 "$DB" "select ha1_md5 from digest_users where username = 'imp5'")
"$CM" --secret-key "$KEY" import imp.csv >out || fail "re-import"
grep -q "(0 new, 1000 updated) and 1000 digest users (0 new, 1000 updated)" out ||
    fail "re-import output: $(cat out)"
[ "$(sqlite3 "$DB" "select flags from digest_users where username = 'imp5'")" \
    = 8 ] || fail "re-import lost the user's flags"
[ "$(sqlite3 "$DB" "select ha1_md5 from digest_users where username = 'imp5'")" \
    != "$old" ] || fail "re-import did not reseal"
ok "import 1000 rows: devices, sealed HA1 for every algorithm, re-import"

# --- import is all or nothing, and refuses a file others may read
snap() { sqlite3 "$DB" "select group_concat(name || extension || digest_user ||
    secmode || digest_algs, ';') from devices; select group_concat(username
    || ha1_md5, ';') from digest_users"; }
before=$(snap)
mkcsv bad.csv 1000 1001
sed -i 's/,imp-pw-/,new-pw-/; s/,50000,/,60000,/' bad.csv
expect_fail "$CM" --secret-key "$KEY" import bad.csv
grep -q "bad.csv: line 1001: unknown device protocol \"h323\"" err ||
    fail "bad line: $(cat err)"
[ "$(snap)" = "$before" ] || fail "a bad last line left rows behind"
# A line the store refuses (an extension another device has) rolls
# back the lines written before it in the same transaction.
mkcsv clash.csv 3
printf 'SEPC0FFEEAAAAAA,sip,nonsecure,1001,,,,,\n' >>clash.csv
sed -i 's/,5000\([0-9]\),/,7000\1,/; s/SEPC0FFEE00/SEPC0FFEEBB/' clash.csv
expect_fail "$CM" --secret-key "$KEY" import clash.csv
grep -q "clash.csv: line 5: .*extension 1001 is already the line of device SEP001122334455" err ||
    fail "store refusal: $(cat err)"
[ "$(snap)" = "$before" ] || fail "a refused line left earlier lines behind"
# Duplicates inside the file, a missing header, a password without a user
mkcsv dup.csv 3
sed -n 3p dup.csv >>dup.csv
expect_fail "$CM" --secret-key "$KEY" import dup.csv
grep -q "line 5: device SEPC0FFEE000001 already on line 3" err ||
    fail "duplicate device: $(cat err)"
tail -n +2 imp.csv >nohdr.csv; chmod 600 nohdr.csv
expect_fail "$CM" --secret-key "$KEY" import nohdr.csv
grep -q "line 1: .* is not a column" err || fail "no header: $(cat err)"
printf 'device,protocol,security,extension,digest_user,password,realm\nSEPC0FFEECCCCCC,sip,nonsecure,7777,,secret-zz,r\n' >nouser.csv
chmod 600 nouser.csv
expect_fail "$CM" --secret-key "$KEY" import nouser.csv
grep -q "line 2: a password needs a digest_user" err || fail "$(cat err)"
# 0644: refused before anything is read or written, and said why
mkcsv loose.csv 5
chmod 644 loose.csv
expect_fail "$CM" --secret-key "$KEY" import loose.csv
grep -q "loose.csv: mode 0644: the file holds passwords.*chmod 600" err ||
    fail "0644 file: $(cat err)"
chmod 640 loose.csv
expect_fail "$CM" --secret-key "$KEY" import loose.csv
[ "$(snap)" = "$before" ] || fail "a refused file changed the store"
no_secret new-pw-5-zq secret-zz
ok "import: a bad line or a refused row rolls back all; 0644 refused"

# --- registrations: ccmd writes them; ccmctl lists them
"$CM" list registrations >regs.txt || fail "list registrations"
[ ! -s regs.txt ] || fail "registrations on an empty table: $(cat regs.txt)"
[ "$("$CM" list registrations --json)" = "[]" ] || fail "empty --json"
now=$(date +%s)
sqlite3 "$DB" "insert into registrations values ('1001', 'SEP001122334455',
    '<sip:1001@127.0.0.1:5062;transport=tls>', 'tls', '127.0.0.1:5062',
    'CN=SEP001122334455', $((now + 600)));
    insert into registrations values ('1002', 'SEP0011223344AA',
    '<sip:1002@127.0.0.1:5064>', 'tcp', '127.0.0.1:5064', '', $((now - 5)))"
"$CM" list registrations --json >regs.json || fail "list registrations --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
a, b = d
assert a["device"] == "SEP001122334455" and a["aor"] == "1001", a
assert a["transport"] == "tls" and a["certificate_subject"] == "CN=SEP001122334455", a
assert a["contact"] == "<sip:1001@127.0.0.1:5062;transport=tls>", a
assert 590 <= a["expires_in"] <= 600 and a["expires"].endswith("Z"), a
assert b["certificate_subject"] is None and b["expires_in"] == 0, b' \
    regs.json || fail "list registrations --json values"
"$CM" list registrations >regs.txt || fail "list registrations text"
grep -q "^SEP001122334455 .*1001 .*tls .*CN=SEP001122334455" regs.txt ||
    fail "registrations text: $(cat regs.txt)"
grep -q "^SEP0011223344AA .*expired" regs.txt || fail "expired not shown"
ok "list registrations (empty, text, JSON)"

# --- a version 1 store (before call control) is migrated on first use
V1=$T/v1.db
sqlite3 "$V1" "PRAGMA application_id = 1969451877;
CREATE TABLE devices (name TEXT PRIMARY KEY NOT NULL,
  proto INTEGER NOT NULL DEFAULT 1, secmode INTEGER NOT NULL DEFAULT 0,
  description TEXT NOT NULL DEFAULT '');
CREATE TABLE capf_tasks (device TEXT PRIMARY KEY NOT NULL
  REFERENCES devices(name) ON DELETE CASCADE, op INTEGER NOT NULL,
  auth INTEGER NOT NULL, key_type INTEGER NOT NULL,
  key_bits INTEGER NOT NULL, curve INTEGER NOT NULL,
  deadline INTEGER NOT NULL DEFAULT 0, status INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
  auth_fails INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0, pwhash TEXT NOT NULL DEFAULT '');
CREATE INDEX capf_tasks_deadline ON capf_tasks(deadline) WHERE deadline != 0;
CREATE TABLE certificates (serial TEXT PRIMARY KEY NOT NULL,
  device TEXT NOT NULL REFERENCES devices(name) ON DELETE CASCADE,
  state INTEGER NOT NULL, not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL, issued INTEGER NOT NULL,
  issuer TEXT NOT NULL, pem TEXT NOT NULL);
CREATE INDEX certificates_device ON certificates(device, issued);
CREATE TABLE trust (store TEXT NOT NULL, sha256 TEXT NOT NULL,
  subject TEXT NOT NULL, not_after INTEGER NOT NULL, pem TEXT NOT NULL,
  PRIMARY KEY (store, sha256));
INSERT INTO devices VALUES ('SEP00AABBCCDDEE', 0, 1, 'old phone');
INSERT INTO capf_tasks (device, op, auth, key_type, key_bits, curve)
  VALUES ('SEP00AABBCCDDEE', 2, 0, 0, 2048, 0);
PRAGMA user_version = 1;"
chmod 600 "$V1"
"$CM" --db "$V1" device list --json >v1.json || fail "device list on v1"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d == [{"name": "SEP00AABBCCDDEE", "protocol": "sip",
    "security": "authenticated", "extension": None, "digest_user": None,
    "presence_group": "Standard", "digest_algorithms": None}], d' v1.json ||
    fail "v1 device values"
[ "$(sqlite3 "$V1" "PRAGMA user_version")" = 2 ] || fail "v1 not migrated"
"$CM" --db "$V1" device set SEP00AABBCCDDEE --extension 2001 >/dev/null ||
    fail "device set on a migrated store"
"$CC" --db "$V1" show SEP00AABBCCDDEE | grep -q "^Operation: *fetch$" ||
    fail "CAPF task lost in the migration"
ok "a version 1 store migrates, its rows intact"
