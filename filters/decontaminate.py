"""Benchmark decontamination with the Tülu 3 rule (spec §5).

An eval token is matched by a training prompt when some 8-gram containing it
also occurs in that prompt; an eval instance is contaminated by one training
instance when matched_tokens / len(eval) > 0.5 (strict, from that single
instance). A training dataset (here: the records of one generator `method`)
is contaminated for an eval when > 2% of the eval's instances are hit.

Tokens are `\\w+|[^\\w\\s]` over `norm(s)` (filters.normalize: full-width
forms folded, zero-width characters removed, combining marks kept inside
words); open-instruct uses spaCy, so counts can differ slightly at
contractions. Eval prompts shorter than n tokens have no n-grams: they match
a training prompt that contains their whole token sequence and consists
mostly of it (the sequence is > instance_threshold of the training prompt's
tokens), so `What is 2+2?` matches `what is 2 + 2 ?` but not a long prompt
that happens to contain those words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from filters import normalize
from filters.jsonl import read_jsonl, read_lines
from filters.text_views import as_text, prompt_view, response_view

TOKENIZER_NAME = r"regex \w+|[^\w\s] on filters.normalize.norm text"
PROMPT_FIELDS = ("prompt", "question", "instruction", "problem", "input", "query", "text")


class EvalSet(BaseModel):
    """One evaluation set: a file (.jsonl .json .txt .parquet .csv), a `datasets` dir, or inline prompts."""

    model_config = ConfigDict(extra="forbid")
    name: str
    path: str | None = None
    prompts: list[str] | None = None
    field: str | None = None  # column holding the prompt; None: the first of PROMPT_FIELDS present
    id_field: str | None = None  # None: the item's position
    split: str | None = None  # for a DatasetDict dir; None: every split

    @model_validator(mode="after")
    def _one_source(self) -> "EvalSet":
        if (self.path is None) == (self.prompts is None):
            raise ValueError(f"decontamination.evals[{self.name!r}]: set exactly one of `path` and `prompts`")
        return self


class DecontaminationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True  # a no-op while `evals` is empty
    evals: list[EvalSet] = []
    n: int = Field(8, ge=1)
    instance_threshold: float = Field(0.5, ge=0, le=1)  # strict >
    dataset_threshold: float = Field(0.02, ge=0, le=1)  # strict >
    fields: Literal["prompt", "pair"] = "prompt"
    action: Literal["remove_instances", "drop_dataset", "report_only"] = "remove_instances"

    @field_validator("evals", mode="before")
    @classmethod
    def _paths_as_evals(cls, value: Any) -> Any:
        """A bare path is shorthand for {name: <file stem>, path: <path>}."""
        if not isinstance(value, list):
            return value
        return [{"name": Path(item.rstrip("/")).stem or item, "path": item} if isinstance(item, str) else item for item in value]

    @model_validator(mode="after")
    def _distinct_names(self) -> "DecontaminationConfig":
        names = [spec.name for spec in self.evals]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"evals: names must be distinct (reports are per name), repeated: {repeated}; set `name:` for each")
        return self


def tokenize(text) -> list[str]:
    """Word/symbol tokens of the normalized text (filters.normalize.tokens)."""
    return normalize.tokens(as_text(text))


def _item_prompt(item: Any, column: str | None) -> str:
    if not isinstance(item, dict):
        return as_text(item)
    if column is not None:
        if column not in item:
            raise KeyError(f"eval item has no field {column!r} (fields: {sorted(item)})")
        return as_text(item[column])
    if isinstance(item.get("messages"), list):
        return prompt_view(item)
    for name in PROMPT_FIELDS:
        if name in item:
            return as_text(item[name])
    raise KeyError(f"eval item has none of the prompt fields {PROMPT_FIELDS}; set `field` (fields: {sorted(item)})")


def _read_items(spec: EvalSet) -> list[Any]:
    if spec.prompts is not None:
        return list(spec.prompts)
    path = Path(spec.path)
    if path.is_dir():
        import datasets

        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            splits = [spec.split] if spec.split else sorted(loaded)
            return [row for name in splits for row in loaded[name]]
        return list(loaded)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix == ".json":
        try:
            data = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"eval {spec.name!r}: {path}: not valid UTF-8 JSON ({err})") from None
        if isinstance(data, dict):
            key = spec.split or "data"
            if not isinstance(data.get(key), list):
                raise ValueError(f"eval {spec.name!r}: {path}: a JSON object needs a list under {key!r} (keys: {sorted(data)[:10]})")
            return data[key]
        if not isinstance(data, list):
            raise ValueError(f"eval {spec.name!r}: {path}: expected a JSON list of items, got {type(data).__name__}")
        return data
    if suffix == ".txt":
        return [line for _, line in read_lines(path)]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix == ".csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path).to_pylist()
    raise ValueError(f"eval {spec.name!r}: unsupported file type {suffix!r} (jsonl, json, txt, parquet, csv or a datasets dir)")


@dataclass
class EvalItem:
    eval_name: str
    eval_id: str
    n_tokens: int


@dataclass
class EvalIndex:
    """n-gram → [(item, start)] over every eval prompt, plus the short-prompt fallback.

    Tokens become ids from the eval vocabulary and n-grams are tuples of ids:
    exact keys, and a training token the evals never use breaks every n-gram
    through it, so those windows are skipped without a lookup.
    """

    n: int = 8
    threshold: float = 0.5
    items: list[EvalItem] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # eval name → number of items
    vocab: dict[str, int] = field(default_factory=dict)
    grams: dict[tuple[int, ...], list[tuple[int, int]]] = field(default_factory=dict)
    short: dict[tuple[int, ...], list[int]] = field(default_factory=dict)  # eval prompts of < n tokens
    short_lengths: set[int] = field(default_factory=set)

    @classmethod
    def build(cls, cfg: DecontaminationConfig) -> "EvalIndex":
        index = cls(n=cfg.n, threshold=cfg.instance_threshold)
        for spec in cfg.evals:
            raw = _read_items(spec)
            index.sizes[spec.name] = len(raw)
            for position, item in enumerate(raw):
                if not isinstance(item, (dict, str)):
                    raise ValueError(
                        f"decontamination.evals[{spec.name!r}] item {position}: expected an object or a string, "
                        f"got {type(item).__name__} {str(item)[:60]!r}"
                    )
                item_id = str(item.get(spec.id_field, position)) if spec.id_field and isinstance(item, dict) else str(position)
                try:
                    prompt = _item_prompt(item, spec.field)
                except KeyError as err:
                    raise ValueError(f"decontamination.evals[{spec.name!r}] item {position}: {err.args[0]}") from None
                index.add(spec.name, item_id, prompt)
        return index

    def add(self, eval_name: str, eval_id: str, prompt: str) -> None:
        tokens = tokenize(prompt)
        number = len(self.items)
        self.items.append(EvalItem(eval_name, eval_id, len(tokens)))
        self.sizes.setdefault(eval_name, 0)
        ids = [self.vocab.setdefault(t, len(self.vocab)) for t in tokens]
        if len(tokens) < self.n:
            if tokens:  # an eval prompt with no tokens (blank) can match nothing
                self.short.setdefault(tuple(ids), []).append(number)
                self.short_lengths.add(len(ids))
            return
        for start in range(len(ids) - self.n + 1):
            self.grams.setdefault(tuple(ids[start : start + self.n]), []).append((number, start))

    def _short_hits(self, ids: list[int]) -> list[tuple[int, float]]:
        """Short eval prompts whose whole token sequence occurs in `ids` and is > threshold of them."""
        hits: dict[int, float] = {}
        for length in self.short_lengths:
            if length > len(ids) or length <= self.threshold * len(ids):
                continue
            for start in range(len(ids) - length + 1):
                for item in self.short.get(tuple(ids[start : start + length]), ()):
                    hits[item] = 1.0  # every token of the eval prompt is matched
        return list(hits.items())

    def __bool__(self) -> bool:
        return bool(self.items)

    def match(self, text: str) -> list[tuple[int, float]]:
        """(item, coverage) for every eval item this one training text contaminates."""
        ids = [self.vocab.get(t, -1) for t in tokenize(text)]
        hits = self._short_hits(ids) if self.short else []
        n = self.n
        breaks = [i for i, v in enumerate(ids) if v < 0] + [len(ids)]
        covered: dict[int, int] = {}  # item → bitmask of matched eval token positions
        window = (1 << n) - 1
        segment = 0
        for stop in breaks:  # runs of known tokens between unknown ones
            for start in range(segment, stop - n + 1):
                for item, item_start in self.grams.get(tuple(ids[start : start + n]), ()):
                    covered[item] = covered.get(item, 0) | (window << item_start)
            segment = stop + 1
        for item, mask in covered.items():
            coverage = mask.bit_count() / self.items[item].n_tokens
            if coverage > self.threshold:
                hits.append((item, coverage))
        return hits


def decontam_text(record: dict, fields: str) -> str:
    if fields == "pair":
        return prompt_view(record) + "\n" + response_view(record)
    return prompt_view(record)


def dataset_report(
    index: EvalIndex, hits: list[tuple[str, str, int, float]], datasets: dict[str, int], cfg: DecontaminationConfig
) -> tuple[list[dict], list[dict], set[tuple[str, str]]]:
    """Per-(dataset, eval) rows, per-hit rows and the flagged (dataset, eval) pairs.

    hits: (dataset, record_id, item, coverage) for the records that reached this stage.
    datasets: dataset name → records that reached this stage.
    """
    hit_items: dict[tuple[str, str], set[int]] = {}
    hit_rows = []
    for dataset, record_id, item, coverage in hits:
        info = index.items[item]
        hit_items.setdefault((dataset, info.eval_name), set()).add(item)
        hit_rows.append(
            {"dataset": dataset, "eval": info.eval_name, "eval_id": info.eval_id, "record_id": record_id, "coverage": round(coverage, 4)}
        )
    rows, flagged = [], set()
    for dataset in sorted(datasets):
        for eval_name, size in index.sizes.items():
            count = len(hit_items.get((dataset, eval_name), ()))
            share = count / size if size else 0.0
            is_flagged = share > cfg.dataset_threshold
            if is_flagged:
                flagged.add((dataset, eval_name))
            rows.append(
                {
                    "dataset": dataset, "eval": eval_name, "eval_items": size, "records": datasets[dataset],
                    "hit": count, "percent": round(100 * share, 4), "flagged": is_flagged,
                    "n": cfg.n, "tokenizer": TOKENIZER_NAME,
                }
            )
    return rows, hit_rows, flagged

