"""Answer lists: unambiguous output text, a structured list in meta, and the checker on both."""

from hypothesis import given, settings
from hypothesis import strategies as st

from generators.sql import denotation_match
from generators.sql.answers import format_answers, parse_answers


def test_values_with_commas_and_empty_cells_are_quoted():
    # Issue 9: `nuevo leon, north` + `yucatan` read as three values; an empty cell vanished.
    values = ["nuevo leon, north", "yucatan", ""]
    assert format_answers(values) == '"nuevo leon, north", yucatan, ""'
    assert parse_answers('"nuevo leon, north", yucatan, ""') == values
    assert format_answers(['say "hi"', "1,000"]) == '"say ""hi""", "1,000"'
    assert format_answers(["falcons"]) == "falcons" and format_answers(["herons", "falcons"]) == "herons, falcons"


def test_unquoted_text_splits_like_the_spec():
    assert parse_answers("herons, falcons") == ["herons", "falcons"]
    assert parse_answers(" a ,b") == ["a", "b"]
    assert parse_answers("") == [] and parse_answers("   ") == []


def test_checker_reads_quoted_lists():
    gold = '"nuevo leon, north", yucatan'
    assert denotation_match('yucatan, "Nuevo Leon, North"', gold)
    assert not denotation_match("nuevo leon, north, yucatan", gold)  # three values, not two
    assert denotation_match('a, "", b', 'b, a, ""')
    assert not denotation_match("a, b", 'a, b, ""')  # a dropped empty cell is a wrong answer
    assert denotation_match('"1,000", 2', "2, 1000")  # thousands separators are numbers


def test_checker_takes_structured_lists():
    meta_answers = ["nuevo leon, north", "yucatan", ""]
    assert denotation_match('yucatan, "", "nuevo leon, north"', meta_answers)
    assert denotation_match(meta_answers, list(reversed(meta_answers)))
    assert not denotation_match(["nuevo leon", "north", "yucatan", ""], meta_answers)
    assert denotation_match(["9"], "9.0") and not denotation_match(["a", "a"], ["a"])


cell = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(str.strip)


@settings(max_examples=150, deadline=None)
@given(st.lists(cell, min_size=1, max_size=8))
def test_round_trip_and_match(values):
    text = format_answers(values)
    assert parse_answers(text) == values
    assert denotation_match(text, values) and denotation_match(values, text)
    assert not denotation_match(format_answers(values + ["zz-extra"]), text)
