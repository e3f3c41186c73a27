"""Generated training data for what HWU64 lacks: home actions over a home, and requests whose
meaning depends on the context (device state, the satellite's room and screen, the previous turn).

Each family draws a random home, a random context and a phrasing, and labels the text with
the intent the context implies. Phrasings are written in `[slot_type:value]` markup. Any text
that matches a development-set sentence (SLURP devel, the context dev set) after the data
README's dedup normalisation is dropped, so those sets stay honest.
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Entity, Home
from edge_nlu.domain.profiles import DeviceKind
from edge_nlu.model.context_segment import context_segment

from .homes import HomeBuilder

Example = dict[str, Any]
T = TypeVar("T")
_MARK = re.compile(r"\[([a-z_]+):([^\]]+)\]")


def render(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """`turn on the [device_name:desk lamp]` -> text and character-offset slots."""
    text, pos = "", 0
    slots: list[dict[str, Any]] = []
    for m in _MARK.finditer(markup):
        text += markup[pos:m.start()]
        start = len(text)
        text += m.group(2)
        slots.append({"type": m.group(1), "start": start, "end": len(text), "value": m.group(2)})
        pos = m.end()
    text += markup[pos:]
    text = " ".join(text.split())
    # re-find offsets after whitespace collapsing
    out: list[dict[str, Any]] = []
    cursor = 0
    for s in slots:
        i = text.find(s["value"], cursor)
        out.append({**s, "start": i, "end": i + len(s["value"])})
        cursor = i + len(s["value"])
    return text, out


def dedup_key(text: str) -> str:
    """The data README's normalisation: lowercase, no punctuation, single spaces."""
    t = "".join(
        c for c in text.lower()
        if c not in string.punctuation and not unicodedata.category(c).startswith("P")
    )
    return " ".join(t.split())


NUM_WORDS = {
    10: "ten", 15: "fifteen", 20: "twenty", 25: "twenty five", 30: "thirty", 40: "forty",
    50: "fifty", 60: "sixty", 70: "seventy", 75: "seventy five", 80: "eighty", 90: "ninety",
    100: "a hundred", 5: "five", 2: "two", 3: "three", 12: "twelve", 45: "forty five",
    16: "sixteen", 17: "seventeen", 18: "eighteen", 19: "nineteen", 21: "twenty one",
    22: "twenty two", 23: "twenty three", 24: "twenty four", 8: "eight", 1: "one",
}
COLORS = ["red", "blue", "green", "warm white", "purple", "orange", "pink", "yellow", "cool white",
          "daylight", "teal", "soft white"]
GENRES = ["jazz", "rock", "classical music", "hip hop", "lo-fi", "country", "blues", "pop",
          "reggae", "metal", "soul", "folk", "techno", "indie rock", "bossa nova", "disco"]
ARTISTS = ["adele", "coldplay", "nina simone", "the beatles", "taylor swift", "radiohead",
           "bob marley", "daft punk", "ella fitzgerald", "queen", "kendrick lamar", "abba"]
SONGS = ["yellow", "hey jude", "bohemian rhapsody", "dancing queen", "clocks", "respect",
         "feeling good", "get lucky", "redemption song", "creep", "hello", "vienna"]
# Titles that exist both as a book and as a film: the screen decides.
TITLES = ["the hobbit", "jurassic park", "the martian", "gone girl", "the shining", "matilda",
          "frankenstein", "emma", "the godfather", "it", "the road", "coraline", "holes",
          "the great gatsby", "life of pi", "the color purple", "rebecca", "wonder", "the help",
          "atonement", "the firm", "misery", "jaws", "the outsiders", "shogun", "persuasion",
          "the witcher", "anne of green gables", "the hunger games", "dracula", "stardust",
          "the giver", "pride and prejudice", "the secret garden", "the maze runner", "inferno"]
SHOWS = ["the office", "friends", "the crown", "stranger things", "bluey", "the bear",
         "severance", "succession", "the wire", "planet earth"]
PODCASTS = ["the daily", "radiolab", "serial", "this american life", "freakonomics",
            "no such thing as a fish", "the rest is history", "in our time"]
