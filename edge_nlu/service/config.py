"""Settings of `edge-nlu serve`: built once at the entry point from `--broker URI` and `--config FILE`.

Everything the live service needs is in one frozen tree, so that tests can build a service
from a dict and nothing reads the environment or globals later. A bad value fails here, at
start-up, with a ConfigError that names the key: every section (and each adapter's options) is a
frozen dataclass read by `edge_nlu.config_fields.read_section`, so keys, types and ranges live in
the classes, and `devices/serve.example.yaml` is tested against them.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

import yaml

from edge_nlu.config_fields import (
    Check,
    Derived,
    External,
    Key,
    NonEmpty,
    Parse,
    Range,
    Shorthand,
    check_keys,
    key_tree,
    read_secret_file,
    read_section,
    to_mapping,
)
from edge_nlu.domain.result import DEFAULT_MIN_CONFIDENCE
from edge_nlu.errors import ConfigError, ErrorCode
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.service.adapters.registry import adapter_configs
from edge_nlu.service.ha_settings import HomeAssistantSettings
from edge_nlu.settings import default_model_dir

SCHEMES = {"mqtt": (1883, False, "tcp"), "mqtts": (8883, True, "tcp"), "ws": (80, False, "websockets"),
           "wss": (443, True, "websockets")}
"""URI scheme -> (default port, TLS, paho transport): the transport is chosen by the URI."""
DEFAULT_ADAPTERS = ("zigbee2mqtt", "ha_discovery", "tasmota", "homie")
"""Adapters a config without `adapters:` runs, each at its standard prefix."""
PASSWORD_ENV = "EDGE_NLU_MQTT_PASSWORD"  # noqa: S105 - a variable name, not a password
"""Environment variable read for the broker password when the config gives none (keeps it out of `ps`)."""
_TOPIC_PREFIX = re.compile(r"^[^#+\x00]+$")


@dataclass(frozen=True)
class TLSSettings:
    """TLS towards the broker (`broker.tls`); on for `mqtts://` and `wss://`."""

    enabled: Annotated[bool, Derived()] = False
    """Set by the URI scheme, not by a key."""
    ca_file: Annotated[Path | None, Check(_existing_file)] = None
    """CA bundle that signed the broker's certificate; None uses the system store."""
    cert_file: Annotated[Path | None, Check(_existing_file)] = None
    """Client certificate, for brokers that authenticate clients by certificate."""
    key_file: Annotated[Path | None, Check(_existing_file)] = None
    """Private key of the client certificate."""
    insecure: bool = False
    """Skip the host-name check (the chain is still verified). Off by default; only for test brokers
    with odd certificates."""


