#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Soak: `stopgate serve` under a bounded mixed load for MINUTES (default 10)
# on loopback, with a fresh data directory:
#   - wrk: pre-send checks (GET /v1/check), 4 connections, paced (~2,000/s);
#   - python: inbound STOP/START/HELP/other texts, half through the generic
#     feed (POST /v1/inbound), half as signed Twilio webhooks, plus consent
#     changes and batch checks (~150/s, 4 threads, keep-alive);
#   - every 30 s `stopgate export audit` beside the daemon and a streamed
#     GET /v1/audit of the newest events.
# The daemon's memory is sampled every 5 s. It prints the memory at the end
# of the warm-up (the first fifth, at least 20 s) and at the end, the growth,
# and the error counts; then it stops the daemon and runs `stopgate verify`.
# Memory is judged on the anonymous RSS (RssAnon: heap, stacks): the total
# RSS also counts the pages of the LMDB file that is mapped and grows with
# every event, which is not the process's memory (it is shown too).
# Exit status 1 on any error, or when the anonymous RSS grew by 5 % or more
# after the warm-up.
#
#   scripts/soak.sh [MINUTES]        (fractions allowed: 0.5 = 30 s)
#   STOPGATE_BIN=build/engine/stopgate SOAK_KEEP=1 scripts/soak.sh 10
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
bin=${STOPGATE_BIN:-build/engine/stopgate}
[ -x "$bin" ] || { echo "soak: no stopgate binary at $bin (set STOPGATE_BIN)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "soak: wrk is not installed" >&2; exit 2; }
secs=$(python3 -c "print(max(10, int(float('$minutes') * 60)))")
warm=$(( secs / 5 > 20 ? secs / 5 : 20 ))
[ "$warm" -ge "$secs" ] && warm=$(( secs / 2 ))
tmp=$(mktemp -d /tmp/stopgate-soak.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
token=soak-twilio-token
cleanup() {
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	[ "${SOAK_KEEP:-0}" = 1 ] && echo "soak: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/config.json" <<EOF
{"publicBaseUrl": "http://127.0.0.1:$port",
 "providers": {"twilio": {"authToken": "$token"}},
 "limits": {"maxConnections": 256}}
EOF
# --log-level warn: no line per request (at info a 10-minute soak writes
# gigabytes of request lines; tests/integration/request_log covers them)
"$bin" serve --data "$tmp/data" --listen "127.0.0.1:$port" --config "$tmp/config.json" --log-level warn \
	--keywords "${SG_KEYWORDS:-keywords}" 2>"$tmp/daemon.log" &
dpid=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "soak: daemon did not start"; cat "$tmp/daemon.log"; exit 1; }
echo "soak: $secs s (warm-up $warm s), daemon pid $dpid on port $port, data $tmp/data"

# ---- checks: wrk, paced by delay() ----
cat >"$tmp/check.lua" <<'EOF'
local n = 0
request = function()
  n = n + 1
  local to = string.format("%%2B1415%07d", (n * 7919) % 200000)
  return wrk.format("GET", "/v1/check?from=%2B14155550100&to=" .. to)
end
delay = function() return 2 end
EOF
wrk -t2 -c4 -d"${secs}s" -s "$tmp/check.lua" "http://127.0.0.1:$port" >"$tmp/wrk.txt" 2>&1 &
wpid=$!

# ---- writes, webhooks, consent, batch checks: python ----
SOAK_PORT=$port SOAK_SECS=$secs SOAK_TOKEN=$token python3 - >"$tmp/writes.txt" 2>&1 <<'EOF' &
import base64, hashlib, hmac, http.client, json, os, random, threading, time
from urllib.parse import urlencode
port, secs, token = int(os.environ["SOAK_PORT"]), int(os.environ["SOAK_SECS"]), os.environ["SOAK_TOKEN"]
base = f"http://127.0.0.1:{port}"
texts = ["STOP", "START", "HELP", "stop texting me please", "thanks, see you then", "UNSUBSCRIBE", "Arrêt", "ok"]
ours = ["+14155550100", "+14155550101", "+14155550102"]
stats = {"sent": 0, "errors": 0, "busy": 0}
lock = threading.Lock()
end = time.time() + secs - 1

def twilio(params):
    url = base + "/v1/webhooks/twilio"
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()

def worker(k):
    rnd = random.Random(k)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    while time.time() < end:
        i += 1
        handset = "+1415%07d" % rnd.randrange(200000)
        kind = rnd.random()
        try:
            if kind < 0.45:
                body = json.dumps({"id": f"s{k}-{i}", "provider": "soak", "from": handset,
                                   "to": rnd.choice(ours), "body": rnd.choice(texts)})
                c.request("POST", "/v1/inbound", body, {"Content-Type": "application/json"})
            elif kind < 0.9:
                p = {"MessageSid": f"SM{k:02d}{i:030d}", "AccountSid": "ACsoak", "From": handset,
                     "To": rnd.choice(ours), "Body": rnd.choice(texts), "NumSegments": "1"}
                c.request("POST", "/v1/webhooks/twilio", urlencode(p),
                          {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilio(p)})
            elif kind < 0.95:
                action = rnd.choice(["opt_out", "opt_in"])
                change = {"from": rnd.choice(ours), "to": handset, "action": action, "source": "operator"}
                if action == "opt_in":  # the person may have texted STOP: say why
                    change.update(override="consumer_request", note="soak: asked by phone")
                body = json.dumps(change)
                c.request("POST", "/v1/consent", body, {"Content-Type": "application/json"})
            else:
                body = json.dumps({"from": ours[0], "to": ["+1415%07d" % rnd.randrange(200000) for _ in range(200)]})
                c.request("POST", "/v1/check", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            with lock:
                stats["sent"] += 1
                if r.status == 503:
                    stats["busy"] += 1
                elif r.status != 200:
                    stats["errors"] += 1
                    if stats["errors"] <= 5:
                        print("error", r.status, flush=True)
        except Exception as e:  # noqa: BLE001
            with lock:
                stats["errors"] += 1
                if stats["errors"] <= 5:
                    print("error", repr(e), flush=True)
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        time.sleep(0.02)

threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"writes sent={stats['sent']} errors={stats['errors']} busy={stats['busy']}", flush=True)
EOF
ppid_=$!

# ---- exports and memory samples ----
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$dpid/status" 2>/dev/null; }
exports=0 export_errors=0 samples=()
start=$(date +%s)
next_export=$(( start + 5 )) # the first early, so the warm-up includes one
warm_rss= warm_anon=
while :; do
	now=$(date +%s)
	el=$(( now - start ))
	[ "$el" -ge "$secs" ] && break
	kill -0 "$dpid" 2>/dev/null || { echo "soak: the daemon died"; break; }
	samples+=("$el $(rss VmRSS) $(rss RssAnon)")
	if [ -z "$warm_rss" ] && [ "$el" -ge "$warm" ]; then
		warm_rss=$(rss VmRSS) warm_anon=$(rss RssAnon)
	fi
	if [ "$now" -ge "$next_export" ]; then
		next_export=$(( now + 30 ))
		exports=$(( exports + 1 ))
		"$bin" export audit --data "$tmp/data" >/dev/null 2>>"$tmp/export.err" || export_errors=$(( export_errors + 1 ))
		head=$(curl -sf "http://127.0.0.1:$port/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])') &&
			curl -sf "http://127.0.0.1:$port/v1/audit?after_seq=$(( head > 1000 ? head - 1000 : 0 ))" >/dev/null ||
			export_errors=$(( export_errors + 1 ))
	fi
	sleep 5
done
wait "$wpid"
wait "$ppid_"
end_rss=$(rss VmRSS) end_anon=$(rss RssAnon)
alive=1
kill -0 "$dpid" 2>/dev/null || alive=0
events=$(curl -sf "http://127.0.0.1:$port/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])' 2>/dev/null)
kill -TERM "$dpid"
wait "$dpid"
dcode=$?
dpid=
verify_out=$("$bin" verify --data "$tmp/data" 2>&1)
vcode=$?

# ---- report ----
printf '%s\n' "${samples[@]}" >"$tmp/rss.txt"
checks=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
check_errors=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$tmp/wrk.txt")
read -r _ wsent werr wbusy <<<"$(sed -n 's/^writes sent=\([0-9]*\) errors=\([0-9]*\) busy=\([0-9]*\).*/x \1 \2 \3/p' "$tmp/writes.txt")"
growth=$(python3 -c "w=${warm_anon:-0}; e=${end_anon:-0}; print(f'{(e - w) * 100 / w:.2f}' if w else 'n/a')")
growth_total=$(python3 -c "w=${warm_rss:-0}; e=${end_rss:-0}; print(f'{(e - w) * 100 / w:.2f}' if w else 'n/a')")
errors=$(( ${check_errors:-0} + ${werr:-1} + export_errors + (alive ? 0 : 1) + (dcode ? 1 : 0) + (vcode ? 1 : 0) ))
echo "soak: ${secs} s, ${events:-?} events recorded"
echo "  checks (wrk):     ${checks:-?} requests, $(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.txt") req/s, errors ${check_errors:-?}"
echo "  writes (python):  ${wsent:-?} requests (inbound feed, Twilio webhooks, consent, batch checks), errors ${werr:-?}, 503 busy ${wbusy:-?}"
echo "  exports:          $exports (CLI export audit + streamed /v1/audit), errors $export_errors"
echo "  RSS anon  KiB:    warm-up ${warm_anon:-?}  end ${end_anon:-?}  growth ${growth} %"
echo "  RSS total KiB:    warm-up ${warm_rss:-?}  end ${end_rss:-?}  growth ${growth_total} % (includes the mapped, growing LMDB file)"
echo "  daemon:           exit ${dcode}, verify: $(echo "$verify_out" | tail -1)"
echo "  errors:           $errors"
grep -E ' (error|warn) ' "$tmp/daemon.log" | head -5
fail=0
[ "$errors" -ne 0 ] && fail=1
python3 -c "import sys; g='$growth'; sys.exit(0 if g != 'n/a' and float(g) < 5 else 1)" || fail=1
[ "$fail" = 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit $fail
