"""Device profiles: loading, bad files, and spoken words -> kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_nlu.domain.home import Entity
from edge_nlu.domain.profiles import DeviceKind, load_profiles, parse_profiles
from edge_nlu.errors import ConfigError


@pytest.fixture(scope="module")
def profiles():
    return load_profiles()


def test_shipped_profiles_load(profiles):
    light = profiles.kind("light")
    assert isinstance(light, DeviceKind)
    assert light.domain == "light" and "lights" in light.words
    oven = profiles.kind("oven")
    assert oven is not None and oven.cooking and oven.sensor == "temperature"
    assert profiles.kind("blind").device_class == "blind"


@pytest.mark.parametrize(
    ("phrase", "domain", "device_class"),
    [
        ("lights", "light", None),
        ("the lights", "light", None),
        ("all the lamps", "light", None),
        ("blinds", "cover", "blind"),
        ("the roller blinds", "cover", "blind"),
        ("curtains", "cover", "curtain"),
        ("the fan", "fan", None),
        ("heating", "climate", None),
        ("garage door", "cover", "garage"),
        ("tv", "media_player", "tv"),
        ("humidity", "sensor", "humidity"),
    ],
)
def test_kinds_for(profiles, phrase, domain, device_class):
    kinds = profiles.kinds_for(phrase)
    assert kinds, phrase
    assert (kinds[0].domain, kinds[0].device_class) == (domain, device_class)


def test_kinds_for_unknown_word(profiles):
    assert profiles.kinds_for("banana") == []
    assert profiles.kinds_for("") == []
    assert profiles.kinds_for("the") == []


def test_kind_matches_entities(profiles):
    blind = profiles.kind("blind")
    assert blind.matches(Entity(id="cover.a", name="A", attributes={"device_class": "blind"}))
    assert not blind.matches(Entity(id="cover.b", name="B", attributes={"device_class": "garage"}))
    # no device class in the snapshot: the name decides
    assert blind.matches(Entity(id="cover.c", name="Kitchen blinds"))
    assert not blind.matches(Entity(id="light.c", name="Kitchen blinds"))


def test_cooking_and_sensor(profiles):
    oven = Entity(id="switch.oven", name="Oven")
    fryer = Entity(id="switch.air_fryer", name="Air fryer")
    kettle = Entity(id="switch.kettle", name="Kettle")
    assert profiles.is_cooking(oven) and profiles.is_cooking(fryer)
    assert not profiles.is_cooking(kettle)
    assert profiles.sensor_class(fryer) == "temperature"
    assert profiles.kind_of(oven).name == "oven"


def test_load_from_path(tmp_path: Path):
    p = tmp_path / "p.yaml"
    p.write_text("types:\n  lamp:\n    domain: light\n    words: [lamp]\n")
    prof = load_profiles(p)
    assert [k.name for k in prof.kinds] == ["lamp"]
    assert prof.kinds[0].cooking is False


@pytest.mark.parametrize(
    "text",
    [
        "types: [",  # not YAML
        "- a\n- b\n",  # not a mapping
        "types: 3\n",
        "types:\n  x: 3\n",
        "types:\n  x:\n    words: [a]\n",  # no domain
        "types:\n  x:\n    domain: light\n    words: a\n",  # words not a list
        "types:\n  x:\n    domain: light\n    device_class: [a]\n",
    ],
)
def test_bad_yaml_is_config_error(text):
    with pytest.raises(ConfigError):
        parse_profiles(text)


def test_missing_file_is_config_error(tmp_path: Path):
    with pytest.raises(ConfigError):
        load_profiles(tmp_path / "nope.yaml")
