# capfctl end to end on a throwaway store: add/set/show/list/remove
# round trips, JSON that parses, a 0600 database with no auth string in
# it, a 2000-row import and an all-or-nothing one, each refusal as one
# line, the capf trust store, and cert on a device without one.
. "$(dirname "$0")/lib.sh"
need sqlite3 python3 openssl
CC=$UCSEC_BIN/capfctl
DB=$T/ucsec.db
export UCSEC_DB="$DB"
cd "$T"
# Auth strings that cannot turn up by chance in hex, PEM or SQLite pages.
PW1=8675309192837465
PW2=5550123498761234
printf '%s\n' "$PW1" >pw1
printf '%s\r\n' "$PW2" >pw2
chmod 600 pw1 pw2

# no_secret: no auth string used here is anywhere in the store.
no_secret() {
	for f in "$DB"*; do
		for p in "$PW1" "$PW2" "$@"; do
			! grep -aqF "$p" "$f" || fail "auth string in $f"
		done
	done
	sqlite3 "$DB" .dump >dump.sql || fail "sqlite3 .dump"
	for p in "$PW1" "$PW2" "$@"; do
		! grep -qF "$p" dump.sql || fail "auth string in the dump"
	done
}

# --- usage: --help exits 0 on stdout; usage errors exit 2
"$CC" --help >out && grep -q "capfctl import" out || fail "--help"
"$CC" add --help >out && grep -q "password-file" out || fail "add --help"
"$CC" trust remove --help >out && grep -q "trust remove" out ||
    fail "trust remove --help"
for args in "" "bogus" "add" "add SEP001122334455 --op install" \
    "list --bogus" "list extra" "show SEP001122334455 --all" "trust" \
    "set SEP001122334455" \
    "add SEP001122334455 --op install --auth password" \
    "add SEP001122334455 --op install --auth none --password-file pw1" \
    "add SEP001122334455 --op install --auth password --password-file pw1 --password-prompt"; do
	rc=0
	# shellcheck disable=SC2086
	"$CC" $args >out 2>err || rc=$?
	[ "$rc" -eq 2 ] || fail "capfctl $args: exit $rc, want 2"
done
expect_fail "$CC" list
grep -q "no such database" err || fail "missing database: $(cat err)"
[ ! -e "$DB" ] || fail "list created the database"
ok "usage, --help, a missing database"

# --- add, show, list
"$CC" add SEP001122334455 --op install --auth password --password-file pw1 \
    --deadline 2099-12-01T12:00:00Z >out || fail "add with password file"
grep -q "SEP001122334455: install scheduled" out || fail "add output"
"$CC" add SEP0011223344AA --op fetch --auth lsc-or-mic --key ec:P-256 \
    >out 2>err || fail "add EC"
grep -q "trust list is version 1.1" err || fail "no EC warning: $(cat err)"
"$CC" add SEP0011223344BB --op delete --auth password --password "$PW2" \
    >out 2>err || fail "add with --password"
[ "$(grep -c 'password-file' err)" -eq 1 ] || fail "--password warning"
"$CC" --db "$DB" add SEP0011223344CC --op none --auth mic \
    --deadline 2099-01-01 >/dev/null || fail "add with --db first"
[ "$(stat -c %a "$DB")" = 600 ] || fail "database mode $(stat -c %a "$DB")"
"$CC" show SEP001122334455 >show.txt || fail "show"
grep -q "^Operation: *install$" show.txt || fail "show op"
grep -q "^Authentication: *password$" show.txt || fail "show auth"
grep -q "^Auth string: *set$" show.txt || fail "show auth string"
grep -q "^Deadline: *2099-12-01T12:00:00Z$" show.txt || fail "show deadline"
grep -q "^Attempts: *0$" show.txt || fail "show attempts"
grep -q "^Auth failures: *0$" show.txt || fail "show auth failures"
grep -q "^Locked until: *-$" show.txt || fail "show locked"
! grep -qi "pbkdf2" show.txt || fail "show prints the hash"
"$CC" show SEP0011223344AA --json >show.json || fail "show --json"
python3 -m json.tool show.json >/dev/null || fail "show --json parses"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["key"] == "ec:P-256" and d["auth"] == "lsc-or-mic", d
assert d["auth_string_set"] is False and d["current_cert"] is None, d' \
    show.json || fail "show --json values"
