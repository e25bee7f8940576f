"""Self-Guide self-synthesis (spec §2): one model invents inputs, then labels them by voting.

A shard is one task spec. Stage 1 runs `rounds` sequential rounds (each
round's accepted inputs feed the next round's prompts), one engine call per
round. Stage 2 annotates every accepted input in one engine call, votes, and
for classification maps labels and balances classes. Every candidate that is
not kept comes back as a reject with its code.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Callable

from generators.base import Generator, ShardOutput
from generators.self_guide.config import AnnotationStage, InputStage, SelfGuideConfig
from generators.self_guide.filters import LengthBounds, balance, first_failure, length_bounds, majority_vote, map_label
from generators.self_guide.prompts import (
    CLASSIFICATION_EXTRA_NOISE,
    DEFAULT_EXTRA_NOISE,
    annotation_prompt,
    input_generation_prompt,
)
from generators.task_specs import TaskSpec
from generators.context_budget import ContextBudget, context_length
from taskmill.engine.base import Completion, GenerationRequest, GenerationResult
from taskmill.engine.steps import Steps
from taskmill.records import derive_seed, make_record, record_id, reject

__all__ = ["SelfGuideGenerator", "SelfGuideConfig", "InputStage", "AnnotationStage", "REJECT_CODES"]

METHOD = "self_guide"
METHOD_VERSION = "1"
REJECT_CODES = (
    "empty", "length_out_of_range", "noise_phrase", "duplicate", "no_consensus",
    "label_unmapped", "balanced_out", "too_long_for_training",
)  # fmt: skip


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"' and text.count('"') == 2:
        return text[1:-1].strip()
    return text


def top_by_logprob(completions: list[Completion], keep: int) -> list[int]:
    """Indices of the `keep` most likely completions, in sampling order; the first `keep` if any logprob is missing."""
    indices = list(range(len(completions)))
    if any(c.cumulative_logprob is None for c in completions):
        return indices[:keep]
    best = sorted(indices, key=lambda i: -completions[i].cumulative_logprob)[:keep]  # type: ignore[operator]
    return sorted(best)


class SelfGuideGenerator(Generator):
    method = METHOD
    Config = SelfGuideConfig

    def __init__(self, config: SelfGuideConfig, run_seed: int):
        super().__init__(config, run_seed)
        self.config: SelfGuideConfig = config

    def plan_shards(self, documents: list[dict]) -> list[dict]:
        """One shard per task spec; documents are not used (the task specs are the input)."""
        return [{"task": task.model_dump()} for task in self.config.load_tasks()]

    def noise_for(self, task: TaskSpec) -> list[str]:
        extra = list(task.extra_noise) if task.extra_noise is not None else list(DEFAULT_EXTRA_NOISE)
        if task.extra_noise is None and task.is_classification:
            extra += list(CLASSIFICATION_EXTRA_NOISE)
        return list(self.config.noise_phrases) + extra

    def input_request(self, task: TaskSpec, prompt: str, seed: int) -> GenerationRequest:
        stage = self.config.inputs
        temperature = stage.temperature
        if temperature is None:
            temperature = 0.7 if task.is_classification else 0.9
        return GenerationRequest(
            prompt=prompt, n=stage.n, temperature=temperature, top_p=stage.top_p, top_k=stage.top_k,
            max_tokens=stage.max_tokens, stop=stage.stop, seed=seed,
        )  # fmt: skip

    def annotation_request(self, prompt: str, seed: int) -> GenerationRequest:
        stage = self.config.annotation
        return GenerationRequest(
            prompt=prompt, n=stage.best_of or stage.n_annot, temperature=stage.temperature, top_p=stage.top_p,
            top_k=stage.top_k, max_tokens=stage.max_tokens, stop=stage.stop, seed=seed,
            logprobs=stage.best_of is not None,
        )  # fmt: skip

    def annotation_sampling(self, request: GenerationRequest) -> dict[str, Any]:
        """What records store: the engine kwargs, with n/best_of in best_of's meaning when emulated."""
        sampling = request.sampling()
        if self.config.annotation.best_of is not None:
            sampling.update(n=self.config.annotation.n_annot, best_of=self.config.annotation.best_of)
        return sampling

    def build_input_prompt(
        self, task: TaskSpec, pool: list[str], rng: random.Random,
        count_tokens: Callable[[str], float] | None = None, cutoff: int | None = None,
    ) -> tuple[str, str | None]:  # fmt: skip
        """One Stage-1 prompt, redrawn while it reaches the token cutoff (halving the pool sample every 8 tries)."""
        count_tokens = count_tokens or (lambda text: len(text) / self.config.chars_per_token)
        cutoff = cutoff or self.config.context_cutoff
        max_k = self.config.max_pool_examples
        for attempt in range(1, 10_000):
            seeds = [e.input for e in task.examples]
            rng.shuffle(seeds)
            k = rng.randint(1, min(len(pool), max_k)) if pool and max_k else 0
            sample = rng.sample(pool, k)
            label = rng.choice(task.labels) if task.is_classification and task.labels else None
            prompt = input_generation_prompt(task.instruction, seeds, sample, label)
            if k == 0 or count_tokens(prompt) < cutoff:
                return prompt, label  # with no pool sample left to shrink, it goes as is
            if attempt % 8 == 0:
                max_k //= 2
        raise AssertionError("unreachable: max_k reaches 0 within 8 * log2(max_pool_examples) tries")

    def prompt_budget(self, engine: Any) -> tuple[Callable[[str], float], int]:
        """Token counter and cutoff: exact with the engine's tokenizer, else a character estimate.

        The cutoff also leaves room for max_tokens when the engine tells its context length.
        """
        counter = ContextBudget(engine, self.config.chars_per_token).count
        cutoff = self.config.context_cutoff
        room = context_room(engine, self.config.inputs.max_tokens)
        return counter, cutoff if room is None else max(1, min(cutoff, room))

    async def run_shard_async(self, shard: dict, steps: Steps) -> ShardOutput:
        """Stage-1 rounds in order; each accepted input's annotation is sent as soon as it is accepted."""
        task = TaskSpec.model_validate(shard["task"])
        out = ShardOutput()
        annotator = _Annotator(self, task, steps)
        accepted, input_stats = await self.generate_inputs(task, steps, out, annotator.start)
        out.intermediate.extend(accepted)  # Stage-1 records: the parents of the final records
        output_stats = await annotator.finish(out)
        out.stats = {
            "task": task.name,
            "stages": {"input": input_stats.pop("stage"), "output": output_stats.pop("stage")},
            "rejects": dict(Counter(r["reject_reason"] for r in out.rejects)),
            "input": input_stats,
            "output": output_stats,
        }
        return out

    # --- Stage 1 ---------------------------------------------------------------------------
    async def generate_inputs(
        self, task: TaskSpec, engine: Steps, out: ShardOutput, on_accept: Callable[[dict], None]
    ) -> tuple[list[dict], dict]:
        cfg = self.config
        use_length = cfg.inputs.length_filter if cfg.inputs.length_filter is not None else task.is_classification
        bounds = length_bounds([len(e.input) for e in task.examples], "seed input") if use_length else None
        noise = self.noise_for(task)
        seed_texts = {e.input.strip() for e in task.examples} if cfg.dedup_against_seeds else set()
        rng = random.Random(derive_seed(self.run_seed, METHOD, task.name, "prompts"))
        count_tokens, cutoff = self.prompt_budget(engine)
        room = context_room(engine, cfg.inputs.max_tokens)
        longest_label = max(task.labels or [""], key=len) or None
        seed_inputs_list = [e.input for e in task.examples]
        seeds_only = count_tokens(input_generation_prompt(task.instruction, seed_inputs_list, [], longest_label))
        if room is not None and seeds_only >= room:
            raise ValueError(
                f"self_guide task {task.name!r}: the instruction and seed inputs alone take ~{seeds_only:.0f} tokens, "
                f"over the engine's room of {room} (context minus inputs.max_tokens); use fewer seeds or a longer context"
            )
        pool: list[str] = []
        accepted: list[dict] = []
        candidates = 0
        tokens = Counter()
        for round_index in range(cfg.rounds):
            requests, labels = [], []
            for i in range(cfg.prompts_per_round):
                prompt, label = self.build_input_prompt(task, pool, rng, count_tokens, cutoff)
                seed = derive_seed(self.run_seed, METHOD, task.name, "input", round_index, i)
                requests.append(self.input_request(task, prompt, seed))
                labels.append(label)
            futures = [engine.submit(r) for r in requests]
            seen = set(pool) | seed_texts
            new_pool: list[str] = []
            for request, label, future in zip(requests, labels, futures):
                result = await future  # in request order: dedup keeps the first, whatever finishes first
                tokens.update(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)
                for i, completion in enumerate(self._completions(result, request.n)):
                    candidates += 1
                    text = completion.text.strip() if completion else ""
                    text = unquote(text) if cfg.unquote else text
                    rec = self._input_record(
                        task, engine.model_name, request, result, completion, i, text, round_index, label
                    )
                    reason = (result.error_code or "engine_error") if completion is None else first_failure(text, bounds, noise)
                    if reason is None and text in seen:
                        reason = "duplicate"
                    if reason is not None:
                        detail = {"error": result.error} if completion is None else {}
                        out.rejects.append(reject(rec, reason, stage=METHOD, step="input", **detail))
                        continue
                    seen.add(text)
                    new_pool.append(text)
                    accepted.append(rec)
                    on_accept(rec)
            pool.extend(new_pool)
        stats = {
            "stage": {"candidates": candidates, "kept": len(accepted)},
            "length_bounds": None if bounds is None else [bounds.low, bounds.high],
            "prompt_cutoff_tokens": cutoff,
            "engine": dict(tokens),
        }
        return accepted, stats

    @staticmethod
    def _completions(result: GenerationResult, n: int) -> list[Completion | None]:
        return [None] * n if result.error is not None else list(result.completions)

    def _input_record(self, task, model, request, result, completion, index, text, round_index, label) -> dict:
        rec = make_record(
            method=METHOD, method_version=METHOD_VERSION, source_id=task.name, instruction=task.instruction,
            input=text, model=model, prompt=request.prompt_key(), seed=request.seed, sample_index=index,
            sampling=request.sampling(), prompt_tokens=result.prompt_tokens,
            finish_reason=completion.finish_reason if completion else None,
            completion_tokens=completion.completion_tokens if completion else None,
            meta={"task": task.name, "stage": "input", "round": round_index, "target_label": label,
                  "input_temperature": request.temperature, "raw_text": completion.text if completion else None},
        )  # fmt: skip
        # Stage-1 ids carry their own prefix so a parent id says which stage it came from.
        rec["id"] = record_id(f"{METHOD}-input", task.name, model, rec["prompt_sha256"], request.seed, index)
        return rec

    # --- Stage 2 ---------------------------------------------------------------------------
    def annotation_for(self, task: TaskSpec, parent: dict) -> GenerationRequest:
        seed_pairs = [(e.input, e.output) for e in task.examples]
        prompt = annotation_prompt(task.instruction, seed_pairs, parent["input"])
        return self.annotation_request(prompt, derive_seed(self.run_seed, METHOD, task.name, "annotate", parent["id"]))

    def _vote_record(self, task, model, parent, request, result, bounds, noise) -> tuple[dict, str | None, dict]:
        """The Stage-2 record for one input, plus its reject code (None if it passes) and detail."""
        cfg = self.config.annotation
        completions = [] if result.error is not None else result.completions
        chosen = top_by_logprob(completions, cfg.n_annot) if cfg.best_of is not None else list(range(len(completions)))
        survivors: list[tuple[int, str]] = []
        filtered: Counter = Counter()
        for i in chosen:
            text = completions[i].text.strip()
            reason = first_failure(text, bounds, noise)
            if reason is None:
                survivors.append((i, text))
            else:
                filtered[reason] += 1
        vote = majority_vote([t for _, t in survivors], cfg.min_frequency)
        index = next((i for i, t in survivors if t == vote.top), chosen[0] if chosen else 0)
        completion = completions[index] if completions else None
        output = vote.answer or vote.top or ""
        label = map_label(output, task.labels or []) if task.is_classification and vote.answer else None
        meta = {
            "task": task.name, "stage": "output", "round": parent["meta"]["round"],
            "input_temperature": parent["meta"]["input_temperature"], "target_label": parent["meta"]["target_label"],
            "votes": vote.votes, "filtered": dict(filtered), "answer_text": output, "input_record": _summary(parent),
        }  # fmt: skip
        rec = make_record(
            method=METHOD, method_version=METHOD_VERSION, source_id=task.name, instruction=task.instruction,
            input=parent["input"], output=label or output, model=model, prompt=request.prompt_key(),
            seed=request.seed, sample_index=index, sampling=self.annotation_sampling(request), parents=[parent["id"]],
            prompt_tokens=result.prompt_tokens, finish_reason=completion.finish_reason if completion else None,
            completion_tokens=completion.completion_tokens if completion else None, meta=meta,
        )  # fmt: skip
        if result.error is not None:
            return rec, result.error_code or "engine_error", {"error": result.error}
        if not survivors:
            # Every sampled answer failed a rule filter: name the commonest reason.
            return rec, filtered.most_common(1)[0][0] if filtered else "empty", {"filtered": dict(filtered)}
        if vote.answer is None:
            return rec, "no_consensus", {"share": round(vote.count / vote.total, 4), "min_frequency": cfg.min_frequency}
        if task.is_classification and label is None:
            return rec, "label_unmapped", {"labels": task.labels}
        limit = self.config.max_training_tokens
        if limit is not None and completion is not None and result.prompt_tokens + completion.completion_tokens > limit:
            return rec, "too_long_for_training", {"tokens": result.prompt_tokens + completion.completion_tokens}
        return rec, None, {}


