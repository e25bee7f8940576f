"""Generators: turn sources into candidate records (kept and rejected).

Every generator implements `generators.base.Generator`; `REGISTRY` maps the
`method` name used in run configs to the class, imported lazily so that a
symbolic generator never imports vLLM.
"""

from generators.base import Generator, ShardOutput, load_generator_class

REGISTRY = {
    "bonito": "generators.bonito:BonitoGenerator",
    "self_guide": "generators.self_guide:SelfGuideGenerator",
    "sql_exec": "generators.sql:SqlExecGenerator",
    "coi": "generators.chains:CoiGenerator",
    "sifo_chain": "generators.chains:SifoChainGenerator",
}

__all__ = ["Generator", "ShardOutput", "REGISTRY", "load_generator_class"]
