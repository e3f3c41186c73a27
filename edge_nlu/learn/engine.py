"""`SelfLearning`: the one object the pipeline's callers (service, CLI, simulator) talk to.

Per request: taught preferences, then learned rewrites (precomputed across users, then
personal), then, only when the original parse looks defect-prone, online retrieval. Every
turn is recorded with the signals that follow it; `learn()` mines them. Learned data is
re-read from the store when its version changes, so another process (`edge-nlu learn`)
can update a running service.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EdgeNLUError
from ..home import Home
from ..pipeline import EdgeNLU
from .markov import MinerSettings, chains, mine
from .preferences import apply_preferences, parse_teaching, preference_history
from .rewriter import OnlineRewriter
from .settings import LearnSettings
from .store import InteractionStore
from .types import LearnedRewrite, Preference, TurnRecord, normalize

log = logging.getLogger(__name__)

_Online = tuple[dict[str, Any], tuple[str, str, float]]
LAYERS = frozenset({"precomputed", "personal", "global", "taught"})
TEACH_INTENT = "teach_preference"


@dataclass
class _Pending:
    text: str
    user: str | None
    expires: float


class SelfLearning:
    """Feedback capture, learned rewrites and preferences around an `EdgeNLU`."""

    def __init__(self, nlu: EdgeNLU, store: InteractionStore, settings: LearnSettings | None = None,
                 rewriter_dir: Path | None = None) -> None:
        self.nlu = nlu
        self.store = store
        self.settings = settings or LearnSettings()
        self.layers: set[str] = set(LAYERS)
        self.rewrite_ms: deque[float] = deque(maxlen=10_000)
        self.online_ms: deque[float] = deque(maxlen=10_000)
        """Online retrieval alone (encode the request, search both indexes, rank), per defect-prone request."""
        self.questions: deque[tuple[str, str | None, str]] = deque(maxlen=64)
        """(site, session, question) the service should ask over Hermes (teachable moments)."""
        self._lock = threading.Lock()
        self._table: dict[tuple[str | None, str, str], LearnedRewrite] = {}
        self._prefs: dict[str, list[Preference]] = {}
        self._version = -1
        self._checked = 0.0
        self._indexed_version: dict[str | None, int] = {}
        self._pending: dict[tuple[str, str | None], _Pending] = {}
        self.encoder: Any = None
        self.detector: Any = None
        self.rewriter: OnlineRewriter | None = None
        self._load_models(rewriter_dir)
        self.reload(force=True)

    def _load_models(self, rewriter_dir: Path | None) -> None:
        from .encoder import SentenceEncoder, default_rewriter_dir, load_global_index
        from .rephrase import RephraseDetector

        d = rewriter_dir or (Path(self.settings.rewriter_dir) if self.settings.rewriter_dir else None) \
            or default_rewriter_dir()
        if d is None or not Path(d).is_dir():
            log.warning("no rewriter models at %s: rephrases are detected from exact repeats only, "
                        "online rewriting is off", d)
            return
        try:
            self.encoder = SentenceEncoder(Path(d), threads=1)
            self.detector = RephraseDetector(Path(d), self.encoder)
            texts, vecs = load_global_index(Path(d))
        except EdgeNLUError as exc:  # a half-copied model folder must not stop the service
            log.warning("rewriter models at %s are unusable (%s): rephrases from exact repeats only, "
                        "online rewriting off", d, exc.message)
            self.encoder = self.detector = None
            return
        self.rewriter = OnlineRewriter(self.encoder, texts, vecs, self.settings.rewriter)

    # -- learned data -----------------------------------------------------------------------------
    def reload(self, force: bool = False) -> bool:
        """Re-read rewrites and preferences when the store changed; True when it did."""
        now = time.monotonic()
        if not force and now - self._checked < self.settings.reload_interval_s:
            return False
        self._checked = now
        version = self.store.rewrites_version()
        if version == self._version and not force:
            return False
        table = {(r.user, r.source, r.src): r for r in self.store.rewrites()}
        prefs: dict[str, list[Preference]] = {}
        for p in self.store.preferences(None):
            prefs.setdefault(p.user, []).append(p)
        with self._lock:
            self._table, self._prefs, self._version = table, prefs, version
        return True

    def _refresh_index(self, user: str | None, rebuild: bool = False) -> None:
        """Personal (user) or hub (None) retrieval layer: built on first use, rebuilt only when asked
        (after learning), so a request never re-encodes a history because a preference changed."""
        if self.rewriter is None or (user in self._indexed_version and not rebuild):
            return
        self._indexed_version[user] = self._version
        entries = self.store.successful_texts(user)
        if user is None:
            self.rewriter.set_hub(entries)
        else:
            self.rewriter.set_personal(user, entries)

    def refresh_indexes(self, users: list[str] | None = None) -> None:
        """Rebuild the hub layer and these users' (default: every user indexed so far)."""
        for u in [None, *(users if users is not None else [u for u in self._indexed_version if u is not None])]:
            self._refresh_index(u, rebuild=True)

    def stale_indexes(self) -> bool:
        """The store changed since the indexes were built (e.g. `edge-nlu learn` in another process)."""
        return bool(self._indexed_version) and any(v != self._version for v in self._indexed_version.values())

    # -- a request --------------------------------------------------------------------------------
    def handle(self, text: str, *, site: str = "default", session: str | None = None, user: str | None = None,
               ts: float | None = None, query_id: str | None = None, context: dict[str, Any] | None = None,
               home: Home | None = None) -> dict[str, Any]:
        """Parse one request with learning applied, record it, and mark the turn it rephrases."""
        ts = time.time() if ts is None else float(ts)
        self.reload()
        ctx = dict(context or {})
        if user and not ctx.get("user"):
            ctx["user"] = user
        base = home or self.nlu.home
        if not isinstance(text, str) or not text.strip():
            return self.nlu.parse(text, ctx, query_id, home=home)
        prefs = list(self._prefs.get(user, [])) if user else []
        answering = self._take_pending(text, site, user, ts)
        self._mark_rephrase(text, site, session, user, ts)
        teaching = parse_teaching(text, user, ts) if user else None
        if teaching is not None:
            return self._teach(teaching, text, site, session, user, ts, query_id, ctx)
        if prefs and any(p.kind == "music_genre" for p in prefs) and "taught" in self.layers:
            hist = [h.to_dict() for h in preference_history(prefs)]
            ctx["history"] = hist + list(ctx.get("history") or [])
        t0 = time.perf_counter()
        rewrite = self._table_rewrite(text, user, prefs, base)
        self.rewrite_ms.append((time.perf_counter() - t0) * 1e3)
        result = self.nlu.parse(rewrite[0] if rewrite else text, ctx, query_id, home=home)
        if rewrite is None and result.get("error") is None and self._defect_prone(result):
            online = self._online(text, user, ts, ctx, query_id, home, base, result)
            if online is not None:
                result, rewrite = online
        if answering is not None and self._succeeded(result):
            # the answer to "what did you mean?" worked: it becomes this user's rewrite
            self.store.add_rewrite(LearnedRewrite(src=normalize(answering.text), dst=text.strip(), source="taught",
                                                  user=user, score=1.0, meta={"asked_at": ts}))
            self.reload(force=True)
        if rewrite is not None:
            result["text"] = text.strip()
            result["rewrite"] = {"text": rewrite[0], "source": rewrite[1], "score": round(rewrite[2], 4)}
        self._record(result, text, site, session, user, ts, query_id, ctx)
        return result

    def _table_rewrite(self, text: str, user: str | None, prefs: list[Preference],
                       home: Home) -> tuple[str, str, float] | None:
        src = normalize(text)
        if "taught" in self.layers:
            new, rule = apply_preferences(text, prefs, home)
            if rule is not None and normalize(new) != src:
                return new, "taught", 1.0
        table = self._table
        order = [(user, "taught", "taught"), (user, "personal", "personal"), (None, "precomputed", "precomputed")]
        for owner, source, layer in order:
            if owner is None and source != "precomputed":
                continue
            if layer not in self.layers or (source != "precomputed" and user is None):
                continue
            r = table.get((owner, source, src))
            if r is not None:
                return r.dst, layer, r.score
        return None

    def _defect_prone(self, result: dict[str, Any]) -> bool:
        nlu = result.get("nlu") or {}
        action = result.get("action")
        if float(nlu.get("confidence") or 0.0) < self.settings.defect_confidence:
            return True
        return action is None or (not action.get("targets") and not result.get("response"))

    def _online(self, text: str, user: str | None, ts: float, ctx: dict[str, Any], query_id: str | None,
                home: Home | None, base: Home, original: dict[str, Any]) -> _Online | None:
        layers = frozenset(self.layers & {"personal", "global"})
        if self.rewriter is None or not layers:
            return None
        t0 = time.perf_counter()
        if "global" in layers:
            self._refresh_index(None)
        if user and "personal" in layers:
            self._refresh_index(user)
        t1 = time.perf_counter()
        cands = self.rewriter.candidates(text, user, ts, layers)
        t2 = time.perf_counter()
        self.online_ms.append((t2 - t1) * 1e3)
        self.rewrite_ms.append((t2 - t0) * 1e3)
        names = _names(base)
        said = _mentioned(text, names)
        conf0 = float((original.get("nlu") or {}).get("confidence") or 0.0)
        for c in cands[:3]:
            if _mentioned(c.text, names) != said:  # never move a request to another room
                continue
            r2 = self.nlu.parse(c.text, ctx, query_id, home=home)
            conf2 = float((r2.get("nlu") or {}).get("confidence") or 0.0)
            act = r2.get("action")
            if r2.get("error") is None and act is not None and (act.get("targets") or r2.get("response")) \
                    and conf2 >= self.settings.defect_confidence and conf2 > conf0:
                return r2, (c.text, c.layer, c.score)
        return None

    # -- recording and signals --------------------------------------------------------------------
    def _record(self, result: dict[str, Any], text: str, site: str, session: str | None, user: str | None,
                ts: float, query_id: str | None, ctx: dict[str, Any]) -> int:
        nlu = result.get("nlu") or {}
        action = result.get("action") or {}
        err = result.get("error") or {}
        conf = float(nlu.get("confidence") or 0.0)
        recognized = not err and conf >= self.settings.min_confidence
        rw = result.get("rewrite") or {}
        digest = hashlib.sha256(json.dumps(ctx, sort_keys=True, default=str).encode()).hexdigest()[:16]
        tid = self.store.record_turn(TurnRecord(
            ts=ts, site=site, text=text.strip(), query_id=query_id, session=session, user=user,
            rewrite_text=rw.get("text"), rewrite_source=rw.get("source"), context_digest=digest,
            intent=nlu.get("intent"), action=action.get("intent"), targets=tuple(action.get("targets") or ()),
            confidence=conf, recognized=recognized, error_code=err.get("code"),
        ))
        if not recognized:
            self.store.add_signal(tid, "not_recognized", ts)
        return tid

    def _mark_rephrase(self, text: str, site: str, session: str | None, user: str | None, ts: float) -> None:
        prev = self.store.last_turn(site, session, before_ts=ts, any_session=True)
        if prev is None or prev.turn.user != user:
            return
        gap = ts - prev.turn.ts
        if gap < 0 or gap > self.settings.rephrase_window_s or "rephrase" in prev.signals:
            return
        if self.detector is not None:
            p = float(self.detector.probability(prev.turn.text, text, gap))
        else:
            p = 1.0 if normalize(prev.turn.text) == normalize(text) else 0.0
        threshold = (self.settings.rephrase_threshold_after_defect if prev.defect
                     else self.settings.rephrase_threshold)
        if p >= threshold:
            self.store.add_signal(prev.id, "rephrase", ts, f"p={p:.3f}")
            if normalize(prev.turn.text) == normalize(text) and prev.defect and user:
                self._ask(site, session, user, prev.turn.text, ts)

    def _ask(self, site: str, session: str | None, user: str | None, text: str, ts: float) -> None:
        """A teachable moment: ask what was meant; the answer becomes a personal taught rewrite."""
        self._pending[(site, None)] = _Pending(text, user, ts + self.settings.teach_window_s)
        self.questions.append((site, session, f"Sorry, I didn't get that. What did you mean by \"{text}\"?"))

    def _take_pending(self, text: str, site: str, user: str | None, ts: float) -> _Pending | None:
        """The question this request answers, if any (same user at the same satellite, in time)."""
        pending = self._pending.pop((site, None), None)
        if pending is None or pending.expires < ts or pending.user != user or user is None:
            return None
        return None if normalize(text) == normalize(pending.text) else pending

    def _succeeded(self, result: dict[str, Any]) -> bool:
        """Looks like a working answer: recognised, and it acted on something or answered."""
        if result.get("error") is not None:
            return False
        conf = float((result.get("nlu") or {}).get("confidence") or 0.0)
        action = result.get("action") or {}
        return conf >= self.settings.min_confidence and bool(action.get("targets") or result.get("response"))

    def _teach(self, teaching: Any, text: str, site: str, session: str | None, user: str | None, ts: float,
               query_id: str | None, ctx: dict[str, Any]) -> dict[str, Any]:
        p: Preference = teaching.preference
        if teaching.forget:
            self.store.delete_preference(p.user, p.kind, p.key)
        else:
            self.store.set_preference(p)
        self.reload(force=True)
        result: dict[str, Any] = {
            "id": query_id, "text": text.strip(), "rewrite": None,
            "nlu": {"intent": TEACH_INTENT, "confidence": 1.0, "slots": []},
            "action": None, "response": teaching.reply, "error": None,
        }
        self._record(result, text, site, session, user, ts, query_id, ctx)
        return result

    def feedback(self, query_id: str, signal: str, ts: float | None = None, text: str | None = None) -> bool:
        """Explicit feedback on an answered query; a correction with text teaches a personal rewrite."""
        ts = time.time() if ts is None else float(ts)
        tid = self.store.turn_id_for_query(query_id)
        if tid is None:
            return False
        self.store.add_signal(tid, signal, ts, text)
        turn = self.store.turn(tid) if signal != "positive" else None
        if turn is not None and turn.turn.user:
            if signal == "correction" and text and normalize(text) != turn.turn.norm:
                self.store.add_rewrite(LearnedRewrite(src=turn.turn.norm, dst=text.strip(), source="taught",
                                                      user=turn.turn.user, score=1.0, meta={"correction_of": query_id}))
                self.reload(force=True)
            elif signal == "negative":
                self._ask(turn.turn.site, turn.turn.session, turn.turn.user, turn.turn.text, ts)
        return True

    def not_recognized(self, query_id: str, ts: float | None = None) -> bool:
        tid = self.store.turn_id_for_query(query_id)
        if tid is None:
            return False
        self.store.add_signal(tid, "not_recognized", time.time() if ts is None else float(ts))
        return True

    def barge_in(self, site: str, session: str | None, ts: float | None = None) -> bool:
        ts = time.time() if ts is None else float(ts)
        prev = self.store.last_turn(site, session, before_ts=ts + 1e-6) \
            or self.store.last_turn(site, session, before_ts=ts + 1e-6, any_session=True)
        if prev is None or "barge_in" in prev.signals:
            return False
        self.store.add_signal(prev.id, "barge_in", ts)
        return True

    # -- mining -----------------------------------------------------------------------------------
    def learn(self, now: float | None = None) -> dict[str, Any]:
        """Mine the store, then pick the new rewrites up and rebuild the retrieval layers."""
        report = mine_store(self.store, self.settings, now)
        self.reload(force=True)
        self.refresh_indexes(sorted(set(report["user_list"]) | {u for u in self._indexed_version if u}))
        return report

    def forget(self, user: str | None = None, before: float | None = None) -> dict[str, int]:
        counts = self.store.forget(user=user, before=before)
        if self.rewriter is not None:
            self.rewriter.forget(user)
        self.reload(force=True)
        self.refresh_indexes()
        return counts


