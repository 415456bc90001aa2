#!/usr/bin/env bash
# The relay benchmark of issue 10: one authenticated GET relayed to a static upstream, measured
# for nginx (no authentication: the ceiling), oidc-bff and Express + express-openid-connect, in
# one run on this machine, everything on loopback.
#
#   benches/relay.sh                 3 rounds of 5 s per contender, 1,000 sessions  (~2-3 min)
#   benches/relay.sh --smoke         1 round of 2 s, 20 sessions: keeps the script working (CI)
#   benches/relay.sh --rounds 5 --duration 10 --warmup 3 --sessions 1000 --due-sessions 100
#   benches/relay.sh --access-tokens jwt   the SSO issues JWT access tokens (default: opaque)
#   benches/relay.sh --baseline /path/to/older/oidc-bff   also measures that binary (the state
#                                    before the current work) as the contender "baseline"
#   benches/relay.sh --store         also starts a redis-server on a free loopback port and measures
#                                    the same oidc-bff binary with store.url set to it, as the
#                                    contender "store", beside the one without (the ratio is printed);
#                                    the deny-list holds --deny-entries (10,000) other sessions, so
#                                    the check is not the empty-list shortcut. `--smoke --store`
#                                    works too (scripts/test.sh runs --smoke alone)
#   benches/relay.sh --floor /path/to/relay_floor   the stack's floor from that binary (built
#                                    from examples/relay_floor.rs; FLOOR_BIN too); without
#                                    BFF_BIN the script builds it, with BFF_BIN and neither
#                                    given the floor is left out; --no-floor leaves it out always
#   benches/relay.sh --profile 10    only oidc-bff, 10 s under wrk while `perf record` samples it
#                                    (cpu-clock); prints the hottest symbols and keeps perf.data;
#                                    then the floor the same way when there is one
#
# What it does:
#   1. builds the release binary (cargo build --release --locked; BFF_BIN=/path/oidc-bff skips
#      the build and uses that binary), installs wrk and nginx from Debian when missing (as
#      root) and runs `npm ci` in tests/sso and benches/relay when their node_modules are
#      missing or older than their lock file;
#   2. starts the test SSO (tests/sso, oidc-provider), nginx serving one small JSON file (the
#      static upstream), nginx relaying to it, oidc-bff relaying to it (a [[routes]] entry with
#      token = "access"), the Express peer (benches/relay/express-app.mjs, 2 workers) and the
#      stack's floor: examples/relay_floor.rs, a plain hyper relay with no authentication and
#      no BFF work, twice (hyper-util's pooled client as oidc-bff uses; one upstream connection
#      per browser connection, driven in its task);
#      oidc-bff and Express are both clients of the same SSO; with --baseline (or
#      BFF_BASELINE_BIN) a second oidc-bff from that binary, same configuration, own port and
#      session key, signed in through the same SSO client; with --store a redis-server (Debian's,
#      no persistence) and one more oidc-bff from the same binary and configuration plus
#      [store] url, checked to be in sync with it (bff_store_up 1) before and after the load;
#   3. signs in to oidc-bff, Express (and the baseline) (benches/relay/signin.mjs drives the
#      redirects and the SSO's scripted login), prints each session cookie's size and checks
#      that GET /api/session with the oidc-bff cookies answers 200 {"authenticated":true,...};
#   4. warms each contender up, then runs `wrk -t1 -c32 -d<s>s --latency` against them in
#      alternating order (each round starts with the next contender); in each round, after the
#      relay runs, the same wrk against GET /api/session of oidc-bff (and the baseline),
#      alternating too. Each run of a signed-in contender starts after a fresh sign-in (a current
#      cookie, as a browser holds; see load()), and the session cookies oidc-bff writes during
#      each run are counted. Prints requests/s (median, min–max), p50/p99, errors, peak RSS
#      (VmHWM), cookie bytes, the cookies written and the ratios (× nginx, × express,
#      × baseline); the sessions are checked again after the rounds;
#   5. two more oidc-bff runs, each against a fresh process: (a) every session's access token
#      due (session.refresh_skew longer than the SSO's access-token TTL), counting the SSO's
#      refresh calls against the number of sessions; (b) 1,000 distinct sessions, wrk rotating
#      the Cookie header over them (benches/relay/rotate.lua).
# Output: progress on stderr; on stdout a Markdown report (machine, versions, the tables and
# issue 10's targets) that can go into the README as it is.
# Exit status: non-zero when a contender did not start, a sign-in or a /api/session check failed
# or any run (warm-ups included) had an error (a status >= 400 or a socket error). Everything it starts is stopped on exit; its files (configs, logs,
# cookies, wrk's full output in logs/wrk.log) live in a mktemp directory, kept when the run
# fails or KEEP_WORK=1.
#
# Environment: BFF_BIN (use this oidc-bff binary, no build), FLOOR_BIN (as --floor),
# BFF_BASELINE_BIN (as --baseline; the options win), CARGO_TARGET_DIR (default ~/.cache/oidc-bff/target, as
# scripts/loadtest.sh), KEEP_WORK=1, TMPDIR.
#
# wrk, the three servers, the upstream and the SSO all share this machine's cores: compare the
# contenders within one run, not across machines or runs (see the header the report prints).
set -euo pipefail

SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
HERE="$(dirname "$SELF")/relay"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"