PLAYLISTS = ["morning mix", "workout", "chill vibes", "dinner party", "road trip", "focus"]
ITEMS = ["eggs", "bread", "milk", "bananas", "coffee beans", "dish soap", "tomatoes", "rice",
         "butter", "toilet paper", "apples", "olive oil", "cheddar", "yoghurt", "batteries"]
USERS = ["sam", "jo", "priya", "lee", "ana", "max", "kim", "noah"]


@dataclass
class Draw:
    """One drawn home and context, and helpers to phrase requests about them."""

    home: Home
    """The home."""
    rng: random.Random
    """Shared random source."""
    kinds: dict[str, DeviceKind]
    """Device kinds."""

    def __post_init__(self) -> None:
        self.area = self.rng.choice(self.home.areas)
        self.ctx: dict[str, Any] = {}

    def p(self, x: float) -> bool:
        return self.rng.random() < x

    def c(self, seq: Sequence[T]) -> T:
        return self.rng.choice(seq)

    def ents(self, domain: str, area_id: str | None = None, dc: str | None = None) -> list[Entity]:
        return [
            e for e in self.home.entities
            if e.domain == domain and (area_id is None or e.area == area_id)
            and (dc is None or e.device_class == dc)
        ]

    def place(self) -> str:
        return self.c([" in here", "", "", " in this room"])

    def num(self, choices: list[int], unit: str) -> str:
        n = self.c(choices)
        spoken = NUM_WORDS.get(n, str(n)) if self.p(0.35) else str(n)
        if unit == "%":
            return self.c([f"{spoken} percent", f"{spoken}%", f"{spoken} per cent"]) if spoken.isdigit() \
                else f"{spoken} percent"
        if unit == "deg":
            return self.c([f"{spoken} degrees", spoken, f"{spoken} degrees celsius"])
        return spoken

    def satellite(self, screen: bool | None = None) -> None:
        if screen is None:
            screen = self.p(0.35)
        self.ctx["area"] = self.area.name if self.p(0.8) else self.area.id
        self.ctx["satellite"] = {"id": f"{self.area.id}-sat", "has_screen": screen}
        hour = self.rng.randint(0, 23)
        self.ctx["time"] = f"2026-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}T{hour:02d}:{self.rng.randint(0, 59):02d}:00"
        if self.p(0.3):
            self.ctx["user"] = self.c(USERS)

    def override(self, e: Entity, state: str, **attrs: Any) -> None:
        ov = self.ctx.setdefault("state_overrides", {})
        ov[e.id] = {"state": state, **({"attributes": attrs} if attrs else {})}

    def history(self, text: str, intent: str, targets: list[str], slots: dict[str, Any] | None = None) -> None:
        self.ctx.setdefault("history", []).append(
            {"text": text, "action": {"intent": intent, "targets": targets, "slots": slots or {}}}
        )

    def noise(self) -> None:
        """Context that must not change the meaning: other devices active, an unrelated turn."""
        if self.p(0.3):
            cands = self.ents("switch", self.area.id) + self.ents("fan", self.area.id)
            if cands:
                self.override(self.c(cands), "on")
        if self.p(0.15):
            self.history("what time is it", "HassGetCurrentTime", [])


def _name(e: Entity) -> str:
    return e.name.lower()


def _word(d: Draw, kind: str) -> str:
    return str(d.c(d.kinds[kind].words[:3]))


# --- families: each returns (markup, intent) or None, and fills d.ctx -----------------------


