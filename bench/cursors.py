"""Walks the product list by cursor (limit=20, the default order) and prints every page's
`next_cursor`, one per line: the pages bench/cursor.lua asks for at random.

usage: python3 bench/cursors.py http://127.0.0.1:18080 > cursors.txt
"""
import json
import sys
import urllib.parse
import urllib.request

base = sys.argv[1]
url = base + "/api/v1/products?limit=20"
while True:
    with urllib.request.urlopen(url) as response:
        page = json.load(response)
    cursor = page.get("next_cursor")
    if not cursor:
        break
    print(cursor)
    url = base + "/api/v1/products?limit=20&cursor=" + urllib.parse.quote(cursor)