# ---------------------------------------------------------------- options
ROUNDS=3 DURATION=5 WARMUP=2 SESSIONS=1000 DUE_SESSIONS=100 CONNECTIONS=32 SMOKE=0 AT_FORMAT=opaque
PROFILE=0 BASELINE="" STORE=0 DENY_ENTRIES=10000 FLOOR=""
usage() { sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1 ROUNDS=1 DURATION=2 WARMUP=1 SESSIONS=20 DUE_SESSIONS=20 ;;
    --rounds) ROUNDS=${2:?--rounds needs a value}; shift ;;
    --duration) DURATION=${2:?--duration needs a value}; shift ;;
    --warmup) WARMUP=${2:?--warmup needs a value}; shift ;;
    --sessions) SESSIONS=${2:?--sessions needs a value}; shift ;;
    --due-sessions) DUE_SESSIONS=${2:?--due-sessions needs a value}; shift ;;
    --access-tokens) AT_FORMAT=${2:?--access-tokens needs jwt or opaque}; shift ;;
    --profile) PROFILE=${2:?--profile needs seconds}; shift ;;
    --baseline) BASELINE=${2:?--baseline needs the path of an oidc-bff binary}; shift ;;
    --store) STORE=1 ;;
    --floor) FLOOR=${2:?--floor needs the path of a relay_floor binary}; shift ;;
    --no-floor) FLOOR=none ;;
    --deny-entries) DENY_ENTRIES=${2:?--deny-entries needs a number}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "relay: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done
[[ $AT_FORMAT =~ ^(jwt|opaque)$ ]] || { echo "relay: --access-tokens is jwt or opaque" >&2; exit 64; }
[[ $DENY_ENTRIES =~ ^[0-9]+$ ]] || { echo "relay: --deny-entries must be a number" >&2; exit 64; }
for v in ROUNDS DURATION WARMUP SESSIONS DUE_SESSIONS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "relay: $v must be a positive integer" >&2; exit 64; }
done
# The due-token run must stay inside the BFF's 30 s grace window: after it, a request still
# carrying a consumed refresh token is (rightly) a reuse that ends the session.
DUE_DURATION=$(( DURATION < 20 ? DURATION : 20 ))
# A run longer than this would pass the minute after its sign-in, where oidc-bff re-issues the
# cookie wrk keeps replaying (see load()): the report would count those writes.
[ "$DURATION" -le 50 ] || echo "relay: --duration over 50 s: oidc-bff's cookies slide during each run (the report counts the writes)" >&2

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg) # other work on the machine skews everything: say so

# Our own override, then no stray BFF_* variable may reach the BFF processes.
BIN=${BFF_BIN:-}
FLOOR=${FLOOR:-${FLOOR_BIN:-}}
BASELINE=${BASELINE:-${BFF_BASELINE_BIN:-}}
while read -r v; do unset "$v"; done < <(compgen -e | grep '^BFF_' || true)

