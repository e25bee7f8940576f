"""Verifiable chains (spec §3b): computed answers are right, the checker scores known answers."""

from __future__ import annotations

import re

import pydoc_data.topics as topics
import pytest

from generators.chains import SifoChainConfig, SifoChainGenerator, check_record, parse_transcript, score_chain, score_record
from generators.chains.textops import NotApplicable, Op, operand_words, render, run_chain, split_sentences, tokenize
from generators.chains.transcript import join_instructions, render_transcript

SPEC_TRANSCRIPT = (
    "Task 1 output and task 2 input: the dog sat on the mat .\n"
    "Task 2 output and task 3 input: the big dog sat on the mat .\n"
    "Task 3 output: big dog sat on mat ."
)


def test_spec_example():
    tokens = "the cat sat on the mat .".split()
    outputs = run_chain(tokens, [Op("replace", "cat", "dog"), Op("insert_before", "dog", "big"), Op("delete", "the")])
    assert render_transcript(outputs) == SPEC_TRANSCRIPT
    ops = [Op("replace", "cat", "dog"), Op("insert_before", "dog", "big"), Op("delete", "the")]
    assert join_instructions([op.instruction(first=i == 0) for i, op in enumerate(ops)]) == (
        'In the sentence, replace each word "cat" with "dog". and then In the result, insert the word "big" '
        'before each word "dog". and then In the result, delete each word "the".'
    )
    s1, s2, s3 = outputs
    assert score_chain([s1, s2, "wrong"], outputs).depth == 2
    assert score_chain(["wrong", s2, s3], outputs).depth == 0
    assert score_chain(["wrong", s2, s3], outputs).correct  # instance accuracy looks at the last step only


def test_each_operation():
    t = "the cat saw the dog and the cat ran .".split()
    assert Op("replace", "cat", "fox").apply(t) == "the fox saw the dog and the fox ran .".split()
    assert Op("insert_before", "cat", "old").apply(t) == "the old cat saw the dog and the old cat ran .".split()
    assert Op("insert_after", "the", "big").apply(t) == "the big cat saw the big dog and the big cat ran .".split()
    assert Op("delete", "the").apply(t) == "cat saw dog and cat ran .".split()
    assert Op("upper", "cat").apply(t) == "the CAT saw the dog and the CAT ran .".split()
    assert Op("swap", "saw", "ran").apply(t) == "the cat ran the dog and the cat saw .".split()
    assert Op("extract", "saw", "and").apply(t) == "saw the dog and".split()
    assert Op("count", "the").apply(t) == 3
    assert run_chain(t, [Op("delete", "dog"), Op("count", "cat")]) == ["the cat saw the and the cat ran .", "2"]
    for bad in (Op("replace", "cow", "ox"), Op("swap", "cat", "dog"), Op("extract", "dog", "saw"), Op("upper", ".")):
        with pytest.raises(NotApplicable):
            bad.apply(t)
    with pytest.raises(NotApplicable, match="only end a chain"):
        run_chain(t, [Op("count", "cat"), Op("delete", "the")])


def test_tokenize_splits_punctuation():
    assert tokenize("The Cat, in 2024, sat.") == ["the", "cat", ",", "in", "2024", ",", "sat", "."]


def reference(tokens: list[str], op: dict) -> str:
    """An independent string-level implementation, to cross-check the token-level one."""
    text, a, b = " " + " ".join(tokens) + " ", op["a"], op.get("b")
    word = re.compile(rf"(?<= ){re.escape(a)}(?= )")
    name = op["name"]
    if name == "replace":
        text = word.sub(b, text)
    elif name == "insert_before":
        text = word.sub(f"{b} {a}", text)
    elif name == "insert_after":
        text = word.sub(f"{a} {b}", text)
    elif name == "delete":
        text = word.sub("", text)
    elif name == "upper":
        text = word.sub(a.upper(), text)
    elif name == "count":
        return str(len(word.findall(text)))
    elif name == "swap":
        text = text.replace(f" {a} ", " \0 ").replace(f" {b} ", f" {a} ").replace(" \0 ", f" {b} ")
    elif name == "extract":
        start, end = text.index(f" {a} "), text.index(f" {b} ")
        text = text[start : end + len(b) + 2]
    return " ".join(text.split())


