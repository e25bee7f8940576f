"""Generate the records of the labelled check set (tests/quality/checkset.jsonl).

Real prose we did not write (Python's pydoc topics and the README text of
installed packages), real tables shipped in installed packages (sql_exec's
bundled statsmodels / scikit-learn tables), the packaged model, fixed seeds,
several methods (Bonito in three prompted formats, Self-Guide with three
seeds, CoI with two, sql_exec, sifo_chain) and prompted formats. SQL records
were labelled after re-running each query on the table as shown in the
instruction (all 24 denotations matched); SIFO chains by redoing each step. The records are what reaches the quality gate: generator
rejects (unparseable replies) are not part of the set. Labels are written by a
person who read each record (tests/quality/labels.jsonl), not by this script.

    PYTHONPATH=. python tests/quality/make_checkset.py [--out tests/quality/checkset.jsonl] [--docs 20]
    PYTHONPATH=. python tests/quality/make_checkset.py --only coi-s7,sql_exec --append   # regenerate some
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
from importlib import metadata

PACKAGES = ("attrs", "click", "datasketch", "fsspec", "httpx", "humanize", "cachetools", "dateparser", "apprise", "duckdb")
KEEP_META = ("task_type", "context", "mode", "fields", "context_prepended", "task_name", "task", "target_label")


def _prose_paragraphs(text: str) -> list[str]:
    """Paragraphs of plain prose: no code, headings, tables, badges, link lists."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    out = []
    for block in re.split(r"\n\s*\n", text):
        block = " ".join(line.strip() for line in block.splitlines())
        if len(block) < 200 or block.startswith(("#", "|", "[!", "..", "*", "-", ">", ":", "<")) or "http" in block:
            continue
        if sum(c.isalpha() for c in block) / len(block) < 0.7:
            continue
        out.append(block)
    return out


def package_docs(limit: int) -> list[dict]:
    docs = []
    for name in PACKAGES:
        try:
            body = metadata.metadata(name).get_payload() or ""
        except metadata.PackageNotFoundError:
            continue
        paragraphs = _prose_paragraphs(body)
        if paragraphs:
            docs.append({"id": f"pkg:{name}", "text": " ".join(paragraphs[:2])[:1200]})
    return docs[:limit]


def pydoc_docs(limit: int, seed: int) -> list[dict]:
    from pydoc_data.topics import topics

    names = sorted(topics)
    random.Random(seed).shuffle(names)
    docs = []
    for name in names:
        paragraphs = _prose_paragraphs(topics[name])
        if paragraphs:
            docs.append({"id": f"pydoc:{name}", "text": " ".join(paragraphs)[:1200]})
        if len(docs) == limit:
            break
    return docs


def slim(record: dict, generator_name: str) -> dict:
    meta = record.get("meta") or {}
    return {
        "id": record["id"],
        "generator": generator_name,
        "method": record["method"],
        "source_id": record["source_id"],
        "instruction": record["instruction"],
        "input": record.get("input", ""),
        "output": record["output"],
        "finish_reason": record.get("finish_reason"),
        "meta": {k: meta[k] for k in KEEP_META if k in meta},
    }


