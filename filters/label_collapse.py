"""Label collapse: a classification task whose generated answers are (almost) all one label. [ours; issue 10]

A record-level check cannot tell a right "positive" from a wrong one; the set can.
When the generator gives one label to nearly every input of a task with a closed
label set (sentiment, entailment, yes/no, multiple-choice letters, a Self-Guide
classification task), it has ignored the input: Self-Guide asked it for inputs of
each label in turn (spec §2, `target_label`), and Bonito's passages differ. Training
on such a group teaches the constant answer, so the whole group is rejected with
`label_collapse` (stage task_form) and the label, its share and the group size in
the reject's detail. Self-Guide's own class balancing (spec §2, `balanced_out`)
only evens out the labels that are present, so a one-label set passes it whole.

Groups are (method, model, task): the Bonito task type or the Self-Guide task name.
Only groups of at least `min_group` records are judged, so a handful of records
never trips it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import ConfigDict, Field

from taskmill.switchable import Switchable

MC_TYPE = "multiple-choice question answering"


class LabelCollapseConfig(Switchable):  # `label_collapse: false` turns it off
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    max_share: float = Field(0.9, gt=0, le=1)  # a group whose most frequent label reaches this share collapses
    min_group: int = Field(5, ge=2)  # smaller groups are not judged


def label_of(record: dict) -> tuple[str, str] | None:
    """(group key, label) of a closed-label record, or None for free-form tasks.

    `record` has method, model, output and decoded meta (a dict). Labels are
    lower-cased first words (yes/no, entailment...), the option letter of a
    multiple-choice answer, or a Self-Guide classification record's output.
    """
    from filters.choice_form import ANSWER_LETTER
    from filters.task_form import LABELS, YES_NO_TYPES
    from filters.task_text import words

    meta = record.get("meta") or {}
    method, model = str(record.get("method") or ""), str(record.get("model") or "")
    output = str(record.get("output") or "")
    if method == "self_guide":
        if meta.get("target_label") is None:  # generation tasks have no target label, nothing to collapse to
            return None
        return f"{method}|{model}|{meta.get('task') or record.get('source_id')}", output.strip().lower()
    task_type = meta.get("task_type")
    if task_type in YES_NO_TYPES or task_type in LABELS:
        return f"{method}|{model}|{task_type}", (words(output) or [""])[0]
    if task_type == MC_TYPE:
        fields = meta.get("fields") if isinstance(meta.get("fields"), dict) else {}
        letter = str(fields.get("answer") or "") or (ANSWER_LETTER.match(output) or [None, ""])[1]
        return f"{method}|{model}|{task_type}", letter[:1].upper()
    return None


def collapsed(labels: list[tuple[str, str] | None], cfg: LabelCollapseConfig) -> dict[int, dict[str, Any]]:
    """{index: reject detail} for the records (by index into `labels`) whose group collapsed."""
    if not cfg.enabled:
        return {}
    groups: dict[str, Counter] = {}
    for item in labels:
        if item is not None:
            groups.setdefault(item[0], Counter())[item[1]] += 1
    verdicts = {}
    for key, counts in groups.items():
        size = sum(counts.values())
        label, top = counts.most_common(1)[0]
        if size >= cfg.min_group and top / size >= cfg.max_share:
            verdicts[key] = {"label": label, "share": round(top / size, 4), "group": size, "task": key.split("|", 2)[-1]}
    return {i: verdicts[item[0]] for i, item in enumerate(labels) if item is not None and item[0] in verdicts}


__all__ = ["LabelCollapseConfig", "collapsed", "label_of"]
