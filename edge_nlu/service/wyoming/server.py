"""The Wyoming transport: a TCP server (wyoming's `AsyncTcpServer`) with one `AsyncEventHandler` per connection.

One `IntentService` is shared by every connection: the parser (one model), the home source, the conversations
and the `info` event, built once at start so that `describe` is answered without work. A request is parsed in a
thread pool, never on the event loop, so a slow parse does not hold up other connections' `describe`s.

Events are read with caps (wyoming's own reader has none on the data and payload lengths): a malformed or
oversized event gets an `error` event and its connection closed; a client that goes away mid-event, stalls
or idles is dropped; an event type an intent service does not answer is logged and ignored. None of these
stops the server or touches another connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler, AsyncServer, AsyncTcpServer, AsyncUnixServer

from edge_nlu.domain.home import Home
from edge_nlu.domain.result import Result
from edge_nlu.errors import ErrorCode
from edge_nlu.service.hermes import SessionHistory, next_turn
from edge_nlu.service.wyoming.events import (
    REQUEST_TYPES,
    TRANSCRIPT,
    Description,
    EventError,
    EventTooLarge,
    Reply,
    Request,
    assemble,
    decode_header,
    is_action,
    reply_for,
    speaks,
    split_compound,
)
from edge_nlu.service.wyoming.homes import HomeSource, open_home
from edge_nlu.service.wyoming.settings import WyomingSettings, check_uri

log = logging.getLogger("edge_nlu.wyoming")

CONVERSATIONS = "wyoming"
"""The `SessionHistory` site all conversations share: they are keyed by conversation id alone."""
MAX_LOGGED = 256
"""Distinct log-once keys kept; past this, further oddities are only counted."""
LINGER_S = 1.0
"""How long a connection closed for a bad event keeps reading (and dropping) what its client still sends."""
LINGER_BYTES = 1 << 20
"""The most it reads so."""
MAX_IGNORED_TYPES = 16
"""Distinct unknown event types a connection logs; the rest are only counted."""


class Parser(Protocol):
    """What the service needs of the runtime (`EdgeNLU`): a typed result for a text, a context and a home."""

    def parse_result(self, text: Any, context: Any = None, id: Any = None, *, home: Home | None = None) -> Result:
        """Parse one request; bad input comes back as a result with `error` set."""


class Dropped(Exception):
    """The connection ends without an answer: the client left mid-event, stalled or idled."""


class IntentService:
    """The state every connection shares; `answer` turns a request into a reply off the event loop."""

    def __init__(self, settings: WyomingSettings, parser: Parser, homes: HomeSource, description: Description) -> None:
        lim = settings.limits
        self.settings = settings
        self.parser = parser
        self.homes = homes
        self.info_event = description.to_event()
        self.history = SessionHistory(turns=lim.history_turns, max_sessions=lim.max_sessions, ttl_s=lim.session_ttl_s)
        self.counts: Counter[str] = Counter()
        """answered, not_recognized, described, invalid_events, oversized... (event-loop thread only)."""
        self.connections = 0
        self._pending = 0
        self._logged: set[str] = set()
        self._executor = ThreadPoolExecutor(max_workers=lim.workers, thread_name_prefix="edge-nlu-wyoming")

    def log_once(self, key: str, msg: str, *args: Any) -> None:
        """A warning the first time `key` comes up; later ones are only counted (a flood does not fill the log)."""
        if key in self._logged or len(self._logged) >= MAX_LOGGED:
            return
        self._logged.add(key)
        log.warning(msg + " (further ones are only counted)", *args)

    async def answer(self, request: Request) -> Reply | None:
        """The reply, parsed in the thread pool; None when `limits.max_pending` requests are already waiting."""
        if self._pending >= self.settings.limits.max_pending:
            return None
        self._pending += 1
        try:
            arrival = datetime.now().isoformat(timespec="seconds")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self.answer_now, request, arrival, time.monotonic())
        finally:
            self._pending -= 1

    def answer_now(self, request: Request, arrival: str, now: float) -> Reply:
        """The reply to one request, in the calling thread: context, parse (or parse the parts), remember the turns."""
        s = self.settings
        if not speaks(request.language, s.languages):
            self.log_once(f"<language:{request.language}>", "a request in %r, which the model does not read "
                          "(languages: %s): answered not-recognized", request.language, ", ".join(s.languages))
            return Reply(text=f"Sorry, I only understand {', '.join(s.languages)}.")
        home = self.homes.snapshot()
        history = self.history.get(CONVERSATIONS, request.conversation_id, now)
        context = self.context_for(request, home, history, arrival)
        results = self.parse(request.text, context, home)
        for result in results:  # only what was answered as an intent: "it" is never a device we did not act on
            if result.recognized(s.min_confidence):
                self.history.record(CONVERSATIONS, request.conversation_id, next_turn(result), now)
        for result in results:
            if result.error is not None:
                log.info("request %r: %s [%s]", request.text[:80], result.error.message, result.error.code)
        return reply_for(results, home, s.min_confidence)

    def parse(self, text: str, context: dict[str, Any], home: Home) -> list[Result]:
        """One result, or one per part of a compound request when every part is an action (`is_action`)."""
        if self.settings.split_compound:
            parts = split_compound(text)
            if len(parts) > 1:
                results = [self.parser.parse_result(p, context, home=home) for p in parts]
                if all(is_action(r, self.settings.min_confidence) for r in results):
                    return results
        return [self.parser.parse_result(text, context, home=home)]

    def context_for(self, request: Request, home: Home, history: list[dict[str, Any]], arrival: str) -> dict[str, Any]:
        """The request context (contract section 2): the satellite, its area, the time, the conversation so far.

        The area is the configured one for the satellite (or device) id, else the device's area in Home
        Assistant's registry when the home comes from there, else `default_area` (a request from an HA whose
        wyoming sends no ids at all gets this one); an area the home does not have is left out."""
        sats = self.settings.satellites
        site = next((sats[k] for k in (request.satellite_id, request.device_id) if k is not None and k in sats), None)
        ctx: dict[str, Any] = {"satellite": {"id": request.heard_by, "has_screen": site.has_screen if site else None},
                               "time": arrival}
        area = site.area if site is not None else None
        if area is None and request.device_id is not None:
            area = self.homes.device_area(request.device_id)
        if area is None:
            area = self.settings.default_area
        if area is not None:
            if home.areas and home.area(area) is None:
                self.log_once(f"<area:{request.heard_by}:{area}>", "satellite %s: area %r is not in the home; "
                              "answering without it", request.heard_by or "(none named)", area)
            else:
                ctx["area"] = area
        if site is not None and site.user is not None:
            ctx["user"] = site.user
        if history:
            ctx["history"] = history
        return ctx

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Connection(AsyncEventHandler):
    """One client: reads capped events, answers describe, transcript, recognize and ping, ignores the rest."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, service: IntentService) -> None:
        super().__init__(reader, writer)
        self.service = service
        self.peer = _peer(writer)
        self._ignored: set[str] = set()
        service.connections += 1

    async def run(self) -> None:
        """Answer events until the client leaves or sends something unreadable; never raises but for cancellation."""
        self._is_running = True
        counts = self.service.counts
        try:
            while self._is_running:
                event = await self.read_capped()
                if event is None or not await self.handle_event(event):
                    break
        except EventError as exc:
            counts["invalid_events"] += 1
            self.service.log_once(f"<bad:{self.peer}>", "%s: %s; closing the connection", self.peer, exc.message)
            with contextlib.suppress(ConnectionError, OSError):
                await self.write_event(Error(text=exc.message, code=exc.code.value).event())
                await self._linger()
        except Dropped as exc:
            counts["dropped"] += 1
            log.info("%s: %s; connection closed", self.peer, exc)
        except (ConnectionError, OSError) as exc:
            counts["lost"] += 1
            log.info("%s: connection lost (%s)", self.peer, type(exc).__name__)
        except Exception:  # a bug must cost this connection, never the server
            counts["errors"] += 1
            log.exception("%s: internal error; closing the connection", self.peer)
        finally:
            self.service.connections -= 1
            await self.disconnect()
            self.writer.close()

    async def _linger(self) -> None:
        """Our half closed, what the client still sends read and dropped for a moment: closing a socket with
        unread input resets it, and the client would lose the `error` event that says what was wrong."""
        if self.writer.can_write_eof():
            self.writer.write_eof()
        deadline = asyncio.get_running_loop().time() + LINGER_S
        left = LINGER_BYTES
        with contextlib.suppress(asyncio.TimeoutError):
            while left > 0:
                chunk = await asyncio.wait_for(self.reader.read(min(left, 65536)),
                                               max(0.0, deadline - asyncio.get_running_loop().time()))
                if not chunk:
                    break
                left -= len(chunk)

    async def read_capped(self) -> Event | None:
        """The next event within the caps; None at a clean end of stream (between events)."""
        lim = self.service.settings.limits
        while True:
            try:
                line = await asyncio.wait_for(self.reader.readuntil(b"\n"), lim.idle_timeout_s)
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    raise Dropped(f"client left in the middle of an event header ({len(exc.partial)} bytes)") from None
                return None
            except asyncio.LimitOverrunError:
                self.service.counts["oversized"] += 1
                raise EventError(f"event header line is longer than {lim.max_event_bytes} bytes") from None
            except asyncio.TimeoutError:
                raise Dropped(f"nothing received for {lim.idle_timeout_s:g} s") from None
            if line.strip():
                break
        try:
            header = decode_header(line.rstrip(b"\r\n"), lim.max_event_bytes)
        except EventTooLarge:
            self.service.counts["oversized"] += 1
            raise
        data = await self._exactly(header.data_length, header.type, "data") if header.data_length else b""
        payload = await self._exactly(header.payload_length, header.type, "payload") if header.payload_length else None
        return assemble(header, data, payload)

    async def _exactly(self, n: int, kind: str, what: str) -> bytes:
        timeout = self.service.settings.limits.read_timeout_s
        try:
            return await asyncio.wait_for(self.reader.readexactly(n), timeout)
        except asyncio.IncompleteReadError as exc:
            raise Dropped(f"client left in the middle of a {kind} event ({len(exc.partial)} of {n} {what} "
                          "bytes)") from None
        except asyncio.TimeoutError:
            raise Dropped(f"a {kind} event's {what} did not arrive within {timeout:g} s") from None

    async def handle_event(self, event: Event) -> bool:
        service, kind = self.service, event.type
        if Describe.is_type(kind):
            service.counts["described"] += 1
            await self.write_event(service.info_event)
            return True
        if kind in REQUEST_TYPES:
            await self._request(event)
            return True
        if Ping.is_type(kind):
            text = event.data.get("text")
            await self.write_event(Pong(text=text if isinstance(text, str) else None).event())
            return True
        service.counts["ignored"] += 1
        if kind not in self._ignored and len(self._ignored) < MAX_IGNORED_TYPES:
            self._ignored.add(kind)
            log.info("%s: ignoring a %r event (an intent service answers describe, transcript and recognize)",
                     self.peer, kind)
        return True

    async def _request(self, event: Event) -> None:
        service = self.service
        try:
            request = Request.from_event(event)
        except EventError as exc:
            service.counts["invalid_requests"] += 1
            service.log_once(f"<request:{self.peer}>", "%s: %s", self.peer, exc.message)
            await self.write_event(Error(text=exc.message, code=exc.code.value).event())
            return
        reply = await service.answer(request)
        if reply is None:
            service.counts["overloaded"] += 1
            service.log_once("<overloaded>", "more than %d requests waiting; answering the next ones "
                             "`error: overloaded`", service.settings.limits.max_pending)
            await self.write_event(Error(text="edge-nlu is busy; try again", code=ErrorCode.OVERLOADED.value).event())
            return
        service.counts["answered" if reply.recognized else "not_recognized"] += 1
        for out in reply.to_events(several=request.kind == TRANSCRIPT):
            await self.write_event(out)


