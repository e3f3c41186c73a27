"""Config sections read into frozen dataclasses, strictly, from the classes themselves.

A section's keys are its dataclass's fields and their types the annotations; `Annotated` extras add
what a type cannot say (a range, a check, a key spelled differently in the file). Every section of
every config (serve, learning, each adapter's options) is read by `read_section`, so they all fail
the same way: a ConfigError (`ErrorCode.INVALID_CONFIG`) naming the full key path, for an unknown
key, a wrong type (a bool is not a number, "0.3" is not a float) or a value out of range. Nothing is
coerced. A key given as null takes its default, and so does an empty string unless the field is
`NonEmpty`. The value of a field kept out of repr (a password) is kept out of the messages too.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import stat
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union

from edge_nlu.errors import ConfigError, ErrorCode

T = TypeVar("T")

__all__ = ["Annotated", "Check", "Derived", "External", "Inline", "Key", "NonEmpty", "Parse", "Range",
           "Shorthand", "attribute_docs", "check_keys", "key_tree", "read_section", "to_mapping"]


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a number."""

    lo: float | None = None
    """Smallest value allowed; None: no lower bound."""
    hi: float | None = None
    """Largest value allowed; None: no upper bound."""


@dataclass(frozen=True)
class Check:
    """Validates (and may normalize) a value after its type is checked."""

    fn: Callable[[Any, str], Any]
    """`fn(value, key_path)` returns the value to keep or raises ConfigError."""


@dataclass(frozen=True)
class Parse:
    """Reads a value the type alone cannot (aliases such as `protocol: 5`); replaces the type check."""

    fn: Callable[[Any, str], Any]
    """`fn(raw, key_path)` gets the non-null value as written and returns it read, or raises ConfigError."""


@dataclass(frozen=True)
class Key:
    """The file spells the key differently from the attribute (`home` for `home_path`)."""

    name: str
    """Key in the config file."""


@dataclass(frozen=True)
class NonEmpty:
    """An empty string is an error here, not the default."""


@dataclass(frozen=True)
class Derived:
    """Not a key of the file: the caller passes it (the TLS flag comes from the URI scheme)."""


@dataclass(frozen=True)
class Inline:
    """A nested dataclass whose keys sit in the parent mapping (an adapter's `areas` and `domains`)."""


@dataclass(frozen=True)
class Shorthand:
    """A string given where this dataclass belongs stands for `{field: string}` (`bedroom: Bedroom`)."""

    field: str
    """Attribute the string goes to."""


@dataclass(frozen=True)
class External:
    """The caller reads this key itself and passes the value in `given` (the `broker:` section, which
    becomes BrokerSettings with the command line's URI; `adapters:`, whose options depend on the name)."""

    shape: type | None = None
    """Dataclass the key is written as, for `key_tree`; None: a plain value as far as it can tell."""


# -- reading ------------------------------------------------------------------------------------


def read_section(cls: type[T], raw: Any, path: str = "", *, base: Path | None = None,
                 given: Mapping[str, Any] | None = None) -> T:
    """`cls` built from the mapping `raw` (None: all defaults); `path` is the section's key path
    ("" at the top level), `base` the folder relative paths are taken from, `given` the values of
    fields the caller reads itself (Derived or External ones, or any it wants to set)."""
    raw = {} if raw is None else raw
    check_keys(cls, raw, path)
    return _build(cls, raw, path, base, dict(given or {}))


