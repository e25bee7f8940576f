"""Fitting a table to `table_budget`: cost of the rendered table, column cuts, row draws.

The budget bounds the table text of every renderer in use (the pipe table,
the TAPEX `col : ... row i : ...` part, the indexed rows), counted in the
configured unit (tokens of a tokenizer, or characters).

Costs are computed once per table from pieces: each cell as `" " + cell`,
the separator `" |"`, and each renderer's fixed parts (`col :`, `" row 7 :"`,
`"\\n|"`). With a byte-level BPE tokenizer (GPT-2 style pre-tokenization:
SmolLM2, Llama 3, Qwen, BART) these pieces start and end on pre-token
boundaries, so a table's count is the sum of its pieces. That is checked on
a sample of each table (`TableCosts.exact`); where it does not hold, each
view's rendered text is counted and rows are dropped until it fits.

A table whose header and three typical rows do not fit keeps the widest
prefix of its columns that does; a table where not even one column fits is
too wide (reject `table_too_wide`).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from generators.sql.linearize import indexed, pipe_table, tapex_table
from generators.sql.tokens import Counter

FORMS_BY_RENDERER = {
    "instruction": ("instruction",), "tapex": ("tapex",), "indexed": ("indexed",),
    "mixed": ("instruction", "tapex", "indexed"),
}  # fmt: skip
MIN_ROWS = 3  # a table must fit its header and this many typical (median) rows
_SAMPLE_ROWS = 40  # rows of each table whose pieces are checked against the joint count


def _open(form: str) -> str:
    return {"tapex": "col :", "indexed": "header:", "instruction": "|"}[form]


def _row_open(form: str, position: int) -> str:
    if form == "instruction":
        return "\n|"
    lead = " " if form == "tapex" or position == 1 else "\n"
    return f"{lead}row {position} :"


def _close(form: str) -> str:
    return " |" if form == "instruction" else ""


def _cells(cells: Sequence[str]) -> str:
    return " " + " | ".join(cells)


def render_table(form: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The table text a renderer shows (what the budget bounds)."""
    if form == "tapex":
        return tapex_table(header, rows).strip()
    return indexed(header, rows) if form == "indexed" else pipe_table(header, rows)


@dataclass
class TableCosts:
    columns: int  # columns kept (a prefix of the table's); 0: too wide for the budget
    header: int  # cost of the header, the most over the renderers in use
    rows: list[int]  # per source row: most it can cost at any position up to its own index + 1
    exact: bool  # piece costs add up to the joint count (checked on a sample)


def table_costs(
    header: Sequence[str], rows: Sequence[Sequence[str]], count: Counter, renderer: str, budget: int
) -> TableCosts:
    """Costs of one table's header and rows under `renderer`, after any column cut."""
    forms = FORMS_BY_RENDERER[renderer]
    n, width = len(rows), len(header)
    if width == 0:
        return TableCosts(columns=0, header=0, rows=[], exact=True)
    sep = count([" |"])[0]
    closes = count([_close(f) for f in forms])
    header_open = max(o + c for o, c in zip(count([_open(f) for f in forms]), closes))
    head = np.cumsum(count([" " + h for h in header]))
    header_k = [int(head[k - 1]) + (k - 1) * sep + header_open for k in range(1, width + 1)]
    # Columns past the point where the header alone is over budget can never be kept.
    k_max = sum(1 for cost in header_k if cost <= budget)
    bound = _row_openers(count, forms, n)
    cumulative = _cell_costs(rows, k_max, count).cumsum(axis=1) if k_max and n else None
    keep = 0
    for k in range(k_max, 0, -1):
        if cumulative is None:
            keep = k
            break
        row_k = cumulative[:, k - 1] + (k - 1) * sep + bound
        if header_k[k - 1] + min(MIN_ROWS, n) * float(np.median(row_k)) <= budget:
            keep = k
            break
    if keep == 0:
        return TableCosts(columns=0, header=header_k[0] if header_k else 0, rows=[], exact=True)
    row_costs = (cumulative[:, keep - 1] + (keep - 1) * sep + bound).tolist() if cumulative is not None else []
    exact = _additive(header[:keep], [r[:keep] for r in rows[:_SAMPLE_ROWS]], count, forms)
    return TableCosts(columns=keep, header=header_k[keep - 1], rows=[int(c) for c in row_costs], exact=exact)


