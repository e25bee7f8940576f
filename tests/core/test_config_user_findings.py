"""A new user's findings: list/mapping shapes, field-level selection errors, mixture names, task files."""

from __future__ import annotations

import json
import textwrap

import pytest

from taskmill.config import ConfigError, load_config, parse_config
from taskmill.preflight import preflight

DOCS = [{"kind": "pydoc_topics", "limit": 1}]


def _error(data) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    return str(err.value)


def _preflight_error(cfg) -> str:
    with pytest.raises(ConfigError) as err:
        preflight(cfg)
    return str(err.value)


def test_bonito_tasks_as_a_list_of_names_and_every_mixed_form():
    """`tasks: [qa, ynqa]` failed with 'Input should be a valid dictionary or instance of BonitoTask'."""
    listed = parse_config({"sources": DOCS, "generators": [{"method": "bonito", "tasks": ["qa", "ynqa"]}]})
    assert [(t.type, t.count, t.temperature) for t in listed.generators[0].tasks] == [
        ("question answering without choices", None, None), ("yes-no question answering", None, None)]  # fmt: skip
    mixed = ["qa", {"ynqa": 2}, {"type": "nli", "count": 1}, {"summarization": {"count": 3, "temperature": 0.1}}]
    tasks = parse_config({"sources": DOCS, "generators": [{"method": "bonito", "tasks": mixed}]}).generators[0].tasks
    assert [(t.type, t.count, t.temperature) for t in tasks] == [
        ("question answering without choices", None, None), ("yes-no question answering", 2, None),
        ("natural language inference", 1, None), ("summarization", 3, 0.1)]  # fmt: skip
    single = parse_config({"sources": DOCS, "generators": [{"method": "bonito", "tasks": "qa"}]}).generators[0].tasks
    assert [t.type for t in single] == ["question answering without choices"]
    mapping = parse_config({"sources": DOCS, "generators": [{"method": "bonito", "tasks": {"qa": 5}}]}).generators[0].tasks
    assert [(t.type, t.count) for t in mapping] == [("question answering without choices", 5)]


@pytest.mark.parametrize("tasks", [["qa", "ynqaa"], {"qa": 1, "ynqaa": 2}, [{"ynqaa": 2}]])
def test_an_unknown_bonito_name_gets_did_you_mean_in_every_form(tasks):
    message = _error({"sources": DOCS, "generators": [{"method": "bonito", "tasks": tasks}]})
    assert "unknown Bonito task type 'ynqaa' (did you mean 'ynqa'?)" in message
    assert "(got 'ynqaa')" not in message  # the value is said once
    assert message.count("\n") == 1  # one problem, one line


def test_wrong_yaml_shapes_say_which_shape_fits():
    assert "sources: expected a list; for one item, put `- ` before its first key" in _error(
        {"sources": {"kind": "text", "path": "docs"}, "generators": [{"method": "sql_exec"}]})  # fmt: skip
    assert "export.formats: expected a list, got the single value 'messages'; write [messages]" in _error(
        {"generators": [{"method": "sql_exec"}], "export": {"formats": "messages"}})  # fmt: skip
    message = _error({"generators": [{"method": "sql_exec", "sources": ["a.csv"]}]})
    assert "generators.0.sources.0: expected a mapping of fields (path, kind, tables, name, delimiter, column_types, ...), got the single value 'a.csv'" in message


