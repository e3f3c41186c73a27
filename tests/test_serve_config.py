"""Service settings: URI parsing, file formats, validation messages, dict round trip."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_nlu.config_fields import External, attribute_docs, key_tree, read_section, to_mapping
from edge_nlu.errors import ConfigError
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.service.adapters.registry import config_types
from edge_nlu.service.config import (
    DEFAULT_ADAPTERS,
    BrokerSettings,
    LimitSettings,
    ServeSettings,
    TopicSettings,
    load_serve_settings,
    parse_broker_uri,
    read_config_file,
    redact_uri,
)
from edge_nlu.settings import default_model_dir
from tests.conftest import ROOT

EXAMPLE = ROOT / "devices" / "serve.example.yaml"
COMMENTED_KEY = re.compile(r"^(\s*)# (\s*[a-z_]+:(?:\s|$))", re.MULTILINE)
"""`  # username: edge-nlu`: a key the example documents without setting it (no default value)."""


def test_example_config_loads_and_round_trips() -> None:
    s = load_serve_settings(None, EXAMPLE)
    assert s.broker.uri == "mqtt://127.0.0.1:1883"
    assert s.adapters == DEFAULT_ADAPTERS
    assert s.sites["bedroom"].area == "Bedroom" and s.sites["living-room-tv"].has_screen is True
    assert s.limits == LimitSettings()
    assert ServeSettings.from_dict(s.to_dict()) == s


def test_round_trip_with_everything_set(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    d: dict[str, Any] = {
        "broker": {"uri": "mqtts://broker.lan:18883", "client_id": "nlu-1", "username": "u", "password": "p",
                   "protocol": "5", "keepalive_s": 10, "tls": {"ca_file": str(ca), "insecure": True},
                   "reconnect": {"min_s": 0.5, "max_s": 8}},
        "topics": {"hermes": "home1/hermes", "edge_nlu": "home1/edge-nlu"},
        "adapters": {"zigbee2mqtt": {"base_topic": "z2m"}, "tasmota": True, "homie": False},
        "sites": {"k": {"area": "Kitchen", "has_screen": True, "user": "alex"}},
        "model_dir": str(tmp_path), "home": str(tmp_path / "home.yaml"), "threads": 2, "min_confidence": 0.3,
        "limits": {"max_payload_bytes": 1000, "state_wait_s": 0.01}, "stats_interval_s": 0,
    }
    s = ServeSettings.from_dict(d)
    assert (s.broker.host, s.broker.port, s.broker.tls.enabled, s.broker.protocol) == ("broker.lan", 18883, True, "5")
    assert s.adapters == ("zigbee2mqtt", "tasmota") and s.adapter_options["zigbee2mqtt"] == {"base_topic": "z2m"}
    assert s.limits.max_payload_bytes == 1000 and s.limits.max_devices == 5000
    assert ServeSettings.from_dict(s.to_dict()) == s
    assert "password=" not in repr(s.broker)  # kept out of logs


@pytest.mark.parametrize(
    ("uri", "want"),
    [
        ("mqtt://localhost", ("mqtt", "localhost", 1883, None, None, "/mqtt")),
        ("mqtts://10.0.0.2", ("mqtts", "10.0.0.2", 8883, None, None, "/mqtt")),
        ("mqtt://us%40er:p%3Ass@h:1", ("mqtt", "h", 1, "us@er", "p:ss", "/mqtt")),
        ("wss://h:9001/ws", ("wss", "h", 9001, None, None, "/ws")),
    ],
)
def test_broker_uri(uri: str, want: tuple[Any, ...]) -> None:
    assert parse_broker_uri(uri) == want


def test_uri_credentials_and_command_line_uri_win() -> None:
    s = load_serve_settings("mqtt://alex:pw@h:1884", None)
    assert (s.broker.username, s.broker.password, s.broker.port) == ("alex", "pw", 1884)
    assert "pw" not in s.broker.uri and "pw" not in repr(s)


@pytest.mark.parametrize(
    ("d", "needle"),
    [
        ({"broker": {"uri": "http://h"}}, "scheme must be one of"),
        ({"broker": {"uri": "mqtt://h:99999"}}, "not valid"),
        ({"broker": {"uri": "mqtt://h/path"}}, "only scheme"),
        ({"broker": {"protocol": "4"}}, "broker.protocol"),
        ({"broker": {"password": "x"}}, "needs a username"),
        ({"broker": {"tls": {"ca_file": "/nonexistent/ca.crt"}}}, "no such file"),
        ({"broker": {"tls": {"insecure": "yes"}}}, "insecure"),
        ({"broker": {"reconnect": {"min_s": 5, "max_s": 1}}}, "max_s"),
        ({"brokr": {}}, "unknown key(s) brokr"),
        ({"limits": {"max_devices": "many"}}, "limits.max_devices must be an integer"),
        ({"limits": {"max_devices": 0}}, "limits.max_devices must be between"),
        ({"min_confidence": 2}, "min_confidence"),
        ({"topics": {"hermes": "a/#"}}, "topics.hermes"),
        ({"adapters": "zigbee2mqtt"}, "adapters must be"),
        ({"adapters": {"zigbee2mqtt": 3}}, "adapters.zigbee2mqtt"),
        ({"sites": {"k": {"has_screen": "no"}}}, "sites.k.has_screen"),
        ({"sites": {"k": {"room": "x"}}}, "sites.k: unknown key"),
    ],
)
def test_bad_config_is_a_clear_config_error(d: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        ServeSettings.from_dict(d)
    assert needle in err.value.message
    assert err.value.code in ("invalid_config", "bad_broker_uri")


def test_no_broker_anywhere() -> None:
    with pytest.raises(ConfigError) as err:
        load_serve_settings(None, None)
    assert err.value.code == "no_broker"


def test_toml_yaml_and_sniffing(tmp_path: Path) -> None:
    toml = '[broker]\nuri = "mqtt://h:1"\n[sites.k]\narea = "Kitchen"\n'
    (tmp_path / "c.toml").write_text(toml)
    (tmp_path / "c.conf").write_text(toml)
    (tmp_path / "c.yml").write_text("broker: {uri: 'mqtt://h:1'}\nsites: {k: Kitchen}\n")
    for name in ("c.toml", "c.conf", "c.yml"):
        s = load_serve_settings(None, tmp_path / name)
        assert s.broker.port == 1 and s.sites["k"].area == "Kitchen", name
    (tmp_path / "bad.toml").write_text("[broker\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config_file(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        read_config_file(tmp_path / "missing.yaml")


def test_relative_paths_are_taken_from_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("home: homes/h.yaml\nmodel_dir: m\n")
    s = load_serve_settings("mqtt://h", tmp_path / "c.yaml")
    assert s.home_path == tmp_path / "homes" / "h.yaml" and s.model_dir == tmp_path / "m"
    s2 = s.with_overrides(home_path=Path("/x.yaml"))
    assert s2.home_path == Path("/x.yaml") and s.home_path != s2.home_path


def test_tls_section_with_a_plain_uri_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    for uri, tls in [("mqtt://h", {"ca_file": str(ca)}), ("ws://h:80/mqtt", {"insecure": True})]:
        with pytest.raises(ConfigError) as err:
            ServeSettings.from_dict({"broker": {"uri": uri, "tls": tls}})
        assert "broker.tls" in err.value.message and err.value.code == "tls_without_tls_uri"
    assert ServeSettings.from_dict({"broker": {"uri": "mqtts://h", "tls": {"ca_file": str(ca)}}}).broker.tls.enabled
    assert not ServeSettings.from_dict({"broker": {"uri": "mqtt://h", "tls": {"insecure": False}}}).broker.tls.enabled


def test_password_file_must_be_private(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    pw.chmod(0o644)
    d = {"broker": {"uri": "mqtts://h", "username": "u", "password_file": str(pw)}}
    with pytest.raises(ConfigError) as err:
        ServeSettings.from_dict(d)
    assert err.value.code == "password_file_permissions" and "chmod 600" in err.value.message
    assert "s3cret" not in err.value.message
    pw.chmod(0o600)
    b = ServeSettings.from_dict(d).broker
    assert (b.password, b.password_from, b.security_warnings()) == ("s3cret", "password_file", [])


@pytest.mark.parametrize("uri", ["mqtt://u:hunter2@h:99999", "mqtt://u:hunter2@h/path", "http://u:hunter2@h",
                                 "mqtt://u:hunter2@"])
def test_uri_errors_never_echo_the_password(uri: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_serve_settings(uri, None, env={})
    assert "hunter2" not in err.value.message and "u:***@" in err.value.message


def test_redact_uri() -> None:
    assert redact_uri("mqtts://alex:p@ss:w@rd@h:8883") == "mqtts://alex:***@h:8883"
    assert redact_uri("mqtt://alex@h") == "mqtt://alex@h" and redact_uri("mqtt://h:1") == "mqtt://h:1"


def test_password_from_the_environment_and_security_warnings() -> None:
    b = load_serve_settings("mqtt://u@broker.lan", None, env={"EDGE_NLU_MQTT_PASSWORD": "e"}).broker
    assert (b.password, b.password_from) == ("e", "env")
    [plain] = b.security_warnings()
    assert "unencrypted" in plain
    b = load_serve_settings("mqtt://u:p@broker.lan", None, env={}).broker
    assert len(b.security_warnings()) == 2 and any("`ps`" in w for w in b.security_warnings())
    b = load_serve_settings("mqtt://u:p@127.0.0.1", None, env={}).broker  # loopback: nothing crosses a network
    assert [w for w in b.security_warnings() if "unencrypted" in w] == []
    assert load_serve_settings("mqtts://u@broker.lan", None, env={"EDGE_NLU_MQTT_PASSWORD": "e"}
                               ).broker.security_warnings() == []


def test_all_adapters_listen_unless_the_config_says_otherwise() -> None:
    assert ServeSettings.from_dict({}).adapters == DEFAULT_ADAPTERS
    assert ServeSettings().adapters == DEFAULT_ADAPTERS
    assert ServeSettings.from_dict({"adapters": {}}).adapters == ()
    assert ServeSettings.from_dict({"adapters": {"tasmota": False, "homie": True}}).adapters == ("homie",)


# -- the example documents every key, with its default ---------------------------------------------


def serve_key_tree() -> dict[str, Any]:
    """Every key `serve` reads, from the settings classes; each adapter's options from its class."""
    tree = key_tree(ServeSettings)
    tree["adapters"] = {name: key_tree(cls) for name, cls in config_types().items()}
    return tree


