"""Device-state adapters: real topic and payload shapes in, EntityUpdates out; garbage never crashes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_nlu.domain.live_home import EntityUpdate, LiveHome
from edge_nlu.errors import ConfigError
from edge_nlu.service.adapters.base import Adapter, AdapterError, CapReached
from edge_nlu.service.adapters.ha_discovery import HaDiscoveryAdapter, HaDiscoveryConfig
from edge_nlu.service.adapters.homie import HomieAdapter, HomieConfig
from edge_nlu.service.adapters.registry import adapter_names, build_adapters
from edge_nlu.service.adapters.tasmota import TasmotaAdapter, TasmotaConfig
from edge_nlu.service.adapters.zigbee2mqtt import Zigbee2MqttAdapter, Zigbee2MqttConfig
from edge_nlu.service.routes import TopicRoutes

ENTITY_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$")


def j(data: Any) -> bytes:
    return json.dumps(data).encode()


def feed(adapter: Adapter, messages: list[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run messages through an adapter into a LiveHome; the home as {entity_id: entity dict}."""
    home = LiveHome()
    for topic, payload in messages:
        raw = payload if isinstance(payload, bytes) else payload.encode() if isinstance(payload, str) else j(payload)
        updates = adapter.handle(topic, raw)
        check_updates(updates, adapter.name)
        home.apply(updates)
    return {e.id: e.to_dict() for e in home.snapshot().entities}


def check_updates(updates: Any, source: str) -> None:
    """What every adapter promises about its output."""
    assert isinstance(updates, list)
    for u in updates:
        assert isinstance(u, EntityUpdate)
        assert ENTITY_ID.match(u.entity_id), u.entity_id
        assert u.source == source
        assert u.state is None or (isinstance(u.state, str) and len(u.state) <= 256)
        assert u.name is None or (isinstance(u.name, str) and 0 < len(u.name) <= 600)
        assert u.area is None or isinstance(u.area, str)
        if u.attributes is not None:
            assert isinstance(u.attributes, dict) and len(u.attributes) <= 64
            json.dumps(u.attributes, allow_nan=False)


# -- Zigbee2MQTT --------------------------------------------------------------------------------

Z2M_DEVICES = yaml.safe_load("""
- {friendly_name: Coordinator, ieee_address: "0x00124b0000000000", type: Coordinator}
- friendly_name: kitchen/ceiling
  ieee_address: "0x0017880100000001"
  type: Router
  definition:
    model: 9290012573A
    vendor: Philips
    description: Hue white and color ambiance E27
    exposes:
      - type: light
        features:
          - {type: binary, name: state, property: state, value_on: "ON", value_off: "OFF"}
          - {type: numeric, name: brightness, property: brightness, value_min: 0, value_max: 254}
          - {type: numeric, name: color_temp, property: color_temp}
          - {type: composite, name: color_xy, property: color}
      - {type: numeric, name: linkquality, property: linkquality, category: diagnostic}
- friendly_name: coffee plug
  ieee_address: "0x0017880100000002"
  type: Router
  description: "area: Kitchen"
  definition:
    exposes:
      - type: switch
        features: [{type: binary, name: state, property: state}]
      - {type: numeric, name: power, property: power, unit: W}
- friendly_name: bathroom_sensor
  ieee_address: "0x00158d0000000003"
  type: EndDevice
  definition:
    exposes:
      - {type: numeric, name: temperature, property: temperature, unit: "°C"}
      - {type: numeric, name: humidity, property: humidity, unit: "%"}
      - {type: numeric, name: battery, property: battery, unit: "%", category: diagnostic}
- friendly_name: front door contact
  ieee_address: "0x00158d0000000004"
  type: EndDevice
  definition:
    exposes:
      - {type: binary, name: contact, property: contact, value_on: false, value_off: true}
- friendly_name: living/thermostat
  ieee_address: "0x00158d0000000005"
  type: EndDevice
  definition:
    exposes:
      - type: climate
        features:
          - {type: numeric, name: local_temperature, property: local_temperature}
          - {type: numeric, name: current_heating_setpoint, property: current_heating_setpoint}
          - {type: enum, name: system_mode, property: system_mode}
- friendly_name: bedroom blind
  ieee_address: "0x00158d0000000006"
  type: Router
  definition:
    exposes:
      - type: cover
        features: [{name: state, property: state}, {name: position, property: position}]
- friendly_name: dual
  ieee_address: "0x00158d0000000007"
  type: Router
  definition:
    exposes:
      - {type: switch, endpoint: l1, features: [{name: state, property: state_l1}]}
      - {type: switch, endpoint: l2, features: [{name: state, property: state_l2}]}
- {friendly_name: new-one, ieee_address: "0x00158d0000000008", type: EndDevice, definition: null}
""")


def z2m(**config: Any) -> Zigbee2MqttAdapter:
    return Zigbee2MqttAdapter(Zigbee2MqttConfig.from_options(config))


