"""The hub's timer book: HA's timer intents carried out per satellite, answered in words, with the
clock given (no sleeping)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from edge_nlu.domain.result import Action
from edge_nlu.service.timers import BadTimerAction, TimerBook, done_text, instant, spoken

T0 = 1_800_000_000.0
SITE = "kitchen-puck"


def act(intent: str, **slots: Any) -> Action:
    return Action(intent, slots)


@pytest.fixture
def book() -> TimerBook:
    return TimerBook()


def test_start_status_and_done(book: TimerBook) -> None:
    assert book.apply(SITE, act("HassStartTimer", minutes=5), T0) == "Timer started for 5 minutes."
    assert book.apply(SITE, act("HassStartTimer", minutes=2, seconds=10, name="pizza"), T0) == \
        "Pizza timer started for 2 minutes and 10 seconds."
    assert book.apply(SITE, act("HassTimerStatus", name="pizza"), T0 + 0.5) == \
        "2 minutes and 10 seconds left on your pizza timer."
    assert book.apply(SITE, act("HassTimerStatus"), T0 + 60) == \
        "2 timers: 1 minute and 10 seconds left on your pizza timer and 4 minutes left on your 5 minute timer."
    assert book.due(T0 + 129) == []
    [(site, pizza)] = book.due(T0 + 130)
    assert site == SITE and done_text(pizza) == "Your pizza timer is done."
    [(_, plain)] = book.due(T0 + 301)
    assert done_text(plain) == "Your 5 minute timer is done."
    assert book.due(T0 + 1000) == [] and book.timers(SITE) == ()
    assert book.apply(SITE, act("HassTimerStatus"), T0 + 1000) == "No timers are running."


def test_cancel_and_cancel_all(book: TimerBook) -> None:
    assert book.apply(SITE, act("HassCancelTimer"), T0) == "No timers are running."
    book.apply(SITE, act("HassStartTimer", minutes=5, name="pizza"), T0)
    book.apply(SITE, act("HassStartTimer", minutes=10, name="tea"), T0)
    assert book.apply(SITE, act("HassCancelTimer", name="Pizza"), T0) == "Pizza timer cancelled."
    assert [t.name for t in book.timers(SITE)] == ["tea"]
    assert book.apply(SITE, act("HassCancelTimer", name="pizza"), T0) == "There is no pizza timer."
    book.apply(SITE, act("HassStartTimer", seconds=30), T0)
    assert book.apply(SITE, act("HassCancelAllTimers"), T0) == "2 timers cancelled."
    assert book.timers(SITE) == () and book.due(T0 + 10_000) == []
    assert book.apply(SITE, act("HassCancelAllTimers"), T0) == "No timers are running."


def test_cancel_all_in_an_area(book: TimerBook) -> None:
    book.apply(SITE, act("HassStartTimer", minutes=5, area="Kitchen"), T0)
    book.apply(SITE, act("HassStartTimer", minutes=6, area="Bedroom"), T0)
    assert book.apply(SITE, act("HassCancelAllTimers", area="kitchen"), T0) == "Timer cancelled."
    assert [t.area for t in book.timers(SITE)] == ["Bedroom"]
    assert book.apply(SITE, act("HassCancelAllTimers", area="Kitchen"), T0) == "There are no timers in the Kitchen."


def test_pause_and_unpause_keep_the_time_left(book: TimerBook) -> None:
    book.apply(SITE, act("HassStartTimer", minutes=1), T0)
    assert book.apply(SITE, act("HassPauseTimer"), T0 + 20) == "1 minute timer paused."
    assert book.apply(SITE, act("HassPauseTimer"), T0 + 21) == "Your 1 minute timer is already paused."
    assert book.due(T0 + 500) == []  # a paused timer never ends
    assert book.apply(SITE, act("HassTimerStatus"), T0 + 500) == "Your 1 minute timer is paused with 40 seconds left."
    assert book.apply(SITE, act("HassUnpauseTimer"), T0 + 600) == "1 minute timer resumed."
    assert book.apply(SITE, act("HassUnpauseTimer"), T0 + 601) == "Your 1 minute timer is already running."
    assert book.due(T0 + 639) == []
    assert len(book.due(T0 + 640)) == 1


def test_increase_and_decrease(book: TimerBook) -> None:
    book.apply(SITE, act("HassStartTimer", minutes=5, name="pizza"), T0)
    assert book.apply(SITE, act("HassIncreaseTimer", name="pizza", minutes=2), T0) == \
        "Added 2 minutes to your pizza timer."
    assert book.apply(SITE, act("HassDecreaseTimer", name="pizza", seconds=30), T0) == \
        "Took 30 seconds off your pizza timer."
    assert book.apply(SITE, act("HassTimerStatus"), T0 + 60) == "5 minutes and 30 seconds left on your pizza timer."
    # taking off more than is left ends it now, and no more than was left is said
    assert book.apply(SITE, act("HassDecreaseTimer", hours=1), T0 + 60) == \
        "Took 5 minutes and 30 seconds off your pizza timer."
    assert len(book.due(T0 + 60)) == 1
    # a paused timer's time left changes too
    book.apply(SITE, act("HassStartTimer", minutes=1), T0)
    book.apply(SITE, act("HassPauseTimer"), T0)
    book.apply(SITE, act("HassIncreaseTimer", minutes=1), T0)
    assert book.apply(SITE, act("HassTimerStatus"), T0 + 99) == "Your 1 minute timer is paused with 2 minutes left."


def test_which_timer_by_name_starting_duration_and_area(book: TimerBook) -> None:
    book.apply(SITE, act("HassStartTimer", minutes=10, area="Kitchen"), T0)
    book.apply(SITE, act("HassStartTimer", minutes=20, area="Kitchen"), T0 + 1)
    book.apply(SITE, act("HassStartTimer", minutes=10, area="Bedroom"), T0 + 2)
    book.apply(SITE, act("HassStartTimer", hours=1, name="laundry"), T0 + 3)
    # by starting duration, even after a change
    book.apply(SITE, act("HassIncreaseTimer", start_minutes=20, minutes=5), T0 + 4)
    assert book.apply(SITE, act("HassTimerStatus", start_minutes=20), T0 + 61) == \
        "24 minutes left on your 20 minute timer."
    assert book.apply(SITE, act("HassTimerStatus", start_minutes=30), T0) == "There is no 30 minute timer."
    # two 10 minute timers: the area tells them apart
    assert book.apply(SITE, act("HassCancelTimer", start_minutes=10, area="Bedroom"), T0 + 5) == \
        "10 minute timer cancelled."
    assert [(t.started_with, t.area) for t in book.timers(SITE)] == [(600, "Kitchen"), (1200, "Kitchen"), (3600, None)]
    # an area no timer has does not hide the timer meant by name
    assert book.apply(SITE, act("HassPauseTimer", name="laundry", area="Bedroom"), T0 + 5) == "Laundry timer paused."
    # nothing says which: the most recent
    assert book.apply(SITE, act("HassCancelTimer"), T0 + 6) == "Laundry timer cancelled."
    assert book.apply(SITE, act("HassCancelTimer", area="Kitchen"), T0 + 6) == "20 minute timer cancelled."


def test_sites_keep_their_own_timers(book: TimerBook) -> None:
    book.apply(SITE, act("HassStartTimer", minutes=5, name="pizza"), T0)
    assert book.apply("lounge", act("HassTimerStatus"), T0) == "No timers are running."
    assert book.apply("lounge", act("HassCancelTimer", name="pizza"), T0) == "No timers are running."
    book.apply("lounge", act("HassStartTimer", minutes=5, name="pizza"), T0 + 10)
    assert book.apply("lounge", act("HassCancelAllTimers"), T0) == "Timer cancelled."
    assert len(book.timers(SITE)) == 1
    assert [site for site, _ in book.due(T0 + 300)] == [SITE]


def test_due_reports_each_site(book: TimerBook) -> None:
    book.apply("a", act("HassStartTimer", seconds=2), T0)
    book.apply("b", act("HassStartTimer", seconds=1), T0)
    assert [s for s, _ in book.due(T0 + 5)] == ["b", "a"]  # soonest first


def test_a_delayed_command_is_kept_with_its_timer(book: TimerBook) -> None:
    said = book.apply(SITE, act("HassStartTimer", hours=4, conversation_command="turn off the lights"), T0)
    assert said == "I will turn off the lights in 4 hours."
    [(_, t)] = book.due(T0 + 4 * 3600)
    assert t.conversation_command == "turn off the lights"


def test_the_request_time_is_the_clock(book: TimerBook) -> None:
    at = instant("2026-11-24T07:30:00+00:00", default=0.0)
    assert at == datetime.fromisoformat("2026-11-24T07:30:00+00:00").timestamp()
    assert instant("2026-11-24T07:30:00Z", 0.0) == at
    assert instant(None, 5.0) == 5.0 and instant("not a time", 5.0) == 5.0
    book.apply(SITE, act("HassStartTimer", minutes=1), at)
    assert book.apply(SITE, act("HassTimerStatus"), instant("2026-11-24T07:30:45+00:00", 0.0)) == \
        "15 seconds left on your 1 minute timer."


def test_other_intents_are_not_the_books(book: TimerBook) -> None:
    assert book.apply(SITE, act("HassTurnOn", name="oven"), T0) is None
    assert book.apply(SITE, Action(None), T0) is None
    assert book.timers(SITE) == ()


@pytest.mark.parametrize("action", [
    act("HassStartTimer"),  # no duration
    act("HassStartTimer", minutes=0),
    act("HassStartTimer", minutes=-5),
    act("HassStartTimer", minutes=2.5),
    act("HassStartTimer", minutes="five"),
    act("HassStartTimer", minutes=True),
    act("HassStartTimer", minutes=float("nan")),
    act("HassStartTimer", hours=10**9),
    act("HassStartTimer", minutes=5, name=7),
    act("HassIncreaseTimer", name="pizza"),  # no change
    act("HassDecreaseTimer", minutes=-1),
])
def test_bad_actions_are_refused_and_change_nothing(book: TimerBook, action: Action) -> None:
    book.apply(SITE, act("HassStartTimer", minutes=5, name="pizza"), T0)
    before = book.timers(SITE)
    with pytest.raises(BadTimerAction):
        book.apply(SITE, action, T0)
    assert book.timers(SITE) == before


def test_a_site_holds_a_bounded_number_of_timers() -> None:
    book = TimerBook(max_per_site=2)
    book.apply(SITE, act("HassStartTimer", minutes=1), T0)
    book.apply(SITE, act("HassStartTimer", minutes=2), T0)
    with pytest.raises(BadTimerAction):
        book.apply(SITE, act("HassStartTimer", minutes=3), T0)
    assert book.apply("lounge", act("HassStartTimer", minutes=3), T0) == "Timer started for 3 minutes."


def test_spoken_durations() -> None:
    assert spoken(1) == "1 second" and spoken(3600) == "1 hour" and spoken(0) == "0 seconds"
    assert spoken(3661) == "1 hour, 1 minute and 1 second"


def test_a_query_with_its_own_time_rings_on_the_host_clock_after_its_duration(book: TimerBook) -> None:
    # a replayed query says 2027 while the host says otherwise: the timer still rings 60 host seconds later
    request, host = 1_800_000_000.0, 1_700_000_000.0
    book.apply("den", act("HassStartTimer", minutes=1), request, host)
    assert book.due(host + 59) == []
    assert book.timers("den")[0].left(request + 30) == 30  # status in the request's own clock
    assert [site for site, _ in book.due(host + 60)] == ["den"]