@functools.lru_cache(maxsize=32)
def _row_openers(count: Counter, forms: tuple[str, ...], n: int) -> np.ndarray:
    """Per row index i: the most the fixed parts of a row (`" row p :"`, `"\\n|"`, `" |"`) cost at any
    position p ≤ i + 1 in any form (row numbers grow as views keep later rows). Cached per process."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    opens = np.array(count([_row_open(f, p) for p in range(1, n + 1) for f in forms])).reshape(n, len(forms))
    per_position = (opens + np.array(count([_close(f) for f in forms]))).max(axis=1)
    return np.maximum.accumulate(per_position)


def _cell_costs(rows: Sequence[Sequence[str]], k: int, count: Counter) -> np.ndarray:
    """(rows × k) cost of each cell as `" " + cell`; each distinct cell is counted once."""
    distinct = list(dict.fromkeys(cell for row in rows for cell in row[:k]))
    cost = dict(zip(distinct, count([" " + c for c in distinct])))
    return np.array([[cost[cell] for cell in row[:k]] for row in rows], dtype=np.int64).reshape(len(rows), k)


def _additive(header: Sequence[str], rows: Sequence[Sequence[str]], count: Counter, forms: Sequence[str]) -> bool:
    """Do the pieces of this sample add up to the count of their concatenation, for every form?"""
    for form in forms:
        pieces = [_open(form), _cells(header), _close(form)]
        for p, row in enumerate(rows, start=1):
            pieces += [_row_open(form, p), _cells(row), _close(form)]
        pieces = [piece for piece in pieces if piece]
        if sum(count(pieces)) != count(["".join(pieces)])[0]:
            return False
    return True


def fit_rows(rng: random.Random, header_cost: int, costs: Sequence[int], budget: int) -> list[int]:
    """Row indices (in table order) that fit in `budget`; rows are dropped at random.

    Like TAPEX the kept share is about budget / table cost, but rows are drawn
    greedily until the budget is full, so the table always fits (if no row
    fits beside the header, the cheapest one is kept).
    """
    n = len(costs)
    total = header_cost + sum(costs)
    if total <= budget or n == 0:
        return list(range(n))
    room = budget - header_cost
    mean = max(1.0, (total - header_cost) / n)
    # Draw a few times the expected number of rows instead of shuffling the whole table.
    draw = min(n, int(2 * max(room, 0) / mean) + 8)
    kept = []
    for index in rng.sample(range(n), draw):
        if costs[index] <= room:
            kept.append(index)
            room -= costs[index]
    if not kept:
        kept = [min(range(n), key=costs.__getitem__)]
    return sorted(kept)


def fit_exactly(
    kept: list[int], header: Sequence[str], rows: Sequence[Sequence[str]], costs: Sequence[int],
    count: Counter, renderer: str, budget: int,
) -> list[int]:  # fmt: skip
    """For tokenizers whose pieces do not add up: count each rendered table, drop the costliest row until all fit."""
    kept = list(kept)
    while len(kept) > 1:
        shown = [rows[i] for i in kept]
        texts = [render_table(form, header, shown) for form in FORMS_BY_RENDERER[renderer]]
        if max(count(texts)) <= budget:
            break
        kept.remove(max(kept, key=lambda i: (costs[i], i)))
    return kept


def dropped_ranges(kept: Sequence[int], n_rows: int) -> list[list[int]]:
    """Dropped source rows as half-open [start, stop) ranges (compact for big tables)."""
    ranges = []
    previous = 0
    for index in kept:
        if index > previous:
            ranges.append([previous, index])
        previous = index + 1
    if previous < n_rows:
        ranges.append([previous, n_rows])
    return ranges
