"""What one browser tab remembers, and the filter bookkeeping of a question.

Kept apart from the handlers so the rules for "which filters shaped this answer" and
"how to ask the same question without one" are read (and tested) in one place.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.papers import Answer
from app.question import _STATUS_WORDS as STATUS_WORDS

ANY = "any"


@dataclass
class Turn:
    """One question and its answer, with the filters that shaped it.

    ``chosen`` came from the dropdowns, ``implied`` from the wording or the conversation,
    ``ignored`` were removed by the user (the question was asked again without them).
    """

    question: str
    answer: Answer
    chosen: dict[str, Any]
    implied: dict[str, Any]
    ignored: dict[str, Any]


@dataclass
class ChatSession:
    """What one browser tab remembers; Gradio deep-copies it per session, so tabs never share."""

    turns: list[Turn] = field(default_factory=list)
    workdir: str | None = None

    def history(self) -> list[tuple[str, Answer]]:
        """Previous turns as ``(question, Answer)`` pairs, what ``pc.stream_chat`` resolves "those" with."""
        return [(turn.question, turn.answer) for turn in self.turns]

    def last_filters(self) -> dict[str, Any]:
        """The filters of the answer on screen; a follow-up question keeps them."""
        return dict(self.turns[-1].answer.filters) if self.turns else {}

    def directory(self) -> Path:
        """This session's own dir for downloads, made on first use.

        It is made inside Gradio's file cache under an unguessable name: Gradio then serves
        the files where they are, instead of copying them to a cache entry named by their
        content that outlives the session and that anyone holding the link could fetch.
        So :meth:`cleanup` takes the session's downloads offline.
        """
        if self.workdir is None or not Path(self.workdir).is_dir():
            cache = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
            cache.mkdir(parents=True, exist_ok=True)
            self.workdir = tempfile.mkdtemp(prefix=f"paperchat-session-{secrets.token_hex(16)}-", dir=cache.resolve())
        return Path(self.workdir)

    def cleanup(self) -> None:
        """Delete the download files; called on "New chat" and when Gradio drops the session."""
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None


@dataclass
class PageUpdate:
    """One step of a handler; ``None`` means "leave that part of the page as it is"."""

    chat: list[dict[str, str]] | None = None
    message: str | None = None
    current: str | None = None
    sources: str | None = None
    chips: str | None = None
    pending: str | None = None
    status: str | None = None
    session: ChatSession | None = None
    bibtex_path: str | None = None
    csv_path: str | None = None
    downloads_visible: bool | None = None
    #: Dropdown values to set, by field ("status" -> "any" after its chip was removed).
    filters: dict[str, str] | None = None
    #: Dropdown choices, by field, when the store's values changed since the page was built
    #: (another process ingested a new venue, year or status).
    filter_choices: dict[str, list[str]] | None = None


def dropdown_choices(facets: dict[str, list[Any]]) -> dict[str, list[str]]:
    """The filter dropdowns' choices for the store's values: "any", then each value as text."""
    return {field: [ANY, *map(str, facets.get(field, []))] for field in ("venue", "year", "status")}


def choose_filters(venue: str | None, year: str | int | None, status: str | None) -> dict[str, Any]:
    """The dropdowns as a ``where`` dict; "any" (or empty) leaves a field out."""
    chosen: dict[str, Any] = {}
    for key, value in (("venue", venue), ("year", year), ("status", status)):
        if value not in (None, "", ANY):
            # anything but digits goes on as sent, for the search's filter check to refuse
            # with a message (a hand-written client can send any value, not just the choices)
            chosen[key] = int(value) if key == "year" and re.fullmatch(r"[0-9]+", str(value).strip()) else value
    return chosen


def without_implied_words(question: str, implied: dict[str, Any]) -> str:
    """The question with the words that implied filters neutralised ("orals" -> "papers").

    The search reads filters from the wording; the way to ask the same thing without them
    is to ask it without those words, keeping the rest (and a list question a list question).
    Every word that implies the status counts ("talks" implies orals too).
    """
    text = question
    status = implied.get("status")
    if status:
        words = {str(status).lower()} | {w.rstrip("s") for w, s in STATUS_WORDS.items() if s == status}
        pattern = r"\b(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")(s?)\b"
        text = re.sub(pattern, lambda m: "paper" + m.group(2), text, flags=re.IGNORECASE)
    venue = implied.get("venue")
    if venue:
        text = re.sub(rf"\b{re.escape(str(venue))}\b[\s'.-]*(?:(?:19|20)\d\d\b)?", " ", text, flags=re.IGNORECASE)
    year = implied.get("year")
    if year:
        text = re.sub(rf"\b{year}\b", " ", text)
    return re.sub(r"\s{2,}", " ", text).strip()
