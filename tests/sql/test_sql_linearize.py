from generators.sql.linearize import PHRASES, RenderedView, indexed, pipe_table, tapex
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