class Refused(AsyncEventHandler):
    """A connection past `limits.max_connections`: told why, then closed."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, service: IntentService) -> None:
        super().__init__(reader, writer)
        self.service = service

    async def run(self) -> None:
        self.service.counts["refused"] += 1
        self.service.log_once("<refused>", "%s: refused: %d connections are open (limits.max_connections)",
                              _peer(self.writer), self.service.connections)
        with contextlib.suppress(ConnectionError, OSError):
            await self.write_event(Error(text="too many connections", code=ErrorCode.OVERLOADED.value).event())
        self.writer.close()

    async def handle_event(self, event: Event) -> bool:
        return False


class _TcpServer(AsyncTcpServer):
    """wyoming's TCP server, with the stream limit (the longest header line) set and the bound port known."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        super().__init__(host, port)
        self.limit = limit
        self.listener: asyncio.Server | None = None

    async def start(self, handler_factory: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                    AsyncEventHandler]) -> None:
        callback = partial(self._handler_callback, handler_factory)
        self.listener = await asyncio.start_server(callback, host=self.host, port=self.port, limit=self.limit)

    async def stop(self) -> None:
        await AsyncServer.stop(self)
        if self.listener is not None:
            self.listener.close()
            await self.listener.wait_closed()

    @property
    def bound_port(self) -> int:
        assert self.listener is not None
        return int(self.listener.sockets[0].getsockname()[1])


