-- wrk script: POST /api/v1/products with the API's money format (decimal strings), as
-- ../shared/bench/scripts/scenario.lua does with floats (which this API refuses, by design).
-- Send the admin's token with `-H "Authorization: Bearer …"`. Prints a RESULT line like it.
local counter = 0
local headers = nil

function init(args)
  headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  math.randomseed(os.time() + (tonumber(tostring(args):match("0x(%x+)") or "0", 16) % 100000))
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"bench item %d","price":"%d.%02d","stock":%d,"category_id":%d,"tags":["bench","load"]}',
    counter, math.random(1, 999), math.random(0, 99), math.random(0, 1000), math.random(1, 20))
  return wrk.format("POST", "/api/v1/products", headers, body)
end

dofile("bench/result.lua")
