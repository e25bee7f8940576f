"""How config problems are found and worded: every error at once, each as `field.path: problem`.

`validate_all` runs pydantic and collects all its errors, adds `true`/`false` given
where a number is expected (pydantic's lax mode would read them as 1/0) and
`nonsense_problems` (values of the right type that make no run); `add_places`
puts `file:line:` before each line and orders them as in the file.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from taskmill.suggest import explain, fields_at

NESTED_MARK = "nested: "  # a validator's message that is already full `path: problem` lines


def validate_all(model: type[BaseModel], data: Any, prefix: str = "") -> tuple[Any, list[str]]:
    """(the model or None, every problem as `path: problem` lines): pydantic's errors, then bools given for numbers."""
    booleans = bool_errors(model, data, prefix)
    flagged = {line.split(": ", 1)[0] for line in booleans}
    try:
        return model.model_validate(data), booleans
    except ValidationError as exc:
        lines = [line for e in exc.errors() for line in _error_line(e, model, prefix).split("\n")]
        # `limit: false` also fails `>= 1`: say "boolean" once, not both
        return None, [line for line in lines if line.split(": ", 1)[0] not in flagged] + booleans


def _path(prefix: str, loc: Any) -> str:
    return ".".join(str(p) for p in (prefix, *loc) if str(p) != "")


def _error_line(error: Any, model: type[BaseModel], prefix: str = "") -> str:
    """`path: problem` for one pydantic error; the value is echoed only where that is safe and useful."""
    from taskmill.redact import is_secret_name, mask_text

    message = error["msg"].removeprefix("Value error, ")
    if message.startswith(NESTED_MARK):  # already one or more full lines
        return "\n".join(mask_text(line) for line in message.removeprefix(NESTED_MARK).split("\n"))
    if "\n" in message and error.get("type") == "value_error":  # one problem a line: each its own `path: problem`
        return "\n".join(_error_line({**error, "msg": line}, model, prefix) for line in message.split("\n"))
    loc, message = relative_field(error, model, message)
    path = _path(prefix, loc) or "(top level)"
    better = explain(error, model)
    # The value of an unknown field is never echoed: a misspelt `api_kye: sk-...` is still a secret.
    shown = better is None and error["type"] not in ("missing", "extra_forbidden") and not isinstance(error.get("input"), (dict, list))
    # a validator's own message may already say it
    shown = shown and f"got {error.get('input')}" not in message and repr(error.get("input")) not in message
    if shown and any(is_secret_name(str(p)) for p in error["loc"]):
        got = " (got ***)"
    else:
        got = f" (got {mask_text(repr(error['input']))})" if shown else ""
    return f"{path}: {mask_text(better) if better else message}{got}"


_FIELD_LEAD = re.compile(r"([A-Za-z_]\w*(?:\.\w+)*): (.+)", re.DOTALL)


def relative_field(error: Any, model: type[BaseModel], message: str) -> tuple[tuple, str]:
    """(location, message) with a field the message starts with moved into the location.

    A model validator can only raise at its model (`selection`), so it names the field
    first: `zipfit.targets: must list ...` is reported as `selection.zipfit.targets: must list ...`.
    A field validator repeating its own field (`shape_weights: ...` at `shape_weights`) says it once.
    """
    loc = tuple(error["loc"])
    match = _FIELD_LEAD.fullmatch(message)
    if error.get("type") != "value_error" or not match:
        return loc, message
    lead, rest = match.group(1).split("."), match.group(2)
    if loc and lead == [str(loc[-1])]:
        return loc, rest
    if lead[0] in fields_at(model, (*loc, "")):
        return (*loc, *lead), rest
    return loc, message


_TYPE_TAGS = {"int", "float", "none", "function-after", "function-before", "function-wrap", "function-plain"}


