"""README's config reference: every documented snippet validates, every documented key exists.

A key renamed in code but not in the README (or a README example that never worked) fails here.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
import yaml

from generators import REGISTRY
from generators.base import load_generator_class
from taskmill.config import parse_config

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
BASE = {"sources": [{"kind": "pydoc_topics", "limit": 2}], "generators": [{"method": "sql_exec"}]}


def _yaml_blocks() -> list[str]:
    """Every ```yaml block, each `# or ...` alternative on its own."""
    parts = []
    for block in re.findall(r"```yaml\n(.*?)```", README, re.DOTALL):
        parts += [p for p in re.split(r"^# or .*$", block, flags=re.MULTILINE) if p.strip()]
    return parts


def _merged(snippet: dict) -> dict:
    data = dict(BASE)
    data.update(snippet)
    return data


@pytest.mark.parametrize("block", _yaml_blocks())
def test_every_yaml_block_of_the_readme_validates(block):
    cfg = parse_config(_merged(yaml.safe_load(block)))
    for section, values in yaml.safe_load(block).items():
        resolved = cfg.resolved()[section]
        for key, value in values.items():
            assert key in resolved
            if not isinstance(value, dict):
                assert resolved[key] == value, (section, key)  # written as documented, not silently changed


# Inline snippets the README gives, as it spells them (checked to be there), each in a config.
INLINE = [
    ("engine: {backend: openai, api_key_env: OPENAI_API_KEY}", {"engine": {"backend": "openai", "api_key_env": "OPENAI_API_KEY"}}),
    ("`tasks: {ynqa: 50, nli: null}`", {"generators": [{"method": "bonito", "tasks": {"ynqa": 50, "nli": None}}]}),
    ("`tasks: [qa, ynqa]`", {"generators": [{"method": "bonito", "tasks": ["qa", "ynqa"]}]}),
    ("`curation.task_form: {enabled: false}`", {"curation": {"task_form": {"enabled": False}}}),
    ("`curation.judge: {enabled: true, threshold: 3}`", {"curation": {"judge": {"enabled": True, "threshold": 3}}}),
    ("`templates.fewshot_fraction`", {"selection": {"templates": {"fewshot_fraction": 0.5}}}),
    ("`ray.address`", {"ray": {"address": "auto"}}),
    ("`lock_wait_s`", {"lock_wait_s": 5}),
    ("`new_per_run`", {"run_mode": "new_per_run"}),
    ("`on_error: raise`", {"sources": [{"kind": "pydoc_topics", "on_error": "raise"}]}),
    ("`max_tokens`\n(e.g. 1024", {"export": {"max_tokens": 1024}}),
    ("`tokenizer` overrides", {"export": {"tokenizer": "packaged:smollm2"}}),
    ("`zipfit` (compression alignment to `zipfit.targets`)", {"selection": {"method": "zipfit", "zipfit": {"targets": ["a target text"]}}}),
    ("weights: {\"yes-no question answering\": 2, sql_exec: 1}",
     {"generators": [{"method": "bonito", "tasks": ["ynqa"]}, {"method": "sql_exec"}],
      "selection": {"mixture": {"strategy": "weights", "weights": {"yes-no question answering": 2, "sql_exec": 1}}}}),
]  # fmt: skip


@pytest.mark.parametrize("spelled, data", INLINE, ids=[s for s, _ in INLINE])
def test_inline_snippets_are_in_the_readme_and_validate(spelled, data, monkeypatch):
    assert spelled in README
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # api_key_env must name a variable that is set
    parse_config(_merged(data))


def test_decontamination_eval_forms_as_documented(tmp_path):
    assert "`decontamination: {evals: [gsm8k_test.jsonl, {name: mine, path: evals/mine}]}`" in README
    evals = parse_config(_merged({"curation": {"decontamination": {"evals": ["gsm8k_test.jsonl", {"name": "mine", "path": "evals/mine"}]}}}))
    assert [e.name for e in evals.curation.decontamination.evals] == ["gsm8k_test", "mine"]  # a bare path is named by its stem


def test_documented_defaults_hold():
    cfg = parse_config(_merged({"generators": [{"method": "coi", "task_files": []  , "from_generators": ["sql_exec"]},
                                               {"method": "sifo_chain"}, {"method": "sql_exec"}]}))  # fmt: skip
    coi, sifo = cfg.generators[0], cfg.generators[1]
    assert "`train_lengths` [2, 3], `test_lengths` [4, 5]" in README and (coi.train_lengths, coi.test_lengths) == ([2, 3], [4, 5])
    assert "`lengths` [2–5]" in README and sifo.lengths == [2, 3, 4, 5]
    assert cfg.run_mode == "resume" and cfg.lock_wait_s == 0 and not cfg.curation.semantic.enabled
    assert cfg.engine.backend == "vllm" and cfg.engine.name == "packaged:smollm2"
    assert cfg.export.license == "other"


def _literals(annotation) -> set[str]:
    out: set[str] = set()
    for arg in typing.get_args(annotation):
        out |= {arg} if isinstance(arg, str) else _literals(arg)
    return out


def test_generator_table_names_only_real_keys_and_values():
    rows = [line.split("|") for line in README.splitlines() if line.startswith("| `")]
    checked = set()
    for cells in rows:
        method = re.findall(r"`([^`]+)`", cells[1])[0]
        if method not in REGISTRY:
            continue
        config = load_generator_class(method).Config
        known = set(config.model_fields).union(*(_literals(f.annotation) for f in config.model_fields.values()))
        words = re.findall(r"`([a-z_]+)`", cells[2] + cells[3])
        assert [w for w in words if w not in known] == [], method
        checked.add(method)
    assert checked == set(REGISTRY)
