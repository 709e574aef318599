#!/usr/bin/env python3
"""Send one raw SIP request and print the final response.

sipsend.py [--tcp] [--timeout S] [--local PORT] HOST:PORT FILE|-

The request text is read from FILE ("-": stdin).  Line ends become CRLF;
"@BRANCH@", "@CALLID@", "@TAG@" are replaced by fresh random values and
"@LPORT@" by the local port; "Content-Length: auto" is filled in.  The
request is sent as is otherwise: headers may be malformed on purpose.
Provisional responses are skipped; UDP retransmits at 0.5, 1, 2 s.
Prints the final response; exit 0 if one came, 1 on timeout.

sipsend.py --digest ALG USER REALM PASSWORD METHOD URI NONCE NC CNONCE
    prints the qop=auth digest response (MD5, SHA-256, SHA-512-256).
"""
import hashlib
import os
import socket
import sys
import time


def digest(alg, user, realm, pw, method, uri, nonce, nc, cnonce):
    name = {"MD5": "md5", "SHA-256": "sha256",
            "SHA-512-256": "sha512_256"}[alg]

    def h(s):
        return hashlib.new(name, s.encode()).hexdigest()
    ha1 = h("%s:%s:%s" % (user, realm, pw))
    ha2 = h("%s:%s" % (method, uri))
    return h("%s:%s:%s:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))


def build(text, lport):
    rnd = os.urandom(8).hex()
    text = (text.replace("@BRANCH@", "z9hG4bK" + rnd)
            .replace("@CALLID@", rnd + "@sipsend")
            .replace("@TAG@", rnd[:8])
            .replace("@LPORT@", str(lport)))
    lines = text.replace("\r\n", "\n").split("\n")
    try:
        end = lines.index("")
    except ValueError:
        end = len(lines)
    head, body = lines[:end], "\r\n".join(lines[end + 1:])
    out = []
    for ln in head:
        if ln.lower().replace(" ", "") == "content-length:auto":
            ln = "Content-Length: %d" % len(body.encode())
        out.append(ln)
    return ("\r\n".join(out) + "\r\n\r\n" + body).encode()


def status(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def read_tcp(s, buf):
    """One message from a stream: (message, rest)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None, buf
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for ln in head.split(b"\r\n"):
        k, _, v = ln.partition(b":")
        if k.strip().lower() in (b"content-length", b"l"):
            n = int(v.strip() or 0)
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    return head + b"\r\n\r\n" + rest[:n], rest[n:]


def main():
    a = sys.argv[1:]
    if a[:1] == ["--digest"]:
        print(digest(*a[1:10]))
        return 0
    tcp, timeout, lport = False, 5.0, 0
    while a and a[0].startswith("--"):
        if a[0] == "--tcp":
            tcp = True
            a = a[1:]
        elif a[0] == "--timeout":
            timeout = float(a[1])
            a = a[2:]
        elif a[0] == "--local":
            lport = int(a[1])
            a = a[2:]
        else:
            sys.exit("sipsend: unknown option " + a[0])
    host, port = a[0].rsplit(":", 1)
    text = sys.stdin.read() if a[1] == "-" else open(a[1]).read()
    end = time.monotonic() + timeout
    if tcp:
        s = socket.create_connection((host, int(port)), timeout=timeout)
        msg = build(text, s.getsockname()[1])
        s.sendall(msg)
        buf = b""
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                m, buf = read_tcp(s, buf)
            except socket.timeout:
                break
            if m is None:
                sys.stderr.write("sipsend: connection closed\n")
                return 1
            if status(m) >= 200:
                sys.stdout.write(m.decode("utf-8", "replace"))
                return 0
        sys.stderr.write("sipsend: no final response\n")
        return 1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", lport))
    msg = build(text, s.getsockname()[1])
    s.sendto(msg, (host, int(port)))
    resend = [time.monotonic() + t for t in (0.5, 1.5, 3.5)]
    while time.monotonic() < end:
        now = time.monotonic()
        if resend and now >= resend[0]:
            s.sendto(msg, (host, int(port)))
            resend.pop(0)
        s.settimeout(max(0.01, min([end] + resend[:1]) - now))
        try:
            d, _ = s.recvfrom(65536)
        except socket.timeout:
            continue
        if status(d) >= 200:
            sys.stdout.write(d.decode("utf-8", "replace"))
            return 0
        if status(d) >= 100:
            resend = []
    sys.stderr.write("sipsend: no final response\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
