"""Dates and timestamps round-trip as displayed: one format per column, text order = time order."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from generators.sql import SqlExecConfig, SqlExecGenerator
from generators.sql.generator import list_tables, load_table
from generators.sql.tables import build_table

UTC = dt.timezone.utc


def parquet_table(tmp_path):
    oslo = ZoneInfo("Europe/Oslo")
    n = 12
    utc = [dt.datetime(2016, 12, 31, 20, 0, tzinfo=UTC) + dt.timedelta(hours=i) for i in range(n)]
    # Oslo around the 2020 spring-forward: offsets +01:00 and +02:00 in one column.
    dst = [dt.datetime(2020, 3, 28, 23, 0, tzinfo=UTC) + dt.timedelta(hours=i) for i in range(n)]
    midnights = [dt.datetime(2021, 1, 1) + dt.timedelta(days=i) for i in range(n)]
    days = [dt.date(1999, 12, 25) + dt.timedelta(days=3 * i) for i in range(n)]
    nanos = pa.array([1_600_000_000_000_000_001 + i * 10**9 for i in range(n)], pa.timestamp("ns"))
    data = pa.table({
        "event": [f"e{i}" for i in range(n)],
        "at": pa.array(utc, pa.timestamp("us", tz="UTC")),
        "local": pa.array(dst, pa.timestamp("us", tz="Europe/Oslo")),
        "midnight": pa.array(midnights, pa.timestamp("us")),
        "day": pa.array(days, pa.date32()),
        "precise": nanos,
    })  # fmt: skip
    path = tmp_path / "events.parquet"
    pq.write_table(data, path)
    assert dst[0].astimezone(oslo).utcoffset() != dst[-1].astimezone(oslo).utcoffset()
    return str(path)


def test_typed_timestamps_display(tmp_path):
    config = SqlExecConfig(sources=[{"path": parquet_table(tmp_path)}])
    table, _ = load_table(list_tables(config)[0], config)
    by = {c.header: c for c in table.columns}
    assert {h: c.type for h, c in by.items()} == {
        "event": "text", "at": "date", "local": "date", "midnight": "date", "day": "date", "precise": "date",
    }  # fmt: skip
    assert by["at"].cells[3] == "2016-12-31 23:00:00+00:00"
    assert by["local"].cells[0] == "2020-03-28 23:00:00+00:00"  # mixed offsets: shown in UTC, so text order is time order
    assert by["midnight"].cells[0] == "2021-01-01"  # all midnights: dates
    assert by["day"].cells[1] == "1999-12-28"
    assert by["precise"].cells[0] == "2020-09-13 12:26:40.000000001"  # nanoseconds kept
    # Text order is time order in every date column.
    for column in table.columns[1:]:
        assert column.cells == sorted(column.cells)


def test_csv_timestamps():
    rows = [["a", "2016-12-31 23:00:00+00:00", "2020-01-01T10:00:00Z"], ["b", "2017-01-01 00:00:00+00:00", "2020-01-01"]]
    table = build_table("t", ["name", "at", "mixed"], rows)
    assert [c.type for c in table.columns] == ["text", "date", "text"]  # `z` next to no offset: not orderable as text
    offsets = build_table("o", ["at"], [["2020-01-01 10:00+01:00"], ["2020-01-01 09:30+00:00"]])
    assert offsets.columns[0].type == "text"  # different offsets: text order would not be time order


def test_generated_date_answers_and_literals_are_displayed_cells(tmp_path):
    config = SqlExecConfig(sources=[{"path": parquet_table(tmp_path)}], tasks_per_table=80, renderer="mixed")
    table, _ = load_table(list_tables(config)[0], config)
    generator = SqlExecGenerator(config, 42)
    kept = [r for shard in generator.plan_shards([]) for r in generator.run_shard(shard).kept]
    cells = {cell for i in range(table.n_rows) for cell in table.row(i)}
    literal_checked = answer_checked = 0
    for record in kept:
        meta = record["meta"]
        for answer in meta["answers"]:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", answer):
                assert answer in cells
                answer_checked += 1
        # A date literal is a cell written exactly as shown, or a plain date drawn from the column's range.
        for literal in re.findall(r"'(\d{4}-[^']*)'", meta["encoded_sql"]):
            assert literal in cells or re.fullmatch(r"\d{4}-\d{2}-\d{2}", literal), literal
            literal_checked += 1
    assert answer_checked >= 10 and literal_checked >= 10
