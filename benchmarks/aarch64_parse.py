"""Does `edge-nlu parse` give the same answers on aarch64 as on x86? A proof that it runs, not a timing.

    python benchmarks/aarch64_parse.py [--root DIR] [--rebuild] [--bootstrap auto|full|unpack] [--no-install]
        [--cpu cortex-a72] [--x86-cpu Nehalem] [--slurp 300] [--hwu 100] [--tol 0.001] [--strict]
        [--save DIR] [--json FILE]

1. A Debian bookworm arm64 root (debootstrap, --variant=minbase, python3 and python3-venv) in DIR
   (default /tmp/edge-nlu-arm64root; reused when it already has python3, unless --rebuild). `full`
   runs debootstrap's second stage under qemu-user-static through binfmt_misc; `unpack` (for a host
   where no aarch64 binfmt handler is registered) runs the first stage only and unpacks every
   downloaded package with dpkg-deb, no maintainer scripts: enough to run python3. `auto` picks
   `full` when /proc/sys/fs/binfmt_misc/qemu-aarch64 is enabled.
2. The wheels: edge-nlu's own (`pip wheel --no-deps` of a copy of this checkout: pure Python, the
   models inside) and the runtime closure for manylinux aarch64 and the root's CPython, downloaded by
   benchmarks/aarch64_wheels.py's `pip_download`, each direct dependency pinned to the version this
   host's venv has, so that only the architecture differs between the two runs.
3. Install: a venv at /opt/edge-nlu in the root. With binfmt, the root's own (aarch64) pip installs
   edge-nlu from the wheel folder with --no-index, choosing wheels by its own tags; without, the
   venv is made --without-pip and the host's pip installs the same wheels into its site-packages
   (--platform, --only-binary=:all:).
4. Parse: the same JSONL batch (the context dev set with ../shared/context/dev/home.json, a slice
   of SLURP devel and of HWU64, the latter two at a fixed clock time) through `edge-nlu parse
   --jsonl` with the shipped model, once in the root (chroot; qemu-aarch64-static named explicitly
   when binfmt is missing) and once on x86 with the same edge-nlu wheel (--target) and this venv's
   dependencies.
5. Compare line by line, field by field. The answer (nlu intent and slots, action, response, error,
   rewrite) must be equal; the scores (every `confidence`, the order of `nlu.alternatives`) are
   reported: max, p99 and median |confidence difference| and how many exceed --tol. Exit 0 when
   the answers are the same, 1 when one differs (--strict: a score too), 2 when a step could not run.
   --x86-cpu MODEL also runs the x86 side under qemu-x86_64-static -cpu MODEL (Nehalem: no AVX2) and
   compares aarch64 with it, which tells an instruction-set kernel difference apart; --cpu sets
   the guest CPU (QEMU_CPU), and the run reports the int8 dot-product features the guest sees.

Needs root (debootstrap, chroot), debootstrap, qemu-user-static (and binfmt-support for `full`),
and the Debian and PyPI registries. Under emulation a request is ~10-50x slower than native: keep
--slurp/--hwu small enough for minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aarch64_wheels as aw  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CONTEXT_DIR = SHARED / "context" / "dev"
SLURP = SHARED / "data" / "slurp" / "devel.jsonl"
HWU = SHARED / "data" / "hwu64" / "train.jsonl"
FIXED_TIME = "2026-11-24T12:00:00"
"""Requests without a context get this clock time: answers about the time must not depend on the run."""
VENV = "/opt/edge-nlu"
WORK = "/srv/aarch64-parse"
"""Inside the root: the wheels, the home and the requests."""
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
QEMU = Path("/usr/bin/qemu-aarch64-static")
QEMU_X86 = Path("/usr/bin/qemu-x86_64-static")
CHROOT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
              "LANG": "C.UTF-8", "PYTHONUTF8": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
"""The root gets a clean environment: no host PYTHONPATH, VIRTUAL_ENV or OPENBLAS_CORETYPE."""
PLATFORM_CHECK = """
import platform, struct, numpy, onnxruntime
aux = dict(struct.iter_unpack("<QQ", open("/proc/self/auxv", "rb").read()))  # qemu-user fakes this file
print(platform.machine(), platform.python_version(), onnxruntime.__version__, numpy.__version__,
      "yes" if aux.get(16, 0) & 1 << 20 else "no", "yes" if aux.get(26, 0) & 1 << 13 else "no")
