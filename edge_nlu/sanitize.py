"""Text and JSON from outside, made safe once at the wire so that nothing downstream has to care.

JSON lets through two things that break much later, far from where they came in:

- lone UTF-16 surrogates (`"\\ud800"` is valid JSON, but such a string cannot be encoded as
  UTF-8, so printing, storing or publishing anything that carries it fails);
- deep nesting (`json.loads` accepts ~1000 levels, while the recursive walkers downstream
  (`copy.deepcopy`, `repr`, `json.dumps`) give up far sooner).

A surrogate becomes U+FFFD, the replacement character; too deep is an `InvalidInputError`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from edge_nlu.errors import ErrorCode, InvalidInputError

MAX_DEPTH = 32
"""Deepest nesting accepted in a request, a context or a home: real ones are a few levels deep."""
MAX_NODES = 1_000_000
"""Most values visited in one document: a YAML alias bomb expands past this long before memory runs out."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0, 0x110000, 0x10000))
MQTT_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")
"""Characters MQTT forbids in a topic (spec 1.5.4: NUL, controls, surrogates, non-characters).
Mosquitto disconnects a client that publishes or subscribes to such a topic, and a client that
resends it on every reconnect never stays connected."""


class TooDeepError(InvalidInputError):
    """Nested deeper than the limit, self-referential, or too many values to visit."""

    code = ErrorCode.TOO_DEEP


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so that it always encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def clean(value: Any, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """A copy of a JSON-like value with clean strings (keys too) and non-finite floats as None.

    Raises TooDeepError past `max_depth` levels or `max_nodes` values (shared references count
    each time they are reached, so a self-referential or alias-bomb value is refused, not walked)."""
    budget = [max_nodes]

    def walk(v: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise TooDeepError(f"more than {max_nodes} values")
        if isinstance(v, str):
            return clean_text(v)
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if isinstance(v, dict | list | tuple):
            if depth >= max_depth:
                raise TooDeepError(f"nested more than {max_depth} levels deep")
            if isinstance(v, dict):
                return {clean_text(k) if isinstance(k, str) else k: walk(x, depth + 1) for k, x in v.items()}
            items = [walk(x, depth + 1) for x in v]
            return items if isinstance(v, list) else tuple(items)
        return v

    try:
        return walk(value, 0)
    except RecursionError:  # max_depth above what the interpreter's stack allows
        raise TooDeepError("nested too deeply") from None


def finite_float(value: Any) -> float | None:
    """`value` as a finite float, else None: device states and attributes may be any string or a
    number too big for a float, and `float()` raises or gives inf/nan for those."""
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` for untrusted input, cleaned; ValueError (with a short reason) for anything else.

    Bytes must be UTF-8; NaN and Infinity (which Python's reader accepts) are refused."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"nested more than {max_depth} levels deep") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    try:
        return clean(value, max_depth)
    except TooDeepError as exc:
        raise ValueError(exc.message) from None


_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def dumps(value: Any) -> str:
    """One line of JSON that always encodes as UTF-8 (the last line of defence for output).

    The characters that `str.splitlines()` (and old JavaScript) take for line breaks but
    `json.dumps` leaves raw are escaped, so one result is one line for any reader."""
    out = json.dumps(value, ensure_ascii=False).translate(_LINE_BREAKS)
    return clean_text(out) if _SURROGATE.search(out) else out
