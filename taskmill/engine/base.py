"""Engine requests and results, shared by every backend."""

from __future__ import annotations

from concurrent.futures import Future, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol, Sequence


@dataclass
class GenerationRequest:
    """One prompt (raw text or chat messages) and how to sample it.

    Exactly one of `prompt` and `messages` is set. `choices` (fixed list) and
    `json_schema` are structured-output constraints enforced by the backend's
    own structured-output support; at most one of them is set.
    """

    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    max_tokens: int = 256
    stop: list[str] | None = None
    seed: int | None = None
    choices: list[str] | None = None
    json_schema: dict[str, Any] | None = None
    logprobs: bool = False  # ask for the cumulative logprob of each completion

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("GenerationRequest needs exactly one of `prompt` or `messages`")
        if self.choices is not None and self.json_schema is not None:
            raise ValueError("GenerationRequest: set at most one of `choices` and `json_schema`")
        if self.n < 1:
            raise ValueError(f"GenerationRequest.n must be >= 1, got {self.n}")

    def sampling(self) -> dict[str, Any]:
        """The sampling kwargs actually used; stored in each record's `sampling`."""
        out: dict[str, Any] = {
            "n": self.n,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }
        if self.top_k is not None:
            out["top_k"] = self.top_k
        if self.stop:
            out["stop"] = list(self.stop)
        if self.seed is not None:
            out["seed"] = self.seed
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.json_schema is not None:
            out["json_schema"] = self.json_schema
        return out

    def prompt_key(self) -> str:
        """The exact prompt bytes as text (messages as canonical JSON), for prompt_sha256."""
        if self.prompt is not None:
            return self.prompt
        from taskmill.records import canonical_json

        return canonical_json(self.messages)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Completion:
    text: str
    finish_reason: str | None  # "stop", "length", ...
    completion_tokens: int
    cumulative_logprob: float | None = None


@dataclass
class GenerationResult:
    completions: list[Completion]
    prompt_tokens: int
    # The prompt as rendered for the model (chat template applied), when known.
    rendered_prompt: str | None = None
    error: str | None = None  # set when this one request failed and the batch went on
    # Why it failed, as a reject code: "prompt_too_long" (the engine's context cannot hold the
    # prompt) or "engine_error" (any other per-request refusal); None when it succeeded.
    error_code: str | None = None

    def __post_init__(self) -> None:
        if self.error is not None and self.error_code is None:
            self.error_code = error_code_for(self.error)

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.completions]

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.completions)


PROMPT_TOO_LONG = "prompt_too_long"
ENGINE_ERROR = "engine_error"
# How backends word a context overflow: vLLM's input validation ("... is longer than the maximum
# model length ...", "... maximum context length ...") and OpenAI-compatible servers.
_TOO_LONG_MARKERS = ("prompt_too_long", "maximum model length", "maximum context length", "context length", "too long")


def error_code_for(message: str) -> str:
    """The reject code for an engine's per-request error message."""
    lowered = message.lower()
    return PROMPT_TOO_LONG if any(m in lowered for m in _TOO_LONG_MARKERS) else ENGINE_ERROR


def failed(message: str, prompt_tokens: int = 0) -> "GenerationResult":
    """A result for a request the engine refused; the rest of the batch goes on."""
    return GenerationResult(completions=[], prompt_tokens=prompt_tokens, error=message[:2000])


ProgressFn = Callable[[int], None]  # called with the number of requests just finished


class Engine(Protocol):
    """What generators see. `model_name` is what records store in `model`."""

    model_name: str

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None
    ) -> list[GenerationResult]:
        """One result per request, in request order."""
        ...


@dataclass
class EngineStats:
    """Totals a run reports: requests, tokens and time spent inside the engine."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, results: Sequence[GenerationResult], seconds: float) -> None:
        self.requests += len(results)
        self.prompt_tokens += sum(r.prompt_tokens for r in results)
        self.completion_tokens += sum(r.completion_tokens for r in results)
        self.seconds += seconds

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0


class StreamingBackend(Protocol):
    """A backend that takes requests one at a time and finishes each on its own.

    `submit` returns at once; the future resolves to the request's result as
    soon as that request is done, whatever else is still running. Per-request
    failures resolve to a result with `error` set (never an exception), so one
    refused prompt cannot take others down. `taskmill.engine.streaming`
    bounds how many are in flight.
    """

    model_name: str

    def submit(self, request: GenerationRequest) -> "Future[GenerationResult]": ...



def generate_by_submit(submit: Callable[[GenerationRequest], "Future[GenerationResult]"],
                       requests: Sequence[GenerationRequest], progress: ProgressFn | None = None) -> list[GenerationResult]:  # fmt: skip
    """The batch `Engine.generate` of a streaming backend: submit all, report each as it finishes, keep order."""
    futures = [submit(r) for r in requests]
    if progress:
        for _ in as_completed(futures):
            progress(1)
    return [f.result() for f in futures]


class WrapsEngine:
    """What generators read about the model, for adapters that hold the real engine in `self.engine`."""

    engine: Any

    @property
    def tokenizer(self) -> Any:
        return getattr(self.engine, "tokenizer", None)

    @property
    def max_model_len(self) -> int | None:
        from generators.context_budget import context_length

        return context_length(self.engine)
