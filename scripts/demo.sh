#!/usr/bin/env bash
# One-command local demo of oidc-bff:
#   a demo SSO (tests/sso, oidc-provider)   http://127.0.0.1:9090/oidc/demo-stg
#   a demo upstream API (examples/demo-upstream) http://127.0.0.1:9100
#   the BFF with profiles/dev.toml          http://localhost:8080
# Ctrl-C stops everything this script started.
#
# Environment:
#   SKIP_BUILD=1        do not run `cargo build` (use the binary already built)
#   CARGO_TARGET_DIR    cargo's target folder (default: $HOME/.cache/oidc-bff/target)
#   TMPDIR              logs go to ${TMPDIR:-/tmp}/oidc-bff-demo/*.log
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BFF_PORT=8080
SSO_PORT=9090
UPSTREAM_PORT=9100
SSO_PATH=/oidc/demo-stg
PUBLIC_URL="http://localhost:${BFF_PORT}"
TMP="${TMPDIR:-/tmp}"
LOG_DIR="${TMP%/}/oidc-bff-demo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oidc-bff/target}"
BIN="$CARGO_TARGET_DIR/debug/oidc-bff"

say() { printf 'demo: %s\n' "$*" >&2; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------- children and cleanup
PIDS=()   # each child leads its own process group (pgid = pid)
NAMES=()
LOGS=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#PIDS[@]})); then
    say "stopping ${NAMES[*]}"
    local i pid
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
      kill -TERM -- "-${PIDS[i]}" 2>/dev/null || true
    done
    # up to 5 s for a clean exit, then SIGKILL what is left
    local tries=50 alive
    while ((tries-- > 0)); do
      alive=0
      for pid in "${PIDS[@]}"; do
        if kill -0 -- "-$pid" 2>/dev/null; then alive=1; fi
      done
      ((alive)) || break
      sleep 0.1
    done
    for pid in "${PIDS[@]}"; do
      kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn NAME LOGFILE CMD... : run CMD in the background, in a process group of its own,
# stdout and stderr to LOGFILE.
spawn() {
  local name=$1 log=$2
  shift 2
  : >"$log"
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@" >>"$log" 2>&1 </dev/null &
  else
    set -m # job control: a background job gets its own process group
    "$@" >>"$log" 2>&1 </dev/null &
    set +m
  fi
  PIDS+=("$!")
  NAMES+=("$name")
  LOGS+=("$log")
}

last_pid() { printf '%s' "${PIDS[${#PIDS[@]} - 1]}"; }

log_tail() {
  local log=$1
  printf -- '--- last lines of %s ---\n' "$log" >&2
  tail -n 25 "$log" >&2 || true
  printf -- '---\n' >&2
}

# wait_for_line NAME PID LOG PATTERN TIMEOUT_S : wait for PATTERN (fixed string) in LOG
wait_for_line() {
  local name=$1 pid=$2 log=$3 pattern=$4 timeout=$5 i
  for ((i = 0; i < timeout * 10; i++)); do
    if grep -qF -- "$pattern" "$log"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$log"
      die "$name exited during startup (log: $log)"
    fi
    sleep 0.1
  done
  log_tail "$log"
  die "$name did not become ready within ${timeout}s (log: $log)"
}

# ------------------------------------------------------------- prerequisites
command -v node >/dev/null 2>&1 || die "node is required (v20 or newer): https://nodejs.org/"
command -v npm >/dev/null 2>&1 || die "npm is required (it comes with node)"
command -v curl >/dev/null 2>&1 || die "curl is required"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 20)) || die "node v20 or newer is required (found $(node --version))"
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  command -v cargo >/dev/null 2>&1 || die "cargo is required to build the BFF: https://rustup.rs/ (or SKIP_BUILD=1 with a built binary)"
fi

