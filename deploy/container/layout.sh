#!/usr/bin/env bash
# Checks the container image without a container engine (none runs on the test machines): lays out
# the image the Dockerfile describes into a folder, with a binary built outside standing in for the
# build stage, and runs it from that folder as the image would run, against a test SSO on loopback.
#
#   deploy/container/layout.sh            # uses $BFF_BIN, else the release binary, else the debug one
#   KEEP=1 deploy/container/layout.sh     # keep the work folder (rootfs, logs) for a look
#
# What it does (deploy/container/README.md explains each step):
#   1. reads the facts from the Dockerfile (deploy/container/image.py facts): paths, UID:GID,
#      WORKDIR, ENV, EXPOSE, STOPSIGNAL, ENTRYPOINT, CMD; checks them and .dockerignore, and fails
#      on any runtime-stage instruction it cannot mirror;
#   2. assembles the root filesystem: what the distroless base provides that the binary links
#      (refusing a library the base does not ship), /etc/passwd, then the runtime stage's COPY steps;
#      everything root-owned and not writable by the image's user;
#   3. in a private network and mount namespace: mounts the folder read-only (docker run --read-only,
#      readOnlyRootFilesystem), mounts the secrets where the Kubernetes Deployment mounts them
#      (files owned root:GID, mode 0440, as defaultMode/fsGroup give them), starts the test SSO on
#      127.0.0.1, runs `oidc-bff check` and then the ENTRYPOINT + CMD as PID 1 of its own PID
#      namespace, chrooted, in WORKDIR, as UID:GID with no groups, no capabilities, no_new_privs,
#      with the image's ENV plus the deployment's variables only;
#   4. checks /healthz and /readyz answer 200, /metrics and /api/login answer, the process's
#      user, groups, capabilities, root, working directory and read-only root; sends SIGTERM (what
#      `docker stop` and the kubelet send, the image's STOPSIGNAL), sees /readyz answer 503 or the
#      listener close, and the process exit 0;
#   5. compares the folder before and after the run: nothing may have been written.
# Needs root (chroot, setuid, namespaces), util-linux's unshare, iproute2's ip, curl, python3, node
# and tests/sso's node_modules (npm ci in tests/sso).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SELF="$ROOT/deploy/container/layout.sh"
cd "$ROOT"
IMAGE_PY="$ROOT/deploy/container/image.py"
# Where the Kubernetes Deployment mounts its Secret (deploy/k8s/validate.sh checks it says so).
SECRETS_DIR=/run/secrets/oidc-bff

say() { printf 'layout: %s\n' "$*" >&2; }
die() { printf 'layout: FAIL: %s\n' "$*" >&2; exit 1; }
since() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }'; }