"""
"""Run in the root: machine, CPython, onnxruntime, numpy, and whether the (emulated) CPU offers the int8
dot-product instructions onnxruntime's aarch64 kernels choose by (AT_HWCAP asimddp, AT_HWCAP2 i8mm)."""
WHEEL_SOURCES = ("pyproject.toml", "README.md", "edge_nlu", "models", "devices")
"""What the runtime wheel is built from (as the Docker context): built from a copy, so no build/ in the tree."""


class StepError(RuntimeError):
    """A step that could not run (a command failed): exit 2 with its output's tail."""


# ----------------------------------------------------------------------------- pure parts


def build_requests(cases: Iterable[str], slurp: Iterable[str], hwu: Iterable[str], n_slurp: int, n_hwu: int,
                   fixed_time: str = FIXED_TIME) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The batch: every context dev case as it is (id, text, context), then the first n_slurp SLURP and an
    evenly spread n_hwu HWU64 requests with only a fixed clock time as context; and how many came from each.
    Expectations are dropped."""
    out: list[dict[str, Any]] = []
    counts = {"context_dev": 0, "slurp_devel": 0, "hwu64": 0}
    for line in cases:
        if line.strip():
            d = json.loads(line)
            out.append({"id": d["id"], "text": d["text"], "context": d.get("context")})
            counts["context_dev"] += 1
    for n, line in zip(range(n_slurp), (x for x in slurp if x.strip()), strict=False):
        d = json.loads(line)
        out.append({"id": d.get("id", f"slurp-{n}"), "text": d["text"], "context": {"time": fixed_time}})
        counts["slurp_devel"] += 1
    hwu_lines = [x for x in hwu if x.strip()] if n_hwu > 0 else []
    step = max(1, len(hwu_lines) // n_hwu) if n_hwu > 0 else 1
    for n, line in enumerate(hwu_lines[::step][:n_hwu]):
        d = json.loads(line)
        out.append({"id": d.get("id", f"hwu-{n}"), "text": d["text"], "context": {"time": fixed_time}})
        counts["hwu64"] += 1
    return out, counts


@dataclass
class Difference:
    """One place where the two runs differ: the request's line and id, a JSON path, both values, and whether
    it is in the answer or only in the model's scores."""

    line: int
    id: Any
    path: str
    x86: Any
    aarch64: Any
    kind: str = "answer"


def field_kind(path: str) -> str:
    """'score' for a `confidence` number or the runners-up (`nlu.alternatives`: their order follows scores a
    hair apart); 'answer' for the rest: intent, slots, action (HA intent, slots, targets), response, error."""
    return "score" if path.endswith(".confidence") or ".alternatives" in path else "answer"


