"""Where the service path's time goes (issue 15): a Hermes query in, both answers out, against a bare echo.

    python benchmarks/service_overhead.py [--n 1000] [--learning] [--json]

In one run, against one local Mosquitto this script starts:

- **echo**: a bare publish/subscribe echo (a paho client in its own process republishes `bench/echo/in` on
  `bench/echo/out`, QoS 1 both ways, as Hermes is): the broker's and paho's own round trip;
- **round trip**: `edge-nlu serve` (a child process: the shipped model, the demo home, every adapter at its
  standard prefix, `--learning` adds a learning store) answers `hermes/nlu/query`; the time until *both*
  answers are back (the Hermes intent or intentNotRecognized, and the full result on `edge-nlu/result/<site>`);
- **in-process parse**: `EdgeNLU.parse_result` here, over the same home, on the same texts with the context the
  service builds (with `--learning`: `LearningBridge.handle_result` on a store of its own, what the service
  calls per query);

interleaved one for one (query, echo, in-process), so all three see the same machine and broker.

Overhead = round trip - parse. Two figures: `overhead` is per query, its round trip minus the parse time the
service itself measured for that query (exactly the same work), and `overhead_vs_inprocess` is the round trip's
p50/p99 minus the in-process parse's. `ratio` divides by the echo's p50/p99.

The per-phase breakdown comes from the service's own stamps (`EDGE_NLU_TRACE`, perf_counter_ns: one monotonic
clock for every process on the host), joined with this client's by query id: in (client publish -> service
network thread), hand-off (-> query thread), read (payload -> typed query), context (home snapshot, history,
context), parse, encode (timers, history, the two payloads), publish (both handed to paho), out (-> the last
answer here) and after (bookkeeping after the publish, off the reply path).

`--before DIR` also runs the service from another copy of the code, on its own topic prefixes, interleaved one
query for one with this tree's, so a change is measured against what it replaced on the same load. A copy with
only the service path (service, learn, pipeline) as at commit C and the rest, the model and resolve too, as here
(add edge_nlu/resolve and edge_nlu/domain/profiles.py to the archive to compare resolution as well):

    mkdir -p /tmp/before/benchmarks && cp -r edge_nlu models devices /tmp/before/ && \
        git archive C edge_nlu/service edge_nlu/learn edge_nlu/pipeline.py | tar -x -C /tmp/before && \
        cp benchmarks/service_overhead.py benchmarks/mqtt_bench.py /tmp/before/benchmarks/

`--stages` run from such a copy (`cd /tmp/before && python benchmarks/service_overhead.py --stages`, with
PYTHONPATH naming this checkout's tools/) measures that code's stages.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

from mqtt_bench import EchoProbe, _nodelay, pct  # noqa: E402

from edge_nlu.domain.home import Home  # noqa: E402
from edge_nlu.pipeline import EdgeNLU  # noqa: E402
from edge_nlu.service.hermes import HermesQuery, build_context  # noqa: E402
from edge_nlu.settings import RuntimeSettings, default_model_dir  # noqa: E402
from edge_nlu_tools.broker import LocalBroker, stop_process  # noqa: E402
from edge_nlu_tools.demo.satellite import ServeProcess  # noqa: E402

SITES: dict[str, dict[str, Any]] = {
    "kitchen-puck": {"area": "Kitchen", "has_screen": False},
    "living-room-tv": {"area": "Living Room", "has_screen": True},
    "bedroom-puck": {"area": "Bedroom", "has_screen": False},
}
QUERIES = [("what is the temperature?", "kitchen-puck"), ("turn off the lights", "living-room-tv"),
           ("turn on the kettle", "kitchen-puck"), ("play the hobbit", "living-room-tv"),
           ("set the bedroom radiator to 20 degrees", "bedroom-puck"), ("turn on the reading lamp", "kitchen-puck"),
           ("what time is it", "bedroom-puck"), ("dim the lights to 30 percent", "bedroom-puck"),
           ("is the front door locked", "living-room-tv"), ("set a timer for 5 minutes", "kitchen-puck")]
TRACE_ENV = "EDGE_NLU_TRACE"  # edge_nlu.service.app's; named here too so that --stages runs on older code
TRACE_STAGES = ("recv", "dequeued", "query_read", "context", "parsed", "encoded", "published", "done")
PHASES = ("in", "handoff", "read", "context", "parse", "encode", "publish", "out", "after")
HOME = ROOT / "devices" / "homes" / "demo.yaml"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def stats(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"n": 0}
    return {"n": len(values_ms), "p50_ms": round(pct(values_ms, 0.5), 3), "p99_ms": round(pct(values_ms, 0.99), 3),
            "mean_ms": round(statistics.fmean(values_ms), 3)}


class InProcess:
    """The same parse here: plain `EdgeNLU.parse_result`, or the learning bridge on a store of its own."""

    def __init__(self, folder: Path, learning: bool) -> None:
        self.nlu = EdgeNLU(RuntimeSettings(model_dir=default_model_dir(), threads=1), home=Home.load(HOME))
        self.bridge = None
        if learning:
            from edge_nlu.learn.settings import LearnSettings
            from edge_nlu.service.learning import LearningBridge

            self.bridge = LearningBridge(LearnSettings(store=str(folder / "inprocess.db")), self.nlu, "hermes",
                                         "edge-nlu")

    def parse(self, text: str, site: str, qid: str, when: str) -> float:
        q = HermesQuery(input=text, site_id=site, session_id=qid, id=qid, time=when)
        ctx = build_context(q, _Site(**SITES[site]), [], when)
        t0 = time.perf_counter_ns()
        if self.bridge is not None:
            self.bridge.handle_result(q, ctx, self.nlu.home, None)
        else:
            self.nlu.parse_result(text, ctx, qid, home=self.nlu.home)
        return (time.perf_counter_ns() - t0) / 1e6

    def close(self) -> None:
        if self.bridge is not None:
            self.bridge.close()


class _Site:
    def __init__(self, area: str | None = None, has_screen: bool | None = None, user: str | None = None) -> None:
        self.area, self.has_screen, self.user = area, has_screen, user


class HermesProbe:
    """A satellite as bare as the echo probe: one query at a time, both answers recognised by the query id in the
    payload and stamped on arrival; JSON is read only after the clock stops (checks that both answers are the
    query's), so the client costs the round trip what it costs the echo."""

    def __init__(self, port: int, hermes: str, own: str, client_id: str) -> None:
        self.hermes, self.own = hermes, own
        self.cond = threading.Condition()
        self.status: str | None = None
        self.key = b""
        self.stamps: dict[str, int] = {}
        self.payloads: dict[str, bytes] = {}
        self.ready = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.c.on_socket_open = _nodelay
        self.c.on_connect = lambda cl, *_: cl.subscribe([(f"{own}/status", 1), (f"{own}/result/+", 1),
                                                         (f"{hermes}/intent/#", 1),
                                                         (f"{hermes}/nlu/intentNotRecognized", 1)])
        self.c.on_subscribe = lambda *_: self.ready.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        if not self.ready.wait(10):
            raise SystemExit("hermes probe not subscribed")

    def _on_message(self, cl: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
        now = time.perf_counter_ns()
        topic = m.topic
        if topic == f"{self.own}/status":
            with self.cond:
                self.status = m.payload.decode()
                self.cond.notify_all()
            return
        if not self.key or self.key not in m.payload:
            return
        which = "result" if topic.startswith(f"{self.own}/result/") else "hermes"
        with self.cond:
            self.stamps[which] = now
            self.payloads[which] = bytes(m.payload)
            if len(self.stamps) == 2:
                self.cond.notify_all()

    def wait_status(self, value: str, timeout: float, alive: Any) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.status != value:
                if time.monotonic() > deadline or not alive():
                    return False
                self.cond.wait(0.1)
        return True

    def ask(self, text: str, site: str, qid: str, when: str, timeout: float = 10.0) -> tuple[int, int, int] | None:
        """(sent, Hermes answer, result) in perf_counter_ns, None on timeout or a wrong answer."""
        payload = json.dumps({"input": text, "siteId": site, "sessionId": qid, "id": qid, "intentFilter": None,
                              "time": when})
        with self.cond:
            self.key = f'"{qid}"'.encode()
            self.stamps, self.payloads = {}, {}
        t0 = time.perf_counter_ns()
        self.c.publish(f"{self.hermes}/nlu/query", payload, qos=1)
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.stamps) == 2, timeout)
            self.key = b""
            stamps, payloads = dict(self.stamps), dict(self.payloads)
        if not ok or any(json.loads(p).get("id") != qid for p in payloads.values()):
            return None
        return t0, stamps["hermes"], stamps["result"]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


