"""Adapters by config name: the service config lists names and per-adapter options."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from edge_nlu.errors import ConfigError
from edge_nlu.service.adapters.base import Adapter
from edge_nlu.service.adapters.ha_discovery import HaDiscoveryAdapter, HaDiscoveryConfig
from edge_nlu.service.adapters.homie import HomieAdapter, HomieConfig
from edge_nlu.service.adapters.tasmota import TasmotaAdapter, TasmotaConfig
from edge_nlu.service.adapters.zigbee2mqtt import Zigbee2MqttAdapter, Zigbee2MqttConfig


class _Options(Protocol):
    """An adapter's options dataclass."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Any:
        """Read `adapters.<name>`; ConfigError naming the key for anything it does not take."""
        ...


_ADAPTERS: dict[str, tuple[type[_Options], Callable[[Any], Adapter]]] = {
    Zigbee2MqttAdapter.name: (Zigbee2MqttConfig, Zigbee2MqttAdapter),
    HaDiscoveryAdapter.name: (HaDiscoveryConfig, HaDiscoveryAdapter),
    TasmotaAdapter.name: (TasmotaConfig, TasmotaAdapter),
    HomieAdapter.name: (HomieConfig, HomieAdapter),
}
"""Adapter name -> (its options' dataclass, its class)."""


def adapter_names() -> list[str]:
    """Names `build_adapters` accepts."""
    return sorted(_ADAPTERS)


def config_types() -> dict[str, type]:
    """Adapter name -> the dataclass its options are read into (`adapters.<name>` in the config)."""
    return {name: cls for name, (cls, _) in _ADAPTERS.items()}


def adapter_configs(names: Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None
                    ) -> list[tuple[str, Any]]:
    """(name, options read) per name, in order; ConfigError for unknown names or options."""
    options = options or {}
    if not isinstance(options, Mapping):
        raise ConfigError("adapter options must be a mapping of adapter name -> options")
    if isinstance(names, str):
        raise ConfigError("adapters must be a list of names, not one string")
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for name in names:
        if name not in _ADAPTERS:
            raise ConfigError(f"adapters: unknown adapter {name!r}; known: {', '.join(adapter_names())}")
        if name in seen:
            raise ConfigError(f"adapters: {name!r} is listed twice")
        seen.add(name)
        opts = options.get(name)
        out.append((name, _ADAPTERS[name][0].from_options({} if opts is None else opts)))
    stray = sorted(str(k) for k in options if k not in seen)
    if stray:
        raise ConfigError(f"adapters: options given for adapter(s) not enabled: {', '.join(stray)}")
    return out


def build_adapters(names: Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> list[Adapter]:
    """One fresh adapter per name, configured from `options[name]`; ConfigError for unknown names or options."""
    return [_ADAPTERS[name][1](config) for name, config in adapter_configs(names, options)]