log() { echo "relay: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- prerequisites
install_debian() { # install_debian PACKAGE...  (Debian's packages, as root only)
  if [ "$(id -u)" -ne 0 ]; then die "missing $*; run: sudo apt-get install -y $*"; fi
  log "installing $* from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

npm_ci_if_stale() { # npm_ci_if_stale DIR: npm ci when node_modules is missing or older than the lock
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    log "npm ci in ${1#"$REPO"/}"
    (cd "$1" && npm ci --silent --no-audit --no-fund)
  fi
}

prerequisites() {
  # express-openid-connect 3 wants Node ^20.19 || ^22.12 || >= 23
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null \
    || die "node 20.19 or newer is required"
  command -v curl >/dev/null || install_debian curl
  command -v wrk >/dev/null || install_debian wrk
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$NGINX" ] || { install_debian nginx; NGINX=$(command -v nginx || echo /usr/sbin/nginx); }
  if [ "$STORE" = 1 ]; then command -v redis-server >/dev/null || install_debian redis-server; fi
  if [ -z "$BIN" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oidc-bff/target}"
    log "cargo build --release --locked --bin oidc-bff --example relay_floor"
    cargo build --release --locked --quiet --bin oidc-bff --example relay_floor
    BIN="$CARGO_TARGET_DIR/release/oidc-bff"
    [ -z "$FLOOR" ] && FLOOR="$CARGO_TARGET_DIR/release/examples/relay_floor"
    BUILT="release build of git $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' with local changes')"
  else
    BUILT="binary $BIN (BFF_BIN)"
  fi
  [ -x "$BIN" ] || die "no oidc-bff binary at $BIN"
  [ "$FLOOR" = none ] && FLOOR=""
  [ -z "$FLOOR" ] && log "no floor: BFF_BIN without FLOOR_BIN (or --floor); the report leaves it out"
  [ -z "$FLOOR" ] || [ -x "$FLOOR" ] || die "no relay_floor binary at $FLOOR (--floor)"
  [ -z "$BASELINE" ] || [ -x "$BASELINE" ] || die "no oidc-bff binary at $BASELINE (--baseline)"
  npm_ci_if_stale "$REPO/tests/sso"
  npm_ci_if_stale "$HERE"
}

# ---------------------------------------------------------------- processes
WORK=""
declare -A PID=()    # name -> pid of what we started
children() { pgrep -P "$1" 2>/dev/null || true; } # nginx's and Express's workers
cleanup() {
  local status=$? name kids all=()
  for name in "${!PID[@]}"; do
    mapfile -t kids < <(children "${PID[$name]}")
    all+=("${PID[$name]}" "${kids[@]}")
  done
  if [ ${#all[@]} -gt 0 ]; then
    kill -TERM "${all[@]}" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "${all[@]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${all[@]}" 2>/dev/null || true
  fi
  if [ -n "$WORK" ]; then
    if [ "${KEEP_WORK:-0}" = 1 ] || [ "$status" -ne 0 ]; then log "logs and files kept in $WORK"
    else rm -rf "$WORK"; fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM

start() { # start NAME COMMAND...: in the background; stdout to logs/NAME.out, stderr to logs/NAME.log
  "${@:2}" > "$WORK/logs/$1.out" 2> "$WORK/logs/$1.log" &
  PID[$1]=$!
}

stop() { # stop NAME: TERM (and the workers of nginx), wait, forget
  local pid=${PID[$1]} kids
  mapfile -t kids < <(children "$pid")
  kill -TERM "$pid" "${kids[@]}" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  unset "PID[$1]"
}

failed_to_start() { # failed_to_start NAME WHAT
  log "$1 did not start ($2); its log:"
  tail -n 30 "$WORK/logs/$1.log" "$WORK/logs/$1.out" >&2 2>/dev/null || true
  exit 1
}

printed_ready_line() { # printed_ready_line NAME: whether the process printed its ready line within 15 s
  for _ in $(seq 150); do
    [ -s "$WORK/logs/$1.out" ] && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || failed_to_start "$1" "exited"
    sleep 0.1
  done
  return 1
}

wait_ready_line() { # wait_ready_line NAME: the process printed its JSON ready line
  for _ in $(seq 150); do
    [ -s "$WORK/logs/$1.out" ] && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || failed_to_start "$1" "exited"
    sleep 0.1
  done
  failed_to_start "$1" "no ready line after 15 s"
}

wait_http() { # wait_http NAME URL [curl args]: the URL answers 200
  for _ in $(seq 150); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "${@:3}" "$2")" = 200 ] && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || failed_to_start "$1" "exited"
    sleep 0.1
  done
  failed_to_start "$1" "$2 did not answer 200 within 15 s"
}

json_field() { node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(o[process.argv[1]])' "$1"; }

free_ports() { # free_ports N: N distinct free loopback ports
  node -e '
    const net = require("net"); const n = Number(process.argv[1]);
    const servers = Array.from({ length: n }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((r) => s.listen(0, "127.0.0.1", r)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(" "));
      servers.forEach((s) => s.close());
    });' "$1"
}

# Peak RSS in KiB (VmHWM) summed over the given processes.
peak_rss_kib() {
  local total=0 pid kib
  for pid in "$@"; do
    kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$(( total + ${kib:-0} ))
  done
  echo "$total"
}

# ---------------------------------------------------------------- the services
start_sso() {
  local bff_uris="\"http://127.0.0.1:$BFF_PORT/api/callback\",\"http://127.0.0.1:$DUE_PORT/api/callback\",\"http://127.0.0.1:$MANY_PORT/api/callback\""
  # The baseline is one more process of the same client (bench-bff), on its own port.
  [ -n "$BASELINE" ] && bff_uris+=",\"http://127.0.0.1:$BASELINE_PORT/api/callback\""
  # So is the oidc-bff with the store (--store).
  [ "$STORE" = 1 ] && bff_uris+=",\"http://127.0.0.1:$STORE_PORT/api/callback\""
  local clients="[
    {\"client_id\":\"bench-bff\",\"client_secret\":\"bench-bff-secret\",\"redirect_uris\":[$bff_uris],
     \"token_endpoint_auth_method\":\"client_secret_basic\",\"grant_types\":[\"authorization_code\",\"refresh_token\"],\"response_types\":[\"code\"]},
    {\"client_id\":\"bench-express\",\"client_secret\":\"bench-express-secret\",\"redirect_uris\":[\"http://127.0.0.1:$EXPRESS_PORT/callback\"],
     \"token_endpoint_auth_method\":\"client_secret_basic\",\"grant_types\":[\"authorization_code\",\"refresh_token\"],\"response_types\":[\"code\"]}]"
  # Access tokens live an hour: no session of the main runs comes near a refresh. The due-token
  # run gets its refreshes from the BFF's refresh_skew instead.
  # A start that prints no ready line within 15 s is stopped and tried again, up to three
  # times: a wedged Node start (seen rarely: the process asleep before it listens) must not
  # fail the run by itself.
  local attempt
  for attempt in 1 2 3; do
    start sso env SSO_MODE=test SSO_HOST=127.0.0.1 SSO_PORT="$SSO_PORT" SSO_PATH=/oidc/bench \
      SSO_CLIENTS="$clients" SSO_ACCESS_TOKEN_TTL=3600 SSO_ACCESS_TOKEN_FORMAT="$AT_FORMAT" node tests/sso/server.mjs
    [ "$attempt" = 3 ] && break
    printed_ready_line sso && break
    log "the SSO printed no ready line within 15 s (attempt $attempt of 3); starting it again"
    stop sso
  done
  wait_ready_line sso
  ISSUER=$(json_field issuer < "$WORK/logs/sso.out")
  SSO_ORIGIN="http://127.0.0.1:$SSO_PORT"
}

start_nginx() { # start_nginx NAME TEMPLATE PORT
  local dir="$WORK/$1" user=""
  mkdir -p "$dir/tmp" "$dir/www"
  # Workers of an nginx started as root would run as nobody and could not read the temp dir.
  [ "$(id -u)" -eq 0 ] && user="user root;"
  sed -e "s|@USER@|$user|" -e "s|@WORKERS@|$NGINX_WORKERS|" -e "s|@PREFIX@|$dir|g" \
    "$HERE/nginx-common.conf.in" > "$dir/common.conf"
  sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$3|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
    "$HERE/$2" > "$dir/nginx.conf"
  printf '{"id":42,"name":"static item","tags":["bench","relay"],"price":12.5}\n' > "$dir/www/item.json"
  start "$1" "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;'
}

start_bff() { # start_bff NAME PORT REFRESH_SKEW [BINARY SESSION_KEY [STORE_URL]]  (default: $BIN, $SESSION_KEY, no store)
  local dir="$WORK/$1" bin=${4:-$BIN} key=${5:-$SESSION_KEY} store=""
  [ -n "${6:-}" ] && store=$'\n[store]\n'"url = \"$6\""$'\n'
  mkdir -p "$dir/profiles"
  : > "$dir/profiles/dev.toml" # the profile layer, empty: everything is in the file below
  cat > "$dir/bff.toml" <<TOML
[server]
bind = "127.0.0.1:$2"
public_url = "http://127.0.0.1:$2"

[oidc]
issuer = "$ISSUER"
client_id = "bench-bff"
client_secret = "bench-bff-secret"

[session]
keys = ["$key"]
refresh_skew = "$3"
$store
[[routes]]
prefix = "/api/data"
upstream = "http://127.0.0.1:$UPSTREAM_PORT/bearer"
token = "access"
TOML
  start "$1" env BFF_PROFILE=dev BFF_CONFIG_DIR="$dir/profiles" BFF_CONFIG_FILE="$dir/bff.toml" BFF_LOG=warn "$bin"
  wait_http "$1" "http://127.0.0.1:$2/readyz"
}

start_redis() { # a redis-server for --store: loopback, no persistence, its files in $WORK/redis
  mkdir -p "$WORK/redis"
  start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK/redis" --loglevel warning
  for _ in $(seq 150); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    kill -0 "${PID[redis]}" 2>/dev/null || failed_to_start redis "exited"
    sleep 0.1
  done
  failed_to_start redis "no PONG within 15 s"
}

seed_deny_list() { # seed_deny_list N: N deny entries of other SSO sessions, as the BFF writes them
  [ "$1" -gt 0 ] || return 0
  node -e '
    const crypto = require("crypto"); const n = Number(process.argv[1]);
    const at = Math.floor(Date.now() / 1000), expires = at + 3600;
    const lines = [];
    for (let i = 0; i < n; i++) {
      lines.push(`SET oidc-bff:deny:sso-session:${crypto.randomBytes(16).toString("hex")} ${at}:${expires} EX 3600`);
    }
    console.log(lines.join("\n"));' "$1" | redis-cli -p "$REDIS_PORT" --pipe > /dev/null
  [ "$(redis-cli -p "$REDIS_PORT" dbsize)" -ge "$1" ] || die "could not seed the deny-list"
}

# store_metric METRIC: an unlabelled metric of the oidc-bff with the store (empty when absent)
store_metric() { curl -s "http://127.0.0.1:$STORE_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
store_in_sync() { # store_in_sync WHEN: the BFF with the store has its deny-list in sync (bff_store_up 1)
  for _ in $(seq 50); do
    [ "$(store_metric bff_store_up)" = 1 ] && return 0
    sleep 0.1
  done
  log "the oidc-bff with the store is not in sync with redis-server $1 (bff_store_up $(store_metric bff_store_up)); its log:"
  tail -n 20 "$WORK/logs/store.log" >&2 || true
  exit 1
}

start_express() {
  start express env NODE_ENV=production PORT="$EXPRESS_PORT" ISSUER="$ISSUER" \
    CLIENT_ID=bench-express CLIENT_SECRET=bench-express-secret \
    SECRET="$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')" \
    UPSTREAM="http://127.0.0.1:$UPSTREAM_PORT/bearer" WORKERS=2 node "$HERE/express-app.mjs"
  wait_ready_line express
}

# ---------------------------------------------------------------- sign-in and load
sign_in() { # sign_in CONTENDER COUNT OUT_FILE [--verify PATH]: cookies to OUT_FILE; prints the summary JSON
  local app login callback cookie
  case "$1" in
    bff|due|many|baseline|store)
      local port=$BFF_PORT
      [ "$1" = due ] && port=$DUE_PORT
      [ "$1" = many ] && port=$MANY_PORT
      [ "$1" = baseline ] && port=$BASELINE_PORT
      [ "$1" = store ] && port=$STORE_PORT
      # The session cookie and the CSRF cookie: a browser sends both on every request (without
      # the CSRF cookie the BFF would set it again on each /api/session answer).
      app="http://127.0.0.1:$port" login="/api/login?returnTo=/" callback=/api/callback cookie='^(__Host-bff(\.\d+)?|XSRF-TOKEN)$' ;;
    express)
      app="http://127.0.0.1:$EXPRESS_PORT" login=/login callback=/callback cookie='^appSession(\.\d+)?$' ;;
  esac
  node "$HERE/signin.mjs" --app "$app" --login "$login" --callback "$callback" --session "$cookie" \
    --count "$2" --concurrency 16 --out "$3" "${@:4}" || {
      log "sign-in to $1 failed; the last lines of its log and of the SSO's:"
      tail -n 10 "$WORK/logs/$1.log" "$WORK/logs/sso.log" >&2 || true
      exit 1
    }
}

# CPU time (user + system) in microseconds the given processes have used so far.
CLK_TCK=$(getconf CLK_TCK)
cpu_us() {
  local ticks=0 pid t
  for pid in "$@"; do
    # Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the "(comm)" field,
    # which may hold spaces.
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || continue
    ticks=$((ticks + ${t:-0}))
  done
  echo $((ticks * 1000000 / CLK_TCK))
}

# contender_pids SCENARIO CONTENDER: the processes that serve a run (nginx: master and
# workers; Express: primary and workers).
contender_pids() {
  case "$1:$2" in
    due:*) echo "${PID[due]}" ;;
    many:* | *:bff-many) echo "${PID[many]}" ;;
    *:nginx) echo "${PID[nginx]}"; children "${PID[nginx]}" ;;
    *:express) echo "${PID[express]}"; children "${PID[express]}" ;;
    *) echo "${PID[$2]:-}" ;;
  esac
}

