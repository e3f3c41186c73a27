"""`edge-nlu learn` and `edge-nlu forget` (contract section 6): work on the store a config names."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from edge_nlu.errors import ConfigError, ErrorCode
from edge_nlu.learn.settings import LearnSettings

if TYPE_CHECKING:
    from edge_nlu.domain.home import Home


def register(sub: Any) -> None:
    lp = sub.add_parser("learn", help="mine the interaction store: rephrase chains -> rewrites (a running serve "
                                      "picks them up within seconds)")
    fp = sub.add_parser("forget", help="erase what was recorded and learned (all, one user's, or older data)")
    for p in (lp, fp):
        p.add_argument("--config", type=Path, help="the serve config whose `learning:` section names the store")
        p.add_argument("--store", type=Path, help="the interaction store file (instead of --config)")
    lp.add_argument("--list", action="store_true", help="list learned rewrites, taught preferences and the audit log "
                                                        "(what was learned, when, from whom), mine nothing")
    lp.add_argument("--json", action="store_true", help="print the report as JSON")
    fp.add_argument("--user", help="only this user's turns, personal rewrites and preferences")
    fp.add_argument("--before", help="only data recorded before this ISO date or time (local time)")
    lp.set_defaults(run=run_learn)
    fp.set_defaults(run=run_forget)


def learn_settings(config: Path | None, store: Path | None) -> LearnSettings:
    if store is not None:
        return LearnSettings(store=str(store))
    if config is None:
        raise ConfigError("give --config FILE (with a `learning:` section) or --store FILE", ErrorCode.NO_STORE)
    from edge_nlu.service.config import learning_section, read_config_file

    # only the `learning:` section matters here: learn/forget run without a broker
    learning = learning_section(read_config_file(config).get("learning"), config.resolve().parent)
    if learning is None:
        raise ConfigError(f"{config} has no `learning:` section; nothing is recorded", ErrorCode.LEARNING_OFF)
    return learning


def config_home(config: Path | None) -> Home | None:
    """The serve config's home file, when it names one: mining then knows the device classes the guard checks
    and the floors a personal habit's rooms are on. A home that only arrives over MQTT is not known here."""
    if config is None:
        return None
    from edge_nlu.domain.home import Home
    from edge_nlu.service.config import read_config_file

    raw = read_config_file(config).get("home")
    if not isinstance(raw, str) or not raw:
        return None
    path = Path(raw) if Path(raw).is_absolute() else config.resolve().parent / raw
    return Home.load(path) if path.exists() else None


def parse_before(raw: str) -> float:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ConfigError(f"--before {raw!r} is not an ISO date or time (e.g. 2026-11-01)",
                ErrorCode.INVALID_DATE) from exc


def run_learn(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from edge_nlu.learn.engine import mine_store
    from edge_nlu.learn.preferences import describe
    from edge_nlu.learn.store import InteractionStore

    settings = learn_settings(args.config, args.store)
    if not Path(settings.store).exists():
        raise ConfigError(f"no interaction store at {settings.store} (has `edge-nlu serve` run with learning on?)",
                          ErrorCode.NO_STORE)
    with InteractionStore(Path(settings.store), retention_days=settings.retention_days) as store:
        if args.list:
            rewrites = [r.to_dict() for r in store.rewrites()]
            prefs = store.preferences(None)
            audit = store.audit()
            if args.json:
                out.write(json.dumps({"rewrites": rewrites, "preferences": [p.to_dict() for p in prefs],
                                      "audit": audit}) + "\n")
            else:
                for r in rewrites:
                    who = f" (user {r['user']})" if r["user"] else ""
                    out.write(f"{r['source']}{who}: {r['src']!r} -> {r['dst']!r}  score {r['score']:.2f}\n")
                for line in describe(prefs):
                    out.write(line + "\n")
                if audit:
                    out.write("audit (request time, what, from whom):\n")
                for e in audit:
                    out.write(audit_line(e) + "\n")
            return 0
        report = mine_store(store, settings, home=config_home(args.config))
    report.pop("user_list", None)
    if args.json:
        out.write(json.dumps(report) + "\n")
    else:
        out.write(f"learned {report['precomputed']} precomputed and {report['personal']} personal rewrites from "
                  f"{report['chains']} rephrase chains of {report['users']} users in {report['seconds']} s "
                  f"({report['pruned']} old turns pruned, {report['guard_dropped']} unsafe rewrites dropped, "
                  f"{report['demoted']} kept personal for lack of distinct users or satellites)\n")
    return 0


def audit_line(e: dict[str, Any]) -> str:
    """One audit entry for people: when (request time, local), event, kind, src -> dst, who, where, why."""
    when = datetime.fromtimestamp(float(e["ts"])).isoformat(sep=" ", timespec="seconds")
    what = f"{e['src']!r}" + (f" -> {e['dst']!r}" if e.get("dst") else "")
    who = ",".join(e.get("users") or []) or "-"
    where = ",".join(e.get("sites") or []) or "-"
    why = f"  ({e['reason']})" if e.get("reason") else ""
    return f"  {when}  {e['event']:<9} {e['kind']:<11} {what}  users {who}  sites {where}{why}"


def run_forget(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from edge_nlu.learn.engine import forget_store
    from edge_nlu.learn.store import InteractionStore

    settings = learn_settings(args.config, args.store)
    before = parse_before(args.before) if args.before else None
    if not Path(settings.store).exists():
        out.write("nothing to forget: no interaction store yet\n")
        return 0
    with InteractionStore(Path(settings.store), retention_days=settings.retention_days) as store:
        counts = forget_store(store, settings, user=args.user, before=before)
    out.write("forgot " + ", ".join(f"{n} {table}" for table, n in counts.items()) + "\n")
    return 0
