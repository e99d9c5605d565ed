#!/usr/bin/env python3
"""Seeds a Storefront server through its API for the load tests: 20 categories, then N products
(ids 1..N on an empty database), deterministic, like shared/bench's seed but with the API's
money format (decimal strings). Standard library only; loopback only.

usage: bench/seed.py BASE_URL [N=10000]     env SEED_TOKEN: an admin's access token
"""
import json, os, random, sys, urllib.request
from urllib.parse import urlparse

base = sys.argv[1].rstrip("/")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
if urlparse(base).hostname not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("loopback only")
headers = {"Content-Type": "application/json"}
if os.environ.get("SEED_TOKEN"):
    headers["Authorization"] = "Bearer " + os.environ["SEED_TOKEN"]


def post(path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 201:
            sys.exit(f"POST {path} -> {response.status}")


rng = random.Random(42)
adjs = ["Ergonomic", "Rustic", "Sleek", "Durable", "Compact", "Smart", "Classic", "Modern"]
mats = ["Steel", "Wooden", "Cotton", "Plastic", "Granite", "Leather", "Bamboo", "Glass"]
nouns = ["Lamp", "Chair", "Bottle", "Keyboard", "Backpack", "Table", "Mug", "Jacket"]
tagpool = ["eco", "premium", "bestseller", "new", "sale", "limited", "gift", "outdoor",
           "indoor", "kids", "office", "travel"]
for c in range(1, 21):
    post("/api/v1/categories", {"name": f"Category {c:02d}"})
for i in range(1, n + 1):
    post("/api/v1/products", {
        "name": f"{rng.choice(adjs)} {rng.choice(mats)} {rng.choice(nouns)} {i:05d}",
        "price": f"{rng.uniform(1, 999.99):.2f}",
        "stock": rng.randint(0, 1000),
        "category_id": rng.randint(1, 20),
        "tags": rng.sample(tagpool, rng.randint(1, 3)),
    })
print(f"seeded 20 categories and {n} products via {base}")
