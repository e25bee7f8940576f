"""Checks for composed records (Chain-of-Instructions): each step judged as the task it is. [ours; issue 10]

A CoI record is one instruction (the step instructions joined with ` and then `)
and a transcript `Task 1 output and task 2 input: O1 ... Task k output: Ok`
(protocol strings, generators/chains/transcript.py; Hayati et al. 2024, §3).
The whole-record checks see only the transcript, so a junk step hides among
good ones. Here every step output O_i is parsed from the transcript and checked
against its own input (the record's input for step 1, O_{i-1} after that) and
its own instruction:

- `step_refusal`: the step says the task cannot be done (the step prompt's
  NOT_COMPOSABLE answer, reworded or not, or a rules.py F8 refusal), anywhere in it.
- step task-form checks (filters/task_form.py `placeholder_leak`, `repetitive`,
  `fragment`), with the step's task type when the step came from Bonito.
- `copied_demonstration`: the step repeats an example output of the chain task
  library instead of doing its task: a run of `demo_run` words shared with an
  example output and absent from the step input, or `demo_cover` of the example
  output's content words present in the step output and absent from its input.
  Examples whose input is (nearly: `similar_input` of its content words) this
  step's input are not held against it (their output is the right answer). The library is read from `meta.task_sources`
  (files) and `library` (extra task files).
- `ungrounded_step`: for tasks that keep to their input (extraction, correction,
  headlines, summaries: `grounded_tasks` patterns on the step instruction),
  the share of the step output's content words found neither in its input nor
  in its instruction (nor a respelling of one of those) exceeds `step_novel_max`.

Every reason carries the 1-based `step` and its score in the reject detail.
"""

from __future__ import annotations

import difflib
import os
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from filters.task_text import content_stems, longest_shared_run, ngrams, words
from filters.text_views import norm

if TYPE_CHECKING:  # task_form imports this module: no import cycle at run time
    from filters.task_form import TaskFormConfig, TaskView, Verdict


class ChainFormConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    methods: list[str] = ["coi", "chain"]  # record methods whose output is a chain transcript
    refusal_patterns: list[str] = [
        r"\bNOT_COMPOSABLE\b", r"\b(?:task|this) (?:cannot|can ?not|can't) be (?:done|performed|completed)\b",
        r"\bnot possible to (?:do|perform|complete) (?:the|this) task\b",
    ]  # fmt: skip
    library: list[str] = []  # extra chain task files (YAML/JSON/SNI) whose example outputs count as demonstrations
    demo_run: int = Field(4, ge=2)  # words in a row shared with an example output, not in the step input
    demo_cover: float = Field(0.6, ge=0, le=1)  # share of an example output's new content words in the step output
    similar_input: float = Field(0.5, ge=0, le=1)  # examples whose input shares this much content with the step input are skipped
    demo_min_words: int = Field(2, ge=1)  # example outputs with fewer new content words are not judged by cover
    grounded_tasks: list[str] = [
        r"\bkey ?words?\b", r"\bkey ?phrases?\b", r"\bheadline\b", r"\bsummar", r"\bextract", r"\bcorrect\b",
        r"\bspelling\b", r"\bgrammar\b", r"\bpassive\b", r"\bactive voice\b", r"\bparaphrase\b",
    ]  # fmt: skip
    step_novel_max: float = Field(0.5, ge=0, le=1)  # share of a grounded step's content words new to its input
    # An output word this similar (difflib ratio of stems) to an input word is the same word respelled: a
    # spelling fix ("budjet" -> "budget") adds no content.
    respelled_similarity: float = Field(0.8, ge=0, le=1)


def step_instructions(record: dict, steps: int) -> list[str]:
    """The step instructions: meta.instructions, else the instruction split at the CoI joiner.

    A Bonito step carries its passage in its instruction, and a passage may itself contain
    " and then ": surplus parts are joined back into the first step.
    """
    from generators.chains.transcript import JOINER

    given = (record.get("meta") or {}).get("instructions")
    if isinstance(given, list) and len(given) == steps:
        return [str(x) for x in given]
    parts = str(record.get("instruction") or "").split(JOINER)
    if len(parts) < steps:
        return parts + [""] * (steps - len(parts))
    return [JOINER.join(parts[: len(parts) - steps + 1])] + parts[len(parts) - steps + 1 :]


