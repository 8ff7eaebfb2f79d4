#!/usr/bin/env bash
# Starts Portcullis on its embedded defaults (SQLite in ./portcullis-data, the
# built-in `local` provider, http://127.0.0.1:8080), building it first.
# Extra arguments go to `portcullis-server serve`; settings are environment variables
# (docs/configuration.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-deps.sh
exec cargo run --release -p portcullis-server --bin portcullis-server -- serve "$@"
