# Sourced by each integration test.  Gives a temp dir ($T), a private
# SoftHSM configuration, and small assertion helpers.  Every wait is
# bounded; every server binds to loopback only.
set -eu
: "${UCSEC_BIN:?}" "${UCSEC_VECTORS:?}"
T=$(mktemp -d /tmp/ucsec-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
V=$UCSEC_VECTORS
CTL=$UCSEC_BIN/ctlclient
TOK=$UCSEC_BIN/tokenctl
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# libp11 0.4.12 leaks its own bookkeeping at exit; see tests/lsan.supp.
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")/.." && pwd)/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || { echo "missing peer tool: $p" >&2; exit 1; }
	done
}

# softhsm_init: a private token store under $T; tokens made by init_token.
softhsm_init() {
	mkdir -p "$T/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	    "$T/tokens" >"$T/softhsm2.conf"
	export SOFTHSM2_CONF="$T/softhsm2.conf"
	export PKCS11_MODULE="$SOFTHSM_MODULE"
}

# init_token LABEL [PIN]: a fresh SoftHSM token (SO PIN 12345678).
init_token() {
	softhsm2-util --init-token --free --label "$1" --so-pin 12345678 \
	    --pin "${2:-1234}" >/dev/null
}

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# expect_fail CMD...: the command must exit 1 (not crash, not succeed)
# with exactly one line on stderr; output saved in $T/out and $T/err.
expect_fail() {
	rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 1 ] || fail "want exit 1, got $rc: $* ($(cat "$T/err"))"
	n=$(wc -l <"$T/err")
	[ "$n" -eq 1 ] || fail "want one error line, got $n: $*: $(cat "$T/err")"
}