# How many session cookies an oidc-bff has written so far (its bff_session_cookie_bytes
# histogram's count), read from the /metrics of the origin of URL; "null" for anything else.
cookie_writes() { # cookie_writes CONTENDER URL
  [[ $1 =~ ^(bff|baseline|store|bff-many)$ ]] || { echo null; return; }
  { curl -sf "${2%%/api/*}/metrics" || true; } | awk '$1 == "bff_session_cookie_bytes_count" { n = $2 } END { print (n == "" ? "null" : n + 0) }'
}

# run_wrk SCENARIO CONTENDER ROUND SECONDS LUA_SCRIPT URL [wrk args...]: one wrk run; its summary
# and the CPU time the contender used during it become a fact, its full output goes to
# logs/wrk.log. CPU per request is the steadier figure on a shared machine: throughput moves
# with whatever else the cores run, the work done per request much less.
run_wrk() {
  local out pids before after writes_before writes_after writes=null
  mapfile -t pids < <(contender_pids "$1" "$2")
  writes_before=$(cookie_writes "$2" "$6")
  before=$(cpu_us "${pids[@]}")
  out=$(wrk -t1 -c"$CONNECTIONS" -d"$4s" --latency -s "$HERE/$5" "${@:7}" "$6" 2>&1) \
    || { echo "$out" >&2; die "wrk failed against $2"; }
  after=$(cpu_us "${pids[@]}")
  writes_after=$(cookie_writes "$2" "$6")
  [[ $writes_before != null && $writes_after != null ]] && writes=$(( writes_after - writes_before ))
  printf '== %s %s round %s\n%s\n' "$1" "$2" "$3" "$out" >> "$WORK/logs/wrk.log"
  local result
  result=$(grep '^WRK_RESULT ' <<<"$out" | cut -d' ' -f2-) || die "no summary from wrk against $2"
  printf '{"kind":"run","scenario":"%s","contender":"%s","round":%s,"cpu_us":%s,"cookie_writes":%s,"wrk":%s}\n' "$1" "$2" "$3" "$((after - before))" "$writes" "$result" >> "$FACTS"
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e 'const w=JSON.parse(process.argv[1]); const e=w.status_errors+w.connect+w.read+w.write+w.timeout;
    console.error(`relay:   ${process.argv[2].padEnd(23)} ${String(Math.round(w.requests/(w.duration_us/1e6))).padStart(7)} req/s  p99 ${(w.p99_us/1000).toFixed(2)} ms  cpu ${(process.argv[3]/w.requests).toFixed(1)} µs/req  errors ${e}`)' "$result" "$1 $2" "$((after - before))"
}

