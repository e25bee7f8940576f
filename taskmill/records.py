"""The one record schema used end to end, plus deterministic ids and seeds.

Records travel between stages as plain dicts (easy to build and test) and are
stored as pyarrow tables with `SCHEMA`. Method-specific fields (`sampling`,
`meta`) are dicts in Python and JSON strings on disk, so every generator can
add provenance without changing the schema.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

import pyarrow as pa

SCHEMA_VERSION = "1"

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("method_version", pa.string()),
        pa.field("instruction", pa.string()),
        pa.field("input", pa.string()),
        pa.field("output", pa.string()),
        pa.field("source_id", pa.string()),
        pa.field("parents", pa.list_(pa.string())),
        pa.field("model", pa.string()),
        pa.field("sampling", pa.string()),  # JSON: the engine kwargs actually used; null if symbolic
        pa.field("seed", pa.int64()),
        pa.field("sample_index", pa.int32()),
        pa.field("prompt_sha256", pa.string()),
        pa.field("finish_reason", pa.string()),
        pa.field("prompt_tokens", pa.int32()),
        pa.field("completion_tokens", pa.int32()),
        pa.field("reject_reason", pa.string()),  # null when kept
        pa.field("reject_stage", pa.string()),  # which stage/filter rejected it
        pa.field("meta", pa.string()),  # JSON: method-specific provenance, curation detail, scores
    ]
)

_JSON_FIELDS = ("sampling", "meta")
_DEFAULTS: dict[str, Any] = {
    "method_version": "1",
    "instruction": "",
    "input": "",
    "output": "",
    "source_id": "",
    "parents": [],
    "model": "none",
    "sampling": None,
    "seed": None,
    "sample_index": 0,
    "prompt_sha256": None,
    "finish_reason": None,
    "prompt_tokens": None,
    "completion_tokens": None,
    "reject_reason": None,
    "reject_stage": None,
    "meta": {},
}


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: stable bytes for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def derive_seed(run_seed: int, *keys: Any) -> int:
    """Per-item seed: first 8 bytes of sha256("run_seed|k1|k2..."), masked to 63 bits.

    Spec fixture: derive_seed(42, "bonito", "doc-000123", 0) == 6695308782856856174.
    """
    digest = hashlib.sha256("|".join(map(str, [run_seed, *keys])).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def record_id(
    method: str, source_id: str, model: str, prompt_sha256: str | None, seed: int | None, sample_index: int
) -> str:
    """Deterministic id: the same method, source, model, prompt, seed and sample give the same id."""
    key = canonical_json([method, source_id, model, prompt_sha256, seed, sample_index])
    return f"{method}-{sha256_hex(key)[:16]}"


def make_record(
    *,
    method: str,
    source_id: str,
    instruction: str = "",
    input: str = "",
    output: str = "",
    model: str = "none",
    prompt: str | None = None,
    seed: int | None = None,
    sample_index: int = 0,
    **fields: Any,
) -> dict:
    """Build a record dict with its deterministic id.

    `prompt` is the exact text (or canonical JSON of the messages) sent to the
    engine; only its sha256 is stored. Unknown keyword fields raise, so a typo
    cannot silently create a column that the schema then drops.
    """
    unknown = set(fields) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"make_record: unknown record fields {sorted(unknown)}")
    prompt_sha = sha256_hex(prompt) if prompt is not None else fields.pop("prompt_sha256", None)
    fields.pop("prompt_sha256", None)
    record = {k: (list(v) if isinstance(v, list) else (dict(v) if isinstance(v, dict) else v)) for k, v in _DEFAULTS.items()}
    record.update(fields)
    record.update(
        method=method,
        source_id=source_id,
        instruction=instruction,
        input=input,
        output=output,
        model=model,
        seed=seed,
        sample_index=sample_index,
        prompt_sha256=prompt_sha,
    )
    record["id"] = record_id(method, source_id, model, prompt_sha, seed, sample_index)
    return record


def reject(record: dict, reason: str, stage: str, **detail: Any) -> dict:
    """Mark a record rejected: it keeps all its fields and gains the reason.

    Detail (e.g. `dup_of`, a score) goes to meta["curation"] = {stage, detail}.
    """
    out = dict(record)
    out["reject_reason"] = reason
    out["reject_stage"] = stage
    meta = dict(out.get("meta") or {})
    meta["curation"] = {"stage": stage, "detail": detail}
    out["meta"] = meta
    return out


def to_table(records: Iterable[dict]) -> pa.Table:
    """Dicts → table with SCHEMA. Missing fields take defaults; JSON fields are encoded."""
    rows = []
    for rec in records:
        row = {name: rec.get(name, _DEFAULTS.get(name)) for name in SCHEMA.names}
        for name in _JSON_FIELDS:
            value = row[name]
            if value is not None and not isinstance(value, str):
                row[name] = canonical_json(value)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def from_table(table: pa.Table) -> list[dict]:
    """Table → dicts, decoding the JSON fields."""
    rows = table.to_pylist()
    for row in rows:
        for name in _JSON_FIELDS:
            if row.get(name) is not None:
                row[name] = json.loads(row[name])
    return rows


def empty_table() -> pa.Table:
    return SCHEMA.empty_table()
