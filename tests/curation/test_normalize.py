"""Issue 9: one normalization for exact dedup, MinHash, decontamination and the rules."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filters.decontaminate import DecontaminationConfig, EvalIndex, EvalSet
from filters.exact import exact_key
from filters.jsonl import read_jsonl
from filters.minhash import MinHashConfig, dedup_texts, jaccard, shingles
from filters.normalize import norm, symbol_ratio, tokens
from filters.rules import RulesConfig, check_record

from curation_helpers import rec, run_curate

HINDI = "भारत की राजधानी नई दिल्ली है और यह एक बहुत बड़ा शहर है।"
TAMIL = "தமிழ்நாட்டின் தலைநகரம் சென்னை ஆகும், அது ஒரு பெரிய நகரம்."
INVISIBLE = ("\u200b", "\u00ad", "\ufeff", "\u2060", "\u200d")


# ---- the normal form ---------------------------------------------------------------------------------
def test_super_and_subscripts_keep_their_meaning():
    assert norm("x²") == "x²" != norm("x2")
    assert norm("H₂O") == "h₂o" != norm("H2O")
    assert norm("10⁵ Pa") != norm("105 Pa")
    assert exact_key(rec("Simplify x² + x²", "2x²")) != exact_key(rec("Simplify x2 + x2", "2x2"))


def test_presentation_variants_fold():
    assert norm("ＡＢＣ１２３") == "abc123"  # full-width
    assert norm("\ufb01le") == "file"  # ligature
    assert norm("𝐱 + 𝐲") == "x + y"  # math bold letters
    assert norm("ﾃｽﾄ") == norm("テスト")  # half-width katakana
    assert norm("Straße") == "strasse"


@pytest.mark.parametrize("mark", INVISIBLE)
def test_invisible_characters_make_no_difference(mark):
    text = "What is the capital of France?"
    spiked = mark + text.replace("capital", f"cap{mark}ital").replace(" of", f"{mark} of")
    assert norm(spiked) == norm(text)
    assert exact_key(rec(spiked, "Paris")) == exact_key(rec(text, "Paris"))


def test_combining_marks_are_kept():
    assert norm("दिन") != norm("दान")
    assert tokens("दिन और रात") == ["दिन", "और", "रात"]  # vowel signs stay inside their word
    assert norm("e\u0301") == "é"  # canonical composition still applies


def test_exact_dedup_in_the_pipeline():
    records = [rec("Expand (a+b)²", "a² + 2ab + b²"), rec("Expand (a+b)2", "a2 + 2ab + b2"), rec("\ufeffExpand (a+b)²", "a² + 2ab\u200b + b²")]
    _, kept, rejects = run_curate([records], {"minhash": {"enabled": False}})
    assert [r["id"] for r in kept] == [records[0]["id"], records[1]["id"]]
    assert [(r["id"], r["reject_reason"]) for r in rejects] == [(records[2]["id"], "exact_dup")]
    assert rejects[0]["meta"]["curation"]["detail"]["dup_of"] == records[0]["id"]


# ---- MinHash ------------------------------------------------------------------------------------------
def test_minhash_keeps_operators_digits_and_marks():
    plus, minus = "Compute 1234 + 5678.", "Compute 1234 - 5678."
    assert jaccard(shingles(plus), shingles(minus)) == pytest.approx(11 / 21)  # 5 of 16 shingles differ on each side
    assert dedup_texts([plus, minus], MinHashConfig())[0].tolist() == [0, 1]
    assert shingles("दिन") != shingles("दान")
    assert dedup_texts(["दिन", "दान"], MinHashConfig())[0].tolist() == [0, 1]


def test_minhash_sees_through_invisible_characters():
    text = "Write a haiku about the first snow in the mountains."
    spiked = "\ufeff" + "\u200b".join(text)  # a zero-width space between every character
    assert dedup_texts([text, spiked], MinHashConfig())[0].tolist() == [0, 0]


# ---- rules F9 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [HINDI, TAMIL])
def test_f9_passes_indic_scripts(answer):
    old_ratio = sum(not c.isalnum() for c in answer if not c.isspace()) / sum(not c.isspace() for c in answer)
    assert old_ratio > 0.25  # what F9 used to see: vowel signs counted as symbols
    assert symbol_ratio(answer)[0] < 0.1
    assert check_record(rec("Q?", answer), RulesConfig()) == []


@pytest.mark.parametrize(
    "answer",
    ["2016-12-31 23:00:00+00:00", "2016-12-31T23:00:00.000+00:00", "2016-12-31 23:00:00+00:00 | 2017-01-01 00:00:00+00:00", "1,234,567.89 / 2,000.5"],
)
def test_f9_passes_dates_and_numbers(answer):
    assert check_record(rec("When?", answer), RulesConfig()) == []


def test_f9_still_rejects_symbol_noise():
    assert check_record(rec("Q?", "if (a[i] > b[j]) { c[k] = *p++; }"), RulesConfig())[0][0] == "symbol_heavy"
    assert check_record(rec("Q?", "!!! ??? ### @@@ $$$ %%% ^^^ &&& ***"), RulesConfig())[0][0] == "symbol_heavy"
    assert symbol_ratio("abcdefghijklmno!!!!!") == (0.25, 20)


# ---- decontamination ----------------------------------------------------------------------------------
EVAL_PROMPT = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."


def _index(*prompts, **cfg) -> EvalIndex:
    return EvalIndex.build(DecontaminationConfig(evals=[EvalSet(name="ev", prompts=list(prompts))], **cfg))


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


def test_full_width_and_zero_width_copies_are_caught():
    index = _index(EVAL_PROMPT)
    assert index.match(_full_width(EVAL_PROMPT)) == [(0, 1.0)]
    assert index.match("\u200b".join(EVAL_PROMPT)) == [(0, 1.0)]  # a zero-width space between every character
    assert index.match(EVAL_PROMPT.replace(" ", "\u00ad ")) == [(0, 1.0)]


def test_short_eval_prompts_match_as_token_sequences():
    index = _index("What is 2+2?")  # 6 tokens < n = 8
    assert index.match("what is 2 + 2 ?") == [(0, 1.0)]  # not equal as strings, equal as tokens
    assert index.match(_full_width("What is 2+2?")) == [(0, 1.0)]
    assert index.match("What is 2+2? Answer briefly.") == [(0, 1.0)]  # 6 of 9 tokens
    assert index.match("Before you answer, think about what is 2+2? and other sums a child learns at school") == []
    assert index.match("What is 2+3?") == []
    assert _index("   ").match("anything") == []


# ---- JSONL readers -------------------------------------------------------------------------------------
def test_eval_jsonl_with_line_separators_inside_strings(tmp_path):
    rows = [{"prompt": "First line\u2028second line of one prompt"}, {"prompt": "Next\u0085line"}, {"prompt": EVAL_PROMPT}]
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows), encoding="utf-8")
    assert read_jsonl(path) == rows
    index = EvalIndex.build(DecontaminationConfig(evals=[EvalSet(name="ev", path=str(path))]))
    assert index.sizes == {"ev": 3}
    assert index.match(EVAL_PROMPT) == [(2, 1.0)]
    text = tmp_path / "eval.txt"
    text.write_text("one\u2028prompt\nother\n", encoding="utf-8")
    assert EvalIndex.build(DecontaminationConfig(evals=[EvalSet(name="t", path=str(text))])).sizes == {"t": 2}


def test_bad_jsonl_lines_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"prompt": "ok"}\n\n{"prompt": oops}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:3:12: invalid JSON"):
        read_jsonl(path)
    path.write_bytes(b'{"prompt": "ok"}\n{"prompt": "\xff"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: not valid UTF-8"):
        read_jsonl(path)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_symbol_ratio_ascii_fast_path_matches_the_unicode_path(text):
    # appending "é" sends the text down the regex path and adds one letter
    ratio, chars = symbol_ratio(text + "é")
    ascii_ratio, ascii_chars = symbol_ratio(text)
    assert chars == ascii_chars + 1
    assert ratio * chars == pytest.approx(ascii_ratio * ascii_chars)


def test_eval_items_that_are_not_objects_or_strings_are_named(tmp_path):
    path = tmp_path / "ev.jsonl"
    path.write_text('{"prompt": "fine"}\n[{"a": 1}, {"b": 2}]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"evals\['ev'\] item 1: expected an object or a string, got list"):
        EvalIndex.build(DecontaminationConfig(evals=[EvalSet(name="ev", path=str(path))]))
