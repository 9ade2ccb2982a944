"""The paperlists JSON format: one JSON array of paper objects per conference and year.

Records carry ``title``, ``author`` (``"A;B;C"``), ``status``, and links (``site``, ``pdf``,
``or`` for OpenReview, ``proceeding``), but no venue or year: the collection keeps those in
the file name (``icml2024.json``), so that is where they are read from. Most files have no
abstracts; the ones that do use an ``abstract`` key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ingest.parsers.base import ListingParseError, ParseResult, split_authors
from ingest.records import PaperRecord, SourceRef

FORMAT = "paperlists"

#: "paperlists_icml2024.json", "icml2024.json", "neurips_2023.json".
FILE_NAME_RE = re.compile(r"(?:^|[_\-.])(?P<venue>[a-z]+)[_\-]?(?P<year>(?:19|20)\d{2})\.json$")
#: How the collection's lower-case venue names are spelled by people.
VENUE_SPELLING = {"neurips": "NeurIPS", "nips": "NeurIPS", "colm": "COLM", "corl": "CoRL"}
#: paperlists key -> PaperRecord link kind.
LINK_KEYS = {"site": "site", "pdf": "pdf", "or": "openreview", "proceeding": "proceeding"}


class _BadEntry(ValueError):
    """An entry that cannot become a record; the message says which field is wrong."""


def looks_like(text: str) -> bool:
    """True if the text is a JSON array whose first element is an object with a title/author.

    Only the opening of the text is examined, so sniffing a 10 MB listing stays cheap.
    """
    head = text.lstrip()[:4000]
    if not head.startswith("["):
        return False
    first = head[1:].lstrip()
    return first.startswith("{") and bool(re.search(r'"(title|author|authors)"\s*:', first))


def venue_year_from_name(path: str | Path) -> tuple[str | None, int | None]:
    """Venue and year from a paperlists file name such as ``icml2024.json``."""
    match = FILE_NAME_RE.search(Path(path).name.lower())
    if not match:
        return None, None
    name = match["venue"]
    return VENUE_SPELLING.get(name, name.upper()), int(match["year"])


def parse(text: str, path: str | Path) -> ParseResult:
    """Parse the array; malformed JSON raises, a malformed element becomes a problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ListingParseError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)
    if not isinstance(data, list):
        raise ListingParseError(
            path, f"expected a JSON array of paper objects, found a JSON {type(data).__name__}", 1
        )
    result = ParseResult(path=str(path), format=FORMAT)
    venue, year = venue_year_from_name(path)
    lines = _element_lines(text, len(data))
    for entry, (item, line_no) in enumerate(zip(data, lines), start=1):
        try:
            record = _record(item)
        except _BadEntry as exc:
            result.problems.append(ListingParseError(path, str(exc), line_no, entry))
            continue
        record.venue, record.year = venue, year
        record.sources = [SourceRef(file=Path(path).name, entry=entry, format=FORMAT, line=line_no)]
        result.records.append(record)
    return result


def _record(item: Any) -> PaperRecord:
    """One paperlists object as a record (without venue, year or source)."""
    if not isinstance(item, dict):
        raise _BadEntry(f"entry is a JSON {_json_type(item)}, expected an object")
    title = _text(item, "title")
    key = "author" if "author" in item else "authors"
    raw_authors = item.get(key)
    if raw_authors is None or isinstance(raw_authors, str):
        authors = split_authors(raw_authors or "", ";")
    elif isinstance(raw_authors, list) and all(isinstance(a, str) for a in raw_authors):
        authors = [a.strip() for a in raw_authors if a.strip()]
    else:
        raise _BadEntry(
            f"'{key}' is a JSON {_json_type(raw_authors)}, expected text or a list of text"
        )
    if not (title and title.strip()) and not authors:
        raise _BadEntry("entry has neither a title nor authors")
    links = {kind: url.strip() for key, kind in LINK_KEYS.items() if (url := _text(item, key))}
    return PaperRecord(
        title=title,
        authors=authors,
        abstract=_text(item, "abstract"),
        status=_text(item, "status"),
        links={kind: url for kind, url in links.items() if url},
    )


def _text(item: dict[str, Any], key: str) -> str | None:
    """The string at ``key``, ``None`` if absent, null or empty; any other type is an error."""
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _BadEntry(f"'{key}' is a JSON {_json_type(value)}, expected text")
    return value


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, as the person editing the file would say it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "null")


def _element_lines(text: str, count: int) -> list[int]:
    """The 1-based line on which each top-level array element starts.

    Called only on text that already parsed, so walking it with ``raw_decode`` cannot fail;
    a second pass costs little next to knowing which line to open when an entry is bad.
    """
    decoder = json.JSONDecoder()
    lines: list[int] = []
    line, counted_to = 1, 0
    pos = text.index("[") + 1
    for _ in range(count):
        while text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        lines.append(line)
        _, pos = decoder.raw_decode(text, pos)
    return lines
