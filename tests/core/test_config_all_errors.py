"""Every config problem at once, each naming its field (and `file:line`); true/false refused for numbers."""

from __future__ import annotations

import copy
import textwrap
import types
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from taskmill.config import ConfigError, RunConfig, load_config, parse_config

SQL = {"method": "sql_exec", "tasks_per_table": 2}
# The smallest valid generator of each method, and the smallest item of each list-of-sections field.
GENERATORS = {
    "bonito": {"method": "bonito", "tasks": [{"type": "qa"}]},
    "self_guide": {"method": "self_guide"},
    "sql_exec": {"method": "sql_exec", "sources": [{"path": "t.csv"}]},
    "coi": {"method": "coi"},
    "sifo_chain": {"method": "sifo_chain"},
}
ITEMS = {"SourceConfig": {"kind": "pydoc_topics"}, "BonitoTask": {"type": "qa"}, "TableSource": {"path": "t.csv"}, "EvalSet": {"name": "e"}}


def _flat(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _flat(arg)]
    if get_origin(annotation) is Annotated:
        return _flat(get_args(annotation)[0])
    return [annotation]


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _numeric_fields(model: type[BaseModel], prefix: tuple, found: list[tuple]) -> None:
    """Paths of every int/float field (not also bool) under `model`, list items at index 0."""
    for name, field in model.model_fields.items():
        path, members = prefix + (name,), _flat(field.annotation)
        if bool not in members and any(m in (int, float) for m in members):
            found.append(path)
            continue
        for member in members:
            if _is_model(member):
                _numeric_fields(member, path, found)
            elif get_origin(member) is list and get_args(member):
                item = get_args(member)[0]
                if _is_model(item) and item.__name__ in ITEMS:
                    _numeric_fields(item, path + (0,), found)
                elif any(m in (int, float) for m in _flat(item)) and bool not in _flat(item):
                    found.append(path + (0,))


def _every_numeric_field() -> list[tuple[dict, tuple]]:
    from filters import CurationConfig
    from generators.base import load_generator_class
    from selection import SelectionConfig

    cases: list[tuple[dict, tuple]] = []
    top: list[tuple] = []
    _numeric_fields(RunConfig, (), top)
    cases += [({"generators": [SQL]}, path) for path in top]
    for section, model in (("curation", CurationConfig), ("selection", SelectionConfig)):
        paths: list[tuple] = []
        _numeric_fields(model, (section,), paths)
        cases += [({"generators": [SQL]}, path) for path in paths]
    for method, generator in GENERATORS.items():
        paths = []
        _numeric_fields(load_generator_class(method).Config, ("generators", 0), paths)
        cases += [({"generators": [generator]}, path) for path in paths]
    return cases


LIST_ITEMS = {"sources": ITEMS["SourceConfig"], "evals": ITEMS["EvalSet"]}  # list fields a base config leaves out


def _set(data: dict, path: tuple, value: Any) -> dict:
    """A copy of `data` with `value` at `path`, creating the sections (and one list item) on the way."""
    data = copy.deepcopy(data)
    node: Any = data
    for key, nxt in zip(path, path[1:]):
        if isinstance(node, dict) and node.get(key) is None:
            node[key] = [dict(LIST_ITEMS.get(key, {}))] if nxt == 0 else {}
        node = node[key]
    node[path[-1]] = value
    return data


def test_every_number_field_refuses_true_and_false_naming_the_field():
    cases = _every_numeric_field()
    assert len(cases) > 100, "the walk should reach every section's number fields"
    assert ({"generators": [GENERATORS["sql_exec"]]}, ("generators", 0, "tasks_per_table")) in cases
    missed = []
    for base, path in cases:
        name = ".".join(map(str, path))
        for value in (True, False):
            try:
                parse_config(_set(base, path, value))
            except ConfigError as exc:
                if f"  {name}: expected " not in str(exc) or f"got the boolean {str(value).lower()}" not in str(exc):
                    missed.append((name, value, str(exc)[:300]))
            else:
                missed.append((name, value, "accepted"))
    assert not missed, missed[:5]


def test_tasks_per_table_true_names_the_field_and_says_integer():
    with pytest.raises(ConfigError) as err:
        parse_config({"generators": [{"method": "sql_exec", "tasks_per_table": True}]})
    assert str(err.value).splitlines() == [
        "invalid taskmill config:",
        "  generators.0.tasks_per_table: expected an integer, got the boolean true (YAML reads true/false/yes/no/on/off as booleans)",
    ]


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"generators": [{"method": "bonito", "tasks": {"qa": True}}]}, "generators.0.tasks.0.count: expected an integer"),
        ({"generators": [SQL], "selection": {"budget": True}}, "selection.budget: expected a number, got the boolean true"),
        ({"generators": [SQL], "engine": {"gpu_memory_utilization": False}}, "engine.gpu_memory_utilization: expected a number, got the boolean false"),
        ({"generators": [SQL], "sources": [{"kind": "pydoc_topics", "limit": False}]}, "sources.0.limit: expected an integer, got the boolean false"),
        ({"generators": [{**SQL, "shape_weights": {"project": True}}]}, "generators.0.shape_weights.project: expected a number, got the boolean true"),
        ({"generators": [SQL], "selection": {"mixture": {"strategy": "weights", "weights": {"t": True}}}}, "selection.mixture.weights.t: expected a number"),
        ({"generators": [SQL], "curation": {"priority": {"bonito": False}}}, "curation.priority.bonito: expected an integer, got the boolean false"),
    ],
)
def test_a_bool_for_a_number_is_one_line_not_also_a_range_error(data, line):
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    lines = str(err.value).splitlines()[1:]
    assert len(lines) == 1 and lines[0].startswith(f"  {line}")


