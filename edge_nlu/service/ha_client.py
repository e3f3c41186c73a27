"""Live state from Home Assistant itself: a WebSocket client that keeps a LiveHome in step with HA.

One daemon thread runs an asyncio loop: connect, log in with the long-lived token, subscribe to
`state_changed` and the four registry events, fetch the states and the floor, area, device and entity
registries and the entities' aliases, then apply events as they come; a registry event fetches that
registry again (an entity registry event also the aliases of the entities it names). Events that arrive
while the snapshot is fetched are queued and replayed on top of it, so none is lost.

A lost connection (HA restarting) is retried with capped exponential backoff with jitter and followed
by a full sync; a refused token is one ERROR line and a long wait, never a tight loop, and the token
never appears in a log line. What HA sends is read by the pure codec
(`edge_nlu.service.adapters.ha_websocket`); a message it cannot read is logged (once per kind) and
skipped. Nothing here can stop the program that embeds it: `serve` answers MQTT queries whether or not
HA is reachable, with the last state HA gave.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.version import version as websockets_version

from edge_nlu.domain.live_home import LiveHome
from edge_nlu.errors import ConfigError, EdgeNLUError, ErrorCode
from edge_nlu.service.adapters.ha_websocket import (
    ENTRIES_PER_COMMAND,
    EVENT_TYPES,
    GET_ENTRIES,
    GET_STATES,
    REGISTRIES,
    REGISTRY_OF_EVENT,
    STATE_CHANGED,
    SUBSCRIBE_EVENTS,
    AuthInvalid,
    AuthOk,
    AuthRequired,
    Change,
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
    ServerMessage,
    auth_message,
    command,
    decode,
    encode,
    read_entry_aliases,
    read_list,
)
from edge_nlu.service.ha_settings import HomeAssistantSettings

log = logging.getLogger("edge_nlu.service.ha_client")
_FRAMES = logging.getLogger("edge_nlu.service.ha_client.websocket")
_FRAMES.setLevel(logging.INFO)  # websockets logs every frame at DEBUG, the auth frame with the token among them

COUNTERS = ("attempts", "connects", "syncs", "events", "applied", "skipped", "auth_failures", "disconnects",
            "registry_fetches")
BATCH = 256
"""Events applied to the home in one go (one snapshot rebuild per batch)."""
_DIRECT: dict[str, Any] = {"proxy": None} if int(websockets_version.split(".")[0]) >= 15 else {}
"""HA is on the LAN: no proxy from the environment (websockets 15 reads it; 13 and 14 never do)."""
MAX_QUEUED_EVENTS = 100_000
"""Events waiting to be applied; past this the connection is dropped and the home synced in full again."""


class HaAuthError(EdgeNLUError):
    """Home Assistant refused the token."""

    code = ErrorCode.HA_AUTH_INVALID


class HaProtocolError(EdgeNLUError):
    """Home Assistant answered outside its protocol, or a command failed."""

    code = ErrorCode.HA_PROTOCOL


class _Lost(Exception):
    """The connection went away while a command waited for its answer."""


class _Connection:
    """One authenticated connection: numbered commands with their answers, and a queue of events."""

    def __init__(self, ws: ClientConnection, source: HaStateSource) -> None:
        self.ws = ws
        self.source = source
        self.next_id = 1
        self.pending: dict[int, asyncio.Future[Result]] = {}
        self.events: asyncio.Queue[Event | None] = asyncio.Queue()
        self.overflow = False
        self.aliasless = False
        """This HA answered `get_entries` with unknown_command: no entity aliases over this connection."""

    async def send(self, kind: str, **fields: Any) -> asyncio.Future[Result]:
        """Send a command; the future gets its result (the reader resolves it)."""
        mid, self.next_id = self.next_id, self.next_id + 1
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self.pending[mid] = future
        await self.ws.send(encode(command(mid, kind, **fields)))
        return future

    async def result(self, future: asyncio.Future[Result], what: str) -> Result:
        try:
            return await asyncio.wait_for(future, self.source.settings.command_timeout_s)
        except asyncio.TimeoutError:
            raise HaProtocolError(f"no answer to {what} within {self.source.settings.command_timeout_s:g} s") from None

    async def read(self) -> None:
        """Sort every frame until the connection closes: results to their commands, events to the queue."""
        try:
            async for frame in self.ws:
                try:
                    self._frame(frame)
                except Exception:  # a bug reading one message must not cost the connection
                    self.source._count("skipped")
                    log.exception("error reading a message from Home Assistant; skipped")
                if self.overflow:
                    await self.ws.close(1011, "client overloaded")
                    break
        except ConnectionClosed:
            pass
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(_Lost())
            self.pending.clear()
            self.events.put_nowait(None)

    def _frame(self, frame: str | bytes) -> None:
        s, src = self.source.settings, self.source
        try:
            messages = decode(frame, s.max_message_bytes)
        except HaMessageError as exc:
            src._skip("malformed", "skipped a message from Home Assistant that cannot be read: %s", exc.message)
            return
        for m in messages:
            if isinstance(m, Result):
                future = self.pending.pop(m.id, None)
                if future is not None and not future.done():
                    future.set_result(m)
                else:
                    src._skip("stray-result", "skipped a result for id %d, which no command here is waiting for", m.id)
            elif isinstance(m, Event):
                if len(frame) > s.max_event_bytes:
                    src._skip("oversized", "skipped a %d-byte %s event (over home_assistant.max_event_bytes %d); "
                              "the entity keeps its last state", len(frame), m.event_type, s.max_event_bytes)
                elif self.events.qsize() >= MAX_QUEUED_EVENTS:
                    self.overflow = True
                    log.warning("Home Assistant sends events faster than they can be applied (%d waiting); "
                                "reconnecting for a full sync", MAX_QUEUED_EVENTS)
                    return
                else:
                    self.events.put_nowait(m)
            elif not isinstance(m, Pong):
                src._skip(f"unexpected-{type(m).__name__}", "skipped an unexpected %s message in the command phase",
                          type(m).__name__)


class HaStateSource:
    """Feeds a LiveHome from Home Assistant's WebSocket API, in a thread of its own.

    `start()` returns at once; `wait_synced(timeout)` waits for the first full sync (the Wyoming
    service and benchmarks wait; `serve` does not). `device_area(device_id)` answers from HA's device
    registry: a Wyoming satellite's area. Safe to call from any thread.
    """

    def __init__(self, settings: HomeAssistantSettings, home: LiveHome, env: Mapping[str, str] | None = None,
                 name: str = "edge-nlu-ha") -> None:
        self.settings = settings
        self.home = home
        self.name = name
        self.ha_version: str | None = None
        """The version HA reported at the last login."""
        self._env = env
        self._mirror = HaMirror(settings.area_from_device)
        self._mirror_lock = threading.Lock()
        self._cond = threading.Condition()
        self._in_sync = False
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._logged: set[str] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._floorless = False

    # --- the embedding program's side (any thread) ------------------------------------------------

    def start(self) -> None:
        """Connect in the background; returns at once."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Close the connection and end the thread (the home keeps its last state)."""
        self._stopping.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop has already ended
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_synced(self, timeout: float | None = None) -> bool:
        """True once the home holds HA's full picture and the connection is up; False after `timeout`."""
        return self.wait_until(lambda: self._in_sync, timeout)

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until `predicate()` holds; it is checked after every change this source makes."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    @property
    def synced(self) -> bool:
        """Connected, and the home holds HA's full picture."""
        return self._in_sync

    def device_area(self, device_id: str) -> str | None:
        """The area id of an HA device (a satellite's `device_id`), from the device registry; None when
        the device is unknown or in no area."""
        with self._mirror_lock:
            return self._mirror.device_area(device_id)

    def counters(self) -> dict[str, int]:
        """Connection attempts, connects, syncs, events, updates applied, messages skipped, ..."""
        with self._cond:
            return dict(self._counts)

    # --- the loop thread -------------------------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._cond:
            self._counts[name] += n
            self._cond.notify_all()

    def _set_in_sync(self, value: bool) -> None:
        with self._cond:
            self._in_sync = value
            self._cond.notify_all()

    def _skip(self, kind: str, msg: str, *args: Any) -> None:
        self._count("skipped")
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning(msg + " (further ones are only counted)", *args)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:  # a bug here must not take the embedding program down
            log.exception("the Home Assistant state source stopped on an error; the home keeps its last state")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        s = self.settings
        delay, failures = s.reconnect_min_s, 0
        while not self._stopping.is_set():
            session = asyncio.create_task(self._session())
            stopper = asyncio.create_task(wake.wait())
            await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not session.done():
                session.cancel()
                await asyncio.gather(session, return_exceptions=True)
                break
            stopper.cancel()
            outcome = self._outcome(session, failures)
            if outcome == "synced":
                delay, failures = s.reconnect_min_s, 0
            elif outcome == "failed":
                failures += 1
            jitter = random.uniform(0.5, 1.0)  # noqa: S311 - timing jitter, not crypto
            if outcome == "auth":
                wait = s.auth_retry_s * jitter
            else:
                wait, delay = delay * jitter, min(delay * 2, s.reconnect_max_s)
            if self._stopping.is_set():
                break
            try:
                await asyncio.wait_for(wake.wait(), wait)
            except asyncio.TimeoutError:
                continue

    def _outcome(self, session: asyncio.Task[bool], failures: int) -> str:
        """Log how a connection ended: `synced` (it had synced), `auth` (token refused or missing), `failed`."""
        url = self.settings.url
        exc = session.exception()
        if exc is None:
            if session.result():
                log.warning("lost the connection to Home Assistant at %s; reconnecting (the home keeps its last "
                            "state meanwhile)", url)
                return "synced"
            return "failed"
        if isinstance(exc, HaAuthError | ConfigError):
            self._count("auth_failures")
            log.error("%s; retrying in about %.0f s", exc.message, self.settings.auth_retry_s)
            return "auth"
        if isinstance(exc, InvalidStatus):
            detail = f"it answered HTTP {exc.response.status_code} (is the path /api/websocket?)"
        elif isinstance(exc, HaProtocolError):
            detail = exc.message
        elif isinstance(exc, OSError | WebSocketException | asyncio.TimeoutError | _Lost):
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            log.error("unexpected error talking to Home Assistant at %s; reconnecting", url, exc_info=exc)
            return "failed"
        level = logging.WARNING if failures == 0 else logging.DEBUG  # one line per outage, not one per try
        log.log(level, "cannot reach Home Assistant at %s: %s; retrying with backoff (up to %.0f s)%s", url, detail,
                self.settings.reconnect_max_s, "" if failures == 0 else f" [try {failures + 1}]")
        return "failed"

    async def _session(self) -> bool:
        """One connection, to its end; True when it had synced (the backoff starts over)."""
        s = self.settings
        self._count("attempts")
        token = s.read_token(self._env)
        synced = False
        async with connect(s.url, open_timeout=s.command_timeout_s, ping_interval=s.ping_interval_s,
                           ping_timeout=s.ping_interval_s, close_timeout=1.0, max_size=s.max_message_bytes,
                           user_agent_header="edge-nlu", logger=_FRAMES, **_DIRECT) as ws:
            first = await self._handshake_message(ws)
            if not isinstance(first, AuthRequired):
                raise HaProtocolError(f"{s.url} did not ask for a token (got {type(first).__name__}); is it "
                                      "Home Assistant's /api/websocket?")
            await ws.send(encode(auth_message(token)))
            reply = await self._handshake_message(ws)
            if isinstance(reply, AuthInvalid):
                reason = reply.message.replace(token, "***") if token else reply.message
                raise HaAuthError(f"Home Assistant at {s.url} refused the access token from {s.token_source} "
                                  f"(auth_invalid: {reason or 'no reason given'}); create a long-lived access token "
                                  "in HA (your profile, Security) and put it there")
            if not isinstance(reply, AuthOk):
                raise HaProtocolError(f"expected auth_ok or auth_invalid, got {type(reply).__name__}")
            del token
            self.ha_version = reply.ha_version or first.ha_version
            self._count("connects")
            conn = _Connection(ws, self)
            reader = asyncio.create_task(conn.read())
            try:
                await self._sync(conn)
                synced = True
                await self._follow(conn)
                self._count("disconnects")
            except (_Lost, ConnectionClosed):
                self._count("disconnects")
            finally:
                self._set_in_sync(False)
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        return synced

    async def _handshake_message(self, ws: ClientConnection) -> ServerMessage:
        try:
            frame = await asyncio.wait_for(ws.recv(), self.settings.command_timeout_s)
        except asyncio.TimeoutError:
            raise HaProtocolError(f"no login message within {self.settings.command_timeout_s:g} s") from None
        try:
            return decode(frame, self.settings.max_message_bytes)[0]
        except (HaMessageError, IndexError) as exc:
            raise HaProtocolError(f"unreadable login message: {getattr(exc, 'message', exc)}") from None

    async def _sync(self, conn: _Connection) -> None:
        """Subscribe first, then fetch: events that come meanwhile queue up and are replayed after."""
        started = time.perf_counter()
        subscriptions = [await conn.send(SUBSCRIBE_EVENTS, event_type=t) for t in EVENT_TYPES]
        states_at = await conn.send(GET_STATES)
        registries_at = {kind: await conn.send(cmd) for kind, (cmd, _) in REGISTRIES.items()}
        for event_type, future in zip(EVENT_TYPES, subscriptions, strict=True):
            self._check(await conn.result(future, f"subscribe_events {event_type}"), f"subscribe_events {event_type}")
        states = self._records(HaState, self._check(await conn.result(states_at, GET_STATES), GET_STATES), "state")
        registries: dict[str, list[Any]] = {}
        for kind, future in registries_at.items():
            registries[kind] = await self._registry(conn, kind, future)
        with_state = {s.entity_id for s in states}
        aliases = await self._aliases(conn, [e.entity_id for e in registries["entity"] if e.entity_id in with_state])
        with self._mirror_lock:
            change = self._mirror.resync(states, registries, aliases)
        self._apply(change)
        self._count("syncs")
        self._set_in_sync(True)
        log.info("synced with Home Assistant %s at %s in %.0f ms: %d entities, %d areas, %d floors, %d devices, %s",
                 self.ha_version or "(version unknown)", self.settings.url, (time.perf_counter() - started) * 1000,
                 len(states), len(registries["area"]), len(registries["floor"]), len(registries["device"]),
                 "no entity aliases" if aliases is None else
                 f"{sum(1 for a in aliases.values() if a)} entities with aliases")

    async def _aliases(self, conn: _Connection, entity_ids: list[str]) -> dict[str, tuple[str, ...]] | None:
        """The aliases of these entities from HA's entity registry (`get_entries`, pipelined in chunks); None
        when HA cannot give them (an older HA without the command: logged once), and the home keeps the
        aliases it has. A timeout or a lost connection is raised like any command's."""
        if conn.aliasless:
            return None
        futures = [await conn.send(GET_ENTRIES, entity_ids=entity_ids[i:i + ENTRIES_PER_COMMAND])
                   for i in range(0, len(entity_ids), ENTRIES_PER_COMMAND)]
        out: dict[str, tuple[str, ...]] = {}
        for future in futures:
            result = await conn.result(future, GET_ENTRIES)
            if not result.success:
                if result.error_code == "unknown_command":
                    conn.aliasless = True
                    if "no-get-entries" not in self._logged:
                        self._logged.add("no-get-entries")
                        log.info("Home Assistant %s does not answer %s; entities have no aliases from HA (their "
                                 "names, and the areas' aliases, still work)", self.ha_version or "", GET_ENTRIES)
                    return None
                self._skip("aliases-refused", "Home Assistant refused %s (%s: %s); entities keep the aliases they "
                           "had", GET_ENTRIES, result.error_code, result.error_message)
                return None
            try:
                out.update(read_entry_aliases(result.result))
            except HaMessageError as exc:
                self._skip("aliases-unreadable", "skipped HA's entity aliases: %s", exc.message)
                return None
        return out

    async def _registry(self, conn: _Connection, kind: str, future: asyncio.Future[Result]) -> list[Any]:
        cmd = REGISTRIES[kind][0]
        result = await conn.result(future, cmd)
        if not result.success and kind == "floor" and result.error_code == "unknown_command":
            if not self._floorless:
                self._floorless = True
                log.info("Home Assistant %s has no floor registry (floors came with 2024.4); areas have no floors",
                         self.ha_version or "")
            return []
        records: dict[str, type[Any]] = {"floor": HaFloor, "area": HaArea, "device": HaDevice, "entity": HaEntityEntry}
        return self._records(records[kind], self._check(result, cmd), kind)

    def _records(self, cls: type[Any], result: Any, what: str) -> list[Any]:
        try:
            items, skipped = read_list(cls, result)
        except HaMessageError as exc:
            raise HaProtocolError(f"Home Assistant's {what} list cannot be read: {exc.message}") from None
        if skipped:
            self._skip(f"records-{what}", "skipped %d %s record(s) that cannot be read", skipped, what)
        return items

    @staticmethod
    def _check(result: Result, what: str) -> Any:
        if not result.success:
            raise HaProtocolError(f"Home Assistant refused {what}: {result.error_code}: {result.error_message}")
        return result.result

    async def _follow(self, conn: _Connection) -> None:
        """Apply events in order, in batches; fetch a changed registry again once its burst is over."""
        dirty: set[str] = set()
        alias_ids: set[str] = set()  # entities an entity_registry_updated named: their aliases are fetched again
        while True:
            if dirty and conn.events.empty():
                for kind in [k for k in REGISTRIES if k in dirty]:
                    await self._refetch(conn, kind)
                if alias_ids:
                    await self._refetch_aliases(conn, sorted(alias_ids))
                dirty.clear()
                alias_ids.clear()
                continue
            batch = [await conn.events.get()]
            while batch[-1] is not None and len(batch) < BATCH and not conn.events.empty():
                batch.append(conn.events.get_nowait())
            updates = []
            with self._mirror_lock:
                for event in batch:
                    if event is None:
                        continue
                    self._count("events")
                    if event.event_type in REGISTRY_OF_EVENT:
                        dirty.add(REGISTRY_OF_EVENT[event.event_type])
                        eid = event.data.get("entity_id")
                        if REGISTRY_OF_EVENT[event.event_type] == "entity" and isinstance(eid, str) \
                                and len(alias_ids) < MAX_QUEUED_EVENTS:
                            alias_ids.add(eid)
                    elif event.event_type == STATE_CHANGED:
                        try:
                            updates += self._mirror.state_changed(event.data).updates
                        except HaMessageError as exc:
                            self._skip("bad-state", "skipped a state_changed event that cannot be read: %s",
                                       exc.message)
            self._apply(Change(updates))
            if batch[-1] is None:
                return

    async def _refetch(self, conn: _Connection, kind: str) -> None:
        cmd = REGISTRIES[kind][0]
        try:
            records = await self._registry(conn, kind, await conn.send(cmd))
        except HaProtocolError as exc:
            log.warning("%s; keeping the %s registry as it was", exc.message, kind)
            return
        with self._mirror_lock:
            change = self._mirror.registry(kind, records)
        self._apply(change)
        self._count("registry_fetches")
        log.debug("fetched HA's %s registry again: %d entities changed", kind, len(change.updates))

    async def _refetch_aliases(self, conn: _Connection, entity_ids: list[str]) -> None:
        try:
            aliases = await self._aliases(conn, entity_ids)
        except HaProtocolError as exc:
            log.warning("%s; keeping the entities' aliases as they were", exc.message)
            return
        if aliases is None:
            return
        with self._mirror_lock:
            change = self._mirror.set_aliases({eid: aliases.get(eid, ()) for eid in entity_ids})
        self._apply(change)
        log.debug("fetched the aliases of %d entities again: %d changed", len(entity_ids), len(change.updates))

    def _apply(self, change: Change) -> None:
        layout = change.layout
        if layout is not None:
            self.home.set_layout(layout.floors, layout.areas, layout.drop_floors, layout.drop_areas)
        n = self.home.apply(change.updates) if change.updates else 0
        self._count("applied", n)
