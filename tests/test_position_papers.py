"""Position papers: read from the "Position:" title prefix and from abstracts that say so.

Over the 2,610 ICML 2024 papers, text search for "position papers" also matched
"Positional Encodings" titles (the stemmer folds the two); the marks in the records do not.
"""

from __future__ import annotations

import re

import pytest

from app import PaperChat
from app.position_papers import PositionPapers, asks_for_position_papers, declares_position
from ingest.records import PaperRecord

PREFIX = re.compile(r"^Position:")


def marked(record: PaperRecord) -> bool:
    """The truth the tests check against, spelled independently of the module's patterns."""
    return bool(PREFIX.match(record.title or "")) or "position paper" in (record.abstract or "").lower()


@pytest.mark.parametrize(
    ("question", "rest"),
    [
        ("Which orals are position papers?", "Which orals are?"),
        ("List all position papers", "List all"),
        ("Which position papers are about AI governance?", "Which are about AI governance?"),
    ],
)
def test_the_ask_is_read_and_taken_out_of_the_text(question, rest):
    assert asks_for_position_papers(question) == (True, rest)


def test_positional_encodings_are_not_position_papers():
    question = "Which papers study positional encodings?"
    assert asks_for_position_papers(question) == (False, question)
    assert not declares_position(PaperRecord(title="Graph Positional and Structural Encoder"))
    assert declares_position(PaperRecord(abstract="In this position paper, we argue that X."))


def test_a_titled_paper_without_the_prefix_is_ruled_out_only_where_titles_use_it():
    untitled = PaperRecord(abstract="We study graphs.")
    plain = PaperRecord(title="Graph Positional and Structural Encoder")
    prefixed = [PaperRecord(title=f"Position: Claim {n}") for n in range(3)]

    with_convention = PositionPapers([untitled, plain, *prefixed])
    assert with_convention.possible.tolist() == [True, False, True, True, True]

    without = PositionPapers([untitled, plain, prefixed[0]])  # one prefix is not a convention
    assert without.possible.all()
    assert without.declared.tolist() == [False, False, True]


def test_every_oral_marked_as_a_position_paper_and_nothing_else(merged_store):
    pc = PaperChat(data_dir=merged_store, llm="extractive")
    expected = {r.id for r in pc.searcher.records if r.status == "Oral" and marked(r)}
    assert len(expected) >= 10

    answer = pc.ask("Which orals are position papers?")

    assert {p.id for p in answer.citations} == expected


def test_position_papers_on_a_topic_are_searched_among_position_papers(merged_store):
    pc = PaperChat(data_dir=merged_store, llm="extractive")
    result = pc.searcher.search("Which position papers are about AI governance and regulation?")

    assert result.papers and all(PREFIX.match(p.title or "") for p in result.papers)
    searched = sum(1 for r in pc.searcher.records if marked(r) or not r.title)
    assert f"and papers without a title: {searched} papers." in result.notices[-1]


def test_abstracts_that_call_themselves_position_papers_are_all_listed(bundled_store):
    pc = PaperChat(data_dir=bundled_store, llm="extractive")
    declared = {r.id for r in pc.searcher.records if marked(r)}
    assert len(declared) >= 5  # most of the 144 orals are untitled: their abstracts say so

    found = {p.id for p in pc.ask("Which orals are position papers?").citations}

    assert declared <= found


def test_an_institutions_position_papers_are_all_listed(merged_store):
    pc = PaperChat(data_dir=merged_store, llm="extractive")
    result = pc.searcher.search("Which papers from MIT are position papers?")

    mit = {pid for match in result.affiliations for pid in match.paper_ids}
    expected = {r.id for r in pc.searcher.records if r.id in mit and marked(r)}
    assert len(expected) > 3
    assert {p.id for p in result.papers} == expected
