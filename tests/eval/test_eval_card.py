"""The evaluation section of the dataset card: written by `taskmill evaluate`, carried into a Hub card."""

import os

from eval_fixtures import build_run_dir
from taskmill.card import evaluation_section, render_card
from taskmill.evaluate.report import add_to_card


def test_evaluation_section_survives_into_a_rendered_card(tmp_path):
    run_dir = build_run_dir(str(tmp_path), formats=("messages",))
    card_path = os.path.join(run_dir, "export", "README.md")
    assert evaluation_section(open(card_path).read()) is None  # a fresh export has none

    add_to_card(card_path, "## Closed-loop evaluation\n\n| group | base_accuracy |\n|---|---|\n| all | 0.0 |\n")
    add_to_card(card_path, "## Closed-loop evaluation\n\n| group | base_accuracy |\n|---|---|\n| all | 12.5 |\n")  # replaces
    section = evaluation_section(open(card_path).read())
    assert section is not None and "| all | 12.5 |" in section and "0.0" not in section

    card = render_card("eval-test", [], ["messages"], [], {}, evaluation=section)
    assert card.count("## Closed-loop evaluation") == 1 and "| all | 12.5 |" in card
    assert card.index("## Closed-loop evaluation") < card.index("## Config\n")
    assert "Closed-loop" not in render_card("eval-test", [], ["messages"], [], {})