fact() { echo "$1" >> "$FACTS"; }

describe_machine() {
  local cpu mem
  cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  echo "## Relay benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- machine: $(nproc) cores, ${cpu:-unknown CPU}, $mem RAM, Linux $(uname -r); load average $LOADAVG when the script started"
  echo "- oidc-bff $("$BIN" --version | awk '{print $2}'), $BUILT, sha256 $(sha256sum "$BIN" | cut -c1-12)"
  if [ -n "$BASELINE" ]; then # an older binary: its --version may differ, so nothing may fail here
    echo "- baseline: oidc-bff $("$BASELINE" --version 2>/dev/null | awk '{print $2}' || true)," \
      "binary $BASELINE (--baseline), sha256 $(sha256sum "$BASELINE" | cut -c1-12); same configuration, SSO client and upstream"
  fi
  if [ "$STORE" = 1 ]; then
    echo "- store: $(redis-server --version | awk '{print $1, $2, $3}' | sed 's/ v=/ /') on loopback without persistence (--store); the contender" \
      "\"oidc-bff + store\" is the same binary and configuration plus [store] url, its own port and sign-in;" \
      "$DENY_ENTRIES other sessions on the deny-list"
  fi
  [ -n "$FLOOR" ] && echo "- floor: examples/relay_floor.rs, binary $FLOOR, sha256 $(sha256sum "$FLOOR" | cut -c1-12); pooled and pinned, no authentication"
  echo "- nginx $("$NGINX" -v 2>&1 | sed 's|.*nginx/||') ($NGINX_WORKERS workers per instance), node $(node --version)," \
    "express $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/express/package.json")," \
    "express-openid-connect $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/express-openid-connect/package.json")," \
    "oidc-provider $(node -p 'require(process.argv[1]).version' "$REPO/tests/sso/node_modules/oidc-provider/package.json")," \
    "$(wrk -v 2>&1 | head -1 | awk '{print "wrk", $2}')"
  echo "- load: wrk -t1 -c$CONNECTIONS, ${ROUNDS} round(s) of ${DURATION} s per contender after a ${WARMUP} s warm-up, contenders alternating;" \
    "GET /api/data/item relayed to nginx serving a $(wc -c < "$WORK/upstream/www/item.json")-byte JSON file," \
    "then in each round GET /api/session of oidc-bff$([ "$STORE" = 1 ] && echo ', oidc-bff + store')$([ -n "$BASELINE" ] && echo ' and the baseline') with the same cookie;" \
    "signed in as alice, $AT_FORMAT access tokens"
  echo "- command: benches/relay.sh$([ "$SMOKE" = 1 ] && echo ' --smoke' || echo " --rounds $ROUNDS --duration $DURATION --sessions $SESSIONS --due-sessions $DUE_SESSIONS") --access-tokens $AT_FORMAT$([ -n "$BASELINE" ] && echo " --baseline $BASELINE")$([ "$STORE" = 1 ] && echo " --store --deny-entries $DENY_ENTRIES")"
}

