"""Template → concrete query on one table view: column mapping and literals.

Mapping binds each template variable to a distinct column of its own type
(the same variable always to the same column). Literals come from the mapped
column: a cell of the rows the model will see, or a value in the column's
range. In the executable SQL every literal is a bound `?` parameter; in the
encoded SQL shown to the model it is printed with SQL quoting, so no cell
value is ever pasted raw into SQL that runs. A number drawn from a cell is
printed as the cell is displayed (`25.10`, not `25.1`) when that is a valid
SQL number. Headers in the encoded SQL are quoted as SQLite quotes
identifiers (`"1960"`, `"eol-server"`).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from generators.sql.grammar import VAR_TYPES, NoCompatibleMapping, Template, Token
from generators.sql.names import quote_identifier
from generators.sql.tables import Column, Table

_WORD = re.compile(r"[^\W_]+")
_SQL_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?")


class ViewValues(Protocol):
    def values(self, column: Column) -> list[Any]:
        """Non-null literal values of `column` in the rows the model sees."""
        ...

    def display_of(self, column: Column, value: Any) -> str | None:
        """How a cell holding `value` is displayed in the rows the model sees (None if none does)."""
        ...


@dataclass
class Query:
    sql: str  # executable: `from w`, c-ids, `?` placeholders
    params: list[Any]
    encoded: str  # shown to the model: headers, quoted literals, no `from w`
    tie_sql: str | None = None
    tie_params: list[Any] = field(default_factory=list)
    literals: dict[int, tuple[str, Any]] = field(default_factory=dict)  # hole index → (column type, value)
    answer_columns: list[Column | None] = field(default_factory=list)  # per selected column: cells of, or computed


def map_columns(variables: Sequence[str], table: Table, rng: random.Random) -> dict[str, Column]:
    """Injective, type-preserving variable → column mapping."""
    mapping: dict[str, Column] = {}
    used: set[str] = set()
    for var in variables:
        if var in mapping:
            continue
        wanted = VAR_TYPES[var[0]]
        free = [c for c in table.columns if c.type == wanted and c.sql_name not in used]
        if not free:
            raise NoCompatibleMapping(f"no free {wanted} column for {var} in {table.table_id}")
        column = rng.choice(free)
        used.add(column.sql_name)
        mapping[var] = column
    return mapping


def show_literal(value: Any, display: str | None = None) -> str:
    """SQL spelling of a literal for the encoded query (strings quoted, quotes doubled).

    `display`: how the cell the number came from is shown; used when it is a valid SQL number.
    """
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if display is not None and _SQL_NUMBER.fullmatch(display):
        return display
    return repr(value) if isinstance(value, float) else str(value)


class _LiteralSampler:
    def __init__(self, view: ViewValues, rng: random.Random, cell_probability: float):
        self.view = view
        self.rng = rng
        self.cell_probability = cell_probability

    def value(self, column: Column) -> Any:
        if self.rng.random() < self.cell_probability:
            shown = self.view.values(column)
            if shown:
                return self.rng.choice(shown)
        return self.in_range(column)

    def cell(self, column: Column) -> Any:
        shown = self.view.values(column)
        return self.rng.choice(shown or column.values)

    def in_range(self, column: Column) -> Any:
        bounds = column.bounds
        if bounds is None:  # text has no range: any cell of the full table (it may be a dropped row)
            return self.rng.choice(column.values)
        low, high = bounds
        if column.type == "date":
            first, last = dt.date.fromisoformat(low[:10]).toordinal(), dt.date.fromisoformat(high[:10]).toordinal()
            return dt.date.fromordinal(self.rng.randint(first, last)).isoformat()
        if column.integral:
            return self.rng.randint(int(low), int(high))
        return round(self.rng.uniform(low, high), max(1, column.decimals))

    def like(self, column: Column) -> str:
        text = self.value(column)
        words = _WORD.findall(text)
        if not words:
            return text
        word = self.rng.choice(words)
        return word + "%" if text.startswith(word) and self.rng.random() < 0.5 else "%" + word + "%"

    def members(self, column: Column, n: int) -> list[Any]:
        distinct = list(dict.fromkeys(self.view.values(column) or column.values))
        return self.rng.sample(distinct, min(n, len(distinct)))


def instantiate(
    template: Template,
    mapping: dict[str, Column],
    view: ViewValues,
    rng: random.Random,
    cell_probability: float = 0.8,
) -> Query:
    sampler = _LiteralSampler(view, rng, cell_probability)
    literals: dict[int, tuple[str, Any]] = {}

    def literal(token: Token) -> tuple[str, str, list[Any]]:
        _, index, var, kind, arg = token
        if index not in literals:
            column = mapping[var] if var is not None else None
            col_type = column.type if column is not None else "number"
            if kind == "value":
                value: Any = sampler.value(column)
            elif kind == "cell":
                value = sampler.cell(column)
            elif kind == "between":
                value = sorted((sampler.value(column), sampler.value(column)))
            elif kind == "in":
                value = sampler.members(column, arg)
            elif kind == "like":
                value = sampler.like(column)
            elif kind == "count":
                value = rng.randint(1, 3)
            else:
                raise ValueError(f"unknown literal kind {kind!r}")
            literals[index] = (col_type, value)
        value = literals[index][1]
        column = mapping[var] if var is not None else None

        def show(v: Any) -> str:
            numeric = column is not None and column.type == "number" and not isinstance(v, str)
            return show_literal(v, view.display_of(column, v) if numeric else None)

        if kind == "between":
            return "? and ?", f"{show(value[0])} and {show(value[1])}", list(value)
        if kind == "in":
            marks = ", ".join("?" * len(value))
            return f"({marks})", "(" + ", ".join(show(v) for v in value) + ")", list(value)
        return "?", show(value), [value]

    def render(tokens: list[Token]) -> tuple[str, list[Any], str]:
        # Pieces are joined by one space, except after "(" and before ")" or ",".
        sql: list[str] = []
        encoded: list[str] = []
        params: list[Any] = []
        sql_glued = encoded_glued = True
        for token in tokens:
            kind = token[0]
            if kind == "k" or kind == "x":
                executable = token[1]
                shown = executable if kind == "k" else ""
            elif kind == "c":
                column = mapping[token[1]]
                executable = column.sql_name if token[2] == "v" else column.num_name
                shown = quote_identifier(column.header)
            else:
                executable, shown, values = literal(token)
                params += values
            if not sql_glued and executable[0] not in "),":
                sql.append(" ")
            sql.append(executable)
            sql_glued = executable[-1] == "("
            if shown:
                if not encoded_glued and shown[0] not in "),":
                    encoded.append(" ")
                encoded.append(shown)
                encoded_glued = shown[-1] == "("
        return "".join(sql), params, "".join(encoded)

    sql, params, encoded = render(template.tokens)
    query = Query(sql=sql, params=params, encoded=encoded, literals=literals)
    query.answer_columns = [mapping[v] if v is not None else None for v in template.answer_vars]
    if template.tie_tokens is not None:
        query.tie_sql, query.tie_params, _ = render(template.tie_tokens)
    return query
