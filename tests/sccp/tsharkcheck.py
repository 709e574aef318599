#!/usr/bin/env python3
"""tsharkcheck.py CAPTURE DUMP DEVICE VERSION: tshark's Skinny dissector
as the oracle for ccmd's plain-TCP SCCP.  In CAPTURE (a real capture of
port 2000): no malformed frame and no unknown message id; on DEVICE's
connection the message ids, in order and direction, equal the ones the
phone logged in DUMP (its text2pcap dump of what it sent and received);
Register carries DEVICE and VERSION, RegisterAck VERSION, and a
non-secure call's ORC/SMT key blocks are empty."""
import os
import subprocess
import sys
import tempfile

cap, dump, dev, ver = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
KNOWN = {0x0000, 0x0001, 0x0003, 0x0006, 0x0007, 0x000B, 0x000C, 0x000D,
         0x000E, 0x0010, 0x0020, 0x0022, 0x0025, 0x0026, 0x0027, 0x0028,
         0x002D, 0x0154, 0x0081, 0x0082, 0x0083, 0x0085, 0x0086, 0x0088,
         0x008A, 0x008B, 0x008F, 0x0092, 0x0093, 0x0094, 0x0097, 0x009B,
         0x009D, 0x009F, 0x0100, 0x0105, 0x0106, 0x0108, 0x0109, 0x0110,
         0x0111, 0x0112, 0x0116, 0x0118, 0x011D, 0x014A}


def fields(pcap, *f, filt=None):
    cmd = ["tshark", "-r", pcap, "-d", "tcp.port==2000,skinny", "-T", "fields",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    if filt:
        cmd += ["-Y", filt]
    for x in f:
        cmd += ["-e", x]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [l.split("\t") for l in out.splitlines()]


def fail(why):
    sys.exit("tsharkcheck: " + why)


bad = fields(cap, "frame.number", filt="_ws.malformed")
if bad:
    fail("malformed or error frames: %s" % bad[:5])
# the device's TCP stream: the one whose Register names it
st = fields(cap, "tcp.stream", filt='skinny.DeviceName == "%s" && skinny.messageId == 0x0001' % dev)
if not st:
    fail("no Register from %s in the capture" % dev)
stream = st[0][0]
rows = fields(cap, "tcp.dstport", "skinny.messageId",
              filt="tcp.stream == %s && skinny" % stream)
seq = []
for port, ids in rows:
    for i in ids.split(","):
        mid = int(i, 0)
        if mid not in KNOWN:
            fail("unknown message id %#x" % mid)
        seq.append(("ps" if port == "2000" else "sp", mid))
# the phone's own record of the same connection
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, "dump.pcap")
    subprocess.run(["text2pcap", "-q", "-D", "-T", "2000,40000", dump, p], check=True)
    rows2 = fields(p, "tcp.dstport", "skinny.messageId", filt="skinny")
seq2 = []
for port, ids in rows2:
    for i in ids.split(","):
        seq2.append(("ps" if port == "2000" else "sp", int(i, 0)))
# each direction in order (the two directions interleave differently on
# the wire and in the phone's record)
for d in ("ps", "sp"):
    a = [m for x, m in seq if x == d]
    b = [m for x, m in seq2 if x == d]
    if a != b:
        fail("%s message ids differ:\n capture %s\n phone   %s" % (d, a, b))
reg = fields(cap, "skinny.DeviceName", "skinny.protocolVer",
             filt="tcp.stream == %s && skinny.messageId == 0x0001" % stream)
if reg[0][0] != dev or reg[0][1] != ver:
    fail("Register: device/version %s, want %s/%s" % (reg[0], dev, ver))
ack = fields(cap, "skinny.maxProtocolVer",
             filt="tcp.stream == %s && skinny.messageId == 0x0081" % stream)
if not ack or ack[0][0] != ver:
    fail("RegisterAck version %s, want %s" % (ack, ver))
keys = fields(cap, "skinny.algorithmID", "skinny.keylen",
              filt="tcp.stream == %s && (skinny.messageId == 0x0105 || skinny.messageId == 0x008a)" % stream)
algs = [v for k in keys for v in k[0].split(",") if v]
lens = [v for k in keys for v in k[1].split(",") if v]
if len(algs) < 2 or len(lens) < 2:
    fail("want ORC and SMT key blocks on the non-secure call, got %s" % keys)
if any(int(v, 0) != 0 for v in algs + lens):
    fail("keys on a non-secure connection: %s" % keys)
print("tsharkcheck: %d messages, ids and direction equal, %s v%s, key blocks empty" % (len(seq), dev, ver))