# ---------------------------------------------------------------- the run
prerequisites
WORK=$(mktemp -d "${TMPDIR:-/tmp}/oidc-bff-relay.XXXXXX")
mkdir -p "$WORK/logs"
FACTS="$WORK/facts.jsonl"
: > "$FACTS"
NGINX_WORKERS=$(nproc)
read -r SSO_PORT UPSTREAM_PORT NGINX_PORT BFF_PORT DUE_PORT MANY_PORT EXPRESS_PORT BASELINE_PORT STORE_PORT REDIS_PORT FLOOR_PORT PINNED_PORT < <(free_ports 12)
SESSION_KEY=$("$BIN" keygen) || die "$BIN keygen failed"
BASELINE_KEY=$SESSION_KEY # its own key when the older binary can make one, else the same
if [ -n "$BASELINE" ]; then BASELINE_KEY=$("$BASELINE" keygen 2>/dev/null) || BASELINE_KEY=$SESSION_KEY; fi

log "starting the SSO, the static upstream, nginx, oidc-bff and Express on 127.0.0.1 (files in $WORK)"
start_sso
start_nginx upstream upstream.conf.in "$UPSTREAM_PORT"
wait_http upstream "http://127.0.0.1:$UPSTREAM_PORT/bearer/item" -H 'Authorization: Bearer check'
start_nginx nginx relay.conf.in "$NGINX_PORT"
wait_http nginx "http://127.0.0.1:$NGINX_PORT/api/data/item"
start_bff bff "$BFF_PORT" 60s
if [ "$PROFILE" -gt 0 ]; then
  # Where the relay's time goes: one signed-in session under wrk, the BFF sampled by perf
  # (PROFILE_PATH=/api/session for that endpoint); with --floor, the floor is sampled the same
  # way afterwards, for comparison.
  command -v perf >/dev/null || install_debian linux-perf
  sign_in bff 1 "$WORK/bff.cookies" --verify /api/data/item > /dev/null
  profile() { # profile NAME URL [wrk args...]
    wrk -t1 -c"$CONNECTIONS" -d2s "${@:3}" "$2" > /dev/null
    perf record -e cpu-clock -F 1999 --call-graph fp -p "${PID[$1]}" -o "$WORK/$1.perf.data" -- sleep "$PROFILE" 2> /dev/null &
    local perf=$!
    log "$1: ${PROFILE} s under wrk, sampled by perf"
    wrk -t1 -c"$CONNECTIONS" -d"${PROFILE}s" --latency "${@:3}" "$2" >&2
    wait "$perf" || true
    perf report -i "$WORK/$1.perf.data" --stdio --no-children --sort symbol 2> /dev/null | grep -v '^#' | grep '%' | head -60 || true
    log "perf data kept in $WORK/$1.perf.data"
  }
  profile bff "http://127.0.0.1:$BFF_PORT${PROFILE_PATH:-/api/data/item}" -H "Cookie: $(head -1 "$WORK/bff.cookies")"
  if [ -n "$FLOOR" ]; then
    start floor "$FLOOR" "127.0.0.1:$FLOOR_PORT" "127.0.0.1:$UPSTREAM_PORT" pooled
    wait_http floor "http://127.0.0.1:$FLOOR_PORT/api/data/item"
    profile floor "http://127.0.0.1:$FLOOR_PORT/api/data/item"
  fi
  KEEP_WORK=1
  exit 0
fi
start_express
CONTENDERS=(nginx bff express)   # the relay table, in this order in round 1
SESSION_CONTENDERS=(bff)         # the /api/session table
if [ "$STORE" = 1 ]; then
  start_redis
  seed_deny_list "$DENY_ENTRIES"
  start_bff store "$STORE_PORT" 60s "$BIN" "$SESSION_KEY" "redis://127.0.0.1:$REDIS_PORT/0"
  store_in_sync "after its start"
  CONTENDERS=(nginx bff store express)
  SESSION_CONTENDERS=(bff store)
fi
if [ -n "$BASELINE" ]; then
  start_bff baseline "$BASELINE_PORT" 60s "$BASELINE" "$BASELINE_KEY"
  CONTENDERS+=(baseline)
  SESSION_CONTENDERS+=(baseline)
fi
if [ -n "$FLOOR" ]; then
  # The stack's floor: the same GET through a plain hyper relay (examples/relay_floor.rs), with
  # hyper-util's pooled client as oidc-bff uses, and with one upstream connection per browser
  # connection driven in the same task.
  start floor "$FLOOR" "127.0.0.1:$FLOOR_PORT" "127.0.0.1:$UPSTREAM_PORT" pooled
  start pinned "$FLOOR" "127.0.0.1:$PINNED_PORT" "127.0.0.1:$UPSTREAM_PORT" pinned
  wait_http floor "http://127.0.0.1:$FLOOR_PORT/api/data/item"
  wait_http pinned "http://127.0.0.1:$PINNED_PORT/api/data/item"
  CONTENDERS+=(floor pinned)
fi

