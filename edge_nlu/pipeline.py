"""One request through the runtime: validate -> context -> model -> resolution -> result.

Bad input never raises out of `parse`; it comes back as a result with `error` set.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import Profiles, load_profiles
from edge_nlu.domain.result import ErrorInfo, Result
from edge_nlu.errors import EdgeNLUError, ErrorCode, InvalidInputError
from edge_nlu.model.context_segment import context_segment
from edge_nlu.model.runner import NLUModel
from edge_nlu.resolve.resolver import resolve
from edge_nlu.sanitize import clean, clean_text
from edge_nlu.settings import RuntimeSettings, default_model_dir

log = logging.getLogger("edge_nlu")

MAX_ID_CHARS = 1024
"""Longest request id echoed back; longer ones are cut."""


class EdgeNLU:
    """The runtime: a model, a home and the device profiles."""

    def __init__(self, settings: RuntimeSettings, home: Home | None = None) -> None:
        self.settings = settings
        self.model = NLUModel(settings.model_dir, threads=settings.threads)
        if home is None:
            home = Home.load(settings.home_path) if settings.home_path else Home()
        self.home = home
        self.profiles: Profiles = load_profiles()

    def parse(self, text: Any, context: Any = None, id: Any = None, *, home: Home | None = None) -> dict[str, Any]:
        """Parse one request; returns the contract's result object as a dict.

        `home` replaces `self.home` for this request only: the live service passes a fresh
        snapshot per query so that the runtime itself stays free of shared mutable state."""
        return self.parse_result(text, context, id, home=home).to_dict()

    def parse_result(self, text: Any, context: Any = None, id: Any = None, *, home: Home | None = None) -> Result:
        """`parse` as the typed `Result`: what every layer above the pipeline (learning, the service) works on;
        only the wire turns it into a dict."""
        rid = _request_id(id)
        base = self.home if home is None else home
        shown = clean_text(text[: self.settings.max_text_chars]) if isinstance(text, str) else ""
        try:
            words = self._check_text(text)
            ctx = RequestContext.from_dict(_clean_context(context))
            if ctx.area and base.areas and base.area(ctx.area) is None:
                raise InvalidInputError(f"context.area {ctx.area!r} is not an area of the home", ErrorCode.UNKNOWN_AREA)
            home = base.with_overrides(ctx.state_overrides)
            nlu = self.model.predict(words, context_segment(home, ctx))
            action, response = resolve(nlu, words, home, ctx, self.profiles)
        except EdgeNLUError as exc:
            return Result(id=rid, text=shown, error=ErrorInfo(exc.code, exc.message))
        except Exception as exc:  # a bug must cost one request its answer, never a batch or the service
            log.exception("internal error on request %r", rid)
            why = ErrorInfo(ErrorCode.INTERNAL_ERROR, f"internal error: {type(exc).__name__}")
            return Result(id=rid, text=shown, error=why)
        return Result(id=rid, text=words, nlu=nlu, action=action, response=response)

    def _check_text(self, text: Any) -> str:
        if not isinstance(text, str):
            raise InvalidInputError("text must be a string", ErrorCode.INVALID_TEXT)
        words = clean_text(text).strip()
        if not words:
            raise InvalidInputError("text is empty", ErrorCode.EMPTY_TEXT)
        if len(words) > self.settings.max_text_chars:
            raise InvalidInputError(
                f"text is {len(words)} characters; at most {self.settings.max_text_chars} are accepted",
                ErrorCode.TEXT_TOO_LONG,
            )
        return words


def _request_id(value: Any) -> str | None:
    """The id as the result echoes it: a string that always encodes, whatever the caller sent."""
    if value is None:
        return None
    if not isinstance(value, str):
        try:
            value = str(clean(value, max_depth=4, max_nodes=256))
        except (EdgeNLUError, ValueError):  # nested, huge, or an int past Python's 4300-digit str limit
            return None
    return clean_text(value[:MAX_ID_CHARS])


def _clean_context(context: Any) -> Any:
    try:
        return clean(context)
    except EdgeNLUError as exc:
        raise InvalidInputError(f"context: {exc.message}", ErrorCode.INVALID_CONTEXT) from None


def load(model: str | Path | None = None, home: str | Path | Home | None = None, threads: int = 1) -> EdgeNLU:
    """`edge_nlu.load()` from the contract: the shipped default model and an empty home."""
    settings = RuntimeSettings(
        model_dir=Path(model) if model else default_model_dir(),
        home_path=Path(home) if isinstance(home, (str, Path)) else None,
        threads=threads,
    )
    return EdgeNLU(settings, home=home if isinstance(home, Home) else None)
