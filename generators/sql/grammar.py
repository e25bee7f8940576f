"""A typed grammar that synthesizes SQL query templates.

A template is a SQUALL-style token list over typed column variables and
literal holes, independent of any concrete table:

    ("k", text)                    keyword text, in both SQL forms
    ("x", text)                    executable-only text (`from w`, `nulls last`)
    ("c", var, role)               column variable; role "v" = display column,
                                   "n" = compared/aggregated column (REAL twin of numbers)
    ("l", index, var, kind, arg)   literal hole, filled from the mapped column

Variables are named by type and order (`n0` number, `t0` text, `d0` date).
Each production asks for the column types it needs among those the table
has; a template that needs more distinct columns of a type than the table
offers raises `NoCompatibleMapping` (reject `no_compatible_mapping`).
Superlative shapes also carry a tie-check query: if the k-th and (k+1)-th
sort keys are equal the answer depends on row order, not on the table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

Token = tuple[Any, ...]
VAR_TYPES = {"n": "number", "t": "text", "d": "date"}
ANY = ("number", "text", "date")
ORDERABLE = ("number", "date")
NUMBER = ("number",)
# Repeats weight the choice: equality is the common case in table QA.
OPS = {
    "number": ("=", "=", "!=", "<", ">", "<=", ">=", "between", "in"),
    "text": ("=", "=", "=", "!=", "like", "in"),
    "date": ("=", "<", ">", "between"),
}
SHAPES = ("project", "aggregate", "superlative", "distinct", "group", "arithmetic", "nested_in", "scalar_compare")
DEFAULT_SHAPE_WEIGHTS = {
    "project": 3.0, "aggregate": 3.0, "superlative": 3.0, "distinct": 1.0,
    "group": 2.0, "arithmetic": 2.0, "nested_in": 1.0, "scalar_compare": 1.0,
}  # fmt: skip


class NoCompatibleMapping(Exception):
    """The table has too few columns of a type the template needs."""


@dataclass
class Template:
    shape: str
    tokens: list[Token]
    clauses: int  # difficulty: conditions, aggregates, group by, having, order by, limit, subqueries, ...
    tie_tokens: list[Token] | None
    variables: list[str]  # in order of first appearance
    # Per selected column: the variable whose cells the answers are (projections, min/max),
    # or None for computed values (count, sum, avg, arithmetic).
    answer_vars: list[str | None] = field(default_factory=list)

    def text(self) -> str:
        """Canonical form (variables and `?` holes), the template's identity."""
        parts = []
        for tok in self.tokens:
            kind = tok[0]
            if kind in ("k", "x"):
                parts.append(tok[1])
            elif kind == "c":
                parts.append("{" + tok[1] + ("}" if tok[2] == "v" else ".n}"))
            else:
                parts.append(f"?{tok[3]}")
        return " ".join(parts)


def K(text: str) -> Token:
    return ("k", text)


def X(text: str) -> Token:
    return ("x", text)