def generators(docs_count: int) -> list[tuple[str, object]]:
    from generators.bonito import BonitoConfig, BonitoGenerator
    from generators.chains import CoiConfig, CoiGenerator, SifoChainConfig, SifoChainGenerator
    from generators.self_guide import SelfGuideConfig, SelfGuideGenerator
    from generators.sql import SqlExecConfig, SqlExecGenerator

    fields = {t: docs_count for t in ("qa", "ynqa", "exqa", "summarization", "mcqa", "nli")}
    old = {t: docs_count // 2 for t in ("qa", "ynqa", "summarization")}
    tasks_dir = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "tasks")
    task_file = os.path.join(tasks_dir, "self_guide_tasks.yaml")
    self_guide = dict(
        method="self_guide", task_files=[os.path.normpath(task_file)], prompts_per_round=4,
        inputs={"max_tokens": 96}, annotation={"n_annot": 3, "best_of": 5, "max_tokens": 48},
    )  # fmt: skip
    return [
        ("bonito-fields", BonitoGenerator(BonitoConfig(method="bonito", tasks=fields, prompted_format="fields"), 42)),
        ("bonito-json", BonitoGenerator(BonitoConfig(method="bonito", tasks=old, prompted_format="json"), 42)),
        ("bonito-pipe", BonitoGenerator(BonitoConfig(method="bonito", tasks={"qa": docs_count // 2}, prompted_format="pipe"), 42)),
        ("self_guide", SelfGuideGenerator(SelfGuideConfig(rounds=3, **self_guide), 42)),
        # Added for issue 10's second pass: the other generators a user runs, and more Self-Guide.
        ("self_guide-s7", SelfGuideGenerator(SelfGuideConfig(rounds=8, **self_guide), 7)),
        ("self_guide-s11", SelfGuideGenerator(SelfGuideConfig(rounds=12, **self_guide), 11)),
        ("sql_exec", SqlExecGenerator(SqlExecConfig(method="sql_exec", tasks=24, shard_size=24), 42)),
        ("sifo_chain", SifoChainGenerator(SifoChainConfig(method="sifo_chain", chains_per_document=1, lengths=[2, 3]), 42)),
        (
            "coi",
            CoiGenerator(
                CoiConfig(
                    method="coi", task_files=[os.path.normpath(os.path.join(tasks_dir, "coi_tasks.yaml"))],
                    instances_per_task=2, train_lengths=[2], test_lengths=[], max_per_category_tuple=1,
                    step={"max_tokens": 96},
                ),
                42,
            ),
        ),
        (
            "coi-s7",
            CoiGenerator(
                CoiConfig(
                    method="coi", task_files=[os.path.normpath(os.path.join(tasks_dir, "coi_tasks.yaml"))],
                    instances_per_task=3, train_lengths=[2, 3], test_lengths=[], max_per_category_tuple=2,
                    step={"max_tokens": 96},
                ),
                7,
            ),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "checkset.jsonl"))
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--only", default=None, help="comma-separated generator names")
    parser.add_argument("--append", action="store_true", help="keep the other generators' rows already in --out")
    args = parser.parse_args()
    from taskmill.engine.settings import EngineSettings
    from taskmill.engine.vllm_backend import VLLMEngine

    docs = pydoc_docs(args.docs - args.docs // 3, seed=7) + package_docs(args.docs // 3)
    needs_engine = {n for n, _ in generators(args.docs)} - {"sql_exec", "sifo_chain"}
    only = set(args.only.split(",")) if args.only else needs_engine
    engine = VLLMEngine(EngineSettings(max_model_len=2048, max_num_seqs=64)) if only & needs_engine else None
    rows, funnel = [], {}
    if args.append and os.path.exists(args.out):
        wanted = set((args.only or "").split(","))
        with open(args.out, encoding="utf-8") as f:
            rows = [row for row in map(json.loads, f) if row["generator"] not in wanted]
        with open(os.path.join(os.path.dirname(args.out), "checkset_funnel.json"), encoding="utf-8") as f:
            funnel = {k: v for k, v in json.load(f).items() if k not in wanted}
    for name, gen in generators(args.docs):
        if args.only and name not in args.only.split(","):
            continue
        kept = rejected = 0
        for shard in gen.plan_shards(docs):
            out = gen.run_shard(shard, engine)
            rows += [slim(r, name) for r in out.kept]
            kept, rejected = kept + len(out.kept), rejected + len(out.rejects)
        funnel[name] = {"kept": kept, "rejected_by_generator": rejected, "candidates": kept + rejected}
        print(name, funnel[name], flush=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(os.path.join(os.path.dirname(args.out), "checkset_funnel.json"), "w", encoding="utf-8") as f:
        json.dump(funnel, f, indent=1)
    print(json.dumps({"records": len(rows), "funnel": funnel}))


if __name__ == "__main__":
    main()
