"""What every run (and every resumed run) pays at export: the packaged tokenizer loads without torch."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

CHILD = """
import sys
from selection.lengths import token_counter
counter = token_counter(None)
print(int(counter.count([[{"role": "user", "content": "How many moons has Mars?"}, {"role": "assistant", "content": "Two."}]])[0]))
print("torch" in sys.modules)
"""


def test_export_token_counter_loads_without_importing_torch():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": ROOT, "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": os.path.expanduser("~")})
    count, torch_loaded = done.stdout.split()
    assert int(count) > 10  # chat template included (system prompt of SmolLM2's template)
    assert torch_loaded == "False", "the export's tokenizer import pulled in torch (resumed runs pay it again)"
