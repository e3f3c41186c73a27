#!/usr/bin/env bash
# The add-on's entry point: options -> config file, announce to Home Assistant once answering,
# then become `edge-nlu wyoming`. Paths can be moved by the environment (tests do).
set -euo pipefail

ADDON_DIR="${EDGE_NLU_ADDON_DIR:-/usr/local/lib/edge-nlu-addon}"
OPTIONS="${EDGE_NLU_OPTIONS:-/data/options.json}"
CONFIG="${EDGE_NLU_CONFIG:-/data/edge-nlu.yaml}"
PORT="${EDGE_NLU_PORT:-10350}"
PYTHON="${EDGE_NLU_PYTHON:-python3}"

# Bad options stop here with one line naming the option (exit 2), before anything starts.
log_level="$("$PYTHON" "$ADDON_DIR/options_to_config.py" "$OPTIONS" "$CONFIG")"
echo "edge-nlu add-on: config written to $CONFIG (log level $log_level); Wyoming on port $PORT" >&2

# In a subshell, so the announcer is not left a child of edge-nlu: the init process reaps it.
( "$PYTHON" "$ADDON_DIR/discovery.py" --port "$PORT" & )

exec edge-nlu wyoming --uri "tcp://0.0.0.0:$PORT" --config "$CONFIG" --log-level "$log_level"
