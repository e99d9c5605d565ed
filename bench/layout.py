#!/usr/bin/env python3
"""The requests whose code `bench/layout.sh` places together in the binary: a server's usual
day, each kind of request several times (so that its first-time paths and its steady ones both
run), answered or refused as a client would see it. Standard library only; loopback only.

usage: bench/layout.py BASE_URL        env: LAYOUT_TOKEN (an admin's access token)
"""
import http.client, json, os, sys, uuid
from urllib.parse import urlparse

url = urlparse(sys.argv[1])
if url.hostname not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("loopback only")
admin = {"Authorization": "Bearer " + os.environ["LAYOUT_TOKEN"]}
connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)


def call(method, path, body=None, headers=None, raw=None, content_type="application/json"):
    headers = dict(headers or {})
    payload = raw
    if body is not None:
        payload = json.dumps(body).encode()
    if payload is not None:
        headers["Content-Type"] = content_type
    connection.request(method, path, payload, headers)
    response = connection.getresponse()
    data = response.read()
    return response.status, dict(response.getheaders()), data


def check(expected, status, what):
    if status not in expected:
        sys.exit(f"{what}: {status}, expected {expected}")


for round_ in range(3):
    # Probes and documents.
    for path in ("/healthz", "/readyz", "/metrics", "/", "/openapi.json", "/docs", "/api/v1/nowhere"):
        call("GET", path)
    # Reads: by id (hits and misses of the product cache, a 404, a conditional GET), lists.
    etag = None
    for i in range(1, 40):
        status, headers, _ = call("GET", f"/api/v1/products/{i}")
        check((200,), status, "GET product")
        etag = headers.get("ETag") or headers.get("etag")
    call("GET", "/api/v1/products/1", headers={"If-None-Match": etag or '"x"'})
    call("GET", "/api/v1/products/99999999")
    call("GET", "/api/v1/products/abc")
    for query in ("", "?limit=20", "?limit=20&offset=100", "?sort=-price", "?sort=name&limit=5",
                  "?category_id=3", "?q=item", "?min_price=1.00&max_price=50.00", "?fields=id,name",
                  "?limit=1000"):
        status, _, data = call("GET", "/api/v1/products" + query)
        if status == 200 and query in ("?limit=20", "?sort=-price"):
            cursor = json.loads(data).get("next_cursor")
            if cursor:
                call("GET", "/api/v1/products?limit=20&cursor=" + cursor)
                call("GET", "/api/v1/products?limit=20&cursor=" + cursor, headers={"Accept-Encoding": "gzip"})
    for path in ("/api/v1/categories", "/api/v1/categories/1", "/api/v1/categories/1?include=products",
                 "/api/v1/tags", "/api/v1/users/me", "/api/v1/customers", "/api/v1/orders"):
        call("GET", path, headers=admin)
    # Writes: creates (valid and refused), an update with If-Match, a delete.
    created = []
    for i in range(20):
        status, headers, data = call("POST", "/api/v1/products", {
            "name": f"layout {round_}-{i} {uuid.uuid4().hex[:8]}", "price": "12.34", "stock": 5,
            "category_id": 3, "tags": ["layout"]}, admin)
        check((201,), status, "POST product")
        created.append((json.loads(data)["id"], headers.get("ETag") or headers.get("etag")))
    call("POST", "/api/v1/products", {"name": "", "price": "-1", "stock": -1}, admin)
    call("POST", "/api/v1/products", raw=b"{not json", headers=admin)
    call("POST", "/api/v1/products", {"name": "x", "price": "1.00", "stock": 1, "category_id": 3})
    pid, etag = created[0]
    call("PATCH", f"/api/v1/products/{pid}", {"stock": 7}, {**admin, "If-Match": etag or "*"})
    call("PUT", f"/api/v1/products/{pid}", {"name": f"layout put {uuid.uuid4().hex[:8]}", "price": "1.00",
                                            "stock": 1, "category_id": 3, "description": ""}, admin)
    call("DELETE", f"/api/v1/products/{created[1][0]}", headers=admin)
    call("POST", "/api/v1/categories", {"name": f"layout {uuid.uuid4().hex[:8]}"}, admin)
    # Accounts: a refused login, a refresh.
    call("POST", "/api/v1/auth/login", {"username": "nobody", "password": "Wrong-Pass-1"})
    status, _, data = call("POST", "/api/v1/auth/login", {"username": "bench", "password": "Bench-Pass-1"})
    check((200,), status, "login")
    call("POST", "/api/v1/auth/refresh", {"refresh_token": json.loads(data)["refresh_token"]})
