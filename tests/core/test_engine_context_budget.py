"""Token budgets with the packaged model's real tokenizer; Bonito cuts documents to them."""

from __future__ import annotations

import time

import pytest

from generators.bonito import BonitoConfig, BonitoGenerator
from generators.context_budget import ContextBudget
from taskmill.engine.scripted import ScriptedEngine

CJK = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(4000))


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from taskmill.models import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("packaged:smollm2"))


def _engine(tokenizer, max_model_len: int = 2048) -> ScriptedEngine:
    engine = ScriptedEngine(lambda r, i: '{"instruction": "What does {{context}} say?", "response": "It says so."}', model_name="small-instruct")
    engine.tokenizer, engine.max_model_len = tokenizer, max_model_len  # type: ignore[attr-defined]
    return engine


def test_fit_cuts_at_a_token_boundary_within_the_budget(tokenizer):
    budget = ContextBudget(_engine(tokenizer))
    assert budget.count(CJK) > 4000  # about two tokens per CJK character: a character cut would not do
    fitted = budget.fit(CJK, 1000)
    assert fitted.truncated and CJK.startswith(fitted.text)
    assert 990 <= len(tokenizer.encode(fitted.text, add_special_tokens=False)) <= 1000
    assert fitted.meta() == {"kept_chars": len(fitted.text), "original_chars": 4000, "kept_tokens": fitted.tokens}
    short = budget.fit("A short passage.", 1000)
    assert not short.truncated and short.text == "A short passage." and short.meta() is None
    assert budget.document_budget(overhead_tokens=100, max_tokens=256) == 2048 - 256 - 100 - 16


def test_ten_megabytes_cost_no_more_than_the_budget(tokenizer):
    huge = ("\x00\x1f binary \ufffd" * 700_000)[:10_000_000]
    start = time.perf_counter()
    fitted = ContextBudget(_engine(tokenizer)).fit(huge, 1500)
    assert time.perf_counter() - start < 5 and fitted.truncated and fitted.tokens <= 1500


def test_without_a_tokenizer_characters_estimate_tokens():
    engine = ScriptedEngine([], model_name="m")
    engine.max_model_len = 100  # type: ignore[attr-defined]
    fitted = ContextBudget(engine, chars_per_token=4.0).fit("x" * 1000, 50)
    assert fitted.text == "x" * 200 and fitted.truncated
    assert ContextBudget(ScriptedEngine([], model_name="m")).document_budget(10, 10) is None  # context unknown


def _bonito(**extra) -> BonitoGenerator:
    # json replies: the scripted engine answers in that format (the budget is measured the same way for every format)
    return BonitoGenerator(BonitoConfig.model_validate({"method": "bonito", "tasks": {"qa": None}, "prompted_format": "json", **extra}), 1)


def test_bonito_truncates_to_the_context_and_rejects_what_cannot_fit(tokenizer):
    docs = [{"id": "cjk", "text": CJK}, {"id": "short", "text": "The ferry leaves at seven."}]
    gen = _bonito(max_tokens=256)
    engine = _engine(tokenizer)
    (shard,) = gen.plan_shards(docs)
    out = gen.run_shard(shard, engine)
    by_id = {r["source_id"]: r for r in out.kept + out.rejects}
    cut = by_id["cjk"]
    assert cut["meta"]["truncated"]["original_chars"] == 4000 and CJK.startswith(cut["meta"]["context"])
    rendered = tokenizer.apply_chat_template(engine.requests[0].messages, tokenize=False, add_generation_prompt=True)
    prompt_tokens = len(tokenizer.encode(rendered, add_special_tokens=False))
    assert 2048 - 256 - 40 <= prompt_tokens <= 2048 - 256, "cut to the budget, and not far below it"
    assert "truncated" not in by_id["short"]["meta"] and by_id["short"]["reject_reason"] is None

    # max_tokens leaves no room for any document: every item is a prompt_too_long reject, no request sent.
    squeezed = _bonito(max_tokens=2000)
    engine = _engine(tokenizer)
    out = squeezed.run_shard(squeezed.plan_shards(docs)[0], engine)
    assert engine.requests == [] and out.kept == []
    assert [r["reject_reason"] for r in out.rejects] == ["prompt_too_long", "prompt_too_long"]
    assert all("fit the context" in r["meta"]["curation"]["detail"]["error"] for r in out.rejects)
