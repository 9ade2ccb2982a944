"""HTML and Markdown the chat page shows, built so that listing text can never become markup.

Everything here is a pure function of an :class:`~app.papers.Answer` or its papers, so the
page's look is unit-tested without a browser. Three rules hold in every function:

- listing text is shown in its readable form (:func:`app.display.readable`: ``*ViP*---a``
  becomes ``ViP—a``, ``$\\epsilon=8$`` becomes ``ε=8``), which is plain text, never markup;
- all text that came from a listing (titles, authors, abstracts, evidence, file names) and
  from the user is escaped after that, before it is placed in HTML or Markdown, so an
  abstract holding ``<img src=x onerror=alert(1)>`` shows those characters instead of
  running them;
- a link is emitted only for an ``http``/``https`` URL (:func:`app.lookup.safe_url`);
  ``javascript:``, ``data:`` and friends are dropped, not "fixed".
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from app.display import listing_label, readable, untitled_label
from app.exports import score_ranks
from app.lookup import citation_target, paper_links, primary_url, safe_url, search_links
from app.papers import NEAREST_HEADING, UNTITLED_NOTE, Answer, Paper, short_authors

__all__ = [
    "safe_url", "esc", "md_escape", "answer_markdown", "declined_markdown", "paper_list_markdown",
    "paper_list_pieces", "sources_html", "text_pieces", "user_markdown",
]

#: Authors listed on a card before "et al.".
CARD_AUTHORS = 12
#: Institutions a card names before "and N more".
CARD_AFFILIATIONS = 6
#: Closes an extractive answer in the chat, whose evidence is on the cards beside it.
PAPER_LIST_HINT = "Why each paper matched: its card in the sources panel."
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
_CITE_MARK = re.compile(r"\\\[(\d{1,3})\\\]")
_ITEM_START = re.compile(r"^\[\d+\]")
#: Private-use characters marking the evidence inside an abstract while it is made readable.
_MARK_OPEN, _MARK_CLOSE = "\ue010", "\ue011"


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included, so it is safe inside attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def md_escape(text: str) -> str:
    """Escape text for the chat's Markdown: no tags, no emphasis, no links, no maths.

    Even readable text holds ``*``, ``_``, ``[`` and ``$``; unescaped they would turn into
    italics, half-rendered formulas, or ``[x](javascript:...)`` into a link.
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def link(url: str | None, label: str, css_class: str = "", tooltip: str = "") -> str:
    """An anchor opening in a new tab, or the bare escaped label when the URL is unsafe."""
    safe = safe_url(url)
    if safe is None:
        return esc(label)
    cls = f' class="{esc(css_class)}"' if css_class else ""
    tip = f' title="{esc(tooltip)}"' if tooltip else ""
    return f'<a href="{esc(safe)}" target="_blank" rel="noopener noreferrer nofollow"{cls}{tip}>{esc(label)}</a>'


# -- the chat message ------------------------------------------------------------------------


def answer_markdown(text: str, citations: Sequence[Paper] = (), numbers: Sequence[int] | None = None) -> str:
    """The answer as chat Markdown: readable, escaped, line breaks kept, ``[n]`` linked to paper n.

    ``numbers`` are the numbers the answer gave its citations (a model may cite [2] and [5]);
    by default the citations are [1], [2], ... in order. A paper without a link of its own
    links to a search for it, and the link's tooltip says it is a search.

    Indented lines (the extractive "Evidence:" lines) would become code blocks in Markdown,
    so they are shown as quoted continuation lines instead.
    """
    lines = []
    for raw in text.splitlines():
        stripped = readable(raw.strip()).strip()
        if not stripped:
            lines.append("")
        elif raw[:1].isspace():
            lines.append(f"> {md_escape(stripped)}")
        else:
            if lines and lines[-1].startswith(">"):
                lines.append("")  # end the quote before the next item
            lines.append(md_escape(stripped))
    body = "\n".join(lines)
    by_number = dict(zip(numbers or range(1, len(citations) + 1), citations))

    def number(match: re.Match[str]) -> str:
        n = int(match.group(1))
        target = citation_target(by_number[n]) if n in by_number else None
        label = f"&#91;{n}&#93;"
        if target is None or safe_url(target[0]) is None:
            return f"<b>{label}</b>"
        url, tooltip = target
        return (
            f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow" title="{esc(tooltip)}">'
            f"{label}</a>"
        )

    return _CITE_MARK.sub(number, body)


def paper_list_markdown(answer: Answer, numbers: Sequence[int] | None = None, shown: int | None = None) -> str:
    """An extractive answer in the chat: its "N of M" line, then one line per cited paper.

    The extractive text quotes each paper's evidence sentence; the sources panel beside the
    chat shows the same sentence highlighted on the paper's card, so in the chat it doubled
    every answer's height and pushed the first titles out of view. The lines are built from
    the cited records (title, or the card's untitled form, authors, venue), like the cards.
    ``shown`` stops after that many papers (the answer appearing line by line).
    """
    lead = []
    for line in answer.text.splitlines():
        if _ITEM_START.match(line):
            break
        if line.strip():
            lead.append(line.strip())
    pairs = list(zip(numbers or range(1, len(answer.citations) + 1), answer.citations))
    items = []
    for n, paper in pairs[:shown]:
        items.append(f"[{n}] {short_line(paper)}")
    done = shown is None or shown >= len(pairs)
    parts = ["\n".join(lead), "\n".join(items), PAPER_LIST_HINT if done else ""]
    return answer_markdown("\n\n".join(part for part in parts if part), answer.citations, numbers)


def short_line(paper: Paper) -> str:
    """A paper in one chat line, as its card names it: title or untitled form, authors, venue."""
    venue = paper.venue_label
    label = f"{paper.title or untitled_label(paper.abstract)} — {short_authors(paper.authors, limit=3)}"
    return label + (f" ({venue})" if venue else "")


def declined_markdown(answer: Answer) -> str:
    """A declined answer in the chat: that nothing matched, then its closest papers, one line
    each in the cards' short form, marked as not answers (they get cards, not numbers)."""
    lead = answer.text.split(NEAREST_HEADING, 1)[0].strip()
    lines = [f"– {short_line(paper)}" for paper in answer.nearest]
    return answer_markdown("\n\n".join([lead, "\n".join([NEAREST_HEADING, *lines])]))


def paper_list_pieces(answer: Answer, numbers: Sequence[int] | None = None) -> list[str]:
    """The chat's paper list growing one paper at a time, ending with the whole list."""
    return [paper_list_markdown(answer, numbers, shown) for shown in range(len(answer.citations))] + [
        paper_list_markdown(answer, numbers)
    ]


def text_pieces(text: str) -> list[str]:
    """Split a finished answer into streamable pieces: the lead, then one per ``[n]`` item."""
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        if not pieces or _ITEM_START.match(line):
            pieces.append(line)
        else:
            pieces[-1] += line
    return pieces or [text]


def user_markdown(message: str) -> str:
    """The user's question as chat Markdown (escaped like everything else, shown as typed)."""
    return md_escape(message)


def current_question_html(question: str | None, note: str = "") -> str:
    """The question being answered, kept above the chat: a long answer scrolls it out of view."""
    if not question:
        return ""
    extra = f' <span class="pc-muted">{esc(note)}</span>' if note else ""
    return f'<div class="pc-current"><span class="pc-muted">You asked:</span> <b>{esc(question)}</b>{extra}</div>'


# -- the sources panel -----------------------------------------------------------------------


def highlighted(text: str | None, evidence: str | None) -> str:
    """``text`` readable and escaped, with the evidence sentence inside ``<mark>`` when found.

    The evidence is located in the listing's own text (where it was picked from), marked
    with two private-use characters, and only then made readable, so conversion of
    ``$...$`` or ``*...*`` cannot shift the highlight.
    """
    clean = (text or "").replace(_MARK_OPEN, "").replace(_MARK_CLOSE, "")
    needle = (evidence or "").rstrip("…").strip()
    at = clean.find(needle) if needle else -1
    if at < 0:
        return esc(readable(clean))
    end = at + len(needle)
    shown = esc(readable(clean[:at] + _MARK_OPEN + clean[at:end] + _MARK_CLOSE + clean[end:]))
    opened, closed = shown.find(_MARK_OPEN), shown.find(_MARK_CLOSE)
    if shown.count(_MARK_OPEN) != 1 or shown.count(_MARK_CLOSE) != 1 or opened > closed:
        return esc(readable(clean))
    return shown.replace(_MARK_OPEN, "<mark>").replace(_MARK_CLOSE, "</mark>")


def highlighted_abstract(abstract: str | None, evidence: str | None) -> str:
    """The abstract with its evidence sentence marked, or a note that the listing gave none."""
    if not abstract:
        return '<span class="pc-muted">The listing gave no abstract.</span>'
    return highlighted(abstract, evidence)


def card_title(paper: Paper) -> str:
    """The title (linked when the listing gave a page), or the short untitled form."""
    url = primary_url(paper)
    if paper.title:
        return f'<span class="pc-title">{link(url, readable(paper.title), tooltip="Open the paper" if url else "")}</span>'
    label = untitled_label(paper.abstract)
    return (
        f'<span class="pc-title pc-untitled" title="{esc(UNTITLED_NOTE)}; shown by the first words of its abstract">'
        f"{link(url, label)}</span>"
    )


def authors_line(paper: Paper) -> str:
    """All authors up to :data:`CARD_AUTHORS`, shown once."""
    if not paper.authors:
        return "unknown authors"
    shown = ", ".join(paper.authors[:CARD_AUTHORS])
    if len(paper.authors) > CARD_AUTHORS:
        shown += f" et al. ({len(paper.authors)} authors)"
    return esc(shown)


def affiliations_line(paper: Paper) -> str:
    """The authors' institutions, when the listing names them (up to :data:`CARD_AFFILIATIONS`)."""
    if not paper.affiliations:
        return ""
    shown = "; ".join(paper.affiliations[:CARD_AFFILIATIONS])
    if len(paper.affiliations) > CARD_AFFILIATIONS:
        shown += f" and {len(paper.affiliations) - CARD_AFFILIATIONS} more"
    return f'<div class="pc-affiliations">{esc(shown)}</div>'


def relevance(paper: Paper, rank: int, count: int) -> str:
    """'rank 1 of 4', with the raw score named in a tooltip; ranks agree with the CSV export."""
    tip = (
        f"Ranked by the hybrid search (keywords + meaning): score {paper.score:.4f}, higher is better. "
        f"The same rank is in the CSV export."
    )
    best = " · best match" if rank == 1 and count > 1 else ""
    return f'<span class="pc-score" title="{esc(tip)}">relevance: rank {rank} of {count}{best}</span>'


def links_line(paper: Paper) -> str:
    """The listing's own links, else searches for the paper, labelled as searches."""
    own = paper_links(paper)
    if own:
        return "Open: " + " · ".join(link(url, label) for label, url in own)
    searches = search_links(paper)
    if not searches:
        return '<span class="pc-muted">No link in the listing, and nothing to search by.</span>'
    anchors = " · ".join(
        link(s.url, s.label, "pc-search", tooltip=f"Search {s.label} {s.hint} (a search, not a known link)") for s in searches
    )
    return f'<span class="pc-muted">No link in the listing. Search {esc(searches[0].hint)}:</span> {anchors}'


def origin_line(paper: Paper) -> str:
    """Where the record came from: 'listing 001 entry 39', the full file names in a tooltip."""
    if not paper.sources:
        return ""
    short = ", ".join(f"{listing_label(s.get('file'))} entry {s.get('entry')}" for s in paper.sources)
    full = "; ".join(
        f"{s.get('file')} entry {s.get('entry')}" + (f", line {s['line']}" if s.get("line") else "") for s in paper.sources
    )
    return f'<div class="pc-origin" title="{esc(full)}">From {esc(short)}</div>'


def source_card(number: int | None, paper: Paper, rank: int = 1, count: int = 1) -> str:
    """One cited paper: what it is, who wrote it, why it matched, where to check it.

    ``number`` None makes the card of a closest paper a declined answer shows: no citation
    number, no rank, and its sentence is the nearest it came, not why it matched.
    """
    meta = " · ".join(esc(v) for v in (paper.venue, paper.year, paper.status) if v) or "venue unknown"
    why = "Why it matched:" if number is not None else "Closest sentence:"
    evidence = (
        f'<div class="pc-evidence"><span class="pc-label">{why}</span> '
        f"<mark>{esc(readable(paper.evidence))}</mark></div>"
        if paper.evidence else ""
    )
    if number is None:
        head = f'<article class="pc-card pc-nearest" data-paper-id="{esc(paper.id)}"><div class="pc-card-head">'
        score = '<span class="pc-score">below the relevance bar</span>'
    else:
        head = (f'<article class="pc-card" id="pc-source-{number}" data-paper-id="{esc(paper.id)}">'
                f'<div class="pc-card-head"><span class="pc-num">[{number}]</span> ')  # fmt: skip
        score = relevance(paper, rank, count)
    return (
        f"{head}{card_title(paper)}</div>"
        f'<div class="pc-authors">{authors_line(paper)}</div>'
        f"{affiliations_line(paper)}"
        f'<div class="pc-meta"><span class="pc-badge">{meta}</span>{score}</div>'
        f"{evidence}"
        f'<details class="pc-abstract"><summary>Full abstract (evidence highlighted)</summary>'
        f"<p>{highlighted_abstract(paper.abstract, paper.evidence)}</p></details>"
        f'<div class="pc-links">{links_line(paper)}</div>'
        f"{origin_line(paper)}"
        "</article>"
    )


def sources_html(answer: Answer | None, numbers: Sequence[int] | None = None, question: str | None = None) -> str:
    """The sources panel: 'N of M papers searched matched', then one card per cited paper, in order.

    Cards carry the numbers the answer used for them (``numbers``; default 1, 2, ...). The
    question is repeated on top because after a few turns the panel is far from it.
    """
    if answer is None:
        return (
            '<div class="pc-sources pc-empty">Ask a question: the papers an answer cites appear here, '
            "with the sentence that made each one match.</div>"
        )
    # Worded like the answer text, and saying which papers were searched: "2 of 144" next to
    # "146 papers loaded" in the status line reads as a bug unless the filter is named here.
    head = f"{answer.matched:,} of {answer.searched:,} papers searched matched"
    if answer.filters:
        head += " (searched only " + ", ".join(f"{k} = {v}" for k, v in answer.filters.items()) + ")"
    shown = list(numbers or range(1, len(answer.citations) + 1))
    ranks = score_ranks(answer.citations)
    count = len(answer.citations)
    cards = "".join(source_card(n, p, r, count) for n, p, r in zip(shown, answer.citations, ranks))
    if not cards:
        cards = (
            '<div class="pc-empty">No paper in the loaded listings matched. '
            "Try other words, or remove a filter.</div>"
        )
        if answer.nearest:
            cards += f'<div class="pc-nearest-head">{esc(NEAREST_HEADING)}</div>'
            cards += "".join(source_card(None, p) for p in answer.nearest)
    asked = f'<div class="pc-asked">Sources for “{esc(question)}”</div>' if question else ""
    return f'<div class="pc-sources">{asked}<div class="pc-count">{esc(head)}</div>{cards}</div>'


PAGE_CSS = """
.pc-sources { font-size: 0.95em; }
.pc-asked { color: var(--body-text-color-subdued); font-size: 0.9em; }
.pc-count { font-weight: 600; margin-bottom: 0.5em; }
.pc-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em 0.8em;
  margin-bottom: 0.6em; background: var(--background-fill-secondary); }
.pc-card-head { font-weight: 600; }
.pc-num { color: var(--color-accent); margin-right: 0.2em; }
.pc-untitled { font-style: italic; font-weight: 500; }
.pc-authors { color: var(--body-text-color-subdued); margin: 0.2em 0; }
.pc-affiliations { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 0 0 0.2em; }
.pc-meta { display: flex; gap: 0.8em; align-items: center; font-size: 0.9em; flex-wrap: wrap; }
.pc-badge { border-radius: 4px; padding: 0 0.4em; background: var(--background-fill-primary);
  border: 1px solid var(--border-color-primary); }
.pc-score { color: var(--body-text-color-subdued); cursor: help; }
.pc-evidence { margin: 0.4em 0; padding-left: 0.6em; border-left: 3px solid var(--color-accent); }
.pc-label { font-size: 0.85em; color: var(--body-text-color-subdued); }
.pc-sources mark { background: #fef3c7; color: inherit; border-radius: 2px; padding: 0 0.1em; }
.pc-abstract summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: 0.9em; }
.pc-links { font-size: 0.85em; margin-top: 0.3em; }
.pc-origin { font-size: 0.8em; color: var(--body-text-color-subdued); cursor: help; }
.pc-chips { display: flex; flex-wrap: wrap; gap: 0.4em; align-items: center; margin: 0.2em 0; }
.pc-chip { border-radius: 999px; padding: 0.1em 0.7em; border: 1px solid var(--border-color-primary);
  font: inherit; font-size: 0.95em; }
button.pc-chip { cursor: pointer; }
button.pc-chip:hover { border-color: var(--color-accent); }
.pc-x { margin-left: 0.4em; font-weight: 700; }
.pc-chip-user { background: #dbeafe; color: #1e3a8a; }
.pc-chip-implied { background: #fef3c7; color: #78350f; }
.pc-chip-ignored { background: var(--background-fill-secondary); }
.pc-muted { color: var(--body-text-color-subdued); }
.pc-status { font-size: 0.95em; color: var(--body-text-color); padding: 0.45em 0.75em;
  border: 1px solid var(--border-color-primary); border-radius: 6px; background: var(--background-fill-secondary); }
.pc-notice { color: #92400e; background: #fef3c7; border-radius: 4px; padding: 0.25em 0.5em; margin-top: 0.35em;
  font-weight: 500; }
.pc-hint p { margin: 0.2em 0 0 0; font-size: 0.9em; color: var(--body-text-color-subdued); }
.pc-empty { color: var(--body-text-color-subdued); padding: 0.5em 0; }
.pc-current { font-size: 0.95em; padding: 0.3em 0.6em; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); border-radius: 4px; }
.pc-current b { font-weight: 600; }
.pc-nearest-head { margin: 0.6em 0 0.4em 0; color: var(--body-text-color-subdued); font-size: 0.9em; }
.pc-nearest { opacity: 0.8; border-style: dashed; }
/* the footer keeps only its settings link: the separators Gradio draws between links stand alone */
footer .divider { display: none; }
"""
