#!/usr/bin/env bash
# Deployment tests: the Helm chart (deploy/helm/portcullis), the Containerfile's
# runtime packages, and the server started with the chart's rendered
# environment. Arguments go to pytest (e.g. -k okta, -x).
#
# Needs: python3 (3.10+), apt/dpkg (Debian bookworm) and Debian's mirror for
# the image check, node with `npm ci --prefix tests/idp` done, PostgreSQL at
# 127.0.0.1:5432 (skipped when absent unless PORTCULLIS_REQUIRE_POSTGRES=1),
# strace, and a built target/debug/portcullis-server (or PORTCULLIS_SERVER_BIN;
# the library check prefers target/release, or PORTCULLIS_RELEASE_BIN).
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/deploy-venv
requirements=tests/deploy/requirements.txt
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p target
  python3 -m venv "$venv"
fi
# Reinstall only when requirements.txt changed.
stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  "$venv/bin/python" -m pip install -q -r "$requirements"
  echo "$wanted" > "$stamp"
fi

export PYTHONDONTWRITEBYTECODE=1
set +e
"$venv/bin/python" -m pytest tests/deploy -q "$@"
status=$?
set -e
exit "$status"
