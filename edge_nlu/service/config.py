"""Settings of `edge-nlu serve`: built once at the entry point from `--broker URI` and `--config FILE`.

Everything the live service needs is in one frozen tree, so that tests can build a service
from a dict and nothing reads the environment or globals later. A bad value fails here, at
start-up, with a ConfigError that names the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from edge_nlu.errors import ConfigError, ErrorCode
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.settings import default_model_dir

SCHEMES = {"mqtt": (1883, False, "tcp"), "mqtts": (8883, True, "tcp"), "ws": (80, False, "websockets"),
           "wss": (443, True, "websockets")}
"""URI scheme -> (default port, TLS, paho transport): the transport is chosen by the URI."""
PROTOCOLS = ("3.1.1", "5")
DEFAULT_ADAPTERS = ("zigbee2mqtt", "ha_discovery", "tasmota", "homie")
"""Adapters a config without `adapters:` runs, each at its standard prefix."""
PASSWORD_ENV = "EDGE_NLU_MQTT_PASSWORD"  # noqa: S105 - a variable name, not a password
"""Environment variable read for the broker password when the config gives none (keeps it out of `ps`)."""
_TOPIC_PREFIX = re.compile(r"^[^#+\x00]+$")


@dataclass(frozen=True)
class TLSSettings:
    """TLS towards the broker; on for `mqtts://` and `wss://`."""

    enabled: bool = False
    """Set by the URI scheme."""
    ca_file: Path | None = None
    """CA bundle that signed the broker's certificate; None uses the system store."""
    cert_file: Path | None = None
    """Client certificate, for brokers that authenticate clients by certificate."""
    key_file: Path | None = None
    """Private key of the client certificate."""
    insecure: bool = False
    """Skip the host-name check. Off by default; only for test brokers with odd certificates."""


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
    reconnect_min_s: float = 0.5
    """First reconnect delay; doubles on every failed try (times a 0.5-1 jitter) up to the cap."""
    reconnect_max_s: float = 30.0
    """Longest reconnect delay, once the broker has been away longer than reconnect_recent_s."""
    reconnect_recent_max_s: float = 2.0
    """Longest reconnect delay while the broker was connected within reconnect_recent_s: a restart
    of a few seconds must not leave queries unanswered for a minute."""
    reconnect_recent_s: float = 300.0
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
class TopicSettings:
    """Topic prefixes, for brokers shared by several installations."""

    hermes: str = "hermes"
    """Prefix of the Hermes topics (`<hermes>/nlu/query`, `<hermes>/intent/<name>`)."""
    edge_nlu: str = "edge-nlu"
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

    max_payload_bytes: int = 4 << 20
    """Larger device messages and queries are dropped and counted."""
    max_devices: int = 5000
    """Entities the live home holds at most; updates for new ones beyond it are rejected."""
    max_queued_queries: int = 256
    """Queries waiting for the worker; past this a query is answered at once with an `overloaded` error."""
    max_queued_messages: int = 10000
    """Device messages waiting to be applied; past this they are dropped and counted."""
    history_turns: int = 4
    """Earlier turns kept per (siteId, sessionId)."""
    max_sessions: int = 1024
    """Conversations remembered at once; the least recently used is forgotten first."""
    session_ttl_s: float = 300.0
    """A conversation idle this long is forgotten."""
    state_wait_s: float = 0.2
    """How long a query waits for device messages that arrived before it to be applied."""


