"""Malformed table sources: a clear error naming the file, or rejects with a reason; never a silent loss."""

import pytest

from generators.sql import SqlExecConfig, SqlExecGenerator
from generators.sql.generator import list_tables, load_table


def run(config):
    generator = SqlExecGenerator(config, 42)
    kept, rejects, stats = [], [], []
    for shard in generator.plan_shards([]):
        out = generator.run_shard(shard)
        kept += out.kept
        rejects += out.rejects
        stats.append(out.stats)
    return kept, rejects, stats


def test_ragged_rows_are_skipped_and_noted(tmp_path):
    lines = ["name,n,x"] + [f"r{i},{i},{i % 3}" for i in range(20)]
    lines[5] = "short,5"  # line 6: too few fields
    lines[9] = "long,9,1,extra"  # line 10: too many
    (tmp_path / "ragged.csv").write_text("\n".join(lines) + "\n\n")
    config = SqlExecConfig(sources=[{"path": str(tmp_path / "ragged.csv")}], tasks_per_table=10)
    table, _ = load_table(list_tables(config)[0], config)
    assert table.n_rows == 18 and "short" not in table.columns[0].cells
    assert any("skipped 2 rows" in note and "lines 6, 10" in note for note in table.notes)
    kept, _, stats = run(config)
    assert kept and any("skipped 2 rows" in note for note in stats[0]["notes"])


def test_non_utf8_bytes_are_noted(tmp_path):
    (tmp_path / "latin1.csv").write_bytes("city,n\nTromsø,1\nOslo,2\n".encode("latin-1"))
    config = SqlExecConfig(sources=[{"path": str(tmp_path / "latin1.csv")}], tasks_per_table=4)
    table, _ = load_table(list_tables(config)[0], config)
    assert table.columns[0].cells[0] == "troms\ufffd"
    assert any("1 rows" in note and "not UTF-8" in note for note in table.notes)


def test_unreadable_tables_become_rejects_and_the_run_goes_on(tmp_path):
    (tmp_path / "huge_field.csv").write_text("a,b\n1," + "x" * 200_000 + "\n")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet at all")
    (tmp_path / "fine.csv").write_text("a,b\n" + "".join(f"k{i},{i}\n" for i in range(10)))
    config = SqlExecConfig(
        sources=[{"path": str(tmp_path / n)} for n in ("huge_field.csv", "broken.parquet", "fine.csv")],
        tasks_per_table=3,
    )
    kept, rejects, _ = run(config)
    assert kept and all(r["source_id"] == "table:fine" for r in kept)
    unreadable = [r for r in rejects if r["reject_reason"] == "unreadable_table"]
    assert {r["source_id"] for r in unreadable} == {"table:huge_field", "table:broken"} and len(unreadable) == 6
    messages = {r["source_id"]: r["meta"]["curation"]["detail"]["message"] for r in unreadable}
    assert "huge_field.csv, line 2" in messages["table:huge_field"] and "field larger" in messages["table:huge_field"]
    assert "ArrowInvalid" in messages["table:broken"]


def test_a_file_that_is_not_a_database_is_named(tmp_path):
    (tmp_path / "notes.sqlite").write_text("just some text, not sqlite")
    config = SqlExecConfig(sources=[{"path": str(tmp_path / "notes.sqlite")}])
    with pytest.raises(ValueError, match=r"sources\[0\].path: cannot read sqlite file .*notes.sqlite.*not a database"):
        list_tables(config)


def test_semicolon_csv_is_read_with_its_delimiter(tmp_path):
    (tmp_path / "eu.csv").write_text("stadt;einwohner;fläche\nberlin;3850809;891,1\nhamburg;1892122;755,2\n")
    config = SqlExecConfig(sources=[{"path": str(tmp_path / "eu.csv")}], tasks_per_table=4)
    table, _ = load_table(list_tables(config)[0], config)
    assert table.header == ["stadt", "einwohner", "fläche"] and table.columns[0].cells == ["berlin", "hamburg"]
    assert any("delimiter ';'" in note for note in table.notes)
    # A delimiter the user gives is used as given: here every row then has 2 fields for 1 header field.
    explicit = SqlExecConfig(sources=[{"path": str(tmp_path / "eu.csv"), "delimiter": ","}], tasks_per_table=4)
    wrong, _ = load_table(list_tables(explicit)[0], explicit)
    assert wrong.n_rows == 0 and any("skipped 2 rows" in note for note in wrong.notes)
