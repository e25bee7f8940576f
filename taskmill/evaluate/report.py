"""The closed-loop report: base vs tuned accuracy as a table, in JSON, markdown and the dataset card."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from taskmill.card import EVALUATION_BEGIN as CARD_BEGIN
from taskmill.card import EVALUATION_END as CARD_END


def comparison_rows(accuracy: list[dict], base: str = "base", tuned: str = "tuned", baseline: str = "majority") -> list[dict[str, Any]]:
    """One row per (group, value): n, base, tuned and baseline accuracy (percent), gain in points (tuned − base).

    The baseline column is None where the baseline was not scored (chain groups).
    """
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for row in accuracy:
        entry = by_key.setdefault((row["group"], row["value"]), {"group": row["group"], "value": row["value"], "n": row["n"]})
        entry[row["model"]] = row["accuracy"]
    rows = []
    for entry in by_key.values():
        b, t = entry.get(base), entry.get(tuned)
        gain = round(t - b, 2) if b is not None and t is not None else None
        rows.append({"group": entry["group"], "value": entry["value"], "n": entry["n"], f"{base}_accuracy": b,
                     f"{tuned}_accuracy": t, f"{baseline}_accuracy": entry.get(baseline), "gain_points": gain})  # fmt: skip
    return rows


COLUMNS = ["group", "value", "n", "base_accuracy", "tuned_accuracy", "majority_accuracy", "gain_points"]


def _markdown_table(rows: list[dict], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in columns) + " |\n" for r in rows)


def render_markdown(report: dict[str, Any]) -> str:
    training, split = report["training"], report["split"]
    overlap = split.get("overlap") or {}
    models = _markdown_table(
        [{"model": m["label"], "weights": m["model"], "decoding": f"greedy, {m['backend']}",
          "accuracy": ", ".join(f"{k} {v}" for k, v in m["accuracy"].items()),
          "gold_in_completion": m.get("gold_in_completion")} for m in report["models"]],
        ["model", "weights", "decoding", "accuracy", "gold_in_completion"],
    )  # fmt: skip
    majority = report.get("majority") or {}
    lines = [
        "## Closed-loop evaluation\n",
        "A small model fine-tuned on this export, scored on tasks from sources no training record came from: "
        "SQL tasks from held-out tables (denotation match with the SQL generator's checker on the first line of "
        "the answer) and verifiable chains from held-out documents (the chain checker, step by step: `step` i is "
        "the share of chains whose i-th output is right; `all` for chains is the last step). Accuracy in percent, "
        "gain (tuned − base) in points. `majority_accuracy` is a model that always gives the most frequent training "
        f"answer ({majority.get('answer')!r}). `gold_in_completion` is a diagnostic, not a score: the share of SQL "
        "completions that contain the right value anywhere, e.g. inside prose.\n",
        models,
        _markdown_table(report["comparison"], COLUMNS),
        *_heldout_lines(split),
        f"- training tables ({len(split['train_tables'])}): {', '.join(split['train_tables'])}",
        f"- training rows: {training['records']} of {split['rows_in_file']} in `{os.path.basename(split['training_file'])}` "
        f"({split['removed'].get('heldout_source', 0)} from held-out sources and "
        f"{split['removed'].get('heldout_overlap', 0)} overlapping held-out prompts removed; "
        f"{overlap.get('rows_without_source', 0)} rows not in the run's records.parquet)",
        f"- decontamination: {overlap.get('heldout_items_hit', 0)} of {overlap.get('heldout_items', 0)} held-out prompts hit "
        f"({overlap.get('heldout_percent_hit', 0)}%), rule: {overlap.get('rule', 'off')}",
        f"- training: TRL SFT ({training['method']}), {training['tokens']} tokens per epoch, {training['epochs']} epochs, "
        f"{training['steps']} steps, batch {training['batch_size']}, lr {training['learning_rate']}, "
        f"loss {training['train_loss']}, {training['seconds']} s on {training['device']}",
        f"- seeds: held-out tasks {report['seeds']['heldout']}, training {report['seeds']['train']}, run {report['seeds']['run']}",
        "",
    ]
    return "\n".join(lines)


def _heldout_lines(split: dict[str, Any]) -> list[str]:
    """What was held out: tables (with the SQL answer cap) and chain documents, for the families the run has."""
    lines = []
    if split["heldout_tables"]:
        balance = split.get("balance") or {}
        lines += [
            f"- held-out tables ({len(split['heldout_tables'])}): {', '.join(split['heldout_tables'])}",
            f"- held-out SQL answers capped at {balance.get('cap')} tasks each ({balance.get('capped', 0)} candidates "
            f"skipped; {balance.get('short_by', 0)} fewer tasks than asked)",
        ]
    documents = split.get("heldout_documents") or []
    if documents:
        shown = ", ".join(documents[:20]) + (" ..." if len(documents) > 20 else "")
        lines.append(f"- held-out chain documents ({len(documents)}): {shown}")
    return lines


def write_report(out_dir: str, report: dict[str, Any]) -> dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "report.json"), "markdown": os.path.join(out_dir, "report.md")}
    for key, text in (("json", json.dumps(report, indent=2, default=str)), ("markdown", render_markdown(report))):
        with open(paths[key] + ".tmp", "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(paths[key] + ".tmp", paths[key])
    return paths


def add_to_card(card_path: str, markdown: str) -> None:
    """Put the evaluation section in the dataset card, replacing the one a previous evaluation wrote."""
    card = open(card_path, encoding="utf-8").read() if os.path.isfile(card_path) else ""
    section = f"{CARD_BEGIN}\n{markdown}\n{CARD_END}\n"
    pattern = re.compile(re.escape(CARD_BEGIN) + r".*?" + re.escape(CARD_END) + r"\n?", re.S)
    card = pattern.sub(lambda _: section, card) if pattern.search(card) else card.rstrip("\n") + "\n\n" + section
    with open(card_path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(card)
    os.replace(card_path + ".tmp", card_path)
