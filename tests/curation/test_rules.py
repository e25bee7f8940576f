import pytest

from filters.rules import RulesConfig, check_record, line_dup_fraction, non_alnum_ratio, trigram_dup_fraction
from filters.scan import rule_verdict

from curation_helpers import rec

CFG = RulesConfig()


def reason(response: str, prompt: str = "Q?", cfg: RulesConfig = CFG, **fields) -> str | None:
    verdict = rule_verdict(rec(prompt, response, **fields), cfg)
    return None if verdict is None else verdict[0]


WORDS_32 = " ".join(f"w{i}" for i in range(20)) + " a b c" * 4
CODE = "if (a[i] > b[j]) { c[k] = *p++; }"


@pytest.mark.parametrize(
    "response, expected",
    [
        ("", "empty_response"),
        ("4", None),
        ("No.", None),
        ("abcdefghijklmno!!!!!", None),
        ("abcdefghijklmno!!!!!!", "symbol_heavy"),
        (CODE, "symbol_heavy"),
        ("```\n" + CODE + "\n```", None),
        ("yes " * 40, "repetitive"),
        (WORDS_32, None),
        ("a\nb\na\na\nc", "repetitive"),
        ("Here: {{context}}", "template_leak"),
        ("Answer\nASSISTANT: more", "role_leak"),
        ("ok \ufffd", "bad_unicode"),
        ("```python\nprint(1)\n", "unbalanced_fence"),
    ],
)
def test_spec_vectors(response, expected):
    assert reason(response) == expected


@pytest.mark.parametrize("response", ["46, 52, 54, 56, 58, 62, 64, 68", "-0.5, 1.25e3, 17%, +3, 2001, 12.75"])
def test_number_lists_are_data_not_symbol_noise(response):
    assert non_alnum_ratio(response)[0] > 0.25  # would trip F9 on the ratio alone
    assert reason(response) is None


def test_computed_values():
    assert non_alnum_ratio("No.") == (pytest.approx(1 / 3), 3)
    assert non_alnum_ratio("abcdefghijklmno!!!!!") == (0.25, 20)
    assert non_alnum_ratio("abcdefghijklmno!!!!!!")[0] == pytest.approx(0.2857, abs=1e-4)
    ratio, chars = non_alnum_ratio(CODE)
    assert chars == 25 and ratio == pytest.approx(0.64)
    assert trigram_dup_fraction("yes " * 40)[0] == pytest.approx(0.9737, abs=1e-4)
    assert trigram_dup_fraction(WORDS_32) == (pytest.approx(0.2333, abs=1e-4), 32)
    assert line_dup_fraction("a\nb\na\na\nc") == (pytest.approx(0.4), 5)


def test_echo_truncated_and_empty_prompt():
    assert reason("  what IS\tthe answer? ", prompt="What is the answer?") == "echo"
    assert reason("Fine answer.", finish_reason="length") == "truncated"
    assert reason("Fine answer.", finish_reason="stop") is None
    assert reason("Fine answer.", prompt="   ") == "empty_prompt"


def test_template_and_role_leaks():
    assert reason("<|tasktype|> summary") == "template_leak"
    assert reason("x", prompt="[input] = foo") == "template_leak"
    assert reason("See Task 2 output above.") == "template_leak"
    assert reason("See Task 2 output above.", method="chain") is None  # CoI records legitimately say it
    assert reason("fine <|im_start|>user") == "role_leak"
    assert reason("### Response: hi") == "role_leak"
    assert reason("The USER: field is optional") is None  # not at a line start


def test_refusal_and_chatter():
    assert reason("I'm sorry, but I can't help with that.") == "refusal"
    assert reason("As an AI language model, I think so.") == "refusal"
    assert reason("I\u2019m unable to assist with this request.") == "refusal"
    assert reason("As an AI language model, I think so.", cfg=RulesConfig(refusal=False)) is None
    assert reason("Sure! The answer is 4.") is None  # chatter is off by default
    chatter = RulesConfig(chatter=True)
    assert reason("Sure! The answer is 4.", cfg=chatter) == "chatter"
    assert reason("It is 4. Sure!", cfg=chatter) == "chatter"  # Self-Guide parity: anywhere
    assert reason("It is 4. Sure!", cfg=RulesConfig(chatter=True, chatter_match="prefix")) is None


