"""Look into a run directory (`taskmill inspect`) and write its export again (`taskmill export`).

Read-only except `reexport`, which takes the run lock like a run does.
Everything comes from the files: config.yaml, manifest.json, summary.json and
the Parquet shards (row counts from Parquet footers; only `reject_reason` is
read for the funnel, full rows only for the samples shown).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from taskmill.store import RunStore, run_lock

SHOWN_CHARS = 240


class RunDirError(RuntimeError):
    """Not a taskmill run directory, or one without the stage asked for."""


def _check(run_dir: str) -> str:
    run_dir = os.path.abspath(run_dir)
    if not os.path.exists(os.path.join(run_dir, "config.yaml")):
        raise RunDirError(f"{run_dir}: not a taskmill run directory (no config.yaml)")
    return run_dir


def stage_dirs(run_dir: str) -> list[str]:
    """Stage names (paths relative to the run dir) that hold shards, in a stable order."""
    stages = []
    for dirpath, _dirs, files in os.walk(run_dir):
        if any(f.startswith("shard-") and f.endswith(".parquet") for f in files):
            stages.append(os.path.relpath(dirpath, run_dir))
    return sorted(stages, key=lambda s: (s.startswith("rejects"), s))


def _rows(store: RunStore, stage: str) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in store.shard_paths(stage))


def _reasons(store: RunStore, stage: str) -> dict[str, int]:
    counts: Counter = Counter()
    for path in store.shard_paths(stage):
        column = pq.read_table(path, columns=["reject_reason"])["reject_reason"]
        for row in pc.value_counts(column).to_pylist():
            counts[row["values"] or "(none)"] += row["counts"]
    return dict(sorted(counts.items()))


def _curation_detail(meta: Any) -> Any:
    """A reject's `meta.curation` (its stage and detail, e.g. label_collapse's label, share and group), or None."""
    try:
        meta = json.loads(meta) if isinstance(meta, str) else meta
    except ValueError:
        return None
    return meta.get("curation") if isinstance(meta, dict) else None


def _clip(value: Any, keep_end: bool = False) -> str:
    """One line of at most ~SHOWN_CHARS; `keep_end` keeps both ends (an instruction's question follows its passage)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", " ")
    if len(text) <= SHOWN_CHARS:
        return text
    if keep_end:
        head = SHOWN_CHARS // 3
        return text[:head] + " … " + text[-(SHOWN_CHARS - head) :]
    return text[:SHOWN_CHARS] + " …"


def _sample(store: RunStore, stages: list[str], n: int, reason: str | None) -> list[dict]:
    out: list[dict] = []
    for stage in stages:
        for table in store.iter_shards(stage):
            if reason is not None:
                table = table.filter(pc.equal(table["reject_reason"], reason))
            for row in table.slice(0, n - len(out)).to_pylist():
                out.append({"stage": stage, **row})
            if len(out) >= n:
                return out
    return out


def _done(stages: list[str], manifest: dict[str, Any]) -> list[str]:
    """Stages (of those with shards, and of the manifest) that are finished.

    Global stages are marked done in the manifest. Generation is finished once the run
    marked `generated/<name>` done, or curation (which starts only after every
    generator has finished) is done; the stage's rejects and intermediates with it.
    """
    done = {s for s, info in manifest.items() if info.get("done")}
    generation_over = "curated" in done
    for stage in stages:
        kind, _, name = stage.partition("/")
        owner = f"generated/{name.removeprefix('generate-') if kind == 'rejects' else name}"
        if kind in ("generated", "intermediate") or (kind == "rejects" and name.startswith("generate-")):
            if generation_over or owner in done:
                done.add(stage)
    return sorted(done)


def overview(run_dir: str) -> dict[str, Any]:
    """{"run_dir", "stages": {stage: rows}, "done": [...], "rejects": {stage: {reason: n}}, "source_examples", "export": [files]}.

    `rejects["sources"]` (source rows skipped by reason) and `source_examples` ({reason: ["file:line: detail"]})
    come from summary.json, so a run that has not finished has none.
    """
    run_dir = _check(run_dir)
    store = RunStore(run_dir)
    manifest = store.manifest()["stages"]
    stages = stage_dirs(run_dir)
    export_dir = os.path.join(run_dir, "export")
    skipped, places = _source_skips(store)
    rejects = {"sources": skipped} if skipped else {}  # rows that never became documents: in summary.json only
    return {
        "run_dir": run_dir,
        "stages": {s: _rows(store, s) for s in stages if not s.startswith("rejects")},
        "done": _done(stages, manifest),
        "rejects": {**rejects, **{s: _reasons(store, s) for s in stages if s.startswith("rejects")}},
        "source_examples": places,
        "export": sorted(os.listdir(export_dir)) if os.path.isdir(export_dir) else [],
    }


def _source_skips(store: RunStore) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Source rows skipped by reason, and their first places (`file:line: detail`), from summary.json."""
    text = store.read_text("summary.json")
    if text is None:
        return {}, {}
    summary = json.loads(text)
    places: dict[str, list[str]] = {}
    for report in summary.get("sources", []):
        for reason, examples in report.get("examples", {}).items():
            places.setdefault(reason, []).extend(examples)
    return dict(summary.get("rejects", {}).get("sources", {})), places


def inspect_run(run_dir: str, *, reason: str | None = None, stage: str | None = None, samples: int = 3, as_json: bool = False) -> str:
    """Text (or JSON) for `taskmill inspect`: stage counts, rejects by reason, sample records."""
    info = overview(run_dir)
    store = RunStore(info["run_dir"])
    if stage is not None and stage not in info["stages"] and stage not in info["rejects"]:
        raise RunDirError(f"no stage {stage!r} in {info['run_dir']} (stages: {', '.join([*info['stages'], *info['rejects']])})")
    if reason is not None:
        known = {r for reasons in info["rejects"].values() for r in reasons}
        if reason not in known:
            raise RunDirError(f"no rejects with reason {reason!r} (reasons here: {', '.join(sorted(known)) or 'none'})")
        shown = _sample(store, [stage] if stage else [s for s in info["rejects"] if s != "sources"], samples, reason)
    else:
        default = "selected" if "selected" in info["stages"] else next(iter(info["stages"]), None)
        shown = [] if stage == "sources" else _sample(store, [stage or default] if (stage or default) else [], samples, None)
    if as_json:
        return json.dumps({**info, "samples": shown}, indent=2, default=str)
    lines = [f"run {info['run_dir']}", "", "stage                                records  done"]
    lines += [f"  {s:<34} {n:>8}  {'yes' if s in info['done'] else ''}" for s, n in info["stages"].items()]
    lines += ["", "rejected at                          reason                  records"]
    for s, reasons in info["rejects"].items():
        lines += [f"  {s:<34} {r:<22} {n:>8}" for r, n in reasons.items()]
    lines += ["", "export: " + (", ".join(info["export"]) or "(not written yet)"), ""]
    if reason:
        source_places = info["source_examples"].get(reason, [])
    else:
        source_places = [p for places in info["source_examples"].values() for p in places] if stage == "sources" else []
    if source_places:  # skipped source rows are not records: show where they are
        lines.append(f"source rows skipped{f' as {reason!r}' if reason else ''} (first places):")
        lines += [f"- {place}" for place in source_places[:samples]]
    if samples <= 0 or (source_places and not shown):
        return "\n".join(lines)
    title = f"records rejected as {reason!r}" if reason else f"sample records ({shown[0]['stage'] if shown else '-'})"
    lines.append(f"{title}:")
    for rec in shown:
        lines.append(f"- [{rec['stage']}] {rec.get('method')} id={rec.get('id')}" + (f" reason={rec.get('reject_reason')}" if rec.get("reject_reason") else ""))
        for field in ("instruction", "input", "output"):
            if rec.get(field):
                lines.append(f"    {field}: {_clip(rec[field], keep_end=field == 'instruction')}")
        if rec.get("reject_reason") and rec.get("meta"):
            why = _curation_detail(rec["meta"])  # first: a long meta (a Bonito passage) would clip the reason's detail away
            lines += [f"    why: {_clip(why)}"] if why else []
            lines.append(f"    meta: {_clip(rec['meta'])}")
    return "\n".join(lines)


def reexport(run_dir: str) -> dict[str, str]:
    """Write `<run_dir>/export` again from the selected stage (e.g. after changing code); returns the paths."""
    from flows.stages import export_stage
    from taskmill.config import parse_config

    run_dir = _check(run_dir)
    store = RunStore(run_dir)
    if not store.stage_done("selected"):
        raise RunDirError(f"{run_dir}: selection has not finished; run the pipeline (it resumes) before exporting")
    summary_text = store.read_text("summary.json")
    if summary_text is None:
        raise RunDirError(f"{run_dir}: no summary.json; run the pipeline to the end once")
    data = yaml.safe_load(store.read_text("config.yaml"))
    data.get("engine", {}).pop("api_key_env", None)  # export needs no engine; the variable may be unset here
    # The run dir may have moved: point the config at it, naming the run id only where it differs.
    data.update(run_root=os.path.dirname(run_dir), run_mode="resume")
    cfg = parse_config(data)
    if cfg.resolved_run_id != os.path.basename(run_dir):
        cfg = parse_config({**data, "run_id": os.path.basename(run_dir)})
    summary = json.loads(summary_text)
    mixture = store.manifest()["stages"]["selected"].get("report", {}).get("mixture", [])
    with run_lock(run_dir, cfg.lock_wait_s):
        store.remove_temp_files()
        paths = export_stage.fn(cfg, mixture, summary)
        summary["export"] = paths
        store.write_text("summary.json", json.dumps(summary, indent=2, default=str))
    return paths
