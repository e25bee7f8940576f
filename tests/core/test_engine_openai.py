"""OpenAI-compatible backend against a real vLLM server on 127.0.0.1."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from taskmill.engine.base import GenerationRequest
from taskmill.engine.openai_backend import EngineUnreachable, OpenAIEngine
from taskmill.engine.settings import EngineSettings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server():
    from taskmill.models import resolve_model

    model_dir = resolve_model(None)
    port = _free_port()
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir, "--served-model-name", "smollm2",
           "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--max-model-len", "2048",
           "--gpu-memory-utilization", "0.2", "--enforce-eager", "--max-num-seqs", "32",
           # see taskmill.engine.vllm_backend.llm_kwargs: seeded requests need whole-prompt prefill on CPU
           "--no-enable-chunked-prefill", "--max-num-batched-tokens", "4096"]
    log = open(os.path.join(os.environ.get("PREFECT_HOME", "/tmp"), "vllm-server.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        else:
            pytest.fail("vLLM server did not come up in 300 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.vllm
def test_openai_backend_against_real_vllm_server(vllm_server):
    engine = OpenAIEngine(EngineSettings(backend="openai", base_url=vllm_server, served_model_name="smollm2", max_concurrency=4))
    requests = [
        GenerationRequest(messages=[{"role": "user", "content": "What is the capital of France?"}], temperature=0.0, max_tokens=24),
        GenerationRequest(prompt="Once upon a time", n=2, temperature=0.9, max_tokens=6, seed=5, logprobs=True),
        GenerationRequest(messages=[{"role": "user", "content": "Is fire cold? yes or no"}], choices=["yes", "no"], max_tokens=3),
    ]
    done = []
    results = engine.generate(requests, progress=done.append)
    assert sum(done) == 3 and all(r.error is None for r in results)
    assert "Paris" in results[0].texts[0] and results[0].prompt_tokens > 5
    assert len(results[1].completions) == 2
    assert all(c.completion_tokens == 6 and c.finish_reason == "length" for c in results[1].completions)
    assert results[2].texts[0] in ("yes", "no")
    assert engine.generate([requests[1]])[0].texts == results[1].texts  # seeded

    # Streaming: one request at a time through the bounded dispatcher; a refusal is that request's result.
    from taskmill.engine.streaming import StreamingEngine

    stream = StreamingEngine(engine, max_in_flight=2)
    too_long = GenerationRequest(prompt="word " * 3000, max_tokens=4)
    streamed = [f.result(timeout=300) for f in [stream.submit(r) for r in [*requests, too_long]]]
    assert streamed[1].texts == results[1].texts and streamed[2].texts[0] in ("yes", "no")
    assert streamed[3].error_code == "prompt_too_long" and "HTTP 400" in streamed[3].error
    assert stream.meter.snapshot().peak_in_flight == 2 and stream.stats.requests == 4
    engine.shutdown()


def test_unreachable_server_gives_a_clear_error():
    port = _free_port()  # nothing listens here
    engine = OpenAIEngine(EngineSettings(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1))
    with pytest.raises(EngineUnreachable, match=f"127.0.0.1:{port}.*unreachable"):
        engine.generate([GenerationRequest(prompt="hi", max_tokens=2)])


def test_missing_base_url_is_a_config_error():
    with pytest.raises(ValueError, match="base_url"):
        OpenAIEngine(EngineSettings(backend="openai"))


def test_request_body_maps_sampling_and_structured_output():
    from taskmill.engine.openai_backend import parse_response, request_body

    chat = GenerationRequest(messages=[{"role": "user", "content": "q"}], n=2, temperature=0.3, top_k=5, seed=1, choices=["a", "b"])
    path, body = request_body(chat, "m")
    assert path == "/chat/completions"
    assert body == {"model": "m", "n": 2, "temperature": 0.3, "top_p": 1.0, "max_tokens": 256, "top_k": 5, "seed": 1,
                    "structured_outputs": {"choice": ["a", "b"]}, "messages": [{"role": "user", "content": "q"}]}
    path, body = request_body(GenerationRequest(prompt="p", json_schema={"type": "object"}, logprobs=True), "m")
    assert path == "/completions" and body["prompt"] == "p" and body["logprobs"] == 0
    assert body["structured_outputs"] == {"json": {"type": "object"}} and "json_schema" not in body
    result = parse_response({"usage": {"prompt_tokens": 4, "completion_tokens": 6},
                             "choices": [{"index": 1, "text": "y", "finish_reason": "length"},
                                         {"index": 0, "text": "x", "finish_reason": "stop"}]}, 2)
    assert result.texts == ["x", "y"] and result.prompt_tokens == 4
    assert [c.completion_tokens for c in result.completions] == [3, 3]
