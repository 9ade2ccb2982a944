"""The browser chat page: ``build_demo(pc)`` returns a Gradio ``Blocks``; nothing runs on import.

The handlers live in :class:`ChatHandlers` and yield plain :class:`PageUpdate` values, so the
tests drive exactly what the page runs without a browser; :func:`build_demo` only lays out
components and translates updates into Gradio outputs. HTML is built in :mod:`app.ui_render`.

Answers stream. A backend that streams (``pc.chat`` or ``pc.stream_ask`` returning an
iterator of text chunks that ends with the :class:`~app.papers.Answer`) is shown token by
token; the extractive backend returns a whole answer, which is shown one citation at a time.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no calls home

import logging  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402

from app import ui_render as render  # noqa: E402
from app.errors import USER_ERRORS  # noqa: E402
from app.papers import Answer  # noqa: E402
from app.paperchat import PaperChat  # noqa: E402
from app.chat import listed_numbers as numbers  # noqa: E402  (the [n] each citation was shown with)
from app.question import implied_filters  # noqa: E402

log = logging.getLogger(__name__)

ANY = "any"
FIRST_EXAMPLE = "Which orals study DP-SGD?"
#: Topics offered as example questions when at least two loaded papers mention them.
EXAMPLE_TOPICS: tuple[str, ...] = (
    "differential privacy", "diffusion models", "reinforcement learning", "large language models",
    "graph neural networks", "protein", "optimization", "robustness", "in-context learning",
)
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


@dataclass
class Turn:
    """One question and its answer, with the filters that shaped it."""

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

    def directory(self) -> Path:
        """This session's own temp dir for downloads, made on first use."""
        if self.workdir is None or not Path(self.workdir).is_dir():
            self.workdir = tempfile.mkdtemp(prefix="paperchat-session-")
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
    sources: str | None = None
    chips: str | None = None
    status: str | None = None
    session: ChatSession | None = None
    bibtex_path: str | None = None
    csv_path: str | None = None
    can_drop_implied: bool | None = None
    downloads_visible: bool | None = None


def choose_filters(venue: str | None, year: str | int | None, status: str | None) -> dict[str, Any]:
    """The dropdowns as a ``where`` dict; "any" (or empty) leaves a field out."""
    chosen: dict[str, Any] = {}
    for key, value in (("venue", venue), ("year", year), ("status", status)):
        if value not in (None, "", ANY):
            chosen[key] = int(value) if key == "year" else value
    return chosen


def without_implied_words(question: str, implied: dict[str, Any]) -> str:
    """The question with the words that implied filters neutralised ("orals" -> "papers").

    The search reads filters from the wording; the way to ask the same thing without them
    is to ask it without those words, keeping the rest (and a list question a list question).
    """
    text = question
    status = implied.get("status")
    if status:
        text = re.sub(
            rf"\b{re.escape(str(status))}(s?)\b", lambda m: "paper" + m.group(1), text, flags=re.IGNORECASE
        )
    venue = implied.get("venue")
    if venue:
        text = re.sub(rf"\b{re.escape(str(venue))}\b[\s'.-]*(?:(?:19|20)\d\d\b)?", " ", text, flags=re.IGNORECASE)
    year = implied.get("year")
    if year:
        text = re.sub(rf"\b{year}\b", " ", text)
    return re.sub(r"\s{2,}", " ", text).strip()


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
    """Questions this corpus can answer: DP-SGD, frequent topics, its most prolific author."""
    records = pc.searcher.records
    texts = [f"{r.title or ''} {r.abstract or ''}".lower() for r in records]
    noun = "orals" if "Oral" in pc.searcher.statuses else "papers"
    examples = []
    if any("dp-sgd" in t for t in texts):
        examples.append(FIRST_EXAMPLE if noun == "orals" else "Which papers study DP-SGD?")
    for topic in EXAMPLE_TOPICS:
        if sum(topic in t for t in texts) >= 2:
            examples.append(f"Which {noun} are about {topic}?")
            if len(examples) >= limit - 1:
                break
    authors = Counter(a for r in records for a in r.authors)
    if authors:
        author, count = authors.most_common(1)[0]
        if count >= 2:
            examples.append(f"Which {noun} did {author} co-author?")
    return examples[:limit]


