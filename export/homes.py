"""Random synthetic homes built from devices/profiles.yaml, for the training-data generator.

Room names are drawn from a broad pool of everyday rooms; varied homes keep the model from
learning any one home's names.
"""

from __future__ import annotations

import random
from typing import Any

from edge_nlu.domain.home import Area, Entity, Floor, Home
from edge_nlu.domain.profiles import DeviceKind, load_profiles

ROOMS = [
    "kitchen", "living room", "bedroom", "master bedroom", "guest room", "kids room", "nursery",
    "office", "home office", "bathroom", "hallway", "dining room", "garage", "basement",
    "attic", "porch", "patio", "garden", "laundry room", "den", "family room", "playroom",
    "utility room", "conservatory", "landing", "loft", "lounge", "library", "workshop",
    "gym", "cellar", "sun room", "entryway", "games room", "tv room", "back yard", "terrace",
    "balcony", "pantry", "mudroom", "snug", "annex", "cinema room", "spare room", "studio",
]
FLOOR_PAIRS = [
    ("ground floor", "first floor"), ("downstairs", "upstairs"), ("main floor", "upper floor"),
    ("lower level", "upper level"), ("basement", "ground floor"), ("first floor", "second floor"),
]


def load_kinds() -> dict[str, DeviceKind]:
    """Device kinds by profile key, from the same loader the runtime uses."""
    return {k.name: k for k in load_profiles().kinds}


def _oid(text: str) -> str:
    return "_".join(text.lower().replace("'", "").split())


class HomeBuilder:
    """Builds a random but plausible home."""

    def __init__(self, kinds: dict[str, DeviceKind], rng: random.Random) -> None:
        self.kinds = kinds
        self.rng = rng

    def build(self) -> Home:
        rng = self.rng
        floor_names = rng.choice(FLOOR_PAIRS)
        floors = [Floor(id=_oid(n), name=n.title()) for n in floor_names]
        rooms = rng.sample(ROOMS, rng.randint(4, 8))
        if "kitchen" not in rooms and rng.random() < 0.7:
            rooms[0] = "kitchen"
        areas = []
        for i, r in enumerate(rooms):
            fl = floors[0] if i < (len(rooms) + 1) // 2 else floors[1]
            areas.append(Area(id=_oid(r), name=r.title(), floor=fl.id))
        entities: list[Entity] = []
        used: set[str] = set()

        def add(kind: str, name: str, area: Area | None, state: str, **attrs: Any) -> Entity:
            k = self.kinds[kind]
            base = _oid(name)
            eid = f"{k.domain}.{base}"
            n = 2
            while eid in used:
                eid = f"{k.domain}.{base}_{n}"
                n += 1
            used.add(eid)
            a = dict(attrs)
            if k.device_class:
                a.setdefault("device_class", k.device_class)
            e = Entity(id=eid, name=name[0].upper() + name[1:], area=area.id if area else None,
                       state=state, attributes=a)
            entities.append(e)
            return e

        for area in areas:
            room = area.name.lower()
            lights = rng.sample(self.kinds["light"].names, rng.randint(1, 3))
            for ln in lights:
                name = f"{room} {ln}" if rng.random() < 0.5 else ln
                if ln == "night light" and room not in name:
                    name = f"{room} night light"
                on = rng.random() < 0.4
                add("light", name, area, "on" if on else "off",
                    brightness=rng.choice([30, 50, 70, 100]) if on else 0)
            if rng.random() < 0.6:
                cn = rng.choice(self.kinds["climate"].names)
                t = rng.randint(17, 23)
                add("climate", f"{room} {cn}", area, "heat", current_temperature=t, temperature=t)
            if rng.random() < 0.4:
                kind = rng.choice(["blind", "curtain", "shutter"])
                add(kind, f"{room} {rng.choice(self.kinds[kind].names)}", area,
                    rng.choice(["open", "closed"]), position=rng.choice([0, 100]))
            if rng.random() < 0.45:
                add("speaker", f"{room} {rng.choice(self.kinds['speaker'].names)}", area, "idle",
                    volume_level=rng.choice([20, 30, 40]))
            if rng.random() < 0.3 or room in ("living room", "lounge", "tv room", "den"):
                add("tv", f"{room} {rng.choice(self.kinds['tv'].names)}", area, "off",
                    volume_level=rng.choice([20, 30, 40]))
            if rng.random() < 0.3:
                add("fan", rng.choice(self.kinds["fan"].names), area, "off")
            if rng.random() < 0.35:
                add("appliance", rng.choice(self.kinds["appliance"].names), area, "off")
            if room in ("kitchen", "pantry") or rng.random() < 0.1:
                for cook in rng.sample(self.kinds["oven"].names, rng.randint(1, 2)):
                    add("oven", cook, area, "off")
                    add("temperature_sensor", f"{cook} temperature", area, str(rng.randint(19, 25)),
                        unit_of_measurement="°C")
            if room in ("bathroom", "laundry room") or rng.random() < 0.1:
                add("humidity_sensor", f"{room} humidity", area, str(rng.randint(40, 80)),
                    unit_of_measurement="%")
            if rng.random() < 0.15:
                add("temperature_sensor", f"{room} temperature", area, str(rng.randint(5, 25)),
                    unit_of_measurement="°C")
            if room in ("hallway", "entryway", "porch", "mudroom") or rng.random() < 0.08:
                add("lock", rng.choice(self.kinds["lock"].names), area, "locked")
            if room in ("garden", "patio", "balcony", "terrace", "back yard") or rng.random() < 0.05:
                add("valve", rng.choice(self.kinds["valve"].names), area, "closed", position=0)
        per_floor = rng.random() < 0.5
        for fl in floors if per_floor else floors[:1]:
            area = rng.choice([a for a in areas if a.floor == fl.id])
            add("vacuum", rng.choice(self.kinds["vacuum"].names), area, "docked")
        add("weather", "forecast", None, rng.choice(["sunny", "cloudy", "rainy"]),
            temperature=rng.randint(-5, 30))
        return Home(floors=floors, areas=areas, entities=entities)