def test_bools_stay_fine_where_the_field_is_a_bool():
    cfg = parse_config({"generators": [{**SQL, "shard_size": 3}], "export": {"hf_dataset": False}, "engine": {"enforce_eager": False}})
    assert cfg.export.hf_dataset is False and cfg.engine.enforce_eager is False


def test_unknown_key_and_budget_zero_are_both_reported():
    with pytest.raises(ConfigError) as err:
        parse_config({"generators": [SQL], "selecton": {}, "selection": {"budget": 0}})
    assert str(err.value).splitlines()[1:] == [
        "  selecton: unknown field 'selecton' (did you mean 'selection'?)",
        "  selection.budget: 0 selects nothing; omit it to keep every record, or give a count >= 1 or a fraction in (0, 1]",
    ]


def test_errors_of_every_generator_and_section_come_in_one_report():
    with pytest.raises(ConfigError) as err:
        parse_config({
            "generators": [{**SQL, "renderr": "tapex"}, {"method": "bonito", "tasks": {"qa": True}}, {"method": "nope"}, "sql_exec"],
            "selection": {"budget": 0},
            "engine": {"max_model_len": 0, "max_num_seqs": -1},
            "export": {"dataset_name": " "},
            "seed": "x",
        })  # fmt: skip
    lines = str(err.value).splitlines()[1:]
    expected = [
        "generators.0.renderr: unknown field 'renderr' (did you mean 'renderer'?)",
        "generators.1.tasks.0.count: expected an integer, got the boolean true",
        "generators.2.method: unknown generator method 'nope'",
        "generators.3: each generator is a mapping with a `method`",
        "selection.budget: 0 selects nothing",
        "engine.max_model_len: must be >= 1 (got 0)",
        "engine.max_num_seqs: must be >= 1 (got -1)",
        "export.dataset_name: must not be empty",
        "seed: Input should be a valid integer, unable to parse string as an integer (got 'x')",
    ]
    for text in expected:
        assert sum(line.startswith(f"  {text}") for line in lines) == 1, (text, lines)
    assert len(lines) == len(expected)


def test_the_nonsense_checks_still_run_on_a_config_that_is_otherwise_valid():
    with pytest.raises(ConfigError) as err:
        parse_config({"generators": [SQL], "selection": {"budget": 0}, "engine": {"gpu_memory_utilization": 1.5}})
    assert str(err.value).splitlines()[1:] == [
        "  selection.budget: 0 selects nothing; omit it to keep every record, or give a count >= 1 or a fraction in (0, 1]",
        "  engine.gpu_memory_utilization: must be in (0, 1] (got 1.5)",
    ]


def test_errors_from_a_file_carry_file_and_line_in_file_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent("""\
        name: x
        seed: yes
        generators:
          - method: sql_exec
            tasks_per_table: true
          - method: bonito
            tasks: {qa: 0}
        selection:
          budget: 0
        exprot: {}
    """))
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert str(err.value).splitlines() == [
        f"invalid taskmill config {path}:",
        f"  {path}:2: seed: expected an integer, got the boolean true (YAML reads true/false/yes/no/on/off as booleans)",
        f"  {path}:5: generators.0.tasks_per_table: expected an integer, got the boolean true (YAML reads true/false/yes/no/on/off as booleans)",
        f"  {path}:7: generators.1.tasks.0.count: Input should be greater than or equal to 1 (got 0)",
        f"  {path}:9: selection.budget: 0 selects nothing; omit it to keep every record, or give a count >= 1 or a fraction in (0, 1]",
        f"  {path}:10: exprot: unknown field 'exprot' (did you mean 'export'?)",
    ]


def test_the_value_is_not_echoed_twice_when_the_message_already_says_it():
    with pytest.raises(ConfigError) as err:
        parse_config({"generators": [SQL], "selection": {"budget": 1.5}, "sources": [{"kind": "pydoc_topics", "limit": -1}]})
    assert sorted(str(err.value).splitlines()[1:]) == [
        "  selection.budget: budget fraction must be in (0, 1], got 1.5",
        "  sources.0.limit: Input should be greater than or equal to 1 (got -1)",
    ]


def test_an_unknown_from_generators_name_points_at_its_own_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("sources: [{kind: pydoc_topics, limit: 3}]\ngenerators:\n  - method: coi\n    from_generators: [bonitto]\n  - method: bonito\n    tasks: {qa: 2}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert str(err.value).splitlines()[1] == f"  {path}:4: generators.0.from_generators: no generator named 'bonitto' (did you mean 'bonito'?); names: ['coi', 'bonito']"
