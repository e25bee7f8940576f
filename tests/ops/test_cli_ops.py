"""CLI: inspect (counts, rejects by reason, samples, --reason filter), export, --version, help on every argument."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from chaos import export_files
from taskmill.cli import main


def test_version_and_help_on_every_argument(capsys):
    from taskmill import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"taskmill {__version__}"

    captured = {}
    original = argparse.ArgumentParser.parse_args

    def keep(self, args=None, namespace=None):
        captured["parser"] = self
        return original(self, args, namespace)

    argparse.ArgumentParser.parse_args = keep
    try:
        with pytest.raises(SystemExit):
            main(["--help"])
    finally:
        argparse.ArgumentParser.parse_args = original
    assert "PREFECT_UI_API_URL" in capsys.readouterr().out
    subparsers = next(a for a in captured["parser"]._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.dest}"
        for name, sub in subparsers.choices.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert missing == []
    assert {"run", "validate", "serve", "export", "inspect", "prepare-model"} <= set(subparsers.choices)


def test_inspect_shows_counts_rejects_and_filters_by_reason(finished_run, capsys):
    assert main(["inspect", finished_run, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    summary = json.load(open(os.path.join(finished_run, "summary.json")))
    assert info["stages"]["selected"] == summary["records_per_stage"]["selected"] > 0
    assert info["stages"]["generated/sql_exec"] == summary["records_per_stage"]["generated/sql_exec"]
    assert info["rejects"]["rejects/generate-sql_exec"] == summary["rejects"]["generate-sql_exec"]
    assert {"curated", "selected"} <= set(info["done"]) and "README.md" in info["export"]
    assert len(info["samples"]) == 3 and all(s["stage"] == "selected" for s in info["samples"])

    reason, count = next(iter(summary["rejects"]["generate-sql_exec"].items()))
    assert main(["inspect", finished_run, "--reason", reason, "-n", "50"]) == 0
    text = capsys.readouterr().out
    assert f"records rejected as {reason!r}:" in text
    assert text.count(f"reason={reason}") == count and "reason=" + reason in text

    assert main(["inspect", finished_run, "--reason", "no_such_reason"]) == 3
    assert "no rejects with reason 'no_such_reason' (reasons here:" in capsys.readouterr().err
    assert main(["inspect", os.path.dirname(finished_run)]) == 3
    assert "not a taskmill run directory" in capsys.readouterr().err


def test_export_rewrites_the_same_bytes(run_copy, capsys):
    before = export_files(os.path.join(run_copy, "export"))
    assert main(["export", run_copy]) == 0
    paths = json.loads(capsys.readouterr().out)["export"]
    assert paths["card"] == os.path.join(run_copy, "export", "README.md")
    assert export_files(os.path.join(run_copy, "export")) == before
