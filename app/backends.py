"""Answer backends, chosen by name in one factory.

Every backend turns a :class:`~app.search.SearchResult` into an :class:`~app.papers.Answer`
whose citations are the result's own papers; no backend can add a paper. Imports of
optional packages happen inside the branch that needs them, so a missing extra costs
nothing until it is asked for and then names the ``pip install`` that fixes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from app.papers import Answer
from app.search import SearchResult
from app.settings import Settings

BACKEND_NAMES: tuple[str, ...] = ("auto", "extractive")


class BackendError(RuntimeError):
    """A backend that cannot be used as configured; the message says how to fix it."""


class AnswerBackend(Protocol):
    """Writes the answer for retrieved papers."""

    name: str

    def answer(self, result: SearchResult, idf: Callable[[str], float]) -> Answer: ...


def make_backend(name: str, settings: Settings) -> AnswerBackend:
    """The backend called ``name``; ``auto`` picks the best one that is configured."""
    name = (name or "auto").strip().lower()
    if name in ("auto", "extractive"):
        from app.extractive import ExtractiveBackend

        return ExtractiveBackend()
    raise BackendError(f"unknown answer backend {name!r}; choose one of: {', '.join(BACKEND_NAMES)}")
