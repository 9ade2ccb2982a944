"""What every listing parser shares: the error type, the result, user defaults, text cleaning.

Parsers are small functions ``parse(text, path) -> ParseResult`` over already-decoded text;
reading bytes, choosing the format and the final clean-up live in :mod:`ingest.parsers`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.records import PaperRecord


class ListingParseError(Exception):
    """A listing (or one entry of it) could not be read.

    It always names the file, and the line and/or entry when known, because the person who
    sees it has to open that file and fix that spot: ``data/x.txt, line 41 (entry 3): ...``.
    """

    def __init__(
        self, path: str | Path, message: str, line: int | None = None, entry: int | None = None
    ) -> None:
        self.path = str(path)
        self.message = message
        self.line = line
        self.entry = entry
        super().__init__(self.path, message, line, entry)

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f", line {self.line}"
            if self.entry is not None:
                where += f" (entry {self.entry})"
        elif self.entry is not None:
            where += f", entry {self.entry}"
        return f"{where}: {self.message}"


@dataclass
class ListingDefaults:
    """Values the user gave on the command line (``--venue``, ``--year``, ``--status``).

    A value given here is applied to *every* record of the listing and wins over whatever the
    listing says or the parser inferred (e.g. from the file name): the user knows what the file
    is better than a heuristic does, and a listing's own label may be wrong or too coarse.
    ``None`` leaves the parsed value alone.
    """

    venue: str | None = None
    year: int | None = None
    status: str | None = None

    def apply(self, record: PaperRecord) -> None:
        """Overwrite the record's venue/year/status with every value the user gave."""
        if self.venue is not None:
            record.venue = self.venue
        if self.year is not None:
            record.year = self.year
        if self.status is not None:
            record.status = self.status


@dataclass
class ParseResult:
    """The records of one listing file, plus the entries that had to be skipped.

    A bad entry does not sink the file: it is reported in ``problems`` (each naming its line
    and entry) and the rest of the file is still parsed, so one stray line in a 2,600-paper
    listing costs one paper, not the ingest.
    """

    path: str
    format: str
    records: list[PaperRecord] = field(default_factory=list)
    problems: list[ListingParseError] = field(default_factory=list)


# Only tags that occur in scraped listings, and attributes only in name="value" form, so
# maths such as "a <b and c> d" or "x<y" in an abstract is never mistaken for markup.
_TAG_NAMES = (
    "a|abbr|b|big|blockquote|br|cite|code|del|dfn|div|em|font|h[1-6]|hr|i|img|ins|kbd|li|"
    "mark|ol|p|pre|q|s|small|span|strike|strong|sub|sup|tt|u|ul|var|math|mi|mn|mo|mrow|msup|"
    "msub|mfrac|msqrt|mtext"
)
_ATTR = r"""\s+[\w:-]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>]+)"""
_TAG_RE = re.compile(rf"</?(?P<name>{_TAG_NAMES})(?:{_ATTR})*\s*/?>", re.IGNORECASE)
#: Tags that separate words; inline ones (<i>, <sub>) vanish so "x<sub>2</sub>." stays "x2.".
_BLOCK_TAGS = frozenset("blockquote br div h1 h2 h3 h4 h5 h6 hr li ol p pre ul".split())
_ZERO_WIDTH_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def clean_text(text: str | None) -> str | None:
    """Strip HTML tags and entities, zero-width characters and runs of whitespace.

    Listings are copied out of web pages, so they carry markup (``<i>``, ``&amp;``), invisible
    characters that break exact matching, and hard line wraps. Returns ``None`` for text that
    is empty once cleaned, so "no abstract" has one spelling.
    """
    if text is None:
        return None
    text = _TAG_RE.sub(lambda m: " " if m["name"].lower() in _BLOCK_TAGS else "", text)
    text = html.unescape(text)
    text = _ZERO_WIDTH_RE.sub("", text)
    text = " ".join(text.split())
    return text or None


def clean_authors(names: list[str]) -> list[str]:
    """Clean each author name and drop the empty ones (from ``A ;; B`` or a trailing ``;``)."""
    cleaned = (clean_text(name) for name in names)
    return [name for name in cleaned if name]


def split_authors(text: str, separator: str) -> list[str]:
    """Split an author string on ``separator``, stripping names and dropping empty ones."""
    return [name.strip() for name in text.split(separator) if name.strip()]