def key_problems(want: Any, got: Any, path: str) -> list[str]:
    """How the keys of `got` (the example) differ from `want` (a key_tree)."""
    if want is None:
        return []
    if not isinstance(got, dict):
        return [f"{path}: the example gives no section here"]
    if set(want) == {"*"}:  # sections by free names (sites, Tasmota devices): all keys across the entries
        merged: dict[str, Any] = {}
        for entry in got.values():
            merged.update(entry if isinstance(entry, dict) else {})
        return key_problems(want["*"], merged, f"{path}.*")
    out = [f"{path}.{k}: not in the example" for k in want if k not in got]
    out += [f"{path}.{k}: in the example, but no setting reads it" for k in got if k not in want]
    for k in want:
        if k in got:
            out += key_problems(want[k], got[k], f"{path}.{k}")
    return out


def test_example_config_documents_every_key_and_no_other() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    documented = yaml.safe_load(COMMENTED_KEY.sub(r"\1\2", text))
    assert key_problems(serve_key_tree(), documented, "config") == []


def test_example_config_shows_the_defaults() -> None:
    """What the example sets is the default, but for the example maps (sites, names, device topics)."""
    s = load_serve_settings(None, EXAMPLE)
    assert s.broker == BrokerSettings() and s.topics == TopicSettings() and s.limits == LimitSettings()
    assert (s.threads, s.min_confidence, s.stats_interval_s) == (1, 0.5, 60.0)
    assert (s.model_dir, s.home_path) == (default_model_dir(), None)
    assert s.learning == dataclasses.replace(LearnSettings(), store=str(EXAMPLE.parent / LearnSettings().store))
    examples = {"areas", "domains", "devices"}
    for name, cls in config_types().items():
        shown = to_mapping(read_section(cls, s.adapter_options[name], f"adapters.{name}"))
        default = to_mapping(cls())
        assert {k: v for k, v in shown.items() if k not in examples} == {
            k: v for k, v in default.items() if k not in examples}, name


