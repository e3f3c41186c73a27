"""Teachable preferences: what counts as teaching, what never does, and how taught things change a request."""

from __future__ import annotations

import pytest

from edge_nlu.domain.home import Home
from edge_nlu.learn.preferences import Teaching, apply_preferences, describe, parse_teaching, preference_history
from edge_nlu.learn.types import Preference
from edge_nlu.pipeline import load

TEACH = [  # text, kind, key, value
    ("i'm a warriors fan", "team", "warriors", "Warriors"),
    ("i am a big warriors fan", "team", "warriors", "Warriors"),
    ("my team is the warriors", "team", "warriors", "Warriors"),
    ("i support arsenal", "team", "arsenal", "Arsenal"),
    ("i root for the giants", "team", "giants", "Giants"),
    ("Hey, I'm a huge fan of the Golden State Warriors!", "team", "golden state warriors", "Golden State Warriors"),
    ("im a warriors fan you know", "team", "warriors", "Warriors"),
    ("i like jazz", "music_genre", "jazz", "jazz"),
    ("i love jazz music", "music_genre", "jazz", "jazz"),
    ("my favorite music is jazz", "music_genre", "jazz", "jazz"),
    ("My favourite genre is jazz.", "music_genre", "jazz", "jazz"),
    ("i'm into hip hop", "music_genre", "hip hop", "hip hop"),
    ("please i really like smooth jazz", "music_genre", "smooth jazz", "smooth jazz"),
    ("i'm a jazz fan", "music_genre", "jazz", "jazz"),
    ("call the big light the lamp", "alias", "lamp", "big light"),
    ("the big light is called the lamp", "alias", "lamp", "big light"),
    ("when i say lamp i mean the big light", "alias", "lamp", "big light"),
    ("please call the big light the lamp from now on", "alias", "lamp", "big light"),
    ("lamp means the big light", "alias", "lamp", "big light"),
    ("when i say movie time turn off the living room lights", "phrase", "movie time",
     "turn off the living room lights"),
    ("when i say movie time, dim the lights", "phrase", "movie time", "dim the lights"),
    ("When I say Movie Time, dim the lights.", "phrase", "movie time", "dim the lights"),
    ("movie time means turn off the tv", "phrase", "movie time", "turn off the tv"),
    ("when i say good night i mean turn off all the lights", "phrase", "good night", "turn off all the lights"),
    ("um when i say wake up open the blinds", "phrase", "wake up", "open the blinds"),
]

FORGET = [  # text, kind, key
    ("forget that i like jazz", "music_genre", "jazz"),
    ("forget movie time", "phrase", "movie time"),
    ("forget what movie time means", "phrase", "movie time"),
    ("i'm not a warriors fan anymore", "team", "warriors"),
    ("i am no longer a warriors fan", "team", "warriors"),
    ("forget that i'm a warriors fan", "team", "warriors"),
    ("i don't like jazz anymore", "music_genre", "jazz"),
    ("forget that i call the big light the lamp", "alias", "lamp"),
    ("stop calling the big light the lamp", "alias", "lamp"),
    ("forget the name lamp", "alias", "lamp"),
]

ORDINARY = [
    "turn on the lamp", "call mom", "when is my next alarm", "what is the temperature", "play jazz",
    "i like the warm light", "set the lights to movie mode", "call an uber", "i like it when the lights are dim",
    "i like that", "turn off the living room lights", "dim the lights", "what's the weather like", "what time is it",
    "set an alarm for seven am", "play some music", "who won the warriors game", "did the warriors win",
    "tell me a joke", "call the plumber", "call a taxi to the airport", "call my wife", "what does movie time mean",
    "forget it", "forget about it", "forget everything", "never mind", "stop", "i love you", "i like this song",
    "i don't like this song", "i don't like it", "i'm home", "i'm cold", "i'm a little cold", "i'm going to bed",
    "i am leaving", "is the front door locked", "lock the front door", "when is the next warriors game",
    "what's on my calendar", "remind me to call mom", "read my messages", "open the blinds", "make it warmer",
    "movie time", "good night", "i'd like some coffee", "i like my coffee hot", "i like to sleep late", "i love this",
    "call the big light", "what is the lamp called", "i'm a fan", "i'm a big fan of yours", "i support you",
    "i like the white house", "i'm in the kitchen", "call mom at the office", "call my mom on the phone",
    "tell me what serendipity means", "i mean it", "i'm into it", "i like loud music", "i like the music",
    "i'm a music fan", "play the warriors game", "i'm not cold anymore", "what is this song called",
    "remind me when i say goodbye", "set the thermostat to 20", "my name is john", "what music do i like",
    "call the office the day after tomorrow", "",
]


