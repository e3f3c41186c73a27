"""Crash-test writer: records turns forever, printing each row id once its turn and signal are committed.

Run as `python tests/store_writer.py DB`; test_store.py SIGKILLs it mid-loop and checks every printed id survived.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, not an installed edge_nlu

from edge_nlu.learn.store import InteractionStore  # noqa: E402
from edge_nlu.learn.types import TurnRecord  # noqa: E402


def main(db: str) -> None:
    store = InteractionStore(db)
    i = 0
    while True:
        i += 1
        tid = store.record_turn(TurnRecord(ts=1_000_000.0 + i, site="kitchen", session=f"s{i // 10}", user="crash",
                                           text=f"turn on light number {i}", query_id=f"q{i}", action="HassTurnOn",
                                           targets=(f"light.l{i}",)))
        store.add_signal(tid, "rephrase" if i % 2 else "positive", 1_000_000.5 + i, detail=f"d{i}")
        sys.stdout.write(f"{tid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
