#!/usr/bin/env bash
# Runs every check and test:
#   the Angular library's unit tests (headless Chromium) and build, the generated Angular client
#   matches openapi/ (drift check), the reference Angular app builds against the library,
#   formatting, lints, unit, property and integration tests (against a real oidc-provider),
#   schemathesis against a running instance, the benchmark code in test mode, the fuzz targets
#   (20 s each), the relay benchmark in smoke mode, the nginx config check, the container image
#   check (the Dockerfile's runtime stage laid out and run as the image would, without an engine),
#   the Kubernetes manifests rendered and validated offline, and the end-to-end test
#   (Debian's Chromium -> nginx -> two oidc-bff replicas -> oidc-provider + demo upstream).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oidc-bff/target}"
export PATH="$PATH:/usr/sbin"

scripts/install-deps.sh

npm_install() {
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$dir/node_modules"
  fi
}
npm_install tests/sso
npm_install tests/e2e
npm_install clients/angular

echo "== Angular library @oidc-bff/angular: unit tests in headless Chromium, then its build"
(cd clients/angular && CHROME_BIN="${CHROME_BIN:-/usr/bin/chromium}" npx ng test --no-progress && npx ng build >/dev/null)

# The app links the library's build (file:../../clients/angular/dist/oidc-bff-angular): built just above.
npm_install examples/angular

echo "== generated client drift check and the reference app's build against the library"
(cd examples/angular && npm run --silent check-client && npx ng build --configuration production >/dev/null)

echo "== fmt, clippy, cargo test"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --all-targets --locked -- -D warnings
SCHEMATHESIS="$HOME/.cache/oidc-bff/venv/bin/schemathesis" cargo test --all-targets --locked

echo "== fuzz targets, 20 s each"
scripts/fuzz.sh 20

echo "== relay benchmark, smoke mode (keeps benches/relay.sh working; no figures)"
cargo build --locked --quiet --example relay_floor # the stack's floor, a contender of the benchmark
BFF_BIN="$CARGO_TARGET_DIR/debug/oidc-bff" FLOOR_BIN="$CARGO_TARGET_DIR/debug/examples/relay_floor" \
  benches/relay.sh --smoke > /dev/null

echo "== nginx config check"
(cd tests/e2e && npm run --silent check-nginx)

echo "== container image: the Dockerfile's runtime stage laid out and run as the image would"
BFF_BIN="$CARGO_TARGET_DIR/debug/oidc-bff" deploy/container/layout.sh

echo "== Kubernetes manifests: every overlay rendered and validated against the schemas, offline"
deploy/k8s/validate.sh

echo "== end-to-end test in Chromium"
(cd tests/e2e && BFF_BIN="$CARGO_TARGET_DIR/debug/oidc-bff" npm test)
