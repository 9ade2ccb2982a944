"""Bad input to ingest: every case, in every listing format it applies to, ends in clean
records or a message naming the file and the line/entry, and never costs another file.

The cases are a table (:data:`CASES`); each builds the bytes of one listing file per format
from a few paper *specs* and says what must come out: the papers that must arrive as clean
records (anything else is a lost record), and for everything else a problem or a file error
whose text names the file. Files are built in ``tmp_path`` at test time, so a git
line-ending setting cannot turn a CRLF case into an LF one. The 200 MB case is ``slow``.

Unreadable files: tests run as root, where ``chmod 000`` does not stop reads, so the
unreadable-directory case uses entries no one can read as a listing whatever their rights: a
broken symbolic link, a symbolic-link loop, a FIFO (reading it would block forever) and a
Unix socket. A ``chmod 000`` file is added too; as root it is simply read (and ingests), as
any other user it is reported as "permission denied".
"""

from __future__ import annotations

import codecs
import csv
import gzip
import html
import io
import json
import os
import re
import socket
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from ingest.chunking import CHUNKING_VERSION, embedding_text_chunks
from ingest.parsers import FORMATS, ListingParseError, parse_listing
from ingest.parsers.base import INVISIBLE_RE, MAX_ABSTRACT_CHARS
from ingest.pipeline import ingest_paths
from ingest.records import PaperRecord
from vectorstore.embedding import make_embedder
from vectorstore.store import PaperStore, StoreIdentity

SUFFIX = {"paperscool": ".txt", "icml-virtual": ".txt", "paperlists": ".json", "jsonl": ".jsonl",
          "csv": ".csv"}  # fmt: skip
#: Formats that carry titles (the virtual-site text has none).
TITLED = ("paperscool", "paperlists", "jsonl", "csv")
#: Formats that are JSON (wrong types and missing keys only exist there).
JSON_FORMATS = ("paperlists", "jsonl")

# ----------------------------------------------------------------------------- paper specs


@dataclass(frozen=True)
class Spec:
    """One paper as a listing should describe it (what a clean record must say)."""

    title: str | None
    authors: tuple[str, ...]
    abstract: str | None


def specs(tag: str, n: int = 3) -> list[Spec]:
    """``n`` papers whose authors are unique to ``tag``, so files never merge with each other."""
    words = ["Gradient", "Sparse", "Kernel", "Causal", "Robust", "Private"]
    return [
        Spec(
            title=f"{words[i % 6]} Methods for Case {tag} Number {i + 1}",
            authors=(f"Ada Lovelace{tag}x{i}", f"Alan Turing{tag}x{i}"),
            abstract=f"We study {words[i % 6].lower()} methods in setting {i + 1} of case {tag}. "
            "Our results improve on prior work by a wide margin.",
        )
        for i in range(n)
    ]


def key(title: str | None, authors: tuple[str, ...] | list[str], abstract: str | None) -> str:
    """How a record is recognised: by title, else first author, else abstract opening."""
    return title or (authors[0] if authors else "") or (abstract or "")[:40]


def expected_key(spec: Spec, fmt: str) -> str:
    return key(spec.title if fmt in TITLED else None, spec.authors, spec.abstract)


# ----------------------------------------------------------------------------- renderers


def render(fmt: str, papers: list[Spec]) -> str:
    """The listing text of ``papers`` in ``fmt``, as the site or an export writes it."""
    if fmt == "paperscool":
        out = [f"ICML.2024 - Oral\n| Total: {len(papers)}\n"]
        for i, p in enumerate(papers, start=1):
            out.append(f"#{i} {p.title or ''} [PDF{i}] [Copy] [Kimi{i}] [REL]")
            if p.authors:
                out.append("Authors: " + " ; ".join(p.authors))
            if p.abstract:
                out.append(p.abstract)
            out.append("")
        return "\n".join(out) + "\n"
    if fmt == "icml-virtual":
        out = ["Skip to yearly menu bar Skip to main content", "ICML 2024", "", "Orals"]
        for p in papers:
            out += ["Oral", *([" · ".join(p.authors)] if p.authors else []), "Abstract", "",
                    p.abstract or "", ""]  # fmt: skip
        return "\n".join(out) + "\n"
    if fmt == "paperlists":
        items = [_json_item(p, authors_key="author", authors=";".join(p.authors)) for p in papers]
        return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    if fmt == "jsonl":
        return "".join(
            json.dumps(_json_item(p, "authors", list(p.authors)), ensure_ascii=False) + "\n"
            for p in papers
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["title", "authors", "abstract"])
        for p in papers:
            writer.writerow([p.title or "", "; ".join(p.authors), p.abstract or ""])
        return buffer.getvalue()
    raise AssertionError(fmt)