@pytest.mark.parametrize(("text", "kind", "key", "value"), TEACH)
def test_teachings_are_recognised(text: str, kind: str, key: str, value: str) -> None:
    t = parse_teaching(text, "ann", 5.0)
    assert t is not None and not t.forget
    assert t.preference == Preference(user="ann", kind=kind, key=key, value=value, ts=5.0)
    assert t.reply.startswith("Okay")


def test_replies_say_what_was_understood() -> None:
    team = parse_teaching("i'm a warriors fan", "ann", 0.0)
    phrase = parse_teaching("when i say movie time turn off the living room lights", "ann", 0.0)
    assert team is not None and team.reply == "Okay, I'll remember you're a Warriors fan."
    assert phrase is not None and phrase.reply == "Okay, when you say movie time I'll turn off the living room lights."
    arsenal = parse_teaching("i support arsenal", "ann", 0.0)
    assert arsenal is not None and "an Arsenal fan" in arsenal.reply


@pytest.mark.parametrize(("text", "kind", "key"), FORGET)
def test_forgetting_is_recognised(text: str, kind: str, key: str) -> None:
    t = parse_teaching(text, "ann", 1.0)
    assert t is not None and t.forget
    assert (t.preference.user, t.preference.kind, t.preference.key) == ("ann", kind, key)
    assert "forget" in t.reply


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_requests_teach_nothing(text: str) -> None:
    assert parse_teaching(text, "ann", 0.0) is None


def test_enough_ordinary_requests_are_checked() -> None:
    assert len(set(ORDINARY)) >= 40


def test_teaching_round_trip() -> None:
    for text in ("i'm a warriors fan", "forget movie time", "call the big light the lamp"):
        t = parse_teaching(text, "ann", 3.5)
        assert t is not None
        assert Teaching.from_dict(t.to_dict()) == t


PREFS = [
    Preference("ann", "phrase", "movie time", "turn off the living room tv", 1.0),
    Preference("ann", "alias", "big light", "sofa lamp", 2.0),
    Preference("ann", "alias", "reading light", "kitchen ceiling", 3.0),  # reading light is a real alias
    Preference("ann", "alias", "lamp", "kitchen ceiling", 4.0),
    Preference("ann", "alias", "telly", "garage door", 5.0),  # no such device
    Preference("ann", "team", "warriors", "Warriors", 6.0),
    Preference("ann", "music_genre", "jazz", "jazz", 7.0),
]


def test_phrase_fires_only_on_the_whole_request(home: Home) -> None:
    assert apply_preferences("Movie time!", PREFS, home) == ("turn off the living room tv", "phrase:movie time")
    assert apply_preferences("hey movie time please", PREFS, home)[1] == "phrase:movie time"
    assert apply_preferences("is it movie time yet", PREFS, home) == ("is it movie time yet", None)
    assert apply_preferences("set the lights to movie time", PREFS, home)[1] is None