class Served:
    """One `edge-nlu serve` under test and the satellite asking it (own topic prefixes, so two can share a broker)."""

    def __init__(self, name: str, root: Path, folder: Path, uri: str, host: str, port: int, learning: bool,
                 trace: Path | None) -> None:
        self.name, self.root, self.trace = name, root, trace
        hermes, own = ("hermes", "edge-nlu") if name == "after" else (f"{name}-hermes", f"{name}-edge-nlu")
        config: dict[str, Any] = {"broker": {"uri": uri, "client_id": f"edge-nlu-overhead-{name}"}, "sites": SITES,
                                  "home": str(HOME), "stats_interval_s": 0, "topics": {"hermes": hermes,
                                                                                      "edge_nlu": own}}
        if learning:
            config["learning"] = {"store": str(folder / f"{name}.db")}
        (folder / f"{name}.json").write_text(json.dumps(config), encoding="utf-8")
        self.svc = ServeProcess(uri, folder / f"{name}.json", folder / f"{name}.log", log_level="WARNING")
        self.sat = HermesProbe(port, hermes, own, f"overhead-satellite-{name}")
        self.sent: dict[str, int] = {}
        self.rtt: dict[str, float] = {}
        self.got: dict[str, tuple[int, int]] = {}
        self.lost = 0

    def start(self) -> None:
        env = dict(os.environ)
        os.environ["PYTHONPATH"] = os.pathsep.join([str(self.root), str(ROOT / "tools")])
        if self.trace is not None:
            os.environ[TRACE_ENV] = str(self.trace)
        cwd = os.getcwd()
        os.chdir(self.root)  # `python -m` puts the working directory first on sys.path
        try:
            self.svc.start()
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(env)

    def wait_online(self) -> None:
        if not self.sat.wait_status("online", 60, self.svc.alive):
            raise SystemExit(f"service {self.name} did not come up:\n{self.svc.log_tail()}")

    def ask(self, text: str, site: str, qid: str, when: str, keep: bool) -> None:
        a = self.sat.ask(text, site, qid, when)
        if not keep:
            return
        if a is None:
            self.lost += 1
            return
        t0, hermes_ns, result_ns = a
        self.sent[qid] = t0
        self.rtt[qid] = (max(hermes_ns, result_ns) - t0) / 1e6
        self.got[qid] = (hermes_ns, result_ns)

    def stop(self) -> None:
        self.sat.close()
        self.svc.stop(timeout=15)

    def report(self, echo_ms: list[float], local_ms: list[float]) -> dict[str, Any]:
        traces = {}
        if self.trace is not None and self.trace.is_file():
            for line in self.trace.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row.get("id") in self.rtt and all(k in row for k in TRACE_STAGES):
                    traces[row["id"]] = row
        phases: dict[str, list[float]] = {k: [] for k in PHASES}
        overhead: list[float] = []
        for qid, row in traces.items():
            recv, deq, read, ctx, parsed, enc, pub, done = (row[k] for k in TRACE_STAGES)
            for name, a_ns, b_ns in (("in", self.sent[qid], recv), ("handoff", recv, deq), ("read", deq, read),
                                     ("context", read, ctx), ("parse", ctx, parsed), ("encode", parsed, enc),
                                     ("publish", enc, pub), ("out", pub, max(self.got[qid])), ("after", pub, done)):
                phases[name].append((b_ns - a_ns) / 1e6)
            overhead.append(self.rtt[qid] - (parsed - ctx) / 1e6)
        rt = list(self.rtt.values())
        e50, e99 = pct(echo_ms, 0.5), pct(echo_ms, 0.99)
        ov = {"p50_ms": round(pct(rt, 0.5) - pct(local_ms, 0.5), 3),
              "p99_ms": round(pct(rt, 0.99) - pct(local_ms, 0.99), 3)}
        out: dict[str, Any] = {
            "code": str(self.root), "lost": self.lost, "traced": len(traces), "round_trip": stats(rt),
            "overhead_vs_inprocess": ov,
            "ratio_vs_inprocess": {"p50": round(ov["p50_ms"] / e50, 2), "p99": round(ov["p99_ms"] / e99, 2)}}
        if overhead:
            out.update({"service_parse": stats(phases["parse"]), "overhead": stats(overhead),
                        "ratio": {"p50": round(pct(overhead, 0.5) / e50, 2),
                                  "p99": round(pct(overhead, 0.99) / e99, 2)},
                        "phases": {k: stats(v) for k, v in phases.items()}})
        return out


