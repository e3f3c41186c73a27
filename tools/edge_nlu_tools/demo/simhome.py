"""A simulated home for the live demo and the benchmarks: the MQTT traffic real hubs would send.

Zigbee2MQTT (`zigbee2mqtt/bridge/devices`, `zigbee2mqtt/<friendly_name>`) carries the lights,
the kitchen's temperature sensor and the oven's smart plug; Tasmota (`tele/<t>/STATE|SENSOR|LWT`,
`stat/<t>/RESULT`) carries the kettle and the oven's probe. Everything is retained, as the hubs
do, so a service that (re)connects rebuilds the home from the broker alone. The devices stand in
for entities of the demo home (`devices/homes/demo.yaml`); `REPLACES` names them so the demo can
drop the static copies and let the live state decide the answers.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_nlu.domain.live_home import slug

REPLACES = frozenset({
    "light.kitchen_ceiling", "light.living_room_ceiling", "light.reading_lamp", "light.bedroom_ceiling",
    "light.bedroom_night_light", "switch.oven", "sensor.oven_temperature", "switch.kettle",
    "climate.kitchen_thermostat", "sensor.kids_room_temperature",
})
"""Demo-home entities the simulated devices stand for."""

_LIGHT = [{"type": "light", "features": [
    {"type": "binary", "name": "state", "property": "state", "value_on": "ON", "value_off": "OFF", "access": 7},
    {"type": "numeric", "name": "brightness", "property": "brightness", "value_min": 0, "value_max": 254,
     "access": 7}]}]
_PLUG = [{"type": "switch", "features": [
    {"type": "binary", "name": "state", "property": "state", "value_on": "ON", "value_off": "OFF", "access": 7}]},
    {"type": "numeric", "name": "power", "property": "power", "unit": "W", "access": 5}]
_CLIMATE_SENSOR = [
    {"type": "numeric", "name": "temperature", "property": "temperature", "unit": "°C", "access": 1},
    {"type": "numeric", "name": "humidity", "property": "humidity", "unit": "%", "access": 1},
    {"type": "numeric", "name": "battery", "property": "battery", "unit": "%", "access": 1,
     "category": "diagnostic"}]
_TRV = [{"type": "climate", "features": [
    {"type": "numeric", "name": "local_temperature", "property": "local_temperature", "unit": "°C", "access": 5},
    {"type": "numeric", "name": "current_heating_setpoint", "property": "current_heating_setpoint", "unit": "°C",
     "access": 7},
    {"type": "enum", "name": "system_mode", "property": "system_mode", "values": ["off", "heat"], "access": 7}]}]
_MODELS = {"light": ("LED1545G12", "IKEA", _LIGHT), "plug": ("SP 120", "innr", _PLUG),
           "sensor": ("WSDCGQ11LM", "Aqara", _CLIMATE_SENSOR), "trv": ("SPZB0001", "Eurotronic", _TRV)}


@dataclass
class ZigbeeDevice:
    """One Zigbee2MQTT device and the state JSON it last published."""

    friendly_name: str
    """Name in topics and, slugged, in entity ids."""
    area: str
    """Area name (given to the service through the adapter's `areas` option)."""
    kind: str
    """`light`, `plug`, `sensor` or `trv` (radiator thermostat): picks the exposes in `bridge/devices`."""
    ieee: str
    """IEEE address."""
    state: dict[str, Any] = field(default_factory=dict)
    """Last state payload."""


@dataclass
class TasmotaDevice:
    """One Tasmota device topic."""

    topic: str
    """Device topic (`%topic%`)."""
    name: str
    """Friendly name (from the service config, as Tasmota topics carry none)."""
    area: str
    """Area name."""
    power: bool | None = None
    """Relay state; None for a sensor-only device."""
    temperature: float | None = None
    """DS18B20 probe reading; None for a device without one."""


def default_devices() -> tuple[list[ZigbeeDevice], list[TasmotaDevice]]:
    """The demo home's kitchen, living room, bedroom and kids room, as hubs would publish them."""
    z = [
        ZigbeeDevice("Kitchen ceiling", "Kitchen", "light", "0x0017880100000001", {"state": "OFF", "brightness": 0}),
        ZigbeeDevice("Living room ceiling", "Living Room", "light", "0x0017880100000002",
                     {"state": "ON", "brightness": 178}),
        ZigbeeDevice("Reading lamp", "Living Room", "light", "0x0017880100000003", {"state": "ON", "brightness": 120}),
        ZigbeeDevice("Bedroom ceiling", "Bedroom", "light", "0x0017880100000004", {"state": "ON", "brightness": 200}),
        ZigbeeDevice("Bedroom night light", "Bedroom", "light", "0x0017880100000005",
                     {"state": "OFF", "brightness": 0}),
        ZigbeeDevice("Kitchen thermostat", "Kitchen", "trv", "0x0015bc0000000006",
                     {"local_temperature": 21.5, "current_heating_setpoint": 21, "system_mode": "heat"}),
        ZigbeeDevice("Kids room sensor", "Kids Room", "sensor", "0x00158d0000000008",
                     {"temperature": 19.5, "humidity": 52, "battery": 97}),
        ZigbeeDevice("Oven", "Kitchen", "plug", "0x0000000000000007", {"state": "OFF", "power": 0}),
    ]
    t = [TasmotaDevice("kettle", "Kettle", "Kitchen", power=False),
         TasmotaDevice("oven", "Oven", "Kitchen", temperature=22.0)]
    return z, t


class SimHome:
    """Publishes the simulated devices' retained state; change methods publish only what changed."""

    def __init__(self, host: str, port: int, base_topic: str = "zigbee2mqtt", timeout_s: float = 5.0) -> None:
        self.host, self.port, self.base_topic, self.timeout_s = host, port, base_topic, timeout_s
        self.zigbee, self.tasmota = default_devices()
        self._connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-nlu-simhome-{port}")
        self.client.on_connect = lambda *_: self._connected.set()
        self.client.on_disconnect = lambda *_: self._connected.clear()
        self.client.reconnect_delay_set(0.1, 1)  # type: ignore[arg-type]  # paho handles float delays

    def __enter__(self) -> SimHome:
        self.connect()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def connect(self) -> None:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(self.timeout_s):
            self.close()
            raise TimeoutError(f"simulated home: no CONNACK from {self.host}:{self.port} in {self.timeout_s} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # -- what the service needs to know ----------------------------------------------------------

    def adapter_options(self) -> dict[str, dict[str, Any]]:
        """The `adapters:` section of a serve config that names and places these devices."""
        return {
            "zigbee2mqtt": {"base_topic": self.base_topic, "areas": {d.friendly_name: d.area for d in self.zigbee}},
            "tasmota": {"devices": {d.topic: {"name": d.name, "area": d.area} for d in self.tasmota}},
        }

    # -- publishing --------------------------------------------------------------------------------

    def publish(self, topic: str, payload: str | bytes | dict[str, Any] | list[Any], retain: bool = True) -> None:
        """QoS 1 and wait for the broker's PUBACK: a query published after this sees the change."""
        data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        info = self.client.publish(topic, data, qos=1, retain=retain)
        info.wait_for_publish(self.timeout_s)
        if not info.is_published():
            raise TimeoutError(f"simulated home: {topic} not acknowledged in {self.timeout_s} s")

    def publish_all(self) -> None:
        """The bridge's device list, every device's state and availability, every Tasmota message."""
        self.publish(f"{self.base_topic}/bridge/state", {"state": "online"})
        self.publish(f"{self.base_topic}/bridge/devices", self.bridge_devices())
        for d in self.zigbee:
            self.publish(f"{self.base_topic}/{d.friendly_name}/availability", {"state": "online"})
            self.publish(f"{self.base_topic}/{d.friendly_name}", d.state)
        for t in self.tasmota:
            self.publish(f"tele/{t.topic}/LWT", "Online")
            self._tasmota_state(t)

    def bridge_devices(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"ieee_address": "0x00124b0000000000", "type": "Coordinator",
                                      "friendly_name": "Coordinator", "definition": None}]
        for d in self.zigbee:
            model, vendor, exposes = _MODELS[d.kind]
            out.append({"ieee_address": d.ieee, "type": "EndDevice" if d.kind == "sensor" else "Router",
                        "friendly_name": d.friendly_name, "supported": True, "disabled": False,
                        "interview_completed": True,
                        "definition": {"model": model, "vendor": vendor, "description": d.kind, "exposes": exposes}})
        return out

    def _tasmota_state(self, t: TasmotaDevice) -> None:
        if t.power is not None:
            self.publish(f"tele/{t.topic}/STATE", {"Time": "2026-11-24T07:30:00", "Uptime": "0T01:00:00",
                                                   "POWER": "ON" if t.power else "OFF"})
        if t.temperature is not None:
            self.publish(f"tele/{t.topic}/SENSOR", {"Time": "2026-11-24T07:30:00",
                                                    "DS18B20": {"Id": "01144A0CB2AA", "Temperature": t.temperature},
                                                    "TempUnit": "C"})

    # -- changes between turns ------------------------------------------------------------------

    def _z(self, name: str) -> ZigbeeDevice:
        return next(d for d in self.zigbee if d.friendly_name == name)

    def _t(self, topic: str) -> TasmotaDevice:
        return next(t for t in self.tasmota if t.topic == topic)

    def set_zigbee(self, name: str, **state: Any) -> str:
        """Merge `state` into a Zigbee device's state and publish it; returns what was published."""
        d = self._z(name)
        d.state.update(state)
        self.publish(f"{self.base_topic}/{d.friendly_name}", d.state)
        return f"{self.base_topic}/{d.friendly_name} {json.dumps(d.state)}"

    def set_oven(self, on: bool, temperature: float) -> list[str]:
        """The oven's plug (Zigbee) switched and its probe (Tasmota SENSOR) reading `temperature`."""
        done = [self.set_zigbee("Oven", state="ON" if on else "OFF", power=2150 if on else 0)]
        t = self._t("oven")
        t.temperature = temperature
        self._tasmota_state(t)
        return [*done, f"tele/oven/SENSOR DS18B20 {temperature:g} °C"]

    def set_relay(self, topic: str, on: bool) -> str:
        """A Tasmota relay switched (reported on `stat/<t>/RESULT`, then `tele/<t>/STATE`)."""
        t = self._t(topic)
        t.power = on
        self.publish(f"stat/{topic}/RESULT", {"POWER": "ON" if on else "OFF"}, retain=False)
        self._tasmota_state(t)
        return f"tele/{topic}/STATE POWER {'ON' if on else 'OFF'}"

    def execute(self, action: dict[str, Any] | None) -> list[str]:
        """Carry out a result's HassTurnOn/HassTurnOff on the simulated devices, as Home Assistant would."""
        if not action or action.get("intent") not in ("HassTurnOn", "HassTurnOff"):
            return []
        on = action["intent"] == "HassTurnOn"
        done: list[str] = []
        for target in action.get("targets") or []:
            domain, _, obj = str(target).partition(".")
            zig = next((d for d in self.zigbee if slug(d.friendly_name) == obj and d.kind in ("light", "plug")), None)
            tas = next((t for t in self.tasmota if slug(t.name) == obj and t.power is not None), None)
            if tas is not None and domain == "switch":
                done.append(self.set_relay(tas.topic, on))
            elif zig is not None:
                extra = {"brightness": 254 if on else 0} if zig.kind == "light" else {"power": 2150 if on else 0}
                done.append(self.set_zigbee(zig.friendly_name, state="ON" if on else "OFF", **extra))
        return done