class ChatHandlers:
    """The functions behind the page, over one shared ``PaperChat``; state lives in sessions."""

    def __init__(self, pc: PaperChat) -> None:
        self.pc = pc
        self.stats = pc.stats()
        self.facets = pc.searcher.facets()

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
        chat = list(chat or [])
        if not question:
            yield PageUpdate(status=render.status_html(self.stats, note="Type a question first."))
            return
        chosen = choose_filters(venue, year, status)
        carried = dict(session.turns[-1].answer.filters) if session.turns else {}
        asked, ignored = question, {}
        if ignore_implied:
            ignored = {k: v for k, v in {**carried, **self._implied(question)}.items() if k not in chosen}
            asked = without_implied_words(question, ignored) if ignored else question
        # "any" everywhere lets the conversation carry the last turn's filters; a choice (or
        # ignoring implied filters) makes the dropdowns the whole truth for this question
        where = chosen if chosen or ignore_implied else None
        shown = render.user_markdown(question)
        if ignored:
            dropped = ", ".join(f"{k}: {v}" for k, v in ignored.items())
            shown += "\n\n*(" + render.md_escape(f"asked again without the implied filter {dropped}") + ")*"
        chat.append({"role": "user", "content": shown})
        chat.append({"role": "assistant", "content": f"*Searching {self.stats['records']} papers…*"})
        yield PageUpdate(chat=list(chat), message="", can_drop_implied=False)

        text, answer = "", None
        try:
            for event in answer_events(self.pc, asked, session.history(), where):
                if isinstance(event, Answer):
                    answer = event
                    continue
                text += event
                chat[-1] = {"role": "assistant", "content": render.answer_markdown(text)}
                yield PageUpdate(chat=list(chat))
        except USER_ERRORS as error:
            yield self._failed(chat, str(error))
            return
        except Exception as error:  # the page must answer, never hang on a traceback
            log.exception("answering %r failed", question)
            yield self._failed(chat, f"Something went wrong answering this ({type(error).__name__}); the server log has details.")
            return
        if answer is None:
            answer = Answer(text=text, citations=[], backend="unknown", notices=["the backend returned no citations"])

        implied = {k: v for k, v in answer.filters.items() if k not in chosen}
        from_question = self._implied(asked)
        carried_over = {k: v for k, v in implied.items() if from_question.get(k) != v}
        session.turns.append(Turn(question, answer, chosen, implied, ignored))
        shown_text = answer.text or text
        chat[-1] = {"role": "assistant", "content": render.answer_markdown(shown_text, answer.citations, numbers(answer))}
        bib_path, csv_path = self.write_exports(session, answer)
        yield PageUpdate(
            chat=list(chat),
            sources=render.sources_html(answer, numbers(answer), question),
            chips=render.chips_html(
                chosen, {k: v for k, v in implied.items() if k not in carried_over}, ignored, carried_over
            ),
            status=render.status_html(self.stats, answer),
            session=session,
            bibtex_path=bib_path,
            csv_path=csv_path,
            can_drop_implied=bool(implied),
            downloads_visible=bool(answer.citations),
        )

    def ask_without_implied(
        self, chat: list[dict[str, str]] | None, session: ChatSession, venue: str | None = ANY,
        year: str | int | None = ANY, status: str | None = ANY,
    ) -> Iterator[PageUpdate]:
        """Ask the last question again with the filters its wording implied removed."""
        if not session.turns:
            return
        yield from self.respond(session.turns[-1].question, chat, session, venue, year, status, ignore_implied=True)

    def _implied(self, question: str) -> dict[str, Any]:
        searcher = self.pc.searcher
        return implied_filters(question, searcher.venues, searcher.years, searcher.statuses)

    def _failed(self, chat: list[dict[str, str]], reason: str) -> PageUpdate:
        chat[-1] = {"role": "assistant", "content": render.md_escape(f"⚠ {reason}")}
        return PageUpdate(chat=list(chat), status=render.status_html(self.stats, note=reason))

    # -- the rest of the page ---------------------------------------------------------------

    def filters_changed(
        self, venue: str | None, year: str | int | None, status: str | None, ignore_implied: bool = False
    ) -> str:
        """The chips for the next question once the dropdowns change."""
        note = " Filters the question implies will be ignored." if ignore_implied else ""
        return render.chips_html(choose_filters(venue, year, status), {}) + (
            f'<div class="pc-muted">Applied to your next question.{note}</div>'
        )

    def new_chat(self, session: ChatSession) -> PageUpdate:
        """Forget this tab's history and downloads; other tabs are untouched."""
        session.cleanup()
        return PageUpdate(
            chat=[], message="", sources=render.sources_html(None), chips=render.chips_html({}, {}),
            status=render.status_html(self.stats), session=ChatSession(), can_drop_implied=False,
            downloads_visible=False,
        )

    def write_exports(self, session: ChatSession, answer: Answer) -> tuple[str | None, str | None]:
        """BibTeX and CSV of the answer's cited papers, in the session's own directory."""
        if not answer.citations:
            return None, None
        folder = session.directory()
        stem = f"paperchat-answer-{len(session.turns)}"
        bib = folder / f"{stem}.bib"
        bib.write_text(render.bibtex(answer.citations), encoding="utf-8")
        table = folder / f"{stem}.csv"
        table.write_text(render.csv_text(answer.citations), encoding="utf-8")
        return str(bib), str(table)


# -- layout ------------------------------------------------------------------------------------


