"""Pre-flight: `validate` and `run` check every path, model, task file and eval file before any work."""

import sqlite3
import textwrap

import pytest

from taskmill.config import ConfigError, parse_config
from taskmill.preflight import preflight


def _problems(data) -> str:
    with pytest.raises(ConfigError) as err:
        preflight(parse_config(data))
    return str(err.value)


def test_every_missing_path_is_listed_at_once(tmp_path):
    message = _problems({
        "sources": [{"kind": "jsonl", "path": str(tmp_path / "docs.jsonl")}, {"kind": "datasets", "path": str(tmp_path)}],
        "generators": [
            {"method": "bonito", "tasks": {"qa": 1}},
            {"method": "self_guide", "task_files": [str(tmp_path / "tasks.yaml")]},
            {"method": "sql_exec", "sources": [{"path": str(tmp_path / "t.csv")}]},
        ],
        "engine": {"name": str(tmp_path / "model")},
        "curation": {"decontamination": {"evals": [{"name": "gsm", "path": str(tmp_path / "gsm.jsonl")}]}},
    })  # fmt: skip
    assert f"sources.0.path: '{tmp_path / 'docs.jsonl'}': no such file or directory" in message
    assert f"sources.1.path: '{tmp_path}' is not a `datasets` dir" in message
    assert f"generators.1 (self_guide).task_files: task file not found: {tmp_path / 'tasks.yaml'}" in message
    assert f"generators.2 (sql_exec).sources.0.path: no file at '{tmp_path / 't.csv'}'" in message
    assert f"engine.name: no model directory at '{tmp_path / 'model'}'" in message
    assert f"curation.decontamination.evals.0 (gsm).path: no file or datasets dir at '{tmp_path / 'gsm.jsonl'}'" in message
    assert "Repo id" not in message


@pytest.mark.parametrize("name", ["models/smol-135m", "./my-model", "~/nowhere/model", "packaged:smolm2"])
def test_model_that_is_not_there_is_named_not_a_repo_id_error(name):
    message = _problems({"sources": [{"kind": "pydoc_topics"}], "generators": [{"method": "bonito", "tasks": {"qa": 1}}], "engine": {"name": name}})
    assert "engine.name:" in message and "Repo id" not in message
    if name.startswith("packaged:"):
        assert "did you mean 'packaged:smollm2'?" in message


def test_model_dir_without_config_and_openai_without_base_url(tmp_path):
    gen = {"sources": [{"kind": "pydoc_topics"}], "generators": [{"method": "bonito", "tasks": {"qa": 1}}]}
    assert "no config.json" in _problems({**gen, "engine": {"name": str(tmp_path)}})
    assert "engine.base_url: required" in _problems({**gen, "engine": {"backend": "openai"}})


def test_a_symbolic_only_config_does_not_need_a_model():
    assert preflight(parse_config({"generators": [{"method": "sql_exec"}], "engine": {"name": "/no/such/model"}})) == []


def test_bonito_without_sources():
    assert "bonito generates from documents; add a `sources:` section" in _problems({"generators": [{"method": "bonito", "tasks": {"qa": 1}}]})


