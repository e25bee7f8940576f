"""Malformed task files and configs for the fuzz suite (see `tests/fuzz/cases.py`)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import yaml

from tests.fuzz.cases import GOOD_DOCS, Case, _mutate_bytes


GOOD_TASK = {
    "name": "sentiment",
    "instruction": "Say whether the review is positive or negative.",
    "labels": ["positive", "negative"],
    "examples": [{"input": "Great kettle.", "output": "positive"}, {"input": "It broke.", "output": "negative"}],
}


def task_cases(root: Path, rng: random.Random) -> list[Case]:
    base = root / "tasks"
    base.mkdir()
    cases = []

    def add(name: str, data: Any, suffix: str = ".yaml", units: int | None = None) -> None:
        path = base / f"{name}{suffix}"
        if isinstance(data, bytes):
            path.write_bytes(data)
        elif isinstance(data, str):
            path.write_text(data)
        else:
            path.write_text(yaml.safe_dump(data) if suffix == ".yaml" else json.dumps(data))
        cases.append(Case("task_file", f"task:{name}", str(path), {}, units))

    field_edits = {
        "no_name": lambda t: t.pop("name"), "no_instruction": lambda t: t.pop("instruction"),
        "no_examples": lambda t: t.pop("examples"), "empty_examples": lambda t: t.update(examples=[]),
        "examples_int": lambda t: t.update(examples=5), "examples_strings": lambda t: t.update(examples=["a", "b"]),
        "example_missing_output": lambda t: t["examples"][0].pop("output"),
        "example_extra_field": lambda t: t["examples"][0].update(weight=1),
        "example_output_list": lambda t: t["examples"][0].update(output=["a"]),
        "labels_repeated": lambda t: t.update(labels=["a", "a"]), "labels_string": lambda t: t.update(labels="positive"),
        "classification_no_labels": lambda t: (t.pop("labels"), t.update(task_type="classification")),
        "bad_task_type": lambda t: t.update(task_type="regression"), "name_empty": lambda t: t.update(name=""),
        "instruction_null": lambda t: t.update(instruction=None), "unknown_key": lambda t: t.update(instrucion="x"),
        "blocks_without_markers": lambda t: t.update(examples="no blocks here"),
    }  # fmt: skip
    for name, edit in field_edits.items():
        for suffix in (".yaml", ".json"):
            task = json.loads(json.dumps(GOOD_TASK))
            edit(task)
            tasks = [json.loads(json.dumps(GOOD_TASK | {"name": "other"})), task]
            rng.shuffle(tasks)
            add(f"{name}{suffix.replace('.', '-')}", {"tasks": tasks}, suffix, 2)
    shapes = {
        "top_list": [GOOD_TASK], "top_string": "just a string", "top_number": 3, "tasks_null": {"tasks": None},
        "tasks_dict": {"tasks": GOOD_TASK}, "tasks_empty": {"tasks": []}, "tasks_of_strings": {"tasks": ["a", "b"]},
        "duplicate_names": {"tasks": [GOOD_TASK, GOOD_TASK]},
    }  # fmt: skip
    for name, data in shapes.items():
        add(name, data)
    raw = {
        "syntax": "tasks:\n  - name: [unclosed\n", "tab_indent": "tasks:\n\t- name: x\n", "empty": "",
        "duplicate_key": "tasks:\n  - name: a\n    name: b\n", "alias_bomb": "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
        + "".join(f"a{i}: &a{i} [" + ",".join(["*a" if i == 1 else f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9)),
        "control_char": "tasks:\n  - name: \x07\n",
    }  # fmt: skip
    for name, text in raw.items():
        add(name, text)
    add("bad_utf8", b"tasks:\n  - name: caf\xe9\n")
    add("json_syntax", '{"tasks": [', ".json")
    add("json_deep", "[" * 100_000 + "]" * 100_000, ".json")
    sni = {"Definition": ["Answer the question."], "Positive Examples": [{"input": "q", "output": "a"}], "Instances": [{"input": "q2", "output": ["b"]}]}
    sni_edits = {
        "no_definition": lambda d: d.pop("Definition"), "definition_int": lambda d: d.update(Definition=5),
        "positives_missing": lambda d: d.pop("Positive Examples"), "positives_dict": lambda d: d.update({"Positive Examples": {"input": "q"}}),
        "positive_no_output": lambda d: d["Positive Examples"][0].pop("output"),
        "positive_string": lambda d: d.update({"Positive Examples": ["q -> a"]}),
        "instances_string": lambda d: d.update(Instances="none"), "instance_output_empty": lambda d: d["Instances"][0].update(output=[]),
        "instance_no_output": lambda d: d["Instances"][0].pop("output"),
    }  # fmt: skip
    for name, edit in sni_edits.items():
        data = json.loads(json.dumps(sni))
        edit(data)
        add(f"sni_{name}", data, ".json", 1)
    for i in range(20):
        text = yaml.safe_dump({"tasks": [GOOD_TASK, GOOD_TASK | {"name": "b"}]}).encode()
        add(f"mutated-{i:02d}", _mutate_bytes(rng, text, rng.randrange(1, 10)))
    cases.append(Case("task_file", "task:missing_file", str(base / "missing.yaml"), {}, None))
    return cases


def _base_config(root: Path) -> dict[str, Any]:
    return json.loads(json.dumps({
        "name": "fuzz", "run_root": "runs", "seed": 3,
        "sources": [{"kind": "inline", "texts": GOOD_DOCS}],
        "generators": [
            {"method": "bonito", "tasks": {"qa": 2}},
            {"method": "self_guide", "tasks": [GOOD_TASK], "rounds": 1},
            {"method": "sql_exec", "tasks_per_table": 2},
        ],
        "curation": {"rules": {}, "exact": {}, "minhash": {}},
        "selection": {"method": "none"},
        "export": {"formats": ["messages"]},
    }))  # a deep copy: cases edit it in place  # fmt: skip


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a config dict (list items included)."""
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append(prefix + (key,))
            out += _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.append(prefix + (i,))
            out += _paths(value, prefix + (i,))
    return out