def _json_item(p: Spec, authors_key: str, authors: object) -> dict[str, object]:
    item: dict[str, object] = {}
    if p.title:
        item["title"] = p.title
    if p.authors:
        item[authors_key] = authors
    if p.abstract:
        item["abstract"] = p.abstract
    return item


# ----------------------------------------------------------------------------- the table


@dataclass
class Built:
    """One case in one format: the file's bytes and what must come out of it."""

    data: bytes
    #: Keys of the papers that must arrive as clean records (with these exact values).
    records: list[Spec] = field(default_factory=list)
    #: The file as a whole is refused; the message must contain this.
    error: str | None = None
    #: At least this many entries are reported as problems (each naming file and line/entry).
    problems: int = 0
    #: Text every problem (or the error) must contain, besides the file name.
    says: str | None = None
    #: Entries that become records whose *text* may differ from the spec (cleaned, cut).
    loose: bool = False
    #: Records the merge folds together (the same paper twice): fewer records in the store.
    duplicates: int = 0
    suffix: str | None = None


Builder = Callable[[str, str], Built | None]
CASES: dict[str, Builder] = {}


def case(name: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        CASES[name] = builder
        return builder

    return register


def _all_ok(fmt: str, tag: str, papers: list[Spec] | None = None, encoding: str = "utf-8",
            prefix: bytes = b"") -> Built:  # fmt: skip
    papers = papers or specs(tag)
    return Built(prefix + render(fmt, papers).encode(encoding), records=papers)


@case("empty file")
def _empty(fmt: str, tag: str) -> Built:
    return Built(b"", error="empty file")


@case("whitespace-only file")
def _blank(fmt: str, tag: str) -> Built:
    return Built(b" \r\n\t\n\n", error="empty file")


@case("binary file")
def _binary(fmt: str, tag: str) -> Built:
    return Built(bytes(range(256)) * 8, error="binary file")


@case("gzip-compressed listing")
def _gzip(fmt: str, tag: str) -> Built:
    return Built(gzip.compress(render(fmt, specs(tag)).encode()), error="gzip-compressed")


@case("PDF saved instead of text")
def _pdf(fmt: str, tag: str) -> Built:
    return Built(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", error="PDF")


def _accented(tag: str) -> list[Spec]:
    papers = specs(tag)
    papers[0] = replace(papers[0], authors=(f"Jürgen Schmidhuber{tag}", f"Zoë Kravitz{tag}"),
                        title=f"Café Façades: A “Negative” Result {tag}")  # fmt: skip
    return papers


@case("latin-1 / cp1252 file")
def _latin1(fmt: str, tag: str) -> Built:
    return _all_ok(fmt, tag, _accented(tag), encoding="cp1252")


@case("mixed encodings (one cp1252 entry in a UTF-8 file)")
def _mixed(fmt: str, tag: str) -> Built:
    papers = _accented(tag)
    papers[1] = replace(papers[1], authors=(f"Søren Kierkegaard{tag}", f"Åsa Larsson{tag}"))
    text = render(fmt, papers)
    data = text.encode("utf-8")
    for name in papers[0].authors:  # entry 1 pasted from a cp1252 spreadsheet, entry 2 UTF-8
        data = data.replace(name.encode("utf-8"), name.encode("cp1252"))
    return Built(data, records=papers)


@case("UTF-8 BOM")
def _bom(fmt: str, tag: str) -> Built:
    return _all_ok(fmt, tag, prefix=codecs.BOM_UTF8)


@case("UTF-16 with BOM (Excel 'Unicode text')")
def _utf16(fmt: str, tag: str) -> Built:
    return _all_ok(fmt, tag, encoding="utf-16")


@case("two files joined, second BOM mid-file")
def _joined(fmt: str, tag: str) -> Built:
    first, second = specs(tag, 4)[:2], specs(tag, 4)[2:]
    data = codecs.BOM_UTF8 + render(fmt, first).encode() + codecs.BOM_UTF8 + render(fmt, second).encode()
    if fmt == "icml-virtual":  # the second page's chrome would read as the last abstract's end
        second_blocks = render(fmt, second).split("Orals\n", 1)[1]
        data = codecs.BOM_UTF8 + render(fmt, first).encode() + codecs.BOM_UTF8 + second_blocks.encode()
    return Built(data, records=first + second)


@case("CRLF line endings")
def _crlf(fmt: str, tag: str) -> Built:
    return Built(render(fmt, specs(tag)).replace("\n", "\r\n").encode(), records=specs(tag))


@case("entry cut off mid-way (file truncated)")
def _cut(fmt: str, tag: str) -> Built:
    papers = specs(tag)
    text = render(fmt, papers).encode()
    cut = text.index(papers[2].authors[0].encode()) + 5  # inside entry 3's first author
    return Built(text[:cut], records=papers[:2], problems=1, says="line")


@case("entry with no authors")
def _no_authors(fmt: str, tag: str) -> Built:
    papers = specs(tag)
    papers[1] = replace(papers[1], authors=())
    if fmt in ("paperscool", "icml-virtual"):  # the format always has them: a broken entry
        return Built(render(fmt, papers).encode(), records=[papers[0], papers[2]], problems=1,
                     says="entry 2")  # fmt: skip
    return _all_ok(fmt, tag, papers)


@case("entry with no abstract")
def _no_abstract(fmt: str, tag: str) -> Built:
    papers = specs(tag)
    papers[1] = replace(papers[1], abstract=None)
    if fmt in ("paperscool", "icml-virtual"):
        return Built(render(fmt, papers).encode(), records=[papers[0], papers[2]], problems=1,
                     says="entry 2")  # fmt: skip
    return _all_ok(fmt, tag, papers)


@case("entry with no title")
def _no_title(fmt: str, tag: str) -> Built:
    papers = specs(tag)
    papers[1] = replace(papers[1], title=None)
    if fmt == "paperscool":
        return Built(render(fmt, papers).encode(), records=[papers[0], papers[2]], problems=1,
                     says="entry 2")  # fmt: skip
    return _all_ok(fmt, tag, papers)


@case("entry with nothing but markup")
def _only_markup(fmt: str, tag: str) -> Built | None:
    if fmt not in JSON_FORMATS + ("csv",):
        return None
    papers = specs(tag)
    papers[1] = Spec(title="<b> </b>", authors=("&nbsp;",), abstract="<p>\u200b</p>")
    return Built(render(fmt, papers).encode(), records=[papers[0], papers[2]], problems=1,
                 says="entry 2")  # fmt: skip


@case("the same paper twice in one file")
def _twice(fmt: str, tag: str) -> Built:
    papers = specs(tag)
    return Built(render(fmt, papers + [papers[0]]).encode(), records=papers, duplicates=1)


@case("1 MB abstract")
def _huge_abstract(fmt: str, tag: str) -> Built:
    papers = specs(tag)
    sentence = "This sentence repeats to make an abstract far longer than any real one. "
    papers[1] = replace(papers[1], abstract=sentence * (1_000_000 // len(sentence)))
    return Built(render(fmt, papers).encode(), records=papers, loose=True, says="kept the first")


@case("zero-width and right-to-left characters")
def _invisible(fmt: str, tag: str) -> Built:
    papers = specs(tag)
    clean_title = f"Sparse Trans\u200bformers for \u05e9\u05dc\u05d5\u05dd Data {tag}"
    papers[0] = replace(
        papers[0],
        title=f"Sparse Trans\u200bformers for \u202e\u05e9\u05dc\u05d5\u05dd\u202c Data\u200f {tag}",
        abstract="An abstract with a soft hy\u00adphen, a zero\u2060width joiner and a BOM\ufeff.",
    )
    text = render(fmt, papers)
    # A zero-width space before a structural line, where a parser would stop seeing it.
    for structural in ("#2 ", "title", "Oral\n"):
        text = text.replace(structural, "\u200b" + structural, 1)
    expected = [replace(papers[0], title=clean_title.replace("\u200b", ""),
                        abstract="An abstract with a soft hyphen, a zerowidth joiner and a BOM."),
                *papers[1:]]  # fmt: skip
    return Built(text.encode(), records=expected)


@case("HTML tags and entities in fields")
def _html(fmt: str, tag: str) -> Built:
    papers = specs(tag)
    raw = replace(
        papers[0],
        title=f"Fast &amp; <i>Slow</i> Learning of x<sub>2</sub> {tag}",
        authors=(f"Ren&eacute;e Dupont{tag}", f"<a href=\"https://x.org\">Bob Smith{tag}</a>"),
        abstract="<p>We show &lt;i&gt;twice-escaped&lt;/i&gt; markup goes.</p>"
        "<script>alert('x')</script><!-- tracker --> Maths a <b and c> d stays.",
    )
    clean = Spec(
        title=f"Fast & Slow Learning of x2 {tag}",
        authors=(f"Renée Dupont{tag}", f"Bob Smith{tag}"),
        abstract="We show twice-escaped markup goes. Maths a <b and c> d stays.",
    )
    return Built(render(fmt, [raw, *papers[1:]]).encode(), records=[clean, *papers[1:]])


@case("JSON with wrong types")
def _wrong_types(fmt: str, tag: str) -> Built | None:
    if fmt not in JSON_FORMATS:
        return None
    papers = specs(tag, 4)
    good = _json_item(papers[0], "author" if fmt == "paperlists" else "authors",
                      ";".join(papers[0].authors))  # fmt: skip
    objects = {  # authors as objects with a "name" (OpenReview's shape) is accepted
        "title": papers[1].title, "abstract": papers[1].abstract,
        "authors": [{"name": a, "affiliation": "X"} for a in papers[1].authors],
    }
    bad = [
        {"title": 1234, "author": "A"},
        {"title": "T", "authors": {"first": "A"}},
        {"title": "T", "abstract": ["not", "text"]},
        {"title": ["nested", {"deep": [[[[]]]]}]},
    ]
    nulls = {"title": papers[2].title, "authors": list(papers[2].authors),
             "abstract": papers[2].abstract, "pdf": None, "status": None}  # fmt: skip
    last = _json_item(papers[3], "authors", list(papers[3].authors))
    items = [good, objects, *bad, nulls, last]
    if fmt == "paperlists":
        text = json.dumps(items, indent=2)
    else:
        lines = [json.dumps(item) for item in items]
        lines.insert(3, "[" * 50_000)  # deeper than Python's JSON decoder recurses
        lines.insert(4, '{"title": "Huge number", "year": ' + "9" * 5_000 + "}")
        lines.insert(5, '{"title": "Bad year", "year": true}')
        text = "\n".join(lines) + "\n"
    return Built(text.encode(), records=papers, problems=4, says="entry")


@case("JSON with missing keys")
def _missing_keys(fmt: str, tag: str) -> Built | None:
    if fmt not in JSON_FORMATS:
        return None
    papers = specs(tag)
    papers[0] = replace(papers[0], title=None)
    papers[1] = replace(papers[1], authors=(), abstract=None)
    key_name = "author" if fmt == "paperlists" else "authors"
    items = [_json_item(p, key_name, ";".join(p.authors)) for p in papers]
    items.insert(1, {})
    items.insert(2, {"url": "https://example.org/only-a-link"})
    if fmt == "paperlists":
        return Built(json.dumps(items).encode(), records=papers, problems=2, says="entry")
    text = "".join(json.dumps(item) + "\n" for item in items)
    return Built(text.encode(), records=papers, problems=2, says="entry")


@case("CSV with missing or extra columns")
def _csv_columns(fmt: str, tag: str) -> Built | None:
    if fmt != "csv":
        return None
    p = specs(tag, 5)
    text = (
        "Title,Authors,Abstract,Notes\n"                            # a column we do not know
        f'"{p[0].title}","{"; ".join(p[0].authors)}","{p[0].abstract}",seen\n'
        f'"{p[1].title}","{"; ".join(p[1].authors)}","{p[1].abstract}",,,\n'  # empty extras
        f'"{p[2].title}","{"; ".join(p[2].authors)}"\n'              # trailing cells dropped
        f'Unquoted, with a comma,{p[3].authors[0]},{p[3].abstract},x\n'  # shifted: a problem
        f'"{p[4].title}","{"; ".join(p[4].authors)}","{p[4].abstract}"\n'
    )
    expected = [p[0], p[1], replace(p[2], abstract=None), p[4]]
    return Built(text.encode(), records=expected, problems=1, says="line 5 (entry 4)")


@case("semicolon-separated CSV (Excel, comma-decimal locales)")
def _semicolon(fmt: str, tag: str) -> Built | None:
    if fmt != "csv":
        return None
    p = specs(tag)
    text = "title;authors;abstract\n" + "".join(
        f'{s.title};"{"; ".join(s.authors)}";{s.abstract}\n' for s in p
    )
    return Built(text.encode("cp1252"), records=p, suffix=".csv")


def built_cases() -> list[tuple[str, str, Built]]:
    """Every (case, format, file) of the table, tagged so no two files share an author."""
    out = []
    for n, (name, builder) in enumerate(CASES.items()):
        for fmt in FORMATS:
            built = builder(fmt, f"c{n}f{FORMATS.index(fmt)}")
            if built is not None:
                out.append((name, fmt, built))
    return out


BUILT = built_cases()


# ----------------------------------------------------------------------------- checks


_TAG = re.compile(r"</?(?:i|b|p|a|sub|script|div|span)\b[^<>]*>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)


def unclean(value: str) -> str | None:
    """Why ``value`` is not clean text, or None."""
    if value != value.strip() or "  " in value:
        return "stray whitespace"
    if INVISIBLE_RE.search(value) or re.search("[\x00-\x08\x0b-\x1f\x7f]", value):
        return "invisible or control characters"
    if "\ufffd" in value:
        return "a U+FFFD replacement character (a decoding failure)"
    if _TAG.search(value.replace("<b and c>", "")):
        return "an HTML tag"
    if _ENTITY.search(value):
        return "an HTML entity"
    return None


def assert_clean(record: PaperRecord, where: str) -> None:
    for name in ("title", "abstract", "venue", "status"):
        value = getattr(record, name)
        assert value is None or (value and unclean(value) is None), (where, name, value, unclean(value or "x"))
    assert all(a and unclean(a) is None for a in record.authors), (where, record.authors)
    assert record.abstract is None or len(record.abstract) <= MAX_ABSTRACT_CHARS
    assert record.sources and record.sources[0].entry >= 1


def assert_names_place(message: str, path: Path, needs_position: bool) -> None:
    assert str(path) in message, message
    if needs_position:
        assert re.search(r", (line \d+|entry \d+)", message), message


def write_case(directory: Path, name: str, fmt: str, built: Built) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    path = directory / f"{slug}--{fmt}{built.suffix or SUFFIX[fmt]}"
    path.write_bytes(built.data)
    return path


def check_parse(path: Path, fmt: str, built: Built) -> int:
    """Parse one case file and check it; returns the number of expected records lost (0)."""
    try:
        result = parse_listing(path)
    except ListingParseError as error:
        assert built.error is not None, f"{path.name}: unexpected error {error}"
        assert built.error in str(error), str(error)
        assert_names_place(str(error), path, needs_position=built.says == "line")
        return 0
    assert built.error is None, f"{path.name}: expected an error containing {built.error!r}"
    assert result.format == fmt, (path.name, result.format)
    got = {key(r.title, r.authors, r.abstract): r for r in result.records}
    for record in result.records:
        assert_clean(record, path.name)
    lost = [expected_key(s, fmt) for s in built.records if expected_key(s, fmt) not in got]
    assert not lost, f"{path.name}: records lost {lost}; problems {[str(p) for p in result.problems]}"
    if not built.loose:
        for spec in built.records:
            record = got[expected_key(spec, fmt)]
            if fmt in TITLED:
                assert record.title == spec.title, path.name
            assert record.authors == list(spec.authors), path.name
            assert record.abstract == spec.abstract, path.name
    assert len(result.problems) >= built.problems, (path.name, [str(p) for p in result.problems])
    if not built.problems:
        assert not result.problems, (path.name, [str(p) for p in result.problems])
    for problem in result.problems + result.notes:
        assert_names_place(str(problem), path, needs_position=True)
        assert problem.line is not None or problem.entry is not None
    if built.says and built.problems:
        assert any(built.says in str(p) for p in result.problems), [str(p) for p in result.problems]
    if built.loose:
        assert any(built.says in str(n) for n in result.notes), [str(n) for n in result.notes]
    return len(lost)


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("name", "fmt", "built"), BUILT, ids=[f"{n}-{f}" for n, f, _ in BUILT])
def test_bad_input_gives_clean_records_or_a_located_message(tmp_path: Path, name: str, fmt: str,
                                                            built: Built, hardening) -> None:  # fmt: skip
    path = write_case(tmp_path, name, fmt, built)
    if built.error:
        happened = f"refused with a message naming the file: {built.error!r}"
    else:
        happened = f"{len(built.records)} clean records" + (
            f", {built.problems}+ problems naming file and {built.says or 'position'}" if built.problems else "")
    lost = len(built.records)  # until the check has passed
    try:
        lost = check_parse(path, fmt, built)
    finally:
        hardening.record("bad input", f"{name} [{fmt}]", happened, lost=lost)
    assert lost == 0


def test_the_table_covers_every_case_in_every_format_it_applies_to() -> None:
    cases = {name for name, _, _ in BUILT}
    assert cases == set(CASES)
    for name in ("empty file", "binary file", "CRLF line endings", "1 MB abstract",
                 "entry cut off mid-way (file truncated)", "HTML tags and entities in fields"):  # fmt: skip
        assert {fmt for n, fmt, _ in BUILT if n == name} == set(FORMATS), name
    assert len(BUILT) >= 90


@pytest.fixture(scope="module")
def hashing():
    """The hashed bag-of-words embedder: these tests are about files, not about retrieval."""
    return make_embedder("hashing-384")


def open_store(directory: Path, embedder) -> PaperStore:
    return PaperStore.open(directory, StoreIdentity(embedder.name, embedder.dimension, CHUNKING_VERSION))


def test_one_ingest_of_every_bad_file_loses_no_good_record(tmp_path: Path, hashing, hardening) -> None:
    """All the table's files plus a good one in one directory, ingested in one run."""
    listings = tmp_path / "listings"
    listings.mkdir()
    paths = {write_case(listings, name, fmt, built): (fmt, built) for name, fmt, built in BUILT}
    good = listings / "zz-good.jsonl"
    good.write_text(render("jsonl", specs("good")), encoding="utf-8")

    with open_store(tmp_path / "store", hashing) as store:
        report = ingest_paths([listings], store, hashing, progress=False)
        stored = {key(r.title, r.authors, r.abstract): r for r in store.records()}
        chunks = store.count_chunks()

    by_path = {Path(f.path): f for f in report.files}
    assert set(by_path) == {*paths, good}
    assert by_path[good].error is None and by_path[good].parsed == 3
    expected_total = 3
    for path, (fmt, built) in paths.items():
        file = by_path[path]
        if built.error:
            assert file.error and str(path) in file.error, file.summary()
            continue
        assert file.error is None, file.summary()
        for message in file.problems + file.notes:
            assert_names_place(message, path, needs_position=True)
        for spec in built.records:
            assert expected_key(spec, fmt) in stored, f"{path.name}: lost {expected_key(spec, fmt)}"
        expected_total += len(built.records)
        assert file.merged >= built.duplicates
    for spec in specs("good"):
        assert spec.title in stored
    assert report.records == len(stored) == expected_total  # duplicates merged, nothing extra
    for record in stored.values():
        assert_clean(record, "store")
    assert chunks < 60 * len(stored)  # the 1 MB abstracts were cut, not embedded whole
    text = "\n".join(report.lines())
    assert "Traceback" not in text
    hardening.record("bad input", f"all {len(paths)} bad files and a good one in one ingest",
                     f"{len(stored)} records stored, as expected; unreadable files named in the report",
                     lost=expected_total - len(stored))  # fmt: skip


def test_unreadable_entries_in_a_directory_are_named_and_the_rest_ingests(tmp_path: Path, hashing,
                                                                         hardening) -> None:  # fmt: skip
    listings = tmp_path / "listings"
    listings.mkdir()
    (listings / "good.jsonl").write_text(render("jsonl", specs("dir")), encoding="utf-8")
    (listings / "broken-link.txt").symlink_to(tmp_path / "gone.txt")
    (listings / "loop-a.txt").symlink_to(listings / "loop-b.txt")
    (listings / "loop-b.txt").symlink_to(listings / "loop-a.txt")
    os.mkfifo(listings / "fifo.txt")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(listings / "socket.txt"))
    locked = listings / "locked.jsonl"
    locked.write_text(render("jsonl", specs("locked")), encoding="utf-8")
    locked.chmod(0)
    (listings / "subdir").mkdir()  # not entered, not an error
    try:
        with open_store(tmp_path / "store", hashing) as store:
            started = time.monotonic()
            report = ingest_paths([listings], store, hashing, progress=False)
            titles = {r.title for r in store.records()}
    finally:
        server.close()
        locked.chmod(0o644)

    assert time.monotonic() - started < 60  # the FIFO was not opened (it would block)
    errors = {Path(f.path).name: f.error for f in report.files if f.error}
    assert "broken symbolic link" in errors["broken-link.txt"]
    assert "symbolic link loop" in errors["loop-a.txt"] and "symbolic link loop" in errors["loop-b.txt"]
    assert "FIFO" in errors["fifo.txt"] and "socket" in errors["socket.txt"]
    for name, message in errors.items():
        assert str(listings / name) in message
    assert {s.title for s in specs("dir")} <= titles
    if os.geteuid() == 0:  # root reads a mode-000 file: it simply ingests
        assert {s.title for s in specs("locked")} <= titles
    else:
        assert "permission denied" in errors["locked.jsonl"]
    assert "subdir" not in {Path(f.path).name for f in report.files}
    hardening.record("bad input", "directory with a broken link, a link loop, a FIFO, a socket, a mode-000 file",
                     f"{len(errors)} entries named as unreadable, the good file ingested", lost=0)  # fmt: skip


def test_a_fifo_named_directly_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "listing.txt"
    os.mkfifo(fifo)
    with pytest.raises(ListingParseError, match="not a regular file") as err:
        parse_listing(fifo)
    assert str(fifo) in str(err.value)


def test_size_limit_refuses_before_reading_and_names_file_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "listing.jsonl"
    path.write_text(render("jsonl", specs("limit")), encoding="utf-8")
    assert len(parse_listing(path, max_bytes=path.stat().st_size).records) == 3  # at the limit
    with pytest.raises(ListingParseError) as err:
        parse_listing(path, max_bytes=path.stat().st_size - 1)
    message = str(err.value)
    assert message.startswith(f"{path}: file is ") and "MB limit for one listing" in message
    assert "PAPERCHAT_MAX_LISTING_MB" in message


@pytest.mark.slow
def test_a_200_mb_file_is_refused_cheaply_and_the_others_ingest(tmp_path: Path, hashing, hardening) -> None:
    """A 200 MB JSONL (real records, generated here) is refused by size, using no memory to
    speak of; the good file beside it still ingests."""
    big = tmp_path / "dump.jsonl"
    line = (json.dumps({"title": "Padding paper", "authors": ["A B"], "abstract": "word " * 200}) + "\n").encode()
    with big.open("wb") as handle:
        block = line * (1024 * 1024 // len(line) + 1)
        while handle.tell() < 200 * 1024 * 1024:
            handle.write(block)
    good = tmp_path / "good.csv"
    good.write_text(render("csv", specs("big")), encoding="utf-8")

    with open_store(tmp_path / "store", hashing) as store:
        tracemalloc.start()
        try:
            report = ingest_paths([big, good], store, hashing, progress=False)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        titles = {r.title for r in store.records()}

    [big_report] = [f for f in report.files if Path(f.path) == big]
    assert big_report.error and str(big) in big_report.error
    assert "over the 64 MB limit" in big_report.error
    assert titles == {s.title for s in specs("big")}
    assert peak < 20 * 1024 * 1024, f"peak Python memory {peak / 2**20:.0f} MB"
    hardening.record("bad input", "a 200 MB listing beside a good one",
                     f"refused by size ({peak / 2**20:.1f} MB peak memory); the good file ingested", lost=0)


def test_html_in_the_store_is_the_cleaned_text(tmp_path: Path, hashing) -> None:
    """What is embedded and shown is the cleaned text, not the markup."""
    path = tmp_path / "listing.jsonl"
    built = CASES["HTML tags and entities in fields"]("jsonl", "html")
    path.write_bytes(built.data)
    with open_store(tmp_path / "store", hashing) as store:
        ingest_paths([path], store, hashing, progress=False)
        stored = store.records()
    embedded = [text for r in stored for text in embedding_text_chunks(r, hashing.count_tokens)]
    assert stored and embedded
    for text in embedded + [r.title or "" for r in stored]:
        assert "<" not in text.replace("<b and c>", ""), text
        assert html.unescape(text) == text, text
