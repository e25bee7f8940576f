"""Config loading and validation: defaults, strict YAML, nonsense values, did-you-mean hints."""

import textwrap

import pytest

from taskmill.config import ConfigError, load_config, parse_config

SQL = {"method": "sql_exec", "tasks_per_table": 2}


def _write(tmp_path, text, name="c.yaml", raw=False):
    path = tmp_path / name
    if raw:
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text))
    return str(path)


# ---- optional sections -----------------------------------------------------------------

OPTIONAL = ["name", "run_id", "run_root", "seed", "ray", "engine", "sources", "curation", "selection", "export"]


@pytest.mark.parametrize("missing", OPTIONAL)
def test_every_optional_section_defaults_to_its_model(missing):
    from filters import CurationConfig
    from selection import SelectionConfig

    full = {
        "name": "x", "run_root": "runs", "seed": 1, "ray": {}, "engine": {}, "sources": [],
        "curation": {}, "selection": {}, "export": {}, "generators": [SQL],
    }  # fmt: skip
    full.pop(missing, None)
    cfg = parse_config(full)
    assert isinstance(cfg.curation, CurationConfig)
    assert isinstance(cfg.selection, SelectionConfig)
    assert cfg.selection.method == "none" and cfg.selection.templates.fewshot_fraction == 0
    assert cfg.curation.decontamination.evals == []


def test_the_smallest_config_has_every_section_typed():
    cfg = parse_config({"generators": [{"method": "sql_exec"}]})
    assert type(cfg.selection).__name__ == "SelectionConfig"
    assert type(cfg.curation).__name__ == "CurationConfig"
    # null sections (a YAML key with nothing under it) default the same way
    cfg = parse_config({"generators": [SQL], "selection": None, "curation": None})
    assert cfg.selection.method == "none" and cfg.curation.exact is not None


def test_a_section_key_with_nothing_under_it_means_defaults(tmp_path):
    from filters.minhash import MinHashConfig

    path = _write(tmp_path, """
        engine:
        export:
        curation:
          minhash:
          decontamination:
        selection:
          kernel:
        generators:
          - method: self_guide
            tasks: [{name: t, instruction: Say it., examples: [{input: a, output: b}]}]
            annotation:
    """)
    cfg = load_config(path)
    assert cfg.curation.minhash == MinHashConfig() and cfg.engine.name == "packaged:smollm2"
    assert cfg.generators[0].annotation.n_annot == 10 and cfg.selection.kernel.kind == "auto"


# ---- YAML ------------------------------------------------------------------------------


def test_yaml_syntax_error_is_one_line_with_file_line_column(tmp_path):
    path = _write(tmp_path, "generators:\n  - {method: sql_exec\nseed: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}:3:")


def test_non_utf8_config_names_line_and_column(tmp_path):
    path = _write(tmp_path, b"generators:\n  - method: sql_exec\nname: caf\xe9\n", raw=True)
    with pytest.raises(ConfigError, match=rf"^{path}:3:10: not UTF-8 \(byte 0xe9\)"):
        load_config(path)


def test_control_character_after_non_ascii_text_names_its_own_line_and_column(tmp_path):
    # libyaml counts UTF-8 bytes: "é" and "😀" earlier in the file must not push the place forward
    path = _write(tmp_path, "name: données😀\ngenerators: [{method: sql_exec}]\nseed: é\x07\n".encode(), raw=True)
    with pytest.raises(ConfigError, match=rf"^{path}:3:8: control character U\+0007 is not allowed"):
        load_config(path)


@pytest.mark.parametrize("text, place, shown", [
    ("generators: [{method: sql_exec}]\nseed: *nope\n", ":2:7:", "found undefined alias (at '*nope')"),
    ("generators: [{method: sql_exec}]\n\tseed: 3\n", ":2:1:", "cannot start any token (at '\\t')"),
    ("generators: [{method: sql_exec}]\nseed: 1\n\ufeffrun_root: r\n", ":3:2:", "did not find expected key (at '\\ufeffrun_root:')"),
])  # fmt: skip
def test_yaml_errors_show_the_text_the_parser_stopped_at(tmp_path, text, place, shown):
    # libyaml's messages do not name the alias, the tab or the stray BOM; the message shows what stands there
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}{place}") and shown in str(err.value), str(err.value)


def test_duplicate_keys_are_rejected_with_both_lines(tmp_path):
    path = _write(tmp_path, "seed: 1\ngenerators: [{method: sql_exec}]\nseed: 2\n")
    with pytest.raises(ConfigError, match=rf"^{path}:3:1: duplicate key 'seed' \(first at line 1\)"):
        load_config(path)
    nested = _write(tmp_path, "generators:\n  - method: sql_exec\n    method: bonito\n", "n.yaml")
    with pytest.raises(ConfigError, match=r"n\.yaml:3:5: duplicate key 'method'"):
        load_config(nested)


def test_merge_keys_may_still_be_overridden(tmp_path):
    path = _write(tmp_path, """
        generators:
          - &b {method: sql_exec, tasks_per_table: 2}
          - <<: *b
            name: second
            tasks_per_table: 3
    """)
    cfg = load_config(path)
    assert [(g.name, g.tasks_per_table) for g in cfg.generators] == [("sql_exec", 2), ("second", 3)]


