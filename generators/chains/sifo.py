"""SifoChainGenerator: verifiable text-operation chains over real documents, no LLM (spec §3b).

For each document, `chains_per_document` slots; a slot picks one sentence of
the document (lower-cased, tokenized, punctuation as tokens, rendered with its own spacing), a chain length,
and then one operation per step on the previous step's result. Every answer
is computed by `textops`, so the record is correct by construction and
`checker.score_record` can grade a model's transcript step by step.
All draws come from `derive_seed(run_seed, "sifo_chain", doc_id, slot)`:
a slot's chain does not depend on sharding or on where the shard runs.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any, Iterable, Iterator

from generators.base import Generator, ShardOutput
from generators.chains.config import SifoChainConfig
from generators.chains.textops import FINAL_ONLY, NotApplicable, Op, operand_words, render, split_sentences, tokenize
from generators.chains.transcript import join_instructions, render_transcript
from taskmill.engine.base import Engine
from taskmill.records import canonical_json, derive_seed, make_record, reject

METHOD = "sifo_chain"
METHOD_VERSION = "2"  # 2: sentences keep their own spacing, whole sentences, whole-word operands
# Quotes, apostrophes and markup would clash with the quoted operands of the instructions.
_UNSAFE = re.compile(r"[\"'`*_<>{}\[\]\\|=#@$%^~]")


def sentences(text: str, min_tokens: int, max_tokens: int) -> list[list[str]]:
    """Prose sentences of a document as token lists: ASCII, no quotes or markup, mostly words."""
    out = []
    for raw in split_sentences(text):
        if not raw.isascii() or _UNSAFE.search(raw) or not raw.endswith((".", "!", "?")):
            continue
        tokens = tokenize(raw)
        words = [t for t in tokens if t.isalpha()]
        if not min_tokens <= len(tokens) <= max_tokens or len(words) < 0.75 * len(tokens) or len(set(words)) < 4:
            continue
        out.append(tokens)
    return out


def vocabulary(text: str) -> list[str]:
    """Words of the document (3–12 letters) that new words are drawn from, sorted for determinism."""
    return sorted({w for w in re.findall(r"[a-z]+", text.lower()) if 3 <= len(w) <= 12})


def draw_op(rng: random.Random, names: list[str], tokens: list[str], vocab: list[str]) -> Op:
    """A random operation on `tokens`; raises NotApplicable when this draw has no operand."""
    name = rng.choice(names)
    words = operand_words(tokens)
    if not words:
        raise NotApplicable("no words left")
    a = rng.choice(words)
    if name in ("replace", "insert_before", "insert_after"):
        fresh = [w for w in vocab if w not in tokens and w.lower() != a.lower()]
        if not fresh:
            raise NotApplicable("no new word to use")
        return Op(name, a, rng.choice(fresh))
    if name in ("swap", "extract"):
        once = [w for w in words if tokens.count(w) == 1 and w != a]
        if not once:
            raise NotApplicable("no second word that occurs once")
        b = rng.choice(once)
        if name == "extract" and tokens.index(b) < tokens.index(a):
            a, b = b, a  # the span reads left to right
        return Op(name, a, b)
    return Op(name, a)


def build_chain(
    rng: random.Random, tokens: list[str], length: int, names: list[str], vocab: list[str], draws: int
) -> tuple[list[Op], list[str]] | None:
    """`length` applicable operations and each step's output, or None when draws run out."""
    ops: list[Op] = []
    outputs: list[str] = []
    state: list[str] | int = tokens
    seen = {render(tokens)}  # a step that brings back an earlier text (delete what was just inserted) teaches nothing
    for step in range(length):
        allowed = [n for n in names if n not in FINAL_ONLY or step == length - 1]
        for _ in range(draws):
            try:
                op = draw_op(rng, allowed, state, vocab)  # type: ignore[arg-type]
                new_state = op.apply(state)  # type: ignore[arg-type]
            except NotApplicable:
                continue
            if render(new_state) not in seen:
                break
        else:
            return None
        seen.add(render(new_state))
        ops.append(op)
        state = new_state
        outputs.append(render(state))
    return ops, outputs