describe_machine
SIGNED_IN=()
for c in "${CONTENDERS[@]:1}"; do [[ $c =~ ^(floor|pinned)$ ]] || SIGNED_IN+=("$c"); done
log "signing in to ${SIGNED_IN[*]}"
declare -A URL=(
  [nginx]="http://127.0.0.1:$NGINX_PORT/api/data/item"
  [bff]="http://127.0.0.1:$BFF_PORT/api/data/item"
  [express]="http://127.0.0.1:$EXPRESS_PORT/api/data/item"
  [baseline]="http://127.0.0.1:$BASELINE_PORT/api/data/item"
  [store]="http://127.0.0.1:$STORE_PORT/api/data/item"
  [floor]="http://127.0.0.1:$FLOOR_PORT/api/data/item"
  [pinned]="http://127.0.0.1:$PINNED_PORT/api/data/item"
)
declare -A SESSION_URL=(
  [bff]="http://127.0.0.1:$BFF_PORT/api/session"
  [baseline]="http://127.0.0.1:$BASELINE_PORT/api/session"
  [store]="http://127.0.0.1:$STORE_PORT/api/session"
)
declare -A COOKIE=([nginx]="" [floor]="" [pinned]="") # these relay without a session
for c in "${SIGNED_IN[@]}"; do
  sign_in "$c" 1 "$WORK/$c.cookies" --verify /api/data/item > "$WORK/$c.signin"
  COOKIE[$c]=$(head -1 "$WORK/$c.cookies")
  # The size of the session itself: its cookie(s) without the CSRF cookie sent beside it.
  session_only=$(tr ';' '\n' <<<"${COOKIE[$c]}" | sed 's/^ //' | grep -v '^XSRF-TOKEN=' | paste -sd';' | sed 's/;/; /g')
  fact "{\"kind\":\"cookie\",\"contender\":\"$c\",\"bytes\":${#session_only},\"names\":$(node -p 'JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).names)' "$WORK/$c.signin")}"
  log "  $c session cookie: ${#session_only} bytes ($(cut -d= -f1 <<<"$session_only")...)"
done

