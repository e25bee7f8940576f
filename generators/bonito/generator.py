"""Bonito-style conditional task generation (spec §1).

Each (document, task type) pair is one request; its `n` completions become
candidates that share the document. A candidate is kept iff its completion
splits on `<|pipe|>` into exactly two parts; everything else is a reject
with its code. Protocol mode sends the exact Bonito prompt bytes to a Bonito
model; prompted mode asks any instruct model for the same pair in chat.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter
from dataclasses import replace
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from generators.base import Generator, GeneratorConfig, ShardOutput
from generators.bonito.fields import build_field_messages, parse_fields, schema_for
from generators.bonito.prompted import RESPONSE_SCHEMA, build_messages, json_to_prediction
from generators.bonito.protocol import (
    CODE_OF,
    CONTEXT_PLACEHOLDER,
    METHOD_VERSION,
    PIPE,
    build_prompt,
    parse_prediction,
    resolve_task_type,
)
from generators.context_budget import ContextBudget, Fitted
from taskmill.engine.base import ENGINE_ERROR, GenerationRequest, GenerationResult, failed
from taskmill.engine.steps import Steps
from taskmill.records import derive_seed, make_record, reject

log = logging.getLogger(__name__)

METHOD = "bonito"
# Fewer document tokens than this after truncation cannot carry a task: a prompt_too_long reject.
MIN_DOCUMENT_TOKENS = 16


class BonitoTask(BaseModel):
    """One task type to generate, how many documents to use, and sampling overrides."""

    model_config = ConfigDict(extra="forbid")

    type: str  # short code or full name; stored as the full name
    count: int | None = Field(default=None, ge=1)  # documents for this type; None = all
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return resolve_task_type(value)


class BonitoConfig(GeneratorConfig):
    model_config = ConfigDict(extra="forbid")

    method: Literal["bonito"] = "bonito"
    # A list of BonitoTask, or the shorthands: a list of task types (`[qa, ynqa]`, each with defaults)
    # whose items may also be `{qa: 5}`, and the mapping {type: count | null | {count, temperature, ...}}.
    tasks: list[BonitoTask] = Field(min_length=1)
    # auto: protocol mode iff the engine's model name contains "bonito".
    mode: Literal["auto", "protocol", "prompted"] = "auto"
    # How prompted mode asks: "fields" (the model fills per-task-type fields under structured
    # output after demonstrations; code inserts the passage), a whole pair as JSON, or the pipe marker.
    prompted_format: Literal["fields", "json", "pipe"] = "fields"
    demonstrations: int = Field(default=2, ge=0, le=2)  # "fields" only: demonstration exchanges per request
    temperature: float = Field(default=0.5, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=256, ge=1)
    n: int = Field(default=1, ge=1)
    strict: bool = False  # adds the rejects empty_output and missing_placeholder
    # [ours] Prompted mode only: small instruct models often forget the {{context}} placeholder,
    # leaving an instruction that asks about a passage the reader never sees. "prepend" puts the
    # passage before such an instruction (meta.context_prepended); protocol mode is never changed.
    prompted_missing_context: Literal["keep", "prepend"] = "prepend"

    @model_validator(mode="before")
    @classmethod
    def _tasks_shorthand(cls, data: Any) -> Any:
        """Every shorthand of `tasks` as a list of BonitoTask mappings (unknown types fail in `BonitoTask`)."""
        if not isinstance(data, dict):
            return data
        tasks = data.get("tasks")
        if isinstance(tasks, dict):
            tasks = [{name: value} for name, value in tasks.items()]
        if isinstance(tasks, str):
            tasks = [tasks]  # `tasks: qa`: one task type
        if isinstance(tasks, list):
            data = {**data, "tasks": [_task_item(item) for item in tasks]}
        return data

    @model_validator(mode="after")
    def _unique_types(self) -> "BonitoConfig":
        counts = Counter(task.type for task in self.tasks)
        repeated = sorted(t for t, c in counts.items() if c > 1)
        if repeated:
            raise ValueError(f"tasks: task type listed more than once: {repeated}")
        return self

    def count_shortfalls(self, documents: int) -> list[str]:
        """One line per task type whose `count` asks for more documents than the `documents` there are.

        Such a task type uses every document (fewer records than asked); `validate`, the
        run's log and the run summary say so.
        """
        return [
            f"task type {task.type!r} asks for count={task.count} documents but the sources give {documents}; it uses all {documents}"
            for task in self.tasks
            if task.count is not None and task.count > documents
        ]

    def sampling_for(self, task: BonitoTask) -> dict[str, Any]:
        return {
            "temperature": self.temperature if task.temperature is None else task.temperature,
            "top_p": self.top_p if task.top_p is None else task.top_p,
            "max_tokens": self.max_tokens if task.max_tokens is None else task.max_tokens,
            "n": self.n if task.n is None else task.n,
        }


def _task_item(item: Any) -> Any:
    """`qa` → {type: qa}; `{qa: 5}` / `{qa: {count: 5}}` (one key, not a BonitoTask field) → {type: qa, count: 5}."""
    if isinstance(item, str):
        return {"type": item}
    if isinstance(item, dict) and len(item) == 1:
        (name, value), = item.items()
        if isinstance(name, str) and name not in BonitoTask.model_fields:
            extra = value if isinstance(value, dict) else {"count": value}
            return {"type": name, **extra}
    return item


def is_protocol_mode(mode: str, model_name: str) -> bool:
    return mode == "protocol" or (mode == "auto" and "bonito" in model_name.lower())


class BonitoGenerator(Generator):
    method = METHOD
    Config = BonitoConfig

    def __init__(self, config: BonitoConfig, run_seed: int):
        super().__init__(config, run_seed)
        self.config: BonitoConfig = config
        self._tasks = {task.type: task for task in config.tasks}
        self._overheads: dict[tuple[str, bool], int] = {}  # prompt tokens with an empty document

    def plan_shards(self, documents: Iterable[dict]) -> list[dict]:
        """All shards of `iter_shards` as a list (small inputs, tests)."""
        return list(self.iter_shards(documents))

    def iter_shards(self, documents: Iterable[dict]) -> Iterator[dict]:
        """Shards of (task type, document) items, one at a time; a `count` picks a seeded sample.

        `documents` is re-iterable (a list, or the run's `DocumentStream`): it is walked once per
        task type, in its own order, and items fill shards of `shard_size` across task types. So
        a shard's content depends on the documents and the config only. A `count` keeps the
        `count` documents with the smallest seeded rank (a heap of `count`, not a sort of all),
        in document order.
        """
        size = self.config.shard_size
        items: list[dict] = []
        for task in self.config.tasks:
            for doc in self._chosen(task, documents):
                items.append({"task_type": task.type, "doc_id": doc["id"], "text": doc["text"]})
                if len(items) == size:
                    yield {"items": items}
                    items = []
        if items:
            yield {"items": items}

    def _chosen(self, task: BonitoTask, documents: Iterable[dict]) -> Iterable[dict]:
        if task.count is None:
            return documents
        rank = lambda pair: derive_seed(self.run_seed, METHOD, "pick", task.type, pair[1]["id"])  # noqa: E731
        sample = heapq.nsmallest(task.count, enumerate(documents), key=rank)
        return [doc for _, doc in sorted(sample, key=lambda pair: pair[0])]

    def build_request(self, item: dict, protocol: bool, text: str | None = None) -> GenerationRequest:
        """The request for one (document, task type) item; `text` replaces the document (cut to budget)."""
        task = self._tasks[item["task_type"]]
        text = item["text"] if text is None else text
        # One seed per (document, task type): its n completions are told apart by sample_index.
        seed = derive_seed(self.run_seed, METHOD, item["doc_id"], CODE_OF[task.type])
        sampling = self.config.sampling_for(task)
        if protocol:
            return GenerationRequest(prompt=build_prompt(task.type, text), seed=seed, **sampling)
        reply_format = self.config.prompted_format
        if reply_format == "fields":
            messages = build_field_messages(task.type, text, self.config.demonstrations)
            return GenerationRequest(messages=messages, seed=seed, json_schema=schema_for(task.type), **sampling)
        return GenerationRequest(
            messages=build_messages(task.type, text, reply_format),
            seed=seed,
            json_schema=RESPONSE_SCHEMA if reply_format == "json" else None,
            **sampling,
        )

    def document_budget(self, budget: ContextBudget, task_type: str, protocol: bool) -> int | None:
        """Tokens of document this task type's prompt can embed (None: context unknown)."""
        key = (task_type, protocol)
        if key not in self._overheads:
            empty = self.build_request({"task_type": task_type, "doc_id": "", "text": ""}, protocol)
            self._overheads[key] = budget.count(empty.prompt) if empty.prompt is not None else budget.count_messages(empty.messages or [])
        max_tokens = self.config.sampling_for(self._tasks[task_type])["max_tokens"]
        return budget.document_budget(self._overheads[key], max_tokens)

    async def run_shard_async(self, shard: dict, steps: Steps) -> ShardOutput:
        protocol = is_protocol_mode(self.config.mode, steps.model_name)
        budget = ContextBudget(steps)
        items = shard["items"]
        fitted = [budget.fit(item["text"], self.document_budget(budget, item["task_type"], protocol)) for item in items]
        requests = [self.build_request(item, protocol, fit.text) for item, fit in zip(items, fitted)]
        # A document whose budget leaves (almost) nothing cannot carry a task: no request, a reject.
        sendable = [fit.tokens >= MIN_DOCUMENT_TOKENS or not fit.truncated for fit in fitted]
        sent = await steps.run([r for r, ok in zip(requests, sendable) if ok])
        replies = iter(sent)
        results = [
            next(replies) if ok else failed(f"prompt_too_long: only {fit.tokens} document tokens fit the context", 0)
            for ok, fit in zip(sendable, fitted)
        ]
        out = ShardOutput()
        mode = "protocol" if protocol else f"prompted-{self.config.prompted_format}"
        for item, fit, request, result in zip(items, fitted, requests, results):
            self._collect(out, item, fit, request, result, protocol, mode, steps.model_name)
        out.stats = shard_stats(out, sent)
        return out

    def _collect(self, out: ShardOutput, item: dict, fit: Fitted, request: GenerationRequest,
                 result: GenerationResult, protocol: bool, mode: str, model: str) -> None:  # fmt: skip
        """Kept records and rejects for one item's completions."""
        text = fit.text
        common = dict(
            method=METHOD,
            method_version=METHOD_VERSION,
            source_id=item["doc_id"],
            model=model,
            prompt=request.prompt_key(),
            seed=request.seed,
            sampling=request.sampling(),
            prompt_tokens=result.prompt_tokens,
        )
        meta = {"task_type": item["task_type"], "context": text.strip(), "mode": mode}
        if fit.truncated:
            meta["truncated"] = fit.meta()
        if result.error is not None:
            for i in range(request.n):
                rec = make_record(sample_index=i, meta=dict(meta), **common)
                out.rejects.append(reject(rec, result.error_code or ENGINE_ERROR, stage=METHOD, error=result.error))
            return
        for i, completion in enumerate(result.completions):
            rec_meta = {**meta, "raw_prediction": completion.text}
            parsed, prediction = None, completion.text
            if not protocol and self.config.prompted_format == "fields":
                parsed, fields = parse_fields(completion.text, item["task_type"], text)
                prediction = CONTEXT_PLACEHOLDER  # code placed the passage: nothing to prepend
                if fields is not None:
                    rec_meta["fields"] = fields
            elif not protocol and self.config.prompted_format == "json":
                prediction, parsed = json_to_prediction(completion.text)
            if parsed is None:
                parsed = parse_prediction(prediction, text, strict=self.config.strict)
            if (
                not protocol
                and parsed.reject is None
                and self.config.prompted_missing_context == "prepend"
                and CONTEXT_PLACEHOLDER not in prediction.split(PIPE)[0]
            ):
                parsed = replace(parsed, instruction=f"{text.strip()}\n\n{parsed.instruction}")
                rec_meta["context_prepended"] = True
            rec = make_record(
                sample_index=i,
                instruction=parsed.instruction,
                output=parsed.output,
                finish_reason=completion.finish_reason,
                completion_tokens=completion.completion_tokens,
                meta=rec_meta,
                **common,
            )
            if parsed.reject is None:
                out.kept.append(rec)
            else:
                out.rejects.append(reject(rec, parsed.reject, stage=METHOD, **(parsed.detail or {})))


def shard_stats(out: ShardOutput, results: list) -> dict[str, Any]:
    candidates = len(out.kept) + len(out.rejects)
    return {
        "stages": {"parse": {"candidates": candidates, "kept": len(out.kept)}},
        "rejects": dict(Counter(r["reject_reason"] for r in out.rejects)),
        "engine": {
            "requests": len(results),
            "prompt_tokens": sum(r.prompt_tokens for r in results),
            "completion_tokens": sum(r.completion_tokens for r in results),
        },
    }
