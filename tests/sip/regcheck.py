#!/usr/bin/env python3
"""Check `ccmctl list registrations --json` output (a list of rows with
device, aor, contact, transport, source, certificate_subject, expires,
expires_in).

regcheck.py FILE DEVICE[:TRANSPORT[:PORT]] ...
  each DEVICE has exactly one live row; TRANSPORT defaults to tls, and
  then the certificate subject must have CN=DEVICE; with PORT the
  contact names 127.0.0.1:PORT.
regcheck.py FILE --absent DEVICE ...   no live row for DEVICE.
Exit 0 when all hold, else a one-line reason.
"""
import json
import sys


def main():
    rows = [r for r in json.load(open(sys.argv[1]))
            if r.get("expires_in", 1) > 0]
    args = sys.argv[2:]
    if args[:1] == ["--absent"]:
        for dev in args[1:]:
            if any(r.get("device") == dev for r in rows):
                sys.exit("%s is registered" % dev)
        return
    for a in args:
        dev, _, rest = a.partition(":")
        tp, _, port = rest.partition(":")
        tp = tp or "tls"
        mine = [r for r in rows if r.get("device") == dev]
        if len(mine) != 1:
            sys.exit("%s: %d live rows: %s" % (dev, len(mine), json.dumps(rows)))
        r = mine[0]
        if r.get("transport") != tp:
            sys.exit("%s: transport %s, want %s" % (dev, r.get("transport"), tp))
        subj = (r.get("certificate_subject") or "").replace(" ", "")
        if tp == "tls" and "CN=" + dev not in subj.split(",") and \
                "CN=" + dev not in subj.split("/"):
            sys.exit("%s: certificate subject %r lacks CN=%s"
                     % (dev, r.get("certificate_subject"), dev))
        if port and "127.0.0.1:%s" % port not in (r.get("contact") or ""):
            sys.exit("%s: contact %r is not 127.0.0.1:%s"
                     % (dev, r.get("contact"), port))


if __name__ == "__main__":
    main()
