import textwrap

import pytest

from taskmill.config import ConfigError, load_config, parse_config


def _minimal(**over):
    data = {"generators": [{"method": "sql_exec", "tasks_per_table": 2}]}
    data.update(over)
    return data


def test_defaults_and_run_id_follow_the_config():
    cfg = parse_config(_minimal())
    assert cfg.engine.name == "packaged:smollm2" and cfg.engine.backend == "vllm"
    assert cfg.resolved_run_id.startswith("taskmill-")
    assert parse_config(_minimal()).resolved_run_id == cfg.resolved_run_id  # same config → same run: resume
    assert parse_config(_minimal(seed=7)).resolved_run_id != cfg.resolved_run_id


def test_errors_name_the_field_and_allowed_values():
    with pytest.raises(ConfigError, match=r"engine\.backend"):
        parse_config(_minimal(engine={"backend": "tgi"}))
    with pytest.raises(ConfigError, match=r"unknown generator method 'nope'.*allowed.*bonito"):
        parse_config({"generators": [{"method": "nope"}]})
    with pytest.raises(ConfigError, match=r"sources\.0"):
        parse_config(_minimal(sources=[{"kind": "jsonl"}]))
    with pytest.raises(ConfigError, match=r"generators"):
        parse_config({"generators": []})
    with pytest.raises(ConfigError, match=r"selection\.method: 'magic' is not one of none, facility_location"):
        parse_config(_minimal(selection={"method": "magic"}))
    with pytest.raises(ConfigError, match=r"generators\.1\.tasks\.0\.type: unknown Bonito task type 'qq'"):
        parse_config({"generators": [{"method": "sql_exec"}, {"method": "bonito", "tasks": {"qq": 1}}]})
    with pytest.raises(ConfigError, match=r"curation\.minhash\.num_perm"):
        parse_config(_minimal(curation={"minhash": {"num_perm": 1}}))


def test_misspelt_bonito_task_type_gets_a_did_you_mean():
    sources = [{"kind": "pydoc_topics", "limit": 1}]
    with pytest.raises(ConfigError, match=r"unknown Bonito task type 'summarisation' \(did you mean 'summarization'\?\)"):
        parse_config({"sources": sources, "generators": [{"method": "bonito", "tasks": {"summarisation": 2}}]})
    with pytest.raises(ConfigError, match=r"unknown Bonito task type 'yn_qa' \(did you mean 'ynqa'\?\)"):
        parse_config({"sources": sources, "generators": [{"method": "bonito", "tasks": {"yn_qa": 2}}]})


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("hello world")
    (tmp_path / "c.yaml").write_text(textwrap.dedent("""
        sources: [{kind: text, path: docs}]
        generators: [{method: sql_exec, tasks_per_table: 1}]
    """))
    cfg = load_config(str(tmp_path / "c.yaml"))
    assert cfg.sources[0].path == str(tmp_path / "docs")
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "missing.yaml"))


def test_sql_table_names_in_a_config_file_are_not_made_into_paths(tmp_path):
    """`tables:` names tables inside a SQLite/DuckDB file; it was resolved like a path (`orders` → `<dir>/orders`)."""
    (tmp_path / "c.yaml").write_text(textwrap.dedent("""
        generators:
          - method: sql_exec
            sources: [{path: shop.sqlite, tables: [orders, "line items"]}]
    """))
    source = load_config(str(tmp_path / "c.yaml")).generators[0].sources[0]
    assert source.path == str(tmp_path / "shop.sqlite")
    assert source.tables == ["orders", "line items"]


def test_export_formats_empty_or_repeated_are_rejected():
    """`formats: []` passed validate and the run crashed at export with IndexError (formats[0])."""
    with pytest.raises(ConfigError, match=r"export\.formats: List should have at least 1 item"):
        parse_config({"generators": [{"method": "sql_exec"}], "export": {"formats": []}})
    with pytest.raises(ConfigError, match=r"export\.formats: each format once; repeated: \['alpaca'\]"):
        parse_config({"generators": [{"method": "sql_exec"}], "export": {"formats": ["alpaca", "messages", "alpaca"]}})
    assert parse_config({"generators": [{"method": "sql_exec"}], "export": {"formats": ["sharegpt"]}}).export.formats == ["sharegpt"]


def test_generators_of_one_method_get_distinct_stable_stage_names():
    from taskmill.config import parse_config

    gens = [{"method": "sql_exec"}, {"method": "sql_exec", "name": "tables_b"}, {"method": "sql_exec"}]
    cfg = parse_config({"generators": gens})
    assert [g.name for g in cfg.generators] == ["sql_exec", "tables_b", "sql_exec-2"]
    # appending a generator leaves the names of the earlier ones (and so their shards) alone
    cfg2 = parse_config({"generators": gens + [{"method": "sql_exec"}]})
    assert [g.name for g in cfg2.generators] == ["sql_exec", "tables_b", "sql_exec-2", "sql_exec-3"]


def test_repeated_generator_name_is_a_config_error():
    import pytest

    from taskmill.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="repeated: \\['a'\\]"):
        parse_config({"generators": [{"method": "sql_exec", "name": "a"}, {"method": "sql_exec", "name": "a"}]})


def test_run_summary_text_ends_with_the_warnings():
    from flows.summary import render_text

    summary = {"run_id": "r", "run_dir": "runs/r", "records_per_stage": {"curated": 0}, "rejects": {},
               "prompt_tokens": 0, "completion_tokens": 0, "tokens_per_s": 0.0,
               "warnings": ["source docs.jsonl gave no rows"]}
    assert render_text(summary).splitlines()[-1] == "  warning: source docs.jsonl gave no rows"


def test_empty_sources_key_means_no_sources():
    from taskmill.config import parse_config

    assert parse_config({"sources": None, "generators": [{"method": "sql_exec"}]}).sources == []
