"""Does every runtime dependency have a binary wheel for Raspberry Pi OS 64-bit (aarch64, glibc)?

    python benchmarks/aarch64_wheels.py [--python 3.11 [--python 3.13 ...]] [--json FILE] [--keep DIR]

Reads `[project] dependencies` (not the extras) from pyproject.toml and lets pip resolve and download
their full closure with `--only-binary=:all:` for manylinux aarch64 and the given CPython version
(3.11 = Raspberry Pi OS Bookworm). Prints one row per wheel and the total download size; exits 0 when
pip resolved everything as binary wheels for every version asked, 1 otherwise (with pip's error tail).

pip treats each `--platform` tag literally (manylinux_2_28 does not imply manylinux_2_27), so besides
manylinux2014/linux_aarch64 every manylinux_2_X tag a Bookworm glibc (2.36) accepts is passed.
Caveat: pip checks Requires-Python against --python-version, but evaluates dependencies' environment
markers (python_version, platform_machine) against the interpreter running pip, not the target.
Needs Python >= 3.11 (tomllib) and network access to PyPI.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
BOOKWORM_GLIBC = 36  # Raspberry Pi OS Bookworm ships glibc 2.36
PLATFORMS = ["manylinux2014_aarch64", *(f"manylinux_2_{m}_aarch64" for m in range(17, BOOKWORM_GLIBC + 1)),
             "linux_aarch64"]


def runtime_requirements(pyproject_path: Path = PYPROJECT) -> list[str]:
    """The requirement strings of `[project] dependencies`; optional extras are left out."""
    with Path(pyproject_path).open("rb") as f:
        data = tomllib.load(f)
    return [str(r) for r in data.get("project", {}).get("dependencies", [])]


def parse_wheel_name(filename: str) -> dict[str, str]:
    """Name, version and the raw (possibly compressed, dot-joined) python/abi/platform tags of a wheel file."""
    base = Path(filename).name
    if not base.endswith(".whl"):
        raise ValueError(f"not a wheel file name: {filename}")
    parts = base[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise ValueError(f"malformed wheel file name: {filename}")
    python, abi, platform = parts[-3:]
    try:
        from packaging.utils import parse_wheel_filename
    except ImportError:  # pragma: no cover - packaging is in the venv
        name, version = re.sub(r"[-_.]+", "-", parts[0]).lower(), parts[1]
    else:
        pname, pversion, _build, _tags = parse_wheel_filename(base)
        name, version = str(pname), str(pversion)
    return {"name": name, "version": version, "python": python, "abi": abi, "platform": platform}


def classify(platform_tag: str) -> str:
    """'aarch64' for an (any) aarch64 platform tag, 'pure' for 'any', 'other' for anything else (x86_64, ...)."""
    tags = platform_tag.split(".")
    if any(t.endswith("_aarch64") for t in tags):
        return "aarch64"
    if all(t == "any" for t in tags):
        return "pure"
    return "other"


def pip_download(requirements: list[str], python: str, dest: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
           *(a for p in PLATFORMS for a in ("--platform", p)), "--implementation", "cp",
           "--python-version", python, "-d", str(dest), *requirements]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800)  # noqa: S603


def wheel_rows(dest: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(dest.iterdir(), key=lambda p: p.name.lower()):
        if path.suffix != ".whl":
            rows.append({"file": path.name, "name": path.name, "version": "?", "python": "?", "abi": "?",
                         "platform": "sdist?", "kind": "other", "size_mb": path.stat().st_size / 1e6})
            continue
        info = parse_wheel_name(path.name)
        rows.append({"file": path.name, **info, "kind": classify(info["platform"]),
                     "size_mb": path.stat().st_size / 1e6})
    return rows


def check(requirements: list[str], python: str, keep: Path | None) -> dict[str, Any]:
    """Resolve and download for one Python version; the report entry for it."""
    with tempfile.TemporaryDirectory(prefix="aarch64-wheels-") as tmp:
        dest = (keep / f"py{python}") if keep else Path(tmp)
        dest.mkdir(parents=True, exist_ok=True)
        proc = pip_download(requirements, python, dest)
        rows = wheel_rows(dest)
    bad = [r["file"] for r in rows if r["kind"] == "other"]
    ok = proc.returncode == 0 and not bad
    tail = "" if ok else "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
    return {"python": python, "ok": ok, "pip_returncode": proc.returncode, "not_aarch64": bad,
            "total_mb": round(sum(r["size_mb"] for r in rows), 2), "wheels": rows, "error_tail": tail}


def format_table(rows: list[dict[str, Any]]) -> str:
    head = ("project", "version", "tag", "MB", "kind")
    body = [(r["name"], r["version"], f"{r['python']}-{r['abi']}-{r['platform']}", f"{r['size_mb']:.2f}",
             "aarch64-native" if r["kind"] == "aarch64" else "pure-python" if r["kind"] == "pure" else "OTHER")
            for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(x, widths, strict=True)))
             for x in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--python", action="append", metavar="X.Y",
                    help="target CPython version, repeatable (default: 3.11, Raspberry Pi OS Bookworm)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="keep the downloaded wheels under DIR/pyX.Y")
    ap.add_argument("--pyproject", type=Path, default=PYPROJECT, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    pythons: list[str] = args.python or ["3.11"]
    for v in pythons:
        if not re.fullmatch(r"3\.\d+", v):
            ap.error(f"--python expects X.Y, got {v!r}")
    requirements = runtime_requirements(args.pyproject)
    print(f"runtime requirements: {', '.join(requirements)}")
    print(f"platforms: manylinux2014_aarch64, manylinux_2_17..2_{BOOKWORM_GLIBC}_aarch64, linux_aarch64 (cp)")
    results = []
    for python in pythons:
        res = check(requirements, python, args.keep)
        results.append(res)
        print(f"\n== CPython {python}: {'OK' if res['ok'] else 'FAILED'} (pip exit {res['pip_returncode']}) ==")
        if res["wheels"]:
            print(format_table(res["wheels"]))
            kinds = [r["kind"] for r in res["wheels"]]
            print(f"{len(kinds)} wheels ({kinds.count('aarch64')} aarch64-native, {kinds.count('pure')} pure-python, "
                  f"{kinds.count('other')} other), total {res['total_mb']:.2f} MB")
        if res["not_aarch64"]:
            print(f"not aarch64/pure: {', '.join(res['not_aarch64'])}")
        if res["error_tail"]:
            print("pip output (tail):\n" + res["error_tail"])
    if args.json:
        report = {"requirements": requirements, "platforms": PLATFORMS, "results": results,
                  "ok": all(r["ok"] for r in results)}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
