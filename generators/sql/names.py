"""Column names in the SQL shown to the model, quoted the way SQLite quotes identifiers.

A header that is not a plain identifier (`1960`, `eol-server`, `a 2`, a
keyword such as `order`) is written in double quotes with inner quotes
doubled, as SQLite's own shell does when it prints a schema: the rule is
"quote unless it matches [A-Za-z_][A-Za-z0-9_]* and is not a keyword".
The keyword list is SQLite's (https://sqlite.org/lang_keywords.html).
"""

from __future__ import annotations

import functools
import re

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SQLITE_KEYWORDS = frozenset(
    """
    abort action add after all alter always analyze and as asc attach autoincrement before begin between by
    cascade case cast check collate column commit conflict constraint create cross current current_date
    current_time current_timestamp database default deferrable deferred delete desc detach distinct do drop
    each else end escape except exclude exclusive exists explain fail filter first following for foreign
    from full generated glob group groups having if ignore immediate in index indexed initially inner insert
    instead intersect into is isnull join key last left like limit match materialized natural no not nothing
    notnull null nulls of offset on or order others outer over partition plan pragma preceding primary query
    raise range recursive references regexp reindex release rename replace restrict returning right rollback
    row rows savepoint select set table temp temporary then ties to transaction trigger unbounded union
    unique update using vacuum values view virtual when where window with without
    """.split()
)


@functools.lru_cache(maxsize=4096)
def quote_identifier(name: str) -> str:
    """`name` as SQLite would write it in SQL: bare if a plain non-keyword identifier, else `"..."`."""
    if _PLAIN.fullmatch(name) and name.lower() not in SQLITE_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'
