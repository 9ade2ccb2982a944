"""Generic tables of papers, one record per JSONL line or CSV row.

This is the escape hatch for listings in no known site format: a person can export their own
list with columns ``title``, ``authors`` (``"A; B"``, or a JSON list in JSONL; ``author`` is
accepted too), ``abstract``, and optionally ``venue``, ``year``, ``status`` and links
(``url``/``site``, ``pdf``, ``openreview``/``or``, ``proceeding``) and the authors'
institutions (``affiliations``/``aff``, and their web domains ``domains``/``aff_domain``,
``"A; B"`` or a JSON list). Column names are matched
case-insensitively because spreadsheets capitalise them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.parsers.base import ListingParseError, ParseResult, author_list, distinct_values, split_authors
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
            except (ValueError, RecursionError):  # bad JSON, 5,000-digit numbers, deep nesting
                continue
    return False


def looks_like_csv(text: str) -> bool:
    """True if the first non-blank line is a header naming a title, authors or abstract column."""
    first = _first_line(text)
    if first.lstrip().startswith(("{", "[")):
        return False
    try:
        header = next(csv.reader([first], delimiter=_delimiter(first)), [])
    except csv.Error:
        return False
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
            except RecursionError:
                raise _BadRow("invalid JSON: nested too deeply") from None
            except ValueError as exc:  # e.g. a number with more than 4,300 digits
                raise _BadRow(f"invalid JSON: {exc}") from None
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
    """Parse a CSV (or tab- or semicolon-separated) table with a header row; a bad row is a
    problem.

    Rows are read with strict quoting, so a stray ``"`` that would swallow the rest of the
    file into one field is reported at the row where it starts, and reading resumes on the
    next line. Rows shorter than the header (a spreadsheet dropped trailing empty cells) are
    padded, and empty cells past the header are ignored; a row with *filled* cells past the
    header is shifted (an unquoted comma) and is a problem.
    """
    result = ParseResult(path=str(path), format="csv")
    delimiter = _delimiter(_first_line(text))
    if csv.field_size_limit() < len(text):  # one field may be a long abstract: never refuse it
        csv.field_size_limit(len(text))
    header: list[str] | None = None
    entry = 0
    for row, row_start, error in _rows(text, delimiter):
        if error is not None:
            if header is None:
                raise ListingParseError(path, f"unreadable CSV header: {error}", row_start)
            entry += 1
            result.problems.append(ListingParseError(path, f"unreadable row: {error}", row_start, entry))
            continue
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = _header(row, path, row_start)
            continue
        if [cell.strip().lower() for cell in row] == header:
            continue  # the header again: two exports were joined into one file
        entry += 1
        try:
            if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
                raise _BadRow(f"row has {len(row)} fields but the header has {len(header)} "
                              "(an unquoted separator inside a field?)")  # fmt: skip
            row = row[: len(header)] + [""] * (len(header) - len(row))
            record = _record(dict(zip(header, row)), lists_ok=False)
        except _BadRow as exc:
            result.problems.append(ListingParseError(path, str(exc), row_start, entry))
            continue
        record.sources = [SourceRef(Path(path).name, entry, "csv", row_start)]
        result.records.append(record)
    if header is None:
        raise ListingParseError(path, "CSV has no header row")
    return result


def _rows(text: str, delimiter: str) -> Iterator[tuple[list[str], int, str | None]]:
    """``(row, first line, None)`` per CSV row, or ``([], line, error)`` for a row that cannot
    be read, after which reading restarts on the line following that row's first line."""
    offset, line_base = 0, 0  # where the current reader started, in characters and lines
    while True:
        reader = csv.reader(io.StringIO(text[offset:]), delimiter=delimiter, strict=True)
        row_end = 0
        try:
            for row in reader:
                row_start, row_end = row_end + 1, reader.line_num
                yield row, line_base + row_start, None
            return
        except csv.Error as exc:
            bad_line = line_base + row_end + 1
            yield [], bad_line, str(exc)
            skip_to = _line_offset(text, bad_line)  # the line after the bad row's first line
            if skip_to is None:
                return
            offset, line_base = skip_to, bad_line


def _line_offset(text: str, line: int) -> int | None:
    """Character offset where 1-based line ``line + 1`` starts, or None past the end."""
    pos = -1
    for _ in range(line):
        pos = text.find("\n", pos + 1)
        if pos < 0:
            return None
    return pos + 1 if pos + 1 < len(text) else None


def _first_line(text: str) -> str:
    """The first non-blank line, found without splitting the whole (maybe huge) text."""
    return next((line.rstrip("\n") for line in io.StringIO(text) if line.strip()), "")


def _delimiter(header_line: str) -> str:
    """The separator that makes the header name a paper column: comma, else tab, else ``;``
    (Excel's CSV in locales where the comma is the decimal mark)."""
    for candidate in (",", "\t", ";"):
        cells = {cell.strip().strip('"').lower() for cell in header_line.split(candidate)}
        if candidate in header_line and cells & set(CONTENT_COLUMNS):
            return candidate
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
        names = author_list(value)
        if names is None:
            raise _BadRow(f"'{key}' list must hold only names (text, or {{\"name\": ...}} objects)")
        authors = names
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
        affiliations=_values(row, ("affiliations", "aff"), lists_ok),
        domains=[d.lower() for d in _values(row, ("domains", "aff_domain"), lists_ok)],
    )


def _values(row: dict[str, Any], keys: tuple[str, ...], lists_ok: bool) -> list[str]:
    """The distinct values of the first of ``keys`` the row fills (``"A; B"``, or a list in JSONL)."""
    key = next((k for k in keys if row.get(k) not in (None, "")), keys[0])
    value = row.get(key)
    values = distinct_values(value if lists_ok or value is None else _text(row, key))
    if values is None:
        raise _BadRow(f"'{key}' must be text (\"A; B\") or a list of text, not {type(value).__name__} {value!r}")
    return values


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