def fam_light_onoff(d: Draw) -> tuple[str, str] | None:
    on = d.p(0.5)
    lights = d.ents("light", d.area.id)
    if not lights:
        return None
    v_on = ["turn on", "switch on", "put on", "turn on", "light up"]
    v_off = ["turn off", "switch off", "shut off", "kill", "turn off"]
    verb = d.c(v_on if on else v_off)
    word = d.c(["lights", "lights", "light", "lamps"])
    intent = "iot_hue_lighton" if on else "iot_hue_lightoff"
    r = d.rng.random()
    if r < 0.35:
        d.satellite()
        tail = " please" if d.p(0.2) else ""
        m = d.c([f"{verb} the [device_type:{word}]{d.place()}{tail}",
                 f"[device_type:{word}] {'on' if on else 'off'}{tail}",
                 f"{verb.split()[0]} the [device_type:{word}] {verb.split()[1] if ' ' in verb else ''}",
                 f"can you {verb} the [device_type:{word}]"])
    elif r < 0.65:
        d.satellite() if d.p(0.8) else None
        room = d.area.name.lower()
        m = d.c([f"{verb} the [device_type:{word}] in the [house_place:{room}]",
                 f"{verb} the [house_place:{room}] [device_type:{word}]",
                 f"[house_place:{room}] [device_type:{word}] {'on' if on else 'off'}"])
    elif r < 0.9:
        d.satellite() if d.p(0.7) else None
        e = d.c(lights)
        m = d.c([f"{verb} the [device_name:{_name(e)}]", f"[device_name:{_name(e)}] {'on' if on else 'off'}",
                 f"please {verb} the [device_name:{_name(e)}]"])
    else:
        d.satellite() if d.p(0.6) else None
        fl = d.c(d.home.floors).name.lower()
        m = d.c([f"{verb} all the [device_type:lights] [floor_name:{fl}]",
                 f"{verb} the [device_type:lights] on the [floor_name:{fl}]"])
    d.noise()
    return m, intent


def fam_switch_onoff(d: Draw) -> tuple[str, str] | None:
    cands = d.ents("switch") + d.ents("fan")
    if not cands:
        return None
    e = d.c(cands)
    on = d.p(0.5)
    verb = d.c(["turn on", "switch on", "start", "power on"] if on else ["turn off", "switch off", "stop", "power off"])
    d.satellite() if d.p(0.8) else None
    if e.domain == "fan" and d.p(0.5) and e.area:
        d.area = d.home.area(e.area) or d.area
        d.satellite()
        m = d.c([f"{verb} the [device_type:fan]{d.place()}", f"[device_type:fan] {'on' if on else 'off'}"])
    else:
        m = d.c([f"{verb} the [device_name:{_name(e)}]", f"[device_name:{_name(e)}] {'on' if on else 'off'}",
                 f"could you {verb} the [device_name:{_name(e)}]"])
    d.noise()
    return m, "iot_wemo_on" if on else "iot_wemo_off"


def fam_light_set(d: Draw) -> tuple[str, str] | None:
    lights = d.ents("light")
    if not lights:
        return None
    e = d.c(lights)
    d.satellite() if d.p(0.7) else None
    r = d.rng.random()
    if r < 0.45:
        amt = d.num([10, 20, 25, 30, 40, 50, 60, 70, 75, 80], "%")
        m = d.c([f"dim the [device_name:{_name(e)}] to [change_amount:{amt}]",
                 f"set the [device_name:{_name(e)}] to [change_amount:{amt}]",
                 f"[device_name:{_name(e)}] brightness [change_amount:{amt}]",
                 f"set the [device_type:lights] to [change_amount:{amt}]"])
        return m, "iot_hue_lightdim"
    if r < 0.7:
        col = d.c(COLORS)
        m = d.c([f"make the [device_name:{_name(e)}] [color_type:{col}]",
                 f"turn the [device_name:{_name(e)}] [color_type:{col}]",
                 f"change the [device_type:lights] to [color_type:{col}]",
                 f"set the [device_name:{_name(e)}] colour to [color_type:{col}]"])
        return m, "iot_hue_lightchange"
    if r < 0.85:
        m = d.c([f"brighten the [device_name:{_name(e)}]", "make the [device_type:lights] brighter",
                 f"turn up the [device_name:{_name(e)}]", "brighter lights please"])
        return m, "iot_hue_lightup"
    m = d.c([f"dim the [device_name:{_name(e)}]", "dim the [device_type:lights] a bit",
             f"turn down the [device_name:{_name(e)}]", "the lights are too bright"])
    return m, "iot_hue_lightdim"


