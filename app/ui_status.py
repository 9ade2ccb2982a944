"""The filter chips and the status line of the chat page, as escaped HTML.

Two sets of chips, kept apart because they answer different questions:

- :func:`answer_chips_html` — what shaped the answer on screen (filters the user chose, the
  question implied, or the conversation kept). Each active chip is a button: clicking it
  asks the same question again without that filter.
- :func:`pending_chips_html` — what the *next* question will be filtered by (the dropdowns).
  Clicking one clears that dropdown.

The chips carry only a field name (``data-remove="status"`` / ``data-clear="status"``); the
page's script sends that name back and the handler checks it against :data:`FILTER_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.display import listing_label
from app.papers import Answer
from app.ui_render import esc

#: The filter fields a chip may name; anything else sent back by the page is ignored.
FILTER_FIELDS: tuple[str, ...] = ("venue", "year", "status")

#: How the status line names each backend, in words a researcher reads without the docs.
BACKEND_WORDS: dict[str, str] = {
    "extractive": "extractive",
    "openai": "OpenAI",
    "openai-compatible": "an OpenAI-compatible server",
    "local": "a local model (llama.cpp)",
}
EXTRACTIVE_NOTE = "no language model: it lists the matching papers and quotes their abstracts"


def _chip(field: str, value: Any, why: str, css: str, action: str, tip: str) -> str:
    """One chip as a button; the whole chip is the click target, the × only says so."""
    return (
        f'<button type="button" class="pc-chip {css}" data-{action}="{esc(field)}" title="{esc(tip)}" '
        f'aria-label="{esc(tip)}">{esc(field)}: {esc(value)} <small>{esc(why)}</small>'
        f'<span class="pc-x" aria-hidden="true">×</span></button>'
    )


def answer_chips_html(
    chosen: Mapping[str, Any],
    implied: Mapping[str, Any],
    ignored: Mapping[str, Any] | None = None,
    carried: Mapping[str, Any] | None = None,
) -> str:
    """The filters behind the answer on screen; each active one can be removed by a click."""
    tip = "Remove this filter and ask the same question again"
    chips = [_chip(k, v, "your filter", "pc-chip-user", "remove", tip) for k, v in chosen.items()]
    chips += [_chip(k, v, "implied by the question", "pc-chip-implied", "remove", tip) for k, v in implied.items()]
    chips += [
        _chip(k, v, "kept from the previous question", "pc-chip-implied", "remove", tip)
        for k, v in (carried or {}).items()
    ]
    chips += [
        f'<span class="pc-chip pc-chip-ignored" title="Removed: this answer was asked without it">'
        f"<s>{esc(k)}: {esc(v)}</s> <small>removed</small></span>"
        for k, v in (ignored or {}).items()
    ]
    if not chips:
        return '<div class="pc-chips pc-answer-chips"><span class="pc-muted">This answer searched every loaded paper (no filters).</span></div>'
    hint = ' <span class="pc-muted pc-chip-hint">(click a filter to remove it and ask again)</span>' if len(chips) > len(ignored or {}) else ""
    return (
        '<div class="pc-chips pc-answer-chips"><span class="pc-muted">This answer was filtered by:</span> '
        + " ".join(chips) + hint + "</div>"
    )


def pending_chips_html(
    chosen: Mapping[str, Any], kept: Mapping[str, Any] | None = None, ignore_implied: bool = False
) -> str:
    """The filters the next question will use; ``kept`` are the last answer's, carried by follow-ups."""
    chips = [
        _chip(k, v, "", "pc-chip-user", "clear", "Clear this filter for the next question")
        for k, v in chosen.items()
    ]
    parts = ['<span class="pc-muted">Next question:</span>']
    if chips:
        parts += chips
    elif kept:
        shown = ", ".join(f"{k}: {v}" for k, v in kept.items())
        parts.append(f'<span class="pc-muted">follow-ups keep this answer’s filters ({esc(shown)}) unless they name others</span>')
    else:
        parts.append('<span class="pc-muted">no filters (set some below)</span>')
    if ignore_implied:
        parts.append('<span class="pc-muted">· filters the question implies will be ignored</span>')
    return '<div class="pc-chips pc-pending-chips">' + " ".join(parts) + "</div>"


def corpus_line(stats: Mapping[str, Any]) -> str:
    """'144 papers loaded (ICML 2024) from 2 listings (listing 000, listing 001)'."""
    venues = ", ".join(sorted(str(v) for v in stats.get("by_venue", {})))
    listings = sorted(stats.get("listings", {}))
    short = ", ".join(listing_label(n) for n in listings[:4]) + (f" and {len(listings) - 4} more" if len(listings) > 4 else "")
    noun = "listing" if len(listings) == 1 else "listings"
    return f"{stats.get('records', 0)} papers loaded ({venues}) from {len(listings)} {noun} ({short})"


def backend_html(backend: str, model: str | None = None) -> str:
    """'<b>OpenAI</b> model <b>gpt-4o-mini</b>', or extractive with what that means."""
    words = BACKEND_WORDS.get(backend, backend)
    if backend == "extractive":
        return f"<b>{esc(words)}</b> ({esc(EXTRACTIVE_NOTE)})"
    return f"<b>{esc(words)}</b>" + (f" model <b>{esc(model)}</b>" if model else "")


def status_html(
    stats: Mapping[str, Any], answer: Answer | None = None, note: str | None = None, backend: str | None = None
) -> str:
    """The status line: what answered (or will answer), what is loaded, and any notice."""
    parts = []
    if answer is not None:
        model = answer.debug.get("model") if isinstance(answer.debug, dict) else None
        parts.append("Answered by " + backend_html(answer.backend, model if isinstance(model, str) else None))
    elif backend:
        parts.append("Answers by " + backend_html(backend))
    listings = "; ".join(sorted(stats.get("listings", {})))
    parts.append(f'<span title="{esc(listings)}">{esc(corpus_line(stats))}</span>')
    notices = list(answer.notices) if answer is not None else []
    if note:
        notices.append(note)
    notice_html = "".join(f'<div class="pc-notice">⚠ {esc(n)}</div>' for n in notices)
    return f'<div class="pc-status">{" · ".join(parts)}{notice_html}</div>'
