"""The real server, configured exactly as the chart configures its pods.

The process environment is built from the rendered Deployment's container
(`env` values, `secretKeyRef`s and `envFrom` resolved through the rendered
Secrets) plus PATH and HOME, nothing else. The Job's command runs first, then
the Deployment's, as Kubernetes would run them.
"""

from __future__ import annotations

import base64
import http.cookiejar
import json
import os
import re
import secrets as pysecrets
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import CHART_DIR, REPO, container, example_values, process_env, render, server_binary

READY_TIMEOUT = 30.0
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Processes:
    """Started processes, all stopped at the end of the test."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.running: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], **kw) -> tuple[subprocess.Popen, Path]:
        log = self.tmp / f"{name}.stderr"
        kw.setdefault("stdout", subprocess.DEVNULL)
        p = subprocess.Popen(argv, stderr=open(log, "wb"), **kw)
        self.running.append((p, log))
        return p, log

    def stop_all(self) -> None:
        for p, _ in reversed(self.running):
            stop(p)


def stop(p: subprocess.Popen, timeout: float = 10.0) -> int | None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    for f in (p.stdin, p.stdout):
        if f:
            f.close()
    return p.returncode


@pytest.fixture
def processes(tmp_path):
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


@pytest.fixture
def postgres_database():
    """A fresh, uniquely named PostgreSQL database, dropped afterwards."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        if os.environ.get("PORTCULLIS_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    name = f"portcullis_deploy_{pysecrets.token_hex(6)}"
    subprocess.run([*PSQL, "-d", "test", "-c", f"CREATE DATABASE {name}"], check=True)
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    subprocess.run([*PSQL, "-d", "test", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)


def start_idp(processes: Processes, rp_url: str) -> dict:
    """tests/idp/server.mjs: one JSON line naming each provider's issuer/port."""
    idp_dir = REPO / "tests" / "idp"
    if not (idp_dir / "node_modules").is_dir():
        pytest.fail("tests/idp/node_modules is missing: run `npm ci --prefix tests/idp`")
    p, log = processes.start(
        "idp", ["node", str(idp_dir / "server.mjs"), "--rp", rp_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    ready, _, _ = select.select([p.stdout], [], [], 20)
    line = p.stdout.readline() if ready else b""
    if not line:
        pytest.fail(f"the test IdP did not start: {log.read_text()[-2000:]}")
    return json.loads(line)


def command(c: dict, binary: Path) -> list[str]:
    argv = [*c["command"], *c.get("args", [])]
    assert argv[0] == "portcullis-server"
    return [str(binary), *argv[1:]]


def base_env(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}


def wait_ready(p: subprocess.Popen, log: Path, base: str) -> dict:
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if p.poll() is not None:
            pytest.fail(f"portcullis-server exited with {p.returncode} before it was ready:\n{log.read_text()[-4000:]}")
        try:
            status, body = get(f"{base}/readyz", timeout=2)
            last = f"{status} {body}"
            if status == 200 and json.loads(body).get("status") == "ready":
                return json.loads(body)
        except (OSError, ValueError) as e:
            last = repr(e)
        time.sleep(0.2)
    pytest.fail(f"portcullis-server not ready in {READY_TIMEOUT:.0f} s (last /readyz: {last}):\n{log.read_text()[-4000:]}")


def assert_no_unknown_variables(log: Path) -> None:
    """Every PORTCULLIS_* variable the chart sets is one the server knows."""
    unknown = re.findall(r"unknown PORTCULLIS_ variable.*", log.read_text())
    assert not unknown, unknown


def test_okta_release_migrates_serves_and_answers_the_cli(chart, processes, postgres_database, tmp_path):
    binary = server_binary()
    port, metrics_port = free_port(), free_port()
    public = f"http://127.0.0.1:{port}"
    idp = start_idp(processes, public)
    okta_port = idp["okta"]["port"]
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    values = example_values(
        CHART_DIR / "examples" / "okta.yaml",
        {
            "publicUrl": public,
            "secrets": {
                "OKTA_CLIENT_ID": "okta-web",
                "OKTA_CLIENT_SECRET": "okta-secret",
                "OKTA_SITE": f"http://127.0.0.1:{okta_port}",
                "OKTA_AUTHORIZATION_SERVER": "default",
                "OKTA_AUDIENCE": "api://default",
                "OKTA_DEVICE_AUTHORIZATION_CLIENT_ID": "okta-cli",
            },
            "database": {"url": postgres_database},
            "secretKey": {"value": base64.b64encode(pysecrets.token_bytes(32)).decode()},
            "service": {"port": port},
            "metrics": {"port": metrics_port},
            "persistence": {"mountPath": str(data_dir)},
        },
    )
    assert idp["okta"]["issuer"] == f"http://127.0.0.1:{okta_port}/oauth2/default"
    rendered = render(chart, values)
    server, job = container(rendered.one("Deployment")), container(rendered.one("Job"))
    env = {**process_env(rendered, server), **base_env(tmp_path)}
    assert process_env(rendered, job) == process_env(rendered, server)
    assert env["PORTCULLIS_DATA_DIR"] == str(data_dir) and env["DATABASE_URL"] == postgres_database

    # The Job: `portcullis-server migrate`, exit 0.
    migrate = subprocess.run(command(job, binary), env=env, capture_output=True, text=True, timeout=60)
    assert migrate.returncode == 0, f"migrate exited with {migrate.returncode}:\n{migrate.stderr[-4000:]}"

    # The Deployment: `portcullis-server serve`.
    p, log = processes.start("server", command(server, binary), env=env, cwd=data_dir)
    ready = wait_ready(p, log, public)
    assert ready == {"status": "ready", "database": "ok", "providers": {"okta": "ok"}}

    status, body = get(f"{public}/auth/parameters")
    assert status == 200, body
    parameters = json.loads(body)
    assert parameters == {
        "provider": "okta",
        "domain": f"127.0.0.1:{okta_port}",
        "device_authorization_client_id": "okta-cli",
        "audience": "api://default",
        "extra": {"authorization_server_name": "default", "using_org_auth_server": False},
    }
    assert get(f"{public}/healthz") == (200, "ok")
    status, metrics = get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert status == 200 and "# TYPE" in metrics, metrics[:500]
    assert_no_unknown_variables(log)

    assert stop(p) == 0, f"serve did not stop cleanly on SIGTERM:\n{log.read_text()[-2000:]}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):
        return None


def sign_in(public: str, email: str, password: str) -> int:
    """A local sign-in through the form (CSRF token, pre-session cookie)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(f"{public}/auth/local/login", timeout=5).read().decode()
    token = re.search(r'name="csrf_token"\s+value="([^"]+)"', page)
    assert token, page[:2000]
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token.group(1)}).encode()
    request = urllib.request.Request(f"{public}/auth/local/login", data=form, headers={"Origin": public})
    try:
        return opener.open(request, timeout=30).status
    except urllib.error.HTTPError as e:
        return e.code


WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND")
ALWAYS_WRITES = {"creat", "mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat",
                 "link", "linkat", "symlink", "symlinkat", "truncate", "chmod", "fchmodat"}
TRACED = ["open", "openat", *sorted(ALWAYS_WRITES)]


def writes_outside(trace: Path, allowed: Path, cwd: Path) -> list[str]:
    """File writes (attempted or done) outside `allowed`, from `strace -f -y`."""
    outside = []
    call = re.compile(r"^(?:\[pid\s+)?\d+\]?\s+(\w+)\((.*)\)\s+=\s+(-?\d+)")
    for line in trace.read_text().splitlines():
        m = call.match(line)
        if not m or m.group(1) not in TRACED:
            continue
        name, args = m.group(1), m.group(2)
        if name in ("open", "openat") and not WRITE_FLAGS.search(args):
            continue
        dirfd = re.match(r"^(?:AT_FDCWD|\d+)(?:<([^>]*)>)?,\s*", args)
        base = Path(dirfd.group(1)) if dirfd and dirfd.group(1) else cwd
        for path in re.findall(r'"((?:[^"\\]|\\.)*)"', args):
            p = Path(path) if path.startswith("/") else base / path
            p = Path(os.path.normpath(p))
            if p == allowed or allowed in p.parents or str(p).startswith(("/dev/", "/proc/self/", "/proc/thread-self/")):
                continue
            outside.append(line)
    return outside


def test_read_only_root_filesystem_writes_only_the_data_dir(chart, processes, tmp_path):
    """With SQLite (the default), everything the server writes is in
    PORTCULLIS_DATA_DIR: the image needs no writable /tmp."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    binary = server_binary()
    port, metrics_port = free_port(), free_port()
    public = f"http://127.0.0.1:{port}"
    data_dir = (tmp_path / "data").resolve()
    data_dir.mkdir()
    password = "correct horse battery staple"
    values = example_values(
        CHART_DIR / "examples" / "local.yaml",
        {
            "publicUrl": public,
            "secrets": {"PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD": password},
            "service": {"port": port},
            "metrics": {"port": metrics_port},
            "persistence": {"mountPath": str(data_dir)},
        },
    )
    rendered = render(chart, values)
    assert rendered.of_kind("Job") == []
    server = container(rendered.one("Deployment"))
    env = {**process_env(rendered, server), **base_env(tmp_path)}
    trace = tmp_path / "strace.txt"
    strace = ["strace", "-f", "-y", "-qq", "-e", "trace=" + ",".join(TRACED), "-o", str(trace)]
    # The image's working directory is the data directory.
    p, log = processes.start("server", [*strace, *command(server, binary)], env=env, cwd=data_dir)
    wait_ready(p, log, public)
    assert sign_in(public, "admin@example.com", password) == 303
    assert sign_in(public, "admin@example.com", "wrong password, twice over") in (401, 403, 200)
    assert get(f"http://127.0.0.1:{metrics_port}/metrics")[0] == 200
    assert get(f"{public}/healthz") == (200, "ok")
    # Stop the server itself (strace then exits with it).
    children = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
    for child in children:
        os.kill(int(child), signal.SIGTERM)
    p.wait(15)
    assert_no_unknown_variables(log)

    assert (data_dir / "portcullis.db").exists() and (data_dir / "secret.key").exists()
    outside = writes_outside(trace, data_dir, data_dir)
    assert not outside, "writes outside the data directory:\n" + "\n".join(outside[:20])


def test_the_trace_check_sees_writes_outside(tmp_path):
    """writes_outside() itself: a write elsewhere is reported, reads and
    writes in the data directory are not."""
    data = Path("/var/lib/portcullis")
    trace = tmp_path / "t.txt"
    trace.write_text(
        "\n".join(
            [
                '10  openat(AT_FDCWD</var/lib/portcullis>, "/var/lib/portcullis/portcullis.db", O_RDWR|O_CREAT|O_CLOEXEC, 0644) = 9</var/lib/portcullis/portcullis.db>',
                '10  openat(AT_FDCWD</var/lib/portcullis>, "/etc/ssl/certs/ca-certificates.crt", O_RDONLY|O_CLOEXEC) = 9</etc/ssl/certs/ca-certificates.crt>',
                '10  openat(AT_FDCWD</var/lib/portcullis>, "/dev/null", O_WRONLY) = 3</dev/null>',
                '11  openat(AT_FDCWD</var/lib/portcullis>, "/var/tmp/etilqs_1", O_RDWR|O_CREAT|O_EXCL, 0600) = -1 EROFS (Read-only file system)',
                '11  openat(AT_FDCWD</var/lib/portcullis>, "scratch", O_RDWR|O_CREAT, 0600) = 5</var/lib/portcullis/scratch>',
                '12  openat(7</etc>, "motd", O_WRONLY|O_TRUNC) = 5</etc/motd>',
                '12  mkdir("/tmp/x", 0700) = 0',
                '12  unlink("/var/lib/portcullis/portcullis.db-journal") = 0',
            ]
        )
    )
    outside = writes_outside(trace, data, data)
    assert [re.search(r'"([^"]+)"', line).group(1) for line in outside] == ["/var/tmp/etilqs_1", "motd", "/tmp/x"]
