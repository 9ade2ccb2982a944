"""Tests for the listing parsers, on small hand-written fixtures and on the real listings.

Byte-level variants (CRLF, BOM, Latin-1, UTF-16, binary) are written to ``tmp_path`` by the
tests themselves, so a git line-ending setting can never silently turn them into plain files.
"""

from __future__ import annotations

import codecs
import shutil
from pathlib import Path

import pytest

from ingest.parsers import (
    FORMATS,
    ListingDefaults,
    ListingParseError,
    parse_listing,
    read_listing_text,
    sniff_format,
)
from ingest.parsers.base import clean_text
from ingest.parsers.paperlists import venue_year_from_name
from ingest.records import normalize_text

FIXTURES = Path(__file__).parent / "fixtures"
LISTINGS = Path(__file__).resolve().parents[1] / "data" / "listings"
PAPERSCOOL_REAL = LISTINGS / "000_8bc7cccfbb1f2936.txt"
VIRTUAL_REAL = LISTINGS / "001_49cbb665570d8f3c.txt"
PAPERLISTS_REAL = (
    Path(__file__).resolve().parents[2] / "shared" / "listings" / "paperlists_icml2024.json"
)


@pytest.fixture(scope="module")
def paperlists_real():
    if not PAPERLISTS_REAL.is_file():
        pytest.skip(f"{PAPERLISTS_REAL} not present (the shared/ folder beside the repo)")
    return parse_listing(PAPERLISTS_REAL)


def copy_as(tmp_path: Path, fixture: str | Path, name: str) -> Path:
    """Copy a fixture under another name, to show the extension does not decide the format."""
    target = tmp_path / name
    shutil.copyfile(FIXTURES / fixture if isinstance(fixture, str) else fixture, target)
    return target


# --- real listings ---------------------------------------------------------------------------


def test_real_paperscool_listing() -> None:
    result = parse_listing(PAPERSCOOL_REAL)
    assert result.format == "paperscool"
    assert result.problems == []
    assert len(result.records) == 25
    assert all(r.title and r.authors and r.abstract for r in result.records)
    assert {(r.venue, r.year, r.status) for r in result.records} == {("ICML", 2024, "Oral")}
    first = result.records[0]
    assert first.title == "Active Statistical Inference"
    assert first.authors == ["Tijana Zrnic", "Emmanuel Candes"]
    assert first.abstract.startswith("Inspired by the concept of active learning")
    assert [r.sources[0].entry for r in result.records] == list(range(1, 26))
    assert first.sources[0].line == 5 and first.sources[0].file == PAPERSCOOL_REAL.name
    assert not any("[PDF" in r.title or "[REL]" in r.title for r in result.records)


def test_real_virtual_listing() -> None:
    result = parse_listing(VIRTUAL_REAL)
    assert result.format == "icml-virtual"
    assert result.problems == []
    assert len(result.records) == 144
    assert all(r.title is None for r in result.records)
    assert all(r.authors and r.abstract for r in result.records)
    assert {r.status for r in result.records} == {"Oral"}
    assert {(r.venue, r.year) for r in result.records} == {(None, None)}
    assert result.records[0].authors[0] == "Li Sun"
    assert result.records[0].abstract.startswith("Graph clustering is a fundamental problem")
    last = result.records[-1]
    assert last.authors == ["Jonah Brown-Cohen", "Geoffrey Irving", "Georgios Piliouras"]
    assert [r.sources[0].entry for r in result.records] == list(range(1, 145))
    # no page chrome or block marker leaked into a record
    assert not any("Abstract" in r.authors or "Orals" in r.authors for r in result.records)
    assert not any(r.abstract.endswith("Oral") for r in result.records)


def test_real_virtual_listing_takes_venue_and_year_from_the_user() -> None:
    result = parse_listing(VIRTUAL_REAL, defaults=ListingDefaults(venue="ICML", year=2024))
    assert {(r.venue, r.year, r.status) for r in result.records} == {("ICML", 2024, "Oral")}