def test_z2m_device_list_makes_entities_with_domains_and_areas() -> None:
    home = feed(z2m(areas={"bathroom_sensor": "Bathroom"}), [("zigbee2mqtt/bridge/devices", Z2M_DEVICES)])
    assert set(home) == {
        "light.kitchen_ceiling", "switch.coffee_plug", "sensor.coffee_plug_power",
        "sensor.bathroom_sensor_temperature", "sensor.bathroom_sensor_humidity",
        "binary_sensor.front_door_contact_contact", "climate.living_thermostat", "cover.bedroom_blind",
        "switch.dual_l1", "switch.dual_l2",
    }  # coordinator, diagnostic exposes and the uninterviewed device make none
    assert home["light.kitchen_ceiling"]["area"] == "kitchen"  # Z2M slash group
    assert home["light.kitchen_ceiling"]["name"] == "kitchen ceiling"
    assert home["switch.coffee_plug"]["area"] == "kitchen"  # "area: Kitchen" in the description
    assert home["sensor.bathroom_sensor_temperature"]["area"] == "bathroom"  # config map
    assert home["sensor.bathroom_sensor_humidity"]["name"] == "bathroom sensor humidity"
    assert home["sensor.bathroom_sensor_humidity"]["attributes"] == {
        "device_class": "humidity", "unit_of_measurement": "%"}
    assert home["binary_sensor.front_door_contact_contact"]["attributes"]["device_class"] == "door"
    assert home["light.kitchen_ceiling"]["state"] == "unknown"


def test_z2m_states_map_to_ha_states_and_attributes() -> None:
    home = feed(z2m(), [
        ("zigbee2mqtt/bridge/devices", Z2M_DEVICES),
        ("zigbee2mqtt/kitchen/ceiling", {"state": "ON", "brightness": 127, "color_temp": 370,
                                         "color": {"x": 0.46, "y": 0.41}, "linkquality": 80}),
        ("zigbee2mqtt/bathroom_sensor", {"temperature": 21.5, "humidity": 40, "battery": 97}),
        ("zigbee2mqtt/front door contact", {"contact": True}),
        ("zigbee2mqtt/living/thermostat", {"local_temperature": 19.5, "current_heating_setpoint": 21,
                                           "system_mode": "heat"}),
        ("zigbee2mqtt/bedroom blind", {"position": 0, "state": "CLOSE"}),
        ("zigbee2mqtt/dual", {"state_l1": "ON", "state_l2": "OFF"}),
    ])
    light = home["light.kitchen_ceiling"]
    assert light["state"] == "on"
    assert light["attributes"] == {"brightness": 50, "color_temp": 370, "color": {"x": 0.46, "y": 0.41}}
    assert home["sensor.bathroom_sensor_temperature"]["state"] == "21.5"
    assert home["sensor.bathroom_sensor_humidity"]["state"] == "40"
    assert home["binary_sensor.front_door_contact_contact"]["state"] == "off"  # contact = closed
    thermostat = home["climate.living_thermostat"]
    assert thermostat["state"] == "heat"
    assert thermostat["attributes"] == {"current_temperature": 19.5, "temperature": 21}
    assert home["cover.bedroom_blind"]["state"] == "closed"
    assert home["cover.bedroom_blind"]["attributes"]["position"] == 0
    assert (home["switch.dual_l1"]["state"], home["switch.dual_l2"]["state"]) == ("on", "off")


@pytest.mark.parametrize("payload", [b"offline", b'{"state": "offline"}'])
def test_z2m_availability_plain_and_json(payload: bytes) -> None:
    a = z2m()
    home = LiveHome()
    home.apply(a.handle("zigbee2mqtt/bridge/devices", j(Z2M_DEVICES)))
    home.apply(a.handle("zigbee2mqtt/kitchen/ceiling", j({"state": "ON"})))
    home.apply(a.handle("zigbee2mqtt/kitchen/ceiling/availability", payload))
    assert home.snapshot().entity("light.kitchen_ceiling").state == "unavailable"
    home.apply(a.handle("zigbee2mqtt/kitchen/ceiling/availability", b"online"))
    home.apply(a.handle("zigbee2mqtt/kitchen/ceiling", j({"state": "OFF"})))
    assert home.snapshot().entity("light.kitchen_ceiling").state == "off"


def test_z2m_removed_and_renamed_devices_are_removed() -> None:
    a = z2m()
    home = LiveHome()
    home.apply(a.handle("zigbee2mqtt/bridge/devices", j(Z2M_DEVICES)))
    renamed = [d for d in Z2M_DEVICES if d["friendly_name"] not in ("bathroom_sensor", "dual")]
    renamed = [{**d, "friendly_name": "kitchen/main"} if d["friendly_name"] == "kitchen/ceiling" else d
               for d in renamed]
    updates = a.handle("zigbee2mqtt/bridge/devices", j(renamed))
    removed = {u.entity_id for u in updates if u.remove}
    assert removed == {"sensor.bathroom_sensor_temperature", "sensor.bathroom_sensor_humidity",
                       "switch.dual_l1", "switch.dual_l2", "light.kitchen_ceiling"}
    home.apply(updates)
    ids = {e.id for e in home.snapshot().entities}
    assert "light.kitchen_main" in ids and "light.kitchen_ceiling" not in ids


