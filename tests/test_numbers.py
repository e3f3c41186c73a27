"""Numbers and durations as people say them."""

from __future__ import annotations

import pytest

from edge_nlu.resolve.numbers import Duration, parse_duration, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("22", 22),
        ("22 degrees", 22),
        ("twenty two", 22),
        ("twenty-two degrees", 22),
        ("40%", 40),
        ("40 %", 40),
        ("forty percent", 40),
        ("halfway", 50),
        ("half", 50),
        ("a quarter", 25),
        ("three quarters", 75),
        ("one hundred", 100),
        ("a hundred percent", 100),
        ("one hundred and five", 105),
        ("21.5", 21.5),
        ("twenty one point five", 21.5),
        ("zero", 0),
        ("seven", 7),
        ("nineteen degrees", 19),
        ("fully", 100),
        ("to the max", 100),
        ("set it to 18 please", 18),
    ],
)
def test_parse_number(text, value):
    got = parse_number(text)
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize("text", [None, "", "a little", "warmer", "turn it down", "bit more"])
def test_parse_number_none(text):
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("text", "h", "m", "s"),
    [
        ("12 minutes", 0, 12, 0),
        ("twelve minutes", 0, 12, 0),
        ("an hour and a half", 1, 30, 0),
        ("one and a half hours", 1, 30, 0),
        ("1.5 hours", 1, 30, 0),
        ("ninety seconds", 0, 0, 90),
        ("2 hours 30 minutes", 2, 30, 0),
        ("two hours and thirty minutes", 2, 30, 0),
        ("half an hour", 0, 30, 0),
        ("a quarter of an hour", 0, 15, 0),
        ("a minute and a half", 0, 1, 30),
        ("10 mins", 0, 10, 0),
        ("an hour", 1, 0, 0),
        ("five", 0, 5, 0),
        ("1 minute 30", 0, 1, 30),
        ("for twenty five minutes", 0, 25, 0),
    ],
)
def test_parse_duration(text, h, m, s):
    assert parse_duration(text) == Duration(hours=h, minutes=m, seconds=s)


@pytest.mark.parametrize("text", [None, "", "soon", "for a while"])
def test_parse_duration_none(text):
    assert parse_duration(text) is None


def test_duration_slots():
    assert Duration(minutes=12).to_slots() == {"minutes": 12}
    assert Duration(hours=1, minutes=30).to_slots() == {"hours": 1, "minutes": 30}
    assert Duration().to_slots() == {}
    assert Duration(hours=1, minutes=1, seconds=1).total_seconds == 3661
