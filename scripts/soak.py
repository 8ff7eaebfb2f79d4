#!/usr/bin/env python3
"""Soak test (docs/benchmarks.md): three release replicas on one PostgreSQL,
a mixed load for a long while, then a verdict.

    scripts/soak.py [seconds, default 600] [warm-up seconds, default 120]

Load, each by its own wrk process, spread over the replicas, paced (see
API_PACE_MS) so that it is the same steady load in every run:
  - cookie API calls   GET  /api/v1/me with a session cookie    (replica 1)
  - bearer API calls   GET  /api/v1/me with a CLI access token  (replica 2)
  - kickoffs           POST /api/v1/automations/{id}/kickoff    (replica 3),
                       to a stand-in automation (examples/bench_upstream.rs)
  - sign-ins           GET the form, POST the password          (replica 1)

Reported from the replicas' own Prometheus metrics (PORTCULLIS_METRICS_LISTEN):
requests and 5xx per route, p99 per route (from the latency histograms); and
each replica's resident memory sampled every 5 s. The verdict: no 5xx, and
resident memory after the warm-up flat within 10 % (max over min).

Needs: wrk, a PostgreSQL at PORTCULLIS_TEST_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/test; a fresh database is made and
dropped), and builds the release binary and the stand-in first.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from http.cookiejar import CookieJar

# Each load connection's pause after an answer (16 connections each):
# about 5,000 cookie and 5,000 bearer calls/s and 1,800 kickoffs/s here.
API_PACE_MS = 3
KICKOFF_PACE_MS = 8

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, "target/release/portcullis-server")
UPSTREAM = os.path.join(REPO, "target/release/examples/bench_upstream")
OWNER, PASSWORD = "soak@example.com", "soak passphrase 123"
SECRET_KEY = "c29hay10ZXN0LWtleS1vZi0zMi1ieXRlcy1sb25nISE="
TOKEN = "soak-upstream-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, headers=None, body=None, opener=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "portcullis-server", "--bin", "portcullis-server", "--example", "bench_upstream"], cwd=REPO, check=True)
    base_pg = os.environ.get("PORTCULLIS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    db = f"soak_{os.getpid()}"
    subprocess.run(["psql", base_pg, "-qc", f"CREATE DATABASE {db}"], check=True)
    db_url = re.sub(r"/[^/?]+(\?|$)", f"/{db}\\1", base_pg, count=1) if base_pg.count("/") >= 3 else base_pg
    work = tempfile.mkdtemp(prefix="portcullis-soak-")
    procs = []
    try:
        up_port = free_port()
        procs.append(subprocess.Popen([UPSTREAM, str(up_port), TOKEN, "0"]))
        ports = [free_port() for _ in range(3)]
        mports = [free_port() for _ in range(3)]
        public = f"http://127.0.0.1:{ports[0]}"
        replicas = []
        for i, (p, m) in enumerate(zip(ports, mports)):
            env = {
                "PATH": os.environ["PATH"],
                "DATABASE_URL": db_url,
                "PORTCULLIS_SECRET_KEY": SECRET_KEY,
                "PORTCULLIS_PUBLIC_URL": public,
                "PORTCULLIS_LISTEN": f"127.0.0.1:{p}",
                "PORTCULLIS_METRICS_LISTEN": f"127.0.0.1:{m}",
                "PORTCULLIS_DATA_DIR": os.path.join(work, f"data{i}"),
                "PORTCULLIS_LOG": "warn",
                "PORTCULLIS_ACCESS_TOKEN_TTL": "1d",
                "PORTCULLIS_SIGNING_KEY_ROTATION": "30d",
                "PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL": OWNER,
                "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
            }
            proc = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL)
            procs.append(proc)
            base = f"http://127.0.0.1:{p}"
            for _ in range(300):
                try:
                    if http("GET", f"{base}/readyz")[0] == 200:
                        break
                except OSError:
                    pass
                if proc.poll() is not None:
                    sys.exit(f"soak: replica {i + 1} exited with {proc.returncode} (its error is above)")
                time.sleep(0.1)
            else:
                sys.exit(f"soak: replica {i + 1} not ready in 30 s")
            replicas.append((proc, base, f"http://127.0.0.1:{m}/metrics"))

        # The owner's session, an automation, and a CLI token (device grant).
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        a = replicas[0][1]
        _, _, form = http("GET", f"{a}/auth/local/login", {"accept": "application/json"}, opener=opener)
        csrf = json.loads(form)["csrf_token"]
        body = urllib.parse.urlencode({"email": OWNER, "password": PASSWORD, "csrf_token": csrf, "return_to": "/"}).encode()
        http("POST", f"{a}/auth/local/login", {"content-type": "application/x-www-form-urlencoded"}, body, opener)
        session = next(c.value for c in jar if c.name == "portcullis_session")
        _, _, me = http("GET", f"{a}/api/v1/me", opener=opener)
        api_csrf = json.loads(me)["csrf_token"]
        auth = {"x-csrf-token": api_csrf, "content-type": "application/json"}
        _, _, made = http("POST", f"{a}/api/v1/automations", auth, json.dumps({"name": "Soak Crew", "upstream_url": f"http://127.0.0.1:{up_port}", "upstream_token": TOKEN}).encode(), opener)
        automation = json.loads(made)["id"]
        dev = json.loads(http("POST", f"{a}/oauth2/device_authorization", {"content-type": "application/x-www-form-urlencoded"}, b"client_id=portcullis-cli&scope=openid+profile+email")[2])
        http("POST", f"{a}/device", {"content-type": "application/x-www-form-urlencoded"}, urllib.parse.urlencode({"csrf_token": api_csrf, "user_code": dev["user_code"], "decision": "approve"}).encode(), opener)
        grant = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": dev["device_code"], "client_id": "portcullis-cli"}).encode()
        for _ in range(30):
            tok = json.loads(http("POST", f"{a}/oauth2/token", {"content-type": "application/x-www-form-urlencoded"}, grant)[2])
            if "access_token" in tok:
                break
            time.sleep(dev.get("interval", 5))
        access = tok["access_token"]

        # Paced loads (wrk's delay(): each connection waits this long after an
        # answer): a steady load, the same in every run, rather than as much as
        # the machine takes. Unpaced, the API loads alone reach 100,000 req/s
        # here and starve PostgreSQL of CPU (trivial queries took 4-5 s, the
        # pools timed out and sign-ins answered 503, as they should when the
        # database cannot answer); that is a stress test, not a soak.
        pace = os.path.join(work, "pace.lua")
        with open(pace, "w") as f:
            f.write(f"function delay() return {API_PACE_MS} end\n")
        lua = os.path.join(work, "kickoff.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = \'{"inputs":{"topic":"soak"}}\'\n'
                    f'wrk.headers["Content-Type"] = "application/json"\nwrk.headers["Cookie"] = "portcullis_session={session}"\nwrk.headers["X-CSRF-Token"] = "{api_csrf}"\n'
                    f"function delay() return {KICKOFF_PACE_MS} end\n")
        signin_lua = os.path.join(work, "signin.lua")
        with open(signin_lua, "w") as f:
            f.write(f'''local step, cookie, csrf = 0, nil, nil
request = function()
  if step == 0 then return wrk.format("GET", "/auth/local/login", {{["Accept"] = "application/json"}}) end
  local body = "email={urllib.parse.quote(OWNER)}&password={urllib.parse.quote(PASSWORD)}&csrf_token=" .. csrf
  return wrk.format("POST", "/auth/local/login", {{["Content-Type"] = "application/x-www-form-urlencoded", ["Accept"] = "application/json", ["Cookie"] = cookie}}, body)
end
response = function(status, headers, body)
  if step == 0 then
    cookie = (headers["set-cookie"] or headers["Set-Cookie"] or ""):match("^[^;]+")
    csrf = body:match('"csrf_token":"([^"]+)"')
    step = 1
  else
    step = 0
  end
end
''')
        d = f"{seconds}s"
        loads = [
            ("cookie API calls", ["wrk", "-t1", "-c16", "-d", d, "-s", pace, "-H", f"Cookie: portcullis_session={session}", f"{replicas[0][1]}/api/v1/me"]),
            ("bearer API calls", ["wrk", "-t1", "-c16", "-d", d, "-s", pace, "-H", f"Authorization: Bearer {access}", f"{replicas[1][1]}/api/v1/me"]),
            ("kickoffs", ["wrk", "-t1", "-c16", "-d", d, "-s", lua, f"{replicas[2][1]}/api/v1/automations/{automation}/kickoff"]),
            ("sign-ins", ["wrk", "-t1", "-c1", "-d", d, "-s", signin_lua, replicas[0][1]]),
        ]
        samples = defaultdict(list)
        stop = threading.Event()

        def sample():
            started = time.time()
            while not stop.wait(5):
                for i, (proc, _, _) in enumerate(replicas):
                    samples[i].append((time.time() - started, rss_kib(proc.pid)))

        sampler = threading.Thread(target=sample)
        sampler.start()
        print(f"soak: {seconds} s of mixed load on 3 replicas (warm-up {warmup} s)...", flush=True)
        running = [(name, subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)) for name, cmd in loads]
        outputs = [(name, p.communicate()[0]) for name, p in running]
        stop.set()
        sampler.join()

        for name, out in outputs:
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            print(f"  {name}: {rps.group(1) if rps else '?'} req/s, non-2xx/3xx {non2xx.group(1) if non2xx else 0}")

        # Per route, over the three replicas: requests, 5xx, p99.
        counts, errors, buckets = defaultdict(float), defaultdict(float), defaultdict(lambda: defaultdict(float))
        for _, _, metrics in replicas:
            text = http("GET", metrics)[2].decode()
            for line in text.splitlines():
                m = re.match(r'portcullis_http_requests_total\{(.*)\} ([\d.e+]+)', line)
                if m:
                    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
                    key = f'{labels["method"]} {labels["route"]}'
                    counts[key] += float(m.group(2))
                    if labels["status"].startswith("5"):
                        errors[key] += float(m.group(2))
                m = re.match(r'portcullis_http_request_duration_seconds_bucket\{(.*)\} ([\d.e+]+)', line)
                if m:
                    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
                    le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
                    buckets[f'{labels["method"]} {labels["route"]}'][le] += float(m.group(2))
        print("  per route (all replicas): requests, 5xx, p99")
        for key in sorted(counts, key=lambda k: -counts[k]):
            b = sorted(buckets[key].items())
            total = b[-1][1] if b else 0
            p99, prev_le, prev_n = None, 0.0, 0.0
            for le, n in b:
                if n >= 0.99 * total:
                    p99 = le if le == float("inf") or n == prev_n else prev_le + (le - prev_le) * (0.99 * total - prev_n) / (n - prev_n)
                    break
                prev_le, prev_n = le, n
            print(f"    {key}: {counts[key]:.0f}, {errors[key]:.0f}, p99 {p99 * 1000:.1f} ms" if p99 not in (None, float("inf")) else f"    {key}: {counts[key]:.0f}, {errors[key]:.0f}, p99 > 30 s")

        verdict = sum(errors.values()) == 0
        for i, s in samples.items():
            after = [kib for t, kib in s if t >= warmup]
            if not after:
                print(f"  replica {i + 1}: no samples after the warm-up")
                verdict = False
                continue
            spread = max(after) / min(after) - 1
            print(f"  replica {i + 1}: resident memory after warm-up {min(after) / 1024:.1f}-{max(after) / 1024:.1f} MiB ({spread * 100:.1f} %), at the start {s[0][1] / 1024:.1f} MiB")
            verdict &= spread <= 0.10
        print("soak:", "PASS (no 5xx, memory flat within 10 %)" if verdict else "FAIL")
        return 0 if verdict else 1
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        subprocess.run(["psql", base_pg, "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"])


if __name__ == "__main__":
    sys.exit(main())