def fam_cover(d: Draw) -> tuple[str, str] | None:
    covers = d.ents("cover") + d.ents("valve")
    if not covers:
        return None
    e = d.c(covers)
    if e.area:
        d.area = d.home.area(e.area) or d.area
    d.satellite() if d.p(0.8) else None
    nm = _name(e)
    generic = e.domain == "cover" and d.p(0.5)
    word = (e.device_class or "blind") + "s" if generic else ""
    target = f"[device_type:{word}]" if generic else f"[device_name:{nm}]"
    r = d.rng.random()
    if r < 0.35:
        m = d.c([f"open the {target}", f"raise the {target}", f"open the {target} please",
                 f"can you open the {target}"])
        return m, "iot_cover_open"
    if r < 0.7:
        m = d.c([f"close the {target}", f"shut the {target}", f"lower the {target}",
                 f"close the {target} now"])
        return m, "iot_cover_close"
    amt = d.c(["halfway", "half way", "a quarter of the way"]) if d.p(0.3) else d.num([10, 20, 25, 30, 40, 60, 70, 75], "%")
    if amt.startswith("half") or amt.startswith("a quarter"):
        m = d.c([f"open the {target} [change_amount:{amt}]", f"close the {target} [change_amount:{amt}]"])
    else:
        m = d.c([f"set the {target} to [change_amount:{amt}]", f"open the {target} to [change_amount:{amt}]",
                 f"move the {target} to [change_amount:{amt}]"])
    return m, "iot_cover_set"


def fam_lock(d: Draw) -> tuple[str, str] | None:
    locks = d.ents("lock")
    if not locks:
        return None
    e = d.c(locks)
    d.satellite() if d.p(0.7) else None
    lock = d.p(0.5)
    v = "lock" if lock else "unlock"
    m = d.c([f"{v} the [device_name:{_name(e)}]", f"please {v} the [device_name:{_name(e)}]",
             f"{v} [device_name:{_name(e)}]", f"can you {v} the [device_name:{_name(e)}]"])
    return m, "iot_lock" if lock else "iot_unlock"


def fam_climate_set(d: Draw) -> tuple[str, str] | None:
    d.satellite()
    r = d.rng.random()
    if r < 0.45:
        amt = d.num([16, 17, 18, 19, 20, 21, 22, 23, 24], "deg")
        cl = d.ents("climate")
        if cl and d.p(0.4):
            e = d.c(cl)
            m = d.c([f"set the [device_name:{_name(e)}] to [change_amount:{amt}]",
                     f"[device_name:{_name(e)}] to [change_amount:{amt}]"])
        elif d.p(0.4):
            m = d.c([f"set the [device_type:heating] in the [house_place:{d.c(d.home.areas).name.lower()}] to [change_amount:{amt}]",
                     f"set the [house_place:{d.c(d.home.areas).name.lower()}] [device_type:thermostat] to [change_amount:{amt}]"])
        else:
            m = d.c([f"set the [device_type:heating] to [change_amount:{amt}]",
                     f"set the [device_type:thermostat] to [change_amount:{amt}]",
                     f"change the [device_type:temperature] to [change_amount:{amt}]",
                     f"heat the room to [change_amount:{amt}]", f"set the [device_type:ac] to [change_amount:{amt}]"])
    else:
        m = d.c(["make it warmer", "make it warmer in here", "it's cold in here", "turn up the heat",
                 "turn the [device_type:heating] up", "i'm freezing", "make it cooler", "cool it down in here",
                 "turn the [device_type:heating] down", "it's too hot in here", "warm it up a bit",
                 "bump up the [device_type:temperature]", "lower the [device_type:temperature]",
                 "raise the [device_type:temperature] a little", "can you make it a bit warmer",
                 "it is chilly in here", "turn down the heat please"])
    d.noise()
    return m, "iot_climate_set"


