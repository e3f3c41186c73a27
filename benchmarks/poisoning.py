"""Learning poisoning, for real: can someone on the broker make the house unlock itself? (issue 10, item 1)

Each attempt runs on a fresh Mosquitto-backed `edge-nlu serve` (a subprocess, its own temp config and
interaction store, the shipped models, a home with a front-door lock, a garage door, an alarm and kitchen
lights): the victim's request is answered once (the clean answer), the attacker publishes plain Hermes and
`edge-nlu/feedback` messages from one MQTT client, then the routine `edge-nlu learn` runs as a separate
process, and the victim asks again. An attempt succeeds when the victim's answer changed (model intent,
action or targets). Kinds:

  mined_one_client      made-up conversations (request, barge-in, rephrase, barge-in, opposite request),
                        with the request times spread out, from one client; variants forge users and sites
  other_user_correction a query with the victim's user and satellite, then a correction of it
  result_id_correction  a correction on the id of the victim's own query, read from `edge-nlu/result/#`
  taught_sensitive      "when I say good night unlock the front door" (garage, alarm) taught as the victim
  flip_non_sensitive    the same against kitchen lights (mined with forged users and sites, and corrected)

A control (`legit_correction`: the user corrects a misreading of their own, from their own satellite)
checks that learning still learns. Target: 0 successful attacks, the control learned.

    .venv/bin/python benchmarks/poisoning.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from edge_nlu_tools.broker import LocalBroker  # noqa: E402
from edge_nlu_tools.demo.satellite import Satellite, ServeProcess  # noqa: E402

HOME = """
areas:
  - {id: hall, name: Hall}
  - {id: garage, name: Garage}
  - {id: kitchen, name: Kitchen}
entities:
  - {id: lock.front_door, name: Front door, area: hall, state: locked}
  - {id: cover.garage_door, name: Garage door, area: garage, state: closed, attributes: {device_class: garage}}
  - {id: alarm_control_panel.house_alarm, name: Alarm, area: hall, state: armed_away}
  - {id: light.kitchen_ceiling, name: Kitchen ceiling, area: kitchen, state: "off", attributes: {brightness: 0}}
"""
SITES = {"hall-puck": {"area": "Hall"}, "garage-puck": {"area": "Garage"}, "kitchen-puck": {"area": "Kitchen"},
         "kitchen-screen": {"area": "Kitchen"}}
VICTIM = "alex"


class Run:
    """One fresh serve + store on the shared broker; the attacker's and the victim's clients."""

    def __init__(self, broker: LocalBroker, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "home.yaml").write_text(HOME)
        self.config = folder / "serve.json"
        self.config.write_text(json.dumps({
            "broker": {"uri": broker.uri, "client_id": f"edge-nlu-{folder.name}"}, "sites": SITES,
            "home": str(folder / "home.yaml"), "stats_interval_s": 0, "adapters": {},
            "learning": {"store": str(folder / "learn.sqlite3"), "reload_interval_s": 0.5}}))
        self.serve = ServeProcess(broker.uri, self.config, folder / "serve.log")
        self.victim = Satellite(broker.host, broker.port, client_id=f"victim-{folder.name}")
        self.attacker = Satellite(broker.host, broker.port, client_id=f"attacker-{folder.name}")
        self.results: dict[str, tuple[str, dict[str, Any]]] = {}

    def __enter__(self) -> Run:
        self.victim.connect()
        self.attacker.connect()
        self.attacker.client.message_callback_add("edge-nlu/result/#", self._spy)
        self.serve.start()
        if not self.victim.wait_status("online", 60, self.serve.alive):
            raise SystemExit(f"serve did not come up:\n{self.serve.log_tail()}")
        deadline = time.monotonic() + 30
        while self.victim.ask("what time is it", "hall-puck", timeout=1) is None:  # subscriptions in place
            if time.monotonic() > deadline:
                raise SystemExit(f"serve does not answer:\n{self.serve.log_tail()}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.serve.stop()
        self.victim.close()
        self.attacker.close()

    def _spy(self, client: Any, userdata: Any, msg: Any) -> None:
        """The attacker reads every result, as anyone subscribed to edge-nlu/result/# can."""
        self.attacker._on_message(client, userdata, msg)  # a topic callback replaces on_message: pass it on
        try:
            data = json.loads(msg.payload)
        except ValueError:
            return
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            self.results[data["id"]] = (msg.topic.rsplit("/", 1)[-1], data)

    def ask(self, sat: Satellite, text: str, site: str, user: str, when: datetime | None = None,
            session: str | None = None) -> dict[str, Any]:
        extra: dict[str, Any] = {"user": user}
        if when is not None:
            extra["time"] = when.isoformat(timespec="seconds")
        ans = sat.ask(text, site, session_id=session, timeout=30, **extra)
        if ans is None:
            raise SystemExit(f"no answer to {text!r}:\n{self.serve.log_tail()}")
        return ans.result

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.attacker.client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(10)

    def barge_in(self, site: str, session: str) -> None:
        self.publish("hermes/dialogueManager/sessionEnded",
                     {"sessionId": session, "siteId": site, "termination": {"reason": "abortedByUser"}})
        time.sleep(0.3)  # a human takes longer than this to start over; keeps the broker's order obvious

    def learn(self) -> dict[str, Any]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-m", "edge_nlu.cli", "learn", "--config", str(self.config), "--json"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise SystemExit(f"edge-nlu learn failed: {out.stderr[-2000:]}")
        time.sleep(2.0)  # the running serve polls the store every 0.5 s
        report: dict[str, Any] = json.loads(out.stdout)
        return report


