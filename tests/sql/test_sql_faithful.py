"""Issue 9: the question shown must mean what was executed.

Headers that are not plain identifiers are quoted as SQLite quotes them;
answers that are cells equal the cells as displayed; number-looking text
stays text; empty cells stay in multi-row answers.
"""

import csv
import re
import sqlite3

import pytest

from generators.sql import SqlExecConfig, SqlExecGenerator, denotation_match
from generators.sql.answers import format_answers, parse_answers
from generators.sql.execute import TableView
from generators.sql.generator import list_tables, load_table
from generators.sql.instantiate import show_literal
from generators.sql.names import quote_identifier
from generators.sql.tables import build_table

CELL_SHAPES = ("project", "superlative", "distinct", "nested_in", "scalar_compare", "group")


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def generate(path, **settings):
    config = SqlExecConfig(sources=[{"path": str(path)}], **settings)
    generator = SqlExecGenerator(config, 42)
    kept, rejects = [], []
    for shard in generator.plan_shards([]):
        out = generator.run_shard(shard)
        kept += out.kept
        rejects += out.rejects
    table, _ = load_table(list_tables(config)[0], config)
    return table, kept, rejects


def shown_rows(record):
    dropped = {i for start, stop in record["meta"]["dropped_rows"] for i in range(start, stop)}
    return [i for i in range(record["meta"]["rows_total"]) if i not in dropped]


def answers_are_cells(record):
    meta = record["meta"]
    return meta["shape"] in CELL_SHAPES or re.match(r"select (min|max)\(", meta["template"]) is not None


def test_quote_identifier_like_sqlite():
    assert quote_identifier("team") == "team" and quote_identifier("last_match2") == "last_match2"
    assert quote_identifier("1960") == '"1960"'
    assert quote_identifier("eol-server") == '"eol-server"'
    assert quote_identifier("a 2") == '"a 2"'
    assert quote_identifier("order") == '"order"' and quote_identifier("group") == '"group"'
    assert quote_identifier('say "hi"') == '"say ""hi"""'
    assert quote_identifier("sepal length (cm)") == '"sepal length (cm)"'
    # What SQLite itself accepts: every quoted name resolves to its column.
    names = ["1960", "eol-server", "a 2", "order", 'say "hi"', "ünïcode"]
    conn = sqlite3.connect(":memory:")
    conn.execute(f"create table t ({', '.join(quote_identifier(n) for n in names)})")
    conn.execute("insert into t values (1, 2, 3, 4, 5, 6)")
    assert conn.execute(f"select {', '.join(quote_identifier(n) for n in names)} from t").fetchone() == (1, 2, 3, 4, 5, 6)


@pytest.fixture
def awkward_csv(tmp_path):
    # Issue 9's headers: numbers, a hyphen, a keyword, a quote, and duplicates renamed with a space.
    header = ["country", "1960", "1961", "eol-server", "a", "a", "order", 'say "hi"']
    rows = [
        [f"land {i}", f"{5 + i * 0.37:.3f}", str(i % 7), f"srv-{i % 3}", str(i % 4), str(i % 5), ["x", "y"][i % 2], str(i)]
        for i in range(30)
    ]
    return write_csv(tmp_path / "awkward.csv", header, rows)