def test_z2m_unlisted_device_is_guessed_and_upgraded() -> None:
    a = z2m(domains={"Hall lamp": "light"})  # config names match friendly names by slug
    u1 = a.handle("zigbee2mqtt/garden/plug", j({"state": "ON"}))
    assert [(u.entity_id, u.area) for u in u1 if u.name] == [("switch.garden_plug", "garden")]
    u2 = a.handle("zigbee2mqtt/garden/plug", j({"state": "ON", "brightness": 254}))
    assert [u.entity_id for u in u2 if u.remove] == ["switch.garden_plug"]
    assert any(u.entity_id == "light.garden_plug" and u.attributes == {"brightness": 100} for u in u2)
    u3 = a.handle("zigbee2mqtt/weather", j({"temperature": 3.5, "humidity": 90}))
    assert {u.entity_id for u in u3} == {"sensor.weather_temperature", "sensor.weather_humidity"}
    # a domain override for a listed device
    devices = [{"friendly_name": "hall lamp", "ieee_address": "0x1", "type": "Router",
                "definition": {"exposes": [{"type": "switch", "features": [{"name": "state", "property": "state"}]}]}}]
    assert "light.hall_lamp" in {u.entity_id for u in a.handle("zigbee2mqtt/bridge/devices", j(devices))}


@pytest.mark.parametrize("topic", ["zigbee2mqtt/kitchen/ceiling/set", "zigbee2mqtt/kitchen/ceiling/get",
                                   "zigbee2mqtt/x/set/brightness", "zigbee2mqtt/bridge/state",
                                   "zigbee2mqtt/bridge/logging", "other/kitchen", "zigbee2mqtt"])
def test_z2m_ignores_commands_bridge_topics_and_foreign_topics(topic: str) -> None:
    assert z2m().handle(topic, j({"state": "ON"})) == []


# -- HA discovery -------------------------------------------------------------------------------

def ha(**options: Any) -> HaDiscoveryAdapter:
    return HaDiscoveryAdapter(HaDiscoveryConfig.from_options({"areas": {"Porch light": "Garden"}, **options}))


ESPHOME_SENSOR = {
    "~": "esp-office/sensor/office_temperature", "name": "Temperature", "stat_t": "~/state",
    "avty_t": "esp-office/status", "dev_cla": "temperature", "unit_of_meas": "°C",
    "uniq_id": "esp-office-temp", "dev": {"name": "Office", "ids": ["esp-office"], "sa": "Office"},
}
Z2M_SWITCH = {
    "name": None, "stat_t": "zigbee2mqtt/porch", "val_tpl": "{{ value_json.state }}", "pl_on": "ON", "pl_off": "OFF",
    "json_attr_t": "zigbee2mqtt/porch", "uniq_id": "0x01_switch", "obj_id": "porch_light",
    "avty": [{"t": "zigbee2mqtt/bridge/state", "val_tpl": "{{ value_json.state }}"},
             {"topic": "zigbee2mqtt/porch/availability"}],
    "dev": {"name": "Porch light", "ids": ["0x01"]},
}
Z2M_CONTACT = {
    "name": "Contact", "stat_t": "zigbee2mqtt/door", "val_tpl": "{{ value_json.contact }}", "pl_on": False,
    "pl_off": True, "dev_cla": "door", "uniq_id": "0x02_contact", "dev": {"name": "Front door"},
}


def test_ha_discovery_learns_topics_and_routes_state() -> None:
    a = ha()
    home = LiveHome()
    home.apply(a.handle("homeassistant/sensor/esp-office/temperature/config", j(ESPHOME_SENSOR)))
    home.apply(a.handle("homeassistant/switch/0x01/switch/config", j(Z2M_SWITCH)))
    home.apply(a.handle("homeassistant/binary_sensor/0x02/contact/config", j(Z2M_CONTACT)))
    assert a.extra_subscriptions() == sorted([
        "esp-office/sensor/office_temperature/state", "esp-office/status", "zigbee2mqtt/porch",
        "zigbee2mqtt/bridge/state", "zigbee2mqtt/porch/availability", "zigbee2mqtt/door"])
    for topic, payload in [
        ("esp-office/sensor/office_temperature/state", b"22.4"),
        ("esp-office/status", b"online"),
        ("zigbee2mqtt/porch", j({"state": "ON", "linkquality": 99, "brightness": 3})),
        ("zigbee2mqtt/door", j({"contact": False})),
    ]:
        updates = a.handle(topic, payload)
        check_updates(updates, "ha_discovery")
        home.apply(updates)
    snap = home.snapshot()
    temp = snap.entity("sensor.office_temperature")
    assert temp is not None and temp.name == "Office Temperature" and temp.state == "22.4"
    assert temp.area == "office" and temp.attributes == {"device_class": "temperature", "unit_of_measurement": "°C"}
    porch = snap.entity("switch.porch_light")
    assert porch is not None and porch.state == "on" and porch.area == "garden"
    assert porch.attributes == {"linkquality": 99}  # brightness is reserved: never overwritten raw
    door = snap.entity("binary_sensor.front_door_contact")
    assert door is not None and door.state == "on" and door.name == "Front door Contact"
    home.apply(a.handle("zigbee2mqtt/porch/availability", b"offline"))
    assert home.snapshot().entity("switch.porch_light").state == "unavailable"


