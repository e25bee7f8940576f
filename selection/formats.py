"""Export formats (spec §8) and the trainer configs that load them.

The canonical row is `{id, messages: [{role, content}], source}` with roles
system? → (user, assistant)+. Every other format is a lossless view of it for
single-turn data, and multi-turn alpaca uses `history`:

| format            | shape                                              | read by                          |
|-------------------|----------------------------------------------------|----------------------------------|
| messages          | {id, messages, source}                             | TRL, axolotl chat_template, LLaMA-Factory sharegpt+tags |
| prompt_completion | {id, prompt: [msgs], completion: [msgs]}           | TRL (loss on the completion)     |
| alpaca            | {id, instruction, input, output[, system, history]}| LLaMA-Factory alpaca, axolotl alpaca |
| sharegpt          | {id, conversations: [{from, value}][, system]}     | LLaMA-Factory sharegpt, axolotl chat_template + mappings |

`id` is carried in every format for lineage; trainers ignore unknown columns.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from pydantic import BaseModel, ConfigDict

from selection.config import ExportFormat

FORMATS = ("messages", "prompt_completion", "alpaca", "sharegpt")
_TO_SHAREGPT = {"user": "human", "assistant": "gpt"}
_FROM_SHAREGPT = {"human": "user", "gpt": "assistant", "system": "system"}


class ExportFormatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: ExportFormat = "messages"
    system_prompt: str | None = None  # added as a system turn when a record has none


def record_to_messages(record: dict, system_prompt: str | None = None) -> dict:
    """taskmill record → canonical row. user = instruction [+ "\\n" + input], assistant = output.

    Never raises on malformed records: values are carried as they are, and
    `validate_messages` names what is wrong (non-string content, a message that
    is not an object, ...).
    """
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    given = record.get("messages") or meta.get("messages")
    if given:
        messages = [dict(m) if isinstance(m, dict) else m for m in given] if isinstance(given, list) else given
    else:
        instruction, inp = _field(record, "instruction"), _field(record, "input")
        if isinstance(instruction, str) and isinstance(inp, str):
            user = instruction if inp == "" else f"{instruction}\n{inp}"
        else:  # not joined: str() would turn 5 or a list into text silently
            user = instruction if not isinstance(instruction, str) else inp
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": _field(record, "output")}]
    system = meta.get("system") or system_prompt
    if system and isinstance(messages, list) and not (messages and isinstance(messages[0], dict) and messages[0].get("role") == "system"):
        messages.insert(0, {"role": "system", "content": system})
    return {"id": record.get("id"), "messages": messages, "source": record.get("source") or record.get("method")}


def _field(record: dict, name: str) -> Any:
    value = record.get(name)
    return "" if value is None else value


def content_problem(row: dict) -> tuple[str, dict] | None:
    """(reason, detail) when the messages of a canonical row are not text turns, else None.

    Reasons: `messages_not_list`, `message_not_object`, `non_string_role`,
    `non_string_content` (e.g. output=5, or a list of content parts); detail
    names the turn index and the type found.
    """
    messages = row.get("messages")
    if not isinstance(messages, list):
        return "messages_not_list", {"type": type(messages).__name__}
    for k, message in enumerate(messages):
        if not isinstance(message, dict):
            return "message_not_object", {"turn": k, "type": type(message).__name__}
        for key, reason in (("role", "non_string_role"), ("content", "non_string_content")):
            if not isinstance(message.get(key), str):
                return reason, {"turn": k, "type": type(message.get(key)).__name__}
    return None


def validate_messages(row: dict) -> str | None:
    """None when the row is valid, else the reason (filters answer keep or a reason string)."""
    for key in ("id", "source"):
        if not row.get(key):
            return f"missing_{key}"
    problem = content_problem(row)
    if problem:
        return problem[0]
    messages = row["messages"]
    turns = messages[1:] if messages and messages[0]["role"] == "system" else messages
    if not turns:
        return "no_turns"
    for k, message in enumerate(turns):
        expected = "user" if k % 2 == 0 else "assistant"
        if message["role"] != expected:
            return f"roles_not_alternating_at_{k}"
    if turns[-1]["role"] != "assistant":
        return "last_turn_not_assistant"
    if any(not m["content"].strip() for m in messages):
        return "empty_content"
    return None


def _split_system(messages: Sequence[dict]) -> tuple[str | None, list[dict]]:
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], list(messages[1:])
    return None, list(messages)


def _pairs(turns: Sequence[dict]) -> list[tuple[str, str]]:
    if len(turns) % 2 or any(t["role"] != ("user" if k % 2 == 0 else "assistant") for k, t in enumerate(turns)):
        raise ValueError(f"roles must alternate user/assistant to convert, got {[t['role'] for t in turns]}")
    return [(turns[k]["content"], turns[k + 1]["content"]) for k in range(0, len(turns), 2)]


def messages_to_alpaca(row: dict) -> dict:
    """Last pair → instruction/output (input ""); earlier pairs → history; system → system."""
    system, turns = _split_system(row["messages"])
    pairs = _pairs(turns)
    out = {"id": row.get("id"), "instruction": pairs[-1][0], "input": "", "output": pairs[-1][1]}
    if system is not None:
        out["system"] = system
    if len(pairs) > 1:
        out["history"] = [list(p) for p in pairs[:-1]]
    return out


def alpaca_to_messages(row: dict, source: str | None = None) -> dict:
    messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    for question, answer in row.get("history") or []:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    user = row["instruction"] if (row.get("input") or "") == "" else f"{row['instruction']}\n{row['input']}"
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]
    return {"id": row.get("id"), "messages": messages, "source": source or row.get("source")}


def messages_to_sharegpt(row: dict) -> dict:
    system, turns = _split_system(row["messages"])
    _pairs(turns)
    out = {"id": row.get("id"), "conversations": [{"from": _TO_SHAREGPT[t["role"]], "value": t["content"]} for t in turns]}
    if system is not None:
        out["system"] = system
    return out


def sharegpt_to_messages(row: dict, source: str | None = None) -> dict:
    messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    for turn in row["conversations"]:
        if turn["from"] not in _FROM_SHAREGPT:
            raise ValueError(f"sharegpt role {turn['from']!r} (tools/observations) has no chat-message equivalent here")
        messages.append({"role": _FROM_SHAREGPT[turn["from"]], "content": turn["value"]})
    return {"id": row.get("id"), "messages": messages, "source": source or row.get("source")}


def messages_to_prompt_completion(row: dict) -> dict:
    """Conversational prompt/completion: everything before the last assistant turn is the prompt."""
    messages = row["messages"]
    return {"id": row.get("id"), "prompt": [dict(m) for m in messages[:-1]], "completion": [dict(messages[-1])]}


def _uniform_columns(rows: list[dict], optional: dict[str, object]) -> list[dict]:
    """Give every row the optional columns any row has, so the file loads with one schema."""
    present = {key for row in rows for key in optional if key in row}
    return [{**{k: v for k, v in optional.items() if k in present}, **row} for row in rows]


def to_format(records: Iterable[dict], fmt: str, system_prompt: str | None = None) -> list[dict]:
    """taskmill records (or canonical rows) → rows of `fmt`. Invalid rows raise: reject them first (`split_valid`)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    rows = []
    for record in records:
        row = record if "messages" in record and "instruction" not in record else record_to_messages(record, system_prompt)
        reason = validate_messages(row)
        if reason:
            raise ValueError(f"record {row.get('id')!r} is not exportable: {reason}")
        rows.append(row)
    if fmt == "messages":
        return rows
    if fmt == "prompt_completion":
        return [messages_to_prompt_completion(r) for r in rows]
    if fmt == "alpaca":
        return _uniform_columns([messages_to_alpaca(r) for r in rows], {"system": "", "history": []})
    return _uniform_columns([messages_to_sharegpt(r) for r in rows], {"system": ""})


