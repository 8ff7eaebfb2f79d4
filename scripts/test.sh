#!/usr/bin/env bash
# The whole Portcullis test suite, from a fresh clone:
#   - installs what the tests need (the build prerequisites of scripts/build-deps.sh,
#     Debian's chromium, SimpleSAMLphp with php for the SAML IdP peer in tests/saml-idp,
#     the npm packages of tests/browser and of the OpenID provider peer in tests/idp,
#     the platform's CLI and the SCIM compliance checker scim2-tester from PyPI),
#   - runs every Rust test (domain, storage conformance and HTTP API, each on SQLite and PostgreSQL),
#   - runs the browser tests in headless Chromium against the real binary.
#
# PostgreSQL is taken from PORTCULLIS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
# Without a reachable PostgreSQL the PostgreSQL half is skipped, and this script says so;
# with PORTCULLIS_REQUIRE_POSTGRES=1 (as CI sets) that is a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# --- what the tests need -----------------------------------------------------
scripts/build-deps.sh
saml_packages=(simplesamlphp php-cli php-xml php-mbstring xmlsec1 strace)
saml_missing=()
for p in "${saml_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || saml_missing+=("$p")
done
if [ ${#saml_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing the SAML IdP peer (Debian's SimpleSAMLphp, tests/saml-idp): ${saml_missing[*]}"
    apt-get update -qq
    # policy-rc.d keeps the apache2 the package pulls in from starting.
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${saml_missing[@]}" >/dev/null
    [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  else
    echo "error: the SAML tests need Debian's ${saml_missing[*]} (sudo apt-get install ${saml_missing[*]})" >&2
    exit 1
  fi
fi
chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's chromium for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the browser tests need Chromium at $chromium_bin; install Debian's package 'chromium' (sudo apt-get install chromium) or set CHROMIUM" >&2
    exit 1
  fi
fi
say "installing the browser tests' npm packages (tests/browser)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
say "installing the OpenID provider peer (tests/idp: oidc-provider)"
(cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
say "installing the platform's CLI from PyPI (tests/crewai-cli: crewai-cli, pinned)"
venv="$PWD/target/crewai-cli-venv"
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/crewai-cli/requirements.txt -c tests/crewai-cli/constraints.txt
export PORTCULLIS_CREWAI_BIN="$venv/bin/crewai"
say "installing the SCIM compliance checker from PyPI (tests/scim: scim2-tester, pinned)"
scim_venv="$PWD/target/scim-tester-venv"
[ -x "$scim_venv/bin/pip" ] || python3 -m venv "$scim_venv"
"$scim_venv/bin/pip" install --quiet --disable-pip-version-check -r tests/scim/requirements.txt -c tests/scim/constraints.txt
export PORTCULLIS_SCIM_TESTER_PY="$scim_venv/bin/python"

# --- PostgreSQL ----------------------------------------------------------------
pg_url="${PORTCULLIS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
pg_hostport=$(printf '%s' "$pg_url" | sed -E 's#^[a-z]+://([^@/]*@)?([^/?]+).*#\2#')
pg_host="${pg_hostport%:*}"; pg_port="${pg_hostport##*:}"; [ "$pg_port" = "$pg_hostport" ] && pg_port=5432
if (exec 3<>"/dev/tcp/$pg_host/$pg_port") 2>/dev/null; then
  echo "PostgreSQL reachable at $pg_host:$pg_port: storage and API tests run on SQLite and PostgreSQL"
  pg_note=""
else
  if [ "${PORTCULLIS_REQUIRE_POSTGRES:-}" = 1 ] || [ "${CI:-}" = true ]; then
    echo "error: PostgreSQL is required but not reachable at $pg_host:$pg_port ($pg_url)" >&2
    exit 1
  fi
  pg_note="NOTE: PostgreSQL was not reachable at $pg_host:$pg_port, so the PostgreSQL half of the storage and API tests was SKIPPED (only SQLite ran). Start PostgreSQL or set PORTCULLIS_TEST_POSTGRES_URL to run it."
  echo "$pg_note"
fi
export PORTCULLIS_TEST_POSTGRES_URL="$pg_url"

# --- Rust ----------------------------------------------------------------------
say "building"
cargo build --workspace --all-targets --locked
if cargo clippy --version >/dev/null 2>&1; then
  say "lints (clippy, warnings are errors)"
  cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
else
  echo "NOTE: clippy is not installed (rustup component add clippy), so the lint step was skipped"
fi
say "Rust tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
rust_passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
rust_failed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{s+=$6} END {print s+0}')

# --- deployment ------------------------------------------------------------------
say "deployment tests (Helm chart with Helm's Go SDK, Kubernetes schemas, the Containerfile's libraries, the server from the chart's environment)"
# The image check reads the debug binary's shared libraries unless a release
# binary is named: the debug build needs every library the release build does
# (same native link lines; LTO and --as-needed only ever drop one), and a
# release build here would add ten minutes to every run.
dlog=$(mktemp)
set +e
PORTCULLIS_SERVER_BIN="$PWD/target/debug/portcullis-server" PORTCULLIS_RELEASE_BIN="${PORTCULLIS_RELEASE_BIN:-$PWD/target/debug/portcullis-server}" tests/deploy/run.sh 2>&1 | tee "$dlog"
set -e
# (grep finds nothing when nothing failed: not an error here.)
deploy_passed=$({ grep -Eo '[0-9]+ passed' "$dlog" || true; } | tail -n1 | awk '{print $1}')
deploy_failed=$({ grep -Eo '[0-9]+ (failed|errors?)' "$dlog" || true; } | awk '{s+=$1} END {print s+0}')
[ -n "$deploy_passed" ] || { deploy_passed=0; deploy_failed=$((deploy_failed + 1)); }
rm -f "$dlog"

# --- browser -------------------------------------------------------------------
say "browser tests (headless Chromium)"
blog=$(mktemp)
(cd tests/browser && PORTCULLIS_BIN="$PWD/../../target/debug/portcullis-server" CHROMIUM="$chromium_bin" npm test 2>&1) | tee "$blog"
browser_passed=$(grep -E '^# pass ' "$blog" | awk '{print $3}')
browser_failed=$(grep -E '^# fail ' "$blog" | awk '{print $3}')
rm -f "$blog"

[ -n "$pg_note" ] && printf '\n%s\n' "$pg_note"
total_passed=$((rust_passed + deploy_passed + browser_passed))
total_failed=$((rust_failed + deploy_failed + browser_failed))
printf '\nRust: %s passed, %s failed; deployment: %s passed, %s failed; browser: %s passed, %s failed\n' "$rust_passed" "$rust_failed" "$deploy_passed" "$deploy_failed" "$browser_passed" "$browser_failed"
echo "total: $total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]