@dataclass(frozen=True)
class ReconnectSettings:
    """`broker.reconnect`: exponential backoff, times a 0.5-1 jitter; it resets after a good connect."""

    min_s: Annotated[float, Range(0.01)] = 0.5
    """First reconnect delay; doubles on every failed try up to the cap."""
    max_s: Annotated[float, Range(0.01)] = 30.0
    """Longest delay, once the broker has been away longer than `recent_s`."""
    recent_max_s: Annotated[float, Range(0.01)] = 2.0
    """Longest delay while the broker was connected within `recent_s`: a restart of a few seconds
    must not leave queries unanswered for a minute."""
    recent_s: Annotated[float, Range(0.0)] = 300.0
    """How long after losing the broker the short cap applies."""

    def __post_init__(self) -> None:
        if self.max_s < self.min_s:
            raise ValueError("max_s must be at least min_s")
        if self.recent_max_s < self.min_s:
            raise ValueError("recent_max_s must be at least min_s")


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker is and how to log in."""

    host: str = "127.0.0.1"
    """Broker host name or address."""
    port: int = 1883
    """Broker port; the scheme's default when the URI names none."""
    transport: str = "tcp"
    """paho transport: `tcp` for mqtt(s)://, `websockets` for ws(s)://."""
    ws_path: str = "/mqtt"
    """HTTP path of the WebSocket endpoint (ws/wss only)."""
    client_id: str = "edge-nlu"
    """MQTT client id; must be unique on the broker or the two clients keep kicking each other off."""
    username: str | None = None
    """User name, from the URI or the config."""
    password: str | None = field(default=None, repr=False)
    """Password, from `password_file`, the config, $EDGE_NLU_MQTT_PASSWORD or the URI; kept out of repr and logs."""
    password_from: str | None = field(default=None, compare=False)
    """Where the password came from (`password_file`, `password`, `env`, `uri`), for the start-up warnings."""
    protocol: str = "3.1.1"
    """MQTT protocol version: `3.1.1` or `5`."""
    keepalive_s: int = 30
    """Keep-alive interval; the broker publishes the last will after 1.5 times this without traffic."""
    tls: TLSSettings = field(default_factory=TLSSettings)
    """TLS settings."""
    reconnect_min_s: float = ReconnectSettings.min_s
    """First reconnect delay; doubles on every failed try (times a 0.5-1 jitter) up to the cap."""
    reconnect_max_s: float = ReconnectSettings.max_s
    """Longest reconnect delay, once the broker has been away longer than reconnect_recent_s."""
    reconnect_recent_max_s: float = ReconnectSettings.recent_max_s
    """Longest reconnect delay while the broker was connected within reconnect_recent_s: a restart
    of a few seconds must not leave queries unanswered for a minute."""
    reconnect_recent_s: float = ReconnectSettings.recent_s
    """How long after losing the broker the short cap applies."""
    session_expiry_s: int = 3600
    """MQTT 5 session expiry: how long the broker keeps our session (and the queries queued for it)
    while we are away. MQTT 3.1.1 sessions have no expiry (the broker's own setting applies)."""

    @property
    def loopback(self) -> bool:
        """The broker is on this machine (credentials never cross a network)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def security_warnings(self) -> list[str]:
        """What the operator should fix; logged at start."""
        out: list[str] = []
        if self.password is not None and not self.tls.enabled and not self.loopback:
            out.append(f"the broker password goes unencrypted over {self.uri}; use mqtts:// (or wss://)")
        if self.password_from == "uri":  # noqa: S105 - a source name
            out.append(f"the broker password is in the URI, where `ps` and shell history show it; use "
                       f"broker.password_file (mode 600) or ${PASSWORD_ENV}")
        return out

    @property
    def uri(self) -> str:
        """The broker URI without credentials (safe to log)."""
        scheme = {("tcp", False): "mqtt", ("tcp", True): "mqtts", ("websockets", False): "ws",
                  ("websockets", True): "wss"}[(self.transport, self.tls.enabled)]
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = self.ws_path if self.transport == "websockets" else ""
        return f"{scheme}://{host}:{self.port}{path}"


@dataclass(frozen=True)
class BrokerSection:
    """The `broker:` section as written; `_broker` turns it (with `--broker`) into BrokerSettings."""

    uri: Annotated[str, NonEmpty()] = "mqtt://127.0.0.1:1883"
    """mqtt:// (1883), mqtts:// (TLS, 8883), ws:// or wss:// (WebSockets, a path may follow the port);
    `--broker` wins over it. user:password@ may go in it, but `ps` then shows them (warned about)."""
    client_id: Annotated[str, Check(_client_id)] = BrokerSettings.client_id
    """MQTT client id; must be unique on the broker."""
    username: str | None = None
    """User name; wins over one in the URI."""
    password: str | None = field(default=None, repr=False)
    """Password inline; prefer `password_file` or $EDGE_NLU_MQTT_PASSWORD."""
    password_file: Path | None = None
    """File whose first line is the password; refused when group or others may read it (chmod 600)."""
    protocol: Annotated[str, Parse(_protocol)] = BrokerSettings.protocol
    """MQTT protocol: "3.1.1" or "5" (3, 311, v3.1.1, 5.0, v5 are read as those)."""
    keepalive_s: Annotated[int, Range(5, 65535)] = BrokerSettings.keepalive_s
    """Keep-alive interval; the broker publishes our last will after 1.5 times this in silence."""
    session_expiry_s: Annotated[int, Range(1, 2**32 - 2)] = BrokerSettings.session_expiry_s
    """MQTT 5: how long the broker keeps our session (and the queries queued for it) while we are away."""
    tls: TLSSettings = field(default_factory=TLSSettings)
    """TLS files; only with mqtts:// and wss:// (an error with mqtt:// or ws://)."""
    reconnect: ReconnectSettings = field(default_factory=ReconnectSettings)
    """Reconnect backoff."""


@dataclass(frozen=True)
class TopicSettings:
    """Topic prefixes, for brokers shared by several installations."""

    hermes: Annotated[str, Check(_prefix)] = "hermes"
    """Prefix of the Hermes topics (`<hermes>/nlu/query`, `<hermes>/intent/<name>`)."""
    edge_nlu: Annotated[str, Check(_prefix)] = "edge-nlu"
    """Prefix of our own topics (`<edge_nlu>/status`, `<edge_nlu>/result/<siteId>`)."""


