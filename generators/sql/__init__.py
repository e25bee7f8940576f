"""Symbolic SQL-execution tasks (spec §4): tables + a typed SQL grammar + sandboxed SQLite."""

from generators.sql.checker import denotation_match
from generators.sql.config import REJECT_CODES, SqlExecConfig, TableSource
from generators.sql.generator import SqlExecGenerator

__all__ = ["SqlExecGenerator", "SqlExecConfig", "TableSource", "REJECT_CODES", "denotation_match"]
