"""Phrasing tables of the household simulator (`export/household.py`): goal families, how people say
them, and how a speech recognizer mishears them.

A family is one kind of request. `canonical` is the plain phrasing the model is meant to understand;
its parse defines the goal's correct outcome (the oracle). `variants` are everyday idioms: a region
adopts a few of them (many users share them, which is what the Markov miner pools) and any user may
pick one as a habit. `personal` phrasings only make sense to the one user who says them ("the big
light", "my music"): their meaning differs per user, which is the personal layer's job. Nothing here
is tuned to the model: the simulator screens every phrasing with the plain pipeline to learn which
ones it already gets right.

Template slots: {room} area name; {light} one light of the room; {nick} the user's nickname for it;
{t} a temperature; {genre}; {show}; {tv}; {appliance}; {cover}; {lock}; {vacuum}; {oven}; {n} minutes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A kind of request and the ways people say it."""

    name: str
    canonical: str
    variants: tuple[str, ...]
    """Idioms anyone may use (and a region may share)."""
    personal: tuple[str, ...] = ()
    """Idiosyncratic phrasings: each user who has the goal may own one."""
    needs: str = "none"
    """What the goal's area must hold: light, light2 (two lights or more), climate, media, tv, appliance,
    cover, oven; home-wide: lock, vacuum; none."""
    where: str = "here"
    """here: said in the area it acts on; room: names its room and may be said from another area."""
    hours: tuple[int, ...] = (8, 13, 19)
    """Hours of the day when people make this request."""
    weight: float = 1.0
    """How common the family is among a user's habits."""
    state: str | None = None
    """Context state the request is made in: lights_on, lights_off, oven_on, tv_off."""


FAMILIES: tuple[Family, ...] = (
    Family("lights_off_room", "turn off the {room} lights", (
        "kill the {room} lights", "{room} lights off", "lights out in the {room}", "douse the {room} lights",
        "make the {room} dark", "cut the {room} lights", "knock the {room} lights off", "darken the {room}",
        "no more lights in the {room}", "{room} lights out", "shut the {room} lights", "lights off {room}",
        "turn the {room} off", "off with the {room} lights", "{room} dark please",
    ), needs="light", where="room", hours=(7, 22, 23), weight=2.0, state="lights_on"),
    Family("lights_on_room", "turn on the {room} lights", (
        "hit the {room} lights", "{room} lights on", "light up the {room}", "flick on the {room} lights",
        "get the {room} lights", "{room} lights please", "bring up the {room} lights", "lights up in the {room}",
        "put the {room} lights on", "brighten the {room}", "the {room} lights", "lamps on in the {room}",
        "give me light in the {room}", "{room} bright please",
    ), needs="light", where="room", hours=(6, 18, 20), weight=2.0, state="lights_off"),
    Family("lights_off_here", "turn off the lights", (
        "lights off", "kill the lights", "douse the lights", "lights out", "off with the lights", "make it dark",
        "darkness please", "no more light", "cut the lights", "it's too bright", "switch everything off",
        "nighty night lights", "lights be gone",
    ), needs="light", hours=(22, 23), weight=1.5, state="lights_on"),
    Family("light_named", "turn on the {light}", (
        "{light} on", "switch on the {light}", "put the {light} on", "flick the {light} on", "the {light} please",
    ), personal=(
        "turn on the {nick}", "{nick} on", "put the {nick} on", "switch the {nick} on", "get the {nick} going",
    ), needs="light2", hours=(7, 19, 21), weight=1.5, state="lights_off"),
    Family("warmer", "turn up the heat", (
        "crank up the heat", "make it warmer", "i'm freezing", "it's cold in here", "bump the heat up",
        "warm it up", "it's baltic in here", "more heat", "heat please", "i'm cold", "toastier please",
        "it's nippy in here", "whack the heating up", "get the heat going",
    ), needs="climate", hours=(7, 18, 21), weight=1.2),
    Family("cooler", "turn down the heat", (
        "it's boiling in here", "cool it down", "i'm roasting", "less heat", "it's too hot", "knock the heat down",
        "it's stuffy in here", "bring the heat down", "it's like an oven in here", "heat down", "i'm sweating",
        "turn the heating down a notch",
    ), needs="climate", hours=(13, 22), weight=0.8),
    Family("set_temp", "set the temperature to {t} degrees", (
        "make it {t} degrees", "{t} degrees please", "heating to {t}", "thermostat {t}", "put it on {t}",
        "i want it at {t}", "{t} in here please", "bump it to {t}", "heat to {t} degrees", "set it to {t}",
    ), personal=(
        "put it on my usual temperature", "set my temperature", "my usual heat please", "the normal temperature",
    ), needs="climate", hours=(7, 19), weight=1.0),
    Family("play_genre", "play some {genre}", (
        "put on some {genre}", "i want to hear {genre}", "{genre} please", "spin some {genre}",
        "stick on some {genre}", "bit of {genre}", "{genre} time", "gimme {genre}", "some {genre} music",
        "let's have some {genre}", "fire up some {genre}", "{genre} tunes", "crank some {genre}",
    ), personal=(
        "play my music", "put my tunes on", "play my stuff", "the usual music", "my songs please",
        "some of my music", "play the usual",
    ), needs="media", hours=(8, 18, 20), weight=1.5),
    Family("watch_show", "play {show} on the {tv}", (
        "put on {show}", "i wanna watch {show}", "{show} please", "let's watch {show}", "stick {show} on",
        "can we have {show}", "bung on {show}", "{show} on the telly", "watch {show}", "time for {show}",
    ), personal=(
        "put my show on", "play my programme", "the usual show", "my series please", "put on the usual",
    ), needs="tv", hours=(19, 21), weight=1.0),
    Family("tv_on", "turn on the {tv}", (
        "put the telly on", "switch on the box", "tv on", "fire up the tv", "telly on please",
        "turn the telly on", "get the tv going", "box on", "the tv please",
    ), needs="tv", hours=(18, 20), weight=0.8, state="tv_off"),
    Family("timer", "set a timer for {n} minutes", (
        "{n} minute timer", "remind me in {n} minutes", "give me {n} minutes on the clock", "timer {n} minutes",
        "count down {n} minutes", "start the clock for {n} minutes", "time me {n} minutes",
        "egg timer {n} minutes", "{n} minutes on the timer", "shout in {n} minutes", "ping me in {n} minutes",
    ), needs="none", hours=(12, 18), weight=1.2),
    Family("weather", "what's the weather", (
        "is it nice out", "what's it doing outside", "do i need an umbrella", "how's it looking out there",
        "weather please", "what's the forecast", "is it going to rain", "what's it like out",
        "should i take a coat", "is it cold out", "what's the weather doing",
    ), needs="none", hours=(7, 8), weight=1.2),
    Family("temp_here", "what is the temperature", (
        "how warm is it", "what's the temp", "is it cold in here", "how cold is it in here", "temperature please",
        "how hot is it in here", "what's it at", "what's the heating on",
    ), needs="climate", hours=(7, 20), weight=0.8),
    Family("oven_temp", "what is the temperature", (
        "how hot is the {oven}", "is the {oven} hot yet", "is the {oven} ready", "{oven} temperature",
        "how's the {oven} doing", "is it hot yet", "how hot is it", "has the {oven} warmed up",
    ), needs="oven", hours=(12, 18), weight=0.8, state="oven_on"),
    Family("appliance_on", "turn on the {appliance}", (
        "stick the {appliance} on", "{appliance} on", "get the {appliance} going", "put the {appliance} on",
        "fire up the {appliance}", "start the {appliance}", "{appliance} please", "kick on the {appliance}",
    ), needs="appliance", hours=(7, 16), weight=1.0),
    Family("cover_open", "open the {cover}", (
        "let some light in", "pull the {cover} up", "{cover} up", "raise the {cover}", "open up the {cover}",
        "let the sun in", "{cover} open please",
    ), needs="cover", hours=(7, 8), weight=0.8),
    Family("cover_close", "close the {cover}", (
        "draw the {cover}", "shut the {cover}", "{cover} down", "pull the {cover} down", "block out the light",
        "{cover} closed please", "lower the {cover}",
    ), needs="cover", hours=(20, 22), weight=0.8),
    Family("lock", "lock the {lock}", (
        "lock up", "bolt the {lock}", "secure the house", "lock the door", "{lock} locked please",
        "make sure the {lock} is locked", "batten down the hatches",
    ), needs="lock", hours=(22, 23), weight=0.8),
    Family("vacuum", "start the {vacuum}", (
        "run the hoover", "vacuum the house", "clean the floors", "get the {vacuum} going", "hoover up",
        "do the floors", "send out the {vacuum}", "time to clean",
    ), needs="vacuum", hours=(10, 14), weight=0.6),
)

