"""The generator end to end: sources, records, ground truth, truncation, determinism."""

import datetime
import json
import pickle
import sqlite3
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from generators.sql import REJECT_CODES, SqlExecConfig, SqlExecGenerator, denotation_match
from generators.sql.execute import TableView
from generators.sql.answers import format_answers, format_value
from generators.sql.generator import list_tables, load_table
from generators.sql.linearize import PHRASES
from taskmill.records import canonical_json, to_table

PROJECTING = ("project", "superlative", "distinct", "nested_in", "scalar_compare")


def write_csv(path, header, rows):
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def league_csv(tmp_path):
    rows = [
        [f"Club {i}", ["North", "South", "East"][i % 3], 1900 + (i * 7) % 90, (i * 13) % 17, f"2020-0{1 + i % 9}-1{i % 10}"]
        for i in range(120)
    ]
    return write_csv(tmp_path / "league.csv", ["Club", "Region", "Founded", "Titles", "Last match"], rows)


def run_all(config, seed=42):
    generator = SqlExecGenerator(config, seed)
    kept, rejects = [], []
    for shard in generator.plan_shards([]):
        out = generator.run_shard(json.loads(json.dumps(shard)))  # shards must survive JSON
        kept += out.kept
        rejects += out.rejects
    return kept, rejects


def shown_rows(record):
    """Source row indices the model saw, from the dropped ranges."""
    dropped = {i for start, stop in record["meta"]["dropped_rows"] for i in range(start, stop)}
    return [i for i in range(record["meta"]["rows_total"]) if i not in dropped]


def test_format_value():
    assert format_value(9.0) == "9.0"
    assert format_value(2238.5029999999997) == "2238.503"
    assert format_value(0.1 + 0.2) == "0.3"
    assert format_value(3) == "3" and format_value("Oslo") == "oslo"
    assert format_value(1e-12) == "1e-12" and format_value(None) == ""


def test_config_defaults_and_errors(tmp_path):
    config = SqlExecConfig()
    assert config.bundled is True and config.renderer == "instruction" and config.table_budget == 896
    assert config.max_answers == 10 and config.tasks_per_table == 500 and config.max_retries == 10
    with pytest.raises(ValidationError, match="sources"):
        SqlExecConfig(bundled=False)
    with pytest.raises(ValidationError, match="kind"):
        SqlExecConfig(sources=[{"path": "tables.xlsx"}])
    with pytest.raises(ValidationError, match="shape_weights"):
        SqlExecConfig(shape_weights={"joins": 1.0})
    with pytest.raises(ValidationError, match="extra"):
        SqlExecConfig(renderr="tapex")
    with pytest.raises(ValidationError, match="renderer"):
        SqlExecConfig(renderer="html")
    assert SqlExecConfig(sources=[{"path": "a.csv"}]).bundled is False
    with pytest.raises(ValueError, match=r"sources\[0\].path"):
        list_tables(SqlExecConfig(sources=[{"path": str(tmp_path / "missing.csv")}]))