def test_encoded_sql_quotes_headers_and_runs_on_a_table_named_by_them(awkward_csv):
    table, kept, _ = generate(awkward_csv, tasks_per_table=80, renderer="mixed", max_columns=20)
    assert table.header == ["country", "1960", "1961", "eol-server", "a", "a 2", "order", 'say "hi"']
    # A real SQLite table whose columns carry the headers, as the model is told.
    conn = sqlite3.connect(":memory:")
    conn.execute(f"create table w ({', '.join(quote_identifier(h) for h in table.header)})")
    rows = [[(c.numbers[i] if c.type == "number" else c.cells[i]) for c in table.columns] for i in range(table.n_rows)]
    conn.executemany(f"insert into w values ({', '.join('?' * len(table.header))})", rows)
    by_id = {c.sql_name: c for c in table.columns}
    quoted_seen = set()
    for record in kept:
        meta = record["meta"]
        conn.execute("delete from w")
        conn.executemany(f"insert into w values ({', '.join('?' * len(table.header))})", [rows[i] for i in shown_rows(record)])
        # The executed SQL with each column id written as the model sees its header.
        named = re.sub(r"\bc(\d+)(?:_number)?\b", lambda m: quote_identifier(by_id["c" + m.group(1)].header), meta["executable_sql"])
        values = [v for row in conn.execute(named, meta["params"]).fetchall() for v in row]
        assert denotation_match([("" if v is None else str(v).lower()) for v in values], meta["answers"]), named
        # ... and that is what the encoded SQL says, once `from w` is implicit and literals are inlined.
        for header in meta["columns"].values():
            if quote_identifier(header) != header:
                assert quote_identifier(header) in meta["encoded_sql"]
                quoted_seen.add(header)
        assert "a 2 " not in meta["encoded_sql"].replace('"a 2"', "") and "eol-server" not in meta["encoded_sql"].replace(
            '"eol-server"', ""
        )
        if meta["renderer"] == "tapex":
            assert record["instruction"].startswith(meta["encoded_sql"].lower() + " col : country | 1960 | 1961")
    assert {"1960", "1961", "eol-server", "a 2", "order"} <= quoted_seen


def test_csv_number_looking_text_stays_text():
    rows = [
        ["24.04", "24.04", "007", "1", "6.3729999999999976", "1234567890123456789", "2.50", "2.0"],
        ["25.10", "25.10", "012", "2", "0.1", "1234567890123456788", "3.00", "10.25"],
        ["3.6", "4.10", "100", "3", "2.5", "1", "1.25", "3"],
    ]
    header = ["version", "release", "code", "n", "ratio", "big id", "price", "score"]
    table = build_table("t", header, rows)
    types = {c.header: c.type for c in table.columns}
    assert types == {
        "version": "text",  # 25.10 next to 3.6: not a number written as numbers are
        "release": "number",  # one width of decimals throughout: a fixed-point column
        "code": "text",  # leading zeros: codes
        "n": "number",
        "ratio": "number",
        "big id": "text",  # 19 digits: a REAL would merge 1234567890123456789 and ...788
        "price": "number",
        "score": "number",
    }
    view = TableView(table, range(3))
    by = {c.header: c for c in table.columns}

    def answer(sql, column):
        result = view.run(sql)
        return view.display_answers(result, [column])

    # Issue 9: max(version) gave 25.1, codes 7.0, integer cells 1.0; a cell answer is the cell as shown.
    assert answer(f"select max({by['release'].num_name}) from w", by["release"]) == ["25.10"]
    assert answer(f"select min({by['n'].num_name}) from w", by["n"]) == ["1"]
    # Writer noise beyond a float's 15 digits is shown, stored and answered in one formatting.
    assert by["ratio"].cells[0] == "6.373"
    assert answer(f"select max({by['ratio'].num_name}) from w", by["ratio"]) == ["6.373"]
    assert answer(f"select sum({by['ratio'].num_name}) from w", None) == ["8.973"]
    assert answer(f"select {by['code'].sql_name} from w where {by['n'].num_name} < 3", by["code"]) == ["007", "012"]
    assert answer(f"select max({by['version'].sql_name}) from w", by["version"]) == ["3.6"]  # text order, as executed
    assert answer(f"select max({by['price'].num_name}) from w", by["price"]) == ["3.00"]
    # Computed values keep the spec's form.
    assert answer(f"select sum({by['n'].num_name}) from w", None) == ["6.0"]
    assert show_literal(25.1, "25.10") == "25.10" and show_literal(1000, "1,000") == "1000"
    # A column the user declares text keeps its text exactly.
    as_text = build_table("t", header, rows, column_types={"ratio": "text"})
    assert as_text.columns[4].type == "text" and as_text.columns[4].cells[0] == "6.3729999999999976"


