"""Every bundled real table (sklearn, statsmodels): what the model is shown means what was executed."""

import re

import pytest

from generators.sql import SqlExecConfig, SqlExecGenerator
from generators.sql.answers import format_answers, parse_answers
from generators.sql.budget import FORMS_BY_RENDERER, render_table
from generators.sql.generator import list_tables, load_table
from generators.sql.names import quote_identifier
from generators.sql.tokens import token_counter

CELL_SHAPES = ("project", "superlative", "distinct", "nested_in", "scalar_compare", "group")


def shown_rows(record):
    dropped = {i for start, stop in record["meta"]["dropped_rows"] for i in range(start, stop)}
    return [i for i in range(record["meta"]["rows_total"]) if i not in dropped]


@pytest.fixture(scope="module")
def bundled_records():
    config = SqlExecConfig(tasks_per_table=12, renderer="mixed", shard_size=12)
    generator = SqlExecGenerator(config, 7)
    out = []
    for entry in list_tables(config):
        table, _ = load_table(entry, config)
        kept = generator.run_shard({"table": entry, "slots": [0, 12]}).kept
        out.append((table, kept))
    return out


def test_all_bundled_tables_generate(bundled_records):
    assert len(bundled_records) >= 10
    for table, kept in bundled_records:
        assert len(kept) >= 6, table.table_id


def test_headers_quoted_and_answers_are_displayed_cells(bundled_records):
    quoted = cells_checked = 0
    for table, kept in bundled_records:
        for record in kept:
            meta = record["meta"]
            for header in meta["columns"].values():
                if quote_identifier(header) != header:
                    assert quote_identifier(header) in meta["encoded_sql"], (table.table_id, meta["encoded_sql"])
                    quoted += 1
            assert parse_answers(record["output"]) == meta["answers"] and record["output"] == format_answers(meta["answers"])
            if meta["shape"] in CELL_SHAPES or re.match(r"select (min|max)\(", meta["template"]):
                shown = {cell for i in shown_rows(record) for cell in table.row(i)} | {""}
                assert set(meta["answers"]) <= shown, (table.table_id, meta["encoded_sql"], meta["answers"])
                cells_checked += len(meta["answers"])
            else:  # computed: counts and sums of whole numbers read as numbers, never as ids
                assert all(re.fullmatch(r"-?\d+(\.\d+)?(e[+-]?\d+)?", a) for a in meta["answers"]), meta["answers"]
    assert quoted >= 10 and cells_checked >= 100  # iris/wine headers such as "sepal length (cm)" are quoted


def test_every_renderer_fits_the_default_budget(bundled_records):
    count = token_counter("packaged:smollm2")
    for table, kept in bundled_records:
        for record in kept:
            rows = [table.row(i) for i in shown_rows(record)]
            texts = [render_table(form, table.header, rows) for form in FORMS_BY_RENDERER["mixed"]]
            assert max(count(texts)) <= 896, table.table_id
