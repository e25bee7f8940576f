from generators.sql import denotation_match


def test_spec_cases():
    assert denotation_match("1.0", "1")
    assert denotation_match("a, b", "b, a")
    assert not denotation_match("a", "a, a")


def test_number_aware_and_case_insensitive():
    assert denotation_match(" Falcons ,herons", "herons, falcons")
    assert denotation_match("9", "9.0")
    assert denotation_match("1e3", "1000")
    assert denotation_match("2.0, x, 2", "2, 2, X")


def test_mismatches():
    assert not denotation_match("1.5", "1")
    assert not denotation_match("falcons", "herons")
    assert not denotation_match("", "0")
    assert not denotation_match("a, b", "a, b, b")
    assert not denotation_match("nan", "1")  # nan is text here, never a number equal to anything


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

items = st.one_of(st.integers(-10**6, 10**6).map(str), st.sampled_from(["oslo", "Bergen", "a b", "1.50", "none"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(items, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_order_insensitive_and_not_fooled_by_an_extra_item(answers, rng):
    gold = ", ".join(answers)
    shuffled = list(answers)
    rng.shuffle(shuffled)
    assert denotation_match(", ".join(shuffled), gold)
    assert denotation_match(gold, ", ".join(shuffled))
    assert not denotation_match(", ".join(answers + [answers[0]]), gold)
