"""Turn a listing file of any known format into :class:`~ingest.records.PaperRecord` objects.

The one entry point is :func:`parse_listing`. It reads the bytes defensively (listings are
copied from web pages and spreadsheets, so encodings, BOMs and line endings vary), picks the
format from the *content* (a user's ``orals.txt`` may be any of them), runs the format's
parser, then cleans every record the same way and applies the user's ``--venue/--year/
--status``, so no parser has to repeat that work or can forget it.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

from ingest.parsers import icml_virtual, paperlists, paperscool, tabular
from ingest.parsers.base import (
    ListingDefaults,
    ListingParseError,
    ParseResult,
    clean_authors,
    clean_text,
)

__all__ = [
    "FORMATS",
    "ListingDefaults",
    "ListingParseError",
    "ParseResult",
    "parse_listing",
    "read_listing_text",
    "sniff_format",
]

FORMATS: tuple[str, ...] = ("paperscool", "icml-virtual", "paperlists", "jsonl", "csv")

_PARSERS: dict[str, Callable[[str, str], ParseResult]] = {
    "paperscool": paperscool.parse,
    "icml-virtual": icml_virtual.parse,
    "paperlists": paperlists.parse,
    "jsonl": tabular.parse_jsonl,
    "csv": tabular.parse_csv,
}
#: Content tests, most specific first: JSON shapes cannot be mistaken for text pages, and
#: CSV (any first line naming a "title" column) is the loosest, so it is tried last.
_SNIFFERS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("paperlists", paperlists.looks_like),
    ("jsonl", tabular.looks_like_jsonl),
    ("paperscool", paperscool.looks_like),
    ("icml-virtual", icml_virtual.looks_like),
    ("csv", tabular.looks_like_csv),
)
#: Extensions only break ties, or name the parser whose error will explain the file best.
_EXTENSIONS = {".json": "paperlists", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
               ".tsv": "csv"}


def read_listing_text(path: str | Path) -> str:
    """The file's text: UTF-8 (BOM stripped) or UTF-16 with a BOM, else cp1252/latin-1.

    Falling back instead of failing matters because spreadsheet exports are often cp1252,
    and a mis-decoded accent in one name is far better than refusing the file. Line endings
    become ``\\n`` so parsers and line numbers agree across platforms.
    """
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise ListingParseError(path, "is a directory, not a listing file") from None
    except FileNotFoundError:
        raise ListingParseError(path, "no such file") from None
    except PermissionError:
        raise ListingParseError(path, "permission denied: cannot read the file") from None
    except OSError as exc:
        raise ListingParseError(path, f"cannot read the file: {exc.strerror or exc}") from None
    if not data.strip():
        raise ListingParseError(path, "empty file: no listing entries to read")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ListingParseError(path, f"broken UTF-16 text at byte {exc.start}") from None
    else:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise ListingParseError(
                path, f"binary file (NUL byte at offset {nul}), not a text listing",
                line=data.count(b"\n", 0, nul) + 1,
            )
        text = _decode(data.removeprefix(codecs.BOM_UTF8))
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ListingParseError(path, "empty file: no listing entries to read")
    return text


def _decode(data: bytes) -> str:
    """UTF-8, else Windows-1252, else Latin-1 (which decodes any byte, so this never fails)."""
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def sniff_format(path: str | Path, text: str) -> str:
    """Name the format of ``text`` by its content; the extension only breaks ties.

    With no content match, a ``.csv``/``.jsonl``/``.json`` extension still picks that parser,
    whose error (missing columns, bad JSON at line N) says more than "unknown format".
    """
    by_extension = _EXTENSIONS.get(Path(path).suffix.lower())
    matches = [name for name, looks_like in _SNIFFERS if looks_like(text)]
    if matches:
        return by_extension if by_extension in matches else matches[0]
    if by_extension:
        return by_extension
    raise ListingParseError(
        path,
        "not a listing format paperchat knows; pass --format one of " + ", ".join(FORMATS),
    )


def parse_listing(
    path: str | Path, format: str | None = None, defaults: ListingDefaults | None = None
) -> ParseResult:
    """Read, sniff (unless ``format`` is given), parse and clean one listing file.

    Raises :class:`ListingParseError` when the file as a whole cannot be used; entries that
    are individually broken are returned in ``ParseResult.problems`` instead.
    """
    if format is not None and format not in _PARSERS:
        raise ListingParseError(
            path, f"unknown format {format!r}; pass --format one of " + ", ".join(FORMATS)
        )
    text = read_listing_text(path)
    chosen = format or sniff_format(path, text)
    result = _PARSERS[chosen](text, str(path))
    _finish(result, defaults or ListingDefaults())
    return result


def _finish(result: ParseResult, defaults: ListingDefaults) -> None:
    """Clean every record's text and apply the user's values, in place.

    A record whose title, authors and abstract are all empty once markup is gone is moved to
    the problems: it has nothing to index and nothing to cite.
    """
    kept = []
    for record in result.records:
        record.title = clean_text(record.title)
        record.abstract = clean_text(record.abstract)
        record.authors = clean_authors(record.authors)
        record.venue = clean_text(record.venue)
        record.status = clean_text(record.status)
        if not (record.title or record.authors or record.abstract):
            source = record.sources[0] if record.sources else None
            result.problems.append(ListingParseError(
                result.path, "entry is empty once HTML and blank text are removed",
                source.line if source else None, source.entry if source else None,
            ))
            continue
        defaults.apply(record)
        kept.append(record)
    result.records = kept
    result.problems.sort(key=lambda p: (p.line or 0, p.entry or 0))