def fam_temperature_q(d: Draw) -> tuple[str, str] | None:
    """Where context decides: appliance on -> its temperature; else the room; no context -> weather."""
    phr = ["what's the temperature", "what is the temperature", "how hot is it", "what's the temp",
           "what temperature is it", "tell me the temperature", "how warm is it",
           "what's the temperature right now", "temperature please", "how hot is it now"]
    m = d.c(phr) + d.c(["", "", "?"])
    cooks = [e for e in d.ents("switch", d.area.id) if e.name.lower() in d.kinds["oven"].names]
    r = d.rng.random()
    if r < 0.15:
        return m, "weather_query"  # no context at all: an outdoor question
    d.satellite()
    if cooks and r < 0.6:
        d.override(d.c(cooks), "on")
        if d.p(0.2):
            return m.rstrip("?") + " in here", "iot_climate_query"
        return m, "iot_device_query"
    if d.p(0.2):
        room = d.c(d.home.areas).name.lower()
        m = d.c([f"what's the temperature in the [house_place:{room}]", f"how warm is the [house_place:{room}]",
                 f"how cold is it in the [house_place:{room}]", f"what's the [house_place:{room}] temperature"])
    if d.p(0.15):
        m = d.c(["what's the temperature outside", "how cold is it outside", "is it warm outside",
                 "what's the temperature outdoors"])
        return m, "weather_query"
    d.noise()
    return m, "iot_climate_query"


def fam_device_q(d: Draw) -> tuple[str, str] | None:
    d.satellite() if d.p(0.8) else None
    r = d.rng.random()
    ents = [e for e in d.home.entities if e.domain in ("light", "switch", "fan", "lock", "cover", "valve")]
    if r < 0.55 and ents:
        e = d.c(ents)
        st = {"lock": ["locked", "unlocked"], "cover": ["open", "closed"], "valve": ["open", "closed"]}
        word = d.c(st.get(e.domain, ["on", "off"]))
        m = d.c([f"is the [device_name:{_name(e)}] {word}", f"is the [device_name:{_name(e)}] {word}?",
                 f"did i leave the [device_name:{_name(e)}] {word}", f"check if the [device_name:{_name(e)}] is {word}"])
        return m, "iot_device_query"
    sensors = d.ents("sensor")
    if sensors:
        e = d.c(sensors)
        if e.device_class == "humidity":
            room = (d.home.area(e.area) or d.area).name.lower()
            m = d.c([f"how humid is it in the [house_place:{room}]", f"what's the humidity in the [house_place:{room}]",
                     f"[house_place:{room}] humidity"])
        else:
            m = d.c([f"what's the [device_name:{_name(e)}]", f"what is the [device_name:{_name(e)}] reading",
                     f"how hot is the [device_name:{_name(e).replace(' temperature', '')}]"])
        return m, "iot_device_query"
    return None


def fam_media_control(d: Draw) -> tuple[str, str] | None:
    players = d.ents("media_player", d.area.id)
    if not players:
        return None
    d.satellite(screen=any(p.device_class == "tv" for p in players) and d.p(0.7))
    p = d.c(players)
    kind = d.c(["pause", "resume", "next", "previous", "down", "up"])
    d.override(p, "paused" if kind == "resume" else "playing")
    opts = {
        "pause": (["pause", "pause please", "pause it", "pause the music", "hold on pause that", "pause the tv",
                   "stop the music", "pause for a second", "can you pause"], "audio_volume_mute"),
        "resume": (["resume", "carry on", "keep playing", "continue playing", "unpause", "resume playback",
                    "play again", "start it again", "continue", "unpause it please"], "media_resume"),
        "next": (["next", "skip", "skip this song", "next track", "next episode", "play the next one",
                  "skip ahead", "next song please", "skip it"], "media_next"),
        "previous": (["previous", "go back", "previous track", "back one song", "play that last song again",
                      "go back a track", "previous episode", "the song before"], "media_previous"),
        "down": (["turn it down", "turn it down a bit", "quieter", "volume down", "lower the volume",
                  "turn the volume down", "too loud", "a bit quieter please"], "audio_volume_down"),
        "up": (["turn it up", "louder", "volume up", "turn the volume up a little", "crank it up",
                "i can't hear it", "raise the volume"], "audio_volume_up"),
    }
    phr, intent = opts[kind]
    m = d.c(phr)
    if kind in ("down", "up") and d.p(0.2):
        amt = d.num([10, 20, 30, 40, 50], "%")
        m = f"set the volume to [change_amount:{amt}]"
    d.noise()
    return m, intent


