"""The browser chat page: ``build_demo(pc)`` returns a Gradio ``Blocks``; nothing runs on import.

The functions behind the page live in :mod:`app.ui_handlers` and yield plain
:class:`~app.ui_state.PageUpdate` values; this module only lays out components and
translates updates into Gradio outputs. HTML is built in :mod:`app.ui_render` and
:mod:`app.ui_status`.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no calls home

from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402

from app import ui_render as render  # noqa: E402
from app import ui_status  # noqa: E402
from app.lanes import Lane  # noqa: E402
from app.paperchat import PaperChat  # noqa: E402
from app.ui_handlers import ChatHandlers, answer_events, example_questions  # noqa: E402
from app.ui_state import (  # noqa: E402
    ANY, ChatSession, PageUpdate, Turn, choose_filters, dropdown_choices, without_implied_words,
)

__all__ = [
    "ANY", "ChatHandlers", "ChatSession", "PageUpdate", "Turn", "answer_events", "build_demo", "choose_filters",
    "example_questions", "launch_style", "without_implied_words",
]

SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
#: Workers for the chat events; cheap, since answers written by a model also wait in the lane.
CHAT_CONCURRENCY = 8
#: Answers a language model writes at once; a local model on 2 cores does best with one or two.
GENERATION_CONCURRENCY = 2

#: Sends a chip's field name back to the server; the handler checks it against FILTER_FIELDS.
CHIP_CLICKS = """
element.addEventListener('click', (event) => {
  const chip = event.target.closest('[data-remove],[data-clear]');
  if (!chip || !element.contains(chip)) return;
  trigger('click', {remove: chip.dataset.remove || '', clear: chip.dataset.clear || ''});
});
"""

#: Where the chat scrolls when its messages change: to the end while the latest answer fits,
#: else to that answer's question, so the "N of M papers matched" line and the first papers
#: are in view rather than the last line (Gradio's own autoscroll always went to the end).
KEEP_ANSWER_TOP = """
() => {
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const box = document.querySelector('#pc-chat .bubble-wrap');
    const asked = box ? box.querySelectorAll('.message-row.user-row') : [];
    const question = asked[asked.length - 1];
    if (!question) return;
    // the chat's share / clear / copy buttons float over its top edge: stop the question below them
    const bar = document.querySelector('#pc-chat .icon-button-wrapper');
    const boxTop = box.getBoundingClientRect().top;
    const clear = bar ? Math.max(0, bar.getBoundingClientRect().bottom - boxTop) + 4 : 0;
    const top = Math.max(0, question.getBoundingClientRect().top - boxTop + box.scrollTop - clear);
    box.scrollTop = box.scrollHeight - top > box.clientHeight ? top : box.scrollHeight;
  }));
}
"""


def page_theme() -> gr.themes.Base:
    """The default theme on system fonts only: the page fetches nothing from outside."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def launch_style() -> dict[str, Any]:
    """Theme and CSS, which Gradio 6 takes at ``launch()`` rather than in ``Blocks``."""
    return {"theme": page_theme(), "css": render.PAGE_CSS}


def chip_field(event: gr.EventData, key: str) -> str | None:
    """The field a clicked chip names (``remove`` or ``clear``), or None."""
    data = getattr(event, "_data", None) or {}
    value = data.get(key) if isinstance(data, dict) else None
    return value if value in ui_status.FILTER_FIELDS else None


