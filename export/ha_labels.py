"""Home Assistant template samples as training examples in the model's own label scheme.

The model reads HWU64-style intents and slot types; the resolver turns them into HA's frame. A
sample from `export.ha_templates` carries HA's frame, so its label is found by asking the resolver:
for each candidate (model intent, slot types) in a fixed order, the sample's words with those
labels are resolved on the sample's home, and the first candidate whose action is the sample's
frame is the label. Samples no candidate reproduces keep the first candidate (the reading a person
would give), so the model still learns what was meant; the share each intent reaches is reported as
the resolver's ceiling on HA's templates.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import Profiles, load_profiles
from edge_nlu.domain.result import NLU, Action, Slot
from edge_nlu.model.context_segment import context_segment
from edge_nlu.resolve.resolver import resolve

from .ha_templates import TARGET_SLOTS, Sample, SampleSet, sample, slot_ok

_TIMER_INTENTS = frozenset({"HassStartTimer", "HassCancelTimer", "HassCancelAllTimers", "HassIncreaseTimer",
                            "HassDecreaseTimer", "HassPauseTimer", "HassUnpauseTimer", "HassTimerStatus"})
_LIST_INTENTS = frozenset({"HassListAddItem", "HassListCompleteItem", "HassShoppingListAddItem",
                           "HassShoppingListCompleteItem"})

CANDIDATES: dict[str, tuple[str, ...]] = {
    "HassGetState": ("iot_device_query",),
    "HassSetPosition": ("iot_cover_set",),
    "HassLightSet": ("iot_hue_lightchange", "iot_hue_lightdim", "iot_hue_lightup"),
    "HassClimateSetTemperature": ("iot_climate_set",),
    "HassClimateGetTemperature": ("iot_climate_query",),
    "HassShoppingListAddItem": ("lists_createoradd",),
    "HassListAddItem": ("lists_createoradd",),
    "HassShoppingListCompleteItem": ("lists_remove",),
    "HassListCompleteItem": ("lists_remove",),
    "HassGetWeather": ("weather_query",),
    "HassVacuumStart": ("iot_cleaning",),
    "HassVacuumReturnToBase": ("iot_cleaning",),
    "HassMediaPause": ("audio_volume_mute", "music_settings"),
    "HassMediaUnpause": ("media_resume",),
    "HassMediaNext": ("media_next", "music_settings"),
    "HassMediaPrevious": ("media_previous",),
    "HassSetVolume": ("audio_volume_up", "audio_volume_down"),
    "HassStartTimer": ("timer_set",),
    "HassCancelTimer": ("timer_control",),
    "HassCancelAllTimers": ("timer_control",),
    "HassIncreaseTimer": ("timer_control",),
    "HassDecreaseTimer": ("timer_control",),
    "HassPauseTimer": ("timer_control",),
    "HassUnpauseTimer": ("timer_control",),
    "HassTimerStatus": ("timer_control",),
    "HassNevermind": ("general_commandstop",),
    "HassRespond": ("general_quirky",),
    "HassBroadcast": ("broadcast",),
    "HassGetCurrentTime": ("datetime_query",),
    "HassGetCurrentDate": ("datetime_query",),
}
"""Model intents that can mean each HA intent, the natural reading first (HassTurnOn/Off: by domain)."""

_ON = {"light": "iot_hue_lighton", "cover": "iot_cover_open", "valve": "iot_cover_open", "lock": "iot_lock"}
_OFF = {"light": "iot_hue_lightoff", "cover": "iot_cover_close", "valve": "iot_cover_close", "lock": "iot_unlock"}

_SPAN_TYPES = {"area": "house_place", "floor": "floor_name", "device_class": "device_type",
               "brightness": "change_amount", "position": "change_amount", "volume_level": "change_amount",
               "temperature": "change_amount", "color": "color_type", "item": "item"}
"""HA slot -> the model's slot type, where it does not depend on the intent."""

_QUERY_TYPES = {"movie": "movie_name", "tv_show": "movie_name", "podcast": "podcast_name",
                "audiobook": "audiobook_name", "album": "music_album", "playlist": "playlist_name",
                "artist": "artist_name", "track": "song_name", "channel": "radio_name", "radio": "radio_name"}
_PLAY = {"movie_name": "play_video", "podcast_name": "play_podcasts", "audiobook_name": "play_audiobook",
         "radio_name": "play_radio"}
_DURATION = frozenset({"hours", "minutes", "seconds", "start_hours", "start_minutes", "start_seconds"})
_UNIT = re.compile(r"[\s-]*(?:hours?|minutes?|mins?|seconds?|secs?)\b")


@dataclass(frozen=True)
class Labelled:
    """One sample in the model's scheme, and whether the resolver turns that reading into HA's frame."""

    example: dict[str, Any]
    """The training record (`text`, `intent`, `slots`, `context`, `id`, `family`)."""
    reproduced: bool
    """The resolver, given these labels, acts exactly as HA's handler would."""


def frame_matches(s: Sample, action: Action | None) -> bool:
    """HA intent, exact targets where the sentence fixes them, and the value slots."""
    if action is None or action.intent != s.frame.intent:
        return False
    if s.frame.targets is not None and set(action.targets) != set(s.frame.targets):
        return False
    checked = {k: v for k, v in s.frame.slots.items() if s.frame.targets is None or k not in TARGET_SLOTS}
    return all(slot_ok(v, action.slots.get(k)) for k, v in checked.items())