def test_real_paperlists_listing(paperlists_real) -> None:
    result = paperlists_real
    assert result.format == "paperlists"
    assert result.problems == []
    assert len(result.records) == 2610
    assert sum(r.status == "Oral" for r in result.records) == 144
    assert {(r.venue, r.year) for r in result.records} == {("ICML", 2024)}
    assert all(r.title and r.authors and r.abstract is None for r in result.records)
    assert all(r.links.get("site", "").startswith("https://icml.cc/") for r in result.records)
    assert all(r.links["openreview"].startswith("https://openreview.net/") for r in result.records)
    # the source line points at the opening brace of the record
    lines = PAPERLISTS_REAL.read_text(encoding="utf-8").split("\n")
    last = result.records[-1].sources[0]
    assert last.entry == 2610 and lines[last.line - 1].strip() == "{"


def test_real_paperscool_titles_are_paperlists_orals(paperlists_real) -> None:
    orals = {normalize_text(r.title) for r in paperlists_real.records if r.status == "Oral"}
    cool = parse_listing(PAPERSCOOL_REAL).records
    assert all(normalize_text(r.title) in orals for r in cool)


# --- papers.cool -----------------------------------------------------------------------------


def test_paperscool_fixture() -> None:
    assert "\u200b" in (FIXTURES / "tiny_paperscool.txt").read_text(encoding="utf-8")
    result = parse_listing(FIXTURES / "tiny_paperscool.txt")
    assert result.problems == []
    titles = [r.title for r in result.records]
    # trailing [..] buttons go, a leading "[CLS]" is part of the title; entities unescaped
    assert titles == [
        "Fast & Slow Gradient Descent",
        "[CLS] Tokens Considered Harmful",
        "A Paper Numbered Three",
    ]
    first, second, _ = result.records
    assert first.authors == ["Ada Lovelace", "Alan Turing"]  # zero-width space, trailing ";"
    assert first.abstract == "We study fast and slow gradient descent."
    assert second.abstract == "First paragraph of the abstract. Second paragraph of the abstract."
    assert {(r.venue, r.year, r.status) for r in result.records} == {
        ("NeurIPS", 2023, "Spotlight Poster")
    }
    # positions are counted, not read from "#1 #7 #3"
    assert [(s.entry, s.line) for r in result.records for s in r.sources] == [
        (1, 5), (2, 12), (3, 20)
    ]


def test_paperscool_truncated_entries_are_problems_not_failures() -> None:
    path = FIXTURES / "tiny_paperscool_truncated.txt"
    result = parse_listing(path)
    assert [r.title for r in result.records] == ["A Complete Entry"]
    assert [(p.line, p.entry) for p in result.problems] == [(9, 2), (13, 3)]
    assert "Authors:" in result.problems[0].message
    assert str(result.problems[1]) == (
        f"{path}, line 13 (entry 3): abstract missing (entry truncated?)"
    )


# --- virtual site ----------------------------------------------------------------------------


def test_virtual_fixture() -> None:
    result = parse_listing(FIXTURES / "tiny_virtual.txt")
    assert result.problems == []
    assert [r.status for r in result.records] == ["Oral", "Spotlight", "Poster"]
    assert [r.authors for r in result.records] == [
        ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        ["Dax"],
        ["Edsger Dijkstra", "Barbara Liskov"],
    ]
    assert result.records[2].abstract == "First paragraph. Second paragraph & more."
    assert all(r.title is None for r in result.records)
    assert {(r.venue, r.year) for r in result.records} == {("ICML", 2024)}  # from "ICML 2024"
    assert [r.sources[0].line for r in result.records] == [5, 11, 17]


def test_user_defaults_override_what_the_listing_says() -> None:
    defaults = ListingDefaults(venue="NeurIPS", year=2023, status="Oral")
    result = parse_listing(FIXTURES / "tiny_virtual.txt", defaults=defaults)
    assert {(r.venue, r.year, r.status) for r in result.records} == {("NeurIPS", 2023, "Oral")}
    partial = parse_listing(FIXTURES / "tiny_virtual.txt", defaults=ListingDefaults(year=2030))
    assert [(r.venue, r.year, r.status) for r in partial.records][1] == ("ICML", 2030, "Spotlight")


