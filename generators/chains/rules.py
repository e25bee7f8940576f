"""Composability heuristics, applied before any LLM call (CoI paper §3; appendix rules inferred).

- A closed-label task (classification, tagging, detection) only in the last slot.
- A task whose output is not free text (code, table, a structured answer) only
  in the last slot, unless the next task takes exactly that kind of input.
- A task that needs a special input (code, a table) only after a producer of it.
- A task whose instruction carries its own input only in the first slot.
- No task twice in one chain.
"""

from __future__ import annotations

from typing import Sequence

from generators.chains.library import ChainTask


def slot_problem(tasks: Sequence[ChainTask]) -> str | None:
    """Why this sequence of tasks cannot be a chain, or None when the heuristics allow it."""
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        return "a task appears twice in the chain"
    for i, task in enumerate(tasks):
        last = i == len(tasks) - 1
        if i > 0 and task.first_only:
            return f"task {task.id} carries its own input, so it can only be the first step"
        if not last and task.output_kind == "label":
            return f"task {task.id} ({task.category}) answers with a closed label, so it can only be the last step"
        if not last and task.output_kind != "text" and tasks[i + 1].input_kind != task.output_kind:
            return f"task {task.id} outputs {task.output_kind}, which task {tasks[i + 1].id} does not take as input"
        if i > 0 and task.input_kind != "text" and tasks[i - 1].output_kind != task.input_kind:
            return f"task {task.id} needs {task.input_kind} input, which task {tasks[i - 1].id} does not produce"
    return None
