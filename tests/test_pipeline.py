"""Ingesting real listings: per-file summaries, idempotent re-runs, bad files, untitled papers.

Runs the real pipeline (parsers, merge, packaged embedder, on-disk Chroma) on the bundled
listings, on small hand-written fixtures, and (slow) on the paperlists file as well.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app import PaperChat
from app.papers import UNTITLED_NOTE, Paper
from ingest.records import normalize_text

FIXTURES = Path(__file__).parent / "fixtures"
PAPERSCOOL = "000_8bc7cccfbb1f2936.txt"
VIRTUAL = "001_49cbb665570d8f3c.txt"
DP_SGD_TITLE = "How Private are DP-SGD Implementations?"


def _file_report(report, name: str):
    [found] = [f for f in report.files if Path(f.path).name == name]
    return found


def _chua_ghazi(records):
    """The DP-SGD implementations paper: first authors Lynn Chua and Badih Ghazi."""
    [record] = [r for r in records if r.authors[:2] == ["Lynn Chua", "Badih Ghazi"]]
    return record


# ------------------------------------------------------------------------ bundled listings


def test_bundled_listings_summary_counts_each_file(bundled_build):
    """The papers.cool file starts 25 records; the orals file adds 119 and merges 25 into them."""
    report = bundled_build.report
    cool, virtual = _file_report(report, PAPERSCOOL), _file_report(report, VIRTUAL)

    assert (cool.format, cool.parsed, cool.merged, cool.new, cool.updated, cool.unchanged) == (
        "paperscool", 25, 0, 25, 0, 0,
    )
    assert (virtual.format, virtual.parsed, virtual.merged, virtual.new, virtual.updated,
            virtual.unchanged) == ("icml-virtual", 144, 25, 119, 0, 0)  # fmt: skip
    assert report.ok
    assert report.records == 144
    assert report.embedded_papers == 144
    summary = "\n".join(report.lines())
    assert f"{PAPERSCOOL} [paperscool]: parsed 25, merged 0, new 25" in summary
    assert f"{VIRTUAL} [icml-virtual]: parsed 144, merged 25, new 119" in summary


def test_bundled_store_has_144_records_25_titled(bundled_store):
    records = PaperChat(data_dir=bundled_store).searcher.records
    assert len(records) == 144
    assert sum(1 for r in records if r.title) == 25
    assert all(r.abstract for r in records)
    assert {(r.venue, r.year, r.status) for r in records} == {("ICML", 2024, "Oral")}


def test_bundled_store_keeps_no_write_log_or_free_pages(bundled_store):
    """Chroma's write log is emptied as its index saves, and the free pages go at the end."""
    import sqlite3

    from vectorstore.compact import MIN_FREE_SHARE, free_bytes, sqlite_path

    database = sqlite_path(bundled_store / "chroma")
    with sqlite3.connect(database) as connection:
        logged = connection.execute("SELECT count(*) FROM embeddings_queue").fetchone()[0]
    assert logged < 100, "at most one unsaved batch of the 204 chunks"
    free, total = free_bytes(database)
    assert free < MIN_FREE_SHARE * total
    store_bytes = sum(f.stat().st_size for f in (bundled_store / "chroma").rglob("*") if f.is_file())
    assert store_bytes / 144 < 10_240, f"{store_bytes / 144:.0f} bytes a paper"


def test_reingesting_the_same_files_changes_nothing(bundled_store, repo_root, tmp_path):
    data_dir = tmp_path / "store"
    shutil.copytree(bundled_store, data_dir)
    questions = ["Which orals study differential privacy?", "Which orals did Tim Rocktäschel co-author?"]
    before = PaperChat(data_dir=data_dir)
    hashes_before = before.store().stored_hashes()
    results_before = [[(p.id, p.score) for p in before.search(q)] for q in questions]
    before.store().close()

    pc = PaperChat(data_dir=data_dir)
    report = pc.ingest([repo_root / "data" / "listings"], venue="ICML", year=2024, progress=False)

    assert report.ok
    assert report.records == 144
    assert report.embedded_papers == 0 and report.embedded_chunks == 0
    for file in report.files:
        assert (file.new, file.updated, file.unchanged) == (0, 0, file.parsed), file.summary()
        assert file.merged == file.parsed
    assert pc.store().stored_hashes() == hashes_before
    assert [[(p.id, p.score) for p in pc.search(q)] for q in questions] == results_before
    assert all(results_before), "the questions should find papers, or the comparison is empty"


