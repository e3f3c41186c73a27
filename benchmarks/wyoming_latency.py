"""Wyoming round-trip latency of `edge-nlu wyoming` against an in-process parse of the same texts, in the same run.

    python benchmarks/wyoming_latency.py [--n 2000] [--model DIR] [--home FILE] [--seed 0] [--json]

The service runs as the real command in a child process (`edge-nlu wyoming --uri tcp://127.0.0.1:0`, one parse
thread, a satellite configured in the Kitchen, compound splitting off so that both sides parse each text once);
this process is its client, with wyoming's own AsyncTcpClient, and also parses every text itself with
`EdgeNLU.parse_result` and the same context the service builds. For each text, in turns (the order rotates, so
machine noise hits all alike):

- `wyoming, one connection`: a transcript -> intent / not-recognized round trip over one long-lived TCP
  connection (what a Rhasspy 3 pipeline or a load test does);
- `wyoming, a connection per request`: connect, transcript, reply, close (what Home Assistant does);
- `in-process parse_result`: the parse alone, no protocol.

It also times `describe` -> `info` round trips, and checks that each wyoming reply is the reply the in-process
result maps to (`reply_for`); answers that name the time can differ when a second ticks over in between.
Prints a table (p50/p99 in ms and the ratios to the in-process parse); `--json` prints the figures as JSON instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]  # this tree's tools, not an older installed copy

from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.event import Event  # noqa: E402
from wyoming.info import Describe  # noqa: E402
from wyoming.intent import IntentsStart, IntentsStop  # noqa: E402

from edge_nlu.domain.home import Home  # noqa: E402
from edge_nlu.pipeline import EdgeNLU  # noqa: E402
from edge_nlu.service.wyoming.events import Reply, Request, reply_for  # noqa: E402
from edge_nlu.settings import RuntimeSettings  # noqa: E402
from edge_nlu_tools.bench.stages import sample_texts  # noqa: E402

SATELLITE, AREA = "assist_satellite.bench", "Kitchen"
WARMUP = 50
MODES = ("wyoming, one connection", "wyoming, a connection per request", "in-process parse_result")
TIMEOUT = 30.0


def texts(n: int, seed: int) -> tuple[list[str], str]:
    """n request texts: HWU64 train where the export data is present, else the bench's built-in list."""
    return sample_texts(n, random.Random(seed))  # noqa: S311 - sampling benchmark requests, not secrets


class Service:
    """`edge-nlu wyoming` in a child process on a free loopback port; its log drained in a thread."""

    def __init__(self, model: Path, home: Path, workdir: Path) -> None:
        config = workdir / "wyoming.yaml"
        config.write_text(yaml.safe_dump({"satellites": {SATELLITE: AREA}, "split_compound": False, "threads": 1}))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge_nlu.cli.main", "wyoming", "--uri", "tcp://127.0.0.1:0", "--config",
             str(config), "--home", str(home), "--model", str(model), "--log-level", "INFO"],
            cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        self.log: list[str] = []
        self.port = 0
        for line in self.proc.stderr:
            self.log.append(line)
            if "Wyoming intent service on tcp://" in line:
                self.port = int(line.rsplit(":", 1)[1].split()[0])
                break
        if not self.port:
            raise SystemExit("edge-nlu wyoming did not start:\n" + "".join(self.log[-20:]))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(TIMEOUT)


async def read_reply(client: AsyncTcpClient) -> list[Event]:
    """One reply's events: one event, or intents-start ... intents-stop."""
    events: list[Event] = []
    while True:
        event = await client.read_event()
        if event is None:
            raise RuntimeError("the service closed the connection")
        events.append(event)
        if not IntentsStart.is_type(events[0].type) or IntentsStop.is_type(event.type):
            return events


def context_now() -> dict[str, Any]:
    """The context the service builds for a transcript from the benchmark's satellite."""
    return {"satellite": {"id": SATELLITE, "has_screen": None}, "time": datetime.now().isoformat(timespec="seconds"),
            "area": AREA}


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


