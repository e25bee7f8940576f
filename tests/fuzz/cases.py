"""Build malformed inputs for the fuzz suite: documents, tables, task files and configs.

`build_cases(root, seed)` writes every case's files under `root` and returns the
cases (task files and configs come from `spec_cases.py`); the same seed always gives the same files. Each case is a hand-picked
defect class (a JSONL line that is a list, a CSV row one field short, a config
with a misspelt key, ...) applied at a seeded place of a valid base input, plus
seeded random byte-level mutations of each kind of file.

    PYTHONPATH=. python tests/fuzz/cases.py OUT_DIR [--seed N]   # write the cases and list them
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Case:
    kind: str  # documents | table | task_file | config
    name: str
    path: str  # the file (or directory) the case is about
    options: dict[str, Any] = field(default_factory=dict)  # source / table / config options
    units: int | None = None  # rows, files or tasks in the input: each must be kept or counted


GOOD_DOCS = [
    "The river floods every spring when the snow in the hills melts.",
    "Copper wire carries current in most houses built after 1950.",
    "A lighthouse keeper lived on the island until the light was automated.",
    "Bees turn nectar into honey by fanning water out of it.",
    "The marathon route follows the river before climbing to the old town.",
    "Winter wheat is planted in October so the roots settle before the rain.",
]

BAD_LINES: list[tuple[str, bytes]] = [
    ("list_line", b'[{"a": 1}, {"b": 2}]'),
    ("string_line", b'"x"'),
    ("number_line", b"5"),
    ("null_line", b"null"),
    ("bool_line", b"true"),
    ("text_int", b'{"text": 42}'),
    ("text_float", b'{"text": 4.5e300}'),
    ("text_list", b'{"text": ["a", "b"]}'),
    ("text_dict", b'{"text": {"t": "x"}}'),
    ("text_bool", b'{"text": false}'),
    ("text_null", b'{"text": null}'),
    ("text_empty", b'{"text": ""}'),
    ("text_blank", b'{"text": "   \\t  "}'),
    ("no_text_key", b'{"body": "no text here"}'),
    ("truncated_json", b'{"text": "cut off'),
    ("trailing_comma", b'{"text": "x",}'),
    ("single_quotes", b"{'text': 'python repr'}"),
    ("nan_literal", b'{"text": NaN}'),
    ("bad_utf8", b'{"text": "caf\xe9"}'),
    ("overlong_utf8", b'{"text": "\xc0\xaf"}'),
    ("lone_surrogate_escape", b'{"text": "half \\ud800 pair"}'),
    ("nul_byte", b'{"text": "a\x00b"}'),
    ("u2028_inside", '{"text": "one\u2028two\u2029three\x85four"}'.encode()),
    ("deep_nesting", b'{"text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    ("huge_number", b'{"text": 1' + b"0" * 5000 + b"}"),
    ("duplicate_key", b'{"text": "first", "text": "second"}'),
    ("crlf_line", b'{"text": "windows line ending"}\r'),
    ("garbage_binary", bytes(range(256))),
]


def _jsonl(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


def _lines(data: bytes) -> int:
    """Rows a JSONL reader sees: non-blank pieces between `\\n`s."""
    return len([line for line in data.split(b"\n") if line.strip()])


def _good_lines(rng: random.Random, n: int) -> list[bytes]:
    return [json.dumps({"text": rng.choice(GOOD_DOCS) + f" ({i})", "id": f"d{i}"}).encode() for i in range(n)]


def _mutate_bytes(rng: random.Random, data: bytes, edits: int) -> bytes:
    out = bytearray(data)
    for _ in range(edits):
        op = rng.randrange(4)
        pos = rng.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)  # flip a byte
        elif op == 1:
            out[pos:pos] = bytes([rng.choice(b'{}[]",:\n\\\x00\xff\xe2')])  # insert a structural byte
        elif op == 2 and out:
            del out[pos : pos + rng.randrange(1, 8)]  # cut a run
        else:
            out[pos:pos] = out[max(0, pos - 20) : pos]  # repeat a run
    return bytes(out)


def _document_cases(root: Path, rng: random.Random) -> list[Case]:
    cases = []
    base = root / "documents"
    base.mkdir()
    for name, bad in BAD_LINES:
        for on_error in ("skip", "raise"):
            good = _good_lines(rng, rng.randrange(1, 5))
            lines = good[:]
            lines.insert(rng.randrange(len(lines) + 1), bad)
            path = base / f"{name}-{on_error}.jsonl"
            path.write_bytes(_jsonl(lines))
            cases.append(Case("documents", f"jsonl:{name}:{on_error}", str(path), {"kind": "jsonl", "on_error": on_error}, _lines(_jsonl(lines))))
    for i in range(40):  # random byte mutations of a valid JSONL file
        data = _mutate_bytes(rng, _jsonl(_good_lines(rng, 6)), rng.randrange(1, 12))
        path = base / f"mutated-{i:02d}.jsonl"
        path.write_bytes(data)
        cases.append(Case("documents", f"jsonl:mutated:{i}", str(path), {"kind": "jsonl", "on_error": rng.choice(["skip", "raise"])}, _lines(data)))
    id_cases = {
        "duplicate_ids": [b'{"id": 1, "text": "first"}', b'{"id": 1, "text": "second"}'],
        "missing_id": [b'{"id": 1, "text": "first"}', b'{"text": "no id"}'],
        "null_id": [b'{"id": null, "text": "null id"}', b'{"id": 2, "text": "fine"}'],
        "list_id": [b'{"id": [1, 2], "text": "list id"}'],
    }
    for name, lines in id_cases.items():
        path = base / f"{name}.jsonl"
        path.write_bytes(_jsonl(lines))
        cases.append(Case("documents", f"jsonl:{name}", str(path), {"kind": "jsonl", "id_column": "id"}, len(lines)))
    specials = {
        "empty.jsonl": b"", "blank_lines.jsonl": b"\n\n  \n", "bom.jsonl": b"\xef\xbb\xbf" + _jsonl(_good_lines(rng, 2)),
        "array.json": json.dumps([{"text": "in an array"}, 3, {"text": None}]).encode(),
        "object.json": json.dumps({"text": "one object file"}).encode(),
        "pretty.json": json.dumps({"text": "pretty printed"}, indent=2).encode(),
    }  # fmt: skip
    for name, data in specials.items():
        path = base / name
        path.write_bytes(data)
        units = {"array.json": 3, "object.json": 1, "pretty.json": 1}.get(name, _lines(data.removeprefix(b"\xef\xbb\xbf")))
        cases.append(Case("documents", f"jsonl:{name}", str(path), {"kind": "jsonl"}, units))
    for name, data in {"bad.txt": b"ok\n\xff\xfe", "empty.txt": b"", "binary.md": bytes(range(256)) * 4, "nul.txt": b"a\x00b"}.items():
        folder = base / f"text-{name}"
        folder.mkdir()
        (folder / name).write_bytes(data)
        (folder / "good.txt").write_text(GOOD_DOCS[0])
        cases.append(Case("documents", f"text:{name}", str(folder), {"kind": "text"}, 2))
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = {
        "int_text": pa.table({"text": [1, 2, 3]}),
        "null_text": pa.table({"text": pa.array([None, "fine text"], pa.string())}),
        "list_text": pa.table({"text": [["a"], ["b", "c"]]}),
        "no_text_column": pa.table({"body": ["x", "y"]}),
        "empty_table": pa.table({"text": pa.array([], pa.string())}),
        "binary_text": pa.table({"text": pa.array([b"\xff\xfe", b"ok"], pa.binary())}),
    }
    for name, table in tables.items():
        path = base / f"{name}.parquet"
        pq.write_table(table, path)
        cases.append(Case("documents", f"parquet:{name}", str(path), {"kind": "parquet"}, table.num_rows))
    for name, data in {"not_parquet.parquet": b"PAR1 this is not parquet", "empty.parquet": b""}.items():
        path = base / name
        path.write_bytes(data)
        cases.append(Case("documents", f"parquet:{name}", str(path), {"kind": "parquet"}, None))
    cases.append(Case("documents", "jsonl:missing_path", str(base / "nope" / "x.jsonl"), {"kind": "jsonl"}, None))
    cases.append(Case("documents", "datasets:not_a_dataset", str(base), {"kind": "datasets"}, None))
    return cases


GOOD_CSV = [["city", "state", "population", "founded"]] + [
    [f"town {i}", ["ny", "ca", "tx", "wa"][i % 4], str(1000 + 137 * i), f"18{10 + i}-0{1 + i % 9}-1{i % 9}"] for i in range(24)
]


def _csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    return "".join(delimiter.join(row) + "\n" for row in rows)


def _table_cases(root: Path, rng: random.Random) -> list[Case]:
    base = root / "tables"
    base.mkdir()
    cases = []

    def add(name: str, data: bytes | str, suffix: str = ".csv", units: int | None = None, **options: Any) -> None:
        path = base / f"{name}{suffix}"
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        cases.append(Case("table", f"table:{name}", str(path), options, units))

    def rows_with(edit) -> str:
        rows = [r[:] for r in GOOD_CSV]
        edit(rows, rng.randrange(1, len(rows)))
        return _csv_text(rows)

    for on_error in ("skip", "raise"):
        add(f"short_row-{on_error}", rows_with(lambda r, i: r[i].pop()), on_error=on_error, units=24)
        add(f"long_row-{on_error}", rows_with(lambda r, i: r[i].append("extra")), on_error=on_error, units=24)
        add(f"bad_utf8-{on_error}", rows_with(lambda r, i: r[i].__setitem__(0, "caf\udce9")).encode("utf-8", "surrogateescape"), on_error=on_error, units=24)
    add("empty", "")
    add("header_only", "a,b,c\n")
    add("one_column", "name\n" + "".join(f"n{i}\n" for i in range(10)))
    add("duplicate_headers", "a,a,a\n" + "".join(f"{i},{i * 2},x{i}\n" for i in range(10)))
    add("blank_headers", ",,\n" + "".join(f"{i},{i},{i}\n" for i in range(10)))
    add("all_empty_column", "a,b\n" + "".join(f"{i},\n" for i in range(10)))
    add("unbalanced_quote", 'a,b\n"open,1\n2,3\n')
    add("nul_bytes", "a,b\n1,\x002\n3,4\n")
    add("bom_crlf", "\ufeffa,b\r\n1,2\r\n3,4\r\n")
    add("cr_only", "a,b\r1,2\r3,4\r")
    add("u2028_cell", "a,b\nx\u2028y,1\nz,2\n")
    add("huge_cell", "a,b\n" + "x" * 200_000 + ",1\n2,3\n")
    add("thousand_columns", ",".join(f"c{i}" for i in range(1000)) + "\n" + ",".join(str(i) for i in range(1000)) + "\n")
    add("numbers_as_text", "code,version\n007,24.04\n012,25.10\n100,4.10\n")
    add("mixed_types", "v\n1\nx\n2020-01-01\n\n3.5\n")
    add("weird_headers", '"select","a b","1960","x""y","",eol-server\n1,2,3,4,5,6\n7,8,9,10,11,12\n')
    add("inf_nan", "a,b\ninf,nan\n-inf,1e400\n1,2\n")
    add("semicolon_as_comma", _csv_text(GOOD_CSV, ";"))
    add("tsv_named_csv", _csv_text(GOOD_CSV, "\t"))
    add("binary", bytes(range(256)) * 8)
    add("ragged_everywhere", "a,b,c\n1\n1,2\n1,2,3,4\n1,2,3\n")
    for i in range(30):  # seeded byte mutations of a good table
        add(f"mutated-{i:02d}", _mutate_bytes(rng, _csv_text(GOOD_CSV).encode(), rng.randrange(1, 15)), on_error=rng.choice(["skip", "raise"]))
    add("not_sqlite", b"SQLite format 3\x00 but not really", suffix=".sqlite")
    add("empty_sqlite", b"", suffix=".sqlite")
    add("not_parquet", b"PAR1 garbage", suffix=".parquet")
    add("unknown_suffix", "a,b\n1,2\n", suffix=".xlsx")
    cases.append(Case("table", "table:missing_file", str(base / "missing.csv"), {}, None))
    return cases


def build_cases(root: str | Path, seed: int = 0) -> list[Case]:
    """Write every case under `root` (an empty directory) and return them, deterministically."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    from tests.fuzz.spec_cases import config_cases, task_cases

    return _document_cases(root, rng) + _table_cases(root, rng) + task_cases(root, rng) + config_cases(root, rng)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 0
    for case in build_cases(out, seed):
        print(f"{case.kind:10} {case.name:50} {case.path}")
