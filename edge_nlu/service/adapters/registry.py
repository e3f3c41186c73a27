"""Adapters by config name: the service config lists names and per-adapter options."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from edge_nlu.errors import ConfigError
from edge_nlu.service.adapters.base import Adapter
from edge_nlu.service.adapters.ha_discovery import HaDiscoveryAdapter, HaDiscoveryConfig
from edge_nlu.service.adapters.homie import HomieAdapter, HomieConfig
from edge_nlu.service.adapters.tasmota import TasmotaAdapter, TasmotaConfig
from edge_nlu.service.adapters.zigbee2mqtt import Zigbee2MqttAdapter, Zigbee2MqttConfig


def _factories() -> dict[str, Callable[[Mapping[str, Any]], Adapter]]:
    return {
        Zigbee2MqttAdapter.name: lambda o: Zigbee2MqttAdapter(Zigbee2MqttConfig.from_options(o)),
        HaDiscoveryAdapter.name: lambda o: HaDiscoveryAdapter(HaDiscoveryConfig.from_options(o)),
        TasmotaAdapter.name: lambda o: TasmotaAdapter(TasmotaConfig.from_options(o)),
        HomieAdapter.name: lambda o: HomieAdapter(HomieConfig.from_options(o)),
    }


def adapter_names() -> list[str]:
    """Names `build_adapters` accepts."""
    return sorted(_factories())


def build_adapters(names: Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> list[Adapter]:
    """One fresh adapter per name, configured from `options[name]`; ConfigError for unknown names or options."""
    factories = _factories()
    options = options or {}
    if not isinstance(options, Mapping):
        raise ConfigError("adapter options must be a mapping of adapter name -> options")
    if isinstance(names, str):
        raise ConfigError("adapters must be a list of names, not one string")
    out: list[Adapter] = []
    seen: set[str] = set()
    for name in names:
        if name not in factories:
            raise ConfigError(f"unknown adapter {name!r}; known: {', '.join(sorted(factories))}")
        if name in seen:
            raise ConfigError(f"adapter {name!r} is listed twice")
        seen.add(name)
        opts = options.get(name)
        opts = {} if opts is None else opts
        if not isinstance(opts, Mapping):
            raise ConfigError(f"adapters.{name} must be a mapping of options")
        out.append(factories[name](opts))
    stray = sorted(str(k) for k in options if k not in seen)
    if stray:
        raise ConfigError(f"options given for adapter(s) not enabled: {', '.join(stray)}")
    return out
