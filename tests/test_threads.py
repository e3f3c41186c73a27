"""The entry point limits numpy's BLAS to one thread (see edge_nlu/model/threads.py for why)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import json, sys
from threadpoolctl import threadpool_info
from edge_nlu.cli.main import main as cli_main
before = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
rc = cli_main(["parse", "turn on the kitchen lights"])
after = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
print(json.dumps({"rc": rc, "before": before, "after": after}), file=sys.stderr)
"""


def test_cli_runs_blas_on_one_thread() -> None:
    # a fresh process that is allowed two BLAS threads, so the limit has something to change
    env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    probe = json.loads(out.stderr.strip().splitlines()[-1])
    assert probe["rc"] == 0 and json.loads(out.stdout)["nlu"]["intent"]
    assert probe["after"] and set(probe["after"]) == {1}
    assert max(probe["before"]) == 2  # the limit did change something
