"""HTML and Markdown the chat page shows, built so that listing text can never become markup.

Everything here is a pure function of an :class:`~app.papers.Answer` or its papers, so the
page's look is unit-tested without a browser. Two rules hold in every function:

- all text that came from a listing (titles, authors, abstracts, evidence, file names) and
  from the user is escaped before it is placed in HTML or Markdown, so an abstract holding
  ``<img src=x onerror=alert(1)>`` shows those characters instead of running them;
- a link is emitted only for an ``http``/``https`` URL (:func:`safe_url`); ``javascript:``,
  ``data:`` and friends are dropped, not "fixed".
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from app.papers import UNTITLED_NOTE, Answer, Paper

#: Link labels in the order cards show them; other keys of ``Paper.links`` follow.
LINK_ORDER: tuple[str, ...] = ("site", "pdf", "openreview", "code")
#: Authors listed on a card before "et al.".
CARD_AUTHORS = 12
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
_CITE_MARK = re.compile(r"\\\[(\d{1,3})\\\]")
_ITEM_START = re.compile(r"^\[\d+\]")


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included, so it is safe inside attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def md_escape(text: str) -> str:
    """Escape text for the chat's Markdown: no tags, no emphasis, no links, no maths.

    Listing text is full of ``*``, ``_`` and ``$`` (``*ViP*``, ``$\\epsilon=8$``); shown raw it
    would turn into italics or half-rendered formulas, and ``[x](javascript:...)`` into a link.
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def safe_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) link without control characters, else None.

    Browsers ignore tabs and newlines inside a scheme (``java\\nscript:``), so any control
    character or space disqualifies the URL rather than being stripped.
    """
    if not url or not isinstance(url, str):
        return None
    candidate = url.strip()
    if not candidate or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return candidate


def link(url: str | None, label: str, css_class: str = "") -> str:
    """An anchor opening in a new tab, or the bare escaped label when the URL is unsafe."""
    safe = safe_url(url)
    if safe is None:
        return esc(label)
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f'<a href="{esc(safe)}" target="_blank" rel="noopener noreferrer nofollow"{cls}>{esc(label)}</a>'


def paper_links(paper: Paper) -> list[tuple[str, str]]:
    """(label, url) for every safe link of a paper, each URL once, known labels first."""
    candidates: list[tuple[str, str | None]] = [("page", paper.url)]
    keys = [k for k in LINK_ORDER if k in paper.links] + sorted(k for k in paper.links if k not in LINK_ORDER)
    candidates += [(key, paper.links.get(key)) for key in keys]
    seen: set[str] = set()
    links: list[tuple[str, str]] = []
    for label, url in candidates:
        safe = safe_url(url)
        if safe and safe not in seen:
            seen.add(safe)
            links.append((label, safe))
    return links


def primary_url(paper: Paper) -> str | None:
    """Where a citation number links to: the paper's own page, else its first safe link."""
    links = paper_links(paper)
    return links[0][1] if links else None


# -- the chat message ------------------------------------------------------------------------


def answer_markdown(text: str, citations: Sequence[Paper] = (), numbers: Sequence[int] | None = None) -> str:
    """The answer as chat Markdown: escaped, line breaks kept, ``[n]`` linked to paper n.

    ``numbers`` are the numbers the answer gave its citations (a model may cite [2] and [5]);
    by default the citations are [1], [2], ... in order.

    Indented lines (the extractive "Evidence:" lines) would become code blocks in Markdown,
    so they are shown as quoted continuation lines instead.
    """
    lines = []
    for raw in text.splitlines():
        stripped = raw.strip()
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
        url = primary_url(by_number[n]) if n in by_number else None
        label = f"&#91;{n}&#93;"
        if url is None:
            return f"<b>{label}</b>"
        return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{label}</a>'

    return _CITE_MARK.sub(number, body)


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
    """The user's question as chat Markdown (escaped like everything else)."""
    return md_escape(message)


# -- the sources panel -----------------------------------------------------------------------


def highlighted_abstract(abstract: str | None, evidence: str | None) -> str:
    """The abstract, escaped, with the evidence sentence inside ``<mark>`` when found."""
    if not abstract:
        return '<span class="pc-muted">The listing gave no abstract.</span>'
    needle = (evidence or "").rstrip("…").strip()
    at = abstract.find(needle) if needle else -1
    if at < 0:
        return esc(abstract)
    end = at + len(needle)
    return f"{esc(abstract[:at])}<mark>{esc(abstract[at:end])}</mark>{esc(abstract[end:])}"


