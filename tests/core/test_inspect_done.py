"""`taskmill inspect`: the done column of generated stages, source rows skipped, `-n` checked."""

from __future__ import annotations

import json

import pytest

from taskmill.cli import main
from taskmill.runinfo import inspect_run, overview

SUMMARY = {
    "rejects": {"sources": {"invalid_json": 2}, "curation": {}},
    "sources": [{"source": "jsonl:d.jsonl", "documents": 5, "skipped": {"invalid_json": 2},
                 "examples": {"invalid_json": ["d.jsonl:3: not JSON (Expecting value)", "d.jsonl:9: not JSON (Expecting value)"]}}],
}  # fmt: skip


def _run_dir(tmp_path, manifest: dict, summary: dict | None = None) -> str:
    import pyarrow.parquet as pq

    from taskmill.records import to_table

    run = tmp_path / "run"
    (run / "generated" / "bonito").mkdir(parents=True)
    (run / "rejects" / "generate-bonito").mkdir(parents=True)
    (run / "config.yaml").write_text("name: x\n")
    (run / "manifest.json").write_text(json.dumps({"stages": manifest}))
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary))
    pq.write_table(to_table([]), run / "generated" / "bonito" / "shard-00000.parquet")
    pq.write_table(to_table([]), run / "rejects" / "generate-bonito" / "shard-00000.parquet")
    return str(run)


@pytest.mark.parametrize(
    ("manifest", "done"),
    [
        ({"generated/bonito": {"shards": {}}}, []),  # a run still generating, or killed
        ({"generated/bonito": {"shards": {}, "done": True}}, ["generated/bonito", "rejects/generate-bonito"]),
        ({"curated": {"done": True}}, ["curated", "generated/bonito", "rejects/generate-bonito"]),  # curation starts after all generation
    ],
)
def test_inspect_done_for_generated_stages(tmp_path, manifest, done):
    run = _run_dir(tmp_path, manifest)
    assert overview(run)["done"] == done
    row = next(line for line in inspect_run(run).splitlines() if line.strip().startswith("generated/bonito"))
    assert row.split()[-1] == ("yes" if done else "0")


def test_inspect_lists_source_rows_skipped_and_where_they_are(tmp_path, capsys):
    run = _run_dir(tmp_path, {"curated": {"done": True}}, SUMMARY)
    info = overview(run)
    assert info["rejects"]["sources"] == {"invalid_json": 2}
    text = inspect_run(run, reason="invalid_json", samples=1)
    assert "  sources                            invalid_json                  2" in text.splitlines()
    assert text.splitlines()[-2:] == ["source rows skipped as 'invalid_json' (first places):", "- d.jsonl:3: not JSON (Expecting value)"]
    assert main(["inspect", run, "--reason", "invalid_json", "-n", "5"]) == 0
    assert "- d.jsonl:9: not JSON (Expecting value)" in capsys.readouterr().out
    assert inspect_run(run, stage="sources").splitlines()[-3:] == [
        "source rows skipped (first places):", "- d.jsonl:3: not JSON (Expecting value)", "- d.jsonl:9: not JSON (Expecting value)",
    ]  # fmt: skip


def test_inspect_samples_must_be_a_count(tmp_path, capsys):
    run = _run_dir(tmp_path, {})
    with pytest.raises(SystemExit):
        main(["inspect", run, "-n", "-1"])
    assert "argument -n/--samples: must be >= 0, got -1" in capsys.readouterr().err
    assert main(["inspect", run, "-n", "0"]) == 0
    assert "sample records" not in capsys.readouterr().out


def test_inspect_shows_the_end_of_a_long_instruction(tmp_path):
    """A Bonito instruction is the passage then the question: inspect must show the question."""
    import pyarrow.parquet as pq

    from taskmill.records import make_record, to_table

    run = _run_dir(tmp_path, {"curated": {"done": True}})
    record = make_record(method="bonito", source_id="d", instruction="passage " * 80 + "\n\nQuestion: Where do bees keep honey?", output="In wax cells.", seed=1)
    pq.write_table(to_table([record]), f"{run}/generated/bonito/shard-00000.parquet")
    text = inspect_run(run, stage="generated/bonito", samples=1)
    line = next(line for line in text.splitlines() if line.strip().startswith("instruction:"))
    assert line.rstrip().endswith("Question: Where do bees keep honey?") and " … " in line


def test_inspect_reason_shows_the_reject_detail_before_a_long_meta(tmp_path):
    """`--reason label_collapse` must show the label, share and group, not a passage clipped before them."""
    import pyarrow.parquet as pq

    from taskmill.records import make_record, to_table

    run = _run_dir(tmp_path, {"curated": {"done": True}})
    detail = {"group": 15, "label": "neutral", "share": 1.0, "task": "natural language inference"}
    record = make_record(method="bonito", source_id="d", instruction="Hypothesis: x. Entailment?", output="neutral", seed=1)
    record.update(reject_reason="label_collapse", reject_stage="task_form",
                  meta=json.dumps({"context": "passage " * 200, "curation": {"stage": "task_form", "detail": detail}}))  # fmt: skip
    (tmp_path / "run" / "rejects" / "curation").mkdir()
    pq.write_table(to_table([record]), f"{run}/rejects/curation/shard-00000.parquet")
    (tmp_path / "run" / "summary.json").write_text(json.dumps({"rejects": {"curation": {"label_collapse": 1}}}))
    text = inspect_run(run, reason="label_collapse", samples=1)
    why = next(line for line in text.splitlines() if line.strip().startswith("why:"))
    assert json.loads(why.split("why:", 1)[1]) == {"stage": "task_form", "detail": detail}