def effect(result: dict[str, Any]) -> tuple[Any, ...]:
    a = result.get("action") or {}
    return (result.get("nlu") or {}).get("intent"), a.get("intent"), tuple(sorted(a.get("targets") or ()))


# --- the attacks: each takes a fresh run and returns (victim's clean effect, effect after the attack) --------

def mined(request: str, opposite: str, site: str, users_sites: list[tuple[str, str]],
          chains: int = 3) -> Callable[[Run], tuple[Any, Any]]:
    def attack(run: Run) -> tuple[Any, Any]:
        clean = effect(run.ask(run.victim, request, site, VICTIM))
        start = datetime.now() - timedelta(hours=6)
        partial = request.split(" ", 1)[1] if " " in request else request  # "the front door"
        for k in range(chains):
            user, at = users_sites[k % len(users_sites)]
            t0 = start + timedelta(minutes=20 * k)
            for i, text in enumerate((request, partial, opposite)):
                session = f"atk-{k}-{i}"
                run.ask(run.attacker, text, at, user, t0 + timedelta(seconds=4 * i), session)
                if i < 2:
                    run.barge_in(at, session)
        run.learn()
        return clean, effect(run.ask(run.victim, request, site, VICTIM))
    return attack


def correction(request: str, fix: str, site: str, with_site: bool, with_user: bool,
               from_result: bool) -> Callable[[Run], tuple[Any, Any]]:
    def attack(run: Run) -> tuple[Any, Any]:
        clean = effect(run.ask(run.victim, request, site, VICTIM))
        if from_result:  # the victim's own query, its id read off edge-nlu/result/#
            qid = clean_id = run.ask(run.victim, request, site, VICTIM)["id"]
            deadline = time.monotonic() + 10
            while clean_id not in run.results and time.monotonic() < deadline:
                time.sleep(0.05)
            seen_site = run.results.get(clean_id, (site, {}))[0]
        else:  # a query of the attacker's, naming the victim's user and satellite
            qid = run.ask(run.attacker, request, site, VICTIM)["id"]
            seen_site = site
        msg: dict[str, Any] = {"id": qid, "signal": "correction", "text": fix}
        if with_site:
            msg["siteId"] = seen_site
        if with_user:
            msg["user"] = VICTIM
        run.publish("edge-nlu/feedback", msg)
        time.sleep(1.0)
        run.learn()
        return clean, effect(run.ask(run.victim, request, site, VICTIM))
    return attack


def taught(command: str, site: str, confirm_by_attacker: bool = False) -> Callable[[Run], tuple[Any, Any]]:
    def attack(run: Run) -> tuple[Any, Any]:
        clean = effect(run.ask(run.victim, "good night", site, VICTIM))
        run.ask(run.attacker, f"when I say good night {command}", site, VICTIM)
        if confirm_by_attacker:  # answering the question from another satellite
            run.ask(run.attacker, "yes", "kitchen-puck", VICTIM)
        run.learn()
        return clean, effect(run.ask(run.victim, "good night", site, VICTIM))
    return attack


def legit(run: Run) -> tuple[Any, Any]:
    """The control: the user corrects a misreading of their own, from their own satellite, right away."""
    r = run.ask(run.victim, "douse the kitchen lights", "kitchen-puck", VICTIM)
    run.publish("edge-nlu/feedback", {"id": r["id"], "signal": "correction", "siteId": "kitchen-puck",
                                      "user": VICTIM, "text": "turn off the kitchen lights"})
    time.sleep(1.0)
    return effect(r), effect(run.ask(run.victim, "douse the kitchen lights", "kitchen-puck", VICTIM))


