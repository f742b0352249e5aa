-- SPDX-License-Identifier: Apache-2.0
-- wrk script: POST /v1/inbound, every request a new provider message id (so
-- none is a duplicate), a mix of STOP / START / HELP / ordinary replies.
-- Every answer comes after the fsync'd group commit holding its event.
-- Usage:
--   wrk -t2 -c64 -d10s -s bench/wrk_inbound.lua http://127.0.0.1:PORT -- PAIRS_FILE RUN_ID
-- PAIRS_FILE (bench_check --wrk-dir writes inbound_pairs.txt): lines
-- "OUR_NUMBER HANDSET". done() prints one machine-readable WRK_RESULT line.

local threads = {}
local pairs_ = {}
local n = 0
local i = 0
local seq = 0
local run = "0"

local texts = {
   -- weight, body
   {10, "STOP"},
   {2, "stop please"},
   {3, "START"},
   {2, "HELP"},
   {83, nil}, -- ordinary conversation, from the list below
}
local ordinary = {
   "ok thanks",
   "What time do you open tomorrow?",
   "Is my order ready for pickup?",
   "Can I reschedule my appointment to Friday afternoon?",
   "yes",
   "Great, I'll be there in 10 minutes",
   "Who is this?",
   "Running late, be there by 6:15",
   "The package was left at the wrong address, unit 4B not 4D",
   "Please confirm my reservation for 4 people at 7:30 on Saturday",
}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   local file = args[1] or "inbound_pairs.txt"
   run = args[2] or tostring(os.time())
   for line in io.lines(file) do
      local ours, handset = line:match("^(%S+)%s+(%S+)$")
      if ours then
         n = n + 1
         pairs_[n] = {ours, handset}
      end
   end
   if n == 0 then
      error("no pairs in " .. file)
   end
   i = math.floor(((tid or 1) - 1) * n / 8) % n
   math.randomseed((tid or 1) * 7919 + #run)
end

local function pick_text()
   local r = math.random(100)
   for _, t in ipairs(texts) do
      r = r - t[1]
      if r <= 0 then
         return t[2] or ordinary[math.random(#ordinary)]
      end
   end
   return ordinary[1]
end

function request()
   i = i + 1
   if i > n then
      i = 1
   end
   seq = seq + 1
   local p = pairs_[i]
   local body = string.format(
      '{"provider":"bench","id":"%s-%d-%d","from":"%s","to":"%s","body":"%s"}',
      run, tid or 1, seq, p[2], p[1], pick_text())
   return wrk.format("POST", "/v1/inbound", {["Content-Type"] = "application/json"}, body)
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