def run(n: int, warmup: int, learning: bool, broker_kind: str, before: Path | None) -> dict[str, Any]:
    report: dict[str, Any] = {"n": n, "learning": learning}
    with tempfile.TemporaryDirectory(prefix="edge-nlu-overhead-") as tmp, LocalBroker(broker_kind) as b:
        folder = Path(tmp)
        report["broker"] = b.kind
        served = [Served("after", ROOT, folder, b.uri, b.host, b.port, learning, folder / "trace.jsonl")]
        if before is not None:
            served.insert(0, Served("before", before.resolve(), folder, b.uri, b.host, b.port, learning,
                                    folder / "trace-before.jsonl"))
        echo_proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve().parent / "mqtt_bench.py"),
                                      "--echo", str(b.port)])
        echo: EchoProbe | None = None
        local = InProcess(folder, learning)
        echo_ms: list[float] = []
        local_ms: list[float] = []
        lost = 0
        try:
            for s in served:
                s.start()
            for s in served:
                s.wait_online()
            echo = EchoProbe(b.port)
            for i in range(warmup + n):
                text, site = QUERIES[i % len(QUERIES)]
                when = time.strftime("%Y-%m-%dT%H:%M:%S")
                for s in served if i % 2 else served[::-1]:  # each goes first half the time
                    s.ask(text, site, uuid.uuid4().hex, when, i >= warmup)
                e = echo.round_trip(i)
                qid = uuid.uuid4().hex
                p = local.parse(text, site, qid, when)
                if i < warmup:
                    continue
                if e is None:
                    lost += 1
                    continue
                echo_ms.append(e * 1000)
                local_ms.append(p)
        finally:
            if echo is not None:
                echo.close()
            for s in served:
                s.stop()
            stop_process(echo_proc)
            local.close()
        report.update({"echo_lost": lost, "echo": stats(echo_ms), "inprocess_parse": stats(local_ms)})
        for s in served:
            report[s.name] = s.report(echo_ms, local_ms)
    return report


