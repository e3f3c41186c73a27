"""A fake Home Assistant that speaks HA's documented WebSocket API on a real loopback socket.

`auth_required` -> `auth` -> `auth_ok` / `auth_invalid` (then it closes), id-numbered commands
(`subscribe_events`, `get_states`, the four `config/*_registry/list`, `config/entity_registry/get_entries`
with the entities' aliases, `ping`) answered with `result`
messages, and `event` messages on each subscription. It runs its own asyncio loop in a thread, so a
test drives it with plain calls: change a state (a `state_changed` event goes out), change a registry
(its `*_registry_updated` event goes out), send raw frames, stop and start again on the same port.
For tests and benchmarks only.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

T = TypeVar("T")
GET_ENTRIES = "config/entity_registry/get_entries"
_LOG = logging.getLogger("tests.fake_ha")
_LOG.setLevel(logging.INFO)  # no frame dumps: the tests look for the token in the logs

LISTS = {"config/floor_registry/list": "floor", "config/area_registry/list": "area",
         "config/device_registry/list": "device", "config/entity_registry/list": "entity"}
"""The registry list commands -> the registry they list."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def state(entity_id: str, value: str, **attributes: Any) -> dict[str, Any]:
    """A state object as `get_states` and `state_changed` carry it."""
    return {"entity_id": entity_id, "state": value, "attributes": attributes,
            "last_changed": "2024-03-01T12:00:00+00:00", "last_updated": "2024-03-01T12:00:00+00:00",
            "context": {"id": "01HQ", "parent_id": None, "user_id": None}}


def demo_aliases() -> dict[str, list[str]]:
    """The entity aliases of `demo_home` (in HA they are in the entity registry, listed by `get_entries` only)."""
    return {"light.sofa_lamp": ["reading lamp", "couch light"], "sensor.hall_temperature": ["hall thermometer"]}