def test_all_source_kinds(tmp_path, league_csv):
    days = pa.array([datetime.date(2024, 1, 2), datetime.date(2024, 3, 4)], pa.date32())
    pq.write_table(pa.table({"city": ["Oslo", "Bergen"], "pop": [700000, 285000], "day": days}), tmp_path / "cities.parquet")
    db = sqlite3.connect(tmp_path / "sports.sqlite")
    db.execute('create table "teams" (id integer, name text, wins integer)')
    db.execute("create table players (name text, height real)")
    db.executemany("insert into teams values (?, ?, ?)", [(1, "a", 3), (2, "b", None)])
    db.executemany("insert into players values (?, ?)", [("x", 1.8), ("y", 1.9)])
    db.commit()
    db.close()
    import duckdb

    con = duckdb.connect(str(tmp_path / "shop.duckdb"))
    con.execute("create table items (item varchar, price double, added date)")
    con.execute("insert into items values ('pen', 1.5, '2023-05-01'), ('ink', 3.25, '2023-06-01')")
    con.close()
    config = SqlExecConfig(
        sources=[
            {"path": league_csv, "column_types": {"Founded": "text"}},
            {"path": str(tmp_path / "cities.parquet"), "name": "cities"},
            {"path": str(tmp_path / "sports.sqlite")},
            {"path": str(tmp_path / "shop.duckdb"), "tables": ["items"]},
        ]
    )
    entries = list_tables(config)
    assert [e["table_id"] for e in entries] == ["league", "cities", "sports/players", "sports/teams", "shop/items"]
    types = {e["table_id"]: {c.header: c.type for c in load_table(e, config)[0].columns} for e in entries}
    assert types["league"] == {"club": "text", "region": "text", "founded": "text", "titles": "number", "last match": "date"}
    assert types["cities"] == {"city": "text", "pop": "number", "day": "date"}
    assert types["sports/teams"] == {"name": "text", "wins": "number"}  # `id` is a helper column: dropped
    assert types["shop/items"] == {"item": "text", "price": "number", "added": "date"}
    with pytest.raises(ValueError, match="column_types"):
        load_table({**entries[0], "column_types": {"nope": "text"}}, config)


def test_records_and_ground_truth(league_csv):
    config = SqlExecConfig(sources=[{"path": league_csv}], tasks_per_table=120, shard_size=50, table_budget=300, renderer="mixed")
    kept, rejects = run_all(config)
    assert len(kept) + Counter(r["reject_reason"] for r in rejects)["retries_exhausted"] == 120
    table, _ = load_table(list_tables(config)[0], config)
    renderers, shapes = Counter(), Counter()
    for record in kept:
        meta = record["meta"]
        assert record["method"] == "sql_exec" and record["model"] == "none" and record["sampling"] is None
        assert record["source_id"] == "table:league" and record["parents"][0].startswith("template:")
        assert record["output"] == format_answers(meta["answers"])
        assert 1 <= len(meta["answers"]) <= 10 and meta["difficulty"] >= 1
        assert meta["rows_shown"] < meta["rows_total"] == 120  # the budget forced truncation
        # Re-execute on a fresh view of exactly the rows shown: same answers.
        view = TableView(table, shown_rows(record))
        result = view.run(meta["executable_sql"], meta["params"])
        assert result.answers is not None and len(result.answers) == len(meta["answers"])
        assert denotation_match(record["output"], format_answers(list(reversed(meta["answers"]))))
        assert denotation_match(record["output"], meta["answers"])
        renderers[meta["renderer"]] += 1
        shapes[meta["shape"]] += 1
        if meta["renderer"] == "tapex":
            assert record["instruction"].startswith(meta["encoded_sql"].lower() + " col : club | region")
        else:
            assert record["instruction"].endswith(PHRASES[meta["phrase"]] + " " + meta["encoded_sql"])
    assert set(renderers) == {"instruction", "tapex", "indexed"}
    assert len(shapes) >= 6
    for record in rejects:
        assert record["reject_reason"] in REJECT_CODES and record["reject_stage"] == "sql_exec"
    assert len({r["id"] for r in kept + rejects}) == len(kept) + len(rejects)


def test_truncation_consistency(league_csv):
    config = SqlExecConfig(sources=[{"path": league_csv}], tasks_per_table=80, table_budget=250, renderer="instruction")
    kept, _ = run_all(config)
    table, _ = load_table(list_tables(config)[0], config)
    checked = 0
    for record in kept:
        meta = record["meta"]
        if meta["shape"] not in PROJECTING:
            continue
        lines = record["instruction"].split("\n")[:-1]
        assert len(lines) == meta["rows_shown"] + 1
        rendered_cells = {cell for line in lines[1:] for cell in line[2:-2].split(" | ")}
        assert rendered_cells == {cell for i in shown_rows(record) for cell in table.row(i)}
        for answer in meta["answers"]:
            assert answer in rendered_cells
            checked += 1
    assert checked >= 20