def mine_store(store: InteractionStore, settings: LearnSettings, now: float | None = None) -> dict[str, Any]:
    """`edge-nlu learn`: precomputed rewrites for everyone, personal ones per user, retention."""
    t0 = time.perf_counter()
    now = time.time() if now is None else float(now)
    pruned = store.prune(now)
    all_chains = chains(store.sessions(gap_s=settings.session_gap_s, by_session=False))
    rewrites, report = mine(all_chains, settings.miner)
    store.replace_rewrites("precomputed", rewrites)
    by_user: dict[str, list[Any]] = {}
    for ch in all_chains:
        if ch and ch[0].turn.user:
            by_user.setdefault(ch[0].turn.user, []).append(ch)
    global_dst = {r.src: normalize(r.dst) for r in rewrites}
    personal_settings = MinerSettings.from_dict({**settings.miner.to_dict(),
                                                 "min_support": settings.personal_min_support})
    personal: list[LearnedRewrite] = []
    for u, chs in sorted(by_user.items()):
        mined, _ = mine(chs, personal_settings)
        personal += [LearnedRewrite(src=r.src, dst=r.dst, source="personal", user=u, score=r.score,
                                    support=r.support, meta=r.meta)
                     for r in mined if global_dst.get(r.src) != normalize(r.dst)]
    store.replace_rewrites("personal", personal)
    return {
        "chains": len(all_chains), "precomputed": len(rewrites), "personal": len(personal),
        "users": len(by_user), "user_list": sorted(by_user), "pruned": pruned, "miner": _report_dict(report),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _report_dict(report: Any) -> dict[str, Any]:
    to_dict = getattr(report, "to_dict", None)
    if callable(to_dict):
        out = to_dict()
        return dict(out) if isinstance(out, dict) else {}
    return dict(getattr(report, "__dict__", {}))


def _names(home: Home) -> list[str]:
    """Area names, longest first, for the "never move a request to another room" guard."""
    names = {normalize(n) for a in home.areas for n in (a.name, *a.aliases)}
    return sorted((n for n in names if n), key=len, reverse=True)


def _mentioned(text: str, names: list[str]) -> frozenset[str]:
    t = f" {normalize(text)} "
    found = set()
    for n in names:
        if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", t):
            found.add(n)
            t = t.replace(n, " ")
    return frozenset(found)