def test_alias_substitution_and_guard(home: Home) -> None:
    assert apply_preferences("turn on the big light", PREFS, home) == ("turn on the sofa lamp", "alias:big light")
    assert apply_preferences("Turn on the Big-Light", PREFS, home)[0] == "Turn on the sofa lamp"
    assert apply_preferences("turn on the lamp", PREFS, home)[0] == "turn on the kitchen ceiling"
    # the alias is already a real name: leave it alone
    assert apply_preferences("turn on the reading light", PREFS, home) == ("turn on the reading light", None)
    # the existing name is not in the home
    assert apply_preferences("turn on the telly", PREFS, home) == ("turn on the telly", None)
    # whole words only, and never inside a real name ("sofa lamp")
    assert apply_preferences("turn on the lampshade", PREFS, home)[1] is None
    assert apply_preferences("turn on the sofa lamp", PREFS, home) == ("turn on the sofa lamp", None)
    # without a home every alias applies
    assert apply_preferences("turn on the telly", PREFS, None) == ("turn on the garage door", "alias:telly")


def test_team_in_sports_questions(home: Home) -> None:
    assert apply_preferences("did my team win", PREFS, home) == ("did Warriors win", "team:warriors")
    assert apply_preferences("when do we play next", PREFS, home) == ("when do Warriors play next", "team:warriors")
    assert apply_preferences("how did my favorite team do", PREFS, home)[0] == "how did Warriors do"
    for text in ("can we play some music", "when is my team meeting", "what's the weather", "play some jazz"):
        assert apply_preferences(text, PREFS, home) == (text, None)
    assert apply_preferences("did my team win", [], home) == ("did my team win", None)


def test_preference_history_turns() -> None:
    hist = preference_history(PREFS)
    assert len(hist) == 1
    assert hist[0].intent == "HassMediaSearchAndPlay"
    assert hist[0].slots == {"search_query": "jazz", "media_class": "music"}
    assert preference_history([p for p in PREFS if p.kind != "music_genre"]) == ()


def test_describe_lists_every_preference() -> None:
    lines = describe(PREFS)
    assert len(lines) == len(PREFS)
    assert all(line.startswith("ann: ") for line in lines)
    assert any("Warriors fan" in line for line in lines)
    assert any('"movie time" -> turn off the living room tv' in line for line in lines)


def test_liked_genre_decides_play_music_end_to_end(home: Home) -> None:
    nlu = load(home=home)
    ctx = {"area": "Living Room", "satellite": {"id": "tv", "has_screen": True}}
    for genre in ("jazz", "hip hop"):
        taught = parse_teaching(f"i like {genre}", "ann", 1.0)
        assert taught is not None
        hist = [h.to_dict() for h in preference_history([taught.preference])]
        r = nlu.parse("play some music", {**ctx, "history": hist})
        assert r["action"]["intent"] == "HassMediaSearchAndPlay"
        assert r["action"]["slots"]["search_query"] == genre
    plain = nlu.parse("play some music", ctx)
    assert plain["action"]["slots"].get("search_query") != "jazz"
    # the caller prepends: what the user really keeps playing still wins
    rock = {"text": "play rock", "action": {"intent": "HassMediaSearchAndPlay", "targets": [],
                                             "slots": {"search_query": "rock", "media_class": "music"}}}
    hist = [h.to_dict() for h in preference_history(PREFS)] + [rock, rock]
    assert nlu.parse("play some music", {**ctx, "history": hist})["action"]["slots"]["search_query"] == "rock"


def test_a_long_im_text_is_parsed_in_linear_time() -> None:
    """"I'm big big big ..." used to backtrack over every split of the adjectives (seconds, minutes at the cap)."""
    import time

    from edge_nlu.learn import preferences

    long_text = "I'm " + "big " * (64 * 1024 // 4)
    t0 = time.thread_time()
    assert parse_teaching(long_text, "alex", 0.0) is None  # past MAX_TEACHING_CHARS: never a teaching
    core = preferences._learn("i'm " + "really big " * 4000, "alex", 0.0)  # the parser itself, past the cap
    assert time.thread_time() - t0 < 1.0  # CPU seconds, generous: it takes milliseconds; it took seconds before
    assert core is None
    assert parse_teaching("i'm a really big warriors fan", "alex", 0.0) is not None  # short ones still parse
