"""Issue 9: dataset_info.json registers every file with all columns; token lengths; export.max_tokens."""

import json

import numpy as np
import pytest

from flows.summary import render_markdown, render_text
from selection.formats import record_to_messages
from selection.lengths import percentiles, token_counter
from taskmill.config import ExportConfig
from taskmill.export import export_records, exportable

FORMATS = ["messages", "alpaca", "sharegpt", "prompt_completion"]


def _records():
    plain = {"id": "r1", "method": "bonito", "model": "m", "instruction": "Name a prime.", "input": "", "output": "7", "meta": {}}
    system = {"id": "r2", "method": "bonito", "model": "m", "instruction": "Say hi.", "input": "", "output": "Hi!", "meta": {"system": "Be terse."}}
    chat = [
        {"role": "system", "content": "You are a tutor."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And doubled?"},
        {"role": "assistant", "content": "8"},
    ]
    multi = {"id": "r3", "method": "chat", "model": "m", "instruction": "", "input": "", "output": "", "meta": {"messages": chat}}
    return [plain, system, multi]


@pytest.fixture(scope="module")
def smollm2():
    return token_counter(None)


def test_percentiles_nearest_rank():
    assert percentiles(range(1, 101)) == {"records": 100, "p50": 50, "p90": 90, "p99": 99, "max": 100}
    assert percentiles([30, 10, 20]) == {"records": 3, "p50": 20, "p90": 30, "p99": 30, "max": 30}
    assert percentiles([]) == {"records": 0, "p50": 0, "p90": 0, "p99": 0, "max": 0}


def test_counts_are_chat_template_tokens(smollm2):
    messages = record_to_messages(_records()[0])["messages"]
    expected = smollm2.tokenizer.apply_chat_template(messages, tokenize=True)["input_ids"]
    assert smollm2.count([messages]).tolist() == [len(expected)]
    assert "SmolLM2-135M-Instruct" in smollm2.name


def test_unknown_model_falls_back_to_smollm2_and_says_so():
    counter = token_counter("my-served-model-without-local-files")
    assert "SmolLM2-135M-Instruct" in counter.name and "no local tokenizer for 'my-served-model-without-local-files'" in counter.name


def test_max_tokens_moves_longer_records_to_rejects(smollm2):
    records = _records()
    counts = smollm2.count([record_to_messages(r)["messages"] for r in records])
    limit = int(np.sort(counts)[1])  # the two shortest fit, the longest does not
    longest = int(np.argmax(counts))
    kept, rejected, kept_counts = exportable(records + [{**records[0], "id": "bad", "output": 5}], limit, smollm2)
    assert [r["id"] for r in kept] == [r["id"] for i, r in enumerate(records) if i != longest]
    assert kept_counts.tolist() == [int(c) for i, c in enumerate(counts) if i != longest]
    assert [(r["id"], r["reject_reason"]) for r in rejected] == [("bad", "non_string_content"), (records[longest]["id"], "too_long")]
    detail = rejected[1]["meta"]["curation"]["detail"]
    assert detail == {"tokens": int(counts[longest]), "max_tokens": limit, "tokenizer": smollm2.name}
    kept_all, rejected_none, _ = exportable(records, None, smollm2)
    assert len(kept_all) == 3 and rejected_none == []


def test_export_config_max_tokens_validates():
    assert ExportConfig().max_tokens is None
    with pytest.raises(ValueError, match="max_tokens"):
        ExportConfig(max_tokens=0)


def test_dataset_info_registers_every_file_with_system_and_history(tmp_path, smollm2):
    datasets = pytest.importorskip("datasets")
    records = _records()
    kept, _, counts = exportable(records, None, smollm2)
    summary = {"run_id": "t", "run_dir": str(tmp_path), "records_per_stage": {"exported": 3}, "rejects": {},
               "prompt_tokens": 0, "completion_tokens": 0, "tokens_per_s": 0.0}
    paths = export_records(str(tmp_path), kept, formats=FORMATS, dataset_name="ds", hf_dataset=False, mixture_table=[],
                           summary=summary, token_counts=counts, tokenizer=smollm2.name)
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    # LLaMA-Factory reads alpaca and sharegpt files; prompt_completion is TRL-only
    assert {name: entry["file_name"] for name, entry in info.items()} == {
        "ds": "messages.jsonl", "ds_alpaca": "alpaca.jsonl", "ds_sharegpt": "sharegpt.jsonl",
    }
    assert info["ds_alpaca"]["columns"] == {"prompt": "instruction", "query": "input", "response": "output", "system": "system", "history": "history"}
    assert info["ds_sharegpt"]["columns"] == {"messages": "conversations", "system": "system"}
    assert info["ds"]["tags"]["system_tag"] == "system"
    for name, entry in info.items():
        loaded = datasets.load_dataset("json", data_files=str(tmp_path / entry["file_name"]), split="train", cache_dir=str(tmp_path / "c"))
        assert set(entry["columns"].values()) <= set(loaded.column_names), name
    alpaca = [json.loads(line) for line in open(paths["alpaca"], encoding="utf-8")]
    assert alpaca[1]["system"] == "Be terse." and alpaca[2]["history"] == [["What is 2+2?", "4"]] and alpaca[2]["system"] == "You are a tutor."
    assert (tmp_path / "axolotl_ds_alpaca.yaml").exists() and (tmp_path / "axolotl_ds.yaml").exists()

    figures = percentiles(counts)
    assert summary["token_lengths"] == {"tokenizer": smollm2.name, "formats": {fmt: figures for fmt in FORMATS}}
    card = (tmp_path / "README.md").read_text()
    assert "## Token lengths" in card and f"| alpaca | 3 | {figures['p50']} | {figures['p90']} | {figures['p99']} | {figures['max']} |" in card
    assert f"| prompt_completion | 3 | {figures['p50']} |" in render_markdown(summary)
    assert f"p99 {figures['p99']}  max {figures['max']}" in render_text(summary)


@pytest.mark.slow
def test_trl_sees_the_lengths_we_report(tmp_path, smollm2):
    """Real TRL: SFTTrainer's tokenized lengths equal ours; with max_length = max_tokens nothing is cut or dropped."""
    trl = pytest.importorskip("trl")
    import datasets
    from transformers import AutoConfig, AutoModelForCausalLM

    from selection.formats import to_format, write_jsonl

    records = _records() + [
        {"id": f"long{i}", "method": "bonito", "model": "m", "instruction": "Summarize: " + "tea leaves " * (20 * i), "input": "", "output": "Tea.", "meta": {}}
        for i in range(1, 4)
    ]
    counts = smollm2.count([record_to_messages(r)["messages"] for r in records])
    limit = int(np.sort(counts)[-3])  # two records are longer than the limit
    kept, rejected, kept_counts = exportable(records, limit, smollm2)
    assert len(rejected) == 2 and all(r["reject_reason"] == "too_long" for r in rejected)
    config = AutoConfig.from_pretrained(smollm2.tokenizer.name_or_path)
    config.update({"num_hidden_layers": 1, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16})
    model = AutoModelForCausalLM.from_config(config)
    for fmt in ("messages", "prompt_completion"):
        for rows, max_length, expected in ((to_format(records, fmt), None, counts), (to_format(kept, fmt), limit, kept_counts)):
            path = write_jsonl(rows, tmp_path / f"{fmt}-{max_length}.jsonl")
            dataset = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "c"))
            args = trl.SFTConfig(output_dir=str(tmp_path / "out"), max_length=max_length, report_to=[], use_cpu=True)
            trainer = trl.SFTTrainer(model=model, processing_class=smollm2.tokenizer, train_dataset=dataset, args=args)
            assert [len(ids) for ids in trainer.train_dataset["input_ids"]] == expected.tolist(), (fmt, max_length)


def test_a_named_tokenizer_that_does_not_load_is_an_error(tmp_path):
    from taskmill.export import token_counter_for

    with pytest.raises(ValueError, match=f"export.tokenizer: cannot load a local tokenizer from '{tmp_path}'"):
        token_counter_for(ExportConfig(tokenizer=str(tmp_path)), "packaged:smollm2")
