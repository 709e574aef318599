#!/usr/bin/env python3
"""Hostile and out-of-order Skinny input against ccmd's plain-TCP SCCP
listener (spec sccp-security 2, 1.2 item 6, 4).  Written independently of
lib/skinny.c: the bytes below follow the spec's tables directly.

usage: badinput.py HOST PORT DEVICE [DEVICE2 EXT2]
DEVICE is a registered-able nonsecure SCCP device (proto sccp,
security nonsecure); with DEVICE2 and its extension EXT2 (also
nonsecure), a call whose phones never acknowledge OpenReceiveChannel
must be ended by ccmd (media set-up timeout).  Prints one "ok - ..." line per case; exits 1 on the
first case that does not behave.
"""
import socket
import struct
import sys
import time

HOST, PORT, DEV = sys.argv[1], int(sys.argv[2]), sys.argv[3]
DEV2 = sys.argv[4] if len(sys.argv) > 5 else None
EXT2 = sys.argv[5] if len(sys.argv) > 5 else None
DEADLINE = 5.0


def msg(mid, payload=b"", ver=0):
    return struct.pack("<III", 4 + len(payload), ver, mid) + payload


def register(name, version=17):
    p = name.encode().ljust(16, b"\0")[:16]
    p += struct.pack("<II", 0, 1) + bytes([127, 0, 0, 1])
    p += struct.pack("<III", 115, 5, 0)
    p += bytes([version, 0]) + struct.pack("<H", 0)
    p += struct.pack("<II", 0, 0) + bytes(12)
    p += struct.pack("<II", 0, 1) + bytes(16) + struct.pack("<I", 0)
    p += b"SCCP41.9-4-2SR3S".ljust(32, b"\0") + bytes(48)
    assert len(p) == 172
    return msg(0x0001, p)


def conn():
    s = socket.create_connection((HOST, PORT), timeout=DEADLINE)
    s.settimeout(DEADLINE)
    return s


def read_msgs(s, until_id=None, limit=2.0):
    """Messages until until_id is seen, the peer closes, or limit s."""
    buf, out, end = b"", [], time.time() + limit
    closed = False
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not d:
            closed = True
            break
        buf += d
        while len(buf) >= 8:
            ln, _ = struct.unpack_from("<II", buf)
            if len(buf) < ln + 8:
                break
            mid = struct.unpack_from("<I", buf, 8)[0]
            out.append((mid, buf[12:ln + 8]))
            buf = buf[ln + 8:]
        if until_id is not None and any(m == until_id for m, _ in out):
            break
    return out, closed


def closed_soon(s, limit=3.0):
    _, closed = read_msgs(s, limit=limit)
    return closed


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


# 1. a truncated header, then the peer goes away: nothing to answer
s = conn()
s.sendall(b"\x10\x00\x00\x00\x00\x00")
s.close()
print("ok - truncated header sent and closed")

# 2. a length beyond the cap (spec 2 step 2): the connection is closed
s = conn()
s.sendall(struct.pack("<III", 0x10000, 0, 0x0001))
if not closed_soon(s):
    fail("length 65536 did not close the connection")
s.close()
print("ok - length beyond the cap closes the connection")

# 3. a length under 4: closed
s = conn()
s.sendall(struct.pack("<II", 2, 0) + b"\0\0")
if not closed_soon(s):
    fail("length 2 did not close the connection")
s.close()
print("ok - length under 4 closes the connection")

# 4. a call message before registration: closed, not answered
s = conn()
s.sendall(msg(0x0006))          # OffHook
out, closed = read_msgs(s, limit=3.0)
if not closed or out:
    fail("OffHook before Register: got %r, closed=%s" % (out, closed))
s.close()
print("ok - message before registration closes the connection")

# 4b. not even a KeepAlive keeps an unregistered connection open
s = conn()
s.sendall(msg(0x0000))
out, closed = read_msgs(s, limit=3.0)
if not closed or out:
    fail("KeepAlive before Register: got %r, closed=%s" % (out, closed))