def test_virtual_truncated_entries_are_problems() -> None:
    path = FIXTURES / "tiny_virtual_truncated.txt"
    result = parse_listing(path)
    assert len(result.records) == 1 and result.records[0].abstract == "A complete entry."
    assert [(p.line, p.entry) for p in result.problems] == [(10, 2), (15, 3)]
    assert all(str(p).startswith(f"{path}, line ") for p in result.problems)
    assert "authors line missing" in result.problems[0].message


# --- paperlists ------------------------------------------------------------------------------


def test_paperlists_fixture_keeps_good_entries_and_reports_bad_ones() -> None:
    path = FIXTURES / "tiny_paperlists.json"
    result = parse_listing(path)
    assert [r.title for r in result.records] == [
        "Learning to Rank & Retrieve",
        "A Paper With An Author List",
        "Spotlight on Sparse Attention",
    ]
    first, second, third = result.records
    assert first.links == {
        "site": "https://icml.cc/virtual/2024/oral/1",
        "openreview": "https://openreview.net/forum?id=abc123",
        "proceeding": "https://proceedings.mlr.press/v235/lovelace24a.html",
    }  # the empty "pdf" is dropped
    assert first.authors == ["Ada Lovelace", "Alan Turing"] and first.abstract is None
    assert second.authors == ["Grace Hopper", "Edsger Dijkstra"]
    assert second.abstract == "Some papers come with abstracts."
    assert [r.status for r in result.records] == ["Oral", "Poster", "Spotlight"]
    assert (first.venue, first.year) == (None, None)  # the name carries no venue/year
    assert [(r.sources[0].entry, r.sources[0].line) for r in result.records] == [
        (1, 2), (2, 13), (5, 31)
    ]
    assert [(p.line, p.entry) for p in result.problems] == [(21, 3), (27, 4)]
    assert str(result.problems[0]) == (
        f"{path}, line 21 (entry 3): 'title' is a JSON number, expected text"
    )
    assert "neither a title nor authors" in result.problems[1].message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("paperlists_icml2024.json", ("ICML", 2024)),
        ("iclr2025.json", ("ICLR", 2025)),
        ("neurips_2023.json", ("NeurIPS", 2023)),
        ("my_papers.json", (None, None)),
    ],
)
def test_paperlists_venue_and_year_from_file_name(name: str, expected: tuple) -> None:
    assert venue_year_from_name(name) == expected


def test_paperlists_file_name_venue_reaches_records(tmp_path: Path) -> None:
    result = parse_listing(copy_as(tmp_path, "tiny_paperlists.json", "iclr2025.json"))
    assert {(r.venue, r.year) for r in result.records} == {("ICLR", 2025)}


def test_paperlists_invalid_json_names_file_and_line() -> None:
    path = FIXTURES / "broken_paperlists.json"
    with pytest.raises(ListingParseError) as err:
        parse_listing(path)
    assert err.value.line == 6
    assert str(err.value).startswith(f"{path}, line 6: invalid JSON")


def test_paperlists_top_level_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "icml2024.json"
    path.write_text('{"title": "Not in an array", "author": "A"}', encoding="utf-8")
    with pytest.raises(ListingParseError, match="expected a JSON array"):
        parse_listing(path, format="paperlists")


# --- JSONL and CSV ---------------------------------------------------------------------------


def test_jsonl_fixture() -> None:
    path = FIXTURES / "tiny.jsonl"
    result = parse_listing(path)
    assert result.format == "jsonl"
    assert [r.title for r in result.records] == [
        "JSONL Paper One", "JSONL Paper Two", "JSONL Paper Three"
    ]
    one, two, three = result.records
    assert (one.venue, one.year, one.status) == ("ICLR", 2025, "Oral")
    assert one.links == {"site": "https://example.org/1"}  # "url" is the site link
    assert two.authors == ["Grace Hopper", "Barbara Liskov"]  # "Author" key, any case
    assert two.year == 2023 and two.links == {"openreview": "https://openreview.net/forum?id=2"}
    positions = [(r.sources[0].entry, r.sources[0].line) for r in result.records]
    assert positions == [(1, 1), (2, 2), (6, 7)]
    assert [(p.line, p.entry) for p in result.problems] == [(4, 3), (5, 4), (6, 5)]
    assert str(result.problems[0]).startswith(f"{path}, line 4 (entry 3): invalid JSON")
    assert "not a JSON object" in result.problems[1].message
    assert "'soon'" in result.problems[2].message


