#!/usr/bin/env bash
# HTTP benchmarks of the release build on loopback (see docs/benchmarks.md):
#   - start-up to ready on an empty SQLite database,
#   - resident memory of the idle server,
#   - GET /api/v1/me with a session cookie under wrk (64 connections).
# Needs wrk (Debian package `wrk`). Usage: scripts/bench-http.sh [duration, default 20s]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-20s}"
command -v wrk >/dev/null || { echo "error: install wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release --locked -p portcullis-server --bin portcullis-server >/dev/null
bin="$PWD/target/release/portcullis-server"
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start_ns=$(date +%s%N)
PORTCULLIS_LISTEN="127.0.0.1:$port" PORTCULLIS_DATA_DIR="$dir/data" PORTCULLIS_LOG=warn \
PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL=bench@example.com PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD="bench passphrase 123" \
  "$bin" serve >"$dir/out" 2>"$dir/err" &
pid=$!
until curl -fsS "$base/readyz" >/dev/null 2>&1; do sleep 0.005; done
ready_ns=$(date +%s%N)
echo "start-up to ready (empty SQLite, includes migrations and the bootstrap admin's argon2 hash): $(( (ready_ns - start_ns) / 1000000 )) ms"
sleep 2
echo "idle resident memory: $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) MiB ($(awk '/VmRSS/ {print $2}' /proc/$pid/status) KiB)"

jar="$dir/jar"
csrf=$(curl -fsS -c "$jar" -H 'accept: application/json' "$base/auth/local/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
curl -fsS -b "$jar" -c "$jar" -o /dev/null --data-urlencode "email=bench@example.com" --data-urlencode "password=bench passphrase 123" --data-urlencode "csrf_token=$csrf" "$base/auth/local/login"
session=$(awk '$6 == "portcullis_session" {print $7}' "$jar")
curl -fsS -H "cookie: portcullis_session=$session" "$base/api/v1/me" >/dev/null
echo "GET /api/v1/me, wrk -t2 -c64 -d$duration:"
wrk -t2 -c64 -d"$duration" --latency -H "Cookie: portcullis_session=$session" "$base/api/v1/me"
echo "resident memory after the run: $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) MiB"
