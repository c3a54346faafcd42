#!/usr/bin/env bash
# Ensures a cached virtualenv holding the real Prefect server used by tests,
# benchmarks and the local reconcile. Prints the venv's path on stdout.
#
# Prefect 3.9.1 declares certifi>=2026.10.19; when the package index does not
# (yet) carry such a certifi, we install Prefect's own declared requirements
# with that one pin relaxed (certifi is only a CA bundle), then Prefect itself
# without dependency resolution. Everything else is exactly what Prefect asks.
set -euo pipefail
PREFECT_VERSION="${PREFECT_VERSION:-3.9.1}"
CACHE_DIR="${CONNECTOR_SYNC_CACHE:-$HOME/.cache/connector-sync}"
VENV="$CACHE_DIR/prefect-$PREFECT_VERSION"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/prefect" ] && [ -f "$VENV/.complete" ]; then
  echo "$VENV"; exit 0
fi
mkdir -p "$CACHE_DIR"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" >&2
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check)
if ! "${PIP[@]}" "prefect==$PREFECT_VERSION" >&2 2>"$CACHE_DIR/pip-direct.log"; then
  echo "prefect-venv: direct install failed ($(grep -m1 'ERROR' "$CACHE_DIR/pip-direct.log" || true)); relaxing the certifi pin" >&2
  dl=$(mktemp -d)
  "$VENV/bin/pip" download -q --no-deps -d "$dl" "prefect==$PREFECT_VERSION" >&2
  "$VENV/bin/python" - "$dl"/prefect-*.whl > "$dl/requirements.txt" <<'PY'
import sys, zipfile, email
whl = sys.argv[1]
with zipfile.ZipFile(whl) as z:
    meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
    msg = email.message_from_bytes(z.read(meta))
for req in msg.get_all('Requires-Dist') or []:
    if 'extra ==' in req:
        continue
    if req.replace(' ', '').startswith('certifi'):
        req = 'certifi'
    print(req)
PY
  "${PIP[@]}" -r "$dl/requirements.txt" >&2
  "${PIP[@]}" --no-deps "$dl"/prefect-*.whl >&2
  rm -rf "$dl"
fi
"$VENV/bin/prefect" version >&2
touch "$VENV/.complete"
echo "$VENV"
