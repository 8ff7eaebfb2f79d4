#!/usr/bin/env bash
# Kickoff proxy overhead (see docs/benchmarks.md): wrk against a stand-in
# automation directly, through nginx as a plain reverse-proxy hop that adds
# the token (Debian's nginx-light), then through Portcullis, side by side on
# loopback in one run. BENCH_PERF=1 records a `perf` profile of Portcullis
# during its first round (target/bench-proxy.perf.data); BENCH_ROUNDS sets
# how many turns nginx and Portcullis take (default 3).
# Usage: scripts/bench-proxy.sh [duration, default 15s] [upstream delay in ms, default 0]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-15s}"
delay="${2:-0}"
command -v wrk >/dev/null || { echo "error: install wrk (apt-get install wrk)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "error: install nginx (apt-get install nginx-light)" >&2; exit 1; }
cargo build --release --locked -p portcullis-server --bin portcullis-server >/dev/null
cargo build --release --locked -p portcullis-server --example bench_upstream >/dev/null
dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up_port=$(free_port); port=$(free_port); nginx_port=$(free_port)
token="bench-upstream-token"
cleanup() { kill ${up_pid:-} ${pid:-} 2>/dev/null || true; [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

target/release/examples/bench_upstream "$up_port" "$token" "$delay" & up_pid=$!
# nginx: one plain hop that adds the automation's token, with keep-alive
# connections to the upstream (as Portcullis keeps them), two workers (one per core).
cat > "$dir/nginx.conf" <<NGINX
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream automation { server 127.0.0.1:$up_port; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://automation;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer $token";
    }
  }
}
NGINX
nginx -c "$dir/nginx.conf" -p "$dir"
PORTCULLIS_LISTEN="127.0.0.1:$port" PORTCULLIS_DATA_DIR="$dir/data" PORTCULLIS_LOG=warn \
PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL=bench@example.com PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD="bench passphrase 123" \
  target/release/portcullis-server serve >/dev/null 2>"$dir/err" & pid=$!
base="http://127.0.0.1:$port"
until curl -fsS "$base/readyz" >/dev/null 2>&1 && curl -fsS -H "authorization: Bearer $token" "http://127.0.0.1:$up_port/" >/dev/null 2>&1; do sleep 0.05; done

jar="$dir/jar"
csrf=$(curl -fsS -c "$jar" -H 'accept: application/json' "$base/auth/local/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
curl -fsS -b "$jar" -c "$jar" -o /dev/null --data-urlencode "email=bench@example.com" --data-urlencode "password=bench passphrase 123" --data-urlencode "csrf_token=$csrf" "$base/auth/local/login"
session=$(awk '$6 == "portcullis_session" {print $7}' "$jar")
api_csrf=$(curl -fsS -H "cookie: portcullis_session=$session" "$base/api/v1/me" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
id=$(curl -fsS -H "cookie: portcullis_session=$session" -H "x-csrf-token: $api_csrf" -H 'content-type: application/json' \
  -d "{\"name\":\"Bench Crew\",\"upstream_url\":\"http://127.0.0.1:$up_port\",\"upstream_token\":\"$token\"}" "$base/api/v1/automations" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

body='{"inputs":{"topic":"benchmarks","audience":"operators"}}'
cat > "$dir/direct.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
cat > "$dir/nginx.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
cat > "$dir/proxy.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "portcullis_session=$session"
wrk.headers["X-CSRF-Token"] = "$api_csrf"
LUA
curl -fsS -H "cookie: portcullis_session=$session" -H "x-csrf-token: $api_csrf" -H 'content-type: application/json' -d "$body" "$base/api/v1/automations/$id/kickoff" >/dev/null

echo "== direct: POST http://127.0.0.1:$up_port/kickoff (upstream delay ${delay} ms), wrk -t2 -c64 -d$duration"
wrk -t2 -c64 -d"$duration" --latency -s "$dir/direct.lua" "http://127.0.0.1:$up_port/kickoff"
# nginx and Portcullis take turns (BENCH_ROUNDS rounds, default 3), so
# that the machine's speed swings fall on both alike; the ratio is taken
# over the totals of all rounds.
rounds="${BENCH_ROUNDS:-3}"
run() { # name url script -> prints wrk's output, appends "name requests p99" to $dir/totals
  local out; out=$(wrk -t2 -c64 -d"$duration" --latency -s "$3" "$2")
  echo "$out"
  echo "$1 $(echo "$out" | awk '/requests in/ {print $1}') $(echo "$out" | awk '$1 == "99%" {print $2}')" >> "$dir/totals"
}
for r in $(seq 1 "$rounds"); do
  echo "== round $r/$rounds, through nginx: POST http://127.0.0.1:$nginx_port/kickoff"
  run nginx "http://127.0.0.1:$nginx_port/kickoff" "$dir/nginx.lua"
  echo "== round $r/$rounds, through Portcullis: POST $base/api/v1/automations/$id/kickoff"
  if [ -n "${BENCH_PERF:-}" ] && [ "$r" = 1 ]; then perf record -F 499 ${BENCH_PERF_CALLGRAPH:--g} -p "$pid" -o target/bench-proxy.perf.data -- sleep 5 >/dev/null 2>&1 & perf_pid=$!; fi
  run portcullis "$base/api/v1/automations/$id/kickoff" "$dir/proxy.lua"
  [ -n "${perf_pid:-}" ] && wait "$perf_pid" && perf_pid=""
done
echo "== summary over $rounds rounds of $duration each"
python3 - "$dir/totals" <<'PY'
import sys, collections
tot = collections.defaultdict(int); p99 = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, n, p = line.split()
    tot[name] += int(n)
    v = float(p[:-2]) if p.endswith("ms") else float(p[:-2]) / 1000 if p.endswith("us") else float(p[:-1]) * 1000
    p99[name].append(v)
for name in ("nginx", "portcullis"):
    print(f"{name}: {tot[name]} requests, p99 per round (ms): {', '.join(f'{v:.2f}' for v in p99[name])}")
print(f"Portcullis / nginx: {100 * tot['portcullis'] / tot['nginx']:.1f} % of the requests")
PY
if [ -n "${BENCH_INPUTS:-}" ]; then echo "== GET inputs through Portcullis"; wrk -t2 -c64 -d"$duration" --latency -H "Cookie: portcullis_session=$session" "$base/api/v1/automations/$id/inputs"; echo "== GET /api/v1/automations/$id (no upstream call)"; wrk -t2 -c64 -d"$duration" --latency -H "Cookie: portcullis_session=$session" "$base/api/v1/automations/$id"; fi
# Every kickoff was recorded and counted: the executions listing flushes
# what the recorder holds, then the usage report's count for this
# automation is compared with what wrk saw answered (plus the warm-up call;
# up to 64 more may have been in flight when a run stopped).
curl -fsS -o /dev/null -H "cookie: portcullis_session=$session" "$base/api/v1/automations/$id/executions?limit=1"
counted=$(curl -fsS -H "cookie: portcullis_session=$session" "$base/api/v1/usage" | python3 -c "import json,sys; print(json.load(sys.stdin)['kickoffs_by_automation'].get('$id', 0))")
answered=$(awk '$1 == "portcullis" {s += $2} END {print s + 1}' "$dir/totals")
echo "kickoffs counted in usage: $counted; answered to wrk: $answered (with the warm-up call)"