NICKNAMES = ("big light", "main light", "good lamp", "sparkly lights", "mood light", "glow lamp", "fancy light")
"""What people call one particular light of theirs."""
GENRES = ("jazz", "rock", "classical", "blues", "reggae", "country", "soul", "disco", "metal", "folk")
SHOWS = ("the office", "friends", "the simpsons", "planet earth", "star trek", "doctor who", "the crown")
MINUTES = ("five", "ten", "fifteen", "twenty", "thirty", "forty")
TEMPERATURES = ("eighteen", "nineteen", "twenty", "twenty one", "twenty two", "twenty three")

CONFUSIONS: dict[str, tuple[str, ...]] = {
    "off": ("of",), "four": ("for",), "for": ("four",), "two": ("to", "too"), "to": ("two",),
    "lights": ("lice", "likes", "lines"), "light": ("like", "life"), "heat": ("hit", "heath"),
    "timer": ("time her", "tyler"), "jazz": ("jas", "chaz"), "kitchen": ("kitten",), "blinds": ("blends",),
    "lamp": ("lump", "lamb"), "rock": ("rack",), "warmer": ("warm her", "warner"), "weather": ("whether",),
    "degrees": ("decrees",), "ten": ("then",), "eight": ("ate",), "play": ("pray",), "turn": ("tern", "term"),
    "down": ("dawn",), "oven": ("often",), "kettle": ("cattle",), "coffee": ("copy",), "lock": ("lack", "look"),
    "door": ("drawer",), "living": ("leaving",), "bedroom": ("bed room",), "office": ("offers",),
    "temperature": ("temper chair",), "minutes": ("minute",), "blues": ("blew", "booze"), "soul": ("sole",),
    "friends": ("fiends",), "heating": ("eating",), "curtains": ("certains",), "music": ("muse ick",),
    "on": ("an",), "up": ("app",), "classical": ("classic call",), "disco": ("this go",), "tv": ("t v",),
}
"""Words a recognizer confuses with others (real ASR errors are mostly real words that sound alike)."""
ARTICLES = frozenset({"the", "a", "an", "some"})
"""Short words a recognizer tends to drop."""
TEACH_ALIAS = "call the {light} the {nick}"
"""How a user teaches their nickname to the hub (the taught layer parses it)."""
TEACH_GENRE = "i really like {genre}"
"""How a user tells the hub their favourite genre."""
