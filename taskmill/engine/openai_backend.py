"""OpenAI-compatible HTTP backend: `vllm serve` or any compatible server.

Requests go out concurrently (bounded by `max_concurrency`) with retries and
exponential backoff on connection errors, timeouts, 429 and 5xx. A server that
cannot be reached at all fails fast with an error naming the URL. Structured
output uses vLLM's `structured_outputs` extension (choice or JSON schema).
"""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import Future
from typing import Any, Sequence

import httpx

from taskmill.engine.base import Completion, GenerationRequest, GenerationResult, ProgressFn
from taskmill.engine.settings import EngineSettings
from taskmill.engine.steps import run_coroutine

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EngineUnreachable(RuntimeError):
    pass


def request_body(request: GenerationRequest, model: str) -> tuple[str, dict[str, Any]]:
    """(endpoint path, JSON body) for one request."""
    body: dict[str, Any] = {"model": model, **request.sampling()}
    # vLLM's server takes structured-output constraints under its own extension key
    choices, schema = body.pop("choices", None), body.pop("json_schema", None)
    if choices is not None:
        body["structured_outputs"] = {"choice": choices}
    elif schema is not None:
        body["structured_outputs"] = {"json": schema}
    if request.messages is not None:
        body["messages"] = request.messages
        if request.logprobs:
            body["logprobs"] = True
        return "/chat/completions", body
    body["prompt"] = request.prompt
    if request.logprobs:
        body["logprobs"] = 0
    return "/completions", body


def _choice_logprob(choice: dict[str, Any]) -> tuple[float | None, int | None]:
    logprobs = choice.get("logprobs") or {}
    if "content" in logprobs and logprobs["content"] is not None:  # chat shape
        values = [t["logprob"] for t in logprobs["content"]]
    elif logprobs.get("token_logprobs") is not None:  # completions shape
        values = [v for v in logprobs["token_logprobs"] if v is not None]
    else:
        return None, None
    return float(sum(values)), len(values)


def parse_response(data: dict[str, Any], n: int) -> GenerationResult:
    usage = data.get("usage") or {}
    choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
    total = int(usage.get("completion_tokens") or 0)
    completions = []
    for choice in choices:
        text = choice["message"]["content"] if "message" in choice else choice.get("text", "")
        logprob, counted = _choice_logprob(choice)
        # usage only gives the total over the n choices; per choice it is exact only with logprobs
        tokens = counted if counted is not None else (total // max(1, len(choices)))
        completions.append(Completion(text=text or "", finish_reason=choice.get("finish_reason"), completion_tokens=tokens, cumulative_logprob=logprob))
    return GenerationResult(completions=completions, prompt_tokens=int(usage.get("prompt_tokens") or 0))


class OpenAIEngine:
    def __init__(self, settings: EngineSettings):
        if not settings.base_url:
            raise ValueError("engine.base_url is required for backend='openai' (e.g. http://127.0.0.1:8000/v1)")
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.model_name = settings.served_model_name or settings.name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None
        self._sem: asyncio.Semaphore | None = None

    # --- streaming: one request at a time on a long-lived event loop ---------------------------
    def submit(self, request: GenerationRequest) -> "Future[GenerationResult]":
        """Send one request now; the future resolves when its response (after retries) is in.

        At most `max_concurrency` requests are on the wire at once; the streaming
        dispatcher in front keeps the queue (`taskmill.engine.streaming`).
        """
        loop = self._ensure_loop()
        return asyncio.run_coroutine_threadsafe(self._submitted(request), loop)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="taskmill-openai", daemon=True).start()
                self._loop = loop
            return self._loop

    async def _submitted(self, request: GenerationRequest) -> GenerationResult:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.settings.api_key}"}
            limits = httpx.Limits(max_connections=self.settings.max_concurrency)
            self._client = httpx.AsyncClient(timeout=self.settings.request_timeout_s, headers=headers, limits=limits)
            self._sem = asyncio.Semaphore(self.settings.max_concurrency)
        assert self._sem is not None
        return await self._one(self._client, self._sem, request)

    def shutdown(self) -> None:
        if self._loop is None:
            return
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop = None

    async def _one(self, client: httpx.AsyncClient, sem: asyncio.Semaphore, request: GenerationRequest) -> GenerationResult:
        path, body = request_body(request, self.model_name)
        delay = 0.5
        for attempt in range(self.settings.max_retries + 1):
            async with sem:
                try:
                    response = await client.post(self.base_url + path, json=body)
                except httpx.ConnectError as exc:
                    if attempt == 0 and not await self._reachable(client):
                        raise EngineUnreachable(f"OpenAI-compatible server at {self.base_url} is unreachable: {exc}") from exc
                    error = f"connection error: {exc}"
                except httpx.TimeoutException as exc:
                    error = f"timeout: {exc}"
                else:
                    if response.status_code == 200:
                        return parse_response(response.json(), request.n)
                    error = f"HTTP {response.status_code}: {response.text[:300]}"
                    if response.status_code not in RETRY_STATUS:
                        return GenerationResult(completions=[], prompt_tokens=0, error=error)
            if attempt < self.settings.max_retries:
                await asyncio.sleep(delay * (1 + random.random()))
                delay *= 2
        if error.startswith("connection error"):
            raise EngineUnreachable(f"OpenAI-compatible server at {self.base_url} stopped answering ({error})")
        return GenerationResult(completions=[], prompt_tokens=0, error=error)

    async def _reachable(self, client: httpx.AsyncClient) -> bool:
        try:
            await client.get(self.base_url + "/models", timeout=5)
            return True
        except httpx.HTTPError:
            return False

    async def _all(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None) -> list[GenerationResult]:
        sem = asyncio.Semaphore(self.settings.max_concurrency)
        headers = {"Authorization": f"Bearer {self.settings.api_key}"}
        async with httpx.AsyncClient(timeout=self.settings.request_timeout_s, headers=headers) as client:

            async def tracked(request: GenerationRequest) -> GenerationResult:
                result = await self._one(client, sem, request)
                if progress:
                    progress(1)
                return result

            return list(await asyncio.gather(*(tracked(r) for r in requests)))

    def generate(self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:
        if not requests:
            return []
        return run_coroutine(self._all(requests, progress))  # also from inside a running loop (async Prefect task)