@dataclass(frozen=True)
class SiteSettings:
    """What the service knows about one satellite (Hermes siteId)."""

    area: str | None = None
    """Area (name or id) the satellite is in; becomes the request context's area."""
    has_screen: bool | None = None
    """Whether the satellite can show video."""
    user: str | None = None
    """Speaker to assume when a query names none."""


@dataclass(frozen=True)
class LimitSettings:
    """Caps that keep a flood or a hostile publisher from exhausting memory or time."""

    max_payload_bytes: Annotated[int, Range(1)] = 4 << 20
    """Larger device messages and queries are dropped and counted."""
    max_devices: Annotated[int, Range(1)] = 5000
    """Entities the live home holds at most; updates for new ones beyond it are rejected."""
    max_queued_queries: Annotated[int, Range(1)] = 256
    """Queries waiting for the worker; past this a query is answered at once with an `overloaded` error."""
    max_queued_messages: Annotated[int, Range(1)] = 10000
    """Device messages waiting to be applied; past this they are dropped and counted."""
    history_turns: Annotated[int, Range(1)] = 4
    """Earlier turns kept per (siteId, sessionId)."""
    max_sessions: Annotated[int, Range(1)] = 1024
    """Conversations remembered at once; the least recently used is forgotten first."""
    session_ttl_s: Annotated[float, Range(0.0)] = 300.0
    """A conversation idle this long is forgotten."""
    state_wait_s: Annotated[float, Range(0.0)] = 0.2
    """How long a query waits for device messages that arrived before it to be applied."""


@dataclass(frozen=True)
class ServeSettings:
    """The whole settings tree of `edge-nlu serve`."""

    broker: Annotated[BrokerSettings, External(BrokerSection)] = field(default_factory=BrokerSettings)
    """Broker address, credentials, TLS, protocol, backoff."""
    topics: TopicSettings = field(default_factory=TopicSettings)
    """Topic prefixes."""
    adapters: Annotated[tuple[str, ...], External()] = DEFAULT_ADAPTERS
    """Device-state adapters to run, by registry name; all of them at their standard prefixes unless the
    config's `adapters:` says otherwise (so `serve --broker URL` alone finds a Zigbee2MQTT home)."""
    adapter_options: Annotated[dict[str, dict[str, Any]], Derived()] = field(default_factory=dict)
    """Options per adapter (the values under `adapters:`), passed to `build_adapters`; checked on load."""
    sites: dict[str, Annotated[SiteSettings, Shorthand("area")]] = field(default_factory=dict)
    """siteId -> area, screen and default user; a plain string is the area."""
    model_dir: Path = field(default_factory=default_model_dir)
    """NLU model directory."""
    home_path: Annotated[Path | None, Key("home")] = None
    """Home snapshot to start from (areas, floors, names the hubs do not publish); None starts empty."""
    threads: Annotated[int, Range(0)] = 1
    """onnxruntime intra-op threads."""
    min_confidence: Annotated[float, Range(0.0, 1.0)] = DEFAULT_MIN_CONFIDENCE
    """The one confidence threshold: below it a query is `intentNotRecognized` (the full result still goes
    out) and, with learning on, the turn counts as a defect."""
    limits: LimitSettings = field(default_factory=LimitSettings)
    """Caps."""
    stats_interval_s: Annotated[float, Range(0.0)] = 60.0
    """How often the counters are logged; 0 turns the log off."""
    learning: Annotated[LearnSettings | None, External(LearnSettings)] = None
    """Self-learning (interaction store, rewrites, preferences); None leaves it off."""
    home_assistant: HomeAssistantSettings | None = None
    """Live state from Home Assistant's WebSocket API (docs/home-assistant.md); None leaves it off."""

    def to_dict(self) -> dict[str, Any]:
        """The config-file shape; `from_dict(to_dict())` gives back an equal tree."""
        b = self.broker
        written = {
            "broker": {
                "uri": b.uri, "client_id": b.client_id, "username": b.username, "password": b.password,
                "protocol": b.protocol, "keepalive_s": b.keepalive_s, "tls": to_mapping(b.tls),
                "session_expiry_s": b.session_expiry_s,
                "reconnect": {"min_s": b.reconnect_min_s, "max_s": b.reconnect_max_s,
                              "recent_max_s": b.reconnect_recent_max_s, "recent_s": b.reconnect_recent_s},
            },
            "adapters": {name: dict(self.adapter_options.get(name, {})) for name in self.adapters},
            "learning": self.learning.to_dict() if self.learning is not None else None,
            **to_mapping(self),
        }
        return {key: written[key] for key in key_tree(ServeSettings)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base_dir: Path | None = None,
                  broker_uri: str | None = None, env_password: str | None = None) -> ServeSettings:
        """Validate a config mapping; relative paths are taken from `base_dir` (the config file's folder)."""
        check_keys(cls, d)
        base = base_dir or Path.cwd()
        broker = _broker(read_section(BrokerSection, d.get("broker"), "broker", base=base), broker_uri,
                         env_password)
        names, options = _adapters(d.get("adapters"))
        return read_section(cls, d, base=base, given={
            "broker": broker, "adapters": names, "adapter_options": options,
            "learning": learning_section(d.get("learning"), base)})

    def with_overrides(self, model_dir: Path | None = None, home_path: Path | None = None) -> ServeSettings:
        """Command-line options win over the file."""
        out = self
        if model_dir is not None:
            out = replace(out, model_dir=model_dir)
        if home_path is not None:
            out = replace(out, home_path=home_path)
        return out


