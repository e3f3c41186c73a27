"""HA discovery vocabulary: the abbreviations configs use and how a payload value is picked out.

Kept apart from the adapter so the tables do not drown its logic.
"""

from __future__ import annotations

import re
from typing import Any

from edge_nlu.service.adapters._common import parse_json

ABBREVIATIONS = {
    "~": "~", "avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic",
    "avty_tpl": "availability_template", "bri_scl": "brightness_scale", "bri_stat_t": "brightness_state_topic",
    "bri_val_tpl": "brightness_value_template", "cmps": "components", "curr_temp_t": "current_temperature_topic",
    "curr_temp_tpl": "current_temperature_template", "def_ent_id": "default_entity_id", "dev": "device",
    "dev_cla": "device_class", "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template", "mode_stat_t": "mode_state_topic",
    "mode_stat_tpl": "mode_state_template", "name": "name", "o": "origin", "obj_id": "object_id",
    "p": "platform", "pl_avail": "payload_available", "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off", "pl_on": "payload_on", "pos_clsd": "position_closed", "pos_open": "position_open",
    "pos_t": "position_topic", "pos_tpl": "position_template", "stat_clsd": "state_closed",
    "stat_closing": "state_closing", "stat_jam": "state_jammed", "stat_locked": "state_locked",
    "stat_locking": "state_locking", "stat_off": "state_off", "stat_on": "state_on", "stat_open": "state_open",
    "stat_opening": "state_opening", "stat_stopped": "state_stopped", "stat_t": "state_topic",
    "stat_tpl": "state_template", "stat_unlocked": "state_unlocked", "stat_unlocking": "state_unlocking",
    "stat_val_tpl": "state_value_template", "t": "topic", "temp_stat_t": "temperature_state_topic",
    "temp_stat_tpl": "temperature_state_template", "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template",
    # inside `dev`
    "sa": "suggested_area", "ids": "identifiers", "mf": "manufacturer", "mdl": "model", "sw": "sw_version",
}
"""HA's abbreviations (the subset whose values this adapter reads)."""

ROLES = {
    "state": "state_topic",
    "json_attributes": "json_attributes_topic",
    "brightness_state": "brightness_state_topic",
    "position": "position_topic",
    "current_temperature": "current_temperature_topic",
    "temperature_state": "temperature_state_topic",
    "mode_state": "mode_state_topic",
}
"""Role of a learned topic -> the config key that names it."""

TEMPLATES = {
    "state": ("state_value_template", "value_template"),
    "json_attributes": ("json_attributes_template",),
    "brightness_state": ("brightness_value_template",),
    "position": ("position_template", "value_template"),
    "current_temperature": ("current_temperature_template",),
    "temperature_state": ("temperature_state_template",),
    "mode_state": ("mode_state_template",),
}
"""Role -> config keys of its value template, most specific first."""

RESERVED = frozenset({
    "brightness", "color", "color_temp", "current_temperature", "device_class", "friendly_name", "position",
    "state", "temperature", "unit_of_measurement", "volume_level",
})
"""Attributes a JSON-attributes topic may not overwrite: they are read, with their scale, elsewhere."""

_PATH = re.compile(
    r"^\{\{\s*value_json((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*|\s*\[\s*(?:'[^']*'|\"[^\"]*\"|\d+)\s*\])+)"
    r"\s*(?:\|[^{}]*)?\}\}$"
)
_STEP = re.compile(r"\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:'([^']*)'|\"([^\"]*)\"|(\d+))\s*\]")


def template_path(template: Any) -> list[str | int] | None:
    """The key path of `{{ value_json.a['b'][0] | filter }}`, else None (filters are ignored)."""
    if not isinstance(template, str) or len(template) > 256:
        return None
    match = _PATH.match(template.strip())
    if match is None:
        return None
    steps: list[str | int] = []
    for m in _STEP.finditer(match.group(1)):
        name, single, double, index = m.groups()
        steps.append(int(index) if index is not None else (name or single or double or ""))
    return steps


def as_text(value: Any) -> str:
    """Compare payloads the way HA renders them: JSON booleans as `true`/`false`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def read_value(text: str, templates: tuple[Any, ...], limit: int) -> Any:
    """The value a payload carries: a template's key path, a JSON object's `state`/`value`, or the text.

    Returns None when the payload has no usable value (missing key, a nested object where a
    scalar belongs); AdapterError when a template needs JSON and the payload is not JSON.
    """
    path = next((p for p in map(template_path, templates) if p is not None), None)
    if path is not None:
        data: Any = parse_json(text.encode(), limit)
        for step in path:
            if isinstance(step, int) and isinstance(data, list) and 0 <= step < len(data):
                data = data[step]
            elif isinstance(step, str) and isinstance(data, dict) and step in data:
                data = data[step]
            else:
                return None
        return data
    stripped = text.strip()
    if stripped.startswith("{"):
        data = parse_json(text.encode(), limit)
        if isinstance(data, dict):
            return data.get("state", data.get("value"))
        return None
    return text