def fam_play(d: Draw) -> tuple[str, str] | None:
    screen = d.p(0.5)
    d.satellite(screen=screen)
    r = d.rng.random()
    verb = d.c(["play", "put on", "play", "start", "i want to hear" if not screen else "i want to watch"])
    if r < 0.4:
        t = d.c(TITLES)
        if screen:
            return f"{verb} [movie_name:{t}]", "play_video"
        return f"{verb} [audiobook_name:{t}]", "play_audiobook"
    if r < 0.5:
        t = d.c(SHOWS)
        return d.c([f"put on [movie_name:{t}]", f"watch [movie_name:{t}]", f"play the next episode of [movie_name:{t}]"]), "play_video"
    if r < 0.65:
        return d.c([f"play some [music_genre:{d.c(GENRES)}]", f"put on some [music_genre:{d.c(GENRES)}]",
                    f"play [song_name:{d.c(SONGS)}] by [artist_name:{d.c(ARTISTS)}]",
                    f"play [artist_name:{d.c(ARTISTS)}]", f"play my [playlist_name:{d.c(PLAYLISTS)}] playlist"]), "play_music"
    if r < 0.75:
        return d.c([f"play the [podcast_name:{d.c(PODCASTS)}] podcast", f"play [podcast_name:{d.c(PODCASTS)}]",
                    "play my podcast", "put on the latest episode of my podcast"]), "play_podcasts"
    if r < 0.85:
        return d.c([f"play the audiobook [audiobook_name:{d.c(TITLES)}]", f"read me [audiobook_name:{d.c(TITLES)}]",
                    "continue my audiobook"]), "play_audiobook"
    if screen and d.p(0.5):
        return d.c([f"play the movie [movie_name:{d.c(TITLES)}]", f"show [movie_name:{d.c(TITLES)}] on the tv"]), "play_video"
    # habits: content left out, the history says what this user plays
    g = d.c(GENRES)
    d.ctx["user"] = d.c(USERS)
    for _ in range(d.rng.randint(1, 3)):
        d.history(d.c([f"play {g}", f"put on some {g}", f"play some {g}"]), "HassMediaSearchAndPlay", [],
                  {"search_query": g})
    return d.c(["play some music", "play music", "put some music on", "play my usual music", "music please"]), "play_music"


def fam_vacuum(d: Draw) -> tuple[str, str] | None:
    vacs = d.ents("vacuum")
    if not vacs:
        return None
    d.satellite() if d.p(0.85) else None
    r = d.rng.random()
    room = d.c(d.home.areas).name.lower()
    if r < 0.4:
        m = d.c(["vacuum in here", "vacuum this room", "clean this room", "hoover in here please",
                 "can you vacuum here"])
    elif r < 0.75:
        m = d.c([f"vacuum the [house_place:{room}]", f"clean the [house_place:{room}]",
                 f"hoover the [house_place:{room}]", f"send the robot to clean the [house_place:{room}]"])
    else:
        m = d.c([f"start the [device_name:{_name(d.c(vacs))}]", "start vacuuming", f"run the [device_name:{_name(d.c(vacs))}]"])
    return m, "iot_cleaning"