def demo_home() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(states, registries) of a small home: a kitchen light placed by its device, a lamp with an area of
    its own, a sensor, and a Wyoming satellite in the kitchen."""
    states = [
        state("light.kitchen_ceiling", "off", friendly_name="Kitchen ceiling", supported_color_modes=["brightness"]),
        state("light.sofa_lamp", "on", friendly_name="Sofa lamp", brightness=255),
        state("sensor.hall_temperature", "21.5", friendly_name="Hall temperature", device_class="temperature",
              unit_of_measurement="°C"),
        state("switch.kettle", "off", friendly_name="Kettle"),
    ]
    registries: dict[str, list[dict[str, Any]]] = {
        "floor": [{"floor_id": "ground", "name": "Ground floor", "level": 0, "aliases": [], "icon": None}],
        "area": [
            {"area_id": "kitchen", "name": "Kitchen", "floor_id": "ground", "aliases": ["cookery"], "icon": None,
             "picture": None, "labels": []},
            {"area_id": "living_room", "name": "Living Room", "floor_id": "ground", "aliases": [], "icon": None,
             "picture": None, "labels": []},
            {"area_id": "hall", "name": "Hall", "floor_id": None, "aliases": [], "icon": None, "picture": None,
             "labels": []},
        ],
        "device": [
            {"id": "dev-ceiling", "name": "Ceiling light", "name_by_user": None, "area_id": "kitchen",
             "manufacturer": "Acme", "model": "L1"},
            {"id": "dev-lamp", "name": "Lamp", "name_by_user": None, "area_id": "kitchen"},
            {"id": "dev-satellite", "name": "Kitchen satellite", "name_by_user": None, "area_id": "kitchen"},
        ],
        "entity": [
            {"entity_id": "light.kitchen_ceiling", "name": None, "original_name": None, "has_entity_name": True,
             "area_id": None, "device_id": "dev-ceiling", "platform": "hue", "disabled_by": None},
            {"entity_id": "light.sofa_lamp", "name": None, "original_name": "Sofa lamp", "has_entity_name": False,
             "area_id": "living_room", "device_id": "dev-lamp", "platform": "hue", "disabled_by": None},
            {"entity_id": "sensor.hall_temperature", "name": None, "original_name": "Temperature",
             "has_entity_name": True, "area_id": "hall", "device_id": None, "platform": "mqtt", "disabled_by": None},
        ],
    }
    return states, registries


class FakeHomeAssistant:
    """HA's WebSocket API on 127.0.0.1:`port` (a free one by default)."""

    def __init__(self, token: str, port: int | None = None, floors: bool = True, version: str = "2024.3.3",
                 entries: bool = True) -> None:
        self.token = token
        self.port = port or free_port()
        self.floors = floors
        """False: answers `config/floor_registry/list` with unknown_command, as HA before 2024.4 does."""
        self.entries = entries
        """False: answers `config/entity_registry/get_entries` with unknown_command, as an HA without it."""
        self.aliases: dict[str, list[str]] = demo_aliases()
        """Entity id -> aliases, served by `get_entries` for the entities in the entity registry."""
        self.version = version
        states, registries = demo_home()
        self.states: dict[str, dict[str, Any]] = {s["entity_id"]: s for s in states}
        self.registries = registries
        self.during_sync: tuple[str, str] | None = None
        """(entity id, state) changed, with its event, right after a `get_states` answer goes out and before
        the registries are answered: a change that falls in the middle of a client's sync."""
        self.auth_attempts = 0
        """Logins tried, right or wrong."""
        self.commands: list[str] = []
        """Command types received, in order."""
        self._clients: dict[ServerConnection, dict[str, int]] = {}
        self._server: Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-ha", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/websocket"

    # --- the test's side ----------------------------------------------------------------------

    def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def start(self) -> FakeHomeAssistant:
        async def go() -> None:
            self._server = await serve(self._handle, "127.0.0.1", self.port, max_size=None, logger=_LOG)

        self._call(go)
        return self

    def stop(self) -> None:
        """Stop listening and close every connection (HA shutting down)."""
        async def go() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
                self._server = None

        self._call(go)

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> FakeHomeAssistant:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def clients(self) -> int:
        """Connections that logged in and are still open."""
        return len(self._clients)

    def set_state(self, entity_id: str, value: str | None, quiet: bool = False, **attributes: Any) -> None:
        """Change (None: remove) a state; subscribers get a state_changed event unless `quiet`."""
        async def go() -> None:  # changed in the server's loop, so a get_states never sees half a change
            old = self.states.get(entity_id)
            new = None if value is None else state(entity_id, value, **attributes)
            if new is None:
                self.states.pop(entity_id, None)
            else:
                self.states[entity_id] = new
            if not quiet:
                await self._fire("state_changed", {"entity_id": entity_id, "old_state": old, "new_state": new})

        self._call(go)

    def set_registry(self, kind: str, records: list[dict[str, Any]], quiet: bool = False, **data: Any) -> None:
        """Replace a registry (`floor`, `area`, `device`, `entity`); fires `<kind>_registry_updated`."""
        async def go() -> None:
            self.registries[kind] = copy.deepcopy(records)
            if not quiet:
                await self._fire(f"{kind}_registry_updated", {"action": "update", **data})

        self._call(go)

    def set_aliases(self, entity_id: str, aliases: list[str], quiet: bool = False) -> None:
        """Give an entity of the entity registry new aliases; fires `entity_registry_updated` (action update,
        the old aliases in `changes`, as HA does) unless `quiet`."""
        async def go() -> None:
            old = self.aliases.get(entity_id, [])
            self.aliases[entity_id] = list(aliases)
            if not quiet:
                await self._fire("entity_registry_updated", {"action": "update", "entity_id": entity_id,
                                                             "changes": {"aliases": old}})

        self._call(go)

    def entry(self, entity_id: str) -> dict[str, Any] | None:
        """The entity's full registry entry, as `get_entries` gives it (None: not in the entity registry)."""
        listed = next((e for e in self.registries["entity"] if e.get("entity_id") == entity_id), None)
        if listed is None:
            return None
        return {**listed, "aliases": list(self.aliases.get(entity_id, [])), "capabilities": None,
                "device_class": None, "original_device_class": None, "original_icon": None, "options": {}}

    def fire(self, event_type: str, data: dict[str, Any]) -> None:
        """An event to every connection subscribed to it."""
        self._call(lambda: self._fire(event_type, data))

    async def _fire(self, event_type: str, data: dict[str, Any]) -> None:
        for ws, subs in list(self._clients.items()):
            if event_type in subs:
                msg = {"id": subs[event_type], "type": "event",
                       "event": {"event_type": event_type, "data": data, "origin": "LOCAL",
                                 "time_fired": "2024-03-01T12:00:00+00:00"}}
                await _send(ws, json.dumps(msg))

    def send_raw(self, frame: str | bytes) -> None:
        """A frame as is to every logged-in connection (garbage, oversized messages)."""
        async def go() -> None:
            for ws in list(self._clients):
                await _send(ws, frame)

        self._call(go)

    def subscription_id(self, event_type: str) -> int | None:
        """The id the (first) client subscribed to `event_type` with."""
        return next((subs[event_type] for subs in self._clients.values() if event_type in subs), None)

    # --- the server -------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            await ws.send(json.dumps({"type": "auth_required", "ha_version": self.version}))
            auth = json.loads(await ws.recv())
            self.auth_attempts += 1
            if not isinstance(auth, dict) or auth.get("type") != "auth" or auth.get("access_token") != self.token:
                # a careless server may echo what it got: the client must still never log the token
                given = auth.get("access_token") if isinstance(auth, dict) else None
                await ws.send(json.dumps({"type": "auth_invalid", "message": f"Invalid access token {given}"}))
                await ws.close()
                return
            await ws.send(json.dumps({"type": "auth_ok", "ha_version": self.version}))
            subs: dict[str, int] = {}
            self._clients[ws] = subs
            async for raw in ws:
                await self._command(ws, subs, json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            self._clients.pop(ws, None)

    async def _command(self, ws: ServerConnection, subs: dict[str, int], msg: dict[str, Any]) -> None:
        mid, kind = msg.get("id"), msg.get("type")
        self.commands.append(str(kind))
        result: Any = None
        if kind == "subscribe_events":
            subs[str(msg.get("event_type"))] = int(mid or 0)
        elif kind == "get_states":
            result = list(self.states.values())
        elif kind in LISTS and (self.floors or LISTS[kind] != "floor"):
            result = self.registries[LISTS[kind]]
        elif kind == GET_ENTRIES and self.entries:
            result = {str(eid): self.entry(str(eid)) for eid in msg.get("entity_ids") or []}
        elif kind == "ping":
            await _send(ws, json.dumps({"id": mid, "type": "pong"}))
            return
        else:
            await _send(ws, json.dumps({"id": mid, "type": "result", "success": False,
                                        "error": {"code": "unknown_command", "message": "Unknown command."}}))
            return
        await _send(ws, json.dumps({"id": mid, "type": "result", "success": True, "result": result}))
        if kind == "get_states" and self.during_sync is not None:
            eid, value = self.during_sync
            old = self.states.get(eid)
            self.states[eid] = state(eid, value, **(old or {}).get("attributes", {}))
            await self._fire("state_changed", {"entity_id": eid, "old_state": old, "new_state": self.states[eid]})


async def _send(ws: ServerConnection, frame: str | bytes) -> None:
    try:
        await ws.send(frame)
    except ConnectionClosed:
        pass
