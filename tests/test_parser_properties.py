"""Property-based tests: whatever text or bytes a parser gets, it returns records or raises
:class:`ListingParseError` naming the file (and the line or entry when it is about one entry),
and nothing else: no ``IndexError``, ``RecursionError``, ``csv.Error`` or hang.

Inputs are arbitrary Unicode, lines built from each format's own vocabulary (so the parsers
get past their first checks), and near-valid listings: the test fixtures mutated by cutting,
inserting, duplicating and swapping pieces. ``parse_listing`` also gets arbitrary bytes in
files, which exercises decoding and sniffing. Examples are capped (200 per test) so the whole
module runs in seconds; the example database is off so nothing is written into the repo.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.parsers import ListingParseError, ParseResult, icml_virtual, paperlists, paperscool, parse_listing, tabular
from ingest.parsers.base import INVISIBLE_RE

FIXTURES = Path(__file__).parent / "fixtures"
PATH = "listings/generated_icml2024.json"

PARSERS: dict[str, Callable[[str, str], ParseResult]] = {
    "paperscool": paperscool.parse,
    "icml-virtual": icml_virtual.parse,
    "paperlists": paperlists.parse,
    "jsonl": tabular.parse_jsonl,
    "csv": tabular.parse_csv,
}
SAMPLES = [
    (FIXTURES / name).read_text(encoding="utf-8")
    for name in ("tiny_paperscool.txt", "tiny_virtual.txt", "tiny_paperlists.json", "tiny.jsonl",
                 "tiny.csv", "tiny_paperscool_truncated.txt", "tiny_virtual_truncated.txt")  # fmt: skip
]
#: Lines in the formats' own vocabulary, so generated text reaches the parsers' inner paths.
VOCABULARY = [
    "ICML.2024 - Oral", "| Total: 3", "#1 A Title [PDF1] [Copy] [Kimi2] [REL]", "#2 [PDF]",
    "Authors: Ada Lovelace ; Alan Turing", "Authors:", "Authors: ;", "Oral", "Spotlight", "Abstract",
    "Abst", "Ada Lovelace · Alan Turing", "Skip to yearly menu bar", "ICML 2024", "[", "]", "{", "}",
    "[{", "}]", "},", '"title": "T",', '"author": "A;B",', '"authors": [{"name": "A"}],',
    '"abstract": "x"', '{"title": "T", "authors": ["A"], "abstract": "x"}', '{"title": 5}',
    "title,authors,abstract", "Title;Authors;Abstract", "title\tabstract", '"quoted, cell",b,c',
    'a,"unterminated', "x,y,z,extra,,", "\ufeff#1 T", "\u200bAbstract", "<i>x</i> &amp; &#233;",
    "", " ", "\t",
]  # fmt: skip
SETTINGS = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """A fixture listing with a few random cuts, insertions, duplications and swaps."""
    text = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["cut", "insert", "duplicate", "swap", "truncate"]))
        if not text:
            break
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 200)))
        if op == "cut":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.text(max_size=30) | st.sampled_from(VOCABULARY)) + text[i:]
        elif op == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif op == "truncate":
            text = text[:i]
        else:
            lines = text.split("\n")
            a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
    return text


#: Pieces that break naive parsers: nesting deeper than Python's JSON decoder recurses, a
#: number past int()'s 4,300-digit limit, a CSV field past the csv module's 128 KB default.
NASTY = st.sampled_from([
    "[" * 5_000, '{"title": ' + "[" * 5_000, '{"year": ' + "9" * 5_000 + "}",
    '"' + "x" * 140_000 + '"', "x" * 140_000, "\x01\x02\x7f",
])  # fmt: skip
vocabulary_text = st.lists(
    st.sampled_from(VOCABULARY) | st.text(max_size=20) | NASTY, max_size=30
).map("\n".join)
any_text = st.text(max_size=400) | vocabulary_text | near_valid()


def check(result_or_error: ParseResult | ListingParseError, path: str) -> None:
    """The contract: located problems and records with a source, or a located error."""
    if isinstance(result_or_error, ListingParseError):
        assert result_or_error.path == path
        assert str(result_or_error).startswith(path)
        return
    result = result_or_error
    assert result.path == path
    for problem in result.problems + result.notes:
        assert isinstance(problem, ListingParseError) and problem.path == path
        assert problem.line is not None or problem.entry is not None, str(problem)
        assert str(problem).startswith(path)
    for record in result.records:
        assert record.sources and record.sources[0].file == Path(path).name
        assert record.sources[0].entry >= 1


def run(parser: Callable[[str, str], ParseResult], text: str, path: str = PATH) -> None:
    try:
        outcome: ParseResult | ListingParseError = parser(text, path)
    except ListingParseError as error:
        outcome = error
    check(outcome, path)


@pytest.mark.parametrize("name", list(PARSERS))
@SETTINGS
@given(text=any_text)
def test_every_parser_returns_records_or_a_located_parse_error(name: str, text: str) -> None:
    run(PARSERS[name], text)


@pytest.mark.parametrize("name", list(PARSERS))
@SETTINGS
@given(text=near_valid())
def test_near_valid_listings_keep_their_untouched_entries_located(name: str, text: str) -> None:
    run(PARSERS[name], text)


_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f]")


@pytest.fixture(scope="module")
def listing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("generated")


@SETTINGS
@given(
    data=st.binary(max_size=600)
    | any_text.map(lambda t: t.encode("utf-8"))
    | near_valid().map(lambda t: t.encode("utf-16"))
    | near_valid().map(lambda t: t.encode("cp1252", errors="replace")),
    suffix=st.sampled_from([".txt", ".json", ".jsonl", ".csv", ".dat"]),
)
def test_parse_listing_on_any_bytes_gives_clean_records_or_a_located_error(
    listing_dir: Path, data: bytes, suffix: str
) -> None:
    path = listing_dir / f"generated{suffix}"
    path.write_bytes(data)
    try:
        result = parse_listing(path)
    except ListingParseError as error:
        check(error, str(path))
        return
    check(result, str(path))
    for record in result.records:
        for value in [record.title, record.abstract, record.venue, record.status, *record.authors]:
            if value is not None:
                assert value == value.strip() and value, record
                assert not INVISIBLE_RE.search(value) and not _CONTROL.search(value), record
        assert record.title or record.authors or record.abstract
