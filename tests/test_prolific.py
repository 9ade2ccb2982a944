"""Questions about who wrote the most: "Which authors have the most orals?".

Searched as text, this listed 36 papers that mention "authors". Now the authors of the
papers searched are counted, by first and last name, and their papers cited.
"""

from __future__ import annotations

from collections import Counter

import pytest

from app import PaperChat
from app.authors import name_parts
from app.prolific import ProlificAsk, read_prolific


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


def key(author: str) -> tuple[str, ...]:
    parts = name_parts(author)
    return (parts[0], parts[-1])


def paper_counts(pc: PaperChat, ids: set[str] | None = None) -> Counter:
    """Papers per author name; a paper listing two people of one name counts once."""
    return Counter(k for r in pc.searcher.records if ids is None or r.id in ids for k in {key(a) for a in r.authors})


@pytest.mark.parametrize(
    ("question", "ask", "rest"),
    [
        ("Which authors have the most orals?", ProlificAsk(top=10), "Which orals?"),
        ("Who has the most papers?", ProlificAsk(top=10), "Which papers?"),
        ("Which authors have more than one oral?", ProlificAsk(least=2), "Which orals?"),
        ("Which researchers appear on at least 3 papers?", ProlificAsk(least=3), "Which papers?"),
        ("Which authors have a dozen or more papers?", ProlificAsk(least=12), "Which papers?"),
        ("Which authors have the most orals about large language models?", ProlificAsk(top=10),
         "Which orals about large language models?"),
    ],
)
def test_the_ask_is_read_and_the_papers_noun_kept(question, ask, rest):
    assert read_prolific(question) == (ask, rest)


@pytest.mark.parametrize(
    "question", ["Which orals have the most authors?", "Which orals did Tim Rocktäschel co-author?"]
)
def test_other_author_questions_are_not_this_one(question):
    assert read_prolific(question) == (None, question)


def test_more_than_one_oral_cites_every_paper_of_every_such_author(pc):
    counts = paper_counts(pc)
    repeat = {k for k, n in counts.items() if n >= 2}
    assert repeat

    answer = pc.ask("Which authors have more than one oral?")

    expected = {r.id for r in pc.searcher.records if any(key(a) in repeat for a in r.authors)}
    shown = {p.id for p in answer.citations}
    assert shown <= expected and len(shown) == min(len(expected), pc.searcher.policy.max_list)
    assert answer.matched == len(expected)
    for paper in answer.citations:
        assert paper.evidence.startswith("Authors include ")


def test_the_most_names_the_top_authors_with_their_counts(pc):
    counts = paper_counts(pc)
    best_key, best = counts.most_common(1)[0]
    assert best >= 3

    answer = pc.ask("Which authors have the most orals?")

    first = answer.text.split("\n", 1)[0]
    assert first.startswith("Most papers among the 144 searched: ")
    assert f"({best})" in first.split(",")[0]  # the top author comes first, with the count
    assert answer.citations[0].authors and any(key(a) == best_key for a in answer.citations[0].authors)


def test_beside_a_topic_the_count_is_over_the_topics_papers(pc):
    topic = {p.id for p in pc.searcher.search("Which orals are about large language models?").papers}
    counts = paper_counts(pc, topic)
    top = max(counts.values())

    answer = pc.ask("Which authors have the most orals about large language models?")

    assert {p.id for p in answer.citations} <= topic
    assert answer.text.startswith(f"Most papers among the {len(topic)} that match: ")
    assert f"({top})" in answer.text.split("\n", 1)[0]
