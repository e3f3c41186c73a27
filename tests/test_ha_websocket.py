"""Live state from Home Assistant: the pure codec, the settings, and the client against a fake HA that
speaks the documented WebSocket messages on a real loopback socket (tests/fake_ha.py)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_nlu.config_fields import to_mapping
from edge_nlu.domain.home import Area, Floor, Home
from edge_nlu.domain.live_home import EntityUpdate, LiveHome
from edge_nlu.errors import ConfigError, ErrorCode
from edge_nlu.service.adapters.ha_websocket import (
    AuthInvalid,
    AuthOk,
    AuthRequired,
    Event,
    HaArea,
    HaDevice,
    HaEntityEntry,
    HaFloor,
    HaMessageError,
    HaMirror,
    HaState,
    Pong,
    Result,
    auth_message,
    command,
    decode,
    encode,
    home_attributes,
    message_from_dict,
    read_entry_aliases,
    read_list,
)
from edge_nlu.service.config import ServeSettings
from edge_nlu.service.ha_client import HaStateSource
from edge_nlu.service.ha_settings import HomeAssistantSettings
from tests.fake_ha import FakeHomeAssistant, demo_aliases, demo_home

pytestmark = pytest.mark.unit

TOKEN = "llat-test-4f1d9c0b7e2a"  # noqa: S105 - a test token
LIMIT = 1 << 20


# -- the pure codec ---------------------------------------------------------------------------------

MESSAGES = [
    AuthRequired("2024.3.3"), AuthOk("2024.3.3"), AuthInvalid("Invalid access token or password"),
    Result(3, True, [{"entity_id": "light.a", "state": "on"}]), Result(4, False, None, "unknown_command", "Unknown"),
    Event(7, "state_changed", {"entity_id": "light.a", "new_state": None, "old_state": None}), Pong(9),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=[type(m).__name__ + str(i) for i, m in enumerate(MESSAGES)])
def test_server_messages_round_trip_through_the_wire(msg: Any) -> None:
    assert message_from_dict(msg.to_dict()) == msg
    assert decode(encode(msg.to_dict()), LIMIT) == [msg]


def test_client_messages_are_what_ha_documents() -> None:
    assert auth_message("abc") == {"type": "auth", "access_token": "abc"}
    assert json.loads(encode(command(5, "subscribe_events", event_type="state_changed"))) == {
        "id": 5, "type": "subscribe_events", "event_type": "state_changed"}


@pytest.mark.parametrize("frame", [
    "not json{", "[1, 2]", "42", '{"type": "weird"}', '{"type": "result", "success": true}',
    '{"id": 1, "type": "result", "success": "yes"}', '{"id": 1, "type": "event", "event": {"data": {}}}',
    '{"id": 1, "type": "event", "event": {"event_type": "x", "data": 5}}', '{"id": true, "type": "pong"}',
    "[" * 100_000 + "]" * 100_000, b"\xff\xfe",
])
def test_malformed_frames_are_a_message_error(frame: str | bytes) -> None:
    with pytest.raises(HaMessageError):
        decode(frame, LIMIT)


def test_coalesced_frames_keep_the_readable_messages_and_oversize_is_refused() -> None:
    frame = json.dumps([Pong(1).to_dict(), {"type": "junk"}, AuthOk(None).to_dict()])
    assert decode(frame, LIMIT) == [Pong(1), AuthOk(None)]
    with pytest.raises(HaMessageError, match="limit"):
        decode(json.dumps(Pong(1).to_dict()) + " " * 100, 50)


def test_records_round_trip_and_bad_records_are_skipped() -> None:
    _, regs = demo_home()
    for cls, kind in ((HaFloor, "floor"), (HaArea, "area"), (HaDevice, "device"), (HaEntityEntry, "entity")):
        items, skipped = read_list(cls, regs[kind] + [{"nothing": 1}, 5, None])
        assert skipped == 3 and len(items) == len(regs[kind])
        assert [cls.from_dict(i.to_dict()) for i in items] == items
    st = HaState.from_dict({"entity_id": "light.a", "state": "on",
                            "attributes": {"brightness": 255, "x": float("nan")}})
    assert HaState.from_dict(st.to_dict()) == st and st.attributes == {"brightness": 255}
    for bad in ({"entity_id": "nodot", "state": "on"}, {"entity_id": "light.a", "state": 5}, {"state": "on"}):
        with pytest.raises(HaMessageError):
            HaState.from_dict(bad)
    with pytest.raises(HaMessageError):
        read_list(HaArea, {"not": "a list"})


def test_attributes_are_read_in_the_home_models_scales() -> None:
    assert home_attributes({"brightness": 255}) == {"brightness": 100}
    assert home_attributes({"brightness": 128})["brightness"] == 50
    assert home_attributes({"brightness": None}) == {}  # an off light: HA sends null
    assert home_attributes({"current_position": 40}) == {"current_position": 40, "position": 40}


def mirror_with(entries: list[dict[str, Any]] | None = None, area_from_device: bool = True,
                aliases: dict[str, tuple[str, ...]] | None = None) -> HaMirror:
    states, regs = demo_home()
    mirror = HaMirror(area_from_device=area_from_device)
    if entries is not None:
        regs["entity"] = entries
    registries = {k: read_list(cls, regs[k])[0] for k, cls in
                  (("floor", HaFloor), ("area", HaArea), ("device", HaDevice), ("entity", HaEntityEntry))}
    mirror.resync(read_list(HaState, states)[0], registries, aliases)
    return mirror


def test_entity_aliases_are_read_from_get_entries() -> None:
    result = {"light.a": {"entity_id": "light.a", "aliases": ["reading lamp", None, 5, "", "x" * 10_000]},
              "light.b": None, "light.c": {"entity_id": "light.c"}, "nodot": {"aliases": ["x"]}}
    assert read_entry_aliases(result) == {"light.a": ("reading lamp",), "light.b": (), "light.c": ()}
    for bad in ([], None, "x"):
        with pytest.raises(HaMessageError):
            read_entry_aliases(bad)


def test_the_mirror_sends_aliases_and_resends_only_the_entities_whose_aliases_changed() -> None:
    aliases = {k: tuple(v) for k, v in demo_aliases().items()}
    m = mirror_with(aliases=aliases)
    change = m.resync(list(m.states.values()), {}, aliases)
    by_id = {u.entity_id: u for u in change.updates}
    assert by_id["light.sofa_lamp"].aliases == ("reading lamp", "couch light")
    assert by_id["light.kitchen_ceiling"].aliases == ()  # in the registry, no aliases: none (HA is the truth)
    assert by_id["switch.kettle"].aliases == ()  # not in the registry at all
    change = m.set_aliases({"light.sofa_lamp": ("couch light",), "sensor.hall_temperature": ("hall thermometer",)})
    assert [(u.entity_id, u.aliases) for u in change.updates] == [("light.sofa_lamp", ("couch light",))]
    _, regs = demo_home()
    change = m.registry("entity", read_list(HaEntityEntry, regs["entity"][:1])[0])  # two entries gone
    assert m.aliases is not None and "light.sofa_lamp" not in m.aliases  # their aliases went with them
    assert ("light.sofa_lamp", ()) in [(u.entity_id, u.aliases) for u in change.updates]
    without = mirror_with()  # an HA that gave no aliases: the updates leave the home's aliases alone
    assert {u.aliases for u in without.resync(list(without.states.values()), {}).updates} == {None}


def test_an_entity_is_in_its_own_area_else_its_devices() -> None:
    m = mirror_with()
    assert m.entity_area("light.kitchen_ceiling") == "kitchen"  # via dev-ceiling
    assert m.entity_area("light.sofa_lamp") == "living_room"  # its own beats its device's (kitchen)
    assert m.entity_area("switch.kettle") is None  # not in the entity registry
    assert m.device_area("dev-satellite") == "kitchen" and m.device_area("nope") is None
    assert mirror_with(area_from_device=False).entity_area("light.kitchen_ceiling") is None


def test_names_come_from_friendly_name_else_the_registry() -> None:
    m = mirror_with()
    assert m.entity_name("light.sofa_lamp") == "Sofa lamp"
    m.states["light.kitchen_ceiling"] = HaState("light.kitchen_ceiling", "on", {})
    assert m.entity_name("light.kitchen_ceiling") == "Ceiling light"  # has_entity_name, no own name: the device's
    m.states["sensor.hall_temperature"] = HaState("sensor.hall_temperature", "20", {})
    assert m.entity_name("sensor.hall_temperature") == "Temperature"  # no device to prefix
    m.entries["light.kitchen_ceiling"] = HaEntityEntry("light.kitchen_ceiling", "Big light", None, True, None,
                                                       "dev-ceiling")
    assert m.entity_name("light.kitchen_ceiling") == "Ceiling light Big light"
    m.states["switch.kettle"] = HaState("switch.kettle", "on", {})
    assert m.entity_name("switch.kettle") == "kettle"


def test_a_registry_change_resends_only_the_entities_it_moves() -> None:
    m = mirror_with()
    _, regs = demo_home()
    devices = [dict(d) for d in regs["device"]]
    devices[0]["area_id"] = "hall"  # the ceiling light's device moves
    change = m.registry("device", read_list(HaDevice, devices)[0])
    assert [(u.entity_id, u.area, u.replace) for u in change.updates] == [("light.kitchen_ceiling", "hall", True)]
    assert change.layout is None
    areas = [a for a in regs["area"] if a["area_id"] != "hall"]
    change = m.registry("area", read_list(HaArea, areas)[0])
    assert change.layout is not None and change.layout.drop_areas == ["hall"] and change.updates == []


def test_state_changed_updates_and_removes() -> None:
    m = mirror_with()
    new = {"entity_id": "light.sofa_lamp", "state": "off", "attributes": {"friendly_name": "Sofa lamp"}}
    (u,) = m.state_changed({"entity_id": "light.sofa_lamp", "new_state": new}).updates
    assert (u.state, u.area, u.attributes, u.replace) == ("off", "living_room", {"friendly_name": "Sofa lamp"}, True)
    (gone,) = m.state_changed({"entity_id": "light.sofa_lamp", "new_state": None}).updates
    assert gone.remove
    assert m.state_changed({"entity_id": "light.sofa_lamp", "new_state": None}).updates == []
    with pytest.raises(HaMessageError):
        m.state_changed({"entity_id": "light.a", "new_state": {"entity_id": "light.b", "state": "on"}})
    with pytest.raises(HaMessageError):
        m.state_changed({"new_state": new})


def test_a_resync_removes_what_ha_no_longer_has() -> None:
    m = mirror_with()
    change = m.resync([HaState("light.sofa_lamp", "on", {})], {})
    assert [u.entity_id for u in change.updates if u.remove] == sorted(
        ["light.kitchen_ceiling", "sensor.hall_temperature", "switch.kettle"])


# -- the live home's part ------------------------------------------------------------------------------


def test_live_home_full_picture_updates_and_registry_layout() -> None:
    base = Home(areas=[Area("kitchen", "Kitchen")], floors=[Floor("old", "Old floor")])
    home = LiveHome(base)
    home.apply([EntityUpdate("light.a", name="A", area="kitchen", state="on", attributes={"brightness": 80})])
    home.apply([EntityUpdate("light.a", state="off", attributes={"x": 1})])  # merge: brightness stays
    assert home.snapshot().entity("light.a").attributes == {"brightness": 80, "x": 1}  # type: ignore[union-attr]
    home.apply([EntityUpdate("light.a", state="off", attributes={"y": 2}, replace=True)])
    e = home.snapshot().entity("light.a")
    assert e is not None and e.attributes == {"y": 2} and e.area is None and e.name == "A"
    home.set_layout([Floor("ground", "Ground")], [Area("kitchen", "Cookhouse", floor="ground"), Area("hall", "Hall")],
                    drop_floors=["old"])
    snap = home.snapshot()
    assert [f.id for f in snap.floors] == ["ground"]
    assert snap.area("Cookhouse") is not None and snap.area("Cookhouse").floor == "ground"  # type: ignore[union-attr]
    home.apply([EntityUpdate("light.a", area="Hall")])
    assert home.snapshot().entity("light.a").area == "hall"  # type: ignore[union-attr]
    home.set_layout(drop_areas=["hall"])
    assert home.snapshot().area("hall") is None


def test_live_home_aliases_are_kept_unless_an_update_brings_them() -> None:
    from edge_nlu.domain.home import Entity

    home = LiveHome(Home(entities=[Entity("light.a", "A", aliases=["lamp"])]))
    home.apply([EntityUpdate("light.a", state="on", replace=True)])
    assert home.snapshot().entity("light.a").names() == ["A", "lamp"]  # type: ignore[union-attr]
    home.apply([EntityUpdate("light.a", aliases=("reading lamp", "couch light"))])
    assert home.snapshot().entity("light.a").names() == ["A", "reading lamp", "couch light"]  # type: ignore[union-attr]
    home.apply([EntityUpdate("light.a", aliases=())])
    assert home.snapshot().entity("light.a").aliases == []  # type: ignore[union-attr]


# -- settings --------------------------------------------------------------------------------------------


def test_settings_read_strictly_and_round_trip_in_the_serve_config(tmp_path: Path) -> None:
    s = ServeSettings.from_dict({"home_assistant": {"url": "ws://ha.lan:8123/api/websocket",
                                                    "token_file": "ha-token", "reconnect_max_s": 5}}, base_dir=tmp_path)
    assert s.home_assistant is not None and s.home_assistant.token_file == tmp_path / "ha-token"
    assert ServeSettings.from_dict(s.to_dict()) == s
    assert ServeSettings.from_dict({}).home_assistant is None
    assert HomeAssistantSettings.from_dict(to_mapping(HomeAssistantSettings())) == HomeAssistantSettings()
    for raw, key in (({"url": "http://ha:8123"}, "home_assistant.url"), ({"token": "x"}, "home_assistant"),
                     ({"reconnect_min_s": "1"}, "home_assistant.reconnect_min_s"),
                     ({"url": "ws://user:pw@ha/api/websocket"}, "home_assistant.url"),
                     ({"token_env": "1BAD"}, "home_assistant.token_env"),
                     ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "home_assistant")):
        with pytest.raises(ConfigError) as err:
            ServeSettings.from_dict({"home_assistant": raw})
        assert err.value.message.startswith(key), err.value.message


def test_the_token_comes_from_a_private_file_or_the_environment_and_is_never_shown(tmp_path: Path) -> None:
    f = tmp_path / "ha-token"
    f.write_text(TOKEN + "\n")
    f.chmod(0o644)
    s = HomeAssistantSettings(token_file=f)
    with pytest.raises(ConfigError) as err:
        s.read_token({})
    assert err.value.code == ErrorCode.HA_TOKEN_UNREADABLE and "chmod 600" in err.value.message
    f.chmod(0o600)
    assert s.read_token({}) == TOKEN
    env = HomeAssistantSettings(token_env="MY_HA_TOKEN")
    assert env.read_token({"MY_HA_TOKEN": TOKEN}) == TOKEN
    with pytest.raises(ConfigError, match=r"\$MY_HA_TOKEN"):
        env.read_token({})
    embedded = HomeAssistantSettings(token=TOKEN)
    assert TOKEN not in repr(embedded) and TOKEN not in repr(ServeSettings(home_assistant=embedded))


# -- the client against a fake HA ----------------------------------------------------------------------------

FAST = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2, "auth_retry_s": 0.4, "command_timeout_s": 5.0}


@pytest.fixture
def ha() -> Iterator[FakeHomeAssistant]:
    with FakeHomeAssistant(TOKEN) as server:
        yield server


def source_for(server: FakeHomeAssistant, home: LiveHome, **kw: Any) -> HaStateSource:
    settings = HomeAssistantSettings(url=server.url, token=kw.pop("token", TOKEN), **{**FAST, **kw})
    return HaStateSource(settings, home)


@pytest.fixture
def synced(ha: FakeHomeAssistant) -> Iterator[tuple[FakeHomeAssistant, LiveHome, HaStateSource]]:
    home = LiveHome()
    src = source_for(ha, home, max_event_bytes=4096)
    src.start()
    assert src.wait_synced(10)
    yield ha, home, src
    src.stop()


def entity(home: LiveHome, eid: str) -> Any:
    return home.snapshot().entity(eid)


def test_the_client_syncs_states_and_registries(synced: tuple[FakeHomeAssistant, LiveHome, HaStateSource]) -> None:
    ha, home, src = synced
    snap = home.snapshot()
    assert {e.id for e in snap.entities} == set(ha.states)
    assert entity(home, "light.kitchen_ceiling").area == "kitchen"  # from its device
    assert entity(home, "light.sofa_lamp").area == "living_room"
    assert entity(home, "light.sofa_lamp").attributes["brightness"] == 100
    assert snap.area("cookery") is not None and snap.floor_of("kitchen") == Floor("ground", "Ground floor")
    assert src.device_area("dev-satellite") == "kitchen"
    assert home.entities_by_source() == {"home_assistant": 4}
    assert ha.commands[:5] == ["subscribe_events"] * 5  # subscribed before fetching: no change falls in between


def test_entity_aliases_come_from_the_entity_registry(
        synced: tuple[FakeHomeAssistant, LiveHome, HaStateSource]) -> None:
    ha, home, src = synced
    assert entity(home, "light.sofa_lamp").names() == ["Sofa lamp", "reading lamp", "couch light"]
    assert entity(home, "sensor.hall_temperature").aliases == ["hall thermometer"]
    assert entity(home, "switch.kettle").aliases == []  # not in the entity registry: HA cannot give it aliases
    asked = ha.commands.count("config/entity_registry/get_entries")
    assert asked == 1  # one command for the whole home, after the registry list
    ha.set_aliases("light.sofa_lamp", ["floor lamp"])
    assert src.wait_until(lambda: entity(home, "light.sofa_lamp").aliases == ["floor lamp"], 5)
    assert ha.commands.count("config/entity_registry/get_entries") == asked + 1
    assert entity(home, "sensor.hall_temperature").aliases == ["hall thermometer"]  # untouched
    ha.set_aliases("light.sofa_lamp", [])
    assert src.wait_until(lambda: entity(home, "light.sofa_lamp").aliases == [], 5)


def test_an_ha_without_get_entries_syncs_without_aliases_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with FakeHomeAssistant(TOKEN, entries=False) as server:
        home = LiveHome()
        src = source_for(server, home)
        src.start()
        try:
            assert src.wait_synced(10)
            assert entity(home, "light.sofa_lamp").aliases == [] and entity(home, "light.sofa_lamp").state == "on"
            server.set_aliases("light.sofa_lamp", ["floor lamp"])  # a registry event: no second ask over this link
            server.set_state("switch.kettle", "on", friendly_name="Kettle")
            assert src.wait_until(lambda: entity(home, "switch.kettle").state == "on", 5)
            server.stop()
            assert src.wait_until(lambda: not src.synced, 5)
            server.start()
            assert src.wait_until(lambda: src.counters()["syncs"] >= 2 and src.synced, 10)
        finally:
            src.stop()
        assert server.commands.count("config/entity_registry/get_entries") == 2  # once per full sync
    lines = [r for r in caplog.records if "does not answer config/entity_registry/get_entries" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert src.counters()["skipped"] == 0


def test_a_change_during_the_sync_is_not_lost(ha: FakeHomeAssistant) -> None:
    """The snapshot is older than an event that arrives before the sync is done: the event wins."""
    ha.during_sync = ("light.kitchen_ceiling", "on")
    home = LiveHome()
    src = source_for(ha, home)
    src.start()
    try:
        assert src.wait_synced(10)
        assert src.wait_until(lambda: src.counters()["events"] >= 1, 5)
        assert entity(home, "light.kitchen_ceiling").state == "on"
    finally:
        src.stop()


def test_a_state_change_reaches_the_home(synced: tuple[FakeHomeAssistant, LiveHome, HaStateSource]) -> None:
    ha, home, src = synced
    ha.set_state("light.kitchen_ceiling", "on", friendly_name="Kitchen ceiling", brightness=128)
    assert src.wait_until(lambda: entity(home, "light.kitchen_ceiling").state == "on", 5)
    assert entity(home, "light.kitchen_ceiling").attributes["brightness"] == 50
    ha.set_state("light.kitchen_ceiling", "off", friendly_name="Kitchen ceiling")  # HA drops brightness
    assert src.wait_until(lambda: entity(home, "light.kitchen_ceiling").state == "off", 5)
    assert "brightness" not in entity(home, "light.kitchen_ceiling").attributes
    ha.set_state("switch.kettle", None)
    assert src.wait_until(lambda: entity(home, "switch.kettle") is None, 5)


def test_registry_updates_are_picked_up(synced: tuple[FakeHomeAssistant, LiveHome, HaStateSource]) -> None:
    ha, home, src = synced
    entries = [dict(e) for e in ha.registries["entity"]]
    entries[0]["area_id"] = "hall"
    ha.set_registry("entity", entries, entity_id="light.kitchen_ceiling")
    assert src.wait_until(lambda: entity(home, "light.kitchen_ceiling").area == "hall", 5)
    areas = [dict(a) for a in ha.registries["area"]] + [{"area_id": "attic", "name": "Attic", "floor_id": None}]
    areas[0]["name"] = "Cookhouse"
    ha.set_registry("area", areas, area_id="attic")
    assert src.wait_until(lambda: home.snapshot().area("attic") is not None, 5)
    assert home.snapshot().area("kitchen").name == "Cookhouse"  # type: ignore[union-attr]
    devices = [dict(d) for d in ha.registries["device"]]
    devices[2]["area_id"] = "attic"
    ha.set_registry("device", devices, device_id="dev-satellite")
    assert src.wait_until(lambda: src.device_area("dev-satellite") == "attic", 5)
    ha.set_registry("floor", [], floor_id="ground")
    assert src.wait_until(lambda: home.snapshot().floors == [], 5)
    assert src.counters()["registry_fetches"] >= 4


def test_a_wrong_token_is_an_error_line_without_the_token_and_no_tight_loop(
        ha: FakeHomeAssistant, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # websockets logs frames at DEBUG: the auth frame must not be among them
    home = LiveHome()
    src = source_for(ha, home, token="wrong-" + TOKEN)
    started = time.monotonic()
    src.start()
    try:
        assert src.wait_until(lambda: src.counters()["auth_failures"] >= 3, 10)
        elapsed = time.monotonic() - started
    finally:
        src.stop()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "refused the access token" in r.getMessage()]
    assert errors and "auth_invalid" in errors[0].getMessage()
    assert TOKEN not in caplog.text and "wrong-" not in caplog.text  # HA echoed it; the log does not
    # 3 refusals with a 0.4 s retry (times a 0.5-1 jitter) take at least 0.4 s; a tight loop would try hundreds
    assert elapsed >= 0.4 and ha.auth_attempts <= 4
    assert len(home) == 0 and not src.synced


def test_a_missing_token_file_is_an_error_and_a_wait(tmp_path: Path, ha: FakeHomeAssistant,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    settings = HomeAssistantSettings(url=ha.url, token_file=tmp_path / "nope", **FAST)
    src = HaStateSource(settings, LiveHome())
    src.start()
    try:
        assert src.wait_until(lambda: src.counters()["auth_failures"] >= 1, 5)
    finally:
        src.stop()
    assert "home_assistant.token_file" in caplog.text and ha.auth_attempts == 0


def test_a_restart_of_ha_is_survived_with_a_full_resync(
        synced: tuple[FakeHomeAssistant, LiveHome, HaStateSource]) -> None:
    ha, home, src = synced
    ha.stop()
    assert src.wait_until(lambda: not src.synced, 5)
    assert entity(home, "light.sofa_lamp").state == "on"  # the last state stays while HA is away
    ha.set_state("light.sofa_lamp", "off", quiet=True, friendly_name="Sofa lamp")  # changed while we were away
    ha.set_state("switch.kettle", None, quiet=True)
    ha.start()
    assert src.wait_until(lambda: src.counters()["syncs"] >= 2 and src.synced, 10)
    assert entity(home, "light.sofa_lamp").state == "off" and entity(home, "switch.kettle") is None
    ha.set_state("light.sofa_lamp", "on", friendly_name="Sofa lamp")
    assert src.wait_until(lambda: entity(home, "light.sofa_lamp").state == "on", 5)


def test_bad_and_oversized_messages_are_logged_and_skipped(
        synced: tuple[FakeHomeAssistant, LiveHome, HaStateSource], caplog: pytest.LogCaptureFixture) -> None:
    ha, home, src = synced
    caplog.set_level(logging.WARNING)
    sub = ha.subscription_id("state_changed")
    big = {"entity_id": "light.sofa_lamp", "state": "off", "attributes": {"junk": "x" * 5000}}
    for frame in ("not json{", "[1, 2]", '{"type": "weird"}',
                  json.dumps({"id": 999, "type": "result", "success": True}),
                  json.dumps({"id": sub, "type": "event", "event": {"event_type": "state_changed",
                                                                   "data": {"entity_id": 5}}}),
                  json.dumps({"id": sub, "type": "event", "event": {"event_type": "state_changed",
                                                                   "data": {"entity_id": "light.sofa_lamp",
                                                                            "new_state": big}}})):
        ha.send_raw(frame)
    ha.set_state("switch.kettle", "on", friendly_name="Kettle")
    assert src.wait_until(lambda: entity(home, "switch.kettle").state == "on", 5)
    assert entity(home, "light.sofa_lamp").state == "on"  # the oversized event was skipped
    assert src.counters()["skipped"] == 6 and src.counters()["syncs"] == 1  # same connection throughout
    text = caplog.text
    assert "cannot be read" in text and "max_event_bytes" in text and "no command here is waiting" in text


def test_a_message_over_the_socket_limit_drops_the_connection_and_resyncs(ha: FakeHomeAssistant) -> None:
    home = LiveHome()
    src = source_for(ha, home, max_message_bytes=8192, max_event_bytes=4096)
    src.start()
    try:
        assert src.wait_synced(10)
        ha.send_raw(json.dumps({"type": "pong", "id": 1, "pad": "x" * 20_000}))
        assert src.wait_until(lambda: src.counters()["syncs"] >= 2 and src.synced, 10)
        ha.set_state("switch.kettle", "on", friendly_name="Kettle")
        assert src.wait_until(lambda: entity(home, "switch.kettle").state == "on", 5)
    finally:
        src.stop()


def test_an_ha_without_floors_is_fine(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with FakeHomeAssistant(TOKEN, floors=False) as server:
        home = LiveHome()
        src = source_for(server, home)
        src.start()
        try:
            assert src.wait_synced(10)
        finally:
            src.stop()
    assert home.snapshot().floors == [] and home.snapshot().area("kitchen") is not None
    assert "no floor registry" in caplog.text


def test_stop_while_ha_is_unreachable_returns_promptly() -> None:
    settings = HomeAssistantSettings(url="ws://127.0.0.1:9/api/websocket", token=TOKEN, **FAST)
    src = HaStateSource(settings, LiveHome())
    src.start()
    assert src.wait_until(lambda: src.counters()["attempts"] >= 2, 5)
    started = time.monotonic()
    src.stop()
    assert time.monotonic() - started < 2 and not src.synced


def test_serve_starts_the_source_from_its_config(ha: FakeHomeAssistant, tmp_path: Path) -> None:
    """`home_assistant:` in a serve config: the service feeds its LiveHome from HA (no broker needed here:
    the MQTT link only retries in the background)."""
    from edge_nlu.service.app import Service

    token = tmp_path / "token"
    token.write_text(TOKEN)
    os.chmod(token, 0o600)
    settings = ServeSettings.from_dict({"broker": {"uri": "mqtt://127.0.0.1:9"}, "adapters": {}, "stats_interval_s": 0,
                                        "home_assistant": {"url": ha.url, "token_file": "token"}}, base_dir=tmp_path)

    class NoNLU:  # the service never parses here
        pass

    service = Service(settings, nlu=NoNLU())  # type: ignore[arg-type]
    service.start()
    try:
        assert service.ha is not None and service.ha.wait_synced(10)
        assert service.home.snapshot().entity("light.kitchen_ceiling") is not None
        assert service.counters()["ha_syncs"] == 1
    finally:
        service.stop()