def context_room(engine: Any, max_tokens: int) -> int | None:
    """Prompt tokens the engine can take with max_tokens still to generate; None if it does not say."""
    max_model_len = context_length(engine)
    return None if max_model_len is None else max_model_len - max_tokens


def _summary(parent: dict) -> dict:
    """The Stage-1 record's lineage in brief (the full record is stored under intermediate/self_guide)."""
    keys = (
        "id", "seed", "sample_index", "sampling", "prompt_sha256", "finish_reason", "prompt_tokens", "completion_tokens",
    )  # fmt: skip
    return {k: parent[k] for k in keys}


class _Annotator:
    """Stage 2 for one task: annotation requests go out one by one as inputs are accepted.

    `start(parent)` sends the parent's annotation at once (unless its prompt cannot
    fit the context: it could not be trained on either); `finish` waits for all of
    them, then votes, maps labels and balances classes in acceptance order.
    """

    def __init__(self, gen: SelfGuideGenerator, task: TaskSpec, steps: Steps):
        cfg = gen.config.annotation
        self.gen, self.task, self.steps = gen, task, steps
        use_length = cfg.length_filter and not task.is_classification  # forced off for classification
        self.bounds: LengthBounds | None = (
            length_bounds([len(e.output) for e in task.examples], "seed output") if use_length else None
        )
        self.noise = gen.noise_for(task)
        self.count_tokens, _ = gen.prompt_budget(steps)
        self.room = context_room(steps, cfg.max_tokens)
        self.pending: list[tuple[dict, GenerationRequest, Any, float]] = []  # parent, request, future, estimate

    def start(self, parent: dict) -> None:
        request = self.gen.annotation_for(self.task, parent)
        estimate = self.count_tokens(request.prompt or "")
        fits = self.room is None or estimate < self.room
        self.pending.append((parent, request, self.steps.submit(request) if fits else None, estimate))

    async def finish(self, out: ShardOutput) -> dict:
        gen, task = self.gen, self.task
        sent: list[GenerationResult] = []
        candidates: list[tuple[dict, str | None]] = []  # (record, label for balancing)
        for parent, request, future, estimate in self.pending:
            result = GenerationResult([], int(estimate)) if future is None else await future
            if future is not None:
                sent.append(result)
            rec, reason, detail = gen._vote_record(task, self.steps.model_name, parent, request, result, self.bounds, self.noise)
            if future is None:
                reason, detail = "too_long_for_training", {"prompt_tokens_estimate": result.prompt_tokens, "room": self.room}
            if reason is not None:
                out.rejects.append(reject(rec, reason, stage=METHOD, step="output", **detail))
            else:
                candidates.append((rec, rec["output"] if task.is_classification else None))
        if task.is_classification and gen.config.balance_classes and candidates:
            balance_seed = derive_seed(gen.run_seed, METHOD, task.name, "balance")
            keep = balance([label or "" for _, label in candidates], balance_seed)
            for (rec, label), kept in zip(candidates, keep):
                if not kept:
                    out.rejects.append(reject(rec, "balanced_out", stage=METHOD, step="output", label=label))
            candidates = [c for c, kept in zip(candidates, keep) if kept]
        out.kept.extend(rec for rec, _ in candidates)
        return {
            "stage": {"candidates": len(self.pending), "kept": len(candidates)},
            "length_bounds": None if self.bounds is None else [self.bounds.low, self.bounds.high],
            "engine": {
                "requests": len(sent),
                "prompt_tokens": sum(r.prompt_tokens for r in sent),
                "completion_tokens": sum(r.completion_tokens for r in sent),
            },
        }