def stages(n: int, seed: int = 0) -> dict[str, Any]:
    """Python time around the model, per stage, in this process: `parse_result`'s steps one at a time (as
    `edge-nlu bench` runs them: prepare, tokenize, model, decode, resolve), the service's own (read: payload ->
    query -> context; encode: the two answers), and the online rewriter's step (encode the request: a model;
    search + rank: Python and numpy). Requests: `edge-nlu bench`'s (HWU64 texts, every other one with a context
    of the demo home)."""
    from edge_nlu.learn.encoder import SentenceEncoder, default_rewriter_dir, load_global_index
    from edge_nlu.learn.rewriter import OnlineRewriter
    from edge_nlu.model.threads import limit_blas_threads
    from edge_nlu.resolve.resolver import resolve
    from edge_nlu.service.hermes import HermesCodec, parse_query
    from edge_nlu_tools.bench.stages import build_requests, prepare

    limit_blas_threads(1)  # as the `edge-nlu` entry point does
    nlu = EdgeNLU(RuntimeSettings(model_dir=default_model_dir(), threads=1), home=Home.load(HOME))
    reqs, source = build_requests(nlu.home, n + 20, seed)
    codec = HermesCodec()
    clock = time.perf_counter_ns
    names = ("prepare", "tokenize", "model", "decode", "resolve", "non_model", "service_read", "service_encode")
    times: dict[str, list[float]] = {k: [] for k in names}
    for i, req in enumerate(reqs):
        payload = json.dumps({"input": req.text, "siteId": "kitchen-puck", "sessionId": None, "id": uuid.uuid4().hex,
                              "intentFilter": None}).encode()
        t0 = clock()
        clean, ctx, home, segment = prepare(nlu, req)
        t1 = clock()
        enc = nlu.model.encode(clean, segment)
        t2 = clock()
        outputs = nlu.model.run(enc)
        t3 = clock()
        out = nlu.model.decode(clean, enc, outputs)
        t4 = clock()
        resolve(out, clean, home, ctx, nlu.profiles)
        t5 = clock()
        q = parse_query(payload)
        build_context(q, _Site(**SITES["kitchen-puck"]), [], "2026-12-02T08:00:00")
        t6 = clock()
        result = nlu.parse_result(req.text, req.context, q.id)
        t7 = clock()
        codec.answer(q, result)
        t8 = clock()
        if i < 20:
            continue
        for k, a, b in (("prepare", t0, t1), ("tokenize", t1, t2), ("model", t2, t3), ("decode", t3, t4),
                        ("resolve", t4, t5), ("service_read", t5, t6), ("service_encode", t7, t8)):
            times[k].append((b - a) / 1e6)
        times["non_model"].append((t1 - t0 + t2 - t1 + t4 - t3 + t5 - t4) / 1e6)
    report: dict[str, Any] = {"requests": n, "source": source, "stages": {k: stats(v) for k, v in times.items()}}
    d = default_rewriter_dir()
    if d is not None and d.is_dir():
        encoder = SentenceEncoder(d, threads=1, cache_size=1)
        texts, vecs = load_global_index(d)
        rewriter = OnlineRewriter(encoder, texts, vecs)
        model_ns: list[int] = []
        encode_one = encoder.encode

        def timed(batch: list[str]) -> Any:
            t = clock()
            try:
                return encode_one(batch)
            finally:
                model_ns.append(clock() - t)

        encoder.encode = timed  # type: ignore[method-assign,assignment]
        search: list[float] = []
        model: list[float] = []
        for i, req in enumerate(reqs):
            model_ns.clear()
            t0 = clock()
            rewriter.candidates(f"{req.text} {i}", None, time.time())
            total = clock() - t0
            if i >= 20:
                model.append(sum(model_ns) / 1e6)
                search.append((total - sum(model_ns)) / 1e6)
        report["rewriter_online"] = {"index": len(texts), "encode_model": stats(model), "search_rank": stats(search)}
    return report


