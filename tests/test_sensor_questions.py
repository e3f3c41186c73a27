"""A sensor asked about in a named room keeps the room in the frame, as HA's '{name} in {area}' does."""

from __future__ import annotations

import yaml

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU, Slot
from edge_nlu.resolve.resolver import resolve

HOME = Home.from_dict(yaml.safe_load("""
areas:
  - {id: study, name: Study, aliases: [den]}
  - {id: hall, name: Hall}
entities:
  - {id: sensor.study_air_quality, name: Study air quality, area: study, state: "12",
     attributes: {device_class: pm25, unit_of_measurement: "µg/m³"}}
  - {id: climate.study, name: Study radiator, area: study, state: heat, attributes: {current_temperature: 19}}
"""))


def test_the_room_said_stays_in_the_slots() -> None:
    text = "what's the air quality in the den"
    nlu = NLU("iot_climate_query", 0.9, (Slot("house_place", "den", text.index("den"), len(text)),))
    action, _ = resolve(nlu, text, HOME, RequestContext.from_dict({"area": "Hall"}), load_profiles())
    assert action is not None and action.targets == ("sensor.study_air_quality",)
    assert action.slots.get("area") == "Study"