def bool_errors(model: type[BaseModel], data: Any, prefix: str = "") -> list[str]:
    """`path: ...` lines for every `true`/`false` given where a number is expected.

    Pydantic's lax mode reads `true` as 1 for an int field (so `tasks_per_table: true`
    would mean one task per table). Validating once more in strict mode finds exactly
    those fields: their strict errors are `int_type`/`float_type` with a bool input.
    Other strict-only errors (a list for a tuple, ...) are not problems and are ignored.
    """
    try:
        model.model_validate(data, strict=True)
    except ValidationError as exc:
        errors = exc.errors()
    except Exception:  # noqa: BLE001 - a validator that only copes with lax input; the lax pass is authoritative
        return []
    else:
        return []
    kinds: dict[str, set[str]] = {}
    values: dict[str, bool] = {}
    for e in errors:
        if e["type"] not in ("int_type", "float_type") or not isinstance(e.get("input"), bool):
            continue
        loc = list(e["loc"])
        while loc and isinstance(loc[-1], str) and loc[-1].split("[")[0] in _TYPE_TAGS:
            loc.pop()  # the union member pydantic tried (`budget.int`), not a field
        path = _path(prefix, loc)
        kinds.setdefault(path, set()).add(e["type"])
        values[path] = e["input"]
    return [
        f"{path}: expected {'a number' if 'float_type' in kinds[path] else 'an integer'}, got the boolean "
        f"{str(values[path]).lower()} (YAML reads true/false/yes/no/on/off as booleans)"
        for path in kinds
    ]


def new_paths(lines: list[str], more: list[str]) -> list[str]:
    """The lines of `more` whose field path has no line in `lines` yet."""
    seen = {line.split(": ", 1)[0] for text in lines for line in text.split("\n")}
    return [line for line in more if line.split(": ", 1)[0] not in seen]


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def nonsense_problems(data: dict[str, Any]) -> list[str]:
    """Values of the right type that make no run, as `path: problem` lines.

    Reads plain data (a validated config's dump, or the raw config when other fields
    failed validation, so these are reported together with every other error).
    """
    def section(name: str) -> dict[str, Any]:
        value = data.get(name)
        return value if isinstance(value, dict) else {}

    problems = []
    selection, export, engine = section("selection"), section("export"), section("engine")
    if _number(selection.get("budget")) == 0 and not isinstance(selection.get("budget"), float):  # 0.0 is refused as a fraction
        problems.append("selection.budget: 0 selects nothing; omit it to keep every record, or give a count >= 1 or a fraction in (0, 1]")
    name = export.get("dataset_name")
    if isinstance(name, str) and not name.strip():
        problems.append("export.dataset_name: must not be empty (it names the exported dataset)")
    for field in ("max_model_len", "max_num_seqs"):
        value = _number(engine.get(field))
        if value is not None and value < 1:
            problems.append(f"engine.{field}: must be >= 1 (got {value})")
    utilization = _number(engine.get("gpu_memory_utilization"))
    if utilization is not None and not 0 < utilization <= 1:
        problems.append(f"engine.gpu_memory_utilization: must be in (0, 1] (got {utilization})")
    return problems


_NULLS = ("~", "null", "Null", "NULL", "")


def add_places(message: str, path: str, lines: dict[tuple, int]) -> str:
    """Prefix each `  field.path: problem` line with `file:line:` of the nearest key the YAML has.

    Problem lines come out in the order of the file (those with no place last).
    """
    out, problems = [], []
    # Keys as the YAML text wrote them ("~", "1") and as the field paths print them ("None", 1): compare as text.
    places = {tuple("None" if k in _NULLS else str(k) for k in key): place for key, place in lines.items()}
    for line in message.split("\n"):
        field, sep, rest = line.strip().partition(": ")
        if not line.startswith("  ") or not sep:
            out.append(line.replace("invalid taskmill config:", f"invalid taskmill config {path}:"))
            continue
        # `generators.1 (self_guide).task_files` names generators.1.task_files
        keys = tuple(re.sub(r" \([^)]*\)", "", field).split(" ")[0].split("."))
        while keys and keys not in places:
            keys = keys[:-1]
        place = places[keys] if keys else None
        problems.append((place if place is not None else float("inf"), len(problems), f"  {path}:{place}: {field}: {rest}" if keys else line))
    return "\n".join(out + [text for *_, text in sorted(problems)])


def format_lines(lines: list[str]) -> str:
    """The `ConfigError` message for these problem lines (one per line, indented)."""
    return "invalid taskmill config:\n" + "\n".join(f"  {line}" for text in lines for line in text.split("\n"))