def test_alias_bomb_fails_fast(tmp_path):
    import time

    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = _write(tmp_path, "\n".join(lines) + "\ngenerators: [{method: sql_exec}]\n")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"aliases expand to more than 1,000,000 nodes"):
        load_config(path)
    assert time.perf_counter() - start < 5


def test_recursive_alias_and_empty_and_non_mapping_files(tmp_path):
    with pytest.raises(ConfigError, match="recursive alias"):
        load_config(_write(tmp_path, "a: &x [*x]\n"))
    with pytest.raises(ConfigError, match="config file is empty"):
        load_config(_write(tmp_path, "# nothing\n", "e.yaml"))
    with pytest.raises(ConfigError, match="must be a YAML mapping.*not a list"):
        load_config(_write(tmp_path, "- generators\n", "l.yaml"))
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(str(tmp_path))


# ---- nonsense values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "pattern"),
    [
        ({"sources": [{"kind": "pydoc_topics", "limit": 0}]}, r"sources\.0\.limit: Input should be greater than or equal to 1"),
        ({"sources": [{"kind": "pydoc_topics", "limit": -3}]}, r"sources\.0\.limit"),
        ({"sources": [{"kind": "pydoc_topics", "max_chars": -5}]}, r"sources\.0\.max_chars"),
        ({"sources": [{"kind": "pydoc_topics", "min_chars": 50, "max_chars": 10}]}, r"max_chars \(10\) is below min_chars \(50\)"),
        ({"selection": {"budget": 0}}, r"selection\.budget: 0 selects nothing"),
        ({"selection": {"budget": -1}}, r"selection\.budget"),
        ({"engine": {"max_model_len": 0}}, r"engine\.max_model_len: must be >= 1"),
        ({"engine": {"gpu_memory_utilization": 1.5}}, r"engine\.gpu_memory_utilization"),
        ({"ray": {"num_cpus": 0}}, r"ray\.num_cpus"),
        ({"name": ""}, r"name: String should have at least 1 character"),
        ({"export": {"dataset_name": ""}}, r"export\.dataset_name"),
        ({"sources": [{"kind": "jsonl", "path": "x.jsonl", "on_error": "ignore"}]}, r"sources\.0\.on_error: 'ignore' is not one of skip, raise"),
        ({"curation": {"task_form": {"summary_max_ratio": 67}}}, r"curation\.task_form\.summary_max_ratio: Input should be less than or equal to 1"),
    ],
)
def test_nonsense_values_are_rejected_naming_the_field(section, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_config({"generators": [SQL], **section})


# ---- did you mean ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"generators": [SQL], "selecton": {}}, "selecton: unknown field 'selecton' (did you mean 'selection'?)"),
        ({"generators": [{**SQL, "renderr": "tapex"}]}, "generators.0.renderr: unknown field 'renderr' (did you mean 'renderer'?)"),
        ({"generators": [{**SQL, "renderer": "tapx"}]}, "generators.0.renderer: 'tapx' is not one of instruction, tapex, indexed, mixed (did you mean 'tapex'?)"),
        ({"generators": [{"method": "sql-exec"}]}, "(did you mean 'sql_exec'?)"),
        ({"generators": [SQL], "selection": {"method": "facility-location"}}, "(did you mean 'facility_location'?)"),
        ({"generators": [SQL], "curation": {"minhash": {"treshold": 0.5}}}, "curation.minhash.treshold: unknown field 'treshold' (did you mean 'threshold'?)"),
        ({"generators": [SQL], "sources": [{"kind": "JSONL", "path": "x"}]}, "(did you mean 'jsonl'?)"),
        ({"generators": [SQL], "engine": {"backend": "vlm"}}, "(did you mean 'vllm'?)"),
    ],
)
def test_misspellings_get_a_did_you_mean(data, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert expected in str(err.value)


def test_a_key_with_no_near_match_lists_the_allowed_ones():
    with pytest.raises(ConfigError) as err:
        parse_config({"generators": [SQL], "export": {"zzzzzz": 1}})
    assert "unknown field 'zzzzzz'; allowed: formats, hf_dataset, dataset_name" in str(err.value)


def test_generator_that_is_not_a_mapping_names_its_index():
    with pytest.raises(ConfigError, match=r"generators\.1: each generator is a mapping with a `method`"):
        parse_config({"generators": [SQL, "sql_exec"]})


def test_field_errors_from_a_file_carry_its_name_and_line(tmp_path):
    path = _write(tmp_path, """
        name: x
        generators:
          - method: sql_exec
            renderr: tapex
        sources:
          - kind: pydoc_topics
            limit: -1
    """)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    lines = str(err.value).splitlines()
    assert lines[0] == f"invalid taskmill config {path}:"
    assert f"  {path}:5: generators.0.renderr: unknown field 'renderr' (did you mean 'renderer'?)" in lines
    assert f"  {path}:8: sources.0.limit: Input should be greater than or equal to 1 (got -1)" in lines


@pytest.mark.parametrize("text, expected", [
    ("generators: [{method: sql_exec}]\n~: 1\n", ":2: None: Keys should be strings"),
    ("generators:\n  - method: sql_exec\n    3: x\n", ":3: generators.0.3: Keys should be strings"),
])  # fmt: skip
def test_a_key_that_is_not_text_is_placed_on_its_own_line(tmp_path, text, expected):
    # YAML reads `~:` as None and `3:` as 3; the field path prints them so, the line index keeps "~" and "3"
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}{expected}" in str(err.value), str(err.value)