@dataclass(frozen=True)
class ServeSettings:
    """The whole settings tree of `edge-nlu serve`."""

    broker: BrokerSettings = field(default_factory=BrokerSettings)
    """Broker address, credentials, TLS, protocol, backoff."""
    topics: TopicSettings = field(default_factory=TopicSettings)
    """Topic prefixes."""
    adapters: tuple[str, ...] = DEFAULT_ADAPTERS
    """Device-state adapters to run, by registry name; all of them at their standard prefixes unless the
    config's `adapters:` says otherwise (so `serve --broker URL` alone finds a Zigbee2MQTT home)."""
    adapter_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Options per adapter, passed to `build_adapters`; `base_topic` is the adapter's topic prefix."""
    sites: dict[str, SiteSettings] = field(default_factory=dict)
    """siteId -> area, screen and default user."""
    model_dir: Path = field(default_factory=default_model_dir)
    """NLU model directory."""
    home_path: Path | None = None
    """Home snapshot to start from (areas, floors, names the hubs do not publish); None starts empty."""
    threads: int = 1
    """onnxruntime intra-op threads."""
    min_confidence: float = 0.5
    """Below this NLU confidence a query is `intentNotRecognized` (the full result still goes out)."""
    limits: LimitSettings = field(default_factory=LimitSettings)
    """Caps."""
    stats_interval_s: float = 60.0
    """How often the counters are logged; 0 turns the log off."""
    learning: LearnSettings | None = None
    """Self-learning (interaction store, rewrites, preferences); None leaves it off."""

    def to_dict(self) -> dict[str, Any]:
        """The config-file shape; `from_dict(to_dict())` gives back an equal tree."""
        b, t = self.broker, self.broker.tls
        return {
            "broker": {
                "uri": b.uri, "client_id": b.client_id, "username": b.username, "password": b.password,
                "protocol": b.protocol, "keepalive_s": b.keepalive_s,
                "tls": {"ca_file": _s(t.ca_file), "cert_file": _s(t.cert_file), "key_file": _s(t.key_file),
                        "insecure": t.insecure},
                "session_expiry_s": b.session_expiry_s,
                "reconnect": {"min_s": b.reconnect_min_s, "max_s": b.reconnect_max_s,
                              "recent_max_s": b.reconnect_recent_max_s, "recent_s": b.reconnect_recent_s},
            },
            "topics": {"hermes": self.topics.hermes, "edge_nlu": self.topics.edge_nlu},
            "adapters": {name: dict(self.adapter_options.get(name, {})) for name in self.adapters},
            "sites": {k: {"area": v.area, "has_screen": v.has_screen, "user": v.user} for k, v in self.sites.items()},
            "model_dir": str(self.model_dir),
            "home": _s(self.home_path),
            "threads": self.threads,
            "min_confidence": self.min_confidence,
            "limits": {k: getattr(self.limits, k) for k in LimitSettings.__dataclass_fields__},
            "stats_interval_s": self.stats_interval_s,
            "learning": self.learning.to_dict() if self.learning is not None else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base_dir: Path | None = None,
                  broker_uri: str | None = None, env_password: str | None = None) -> ServeSettings:
        """Validate a config mapping; relative paths are taken from `base_dir` (the config file's folder)."""
        _keys(d, "config", {"broker", "topics", "adapters", "sites", "model_dir", "home", "threads",
                            "min_confidence", "limits", "stats_interval_s", "learning"})
        base = base_dir or Path.cwd()
        broker = _broker(_section(d, "broker"), base, broker_uri, env_password)
        top = _section(d, "topics")
        _keys(top, "topics", {"hermes", "edge_nlu"})
        topics = TopicSettings(hermes=_prefix(top, "hermes", "hermes"), edge_nlu=_prefix(top, "edge_nlu", "edge-nlu"))
        names, options = _adapters(d.get("adapters"))
        sites = {str(k): _site(str(k), v) for k, v in _section(d, "sites").items()}
        model = _path(d, "model_dir", "model_dir", base)
        lim = _section(d, "limits")
        _keys(lim, "limits", set(LimitSettings.__dataclass_fields__))
        dflt = LimitSettings()
        limits_kw: dict[str, Any] = {
            k: _num(lim, k, f"limits.{k}", getattr(dflt, k), integer=isinstance(getattr(dflt, k), int),
                    lo=1 if isinstance(getattr(dflt, k), int) else 0.0)
            for k in LimitSettings.__dataclass_fields__
        }
        limits = LimitSettings(**limits_kw)
        return cls(
            broker=broker, topics=topics, adapters=names, adapter_options=options, sites=sites,
            model_dir=model or default_model_dir(), home_path=_path(d, "home", "home", base),
            threads=int(_num(d, "threads", "threads", 1, integer=True)),
            min_confidence=float(_num(d, "min_confidence", "min_confidence", 0.5, lo=0.0, hi=1.0)),
            limits=limits,
            stats_interval_s=float(_num(d, "stats_interval_s", "stats_interval_s", 60.0, lo=0.0)),
            learning=learning_section(d.get("learning"), base),
        )

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
    if broker_uri is None and not isinstance(_section(data, "broker").get("uri"), str):
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


