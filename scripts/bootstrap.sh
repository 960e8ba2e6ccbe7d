# Sourced by scripts/up and scripts/test: install uv if missing and sync the locked
# environment (every workspace package, editable, plus the development tools; the caller may
# name more dependency groups in LAKECACHE_SYNC_GROUPS, e.g. "torch").
set -euo pipefail
UV_VERSION="0.13.9"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "LakeCache needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
    exit 1
fi
if ! "$PYTHON" -m uv --version >/dev/null 2>&1; then
    echo "installing uv $UV_VERSION with pip…" >&2
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
uv() { "$PYTHON" -m uv "$@"; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
groups=()
for group in ${LAKECACHE_SYNC_GROUPS:-}; do groups+=(--group "$group"); done
uv sync --frozen --quiet "${groups[@]}"
