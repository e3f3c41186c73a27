"""Device kinds from devices/profiles.yaml: which HA domain and device class a spoken word means.

The resolver turns "the blinds" or "heating" into (domain, device_class) filters with this, so
the vocabulary lives in one data file shared with the training-data generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from edge_nlu.domain.home import Entity, norm
from edge_nlu.errors import ConfigError

_FILLER = {"the", "a", "an", "all", "my", "our", "some", "any", "every", "of", "those", "these"}


@dataclass(frozen=True)
class DeviceKind:
    """One kind of device (light, oven, blind, ...) as the profiles file describes it."""

    name: str
    """Profile key, e.g. `blind`."""
    domain: str
    """Home Assistant domain, e.g. `cover`."""
    device_class: str | None
    """Home Assistant device class, if the kind needs one to tell it apart."""
    words: tuple[str, ...]
    """Generic words people use for the kind ("blinds", "shades")."""
    names: tuple[str, ...]
    """Typical friendly names of such devices ("roller blind")."""
    cooking: bool = False
    """A cooking appliance whose temperature a room question may be about."""
    sensor: str | None = None
    """Device class of the sensor that reports this device's reading (e.g. `temperature`)."""
    by_name: bool = False
    """Domain and class are shared with a broader kind, so only the name tells (an oven)."""

    def matches(self, entity: Entity) -> bool:
        """Whether an entity of the home is of this kind (domain, then class or name)."""
        if entity.domain != self.domain:
            return False
        if self.by_name:
            return self.names_entity(entity)
        if self.device_class is None:
            return True
        if entity.device_class is not None:
            return entity.device_class == self.device_class
        # no device_class in the snapshot: fall back to the words in its names
        return any(_contains(norm(n), w) for n in entity.names() for w in self.words + self.names)

    def names_entity(self, entity: Entity) -> bool:
        """Whether an entity's name says it is this kind ("Kitchen oven" is an oven)."""
        if entity.domain != self.domain:
            return False
        return any(_contains(norm(n), w) for n in entity.names() for w in self.words + self.names)


def _contains(text: str, phrase: str) -> bool:
    phrase = norm(phrase)
    return bool(phrase) and f" {phrase} " in f" {text} "


