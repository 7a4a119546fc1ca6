-- The wrk script of ops/bench. BENCH_MODE picks the load:
--   post  POST the body in the file BENCH_BODY on every request (tongban's
--         POST /v1/cases: each request creates a new case; the HTTP ceiling)
--   etcd  etcd v3 puts through etcd's JSON gateway (POST /v3/kv/put, key
--         and value base64): a new key per request, a BENCH_VALUE_BYTES
--         (256) byte value
--   ids   GET /v1/cases/ID for a random ID out of BENCH_IDS
--         ("PREFIX:COUNT,...": IDs PREFIX-000001 .. PREFIX-COUNT)
--   get   GET BENCH_PATH
-- BENCH_TOKEN, if set, is sent as a bearer token.
local mode = os.getenv("BENCH_MODE") or "post"
local token = os.getenv("BENCH_TOKEN")
local headers = { ["Content-Type"] = "application/json" }
if token and token ~= "" then
  headers["Authorization"] = "Bearer " .. token
end
for k, v in pairs(headers) do wrk.headers[k] = v end

local b64chars =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) ..
      b64chars:sub(c2 + 1, c2 + 1) ..
      (b and b64chars:sub(c3 + 1, c3 + 1) or "=") ..
      (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

if mode == "post" then
  local f = assert(io.open(assert(os.getenv("BENCH_BODY")), "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
elseif mode == "get" then
  wrk.method = "GET"
  wrk.path = assert(os.getenv("BENCH_PATH"))
end

-- Per-thread state: each wrk thread runs its own copy of this script;
-- setup (in wrk's main copy) numbers them through the global tid.
local nthreads = 0
local counter = 0
local value, prefix, ids, total
tid = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end

function init(args)
  math.randomseed(os.time() * 1000 + tid)
  if mode == "etcd" then
    local vbytes = tonumber(os.getenv("BENCH_VALUE_BYTES") or "256")
    local raw = {}
    for i = 1, vbytes do raw[i] = string.char(97 + (i * 7) % 26) end
    value = b64(table.concat(raw))
    prefix = string.format("bench/%s/%d/", os.getenv("BENCH_RUN") or "0",
      tid)
  elseif mode == "ids" then
    ids, total = {}, 0
    for p, n in string.gmatch(assert(os.getenv("BENCH_IDS")),
        "([^:,]+):(%d+)") do
      ids[#ids + 1] = { p, tonumber(n) }
      total = total + tonumber(n)
    end
  end
end

if mode == "etcd" then
  function request()
    counter = counter + 1
    local body = '{"key":"' .. b64(prefix .. counter) .. '","value":"' ..
      value .. '"}'
    return wrk.format("POST", "/v3/kv/put", headers, body)
  end
elseif mode == "ids" then
  function request()
    local r = math.random(total)
    for _, d in ipairs(ids) do
      if r <= d[2] then
        return wrk.format("GET",
          string.format("/v1/cases/%s-%06d", d[1], r), headers)
      end
      r = r - d[2]
    end
  end
end

-- One line for ops/bench to parse. Latencies are wrk's own histogram
-- (microseconds, from writing a request to reading its whole response, per
-- connection); status_errors counts the answers that are not 2xx/3xx.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%d duration_us=%d status_errors=%d " ..
    "socket_errors=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