def fam_pronoun(d: Draw) -> tuple[str, str] | None:
    """'it', 'them', 'that': the previous turn's devices decide the meaning."""
    cands = [e for e in d.home.entities if e.domain in ("light", "switch", "fan", "cover", "valve", "lock", "media_player")]
    if not cands:
        return None
    e = d.c(cands)
    d.satellite()
    dom = e.domain
    prev_on = d.p(0.5)
    if dom in ("cover", "valve"):
        d.history(f"{'open' if prev_on else 'close'} the {_name(e)}", "HassTurnOn" if prev_on else "HassTurnOff", [e.id])
    elif dom == "lock":
        d.history(f"{'lock' if prev_on else 'unlock'} the {_name(e)}", "HassTurnOn" if prev_on else "HassTurnOff", [e.id])
    elif dom == "media_player":
        d.history(f"play {d.c(GENRES)} on the {_name(e)}", "HassMediaSearchAndPlay", [e.id])
        d.override(e, "playing")
    else:
        d.history(f"{d.c(['turn', 'switch'])} {'on' if prev_on else 'off'} the {_name(e)}",
                  "HassTurnOn" if prev_on else "HassTurnOff", [e.id])
        if prev_on:
            d.override(e, "on")
    r = d.rng.random()
    pro = d.c(["it", "it", "that", "them"]) if dom == "light" else d.c(["it", "it", "that"])
    if r < 0.3:
        m = d.c([f"is {pro} on yet", f"is {pro} open now", f"is {pro} on", f"did {pro} work", f"is {pro} locked now",
                 f"is {pro} still on"]) + d.c(["", "?"])
        return m, "iot_device_query"
    if r < 0.6 or dom == "media_player":
        if dom == "media_player":
            amt = d.num([10, 20, 30, 40, 50], "%")
            return d.c([f"set {pro} to [change_amount:{amt}]", f"turn {pro} down", f"turn {pro} up a bit"]), \
                "audio_volume_down"
        amt = d.num([10, 20, 30, 40, 50, 60, 75], "%")
        m = d.c([f"set {pro} to [change_amount:{amt}]", f"put {pro} at [change_amount:{amt}]",
                 f"make {pro} [change_amount:{amt}]"])
        if dom == "light":
            return m, "iot_hue_lightdim"
        if dom in ("cover", "valve"):
            return m, "iot_cover_set"
        r = 0.9
    on = not prev_on if d.p(0.8) else prev_on
    back = " back" if on != prev_on and d.p(0.4) else ""
    word = "on" if on else "off"
    m = d.c([f"turn {pro}{back} {word}", f"switch {pro}{back} {word}", f"turn {pro} {word} again",
             f"{word} again please" if back else f"turn {pro} {word} please"])
    if dom in ("cover", "valve"):
        m = d.c([f"{'open' if on else 'close'} {pro}{' again' if back else ''}", f"{'open' if on else 'shut'} {pro}"])
        return m, "iot_cover_open" if on else "iot_cover_close"
    if dom == "lock":
        return (f"{'lock' if on else 'unlock'} {pro}"), "iot_lock" if on else "iot_unlock"
    if dom == "light":
        return m, "iot_hue_lighton" if on else "iot_hue_lightoff"
    return m, "iot_wemo_on" if on else "iot_wemo_off"


FOLLOW = {
    "lights_off": ("turn off the lights in the {r}", "HassTurnOff", "light", "iot_hue_lightoff"),
    "lights_on": ("turn on the lights in the {r}", "HassTurnOn", "light", "iot_hue_lighton"),
    "temp": ("what's the temperature in the {r}", "HassClimateGetTemperature", "climate", "iot_climate_query"),
    "warm": ("how warm is it in the {r}", "HassClimateGetTemperature", "climate", "iot_climate_query"),
    "set": ("set the heating in the {r} to 21 degrees", "HassClimateSetTemperature", "climate", "iot_climate_set"),
    "blinds": ("close the blinds in the {r}", "HassTurnOff", "cover", "iot_cover_close"),
    "vac": ("vacuum the {r}", "HassVacuumStart", "vacuum", "iot_cleaning"),
    "humid": ("how humid is the {r}", "HassGetState", "sensor", "iot_device_query"),
}


def fam_followup(d: Draw) -> tuple[str, str] | None:
    """'what about the X?': repeat the previous turn's intent for a new room."""
    if len(d.home.areas) < 2:
        return None
    a, b = d.rng.sample(d.home.areas, 2)
    key = d.c(list(FOLLOW))
    text, ha, dom, intent = FOLLOW[key]
    targets = [e.id for e in d.ents(dom, a.id)] if dom != "vacuum" else [e.id for e in d.ents("vacuum")[:1]]
    d.satellite()
    slots: dict[str, Any] = {"area": a.name}
    if key == "set":
        slots["temperature"] = 21
    d.history(text.format(r=a.name.lower()), ha, targets, slots)
    r = b.name.lower()
    m = d.c([f"what about the [house_place:{r}]", f"what about the [house_place:{r}]?", f"and the [house_place:{r}]",
             f"and in the [house_place:{r}]", f"same for the [house_place:{r}]", f"and what about the [house_place:{r}]",
             f"now the [house_place:{r}]", f"the [house_place:{r}] too"])
    return m, intent