def test_typed_sources_keep_text_text(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    db = sqlite3.connect(tmp_path / "typed.sqlite")
    db.execute("create table t (version text, code text, n integer, ratio real, big integer)")
    db.executemany(
        "insert into t values (?, ?, ?, ?, ?)",
        [("24.04", "007", 1, 6.3729999999999976, 2**60), ("25.10", "012", 2, 0.1, 5), ("4.10", "100", 3, 2.5, 7)],
    )
    db.commit()
    db.close()
    pq.write_table(pa.table({"version": ["24.04", "25.10"], "n": [1.0, 2.0], "x": [0.1 + 0.2, 1.5]}), tmp_path / "t.parquet")
    config = SqlExecConfig(sources=[{"path": str(tmp_path / "typed.sqlite")}, {"path": str(tmp_path / "t.parquet")}])
    tables = {e["table_id"]: load_table(e, config)[0] for e in list_tables(config)}
    sqlite_t, parquet_t = tables["typed/t"], tables["t"]
    assert [c.type for c in sqlite_t.columns] == ["text", "text", "number", "number", "text"]
    assert sqlite_t.columns[3].cells == ["6.373", "0.1", "2.5"]  # one float formatting, shown and stored
    assert sqlite_t.columns[4].cells[0] == str(2**60)  # beyond 2**53: text, exact
    assert [c.type for c in parquet_t.columns] == ["text", "number", "number"]
    assert parquet_t.columns[1].cells == ["1", "2"] and parquet_t.columns[2].cells == ["0.3", "1.5"]
    view = TableView(sqlite_t, range(3))
    result = view.run("select max(c4_number) from w")
    assert view.display_answers(result, [sqlite_t.columns[3]]) == ["6.373"]


def test_empty_cells_and_commas_in_generated_answers(tmp_path):
    rows = [
        ["nuevo leon, north", "", "1"], ["yucatan", "south", "1"], ["", "east", "1"], ["sonora", "north", "2"],
        ["baja, sur", "", "2"], ["jalisco", "west", "1"],
    ]  # fmt: skip
    path = write_csv(tmp_path / "states.csv", ["state", "region", "n"], rows)
    table, kept, _ = generate(path, tasks_per_table=120)
    seen_empty = seen_comma = False
    for record in kept:
        meta = record["meta"]
        assert parse_answers(record["output"]) == meta["answers"]
        assert record["output"] == format_answers(meta["answers"])
        # Re-executed on the rows shown: as many values as the SQL returns, empty cells included.
        view = TableView(table, shown_rows(record))
        result = view.run(meta["executable_sql"], meta["params"])
        assert len(result.answers) == len(meta["answers"])
        seen_empty |= "" in meta["answers"]
        seen_comma |= any(", " in a for a in meta["answers"])
    assert seen_empty and seen_comma
    # The case: the rows with n = 1 have 4 states, one of them empty.
    view = TableView(table, range(table.n_rows))
    result = view.run("select c1 from w where c3_number = 1")
    assert format_answers(view.display_answers(result, [table.columns[0]])) == '"nuevo leon, north", yucatan, "", jalisco'


def test_cell_answers_equal_displayed_cells_on_crafted_table(tmp_path):
    rows = [
        [f"v{i}", ["24.04", "25.10", "4.10"][i % 3], f"{i:03d}", str(i % 4), f"{i * 0.1:.1f}", f"2020-0{1 + i % 9}-01"]
        for i in range(40)
    ]
    path = write_csv(tmp_path / "mix.csv", ["name", "version", "code", "n", "x", "day"], rows)
    table, kept, _ = generate(path, tasks_per_table=150, renderer="mixed")
    assert [c.type for c in table.columns] == ["text", "number", "text", "number", "number", "date"]
    checked = 0
    for record in kept:
        if not answers_are_cells(record):
            continue
        shown = {cell for i in shown_rows(record) for cell in table.row(i)}
        for answer in record["meta"]["answers"]:
            assert answer in shown or answer == "", (record["meta"]["encoded_sql"], answer)
            checked += 1
        assert not re.search(r"\b25\.1\b(?!0)", record["meta"]["encoded_sql"])  # literals as displayed
    assert checked > 100
