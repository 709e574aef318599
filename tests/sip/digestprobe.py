#!/usr/bin/env python3
"""REGISTER against a digest registrar and bend the answer to its challenge.

digestprobe.py [--tcp] HOST:PORT --ext EXT --user U --password P [options]

  --alg ALG        answer the challenge for ALG (default: the first one)
  --nonce-from ALG but take the nonce (and opaque) of ALG's challenge
  --realm R        claim realm R (the response is computed with R)
  --no-qop         answer RFC 2069 style: no qop, nc, cnonce
  --uri U          digest uri (default: the Request-URI)
  --opaque X       echo X instead of the issued opaque
  --wait S         wait S seconds before answering
  --nc HEX         nc of the first answer (default 00000001)
  --replay         then send the same Authorization again (new branch,
                   next CSeq)
  --next-nc HEX    then answer the same nonce again with this nc
  --tries N        answer N times, each to the last challenge (a wrong
                   password keeps failing)
  --expires N      Expires of the REGISTER (default 600)

Prints one line per transaction, e.g.
  challenge 401 algs=SHA-256,MD5 qop=auth nonces=distinct
  auth 200
  replay 401 stale=false
A step with no final response in 5 s prints "STEP timeout" and the probe
exits 1.  One connection (TCP) or socket (UDP) carries every step.
"""
import argparse
import hashlib
import os
import re
import socket
import sys
import time

HASH = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def h(alg, s):
    return hashlib.new(HASH[alg], s.encode()).hexdigest()


class Peer:
    def __init__(self, target, tcp):
        host, port = target.rsplit(":", 1)
        self.dst = (host, int(port))
        self.tcp = tcp
        if tcp:
            self.s = socket.create_connection(self.dst, timeout=5)
        else:
            self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.s.bind(("127.0.0.1", 0))
        self.lport = self.s.getsockname()[1]
        self.buf = b""

    def _read_tcp(self, end):
        while True:
            if b"\r\n\r\n" in self.buf:
                head, rest = self.buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)",
                              head)
                n = int(m.group(1)) if m else 0
                if len(rest) >= n:
                    self.buf = rest[n:]
                    return head + b"\r\n\r\n" + rest[:n]
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return None
            if not d:
                return None
            self.buf += d

    def request(self, msg, timeout=5.0):
        """Send; return the final response (text) or None."""
        end = time.monotonic() + timeout
        self.s.sendall(msg) if self.tcp else self.s.sendto(msg, self.dst)
        resend = [time.monotonic() + t for t in (0.5, 1.5, 3.5)]
        while time.monotonic() < end:
            if self.tcp:
                d = self._read_tcp(end)
                if d is None:
                    return None
            else:
                now = time.monotonic()
                if resend and now >= resend[0]:
                    self.s.sendto(msg, self.dst)
                    resend.pop(0)
                self.s.settimeout(max(0.01, min([end] + resend[:1]) - now))
                try:
                    d, _ = self.s.recvfrom(65536)
                except socket.timeout:
                    continue
            t = d.decode("utf-8", "replace")
            code = int(t.split(" ", 2)[1]) if t.startswith("SIP/2.0 ") else 0
            if code >= 200:
                return t
            if code >= 100:
                resend = []
        return None


def headers(resp, name):
    return [m.group(1).strip() for m in
            re.finditer(r"(?im)^%s[ \t]*:(.*)$" % re.escape(name), resp)]


