#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark suite (bench/README.md): installs what it needs, builds a
# release build in ./build-bench, then runs
#   1. the check in process against raw LMDB, an in-memory hash and SQLite
#      (bench_check: 1 and 2 threads, a read-only second process),
#   1b. the same check through the Python, Go and Node bindings,
#   2. the batch check, 3. classification (bench_classify),
#   4. HTTP GET /v1/check with wrk, and nginx `return 200` as the floor,
#   5. durable POST /v1/inbound with wrk (64 connections),
#   6. durable commits in process (bench_commit): the disk's fdatasync
#      latency, syncs and page writes per commit, one-connection commit
#      latency as a ratio to it, the write amplification of an import,
#   7. HTTP loops (bench/http_scale.py): --http-threads 1 and N against nginx
#      with 1 and N workers, and checks while inbound runs,
# and prints ONE table with the ratios and the targets; the same figures go
# to bench/results.json (or --json FILE). Nothing here fails on a figure.
#
# usage: scripts/bench.sh [--pairs N] [--quick] [--json FILE] [--duration S]
#                         [--keep] [--label TEXT] [--no-install] [--reuse-dir DIR]
#                         [--record-batch N]
#   --pairs N     opt-out pairs in the store (default 1000000; 10000000 for 10 M)
#   --quick       small and short: 100,000 pairs, 3 s wrk runs (a smoke run)
#   --duration S  seconds per wrk run (default 10)
#   --keep        leave the work directory (store, logs) in /tmp
#   --reuse-dir D build the store (and its floors) once in D and reuse it on
#                 later runs with the same size; the daemon gets a copy
#   --record-batch N  events per sg_record call while building (default 10000;
#                 larger batches build 10 M much faster, see bench/README.md)
# Everything it starts (the daemon, nginx) listens on 127.0.0.1 only and is
# stopped before it exits, also on error or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t_start=$(date +%s)

pairs=""
quick=0
json_out="$root/bench/results.json"
duration=10
keep=0
label=""
install=1
reuse_dir=""
record_batch=10000
while [ $# -gt 0 ]; do
	case "$1" in
	--pairs) pairs="$2"; shift 2 ;;
	--quick) quick=1; shift ;;
	--json) json_out="$2"; shift 2 ;;
	--duration) duration="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	--label) label="$2"; shift 2 ;;
	--no-install) install=0; shift ;;
	--reuse-dir) reuse_dir="$2"; shift 2 ;;
	--record-batch) record_batch="$2"; shift 2 ;;
	-h|--help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
done
if [ "$quick" = 1 ]; then
	pairs=${pairs:-100000}
	[ "$duration" = 10 ] && duration=3
fi
pairs=${pairs:-1000000}
warm=$(( duration >= 10 ? 2 : 1 ))

# ---- what the suite needs (Debian 12 packages; only what is missing) ----
need=(meson ninja-build pkg-config gcc python3 curl liblmdb-dev libpcre2-dev libuv1-dev libcjson-dev
	libssl-dev libhttp-parser-dev wrk nginx-light sqlite3 libsqlite3-dev)