def test_ha_discovery_removal_forgets_entity_and_topics() -> None:
    a = ha()
    a.handle("homeassistant/sensor/esp-office/temperature/config", j(ESPHOME_SENSOR))
    updates = a.handle("homeassistant/sensor/esp-office/temperature/config", b"")
    assert [(u.entity_id, u.remove) for u in updates] == [("sensor.office_temperature", True)]
    assert a.extra_subscriptions() == []
    assert a.handle("esp-office/sensor/office_temperature/state", b"1") == []
    assert a.handle("homeassistant/sensor/esp-office/temperature/config", b"") == []


def test_ha_discovery_reports_subscription_changes_once() -> None:
    a = ha()
    a.handle("homeassistant/sensor/esp-office/temperature/config", j(ESPHOME_SENSOR))
    added, removed = a.take_subscription_changes()
    assert added == ["esp-office/sensor/office_temperature/state", "esp-office/status"] and removed == []
    a.handle("homeassistant/sensor/esp-office/temperature/config", j(ESPHOME_SENSOR))  # the same again
    assert a.take_subscription_changes() == ([], [])
    a.handle("homeassistant/sensor/esp-office/temperature/config", b"")
    assert a.take_subscription_changes() == ([], ["esp-office/sensor/office_temperature/state", "esp-office/status"])
    a.handle("homeassistant/sensor/esp-office/temperature/config", j(ESPHOME_SENSOR))
    a.handle("homeassistant/sensor/esp-office/temperature/config", b"")  # added and gone again: nothing to do
    assert a.take_subscription_changes() == ([], [])


def test_ha_discovery_caps_configs_per_node_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    a = ha(max_configs_per_node=2)
    for i in range(2):
        a.handle(f"homeassistant/switch/node1/s{i}/config", j({"name": f"s{i}", "stat_t": f"n1/{i}"}))
    for i in range(2, 5):
        with pytest.raises(CapReached):
            a.handle(f"homeassistant/switch/node1/s{i}/config", j({"name": f"s{i}", "stat_t": f"n1/{i}"}))
    assert len([r for r in caplog.records if "max_configs_per_node" in r.getMessage()]) == 1
    assert a.handle("homeassistant/switch/node2/s0/config", j({"name": "other", "stat_t": "n2/0"}))  # other nodes
    a.handle("homeassistant/switch/node1/s0/config", b"")  # removal frees a place
    assert a.handle("homeassistant/switch/node1/s9/config", j({"name": "s9", "stat_t": "n1/9"}))


def test_topic_routes_match_wildcards_and_exact_topics_with_shared_owners() -> None:
    r = TopicRoutes([["zigbee2mqtt/#"], ["homeassistant/+/+/config"]])
    assert r.add(1, ["zigbee2mqtt/porch", "esp/status"]) == ["zigbee2mqtt/porch", "esp/status"]
    assert r.match("zigbee2mqtt/porch") == [0, 1] and r.match("zigbee2mqtt/other") == [0]
    assert r.match("homeassistant/light/x/config") == [1] and r.match("esp/status") == [1] and r.match("x") == []
    assert r.add(0, ["esp/status"]) == []  # already subscribed for adapter 1
    assert r.remove(1, ["esp/status", "zigbee2mqtt/porch", "never/added"]) == ["zigbee2mqtt/porch"]
    assert r.match("esp/status") == [0] and r.remove(0, ["esp/status"]) == ["esp/status"]
    assert sorted(r.filters()) == ["homeassistant/+/+/config", "zigbee2mqtt/#"]


def test_ha_discovery_json_light_cover_lock_and_collisions() -> None:
    a = ha()
    home = feed(a, [
        ("homeassistant/light/hall/config", {"name": "Hall", "schema": "json", "stat_t": "hall/state",
                                              "bri_scl": 100}),
        ("homeassistant/cover/garage/config", {"name": "Garage door", "stat_t": "garage/state",
                                                "pos_t": "garage/pos", "dev_cla": "garage"}),
        ("homeassistant/lock/front/config", {"name": "Front door", "stat_t": "lock/state"}),
        ("homeassistant/sensor/a/config", {"name": "Temperature", "stat_t": "a/t"}),
        ("homeassistant/sensor/b/config", {"name": "Temperature", "stat_t": "b/t"}),
        ("hall/state", {"state": "ON", "brightness": 40}),
        ("garage/state", "open"), ("garage/pos", "30"), ("lock/state", "LOCKED"),
        ("a/t", "1"), ("b/t", {"value": 2}),
    ])
    assert home["light.hall"]["state"] == "on" and home["light.hall"]["attributes"]["brightness"] == 40
    assert home["cover.garage_door"]["state"] == "open"
    assert home["cover.garage_door"]["attributes"]["position"] == 30
    assert home["lock.front_door"]["state"] == "locked"
    assert home["sensor.temperature"]["state"] == "1" and home["sensor.temperature_2"]["state"] == "2"


