#!/usr/bin/env bash
# Renders every kustomization under deploy/k8s (base/, overlays/*) and validates the manifests
# offline; exits non-zero on any invalid one. See validate.py for what is checked.
#
#   deploy/k8s/validate.sh                    # Kubernetes 1.30 (the oldest supported) and 1.37
#   K8S_VERSIONS=1.31,1.34 deploy/k8s/validate.sh
#   deploy/k8s/validate.sh --install-only     # just create the virtualenv (scripts/install-deps.sh)
#
# Installs what it needs, pinned (deploy/k8s/requirements.txt), into a virtualenv under
# $HOME/.cache/oidc-bff/venv-k8s: kubernetes-validate (which bundles the schemas) and PyYAML.
# Renders with render.py, and also with `kubectl kustomize` when kubectl is installed (both must
# agree); kubectl is not installable from the registries this project uses, so it is optional.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${K8S_VENV:-$HOME/.cache/oidc-bff/venv-k8s}"
REQUIREMENTS="$HERE/requirements.txt"

stamp=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$stamp" ]]; then
  echo "validate: installing deploy/k8s/requirements.txt into $VENV" >&2
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r "$REQUIREMENTS"
  "$VENV/bin/pip" check -q >/dev/null || { "$VENV/bin/pip" check >&2; exit 1; }
  echo "$stamp" >"$VENV/.requirements.sha256"
fi
[[ "${1:-}" == --install-only ]] && exit 0

if command -v kubectl >/dev/null 2>&1; then
  echo "validate: rendering with render.py and $(kubectl version --client 2>/dev/null | grep -i kustomize | tr -d '\n' || echo 'kubectl kustomize')" >&2
else
  echo "validate: kubectl not installed: rendering with render.py alone" >&2
fi
exec "$VENV/bin/python" "$HERE/validate.py" --versions "${K8S_VERSIONS:-1.30,1.37}"
