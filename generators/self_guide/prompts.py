"""Self-Guide prompts (our own wording, the spec's block structure) and the noise list.

Input generation: role and goal, instruction, high-quality block (the given
seeds), low-quality block (earlier generations or N/A), directive (with the
target label twice for classification), and a final `[input]=` line.
Annotation: a Vicuna-v1.1-style USER/ASSISTANT transcript ending in an open
`ASSISTANT:` turn; the same layout is meant for training and inference.
"""

from __future__ import annotations

RULE = "-" * 40

# Assistant chatter that means the model talked about the task instead of doing it.
NOISE_PHRASES: tuple[str, ...] = (
    "Sure,",
    "Sure!",
    "Certainly",
    "Of course",
    "I'd be happy to",
    "I would be happy to",
    "Happy to help",
    "I hope this helps",
    "Let me know if",
    "Feel free to",
    "Here is",
    "Here's",
    "As an AI",
    "I'm sorry",
    "Let me think",
    "Great question",
)
DEFAULT_EXTRA_NOISE: tuple[str, ...] = ("input", "output", "\n\n", "\\_\\_")
CLASSIFICATION_EXTRA_NOISE: tuple[str, ...] = ("therefore", "Therefore")


def render_inputs(inputs: list[str]) -> str:
    """Each input as `[input]="…"` followed by a blank line; `N/A` when there are none."""
    if not inputs:
        return "N/A\n"
    return "".join(f'[input]="{x}"\n\n' for x in inputs)


def input_generation_prompt(
    instruction: str, seed_inputs: list[str], pool_sample: list[str], target_label: str | None
) -> str:
    role = (
        "You are creating new data for a task. Your goal is to write exactly one new input for the "
        "task described below. It must be new, clearly different from every input shown, and detailed."
    )
    high = (
        "Good inputs. They were written with care; your input must follow their format exactly.\n\n"
        + render_inputs(seed_inputs)
    )
    low = (
        "Earlier generated inputs. They may contain mistakes; do not copy their flaws and do not repeat them.\n\n"
        + render_inputs(pool_sample)
    )
    directive = (
        "Follow the instruction and the format of the good inputs. Reply with the new input only: "
        "no answer, no explanation, no label."
    )
    blocks = [role, f"[instruction]\n{instruction}", high.rstrip("\n"), low.rstrip("\n")]
    if target_label is None:
        blocks.append(directive)
    else:
        blocks.append(f'{directive}\nWrite an input whose correct answer is "{target_label}".')
        blocks.append(f'Note: for your input, the correct answer must be "{target_label}".')
    return f"\n{RULE}\n".join(blocks) + f"\n{RULE}\n[input]=\n"


ANNOTATION_SYSTEM = (
    "A chat between a curious user and an assistant that solves tasks. "
    "The assistant gives only the answer, with no explanation and no extra words."
)
ANNOTATION_ACK = "Understood. I will reply with the answer only."


def annotation_prompt(instruction: str, examples: list[tuple[str, str]], new_input: str) -> str:
    turns = [
        ANNOTATION_SYSTEM,
        f"USER: Give only the answer for each input of this task.\n[instruction]\n{instruction}",
        f"ASSISTANT: {ANNOTATION_ACK}",
    ]
    for x, y in examples:
        turns.append(f"USER: [input] = {x}")
        turns.append(f"ASSISTANT: {y}")
    turns.append(f"USER: [input] = {new_input}")
    turns.append("ASSISTANT:")
    return "\n".join(turns)
