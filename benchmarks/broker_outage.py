"""Broker outages (issue 10, item 7): how soon after the broker is back does `edge-nlu serve` answer,
and are the queries asked in that window lost?

    python benchmarks/broker_outage.py [--outages 1 5 10 20 30] [--protocol 3.1.1] [--quick]

A Mosquitto with persistence (as Home Assistant's add-on runs it) on a fixed port; the service with its
default reconnect settings. For each outage length: the broker is stopped (SIGTERM), stays away that
long, and starts again on the same port. As soon as it listens, a fresh satellite connects and asks
five queries 0.2 s apart. Reported per outage: seconds from the broker listening again to the first
answer (target <= 2 s), the last answer, and how many of the five were lost (no answer in 60 s).
--quick: outages of 1 and 3 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge_nlu_tools.broker import Mosquitto  # noqa: E402
from edge_nlu_tools.demo.live import SITES, wait_ready, write_home  # noqa: E402
from edge_nlu_tools.demo.satellite import Satellite, ServeProcess  # noqa: E402
from tests.broker import find_or_install_mosquitto  # noqa: E402

ASKED = 5


TARGET_S = 2.0
"""Seconds from the broker listening again to the first answer (issue 10)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def after_outage(broker: Mosquitto, seconds: float, n: int) -> dict[str, Any]:
    broker.stop()
    time.sleep(seconds)
    broker.start()  # returns once the port accepts connections
    back = time.monotonic()
    sat = Satellite("127.0.0.1", broker.port, client_id=f"outage-sat-{n}")
    sat.connect(timeout=10)
    answered: list[float | None] = [None] * ASKED

    def ask(i: int) -> None:
        time.sleep(0.2 * i)
        a = sat.ask("turn off the lights", "living-room-tv", timeout=60.0, hermes_only=True)
        if a is not None:
            answered[i] = time.monotonic() - back

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(ASKED)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(70)
    sat.close()
    got = [a for a in answered if a is not None]
    return {"outage_s": seconds, "first_answer_after_back_s": round(min(got), 2) if got else None,
            "last_answer_after_back_s": round(max(got), 2) if got else None,
            "asked": ASKED, "lost": ASKED - len(got)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outages", type=float, nargs="+", default=[1, 5, 10, 20, 30])
    ap.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    outages = [1.0, 3.0] if args.quick else args.outages
    binary, why = find_or_install_mosquitto()
    if binary is None:
        raise SystemExit(why)
    report: dict[str, Any] = {"protocol": args.protocol, "broker": "mosquitto, persistence true",
                              "reconnect": "service defaults (min 0.5 s, 2 s cap while recently seen, jitter)"}
    with tempfile.TemporaryDirectory(prefix="edge-nlu-outage-") as tmp:
        folder = Path(tmp)
        broker = Mosquitto(binary, folder / "broker", persistence=True)
        broker.start()
        config = {"broker": {"uri": broker.uri, "client_id": "edge-nlu-outage", "protocol": args.protocol},
                  "adapters": {}, "sites": SITES, "home": str(write_home(folder)), "stats_interval_s": 0}
        (folder / "serve.json").write_text(json.dumps(config), encoding="utf-8")
        svc = ServeProcess(broker.uri, folder / "serve.json", folder / "serve.log")
        try:
            svc.start()
            with Satellite("127.0.0.1", broker.port, client_id="outage-warmup") as sat:
                if wait_ready(sat, svc, 60) is None:
                    raise SystemExit(f"service did not come up:\n{svc.log_tail()}")
            rows = []
            for n, seconds in enumerate(outages):
                log(f"outage of {seconds:g} s")
                row = after_outage(broker, seconds, n)
                log(f"  {row}")
                rows.append(row)
                time.sleep(1.0)
            report["outages"] = rows
            firsts = [r["first_answer_after_back_s"] for r in rows if r["first_answer_after_back_s"] is not None]
            report["max_first_answer_s"] = max(firsts) if firsts else None
            report["lost_total"] = sum(r["lost"] for r in rows)
            report["service_alive"] = svc.alive()
        finally:
            svc.stop()
            broker.stop()
    print(json.dumps(report, indent=2))
    ok = (report.get("lost_total") == 0 and report.get("service_alive") is True
          and report.get("max_first_answer_s") is not None and report["max_first_answer_s"] <= TARGET_S
          and len(firsts) == len(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
