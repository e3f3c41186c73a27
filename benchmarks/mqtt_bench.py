"""The live service's figures (issue 3), against a local Mosquitto this script starts and stops.

    python benchmarks/mqtt_bench.py [--queries 1000] [--flood-s 10] [--restarts 3] [--broker mosquitto]

(a) query -> Hermes intent round trip through the broker, p50/p99, and as a ratio to a bare
    publish/subscribe echo (a tiny client in its own process that republishes), interleaved
    one for one in the same run, so both see the same machine and broker;
(b) device-state ingest rate: a publisher floods Zigbee2MQTT state while queries keep running;
    the rate is read from the service's own counters (`stats_interval_s: 1` in its log);
(c) peak RSS of the `serve` process (VmHWM);
(d) seconds from a broker restart (listening again) until the service answers a query again,
    with the service's default reconnect settings (min 0.5 s, capped at 2 s while the broker was
    seen in the last 5 minutes, jitter 0.5-1x). benchmarks/broker_outage.py measures outages of
    1-30 s and whether queries asked meanwhile are lost.

Prints one JSON report on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import ast
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge_nlu_tools.broker import LocalBroker, stop_process  # noqa: E402
from edge_nlu_tools.demo.live import SITES, wait_ready, write_home  # noqa: E402
from edge_nlu_tools.demo.satellite import Satellite, ServeProcess  # noqa: E402
from edge_nlu_tools.demo.simhome import SimHome  # noqa: E402

QUERIES = [("what is the temperature?", "kitchen-puck"), ("turn off the lights", "living-room-tv"),
           ("turn on the kettle", "kitchen-puck"), ("play the hobbit", "living-room-tv"),
           ("set the bedroom radiator to 20 degrees", "bedroom-puck"), ("turn on the reading lamp", "kitchen-puck")]
FLOOD_DEVICES = 200


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def echo_main(port: int) -> None:
    """The bare echo service: republish every `bench/echo/in` payload on `bench/echo/out`."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-echo")
    c.on_socket_open = _nodelay
    c.on_connect = lambda cl, *_: cl.subscribe("bench/echo/in", qos=1)

    def echo(cl: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
        cl.publish("bench/echo/out", m.payload, qos=1)

    c.on_message = echo
    c.connect("127.0.0.1", port)
    c.loop_forever()


class EchoProbe:
    """Publishes to the echo service and waits for the same payload back."""

    def __init__(self, port: int) -> None:
        self.cond = threading.Condition()
        self.got: set[bytes] = set()
        self.ready = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-echo-probe")
        self.c.on_socket_open = _nodelay
        self.c.on_connect = lambda cl, *_: cl.subscribe("bench/echo/out", qos=1)
        self.c.on_subscribe = lambda *_: self.ready.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.ready.wait(5), "echo probe not subscribed"

    def _on_message(self, cl: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.got.add(bytes(m.payload))
            self.cond.notify_all()

    def round_trip(self, n: int, timeout: float = 5.0) -> float | None:
        key = str(n).encode()
        t0 = time.perf_counter()
        self.c.publish("bench/echo/in", key, qos=1)
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.got, timeout):
                return None
            self.got.discard(key)
        return time.perf_counter() - t0

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50_ms": round(pct(ms, 0.5), 3), "p99_ms": round(pct(ms, 0.99), 3),
            "mean_ms": round(statistics.fmean(ms), 3), "max_ms": round(max(ms), 3)}


def counters(log_path: Path) -> list[tuple[float, dict[str, int]]]:
    """(wall time, counters) from the service's `edge-nlu counters: {...}` log lines."""
    out = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if "edge-nlu counters: " not in line:
            continue
        stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        out.append((stamp, ast.literal_eval(line.split("edge-nlu counters: ", 1)[1])))
    return out


