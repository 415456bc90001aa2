#!/usr/bin/env bash
# Installs what the tests need beyond Rust and Node, idempotently:
#   - Debian's chromium and nginx (the end-to-end test drives the real browser through a real
#     load balancer) and wrk (the relay benchmark's smoke run);
#   - Debian's redis-server (the session store's tests start their own on loopback ports);
#   - schemathesis from PyPI, pinned, in a virtualenv under $HOME/.cache/oidc-bff/venv;
#   - for the container check (deploy/container/layout.sh): util-linux's unshare, iproute2, curl;
#   - for the Kubernetes check (deploy/k8s/validate.sh): kubernetes-validate and PyYAML from PyPI,
#     pinned in deploy/k8s/requirements.txt, in a virtualenv under $HOME/.cache/oidc-bff/venv-k8s;
#   - cargo-fuzz from crates.io, pinned (the fuzz targets run on the nightly toolchain).
set -euo pipefail
CACHE="$HOME/.cache/oidc-bff"
SCHEMATHESIS_VERSION=4.32.5
CARGO_FUZZ_VERSION=0.13.2

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]} from Debian's packages" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$CACHE/venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "install-deps: installing schemathesis $SCHEMATHESIS_VERSION into $CACHE/venv" >&2
  mkdir -p "$CACHE"
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

"$(dirname "$0")/../deploy/k8s/validate.sh" --install-only

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "install-deps: the fuzz targets need a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "install-deps: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install -q --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
