#!/usr/bin/env python3
"""Checks records printed by `noxsync history ID --json` against the hash chain,
with nothing but Python's standard library: an auditor's independent check of
the format in docs/event-log.md.

  noxsync history inc_00000001 --json | scripts/check-chain.py

Each record's hash must be SHA-256(prev_hash || canonical bytes). Records of one
incident are not consecutive, so this proves each record is the one the chain
holds at its seq; `noxsync verify` proves the links between all of them.
"""
import hashlib
import json
import struct
import sys


def canonical(r):
    def field(s):
        b = s.encode("utf-8")
        return struct.pack(">I", len(b)) + b

    return (bytes([1]) + struct.pack(">Q", r["seq"]) + struct.pack(">q", r["time_us"])
            + field(r["type"]) + field(r["incident"]) + field(r["payload"]))


def main():
    doc = json.load(sys.stdin)
    bad = 0
    for r in doc["records"]:
        h = hashlib.sha256(bytes.fromhex(r["prev_hash"]) + canonical(r)).hexdigest()
        ok = h == r["hash"]
        bad += not ok
        print(f"seq {r['seq']:>8}  {r['type']:<20} {'ok' if ok else 'MISMATCH: computed ' + h}")
    print(f"{len(doc['records']) - bad} of {len(doc['records'])} records match their hash")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