def source_card(number: int, paper: Paper) -> str:
    """One cited paper: what it is, who wrote it, why it matched, where to check it."""
    title_class = "pc-title" if paper.title else "pc-title pc-untitled"
    title = link(primary_url(paper), paper.citation)
    authors = ", ".join(paper.authors[:CARD_AUTHORS])
    if len(paper.authors) > CARD_AUTHORS:
        authors += f" et al. ({len(paper.authors)} authors)"
    meta = " · ".join(esc(v) for v in (paper.venue, paper.year, paper.status) if v) or "venue unknown"
    links = [link(url, label) for label, url in paper_links(paper)]
    listed = ", ".join(
        f"{esc(s.get('file'))} entry {esc(s.get('entry'))}" + (f" (line {esc(s['line'])})" if s.get("line") else "")
        for s in paper.sources
    )
    evidence = (
        f'<div class="pc-evidence">Evidence: “{esc(paper.evidence)}”</div>' if paper.evidence else ""
    )
    return (
        f'<article class="pc-card" id="pc-source-{number}" data-paper-id="{esc(paper.id)}">'
        f'<div class="pc-card-head"><span class="pc-num">[{number}]</span> '
        f'<span class="{title_class}">{title}</span></div>'
        f'<div class="pc-authors">{esc(authors) or "unknown authors"}</div>'
        f'<div class="pc-meta"><span class="pc-badge">{meta}</span>'
        f'<span class="pc-score" title="fused rank score of the hybrid search; higher is better">'
        f"relevance {paper.score:.4f}</span></div>"
        f"{evidence}"
        f'<details class="pc-abstract"><summary>Abstract (evidence highlighted)</summary>'
        f"<p>{highlighted_abstract(paper.abstract, paper.evidence)}</p></details>"
        f'<div class="pc-links">{" · ".join(links) if links else "no links in the listing"}'
        f'{" — listed in " + listed if listed else ""}</div>'
        "</article>"
    )


def sources_html(answer: Answer | None, numbers: Sequence[int] | None = None, question: str | None = None) -> str:
    """The sources panel: 'N of M papers matched', then one card per cited paper, in order.

    Cards carry the numbers the answer used for them (``numbers``; default 1, 2, ...). The
    question is repeated on top because after a few turns the panel is far from it.
    """
    if answer is None:
        return (
            '<div class="pc-sources pc-empty">Ask a question: the papers an answer cites appear here, '
            "with the sentence that made each one match.</div>"
        )
    head = f"{answer.matched} of {answer.searched} papers matched"
    if answer.filters:
        head += " (filters: " + ", ".join(f"{k} = {v}" for k, v in answer.filters.items()) + ")"
    shown = numbers or range(1, len(answer.citations) + 1)
    cards = "".join(source_card(n, p) for n, p in zip(shown, answer.citations))
    if not cards:
        cards = (
            '<div class="pc-empty">No paper in the loaded listings matched. '
            "Try other words, or set the filters to “any”.</div>"
        )
    asked = f'<div class="pc-asked">Sources for “{esc(question)}”</div>' if question else ""
    return f'<div class="pc-sources">{asked}<div class="pc-count">{esc(head)}</div>{cards}</div>'


# -- filter chips and status -----------------------------------------------------------------


def chips_html(
    chosen: Mapping[str, Any],
    implied: Mapping[str, Any],
    ignored: Mapping[str, Any] | None = None,
    carried: Mapping[str, Any] | None = None,
) -> str:
    """Filters as chips: set by the user, implied by the question, kept from the last turn, ignored."""
    chips = [f'<span class="pc-chip pc-chip-user">{esc(k)}: {esc(v)} <small>(your filter)</small></span>'
             for k, v in chosen.items()]
    chips += [f'<span class="pc-chip pc-chip-implied">{esc(k)}: {esc(v)} <small>(implied by the question)</small></span>'
              for k, v in implied.items()]
    chips += [f'<span class="pc-chip pc-chip-implied">{esc(k)}: {esc(v)} <small>(kept from the previous question)</small></span>'
              for k, v in (carried or {}).items()]
    chips += [f'<span class="pc-chip pc-chip-ignored"><s>{esc(k)}: {esc(v)}</s> <small>(ignored)</small></span>'
              for k, v in (ignored or {}).items()]
    if not chips:
        return '<div class="pc-chips"><span class="pc-muted">Filters: none — every loaded paper is searched.</span></div>'
    return '<div class="pc-chips"><span class="pc-muted">Filters:</span> ' + " ".join(chips) + "</div>"


def corpus_line(stats: Mapping[str, Any]) -> str:
    """'144 papers loaded (ICML 2024) from 2 listings: a.txt, b.txt' — what the page can answer from."""
    venues = ", ".join(sorted(str(v) for v in stats.get("by_venue", {})))
    listings = sorted(stats.get("listings", {}))
    names = ", ".join(listings[:4]) + (f" and {len(listings) - 4} more" if len(listings) > 4 else "")
    noun = "listing" if len(listings) == 1 else "listings"
    return f"{stats.get('records', 0)} papers loaded ({venues}) from {len(listings)} {noun}: {names}"