class _Builder:
    def __init__(self, rng: random.Random, type_counts: dict[str, int], max_conditions: int):
        self.rng = rng
        self.free = dict(type_counts)  # columns of each type not yet claimed by a variable
        self.next_index = {t: 0 for t in ANY}
        self.variables: list[str] = []
        self.n_literals = 0
        self.clauses = 0
        self.max_conditions = max_conditions
        self.last_function = ""

    def new_var(self, allowed: tuple[str, ...]) -> str:
        candidates = [t for t in allowed if self.free.get(t, 0) > 0]
        if not candidates:
            raise NoCompatibleMapping(f"needs another column of type {'/'.join(allowed)}")
        kind = self.rng.choice(candidates)
        self.free[kind] -= 1
        name = f"{kind[0]}{self.next_index[kind]}"
        self.next_index[kind] += 1
        self.variables.append(name)
        return name

    def lit(self, var: str | None, kind: str, arg: Any = None) -> Token:
        token = ("l", self.n_literals, var, kind, arg)
        self.n_literals += 1
        return token

    def free_total(self) -> int:
        return sum(self.free.values())

    def condition(self) -> list[Token]:
        var = self.new_var(ANY)
        op = self.rng.choice(OPS[VAR_TYPES[var[0]]])
        self.clauses += 1
        column = ("c", var, "n")
        if op == "between":
            return [column, K("between"), self.lit(var, "between")]
        if op == "in":
            return [column, K("in"), self.lit(var, "in", self.rng.randint(2, 3))]
        if op == "like":
            return [column, K("like"), self.lit(var, "like")]
        # Equality with a value from the column's range would almost never match: use a cell.
        return [column, K(op), self.lit(var, "cell" if op in ("=", "!=") else "value")]

    def where(self, skip_probability: float = 0.0) -> list[Token]:
        """Conditions on columns not used yet; productions claim their own columns first."""
        if skip_probability and self.rng.random() < skip_probability:
            return []
        draw = self.rng.random()
        n = 1 if draw < 0.55 else (2 if draw < 0.85 else 3)
        n = min(n, self.max_conditions, self.free_total())
        if n == 0:
            if skip_probability:
                return []
            raise NoCompatibleMapping("needs another column for a condition")
        joiner = self.rng.choice(("and", "and", "or"))
        tokens: list[Token] = [K("where")]
        for i in range(n):
            if i:
                tokens.append(K(joiner))
            tokens += self.condition()
        return tokens

    def projection(self) -> list[Token]:
        tokens: list[Token] = [("c", self.new_var(ANY), "v")]
        if self.rng.random() < 0.15 and self.free_total() > 1:
            tokens += [K(","), ("c", self.new_var(ANY), "v")]
        return tokens

    def aggregate(self, numeric: bool = False, var: str | None = None) -> tuple[list[Token], str | None]:
        """An aggregate call and its variable; with `var`, aggregate that existing variable (e.g. max - min).

        `self.last_function` names the function chosen."""
        self.clauses += 1
        fns = ("sum", "avg", "min", "max") if var else ("count(*)", "count", "sum", "avg", "min", "max", "max", "min")
        if not numeric and not var:
            fns += ("count_distinct",)
        fn = self.rng.choice(fns)
        self.last_function = fn
        if fn == "count(*)":
            return [K("count(*)")], None
        if fn in ("count", "count_distinct"):
            var = var or self.new_var(ANY)
            head = "count(distinct" if fn == "count_distinct" else "count("
            return [K(head), ("c", var, "v"), K(")")], var
        var = var or self.new_var(NUMBER if numeric or fn in ("sum", "avg") else ORDERABLE)
        return [K(fn + "("), ("c", var, "n"), K(")")], var

    def order(self, key: list[Token], k: int) -> tuple[list[Token], list[Token]]:
        direction = self.rng.choice(("asc", "desc"))
        self.clauses += 2
        tail = [K("order by"), *key, K(direction), X("nulls last")]
        return tail + [K("limit"), K(str(k))], tail + [X(f"limit 2 offset {k - 1}")]


Production = tuple[list[Token], list[Token] | None, list[str | None]]  # tokens, tie check, answer vars


def _selected(projection: list[Token]) -> list[str | None]:
    return [tok[1] for tok in projection if tok[0] == "c"]


def _project(b: _Builder) -> Production:
    projection = b.projection()
    return [K("select"), *projection, X("from w"), *b.where()], None, _selected(projection)


def _aggregate(b: _Builder) -> Production:
    call, var = b.aggregate()
    answer = var if b.last_function in ("min", "max") else None  # min/max return a cell of the column
    return [K("select"), *call, X("from w"), *b.where(skip_probability=0.3)], None, [answer]


def _superlative(b: _Builder) -> Production:
    projection = b.projection()
    key = [("c", b.new_var(ORDERABLE), "n")]
    where = b.where(skip_probability=0.5)
    k = b.rng.choice((1, 1, 1, 1, 2, 3))
    tail, tie_tail = b.order(key, k)
    tie = [K("select"), *key, X("from w"), *where, *tie_tail]
    return [K("select"), *projection, X("from w"), *where, *tail], tie, _selected(projection)