def test_model_level_errors_name_the_field(tmp_path):
    """`selection: zipfit.targets must list…` named a section, not the field."""
    config = tmp_path / "c.yaml"
    config.write_text("generators: [{method: sql_exec}]\nselection:\n  method: zipfit\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(config))
    assert f"{config}:2: selection.zipfit.targets: must list target texts" in str(err.value)
    assert "selection.mixture.weights: required when strategy='weights'" in _error(
        {"generators": [{"method": "sql_exec"}], "selection": {"mixture": {"strategy": "weights"}}})  # fmt: skip
    assert "generators.0.sources: give at least one table source or set bundled: true" in _error(
        {"generators": [{"method": "sql_exec", "bundled": False}]})  # fmt: skip
    repeated = _error({"sources": DOCS, "generators": [{"method": "bonito", "tasks": ["qa", "question answering without choices"]}]})
    assert "generators.0.tasks: task type listed more than once: ['question answering without choices']" in repeated


def test_mixture_weights_and_caps_must_name_tasks_of_the_run(tmp_path):
    """`weights: {foo: 1.0}` passed `validate`; the task names come from the config's generators."""
    config = tmp_path / "c.yaml"
    config.write_text(textwrap.dedent("""
        sources: [{kind: pydoc_topics, limit: 2}]
        generators:
          - {method: bonito, tasks: [qa, ynqa]}
          - {method: sql_exec, name: tables}
        selection:
          mixture:
            strategy: weights
            weights:
              yes-no question answering: 1
              sql_exce: 2
              qa: 1
              tables: 1
              sql_exec/inverted: 0.5
            caps: {sifo_chain: 3}
    """))
    message = _preflight_error(load_config(str(config)))
    tasks = "tasks: question answering without choices, yes-no question answering, sql_exec"
    assert f"{config}:11: selection.mixture.weights.sql_exce: no task of this run is named 'sql_exce' (did you mean 'sql_exec'?); {tasks}" in message
    assert f"{config}:12: selection.mixture.weights.qa: no task of this run is named 'qa' (did you mean 'question answering without choices'?" in message
    assert "selection.mixture.weights.tables: no task of this run is named 'tables' (generator 'tables' is a stage name; its records are mixed as 'sql_exec')" in message
    assert f"{config}:15: selection.mixture.caps.sifo_chain: no task of this run is named 'sifo_chain'" in message
    assert "yes-no question answering:" not in message and "inverted" not in message  # known names pass
    assert len(message.strip().splitlines()) == 5


def test_mixture_names_of_self_guide_tasks_come_from_the_task_files(tmp_path):
    tasks = tmp_path / "t.yaml"
    tasks.write_text("- {name: greet, instruction: Say hi., examples: [{input: a, output: hi a}]}\n")
    base = {"generators": [{"method": "self_guide", "task_files": [str(tasks)]}]}
    preflight(parse_config({**base, "selection": {"mixture": {"strategy": "weights", "weights": {"greet": 1}}}}))
    message = _preflight_error(parse_config({**base, "selection": {"mixture": {"strategy": "weights", "weights": {"gret": 1}}}}))
    assert "selection.mixture.weights.gret: no task of this run is named 'gret' (did you mean 'greet'?); tasks: greet" in message


def test_every_bad_entry_of_a_task_file_is_reported_with_its_line(tmp_path):
    """Only the first error per file was reported."""
    text = textwrap.dedent("""\
        tasks:
          - name: sent
            instruction: Give the sentiment.
            labels: [pos, neg]
            examples:
              - {input: good, output: pos}
              - {input: bad, output: nope}
          - name: sent
            instruction: ""
          - just a string
          - name: ok
            instruction: Fine.
            examples: [{input: a, output: b}]
          - name: ok
            instruction: Again.
            examples: [{input: a, output: b}]
    """)
    yaml_file = tmp_path / "st.yaml"
    yaml_file.write_text(text)
    import yaml

    json_file = tmp_path / "st.json"
    json_file.write_text(json.dumps(yaml.safe_load(text), indent=1))
    cfg = parse_config({"generators": [{"method": "self_guide", "task_files": [str(yaml_file), str(json_file)]}]})
    lines = _preflight_error(cfg).splitlines()[1:]
    where = "generators.0 (self_guide).task_files: "
    assert lines[:5] == [
        f"  {where}{yaml_file}:2: tasks[0] (sent): example outputs ['nope'] contain none of the labels ['pos', 'neg']",
        f"  {where}{yaml_file}:8: tasks[1] (sent).examples: Field required",
        f"  {where}{yaml_file}:9: tasks[1] (sent).instruction: String should have at least 1 character",
        f"  {where}{yaml_file}:10: tasks[2]: a task is a mapping with name, instruction, examples; got str",
        f"  {where}{yaml_file}:14: tasks[4] (ok).name: task names must be unique; 'ok' is also tasks[3]",
    ]
    assert len(lines) == 10 and all(f"{json_file}:" in line for line in lines[5:])  # JSON files get lines too
    assert f"{json_file}:3: tasks[0] (sent): example outputs ['nope']" in lines[5]


def test_coi_task_files_report_every_bad_entry_and_file(tmp_path):
    bad = tmp_path / "coi.yaml"
    bad.write_text("tasks:\n  - id: a\n    instruction: Say it.\n  - id: b\n    instruction: Do it.\n    instances: [{input: x, output: y}]\n  - id: c\n")
    message = _error({"generators": [{"method": "coi", "task_files": [str(bad), str(tmp_path / "nope.json")]}]})
    assert message.splitlines()[1:] == [
        f"  generators.0.task_files: {bad}:2: tasks[0].instances: Field required",
        f"  generators.0.task_files: {bad}:7: tasks[2].instruction: Field required",
        f"  generators.0.task_files: {bad}:7: tasks[2].instances: Field required",
        f"  generators.0.task_files: no file at '{tmp_path / 'nope.json'}'",
    ]


def test_misspelt_names_in_generator_lists_get_did_you_mean():
    message = _error({"sources": DOCS, "generators": [{"method": "sifo_chain", "ops": ["replace", "delte", "uper"]}]})
    assert "generators.0.ops: unknown operations 'delte' (did you mean 'delete'?), 'uper' (did you mean 'upper'?); allowed: replace," in message
    message = _error({"generators": [{"method": "sql_exec", "shape_weights": {"agregate": 1.0}}]})
    assert "generators.0.shape_weights: unknown shapes 'agregate' (did you mean 'aggregate'?); allowed: project, aggregate," in message
    message = _error({"sources": DOCS, "generators": [{"method": "coi", "from_generators": ["bonitto"]}, {"method": "bonito", "tasks": ["qa"]}]})
    assert "did you mean 'bonito'?" in message
