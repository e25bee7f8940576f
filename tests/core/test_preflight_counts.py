"""Pre-flight: Bonito counts above the documents there are (also in a run's summary), `file:line` on problems."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from taskmill.cli import main
from taskmill.config import ConfigError, load_config, parse_config
from taskmill.preflight import count_shortfalls, preflight

QA = "question answering without choices"
YNQA = "yes-no question answering"


def _write(tmp_path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_a_bonito_count_above_the_documents_is_a_warning_naming_generator_and_counts():
    cfg = parse_config({
        "sources": [{"kind": "pydoc_topics", "limit": 5}],
        "generators": [{"method": "sql_exec"}, {"method": "bonito", "name": "reading", "tasks": {"qa": 50, "ynqa": 5, "coref": None}}],
    })  # fmt: skip
    assert preflight(cfg) == [
        f"generators.1 (reading).tasks: task type '{QA}' asks for count=50 documents but the sources give 5; it uses all 5"
    ]
    assert count_shortfalls(cfg, 4) == [
        f"generators.1 (reading).tasks: task type '{QA}' asks for count=50 documents but the sources give 4; it uses all 4",
        f"generators.1 (reading).tasks: task type '{YNQA}' asks for count=5 documents but the sources give 4; it uses all 4",
    ]
    assert count_shortfalls(cfg, 50) == []


def test_the_count_is_of_documents_the_sources_keep(tmp_path):
    docs = tmp_path / "docs.jsonl"
    good = [json.dumps({"text": f"Document number {i} talks about rivers and towns."}) for i in range(3)]
    docs.write_text("\n".join([*good, "{not json", json.dumps({"text": ""}), json.dumps({"body": "no text field"})]) + "\n")
    cfg = parse_config({"sources": [{"kind": "jsonl", "path": str(docs)}], "generators": [{"method": "bonito", "tasks": {"qa": 4}}]})
    assert preflight(cfg) == [f"generators.0 (bonito).tasks: task type '{QA}' asks for count=4 documents but the sources give 3; it uses all 3"]


def test_a_bad_row_under_on_error_raise_is_a_problem_when_counting(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"text": "A fine document about bread."}\n{oops\n')
    cfg = parse_config({"sources": [{"kind": "jsonl", "path": str(docs), "on_error": "raise"}], "generators": [{"method": "bonito", "tasks": {"qa": 4}}]})
    with pytest.raises(ConfigError, match=rf"sources\.0: {docs}:2: "):
        preflight(cfg)


def test_cli_validate_prints_the_warning_with_file_and_line(tmp_path, capsys):
    path = _write(tmp_path, """\
        sources:
          - kind: pydoc_topics
            limit: 3
        generators:
          - method: bonito
            tasks:
              qa: 10
    """)
    assert main(["validate", path]) == 0
    err = capsys.readouterr().err
    assert f"warning: {path}:6: generators.0 (bonito).tasks: task type '{QA}' asks for count=10 documents but the sources give 3; it uses all 3" in err


def test_preflight_problems_from_a_file_carry_file_and_line(tmp_path):
    path = _write(tmp_path, f"""\
        sources:
          - kind: jsonl
            path: {tmp_path / 'missing.jsonl'}
        generators:
          - method: self_guide
            task_files: [{tmp_path / 'tasks.yaml'}]
        engine:
          name: {tmp_path / 'model'}
    """)
    with pytest.raises(ConfigError) as err:
        preflight(load_config(path))
    lines = str(err.value).splitlines()
    assert lines[0] == f"config {path} points at things that are missing or unusable:"
    assert lines[1].startswith(f"  {path}:3: sources.0.path: '{tmp_path / 'missing.jsonl'}': no such file or directory")
    assert lines[2].startswith(f"  {path}:6: generators.0 (self_guide).task_files: task file not found")
    assert lines[3].startswith(f"  {path}:8: engine.name: no model directory at")


@pytest.mark.slow
def test_a_run_reports_the_shortfall_in_its_summary_and_inspect_marks_generation_done(tmp_path, prefect_harness, ray_local):
    from flows.pipeline import pipeline
    from taskmill.engine.factory import install_engine, uninstall_engine
    from taskmill.engine.settings import EngineSettings
    from taskmill.runinfo import inspect_run
    from tests.core.streaming_helpers import DOCS, scripted

    engine = {"name": "scripted-stream", "max_model_len": 2048, "max_in_flight": 4}
    config = {
        "name": "shortfall",
        "run_root": str(tmp_path / "runs"),
        "engine": engine,
        "sources": [{"kind": "inline", "texts": DOCS[:3]}],
        "generators": [{"method": "bonito", "prompted_format": "json", "tasks": {"qa": 5}}],
        "selection": {"method": "none"},
        "export": {"formats": ["messages"], "hf_dataset": False},
    }
    settings = EngineSettings(**engine)
    install_engine(settings, scripted(seed=0), max_in_flight=settings.max_in_flight)
    try:
        summary = pipeline(config=config)
    finally:
        uninstall_engine(settings)
    shortfall = f"generators.0 (bonito).tasks: task type '{QA}' asks for count=5 documents but the sources give 3; it uses all 3"
    assert shortfall in summary["warnings"]
    assert json.load(open(os.path.join(summary["run_dir"], "summary.json")))["warnings"] == summary["warnings"]
    rows = {line.split()[0]: line.split()[1:] for line in inspect_run(summary["run_dir"]).splitlines() if line.startswith("  generated/")}
    assert rows["generated/bonito"] == [str(summary["records_per_stage"]["generated/bonito"]), "yes"]


def test_a_bad_row_of_an_on_error_raise_source_is_found_by_validate(tmp_path, capsys):
    docs, more = tmp_path / "docs.jsonl", tmp_path / "more.jsonl"
    docs.write_text('{"text": "A fine document about bread."}\n\n{"text": 3}\n')
    more.write_text('{"text": "Another document."}\n[1]\n')
    path = _write(tmp_path, f"""\
        sources:
          - {{kind: jsonl, path: {docs}, on_error: raise}}
          - {{kind: jsonl, path: {more}}}
          - {{kind: jsonl, path: {more}, on_error: raise}}
        generators:
          - method: sifo_chain
    """)
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[1] == f"  {path}:2: sources.0: {docs}:3: 'text' is not a string (got int 3) (reason text_not_string; set on_error: skip to skip such rows)"
    assert err[2] == f"  {path}:4: sources.2: {more}:2: expected a JSON object with 'text', got list (reason not_an_object; set on_error: skip to skip such rows)"
    assert len(err) == 3  # the skip source's bad row is not a problem
