"""Numbers and durations as people say them ("twenty two degrees", "an hour and a half").

Pure functions: the model gives text spans, Home Assistant wants numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_UNITS = {
    "zero": 0, "oh": 0, "nil": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000}
# Fraction words, as a share of the whole: "halfway" is 50 percent, "a quarter" 25.
_FRACTIONS = {"half": 0.5, "halfway": 0.5, "quarter": 0.25, "quarters": 0.25, "third": 1 / 3,
              "thirds": 1 / 3}
_FULL = {"full": 100, "fully": 100, "max": 100, "maximum": 100, "all the way": 100}

_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+|%")

Number = int | float


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower().replace("-", " "))


def _tidy(value: float) -> Number:
    """Whole numbers come back as int so slots read `22`, not `22.0`."""
    return int(value) if float(value).is_integer() else round(value, 3)


def _is_num_word(tok: str) -> bool:
    return tok in _UNITS or tok in _TENS or tok in _SCALES or tok[:1].isdigit()


def _collapse(tokens: list[str]) -> list[str | float]:
    """Replace each run of number words or digits by its value; other tokens stay."""
    out: list[str | float] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in ("a", "an") and nxt in _SCALES:
            tok = "one"
        if not _is_num_word(tok):
            out.append(tok)
            i += 1
            continue
        total, current = 0.0, 0.0
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("a", "an") and i + 1 < len(tokens) and tokens[i + 1] in _SCALES:
                tok = "one"
            if tok[:1].isdigit():
                if current or total:
                    break
                current = float(tok.replace(",", "."))
            elif tok in _UNITS:
                rem = current % 100
                if rem == 0 or (rem >= 20 and rem % 10 == 0 and _UNITS[tok] < 10):
                    current += _UNITS[tok]
                else:
                    break
            elif tok in _TENS:
                if current % 100 != 0:
                    break
                current += _TENS[tok]
            elif tok in _SCALES:
                scale = _SCALES[tok]
                if scale == 100:
                    current = (current or 1) * 100
                else:
                    total += (current or 1) * scale
                    current = 0
            elif tok == "and" and (current or total) and i + 1 < len(tokens) and (
                tokens[i + 1] in _UNITS or tokens[i + 1] in _TENS
            ) and current % 100 == 0:
                pass
            elif tok == "point" and i + 1 < len(tokens) and (
                tokens[i + 1] in _UNITS or tokens[i + 1].isdigit()
            ):
                digits = ""
                while i + 1 < len(tokens) and (tokens[i + 1] in _UNITS or tokens[i + 1].isdigit()):
                    i += 1
                    d = tokens[i]
                    digits += d if d.isdigit() else str(_UNITS[d] % 10)
                current += float(f"0.{digits}")
                i += 1
                break
            else:
                break
            i += 1
        out.append(total + current)
    return out


def parse_number(text: str | None) -> Number | None:
    """The first number said in `text`, from digits or words; fractions are percentages.

    "22 degrees" -> 22, "twenty two" -> 22, "40%" -> 40, "halfway" -> 50,
    "a quarter" -> 25, "three quarters" -> 75; None when no number is said.
    """
    if not text:
        return None
    low = text.lower()
    for phrase, value in _FULL.items():
        if re.search(rf"\b{phrase}\b", low):
            return value
    seq = _collapse(_tokens(low))
    for i, tok in enumerate(seq):
        nxt = seq[i + 1] if i + 1 < len(seq) else None
        if isinstance(tok, float):
            if isinstance(nxt, str) and nxt in _FRACTIONS and nxt != "halfway":
                return _tidy(round(tok * _FRACTIONS[nxt] * 100, 3))
            return _tidy(tok)
        if tok in _FRACTIONS:
            return _tidy(round(_FRACTIONS[tok] * 100, 3))
    return None


@dataclass(frozen=True)
class Duration:
    """A timer length as Home Assistant's StartTimer slots want it."""

    hours: int = 0
    """Whole hours."""
    minutes: int = 0
    """Whole minutes."""
    seconds: int = 0
    """Whole seconds."""

    def to_slots(self) -> dict[str, Any]:
        """Only the parts that were said, e.g. {"minutes": 12}."""
        return {k: v for k, v in (("hours", self.hours), ("minutes", self.minutes),
                                  ("seconds", self.seconds)) if v}

    @property
    def total_seconds(self) -> int:
        return self.hours * 3600 + self.minutes * 60 + self.seconds


