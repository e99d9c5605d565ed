"""Process start to the first `/readyz` 200, on an existing database: the median of RUNS [10]
starts of BINARY, each polled every millisecond over a fresh connection.

usage: DATABASE_URL=sqlite:///path/to/existing.db python3 bench/startup.py target/release/storefront
env:   RUNS [10]  PORT [18086]; the server's other settings come from the environment as usual.
"""
import http.client
import os
import statistics
import subprocess
import sys
import time

binary = sys.argv[1]
runs = int(os.environ.get("RUNS", "10"))
port = int(os.environ.get("PORT", "18086"))
env = dict(os.environ, STOREFRONT_BIND=f"127.0.0.1:{port}")
times = []
for _ in range(runs):
    start = time.perf_counter()
    server = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if server.poll() is not None:
                sys.exit(f"the server exited with {server.returncode}")
            if time.perf_counter() - start > 10:
                sys.exit("the server was not ready within 10 s")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.001)
        times.append((time.perf_counter() - start) * 1000)
    finally:
        server.terminate()
        server.wait()
print(f"start to /readyz 200: median {statistics.median(times):.1f} ms, "
      f"min {min(times):.1f}, max {max(times):.1f} ({runs} starts)")