def fam_misc(d: Draw) -> tuple[str, str] | None:
    if d.p(0.7):
        d.satellite()
    r = d.rng.random()
    if r < 0.3:
        n = d.c([1, 2, 3, 5, 8, 10, 12, 15, 20, 25, 30, 45, 90])
        unit = d.c(["minutes", "minutes", "seconds", "hours"]) if n > 1 else d.c(["minute", "hour"])
        spoken = NUM_WORDS.get(n, str(n)) if d.p(0.4) else str(n)
        dur = f"{spoken} {unit}"
        return d.c([f"set a timer for [time:{dur}]", f"start a timer for [time:{dur}]", f"timer [time:{dur}]",
                    f"set a [time:{dur}] timer", f"start a [time:{dur}] countdown",
                    f"remind me in [time:{dur}] with a timer"]), "timer_set"
    if r < 0.55:
        it = d.c(ITEMS)
        return d.c([f"add [item:{it}] to my [list_name:shopping] list", f"put [item:{it}] on the [list_name:shopping] list",
                    f"add [item:{it}] to the [list_name:grocery] list", f"we need [item:{it}] on the [list_name:shopping] list",
                    f"shopping list add [item:{it}]"]), "lists_createoradd"
    if r < 0.7:
        return d.c(["what time is it", "what's the time", "tell me the time", "what time is it now", "time please",
                    "do you have the time"]), "datetime_query"
    if r < 0.8:
        return d.c(["what's the date", "what day is it", "what's the date today", "which day is it today",
                    "what is today's date please"]), "datetime_query"
    return d.c(["what's the weather", "how's the weather today", "is it going to rain", "what's the forecast",
                "do i need an umbrella today", "what's it like outside", "weather please"]), "weather_query"


FAMILIES: list[tuple[Callable[[Draw], tuple[str, str] | None], float]] = [
    (fam_light_onoff, 1.6), (fam_switch_onoff, 1.0), (fam_light_set, 1.0), (fam_cover, 1.0),
    (fam_lock, 0.4), (fam_climate_set, 1.0), (fam_temperature_q, 1.3), (fam_device_q, 0.9),
    (fam_media_control, 1.6), (fam_play, 1.4), (fam_vacuum, 0.5), (fam_pronoun, 1.6),
    (fam_followup, 1.1), (fam_misc, 1.2),
]


def generate(n: int, seed: int, kinds: dict[str, DeviceKind], exclude: set[str]) -> tuple[list[Example], int]:
    """n examples with their context segments; returns them and how many were dropped as dev twins."""
    rng = random.Random(seed)
    builder = HomeBuilder(kinds, rng)
    fams, weights = zip(*FAMILIES, strict=True)
    out: list[Example] = []
    dropped = 0
    home = builder.build()
    while len(out) < n:
        if len(out) % 40 == 0:
            home = builder.build()
        d = Draw(home=home, rng=rng, kinds=kinds)
        fam = rng.choices(fams, weights)[0]
        got = fam(d)
        if got is None:
            continue
        markup, intent = got
        text, slots = render(markup)
        if dedup_key(text) in exclude:
            dropped += 1
            continue
        ctx = RequestContext.from_dict(d.ctx)
        seg = context_segment(home.with_overrides(ctx.state_overrides), ctx)
        out.append({"id": f"gen-{len(out):05d}", "text": text, "intent": intent, "slots": slots,
                    "context": seg, "family": fam.__name__})
    return out, dropped


def hwu_context(home: Home, rng: random.Random, intent: str, text: str) -> str:
    """A context that must not change an HWU64 request's label (no previous turn)."""
    if rng.random() < 0.5 or intent == "weather_query" or "temperature" in text:
        return ""
    d = Draw(home=home, rng=rng, kinds={})
    d.satellite()
    if rng.random() < 0.3:
        players = d.ents("media_player", d.area.id)
        if players and intent.startswith(("audio_", "music_", "play_")):
            d.override(rng.choice(players), "playing")
    ctx = RequestContext.from_dict({k: v for k, v in d.ctx.items() if k != "history"})
    return context_segment(home.with_overrides(ctx.state_overrides), ctx)
