#!/usr/bin/env python3
"""Drive a headless baresip through its ctrl_tcp module.

baresip's ctrl_tcp takes one connection at a time and sends events only
to it, so one "serve" process per phone keeps that connection, appends
every event to a JSON-lines file and relays commands from a unix socket.
The shell test then uses the short-lived subcommands:

  bsctl.py serve --ctrl HOST:PORT --sock PATH --events FILE [--timeout S]
      connect (retrying up to --timeout s), then run until baresip goes
      away or a "quit" arrives on the socket.
  bsctl.py cmd SOCK COMMAND [PARAMS]
      one ctrl_tcp command; prints the response's data; exit 0 iff ok.
  bsctl.py wait FILE TYPE [--from N] [--param TEXT] [--timeout S]
      wait for an event of TYPE after the first N lines of FILE whose
      param contains TEXT; prints it; exit 1 on timeout (and prints the
      events seen meanwhile on stderr).
  bsctl.py lines FILE        the number of events recorded so far.
  bsctl.py quit SOCK         stop the serve process.

Messages on the wire are netstrings ("LEN:JSON,").  Every wait is bounded.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

MAXMSG = 1 << 20


class Netstrings:
    """Read netstrings from a stream socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("ctrl_tcp closed")
        self.buf += d

    def read(self):
        while True:
            colon = self.buf.find(b":")
            if colon > 0:
                head = self.buf[:colon]
                if not head.isdigit() or colon > 8:
                    raise ValueError("bad netstring length %r" % head[:16])
                n = int(head)
                if n > MAXMSG:
                    raise ValueError("netstring too long: %d" % n)
                if len(self.buf) >= colon + 1 + n + 1:
                    body = self.buf[colon + 1:colon + 1 + n]
                    if self.buf[colon + 1 + n:colon + 2 + n] != b",":
                        raise ValueError("netstring without ','")
                    self.buf = self.buf[colon + 2 + n:]
                    return body
            elif colon == 0 or len(self.buf) > 8:
                raise ValueError("bad netstring start %r" % self.buf[:16])
            self._fill()


def netstring(obj):
    b = json.dumps(obj).encode()
    return str(len(b)).encode() + b":" + b + b","


def connect_retry(host, port, timeout):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            return socket.create_connection((host, port), timeout=2)
        except OSError as e:
            last = e
            time.sleep(0.1)
    raise SystemExit("bsctl: cannot connect to ctrl_tcp %s:%d: %s"
                     % (host, port, last))


def serve(args):
    host, port = args.ctrl.rsplit(":", 1)
    s = connect_retry(host, int(port), args.timeout)
    s.settimeout(None)
    rd = Netstrings(s)
    ev = open(args.events, "a", buffering=1)
    lock = threading.Lock()
    waiting = {}          # token -> [threading.Event, response]
    done = threading.Event()

    def reader():
        try:
            while True:
                body = rd.read()
                try:
                    msg = json.loads(body)
                except ValueError:
                    ev.write(json.dumps({"type": "BSCTL_BADJSON",
                                         "raw": body.decode("latin-1")})
                             + "\n")
                    continue
                if msg.get("response"):
                    tok = str(msg.get("token", ""))
                    with lock:
                        w = waiting.get(tok)
                    if w:
                        w[1] = msg
                        w[0].set()
                elif msg.get("event") or "type" in msg:
                    msg["t"] = round(time.time(), 3)
                    ev.write(json.dumps(msg) + "\n")
        except (EOFError, OSError, ValueError) as e:
            ev.write(json.dumps({"type": "BSCTL_CLOSED",
                                 "param": str(e)}) + "\n")
        done.set()

    threading.Thread(target=reader, daemon=True).start()

    try:
        os.unlink(args.sock)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(args.sock)
    ls.listen(8)
    ls.settimeout(0.2)
    ev.write(json.dumps({"type": "BSCTL_READY"}) + "\n")
    seq = 0
    while not done.is_set():
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        with c:
            c.settimeout(5)
            try:
                req = json.loads(c.makefile("rb").readline())
            except (ValueError, OSError):
                continue
            if req.get("command") == "bsctl-quit":
                c.sendall(b'{"ok":true}\n')
                break
            seq += 1
            tok = str(seq)
            w = [threading.Event(), None]
            with lock:
                waiting[tok] = w
            cmd = {"command": req["command"], "token": tok}
            if req.get("params") is not None:
                cmd["params"] = req["params"]
            try:
                s.sendall(netstring(cmd))
            except OSError as e:
                c.sendall((json.dumps({"ok": False, "data": str(e)})
                           + "\n").encode())
                continue
            w[0].wait(req.get("timeout", 10))
            with lock:
                del waiting[tok]
            resp = w[1] or {"ok": False, "data": "bsctl: no response"}
            try:
                c.sendall((json.dumps(resp) + "\n").encode())
            except OSError:
                pass
    ls.close()
    os.unlink(args.sock)
    s.close()
    return 0


