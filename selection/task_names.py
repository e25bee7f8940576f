"""The task names a run's records will carry, known from its config before any generation.

Selection mixes per task (`selection.mixture.task_of`: meta["task"], else meta["task_type"],
else the record's method), and `mixture.weights` / `mixture.caps` are keyed by those names.
A key that names no task would silently weigh nothing (or fail only after generation), so
`taskmill validate` refuses it with the closest known name.
"""

from __future__ import annotations

from typing import Any

from selection.mixture import INVERTED_SUFFIX
from taskmill.suggest import hint


def known_tasks(generators: list[Any]) -> list[str] | None:
    """Mixing-unit names the generators' records carry, in config order; None when some cannot be known.

    Bonito records carry their task type's full name, Self-Guide records their task spec's
    name (task files are read), every other generator its method name. Raises what
    `SelfGuideConfig.load_tasks` raises for an unreadable task file.
    """
    names: list[str] = []
    for gen in generators:
        if gen.method == "bonito":
            names += [task.type for task in gen.tasks]
        elif gen.method == "self_guide":
            names += [task.name for task in gen.load_tasks()]
        else:
            names.append(gen.method)
    return list(dict.fromkeys(names))


def unknown_task_keys(field: str, keys: list[str], tasks: list[str], generators: list[Any] = ()) -> list[str]:
    """`selection.mixture.<field>.<key>: ...` lines for keys that name no task of the run.

    A key that is a generator's stage name (not its task) is told which task names its records carry.
    """
    stages = {gen.name: gen for gen in generators if gen.name}
    from generators.bonito.protocol import TASK_TYPES

    allowed = tasks + [t + INVERTED_SUFFIX for t in tasks]
    problems = []
    for key in keys:
        if key in allowed:
            continue
        if key in TASK_TYPES and TASK_TYPES[key] in tasks:  # records carry the full name, not the code
            suggestion = f" (did you mean {TASK_TYPES[key]!r}? Bonito records carry the full task type name)"
        elif key in stages:
            own = known_tasks([stages[key]])
            suggestion = f" (generator {key!r} is a stage name; its records are mixed as {', '.join(map(repr, own))})"
        else:
            suggestion = hint(key, allowed)
        problems.append(
            f"selection.mixture.{field}.{key}: no task of this run is named {key!r}{suggestion}; "
            f"tasks: {', '.join(tasks)}"
        )
    return problems