def split_valid(records: Iterable[dict], system_prompt: str | None = None) -> tuple[list[dict], list[dict]]:
    """(exportable records, rejects with reject_reason set): nothing is dropped silently."""
    from taskmill.records import reject

    kept, rejected = [], []
    for record in records:
        row = record_to_messages(record, system_prompt)
        problem = content_problem(row)
        reason = validate_messages(row)
        if reason:
            detail = problem[1] if problem else {}
            rejected.append(reject(record, reason, "export", **detail))
        else:
            kept.append(record)
    return kept, rejected


# ---- trainer configs -------------------------------------------------------------------------------

_MESSAGE_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
}


def llamafactory_entry(fmt: str, file_name: str, optional_columns: Iterable[str] = ()) -> dict | None:
    """One `dataset_info.json` entry; None for prompt_completion, which LLaMA-Factory does not read."""
    optional = set(optional_columns)
    if fmt == "messages":
        return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "messages"}, "tags": dict(_MESSAGE_TAGS)}
    if fmt == "sharegpt":
        columns = {"messages": "conversations"}
        if "system" in optional:
            columns["system"] = "system"
        return {"file_name": file_name, "formatting": "sharegpt", "columns": columns}
    if fmt == "alpaca":
        columns = {"prompt": "instruction", "query": "input", "response": "output"}
        columns.update({k: k for k in ("system", "history") if k in optional})
        return {"file_name": file_name, "formatting": "alpaca", "columns": columns}
    return None


def axolotl_dataset(fmt: str, path: str) -> dict:
    """One entry of axolotl's `datasets:` list for a local JSON/JSONL file."""
    base = {"path": path, "ds_type": "json"}
    if fmt == "messages":
        return {**base, "type": "chat_template", "field_messages": "messages", "roles_to_train": ["assistant"]}
    if fmt == "sharegpt":  # axolotl's own `type: sharegpt` is deprecated
        return {
            **base,
            "type": "chat_template",
            "field_messages": "conversations",
            "message_property_mappings": {"role": "from", "content": "value"},
            "roles": {"user": ["human"], "assistant": ["gpt"], "system": ["system"]},
            "roles_to_train": ["assistant"],
        }
    if fmt == "alpaca":
        return {**base, "type": "alpaca"}
    raise ValueError(f"axolotl has no stable loader for format {fmt!r}; use messages for axolotl")


def write_trainer_configs(
    out_dir: str | Path,
    dataset_name: str,
    fmt: str,
    file_name: str,
    optional_columns: Iterable[str] = (),
) -> dict[str, Path]:
    """Write the LLaMA-Factory `dataset_info.json` entry (merged into an existing file) and an axolotl
    YAML snippet; returns the paths written. prompt_completion is TRL-only (TRL needs no config
    file: `load_dataset("json", data_files=...)` gives the prompt/completion columns), so it writes none."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    entry = llamafactory_entry(fmt, file_name, optional_columns)
    if entry is not None:
        info_path = out / "dataset_info.json"
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        info[dataset_name] = entry
        info_path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        written["llamafactory"] = info_path
    if fmt != "prompt_completion":
        axolotl_path = out / f"axolotl_{dataset_name}.yaml"
        axolotl_path.write_text(yaml.safe_dump({"datasets": [axolotl_dataset(fmt, file_name)]}, sort_keys=False))
        written["axolotl"] = axolotl_path
    return written


def write_jsonl(rows: Sequence[dict], path: str | Path) -> Path:
    """One JSON object per line, written to a temp name and renamed: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    with temp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(temp, path)
    return path

