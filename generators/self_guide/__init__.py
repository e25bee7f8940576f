"""Self-Guide self-synthesis (spec: generators.md, Self-Guide section).

`config.py` the config, `prompts.py` the input and annotation prompts, `filters.py`
the rule filters and voting, `generator.py` the rounds that drive them.
"""

from generators.self_guide.config import SelfGuideConfig
from generators.self_guide.generator import REJECT_CODES, SelfGuideGenerator, top_by_logprob

__all__ = ["SelfGuideConfig", "SelfGuideGenerator", "REJECT_CODES", "top_by_logprob"]