def flood_main(port: int, seconds: float) -> None:
    """Zigbee2MQTT state for FLOOD_DEVICES lights, as fast as the broker takes it (QoS 1, bounded queue).

    Its own process, so that it does not share a GIL with the clients that measure; prints the count sent."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-flood")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(2000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        payload = json.dumps({"state": "ON" if n % 2 else "OFF", "brightness": n % 254, "linkquality": 90})
        info = c.publish(f"zigbee2mqtt/flood lamp {n % FLOOD_DEVICES}", payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            time.sleep(0.001)
            continue
        n += 1
    c.disconnect()
    c.loop_stop()
    print(n, flush=True)


def run_queries(sat: Satellite, n: int, echo: EchoProbe | None) -> tuple[list[float], list[float], int]:
    q_rtt, e_rtt, lost = [], [], 0
    for i in range(n):
        text, site = QUERIES[i % len(QUERIES)]
        a = sat.ask(text, site, timeout=10.0, hermes_only=True)
        if a is None or a.hermes_s is None:
            lost += 1
        else:
            q_rtt.append(a.hermes_s)
        if echo is not None:
            e = echo.round_trip(i)
            if e is not None:
                e_rtt.append(e)
    return q_rtt, e_rtt, lost


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--flood-s", type=float, default=10.0)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--broker", choices=["mosquitto", "embedded"], default="mosquitto")
    ap.add_argument("--echo", type=int, help=argparse.SUPPRESS)  # internal: run the echo service on this port
    ap.add_argument("--flood", nargs=2, help=argparse.SUPPRESS)  # internal: PORT SECONDS
    args = ap.parse_args()
    if args.echo:
        echo_main(args.echo)
        return 0
    if args.flood:
        flood_main(int(args.flood[0]), float(args.flood[1]))
        return 0
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="edge-nlu-bench-") as tmp, LocalBroker(args.broker) as b:
        folder = Path(tmp)
        report["broker"] = {"kind": b.kind, "uri": b.uri}
        sim = SimHome(b.host, b.port)
        sim.connect()
        sim.publish_all()
        config = {"broker": {"uri": b.uri, "client_id": "edge-nlu-bench"}, "adapters": sim.adapter_options(),
                  "sites": SITES, "home": str(write_home(folder)), "stats_interval_s": 1}
        (folder / "serve.json").write_text(json.dumps(config), encoding="utf-8")
        echo_proc = subprocess.Popen([sys.executable, __file__, "--echo", str(b.port)])
        svc = ServeProcess(b.uri, folder / "serve.json", folder / "serve.log")
        sat = Satellite(b.host, b.port, client_id="bench-satellite")
        echo = None
        try:
            sat.connect()
            svc.start()
            t0 = time.monotonic()
            if wait_ready(sat, svc, 30) is None:
                raise SystemExit(f"service did not come up:\n{svc.log_tail()}")
            report["startup_s"] = round(time.monotonic() - t0, 2)
            echo = EchoProbe(b.port)
            for _ in range(50):  # warm-up, not measured
                sat.ask("turn off the lights", "living-room-tv", timeout=10)
                echo.round_trip(-1)
            log(f"(a) {args.queries} queries, interleaved with echo round trips")
            q, e, lost = run_queries(sat, args.queries, echo)
            report["a_round_trip"] = {"query_to_intent": summary(q), "bare_echo": summary(e), "lost": lost,
                                      "ratio_p50": round(pct(q, 0.5) / pct(e, 0.5), 1),
                                      "ratio_p99": round(pct(q, 0.99) / pct(e, 0.99), 1)}
            log(f"(b) Zigbee2MQTT flood for {args.flood_s} s while queries run")
            flooder = subprocess.Popen([sys.executable, __file__, "--flood", str(b.port), str(args.flood_s)],
                                       stdout=subprocess.PIPE, text=True)
            f0 = time.time()
            under: list[float] = []
            lost_b = 0
            while flooder.poll() is None and time.time() - f0 < args.flood_s + 30:
                qq, _, lo = run_queries(sat, 10, None)
                under += qq
                lost_b += lo
            sent = int(flooder.communicate(timeout=30)[0].strip() or 0)
            f1 = time.time()
            time.sleep(2.5)  # let the counters log the end of the flood
            rows = [(t, c) for t, c in counters(svc.log_path) if f0 + 1 <= t <= f1]
            (ta, ca), (tb, cb) = rows[0], rows[-1]
            report["b_ingest"] = {
                "offered_msgs_per_s": round(sent / args.flood_s),
                "applied_updates_per_s": round((cb["ingested"] - ca["ingested"]) / (tb - ta)),
                "received_msgs_per_s": round((cb["messages"] - ca["messages"]) / (tb - ta)),
                "rejected_in_window": cb["rejected"] - ca["rejected"],
                "queries_during_flood": summary(under) if under else None, "queries_lost": lost_b,
                "window_s": round(tb - ta, 1)}
            status = Path(f"/proc/{svc.pid}/status").read_text()
            hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
            report["c_peak_rss_mib"] = round(hwm / 1024, 1)
            log(f"(d) {args.restarts} broker restarts")
            recov = []
            for _ in range(args.restarts):
                b.stop()
                time.sleep(0.5)
                b.start()
                r0 = time.monotonic()
                while time.monotonic() - r0 < 120:
                    if sat.ask("turn off the lights", "living-room-tv", timeout=0.1, hermes_only=True):
                        recov.append(round(time.monotonic() - r0, 2))
                        break
                sim.publish_all()  # the hubs republish their state after a broker restart
            report["d_broker_restart_to_answer_s"] = {
                "each": recov, "max": max(recov) if recov else None,
                "reconnect_settings": "defaults: min_s 0.5, recent_max_s 2, max_s 30, jitter"}
        finally:
            if echo is not None:
                echo.close()
            sat.close()
            sim.close()
            svc.stop()
            stop_process(echo_proc)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