def test_determinism_and_shard_independence(league_csv):
    base = {"sources": [{"path": league_csv}], "tasks_per_table": 60, "table_budget": 400, "renderer": "mixed"}
    first = run_all(SqlExecConfig(**base, shard_size=60))
    again = run_all(SqlExecConfig(**base, shard_size=60))
    resharded = run_all(SqlExecConfig(**base, shard_size=7))
    other_seed = run_all(SqlExecConfig(**base, shard_size=60), seed=43)

    def as_bytes(result):
        sink = pa.BufferOutputStream()
        table = to_table(result[0] + result[1])
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    assert as_bytes(first) == as_bytes(again)
    key = lambda result: sorted(canonical_json(r) for r in result[0] + result[1])  # noqa: E731
    assert key(first) == key(resharded)
    assert key(first) != key(other_seed)
    pickle.loads(pickle.dumps(SqlExecGenerator(SqlExecConfig(**base), 42)))  # shipped to Ray workers


def test_hostile_table_end_to_end(tmp_path):
    hostile = ["o'brien", "x'); drop table w; --", 'say "hi"; select 1', "two\nlines", "pipe | inside", "z" * 5000, "100%_", ""]
    rows = [[h, str(i), f"{i}.5"] for i, h in enumerate(hostile)] * 3
    path = write_csv(tmp_path / "hostile.csv", ["Name; drop", "n'um", "Sco|re"], rows)
    config = SqlExecConfig(sources=[{"path": path}], tasks_per_table=60, renderer="instruction")
    kept, rejects = run_all(config)
    assert kept
    assert not [r for r in rejects if r["reject_reason"] in ("sql_error", "timeout")]
    for record in kept:
        lines = record["instruction"].split("\n")
        table_lines = lines[: record["meta"]["rows_shown"] + 1]
        assert table_lines[0] == "| name; drop | n'um | sco/re |"
        assert all(line.count(" | ") == 2 and line.startswith("| ") and line.endswith(" |") for line in table_lines)
        assert len(lines) == len(table_lines) + 1  # no cell added a line


def test_bundled_tables_work_offline():
    config = SqlExecConfig(tasks_per_table=20, shard_size=20)
    generator = SqlExecGenerator(config, 42)
    shards = generator.plan_shards([])
    ids = [s["table"]["table_id"] for s in shards]
    assert "sklearn/iris" in ids and "statsmodels/grunfeld" in ids
    out = generator.run_shard(next(s for s in shards if s["table"]["table_id"] == "sklearn/iris"))
    assert len(out.kept) >= 15 and out.stats["candidates"] == len(out.kept) + sum(
        n for code, n in out.stats["rejects"].items() if code != "retries_exhausted"
    )
    species = {"setosa", "versicolor", "virginica"}
    assert any(species & set(r["meta"]["answers"]) for r in out.kept)


def test_total_tasks_split_and_exclusion():
    config = SqlExecConfig(tasks=10, exclude_tables=["table:sklearn/iris"], shard_size=3)
    shards = SqlExecGenerator(config, 1).plan_shards([])
    tables = Counter()
    for shard in shards:
        tables[shard["table"]["table_id"]] += shard["slots"][1] - shard["slots"][0]
    assert sum(tables.values()) == 10 and "sklearn/iris" not in tables


def test_date_override_on_free_text(tmp_path):
    rows = [[f"event {i}", ["3 may 2020", "2021-02-03", "soon"][i % 3], str(i)] for i in range(30)]
    path = write_csv(tmp_path / "events.csv", ["event", "when", "n"], rows)
    config = SqlExecConfig(sources=[{"path": path, "column_types": {"When": "date"}}], tasks_per_table=40)
    table, _ = load_table(list_tables(config)[0], config)
    assert [c.type for c in table.columns] == ["text", "date", "number"]
    assert table.columns[1].bounds == ("2021-02-03", "2021-02-03")  # only ISO cells bound a range
    kept, rejects = run_all(config)
    assert kept and not [r for r in rejects if r["reject_reason"] == "sql_error"]