def _domains(s: Sample) -> list[str]:
    doms = [t.split(".", 1)[0] for t in s.frame.targets or ()]
    d = s.frame.slots.get("domain")
    if isinstance(d, str):
        doms.append(d)
    elif isinstance(d, list):
        doms.extend(str(x) for x in d)
    return [k for k, _ in Counter(doms).most_common()]


def candidates(s: Sample) -> list[str]:
    """The model intents that may mean this sample, natural reading first."""
    ha = s.frame.intent
    if ha in ("HassTurnOn", "HassTurnOff"):
        table = _ON if ha == "HassTurnOn" else _OFF
        first = [table[d] for d in _domains(s) if d in table]
        rest = [*table.values(), "iot_wemo_on" if ha == "HassTurnOn" else "iot_wemo_off"]
        if ha == "HassTurnOff":
            rest.append("audio_volume_mute")
        return list(dict.fromkeys([*first, "iot_wemo_on" if ha == "HassTurnOn" else "iot_wemo_off", *rest]))
    if ha == "HassMediaSearchAndPlay":
        kind = _query_type(s)
        return list(dict.fromkeys([_PLAY.get(kind, "play_music"), "play_music", "play_video", "play_radio",
                                   "play_podcasts", "play_audiobook"]))
    return list(CANDIDATES.get(ha, ()))


def _query_type(s: Sample) -> str:
    cls = s.frame.slots.get("media_class")
    return _QUERY_TYPES.get(str(cls), "song_name") if cls else "song_name"


def slots_for(s: Sample, profiles: Profiles) -> list[dict[str, Any]]:
    """The sample's spans as the model's slot types; durations become one `time` span with their unit;
    kind words outside any span are `device_type`, as the generated data marks them."""
    out: list[dict[str, Any]] = []
    dur: list[tuple[int, int, bool]] = []
    ha = s.frame.intent
    for sp in s.spans:
        if sp.slot in _DURATION:
            dur.append((sp.start, sp.end, sp.slot.startswith("start_")))
            continue
        if sp.slot == "name":
            kind = "list_name" if ha in _LIST_INTENTS else None if ha in _TIMER_INTENTS else "device_name"
        elif sp.slot == "search_query":
            kind = _query_type(s)
        else:
            kind = _SPAN_TYPES.get(sp.slot)
        if kind is not None:
            out.append({"type": kind, "start": sp.start, "end": sp.end, "value": sp.value})
    for group in (sorted(d for d in dur if d[2]), sorted(d for d in dur if not d[2])):
        if group:  # the timer's starting duration and the change are two spans
            start, end = group[0][0], group[-1][1]
            m = _UNIT.match(s.text, end)
            end = m.end() if m else end
            out.append({"type": "time", "start": start, "end": end, "value": s.text[start:end]})
    taken = [(o["start"], o["end"]) for o in out]
    for w in sorted({w for k in profiles.kinds for w in k.words}, key=len, reverse=True):
        for m in re.finditer(rf"(?<![\w']){re.escape(w)}(?![\w'])", s.text):
            if all(m.end() <= a or m.start() >= b for a, b in taken):
                out.append({"type": "device_type", "start": m.start(), "end": m.end(), "value": m.group(0)})
                taken.append((m.start(), m.end()))
    return sorted(out, key=lambda o: o["start"])


def label(s: Sample, home: Home, profiles: Profiles) -> Labelled | None:
    """The sample as a training record; None for an HA intent the model has no reading of."""
    cands = candidates(s)
    if not cands:
        return None
    slots = slots_for(s, profiles)
    ctx = RequestContext.from_dict(dict(s.context))
    here = home.with_overrides(ctx.state_overrides)
    nlu_slots = tuple(Slot(o["type"], o["value"], o["start"], o["end"]) for o in slots)
    chosen, ok = cands[0], False
    for intent in cands:
        action, _ = resolve(NLU(intent, 1.0, nlu_slots), s.text, here, ctx, profiles)
        if frame_matches(s, action):
            chosen, ok = intent, True
            break
    ex = {"text": s.text, "intent": chosen, "slots": slots, "context": context_segment(here, ctx),
          "family": f"ha:{s.frame.intent}"}
    return Labelled(ex, ok)


def labelled(ss: SampleSet, profiles: Profiles | None = None) -> Iterator[tuple[Sample, Labelled | None]]:
    """Each sample of a set with its label (None: no reading), on its own home."""
    prof = profiles or load_profiles()
    for s in ss.samples:
        yield s, label(s, ss.homes[s.home], prof)


def label_set(ss: SampleSet, profiles: Profiles | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every sample of a set as records, and a report: per HA intent how many the resolver reproduces."""
    records: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    good: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for s, got in labelled(ss, profiles):
        if got is None:
            skipped[s.frame.intent] += 1
            continue
        seen[s.frame.intent] += 1
        good[s.frame.intent] += got.reproduced
        records.append({"id": f"ha-{len(records):05d}", **got.example})
    report = {"samples": len(records), "reproduced": sum(good.values()),
              "per_intent": {k: {"n": n, "reproduced": good[k]} for k, n in sorted(seen.items())},
              "no_reading": dict(skipped), "dropped_dev_twins": ss.dropped_dev_twins}
    return records, report


def training_examples(per_intent: int, seed: int, homes: int = 60,
                      intents: Iterable[str] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """HA template samples from the *train* pool, labelled; shuffled with the seed."""
    records, report = label_set(sample("train", per_intent, seed, homes=homes, intents=intents))
    random.Random(seed).shuffle(records)
    return records, report
