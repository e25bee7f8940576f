"""The Chain-of-Instructions protocol strings: the joiner and the transcript (spec §3, byte-exact).

A chain of k subtasks is one record: the subtask instructions joined with
` and then `, task 1's input, and a transcript of every intermediate output:

    Task 1 output and task 2 input: O1
    Task 2 output and task 3 input: O2
    Task 3 output: O3

The writer emits only that canonical form. The parser also reads the variants
found in the released CoI data (`Task2 output:` without the space, lines
separated by " \\n" or by two spaces) and checks the chain's bookkeeping: the
markers count 1..k and every non-final marker names its output as the next
task's input. Source: Hayati et al., "Chain-of-Instructions" (2024), §3.
"""

from __future__ import annotations

import re
from typing import Sequence

JOINER = " and then "
_END_PUNCTUATION = (".", "?", "!")

# "Task 1 output and task 2 input:" or "Task 2 output:"; tolerant of missing spaces and case.
_MARKER = re.compile(r"Task\s*(\d+)\s*output(?:\s*and\s*task\s*(\d+)\s*input)?\s*:", re.IGNORECASE)


class TranscriptError(ValueError):
    """A transcript that does not read as a chain (message says which marker is wrong)."""


def as_sentence(instruction: str) -> str:
    """The instruction stripped, ending in `.`, `?` or `!` (a period is added when it has none)."""
    text = instruction.strip()
    return text if text.endswith(_END_PUNCTUATION) else text + "."


def join_instructions(instructions: Sequence[str]) -> str:
    """`["A.", "B."]` → `"A. and then B."`; each instruction keeps (or gains) its final period."""
    if not instructions:
        raise ValueError("join_instructions: a chain needs at least one instruction")
    return JOINER.join(as_sentence(i) for i in instructions)


def render_transcript(outputs: Sequence[str]) -> str:
    """[O1, ..., Ok] → the canonical transcript: one marker line per step, joined with `\\n`."""
    if not outputs:
        raise ValueError("render_transcript: a chain needs at least one output")
    k = len(outputs)
    lines = [f"Task {i} output and task {i + 1} input: {o}" for i, o in enumerate(outputs[:-1], 1)]
    lines.append(f"Task {k} output: {outputs[-1]}")
    return "\n".join(lines)


def parse_transcript(text: str, steps: int | None = None) -> list[str]:
    """A transcript → [O1, ..., Ok], stripped of surrounding whitespace.

    Raises TranscriptError when there is no marker, the markers do not count
    1, 2, ..., a non-final marker does not hand its output to the next task
    (`Task i output and task i+1 input:`), the final marker does, or `steps`
    is given and differs from k. Text before the first marker is ignored
    (models often open with a sentence of their own).
    """
    markers = list(_MARKER.finditer(text))
    if not markers:
        raise TranscriptError("no 'Task i output' marker found")
    outputs = []
    for position, match in enumerate(markers, 1):
        number, next_input = int(match.group(1)), match.group(2)
        if number != position:
            raise TranscriptError(f"marker {position} is numbered Task {number}")
        is_last = position == len(markers)
        if not is_last and next_input is None:
            raise TranscriptError(f"Task {number} output is not marked as the input of task {number + 1}")
        if next_input is not None and int(next_input) != number + 1:
            raise TranscriptError(f"Task {number} output is marked as the input of task {next_input}, not {number + 1}")
        if is_last and next_input is not None:
            raise TranscriptError(f"the transcript ends at task {number} but hands its output to task {next_input}")
        end = markers[position].start() if not is_last else len(text)
        outputs.append(text[match.end() : end].strip())
    if steps is not None and len(outputs) != steps:
        raise TranscriptError(f"expected {steps} steps, found {len(outputs)}")
    return outputs


def check_record(record: dict) -> list[str]:
    """Problems with a chain record's transcript against its lineage ([] when consistent).

    Each parsed intermediate output must equal `meta.intermediate_outputs[i]`
    (the text the next step was actually given as input) and the number of
    steps must equal `meta.chain_length`.
    """
    meta = record.get("meta") or {}
    try:
        outputs = parse_transcript(record.get("output", ""), meta.get("chain_length"))
    except TranscriptError as error:
        return [str(error)]
    problems = []
    for i, (parsed, given) in enumerate(zip(outputs, meta.get("intermediate_outputs", [])), 1):
        if parsed != given.strip():
            problems.append(f"task {i} output differs from the input task {i + 1} was given")
    return problems
