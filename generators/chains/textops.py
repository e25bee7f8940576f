"""Text operations for verifiable chains (spec §3b, after SIFo's text-modification task).

A state is a list of tokens (a lower-cased sentence, punctuation as its own
token) or, after `count`, a number. Each token remembers whether a space came
before it in the source (`Token.space`), so a state renders with the source's
own spacing ("built-in", "(longer than 255 characters),"), never as
space-joined tokens. Every operation acts on whole tokens and
matches them exactly (case-sensitive), so each step's answer is computed, not
guessed. `Op.apply` raises `NotApplicable` when the operand is absent or the
step would change nothing; the generator then draws another operation.

Source: Chen et al., "The SIFo Benchmark" (2024), text-modification task;
the operation set and instruction wording are ours.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
OP_NAMES = ("replace", "insert_before", "insert_after", "delete", "upper", "swap", "extract", "count")
# `count` turns the text into a number, so it can only end a chain.
FINAL_ONLY = frozenset({"count"})


class NotApplicable(ValueError):
    """The operation does not apply to this state (operand absent, or the step changes nothing)."""


class Token(str):
    """A token's text (compared as a plain `str`) and whether whitespace came before it."""

    space: bool

    def __new__(cls, text: str, space: bool = True) -> "Token":
        token = super().__new__(cls, text)
        token.space = space
        return token


def _space(token: str) -> bool:
    return getattr(token, "space", True)  # a plain str (a test's hand-made state) is spaced


def tokenize(sentence: str) -> list[str]:
    """Lower-case, words and numbers as tokens, each other non-space character its own token.

    Each is a `Token` that knows whether whitespace preceded it, so `render` gives back the
    sentence's own spacing.
    """
    lowered = sentence.lower()
    return [Token(m.group(), m.start() > 0 and lowered[m.start() - 1].isspace()) for m in _TOKEN.finditer(lowered)]


def render(state: list[str] | int) -> str:
    """The text form of a state: the count in digits, or the tokens with the source's spacing.

    A token from `tokenize` is preceded by a space iff it was in the source; words an
    operation brings in are spaced as the word they stand next to (see `Op.apply`).
    """
    if isinstance(state, int):
        return str(state)
    return "".join((" " if i and _space(t) else "") + t for i, t in enumerate(state))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# A piece ending like this ends in an abbreviation (`i.e.`, `e.g.`, `etc.`, `U.S.`), not a sentence.
_ABBREVIATION_END = re.compile(r"(?:\b(?:[A-Za-z]\.){1,3}|\b(?:etc|vs|cf|approx|resp|Mr|Mrs|Dr|Fig|Sec|al)\.)\)?,?$")
_BRACKETS = {")": "(", "]": "["}
_JOINERS = frozenset(".-/:")  # punctuation that glues words into one (os.path, built-in, and/or, re:sub)


def split_sentences(text: str) -> list[str]:
    """Whole sentences of `text` (whitespace collapsed), not cut after an abbreviation.

    Pieces whose brackets do not balance (a sentence cut elsewhere, or one that spans a
    list) are left out: a chain on half a parenthesis teaches broken text.
    """
    out: list[str] = []
    pending = ""
    for piece in _SENTENCE_END.split(" ".join(text.split())):
        pending = f"{pending} {piece}" if pending else piece
        if _ABBREVIATION_END.search(pending):
            continue  # `... (i.e.` goes on into the next piece
        if _balanced(pending):
            out.append(pending)
        pending = ""
    return out


def _balanced(text: str) -> bool:
    stack = []
    for ch in text:
        if ch in "([":
            stack.append(ch)
        elif ch in _BRACKETS and (not stack or stack.pop() != _BRACKETS[ch]):
            return False
    return not stack


def operand_words(tokens: list[str]) -> list[str]:
    """Words an operation may name: those never glued into a longer word (`os.path`, `built-in`, `i.e.`).

    "Each word 'in'" would otherwise also change the `in` of `built-in`, which no reader counts as a word.
    """
    glued = set()
    for i in range(len(tokens) - 2):
        a, joiner, b = tokens[i], tokens[i + 1], tokens[i + 2]
        if joiner in _JOINERS and not _space(joiner) and not _space(b) and a.isalnum() and b.isalnum():
            glued.update((a, b))
    return sorted({t for t in tokens if t.isalpha()} - glued)


