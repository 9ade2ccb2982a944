"""The text of a conference virtual site's session page (e.g. ICML 2024 "Orals").

Each paper is a block::

    Oral
    Li Sun · Zhenhao Huang · Hao Peng
    Abstract

    Graph clustering is a fundamental problem ...

The titles were links on the page and are lost in the text copy, so records have
``title=None``; they get titles by merging with a listing that has them. Page chrome above
the first block ("Skip to yearly menu bar ...", "Orals") is ignored. A block is recognised by
its shape (a one-word status line, an authors line, then ``Abstract``), not by the word
"Oral", so Spotlight and Poster pages parse too.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.parsers.base import ListingParseError, ParseResult, split_authors
from ingest.records import PaperRecord, SourceRef

FORMAT = "icml-virtual"

STATUS_RE = re.compile(r"^[A-Z][A-Za-z]*$")
ABSTRACT_MARK = "Abstract"
AUTHOR_SEPARATOR = "\u00b7"  # the middle dot in "Li Sun · Zhenhao Huang"
#: "ICML 2024", "NeurIPS 2023" in the page chrome: two or more capitals, then a year.
VENUE_YEAR_RE = re.compile(
    r"\b(?P<venue>[A-Z][A-Za-z]*[A-Z][A-Za-z]*)\s+(?P<year>(?:19|20)\d{2})\b"
)


def looks_like(text: str) -> bool:
    """True if some block has the status / authors / ``Abstract`` shape."""
    lines = [line.strip() for line in text.split("\n")]
    return any(_block_start(lines, i) == "complete" for i in range(len(lines)))


def parse(text: str, path: str | Path) -> ParseResult:
    """Parse the page text; a block without authors or abstract becomes a problem."""
    lines = [line.strip() for line in text.split("\n")]
    result = ParseResult(path=str(path), format=FORMAT)
    starts: list[tuple[int, bool]] = []  # (line index, has an authors line)
    i = 0
    while i < len(lines):
        shape = _block_start(lines, i)
        if shape is None:
            i += 1
            continue
        starts.append((i, shape == "complete"))
        i += 3 if shape == "complete" else 2
    if not starts:
        raise ListingParseError(
            path, "no virtual-site entries found (expected a status line such as 'Oral', "
            "an authors line 'A · B', then a line 'Abstract')"
        )
    venue, year = _venue_year(lines[: starts[0][0]])
    tail = _cut_off_tail(lines, starts)
    if tail is not None:
        result.problems.append(ListingParseError(
            path, "entry is cut off: the file ends after its first lines, before 'Abstract' "
            "and the abstract (truncated?)", tail + 1, len(starts) + 1,
        ))
    ends = [start for start, _ in starts[1:]] + [len(lines) if tail is None else tail]
    for entry, ((start, has_authors), end) in enumerate(zip(starts, ends), start=1):
        line_no = start + 1
        if not has_authors:
            result.problems.append(
                ListingParseError(path, "authors line missing before 'Abstract'", line_no, entry)
            )
            continue
        body_from = start + 3
        abstract = "\n".join(lines[body_from:end]).strip()
        if not abstract:
            result.problems.append(
                ListingParseError(path, "abstract missing (entry truncated?)", line_no, entry)
            )
            continue
        source = SourceRef(file=Path(path).name, entry=entry, format=FORMAT, line=line_no)
        result.records.append(
            PaperRecord(
                title=None,
                authors=split_authors(lines[start + 1], AUTHOR_SEPARATOR),
                abstract=abstract,
                venue=venue,
                year=year,
                status=lines[start],
                sources=[source],
            )
        )
    return result


def _block_start(lines: list[str], i: int) -> str | None:
    """``"complete"`` if a block starts at line ``i``, ``"no-authors"`` if one starts there but
    its authors line is missing (status directly followed by ``Abstract``), else ``None``."""
    if not STATUS_RE.match(lines[i]) or lines[i] == ABSTRACT_MARK:
        return None
    following = lines[i + 1 : i + 3]
    if len(following) == 2 and following[1] == ABSTRACT_MARK and following[0]:
        if following[0] != ABSTRACT_MARK:
            return "complete"
    if following[:1] == [ABSTRACT_MARK]:
        return "no-authors"
    return None


def _cut_off_tail(lines: list[str], starts: list[tuple[int, bool]]) -> int | None:
    """The line index where a block cut short by the end of the file starts, or None.

    Such a block ends the file with a status line seen on this page ("Oral"), optionally its
    authors line, and optionally a partial "Abst": it is not recognised as a block, so without
    this check those lines would be glued onto the previous paper's abstract.
    """
    statuses = {lines[start] for start, _ in starts}
    body_from = starts[-1][0] + 3
    filled = [i for i in range(body_from, len(lines)) if lines[i]]
    for size in (3, 2, 1):
        last = filled[-size:]
        if len(last) < size or last != list(range(last[0], last[0] + size)):
            continue  # not consecutive lines, as a block's first lines are
        first = lines[last[0]]
        if first not in statuses or (size == 3 and not _abstract_prefix(lines[last[2]])):
            continue
        if last[0] - 1 >= body_from and lines[last[0] - 1]:
            continue  # glued to the text above: part of a paragraph, not a new block
        return last[0]
    return None


def _abstract_prefix(line: str) -> bool:
    return 0 < len(line) < len(ABSTRACT_MARK) and ABSTRACT_MARK.startswith(line)


def _venue_year(chrome: list[str]) -> tuple[str | None, int | None]:
    """Venue and year if the page chrome names them (``ICML 2024``), else ``(None, None)``."""
    for line in chrome:
        match = VENUE_YEAR_RE.search(line)
        if match:
            return match["venue"], int(match["year"])
    return None, None