def test_ha_device_discovery_components() -> None:
    a = ha()
    conf = {"dev": {"ids": "ea334450945afc", "name": "Kitchen"}, "o": {"name": "bla2mqtt"},
            "stat_t": "sensorBedroom/state",
            "cmps": {"some_unique_component_id1": {"p": "sensor", "dev_cla": "temperature",
                                                   "unit_of_meas": "°C", "val_tpl": "{{ value_json.temperature }}",
                                                   "uniq_id": "temp01ae_t", "name": "Temperature"},
                     "some_unique_id2": {"p": "sensor", "dev_cla": "humidity", "unit_of_meas": "%",
                                         "val_tpl": "{{ value_json.humidity }}", "uniq_id": "temp01ae_h",
                                         "name": "Humidity"}}}
    home = feed(a, [("homeassistant/device/kitchen/config", conf),
                    ("sensorBedroom/state", {"temperature": 23.2, "humidity": 43.7})])
    assert home["sensor.kitchen_temperature"]["state"] == "23.2"
    assert home["sensor.kitchen_humidity"]["state"] == "43.7"
    conf["cmps"]["some_unique_id2"] = {"p": "sensor"}  # HA's way to remove one component
    updates = a.handle("homeassistant/device/kitchen/config", j(conf))
    assert [u.entity_id for u in updates if u.remove] == ["sensor.kitchen_humidity"]


def test_ha_discovery_ignores_non_entities_and_unknown_topics() -> None:
    a = ha()
    assert a.handle("homeassistant/device_automation/x/action/config", j({"topic": "x"})) == []
    assert a.handle("homeassistant/status", b"online") == []
    assert a.handle("some/random/topic", b"1") == []
    with pytest.raises(AdapterError):
        a.handle("homeassistant/sensor/x/config", b"[1, 2]")


# -- Tasmota ------------------------------------------------------------------------------------

def tasmota(**config: Any) -> TasmotaAdapter:
    return TasmotaAdapter(TasmotaConfig.from_options(config))


def test_tasmota_relays_dimmer_sensors_and_lwt() -> None:
    a = tasmota(devices={"tasmota_8A7F3C": {"name": "Desk lamp", "area": "Office"},
                         "sonoff_dual": "Pump"})
    home = feed(a, [
        ("tele/tasmota_8A7F3C/LWT", "Online"),
        ("tele/tasmota_8A7F3C/STATE", {"Time": "2024-01-01T00:00:00", "POWER": "ON", "Wifi": {"RSSI": 60}}),
        ("stat/tasmota_8A7F3C/RESULT", {"POWER": "ON", "Dimmer": 40}),
        ("tele/tasmota_8A7F3C/SENSOR", {"Time": "x", "AM2301": {"Temperature": 21.5, "Humidity": 40.1,
                                                                  "DewPoint": 7.3},
                                        "ENERGY": {"Power": 23, "Voltage": 231, "Total": 1.5},
                                        "TempUnit": "C"}),
        ("stat/sonoff_dual/POWER2", "ON"), ("stat/sonoff_dual/POWER1", "OFF"),
        ("tele/unnamed_plug/STATE", {"POWER": "OFF"}),
    ])
    assert "switch.desk_lamp" not in home  # became a light once it reported a dimmer
    lamp = home["light.desk_lamp"]
    assert (lamp["state"], lamp["area"], lamp["attributes"]) == ("on", "office", {"brightness": 40})
    assert home["sensor.desk_lamp_am2301_temperature"]["state"] == "21.5"
    assert home["sensor.desk_lamp_am2301_humidity"]["attributes"]["unit_of_measurement"] == "%"
    assert home["sensor.desk_lamp_power"]["state"] == "23"
    assert home["sensor.desk_lamp_energy_total"]["attributes"]["device_class"] == "energy"
    assert home["switch.pump"]["state"] == "off" and home["switch.pump_2"]["state"] == "on"
    assert home["switch.pump_2"]["name"] == "Pump 2"
    assert home["switch.unnamed_plug"]["name"] == "unnamed_plug"
    home2 = LiveHome()
    home2.apply(a.handle("tele/tasmota_8A7F3C/STATE", j({"POWER": "ON"})))
    home2.apply(a.handle("tele/tasmota_8A7F3C/LWT", b"Offline"))
    assert home2.snapshot().entity("light.desk_lamp").state == "unavailable"


