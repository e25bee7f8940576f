"""Did-you-mean hints for config errors: misspelt keys and enum values.

Pydantic reports an unknown key as `extra_forbidden` and a bad enum value as
`literal_error`; this module rewrites both messages to name the closest allowed
spelling (difflib's ratio ≥ 0.6), e.g. `unknown field 'budjet' (did you mean 'budget'?)`.
"""

from __future__ import annotations

import difflib
import re
import types
from typing import Any, Iterable, Union, get_args, get_origin

from pydantic import BaseModel


def closest(word: Any, allowed: Iterable[str]) -> str | None:
    """The allowed spelling nearest to `word`, or None when nothing is close."""
    if not isinstance(word, str):
        return None
    options = [str(a) for a in allowed]
    lowered = {o.lower(): o for o in options}
    if word.lower() in lowered:  # only the case differs
        return lowered[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def hint(word: Any, allowed: Iterable[str]) -> str:
    best = closest(word, allowed)
    return f" (did you mean {best!r}?)" if best else ""


def _flatten(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _flatten(arg)]
    return [annotation]


def _step(annotation: Any, part: Any) -> list[Any]:
    """The annotations reached from `annotation` by one element of an error location."""
    out = []
    for t in _flatten(annotation):
        if isinstance(t, type) and issubclass(t, BaseModel):
            if isinstance(part, str) and part in t.model_fields:
                out.append(t.model_fields[part].annotation)
            elif part == t.__name__:  # pydantic names the union member it tried
                out.append(t)
            continue
        origin, args = get_origin(t), get_args(t)
        if origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
            out.append(args[0])
        elif origin is dict and len(args) == 2:
            out.append(args[1])
        elif isinstance(part, str) and getattr(t, "__name__", None) == part.split("[")[0]:
            out.append(t)  # a union member named by pydantic, e.g. 'list[str]'
    return out


def fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model(s) that hold the last element of `loc`."""
    current: list[Any] = [model]
    for part in loc[:-1]:
        current = [nxt for t in current for nxt in _step(t, part)]
    names: list[str] = []
    for t in current:
        for member in _flatten(t):
            if isinstance(member, type) and issubclass(member, BaseModel):
                names += [n for n in member.model_fields if n not in names]
    return names


_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def explain(error: dict, model: type[BaseModel] | None) -> str | None:
    """A better message for one pydantic error dict, or None to keep pydantic's."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "extra_forbidden" and loc:
        allowed = fields_at(model, loc) if model is not None else []
        shown = f"; allowed: {', '.join(allowed)}" if allowed and not closest(loc[-1], allowed) else ""
        return f"unknown field {loc[-1]!r}{hint(loc[-1], allowed)}{shown}"
    if error.get("type") in ("list_type", "model_type", "dict_type", "model_attributes_type"):
        return _shape_hint(error, model, loc)
    if error.get("type") == "literal_error":
        expected = _QUOTED.findall(str((error.get("ctx") or {}).get("expected", "")))
        if expected:
            return f"{error['input']!r} is not one of {', '.join(expected)}{hint(error.get('input'), expected)}"
    return None


def _shape_hint(error: dict, model: type[BaseModel] | None, loc: tuple) -> str | None:
    """A list given as one item, or a word where a mapping is expected: say which YAML shape fits."""
    given = error.get("input")
    if error["type"] == "list_type":
        if isinstance(given, dict):
            return "expected a list; for one item, put `- ` before its first key (or write [{...}])"
        if isinstance(given, (str, int, float)) and not isinstance(given, bool):
            return f"expected a list, got the single value {given!r}; write [{given}]"
        return None
    if not isinstance(given, (str, int, float)) or isinstance(given, bool):
        return None
    names = fields_at(model, (*loc, "")) if model is not None else []
    shown = f" ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})" if names else ""
    return f"expected a mapping of fields{shown}, got the single value {given!r}"