s.close()
print("ok - KeepAlive before registration closes the connection")

# 5. a Register too short for its fixed part: rejected or closed
s = conn()
s.sendall(msg(0x0001, b"SEP0\0"))
out, closed = read_msgs(s, until_id=0x009D, limit=3.0)
if not closed and not any(m == 0x009D for m, _ in out):
    fail("short Register neither rejected nor closed: %r" % out)
s.close()
print("ok - truncated Register refused")

# 6. register for real; unknown ids are skipped, the phone stays up
a = conn()
a.sendall(register(DEV))
out, closed = read_msgs(a, until_id=0x0081)
if closed or not any(m == 0x0081 for m, _ in out):
    fail("Register of %s not acknowledged: %r" % (DEV, out))
ack = [p for m, p in out if m == 0x0081][0]
if ack[16] != 17:
    fail("RegisterAck version %d, want 17 (cap)" % ack[16])
a.sendall(msg(0x7FFF, b"junk") + msg(0x0000))   # unknown id, KeepAlive
out, closed = read_msgs(a, until_id=0x0100)
if closed or not any(m == 0x0100 for m, _ in out):
    fail("no KeepAliveAck after an unknown message id: %r" % out)
print("ok - unknown message id skipped, KeepAlive answered")

# 7. a second Register for the registered device (spec 1.2.6): the
# newcomer gets RegisterReject and is closed; the first stays
b = conn()
b.sendall(register(DEV))
out, closed = read_msgs(b, until_id=0x009D, limit=3.0)
if not any(m == 0x009D for m, _ in out):
    fail("second Register of %s not rejected: %r" % (DEV, out))
if not closed and not closed_soon(b):
    fail("rejected newcomer not closed")
b.close()
a.sendall(msg(0x0000))
out, closed = read_msgs(a, until_id=0x0100)
if closed or not any(m == 0x0100 for m, _ in out):
    fail("first session of %s lost after the crossover" % DEV)
print("ok - second registration rejected, first session kept")

# 8. Unregister: UnregisterAck status 0
a.sendall(msg(0x0027, struct.pack("<I", 0)))
out, _ = read_msgs(a, until_id=0x0118)
acks = [p for m, p in out if m == 0x0118]
if not acks or struct.unpack_from("<I", acks[0])[0] != 0:
    fail("Unregister not acknowledged with status 0: %r" % out)
a.close()
print("ok - Unregister acknowledged")

# 9. a call whose phones never acknowledge their OpenReceiveChannel:
# ccmd ends it (CallState on-hook to both) instead of waiting for ever
if DEV2 is not None:
    a = conn()
    a.sendall(register(DEV))
    b = conn()
    b.sendall(register(DEV2))
    for s_ in (a, b):
        out, closed = read_msgs(s_, until_id=0x0081)
        if closed or not any(m == 0x0081 for m, _ in out):
            fail("register for the media timeout case: %r" % out)
    a.sendall(msg(0x0006))                      # OffHook
    for d in EXT2:
        a.sendall(msg(0x0003, struct.pack("<III", int(d), 1, 0)))
    out, _ = read_msgs(b, until_id=0x0085, limit=8.0)    # SetRinger
    if not any(m == 0x0085 for m, _ in out):
        fail("%s not rung: %r" % (DEV2, [m for m, _ in out]))
    b.sendall(msg(0x0006))                      # answer; no ORC Ack
    t0 = time.time()
    ended = False
    while time.time() - t0 < 16 and not ended:
        out, closed = read_msgs(a, limit=1.0)
        for m, p in out:
            if m == 0x0111 and struct.unpack_from("<I", p)[0] == 2:
                ended = True
        if closed:
            break
    if not ended:
        fail("call without OpenReceiveChannelAck not ended within 16 s")
    print("ok - no OpenReceiveChannelAck: the call ended after %.0f s" %
          (time.time() - t0))
    a.close()
    b.close()