_UNIT_SECONDS = {
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "h": 3600,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60, "m": 60,
    "second": 1, "seconds": 1, "sec": 1, "secs": 1, "s": 1,
}


def _add(parts: dict[int, float], unit: int, amount: float) -> None:
    """Add an amount of a unit; a fraction spills into the next smaller unit."""
    whole = int(amount)
    parts[unit] = parts.get(unit, 0) + whole
    rest = amount - whole
    if rest > 1e-9:
        smaller = 60 if unit == 3600 else 1
        if unit == 1:
            parts[1] = parts.get(1, 0) + round(rest)
        else:
            _add(parts, smaller, rest * unit / smaller)


_SHARES = {"quarter": 0.25, "quarters": 0.25, "third": 1 / 3, "thirds": 1 / 3}
_SPOKEN_FRACTIONS = {(1, 2): "half", (1, 4): "a quarter", (3, 4): "three quarters", (1, 3): "a third",
                     (2, 3): "two thirds"}
_FRACTION_RE = re.compile(r"(?<![\d/.])(?:(\d+)\s+)?(\d+)\s*/\s*(\d+)(?![\d/])")


def spoken_fractions(text: str) -> str:
    """Written fractions as said: "1/2 an hour" is "half an hour" (HA's templates write both), and
    "1 1/2 hours" is "1.5 hours"."""
    def say(m: re.Match[str]) -> str:
        num, den = int(m.group(2)), int(m.group(3))
        if den == 0:
            return m.group(0)
        if m.group(1):
            return f"{int(m.group(1)) + num / den:.4g}"
        return _SPOKEN_FRACTIONS.get((num, den), f"{num / den:.3g}")
    return _FRACTION_RE.sub(say, text)


def _unit_after(seq: list[str | float], j: int) -> tuple[int, int] | None:
    """The index and length in seconds of the unit after `of`/`an`/`a` fillers from index j."""
    while j < len(seq) and seq[j] in ("of", "an", "a"):
        j += 1
    tok = seq[j] if j < len(seq) else None
    return (j, _UNIT_SECONDS[tok]) if isinstance(tok, str) and tok in _UNIT_SECONDS else None


_DURATION_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+", re.IGNORECASE)
_GLUE_RE = re.compile(r"[\s,-]*")
_FILLERS = frozenset({"and", "a", "an", "of"})
_AMOUNT_WORDS = frozenset({"half", "quarter", "quarters", "third", "thirds"})
_LONG_UNITS = frozenset(u for u in _UNIT_SECONDS if len(u) > 1)


def _duration_word(w: str) -> bool:
    return (w[:1].isdigit() or w in _UNITS or w in _TENS or w in _SCALES or w in _LONG_UNITS
            or w in _FILLERS or w in _AMOUNT_WORDS or w in ("h", "m", "s", "min"))