@dataclass
class Comparison:
    n_x86: int
    n_aarch64: int
    tol: float
    identical: int = 0
    """Lines equal in every field, confidences within the tolerance."""
    same_answer: int = 0
    """Lines whose answer fields are equal (scores aside)."""
    conf_deltas: list[float] = field(default_factory=list)
    """|x86 - aarch64| of every `confidence` number compared."""
    differences: list[Difference] = field(default_factory=list)

    @property
    def lines_match(self) -> bool:
        return self.n_x86 == self.n_aarch64

    @property
    def answers_ok(self) -> bool:
        return self.lines_match and not any(d.kind == "answer" for d in self.differences)

    @property
    def ok(self) -> bool:
        """Every field equal, confidences within the tolerance."""
        return self.lines_match and not self.differences

    def conf_stats(self) -> dict[str, float]:
        """Max, p99 and median |confidence difference|, and how many exceed the tolerance."""
        d = sorted(self.conf_deltas)
        if not d:
            return {"n": 0, "max": 0.0, "p99": 0.0, "median": 0.0, "over_tol": 0}
        return {"n": len(d), "max": d[-1], "p99": d[min(len(d) - 1, math.ceil(0.99 * len(d)) - 1)],
                "median": d[(len(d) - 1) // 2], "over_tol": sum(1 for x in d if x > self.tol)}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def diff_values(a: Any, b: Any, path: str, tol: float, key: str = "") -> tuple[list[tuple[str, Any, Any]], list[float]]:
    """Where two JSON values differ, and the |difference| of every `confidence` number met on the way.
    Only numbers under a key named `confidence` get the tolerance; everything else must be equal, types too
    (so 15 and 15.0 differ, as they would on the wire)."""
    if key == "confidence" and _is_number(a) and _is_number(b):
        d = abs(float(a) - float(b))
        if math.isnan(d):
            return [(path, a, b)], [math.inf]
        return ([(path, a, b)] if d > tol else []), [d]
    out: list[tuple[str, Any, Any]] = []
    deltas: list[float] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in [*a, *(k for k in b if k not in a)]:
            if k not in a or k not in b:
                out.append((f"{path}.{k}", a.get(k, "<missing>"), b.get(k, "<missing>")))
                continue
            sub, ds = diff_values(a[k], b[k], f"{path}.{k}", tol, k)
            out += sub
            deltas += ds
        return out, deltas
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [(path, a, b)], []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            sub, ds = diff_values(x, y, f"{path}[{i}]", tol, key)
            out += sub
            deltas += ds
        return out, deltas
    if type(a) is not type(b) or a != b:
        return [(path, a, b)], []
    return [], []


def compare_results(x86: Sequence[dict[str, Any]], arm: Sequence[dict[str, Any]], tol: float) -> Comparison:
    """Line by line: the results of the two runs of one batch (same order, one result per request)."""
    cmp = Comparison(n_x86=len(x86), n_aarch64=len(arm), tol=tol)
    for n, (a, b) in enumerate(zip(x86, arm, strict=False), 1):
        diffs, deltas = diff_values(a, b, "$", tol)
        cmp.conf_deltas += deltas
        found = [Difference(n, a.get("id"), p, x, y, field_kind(p)) for p, x, y in diffs]
        cmp.differences += found
        cmp.identical += not found
        cmp.same_answer += not any(d.kind == "answer" for d in found)
    longer, name = (x86, "x86") if len(x86) > len(arm) else (arm, "aarch64")
    for n, extra in enumerate(longer[min(len(x86), len(arm)):], min(len(x86), len(arm)) + 1):
        pair: tuple[Any, Any] = (extra, "<missing>") if name == "x86" else ("<missing>", extra)
        cmp.differences.append(Difference(n, extra.get("id"), "$", *pair))
    return cmp


def format_differences(diffs: Sequence[Difference], limit: int = 20) -> str:
    lines = [f"line {d.line} ({d.id}) {d.path}: x86 {json.dumps(d.x86, ensure_ascii=False)[:160]} "
             f"!= aarch64 {json.dumps(d.aarch64, ensure_ascii=False)[:160]}" for d in diffs[:limit]]
    if len(diffs) > limit:
        lines.append(f"... and {len(diffs) - limit} more")
    return "\n".join(lines)


def pinned_requirements(requirements: Iterable[str], installed: dict[str, str]) -> list[str]:
    """Each requirement pinned to `name==version` where `installed` (canonical name -> version) has it;
    markers are kept, a requirement the host lacks is left as it is."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    out = []
    for raw in requirements:
        req = Requirement(raw)
        version = installed.get(canonicalize_name(req.name))
        if version is None:
            out.append(raw)
            continue
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f"; {req.marker}" if req.marker else ""
        out.append(f"{req.name}{extras}=={version}{marker}")
    return out


def binfmt_enabled(entry: Path = BINFMT) -> bool:
    """Is an aarch64 handler registered and enabled with binfmt_misc (its entry's first line is `enabled`)?"""
    try:
        return entry.read_text().splitlines()[:1] == ["enabled"]
    except OSError:
        return False


def installed_dists(site_packages: Path) -> list[dict[str, str]]:
    """Name, version and wheel tag of each distribution in a site-packages folder, from its .dist-info."""
    out = []
    for info in sorted(site_packages.glob("*.dist-info"), key=lambda p: p.name.lower()):
        meta = (info / "METADATA").read_text(encoding="utf-8", errors="replace") if (info / "METADATA").is_file() \
            else ""
        name = re.search(r"^Name: (.+)$", meta, re.M)
        version = re.search(r"^Version: (.+)$", meta, re.M)
        wheel = (info / "WHEEL").read_text(encoding="utf-8", errors="replace") if (info / "WHEEL").is_file() else ""
        tags = re.findall(r"^Tag: (.+)$", wheel, re.M)
        out.append({"name": name.group(1).strip() if name else info.name, "version":
                    version.group(1).strip() if version else "?", "tag": tags[0].strip() if tags else "?"})
    return out


# ----------------------------------------------------------------------------- steps


def _run(cmd: Sequence[str], what: str, timeout: float, **kw: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise StepError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc


def _nice(cmd: Sequence[str]) -> list[str]:
    return ["nice", "-n", "10", *cmd]


def root_python(root: Path) -> str | None:
    """The root's CPython X.Y, from where its /usr/bin/python3 points; None when it has none."""
    link = root / "usr" / "bin" / "python3"
    if not link.is_symlink() and not link.is_file():
        return None
    m = re.fullmatch(r"python(3\.\d+)", os.readlink(link) if link.is_symlink() else link.name)
    return m.group(1) if m else None


def build_root(root: Path, mode: str, suite: str, mirror: str | None) -> None:
    """debootstrap an arm64 minbase with python3 and python3-venv; `unpack` mode stops after the first
    stage and unpacks the downloaded packages itself."""
    base = ["debootstrap", "--arch=arm64", "--variant=minbase", "--include=python3,python3-venv"]
    tail = [suite, str(root), *([mirror] if mirror else [])]
    if mode == "full":
        _run(_nice([*base, *tail]), "debootstrap", 3600)
    else:
        _run(_nice([*base, "--foreign", *tail]), "debootstrap --foreign", 3600)
        debs = sorted((root / "var" / "cache" / "apt" / "archives").glob("*.deb"))
        if not debs:
            raise StepError(f"debootstrap --foreign left no packages in {root}/var/cache/apt/archives")
        for deb in debs:
            _run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb.name}", 600)
    shutil.copy2(QEMU, root / "usr" / "bin" / QEMU.name)  # for running the root's python without binfmt


def host_versions() -> dict[str, str]:
    """canonical name -> version of every distribution in the interpreter running this script (the host venv)."""
    from importlib.metadata import distributions

    from packaging.utils import canonicalize_name

    return {canonicalize_name(d.metadata["Name"]): d.version for d in distributions() if d.metadata["Name"]}


def fetch_wheels(dest: Path, python: str, pins: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """edge-nlu's wheel (built from a copy of the checkout) and the aarch64 runtime closure, into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="edge-nlu-src-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in WHEEL_SOURCES:
            p = ROOT / name
            if p.is_dir():
                shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3*"))
            else:
                shutil.copy2(p, src / name)
        _run(_nice([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "-w",
                    str(dest), str(src)]), "pip wheel (edge-nlu)", 1800)
    reqs = aw.runtime_requirements()
    if pins:
        reqs = pinned_requirements(reqs, host_versions())
    proc = aw.pip_download(reqs, python, dest)
    if proc.returncode != 0:
        raise StepError("pip download (aarch64) failed:\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-25:]))
    rows = aw.wheel_rows(dest)
    bad = [r["file"] for r in rows if r["kind"] == "other"]
    if bad:
        raise StepError(f"not aarch64 or pure-Python wheels: {', '.join(bad)}")
    return reqs, rows


def chroot_cmd(root: Path, argv: Sequence[str], binfmt: bool) -> list[str]:
    """Run an aarch64 program of the root: through binfmt_misc, or by naming the root's qemu-aarch64-static."""
    return ["chroot", str(root), *([] if binfmt else [f"/usr/bin/{QEMU.name}"]), *argv]


def site_packages(root: Path, python: str) -> Path:
    return root / VENV.lstrip("/") / "lib" / f"python{python}" / "site-packages"


def install(root: Path, python: str, wheel_dir: str, edge_wheel: str, binfmt: bool) -> str:
    """A fresh venv at /opt/edge-nlu with edge-nlu and its dependencies; says how it was installed."""
    venv = root / VENV.lstrip("/")
    if venv.exists():
        shutil.rmtree(venv)
    if binfmt:
        _run(_nice(chroot_cmd(root, ["/usr/bin/python3", "-m", "venv", VENV], binfmt)), "venv (aarch64)", 1800,
             env=CHROOT_ENV)
        _run(_nice(chroot_cmd(root, [f"{VENV}/bin/python", "-m", "pip", "install", "--no-index", "--find-links",
                                     wheel_dir, f"{wheel_dir}/{edge_wheel}"], binfmt)),
             "pip install (aarch64 pip in the root)", 3600, env=CHROOT_ENV)
        return "the root's aarch64 pip, --no-index from the wheel folder"
    _run(_nice(chroot_cmd(root, ["/usr/bin/python3", "-m", "venv", "--without-pip", VENV], binfmt)),
         "venv --without-pip (aarch64)", 1800, env=CHROOT_ENV)
    wheels = sorted(str(p) for p in (root / wheel_dir.lstrip("/")).glob("*.whl"))
    _run(_nice([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", "--no-index",
                "--only-binary=:all:", "--implementation", "cp", "--python-version", python,
                *(a for p in aw.PLATFORMS for a in ("--platform", p)), "--target", str(site_packages(root, python)),
                *wheels]), "pip install --target (host pip, aarch64 wheels)", 1800)
    target_bin = site_packages(root, python) / "bin"  # --target puts console scripts there, with the host's shebang
    for script in sorted(target_bin.iterdir()) if target_bin.is_dir() else []:
        body = script.read_text(encoding="utf-8").split("\n", 1)
        dest = venv / "bin" / script.name
        dest.write_text(f"#!{VENV}/bin/python\n{body[1] if len(body) > 1 else ''}", encoding="utf-8")
        dest.chmod(0o755)
    shutil.rmtree(target_bin, ignore_errors=True)
    return "the host's pip, --target the root venv's site-packages with --platform manylinux aarch64"


def _parse_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_parse_aarch64(root: Path, binfmt: bool, home: str, requests: str, timeout: float,
                      env: dict[str, str]) -> tuple[list[Any], float]:
    argv = [f"{VENV}/bin/edge-nlu"] if binfmt else [f"{VENV}/bin/python", f"{VENV}/bin/edge-nlu"]
    t0 = time.perf_counter()
    proc = _run(_nice(chroot_cmd(root, [*argv, "parse", "--home", home, "--jsonl", requests], binfmt)),
                "edge-nlu parse (aarch64)", timeout, env=env)
    return _parse_lines(proc.stdout), time.perf_counter() - t0


def install_x86(wheel: Path, target: Path) -> None:
    """The same edge-nlu wheel for the x86 run, into its own folder (dependencies from this venv): the x86
    answers come from the code and model the root got, not from whatever this venv or the tree has now."""
    if target.exists():
        shutil.rmtree(target)
    _run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", "--no-index",
          "--target", str(target), str(wheel)], "pip install --target (x86, edge-nlu wheel)", 600)


def run_parse_x86(site: Path, home: Path, requests: Path, timeout: float,
                  cpu: str | None = None) -> tuple[list[Any], float]:
    """`edge-nlu parse` from `site` (install_x86) with this venv's python; with `cpu`, under qemu-x86_64-static
    -cpu CPU (an x86 without AVX2, say), so that onnxruntime picks the int8 kernels that CPU has."""
    argv = [sys.executable, "-m", "edge_nlu.cli.main"]
    if cpu:
        argv = [str(QEMU_X86), "-cpu", cpu, *argv]
    env = {**os.environ, "PYTHONPATH": str(site)}
    t0 = time.perf_counter()
    proc = _run(_nice([*argv, "parse", "--home", str(home), "--jsonl", str(requests)]),
                f"edge-nlu parse (x86{', qemu -cpu ' + cpu if cpu else ''})", timeout, cwd=site, env=env)
    return _parse_lines(proc.stdout), time.perf_counter() - t0


def _iter_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as f:
        yield from f


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "edge-nlu-arm64root",
                    help="the arm64 root (reused when it has python3)")
    ap.add_argument("--rebuild", action="store_true", help="remove --root and debootstrap it anew")
    ap.add_argument("--bootstrap", choices=["auto", "full", "unpack"], default="auto")
    ap.add_argument("--no-binfmt", action="store_true",
                    help="act as if no aarch64 binfmt_misc handler were registered (unpack, qemu named explicitly)")
    ap.add_argument("--suite", default="bookworm")
    ap.add_argument("--mirror", help="Debian mirror for debootstrap (default: debootstrap's own)")
    ap.add_argument("--no-pin", action="store_true", help="latest aarch64 wheels, not this venv's versions")
    ap.add_argument("--no-install", action="store_true",
                    help="reuse the venv an earlier run installed in the root (no wheel download, no install)")
    ap.add_argument("--cpu", help="qemu CPU model (QEMU_CPU), e.g. cortex-a72 (Pi 4), cortex-a76 (Pi 5); "
                                  "default: qemu's `max`")
    ap.add_argument("--x86-cpu", metavar="MODEL",
                    help="also run the x86 parse under qemu-x86_64-static -cpu MODEL (e.g. Nehalem: no AVX2) and "
                         "compare aarch64 with that too: tells a difference of instruction set kernels apart")
    ap.add_argument("--save", type=Path, metavar="DIR", help="write each run's results (JSONL) into DIR")
    ap.add_argument("--slurp", type=int, default=300, help="first N of SLURP devel")
    ap.add_argument("--hwu", type=int, default=100, help="N spread over HWU64 train")
    ap.add_argument("--tol", type=float, default=1e-3, help="largest |confidence difference| that counts as equal")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 on score differences too (a confidence over --tol, runners-up in another order)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds for the emulated parse")
    ap.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        ap.error("needs root (debootstrap, chroot)")
    for tool in ("debootstrap", "chroot", "dpkg-deb"):
        if shutil.which(tool) is None:
            ap.error(f"{tool} not found: apt-get install debootstrap qemu-user-static binfmt-support")
    for qemu in (QEMU, *([QEMU_X86] if args.x86_cpu else [])):
        if not qemu.is_file():
            ap.error(f"{qemu} not found: apt-get install qemu-user-static")
    try:
        report = _main(args)
    except (StepError, subprocess.TimeoutExpired) as exc:
        print(f"aarch64_parse: error: {exc}", file=sys.stderr)
        return 2
    cmp: Comparison = report.pop("_comparison")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0 if (cmp.ok if args.strict else cmp.answers_ok) else 1


def _prepare_root(args: argparse.Namespace, root: Path, binfmt: bool, timings: dict[str, float]) -> tuple[bool, str]:
    mode = ("full" if binfmt else "unpack") if args.bootstrap == "auto" else args.bootstrap
    if mode == "full" and not binfmt:
        raise StepError("--bootstrap full needs an enabled aarch64 binfmt_misc handler "
                        "(update-binfmts --enable qemu-aarch64); use --bootstrap unpack")
    if args.rebuild and root.exists():
        shutil.rmtree(root)
    built = root_python(root) is None
    if built:
        if root.exists() and any(root.iterdir()):
            raise StepError(f"{root} is not empty and has no python3: give --rebuild or another --root")
        print(f"building the root: debootstrap {args.suite} arm64 minbase ({mode}) into {root} ...", flush=True)
        t0 = time.perf_counter()
        build_root(root, mode, args.suite, args.mirror)
        timings["root_build_s"] = time.perf_counter() - t0
    elif not (root / "usr" / "bin" / QEMU.name).is_file():
        shutil.copy2(QEMU, root / "usr" / "bin" / QEMU.name)
    return built, mode if built else "reused"


def _main(args: argparse.Namespace) -> dict[str, Any]:
    root: Path = args.root.resolve()
    binfmt = binfmt_enabled() and not args.no_binfmt
    timings: dict[str, float] = {}
    built, bootstrap = _prepare_root(args, root, binfmt, timings)
    python = root_python(root)
    if python is None:
        raise StepError(f"{root} has no usable /usr/bin/python3")
    print(f"root: {root} ({'built' if built else 'reused'}, CPython {python}); "
          f"binfmt_misc aarch64: {'used' if binfmt else 'not used (qemu-aarch64-static named explicitly)'}", flush=True)
    env = {**CHROOT_ENV, **({"QEMU_CPU": args.cpu} if args.cpu else {})}

    work = root / WORK.lstrip("/")
    reqs: list[str] = []
    rows: list[dict[str, Any]] = []
    how = "reused (--no-install)"
    if not args.no_install:
        t0 = time.perf_counter()
        reqs, rows = fetch_wheels(work / "wheels", python, pins=not args.no_pin)
        timings["wheels_s"] = time.perf_counter() - t0
        edge_wheel = next(r["file"] for r in rows if r["name"] == "edge-nlu")
        print(f"requirements: {', '.join(reqs)}\n{aw.format_table(rows)}", flush=True)
        t0 = time.perf_counter()
        how = install(root, python, f"{WORK}/wheels", edge_wheel, binfmt)
        timings["install_s"] = time.perf_counter() - t0
    installed = installed_dists(site_packages(root, python))
    in_root = site_packages(root, python) / "edge_nlu" / "models" / "home" / "model.onnx"
    if not in_root.is_file() or _sha256(in_root) != _sha256(ROOT / "models" / "home" / "model.onnx"):
        raise StepError(f"the installed model {in_root} is missing or not the checkout's models/home/model.onnx")

    requests, counts = build_requests(_iter_lines(CONTEXT_DIR / "cases.jsonl"), _iter_lines(SLURP),
                                      _iter_lines(HWU), args.slurp, args.hwu)
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CONTEXT_DIR / "home.json", work / "home.json")
    (work / "requests.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests),
                                         encoding="utf-8")
    wheels = sorted((work / "wheels").glob("edge_nlu-*.whl"))
    if len(wheels) != 1:
        raise StepError(f"expected one edge-nlu wheel in {work / 'wheels'}, found {len(wheels)}")
    x86_site = work / "x86-site"
    install_x86(wheels[0], x86_site)
    x86_model = x86_site / "edge_nlu" / "models" / "home" / "model.onnx"
    if _sha256(x86_model) != _sha256(in_root):
        raise StepError(f"{x86_model} is not the model installed in the root")
    print(f"parsing {len(requests)} requests on x86 ...", flush=True)
    x86, timings["parse_x86_s"] = run_parse_x86(x86_site, work / "home.json", work / "requests.jsonl", 1800)
    print(f"parsing {len(requests)} requests on aarch64 (qemu-user, cpu {args.cpu or 'max'}) ...", flush=True)
    arm, timings["parse_aarch64_s"] = run_parse_aarch64(root, binfmt, f"{WORK}/home.json", f"{WORK}/requests.jsonl",
                                                        args.timeout, env)
    cmp = compare_results(x86, arm, args.tol)
    runs = {"x86": x86, "aarch64": arm}
    emulated: Comparison | None = None
    if args.x86_cpu:
        print(f"parsing {len(requests)} requests on x86 under qemu-x86_64 -cpu {args.x86_cpu} ...", flush=True)
        runs["x86_emulated"], timings["parse_x86_emulated_s"] = run_parse_x86(
            x86_site, work / "home.json", work / "requests.jsonl", args.timeout, args.x86_cpu)
        emulated = compare_results(runs["x86_emulated"], arm, args.tol)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for name, results in runs.items():
            (args.save / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                             for r in results), encoding="utf-8")

    arch = _run(chroot_cmd(root, [f"{VENV}/bin/python", "-c", PLATFORM_CHECK], binfmt), "platform check", 600,
                env=env).stdout.split()
    host = host_versions()
    print(f"\n== installed in the root ({how}) ==")
    width = max(len(d["name"]) for d in installed)
    for d in installed:
        print(f"{d['name']:<{width}}  {d['version']:<17} {d['tag']}")
    print(f"\nroot python: machine {arch[0]}, CPython {arch[1]}, onnxruntime {arch[2]}, numpy {arch[3]}, "
          f"int8 dot-product instructions seen by the guest: dotprod {arch[4]}, i8mm {arch[5]}; "
          f"host: {platform.machine()}, CPython {platform.python_version()}, onnxruntime {host.get('onnxruntime')}, "
          f"numpy {host.get('numpy')}")
    print("\n== timings (s) ==")
    for k, v in timings.items():
        print(f"{k:<16} {v:9.1f}")
    n = len(requests)
    print(f"per request: x86 {timings['parse_x86_s'] / n * 1e3:.1f} ms, aarch64 (emulated) "
          f"{timings['parse_aarch64_s'] / n * 1e3:.1f} ms (whole runs incl. start-up; "
          f"ratio {timings['parse_aarch64_s'] / timings['parse_x86_s']:.1f}x)")
    stats = cmp.conf_stats()
    answers = [d for d in cmp.differences if d.kind == "answer"]
    scores = [d for d in cmp.differences if d.kind == "score"]
    print(f"\n== answers: {n} requests ({counts['context_dev']} context dev with its home, "
          f"{counts['slurp_devel']} SLURP devel, {counts['hwu64']} HWU64) ==")
    print(f"lines: x86 {cmp.n_x86}, aarch64 {cmp.n_aarch64}; same answer (intent, slots, action, response, error) "
          f"{cmp.same_answer}/{n}; identical in every field (confidence within {cmp.tol:g}) {cmp.identical}/{n}")
    print(f"|confidence difference| over {stats['n']} numbers: max {stats['max']:.4f}, p99 {stats['p99']:.4f}, "
          f"median {stats['median']:.4f}; {stats['over_tol']} over {cmp.tol:g}; runners-up in another order: "
          f"{len({d.line for d in scores if '.intent' in d.path})} lines")
    print("ANSWERS IDENTICAL" if cmp.answers_ok else
          f"ANSWERS DIFFER ({len(answers)} places):\n{format_differences(answers)}")
    if scores:
        print(f"score differences ({len(scores)} places):\n{format_differences(scores, 10)}")
    if emulated is not None:
        e_stats = emulated.conf_stats()
        e_answers = [d for d in emulated.differences if d.kind == "answer"]
        print(f"\n== aarch64 against x86 under qemu -cpu {args.x86_cpu} ==\n"
              f"same answer {emulated.same_answer}/{n}; identical in every field {emulated.identical}/{n}; "
              f"|confidence difference| max {e_stats['max']:.4f}, p99 {e_stats['p99']:.4f}, "
              f"{e_stats['over_tol']} over {emulated.tol:g}")
        if e_answers:
            print(format_differences(e_answers))
    return {"root": str(root), "root_built": built, "bootstrap": bootstrap, "binfmt": binfmt, "qemu_cpu": args.cpu
            or "max", "suite": args.suite, "python": python, "machine": arch[0], "python_version": arch[1],
            "guest_hwcap": {"dotprod": arch[4], "i8mm": arch[5]},
            "requirements": reqs, "wheels": rows, "installed": installed, "install_how": how,
            "timings_s": {k: round(v, 2) for k, v in timings.items()}, "n_requests": n, "sources": counts,
            "comparison": {"n_x86": cmp.n_x86, "n_aarch64": cmp.n_aarch64, "same_answer": cmp.same_answer,
                           "identical": cmp.identical, "tol": cmp.tol, "confidence": stats,
                           "answers_ok": cmp.answers_ok, "ok": cmp.ok,
                           "differences": [asdict(d) for d in answers + scores]},
            "x86_emulated": None if emulated is None else {
                "cpu": args.x86_cpu, "same_answer": emulated.same_answer, "identical": emulated.identical,
                "confidence": emulated.conf_stats(), "answers_ok": emulated.answers_ok, "ok": emulated.ok,
                "differences": [asdict(d) for d in emulated.differences]},
            "_comparison": cmp}


if __name__ == "__main__":
    sys.exit(main())