def test_tasmota_custom_full_topic_and_ignored_topics() -> None:
    a = tasmota(full_topic="home/%topic%/%prefix%/")
    assert a.subscriptions() == ["home/#"]
    assert [u.entity_id for u in a.handle("home/plug/tele/STATE", j({"POWER": "ON"}))] == ["switch.plug"]
    assert a.handle("home/plug/tele/INFO1", j({"Module": "x"})) == []
    assert a.handle("home/plug/cmnd/POWER", b"ON") == []
    assert tasmota().handle("stat/plug/STATUS", j({})) == []
    with pytest.raises(AdapterError):
        tasmota().handle("stat/plug/POWER", b"maybe")


# -- Homie --------------------------------------------------------------------------------------

HOMIE = [
    ("homie/kitchen-lamp/$homie", "4.0.0"), ("homie/kitchen-lamp/$name", "Kitchen lamp"),
    ("homie/kitchen-lamp/light/on", "true"),  # value before its datatype: retained order is arbitrary
    ("homie/kitchen-lamp/$nodes", "light"), ("homie/kitchen-lamp/$state", "ready"),
    ("homie/kitchen-lamp/light/$name", "Light"), ("homie/kitchen-lamp/light/$properties", "on,brightness"),
    ("homie/kitchen-lamp/light/on/$datatype", "boolean"),
    ("homie/kitchen-lamp/light/brightness/$datatype", "integer"),
    ("homie/kitchen-lamp/light/brightness/$format", "0:255"), ("homie/kitchen-lamp/light/brightness", "51"),
    ("homie/weather/$name", "Weather station"), ("homie/weather/$nodes", "outside,relay"),
    ("homie/weather/outside/temperature/$datatype", "float"), ("homie/weather/outside/temperature", "-3.5"),
    ("homie/weather/outside/temperature/$unit", "°C"), ("homie/weather/outside/humidity", "88"),
    ("homie/weather/relay/power", "false"), ("homie/weather/relay/power/$datatype", "boolean"),
    ("homie/weather/$state", "ready"),
]


def test_homie_devices_become_entities() -> None:
    home = feed(HomieAdapter(HomieConfig.from_options({"areas": {"Weather station": "Garden"}})), HOMIE)
    assert set(home) == {"light.kitchen_lamp_light", "sensor.weather_outside_temperature",
                         "sensor.weather_outside_humidity", "switch.weather_relay"}
    lamp = home["light.kitchen_lamp_light"]
    assert (lamp["name"], lamp["state"], lamp["attributes"]) == ("Kitchen lamp", "on", {"brightness": 20})
    temp = home["sensor.weather_outside_temperature"]
    assert (temp["name"], temp["state"], temp["area"]) == ("Weather station outside temperature", "-3.5", "garden")
    assert home["switch.weather_relay"]["state"] == "off"


def test_homie_lost_state_nodes_change_and_removal() -> None:
    a = HomieAdapter()
    home = LiveHome()
    for topic, payload in HOMIE:
        home.apply(a.handle(topic, payload.encode()))
    home.apply(a.handle("homie/weather/$state", b"lost"))
    assert home.snapshot().entity("switch.weather_relay").state == "unavailable"
    home.apply(a.handle("homie/weather/$nodes", b"outside"))
    assert home.snapshot().entity("switch.weather_relay") is None
    home.apply(a.handle("homie/kitchen-lamp/$homie", b""))
    assert {e.id for e in home.snapshot().entities} == {"sensor.weather_outside_temperature",
                                                        "sensor.weather_outside_humidity"}
    assert a.handle("homie/$broadcast/alert", b"hi") == []
    assert a.handle("homie/kitchen-lamp/light/on/set", b"true") == []
    with pytest.raises(AdapterError):
        a.handle("homie/bad device/x/y", b"1")


# -- registry -----------------------------------------------------------------------------------

def test_registry_builds_configured_adapters() -> None:
    adapters = build_adapters(adapter_names(), {"zigbee2mqtt": {"base_topic": "z2m"},
                                                "tasmota": {"devices": {"plug": "Kettle"}}})
    assert [a.name for a in adapters] == ["ha_discovery", "homie", "tasmota", "zigbee2mqtt"]
    assert adapters[-1].subscriptions() == ["z2m/#"]
    assert build_adapters([]) == []


@pytest.mark.parametrize("names,options", [
    (["zwave"], {}), (["homie", "homie"], {}), ("homie", {}), (["homie"], {"tasmota": {}}),
    (["homie"], {"homie": {"bogus": 1}}), (["homie"], {"homie": {"base_topic": "a/#"}}),
    (["homie"], {"homie": []}), (["zigbee2mqtt"], {"zigbee2mqtt": {"domains": {"x": "Not A Domain"}}}),
    (["zigbee2mqtt"], {"zigbee2mqtt": {"areas": ["kitchen"]}}),
    (["zigbee2mqtt"], {"zigbee2mqtt": {"max_devices": 0}}),
    (["tasmota"], {"tasmota": {"full_topic": "%topic%/x/"}}),
    (["tasmota"], {"tasmota": {"devices": {"plug": {"name": 3}}}}),
    (["zigbee2mqtt"], {"zigbee2mqtt": {"max_devices": True}}),
    (["homie"], {"homie": {"max_payload_bytes": "4096"}}),
    (["ha_discovery"], {"ha_discovery": {"base_topic": ""}}),
    (["tasmota"], {"tasmota": {"tele_prefix": "tele/+"}}),
    (["tasmota"], {"tasmota": {"devices": {3: "Kettle"}}}),
    (["tasmota"], {"tasmota": {"devices": {"plug": 3}}}),
])
def test_registry_rejects_bad_config(names: Any, options: Any) -> None:
    with pytest.raises(ConfigError) as err:
        build_adapters(names, options)
    assert err.value.message.startswith("adapters")