# GET /api/session always answers 200 (with {"authenticated":false} when the cookie does not
# open): wrk's error count cannot see a session that does not open, so each cookie is checked
# once before the load and once after it.
check_session() { # check_session CONTENDER WHEN
  local out status
  out=$(curl -s -w '\n%{http_code}' -H "Cookie: ${COOKIE[$1]}" "${SESSION_URL[$1]}") || out=$'\n000'
  status=${out##*$'\n'}
  if [ "$status" != 200 ] || [[ ${out%$'\n'*} != *'"authenticated":true'* ]]; then
    log "GET /api/session of $1 $2 answered $status, not an authenticated session: ${out%$'\n'*}"
    tail -n 10 "$WORK/logs/$1.log" >&2 || true
    exit 1
  fi
}
for c in "${SESSION_CONTENDERS[@]}"; do check_session "$c" "after the sign-in"; done

cookie_args() { [ -n "${COOKIE[$1]}" ] && printf '%s\0%s\0' -H "Cookie: ${COOKIE[$1]}"; return 0; }
# Every run of a signed-in contender starts right after a fresh sign-in, so the cookie it
# carries is current, as a browser's is. A browser stores the cookie oidc-bff re-issues when
# the session's idle deadline slides (at most once a minute) and sends that one from then on;
# wrk would replay the first cookie for the whole benchmark, and past its first minute every
# request would slide and re-seal it again: a cost no browser causes. run_wrk records the
# cookies oidc-bff wrote during each run, so the report shows that none was.
load() { # load SCENARIO CONTENDER ROUND SECONDS [URL]  (default: the contender's relayed route)
  local args=()
  if [[ " ${SIGNED_IN[*]} " == *" $2 "* ]]; then
    sign_in "$2" 1 "$WORK/$2.cookies" > /dev/null
    COOKIE[$2]=$(head -1 "$WORK/$2.cookies")
  fi
  while IFS= read -r -d '' a; do args+=("$a"); done < <(cookie_args "$2")
  run_wrk "$1" "$2" "$3" "$4" report.lua "${5:-${URL[$2]}}" "${args[@]}"
}

redis_commands() { redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' | awk -F: '$1 == "total_commands_processed" { print $2 }'; }
[ "$STORE" = 1 ] && { REDIS_COMMANDS_BEFORE=$(redis_commands); LOAD_STARTED=$(date +%s); }
log "warm-up, ${WARMUP} s each"
for c in "${CONTENDERS[@]}"; do load warmup "$c" 0 "$WARMUP"; done
for c in "${SESSION_CONTENDERS[@]}"; do load warmup-session "$c" 0 "$WARMUP" "${SESSION_URL[$c]}"; done
N=${#CONTENDERS[@]} NS=${#SESSION_CONTENDERS[@]}
for round in $(seq "$ROUNDS"); do
  log "round $round of $ROUNDS, ${DURATION} s each"
  for i in $(seq 0 $(( N - 1 ))); do # each round starts with the next contender, so none always goes first
    load main "${CONTENDERS[$(( (round - 1 + i) % N ))]}" "$round" "$DURATION"
  done
  for i in $(seq 0 $(( NS - 1 ))); do # then GET /api/session, alternating the same way
    c=${SESSION_CONTENDERS[$(( (round - 1 + i) % NS ))]}
    load session "$c" "$round" "$DURATION" "${SESSION_URL[$c]}"
  done
done
for c in "${SESSION_CONTENDERS[@]}"; do check_session "$c" "after the rounds"; done
if [ "$STORE" = 1 ]; then
  # The store was in use all along: in sync now, and no store operation failed.
  store_in_sync "after the rounds"
  STORE_ERRORS=$(curl -s "http://127.0.0.1:$STORE_PORT/metrics" | awk '$1 ~ /^bff_store_errors_total/ { n += $2 } END { print n + 0 }')
  # What Redis did meanwhile (the INFO calls themselves included): the relay makes no round trip,
  # so this is about one health ping per second.
  REDIS_COMMANDS=$(( $(redis_commands) - REDIS_COMMANDS_BEFORE ))
  fact "{\"kind\":\"store\",\"errors\":$STORE_ERRORS,\"commands\":$REDIS_COMMANDS,\"seconds\":$(( $(date +%s) - LOAD_STARTED )),\"deny_entries\":$DENY_ENTRIES,\"keys\":$(redis-cli -p "$REDIS_PORT" dbsize)}"
  [ "$STORE_ERRORS" = 0 ] || log "the oidc-bff with the store counted $STORE_ERRORS failed store operations"
fi
# Peak RSS of the whole life of each server (sign-in, warm-up and every round).
mapfile -t NGINX_WORKER_PIDS < <(children "${PID[nginx]}")
mapfile -t EXPRESS_WORKER_PIDS < <(children "${PID[express]}")
fact "{\"kind\":\"rss\",\"scenario\":\"main\",\"contender\":\"nginx\",\"kib\":$(peak_rss_kib "${PID[nginx]}" "${NGINX_WORKER_PIDS[@]}")}"
fact "{\"kind\":\"rss\",\"scenario\":\"main\",\"contender\":\"bff\",\"kib\":$(peak_rss_kib "${PID[bff]}")}"
fact "{\"kind\":\"rss\",\"scenario\":\"main\",\"contender\":\"express\",\"kib\":$(peak_rss_kib "${EXPRESS_WORKER_PIDS[@]}")}"
if [ -n "$FLOOR" ]; then
  for c in floor pinned; do fact "{\"kind\":\"rss\",\"scenario\":\"main\",\"contender\":\"$c\",\"kib\":$(peak_rss_kib "${PID[$c]}")}"; done
  stop floor; stop pinned
fi
[ -n "$BASELINE" ] && fact "{\"kind\":\"rss\",\"scenario\":\"main\",\"contender\":\"baseline\",\"kib\":$(peak_rss_kib "${PID[baseline]}")}"
[ "$STORE" = 1 ] && fact "{\"kind\":\"rss\",\"scenario\":\"main\",\"contender\":\"store\",\"kib\":$(peak_rss_kib "${PID[store]}")}"
# The main contenders are done: stop them so the two runs below have the cores to themselves.
stop nginx; stop express; stop bff
[ -n "$BASELINE" ] && stop baseline
if [ "$STORE" = 1 ]; then stop store; stop redis; fi

# (a) Every request carries an access token that is due: refresh_skew (2 h) is longer than the
# SSO's access-token TTL (1 h), so every session is due from its first request and its tokens
# stay due after the refresh. wrk keeps sending the original cookies, so each session refreshes
# once (single flight among its concurrent requests) and is then served from the 30 s grace
# window. The SSO's counters are reset after the sign-ins, so they count refreshes only.
log "every access token due: $DUE_SESSIONS sessions, ${DUE_DURATION} s"
start_bff due "$DUE_PORT" 2h
sign_in due "$DUE_SESSIONS" "$WORK/due.cookies" > /dev/null
curl -sf -X POST "$SSO_ORIGIN/__test/reset" > /dev/null
fact "{\"kind\":\"sessions\",\"scenario\":\"due\",\"count\":$DUE_SESSIONS}"
URL[due]="http://127.0.0.1:$DUE_PORT/api/data/item"
export WRK_COOKIES="$WORK/due.cookies" # read by rotate.lua
run_wrk due bff 1 "$DUE_DURATION" rotate.lua "${URL[due]}"
REFRESHES=$(curl -sf "$SSO_ORIGIN/__test/stats" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).token.refresh_token ?? 0)')
fact "{\"kind\":\"refresh\",\"scenario\":\"due\",\"sessions\":$DUE_SESSIONS,\"calls\":$REFRESHES}"
log "  SSO refresh calls: $REFRESHES for $DUE_SESSIONS sessions"
fact "{\"kind\":\"rss\",\"scenario\":\"due\",\"contender\":\"bff\",\"kib\":$(peak_rss_kib "${PID[due]}")}"
stop due

# (b) 1,000 distinct sessions, a different Cookie header on every request (rotate.lua).
log "$SESSIONS distinct sessions: signing in, then ${WARMUP} s warm-up and $ROUNDS x ${DURATION} s"
start_bff many "$MANY_PORT" 60s
sign_in many "$SESSIONS" "$WORK/many.cookies" > /dev/null
fact "{\"kind\":\"sessions\",\"scenario\":\"many\",\"count\":$SESSIONS}"
URL[many]="http://127.0.0.1:$MANY_PORT/api/data/item"
export WRK_COOKIES="$WORK/many.cookies"
run_wrk warmup bff-many 0 "$WARMUP" rotate.lua "${URL[many]}"
for round in $(seq "$ROUNDS"); do run_wrk many bff "$round" "$DURATION" rotate.lua "${URL[many]}"; done
fact "{\"kind\":\"rss\",\"scenario\":\"many\",\"contender\":\"bff\",\"kib\":$(peak_rss_kib "${PID[many]}")}"
stop many

node "$HERE/report.mjs" "$FACTS" || { status=$?; log "some runs had errors (wrk output in $WORK/logs/wrk.log)"; exit "$status"; }