"$CC" list >list.txt || fail "list"
[ "$(grep -c '^SEP' list.txt)" -eq 4 ] || fail "list: $(cat list.txt)"
"$CC" list --json >list.json || fail "list --json"
python3 -m json.tool list.json >/dev/null || fail "list --json parses"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert [t["device"] for t in d] == ["SEP001122334455", "SEP0011223344AA",
    "SEP0011223344BB", "SEP0011223344CC"], d
assert all("pwhash" not in t for t in d)' list.json || fail "list --json values"
"$CC" list --status pending --json | python3 -m json.tool >/dev/null ||
    fail "list --status"
[ "$("$CC" list --status locked | wc -l)" -eq 0 ] || fail "list locked"
"$CC" list --status failed --json >empty.json &&
    python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == []' \
    empty.json || fail "empty list --json"
expect_fail "$CC" add SEP001122334455 --op fetch --auth none
grep -q "already has a CAPF operation" err || fail "add twice: $(cat err)"
no_secret
ok "add, show, list and JSON; mode 0600; no auth string stored"

# --- set changes only what is given; remove; unlock
"$CC" set SEP001122334455 --op fetch >/dev/null || fail "set --op"
"$CC" show SEP001122334455 >show.txt
grep -q "^Operation: *fetch$" show.txt || fail "set op"
grep -q "^Auth string: *set$" show.txt || fail "set kept the auth string"
grep -q "^Deadline: *2099-12-01T12:00:00Z$" show.txt || fail "set deadline kept"
"$CC" set SEP001122334455 --deadline none --key rsa:4096 >/dev/null ||
    fail "set --deadline none"
"$CC" show SEP001122334455 --json >show.json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["deadline"] is None and d["key"] == "rsa:4096", d
assert d["op"] == "fetch" and d["auth_string_set"], d' show.json ||
    fail "set values"
"$CC" set SEP001122334455 --auth mic >/dev/null || fail "set --auth mic"
"$CC" show SEP001122334455 | grep -q "^Auth string: *not set$" ||
    fail "auth mic keeps an auth string"
rc=0; "$CC" set SEP001122334455 --auth password 2>err || rc=$?
[ "$rc" -eq 2 ] || fail "set --auth password without one: exit $rc"
echo "$PW2" | "$CC" set SEP001122334455 --auth password \
    --password-file - >/dev/null || fail "set --password-file -"
"$CC" show SEP001122334455 | grep -q "^Auth string: *set$" ||
    fail "set from stdin"
expect_fail "$CC" set SEP0011223344DD --op fetch
grep -q "no CAPF operation" err || fail "set unknown: $(cat err)"
"$CC" unlock SEP001122334455 >out || fail "unlock"
grep -q "was not locked" out || fail "unlock output"
"$CC" remove SEP0011223344CC >/dev/null || fail "remove"
expect_fail "$CC" show SEP0011223344CC
grep -q "SEP0011223344CC: no CAPF operation" err || fail "show removed"
expect_fail "$CC" remove SEP0011223344CC
[ "$("$CC" list | grep -c '^SEP')" -eq 3 ] || fail "list after remove"
no_secret
ok "set changes only what it is given; unlock; remove"

# --- each refusal is one clear line, and changes nothing
expect_fail "$CC" add SEP001122334466 --op install --auth none \
    --deadline 2020-01-01
grep -q "deadline 2020-01-01 is in the past" err || fail "past: $(cat err)"
expect_fail "$CC" add SEP001122334466 --op install --auth none \
    --deadline 2099-02-30
grep -q "want 2026-12-01T12:00:00Z or 2026-12-01" err || fail "bad date"
expect_fail "$CC" add SEP001122334466 --op install --auth none --key rsa:2047
grep -q "rsa:2047" err || fail "bad key: $(cat err)"
expect_fail "$CC" add SEP001122334466 --op install --auth none --key dsa
expect_fail "$CC" add 'SEP00112233446!' --op install --auth none
grep -q "device name" err || fail "bad name: $(cat err)"
expect_fail "$CC" add "$(printf 'A%.0s' $(seq 64))" --op install --auth none
expect_fail "$CC" add SEP001122334466 --op instal --auth none
grep -q 'op "instal": want none, install, fetch or delete' err ||
    fail "bad op: $(cat err)"