def split_tokens(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]", text)


def pydoc_documents(n: int) -> list[dict]:
    return [{"id": f"pydoc:{k}", "text": v} for k, v in sorted(topics.topics.items())[:n]]


def test_generated_chains_are_right_and_read_naturally():
    gen = SifoChainGenerator(SifoChainConfig(chains_per_document=6), run_seed=3)
    out = [gen.run_shard(s) for s in gen.plan_shards(pydoc_documents(60))]
    kept = [r for o in out for r in o.kept]
    assert len(kept) > 200
    names = set()
    for rec in kept:
        meta = rec["meta"]
        state = split_tokens(rec["input"])  # the records keep the source's spacing; the reference works on tokens
        for op, expected in zip(meta["ops"], meta["step_outputs"]):
            assert reference(state, op) == " ".join(split_tokens(expected)), (rec["input"], op)
            state = split_tokens(expected)
            names.add(op["name"])
        assert parse_transcript(rec["output"]) == meta["step_outputs"]
        texts = [rec["input"], *meta["step_outputs"]]
        assert len(set(texts)) == len(texts), "no step brings back an earlier text"
        assert check_record(rec) == []
        steps = rec["instruction"].split(" and then ")
        assert len(steps) == meta["chain_length"] == len(meta["ops"])
        assert steps[0].startswith(("In the sentence,", "From the sentence,"))
        assert all("the result" in s for s in steps[1:])
        assert rec["model"] == "none" and rec["sampling"] is None and score_record(rec, rec["output"]).depth == len(steps)
    assert names == {"replace", "insert_before", "insert_after", "delete", "upper", "swap", "extract", "count"}
    assert len({r["id"] for r in kept}) == len(kept)


def test_tokenize_and_render_keep_the_source_spacing():
    sentence = "Its built-in names (longer than 255 characters), e.g. os.path, are kept."
    tokens = tokenize(sentence)
    assert tokens == ["its", "built", "-", "in", "names", "(", "longer", "than", "255", "characters", ")", ",",
                      "e", ".", "g", ".", "os", ".", "path", ",", "are", "kept", "."]  # fmt: skip
    assert render(tokens) == sentence.lower()
    assert render(Op("delete", "names").apply(tokens)) == "its built-in (longer than 255 characters), e.g. os.path, are kept."
    assert render(Op("replace", "in", "out").apply(tokens)).startswith("its built-out names (")
    assert render(Op("insert_before", "in", "new").apply(tokens)).startswith("its built-new in names (")
    assert render(Op("insert_after", "characters", "long").apply(tokens)).endswith("255 characters long), e.g. os.path, are kept.")
    assert render(Op("upper", "path").apply(tokens)).endswith("os.PATH, are kept.")
    assert render(Op("swap", "longer", "kept").apply(tokens)) == "its built-in names (kept than 255 characters), e.g. os.path, are longer."
    assert render(Op("extract", "longer", "characters").apply(tokens)) == "longer than 255 characters"
    assert Op("replace", tokens[1], "made").to_dict() == {"name": "replace", "a": "built", "b": "made"}
    assert type(Op("delete", tokens[1]).a) is str


def test_sentences_are_whole_and_operands_are_whole_words():
    text = ("Objects should be reflexive (i.e. equal to themselves), e.g. for lists.  A second one here.\n"
            "Half a parenthesis (like this.  Then it closes).  Use os.path and built-in names freely.")  # fmt: skip
    assert split_sentences(text) == [
        "Objects should be reflexive (i.e. equal to themselves), e.g. for lists.", "A second one here.",
        "Use os.path and built-in names freely."]  # fmt: skip
    tokens = tokenize("Use os.path and built-in names freely, i.e. often.")
    assert operand_words(tokens) == ["and", "freely", "names", "often", "use"]


