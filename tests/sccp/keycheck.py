#!/usr/bin/env python3
"""keycheck.py KEYS.TXT KEYLOG DEVICE: the key blocks tshark decoded from
DEVICE's OpenReceiveChannel (0x105: its receive key) and
StartMediaTransmission (0x8a: its transmit key) must say algorithm 1,
key length 16, salt length 14, and their bytes must be the keys ccmd's
key log has for that direction (receive: *>DEVICE, transmit: DEVICE>*)."""
import base64
import sys

logged = {"rx": set(), "tx": set()}
for line in open(sys.argv[2]):
    f = dict(x.split("=", 1) for x in line.split() if "=" in x)
    frm, to = f["dir"].split(">")
    k = base64.b64decode(f["key"])
    if to == sys.argv[3]:
        logged["rx"].add(k)
    if frm == sys.argv[3]:
        logged["tx"].add(k)
n = 0
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if len(f) < 6 or not f[0]:
        continue
    mid = int(f[0], 0)
    if (int(f[1], 0), int(f[2], 0), int(f[3], 0)) != (1, 16, 14):
        sys.exit("keycheck: message %#x: algorithm/key/salt %s/%s/%s" % (mid, f[1], f[2], f[3]))
    key = bytes(int(x, 0) for x in f[4].split(","))
    salt = bytes(int(x, 0) for x in f[5].split(","))
    ks = key[:16] + salt[:14]
    want = logged["rx" if mid == 0x105 else "tx"]
    if ks not in want:
        sys.exit("keycheck: message %#x carries a key the key log does not have" % mid)
    n += 1
if n < 2:
    sys.exit("keycheck: want an ORC and an SMT with keys, got %d" % n)
print("keycheck: %d key blocks equal the key log" % n)