expect_fail "$CC" add SEP001122334466 --op install --auth pin
grep -q 'auth "pin": want' err || fail "bad auth: $(cat err)"
printf '12\n' >short; chmod 600 short
expect_fail "$CC" add SEP001122334466 --op install --auth password \
    --password-file short
grep -q "4 to 16 digits" err || fail "short auth string: $(cat err)"
printf '12345678901234567\n' >long; chmod 600 long
expect_fail "$CC" add SEP001122334466 --op install --auth password \
    --password-file long
printf '12ab\n' >alpha; chmod 600 alpha
expect_fail "$CC" add SEP001122334466 --op install --auth password \
    --password-file alpha
expect_fail "$CC" list --status bogus
expect_fail "$CC" show SEP001122334466
ok "bad deadline, key, name, op, auth, auth string: one line each"

# --- import: 2000 rows in one go
python3 - "$PW1" <<'EOF' >big.csv
import sys
print("device,op,auth,password,key,deadline")
for i in range(2000):
    pw = sys.argv[1][:-4] + "%04d" % i if i % 40 == 0 else ""
    auth = "password" if pw else ("none", "lsc", "mic", "lsc-or-mic")[i % 4]
    key = ("rsa:2048", "", "rsa:1024", "ec:P-384")[i % 4]
    dl = "2099-06-01" if i % 3 == 0 else ""
    print("SEP%012X,install,%s,%s,%s,%s" % (0xA00000 + i, auth, pw, key, dl))
EOF
"$CC" import big.csv >out 2>err || fail "import: $(cat err)"
grep -q "imported 2000 devices (2000 new, 0 replaced)" out || fail "import: $(cat out)"
[ "$("$CC" list | grep -c '^SEP')" -eq 2003 ] || fail "import count"
"$CC" show SEP000000A00028 --json >show.json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["auth"] == "password" and d["auth_string_set"], d
assert d["key"] == "rsa:2048" and d["deadline"] is None, d' show.json ||
    fail "imported row 42"
"$CC" show SEP000000A00003 --json >show.json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["auth"] == "lsc-or-mic" and d["key"] == "ec:P-384", d
assert d["deadline"] == "2099-06-01T00:00:00Z", d' show.json ||
    fail "imported row 5"
no_secret "${PW1%????}0000" "${PW1%????}0040" "${PW1%????}1960"
ok "import of 2000 devices; no auth string stored"

# --- a bad line in the middle: nothing imported, the line named
cp "$DB" before.db
sqlite3 "$DB" 'select device, op, updated from capf_tasks order by device' \
    >before.txt
sed 's/^\(SEP\)\([0-9A-F]*\),install,/\1\2,fetch,/' big.csv >redo.csv
sed -i '1001s/,fetch,/,fetsh,/' redo.csv
expect_fail "$CC" import redo.csv
grep -q "redo.csv: line 1001: op \"fetsh\"" err || fail "bad line: $(cat err)"
sqlite3 "$DB" 'select device, op, updated from capf_tasks order by device' \
    >after.txt
cmp -s before.txt after.txt || fail "a failed import changed the store"
printf 'device,op,auth\nSEP000000000001,install,none\nSEP000000000001,fetch,none\n' \
    >dup.csv
expect_fail "$CC" import dup.csv
grep -q "line 3: device SEP000000000001 already on line 2" err ||
    fail "duplicate: $(cat err)"
printf 'device,op,auth\nSEP000000000001,install,"none"x\n' >quote.csv
expect_fail "$CC" import quote.csv
grep -q "quote.csv: line 2: field 3: text after the closing quote" err ||
    fail "CSV syntax: $(cat err)"
printf 'SEP000000000001,install,none\n' >nohdr.csv
expect_fail "$CC" import nohdr.csv
grep -q "line 1: " err || fail "no header: $(cat err)"
printf 'device,op,auth,password\nSEP000000000001,install,password,\n' >nopw.csv
expect_fail "$CC" import nopw.csv
grep -q "line 2: auth password needs an auth string" err || fail "no password"
printf 'device,op,auth,deadline\nSEP000000000001,install,none,2001-01-01\n' \
    >past.csv
