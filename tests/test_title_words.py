"""Questions about words in titles: every title that holds the word, and only those.

A ranked search for "diffusion" keeps the few papers that stand out; a reader asking which
titles say "diffusion" wants all of them (120 of the 2,610 ICML 2024 papers).
"""

from __future__ import annotations

import re

import pytest

from app import PaperChat
from app.title_words import phrase_pattern, read_title_phrase


def holding(pc: PaperChat, word_pattern: str) -> set[str]:
    """The truth, spelled independently of the module's patterns."""
    return {r.id for r in pc.searcher.records if r.title and re.search(word_pattern, r.title, re.IGNORECASE)}


@pytest.mark.parametrize(
    ("question", "phrase", "rest"),
    [
        ("Which papers have 'diffusion' in the title?", "diffusion", "Which papers?"),
        ("Which orals have a title containing the word agent?", "agent", "Which orals have?"),
        ('Which papers with "large language model" in the title study reasoning?', "large language model",
         "Which papers study reasoning?"),
        ("papers whose title mentions Transformer", "Transformer", "papers"),
    ],
)
def test_the_word_is_read_and_taken_out_of_the_text(question, phrase, rest):
    assert read_title_phrase(question) == (phrase, rest)


def test_questions_about_topics_or_one_title_are_left_alone():
    for question in ("Which papers study diffusion models?", "What is the title of the XRM paper?"):
        assert read_title_phrase(question) == (None, question)


def test_whole_words_in_any_case_and_the_plural():
    pattern = phrase_pattern("agent")
    assert pattern.search("Language Agents as Optimizable Graphs")
    assert pattern.search("An LLM Agent for Blender")
    assert not pattern.search("Reagents for chemistry")
    assert phrase_pattern("large language model").search("Large-Language Models at scale")


def test_every_title_with_the_word_is_counted_and_only_those_are_shown(merged_store):
    pc = PaperChat(data_dir=merged_store, llm="extractive")
    expected = holding(pc, r"\bdiffusions?\b")
    assert len(expected) > pc.searcher.policy.max_list  # more than an answer shows unasked

    result = pc.search_result("Which papers have 'diffusion' in the title?")

    assert result.matched == len(expected)
    assert {p.id for p in result.papers} == expected  # a search lists them all
    answer = pc.ask("Which papers have 'diffusion' in the title?")
    assert answer.matched == len(expected)  # an answer cites the first max_list and counts all
    assert {p.id for p in answer.citations} <= expected and len(answer.citations) == pc.searcher.policy.max_list


def test_untitled_papers_are_reported_as_unchecked(bundled_store):
    pc = PaperChat(data_dir=bundled_store, llm="extractive")

    answer = pc.ask("Which orals have a title containing the word agent?")

    assert {p.id for p in answer.citations} == holding(pc, r"\bagents?\b")
    untitled = sum(1 for r in pc.searcher.records if not r.title)
    assert f"{untitled} of the 144 papers searched have no title in the listings, so they could not be checked." in answer.notices


def test_a_title_word_beside_a_topic_narrows_the_papers_searched(merged_store):
    pc = PaperChat(data_dir=merged_store, llm="extractive")
    with_phrase = holding(pc, r"\blarge[\s-]+language[\s-]+models?\b")

    result = pc.searcher.search('Which papers with "large language model" in the title study reasoning?')

    assert result.papers and {p.id for p in result.papers} < with_phrase
    assert f"Searched only papers with “large language model” in the title: {len(with_phrase)} papers." in result.notices