def settings_classes(cls: type, seen: dict[type, None] | None = None) -> dict[type, None]:
    """`cls` and every dataclass its fields hold (External sections by their written shape), in order."""
    seen = {} if seen is None else seen
    if cls in seen:
        return seen
    seen[cls] = None
    hints = typing.get_type_hints(cls, include_extras=True)

    def walk(tp: Any) -> None:
        for extra in getattr(tp, "__metadata__", ()):
            if isinstance(extra, External) and extra.shape is not None:
                settings_classes(extra.shape, seen)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            settings_classes(tp, seen)
        for arg in typing.get_args(tp):
            walk(arg)

    for f in dataclasses.fields(cls):
        walk(hints[f.name])
    return seen


def test_every_setting_is_frozen_and_has_a_docstring() -> None:
    classes = list(settings_classes(ServeSettings))
    for cls in config_types().values():
        classes += [c for c in settings_classes(cls) if c not in classes]
    assert len(classes) >= 15
    for cls in classes:
        params = getattr(cls, "__dataclass_params__", None)
        assert params is not None and params.frozen, cls.__name__
        docs = attribute_docs(cls)
        assert [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)] == [], cls.__name__


# -- one validation style for every section --------------------------------------------------------

# (section as a config mapping around one bad value, the key path the message must name)
WRONG_TYPES = [
    ({"threads": "2"}, "threads"),
    ({"stats_interval_s": True}, "stats_interval_s"),
    ({"min_confidence": "0.3"}, "min_confidence"),
    ({"broker": {"keepalive_s": 30.0}}, "broker.keepalive_s"),
    ({"broker": {"session_expiry_s": "3600"}}, "broker.session_expiry_s"),
    ({"broker": {"client_id": 7}}, "broker.client_id"),
    ({"broker": {"reconnect": {"min_s": "0.5"}}}, "broker.reconnect.min_s"),
    ({"broker": {"reconnect": {"recent_s": False}}}, "broker.reconnect.recent_s"),
    ({"broker": {"tls": {"insecure": 1}}}, "broker.tls.insecure"),
    ({"topics": {"hermes": 5}}, "topics.hermes"),
    ({"sites": {"k": {"has_screen": 1}}}, "sites.k.has_screen"),
    ({"sites": {"k": {"user": ["alex"]}}}, "sites.k.user"),
    ({"limits": {"max_devices": 10.0}}, "limits.max_devices"),
    ({"limits": {"state_wait_s": "0.2"}}, "limits.state_wait_s"),
    ({"learning": {"rephrase_window_s": "0.3"}}, "learning.rephrase_window_s"),
    ({"learning": {"retention_days": True}}, "learning.retention_days"),
    ({"learning": {"defect_confidence": "0.5"}}, "learning.defect_confidence"),
    ({"learning": {"personal_min_support": 2.5}}, "learning.personal_min_support"),
    ({"learning": {"store": 3}}, "learning.store"),
    ({"learning": {"miner": {"min_support": "4"}}}, "learning.miner.min_support"),
    ({"learning": {"miner": {"margin": True}}}, "learning.miner.margin"),
    ({"learning": {"rewriter": {"top_k": 5.0}}}, "learning.rewriter.top_k"),
    ({"learning": {"rewriter": {"min_score": "0.75"}}}, "learning.rewriter.min_score"),
    ({"adapters": {"zigbee2mqtt": {"max_devices": True}}}, "adapters.zigbee2mqtt.max_devices"),
    ({"adapters": {"ha_discovery": {"max_configs": "5000"}}}, "adapters.ha_discovery.max_configs"),
    ({"adapters": {"tasmota": {"tele_prefix": 1}}}, "adapters.tasmota.tele_prefix"),
    ({"adapters": {"homie": {"base_topic": ["homie"]}}}, "adapters.homie.base_topic"),
    ({"adapters": {"zigbee2mqtt": {"areas": {"Lamp": 3}}}}, "adapters.zigbee2mqtt.areas.Lamp"),
]


