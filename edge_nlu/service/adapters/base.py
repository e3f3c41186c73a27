"""What every adapter implements, and the error it raises for a message it cannot use."""

from __future__ import annotations

from typing import Protocol

from edge_nlu.domain.live_home import EntityUpdate
from edge_nlu.errors import EdgeNLUError, ErrorCode


class AdapterError(EdgeNLUError):
    """A message that does not fit the adapter's convention (wrong shape, wrong types, garbage)."""

    code = ErrorCode.BAD_DEVICE_MESSAGE


class CapReached(AdapterError):
    """A configured cap refused the message; the adapter has logged it once, the service only counts it."""

    code = ErrorCode.ADAPTER_CAP


class FixedTopics:
    """For a convention whose topics are known from the config alone (all but HA discovery, whose
    configs name further topics): nothing learned, nothing forgotten."""

    def extra_subscriptions(self) -> list[str]:
        return []

    def take_subscription_changes(self) -> tuple[list[str], list[str]]:
        return [], []


class Adapter(Protocol):
    """A topic convention. `handle` is pure: payload in, updates out; it never touches the network."""

    name: str
    """Short name used in config and counters (`zigbee2mqtt`, `ha_discovery`, `tasmota`, `homie`)."""

    def subscriptions(self) -> list[str]:
        """MQTT topic filters to subscribe to."""
        ...

    def handle(self, topic: str, payload: bytes) -> list[EntityUpdate]:
        """Updates for one message; raises AdapterError when the message cannot be used."""
        ...

    def extra_subscriptions(self) -> list[str]:
        """Topics learned from messages (HA discovery configs name their state topics)."""
        ...

    def take_subscription_changes(self) -> tuple[list[str], list[str]]:
        """(topics learned, topics forgotten) since the last call; both empty for fixed conventions."""
        ...