async def measure(port: int, nlu: EdgeNLU, home: Home, items: list[str]) -> dict[str, Any]:
    times: dict[str, list[float]] = {m: [] for m in MODES}
    agree = differ = 0
    examples: list[dict[str, Any]] = []
    async with AsyncTcpClient("127.0.0.1", port, read_timeout=TIMEOUT) as client:

        async def persistent(text: str) -> tuple[float, Reply]:
            t0 = time.perf_counter()
            await client.write_event(Request(text, language="en", satellite_id=SATELLITE).to_event())
            events = await read_reply(client)
            return time.perf_counter() - t0, Reply.from_events(events)

        async def fresh(text: str) -> tuple[float, Reply]:
            t0 = time.perf_counter()
            async with AsyncTcpClient("127.0.0.1", port, read_timeout=TIMEOUT) as one:
                await one.write_event(Request(text, language="en", satellite_id=SATELLITE).to_event())
                events = await read_reply(one)
            return time.perf_counter() - t0, Reply.from_events(events)

        def local(text: str) -> tuple[float, Reply]:
            ctx = context_now()
            t0 = time.perf_counter()
            result = nlu.parse_result(text, ctx, home=home)
            took = time.perf_counter() - t0
            return took, reply_for([result], home, 0.5)

        for text in items[:WARMUP]:
            await persistent(text)
            await fresh(text)
            local(text)
        for i, text in enumerate(items):
            got: dict[str, tuple[float, Reply]] = {}
            for k in range(3):  # rotate the order each request
                mode = MODES[(i + k) % 3]
                if mode == MODES[0]:
                    got[mode] = await persistent(text)
                elif mode == MODES[1]:
                    got[mode] = await fresh(text)
                else:
                    got[mode] = local(text)
            for mode, (took, _) in got.items():
                times[mode].append(took * 1000)
            want = got[MODES[2]][1]
            if got[MODES[0]][1] == want and got[MODES[1]][1] == want:
                agree += 1
            else:
                differ += 1
                if len(examples) < 5:
                    examples.append({"text": text, "wyoming": repr(got[MODES[0]][1]), "in_process": repr(want)})
        describe: list[float] = []
        for _ in range(max(200, len(items) // 5)):
            t0 = time.perf_counter()
            await client.write_event(Describe().event())
            await client.read_event()
            describe.append((time.perf_counter() - t0) * 1000)
    base50, base99 = pct(times[MODES[2]], 50), pct(times[MODES[2]], 99)
    rows = {m: {"p50_ms": round(pct(v, 50), 3), "p99_ms": round(pct(v, 99), 3), "mean_ms": round(sum(v) / len(v), 3),
                "ratio_p50": round(pct(v, 50) / base50, 2), "ratio_p99": round(pct(v, 99) / base99, 2)}
            for m, v in times.items()}
    rows["wyoming describe -> info"] = {"p50_ms": round(pct(describe, 50), 3), "p99_ms": round(pct(describe, 99), 3),
                                        "mean_ms": round(sum(describe) / len(describe), 3), "n": len(describe)}
    return {"rows": rows, "replies_agree": agree, "replies_differ": differ, "differing_examples": examples}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="requests (at least 1000 for the issue's figure)")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "home")
    ap.add_argument("--home", type=Path, default=ROOT / "devices" / "homes" / "demo.yaml")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    items, source = texts(args.n, args.seed)
    home = Home.load(args.home)
    nlu = EdgeNLU(RuntimeSettings(model_dir=args.model, threads=1), home=home)
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(args.model, args.home, Path(tmp))
        try:
            started = time.perf_counter()
            out = asyncio.run(measure(service.port, nlu, home, items))
            wall = time.perf_counter() - started
        finally:
            service.close()
    report = {"n": len(items), "texts": source, "model": str(args.model), "home": str(args.home),
              "wall_s": round(wall, 1), "python": platform.python_version(), "machine": platform.machine(),
              "cpus": os.cpu_count(), **out}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{len(items)} requests ({source}), model {args.model.name}, home {args.home.name}; "
          f"{wall:.1f} s; {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'':36} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'p50 x':>7} {'p99 x':>7}")
    for name, row in out["rows"].items():
        ratios = (f"{row['ratio_p50']:>7.2f} {row['ratio_p99']:>7.2f}" if "ratio_p50" in row else f"{'':>7} {'':>7}")
        print(f"{name:36} {row['p50_ms']:>8.3f} {row['p99_ms']:>8.3f} {row['mean_ms']:>8.3f} {ratios}")
    print(f"replies equal to the in-process result's: {out['replies_agree']} of {len(items)}"
          + (f"; differing: {out['differing_examples']}" if out["replies_differ"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
