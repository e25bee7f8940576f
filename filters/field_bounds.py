"""Field values cut by their structured-output length bound. [ours; issue 10]

Under structured output the JSON schema's `maxLength` stops a string field; the
model then closes the JSON, so the completion ends with finish_reason `stop`
although the text was cut mid-word ("... The class’"). A field whose value
reaches its bound (within `field_truncation_slack` characters) is taken as cut:
reject `field_truncated` with the field, its length and the bound.

The bounds are read from the generator's own schemas, so they follow any change
there: Bonito "fields" mode (generators/bonito/fields.py FORMS, per task type,
list items included) and the whole-pair "json" mode (generators/bonito/prompted.py
RESPONSE_SCHEMA, checked on the response).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # task_form imports this module: no import cycle at run time
    from filters.task_form import TaskFormConfig, TaskView, Verdict


def _bounded(value: Any, schema: dict, name: str) -> Iterator[tuple[str, str, int]]:
    """(field name, text, maxLength) for every bounded string in `value` under `schema`."""
    if isinstance(value, str) and isinstance(schema.get("maxLength"), int):
        yield name, value, schema["maxLength"]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from _bounded(item, schema["items"], f"{name}[{i}]")


def field_bounds(v: "TaskView") -> Iterator[tuple[str, str, int]]:
    if v.method != "bonito":
        return
    if v.fields is not None:
        from generators.bonito.fields import FORMS

        form = FORMS.get(v.task_type or "")
        for name, schema in (form.fields if form else {}).items():
            if name in v.fields:
                yield from _bounded(v.fields[name], schema, name)
    elif "json" in str(v.mode or ""):
        from generators.bonito.prompted import RESPONSE_SCHEMA

        yield from _bounded(v.answer, RESPONSE_SCHEMA["properties"]["response"], "response")


def check_field_truncated(v: "TaskView", cfg: "TaskFormConfig") -> "Verdict":
    """A field whose length reaches its schema maxLength (minus the slack) was cut by the bound."""
    if cfg.field_truncation_slack is None:
        return None
    for name, text, bound in field_bounds(v):
        if len(text) >= bound - cfg.field_truncation_slack:
            return "field_truncated", {"field": name, "chars": len(text), "max_length": bound}
    return None


__all__ = ["check_field_truncated", "field_bounds"]
