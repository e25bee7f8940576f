"""CoiGenerator: LLM-composed Chain-of-Instructions (spec §3; Hayati et al. 2024).

A shard is one category c of first tasks. In it, level 2 pairs every task x
of category c with every other task y the slot heuristics allow (a blocked
task pair is one `heuristic_blocked` reject); per category tuple at most
`tries` candidates (x's instances, in a seeded order) go to the LLM, which
first says whether y applies to x's output (validity check) and then writes
y's output from it. Level k+1 extends the kept k-chains: (x, y, z) is tried
only when (x, y) was kept and the heuristics allow (y, z); it exists only when
the LLM also judges the pair (y, z) valid on this chain's own output (closure
of two valid overlapping pairs). Of the chains that pass, the first
`max_per_category_tuple` of each category tuple are kept, the others are
`tuple_cap` rejects. Train lengths are kept records; test lengths and
unlisted prefix lengths go to `intermediate/<name>/` (meta.split), so held-out
chains never reach curation or export.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from generators.base import Generator, ShardOutput
from generators.chains import prompts
from generators.chains.config import CoiConfig
from generators.chains.library import ChainTask, Instance, tasks_from_records
from generators.chains.rules import slot_problem
from generators.chains.transcript import as_sentence, join_instructions, render_transcript
from taskmill.engine.base import Engine, GenerationRequest, GenerationResult
from taskmill.records import canonical_json, derive_seed, make_record, reject

METHOD = "coi"
METHOD_VERSION = "1"
logger = logging.getLogger(__name__)


@dataclass
class Chain:
    """A chain in progress: its tasks, the first task's instance, and every output so far."""

    tasks: list[ChainTask]
    instance: Instance
    instance_ref: str
    outputs: list[str]
    checks: list[dict] = field(default_factory=list)  # {"pair": [i, i+1], "ok": bool, "answer": str}
    parent: str | None = None  # id of the kept prefix chain
    request: GenerationRequest | None = None  # the last request sent for this chain
    result: GenerationResult | None = None

    @property
    def key(self) -> str:
        return canonical_json([[t.id for t in self.tasks], self.instance_ref])

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(t.category for t in self.tasks)

    def extend(self, task: ChainTask, parent: str) -> "Chain":
        return Chain([*self.tasks, task], self.instance, self.instance_ref, list(self.outputs), list(self.checks), parent)


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def request_examples(chain: Chain, count: int) -> list[Instance]:
    """The demonstrations shown in the prompt of the chain's next step."""
    return chain.tasks[len(chain.outputs)].instances[:count]


def _copied_example(text: str, step_input: str, examples: list[Instance]) -> str | None:
    """A demonstration output the step pasted in (small models do), unless the input itself contains it."""
    flat, given = " ".join(text.lower().split()), " ".join(step_input.lower().split())
    for example in examples:
        shown = " ".join(example.output.lower().split())
        if len(shown) >= 12 and shown in flat and shown not in given:
            return example.output
    return None


def instance_ref(task: ChainTask, index: int) -> str:
    """Lineage id of a task instance: the record id for generated tasks, else `<source>:<task>:<instance>`."""
    instance = task.instances[index]
    if task.source.startswith("generated/"):
        return instance.id or f"{task.id}:{index}"
    prefix = "sni" if task.source.endswith(".json") else "task"
    return f"{prefix}:{task.id}:{instance.id or index}"


