"""Table linearizations and the instruction bank (fitting a table to its budget: `budget`).

The TAPEX and indexed-row linearizations are protocols (byte-exact, see the
spec); the pipe table and the phrasings are ours. Cells and headers arrive
already lower-cased and single-line (see `tables.normalize_text`).
"""

from __future__ import annotations

from typing import Sequence

RENDERERS = ("instruction", "tapex", "indexed")

# Our own phrasings: each is followed by a space and the encoded SQL.
PHRASES = (
    "Run this SQL query on the table above and return the result:",
    "Execute the following SQL against the table and give the answer:",
    "What does this query return when it is run on the table above?",
    "Using the table above, evaluate this SQL statement:",
    "Work out the output of this query over the table:",
    "Apply this query to the table and list what it selects, separated by commas:",
    "Read the table and compute the result of the SQL below:",
    "Evaluate the SQL query on the data above and state the result:",
    "Given the table, what answer does this SQL query produce?",
    "Act as a database engine: run the query on the table and reply with its output only:",
)


def tapex_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The table part of TAPEX, unstripped: `col : h1 | h2 row 1 : a | b `."""
    parts = ["col : " + " | ".join(header) + " "]
    for i, cells in enumerate(rows, start=1):
        parts.append(f"row {i} : " + " | ".join(cells) + " ")
    return "".join(parts)


def tapex(sql: str, header: Sequence[str], rows: Sequence[Sequence[str]], table_part: str | None = None) -> str:
    """TAPEX: `lower(sql) col : ... row 1 : ...` (spec, byte-exact)."""
    part = tapex_table(header, rows) if table_part is None else table_part
    return (sql.lower().strip() + " " + part).strip()


def indexed(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The Zero-to-Hero evaluation linearizer: `header: ... row 1 : ...` one row per line."""
    parts = ["header: " + " | ".join(header) + " "]
    for i, cells in enumerate(rows, start=1):
        parts.append(f"row {i} : " + " | ".join(cells) + "\n")
    return "".join(parts).strip()


def pipe_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """One `| a | b |` line per row, header first (the spec's instruction style)."""
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, *rows])


def instruction(table_text: str, phrase: str, encoded_sql: str) -> str:
    return table_text + "\n" + phrase + " " + encoded_sql


class RenderedView:
    """Per-view cache: each renderer's table text is built once for many queries."""

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[str]]):
        self.header = list(header)
        self.rows = [list(r) for r in rows]
        self._tables: dict[str, str] = {}

    def _table(self, renderer: str) -> str:
        text = self._tables.get(renderer)
        if text is None:
            if renderer == "instruction":
                text = pipe_table(self.header, self.rows)
            elif renderer == "indexed":
                text = indexed(self.header, self.rows)
            elif renderer == "tapex":
                text = tapex_table(self.header, self.rows)
            else:
                raise ValueError(f"renderer: {renderer!r} is not one of {list(RENDERERS)}")
            self._tables[renderer] = text
        return text

    def render(self, renderer: str, encoded_sql: str, phrase: str) -> str:
        if renderer == "tapex":
            return tapex(encoded_sql, self.header, self.rows, table_part=self._table("tapex"))
        return instruction(self._table(renderer), phrase, encoded_sql)
