"""Home Assistant discovery flood (issue 10, item 5): ingest rate and query latency with thousands of
discovery configs, against the same service without them, in one run.

    python benchmarks/discovery_flood.py [--configs 3000] [--flood-s 15] [--quick]

One `edge-nlu serve` process and a local Mosquitto. Phase A (baseline): a publisher in its own process
floods Zigbee2MQTT state for 200 lamps as fast as the broker takes it, for --flood-s seconds, while a
satellite keeps asking queries. Then --configs retained discovery configs arrive (each names a state,
an attribute and an availability topic: 3 topics per config), and phase B repeats the flood on those
learned topics (plus the same Zigbee2MQTT lamps), queries running. Ingest is the service's own
`messages` counter (logged every second); query latency is query -> Hermes answer.

Reported per phase: offered and received msgs/s, applied updates/s, query p50/p99/lost; the time
the service took to ingest all configs; query latency with the configs live but no flood (a home
with 3,000 more entities costs the resolver more per query, flood or not); and B/A ratios.
--quick: 300 configs, 4 s floods.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mqtt_bench import QUERIES, counters, log, run_queries, summary  # noqa: E402

from edge_nlu_tools.broker import LocalBroker  # noqa: E402
from edge_nlu_tools.demo.live import SITES, wait_ready, write_home  # noqa: E402
from edge_nlu_tools.demo.satellite import Satellite, ServeProcess  # noqa: E402
from edge_nlu_tools.demo.simhome import SimHome  # noqa: E402

LAMPS = 200
NODES = 30


def config_topic(i: int) -> str:
    return f"homeassistant/switch/node{i % NODES}/flood_{i}/config"


def discovery_config(i: int) -> dict[str, Any]:
    return {"name": f"Flood switch {i}", "uniq_id": f"flood_switch_{i}", "stat_t": f"flood/{i}/state",
            "json_attr_t": f"flood/{i}/attr", "avty_t": f"flood/{i}/avail",
            "dev": {"name": f"Flood node {i % NODES}", "ids": [f"node{i % NODES}"]}}


def flood_main(port: int, seconds: float, configs: int) -> None:
    """State as fast as the broker takes it: Zigbee2MQTT lamps, and with configs > 0 also every learned
    topic in turn (state, attributes, availability). Prints the count sent."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"flood-{configs}")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(2000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        if configs and n % 2:
            i, kind = (n // 2) % configs, (n // 2 // configs) % 3
            topic = f"flood/{i}/{('state', 'attr', 'avail')[kind]}"
            payload = ("ON" if n % 4 == 1 else "OFF", json.dumps({"power": n % 100}), "online")[kind]
        else:
            topic = f"zigbee2mqtt/flood lamp {n % LAMPS}"
            payload = json.dumps({"state": "ON" if n % 4 else "OFF", "brightness": n % 254, "linkquality": 90})
        info = c.publish(topic, payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            time.sleep(0.001)
            continue
        n += 1
    c.disconnect()
    c.loop_stop()
    print(n, flush=True)


def phase(name: str, port: int, seconds: float, configs: int, sat: Satellite, svc: ServeProcess) -> dict[str, Any]:
    log(f"phase {name}: {seconds:g} s flood ({configs} discovery configs live), queries running")
    flooder = subprocess.Popen([sys.executable, __file__, "--flood", str(port), str(seconds), str(configs)],
                               stdout=subprocess.PIPE, text=True)
    f0 = time.time()
    q: list[float] = []
    lost = 0
    while flooder.poll() is None and time.time() - f0 < seconds + 60:
        qq, _, lo = run_queries(sat, 5, None)
        q += qq
        lost += lo
    sent = int(flooder.communicate(timeout=60)[0].strip() or 0)
    f1 = time.time()
    time.sleep(2.5)  # the counters of the flood's last second reach the log
    rows = [(t, c) for t, c in counters(svc.log_path) if f0 + 1 <= t <= f1]
    (ta, ca), (tb, cb) = rows[0], rows[-1]
    return {"offered_msgs_per_s": round(sent / seconds),
            "received_msgs_per_s": round((cb["messages"] - ca["messages"]) / (tb - ta)),
            "applied_updates_per_s": round((cb["ingested"] - ca["ingested"]) / (tb - ta)),
            "rejected_in_window": cb["rejected"] - ca["rejected"], "queries": summary(q) if q else None,
            "queries_lost": lost, "window_s": round(tb - ta, 1)}


def publish_configs(port: int, n: int) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="discovery-configs")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = [c.publish(config_topic(i), json.dumps(discovery_config(i)), qos=1, retain=True) for i in range(n)]
    for info in infos:
        info.wait_for_publish(30)
    c.disconnect()
    c.loop_stop()


def wait_entities(svc: ServeProcess, at_least: int, timeout: float) -> float | None:
    """Seconds until the logged `entities` counter reaches `at_least`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        rows = counters(svc.log_path)
        if rows and rows[-1][1]["entities"] >= at_least:
            return time.monotonic() - t0
        time.sleep(0.2)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=3000)
    ap.add_argument("--flood-s", type=float, default=15.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--flood", nargs=3, help=argparse.SUPPRESS)  # internal: PORT SECONDS CONFIGS
    args = ap.parse_args()
    if args.flood:
        flood_main(int(args.flood[0]), float(args.flood[1]), int(args.flood[2]))
        return 0
    n, secs = (300, 4.0) if args.quick else (args.configs, args.flood_s)
    report: dict[str, Any] = {"configs": n, "learned_topics": 3 * n, "flood_s": secs}
    with tempfile.TemporaryDirectory(prefix="edge-nlu-dflood-") as tmp, LocalBroker("mosquitto") as b:
        folder = Path(tmp)
        sim = SimHome(b.host, b.port)
        sim.connect()
        sim.publish_all()
        adapters: dict[str, Any] = dict(sim.adapter_options())
        adapters["ha_discovery"] = {"max_configs": max(5000, n + 100)}
        config = {"broker": {"uri": b.uri, "client_id": "edge-nlu-dflood"}, "adapters": adapters, "sites": SITES,
                  "home": str(write_home(folder)), "stats_interval_s": 1,
                  "limits": {"max_devices": max(5000, n + 1000)}}
        (folder / "serve.json").write_text(json.dumps(config), encoding="utf-8")
        svc = ServeProcess(b.uri, folder / "serve.json", folder / "serve.log")
        sat = Satellite(b.host, b.port, client_id="dflood-satellite")
        try:
            sat.connect()
            svc.start()
            if wait_ready(sat, svc, 60) is None:
                raise SystemExit(f"service did not come up:\n{svc.log_tail()}")
            for _ in range(30):
                sat.ask(*QUERIES[0], timeout=10)
            report["a_baseline"] = phase("A (no discovery)", b.port, secs, 0, sat, svc)
            before = counters(svc.log_path)[-1][1]["entities"]
            log(f"publishing {n} discovery configs")
            t0 = time.monotonic()
            publish_configs(b.port, n)
            took = wait_entities(svc, before + n, 300)
            report["configs_ingest_s"] = round(time.monotonic() - t0, 2) if took is not None else None
            log("queries with the configs live and no flood (the bigger home's own cost)")
            idle, _, idle_lost = run_queries(sat, 200, None)
            report["b_idle_queries"] = {"queries": summary(idle) if idle else None, "queries_lost": idle_lost}
            report["b_discovery"] = phase("B (discovery flood)", b.port, secs, n, sat, svc)
            a, bb = report["a_baseline"], report["b_discovery"]
            report["ratio_b_over_a"] = {
                "received_msgs_per_s": round(bb["received_msgs_per_s"] / max(1, a["received_msgs_per_s"]), 2),
                "query_p50": round(bb["queries"]["p50_ms"] / a["queries"]["p50_ms"], 2),
                "query_p99": round(bb["queries"]["p99_ms"] / a["queries"]["p99_ms"], 2),
                "query_p50_flood_vs_idle_same_home": round(
                    bb["queries"]["p50_ms"] / report["b_idle_queries"]["queries"]["p50_ms"], 2)}
            report["errors_in_log"] = sum(" ERROR " in line for line in svc.log_tail(10**8).splitlines())
        finally:
            sat.close()
            sim.close()
            svc.stop()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
