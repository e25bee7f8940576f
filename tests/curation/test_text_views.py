import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from filters.exact import exact_key
from filters.text_views import norm, prompt_view, response_view

from curation_helpers import rec


def test_norm_vectors():
    assert norm("  Hello\u00a0 WORLD\n") == "hello world"
    assert norm("\ufb01le") == "file"
    assert norm("Straße") == "strasse"
    assert norm("Tab\tand\r\nnewline") == "tab and newline"
    assert norm("ＡＢＣ１２３") == "abc123"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_norm_is_idempotent(text):
    assert norm(norm(text)) == norm(text)


def test_sha256_and_pair_key():
    assert hashlib.sha256(b"hello world").hexdigest() == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    record = rec("What is 2+2?", "4")
    assert exact_key(record) == "bef4c8d0b1b70d4f51c7a2ca37cb1edf56e4e6d730d5098596a38f9f18738915"
    assert exact_key(record, "prompt") == hashlib.sha256(b"what is 2+2?").hexdigest()


def test_alpaca_and_chat_views():
    assert prompt_view(rec("Do it", "ok", input="data")) == "Do it\ndata"
    assert prompt_view(rec("Do it", "ok")) == "Do it"
    chat = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]}
    assert prompt_view(chat) == "S\nU"
    assert response_view(chat) == "A"
    assert prompt_view({"instruction": None, "input": None}) == ""
    assert response_view({"output": b"\xff\xfe"}) == "\ufffd\ufffd"


def test_multi_turn_key_keeps_roles():
    a = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "x"}, {"role": "user", "content": "More"}, {"role": "assistant", "content": "y"}]}
    b = {"messages": [{"role": "user", "content": "Hi\nMore"}, {"role": "assistant", "content": "y"}]}
    assert exact_key(a) != exact_key(b)
    assert exact_key(a) == exact_key({"messages": [{"role": "user", "content": " HI "}] + a["messages"][1:]})
