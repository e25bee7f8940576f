"""`taskmill export --push`: a bad repo id or a missing token is said before export/ is rewritten."""

from __future__ import annotations

import pytest

from taskmill import runinfo
from taskmill.cli import main


@pytest.mark.parametrize(("repo", "token", "message"), [
    ("notarepo", "hf_x", "repo 'notarepo': give a dataset repo as user/name"),
    ("me/data", None, "no Hugging Face token"),
])  # fmt: skip
def test_push_is_checked_before_the_export_is_rewritten(tmp_path, monkeypatch, capsys, repo, token, message):
    rewritten = []
    monkeypatch.setattr(runinfo, "reexport", lambda run_dir: rewritten.append(run_dir) or {})
    monkeypatch.setattr("huggingface_hub.get_token", lambda: token)
    assert main(["export", str(tmp_path), "--push", repo]) == 3
    assert message in capsys.readouterr().err
    assert rewritten == []


def test_card_names_no_model_for_symbolic_records():
    from taskmill.card import render_card

    records = [{"id": "sql-1", "method": "sql_exec", "model": "none", "instruction": "Q", "input": "", "output": "3", "source_id": "t"}]
    card = render_card("d", records, ["messages"], [], {})
    assert "generated with no language model (symbolic methods)." in card and ", none." not in card
