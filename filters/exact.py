"""Exact dedup on normalized text (spec §2).

Key: sha256(norm(prompt) + "\\x1f" + norm(response)) in `pair` mode, or
sha256(norm(prompt)) in `prompt` mode. The kept record of each key is the
first in (descending priority, input order). Digests are held as a compact
(n, 32) uint8 array, so 10^7 records cost ~320 MB, not a dict of strings.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from filters.text_views import norm, prompt_key_text, response_view


class ExactConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    mode: Literal["pair", "prompt"] = "pair"


def key_text(record: dict, mode: str = "pair") -> str:
    prompt = prompt_key_text(record)
    if mode == "prompt":
        return prompt
    return prompt + "\x1f" + norm(response_view(record))


def exact_digest(record: dict, mode: str = "pair") -> bytes:
    return hashlib.sha256(key_text(record, mode).encode("utf-8", errors="surrogatepass")).digest()


def exact_key(record: dict, mode: str = "pair") -> str:
    return exact_digest(record, mode).hex()


def group_representatives(sort_keys: list[np.ndarray], priority: np.ndarray) -> np.ndarray:
    """rep[i] = index of the member kept for i's group (rep[i] == i when i is kept).

    A group is a run of equal `sort_keys` (all columns equal); its kept member
    has the highest priority, then the lowest index (input order).
    """
    n = len(priority)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    index = np.arange(n, dtype=np.int64)
    # np.lexsort sorts by the last key first
    order = np.lexsort([index, -priority.astype(np.int64), *reversed(sort_keys)])
    new_group = np.ones(n, dtype=bool)
    same = np.ones(n - 1, dtype=bool)
    for column in sort_keys:
        ordered = column[order]
        same &= ordered[1:] == ordered[:-1]
    new_group[1:] = ~same
    group_id = np.cumsum(new_group) - 1
    first_of_group = order[new_group]
    rep = np.empty(n, dtype=np.int64)
    rep[order] = first_of_group[group_id]
    return rep


def exact_duplicates(digests: np.ndarray, priority: np.ndarray | None = None) -> np.ndarray:
    """Representatives for (n, 32) uint8 sha256 digests in input order."""
    digests = np.ascontiguousarray(digests, dtype=np.uint8).reshape(-1, 32)
    words = digests.view("<u8")  # (n, 4): four 64-bit words, compared exactly
    if priority is None:
        priority = np.zeros(len(digests), dtype=np.int64)
    return group_representatives([words[:, i] for i in range(4)], priority)