if [ "$install" = 1 ]; then
	missing=()
	for p in "${need[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	# any nginx flavour will do as the floor
	if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v nginx >/dev/null; then
		missing=("${missing[@]/nginx-light}")
	fi
	missing=($(printf '%s\n' "${missing[@]}" | grep . || true))
	if [ ${#missing[@]} -gt 0 ]; then
		echo "bench: installing ${missing[*]}"
		if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
		$SUDO apt-get update -qq
		# nginx's package starts a system service on port 80; the suite runs its own
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
fi

# ---- a release build of its own ----
build=$root/build-bench
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=release >/dev/null
elif pkg-config --exists sqlite3 && ! grep -q BENCH_HAVE_SQLITE "$build/build.ninja"; then
	meson setup --reconfigure "$build" >/dev/null # libsqlite3-dev arrived after the first setup
fi
echo "bench: building (release) in build-bench/"
ninja -C "$build" >/dev/null

# the code measured: the commit, and whether the library sources differ from it
tree=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- engine include meson.build 2>/dev/null || tree="$tree+local-changes"

# ---- the work directory and everything started in it ----
work=$(mktemp -d /tmp/sg-bench.XXXXXX)
daemon_pid=""
nginx_pid=""
stop_pid() { # pid, name: TERM, wait up to 30 s, then KILL
	local pid=$1 i
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bench: $2 did not stop; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	stop_pid "$daemon_pid" "stopgate serve"
	daemon_pid=""
	stop_pid "$nginx_pid" nginx
	nginx_pid=""
	if [ "$keep" = 1 ]; then
		echo "bench: work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() { # url, seconds
	local i
	for i in $(seq $(( $2 * 100 ))); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.01
	done
	return 1
}
df_tmp=$(df -Pm /tmp | awk 'NR==2 {print $4}')
echo "bench: $pairs pairs, wrk runs of ${duration} s; work dir $work (${df_tmp} MiB free in /tmp)"

# ---- 1, 2 (and sg_classify): in process ----
quick_arg=()
[ "$quick" = 1 ] && quick_arg=(--quick)
data="$work/data"
store_arg=(--dir "$data" --keep)
if [ -n "$reuse_dir" ]; then
	data="$reuse_dir"
	store_arg=(--dir "$data" --reuse)
fi
"$build/bench/bench_check" --pairs "$pairs" --record-batch "$record_batch" "${quick_arg[@]}" "${store_arg[@]}" \
	--json "$work/check.json" --wrk-dir "$work" --keywords "$root/keywords" \
	--corpus "$root/tests/data/corpus"
store="$data/store"
if [ -n "$reuse_dir" ]; then
	# the daemon writes (inbound): it gets a copy, the cached store stays as built
	echo "== copying the cached store for the daemon ($(du -sh "$data/store" | cut -f1))"
	cp -a "$data/store" "$work/store"
	store="$work/store"
fi

# ---- 3: classification (the keyword engine's own benchmark) ----
echo "== classification (bench_classify)"
if [ -x "$build/bench/bench_classify" ]; then
	"$build/bench/bench_classify" --seconds "$([ "$quick" = 1 ] && echo 1 || echo 3)" \
		--keywords "$root/keywords" | tee "$work/classify.txt" | sed 's/^/  /'
else
	echo "  bench_classify not built: the table uses sg_classify's figure"
fi

# ---- 4: HTTP check, stopgate and the nginx floor ----
port=$(free_port)
echo "== HTTP: stopgate serve on 127.0.0.1:$port (store of $pairs pairs)"
# --log-level warn: no request lines, as nginx runs with access_log off.
# --http-threads 1: one event loop against nginx's one worker (section 7
# measures N loops against N workers).
# Start time: launch to the first 200 from /healthz (warm cache), timed by a
# small poller that starts the daemon itself and tries every 2 ms.
read -r daemon_pid daemon_start_ms < <(python3 - "$port" "$work/daemon.log" "$build/engine/stopgate" serve \
	--data "$store" --listen "127.0.0.1:$port" --log-level warn --http-threads 1 --keywords "$root/keywords" <<-'PY'
	import socket, subprocess, sys, time
	port, log, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
	t0 = time.monotonic()
	p = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
	ms = -1
	while time.monotonic() - t0 < 120 and p.poll() is None:
	    try:
	        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
	            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	            if s.recv(64).startswith(b"HTTP/1.1 200"):
	                ms = (time.monotonic() - t0) * 1000
	                break
	    except OSError:
	        pass
	    time.sleep(0.002)
	print(p.pid, "%.0f" % ms)
	PY
)
if [ "${daemon_start_ms:--1}" = -1 ] || ! wait_http "http://127.0.0.1:$port/healthz" 5; then
	echo "bench: the daemon did not come up; its log:" >&2
	tail -20 "$work/daemon.log" >&2
	exit 1
fi
echo "  daemon answered /healthz ${daemon_start_ms} ms after launch"
url="http://127.0.0.1:$port"

# ---- 1b: the check through each binding, on the same store and query pool ----
# (bindings/*/README.md; goals: Python <= 2 us, Go <= 1 us, Node <= 2 us per
# check). Each runs 1,000,000 checks in 10 rounds (100,000 with --quick)
# read-only while the daemon holds the store (as a gateway beside it: a
# reader trusts the shared filter only while its writer runs), before any
# HTTP load, and prints one JSON line.
echo "== the check through the bindings (same store, same queries)"
bind_checks=$(( quick == 1 ? 100000 : 1000000 ))
: >"$work/bindings.jsonl"
bind_env=(STOPGATE_LIBRARY="$build/engine/libstopgate.so" LD_LIBRARY_PATH="$build/engine")
if /usr/bin/python3 -c 'import ctypes' 2>/dev/null; then
	env "${bind_env[@]}" /usr/bin/python3 "$root/bindings/python/bench.py" --dir "$store" \
		--queries "$work/check_paths.txt" --checks "$bind_checks" | tee -a "$work/bindings.jsonl" | sed 's/^/  /' ||
		echo "  python binding benchmark failed"
fi
if command -v go >/dev/null; then
	(cd "$root/bindings/go" && env "${bind_env[@]}" GOCACHE="$build/go-cache" GOPATH="$build/go-path" GOPROXY=off \
		GOFLAGS=-mod=mod CGO_CFLAGS="-O2 -I$root/include -I$build/include" CGO_LDFLAGS="-L$build/engine" \
		STOPGATE_BENCH_DIR="$store" STOPGATE_BENCH_QUERIES="$work/check_paths.txt" \
		go test -run '^$' -bench '^BenchmarkCheck$' -benchtime "${bind_checks}x" -count 3 .) >"$work/go_bench.txt" 2>&1 ||
		echo "  go binding benchmark failed: $(tail -3 "$work/go_bench.txt")"
	python3 - "$work/go_bench.txt" "$bind_checks" <<-'EOF' | tee -a "$work/bindings.jsonl" | sed 's/^/  /'
	import json, re, statistics, sys
	ns = [float(m) for m in re.findall(r"^BenchmarkCheck\S*\s+\d+\s+([\d.]+) ns/op", open(sys.argv[1]).read(), re.M)]
	if ns:
	    print(json.dumps({"binding": "go", "checks": int(sys.argv[2]) * len(ns), "rounds": len(ns),
	                      "ns_median": statistics.median(ns), "ns_best": min(ns)}))
	EOF
fi
if command -v node >/dev/null && [ -f "$build/bindings/stopgate.node" ]; then
	env "${bind_env[@]}" STOPGATE_NODE_ADDON="$build/bindings/stopgate.node" node "$root/bindings/node/bench.js" \
		"$store" "$work/check_paths.txt" "$bind_checks" | tee -a "$work/bindings.jsonl" | sed 's/^/  /' ||
		echo "  node binding benchmark failed"
fi

wrk_check=(wrk -t2 -c50 --timeout 5s -s "$root/bench/wrk_check.lua")

nginx_url=""
start_nginx() { # workers: starts nginx on a free loopback port, sets nginx_url
	local nport conf
	nport=$(free_port)
	mkdir -p "$work/nginx/tmp"
	conf="$work/nginx/nginx.conf"
	cat >"$conf" <<-EOF
	worker_processes $1;
	pid $work/nginx/nginx.pid;
	error_log $work/nginx/error.log warn;
	events { worker_connections 4096; }
	http {
	    access_log off;
	    client_body_temp_path $work/nginx/tmp/body;
	    proxy_temp_path $work/nginx/tmp/proxy;
	    fastcgi_temp_path $work/nginx/tmp/fastcgi;
	    keepalive_requests 100000000;
	    keepalive_timeout 60s;
	    server {
	        listen 127.0.0.1:$nport;
	        default_type application/json;
	        location / { return 200 '{"allow":true}\n'; }
	    }
	}
	EOF
	nginx -p "$work/nginx" -c "$conf" -g 'daemon off;' 2>>"$work/nginx/error.log" &
	nginx_pid=$!
	nginx_url="http://127.0.0.1:$nport"
	if ! wait_http "$nginx_url/" 20; then
		echo "  nginx did not come up: $(tail -3 "$work/nginx/error.log" 2>/dev/null)" >&2
		stop_pid "$nginx_pid" nginx
		nginx_pid=""
		return 1
	fi
}
# one wrk run: url, seconds, output file (appended), label
wrk_run() {
	"${wrk_check[@]}" -d"$2s" "$1" -- "$work/check_paths.txt" >"$work/wrk.out"
	grep WRK_RESULT "$work/wrk.out" | tee -a "$3" | sed "s/^/  $4: /"
}
half=$(( (duration + 1) / 2 ))
: >"$work/wrk_check.txt"
if command -v nginx >/dev/null && start_nginx 1; then
	# The floor: nginx with one worker, as stopgate serves HTTP on one event
	# loop. Both servers run side by side and are measured in turn, ABBA,
	# two runs of half the duration each, so that both see the same load.
	: >"$work/wrk_nginx.txt"
	"${wrk_check[@]}" -d"${warm}s" "$url" -- "$work/check_paths.txt" >/dev/null
	"${wrk_check[@]}" -d"${warm}s" "$nginx_url" -- "$work/check_paths.txt" >/dev/null
	wrk_run "$url" "$half" "$work/wrk_check.txt" stopgate
	wrk_run "$nginx_url" "$half" "$work/wrk_nginx.txt" "nginx, 1 worker"
	wrk_run "$nginx_url" "$half" "$work/wrk_nginx.txt" "nginx, 1 worker"
	wrk_run "$url" "$half" "$work/wrk_check.txt" stopgate
	stop_pid "$nginx_pid" nginx
	nginx_pid=""
	# Two workers, for reference only (not the floor).
	if [ "$quick" != 1 ] && start_nginx 2; then
		: >"$work/wrk_nginx2.txt"
		"${wrk_check[@]}" -d"${warm}s" "$nginx_url" -- "$work/check_paths.txt" >/dev/null
		wrk_run "$nginx_url" "$half" "$work/wrk_nginx2.txt" "nginx, 2 workers"
		stop_pid "$nginx_pid" nginx
		nginx_pid=""
	fi
else
	echo "  nginx not installed or not starting: no HTTP floor"
	"${wrk_check[@]}" -d"${warm}s" "$url" -- "$work/check_paths.txt" >/dev/null
	wrk_run "$url" "$duration" "$work/wrk_check.txt" stopgate
fi

# ---- 5: durable inbound ----
echo "== durable inbound: POST /v1/inbound, 64 connections"
curl -fsS "$url/metrics" >"$work/metrics_before.txt"
wrk -t2 -c64 --timeout 10s -d"${duration}s" -s "$root/bench/wrk_inbound.lua" "$url" -- \
	"$work/inbound_pairs.txt" "run$(date +%s)" >"$work/wrk_inbound.txt"
grep WRK_RESULT "$work/wrk_inbound.txt" | sed 's/^/  stopgate: /'
curl -fsS "$url/metrics" >"$work/metrics_after.txt"
echo "== durable inbound: POST /v1/inbound, 256 connections"
wrk -t2 -c256 --timeout 10s -d"${half}s" -s "$root/bench/wrk_inbound.lua" "$url" -- \
	"$work/inbound_pairs.txt" "run256$(date +%s)" >"$work/wrk_inbound256.txt"
grep WRK_RESULT "$work/wrk_inbound256.txt" | sed 's/^/  stopgate: /'
stop_pid "$daemon_pid" "stopgate serve"
daemon_pid=""

# ---- 6: what a durable commit costs (bench_commit, on its own store) ----
# The disk's fdatasync latency beside a commit with one connection (commit
# + sg_sync) and a loaded group commit, in interleaved rounds; the syncs and
# page writes of each; the write amplification of an import of the same
# number of pairs and its bytes per pair by tree. The import is in key order,
# as `stopgate import optouts` records (bench_commit without --sorted shows
# the random order: about 40 x at 1 M pairs, and slow at 10 M).
echo "== durable commits: fdatasync latency, syncs and page writes per commit, import write amplification"
commit_args=(--pairs "$pairs" --sorted --json "$work/commit.json")
[ "$quick" = 1 ] && commit_args+=(--rounds 3 --per 10)
mkdir -p "$work/commit"
SG_KEYWORDS="$root/keywords" "$build/bench/bench_commit" "${commit_args[@]}" --dir "$work/commit" \
	>"$work/commit.txt" 2>"$work/commit_trace.txt" || echo "  bench_commit failed (see $work/commit_trace.txt)"
rm -rf "$work/commit"

# ---- 7: HTTP loops: httpThreads 1 and N against nginx with 1 and N workers ----
# (issue 14's HTTP goals). Interleaved rounds, each daemon on its own copy of
# the store; also the server CPU per request (robust on a shared machine) and
# the checks of the N-loop daemon while durable inbound runs on it.
rm -f "${json_out%.json}-http-loops.json" # never a figure of an earlier run
if command -v nginx >/dev/null; then
	echo "== HTTP loops (bench/http_scale.py): --http-threads 1 and $(nproc), nginx 1 and $(nproc) workers"
	python3 "$root/bench/http_scale.py" --stopgate "$build/engine/stopgate" --store "$store" \
		--keywords "$root/keywords" --paths "$work/check_paths.txt" --inbound-pairs "$work/inbound_pairs.txt" \
		--rounds 3 --seconds "$half" --json "${json_out%.json}-http-loops.json" ||
		echo "  http_scale failed"
fi

# ---- the table ----
echo
python3 "$root/bench/report.py" --check "$work/check.json" --classify "$work/classify.txt" \
	--wrk-check "$work/wrk_check.txt" --wrk-nginx "$work/wrk_nginx.txt" --wrk-nginx2 "$work/wrk_nginx2.txt" \
	--wrk-inbound "$work/wrk_inbound.txt" --wrk-inbound256 "$work/wrk_inbound256.txt" \
	--commit "$work/commit.json" --http-loops "${json_out%.json}-http-loops.json" --metrics-before "$work/metrics_before.txt" \
	--metrics-after "$work/metrics_after.txt" --bindings "$work/bindings.jsonl" --json-out "$json_out" --label "$label" --tree "$tree" \
	--elapsed "$(( $(date +%s) - t_start ))" --daemon-start-ms "$daemon_start_ms"
echo
if [ -s "$work/commit.txt" ]; then
	echo "durable commits (bench_commit, same run; ratios to the fdatasync latency measured beside them):"
	sed 's/^/  /' "$work/commit.txt"
	echo "  one traced commit of each kind (every sync and write, its file and size):"
	sed 's/^/  /' "$work/commit_trace.txt"
	python3 - "$json_out" "$work/commit.json" <<-'PY' || echo "  (commit figures not merged into $json_out)"
	import json, sys
	out, extra = sys.argv[1], sys.argv[2]
	d = json.load(open(out))
	d["commit"] = json.load(open(extra))
	json.dump(d, open(out, "w"), indent=1, sort_keys=True)
	PY
fi
echo
echo "bench: figures written to $json_out"