def call(sockpath, req, timeout=15):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(timeout)
    c.connect(sockpath)
    c.sendall((json.dumps(req) + "\n").encode())
    line = c.makefile("rb").readline()
    c.close()
    if not line:
        raise SystemExit("bsctl: no answer from %s" % sockpath)
    return json.loads(line)


def cmd(args):
    params = " ".join(args.params) if args.params else None
    r = call(args.sock, {"command": args.command, "params": params,
                         "timeout": args.timeout}, args.timeout + 5)
    data = r.get("data", "")
    if data:
        sys.stdout.write(data if data.endswith("\n") else data + "\n")
    return 0 if r.get("ok") else 1


def read_events(path):
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return []
    out = []
    for ln in lines[:-1]:          # the last piece may be partial
        try:
            out.append(json.loads(ln))
        except ValueError:
            out.append({"type": "BSCTL_BADLINE", "raw": ln})
    return out


def wait(args):
    end = time.monotonic() + args.timeout
    types = args.type.split("|")
    while True:
        evs = read_events(args.file)
        for e in evs[args.start:]:
            if e.get("type") in types and \
                    (args.param is None or args.param in str(e.get("param", ""))):
                print(json.dumps(e))
                return 0
            if args.fail_on and e.get("type") in args.fail_on.split("|"):
                sys.stderr.write("bsctl: got %s while waiting for %s: %s\n"
                                 % (e.get("type"), args.type, json.dumps(e)))
                return 1
        if time.monotonic() > end:
            break
        time.sleep(0.05)
    sys.stderr.write("bsctl: no %s%s within %gs; events after line %d:\n"
                     % (args.type, " (%s)" % args.param if args.param else "",
                        args.timeout, args.start))
    for e in read_events(args.file)[args.start:]:
        sys.stderr.write("  %s\n" % json.dumps(e))
    return 1


def lines(args):
    print(len(read_events(args.file)))
    return 0


def quit_(args):
    try:
        call(args.sock, {"command": "bsctl-quit"}, 5)
    except OSError:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser(prog="bsctl.py")
    sub = ap.add_subparsers(dest="sub", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--ctrl", required=True)
    p.add_argument("--sock", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--timeout", type=float, default=10)
    p.set_defaults(fn=serve)
    p = sub.add_parser("cmd")
    p.add_argument("sock")
    p.add_argument("command")
    p.add_argument("params", nargs="*")
    p.add_argument("--timeout", type=float, default=10)
    p.set_defaults(fn=cmd)
    p = sub.add_parser("wait")
    p.add_argument("file")
    p.add_argument("type", help="TYPE or TYPE1|TYPE2")
    p.add_argument("--from", dest="start", type=int, default=0)
    p.add_argument("--param")
    p.add_argument("--fail-on", help="TYPE|TYPE: fail at once on these")
    p.add_argument("--timeout", type=float, default=10)
    p.set_defaults(fn=wait)
    p = sub.add_parser("lines")
    p.add_argument("file")
    p.set_defaults(fn=lines)
    p = sub.add_parser("quit")
    p.add_argument("sock")
    p.set_defaults(fn=quit_)
    args = ap.parse_args()
    sys.exit(args.fn(args))


if __name__ == "__main__":
    main()
