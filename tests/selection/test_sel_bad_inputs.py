"""Issue 9: non-finite embeddings and non-string content end in a clear error or a reject with a reason."""

import numpy as np
import pytest

from selection import SelectionConfig, select
from selection.formats import split_valid, to_format
from selection.greedy import farthest_point
from selection.kernels import NonFiniteError, cosine_kernel, knn_graph
from selection.submodular import DisparitySum, FacilityLocation, GraphCut


def _data(n=12, d=6):
    rng = np.random.default_rng(3)
    emb = rng.standard_normal((n, d)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    records = [{"id": f"r{i}", "method": "gen", "instruction": f"item {i}", "output": "x", "meta": {"task": f"t{i % 2}"}} for i in range(n)]
    return records, emb


METHODS = ["facility_location", "graph_cut", "logdet", "disparity_sum", "disparity_min", "smart"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_embeddings_name_rows_and_ids(method, bad):
    records, emb = _data()
    emb[3, 1] = bad
    emb[7] = bad
    with pytest.raises(NonFiniteError, match=r"2 of 12 rows hold NaN or inf: rows 3, 7 \(ids: r3, r7\)") as info:
        select(records, emb, SelectionConfig(method=method, budget=4))
    assert info.value.rows == [3, 7]


def test_non_finite_inputs_to_the_building_blocks_raise():
    _, emb = _data()
    emb[5] = np.nan
    # before: FacilityLocation greedy returned [] silently, GraphCut/DisparitySum failed inside argmax
    with pytest.raises(NonFiniteError, match="facility location kernel"):
        FacilityLocation(cosine_kernel(emb))
    with pytest.raises(NonFiniteError, match=r"rows 5$"):
        GraphCut(embeddings=emb)
    with pytest.raises(NonFiniteError, match=r"rows 5$"):
        DisparitySum(embeddings=emb)
    with pytest.raises(NonFiniteError, match=r"rows 5$"):
        farthest_point(embeddings=emb, k=3)
    with pytest.raises(NonFiniteError, match=r"rows 5$"):
        knn_graph(emb, 4)


def test_finite_embeddings_still_select():
    records, emb = _data()
    assert len(select(records, emb, SelectionConfig(method="facility_location", budget=4)).indices) == 4


# ---- export: non-string content ------------------------------------------------------------------------
BAD_RECORDS = [
    ({"id": "int-output", "method": "m", "instruction": "Add 2 and 3.", "input": "", "output": 5}, "non_string_content", {"turn": 1, "type": "int"}),
    ({"id": "zero-output", "method": "m", "instruction": "Count.", "output": 0}, "non_string_content", {"turn": 1, "type": "int"}),
    ({"id": "list-input", "method": "m", "instruction": "Sum:", "input": [1, 2], "output": "3"}, "non_string_content", {"turn": 0, "type": "list"}),
    (
        {"id": "parts", "method": "m", "meta": {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}, {"role": "assistant", "content": "Hello"}]}},
        "non_string_content", {"turn": 0, "type": "list"},
    ),
    ({"id": "strings", "method": "m", "meta": {"messages": ["Hi", "Hello"]}}, "message_not_object", {"turn": 0, "type": "str"}),
    ({"id": "not-list", "method": "m", "meta": {"messages": "Hi"}}, "messages_not_list", {"type": "str"}),
    ({"id": "role", "method": "m", "meta": {"messages": [{"role": 1, "content": "Hi"}, {"role": "assistant", "content": "x"}]}}, "non_string_role", {"turn": 0, "type": "int"}),
]


def test_split_valid_rejects_non_string_content_with_reason():
    good = {"id": "ok", "method": "m", "instruction": "Add 2 and 3.", "output": "5"}
    kept, rejected = split_valid([good] + [r for r, _, _ in BAD_RECORDS])
    assert [r["id"] for r in kept] == ["ok"]
    got = [(r["id"], r["reject_reason"], r["reject_stage"], r["meta"]["curation"]["detail"]) for r in rejected]
    assert got == [(r["id"], reason, "export", detail) for r, reason, detail in BAD_RECORDS]


@pytest.mark.parametrize("record, reason, _detail", BAD_RECORDS)
@pytest.mark.parametrize("fmt", ["messages", "prompt_completion", "alpaca", "sharegpt"])
def test_to_format_raises_a_value_error_with_the_reason(record, reason, _detail, fmt):
    with pytest.raises(ValueError, match=f"record {record['id']!r} is not exportable: {reason}"):
        to_format([record], fmt)