def check_keys(cls: type, raw: Any, path: str = "") -> None:
    """ConfigError unless `raw` is a mapping with only keys of `cls`."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path or 'config'} must be a mapping, got {type(raw).__name__}")
    allowed = set(_keys(cls))
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise ConfigError(f"{path or 'config'}: unknown key(s) {', '.join(unknown)}; "
                          f"allowed: {', '.join(sorted(allowed))}")


def _build(cls: type[T], raw: Mapping[Any, Any], path: str, base: Path | None, given: dict[str, Any]) -> T:
    kw: dict[str, Any] = {}
    for f, tp, extras in _fields(cls):
        if f.name in given:
            kw[f.name] = given.pop(f.name)
            continue
        if _has(extras, Derived) or _has(extras, External):
            continue
        if _has(extras, Inline):
            kw[f.name] = _build(tp, {k: raw[k] for k in _keys(tp) if k in raw}, path, base, {})
            continue
        key = _key(f, extras)
        value = raw.get(key)
        if value is None or (value == "" and not _has(extras, NonEmpty) and not _has(extras, Parse)):
            continue  # the default
        try:
            kw[f.name] = _value(tp, extras, value, _join(path, key), base)
        except ConfigError as exc:
            if f.repr:
                raise
            # a field kept out of repr (a password) is kept out of error messages too
            raise ConfigError(exc.message.replace(repr(value), "(not shown)"), exc.code) from None
    if given:
        raise TypeError(f"{cls.__name__} has no field(s) {', '.join(sorted(given))}")
    try:
        return cls(**kw)
    except ValueError as exc:  # a check across fields (__post_init__)
        raise ConfigError(f"{path or 'config'}: {exc}") from exc


def _value(tp: Any, extras: tuple[Any, ...], value: Any, path: str, base: Path | None) -> Any:
    """One value read as `tp` (extras: its Annotated metadata), checked and converted."""
    tp, more = _unwrap(tp)
    extras = extras + more
    raw = value
    parse, short = _get(extras, Parse), _get(extras, Shorthand)
    if short is not None and not isinstance(value, Mapping):
        if not isinstance(value, str):
            raise ConfigError(f"{path} must be a mapping or a string ({short.field}), got {type(value).__name__}")
        value = {short.field: value}
    if parse is not None:
        value = parse.fn(value, path)
    else:
        if value == "" and _has(extras, NonEmpty):
            raise ConfigError(f"{path} must be a non-empty string")
        value = _typed(tp, value, path, base)
    bounds = _get(extras, Range)
    if bounds is not None and ((bounds.lo is not None and value < bounds.lo)
                               or (bounds.hi is not None and value > bounds.hi)):
        raise ConfigError(f"{path} must be between {bounds.lo} and "
                          f"{bounds.hi if bounds.hi is not None else 'any'}, got {raw!r}")
    for check in extras:
        if isinstance(check, Check):
            value = check.fn(value, path)
    return value


def _typed(tp: Any, value: Any, path: str, base: Path | None) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"{path}: unions other than X | None are not supported")
        return _value(inner[0], (), value, path, base)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ConfigError(f"{path} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path} must be a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{path} must be a path (a string), got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() or base is None else base / p
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path} must be a list, got {value!r}")
        return tuple(_value(args[0], (), v, f"{path}[{i}]", base) for i, v in enumerate(value))
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path} must be a mapping, got {type(value).__name__}")
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{path}: key {k!r} must be a string (quote it)")
            item = _join(path, k)
            out[k] = _default_of(args[1], item) if v is None else _value(args[1], (), v, item, base)
        return out
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return read_section(tp, value, path, base=base)
    raise TypeError(f"{path}: no reader for {tp!r}")


def _default_of(tp: Any, path: str) -> Any:
    """What a null entry of a mapping stands for: an all-default section; null is no other value."""
    tp, _ = _unwrap(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp()
    raise ConfigError(f"{path} must not be null")


# -- introspection ------------------------------------------------------------------------------


def _fields(cls: type) -> list[tuple[dataclasses.Field[Any], Any, tuple[Any, ...]]]:
    """(field, type without Annotated, Annotated extras) per field."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        tp, extras = _unwrap(hints[f.name])
        out.append((f, tp, extras))
    return out


def _unwrap(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(tp) is Annotated:
        return tp.__origin__, tuple(tp.__metadata__)
    return tp, ()


def key_tree(cls: type) -> dict[str, Any]:
    """The keys a file may give for `cls`, nested: a section is a dict, a plain value None, and a
    mapping of sections by free names (sites by siteId) `{"*": tree}`. For tests and docs."""
    out: dict[str, Any] = {}
    for f, tp, extras in _fields(cls):
        if _has(extras, Derived):
            continue
        external = _get(extras, External)
        if _has(extras, Inline):
            out.update(key_tree(tp))
        elif external is not None:
            out[_key(f, extras)] = key_tree(external.shape) if external.shape is not None else None
        else:
            out[_key(f, extras)] = _tree(tp)
    return out


def _tree(tp: Any) -> Any:
    tp, _ = _unwrap(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _tree(inner[0]) if len(inner) == 1 else None
    if origin in (dict, Mapping):
        sub = _tree(args[1])
        return {"*": sub} if sub is not None else None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return key_tree(tp)
    return None


def to_mapping(obj: Any) -> Any:
    """The config-file shape of a settings object, the inverse of `read_section`: Derived and
    External fields left out (their caller writes them), Inline ones merged, paths as strings,
    tuples as lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f, _tp, extras in _fields(type(obj)):
            if _has(extras, Derived) or _has(extras, External):
                continue
            value = to_mapping(getattr(obj, f.name))
            if _has(extras, Inline):
                out.update(value)
            else:
                out[_key(f, extras)] = value
        return out
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_mapping(v) for k, v in obj.items()}
    return obj


def attribute_docs(cls: type) -> dict[str, str]:
    """Attribute -> the docstring under it in the class body (what the example config must explain)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    out: dict[str, str] = {}
    for node, nxt in zip(body, body[1:], strict=False):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
            out[node.target.id] = inspect.cleandoc(nxt.value.value)
    return out


def _keys(cls: type) -> list[str]:
    """The file keys of `cls`, Inline ones included."""
    out: list[str] = []
    for f, tp, extras in _fields(cls):
        if _has(extras, Derived):
            continue
        out.extend(_keys(tp) if _has(extras, Inline) else [_key(f, extras)])
    return out


def _key(f: dataclasses.Field[Any], extras: tuple[Any, ...]) -> str:
    k = _get(extras, Key)
    return k.name if k is not None else f.name


def _has(extras: tuple[Any, ...], kind: type) -> bool:
    return any(isinstance(e, kind) for e in extras)


def _get(extras: tuple[Any, ...], kind: type[T]) -> T | None:
    return next((e for e in extras if isinstance(e, kind)), None)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def read_secret_file(path: Path, key: str, unreadable: ErrorCode, exposed: ErrorCode | None = None) -> str:
    """The first line of a file only its owner can read (like ssh with private keys): a secret others can
    read is refused, not silently used. `key` names the setting in every message; `exposed` is the code for
    a file group or others can read (default: `unreadable`)."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{key} {path} is accessible by group or others (mode "
                              f"{stat.S_IMODE(mode):o}); run: chmod 600 {path}", exposed or unreadable)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{key} {path}: {exc.strerror or exc}", unreadable) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{key} {path} is not UTF-8 text", unreadable) from None
    lines = text.splitlines()
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ConfigError(f"{key} {path} is empty", unreadable)
    return secret
