"""Generic tables of papers, one record per JSONL line or CSV row.

This is the escape hatch for listings in no known site format: a person can export their own
list with columns ``title``, ``authors`` (``"A; B"``, or a JSON list in JSONL; ``author`` is
accepted too), ``abstract``, and optionally ``venue``, ``year``, ``status`` and links
(``url``/``site``, ``pdf``, ``openreview``/``or``, ``proceeding``). Column names are matched
case-insensitively because spreadsheets capitalise them.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ingest.parsers.base import ListingParseError, ParseResult, split_authors
from ingest.records import PaperRecord, SourceRef

#: The columns that make a row a paper; a table needs at least one of them.
CONTENT_COLUMNS = ("title", "authors", "author", "abstract")
#: Column -> link kind, in order of preference when two columns give the same kind.
LINK_COLUMNS = (
    ("site", "site"), ("url", "site"), ("pdf", "pdf"),
    ("openreview", "openreview"), ("or", "openreview"), ("proceeding", "proceeding"),
)


class _BadRow(ValueError):
    """A row that cannot become a record; the message says which field is wrong."""


def looks_like_jsonl(text: str) -> bool:
    """True if one of the first few non-blank lines is a JSON object on its own."""
    for line in [ln for ln in text.split("\n") if ln.strip()][:5]:
        if line.lstrip().startswith("{"):
            try:
                if isinstance(json.loads(line), dict):
                    return True
            except json.JSONDecodeError:
                continue
    return False


def looks_like_csv(text: str) -> bool:
    """True if the first non-blank line is a header naming a title, authors or abstract column."""
    first = next((ln for ln in text.split("\n") if ln.strip()), "")
    if first.lstrip().startswith(("{", "[")):
        return False
    header = next(csv.reader([first], delimiter=_delimiter(first)), [])
    return bool({h.strip().lower() for h in header} & set(CONTENT_COLUMNS))


def parse_jsonl(text: str, path: str | Path) -> ParseResult:
    """Parse JSON Lines; entries are numbered by non-blank line, and a bad line is a problem."""
    result = ParseResult(path=str(path), format="jsonl")
    entry = 0
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        entry += 1
        try:
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _BadRow(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(item, dict):
                raise _BadRow("line is not a JSON object")
            record = _record({str(k).strip().lower(): v for k, v in item.items()}, lists_ok=True)
        except _BadRow as exc:
            result.problems.append(ListingParseError(path, str(exc), line_no, entry))
            continue
        record.sources = [SourceRef(Path(path).name, entry, "jsonl", line_no)]
        result.records.append(record)
    return result


def parse_csv(text: str, path: str | Path) -> ParseResult:
    """Parse a CSV (or tab-separated) table with a header row; a bad row is a problem."""
    result = ParseResult(path=str(path), format="csv")
    first = next((ln for ln in text.split("\n") if ln.strip()), "")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first))
    try:
        header: list[str] | None = None
        entry, row_end = 0, 0
        for row in reader:
            row_start, row_end = row_end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _header(row, path, row_start)
                continue
            entry += 1
            try:
                if len(row) != len(header):
                    raise _BadRow(f"row has {len(row)} fields but the header has {len(header)}")
                record = _record(dict(zip(header, row)), lists_ok=False)
            except _BadRow as exc:
                result.problems.append(ListingParseError(path, str(exc), row_start, entry))
                continue
            record.sources = [SourceRef(Path(path).name, entry, "csv", row_start)]
            result.records.append(record)
    except csv.Error as exc:
        raise ListingParseError(path, f"unreadable CSV: {exc}", reader.line_num) from None
    if header is None:
        raise ListingParseError(path, "CSV has no header row")
    return result


def _delimiter(header_line: str) -> str:
    """Tab for a tab-separated header without commas, else comma."""
    return "\t" if "\t" in header_line and "," not in header_line else ","


def _header(row: list[str], path: str | Path, line_no: int) -> list[str]:
    """The lower-cased column names; a table without any content column is refused whole."""
    header = [cell.strip().lower() for cell in row]
    if not set(header) & set(CONTENT_COLUMNS):
        raise ListingParseError(
            path,
            f"CSV header has no usable column: found {', '.join(repr(h) for h in header)}; "
            f"expected at least one of {', '.join(CONTENT_COLUMNS)}",
            line_no,
        )
    return header


def _record(row: dict[str, Any], lists_ok: bool) -> PaperRecord:
    """One row (lower-cased keys) as a record without its source."""
    title, abstract = _text(row, "title"), _text(row, "abstract")
    key = "authors" if row.get("authors") not in (None, "") else "author"
    value = row.get(key)
    if lists_ok and isinstance(value, list):
        if not all(isinstance(a, str) for a in value):
            raise _BadRow(f"'{key}' list must hold only names (text)")
        authors = [a.strip() for a in value if a.strip()]
    else:
        authors = split_authors(_text(row, key) or "", ";")
    if not (title or authors or abstract):
        raise _BadRow("row has no title, authors or abstract")
    links: dict[str, str] = {}
    for column, kind in LINK_COLUMNS:
        url = _text(row, column)
        if url and url.strip() and kind not in links:
            links[kind] = url.strip()
    return PaperRecord(
        title=title, authors=authors, abstract=abstract, venue=_text(row, "venue"),
        year=_year(row.get("year")), status=_text(row, "status"), links=links,
    )


def _text(row: dict[str, Any], key: str) -> str | None:
    """The text at ``key``; ``None`` when absent or blank; other JSON types are an error."""
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise _BadRow(f"'{key}' is {type(value).__name__} {value!r}, expected text")
    return value


def _year(value: Any) -> int | None:
    """A year given as a number or as digits; anything else is an error, not a guess."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) == 4:
        return int(value.strip())
    raise _BadRow(f"year {value!r} is not a four-digit year")