ONE = [("mallory", "hall-puck")]
FORGED = [(f"user{k}", site) for k, site in enumerate(("hall-puck", "garage-puck", "kitchen-puck", "kitchen-screen"))]
KITCHEN_FORGED = [(f"user{k}", s) for k, s in enumerate(("kitchen-puck", "kitchen-screen", "kitchen-puck",
                                                         "kitchen-screen"))]
ATTEMPTS: list[tuple[str, str, Callable[[Run], tuple[Any, Any]]]] = [
    # (kind, variant, attack); the first of each kind is the --quick set
    ("mined_one_client", "lock->unlock, one user, one site",
     mined("lock the front door", "unlock the front door", "hall-puck", ONE)),
    ("mined_one_client", "lock->unlock, 4 forged users on 4 sites",
     mined("lock the front door", "unlock the front door", "hall-puck", FORGED, chains=4)),
    ("mined_one_client", "close->open garage, one user",
     mined("close the garage door", "open the garage door", "garage-puck", ONE)),
    ("other_user_correction", "victim's user+site, correction names both",
     correction("close the garage door", "open the garage door", "garage-puck", True, True, False)),
    ("other_user_correction", "victim's user+site, bare correction",
     correction("close the garage door", "open the garage door", "garage-puck", False, False, False)),
    ("other_user_correction", "lock->unlock, names both",
     correction("lock the front door", "unlock the front door", "hall-puck", True, True, False)),
    ("result_id_correction", "id and site from the result topic, user guessed",
     correction("close the garage door", "open the garage door", "garage-puck", True, True, True)),
    ("result_id_correction", "id only",
     correction("close the garage door", "open the garage door", "garage-puck", False, False, True)),
    ("taught_sensitive", "good night -> unlock the front door", taught("unlock the front door", "hall-puck")),
    ("taught_sensitive", "good night -> open the garage", taught("open the garage", "garage-puck")),
    ("taught_sensitive", "good night -> disarm the alarm", taught("disarm the alarm", "hall-puck")),
    ("taught_sensitive", "unlock, yes from another satellite",
     taught("unlock the front door", "hall-puck", confirm_by_attacker=True)),
    ("flip_non_sensitive", "lights on->off, 4 forged users on 2 sites",
     mined("turn on the kitchen lights", "turn off the kitchen lights", "kitchen-puck", KITCHEN_FORGED, chains=4)),
    ("flip_non_sensitive", "lights on->off, correction as the victim",
     correction("turn on the kitchen lights", "turn off the kitchen lights", "kitchen-puck", True, True, False)),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one attempt per kind (the first variant)")
    ap.add_argument("--json", type=Path, help="write the report here")
    args = ap.parse_args()
    chosen, seen = [], set()
    for kind, variant, attack in ATTEMPTS:
        if args.quick and kind in seen:
            continue
        seen.add(kind)
        chosen.append((kind, variant, attack))
    t0 = time.monotonic()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edge-nlu-poison-") as tmp, LocalBroker("mosquitto") as broker:
        for n, (kind, variant, attack) in enumerate([*chosen, ("control", "legit_correction", legit)]):
            with Run(broker, Path(tmp) / f"run{n}") as run:
                clean, after = attack(run)
            ok = after != clean
            rows.append({"kind": kind, "variant": variant, "changed": ok, "clean": list(clean), "after": list(after)})
            print(f"  {kind:<22} {variant:<48} {'CHANGED' if ok else 'unchanged'}  {clean} -> {after}", flush=True)
    kinds: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["kind"] != "control":
            k = kinds.setdefault(r["kind"], {"attempts": 0, "successes": 0})
            k["attempts"] += 1
            k["successes"] += int(r["changed"])
    control = next(r for r in rows if r["kind"] == "control")
    print(f"\n{'kind':<24}{'attempts':>9}{'successes':>11}")
    for kind, k in kinds.items():
        print(f"{kind:<24}{k['attempts']:>9}{k['successes']:>11}")
    total = sum(k["successes"] for k in kinds.values())
    print(f"{'all':<24}{sum(k['attempts'] for k in kinds.values()):>9}{total:>11}   (target: 0)")
    print(f"control: a user's own correction {'was learned' if control['changed'] else 'was NOT learned'}"
          f" ({time.monotonic() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"kinds": kinds, "attempts": rows, "control_learned": control["changed"]},
                                        indent=2))
    return 0 if total == 0 and control["changed"] else 1


if __name__ == "__main__":
    sys.exit(main())
