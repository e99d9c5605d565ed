#!/usr/bin/env python3
"""Soak: a fixed rate of mixed reads and writes against a running Storefront for a bounded time,
then checks that nothing failed and nothing grew: no errors, flat resident memory, a flat count
of open file descriptors, database pools within their bounds.

Every request is scheduled at a fixed rate (not as fast as the server answers), split among
`--workers` keep-alive connections: 70 % GET /api/v1/products/{id}, 15 % GET a list page by
cursor, 10 % POST /api/v1/products, 5 % PATCH of a product it created (If-Match from the
create's ETag). Each second it samples the server's VmRSS and open descriptors from /proc and
the pool gauges from /metrics. Standard library only; loopback only.

usage: bench/soak.py BASE_URL PID [--seconds 600] [--rate 200] [--workers 8] [--products 1000]
env:   SOAK_TOKEN: an admin's access token (for the writes)
exit:  0 when every check passes; 1 with the failed checks listed
"""
import argparse, http.client, json, os, random, statistics, sys, threading, time
from urllib.parse import urlparse

parser = argparse.ArgumentParser()
parser.add_argument("base")
parser.add_argument("pid", type=int)
parser.add_argument("--seconds", type=float, default=600)
parser.add_argument("--rate", type=float, default=200, help="requests per second, in all")
parser.add_argument("--workers", type=int, default=8)
parser.add_argument("--products", type=int, default=1000, help="ids 1..N exist")
parser.add_argument("--rss-growth-mb", type=float, default=8, help="allowed growth of the median RSS")
args = parser.parse_args()
url = urlparse(args.base)
if url.hostname not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("loopback only")
token = os.environ.get("SOAK_TOKEN", "")

lock = threading.Lock()
counts = {"requests": 0, "errors": 0, "late": 0}
errors = []


def record(ok, what):
    with lock:
        counts["requests"] += 1
        if not ok:
            counts["errors"] += 1
            if len(errors) < 20:
                errors.append(what)


def worker(index, deadline):
    rng = random.Random(index)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    interval = args.workers / args.rate
    next_at = time.monotonic() + rng.random() * interval
    mine = []  # (id, etag) of products this worker created
    counter = 0
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if next_at > now:
            time.sleep(next_at - now)
        elif now - next_at > 1:
            with lock:
                counts["late"] += 1
        next_at += interval
        roll = rng.random()
        headers = {"Authorization": "Bearer " + token} if token else {}
        try:
            if roll < 0.70:
                method, path, body = "GET", f"/api/v1/products/{rng.randint(1, args.products)}", None
                expect = (200,)
            elif roll < 0.85:
                method, path, body = "GET", "/api/v1/products?limit=20&sort=-price", None
                expect = (200,)
            elif roll < 0.95 or not mine:
                counter += 1
                method, path = "POST", "/api/v1/products"
                body = {"name": f"soak {index}-{counter}", "price": f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
                        "stock": rng.randint(0, 100), "category_id": rng.randint(1, 20), "tags": ["soak"]}
                expect = (201,)
            else:
                pid, etag = mine[rng.randrange(len(mine))]
                method, path = "PATCH", f"/api/v1/products/{pid}"
                body = {"stock": rng.randint(0, 100)}
                headers["If-Match"] = etag
                expect = (200,)
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            data = response.read()
            ok = response.status in expect
            if ok and method in ("POST", "PATCH"):
                created = json.loads(data)
                etag = response.getheader("ETag")
                mine = [entry for entry in mine if entry[0] != created["id"]] + [(created["id"], etag)]
                mine = mine[-50:]
            record(ok, f"{method} {path} -> {response.status} {data[:200]!r}")
        except (OSError, http.client.HTTPException, ValueError) as e:
            record(False, f"{method} {path}: {e!r}")
            connection.close()
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def proc_sample():
    with open(f"/proc/{args.pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    fds = len(os.listdir(f"/proc/{args.pid}/fd"))
    return rss, fds


def pools():
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    values = {}
    for line in text.splitlines():
        if line.startswith("storefront_db_pool_") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


deadline = time.monotonic() + args.seconds
threads = [threading.Thread(target=worker, args=(i, deadline), daemon=True) for i in range(args.workers)]
for thread in threads:
    thread.start()
samples = []  # (seconds, rss MB, fds, pools)
started = time.monotonic()
while time.monotonic() < deadline:
    time.sleep(1)
    rss, fds = proc_sample()
    samples.append((time.monotonic() - started, rss, fds, pools()))
for thread in threads:
    thread.join()

failed = []
quarter = max(1, len(samples) // 4)
first, last = samples[:quarter], samples[-quarter:]
rss_first, rss_last = statistics.median(s[1] for s in first), statistics.median(s[1] for s in last)
fds_first, fds_last = statistics.median(s[2] for s in first), statistics.median(s[2] for s in last)
elapsed = time.monotonic() - started
print(f"soak: {elapsed:.0f} s at {args.rate:.0f} req/s planned, {counts['requests']} requests "
      f"({counts['requests'] / elapsed:.0f}/s), {counts['errors']} errors, {counts['late']} sent over 1 s late")
print(f"rss MB: first quarter median {rss_first:.1f}, last quarter median {rss_last:.1f}, "
      f"max {max(s[1] for s in samples):.1f}")
print(f"open fds: first quarter median {fds_first:.0f}, last quarter median {fds_last:.0f}, "
      f"max {max(s[2] for s in samples)}")
for name in sorted({key for s in samples for key in s[3]}):
    seen = [s[3].get(name, 0) for s in samples]
    print(f"{name}: min {min(seen):.0f}, max {max(seen):.0f}")
if counts["errors"]:
    failed.append(f"{counts['errors']} requests failed: " + "; ".join(errors))
if counts["requests"] < 0.9 * args.rate * args.seconds:
    failed.append(f"only {counts['requests']} of {args.rate * args.seconds:.0f} planned requests were sent")
if rss_last - rss_first > args.rss_growth_mb:
    failed.append(f"resident memory grew by {rss_last - rss_first:.1f} MB")
# A connection the pool opens holds descriptors of its own (SQLite: the database and its WAL):
# growth the pools explain is not a leak.
def pooled(sample):
    return sum(v for k, v in sample[3].items() if k.startswith("storefront_db_pool_connections"))


pool_growth = max(0, statistics.median(pooled(s) for s in last) - statistics.median(pooled(s) for s in first))
if fds_last > fds_first + 4 + 3 * pool_growth:
    failed.append(f"open descriptors grew from {fds_first:.0f} to {fds_last:.0f} "
                  f"(the pools by {pool_growth:.0f} connections)")
for sample in samples:
    for name, value in sample[3].items():
        if name.startswith("storefront_db_pool_connections"):
            limit_name = name.replace("db_pool_connections", "db_pool_max_connections")
            limit = sample[3].get(limit_name)
            if limit is not None and value > limit:
                failed.append(f"{name} {value:.0f} above its maximum {limit:.0f}")
                break
if failed:
    print("FAILED:\n  " + "\n  ".join(dict.fromkeys(failed)))
    sys.exit(1)
print("soak: all checks passed")
