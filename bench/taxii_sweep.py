#!/usr/bin/env python3
"""TAXII 2.1 page latency and full-collection sweep against a running node (scripts/bench-api runs it).

Usage: taxii_sweep.py URL KEY COLLECTION [--page 1000] [--pages N]

Sweeps the collection with `limit` and `next` until `more` is false, one keep-alive connection, and
prints pages, objects, seconds, objects/s and the page latency percentiles (p50, p99, max). `seconds`
includes parsing every page as JSON here (what a Python client sees); `request_seconds` is the sum of the
page latencies (request sent to last byte received), the part the node is responsible for.
Exit status 1 when an object repeats (a cursor must never repeat or skip).
"""
import argparse
import http.client
import json
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("key")
    ap.add_argument("collection")
    ap.add_argument("--page", type=int, default=1000)
    ap.add_argument("--pages", type=int, default=0, help="stop after this many pages (0: the whole collection)")
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    headers = {"Authorization": f"Bearer {a.key}", "Accept": "application/taxii+json;version=2.1"}
    base = f"/taxii2/concord/collections/{a.collection}/objects/?limit={a.page}"
    seen = set()
    latencies = []
    nxt = None
    start = time.perf_counter()
    while True:
        path = base + (f"&next={urllib.parse.quote(nxt, safe='')}" if nxt else "")
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        latencies.append(time.perf_counter() - t0)
        if r.status != 200:
            print(f"HTTP {r.status}: {body[:300]!r}", file=sys.stderr)
            return 2
        doc = json.loads(body)
        for o in doc.get("objects", []):
            key = (o["id"], o.get("modified", ""))
            if key in seen:
                print(f"repeated {key}", file=sys.stderr)
                return 1
            seen.add(key)
        if not doc.get("more") or (a.pages and len(latencies) >= a.pages):
            break
        nxt = doc["next"]
    secs = time.perf_counter() - start
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
    print(f"pages {len(latencies)} objects {len(seen)} seconds {secs:.2f} request_seconds {sum(latencies):.2f} "
          f"objects/s {len(seen) / secs:.0f} "
          f"page_p50_ms {pct(0.50):.1f} page_p99_ms {pct(0.99):.1f} page_max_ms {latencies[-1] * 1000:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
