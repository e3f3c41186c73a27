"""Live state from Home Assistant (issue 14, item 2): answers that follow HA's state, through a restart.

    python benchmarks/ha_live_state.py [--model DIR] [--n 1000] [--events 200] [--entities 2000] [--json]

A fake HA (tests/fake_ha.py: HA's documented WebSocket messages on a real loopback socket) feeds a
LiveHome through `HaStateSource`; an `EdgeNLU` answers over its snapshots. The script

1. syncs (states, floor/area/device/entity registries) and reports how long the first sync took;
2. asks "is the kitchen light on" twice with a `state_changed` between them and shows the answer change;
3. times `state_changed` -> visible in the home over --events toggles (p50/p99);
4. stops HA, changes a state while it is away, starts it again on the same port, and reports how long
   the client took to notice, to resync after HA listened again, and the answer after the resync;
5. answers --n requests while HA streams state changes, and reports the parse latency p50/p99;
6. syncs a synthetic home of --entities entities and reports how long the full sync took.

Everything runs in this process on loopback: the figures are the client's own cost, not a real HA's.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_nlu.domain.live_home import LiveHome  # noqa: E402
from edge_nlu.pipeline import EdgeNLU  # noqa: E402
from edge_nlu.service.ha_client import HaStateSource  # noqa: E402
from edge_nlu.service.ha_settings import HomeAssistantSettings  # noqa: E402
from edge_nlu.settings import RuntimeSettings  # noqa: E402
from tests.fake_ha import FakeHomeAssistant, state  # noqa: E402

TOKEN = "benchmark-token"  # noqa: S105 - the fake HA's token
QUESTION = "is the kitchen light on"
LIGHT = "light.kitchen_ceiling"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def answer(nlu: EdgeNLU, home: LiveHome) -> str:
    return str(nlu.parse_result(QUESTION, {}, home=home.snapshot()).response)


def light_state(home: LiveHome) -> str | None:
    e = home.snapshot().entity(LIGHT)
    return e.state if e is not None else None


def shows(home: LiveHome, want: str) -> Callable[[], bool]:
    return lambda: light_state(home) == want


def settings_for(ha: FakeHomeAssistant) -> HomeAssistantSettings:
    # the defaults but for a short first reconnect, so the restart figure is the client's, not the backoff's
    return HomeAssistantSettings(url=ha.url, token=TOKEN, reconnect_min_s=0.1, reconnect_max_s=1.0)


def scenario(nlu: EdgeNLU, n: int, events: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with FakeHomeAssistant(TOKEN) as ha:
        home = LiveHome()
        src = HaStateSource(settings_for(ha), home)
        t0 = time.perf_counter()
        src.start()
        if not src.wait_synced(30):
            raise SystemExit("the client did not sync with the fake HA in 30 s")
        out["first_sync_ms"] = ms(time.perf_counter() - t0)
        out["entities"] = len(home)

        # 2. the same question around a state change
        before = answer(nlu, home)
        ha.set_state(LIGHT, "on", friendly_name="Kitchen ceiling", brightness=200)
        src.wait_until(lambda: light_state(home) == "on", 10)
        after = answer(nlu, home)
        out["answers_around_state_change"] = {"before": before, "after": after, "changed": before != after}

        # 3. event -> home latency
        lat: list[float] = []
        for i in range(events):
            want = "off" if i % 2 == 0 else "on"
            t = time.perf_counter()
            ha.set_state(LIGHT, want, friendly_name="Kitchen ceiling")
            if not src.wait_until(shows(home, want), 10):
                raise SystemExit(f"state_changed {i} never reached the home")
            lat.append(time.perf_counter() - t)
        out["state_changed_to_home_ms"] = {"n": events, "p50": ms(pct(lat, 50)), "p99": ms(pct(lat, 99)),
                                           "max": ms(max(lat))}
        ha.set_state(LIGHT, "on", friendly_name="Kitchen ceiling")
        src.wait_until(lambda: light_state(home) == "on", 10)

        # 4. HA restarts; the light is switched off while it is away
        t = time.perf_counter()
        ha.stop()
        noticed = src.wait_until(lambda: not src.synced, 10)
        noticed_s = time.perf_counter() - t
        during = answer(nlu, home)
        ha.set_state(LIGHT, "off", quiet=True, friendly_name="Kitchen ceiling")
        syncs = src.counters()["syncs"]
        t = time.perf_counter()
        ha.start()
        back = src.wait_until(lambda: src.counters()["syncs"] > syncs and src.synced, 30)
        out["restart"] = {"noticed": noticed, "noticed_ms": ms(noticed_s), "resynced": back,
                          "resync_after_listening_ms": ms(time.perf_counter() - t),
                          "answer_while_away": during, "answer_after_resync": answer(nlu, home)}

        # 5. requests answered while HA streams changes
        stop = threading.Event()

        def stream() -> None:
            i = 0
            while not stop.is_set():
                ha.set_state("switch.kettle", "on" if i % 2 else "off", friendly_name="Kettle")
                i += 1
                time.sleep(0.002)

        th = threading.Thread(target=stream, daemon=True)
        th.start()
        events_before = src.counters()["events"]
        parse: list[float] = []
        for _ in range(n):
            t = time.perf_counter()
            nlu.parse_result(QUESTION, {}, home=home.snapshot())
            parse.append(time.perf_counter() - t)
        stop.set()
        th.join(5)
        out["parse_while_streaming_ms"] = {"n": n, "p50": ms(pct(parse, 50)), "p99": ms(pct(parse, 99)),
                                           "events_applied_meanwhile": src.counters()["events"] - events_before}
        out["counters"] = src.counters()
        src.stop()
    return out


def big_sync(entities: int) -> dict[str, Any]:
    with FakeHomeAssistant(TOKEN) as ha:
        areas: list[dict[str, Any]] = [{"area_id": f"room_{i}", "name": f"Room {i}", "floor_id": None, "aliases": []}
                                       for i in range(50)]
        devices = [{"id": f"dev{i}", "name": f"Device {i}", "name_by_user": None, "area_id": f"room_{i % 50}"}
                   for i in range(entities)]
        entries = [{"entity_id": f"light.l{i}", "name": None, "original_name": None, "has_entity_name": True,
                    "area_id": None, "device_id": f"dev{i}"} for i in range(entities)]
        ha.states = {f"light.l{i}": state(f"light.l{i}", "on", friendly_name=f"Lamp {i}", brightness=i % 256)
                     for i in range(entities)}
        ha.registries.update(area=areas, device=devices, entity=entries)
        home = LiveHome(max_entities=entities + 10)
        src = HaStateSource(settings_for(ha), home)
        t = time.perf_counter()
        src.start()
        ok = src.wait_synced(60)
        took = time.perf_counter() - t
        placed = sum(1 for e in home.snapshot().entities if e.area)
        src.stop()
    return {"entities": entities, "synced": ok, "sync_ms": ms(took), "in_an_area": placed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "home")
    ap.add_argument("--n", type=int, default=1000, help="requests answered while HA streams changes")
    ap.add_argument("--events", type=int, default=200, help="state_changed events timed to the home")
    ap.add_argument("--entities", type=int, default=2000, help="entities in the synthetic home synced")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = ap.parse_args()
    nlu = EdgeNLU(RuntimeSettings(model_dir=args.model))
    nlu.parse_result("warm up", {})
    figures = scenario(nlu, args.n, args.events)
    figures["big_home"] = big_sync(args.entities)
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return 0
    a, r = figures["answers_around_state_change"], figures["restart"]
    ev, pr, big = figures["state_changed_to_home_ms"], figures["parse_while_streaming_ms"], figures["big_home"]
    print(f"first sync: {figures['first_sync_ms']} ms ({figures['entities']} entities)")
    print(f"'{QUESTION}' before a state_changed: {a['before']!r}")
    print(f"'{QUESTION}' after it:               {a['after']!r}  (changed: {a['changed']})")
    print(f"state_changed -> home: p50 {ev['p50']} ms, p99 {ev['p99']} ms, max {ev['max']} ms over {ev['n']} events")
    print(f"HA stopped: noticed in {r['noticed_ms']} ms; answer while away: {r['answer_while_away']!r}")
    print(f"HA started again: resynced {r['resync_after_listening_ms']} ms after it listened; "
          f"answer: {r['answer_after_resync']!r}")
    print(f"parse while HA streams: p50 {pr['p50']} ms, p99 {pr['p99']} ms over {pr['n']} requests "
          f"({pr['events_applied_meanwhile']} events applied meanwhile)")
    print(f"full sync of {big['entities']} entities: {big['sync_ms']} ms ({big['in_an_area']} placed by their device)")
    print(f"client counters: {figures['counters']}")
    ok = a["changed"] and r["resynced"] and r["answer_after_resync"] != r["answer_while_away"] and big["synced"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
