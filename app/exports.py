"""The cited papers of one answer as BibTeX and CSV downloads.

Exports carry the listing's own text (titles, abstracts' evidence) unchanged, since they
are data for a reference manager or a spreadsheet, not a page. Two properties matter:

- rows and entries carry the number the answer cited each paper with ([2] in the text is
  number 2 in the CSV, even when a model cited [2] and [5] only);
- nothing in them can run: BibTeX specials are escaped so braces balance, and a CSV cell
  starting with ``=``, ``+``, ``-`` or ``@`` is prefixed so a spreadsheet shows it as text.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from app.lookup import paper_links, primary_url, safe_url
from app.papers import UNTITLED_NOTE, Paper

_BIBTEX_SPECIAL = re.compile(r"([{}%&$#_\\])")
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS: tuple[str, ...] = (
    "number", "rank", "citation", "title", "authors", "venue", "year", "status", "url", "links", "score",
    "evidence", "id",
)


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


def score_ranks(papers: Sequence[Paper]) -> list[int]:
    """Each paper's rank by search score among ``papers`` (1 = best), in their given order.

    The page shows the same ranks on the cards, so "rank 2" means the same in both places.
    """
    order = sorted(range(len(papers)), key=lambda i: (-papers[i].score, i))
    ranks = [0] * len(papers)
    for rank, index in enumerate(order, start=1):
        ranks[index] = rank
    return ranks


def _csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would otherwise run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text


def csv_text(papers: Sequence[Paper], numbers: Sequence[int] | None = None) -> str:
    """The cited papers as CSV, one row each, numbered as the answer numbered them."""
    shown = list(numbers) if numbers is not None and len(numbers) == len(papers) else range(1, len(papers) + 1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for number, rank, paper in zip(shown, score_ranks(papers), papers):
        links = " ".join(url for _, url in paper_links(paper))
        row = (
            number, rank, paper.citation, paper.title or "", "; ".join(paper.authors), paper.venue, paper.year,
            paper.status, safe_url(paper.url) or "", links, f"{paper.score:.6f}", paper.evidence, paper.id,
        )
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()
