"""Questions that name nothing to search for: "Which papers are at ICML 2024?".

Every paper fits such a question, so no paper is its answer. Searched anyway, the embedding
picked whichever abstract sat nearest to "paper", and the year matched the abstracts that
mention it: "What is the best paper at ICML 2024?" was answered with an image clustering
paper. The answer now says that every paper fits and how to ask instead.
"""

from __future__ import annotations

import pytest

from app import PaperChat


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


@pytest.mark.parametrize("question", ["Which papers are at ICML 2024?", "Which orals are there?", "papers"])
def test_a_question_naming_nothing_cites_nothing_and_says_every_paper_fits(pc: PaperChat, question: str) -> None:
    answer = pc.ask(question)
    assert answer.citations == []
    assert f"all {len(pc.searcher.records)} papers searched fit it" in answer.text
    assert pc.search(question) == []


@pytest.mark.parametrize(
    "question", ["What is the best paper at ICML 2024?", "Which orals won awards?", "What are the award-winning papers?"]
)
def test_a_question_for_the_best_papers_is_told_the_listings_do_not_rank_papers(pc: PaperChat, question: str) -> None:
    answer = pc.ask(question)
    assert answer.citations == []
    assert answer.text.startswith("The listings do not say which papers are best or won awards")


def test_a_topic_beside_a_ranking_word_is_still_searched(pc: PaperChat) -> None:
    answer = pc.ask("Which orals study reward models?")
    assert answer.citations and not answer.text.startswith("The listings do not say")


def test_the_venue_and_year_are_not_searched_as_words(pc: PaperChat) -> None:
    plain = [p.id for p in pc.search("Which orals study DP-SGD?")]
    assert plain and [p.id for p in pc.search("Which ICML 2024 orals study DP-SGD?")] == plain


def test_papers_that_mention_a_topic_are_the_papers_about_it(pc: PaperChat) -> None:
    about = {p.id for p in pc.search("Which orals are about LoRA?")}
    assert about and {p.id for p in pc.search("Which orals mention LoRA?")} == about