def show_stages(r: dict[str, Any]) -> None:
    print(f"Python around the model ({r['requests']} requests from {r['source']}; one thread, this process)")
    for k, s in r["stages"].items():
        print(f"  {k:<16} p50 {s['p50_ms']:7.3f} ms   p99 {s['p99_ms']:7.3f} ms   mean {s['mean_ms']:7.3f} ms")
    if "rewriter_online" in r:
        o = r["rewriter_online"]
        print(f"  rewriter online step ({o['index']} shipped phrasings):")
        for k in ("encode_model", "search_rank"):
            s = o[k]
            print(f"    {k:<14} p50 {s['p50_ms']:7.3f} ms   p99 {s['p99_ms']:7.3f} ms   mean {s['mean_ms']:7.3f} ms")


def show(r: dict[str, Any]) -> None:
    def row(name: str, s: dict[str, Any]) -> None:
        if s.get("n"):
            print(f"  {name:<24} p50 {s['p50_ms']:7.3f} ms   p99 {s['p99_ms']:7.3f} ms   mean {s['mean_ms']:7.3f} ms")

    print(f"service overhead ({'learning on' if r['learning'] else 'learning off'}; {r['broker']}; "
          f"{r['n']} round trips each, interleaved)")
    row("echo", r["echo"])
    row("in-process parse", r["inprocess_parse"])
    for name in ("before", "after"):
        if name not in r:
            continue
        x = r[name]
        print(f" {name} ({x['code']}; {x['lost']} lost, {x['traced']} traced):")
        row("round trip (both)", x["round_trip"])
        if "overhead" in x:
            row("service's own parse", x["service_parse"])
            row("overhead (per query)", x["overhead"])
            print(f"  ratio overhead/echo       p50 {x['ratio']['p50']}x, p99 {x['ratio']['p99']}x")
        ov = x["overhead_vs_inprocess"]
        print(f"  {'overhead vs in-process':<24} p50 {ov['p50_ms']:7.3f} ms   p99 {ov['p99_ms']:7.3f} ms   "
              f"ratio to echo p50 {x['ratio_vs_inprocess']['p50']}x, p99 {x['ratio_vs_inprocess']['p99']}x")
        if "phases" in x:
            print("  phases:")
            for k, s in x["phases"].items():
                row(f"  {k}", s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="measured round trips (after --warmup)")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--learning", action="store_true", help="the service (and the in-process parse) with learning")
    ap.add_argument("--broker", choices=["mosquitto", "embedded"], default="mosquitto")
    ap.add_argument("--before", type=Path, help="a copy of the code before (see the docstring): its service is "
                    "measured too, interleaved one for one with this tree's")
    ap.add_argument("--stages", action="store_true", help="instead: the Python time around the model, per stage, "
                    "in this process (--n requests)")
    ap.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    args = ap.parse_args()
    if args.stages:
        st = stages(args.n)
        print(json.dumps(st, indent=2)) if args.json else show_stages(st)
        return 0
    r = run(args.n, args.warmup, args.learning, args.broker, args.before)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        show(r)
    return 0 if not (r["echo_lost"] or any(r[k]["lost"] for k in ("before", "after") if k in r)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