def test_options_are_read_into_typed_configs() -> None:
    z = Zigbee2MqttConfig.from_options({"base_topic": "/z2m/", "areas": {" Sofa lamp ": "Living Room"},
                                        "domains": {"Sofa lamp": "light"}, "max_devices": None})
    assert (z.base_topic, z.max_devices) == ("z2m", Zigbee2MqttConfig.max_devices)
    assert (z.naming.areas, z.naming.domains) == ({"Sofa lamp": "Living Room"}, {"Sofa lamp": "light"})
    t = TasmotaConfig.from_options({"tele_prefix": "tele/", "devices": {"plug": "Kettle", "lamp": {"domain": "light"}}})
    assert t.tele_prefix == "tele" and t.full_topic == "%prefix%/%topic%/"
    assert (t.devices["plug"].name, t.devices["lamp"].domain) == ("Kettle", "light")


# -- robustness ---------------------------------------------------------------------------------

def test_clean_attributes_caps_and_keeps_json_safe() -> None:
    from edge_nlu.service.adapters._common import clean_attributes, parse_json

    raw = {"nan": float("nan"), "inf": float("inf"), "big": 2**80, "ok": 1.5, "long": "x" * 300, "short": "x",
           3: "non-str key", "deep": {"a": {"b": {"c": {"d": 1}}}}, "list": list(range(100)), "obj": object(),
           "tuple": (1, float("nan"), "y")}
    out = clean_attributes(raw)
    assert out == {"ok": 1.5, "short": "x", "deep": {"a": {"b": {}}}, "list": list(range(32)), "tuple": [1, "y"]}
    assert len(clean_attributes({f"k{i}": i for i in range(500)})) == 64
    assert parse_json(b'{"a": NaN, "b": 1e999, "c": ' + b"9" * 50 + b', "d": 2}', 1000) == {
        "a": None, "b": None, "c": None, "d": 2}


# -- robustness (every adapter) ---------------------------------------------------------------------------------

def fresh(name: str) -> Adapter:
    adapter = build_adapters([name])[0]
    if name == "ha_discovery":
        adapter.handle("homeassistant/switch/0x01/switch/config", j(Z2M_SWITCH))
        adapter.handle("homeassistant/sensor/esp-office/temperature/config", j(ESPHOME_SENSOR))
        adapter.handle("homeassistant/light/hall/config", j({"name": "Hall", "schema": "json", "stat_t": "hall/s"}))
    if name == "zigbee2mqtt":
        adapter.handle("zigbee2mqtt/bridge/devices", j(Z2M_DEVICES))
    return adapter


TOPICS = {
    "zigbee2mqtt": ["zigbee2mqtt/bridge/devices", "zigbee2mqtt/kitchen/ceiling", "zigbee2mqtt/living/thermostat",
                    "zigbee2mqtt/bedroom blind", "zigbee2mqtt/kitchen/ceiling/availability", "zigbee2mqtt/new",
                    "zigbee2mqtt//", "zigbee2mqtt/a//availability"],
    "ha_discovery": ["homeassistant/sensor/x/config", "homeassistant/light/n/o/config",
                     "homeassistant/device/d/config", "zigbee2mqtt/porch", "zigbee2mqtt/porch/availability",
                     "zigbee2mqtt/bridge/state", "esp-office/sensor/office_temperature/state", "hall/s"],
    "tasmota": ["tele/plug/STATE", "tele/plug/SENSOR", "tele/plug/LWT", "stat/plug/RESULT", "stat/plug/POWER",
                "stat/plug/POWER3", "tele/a/b/STATE"],
    "homie": ["homie/dev/$name", "homie/dev/$state", "homie/dev/$nodes", "homie/dev/node/$properties",
              "homie/dev/node/on", "homie/dev/node/on/$datatype", "homie/dev/node/temperature",
              "homie/dev/node/brightness/$format", "homie/dev/$homie"],
}
NASTY = [
    b"", b"\xff\xfe\x00garbage", b"NaN", b'{"state": NaN, "brightness": Infinity}', b"1e999", b"-1e999",
    b"[" * 5000 + b"]" * 5000, b'{"a": ' * 3000 + b"1" + b"}" * 3000, b"9" * 5000,
    b'{"brightness": ' + b"9" * 5000 + b"}",
    b"[]", b"[1, 2, 3]", b'"string"', b"null", b"true", b"{}", b'{"state": ["ON"]}', b'{"state": {"x": 1}}',
    b'{"brightness": "bright", "temperature": "hot", "position": "half", "color": "red"}',
    b'{"POWER": 7, "Dimmer": "x", "AM2301": [1], "ENERGY": {"Power": [1, 2]}}', b'{"state": "ON", "": 1}',
    b'{"brightness": 1e308, "color_temp": -1e308, "position": 12345678901234567890123}',
    j({"k" + str(i): "v" * 300 for i in range(200)}), j({"k" + str(i): i for i in range(200)}),
    j([{"friendly_name": 5}, "x", None, {"definition": []}]),
    j([{"friendly_name": "x", "definition": {"exposes": [{"type": "light", "features": "nope"}, 5, None]}}]),
    j({"stat_t": ["a"], "avty": "x", "dev": [], "~": 5, "name": {"a": 1}, "cmps": []}),
    j({"stat_t": "a/+/b", "json_attr_t": "#", "avty_t": ""}),
    j({"cmps": {"x": {"p": "sensor", "stat_t": "s/t"}, "y": "bad", "z": {"p": "nope"}}}),
    "héllo wörld".encode(), b"ready", b"lost", b"true", b"ON", b"Online", b"online",
]


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_nasty_payloads_raise_adapter_error_or_give_valid_updates(name: str) -> None:
    adapter = fresh(name)
    home = LiveHome()
    for topic in TOPICS[name]:
        for payload in NASTY:
            try:
                updates = adapter.handle(topic, payload)
            except AdapterError as exc:
                assert exc.message and len(exc.message) < 200
                continue
            check_updates(updates, name)
            home.apply(updates)
    check_home(home)


