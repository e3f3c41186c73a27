"""A minimal in-process MQTT 3.1.1 broker, so that `edge-nlu demo` runs where Mosquitto is not installed.

Why not a package: the maintained pure-Python broker on PyPI (amqtt 0.12) pulls in eight runtime
dependencies (argon2 bindings, a pinned websockets, typer, ...) for what is only a demo fallback.
This one covers what the demo, the tests and the satellites use: CONNECT/CONNACK, SUBSCRIBE and
UNSUBSCRIBE with `+`/`#`, PUBLISH at QoS 0/1 (QoS 2 is accepted and delivered at QoS 1), retained
messages, last wills, keep-alive, PINGREQ and DISCONNECT. No persistence, no authentication: it
listens on loopback only. Not for production.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field

MAX_PACKET = 16 << 20
"""Largest packet accepted; a client sending more is disconnected."""
MAX_WRITE_BUFFER = 32 << 20
"""Bytes queued for a client that does not read; past this the client is disconnected."""
CONNECT_TIMEOUT_S = 10.0
"""A connection must send CONNECT within this."""

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14


class ProtocolError(Exception):
    """The client broke the protocol; its connection is closed (and its will published)."""


@dataclass(frozen=True)
class Message:
    """One application message."""

    topic: str
    """Topic name (no wildcards)."""
    payload: bytes
    """Payload bytes."""
    qos: int = 0
    """Quality of service the publisher asked for (0 or 1; 2 is treated as 1)."""
    retain: bool = False
    """Retain flag as published."""


@dataclass(eq=False)
class _Client:
    """One connected client."""

    client_id: str
    """Client identifier from CONNECT."""
    writer: asyncio.StreamWriter
    """Its socket."""
    subscriptions: dict[str, int] = field(default_factory=dict)
    """Topic filter -> granted QoS."""
    will: Message | None = None
    """Last will, published when the connection ends without DISCONNECT."""
    next_id: int = 0
    """Last packet id used for QoS 1 deliveries."""


def topic_matches(filt: str, topic: str) -> bool:
    """MQTT 3.1.1 matching; wildcards at the first level do not match `$` topics (section 4.7.2)."""
    f, t = filt.split("/"), topic.split("/")
    if topic.startswith("$") and f[0] in ("+", "#"):
        return False
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


def _valid_filter(filt: str) -> bool:
    if not filt or "\x00" in filt:
        return False
    parts = filt.split("/")
    for i, part in enumerate(parts):
        if ("#" in part and (part != "#" or i != len(parts) - 1)) or ("+" in part and part != "+"):
            return False
    return True


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([(ptype << 4) | flags]) + _length(len(body)) + body


def _utf8(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


class _Reader:
    """Cursor over a packet body; any overrun is a ProtocolError."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError("packet too short")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u16(self) -> int:
        return int(struct.unpack("!H", self.take(2))[0])

    def blob(self) -> bytes:
        return self.take(self.u16())

    def text(self) -> str:
        try:
            return self.blob().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("string is not UTF-8") from exc

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    head = (await reader.readexactly(1))[0]
    length, mult = 0, 1
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) * mult
        mult *= 128
        if not byte & 0x80:
            break
    else:
        raise ProtocolError("malformed remaining length")
    if length > MAX_PACKET:
        raise ProtocolError(f"packet of {length} bytes is over the limit")
    return head >> 4, head & 0x0F, await reader.readexactly(length)


