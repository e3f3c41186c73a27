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
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edge_nlu.domain.home import Home
from edge_nlu.domain.result import DEFAULT_MIN_CONFIDENCE, NLU, Result, Rewrite
from edge_nlu.errors import EdgeNLUError
from edge_nlu.learn import contextual
from edge_nlu.learn.guard import check_rewrite, flips, is_sensitive, touches_sensitive, turn_result
from edge_nlu.learn.markov import chains, mine
from edge_nlu.learn.preferences import Teaching, apply_preferences, flip_person, parse_teaching, preference_history
from edge_nlu.learn.rewriter import OnlineRewriter
from edge_nlu.learn.scope import in_scope, learn_scope
from edge_nlu.learn.settings import LearnSettings
from edge_nlu.learn.store import ANY_USER, InteractionStore
from edge_nlu.learn.types import MEANING_SLOTS, LearnedRewrite, Preference, StoredTurn, TurnRecord, normalize
from edge_nlu.learn.variants import home_words, keeps_content, transfer_edit, variant_of

if TYPE_CHECKING:  # loaded only when a rewriter model folder is there (onnxruntime, tokenizers)
    from edge_nlu.learn.encoder import SentenceEncoder
    from edge_nlu.learn.rephrase import RephraseDetector

log = logging.getLogger(__name__)

_Online = tuple[Result, tuple[str, str, float]]
_Audit = dict[str, Any]
LAYERS = frozenset({"precomputed", "personal", "global", "taught"})
TEACH_INTENT = "teach_preference"
YES = frozenset({"yes", "yes please", "yeah", "yep", "yes confirm", "confirm", "i confirm", "yes do it", "do it",
                 "sure", "correct", "that's right", "thats right"})
NO = frozenset({"no", "nope", "no thanks", "cancel", "don't", "dont", "no don't", "never mind", "nevermind"})
MAX_SEEN = 50
"""Places and times kept per taught rewrite (the newest)."""
MAX_PENDING = 256
"""Open questions and confirmations kept at once (oldest dropped): a flood of sites cannot grow them."""
_FUTURE_SLACK_S = 5.0
"""A correction may carry a time this much before its turn's (satellite clocks differ a little)."""


class Parser(Protocol):
    """What learning needs of the runtime: `EdgeNLU` is one; the engine's unit tests use a fake."""

    home: Home
    """The home a request is resolved against when the caller passes none."""

    def parse_result(self, text: Any, context: Any = None, id: Any = None, *,
                     home: Home | None = None) -> Result: ...


@dataclass
class _Pending:
    text: str
    user: str | None
    expires: float


@dataclass
class _Confirm:
    """A taught command about a sensitive device, waiting for "yes" from the same site and user."""

    pref: Preference
    expires: float
    question: str