def _distinct(b: _Builder) -> Production:
    b.clauses += 1
    column = ("c", b.new_var(ANY), "v")
    return [K("select distinct"), column, X("from w"), *b.where(skip_probability=0.3)], None, [column[1]]


def _group(b: _Builder) -> Production:
    group = ("c", b.new_var(("text", "text", "number", "date")), "v")
    b.clauses += 1
    variant = b.rng.choice(("having_count", "having_aggregate", "by_count"))
    if variant == "having_count":
        b.clauses += 1
        op = b.rng.choice((">", ">=", "="))
        having = [K("having count(*)"), K(op), b.lit(None, "count", op)]
    elif variant == "having_aggregate":
        b.clauses += 1
        call, var = b.aggregate(numeric=True, var=b.new_var(NUMBER))
        having = [K("having"), *call, K(b.rng.choice((">", "<"))), b.lit(var, "value")]
    where = b.where(skip_probability=0.6)
    head = [K("select"), group, X("from w"), *where, K("group by"), group]
    if variant != "by_count":
        return [*head, *having], None, [group[1]]
    tail, tie_tail = b.order([K("count(*)")], 1)
    tie = [K("select count(*)"), X("from w"), *where, K("group by"), group, *tie_tail]
    return [*head, *tail], tie, [group[1]]


def _arithmetic(b: _Builder) -> Production:
    b.clauses += 1
    left, var = b.aggregate(numeric=True)
    reuse = var is not None and var[0] == "n" and b.rng.random() < 0.4
    right, _ = b.aggregate(numeric=True, var=var if reuse else None)
    left_where, right_where = b.where(skip_probability=0.6), b.where(skip_probability=0.6)
    tokens = [K("select"), K("("), K("select"), *left, X("from w"), *left_where, K(")")]
    tokens += [K(b.rng.choice(("-", "+"))), K("("), K("select"), *right, X("from w"), *right_where]
    return [*tokens, K(")")], None, [None]


def _nested_in(b: _Builder) -> Production:
    b.clauses += 2  # the `in` condition and its subquery
    projection = b.projection()
    link = ("c", b.new_var(ANY), "n")
    inner = b.where()
    subquery = [K("("), K("select"), link, X("from w"), *inner, K(")")]
    return [K("select"), *projection, X("from w"), K("where"), link, K("in"), *subquery], None, _selected(projection)


def _scalar_compare(b: _Builder) -> Production:
    b.clauses += 3  # the comparison, its subquery and the aggregate
    projection = b.projection()
    key = ("c", b.new_var(NUMBER), "n")
    op = b.rng.choice((">", "<"))
    fn = b.rng.choice(("avg", "avg", "min" if op == ">" else "max"))
    inner = b.where(skip_probability=0.5)
    subquery = [K("("), K("select"), K(fn + "("), key, K(")"), X("from w"), *inner, K(")")]
    tokens = [K("select"), *projection, X("from w"), K("where"), key, K(op), *subquery]
    if b.rng.random() < 0.5 and b.free_total():
        tokens += [K("and"), *b.condition()]
    return tokens, None, _selected(projection)


_PRODUCTIONS = {
    "project": _project, "aggregate": _aggregate, "superlative": _superlative, "distinct": _distinct,
    "group": _group, "arithmetic": _arithmetic, "nested_in": _nested_in, "scalar_compare": _scalar_compare,
}  # fmt: skip


def sample_template(
    rng: random.Random,
    type_counts: dict[str, int],
    shape_weights: dict[str, float] | None = None,
    max_conditions: int = 3,
) -> Template:
    """One template for a table with `type_counts` columns of each type."""
    weights = shape_weights or DEFAULT_SHAPE_WEIGHTS
    shape = rng.choices(SHAPES, weights=[weights.get(s, 0.0) for s in SHAPES])[0]
    builder = _Builder(rng, type_counts, max_conditions)
    tokens, tie, answer_vars = _PRODUCTIONS[shape](builder)
    return Template(
        shape=shape, tokens=tokens, clauses=builder.clauses, tie_tokens=tie, variables=builder.variables,
        answer_vars=answer_vars,
    )  # fmt: skip
