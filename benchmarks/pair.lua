-- wrk script: GET a signup page, then the CAPTCHA image it names; repeat.
--
--   wrk -t C -c C -d 10s -s benchmarks/pair.lua http://127.0.0.1:PORT -- /ours/signup/ [pair|page-only] [FILE]
--
-- Run with as many threads as connections: each thread then owns one
-- connection, so its requests and responses strictly alternate and a pair's
-- latency is the time from sending the page request to receiving the image.
-- A second argument, "page-only", counts each page alone as a pair: the page
-- without a CAPTCHA, the ceiling for any CAPTCHA's page + image. "inline"
-- counts each page alone too, but only if it carries its CAPTCHA image as a
-- data: URI (GANCAPTCHA_INLINE_IMAGE); a page without one is an error.
-- done() prints one line, "BENCH_JSON {...}", that bench.py reads, and writes
-- every pair's latency (microseconds, one per line) to FILE if given, so
-- that bench.py can merge the percentiles of several runs.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local CLOCK_MONOTONIC = 1

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Globals, so that done() can read them with thread:get().
page = "/"
page_only = false
inline = false
latency_file = nil
image = nil
started = 0
latencies = {}
pairs_done = 0
errors = 0
first_us = 0
last_us = 0

function init(args)
  page = args[1] or "/"
  page_only = args[2] == "page-only"
  inline = args[2] == "inline"
  latency_file = args[3]
end

function request()
  if image ~= nil then
    return wrk.format("GET", image)
  end
  started = now_us()
  if first_us == 0 then
    first_us = started
  end
  return wrk.format("GET", page)
end

-- The last response of a pair (the image, or the page alone).
local function finish(status)
  if status == 200 then
    latencies[#latencies + 1] = now_us() - started
    pairs_done = pairs_done + 1
  else
    errors = errors + 1
  end
  last_us = now_us()
end

function response(status, headers, body)
  if page_only then
    return finish(status)
  end
  if inline then
    local ok = status == 200 and string.find(body, 'src="data:image/png;base64,', 1, true)
    return finish(ok and 200 or 0)
  end
  if image == nil then
    -- The page: find its first <img src="...">, the CAPTCHA.
    local src = status == 200 and string.match(body, '<img[^>]-src="([^"]+)"')
    if not src then
      errors = errors + 1
      return
    end
    image = src
    return
  end
  image = nil
  finish(status)
end

local function percentile(sorted, p)
  if #sorted == 0 then
    return 0
  end
  local index = math.max(1, math.ceil(p / 100 * #sorted))
  return sorted[index]
end

function done(summary, latency, requests)
  local all = {}
  local count, failed = 0, 0
  local first, last = math.huge, 0
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("latencies")) do
      all[#all + 1] = value
    end
    count = count + thread:get("pairs_done")
    failed = failed + thread:get("errors")
    local f, l = thread:get("first_us"), thread:get("last_us")
    if f > 0 and f < first then
      first = f
    end
    if l > last then
      last = l
    end
  end
  table.sort(all)
  local path = threads[1] and threads[1]:get("latency_file")
  if path then
    local out = assert(io.open(path, "w"))
    for _, value in ipairs(all) do
      out:write(string.format("%.0f\n", value))
    end
    out:close()
  end
  local sum = 0
  for _, value in ipairs(all) do
    sum = sum + value
  end
  local seconds = (last > first) and (last - first) / 1e6 or summary.duration / 1e6
  io.write(string.format(
    'BENCH_JSON {"pairs": %d, "errors": %d, "seconds": %.3f, "p50_ms": %.3f, ' ..
    '"p99_ms": %.3f, "mean_ms": %.3f, "requests": %d, "socket_errors": %d, ' ..
    '"non_2xx": %d}\n',
    count, failed, seconds, percentile(all, 50) / 1e3, percentile(all, 99) / 1e3,
    (#all > 0 and sum / #all or 0) / 1e3, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout,
    summary.errors.status))
end