class CoiGenerator(Generator):
    method = METHOD
    Config = CoiConfig

    def __init__(self, config: CoiConfig, run_seed: int):
        super().__init__(config, run_seed)
        self.config: CoiConfig = config

    # --- planning ------------------------------------------------------------------------
    def library(self, upstream: list[dict]) -> list[ChainTask]:
        """Tasks from config and files, plus tasks from the kept records of `from_generators` stages."""
        tasks, skipped = self.config.load_files()
        for note in skipped:
            logger.warning("coi: task skipped: %s", note)
        by_stage: dict[str, list[dict]] = {}
        for record in upstream:
            if record.get("stage") in self.config.from_generators:
                by_stage.setdefault(record["stage"], []).append(record)
        for stage in self.config.from_generators:
            tasks += tasks_from_records(stage, by_stage.get(stage, []), self.config.instances_per_task)
        repeated = sorted(k for k, n in Counter(t.id for t in tasks).items() if n > 1)
        if repeated:
            raise ValueError(f"coi: task ids must be unique across tasks and task_files; repeated: {repeated}")
        return tasks

    def plan_shards(self, documents: list[dict]) -> list[dict]:
        """One shard per first-task category, sorted.

        `documents` carries the kept records of the `from_generators` stages
        (each with a `stage` key; the flow passes them); other documents are
        not used.
        """
        tasks = self.library(documents)
        dumped = [t.model_dump() for t in tasks]
        categories = sorted({t.category for t in tasks})
        return [{"category": c, "tasks": dumped} for c in categories]

    # --- running -------------------------------------------------------------------------
    def run_shard(self, shard: dict, engine: Engine | None) -> ShardOutput:
        if engine is None:
            raise ValueError("coi needs an engine")
        cfg = self.config
        tasks = [ChainTask.model_validate(t) for t in shard["tasks"]]
        out = ShardOutput()
        stats: dict[str, Any] = {"category": shard["category"], "levels": {}}
        finished: list[tuple[Chain, str | None, dict]] = []  # (chain, reject reason or None, detail)
        candidates: list[Chain] = []
        for x in (t for t in tasks if t.category == shard["category"]):
            for y in tasks:
                if y.id == x.id or y.first_only:  # a task holding its own input never follows another: not a candidate
                    continue
                problem = slot_problem([x, y])
                if problem:
                    blocked = Chain([x, y], x.instances[0], instance_ref(x, 0), [x.instances[0].output])
                    finished.append((blocked, "heuristic_blocked", {"message": problem}))
                    continue
                for i, inst in enumerate(x.instances):
                    candidates.append(Chain([x, y], inst, instance_ref(x, i), [inst.output]))
        level = 2
        while candidates:
            frontier = self._pick(candidates)
            done = self._step(frontier, engine, finished)
            kept = self._cap(done, finished)
            stats["levels"][level] = {"candidates": len(candidates), "tried": len(frontier), "passed": len(done), "kept": len(kept)}
            if level == cfg.max_length:
                break
            level += 1
            candidates = [
                chain.extend(z, chain.key) for chain in kept for z in tasks if slot_problem([*chain.tasks, z]) is None
            ]
        short = {}
        if cfg.shorten:  # only the instructions of chains that are kept (rejects keep the originals)
            short = self._shorten({t.id: t for c, reason, _ in finished if reason is None for t in c.tasks}, engine)
        ids: dict[str, str] = {}
        for chain, reason, detail in finished:  # prefixes come before their extensions
            record = self._record(chain, engine, short, ids)
            if reason is not None:
                out.rejects.append(reject(record, reason, stage=METHOD, **detail))
                continue
            ids[chain.key] = record["id"]
            k = len(chain.tasks)
            split = "train" if k in cfg.train_lengths else "test" if k in cfg.test_lengths else "prefix"
            record["meta"]["split"] = split
            (out.kept if split == "train" else out.intermediate).append(record)
        stats["rejects"] = dict(Counter(r["reject_reason"] for r in out.rejects))
        stats["kept"] = len(out.kept)
        stats["held_out"] = sum(1 for r in out.intermediate if r["meta"]["split"] == "test")
        out.stats = stats
        return out

    def _pick(self, candidates: list[Chain]) -> list[Chain]:
        """At most `tries` candidates per category tuple, in a seeded order (stable across runs)."""
        groups: dict[tuple[str, ...], list[Chain]] = {}
        for chain in sorted(candidates, key=lambda c: c.key):
            groups.setdefault(chain.categories, []).append(chain)
        picked = []
        for categories in sorted(groups):
            group = groups[categories]
            random.Random(derive_seed(self.run_seed, METHOD, "order", *categories)).shuffle(group)
            picked += group[: self.config.tries]
        return picked

    def _request(self, messages: list[dict], chain: Chain, kind: str, choices: list[str] | None = None) -> GenerationRequest:
        sampling = self.config.step
        return GenerationRequest(
            messages=messages, temperature=sampling.temperature, top_p=sampling.top_p,
            max_tokens=4 if choices else sampling.max_tokens, choices=choices,
            seed=derive_seed(self.run_seed, METHOD, chain.key, kind, len(chain.outputs)),
        )  # fmt: skip

    def _step(self, chains: list[Chain], engine: Engine, finished: list) -> list[Chain]:
        """Run the next step of every chain: validity check, then the step itself. Returns the chains that passed."""
        cfg = self.config
        live = []
        for chain in chains:
            if len(chain.outputs[-1]) > cfg.max_input_chars:
                finished.append((chain, "heuristic_blocked", {"message": f"step input longer than {cfg.max_input_chars} chars"}))
            else:
                live.append(chain)
        if cfg.validity == "check" and live:
            requests = [
                self._request(prompts.validity_messages(c.tasks[len(c.outputs)].instruction, c.outputs[-1]), c, "valid", prompts.VALIDITY_CHOICES)
                for c in live
            ]  # fmt: skip
            passed = []
            for chain, request, result in zip(live, requests, self._generate(engine, requests)):
                chain.request, chain.result = request, result
                answer = result.texts[0].strip().lower() if result.error is None and result.completions else ""
                pair = [len(chain.outputs) - 1, len(chain.outputs)]
                chain.checks.append({"pair": pair, "ok": answer.startswith("yes"), "answer": answer})
                if result.error is not None:
                    finished.append((chain, "engine_error", {"error": result.error}))
                elif not answer.startswith("yes"):
                    finished.append((chain, "not_composable", {"message": f"validity check answered {answer!r}"}))
                else:
                    passed.append(chain)
            live = passed
        requests = []
        for chain in live:
            task = chain.tasks[len(chain.outputs)]
            examples = request_examples(chain, cfg.examples_in_prompt)
            requests.append(self._request(prompts.step_messages(task.instruction, examples, chain.outputs[-1]), chain, "step"))
        done = []
        for chain, request, result in zip(live, requests, self._generate(engine, requests)):
            chain.request, chain.result = request, result
            completion = result.completions[0] if result.error is None and result.completions else None
            text = completion.text.strip() if completion else ""
            pair = [len(chain.outputs) - 1, len(chain.outputs)]
            if cfg.validity == "sentinel":
                chain.checks.append({"pair": pair, "ok": prompts.NOT_COMPOSABLE not in text, "answer": "sentinel"})
            if completion is None:
                finished.append((chain, "engine_error", {"error": result.error}))
            elif prompts.NOT_COMPOSABLE in text:
                finished.append((chain, "not_composable", {"message": "the step answered NOT_COMPOSABLE", "raw": text}))
            elif not text:
                finished.append((chain, "empty_generation", {}))
            elif completion.finish_reason == "length":
                finished.append((chain, "truncated", {"raw": text}))
            elif _same(text, chain.outputs[-1]):
                finished.append((chain, "unchanged", {"message": "the step returned its input unchanged"}))
            elif copied := _copied_example(text, chain.outputs[-1], request_examples(chain, cfg.examples_in_prompt)):
                finished.append((chain, "copied_example", {"message": "the step repeats a demonstration output", "example": copied}))
            else:
                chain.outputs.append(text)
                done.append(chain)
        return done

    def _cap(self, chains: list[Chain], finished: list) -> list[Chain]:
        """Keep the first `max_per_category_tuple` chains of each category tuple; the rest are tuple_cap."""
        seen: Counter[tuple[str, ...]] = Counter()
        kept = []
        for chain in chains:
            seen[chain.categories] += 1
            if seen[chain.categories] > self.config.max_per_category_tuple:
                finished.append((chain, "tuple_cap", {"message": f"category tuple {list(chain.categories)} is full"}))
            else:
                finished.append((chain, None, {}))
                kept.append(chain)
        return kept

    @staticmethod
    def _generate(engine: Engine, requests: list[GenerationRequest]) -> list[GenerationResult]:
        if not requests:
            return []
        results = engine.generate(requests)
        if len(results) != len(requests):
            raise RuntimeError(f"engine returned {len(results)} results for {len(requests)} requests")
        return results

    def _shorten(self, tasks: dict[str, ChainTask], engine: Engine) -> dict[str, str]:
        """One short imperative sentence per task (temperature 0); tasks whose answer is unusable keep the original."""
        todo = [t for t in sorted(tasks.values(), key=lambda t: t.id) if not t.first_only]
        sampling = self.config.shorten_sampling
        requests = [
            GenerationRequest(
                messages=prompts.shorten_messages(t.instruction), temperature=sampling.temperature, top_p=sampling.top_p,
                max_tokens=sampling.max_tokens, seed=derive_seed(self.run_seed, METHOD, "shorten", t.id),
            )  # fmt: skip
            for t in todo
        ]
        short = {}
        for task, result in zip(todo, self._generate(engine, requests)):
            lines = result.texts[0].strip().splitlines() if result.error is None and result.completions else []
            text = lines[0].strip().strip('"').strip() if lines else ""
            finished = result.completions[0].finish_reason != "length" if result.completions else False
            if text and finished and len(text.split()) <= 25 and len(text.split()) < len(task.instruction.split()):
                short[task.id] = as_sentence(text)
        return short

    def _record(self, chain: Chain, engine: Engine, short: dict[str, str], ids: dict[str, str]) -> dict:
        complete = len(chain.outputs) == len(chain.tasks)
        request, result = chain.request, chain.result
        completion = result.completions[0] if result is not None and result.completions else None
        meta = {
            "chain_length": len(chain.tasks),
            "task_ids": [t.id for t in chain.tasks],
            "categories": list(chain.categories),
            "instructions": [t.instruction for t in chain.tasks],
            "short_instructions": [short.get(t.id) for t in chain.tasks],
            "task_sources": [t.source for t in chain.tasks],
            "intermediate_outputs": chain.outputs[:-1] if complete else chain.outputs,
            "validity_checks": chain.checks,
        }
        if not complete and completion is not None:
            meta["raw_prediction"] = completion.text
        parents = [chain.instance_ref] + ([ids[chain.parent]] if chain.parent in ids else [])
        return make_record(
            method=METHOD, method_version=METHOD_VERSION, source_id="+".join(t.id for t in chain.tasks),
            instruction=join_instructions([short.get(t.id) or t.instruction for t in chain.tasks]),
            input=chain.instance.input, output=render_transcript(chain.outputs) if complete else "",
            model=engine.model_name if request is not None else "none",
            prompt=request.prompt_key() if request is not None else chain.key,
            seed=request.seed if request is not None else None, sampling=request.sampling() if request is not None else None,
            parents=parents, finish_reason=completion.finish_reason if completion else None,
            prompt_tokens=result.prompt_tokens if result is not None else None,
            completion_tokens=completion.completion_tokens if completion else None, meta=meta,
        )  # fmt: skip
