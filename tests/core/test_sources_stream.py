"""Sources stream in read order; the run's documents go through the run dir in batches; CSV delimiters are sniffed."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from generators.bonito import BonitoConfig, BonitoGenerator
from generators.chains.config import SifoChainConfig
from generators.chains.sifo import SifoChainGenerator
from generators.sql import SqlExecConfig
from generators.sql.generator import list_tables, load_table
from taskmill import documents as documents_mod
from taskmill.documents import DocumentStream, write_documents
from taskmill.sources import SourceConfig, SourceError, guess_delimiter, iter_documents, load_source, read_csv_rows, table_delimiter


def _lines(path, n, start=0):
    path.write_text("".join(json.dumps({"text": f"document number {i}"}) + "\n" for i in range(start, start + n)))
    return str(path)


def test_jsonl_ids_and_limit_follow_line_order_not_text_order(tmp_path):
    path = _lines(tmp_path / "f.jsonl", 12)
    docs, _ = load_source(SourceConfig(kind="jsonl", path=path))
    assert [d["id"] for d in docs] == [f"f.jsonl:{i}" for i in range(12)]  # text order put f.jsonl:10 before f.jsonl:2
    docs, report = load_source(SourceConfig(kind="jsonl", path=path, limit=3))
    assert [d["text"] for d in docs] == ["document number 0", "document number 1", "document number 2"]
    assert report["documents"] == 3


def test_files_are_read_in_natural_order(tmp_path):
    (tmp_path / "d").mkdir()
    _lines(tmp_path / "d" / "part-10.jsonl", 1, start=10)
    _lines(tmp_path / "d" / "part-2.jsonl", 1, start=2)
    docs, _ = load_source(SourceConfig(kind="jsonl", path=str(tmp_path / "d")))
    assert [d["id"] for d in docs] == ["part-2.jsonl:0", "part-10.jsonl:0"]


def test_parquet_is_read_in_batches_in_row_order_with_only_the_needed_columns(tmp_path, monkeypatch):
    import taskmill.sources as sources

    monkeypatch.setattr(sources, "BATCH_ROWS", 7)
    path = tmp_path / "docs.parquet"
    n = 50
    table = pa.table({"text": [f"row {i} text" for i in range(n)], "key": [f"k{i}" for i in range(n)], "blob": [b"x" * 10] * n})
    pq.write_table(table, path, row_group_size=16)
    docs, report = load_source(SourceConfig(kind="parquet", path=str(path), id_column="key", limit=40))
    assert [d["id"] for d in docs] == [f"k{i}" for i in range(40)] and docs[39]["text"] == "row 39 text"
    assert report["documents"] == 40 and report["skipped"] == {}


def test_same_basename_in_two_folders_gives_duplicate_ids_that_are_counted(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        _lines(tmp_path / folder / "docs.jsonl", 2)
    docs, report = load_source(SourceConfig(kind="jsonl", path=str(tmp_path / "*" / "docs.jsonl")))
    assert [d["id"] for d in docs] == ["docs.jsonl:0", "docs.jsonl:1"]
    assert report["skipped"] == {"duplicate_id": 2}
    assert report["examples"]["duplicate_id"][0] == f"{tmp_path / 'b' / 'docs.jsonl'}:1: id 'docs.jsonl:0' already used by an earlier row"


def test_iter_documents_is_lazy(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"text": "first document"}\n{"text": 5}\n' + b"not json\n" * 3)
    stream = iter_documents(SourceConfig(kind="jsonl", path=str(path), on_error="raise"))
    assert next(stream)["text"] == "first document"  # the bad line 2 is not read yet
    with pytest.raises(SourceError, match=r"f\.jsonl:2: "):
        next(stream)


def _sources(tmp_path):
    path = _lines(tmp_path / "f.jsonl", 23)
    return [SourceConfig(kind="jsonl", path=path), SourceConfig(kind="inline", texts=["an inline text", " ", "another one"])]


@pytest.mark.parametrize(("shard_rows", "read_rows"), [(10_000, 1024), (4, 3), (1, 1)])
def test_document_stream_and_shard_plans_do_not_depend_on_batch_sizes(tmp_path, monkeypatch, shard_rows, read_rows):
    monkeypatch.setattr(documents_mod, "SHARD_ROWS", shard_rows)
    monkeypatch.setattr(documents_mod, "READ_ROWS", read_rows)
    stream, reports = write_documents(str(tmp_path / "run"), _sources(tmp_path))
    expected = [d for source in _sources(tmp_path) for d in load_source(source)[0]]
    assert len(stream) == 25 and list(stream) == expected and list(stream) == expected  # re-iterable
    assert [r["documents"] for r in reports] == [23, 2] and reports[1]["skipped"] == {"empty_or_short": 1}
    bonito = BonitoGenerator(BonitoConfig.model_validate({"method": "bonito", "shard_size": 4, "tasks": {"qa": None, "ynqa": 6}}), 3)
    shards = list(bonito.iter_shards(stream))
    assert shards == bonito.plan_shards(expected)
    items = [(i["task_type"], i["doc_id"]) for s in shards for i in s["items"]]
    assert len(items) == 25 + 6 and [len(s["items"]) for s in shards] == [4] * 7 + [3]
    picked = [doc_id for task, doc_id in items if task == "yes-no question answering"]
    assert len(picked) == 6
    assert picked == [d["id"] for d in expected if d["id"] in set(picked)], "a count's sample keeps document order"
    sifo = SifoChainGenerator(SifoChainConfig(shard_size=10), 1)
    assert [[d["id"] for d in s] for s in sifo.iter_shards(stream)] == [[d["id"] for d in expected[i : i + 10]] for i in (0, 10, 20)]


def test_rewriting_the_sources_stage_replaces_old_shards(tmp_path, monkeypatch):
    monkeypatch.setattr(documents_mod, "SHARD_ROWS", 5)
    run = str(tmp_path / "run")
    write_documents(run, _sources(tmp_path))
    stream, _ = write_documents(run, [SourceConfig(kind="inline", texts=["only this one"])])
    assert [d["text"] for d in stream] == ["only this one"]
    assert [d["text"] for d in DocumentStream(run, 1)] == ["only this one"]


SPACED = "city state population\nalba ny 100\nbrook ca 200\ncove tx 300\n"


def test_space_delimited_csv_is_sniffed_into_columns(tmp_path):
    path = tmp_path / "towns.csv"
    path.write_text(SPACED)
    assert guess_delimiter(str(path)) == " "
    header, rows, report = read_csv_rows(str(path), " ")
    assert header == ["city", "state", "population"] and rows[2] == ["cove", "tx", "300"] and report["skipped"] == {}
    config = SqlExecConfig(sources=[{"path": str(path)}], tasks_per_table=4)
    assert table_delimiter(config.sources[0]) == " "
    table, _ = load_table(list_tables(config)[0], config)
    assert [c.header for c in table.columns] == ["city", "state", "population"] and table.n_rows == 3
    assert any("delimiter ' '" in note for note in table.notes)


@pytest.mark.parametrize("text", [
    "city   state  population\nalba   ny     100\nbrook  ca     200\n",  # aligned columns: runs of spaces
    "full name\nAda Lovelace\nAlan Mathison Turing\n",  # one column whose name and values hold spaces
])  # fmt: skip
def test_csv_whose_spaces_are_not_a_consistent_delimiter_is_refused_naming_file_and_option(tmp_path, text):
    path = tmp_path / "odd.csv"
    path.write_text(text)
    with pytest.raises(SourceError, match=rf"^{path}: .*set the source's `delimiter` option"):
        guess_delimiter(str(path))
    config = SqlExecConfig(sources=[{"path": str(path), "delimiter": ","}], tasks_per_table=2)
    assert table_delimiter(config.sources[0]) == ","  # a delimiter the user set is used as is


def test_comma_semicolon_and_single_column_csv_keep_their_guess(tmp_path):
    cases = {"a.csv": ("x,y\n1,2\n", ","), "b.csv": ("x;y\n1;2\n", ";"), "c.csv": ("x\n1\n2\n", ","), "d.csv": ("x\ty z\n1\t2 3\n", "\t")}
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        assert guess_delimiter(str(tmp_path / name)) == expected, name
