-- SPDX-License-Identifier: Apache-2.0
-- wrk script: GET /v1/check rotating through precomputed request paths
-- (bench_check --wrk-dir writes check_paths.txt: 95 % pairs with no record,
-- 5 % opted-out pairs, shuffled). Usage:
--   wrk -t2 -c50 -d10s -s bench/wrk_check.lua http://127.0.0.1:PORT -- PATHS_FILE [DEPTH]
-- The same script drives the nginx floor (which ignores the path).
-- done() prints one machine-readable WRK_RESULT line.

local threads = {}
local paths = {}
local n = 0
local i = 0
local depth = 1

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   local file = args[1] or "check_paths.txt"
   -- args[2]: requests pipelined per connection (default 1; wrk counts each answer)
   depth = tonumber(args[2] or "1")
   for line in io.lines(file) do
      n = n + 1
      paths[n] = line
   end
   if n == 0 then
      error("no paths in " .. file)
   end
   -- each thread starts at its own place in the file
   i = math.floor(((tid or 1) - 1) * n / 8) % n
end

function request()
   local out = {}
   for k = 1, depth do
      i = i + 1
      if i > n then
         i = 1
      end
      out[k] = wrk.format("GET", paths[i])
   end
   return table.concat(out)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRK_RESULT requests=%d duration_us=%d rps=%.1f lat_mean_us=%.1f lat_p50_us=%d lat_p99_us=%d " ..
      "lat_max_us=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6), latency.mean,
      latency:percentile(50), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
