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
    #: Entries that were kept but changed on the way in (an absurdly long abstract cut to
    #: :data:`MAX_ABSTRACT_CHARS`): worth telling the user, not worth failing the ingest.
    notes: list[ListingParseError] = field(default_factory=list)


# Only tags that occur in scraped listings, and attributes only in name="value" form, so
# maths such as "a <b and c> d" or "x<y" in an abstract is never mistaken for markup.
_TAG_NAMES = (
    "a|abbr|article|b|big|blockquote|br|button|center|cite|code|del|dfn|div|em|figcaption|"
    "figure|font|footer|h[1-6]|header|hr|i|iframe|img|ins|kbd|label|li|mark|nav|ol|p|pre|q|s|"
    "section|small|span|strike|strong|sub|sup|table|tbody|td|th|thead|tr|tt|u|ul|var|"
    "math|mi|mn|mo|mrow|msup|msub|mfrac|msqrt|mtext"
)
_ATTR = r"""\s+[\w:-]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>]+)"""
_TAG_RE = re.compile(rf"</?(?P<name>{_TAG_NAMES})(?:{_ATTR})*\s*/?>", re.IGNORECASE)
#: Code and comments copied with a page are never listing text: drop them with their content.
_CODE_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
#: Tags that separate words; inline ones (<i>, <sub>) vanish so "x<sub>2</sub>." stays "x2.".
_BLOCK_TAGS = frozenset(
    "article blockquote br div figcaption figure footer h1 h2 h3 h4 h5 h6 header hr li nav ol "
    "p pre section table tbody td th thead tr ul".split()
)
#: Characters that print as nothing: zero-width spaces and joiners, the BOM, the soft hyphen,
#: and the bidirectional controls (LRM/RLM, embeddings, overrides, isolates, the Arabic letter
#: mark). Copied pages carry them; they break exact matching ("dif\u00adferential"), and the
#: bidi overrides can make a title display as something other than what it says. Right-to-left
#: *letters* (Hebrew, Arabic) are ordinary text and are kept.
INVISIBLE_RE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
#: C0 control characters other than whitespace: never text, sometimes left by bad exports.
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1b\x7f]")

#: Longest abstract kept, in characters. Real abstracts stay under 5,000 (OpenReview's limit);
#: a megabyte "abstract" is a whole paper or a scraping accident, and embedding all of it
#: (about a thousand chunks, minutes of CPU) would drown every search in one record.
MAX_ABSTRACT_CHARS = 20_000
#: Longest title kept, in characters (real ones stay under 300).
MAX_TITLE_CHARS = 1_000


def _strip_tags(text: str) -> str:
    return _TAG_RE.sub(lambda m: " " if m["name"].lower() in _BLOCK_TAGS else "", text)


def clean_text(text: str | None) -> str | None:
    """Strip HTML tags and entities, invisible characters and runs of whitespace.

    Listings are copied out of web pages, so they carry markup (``<i>``, ``&amp;``), invisible
    characters that break exact matching, and hard line wraps. Tags are stripped again after
    entities are decoded, because scraped JSON often escapes markup twice (``&lt;i&gt;``).
    Returns ``None`` for text that is empty once cleaned, so "no abstract" has one spelling.
    """
    if text is None:
        return None
    text = _strip_tags(_CODE_RE.sub(" ", text))
    text = _strip_tags(html.unescape(text))
    text = _CONTROL_RE.sub("", INVISIBLE_RE.sub("", text))
    text = " ".join(text.split())
    return text or None


def shorten(text: str | None, limit: int) -> str | None:
    """``text`` cut to at most ``limit`` characters at a word boundary (unchanged if shorter)."""
    if text is None or len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def clean_authors(names: list[str]) -> list[str]:
    """Clean each author name and drop the empty ones (from ``A ;; B`` or a trailing ``;``)."""
    cleaned = (clean_text(name) for name in names)
    return [name for name in cleaned if name]


_ENTITY_RE = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def split_authors(text: str, separator: str) -> list[str]:
    """Split an author string on ``separator``, stripping names and dropping empty ones.

    HTML entities are decoded first: the ``;`` that ends ``Ren&eacute;e`` is not a separator.
    """
    def decode(match: re.Match[str]) -> str:
        char = html.unescape(match[0])
        return match[0] if separator in char else char

    text = _ENTITY_RE.sub(decode, text)
    return [name.strip() for name in text.split(separator) if name.strip()]


def distinct_values(value: object) -> list[str] | None:
    """Each distinct non-blank text of ``"A;B;A"`` or ``["A", "B"]``, in order of first use.

    Used for affiliations and their domains, which paperlists gives once per author (so the
    same institution repeats); ``None`` when the value has another shape (the caller reports
    it), ``[]`` when it is absent.
    """
    if value is None:
        return []
    if isinstance(value, str):
        items: list[object] = list(split_authors(value, ";"))
    elif isinstance(value, list):
        items = list(value)
    else:
        return None
    seen: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str):
            return None
        if item.strip():
            seen.setdefault(" ".join(item.split()), None)
    return list(seen)


#: Keys that hold an author's name when a JSON listing gives authors as objects (OpenReview,
#: Semantic Scholar and most APIs export ``[{"name": "Ada Lovelace", ...}]``).
AUTHOR_NAME_KEYS = ("name", "fullname", "full_name")


def author_list(value: object) -> list[str] | None:
    """Names from a JSON author list of strings or ``{"name": ...}`` objects, in order;
    ``None`` when the value has another shape (the caller reports it)."""
    if not isinstance(value, list):
        return None
    names: list[str] = []
    for item in value:
        if isinstance(item, dict):
            item = next((item[k] for k in AUTHOR_NAME_KEYS if isinstance(item.get(k), str)), None)
        if not isinstance(item, str):
            return None
        if item.strip():
            names.append(item.strip())
    return names
