"""Sandboxed SQLite execution of generated queries on one table view.

A view is the subset of a table's rows that fits the rendering budget. It is
loaded into its own in-memory SQLite database as table `w` (`c1..cN` text
plus REAL `cK_number` twins for number columns) and then locked down before
any generated SQL runs:

- `pragma query_only`: no writes;
- an authorizer that allows only SELECT, reads of `w` and a short list of
  pure functions, so ATTACH/DETACH, PRAGMA, recursive CTEs, `load_extension`
  and any file-touching function are refused at prepare time;
- `SQLITE_LIMIT_ATTACHED = 0` and extension loading off, as a second wall;
- a progress handler that aborts a statement after `timeout_s`.

One database per view is reused for many queries: building it costs about
as much as a few queries, so per-query databases would dominate the time.

Answers keep empty cells: a query matching three rows answers three values,
even when some are NULL (shown as `""`, see `answers`); only an answer with
no value at all is `empty_result`.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Sequence

from generators.sql.answers import EMPTY, format_value
from generators.sql.tables import Column, Table

ALLOWED_FUNCTIONS = frozenset(
    {"count", "sum", "avg", "total", "min", "max", "abs", "round", "lower", "upper", "length", "like"}
    | {"coalesce", "ifnull"}
)
_OK, _DENY = sqlite3.SQLITE_OK, sqlite3.SQLITE_DENY


_LOADING_ACTIONS = {
    (sqlite3.SQLITE_DELETE, "w"), (sqlite3.SQLITE_INSERT, "w"), (sqlite3.SQLITE_PRAGMA, "query_only"),
}  # fmt: skip


def _authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    if action == sqlite3.SQLITE_SELECT:
        return _OK
    if action == sqlite3.SQLITE_READ:
        return _OK if arg1 == "w" else _DENY
    if action == sqlite3.SQLITE_FUNCTION:
        return _OK if (arg2 or "").lower() in ALLOWED_FUNCTIONS else _DENY
    return _DENY


@dataclass
class Result:
    answers: list[Any] | None  # row-major values, NULL kept as None; None when rejected
    reason: str | None = None  # reject code
    detail: str | None = None
    width: int = 1  # values per row (selected columns)


class TableView:
    """The rows `rows` of `table`, loaded into a sandboxed in-memory database.

    `show(rows)` swaps in another row sample on the same connection, so the
    statement cache survives from one view to the next.
    """

    def __init__(self, table: Table, rows: Sequence[int], timeout_s: float = 0.25):
        self.table = table
        self.timeout_s = timeout_s
        self._deadline = float("inf")
        self._loading = True
        self.conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False, cached_statements=256)
        self._getters: list[list[Any]] = []
        definitions: list[str] = []
        for column in table.columns:
            definitions.append(f"{column.sql_name} text")
            self._getters.append(column.cells)
            if column.type == "number":
                definitions.append(f"{column.num_name} real")
                self._getters.append(column.numbers)  # type: ignore[arg-type]
        self.conn.execute(f"create table w ({', '.join(definitions)})")
        self._insert = f"insert into w values ({', '.join('?' * len(definitions))})"
        self._lock_down()
        self.show(rows)

    def _lock_down(self) -> None:
        conn = self.conn
        if hasattr(conn, "enable_load_extension"):  # absent when Python's SQLite was built without it
            conn.enable_load_extension(False)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000)
        conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, 100_000)
        conn.set_authorizer(self._authorize)
        conn.set_progress_handler(self._past_deadline, 1000)

    def _authorize(self, action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
        # Row swaps are our own statements, run between queries, never generated SQL.
        if self._loading and (action, arg1) in _LOADING_ACTIONS:
            return _OK
        return _authorize(action, arg1, arg2, db, trigger)

    def show(self, rows: Sequence[int]) -> None:
        """Replace the database's rows with `rows` of the table (the dropped rows are deleted)."""
        self._loading = True
        try:
            self.conn.execute("pragma query_only = 0")
            self.conn.execute("delete from w")
            self.conn.executemany(self._insert, ([g[i] for g in self._getters] for i in rows))
            self.conn.execute("pragma query_only = 1")
        finally:
            self._loading = False
        self.rows = list(rows)
        self._values: dict[str, list[Any]] = {}
        self._displays: dict[str, dict[Any, str]] = {}

    def _past_deadline(self) -> int:
        return 1 if time.perf_counter() > self._deadline else 0

    def values(self, column: Column) -> list[Any]:
        """Non-null literal values of `column` in this view (cached per column)."""
        cached = self._values.get(column.sql_name)
        if cached is None:
            per_row = column.row_values
            cached = [v for v in (per_row[i] for i in self.rows) if v is not None]
            self._values[column.sql_name] = cached
        return cached

    def display_of(self, column: Column, value: Any) -> str | None:
        """The display text of a cell of number `column` holding `value` in this view, if any."""
        table = self._displays.get(column.sql_name)
        if table is None:
            table = {}
            numbers, cells = column.numbers or [], column.cells
            for i in self.rows:
                if numbers[i] is not None:
                    table.setdefault(numbers[i], cells[i])
            self._displays[column.sql_name] = table
        return table.get(value)

    def display_answers(self, result: Result, columns: Sequence[Column | None]) -> list[str]:
        """Executed values → display strings: a value that is a cell reads as the cell is shown
        (`25.10`, `007`, `1`), computed values via `format_value`, NULL as `""`."""
        if len(columns) != result.width:
            columns = [None] * result.width
        out = []
        for i, value in enumerate(result.answers or []):
            column = columns[i % result.width]
            if value is None:
                out.append(EMPTY)
            elif isinstance(value, str):
                out.append(value)  # text columns hold display text already
            elif column is not None and column.type == "number":
                shown = self.display_of(column, value)
                out.append(format_value(value) if shown is None else shown)
            else:
                out.append(format_value(value))
        return out

    def display_rows(self) -> list[list[str]]:
        return [self.table.row(i) for i in self.rows]

    def _fetch(self, sql: str, params: Sequence[Any], limit: int) -> tuple[list[Any], bool, int] | Result:
        """Up to `limit` values (row-major, NULLs kept), whether more exist, and the row width."""
        self._deadline = time.perf_counter() + self.timeout_s
        cursor = None
        try:
            cursor = self.conn.execute(sql, params)
            width = len(cursor.description or ()) or 1
            values: list[Any] = []
            for row in cursor:
                values.extend(row)
                if len(values) > limit:
                    return values[:limit], True, width
            return values, False, width
        except sqlite3.OperationalError as error:
            if str(error) == "interrupted":
                return Result(None, "timeout", f"over {self.timeout_s} s")
            return Result(None, "sql_error", str(error))
        except (sqlite3.Error, OverflowError, ValueError) as error:
            return Result(None, "sql_error", f"{type(error).__name__}: {error}")
        finally:
            self._deadline = float("inf")
            if cursor is not None:
                cursor.close()

    def run(self, sql: str, params: Sequence[Any] = (), max_answers: int = 10) -> Result:
        """Execute and apply the acceptance rule: 1 ≤ answers ≤ max_answers with at least one
        non-null value, and no `none`."""
        fetched = self._fetch(sql, params, max_answers)
        if isinstance(fetched, Result):
            return fetched
        answers, more, width = fetched
        if more:
            return Result(None, "too_many_answers", f"more than {max_answers}")
        if all(a is None for a in answers) or any(isinstance(a, str) and a.lower() == "none" for a in answers):
            return Result(None, "empty_result")
        return Result(answers, width=width)

    def tied(self, sql: str, params: Sequence[Any] = ()) -> Result | bool:
        """Run a tie-check query: True when its first two rows hold the same key."""
        self._deadline = time.perf_counter() + self.timeout_s
        try:
            rows = self.conn.execute(sql, params).fetchmany(2)
        except sqlite3.OperationalError as error:
            reason = "timeout" if str(error) == "interrupted" else "sql_error"
            return Result(None, reason, str(error))
        except (sqlite3.Error, OverflowError, ValueError) as error:
            return Result(None, "sql_error", f"{type(error).__name__}: {error}")
        finally:
            self._deadline = float("inf")
        return len(rows) == 2 and rows[0][0] == rows[1][0]

    def close(self) -> None:
        self.conn.close()