def duration_spans(text: str) -> list[tuple[int, int, Duration]]:
    """Each duration said in `text` with its character span: runs of number, unit and joining words
    ("two-hours 38-minute", "an hour and a half") that name a unit. Write fractions as words first
    (`spoken_fractions`) so that spans index the text the caller holds."""
    out: list[tuple[int, int, Duration]] = []
    run: list[tuple[int, int, str]] = []

    def flush() -> None:
        words = list(run)
        while words and (words[0][2] in ("and", "of") or (
                words[0][2] in ("a", "an") and len(words) > 1 and not _is_unit(words[1][2]) and
                words[1][2] not in _AMOUNT_WORDS)):
            words.pop(0)
        while words and words[-1][2] in _FILLERS:
            words.pop()
        if not any(_is_unit(w) or (w in ("h", "m", "s") and i and words[i - 1][2][:1].isdigit())
                   for i, (_, _, w) in enumerate(words)):
            return
        start, end = words[0][0], words[-1][1]
        said = parse_duration(text[start:end])
        if said is not None and said.total_seconds > 0:
            out.append((start, end, said))

    for m in _DURATION_TOKEN_RE.finditer(text):
        tok = (m.start(), m.end(), m.group().lower())
        joined = bool(run) and _GLUE_RE.fullmatch(text[run[-1][1]:tok[0]]) is not None
        if _duration_word(tok[2]) and (joined or not run):
            run.append(tok)
            continue
        if run:
            flush()
        run = [tok] if _duration_word(tok[2]) else []
    if run:
        flush()
    return out


def _is_unit(word: str) -> bool:
    return word in _LONG_UNITS


def parse_duration(text: str | None) -> Duration | None:
    """A duration said in words or digits, or None when there is none.

    Units stay as said ("ninety seconds" is 90 seconds); fractions spill into the next
    unit ("an hour and a half" is 1 h 30 min). A bare number means minutes.
    """
    if not text:
        return None
    seq = _collapse(_tokens(spoken_fractions(text).replace(":", " ")))
    parts: dict[int, float] = {}
    pending: float | None = None  # a number waiting for its unit
    frac: float = 0.0  # "and a half" said before the unit ("one and a half hours")
    last_unit: int | None = None
    i = 0
    while i < len(seq):
        tok = seq[i]
        nxt = seq[i + 1] if i + 1 < len(seq) else None
        if isinstance(tok, float):
            pending = tok
        elif tok in ("a", "an") and isinstance(nxt, str) and nxt in _UNIT_SECONDS:
            pending = 1.0 if pending is None else pending  # "a minute"; "0.5 an hour" keeps its 0.5
        elif tok in _SHARES and pending is not None and (after := _unit_after(seq, i + 1)) is not None:
            # "three quarters of an hour": a share of the unit that follows
            j, unit = after
            _add(parts, unit, pending * _SHARES[str(tok)])
            last_unit, pending = unit, None
            i = j + 1
            continue
        elif tok in ("half", "quarter") and pending is None:
            # "half an hour", "a quarter of an hour", "half a minute"
            share = 0.5 if tok == "half" else 0.25
            j = i + 1
            while j < len(seq) and seq[j] in ("of", "an", "a"):
                j += 1
            unit_tok = seq[j] if j < len(seq) else None
            if isinstance(unit_tok, str) and unit_tok in _UNIT_SECONDS:
                _add(parts, _UNIT_SECONDS[unit_tok], share)
                last_unit = _UNIT_SECONDS[unit_tok]
                i = j + 1
                continue
            if last_unit is not None:
                _add(parts, last_unit, share)
        elif tok == "and" and isinstance(nxt, str) and nxt in ("a", "half"):
            j = i + 1 + (nxt == "a")
            if j < len(seq) and seq[j] in ("half", "quarter"):
                share = 0.5 if seq[j] == "half" else 0.25
                if pending is not None:
                    frac = share
                elif last_unit is not None:
                    _add(parts, last_unit, share)
                i = j + 1
                continue
        elif isinstance(tok, str) and tok in _UNIT_SECONDS and pending is not None:
            unit = _UNIT_SECONDS[tok]
            _add(parts, unit, pending + frac)
            last_unit, pending, frac = unit, None, 0.0
        i += 1
    if pending is not None:
        # a trailing bare number: the unit after the last one said, else minutes
        unit = {3600: 60, 60: 1}.get(last_unit or 0, 60) if last_unit != 1 else 1
        _add(parts, unit, pending + frac)
    if not parts:
        return None
    return Duration(hours=int(parts.get(3600, 0)), minutes=int(parts.get(60, 0)),
                    seconds=int(parts.get(1, 0)))
