#!/usr/bin/env python3
"""Hammers a real `noxsync serve` with what clients get wrong, for a while,
and checks that it loses nothing and holds nothing afterwards. `make soak`
runs it; Python's standard library only.

  scripts/serve-stress.py --bin build/cli/noxsync [--seconds 60] [--threads 24]

Each thread sends, at random: signed webhooks (some resent, some in NDJSON
batches), bodies of up to 3 MB without a token (written whole before the
answer is read), chunked bodies, compressed bodies, garbage, requests cut
off half way, audit pages read slowly or abandoned, keep-alive reads with
HEAD, status changes, and scrapes of /metrics. Every answer must be one its
request can get. Then:

- every event answered 202 is in the log (the audit stream, paged);
- no connection is left open and no page is held (/metrics);
- SIGTERM ends serve with exit 0 within 30 s, and `noxsync verify` accepts
  the store.

Exit 0 when all of that holds, 1 naming each failure, 2 on bad arguments.
"""
import argparse
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

EVENT = {"timestamp": "2026-03-20T14:32:00Z", "platform_id": "chatgpt", "platform_name": "ChatGPT",
         "risk_score": 0.9, "classifications": [{"type": "EMAIL", "value": "x", "confidence": 0.9}],
         "policy_decisions": {"action": "BLOCK", "policy_id": "p", "policy_name": "n"}}