def test_task_file_content_errors_name_file_task_and_field(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("tasks:\n  - name: ok\n    instruction: Say hi.\n    examples: [{input: a, output: b}]\n  - name: broken\n    instruction: x\n")
    assert f"{bad}:5: tasks[1] (broken).examples: Field required" in _problems({"generators": [{"method": "self_guide", "task_files": [str(bad)]}]})
    syntax = tmp_path / "s.yaml"
    syntax.write_text("tasks:\n  - name: [unclosed\n")
    assert f"{syntax}:3:1:" in _problems({"generators": [{"method": "self_guide", "task_files": [str(syntax)]}]})
    sni = tmp_path / "sni.json"
    sni.write_text('{"Definition": ["Answer."], "Positive Examples": [{"input": "q"}]}')
    assert f"{sni}: Positive Examples[0]: needs 'input' and 'output'" in _problems({"generators": [{"method": "self_guide", "task_files": [str(sni)]}]})


def test_sql_tables_checked_and_ragged_rows_per_on_error(tmp_path):
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("create table items (name text, price real)")
    assert "['orders'] not in" in _problems({"generators": [{"method": "sql_exec", "sources": [{"path": str(db), "tables": ["orders"]}]}]})
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,2\n3\n")
    strict = {"generators": [{"method": "sql_exec", "sources": [{"path": str(csv), "on_error": "raise"}]}]}
    assert f"generators.0 (sql_exec).sources.0: {csv}:3: 1 fields, the header has 2" in _problems(strict)
    lenient = parse_config({"generators": [{"method": "sql_exec", "sources": [{"path": str(csv)}]}]})
    (warning,) = preflight(lenient)
    assert "1 rows will be skipped {'too_few_fields': 1}" in warning


def test_sql_column_types_naming_no_column_is_a_problem(tmp_path):
    """A misspelt column_types key made every task of the table an `unreadable_table` reject at run time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv = tmp_path / "cities.csv"
    csv.write_bytes(b"\xef\xbb\xbfCity,Pop\nParis,2100000\nLyon,516000\n")
    pq.write_table(pa.table({"City": ["Paris"], "Pop": [2100000]}), tmp_path / "towns.parquet")

    def config(path, types):
        return {"generators": [{"method": "sql_exec", "sources": [{"path": str(tmp_path / path), "column_types": types}]}]}

    assert "generators.0 (sql_exec).sources.0.column_types: no column named ['population'] in table 'cities'; columns: ['city', 'pop']" in _problems(config("cities.csv", {"population": "number"}))
    assert "no column named ['populaton'] in table 'towns'" in _problems(config("towns.parquet", {"populaton": "number"}))
    assert preflight(parse_config(config("cities.csv", {"CITY": "text", "Pop": "number"}))) == []
    assert preflight(parse_config(config("towns.parquet", {"pop": "number"}))) == []


def test_empty_source_files_warn(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    warnings = preflight(parse_config({"sources": [{"kind": "jsonl", "path": str(tmp_path / "empty.jsonl")}], "generators": [{"method": "sql_exec"}]}))
    assert warnings == [f"sources.0.path: every file at '{tmp_path / 'empty.jsonl'}' is empty; this source gives no documents"]


def test_cli_validate_and_run_stop_before_prefect(tmp_path, monkeypatch, capsys):
    import flows.pipeline
    from taskmill.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(textwrap.dedent("""
        sources: [{kind: text, path: no_such_dir}]
        generators: [{method: sql_exec, tasks_per_table: 1}]
    """))
    monkeypatch.setattr(flows.pipeline, "pipeline", lambda **_: pytest.fail("run started the flow despite a missing path"))
    for command in ("validate", "run"):
        assert main([command, str(config)]) == 2
        err = capsys.readouterr().err
        assert f"sources.0.path: '{tmp_path / 'no_such_dir'}': no such file or directory" in err
        assert "Traceback" not in err
    config.write_text("generators: [{method: sql_exec}]\nseed: 1\nseed: 2\n")
    assert main(["validate", str(config)]) == 2
    assert capsys.readouterr().err.strip() == f"{config}:3:1: duplicate key 'seed' (first at line 2)"


def test_decontamination_evals_accept_bare_paths_relative_to_the_config(tmp_path):
    """`evals: [gsm.jsonl]` failed with 'Input should be a valid dictionary or instance of EvalSet'."""
    from taskmill.config import load_config

    (tmp_path / "gsm.jsonl").write_text('{"question": "What is two plus two?"}\n')
    (tmp_path / "c.yaml").write_text(textwrap.dedent("""
        generators: [{method: sql_exec}]
        curation:
          decontamination:
            evals: [gsm.jsonl, {name: inline, prompts: [hello there]}]
    """))
    evals = load_config(str(tmp_path / "c.yaml")).curation.decontamination.evals
    assert [(e.name, e.path, e.prompts) for e in evals] == [("gsm", str(tmp_path / "gsm.jsonl"), None), ("inline", None, ["hello there"])]
    message = _problems({"generators": [{"method": "sql_exec"}], "curation": {"decontamination": {"evals": [str(tmp_path / "nope.jsonl")]}}})
    assert f"curation.decontamination.evals.0 (nope).path: no file or datasets dir at '{tmp_path / 'nope.jsonl'}'" in message
    with pytest.raises(ConfigError, match=r"names must be distinct.*\['gsm'\]"):
        parse_config({"generators": [{"method": "sql_exec"}], "curation": {"decontamination": {"evals": ["a/gsm.jsonl", "b/gsm.jsonl"]}}})


def test_engine_actors_that_leave_no_cpu_for_ray_tasks_are_refused():
    # Ray would keep a curation task (or the engine itself) pending forever: refuse before any work
    gen = {"sources": [{"kind": "pydoc_topics"}], "generators": [{"method": "bonito", "tasks": {"qa": 1}}]}
    message = _problems({**gen, "ray": {"num_cpus": 2}, "engine": {"actor_num_cpus": 2}})
    assert "engine.actor_num_cpus: 1 engine(s) x 2 CPUs hold 2 of the local Ray's 2 CPUs (ray.num_cpus)" in message
    assert "less than ray.task_cpus (0.5)" in message
    message = _problems({**gen, "ray": {"num_cpus": 2}, "engine": {"actor_num_cpus": 3}})
    assert "3 CPUs per engine actor, more than the local Ray's 2 CPUs (ray.num_cpus): the engine would never start" in message
    fits = {**gen, "ray": {"num_cpus": 2, "task_cpus": 0.5}, "engine": {"actor_num_cpus": 1.5}}
    assert preflight(parse_config(fits)) == []
    on_a_cluster = {**gen, "ray": {"address": "auto"}, "engine": {"actor_num_cpus": 64}}
    assert preflight(parse_config(on_a_cluster)) == []


def test_a_coi_only_run_gets_its_engine_checked():
    # coi asks the engine for every step: its model and CPUs are checked like Bonito's (it skipped both)
    coi = {"generators": [{"method": "coi", "task_files": ["examples/tasks/coi_tasks.yaml"]}]}
    message = _problems({**coi, "ray": {"num_cpus": 2}, "engine": {"name": "/nonexistent/model", "num_engines": 2}})
    assert "/nonexistent/model" in message
    assert "engine.actor_num_cpus: 2 engine(s) x 1 CPUs hold 2 of the local Ray's 2 CPUs (ray.num_cpus)" in message


def test_tasks_asking_for_more_cpus_than_the_local_ray_has_are_refused_without_an_engine():
    # a SQL-only run with ray.task_cpus above the CPUs sat silent forever (no engine, so the check was skipped)
    sql = {"generators": [{"method": "sql_exec", "tasks_per_table": 1}], "ray": {"num_cpus": 2, "task_cpus": 3}}
    message = _problems(sql)
    assert "ray.task_cpus: 3 CPUs per curation or SQL task, more than the local Ray's 2 CPUs (ray.num_cpus)" in message
    assert preflight(parse_config({**sql, "ray": {"num_cpus": 2, "task_cpus": 2}})) == []
    assert preflight(parse_config({**sql, "ray": {"address": "auto", "task_cpus": 3}})) == []


def test_a_roundtrip_engine_of_its_own_is_checked_and_must_fit_beside_the_runs_engine(tmp_path):
    # the run's engine keeps its CPUs to the end: a second engine that does not fit hung the run silently
    gen = {"sources": [{"kind": "pydoc_topics"}], "generators": [{"method": "bonito", "tasks": {"qa": 1}}], "ray": {"num_cpus": 2}}
    message = _problems({**gen, "curation": {"roundtrip": {"engine": {"name": "packaged:smollm2", "actor_num_cpus": 1.5}}}})
    assert "curation.roundtrip.engine.actor_num_cpus: 1 x 1.5 CPUs, but the run's engine holds 1 of the local Ray's 2 CPUs" in message
    missing = _problems({**gen, "curation": {"roundtrip": {"engine": {"name": str(tmp_path / "model")}}}})
    assert f"curation.roundtrip.engine.name: no model directory at '{tmp_path / 'model'}'" in missing
    # the run's own engine named again is the same engine (one actor), and a check that is off needs none
    same = {**gen, "curation": {"roundtrip": {"engine": {"name": "packaged:smollm2"}}}}
    assert preflight(parse_config(same)) == []
    off = {**gen, "curation": {"roundtrip": {"enabled": False, "engine": {"name": str(tmp_path / "model")}}}}
    assert preflight(parse_config(off)) == []
