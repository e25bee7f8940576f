"""Manual check (minutes, loads the packaged model): in-process `vllm.LLM` after taskmill's filters ran.

    PYTHONPATH=. python tests/core/inprocess_vllm_check.py

`filters` is imported at the top, as a user script would, so vLLM's spawned CPU worker
re-imports it; MinHash runs in this process first (numba and llvmlite loaded here). Before
numba was imported lazily, the worker died at start-up with
`AttributeError: '_lib_fn_wrapper' object has no attribute 'get'` (see
tests/core/test_inprocess_vllm_numba.py for the cause). Prints `OK <text>` on success.
"""

import sys

import filters.minhash  # noqa: F401 - top level on purpose: the spawned worker re-imports this file

if __name__ == "__main__":
    from filters.minhash import MinHashConfig, dedup_texts
    from taskmill.engine.settings import EngineSettings
    from taskmill.engine.vllm_backend import llm_kwargs

    dedup_texts(["the quick brown fox", "the quick brown fox!"], MinHashConfig())
    print("llvmlite loaded here:", "llvmlite.binding.ffi" in sys.modules, flush=True)
    from vllm import LLM, SamplingParams

    llm = LLM(**llm_kwargs(EngineSettings(max_model_len=512, max_num_seqs=4)))
    out = llm.generate(["The capital of France is"], SamplingParams(max_tokens=8, temperature=0))
    print("OK", repr(out[0].outputs[0].text), flush=True)
    llm.llm_engine.engine_core.shutdown()  # without it the worker outlives the script