@pytest.mark.parametrize(("d", "path"), WRONG_TYPES, ids=[p for _, p in WRONG_TYPES])
def test_a_wrong_type_is_refused_with_its_key_path_never_coerced(d: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as err:
        ServeSettings.from_dict(d)
    assert err.value.message.startswith(f"{path} must be "), err.value.message
    assert err.value.code == "invalid_config"


def test_one_confidence_threshold_learning_has_none_of_its_own() -> None:
    """Two thresholds could disagree, and then answered turns would become defect signals."""
    with pytest.raises(ConfigError) as err:
        ServeSettings.from_dict({"learning": {"min_confidence": 0.5}})
    assert err.value.message.startswith("learning.min_confidence: removed; the top-level min_confidence")
    s = ServeSettings.from_dict({"min_confidence": 0.3, "learning": {"store": "x.sqlite3"}})
    assert s.min_confidence == 0.3 and not hasattr(s.learning, "min_confidence")


OUT_OF_RANGE = [
    ({"broker": {"keepalive_s": 4}}, "broker.keepalive_s"),
    ({"broker": {"reconnect": {"min_s": 0}}}, "broker.reconnect.min_s"),
    ({"limits": {"session_ttl_s": -1}}, "limits.session_ttl_s"),
    ({"min_confidence": 1.5}, "min_confidence"),
    ({"min_confidence": float("nan")}, "min_confidence"),
    ({"learning": {"min_global_sites": 0}}, "learning.min_global_sites"),
    ({"adapters": {"homie": {"max_payload_bytes": 0}}}, "adapters.homie.max_payload_bytes"),
]


@pytest.mark.parametrize(("d", "path"), OUT_OF_RANGE, ids=[p for _, p in OUT_OF_RANGE])
def test_a_number_out_of_range_is_refused_with_its_key_path(d: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as err:
        ServeSettings.from_dict(d)
    assert err.value.message.startswith(f"{path} must be "), err.value.message


UNKNOWN_KEYS = [
    ({"threads_": 1}, "config"),
    ({"broker": {"keep_alive": 30}}, "broker"),
    ({"broker": {"tls": {"enabled": True}}}, "broker.tls"),
    ({"broker": {"reconnect": {"min": 1}}}, "broker.reconnect"),
    ({"topics": {"edge-nlu": "x"}}, "topics"),
    ({"sites": {"k": {"screen": True}}}, "sites.k"),
    ({"limits": {"max_device": 1}}, "limits"),
    ({"learning": {"stor": "x"}}, "learning"),
    ({"learning": {"miner": {"min_suport": 4}}}, "learning.miner"),
    ({"learning": {"rewriter": {"topk": 4}}}, "learning.rewriter"),
    ({"adapters": {"zigbee2mqtt": {"area": {}}}}, "adapters.zigbee2mqtt"),
    ({"adapters": {"tasmota": {"devices": {"plug": {"room": "x"}}}}}, "adapters.tasmota.devices.plug"),
]


@pytest.mark.parametrize(("d", "path"), UNKNOWN_KEYS, ids=[p for _, p in UNKNOWN_KEYS])
def test_an_unknown_key_is_refused_with_its_section(d: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as err:
        ServeSettings.from_dict(d)
    assert err.value.message.startswith(f"{path}: unknown key(s) "), err.value.message


def test_null_takes_the_default_and_a_password_is_never_echoed() -> None:
    s = ServeSettings.from_dict({"threads": None, "topics": {"hermes": None}, "limits": None,
                                 "learning": {"retention_days": None, "miner": None}})
    assert s.threads == 1 and s.topics.hermes == "hermes" and s.limits == LimitSettings()
    assert s.learning is not None and s.learning.retention_days == 90.0 and s.learning.miner == LearnSettings().miner
    for d in ({"broker": {"username": "u", "password": 73519}}, {"learning": {"shared_secret": 73519}}):
        with pytest.raises(ConfigError) as err:
            ServeSettings.from_dict(d)
        assert "must be a string" in err.value.message and "73519" not in err.value.message


def test_adapter_options_are_checked_when_the_config_is_loaded() -> None:
    with pytest.raises(ConfigError, match="adapters.homie: unknown key"):
        ServeSettings.from_dict({"adapters": {"homie": {"bogus": 1}}})
    with pytest.raises(ConfigError, match="unknown adapter 'zwave'"):
        ServeSettings.from_dict({"adapters": ["zwave"]})


def test_the_services_threshold_is_the_learning_engines(tmp_path: Path) -> None:
    from edge_nlu.service.app import Service

    s = ServeSettings.from_dict({"broker": {"uri": "mqtt://127.0.0.1:1"}, "min_confidence": 0.35,
                                 "learning": {"store": str(tmp_path / "l.sqlite3")}})
    service = Service(s)
    assert service.learning is not None
    try:
        assert service.learning.engine.min_confidence == service.codec.min_confidence == 0.35
    finally:
        service.learning.store.close()