def read_password_file(path: Path) -> str:
    """The first line of a file only its owner can read (like ssh with private keys): a password
    file others can read is refused, not silently used."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"broker.password_file {path} is accessible by group or others (mode "
                              f"{stat.S_IMODE(mode):o}); run: chmod 600 {path}", ErrorCode.PASSWORD_FILE_PERMISSIONS)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"broker.password_file {path}: {exc.strerror or exc}",
                ErrorCode.PASSWORD_FILE_UNREADABLE) from None
    except UnicodeDecodeError:
        raise ConfigError(f"broker.password_file {path} is not UTF-8 text",
                ErrorCode.PASSWORD_FILE_UNREADABLE) from None
    lines = text.splitlines()
    password = lines[0].strip() if lines else ""
    if not password:
        raise ConfigError(f"broker.password_file {path} is empty", ErrorCode.PASSWORD_FILE_UNREADABLE)
    return password


def _broker(d: Mapping[str, Any], base: Path, broker_uri: str | None,
            env_password: str | None = None) -> BrokerSettings:
    _keys(d, "broker", {"uri", "client_id", "username", "password", "password_file", "protocol", "keepalive_s",
                        "tls", "reconnect", "session_expiry_s"})
    uri = broker_uri if broker_uri is not None else d.get("uri", "mqtt://127.0.0.1:1883")
    if not isinstance(uri, str):
        raise ConfigError("broker.uri must be a string like mqtt://host:1883")
    scheme, host, port, user, uri_password, path = parse_broker_uri(uri)
    user = _opt_str(d, "username", "broker.username") or user
    pw_file = _path(d, "password_file", "broker.password_file", base)
    inline = _opt_str(d, "password", "broker.password")
    if pw_file is not None and inline is not None:
        raise ConfigError("broker: give password or password_file, not both")
    password, source = uri_password, "uri" if uri_password is not None else None
    if env_password:
        password, source = env_password, "env"
    if inline is not None:
        password, source = inline, "password"
    if pw_file is not None:
        password, source = read_password_file(pw_file), "password_file"
    if password is not None and user is None:
        raise ConfigError("broker: a password needs a username")
    protocol = str(d.get("protocol", "3.1.1"))
    if protocol in ("3", "311", "3.1.1", "v3.1.1"):
        protocol = "3.1.1"
    elif protocol in ("5", "5.0", "v5"):
        protocol = "5"
    else:
        raise ConfigError(f"broker.protocol must be 3.1.1 or 5, got {d.get('protocol')!r}")
    client_id = _opt_str(d, "client_id", "broker.client_id") or "edge-nlu"
    if len(client_id.encode()) > 65535:
        raise ConfigError("broker.client_id is too long")
    tls_d = _section(d, "tls", "broker.tls")
    _keys(tls_d, "broker.tls", {"ca_file", "cert_file", "key_file", "insecure"})
    insecure = tls_d.get("insecure", False)
    if not isinstance(insecure, bool):
        raise ConfigError("broker.tls.insecure must be true or false")
    tls = TLSSettings(
        enabled=SCHEMES[scheme][1],
        ca_file=_path(tls_d, "ca_file", "broker.tls.ca_file", base, must_exist=True),
        cert_file=_path(tls_d, "cert_file", "broker.tls.cert_file", base, must_exist=True),
        key_file=_path(tls_d, "key_file", "broker.tls.key_file", base, must_exist=True),
        insecure=insecure,
    )
    if (tls.cert_file is None) != (tls.key_file is None):
        raise ConfigError("broker.tls: cert_file and key_file go together")
    if not tls.enabled and (tls.ca_file or tls.cert_file or insecure):
        raise ConfigError(f"broker.tls is set but broker.uri {redact_uri(uri)!r} is {scheme}:// (no TLS); "
                          f"use {'mqtts' if scheme == 'mqtt' else 'wss'}:// or remove broker.tls",
                          ErrorCode.TLS_WITHOUT_TLS_URI)
    rec = _section(d, "reconnect", "broker.reconnect")
    _keys(rec, "broker.reconnect", {"min_s", "max_s", "recent_max_s", "recent_s"})
    dflt = BrokerSettings()
    rmin = float(_num(rec, "min_s", "broker.reconnect.min_s", dflt.reconnect_min_s, lo=0.01))
    rmax = float(_num(rec, "max_s", "broker.reconnect.max_s", dflt.reconnect_max_s, lo=0.01))
    recent_max = float(_num(rec, "recent_max_s", "broker.reconnect.recent_max_s", dflt.reconnect_recent_max_s,
                            lo=0.01))
    recent = float(_num(rec, "recent_s", "broker.reconnect.recent_s", dflt.reconnect_recent_s, lo=0.0))
    if rmax < rmin:
        raise ConfigError("broker.reconnect: max_s must be at least min_s")
    if recent_max < rmin:
        raise ConfigError("broker.reconnect: recent_max_s must be at least min_s")
    return BrokerSettings(
        host=host, port=port, transport=SCHEMES[scheme][2], ws_path=path, client_id=client_id, username=user,
        password=password, password_from=source, protocol=protocol,
        session_expiry_s=int(_num(d, "session_expiry_s", "broker.session_expiry_s", dflt.session_expiry_s,
                                  integer=True, lo=1, hi=2**32 - 2)),
        keepalive_s=int(_num(d, "keepalive_s", "broker.keepalive_s", 30, integer=True, lo=5, hi=65535)),
        tls=tls, reconnect_min_s=rmin, reconnect_max_s=rmax, reconnect_recent_max_s=recent_max,
        reconnect_recent_s=recent,
    )


def _adapters(raw: Any) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    """`adapters: {name: {options} | true | false | null}` or a plain list of names; absent: all defaults."""
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
    return tuple(names), options


def learning_section(raw: Any, base: Path) -> LearnSettings | None:
    """`learning:` turns self-learning on; relative store/model paths are taken from the config's folder."""
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("learning: must be a mapping (or true for the defaults)")
    d = dict(raw)
    for key in ("store", "rewriter_dir"):
        if isinstance(d.get(key), str):
            d[key] = str(base / Path(d[key]).expanduser())
    if "store" not in d:
        d["store"] = str(base / LearnSettings().store)
    return LearnSettings.from_dict(d)