def test_csv_fixture() -> None:
    path = FIXTURES / "tiny.csv"
    result = parse_listing(path)
    assert result.format == "csv"
    assert [r.title for r in result.records] == ["CSV Paper One", "CSV Paper Three"]
    one, three = result.records
    assert one.abstract == "An abstract that spans two lines, with a comma."
    assert one.authors == ["Ada Lovelace", "Alan Turing"]
    assert (one.venue, one.year) == ("ICML", 2024)
    assert one.links == {"site": "https://example.org/1"}
    assert (three.venue, three.year, three.links) == (None, None, {})
    # row 2 starts on line 4 because row 1's quoted abstract spans lines 2-3
    assert [(r.sources[0].entry, r.sources[0].line) for r in result.records] == [(1, 2), (3, 5)]
    assert [(p.line, p.entry) for p in result.problems] == [(4, 2)]
    assert "8 fields but the header has 7" in str(result.problems[0])


def test_csv_without_usable_columns_is_refused_whole() -> None:
    path = FIXTURES / "no_columns.csv"
    with pytest.raises(ListingParseError) as err:
        parse_listing(path)
    message = str(err.value)
    assert message.startswith(f"{path}, line 1:")
    assert "'name', 'size', 'colour'" in message and "title, authors, author, abstract" in message


# --- reading bytes ---------------------------------------------------------------------------


def test_empty_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ListingParseError, match="empty file") as err:
        parse_listing(FIXTURES / "empty.txt")
    assert "empty.txt" in str(err.value)
    blank = tmp_path / "blank.txt"
    blank.write_bytes(b" \r\n\t\n")
    with pytest.raises(ListingParseError, match="empty file"):
        parse_listing(blank)


def test_binary_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "listing.txt"
    path.write_bytes(b"#1 Title\nAuthors: A\n\x00\x01\x02")
    with pytest.raises(ListingParseError, match="binary file") as err:
        parse_listing(path)
    assert err.value.line == 3 and "listing.txt" in str(err.value)


def test_unreadable_paths_are_errors_naming_them(tmp_path: Path) -> None:
    with pytest.raises(ListingParseError, match="directory") as err:
        parse_listing(tmp_path)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(ListingParseError, match="no such file"):
        parse_listing(tmp_path / "missing.txt")


def test_crlf_and_cr_line_endings_parse_like_lf(tmp_path: Path) -> None:
    original = parse_listing(FIXTURES / "tiny_paperscool.txt")
    text = (FIXTURES / "tiny_paperscool.txt").read_bytes()
    for ending in (b"\r\n", b"\r"):
        path = tmp_path / "listing.txt"
        path.write_bytes(text.replace(b"\n", ending))
        result = parse_listing(path)
        assert [(r.title, r.authors, r.abstract) for r in result.records] == [
            (r.title, r.authors, r.abstract) for r in original.records
        ]
        assert [r.sources[0].line for r in result.records] == [5, 12, 20]


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    json_path = tmp_path / "listing.json"
    json_path.write_bytes(codecs.BOM_UTF8 + (FIXTURES / "tiny_paperlists.json").read_bytes())
    assert len(parse_listing(json_path).records) == 3
    csv_path = tmp_path / "listing.csv"
    csv_path.write_bytes(codecs.BOM_UTF8 + (FIXTURES / "tiny.csv").read_bytes())
    # the header is "Title", not "\ufeffTitle", so the title column is found
    assert parse_listing(csv_path).records[0].title == "CSV Paper One"


