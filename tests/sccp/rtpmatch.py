#!/usr/bin/env python3
"""rtpmatch.py SENT PLAIN: the RTP packets srtp-decrypt wrote (tshark
fields ssrc, seq, payload) against what the sender logged it sent
(sccp-phone/sip-phone --sent: "SSRC SEQ [PAYLOADHEX]" per line, SSRC in
hex).  Every decrypted packet of that SSRC must be one that was sent,
with the same payload where the log has it; at least 90 % of what was
sent must be there (the capture may miss the first or last few)."""
import sys

sent = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 2:
        continue
    sent[(int(f[0], 16), int(f[1], 0) & 0xFFFF)] = f[2].lower() if len(f) > 2 else None
if not sent:
    sys.exit("rtpmatch: nothing in " + sys.argv[1])
ssrcs = {s for s, _ in sent}
seen = 0
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    if len(f) < 2 or not f[0]:
        continue
    ssrc, seq = int(f[0], 16), int(f[1])
    if ssrc not in ssrcs:
        continue
    key = (ssrc, seq)
    if key not in sent:
        sys.exit("rtpmatch: decrypted ssrc %#x seq %d was never sent" % key)
    payload = f[2].replace(":", "").lower() if len(f) > 2 else ""
    if sent[key] is not None and payload != sent[key]:
        sys.exit("rtpmatch: ssrc %#x seq %d: payload differs" % key)
    seen += 1
if seen < 0.9 * len(sent):
    sys.exit("rtpmatch: %d of %d sent packets decrypted" % (seen, len(sent)))
print("rtpmatch: %d of %d sent packets decrypted and equal" % (seen, len(sent)))