# ----------------------------------------------------------------------------- inside the namespaces
if [[ "${1:-}" == --inside ]]; then
  WORK=$2
  ROOTFS="$WORK/rootfs"
  eval "$(python3 "$IMAGE_PY" facts)"
  SSO_PID="" HOLDER=""
  # shellcheck disable=SC2317  # (a trap)
  cleanup_inside() {
    # Only what this script started, by pid; the BFF dies with its holder (--kill-child).
    [[ -z "$HOLDER" ]] || kill -KILL "$HOLDER" 2>/dev/null || true
    [[ -z "$SSO_PID" ]] || kill -KILL "$SSO_PID" 2>/dev/null || true
    wait 2>/dev/null || true
  }
  trap cleanup_inside EXIT

  ip link set lo up
  # docker run --read-only / readOnlyRootFilesystem: the image's root, read-only.
  mount --bind "$ROOTFS" "$ROOTFS"
  mount -o remount,bind,ro "$ROOTFS"
  # What the runtime provides: a small /dev, the Secret's files.
  mount -t tmpfs -o mode=755,nosuid,noexec,size=64k tmpfs "$ROOTFS/dev"
  for node in null zero random urandom; do
    touch "$ROOTFS/dev/$node"
    mount --bind "/dev/$node" "$ROOTFS/dev/$node"
  done
  mount --bind "$WORK/secrets" "$ROOTFS$SECRETS_DIR"
  mount -o remount,bind,ro "$ROOTFS$SECRETS_DIR"

  # The test SSO, with the prd profile's client registered.
  CLIENT_SECRET=$(cat "$WORK/secrets/client-secret")
  PUBLIC_URL=https://app.example.com
  CLIENTS='[{"client_id":"myapp-prd","client_secret":"'"$CLIENT_SECRET"'",
    "token_endpoint_auth_method":"client_secret_basic","id_token_signed_response_alg":"RS256",
    "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
    "redirect_uris":["'"$PUBLIC_URL"'/api/callback"],"post_logout_redirect_uris":["'"$PUBLIC_URL"'/"]}]'
  # A start that prints no ready line within 15 s is killed and tried again, up to three
  # times: a wedged Node start (seen rarely: the process asleep before it listens) must not fail
  # the check by itself.
  for attempt in 1 2 3; do
    (cd tests/sso && exec env SSO_MODE=test SSO_HOST=127.0.0.1 SSO_PORT=0 SSO_PATH=/oidc/ctr \
      SSO_CLIENTS="$CLIENTS" node server.mjs) >"$WORK/sso.out" 2>"$WORK/sso.log" &
    SSO_PID=$!
    for _ in $(seq 1 150); do
      grep -q '"ready":true' "$WORK/sso.out" 2>/dev/null && break 2
      kill -0 "$SSO_PID" 2>/dev/null || die "the test SSO exited: $(tail -5 "$WORK/sso.log")"
      sleep 0.1
    done
    say "the test SSO printed no ready line within 15 s (attempt $attempt of 3)"
    kill "$SSO_PID" 2>/dev/null || true
    wait "$SSO_PID" 2>/dev/null || true
  done
  ISSUER=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["issuer"])' \
    "$WORK/sso.out") || die "the test SSO printed no ready line within 15 s"
  say "test SSO ready at $ISSUER (private network namespace)"

  # The deployment's variables: what deploy/k8s sets, with the issuer pointed at the test SSO.
  RUN_ENV=(-e BFF_PROFILE=prd -e "BFF_OIDC__ISSUER=$ISSUER"
    -e "BFF_SESSION__KEYS_FILE=$SECRETS_DIR/session-keys"
    -e "BFF_OIDC__CLIENT_SECRET_FILE=$SECRETS_DIR/client-secret")

  # `oidc-bff check`, as `docker run IMAGE check` runs it: valid, secrets redacted.
  python3 "$IMAGE_PY" exec "$ROOTFS" "${RUN_ENV[@]}" -- check >"$WORK/check.out" 2>&1 ||
    die "\`oidc-bff check\` in the image failed: $(tail -5 "$WORK/check.out")"
  for secret in "$CLIENT_SECRET" $(tr ',' ' ' <"$WORK/secrets/session-keys"); do
    ! grep -qF -- "$secret" "$WORK/check.out" || die "\`oidc-bff check\` printed a secret"
  done
  say "ok: \`oidc-bff check\` passes in the image and prints no secret"

  # ENTRYPOINT + CMD, PID 1 of its own PID namespace (signals reach it as they would in a pod).
  unshare --pid --fork --kill-child --mount-proc="$ROOTFS/proc" \
    python3 "$IMAGE_PY" exec "$ROOTFS" "${RUN_ENV[@]}" >"$WORK/bff.log" 2>&1 &
  HOLDER=$!
  BFF=""
  for _ in $(seq 1 50); do
    BFF=$(awk '{print $1}' "/proc/$HOLDER/task/$HOLDER/children" 2>/dev/null || true)
    [[ -n "$BFF" && "$(readlink "/proc/$BFF/exe" 2>/dev/null)" == "$ROOTFS$IMAGE_BINARY" ]] && break
    BFF=""
    sleep 0.1
  done
  [[ -n "$BFF" ]] || die "the image's entrypoint did not start: $(tail -5 "$WORK/bff.log")"

  URL="http://127.0.0.1:$IMAGE_PORT"
  started=$(date +%s.%N)
  ready=""
  for _ in $(seq 1 300); do
    kill -0 "$BFF" 2>/dev/null || die "the BFF exited: $(tail -5 "$WORK/bff.log")"
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL/readyz")" == 200 ]]; then
      ready=1
      break
    fi
    sleep 0.1
  done
  [[ -n "$ready" ]] || die "/readyz did not answer 200 within 30 s: $(tail -5 "$WORK/bff.log")"
  say "ok: /readyz 200 after $(since "$started") s"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz" || true)
  [[ "$code" == 200 ]] || die "/healthz answered $code"
  say "ok: /healthz 200"
  { curl -sf --max-time 2 -o "$WORK/metrics.txt" "$URL/metrics" && grep -q '^# ' "$WORK/metrics.txt"; } ||
    die "/metrics answered no Prometheus text"
  location=$(curl -s -o /dev/null -w '%{redirect_url}' --max-time 2 "$URL/api/login?returnTo=/" || true)
  [[ "$location" == "$ISSUER"/* ]] || die "/api/login did not redirect to the SSO ($location)"
  say "ok: /metrics answers, /api/login redirects to the SSO"

  # The process, as the kernel sees it.
  status() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$BFF/status"; }
  want="$IMAGE_UID $IMAGE_UID $IMAGE_UID $IMAGE_UID"
  [[ "$(status Uid | tr -s '\t ' ' ')" == "$want" ]] || die "runs as UID $(status Uid), not $IMAGE_UID"
  want="$IMAGE_GID $IMAGE_GID $IMAGE_GID $IMAGE_GID"
  [[ "$(status Gid | tr -s '\t ' ' ')" == "$want" ]] || die "runs as GID $(status Gid), not $IMAGE_GID"
  [[ -z "$(status Groups)" ]] || die "has supplementary groups: $(status Groups)"
  [[ "$(status CapEff)" == 0000000000000000 && "$(status CapPrm)" == 0000000000000000 ]] ||
    die "has capabilities: $(status CapEff)"
  [[ "$(status NoNewPrivs)" == 1 ]] || die "no_new_privs is not set"
  [[ "$(status NSpid | awk '{print $NF}')" == 1 ]] || die "is not PID 1 of its namespace"
  [[ "$(readlink "/proc/$BFF/root")" == "$ROOTFS" ]] || die "its root is not the image folder"
  [[ "$(readlink "/proc/$BFF/cwd")" == "$ROOTFS$IMAGE_WORKDIR" ]] ||
    die "its working directory is $(readlink "/proc/$BFF/cwd"), not WORKDIR $IMAGE_WORKDIR"
  awk '$5 == "/" { split($6, o, ","); if (o[1] != "ro") exit 1 }' "/proc/$BFF/mountinfo" ||
    die "its root is not mounted read-only"
  say "ok: PID 1 of its namespace, UID:GID $IMAGE_UID:$IMAGE_GID, no groups, no capabilities," \
    "no_new_privs, root = the image folder (read-only), cwd = $IMAGE_WORKDIR"

  # STOPSIGNAL: what `docker stop` and the kubelet send.
  t0=$(date +%s.%N)
  kill "-${IMAGE_STOPSIGNAL#SIG}" "$BFF"
  sleep 0.2
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL/readyz" || true)
  case "$code" in
    503) say "ok: /readyz 503 right after $IMAGE_STOPSIGNAL (still serving until shutdown_delay)" ;;
    000) say "ok: the listener closed right after $IMAGE_STOPSIGNAL (no shutdown_delay in this binary)" ;;
    *) die "/readyz answered $code after $IMAGE_STOPSIGNAL: it must turn 503 at once" ;;
  esac
  rc=0
  wait "$HOLDER" || rc=$?
  HOLDER=""
  took=$(since "$t0")
  [[ "$rc" == 0 ]] || die "exit status $rc after $IMAGE_STOPSIGNAL (took $took s): $(tail -5 "$WORK/bff.log")"
  say "ok: exit 0, $took s after $IMAGE_STOPSIGNAL"
  grep -q '^{' "$WORK/bff.log" || die "the log is not JSON lines (BFF_LOG_FORMAT=json)"
  kill -TERM "$SSO_PID" 2>/dev/null || true
  wait "$SSO_PID" 2>/dev/null || true
  SSO_PID=""
  exit 0
fi

# ----------------------------------------------------------------------------- outside
[[ "$(id -u)" == 0 ]] || die "needs root (chroot, setuid and namespaces); run it as root or in CI"
for tool in unshare ip curl node python3 ldd dpkg; do
  command -v "$tool" >/dev/null 2>&1 || die "needs $tool"
done
[[ -d tests/sso/node_modules ]] || die "needs tests/sso/node_modules (cd tests/sso && npm ci)"

TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/oidc-bff/target}"
BIN="${BFF_BIN:-}"
if [[ -z "$BIN" ]]; then
  for candidate in "$TARGET/release/oidc-bff" "$TARGET/debug/oidc-bff"; do
    [[ -x "$candidate" ]] && { BIN=$candidate; break; }
  done
fi
[[ -n "$BIN" && -x "$BIN" ]] || die "no binary: set BFF_BIN or run cargo build --release"

facts=$(python3 "$IMAGE_PY" facts) || die "the Dockerfile does not pass image.py's checks (above)"
eval "$facts"
say "Dockerfile: $IMAGE_BASE_IMAGE, USER $IMAGE_UID:$IMAGE_GID, WORKDIR $IMAGE_WORKDIR," \
  "EXPOSE $IMAGE_PORT, $IMAGE_ENTRYPOINT $IMAGE_CMD, ENV $IMAGE_ENV" \
  "($IMAGE_CONTEXT_FILES context files copied into the runtime stage)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/oidc-bff-layout.XXXXXX")
chmod 755 "$WORK"
cleanup() {
  local rc=$?
  if [[ "${KEEP:-}" == 1 || $rc != 0 ]]; then
    say "work folder kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT

# Copy the binary first: cargo may rebuild it while we run.
cp "$BIN" "$WORK/oidc-bff"
python3 "$IMAGE_PY" assemble "$WORK/rootfs" "$WORK/oidc-bff" ||
  die "cannot lay the image out (above)"
# Mount points the runtime creates for the deployment (the Secret's folder).
mkdir -p "$WORK/rootfs$SECRETS_DIR"
# The Secret's files as the kubelet writes them: root-owned, group = fsGroup, defaultMode 0440.
mkdir -m 0755 "$WORK/secrets"
python3 -c 'import base64,os; print(",".join(base64.b64encode(os.urandom(32)).decode() for _ in range(2)))' \
  >"$WORK/secrets/session-keys"
python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >"$WORK/secrets/client-secret"
chown "0:$IMAGE_GID" "$WORK"/secrets/*
chmod 0440 "$WORK"/secrets/*

# Nothing in the image folder may be writable by the image's user, but what the base image makes so.
writable=$(find "$WORK/rootfs" -path "$WORK/rootfs$SECRETS_DIR" -prune -o \
  \( -uid "$IMAGE_UID" -o -perm -0002 -o \( -gid "$IMAGE_GID" -perm -0020 \) \) -printf '/%P\n' 2>/dev/null | sort | tr '\n' ' ')
[[ "$writable" == "/home/nonroot /tmp " ]] ||
  die "the image folder has paths writable by $IMAGE_UID beyond the base's /home/nonroot, /tmp: $writable"
say "laid out in $WORK/rootfs: $(find "$WORK/rootfs" -type f | wc -l) files," \
  "$(du -sh "$WORK/rootfs" | cut -f1); writable by UID $IMAGE_UID only ${writable% } (from the base)," \
  "which the read-only root covers"

python3 "$IMAGE_PY" manifest "$WORK/rootfs" >"$WORK/manifest.before"
unshare --net --mount --propagation private -- "$SELF" --inside "$WORK"
python3 "$IMAGE_PY" manifest "$WORK/rootfs" >"$WORK/manifest.after"
diff -u "$WORK/manifest.before" "$WORK/manifest.after" >&2 ||
  die "the run changed the image folder (above)"
say "ok: nothing was written under the image's root"
say "PASS"
