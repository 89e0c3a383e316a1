#!/usr/bin/env python3
"""Checks log records against the hash chain, with nothing but Python's
standard library: an auditor's independent check of the format in
docs/event-log.md.

  noxsync history inc_00000001 --json | scripts/check-chain.py
  curl ... /v1/incidents/inc_00000001/history | scripts/check-chain.py
  curl ... '/v1/audit?cursor=1' | scripts/check-chain.py --head "$(curl ... /v1/audit/head)"

Input: a JSON document with "records" (an incident's history), or NDJSON,
one record per line (the audit stream, pages concatenated in order).

Each record's hash must be SHA-256(prev_hash || canonical bytes). Where two
records follow each other (seq n and n+1, as in the audit stream), the
second's prev_hash must be the first's hash: a run of consecutive records is
checked link by link, as `noxsync verify` checks the whole log. With --head
(the JSON of /v1/audit/head, or SEQ:HASH), the record at the head's seq must
have the head's hash: kept outside the store's host, the head is what makes
rewriting the whole tail consistently detectable.

Exit 0 when every check passes, 1 when one fails, 2 on unreadable input.
"""
import argparse
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


def read_records(text):
    """The records of a history document or of an NDJSON stream."""
    stripped = text.lstrip()
    if not stripped:
        return []
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and "records" in doc:
        return doc["records"]
    if isinstance(doc, dict) and "seq" in doc:
        return [doc]  # a stream of one record
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"line {n} is not JSON ({e.msg}): expected a history document or NDJSON records")
    return records


def parse_head(text):
    """{"seq":N,"hash":"..."} as /v1/audit/head answers it, or SEQ:HASH."""
    text = text.strip()
    if text.startswith("{"):
        head = json.loads(text)
        return int(head["seq"]), head["hash"].lower()
    seq, _, digest = text.partition(":")
    return int(seq), digest.lower()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--head", help='the chain head: the JSON of /v1/audit/head, or SEQ:HASH')
    ap.add_argument("-q", "--quiet", action="store_true", help="print only what fails, and the summary")
    args = ap.parse_args()
    try:
        records = read_records(sys.stdin.read())
        head = parse_head(args.head) if args.head else None
        for r in records:
            for k in ("seq", "time_us", "type", "incident", "payload", "prev_hash", "hash"):
                if k not in r:
                    raise ValueError(f"a record has no \"{k}\" (seq {r.get('seq', '?')}): not a noxsync log record")
    except (ValueError, KeyError, TypeError) as e:
        print(f"check-chain: {e}", file=sys.stderr)
        return 2

    bad_hash = bad_link = 0
    links = 0
    prev = None
    for r in records:
        h = hashlib.sha256(bytes.fromhex(r["prev_hash"]) + canonical(r)).hexdigest()
        ok = h == r["hash"]
        bad_hash += not ok
        if not ok or not args.quiet:
            print(f"seq {r['seq']:>8}  {r['type']:<20} {'ok' if ok else 'MISMATCH: computed ' + h}")
        if prev is not None and r["seq"] == prev["seq"] + 1:
            links += 1
            if r["prev_hash"] != prev["hash"]:
                bad_link += 1
                print(f"seq {r['seq']:>8}  BROKEN LINK: prev_hash {r['prev_hash']} is not the hash of seq {prev['seq']}")
        elif prev is not None and r["seq"] <= prev["seq"]:
            bad_link += 1
            print(f"seq {r['seq']:>8}  OUT OF ORDER: after seq {prev['seq']}")
        prev = r

    print(f"{len(records) - bad_hash} of {len(records)} records match their hash")
    if links:
        print(f"{links - bad_link} of {links} links between consecutive records hold")
    bad_head = 0
    if head is not None:
        seq, digest = head
        at = next((r for r in records if r["seq"] == seq), None)
        if at is None:
            first = records[0]["seq"] if records else None
            last = records[-1]["seq"] if records else None
            print(f"head: seq {seq} is not in these records ({first}..{last}): fetch the range up to it")
            bad_head = 1
        elif at["hash"] != digest:
            print(f"head: MISMATCH at seq {seq}: the records say {at['hash']}, the head says {digest}")
            bad_head = 1
        else:
            print(f"head: seq {seq} matches")
    return 1 if bad_hash or bad_link or bad_head else 0


if __name__ == "__main__":
    sys.exit(main())
