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

from ingest.parsers.base import ListingParseError, ParseResult, author_list, distinct_values, split_authors
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
    """Parse the array; malformed JSON raises, a malformed element becomes a problem.

    A file that stops before its closing ``]`` (a download or copy cut short) keeps the
    entries that are complete, and the cut-off one is reported with its line.
    """
    result = ParseResult(path=str(path), format=FORMAT)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        joined = _joined_arrays(text) if exc.msg == "Extra data" else None
        if joined is not None:
            elements = joined
        elif text.lstrip().startswith("[") and not text.rstrip().endswith("]"):
            elements = _complete_elements(text, path, result)
        else:
            raise ListingParseError(
                path, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno
            ) from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, 5,000-digit numbers
        raise ListingParseError(path, f"invalid JSON: {_reason(exc)}") from None
    else:
        if not isinstance(data, list):
            raise ListingParseError(
                path, f"expected a JSON array of paper objects, found a JSON {_json_type(data)}", 1
            )
        elements = list(zip(data, _element_lines(text, len(data))))
    venue, year = venue_year_from_name(path)
    for entry, (item, line_no) in enumerate(elements, start=1):
        try:
            record = _record(item)
        except _BadEntry as exc:
            result.problems.append(ListingParseError(path, str(exc), line_no, entry))
            continue
        record.venue, record.year = venue, year
        record.sources = [SourceRef(file=Path(path).name, entry=entry, format=FORMAT, line=line_no)]
        result.records.append(record)
    return result


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (column {exc.colno})"
    return str(exc)


def _joined_arrays(text: str) -> list[tuple[Any, int]] | None:
    """The elements of several JSON arrays written one after another (``cat a.json b.json``),
    with their lines; None unless the text is exactly that."""
    decoder = json.JSONDecoder()
    elements: list[tuple[Any, int]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return elements
        start = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            return None
        if not isinstance(value, list):
            return None
        lines = _element_lines(text[start:pos], len(value))
        base = text.count("\n", 0, start)
        elements.extend((item, base + line) for item, line in zip(value, lines))


def _complete_elements(text: str, path: str | Path, result: ParseResult) -> list[tuple[Any, int]]:
    """The elements of a truncated array up to the first one that does not decode.

    The entry where decoding stops is added to ``result.problems``; nothing after it can be
    trusted (a cut file has nothing after it anyway).
    """
    decoder = json.JSONDecoder()
    elements: list[tuple[Any, int]] = []
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        line = text.count("\n", 0, pos) + 1
        entry = len(elements) + 1
        if pos >= len(text):
            result.problems.append(ListingParseError(
                path, f"the file ends after entry {len(elements)} without the closing ']' "
                "(truncated?); the entries before were read", line,
            ))
            return elements
        try:
            item, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError, ValueError) as exc:
            result.problems.append(ListingParseError(
                path, f"entry is cut off or broken ({_reason(exc)}); the file ends without its "
                f"closing ']' (truncated?), so the {len(elements)} entries before it were read "
                "and nothing after", line, entry,
            ))
            return elements
        elements.append((item, line))
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text):
            result.problems.append(ListingParseError(
                path, f"expected ',' after entry {entry}; the file ends without its closing ']' "
                f"(truncated?), so the {len(elements)} entries before were read",
                text.count("\n", 0, pos) + 1,
            ))
            return elements


def _record(item: Any) -> PaperRecord:
    """One paperlists object as a record (without venue, year or source)."""
    if not isinstance(item, dict):
        raise _BadEntry(f"entry is a JSON {_json_type(item)}, expected an object")
    title = _text(item, "title")
    key = "author" if "author" in item else "authors"
    raw_authors = item.get(key)
    if raw_authors is None or isinstance(raw_authors, str):
        authors = split_authors(raw_authors or "", ";")
    else:
        names = author_list(raw_authors)
        if names is None:
            raise _BadEntry(
                f"'{key}' is a JSON {_json_type(raw_authors)}, expected text, a list of text, "
                'or a list of {"name": ...} objects'
            )
        authors = names
    if not (title and title.strip()) and not authors:
        raise _BadEntry("entry has neither a title nor authors")
    links = {kind: url.strip() for key, kind in LINK_KEYS.items() if (url := _text(item, key))}
    return PaperRecord(
        title=title,
        authors=authors,
        abstract=_text(item, "abstract"),
        status=_text(item, "status"),
        links={kind: url for kind, url in links.items() if url},
        affiliations=_values(item, "aff"),
        domains=[d.lower() for d in _values(item, "aff_domain")],
    )


def _values(item: dict[str, Any], key: str) -> list[str]:
    """The distinct values of a ``"A;B"`` (or list) field such as ``aff``; wrong shapes are an error."""
    values = distinct_values(item.get(key))
    if values is None:
        raise _BadEntry(f"'{key}' is a JSON {_json_type(item.get(key))}, expected text or a list of text")
    return values


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
