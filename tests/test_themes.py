"""Questions about what the listings are about: "What topics are most common?".

Searched as a topic, this found the papers whose abstracts say "common". Now the phrases
most papers share are counted and named, with a few papers of each cited.
"""

from __future__ import annotations

import pytest

from app import PaperChat
from app.acronyms import AcronymGlossary
from app.text import content_terms
from app.themes import common_themes, examples, read_themes
from ingest.records import PaperRecord


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


@pytest.mark.parametrize(
    "question",
    [
        "What topics are most common?",
        "What are the main themes of the orals?",
        "Which research topics appear most often?",
        "What are the most popular topics among papers on privacy?",
        "Summarize the main topics",
        "What's trending?",
    ],
)
def test_a_themes_question_is_read(question: str) -> None:
    assert read_themes(question)[0]


@pytest.mark.parametrize(
    "question",
    [
        "Which orals study topic modeling?",
        "Which papers are about common sense reasoning?",
        "Which orals are about the most common failure modes of LLMs?",
        "What is XRM?",
    ],
)
def test_a_topic_question_is_not_a_themes_question(question: str) -> None:
    assert read_themes(question) == (False, question)


def paper(i: int, title: str, abstract: str = "") -> PaperRecord:
    return PaperRecord(id=f"p{i}", title=title, authors=["Ada Lovelace"], abstract=abstract)


CORPUS = [
    paper(0, "Faster sampling for diffusion models", "We propose a novel method for diffusion models."),
    paper(1, "Guided diffusion models", "We propose a novel method that improves guidance."),
    paper(2, "Diffusion models for proteins", "We propose a novel method for protein design."),
    paper(3, "Scaling LLMs", "We study how LLMs scale."),
    paper(4, "Aligning large language models", "Large language models (LLMs) follow instructions."),
    paper(5, "Graph neural networks for molecules", "Message passing on molecules."),
    paper(6, "Oversquashing in graph neural networks", "A novel method for rewiring graphs."),
    paper(7, "A bandit algorithm", "We propose a novel method for regret minimisation."),
    paper(8, "Another bandit algorithm", "Regret bounds in linear bandits."),
    paper(9, "Online learning", "Regret bounds for online learning."),
]


def test_themes_are_shared_phrases_and_an_acronym_counts_with_its_long_form() -> None:
    glossary = AcronymGlossary.learn(f"{p.title}. {p.abstract}" for p in CORPUS)
    themes = {t.phrase: set(t.paper_ids) for t in common_themes(CORPUS, glossary)}
    assert themes["diffusion models"] == {"p0", "p1", "p2"}
    llm = next(ids for phrase, ids in themes.items() if phrase.startswith("large language models"))
    assert llm == {"p3", "p4"}  # p3 only says "LLMs"
    assert not any("novel method" in phrase or "propose" in phrase for phrase in themes)  # every abstract's words
    assert "regret bounds" in themes


def test_examples_cite_each_paper_once_in_theme_order() -> None:
    themes = common_themes(CORPUS, AcronymGlossary.learn(f"{p.title}. {p.abstract}" for p in CORPUS))
    picked = [pid for pid, _ in examples(themes, per_theme=2)]
    assert len(picked) == len(set(picked))
    assert picked[:2] == themes[0].paper_ids[:2]


def test_the_common_themes_are_named_with_examples(pc: PaperChat) -> None:
    answer = pc.ask("What topics are most common?")
    assert answer.text.startswith(f"The most common themes among the {len(pc.searcher.records)} papers searched")
    assert answer.citations
    result = pc.search_result("What topics are most common?")
    assert result.themes and result.evidence_terms
    for cited in answer.citations:  # each example shows where it names its theme
        theme_terms = result.evidence_terms[cited.id]
        said = set(content_terms(f"{cited.title or ''} {cited.evidence or ''}"))
        assert theme_terms & said, (cited.citation, theme_terms, cited.evidence)


def test_k_caps_the_examples(pc: PaperChat) -> None:
    every = pc.search("What topics are most common?")
    assert len(every) > 3
    assert [p.id for p in pc.search("What topics are most common?", k=3)] == [p.id for p in every[:3]]


def test_themes_beside_a_topic_are_counted_over_its_papers(pc: PaperChat) -> None:
    question = "What are the most common topics among orals on privacy?"
    on_topic = {p.id for p in pc.search(read_themes(question)[1])}  # what the themes are counted over
    assert on_topic
    answer = pc.ask(question)
    assert answer.text.startswith(f"The most common themes among the {len(on_topic)} papers that match")
    assert {p.id for p in answer.citations} <= on_topic


def test_themes_among_a_group_the_filters_name_are_counted_over_the_whole_group(pc: PaperChat) -> None:
    """"among the orals" names the papers to count over, not a topic to search for."""
    answer = pc.ask("What topics are most common among the orals?")
    assert answer.text.startswith(f"The most common themes among the {len(pc.searcher.records)} papers searched")


PRIVACY = [
    paper(i, title)
    for i, title in enumerate([
        "Private federated learning", "Private synthetic data", "Auditing private models",
        "Privacy-Preserving federated analytics", "Privacy-Preserving graph release", "Federated clustering",
        "Sketching streams", "Sorting networks", "Counting queries", "Hashing tables",
    ])
]


def test_the_topic_asked_about_is_not_one_of_its_own_themes() -> None:
    """Among papers on privacy, "private" is the topic again; what else they share is news."""
    asked = frozenset(content_terms("privacy"))
    named = [t.phrase for t in common_themes(PRIVACY, asked=asked)]
    assert "private" not in named and "federated" in named
    assert "private" in [t.phrase for t in common_themes(PRIVACY)]


def test_a_capitalised_compound_is_named_in_lower_case_and_an_acronym_as_written() -> None:
    named = [t.phrase for t in common_themes(PRIVACY)]
    assert "privacy-preserving" in named and "Privacy-Preserving" not in named
    titles = ["Scaling LLMs", "Aligning LLMs", "LLMs as judges"] + [f"Sorting {n}" for n in "abcdefg"]
    assert "LLMs" in [t.phrase for t in common_themes([paper(i, title) for i, title in enumerate(titles)])]