def page_theme() -> gr.themes.Base:
    """The default theme on system fonts only: the page fetches nothing from outside."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def launch_style() -> dict[str, Any]:
    """Theme and CSS, which Gradio 6 takes at ``launch()`` rather than in ``Blocks``."""
    return {"theme": page_theme(), "css": render.PAGE_CSS}


def build_demo(pc: PaperChat, chat_concurrency: int = 4) -> gr.Blocks:
    """Lay out the page over ``pc`` (which must have a store: raises ``StoreMissingError``)."""
    handlers = ChatHandlers(pc)
    facets = handlers.facets
    with gr.Blocks(title="paperchat") as demo:
        gr.Markdown(
            "## paperchat\nAsk about the papers in the loaded conference listings. Every answer cites "
            "the papers it comes from; check them in the sources panel on the right."
        )
        status_box = gr.HTML(render.status_html(handlers.stats), js_on_load=None, elem_id="pc-status")
        session = gr.State(ChatSession(), delete_callback=ChatSession.cleanup)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat", show_label=False, height=520, latex_delimiters=[], elem_id="pc-chat",
                    placeholder="Ask a question below, or click one of the examples.",
                )
                with gr.Row():
                    message = gr.Textbox(
                        placeholder="e.g. Which orals study DP-SGD?", show_label=False, scale=5,
                        autofocus=True, submit_btn=False, elem_id="pc-question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="pc-ask")
                examples = example_questions(pc)
                gr.Markdown("Try an example (click to ask):", elem_classes="pc-hint")
                with gr.Row(elem_id="pc-examples"):
                    example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in examples]
                gr.Markdown("Filters for the next question:", elem_classes="pc-hint")
                with gr.Row():
                    venue = gr.Dropdown([ANY, *facets["venue"]], value=ANY, label="Venue", elem_id="pc-venue")
                    year = gr.Dropdown([ANY, *map(str, facets["year"])], value=ANY, label="Year", elem_id="pc-year")
                    status = gr.Dropdown([ANY, *facets["status"]], value=ANY, label="Status", elem_id="pc-status-filter")
                    ignore = gr.Checkbox(
                        False, label="Ignore filters the question implies (“orals” → status Oral)", scale=2,
                        elem_id="pc-ignore-implied",
                    )
                with gr.Row():
                    new_chat = gr.Button("New chat", size="sm", elem_id="pc-new-chat")
                    bib_button = gr.DownloadButton("Cited papers as BibTeX", visible=False, size="sm")
                    csv_button = gr.DownloadButton("Cited papers as CSV", visible=False, size="sm")
            with gr.Column(scale=2):
                chips = gr.HTML(render.chips_html({}, {}), js_on_load=None, elem_id="pc-chips")
                drop_implied = gr.Button(
                    "Remove the filters implied by the question and ask again", size="sm", visible=False
                )
                sources = gr.HTML(
                    render.sources_html(None), js_on_load=None, elem_id="pc-sources", label="Sources",
                    max_height=720,
                )

        outputs = [chatbot, message, sources, chips, status_box, session, bib_button, csv_button, drop_implied]

        def as_outputs(update: PageUpdate) -> tuple[Any, ...]:
            def keep(value: Any) -> Any:
                return gr.skip() if value is None else value

            files = {"visible": update.downloads_visible} if update.downloads_visible is not None else {}
            return (
                keep(update.chat), keep(update.message), keep(update.sources), keep(update.chips),
                keep(update.status), keep(update.session),
                gr.update(**files, **({"value": update.bibtex_path} if update.bibtex_path else {})),
                gr.update(**files, **({"value": update.csv_path} if update.csv_path else {})),
                gr.skip() if update.can_drop_implied is None else gr.update(visible=update.can_drop_implied),
            )

        def respond(msg, history, state, v, y, s, ig):
            for update in handlers.respond(msg, history, state, v, y, s, ig):
                yield as_outputs(update)

        def again(history, state, v, y, s):
            for update in handlers.ask_without_implied(history, state, v, y, s):
                yield as_outputs(update)

        chat_inputs = [message, chatbot, session, venue, year, status, ignore]
        event_options = {"concurrency_limit": chat_concurrency, "concurrency_id": "chat"}
        message.submit(respond, chat_inputs, outputs, **event_options)
        ask.click(respond, chat_inputs, outputs, **event_options)
        for button, question in zip(example_buttons, examples):
            button.click(lambda q=question: q, None, message, queue=False).then(
                respond, chat_inputs, outputs, **event_options
            )
        drop_implied.click(again, [chatbot, session, venue, year, status], outputs, **event_options)
        new_chat.click(lambda state: as_outputs(handlers.new_chat(state)), session, outputs)
        for control in (venue, year, status, ignore):
            control.change(handlers.filters_changed, [venue, year, status, ignore], chips, queue=False)
    return demo