class WyomingServer:
    """Listens on a URI and hands each connection to a `Connection` of one `IntentService`."""

    def __init__(self, service: IntentService, uri: str) -> None:
        self.service = service
        scheme, where, port = check_uri(uri)
        self.scheme = scheme
        self.host = where
        lim = service.settings.limits
        self.server: AsyncServer = (_TcpServer(where, port, lim.max_event_bytes + 1) if scheme == "tcp"
                                    else AsyncUnixServer(where))

    def _handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> AsyncEventHandler:
        if self.service.connections >= self.service.settings.limits.max_connections:
            return Refused(reader, writer, self.service)
        return Connection(reader, writer, self.service)

    async def start(self) -> None:
        await self.server.start(self._handler)

    async def stop(self) -> None:
        await self.server.stop()

    @property
    def port(self) -> int | None:
        """The TCP port listened on (the one picked when the URI said port 0)."""
        return self.server.bound_port if isinstance(self.server, _TcpServer) else None

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}" if self.scheme == "tcp" else f"unix://{self.host}"


def description(model_dir: Path, manifest: dict[str, Any], languages: Sequence[str]) -> Description:
    """`describe`'s answer for a model: its directory's name, and its ONNX file's hash as its version."""
    from edge_nlu import __version__

    files = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    onnx = files.get("model.onnx") if isinstance(files, dict) else None
    digest = onnx.get("sha256") if isinstance(onnx, dict) else None
    return Description(version=__version__, model_name=model_dir.name,
                       model_version=str(digest)[:12] if digest else None, languages=tuple(languages))


@asynccontextmanager
async def running(settings: WyomingSettings, parser: Parser, about: Description) -> AsyncIterator[WyomingServer]:
    """The home source started, the server listening; both stopped on exit."""
    async with open_home(settings) as homes:
        service = IntentService(settings, parser, homes, about)
        server = WyomingServer(service, settings.uri)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()
            service.close()
            log.info("stopped; %s", ", ".join(f"{k} {v}" for k, v in sorted(service.counts.items())) or "no traffic")


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "client")