def test_records_quote_the_source_text_untokenized():
    gen = SifoChainGenerator(SifoChainConfig(chains_per_document=2), run_seed=4)
    docs = pydoc_documents(40)
    kept = [r for s in gen.plan_shards(docs) for r in gen.run_shard(s).kept]
    sources = {d["id"]: " ".join(d["text"].lower().split()) for d in docs}
    assert len(kept) > 40
    for rec in kept:
        assert rec["input"] in sources[rec["source_id"]], rec["input"]  # the sentence exactly as the document has it
        assert rec["meta"]["sentence"] == rec["input"]
        for text in (rec["input"], *rec["meta"]["step_outputs"]):
            assert not re.search(r"\w - \w| [,.;:)]|\( ", text), text  # no re-joined tokens: `built - in`, `x ,`, `( y`


def test_deterministic_across_sharding_and_rejects_keep_reasons():
    docs = pydoc_documents(20) + [{"id": "empty", "text": "x = f(y)  # no prose here"}]
    one = SifoChainGenerator(SifoChainConfig(shard_size=100), 5)
    many = SifoChainGenerator(SifoChainConfig(shard_size=3), 5)
    a = [r for s in one.plan_shards(docs) for r in one.run_shard(s).kept]
    b = [r for s in many.plan_shards(docs) for r in many.run_shard(s).kept]
    assert [r["id"] for r in a] == [r["id"] for r in b] and a == b
    rejects = [r for s in one.plan_shards(docs) for r in one.run_shard(s).rejects]
    assert {r["source_id"] for r in rejects if r["reject_reason"] == "no_sentence"} >= {"empty"}
    with pytest.raises(ValueError, match="no source documents"):
        one.plan_shards([])


def test_checker_scores_known_answers():
    gold = ["the DOG sat", "the DOG", "2"]
    assert score_chain(render_transcript(["the dog sat", "the DOG", "2"]), gold, fold_case=False).steps == [False, True, True]
    assert score_chain(render_transcript(["the dog sat", "the DOG", "2"]), gold).depth == 3
    spaced = score_chain(["  the DOG   sat ", "the DOG", "3"], gold, fold_case=False)
    assert spaced.steps == [True, True, False] and spaced.depth == 2 and not spaced.correct
    lenient = score_chain(["I think: the dog sat.", "x", "answer 2"], gold)
    assert lenient.lenient == [True, False, True] and lenient.steps == [False, False, False]
    broken = score_chain("the dog sat", gold)
    assert broken.depth == 0 and broken.parse_error and not any(broken.steps)
    assert score_chain(["the dog sat"], gold).steps == [True, False, False]  # missing steps are wrong


def test_case_changing_chains_are_scored_case_sensitively():
    rec = {"meta": {"ops": [{"name": "upper", "a": "cat"}], "step_outputs": ["the CAT sat ."]}}
    assert not score_record(rec, ["the cat sat ."]).correct
    assert score_record(rec, "Task 1 output: the CAT sat .").correct


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="unknown operations 'shout'"):
        SifoChainConfig(ops=["replace", "shout"])
    with pytest.raises(ValueError, match="count can only end a chain"):
        SifoChainConfig(ops=["count"])
    with pytest.raises(ValueError, match="lengths"):
        SifoChainConfig(lengths=[1])
    cfg = SifoChainConfig(lengths=[3, 2])
    assert SifoChainConfig.model_validate(cfg.model_dump()).lengths == [2, 3]


def test_default_curation_rules_keep_chain_transcripts():
    from filters.rules import RulesConfig
    from filters.scan import rule_verdict

    gen = SifoChainGenerator(SifoChainConfig(chains_per_document=3), 1)
    kept = [r for s in gen.plan_shards(pydoc_documents(200)) for r in gen.run_shard(s).kept]
    verdicts = [rule_verdict(r, RulesConfig()) for r in kept]
    # transcripts say "Task N output" and restate the text per step: neither is a leak or a degenerate loop
    assert [v for v in verdicts if v and v[0] in ("template_leak", "repetitive")] == []
    looping = {**kept[0], "output": render_transcript(["to be or not " * 10, "x"])}
    assert rule_verdict(looping, RulesConfig())[0] == "repetitive"  # a loop inside one step still counts