class SifoChainGenerator(Generator):
    method = METHOD
    Config = SifoChainConfig
    needs_engine = False

    def __init__(self, config: SifoChainConfig, run_seed: int):
        super().__init__(config, run_seed)
        self.config: SifoChainConfig = config

    def plan_shards(self, documents: Iterable[dict]) -> list[list[dict]]:
        """All shards of `iter_shards` as a list (small inputs, tests)."""
        return list(self.iter_shards(documents))

    def iter_shards(self, documents: Iterable[dict]) -> Iterator[list[dict]]:
        """Documents in groups of `shard_size`, in the documents' own (read) order, one group at a time."""
        size = self.config.shard_size
        group: list[dict] = []
        empty = True
        for doc in documents:
            empty = False
            group.append({"id": doc["id"], "text": doc["text"]})
            if len(group) == size:
                yield group
                group = []
        if empty:
            raise ValueError("sifo_chain: no source documents; add a `sources:` section to the run config")
        if group:
            yield group

    def run_shard(self, shard: list[dict], engine: Engine | None = None) -> ShardOutput:
        cfg = self.config
        out = ShardOutput()
        reasons: Counter[str] = Counter()
        for doc in shard:
            pool = sentences(doc["text"], cfg.min_tokens, cfg.max_tokens)
            vocab = vocabulary(doc["text"])
            # slots walk one seeded permutation of the sentences: no sentence twice while others are unused
            order = list(range(len(pool)))
            random.Random(derive_seed(self.run_seed, METHOD, doc["id"])).shuffle(order)
            for slot in range(cfg.chains_per_document):
                seed = derive_seed(self.run_seed, METHOD, doc["id"], slot)
                meta: dict[str, Any] = {"slot": slot}
                if not pool:
                    reasons["no_sentence"] += 1
                    out.rejects.append(self._reject(doc["id"], seed, slot, meta, "no_sentence"))
                    continue
                rng = random.Random(seed)
                tokens = pool[order[slot % len(pool)]]
                length = rng.choice(cfg.lengths)
                built = build_chain(rng, tokens, length, list(cfg.ops), vocab, cfg.draws_per_step)
                meta.update(sentence=render(tokens), chain_length=length)
                if built is None:
                    reasons["ops_exhausted"] += 1
                    out.rejects.append(self._reject(doc["id"], seed, slot, meta, "ops_exhausted"))
                    continue
                ops, outputs = built
                instruction = join_instructions([op.instruction(first=i == 0) for i, op in enumerate(ops)])
                meta.update(ops=[op.to_dict() for op in ops], step_outputs=outputs, intermediate_outputs=outputs[:-1])
                out.kept.append(
                    make_record(
                        method=METHOD, method_version=METHOD_VERSION, source_id=doc["id"], instruction=instruction,
                        input=render(tokens), output=render_transcript(outputs), model="none", sampling=None,
                        prompt=canonical_json([instruction, render(tokens)]), seed=seed, sample_index=slot, meta=meta,
                    )  # fmt: skip
                )
        out.stats = {"documents": len(shard), "candidates": len(shard) * cfg.chains_per_document,
                     "kept": len(out.kept), "rejects": dict(sorted(reasons.items()))}  # fmt: skip
        return out

    def _reject(self, doc_id: str, seed: int, slot: int, meta: dict, reason: str) -> dict:
        record = make_record(
            method=METHOD, method_version=METHOD_VERSION, source_id=doc_id, model="none", sampling=None,
            prompt=canonical_json([doc_id, slot, reason]), seed=seed, sample_index=slot, meta=meta,
        )  # fmt: skip
        return reject(record, reason, stage=METHOD)
