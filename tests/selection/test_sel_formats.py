"""Spec §8: conversions, validation, trainer configs, and loading each format with `datasets`."""

import json

import pytest
import yaml

from selection.formats import (
    alpaca_to_messages,
    messages_to_alpaca,
    messages_to_sharegpt,
    record_to_messages,
    sharegpt_to_messages,
    split_valid,
    to_format,
    validate_messages,
    write_jsonl,
    write_trainer_configs,
)


def record(i, inp="", system=None):
    meta = {"task": "qa"}
    if system:
        meta["system"] = system
    return {"id": f"r{i}", "method": "bonito", "instruction": f"Question {i}?", "input": inp, "output": f"Answer {i}.", "meta": meta}


MULTI = {
    "id": "m1",
    "source": "chat",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Sum 2+2"},
        {"role": "assistant", "content": "4"},
    ],
}


def test_record_to_messages_joins_instruction_and_input():
    row = record_to_messages(record(1, inp="context"))
    assert row["messages"] == [
        {"role": "user", "content": "Question 1?\ncontext"},
        {"role": "assistant", "content": "Answer 1."},
    ]
    assert row["id"] == "r1" and row["source"] == "bonito"


def test_single_turn_round_trip_messages_sharegpt_alpaca_messages():
    for rec in (record(1), record(2, inp="ctx"), record(3, system="You are terse.")):
        row = record_to_messages(rec)
        via_sharegpt = sharegpt_to_messages(messages_to_sharegpt(row), source=row["source"])
        back = alpaca_to_messages(messages_to_alpaca(via_sharegpt), source=row["source"])
        assert back == row


def test_multi_turn_alpaca_uses_history_and_bad_roles_raise():
    alpaca = messages_to_alpaca(MULTI)
    assert alpaca["history"] == [["Hi", "Hello"]] and alpaca["system"] == "Be brief."
    assert alpaca["instruction"] == "Sum 2+2" and alpaca["input"] == "" and alpaca["output"] == "4"
    assert alpaca_to_messages(alpaca, source="chat") == MULTI
    broken = {**MULTI, "messages": MULTI["messages"][:2] + MULTI["messages"][3:]}
    with pytest.raises(ValueError, match="alternate"):
        messages_to_alpaca(broken)


def test_validation_reasons():
    assert validate_messages(MULTI) is None
    assert validate_messages({**MULTI, "source": ""}) == "missing_source"
    assert validate_messages({**MULTI, "messages": MULTI["messages"][:4]}) == "last_turn_not_assistant"
    assert validate_messages({**MULTI, "messages": MULTI["messages"][:2] + MULTI["messages"][3:]}).startswith("roles_not")
    empty = [dict(m) for m in MULTI["messages"]]
    empty[2]["content"] = " "
    assert validate_messages({**MULTI, "messages": empty}) == "empty_content"
    bad = {**record(9), "output": ""}
    kept, rejected = split_valid([record(1), bad])
    assert [r["id"] for r in kept] == ["r1"]
    assert rejected[0]["reject_reason"] == "empty_content" and rejected[0]["reject_stage"] == "export"
    with pytest.raises(ValueError, match="not exportable"):
        to_format([bad], "messages")


EXPECTED_COLUMNS = {
    "messages": {"id", "messages", "source"},
    "prompt_completion": {"id", "prompt", "completion"},
    "alpaca": {"id", "instruction", "input", "output", "system", "history"},
    "sharegpt": {"id", "conversations", "system"},
}


@pytest.mark.parametrize("fmt", sorted(EXPECTED_COLUMNS))
def test_each_format_loads_with_datasets_and_has_trainer_fields(fmt, tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = to_format([record(1), record(2, inp="ctx", system="Be brief."), MULTI], fmt)
    path = write_jsonl(rows, tmp_path / f"{fmt}.jsonl")
    loaded = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert set(loaded.column_names) == EXPECTED_COLUMNS[fmt]
    assert len(loaded) == 3
    first = loaded[1]
    if fmt == "messages":
        assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    elif fmt == "prompt_completion":
        assert first["prompt"][-1] == {"role": "user", "content": "Question 2?\nctx"}
        assert first["completion"] == [{"role": "assistant", "content": "Answer 2."}]
    elif fmt == "alpaca":
        assert first["instruction"] == "Question 2?\nctx" and first["output"] == "Answer 2." and first["system"] == "Be brief."
        assert loaded[2]["history"] == [["Hi", "Hello"]]
    else:
        assert [t["from"] for t in loaded[2]["conversations"]] == ["human", "gpt", "human", "gpt"]
    written = write_trainer_configs(tmp_path / "cfg", f"taskmill_{fmt}", fmt, path.name, optional_columns=("system", "history"))
    if fmt == "prompt_completion":
        assert written == {}
        return
    info = json.loads(written["llamafactory"].read_text())[f"taskmill_{fmt}"]
    assert info["file_name"] == path.name
    assert info["formatting"] == ("alpaca" if fmt == "alpaca" else "sharegpt")
    for column in info["columns"].values():
        assert column in loaded.column_names
    if fmt == "messages":
        assert info["tags"]["role_tag"] == "role" and info["tags"]["assistant_tag"] == "assistant"
    axolotl = yaml.safe_load(written["axolotl"].read_text())["datasets"][0]
    assert axolotl["path"] == path.name
    assert axolotl["type"] == ("alpaca" if fmt == "alpaca" else "chat_template")
    if fmt != "alpaca":
        assert axolotl["field_messages"] in loaded.column_names


def test_dataset_info_merges_entries(tmp_path):
    write_trainer_configs(tmp_path, "one", "messages", "one.jsonl")
    write_trainer_configs(tmp_path, "two", "alpaca", "two.jsonl")
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert set(info) == {"one", "two"} and info["two"]["columns"] == {"prompt": "instruction", "query": "input", "response": "output"}