def status_html(stats: Mapping[str, Any], answer: Answer | None = None, note: str | None = None) -> str:
    """The status line: what answered, what is loaded, and any degradation notice."""
    parts = []
    if answer is not None:
        parts.append(f"Answered by <b>{esc(answer.backend)}</b>")
    parts.append(esc(corpus_line(stats)))
    notices = list(answer.notices) if answer is not None else []
    if note:
        notices.append(note)
    notice_html = "".join(f'<div class="pc-notice">⚠ {esc(n)}</div>' for n in notices)
    return f'<div class="pc-status">{" · ".join(parts)}{notice_html}</div>'



# -- exports ---------------------------------------------------------------------------------

_BIBTEX_SPECIAL = re.compile(r"([{}%&$#_\\])")
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _ascii_word(text: str) -> str:
    """Lower-case ASCII letters and digits only: 'Rocktäschel' -> 'rocktaschel'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def bibtex_key(paper: Paper) -> str:
    """First author's surname + year + first title word: 'yu2024vip' (untitled: 'yu2024untitled')."""
    surname = _ascii_word(paper.authors[0].split()[-1]) if paper.authors and paper.authors[0].split() else ""
    words = [_ascii_word(w) for w in (paper.title or "").split()]
    first = next((w for w in words if w), "untitled")
    return f"{surname or 'anon'}{paper.year or ''}{first}"


def _bib_value(text: Any) -> str:
    """A BibTeX field value with TeX specials escaped, so braces always balance."""
    value = re.sub(r"\s+", " ", str(text)).strip()
    return _BIBTEX_SPECIAL.sub(lambda m: "\\textbackslash{}" if m.group(1) == "\\" else "\\" + m.group(1), value)


def bibtex(papers: Sequence[Paper]) -> str:
    """BibTeX entries for the cited papers; an untitled paper says so in ``note`` instead of a title."""
    entries: list[str] = []
    used: dict[str, int] = {}
    for paper in papers:
        key = bibtex_key(paper)
        used[key] = used.get(key, 0) + 1
        if used[key] > 1:
            key += chr(ord("a") + used[key] - 2) if used[key] <= 27 else str(used[key])
        fields: list[tuple[str, Any]] = []
        if paper.title:
            fields.append(("title", paper.title))
        if paper.authors:
            fields.append(("author", " and ".join(paper.authors)))
        if paper.venue:
            fields.append(("booktitle", paper.venue))
        if paper.year:
            fields.append(("year", paper.year))
        url = primary_url(paper)
        if url:
            fields.append(("url", url))
        if paper.status:
            fields.append(("keywords", paper.status))
        if not paper.title:
            fields.append(("note", UNTITLED_NOTE))
        body = ",\n".join(f"  {name} = {{{_bib_value(value)}}}" for name, value in fields)
        entries.append(f"@inproceedings{{{key},\n{body}\n}}\n")
    return "\n".join(entries)


CSV_COLUMNS: tuple[str, ...] = (
    "number", "citation", "title", "authors", "venue", "year", "status", "url", "links", "score", "evidence", "id",
)


def _csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would otherwise run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text


def csv_text(papers: Sequence[Paper]) -> str:
    """The cited papers as CSV, one row each, numbered as in the answer."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for number, paper in enumerate(papers, start=1):
        links = " ".join(url for _, url in paper_links(paper))
        row = (
            number, paper.citation, paper.title or "", "; ".join(paper.authors), paper.venue, paper.year,
            paper.status, safe_url(paper.url) or "", links, f"{paper.score:.6f}", paper.evidence, paper.id,
        )
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()


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
.pc-meta { display: flex; gap: 0.8em; align-items: center; font-size: 0.9em; }
.pc-badge { border-radius: 4px; padding: 0 0.4em; background: var(--background-fill-primary);
  border: 1px solid var(--border-color-primary); }
.pc-score { color: var(--body-text-color-subdued); }
.pc-evidence { margin: 0.4em 0; padding-left: 0.6em; border-left: 3px solid var(--color-accent); }
.pc-abstract summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: 0.9em; }
.pc-abstract mark { background: #fde68a; color: inherit; }
.pc-links { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 0.3em; }
.pc-chips { display: flex; flex-wrap: wrap; gap: 0.4em; align-items: center; }
.pc-chip { border-radius: 999px; padding: 0.1em 0.7em; border: 1px solid var(--border-color-primary); }
.pc-chip-user { background: #dbeafe; color: #1e3a8a; }
.pc-chip-implied { background: #fef3c7; color: #78350f; }
.pc-chip-ignored { background: var(--background-fill-secondary); }
.pc-muted { color: var(--body-text-color-subdued); }
.pc-status { font-size: 0.9em; color: var(--body-text-color-subdued); }
.pc-notice { color: #b45309; margin-top: 0.2em; }
.pc-hint p { margin: 0.2em 0 0 0; font-size: 0.9em; color: var(--body-text-color-subdued); }
.pc-empty { color: var(--body-text-color-subdued); padding: 0.5em 0; }
"""
