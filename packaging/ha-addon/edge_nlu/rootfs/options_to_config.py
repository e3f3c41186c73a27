#!/usr/bin/env python3
"""The add-on's options (/data/options.json) -> the edge-nlu config file that `edge-nlu wyoming` reads.

The Supervisor checks the options against config.yaml's schema before the add-on starts, but the
file is still input: this checks it again (wrong types, unknown or missing keys are one clear line
naming the key, exit 2) so that a bad option never becomes a half-working service. On success it
writes the config and prints the log level for the command line. Standard library only.

    options_to_config.py /data/options.json /data/edge-nlu.yaml   ->  stdout: INFO

The YAML is written with JSON-quoted scalars (JSON strings and numbers are YAML too), so names with
colons, quotes or non-ASCII letters come through unchanged.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SUPERVISOR_WS_URL = "ws://supervisor/core/websocket"
"""Home Assistant's WebSocket API as an add-on reaches it (through the Supervisor's proxy)."""
SUPERVISOR_TOKEN_ENV = "SUPERVISOR_TOKEN"  # noqa: S105 - a variable name, not a token
"""The Supervisor gives add-ons with `homeassistant_api: true` their token in this variable."""
LOG_LEVELS = ("debug", "info", "warning", "error")

OPTIONS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "log_level": (str, True),
    "live_state": (bool, True),
    "min_confidence": ((int, float), True),
    "satellites": (list, False),
}
"""Option -> (type, required). tests/test_packaging.py checks that config.yaml's options and schema
have exactly these keys."""
SATELLITE_KEYS = ("id", "area")
_WANT = {str: "a string", bool: "true or false", list: "a list"}


class OptionsError(Exception):
    """An option is missing, unknown or of the wrong type; the message names it."""


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _expect(key: str, value: Any, kind: type | tuple[type, ...]) -> None:
    # true/false are ints to Python, not numbers to a user
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        want = "a number" if isinstance(kind, tuple) else _WANT[kind]
        raise OptionsError(f"{key}: expected {want}, got {_type_name(value)} {json.dumps(value)}")


def _satellites(items: list[Any]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for i, item in enumerate(items):
        where = f"satellites[{i}]"
        if not isinstance(item, dict):
            raise OptionsError(f"{where}: expected {{id, area}}, got {_type_name(item)} {json.dumps(item)}")
        unknown = sorted(set(item) - set(SATELLITE_KEYS))
        if unknown:
            raise OptionsError(f"{where}: unknown key(s) {', '.join(unknown)} (known: id, area)")
        for key in SATELLITE_KEYS:
            if key not in item:
                raise OptionsError(f"{where}.{key}: missing")
            _expect(f"{where}.{key}", item[key], str)
            if not item[key].strip():
                raise OptionsError(f"{where}.{key}: empty")
        sat_id = item["id"].strip()
        if sat_id in out:
            raise OptionsError(f"{where}.id: {json.dumps(sat_id)} is listed twice")
        out[sat_id] = {"area": item["area"].strip()}
    return out


def to_config(options: Any, env: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """The config tree and the CLI log level, from the parsed options.json; raises OptionsError."""
    if not isinstance(options, dict):
        raise OptionsError(f"the options are not an object (got {_type_name(options)})")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise OptionsError(f"unknown option(s): {', '.join(unknown)} (known: {', '.join(OPTIONS)})")
    for key, (kind, required) in OPTIONS.items():
        if key not in options:
            if required:
                raise OptionsError(f"{key}: missing")
            continue
        _expect(key, options[key], kind)
    level = options["log_level"].lower()
    if level not in LOG_LEVELS:
        raise OptionsError(f"log_level: {json.dumps(options['log_level'])} is not one of {', '.join(LOG_LEVELS)}")
    confidence = float(options["min_confidence"])
    if not 0.0 <= confidence <= 1.0:
        raise OptionsError(f"min_confidence: {confidence} is outside 0..1")
    config: dict[str, Any] = {"min_confidence": confidence}
    sites = _satellites(options.get("satellites", []))
    if sites:
        config["satellites"] = sites
    if options["live_state"]:
        if not env.get(SUPERVISOR_TOKEN_ENV):
            raise OptionsError(f"live_state: on, but ${SUPERVISOR_TOKEN_ENV} is not set "
                               "(config.yaml needs homeassistant_api: true)")
        config["home_assistant"] = {"url": SUPERVISOR_WS_URL, "token_env": SUPERVISOR_TOKEN_ENV}
    return config, level.upper()


def to_yaml(tree: Mapping[str, Any], indent: int = 0) -> str:
    """Block-style YAML for a tree of mappings and JSON scalars (all this config has)."""
    lines: list[str] = []
    pad = "  " * indent
    for key, value in tree.items():
        if isinstance(value, Mapping):
            if value:
                lines.append(f"{pad}{json.dumps(str(key))}:")
                lines.append(to_yaml(value, indent + 1))
            else:
                lines.append(f"{pad}{json.dumps(str(key))}: {{}}")
        else:
            lines.append(f"{pad}{json.dumps(str(key))}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: options_to_config.py OPTIONS_JSON CONFIG_OUT", file=sys.stderr)
        return 2
    src, dst = Path(args[0]), Path(args[1])
    try:
        try:
            options = json.loads(src.read_text(encoding="utf-8"))
        except OSError as exc:
            raise OptionsError(f"cannot read {src}: {exc.strerror}") from exc
        except ValueError as exc:
            raise OptionsError(f"{src} is not JSON: {exc}") from exc
        config, level = to_config(options, os.environ)
    except OptionsError as exc:
        print(f"edge-nlu add-on: bad options: {exc}", file=sys.stderr)
        return 2
    header = "# Written by the edge-nlu add-on from its options at every start; edit the options, not this.\n"
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_text(header + to_yaml(config) + "\n", encoding="utf-8")
    tmp.replace(dst)
    print(level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
