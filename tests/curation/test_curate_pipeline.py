import pickle

import pyarrow as pa
import pytest
from pydantic import ValidationError

from filters import CurationConfig, curate
from taskmill.records import to_table

from curation_helpers import rec, run_curate

PROMPTS = [
    "Summarize the plot of a mystery novel set in Lisbon.",
    "List three uses of baking soda around the house.",
    "Translate 'good morning' into Portuguese and Spanish.",
    "Explain how a binary search works on a sorted array.",
    "Give two arguments for planting urban trees.",
]


class PicklingExecutor:
    """Ships every call through pickle, as a Ray executor would."""

    name = "pickling"

    def __init__(self):
        self.calls = 0

    def map(self, fn, items, *args):
        self.calls += 1
        fn, args = pickle.loads(pickle.dumps((fn, args)))
        return [pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(item)), *args))) for item in items]


def test_dedup_is_global_across_shards():
    shard1 = [rec(p, "An answer.") for p in PROMPTS]
    exact_copy = rec(PROMPTS[1], "An answer.")
    # J = 0.84 with the source: a candidate with P = 0.99 (16x8 bands); "sorted list" (J = 0.79, P = 0.93) was caught only by luck of the hashes
    near_copy = rec(PROMPTS[3].replace("a binary", "binary"), "Another answer.")
    shard2 = [rec("Name a mammal that lays eggs.", "Platypus."), exact_copy, near_copy]
    executor = PicklingExecutor()
    report, kept, rejects = run_curate([shard1, shard2], {"batch_size": 2, "shards_per_round": 1}, executor=executor)
    assert executor.calls == 2  # one scan round per shard
    assert [r["id"] for r in kept] == [r["id"] for r in shard1] + [shard2[0]["id"]]
    by_id = {r["id"]: r for r in rejects}
    assert by_id[exact_copy["id"]]["reject_reason"] == "exact_dup"
    assert by_id[exact_copy["id"]]["meta"]["curation"]["detail"] == {"dup_of": shard1[1]["id"]}
    near = by_id[near_copy["id"]]
    assert (near["reject_reason"], near["reject_stage"]) == ("near_dup", "minhash")
    assert near["meta"]["curation"]["detail"]["dup_of"] == shard1[3]["id"]
    assert near["meta"]["curation"]["detail"]["jaccard"] >= 0.7
    assert [(f.stage, f.seen, f.kept, f.rejected) for f in report.funnel] == [
        ("rules", 8, 8, {}),
        ("task_form", 8, 8, {}),  # on by default; the generic "test" method has no task type to check
        ("exact", 8, 7, {"exact_dup": 1}),
        ("minhash", 7, 6, {"near_dup": 1}),
        ("semantic", 6, 6, {}),
        ("decontamination", 6, 6, {}),
    ]
    assert report.rejects_by_reason() == {"exact_dup": 1, "near_dup": 1}
    assert report.records_in == 8 and report.records_kept == 6


def test_same_input_same_output():
    shards = [[rec(p, "x") for p in PROMPTS], [rec(p + " Please.", "y") for p in PROMPTS]]
    first = run_curate(shards)
    second = run_curate(shards)
    assert [r["id"] for r in first[1]] == [r["id"] for r in second[1]]
    assert [(r["id"], r["meta"]) for r in first[2]] == [(r["id"], r["meta"]) for r in second[2]]


