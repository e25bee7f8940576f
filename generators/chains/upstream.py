"""Generators that draw on other generators' records (`from_generators`): run order and inputs.

A chain generator with `from_generators: [bonito, self_guide]` builds its task
library from the kept records of those stages, so the flow runs it after them.
`run_order` gives that order (config order otherwise) and names the bad field
when a name is unknown or the references form a cycle.
"""

from __future__ import annotations

from typing import Any, Callable

from taskmill.suggest import hint

CHAIN_METHODS = ("coi", "sifo_chain")


def run_order(generators: list[Any]) -> list[Any]:
    """Generators in config order, each moved after the stages its `from_generators` names."""
    names = [g.name or g.method for g in generators]
    position = {name: i for i, name in enumerate(names)}
    for index, gen in enumerate(generators):
        for ref in getattr(gen, "from_generators", None) or []:
            if ref not in position:
                raise ValueError(f"generators.{index}.from_generators: no generator named {ref!r}{hint(ref, names)}; names: {names}")
            if ref == names[index]:
                raise ValueError(f"generators.{index}.from_generators: a generator cannot draw on itself")
            if generators[position[ref]].method in CHAIN_METHODS:
                raise ValueError(f"generators.{index}.from_generators: {ref!r} makes chains; name single-task generators")
    ordered: list[Any] = []
    visiting: set[str] = set()

    def visit(index: int) -> None:
        name = names[index]
        if any(g is generators[index] for g in ordered):
            return
        if name in visiting:
            raise ValueError(f"generators.{index}.from_generators: the references form a cycle through {name!r}")
        visiting.add(name)
        for ref in getattr(generators[index], "from_generators", None) or []:
            visit(position[ref])
        visiting.discard(name)
        ordered.append(generators[index])

    for index in range(len(generators)):
        visit(index)
    return ordered


def upstream_records(gen: Any, read_stage: Callable[[str], list[dict]]) -> list[dict]:
    """The kept records of every stage `gen.from_generators` names, each tagged with its `stage`."""
    records = []
    for name in getattr(gen, "from_generators", None) or []:
        records += [{**record, "stage": name} for record in read_stage(name)]
    return records
