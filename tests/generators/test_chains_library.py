"""CoI task library (SNI, YAML, other stages' records) and `from_generators` ordering."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from generators.chains import CoiConfig, CoiGenerator
from generators.chains.library import load_task_file, tasks_from_records
from generators.chains.upstream import run_order, upstream_records
from taskmill.config import ConfigError, parse_config

EXAMPLE_TASKS = "examples/tasks/self_guide_tasks.yaml"


def sni(tmp_path, name, categories, outputs, language="English"):
    data = {
        "Definition": ["Given a sentence, do the thing."],
        "Categories": categories,
        "Input_language": [language],
        "Output_language": [language],
        "Positive Examples": [{"input": "pos in", "output": outputs[0], "explanation": "."}],
        "Instances": [{"id": f"{name}-{i}", "input": f"in {i}", "output": [o]} for i, o in enumerate(outputs)],
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_sni_files_kinds_languages_and_instances(tmp_path):
    labels = sni(tmp_path, "task100_nli", ["Textual Entailment"], ["yes", "no"] * 8)
    free = sni(tmp_path, "task200_para", ["Paraphrasing"], [f"sentence {i}" for i in range(15)])
    code = sni(tmp_path, "task300_code", ["Code to Text"], [f"it adds {i}" for i in range(3)])
    german = sni(tmp_path, "task400_de", ["Paraphrasing"], ["a", "b"], language="German")
    (t1,), _ = load_task_file(labels, 10, ["English"])
    assert t1.output_kind == "label" and t1.category == "textual_entailment" and len(t1.instances) == 10
    (t2,), _ = load_task_file(free, 10, ["English"])
    assert t2.output_kind == "text" and t2.input_kind == "text" and t2.instruction == "Given a sentence, do the thing."
    assert all(i.id.startswith("task200_para-") or i.id is None for i in t2.instances)
    (t3,), _ = load_task_file(code, 10, ["English"])
    assert t3.input_kind == "code" and t3.output_kind == "text"
    skipped, notes = load_task_file(german, 10, ["English"])
    assert skipped == [] and "Input_language" in notes[0]
    gen = CoiGenerator(CoiConfig(task_files=[labels, free, german]), 1)
    shards = gen.plan_shards([])
    assert [s["category"] for s in shards] == ["paraphrasing", "textual_entailment"]


def test_yaml_and_self_guide_files_load(tmp_path):
    tasks, _ = load_task_file(EXAMPLE_TASKS, 10, ["English"])
    by_id = {t.id: t for t in tasks}
    assert by_id["review_sentiment"].output_kind == "label"
    assert by_id["headline_writing"].output_kind == "text" and len(by_id["headline_writing"].instances) == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  - id: ok\n    instruction: Do it.\n    instances: [{input: a, output: b}]\n  - id: broken\n    instruction: x\n")
    with pytest.raises(ValueError, match=r"bad.yaml:5: tasks\[1\].instances: Field required"):
        load_task_file(str(bad), 10, ["English"])
    with pytest.raises(ValueError, match="no file at"):
        load_task_file(str(tmp_path / "missing.yaml"), 10, ["English"])


def test_tasks_from_other_generators_records():
    shared = "Write a short headline for the paragraph."
    records = [
        {"id": f"self_guide-{i}", "method": "self_guide", "instruction": shared, "input": f"para {i}", "output": f"head {i}",
         "meta": {"task": "headlines"}}
        for i in range(3)
    ] + [
        {"id": "bonito-1", "method": "bonito", "instruction": "Passage: ... Is the sky green?", "input": "", "output": "No.",
         "meta": {"task_type": "ynqa"}},
        {"id": "sql_exec-1", "method": "sql_exec", "instruction": "table ...", "input": "", "output": "3, 5", "meta": {}},
    ]  # fmt: skip
    tasks = {t.category: t for t in tasks_from_records("gen", records, 10)}
    assert tasks["gen:headlines"].first_only is False and [i.id for i in tasks["gen:headlines"].instances] == [
        "self_guide-0", "self_guide-1", "self_guide-2"
    ]
    assert tasks["gen:ynqa"].first_only is True
    assert tasks["gen:sql_exec"].output_kind == "structured"
    tagged = upstream_records(SimpleNamespace(from_generators=["gen"]), lambda name: records)
    gen = CoiGenerator(CoiConfig(from_generators=["gen"]), 1)
    assert {s["category"] for s in gen.plan_shards(tagged)} == {"gen:headlines", "gen:ynqa", "gen:sql_exec"}


def g(name, method="bonito", **kw):
    return SimpleNamespace(name=name, method=method, **kw)


def test_run_order_moves_chains_after_their_sources():
    gens = [g("coi", "coi", from_generators=["sg", "bonito"]), g("bonito"), g("sg", "self_guide")]
    assert [x.name for x in run_order(gens)] == ["sg", "bonito", "coi"]
    assert [x.name for x in run_order([g("a"), g("b")])] == ["a", "b"]
    with pytest.raises(ValueError, match="generators.0.from_generators: no generator named 'nope'"):
        run_order([g("coi", "coi", from_generators=["nope"])])
    with pytest.raises(ValueError, match="makes chains"):
        run_order([g("c1", "coi", from_generators=["c2"]), g("c2", "coi", from_generators=[])])


def test_config_validation_names_from_generators_field():
    base = {"generators": [{"method": "coi", "from_generators": ["bonitoo"]}, {"method": "bonito", "tasks": {"ynqa": 1}}]}
    with pytest.raises(ConfigError, match="generators.0.from_generators: no generator named 'bonitoo'"):
        parse_config(base)
    base["generators"][0]["from_generators"] = ["bonito"]
    cfg = parse_config(base)
    assert [x.name for x in run_order(cfg.generators)] == ["bonito", "coi"]
    with pytest.raises(ConfigError, match="share \\[3\\]"):
        parse_config({"generators": [{"method": "coi", "tasks": [], "task_files": ["x"], "test_lengths": [3]}]})


def test_malformed_task_files_fail_validation_with_the_file_named(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"Definition": ["x"], "Instances": [')
    with pytest.raises(ConfigError, match="broken.json: not valid JSON"):
        parse_config({"generators": [{"method": "coi", "task_files": [str(broken)]}]})
    partial = tmp_path / "task9_partial.json"
    partial.write_text(json.dumps({"Definition": "Do it.", "Instances": [{"id": "a", "input": "x", "output": ["y"]}, {"input": "z"}]}))
    with pytest.raises(ConfigError, match=r"task9_partial.json: Instances\[1\] needs `input` and `output`"):
        parse_config({"generators": [{"method": "coi", "task_files": [str(partial)]}]})
    empty = tmp_path / "task10_empty.json"
    empty.write_text(json.dumps({"Definition": "Do it.", "Instances": [{"input": "x", "output": []}]}))
    assert load_task_file(str(empty), 10, ["English"]) == ([], [f"{empty}: no instance with a non-empty input and output"])
