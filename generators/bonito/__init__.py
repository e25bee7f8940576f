"""Bonito-style conditional task generation (spec: generators.md, Bonito section).

`protocol.py` holds the byte-exact Bonito prompt and parser, `prompted.py` the chat
prompt for instruct models, `generator.py` the generator that drives both.
"""

from generators.bonito.generator import BonitoConfig, BonitoGenerator, BonitoTask, is_protocol_mode

__all__ = ["BonitoConfig", "BonitoGenerator", "BonitoTask", "is_protocol_mode"]
