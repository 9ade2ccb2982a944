"""Questions about how many authors a paper has.

"Which orals have more than 20 authors?" is answered from the authors field: every paper
with that many, and no other, each with its count as evidence. Beside a topic the count
narrows the papers searched; "the most authors" picks the largest count. Before this, such
a question was searched as text and answered with papers mentioning "20".
"""

from __future__ import annotations

import pytest

from app import PaperChat
from app.author_count import read_author_count
from app.papers import NO_ANSWER


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


def counts(pc: PaperChat) -> dict[str, int]:
    return {r.id: len(r.authors) for r in pc.searcher.records}


@pytest.mark.parametrize(
    ("question", "least", "most", "rest"),
    [
        ("Which orals have more than 20 authors?", 21, None, "Which orals?"),
        ("Which orals have at least 5 authors?", 5, None, "Which orals?"),
        ("papers with 10 or more co-authors", 10, None, "papers"),
        ("Which orals have fewer than 3 authors?", 1, 2, "Which orals?"),
        ("papers with at most three authors on optimization", 1, 3, "papers on optimization"),
        ("Which orals with between 3 and 5 authors study LLMs?", 3, 5, "Which orals study LLMs?"),
        ("two-author orals about privacy", 2, 2, "orals about privacy"),
        ("Which orals are single-authored?", 1, 1, "Which orals are?"),
        ("Which orals were written by a single author?", 1, 1, "Which orals were?"),
        ("Which orals with over a dozen authors study LLMs?", 13, None, "Which orals study LLMs?"),
    ],
)
def test_the_count_is_read_and_taken_out_of_the_text_searched(question, least, most, rest):
    count, left = read_author_count(question)

    assert count is not None
    assert (count.least, count.most, count.extreme) == (least, most, None)
    assert left == rest


@pytest.mark.parametrize(
    "question",
    [
        "Which papers did the two authors of ViP write together?",  # names people, not a count
        "Which orals report results on 20 benchmarks?",
        "Which orals study authorship attribution?",
    ],
)
def test_questions_that_are_not_about_a_count_are_left_alone(question):
    assert read_author_count(question) == (None, question)


def test_a_count_alone_is_answered_by_every_paper_with_that_many_authors(pc):
    answer = pc.ask("Which orals have more than 20 authors?")

    expected = {pid for pid, n in counts(pc).items() if n > 20}
    assert expected  # the orals have a few such papers
    assert {p.id for p in answer.citations} == expected
    shown = [len(p.authors) for p in answer.citations]
    assert shown == sorted(shown, reverse=True)  # the largest author lists first
    for paper in answer.citations:
        assert paper.evidence.startswith(f"{len(paper.authors)} authors: {paper.authors[0]}, ")
    assert "Only papers with more than 20 authors were considered." in answer.text


def test_single_author_papers_say_who_the_author_is(pc):
    answer = pc.ask("Which orals have a single author?")

    assert {p.id for p in answer.citations} == {pid for pid, n in counts(pc).items() if n == 1}
    assert all(p.evidence == f"Sole author: {p.authors[0]}" for p in answer.citations)


def test_a_count_beside_a_topic_narrows_the_papers_searched(pc):
    topic_only = {p.id for p in pc.search("Which orals are about differential privacy?")}
    result = pc.searcher.search("Which orals with at least 5 authors are about differential privacy?")

    found = {p.id for p in result.papers}
    assert found and all(len(p.authors) >= 5 for p in result.papers)
    many = {pid for pid in topic_only if counts(pc)[pid] >= 5}
    assert many and many <= found  # the topic's papers with that many authors, all of them
    assert topic_only - many  # some of the topic's papers have fewer, so the count mattered
    narrowed = sum(1 for n in counts(pc).values() if n >= 5)
    assert f"Searched only papers with at least 5 authors: {narrowed} papers." in result.notices


def test_a_topic_no_paper_with_that_count_covers_is_declined(pc):
    answer = pc.ask("Which single-author orals are about protein structure prediction?")

    assert answer.citations == []
    assert answer.text.startswith(NO_ANSWER)


def test_the_most_authors_picks_the_largest_count(pc):
    answer = pc.ask("Which oral has the most authors?")

    largest = max(counts(pc).values())
    assert answer.citations and all(len(p.authors) == largest for p in answer.citations)
    assert f"the most authors ({largest})" in answer.text


def test_the_most_authors_among_a_named_authors_papers(pc):
    name = "Tim Rocktäschel"
    theirs = [r for r in pc.searcher.records if name in r.authors]
    assert len({len(r.authors) for r in theirs}) > 1  # the question has something to pick

    answer = pc.ask(f"Which of {name}'s orals has the most authors?")

    largest = max(len(r.authors) for r in theirs)
    assert {p.id for p in answer.citations} == {r.id for r in theirs if len(r.authors) == largest}


def test_no_paper_with_the_count_says_so(pc):
    answer = pc.ask("Which orals have more than 90 authors?")

    assert max(counts(pc).values()) <= 90
    assert answer.citations == []
    assert "None of the papers considered has more than 90 authors." in answer.text
