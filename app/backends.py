"""Answer backends, chosen by name in one factory, with run-time fallback.

Every backend turns a :class:`~app.search.SearchResult` into an :class:`~app.papers.Answer`
whose citations are the result's own papers; no backend can add a paper. Imports of
optional packages happen inside the branch that needs them, so a missing extra costs
nothing until it is asked for and then names the ``pip install`` that fixes it.

Names: ``openai``, ``openai-compatible``, ``local``, ``extractive`` and ``auto`` (the first of
those four that is configured; a base URL names the server, so with one set ``auto`` skips
``openai``, whose default model is a paid-API name that server may not have). A generative
backend is wrapped in a :class:`FallbackBackend`
whose chain holds only what the user configured, in the same order, ending in
``extractive``: a timeout, 429, 5xx, refused connection, missing model or empty answer moves
to the next one with a notice in the answer, and never to a paid API nobody set up.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from app.papers import Answer
from app.redact import redact_secrets
from app.search import SearchResult
from app.settings import Settings

log = logging.getLogger(__name__)

BACKEND_NAMES: tuple[str, ...] = ("auto", "openai", "openai-compatible", "local", "extractive")
#: Preference order of ``auto``, and the order of every fallback chain.
CHAIN_ORDER: tuple[str, ...] = ("openai", "openai-compatible", "local", "extractive")

_LOGGED_CHOICES: set[tuple[str, str]] = set()


class BackendError(RuntimeError):
    """A backend that cannot be used as configured; the message says how to fix it."""


class AnswerBackend(Protocol):
    """Writes the answer for retrieved papers."""

    name: str

    def answer(self, result: SearchResult, idf: Callable[[str], float]) -> Answer: ...


def stream_of(backend: Any, result: SearchResult, idf: Callable[[str], float]) -> Iterator[str | Answer]:
    """Any backend as a stream: its own ``stream`` if it has one, else its text in one piece."""
    if hasattr(backend, "stream"):
        yield from backend.stream(result, idf)
        return
    answer = backend.answer(result, idf)
    yield answer.text
    yield answer


def final_answer(stream: Iterator[str | Answer]) -> Answer:
    """Drain a stream and return its Answer (the last item)."""
    final = None
    for item in stream:
        if isinstance(item, Answer):
            final = item
    if final is None:
        raise RuntimeError("answer stream ended without an Answer")
    return final


def problem(name: str, settings: Settings) -> str | None:
    """Why backend ``name`` is not configured, or None when it can be used."""
    if name == "openai":
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        return None if key else "the openai backend needs an API key: set OPENAI_API_KEY"
    if name == "openai-compatible":
        if settings.llm_base_url:
            return None
        return "the openai-compatible backend needs a server: set OPENAI_BASE_URL or PAPERCHAT_LLM_BASE_URL"
    if name == "local":
        from app.llms import local_problem

        return local_problem(settings)
    if name == "extractive":
        return None
    return f"unknown answer backend {name!r}; choose one of: {', '.join(BACKEND_NAMES)}"


def resolve(name: str | None) -> str:
    """Normalise a backend name ('OpenAI_compatible ' -> 'openai-compatible')."""
    return (name or "auto").strip().lower().replace("_", "-")


def choose(name: str, settings: Settings) -> str:
    """The concrete backend for ``name``; ``auto`` takes the first configured one (logged once)."""
    name = resolve(name)
    if name not in BACKEND_NAMES:
        raise BackendError(problem(name, settings) or name)
    if name != "auto":
        reason = problem(name, settings)
        if reason:
            raise BackendError(reason)
        return name
    skipped = []
    for candidate in CHAIN_ORDER:
        if candidate == "openai" and settings.llm_base_url:
            skipped.append("openai: a base URL is set, so the key goes to that server as openai-compatible")
            continue
        reason = problem(candidate, settings)
        if reason is None:
            _log_once("auto", candidate, skipped)
            return candidate
        skipped.append(f"{candidate}: {reason}")
    return "extractive"  # unreachable: extractive is always available


def _log_once(requested: str, chosen: str, skipped: list[str]) -> None:
    if (requested, chosen) in _LOGGED_CHOICES:
        return
    _LOGGED_CHOICES.add((requested, chosen))
    detail = f" (skipped {'; '.join(skipped)})" if skipped else ""
    log.info("answer backend: auto chose %s%s", chosen, detail)


def auto_summary(settings: Settings) -> str:
    """One line saying what ``auto`` chose, why, and what it falls back to (the CLI's stderr)."""
    from app.llms import DEFAULT_OPENAI_MODEL, local_model_path

    names = chain("auto", settings)
    first = names[0]
    if first == "openai":
        why = f"OPENAI_API_KEY is set; model {settings.llm_model or DEFAULT_OPENAI_MODEL}"
    elif first == "openai-compatible":
        model = settings.llm_model or "the first one the server lists"
        key = " (OPENAI_API_KEY goes to that server, not to api.openai.com)" if settings.openai_api_key else ""
        why = f"server {settings.llm_base_url}{key}; model {model}"
    elif first == "local":
        path = local_model_path(settings)
        why = f"no API key or server set; model {path.name if path else '?'}"
    else:
        why = "no model configured: set OPENAI_API_KEY or OPENAI_BASE_URL, or install the local backend"
    then = f"; falls back to {', then '.join(names[1:])}" if len(names) > 1 else ""
    return f"answer backend: auto chose {first} ({why}){then}"


def chain(name: str, settings: Settings) -> list[str]:
    """The backends tried in order for ``name``: it, then every later configured one, then extractive.

    An openai backend already pointed at the base URL makes openai-compatible a duplicate of
    it, so that one is left out.
    """
    first = choose(name, settings)
    names = [first]
    for candidate in CHAIN_ORDER[CHAIN_ORDER.index(first) + 1 :]:
        if candidate == "openai-compatible" and first == "openai" and settings.llm_base_url:
            continue
        if problem(candidate, settings) is None:
            names.append(candidate)
    return names


def build_one(name: str, settings: Settings) -> Any:
    """One backend, without fallback."""
    if name == "extractive":
        from app.extractive import ExtractiveBackend

        return ExtractiveBackend()
    from app.generative import GenerativeBackend
    from app.llms import make_llm

    return GenerativeBackend(name, lambda: make_llm(name, settings), timeout=settings.llm_timeout)


def make_backend(name: str, settings: Settings) -> AnswerBackend:
    """The backend called ``name``; ``auto`` picks the best one that is configured."""
    names = chain(name, settings)
    if names == ["extractive"]:
        return build_one("extractive", settings)
    return FallbackBackend([build_one(n, settings) for n in names])


class FallbackBackend:
    """Tries each backend in turn; a run-time model failure becomes a notice, not an error.

    ``name`` is the first backend's (what the user chose); each answer's ``backend`` names the
    one that actually wrote it.
    """

    def __init__(self, backends: Sequence[Any]) -> None:
        if not backends:
            raise ValueError("FallbackBackend needs at least one backend")
        self.backends = list(backends)
        self.name = self.backends[0].name

    def stream(self, result: SearchResult, idf: Callable[[str], float]) -> Iterator[str | Answer]:
        """Stream from the first backend that works; text already streamed by a failed one
        is superseded by the final Answer (its text then does not start with what was shown)."""
        from app.llms import ModelFailure

        notices: list[str] = []
        for position, backend in enumerate(self.backends):
            try:
                for item in stream_of(backend, result, idf):
                    if isinstance(item, Answer):
                        item.notices[:0] = notices
                        if notices:
                            item.debug["fallback_chain"] = [b.name for b in self.backends[: position + 1]]
                    yield item
                return
            except ModelFailure as failure:
                if position + 1 == len(self.backends):
                    raise
                following = self.backends[position + 1].name
                notices.append(f"{backend.name} failed: {failure.reason}; answered with {following} instead.")
                log.warning("%s failed (%s); falling back to %s", backend.name, failure.reason, following)
                detail = "".join(traceback.format_exception(failure))  # the server's text: may quote the key
                log.debug("model failure detail:\n%s", redact_secrets(detail, failure))

    def answer(self, result: SearchResult, idf: Callable[[str], float]) -> Answer:
        return final_answer(self.stream(result, idf))

    def rewrite(self, messages: Sequence[Any]) -> tuple[str | None, str | None, list[str]]:
        """A model's reply to ``messages`` from the first generative backend that works.

        Returns (reply or None, backend name or None, failures as notices).
        """
        from app.llms import ModelFailure

        failures: list[str] = []
        for backend in self.backends:
            if not hasattr(backend, "complete"):
                continue
            try:
                return backend.complete(messages), backend.name, failures
            except ModelFailure as failure:
                failures.append(f"{backend.name} could not rewrite the follow-up: {failure.reason}.")
        return None, None, failures
