-- wrk scenario: GET /api/v1/products?limit=20&cursor=… , a random page of the catalog by keyset
-- cursor. CURSORS names a file with one `next_cursor` per line (bench/run.sh collects them by
-- walking the catalog). Prints the same RESULT line as ../shared/bench/scripts/scenario.lua.
local cursors = {}

function init(args)
  for line in io.lines(os.getenv("CURSORS")) do
    if #line > 0 then cursors[#cursors + 1] = line end
  end
  math.randomseed(os.time() + (tonumber(tostring(args):match("0x(%x+)") or "0", 16) % 100000))
end

function request()
  return wrk.format("GET", "/api/v1/products?limit=20&cursor=" .. cursors[math.random(1, #cursors)])
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d secs=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "err_connect=%d err_read=%d err_write=%d err_timeout=%d non2xx3xx=%d bytes=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.connect, e.read, e.write, e.timeout, e.status, summary.bytes))
end