@dataclass(frozen=True)
class Profiles:
    """All device kinds; passed to the resolver rather than kept in a global."""

    kinds: tuple[DeviceKind, ...]
    """Kinds in file order."""

    @cached_property
    def kind_words(self) -> frozenset[str]:
        """Every generic kind word, normalised; computed once, it is read on every request."""
        return frozenset(norm(w) for k in self.kinds for w in k.words)

    def kind(self, name: str) -> DeviceKind | None:
        """A kind by its profile key."""
        return next((k for k in self.kinds if k.name == name), None)

    def kinds_for(self, phrase: str) -> list[DeviceKind]:
        """Kinds a spoken word or phrase means ("the lights" -> light); empty if none.

        The whole phrase is tried first, then its longest known sub-phrase, then a naive
        singular, so "the big blinds" and "roller blinds" still resolve.
        """
        words = [w for w in norm(phrase).split() if w not in _FILLER]
        if not words:
            return []
        for size in range(len(words), 0, -1):
            for start in range(len(words) - size + 1):
                part = " ".join(words[start : start + size])
                found = self._exact(part)
                if not found and part.endswith("s"):
                    found = self._exact(part[:-1])
                if found:
                    return found
        return []

    def _exact(self, word: str) -> list[DeviceKind]:
        return [k for k in self.kinds if word in (norm(w) for w in k.words)]

    @cached_property
    def _vocab(self) -> dict[str, int]:
        """Kind words -> their place in `words_in`'s order (longest first); computed once."""
        return {w: i for i, w in enumerate(sorted(self.kind_words, key=len, reverse=True))}

    @cached_property
    def _vocab_span(self) -> int:
        """Most words in one kind word."""
        return max((len(w.split(" ")) for w in self._vocab), default=0)

    def words_in(self, text: str) -> list[tuple[str, int, int]]:
        """Every kind word in a normalised text as (word, start, end), longest first.

        Looks up the text's word runs in the vocabulary rather than searching the text for every word of
        it (it runs twice per request)."""
        vocab = self._vocab
        if "" in vocab:  # cannot happen with the shipped profiles; keep the plain search's meaning
            return self._words_in_slow(text)
        tokens = text.split(" ")
        starts, pos = [], 0
        for tok in tokens:
            starts.append(pos)
            pos += len(tok) + 1
        found: list[tuple[str, int, int]] = []
        for i in range(len(tokens)):
            for n in range(1, min(self._vocab_span, len(tokens) - i) + 1):
                w = " ".join(tokens[i:i + n])
                if w in vocab:
                    found.append((w, starts[i], starts[i] + len(w)))
        found.sort(key=lambda f: (vocab[f[0]], f[1]))
        return found

    def _words_in_slow(self, text: str) -> list[tuple[str, int, int]]:
        padded = f" {text} "
        found: list[tuple[str, int, int]] = []
        for w in self._vocab:
            for m in re.finditer(rf"(?<= ){re.escape(w)}(?= )", padded):
                found.append((w, m.start() - 1, m.end() - 1))
        return found

    def kind_of(self, entity: Entity) -> DeviceKind | None:
        """The most specific kind an entity belongs to (named kinds beat bare domain)."""
        named = [k for k in self.kinds if k.names_entity(entity)]
        if named:
            return max(named, key=lambda k: (k.device_class is not None, k.cooking))
        matching = [k for k in self.kinds if k.matches(entity)]
        if not matching:
            return None
        return max(matching, key=lambda k: k.device_class is not None)

    def is_cooking(self, entity: Entity) -> bool:
        """Whether an entity is a cooking appliance (oven, air fryer) by its names."""
        return any(k.cooking and k.names_entity(entity) for k in self.kinds)

    def sensor_class(self, entity: Entity) -> str | None:
        """The sensor device class that reports this appliance's reading, if any."""
        for k in self.kinds:
            if k.sensor and k.names_entity(entity):
                return k.sensor
        return None


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def parse_profiles(text: str, source: str = "profiles") -> Profiles:
    """Build Profiles from YAML text; anything malformed is a ConfigError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("types"), dict):
        raise ConfigError(f"{source} must be a mapping with a 'types' mapping")
    kinds: list[DeviceKind] = []
    for name, d in data["types"].items():
        where = f"{source}: types.{name}"
        if not isinstance(d, dict):
            raise ConfigError(f"{where} must be a mapping")
        domain = d.get("domain")
        if not isinstance(domain, str) or not domain:
            raise ConfigError(f"{where}.domain must be a non-empty string")
        dc = d.get("device_class")
        sensor = d.get("sensor")
        if dc is not None and not isinstance(dc, str):
            raise ConfigError(f"{where}.device_class must be a string")
        if sensor is not None and not isinstance(sensor, str):
            raise ConfigError(f"{where}.sensor must be a string")
        kinds.append(
            DeviceKind(
                name=str(name),
                domain=domain,
                device_class=dc,
                words=_str_tuple(d.get("words"), f"{where}.words"),
                names=_str_tuple(d.get("names"), f"{where}.names"),
                cooking=bool(d.get("cooking", False)),
                sensor=sensor,
            )
        )
    seen: set[tuple[str, str | None]] = set()
    for i, k in enumerate(kinds):
        key = (k.domain, k.device_class)
        if key in seen:  # a later kind of the same domain and class: known by its names
            kinds[i] = replace(k, by_name=True)
        seen.add(key)
    return Profiles(kinds=tuple(kinds))


def _default_text() -> tuple[str, str]:
    """The shipped profiles file: the installed package data, else the repo's devices/."""
    try:
        from importlib.resources import files

        res = files("edge_nlu.devices").joinpath("profiles.yaml")
        if res.is_file():
            return res.read_text(encoding="utf-8"), str(res)
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        pass
    path = Path(__file__).resolve().parents[2] / "devices" / "profiles.yaml"
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ConfigError(f"cannot read device profiles {path}: {exc.strerror or exc}") from exc


def load_profiles(path: str | Path | None = None) -> Profiles:
    """Load device profiles from `path`, or the shipped devices/profiles.yaml."""
    if path is None:
        text, source = _default_text()
    else:
        p = Path(path)
        try:
            text, source = p.read_text(encoding="utf-8"), str(p)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read device profiles {p}: {exc}") from exc
    return parse_profiles(text, source)