def params(chal):
    d = {}
    for m in re.finditer(r'([A-Za-z-]+)[ \t]*=[ \t]*("([^"]*)"|[^, \t]+)', chal):
        d[m.group(1).lower()] = m.group(3) if m.group(3) is not None \
            else m.group(2)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("--tcp", action="store_true")
    ap.add_argument("--ext", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--alg")
    ap.add_argument("--nonce-from")
    ap.add_argument("--realm")
    ap.add_argument("--no-qop", action="store_true")
    ap.add_argument("--uri")
    ap.add_argument("--opaque")
    ap.add_argument("--wait", type=float, default=0)
    ap.add_argument("--nc", default="00000001")
    ap.add_argument("--replay", action="store_true")
    ap.add_argument("--next-nc")
    ap.add_argument("--tries", type=int, default=1)
    ap.add_argument("--expires", type=int, default=600)
    a = ap.parse_args()

    p = Peer(a.target, a.tcp)
    tp = "TCP" if a.tcp else "UDP"
    ruri = "sip:%s:%d" % p.dst
    callid = os.urandom(8).hex() + "@digestprobe"
    ftag = os.urandom(4).hex()
    cseq = [0]

    def register(auth=None):
        cseq[0] += 1
        lines = [
            "REGISTER %s SIP/2.0" % ruri,
            "Via: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK%s;rport"
            % (tp, p.lport, os.urandom(8).hex()),
            "Max-Forwards: 70",
            "From: <sip:%s@%s>;tag=%s" % (a.ext, p.dst[0], ftag),
            "To: <sip:%s@%s>" % (a.ext, p.dst[0]),
            "Call-ID: " + callid,
            "CSeq: %d REGISTER" % cseq[0],
            "Contact: <sip:%s@127.0.0.1:%d;transport=%s>"
            % (a.ext, p.lport, tp.lower()),
            "Expires: %d" % a.expires,
        ]
        if auth:
            lines.append("Authorization: " + auth)
        lines += ["Content-Length: 0", "", ""]
        return p.request("\r\n".join(lines).encode())

    def step(name, resp, extra=""):
        if resp is None:
            print("%s timeout" % name)
            sys.stdout.flush()
            sys.exit(1)
        code = resp.split(" ", 2)[1]
        www = headers(resp, "WWW-Authenticate")
        stale = ""
        if code in ("401", "407") and www:
            st = params(www[0]).get("stale", "false").lower()
            stale = " stale=%s" % st
        print("%s %s%s%s" % (name, code, stale, extra))
        sys.stdout.flush()
        return resp

    r = register()
    www = headers(r or "", "WWW-Authenticate")
    chals = [params(w) for w in www]
    algs = [c.get("algorithm", "MD5") for c in chals]
    nonces = [c.get("nonce") for c in chals]
    info = " algs=%s qop=%s nonces=%s" % (
        ",".join(algs), ",".join(sorted({c.get("qop", "") for c in chals})),
        "distinct" if len(set(nonces)) == len(nonces) else "shared")
    step("challenge", r, info if chals else "")
    if not chals:
        return 1

    def answer(chal, nc):
        alg = chal.get("algorithm", "MD5")
        realm = a.realm or chal["realm"]
        uri = a.uri or ruri
        ha1 = h(alg, "%s:%s:%s" % (a.user, realm, a.password))
        ha2 = h(alg, "REGISTER:%s" % uri)
        f = ['username="%s"' % a.user, 'realm="%s"' % realm,
             'nonce="%s"' % chal["nonce"], 'uri="%s"' % uri]
        if a.no_qop:
            resp = h(alg, "%s:%s:%s" % (ha1, chal["nonce"], ha2))
        else:
            cn = os.urandom(8).hex()
            resp = h(alg, "%s:%s:%s:%s:auth:%s" % (ha1, chal["nonce"], nc,
                                                  cn, ha2))
            f += ['cnonce="%s"' % cn, "qop=auth", "nc=%s" % nc]
        f += ['response="%s"' % resp, "algorithm=%s" % alg]
        op = a.opaque if a.opaque is not None else chal.get("opaque")
        if op is not None:
            f.append('opaque="%s"' % op)
        return "Digest " + ", ".join(f)

    chal = chals[0]
    if a.alg:
        pick = [c for c in chals if c.get("algorithm", "MD5") == a.alg]
        if not pick:
            print("no %s challenge" % a.alg)
            return 1
        chal = dict(pick[0])
    if a.nonce_from:
        src = [c for c in chals if c.get("algorithm", "MD5") == a.nonce_from]
        if not src:
            print("no %s challenge" % a.nonce_from)
            return 1
        chal["nonce"] = src[0]["nonce"]
        if "opaque" in src[0]:
            chal["opaque"] = src[0]["opaque"]
    if a.wait:
        time.sleep(a.wait)
    for i in range(a.tries):
        auth = answer(chal, a.nc)
        r = step("auth", register(auth))
        nw = [params(w) for w in headers(r, "WWW-Authenticate")]
        if a.alg:
            nw = [c for c in nw if c.get("algorithm", "MD5") == a.alg]
        if i + 1 < a.tries and nw:
            chal = nw[0]
    if a.replay:
        step("replay", register(auth))
    if a.next_nc:
        step("next-nc", register(answer(chal, a.next_nc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
