"""SqlExecGenerator: table + synthesized SQL → executed answer, no LLM (spec §4).

Work is split by table: each table gets `tasks_per_table` task slots, cut
into shards of `shard_size` slots. Slots are grouped into views of
`queries_per_view`: a view is one random row sample that fits the budget,
loaded once into a sandboxed SQLite database and rendered once per renderer.
Every random draw comes from `derive_seed(run_seed, "sql_exec", table, ...)`,
so a slot's outcome depends only on the seed, the table and the slot number,
never on how slots were cut into shards or where a shard runs.

A slot tries up to `max_retries` templates; each failed try is a reject with
its reason, and a slot with no success adds one `retries_exhausted` reject.
A table too wide for `table_budget` rejects each of its slots (`table_too_wide`).

The output lists the answers as `answers.format_answers` writes them (values
with a comma, and empty cells, in double quotes); `meta["answers"]` holds the
same values as a list of display strings.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from generators.base import Generator, ShardOutput
from generators.sql import bundled as bundled_tables
from generators.sql import tables as tables_mod
from generators.sql.answers import format_answers
from generators.sql.budget import MIN_ROWS, TableCosts, dropped_ranges, fit_exactly, fit_rows, table_costs
from generators.sql.config import SqlExecConfig
from generators.sql.execute import TableView
from generators.sql.grammar import NoCompatibleMapping, sample_template
from generators.sql.instantiate import instantiate, map_columns
from generators.sql.linearize import PHRASES, RENDERERS, RenderedView
from generators.sql.tables import Table
from generators.sql.tokens import counter_for
from taskmill.engine.base import Engine
from taskmill.records import canonical_json, derive_seed, make_record, reject, sha256_hex

METHOD = "sql_exec"
METHOD_VERSION = "2"  # 2: quoted identifiers, cell-exact answers, quoted answer lists, token budget
_CACHE: dict[str, tuple[Table, TableCosts]] = {}  # per process: tables reused across shards


def _read_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ValueError, OSError, sqlite3.Error]
    try:
        import duckdb

        errors.append(duckdb.Error)
    except ImportError:
        pass
    return tuple(errors)


_READ_ERRORS = _read_errors()  # what reading a table source may raise on bad input (pyarrow's are ValueError/OSError)


def list_tables(config: SqlExecConfig) -> list[dict[str, Any]]:
    """One JSON-able entry per table, in config order, bundled tables last."""
    entries: list[dict[str, Any]] = []
    for i, source in enumerate(config.sources):
        path = Path(source.path).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"sources[{i}].path: no file at {source.path!r}")
        # Delimiter None: a comma, or the `;`/tab/`|` of a header with no comma (the user did not set one).
        guess = source.kind == "csv" and "delimiter" not in source.model_fields_set and source.delimiter == ","
        common = {
            "kind": source.kind, "path": str(path), "column_types": source.column_types,
            "delimiter": None if guess else source.delimiter,
        }  # fmt: skip
        if source.kind in ("csv", "parquet"):
            entries.append({"table_id": source.name or path.stem, "table": None, **common})
            continue
        try:
            present = tables_mod.db_table_names(source.kind, path)
        except _READ_ERRORS as error:
            raise ValueError(f"sources[{i}].path: cannot read {source.kind} file {source.path!r}: {error}") from None
        missing = sorted(set(source.tables or []) - set(present))
        if missing:
            raise ValueError(f"sources[{i}].tables: {missing} not in {source.path!r}; it has {present}")
        for name in source.tables or present:
            entries.append({"table_id": f"{path.stem}/{name}", "table": name, **common})
    if config.bundled:
        entries += [{"table_id": name, "kind": "bundled", "table": name} for name in bundled_tables.bundled_names()]
    seen: set[str] = set()
    for entry in entries:
        if entry["table_id"] in seen:
            raise ValueError(f"sources: two tables are both named {entry['table_id']!r}; set name to tell them apart")
        seen.add(entry["table_id"])
    excluded = {t.removeprefix("table:") for t in config.exclude_tables}
    return [e for e in entries if e["table_id"] not in excluded]


def load_table(entry: dict[str, Any], config: SqlExecConfig) -> tuple[Table, TableCosts]:
    """The normalized table (cut to the columns that fit the budget) and its costs, cached per process."""
    shape = [
        config.max_columns, config.max_rows, config.max_cell_chars, config.drop_columns, config.budget_unit,
        config.tokenizer, config.renderer, config.table_budget,
    ]  # fmt: skip
    key = canonical_json([entry, shape])
    if key in _CACHE:
        return _CACHE[key]
    kind = entry["kind"]
    source_notes: list[str] = []
    if kind == "bundled":
        header, rows = bundled_tables.read_bundled(entry["table"])
    elif kind == "csv":
        header, rows = tables_mod.read_csv(entry["path"], entry["delimiter"], config.max_rows, source_notes)
    elif kind == "parquet":
        header, rows = tables_mod.read_parquet(entry["path"], config.max_rows)
    else:  # sqlite or duckdb
        header, rows = tables_mod.read_db_table(kind, entry["path"], entry["table"], config.max_rows)
    table = tables_mod.build_table(
        entry["table_id"], header, rows, typed=kind in ("parquet", "sqlite", "duckdb"),
        column_types=entry.get("column_types"), drop_columns=config.drop_columns, max_columns=config.max_columns,
        max_rows=config.max_rows, max_cell_chars=config.max_cell_chars, strict_overrides=kind in ("csv", "parquet"),
    )  # fmt: skip
    table.notes[:0] = source_notes
    count = counter_for(config.budget_unit, config.tokenizer)
    display = [table.row(i) for i in range(table.n_rows)]
    costs = table_costs(table.header, display, count, config.renderer, config.table_budget)
    if 0 < costs.columns < len(table.columns):
        cut = [c.header for c in table.columns[costs.columns :]]
        names = ", ".join(repr(h) for h in cut[:3]) + (", ..." if len(cut) > 3 else "")
        notes = [*table.notes, f"cut {len(cut)} columns ({names}) to fit table_budget={config.table_budget}"]
        table = Table(table.table_id, table.columns[: costs.columns], table.n_rows, notes)
    _CACHE[key] = (table, costs)
    return _CACHE[key]


class SqlExecGenerator(Generator):
    method = METHOD
    Config = SqlExecConfig
    needs_engine = False

    def __init__(self, config: SqlExecConfig, run_seed: int):
        super().__init__(config, run_seed)
        self.config: SqlExecConfig = config

    def plan_shards(self, documents: list[dict]) -> list[dict[str, Any]]:
        """Shards of task slots per table; documents are not used."""
        entries = list_tables(self.config)
        if not entries:
            raise ValueError("sources: no tables to generate from (all excluded, or no bundled package installed)")
        counts = [self.config.tasks_per_table] * len(entries)
        if self.config.tasks is not None:
            share, extra = divmod(self.config.tasks, len(entries))
            counts = [share + (1 if i < extra else 0) for i in range(len(entries))]
        shards = []
        for entry, count in zip(entries, counts):
            for start in range(0, count, self.config.shard_size):
                shards.append({"table": entry, "slots": [start, min(count, start + self.config.shard_size)]})
        return shards

    def run_shard(self, shard: dict[str, Any], engine: Engine | None = None) -> ShardOutput:
        cfg = self.config
        count = counter_for(cfg.budget_unit, cfg.tokenizer)  # a tokenizer that fails to load fails the run
        start, stop = shard["slots"]
        try:
            table, costs = load_table(shard["table"], cfg)
            unusable = self._unusable(table, costs)
        except _READ_ERRORS as error:
            # One unreadable table must not stop the run: its slots become rejects that say why.
            table, costs = Table(shard["table"]["table_id"], [], 0), TableCosts(0, 0, [], True)
            unusable = ("unreadable_table", f"{type(error).__name__}: {error}")
        stats = {"table": table.table_id, "slots": stop - start, "views": 0, "candidates": 0, "kept": 0}
        stats["notes"] = table.notes
        out = ShardOutput(stats=stats)
        reasons: Counter[str] = Counter()
        if unusable is not None:
            for slot in range(start, stop):
                reasons[unusable[0]] += 1
                index = slot * (cfg.max_retries + 1)
                out.rejects.append(self._reject(table, index, [], {"slot": slot}, *unusable))
            out.stats.update(candidates=stop - start, rejects=dict(reasons))
            return out
        per_view = cfg.queries_per_view
        view = TableView(table, [], cfg.query_timeout_s)
        try:
            for view_index in range(start // per_view, (stop - 1) // per_view + 1 if stop > start else 0):
                view_rng = random.Random(derive_seed(self.run_seed, METHOD, table.table_id, "view", view_index))
                rows = fit_rows(view_rng, costs.header, costs.rows, cfg.table_budget)
                if not costs.exact:
                    all_rows = [table.row(i) for i in range(table.n_rows)]
                    rows = fit_exactly(rows, table.header, all_rows, costs.rows, count, cfg.renderer, cfg.table_budget)
                view.show(rows)
                rendered = RenderedView(table.header, view.display_rows())
                dropped = dropped_ranges(rows, table.n_rows)
                out.stats["views"] += 1
                for slot in range(max(start, view_index * per_view), min(stop, (view_index + 1) * per_view)):
                    self._run_slot(table, view, rendered, dropped, view_index, slot, out, reasons)
        finally:
            view.close()
        out.stats["kept"] = len(out.kept)
        out.stats["rejects"] = dict(sorted(reasons.items()))
        return out

    def _unusable(self, table: Table, costs: TableCosts) -> tuple[str, str] | None:
        """(reject reason, message) when no task can come from this table, else None."""
        if not table.columns or not table.n_rows:
            return "no_compatible_mapping", f"table has {len(table.columns)} usable columns and {table.n_rows} rows"
        if costs.columns == 0:
            cfg = self.config
            return "table_too_wide", (
                f"the first column's header and {MIN_ROWS} typical rows need more than table_budget="
                f"{cfg.table_budget} {cfg.budget_unit} (the first header alone: {costs.header})"
            )
        return None

    def _run_slot(
        self, table: Table, view: TableView, rendered: RenderedView, dropped: list[list[int]],
        view_index: int, slot: int, out: ShardOutput, reasons: Counter[str],
    ) -> None:  # fmt: skip
        cfg = self.config
        rng = random.Random(derive_seed(self.run_seed, METHOD, table.table_id, slot))
        renderer = rng.choice(RENDERERS) if cfg.renderer == "mixed" else cfg.renderer
        phrase_index = rng.randrange(len(PHRASES))
        stride = cfg.max_retries + 1  # sample indices: one per try, plus the slot's exhaustion record
        tried: list[str] = []
        for attempt in range(cfg.max_retries):
            sample_index = slot * stride + attempt
            meta: dict[str, Any] = {"slot": slot, "view": view_index, "attempt": attempt}
            out.stats["candidates"] += 1
            parents, answers, reason, detail = self._try(rng, table, view, meta)
            if reason is None:
                prompt = rendered.render(renderer, meta["encoded_sql"], PHRASES[phrase_index])
                meta.update(
                    renderer=renderer, phrase=None if renderer == "tapex" else phrase_index,
                    dropped_rows=dropped, rows_shown=len(view.rows), rows_total=table.n_rows,
                )  # fmt: skip
                out.kept.append(
                    make_record(
                        method=METHOD, source_id="table:" + table.table_id, instruction=prompt, input="",
                        output=format_answers(answers), model="none", prompt=prompt,
                        seed=self.run_seed, sample_index=sample_index, sampling=None, parents=parents,
                        method_version=METHOD_VERSION, meta=meta,
                    )  # fmt: skip
                )
                return
            tried.append(reason)
            reasons[reason] += 1
            out.rejects.append(self._reject(table, sample_index, parents, meta, reason, detail))
        reasons["retries_exhausted"] += 1
        meta = {"slot": slot, "view": view_index, "tried": tried}
        out.rejects.append(self._reject(table, slot * stride + cfg.max_retries, [], meta, "retries_exhausted", None))

    def _try(
        self, rng: random.Random, table: Table, view: TableView, meta: dict[str, Any]
    ) -> tuple[list[str], list[Any], str | None, str | None]:
        """One template on the view → (parents, answers, reject reason or None, detail); fills `meta`."""
        cfg = self.config
        parents: list[str] = []
        try:
            template = sample_template(rng, table.type_counts, cfg.shape_weights, cfg.max_conditions)
            template_text = template.text()
            parents = ["template:" + sha256_hex(template_text)[:16]]
            meta.update(shape=template.shape, difficulty=template.clauses, template=template_text)
            mapping = map_columns(template.variables, table, rng)
        except NoCompatibleMapping as error:
            return parents, [], "no_compatible_mapping", str(error)
        query = instantiate(template, mapping, view, rng, cfg.cell_literal_probability)
        meta.update(executable_sql=query.sql, params=query.params, encoded_sql=query.encoded)
        meta["columns"] = {var: column.header for var, column in mapping.items()}
        result = view.run(query.sql, query.params, cfg.max_answers)
        if result.reason is not None:
            return parents, [], result.reason, result.detail
        if query.tie_sql is not None:
            tie = view.tied(query.tie_sql, query.tie_params)
            if tie is True:
                return parents, [], "ambiguous_answer", "the order key ties at the limit"
            if tie is not False:
                return parents, [], tie.reason, tie.detail
        meta["answers"] = view.display_answers(result, query.answer_columns)
        return parents, meta["answers"], None, None

    def _reject(
        self, table: Table, sample_index: int, parents: list[str], meta: dict, reason: str, detail: str | None
    ) -> dict:
        record = make_record(
            method=METHOD, source_id="table:" + table.table_id, model="none", seed=self.run_seed,
            sample_index=sample_index, sampling=None, parents=parents, method_version=METHOD_VERSION, meta=meta,
        )  # fmt: skip
        return reject(record, reason, stage=METHOD, **({"message": detail} if detail else {}))
