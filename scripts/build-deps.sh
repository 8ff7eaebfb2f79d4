#!/usr/bin/env bash
# What building Portcullis needs beyond Rust: SAML signatures are verified by
# libxmlsec1 (through the samael crate, whose build generates its bindings
# with bindgen, hence libclang). On Debian or Ubuntu, installed when missing
# and running as root; otherwise this says which packages to install.
set -euo pipefail
needed=(libxmlsec1-dev libclang-dev pkg-config)
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  printf '\n==> installing the build prerequisites: %s\n' "${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "error: building Portcullis needs the packages ${missing[*]} (libxmlsec1 for SAML signatures, libclang for its bindings): sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
