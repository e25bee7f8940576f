"""The text views every curation stage looks at, and the shared normalizer.

Alpaca records: prompt = instruction + "\n" + input (just the instruction when
input is empty), response = output. A record that carries chat `messages`
(a list of {role, content}) uses its user/system turns as the prompt and its
final assistant turn as the response.

Bad input never raises here: None becomes "", bytes are decoded with
replacement characters (which the bad_unicode rule then rejects), anything
else goes through str().
"""

from __future__ import annotations

import hashlib
from typing import Any

from filters import normalize

PROMPT_ROLES = ("system", "user")


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def norm(s: Any) -> str:
    """filters.normalize.norm of any value (None → "", bytes decoded); the one comparison form."""
    return normalize.norm(as_text(s))


def _messages(record: dict) -> list[dict] | None:
    messages = record.get("messages")
    if isinstance(messages, list) and messages:
        return messages
    return None


def prompt_view(record: dict) -> str:
    messages = _messages(record)
    if messages is not None:
        turns = [as_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") in PROMPT_ROLES]
        return "\n".join(turns)
    instruction = as_text(record.get("instruction"))
    extra = as_text(record.get("input"))
    return instruction + "\n" + extra if extra else instruction


def response_view(record: dict) -> str:
    messages = _messages(record)
    if messages is not None:
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "assistant":
                return as_text(message.get("content"))
        return ""
    return as_text(record.get("output"))


def prompt_key_text(record: dict) -> str:
    """The prompt side of the exact-dedup key; multi-turn keeps roles and turn order."""
    messages = _messages(record)
    if messages is None:
        return norm(prompt_view(record))
    turns = messages
    # the final assistant turn is the response, so it is not part of the prompt key
    if turns and isinstance(turns[-1], dict) and turns[-1].get("role") == "assistant":
        turns = turns[:-1]
    return "\x1e".join(
        as_text(m.get("role")) + "\x1d" + norm(as_text(m.get("content"))) for m in turns if isinstance(m, dict)
    )


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
