"""The papers.cool listing: a venue header, then ``#N Title [tags]``, ``Authors:``, abstract.

Example::

    ICML.2024 - Oral
    | Total: 144
    #1 Active Statistical Inference [PDF54] [Copy] [Kimi101] [REL]
    Authors: Tijana Zrnic ; Emmanuel Candes
    Inspired by the concept of active learning, ...

The ``#N`` numbers are the site's, not ours: a copied or trimmed page may skip or repeat them,
so entries are numbered by their position in the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.parsers.base import ListingParseError, ParseResult, split_authors
from ingest.records import PaperRecord, SourceRef

FORMAT = "paperscool"

#: "ICML.2024 - Oral", "NeurIPS.2023 - Spotlight Poster".
HEADER_RE = re.compile(r"^(?P<venue>[A-Za-z][\w-]*)\.(?P<year>\d{4})\s+-\s+(?P<status>\S.*)$")
ENTRY_RE = re.compile(r"^#(?P<number>\d+)\s+(?P<title>\S.*)$")
AUTHORS_RE = re.compile(r"^Authors:\s*(?P<authors>.*)$")
#: The "| Total: 144" line under the header.
TOTAL_RE = re.compile(r"^\|\s*Total:\s*\d+\s*$")
#: The site's buttons after a title: [PDF54] [Copy] [Kimi101] [REL]. Only trailing ones go.
TRAILING_TAGS_RE = re.compile(r"(?:\s*\[[A-Za-z]+\d*\])+\s*$")


def looks_like(text: str) -> bool:
    """True if the text has a ``#N Title`` line followed soon after by an ``Authors:`` line."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if ENTRY_RE.match(line.strip()):
            following = (ln.strip() for ln in lines[i + 1 : i + 4])
            if any(AUTHORS_RE.match(ln) for ln in following):
                return True
    return False


def parse(text: str, path: str | Path) -> ParseResult:
    """Parse a papers.cool listing; an entry without authors or abstract becomes a problem."""
    lines = text.split("\n")
    result = ParseResult(path=str(path), format=FORMAT)
    venue, year, status = _header(lines)
    starts = [i for i, line in enumerate(lines) if ENTRY_RE.match(line.strip())]
    if not starts:
        raise ListingParseError(
            path, "no papers.cool entries found (expected lines like '#1 Title [PDF] ...')"
        )
    for entry, (start, end) in enumerate(zip(starts, starts[1:] + [len(lines)]), start=1):
        try:
            record = _entry(lines[start:end], str(path), entry, start + 1)
        except ListingParseError as problem:
            result.problems.append(problem)
            continue
        record.venue, record.year, record.status = venue, year, status
        result.records.append(record)
    return result


def _header(lines: list[str]) -> tuple[str | None, int | None, str | None]:
    """Venue, year and status from the ``VENUE.YEAR - STATUS`` line before the first entry."""
    for line in lines:
        line = line.strip()
        if ENTRY_RE.match(line):
            break
        match = HEADER_RE.match(line)
        if match:
            return match["venue"], int(match["year"]), match["status"].strip()
    return None, None, None


def _entry(block: list[str], path: str, entry: int, line_no: int) -> PaperRecord:
    """One entry from its header line up to (not including) the next header line."""
    match = ENTRY_RE.match(block[0].strip())
    assert match is not None  # the caller found the block by this pattern
    title = TRAILING_TAGS_RE.sub("", match["title"]).strip()
    if not title:
        raise ListingParseError(path, "entry has no title before its [..] tags", line_no, entry)
    # Page chrome inside an entry means two copied pages were joined: it is not abstract text.
    body = [line.strip() for line in block[1:]
            if not (HEADER_RE.match(line.strip()) or TOTAL_RE.match(line.strip()))]  # fmt: skip
    authors_at = next((i for i, ln in enumerate(body) if AUTHORS_RE.match(ln)), None)
    if authors_at is None:
        raise ListingParseError(
            path, "'Authors:' line missing (entry truncated?)", line_no, entry
        )
    authors = split_authors(AUTHORS_RE.match(body[authors_at])["authors"], ";")
    if not authors:
        raise ListingParseError(path, "'Authors:' line lists no names", line_no, entry)
    abstract = "\n".join(body[authors_at + 1 :]).strip()
    if not abstract:
        raise ListingParseError(path, "abstract missing (entry truncated?)", line_no, entry)
    source = SourceRef(file=Path(path).name, entry=entry, format=FORMAT, line=line_no)
    return PaperRecord(title=title, authors=authors, abstract=abstract, sources=[source])
