"""Covers by Home Assistant's device classes: 'open the awning', 'close every gate', 'the windows to 30'.

HA's cover sentences name a cover by its device class (its cover_classes list: awning, blind,
curtain, door, garage, gate, shade, shutter, window). The device profiles know only some of them,
and know a shade as a blind and a door as a lock; for an open/close/position request the class the
words say decides, where the home has such covers.
"""

from __future__ import annotations

from edge_nlu.domain.home import Entity
from edge_nlu.domain.profiles import DeviceKind

COVER_CLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("garage", ("garage door", "garage doors")),
    ("awning", ("awning", "awnings")),
    ("blind", ("blind", "blinds")),
    ("curtain", ("curtain", "curtains")),
    ("door", ("door", "doors")),
    ("gate", ("gate", "gates")),
    ("shade", ("shade", "shades")),
    ("shutter", ("shutter", "shutters")),
    ("window", ("window", "windows")),
)
"""HA's cover device classes and the words that say them, the longest phrase first."""
COVER_KINDS = tuple(DeviceKind(name=f"cover_{cls}", domain="cover", device_class=cls, words=words, names=())
                    for cls, words in COVER_CLASSES)
"""The classes as device kinds (a cover of that class, or one its name says is)."""
COVER_WORDS = frozenset(w for _, words in COVER_CLASSES for w in words)
"""Every word that says a cover class: a kind of device, not one device's name."""


def cover_kinds(text: str) -> list[DeviceKind]:
    """The cover classes a normalised text names ('the garage door' is a garage, not a door); pass it
    with the names of devices and rooms blanked."""
    padded = f" {' '.join(text.split())} "
    found: list[DeviceKind] = []
    for kind in COVER_KINDS:
        hits = [w for w in kind.words if f" {w} " in padded]
        if hits:
            found.append(kind)
            for w in hits:
                padded = padded.replace(f" {w} ", " ")
    return found


def by_class(text: str, pool: list[Entity]) -> list[DeviceKind]:
    """The cover classes the text names that the pool has covers of; empty when it has none (the device
    profiles decide then)."""
    kinds = cover_kinds(text)
    return kinds if any(k.matches(e) for e in pool for k in kinds) else []
