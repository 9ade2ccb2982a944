"""Questions that leave something out: "orals about LLMs but not about agents".

Before, every word was searched as wanted, and "but not about agents" put the agent papers
first. Now the left-out part is answered on its own and its papers are removed.
"""

from __future__ import annotations

import pytest

from app import PaperChat
from app.exclusion import read_exclusion


@pytest.fixture(scope="module")
def pc(bundled_store) -> PaperChat:
    return PaperChat(data_dir=bundled_store, llm="extractive")


def ids(pc: PaperChat, question: str) -> set[str]:
    result = pc.search_result(question)
    return {p.id for p in pc.search(question, k=result.matched)} if result.matched else set()


@pytest.mark.parametrize(
    ("question", "excluded", "rest"),
    [
        ("Which orals are about large language models but not about agents?", "agents",
         "Which orals are about large language models?"),
        ("Which orals study diffusion models, excluding video?", "video", "Which orals study diffusion models?"),
        ("Which orals study reinforcement learning except those about robotics?", "robotics",
         "Which orals study reinforcement learning?"),
        ("Which orals aren't about deep learning?", "deep learning", "Which orals?"),
    ],
)
def test_the_left_out_part_is_read_and_cut_from_the_text(question, excluded, rest):
    assert read_exclusion(question) == (excluded, rest)


@pytest.mark.parametrize(
    "question",
    [
        "Which orals study learning without labels?",  # "without" is part of the topic
        "Which orals study models that do not need retraining?",
        "Which oral argues that papers should report methods that didn't beat the baselines?",
    ],
)
def test_topics_with_negative_words_are_not_exclusions(question):
    assert read_exclusion(question) == (None, question)


def test_the_papers_about_the_left_out_topic_are_removed(pc):
    llm = ids(pc, "Which orals are about large language models?")
    agents = ids(pc, "Which papers are about agents?")
    assert llm & agents and llm - agents  # something to remove and something to keep

    answer = pc.ask("Which orals are about large language models but not about agents?")

    found = {p.id for p in answer.citations}
    assert found and not found & agents
    assert llm - agents <= found
    assert any(n.startswith(f"Left out {len(llm & agents)} paper") for n in answer.notices)


def test_leaving_out_alone_answers_with_every_other_paper(pc):
    llm = ids(pc, "Which papers are about large language models?")

    result = pc.search_result("Which orals are not about large language models?")

    assert result.matched == result.searched - len(llm)
    assert not {p.id for p in result.papers} & llm
