"""Spec test 1 (execution ground truth, 1–10 answer rule) and the sandbox."""

import os

import pytest

from generators.sql.execute import TableView
from generators.sql.tables import build_table
from sqlgen_fixtures import spec_table


@pytest.fixture
def view():
    table = spec_table()
    v = TableView(table, range(table.n_rows), timeout_s=0.2)
    yield v
    v.close()


def output(result):
    return ", ".join(str(a).lower() for a in result.answers)


def test_spec_execution_table(view):
    assert view.run("select c1 from w order by c3_number asc limit 1").answers == ["falcons"]
    assert view.run("select c2 from w where c4_number = 5").answers == ["bergen"]
    assert output(view.run("select sum(c4_number) from w")) == "9.0"
    assert view.run("select count(c1) from w where c4_number > 2").answers == [2]
    assert output(view.run("select c1 from w where c4_number > 2 order by c3_number desc")) == "herons, falcons"
    assert view.run("select c1 from w where c3_number = 2001").reason == "empty_result"
    assert view.run("select 'none' from w limit 1").reason == "empty_result"


def test_numbers_are_real_twins(view):
    assert view.run("select typeof(c3_number) from w limit 1").reason == "sql_error"  # typeof is not allow-listed
    assert view.run("select c3_number from w where c1 = 'lynx'").answers == [1950.0]
    assert view.run("select c3 from w where c1 = 'lynx'").answers == ["1950"]


def test_more_than_ten_answers_rejected():
    table = build_table("eleven", ["name"], [[f"n{i}"] for i in range(11)])
    view = TableView(table, range(11))
    assert view.run("select c1 from w").reason == "too_many_answers"
    assert view.run("select c1 from w limit 10").answers == [f"n{i}" for i in range(10)]
    assert view.run("select c1 from w", max_answers=11).answers is not None


def test_empty_cells_kept_in_multi_row_answers():
    # The spec drops NULLs; issue 9 keeps them: 3 matching rows answer 3 values.
    table = build_table("gaps", ["name", "score"], [["a", "1"], ["", "2"], ["c", None]])
    view = TableView(table, range(3))
    result = view.run("select c1 from w")
    assert result.answers == ["a", None, "c"]
    assert view.display_answers(result, [table.columns[0]]) == ["a", "", "c"]
    two = view.run("select c1, c2 from w")
    assert two.width == 2 and view.display_answers(two, table.columns) == ["a", "1", "", "2", "c", ""]
    # An answer with no value at all is still empty.
    assert view.run("select c1 from w where c2_number = 2").reason == "empty_result"
    assert view.run("select c2_number from w where c1 = 'c'").reason == "empty_result"


def test_view_holds_only_its_rows(view):
    view.show([0, 2])
    assert view.run("select count(*) from w").answers == [2]
    assert view.run("select c1 from w where c1 = 'herons'").reason == "empty_result"
    assert view.run("select c1 from w where c1 = ?", ["lynx"]).answers == ["lynx"]


@pytest.mark.parametrize(
    "sql",
    [
        "attach database '/tmp/taskmill-sql-escape.db' as x",
        "select load_extension('/tmp/taskmill-sql-escape')",
        "select readfile('/etc/passwd')",
        "select * from sqlite_master",
        "pragma query_only = 0",
        "pragma table_info(w)",
        "vacuum into '/tmp/taskmill-sql-escape.db'",
        "delete from w",
        "insert into w (c1) values ('x')",
        "update w set c1 = 'x'",
        "create table z (a)",
        "drop table w",
        "select 1 from w; delete from w",
        "select zeroblob(1000000000)",
        "select printf('%.*c', 1000000000, 'x')",
        "with recursive r(x) as (select 1 union all select x + 1 from r) select count(*) from r",
    ],
)
def test_escapes_fail_safely(view, sql):
    result = view.run(sql)
    assert result.answers is None and result.reason == "sql_error"
    assert not os.path.exists("/tmp/taskmill-sql-escape.db")
    assert view.run("select count(*) from w").answers == [3]  # the table is intact


def test_runaway_query_times_out():
    table = build_table("big", ["n"], [[str(i)] for i in range(60)])
    view = TableView(table, range(60), timeout_s=0.05)
    result = view.run("select count(*) from w a, w b, w c, w d, w e, w f")
    assert result.reason == "timeout"
    assert view.run("select count(*) from w").answers == [60]  # usable after the abort


def test_hostile_cells_are_data_not_sql():
    hostile = ["o'brien", "x'; drop table w; --", 'say "hi"', "line\nbreak", "a | b", "z" * 10_000, "%_like"]
    table = build_table("hostile", ["name", "n"], [[h, str(i)] for i, h in enumerate(hostile)], max_cell_chars=80)
    names = table.columns[0].cells
    assert names[0] == "o'brien" and names[3] == "line break" and names[4] == "a / b" and len(names[5]) == 80
    view = TableView(table, range(len(hostile)))
    for i, cell in enumerate(names):
        assert view.run("select c2 from w where c1 = ?", [cell]).answers == [str(i)]
    assert view.run("select count(*) from w").answers == [len(hostile)]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from generators.sql.linearize import RenderedView  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=6))
def test_any_cell_text_stays_data(cells):
    table = build_table("fuzz", ["text; x", "k"], [[c, str(i)] for i, c in enumerate(cells)], max_cell_chars=120)
    view = TableView(table, range(table.n_rows))
    if table.header[0] != "text; x":
        # every cell of the text column meant "missing" (e.g. "NULL"): the empty column is dropped
        assert table.header == ["k"]
        return
    shown = table.columns[0].cells
    for i, cell in enumerate(shown):
        if cell is not None:
            assert str(i) in view.run("select c2 from w where c1 = ?", [cell]).answers
            assert "\n" not in cell and "|" not in cell and len(cell) <= 120
    text = RenderedView(table.header, view.display_rows()).render("instruction", "select k", "Run:")
    assert text.count("\n") == table.n_rows + 1
