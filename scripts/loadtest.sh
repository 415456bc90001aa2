#!/usr/bin/env bash
# Whole-request figures with wrk: a release build of the BFF against the test SSO and the demo
# upstream, all on loopback. Signs in once (scripted login at the SSO), then loads
#   /healthz                (baseline: routing and the access log)
#   /api/session            (open the sealed cookie, build the JSON)
#   /api/chat/whoami        (open the cookie, relay to the upstream with the bearer token)
# Usage: scripts/loadtest.sh [seconds per run, default 10] [connections, default 32]
# Needs: wrk (apt-get install wrk), node, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-32}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oidc-bff/target}"
command -v wrk >/dev/null || { echo "loadtest: wrk is missing (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/oidc-bff"
(cd tests/sso && [ -d node_modules ] || npm ci --silent)

WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BFF_PORT=$(free_port)
PUBLIC="http://127.0.0.1:${BFF_PORT}"

CLIENTS="[{\"client_id\":\"load\",\"client_secret\":\"load-secret\",\"redirect_uris\":[\"${PUBLIC}/api/callback\"],\"post_logout_redirect_uris\":[\"${PUBLIC}/\"],\"token_endpoint_auth_method\":\"client_secret_basic\",\"grant_types\":[\"authorization_code\",\"refresh_token\"],\"response_types\":[\"code\"]}]"
SSO_MODE=test SSO_PORT=0 SSO_PATH=/oidc/load SSO_CLIENTS="$CLIENTS" SSO_ACCESS_TOKEN_TTL=3600 \
  node tests/sso/server.mjs > "$WORK/sso.out" 2> "$WORK/sso.log" &
PIDS+=($!)
UPSTREAM_PORT=0 node examples/demo-upstream/server.mjs > "$WORK/up.out" 2> "$WORK/up.log" &
PIDS+=($!)
for f in sso.out up.out; do
  for _ in $(seq 100); do [ -s "$WORK/$f" ] && break; sleep 0.1; done
done
ISSUER=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["issuer"])' "$WORK/sso.out")
UP_PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$WORK/up.out")

cat > "$WORK/load.toml" <<TOML
[server]
bind = "127.0.0.1:${BFF_PORT}"
public_url = "${PUBLIC}"
[oidc]
issuer = "${ISSUER}"
client_id = "load"
client_secret = "load-secret"
[session]
keys = ["$("$BIN" keygen)"]
[[routes]]
prefix = "/api/chat"
upstream = "http://127.0.0.1:${UP_PORT}/chat"
TOML
BFF_LOG=warn BFF_PROFILE=dev BFF_CONFIG_FILE="$WORK/load.toml" "$BIN" > "$WORK/bff.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "$PUBLIC/readyz" >/dev/null && break; sleep 0.1; done

# Scripted sign-in: the BFF's login cookie travels by hand (it is Secure, curl would not send
# it over http); the SSO's own cookies live in curl's jar.
header() { grep -i "^$1:" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
LOGIN=$(curl -s -D - -o /dev/null "$PUBLIC/api/login?returnTo=/")
LOGIN_COOKIE=$(echo "$LOGIN" | header set-cookie | cut -d';' -f1)
URL=$(echo "$LOGIN" | header location)
JAR="$WORK/sso.jar"
for _ in $(seq 8); do
  case "$URL" in "$PUBLIC"*) break ;; esac
  NEXT=$(curl -s -c "$JAR" -b "$JAR" -D - -o /dev/null "$URL" | header location)
  case "$NEXT" in http*) ;; *) NEXT="$(echo "$URL" | cut -d/ -f1-3)$NEXT" ;; esac
  case "$NEXT" in */interaction/*) [ -z "${AUTO:-}" ] && AUTO=1 && NEXT="$NEXT/auto?user=alice" ;; esac
  URL=$NEXT
done
SESSION=$(curl -s -D - -o /dev/null -H "Cookie: $LOGIN_COOKIE" "$URL" | grep -i '^set-cookie: __Host-bff=' | cut -d' ' -f2 | cut -d';' -f1)
[ -n "$SESSION" ] || { echo "loadtest: sign-in failed" >&2; cat "$WORK/bff.log" >&2; exit 1; }
curl -sf -H "Cookie: $SESSION" "$PUBLIC/api/session" | grep -q '"authenticated":true'
echo "session cookie: ${#SESSION} bytes; wrk -t2 -c${CONNECTIONS} -d${DURATION}s"

for path in /healthz /api/session /api/chat/whoami; do
  echo "== GET $path"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Cookie: $SESSION" "$PUBLIC$path" \
    | grep -E "Requests/sec|Latency  |50%|99%|Non-2xx"
done