class SelfLearning:
    """Feedback capture, learned rewrites and preferences around an `EdgeNLU`."""

    def __init__(self, nlu: Parser, store: InteractionStore, settings: LearnSettings | None = None,
                 rewriter_dir: Path | None = None, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> None:
        self.nlu = nlu
        self._min_confidence = min_confidence
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
        self._pending: OrderedDict[tuple[str, str | None], _Pending] = OrderedDict()
        self._confirm: OrderedDict[tuple[str, str], _Confirm] = OrderedDict()
        self._recent: OrderedDict[str, tuple[dict[str, Any], Home | None]] = OrderedDict()
        """query id -> (context, home) of recent turns, so a correction is checked as its turn was read."""
        self.site_users: dict[str, str] = {}
        """siteId -> its configured default user: a correction on such a turn need not name the user."""
        self.guard_blocked = 0
        """Rewrites the security guard refused at use time (see guard.py)."""
        self.sure_kept = 0
        """Learned rewrites not used because the request was already read surely and resolved."""
        self._future_logged = False
        self.encoder: SentenceEncoder | None = None
        self.detector: RephraseDetector | None = None
        self.rewriter: OnlineRewriter | None = None
        self._load_models(rewriter_dir)
        self.reload(force=True)

    def _load_models(self, rewriter_dir: Path | None) -> None:
        from edge_nlu.learn.encoder import SentenceEncoder, default_rewriter_dir, load_global_index
        from edge_nlu.learn.rephrase import RephraseDetector

        d = rewriter_dir or (Path(self.settings.rewriter_dir) if self.settings.rewriter_dir else None) \
            or default_rewriter_dir()
        if d is None or not Path(d).is_dir():
            log.warning("no rewriter models at %s: rephrases are detected from exact repeats only, "
                        "online rewriting is off", d)
            return
        try:
            encoder = SentenceEncoder(Path(d), threads=1)
            detector = RephraseDetector(Path(d), encoder)
            texts, vecs = load_global_index(Path(d))
        except EdgeNLUError as exc:  # a half-copied model folder must not stop the service
            log.warning("rewriter models at %s are unusable (%s): rephrases from exact repeats only, "
                        "online rewriting off", d, exc.message)
            return
        self.encoder, self.detector = encoder, detector
        self.rewriter = OnlineRewriter(encoder, texts, vecs, self.settings.rewriter)

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
    def site_allowed(self, site: str | None) -> bool:
        """`learning.allowed_sites`: only these satellites are recorded and learned from."""
        allowed = self.settings.allowed_sites
        return allowed is None or site in allowed

    def clamp_ts(self, ts: float) -> float:
        """A request time too far ahead of the host clock becomes the host clock (retention must reach it)."""
        now = time.time()
        if ts > now + self.settings.max_future_days * 86400.0:
            if not self._future_logged:
                self._future_logged = True
                log.warning("a request time %.0f s ahead of the clock was replaced by the arrival time", ts - now)
            return now
        return ts

    @property
    def min_confidence(self) -> float:
        """Below this confidence a turn was not recognized (the service answered intentNotRecognized): the one
        place the engine reads that threshold from."""
        return self._min_confidence

    def handle(self, text: str, *, site: str = "default", session: str | None = None, user: str | None = None,
               ts: float | None = None, query_id: str | None = None, context: dict[str, Any] | None = None,
               home: Home | None = None) -> dict[str, Any]:
        """`handle_result` as the contract's result dict (for callers at the wire, and the simulator)."""
        return self.handle_result(text, site=site, session=session, user=user, ts=ts, query_id=query_id,
                                  context=context, home=home).to_dict()

    def handle_result(self, text: str, *, site: str = "default", session: str | None = None,
                      user: str | None = None, ts: float | None = None, query_id: str | None = None,
                      context: dict[str, Any] | None = None, home: Home | None = None) -> Result:
        """Parse one request with learning applied, record it, and mark the turn it rephrases."""
        result, bookkeeping = self.answer(text, site=site, session=session, user=user, ts=ts, query_id=query_id,
                                          context=context, home=home)
        bookkeeping()
        return result

    def answer(self, text: str, *, site: str = "default", session: str | None = None,
               user: str | None = None, ts: float | None = None, query_id: str | None = None,
               context: dict[str, Any] | None = None, home: Home | None = None) -> tuple[Result, Callable[[], None]]:
        """`handle_result` in two steps: the answer, its turn recorded (committed: a turn whose answer went out is
        in the store even if the process is killed right after), and a call that does the rest of the
        bookkeeping (marks the turn this one rephrases, which may run the rephrase detector, and learns from an
        answer to "what did you mean?"), so that the service publishes before it. Call it before the next
        request: that one reads what it writes. It uses the request's time, as `handle_result` does."""
        ts = time.time() if ts is None else self.clamp_ts(float(ts))
        self.reload()
        ctx = dict(context or {})
        if user and not ctx.get("user"):
            ctx["user"] = user
        base = home or self.nlu.home
        if not isinstance(text, str) or not text.strip() or not self.site_allowed(site):
            return self.nlu.parse_result(text, ctx, query_id, home=home), _nothing
        prefs = list(self._prefs.get(user, [])) if user else []
        confirmed = self._take_confirm(text, site, user, ts, query_id)
        if confirmed is not None:
            self._record(confirmed, text, site, session, user, ts, query_id, ctx, home)
            return confirmed, _nothing
        answering = self._take_pending(text, site, user, ts)
        teaching = parse_teaching(text, user, ts) if user else None
        if teaching is not None:  # taught, asked to confirm or refused: the reply says which, so it is done first
            return self._teach(teaching, text, site, session, user, ts, query_id, ctx, home), _nothing
        if prefs and any(p.kind == "music_genre" for p in prefs) and "taught" in self.layers:
            hist = [h.to_dict() for h in preference_history(prefs)]
            ctx["history"] = hist + list(ctx.get("history") or [])
        t0 = time.perf_counter()
        area = ctx.get("area") if isinstance(ctx.get("area"), str) else None
        rewrite = self._table_rewrite(text, user, prefs, base, area, ts, site)
        self.rewrite_ms.append((time.perf_counter() - t0) * 1e3)
        if rewrite is not None and not rewrite[3]:  # a phrase the user taught outright means what they said
            result = self.nlu.parse_result(rewrite[0], ctx, query_id, home=home)
        else:
            result = original = self.nlu.parse_result(text, ctx, query_id, home=home)
            if rewrite is None and not self._sure(original):
                rewrite = self._variant_rewrite(text, user, base, area, ts, site)
            if rewrite is not None:
                checked = self._checked_rewrite(text, rewrite[0], original, ctx, query_id, home, base)
                if checked is None:
                    rewrite = None
                else:
                    result = checked
        if rewrite is None and result.error is None and result.resolution(self.min_confidence) < 2:
            online = self._online(text, user, ts, ctx, query_id, home, base, result)
            if online is not None:
                result, online_rw = online
                rewrite = (*online_rw, True)
        read = result
        if rewrite is not None:
            result = replace(result, text=text.strip(),
                             rewrite=Rewrite(text=rewrite[0], source=rewrite[1], score=round(rewrite[2], 4)))
        self._record(result, text, site, session, user, ts, query_id, ctx, home)

        def bookkeeping() -> None:
            self._mark_rephrase(text, site, session, user, ts, read, ctx)
            if answering is not None and read.succeeded(self.min_confidence):
                # the answer to "what did you mean?" worked: it becomes this user's rewrite, unless it is unsafe
                original = self.nlu.parse_result(answering.text, ctx, query_id, home=home)
                reason = check_rewrite(original, read, base, self.settings.defect_confidence, answering.text)
                entry = {"ts": ts, "kind": "taught", "src": normalize(answering.text), "dst": text.strip(),
                         "users": [user], "sites": [site]}
                if reason is None:
                    self._add_taught(normalize(answering.text), text.strip(), user, site, area, ts, base,
                                     {"asked_at": ts})
                    self.store.add_audit([{**entry, "event": "learned", "reason": "answer to what did you mean"}])
                    self.reload(force=True)
                else:
                    self.store.add_audit([{**entry, "event": "rejected", "reason": f"guard: {reason}"}])

        return result, bookkeeping

    def _table_rewrite(self, text: str, user: str | None, prefs: list[Preference], home: Home,
                       area: str | None = None, ts: float = 0.0,
                       site: str | None = None) -> tuple[str, str, float, bool] | None:
        """(text for the model, layer, score, checked): a phrase the user taught outright is used as taught;
        a stored rewrite is checked against the original's parse first (see `_checked_rewrite`), and a
        personal or taught one only where and when it was learned (see scope.py)."""
        src = normalize(text)
        if "taught" in self.layers:
            new, rule = apply_preferences(text, prefs, home)
            if rule is not None and normalize(new) != src:
                return new, "taught", 1.0, False
        table = self._table
        order = [(user, "taught", "taught"), (user, "personal", "personal"), (None, "precomputed", "precomputed")]
        for owner, source, layer in order:
            if layer not in self.layers or (source != "precomputed" and user is None):
                continue
            r = table.get((owner, source, src))
            if r is not None and in_scope(r.meta, area, ts, home, site):
                return r.dst, layer, r.score, True
        return None

    def _sure(self, result: Result) -> bool:
        """A confident reading that resolved: learning never touches it."""
        return result.resolution(self.min_confidence) == 2 and result.confidence >= self.settings.defect_confidence

    def _checked_rewrite(self, text: str, dst: str, original: Result, ctx: dict[str, Any], query_id: str | None,
                         home: Home | None, base: Home) -> Result | None:
        """The rewritten parse, or None when the original must stand: it was a confident reading that resolved,
        the rewrite resolves worse or not at all, or the guard refuses the change."""
        if self._sure(original):
            self.sure_kept += 1
            return None
        rewritten = self.nlu.parse_result(dst, ctx, query_id, home=home)
        if not rewritten.succeeded(self.min_confidence) or \
                rewritten.resolution(self.min_confidence) < original.resolution(self.min_confidence):
            return None
        reason = check_rewrite(original, rewritten, base, self.settings.defect_confidence, text)
        if reason is not None:  # a learned rewrite never unlocks, opens or flips: answer as said
            self.guard_blocked += 1
            log.info("guard (%s): not rewriting %r to %r", reason, text, dst)
            return None
        return rewritten

    def _variant_rewrite(self, text: str, user: str | None, home: Home, area: str | None,
                         ts: float, site: str | None = None) -> tuple[str, str, float, bool] | None:
        """A learned rewrite carried over to a close variant of its failing phrasing ("switch on the X" where
        "turn on the X" was learned): the most similar learned source the wording detector takes for the
        same request, naming nothing in the home the source does not, with no other number; its edit is
        applied to the variant where the variant contains the words it replaced."""
        if self.detector is None or not self._table:
            return None
        src = normalize(text)
        words = home_words(home)
        best: tuple[float, LearnedRewrite, str] | None = None
        for (owner, source, key), r in self._table.items():
            if source not in self.layers or (owner is not None and owner != user):
                continue
            if not in_scope(r.meta, area, ts, home, site):
                continue
            if not variant_of(src, key, words):
                continue
            p = float(self.detector.probability(key, src, 0.0))
            if p >= self.settings.variant_threshold and (best is None or p > best[0]):
                best = (p, r, source)
        if best is None:
            return None
        p, r, source = best
        return transfer_edit(r.src, r.dst, src), source, round(r.score * p, 4), True

    def _online(self, text: str, user: str | None, ts: float, ctx: dict[str, Any], query_id: str | None,
                home: Home | None, base: Home, original: Result) -> _Online | None:
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
        spans = original.nlu.slots if original.nlu is not None else ()
        named = frozenset(w for sl in spans for w in normalize(sl.value).split())
        for c in cands[:3]:
            if _mentioned(c.text, names) != said:  # never move a request to another room
                continue
            if not keeps_content(text, c.text, named):  # nor drop what it named ("the party lights" -> "the lights")
                continue
            r2 = self.nlu.parse_result(c.text, ctx, query_id, home=home)
            if r2.succeeded(self.settings.defect_confidence) and r2.confidence > original.confidence:
                if check_rewrite(original, r2, base, self.settings.defect_confidence, text) is not None:
                    self.guard_blocked += 1
                    continue
                return r2, (c.text, c.layer, c.score)
        return None

    # -- recording and signals --------------------------------------------------------------------
    def _turn_record(self, result: Result, text: str, site: str, session: str | None, user: str | None,
                     ts: float, query_id: str | None, ctx: dict[str, Any]) -> TurnRecord:
        nlu, action, rw = result.nlu, result.action, result.rewrite
        digest = hashlib.sha256(json.dumps(ctx, sort_keys=True, default=str).encode()).hexdigest()[:16]
        said = ctx.get("area")
        found = self.nlu.home.area(said) if isinstance(said, str) else None
        area = found.id if found is not None else said  # the id: mining may run without the home
        slots = {k: action.slots[k] for k in MEANING_SLOTS if action is not None and action.slots.get(k) is not None}
        return TurnRecord(
            ts=ts, site=site, text=text.strip(), query_id=query_id, session=session, user=user,
            rewrite_text=rw.text if rw else None, rewrite_source=rw.source if rw else None, context_digest=digest,
            intent=nlu.intent if nlu else None, action=action.intent if action else None,
            targets=action.targets if action else (), confidence=result.confidence,
            recognized=result.recognized(self.min_confidence), error_code=result.error.code if result.error else None,
            area=area if isinstance(area, str) else None, slots=slots,
        )

    def _record(self, result: Result, text: str, site: str, session: str | None, user: str | None,
                ts: float, query_id: str | None, ctx: dict[str, Any], home: Home | None = None) -> int:
        rec = self._turn_record(result, text, site, session, user, ts, query_id, ctx)
        tid = self.store.record_turn(rec)
        if not rec.recognized:
            self.store.add_signal(tid, "not_recognized", ts)
        if query_id is not None:
            _put(self._recent, query_id, (ctx, home))
        return tid

    def _mark_rephrase(self, text: str, site: str, session: str | None, user: str | None, ts: float,
                       result: Result, ctx: dict[str, Any]) -> None:
        """Mark the previous turn of this user at this satellite as retried by this request when the contextual
        detector (contextual.py: the wording, the gap, the first turn's signals, whether this one worked, the
        devices both acted on) says so."""
        prev = self.store.last_turn(site, session, before_ts=ts, any_session=True)
        if prev is None or prev.turn.user != user:
            return
        gap = ts - prev.turn.ts
        if gap < 0 or gap > self.settings.rephrase_window_s or "rephrase" in prev.signals:
            return
        same = normalize(prev.turn.text) == normalize(text)
        if self.detector is not None and not same:
            wording = float(self.detector.probability(prev.turn.text, text, gap))
        else:
            wording = 1.0 if same else 0.0
        second = self._turn_record(result, text, site, session, user, ts, None, ctx)
        p = contextual.probability(contextual.Pair(prev.turn, prev.signals, second, gap, wording),
                                   self.settings.rephrase_window_s)
        if p >= self.settings.rephrase_threshold:
            self.store.add_signal(prev.id, "rephrase", ts, f"p={p:.3f} wording={wording:.3f}")
            if same and prev.defect and user:
                self._ask(site, session, user, prev.turn.text, ts)

    def _ask(self, site: str, session: str | None, user: str | None, text: str, ts: float) -> None:
        """A teachable moment: ask what was meant; the answer becomes a personal taught rewrite."""
        _put(self._pending, (site, None), _Pending(text, user, ts + self.settings.teach_window_s))
        self.questions.append((site, session, f"Sorry, I didn't get that. What did you mean by \"{text}\"?"))

    def _take_pending(self, text: str, site: str, user: str | None, ts: float) -> _Pending | None:
        """The question this request answers, if any (same user at the same satellite, in time)."""
        pending = self._pending.pop((site, None), None)
        if pending is None or pending.expires < ts or pending.user != user or user is None:
            return None
        return None if normalize(text) == normalize(pending.text) else pending

    def _take_confirm(self, text: str, site: str, user: str | None, ts: float,
                      query_id: str | None) -> Result | None:
        """The answer to "Should X unlock the front door?": only a yes from the same site and user, in time,
        stores the taught command; anything else drops it (the request is then handled as usual)."""
        pending = self._confirm.pop((site, user), None) if user else None
        if pending is None:
            return None
        said = normalize(text)
        p = pending.pref
        entry = {"ts": ts, "kind": p.kind, "src": p.key, "dst": p.value, "users": [p.user], "sites": [site]}
        if pending.expires >= ts and said in YES:
            self.store.set_preference(p)
            self.store.add_audit([{**entry, "event": "confirmed", "reason": "yes at the satellite"}])
            self.reload(force=True)
            reply = (f"Okay, when you say {p.key} I'll {flip_person(p.value)}." if p.kind == "phrase"
                     else f"Okay, when you say {p.key} I'll know you mean the {p.value}.")
        elif pending.expires >= ts and said in NO:
            self.store.add_audit([{**entry, "event": "rejected", "reason": "declined at the satellite"}])
            reply = "Okay, I won't."
        else:
            why = "confirmation expired" if pending.expires < ts else "not confirmed"
            self.store.add_audit([{**entry, "event": "rejected", "reason": why}])
            return None
        return _spoken(query_id, text, reply)

    def _teach_check(self, p: Preference, ctx: dict[str, Any], home: Home | None) -> str | None:
        """"opposite" (refused), "sensitive" (needs a yes first) or None for a taught phrase or alias."""
        base = home or self.nlu.home
        if p.kind == "phrase" and p.value:
            cmd = self.nlu.parse_result(p.value, ctx, None, home=home)
            said = self.nlu.parse_result(p.key, ctx, None, home=home)
            if flips(said, cmd, self.settings.defect_confidence, p.key):
                return "opposite"
            return "sensitive" if touches_sensitive(cmd, p.value, base) else None
        if p.kind == "alias" and p.value:
            named = [e.id for e in base.entities if normalize(p.value) in {normalize(n) for n in e.names()}]
            if any(is_sensitive(e, base) for e in named) or touches_sensitive(None, f"{p.key} {p.value}", base):
                return "sensitive"
        return None

    def _teach(self, teaching: Teaching, text: str, site: str, session: str | None, user: str | None, ts: float,
               query_id: str | None, ctx: dict[str, Any], home: Home | None = None) -> Result:
        p = teaching.preference
        reply = teaching.reply
        entry = {"ts": ts, "kind": p.kind, "src": p.key, "dst": p.value, "users": [p.user], "sites": [site]}
        if teaching.forget:
            self.store.delete_preference(p.user, p.kind, p.key)
            self.store.add_audit([{**entry, "event": "removed", "reason": "taken back"}])
        else:
            check = self._teach_check(p, ctx, home)
            if check == "opposite":
                reply = f"Sorry, I won't make \"{p.key}\" do the opposite of what it says."
                self.store.add_audit([{**entry, "event": "rejected", "reason": "guard: opposite"}])
            elif check == "sensitive" and user:
                what = flip_person(p.value) if p.kind == "phrase" else f"mean the {p.value}"
                reply = f"Should \"{p.key}\" {what}? Say yes to confirm."
                _put(self._confirm, (site, user), _Confirm(p, ts + self.settings.teach_window_s, reply))
                self.questions.append((site, session, reply))
                self.store.add_audit([{**entry, "event": "pending", "reason": "sensitive: asked to confirm"}])
            else:
                self.store.set_preference(p)
                self.store.add_audit([{**entry, "event": "taught", "reason": None}])
        self.reload(force=True)
        result = _spoken(query_id, text, reply)
        self._record(result, text, site, session, user, ts, query_id, ctx, home)
        return result

    def feedback(self, query_id: str, signal: str, ts: float | None = None, text: str | None = None, *,
                 site: str | None = None, user: str | None = None) -> bool:
        """Explicit feedback on an answered query; a correction with text teaches a personal rewrite."""
        return self.feedback_refusal(query_id, signal, ts, text, site=site, user=user) is None

    def feedback_refusal(self, query_id: str, signal: str, ts: float | None = None, text: str | None = None, *,
                         site: str | None = None, user: str | None = None) -> str | None:
        """`feedback`, saying why it was refused (None: applied).

        Plain positive/negative feedback may leave siteId and user out (it only marks the turn); a
        correction, whose text becomes a rewrite, must name the turn's siteId, and its user unless that
        is the site's default user. Every signal must come within `feedback_window_s` of the turn
        (request time; a message without a time takes its turn's), and a siteId or user that does not
        match the turn is refused for every signal."""
        tid = self.store.turn_id_for_query(query_id)
        turn = self.store.turn(tid) if tid is not None else None
        if turn is None:
            return f"no recorded query with id {query_id!r}"
        t = turn.turn
        if not self.site_allowed(t.site):
            return "the turn's site is not in learning.allowed_sites"
        if site is not None and site != t.site:
            return "siteId does not match the turn's"
        if user is not None and user != t.user:
            return "user does not match the turn's"
        # no time of its own: now on the turn's site's request clock, not the host's
        ts = max(t.ts, self.store.clock(t.site)) if ts is None else self.clamp_ts(float(ts))
        if not t.ts - _FUTURE_SLACK_S <= ts <= t.ts + self.settings.feedback_window_s:
            return f"feedback must come within {self.settings.feedback_window_s:g} s of its turn"
        if signal == "correction":
            if site is None:
                return "a correction must name the turn's siteId"
            if t.user and user is None and self.site_users.get(t.site) != t.user:
                return "a correction must name the turn's user"
        self.store.add_signal(turn.id, signal, ts, text)
        if t.user and signal == "correction" and text and normalize(text) != t.norm:
            self._correct(turn, query_id, text.strip(), ts)
        elif t.user and signal == "negative":
            self._ask(t.site, t.session, t.user, t.text, ts)
        return None

    def _add_taught(self, src: str, dst: str, user: str | None, site: str, area: str | None, ts: float, home: Home,
                    extra: dict[str, Any]) -> None:
        """Store what a user taught, where and when. Taught again with the same meaning elsewhere, the places
        and times add up (said in two rooms of one floor, it holds on that floor); with another meaning,
        the new one replaces it."""
        old = self._table.get((user, "taught", src))
        seen: list[list[Any]] = []
        if old is not None and normalize(old.dst) == normalize(dst):
            seen = [list(x) for x in old.meta.get("seen") or [] if isinstance(x, list) and len(x) == 2]
        seen = (seen + [[area, ts]])[-MAX_SEEN:]
        sites = sorted({*(old.meta.get("sites") or [] if old is not None and seen[:-1] else []), site})
        self.store.add_rewrite(LearnedRewrite(
            src=src, dst=dst, source="taught", user=user, score=1.0,
            meta={**extra, "users": [user], "sites": sites, "seen": seen,
                  **learn_scope([(a, float(t)) for a, t in seen], home)}))

    def _correct(self, turn: StoredTurn, query_id: str, text: str, ts: float) -> None:
        t = turn.turn
        ctx, home = self._recent.get(query_id, ({"user": t.user}, None))
        base = home or self.nlu.home
        reason = check_rewrite(self.nlu.parse_result(t.text, ctx, None, home=home),
                               self.nlu.parse_result(text, ctx, None, home=home),
                               base, self.settings.defect_confidence, t.text)
        entry = {"ts": ts, "kind": "taught", "src": t.norm, "dst": text, "users": [t.user], "sites": [t.site]}
        if reason is not None:
            self.store.add_audit([{**entry, "event": "rejected", "reason": f"guard: {reason}"}])
            return
        self._add_taught(t.norm, text, t.user, t.site, t.area, t.ts, base, {"correction_of": query_id})
        self.store.add_audit([{**entry, "event": "learned", "reason": "correction"}])
        self.reload(force=True)

    def not_recognized(self, query_id: str, ts: float | None = None, site: str | None = None) -> bool:
        """Another component could not handle the turn. Our own intentNotRecognized comes back here too:
        a turn already marked not recognized is not marked twice."""
        tid = self.store.turn_id_for_query(query_id)
        turn = self.store.turn(tid) if tid is not None else None
        if turn is None or "not_recognized" in turn.signals or not self.site_allowed(turn.turn.site):
            return False
        if site is not None and site != turn.turn.site:
            return False
        self.store.add_signal(turn.id, "not_recognized", turn.turn.ts if ts is None else self.clamp_ts(float(ts)))
        return True

    def barge_in(self, site: str, session: str | None, ts: float | None = None) -> bool:
        """The user cut the answer off. Without a time (a Hermes sessionEnded carries none) it belongs to
        the latest turn of that session (else of the site) and is dated now on the site's request clock
        (that turn's time at the earliest, contract section 5): the host clock says nothing about requests
        stamped with their own `time`."""
        if not self.site_allowed(site):
            return False
        before = None if ts is None else float(ts) + 1e-6
        prev = self.store.last_turn(site, session, before_ts=before) \
            or self.store.last_turn(site, session, before_ts=before, any_session=True)
        if prev is None or "barge_in" in prev.signals:
            return False
        when = max(prev.turn.ts, self.store.clock(site)) if ts is None else float(ts)
        self.store.add_signal(prev.id, "barge_in", when)
        return True

    # -- mining -----------------------------------------------------------------------------------
    def learn(self, now: float | None = None) -> dict[str, Any]:
        """Mine the store, then pick the new rewrites up and rebuild the retrieval layers."""
        report = mine_store(self.store, self.settings, now, home=self.nlu.home)
        self.reload(force=True)
        self.refresh_indexes(sorted(set(report["user_list"]) | {u for u in self._indexed_version if u}))
        return report

    def forget(self, user: str | None = None, before: float | None = None) -> dict[str, int]:
        counts = forget_store(self.store, self.settings, user=user, before=before)
        if self.rewriter is not None:
            self.rewriter.forget(user)
        for key in [k for k, c in self._confirm.items() if user is None or c.pref.user == user]:
            del self._confirm[key]
        self.reload(force=True)
        self.refresh_indexes()
        return counts


def _nothing() -> None:
    """The bookkeeping of a request that has none left to do."""


def _spoken(query_id: str | None, text: str, reply: str) -> Result:
    """The answer to a teaching or a confirmation: the hub only speaks, nothing is done to the home."""
    return Result(id=query_id, text=text.strip(), nlu=NLU(intent=TEACH_INTENT, confidence=1.0), response=reply)


def _put(d: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    """Insert as newest; the oldest entries go beyond MAX_PENDING."""
    d.pop(key, None)
    d[key] = value
    while len(d) > MAX_PENDING:
        d.popitem(last=False)


def forget_store(store: InteractionStore, settings: LearnSettings, *, user: str | None = None,
                 before: float | None = None) -> dict[str, int]:
    """`edge-nlu forget`: the store's erasure, plus hub-wide rewrites mined from that user's phrases (their
    provenance names the user; the next `learn` re-mines them from the others' traffic if it still holds),
    the audit entries naming the user or older than `before`, and turns dated beyond the clock bound."""
    counts = store.forget(user=user, before=before)
    if user is not None:
        for r in store.rewrites(ANY_USER):
            if user in (r.meta.get("users") or ()) and store.delete_rewrite(r.src, r.user, r.source):
                counts["rewrites"] = counts.get("rewrites", 0) + 1
    counts["audit"] = store.forget_audit(user=user, before=before)
    if before is not None:
        counts["turns"] = counts.get("turns", 0) + store.forget_future(
            time.time() + settings.max_future_days * 86400.0)
    return counts


_Outcome = tuple[str | None, str | None, tuple[str, ...], float]
"""(model intent, Home Assistant intent, sorted targets, confidence to 0.1) of a stored turn."""


def _effects(all_chains: list[list[StoredTurn]]) -> tuple[dict[str, Result], dict[str, Result]]:
    """What each phrase did when read as said (any outcome), and what each phrasing did when it worked."""
    said: dict[str, Counter[_Outcome]] = {}
    worked: dict[str, Counter[_Outcome]] = {}
    for ch in all_chains:
        for st in ch:
            t = st.turn
            key: _Outcome = (t.intent, t.action, tuple(sorted(t.targets)), round(t.confidence, 1))
            if t.rewrite_text is None:
                said.setdefault(t.norm, Counter())[key] += 1
            if st.worked:
                worked.setdefault(normalize(t.rewrite_text or t.text), Counter())[key] += 1

    def top(d: dict[str, Counter[_Outcome]]) -> dict[str, Result]:
        return {k: turn_result(*c.most_common(1)[0][0]) for k, c in d.items()}

    return top(said), top(worked)


_Meaning = tuple[Any, ...]


@dataclass
class _Support:
    """Who ended their retries of a phrase where, and who used the phrase as said with success.

    A user without speaker identification stands for their satellite (`site:<id>`): a hub without it still
    needs several satellites to agree."""

    ended: dict[tuple[str, _Meaning], Counter[str]]
    """(src, meaning the chain ended at when it worked) -> chains per user."""
    as_said: dict[str, dict[str, Counter[_Meaning]]]
    """src -> user -> meanings it had when it worked as said."""
    sites: dict[tuple[str, _Meaning], set[str]]
    """(src, meaning) -> satellites of those chains."""
    seen: dict[tuple[str, _Meaning, str], list[tuple[str | None, float]]]
    """(src, meaning, user) -> (area, request time) of each time the user said src in such a chain."""
    meaning_of: dict[str, _Meaning]
    """What a phrasing meant when it worked (the commonest meaning)."""

    def agreeing(self, src: str, dst: str) -> tuple[set[str], set[str], set[str]]:
        """(users whose retries of src ended at dst's meaning and who mostly meant that by it, the others
        who had a success with src meaning something else, the satellites of the agreeing chains)."""
        m = self.meaning_of.get(normalize(dst))
        if m is None:
            return set(), set(), set()
        agree = self.ended.get((src, m), Counter())
        other: Counter[str] = Counter()
        for (s, meaning), per_user in self.ended.items():
            if s == src and meaning != m:
                other.update(per_user)
        for u, meanings in self.as_said.get(src, {}).items():
            other[u] += sum(n for meaning, n in meanings.items() if meaning != m)
        conflicting = {u for u, n in other.items() if n > agree.get(u, 0)}
        return set(agree) - conflicting, conflicting, set(self.sites.get((src, m), set()))

    def scope(self, src: str, dst: str, user: str, home: Home | None) -> dict[str, Any]:
        m = self.meaning_of.get(normalize(dst))
        return learn_scope(self.seen.get((src, m, user), []) if m is not None else [], home)


def _support(all_chains: list[list[StoredTurn]]) -> _Support:
    ended: dict[tuple[str, _Meaning], Counter[str]] = {}
    as_said: dict[str, dict[str, Counter[_Meaning]]] = {}
    sites: dict[tuple[str, _Meaning], set[str]] = {}
    seen: dict[tuple[str, _Meaning, str], list[tuple[str | None, float]]] = {}
    meanings: dict[str, Counter[_Meaning]] = {}
    for ch in all_chains:
        if not ch or not ch[-1].worked:
            continue
        last = ch[-1].turn
        m = last.meaning()
        read = normalize(last.rewrite_text or last.text)
        meanings.setdefault(read, Counter())[m] += 1
        who = last.user or f"site:{last.site}"
        if last.rewrite_text is None:
            as_said.setdefault(last.norm, {}).setdefault(who, Counter())[m] += 1
        for st in ch[:-1]:
            if st.turn.norm == read:
                continue
            u = st.turn.user or f"site:{st.turn.site}"
            ended.setdefault((st.turn.norm, m), Counter())[u] += 1
            sites.setdefault((st.turn.norm, m), set()).add(st.turn.site)
            seen.setdefault((st.turn.norm, m, u), []).append((st.turn.area, st.turn.ts))
    return _Support(ended, as_said, sites, seen, {k: c.most_common(1)[0][0] for k, c in meanings.items()})


def mine_store(store: InteractionStore, settings: LearnSettings, now: float | None = None,
               home: Home | None = None) -> dict[str, Any]:
    """`edge-nlu learn`: precomputed rewrites for everyone, personal ones per user, retention.

    Every mined rewrite passes the security guard (what the phrase did as said against what its target
    did when it worked). One goes to everyone only when enough distinct users on enough satellites ended
    their retries at the same meaning and nobody mostly meant something else by the phrase; otherwise it
    stays personal to its users, kept to the areas and hours they said it in."""
    t0 = time.perf_counter()
    # retention on each site's request clock (a replay dated a year back keeps its turns), unless told a time
    pruned = store.prune(None if now is None else float(now))
    now = store.clock() if now is None else float(now)
    pruned += store.forget_future(max(now, time.time()) + settings.max_future_days * 86400.0)
    before = {(r.source, r.user, r.src): r for r in store.rewrites(ANY_USER) if r.source in ("precomputed", "personal")}
    all_chains = chains(store.sessions(gap_s=settings.session_gap_s, by_session=False))
    mined, report = mine(all_chains, settings.miner)
    said, worked = _effects(all_chains)
    support = _support(all_chains)
    audit: list[_Audit] = []
    dropped: set[tuple[str, str]] = set()

    def safe(r: LearnedRewrite) -> bool:
        reason = check_rewrite(said.get(r.src), worked.get(normalize(r.dst)), home, settings.defect_confidence, r.src)
        if reason is None:
            return True
        if (r.src, normalize(r.dst)) not in dropped:  # once per rewrite, whichever layer mined it
            dropped.add((r.src, normalize(r.dst)))
            users, _, sites = support.agreeing(r.src, r.dst)
            audit.append({"ts": now, "event": "rejected", "kind": r.source, "src": r.src, "dst": r.dst,
                          "users": sorted(users), "sites": sorted(sites), "reason": f"guard: {reason}"})
        return False

    rewrites: list[LearnedRewrite] = []
    demoted: dict[str, list[LearnedRewrite]] = {}
    conflicts = 0
    for r in mined:
        if not safe(r):
            continue
        users, conflicting, sites = support.agreeing(r.src, r.dst)
        r = replace(r, meta={**r.meta, "users": sorted(users), "sites": sorted(sites)})
        if not conflicting and len(users) >= settings.min_global_users and len(sites) >= settings.min_global_sites:
            rewrites.append(r)
        elif not conflicting and len(users) >= settings.min_global_users:
            # users enough, satellites too few (a room-bound habit, or one client forging users): for everyone,
            # but only at those satellites, so a forging client only ever changes its own answers
            rewrites.append(replace(r, meta={**r.meta, "only_sites": sorted(sites)}))
        else:
            conflicts += bool(conflicting)
            for u in users:
                if not u.startswith("site:"):
                    demoted.setdefault(u, []).append(r)
    store.replace_rewrites("precomputed", rewrites)
    by_user: dict[str, list[list[StoredTurn]]] = {}
    for ch in all_chains:
        if ch and ch[0].turn.user:
            by_user.setdefault(ch[0].turn.user, []).append(ch)
    global_dst = {r.src: normalize(r.dst) for r in rewrites}
    personal_settings = replace(settings.miner, min_support=settings.personal_min_support)
    personal: list[LearnedRewrite] = []
    for u, chs in sorted(by_user.items()):
        mine_u, _ = mine(chs, personal_settings)
        own = {r.src: r for r in mine_u if global_dst.get(r.src) != normalize(r.dst)}
        for r in demoted.get(u, []):
            own.setdefault(r.src, r)
        for r in own.values():
            users, conflicting, sites = support.agreeing(r.src, r.dst)
            if u in conflicting:  # this user mostly means something else by it
                continue
            pr = LearnedRewrite(src=r.src, dst=r.dst, source="personal", user=u, score=r.score, support=r.support,
                                meta={**r.meta, "users": [u], "sites": sorted(sites),
                                      **support.scope(r.src, r.dst, u, home)})
            if safe(pr):
                personal.append(pr)
    store.replace_rewrites("personal", personal)
    after = {(r.source, r.user, r.src): r for r in rewrites + personal}
    for key, r in after.items():
        old = before.get(key)
        if old is None or normalize(old.dst) != normalize(r.dst):
            audit.append({"ts": now, "event": "learned", "kind": r.source, "src": r.src, "dst": r.dst,
                          "users": r.meta.get("users", []), "sites": r.meta.get("sites", []),
                          "reason": f"mined from {r.support} chains"})
    for key, r in before.items():
        if key not in after:
            audit.append({"ts": now, "event": "removed", "kind": r.source, "src": r.src, "dst": r.dst,
                          "users": r.meta.get("users", []), "sites": r.meta.get("sites", []),
                          "reason": "no longer supported"})
    logged = {(e["event"], e["kind"], e["src"], e["dst"], e["reason"]) for e in store.audit(limit=5000)
              if e["event"] == "rejected"}
    store.add_audit([e for e in audit if e["event"] != "rejected"  # a refusal is logged once, not every night
                     or (e["event"], e["kind"], e["src"], e["dst"], e["reason"]) not in logged])
    return {
        "chains": len(all_chains), "precomputed": len(rewrites), "personal": len(personal),
        "users": len(by_user), "user_list": sorted(by_user), "pruned": pruned,
        "guard_dropped": len(dropped), "demoted": sum(len(v) for v in demoted.values()), "conflicts": conflicts,
        "miner": report.to_dict(), "seconds": round(time.perf_counter() - t0, 3),
    }


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