class Stress:
    def __init__(self, port, secret, ingest, read, operate):
        self.port, self.secret = port, secret.encode()
        self.ingest, self.read, self.operate = ingest, read, operate
        self.lock = threading.Lock()
        self.accepted = set()   # event ids answered 202 with "accepted" or "duplicate"
        self.failures = []
        self.counts = {}

    def fail(self, what, got):
        with self.lock:
            self.failures.append("%s: got %r" % (what, got[:160]))

    def count(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def exchange(self, data, rcvbuf=0, cut=False, read_bytes=None, timeout=15):
        """Sends `data` on a new connection and reads the answer until the
        server closes (or `read_bytes` are in); "" when cut off on purpose."""
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        try:
            s.connect(("127.0.0.1", self.port))
            if cut:
                s.sendall(data[: max(1, len(data) // 2)])
                return b""
            s.sendall(data)
            out = b""
            while read_bytes is None or len(out) < read_bytes:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out
        except OSError as e:
            return b"ERROR " + str(e).encode()
        finally:
            s.close()

    def signed(self, body, extra=""):
        ts = str(int(time.time()))
        sig = hmac.new(self.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        head = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/x-ndjson\r\nX-Noxsync-Timestamp: %s\r\n"
                "X-Noxsync-Signature: sha256=%s\r\n%sConnection: close\r\nContent-Length: %d\r\n\r\n"
                % (self.ingest, ts, sig, extra, len(body)))
        return head.encode() + body

    def event(self, rnd, eid):
        e = dict(EVENT, event_id=eid, user_email="u%d@stress.example" % rnd.randrange(200))
        return json.dumps(e, separators=(",", ":")).encode()

    def webhook(self, rnd, tag):
        n = rnd.choice([1, 1, 1, 5, 40])
        ids = ["evt_%s_%d" % (tag, k) for k in range(n)]
        body = b"\n".join(self.event(rnd, i) for i in ids)
        for attempt in range(2 if rnd.random() < 0.2 else 1):  # some resent: duplicates
            out = self.exchange(self.signed(body))
            if not out.startswith(b"HTTP/1.1 202"):
                return self.fail("signed webhook of %d event(s)" % n, out)
            answer = json.loads(out.split(b"\r\n\r\n", 1)[1])
            for r in answer["results"]:
                if r["result"] not in ("accepted", "duplicate") or (attempt and r["result"] != "duplicate"):
                    return self.fail("result of a signed event (attempt %d)" % (attempt + 1), json.dumps(r).encode())
            with self.lock:
                self.accepted.update(ids)

    def tokenless_body(self, rnd):
        n = rnd.choice([1000, 200_000, 900_000, 3_000_000])
        out = self.exchange(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n + b"x" * n)
        want = b"HTTP/1.1 413" if n > (1 << 20) else b"HTTP/1.1 401"
        if not out.startswith(want):
            self.fail("a %d-byte body without a token, written whole before reading" % n, out)

    def one(self, rnd, tag):
        kind = rnd.randrange(11)
        self.count(kind)
        if kind <= 2:
            self.webhook(rnd, tag)
        elif kind == 3:
            self.tokenless_body(rnd)
        elif kind == 4:
            out = self.exchange(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"10\r\n" + b"y" * 16 + b"\r\n0\r\n\r\n")
            if not out.startswith(b"HTTP/1.1 401"):
                self.fail("a chunked body without a token", out)
        elif kind == 5:
            body = self.event(rnd, "evt_gz_" + tag)
            out = self.exchange(self.signed(body, "Content-Encoding: gzip\r\n"))
            if not out.startswith(b"HTTP/1.1 415"):
                self.fail("a compressed body", out)
        elif kind == 6:
            junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 3000)))
            out = self.exchange(junk, timeout=20)
            if out and not re.match(rb"HTTP/1\.1 (400|401|403|404|405|413|415|431) ", out):
                self.fail("garbage", out)
        elif kind == 7:
            self.exchange(self.signed(self.event(rnd, "evt_cut_" + tag)), cut=True)
        elif kind == 8:
            # An audit page read through a small window: a few bytes, then left.
            req = ("GET /v1/audit?limit=100000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Connection: close\r\n\r\n" % self.read).encode()
            out = self.exchange(req, rcvbuf=4096, read_bytes=12)
            if not re.match(rb"HTTP/1\.1 (200|503)", out):
                self.fail("an abandoned audit page", out)
        elif kind == 9:
            # Keep-alive: GET, HEAD and GET on one connection.
            read = "%s /v1/incidents?limit=5 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + self.read + "\r\n%s\r\n"
            req = (read % ("GET", "") + read % ("HEAD", "") + read % ("GET", "Connection: close\r\n")).encode()
            out = self.exchange(req)
            if out.count(b"HTTP/1.1 200") + out.count(b"HTTP/1.1 503") != 3:
                self.fail("three keep-alive reads", out)
        else:
            body = b'{"status":"In Progress","note":"stress"}'
            req = ("POST /v1/incidents/inc_00000001/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                   % (self.operate, len(body))).encode() + body
            out = self.exchange(req, timeout=30)
            if not re.match(rb"HTTP/1\.1 (200|404|503)", out):
                self.fail("a status change", out)

    def run(self, threads, seconds, seed):
        until = time.time() + seconds

        def worker(n):
            rnd = random.Random(seed * 1000 + n)
            i = 0
            while time.time() < until:
                self.one(rnd, "%d_%d" % (n, i))
                i += 1

        ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def get(self, path):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     headers={"Authorization": "Bearer " + self.read})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read(), r.headers

    def logged_event_ids(self):
        ids, cursor = set(), "1"
        while cursor:
            body, headers = self.get("/v1/audit?limit=100000&cursor=" + cursor)
            for line in body.splitlines():
                rec = json.loads(line)
                if rec["type"] == "event.received":
                    ids.add(json.loads(rec["payload"])["event_id"])
            cursor = headers.get("X-Next-Cursor")
        return ids

    def metric(self, text, name):
        m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
        return float(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the noxsync binary")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--threads", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        print("serve-stress: %s is not an executable noxsync (build first: make build)" % args.bin, file=sys.stderr)
        return 2

    work = tempfile.mkdtemp(prefix="noxsync-stress-")
    env = dict(os.environ, STRESS_SECRET=secrets.token_hex(32), STRESS_INGEST=secrets.token_hex(32),
               STRESS_READ=secrets.token_hex(32), STRESS_OPERATE=secrets.token_hex(32))
    config = os.path.join(work, "serve.json")
    with open(config, "w") as f:
        json.dump({"service": {
            "listen": "127.0.0.1:0", "webhook_secret": "${STRESS_SECRET}",
            "tokens": [{"name": "noxys", "token": "${STRESS_INGEST}", "role": "ingest"},
                       {"name": "dashboard", "token": "${STRESS_READ}", "role": "read"},
                       {"name": "soc", "token": "${STRESS_OPERATE}", "role": "operate"}],
            "header_timeout_seconds": 5, "body_timeout_seconds": 5, "idle_timeout_seconds": 5,
            "max_page_bytes": 262144, "max_pages_in_flight_bytes": 1048576}}, f)
    store = os.path.join(work, "store")
    log = open(os.path.join(work, "serve.log"), "w+")
    serve = subprocess.Popen([args.bin, "serve", "--config", config, "--db", store], env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    port = None
    for _ in range(400):
        log.seek(0)
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read())
        if m:
            port = int(m.group(1))
            break
        if serve.poll() is not None:
            break
        time.sleep(0.025)
    if port is None:
        log.seek(0)
        print("serve-stress: serve did not start:\n" + log.read(), file=sys.stderr)
        serve.kill()
        return 1

    st = Stress(port, env["STRESS_SECRET"], env["STRESS_INGEST"], env["STRESS_READ"], env["STRESS_OPERATE"])
    started = time.time()
    st.run(args.threads, args.seconds, args.seed)
    print("serve-stress: %d requests from %d threads in %.0f s; %d events answered 202"
          % (sum(st.counts.values()), args.threads, time.time() - started, len(st.accepted)))

    logged = st.logged_event_ids()
    missing = st.accepted - logged
    if missing:
        st.failures.append("%d event(s) answered 202 are not in the log, e.g. %s" % (len(missing), sorted(missing)[:3]))
    # What the stalled and abandoned connections held must come back.
    for _ in range(100):
        text = st.get("/metrics")[0].decode()
        conns = st.metric(text, "noxsync_http_open_connections")
        held = st.metric(text, "noxsync_http_read_answers_held_bytes")
        if conns is not None and conns <= 1 and held == 0:
            break
        time.sleep(0.1)
    if not (conns is not None and conns <= 1 and held == 0):
        st.failures.append("after the load, %s connection(s) still open and %s bytes of pages held" % (conns, held))

    serve.send_signal(signal.SIGTERM)
    try:
        code = serve.wait(timeout=30)
        if code != 0:
            st.failures.append("serve exited %d after SIGTERM" % code)
    except subprocess.TimeoutExpired:
        serve.kill()
        st.failures.append("serve did not stop within 30 s of SIGTERM")
    verify = subprocess.run([args.bin, "verify", "--db", store], capture_output=True, text=True)
    if verify.returncode != 0:
        st.failures.append("noxsync verify: " + (verify.stdout + verify.stderr).strip())
    else:
        print("serve-stress: " + verify.stdout.strip())

    if st.failures:
        for f in st.failures[:20]:
            print("serve-stress: FAILED " + f, file=sys.stderr)
        print("serve-stress: the store and serve's log are kept in " + work, file=sys.stderr)
        return 1
    subprocess.run(["rm", "-rf", work])
    print("serve-stress: ok: every 202 is in the log, nothing left open or held, clean stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
