"""Memory of `edge-nlu serve` under a long mixed load (issue 10): does RSS level off or keep growing?

    python benchmarks/soak.py [--minutes 10] [--quick]

Against a local Mosquitto this script starts: the simulated home's retained state, then for the whole
run at once
- device traffic: Zigbee2MQTT state changes (~50 msg/s) and Home Assistant discovery churn (a config
  created and an old one removed every second, so learned topics come and go);
- queries: ~4 per second from five sites, each in a new session (session memory is capped);
- feedback: a positive or negative signal on every other answer (self-learning on, store in a temp dir).

RSS (VmRSS of the serve process) is sampled every 5 s. Reported: start (first sample after the
first minute, when the model and caches are warm), max, end, and the slope of a least-squares line
over the second half of the run in MiB per hour (a leak shows as a steady positive slope). Prints one
JSON report on stdout; progress goes to stderr. --quick: 1 minute, for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge_nlu_tools.broker import LocalBroker  # noqa: E402
from edge_nlu_tools.demo.live import SITES, wait_ready, write_home  # noqa: E402
from edge_nlu_tools.demo.satellite import Satellite, ServeProcess  # noqa: E402
from edge_nlu_tools.demo.simhome import SimHome  # noqa: E402

QUERIES = [("what is the temperature?", "kitchen-puck"), ("turn off the lights", "living-room-tv"),
           ("turn on the kettle", "kitchen-puck"), ("play the hobbit", "living-room-tv"),
           ("set the bedroom radiator to 20 degrees", "bedroom-puck"), ("turn on the reading lamp", "kitchen-puck"),
           ("dim the lights a bit", "living-room-tv"), ("is the front door locked", "kitchen-puck")]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rss_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, RssAnon) in KiB: RssAnon is the heap, which a leak grows; file pages come and go."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    vals = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
            if line.startswith(("VmRSS:", "RssAnon:"))}
    return vals.get("VmRSS", 0), vals.get("RssAnon", 0)


def slope_mib_per_hour(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB), per hour."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mx = sum(t for t, _ in samples) / n
    my = sum(v for _, v in samples) / n
    den = sum((t - mx) ** 2 for t, _ in samples)
    if den == 0:
        return None
    return round(sum((t - mx) * (v - my) for t, v in samples) / den * 3600, 2)


class DeviceTraffic(threading.Thread):
    """Zigbee2MQTT state changes and HA discovery churn at a steady rate, in its own client."""

    def __init__(self, port: int, names: list[str], rate: float, stop: threading.Event) -> None:
        super().__init__(name="soak-devices", daemon=True)
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="soak-devices")
        self.c.max_queued_messages_set(5000)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.names, self.rate, self.stop, self.sent = names, rate, stop, 0

    def run(self) -> None:
        rng = random.Random(1)
        k, last_churn = 0, time.monotonic()
        while not self.stop.wait(1.0 / self.rate):
            name = rng.choice(self.names)
            self.c.publish(f"zigbee2mqtt/{name}", json.dumps({"linkquality": rng.randint(1, 255),
                                                               "state": rng.choice(["ON", "OFF"])}), qos=0)
            self.sent += 1
            if time.monotonic() - last_churn >= 1.0:
                last_churn = time.monotonic()
                conf = {"name": f"Churn {k}", "uniq_id": f"churn_{k}", "stat_t": f"churn/{k}/state",
                        "avty_t": f"churn/{k}/avail", "json_attr_t": f"churn/{k}/attr"}
                self.c.publish(f"homeassistant/sensor/churn_{k}/config", json.dumps(conf), qos=1, retain=True)
                self.c.publish(f"churn/{k}/state", str(k), qos=0)
                if k >= 20:  # keep 20 alive: the old ones are removed (empty retained config)
                    self.c.publish(f"homeassistant/sensor/churn_{k - 20}/config", b"", qos=1, retain=True)
                k += 1
                self.sent += 2

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="1 minute")
    ap.add_argument("--query-rate", type=float, default=4.0, help="queries per second")
    ap.add_argument("--device-rate", type=float, default=50.0, help="device state messages per second")
    ap.add_argument("--keep-log", type=Path, help="copy the service's log here")
    args = ap.parse_args()
    minutes = 1.0 if args.quick else args.minutes
    report: dict[str, Any] = {"minutes": minutes, "query_rate": args.query_rate, "device_rate": args.device_rate}
    with tempfile.TemporaryDirectory(prefix="edge-nlu-soak-") as tmp, LocalBroker("mosquitto") as b:
        folder = Path(tmp)
        sim = SimHome(b.host, b.port)
        sim.connect()
        sim.publish_all()
        adapters: dict[str, Any] = dict(sim.adapter_options())
        adapters["ha_discovery"] = {}
        config = {"broker": {"uri": b.uri, "client_id": "edge-nlu-soak"}, "adapters": adapters, "sites": SITES,
                  "home": str(write_home(folder)), "stats_interval_s": 30,
                  "learning": {"store": str(folder / "learning.sqlite3")}}
        (folder / "serve.json").write_text(json.dumps(config), encoding="utf-8")
        svc = ServeProcess(b.uri, folder / "serve.json", folder / "serve.log")
        sat = Satellite(b.host, b.port, client_id="soak-satellite")
        stop = threading.Event()
        feedback = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="soak-feedback")
        devices: DeviceTraffic | None = None
        try:
            sat.connect()
            feedback.connect(b.host, b.port)
            feedback.loop_start()
            svc.start()
            if wait_ready(sat, svc, 60) is None:
                raise SystemExit(f"service did not come up:\n{svc.log_tail()}")
            assert svc.pid is not None
            devices = DeviceTraffic(b.port, [d.friendly_name for d in sim.zigbee], args.device_rate, stop)
            devices.start()
            samples: list[tuple[float, float]] = []
            anon: list[tuple[float, float]] = []
            last_answer, longest_gap = time.monotonic(), 0.0
            t0 = time.monotonic()
            end = t0 + minutes * 60
            next_sample, n, answered, lost, fed = t0, 0, 0, 0, 0
            lat: list[float] = []
            log(f"soak: {minutes:g} min, {args.query_rate:g} queries/s, {args.device_rate:g} device msgs/s")
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_sample:
                    both = rss_kib(svc.pid)
                    if both is None:
                        raise SystemExit(f"serve died:\n{svc.log_tail()}")
                    kib = both[0]
                    samples.append((now - t0, kib / 1024))
                    anon.append((now - t0, both[1] / 1024))
                    next_sample += 5.0
                    if len(samples) % 12 == 0:
                        log(f"  {now - t0:5.0f} s  RSS {kib / 1024:.1f} MiB (anon {both[1] / 1024:.1f})  queries {n}  "
                            f"lost {lost}")
                text, site = QUERIES[n % len(QUERIES)]
                a = sat.ask(text, site, session_id=uuid.uuid4().hex, timeout=10.0)
                n += 1
                if a is None:
                    lost += 1
                else:
                    answered += 1
                    lat.append(a.result_s)
                    longest_gap = max(longest_gap, time.monotonic() - last_answer)
                    last_answer = time.monotonic()
                    if n % 2 == 0:
                        feedback.publish("edge-nlu/feedback", json.dumps(
                            {"id": a.result.get("id"), "signal": "positive" if n % 4 else "negative",
                             "siteId": site}), qos=1)
                        fed += 1
                time.sleep(max(0.0, 1.0 / args.query_rate - (time.monotonic() - now)))
            warm = [(t, v) for t, v in samples if t >= min(60.0, minutes * 30)]
            half = [(t, v) for t, v in samples if t >= samples[-1][0] / 2]
            lat.sort()
            report.update({
                "queries": n, "answered": answered, "lost": lost, "feedback_sent": fed,
                "device_msgs_sent": devices.sent,
                "query_p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
                "query_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1) if lat else None,
                "rss_mib": {"start": round(warm[0][1], 1) if warm else None,
                            "max": round(max(v for _, v in samples), 1), "end": round(samples[-1][1], 1),
                            "first_sample": round(samples[0][1], 1)},
                "rss_slope_mib_per_hour": {"second_half": slope_mib_per_hour(half),
                                           "after_warmup": slope_mib_per_hour(warm)},
                "rss_anon_mib": {"start": round(next(v for t, v in anon if t >= warm[0][0]), 1) if warm else None,
                                 "max": round(max(v for _, v in anon), 1), "end": round(anon[-1][1], 1)},
                "rss_anon_slope_mib_per_hour": {
                    "second_half": slope_mib_per_hour([(t, v) for t, v in anon if t >= anon[-1][0] / 2]),
                    "after_warmup": slope_mib_per_hour([(t, v) for t, v in anon if warm and t >= warm[0][0]])},
                "longest_gap_between_answers_s": round(longest_gap, 1),
                "samples": len(samples),
                "learning_on": "self-learning is OFF" not in svc.log_tail(10**7),
            })
        finally:
            stop.set()
            if devices is not None:
                devices.join(5)
                devices.close()
            feedback.disconnect()
            feedback.loop_stop()
            sat.close()
            sim.close()
            svc.stop()
            errors = [line for line in (folder / "serve.log").read_text(errors="replace").splitlines()
                      if " ERROR " in line][:5] if (folder / "serve.log").is_file() else []
            report["serve_errors"] = errors
            if args.keep_log is not None and (folder / "serve.log").is_file():
                args.keep_log.write_bytes((folder / "serve.log").read_bytes())
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
