"""Which adapters want a device message: one trie walk per message, however many topics are learned.

Home Assistant discovery learns a state, attribute and availability topic per config; thousands of
configs name thousands of exact topics. Matching every message against every filter, or re-reading
the learned list per message, makes ingest quadratic in the number of configs. Here every filter
(a few wildcards per adapter plus the learned exact topics) sits in paho's topic trie, and adapters
report only what changed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from paho.mqtt.matcher import MQTTMatcher


class TopicRoutes:
    """Filter -> adapters (by index), with owners per filter so a filter two adapters share stays."""

    def __init__(self, per_adapter: Iterable[Iterable[str]] = ()) -> None:
        self._trie = MQTTMatcher()  # type: ignore[no-untyped-call]  # paho ships this trie untyped
        self._owners: dict[str, set[int]] = {}
        self._lock = threading.Lock()  # the ingest thread changes routes while the network thread reads filters()
        for i, filters in enumerate(per_adapter):
            self.add(i, filters)

    def add(self, adapter: int, filters: Iterable[str]) -> list[str]:
        """Route `filters` to `adapter`; returns those no adapter had (to subscribe)."""
        new: list[str] = []
        with self._lock:
            for f in filters:
                owners = self._owners.get(f)
                if owners is None:
                    owners = self._owners[f] = set()
                    self._trie[f] = owners
                    new.append(f)
                owners.add(adapter)
        return new

    def remove(self, adapter: int, filters: Iterable[str]) -> list[str]:
        """Stop routing `filters` to `adapter`; returns those no adapter wants any more (to unsubscribe)."""
        gone: list[str] = []
        with self._lock:
            for f in filters:
                owners = self._owners.get(f)
                if owners is None or adapter not in owners:
                    continue
                owners.discard(adapter)
                if not owners:
                    del self._owners[f]
                    del self._trie[f]  # type: ignore[no-untyped-call]
                    gone.append(f)
        return gone

    def match(self, topic: str) -> list[int]:
        """Adapters whose filters match `topic`, in adapter order (each once)."""
        found: set[int] = set()
        with self._lock:
            for owners in self._trie.iter_match(topic):  # type: ignore[no-untyped-call]
                found |= owners
        return sorted(found)

    def filters(self) -> list[str]:
        """Every routed filter, for (re)subscribing on connect."""
        with self._lock:
            return list(self._owners)

    def __len__(self) -> int:
        return len(self._owners)