def build_demo(
    pc: PaperChat, chat_concurrency: int = CHAT_CONCURRENCY, generation_concurrency: int = GENERATION_CONCURRENCY
) -> gr.Blocks:
    """Lay out the page over ``pc`` (which must have a store: raises ``StoreMissingError``)."""
    handlers = ChatHandlers(pc)
    if handlers.uses_model:
        handlers.lane = Lane(generation_concurrency)
    facets = handlers.facets
    with gr.Blocks(title="paperchat") as demo:
        gr.Markdown(
            "## paperchat\nAsk about the papers in the loaded conference listings. Every answer cites "
            "the papers it comes from; check them in the sources panel on the right."
        )
        status_box = gr.HTML(handlers.status(), js_on_load=None, elem_id="pc-status")
        session = gr.State(ChatSession(), delete_callback=ChatSession.cleanup)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                current = gr.HTML("", js_on_load=None, elem_id="pc-current")
                chatbot = gr.Chatbot(
                    label="Chat", show_label=False, height=480, latex_delimiters=[], elem_id="pc-chat",
                    autoscroll=False,  # KEEP_ANSWER_TOP scrolls instead
                    placeholder="Ask a question below, or click one of the examples.",
                )
                with gr.Row():
                    message = gr.Textbox(
                        placeholder="e.g. Which orals study DP-SGD?", show_label=False, scale=5,
                        autofocus=True, submit_btn=False, elem_id="pc-question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="pc-ask")
                with gr.Row(elem_id="pc-chat-actions"):
                    new_chat = gr.Button("New chat", size="sm", elem_id="pc-new-chat", scale=0, min_width=110)
                    bib_button = gr.DownloadButton(
                        "Cited papers as BibTeX", visible=False, size="sm", elem_id="pc-bibtex", scale=0, min_width=200
                    )
                    csv_button = gr.DownloadButton(
                        "Cited papers as CSV", visible=False, size="sm", elem_id="pc-csv", scale=0, min_width=180
                    )
                examples = example_questions(pc)
                gr.Markdown("Try an example (click to ask):", elem_classes="pc-hint")
                with gr.Row(elem_id="pc-examples"):
                    example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in examples]
                pending = gr.HTML(handlers.pending_chips({}, None), js_on_load=CHIP_CLICKS, elem_id="pc-pending")
                with gr.Row():
                    choices = dropdown_choices(facets)
                    venue = gr.Dropdown(choices["venue"], value=ANY, label="Venue", elem_id="pc-venue")
                    year = gr.Dropdown(choices["year"], value=ANY, label="Year", elem_id="pc-year")
                    status = gr.Dropdown(choices["status"], value=ANY, label="Status", elem_id="pc-status-filter")
                    # Hidden: the × on an implied-filter chip does the same from the answer; the
                    # box stays an input of the chat events for API clients.
                    ignore = gr.Checkbox(
                        False, label="Ignore filters the question implies (“orals” → status Oral)", visible=False,
                        elem_id="pc-ignore-implied",
                    )
            with gr.Column(scale=2):
                chips = gr.HTML(ui_status.answer_chips_html({}, {}), js_on_load=CHIP_CLICKS, elem_id="pc-chips")
                sources = gr.HTML(
                    render.sources_html(None), js_on_load=None, elem_id="pc-sources", label="Sources",
                    max_height=760,
                )

        # the first eight keep their positions from earlier versions (API clients index them)
        outputs = [
            chatbot, message, sources, chips, status_box, session, bib_button, csv_button,
            current, pending, venue, year, status,
        ]

        def as_outputs(update: PageUpdate) -> tuple[Any, ...]:
            def keep(value: Any) -> Any:
                return gr.skip() if value is None else value

            files = {"visible": update.downloads_visible} if update.downloads_visible is not None else {}
            dropdowns = update.filters or {}
            offered = update.filter_choices or {}

            def dropdown(name: str) -> Any:
                if name in offered:
                    value = {"value": dropdowns[name]} if name in dropdowns else {}
                    return gr.update(choices=offered[name], **value)
                return keep(dropdowns.get(name))
            return (
                keep(update.chat), keep(update.message), keep(update.sources), keep(update.chips),
                keep(update.status), keep(update.session),
                gr.update(**files, **({"value": update.bibtex_path} if update.bibtex_path else {})),
                gr.update(**files, **({"value": update.csv_path} if update.csv_path else {})),
                keep(update.current), keep(update.pending),
                *(dropdown(name) for name in ui_status.FILTER_FIELDS),
            )

        def respond(msg, history, state, v, y, s, ig):
            for update in handlers.respond(msg, history, state, v, y, s, ig):
                yield as_outputs(update)

        def remove(history, state, v, y, s, event: gr.EventData):
            for update in handlers.remove_filter(chip_field(event, "remove"), history, state, v, y, s):
                yield as_outputs(update)

        def clear(event: gr.EventData):
            values = handlers.clear_filter(chip_field(event, "clear"))
            return tuple(gr.skip() if name not in values else values[name] for name in ui_status.FILTER_FIELDS)

        chat_inputs = [message, chatbot, session, venue, year, status, ignore]
        event_options = {"concurrency_limit": chat_concurrency, "concurrency_id": "chat"}
        message.submit(respond, chat_inputs, outputs, **event_options)
        ask.click(respond, chat_inputs, outputs, **event_options)
        for button, question in zip(example_buttons, examples):
            button.click(lambda q=question: q, None, message, queue=False).then(
                respond, chat_inputs, outputs, **event_options
            )
        chips.click(remove, [chatbot, session, venue, year, status], outputs, **event_options)
        chatbot.change(None, js=KEEP_ANSWER_TOP, queue=False)
        pending.click(clear, None, [venue, year, status], queue=False)
        new_chat.click(
            lambda state, v, y, s, ig: as_outputs(handlers.new_chat(state, v, y, s, ig)),
            [session, venue, year, status, ignore], outputs,
        )
        for control in (venue, year, status, ignore):
            control.change(handlers.filters_changed, [venue, year, status, ignore, session], pending, queue=False)
    return demo