@lru_cache(maxsize=32)
def _library_file(path: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """(instruction, ((input, output), ...)) per task of one task file; () when it cannot be read."""
    from generators.chains.library import load_task_file

    try:
        tasks, _ = load_task_file(path, per_task=1000, languages=["English"])
    except Exception:  # a moved or broken library file must not stop curation: no demonstrations from it
        return ()
    return tuple((t.instruction, tuple((i.input, i.output) for i in t.instances)) for t in tasks)


def demonstrations(record: dict, instruction: str, cfg: ChainFormConfig) -> list[tuple[str, str]]:
    """Example (input, output) pairs of the step's task in the library; all examples when no task matches."""
    sources = [s for s in (record.get("meta") or {}).get("task_sources") or [] if isinstance(s, str)]
    tasks = [t for path in dict.fromkeys(sources + cfg.library) if os.path.isfile(path) for t in _library_file(path)]
    own = [pair for text, pairs in tasks if norm(text).rstrip(".") == norm(instruction).rstrip(".") for pair in pairs]
    return own or [pair for _, pairs in tasks for pair in pairs]


def _step_view(record: dict, instruction: str, output: str, step: int) -> "TaskView":
    from filters.task_form import TaskView

    categories = (record.get("meta") or {}).get("categories") or []
    category = str(categories[step - 1]) if step - 1 < len(categories) else ""
    task_type = category.split(":", 1)[1].replace("_", " ") if category.startswith("bonito:") else None
    return TaskView(str(record.get("method") or ""), task_type, "", "", output, None, instruction)


def novel_stems(stems: set[str], known: set[str], similarity: float) -> set[str]:
    """The content stems in `stems` neither in `known` nor a respelling of one (difflib ratio >= similarity)."""
    return {w for w in stems - known if not difflib.get_close_matches(w, known, 1, similarity)}


def check_copied_demo(step_input: str, output: str, demos: list[tuple[str, str]], cfg: ChainFormConfig) -> dict | None:
    tokens, input_norm = words(output), norm(step_input)
    input_grams, input_content = ngrams(words(step_input), cfg.demo_run), content_stems(step_input)
    out_content = content_stems(output)
    for demo_input, demo_output in demos:
        demo_content = content_stems(demo_input)
        shared = len(demo_content & input_content) / len(demo_content) if demo_content else 0.0
        if norm(demo_input) == input_norm or shared >= cfg.similar_input:
            continue  # the example's answer is (nearly) this step's answer: resembling it is right
        grams = ngrams(words(demo_output), cfg.demo_run) - input_grams
        run, text = longest_shared_run(tokens, grams, cfg.demo_run)
        # a shared run that only respells the input (a spelling fix) copies nothing from the example
        if run >= cfg.demo_run and novel_stems(content_stems(text), input_content, cfg.respelled_similarity):
            return {"shared_words": run, "match": text[:120], "example_output": demo_output[:120]}
        new = novel_stems(content_stems(demo_output), input_content, cfg.respelled_similarity)
        if len(new) >= cfg.demo_min_words:
            cover = len(new & out_content) / len(new)
            if cover >= cfg.demo_cover:
                return {"example_cover": round(cover, 4), "example_output": demo_output[:120]}
    return None


def check_chain(v: "TaskView", cfg: "TaskFormConfig", record: dict | None = None) -> "Verdict":
    """The first failing step check as (reason, detail with `step` and its score), or None."""
    chain = cfg.chain
    if record is None or v.method not in chain.methods:
        return None
    from filters.rules import _REFUSAL_RE
    from filters.task_form import check_fragment, check_placeholder, check_repetitive
    from generators.chains.transcript import TranscriptError, parse_transcript

    try:
        outputs = parse_transcript(str(record.get("output") or ""))
    except TranscriptError as err:
        return "bad_transcript", {"error": str(err)[:200]}
    instructions = step_instructions(record, len(outputs))
    step_input = str(record.get("input") or "")
    for step, (instruction, output) in enumerate(zip(instructions, outputs), 1):
        source = step_input or instruction  # a step without an input carries it in its instruction (Bonito)
        for pattern in chain.refusal_patterns:
            hit = re.search(pattern, output, re.I)
            if hit:
                return "step_refusal", {"step": step, "match": hit.group(0)}
        hit = _REFUSAL_RE.search(norm(output).replace("\u2019", "'"))
        if hit:
            return "step_refusal", {"step": step, "match": hit.group(0)}
        view = _step_view(record, instruction, output, step)
        for check in (check_placeholder, check_repetitive, check_fragment):
            verdict = check(view, cfg)
            if verdict is not None:
                return verdict[0], {"step": step, **verdict[1]}
        copied = check_copied_demo(source, output, demonstrations(record, instruction, chain), chain)
        if copied is not None:
            return "copied_demonstration", {"step": step, **copied}
        if any(re.search(p, instruction, re.I) for p in chain.grounded_tasks):
            content = content_stems(output)
            known = content_stems(source) | content_stems(instruction)
            novel = novel_stems(content, known, chain.respelled_similarity)
            share = len(novel) / len(content) if content else 0.0
            if share > chain.step_novel_max:
                return "ungrounded_step", {"step": step, "novel_share": round(share, 4), "novel": sorted(novel)[:8]}
        step_input = output
    return None


__all__ = ["ChainFormConfig", "check_chain", "check_copied_demo", "novel_stems", "demonstrations", "step_instructions"]