def load_serve_settings(broker_uri: str | None, config: Path | None = None,
                        env: Mapping[str, str] | None = None) -> ServeSettings:
    """The entry point's one call: read the config file (YAML, JSON or TOML), apply `--broker` and
    $EDGE_NLU_MQTT_PASSWORD (the only environment read; `env` defaults to os.environ)."""
    env = os.environ if env is None else env
    data: Mapping[str, Any] = {}
    base = Path.cwd()
    if config is not None:
        data = read_config_file(config)
        base = config.resolve().parent
    section = data.get("broker")
    if broker_uri is None and not (isinstance(section, Mapping) and isinstance(section.get("uri"), str)):
        raise ConfigError("no broker: give --broker mqtt://HOST:PORT or broker.uri in the config", ErrorCode.NO_BROKER)
    return ServeSettings.from_dict(data, base_dir=base, broker_uri=broker_uri, env_password=env.get(PASSWORD_ENV))


def read_config_file(path: Path) -> Mapping[str, Any]:
    """TOML by extension (.toml), YAML/JSON by extension (.yaml, .yml, .json), else by content."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}", ErrorCode.CONFIG_UNREADABLE) from exc
    ext = path.suffix.lower()
    if ext == ".toml":
        data = _toml(text, path)
    elif ext in (".yaml", ".yml", ".json"):
        data = _yaml(text, path)
    else:
        try:
            data = _toml(text, path)
        except ConfigError:
            data = _yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping at the top level")
    return data


def _toml(text: str, path: Path) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError as exc:  # Python 3.10
        raise ConfigError(f"config {path}: TOML needs Python 3.11 or later; use YAML") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from exc


def _yaml(text: str, path: Path) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from exc


def redact_uri(uri: str) -> str:
    """The URI with any password replaced by `***` (for error messages and logs), even when malformed."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, rest = "", uri
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        return uri
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{hostpart}"


def parse_broker_uri(uri: str) -> tuple[str, str, int, str | None, str | None, str]:
    """`mqtt[s]://[user[:password]@]host[:port]`, `ws[s]://...[/path]` -> (scheme, host, port, user, password, path)."""
    shown = redact_uri(uri)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"broker URI {shown!r} is not valid: {str(exc).replace(uri, shown)}",
                          ErrorCode.BAD_BROKER_URI) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"broker URI {shown!r}: scheme must be one of {', '.join(sorted(SCHEMES))}",
                ErrorCode.BAD_BROKER_URI)
    if not parts.hostname:
        raise ConfigError(f"broker URI {shown!r} names no host", ErrorCode.BAD_BROKER_URI)
    if parts.query or parts.fragment or (parts.path not in ("", "/") and SCHEMES[scheme][2] == "tcp"):
        raise ConfigError(f"broker URI {shown!r}: only scheme, credentials, host and port are allowed",
                          ErrorCode.BAD_BROKER_URI)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    ws_path = parts.path if SCHEMES[scheme][2] == "websockets" and parts.path else "/mqtt"
    return scheme, parts.hostname, port or SCHEMES[scheme][0], user, password, ws_path




