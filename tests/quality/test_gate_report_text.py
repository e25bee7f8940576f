from filters.gate_report import render_quality_text


def _row(gate: dict) -> dict:
    return {"candidates": 48, "after_gate": 16, "rejects": {"gate": gate}}


def test_gate_rejects_line_says_how_many_reasons_it_left_out():
    gate = {"answer_not_in_passage": 11, "not_yes_no_question": 10, "fragment": 5, "ungrounded": 3,
            "answer_type_mismatch": 2, "no_question": 1, "unsupported_number": 1}
    lines = render_quality_text({"bonito": _row(gate)})
    assert lines[1] == ("    gate rejects: answer_not_in_passage 11, not_yes_no_question 10, fragment 5, "
                        "ungrounded 3, answer_type_mismatch 2, +2 more")


def test_gate_rejects_line_lists_five_or_fewer_reasons_in_full():
    lines = render_quality_text({"bonito": _row({"fragment": 5, "ungrounded": 3})})
    assert lines[1] == "    gate rejects: fragment 5, ungrounded 3"
