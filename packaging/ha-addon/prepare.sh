#!/usr/bin/env bash
# Stage what the add-on folder needs from the rest of the repository: the edge-nlu wheel (the
# runtime with its shipped models) and the health check. Then copy packaging/ha-addon/edge_nlu
# to the Home Assistant host's /addons/ (Samba or SSH add-on) and install it as a local add-on.
#   packaging/ha-addon/prepare.sh [PYTHON]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${1:-python3}"
addon="$here/edge_nlu"

rm -rf "$addon/wheels"
mkdir -p "$addon/wheels"
"$python" -m pip wheel --no-deps --wheel-dir "$addon/wheels" "$root"
cp "$root/packaging/healthcheck.py" "$addon/rootfs/healthcheck.py"
ls -l "$addon/wheels"
echo "staged: $addon is ready to copy to /addons/edge_nlu on the Home Assistant host"
