"""Prompts of the LLM-composed chains (our wording; the CoI paper did not publish its prompts).

Only `NOT_COMPOSABLE` is a protocol string (spec §3): the step prompt asks the
model to answer it when the task cannot take the given text as input.
"""

from __future__ import annotations

from typing import Sequence

from generators.chains.library import Instance

NOT_COMPOSABLE = "NOT_COMPOSABLE"
VALIDITY_CHOICES = ["yes", "no"]


def shorten_messages(instruction: str) -> list[dict[str, str]]:
    text = (
        "Rewrite the task description below as one short imperative sentence of at most 15 words, "
        "ending with a period. Keep what the task asks for; drop explanations and examples. "
        "Reply with the sentence only.\n\n"
        f"Task description: {instruction.strip()}"
    )
    return [{"role": "user", "content": text}]


def validity_messages(instruction: str, previous_output: str) -> list[dict[str, str]]:
    text = (
        "Decide whether a task can be done with a given text as its input.\n\n"
        f"Task: {instruction.strip()}\n\n"
        f"Text: {previous_output.strip()}\n\n"
        "Can the task be done with this text as its input? Answer yes or no."
    )
    return [{"role": "user", "content": text}]


def step_messages(instruction: str, examples: Sequence[Instance], step_input: str) -> list[dict[str, str]]:
    shown = "".join(f"Example input: {e.input.strip()}\nExample output: {e.output.strip()}\n\n" for e in examples)
    text = (
        f"{instruction.strip()}\n\n{shown}"
        f"Input: {step_input.strip()}\n\n"
        f"Write only the output for this input. If the task cannot be done on this input, write {NOT_COMPOSABLE}."
    )
    return [{"role": "user", "content": text}]