@dataclass(frozen=True)
class Op:
    """One step. `a` is an existing token, `b` a new word (replace/insert) or a second token (swap/extract)."""

    name: str
    a: str
    b: str | None = None

    def __post_init__(self) -> None:  # operands are plain words: a `Token` operand would carry its spacing along
        object.__setattr__(self, "a", str(self.a))
        if self.b is not None:
            object.__setattr__(self, "b", str(self.b))

    def apply(self, tokens: list[str]) -> list[str] | int:
        """The state after this step; raises NotApplicable (never returns an unchanged state)."""
        a, b = self.a, self.b
        hits = tokens.count(a)
        if hits == 0:
            raise NotApplicable(f"{a!r} is not in the text")
        if self.name == "replace":  # the new word takes the old one's place and spacing
            return [Token(b, _space(t)) if t == a else t for t in tokens]  # type: ignore[arg-type]
        if self.name == "insert_before":  # "x-in" → "x-b in": b takes a's place, a follows after a space
            return [x for t in tokens for x in ((Token(b, _space(t)), Token(t, True)) if t == a else (t,))]  # type: ignore[arg-type]
        if self.name == "insert_after":  # what followed a (a comma, say) now follows b, as it did a
            return [x for t in tokens for x in ((t, Token(b, True)) if t == a else (t,))]  # type: ignore[arg-type]
        if self.name == "delete":
            out = [t for t in tokens if t != a]
            if not any(t.isalnum() for t in out):
                raise NotApplicable("deleting it would leave no words")
            return out
        if self.name == "upper":
            if a.upper() == a:
                raise NotApplicable(f"{a!r} has no lower-case letters")
            return [Token(t.upper(), _space(t)) if t == a else t for t in tokens]
        if self.name == "count":
            return hits
        # swap and extract name two tokens that must each occur exactly once, or the step is ambiguous
        if hits != 1 or b is None or tokens.count(b) != 1 or a == b:
            raise NotApplicable(f"{a!r} and {b!r} must each occur exactly once")
        i, j = tokens.index(a), tokens.index(b)
        if self.name == "swap":
            out = list(tokens)
            out[i], out[j] = Token(b, _space(out[i])), Token(a, _space(out[j]))  # the places keep their spacing
            return out
        if self.name == "extract":
            if j - i < 2 or j - i + 1 == len(tokens):
                raise NotApplicable(f"{a!r} must come before {b!r}, span at least 3 tokens and not the whole text")
            return tokens[i : j + 1]
        raise ValueError(f"unknown operation {self.name!r}; allowed: {OP_NAMES}")

    def instruction(self, first: bool) -> str:
        """The step in words; the first step names "the sentence", later ones "the result"."""
        where = "the sentence" if first else "the result"
        a, b = self.a, self.b
        # "each word" and "the word": operands are whole words, never parts of longer words
        text = {
            "replace": f'In {where}, replace each word "{a}" with "{b}".',
            "insert_before": f'In {where}, insert the word "{b}" before each word "{a}".',
            "insert_after": f'In {where}, insert the word "{b}" after each word "{a}".',
            "delete": f'In {where}, delete each word "{a}".',
            "upper": f'In {where}, write each word "{a}" in capital letters.',
            "swap": f'In {where}, swap the words "{a}" and "{b}".',
            "extract": f'From {where}, keep only the part from the word "{a}" to the word "{b}", both included.',
            "count": f'Count how many times the word "{a}" occurs in {where}; answer with a number.',
        }[self.name]
        return text

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def run_chain(tokens: list[str], ops: list[Op]) -> list[str]:
    """Each step's result as text, computed op by op (raises NotApplicable like `Op.apply`)."""
    outputs = []
    state: list[str] | int = tokens
    for index, op in enumerate(ops):
        if isinstance(state, int):
            raise NotApplicable(f"step {index + 1} follows a count; a count can only end a chain")
        state = op.apply(state)
        outputs.append(render(state))
    return outputs
