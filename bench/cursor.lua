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

dofile("bench/result.lua")
