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
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Sequence

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
    answers: list[Any] | None  # None when rejected
    reason: str | None = None  # reject code
    detail: str | None = None


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

    def display_rows(self) -> list[list[str]]:
        return [self.table.row(i) for i in self.rows]

    def _fetch(self, sql: str, params: Sequence[Any], limit: int) -> tuple[list[Any], bool] | Result:
        """Up to `limit` non-null values (row-major); the flag says whether more exist."""
        self._deadline = time.perf_counter() + self.timeout_s
        cursor = None
        try:
            cursor = self.conn.execute(sql, params)
            values: list[Any] = []
            for row in cursor:
                values.extend(v for v in row if v is not None)
                if len(values) > limit:
                    return values[:limit], True
            return values, False
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
        """Execute and apply the acceptance rule: 1 ≤ non-null answers ≤ max_answers, no `none`."""
        fetched = self._fetch(sql, params, max_answers)
        if isinstance(fetched, Result):
            return fetched
        answers, more = fetched
        if more:
            return Result(None, "too_many_answers", f"more than {max_answers}")
        if not answers or any(isinstance(a, str) and a.lower() == "none" for a in answers):
            return Result(None, "empty_result")
        return Result(answers)

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
