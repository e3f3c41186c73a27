"""LiveHome: updates merge into entities, snapshots are consistent and cached, threads do not tear it."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from edge_nlu.domain.home import Area, Entity, Floor, Home
from edge_nlu.domain.live_home import EntityUpdate, LiveHome, slug


def U(eid: str, **kw: object) -> EntityUpdate:  # noqa: N802 - reads like a constructor
    return EntityUpdate(entity_id=eid, source=str(kw.pop("source", "test")), **kw)  # type: ignore[arg-type]


def test_create_update_merge_and_remove() -> None:
    home = LiveHome()
    first = U("light.desk", name="Desk lamp", area="Office", state="on", attributes={"brightness": 40})
    assert home.apply([first]) == 1
    e = home.snapshot().entity("light.desk")
    assert e is not None and (e.name, e.area, e.state, e.attributes) == ("Desk lamp", "office", "on",
                                                                         {"brightness": 40})
    assert home.snapshot().area("office") is not None  # the area was created from the name
    home.apply([U("light.desk", attributes={"color_temp": 300}), U("light.desk", state="off")])
    e = home.snapshot().entity("light.desk")
    assert e is not None and e.state == "off" and e.name == "Desk lamp" and e.area == "office"
    assert e.attributes == {"brightness": 40, "color_temp": 300}  # merged, not replaced
    assert home.apply([U("light.desk", remove=True)]) == 1
    assert home.snapshot().entity("light.desk") is None and len(home) == 0
    assert home.apply([U("light.desk", remove=True)]) == 0  # removing twice is harmless
    assert home.stats.rejected == 1


def test_new_entity_defaults_and_bad_ids() -> None:
    home = LiveHome()
    home.apply([U("sensor.outside_temperature")])
    e = home.snapshot().entity("sensor.outside_temperature")
    assert e is not None and e.name == "outside temperature" and e.state == "unknown" and e.area is None
    assert home.apply([U("no_dot_here", state="on")]) == 0
    assert len(home) == 1


def test_areas_match_existing_ones_by_id_or_name() -> None:
    base = Home(floors=[Floor("ground", "Ground")], areas=[Area("living_room", "Living Room", floor="ground")])
    home = LiveHome(base)
    home.apply([U("light.a", area="Living Room"), U("light.b", area="living_room"), U("light.c", area="garden")])
    snap = home.snapshot()
    assert [snap.entity(x).area for x in ("light.a", "light.b", "light.c")] == ["living_room", "living_room",
                                                                                 "garden"]
    assert {a.id for a in snap.areas} == {"living_room", "garden"}
    assert snap.area("Garden") is not None


def test_availability_moves_state_to_unavailable_and_back() -> None:
    home = LiveHome()
    home.apply([U("switch.kettle", state="on")])
    home.apply([U("switch.kettle", available=False)])
    assert home.snapshot().entity("switch.kettle").state == "unavailable"
    home.apply([U("switch.kettle", available=True)])
    assert home.snapshot().entity("switch.kettle").state == "unknown"  # the last state is not trusted
    home.apply([U("switch.kettle", state="off", available=True)])
    assert home.snapshot().entity("switch.kettle").state == "off"
    home.apply([U("switch.kettle", state="on", available=False)])  # offline wins over a stale state
    assert home.snapshot().entity("switch.kettle").state == "unavailable"


def test_entity_cap_rejects_new_entities_but_updates_known_ones() -> None:
    home = LiveHome(max_entities=2)
    assert home.apply([U("light.a"), U("light.b"), U("light.c")]) == 2
    assert home.stats.rejected == 1 and len(home) == 2
    assert home.apply([U("light.a", state="on")]) == 1
    home.apply([U("light.a", remove=True)])
    assert home.apply([U("light.c")]) == 1


def test_stats_count_per_source() -> None:
    home = LiveHome()
    home.apply([U("light.a", source="zigbee2mqtt"), U("light.b", source="tasmota"), U("light.a", source="zigbee2mqtt")])
    assert home.stats.applied == 3 and home.stats.per_source == {"zigbee2mqtt": 2, "tasmota": 1}


def test_snapshot_is_cached_until_something_changes() -> None:
    base = Home(entities=[Entity(id="light.a", name="A")])
    home = LiveHome(base)
    first = home.snapshot()
    assert home.snapshot() is first
    assert home.apply([U("light.nope", remove=True)]) == 0
    assert home.snapshot() is first  # nothing applied: still the same object
    home.apply([U("light.a", state="on")])
    second = home.snapshot()
    assert second is not first and second.entity("light.a").state == "on"
    assert first.entity("light.a").state == "unknown"  # an old snapshot never changes under a reader
    home.add_floor(Floor("up", "Upstairs"))
    assert home.snapshot() is not second and home.snapshot().floor("up") is not None


def test_slug() -> None:
    assert slug("Kitchen / Ceiling-Light 2") == "kitchen_ceiling_light_2"
    assert slug("") == slug("!!!") == "unnamed"


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads every microsecond so races show up in a short test."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


@pytest.mark.usefixtures("fast_switching")
@pytest.mark.parametrize("writers,readers", [(4, 4), (8, 2)])
def test_concurrent_writers_and_readers_see_consistent_snapshots(writers: int, readers: int) -> None:
    """Each writer owns a group of entities and always sets all of them to the same value in one
    apply(); a reader must never see a group disagree, and no update may be lost."""
    home = LiveHome()
    rounds, group = 200, 20
    errors: list[str] = []
    stop = threading.Event()

    def write(w: int) -> None:
        for i in range(rounds):
            home.apply([U(f"sensor.w{w}_{k}", state=str(i), attributes={"i": i}) for k in range(group)])
            if i % 50 == 0:
                home.apply([U(f"light.tmp{w}"), U(f"light.tmp{w}", remove=True)])

    def read() -> None:
        while not stop.is_set():
            try:
                snap = home.snapshot()
            except RuntimeError as exc:  # "dictionary changed size during iteration"
                errors.append(str(exc))
                continue
            by_id = {e.id: e for e in snap.entities}
            if len(by_id) != len(snap.entities):
                errors.append("duplicate entity in a snapshot")
            for w in range(writers):
                states = {(by_id[k].state if k in by_id else None) for k in (f"sensor.w{w}_{n}" for n in range(group))}
                if len(states) != 1:
                    errors.append(f"torn group for writer {w}: {sorted(map(str, states))}")

    threads = [threading.Thread(target=read) for _ in range(readers)]
    threads += [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads[readers:]:
        t.join()
    stop.set()
    for t in threads[:readers]:
        t.join()
    assert errors == []
    snap = home.snapshot()
    assert len(snap.entities) == group * writers
    assert all(e.state == str(rounds - 1) for e in snap.entities)
    assert home.stats.applied == writers * (group * rounds + 2 * (rounds // 50))


def test_entities_by_source_counts_what_each_adapter_feeds() -> None:
    home = LiveHome()
    home.apply([EntityUpdate("light.a", state="on", source="zigbee2mqtt"),
                EntityUpdate("light.b", state="on", source="zigbee2mqtt"),
                EntityUpdate("switch.c", state="off", source="tasmota")])
    home.apply([EntityUpdate("light.b", remove=True, source="zigbee2mqtt")])
    assert home.entities_by_source() == {"zigbee2mqtt": 1, "tasmota": 1}