def _broker(d: BrokerSection, broker_uri: str | None, env_password: str | None = None) -> BrokerSettings:
    """The broker section with the command line's URI and the environment's password applied."""
    uri = broker_uri if broker_uri is not None else d.uri
    scheme, host, port, user, uri_password, path = parse_broker_uri(uri)
    user = d.username or user
    if d.password_file is not None and d.password is not None:
        raise ConfigError("broker: give password or password_file, not both")
    password, source = uri_password, "uri" if uri_password is not None else None
    if env_password:
        password, source = env_password, "env"
    if d.password is not None:
        password, source = d.password, "password"
    if d.password_file is not None:
        password = read_secret_file(d.password_file, "broker.password_file", ErrorCode.PASSWORD_FILE_UNREADABLE,
                                    ErrorCode.PASSWORD_FILE_PERMISSIONS)
        source = "password_file"
    if password is not None and user is None:
        raise ConfigError("broker: a password needs a username")
    tls = replace(d.tls, enabled=SCHEMES[scheme][1])
    if (tls.cert_file is None) != (tls.key_file is None):
        raise ConfigError("broker.tls: cert_file and key_file go together")
    if not tls.enabled and (tls.ca_file or tls.cert_file or tls.insecure):
        raise ConfigError(f"broker.tls is set but broker.uri {redact_uri(uri)!r} is {scheme}:// (no TLS); "
                          f"use {'mqtts' if scheme == 'mqtt' else 'wss'}:// or remove broker.tls",
                          ErrorCode.TLS_WITHOUT_TLS_URI)
    r = d.reconnect
    return BrokerSettings(
        host=host, port=port, transport=SCHEMES[scheme][2], ws_path=path, client_id=d.client_id, username=user,
        password=password, password_from=source, protocol=d.protocol, session_expiry_s=d.session_expiry_s,
        keepalive_s=d.keepalive_s, tls=tls, reconnect_min_s=r.min_s, reconnect_max_s=r.max_s,
        reconnect_recent_max_s=r.recent_max_s, reconnect_recent_s=r.recent_s,
    )


def _adapters(raw: Any) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    """`adapters: {name: {options} | true | false | null}` or a plain list of names; absent: all defaults.
    Names and options are checked against the adapters here, so a typo fails at start-up."""
    if raw is None:
        return DEFAULT_ADAPTERS, {name: {} for name in DEFAULT_ADAPTERS}
    if isinstance(raw, list):
        raw = {name: {} for name in raw}
    if not isinstance(raw, dict):
        raise ConfigError("adapters must be a mapping of adapter name -> options (or a list of names)")
    names: list[str] = []
    options: dict[str, dict[str, Any]] = {}
    for name, opts in raw.items():
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
            raise ConfigError(f"adapters: {name!r} is not an adapter name")
        if opts is False:
            continue
        if opts is None or opts is True:
            opts = {}
        if not isinstance(opts, dict):
            raise ConfigError(f"adapters.{name} must be a mapping of options, true or false")
        names.append(name)
        options[name] = dict(opts)
    adapter_configs(names, options)
    return tuple(names), options


def learning_section(raw: Any, base: Path) -> LearnSettings | None:
    """`learning:` turns self-learning on; relative store/model paths are taken from the config's folder."""
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("learning: must be a mapping (or true for the defaults)")
    s = LearnSettings.from_dict(raw)
    rewriter_dir = None if s.rewriter_dir is None else str(base / Path(s.rewriter_dir).expanduser())
    return replace(s, store=str(base / Path(s.store).expanduser()), rewriter_dir=rewriter_dir)


# -- checks the types cannot express ----------------------------------------------------------


def _existing_file(p: Path | None, where: str) -> Path | None:
    if p is not None and not p.is_file():
        raise ConfigError(f"{where}: no such file {p}")
    return p


def _client_id(value: str, where: str) -> str:
    if len(value.encode()) > 65535:
        raise ConfigError(f"{where} is too long")
    return value


def _protocol(value: Any, where: str) -> str:
    text = str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    if text in ("3", "311", "3.1.1", "v3.1.1"):
        return "3.1.1"
    if text in ("5", "5.0", "v5"):
        return "5"
    raise ConfigError(f"{where} must be 3.1.1 or 5, got {value!r}")


def _prefix(value: str, where: str) -> str:
    if not _TOPIC_PREFIX.match(value) or value.startswith("/") or value.endswith("/"):
        raise ConfigError(f"{where} {value!r} must be a topic prefix without wildcards or outer slashes")
    return value