def test_utf16_with_bom_is_text_not_binary(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text((FIXTURES / "tiny.csv").read_text(encoding="utf-8"), encoding="utf-16")
    assert [r.title for r in parse_listing(path).records] == ["CSV Paper One", "CSV Paper Three"]


def test_legacy_encodings_decode_without_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    text = "title,authors\nA \u201cnegative\u201d result,J\u00fcrgen Schmidhuber\n"
    path.write_bytes(text.encode("cp1252"))
    record = parse_listing(path).records[0]
    assert record.title == "A \u201cnegative\u201d result"
    assert record.authors == ["J\u00fcrgen Schmidhuber"]
    # 0x81 is undefined in cp1252: Latin-1 still decodes it rather than failing the file
    path.write_bytes(b"title,authors\nCaf\xe9 \x81,Ana\n")
    assert parse_listing(path).records[0].title == "Caf\u00e9 \x81"
    assert read_listing_text(path).startswith("title,authors\n")


# --- sniffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected", "misleading_name"),
    [
        ("tiny_paperscool.txt", "paperscool", "listing.csv"),
        ("tiny_virtual.txt", "icml-virtual", "listing.jsonl"),
        ("tiny_paperlists.json", "paperlists", "listing.csv"),
        ("tiny.jsonl", "jsonl", "listing.csv"),
        ("tiny.csv", "csv", "listing.json"),
        (PAPERSCOOL_REAL, "paperscool", "listing.json"),
        (VIRTUAL_REAL, "icml-virtual", "listing.csv"),
    ],
)
def test_format_is_sniffed_from_content(
    tmp_path: Path, fixture: str | Path, expected: str, misleading_name: str
) -> None:
    for name in ("listing.dat", misleading_name):
        path = copy_as(tmp_path, fixture, name)
        assert sniff_format(path, read_listing_text(path)) == expected
        assert parse_listing(path).format == expected


def test_extension_is_only_the_fallback(tmp_path: Path) -> None:
    # no_columns.csv matches no format by content; ".csv" picks the parser that explains why
    text = (FIXTURES / "no_columns.csv").read_text(encoding="utf-8")
    assert sniff_format("no_columns.csv", text) == "csv"
    with pytest.raises(ListingParseError) as err:
        sniff_format("no_columns.txt", text)
    assert str(err.value).startswith("no_columns.txt: not a listing format paperchat knows")
    assert all(name in str(err.value) for name in FORMATS)


def test_unknown_content_and_format_names_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\nnothing listing-like here\n", encoding="utf-8")
    with pytest.raises(ListingParseError, match="pass --format one of paperscool") as err:
        parse_listing(path)
    assert "notes.txt" in str(err.value)
    with pytest.raises(ListingParseError, match="unknown format 'pdf'"):
        parse_listing(FIXTURES / "tiny.csv", format="pdf")


def test_forced_format_that_does_not_fit_is_an_error() -> None:
    with pytest.raises(ListingParseError, match="no papers.cool entries"):
        parse_listing(FIXTURES / "tiny_paperlists.json", format="paperscool")
    with pytest.raises(ListingParseError, match="no virtual-site entries"):
        parse_listing(FIXTURES / "tiny_paperscool.txt", format="icml-virtual")


# --- shared pieces ---------------------------------------------------------------------------


def test_error_message_always_names_file_and_position() -> None:
    assert str(ListingParseError("data/x.txt", "abstract missing", 41, 3)) == (
        "data/x.txt, line 41 (entry 3): abstract missing"
    )
    assert str(ListingParseError("data/x.txt", "bad", entry=3)) == "data/x.txt, entry 3: bad"
    assert str(ListingParseError(Path("data/x.txt"), "bad", line=2)) == "data/x.txt, line 2: bad"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Some <b>bold</b>.", "Some bold."),
        ("x<sub>2</sub> and <a href=\"https://x.org\">link</a>", "x2 and link"),
        ("line<br/>break", "line break"),
        ("a <b and c> d, x<y", "a <b and c> d, x<y"),  # maths is not markup
        ("R&amp;D &lt;tag&gt; &#233;", "R&D <tag> \u00e9"),
        ("zero\u200bwidth\u2060 \ufeffjoin\u00a0 \n spaced", "zerowidth join spaced"),
        (" \u200b ", None),
    ],
)
def test_clean_text(raw: str, clean: str | None) -> None:
    assert clean_text(raw) == clean
