"""Turn a listing file of any known format into :class:`~ingest.records.PaperRecord` objects.

The one entry point is :func:`parse_listing`. It reads the bytes defensively (listings are
copied from web pages and spreadsheets, so encodings, BOMs and line endings vary), picks the
format from the *content* (a user's ``orals.txt`` may be any of them), runs the format's
parser, then cleans every record the same way and applies the user's ``--venue/--year/
--status``, so no parser has to repeat that work or can forget it.

Size: a listing is read whole (the JSON formats cannot be parsed in pieces), so a file over
``max_bytes`` (default :data:`DEFAULT_MAX_LISTING_BYTES`, 64 MB; setting ``max_listing_mb``,
env ``PAPERCHAT_MAX_LISTING_MB``) is refused *before* it is read, with a message naming the
file and the limit. The largest real listings (a conference's every submission with
abstracts) are around 30 MB; a 200 MB file is a dump of something else, and reading it would
cost gigabytes of memory and hours of embedding.

Every failure is a :class:`ListingParseError` naming the file (and line/entry when known);
nothing else escapes, which ``tests/test_parser_properties.py`` checks on generated input.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ingest.parsers import icml_virtual, paperlists, paperscool, tabular
from ingest.parsers.base import (
    INVISIBLE_RE,
    MAX_ABSTRACT_CHARS,
    MAX_TITLE_CHARS,
    ListingDefaults,
    ListingParseError,
    ParseResult,
    clean_authors,
    clean_text,
    shorten,
)

__all__ = [
    "DEFAULT_MAX_LISTING_BYTES",
    "FORMATS",
    "ListingDefaults",
    "ListingParseError",
    "ParseResult",
    "parse_listing",
    "read_listing_text",
    "sniff_format",
]

#: Largest listing file read; see the module docstring for why there is a limit at all.
DEFAULT_MAX_LISTING_BYTES = 64 * 1024 * 1024

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


#: Signatures of files people save instead of a listing's text; naming them beats "binary".
_MAGIC = (
    (b"%PDF-", "a PDF document; paperchat reads listing text (copy the page's text into a file)"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first (gunzip)"),
    (b"PK\x03\x04", "a zip archive (or an .xlsx/.docx); extract it, or export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls/.doc); export it as CSV"),
)


def read_listing_text(path: str | Path, max_bytes: int = DEFAULT_MAX_LISTING_BYTES) -> str:
    """The file's text: UTF-8 (BOM stripped) or UTF-16 with a BOM, else cp1252/latin-1.

    Falling back instead of failing matters because spreadsheet exports are often cp1252,
    and a mis-decoded accent in one name is far better than refusing the file. The fallback is
    per byte, so a UTF-8 file with one pasted cp1252 line keeps its other accents. Line
    endings become ``\\n`` so parsers and line numbers agree across platforms, and invisible
    characters (BOMs inside concatenated files, zero-width spaces, bidi controls) are removed
    everywhere, so they cannot hide a line's ``#1`` or a CSV's ``title`` column from a parser.
    """
    data = _read_bytes(path, max_bytes)
    if not data.strip():
        raise ListingParseError(path, "empty file: no listing entries to read")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise ListingParseError(path, f"not a text listing: the file is {what}")
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
    del data
    text = INVISIBLE_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise ListingParseError(path, "empty file: no listing entries to read")
    return text


def _read_bytes(path: str | Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing what is not a regular file or is over ``max_bytes``.

    Checked before reading: a FIFO would block forever, ``/dev/zero`` would never end, and a
    200 MB file should cost nothing to refuse.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ListingParseError(
                path, f"broken symbolic link (to {os.readlink(path)}): nothing to read"
            ) from None
        raise ListingParseError(path, "no such file") from None
    except PermissionError:
        raise ListingParseError(path, "permission denied: cannot read the file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ListingParseError(path, "symbolic link loop: nothing to read") from None
        raise ListingParseError(path, f"cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ListingParseError(path, "is a directory, not a listing file")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode)
                else "a socket" if stat.S_ISSOCK(info.st_mode) else "a device")  # fmt: skip
        raise ListingParseError(path, f"not a regular file ({kind}): give the listing file itself")
    if info.st_size > max_bytes:
        raise ListingParseError(path, _too_big(info.st_size, max_bytes))
    try:
        with open(path, "rb") as handle:
            # read(n) allocates n bytes up front: ask for the size stat gave (plus one to
            # notice growth), not for the limit, or every small file costs the limit in memory.
            data = handle.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += handle.read(max_bytes + 1 - len(data))
    except PermissionError:
        raise ListingParseError(path, "permission denied: cannot read the file") from None
    except OSError as exc:
        raise ListingParseError(path, f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # it grew after stat
        raise ListingParseError(path, _too_big(len(data), max_bytes))
    return data


def _too_big(size: int, limit: int) -> str:
    mb = 1024 * 1024
    return (
        f"file is {size / mb:.1f} MB, over the {limit / mb:g} MB limit for one listing; split "
        "it into smaller files, or raise the limit with PAPERCHAT_MAX_LISTING_MB"
    )


def _cp1252_byte(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: an invalid UTF-8 byte is read as cp1252 (Latin-1 if undefined)."""
    assert isinstance(error, UnicodeDecodeError)
    byte = error.object[error.start : error.start + 1]
    try:
        char = byte.decode("cp1252")
    except UnicodeDecodeError:
        char = byte.decode("latin-1")
    return char, error.start + 1