# Ports: fail early with one clear line (try to bind them, exactly as the services will).
node - "$BFF_PORT:BFF" "$SSO_PORT:demo SSO" "$UPSTREAM_PORT:demo upstream" <<'EOF' || exit 1
const net = require('node:net');
const check = (port) => new Promise((resolve) => {
  const s = net.createServer();
  s.once('error', (e) => resolve(e.code || 'error'));
  s.listen(port, '127.0.0.1', () => s.close(() => resolve(null)));
});
(async () => {
  for (const arg of process.argv.slice(2)) {
    const [port, name] = [arg.slice(0, arg.indexOf(':')), arg.slice(arg.indexOf(':') + 1)];
    const err = await check(Number(port));
    if (err) {
      const why = err === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${err})`;
      console.error(`demo: error: port ${port} (needed by the ${name}) ${why}; stop whatever listens there (a previous demo?) and retry`);
      process.exit(1);
    }
  }
})();
EOF

mkdir -p "$LOG_DIR"

# ------------------------------------------------------------- 1. npm dependencies
npm_ci_if_needed() {
  local dir=$1
  [[ -f "$dir/package.json" ]] || return 0
  if [[ -d "$dir/node_modules" && ! "$dir/package-lock.json" -nt "$dir/node_modules" ]]; then
    return 0
  fi
  if [[ -f "$dir/package-lock.json" ]]; then
    say "installing npm dependencies in $dir (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund)
  else
    say "installing npm dependencies in $dir (npm install: no package-lock.json)"
    (cd "$dir" && npm install --no-audit --no-fund)
  fi
  touch "$dir/node_modules"
}
npm_ci_if_needed tests/sso
npm_ci_if_needed clients/angular
# The app links the library's build (file:../../clients/angular/dist/oidc-bff-angular): build it
# before the app's npm ci (also with SKIP_BUILD=1 when it was never built).
LIB_DIST=clients/angular/dist/oidc-bff-angular
if [[ "${SKIP_BUILD:-}" != 1 || ! -f "$LIB_DIST/package.json" ]]; then
  say "building the Angular library @oidc-bff/angular (ng-packagr)"
  (cd clients/angular && npx ng build >/dev/null)
fi
npm_ci_if_needed examples/angular

# ------------------------------------------------------------- 2. build
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  say "building the BFF (cargo build, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  cargo build
  say "building the Angular app (ng build)"
  (cd examples/angular && npx ng build --configuration production >/dev/null)
fi
[[ -x "$BIN" ]] || die "no BFF binary at $BIN (run without SKIP_BUILD=1, or set CARGO_TARGET_DIR)"

# ------------------------------------------------------------- 3. demo SSO
SSO_LOG="$LOG_DIR/sso.log"
SSO_CLIENTS_JSON='[{"client_id":"oidc-bff-demo","client_secret":"demo-secret-not-for-production",
 "token_endpoint_auth_method":"client_secret_basic","id_token_signed_response_alg":"RS256",
 "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
 "redirect_uris":["http://localhost:8080/api/callback"],
 "post_logout_redirect_uris":["http://localhost:8080/"]}]'
say "starting the demo SSO on http://127.0.0.1:$SSO_PORT$SSO_PATH"
spawn sso "$SSO_LOG" env SSO_MODE=demo SSO_HOST=127.0.0.1 SSO_PORT="$SSO_PORT" SSO_PATH="$SSO_PATH" \
  SSO_ACCESS_TOKEN_TTL=60 SSO_CLIENTS="$SSO_CLIENTS_JSON" node tests/sso/server.mjs
wait_for_line "demo SSO" "$(last_pid)" "$SSO_LOG" '{"ready":true' 30

# ------------------------------------------------------------- 4. demo upstream
UPSTREAM_LOG="$LOG_DIR/upstream.log"
say "starting the demo upstream on http://127.0.0.1:$UPSTREAM_PORT"
spawn upstream "$UPSTREAM_LOG" env UPSTREAM_HOST=127.0.0.1 UPSTREAM_PORT="$UPSTREAM_PORT" \
  node examples/demo-upstream/server.mjs
wait_for_line "demo upstream" "$(last_pid)" "$UPSTREAM_LOG" '{"ready":true' 15

# ------------------------------------------------------------- 5. the BFF
BFF_LOG="$LOG_DIR/bff.log"
REFRESH_SKEW="${BFF_SESSION__REFRESH_SKEW:-15s}"
# Access tokens live 60 s at the demo SSO; with the default refresh_skew (60s) every request
# would refresh them. A 15 s skew makes the refresh visible about every 45 s instead.
bff_env=(BFF_PROFILE=dev "BFF_SESSION__REFRESH_SKEW=$REFRESH_SKEW" NO_COLOR=1)
STATIC_DIR=""
for index in examples/angular/dist/*/browser/index.html; do
  if [[ -f "$index" ]]; then
    STATIC_DIR="$ROOT/${index%/index.html}"
    bff_env+=("BFF_SERVER__STATIC_DIR=$STATIC_DIR")
    break
  fi
done
say "starting the BFF (profile dev) on $PUBLIC_URL"
spawn bff "$BFF_LOG" env "${bff_env[@]}" "$BIN" serve
bff_pid="$(last_pid)"
ready=0
for ((i = 0; i < 60; i++)); do
  if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$BFF_PORT/readyz" 2>/dev/null; then
    ready=1
    break
  fi
  if ! kill -0 "$bff_pid" 2>/dev/null; then
    log_tail "$BFF_LOG"
    die "the BFF exited during startup (log: $BFF_LOG)"
  fi
  sleep 0.5
done
if ((!ready)); then
  log_tail "$BFF_LOG"
  die "the BFF did not answer 200 on http://127.0.0.1:$BFF_PORT/readyz within 30s (log: $BFF_LOG)"
fi

# ------------------------------------------------------------- 6. banner
if [[ -n "$STATIC_DIR" ]]; then
  app_line="  App (Angular):   $PUBLIC_URL/          (served from $STATIC_DIR)"
else
  app_line="  App:             not built yet (examples/angular/dist/*/browser); use the API docs"
fi
cat <<EOF

  oidc-bff demo is running.  Use "localhost" (not 127.0.0.1): the cookies are bound to it.

$app_line
  API docs:        $PUBLIC_URL/docs            (Swagger UI; /api/chat and /api/analytics merged in from the upstream's documents)
  Sign in:         $PUBLIC_URL/api/login?returnTo=/
  Your session:    $PUBLIC_URL/api/session
  Try:             $PUBLIC_URL/api/analytics/report   (needs role analyst)

  Demo users:      alice / alice-pass   (role analyst)
                   bob   / bob-pass     (no analyst role: the report answers 403)
  Access tokens live 60 s and are refreshed when < $REFRESH_SKEW remain (watch accessTokenExpiresAt).

  Demo SSO:        http://127.0.0.1:$SSO_PORT$SSO_PATH/.well-known/openid-configuration
  Demo upstream:   http://127.0.0.1:$UPSTREAM_PORT   (routes /api/chat, /api/analytics)
  Logs:            $SSO_LOG
                   $UPSTREAM_LOG
                   $BFF_LOG

  Press Ctrl-C to stop everything.

EOF

# ------------------------------------------------------------- 7. wait until interrupted
while :; do
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
      log_tail "${LOGS[i]}"
      die "${NAMES[i]} stopped unexpectedly (log: ${LOGS[i]}); stopping the rest"
    fi
  done
  sleep 1 &
  wait $! || true
done
