"""Questions about who wrote the most: "Which authors have the most orals?".

Searched as text, this listed 36 papers that mention "authors". Now the authors of the
papers searched are counted, by first and last name, and their papers cited.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from app import PaperChat
from ingest.parsers import paperlists
from app.authors import name_parts
from app.prolific import ProlificAsk, institution_kind, prolific_institutions, read_prolific, summary
from ingest.records import PaperRecord


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


AFFILIATIONS = Path(__file__).parent / "fixtures" / "affiliations.json"


@pytest.fixture(scope="module")
def affiliation_pc(tmp_path_factory: pytest.TempPathFactory) -> PaperChat:
    """Eight papers in paperlists form, with their authors' institutions."""
    data_dir = tmp_path_factory.mktemp("prolific-institutions")
    chat = PaperChat(data_dir=data_dir, llm="extractive")
    chat.ingest([AFFILIATIONS], venue="ICML", year=2024, progress=False)
    return chat


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
        ("Which of the authors have over 3 papers?", ProlificAsk(least=4), "Which papers?"),
        ("Name the researchers with the most orals", ProlificAsk(top=10), "Which orals"),
        ("Which institutions have the most papers?", ProlificAsk(top=10, of="institutions"), "Which papers?"),
        ("Which universities have more than 10 orals?", ProlificAsk(least=11, of="institutions", kind="universities"), "Which orals?"),
        ("Which companies have at least 5 orals about LLMs?", ProlificAsk(least=5, of="institutions", kind="companies"),
         "Which orals about LLMs?"),
        ("What are the top 5 institutions?", ProlificAsk(top=5, of="institutions"), "What are?"),
    ],
)
def test_the_ask_is_read_and_the_papers_noun_kept(question, ask, rest):
    assert read_prolific(question) == (ask, rest)


@pytest.mark.parametrize(
    "question",
    ["Which orals have the most authors?", "Which orals did Tim Rocktäschel co-author?",
     "Which topics have the most papers?"],
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


# -- institutions ------------------------------------------------------------------------------


def institution_papers() -> dict[str, set[str]]:
    """Titles per institution in the fixture; a paper with two authors at one place counts once."""
    papers: dict[str, set[str]] = {}
    for record in paperlists.parse(AFFILIATIONS.read_text(encoding="utf-8"), AFFILIATIONS).records:
        for name in record.affiliations:
            papers.setdefault(name, set()).add(record.title)
    return papers


def test_the_institutions_with_the_most_papers_are_named_with_counts_and_their_papers_cited(affiliation_pc):
    papers = institution_papers()
    top = max(len(titles) for titles in papers.values())
    leaders = sorted(name for name, titles in papers.items() if len(titles) == top)
    assert top >= 2 and leaders

    answer = affiliation_pc.ask("Which institutions have the most papers?")

    first = answer.text.split("\n", 1)[0]
    assert first.startswith("Most papers among the 8 searched: " + ", ".join(f"{n} ({top})" for n in leaders))
    assert {p.title for p in answer.citations} == set().union(*(papers[n] for n in leaders))
    for paper in answer.citations:
        assert paper.evidence.startswith("Authors at ")
        assert any(name in paper.evidence for name in leaders)


def test_institutions_with_at_least_n_papers_leave_out_those_with_fewer(affiliation_pc):
    papers = institution_papers()
    once = {name for name, titles in papers.items() if len(titles) == 1}
    assert once

    answer = affiliation_pc.ask("Which institutions have at least 2 papers?")

    first = answer.text.split("\n", 1)[0]
    assert first.startswith("Institutions with at least 2 papers each among the 8 searched: ")
    assert not [name for name in once if f"{name} (" in first]


def test_a_listing_without_institutions_says_so_and_cites_nothing(pc):
    answer = pc.ask("Which institutions have the most orals?")

    assert answer.citations == []
    assert "The listings name no institutions for the 144 searched." in answer.notices


def test_a_company_counts_its_labs_and_names_them() -> None:
    """"Google DeepMind" and "Google Research" are Google, where the listings also say
    "Google" alone; a university whose name begins like another's is not merged."""
    affiliations = [
        ["Google"], ["Google", "Stanford University"], ["Google DeepMind"], ["Google Research", "Google DeepMind"],
        ["Stanford University"], ["Stanford University"], ["Stanford"], ["University of California, Berkeley"],
        ["University of California, San Diego"], ["University of California, San Diego"],
    ]
    records = [PaperRecord(id=f"p{i}", title=f"Paper {i}", authors=["Ada Lovelace"], affiliations=names)
               for i, names in enumerate(affiliations)]  # fmt: skip
    ask, _ = read_prolific("Which institutions have the most papers?")
    picked = prolific_institutions(records, ask)

    counts = {name: len(papers) for name, _, papers in picked.names}
    assert counts["Google"] == 4 and "Google DeepMind" not in counts
    assert counts["Stanford University"] == 3  # "Stanford" alone has one paper: not a name others begin with
    assert "University of California, San Diego" in counts and "University of California" not in counts
    assert summary(picked, ask, "the 10 searched").startswith(
        "Most papers among the 10 searched: Google (4; with “Google DeepMind” and “Google Research”)"
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Google DeepMind", "companies"), ("Huawei Technologies Ltd.", "companies"), ("Stanford University", "universities"),
        ("Massachusetts Institute of Technology", "universities"), ("ETH Zurich", "universities"),
        ("Inria", None), ("Max Planck Institute for Intelligent Systems", None), ("RIKEN", None),
    ],
)
def test_an_institution_is_told_a_company_or_a_university_by_its_name(name: str, kind: str | None) -> None:
    assert institution_kind(name) == kind


def test_which_companies_have_the_most_papers_counts_companies_only() -> None:
    records = [PaperRecord(id=f"p{i}", title=f"Paper {i}", authors=["Ada Lovelace"], affiliations=names)
               for i, names in enumerate([["Stanford University"]] * 3 + [["Google"]] * 2 + [["NVIDIA"]] * 2)]  # fmt: skip
    ask, _ = read_prolific("Which companies have the most papers?")
    assert ask is not None and ask.kind == "companies" and ask.of == "institutions"
    picked = prolific_institutions(records, ask)
    assert [name for name, _, _ in picked.names] == ["Google", "NVIDIA"]
    assert summary(picked, ask, "the 7 searched").startswith("Most papers among the 7 searched, companies only (by name): ")
    least, _ = read_prolific("Which universities have at least 2 papers?")
    assert least == ProlificAsk(least=2, of="institutions", kind="universities")