def test_length_bounds():
    assert reason("word " * 5000) == "too_long"
    small = RulesConfig(max_prompt_tokens=3, max_response_tokens=3, max_seq_len=5)
    assert reason("a b c", prompt="x y z", cfg=small) == "too_long"  # 6 > max_seq_len
    assert reason("a b", prompt="x y z", cfg=small) is None
    assert reason("a b c d", cfg=small) == "too_long"
    assert reason("12345", cfg=RulesConfig(max_response_chars=4)) == "too_long"
    assert reason("1", cfg=RulesConfig(min_response_chars=2)) == "too_short"
    verdict = rule_verdict(rec("Q?", "word " * 5000), CFG)
    assert verdict[1] == {"field": "response", "tokens": 5000, "max": 4096}


def test_long_token_and_control_chars():
    assert reason("x" * 1001) == "long_token"
    assert reason("x" * 1000) is None
    assert reason("nul \x00 byte") == "bad_unicode"
    assert reason("tabs\tand\r\nnewlines are fine") is None
    assert reason("ok", prompt="bad \x07 bell") == "bad_unicode"
    assert reason("lone \ud800 surrogate") == "bad_unicode"


def test_all_reasons_lists_every_failure():
    record = rec("Q?", "x" * 1001 + " \ufffd ```")
    assert [r for r, _ in check_record(record, CFG)] == ["long_token"]
    verdict = rule_verdict(record, RulesConfig(all_reasons=True))
    assert verdict[0] == "long_token"
    assert verdict[1]["all_reasons"] == ["long_token", "bad_unicode", "unbalanced_fence"]


def test_language_check():
    pytest.importorskip("py3langid")
    cfg = RulesConfig(expected_lang="en")
    assert reason("This is a perfectly ordinary English answer about cats.", cfg=cfg) is None
    assert reason("Das ist eine ganz gewöhnliche deutsche Antwort über Katzen.", cfg=cfg) == "wrong_language"
    assert reason("Kurz.", cfg=cfg) is None  # under lang_min_chars


def test_bad_input_never_raises():
    junk = bytes(range(256)).decode("latin-1")
    records = [
        {"id": "a", "method": "t", "instruction": None, "input": None, "output": None},
        {"id": "b", "method": "t", "instruction": "Q", "input": None, "output": junk},
        {"id": "c", "method": "t", "instruction": "Q", "input": "", "output": "y" * 1_000_000},
        {"id": "d", "method": "t", "instruction": "a " * 500_000, "input": "", "output": "ok"},
        {"id": "e", "method": "t", "instruction": b"\xff\x00bytes", "output": "ok"},
        {"id": "f", "method": "t", "instruction": 12345, "output": ["not", "text"]},
    ]
    reasons = [rule_verdict(r, CFG) for r in records]
    # the 256-byte junk is caught by the symbol rule first (table order); str() of a list is just text
    assert [v[0] if v else None for v in reasons] == ["empty_prompt", "symbol_heavy", "too_long", "too_long", "bad_unicode", None]


def test_duplicate_ngram_fraction_catches_clause_loops():
    """F10c: a summary looping on clauses (demo export, issue 10) has few repeated trigrams overall
    but a large share of its characters inside repeated 5-grams."""
    from filters.rules import dup_ngram_char_fraction

    looping = (
        "The class definition is a compilation of the class definition, which is then compiled into a new class "
        "definition, and the class definition is then compiled into a new class definition, and so on until the "
        "last class definition is compiled. The class definition is then returned to the original class definition "
        "list. The class definition is returned to the original class definition list."
    )
    share = dup_ngram_char_fraction(looping, 5)
    assert 0.3 < share < 0.4
    verdict = rule_verdict(rec("Summarize.", looping), CFG)
    assert verdict == ("repetitive", {"dup_ngram_char_fraction": round(share, 4), "n": 5})
    # only the repeats count, not the first occurrence: "a b c d e" said twice in 10 words is half
    assert dup_ngram_char_fraction("a b c d e a b c d e", 5) == 0.5
    assert dup_ngram_char_fraction("one two three four", 5) == 0.0
    fine = (
        "A class definition is an executable statement. Its suite runs in a new execution frame with a fresh "
        "local namespace, and the class object is then created from the inheritance list and that namespace."
    )
    assert dup_ngram_char_fraction(fine, 5) == 0.0 and reason(fine, "Summarize.") is None