expect_fail "$CC" import past.csv
grep -q "line 2: deadline 2001-01-01 is in the past" err || fail "past"
[ "$("$CC" list | grep -c '^SEP')" -eq 2003 ] || fail "count after failures"
expect_fail "$CC" --db "$T/fresh.db" import redo.csv
[ ! -e "$T/fresh.db" ] || fail "a failed import created the database"
printf 'device,op,auth\nSEP000000A00000,delete,none\nSEP000000B00000,fetch,mic\n' \
    >small.csv
"$CC" import small.csv >out || fail "re-import"
grep -q "imported 2 devices (1 new, 1 replaced)" out || fail "replace: $(cat out)"
"$CC" show SEP000000A00000 | grep -q "^Auth string: *not set$" ||
    fail "re-import kept an auth string for auth none"
ok "a bad line imports nothing and is named; re-import replaces"

# --- the capf trust store
"$CC" trust list >out || fail "trust list (empty)"
"$CC" trust add "$V/mfg-ca.crt" >out || fail "trust add"
fp=$(openssl x509 -in "$V/mfg-ca.crt" -noout -fingerprint -sha256 |
    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
grep -q "$fp" out || fail "trust add output: $(cat out)"
"$CC" trust add "$V/mfg-ca.crt" >out || fail "trust add again"
grep -q "already present" out || fail "trust add twice"
"$CC" trust list >out || fail "trust list"
grep -q "^$fp  2036-.*CN=Test Manufacturing CA" out ||
    fail "trust list: $(cat out)"
"$CC" trust list --json >trust.json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert len(d) == 1 and d[0]["sha256"] == sys.argv[2], d
assert d[0]["expired"] is False and "Manufacturing" in d[0]["subject"], d' \
    trust.json "$fp" || fail "trust list --json"
"$CC" trust remove "$fp" >/dev/null || fail "trust remove by SHA-256"
expect_fail "$CC" trust remove "$fp"
grep -q "no certificate with SHA-256 $fp" err || fail "remove twice"
"$CC" trust add "$V/mfg-ca.crt" >/dev/null
"$CC" trust remove "$V/mfg-ca.crt" >/dev/null || fail "trust remove by file"
"$CC" trust list --json | python3 -c 'import json,sys
assert json.load(sys.stdin) == []' || fail "trust store not empty"
expect_fail "$CC" trust add "$V/SEP0011223344AA.cnf.xml"
expect_fail "$CC" trust remove nosuch.crt
grep -q "neither a SHA-256 fingerprint" err || fail "remove nosuch"
ok "trust add, list, remove (by SHA-256 and by file)"

# --- cert on a device that has none
expect_fail "$CC" cert SEP001122334455
grep -q "SEP001122334455: no certificate" err || fail "cert: $(cat err)"
expect_fail "$CC" cert SEP001122334455 --all
expect_fail "$CC" cert SEP0099887766FF
[ ! -s out ] || fail "cert printed something"
no_secret
ok "cert on a device without a certificate fails with one line"

# --- --password-prompt: asked twice on the terminal, with echo off
cat >prompt.py <<'EOF2'
import os, pty, select, sys, time
def run(argv, answers):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out, end = b"", time.time() + 30
    for a in answers + [None]:
        got = b""
        while time.time() < end and (a is None or b": " not in got):
            r, _, _ = select.select([fd], [], [], 1)
            if not r:
                continue
            try:
                d = os.read(fd, 1024)
            except OSError:
                d = b""
            if not d:
                break
            got += d
        out += got
        if a is not None:
            os.write(fd, a)
    if time.time() >= end:
        os.kill(pid, 9)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), out
cc, db, pw = sys.argv[1], sys.argv[2], sys.argv[3].encode()
rc, out = run([cc, "--db", db, "add", "SEP0011223344F0", "--op", "install",
    "--auth", "password", "--password-prompt"], [pw + b"\n", pw + b"\n"])
assert rc == 0 and b"Again: " in out and pw not in out, (rc, out)
rc, out = run([cc, "--db", db, "set", "SEP0011223344F0",
    "--password-prompt"], [pw + b"\n", b"1234\n"])
assert rc == 1 and b"differ" in out and pw not in out, (rc, out)
EOF2
python3 prompt.py "$CC" "$DB" "$PW1" || fail "--password-prompt"
"$CC" show SEP0011223344F0 | grep -q "^Auth string: *set$" || fail "prompted"
no_secret
ok "--password-prompt asks twice without echo"