def test_a_paper_whose_text_is_unchanged_keeps_its_vectors_and_one_whose_abstract_changed_is_embedded(
    tmp_path: Path,
) -> None:
    """A new status or institution rewrites the record without embedding it again; a new
    abstract is embedded (the vectors must follow the text)."""
    import json

    import numpy as np

    listing = tmp_path / "papers.jsonl"
    first = [{"title": f"Paper {i} on Sparse Coding", "authors": [f"Ann Bee{i}"],
              "abstract": f"We study sparse coding of signal family {i} with learned dictionaries."} for i in range(3)]
    listing.write_text("\n".join(json.dumps(r) for r in first) + "\n")
    pc = PaperChat(data_dir=tmp_path / "store")
    pc.ingest([listing], progress=False)
    ids = [r.id for r in sorted(pc.store().records(), key=lambda r: r.title)]
    vectors_before = pc.store().chunk_vectors(ids)

    second = [dict(first[0], status="Oral", affiliations=["MIT"]),
              # longer, as a fuller listing's abstract is (the longer abstract is the one kept)
              dict(first[1], abstract=first[1]["abstract"] + " We then turn to protein folding, which it predicts well."),
              first[2]]
    listing.write_text("\n".join(json.dumps(r) for r in second) + "\n")
    report = pc.ingest([listing], progress=False)

    assert (report.embedded_papers, report.rewritten_papers) == (1, 1)
    assert "updated 1 more whose text was unchanged" in report.lines()[-1]
    vectors_after = pc.store().chunk_vectors(ids)
    assert np.array_equal(vectors_after[ids[0]], vectors_before[ids[0]])
    assert not np.allclose(vectors_after[ids[1]], vectors_before[ids[1]])
    assert np.array_equal(vectors_after[ids[2]], vectors_before[ids[2]])
    rewritten = {r.id: r for r in pc.store().records()}[ids[0]]
    assert (rewritten.status, rewritten.affiliations) == ("Oral", ["MIT"])
    assert pc.search("Which papers study protein folding?")[0].id == ids[1]


# ------------------------------------------------------------------------ bad and odd inputs


def test_bad_file_is_reported_and_the_good_ones_still_ingest(run_cli, tmp_path):
    """A file that is not JSON fails alone; a file with one broken entry loses only that entry."""
    data_dir = tmp_path / "store"
    good = FIXTURES / "tiny_paperscool.txt"
    broken = FIXTURES / "broken_paperlists.json"
    truncated = FIXTURES / "tiny_paperscool_truncated.txt"

    result = run_cli("ingest", good, broken, truncated, "--data-dir", data_dir, "--no-progress")

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert any(str(broken) in line and "line 6" in line and "FAILED" in line for line in lines), result.stdout
    assert any(str(truncated) in line and "line 9 (entry 2)" in line for line in lines), result.stdout
    titles = {r.title for r in PaperChat(data_dir=data_dir).searcher.records}
    assert titles == {
        "Fast & Slow Gradient Descent",
        "[CLS] Tokens Considered Harmful",
        "A Paper Numbered Three",
        "A Complete Entry",
    }


def test_directory_ingests_the_listing_files_inside(tmp_path):
    listings = tmp_path / "listings"
    listings.mkdir()
    shutil.copy(FIXTURES / "tiny_paperscool.txt", listings)
    (listings / "more.jsonl").write_text(
        '{"title": "Sorting Networks Revisited", "authors": ["Donald Knuth"], "abstract": "Comparators."}\n'
        '{"title": "Garbage Collection at Scale", "authors": ["John McCarthy"], "abstract": "Heaps."}\n',
        encoding="utf-8",
    )
    (listings / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden clutter is skipped

    pc = PaperChat(data_dir=tmp_path / "store")
    report = pc.ingest([listings], progress=False)

    assert report.ok, report.lines()
    assert sorted(Path(f.path).name for f in report.files) == ["more.jsonl", "tiny_paperscool.txt"]
    assert report.records == 5
    assert {r.title for r in pc.searcher.records} == {
        "Fast & Slow Gradient Descent",
        "[CLS] Tokens Considered Harmful",
        "A Paper Numbered Three",
        "Sorting Networks Revisited",
        "Garbage Collection at Scale",
    }


def test_untitled_record_is_citable_without_inventing_a_title(bundled_store):
    pc = PaperChat(data_dir=bundled_store)
    record = _chua_ghazi(pc.searcher.records)
    paper = Paper.from_record(record)

    assert record.title is None
    assert paper.to_dict()["title"] is None
    assert "Lynn Chua, Badih Ghazi et al." in paper.citation
    assert UNTITLED_NOTE in paper.citation
    assert "We demonstrate a substantial gap" in paper.citation
    cited = pc.search("Which orals did Lynn Chua co-author?")
    assert record.id in [p.id for p in cited]


# ------------------------------------------------------------------------ paperlists merged in


@pytest.mark.slow
def test_paperlists_fill_in_titles_of_every_oral(merged_store):
    records = PaperChat(data_dir=merged_store).searcher.records
    orals = [r for r in records if any(s.file == VIRTUAL for s in r.sources)]

    assert len(records) == 2610
    assert len(orals) == 144
    assert [r for r in orals if not (r.title and r.abstract)] == []
    assert _chua_ghazi(records).title == DP_SGD_TITLE
    assert len({normalize_text(r.title) for r in records if r.title}) == sum(1 for r in records if r.title)