def test_bad_input_becomes_rejects_not_crashes():
    junk = bytes(range(1, 256)).decode("latin-1")
    records = [
        {"id": "none", "method": "t", "instruction": None, "input": None, "output": None},
        {"id": "junk", "method": "t", "instruction": "Q", "output": junk},
        {"id": "ctrl", "method": "t", "instruction": "Q", "output": "\x00\x01\x02 binary"},
        {"id": "huge", "method": "t", "instruction": "Q", "output": "y " * 500_000},
        {"id": "huge-token", "method": "t", "instruction": "z" * 1_000_000, "output": "ok"},
        {"id": "fine", "method": "t", "instruction": "What is 2+2?", "output": "4"},
    ]
    report, kept, rejects = run_curate([records])
    assert [r["id"] for r in kept] == ["fine"]
    reasons = {r["id"]: (r["reject_reason"], r["reject_stage"]) for r in rejects}
    assert reasons == {
        "none": ("empty_prompt", "rules"),
        "junk": ("symbol_heavy", "rules"),
        "ctrl": ("bad_unicode", "rules"),
        "huge": ("too_long", "rules"),
        "huge-token": ("too_long", "rules"),
    }
    assert all(r["meta"]["curation"]["stage"] == "rules" for r in rejects)
    # with the rules off the dedup stages still take the odd records in their stride
    report, kept, rejects = run_curate([records], {"rules": {"enabled": False}})
    assert len(kept) + len(rejects) == len(records)


def test_every_record_lands_in_exactly_one_sink():
    records = [rec(p, "A fine answer.") for p in PROMPTS] * 3 + [rec("", "x"), rec("Q?", "")]
    report, kept, rejects = run_curate([records[:7], records[7:12], records[12:]], {"batch_size": 3})
    assert len(kept) + len(rejects) == len(records) == report.records_in
    assert sum(report.rejects_by_reason().values()) == len(rejects)
    assert all(r["reject_reason"] and r["reject_stage"] and "curation" in r["meta"] for r in rejects)
    assert all(r["reject_reason"] is None for r in kept)


def test_shards_must_replay_the_same_input():
    tables = [to_table([rec(p, "x") for p in PROMPTS]), to_table([rec(p, "x") for p in PROMPTS])]
    calls = []

    def shards():
        calls.append(1)
        return iter(tables if len(calls) == 1 else tables[:1] + [tables[1].slice(0, 2)])

    with pytest.raises(RuntimeError, match="changed between passes"):
        curate(shards, write_kept=lambda t: None, write_rejects=lambda t: None)


def test_empty_input_and_disabled_stages():
    report, kept, rejects = run_curate([])
    assert report.records_in == 0 and not kept and not rejects
    off = {s: {"enabled": False} for s in ("rules", "task_form", "exact", "minhash")}
    records = [rec("Same", "same"), rec("Same", "same")]
    report, kept, rejects = run_curate([records], off)
    assert len(kept) == 2 and [f.enabled for f in report.funnel] == [False, False, False, False, False]


def test_config_errors_name_the_field():
    with pytest.raises(ValidationError, match="minhash.threshhold"):
        CurationConfig.model_validate({"minhash": {"threshhold": 0.8}})
    with pytest.raises(ValidationError, match="rules.symbol_max"):
        CurationConfig.model_validate({"rules": {"symbol_max": 2}})
    with pytest.raises(ValidationError, match="exact.mode"):
        CurationConfig.model_validate({"exact": {"mode": "response"}})
    assert CurationConfig().semantic.enabled is False and CurationConfig().minhash.band_rows() == (16, 8)


def test_report_serializes():
    report, _, _ = run_curate([[rec(p, "x") for p in PROMPTS]])
    as_dict = report.to_dict()
    assert as_dict["funnel"][0]["stage"] == "rules" and "rejects_by_reason" in as_dict
    pa.Table.from_pylist(as_dict["funnel"])  # tabular for the flow's artifacts


