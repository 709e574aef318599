# Sourced first by the ccmd tests (before lib.sh): re-run the test in a
# private network namespace with only loopback, so that ccmd takes the
# standard SIP ports and the phones' wildcard RTP/DNS sockets stay
# inside it.  Root uses unshare -n (CI); others a user namespace.
if [ -z "${UCSEC_SIP_NETNS:-}" ]; then
	command -v unshare >/dev/null 2>&1 ||
	    { echo "missing peer tool: unshare" >&2; exit 1; }
	export UCSEC_SIP_NETNS=1
	if [ "$(id -u)" -eq 0 ]; then
		exec unshare -n sh "$0" "$@"
	fi
	exec unshare -rn sh "$0" "$@"
fi
ip link set lo up || { echo "FAIL: cannot bring up lo in the namespace" >&2; exit 1; }