def _site(site_id: str, raw: Any) -> SiteSettings:
    if raw is None:
        return SiteSettings()
    if isinstance(raw, str):
        return SiteSettings(area=raw)
    if not isinstance(raw, dict):
        raise ConfigError(f"sites.{site_id} must be a mapping (area, has_screen, user) or an area name")
    _keys(raw, f"sites.{site_id}", {"area", "has_screen", "user"})
    screen = raw.get("has_screen")
    if screen is not None and not isinstance(screen, bool):
        raise ConfigError(f"sites.{site_id}.has_screen must be true or false")
    return SiteSettings(area=_opt_str(raw, "area", f"sites.{site_id}.area"), has_screen=screen,
                        user=_opt_str(raw, "user", f"sites.{site_id}.user"))


def _section(d: Mapping[str, Any], key: str, where: str | None = None) -> Mapping[str, Any]:
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where or key} must be a mapping, got {type(value).__name__}")
    return value


def _keys(d: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in d if k not in allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _opt_str(d: Mapping[str, Any], key: str, where: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, got {value!r}")
    return value or None


def _prefix(d: Mapping[str, Any], key: str, default: str) -> str:
    value = _opt_str(d, key, f"topics.{key}") or default
    if not _TOPIC_PREFIX.match(value) or value.startswith("/") or value.endswith("/"):
        raise ConfigError(f"topics.{key} {value!r} must be a topic prefix without wildcards or outer slashes")
    return value


def _num(d: Mapping[str, Any], key: str, where: str, default: float, *, integer: bool = False,
         lo: float = 0, hi: float | None = None) -> float:
    value = d.get(key, default)
    if value is None:
        value = default
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok:
        raise ConfigError(f"{where} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise ConfigError(f"{where} must be between {lo} and {hi if hi is not None else 'any'}, got {value!r}")
    return float(value) if not integer else int(value)


def _path(d: Mapping[str, Any], key: str, where: str, base: Path, must_exist: bool = False) -> Path | None:
    value = _opt_str(d, key, where)
    if value is None:
        return None
    p = Path(value).expanduser()
    p = p if p.is_absolute() else base / p
    if must_exist and not p.is_file():
        raise ConfigError(f"{where}: no such file {p}")
    return p


def _s(p: Path | None) -> str | None:
    return None if p is None else str(p)