def test_symbolic_sql_tasks_skip_near_dup_but_not_exact_dup():
    table = "| a | b |\n" + "".join(f"| row{i} | {i} |\n" for i in range(40))
    first = rec(table + "Run: select a where b = 1", "row1", method="sql_exec")
    second = rec(table + "Run: select a where b = 2", "row2", method="sql_exec")
    again = rec(table + "Run: select a where b = 1", "row1", method="sql_exec")
    chat_a = rec(table + "Run: select a where b = 1", "row1", method="self_guide")
    chat_b = rec(table + "Run: select a where b = 2", "row2", method="self_guide")
    report, kept, rejects = run_curate([[first, second, again, chat_a, chat_b]])
    reasons = {r["id"]: r["reject_reason"] for r in rejects}
    # exact dedup spans methods: the LLM copies of the same (prompt, response) are exact dups
    assert reasons == {again["id"]: "exact_dup", chat_a["id"]: "exact_dup", chat_b["id"]: "exact_dup"}
    # The two distinct queries on the same table both survive (near-dup skips sql_exec) ...
    assert {first["id"], second["id"]} <= {r["id"] for r in kept}
    # ... while the same near-identical pair from an LLM generator is caught by MinHash.
    from filters import CurationConfig

    _, kept2, rejects2 = run_curate([[chat_a, chat_b]], CurationConfig())
    assert [r["reject_reason"] for r in rejects2] == ["near_dup"] and len(kept2) == 1


PASSAGE = (
    "The city library opens at nine in the morning and closes at six in the evening on weekdays. "
    "On Saturdays it closes at two in the afternoon, and it stays closed on Sundays and public holidays."
)
OTHER = (
    "Honey bees collect nectar from flowers and store it in wax cells; fanning their wings evaporates "
    "the water, and the thickened nectar becomes the honey that the colony eats through the winter."
)


def _grounded(passage: str, question: str, answer: str, source: str) -> dict:
    return rec(f"{passage}\n\n{question}", answer, method="bonito", source_id=source, meta={"context": passage})


def test_grounded_tasks_compare_questions_within_their_source():
    different = [_grounded(PASSAGE, "When does the library close on weekdays?", "At six.", "doc-1"),
                 _grounded(PASSAGE, "Is the library open on Sunday?", "No.", "doc-1")]
    repeated = _grounded(PASSAGE, "When does the library close on a weekday?", "Six.", "doc-1")
    elsewhere = _grounded(OTHER, "When does the library close on weekdays?", "It does not say.", "doc-2")
    _, kept, rejects = run_curate([[*different, repeated, elsewhere]], {"task_form": {"enabled": False}})  # MinHash alone
    # different questions about one passage are distinct tasks; the near-repeat is a near-dup of the first
    assert [(r["id"], r["reject_reason"], r["meta"]["curation"]["detail"]["dup_of"]) for r in rejects] == [
        (repeated["id"], "near_dup", different[0]["id"])
    ]
    assert {r["id"] for r in kept} == {different[0]["id"], different[1]["id"], elsewhere["id"]}
    # with grounding off, the shared passage makes the two different questions near-duplicates too
    from filters import CurationConfig

    _, _, rejects_plain = run_curate([different], CurationConfig(minhash={"grounded_methods": []}, task_form={"enabled": False}))
    assert [r["reject_reason"] for r in rejects_plain] == ["near_dup"]


def test_many_small_shards_are_packed_into_batches_and_coalesced_on_write():
    """Bonito writes a shard per two passages: 40 such shards must not cost 40 executor tasks and 40 writes."""
    shards = [[rec(f"{PROMPTS[i % 5]} Case {i}-{j}.", f"Answer {i}-{j}.") for j in range(2)] for i in range(40)]
    executor = PicklingExecutor()
    sizes = []
    inner_map = executor.map
    executor.map = lambda fn, items, *args: (sizes.append([item.num_rows for item in items]), inner_map(fn, items, *args))[1]
    kept_calls = []
    tables = [to_table(s) for s in shards]
    report = curate(
        lambda: iter(tables), {"batch_size": 16, "shards_per_round": 2, "minhash": {"enabled": False}}, executor=executor,
        write_kept=kept_calls.append, write_rejects=lambda t: None,
    )  # fmt: skip
    assert sizes == [[16, 16], [16, 16], [16]]  # rounds of 2 batches of 16 rows, cut across shard ends
    assert [t.num_rows for t in kept_calls] == [16, 16, 16, 16, 16]
    assert [i for t in kept_calls for i in t.column("id").to_pylist()] == [r["id"] for s in shards for r in s]
    assert report.records_kept == 80