class MiniBroker:
    """The broker on its own event-loop thread: `start()` returns the port, `stop()` closes everything."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._clients: dict[str, _Client] = {}
        self._retained: dict[str, Message] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MiniBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 5.0) -> int:
        """Listen (port 0 picks a free one) and return the port."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="edge-nlu-minibroker", daemon=True)
        self._thread.start()
        try:
            server = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(self._serve, self.host, self.port), loop).result(timeout)
        except BaseException:
            self.stop()
            raise
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection, stop the loop thread. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = self._server = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for c in list(self._clients.values()):
            c.will = None
            c.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()

    # -- one connection -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client: _Client | None = None
        clean = False
        try:
            ptype, _, body = await asyncio.wait_for(_read_packet(reader), CONNECT_TIMEOUT_S)
            if ptype != CONNECT:
                raise ProtocolError("first packet is not CONNECT")
            client, keepalive = self._connect(body, writer)
            if client is None:
                return
            timeout = keepalive * 1.5 if keepalive else None
            while True:
                ptype, flags, body = await asyncio.wait_for(_read_packet(reader), timeout)
                if ptype == DISCONNECT:
                    clean = True
                    return
                self._dispatch(client, ptype, flags, body)
        except (ProtocolError, asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            clean = True
        finally:
            if client is not None and self._clients.get(client.client_id) is client:
                del self._clients[client.client_id]
                if not clean and client.will is not None:
                    self._publish(client.will)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    def _connect(self, body: bytes, writer: asyncio.StreamWriter) -> tuple[_Client | None, int]:
        r = _Reader(body)
        name, level = r.text(), r.take(1)[0]
        if (name, level) not in (("MQTT", 4), ("MQIsdp", 3)):
            writer.write(_packet(CONNACK, 0, b"\x00\x01"))  # unacceptable protocol version
            return None, 0
        flags, keepalive = r.take(1)[0], r.u16()
        if flags & 0x01:
            raise ProtocolError("reserved CONNECT flag set")
        client_id = r.text()
        will = None
        if flags & 0x04:
            topic, payload = r.text(), r.blob()
            if not topic or any(c in topic for c in "+#\x00"):
                raise ProtocolError("bad will topic")
            will = Message(topic, payload, min((flags >> 3) & 0x03, 1), bool(flags & 0x20))
        if flags & 0x80:
            r.text()  # user name: accepted, not checked (loopback demo broker)
        if flags & 0x40:
            r.blob()
        if not client_id:
            if not flags & 0x02:
                writer.write(_packet(CONNACK, 0, b"\x00\x02"))  # identifier rejected
                return None, 0
            client_id = f"auto-{id(writer):x}"
        old = self._clients.pop(client_id, None)
        if old is not None:  # session takeover: the old connection goes, its will is published
            if old.will is not None:
                self._publish(old.will)
                old.will = None
            old.writer.close()
        client = _Client(client_id, writer, will=will)
        self._clients[client_id] = client
        writer.write(_packet(CONNACK, 0, b"\x00\x00"))
        return client, keepalive

    def _dispatch(self, client: _Client, ptype: int, flags: int, body: bytes) -> None:
        r = _Reader(body)
        if ptype == PUBLISH:
            qos, retain = (flags >> 1) & 0x03, bool(flags & 0x01)
            topic = r.text()
            if qos == 3 or not topic or any(c in topic for c in "+#\x00"):
                raise ProtocolError("bad PUBLISH")
            pid = r.u16() if qos else 0
            self._publish(Message(topic, r.rest(), min(qos, 1), retain))
            if qos == 1:
                self._send(client, _packet(PUBACK, 0, struct.pack("!H", pid)))
            elif qos == 2:
                self._send(client, _packet(PUBREC, 0, struct.pack("!H", pid)))
        elif ptype == PUBREL:
            self._send(client, _packet(PUBCOMP, 0, r.take(2)))
        elif ptype == SUBSCRIBE:
            pid, granted, fresh = r.u16(), bytearray(), []
            while r.left:
                filt, qos = r.text(), r.take(1)[0] & 0x03
                if not _valid_filter(filt) or qos == 3:
                    granted.append(0x80)
                    continue
                client.subscriptions[filt] = min(qos, 1)
                granted.append(min(qos, 1))
                fresh.append(filt)
            if not granted:
                raise ProtocolError("SUBSCRIBE without topics")
            self._send(client, _packet(SUBACK, 0, struct.pack("!H", pid) + bytes(granted)))
            for msg in list(self._retained.values()):
                qos_list = [client.subscriptions[f] for f in fresh if topic_matches(f, msg.topic)]
                if qos_list:
                    self._deliver(client, msg, min(msg.qos, max(qos_list)), retain=True)
        elif ptype == UNSUBSCRIBE:
            pid = r.u16()
            while r.left:
                client.subscriptions.pop(r.text(), None)
            self._send(client, _packet(UNSUBACK, 0, struct.pack("!H", pid)))
        elif ptype == PINGREQ:
            self._send(client, _packet(PINGRESP, 0, b""))
        elif ptype in (PUBACK, PUBCOMP, PUBREC):
            if ptype == PUBREC:  # only if a client treats our QoS 1 as 2; answer politely
                self._send(client, _packet(PUBREL, 2, r.take(2)))
        else:
            raise ProtocolError(f"unexpected packet type {ptype}")

    # -- routing ---------------------------------------------------------------------------------

    def _publish(self, msg: Message) -> None:
        if msg.retain:
            if msg.payload:
                self._retained[msg.topic] = msg
            else:
                self._retained.pop(msg.topic, None)
        for c in list(self._clients.values()):
            qos_list = [q for f, q in c.subscriptions.items() if topic_matches(f, msg.topic)]
            if qos_list:
                self._deliver(c, msg, min(msg.qos, max(qos_list)), retain=False)

    def _deliver(self, client: _Client, msg: Message, qos: int, retain: bool) -> None:
        body = _utf8(msg.topic)
        if qos:
            client.next_id = client.next_id % 65535 + 1
            body += struct.pack("!H", client.next_id)
        self._send(client, _packet(PUBLISH, (qos << 1) | int(retain), body + msg.payload))

    def _send(self, client: _Client, data: bytes) -> None:
        w = client.writer
        if w.is_closing():
            return
        if w.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            w.close()  # a client that does not read; its reader task ends and publishes its will
            return
        w.write(data)
