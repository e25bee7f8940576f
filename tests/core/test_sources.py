"""Document and CSV sources: every bad row is skipped and counted by reason, or an error naming file:line."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taskmill.sources import SourceConfig, SourceError, load_documents, load_source, read_csv_rows

BAD_JSONL = (
    b'{"text": "a good document about rivers"}\n'
    b'[{"a": 1}, {"b": 2}]\n'
    b'"x"\n'
    b"5\n"
    b'{"text": 42}\n'
    b"this is not json\n"
    b'{"text": "caf\xe9 au lait"}\n'
    b'{"text": null}\n'
    b'{"body": "no text field"}\n'
    b'{"text": "a second good document"}\n'
)


def _jsonl(tmp_path, data, name="docs.jsonl"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_bad_jsonl_rows_are_skipped_and_counted_by_reason(tmp_path):
    path = _jsonl(tmp_path, BAD_JSONL)
    docs, report = load_source(SourceConfig(kind="jsonl", path=path))
    assert [d["text"] for d in docs] == ["a good document about rivers", "a second good document"]
    assert [d["id"] for d in docs] == ["docs.jsonl:0", "docs.jsonl:9"]  # ids keep the 0-based line index
    assert report["skipped"] == {
        "invalid_json": 1, "invalid_utf8": 1, "missing_text_column": 1,
        "not_an_object": 3, "text_missing": 1, "text_not_string": 1,
    }  # fmt: skip
    assert report["documents"] == 2
    assert report["examples"]["not_an_object"][0] == f"{path}:2: expected a JSON object with 'text', got list"
    assert report["examples"]["text_not_string"] == [f"{path}:5: 'text' is not a string (got int 42)"]
    assert report["examples"]["invalid_utf8"][0].startswith(f"{path}:7: byte 0xe9")
    # the older two-value API carries the same counts
    assert load_documents(SourceConfig(kind="jsonl", path=path))[1]["not_an_object"] == 3


@pytest.mark.parametrize(
    ("line", "reason"),
    [(b'[{"a":1},{"b":2}]', "not_an_object"), (b'"x"', "not_an_object"), (b"5", "not_an_object"),
     (b'{"text": 42}', "text_not_string"), (b"{oops", "invalid_json"), (b'{"text": "\xff"}', "invalid_utf8")],
)  # fmt: skip
def test_on_error_raise_names_file_and_line(tmp_path, line, reason):
    path = _jsonl(tmp_path, b'{"text": "fine"}\n\n' + line + b"\n")
    with pytest.raises(SourceError, match=rf"^{path}:3: .*\(reason {reason};"):
        load_source(SourceConfig(kind="jsonl", path=path, on_error="raise"))


def test_jsonl_splits_on_newline_only(tmp_path):
    # U+2028, U+2029 and U+0085 are legal inside JSON strings; str.splitlines() would cut the row there.
    text = "line one\u2028line two\u2029and\x85three"
    path = _jsonl(tmp_path, (json.dumps({"text": text}, ensure_ascii=False) + "\r\n").encode())
    docs, report = load_source(SourceConfig(kind="jsonl", path=path, on_error="raise"))
    assert [d["text"] for d in docs] == [text] and report["skipped"] == {}


def test_json_array_file_and_duplicate_ids(tmp_path):
    path = _jsonl(tmp_path, json.dumps([{"id": 1, "text": "first text"}, {"id": 1, "text": "again"}, 7]).encode(), "a.json")
    docs, report = load_source(SourceConfig(kind="jsonl", path=path, id_column="id"))
    assert [(d["id"], d["text"]) for d in docs] == [("1", "first text")]
    assert report["skipped"] == {"duplicate_id": 1, "not_an_object": 1}


def test_non_string_text_in_parquet_is_skipped(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"text": ["real text", None, ""], "n": [1, 2, 3]}), path)
    docs, report = load_source(SourceConfig(kind="parquet", path=str(path)))
    assert [d["text"] for d in docs] == ["real text"]
    assert report["skipped"] == {"empty_or_short": 1, "text_missing": 1}
    docs, report = load_source(SourceConfig(kind="parquet", path=str(path), text_column="n"))
    assert docs == [] and report["skipped"] == {"text_not_string": 3}


def test_text_files_with_bad_bytes_and_missing_or_damaged_files(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "good.txt").write_text("plain text")
    (tmp_path / "d" / "bad.txt").write_bytes(b"ok\nnot \xff utf8")
    docs, report = load_source(SourceConfig(kind="text", path=str(tmp_path / "d")))
    assert [d["text"] for d in docs] == ["plain text"] and report["skipped"] == {"invalid_utf8": 1}
    assert report["examples"]["invalid_utf8"][0].startswith(f"{tmp_path / 'd' / 'bad.txt'}:2:")
    with pytest.raises(SourceError, match="no such file or directory"):
        load_source(SourceConfig(kind="jsonl", path=str(tmp_path / "missing.jsonl")))
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(SourceError, match=r"broken\.parquet: not a readable Parquet file"):
        load_source(SourceConfig(kind="parquet", path=str(tmp_path / "broken.parquet")))


def test_limit_counts_documents_kept():
    docs, _ = load_source(SourceConfig(kind="inline", texts=["a b", "", "c d", "e f"], limit=2))
    assert [d["text"] for d in docs] == ["a b", "c d"]


RAGGED = "city,state,population\nalba,ny,100\nbrook,ca\ncove,tx,300,extra\n\n\"dale\nnorth\",wa,400\n"


def test_ragged_csv_rows_are_skipped_not_padded_or_cut(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(RAGGED)
    header, rows, report = read_csv_rows(str(path))
    assert header == ["city", "state", "population"]
    assert rows == [["alba", "ny", "100"], ["dale\nnorth", "wa", "400"]]
    assert report["skipped"] == {"too_few_fields": 1, "too_many_fields": 1}
    assert report["examples"]["too_few_fields"] == [f"{path}:3: 2 fields, the header has 3"]
    with pytest.raises(SourceError, match=rf"^{path}:3: 2 fields, the header has 3 \(reason too_few_fields"):
        read_csv_rows(str(path), on_error="raise")


def test_csv_bytes_that_are_not_utf8_are_replaced_and_counted_or_raise(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\ncaf\xe9,1\nok,2\n")
    header, rows, report = read_csv_rows(str(path))
    assert rows == [["caf\ufffd", "1"], ["ok", "2"]] and report["replaced"] == {"invalid_utf8": 1}
    with pytest.raises(SourceError, match=rf"^{path}:2: byte 0xe9 is not UTF-8"):
        read_csv_rows(str(path), on_error="raise")


def test_empty_or_short_documents_name_their_place_and_never_raise(tmp_path):
    """README: skipped rows are counted by reason "with the first places as file:line"; empty_or_short had none."""
    path = _jsonl(tmp_path, b'{"text": "a long enough document"}\n{"text": "   "}\n{"text": "tiny"}\n')
    for on_error in ("skip", "raise"):
        docs, report = load_source(SourceConfig(kind="jsonl", path=path, min_chars=5, on_error=on_error))
        assert [d["text"] for d in docs] == ["a long enough document"]
        assert report["skipped"] == {"empty_or_short": 2}
        assert report["examples"]["empty_or_short"] == [
            f"{path}:2: 0 characters after stripping whitespace, below min_chars (5)",
            f"{path}:3: 4 characters after stripping whitespace, below min_chars (5)",
        ]


def test_csv_bad_row_is_named_by_its_first_line(tmp_path):
    """A row whose quote is not closed swallows the next lines; it was reported at its last line."""
    path = tmp_path / "t.csv"
    path.write_text('a,b,c\n1,2,3\n"multi\nline",5,6\n7,"open,8\n9,10,11\n12,13,14\n')
    header, kept, report = read_csv_rows(str(path))
    assert header == ["a", "b", "c"] and kept == [["1", "2", "3"], ["multi\nline", "5", "6"]]
    assert report["examples"] == {
        "too_few_fields": [f"{path}:5: 2 fields, the header has 3 (the row runs over lines 5-7: check for an unclosed quote)"]
    }
    with pytest.raises(SourceError, match=rf"^{path}:5: 2 fields"):
        read_csv_rows(str(path), on_error="raise")
