"""The functions behind the chat page, over one shared ``PaperChat``; state lives in sessions.

The handlers yield plain :class:`~app.ui_state.PageUpdate` values, so the tests drive exactly
what the page runs without a browser; :mod:`app.ui` only lays out components and translates
updates into Gradio outputs.

Answers stream. A backend that streams (``pc.stream_chat`` or ``pc.stream_ask`` returning an
iterator of text chunks that ends with the :class:`~app.papers.Answer`) is shown token by
token; the extractive backend returns a whole answer, which is shown one citation at a time.
Answers written by a language model first take a place in a :class:`~app.lanes.Lane`, so a
few long generations cannot hold every worker; while waiting, the chat says so.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from app import ui_render as render
from app import ui_status
from app.chat import listed_numbers as numbers  # the [n] each citation was shown with
from app.errors import USER_ERRORS
from app.exports import bibtex, csv_text
from app.extractive import NAME as EXTRACTIVE
from app.lanes import Lane
from app.papers import Answer
from app.paperchat import PaperChat
from app.question import implied_filters
from app.ui_state import (
    ANY, ChatSession, PageUpdate, Turn, choose_filters, dropdown_choices, without_implied_words,
)

log = logging.getLogger(__name__)

FIRST_EXAMPLE = "Which orals study DP-SGD?"
#: Offered once the store holds this many papers: fewer share too few phrases to count.
THEMES_EXAMPLE_PAPERS = 50
THEMES_EXAMPLE = "What topics are most common?"
#: Topics offered as example questions when at least two loaded papers mention them.
EXAMPLE_TOPICS: tuple[str, ...] = (
    "differential privacy", "diffusion models", "reinforcement learning", "large language models",
    "graph neural networks", "protein", "optimization", "robustness", "in-context learning",
)


def answer_events(
    pc: Any, question: str, history: list[tuple[str, Answer]], where: dict[str, Any] | None
) -> Iterator[str | Answer]:
    """Text chunks, then the final Answer, from the best answering method ``pc`` offers.

    Looked up at call time: ``pc.stream_chat`` (follow-ups like "the second one" resolved
    against ``history``), else ``pc.stream_ask``, else ``pc.ask``. A chunk holding several
    citation lines (the extractive backend sends its whole text at once) is split per line,
    so every backend's answer appears progressively.
    """
    if callable(getattr(pc, "stream_chat", None)):
        events: Iterable[str | Answer] = pc.stream_chat(question, history, where=where)
    elif callable(getattr(pc, "stream_ask", None)):
        events = pc.stream_ask(question, where=where)
    else:
        answer = pc.ask(question, where=where)
        events = [answer.text, answer]
    for event in events:
        if isinstance(event, str) and "\n" in event:
            yield from render.text_pieces(event)
        else:
            yield event


def example_questions(pc: PaperChat, limit: int = 4) -> list[str]:
    """Questions this corpus can answer: DP-SGD, a frequent topic, what it is about (once
    there are enough papers for themes to mean something), its most prolific author."""
    records = pc.searcher.records
    texts = [f"{r.title or ''} {r.abstract or ''}".lower() for r in records]
    noun = "orals" if "Oral" in pc.searcher.statuses else "papers"
    examples = []
    if any("dp-sgd" in t for t in texts):
        examples.append(FIRST_EXAMPLE if noun == "orals" else "Which papers study DP-SGD?")
    themes = len(records) >= THEMES_EXAMPLE_PAPERS
    for topic in EXAMPLE_TOPICS:
        if sum(topic in t for t in texts) >= 2:
            examples.append(f"Which {noun} are about {topic}?")
            if len(examples) >= limit - (2 if themes else 1):
                break
    if themes:
        examples.append(THEMES_EXAMPLE)
    authors = Counter(a for r in records for a in r.authors)
    if authors:
        author, count = authors.most_common(1)[0]
        if count >= 2:
            examples.append(f"Which {noun} did {author} co-author?")
    return examples[:limit]


def configured_backend(pc: Any) -> str | None:
    """The name of the backend ``pc`` answers with first ("extractive", "openai", ...), if known."""
    try:
        engine = pc.query_engine
    except AttributeError:
        return None
    return getattr(getattr(engine, "backend", None), "name", None)


def busy_markdown(place: int, running: int) -> str:
    """What the chat says while an answer waits for the language model."""
    others = "another question" if running == 1 else f"{running} other questions"
    return (
        f"*⏳ The language model is busy answering {others}. Yours is number {place} in line "
        "and starts as soon as a place frees up.*"
    )


class ChatHandlers:
    """The functions behind the page; ``lane`` (when given) gates answers written by a model."""

    def __init__(self, pc: PaperChat, lane: Lane | None = None) -> None:
        self.pc = pc
        self.stats = pc.stats()
        self.facets = pc.searcher.facets()
        self.backend = configured_backend(pc)
        self.lane = lane
        self._stats_reloads = self._facets_reloads = getattr(pc, "reloads", 0)

    @property
    def uses_model(self) -> bool:
        """True when answers are written by a language model (not the extractive floor)."""
        return self.backend not in (None, "extractive")

    def status(self, answer: Answer | None = None, note: str | None = None) -> str:
        """The status line for this page (its counts follow a reload after another ingest)."""
        reloads = getattr(self.pc, "reloads", 0)
        if reloads != self._stats_reloads:
            self.stats, self._stats_reloads = self.pc.stats(), reloads
        return ui_status.status_html(self.stats, answer, note=note, backend=self.backend)

    def new_choices(self) -> dict[str, list[str]] | None:
        """The dropdowns' choices when a reload brought values the page does not offer yet."""
        reloads = getattr(self.pc, "reloads", 0)
        if reloads == self._facets_reloads:
            return None
        self._facets_reloads = reloads
        facets = self.pc.searcher.facets()
        if facets == self.facets:
            return None
        self.facets = facets
        return dropdown_choices(facets)

    # -- questions --------------------------------------------------------------------------

    def respond(
        self,
        message: str,
        chat: list[dict[str, str]] | None,
        session: ChatSession,
        venue: str | None = ANY,
        year: str | int | None = ANY,
        status: str | None = ANY,
        ignore_implied: bool = False,
    ) -> Iterator[PageUpdate]:
        """Answer one question: show it, stream the answer, then the sources and exports."""
        question = (message or "").strip()
        if not question:
            yield PageUpdate(status=self.status(note="Type a question first."))
            return
        chosen = choose_filters(venue, year, status)
        asked, ignored = question, {}
        if ignore_implied:
            ignored = {k: v for k, v in {**session.last_filters(), **self._implied(question)}.items() if k not in chosen}
            asked = without_implied_words(question, ignored) if ignored else question
        # "any" everywhere lets the conversation carry the last turn's filters; a choice (or
        # ignoring implied filters) makes the dropdowns the whole truth for this question
        where = chosen if chosen or ignore_implied else None
        yield from self._answer(question, asked, chat, session, chosen, where, ignored, (chosen, ignore_implied))

    def remove_filter(
        self, field: str | None, chat: list[dict[str, str]] | None, session: ChatSession,
        venue: str | None = ANY, year: str | int | None = ANY, status: str | None = ANY,
    ) -> Iterator[PageUpdate]:
        """Ask the answer's question again without one of the filters that shaped it.

        The other filters of that answer stay as they were; the removed one is asked
        without (its words are taken out of the question), and if it came from a dropdown
        that still holds it, the dropdown is set back to "any".
        """
        if field not in ui_status.FILTER_FIELDS or not session.turns:
            return
        last = session.turns[-1]
        if field not in last.answer.filters:
            return
        ignored = {**last.ignored, field: last.answer.filters[field]}
        chosen = {k: v for k, v in last.chosen.items() if k != field}
        where = {k: v for k, v in last.answer.filters.items() if k not in ignored}
        asked = without_implied_words(last.question, ignored)
        dropdowns = choose_filters(venue, year, status)
        reset = field in last.chosen and dropdowns.get(field) == last.chosen[field]
        if reset:
            dropdowns.pop(field)
        updates = self._answer(last.question, asked, chat, session, chosen, where, ignored, (dropdowns, False))
        for number, update in enumerate(updates):
            if number == 0 and reset:
                update.filters = {field: ANY}
            yield update

    def ask_without_implied(
        self, chat: list[dict[str, str]] | None, session: ChatSession, venue: str | None = ANY,
        year: str | int | None = ANY, status: str | None = ANY,
    ) -> Iterator[PageUpdate]:
        """Ask the last question again with every filter its wording implied removed."""
        if not session.turns:
            return
        yield from self.respond(session.turns[-1].question, chat, session, venue, year, status, ignore_implied=True)

    def _answer(
        self, question: str, asked: str, chat: list[dict[str, str]] | None, session: ChatSession,
        chosen: dict[str, Any], where: dict[str, Any] | None, ignored: dict[str, Any],
        next_filters: tuple[dict[str, Any], bool] = ({}, False),
    ) -> Iterator[PageUpdate]:
        """Show ``question``, answer ``asked`` under ``where``, then record the turn.

        ``next_filters`` (the dropdowns and the ignore box after this question) decide the
        chips shown for the next question once this answer is in.
        """
        chat = list(chat or [])
        shown = render.user_markdown(question)
        note = ""
        if ignored:
            note = "asked again without " + ", ".join(f"{k}: {v}" for k, v in ignored.items())
            shown += "\n\n*(" + render.md_escape(note) + ")*"
        chat.append({"role": "user", "content": shown})
        chat.append({"role": "assistant", "content": f"*Searching {self.stats['records']} papers…*"})
        yield PageUpdate(chat=list(chat), message="", current=render.current_question_html(question, note))

        ticket = self.lane.join() if self.lane is not None and self.uses_model else None
        text, answer = "", None
        try:
            if ticket is not None:
                while not ticket.admitted(timeout=self.lane.poll_seconds):
                    chat[-1] = {"role": "assistant", "content": busy_markdown(ticket.place(), self.lane.running)}
                    yield PageUpdate(chat=list(chat), status=self.status(note="The language model is busy; your question is queued."))
            for event in answer_events(self.pc, asked, session.history(), where):
                if isinstance(event, Answer):
                    answer = event
                    continue
                text += event
                if self.backend != EXTRACTIVE:  # an extractive answer is whole at once: shown below
                    chat[-1] = {"role": "assistant", "content": render.answer_markdown(text)}
                    yield PageUpdate(chat=list(chat))
        except USER_ERRORS as error:
            yield self._failed(chat, str(error))
            return
        except Exception as error:  # the page must answer, never hang on a traceback
            log.exception("answering %r failed", question)
            yield self._failed(chat, f"Something went wrong answering this ({type(error).__name__}); the server log has details.")
            return
        finally:
            if ticket is not None:
                ticket.leave()
        if answer is None:
            answer = Answer(text=text, citations=[], backend="unknown", notices=["the backend returned no citations"])

        implied = {k: v for k, v in answer.filters.items() if k not in chosen}
        from_question = self._implied(asked)
        carried = {k: v for k, v in implied.items() if from_question.get(k) != v}
        session.turns.append(Turn(question, answer, chosen, implied, ignored))
        cited = numbers(answer)
        if self.backend == EXTRACTIVE and answer.backend == EXTRACTIVE:  # whole at once: shown paper by paper
            for piece in render.paper_list_pieces(answer, cited)[:-1]:
                chat[-1] = {"role": "assistant", "content": piece}
                yield PageUpdate(chat=list(chat))
        chat[-1] = {"role": "assistant", "content": self.chat_markdown(answer, text, cited)}
        bib_path, csv_path = self.write_exports(session, answer)
        yield PageUpdate(
            chat=list(chat),
            sources=render.sources_html(answer, cited, question),
            chips=ui_status.answer_chips_html(
                chosen, {k: v for k, v in implied.items() if k not in carried}, ignored, carried
            ),
            pending=self.pending_chips(next_filters[0], session, next_filters[1]),
            status=self.status(answer),
            session=session,
            bibtex_path=bib_path,
            csv_path=csv_path,
            downloads_visible=bool(answer.citations),
            filter_choices=self.new_choices(),
        )

    @staticmethod
    def chat_markdown(answer: Answer, streamed: str, cited: list[int]) -> str:
        """What the chat shows of a finished answer: a model's own words with their
        citations linked, or for an extractive answer one line per paper (evidence on the cards)."""
        if answer.backend == EXTRACTIVE and answer.citations:
            return render.paper_list_markdown(answer, cited)
        if answer.nearest and not answer.citations:
            return render.declined_markdown(answer)
        return render.answer_markdown(answer.text or streamed, answer.citations, cited)

    def _implied(self, question: str) -> dict[str, Any]:
        searcher = self.pc.searcher
        return implied_filters(question, searcher.venues, searcher.years, searcher.statuses)

    def _failed(self, chat: list[dict[str, str]], reason: str) -> PageUpdate:
        chat[-1] = {"role": "assistant", "content": render.md_escape(f"⚠ {reason}")}
        return PageUpdate(chat=list(chat), status=self.status(note=reason))

    # -- the rest of the page ---------------------------------------------------------------

    def pending_chips(self, chosen: dict[str, Any], session: ChatSession | None, ignore_implied: bool = False) -> str:
        """The chips for the next question: the dropdowns, else what a follow-up would keep."""
        kept = session.last_filters() if session is not None and not chosen and not ignore_implied else {}
        return ui_status.pending_chips_html(chosen, kept, ignore_implied)

    def filters_changed(
        self, venue: str | None, year: str | int | None, status: str | None, ignore_implied: bool = False,
        session: ChatSession | None = None,
    ) -> str:
        """The chips for the next question once the dropdowns change."""
        return self.pending_chips(choose_filters(venue, year, status), session, ignore_implied)

    def clear_filter(self, field: str | None) -> dict[str, str]:
        """The dropdown value to set when a next-question chip is clicked: "any" for that field."""
        return {field: ANY} if field in ui_status.FILTER_FIELDS else {}

    def new_chat(
        self, session: ChatSession, venue: str | None = ANY, year: str | int | None = ANY,
        status: str | None = ANY, ignore_implied: bool = False,
    ) -> PageUpdate:
        """Forget this tab's history and downloads; other tabs are untouched.

        The dropdowns stay as set, so the next-question chips are redrawn from them alone
        (nothing is carried over from an answer that is gone).
        """
        session.cleanup()
        return PageUpdate(
            chat=[], message="", current="", sources=render.sources_html(None),
            chips=ui_status.answer_chips_html({}, {}),
            pending=self.pending_chips(choose_filters(venue, year, status), None, ignore_implied),
            status=self.status(), session=ChatSession(), downloads_visible=False,
        )

    def write_exports(self, session: ChatSession, answer: Answer) -> tuple[str | None, str | None]:
        """BibTeX and CSV of the answer's cited papers, numbered as in the answer, in the session's dir."""
        if not answer.citations:
            return None, None
        folder = session.directory()
        stem = f"paperchat-answer-{len(session.turns)}"
        bib = folder / f"{stem}.bib"
        bib.write_text(bibtex(answer.citations), encoding="utf-8")
        table = folder / f"{stem}.csv"
        table.write_text(csv_text(answer.citations, numbers(answer)), encoding="utf-8")
        return str(bib), str(table)
