import random

from generators.sql.linearize import (
    PHRASES,
    RenderedView,
    count_units,
    dropped_ranges,
    fit_rows,
    indexed,
    pipe_table,
    row_costs,
    tapex,
)
from sqlgen_fixtures import SPEC_HEADER, SPEC_ROWS

SQL = "select team order by founded asc limit 1"


def test_tapex_bytes():
    assert tapex("SELECT team order by founded asc limit 1 ", SPEC_HEADER, SPEC_ROWS) == (
        "select team order by founded asc limit 1 col : team | city | founded | titles "
        "row 1 : falcons | oslo | 1921 | 3 row 2 : herons | bergen | 1934 | 5 row 3 : lynx | tromso | 1950 | 1"
    )


def test_indexed_bytes():
    assert indexed(SPEC_HEADER, SPEC_ROWS) == (
        "header: team | city | founded | titles row 1 : falcons | oslo | 1921 | 3\n"
        "row 2 : herons | bergen | 1934 | 5\nrow 3 : lynx | tromso | 1950 | 1"
    )
    assert indexed(["a", "b"], [["1", "x"]]) == "header: a | b row 1 : 1 | x"


def test_instruction_matches_spec_record():
    view = RenderedView(SPEC_HEADER, SPEC_ROWS)
    assert view.render("instruction", SQL, PHRASES[0]) == (
        "| team | city | founded | titles |\n| falcons | oslo | 1921 | 3 |\n| herons | bergen | 1934 | 5 |\n"
        "| lynx | tromso | 1950 | 1 |\nRun this SQL query on the table above and return the result: "
        "select team order by founded asc limit 1"
    )
    assert view.render("tapex", SQL, PHRASES[3]) == tapex(SQL, SPEC_HEADER, SPEC_ROWS)
    assert view.render("indexed", SQL, PHRASES[1]) == indexed(SPEC_HEADER, SPEC_ROWS) + "\n" + PHRASES[1] + " " + SQL
    assert pipe_table(["a"], []) == "| a |"


def test_phrase_bank():
    assert len(set(PHRASES)) == len(PHRASES) >= 10


def test_fit_rows_respects_budget_and_order():
    header = ["name", "value"]
    rows = [[f"row{i}", str(i)] for i in range(200)]
    header_cost, costs = row_costs(header, rows, "tokens")
    for budget in (60, 150, 400):
        kept = fit_rows(random.Random(budget), header_cost, costs, budget)
        assert kept == sorted(kept) and kept
        shown = "col : name | value " + "".join(f"row {i} : " + " | ".join(rows[k]) + " " for i, k in enumerate(kept, 1))
        assert count_units(shown, "tokens") <= budget
    assert fit_rows(random.Random(0), header_cost, costs, 10**6) == list(range(200))
    # The same seed drops the same rows; another seed other rows.
    assert fit_rows(random.Random(1), header_cost, costs, 150) == fit_rows(random.Random(1), header_cost, costs, 150)
    assert fit_rows(random.Random(1), header_cost, costs, 150) != fit_rows(random.Random(2), header_cost, costs, 150)


def test_fit_rows_chars_and_oversized_header():
    header_cost, costs = row_costs(["h" * 50], [["a"], ["bb"]], "chars")
    assert header_cost == len("col : " + "h" * 50 + " ")
    assert fit_rows(random.Random(0), header_cost, costs, 10) == [0]  # header over budget: one row kept


def test_dropped_ranges():
    assert dropped_ranges([0, 1, 2], 3) == []
    assert dropped_ranges([2, 3, 7], 10) == [[0, 2], [4, 7], [8, 10]]
    assert dropped_ranges([], 4) == [[0, 4]]
