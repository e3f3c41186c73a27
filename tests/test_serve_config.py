"""Service settings: URI parsing, file formats, validation messages, dict round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge_nlu.errors import ConfigError
from edge_nlu.service.config import (
    DEFAULT_ADAPTERS,
    LimitSettings,
    ServeSettings,
    load_serve_settings,
    parse_broker_uri,
    read_config_file,
    redact_uri,
)
from tests.conftest import ROOT

EXAMPLE = ROOT / "devices" / "serve.example.yaml"


def test_example_config_loads_and_round_trips() -> None:
    s = load_serve_settings(None, EXAMPLE)
    assert s.broker.uri == "mqtt://127.0.0.1:1883"
    assert s.adapters == ("zigbee2mqtt", "ha_discovery")
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