def check_home(home: LiveHome) -> None:
    snap = home.snapshot()
    json.dumps(snap.to_dict(), allow_nan=False)
    ids = [e.id for e in snap.entities]
    assert len(ids) == len(set(ids)) == len(home)
    for e in snap.entities:
        assert ENTITY_ID.match(e.id)
        assert e.area is None or snap.area(e.area) is not None
        assert len(e.attributes) <= 64


def topics_for(name: str) -> st.SearchStrategy[str]:
    base = {"zigbee2mqtt": "zigbee2mqtt", "ha_discovery": "homeassistant", "tasmota": "tele", "homie": "homie"}[name]
    segment = st.one_of(st.sampled_from(["$name", "$state", "config", "set", "STATE", "LWT", "POWER2", "bridge",
                                         "availability", "sensor", "+", "#", "", "devices", "ümlaut", "a b"]),
                        st.text(max_size=12))
    built = st.lists(segment, min_size=0, max_size=5).map(lambda parts: "/".join([base, *parts]))
    return st.one_of(st.sampled_from(TOPICS[name]), built)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["state", "brightness", "POWER", "Dimmer", "temperature", "contact", "position", "stat_t",
                         "name", "friendly_name", "exposes", "definition", "AM2301", "ENERGY", "Temperature",
                         "avty", "dev", "~", "cmps", "p", "value"]) | st.text(max_size=8),
        inner, max_size=6),
    max_leaves=20,
)
payloads = st.one_of(st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode()),
                     st.lists(json_values, max_size=4).map(lambda v: json.dumps(v).encode()))


@pytest.mark.parametrize("name", sorted(TOPICS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_random_messages_never_crash_and_keep_home_consistent(name: str, data: st.DataObject) -> None:
    adapter = fresh(name)
    home = LiveHome()
    for topic, payload in data.draw(st.lists(st.tuples(topics_for(name), payloads), min_size=1, max_size=8)):
        try:
            updates = adapter.handle(topic, payload)
        except AdapterError:
            continue
        check_updates(updates, name)
        home.apply(updates)
        assert all(isinstance(s, str) for s in adapter.extra_subscriptions())
    check_home(home)


def test_lone_surrogates_in_names_become_replacement_characters() -> None:
    """`"\\ud800"` is valid JSON but not encodable text: a name carrying it would make every answer about
    the device unpublishable, so the adapters' JSON reader replaces it (U+FFFD) at the wire."""
    devices = [{"friendly_name": "porch lamp\ud800", "ieee_address": "0x1", "definition": {"exposes": [
        {"type": "light", "features": [{"name": "state", "property": "state"}]}]}}]
    home = feed(z2m(), [("zigbee2mqtt/bridge/devices", devices)])
    assert home["light.porch_lamp"]["name"] == "porch lamp\ufffd"
    ha_home = feed(ha(), [("homeassistant/sensor/x/config", {"name": "Temp\udfff", "stat_t": "x/t"}), ("x/t", "21")])
    (entity,) = ha_home.values()
    assert entity["name"] == "Temp\ufffd" and entity["state"] == "21"
    json.dumps(ha_home, ensure_ascii=False).encode("utf-8")


def test_learned_topics_a_broker_refuses_are_not_subscribed() -> None:
    a = ha()
    a.handle("homeassistant/sensor/x/config", j({"name": "T", "stat_t": "x/t\x01", "avty_t": "x/\ufffe"}))
    assert a.extra_subscriptions() == []
