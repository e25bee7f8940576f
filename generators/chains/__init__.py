"""Chain generators (spec §3, §3b): one instruction made of several subtasks, every step shown.

- `coi` (`CoiGenerator`): LLM-composed Chain-of-Instructions from a task library
  (SNI files, YAML, other generators' records via `from_generators`).
- `sifo_chain` (`SifoChainGenerator`): verifiable text-operation chains over
  source documents, computed without an LLM; `score_record` grades a model.
Protocol strings (joiner, transcript markers) live in `transcript`.
"""

from generators.chains.checker import ChainScore, score_chain, score_record
from generators.chains.coi import CoiGenerator
from generators.chains.config import COI_REJECT_CODES, SIFO_REJECT_CODES, CoiConfig, SifoChainConfig
from generators.chains.library import ChainTask
from generators.chains.sifo import SifoChainGenerator
from generators.chains.transcript import JOINER, check_record, join_instructions, parse_transcript, render_transcript

__all__ = [
    "CoiGenerator", "CoiConfig", "SifoChainGenerator", "SifoChainConfig", "ChainTask", "COI_REJECT_CODES",
    "SIFO_REJECT_CODES", "JOINER", "join_instructions", "render_transcript", "parse_transcript", "check_record",
    "ChainScore", "score_chain", "score_record",
]  # fmt: skip