codecs.register_error("paperchat-cp1252", _cp1252_byte)


def _decode(data: bytes) -> str:
    """UTF-8 where the bytes are UTF-8, Windows-1252 (else Latin-1) for each byte that is not;
    never fails, and a file in one legacy encoding decodes exactly as that encoding."""
    return data.decode("utf-8", errors="paperchat-cp1252")


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
    path: str | Path,
    format: str | None = None,
    defaults: ListingDefaults | None = None,
    max_bytes: int = DEFAULT_MAX_LISTING_BYTES,
) -> ParseResult:
    """Read, sniff (unless ``format`` is given), parse and clean one listing file.

    Raises :class:`ListingParseError` when the file as a whole cannot be used; entries that
    are individually broken are returned in ``ParseResult.problems`` instead.
    """
    if format is not None and format not in _PARSERS:
        raise ListingParseError(
            path, f"unknown format {format!r}; pass --format one of " + ", ".join(FORMATS)
        )
    text = read_listing_text(path, max_bytes)
    chosen = format or sniff_format(path, text)
    result = _PARSERS[chosen](text, str(path))
    _finish(result, defaults or ListingDefaults())
    return result


def _finish(result: ParseResult, defaults: ListingDefaults) -> None:
    """Clean every record's text and apply the user's values, in place.

    A record whose title, authors and abstract are all empty once markup is gone is moved to
    the problems: it has nothing to index and nothing to cite. An absurdly long title or
    abstract is cut (see :data:`~ingest.parsers.base.MAX_ABSTRACT_CHARS`) and noted.
    """
    kept = []
    for record in result.records:
        source = record.sources[0] if record.sources else None
        where = (source.line if source else None, source.entry if source else None)
        record.title = clean_text(record.title)
        record.abstract = clean_text(record.abstract)
        record.authors = clean_authors(record.authors)
        record.venue = clean_text(record.venue)
        record.status = clean_text(record.status)
        for name, limit in (("title", MAX_TITLE_CHARS), ("abstract", MAX_ABSTRACT_CHARS)):
            value = getattr(record, name)
            if value and len(value) > limit:
                setattr(record, name, shorten(value, limit))
                result.notes.append(ListingParseError(
                    result.path, f"{name} is {len(value):,} characters; kept the first "
                    f"{len(getattr(record, name)):,} (limit {limit:,})", *where,
                ))
        if not (record.title or record.authors or record.abstract):
            result.problems.append(ListingParseError(
                result.path, "entry is empty once HTML and blank text are removed", *where
            ))
            continue
        defaults.apply(record)
        kept.append(record)
    result.records = kept
    result.problems.sort(key=lambda p: (p.line or 0, p.entry or 0))
