"""The resolver's ceiling on Home Assistant's templates: the frame it builds from the *right* labels.

    PYTHONPATH=. python benchmarks/ha_resolver_ceiling.py [--pool train] [--intents HassGetState ...] [--show 3]

Each sample of `export.ha_templates` is labelled in the model's scheme by `export.ha_labels` (the
natural reading; the spans as slot types) and resolved on its home without the model. A miss here
is the resolver's, not the model's: no model can score above this on `ha_templates_eval.py`.
Work on the `train` pool; quote the `eval` pool.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU, Slot
from edge_nlu.resolve.resolver import resolve
from export.ha_labels import labelled
from export.ha_templates import sample


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--pool", choices=("train", "eval"), default="train")
    ap.add_argument("--per-intent", type=int, default=40)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--homes", type=int, default=30)
    ap.add_argument("--intents", nargs="+")
    ap.add_argument("--show", type=int, default=0, metavar="K", help="K misses per intent")
    args = ap.parse_args()
    ss = sample(args.pool, args.per_intent, args.seed, homes=args.homes, intents=args.intents)
    prof = load_profiles()
    shown: Counter[str] = Counter()
    total: Counter[str] = Counter()
    good: Counter[str] = Counter()
    for s, got in labelled(ss, prof):
        if got is None:
            continue
        total[s.frame.intent] += 1
        good[s.frame.intent] += got.reproduced
        if not got.reproduced and shown[s.frame.intent] < args.show:
            shown[s.frame.intent] += 1
            ctx = RequestContext.from_dict(dict(s.context))
            ex = got.example
            nlu = NLU(ex["intent"], 1.0, tuple(Slot(o["type"], o["value"], o["start"], o["end"]) for o in ex["slots"]))
            action, said = resolve(nlu, s.text, ss.homes[s.home].with_overrides(ctx.state_overrides), ctx, prof)
            print(f"{s.frame.intent}: {s.text!r} (satellite in {s.context.get('area')})\n"
                  f"   labels {ex['intent']} {[(o['type'], o['value']) for o in ex['slots']]}\n"
                  f"   want {s.frame.to_dict()}\n   got  {action.to_dict() if action else None}  said {said!r}",
                  file=sys.stderr)
    n = sum(total.values())
    ok = sum(good.values())
    print(f"resolver ceiling, {args.pool} pool: {ok}/{n} = {100 * ok / max(1, n):.1f} %")
    for name in sorted(total, key=lambda k: good[k] / total[k]):
        print(f"  {name:30} {good[name]:3d}/{total[name]:3d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