def _edit(data: Any, path: tuple, op: str, rng: random.Random) -> None:
    *parents, last = path
    holder = data
    for part in parents:
        holder = holder[part]
    if op == "delete":
        del holder[last]
    elif op == "misspell" and isinstance(last, str) and len(last) > 2:
        value = holder.pop(last)
        i = rng.randrange(len(last) - 1)
        holder[last[:i] + last[i + 1] + last[i] + last[i + 2 :]] = value
    else:
        holder[last] = {
            "null": None, "negative": -7, "zero": 0, "string": "lots", "list": [1, "a"], "dict": {"x": 1},
            "huge": 10**30, "float": 0.5, "bool": True, "misspell": "x",
        }[op]  # fmt: skip


def config_cases(root: Path, rng: random.Random) -> list[Case]:
    base = root / "configs"
    base.mkdir()
    cases = []
    ops = ["delete", "misspell", "null", "negative", "zero", "string", "list", "dict", "huge", "float", "bool"]
    paths = _paths(_base_config(root))
    for i in range(110):
        data = _base_config(root)
        path = rng.choice(paths)
        op = rng.choice(ops)
        try:
            _edit(data, path, op, rng)
        except (KeyError, IndexError, TypeError):
            continue
        file = base / f"edit-{i:03d}.yaml"
        file.write_text(yaml.safe_dump(data, sort_keys=False))
        cases.append(Case("config", f"config:{op}:{'.'.join(map(str, path))}", str(file)))
    missing = {
        "missing_docs": {"sources": [{"kind": "jsonl", "path": "nowhere.jsonl"}]},
        "missing_task_file": {"generators": [{"method": "self_guide", "task_files": ["nowhere.yaml"]}]},
        "missing_table": {"generators": [{"method": "sql_exec", "sources": [{"path": "nowhere.csv"}]}]},
        "missing_model": {"engine": {"name": "./models/none"}},
        "missing_eval": {"curation": {"decontamination": {"evals": [{"name": "e", "path": "nowhere.jsonl"}]}}},
        "budget_zero": {"selection": {"budget": 0}}, "limit_zero": {"sources": [{"kind": "pydoc_topics", "limit": 0}]},
        "no_generators": {"generators": []}, "generators_dict": {"generators": {"method": "sql_exec"}},
        "bonito_no_sources": {"sources": [], "generators": [{"method": "bonito", "tasks": {"qa": 1}}]},
        "top_list": None,
    }  # fmt: skip
    for name, patch in missing.items():
        file = base / f"{name}.yaml"
        file.write_text("- a list\n" if patch is None else yaml.safe_dump(_base_config(root) | patch, sort_keys=False))
        cases.append(Case("config", f"config:{name}", str(file)))
    good = yaml.safe_dump(_base_config(root), sort_keys=False)
    raw = {
        "syntax": good.replace("generators:", "generators: [", 1), "tabs": good.replace("  ", "\t", 3),
        "duplicate_top": good + "seed: 9\n", "empty": "", "comment_only": "# nothing\n",
        "bomb": "x-a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(f"x-a{i}: &a{i} [" + ",".join(["*a" if i == 1 else f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9)) + good,
        "recursive": "x: &x [*x]\n" + good, "deep": "x: " + "[" * 20_000 + "]" * 20_000 + "\n" + good,
        "control": good.replace("fuzz", "fu\x07zz", 1), "scalar": "42\n", "non_string_keys": "1: 2\n" + good,
    }  # fmt: skip
    for name, text in raw.items():
        file = base / f"raw-{name}.yaml"
        file.write_text(text)
        cases.append(Case("config", f"config:raw:{name}", str(file)))
    (base / "raw-bad_utf8.yaml").write_bytes(good.encode().replace(b"fuzz", b"fu\xffzz", 1))
    cases.append(Case("config", "config:raw:bad_utf8", str(base / "raw-bad_utf8.yaml")))
    for i in range(40):
        file = base / f"mutated-{i:02d}.yaml"
        file.write_bytes(_mutate_bytes(rng, good.encode(), rng.randrange(1, 10)))
        cases.append(Case("config", f"config:mutated:{i}", str(file)))
    return cases
